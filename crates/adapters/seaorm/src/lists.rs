//! A user's lists (roles, teams, telephony configurations) and the owners
//! of telephony identities, read in one round trip: a UNION ALL over the
//! three list tables.

use roster_domain::TelephonyIdentity;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};

/// One stored telephony configuration, as strings.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct TelephonyRow {
    pub platform: String,
    pub agent_id: String,
    pub extension: Option<String>,
}

/// What [`load`] found.
#[derive(Debug, Default)]
pub(crate) struct Lists {
    /// The owner's roles, teams and telephony configurations, in saved order.
    pub roles: Vec<String>,
    pub teams: Vec<String>,
    pub telephony: Vec<TelephonyRow>,
    /// `(identity, owner's user id)` for each asked identity somebody holds.
    pub identity_owners: Vec<(TelephonyIdentity, String)>,
}

/// Raw SQL with parameters bound in the backend's placeholder style.
struct Sql {
    backend: DbBackend,
    text: String,
    values: Vec<Value>,
}

impl Sql {
    fn new(backend: DbBackend) -> Self {
        Sql { backend, text: String::with_capacity(1024), values: Vec::new() }
    }

    fn push(&mut self, sql: &str) -> &mut Self {
        self.text.push_str(sql);
        self
    }

    fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.values.push(value.into());
        match self.backend {
            DbBackend::Postgres => {
                self.text.push('$');
                self.text.push_str(&self.values.len().to_string());
            }
            _ => self.text.push('?'),
        }
        self
    }

    fn build(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }
}

/// The query behind [`load`]; `None` when there is nothing to ask.
///
/// Every branch is an index lookup: the list tables' primary keys start with
/// `(namespace, user_id)`, and each identity is a full key of the unique
/// index on `(namespace, platform_norm, agent_id)`.
pub(crate) fn statement(
    backend: DbBackend,
    namespace: &str,
    owner: Option<&str>,
    identities: &[TelephonyIdentity],
) -> Option<Statement> {
    if owner.is_none() && identities.is_empty() {
        return None;
    }
    let mut sql = Sql::new(backend);
    // Columns: kind, position, user_id, a, b, c. The first branch names them.
    if let Some(owner) = owner {
        sql.push("SELECT 'r' AS kind, position, user_id, name AS a, NULL AS b, NULL AS c FROM user_roles WHERE namespace = ")
            .bind(namespace)
            .push(" AND user_id = ")
            .bind(owner)
            .push(" UNION ALL SELECT 't', position, user_id, name, NULL, NULL FROM user_teams WHERE namespace = ")
            .bind(namespace)
            .push(" AND user_id = ")
            .bind(owner)
            .push(" UNION ALL SELECT 'p', position, user_id, platform, agent_id, extension FROM user_telephony WHERE namespace = ")
            .bind(namespace)
            .push(" AND user_id = ")
            .bind(owner);
    }
    if !identities.is_empty() {
        sql.push(if owner.is_some() { " UNION ALL SELECT 'i', " } else { "SELECT 'i' AS kind, " })
            .push("position, user_id, platform_norm AS a, agent_id AS b, NULL AS c FROM user_telephony WHERE ");
        for (i, identity) in identities.iter().enumerate() {
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
    // branch (twice the time of the query); `load` sorts the few rows.
    Some(sql.build())
}

/// Reads, in one query, the lists of `owner` (if given) and who holds each
/// of `identities` in `namespace`.
pub(crate) async fn load<C: ConnectionTrait>(
    db: &C,
    namespace: &str,
    owner: Option<&str>,
    identities: &[TelephonyIdentity],
) -> Result<Lists, DbErr> {
    let Some(statement) = statement(db.get_database_backend(), namespace, owner, identities) else {
        return Ok(Lists::default());
    };
    let mut rows = db
        .query_all_raw(statement)
        .await?
        .into_iter()
        .map(|row| Ok((row.try_get::<String>("", "kind")?, row.try_get::<i32>("", "position")?, row)))
        .collect::<Result<Vec<_>, DbErr>>()?;
    // Lists in saved order.
    rows.sort_by(|(k1, p1, _), (k2, p2, _)| (k1, p1).cmp(&(k2, p2)));
    let mut lists = Lists::default();
    for (kind, _, row) in rows {
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
            other => return Err(DbErr::Type(format!("unexpected list kind {other:?}"))),
        }
    }
    Ok(lists)
}
