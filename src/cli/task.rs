//! `run-agent task`: the Ralph loop over a task's root agent.

use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;

use super::args::GlobalArgs;
use super::context::Context;
use super::output;
use super::run_args::{RunArgs, TaskDefault};
use crate::config::duration::parse_cli;
use crate::error::Error;
use crate::runner::backoff;
use crate::runner::budget::Budget;
use crate::runner::job::short;
use crate::runner::ralph::{run_task, TaskEnd, TaskSpec};
use crate::runner::shutdown::Shutdown;
use crate::watch::progress;
use crate::watch::status_line::StatusLine;

/// Defaults of SPEC §4, used when neither the flag nor the config sets them.
const DEFAULT_MAX_RESTARTS: u32 = 100;
const DEFAULT_RESTART_DELAY: Duration = Duration::from_secs(1);
const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(30);
pub(crate) const DEFAULT_CHILD_WAIT_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, Args)]
pub(crate) struct TaskArgs {
    #[command(flatten)]
    pub(crate) run: RunArgs,
    /// At most N attempts in all [default: 100]
    #[arg(long, value_name = "N")]
    pub(crate) max_restarts: Option<u32>,
    /// Pause between attempts [default: 1s]
    #[arg(long, value_name = "DURATION", value_parser = parse_cli)]
    pub(crate) restart_delay: Option<Duration>,
    /// How long to wait for child runs once DONE exists [default: 300s]
    #[arg(long, value_name = "DURATION", value_parser = parse_cli)]
    pub(crate) child_wait_timeout: Option<Duration>,
    /// Time between SIGTERM and SIGKILL when stopping agents [default: 30s]
    #[arg(long, value_name = "DURATION", value_parser = parse_cli)]
    pub(crate) kill_grace: Option<Duration>,
    /// Stop the whole task after this long (exit 124)
    #[arg(long, value_name = "DURATION", value_parser = parse_cli)]
    pub(crate) timeout: Option<Duration>,
    /// Stop the task (exit 1) once its runs have cost this much; WARN at 80 %
    #[arg(long, value_name = "USD")]
    pub(crate) max_cost_usd: Option<f64>,
    /// Stop the task (exit 1) once its runs have used this many tokens; WARN at 80 %
    #[arg(long, value_name = "N")]
    pub(crate) max_tokens: Option<u64>,
    /// Print a JSON summary on stdout at the end
    #[arg(long)]
    pub(crate) json: bool,
}

/// The `--json` summary of a task.
#[derive(Debug, Serialize)]
struct TaskSummary<'a> {
    project_id: &'a str,
    task_id: &'a str,
    status: &'a str,
    done: bool,
    exit_code: u8,
    runs: u32,
    last_run_id: Option<&'a str>,
    output_path: Option<String>,
    task_folder: String,
    leftovers_terminated: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    cost_usd: Option<f64>,
    total_tokens: u64,
    duration_ms: u128,
}

