//! Which runs descend from which: each run folder keeps a small index of the runners
//! started inside it (`children/`), so a task's descendants are found by walking down
//! from its own runs, in time proportional to the descendants and never to the rest of
//! the root. See `docs/architecture.md`, "Descendants".
//!
//! Index format: `<parent run folder>/children/<pid>-<start>`, one file per nested
//! `run-agent` process (a "runner"), created before that runner does anything slow:
//!
//! ```text
//! runner <pid> <proc_start> <host>
//! run <absolute run folder>
//! run <absolute run folder>
//! ```
//!
//! Each run folder also holds `runner` (`<pid> <proc_start> <host>`): the process that
//! writes its run-info, so readers can tell "the runner is finishing the record" from
//! "the runner is gone and the record will never be finished".

use std::collections::HashSet;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::process_unix::{age, exe_name, own_exe_name, Identity, Snapshot};
use crate::storage::layout::{Layout, TaskPaths};
use crate::storage::run_info::RunInfo;

/// Folder of the children index inside a run folder.
pub(crate) const CHILDREN_DIR: &str = "children";
/// File naming a run's runner inside its run folder.
pub(crate) const RUNNER_FILE: &str = "runner";

/// The entry this process registered in its parent run's index, if it is a nested
/// runner. One process has at most one parent, and every run it creates is appended to
/// the same entry, so a process-wide value is the honest shape.
static REGISTRATION: OnceLock<PathBuf> = OnceLock::new();

/// Registers this process with the run it was started from (`--parent-run-id`, else
/// `$JRUN_ID`), using `$JRUN_RUN_FOLDER` when it names that run. Called first thing by
/// a nested `run-agent`, before it leaves the caller's process group, so that while it
/// is unregistered it is still visible as a member of the caller's group.
/// Returns false when there was nothing to register with here (the caller may try
/// [`register_by_id`] once the runs root is known).
pub(crate) fn register_from_env(explicit_parent: Option<&str>) -> bool {
    let env_id = std::env::var("JRUN_ID").unwrap_or_default();
    let parent = explicit_parent.unwrap_or(&env_id);
    if parent.is_empty() {
        return true;
    }
    let Some(folder) = std::env::var_os("JRUN_RUN_FOLDER").map(PathBuf::from) else {
        return false;
    };
    if folder.file_name().and_then(|n| n.to_str()) != Some(parent) {
        return false;
    }
    register(&folder);
    true
}

/// Registers with the run `parent_id` wherever it is under the root. Looks only at
/// `<root>/<project>/<task>/runs/<id>`, so it costs one look per task, not per run.
pub(crate) fn register_by_id(layout: &Layout, parent_id: &str) {
    if parent_id.is_empty() || REGISTRATION.get().is_some() {
        return;
    }
    match find_run_dir(layout, parent_id) {
        Some(dir) => register(&dir),
        None => tracing::warn!(
            run = parent_id,
            "parent run not found under the runs root; the new run is not tracked as its child"
        ),
    }
}

/// The folder of run `run_id` under the root, if it exists.
pub(crate) fn find_run_dir(layout: &Layout, run_id: &str) -> Option<PathBuf> {
    if run_id.is_empty() || run_id.contains('/') || run_id.starts_with('.') {
        return None;
    }
    for project in fs::read_dir(layout.root()).ok()?.flatten() {
        let Ok(tasks) = fs::read_dir(project.path()) else {
            continue;
        };
        for task in tasks.flatten() {
            let dir = task.path().join("runs").join(run_id);
            if dir.join("run-info.yaml").is_file() || dir.is_dir() {
                return Some(dir);
            }
        }
    }
    None
}

