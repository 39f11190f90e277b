//! From a raw document to a [`UserDraft`], collecting every issue.

use std::collections::HashMap;

use crate::values::{MAX_ITEMS, MAX_TELEPHONY};
use crate::{
    CalendarDate, Email, Extension, FIELD_NAMES, Issue, IssueCode, Pilot, RawValue, Status, TelephonyConfiguration,
    Text, UserDraft, UserId, UserProfile, ValueError, WorkFromHome,
};

/// What [`parse_user`] made of a raw document.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedUser {
    /// `userId` as sent, when it was a string, so a report can name the user
    /// even when it is invalid.
    pub user_id: Option<String>,
    /// The typed user, present exactly when no issue is an error.
    pub draft: Option<UserDraft>,
    /// Every error and warning found, in field order.
    pub issues: Vec<Issue>,
}

impl ParsedUser {
    pub fn has_errors(&self) -> bool {
        self.issues.iter().any(Issue::is_error)
    }
}

/// Parses one user. Every problem is reported, never only the first; the
/// rules that need no stored data (duplicates, self references, the
/// deactivation date's status and order) are checked here.
pub fn parse_user(raw: &RawValue) -> ParsedUser {
    let RawValue::Object(entries) = raw else {
        return ParsedUser {
            user_id: None,
            draft: None,
            issues: vec![Issue::new(
                "",
                IssueCode::InvalidType,
                format!("a user must be a JSON object, got {}", raw.kind()),
            )],
        };
    };
    let mut r = Reader { fields: entries, issues: Vec::new() };

    let user_id_raw = r.get("userId").and_then(RawValue::as_str).map(str::to_owned);
    let user_id = r.field("userId", true, UserId::parse);
    let salutation = r.field("salutation", false, Text::parse);
    let first_name = r.field("firstName", true, Text::parse);
    let middle_name = r.field("middleName", false, Text::parse);
    let last_name = r.field("lastName", true, Text::parse);
    let suffix = r.field("suffix", false, Text::parse);
    let job_title = r.field("jobTitle", true, Text::parse);
    let pilot = r.field("pilot", false, Pilot::parse);
    let status = r.field("status", true, Status::parse);
    let work_from_home = r.field("workFromHome", false, WorkFromHome::parse);
    let organization = r.field("organization", true, Text::parse);
    let contact_center = r.field("contactCenter", true, Text::parse);
    let site = r.field("site", true, Text::parse);
    let roles = r.text_list("roles", true);
    let teams = r.text_list("teams", false);
    let telephony = r.telephony();
    let coach_id = r.field("coachId", false, UserId::parse);
    let supervisor_name = r.field("supervisorName", false, Text::parse);
    let supervisor_id = r.field("supervisorId", false, UserId::parse);
    let email = r.field("email", false, Email::parse);
    let activation_date = r.field("activationDate", false, CalendarDate::parse);
    let deactivation_date = r.field("deactivationDate", false, CalendarDate::parse);

    if let Some(id) = &user_id {
        for (name, reference) in [("coachId", &coach_id), ("supervisorId", &supervisor_id)] {
            if reference.as_ref() == Some(id) {
                r.issues.push(
                    Issue::new(name, IssueCode::SelfReference, format!("{name} must not be the user's own userId"))
                        .with_value(RawValue::from(id.as_str())),
                );
            }
        }
    }
    if let (Some(Status::Active), Some(d)) = (status, deactivation_date) {
        r.issues.push(
            Issue::new(
                "deactivationDate",
                IssueCode::InvalidValue,
                "deactivationDate is allowed only when status is Inactive; remove it or set status to Inactive",
            )
            .with_value(RawValue::String(d.to_string())),
        );
    }
    if let (Some(a), Some(d)) = (activation_date, deactivation_date)
        && d < a
    {
        r.issues.push(
            Issue::new(
                "deactivationDate",
                IssueCode::DateOrder,
                format!("deactivationDate {d} is before activationDate {a}"),
            )
            .with_value(RawValue::String(d.to_string())),
        );
    }
    for (key, _) in entries {
        if !FIELD_NAMES.contains(&key.as_str()) {
            r.issues.push(unknown_field(key, key, &FIELD_NAMES));
        }
    }

    let has_errors = r.issues.iter().any(Issue::is_error);
    let draft = if has_errors {
        None
    } else {
        (|| {
            Some(UserDraft {
                user_id: user_id?,
                profile: UserProfile {
                    salutation,
                    first_name: first_name?,
                    middle_name,
                    last_name: last_name?,
                    suffix,
                    job_title: job_title?,
                    pilot,
                    status: status?,
                    work_from_home,
                    organization: organization?,
                    contact_center: contact_center?,
                    site: site?,
                    roles: roles?,
                    teams: teams?,
                    telephony_configurations: telephony?,
                    coach_id,
                    supervisor_name,
                    supervisor_id,
                    email,
                },
                activation_date,
                deactivation_date,
            })
        })()
    };
    ParsedUser { user_id: user_id_raw, draft, issues: r.issues }
}

