//! Issue 7: the working method built into the binary (preamble, role prompts and their
//! project overrides), the CLI reference kept in step with `--help`, and the demo.

use std::path::Path;

use crate::support::{show, Env};

/// The built-in texts, as they are in the repository. The binary carries its own copy;
/// the tests run it from a temp dir, outside the repository, so a match proves the copy
/// is built in rather than read from the working directory.
const THE_PROMPT: &str = include_str!("../THE_PROMPT.md");
const REVIEWER: &str = include_str!("../prompts/reviewer.md");

const TASK_TEXT: &str = "Review the change on branch feature-x against SPEC.md section 3.\n";

/// Runs one `job` with a command agent that ignores its prompt and returns `prompt.md`.
fn job_prompt(env: &Env, extra: &[&str]) -> String {
    let mut args = vec![
        "job",
        "--project",
        "p",
        "--task",
        "t",
        "--agent-cmd",
        "true",
        "--prompt",
        TASK_TEXT,
    ];
    args.extend_from_slice(extra);
    let out = env.run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let runs = env.runs("p", "t");
    assert_eq!(runs.len(), 1, "one run");
    std::fs::read_to_string(runs[0].join("prompt.md")).unwrap()
}

/// Byte offset of `needle` in `hay`, failing with the whole prompt when it is missing.
fn at(hay: &str, needle: &str) -> usize {
    hay.find(needle)
        .unwrap_or_else(|| panic!("prompt.md lacks {needle:?}:\n{hay}"))
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn role_prompt_sits_between_the_preamble_and_the_task_outside_the_repository() {
    let env = Env::new();
    assert!(
        !env.dir.path().join("prompts").exists() && !env.dir.path().join("THE_PROMPT.md").exists(),
        "the working directory holds no copy of the prompts"
    );
    let prompt = job_prompt(&env, &["--role", "reviewer"]);
    let task_dir = env.task_dir("p", "t");
    let run_dir = &env.runs("p", "t")[0];

    // The preamble: this run's folders, bus, output and how to finish.
    let header = [
        format!("Task folder: {}\n", display(&task_dir)),
        format!("Run folder: {}\n", display(run_dir)),
        format!(
            "Message bus: {}\n",
            display(&task_dir.join("TASK-MESSAGE-BUS.md"))
        ),
        format!(
            "Write your final result to: {}\n",
            display(&run_dir.join("output.md"))
        ),
        format!(
            "When the whole task is finished and verified, create: {}\n",
            display(&task_dir.join("DONE"))
        ),
    ];
    let mut last = 0;
    for line in &header {
        let pos = at(&prompt, line);
        assert!(pos >= last, "header lines in order: {line:?}\n{prompt}");
        last = pos;
    }
    let method = at(&prompt, THE_PROMPT.trim_end());
    let role = at(&prompt, REVIEWER.trim_end());
    let task = at(&prompt, TASK_TEXT);
    assert!(
        last < method && method < role && role < task,
        "order: header {last}, method {method}, role {role}, task {task}\n{prompt}"
    );
    assert!(prompt.ends_with(TASK_TEXT), "the task prompt comes last");
    assert!(
        !prompt.starts_with("Continue working on the following:"),
        "a first attempt has no restart line"
    );
}

#[test]
fn a_project_prompt_file_overrides_the_built_in_role() {
    let env = Env::new();
    let custom = "# Role: reviewer (house rules)\n\nOnly check the error messages.\n";
    env.write("root/p/prompts/reviewer.md", custom);
    let prompt = job_prompt(&env, &["--role", "reviewer"]);
    let role = at(&prompt, custom.trim_end());
    assert!(
        !prompt.contains(REVIEWER.trim_end()),
        "the built-in reviewer prompt is replaced:\n{prompt}"
    );
    assert!(at(&prompt, THE_PROMPT.trim_end()) < role && role < at(&prompt, TASK_TEXT));

    // Another project still gets the built-in role.
    let out = env.run(&[
        "job",
        "--project",
        "q",
        "--task",
        "t",
        "--agent-cmd",
        "true",
        "--role",
        "reviewer",
        "--prompt",
        TASK_TEXT,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let run = &env.runs("q", "t")[0];
    let other = std::fs::read_to_string(run.join("prompt.md")).unwrap();
    assert!(other.contains(REVIEWER.trim_end()), "{other}");
}

#[test]
fn a_project_may_add_a_role_of_its_own_and_an_unknown_role_is_refused() {
    let env = Env::new();
    env.write("root/p/prompts/translator.md", "# Role: translator\n");
    let prompt = job_prompt(&env, &["--role", "translator"]);
    assert!(prompt.contains("# Role: translator\n"), "{prompt}");

    let out = env.run(&[
        "job",
        "--project",
        "p",
        "--task",
        "t2",
        "--agent-cmd",
        "true",
        "--role",
        "nosuch",
        "--prompt",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("nosuch") && stderr.contains("reviewer"),
        "the error names the role and the built-in ones: {stderr}"
    );
    assert!(!env.task_dir("p", "t2").exists(), "nothing written");
}

/// The file the CLI reference lives in, and how to regenerate it.
const CLI_DOC: &str = "docs/cli.md";
const REGENERATE: &str = "UPDATE_CLI_DOCS=1 cargo test --test tests cli_reference";

/// `run-agent <words...> --help`, in an environment that cannot change the text: no
/// colour, a fixed width (clap is built without `wrap_help`, so it does not wrap at the
/// terminal width anyway), no JRUN_* variables, HOME in the temp dir.
fn help_text(env: &Env, words: &[&str]) -> String {
    let mut c = crate::support::bin_cmd(env);
    c.args(words)
        .arg("--help")
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .env("LC_ALL", "C");
    let out = c.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "run-agent {} --help\n{}",
        words.join(" "),
        show(&out)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The subcommands a help text lists under `Commands:`, without clap's `help`.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim_end() != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        // A description too long for one line continues on an indented line of its own.
        .filter(|l| l.starts_with("  ") && !l.starts_with("    "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// The CLI reference as the binary describes itself: `run-agent --help`, then every
/// subcommand (and every nested one, such as `bus post`) found by reading the help.
fn cli_reference(env: &Env) -> String {
    let mut doc = String::from(
        "# run-agent command-line reference\n\n\
         Every command's `--help`, exactly as the binary prints it. Generated; do not edit by\n\
         hand. After changing a command's flags or help text, regenerate it with\n\n\
         ```sh\n",
    );
    doc.push_str(REGENERATE);
    doc.push_str(
        "\n```\n\n\
         (`tests/method.rs` fails when this file and `--help` disagree.) The user guide\n\
         (`docs/user-guide.md`) explains the commands with examples; `docs/formats.md`\n\
         describes the files they read and write.\n",
    );
    let mut queue: Vec<Vec<String>> = vec![Vec::new()];
    while let Some(words) = queue.pop() {
        let args: Vec<&str> = words.iter().map(String::as_str).collect();
        let help = help_text(env, &args);
        let title = std::iter::once("run-agent")
            .chain(args.iter().copied())
            .collect::<Vec<_>>()
            .join(" ");
        doc.push_str(&format!(
            "\n## {title}\n\n```text\n{}\n```\n",
            help.trim_end()
        ));
        // Depth first, in the order the help lists them.
        for sub in subcommands(&help).into_iter().rev() {
            let mut next = words.clone();
            next.push(sub);
            queue.push(next);
        }
    }
    doc
}

#[test]
fn cli_reference_matches_help() {
    let env = Env::new();
    let expected = cli_reference(&env);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(CLI_DOC);
    if std::env::var_os("UPDATE_CLI_DOCS").is_some_and(|v| !v.is_empty() && v != "0") {
        std::fs::write(&path, &expected).unwrap();
        return;
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    if actual != expected {
        let line = actual
            .lines()
            .zip(expected.lines())
            .position(|(a, e)| a != e)
            .unwrap_or_else(|| actual.lines().count().min(expected.lines().count()));
        panic!(
            "{CLI_DOC} does not match `run-agent --help` (first difference at line {}):\n\
             in the file: {:?}\n\
             from --help: {:?}\n\
             Regenerate it with: {REGENERATE}",
            line + 1,
            actual.lines().nth(line).unwrap_or("<end of file>"),
            expected.lines().nth(line).unwrap_or("<end of output>"),
        );
    }
}

#[test]
fn subcommands_are_read_from_the_help_text() {
    let help = "Usage: x\n\nCommands:\n  task  Run a task\n        continued\n  bus   The bus\n  help  Print help\n\nOptions:\n  -h\n";
    assert_eq!(subcommands(help), ["task", "bus"]);
    assert!(subcommands("Usage: x\n\nOptions:\n  -h\n").is_empty());
}

/// Records of a bus file as (type, body), read the simple way: a `---` line opens a
/// header, the next `---` opens the body. Enough for the demo's one-line bodies.
fn bus_records(text: &str) -> Vec<(String, String)> {
    let mut records = Vec::new();
    let mut fences = 0;
    let mut kind = String::new();
    let mut body = String::new();
    for line in text.lines() {
        if line == "---" {
            fences += 1;
            if fences % 2 == 1 {
                if fences > 1 {
                    records.push((std::mem::take(&mut kind), std::mem::take(&mut body)));
                }
                kind.clear();
            }
            continue;
        }
        if fences % 2 == 1 {
            if let Some(t) = line.strip_prefix("type:") {
                kind = t.trim().to_owned();
            }
        } else if fences > 0 {
            body.push_str(line);
            body.push('\n');
        }
    }
    if fences > 0 {
        records.push((kind, body));
    }
    records
}

/// Pids of live processes whose environment holds `marker` (the demo exports one).
fn processes_with(marker: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ.split(|b| *b == 0).any(|kv| kv == marker.as_bytes())
            && crate::support::alive(pid)
        {
            pids.push(pid);
        }
    }
    pids
}

#[test]
fn the_demo_splits_a_task_across_sub_agents_and_finishes_with_done() {
    use crate::support::{bin, field, run_info, scripts, wait_for};
    use std::process::{Command, Stdio};
    use std::time::Duration;

    let env = Env::new();
    let root = env.path("demo-root");
    let log = env.path("demo.log");
    let mut cmd = Command::new(scripts().join("demo.sh"));
    cmd.arg(&root)
        .current_dir(env.dir.path())
        .env("RUN_AGENT", bin())
        .env("HOME", env.dir.path())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::piped());
    for (k, _) in std::env::vars() {
        if k.starts_with("JRUN_") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd.spawn().unwrap();
    let marker = format!("RUN_AGENT_DEMO={}", root.display());
    let mut status = None;
    let finished = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_for("the demo to finish", Duration::from_secs(60), || {
            status = child.try_wait().unwrap();
            status.is_some()
        });
    }));
    if finished.is_err() {
        let _ = child.kill();
        let _ = child.wait();
        crate::support::kill_all(&processes_with(&marker));
        panic!(
            "the demo did not finish in 60 s; its output:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    let stdout = std::fs::read_to_string(&log).unwrap();
    let shown = format!("--- stdout\n{stdout}\n--- stderr\n{stderr}");
    assert_eq!(status.unwrap().code(), Some(0), "{shown}");

    // Nothing the demo started outlives it.
    let mut left = Vec::new();
    let gone = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_for(
            "the demo's processes to end",
            Duration::from_secs(5),
            || {
                left = processes_with(&marker);
                left.is_empty()
            },
        );
    }));
    if gone.is_err() {
        crate::support::kill_all(&left);
        panic!("the demo left processes behind: {left:?}\n{shown}");
    }

    // The task is done, by a scripted claude-format orchestrator.
    let project = root.join("demo");
    assert!(project.join("report/DONE").exists(), "{shown}");
    let runs_of = |task: &str| -> Vec<_> {
        let mut v: Vec<_> = std::fs::read_dir(project.join(task).join("runs"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        v.sort();
        v
    };
    let report_runs = runs_of("report");
    let infos: Vec<_> = report_runs.iter().map(|r| run_info(r)).collect();
    let root_runs: Vec<_> = infos
        .iter()
        .filter(|i| field(i, "parent_run_id").is_empty())
        .collect();
    assert_eq!(root_runs.len(), 1, "one orchestrator run\n{shown}");
    let orchestrator = root_runs[0];
    let root_id = field(orchestrator, "run_id");
    assert_eq!(field(orchestrator, "agent"), "claude");
    assert_eq!(field(orchestrator, "status"), "completed");
    let usage = &orchestrator["usage"];
    assert_eq!(
        usage["cost_usd"].as_f64(),
        Some(0.0042),
        "the stream's usage is recorded: {usage:?}"
    );
    let output = std::fs::read_to_string(field(orchestrator, "output_path")).unwrap();
    let lines = THE_PROMPT.lines().count();
    let words = THE_PROMPT.split_whitespace().count();
    assert!(
        output.contains(&format!("- lines: {lines} "))
            && output.contains(&format!("- words: {words} ")),
        "the report has the right counts ({lines} lines, {words} words):\n{output}"
    );

    // Two jobs in the same task, children of the orchestrator.
    let jobs: Vec<_> = infos
        .iter()
        .filter(|i| field(i, "parent_run_id") == root_id)
        .collect();
    assert_eq!(jobs.len(), 2, "{shown}");
    for job in &jobs {
        assert_eq!(field(job, "status"), "completed");
        assert_eq!(field(job, "depth"), "1");
    }

    // The sub-task: attempt 1 crashed, attempt 2 restarted it and finished it.
    let sub = runs_of("report-top-word");
    assert_eq!(sub.len(), 2, "{shown}");
    let (first, second) = (run_info(&sub[0]), run_info(&sub[1]));
    assert_eq!(
        [
            field(&first, "attempt"),
            field(&first, "status"),
            field(&first, "exit_code")
        ],
        ["1", "failed", "3"]
    );
    assert_eq!(
        [field(&second, "attempt"), field(&second, "status")],
        ["2", "completed"]
    );
    assert_eq!(
        field(&second, "previous_run_id"),
        field(&first, "run_id"),
        "the restart chain"
    );
    assert_eq!(field(&first, "parent_run_id"), root_id);
    assert_eq!(field(&second, "parent_run_id"), root_id);
    assert!(project.join("report-top-word/DONE").exists());
    assert!(
        report_runs.len() + sub.len() >= 4,
        "at least four runs in all"
    );

    // Every sub-agent reported over the bus.
    let mut records = Vec::new();
    for task in ["report", "report-top-word"] {
        let bus = std::fs::read_to_string(project.join(task).join("TASK-MESSAGE-BUS.md")).unwrap();
        records.extend(bus_records(&bus));
    }
    for part in ["lines: done", "words: done", "top-word: done"] {
        assert!(
            records
                .iter()
                .any(|(kind, body)| kind == "PROGRESS" && body.starts_with(part)),
            "a PROGRESS record starting {part:?} on the buses: {records:#?}"
        );
    }
    assert!(
        records
            .iter()
            .any(|(kind, body)| kind == "ERROR" && body.starts_with("top-word: attempt 1 crashed")),
        "{records:#?}"
    );

    // The watcher showed the runs live (here: the crash on the sub-task's stderr), and
    // the demo ends with a summary.
    assert!(
        stdout.contains("simulated crash in attempt 1"),
        "the watcher shows a sub-agent's stderr:\n{shown}"
    );
    assert!(stdout.contains("task demo/report: done"), "{shown}");
}
