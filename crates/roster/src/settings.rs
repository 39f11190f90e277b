//! Configuration: defaults → an optional TOML file → `ROSTER_*` environment
//! variables (e.g. `ROSTER_DATABASE_URL`, `ROSTER_LISTEN`).

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

/// Every setting roster knows, with its default. The environment variable
/// of each is `ROSTER_` + its name in upper case.
pub const KNOWN: &[(&str, &str)] = &[
    ("listen", "127.0.0.1:8080"),
    ("database_url", "sqlite://roster.db?mode=rwc"),
    ("database_max_connections", "10"),
    ("database_connect_timeout_secs", "5"),
    ("database_acquire_timeout_secs", "5"),
    ("migrate_on_start", "true"),
    ("workers", "0"),
    ("log_format", "text"),
    ("log_filter", "info,sqlx=warn,sea_orm=warn"),
    ("auth", "on"),
    ("auth_token_ttl", "3600"),
    ("auth_signing_key", ""),
    ("auth_signing_key_file", ""),
    ("import_lease_secs", "15"),
];

/// Environment variables with the prefix that are not settings, but still
/// ours: the config file's path, and the test suites' server URLs.
fn is_other_known(var: &str) -> bool {
    var == "ROSTER_CONFIG" || var.starts_with("ROSTER_TEST_")
}

fn is_setting(var: &str) -> bool {
    var.strip_prefix("ROSTER_").is_some_and(|name| KNOWN.iter().any(|(k, _)| name.eq_ignore_ascii_case(k)))
}

/// `on` (the default): every API call needs a bearer token. `off`:
/// development only, refused unless roster listens on loopback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    On,
    Off,
}

/// A secret setting; its `Debug` shows only whether it is set.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// The database URL; its `Debug` hides any password.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(pub String);

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", redact(&self.0))
    }
}

/// `scheme://user:password@host` → `scheme://user:***@host`.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on.
    pub listen: String,
    /// `sqlite://…`, `postgres://…`, `mysql://…` or `memory:`.
    pub database_url: DatabaseUrl,
    pub database_max_connections: u32,
    pub database_connect_timeout_secs: u64,
    pub database_acquire_timeout_secs: u64,
    /// Apply migrations when serving starts.
    pub migrate_on_start: bool,
    /// HTTP worker threads; 0 means one per CPU.
    pub workers: usize,
    pub log_format: LogFormat,
    /// A tracing `EnvFilter` directive.
    pub log_filter: String,
    pub auth: AuthMode,
    /// Lifetime of an access token, in seconds.
    pub auth_token_ttl: u64,
    /// The token signing key (at least 32 bytes). Empty: read
    /// `auth_signing_key_file`, or else use the key kept in the store
    /// (generated at the first start).
    pub auth_signing_key: Secret,
    /// A file holding the signing key (e.g. a Docker or Kubernetes secret).
    pub auth_signing_key_file: String,
    /// How long a bulk import's heartbeat may be silent before another
    /// process (or this one, restarted) takes the import over, in seconds.
    pub import_lease_secs: u64,
}

impl Settings {
    /// Loads settings from the defaults, `file` (if given; `roster.toml` in
    /// the working directory is read when it exists) and the environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, String> {
        Self::load_from(file, std::env::vars())
    }

    pub fn load_from(file: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Settings, String> {
        let mut builder = config::Config::builder();
        for (key, value) in KNOWN {
            builder = builder.set_default(*key, *value).map_err(|e| e.to_string())?;
        }
        match file {
            Some(path) => builder = builder.add_source(config::File::from(path).required(true)),
            None => builder = builder.add_source(config::File::with_name("roster.toml").required(false)),
        }
        // Only the variables that are settings: any other ROSTER_* is warned
        // about at start (`unknown_env_vars`), never a reason not to start.
        let env: std::collections::HashMap<String, String> = env.into_iter().filter(|(k, _)| is_setting(k)).collect();
        builder = builder.add_source(config::Environment::with_prefix("ROSTER").source(Some(env)).try_parsing(false));
        let config = builder.build().map_err(|e| format!("configuration: {e}"))?;
        let settings: Settings = serde_path_to_error::deserialize(config)
            .map_err(|e| format!("configuration: at {}: {}", e.path(), e.inner()))?;
        if settings.import_lease_secs == 0 {
            return Err("configuration: at import_lease_secs: the import lease must be at least 1 second".to_owned());
        }
        if settings.auth_token_ttl == 0 {
            return Err("configuration: at auth_token_ttl: a token must live at least 1 second".to_owned());
        }
        Ok(settings)
    }

    /// The configured signing key: `auth_signing_key`, else the contents of
    /// `auth_signing_key_file` (trimmed); `None` when neither is set.
    pub fn configured_signing_key(&self) -> Result<Option<Vec<u8>>, String> {
        let key = if !self.auth_signing_key.0.is_empty() {
            self.auth_signing_key.0.clone()
        } else if !self.auth_signing_key_file.is_empty() {
            std::fs::read_to_string(&self.auth_signing_key_file)
                .map_err(|e| format!("auth_signing_key_file {}: {e}", self.auth_signing_key_file))?
                .trim()
                .to_owned()
        } else {
            return Ok(None);
        };
        if key.len() < 32 {
            return Err("the token signing key must be at least 32 bytes long".to_owned());
        }
        Ok(Some(key.into_bytes()))
    }

    pub fn database_settings(&self) -> roster_store_seaorm::DatabaseSettings {
        roster_store_seaorm::DatabaseSettings {
            url: self.database_url.0.clone(),
            max_connections: self.database_max_connections.max(1),
            connect_timeout: Duration::from_secs(self.database_connect_timeout_secs),
            acquire_timeout: Duration::from_secs(self.database_acquire_timeout_secs),
        }
    }
}

