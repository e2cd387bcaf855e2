//! `run-agent gc`: housekeeping of the runs root. For now: `--rotate-bus` moves buses
//! larger than `--bus-max-size` aside. Each kind of cleanup is one function below;
//! `run` calls those that were asked for.

use std::path::Path;
use std::time::Duration;

use clap::Args;

use super::args::GlobalArgs;
use super::context::Context;
use super::output;
use crate::bus::append::DEFAULT_LOCK_TIMEOUT;
use crate::bus::rotate::{buses_under, rotate_if_larger};
use crate::config::duration::parse_cli;
use crate::error::Error;

#[derive(Debug, Args)]
pub(crate) struct GcArgs {
    /// Say what would be done, change nothing
    #[arg(long)]
    pub(crate) dry_run: bool,
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
    let mut did_something = false;
    if args.rotate_bus {
        did_something = true;
        rotate_buses(ctx.layout.root(), &args)?;
    }
    if !did_something {
        return Err(Error::Usage(
            "gc: nothing to do (pass --rotate-bus --bus-max-size SIZE)".into(),
        ));
    }
    Ok(0)
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
