//! `run-agent job`: one run of an agent, no restarts; exits with the agent's code.

use std::time::Duration;

use clap::Args;
use serde::Serialize;

use super::args::GlobalArgs;
use super::context::{env_nonempty, Context};
use super::output;
use super::run_args::{RunArgs, TaskDefault};
use super::task::DEFAULT_CHILD_WAIT_TIMEOUT;
use crate::config::duration::parse_cli;
use crate::error::Error;
use crate::runner::descendants::{collect, register_by_id, tree_pgids};
use crate::runner::job::JobOutcome;
use crate::runner::job::{run_job, JobSpec};
use crate::runner::leftovers::end_leftovers;
use crate::runner::shutdown::{Request, Shutdown};
use crate::runner::stop::stop_tree;
use crate::runner::wait::children;

const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(30);

#[derive(Debug, Args)]
pub(crate) struct JobArgs {
    #[command(flatten)]
    pub(crate) run: RunArgs,
    /// The run this one is a child of [default: $JRUN_ID]
    #[arg(long, value_name = "RUN_ID")]
    pub(crate) parent_run_id: Option<String>,
    /// Stop the agent after this long (exit 124)
    #[arg(long, value_name = "DURATION", value_parser = parse_cli)]
    pub(crate) timeout: Option<Duration>,
    /// Time between SIGTERM and SIGKILL when stopping the agent [default: 30s]
    #[arg(long, value_name = "DURATION", value_parser = parse_cli)]
    pub(crate) kill_grace: Option<Duration>,
    /// Print a JSON summary on stdout at the end
    #[arg(long)]
    pub(crate) json: bool,
}

/// The `--json` summary of a job.
#[derive(Debug, Serialize)]
struct JobSummary<'a> {
    project_id: &'a str,
    task_id: &'a str,
    run_id: &'a str,
    status: String,
    exit_code: i32,
    output_path: String,
    run_folder: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    cost_usd: Option<f64>,
    total_tokens: u64,
    duration_ms: u128,
}

pub(crate) async fn run(args: JobArgs, global: &GlobalArgs) -> Result<u8, Error> {
    if args.run.agent.as_deref().is_some_and(|a| a.contains(',')) {
        return Err(Error::Usage(
            "job runs one agent: give --agent a single name (agents take turns only across the restarts of `task`)".to_owned(),
        ));
    }
    let ctx = Context::load(global)?;
    let grace_cfg = ctx.config.file.restart.kill_grace;
    let child_wait_cfg = ctx.config.file.restart.child_wait_timeout;
    let prepared = args.run.prepare(
        ctx,
        TaskDefault::InheritOrGenerate,
        args.parent_run_id.as_deref(),
    )?;
    let kill_grace = args.kill_grace.or(grace_cfg).unwrap_or(DEFAULT_KILL_GRACE);
    let child_wait = child_wait_cfg.unwrap_or(DEFAULT_CHILD_WAIT_TIMEOUT);
    let shutdown = Shutdown::install(args.timeout)
        .map_err(|e| Error::Failed(format!("cannot install signal handlers: {e}")))?;
    if let Some(parent) = args.parent_run_id.as_deref() {
        // Not registered at startup when the parent is not the calling run: find it now.
        register_by_id(&prepared.ctx.layout, parent);
    }
    prepared.create_task(false)?;
    let outcome = run_job(
        &JobSpec {
            layout: &prepared.ctx.layout,
            task: &prepared.task,
            agent: &prepared.agents[0],
            prompt: &prepared.prompt,
            role: prepared.role.as_deref(),
            parent_run_id: &prepared.nesting.parent_run_id,
            previous_run_id: "",
            attempt: 1,
            depth: prepared.nesting.depth,
            cwd: &prepared.cwd,
            kill_grace,
            config: &prepared.ctx.config,
        },
        &shutdown,
    )
    .await?;
    // A job started outside any run is a top-level command: nothing it started may
    // outlive it. Inside a run, the owning top-level command does this at its end.
    let mut late_stop = None;
    if env_nonempty("JRUN_ID").is_none() {
        if outcome.stopped.is_none() {
            let roots = vec![outcome.run.dir.clone()];
            late_stop = children(&prepared.task, roots, &shutdown, child_wait, kill_grace).await;
        }
        stop_unfinished_job(&outcome, &shutdown, kill_grace).await;
        let mut groups = vec![outcome.pgid];
        groups.extend(tree_pgids(&collect(std::slice::from_ref(&outcome.run.dir))));
        end_leftovers(&groups, kill_grace).await;
    }
    if args.json {
        output::json(&JobSummary {
            project_id: &prepared.task.project_id,
            task_id: &prepared.task.task_id,
            run_id: &outcome.run.run_id,
            status: outcome.status.to_string(),
            exit_code: outcome.exit_code,
            output_path: outcome.run.output.display().to_string(),
            run_folder: outcome.run.dir.display().to_string(),
            cost_usd: outcome.usage.as_ref().and_then(|u| u.cost_usd),
            total_tokens: outcome.usage.as_ref().map_or(0, |u| u.total_tokens()),
            duration_ms: outcome.duration.as_millis(),
        })?;
    }
    let code = match outcome.stopped.or(late_stop) {
        Some(reason) => i32::from(reason.exit_code()),
        None => outcome.exit_code,
    };
    Ok(code.clamp(0, 255) as u8)
}

/// A top-level job that was stopped (signal, `--timeout`) or ran past the child wait
/// leaves nothing running below it.
async fn stop_unfinished_job(outcome: &JobOutcome, shutdown: &Shutdown, grace: Duration) {
    let grace = if matches!(shutdown.current(), Request::Kill(_)) {
        Duration::ZERO
    } else {
        grace
    };
    stop_tree(
        vec![outcome.run.dir.clone()],
        true,
        grace,
        Some(shutdown.subscribe()),
    )
    .await;
}
