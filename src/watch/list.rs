//! Task summaries for `list`: status, run counts, last activity and cost.

use std::time::SystemTime;

use serde::Serialize;

use super::scan::{last_activity, TaskEntry};
use crate::storage::run_info::RunStatus;
use crate::storage::time::rfc3339;

/// The status of a task as a view shows it.
///
/// `running` while any of its runs is live; `done` when `DONE` exists and nothing runs;
/// otherwise the outcome of its newest run: `completed` (exited 0 without `DONE`: a job,
/// or a loop between attempts), `failed`, `stopped`; `new` when it has no runs yet.
pub(crate) fn task_status(task: &TaskEntry) -> &'static str {
    if task.runs.iter().any(|r| r.is_live()) {
        return "running";
    }
    if task.done {
        return "done";
    }
    match task
        .runs
        .iter()
        .max_by(|a, b| a.info.run_id.cmp(&b.info.run_id))
    {
        None => "new",
        Some(r) => match r.effective.status {
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Stopped => "stopped",
        },
    }
}

/// One task in `list --json`.
#[derive(Debug, Serialize)]
pub(crate) struct TaskSummary {
    pub(crate) project_id: String,
    pub(crate) task_id: String,
    pub(crate) status: &'static str,
    pub(crate) done: bool,
    pub(crate) runs: usize,
    pub(crate) running: usize,
    pub(crate) last_run_id: Option<String>,
    pub(crate) last_activity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cost_usd: Option<f64>,
    pub(crate) task_folder: String,
}

impl TaskSummary {
    pub(crate) fn of(task: &TaskEntry) -> Self {
        let mut cost = None;
        for r in &task.runs {
            if let Some(c) = r.info.usage.as_ref().and_then(|u| u.cost_usd) {
                *cost.get_or_insert(0.0) += c;
            }
        }
        Self {
            project_id: task.project_id.clone(),
            task_id: task.task_id.clone(),
            status: task_status(task),
            done: task.done,
            runs: task.runs.len(),
            running: task.runs.iter().filter(|r| r.is_live()).count(),
            last_run_id: task.runs.iter().map(|r| r.info.run_id.clone()).max(),
            last_activity: last_activity(task).map(rfc3339),
            // Sums of binary fractions print as 0.42000000000000004; cents of cents do.
            cost_usd: cost.map(|c: f64| (c * 1e6).round() / 1e6),
            task_folder: task.dir.display().to_string(),
        }
    }
}

/// "3m ago"-style age for people.
pub(crate) fn ago(t: Option<&str>, now: SystemTime) -> String {
    let Some(then) = t.and_then(crate::storage::time::parse_rfc3339) else {
        return "-".to_owned();
    };
    match now.duration_since(then) {
        Ok(d) => format!("{} ago", crate::runner::job::short(d)),
        Err(_) => "just now".to_owned(),
    }
}
