//! Garbage collection of finished runs and done tasks past an age. Never removes a live
//! run, a run with a live descendant (its children still point at it), or anything that
//! cannot be read well enough to prove it finished.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::scan::{scan, Problem, Scope, TaskEntry};
use crate::storage::run_info::RunStatus;
use crate::storage::time::parse_rfc3339;

/// What to collect.
#[derive(Debug, Clone)]
pub(crate) struct GcOptions {
    pub(crate) older_than: Duration,
    pub(crate) keep_failed: bool,
    pub(crate) project: Option<String>,
}

/// One thing to remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Removal {
    /// A whole done task folder (all its runs finished and old enough).
    Task { path: PathBuf, runs: usize },
    /// One finished run folder.
    Run { path: PathBuf },
}

impl Removal {
    pub(crate) fn path(&self) -> &Path {
        match self {
            Self::Task { path, .. } | Self::Run { path } => path,
        }
    }
}

/// What a collection would remove, and what it skipped as unreadable.
#[derive(Debug, Default)]
pub(crate) struct GcPlan {
    pub(crate) removals: Vec<Removal>,
    pub(crate) problems: Vec<Problem>,
}

/// Decides what to remove. The whole root is read (not only `--project`) so that a
/// finished run in scope with a live child elsewhere is kept.
pub(crate) fn plan(root: &Path, opts: &GcOptions, now: SystemTime) -> GcPlan {
    let all = scan(root, &Scope::default());
    let cutoff = now
        .checked_sub(opts.older_than)
        .unwrap_or(SystemTime::UNIX_EPOCH);

    // Every ancestor of a live run is kept.
    let parent_of: HashMap<&str, &str> = all
        .tasks
        .iter()
        .flat_map(|t| &t.runs)
        .map(|r| (r.info.run_id.as_str(), r.info.parent_run_id.as_str()))
        .collect();
    let mut keep: HashSet<&str> = HashSet::new();
    for r in all
        .tasks
        .iter()
        .flat_map(|t| &t.runs)
        .filter(|r| r.is_live())
    {
        let mut id = r.info.run_id.as_str();
        while !id.is_empty() && keep.insert(id) {
            id = parent_of.get(id).copied().unwrap_or("");
        }
    }

    let mut out = GcPlan {
        removals: Vec::new(),
        problems: all.problems,
    };
    for task in &all.tasks {
        if opts
            .project
            .as_deref()
            .is_some_and(|p| p != task.project_id)
        {
            continue;
        }
        let removable: Vec<&PathBuf> = task
            .runs
            .iter()
            .filter(|r| !keep.contains(r.info.run_id.as_str()))
            .filter(|r| !(opts.keep_failed && r.effective.status == RunStatus::Failed))
            .filter(|r| {
                ended_before(
                    &r.info.end_time,
                    &r.info.start_time,
                    r.effective.process_gone,
                    cutoff,
                )
            })
            .map(|r| &r.dir)
            .collect();
        if task_removable(task, removable.len(), cutoff) {
            out.removals.push(Removal::Task {
                path: task.dir.clone(),
                runs: task.runs.len(),
            });
        } else {
            out.removals.extend(
                removable
                    .into_iter()
                    .map(|p| Removal::Run { path: p.clone() }),
            );
        }
    }
    out
}

/// A run is old enough when it ended before the cutoff; a run whose process is gone
/// without an end time is judged by its start.
fn ended_before(end: &str, start: &str, gone: bool, cutoff: SystemTime) -> bool {
    let at = match parse_rfc3339(end) {
        Some(t) => Some(t),
        None if gone => parse_rfc3339(start),
        None => None,
    };
    at.is_some_and(|t| t <= cutoff)
}

/// A done task goes as a whole when every run in it is removable, the folder holds no
/// unreadable run, and `DONE` itself is old enough.
fn task_removable(task: &TaskEntry, removable_runs: usize, cutoff: SystemTime) -> bool {
    if !task.done || removable_runs != task.runs.len() {
        return false;
    }
    let run_dirs = std::fs::read_dir(task.dir.join("runs"))
        .map(|rd| rd.flatten().count())
        .unwrap_or(0);
    if run_dirs != task.runs.len() {
        return false;
    }
    std::fs::metadata(task.dir.join("DONE"))
        .and_then(|m| m.modified())
        .is_ok_and(|t| t <= cutoff)
}

/// Removes what the plan names. Just before removing a task it checks again that `DONE`
/// is there and no run folder was added since the plan, so a task resumed meanwhile
/// stays. Returns the removals that happened and the errors met.
pub(crate) fn execute(plan: &GcPlan) -> (Vec<Removal>, Vec<Problem>) {
    let mut done = Vec::new();
    let mut errors = Vec::new();
    for r in &plan.removals {
        if let Removal::Task { path, runs } = r {
            let still_done = path.join("DONE").exists();
            let same_runs = std::fs::read_dir(path.join("runs"))
                .map(|rd| rd.flatten().count() == *runs)
                .unwrap_or(*runs == 0);
            if !still_done || !same_runs {
                continue;
            }
        }
        match std::fs::remove_dir_all(r.path()) {
            Ok(()) => done.push(r.clone()),
            Err(e) => errors.push(Problem {
                path: r.path().to_path_buf(),
                reason: format!("cannot remove: {e}"),
            }),
        }
    }
    (done, errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::run_info::RunInfo;
    use crate::watch::fast_info::tests::sample;

    fn record(root: &Path, task: &str, id: &str, parent: &str, live: bool) {
        let dir = root.join("p").join(task).join("runs").join(id);
        std::fs::create_dir_all(&dir).unwrap();
        let mut info: RunInfo = sample();
        info.run_id = id.into();
        info.task_id = task.into();
        info.parent_run_id = parent.into();
        info.host = crate::watch::health::this_host();
        if live {
            // This test process stands in for a live agent.
            info.pid = std::process::id() as i32;
            info.proc_start = crate::runner::unix::proc_start(info.pid).unwrap();
        } else {
            info.status = RunStatus::Completed;
            info.exit_code = 0;
            info.end_time = "2026-01-01T00:00:01.000000Z".into();
        }
        info.save(&dir.join("run-info.yaml")).unwrap();
    }

    #[test]
    fn keeps_live_runs_and_their_finished_ancestors() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        record(r, "a", "1-1-1-1", "", false);
        record(r, "b", "1-1-1-2", "1-1-1-1", false);
        record(r, "c", "1-1-1-3", "1-1-1-2", true);
        record(r, "d", "1-1-1-4", "", false);
        std::fs::write(r.join("p/d/DONE"), "").unwrap();
        let opts = GcOptions {
            older_than: Duration::ZERO,
            keep_failed: false,
            project: None,
        };
        let plan = plan(r, &opts, SystemTime::now());
        let paths: Vec<String> = plan
            .removals
            .iter()
            .map(|x| x.path().strip_prefix(r).unwrap().display().to_string())
            .collect();
        assert_eq!(paths, ["p/d"], "only the done task with no live descendant");
        // Too young: nothing.
        let opts = GcOptions {
            older_than: Duration::from_secs(3600 * 24 * 365 * 100),
            ..opts
        };
        assert!(super::plan(r, &opts, SystemTime::now()).removals.is_empty());
    }
}
