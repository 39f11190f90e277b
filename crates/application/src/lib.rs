//! roster's use cases and the ports they need.
//!
//! Every decision — dry run or commit, create/update/unchanged, which fields
//! changed, default dates, what goes into the report — is made here, from a
//! pure plan, before any write. Adapters store and fetch; they decide nothing.
#![forbid(unsafe_code)]

pub mod auth;
pub mod bulk;
mod coalesce;
mod flags;
mod get_user;
mod plan;
mod ports;
mod readiness;
mod report;
mod upsert_user;

#[cfg(any(test, feature = "contract-tests"))]
pub mod contract;

pub use bulk::{
    Background, BulkImport, ChunkResult, ImportHeader, ImportJob, ImportOptions, ImportStoreError, InputItem,
    KeepReports, ReportError, ReportStore, StartError, StartImport, Upload, UploadError,
};
pub use flags::parse_flag;
pub use get_user::{GetUser, GetUserError};
pub use plan::{Plan, plan_upsert};
pub use ports::{
    BatchContext, BatchContextQuery, Clock, FixedClock, IdGenerator, RepositoryError, SystemClock, UpsertContext,
    UpsertContextQuery, UserRef, UserRepository,
};
pub use readiness::CheckReadiness;
pub use report::{Action, Report, ReportKind, ReportStatus, Summary, UserOutcome};
pub use upsert_user::{Body, UpsertError, UpsertRequest, UpsertUser};

/// `error: cause: cause…`, for one log line.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
