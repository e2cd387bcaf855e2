//! `run-agent wait`: blocks until tasks are done (all, or any), woken by file events
//! with a slow poll as a safety net.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Args;
use notify::{RecursiveMode, Watcher};

use super::args::GlobalArgs;
use super::context::{env_nonempty, Context};
use super::output;
use super::target::existing_task;
use crate::config::duration::parse_cli;
use crate::error::Error;
use crate::runner::wait::{poll_interval, task_state, watch_paths, TaskState};
use crate::storage::layout::TaskPaths;
use crate::watch::progress;
use crate::watch::status_line::StatusLine;

/// Look again this often even without file events: the end of a process has no file
/// event, and some file systems deliver none.
const POLL_WITH_EVENTS: Duration = Duration::from_millis(500);
const POLL_WITHOUT_EVENTS: Duration = Duration::from_millis(200);

#[derive(Debug, Args)]
pub(crate) struct WaitArgs {
    /// Project of the tasks [default: $JRUN_PROJECT_ID]
    #[arg(long, value_name = "ID")]
    pub(crate) project: Option<String>,
    /// A task to wait for (repeatable) [default: $JRUN_TASK_ID]
    #[arg(long = "task", value_name = "ID")]
    pub(crate) tasks: Vec<String>,
    /// Return when any one of the tasks is done, not all
    #[arg(long)]
    pub(crate) any: bool,
    /// Give up after this long (exit 124)
    #[arg(long, value_name = "DURATION", value_parser = parse_cli)]
    pub(crate) timeout: Option<Duration>,
}

pub(crate) fn run(args: WaitArgs, global: &GlobalArgs) -> Result<u8, Error> {
    let ctx = Context::load(global)?;
    let names: Vec<String> = if args.tasks.is_empty() {
        env_nonempty("JRUN_TASK_ID").into_iter().collect()
    } else {
        args.tasks.clone()
    };
    if names.is_empty() {
        return Err(Error::Usage("no task: pass --task ID".to_owned()));
    }
    let tasks = names
        .iter()
        .map(|t| existing_task(&ctx, args.project.as_deref(), Some(t)))
        .collect::<Result<Vec<_>, _>>()?;

    let (tx, rx) = mpsc::channel::<()>();
    let watcher = events(&tasks, tx);
    let poll = poll_interval(if watcher.is_some() {
        POLL_WITH_EVENTS
    } else {
        POLL_WITHOUT_EVENTS
    });
    let deadline = args.timeout.map(|t| Instant::now() + t);
    let mut line = StatusLine::detect(false);
    let started = Instant::now();
    let label = format!(
        "waiting for {}",
        tasks
            .iter()
            .map(|t| format!("{}/{}", t.project_id, t.task_id))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut drawn_at: Option<Instant> = None;
    loop {
        if line.enabled() && drawn_at.is_none_or(|d| d.elapsed() >= Duration::from_secs(1)) {
            let refs: Vec<&TaskPaths> = tasks.iter().collect();
            let _ = line.draw(
                &mut std::io::stdout(),
                &progress::snapshot(label.clone(), &refs, started),
            );
            drawn_at = Some(Instant::now());
        }
        let states: Vec<TaskState> = tasks.iter().map(task_state).collect();
        let done = states.iter().filter(|s| **s == TaskState::Done).count();
        let ended = states.iter().filter(|s| **s == TaskState::Ended).count();
        if (args.any && done > 0) || done == tasks.len() {
            let _ = line.clear(&mut std::io::stdout());
            for (t, s) in tasks.iter().zip(&states) {
                if *s == TaskState::Done {
                    output::line(&format!("task {}/{} done", t.project_id, t.task_id))?;
                }
            }
            return Ok(0);
        }
        if (!args.any && ended > 0) || (args.any && ended == tasks.len()) {
            let _ = line.clear(&mut std::io::stdout());
            let which: Vec<String> = tasks
                .iter()
                .zip(&states)
                .filter(|(_, s)| **s == TaskState::Ended)
                .map(|(t, _)| format!("{}/{}", t.project_id, t.task_id))
                .collect();
            return Err(Error::Failed(format!(
                "task(s) {} ended without DONE (failed or stopped; see run-agent status, or run-agent resume)",
                which.join(", ")
            )));
        }
        let mut wait = poll;
        if let Some(d) = deadline {
            let left = d.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let _ = line.clear(&mut std::io::stdout());
                eprintln!("run-agent: wait: --timeout reached before the task(s) were done");
                return Ok(124);
            }
            wait = wait.min(left);
        }
        if rx.recv_timeout(wait).is_ok() {
            // Events come in bursts (a run writes several files): settle, then look once.
            std::thread::sleep(Duration::from_millis(5));
            while rx.try_recv().is_ok() {}
        }
    }
}

/// A file watcher over the tasks' folders that pings `tx` on any change, or `None` when
/// events are not available (then polling alone does the work).
fn events(tasks: &[TaskPaths], tx: mpsc::Sender<()>) -> Option<notify::RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(move |_res: notify::Result<notify::Event>| {
        let _ = tx.send(());
    })
    .ok()?;
    let mut watching = false;
    for task in tasks {
        for (path, recursive) in watch_paths(task) {
            let mode = if recursive {
                RecursiveMode::Recursive
            } else {
                RecursiveMode::NonRecursive
            };
            match watcher.watch(&path, mode) {
                Ok(()) => watching = true,
                Err(e) => tracing::debug!(path = %path.display(), error = %e, "cannot watch"),
            }
        }
    }
    watching.then_some(watcher)
}
