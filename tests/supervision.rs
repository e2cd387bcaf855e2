//! Issue 4: process supervision — descendants, leftovers, signals, stop/resume/wait,
//! healing — with the fake agents of `scripts/fake-agents/`.

use std::path::PathBuf;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use crate::support::{alive, field, kill_all, run_info, scripts, show, wait_for, Env};

/// A `run-agent` command for these tests: fast polls, and the fakes' variables.
fn cmd(env: &Env, args: &[&str]) -> Command {
    let mut c = env.cmd(args);
    let ready = env.path("ready");
    std::fs::create_dir_all(&ready).unwrap();
    c.env("FAKE_READY", ready)
        .env("FAKE_AGENTS", fakes())
        .env("JRUN_POLL_INTERVAL", "20ms");
    c
}

fn fakes() -> PathBuf {
    scripts().join("fake-agents")
}

fn fake(name: &str) -> String {
    fakes().join(name).display().to_string()
}

fn ready(env: &Env, name: &str) -> bool {
    env.path("ready").join(name).exists()
}

/// Every run folder under the root, in any project and task.
fn all_runs(env: &Env) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(projects) = std::fs::read_dir(env.root()) else {
        return out;
    };
    for p in projects.flatten() {
        let Ok(tasks) = std::fs::read_dir(p.path()) else {
            continue;
        };
        for t in tasks.flatten() {
            if let Ok(runs) = std::fs::read_dir(t.path().join("runs")) {
                out.extend(runs.flatten().map(|r| r.path()));
            }
        }
    }
    out.sort();
    out
}

