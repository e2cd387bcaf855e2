//! Clap definitions of the command line. They hold no logic: each command turns its
//! arguments into a validated configuration before anything runs.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use super::{bus, context, gc, job, task};

/// Run AI coding agents in a Ralph loop, with all state in plain files.
#[derive(Debug, Parser)]
#[command(name = "run-agent", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// Runs root [default: $JRUN_ROOT, else `root:` in the config, else ./runs]
    #[arg(long, global = true, value_name = "DIR")]
    pub(crate) root: Option<PathBuf>,
    /// Config file [default: ./run-agent.yaml, else ~/.config/run-agent/config.yaml]
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// More log output on stderr (-v info, -vv debug); RUST_LOG overrides
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a task in the Ralph loop: restart the root agent until DONE exists and every
    /// run it started has exited
    Task(task::TaskArgs),
    /// Run an agent once, with no restarts
    Job(job::JobArgs),
    /// Post to and read the message buses
    Bus(bus::BusArgs),
    /// Housekeeping of the runs root (for now: rotate large message buses)
    Gc(gc::GcArgs),
}

impl Cli {
    /// Parses the process arguments; on bad usage clap prints the error and exits 2.
    pub fn parse_args() -> Self {
        Self::parse()
    }

    /// Runs `bus post` without clap when its arguments are plain (see
    /// `bus_post::fast_args`): a post is started once per message, so start-up counts.
    /// `None` when the arguments need the full parser.
    pub fn try_fast_path() -> Option<ExitCode> {
        let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
        let (global, args) = super::bus_post::fast_args(&argv)?;
        Some(context::finish(super::bus_post::run(args, &global)))
    }

    /// Whether the command needs the async runtime (processes, signals, file events).
    /// Quick commands skip building it.
    pub fn needs_runtime(&self) -> bool {
        matches!(self.command, Command::Task(_) | Command::Job(_))
    }

    /// Runs a command that needs no runtime.
    pub fn run_sync(self) -> ExitCode {
        // The bus commands log nothing unless asked: setting up the subscriber costs
        // more than a whole `bus post` (benchmarked against a raw C program).
        let quiet = matches!(self.command, Command::Bus(_))
            && self.global.verbose == 0
            && std::env::var_os("RUST_LOG").is_none();
        if !quiet {
            context::init_logging(&self.global);
        }
        let result = match self.command {
            Command::Bus(args) => bus::run(args, &self.global),
            Command::Gc(args) => gc::run(args, &self.global),
            Command::Task(_) | Command::Job(_) => Err(crate::error::Error::Failed(
                "internal error: this command needs the async runtime".to_owned(),
            )),
        };
        context::finish(result)
    }

    /// Runs a command inside the tokio runtime built by `main`.
    pub async fn run_async(self) -> ExitCode {
        context::init_logging(&self.global);
        if context::env_nonempty("JRUN_ID").is_some() {
            // Started by an agent: get out of its process group before anything slow, so
            // a signal to that group cannot cut this run off half-recorded.
            crate::runner::unix::leave_callers_group();
        }
        let result = match self.command {
            Command::Task(args) => task::run(args, &self.global).await,
            Command::Job(args) => job::run(args, &self.global).await,
            Command::Bus(args) => bus::run(args, &self.global),
            Command::Gc(args) => gc::run(args, &self.global),
        };
        context::finish(result)
    }
}
