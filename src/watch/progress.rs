//! What the live status line of `task` and `wait` shows: the attempt, running runs in the
//! tree and the cost so far, read from the task folders.

use std::time::Instant;

use super::status_line::Snapshot;
use crate::runner::descendants::{collect, task_run_dirs};
use crate::runner::heal::is_active;
use crate::runner::process_unix::Snapshot as Processes;
use crate::storage::layout::TaskPaths;
use crate::storage::run_info::RunInfo;

/// A snapshot of `tasks` for the status line. Costs a read of each run record in the
/// trees and one scan of `/proc`, so callers draw it about once a second, and only on a
/// terminal.
pub(crate) fn snapshot(label: String, tasks: &[&TaskPaths], started: Instant) -> Snapshot {
    let procs = Processes::take();
    let mut attempt = None;
    let mut running = 0;
    let mut cost: Option<f64> = None;
    for task in tasks {
        let dirs = task_run_dirs(task);
        for dir in &dirs {
            if let Ok(info) = RunInfo::load(&dir.join("run-info.yaml")) {
                attempt = attempt.max(Some(info.attempt));
            }
        }
        for node in collect(&dirs).runs {
            if is_active(&node, &procs) {
                running += 1;
            }
            if let Some(c) = node
                .info
                .as_ref()
                .and_then(|i| i.usage.as_ref())
                .and_then(|u| u.cost_usd)
            {
                *cost.get_or_insert(0.0) += c;
            }
        }
    }
    Snapshot {
        label,
        attempt: if tasks.len() == 1 { attempt } else { None },
        elapsed: started.elapsed(),
        running,
        cost_usd: cost,
    }
}
