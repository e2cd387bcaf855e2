//! The engine of `run-agent watch`: discovers the runs in scope (including runs and
//! child tasks that start later), follows their stdout and stderr and the bus files of
//! the tasks and projects involved, and hands every new line to a sink as an event. It
//! ends when the watched tasks are finished, unless told to go on forever.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::bus_render::{take_records, BusRecord};
use super::follow::{Follower, Waker};
use super::health::this_host;
use super::scan::{read_run, report_problems, subdirs, Problem, RunRecord, Scope};
use crate::error::Error;
use crate::storage::run_info::RunStatus;
use crate::storage::time::parse_rfc3339;

/// How `watch` behaves.
#[derive(Debug, Clone)]
pub(crate) struct WatchOptions {
    pub(crate) scope: Scope,
    /// Keep going after the tasks are finished.
    pub(crate) forever: bool,
    /// A task with no live runs and no `DONE` counts as finished once its newest run
    /// ended this long ago (a loop between attempts has no live run for a moment).
    pub(crate) settle: Duration,
}

/// Which file of a run a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
        }
    }
}

/// Who a line or message belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    pub(crate) project_id: String,
    pub(crate) task_id: String,
    pub(crate) run_id: String,
}

/// What `watch` reports.
#[derive(Debug, Clone)]
pub(crate) enum WatchEvent {
    RunStart {
        origin: Origin,
        parent_run_id: String,
        attempt: u32,
    },
    Line {
        origin: Origin,
        stream: Stream,
        text: String,
    },
    /// A bus message; `task_id` is empty for the project bus.
    Bus {
        project_id: String,
        task_id: String,
        record: BusRecord,
    },
    RunEnd {
        origin: Origin,
        status: RunStatus,
        exit_code: i32,
        summary: String,
    },
}

/// Numbers for the status line.
#[derive(Debug, Clone, Default)]
pub(crate) struct WatchStats {
    pub(crate) running: usize,
    pub(crate) attempt: Option<u32>,
    pub(crate) cost_usd: Option<f64>,
}

/// A followed run.
struct RunState {
    origin: Origin,
    out: Follower,
    err: Follower,
    record: RunRecord,
    live: bool,
    /// When the record was first seen saying running with its process gone.
    gone_since: Option<Instant>,
}

/// A followed bus file.
struct BusState {
    project_id: String,
    task_id: String,
    follower: Follower,
    /// Bytes read but not yet a complete record.
    pending: Vec<u8>,
}

/// Runs whose folder holds no run-info.yaml are only reported once they are this old: a
/// run that is starting has its folder a few milliseconds before its record.
const EMPTY_RUN_GRACE: Duration = Duration::from_secs(2);

/// How long a run whose agent has exited is still followed while its record says
/// running: the runner rewrites the record a moment after the agent exits, and the
/// real end (status, exit code) is better news than "process gone".
const GONE_GRACE: Duration = Duration::from_secs(2);

struct Watch<'a> {
    root: PathBuf,
    opts: &'a WatchOptions,
    host: String,
    waker: Waker,
    /// Run folders read and finished, or out of scope and finished: never read again.
    settled: HashMap<PathBuf, Option<RunRecord>>,
    /// Records of live runs not (yet) in scope, re-read on each scan.
    other_live: HashMap<PathBuf, RunRecord>,
    runs: HashMap<PathBuf, RunState>,
    in_scope: HashSet<String>,
    buses: HashMap<PathBuf, BusState>,
    reported: HashSet<PathBuf>,
    /// Task folders in scope (explicit, or found), with their project and task ids.
    tasks: BTreeSet<(String, String, PathBuf)>,
    first_scan: bool,
}

/// Watches until the tasks in scope are finished (or forever), handing each event to
/// `sink`; `tick` is called after each pass with the numbers for a status line.
pub(crate) fn watch(
    root: &Path,
    opts: &WatchOptions,
    sink: &mut dyn FnMut(WatchEvent) -> Result<(), Error>,
    tick: &mut dyn FnMut(&WatchStats) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut w = Watch {
        root: root.to_path_buf(),
        opts,
        host: this_host(),
        waker: Waker::new(),
        settled: HashMap::new(),
        other_live: HashMap::new(),
        runs: HashMap::new(),
        in_scope: HashSet::new(),
        buses: HashMap::new(),
        reported: HashSet::new(),
        tasks: BTreeSet::new(),
        first_scan: true,
    };
    let poll = w.waker.poll;
    w.rescan(sink)?;
    w.first_scan = false;
    let mut last_full = Instant::now();
    loop {
        w.read_all(sink)?;
        tick(&w.stats())?;
        if !opts.forever && w.finished() {
            w.read_all(sink)?;
            w.flush_all(sink)?;
            return Ok(());
        }
        let changed = w.waker.wait(poll.saturating_sub(last_full.elapsed()));
        let mut structural = changed.is_empty();
        for path in changed {
            structural |= w.on_event(&path, sink)?;
        }
        if structural || last_full.elapsed() >= poll {
            w.rescan(sink)?;
            last_full = Instant::now();
        }
    }
}

