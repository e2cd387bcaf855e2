//! Following growing files: a reader that hands out complete lines and notices
//! truncation and rotation, and a waker that sleeps until a file event (inotify through
//! `notify`) or the poll interval, falling back to polling alone when events are not
//! available or the watch limit is reached.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher};

/// Default time between polls; events usually come much sooner.
pub(crate) const DEFAULT_POLL: Duration = Duration::from_millis(500);

/// The poll interval: `$JRUN_POLL_INTERVAL` (a duration such as `50ms`) or the default.
pub(crate) fn poll_interval() -> Duration {
    std::env::var("JRUN_POLL_INTERVAL")
        .ok()
        .and_then(|v| humantime::parse_duration(v.trim()).ok())
        .filter(|d| !d.is_zero())
        .unwrap_or(DEFAULT_POLL)
}

/// Reads what is appended to one file, line by line.
#[derive(Debug)]
pub(crate) struct Follower {
    pub(crate) path: PathBuf,
    offset: u64,
    ident: Option<(u64, u64)>,
    partial: Vec<u8>,
}

impl Follower {
    /// Follows `path` from its start (`from_end` false) or from its current end.
    pub(crate) fn new(path: PathBuf, from_end: bool) -> Self {
        let mut f = Self {
            path,
            offset: 0,
            ident: None,
            partial: Vec::new(),
        };
        if from_end {
            if let Ok(m) = std::fs::metadata(&f.path) {
                f.offset = m.len();
                f.ident = Some((m.dev(), m.ino()));
            }
        }
        f
    }

