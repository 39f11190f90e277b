//! `docker-compose.yml`, the `Dockerfile` and the README's "Run with
//! PostgreSQL" section cannot be run here (there is no Docker engine), so
//! this reads them and checks them against roster itself: every `ROSTER_*`
//! variable they set is a setting roster knows (`roster::settings::KNOWN`,
//! so a setting added later is known here too), roster's settings load from
//! that environment, and the ports, health checks, binary path and README
//! agree with each other.

use std::collections::BTreeMap;

use yaml_rust2::{Yaml, YamlLoader};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
/// The compose services.
const ROSTER: &str = "roster";
const POSTGRES: &str = "postgres";
/// Where a Debian image finds a bare command name (its default PATH).
const DEFAULT_PATH: &[&str] = &["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

fn read(file: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{file}")).unwrap_or_else(|e| panic!("cannot read {file}: {e}"))
}

fn compose() -> Yaml {
    let text = read("docker-compose.yml");
    let mut docs = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("docker-compose.yml is not YAML: {e}"));
    assert_eq!(docs.len(), 1, "docker-compose.yml must be one YAML document");
    docs.remove(0)
}

fn service<'a>(compose: &'a Yaml, name: &str) -> &'a Yaml {
    let service = &compose["services"][name];
    assert!(service.is_hash(), "docker-compose.yml has no service `{name}` under `services:`");
    service
}

fn service_names(compose: &Yaml) -> Vec<String> {
    let services = compose["services"].as_hash().expect("docker-compose.yml has no `services:` mapping");
    services.keys().map(|k| k.as_str().expect("a service name is a string").to_owned()).collect()
}

/// A scalar as compose passes it on: strings and numbers as written.
fn scalar(value: &Yaml, what: &str) -> String {
    match value {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(_) => panic!("{what}: quote booleans (\"true\"), compose refuses bare ones"),
        other => panic!("{what}: expected a string or a number, found {other:?}"),
    }
}

/// A service's `environment:`, map form (`KEY: value`) or list form
/// (`- KEY=value`). A variable without a value (taken from the host) is `None`.
fn environment(compose: &Yaml, name: &str) -> Vec<(String, Option<String>)> {
    let what = |key: &str| format!("services.{name}.environment.{key}");
    match &service(compose, name)["environment"] {
        Yaml::BadValue => Vec::new(),
        Yaml::Hash(map) => map
            .iter()
            .map(|(k, v)| {
                let key = scalar(k, &format!("services.{name}.environment"));
                let value = (!v.is_null()).then(|| scalar(v, &what(&key)));
                (key, value)
            })
            .collect(),
        Yaml::Array(list) => list
            .iter()
            .map(|item| {
                let item = scalar(item, &format!("services.{name}.environment"));
                match item.split_once('=') {
                    Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
                    None => (item, None),
                }
            })
            .collect(),
        other => panic!("services.{name}.environment: expected a mapping or a list, found {other:?}"),
    }
}

fn env_value(env: &[(String, Option<String>)], key: &str) -> Option<String> {
    env.iter().rev().find(|(k, _)| k == key).and_then(|(_, v)| v.clone())
}

/// The command of a service's health check, without `CMD`/`CMD-SHELL`.
fn healthcheck(compose: &Yaml, name: &str) -> Vec<String> {
    let test = &service(compose, name)["healthcheck"]["test"];
    let words: Vec<String> = match test {
        Yaml::String(shell) => shell.split_whitespace().map(str::to_owned).collect(),
        Yaml::Array(list) => list.iter().map(|w| scalar(w, &format!("services.{name}.healthcheck.test"))).collect(),
        _ => panic!("services.{name} needs a `healthcheck:` with a `test:`"),
    };
    match words.first().map(String::as_str) {
        Some("CMD") => words[1..].to_vec(),
        Some("CMD-SHELL") => words[1..].iter().flat_map(|w| w.split_whitespace()).map(str::to_owned).collect(),
        Some("NONE") | None => panic!("services.{name}.healthcheck.test is empty or NONE"),
        Some(_) if test.is_array() => panic!("services.{name}.healthcheck.test: a list starts with CMD or CMD-SHELL"),
        Some(_) => words,
    }
}

