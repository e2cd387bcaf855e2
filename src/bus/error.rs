//! Why a bus operation failed; every variant names the file and, where there is one,
//! the fix.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub(crate) enum BusError {
    #[error("cannot open message bus {}: {source}", path.display())]
    Open { path: PathBuf, source: io::Error },
    #[error("message bus {} is a {kind}, not a regular file (the bus refuses symlinks, FIFOs and directories; give the path of a plain file)", path.display())]
    NotAFile { path: PathBuf, kind: &'static str },
    #[error("cannot lock message bus {}: {source}", path.display())]
    Lock { path: PathBuf, source: io::Error },
    #[error("timed out after {} waiting for the lock on message bus {}: another writer holds it (a stopped or hung process? `fuser {}` shows it); raise --lock-timeout or JRUN_LOCK_TIMEOUT to wait longer", humantime::format_duration(*waited), path.display(), path.display())]
    LockTimeout { path: PathBuf, waited: Duration },
    #[error("cannot append to message bus {}: {source} (wrote {written} of {len} bytes; {repair})", path.display())]
    Write {
        path: PathBuf,
        source: io::Error,
        written: usize,
        len: usize,
        repair: String,
    },
    #[error("message body is {len} bytes; a bus message holds at most {max} bytes (put large content in a file and post its path)")]
    BodyTooLarge { len: usize, max: usize },
    #[error("cannot read message bus {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot update the read cursor {}: {source}", path.display())]
    Cursor { path: PathBuf, source: io::Error },
    #[error("cannot rotate message bus {}: {source}", path.display())]
    Rotate { path: PathBuf, source: io::Error },
}

impl BusError {
    /// Whether the error is bad input (exit 2) rather than a failure (exit 1).
    pub(crate) fn is_usage(&self) -> bool {
        matches!(
            self,
            BusError::NotAFile { .. } | BusError::BodyTooLarge { .. }
        )
    }
}