fn register(parent_dir: &Path) {
    let me = Identity::current();
    let dir = parent_dir.join(CHILDREN_DIR);
    let path = dir.join(format!("{}-{}", me.pid, me.start));
    let result = fs::create_dir_all(&dir)
        .and_then(|()| append_line(&path, &format!("runner {}", me.to_line())));
    match result {
        Ok(()) => {
            let _ = REGISTRATION.set(path);
        }
        Err(e) => tracing::warn!(
            path = %path.display(),
            error = %e,
            "cannot register with the parent run; it may not wait for this one"
        ),
    }
}

/// One line in one `write` with `O_APPEND`: concurrent appenders never interleave.
fn append_line(path: &Path, line: &str) -> io::Result<()> {
    let mut f = OpenOptions::new().create(true).append(true).open(path)?;
    f.write_all(format!("{line}\n").as_bytes())
}

/// Hook for `run_job`, right after the run folder exists and before the agent starts:
/// records who writes this run's record and lists the run under the parent's entry.
pub(crate) fn on_run_created(run_dir: &Path) {
    let me = Identity::current();
    if let Err(e) = fs::write(run_dir.join(RUNNER_FILE), format!("{}\n", me.to_line())) {
        tracing::warn!(path = %run_dir.display(), error = %e, "cannot record the runner");
    }
    if let Some(entry) = REGISTRATION.get() {
        if let Err(e) = append_line(entry, &format!("run {}", run_dir.display())) {
            tracing::warn!(path = %entry.display(), error = %e, "cannot list the run with its parent");
        }
    }
}

/// The runner recorded in a run folder, if any.
pub(crate) fn runner_of(run_dir: &Path) -> Option<Identity> {
    let text = fs::read_to_string(run_dir.join(RUNNER_FILE)).ok()?;
    Identity::parse(text.lines().next()?)
}

/// One run found in a tree walk.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) dir: PathBuf,
    /// `None` while the runner has not written the record yet (or it is unreadable).
    pub(crate) info: Option<RunInfo>,
    pub(crate) runner: Option<Identity>,
    /// True for the runs the walk started from.
    pub(crate) is_root: bool,
}

impl Node {
    pub(crate) fn run_info_path(&self) -> PathBuf {
        self.dir.join("run-info.yaml")
    }

    /// The agent's identity from the record.
    pub(crate) fn agent(&self) -> Option<Identity> {
        self.info.as_ref().map(|i| Identity {
            pid: i.pid,
            start: i.proc_start,
            host: i.host.clone(),
        })
    }
}

/// A set of runs and everything they started.
#[derive(Debug, Default)]
pub(crate) struct Tree {
    pub(crate) runs: Vec<Node>,
    /// Every nested runner registered anywhere in the tree, including those that have not
    /// created a run yet.
    pub(crate) runners: Vec<Identity>,
}

/// Walks down from `roots` (run folders) through the children indexes.
pub(crate) fn collect(roots: &[PathBuf]) -> Tree {
    let mut tree = Tree::default();
    let mut seen: HashSet<PathBuf> = HashSet::new();
    let mut queue: Vec<(PathBuf, bool)> = roots.iter().map(|d| (d.clone(), true)).collect();
    let mut runners_seen = HashSet::new();
    while let Some((dir, is_root)) = queue.pop() {
        if !seen.insert(dir.clone()) {
            continue;
        }
        if let Ok(entries) = fs::read_dir(dir.join(CHILDREN_DIR)) {
            for entry in entries.flatten() {
                let Ok(text) = fs::read_to_string(entry.path()) else {
                    continue;
                };
                for line in text.lines() {
                    if let Some(rest) = line.strip_prefix("runner ") {
                        if let Some(id) = Identity::parse(rest) {
                            if runners_seen.insert(id.clone()) {
                                tree.runners.push(id);
                            }
                        }
                    } else if let Some(path) = line.strip_prefix("run ") {
                        queue.push((PathBuf::from(path), false));
                    }
                }
            }
        }
        let info = RunInfo::load(&dir.join("run-info.yaml")).ok();
        let runner = runner_of(&dir);
        if info.is_none() && runner.is_none() && !dir.is_dir() {
            continue;
        }
        tree.runs.push(Node {
            dir,
            info,
            runner,
            is_root,
        });
    }
    tree
}

