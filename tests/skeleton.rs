//! Issue 2: the run layout and the Ralph loop end to end with the shell agent.

use std::time::Duration;

use crate::support::{field, run_info, show, wait_for, Env};

/// Attempt 1 exits 1, attempt 2 exits 0, attempt 3 writes its own output.md and DONE and
/// exits 1.
const THREE_ATTEMPTS: &str = r#"n=$(cat "$JRUN_TASK_FOLDER/count" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" > "$JRUN_TASK_FOLDER/count"
echo "stdout of attempt $n"
echo "stderr of attempt $n" >&2
if [ "$n" -ge 3 ]; then
  printf 'own output of attempt 3\n' > "$JRUN_RUN_FOLDER/output.md"
  touch "$JRUN_TASK_FOLDER/DONE"
  exit 1
fi
[ "$n" -eq 2 ] && exit 0
exit 1
"#;

#[test]
fn ralph_loop_restarts_until_done_and_records_every_run() {
    let env = Env::new();
    let prompt = env.write("task.sh", THREE_ATTEMPTS);
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
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    let runs = env.runs("demo", "t1");
    assert_eq!(runs.len(), 3, "exactly three runs");
    let infos: Vec<_> = runs.iter().map(|r| run_info(r)).collect();
    let statuses: Vec<_> = infos.iter().map(|i| field(i, "status")).collect();
    assert_eq!(statuses, ["failed", "completed", "failed"]);
    let codes: Vec<_> = infos.iter().map(|i| field(i, "exit_code")).collect();
    assert_eq!(codes, ["1", "0", "1"]);

    for (n, (dir, info)) in runs.iter().zip(&infos).enumerate() {
        let id = field(info, "run_id");
        assert_eq!(
            dir.file_name().unwrap().to_str().unwrap(),
            id,
            "run id is the folder name"
        );
        assert_eq!(field(info, "attempt"), (n + 1).to_string());
        assert_eq!(
            field(info, "pid"),
            field(info, "pgid"),
            "agent leads its own group"
        );
        assert_ne!(field(info, "pid"), "0");
        assert_ne!(field(info, "proc_start"), "0");
        assert_eq!(field(info, "version"), "1");
        assert_eq!(field(info, "parent_run_id"), "");
        assert!(!field(info, "end_time").is_empty());
        let expected_prev = if n == 0 {
            String::new()
        } else {
            field(&infos[n - 1], "run_id")
        };
        assert_eq!(
            field(info, "previous_run_id"),
            expected_prev,
            "restart chain"
        );
        let prompt = std::fs::read_to_string(dir.join("prompt.md")).unwrap();
        assert_eq!(
            prompt.starts_with("# Continue working on the following:"),
            n > 0,
            "restart prefix on attempts 2 and 3 only:\n{prompt}"
        );
        assert!(
            prompt.ends_with(THREE_ATTEMPTS),
            "the script runs unchanged"
        );
        let output = std::fs::read_to_string(dir.join("output.md")).unwrap();
        if n < 2 {
            let stdout = std::fs::read_to_string(dir.join("agent-stdout.txt")).unwrap();
            assert_eq!(output, stdout, "output.md is a copy of stdout");
            assert_eq!(stdout, format!("stdout of attempt {}\n", n + 1));
            let stderr = std::fs::read_to_string(dir.join("agent-stderr.txt")).unwrap();
            assert_eq!(stderr, format!("stderr of attempt {}\n", n + 1));
        } else {
            assert_eq!(
                output, "own output of attempt 3\n",
                "the agent's own output.md is kept"
            );
        }
    }

    let bus =
        std::fs::read_to_string(env.task_dir("demo", "t1").join("TASK-MESSAGE-BUS.md")).unwrap();
    assert_eq!(bus.matches("\ntype: RUN_START\n").count(), 3, "{bus}");
    let stops =
        bus.matches("\ntype: RUN_STOP\n").count() + bus.matches("\ntype: RUN_CRASH\n").count();
    assert_eq!(stops, 3, "{bus}");
    let task_md = std::fs::read_to_string(env.task_dir("demo", "t1").join("TASK.md")).unwrap();
    assert_eq!(task_md, THREE_ATTEMPTS);
}

