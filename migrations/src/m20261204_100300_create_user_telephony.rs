//! The `user_telephony` table: a user's telephony configurations, in the
//! order they were sent. A telephony identity (platform case-insensitive,
//! agent id exact) belongs to at most one user of a namespace.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{integer, string_len, string_len_null};
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Namespace,
    UserId,
}

#[derive(DeriveIden)]
enum UserTelephony {
    Table,
    Namespace,
    UserId,
    /// 0-based index in the list as sent.
    Position,
    Platform,
    /// `platform` lower-cased: what uniqueness is decided on.
    PlatformNorm,
    AgentId,
    Extension,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut table = Table::create()
            .table(UserTelephony::Table)
            .if_not_exists()
            .col(string_len(UserTelephony::Namespace, 64))
            .col(string_len(UserTelephony::UserId, 128))
            .col(integer(UserTelephony::Position))
            .col(string_len(UserTelephony::Platform, 255))
            .col(string_len(UserTelephony::PlatformNorm, 255))
            .col(string_len(UserTelephony::AgentId, 255))
            .col(string_len_null(UserTelephony::Extension, 20))
            .primary_key(
                Index::create().col(UserTelephony::Namespace).col(UserTelephony::UserId).col(UserTelephony::Position),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_user_telephony_user")
                    .from(UserTelephony::Table, (UserTelephony::Namespace, UserTelephony::UserId))
                    .to(Users::Table, (Users::Namespace, Users::UserId))
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned();
        if manager.get_database_backend() == DatabaseBackend::MySql {
            // 4-byte UTF-8, and exact (binary) comparison as on SQLite and
            // PostgreSQL: user ids and agent ids are case-sensitive keys.
            table.character_set("utf8mb4").collate("utf8mb4_bin");
        }
        manager.create_table(table).await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_user_telephony_identity")
                    .table(UserTelephony::Table)
                    .col(UserTelephony::Namespace)
                    .col(UserTelephony::PlatformNorm)
                    .col(UserTelephony::AgentId)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(UserTelephony::Table).to_owned()).await
    }
}
