//! Many users at once, for bulk imports: the context of a chunk in a few
//! set-wise reads, and a chunk's users written with multi-row statements.

use std::collections::HashMap;

use roster_application::{BatchContext, BatchContextQuery, RepositoryError, UserRef};
use roster_domain::{TelephonyIdentity, User};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait, FromQueryResult};

use crate::entity::{user_telephony, users};
use crate::lists::{Lists, NO_USER, Sql, TelephonyRow, USER_COLUMNS, json_strings};
use crate::rows;
use crate::user_repository::{users_on_conflict, write_user};

/// Values per `IN (…)` list and rows per multi-row insert: far below every
/// backend's limit on bound parameters (SQLite's is 32,766).
const IN_LIST: usize = 1000;
const USER_ROWS_PER_INSERT: usize = 500;
const LIST_ROWS_PER_INSERT: usize = 2000;

fn in_list<'a>(sql: &mut Sql, column: &str, values: impl Iterator<Item = &'a str>) {
    sql.push(column).push(" IN (");
    for (n, v) in values.enumerate() {
        if n > 0 {
            sql.push(", ");
        }
        sql.bind(v.to_owned());
    }
    sql.push(")");
}

/// On PostgreSQL, plans each statement of the transaction for its own
/// parameters (`plan_cache_mode = force_custom_plan`, for this transaction
/// only). A bulk import grows the tables a thousandfold while it runs; a
/// generic plan cached while they were small (a sequential scan) would be
/// kept, and each chunk would scan the whole table.
pub(crate) async fn plan_per_statement<C: ConnectionTrait>(txn: &C) -> Result<(), DbErr> {
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared("SET LOCAL plan_cache_mode = force_custom_plan").await?;
    }
    Ok(())
}

