//! `run-agent stop`: stops a task (all its runs and their descendants) or one run from
//! outside, even when the runner that started them is gone.

use std::time::Duration;

use clap::Args;
use serde::Serialize;

use super::args::GlobalArgs;
use super::context::Context;
use super::output;
use super::target::{existing_run, existing_task};
use crate::config::duration::parse_cli;
use crate::error::Error;
use crate::runner::descendants::{collect, task_run_dirs};
use crate::runner::heal::{heal_all, HealAs};
use crate::runner::process_unix::Snapshot;
use crate::runner::stop::stop_tree_blocking;

const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(30);

#[derive(Debug, Args)]
pub(crate) struct StopArgs {
    /// Project of the task to stop [default: $JRUN_PROJECT_ID]
    #[arg(long, value_name = "ID")]
    pub(crate) project: Option<String>,
    /// Task to stop, with all its runs and their descendants [default: $JRUN_TASK_ID]
    #[arg(long, value_name = "ID")]
    pub(crate) task: Option<String>,
    /// Stop this one run and its descendants instead of a task
    #[arg(long, value_name = "RUN_ID", conflicts_with_all = ["project", "task"])]
    pub(crate) run: Option<String>,
    /// Time between SIGTERM and SIGKILL [default: 30s]
    #[arg(long, value_name = "DURATION", value_parser = parse_cli)]
    pub(crate) kill_grace: Option<Duration>,
    /// Print a JSON summary on stdout
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Serialize)]
struct StopSummary<'a> {
    target: &'a str,
    signalled: usize,
    stopped_records: usize,
    failed_records: usize,
    survivors: usize,
    /// Milliseconds from the start of the stop until no process of the tree remained.
    quiet_ms: u128,
}

pub(crate) fn run(args: StopArgs, global: &GlobalArgs) -> Result<u8, Error> {
    let ctx = Context::load(global)?;
    let grace = args
        .kill_grace
        .or(ctx.config.file.restart.kill_grace)
        .unwrap_or(DEFAULT_KILL_GRACE);
    let (target, roots) = match &args.run {
        Some(id) => (format!("run {id}"), vec![existing_run(&ctx, id)?]),
        None => {
            let task = existing_task(&ctx, args.project.as_deref(), args.task.as_deref())?;
            (
                format!("task {}/{}", task.project_id, task.task_id),
                task_run_dirs(&task),
            )
        }
    };
    // Records whose processes were already gone before we came are failures, not
    // something this stop did.
    let mut tree = collect(&roots);
    let failed = heal_all(&mut tree.runs, HealAs::Found, &Snapshot::take());
    let report = stop_tree_blocking(roots, false, grace);
    if args.json {
        output::json(&StopSummary {
            target: &target,
            signalled: report.signalled,
            stopped_records: report.healed,
            failed_records: failed,
            survivors: report.survivors,
            quiet_ms: report.quiet_after.as_millis(),
        })?;
    } else if report.signalled == 0 && report.healed == 0 {
        output::line(&format!("{target}: nothing was running"))?;
    } else {
        output::line(&format!(
            "{target}: stopped ({} process group(s) and runner(s) signalled, {} record(s) finished as stopped)",
            report.signalled, report.healed
        ))?;
    }
    if report.survivors > 0 {
        return Err(Error::Failed(format!(
            "{target}: {} process(es) still alive after SIGKILL",
            report.survivors
        )));
    }
    Ok(0)
}
