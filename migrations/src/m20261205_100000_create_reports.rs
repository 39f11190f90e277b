//! Reports and bulk imports (SPEC §4, §5): `reports`, one row per report
//! (single or bulk) with its summary and, for an import, its progress and
//! owner; and `report_chunks`, an import's input and the users' outcomes,
//! a chunk of users a row (JSON text).
//!
//! - `active_namespace` is the namespace while an import is receiving or in
//!   progress and NULL otherwise; its unique index lets one import per
//!   namespace be active, across every process (NULLs don't clash on any of
//!   the three backends).
//! - Instants are milliseconds since the Unix epoch (`BIGINT`): compared for
//!   leases the same way on every backend.
//! - On MySQL/MariaDB the JSON text columns are `LONGTEXT` (`TEXT` holds 64 KiB).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, boolean, integer, string_len, string_len_null, text_null,
};
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Reports {
    Table,
    ReportId,
    Namespace,
    /// `single` or `bulk`.
    Kind,
    /// `receiving` (an import whose body is arriving), `inprogress`,
    /// `completed` or `failed`.
    Status,
    IsCommit,
    IsForceCommit,
    CreatedAtMs,
    CompletedAtMs,
    Received,
    Processed,
    Valid,
    Invalid,
    Created,
    Updated,
    Unchanged,
    Persisted,
    /// Request-level errors, a JSON array.
    Errors,
    ActiveNamespace,
    /// The process running the import, and when it last said so.
    Owner,
    HeartbeatMs,
    /// Chunks of input, and the first one not processed yet.
    Chunks,
    NextChunk,
}

#[derive(DeriveIden)]
enum ReportChunks {
    Table,
    ReportId,
    Chunk,
    /// The chunk's input items, a JSON array; NULL once the import is done.
    Input,
    /// The chunk's users' outcomes, a JSON array; NULL until processed.
    Outcomes,
}

fn json_text(backend: DatabaseBackend, column: impl IntoIden) -> ColumnDef {
    match backend {
        DatabaseBackend::MySql => ColumnDef::new(column).custom(Alias::new("longtext")).null().take(),
        _ => text_null(column),
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let count = |c: Reports| big_integer(c).default(0).take();
        let mut reports = Table::create()
            .table(Reports::Table)
            .if_not_exists()
            .col(string_len(Reports::ReportId, 64).primary_key())
            .col(string_len(Reports::Namespace, 64))
            .col(string_len(Reports::Kind, 8))
            .col(string_len(Reports::Status, 16))
            .col(boolean(Reports::IsCommit))
            .col(boolean(Reports::IsForceCommit))
            .col(big_integer(Reports::CreatedAtMs))
            .col(big_integer_null(Reports::CompletedAtMs))
            .col(count(Reports::Received))
            .col(count(Reports::Processed))
            .col(count(Reports::Valid))
            .col(count(Reports::Invalid))
            .col(count(Reports::Created))
            .col(count(Reports::Updated))
            .col(count(Reports::Unchanged))
            .col(count(Reports::Persisted))
            .col(json_text(backend, Reports::Errors))
            .col(string_len_null(Reports::ActiveNamespace, 64))
            .col(string_len_null(Reports::Owner, 64))
            .col(big_integer_null(Reports::HeartbeatMs))
            .col(integer(Reports::Chunks).default(0))
            .col(integer(Reports::NextChunk).default(0))
            .to_owned();
        let mut chunks = Table::create()
            .table(ReportChunks::Table)
            .if_not_exists()
            .col(string_len(ReportChunks::ReportId, 64))
            .col(integer(ReportChunks::Chunk))
            .col(json_text(backend, ReportChunks::Input))
            .col(json_text(backend, ReportChunks::Outcomes))
            .primary_key(Index::create().col(ReportChunks::ReportId).col(ReportChunks::Chunk))
            .to_owned();
        if backend == DatabaseBackend::MySql {
            reports.character_set("utf8mb4").collate("utf8mb4_bin");
            chunks.character_set("utf8mb4").collate("utf8mb4_bin");
        }
        manager.create_table(reports).await?;
        manager.create_table(chunks).await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("ux_reports_active_namespace")
                    .table(Reports::Table)
                    .col(Reports::ActiveNamespace)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ReportChunks::Table).if_exists().to_owned()).await?;
        manager.drop_table(Table::drop().table(Reports::Table).if_exists().to_owned()).await
    }
}
