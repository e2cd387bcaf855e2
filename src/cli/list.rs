//! `run-agent list`: projects and tasks with status, runs, last activity and cost.

use std::time::SystemTime;

use clap::Args;

use super::args::GlobalArgs;
use super::context::Context;
use super::output;
use crate::agents::usage::usd;
use crate::error::Error;
use crate::watch::list::{ago, TaskSummary};
use crate::watch::scan::{report_problems, scan, Scope};

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only this project
    #[arg(long, value_name = "ID")]
    pub(crate) project: Option<String>,
    /// Only these tasks (repeatable; needs --project)
    #[arg(long, value_name = "ID", requires = "project")]
    pub(crate) task: Vec<String>,
    /// Print a JSON array of tasks
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn run(args: ListArgs, global: &GlobalArgs) -> Result<u8, Error> {
    let ctx = Context::load(global)?;
    let scope = scope_of(args.project, args.task)?;
    let found = scan(ctx.layout.root(), &scope);
    report_problems(&found.problems);
    let summaries: Vec<TaskSummary> = found.tasks.iter().map(TaskSummary::of).collect();
    if args.json {
        output::json(&summaries)?;
        return Ok(0);
    }
    if summaries.is_empty() {
        eprintln!(
            "run-agent: no tasks under {} (start one with run-agent task --project P --prompt ...)",
            ctx.layout.root().display()
        );
        return Ok(0);
    }
    let now = SystemTime::now();
    let width = summaries
        .iter()
        .map(|s| s.project_id.len() + s.task_id.len() + 1)
        .max()
        .unwrap_or(4)
        .max(4);
    output::line(&format!(
        "{:<9} {:<width$} {:>5} {:>7} {:<14} COST",
        "STATUS", "TASK", "RUNS", "RUNNING", "LAST ACTIVITY"
    ))?;
    for s in &summaries {
        let name = format!("{}/{}", s.project_id, s.task_id);
        let cost = s.cost_usd.map_or("-".to_owned(), usd);
        output::line(&format!(
            "{:<9} {:<width$} {:>5} {:>7} {:<14} {cost}",
            s.status,
            name,
            s.runs,
            s.running,
            ago(s.last_activity.as_deref(), now)
        ))?;
    }
    Ok(0)
}

/// Validates the ids of a scope before anything is read.
pub(crate) fn scope_of(project: Option<String>, tasks: Vec<String>) -> Result<Scope, Error> {
    if let Some(p) = &project {
        crate::storage::ids::validate_id("project", p)?;
    }
    for t in &tasks {
        crate::storage::ids::validate_id("task", t)?;
    }
    Ok(Scope { project, tasks })
}
