//! Helpers for the backend tests: running the fake CLIs in `scripts/fake-agents`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::stream::{summarize, OutputFormat, StreamSummary};

pub(crate) fn fake_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scripts/fake-agents")
        .join(name)
}

/// Runs a fake agent with `sh`, feeding `prompt` on stdin; returns stdout and exit code.
pub(crate) fn run_fake(name: &str, prompt: &str, env: &[(&str, &str)]) -> (Vec<u8>, i32) {
    let mut cmd = Command::new("sh");
    cmd.arg(fake_path(name))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in [
        "FAKE_TEXT",
        "FAKE_COST",
        "FAKE_INPUT_TOKENS",
        "FAKE_OUTPUT_TOKENS",
        "FAKE_CACHED_TOKENS",
        "FAKE_MODE",
        "FAKE_SLEEP",
        "FAKE_ARGV_FILE",
        "FAKE_PROMPT_FILE",
        "FAKE_ENV_DUMP",
        "FAKE_DONE_FILE",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    let mut child = cmd.spawn().expect("sh runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(prompt.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (out.stdout, out.status.code().unwrap_or(-1))
}

/// Runs a fake agent and summarises what it printed.
pub(crate) fn summarize_fake(
    name: &str,
    format: OutputFormat,
    env: &[(&str, &str)],
) -> (StreamSummary, i32) {
    let (stdout, code) = run_fake(name, "do the task\n", env);
    (summarize(format, stdout.as_slice()).unwrap(), code)
}
