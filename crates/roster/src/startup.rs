//! Wiring: the store chosen by URL, the use cases, the HTTP server.

use std::net::TcpListener;
use std::sync::Arc;

use roster_application::auth::{Authenticate, ClientStore, ManageClients};
use roster_application::{
    BulkImport, CheckReadiness, GetUser, IdGenerator, ImportOptions, KeepReports, ReportStore, SystemClock, UpsertUser,
    UserRepository,
};
use roster_http::AppState;
use roster_store_memory::InMemoryUserRepository;
use roster_store_seaorm::SeaOrmUserRepository;

use crate::Settings;
use crate::settings::AuthMode;
use crate::settings::redact;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot listen on {address}: {source}")]
    Listen { address: String, source: std::io::Error },
    #[error("cannot open the database {url}: {source}")]
    Database { url: String, source: roster_store_seaorm::DbErr },
    #[error("cannot migrate the database {url}: {source}")]
    Migrate { url: String, source: roster_store_seaorm::DbErr },
    #[error("unsupported database URL {0}: use sqlite://…, postgres://…, mysql://… or memory:")]
    UnsupportedUrl(String),
    #[error(
        "ROSTER_AUTH=off is for development only and needs a loopback listen address (127.0.0.1:PORT, [::1]:PORT, localhost:PORT); got {0}"
    )]
    AuthOffNotLoopback(String),
    #[error("token signing key: {0}")]
    SigningKey(String),
    #[error("cannot start the HTTP server: {0}")]
    Server(std::io::Error),
}

/// Report ids: UUID v7 (time-ordered).
pub struct UuidV7Ids;

impl IdGenerator for UuidV7Ids {
    fn new_id(&self) -> String {
        uuid::Uuid::now_v7().to_string()
    }
}

/// The stores the use cases need: users, and clients with the signing key.
#[derive(Clone)]
pub struct Stores {
    pub users: Arc<dyn UserRepository>,
    pub clients: Arc<dyn ClientStore>,
    pub reports: Arc<dyn ReportStore>,
    /// Whether concurrent single upserts share their reads and writes
    /// ([`UpsertUser::coalescing`]): on the stores a round trip away
    /// (PostgreSQL, MariaDB), not on the embedded ones.
    pub coalesce: bool,
}

/// Opens the store the settings name, migrating it when asked.
pub async fn open_stores(settings: &Settings, migrate: bool) -> Result<Stores, StartupError> {
    let url = settings.database_url.0.as_str();
    if url == "memory:" || url == "memory://" {
        let store = Arc::new(InMemoryUserRepository::default());
        return Ok(Stores { users: store.clone(), clients: store.clone(), reports: store, coalesce: false });
    }
    if !(url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://")
        || url.starts_with("mysql://")
        || url.starts_with("mariadb://"))
    {
        return Err(StartupError::UnsupportedUrl(redact(url)));
    }
    let db = roster_store_seaorm::connect(&settings.database_settings())
        .await
        .map_err(|source| StartupError::Database { url: redact(url), source })?;
    if migrate {
        roster_migrations::run(&db).await.map_err(|source| StartupError::Migrate { url: redact(url), source })?;
    }
    let coalesce = db.get_database_backend() != roster_store_seaorm::DbBackend::Sqlite;
    let store = Arc::new(SeaOrmUserRepository::new(db));
    Ok(Stores { users: store.clone(), clients: store.clone(), reports: store, coalesce })
}

/// Applies the migrations and stops (`roster migrate`).
pub async fn migrate(settings: &Settings) -> Result<(), StartupError> {
    let url = settings.database_url.0.as_str();
    if url.starts_with("memory:") {
        return Ok(());
    }
    open_stores(settings, true).await.map(|_| ())
}

/// Whether `listen` is a loopback address (`127.0.0.0/8`, `::1`, `localhost`).
pub fn is_loopback(listen: &str) -> bool {
    if let Ok(addr) = listen.parse::<std::net::SocketAddr>() {
        return addr.ip().is_loopback();
    }
    listen.rsplit_once(':').is_some_and(|(host, _)| host.eq_ignore_ascii_case("localhost"))
}