/// Reads a chunk's context: the users (with their lists) and references by
/// id, the owners of the emails and of the telephony identities.
pub(crate) async fn context<C: ConnectionTrait>(
    db: &C,
    namespace: &str,
    query: &BatchContextQuery,
) -> Result<BatchContext, RepositoryError> {
    let backend = db.get_database_backend();
    if backend == DbBackend::Postgres {
        return postgres_context(db, namespace, query).await;
    }
    let err = crate::error::to_repository_error;
    let mut out = BatchContext::default();

    // Users by id: the ones upserted and the ones referenced.
    let mut ids: Vec<&str> = query.user_ids.iter().chain(&query.references).map(|id| id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut found: HashMap<String, users::Model> = HashMap::new();
    for part in ids.chunks(IN_LIST) {
        let mut sql = Sql::new(backend);
        sql.push("SELECT ").push(USER_COLUMNS).push(" FROM users WHERE namespace = ").bind(namespace).push(" AND ");
        in_list(&mut sql, "user_id", part.iter().copied());
        for row in db.query_all_raw(sql.build()).await.map_err(err)? {
            let user = users::Model::from_query_result(&row, "").map_err(err)?;
            found.insert(user.user_id.clone(), user);
        }
    }
    for r in &query.references {
        if let Some(u) = found.get(r.as_str()) {
            out.references.insert(
                r.clone(),
                UserRef { user_id: r.clone(), first_name: u.first_name.clone(), last_name: u.last_name.clone() },
            );
        }
    }

    // The telephony configurations of the upserted users that exist.
    let existing: Vec<&str> =
        query.user_ids.iter().map(|id| id.as_str()).filter(|id| found.contains_key(*id)).collect();
    let mut lists: HashMap<String, Vec<(i32, TelephonyRow)>> = HashMap::new();
    for part in existing.chunks(IN_LIST) {
        let mut sql = Sql::new(backend);
        sql.push("SELECT user_id, position, platform, agent_id, extension FROM user_telephony WHERE namespace = ")
            .bind(namespace)
            .push(" AND ");
        in_list(&mut sql, "user_id", part.iter().copied());
        for row in db.query_all_raw(sql.build()).await.map_err(err)? {
            let user_id: String = row.try_get("", "user_id").map_err(err)?;
            let item = TelephonyRow {
                platform: row.try_get("", "platform").map_err(err)?,
                agent_id: row.try_get("", "agent_id").map_err(err)?,
                extension: row.try_get("", "extension").map_err(err)?,
            };
            lists.entry(user_id).or_default().push((row.try_get("", "position").map_err(err)?, item));
        }
    }
    for id in &query.user_ids {
        let Some(row) = found.get(id.as_str()) else { continue };
        out.existing.insert(id.clone(), rows::to_user(row.clone(), sorted_lists(lists.remove(id.as_str())))?);
    }

    // Owners of the emails.
    let mut emails: Vec<&str> = query.emails.iter().map(String::as_str).collect();
    emails.sort_unstable();
    emails.dedup();
    for part in emails.chunks(IN_LIST) {
        let mut sql = Sql::new(backend);
        sql.push("SELECT user_id, email_norm FROM users WHERE ");
        in_list(&mut sql, "email_norm", part.iter().copied());
        sql.push(" AND namespace = ").bind(namespace);
        for row in db.query_all_raw(sql.build()).await.map_err(err)? {
            let email: String = row.try_get("", "email_norm").map_err(err)?;
            let owner: String = row.try_get("", "user_id").map_err(err)?;
            out.email_owners.insert(email, rows::user_id(&owner)?);
        }
    }

    // Owners of the identities: by agent id (the index's first column),
    // then the platform matched here.
    let wanted: std::collections::HashSet<&TelephonyIdentity> = query.identities.iter().collect();
    let mut agents: Vec<&str> = query.identities.iter().map(|i| i.agent_id.as_str()).collect();
    agents.sort_unstable();
    agents.dedup();
    for part in agents.chunks(IN_LIST) {
        let mut sql = Sql::new(backend);
        sql.push("SELECT user_id, platform_norm, agent_id FROM user_telephony WHERE ");
        in_list(&mut sql, "agent_id", part.iter().copied());
        sql.push(" AND namespace = ").bind(namespace);
        for row in db.query_all_raw(sql.build()).await.map_err(err)? {
            let identity = TelephonyIdentity {
                platform: row.try_get("", "platform_norm").map_err(err)?,
                agent_id: row.try_get("", "agent_id").map_err(err)?,
            };
            if wanted.contains(&identity) {
                let owner: String = row.try_get("", "user_id").map_err(err)?;
                out.identity_owners.insert(identity, rows::user_id(&owner)?);
            }
        }
    }
    Ok(out)
}

/// The strings of JSON parameter `$n` as rows `k(v)`, each looked up on its
/// own (`CROSS JOIN LATERAL (… OFFSET 0)`, a subquery the planner can't
/// merge into a join): a table that grew fast still looks tiny before its
/// first ANALYZE, and a set-wise `= ANY (…)` or a join would then be planned
/// as a scan of the namespace.
fn keys(n: usize) -> String {
    format!("json_array_elements_text(${n}::json) AS k(v)")
}

/// The text of [`postgres_context`]'s statement: `$1` the namespace, `$2` …
/// `$5` JSON arrays of user ids, emails, upserted user ids and agent ids.
pub(crate) fn postgres_context_sql() -> &'static str {
    use std::sync::OnceLock;
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        // An expression, so that no index on the namespace can serve the
        // lookups by email and agent id (whose unique indexes end with it).
        let ns = "(namespace || '') = ";
        format!(
            "SELECT 'u' AS kind, NULL::int AS position, NULL::text AS a, NULL::text AS b, NULL::text AS c, {u_columns} \
             FROM {ids} CROSS JOIN LATERAL (SELECT * FROM users WHERE namespace = $1 AND user_id = k.v OFFSET 0) u \
             UNION ALL SELECT 'e', NULL, u.email_norm, NULL, NULL, u.namespace, u.user_id, {NO_USER} \
             FROM {emails} CROSS JOIN LATERAL (SELECT * FROM users WHERE email_norm = k.v AND {ns}$1 OFFSET 0) u \
             UNION ALL SELECT 'p', l.position, l.platform, l.agent_id, l.extension, l.namespace, l.user_id, {NO_USER} \
             FROM {upserted} CROSS JOIN LATERAL (SELECT * FROM user_telephony WHERE namespace = $1 AND user_id = k.v OFFSET 0) l \
             UNION ALL SELECT 'i', l.position, l.platform_norm, l.agent_id, NULL, l.namespace, l.user_id, {NO_USER} \
             FROM {agents} CROSS JOIN LATERAL (SELECT * FROM user_telephony WHERE agent_id = k.v AND {ns}$1 OFFSET 0) l",
            u_columns = USER_COLUMNS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", "),
            ids = keys(2),
            emails = keys(3),
            upserted = keys(4),
            agents = keys(5),
        )
    })
}

