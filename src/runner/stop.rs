//! Stopping a tree of runs: SIGTERM to every agent's process group and every nested
//! runner, the grace period, SIGKILL to what is left, then the records finished. Used by
//! a runner that was signalled (for its descendants), by the loop (children past
//! `--child-wait-timeout`, a task that failed or was stopped) and by `run-agent stop`.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::descendants::{collect, Tree};
use super::heal::{heal_all, HealAs};
use super::process_unix::{run_group_alive, signal_run_group, GroupSignal, Identity, Snapshot};
use super::shutdown::Request;

/// How often a stopping tree is looked at again. Groups have no exit event to wait on.
const POLL: Duration = Duration::from_millis(5);
/// After the agents are killed, how long runners get to write their records themselves
/// before they are killed too (their records are then healed).
const RUNNER_GRACE: Duration = Duration::from_millis(300);

/// What a stop did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StopReport {
    /// Process groups and runner processes that were signalled.
    pub(crate) signalled: usize,
    /// Records finished as `stopped` because their runner was gone.
    pub(crate) healed: usize,
    /// Whether anything still lived when we gave up (should not happen: SIGKILL).
    pub(crate) survivors: usize,
    /// From the start of the stop until no process of the tree remained.
    pub(crate) quiet_after: Duration,
}

/// A stop in progress, driven by [`Stopper::poll`] from a sync or an async loop.
pub(crate) struct Stopper {
    roots: Vec<PathBuf>,
    /// Leave the root runs' own agents alone (their runner — us — handles them).
    skip_roots: bool,
    started: Instant,
    deadline: Instant,
    killed_at: Option<Instant>,
    termed: HashSet<(i32, u64)>,
    report: StopReport,
}

impl Stopper {
    pub(crate) fn new(roots: Vec<PathBuf>, skip_roots: bool, grace: Duration) -> Self {
        Self {
            roots,
            skip_roots,
            started: Instant::now(),
            deadline: Instant::now() + grace,
            killed_at: None,
            termed: HashSet::new(),
            report: StopReport::default(),
        }
    }

    /// Skips the rest of the grace period: SIGKILL at the next poll.
    pub(crate) fn kill_now(&mut self) {
        self.deadline = Instant::now();
    }

    /// Signals what is due and returns true once nothing of the tree lives. The tree is
    /// walked again each time, so a run started during the stop is stopped too.
    pub(crate) fn poll(&mut self) -> bool {
        let tree = collect(&self.roots);
        let snap = Snapshot::take();
        let now = Instant::now();
        let kill_agents = now >= self.deadline;
        if kill_agents && self.killed_at.is_none() {
            self.killed_at = Some(now);
        }
        let kill_runners = self.killed_at.is_some_and(|k| now >= k + RUNNER_GRACE);
        let mut alive = 0;
        for (leader, pgid, runner) in groups(&tree, self.skip_roots) {
            if !run_group_alive(&leader, pgid, &snap) {
                continue;
            }
            alive += 1;
            // A live runner stops its own agent (and records why) when it gets SIGTERM
            // below; signalling the agent too would race it into recording a crash.
            let runner_handles = runner.is_some_and(|r| !r.is_self() && r.alive_in(&snap));
            let sig = if kill_agents {
                Some(Signal::SIGKILL)
            } else if runner_handles {
                None
            } else if self.termed.insert((pgid, leader.start)) {
                Some(Signal::SIGTERM)
            } else {
                None
            };
            if let Some(sig) = sig {
                if signal_run_group(&leader, pgid, sig, &snap) == GroupSignal::Sent
                    && sig == Signal::SIGTERM
                {
                    self.report.signalled += 1;
                }
            }
        }
        for runner in runners(&tree, self.skip_roots) {
            if !runner.alive_in(&snap) {
                continue;
            }
            alive += 1;
            if kill_runners {
                runner.signal(Signal::SIGKILL);
            } else if self.termed.insert((runner.pid, runner.start)) {
                // With no grace at all the runner is killed with its agents; it could
                // not do better than us in zero time.
                let sig = if kill_agents {
                    Signal::SIGKILL
                } else {
                    Signal::SIGTERM
                };
                if runner.signal(sig) {
                    self.report.signalled += 1;
                }
            }
        }
        self.report.survivors = alive;
        self.report.quiet_after = self.started.elapsed();
        alive == 0
    }

