//! Reading the runs root for views: projects, tasks and run records, skipping (and
//! naming) what cannot be read instead of failing, and never following symlinks.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::fast_info::parse_fast;
use super::health::{effective_status, this_host, Effective};
use crate::storage::ids::validate_id;
use crate::storage::run_info::RunInfo;

/// Something in the tree a view skipped, with why; printed on stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) path: PathBuf,
    pub(crate) reason: String,
}

impl Problem {
    fn new(path: &Path, reason: impl Into<String>) -> Self {
        Self {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
}

/// One run as a view sees it.
#[derive(Debug, Clone)]
pub(crate) struct RunRecord {
    pub(crate) info: RunInfo,
    pub(crate) dir: PathBuf,
    pub(crate) effective: Effective,
}

impl RunRecord {
    pub(crate) fn is_live(&self) -> bool {
        self.effective.status == crate::storage::run_info::RunStatus::Running
    }
}

/// One task folder and the runs in it, oldest first.
#[derive(Debug, Clone)]
pub(crate) struct TaskEntry {
    pub(crate) project_id: String,
    pub(crate) task_id: String,
    pub(crate) dir: PathBuf,
    pub(crate) done: bool,
    pub(crate) runs: Vec<RunRecord>,
}

/// Which tasks a view covers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scope {
    pub(crate) project: Option<String>,
    /// Empty means every task of the project (or of the root).
    pub(crate) tasks: Vec<String>,
}

impl Scope {
    pub(crate) fn has_project(&self, project: &str) -> bool {
        self.project.as_deref().is_none_or(|p| p == project)
    }

    pub(crate) fn has_task(&self, project: &str, task: &str) -> bool {
        self.has_project(project) && (self.tasks.is_empty() || self.tasks.iter().any(|t| t == task))
    }
}

/// The result of a scan: what was read and what was skipped.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub(crate) tasks: Vec<TaskEntry>,
    pub(crate) problems: Vec<Problem>,
}

/// Directory entries that are real directories (symlinks are never followed: one could
/// lead out of the root) with valid ids, sorted by name.
pub(crate) fn subdirs(dir: &Path, problems: &mut Vec<Problem>) -> Vec<(String, PathBuf)> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            problems.push(Problem::new(dir, format!("cannot read folder: {e}")));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if is_dir && validate_id("entry", &name).is_ok() {
            out.push((name, entry.path()));
        }
    }
    out.sort_unstable();
    out
}

/// True for a folder that is a task: it has `runs/` or `TASK.md` (a project's `prompts/`
/// folder and other stray folders are not tasks).
fn is_task_dir(dir: &Path) -> bool {
    dir.join("runs").is_dir() || dir.join("TASK.md").is_file()
}

/// A task folder as (project, task, dir).
pub(crate) type TaskDir = (String, String, PathBuf);

/// The task folders in scope, as (project, task, dir).
pub(crate) fn task_dirs(root: &Path, scope: &Scope, problems: &mut Vec<Problem>) -> Vec<TaskDir> {
    let mut out = Vec::new();
    for (project, pdir) in subdirs(root, problems) {
        if !scope.has_project(&project) {
            continue;
        }
        for (task, tdir) in subdirs(&pdir, problems) {
            if scope.has_task(&project, &task) && is_task_dir(&tdir) {
                out.push((project.clone(), task, tdir));
            }
        }
    }
    out
}

/// Reads one run folder's record; the error says what is wrong with the folder.
pub(crate) fn read_run(dir: &Path, host: &str) -> Result<RunRecord, Problem> {
    let path = dir.join("run-info.yaml");
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(Problem::new(
                dir,
                "no run-info.yaml (a run still starting, or a leftover folder)",
            ))
        }
        Err(e) => return Err(Problem::new(&path, format!("cannot read: {e}"))),
    };
    let info = match parse_fast(&bytes) {
        Some(info) => info,
        None => RunInfo::parse(&path, &bytes).map_err(|e| Problem::new(&path, e.to_string()))?,
    };
    let mut info = info;
    let mut effective = effective_status(&info, host);
    if effective.process_gone {
        // Readers heal (SPEC §4): a record whose agent and runner are both gone is
        // finished on disk. While its runner lives, the runner will write the end itself.
        if let Some(healed) = crate::runner::heal::load_healed(dir) {
            effective = Effective {
                status: healed.status,
                process_gone: false,
            };
            info = healed;
        }
    }
    Ok(RunRecord {
        info,
        dir: dir.to_path_buf(),
        effective,
    })
}

