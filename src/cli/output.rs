//! Printing results: plain lines and JSON documents on stdout, quiet on a broken pipe.

use std::io::{self, Write};

use serde::Serialize;

use crate::error::Error;

/// Maps a write error on stdout: a closed pipe ends the command quietly.
pub(crate) fn stdout_error(e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Error::BrokenPipe
    } else {
        Error::Io {
            action: "write to",
            path: "stdout".into(),
            source: e,
        }
    }
}

/// Prints one line on stdout.
pub(crate) fn line(text: &str) -> Result<(), Error> {
    let mut out = io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(stdout_error)
}

/// Prints one JSON document (pretty when stdout is a terminal would be nicer to read,
/// but machines read `--json`, so it is always one compact line).
pub(crate) fn json(value: &impl Serialize) -> Result<(), Error> {
    let text = serde_json::to_string(value)
        .map_err(|e| Error::Failed(format!("cannot encode JSON: {e}")))?;
    line(&text)
}

/// Prints bytes as they are (completion scripts, man pages).
pub(crate) fn raw(bytes: &[u8]) -> Result<(), Error> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(stdout_error)
}