pub(crate) async fn run(args: TaskArgs, global: &GlobalArgs) -> Result<u8, Error> {
    let ctx = Context::load(global)?;
    let restart = ctx.config.file.restart.clone();
    let prepared = args.run.prepare(ctx, TaskDefault::Generate, None)?;
    let max_restarts = args
        .max_restarts
        .or(restart.max_restarts)
        .unwrap_or(DEFAULT_MAX_RESTARTS);
    if max_restarts == 0 {
        return Err(Error::Usage(
            "--max-restarts must be at least 1 (it counts attempts in all)".to_owned(),
        ));
    }
    let restart_delay = args
        .restart_delay
        .or(restart.restart_delay)
        .unwrap_or(DEFAULT_RESTART_DELAY);
    let kill_grace = args
        .kill_grace
        .or(restart.kill_grace)
        .unwrap_or(DEFAULT_KILL_GRACE);
    let child_wait_timeout = args
        .child_wait_timeout
        .or(restart.child_wait_timeout)
        .unwrap_or(DEFAULT_CHILD_WAIT_TIMEOUT);

    let shutdown = Shutdown::install(args.timeout)
        .map_err(|e| Error::Failed(format!("cannot install signal handlers: {e}")))?;
    prepared.create_task(true)?;
    let line = StatusLine::detect(args.json);
    let ticker = line.enabled().then(|| {
        let task = prepared.task.clone();
        let label = format!("{}/{}", task.project_id, task.task_id);
        let started = Instant::now();
        tokio::spawn(async move {
            let mut line = StatusLine::detect(false);
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let snap = progress::snapshot(label.clone(), &[&task], started);
                let _ = line.draw(&mut std::io::stdout(), &snap);
            }
        })
    });
    let outcome = run_task(
        &TaskSpec {
            layout: &prepared.ctx.layout,
            task: &prepared.task,
            agents: &prepared.agents,
            prompt: &prepared.prompt,
            role: prepared.role.as_deref(),
            parent_run_id: &prepared.nesting.parent_run_id,
            depth: prepared.nesting.depth,
            cwd: &prepared.cwd,
            max_restarts,
            restart_delay,
            kill_grace,
            config: &prepared.ctx.config,
            budget: Budget {
                max_cost_usd: args
                    .max_cost_usd
                    .or(prepared.ctx.config.file.budget.max_cost_usd),
                max_tokens: args
                    .max_tokens
                    .or(prepared.ctx.config.file.budget.max_tokens),
            },
            rate_limit_backoff: (
                restart
                    .rate_limit_backoff
                    .unwrap_or(backoff::DEFAULT_INITIAL),
                restart
                    .rate_limit_backoff_max
                    .unwrap_or(backoff::DEFAULT_MAX),
            ),
            child_wait_timeout,
        },
        &shutdown,
    )
    .await;
    if let Some(ticker) = ticker {
        ticker.abort();
        let _ = line.erase(&mut std::io::stdout());
    }
    let outcome = outcome?;

    let code = outcome.end.exit_code();
    let task = &prepared.task;
    if args.json {
        output::json(&TaskSummary {
            project_id: &task.project_id,
            task_id: &task.task_id,
            status: outcome.end.word(),
            done: outcome.end == TaskEnd::Done,
            exit_code: code,
            runs: outcome.runs,
            last_run_id: outcome.last.as_ref().map(|j| j.run.run_id.as_str()),
            output_path: outcome.output_path().map(|p| p.display().to_string()),
            task_folder: task.dir.display().to_string(),
            leftovers_terminated: outcome.leftovers,
            cost_usd: outcome.usage.cost_usd,
            total_tokens: outcome.usage.total_tokens(),
            duration_ms: outcome.duration.as_millis(),
        })?;
    }
    let name = format!("{}/{}", task.project_id, task.task_id);
    let output = outcome
        .output_path()
        .map(|p| format!("; output {}", p.display()))
        .unwrap_or_default();
    match outcome.end {
        TaskEnd::Done if !args.json => {
            let line = if outcome.runs == 0 {
                format!("task {name} is already done (DONE exists); nothing to run")
            } else {
                format!("task {name} done after {} run(s) in {}{output}", outcome.runs, short(outcome.duration))
            };
            output::line(&line)?;
        }
        TaskEnd::Done => {}
        TaskEnd::Exhausted => eprintln!(
            "run-agent: task {name} failed: {} attempt(s) ran and none wrote {} (--max-restarts {max_restarts}){output}",
            outcome.runs,
            task.done.display()
        ),
        TaskEnd::BudgetSpent => eprintln!(
            "run-agent: task {name} failed: budget spent after {} run(s){output}",
            outcome.runs
        ),
        TaskEnd::Stopped(reason) => eprintln!("run-agent: task {name} {}{output}", reason.describe()),
    }
    Ok(code)
}
