//! A user's telephony configurations and the owners of telephony
//! identities, as read by [`crate::context`]; and the little SQL builder it
//! uses. (Roles and teams are columns of the user's row.)

use roster_domain::TelephonyIdentity;
use sea_orm::{DbBackend, Statement, Value};

/// One stored telephony configuration, as strings.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct TelephonyRow {
    pub platform: String,
    pub agent_id: String,
    pub extension: Option<String>,
}

/// What [`crate::context::load`] found.
#[derive(Debug, Default)]
pub(crate) struct Lists {
    /// The owner's telephony configurations, in saved order.
    pub telephony: Vec<TelephonyRow>,
    /// `(identity, owner's user id)` for each asked identity somebody holds.
    pub identity_owners: Vec<(TelephonyIdentity, String)>,
}

/// The columns of `users`, in the entity's order.
pub(crate) const USER_COLUMNS: &str = "namespace, user_id, salutation, first_name, middle_name, last_name, suffix, \
     job_title, pilot, status, work_from_home, organization, contact_center, site, coach_id, supervisor_name, \
     supervisor_id, email, email_norm, activation_date, deactivation_date, created_at, updated_at, roles, teams";

/// The 23 columns of `users` after the key, as NULLs: what the rows of a
/// `UNION` that are not users carry in their place.
pub(crate) const NO_USER: &str = "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL";

/// A JSON array of strings.
pub(crate) fn json_strings<'a>(values: impl Iterator<Item = &'a str>) -> String {
    serde_json::to_string(&values.collect::<Vec<_>>()).unwrap_or_else(|_| "[]".to_owned())
}

/// Raw SQL with parameters bound in the backend's placeholder style.
pub(crate) struct Sql {
    backend: DbBackend,
    text: String,
    values: Vec<Value>,
}

impl Sql {
    pub(crate) fn new(backend: DbBackend) -> Self {
        Sql { backend, text: String::with_capacity(1024), values: Vec::new() }
    }

    pub(crate) fn push(&mut self, sql: &str) -> &mut Self {
        self.text.push_str(sql);
        self
    }

    pub(crate) fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
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

    pub(crate) fn build(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }
}
