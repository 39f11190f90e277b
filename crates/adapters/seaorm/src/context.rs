//! Everything planning an upsert needs, in one query: the users rows of the
//! user, the users it names and its email's owner; the user's lists; and
//! who holds each of its telephony identities. A UNION ALL of index
//! lookups, one branch per question, all of the same shape:
//! `kind, position, a, b, c` and then the columns of `users` (NULL but for
//! the key in the list branches).

use roster_application::UpsertContextQuery;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, FromQueryResult, Statement};

use crate::entity::users;
use crate::lists::{Lists, Sql, TelephonyRow};
use roster_domain::TelephonyIdentity;

/// The columns of `users`, in the entity's order.
const USER_COLUMNS: &str = "namespace, user_id, salutation, first_name, middle_name, last_name, suffix, \
     job_title, pilot, status, work_from_home, organization, contact_center, site, coach_id, supervisor_name, \
     supervisor_id, email, email_norm, activation_date, deactivation_date, created_at, updated_at";

/// The 21 columns of `users` after the key, as NULLs.
const NO_USER: &str = "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
     NULL, NULL, NULL, NULL, NULL, NULL, NULL";

/// The query; `query.references`, `email` and `identities` may be empty
/// (then it reads one user whole, as `find` does).
pub(crate) fn statement(backend: DbBackend, namespace: &str, query: &UpsertContextQuery) -> Statement {
    let mut sql = Sql::new(backend);
    sql.push("SELECT 'u' AS kind, 0 AS position, NULL AS a, NULL AS b, NULL AS c, ")
        .push(USER_COLUMNS)
        .push(" FROM users WHERE ");
    let ids = std::iter::once(&query.user_id).chain(&query.references);
    for (i, id) in ids.enumerate() {
        if i > 0 {
            sql.push(" OR ");
        }
        sql.push("(namespace = ").bind(namespace).push(" AND user_id = ").bind(id.as_str()).push(")");
    }
    if let Some(email) = &query.email {
        sql.push(" OR (namespace = ").bind(namespace).push(" AND email_norm = ").bind(email.as_str()).push(")");
    }
    let owner = query.user_id.as_str();
    for (kind, columns, table) in [
        ("'r'", "name, NULL, NULL", "user_roles"),
        ("'t'", "name, NULL, NULL", "user_teams"),
        ("'p'", "platform, agent_id, extension", "user_telephony"),
    ] {
        sql.push(" UNION ALL SELECT ")
            .push(kind)
            .push(", position, ")
            .push(columns)
            .push(", namespace, user_id, ")
            .push(NO_USER)
            .push(" FROM ")
            .push(table)
            .push(" WHERE namespace = ")
            .bind(namespace)
            .push(" AND user_id = ")
            .bind(owner);
    }
    if !query.identities.is_empty() {
        sql.push(" UNION ALL SELECT 'i', position, platform_norm, agent_id, NULL, namespace, user_id, ")
            .push(NO_USER)
            .push(" FROM user_telephony WHERE ");
        for (i, identity) in query.identities.iter().enumerate() {
            if i > 0 {
                sql.push(" OR ");
            }
            sql.push("(namespace = ")
                .bind(namespace)
                .push(" AND platform_norm = ")
                .bind(identity.platform.as_str())
                .push(" AND agent_id = ")
                .bind(identity.agent_id.as_str())
                .push(")");
        }
    }
    // No ORDER BY: sorting the union costs SQLite a temporary B-tree per
    // branch; `load` sorts the few list rows.
    sql.build()
}

/// Runs [`statement`]: the users rows found, and the lists of
/// `query.user_id` (empty when it is not stored) with the identities' owners.
pub(crate) async fn load<C: ConnectionTrait>(
    db: &C,
    namespace: &str,
    query: &UpsertContextQuery,
) -> Result<(Vec<users::Model>, Lists), DbErr> {
    let rows = db.query_all_raw(statement(db.get_database_backend(), namespace, query)).await?;
    let mut users_found = Vec::new();
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        let kind: String = row.try_get("", "kind")?;
        if kind == "u" {
            users_found.push(users::Model::from_query_result(&row, "")?);
        } else {
            items.push((kind, row.try_get::<i32>("", "position")?, row));
        }
    }
    // Lists in saved order.
    items.sort_by(|(k1, p1, _), (k2, p2, _)| (k1, p1).cmp(&(k2, p2)));
    let mut lists = Lists::default();
    for (kind, _, row) in items {
        let a: String = row.try_get("", "a")?;
        match kind.as_str() {
            "r" => lists.roles.push(a),
            "t" => lists.teams.push(a),
            "p" => lists.telephony.push(TelephonyRow {
                platform: a,
                agent_id: row.try_get("", "b")?,
                extension: row.try_get("", "c")?,
            }),
            "i" => {
                let identity = TelephonyIdentity { platform: a, agent_id: row.try_get("", "b")? };
                lists.identity_owners.push((identity, row.try_get("", "user_id")?));
            }
            other => return Err(DbErr::Type(format!("unexpected row kind {other:?}"))),
        }
    }
    Ok((users_found, lists))
}
