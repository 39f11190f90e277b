//! The report store contract suite against SQLite, PostgreSQL and
//! MariaDB/MySQL, with the real migrations; each test on a database of its
//! own, deleted or dropped afterwards. The servers come from
//! `ROSTER_TEST_POSTGRES_URL` and `ROSTER_TEST_MYSQL_URL` (users allowed to
//! create databases); without one, its tests are skipped with a notice.

// Shared with the user repository suites; not every helper is used here.
#[allow(dead_code)]
mod server;

mod sqlite {
    use std::sync::Arc;

    use roster_application::contract::reports::ReportStoreFixture;
    use roster_application::{ReportStore, UserRepository};
    use roster_migrations::Migrator;
    use roster_migrations::sea_orm_migration::MigratorTrait;
    use roster_store_seaorm::testing::TempSqlite;
    use roster_store_seaorm::{DatabaseSettings, SeaOrmUserRepository, connect};

    struct Sqlite {
        store: Arc<SeaOrmUserRepository>,
        // Removed after the store's pool is gone (fields drop in order).
        _file: TempSqlite,
    }

    impl ReportStoreFixture for Sqlite {
        fn report_store(&self) -> Arc<dyn ReportStore> {
            self.store.clone()
        }

        fn users(&self) -> Arc<dyn UserRepository> {
            self.store.clone()
        }
    }

    async fn fixture() -> Sqlite {
        let file = TempSqlite::new("roster-reports");
        let db =
            connect(&DatabaseSettings { url: file.url.clone(), ..DatabaseSettings::default() }).await.expect("connect");
        Migrator::up(&db, None).await.expect("migrate");
        Sqlite { store: Arc::new(SeaOrmUserRepository::new(db)), _file: file }
    }

    roster_application::report_store_contract_tests!(fixture());
}

/// The server's admin URL, or `None` (and a SKIPPED notice).
fn admin_url(kind: roster_store_seaorm::testing::ServerKind) -> Option<String> {
    kind.admin_url("the report store contract suite")
}

mod postgres {
    use roster_store_seaorm::testing::ServerKind;

    use crate::server;

    roster_application::report_store_contract_tests!({
        let Some(url) = crate::admin_url(ServerKind::Postgres) else {
            return;
        };
        server::fixture(url)
    });
}

mod mysql {
    use roster_store_seaorm::testing::ServerKind;

    use crate::server;

    roster_application::report_store_contract_tests!({
        let Some(url) = crate::admin_url(ServerKind::MySql) else {
            return;
        };
        server::fixture(url)
    });
}
