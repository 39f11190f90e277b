//! `UpsertUser`: create or update one user, or try it (`commit=false`).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use roster_domain::{Issue, IssueCode, Namespace, RawValue, User, UserDraft, parse_user};

use crate::coalesce::Coalesced;
use crate::report::RequestHead;
use crate::{
    Action, Clock, IdGenerator, KeepReports, Plan, Report, ReportKind, RepositoryError, UpsertContext,
    UpsertContextQuery, UserOutcome, UserRepository, plan_upsert,
};

/// The body of an upsert request, as the driving adapter could read it.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// A well-formed document (not necessarily an object).
    Document(RawValue),
    /// Not a document at all; the message says where it broke.
    Malformed(String),
}

/// An upsert as received: raw strings, checked here.
#[derive(Debug, Clone, PartialEq)]
pub struct UpsertRequest {
    pub namespace: String,
    /// The `commit` query parameter as sent, if sent.
    pub commit: Option<String>,
    /// The `forceCommit` query parameter as sent, if sent.
    pub force_commit: Option<String>,
    pub body: Body,
}

#[derive(Debug, thiserror::Error)]
pub enum UpsertError {
    /// The store could not be read or written; nothing was written.
    #[error("the store is unavailable")]
    Unavailable(#[source] RepositoryError),
}

/// How often a write lost to a concurrent one is planned and tried again.
const SAVE_ATTEMPTS: usize = 3;

pub struct UpsertUser {
    repository: Arc<dyn UserRepository>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    reports: Option<KeepReports>,
    coalesced: Option<Coalesced>,
    /// Reports of written users kept in the users' own transactions.
    reports_with_users: bool,
}

impl UpsertUser {
    pub fn new(repository: Arc<dyn UserRepository>, clock: Arc<dyn Clock>, ids: Arc<dyn IdGenerator>) -> Self {
        UpsertUser { repository, clock, ids, reports: None, coalesced: None, reports_with_users: false }
    }

    /// Keeps every report of a valid namespace, so `GET
    /// …/users/report/{reportId}` answers for it too.
    pub fn keeping_reports(mut self, reports: KeepReports) -> Self {
        self.reports = Some(reports);
        self
    }

    /// Reads and writes concurrent upserts together: the upserts arriving
    /// while a read (or a write) is under way share the next one — one
    /// `batch_context` for their contexts, one `save_each` for their users
    /// (group commit). Each user is still planned on its own and written
    /// whole or not at all; a store that refuses a batch's write writes its
    /// users one by one. For stores a round trip away (PostgreSQL, MariaDB),
    /// where a read or a commit per upsert would be the bottleneck. Call
    /// from within a tokio runtime.
    pub fn coalescing(mut self) -> Self {
        self.coalesced = Some(Coalesced::start(self.repository.clone(), self.clock.clone()));
        self
    }

    /// With [`coalescing`](Self::coalescing), for a repository that is
    /// also the [`ReportStore`](crate::ReportStore) the reports are kept
    /// in: the report of a user about to be written goes with its write
    /// ([`UserRepository::save_each_reporting`]) — kept if and only if the
    /// write commits, with one commit for both and no round trip of its
    /// own. Reports of requests that write nothing (dry runs, invalid users)
    /// are kept as before, and so are all of them on a repository that
    /// answers `None`.
    pub fn reports_with_users(mut self) -> Self {
        self.reports_with_users = true;
        self
    }

    async fn context(
        &self,
        namespace: &Namespace,
        query: &UpsertContextQuery,
    ) -> Result<UpsertContext, RepositoryError> {
        match &self.coalesced {
            Some(coalesced) => coalesced.upsert_context(namespace, query).await,
            None => self.repository.upsert_context(namespace, query).await,
        }
    }

    /// Writes `user`; `Ok(true)` when `report` was kept with it.
    async fn save(
        &self,
        namespace: &Namespace,
        user: &User,
        at: DateTime<Utc>,
        report: Option<&Report>,
    ) -> Result<bool, RepositoryError> {
        match &self.coalesced {
            Some(coalesced) => coalesced.save(namespace, user, report.cloned()).await,
            None => self.repository.save(namespace, user, at).await.map(|()| false),
        }
    }

