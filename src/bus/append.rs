//! Appending a record to a bus file under `flock`, in one `write`.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use fs2::FileExt;

use super::format::{encode, new_msg_id, NewMessage};

/// Why a post failed; each names the bus file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BusError {
    #[error("cannot append to message bus {}: {source}", path.display())]
    Append { path: PathBuf, source: io::Error },
}

/// Appends `msg` to the bus at `path` and returns its id.
pub(crate) fn post(path: &Path, msg: &NewMessage) -> Result<String, BusError> {
    let err = |source| BusError::Append {
        path: path.to_path_buf(),
        source,
    };
    let now = SystemTime::now();
    let id = new_msg_id(now);
    let record = encode(msg, &id, now);
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(err)?;
    file.lock_exclusive().map_err(err)?;
    let result = file.write_all(&record);
    let _ = FileExt::unlock(&file);
    result.map_err(err)?;
    Ok(id)
}
