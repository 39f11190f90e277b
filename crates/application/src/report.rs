use chrono::{DateTime, Utc};
use roster_domain::Issue;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    Single,
    Bulk,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportStatus {
    /// No user has errors, and the request had none.
    Completed,
    /// At least one error, in a user or in the request.
    Failed,
    /// A bulk import still running.
    InProgress,
}

/// What was done to a user — or, on a dry run, what would be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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

/// The outcome for one user of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct UserOutcome {
    /// Position in the input, from 0.
    pub index: u64,
    /// `userId` as sent, when it was a string.
    pub user_id: Option<String>,
    pub action: Action,
    /// Whether this request wrote the user.
    pub persisted: bool,
    /// For an update: the fields it changes, in contract order.
    pub changed_fields: Vec<&'static str>,
    pub errors: Vec<Issue>,
    pub warnings: Vec<Issue>,
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

impl Report {
    /// Recomputes `summary` (but `received`) and `status` from the outcomes.
    pub(crate) fn finish(&mut self, completed_at: DateTime<Utc>) {
        let mut s = Summary { received: self.summary.received, ..Summary::default() };
        for u in &self.users {
            s.processed += 1;
            if u.errors.is_empty() {
                s.valid += 1;
            } else {
                s.invalid += 1;
            }
            match u.action {
                Action::Create => s.created += 1,
                Action::Update => s.updated += 1,
                Action::Unchanged => s.unchanged += 1,
                Action::None => {}
            }
            if u.persisted {
                s.persisted += 1;
            }
        }
        self.summary = s;
        self.status =
            if self.errors.is_empty() && s.invalid == 0 { ReportStatus::Completed } else { ReportStatus::Failed };
        self.completed_at = Some(completed_at);
    }
}