fn unknown_field(path: &str, key: &str, known: &[&str]) -> Issue {
    let hint = known
        .iter()
        .find(|k| k.eq_ignore_ascii_case(key))
        .map(|k| format!("; did you mean '{k}'?"))
        .unwrap_or_default();
    Issue::new(path, IssueCode::UnknownField, format!("unknown field '{key}' is ignored{hint}"))
}

struct Reader<'a> {
    /// The object's entries; a handful, so a linear search beats hashing.
    fields: &'a [(String, RawValue)],
    issues: Vec<Issue>,
}

impl<'a> Reader<'a> {
    /// The value of a field, `None` when absent or null.
    fn get(&self, name: &str) -> Option<&'a RawValue> {
        // the last of repeated keys wins, as in JSON parsers
        self.fields.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v).filter(|v| !matches!(v, RawValue::Null))
    }

    /// A string field parsed by `parse`. An optional field that is absent,
    /// null or blank is `None` without an issue.
    fn field<T>(&mut self, name: &str, required: bool, parse: fn(&str) -> Result<T, ValueError>) -> Option<T> {
        match self.get(name) {
            None => {
                if required {
                    self.issues.push(Issue::new(name, IssueCode::Required, format!("{name} is required")));
                }
                None
            }
            Some(v) => string_value(&|| name.to_owned(), v, required, parse, &mut self.issues),
        }
    }

    fn text_list(&mut self, name: &str, required: bool) -> Option<Vec<Text>> {
        let items = self.list(name, required, MAX_ITEMS)?;
        let mut out = Vec::with_capacity(items.len());
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let path = || format!("{name}[{i}]");
            match string_value(&path, item, true, Text::parse, &mut self.issues) {
                Some(t) => {
                    if let Some(j) = seen.insert(t.as_str().to_lowercase(), i) {
                        let path = path();
                        self.issues.push(
                            Issue::new(
                                &path,
                                IssueCode::Duplicate,
                                format!("{path} repeats {name}[{j}] (case-insensitive)"),
                            )
                            .with_value(item.clone()),
                        );
                        seen.insert(t.as_str().to_lowercase(), j);
                        ok = false;
                    }
                    out.push(t);
                }
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// A list field; `None` (with the issue) when it can't be read as one.
    fn list(&mut self, name: &str, required: bool, max: usize) -> Option<&'a [RawValue]> {
        let value = match self.get(name) {
            None if required => {
                self.issues.push(Issue::new(
                    name,
                    IssueCode::Required,
                    format!("{name} is required: give at least one"),
                ));
                return None;
            }
            None => return Some(&[]),
            Some(v) => v,
        };
        let RawValue::Array(items) = value else {
            self.issues.push(
                Issue::new(name, IssueCode::InvalidType, format!("{name} must be an array, got {}", value.kind()))
                    .with_value(value.clone()),
            );
            return None;
        };
        if required && items.is_empty() {
            self.issues.push(Issue::new(name, IssueCode::Required, format!("{name} must hold at least one item")));
            return None;
        }
        if items.len() > max {
            self.issues.push(Issue::new(
                name,
                IssueCode::TooMany,
                format!("{name} holds {} items; at most {max} are allowed", items.len()),
            ));
            return None;
        }
        Some(items)
    }

    fn telephony(&mut self) -> Option<Vec<TelephonyConfiguration>> {
        const NAME: &str = "telephonyConfigurations";
        const KNOWN: [&str; 3] = ["platform", "agentId", "extension"];
        let items = self.list(NAME, true, MAX_TELEPHONY)?;
        let mut out = Vec::with_capacity(items.len());
        let mut seen = HashMap::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let path = || format!("{NAME}[{i}]");
            let RawValue::Object(entries) = item else {
                let path = path();
                self.issues.push(
                    Issue::new(&path, IssueCode::InvalidType, format!("{path} must be an object, got {}", item.kind()))
                        .with_value(item.clone()),
                );
                ok = false;
                continue;
            };
            let mut inner = Reader { fields: entries, issues: Vec::new() };
            let platform = inner.field_at(&path, "platform", true, Text::parse);
            let agent_id = inner.field_at(&path, "agentId", true, Text::parse);
            let extension = inner.field_at(&path, "extension", false, Extension::parse);
            for (key, _) in entries {
                if !KNOWN.contains(&key.as_str()) {
                    inner.issues.push(unknown_field(&format!("{}.{key}", path()), key, &KNOWN));
                }
            }
            self.issues.append(&mut inner.issues);
            match (platform, agent_id) {
                (Some(platform), Some(agent_id)) => {
                    let config = TelephonyConfiguration { platform, agent_id, extension };
                    if let Some(j) = seen.insert(config.identity(), i) {
                        let path = path();
                        self.issues.push(
                            Issue::new(
                                &path,
                                IssueCode::Duplicate,
                                format!("{path} has the same platform and agentId as {NAME}[{j}]"),
                            )
                            .with_value(item.clone()),
                        );
                        seen.insert(config.identity(), j);
                        ok = false;
                    }
                    out.push(config);
                }
                _ => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn field_at<T>(
        &mut self,
        parent: &dyn Fn() -> String,
        name: &str,
        required: bool,
        parse: fn(&str) -> Result<T, ValueError>,
    ) -> Option<T> {
        let path = || format!("{}.{name}", parent());
        match self.get(name) {
            None => {
                if required {
                    let path = path();
                    self.issues.push(Issue::new(&path, IssueCode::Required, format!("{path} is required")));
                }
                None
            }
            Some(v) => string_value(&path, v, required, parse, &mut self.issues),
        }
    }
}

/// `value` parsed as a string field; `path` makes the field's path, which
/// is only needed (and only built) when there is an issue.
fn string_value<T>(
    path: &dyn Fn() -> String,
    value: &RawValue,
    required: bool,
    parse: fn(&str) -> Result<T, ValueError>,
    issues: &mut Vec<Issue>,
) -> Option<T> {
    let RawValue::String(s) = value else {
        let path = path();
        issues.push(
            Issue::new(&path, IssueCode::InvalidType, format!("{path} must be a string, got {}", value.kind()))
                .with_value(value.clone()),
        );
        return None;
    };
    if !required && s.trim().is_empty() {
        return None;
    }
    match parse(s) {
        Ok(v) => Some(v),
        Err(e) => {
            let path = path();
            issues.push(Issue::new(&path, e.code, format!("{path} {}", e.message)).with_value(value.clone()));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> RawValue {
        RawValue::String(v.to_owned())
    }

    fn valid() -> Vec<(String, RawValue)> {
        vec![
            ("userId".into(), s("a-1001")),
            ("firstName".into(), s("Ann")),
            ("lastName".into(), s("Lee")),
            ("jobTitle".into(), s("Agent")),
            ("status".into(), s("Active")),
            ("organization".into(), s("Acme")),
            ("contactCenter".into(), s("North")),
            ("site".into(), s("Oslo")),
            ("roles".into(), RawValue::Array(vec![s("Agent")])),
            (
                "telephonyConfigurations".into(),
                RawValue::Array(vec![RawValue::Object(vec![
                    ("platform".into(), s("Genesys Cloud")),
                    ("agentId".into(), s("10042")),
                ])]),
            ),
        ]
    }

    fn with(mut fields: Vec<(String, RawValue)>, key: &str, v: RawValue) -> RawValue {
        fields.retain(|(k, _)| k != key);
        fields.push((key.into(), v));
        RawValue::Object(fields)
    }

    fn codes(p: &ParsedUser) -> Vec<(String, &'static str)> {
        p.issues.iter().map(|i| (i.field.clone(), i.code.as_str())).collect()
    }

    #[test]
    fn a_valid_user_parses() {
        let p = parse_user(&RawValue::Object(valid()));
        assert_eq!(p.issues, vec![]);
        let d = p.draft.unwrap();
        assert_eq!(d.user_id.as_str(), "a-1001");
        assert_eq!(d.profile.telephony_configurations[0].identity().platform, "genesys cloud");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let raw = RawValue::Object(vec![
            ("userId".into(), s(" x")),
            ("firstName".into(), s("  ")),
            ("lastName".into(), RawValue::Number("7".into())),
            ("status".into(), s("active")),
            ("roles".into(), RawValue::Array(vec![])),
            ("teams".into(), RawValue::Array(vec![s("A"), s("a")])),
            ("activationDate".into(), s("2023-02-30")),
            ("emial".into(), s("x@y.z")),
        ]);
        let p = parse_user(&raw);
        assert!(p.draft.is_none());
        let c = codes(&p);
        for expected in [
            ("userId", "invalid_format"),
            ("firstName", "blank"),
            ("lastName", "invalid_type"),
            ("jobTitle", "required"),
            ("status", "invalid_value"),
            ("organization", "required"),
            ("roles", "required"),
            ("teams[1]", "duplicate"),
            ("telephonyConfigurations", "required"),
            ("activationDate", "invalid_date"),
            ("emial", "unknown_field"),
        ] {
            assert!(c.contains(&(expected.0.to_string(), expected.1)), "missing {expected:?} in {c:?}");
        }
    }

    #[test]
    fn not_an_object() {
        let p = parse_user(&RawValue::Array(vec![]));
        assert_eq!(codes(&p), vec![("".to_string(), "invalid_type")]);
    }

    #[test]
    fn self_references_and_date_rules() {
        let mut f = valid();
        f.push(("coachId".into(), s("a-1001")));
        f.push(("supervisorId".into(), s("a-1001")));
        f.push(("deactivationDate".into(), s("2024-01-01")));
        f.push(("activationDate".into(), s("2024-02-01")));
        let p = parse_user(&RawValue::Object(f));
        let c = codes(&p);
        assert!(c.contains(&("coachId".into(), "self_reference")));
        assert!(c.contains(&("supervisorId".into(), "self_reference")));
        assert!(c.contains(&("deactivationDate".into(), "invalid_value")));
        assert!(c.contains(&("deactivationDate".into(), "date_order")));
    }

    #[test]
    fn telephony_rules() {
        let tc = |p: &str, a: &str| RawValue::Object(vec![("platform".into(), s(p)), ("agentId".into(), s(a))]);
        let raw = with(
            valid(),
            "telephonyConfigurations",
            RawValue::Array(vec![
                tc("Genesys", "1"),
                tc("genesys", "1"),
                RawValue::Object(vec![
                    ("platform".into(), s("X")),
                    ("extension".into(), s("12a")),
                    ("agentid".into(), s("2")),
                ]),
                RawValue::Number("3".into()),
            ]),
        );
        let c = codes(&parse_user(&raw));
        assert!(c.contains(&("telephonyConfigurations[1]".into(), "duplicate")));
        assert!(c.contains(&("telephonyConfigurations[2].agentId".into(), "required")));
        assert!(c.contains(&("telephonyConfigurations[2].extension".into(), "invalid_format")));
        assert!(c.contains(&("telephonyConfigurations[2].agentid".into(), "unknown_field")));
        assert!(c.contains(&("telephonyConfigurations[3]".into(), "invalid_type")));
    }

    #[test]
    fn limits() {
        let many: Vec<RawValue> = (0..101).map(|i| s(&format!("r{i}"))).collect();
        let c = codes(&parse_user(&with(valid(), "roles", RawValue::Array(many))));
        assert_eq!(c, vec![("roles".to_string(), "too_many")]);
        let c = codes(&parse_user(&with(valid(), "firstName", s(&"x".repeat(256)))));
        assert_eq!(c, vec![("firstName".to_string(), "too_long")]);
    }

    #[test]
    fn optional_blank_and_null_are_absent() {
        let mut f = valid();
        f.push(("middleName".into(), s("  ")));
        f.push(("email".into(), RawValue::Null));
        let p = parse_user(&RawValue::Object(f));
        assert_eq!(p.issues, vec![]);
        let d = p.draft.unwrap();
        assert_eq!(d.profile.middle_name, None);
        assert_eq!(d.profile.email, None);
    }

    #[test]
    fn unknown_fields_are_warnings_only() {
        let p = parse_user(&with(valid(), "firstname", s("x")));
        assert!(p.draft.is_some());
        assert_eq!(p.issues.len(), 1);
        assert!(p.issues[0].message.contains("did you mean 'firstName'"));
    }
}
