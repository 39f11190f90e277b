//! [`KeepReports`]: single-user reports kept by group commit.

use std::sync::Arc;

use crate::coalesce::{Batcher, Slots};
use crate::{Report, ReportStore};

/// How many reports one write keeps at most.
const BATCH: usize = 256;

/// Keeps single-user reports in the [`ReportStore`], so `GET
/// …/users/report/{reportId}` answers for them too. Reports arriving while
/// a write is under way are kept together by the next one (group commit):
/// under load a handful of writes keep hundreds of reports, and each caller
/// still waits until its own report is kept.
#[derive(Clone)]
pub struct KeepReports {
    batcher: Batcher<Report, bool>,
}

impl KeepReports {
    pub fn start(store: Arc<dyn ReportStore>) -> Self {
        let batcher = Batcher::new("reports", Slots::fixed(1), BATCH, move |reports: Vec<Report>| {
            let store = store.clone();
            async move {
                let kept = match store.keep_reports(&reports).await {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::error!(error = %e, count = reports.len(), "reports could not be kept");
                        false
                    }
                };
                vec![kept; reports.len()]
            }
        });
        KeepReports { batcher }
    }

    /// Keeps `report`; `false` when the store failed (logged).
    pub async fn keep(&self, report: Report) -> bool {
        self.batcher.call(report).await.unwrap_or(false)
    }
}
