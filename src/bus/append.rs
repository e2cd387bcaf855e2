//! Appending records: `O_APPEND`, `flock(LOCK_EX)` with a bounded wait, the whole record
//! in one `write`, cut back to the old length if the write comes up short.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

pub(crate) use super::error::BusError;
use super::format::{encode_ts, id_and_ts, NewMessage, MAX_BODY};

/// How long a writer waits for the lock unless told otherwise.
pub(crate) const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// How a writer behaves.
#[derive(Debug, Clone)]
pub(crate) struct AppendOptions {
    /// The longest wait for the lock before failing with [`BusError::LockTimeout`].
    pub(crate) lock_timeout: Duration,
    /// `fdatasync` each record before releasing the lock.
    pub(crate) fsync: bool,
}

impl AppendOptions {
    /// Defaults, overridden by `JRUN_LOCK_TIMEOUT` (a duration) and `JRUN_BUS_FSYNC=1`.
    pub(crate) fn from_env() -> Self {
        let lock_timeout = std::env::var("JRUN_LOCK_TIMEOUT")
            .ok()
            .and_then(|v| humantime::parse_duration(v.trim()).ok())
            .unwrap_or(DEFAULT_LOCK_TIMEOUT);
        let fsync = matches!(
            std::env::var("JRUN_BUS_FSYNC").as_deref(),
            Ok("1" | "true" | "yes")
        );
        Self {
            lock_timeout,
            fsync,
        }
    }
}

/// Appends `msg` to the bus at `path` (created if missing) and returns its id.
pub(crate) fn post(path: &Path, msg: &NewMessage) -> Result<String, BusError> {
    post_with(path, msg, &AppendOptions::from_env())
}

/// [`post`] with explicit options.
pub(crate) fn post_with(
    path: &Path,
    msg: &NewMessage,
    opts: &AppendOptions,
) -> Result<String, BusError> {
    Appender::open(path, opts.clone())?.append(msg)
}

/// An open bus for many appends (keeps the descriptor; follows a rotation).
pub(crate) struct Appender {
    path: PathBuf,
    file: File,
    dev: u64,
    ino: u64,
    opts: AppendOptions,
}

