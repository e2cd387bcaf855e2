//! The Ralph loop: run the root agent again and again until `DONE` (SPEC §4).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::job::{run_job, short, JobOutcome, JobSpec};
use super::leftovers::end_leftovers;
use super::shutdown::{Request, Shutdown, StopReason};
use crate::agents::backend::AgentSpec;
use crate::bus::append::post;
use crate::bus::format::NewMessage;
use crate::error::Error;
use crate::storage::layout::{Layout, TaskPaths};
use crate::storage::run_info::RunInfo;

/// Settings of one `run-agent task` invocation, already validated.
pub(crate) struct TaskSpec<'a> {
    pub(crate) layout: &'a Layout,
    pub(crate) task: &'a TaskPaths,
    pub(crate) agent: &'a AgentSpec,
    pub(crate) prompt: &'a str,
    pub(crate) role: Option<&'a str>,
    pub(crate) parent_run_id: &'a str,
    pub(crate) depth: u32,
    pub(crate) cwd: &'a Path,
    pub(crate) max_restarts: u32,
    pub(crate) restart_delay: Duration,
    pub(crate) kill_grace: Duration,
}

/// How the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskEnd {
    Done,
    /// Restarts used up without `DONE`.
    Exhausted,
    Stopped(StopReason),
}

impl TaskEnd {
    pub(crate) fn exit_code(self) -> u8 {
        match self {
            Self::Done => 0,
            Self::Exhausted => 1,
            Self::Stopped(r) => r.exit_code(),
        }
    }

    pub(crate) fn word(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Exhausted => "failed",
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
    let mut runs = 0u32;
    let mut last: Option<JobOutcome> = None;
    let mut groups = Vec::new();

    let end = loop {
        if let Some(reason) = shutdown.current().reason() {
            break TaskEnd::Stopped(reason);
        }
        if spec.task.done.exists() {
            break TaskEnd::Done;
        }
        if runs >= spec.max_restarts {
            break TaskEnd::Exhausted;
        }
        let outcome = run_job(
            &JobSpec {
                layout: spec.layout,
                task: spec.task,
                agent: spec.agent,
                prompt: spec.prompt,
                role: spec.role,
                parent_run_id: spec.parent_run_id,
                previous_run_id: &previous,
                attempt: base + runs + 1,
                depth: spec.depth,
                cwd: spec.cwd,
                kill_grace: spec.kill_grace,
            },
            shutdown,
        )
        .await;
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                end_leftovers(&groups, spec.kill_grace).await;
                return Err(e);
            }
        };
        runs += 1;
        previous.clone_from(&outcome.run.run_id);
        groups.push(outcome.pgid);
        let stopped = outcome.stopped;
        last = Some(outcome);
        if let Some(reason) = stopped {
            break TaskEnd::Stopped(reason);
        }
        if spec.task.done.exists() {
            break TaskEnd::Done;
        }
        if runs < spec.max_restarts && !spec.restart_delay.is_zero() {
            wait_or_stop(shutdown, spec.restart_delay).await;
        }
    };

    let leftovers = end_leftovers(&groups, spec.kill_grace).await;
    let outcome = TaskOutcome {
        end,
        runs,
        last,
        leftovers,
        duration: started.elapsed(),
    };
    if runs > 0 {
        post_summary(spec.task, &outcome);
    }
    Ok(outcome)
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
