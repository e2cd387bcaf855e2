//! Issue 6: watching runs — list, status, output, watch, gc.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::support::{alive, field, kill_all, run_info, show, wait_for, Env};

/// Fast polling so the tests run in milliseconds.
const POLL: &str = "50ms";

/// A spawned `run-agent` with stdout and stderr going to files, killed by pid on drop so
/// a failing test leaves nothing behind.
struct Bg {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Bg {
    fn spawn(env: &Env, name: &str, args: &[&str]) -> Self {
        let out = env.path(&format!("{name}.out"));
        let err = env.path(&format!("{name}.err"));
        let mut cmd = env.cmd(args);
        cmd.env("JRUN_POLL_INTERVAL", POLL)
            .stdout(Stdio::from(fs::File::create(&out).unwrap()))
            .stderr(Stdio::from(fs::File::create(&err).unwrap()));
        Self {
            child: cmd.spawn().unwrap(),
            out,
            err,
        }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits for the process to exit, failing the test after `timeout`.
    fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < timeout,
                "timed out after {timeout:?}; stdout so far:\n{}\nstderr:\n{}",
                self.stdout(),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn stdout(&self) -> String {
        fs::read_to_string(&self.out).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        fs::read_to_string(&self.err).unwrap_or_default()
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            kill_all(&[self.pid()]);
            let _ = self.child.wait();
        }
    }
}

/// The root agent: a line on each stream, then after 1 s a child job and a child task,
/// then DONE.
const ROOT_WITH_CHILDREN: &str = r#"echo "root out"
echo "root err" >&2
sleep 1
run-agent job --prompt 'echo "child job out"; echo "child job err" >&2'
run-agent task --project demo --task kid --restart-delay 0s --prompt 'echo "kid task out"; touch "$JRUN_TASK_FOLDER/DONE"'
touch "$JRUN_TASK_FOLDER/DONE"
"#;

fn run_ids(env: &Env, task: &str) -> Vec<String> {
    env.runs("demo", task)
        .iter()
        .map(|d| d.file_name().unwrap().to_str().unwrap().to_owned())
        .collect()
}

#[test]
fn watch_streams_root_child_job_and_child_task_and_exits_when_done() {
    watch_root_child_job_and_child_task(false);
}

/// The same stream when file events are not available and watch polls.
#[test]
fn watch_by_polling_alone_gives_the_same_stream() {
    watch_root_child_job_and_child_task(true);
}

fn watch_root_child_job_and_child_task(polling: bool) {
    let env = Env::new();
    let prompt = env.write("root.sh", ROOT_WITH_CHILDREN);
    let mut watch = {
        let out = env.path("watch.out");
        let err = env.path("watch.err");
        let mut cmd = env.cmd(&["watch", "--project", "demo", "--task", "t1"]);
        cmd.env("JRUN_POLL_INTERVAL", POLL)
            .stdout(Stdio::from(fs::File::create(&out).unwrap()))
            .stderr(Stdio::from(fs::File::create(&err).unwrap()));
        if polling {
            cmd.env("JRUN_NO_NOTIFY", "1");
        }
        Bg {
            child: cmd.spawn().unwrap(),
            out,
            err,
        }
    };
    let mut task = Bg::spawn(
        &env,
        "task",
        &[
            "task",
            "--project",
            "demo",
            "--task",
            "t1",
            "--prompt-file",
            prompt.to_str().unwrap(),
            "--restart-delay",
            "0s",
        ],
    );
    let status = task.wait(Duration::from_secs(30));
    assert!(status.success(), "task failed: {}", task.stderr());
    let status = watch.wait(Duration::from_secs(15));
    let out = watch.stdout();
    assert!(status.success(), "watch failed:\n{out}\n{}", watch.stderr());

    let t1 = run_ids(&env, "t1");
    assert_eq!(t1.len(), 2, "the root attempt and the child job");
    let (root, job) = (&t1[0], &t1[1]);
    let kid = &run_ids(&env, "kid")[0];
    for expected in [
        format!("[t1 {root}] root out"),
        format!("[t1 {root} stderr] root err"),
        format!("[t1 {job}] child job out"),
        format!("[t1 {job} stderr] child job err"),
        format!("[kid {kid}] kid task out"),
    ] {
        assert!(
            out.lines().any(|l| l == expected),
            "missing {expected:?} in:\n{out}"
        );
    }
    // The end is the runner's record, not a guess from the agent's exit.
    let ended = format!("[t1 {root} run] ended: completed, exit 0");
    assert!(
        out.lines().any(|l| l == ended),
        "missing {ended:?} in:\n{out}"
    );
    // Bus messages are interleaved (the runner posts RUN_START / RUN_STOP).
    assert!(out.contains("[t1 bus] RUN_START"), "{out}");
}

#[test]
fn watch_json_prints_one_object_per_line() {
    let env = Env::new();
    let out = env
        .cmd(&[
            "task",
            "--project",
            "demo",
            "--task",
            "j",
            "--prompt",
            "echo early; touch \"$JRUN_TASK_FOLDER/DONE\"",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    // Started after the task: finished runs are history, so it ends at once, quietly.
    let out = env
        .cmd(&["watch", "--project", "demo", "--task", "j", "--json"])
        .env("JRUN_POLL_INTERVAL", POLL)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["event"].is_string(), "{line}");
    }
}

#[test]
fn output_follow_shows_every_line_and_ends_with_the_run() {
    let env = Env::new();
    let prompt = env.write(
        "slow.sh",
        "for i in 1 2 3 4 5; do echo \"line $i\"; sleep 0.3; done\ntouch \"$JRUN_TASK_FOLDER/DONE\"\n",
    );
    let mut task = Bg::spawn(
        &env,
        "task",
        &[
            "task",
            "--project",
            "demo",
            "--task",
            "f",
            "--prompt-file",
            prompt.to_str().unwrap(),
        ],
    );
    wait_for("the run folder", Duration::from_secs(10), || {
        !env.runs("demo", "f").is_empty()
    });
    let mut follow = Bg::spawn(
        &env,
        "follow",
        &[
            "output",
            "--project",
            "demo",
            "--task",
            "f",
            "--file",
            "stdout",
            "--follow",
        ],
    );
    let status = follow.wait(Duration::from_secs(20));
    assert!(status.success(), "{}", follow.stderr());
    let lines: Vec<String> = follow.stdout().lines().map(str::to_owned).collect();
    assert_eq!(lines, ["line 1", "line 2", "line 3", "line 4", "line 5"]);
    // It ended because the run ended (its agent is gone), not before.
    let run = &env.runs("demo", "f")[0];
    let pid: i32 = field(&run_info(run), "pid").parse().unwrap();
    assert!(!alive(pid), "follow ended while the agent still ran");
    assert!(task.wait(Duration::from_secs(10)).success());

    // Without --follow: the tail of a finished run's file.
    let out = env.run(&[
        "output",
        "--project",
        "demo",
        "--task",
        "f",
        "--file",
        "stdout",
        "--tail",
        "2",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "line 4\nline 5\n");
}

#[test]
fn status_json_nests_children_and_list_json_shows_each_task_once() {
    let env = Env::new();
    let prompt = env.write("root.sh", &ROOT_WITH_CHILDREN.replace("sleep 1\n", ""));
    let out = env.run(&[
        "task",
        "--project",
        "demo",
        "--task",
        "t1",
        "--prompt-file",
        prompt.to_str().unwrap(),
        "--restart-delay",
        "0s",
    ]);
    assert!(out.status.success(), "{}", show(&out));

    let out = env.run(&["status", "--project", "demo", "--task", "t1", "--json"]);
    assert!(out.status.success(), "{}", show(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "done");
    assert_eq!(v["done"], true);
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "one attempt at the top: {v}");
    let root = &runs[0];
    assert_eq!(root["exit_code"], 0);
    assert!(root["duration_ms"].is_number());
    let kids = root["children"].as_array().unwrap();
    let tasks: Vec<&str> = kids
        .iter()
        .map(|k| k["task_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        tasks,
        ["t1", "kid"],
        "the child job, then the child task: {v}"
    );
    for k in kids {
        assert_eq!(k["parent_run_id"], root["run_id"]);
    }

    let out = env.run(&["list", "--json"]);
    assert!(out.status.success(), "{}", show(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut names: Vec<(String, String)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["task_id"].as_str().unwrap().to_owned(),
                t["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ("kid".to_owned(), "done".to_owned()),
            ("t1".to_owned(), "done".to_owned())
        ]
    );
}

/// Writes a finished run record (and DONE) the way run-agent would, without running it.
fn fake_finished_task(root: &Path, project: &str, task: &str, n: usize) {
    let dir = root.join(project).join(task);
    let run_id = format!("20260101-0000000000-1-{n}");
    let run = dir.join("runs").join(&run_id);
    fs::create_dir_all(&run).unwrap();
    fs::write(dir.join("TASK.md"), "echo\n").unwrap();
    fs::write(
        run.join("run-info.yaml"),
        format!(
            "version: 1\nrun_id: {run_id}\nproject_id: {project}\ntask_id: {task}\nparent_run_id: ''\nprevious_run_id: ''\nattempt: 1\ndepth: 0\nagent: shell\npid: 1\npgid: 1\nproc_start: 1\nhost: h\nstart_time: 2026-01-01T00:00:00.000000Z\nend_time: 2026-01-01T00:00:01.000000Z\nexit_code: 0\nstatus: completed\n"
        ),
    )
    .unwrap();
    fs::write(dir.join("DONE"), "").unwrap();
}

#[test]
fn gc_removes_finished_tasks_and_never_a_running_one() {
    let env = Env::new();
    for n in 0..100 {
        fake_finished_task(&env.root(), "demo", &format!("old-{n:03}"), n + 1);
    }
    let prompt = env.write(
        "live.sh",
        "echo started > \"$JRUN_TASK_FOLDER/started\"\ni=0\nwhile [ ! -e \"$JRUN_TASK_FOLDER/release\" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done\ntouch \"$JRUN_TASK_FOLDER/DONE\"\n",
    );
    let mut live = Bg::spawn(
        &env,
        "live",
        &[
            "task",
            "--project",
            "demo",
            "--task",
            "live",
            "--prompt-file",
            prompt.to_str().unwrap(),
        ],
    );
    let live_dir = env.task_dir("demo", "live");
    wait_for("the live agent", Duration::from_secs(10), || {
        live_dir.join("started").exists()
    });

    let out = env.run(&["gc", "--older-than", "0s", "--dry-run"]);
    assert!(out.status.success(), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 100, "{text}");
    assert!(
        text.lines().all(|l| l.starts_with("would remove task")),
        "{text}"
    );
    assert!(!text.contains("/live"), "{text}");
    assert!(
        env.task_dir("demo", "old-000").exists(),
        "dry run removes nothing"
    );

    let out = env.run(&["gc", "--older-than", "0s"]);
    assert!(out.status.success(), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("removed task"))
            .count(),
        100
    );
    let left: Vec<_> = fs::read_dir(env.root().join("demo"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|n| !n.ends_with(".md"))
        .collect();
    assert_eq!(left, ["live"]);
    assert!(alive(live.pid()), "the running task still runs");
    let run = &env.runs("demo", "live")[0];
    assert_eq!(field(&run_info(run), "status"), "running");

    fs::write(live_dir.join("release"), "").unwrap();
    assert!(live.wait(Duration::from_secs(20)).success());
}

#[test]
fn views_answer_despite_bad_entries_and_name_them() {
    let env = Env::new();
    let root = env.root();
    fake_finished_task(&root, "demo", "ok", 1);
    fake_finished_task(&root, "demo", "bad", 2);
    let runs = root.join("demo/bad/runs");
    let malformed = runs.join("20260101-0000000001-1-9");
    fs::create_dir_all(&malformed).unwrap();
    fs::write(
        malformed.join("run-info.yaml"),
        "version: 1\nrun_id: [unclosed\n",
    )
    .unwrap();
    let empty = runs.join("20260101-0000000002-1-9");
    fs::create_dir_all(&empty).unwrap();
    // An empty run folder is only reported once it is older than a starting run's.
    assert!(Command::new("touch")
        .args(["-d", "1 hour ago"])
        .arg(&empty)
        .status()
        .unwrap()
        .success());
    let unreadable = runs.join("20260101-0000000003-1-9");
    fs::create_dir_all(&unreadable).unwrap();
    fs::write(unreadable.join("run-info.yaml"), "x").unwrap();
    fs::set_permissions(&unreadable, fs::Permissions::from_mode(0o000)).unwrap();
    // Root reads anything: a run-info.yaml that is a folder stands in for an unreadable
    // file there.
    let as_root = fs::read_dir(&unreadable).is_ok();
    let unreadable_file = runs.join("20260101-0000000004-1-9");
    fs::create_dir_all(unreadable_file.join("run-info.yaml")).unwrap();

    let check = |args: &[&str]| {
        let out = env
            .cmd(args)
            .env("JRUN_POLL_INTERVAL", POLL)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", show(&out));
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        for bad in [&malformed, &empty, &unreadable_file] {
            assert!(
                err.contains(&bad.display().to_string()),
                "{args:?} does not name {}:\n{err}",
                bad.display()
            );
        }
        if !as_root {
            assert!(err.contains(&unreadable.display().to_string()), "{err}");
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let list = check(&["list", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2, "{list}");
    let status = check(&["status", "--project", "demo", "--task", "bad", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(v["runs"].as_array().unwrap().len(), 1, "{status}");
    check(&["watch"]);

    fs::set_permissions(&unreadable, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn completions_and_man_page_come_from_the_clap_definitions() {
    let env = Env::new();
    let out = env.run(&["completions", "bash"]);
    assert!(out.status.success(), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("run-agent") && text.contains("watch"),
        "{text}"
    );
    let out = env.run(&["man"]);
    assert!(out.status.success(), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(".TH") && text.contains("watch"), "{text}");
}
