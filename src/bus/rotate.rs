//! `gc --rotate-bus`: moving a large bus aside to `<name>.<timestamp>.archived` under the
//! writers' lock, so no append is lost and followers go on with the new file.

use std::fs::OpenOptions;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::append::lock;
use super::error::BusError;
use crate::storage::time::stamp;

/// Every bus under a runs root: `<root>/*/PROJECT-MESSAGE-BUS.md` and
/// `<root>/*/*/TASK-MESSAGE-BUS.md`.
pub(crate) fn buses_under(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(projects) = std::fs::read_dir(root) else {
        return out;
    };
    for project in projects.flatten() {
        let p = project.path();
        if !p.is_dir() {
            continue;
        }
        let bus = p.join("PROJECT-MESSAGE-BUS.md");
        if bus.is_file() {
            out.push(bus);
        }
        let Ok(tasks) = std::fs::read_dir(&p) else {
            continue;
        };
        for task in tasks.flatten() {
            let bus = task.path().join("TASK-MESSAGE-BUS.md");
            if bus.is_file() {
                out.push(bus);
            }
        }
    }
    out.sort();
    out
}

/// The archive name for a bus rotated at `now`.
pub(crate) fn archive_path(bus: &Path, now: SystemTime) -> PathBuf {
    let s = stamp(now);
    let name = bus
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    bus.with_file_name(format!("{name}.{}-{}-{}.archived", s.date, s.time, s.nanos))
}

/// Moves `bus` aside if it is larger than `max` bytes; returns the archive path and the
/// size. With `dry_run`, only says what it would do. Writers waiting for the lock
/// notice the rename and append to the new file.
pub(crate) fn rotate_if_larger(
    bus: &Path,
    max: u64,
    dry_run: bool,
    timeout: Duration,
) -> Result<Option<(PathBuf, u64)>, BusError> {
    let err = |source| BusError::Rotate {
        path: bus.to_path_buf(),
        source,
    };
    let m = match std::fs::symlink_metadata(bus) {
        Ok(m) if m.file_type().is_file() => m,
        _ => return Ok(None),
    };
    if m.len() <= max {
        return Ok(None);
    }
    let archive = archive_path(bus, SystemTime::now());
    if dry_run {
        return Ok(Some((archive, m.len())));
    }
    let file = OpenOptions::new()
        .append(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(bus)
        .map_err(err)?;
    lock(&file, bus, Instant::now() + timeout, timeout)?;
    let held = file.metadata().map_err(err)?;
    let still = std::fs::symlink_metadata(bus).map_err(err)?;
    let result = if held.ino() != still.ino() || held.dev() != still.dev() {
        Ok(None) // rotated by someone else meanwhile
    } else {
        // Read-only marks the archive for writers that opened it before the rename
        // and are waiting for the lock: they reopen the path instead.
        std::fs::rename(bus, &archive)
            .map(|()| {
                let mode = held.mode() & !0o222;
                let _ = file.set_permissions(std::fs::Permissions::from_mode(mode));
                Some((archive, held.len()))
            })
            .map_err(err)
    };
    // SAFETY: unlocking a descriptor we own.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::append::{AppendOptions, Appender};
    use crate::bus::format::NewMessage;

    #[test]
    fn an_appender_opened_before_a_rotation_writes_to_the_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let bus = dir.path().join("TASK-MESSAGE-BUS.md");
        let mut a = Appender::open(&bus, AppendOptions::from_env()).unwrap();
        let msg = NewMessage {
            body: "x".repeat(100),
            ..NewMessage::default()
        };
        a.append(&msg).unwrap();
        let (archive, size) = rotate_if_larger(&bus, 10, false, Duration::from_secs(1))
            .unwrap()
            .unwrap();
        assert_eq!(std::fs::metadata(&archive).unwrap().len(), size);
        assert!(!bus.exists());
        a.append(&msg).unwrap();
        assert_eq!(
            std::fs::metadata(&archive).unwrap().len(),
            size,
            "archive untouched"
        );
        assert!(
            std::fs::metadata(&bus).unwrap().len() > 100,
            "the new file has it"
        );
        assert!(
            rotate_if_larger(&bus, u64::MAX, false, Duration::from_secs(1))
                .unwrap()
                .is_none()
        );
    }
}