    /// Validates, plans and — when committing — writes one user, and says
    /// what happened in a report. Every problem with the request or the user
    /// is in the report; only a failing store is an `Err`.
    #[tracing::instrument(skip_all, fields(namespace = %request.namespace))]
    pub async fn execute(&self, request: UpsertRequest) -> Result<Report, UpsertError> {
        let now = self.clock.now();
        let head = RequestHead {
            kind: ReportKind::Single,
            namespace: &request.namespace,
            commit: request.commit.as_deref(),
            force_commit: request.force_commit.as_deref(),
            default_commit: true,
        };
        let (mut report, namespace) = Report::open(head, self.ids.new_id(), now);
        let raw = match request.body {
            Body::Malformed(message) => {
                report.errors.push(Issue::new("", IssueCode::MalformedJson, message));
                None
            }
            Body::Document(raw @ RawValue::Object(_)) => Some(raw),
            Body::Document(other) => {
                report.errors.push(Issue::new(
                    "",
                    IssueCode::MalformedJson,
                    format!("the body must be a JSON object holding one user, got {}", other.kind()),
                ));
                None
            }
        };
        let (Some(namespace), Some(raw), true) = (&namespace, raw, report.errors.is_empty()) else {
            report.finish(self.clock.now());
            if namespace.is_some() {
                self.keep(&report).await;
            }
            return Ok(report);
        };

        report.summary.received = 1;
        let (outcome, kept) = self.upsert(namespace, &raw, &report).await?;
        if let Some(kept) = kept {
            // Kept with the user's write: the answer as written.
            return Ok(kept);
        }
        report.users.push(outcome);
        report.finish(self.clock.now());
        self.keep(&report).await;
        Ok(report)
    }

    async fn keep(&self, report: &Report) {
        if let Some(reports) = &self.reports
            && !reports.keep(report.clone()).await
        {
            // The user's fate is decided and answered; only the copy for
            // later reading is missing (logged by the keeper).
            tracing::warn!(report_id = %report.report_id, "the report is answered but could not be kept");
        }
    }

    /// The user's outcome and, when its report (`open` with that outcome,
    /// finished) was kept with its write, that report.
    async fn upsert(
        &self,
        namespace: &Namespace,
        raw: &RawValue,
        open: &Report,
    ) -> Result<(UserOutcome, Option<Report>), UpsertError> {
        let (commit, force_commit) = (open.commit, open.force_commit);
        let parsed = parse_user(raw);
        let mut outcome = UserOutcome {
            index: 0,
            user_id: parsed.user_id.clone(),
            action: Action::None,
            persisted: false,
            changed_fields: Vec::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
        };
        let (parse_errors, parse_warnings): (Vec<_>, Vec<_>) = parsed.issues.into_iter().partition(Issue::is_error);
        outcome.errors = parse_errors;
        outcome.warnings = parse_warnings;
        let Some(draft) = parsed.draft else {
            return Ok((outcome, None));
        };

        let query = Plan::context_query(&draft);
        // The draft's own dates, to rebuild it if a write loses a race.
        let sent_dates = (draft.activation_date, draft.deactivation_date);
        let mut draft = draft;
        for attempt in 1..=SAVE_ATTEMPTS {
            let context = self.context(namespace, &query).await.map_err(UpsertError::Unavailable)?;
            let now = self.clock.now();
            let plan = plan_upsert(draft, &context, now.date_naive());
            let write = commit && plan.errors.is_empty() && (plan.action != Action::Unchanged || force_commit);
            let decided = |persisted: bool| {
                let mut decided = outcome.clone();
                decided.action = plan.action;
                decided.changed_fields = plan.changed_fields.clone();
                decided.errors.extend(plan.errors.iter().cloned());
                decided.warnings.extend(plan.warnings.iter().cloned());
                decided.persisted = persisted;
                decided
            };
            let Some(user) = plan.user.filter(|_| write) else {
                return Ok((decided(false), None));
            };
            // The report this write answers, to be kept with it.
            let answer = (self.reports_with_users && self.reports.is_some()).then(|| {
                let mut answer = open.clone();
                answer.users.push(decided(true));
                answer.finish(self.clock.now());
                answer
            });
            match self.save(namespace, &user, now, answer.as_ref()).await {
                Ok(kept) => return Ok((decided(true), answer.filter(|_| kept))),
                // Another writer took the email or an identity between
                // our read and our write: plan again against what is
                // stored now, which names the winner.
                Err(RepositoryError::Conflict) if attempt < SAVE_ATTEMPTS => {
                    draft = UserDraft {
                        user_id: user.user_id,
                        profile: user.profile,
                        activation_date: sent_dates.0,
                        deactivation_date: sent_dates.1,
                    };
                }
                Err(RepositoryError::Conflict) => {
                    outcome.errors.push(Issue::new(
                        "userId",
                        IssueCode::Conflict,
                        "the user's email or a telephony identity was being taken by another user at the same time; try again",
                    ));
                    outcome.warnings.extend(plan.warnings);
                    return Ok((outcome, None));
                }
                Err(e) => return Err(UpsertError::Unavailable(e)),
            }
        }
        Ok((outcome, None))
    }
}