/// Every pid the tree is known to hold: what the fakes wrote, each run's agent and each
/// run's runner.
fn tree_pids(env: &Env) -> Vec<i32> {
    let mut pids: Vec<i32> = std::fs::read_to_string(env.path("ready/pids"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    for run in all_runs(env) {
        if run.join("run-info.yaml").exists() {
            if let Ok(pid) = field(&run_info(&run), "pid").parse() {
                pids.push(pid);
            }
        }
        if let Ok(text) = std::fs::read_to_string(run.join("runner")) {
            if let Some(pid) = text.split_whitespace().next().and_then(|p| p.parse().ok()) {
                pids.push(pid);
            }
        }
    }
    pids.retain(|&p| p > 1);
    pids.sort_unstable();
    pids.dedup();
    pids
}

fn statuses(env: &Env) -> Vec<(PathBuf, String)> {
    all_runs(env)
        .into_iter()
        .filter(|r| r.join("run-info.yaml").exists())
        .map(|r| {
            let s = field(&run_info(&r), "status");
            (r, s)
        })
        .collect()
}

fn signal(pid: i32, sig: &str) {
    Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
}

/// Waits for a child with a timeout; kills it (and fails) if it does not end.
fn wait_child(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            panic!("run-agent did not end within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Kills whatever of the tree is left, so a failing test leaves nothing behind.
struct Cleanup<'a>(&'a Env);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        kill_all(&tree_pids(self.0));
    }
}

fn run_task(env: &Env, task: &str, script: &str, extra: &[&str]) -> (Output, Duration) {
    let mut args = vec![
        "task",
        "--project",
        "p",
        "--task",
        task,
        "--prompt-file",
        script,
        "--restart-delay",
        "0s",
        "--max-restarts",
        "1",
    ];
    args.extend_from_slice(extra);
    let start = Instant::now();
    let out = cmd(env, &args).output().unwrap();
    (out, start.elapsed())
}

#[test]
fn task_waits_for_background_jobs_and_a_child_task_in_another_folder() {
    let env = Env::new();
    let _c = Cleanup(&env);
    let (out, took) = run_task(&env, "root", &fake("spawn-children.sh"), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(took >= Duration::from_secs(2), "returned after {took:?}");

    let root_runs = env.runs("p", "root");
    let root_info = run_info(&root_runs[0]);
    let root_id = field(&root_info, "run_id");
    assert_eq!(field(&root_info, "attempt"), "1");
    let children: Vec<_> = all_runs(&env)
        .into_iter()
        .filter(|r| field(&run_info(r), "parent_run_id") == root_id)
        .collect();
    assert_eq!(children.len(), 3, "two jobs and the child task's attempt");
    assert_eq!(
        children
            .iter()
            .filter(|r| r.starts_with(env.task_dir("p", "child-task")))
            .count(),
        1
    );
    for child in &children {
        let info = run_info(child);
        assert_eq!(field(&info, "status"), "completed", "{child:?}");
        assert!(!field(&info, "end_time").is_empty());
    }
    assert!(env.task_dir("p", "child-task").join("DONE").exists());
}

#[test]
fn a_sub_run_started_the_instant_before_done_is_waited_for() {
    let env = Env::new();
    let _c = Cleanup(&env);
    let (out, took) = run_task(&env, "t", &fake("done-after-subrun.sh"), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(took >= Duration::from_secs(1), "returned after {took:?}");
    let runs = env.runs("p", "t");
    assert_eq!(runs.len(), 2, "the root and its sub-run");
    let sub = run_info(&runs[1]);
    assert_eq!(field(&sub, "status"), "completed");
    assert_eq!(
        std::fs::read_to_string(runs[1].join("output.md")).unwrap(),
        "sub-run finished\n"
    );
}

#[test]
fn plain_background_processes_do_not_hold_the_task_and_do_not_survive() {
    let env = Env::new();
    let _c = Cleanup(&env);
    let (out, took) = run_task(
        &env,
        "t",
        &fake("leave-sleeps.sh"),
        &["--kill-grace", "2s", "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let pids = tree_pids(&env);
    assert!(pids.len() >= 2);
    for pid in pids {
        assert!(!alive(pid), "pid {pid} survived the task");
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["leftovers_terminated"], 2, "{v}");
    let bus = std::fs::read_to_string(env.root().join("p/PROJECT-MESSAGE-BUS.md")).unwrap();
    assert!(bus.contains("2 leftover process(es) terminated"), "{bus}");
}

/// Starts the three-level tree and waits until every level is up.
fn start_tree(env: &Env, grace: &str) -> Child {
    let child = cmd(
        env,
        &[
            "task",
            "--project",
            "p",
            "--task",
            "top",
            "--prompt-file",
            &fake("tree-top.sh"),
            "--kill-grace",
            grace,
            "--restart-delay",
            "0s",
        ],
    )
    .spawn()
    .unwrap();
    wait_for("every level of the tree", Duration::from_secs(20), || {
        ["top", "ignore", "middle", "leaf"]
            .iter()
            .all(|r| ready(env, r))
            && all_runs(env).len() == 4
            && all_runs(env)
                .iter()
                .all(|r| r.join("run-info.yaml").exists())
    });
    child
}

#[test]
fn sigterm_to_the_top_runner_ends_the_whole_tree_within_the_grace() {
    let env = Env::new();
    let _c = Cleanup(&env);
    let mut top = start_tree(&env, "500ms");
    let pids = tree_pids(&env);
    assert!(pids.len() >= 10, "{pids:?}");
    let sent = Instant::now();
    signal(top.id() as i32, "TERM");
    let status = wait_child(&mut top, Duration::from_secs(10));
    assert_eq!(status.code(), Some(143));
    assert!(
        sent.elapsed() >= Duration::from_millis(500),
        "a SIGTERM-ignoring child needs the whole grace"
    );
    wait_for(
        "no process of the tree",
        Duration::from_millis(1500).saturating_sub(sent.elapsed()),
        || pids.iter().all(|&p| !alive(p)),
    );
    for (run, status) in statuses(&env) {
        assert_ne!(status, "running", "{run:?}");
    }
    let top_status = field(&run_info(&env.runs("p", "top")[0]), "status");
    assert_eq!(top_status, "stopped");
}

#[test]
fn stop_ends_a_tree_whose_top_runner_was_killed() {
    let env = Env::new();
    let _c = Cleanup(&env);
    let mut top = start_tree(&env, "30s");
    let pids = tree_pids(&env);
    signal(top.id() as i32, "KILL");
    wait_child(&mut top, Duration::from_secs(5));
    let root_agent: i32 = field(&run_info(&env.runs("p", "top")[0]), "pid")
        .parse()
        .unwrap();
    assert!(alive(root_agent), "agents run in their own sessions");

    let start = Instant::now();
    let out = cmd(
        &env,
        &[
            "stop",
            "--project",
            "p",
            "--task",
            "top",
            "--kill-grace",
            "300ms",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        start.elapsed() >= Duration::from_millis(300),
        "the grace is honoured"
    );
    wait_for("no process of the tree", Duration::from_secs(1), || {
        pids.iter().all(|&p| !alive(p))
    });
    for (run, status) in statuses(&env) {
        assert_eq!(status, "stopped", "{run:?}");
    }
}

#[test]
fn stop_never_signals_a_process_that_only_reuses_a_recorded_pid() {
    // No Cleanup here: the only process is the stranger, reaped below by its handle.
    let env = Env::new();
    let mut stranger = {
        use std::os::unix::process::CommandExt;
        Command::new("sleep")
            .arg("300")
            .process_group(0)
            .spawn()
            .unwrap()
    };
    let pid = stranger.id() as i32;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let start: u64 = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(19)
        .unwrap()
        .parse()
        .unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let run = env.task_dir("p", "t").join("runs/20260101-0000000000-1-1");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(
        run.join("run-info.yaml"),
        format!(
            "version: 1\nrun_id: 20260101-0000000000-1-1\nproject_id: p\ntask_id: t\npid: {pid}\npgid: {pid}\nproc_start: {}\nhost: {}\nstatus: running\nexit_code: -1\n",
            start + 1000,
            host.trim()
        ),
    )
    .unwrap();
    // A reader first: `status` shows (and heals) the run as failed, and signals nothing.
    let status = cmd(&env, &["status", "--project", "p", "--task", "t", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(v["runs"][0]["status"], "failed", "{}", show(&status));
    assert!(alive(pid), "status signalled the unrelated process");
    let out = cmd(
        &env,
        &[
            "stop",
            "--project",
            "p",
            "--task",
            "t",
            "--kill-grace",
            "0s",
        ],
    )
    .output()
    .unwrap();
    let still = alive(pid);
    let _ = stranger.kill();
    let _ = stranger.wait();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(still, "the unrelated process was signalled");
    let info = run_info(&run);
    assert_eq!(field(&info, "status"), "failed");
    assert!(!field(&info, "error_summary").is_empty());
    assert!(!field(&info, "end_time").is_empty());
}

#[test]
fn wait_returns_soon_after_the_task_finishes() {
    let env = Env::new();
    let _c = Cleanup(&env);
    let mut task = cmd(
        &env,
        &[
            "task",
            "--project",
            "p",
            "--task",
            "t",
            "--prompt-file",
            &fake("wait-for-go.sh"),
            "--restart-delay",
            "0s",
        ],
    )
    .spawn()
    .unwrap();
    wait_for("the first run", Duration::from_secs(10), || {
        env.runs("p", "t")
            .first()
            .is_some_and(|r| r.join("run-info.yaml").exists())
    });
    // No fast poll here: events must wake it.
    let mut waiter = env
        .cmd(&["wait", "--project", "p", "--task", "t"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(waiter.try_wait().unwrap().is_none(), "wait returned early");
    std::fs::write(env.path("ready/go"), "").unwrap();
    let status = wait_child(&mut task, Duration::from_secs(10));
    assert_eq!(status.code(), Some(0));
    let task_end = Instant::now();
    let status = wait_child(&mut waiter, Duration::from_secs(5));
    assert_eq!(status.code(), Some(0));
    assert!(
        task_end.elapsed() <= Duration::from_secs(1),
        "wait took {:?} after the task ended",
        task_end.elapsed()
    );

    // resume: a new attempt in the same chain.
    let out = cmd(
        &env,
        &[
            "resume",
            "--project",
            "p",
            "--task",
            "t",
            "--restart-delay",
            "0s",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let runs = env.runs("p", "t");
    assert_eq!(runs.len(), 2);
    assert_eq!(field(&run_info(&runs[1]), "attempt"), "2");
}

#[test]
fn wait_times_out_with_124() {
    let env = Env::new();
    let _c = Cleanup(&env);
    let mut task = cmd(
        &env,
        &[
            "task",
            "--project",
            "p",
            "--task",
            "t",
            "--prompt-file",
            &fake("wait-for-go.sh"),
            "--kill-grace",
            "0s",
        ],
    )
    .spawn()
    .unwrap();
    wait_for("the first run", Duration::from_secs(10), || {
        !env.runs("p", "t").is_empty()
    });
    let start = Instant::now();
    let out = cmd(
        &env,
        &["wait", "--project", "p", "--task", "t", "--timeout", "1s"],
    )
    .output()
    .unwrap();
    let took = start.elapsed();
    signal(task.id() as i32, "TERM");
    wait_child(&mut task, Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(124), "{}", show(&out));
    assert!(took >= Duration::from_secs(1), "{took:?}");
}

#[test]
fn a_job_at_the_depth_limit_is_refused() {
    let env = Env::new();
    let out = cmd(&env, &["job", "--project", "p", "--prompt", "echo hi"])
        .env("JRUN_DEPTH", "16")
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("depth limit") && err.contains("16"), "{err}");
    assert!(!env.root().join("p").exists(), "nothing written");
}

#[test]
fn children_past_the_child_wait_timeout_are_stopped_with_a_warning() {
    let env = Env::new();
    let _c = Cleanup(&env);
    let script = env.write(
        "agent.sh",
        "run-agent job --prompt 'sleep 300' >/dev/null 2>&1 &\ntouch \"$JRUN_TASK_FOLDER/DONE\"\n",
    );
    let (out, took) = run_task(
        &env,
        "t",
        script.to_str().unwrap(),
        &["--child-wait-timeout", "300ms", "--kill-grace", "200ms"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(took >= Duration::from_millis(300), "{took:?}");
    let bus = std::fs::read_to_string(env.task_dir("p", "t").join("TASK-MESSAGE-BUS.md")).unwrap();
    assert!(
        bus.contains("type: WARN") && bus.contains("child-wait-timeout"),
        "{bus}"
    );
    let runs = env.runs("p", "t");
    assert_eq!(field(&run_info(&runs[1]), "status"), "stopped");
    for pid in tree_pids(&env) {
        assert!(!alive(pid), "{pid} survived");
    }
}

#[test]
fn timeout_on_a_task_stops_its_children_and_exits_124() {
    let env = Env::new();
    let _c = Cleanup(&env);
    let script = env.write(
        "agent.sh",
        "run-agent job --prompt 'sleep 300' >/dev/null 2>&1 &\nsleep 300\n",
    );
    let (out, took) = run_task(
        &env,
        "t",
        script.to_str().unwrap(),
        &["--timeout", "500ms", "--kill-grace", "200ms"],
    );
    assert_eq!(out.status.code(), Some(124), "{}", show(&out));
    assert!(took >= Duration::from_millis(500), "{took:?}");
    for (run, status) in statuses(&env) {
        assert_eq!(status, "stopped", "{run:?}");
    }
    for pid in tree_pids(&env) {
        assert!(!alive(pid), "{pid} survived");
    }
}

#[test]
fn the_summary_fact_is_posted_once() {
    let env = Env::new();
    let script = env.write("agent.sh", "touch \"$JRUN_TASK_FOLDER/DONE\"\n");
    for _ in 0..2 {
        let (out, _) = run_task(&env, "t", script.to_str().unwrap(), &[]);
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    }
    let bus = std::fs::read_to_string(env.root().join("p/PROJECT-MESSAGE-BUS.md")).unwrap();
    assert_eq!(bus.matches("type: FACT").count(), 1, "{bus}");
}

#[test]
fn stop_of_a_finished_task_says_nothing_was_running() {
    let env = Env::new();
    let script = env.write("agent.sh", "touch \"$JRUN_TASK_FOLDER/DONE\"\n");
    let (out, _) = run_task(&env, "t", script.to_str().unwrap(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let out = cmd(&env, &["stop", "--project", "p", "--task", "t"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing was running"));
    let out = cmd(&env, &["stop", "--project", "p", "--task", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
}
