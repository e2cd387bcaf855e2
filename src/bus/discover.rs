//! `bus discover --from DIR`: the buses that govern a directory, found by walking up.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// The task bus and project bus above a directory, where they exist (or, for a task
/// folder, where its bus will be).
#[derive(Debug, Default, Serialize)]
pub(crate) struct Discovered {
    pub(crate) task_bus: Option<PathBuf>,
    pub(crate) project_bus: Option<PathBuf>,
}

/// Walks up from `dir` to the first task folder (holding `TASK-MESSAGE-BUS.md` or
/// `TASK.md`) and the first project folder (holding `PROJECT-MESSAGE-BUS.md`, or the
/// parent of the task folder).
pub(crate) fn discover(dir: &Path) -> Discovered {
    let mut found = Discovered::default();
    for d in dir.ancestors() {
        if found.task_bus.is_none()
            && (d.join("TASK-MESSAGE-BUS.md").is_file() || d.join("TASK.md").is_file())
        {
            found.task_bus = Some(d.join("TASK-MESSAGE-BUS.md"));
            if let Some(project) = d.parent() {
                found.project_bus = Some(project.join("PROJECT-MESSAGE-BUS.md"));
            }
            break;
        }
        if d.join("PROJECT-MESSAGE-BUS.md").is_file() {
            found.project_bus = Some(d.join("PROJECT-MESSAGE-BUS.md"));
            break;
        }
    }
    found
}