/// `ROSTER_*` variables that are no setting: probably typos.
pub fn unknown_env_vars(env: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
    env.into_iter()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("ROSTER_") && !is_setting(k) && !is_other_known(k))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn defaults_then_env() {
        let s = Settings::load_from(None, env(&[])).unwrap();
        assert_eq!(s.listen, "127.0.0.1:8080");
        assert_eq!(s.database_url.0, "sqlite://roster.db?mode=rwc");
        assert_eq!(s.log_format, LogFormat::Text);
        let s = Settings::load_from(
            None,
            env(&[
                ("ROSTER_LISTEN", "0.0.0.0:9000"),
                ("ROSTER_DATABASE_URL", "memory:"),
                ("ROSTER_LOG_FORMAT", "json"),
                ("ROSTER_WORKERS", "3"),
            ]),
        )
        .unwrap();
        assert_eq!(
            (s.listen.as_str(), s.database_url.0.as_str(), s.log_format, s.workers),
            ("0.0.0.0:9000", "memory:", LogFormat::Json, 3)
        );
    }

    #[test]
    fn bad_values_name_the_setting() {
        let e = Settings::load_from(None, env(&[("ROSTER_WORKERS", "many")])).unwrap_err();
        assert!(e.contains("workers"), "{e}");
        let e = Settings::load_from(None, env(&[("ROSTER_LOG_FORMAT", "xml")])).unwrap_err();
        assert!(e.contains("log_format"), "{e}");
    }

    #[test]
    fn unknown_variables_are_found_and_do_not_stop_the_start() {
        let vars = env(&[
            ("ROSTER_LISTN", "x"),
            ("ROSTER_LISTEN", "127.0.0.1:1"),
            ("PATH", "z"),
            ("ROSTER_TEST_POSTGRES_URL", "postgres://x"),
            ("ROSTER_CONFIG", "f.toml"),
        ]);
        assert_eq!(unknown_env_vars(vars.clone()), vec!["ROSTER_LISTN"]);
        assert_eq!(Settings::load_from(None, vars).unwrap().listen, "127.0.0.1:1");
    }

    #[test]
    fn auth_settings() {
        let s = Settings::load_from(None, env(&[])).unwrap();
        assert_eq!((s.auth, s.auth_token_ttl), (AuthMode::On, 3600));
        assert_eq!(s.configured_signing_key().unwrap(), None);
        let s = Settings::load_from(
            None,
            env(&[("ROSTER_AUTH", "off"), ("ROSTER_AUTH_TOKEN_TTL", "60"), ("ROSTER_AUTH_SIGNING_KEY", "k")]),
        )
        .unwrap();
        assert_eq!((s.auth, s.auth_token_ttl), (AuthMode::Off, 60));
        assert!(s.configured_signing_key().unwrap_err().contains("32 bytes"));
        assert!(!format!("{s:?}").contains("\"k\""), "the key is not shown");
        let e = Settings::load_from(None, env(&[("ROSTER_AUTH_TOKEN_TTL", "0")])).unwrap_err();
        assert!(e.contains("auth_token_ttl"), "{e}");
        let e = Settings::load_from(None, env(&[("ROSTER_AUTH", "maybe")])).unwrap_err();
        assert!(e.contains("auth"), "{e}");
        let file = std::env::temp_dir().join(format!("roster-key-{}", std::process::id()));
        std::fs::write(&file, format!("{}\n", "x".repeat(40))).unwrap();
        let s = Settings::load_from(None, env(&[("ROSTER_AUTH_SIGNING_KEY_FILE", file.to_str().unwrap())])).unwrap();
        assert_eq!(s.configured_signing_key().unwrap(), Some(vec![b'x'; 40]));
        let _ = std::fs::remove_file(file);
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://roster:s3cret@db:5432/roster"), "postgres://roster:***@db:5432/roster");
        assert_eq!(redact("sqlite://roster.db?mode=rwc"), "sqlite://roster.db?mode=rwc");
        let url = DatabaseUrl("mysql://root:pw@localhost/test".into());
        assert!(!format!("{url:?}").contains("pw@"));
    }
}
