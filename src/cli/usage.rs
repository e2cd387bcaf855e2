//! `run-agent usage`: tokens and cost summed from the run records, grouped.

use std::collections::BTreeMap;

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::args::GlobalArgs;
use super::context::Context;
use super::output;
use crate::agents::usage::Usage;
use crate::error::Error;
use crate::storage::ids::validate_id;
use crate::storage::run_info::RunInfo;

#[derive(Debug, Args)]
pub(crate) struct UsageArgs {
    /// Only this project
    #[arg(long, value_name = "ID")]
    pub(crate) project: Option<String>,
    /// Only this task (with --project)
    #[arg(long, value_name = "ID", requires = "project")]
    pub(crate) task: Option<String>,
    /// How to group the sums
    #[arg(long, value_enum, default_value_t = GroupBy::Task)]
    pub(crate) by: GroupBy,
    /// Print one JSON document
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum GroupBy {
    Project,
    Task,
    Agent,
    Day,
}

/// One group's sums.
#[derive(Debug, Default, Serialize)]
struct Group {
    key: String,
    runs: u64,
    #[serde(flatten)]
    usage: Usage,
    total_tokens: u64,
}

#[derive(Debug, Serialize)]
struct Report {
    by: GroupBy,
    groups: Vec<Group>,
    total: Group,
}

pub(crate) fn run(args: UsageArgs, global: &GlobalArgs) -> Result<u8, Error> {
    let ctx = Context::load(global)?;
    if let Some(p) = &args.project {
        validate_id("project", p)?;
    }
    if let Some(t) = &args.task {
        validate_id("task", t)?;
    }
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    let mut total = Group {
        key: "total".to_owned(),
        ..Group::default()
    };
    for info in records(
        ctx.layout.root(),
        args.project.as_deref(),
        args.task.as_deref(),
    ) {
        let key = match args.by {
            GroupBy::Project => info.project_id.clone(),
            GroupBy::Task => format!("{}/{}", info.project_id, info.task_id),
            GroupBy::Agent => info.agent.clone(),
            GroupBy::Day => info.start_time.get(..10).unwrap_or("unknown").to_owned(),
        };
        let usage = info.usage.clone().unwrap_or_default();
        let g = groups.entry(key.clone()).or_insert_with(|| Group {
            key,
            ..Group::default()
        });
        for g in [g, &mut total] {
            g.runs += 1;
            g.usage.add(&usage);
            g.total_tokens = g.usage.total_tokens();
        }
    }
    let report = Report {
        by: args.by,
        groups: groups.into_values().collect(),
        total,
    };
    if args.json {
        output::json(&report)?;
        return Ok(0);
    }
    output::line(&format!(
        "{:<40} {:>6} {:>12} {:>12} {:>12} {:>12} {:>10}",
        "key", "runs", "input", "output", "cache_read", "cache_write", "cost_usd"
    ))?;
    for g in report.groups.iter().chain(std::iter::once(&report.total)) {
        output::line(&format!(
            "{:<40} {:>6} {:>12} {:>12} {:>12} {:>12} {:>10}",
            g.key,
            g.runs,
            g.usage.input_tokens,
            g.usage.output_tokens,
            g.usage.cache_read_tokens,
            g.usage.cache_write_tokens,
            g.usage
                .cost_usd
                .map_or_else(|| "-".to_owned(), |c| format!("{c:.4}"))
        ))?;
    }
    Ok(0)
}

/// Every readable run record in scope. Unreadable records are named on stderr and
/// skipped, so one bad file does not hide the rest.
fn records(root: &std::path::Path, project: Option<&str>, task: Option<&str>) -> Vec<RunInfo> {
    let mut out = Vec::new();
    for project_dir in subdirs(root, project) {
        for task_dir in subdirs(&project_dir, task) {
            for run_dir in subdirs(&task_dir.join("runs"), None) {
                let path = run_dir.join("run-info.yaml");
                match RunInfo::load(&path) {
                    Ok(info) => out.push(info),
                    Err(e) => eprintln!("run-agent: warning: skipping {}: {e}", run_dir.display()),
                }
            }
        }
    }
    out
}

fn subdirs(dir: &std::path::Path, only: Option<&str>) -> Vec<std::path::PathBuf> {
    if let Some(name) = only {
        let p = dir.join(name);
        return if p.is_dir() { vec![p] } else { Vec::new() };
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<_> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}
