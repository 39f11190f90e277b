//! The client store contract suite against SQLite, PostgreSQL and
//! MariaDB/MySQL, with the real migrations; each test on a database of its
//! own, deleted or dropped afterwards. The servers come from
//! `ROSTER_TEST_POSTGRES_URL` and `ROSTER_TEST_MYSQL_URL` (users allowed to
//! create databases); without one, its tests are skipped with a notice.

// Shared with the user repository suites; not every helper is used here.
#[allow(dead_code)]
mod server;

mod sqlite {
    use std::path::PathBuf;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};

    use roster_application::auth::ClientStore;
    use roster_application::contract::clients::ClientStoreFixture;
    use roster_migrations::Migrator;
    use roster_migrations::sea_orm_migration::MigratorTrait;
    use roster_store_seaorm::{DatabaseSettings, SeaOrmUserRepository, connect};

    struct Sqlite {
        store: Arc<SeaOrmUserRepository>,
        path: PathBuf,
    }

    impl ClientStoreFixture for Sqlite {
        fn client_store(&self) -> Arc<dyn ClientStore> {
            self.store.clone()
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
        std::env::temp_dir().join(format!("roster-clients-{}-{n}-{nanos}.db", std::process::id()))
    }

    async fn fixture() -> Sqlite {
        let path = unique_path();
        let settings =
            DatabaseSettings { url: format!("sqlite://{}?mode=rwc", path.display()), ..DatabaseSettings::default() };
        let db = connect(&settings).await.expect("connect");
        Migrator::up(&db, None).await.expect("migrate");
        Sqlite { store: Arc::new(SeaOrmUserRepository::new(db)), path }
    }

    roster_application::client_store_contract_tests!(fixture());
}

/// The server's admin URL, or `None` (and a SKIPPED notice).
fn admin_url(kind: roster_store_seaorm::testing::ServerKind) -> Option<String> {
    kind.admin_url("the client store contract suite")
}

mod postgres {
    use roster_store_seaorm::testing::ServerKind;

    use crate::server;

    roster_application::client_store_contract_tests!({
        let Some(url) = crate::admin_url(ServerKind::Postgres) else {
            return;
        };
        server::fixture(url)
    });
}

mod mysql {
    use roster_store_seaorm::testing::ServerKind;

    use crate::server;

    roster_application::client_store_contract_tests!({
        let Some(url) = crate::admin_url(ServerKind::MySql) else {
            return;
        };
        server::fixture(url)
    });
}
