//! Asking an agent binary for its version, once per binary per process, for
//! `agent_version` in run-info.yaml and for `validate`.

use std::collections::HashMap;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// A CLI that takes longer than this to print its version is treated as unknown; the run
/// must not wait on it.
const TIMEOUT: Duration = Duration::from_secs(2);
const POLL: Duration = Duration::from_millis(10);
/// A version line is short; a binary that prints more is cut off here.
const MAX_OUTPUT: u64 = 64 * 1024;

fn cache() -> &'static Mutex<HashMap<PathBuf, Option<String>>> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Option<String>>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The first non-empty line `<binary> --version` prints (stdout, else stderr), trimmed.
///
/// Runs with stdin from /dev/null, in its own process group, and is killed with its
/// children after two seconds. The answer is cached per path for the life of the
/// process, including "no version" from a binary that ran but hung or printed nothing.
/// A binary that could not be started at all is not cached, so installing it later
/// in a long-running loop is noticed.
pub(crate) fn agent_version(binary: &Path) -> Option<String> {
    if let Some(known) = cache()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(binary)
    {
        return known.clone();
    }
    let mut cmd = Command::new(binary);
    // Not inside any run: a wrapper script must not take `--version` for a task and
    // start runs of its own.
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(|k| k.starts_with("JRUN_")) {
            cmd.env_remove(key);
        }
    }
    let child = cmd
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .ok()?;
    let version = ask(child);
    cache()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .insert(binary.to_path_buf(), version.clone());
    version
}

fn ask(mut child: Child) -> Option<String> {
    // Readers on their own threads, so a chatty binary cannot block on a full pipe
    // while we wait for it to exit.
    let stdout = child
        .stdout
        .take()
        .map(|s| thread::spawn(move || read_capped(s)));
    let stderr = child
        .stderr
        .take()
        .map(|s| thread::spawn(move || read_capped(s)));
    let pid = Pid::from_raw(i32::try_from(child.id()).ok()?);
    let deadline = Instant::now() + TIMEOUT;
    let exited = loop {
        if has_exited(pid) {
            break true;
        }
        if Instant::now() >= deadline {
            break false;
        }
        thread::sleep(POLL);
    };
    // Kill the whole group while the leader is still unreaped, so its id cannot have been
    // reused: on timeout to stop the binary and any children, after a normal exit to stop
    // background children that would hold the pipes open and keep the readers waiting.
    let _ = killpg(pid, Signal::SIGKILL);
    let _ = child.wait();
    if !exited {
        return None;
    }
    let out = stdout.and_then(|h| h.join().ok()).unwrap_or_default();
    let err = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
    first_line(&out).or_else(|| first_line(&err))
}

/// Whether the child has exited, without reaping it (`WNOWAIT`).
fn has_exited(pid: Pid) -> bool {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    !matches!(waitid(Id::Pid(pid), flags), Ok(WaitStatus::StillAlive))
}

fn read_capped(stream: impl Read) -> Vec<u8> {
    let mut buf = Vec::new();
    let _ = stream.take(MAX_OUTPUT).read_to_end(&mut buf);
    buf
}

fn first_line(bytes: &[u8]) -> Option<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn first_non_empty_line_trimmed_and_cached() {
        let dir = tempfile::tempdir().unwrap();
        let counter = dir.path().join("count");
        let bin = script(
            dir.path(),
            "agent",
            &format!(
                "echo x >> '{}'\nprintf '\\n   \\n  1.2.3 (Fake)  \\nmore\\n'",
                counter.display()
            ),
        );
        assert_eq!(agent_version(&bin).as_deref(), Some("1.2.3 (Fake)"));
        assert_eq!(agent_version(&bin).as_deref(), Some("1.2.3 (Fake)"));
        assert_eq!(fs::read_to_string(&counter).unwrap().lines().count(), 1);
    }

    #[test]
    fn falls_back_to_stderr() {
        let dir = tempfile::tempdir().unwrap();
        let bin = script(dir.path(), "agent", "echo 'v9 on stderr' >&2");
        assert_eq!(agent_version(&bin).as_deref(), Some("v9 on stderr"));
    }

    #[test]
    fn hanging_binary_is_killed_within_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        // The background sleep keeps stdout open: only a group kill ends the readers.
        let bin = script(dir.path(), "agent", "sleep 30 &\nsleep 30");
        let started = Instant::now();
        assert_eq!(agent_version(&bin), None);
        let took = started.elapsed();
        assert!(took >= TIMEOUT, "{took:?}");
        assert!(took < TIMEOUT + Duration::from_secs(3), "{took:?}");
    }

    #[test]
    fn background_child_holding_the_pipe_does_not_hang() {
        let dir = tempfile::tempdir().unwrap();
        let bin = script(dir.path(), "agent", "echo 3.0\nsleep 30 &");
        // An answer at all means no timeout; returning means the readers finished.
        assert_eq!(agent_version(&bin).as_deref(), Some("3.0"));
    }

    #[test]
    fn missing_binary_is_none_and_not_cached() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("later");
        assert_eq!(agent_version(&path), None);
        script(dir.path(), "later", "echo 0.1");
        assert_eq!(agent_version(&path).as_deref(), Some("0.1"));
    }

    #[test]
    fn reads_the_fake_agents() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/fake-agents");
        for (name, want) in [
            ("claude", "(Claude Code)"),
            ("codex", "codex-cli"),
            ("gemini", "."),
        ] {
            let version = agent_version(&root.join(name)).unwrap();
            assert!(version.contains(want), "{name}: {version}");
        }
    }
}
