//! Where everything lives under the runs root: project, task and run folders and files.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::ids::{validate_id, IdError};

/// Errors from laying out folders under the runs root.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LayoutError {
    #[error(transparent)]
    Id(#[from] IdError),
    #[error("cannot create {}: {source}", path.display())]
    Create { path: PathBuf, source: io::Error },
    #[error("{} resolves to {}, outside the runs root {} (remove the symlink)", path.display(), resolved.display(), root.display())]
    Escapes {
        path: PathBuf,
        resolved: PathBuf,
        root: PathBuf,
    },
}

/// The runs root, always absolute so paths handed to agents work from any directory.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    root: PathBuf,
}

/// The files of one task folder.
#[derive(Debug, Clone)]
pub(crate) struct TaskPaths {
    pub(crate) project_id: String,
    pub(crate) task_id: String,
    pub(crate) project_dir: PathBuf,
    pub(crate) project_bus: PathBuf,
    pub(crate) dir: PathBuf,
    pub(crate) task_md: PathBuf,
    pub(crate) task_state: PathBuf,
    pub(crate) done: PathBuf,
    pub(crate) bus: PathBuf,
    pub(crate) runs: PathBuf,
}

/// The files of one run folder.
#[derive(Debug, Clone)]
pub(crate) struct RunPaths {
    pub(crate) run_id: String,
    pub(crate) dir: PathBuf,
    pub(crate) run_info: PathBuf,
    pub(crate) prompt: PathBuf,
    pub(crate) stdout: PathBuf,
    pub(crate) stderr: PathBuf,
    pub(crate) output: PathBuf,
}

impl Layout {
    /// A layout rooted at `root`, made absolute against the current directory.
    pub(crate) fn new(root: &Path) -> io::Result<Self> {
        let root = if root.is_absolute() {
            root.to_path_buf()
        } else {
            std::env::current_dir()?.join(root)
        };
        Ok(Self {
            root: normalize(&root),
        })
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The paths of a task, after validating both ids. Creates nothing.
    pub(crate) fn task(&self, project_id: &str, task_id: &str) -> Result<TaskPaths, IdError> {
        validate_id("project", project_id)?;
        validate_id("task", task_id)?;
        let project_dir = self.root.join(project_id);
        let dir = project_dir.join(task_id);
        Ok(TaskPaths {
            project_id: project_id.to_owned(),
            task_id: task_id.to_owned(),
            project_bus: project_dir.join("PROJECT-MESSAGE-BUS.md"),
            task_md: dir.join("TASK.md"),
            task_state: dir.join("TASK_STATE.md"),
            done: dir.join("DONE"),
            bus: dir.join("TASK-MESSAGE-BUS.md"),
            runs: dir.join("runs"),
            project_dir,
            dir,
        })
    }

    /// Creates the project and task folders (and `runs/`), refusing any that a symlink
    /// leads out of the root.
    pub(crate) fn create_task_dirs(&self, task: &TaskPaths) -> Result<(), LayoutError> {
        // Check what already exists before creating anything, so nothing is written
        // through a symlink that leaves the root.
        for existing in [&task.dir, &task.project_dir] {
            if fs::symlink_metadata(existing).is_ok() {
                self.check_inside(existing)?;
                break;
            }
        }
        fs::create_dir_all(&task.runs).map_err(|source| LayoutError::Create {
            path: task.runs.clone(),
            source,
        })?;
        self.check_inside(&task.runs)
    }

    /// Fails when `path` resolves outside the root through a symlink.
    pub(crate) fn check_inside(&self, path: &Path) -> Result<(), LayoutError> {
        let root = fs::canonicalize(&self.root).unwrap_or_else(|_| self.root.clone());
        let resolved = fs::canonicalize(path).map_err(|source| LayoutError::Create {
            path: path.to_path_buf(),
            source,
        })?;
        if resolved.starts_with(&root) {
            Ok(())
        } else {
            Err(LayoutError::Escapes {
                path: path.to_path_buf(),
                resolved,
                root,
            })
        }
    }
}

impl TaskPaths {
    /// The paths of one run of this task. Creates nothing.
    pub(crate) fn run(&self, run_id: &str) -> RunPaths {
        let dir = self.runs.join(run_id);
        RunPaths {
            run_id: run_id.to_owned(),
            run_info: dir.join("run-info.yaml"),
            prompt: dir.join("prompt.md"),
            stdout: dir.join("agent-stdout.txt"),
            stderr: dir.join("agent-stderr.txt"),
            output: dir.join("output.md"),
            dir,
        }
    }
}

/// Removes `.` and resolves `..` lexically, so recorded paths read cleanly; symlinks are
/// checked separately by [`Layout::check_inside`].
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_and_run_paths_follow_the_spec_layout() {
        let l = Layout::new(Path::new("/r/./x/..")).unwrap();
        let t = l.task("p", "t").unwrap();
        assert_eq!(t.dir, Path::new("/r/p/t"));
        assert_eq!(t.project_bus, Path::new("/r/p/PROJECT-MESSAGE-BUS.md"));
        assert_eq!(t.bus, Path::new("/r/p/t/TASK-MESSAGE-BUS.md"));
        let r = t.run("20260101-0000000000-1-1");
        assert_eq!(
            r.run_info,
            Path::new("/r/p/t/runs/20260101-0000000000-1-1/run-info.yaml")
        );
        assert!(l.task("..", "t").is_err());
        assert!(l.task("p", "a/b").is_err());
    }

    #[test]
    fn a_symlinked_task_folder_leaving_the_root_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let l = Layout::new(root.path()).unwrap();
        std::fs::create_dir_all(root.path().join("p")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("p/t")).unwrap();
        let t = l.task("p", "t").unwrap();
        let err = l.create_task_dirs(&t).unwrap_err();
        assert!(matches!(err, LayoutError::Escapes { .. }), "{err}");
    }
}