impl Watch<'_> {
    /// Handles one changed path at once (the fast path for new output); returns whether
    /// the tree may have changed shape and needs a scan.
    fn on_event(
        &mut self,
        path: &Path,
        sink: &mut dyn FnMut(WatchEvent) -> Result<(), Error>,
    ) -> Result<bool, Error> {
        if self.buses.contains_key(path) {
            self.read_bus(path, sink)?;
            return Ok(false);
        }
        let Some(dir) = path.parent() else {
            return Ok(true);
        };
        if let Some(run) = self.runs.get_mut(dir) {
            read_run_files(run, sink)?;
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            return Ok(name == "run-info.yaml" || name.starts_with(".tmp-"));
        }
        Ok(true)
    }

    /// Walks the tree for new tasks, runs and buses, and re-reads live run records.
    fn rescan(
        &mut self,
        sink: &mut dyn FnMut(WatchEvent) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut problems = Vec::new();
        let root = self.root.clone();
        self.waker.watch_dir(&root);
        let mut candidates: Vec<RunRecord> = Vec::new();
        for (project, pdir) in subdirs(&root, &mut problems) {
            self.waker.watch_dir(&pdir);
            for (task, tdir) in subdirs(&pdir, &mut problems) {
                let runs_dir = tdir.join("runs");
                if !runs_dir.is_dir() && !tdir.join("TASK.md").is_file() {
                    continue;
                }
                if self.opts.scope.has_task(&project, &task) {
                    self.waker.watch_dir(&tdir);
                    self.tasks
                        .insert((project.clone(), task.clone(), tdir.clone()));
                }
                self.waker.watch_dir(&runs_dir);
                for (_, rdir) in subdirs(&runs_dir, &mut problems) {
                    if let Some(rec) = self.look_at_run(&rdir, &mut problems) {
                        candidates.push(rec);
                    }
                }
            }
        }
        // Runs are in scope by task, or by descent from a run in scope (child jobs and
        // child tasks in any folder). Parents start before children, so sorting by run
        // id settles most chains in one pass; loop for the rest.
        candidates.sort_by(|a, b| a.info.run_id.cmp(&b.info.run_id));
        loop {
            let mut grew = false;
            for rec in &candidates {
                let id = &rec.info.run_id;
                if self.in_scope.contains(id) {
                    continue;
                }
                let by_task = self
                    .opts
                    .scope
                    .has_task(&rec.info.project_id, &rec.info.task_id)
                    && self.opts.scope.has_task(
                        dir_project(&rec.dir).unwrap_or(""),
                        dir_task(&rec.dir).unwrap_or(""),
                    );
                if by_task || self.in_scope.contains(&rec.info.parent_run_id) {
                    self.in_scope.insert(id.clone());
                    grew = true;
                }
            }
            if !grew {
                break;
            }
        }
        for rec in candidates {
            if self.in_scope.contains(&rec.info.run_id) {
                self.adopt(rec, sink)?;
            } else if rec.is_live() {
                self.other_live.insert(rec.dir.clone(), rec);
            } else {
                self.other_live.remove(&rec.dir);
                self.settled.insert(rec.dir.clone(), Some(rec));
            }
        }
        self.follow_buses();
        let fresh: Vec<Problem> = problems
            .into_iter()
            .filter(|p| self.reported.insert(p.path.clone()))
            .collect();
        report_problems(&fresh);
        Ok(())
    }

    /// The current record of a run folder when it may matter: new folders, and live
    /// runs (to see them end). Folders already settled are skipped without reading.
    fn look_at_run(&mut self, dir: &Path, problems: &mut Vec<Problem>) -> Option<RunRecord> {
        if self.settled.contains_key(dir) {
            return None;
        }
        if let Some(run) = self.runs.get(dir) {
            if !run.live {
                return None;
            }
        }
        match read_run(dir, &self.host) {
            Ok(rec) => Some(rec),
            Err(p) => {
                let young = std::fs::metadata(dir)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| SystemTime::now().duration_since(t).ok())
                    .is_some_and(|age| age < EMPTY_RUN_GRACE);
                let missing = !dir.join("run-info.yaml").exists();
                if missing && young {
                    return None;
                }
                problems.push(p);
                if !missing {
                    self.settled.insert(dir.to_path_buf(), None);
                }
                None
            }
        }
    }

    /// Starts following a run in scope, or notes that a followed run ended.
    fn adopt(
        &mut self,
        rec: RunRecord,
        sink: &mut dyn FnMut(WatchEvent) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let dir = rec.dir.clone();
        if let Some(run) = self.runs.get_mut(&dir) {
            if run.live && waiting_for_end_record(&mut run.gone_since, &rec) {
                return Ok(());
            }
            if run.live && !rec.is_live() {
                read_run_files(run, sink)?;
                flush_run(run, sink)?;
                run.live = false;
                sink(WatchEvent::RunEnd {
                    origin: run.origin.clone(),
                    status: rec.effective.status,
                    exit_code: rec.info.exit_code,
                    summary: if rec.effective.process_gone {
                        super::health::PROCESS_GONE.to_owned()
                    } else {
                        rec.info.error_summary.clone()
                    },
                })?;
                self.waker.unwatch_dir(&dir);
            }
            run.record = rec;
            return Ok(());
        }
        // Runs that had already ended when watch started are history, not news.
        let history = self.first_scan && !rec.is_live();
        let origin = Origin {
            project_id: rec.info.project_id.clone(),
            task_id: rec.info.task_id.clone(),
            run_id: rec.info.run_id.clone(),
        };
        let task_dir = dir.parent().and_then(Path::parent).map(Path::to_path_buf);
        if let Some(tdir) = task_dir {
            self.tasks
                .insert((origin.project_id.clone(), origin.task_id.clone(), tdir));
        }
        let mut gone_since = None;
        let live = rec.is_live() || (!history && waiting_for_end_record(&mut gone_since, &rec));
        let mut run = RunState {
            out: Follower::new(dir.join("agent-stdout.txt"), history),
            err: Follower::new(dir.join("agent-stderr.txt"), history),
            origin,
            record: rec,
            live,
            gone_since,
        };
        if !history {
            sink(WatchEvent::RunStart {
                origin: run.origin.clone(),
                parent_run_id: run.record.info.parent_run_id.clone(),
                attempt: run.record.info.attempt,
            })?;
            if live {
                self.waker.watch_dir(&dir);
            }
            read_run_files(&mut run, sink)?;
            if !live {
                flush_run(&mut run, sink)?;
                sink(WatchEvent::RunEnd {
                    origin: run.origin.clone(),
                    status: run.record.effective.status,
                    exit_code: run.record.info.exit_code,
                    summary: run.record.info.error_summary.clone(),
                })?;
            }
        }
        self.runs.insert(dir, run);
        Ok(())
    }

    /// Follows the bus of every task in scope and of their projects. A bus present when
    /// watch started is followed from its end; one that appears later, from its start.
    fn follow_buses(&mut self) {
        let mut wanted = Vec::new();
        for (project, task, tdir) in &self.tasks {
            wanted.push((
                project.clone(),
                task.clone(),
                tdir.join("TASK-MESSAGE-BUS.md"),
            ));
            if let Some(pdir) = tdir.parent() {
                wanted.push((
                    project.clone(),
                    String::new(),
                    pdir.join("PROJECT-MESSAGE-BUS.md"),
                ));
                self.waker.watch_dir(pdir);
            }
            self.waker.watch_dir(tdir);
        }
        for (project_id, task_id, path) in wanted {
            if !self.buses.contains_key(&path) {
                let follower = Follower::new(path.clone(), self.first_scan);
                self.buses.insert(
                    path,
                    BusState {
                        project_id,
                        task_id,
                        follower,
                        pending: Vec::new(),
                    },
                );
            }
        }
    }

    fn read_bus(
        &mut self,
        path: &Path,
        sink: &mut dyn FnMut(WatchEvent) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let Some(bus) = self.buses.get_mut(path) else {
            return Ok(());
        };
        if bus.follower.read_new(&mut bus.pending).is_err() || bus.pending.is_empty() {
            return Ok(());
        }
        for record in take_records(&mut bus.pending) {
            sink(WatchEvent::Bus {
                project_id: bus.project_id.clone(),
                task_id: bus.task_id.clone(),
                record,
            })?;
        }
        Ok(())
    }

    /// Reads every live run's files and every bus: the poll path, and the final drain.
    fn read_all(
        &mut self,
        sink: &mut dyn FnMut(WatchEvent) -> Result<(), Error>,
    ) -> Result<(), Error> {
        for run in self.runs.values_mut().filter(|r| r.live) {
            read_run_files(run, sink)?;
        }
        let paths: Vec<PathBuf> = self.buses.keys().cloned().collect();
        for p in paths {
            self.read_bus(&p, sink)?;
        }
        Ok(())
    }

    fn flush_all(
        &mut self,
        sink: &mut dyn FnMut(WatchEvent) -> Result<(), Error>,
    ) -> Result<(), Error> {
        for run in self.runs.values_mut() {
            flush_run(run, sink)?;
        }
        Ok(())
    }

    /// True when every watched task is finished and no run in scope is live.
    fn finished(&self) -> bool {
        if self.runs.values().any(|r| r.live) {
            return false;
        }
        let named: Vec<(String, String)> = match &self.opts.scope.project {
            Some(p) => self
                .opts
                .scope
                .tasks
                .iter()
                .map(|t| (p.clone(), t.clone()))
                .collect(),
            None => Vec::new(),
        };
        // Named tasks must exist (watch may be started before them); otherwise at least
        // one task in scope must have appeared.
        let in_scope: Vec<&(String, String, PathBuf)> = self
            .tasks
            .iter()
            .filter(|(p, t, _)| self.opts.scope.has_task(p, t))
            .collect();
        if in_scope.is_empty() {
            return false;
        }
        for (p, t) in &named {
            if !in_scope.iter().any(|(tp, tt, _)| tp == p && tt == t) {
                return false;
            }
        }
        in_scope
            .iter()
            .all(|(p, t, dir)| self.task_finished(p, t, dir))
    }

    fn task_finished(&self, project: &str, task: &str, dir: &Path) -> bool {
        if dir.join("DONE").exists() {
            return true;
        }
        let newest_end = self
            .runs
            .values()
            .filter(|r| r.origin.project_id == project && r.origin.task_id == task)
            .filter_map(|r| parse_rfc3339(&r.record.info.end_time))
            .max();
        match newest_end {
            Some(end) => SystemTime::now()
                .duration_since(end)
                .is_ok_and(|age| age >= self.opts.settle),
            None => false,
        }
    }

    fn stats(&self) -> WatchStats {
        let mut s = WatchStats::default();
        for r in self.runs.values() {
            if r.live {
                s.running += 1;
                if r.record.info.parent_run_id.is_empty()
                    || !self.in_scope.contains(&r.record.info.parent_run_id)
                {
                    s.attempt = s.attempt.max(Some(r.record.info.attempt));
                }
            }
            if let Some(c) = r.record.info.usage.as_ref().and_then(|u| u.cost_usd) {
                *s.cost_usd.get_or_insert(0.0) += c;
            }
        }
        s
    }
}

