//! Addressing: finding the task bus of a run by its id, for `bus post --to`.

use std::path::{Path, PathBuf};

/// The task folder holding run `run_id`: `hint/runs/<id>` first (the common case of a
/// child in its parent's task), else `<root>/*/*/runs/<id>` (two directory levels,
/// not a walk of the tree). `None` if no such run folder exists.
pub(crate) fn find_run_task_dir(root: &Path, run_id: &str, hint: Option<&Path>) -> Option<PathBuf> {
    if run_id.is_empty() || run_id.contains(['/', '\0']) || run_id.starts_with('.') {
        return None;
    }
    if let Some(task) = hint {
        if task.join("runs").join(run_id).is_dir() {
            return Some(task.to_path_buf());
        }
    }
    for project in std::fs::read_dir(root).ok()?.flatten() {
        let Ok(tasks) = std::fs::read_dir(project.path()) else {
            continue;
        };
        for task in tasks.flatten() {
            let dir = task.path();
            if dir.join("runs").join(run_id).is_dir() {
                return Some(dir);
            }
        }
    }
    None
}
