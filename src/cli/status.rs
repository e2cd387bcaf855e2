//! `run-agent status`: the run tree of a task (restart chain and children across tasks)
//! with status, durations, exit codes and usage.

use std::time::{Duration, SystemTime};

use clap::Args;
use serde::Serialize;

use super::args::GlobalArgs;
use super::context::{env_nonempty, Context};
use super::output;
use crate::agents::usage::usd;
use crate::error::Error;
use crate::runner::job::short;
use crate::watch::children::find_children;
use crate::watch::list::task_status;
use crate::watch::scan::{read_task, report_problems};
use crate::watch::tree::{build, cost, duration, live_count, RunJson, RunNode};

#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// Project id [default: $JRUN_PROJECT_ID]
    #[arg(long, value_name = "ID")]
    pub(crate) project: Option<String>,
    /// Task id [default: $JRUN_TASK_ID]
    #[arg(long, value_name = "ID")]
    pub(crate) task: Option<String>,
    /// Print the task and its run tree as one JSON object
    #[arg(long)]
    pub(crate) json: bool,
}

/// `status --json`: the task and its top-level runs, each with its children.
#[derive(Debug, Serialize)]
struct StatusJson<'a> {
    project_id: &'a str,
    task_id: &'a str,
    status: &'a str,
    done: bool,
    task_folder: String,
    runs: Vec<RunJson>,
}

pub(crate) fn run(args: StatusArgs, global: &GlobalArgs) -> Result<u8, Error> {
    let ctx = Context::load(global)?;
    let project = args
        .project
        .or_else(|| env_nonempty("JRUN_PROJECT_ID"))
        .ok_or_else(|| Error::Usage("no project: pass --project ID".to_owned()))?;
    let task_id = args
        .task
        .or_else(|| env_nonempty("JRUN_TASK_ID"))
        .ok_or_else(|| {
            Error::Usage("no task: pass --task ID (run-agent list shows the tasks)".to_owned())
        })?;
    let paths = ctx.layout.task(&project, &task_id)?;
    if !paths.dir.is_dir() {
        return Err(Error::Usage(format!(
            "no task {project}/{task_id} under {} (run-agent list shows the tasks)",
            ctx.layout.root().display()
        )));
    }
    let mut problems = Vec::new();
    let host = crate::watch::health::this_host();
    let task = read_task(
        project.clone(),
        task_id.clone(),
        paths.dir.clone(),
        &host,
        &mut problems,
    );
    let ids: Vec<&str> = task.runs.iter().map(|r| r.info.run_id.as_str()).collect();
    let dirs: Vec<_> = task.runs.iter().map(|r| r.dir.clone()).collect();
    let found = find_children(&dirs, &ids, &host, &mut problems);
    problems.sort_by(|a, b| a.path.cmp(&b.path));
    problems.dedup();
    report_problems(&problems);
    let tree = build(&task, &found);
    // A task whose own runs have ended still runs while a descendant is live.
    let status = if live_count(&tree) > 0 {
        "running"
    } else {
        task_status(&task)
    };
    let now = SystemTime::now();
    if args.json {
        output::json(&StatusJson {
            project_id: &project,
            task_id: &task_id,
            status,
            done: task.done,
            task_folder: task.dir.display().to_string(),
            runs: tree.iter().map(|n| RunJson::from_node(n, now)).collect(),
        })?;
        return Ok(0);
    }
    let cost = cost(&tree).map_or(String::new(), |c| format!(", {}", usd(c)));
    output::line(&format!(
        "{project}/{task_id}: {status}{}, {} run(s), {} live{cost}",
        if task.done { " (DONE)" } else { "" },
        task.runs.len(),
        live_count(&tree)
    ))?;
    for node in &tree {
        print_node(node, 1, now, (&project, &task_id))?;
    }
    Ok(0)
}

fn print_node(
    node: &RunNode,
    depth: usize,
    now: SystemTime,
    home: (&str, &str),
) -> Result<(), Error> {
    let r = &node.run;
    let status = if r.effective.process_gone {
        "failed (process gone)".to_owned()
    } else {
        r.effective.status.to_string()
    };
    let took = duration(r, now).map_or("-".to_owned(), |d| short(round(d)));
    let exit = if r.is_live() {
        String::new()
    } else {
        format!(" exit {}", r.info.exit_code)
    };
    let usage = r
        .info
        .usage
        .as_ref()
        .map(|u| {
            let cost = u.cost_usd.map_or(String::new(), |c| format!(" {}", usd(c)));
            format!(" {}in/{}out tokens{cost}", u.input_tokens, u.output_tokens)
        })
        .unwrap_or_default();
    let whose = if (r.info.project_id.as_str(), r.info.task_id.as_str()) != home {
        format!(" [{}/{}]", r.info.project_id, r.info.task_id)
    } else {
        String::new()
    };
    output::line(&format!(
        "{}{} attempt {} {status}{exit} {took}{usage}{whose}",
        "  ".repeat(depth),
        r.info.run_id,
        r.info.attempt,
    ))?;
    for c in &node.children {
        print_node(c, depth + 1, now, home)?;
    }
    Ok(())
}

fn round(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}
