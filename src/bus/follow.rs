//! `bus read --follow`: new records as they are appended, woken by file events (inotify
//! through `notify`) with polling as the fallback; survives truncation and rotation.

use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use super::error::BusError;
use super::format::Message;
use super::parse::Source;
use super::read::{open_read, scan};

/// How often to look at the file when no event comes, unless `JRUN_POLL_INTERVAL` says.
pub(crate) const DEFAULT_POLL: Duration = Duration::from_millis(250);
/// How many bytes before the read position are compared to notice a rewrite.
const TAIL_SIG: usize = 64;

/// The poll interval from `JRUN_POLL_INTERVAL` (a duration), else [`DEFAULT_POLL`].
pub(crate) fn poll_interval_from_env() -> Duration {
    std::env::var("JRUN_POLL_INTERVAL")
        .ok()
        .and_then(|v| humantime::parse_duration(v.trim()).ok())
        .unwrap_or(DEFAULT_POLL)
}

/// Follows one bus path from an offset. Keeps the open file, so a rotated bus is read
/// to its end before the new file at the same path is taken up.
pub(crate) struct Follower {
    path: PathBuf,
    file: Option<File>,
    dev: u64,
    ino: u64,
    pos: u64,
    poll: Duration,
    /// The last bytes before `pos`, as read.
    tail: Vec<u8>,
    events: Option<(notify::RecommendedWatcher, Receiver<()>)>,
}

impl Follower {
    /// Follows `path` from `pos` of `file` (the file already read, if it existed).
    pub(crate) fn new(path: &Path, file: Option<File>, pos: u64, poll: Duration) -> Self {
        let (dev, ino) = file
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .map_or((0, 0), |m| (m.dev(), m.ino()));
        let mut follower = Self {
            path: path.to_path_buf(),
            file,
            dev,
            ino,
            pos,
            poll,
            tail: Vec::new(),
            // JRUN_POLL_ONLY=1 skips file events (for file systems without them, and to
            // test the fallback).
            events: match std::env::var("JRUN_POLL_ONLY").as_deref() {
                Ok("1" | "true" | "yes") => None,
                _ => watch(path),
            },
        };
        follower.remember_tail();
        follower
    }

    /// Gives every record appended since the last call to `f`, then returns.
    pub(crate) fn poll_once(&mut self, f: &mut dyn FnMut(Message)) -> Result<(), BusError> {
        if self.file.is_none() {
            if let Some(file) = open_read(&self.path)? {
                self.take(file, 0);
            }
        }
        // A rotation: finish the old file, then go on with the new one from its start.
        let renamed = match std::fs::metadata(&self.path) {
            Ok(m) => self.file.is_some() && (m.dev(), m.ino()) != (self.dev, self.ino),
            Err(_) => false,
        };
        self.read_new(f)?;
        if renamed {
            if let Some(file) = open_read(&self.path)? {
                self.take(file, 0);
                self.read_new(f)?;
            }
        }
        Ok(())
    }

    /// Blocks until an event arrives or the poll interval passes.
    pub(crate) fn wait(&mut self) {
        match &self.events {
            Some((_, rx)) => match rx.recv_timeout(self.poll) {
                Ok(()) => while rx.try_recv().is_ok() {},
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.events = None;
                }
            },
            None => std::thread::sleep(self.poll),
        }
    }

    /// The file being read and the offset reached in it (for saving a cursor).
    pub(crate) fn position(&self) -> Option<(&File, u64)> {
        self.file.as_ref().map(|f| (f, self.pos))
    }

    fn take(&mut self, file: File, pos: u64) {
        let (dev, ino) = file.metadata().map_or((0, 0), |m| (m.dev(), m.ino()));
        (self.file, self.dev, self.ino, self.pos) = (Some(file), dev, ino, pos);
        self.tail.clear();
    }

    fn read_new(&mut self, f: &mut dyn FnMut(Message)) -> Result<(), BusError> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let err = |source| BusError::Read {
            path: self.path.clone(),
            source,
        };
        let len = file.metadata().map_err(err)?.len();
        if len < self.pos || !self.same_tail(file) {
            // Truncated in place (and maybe written again since): start from the top.
            self.pos = 0;
            self.tail.clear();
        }
        if len > self.pos {
            let mut src = Source::file(file, len);
            self.pos = scan(&mut src, self.pos, len, |m| {
                f(m);
                true
            })
            .map_err(err)?;
            self.remember_tail();
        }
        Ok(())
    }

    /// Keeps the bytes just before the read position, to notice a truncation that a
    /// new write has already hidden (the file is no shorter, but different).
    fn remember_tail(&mut self) {
        self.tail.clear();
        if let Some(file) = &self.file {
            let start = self.pos.saturating_sub(TAIL_SIG as u64);
            self.tail.resize((self.pos - start) as usize, 0);
            if file.read_exact_at(&mut self.tail, start).is_err() {
                self.tail.clear();
            }
        }
    }

    fn same_tail(&self, file: &File) -> bool {
        if self.tail.is_empty() || (self.tail.len() as u64) > self.pos {
            return true;
        }
        let mut now = vec![0; self.tail.len()];
        let start = self.pos - self.tail.len() as u64;
        file.read_exact_at(&mut now, start).is_ok() && now == self.tail
    }
}

/// A watcher on the bus's folder (so creation and rotation are seen too); `None` where
/// events are not available, and then polling alone does the work.
fn watch(path: &Path) -> Option<(notify::RecommendedWatcher, Receiver<()>)> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name()?.to_owned();
    let (tx, rx) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
        let relevant = match &ev {
            Ok(ev) => ev.paths.is_empty() || ev.paths.iter().any(|p| p.file_name() == Some(&name)),
            Err(_) => true,
        };
        if relevant {
            let _ = tx.send(());
        }
    })
    .ok()?;
    watcher.watch(&dir, RecursiveMode::NonRecursive).ok()?;
    Some((watcher, rx))
}
