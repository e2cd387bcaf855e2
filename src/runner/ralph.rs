//! The Ralph loop: run the root agent again and again until `DONE` (SPEC §4).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::backoff::Backoff;
use super::budget::{task_usage, Budget, WARN_AT};
use super::job::{run_job, short, JobOutcome, JobSpec};
use super::leftovers::end_leftovers;
use super::shutdown::{Request, Shutdown, StopReason};
use crate::agents::resolve::AgentSpec;
use crate::agents::usage::{usd, Usage};
use crate::bus::append::post;
use crate::bus::format::NewMessage;
use crate::config::file::Config;
use crate::error::Error;
use crate::storage::layout::{Layout, TaskPaths};
use crate::storage::run_info::RunInfo;

/// Settings of one `run-agent task` invocation, already validated.
pub(crate) struct TaskSpec<'a> {
    pub(crate) layout: &'a Layout,
    pub(crate) task: &'a TaskPaths,
    /// One agent, or several used in turn (`--agent claude,codex`).
    pub(crate) agents: &'a [AgentSpec],
    pub(crate) prompt: &'a str,
    pub(crate) role: Option<&'a str>,
    pub(crate) parent_run_id: &'a str,
    pub(crate) depth: u32,
    pub(crate) cwd: &'a Path,
    pub(crate) max_restarts: u32,
    pub(crate) restart_delay: Duration,
    pub(crate) kill_grace: Duration,
    pub(crate) config: &'a Config,
    pub(crate) budget: Budget,
    /// First wait and cap of the backoff after a rate-limited attempt.
    pub(crate) rate_limit_backoff: (Duration, Duration),
    pub(crate) child_wait_timeout: Duration,
}

/// How the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskEnd {
    Done,
    /// Restarts used up without `DONE`.
    Exhausted,
    /// `--max-cost-usd` or `--max-tokens` spent.
    BudgetSpent,
    Stopped(StopReason),
}

impl TaskEnd {
    pub(crate) fn exit_code(self) -> u8 {
        match self {
            Self::Done => 0,
            Self::Exhausted | Self::BudgetSpent => 1,
            Self::Stopped(r) => r.exit_code(),
        }
    }

    pub(crate) fn word(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Exhausted | Self::BudgetSpent => "failed",
            Self::Stopped(_) => "stopped",
        }
    }
}

/// What `task` reports at the end.
#[derive(Debug)]
pub(crate) struct TaskOutcome {
    pub(crate) end: TaskEnd,
    /// Attempts started by this invocation.
    pub(crate) runs: u32,
    pub(crate) last: Option<JobOutcome>,
    /// Processes agents left running that were terminated at the end.
    pub(crate) leftovers: usize,
    /// Tokens and cost of every run of the task so far.
    pub(crate) usage: Usage,
    pub(crate) duration: Duration,
}

impl TaskOutcome {
    /// The output of the last attempt, if any ran.
    pub(crate) fn output_path(&self) -> Option<PathBuf> {
        self.last.as_ref().map(|j| j.run.output.clone())
    }
}