/// Reads the runs of one task folder, oldest first.
pub(crate) fn read_task(
    project: String,
    task: String,
    dir: PathBuf,
    host: &str,
    problems: &mut Vec<Problem>,
) -> TaskEntry {
    let mut runs = Vec::new();
    for (_, rdir) in subdirs(&dir.join("runs"), problems) {
        match read_run(&rdir, host) {
            Ok(r) => runs.push(r),
            Err(p) => problems.push(p),
        }
    }
    TaskEntry {
        done: dir.join("DONE").exists(),
        project_id: project,
        task_id: task,
        dir,
        runs,
    }
}

/// Scans the tasks in scope. The work is split over the machine's cores: parsing many
/// small records is CPU-bound once the files are cached.
pub(crate) fn scan(root: &Path, scope: &Scope) -> Scan {
    let mut problems = Vec::new();
    let dirs = task_dirs(root, scope, &mut problems);
    let host = this_host();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8)
        .min(dirs.len().max(1));
    let mut tasks = Vec::with_capacity(dirs.len());
    if threads <= 1 {
        for (p, t, d) in dirs {
            tasks.push(read_task(p, t, d, &host, &mut problems));
        }
    } else {
        // Interleave tasks over the threads so one large task does not land on one.
        let mut buckets: Vec<Vec<(usize, TaskDir)>> = (0..threads).map(|_| Vec::new()).collect();
        for (i, d) in dirs.into_iter().enumerate() {
            buckets[i % threads].push((i, d));
        }
        let mut results: Vec<(usize, TaskEntry, Vec<Problem>)> = std::thread::scope(|s| {
            let handles: Vec<_> = buckets
                .into_iter()
                .map(|bucket| {
                    let host = &host;
                    s.spawn(move || {
                        bucket
                            .into_iter()
                            .map(|(i, (p, t, d))| {
                                let mut probs = Vec::new();
                                let entry = read_task(p, t, d, host, &mut probs);
                                (i, entry, probs)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        results.sort_unstable_by_key(|r| r.0);
        for (_, entry, probs) in results {
            tasks.push(entry);
            problems.extend(probs);
        }
    }
    Scan { tasks, problems }
}

/// Prints skipped entries on stderr, once each, so a view still answers but says what it
/// could not read.
pub(crate) fn report_problems(problems: &[Problem]) {
    for p in problems {
        eprintln!(
            "run-agent: warning: skipped {}: {}",
            p.path.display(),
            p.reason
        );
    }
}

/// Last activity time of a task: the newest start or end among its runs (RFC 3339 text
/// in one format sorts by time), and for live runs the newest write to their output.
pub(crate) fn last_activity(task: &TaskEntry) -> Option<SystemTime> {
    let mut best: Option<SystemTime> = None;
    let mut bump = |t: Option<SystemTime>| {
        if let Some(t) = t {
            best = Some(best.map_or(t, |b| b.max(t)));
        }
    };
    for r in &task.runs {
        bump(crate::storage::time::parse_rfc3339(&r.info.start_time));
        bump(crate::storage::time::parse_rfc3339(&r.info.end_time));
        if r.is_live() {
            for f in ["agent-stdout.txt", "agent-stderr.txt"] {
                bump(fs::metadata(r.dir.join(f)).and_then(|m| m.modified()).ok());
            }
        }
    }
    if task.done {
        bump(
            fs::metadata(task.dir.join("DONE"))
                .and_then(|m| m.modified())
                .ok(),
        );
    }
    best
}
