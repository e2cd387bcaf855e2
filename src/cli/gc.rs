//! `run-agent gc`: housekeeping of the runs root. `--older-than` removes finished runs
//! and done tasks past an age, never a live one; `--rotate-bus` moves message buses
//! larger than `--bus-max-size` aside. Each prints what it did (or, with `--dry-run`,
//! what it would do).

use std::path::Path;
use std::time::{Duration, SystemTime};

use clap::Args;

use super::args::GlobalArgs;
use super::context::Context;
use super::output;
use crate::bus::append::DEFAULT_LOCK_TIMEOUT;
use crate::bus::rotate::{buses_under, rotate_if_larger};
use crate::config::duration::parse_cli;
use crate::error::Error;
use crate::watch::gc::{execute, plan, GcOptions, Removal};
use crate::watch::scan::report_problems;

#[derive(Debug, Args)]
pub(crate) struct GcArgs {
    /// Remove finished runs and done tasks that ended longer ago than this (e.g. 7d, 12h, 0s)
    #[arg(long, value_name = "DURATION", value_parser = parse_cli)]
    pub(crate) older_than: Option<Duration>,
    /// Print what would be done, change nothing
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Keep failed runs (and the tasks holding them)
    #[arg(long)]
    pub(crate) keep_failed: bool,
    /// Only this project
    #[arg(long, value_name = "ID")]
    pub(crate) project: Option<String>,
    /// Move message buses larger than --bus-max-size to <name>.<timestamp>.archived
    #[arg(long, requires = "bus_max_size")]
    pub(crate) rotate_bus: bool,
    /// Size above which --rotate-bus rotates a bus (bytes, or with K, M, G: 10M, 1G)
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub(crate) bus_max_size: Option<u64>,
    /// Longest wait for a bus's lock while rotating it [default: 10s]
    #[arg(long, value_name = "DURATION", value_parser = parse_cli)]
    pub(crate) lock_timeout: Option<Duration>,
}

pub(crate) fn run(args: GcArgs, global: &GlobalArgs) -> Result<u8, Error> {
    let ctx = Context::load(global)?;
    if args.older_than.is_none() && !args.rotate_bus {
        return Err(Error::Usage(
            "gc: nothing to do (pass --older-than DURATION, e.g. 7d, and/or --rotate-bus --bus-max-size SIZE)".to_owned(),
        ));
    }
    if let Some(p) = &args.project {
        crate::storage::ids::validate_id("project", p)?;
    }
    let mut code = 0;
    if let Some(older_than) = args.older_than {
        code = remove_old(ctx.layout.root(), older_than, &args)?;
    }
    if args.rotate_bus {
        let root = match &args.project {
            Some(p) => ctx.layout.root().join(p),
            None => ctx.layout.root().to_path_buf(),
        };
        rotate_buses(&root, &args)?;
    }
    Ok(code)
}

fn remove_old(root: &Path, older_than: Duration, args: &GcArgs) -> Result<u8, Error> {
    let opts = GcOptions {
        older_than,
        keep_failed: args.keep_failed,
        project: args.project.clone(),
    };
    let planned = plan(root, &opts, SystemTime::now());
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

fn rotate_buses(root: &Path, args: &GcArgs) -> Result<(), Error> {
    let max = args.bus_max_size.unwrap_or(u64::MAX);
    let timeout = args.lock_timeout.unwrap_or(DEFAULT_LOCK_TIMEOUT);
    for bus in buses_under(root) {
        if let Some((archive, size)) = rotate_if_larger(&bus, max, args.dry_run, timeout)? {
            let verb = if args.dry_run {
                "would rotate"
            } else {
                "rotated"
            };
            output::line(&format!(
                "{verb} {} ({size} bytes) to {}",
                bus.display(),
                archive.display()
            ))?;
        }
    }
    Ok(())
}

/// Parses `4096`, `512K`, `10M`, `10MB`, `10MiB`, `1G` (K, M, G are powers of 1024).
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size (use bytes, or a number with K, M or G)"))?;
    let mult: u64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        _ => return Err(format!("{s:?}: unknown size unit {unit:?} (use K, M or G)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("10M"), Ok(10 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert!(parse_size("ten").is_err());
        assert!(parse_size("5X").is_err());
    }
}
