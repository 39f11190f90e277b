//! Migration `m20261205_120000_roles_teams_in_users` on each backend: users
//! saved with roles and teams in their rows, the migration rolled back (the
//! lists become rows of `user_roles` and `user_teams` again, in order) and
//! applied again (the rows back into the columns): every user reads back
//! as it was saved. Strings that JSON must escape are among the items.

use roster_application::UserRepository;
use roster_application::contract::sample_user;
use roster_domain::{Namespace, Text, User};
use roster_migrations::Migrator;
use roster_migrations::sea_orm_migration::MigratorTrait;
use roster_store_seaorm::testing::{ServerKind, TempDatabase};
use roster_store_seaorm::{DatabaseConnection, DatabaseSettings, SeaOrmUserRepository, connect};
use sea_orm::{ConnectionTrait, Statement};

fn texts(items: &[&str]) -> Vec<Text> {
    items.iter().map(|s| Text::parse(s).expect("a valid list item")).collect()
}

/// Three users: lists with quotes, backslashes and non-ASCII text; no teams;
/// the sample's lists.
fn users() -> Vec<User> {
    let mut odd = sample_user("a-1", Some("a@example.com"), &["g-1"], &[]);
    odd.profile.roles = texts(&["Agent \"Lead\"", "Back\\slash", "Équipe ☎ 北"]);
    odd.profile.teams = texts(&["Z", "a/b", "O'Neil"]);
    let mut no_teams = sample_user("a-2", None, &["g-2"], &[]);
    no_teams.profile.teams = Vec::new();
    vec![odd, no_teams, sample_user("a-3", None, &["g-3"], &[])]
}

async fn names(db: &DatabaseConnection, table: &str, user_id: &str) -> Vec<String> {
    let sql = format!("SELECT name FROM {table} WHERE namespace = 'acme' AND user_id = '{user_id}' ORDER BY position");
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.expect(table);
    rows.iter().map(|r| r.try_get::<String>("", "name").expect("name")).collect()
}

async fn lists_survive_down_and_up(db: DatabaseConnection) {
    Migrator::up(&db, None).await.expect("migrate");
    let ns = Namespace::parse("acme").expect("namespace");
    let at = chrono::Utc::now();
    let repo = SeaOrmUserRepository::new(db.clone());
    let saved = users();
    for user in &saved {
        repo.save(&ns, user, at).await.expect("save");
    }

    Migrator::down(&db, Some(1)).await.expect("roll the lists back into their tables");
    for user in &saved {
        let id = user.user_id.as_str();
        let roles: Vec<String> = user.profile.roles.iter().map(|t| t.as_str().to_owned()).collect();
        let teams: Vec<String> = user.profile.teams.iter().map(|t| t.as_str().to_owned()).collect();
        assert_eq!(names(&db, "user_roles", id).await, roles, "{id}'s roles as rows");
        assert_eq!(names(&db, "user_teams", id).await, teams, "{id}'s teams as rows");
    }

    Migrator::up(&db, None).await.expect("move the lists into the users' rows again");
    for user in &saved {
        assert_eq!(repo.find(&ns, &user.user_id).await.expect("find").as_ref(), Some(user));
    }
    // and the tables are gone
    let gone = db.execute_unprepared("SELECT 1 FROM user_roles").await.expect_err("user_roles is dropped");
    assert!(gone.to_string().contains("user_roles"), "{gone}");
}

#[tokio::test]
async fn sqlite() {
    let path = std::env::temp_dir().join(format!("roster-migration-lists-{}.db", std::process::id()));
    let settings =
        DatabaseSettings { url: format!("sqlite://{}?mode=rwc", path.display()), ..DatabaseSettings::default() };
    let db = connect(&settings).await.expect("connect");
    lists_survive_down_and_up(db.clone()).await;
    db.close().await.expect("close");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

async fn on_server(kind: ServerKind) {
    let Some(admin_url) = kind.admin_url("the migration test") else {
        return;
    };
    let database = TempDatabase::create(&admin_url).await;
    let settings = DatabaseSettings { url: database.url.clone(), max_connections: 2, ..DatabaseSettings::default() };
    let db = connect(&settings).await.expect("connect");
    lists_survive_down_and_up(db.clone()).await;
    db.close().await.expect("close");
}

#[tokio::test]
async fn postgres() {
    on_server(ServerKind::Postgres).await;
}

#[tokio::test]
async fn mysql() {
    on_server(ServerKind::MySql).await;
}
