//! Issue 5: claude, codex and gemini (as fake CLIs on PATH), usage, budgets, rate
//! limits, validate.

use std::path::PathBuf;
use std::process::Command;

use crate::support::{field, run_info, scripts, show, Env};

/// `PATH` with the fake CLIs first.
fn fake_path() -> String {
    let fakes = scripts().join("fake-agents");
    format!(
        "{}:{}",
        fakes.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn with_fakes(env: &Env, args: &[&str]) -> Command {
    let mut c = env.cmd(args);
    c.env("PATH", fake_path());
    c
}

fn bus_types(env: &Env, project: &str, task: &str) -> Vec<String> {
    let text = std::fs::read_to_string(env.task_dir(project, task).join("TASK-MESSAGE-BUS.md"))
        .unwrap_or_default();
    text.lines()
        .filter_map(|l| l.strip_prefix("type: "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn each_cli_gives_output_usage_flags_and_the_prompt_on_stdin() {
    let cases = [
        ("claude", "-p --input-format text --output-format stream-json --verbose --permission-mode bypassPermissions"),
        ("codex", "exec --dangerously-bypass-approvals-and-sandbox --json -"),
        ("gemini", "--approval-mode yolo --output-format stream-json"),
    ];
    for (agent, flags) in cases {
        let env = Env::new();
        let argv_file = env.path("argv.txt");
        let prompt_file = env.path("prompt-seen.txt");
        let out = with_fakes(
            &env,
            &[
                "job",
                "--project",
                "p",
                "--task",
                "t",
                "--agent",
                agent,
                "--prompt",
                "Say hello",
            ],
        )
        .env(
            "FAKE_TEXT",
            format!("final answer from {agent}\nsecond line"),
        )
        .env("FAKE_INPUT_TOKENS", "1234")
        .env("FAKE_OUTPUT_TOKENS", "567")
        .env("FAKE_CACHED_TOKENS", "89")
        .env("FAKE_COST", "0.25")
        .env("FAKE_ARGV_FILE", &argv_file)
        .env("FAKE_PROMPT_FILE", &prompt_file)
        .output()
        .unwrap();
        assert_eq!(out.status.code(), Some(0), "{agent}: {}", show(&out));
        let run = env.runs("p", "t").pop().unwrap();
        let output = std::fs::read_to_string(run.join("output.md")).unwrap();
        assert_eq!(
            output,
            format!("final answer from {agent}\nsecond line\n"),
            "{agent}"
        );

        let info = run_info(&run);
        assert_eq!(field(&info, "agent"), agent);
        assert_eq!(
            field(&info, "commandline"),
            format!("{agent} {flags}"),
            "{agent}"
        );
        assert!(
            !field(&info, "agent_version").is_empty(),
            "{agent}: agent_version recorded"
        );
        let usage = &info["usage"];
        assert_eq!(
            usage["input_tokens"].as_u64(),
            Some(1234),
            "{agent}: {usage:?}"
        );
        assert_eq!(usage["output_tokens"].as_u64(), Some(567), "{agent}");
        assert_eq!(usage["cache_read_tokens"].as_u64(), Some(89), "{agent}");
        if agent == "claude" {
            assert_eq!(usage["cost_usd"].as_f64(), Some(0.25));
        }

        let argv = std::fs::read_to_string(&argv_file).unwrap();
        assert_eq!(argv.lines().collect::<Vec<_>>().join(" "), flags, "{agent}");
        let seen = std::fs::read_to_string(&prompt_file).unwrap();
        let prompt = std::fs::read_to_string(run.join("prompt.md")).unwrap();
        assert_eq!(seen, prompt, "{agent}: the prompt arrives on stdin");
        assert!(prompt.ends_with("Say hello"), "{agent}");
    }
}

#[test]
fn a_token_file_reaches_the_agent_and_nowhere_else() {
    let env = Env::new();
    let secret = "sk-test-0123456789-very-secret";
    env.write("key.txt", &format!("  {secret}\n\n"));
    let dump = env.path("seen-token.txt");
    let agent = env.write_exec(
        "agent.sh",
        &format!(
            "#!/bin/sh\ncat > /dev/null\nprintf '%s' \"$ANTHROPIC_API_KEY\" > {}\n",
            dump.display()
        ),
    );
    let cfg = env.write(
        "cfg.yaml",
        &format!(
            "agents:\n  claude:\n    command: [{}]\n    token_file: ./key.txt\n",
            agent.display()
        ),
    );
    let out = with_fakes(
        &env,
        &[
            "task",
            "--config",
            cfg.to_str().unwrap(),
            "--project",
            "p",
            "--task",
            "t",
            "--agent",
            "claude",
            "--prompt",
            "x",
            "--max-restarts",
            "1",
            "-vv",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(&dump).unwrap(),
        secret,
        "{}",
        show(&out)
    );
    // Nowhere else: not in the run folder, the buses, TASK.md or the runner's own logs.
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!logs.contains(secret), "token in logs");
    for entry in walk(&env.root()) {
        let text = std::fs::read(&entry).unwrap();
        assert!(
            !String::from_utf8_lossy(&text).contains(secret),
            "token found in {}",
            entry.display()
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_cost_budget_stops_the_task_with_one_warn_and_one_error() {
    let env = Env::new();
    let out = with_fakes(
        &env,
        &[
            "task",
            "--project",
            "p",
            "--task",
            "t",
            "--agent",
            "claude",
            "--prompt",
            "work",
            "--max-cost-usd",
            "1.0",
            "--restart-delay",
            "0s",
            "--json",
        ],
    )
    .env("FAKE_COST", "0.40")
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert_eq!(env.runs("p", "t").len(), 3);
    let types = bus_types(&env, "p", "t");
    assert_eq!(
        types.iter().filter(|t| *t == "WARN").count(),
        1,
        "{types:?}"
    );
    assert_eq!(
        types.iter().filter(|t| *t == "ERROR").count(),
        1,
        "{types:?}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!((v["cost_usd"].as_f64().unwrap() - 1.2).abs() < 1e-9, "{v}");

    // The totals come from the records: running the task again spends nothing more.
    let again = with_fakes(
        &env,
        &[
            "task",
            "--project",
            "p",
            "--task",
            "t",
            "--agent",
            "claude",
            "--max-cost-usd",
            "1.0",
        ],
    )
    .env("FAKE_COST", "0.40")
    .output()
    .unwrap();
    assert_eq!(again.status.code(), Some(1), "{}", show(&again));
    assert_eq!(
        env.runs("p", "t").len(),
        3,
        "no new run once the budget is spent"
    );
}

#[test]
fn usage_totals_equal_the_sum_of_the_run_records() {
    let env = Env::new();
    for (task, cost, input) in [("a", "0.10", "100"), ("b", "0.25", "300")] {
        let out = with_fakes(
            &env,
            &[
                "job",
                "--project",
                "p",
                "--task",
                task,
                "--agent",
                "claude",
                "--prompt",
                "x",
            ],
        )
        .env("FAKE_COST", cost)
        .env("FAKE_INPUT_TOKENS", input)
        .output()
        .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    }
    let out = env.run(&["usage", "--json", "--by", "task"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut cost = 0.0;
    let mut input = 0;
    for task in ["a", "b"] {
        for run in env.runs("p", task) {
            let info = run_info(&run);
            cost += info["usage"]["cost_usd"].as_f64().unwrap();
            input += info["usage"]["input_tokens"].as_u64().unwrap();
        }
    }
    assert!(
        (v["total"]["cost_usd"].as_f64().unwrap() - cost).abs() < 1e-9,
        "{v}"
    );
    assert_eq!(v["total"]["input_tokens"].as_u64().unwrap(), input);
    assert_eq!(v["total"]["runs"], 2);
    assert_eq!(v["groups"].as_array().unwrap().len(), 2);
    assert_eq!(v["groups"][0]["key"], "p/a");
}

#[test]
fn a_rate_limited_attempt_backs_off_and_does_not_count() {
    let env = Env::new();
    // First call answers with claude's rate-limit shape; the second works and finishes.
    let agent = env.write_exec(
        "agent.sh",
        &format!(
            "#!/bin/sh\nif [ -e \"$JRUN_TASK_FOLDER/limited\" ]; then touch \"$JRUN_TASK_FOLDER/DONE\"; exec {fake}; fi\ntouch \"$JRUN_TASK_FOLDER/limited\"\nFAKE_MODE=rate_limit exec {fake}\n",
            fake = scripts().join("fake-agents/claude").display()
        ),
    );
    let cfg = env.write(
        "cfg.yaml",
        &format!(
            "agents:\n  claude:\n    command: [{}]\nrestart: {{restart_delay: 0s, rate_limit_backoff: 50ms, rate_limit_backoff_max: 100ms}}\n",
            agent.display()
        ),
    );
    let start = std::time::Instant::now();
    let out = with_fakes(
        &env,
        &[
            "task",
            "--config",
            cfg.to_str().unwrap(),
            "--project",
            "p",
            "--task",
            "t",
            "--agent",
            "claude",
            "--prompt",
            "x",
            "--max-restarts",
            "1",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(
        env.runs("p", "t").len(),
        2,
        "the limited attempt did not use up --max-restarts 1"
    );
    assert!(
        start.elapsed() >= std::time::Duration::from_millis(50),
        "it backed off"
    );
    let types = bus_types(&env, "p", "t");
    assert!(types.contains(&"WARN".to_owned()), "{types:?}");
    let first = run_info(&env.runs("p", "t")[0]);
    assert!(
        field(&first, "error_summary")
            .to_lowercase()
            .contains("limit"),
        "{first:?}"
    );
}

#[test]
fn garbage_truncated_and_huge_streams_do_not_break_the_run() {
    let env = Env::new();
    // Pure garbage: nothing to take a final text from, so output.md is a copy of stdout.
    let garbage = env.write_exec("garbage.sh", "#!/bin/sh\ncat >/dev/null\nprintf 'not json\\n{\"type\":\"result\",\"result\":\\n\\0\\377\\376 junk\\n{\"type\":'\n");
    // 100 MB of stream-json events with no result event.
    let huge = env.write_exec(
        "huge.sh",
        "#!/bin/sh\ncat >/dev/null\nyes '{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"content\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}]}}' | head -c 100000000\n",
    );
    for (name, script) in [("garbage", &garbage), ("huge", &huge)] {
        let out = env.run(&[
            "job",
            "--project",
            "p",
            "--task",
            name,
            "--agent",
            "claude",
            "--agent-cmd",
            script.to_str().unwrap(),
            "--prompt",
            "x",
        ]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", show(&out));
        let run = env.runs("p", name).pop().unwrap();
        let stdout = std::fs::metadata(run.join("agent-stdout.txt"))
            .unwrap()
            .len();
        let output = std::fs::metadata(run.join("output.md")).unwrap().len();
        assert_eq!(output, stdout, "{name}: output.md falls back to stdout");
        assert!(stdout > 0);
        assert_eq!(field(&run_info(&run), "status"), "completed");
    }
    // The fake's own garbage and truncated modes still yield the final text.
    for mode in ["garbage", "truncated"] {
        let out = with_fakes(
            &env,
            &[
                "job",
                "--project",
                "p",
                "--task",
                mode,
                "--agent",
                "claude",
                "--prompt",
                "x",
            ],
        )
        .env("FAKE_MODE", mode)
        .env("FAKE_TEXT", "the answer")
        .output()
        .unwrap();
        assert_eq!(out.status.code(), Some(0), "{mode}: {}", show(&out));
        let run = env.runs("p", mode).pop().unwrap();
        let output = std::fs::read_to_string(run.join("output.md")).unwrap();
        assert!(!output.is_empty(), "{mode}");
    }
}

#[test]
fn validate_names_a_missing_binary() {
    let env = Env::new();
    let cfg = env.write(
        "cfg.yaml",
        "default_agent: shell\nagents:\n  ghost:\n    command: [definitely-not-installed-agent, --x]\n",
    );
    let out = env.run(&["validate", "--config", cfg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("ghost") && text.contains("definitely-not-installed-agent"),
        "{text}"
    );
    assert!(text.contains("ok    shell"), "{text}");

    let good = env.write("good.yaml", "default_agent: shell\n");
    let out = env.run(&["validate", "--config", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
}

#[test]
fn agents_take_turns_and_a_missing_one_hands_over_with_a_warn() {
    let env = Env::new();
    let out = with_fakes(
        &env,
        &[
            "task",
            "--project",
            "p",
            "--task",
            "t",
            "--agent",
            "claude,codex",
            "--prompt",
            "x",
            "--max-restarts",
            "3",
            "--restart-delay",
            "0s",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let agents: Vec<_> = env
        .runs("p", "t")
        .iter()
        .map(|r| field(&run_info(r), "agent"))
        .collect();
    assert_eq!(agents, ["claude", "codex", "claude"]);

    let cfg = env.write(
        "cfg.yaml",
        "agents:\n  ghost:\n    command: [definitely-not-installed-agent]\n",
    );
    let out = with_fakes(
        &env,
        &[
            "task",
            "--config",
            cfg.to_str().unwrap(),
            "--project",
            "p",
            "--task",
            "u",
            "--agent",
            "ghost,claude",
            "--prompt",
            "x",
            "--max-restarts",
            "1",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let runs = env.runs("p", "u");
    let agents: Vec<_> = runs.iter().map(|r| field(&run_info(r), "agent")).collect();
    assert_eq!(
        agents,
        ["ghost", "claude"],
        "the missing agent's attempt went to the next one"
    );
    assert_eq!(field(&run_info(&runs[1]), "status"), "completed");
    let bus = std::fs::read_to_string(env.task_dir("p", "u").join("TASK-MESSAGE-BUS.md")).unwrap();
    assert!(
        bus.contains("type: WARN") && bus.contains("definitely-not-installed-agent"),
        "{bus}"
    );
}

#[test]
fn a_child_started_without_agent_runs_its_parents_agent() {
    let env = Env::new();
    // The configured `claude` program starts one child without --agent, then answers
    // like claude; the child (depth 1) only answers.
    let spawner = env.write_exec(
        "spawner.sh",
        &format!(
            "#!/bin/sh\nif [ \"$JRUN_DEPTH\" = 0 ]; then run-agent job --prompt 'child work' > /dev/null || exit 9; fi\nFAKE_TEXT=\"answer at depth $JRUN_DEPTH\" exec {}\n",
            scripts().join("fake-agents/claude").display()
        ),
    );
    let cfg = env.write(
        "cfg.yaml",
        &format!("agents:\n  claude:\n    command: [{}]\n", spawner.display()),
    );
    let out = env.run(&[
        "job",
        "--config",
        cfg.to_str().unwrap(),
        "--project",
        "p",
        "--task",
        "t",
        "--agent",
        "claude",
        "--prompt",
        "lead",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let runs = env.runs("p", "t");
    assert_eq!(runs.len(), 2);
    let child = run_info(&runs[1]);
    assert_eq!(
        field(&child, "agent"),
        "claude",
        "the child inherited the agent"
    );
    assert_eq!(field(&child, "depth"), "1");
    assert_eq!(
        std::fs::read_to_string(runs[1].join("output.md")).unwrap(),
        "answer at depth 1\n"
    );
}
