//! Wiring: the store chosen by URL, the use cases, the HTTP server.

use std::net::TcpListener;
use std::sync::Arc;

use roster_application::{CheckReadiness, GetUser, IdGenerator, SystemClock, UpsertUser, UserRepository};
use roster_http::AppState;
use roster_store_memory::InMemoryUserRepository;
use roster_store_seaorm::SeaOrmUserRepository;

use crate::Settings;
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

/// Opens the store the settings name, migrating it when asked.
pub async fn open_repository(settings: &Settings, migrate: bool) -> Result<Arc<dyn UserRepository>, StartupError> {
    let url = settings.database_url.0.as_str();
    if url == "memory:" || url == "memory://" {
        return Ok(Arc::new(InMemoryUserRepository::default()));
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
    Ok(Arc::new(SeaOrmUserRepository::new(db)))
}

/// Applies the migrations and stops (`roster migrate`).
pub async fn migrate(settings: &Settings) -> Result<(), StartupError> {
    let url = settings.database_url.0.as_str();
    if url.starts_with("memory:") {
        return Ok(());
    }
    open_repository(settings, true).await.map(|_| ())
}

/// A built, not yet awaited, roster server.
pub struct Application {
    port: u16,
    server: actix_web::dev::Server,
}

impl Application {
    pub async fn build(settings: &Settings) -> Result<Application, StartupError> {
        let repository = open_repository(settings, settings.migrate_on_start).await?;
        let listener = TcpListener::bind(&settings.listen)
            .map_err(|source| StartupError::Listen { address: settings.listen.clone(), source })?;
        let port = listener.local_addr().map_err(StartupError::Server)?.port();
        let clock = Arc::new(SystemClock);
        let state = AppState {
            upsert_user: UpsertUser::new(repository.clone(), clock, Arc::new(UuidV7Ids)),
            get_user: GetUser::new(repository.clone()),
            readiness: CheckReadiness::new(repository),
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
        Ok(Application { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped through [`Application::handle`].
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
