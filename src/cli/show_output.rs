//! `run-agent output`: print (or follow) one file of a run: output, stdout, stderr or the
//! prompt, of a named run or of a task's latest run.

use std::io::Read;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::args::GlobalArgs;
use super::context::{env_nonempty, Context};
use super::output;
use crate::error::Error;
use crate::storage::ids::validate_id;
use crate::watch::follow::{Follower, Waker};
use crate::watch::health::this_host;
use crate::watch::scan::{read_run, subdirs};

/// Which file of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RunFile {
    /// output.md: the run's result
    Output,
    /// agent-stdout.txt
    Stdout,
    /// agent-stderr.txt
    Stderr,
    /// prompt.md: exactly what the agent was given
    Prompt,
}

impl RunFile {
    fn name(self) -> &'static str {
        match self {
            Self::Output => "output.md",
            Self::Stdout => "agent-stdout.txt",
            Self::Stderr => "agent-stderr.txt",
            Self::Prompt => "prompt.md",
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct OutputArgs {
    /// The run (default: the latest run of --project/--task)
    #[arg(long, value_name = "RUN_ID", conflicts_with_all = ["project", "task"])]
    pub(crate) run: Option<String>,
    /// Project id [default: $JRUN_PROJECT_ID]
    #[arg(long, value_name = "ID")]
    pub(crate) project: Option<String>,
    /// Task id [default: $JRUN_TASK_ID]
    #[arg(long, value_name = "ID")]
    pub(crate) task: Option<String>,
    /// Which file to print
    #[arg(long, value_enum, default_value = "output")]
    pub(crate) file: RunFile,
    /// Only the last N lines
    #[arg(long, value_name = "N")]
    pub(crate) tail: Option<usize>,
    /// Keep printing what is appended until the run ends
    #[arg(long, short = 'f')]
    pub(crate) follow: bool,
}

pub(crate) fn run(args: OutputArgs, global: &GlobalArgs) -> Result<u8, Error> {
    let ctx = Context::load(global)?;
    let run_dir = find_run_dir(&ctx, &args)?;
    let path = run_dir.join(args.file.name());
    if !args.follow {
        let mut text = Vec::new();
        std::fs::File::open(&path)
            .and_then(|mut f| f.read_to_end(&mut text))
            .map_err(|e| {
                Error::Failed(format!(
                    "cannot read {}: {e}{}",
                    path.display(),
                    if args.file == RunFile::Output {
                        " (output.md is written when the run ends; try --file stdout or --follow)"
                    } else {
                        ""
                    }
                ))
            })?;
        let text = String::from_utf8_lossy(&text);
        print_tail(&text, args.tail)?;
        return Ok(0);
    }
    follow(run_dir, path, args.tail)
}

/// Prints the whole text, or its last `n` lines.
fn print_tail(text: &str, tail: Option<usize>) -> Result<(), Error> {
    let lines: Vec<&str> = text.lines().collect();
    let skip = tail.map_or(0, |n| lines.len().saturating_sub(n));
    for l in &lines[skip..] {
        output::line(l)?;
    }
    Ok(())
}

/// Prints what is there (or its tail), then what is appended, until the run has ended
/// and everything it wrote is printed.
fn follow(run_dir: PathBuf, path: PathBuf, tail: Option<usize>) -> Result<u8, Error> {
    let host = this_host();
    let mut waker = Waker::new();
    waker.watch_dir(&run_dir);
    let mut f = Follower::new(path, false);
    let first = f.lines().unwrap_or_default();
    let skip = tail.map_or(0, |n| first.len().saturating_sub(n));
    for l in &first[skip..] {
        output::line(l)?;
    }
    loop {
        // Read the record before the file: once it says the run ended, every byte the
        // run wrote is in the file, so the read after it is the last one needed.
        let ended = match read_run(&run_dir, &host) {
            Ok(rec) => !rec.is_live(),
            Err(_) => false,
        };
        for l in f.lines().unwrap_or_default() {
            output::line(&l)?;
        }
        if ended {
            if let Some(l) = f.flush() {
                output::line(&l)?;
            }
            return Ok(0);
        }
        let poll = waker.poll;
        waker.wait(poll);
    }
}

/// The run folder named by `--run`, or the latest run of the task.
fn find_run_dir(ctx: &Context, args: &OutputArgs) -> Result<PathBuf, Error> {
    let root = ctx.layout.root();
    let mut problems = Vec::new();
    if let Some(run) = &args.run {
        validate_id("run", run)?;
        for (_, pdir) in subdirs(root, &mut problems) {
            for (_, tdir) in subdirs(&pdir, &mut problems) {
                let dir = tdir.join("runs").join(run);
                if dir.is_dir() {
                    return Ok(dir);
                }
            }
        }
        return Err(Error::Usage(format!(
            "no run {run} under {} (run-agent status --project P --task T lists a task's runs)",
            root.display()
        )));
    }
    let project = args
        .project
        .clone()
        .or_else(|| env_nonempty("JRUN_PROJECT_ID"))
        .ok_or_else(|| {
            Error::Usage("no run: pass --run RUN_ID, or --project and --task".to_owned())
        })?;
    let task = args
        .task
        .clone()
        .or_else(|| env_nonempty("JRUN_TASK_ID"))
        .ok_or_else(|| Error::Usage("no task: pass --task ID (or --run RUN_ID)".to_owned()))?;
    let paths = ctx.layout.task(&project, &task)?;
    // The latest attempt of the restart chain: run ids sort by start time, and child
    // jobs that share the task folder (their parent is a run of this task) are skipped.
    let dirs: Vec<PathBuf> = subdirs(&paths.runs, &mut problems)
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    let host = this_host();
    let records: Vec<_> = dirs
        .iter()
        .filter_map(|d| read_run(d, &host).ok())
        .collect();
    let own: std::collections::HashSet<&str> =
        records.iter().map(|r| r.info.run_id.as_str()).collect();
    records
        .iter()
        .filter(|r| !own.contains(r.info.parent_run_id.as_str()))
        .map(|r| r.dir.clone())
        .max()
        .or_else(|| dirs.into_iter().max())
        .ok_or_else(|| {
            Error::Usage(format!(
                "task {project}/{task} has no runs under {} yet",
                paths.runs.display()
            ))
        })
}
