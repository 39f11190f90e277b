//! Everything planning an upsert needs, in one query: the users rows of the
//! user (its roles and teams included), the users it names and its
//! email's owner; the user's telephony configurations; and who holds each
//! of its telephony identities. A UNION ALL of index
//! lookups, one branch per question, all of the same shape:
//! `kind, position, a, b, c` and then the columns of `users` (NULL but for
//! the key in the telephony branches).

use roster_application::UpsertContextQuery;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, FromQueryResult, Statement};

use crate::entity::users;
use crate::lists::{Lists, NO_USER, Sql, TelephonyRow, USER_COLUMNS};
use roster_domain::TelephonyIdentity;

/// The query; `query.references`, `email` and `identities` may be empty
/// (then it reads one user whole, as `find` does).
pub(crate) fn statement(backend: DbBackend, namespace: &str, query: &UpsertContextQuery) -> Statement {
    let mut sql = Sql::new(backend);
    // One branch per key, never an OR: with an OR a planner may pick a
    // range over the namespace (seen on PostgreSQL while its statistics
    // still described a small table). A user found twice (by id and by
    // email) is read once by `load`.
    let users_by = |sql: &mut Sql, first: bool, column: &str, value: &str| {
        if !first {
            sql.push(" UNION ALL ");
        }
        sql.push(if first {
            "SELECT 'u' AS kind, 0 AS position, NULL AS a, NULL AS b, NULL AS c, "
        } else {
            "SELECT 'u', 0, NULL, NULL, NULL, "
        })
        .push(USER_COLUMNS)
        .push(" FROM users WHERE namespace = ")
        .bind(namespace)
        .push(" AND ")
        .push(column)
        .push(" = ")
        .bind(value.to_owned());
    };
    let ids = std::iter::once(&query.user_id).chain(&query.references);
    for (i, id) in ids.enumerate() {
        users_by(&mut sql, i == 0, "user_id", id.as_str());
    }
    if let Some(email) = &query.email {
        users_by(&mut sql, false, "email_norm", email.as_str());
    }
    let owner = query.user_id.as_str();
    sql.push(" UNION ALL SELECT 'p', position, platform, agent_id, extension, namespace, user_id, ")
        .push(NO_USER)
        .push(" FROM user_telephony WHERE namespace = ")
        .bind(namespace)
        .push(" AND user_id = ")
        .bind(owner);
    for identity in &query.identities {
        sql.push(" UNION ALL SELECT 'i', position, platform_norm, agent_id, NULL, namespace, user_id, ")
            .push(NO_USER)
            .push(" FROM user_telephony WHERE namespace = ")
            .bind(namespace)
            .push(" AND platform_norm = ")
            .bind(identity.platform.as_str())
            .push(" AND agent_id = ")
            .bind(identity.agent_id.as_str());
    }
    // No ORDER BY: sorting the union costs SQLite a temporary B-tree per
    // branch; `load` sorts the few list rows.
    sql.build()
}

/// Runs [`statement`]: the users rows found, and the telephony of
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
            let user = users::Model::from_query_result(&row, "")?;
            if !users_found.iter().any(|u: &users::Model| u.user_id == user.user_id) {
                users_found.push(user);
            }
        } else {
            items.push((kind, row.try_get::<i32>("", "position")?, row));
        }
    }
    // Telephony in saved order.
    items.sort_by(|(k1, p1, _), (k2, p2, _)| (k1, p1).cmp(&(k2, p2)));
    let mut lists = Lists::default();
    for (kind, _, row) in items {
        let a: String = row.try_get("", "a")?;
        match kind.as_str() {
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
