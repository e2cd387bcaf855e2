//! `run-info.yaml` version 1: the record of one run, written at start and rewritten at end.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::atomic::write_atomic;
use crate::agents::usage::Usage;

/// The only format version this build reads and writes.
pub(crate) const RUN_INFO_VERSION: u32 = 1;

/// Lifecycle state of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RunStatus {
    Running,
    Completed,
    Failed,
    Stopped,
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Stopped => "stopped",
        })
    }
}

/// Every key of SPEC §2, in the order conductor-loop writes them, so tools built for that
/// layout read ours. Unknown keys are ignored on read; missing optional keys default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RunInfo {
    pub(crate) version: u32,
    pub(crate) run_id: String,
    pub(crate) project_id: String,
    pub(crate) task_id: String,
    #[serde(default)]
    pub(crate) parent_run_id: String,
    #[serde(default)]
    pub(crate) previous_run_id: String,
    #[serde(default)]
    pub(crate) attempt: u32,
    #[serde(default)]
    pub(crate) depth: u32,
    #[serde(default)]
    pub(crate) agent: String,
    #[serde(default)]
    pub(crate) agent_version: String,
    #[serde(default)]
    pub(crate) commandline: String,
    #[serde(default)]
    pub(crate) pid: i32,
    #[serde(default)]
    pub(crate) pgid: i32,
    #[serde(default)]
    pub(crate) proc_start: u64,
    #[serde(default)]
    pub(crate) host: String,
    #[serde(default)]
    pub(crate) start_time: String,
    #[serde(default)]
    pub(crate) end_time: String,
    #[serde(default = "running_exit_code")]
    pub(crate) exit_code: i32,
    pub(crate) status: RunStatus,
    #[serde(default)]
    pub(crate) error_summary: String,
    #[serde(default)]
    pub(crate) cwd: String,
    #[serde(default)]
    pub(crate) prompt_path: String,
    #[serde(default)]
    pub(crate) output_path: String,
    #[serde(default)]
    pub(crate) stdout_path: String,
    #[serde(default)]
    pub(crate) stderr_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) usage: Option<Usage>,
}

fn running_exit_code() -> i32 {
    -1
}

/// Why a run-info.yaml could not be read or written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RunInfoError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("malformed {}: {message}", path.display())]
    Malformed { path: PathBuf, message: String },
    #[error("{} has version {found}, this run-agent reads version {RUN_INFO_VERSION} (upgrade run-agent)", path.display())]
    Version { path: PathBuf, found: u64 },
}

impl RunInfo {
    /// Reads a record, refusing versions this build does not know.
    pub(crate) fn load(path: &Path) -> Result<Self, RunInfoError> {
        let bytes = std::fs::read(path).map_err(|source| RunInfoError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &bytes)
    }

    pub(crate) fn parse(path: &Path, bytes: &[u8]) -> Result<Self, RunInfoError> {
        match serde_yaml::from_slice::<RunInfo>(bytes) {
            Ok(info) if info.version == RUN_INFO_VERSION => Ok(info),
            Ok(info) => Err(RunInfoError::Version {
                path: path.to_path_buf(),
                found: info.version.into(),
            }),
            Err(e) => {
                // A newer format may fail to parse for reasons other than the version;
                // say so rather than report a confusing field error.
                #[derive(Deserialize)]
                struct Probe {
                    version: u64,
                }
                if let Ok(p) = serde_yaml::from_slice::<Probe>(bytes) {
                    if p.version != u64::from(RUN_INFO_VERSION) {
                        return Err(RunInfoError::Version {
                            path: path.to_path_buf(),
                            found: p.version,
                        });
                    }
                }
                Err(RunInfoError::Malformed {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })
            }
        }
    }

    /// Writes the record atomically (temp, fsync, rename, fsync dir).
    pub(crate) fn save(&self, path: &Path) -> Result<(), RunInfoError> {
        let text = serde_yaml::to_string(self).map_err(|e| RunInfoError::Malformed {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        write_atomic(path, text.as_bytes()).map_err(|source| RunInfoError::Write {
            path: path.to_path_buf(),
            source,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A typical record, for tests elsewhere too.
    pub(crate) fn sample() -> RunInfo {
        RunInfo {
            version: 1,
            run_id: "20261121-1015000000-42-1".into(),
            project_id: "p".into(),
            task_id: "t".into(),
            parent_run_id: String::new(),
            previous_run_id: String::new(),
            attempt: 1,
            depth: 0,
            agent: "shell".into(),
            agent_version: String::new(),
            commandline: "sh -s".into(),
            pid: 42,
            pgid: 42,
            proc_start: 123,
            host: "h".into(),
            start_time: "2026-11-21T10:15:00.000000Z".into(),
            end_time: String::new(),
            exit_code: -1,
            status: RunStatus::Running,
            error_summary: String::new(),
            cwd: "/".into(),
            prompt_path: "/p".into(),
            output_path: "/o".into(),
            stdout_path: "/s".into(),
            stderr_path: "/e".into(),
            usage: None,
        }
    }

    #[test]
    fn round_trips_and_ignores_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("run-info.yaml");
        let info = sample();
        info.save(&p).unwrap();
        assert_eq!(RunInfo::load(&p).unwrap(), info);
        let mut text = std::fs::read_to_string(&p).unwrap();
        text.push_str("some_future_key: 7\n");
        assert_eq!(RunInfo::parse(&p, text.as_bytes()).unwrap(), info);
    }

    #[test]
    fn refuses_an_unknown_version() {
        let text = serde_yaml::to_string(&sample())
            .unwrap()
            .replace("version: 1", "version: 2");
        let err = RunInfo::parse(Path::new("x.yaml"), text.as_bytes()).unwrap_err();
        assert!(
            matches!(err, RunInfoError::Version { found: 2, .. }),
            "{err}"
        );
        let err =
            RunInfo::parse(Path::new("x.yaml"), b"version: 9\nstatus: [weird]\n").unwrap_err();
        assert!(
            matches!(err, RunInfoError::Version { found: 9, .. }),
            "{err}"
        );
    }
}
