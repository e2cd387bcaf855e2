//! Clap definitions of the command line. They hold no logic: each command turns its
//! arguments into a validated configuration before anything runs.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use super::{
    bus, completions, context, gc, job, list, man, resume, show_output, status, stop, task, usage,
    validate, wait, watch,
};

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
    /// Config file [default: $JRUN_CONFIG inside a run, else ./run-agent.yaml, else
    /// ~/.config/run-agent/config.yaml]
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
    /// Stop a task (every run and descendant) or one run, even when its runner is gone
    Stop(stop::StopArgs),
    /// Remove DONE and run the task's loop again
    Resume(resume::ResumeArgs),
    /// Block until tasks are done (all, or --any)
    Wait(wait::WaitArgs),
    /// Post to and read the message buses
    Bus(bus::BusArgs),
    /// List projects and tasks: status, runs, last activity, cost
    List(list::ListArgs),
    /// Show a task's run tree: restart chain and children, durations, exit codes, usage
    Status(status::StatusArgs),
    /// Print or follow one file of a run (output, stdout, stderr, prompt)
    Output(show_output::OutputArgs),
    /// Stream every run's stdout and stderr in scope, with bus messages, until the
    /// tasks are done
    Watch(watch::WatchArgs),
    /// Sum tokens and cost from the run records
    Usage(usage::UsageArgs),
    /// Remove finished runs and done tasks older than an age; rotate large buses
    Gc(gc::GcArgs),
    /// Check the config and every configured agent's program, version and token
    Validate(validate::ValidateArgs),
    /// Print a shell completion script
    Completions(completions::CompletionsArgs),
    /// Print the man page (or write one page per command with --dir)
    Man(man::ManArgs),
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
        matches!(
            self.command,
            Command::Task(_) | Command::Job(_) | Command::Resume(_)
        )
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
            Command::Task(_) | Command::Job(_) | Command::Resume(_) => {
                Err(crate::error::Error::Failed(
                    "internal error: this command needs the async runtime".to_owned(),
                ))
            }
            // Views, bus, stop and wait run on plain threads: no runtime to build.
            Command::Bus(args) => bus::run(args, &self.global),
            Command::Stop(args) => stop::run(args, &self.global),
            Command::Wait(args) => wait::run(args, &self.global),
            Command::List(args) => list::run(args, &self.global),
            Command::Status(args) => status::run(args, &self.global),
            Command::Output(args) => show_output::run(args, &self.global),
            Command::Watch(args) => watch::run(args, &self.global),
            Command::Usage(args) => usage::run(args, &self.global),
            Command::Gc(args) => gc::run(args, &self.global),
            Command::Validate(args) => validate::run(args, &self.global),
            Command::Completions(args) => completions::run(args),
            Command::Man(args) => man::run(args),
        };
        context::finish(result)
    }

    /// Runs a command inside the tokio runtime built by `main`.
    pub async fn run_async(self) -> ExitCode {
        context::init_logging(&self.global);
        let explicit_parent = match &self.command {
            Command::Job(args) => args.parent_run_id.as_deref(),
            _ => None,
        };
        if context::env_nonempty("JRUN_ID").is_some() || explicit_parent.is_some() {
            // Started by an agent: register with the parent run while still in the
            // agent's process group (so the loop sees this process until it is
            // registered), then get out of that group before anything slow, so a signal
            // to it cannot cut this run off half-recorded.
            crate::runner::descendants::register_from_env(explicit_parent);
            crate::runner::unix::leave_callers_group();
        }
        let result = match self.command {
            Command::Task(args) => task::run(args, &self.global).await,
            Command::Job(args) => job::run(args, &self.global).await,
            Command::Resume(args) => resume::run(args, &self.global).await,
            other => {
                return Cli {
                    global: self.global,
                    command: other,
                }
                .run_sync()
            }
        };
        context::finish(result)
    }
}
