//! The repository contract suite against SQLite, with the real migrations;
//! each test on its own fresh database file, deleted afterwards.

use std::sync::Arc;

use roster_application::UserRepository;
use roster_application::contract::Fixture;
use roster_migrations::Migrator;
use roster_migrations::sea_orm_migration::MigratorTrait;
use roster_store_seaorm::testing::TempSqlite;
use roster_store_seaorm::{DatabaseSettings, SeaOrmUserRepository, connect};

struct Sqlite {
    repository: Arc<SeaOrmUserRepository>,
    // Removed after the repository's pool is gone (fields drop in order).
    _file: TempSqlite,
}

impl Fixture for Sqlite {
    fn repository(&self) -> Arc<dyn UserRepository> {
        self.repository.clone()
    }
}

async fn fixture() -> Sqlite {
    let file = TempSqlite::new("roster-contract");
    let db =
        connect(&DatabaseSettings { url: file.url.clone(), ..DatabaseSettings::default() }).await.expect("connect");
    Migrator::up(&db, None).await.expect("migrate");
    Sqlite { repository: Arc::new(SeaOrmUserRepository::new(db)), _file: file }
}

roster_application::repository_contract_tests!(fixture());
