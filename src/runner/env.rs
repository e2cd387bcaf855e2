//! The runner-owned environment every agent gets (SPEC §4).

use std::ffi::OsString;
use std::path::Path;

use crate::storage::layout::{RunPaths, TaskPaths};

/// Identity of the run the environment describes.
pub(crate) struct RunEnv<'a> {
    pub(crate) root: &'a Path,
    pub(crate) task: &'a TaskPaths,
    pub(crate) run: &'a RunPaths,
    pub(crate) parent_run_id: &'a str,
    pub(crate) depth: u32,
    /// The agent's name when children may inherit it (`JRUN_AGENT`); `None` for an
    /// `--agent-cmd` command, which is this run's program, not a kind of agent.
    pub(crate) agent: Option<&'a str>,
    /// The config file this run was started with, so nested runs read the same one.
    pub(crate) config: Option<&'a Path>,
}

/// The variables to set on the agent. They overwrite whatever the caller had, so a nested
/// run never inherits its parent's identity by mistake.
pub(crate) fn agent_env(e: &RunEnv<'_>) -> Vec<(OsString, OsString)> {
    let mut vars: Vec<(OsString, OsString)> = vec![
        ("JRUN_ROOT".into(), e.root.into()),
        ("JRUN_PROJECT_ID".into(), e.task.project_id.clone().into()),
        ("JRUN_TASK_ID".into(), e.task.task_id.clone().into()),
        ("JRUN_ID".into(), e.run.run_id.clone().into()),
        ("JRUN_PARENT_ID".into(), e.parent_run_id.into()),
        ("JRUN_DEPTH".into(), e.depth.to_string().into()),
        ("JRUN_TASK_FOLDER".into(), e.task.dir.clone().into()),
        ("JRUN_RUN_FOLDER".into(), e.run.dir.clone().into()),
        ("JRUN_MESSAGE_BUS".into(), e.task.bus.clone().into()),
        ("JRUN_PROJECT_BUS".into(), e.task.project_bus.clone().into()),
        ("JRUN_PROMPT_FILE".into(), e.run.prompt.clone().into()),
    ];
    // Always set, empty when not inheritable, so a grandparent's value cannot leak down.
    vars.push(("JRUN_AGENT".into(), e.agent.unwrap_or_default().into()));
    vars.push((
        "JRUN_CONFIG".into(),
        e.config.map(Path::as_os_str).unwrap_or_default().into(),
    ));
    vars.push(("PATH".into(), path_with_self()));
    vars
}

/// `PATH` with the directory of this `run-agent` binary first, so agents call the same
/// build that runs them.
fn path_with_self() -> OsString {
    let current = std::env::var_os("PATH").unwrap_or_default();
    let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    else {
        return current;
    };
    let mut parts = vec![dir];
    parts.extend(std::env::split_paths(&current));
    std::env::join_paths(parts).unwrap_or(current)
}
