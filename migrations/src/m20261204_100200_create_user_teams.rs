//! The `user_teams` table: a user's teams, in the order they were sent.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{integer, string_len};
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
enum UserTeams {
    Table,
    Namespace,
    UserId,
    /// 0-based index in the list as sent.
    Position,
    Name,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut table = Table::create()
            .table(UserTeams::Table)
            .if_not_exists()
            .col(string_len(UserTeams::Namespace, 64))
            .col(string_len(UserTeams::UserId, 128))
            .col(integer(UserTeams::Position))
            .col(string_len(UserTeams::Name, 255))
            .primary_key(Index::create().col(UserTeams::Namespace).col(UserTeams::UserId).col(UserTeams::Position))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_user_teams_user")
                    .from(UserTeams::Table, (UserTeams::Namespace, UserTeams::UserId))
                    .to(Users::Table, (Users::Namespace, Users::UserId))
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned();
        if manager.get_database_backend() == DatabaseBackend::MySql {
            // 4-byte UTF-8, and exact (binary) comparison as on SQLite and
            // PostgreSQL: user ids and agent ids are case-sensitive keys.
            table.character_set("utf8mb4").collate("utf8mb4_bin");
        }
        manager.create_table(table).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(UserTeams::Table).to_owned()).await
    }
}