/// `(host port, container port)` of each published port, short (`"8080:8080"`,
/// `"127.0.0.1:8080:8080/tcp"`) or long (`target:`/`published:`) syntax.
fn published_ports(compose: &Yaml, name: &str) -> Vec<(u16, u16)> {
    let port = |s: &str| s.parse::<u16>().unwrap_or_else(|_| panic!("services.{name}.ports: `{s}` is not a port"));
    let Some(list) = service(compose, name)["ports"].as_vec() else { return Vec::new() };
    list.iter()
        .filter_map(|entry| match entry {
            Yaml::Hash(_) => {
                let published = scalar(&entry["published"], &format!("services.{name}.ports[].published"));
                Some((port(&published), port(&scalar(&entry["target"], "target"))))
            }
            _ => {
                let spec = scalar(entry, &format!("services.{name}.ports"));
                let spec = spec.split('/').next().unwrap_or_default();
                let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
                match parts.as_slice() {
                    [container, host, ..] => Some((port(host), port(container))),
                    _ => None, // only a container port: no fixed host port
                }
            }
        })
        .collect()
}

/// Is `ROSTER_…` a variable roster reads? Settings come from
/// `roster::settings::KNOWN` (`ROSTER_` + the name in upper case), plus
/// `ROSTER_CONFIG`, the configuration file.
fn is_known(var: &str) -> bool {
    var == "ROSTER_CONFIG"
        || var
            .strip_prefix("ROSTER_")
            .is_some_and(|name| roster::settings::KNOWN.iter().any(|(k, _)| name == k.to_uppercase()))
}

/// The Dockerfile's instructions, `(INSTRUCTION, arguments)`, with line
/// continuations joined and comments dropped.
fn dockerfile() -> Vec<(String, String)> {
    let text = read("Dockerfile");
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => current.push_str(&format!("{part} ")),
            None => {
                current.push_str(trimmed);
                let (instruction, args) = current.split_once(char::is_whitespace).unwrap_or((&current, ""));
                instructions.push((instruction.to_uppercase(), args.trim().to_owned()));
                current.clear();
            }
        }
    }
    instructions
}

/// The instructions of the image's last stage (the one that runs), from its `FROM` on.
fn final_stage() -> Vec<(String, String)> {
    let all = dockerfile();
    let start = all.iter().rposition(|(i, _)| i == "FROM").expect("the Dockerfile has no FROM");
    all[start..].to_vec()
}

/// `ENV` of the final stage: the environment the image gives roster before compose adds its own.
fn image_environment() -> Vec<(String, Option<String>)> {
    let mut env = Vec::new();
    for (_, args) in final_stage().iter().filter(|(i, _)| i == "ENV") {
        if args.contains('=') {
            for pair in args.split_whitespace() {
                let (k, v) = pair.split_once('=').unwrap_or_else(|| panic!("Dockerfile: ENV {args}: write KEY=VALUE"));
                env.push((k.to_owned(), Some(v.trim_matches('"').to_owned())));
            }
        } else if let Some((k, v)) = args.split_once(char::is_whitespace) {
            env.push((k.to_owned(), Some(v.trim().to_owned())));
        }
    }
    env
}

/// Where the final stage puts the roster binary (`COPY --from=… … /path/roster`).
fn image_binary() -> String {
    final_stage()
        .iter()
        .filter(|(i, args)| i == "COPY" && args.starts_with("--from="))
        .filter_map(|(_, args)| args.split_whitespace().last())
        .find(|dest| dest.ends_with("/roster"))
        .expect("the Dockerfile's final stage must COPY --from=<build stage> the binary to …/roster")
        .to_owned()
}

/// The environment roster runs with in the compose service: the image's
/// `ENV`, then the service's `environment:` over it.
fn roster_environment(compose: &Yaml) -> Vec<(String, String)> {
    let mut env = BTreeMap::new();
    for (k, v) in image_environment().into_iter().chain(environment(compose, ROSTER)) {
        if let Some(v) = v {
            env.insert(k, v);
        }
    }
    env.into_iter().collect()
}

/// roster's settings as the compose service starts it.
fn roster_settings(compose: &Yaml) -> roster::Settings {
    let env = roster_environment(compose);
    roster::Settings::load_from(None, env.clone())
        .unwrap_or_else(|e| panic!("roster would not start with the compose environment {env:?}: {e}"))
}

#[test]
fn every_roster_variable_set_is_one_roster_knows() {
    let compose = compose();
    let mut sets: Vec<(String, String)> =
        image_environment().into_iter().map(|(k, _)| ("Dockerfile (ENV)".to_owned(), k)).collect();
    for name in service_names(&compose) {
        let place = format!("docker-compose.yml (services.{name}.environment)");
        sets.extend(environment(&compose, &name).into_iter().map(|(k, _)| (place.clone(), k)));
    }
    let unknown: Vec<String> = sets
        .iter()
        .filter(|(_, var)| var.starts_with("ROSTER_") && !is_known(var))
        .map(|(place, var)| format!("{var} in {place}"))
        .collect();
    let known: Vec<String> =
        roster::settings::KNOWN.iter().map(|(k, _)| format!("ROSTER_{}", k.to_uppercase())).collect();
    assert!(
        unknown.is_empty(),
        "roster does not know {unknown:?} (a typo, or a setting that was renamed or removed); it knows ROSTER_CONFIG and {known:?}"
    );
}

