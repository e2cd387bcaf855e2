//! `run-agent resume`: removes `DONE` and runs the task's loop again, as a new attempt
//! in the same restart chain.

use clap::Args;

use super::args::GlobalArgs;
use super::context::Context;
use super::target::existing_task;
use super::task::{self, TaskArgs};
use crate::error::Error;
use crate::runner::descendants::{runner_of, task_run_dirs};

#[derive(Debug, Args)]
pub(crate) struct ResumeArgs {
    #[command(flatten)]
    pub(crate) task: TaskArgs,
}

pub(crate) async fn run(mut args: ResumeArgs, global: &GlobalArgs) -> Result<u8, Error> {
    let ctx = Context::load(global)?;
    let run = &args.task.run;
    let task = existing_task(&ctx, run.project.as_deref(), run.task.as_deref())?;
    if !task.task_md.is_file() && run.prompt.is_none() && run.prompt_file.is_none() {
        return Err(Error::Usage(format!(
            "cannot resume {}/{}: it has no TASK.md (start it with run-agent task)",
            task.project_id, task.task_id
        )));
    }
    if let Some(runner) = task_run_dirs(&task).last().and_then(|d| runner_of(d)) {
        if runner.alive() {
            return Err(Error::Failed(format!(
                "task {}/{} is still running (run-agent pid {}); stop it first with run-agent stop, or wait for it",
                task.project_id, task.task_id, runner.pid
            )));
        }
    }
    match std::fs::remove_file(&task.done) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("remove", &task.done)(e)),
    }
    args.task.run.project = Some(task.project_id.clone());
    args.task.run.task = Some(task.task_id.clone());
    task::run(args.task, global).await
}