impl Appender {
    /// Opens (creating) the bus, refusing anything but a regular file.
    pub(crate) fn open(path: &Path, opts: AppendOptions) -> Result<Self, BusError> {
        let (file, dev, ino) = open_bus(path)?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            dev,
            ino,
            opts,
        })
    }

    /// Appends one message; returns its id.
    pub(crate) fn append(&mut self, msg: &NewMessage) -> Result<String, BusError> {
        if msg.body.len() > MAX_BODY {
            return Err(BusError::BodyTooLarge {
                len: msg.body.len(),
                max: MAX_BODY,
            });
        }
        let (id, ts) = id_and_ts(SystemTime::now());
        let record = encode_ts(msg, &id, &ts);
        self.append_bytes(&record)?;
        Ok(id)
    }

    /// Appends pre-encoded bytes as one record, under the lock.
    pub(crate) fn append_bytes(&mut self, record: &[u8]) -> Result<(), BusError> {
        self.lock_current()?;
        let result = self.write_locked(record);
        // SAFETY: unlocking a descriptor we own; closing would release it too.
        unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_UN) };
        result
    }

    /// Appends an encoded record in `chunk`-byte writes under the lock, as `cat >> bus`
    /// does: only for the stress tests, whose killed writers must leave torn records.
    pub(crate) fn append_chunked(&mut self, record: &[u8], chunk: usize) -> Result<(), BusError> {
        self.lock_current()?;
        let mut result = Ok(());
        for piece in record.chunks(chunk.max(1)) {
            result = self.write_locked(piece);
            if result.is_err() {
                break;
            }
            std::thread::yield_now();
        }
        // SAFETY: unlocking a descriptor we own.
        unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_UN) };
        result
    }

    /// Takes the lock on the file the path names now: after a rotation (the path was
    /// renamed away while we waited) it reopens the new file and locks that instead.
    /// `gc --rotate-bus` makes the archive read-only while it holds the lock, so a
    /// writable file needs no look at the path (an `fstat` instead of a path lookup).
    fn lock_current(&mut self) -> Result<(), BusError> {
        let deadline = Instant::now() + self.opts.lock_timeout;
        loop {
            lock(&self.file, &self.path, deadline, self.opts.lock_timeout)?;
            // SAFETY: fstat on a descriptor we own into a zeroed struct.
            let writable = unsafe {
                let mut st: libc::stat = std::mem::zeroed();
                libc::fstat(self.file.as_raw_fd(), &mut st) == 0 && st.st_mode & 0o200 != 0
            };
            if writable {
                return Ok(());
            }
            match std::fs::metadata(&self.path) {
                Ok(m) if m.dev() == self.dev && m.ino() == self.ino => return Ok(()),
                _ => {
                    // SAFETY: as above.
                    unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_UN) };
                    let (file, dev, ino) = open_bus(&self.path)?;
                    (self.file, self.dev, self.ino) = (file, dev, ino);
                }
            }
        }
    }

    fn write_locked(&mut self, record: &[u8]) -> Result<(), BusError> {
        let mut written = 0;
        let mut failure = None;
        while written < record.len() {
            // One write holds the whole record; a second only happens after a short
            // write, to learn why (ENOSPC, EFBIG) or to finish after an interruption.
            match (&self.file).write(&record[written..]) {
                Ok(0) => {
                    failure = Some(io::Error::new(io::ErrorKind::WriteZero, "wrote nothing"));
                    break;
                }
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        if let Some(source) = failure {
            let repair = self.cut_back(written);
            return Err(BusError::Write {
                path: self.path.clone(),
                source,
                written,
                len: record.len(),
                repair,
            });
        }
        if self.opts.fsync {
            self.file.sync_data().map_err(|source| BusError::Write {
                path: self.path.clone(),
                source,
                written,
                len: record.len(),
                repair: "the record is written but may not be on disk".into(),
            })?;
        }
        Ok(())
    }

    /// Cuts the file back by the `written` bytes of a failed record (we hold the lock,
    /// so they are the last bytes) and says what was done.
    fn cut_back(&self, written: usize) -> String {
        if written == 0 {
            return "the file is unchanged, earlier messages are intact".into();
        }
        let result = self
            .file
            .metadata()
            .and_then(|m| self.file.set_len(m.len().saturating_sub(written as u64)));
        match result {
            Ok(()) => "the file was cut back to its old length, earlier messages are intact".into(),
            Err(e) => {
                format!("cutting the partial record back also failed: {e}; readers skip it as torn")
            }
        }
    }
}

fn open_bus(path: &Path) -> Result<(File, u64, u64), BusError> {
    if let Ok(m) = std::fs::symlink_metadata(path) {
        check_kind(path, &m)?;
    }
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|source| match source.raw_os_error() {
            Some(libc::ELOOP) => BusError::NotAFile {
                path: path.to_path_buf(),
                kind: "symlink",
            },
            Some(libc::EISDIR) => BusError::NotAFile {
                path: path.to_path_buf(),
                kind: "directory",
            },
            Some(libc::ENXIO) => BusError::NotAFile {
                path: path.to_path_buf(),
                kind: "FIFO",
            },
            _ => BusError::Open {
                path: path.to_path_buf(),
                source,
            },
        })?;
    let m = file.metadata().map_err(|source| BusError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    check_kind(path, &m)?;
    Ok((file, m.dev(), m.ino()))
}

fn check_kind(path: &Path, m: &std::fs::Metadata) -> Result<(), BusError> {
    let t = m.file_type();
    let kind = if t.is_symlink() {
        "symlink"
    } else if t.is_dir() {
        "directory"
    } else if t.is_fifo() {
        "FIFO"
    } else if t.is_file() {
        return Ok(());
    } else {
        "special file"
    };
    Err(BusError::NotAFile {
        path: path.to_path_buf(),
        kind,
    })
}

/// `flock(LOCK_EX)` until `deadline`: non-blocking tries, yielding first (locks are held
/// for one `write`), then sleeping in growing steps of at most 5 ms.
pub(crate) fn lock(
    file: &File,
    path: &Path,
    deadline: Instant,
    timeout: Duration,
) -> Result<(), BusError> {
    let fd = file.as_raw_fd();
    let mut tries = 0u32;
    let mut nap = Duration::from_micros(50);
    loop {
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => {}
            _ => {
                return Err(BusError::Lock {
                    path: path.to_path_buf(),
                    source: e,
                })
            }
        }
        tries += 1;
        if tries < 200 {
            std::thread::yield_now();
            continue;
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(BusError::LockTimeout {
                path: path.to_path_buf(),
                waited: timeout,
            });
        }
        std::thread::sleep(nap.min(deadline - now));
        nap = (nap * 2).min(Duration::from_millis(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_symlinks_fifos_and_directories() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.md");
        std::fs::write(&real, "").unwrap();
        let link = dir.path().join("link.md");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let fifo = dir.path().join("fifo.md");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
        let msg = NewMessage::default();
        let opts = AppendOptions::from_env();
        for (p, kind) in [
            (&link, "symlink"),
            (&fifo, "FIFO"),
            (&dir.path().to_path_buf(), "directory"),
        ] {
            match post_with(p, &msg, &opts) {
                Err(BusError::NotAFile { kind: k, .. }) => assert_eq!(k, kind),
                other => panic!("{p:?}: {other:?}"),
            }
        }
        assert_eq!(std::fs::read(&real).unwrap(), b"");
    }
}