#[test]
fn roster_settings_load_from_the_compose_environment() {
    let compose = compose();
    let settings = roster_settings(&compose);
    assert!(
        settings.database_url.0.starts_with("postgres://"),
        "services.roster.environment must set ROSTER_DATABASE_URL to a postgres:// URL, not {:?}",
        settings.database_url
    );
    assert!(
        settings.listen.starts_with("0.0.0.0:") || settings.listen.starts_with("[::]:"),
        "in a container roster must listen on every interface (ROSTER_LISTEN=0.0.0.0:PORT), not on {}",
        settings.listen
    );
    assert!(
        settings.migrate_on_start,
        "the compose set-up relies on migrations at start; keep ROSTER_MIGRATE_ON_START true"
    );
}

#[test]
fn the_database_url_names_the_postgres_service_and_its_credentials() {
    let compose = compose();
    let url = env_value(&environment(&compose, ROSTER), "ROSTER_DATABASE_URL")
        .expect("services.roster.environment must set ROSTER_DATABASE_URL");
    let pg = environment(&compose, POSTGRES);
    let get = |key: &str| env_value(&pg, key).unwrap_or_else(|| panic!("services.postgres.environment must set {key}"));
    let expected = format!(
        "postgres://{}:{}@{POSTGRES}:5432/{}",
        get("POSTGRES_USER"),
        get("POSTGRES_PASSWORD"),
        get("POSTGRES_DB")
    );
    assert_eq!(
        url, expected,
        "ROSTER_DATABASE_URL must match the postgres service's name, port and POSTGRES_* variables"
    );
}

#[test]
fn roster_waits_for_a_healthy_postgres() {
    let compose = compose();
    let condition = &service(&compose, ROSTER)["depends_on"][POSTGRES]["condition"];
    assert_eq!(
        condition.as_str(),
        Some("service_healthy"),
        "services.roster.depends_on.postgres.condition must be service_healthy (roster exits when the database is not there)"
    );
    let check = healthcheck(&compose, POSTGRES);
    assert_eq!(
        check.first().map(String::as_str),
        Some("pg_isready"),
        "postgres's health check must be pg_isready: {check:?}"
    );
    let pg = environment(&compose, POSTGRES);
    for (flag, key) in [("-U", "POSTGRES_USER"), ("-d", "POSTGRES_DB")] {
        let given = check.iter().position(|w| w == flag).and_then(|i| check.get(i + 1)).cloned();
        assert_eq!(given, env_value(&pg, key), "pg_isready {flag} must be the {key} of services.postgres.environment");
    }
}

#[test]
fn roster_checks_its_own_health_with_roster_healthcheck() {
    let compose = compose();
    let check = healthcheck(&compose, ROSTER);
    assert_eq!(
        check.get(1).map(String::as_str),
        Some("healthcheck"),
        "services.roster.healthcheck.test must be [\"CMD\", \"roster\", \"healthcheck\"], not {check:?}"
    );
    let program = &check[0];
    let binary = image_binary();
    let (directory, _) = binary.rsplit_once('/').unwrap_or_default();
    assert!(
        *program == binary || (*program == "roster" && DEFAULT_PATH.contains(&directory)),
        "the health check runs `{program}`, but the Dockerfile puts the binary at {binary}"
    );
    // Without --url, `roster healthcheck` asks the address in ROSTER_LISTEN:
    // it must be one the check, inside the container, reaches.
    if !check.iter().any(|w| w.starts_with("--url")) {
        let settings = roster_settings(&compose);
        let host = settings.listen.rsplit_once(':').map(|(h, _)| h).unwrap_or_default();
        assert!(
            ["0.0.0.0", "[::]", "127.0.0.1", "localhost"].contains(&host),
            "`roster healthcheck` asks ROSTER_LISTEN={}; give it --url to reach roster",
            settings.listen
        );
    }
}