/// PostgreSQL's [`context`]: one statement of fixed text — the same
/// prepared statement whatever the batch — whose keys arrive as JSON arrays:
/// users by id, owners of the emails, the upserted users' lists, owners of
/// the identities (by agent id; the platform is matched here). Rows are
/// `kind, position, a, b, c` and then the columns of `users`, as in
/// [`crate::context`]. Run outside any transaction (one statement, one
/// snapshot), it is planned once per connection (a generic plan): its
/// lookups keep to the indexes whatever the statistics say, as sequential
/// scans are priced out on roster's connections ([`crate::connect`]).
async fn postgres_context<C: ConnectionTrait>(
    db: &C,
    namespace: &str,
    query: &BatchContextQuery,
) -> Result<BatchContext, RepositoryError> {
    let sql = postgres_context_sql();
    let err = crate::error::to_repository_error;
    let ids = json_strings(query.user_ids.iter().chain(&query.references).map(|id| id.as_str()));
    let emails = json_strings(query.emails.iter().map(String::as_str));
    let upserted = json_strings(query.user_ids.iter().map(|id| id.as_str()));
    let agents = json_strings(query.identities.iter().map(|i| i.agent_id.as_str()));
    let statement = sea_orm::Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [namespace.into(), ids.into(), emails.into(), upserted.into(), agents.into()],
    );
    let rows = db.query_all_raw(statement).await.map_err(err)?;

    let wanted: std::collections::HashSet<&TelephonyIdentity> = query.identities.iter().collect();
    let mut found: HashMap<String, users::Model> = HashMap::new();
    let mut lists: HashMap<String, Vec<(i32, TelephonyRow)>> = HashMap::new();
    let mut out = BatchContext::default();
    for row in rows {
        let kind: String = row.try_get("", "kind").map_err(err)?;
        let owner: String = row.try_get("", "user_id").map_err(err)?;
        match kind.as_str() {
            "u" => {
                let user = users::Model::from_query_result(&row, "").map_err(err)?;
                found.insert(owner, user);
            }
            "e" => {
                let email: String = row.try_get("", "a").map_err(err)?;
                out.email_owners.insert(email, rows::user_id(&owner)?);
            }
            "i" => {
                let identity = TelephonyIdentity {
                    platform: row.try_get("", "a").map_err(err)?,
                    agent_id: row.try_get("", "b").map_err(err)?,
                };
                if wanted.contains(&identity) {
                    out.identity_owners.insert(identity, rows::user_id(&owner)?);
                }
            }
            _ => {
                let item = TelephonyRow {
                    platform: row.try_get("", "a").map_err(err)?,
                    agent_id: row.try_get::<Option<String>>("", "b").map_err(err)?.unwrap_or_default(),
                    extension: row.try_get("", "c").map_err(err)?,
                };
                let position: i32 = row.try_get("", "position").map_err(err)?;
                lists.entry(owner).or_default().push((position, item));
            }
        }
    }
    for r in &query.references {
        if let Some(u) = found.get(r.as_str()) {
            out.references.insert(
                r.clone(),
                UserRef { user_id: r.clone(), first_name: u.first_name.clone(), last_name: u.last_name.clone() },
            );
        }
    }
    for id in &query.user_ids {
        let Some(row) = found.get(id.as_str()) else { continue };
        out.existing.insert(id.clone(), rows::to_user(row.clone(), sorted_lists(lists.remove(id.as_str())))?);
    }
    Ok(out)
}