/// The authentication use cases, or `None` when it is off (development).
pub async fn authentication(
    settings: &Settings,
    clients: Arc<dyn ClientStore>,
) -> Result<Option<Arc<Authenticate>>, StartupError> {
    if settings.auth == AuthMode::Off {
        if !is_loopback(&settings.listen) {
            return Err(StartupError::AuthOffNotLoopback(settings.listen.clone()));
        }
        tracing::warn!(
            "!!! AUTHENTICATION IS OFF (ROSTER_AUTH=off): anyone who can reach {} can read and rewrite every namespace. For development only. !!!",
            settings.listen
        );
        return Ok(None);
    }
    let key = match settings.configured_signing_key().map_err(StartupError::SigningKey)? {
        Some(key) => key,
        None => clients.signing_key(&roster_auth::random_key()).await.map_err(|e| {
            StartupError::SigningKey(format!("cannot read or keep the token signing key in the store: {e}"))
        })?,
    };
    let codec = roster_auth::JwtCodec::new(&key).map_err(StartupError::SigningKey)?;
    Ok(Some(Arc::new(Authenticate::new(
        clients,
        Arc::new(roster_auth::Argon2Credentials::new()),
        Arc::new(codec),
        Arc::new(SystemClock),
        std::time::Duration::from_secs(settings.auth_token_ttl.max(1)),
    ))))
}

/// `roster clients …`: registering, listing and revoking clients.
pub async fn manage_clients(settings: &Settings) -> Result<ManageClients, StartupError> {
    let stores = open_stores(settings, settings.migrate_on_start).await?;
    Ok(ManageClients::new(
        stores.clients,
        Arc::new(roster_auth::Argon2Credentials::new()),
        Arc::new(SystemClock),
        Arc::new(UuidV7Ids),
    ))
}

/// A built, not yet awaited, roster server.
pub struct Application {
    port: u16,
    server: actix_web::dev::Server,
    stores: Stores,
    /// Resuming imports of stopped processes; ends with the application.
    background: roster_application::Background,
}

impl Application {
    pub async fn build(settings: &Settings) -> Result<Application, StartupError> {
        let stores = open_stores(settings, settings.migrate_on_start).await?;
        let auth = authentication(settings, stores.clients.clone()).await?;
        let repository = stores.users.clone();
        let listener = TcpListener::bind(&settings.listen)
            .map_err(|source| StartupError::Listen { address: settings.listen.clone(), source })?;
        let port = listener.local_addr().map_err(StartupError::Server)?.port();
        let clock = Arc::new(SystemClock);
        let bulk = BulkImport::new(
            repository.clone(),
            stores.reports.clone(),
            clock.clone(),
            Arc::new(UuidV7Ids),
            ImportOptions {
                lease: std::time::Duration::from_secs(settings.import_lease_secs.max(1)),
                ..ImportOptions::default()
            },
        );
        // Imports of a process that stopped are taken over once their
        // lease runs out.
        let background = bulk.start_background();
        let mut upsert_user = UpsertUser::new(repository.clone(), clock, Arc::new(UuidV7Ids))
            .keeping_reports(KeepReports::start(stores.reports.clone()));
        if stores.coalesce {
            // `stores.users` is also `stores.reports` (one SeaORM store):
            // a written user's report goes in the user's transaction.
            upsert_user = upsert_user.coalescing().reports_with_users();
        }
        let state = AppState {
            upsert_user,
            get_user: GetUser::new(repository.clone()),
            readiness: CheckReadiness::new(repository),
            bulk,
            auth,
        };
        let workers = match settings.workers {
            0 => std::thread::available_parallelism().map(usize::from).unwrap_or(2),
            n => n,
        };
        let server =
            roster_http::serve(listener, state, roster_openapi::document(), workers).map_err(StartupError::Server)?;
        tracing::info!(
            listen = %settings.listen,
            port,
            database = %redact(&settings.database_url.0),
            "roster is serving; API docs at /swagger-ui/"
        );
        Ok(Application { port, server, stores, background })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The stores it serves from (the tests register clients through them).
    pub fn stores(&self) -> &Stores {
        &self.stores
    }

    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped through [`Application::handle`].
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.background.stop().await;
        result
    }
}