#[test]
fn the_published_port_is_the_one_roster_listens_on_and_the_image_exposes() {
    let compose = compose();
    let settings = roster_settings(&compose);
    let listen_port: u16 =
        settings.listen.rsplit_once(':').and_then(|(_, p)| p.parse().ok()).expect("ROSTER_LISTEN port");
    let ports = published_ports(&compose, ROSTER);
    assert!(
        !ports.is_empty(),
        "services.roster.ports must publish roster's port, e.g. \"{listen_port}:{listen_port}\""
    );
    for (_, container) in &ports {
        assert_eq!(
            *container, listen_port,
            "services.roster.ports maps to {container}, but ROSTER_LISTEN is {}",
            settings.listen
        );
    }
    let exposed: Vec<String> = final_stage()
        .iter()
        .filter(|(i, _)| i == "EXPOSE")
        .flat_map(|(_, args)| args.split_whitespace().map(|p| p.split('/').next().unwrap_or_default().to_owned()))
        .collect();
    assert!(
        exposed.contains(&listen_port.to_string()),
        "the Dockerfile must EXPOSE {listen_port}, it exposes {exposed:?}"
    );
}

#[test]
fn named_volumes_are_declared() {
    let compose = compose();
    for name in service_names(&compose) {
        let Some(volumes) = service(&compose, &name)["volumes"].as_vec() else { continue };
        for volume in volumes.iter().filter_map(Yaml::as_str) {
            let source = volume.split(':').next().unwrap_or_default();
            if !source.starts_with(['.', '/', '~']) {
                assert!(
                    !compose["volumes"][source].is_badvalue(),
                    "services.{name} mounts the volume `{source}`: declare it under the top-level `volumes:`"
                );
            }
        }
    }
}

#[test]
fn the_dockerfile_builds_roster_with_the_workspace_rust_and_runs_it_unprivileged() {
    let compose = compose();
    let build = &service(&compose, ROSTER)["build"];
    let context = build.as_str().or_else(|| build["context"].as_str());
    assert_eq!(context, Some("."), "services.roster.build must be the workspace root (., where the Dockerfile is)");

    let instructions = dockerfile();
    let froms: Vec<&str> = instructions.iter().filter(|(i, _)| i == "FROM").map(|(_, a)| a.as_str()).collect();
    let builder =
        froms.iter().find_map(|f| f.strip_prefix("rust:")).expect("the Dockerfile builds FROM rust:<version>");
    let tag = builder.split_whitespace().next().unwrap_or_default();
    let version = |v: &str| -> (u32, u32) {
        let mut parts = v.split(['.', '-']).map(|p| p.parse().unwrap_or(0));
        (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
    };
    let cargo_toml = read("Cargo.toml");
    let rust_version = cargo_toml
        .lines()
        .find_map(|l| l.trim().strip_prefix("rust-version = "))
        .expect("Cargo.toml has a rust-version")
        .trim_matches('"');
    assert!(
        version(tag) >= version(rust_version),
        "the builder image rust:{tag} is older than the workspace's rust-version {rust_version}"
    );
    // The runtime's Debian must be the builder's: the binary needs the glibc it was linked against.
    let codename = tag.rsplit('-').next().filter(|c| c.chars().all(|c| c.is_ascii_lowercase())).unwrap_or_else(|| {
        panic!("name the builder's Debian release in its tag (rust:{rust_version}-bookworm), not rust:{tag}")
    });
    let runtime = &final_stage()[0].1;
    assert!(runtime.contains(codename), "the final stage ({runtime}) must run on the builder's Debian ({codename})");
    let builds = instructions.iter().any(|(i, a)| i == "RUN" && a.contains("cargo build") && a.contains("--locked"));
    assert!(builds, "the Dockerfile must `cargo build --locked` (the committed Cargo.lock)");
    let user = final_stage().iter().rev().find(|(i, _)| i == "USER").map(|(_, a)| a.clone());
    assert!(
        user.as_deref().and_then(|u| u.split(':').next()).is_some_and(|u| u != "root" && u != "0"),
        "the final stage must run roster as a non-root USER, not {user:?}"
    );
}

#[test]
fn the_readme_says_how_to_run_it_with_postgresql() {
    let readme = read("README.md");
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with("Run with PostgreSQL"))
        .expect("README.md needs a section \"## Run with PostgreSQL\"");
    let compose = compose();
    let (host_port, _) = *published_ports(&compose, ROSTER).first().expect("services.roster.ports publishes no port");
    for needed in [
        "docker compose up".to_owned(),
        format!("http://localhost:{host_port}/"),
        "ROSTER_DATABASE_URL=postgres://".to_owned(),
    ] {
        assert!(section.contains(&needed), "README.md's \"Run with PostgreSQL\" must say `{needed}`");
    }
}
