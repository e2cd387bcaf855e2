//! `run-agent bus`: post, read and discover message buses (SPEC §3). None of these
//! builds the async runtime; `--follow` blocks on file events in this thread.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::args::GlobalArgs;
use super::bus_post::{self, PostArgs};
use super::bus_read::{self, ReadArgs};
use super::bus_stress::{self, StressArgs};
use super::context::{env_nonempty, Context};
use super::output;
use crate::bus::discover::discover;
use crate::error::Error;
use crate::storage::ids::validate_id;

#[derive(Debug, Args)]
pub(crate) struct BusArgs {
    #[command(subcommand)]
    pub(crate) command: BusCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum BusCommand {
    /// Append a message (body from --body or stdin); prints its id
    Post(PostArgs),
    /// Print messages: the last 20, or what --since/--unread/--type/--mine select
    Read(ReadArgs),
    /// Find the task and project buses above a directory
    Discover(DiscoverArgs),
    /// One writer process of the stress tests and benchmarks
    #[command(hide = true)]
    Stress(StressArgs),
}

/// Which bus: `--bus FILE`, else `--project P [--task T]`, else `$JRUN_MESSAGE_BUS`.
#[derive(Debug, Args)]
pub(crate) struct BusTarget {
    /// The bus file
    #[arg(long, value_name = "FILE", conflicts_with_all = ["project", "task"])]
    pub(crate) bus: Option<PathBuf>,
    /// Project id: its project bus, or with --task the task's bus [default: $JRUN_PROJECT_ID with --task]
    #[arg(long, value_name = "ID")]
    pub(crate) project: Option<String>,
    /// Task id (with --project, or inside a run)
    #[arg(long, value_name = "ID")]
    pub(crate) task: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct DiscoverArgs {
    /// Directory to start from [default: the current directory]
    #[arg(long, value_name = "DIR")]
    pub(crate) from: Option<PathBuf>,
    /// Print {"task_bus": ..., "project_bus": ...}
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn run(args: BusArgs, global: &GlobalArgs) -> Result<u8, Error> {
    match args.command {
        BusCommand::Post(a) => bus_post::run(a, global),
        BusCommand::Read(a) => bus_read::run(a, global),
        BusCommand::Discover(a) => run_discover(a),
        BusCommand::Stress(a) => bus_stress::run(a),
    }
}

impl BusTarget {
    /// Whether a bus was named on the command line (not taken from the environment).
    pub(crate) fn explicit(&self) -> bool {
        self.bus.is_some() || self.project.is_some() || self.task.is_some()
    }

    /// The project and task ids of this target, from the flags or the run's environment.
    pub(crate) fn ids(&self) -> (String, String) {
        let project = self
            .project
            .clone()
            .or_else(|| env_nonempty("JRUN_PROJECT_ID"))
            .unwrap_or_default();
        let task = self
            .task
            .clone()
            .or_else(|| {
                if self.project.is_none() {
                    env_nonempty("JRUN_TASK_ID")
                } else {
                    None
                }
            })
            .unwrap_or_default();
        (project, task)
    }

    /// The bus path; with `create`, makes the project or task folder it lives in.
    pub(crate) fn resolve(&self, global: &GlobalArgs, create: bool) -> Result<PathBuf, Error> {
        if let Some(bus) = &self.bus {
            return Ok(bus.clone());
        }
        if self.project.is_some() || self.task.is_some() {
            let (project, task) = self.ids();
            if project.is_empty() {
                return Err(Error::Usage(
                    "--task needs --project (or $JRUN_PROJECT_ID inside a run)".into(),
                ));
            }
            let ctx = Context::load(global)?;
            if task.is_empty() {
                validate_id("project", &project)?;
                let dir = ctx.layout.root().join(&project);
                if create {
                    std::fs::create_dir_all(&dir)
                        .map_err(Error::io("create the project folder", &dir))?;
                    ctx.layout.check_inside(&dir)?;
                }
                return Ok(dir.join("PROJECT-MESSAGE-BUS.md"));
            }
            let paths = ctx.layout.task(&project, &task)?;
            if create {
                ctx.layout.create_task_dirs(&paths)?;
            }
            return Ok(paths.bus);
        }
        env_nonempty("JRUN_MESSAGE_BUS").map(PathBuf::from).ok_or_else(|| {
            Error::Usage(
                "no bus given: pass --bus FILE or --project P [--task T], or run inside a run (where $JRUN_MESSAGE_BUS is set)".into(),
            )
        })
    }
}

fn run_discover(args: DiscoverArgs) -> Result<u8, Error> {
    let here = std::env::current_dir().map_err(Error::io("read the current directory", "."))?;
    let from = match &args.from {
        Some(d) => here.join(d),
        None => here,
    };
    if !from.is_dir() {
        return Err(Error::Usage(format!(
            "--from {} is not a directory",
            from.display()
        )));
    }
    let found = discover(&from);
    if args.json {
        output::json(&found)?;
        return Ok(0);
    }
    let show = |p: &Option<PathBuf>| p.as_deref().map(Path::display).map(|d| d.to_string());
    match (show(&found.task_bus), show(&found.project_bus)) {
        (None, None) => Err(Error::Failed(format!(
            "no message bus above {} (no TASK-MESSAGE-BUS.md, TASK.md or PROJECT-MESSAGE-BUS.md in it or its parents)",
            from.display()
        ))),
        (task, project) => {
            if let Some(t) = task {
                output::line(&format!("task_bus: {t}"))?;
            }
            if let Some(p) = project {
                output::line(&format!("project_bus: {p}"))?;
            }
            Ok(0)
        }
    }
}