/// Runs the loop to its end. Steps 1-5 of SPEC §4.
pub(crate) async fn run_task(
    spec: &TaskSpec<'_>,
    shutdown: &Shutdown,
) -> Result<TaskOutcome, Error> {
    let started = Instant::now();
    let (mut previous, base) = last_root_run(spec.task, spec.parent_run_id);
    // Attempts counted toward --max-restarts; rate-limited attempts are not.
    let mut runs = 0u32;
    // Every attempt started, for the attempt number and the agent rotation.
    let mut started_runs = 0u32;
    let mut last: Option<JobOutcome> = None;
    let mut groups = Vec::new();
    let mut spent = task_usage(spec.task);
    let mut warned = spec.budget.fraction(&spent) >= WARN_AT;
    let mut backoff = Backoff::new(spec.rate_limit_backoff.0, spec.rate_limit_backoff.1);

    let end = loop {
        if let Some(reason) = shutdown.current().reason() {
            break TaskEnd::Stopped(reason);
        }
        if spec.task.done.exists() {
            break finish_done(spec, shutdown).await;
        }
        if spec.budget.is_set() && spec.budget.fraction(&spent) >= 1.0 {
            notice(
                spec.task,
                "ERROR",
                &format!(
                    "budget spent ({}); stopping the task",
                    spec.budget.describe(&spent)
                ),
            );
            break TaskEnd::BudgetSpent;
        }
        if runs >= spec.max_restarts {
            break TaskEnd::Exhausted;
        }
        let outcome = match run_rotating(
            spec,
            shutdown,
            &previous,
            base + started_runs + 1,
            started_runs,
        )
        .await
        {
            Ok(o) => o,
            Err(e) => {
                end_leftovers(&groups, spec.kill_grace).await;
                return Err(e);
            }
        };
        started_runs += 1;
        previous.clone_from(&outcome.run.run_id);
        groups.push(outcome.pgid);
        if let Some(u) = &outcome.usage {
            spent.add(u);
        }
        let stopped = outcome.stopped;
        let limited = outcome.rate_limit.clone();
        if limited.is_none() {
            runs += 1;
        }
        last = Some(outcome);
        if let Some(reason) = stopped {
            break TaskEnd::Stopped(reason);
        }
        if spec.task.done.exists() {
            break finish_done(spec, shutdown).await;
        }
        if spec.budget.is_set() && !warned && spec.budget.fraction(&spent) >= WARN_AT {
            warned = true;
            notice(
                spec.task,
                "WARN",
                &format!(
                    "budget {:.0}% used ({})",
                    spec.budget.fraction(&spent).min(1.0) * 100.0,
                    spec.budget.describe(&spent)
                ),
            );
        }
        if let Some(limit) = limited {
            // A limit is the provider's, not the task's failure: wait it out instead of
            // spending attempts.
            let wait = backoff.wait(limit.retry_after);
            notice(spec.task, "WARN", &format!("agent hit a usage or rate limit ({}); waiting {} before the next attempt, which does not count toward --max-restarts", limit.message, short(wait)));
            wait_or_stop(shutdown, wait).await;
            continue;
        }
        backoff.reset();
        if runs < spec.max_restarts && !spec.restart_delay.is_zero() {
            wait_or_stop(shutdown, spec.restart_delay).await;
        }
    };

    super::wait::stop_unfinished(spec.task, end, shutdown, spec.kill_grace).await;
    groups.extend(super::descendants::own_tree_pgids(spec.task));
    let leftovers = end_leftovers(&groups, spec.kill_grace).await;
    let outcome = TaskOutcome {
        end,
        runs: started_runs,
        last,
        leftovers,
        usage: spent,
        duration: started.elapsed(),
    };
    if started_runs > 0 {
        post_summary(spec.task, &outcome);
    }
    Ok(outcome)
}

/// `DONE` exists: wait for the descendants (step 1 of the loop).
async fn finish_done(spec: &TaskSpec<'_>, shutdown: &Shutdown) -> TaskEnd {
    super::wait::done(
        spec.task,
        shutdown,
        spec.child_wait_timeout,
        spec.kill_grace,
    )
    .await
}