/// True while a record says running, its process is gone, and the runner may still be
/// about to write the real end (see [`GONE_GRACE`]).
fn waiting_for_end_record(gone_since: &mut Option<Instant>, rec: &RunRecord) -> bool {
    if !rec.effective.process_gone {
        return false;
    }
    gone_since.get_or_insert_with(Instant::now).elapsed() < GONE_GRACE
}

/// The project folder name of a run folder (`<root>/<project>/<task>/runs/<run>`).
fn dir_project(run_dir: &Path) -> Option<&str> {
    run_dir.ancestors().nth(3)?.file_name()?.to_str()
}

fn dir_task(run_dir: &Path) -> Option<&str> {
    run_dir.ancestors().nth(2)?.file_name()?.to_str()
}

fn read_run_files(
    run: &mut RunState,
    sink: &mut dyn FnMut(WatchEvent) -> Result<(), Error>,
) -> Result<(), Error> {
    for (stream, f) in [
        (Stream::Stdout, &mut run.out),
        (Stream::Stderr, &mut run.err),
    ] {
        // A file that cannot be read now is tried again on the next event or poll.
        for text in f.lines().unwrap_or_default() {
            sink(WatchEvent::Line {
                origin: run.origin.clone(),
                stream,
                text,
            })?;
        }
    }
    Ok(())
}

fn flush_run(
    run: &mut RunState,
    sink: &mut dyn FnMut(WatchEvent) -> Result<(), Error>,
) -> Result<(), Error> {
    for (stream, f) in [
        (Stream::Stdout, &mut run.out),
        (Stream::Stderr, &mut run.err),
    ] {
        if let Some(text) = f.flush() {
            sink(WatchEvent::Line {
                origin: run.origin.clone(),
                stream,
                text,
            })?;
        }
    }
    Ok(())
}
