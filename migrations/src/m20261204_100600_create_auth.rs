//! Authentication's tables (SPEC §6): `auth_clients`, the clients
//! registered for a namespace, and `auth_signing_keys`, the one key tokens
//! are signed with (row `id = 1`), shared by every roster process on the
//! database.
//!
//! Instants are stored to the microsecond. On MySQL/MariaDB they are
//! `DATETIME(6)` holding UTC (the driver reads and writes UTC), not
//! `TIMESTAMP`: no 2038 limit, no implicit `ON UPDATE CURRENT_TIMESTAMP`
//! where `explicit_defaults_for_timestamp` is off, and fractions of a second
//! kept.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    integer, string_len, string_len_null, text, timestamp_with_time_zone, timestamp_with_time_zone_null,
};
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuthClients {
    Table,
    ClientId,
    Namespace,
    Name,
    /// The secret's password hash (PHC string).
    SecretHash,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum AuthSigningKeys {
    Table,
    /// Always 1: there is one key.
    Id,
    /// The key's bytes, hex-encoded (lower case).
    KeyHex,
    CreatedAt,
}

/// An instant column: `timestamp with time zone`, `DATETIME(6)` on MySQL.
fn instant(backend: DatabaseBackend, column: impl IntoIden, null: bool) -> ColumnDef {
    match (backend, null) {
        (DatabaseBackend::MySql, false) => ColumnDef::new(column).custom(Alias::new("datetime(6)")).not_null().take(),
        (DatabaseBackend::MySql, true) => ColumnDef::new(column).custom(Alias::new("datetime(6)")).null().take(),
        (_, false) => timestamp_with_time_zone(column),
        (_, true) => timestamp_with_time_zone_null(column),
    }
}

fn for_mysql(backend: DatabaseBackend, table: &mut TableCreateStatement) {
    if backend == DatabaseBackend::MySql {
        // 4-byte UTF-8, and exact (binary) comparison as on SQLite and
        // PostgreSQL: client ids are case-sensitive keys.
        table.character_set("utf8mb4").collate("utf8mb4_bin");
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let mut clients = Table::create()
            .table(AuthClients::Table)
            .if_not_exists()
            .col(string_len(AuthClients::ClientId, 64))
            .col(string_len(AuthClients::Namespace, 64))
            .col(string_len_null(AuthClients::Name, 255))
            .col(string_len(AuthClients::SecretHash, 255))
            .col(instant(backend, AuthClients::CreatedAt, false))
            .col(instant(backend, AuthClients::RevokedAt, true))
            .primary_key(Index::create().col(AuthClients::ClientId))
            .to_owned();
        for_mysql(backend, &mut clients);
        manager.create_table(clients).await?;

        let mut keys = Table::create()
            .table(AuthSigningKeys::Table)
            .if_not_exists()
            .col(integer(AuthSigningKeys::Id))
            .col(text(AuthSigningKeys::KeyHex))
            .col(instant(backend, AuthSigningKeys::CreatedAt, false))
            .primary_key(Index::create().col(AuthSigningKeys::Id))
            .to_owned();
        for_mysql(backend, &mut keys);
        manager.create_table(keys).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(AuthSigningKeys::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(AuthClients::Table).to_owned()).await
    }
}
