//! The `user_roles` table: a user's roles, in the order they were sent.

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
enum UserRoles {
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
            .table(UserRoles::Table)
            .if_not_exists()
            .col(string_len(UserRoles::Namespace, 64))
            .col(string_len(UserRoles::UserId, 128))
            .col(integer(UserRoles::Position))
            .col(string_len(UserRoles::Name, 255))
            .primary_key(Index::create().col(UserRoles::Namespace).col(UserRoles::UserId).col(UserRoles::Position))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_user_roles_user")
                    .from(UserRoles::Table, (UserRoles::Namespace, UserRoles::UserId))
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
        manager.drop_table(Table::drop().table(UserRoles::Table).to_owned()).await
    }
}
