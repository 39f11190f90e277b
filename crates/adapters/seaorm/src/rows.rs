//! Conversions at the seam: domain [`User`] ⇄ persistence rows.

use chrono::{DateTime, Utc};
use roster_application::RepositoryError;
use roster_domain::{
    CalendarDate, Email, Extension, Pilot, Status, TelephonyConfiguration, Text, User, UserId, UserProfile,
    WorkFromHome,
};
use sea_orm::ActiveValue::{NotSet, Set};

use crate::entity::{user_telephony, users};
use crate::error::{corrupt, corrupt_value};
use crate::lists::{Lists, TelephonyRow, json_strings};

/// Everything `save` writes for one user.
pub(crate) struct UserRows {
    /// The user's row, its roles and teams included.
    pub user: users::ActiveModel,
    pub telephony: Vec<user_telephony::ActiveModel>,
}

/// A list index as stored (lists hold at most a few hundred items).
fn position(i: usize) -> i32 {
    i32::try_from(i).unwrap_or(i32::MAX)
}

fn opt_text(t: &Option<Text>) -> Option<String> {
    t.as_ref().map(|t| t.as_str().to_owned())
}

/// A list column read back, each item through the domain's parser.
fn list(column: &'static str, json: &str) -> Result<Vec<Text>, RepositoryError> {
    let items: Vec<String> =
        serde_json::from_str(json).map_err(|e| corrupt_value(column, format!("not a JSON array of strings: {e}")))?;
    items.iter().map(|item| text(column, item)).collect()
}

pub(crate) fn to_rows(namespace: &str, user: &User, at: DateTime<Utc>) -> UserRows {
    let p = &user.profile;
    let ns = || Set(namespace.to_owned());
    let id = || Set(user.user_id.as_str().to_owned());
    UserRows {
        user: users::ActiveModel {
            namespace: ns(),
            user_id: id(),
            salutation: Set(opt_text(&p.salutation)),
            first_name: Set(p.first_name.as_str().to_owned()),
            middle_name: Set(opt_text(&p.middle_name)),
            last_name: Set(p.last_name.as_str().to_owned()),
            suffix: Set(opt_text(&p.suffix)),
            job_title: Set(p.job_title.as_str().to_owned()),
            pilot: Set(p.pilot.map(|v| v.as_str().to_owned())),
            status: Set(p.status.as_str().to_owned()),
            work_from_home: Set(p.work_from_home.map(|v| v.as_str().to_owned())),
            organization: Set(p.organization.as_str().to_owned()),
            contact_center: Set(p.contact_center.as_str().to_owned()),
            site: Set(p.site.as_str().to_owned()),
            coach_id: Set(p.coach_id.as_ref().map(|v| v.as_str().to_owned())),
            supervisor_name: Set(opt_text(&p.supervisor_name)),
            supervisor_id: Set(p.supervisor_id.as_ref().map(|v| v.as_str().to_owned())),
            email: Set(p.email.as_ref().map(|e| e.as_str().to_owned())),
            email_norm: Set(p.email.as_ref().map(Email::normalized)),
            activation_date: Set(user.activation_date.naive()),
            deactivation_date: Set(user.deactivation_date.map(CalendarDate::naive)),
            created_at: Set(at),
            updated_at: Set(at),
            roles: Set(json_strings(p.roles.iter().map(Text::as_str))),
            teams: Set(json_strings(p.teams.iter().map(Text::as_str))),
        },
        telephony: p
            .telephony_configurations
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let identity = c.identity();
                user_telephony::ActiveModel {
                    namespace: ns(),
                    user_id: id(),
                    position: Set(position(i)),
                    platform: Set(c.platform.as_str().to_owned()),
                    platform_norm: Set(identity.platform),
                    agent_id: Set(identity.agent_id),
                    extension: Set(c.extension.as_ref().map(|e| e.as_str().to_owned())),
                }
            })
            .collect(),
    }
}

/// The columns an update of the user row sets: all but the key and
/// `created_at`.
pub(crate) fn for_update(mut user: users::ActiveModel) -> users::ActiveModel {
    user.namespace = NotSet;
    user.user_id = NotSet;
    user.created_at = NotSet;
    user
}

fn text(column: &'static str, s: &str) -> Result<Text, RepositoryError> {
    Text::parse(s).map_err(corrupt(column))
}

fn opt<T>(
    column: &'static str,
    s: Option<&str>,
    parse: fn(&str) -> Result<T, roster_domain::ValueError>,
) -> Result<Option<T>, RepositoryError> {
    s.map(|s| parse(s).map_err(corrupt(column))).transpose()
}

pub(crate) fn user_id(s: &str) -> Result<UserId, RepositoryError> {
    UserId::parse(s).map_err(corrupt("user_id"))
}

fn telephony(row: TelephonyRow) -> Result<TelephonyConfiguration, RepositoryError> {
    Ok(TelephonyConfiguration {
        platform: text("platform", &row.platform)?,
        agent_id: text("agent_id", &row.agent_id)?,
        extension: opt("extension", row.extension.as_deref(), Extension::parse)?,
    })
}

/// Rebuilds a user from its row and its telephony configurations, through the domain's
/// parsers: what does not parse is [`RepositoryError::Internal`].
pub(crate) fn to_user(row: users::Model, lists: Lists) -> Result<User, RepositoryError> {
    Ok(User {
        user_id: user_id(&row.user_id)?,
        profile: UserProfile {
            salutation: opt("salutation", row.salutation.as_deref(), Text::parse)?,
            first_name: text("first_name", &row.first_name)?,
            middle_name: opt("middle_name", row.middle_name.as_deref(), Text::parse)?,
            last_name: text("last_name", &row.last_name)?,
            suffix: opt("suffix", row.suffix.as_deref(), Text::parse)?,
            job_title: text("job_title", &row.job_title)?,
            pilot: opt("pilot", row.pilot.as_deref(), Pilot::parse)?,
            status: Status::parse(&row.status).map_err(corrupt("status"))?,
            work_from_home: opt("work_from_home", row.work_from_home.as_deref(), WorkFromHome::parse)?,
            organization: text("organization", &row.organization)?,
            contact_center: text("contact_center", &row.contact_center)?,
            site: text("site", &row.site)?,
            roles: list("roles", &row.roles)?,
            teams: list("teams", &row.teams)?,
            telephony_configurations: lists.telephony.into_iter().map(telephony).collect::<Result<_, _>>()?,
            coach_id: opt("coach_id", row.coach_id.as_deref(), UserId::parse)?,
            supervisor_name: opt("supervisor_name", row.supervisor_name.as_deref(), Text::parse)?,
            supervisor_id: opt("supervisor_id", row.supervisor_id.as_deref(), UserId::parse)?,
            email: opt("email", row.email.as_deref(), Email::parse)?,
        },
        activation_date: CalendarDate::from_naive(row.activation_date),
        deactivation_date: row.deactivation_date.map(CalendarDate::from_naive),
    })
}
