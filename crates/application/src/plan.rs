//! The pure heart of an upsert: from a draft and what is stored, the user to
//! write, what that does, and what is wrong with it. No I/O.

use chrono::NaiveDate;
use roster_domain::{CalendarDate, Issue, IssueCode, RawValue, Status, User, UserDraft};

use crate::{Action, UpsertContext, UpsertContextQuery};

/// What an upsert would do.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The user as it would be stored (dates resolved); `None` when invalid.
    pub user: Option<User>,
    pub action: Action,
    pub changed_fields: Vec<&'static str>,
    pub errors: Vec<Issue>,
    pub warnings: Vec<Issue>,
}

impl Plan {
    /// What to ask the store before planning `draft`.
    pub fn context_query(draft: &UserDraft) -> UpsertContextQuery {
        let p = &draft.profile;
        let mut references: Vec<_> = [&p.supervisor_id, &p.coach_id].into_iter().flatten().cloned().collect();
        references.dedup();
        UpsertContextQuery {
            user_id: draft.user_id.clone(),
            references,
            email: p.email.as_ref().map(|e| e.normalized()),
            identities: p.telephony_configurations.iter().map(|t| t.identity()).collect(),
        }
    }
}

/// Plans the upsert of `draft`, given what is stored (`ctx`) and the
/// processing date `today` (UTC):
///
/// - `activationDate` absent: the stored date, else `today`.
/// - `Inactive` without `deactivationDate`: the stored date if the user was
///   already inactive, else `today`; `Active` clears it. It must not be
///   before `activationDate` (`date_order`).
/// - An email or telephony identity held by another user: `conflict`,
///   naming that user.
/// - `supervisorId`/`coachId` naming no stored user: `unknown_reference`;
///   `supervisorName` unlike the supervisor's `firstName lastName`
///   (case-insensitive): `name_mismatch`. Both are warnings.
pub fn plan_upsert(draft: UserDraft, ctx: &UpsertContext, today: NaiveDate) -> Plan {
    let today = CalendarDate::from_naive(today);
    let existing = ctx.existing.as_ref();
    let mut errors = Vec::new();
    let mut warnings = Vec::new();

    let activation_date = draft.activation_date.or(existing.map(|e| e.activation_date)).unwrap_or(today);
    let deactivation_date = match draft.profile.status {
        Status::Active => None,
        Status::Inactive => {
            let stored = existing.filter(|e| e.profile.status == Status::Inactive).and_then(|e| e.deactivation_date);
            let resolved = draft.deactivation_date.or(stored).unwrap_or(today);
            if resolved < activation_date {
                let how = match (draft.deactivation_date, draft.activation_date) {
                    (Some(_), _) => "",
                    (None, _) if stored.is_some() => " (the stored deactivationDate)",
                    (None, _) => " (the processing date, as none was given)",
                };
                errors.push(
                    Issue::new(
                        "deactivationDate",
                        IssueCode::DateOrder,
                        format!(
                            "deactivationDate {resolved}{how} is before activationDate {activation_date}; give a deactivationDate on or after it"
                        ),
                    )
                    .with_value(RawValue::String(resolved.to_string())),
                );
            }
            Some(resolved)
        }
    };

    let p = &draft.profile;
    if let (Some(email), Some(owner)) = (&p.email, &ctx.email_owner)
        && owner != &draft.user_id
    {
        errors.push(
            Issue::new(
                "email",
                IssueCode::Conflict,
                format!("email {email} is already used by user '{owner}'", email = email.as_str()),
            )
            .with_value(RawValue::String(email.as_str().to_owned())),
        );
    }
    for (i, t) in p.telephony_configurations.iter().enumerate() {
        let identity = t.identity();
        if let Some((_, owner)) = ctx.identity_owners.iter().find(|(id, _)| *id == identity)
            && owner != &draft.user_id
        {
            errors.push(
                Issue::new(
                    format!("telephonyConfigurations[{i}].agentId"),
                    IssueCode::Conflict,
                    format!("agentId {} on platform {} already belongs to user '{owner}'", t.agent_id, t.platform),
                )
                .with_value(RawValue::String(t.agent_id.as_str().to_owned())),
            );
        }
    }

    let find = |id: &roster_domain::UserId| ctx.references.iter().find(|r| &r.user_id == id);
    for (field, reference) in [("supervisorId", &p.supervisor_id), ("coachId", &p.coach_id)] {
        if let Some(id) = reference
            && id != &draft.user_id
            && find(id).is_none()
        {
            warnings.push(
                Issue::new(
                    field,
                    IssueCode::UnknownReference,
                    format!("{field} '{id}' names no user in this namespace"),
                )
                .with_value(RawValue::String(id.as_str().to_owned())),
            );
        }
    }
    if let (Some(name), Some(sup)) = (&p.supervisor_name, p.supervisor_id.as_ref().and_then(find)) {
        let expected = format!("{} {}", sup.first_name, sup.last_name);
        if !name.as_str().eq_ignore_ascii_case(&expected) {
            warnings.push(
                Issue::new(
                    "supervisorName",
                    IssueCode::NameMismatch,
                    format!("supervisorName '{name}' differs from the supervisor's name '{expected}'"),
                )
                .with_value(RawValue::String(name.as_str().to_owned())),
            );
        }
    }

    if !errors.is_empty() {
        return Plan { user: None, action: Action::None, changed_fields: Vec::new(), errors, warnings };
    }
    let user = User { user_id: draft.user_id, profile: draft.profile, activation_date, deactivation_date };
    let (action, changed_fields) = match existing {
        None => (Action::Create, Vec::new()),
        Some(before) => {
            let changed = user.changed_fields(before);
            if changed.is_empty() { (Action::Unchanged, changed) } else { (Action::Update, changed) }
        }
    };
    Plan { user: Some(user), action, changed_fields, errors, warnings }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::UserRef;
    use roster_domain::{RawValue, UserId, parse_user};

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 4).unwrap()
    }

    fn draft(extra: &[(&str, &str)]) -> UserDraft {
        let s = |v: &str| RawValue::String(v.into());
        let mut f: Vec<(String, RawValue)> = vec![
            ("userId".into(), s("u1")),
            ("firstName".into(), s("Ann")),
            ("lastName".into(), s("Lee")),
            ("jobTitle".into(), s("Agent")),
            ("status".into(), s("Active")),
            ("organization".into(), s("Acme")),
            ("contactCenter".into(), s("North")),
            ("site".into(), s("Oslo")),
            ("roles".into(), RawValue::Array(vec![s("Agent"), s("Trainer")])),
            (
                "telephonyConfigurations".into(),
                RawValue::Array(vec![RawValue::Object(vec![
                    ("platform".into(), s("Genesys")),
                    ("agentId".into(), s("1")),
                ])]),
            ),
        ];
        for (k, v) in extra {
            f.retain(|(key, _)| key != k);
            f.push(((*k).into(), s(v)));
        }
        parse_user(&RawValue::Object(f)).draft.expect("valid draft")
    }

    fn stored(extra: &[(&str, &str)]) -> User {
        plan_upsert(draft(extra), &UpsertContext::default(), today()).user.unwrap()
    }

    fn date(s: &str) -> CalendarDate {
        CalendarDate::parse(s).unwrap()
    }

    #[test]
    fn a_new_user_is_created_with_the_processing_date() {
        let p = plan_upsert(draft(&[]), &UpsertContext::default(), today());
        assert_eq!(p.action, Action::Create);
        let u = p.user.unwrap();
        assert_eq!(u.activation_date, date("2026-12-04"));
        assert_eq!(u.deactivation_date, None);
    }

    #[test]
    fn an_existing_user_keeps_its_activation_date_and_reports_changes() {
        let ctx = UpsertContext { existing: Some(stored(&[("activationDate", "2020-01-01")])), ..Default::default() };
        let p = plan_upsert(draft(&[("jobTitle", "Lead")]), &ctx, today());
        assert_eq!(p.action, Action::Update);
        assert_eq!(p.changed_fields, vec!["jobTitle"]);
        assert_eq!(p.user.unwrap().activation_date, date("2020-01-01"));
    }

    #[test]
    fn same_user_is_unchanged_even_with_lists_reordered() {
        let ctx = UpsertContext { existing: Some(stored(&[])), ..Default::default() };
        let mut d = draft(&[]);
        d.profile.roles.reverse();
        let p = plan_upsert(d, &ctx, today());
        assert_eq!(p.action, Action::Unchanged);
        assert!(p.changed_fields.is_empty());
    }

    #[test]
    fn inactive_dates() {
        // new inactive user: deactivated today
        let p = plan_upsert(
            draft(&[("status", "Inactive"), ("activationDate", "2020-01-01")]),
            &UpsertContext::default(),
            today(),
        );
        assert_eq!(p.user.unwrap().deactivation_date, Some(date("2026-12-04")));
        // already inactive: keeps the stored date
        let before =
            stored(&[("status", "Inactive"), ("activationDate", "2020-01-01"), ("deactivationDate", "2021-05-05")]);
        let ctx = UpsertContext { existing: Some(before), ..Default::default() };
        let p = plan_upsert(draft(&[("status", "Inactive")]), &ctx, today());
        assert_eq!(p.action, Action::Unchanged);
        assert_eq!(p.user.as_ref().unwrap().deactivation_date, Some(date("2021-05-05")));
        // reactivation clears it
        let p = plan_upsert(draft(&[]), &ctx, today());
        assert_eq!(p.user.unwrap().deactivation_date, None);
        assert_eq!(p.changed_fields, vec!["status", "deactivationDate"]);
        // before the stored activation date
        let ctx = UpsertContext { existing: Some(stored(&[("activationDate", "2026-06-01")])), ..Default::default() };
        let p = plan_upsert(draft(&[("status", "Inactive"), ("deactivationDate", "2026-01-01")]), &ctx, today());
        assert_eq!(p.action, Action::None);
        assert_eq!(p.errors[0].code, IssueCode::DateOrder);
    }

    #[test]
    fn conflicts_name_the_other_user() {
        let d = draft(&[("email", "ann@example.com")]);
        let q = Plan::context_query(&d);
        let ctx = UpsertContext {
            email_owner: Some(UserId::parse("u2").unwrap()),
            identity_owners: vec![(q.identities[0].clone(), UserId::parse("u3").unwrap())],
            ..Default::default()
        };
        let p = plan_upsert(d, &ctx, today());
        assert_eq!(p.action, Action::None);
        assert_eq!(p.errors.len(), 2);
        assert_eq!(p.errors[0].field, "email");
        assert!(p.errors[0].message.contains("'u2'"));
        assert_eq!(p.errors[1].field, "telephonyConfigurations[0].agentId");
        assert!(p.errors[1].message.contains("'u3'"));
    }

    #[test]
    fn own_email_is_no_conflict() {
        let d = draft(&[("email", "ann@example.com")]);
        let ctx = UpsertContext { email_owner: Some(UserId::parse("u1").unwrap()), ..Default::default() };
        assert_eq!(plan_upsert(d, &ctx, today()).action, Action::Create);
    }

    #[test]
    fn references_warn() {
        let d = draft(&[("supervisorId", "boss"), ("coachId", "ghost"), ("supervisorName", "Bob Smyth")]);
        let ctx = UpsertContext {
            references: vec![UserRef {
                user_id: UserId::parse("boss").unwrap(),
                first_name: "Bob".into(),
                last_name: "Smith".into(),
            }],
            ..Default::default()
        };
        let p = plan_upsert(d, &ctx, today());
        assert_eq!(p.action, Action::Create);
        let codes: Vec<_> = p.warnings.iter().map(|w| (w.field.as_str(), w.code)).collect();
        assert_eq!(codes, vec![("coachId", IssueCode::UnknownReference), ("supervisorName", IssueCode::NameMismatch)]);
    }
}
