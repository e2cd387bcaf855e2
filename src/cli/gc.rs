//! `run-agent gc`: removes finished runs and done tasks older than an age, never a live
//! one; prints what it removed (or, with `--dry-run`, what it would remove). The bus
//! rotation flags join this command at merge.

use std::time::{Duration, SystemTime};

use clap::Args;

use super::args::GlobalArgs;
use super::context::Context;
use super::output;
use crate::config::duration::parse_cli;
use crate::error::Error;
use crate::watch::gc::{execute, plan, GcOptions, Removal};
use crate::watch::scan::report_problems;

#[derive(Debug, Args)]
pub(crate) struct GcArgs {
    /// Remove finished runs and done tasks that ended longer ago than this (e.g. 7d, 12h, 0s)
    #[arg(long, value_name = "DURATION", value_parser = parse_cli)]
    pub(crate) older_than: Option<Duration>,
    /// Print what would be removed, remove nothing
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Keep failed runs (and the tasks holding them)
    #[arg(long)]
    pub(crate) keep_failed: bool,
    /// Only this project
    #[arg(long, value_name = "ID")]
    pub(crate) project: Option<String>,
}

pub(crate) fn run(args: GcArgs, global: &GlobalArgs) -> Result<u8, Error> {
    let ctx = Context::load(global)?;
    let Some(older_than) = args.older_than else {
        return Err(Error::Usage(
            "gc needs --older-than DURATION (for example --older-than 7d; 0s removes every finished run)".to_owned(),
        ));
    };
    if let Some(p) = &args.project {
        crate::storage::ids::validate_id("project", p)?;
    }
    let opts = GcOptions {
        older_than,
        keep_failed: args.keep_failed,
        project: args.project,
    };
    let planned = plan(ctx.layout.root(), &opts, SystemTime::now());
    report_problems(&planned.problems);
    let (removed, errors) = if args.dry_run {
        (planned.removals.clone(), Vec::new())
    } else {
        execute(&planned)
    };
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    let (mut tasks, mut runs) = (0, 0);
    for r in &removed {
        match r {
            Removal::Task { path, runs: n } => {
                tasks += 1;
                runs += n;
                output::line(&format!("{verb} task {} ({n} runs)", path.display()))?;
            }
            Removal::Run { path } => {
                runs += 1;
                output::line(&format!("{verb} run {}", path.display()))?;
            }
        }
    }
    report_problems(&errors);
    eprintln!("run-agent: gc {verb} {tasks} task(s) and {runs} run(s)");
    Ok(if errors.is_empty() { 0 } else { 1 })
}