/// Runs one attempt with the agent whose turn it is; an agent whose program cannot be
/// started hands the attempt to the next one, with a `WARN`.
async fn run_rotating(
    spec: &TaskSpec<'_>,
    shutdown: &Shutdown,
    previous: &str,
    attempt: u32,
    turn: u32,
) -> Result<JobOutcome, Error> {
    let n = spec.agents.len();
    let mut last_err = None;
    for k in 0..n {
        let agent = &spec.agents[(turn as usize + k) % n];
        let result = run_job(
            &JobSpec {
                layout: spec.layout,
                task: spec.task,
                agent,
                prompt: spec.prompt,
                role: spec.role,
                parent_run_id: spec.parent_run_id,
                previous_run_id: previous,
                attempt,
                depth: spec.depth,
                cwd: spec.cwd,
                kill_grace: spec.kill_grace,
                config: spec.config,
            },
            shutdown,
        )
        .await;
        match result {
            Err(e @ Error::Spawn { .. }) if n > 1 => {
                notice(
                    spec.task,
                    "WARN",
                    &format!("{e}; handing the attempt to the next agent"),
                );
                last_err = Some(e);
            }
            other => return other,
        }
    }
    Err(last_err.unwrap_or_else(|| Error::Failed("no agent to run".to_owned())))
}

/// Posts a loop notice (`WARN`, `ERROR`) to the task bus; a bus that cannot be written
/// is logged, not fatal.
pub(crate) fn notice(task: &TaskPaths, kind: &str, body: &str) {
    if matches!(kind, "WARN" | "ERROR") {
        tracing::warn!("{body}");
    }
    let msg = NewMessage {
        msg_type: kind.to_owned(),
        project_id: task.project_id.clone(),
        task_id: task.task_id.clone(),
        from: "run-agent".to_owned(),
        body: body.to_owned(),
        ..NewMessage::default()
    };
    if let Err(e) = post(&task.bus, &msg) {
        tracing::warn!("{e}");
    }
}

/// Sleeps for the restart delay unless a stop request comes first.
async fn wait_or_stop(shutdown: &Shutdown, delay: Duration) {
    let mut rx = shutdown.subscribe();
    let sleep = tokio::time::sleep(delay);
    tokio::pin!(sleep);
    loop {
        if *rx.borrow_and_update() != Request::Run {
            return;
        }
        tokio::select! {
            _ = &mut sleep => return,
            changed = rx.changed() => if changed.is_err() { sleep.await; return; },
        }
    }
}

/// The newest earlier attempt of this task's restart chain (same parent), so a task run
/// again continues the chain and the attempt count instead of starting over.
fn last_root_run(task: &TaskPaths, parent: &str) -> (String, u32) {
    let Ok(entries) = std::fs::read_dir(&task.runs) else {
        return (String::new(), 0);
    };
    let mut ids: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    // Run ids sort by start time.
    ids.sort_unstable_by(|a, b| b.cmp(a));
    for id in ids {
        if let Ok(info) = RunInfo::load(&task.run(&id).run_info) {
            if info.parent_run_id == parent {
                return (info.run_id, info.attempt);
            }
        }
    }
    (String::new(), 0)
}

/// One summary `FACT` on the project bus when a task invocation that ran attempts ends.
fn post_summary(task: &TaskPaths, o: &TaskOutcome) {
    let mut body = format!(
        "task {}/{} {} after {} run{} in {}",
        task.project_id,
        task.task_id,
        o.end.word(),
        o.runs,
        if o.runs == 1 { "" } else { "s" },
        short(o.duration)
    );
    if let Some(path) = o.output_path() {
        body.push_str(&format!("; output {}", path.display()));
    }
    if let Some(cost) = o.usage.cost_usd {
        body.push_str(&format!("; cost {}", usd(cost)));
    }
    if o.leftovers > 0 {
        body.push_str(&format!(
            "; {} leftover process(es) terminated",
            o.leftovers
        ));
    }
    let msg = NewMessage {
        msg_type: "FACT".to_owned(),
        project_id: task.project_id.clone(),
        task_id: task.task_id.clone(),
        run_id: o
            .last
            .as_ref()
            .map(|j| j.run.run_id.clone())
            .unwrap_or_default(),
        from: "run-agent".to_owned(),
        to: String::new(),
        body,
        ..NewMessage::default()
    };
    if let Err(e) = post(&task.project_bus, &msg) {
        tracing::warn!("{e}");
    }
}
