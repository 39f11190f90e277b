//! PostgreSQL's save: one call of `roster_save_user(…)` (migration
//! `m20261204_100400_postgres_save_user`, its body replaced by
//! `m20261205_120000_roles_teams_in_users`), the whole user in one round
//! trip and one implicit transaction.

use sea_orm::{ActiveModelTrait, DbBackend, Statement, Value};

use crate::entity::users;
use crate::rows::UserRows;

/// The function's parameters before the lists, in its order; the last one,
/// `updated_at`, is its `p_at` (also `created_at` of a new row).
const USER_COLUMNS: [users::Column; 22] = {
    use users::Column as C;
    [
        C::Namespace,
        C::UserId,
        C::Salutation,
        C::FirstName,
        C::MiddleName,
        C::LastName,
        C::Suffix,
        C::JobTitle,
        C::Pilot,
        C::Status,
        C::WorkFromHome,
        C::Organization,
        C::ContactCenter,
        C::Site,
        C::CoachId,
        C::SupervisorName,
        C::SupervisorId,
        C::Email,
        C::EmailNorm,
        C::ActivationDate,
        C::DeactivationDate,
        C::UpdatedAt,
    ]
};

const CALL: &str = "SELECT roster_save_user($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
                    $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)";

fn json_list<T>(items: impl Iterator<Item = Option<T>>) -> String
where
    T: serde::Serialize,
{
    serde_json::to_string(&items.collect::<Vec<_>>()).unwrap_or_else(|_| "[]".to_owned())
}

/// The call saving `rows`.
pub(crate) fn save_statement(rows: &UserRows) -> Statement {
    let mut values: Vec<Value> =
        USER_COLUMNS.iter().map(|column| rows.user.get(*column).into_value().unwrap_or(Value::String(None))).collect();
    for list in [&rows.user.roles, &rows.user.teams] {
        values.push(list.try_as_ref().cloned().unwrap_or_else(|| "[]".to_owned()).into());
    }
    values.push(
        json_list(rows.telephony.iter().map(|t| {
            Some((
                t.platform.try_as_ref(),
                t.platform_norm.try_as_ref(),
                t.agent_id.try_as_ref(),
                t.extension.try_as_ref().and_then(Option::as_ref),
            ))
        }))
        .into(),
    );
    Statement::from_sql_and_values(DbBackend::Postgres, CALL, values)
}
