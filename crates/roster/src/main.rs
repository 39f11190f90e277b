//! `roster`: serve, migrate, print the spec, or check health.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use roster::settings::unknown_env_vars;
use roster::{Application, Settings, telemetry};

/// mimalloc: allocation was the largest user-space cost of a request
/// (glibc malloc/free ≈ 15% of the server's CPU under load).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// roster — the roster of contact-center users, per client namespace.
///
/// Settings come from defaults, an optional TOML file (`--config`, or
/// `roster.toml` in the working directory) and `ROSTER_*` environment
/// variables: ROSTER_LISTEN (127.0.0.1:8080), ROSTER_DATABASE_URL
/// (sqlite://roster.db?mode=rwc; also postgres://…, mysql://…, memory:),
/// ROSTER_LOG_FORMAT (text|json), ROSTER_LOG_FILTER, ROSTER_WORKERS,
/// ROSTER_MIGRATE_ON_START, ROSTER_DATABASE_MAX_CONNECTIONS,
/// ROSTER_DATABASE_CONNECT_TIMEOUT_SECS, ROSTER_DATABASE_ACQUIRE_TIMEOUT_SECS,
/// ROSTER_AUTH (on|off), ROSTER_AUTH_TOKEN_TTL, ROSTER_AUTH_SIGNING_KEY(_FILE).
#[derive(Parser)]
#[command(name = "roster", version)]
struct Cli {
    /// A TOML configuration file (also ROSTER_CONFIG).
    #[arg(long, global = true, env = "ROSTER_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default). Stops cleanly on SIGTERM or SIGINT.
    Serve,
    /// Apply the database migrations, then exit.
    Migrate,
    /// Print the OpenAPI document (JSON) on standard output.
    Openapi,
    /// Register, list or revoke API clients (OAuth 2.0 client credentials).
    Clients {
        #[command(subcommand)]
        action: ClientsCommand,
    },
    /// Exit 0 when the service at ROSTER_LISTEN (or --url) is ready, 1 otherwise; for container health checks.
    Healthcheck {
        /// The readiness URL; default: http://<listen address>/health/ready.
        #[arg(long)]
        url: Option<String>,
    },
}

#[derive(Subcommand)]
enum ClientsCommand {
    /// Register a client for a namespace; prints {"clientId", "clientSecret"} as JSON. The secret is shown only
    /// this once (only its hash is kept).
    Add {
        /// The namespace the client may use.
        #[arg(long)]
        namespace: String,
        /// A name to recognise it by.
        #[arg(long)]
        name: Option<String>,
    },
    /// Print every client as JSON (never a secret).
    List,
    /// Revoke a client: it gets no new token, and its tokens stop working (within 5 seconds).
    Revoke {
        /// The client id.
        id: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Openapi = command {
        print!("{}", roster_openapi::document_json());
        return ExitCode::SUCCESS;
    }
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("roster: {e}");
            return ExitCode::from(2);
        }
    };
    if let Command::Healthcheck { url } = command {
        return healthcheck(url.as_deref().unwrap_or(&default_ready_url(&settings.listen)));
    }
    telemetry::init(settings.log_format, &settings.log_filter);
    for var in unknown_env_vars(std::env::vars()) {
        tracing::warn!(variable = %var, "unknown ROSTER_* environment variable ignored (a typo?)");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("roster: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match command {
            Command::Migrate => roster::startup::migrate(&settings).await.map_err(|e| e.to_string()).map(|()| {
                tracing::info!("migrations applied");
            }),
            Command::Clients { action } => clients(&settings, action).await,
            _ => serve(&settings).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "roster stopped with an error");
            eprintln!("roster: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn clients(settings: &Settings, action: ClientsCommand) -> Result<(), String> {
    if settings.database_url.0.starts_with("memory:") {
        return Err("clients are kept in the store, and memory: keeps nothing between processes; use a database URL \
                    (or ROSTER_AUTH=off for development)"
            .to_owned());
    }
    let manage = roster::startup::manage_clients(settings).await.map_err(|e| e.to_string())?;
    let output = match action {
        ClientsCommand::Add { namespace, name } => {
            let namespace = roster_domain::Namespace::parse(&namespace).map_err(|e| format!("--namespace: {e}"))?;
            let (client, secret) = manage.add(namespace, name).await.map_err(|e| e.to_string())?;
            serde_json::json!({
                "clientId": client.id,
                "clientSecret": secret,
                "namespace": client.namespace.as_str(),
                "name": client.name,
            })
        }
        ClientsCommand::List => {
            let clients = manage.list().await.map_err(|e| e.to_string())?;
            serde_json::Value::Array(
                clients
                    .iter()
                    .map(|c| {
                        serde_json::json!({
                            "clientId": c.id,
                            "namespace": c.namespace.as_str(),
                            "name": c.name,
                            "createdAt": c.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                            "revokedAt": c.revoked_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                        })
                    })
                    .collect(),
            )
        }
        ClientsCommand::Revoke { id } => {
            if !manage.revoke(&id).await.map_err(|e| e.to_string())? {
                return Err(format!("no client {id}"));
            }
            serde_json::json!({"clientId": id, "revoked": true})
        }
    };
    println!("{output}");
    Ok(())
}

async fn serve(settings: &Settings) -> Result<(), String> {
    let app = Application::build(settings).await.map_err(|e| e.to_string())?;
    let handle = app.handle();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
        handle.stop(true).await;
    });
    app.run_until_stopped().await.map_err(|e| e.to_string())?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn default_ready_url(listen: &str) -> String {
    let address = listen.replace("0.0.0.0", "127.0.0.1").replace("[::]", "[::1]");
    format!("http://{address}/health/ready")
}

/// A minimal HTTP/1.1 GET (no client library needed for one request).
fn healthcheck(url: &str) -> ExitCode {
    use std::io::{Read, Write};
    let Some(rest) = url.strip_prefix("http://") else {
        eprintln!("healthcheck: only http:// URLs are supported, got {url}");
        return ExitCode::FAILURE;
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let timeout = Duration::from_secs(3);
    let result = (|| -> std::io::Result<String> {
        use std::net::ToSocketAddrs;
        let address = authority.to_socket_addrs()?.next().ok_or_else(|| std::io::Error::other("no address"))?;
        let mut stream = std::net::TcpStream::connect_timeout(&address, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        write!(stream, "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n")?;
        let mut response = String::new();
        stream.take(64 * 1024).read_to_string(&mut response)?;
        Ok(response)
    })();
    match result {
        Ok(response) if response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200") => {
            println!("ready");
            ExitCode::SUCCESS
        }
        Ok(response) => {
            eprintln!("not ready: {}", response.lines().next().unwrap_or("no answer"));
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("not ready: {url}: {e}");
            ExitCode::FAILURE
        }
    }
}
