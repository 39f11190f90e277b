use chrono::{DateTime, Utc};
use roster_domain::{FIELD_NAMES, Issue, IssueCode, Namespace, RawValue};

use crate::parse_flag;
use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportKind {
    Single,
    Bulk,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportStatus {
    /// No user has errors, and the request had none.
    Completed,
    /// At least one error, in a user or in the request.
    Failed,
    /// A bulk import still running.
    InProgress,
}

/// What was done to a user — or, on a dry run, what would be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Unchanged,
    /// The user is invalid: nothing is done.
    None,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Unchanged => "unchanged",
            Action::None => "none",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Summary {
    pub received: u64,
    pub processed: u64,
    pub valid: u64,
    pub invalid: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub persisted: u64,
}

/// The outcome for one user of a request. Its serde form is what stores
/// keep (not the HTTP shape, which the HTTP adapter owns).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserOutcome {
    /// Position in the input, from 0.
    pub index: u64,
    /// `userId` as sent, when it was a string.
    pub user_id: Option<String>,
    pub action: Action,
    /// Whether this request wrote the user.
    pub persisted: bool,
    /// For an update: the fields it changes, in contract order.
    #[serde(deserialize_with = "field_names")]
    pub changed_fields: Vec<&'static str>,
    pub errors: Vec<Issue>,
    pub warnings: Vec<Issue>,
}

/// Field names as kept, back as the contract's own `&'static str`s.
fn field_names<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<&'static str>, D::Error> {
    let names = Vec::<String>::deserialize(deserializer)?;
    names
        .iter()
        .map(|n| {
            FIELD_NAMES
                .iter()
                .find(|f| **f == n.as_str())
                .copied()
                .ok_or_else(|| serde::de::Error::custom(format!("unknown field name {n:?}")))
        })
        .collect()
}

impl Summary {
    /// Counts one more processed user.
    pub fn count(&mut self, u: &UserOutcome) {
        self.processed += 1;
        if u.errors.is_empty() {
            self.valid += 1;
        } else {
            self.invalid += 1;
        }
        match u.action {
            Action::Create => self.created += 1,
            Action::Update => self.updated += 1,
            Action::Unchanged => self.unchanged += 1,
            Action::None => {}
        }
        if u.persisted {
            self.persisted += 1;
        }
    }

    /// Adds another summary's counts (but `received`).
    pub fn add(&mut self, other: &Summary) {
        self.processed += other.processed;
        self.valid += other.valid;
        self.invalid += other.invalid;
        self.created += other.created;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.persisted += other.persisted;
    }
}

/// The processing report (SPEC §4).
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub report_id: String,
    pub namespace: String,
    pub kind: ReportKind,
    pub status: ReportStatus,
    pub commit: bool,
    pub force_commit: bool,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub summary: Summary,
    /// Request-level errors (a malformed body, a bad query parameter).
    pub errors: Vec<Issue>,
    pub users: Vec<UserOutcome>,
}

/// What a request to upsert says before its body: the raw namespace and
/// query flags.
pub(crate) struct RequestHead<'a> {
    pub kind: ReportKind,
    pub namespace: &'a str,
    pub commit: Option<&'a str>,
    pub force_commit: Option<&'a str>,
    /// `commit` when absent (SPEC §1: true for one user, false for bulk).
    pub default_commit: bool,
}

impl Report {
    /// A report opened for a request: its flags read (each bad one an error
    /// naming it), its namespace checked (`None`, and an error, when
    /// invalid).
    pub(crate) fn open(head: RequestHead<'_>, report_id: String, now: DateTime<Utc>) -> (Report, Option<Namespace>) {
        let commit = parse_flag("commit", head.commit, head.default_commit);
        let force_commit = parse_flag("forceCommit", head.force_commit, false);
        let mut report = Report {
            report_id,
            namespace: head.namespace.to_owned(),
            kind: head.kind,
            status: ReportStatus::InProgress,
            commit: *commit.as_ref().unwrap_or(&false),
            force_commit: *force_commit.as_ref().unwrap_or(&false),
            created_at: now,
            completed_at: None,
            summary: Summary::default(),
            errors: Vec::new(),
            users: Vec::new(),
        };
        let namespace = Namespace::parse(head.namespace)
            .map_err(|message| {
                report.errors.push(
                    Issue::new("namespace", IssueCode::InvalidValue, message)
                        .with_value(RawValue::String(head.namespace.to_owned())),
                )
            })
            .ok();
        report.errors.extend(commit.err());
        report.errors.extend(force_commit.err());
        (report, namespace)
    }

    /// Recomputes `summary` (but `received`) and `status` from the outcomes.
    pub(crate) fn finish(&mut self, completed_at: DateTime<Utc>) {
        let mut s = Summary { received: self.summary.received, ..Summary::default() };
        for u in &self.users {
            s.count(u);
        }
        self.summary = s;
        self.status = final_status(&self.errors, &s);
        self.completed_at = Some(completed_at);
    }
}

/// `completed` when neither the request nor any user has an error.
pub fn final_status(errors: &[Issue], summary: &Summary) -> ReportStatus {
    if errors.is_empty() && summary.invalid == 0 { ReportStatus::Completed } else { ReportStatus::Failed }
}