    /// Appends the new bytes to `out`. A file replaced by another (rotation) is read
    /// from its start; a file cut shorter than what was read (truncation) likewise.
    pub(crate) fn read_new(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let meta = file.metadata()?;
        let ident = (meta.dev(), meta.ino());
        if self.ident.is_some_and(|i| i != ident) || meta.len() < self.offset {
            self.offset = 0;
        }
        self.ident = Some(ident);
        if meta.len() == self.offset {
            return Ok(());
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let n = file.take(meta.len() - self.offset).read_to_end(out)?;
        self.offset += n as u64;
        Ok(())
    }

    /// The complete new lines (without their newline); an unfinished last line is kept
    /// until it is finished or [`Follower::flush`] is called.
    pub(crate) fn lines(&mut self) -> io::Result<Vec<String>> {
        let mut buf = std::mem::take(&mut self.partial);
        self.read_new(&mut buf)?;
        let mut out = Vec::new();
        let mut start = 0;
        for (i, b) in buf.iter().enumerate() {
            if *b == b'\n' {
                out.push(String::from_utf8_lossy(&buf[start..i]).into_owned());
                start = i + 1;
            }
        }
        self.partial = buf.split_off(start);
        Ok(out)
    }

    /// The unfinished last line, once the writer is known to be done.
    pub(crate) fn flush(&mut self) -> Option<String> {
        if self.partial.is_empty() {
            return None;
        }
        let text = String::from_utf8_lossy(&self.partial).into_owned();
        self.partial.clear();
        Some(text)
    }
}

/// Wakes a follower loop on file events or after the poll interval.
pub(crate) struct Waker {
    watcher: Option<notify::RecommendedWatcher>,
    events: Receiver<PathBuf>,
    watched: HashSet<PathBuf>,
    pub(crate) poll: Duration,
    warned: bool,
}

impl Waker {
    /// Uses file events unless they cannot be set up, or `$JRUN_NO_NOTIFY` is set (to
    /// test and to force the polling path on file systems without events).
    pub(crate) fn new() -> Self {
        let (tx, rx) = channel();
        let forced_off = std::env::var_os("JRUN_NO_NOTIFY").is_some_and(|v| !v.is_empty());
        let watcher = if forced_off {
            None
        } else {
            notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
                if let Ok(ev) = res {
                    for p in ev.paths {
                        let _ = tx.send(p);
                    }
                }
            })
            .ok()
        };
        let warned = watcher.is_none() && forced_off;
        let mut w = Self {
            watcher,
            events: rx,
            watched: HashSet::new(),
            poll: poll_interval(),
            warned,
        };
        if w.watcher.is_none() && !w.warned {
            w.fall_back("file events are not available");
        }
        w
    }

    /// Watches one directory (not recursively: only what is followed is watched, so a
    /// root of thousands of finished runs costs no watches). On failure — most often the
    /// per-user inotify limit — drops events altogether and polls, saying so once.
    pub(crate) fn watch_dir(&mut self, dir: &Path) {
        let Some(watcher) = self.watcher.as_mut() else {
            return;
        };
        if self.watched.contains(dir) {
            return;
        }
        match watcher.watch(dir, RecursiveMode::NonRecursive) {
            Ok(()) => {
                self.watched.insert(dir.to_path_buf());
            }
            Err(e) => {
                let missing = matches!(&e.kind, notify::ErrorKind::PathNotFound)
                    || matches!(&e.kind, notify::ErrorKind::Io(io) if io.kind() == io::ErrorKind::NotFound);
                if !missing {
                    self.fall_back(&format!("cannot watch {}: {e}", dir.display()));
                }
            }
        }
    }

    /// Stops watching a directory whose files are finished.
    pub(crate) fn unwatch_dir(&mut self, dir: &Path) {
        if self.watched.remove(dir) {
            if let Some(w) = self.watcher.as_mut() {
                let _ = w.unwatch(dir);
            }
        }
    }

    fn fall_back(&mut self, why: &str) {
        self.watcher = None;
        self.watched.clear();
        if !self.warned {
            self.warned = true;
            eprintln!(
                "run-agent: warning: {why}; following files by polling every {} instead (raise fs.inotify.max_user_watches, or set JRUN_POLL_INTERVAL)",
                humantime::format_duration(self.poll)
            );
        }
    }

    /// Sleeps until an event or `timeout`, and returns the paths that changed (empty on
    /// a timeout). Events that arrive together are returned together.
    pub(crate) fn wait(&mut self, timeout: Duration) -> Vec<PathBuf> {
        if self.watcher.is_none() {
            std::thread::sleep(timeout);
            return Vec::new();
        }
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        match self.events.recv_timeout(timeout) {
            Ok(p) => out.push(p),
            Err(RecvTimeoutError::Timeout) => return out,
            Err(RecvTimeoutError::Disconnected) => {
                std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
                return out;
            }
        }
        while let Ok(p) = self.events.try_recv() {
            out.push(p);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn hands_out_complete_lines_and_survives_truncation_and_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.txt");
        let mut f = Follower::new(p.clone(), false);
        assert!(
            f.lines().unwrap().is_empty(),
            "a missing file is not an error"
        );
        std::fs::write(&p, "one\ntw").unwrap();
        assert_eq!(f.lines().unwrap(), ["one"]);
        let mut file = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        file.write_all(b"o\nthree\n").unwrap();
        assert_eq!(f.lines().unwrap(), ["two", "three"]);
        // Truncation: start over.
        std::fs::write(&p, "new\n").unwrap();
        assert_eq!(f.lines().unwrap(), ["new"]);
        // Rotation: a different file at the path, even a longer one.
        std::fs::rename(&p, dir.path().join("old")).unwrap();
        std::fs::write(&p, "rotated line one\npart").unwrap();
        assert_eq!(f.lines().unwrap(), ["rotated line one"]);
        assert_eq!(f.flush().as_deref(), Some("part"));
        assert_eq!(f.flush(), None);
    }

    #[test]
    fn from_end_skips_what_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.txt");
        std::fs::write(&p, "old\n").unwrap();
        let mut f = Follower::new(p.clone(), true);
        let mut file = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        file.write_all(b"new\n").unwrap();
        assert_eq!(f.lines().unwrap(), ["new"]);
    }
}
