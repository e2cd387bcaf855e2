//! Waiting: the loop waiting for a done task's descendants (SPEC §4 step 1), and the
//! state of a task as `run-agent wait` sees it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::descendants::{collect, runner_of, task_run_dirs};
use super::heal::{heal_all, is_active, HealAs};
use super::process_unix::Snapshot;
use super::ralph::TaskEnd;
use super::shutdown::{Request, Shutdown, StopReason};
use super::stop::stop_tree;
use crate::storage::layout::TaskPaths;

/// Environment variable that sets how often waits look again when no file event comes
/// (a humantime duration, e.g. `20ms`). Tests set it low; the defaults suit people.
pub(crate) const POLL_ENV: &str = "JRUN_POLL_INTERVAL";

/// The poll interval: `$JRUN_POLL_INTERVAL` if set and valid, else `default`.
pub(crate) fn poll_interval(default: Duration) -> Duration {
    std::env::var(POLL_ENV)
        .ok()
        .and_then(|v| humantime::parse_duration(v.trim()).ok())
        .filter(|d| !d.is_zero())
        .unwrap_or(default)
}

/// How often the loop looks at a done task's descendants again.
const CHILD_POLL: Duration = Duration::from_millis(50);

/// How many runs of the tree below `roots` (run folders) are still going; heals dead
/// records on the way. The roots count too: a `run-agent job` started inside a run
/// lands in the same task folder as its parent.
pub(crate) fn active_runs(roots: &[PathBuf]) -> usize {
    let mut tree = collect(roots);
    let snap = Snapshot::take();
    heal_all(&mut tree.runs, HealAs::Found, &snap);
    let runs = tree.runs.iter().filter(|n| is_active(n, &snap)).count();
    let starting = tree
        .runners
        .iter()
        .filter(|r| !r.is_self() && r.alive_in(&snap))
        .count();
    runs.max(starting)
}

/// Step 1 of the loop once `DONE` exists: waits until every descendant has exited, up
/// to `timeout`; past it, a `WARN` on the task bus and the children are stopped. A stop
/// request ends the wait (the loop then stops the tree).
pub(crate) async fn done(
    task: &TaskPaths,
    shutdown: &Shutdown,
    timeout: Duration,
    grace: Duration,
) -> TaskEnd {
    match children(task, task_run_dirs(task), shutdown, timeout, grace).await {
        Some(reason) => TaskEnd::Stopped(reason),
        None => TaskEnd::Done,
    }
}

/// Waits until nothing below `roots` runs, up to `timeout` (then a `WARN` on the bus of
/// `task` and the rest is stopped). Returns the stop reason if a stop request came.
pub(crate) async fn children(
    task: &TaskPaths,
    roots: Vec<PathBuf>,
    shutdown: &Shutdown,
    timeout: Duration,
    grace: Duration,
) -> Option<StopReason> {
    let started = Instant::now();
    let poll = poll_interval(CHILD_POLL);
    let mut rx = shutdown.subscribe();
    loop {
        if let Some(reason) = rx.borrow_and_update().reason() {
            return Some(reason);
        }
        let active = active_runs(&roots);
        if active == 0 {
            return None;
        }
        if started.elapsed() >= timeout {
            warn_child_timeout(task, active, timeout);
            stop_tree(roots, false, grace, Some(shutdown.subscribe())).await;
            return None;
        }
        let left = timeout.saturating_sub(started.elapsed());
        tokio::select! {
            _ = tokio::time::sleep(poll.min(left)) => {}
            changed = rx.changed() => if changed.is_err() {
                tokio::time::sleep(poll.min(left)).await;
            },
        }
    }
}

fn warn_child_timeout(task: &TaskPaths, active: usize, timeout: Duration) {
    super::ralph::notice(
        task,
        "WARN",
        &format!(
            "DONE exists but {active} child run(s) were still running after --child-wait-timeout {}; stopping them and finishing the task",
            humantime::format_duration(timeout)
        ),
    );
}

/// What the loop does when it ends any other way than done: nothing it started may
/// outlive it, so every run of the task and below is stopped (the attempts that are
/// over have children that may not be).
pub(crate) async fn stop_unfinished(
    task: &TaskPaths,
    end: TaskEnd,
    shutdown: &Shutdown,
    grace: Duration,
) {
    if end == TaskEnd::Done {
        return;
    }
    let grace = if matches!(shutdown.current(), Request::Kill(_)) {
        Duration::ZERO
    } else {
        grace
    };
    stop_tree(
        task_run_dirs(task),
        false,
        grace,
        Some(shutdown.subscribe()),
    )
    .await;
}

/// A task as `run-agent wait` sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskState {
    /// `DONE` exists and nothing of its tree runs.
    Done,
    /// Not done, and nothing runs: no runner is alive to go on (failed or stopped).
    Ended,
    /// Runs, waits for children, or has not started yet.
    Going,
}

/// Evaluates a task for `wait`, healing dead records on the way.
pub(crate) fn task_state(task: &TaskPaths) -> TaskState {
    let dirs = task_run_dirs(task);
    let done = task.done.exists();
    let mut tree = collect(&dirs);
    let snap = Snapshot::take();
    heal_all(&mut tree.runs, HealAs::Found, &snap);
    let busy = tree.runs.iter().any(|n| is_active(n, &snap))
        || tree.runners.iter().any(|r| r.alive_in(&snap));
    if busy {
        return TaskState::Going;
    }
    if done {
        return TaskState::Done;
    }
    // The loop's runner lives between attempts; with none alive nothing will restart.
    let latest_runner = dirs.last().and_then(|d| runner_of(d));
    match latest_runner {
        None => TaskState::Going,
        Some(r) if r.alive_in(&snap) => TaskState::Going,
        Some(_) => TaskState::Ended,
    }
}

/// Paths whose changes may change a task's state: the task folder (DONE, runs) and the
/// project folder (the summary FACT is the last thing a finishing task writes).
pub(crate) fn watch_paths(task: &TaskPaths) -> Vec<(PathBuf, bool)> {
    vec![(task.dir.clone(), true), (task.project_dir.clone(), false)]
}