#[test]
fn the_agent_sees_the_runner_environment() {
    let env = Env::new();
    let script = r#"for v in JRUN_ROOT JRUN_PROJECT_ID JRUN_TASK_ID JRUN_ID JRUN_PARENT_ID JRUN_DEPTH JRUN_TASK_FOLDER JRUN_RUN_FOLDER JRUN_MESSAGE_BUS JRUN_PROJECT_BUS; do
  eval "printf '%s=%s\n' $v \"\$$v\""
done
printf 'which=%s\n' "$(command -v run-agent)"
"#;
    let out = env.run(&["job", "--project", "p", "--task", "t", "--prompt", script]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let run = env.runs("p", "t").pop().unwrap();
    let info = run_info(&run);
    let text = std::fs::read_to_string(run.join("agent-stdout.txt")).unwrap();
    let vars: std::collections::BTreeMap<&str, &str> =
        text.lines().filter_map(|l| l.split_once('=')).collect();
    let root = std::fs::canonicalize(env.root()).unwrap();
    let task = root.join("p/t");
    assert_eq!(vars["JRUN_ROOT"], root.to_str().unwrap());
    assert_eq!(vars["JRUN_PROJECT_ID"], "p");
    assert_eq!(vars["JRUN_TASK_ID"], "t");
    assert_eq!(vars["JRUN_ID"], field(&info, "run_id"));
    assert_eq!(vars["JRUN_PARENT_ID"], "");
    assert_eq!(vars["JRUN_DEPTH"], "0");
    assert_eq!(vars["JRUN_TASK_FOLDER"], task.to_str().unwrap());
    assert_eq!(vars["JRUN_RUN_FOLDER"], run.to_str().unwrap());
    assert_eq!(
        vars["JRUN_MESSAGE_BUS"],
        task.join("TASK-MESSAGE-BUS.md").to_str().unwrap()
    );
    assert_eq!(
        vars["JRUN_PROJECT_BUS"],
        root.join("p/PROJECT-MESSAGE-BUS.md").to_str().unwrap()
    );
    let which = std::path::Path::new(vars["which"]);
    assert_eq!(
        std::fs::canonicalize(which).unwrap(),
        std::fs::canonicalize(crate::support::bin()).unwrap(),
        "run-agent on PATH is the binary that runs the agent"
    );
}

#[test]
fn a_job_inside_a_run_is_its_child_one_level_deeper() {
    let env = Env::new();
    let script = "run-agent job --prompt 'echo child' >/dev/null\n";
    let out = env.run(&["job", "--project", "p", "--task", "t", "--prompt", script]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let runs = env.runs("p", "t");
    assert_eq!(runs.len(), 2);
    let (parent, child) = (run_info(&runs[0]), run_info(&runs[1]));
    assert_eq!(field(&child, "parent_run_id"), field(&parent, "run_id"));
    assert_eq!(field(&child, "depth"), "1");
    assert_eq!(
        std::fs::read_to_string(runs[1].join("output.md")).unwrap(),
        "child\n"
    );
}

#[test]
fn a_done_task_starts_no_run() {
    let env = Env::new();
    std::fs::create_dir_all(env.task_dir("p", "t")).unwrap();
    std::fs::write(env.task_dir("p", "t").join("TASK.md"), "echo hi\n").unwrap();
    std::fs::write(env.task_dir("p", "t").join("DONE"), "").unwrap();
    let out = env.run(&["task", "--project", "p", "--task", "t"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(env.runs("p", "t").is_empty());
}

#[test]
fn job_exits_with_the_agents_code() {
    let env = Env::new();
    let out = env.run(&["job", "--project", "p", "--task", "t", "--prompt", "exit 7"]);
    assert_eq!(out.status.code(), Some(7), "{}", show(&out));
    let info = run_info(&env.runs("p", "t")[0]);
    assert_eq!(field(&info, "status"), "failed");
    assert_eq!(field(&info, "exit_code"), "7");
}

#[test]
fn max_restarts_counts_attempts_in_all() {
    let env = Env::new();
    let out = env.run(&[
        "task",
        "--project",
        "p",
        "--task",
        "t",
        "--prompt",
        "echo working",
        "--max-restarts",
        "3",
        "--restart-delay",
        "0s",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert_eq!(env.runs("p", "t").len(), 3);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("failed") && err.contains("DONE"), "{err}");
}

#[test]
fn json_summary_reports_the_outcome() {
    let env = Env::new();
    let out = env.run(&[
        "task",
        "--project",
        "p",
        "--task",
        "t",
        "--prompt",
        "touch \"$JRUN_TASK_FOLDER/DONE\"",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "done");
    assert_eq!(v["done"], true);
    assert_eq!(v["runs"], 1);
    assert_eq!(v["exit_code"], 0);
    let output = v["output_path"].as_str().unwrap();
    assert!(std::path::Path::new(output).is_file());
}

#[test]
fn bad_input_is_refused_before_anything_is_written() {
    let env = Env::new();
    let long = "x".repeat(200);
    let dir_prompt = env.path("adir");
    std::fs::create_dir_all(&dir_prompt).unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--project", "../evil", "--prompt", "echo"],
            "project id",
        ),
        (
            vec!["--project", "p", "--task", "a/b", "--prompt", "echo"],
            "task id",
        ),
        (vec!["--project", "..", "--prompt", "echo"], "project id"),
        (
            vec!["--project", "p", "--task", ".x", "--prompt", "echo"],
            "task id",
        ),
        (vec!["--project", "", "--prompt", "echo"], "project id"),
        (vec!["--project", &long, "--prompt", "echo"], "at most 128"),
        (
            vec!["--project", "p", "--task", "t", "--prompt", "  \n"],
            "empty",
        ),
        (
            vec![
                "--project",
                "p",
                "--task",
                "t",
                "--prompt-file",
                "missing.md",
            ],
            "missing.md",
        ),
        (
            vec!["--project", "p", "--task", "t", "--prompt-file", "adir"],
            "directory",
        ),
    ];
    for (args, needle) in cases {
        let mut full = vec!["task"];
        full.extend(args.iter().copied());
        let out = env.run(&full);
        assert_eq!(out.status.code(), Some(2), "{full:?}: {}", show(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(
            err.contains(needle),
            "{full:?}: {err:?} should mention {needle:?}"
        );
        assert!(!env.root().exists(), "{full:?} wrote {:?}", env.root());
    }

    // A TASK.md that is a directory.
    std::fs::create_dir_all(env.task_dir("p", "t").join("TASK.md")).unwrap();
    let out = env.run(&["task", "--project", "p", "--task", "t"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("TASK.md") && err.contains("directory"),
        "{err}"
    );
    assert!(!env.task_dir("p", "t").join("runs").exists());
}

#[test]
fn a_config_with_a_syntax_error_names_file_and_line() {
    let env = Env::new();
    let cfg = env.write("bad.yaml", "root: ./runs\nagents:\n  claude: [unclosed\n");
    let out = env.run(&[
        "task",
        "--config",
        cfg.to_str().unwrap(),
        "--project",
        "p",
        "--prompt",
        "echo",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yaml") && err.contains("line "), "{err}");
}

#[test]
fn the_config_picks_root_agent_and_restart_settings() {
    let env = Env::new();
    env.write_exec("agent.sh", "#!/bin/sh\ncat > /dev/null\necho from-configured-agent\ntouch \"$JRUN_TASK_FOLDER/DONE\"\n");
    env.write(
        "run-agent.yaml",
        "root: ./cfgroot\ndefault_agent: mine\nagents:\n  mine:\n    command: [./agent.sh]\nrestart: {restart_delay: 0s}\n",
    );
    let mut cmd = crate::support::bin_cmd(&env);
    let out = cmd
        .args(["task", "--project", "p", "--task", "t", "--prompt", "do it"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let runs: Vec<_> = std::fs::read_dir(env.path("cfgroot/p/t/runs"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(runs.len(), 1);
    let run = runs[0].path();
    assert_eq!(
        std::fs::read_to_string(run.join("output.md")).unwrap(),
        "from-configured-agent\n"
    );
    assert_eq!(field(&run_info(&run), "agent"), "mine");
}

#[test]
fn stdout_is_written_live() {
    let env = Env::new();
    let mut child = env
        .cmd(&[
            "job",
            "--project",
            "p",
            "--task",
            "t",
            "--prompt",
            "echo first\nsleep 30\n",
            "--kill-grace",
            "0s",
        ])
        .spawn()
        .unwrap();
    // run-info.yaml is written just after the spawn, so the agent may print first.
    let stdout_has_line = || {
        env.runs("p", "t").first().is_some_and(|r| {
            r.join("run-info.yaml").is_file()
                && std::fs::read_to_string(r.join("agent-stdout.txt")).is_ok_and(|t| t == "first\n")
        })
    };
    wait_for(
        "the first line in agent-stdout.txt",
        Duration::from_secs(10),
        stdout_has_line,
    );
    // Stop it the way a person would; the agent is in its own group and must go too.
    let info = run_info(&env.runs("p", "t")[0]);
    let agent_pid: i32 = field(&info, "pid").parse().unwrap();
    send_signal(child.id() as i32, "TERM");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143));
    wait_for("the agent to be gone", Duration::from_secs(5), || {
        !crate::support::alive(agent_pid)
    });
    assert_eq!(
        field(&run_info(&env.runs("p", "t")[0]), "status"),
        "stopped"
    );
}

fn send_signal(pid: i32, sig: &str) {
    std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
}

#[test]
fn job_json_summary_names_the_run_and_its_outcome() {
    let env = Env::new();
    let out = env.run(&[
        "job",
        "--project",
        "p",
        "--task",
        "t",
        "--prompt",
        "echo hi; exit 3",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let run = env.runs("p", "t").pop().unwrap();
    assert_eq!(v["run_id"], run.file_name().unwrap().to_str().unwrap());
    assert_eq!(v["status"], "failed");
    assert_eq!(v["exit_code"], 3);
    assert_eq!(v["total_tokens"], 0);
    assert!(
        v.get("cost_usd").is_none(),
        "no cost reported by a shell agent"
    );
    assert_eq!(
        std::fs::read_to_string(v["output_path"].as_str().unwrap()).unwrap(),
        "hi\n"
    );
}
