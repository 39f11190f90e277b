//! [`KeepReports`]: single-user reports kept by group commit.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::{Report, ReportStore};

/// How many reports one write keeps at most.
const BATCH: usize = 256;

type Waiter = oneshot::Sender<bool>;

/// Keeps single-user reports in the [`ReportStore`], so `GET
/// …/users/report/{reportId}` answers for them too. Reports arriving while
/// a write is under way are kept together by the next one (group commit):
/// under load a handful of writes keep hundreds of reports, and each caller
/// still waits until its own report is kept.
#[derive(Clone)]
pub struct KeepReports {
    tx: mpsc::Sender<(Report, Waiter)>,
}

impl KeepReports {
    /// Starts the writer task; call from within a tokio runtime.
    pub fn start(store: Arc<dyn ReportStore>) -> Self {
        let (tx, mut rx) = mpsc::channel::<(Report, Waiter)>(4 * BATCH);
        tokio::spawn(async move {
            let mut reports = Vec::with_capacity(BATCH);
            let mut waiters = Vec::with_capacity(BATCH);
            while let Some((report, waiter)) = rx.recv().await {
                reports.push(report);
                waiters.push(waiter);
                while reports.len() < BATCH {
                    match rx.try_recv() {
                        Ok((report, waiter)) => {
                            reports.push(report);
                            waiters.push(waiter);
                        }
                        Err(_) => break,
                    }
                }
                let kept = match store.keep_reports(&reports).await {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::error!(error = %e, count = reports.len(), "reports could not be kept");
                        false
                    }
                };
                for waiter in waiters.drain(..) {
                    let _ = waiter.send(kept);
                }
                reports.clear();
            }
        });
        KeepReports { tx }
    }

    /// Keeps `report`; `false` when the store failed (logged).
    pub async fn keep(&self, report: Report) -> bool {
        let (done, wait) = oneshot::channel();
        if self.tx.send((report, done)).await.is_err() {
            return false;
        }
        wait.await.unwrap_or(false)
    }
}
