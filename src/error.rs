//! The crate's error type and its one mapping to exit codes (SPEC §4).

use std::io;
use std::path::PathBuf;

use crate::agents::resolve::AgentError;
use crate::bus::error::BusError;
use crate::config::file::ConfigError;
use crate::runner::preamble::UnknownRole;
use crate::storage::ids::IdError;
use crate::storage::layout::LayoutError;
use crate::storage::run_info::RunInfoError;

/// Everything a command can fail with.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// Bad flags or input, found before anything was written: exit 2.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Id(#[from] IdError),
    #[error(transparent)]
    Agent(#[from] AgentError),
    #[error(transparent)]
    Role(#[from] UnknownRole),
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error(transparent)]
    RunInfo(#[from] RunInfoError),
    #[error(transparent)]
    Bus(#[from] BusError),
    /// A file operation failed; says what was being done and where.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// The agent could not be started at all: exit 1.
    #[error("cannot start agent {program:?}: {source} (is it installed and on PATH? see --agent / --agent-cmd)")]
    Spawn { program: String, source: io::Error },
    /// Stdout was closed by the reader (`| head`): exit quietly.
    #[error("broken pipe")]
    BrokenPipe,
    /// Anything else that fails the command: exit 1.
    #[error("{0}")]
    Failed(String),
}

impl Error {
    /// The process exit code for this error.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_)
            | Error::Config(_)
            | Error::Id(_)
            | Error::Agent(_)
            | Error::Role(_)
            | Error::Layout(_) => 2,
            Error::Bus(e) if e.is_usage() => 2,
            Error::BrokenPipe => 0,
            Error::RunInfo(_)
            | Error::Bus(_)
            | Error::Io { .. }
            | Error::Spawn { .. }
            | Error::Failed(_) => 1,
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    }
}