/// A user's telephony rows (`position, item`) as [`Lists`], in saved order.
fn sorted_lists(items: Option<Vec<(i32, TelephonyRow)>>) -> Lists {
    let mut items = items.unwrap_or_default();
    items.sort_by_key(|(position, _)| *position);
    Lists { telephony: items.into_iter().map(|(_, item)| item).collect(), ..Lists::default() }
}

/// The rows of many users, table by table.
struct AllRows {
    user_rows: Vec<users::ActiveModel>,
    telephony: Vec<user_telephony::ActiveModel>,
}

fn all_rows(namespace: &str, users: &[User], at: chrono::DateTime<chrono::Utc>) -> AllRows {
    let mut all = AllRows { user_rows: Vec::with_capacity(users.len()), telephony: Vec::new() };
    for user in users {
        let r = rows::to_rows(namespace, user, at);
        all.user_rows.push(r.user);
        all.telephony.extend(r.telephony);
    }
    all
}

/// PostgreSQL: the call of `roster_save_users` (migration
/// `m20261205_120000_roles_teams_in_users`) writing `users` (distinct ids)
/// whole, in one round trip and one implicit transaction.
pub(crate) fn postgres_save_users(
    namespace: &str,
    users: &[User],
    at: chrono::DateTime<chrono::Utc>,
) -> Result<sea_orm::Statement, DbErr> {
    let AllRows { user_rows, telephony } = all_rows(namespace, users, at);
    Ok(sea_orm::Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT roster_save_users($1, $2::json, $3::json, $4::json)",
        [
            namespace.into(),
            json_strings(users.iter().map(|u| u.user_id.as_str())).into(),
            json(models::<users::Model, _>(user_rows)?)?.into(),
            json(models::<user_telephony::Model, _>(telephony)?)?.into(),
        ],
    ))
}

fn json<M: serde::Serialize>(rows: Vec<M>) -> Result<String, DbErr> {
    serde_json::to_string(&rows).map_err(|e| DbErr::Custom(e.to_string()))
}

fn models<M, A: sea_orm::TryIntoModel<M>>(rows: Vec<A>) -> Result<Vec<M>, DbErr>
where
    M: sea_orm::ModelTrait,
{
    rows.into_iter().map(|r| r.try_into_model()).collect()
}

