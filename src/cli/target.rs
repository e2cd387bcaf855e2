//! Naming an existing task or run on the command line (`--project/--task`, `--run`),
//! for commands that act on what is already there: stop, resume, wait.

use std::path::PathBuf;

use super::context::{env_nonempty, Context};
use crate::error::Error;
use crate::runner::descendants::find_run_dir;
use crate::storage::layout::TaskPaths;

/// The task named by `--project` and `--task`, each defaulting to the calling run's
/// (`$JRUN_PROJECT_ID`, `$JRUN_TASK_ID`). The task folder must exist.
pub(crate) fn existing_task(
    ctx: &Context,
    project: Option<&str>,
    task: Option<&str>,
) -> Result<TaskPaths, Error> {
    let project = project
        .map(str::to_owned)
        .or_else(|| env_nonempty("JRUN_PROJECT_ID"))
        .ok_or_else(|| Error::Usage("no project: pass --project ID".to_owned()))?;
    let task_id = task
        .map(str::to_owned)
        .or_else(|| env_nonempty("JRUN_TASK_ID"))
        .ok_or_else(|| Error::Usage("no task: pass --task ID (or --run RUN_ID)".to_owned()))?;
    let paths = ctx.layout.task(&project, &task_id)?;
    if !paths.dir.is_dir() {
        return Err(Error::Usage(format!(
            "no task {project}/{task_id} under the runs root {} (check --project, --task and --root)",
            ctx.layout.root().display()
        )));
    }
    Ok(paths)
}

/// The folder of run `run_id`, which must exist under the root.
pub(crate) fn existing_run(ctx: &Context, run_id: &str) -> Result<PathBuf, Error> {
    find_run_dir(&ctx.layout, run_id).ok_or_else(|| {
        Error::Usage(format!(
            "no run {run_id:?} under the runs root {} (check --run and --root)",
            ctx.layout.root().display()
        ))
    })
}
