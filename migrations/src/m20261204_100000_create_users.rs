//! The `users` table: one row per user and namespace, its scalar fields.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{date, date_null, string_len, string_len_null, timestamp_with_time_zone};
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Namespace,
    UserId,
    Salutation,
    FirstName,
    MiddleName,
    LastName,
    Suffix,
    JobTitle,
    Pilot,
    Status,
    WorkFromHome,
    Organization,
    ContactCenter,
    Site,
    CoachId,
    SupervisorName,
    SupervisorId,
    Email,
    /// `email` lower-cased: what uniqueness is decided on.
    EmailNorm,
    ActivationDate,
    DeactivationDate,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut table = Table::create()
            .table(Users::Table)
            .if_not_exists()
            .col(string_len(Users::Namespace, 64))
            .col(string_len(Users::UserId, 128))
            .col(string_len_null(Users::Salutation, 255))
            .col(string_len(Users::FirstName, 255))
            .col(string_len_null(Users::MiddleName, 255))
            .col(string_len(Users::LastName, 255))
            .col(string_len_null(Users::Suffix, 255))
            .col(string_len(Users::JobTitle, 255))
            .col(string_len_null(Users::Pilot, 16))
            .col(string_len(Users::Status, 16))
            .col(string_len_null(Users::WorkFromHome, 16))
            .col(string_len(Users::Organization, 255))
            .col(string_len(Users::ContactCenter, 255))
            .col(string_len(Users::Site, 255))
            .col(string_len_null(Users::CoachId, 128))
            .col(string_len_null(Users::SupervisorName, 255))
            .col(string_len_null(Users::SupervisorId, 128))
            .col(string_len_null(Users::Email, 254))
            .col(string_len_null(Users::EmailNorm, 254))
            .col(date(Users::ActivationDate))
            .col(date_null(Users::DeactivationDate))
            .col(timestamp_with_time_zone(Users::CreatedAt))
            .col(timestamp_with_time_zone(Users::UpdatedAt))
            .primary_key(Index::create().col(Users::Namespace).col(Users::UserId))
            .to_owned();
        if manager.get_database_backend() == DatabaseBackend::MySql {
            // 4-byte UTF-8, and exact (binary) comparison as on SQLite and
            // PostgreSQL: user ids and agent ids are case-sensitive keys.
            table.character_set("utf8mb4").collate("utf8mb4_bin");
        }
        manager.create_table(table).await?;
        // An email belongs to at most one user of a namespace. NULLs are
        // distinct on all three backends: users without email don't clash.
        manager
            .create_index(
                Index::create()
                    .name("ux_users_namespace_email_norm")
                    .table(Users::Table)
                    .col(Users::Namespace)
                    .col(Users::EmailNorm)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Users::Table).to_owned()).await
    }
}