/// Writes `users` whole inside `txn`, in their order. On SQLite and
/// PostgreSQL: multi-row upserts of the user rows, the old telephony
/// rows deleted set-wise, the new ones inserted many a statement. On
/// MySQL/MariaDB, whose `ON DUPLICATE KEY UPDATE` fires on any unique key,
/// user by user as a single save does.
pub(crate) async fn write_users(
    txn: &DatabaseTransaction,
    namespace: &str,
    users: &[User],
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    if users.is_empty() {
        return Ok(());
    }
    if txn.get_database_backend() == DbBackend::MySql {
        for user in users {
            write_user(txn, namespace, user.user_id.as_str(), rows::to_rows(namespace, user, at)).await?;
        }
        return Ok(());
    }
    let AllRows { user_rows, telephony } = all_rows(namespace, users, at);
    // Old telephony rows first: identities a user of the chunk gives up are free
    // before any user of the chunk takes them. Only users stored already
    // have any (a user created meanwhile by someone else makes an insert
    // below clash: a Conflict, and the chunk is written user by user).
    let mut ids: Vec<String> = Vec::new();
    let all: Vec<&str> = users.iter().map(|u| u.user_id.as_str()).collect();
    for part in all.chunks(IN_LIST) {
        let mut sql = Sql::new(txn.get_database_backend());
        sql.push("SELECT user_id FROM users WHERE namespace = ").bind(namespace).push(" AND ");
        in_list(&mut sql, "user_id", part.iter().copied());
        for row in txn.query_all_raw(sql.build()).await? {
            ids.push(row.try_get("", "user_id")?);
        }
    }
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    for part in ids.chunks(IN_LIST) {
        let mut sql = Sql::new(txn.get_database_backend());
        sql.push("DELETE FROM user_telephony WHERE namespace = ").bind(namespace).push(" AND ");
        in_list(&mut sql, "user_id", part.iter().copied());
        txn.execute_raw(sql.build()).await?;
    }
    if txn.get_database_backend() == DbBackend::Postgres {
        return postgres_insert(txn, user_rows, telephony).await;
    }
    let mut user_rows = user_rows.into_iter().peekable();
    while user_rows.peek().is_some() {
        let part: Vec<_> = user_rows.by_ref().take(USER_ROWS_PER_INSERT).collect();
        users::Entity::insert_many(part).on_conflict(users_on_conflict()).exec_without_returning(txn).await?;
    }
    insert_all::<user_telephony::Entity, _>(txn, telephony).await?;
    Ok(())
}

/// The columns of `users` an upsert updates: all but the key and `created_at`.
const UPDATED_USER_COLUMNS: [&str; 22] = [
    "salutation",
    "first_name",
    "middle_name",
    "last_name",
    "suffix",
    "job_title",
    "pilot",
    "status",
    "work_from_home",
    "organization",
    "contact_center",
    "site",
    "coach_id",
    "supervisor_name",
    "supervisor_id",
    "email",
    "email_norm",
    "activation_date",
    "deactivation_date",
    "updated_at",
    "roles",
    "teams",
];

/// PostgreSQL: each table's rows as one JSON parameter, expanded by
/// `json_populate_recordset` — one short statement a table, instead of
/// thousands of bound parameters to send, parse and plan.
async fn postgres_insert(
    txn: &DatabaseTransaction,
    users: Vec<users::ActiveModel>,
    telephony: Vec<user_telephony::ActiveModel>,
) -> Result<(), DbErr> {
    let update = UPDATED_USER_COLUMNS.iter().map(|c| format!("{c} = EXCLUDED.{c}")).collect::<Vec<_>>().join(", ");
    let statements = [
        (
            format!(
                "INSERT INTO users ({USER_COLUMNS}) SELECT {USER_COLUMNS} FROM json_populate_recordset(NULL::users, $1::json) \
                 ON CONFLICT (namespace, user_id) DO UPDATE SET {update}"
            ),
            json(models::<users::Model, _>(users)?)?,
        ),
        (
            "INSERT INTO user_telephony (namespace, user_id, position, platform, platform_norm, agent_id, extension) \
             SELECT namespace, user_id, position, platform, platform_norm, agent_id, extension \
             FROM json_populate_recordset(NULL::user_telephony, $1::json)"
                .to_owned(),
            json(models::<user_telephony::Model, _>(telephony)?)?,
        ),
    ];
    for (sql, rows) in statements {
        if rows != "[]" {
            txn.execute_raw(sea_orm::Statement::from_sql_and_values(DbBackend::Postgres, sql, [rows.into()])).await?;
        }
    }
    Ok(())
}

async fn insert_all<E, A>(txn: &DatabaseTransaction, rows: Vec<A>) -> Result<(), DbErr>
where
    E: EntityTrait,
    A: sea_orm::ActiveModelTrait<Entity = E> + Send,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let part: Vec<A> = rows.by_ref().take(LIST_ROWS_PER_INSERT).collect();
        E::insert_many(part).exec_without_returning(txn).await?;
    }
    Ok(())
}
