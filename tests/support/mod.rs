//! Test helpers: a temp runs root, a `run-agent` command builder, run-info readers and
//! condition waits (never bare sleeps).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Path of the binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_run-agent"))
}

/// The repository's `scripts/` folder (fake agents live there).
pub fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts")
}

/// A temp directory holding a runs root (`root/`) and a scratch area, removed on drop.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        Self {
            dir: tempfile::Builder::new()
                .prefix("run-agent-test-")
                .tempdir()
                .unwrap(),
        }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a file under the temp dir and returns its path.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Writes an executable script under the temp dir and returns its path.
    pub fn write_exec(&self, rel: &str, text: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = self.write(rel, text);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    /// A `run-agent` command with `--root` set, a clean environment (no JRUN_* leaking
    /// in from a surrounding run, HOME pointed at the temp dir so no user config is read)
    /// and the temp dir as working directory.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = bin_cmd(self);
        c.args(args).arg("--root").arg(self.root());
        c
    }

    /// Runs `run-agent` to completion.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    pub fn task_dir(&self, project: &str, task: &str) -> PathBuf {
        self.root().join(project).join(task)
    }

    /// Run folders of a task, oldest first (run ids sort by start time).
    pub fn runs(&self, project: &str, task: &str) -> Vec<PathBuf> {
        let dir = self.task_dir(project, task).join("runs");
        let mut v: Vec<PathBuf> = match std::fs::read_dir(&dir) {
            Ok(rd) => rd
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect(),
            Err(_) => Vec::new(),
        };
        v.sort();
        v
    }
}

/// A run-info.yaml as a flat map of its top-level keys (values as YAML).
pub fn run_info(run_dir: &Path) -> BTreeMap<String, serde_yaml::Value> {
    let text = std::fs::read_to_string(run_dir.join("run-info.yaml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

/// A string field of a run-info map.
pub fn field(info: &BTreeMap<String, serde_yaml::Value>, key: &str) -> String {
    match &info[key] {
        serde_yaml::Value::String(s) => s.clone(),
        serde_yaml::Value::Number(n) => n.to_string(),
        serde_yaml::Value::Null => String::new(),
        other => format!("{other:?}"),
    }
}

/// Waits until `cond` holds, polling, and fails the test after `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Stdout and stderr as text, for assertion messages.
pub fn show(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// True when a process with this pid is alive (not a zombie).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().next());
            !matches!(state, Some("Z") | Some("X") | None)
        }
        Err(_) => false,
    }
}

/// Kills each pid (best effort) so a failing test leaves nothing behind.
pub fn kill_all(pids: &[i32]) {
    for &pid in pids {
        if pid > 1 {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
        }
    }
}

/// A `run-agent` command without `--root`, for tests of root resolution.
pub fn bin_cmd(env: &Env) -> Command {
    let mut c = Command::new(bin());
    c.current_dir(env.dir.path())
        .env("HOME", env.dir.path())
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("JRUN_") {
            c.env_remove(k);
        }
    }
    c
}
