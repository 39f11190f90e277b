//! The repository contract suite against SQLite, with the real migrations;
//! each test on its own fresh database file, deleted afterwards.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use roster_application::UserRepository;
use roster_application::contract::Fixture;
use roster_migrations::Migrator;
use roster_migrations::sea_orm_migration::MigratorTrait;
use roster_store_seaorm::{DatabaseSettings, SeaOrmUserRepository, connect};

struct Sqlite {
    repository: Arc<SeaOrmUserRepository>,
    path: PathBuf,
}

impl Fixture for Sqlite {
    fn repository(&self) -> Arc<dyn UserRepository> {
        self.repository.clone()
    }
}

impl Drop for Sqlite {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut file = self.path.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}

fn unique_path() -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("roster-contract-{}-{n}-{nanos}.db", std::process::id()))
}

async fn fixture() -> Sqlite {
    let path = unique_path();
    let settings =
        DatabaseSettings { url: format!("sqlite://{}?mode=rwc", path.display()), ..DatabaseSettings::default() };
    let db = connect(&settings).await.expect("connect");
    Migrator::up(&db, None).await.expect("migrate");
    Sqlite { repository: Arc::new(SeaOrmUserRepository::new(db)), path }
}

roster_application::repository_contract_tests!(fixture());