/// The run folders of a task, oldest first.
pub(crate) fn task_run_dirs(task: &TaskPaths) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(&task.runs) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    dirs.sort();
    dirs
}

/// Process groups of every run in the tree, for ending leftovers.
pub(crate) fn tree_pgids(tree: &Tree) -> Vec<i32> {
    let mut out: Vec<i32> = tree
        .runs
        .iter()
        .filter_map(|n| n.info.as_ref().map(|i| i.pgid))
        .filter(|&g| g > 1)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Process groups of the runs this process ran for `task` and of all their descendants:
/// what the top-level command owns when it ends. Older invocations' runs are left out,
/// their group ids may long since belong to someone else.
pub(crate) fn own_tree_pgids(task: &TaskPaths) -> Vec<i32> {
    let own: Vec<PathBuf> = task_run_dirs(task)
        .into_iter()
        .filter(|d| runner_of(d).is_some_and(|r| r.is_self()))
        .collect();
    tree_pgids(&collect(&own))
}

/// How long a freshly forked process in an agent's group may still become a nested
/// `run-agent` (fork, then exec): younger members are waited for, older ones are
/// leftovers.
const SETTLE_YOUNG: Duration = Duration::from_millis(100);
/// A nested `run-agent` registers and leaves the group within milliseconds; one still
/// in the group after this is some other command (`run-agent wait &`) and is a leftover.
const SETTLE_RUNNER: Duration = Duration::from_secs(2);
const SETTLE_POLL: Duration = Duration::from_millis(2);

/// After an agent exits, waits until nothing left in its group `pgid` is about to
/// register as a child run: a member that is a `run-agent` still starting, or a process
/// forked so recently it may yet exec one. Closes the gap between an agent starting
/// `run-agent job … &` and that job registering, so a sub-run started the instant
/// before `DONE` is still waited for. An empty group costs one `kill(-pgid, 0)`.
pub(crate) async fn settle_group(pgid: i32) {
    if pgid <= 1 || !super::unix::group_exists(pgid) {
        return;
    }
    let own = own_exe_name();
    let started = Instant::now();
    loop {
        let snap = Snapshot::take();
        let pending = snap.members(pgid).any(|p| {
            let Some(a) = age(p.start) else { return false };
            a < SETTLE_YOUNG || (a < SETTLE_RUNNER && own.is_some() && exe_name(p.pid) == own)
        });
        if !pending || started.elapsed() > SETTLE_RUNNER {
            return;
        }
        tokio::time::sleep(SETTLE_POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_walk_follows_the_index_across_task_folders() {
        let root = tempfile::tempdir().unwrap();
        let a = root.path().join("p/t1/runs/r1");
        let b = root.path().join("p/t2/runs/r2");
        let c = root.path().join("p/t2/runs/r3");
        for d in [&a, &b, &c] {
            fs::create_dir_all(d).unwrap();
        }
        fs::create_dir_all(a.join(CHILDREN_DIR)).unwrap();
        fs::write(
            a.join(CHILDREN_DIR).join("1-2"),
            format!("runner 1 2 h\nrun {}\n", b.display()),
        )
        .unwrap();
        fs::create_dir_all(b.join(CHILDREN_DIR)).unwrap();
        fs::write(
            b.join(CHILDREN_DIR).join("3-4"),
            format!("runner 3 4 h\nrun {}\nrun {}\n", c.display(), a.display()),
        )
        .unwrap();
        let tree = collect(std::slice::from_ref(&a));
        let mut dirs: Vec<_> = tree.runs.iter().map(|n| n.dir.clone()).collect();
        dirs.sort();
        assert_eq!(dirs, [a, b, c], "each run once, even with a cycle");
        assert_eq!(tree.runners.len(), 2);
        assert_eq!(tree.runs.iter().filter(|n| n.is_root).count(), 1);
    }
}
