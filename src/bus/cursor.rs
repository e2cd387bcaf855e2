//! `bus read --unread --as NAME`: one read cursor per reader name, kept beside the bus
//! in `<bus>.cursors/NAME`, replaced atomically after each read.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::append::lock;
use super::error::BusError;
use crate::storage::atomic::write_atomic;

/// Where a reader name got to in a bus: a byte offset in one file (device and inode,
/// so a rotated or replaced bus starts again from the top). Held under a lock file so
/// two readers with the same name take turns.
pub(crate) struct Cursor {
    path: PathBuf,
    _lock: File,
    offset: u64,
    dev: u64,
    ino: u64,
}

/// The folder of cursors of a bus.
pub(crate) fn cursor_dir(bus: &Path) -> PathBuf {
    let name = bus
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bus".into());
    bus.with_file_name(format!("{name}.cursors"))
}

impl Cursor {
    /// Opens (creating) the cursor of `name` for `bus` and locks it. `name` must already
    /// be a valid id (no `/`).
    pub(crate) fn open(bus: &Path, name: &str, timeout: Duration) -> Result<Self, BusError> {
        let dir = cursor_dir(bus);
        let err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| BusError::Cursor { path, source }
        };
        std::fs::create_dir_all(&dir).map_err(err(&dir))?;
        let path = dir.join(name);
        let lock_path = dir.join(format!("{name}.lock"));
        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(err(&lock_path))?;
        lock(&lock_file, &lock_path, Instant::now() + timeout, timeout)?;
        let (offset, dev, ino) = match std::fs::read_to_string(&path) {
            Ok(text) => {
                let v: Vec<u64> = text
                    .split_whitespace()
                    .filter_map(|w| w.parse().ok())
                    .collect();
                match v[..] {
                    [o, d, i] => (o, d, i),
                    _ => (0, 0, 0),
                }
            }
            Err(_) => (0, 0, 0),
        };
        Ok(Self {
            path,
            _lock: lock_file,
            offset,
            dev,
            ino,
        })
    }

    /// Where to start reading `bus`: the saved offset if it is the same file and no
    /// shorter than that, else the top.
    pub(crate) fn start(&self, bus: &File) -> u64 {
        match bus.metadata() {
            Ok(m) if m.dev() == self.dev && m.ino() == self.ino && m.len() >= self.offset => {
                self.offset
            }
            _ => 0,
        }
    }

    /// Records that everything before `offset` of `bus` has been shown.
    pub(crate) fn save(&mut self, bus: &File, offset: u64) -> Result<(), BusError> {
        let m = bus.metadata().map_err(|source| BusError::Cursor {
            path: self.path.clone(),
            source,
        })?;
        (self.offset, self.dev, self.ino) = (offset, m.dev(), m.ino());
        write_atomic(
            &self.path,
            format!("{offset} {} {}\n", m.dev(), m.ino()).as_bytes(),
        )
        .map_err(|source| BusError::Cursor {
            path: self.path.clone(),
            source,
        })
    }
}