    /// Finishes the records nobody else will finish, as `stopped`.
    pub(crate) fn finish(mut self) -> StopReport {
        let mut tree = collect(&self.roots);
        let snap = Snapshot::take();
        if self.skip_roots {
            tree.runs.retain(|n| !n.is_root);
        }
        self.report.healed = heal_all(&mut tree.runs, HealAs::Stopped, &snap);
        self.report
    }

    /// Whether the hard deadline for giving up has passed: SIGKILL was sent long enough
    /// ago that anything still listed is not ours to wait for (a record on another host,
    /// a process stuck in the kernel).
    fn gave_up(&self) -> bool {
        self.killed_at
            .is_some_and(|k| k.elapsed() > RUNNER_GRACE + Duration::from_secs(2))
    }
}

/// (leader, pgid, runner) of every run in the tree whose group may need a signal.
fn groups(tree: &Tree, skip_roots: bool) -> Vec<(Identity, i32, Option<Identity>)> {
    tree.runs
        .iter()
        .filter(|n| !(skip_roots && n.is_root))
        .filter_map(|n| Some((n.agent()?, n.info.as_ref()?.pgid, n.runner.clone())))
        .collect()
}

/// Runner processes of the tree other than us: registered nested runners and the
/// runners named in run folders.
fn runners(tree: &Tree, skip_roots: bool) -> Vec<Identity> {
    let mut out: Vec<Identity> = tree.runners.clone();
    for n in &tree.runs {
        if skip_roots && n.is_root {
            continue;
        }
        if let Some(r) = &n.runner {
            out.push(r.clone());
        }
    }
    out.retain(|r| !r.is_self());
    out.sort_by_key(|r| (r.pid, r.start));
    out.dedup();
    out
}

/// Stops the tree below (and, unless `skip_roots`, including) `roots`, blocking the
/// thread: for `run-agent stop`.
pub(crate) fn stop_tree_blocking(
    roots: Vec<PathBuf>,
    skip_roots: bool,
    grace: Duration,
) -> StopReport {
    let mut s = Stopper::new(roots, skip_roots, grace);
    while !s.poll() && !s.gave_up() {
        std::thread::sleep(POLL);
    }
    s.finish()
}

/// The same inside the runtime; a kill request (second Ctrl-C) skips the grace.
pub(crate) async fn stop_tree(
    roots: Vec<PathBuf>,
    skip_roots: bool,
    grace: Duration,
    mut requests: Option<watch::Receiver<Request>>,
) -> StopReport {
    let mut s = Stopper::new(roots, skip_roots, grace);
    loop {
        if let Some(rx) = &mut requests {
            if matches!(*rx.borrow_and_update(), Request::Kill(_)) {
                s.kill_now();
            }
        }
        if s.poll() || s.gave_up() {
            return s.finish();
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Watches the stop requests of a runner while its agent runs and, the moment one
/// comes, stops every descendant of the run alongside the agent (whose own group the
/// runner handles), so the whole tree gets the same grace.
pub(crate) struct TreeGuard {
    handle: JoinHandle<()>,
    requests: watch::Receiver<Request>,
}

impl TreeGuard {
    pub(crate) fn start(
        run_dir: PathBuf,
        mut requests: watch::Receiver<Request>,
        grace: Duration,
    ) -> Self {
        let watched = requests.clone();
        let handle = tokio::spawn(async move {
            loop {
                if *requests.borrow_and_update() != Request::Run {
                    break;
                }
                if requests.changed().await.is_err() {
                    return;
                }
            }
            stop_tree(vec![run_dir], true, grace, Some(requests)).await;
        });
        Self {
            handle,
            requests: watched,
        }
    }

    /// Once the agent has exited: if a stop was requested, waits until the descendants
    /// are gone too (SIGKILL at the end of the grace); otherwise leaves them running —
    /// the task waits for them.
    pub(crate) async fn finish(self) {
        if *self.requests.borrow() == Request::Run {
            self.handle.abort();
        } else {
            let _ = self.handle.await;
        }
    }
}
