//! Healing records: a run-info that says `running` while neither its agent nor its
//! runner lives any more will never be finished by anyone, so whoever reads it finishes
//! it (`failed`, or `completed` when the task is done, or `stopped` by `run-agent stop`).

use std::path::Path;
use std::time::SystemTime;

use super::descendants::Node;
use super::process_unix::{Identity, Snapshot};
use crate::storage::run_info::{RunInfo, RunStatus};
use crate::storage::time::rfc3339;

/// Whether a run is still going: its record says `running` and its agent lives, or its
/// runner (some other process than us) lives and will still write the end of the
/// record. A run recorded on another host cannot be checked and counts as going. A run
/// folder with no record yet is going while its runner lives.
pub(crate) fn is_active(node: &Node, snap: &Snapshot) -> bool {
    let runner_alive = node
        .runner
        .as_ref()
        .is_some_and(|r| !r.is_self() && r.alive_in(snap));
    match &node.info {
        None => runner_alive,
        Some(info) if info.status != RunStatus::Running => false,
        Some(info) => {
            let agent = Identity {
                pid: info.pid,
                start: info.proc_start,
                host: info.host.clone(),
            };
            !agent.is_local() || agent.alive_in(snap) || runner_alive
        }
    }
}

/// What a dead `running` record becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HealAs {
    /// `completed` if the run's task has `DONE`, else `failed`.
    Found,
    /// `stopped`: `run-agent stop` ended it.
    Stopped,
}

/// Finishes the record of `node` if it says `running` but nothing will ever finish it:
/// agent gone and runner gone (or it is us, and we are not running it any more). Returns
/// the new record when it was healed.
pub(crate) fn heal(node: &Node, how: HealAs, snap: &Snapshot) -> Option<RunInfo> {
    let info = node.info.as_ref()?;
    if info.status != RunStatus::Running {
        return None;
    }
    let agent = node.agent()?;
    if !agent.is_local() || agent.alive_in(snap) {
        return None;
    }
    if node
        .runner
        .as_ref()
        .is_some_and(|r| !r.is_self() && r.alive_in(snap))
    {
        return None;
    }
    // Read again right before writing: the runner may have finished the record between
    // our read and now, and its word is the truth.
    let path = node.run_info_path();
    let mut fresh = RunInfo::load(&path).ok()?;
    if fresh.status != RunStatus::Running {
        return None;
    }
    let done = task_done(&node.dir);
    let (status, summary) = match how {
        HealAs::Stopped => (
            RunStatus::Stopped,
            "stopped: ended by run-agent stop (its runner was gone)".to_owned(),
        ),
        HealAs::Found if done => (
            RunStatus::Completed,
            String::new(),
        ),
        HealAs::Found => (
            RunStatus::Failed,
            format!(
                "the agent (pid {}) and its runner are gone without recording an end (killed, or the machine restarted); exit code unknown",
                fresh.pid
            ),
        ),
    };
    fresh.status = status;
    fresh.error_summary = summary;
    if fresh.end_time.is_empty() {
        fresh.end_time = rfc3339(SystemTime::now());
    }
    match fresh.save(&path) {
        Ok(()) => Some(fresh),
        Err(e) => {
            tracing::warn!("cannot heal the record: {e}");
            None
        }
    }
}

/// Heals every dead `running` record of `nodes` (updating them in place); returns how
/// many were healed. Records are written in parallel: each write is two fsyncs, and a
/// stopped tree of twenty runs would otherwise wait for forty of them in a row.
pub(crate) fn heal_all(nodes: &mut [Node], how: HealAs, snap: &Snapshot) -> usize {
    const PARALLEL: usize = 8;
    let chunk = nodes.len().div_ceil(PARALLEL).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = nodes
            .chunks_mut(chunk)
            .map(|part| {
                scope.spawn(move || {
                    let mut n = 0;
                    for node in part {
                        if let Some(info) = heal(node, how, snap) {
                            node.info = Some(info);
                            n += 1;
                        }
                    }
                    n
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0)).sum()
    })
}

/// Whether the task folder holding this run folder (`<task>/runs/<id>`) has `DONE`.
fn task_done(run_dir: &Path) -> bool {
    run_dir
        .parent()
        .and_then(Path::parent)
        .is_some_and(|task| task.join("DONE").exists())
}

/// Loads one run's record, healed if needed: for readers such as `status` and `list`.
pub(crate) fn load_healed(run_dir: &Path) -> Option<RunInfo> {
    let mut node = Node {
        dir: run_dir.to_path_buf(),
        info: RunInfo::load(&run_dir.join("run-info.yaml")).ok(),
        runner: super::descendants::runner_of(run_dir),
        is_root: true,
    };
    let snap = Snapshot::take();
    if let Some(healed) = heal(&node, HealAs::Found, &snap) {
        node.info = Some(healed);
    }
    node.info
}
