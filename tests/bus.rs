//! Issue 3: the message bus through the real binary: exact round trips, torn records,
//! short writes, a stopped lock holder, addressing, cursors, selection. The live half
//! (concurrent and killed writers, following) is in bus_live.rs.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use proptest::prelude::*;

use crate::support::{show, wait_for, Env};

/// One message of `bus read --json`.
pub(crate) fn parse_json(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

pub(crate) fn s<'a>(v: &'a serde_json::Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

pub(crate) fn post(env: &Env, bus: &Path, body: &str, extra: &[&str]) -> String {
    let mut c = env.cmd(&["bus", "post", "--bus", bus.to_str().unwrap()]);
    c.args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

pub(crate) fn read_all(env: &Env, bus: &Path) -> Vec<serde_json::Value> {
    let out = env.run(&[
        "bus",
        "read",
        "--bus",
        bus.to_str().unwrap(),
        "--tail",
        "0",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    parse_json(&out.stdout)
}

fn body_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        Just(String::new()),
        Just("---".to_owned()),
        Just("---\n".to_owned()),
        Just("\n\n\n".to_owned()),
        Just(
            "---\ntype: FAKE\nmsg_id: MSG-20260101-000000-1-PID00001-0001\n---\nfake body\n"
                .to_owned()
        ),
        Just("---\nbody_bytes: 2\n---\nab\n---\n".to_owned()),
        "(---\n|[a-z: ]{0,12}\n|\n|\u{e9}\u{1F600}){0,12}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Acceptance 1: any bodies posted, then read back with --json: byte-identical, in order.
    #[test]
    fn posted_bodies_read_back_byte_identical(bodies in proptest::collection::vec(body_strategy(), 1..6)) {
        let env = Env::new();
        let bus = env.path("b.md");
        let ids: Vec<String> = bodies.iter().map(|b| post(&env, &bus, b, &[])).collect();
        let got = read_all(&env, &bus);
        let got_bodies: Vec<&str> = got.iter().map(|m| s(m, "body")).collect();
        let got_ids: Vec<&str> = got.iter().map(|m| s(m, "msg_id")).collect();
        prop_assert_eq!(got_bodies, bodies.iter().map(String::as_str).collect::<Vec<_>>());
        prop_assert_eq!(got_ids, ids.iter().map(String::as_str).collect::<Vec<_>>());
    }
}

#[test]
fn large_and_nasty_bodies_round_trip_exactly() {
    let env = Env::new();
    let bus = env.path("b.md");
    let big: String = "ab\u{e9}---\n".repeat(256 * 1024 / 8);
    let bodies = [
        big.as_str(),
        "",
        "---",
        "---\ntype: QUESTION\n---\nlooks like a record\n",
        "trailing newlines\n\n\n",
        "\u{0}nul\u{0}",
        "\r\n---\r\n",
    ];
    for b in bodies {
        post(
            &env,
            &bus,
            b,
            &["--type", "FACT", "--meta", "k=v w", "--reply-to", "MSG-x"],
        );
    }
    let got = read_all(&env, &bus);
    assert_eq!(got.len(), bodies.len());
    for (m, b) in got.iter().zip(bodies) {
        assert_eq!(s(m, "body"), b);
        assert_eq!(s(m, "type"), "FACT");
        assert_eq!(m["meta"]["k"], "v w");
        assert_eq!(s(m, "reply_to"), "MSG-x");
    }
    assert!(big.len() >= 256 * 1024);
}

#[test]
fn hand_written_and_old_records_read_with_stable_ids() {
    let env = Env::new();
    let bus = env.write(
        "b.md",
        "[2024-01-02 03:04:05] FACT: an old one-line record\n\
         ---\ntype: QUESTION\n---\nWhich database should the migration target?\n",
    );
    // The shell one-liner of SPEC §3.
    let st = Command::new("sh")
        .arg("-c")
        .arg("flock \"$B\" sh -c 'cat >> \"$B\"' <<'EOF'\n---\ntype: DECISION\n---\nPostgres.\nEOF\n")
        .env("B", &bus)
        .status()
        .unwrap();
    assert!(st.success());
    // Framed by hand, as the Python example of docs/bus.md does.
    let framed = b"a\n---\ntype: X\n---\nb\n";
    let mut rec = format!("---\ntype: FRAMED\nbody_bytes: {}\n---\n", framed.len()).into_bytes();
    rec.extend_from_slice(framed);
    rec.push(b'\n');
    std::fs::OpenOptions::new()
        .append(true)
        .open(&bus)
        .unwrap()
        .write_all(&rec)
        .unwrap();
    post(&env, &bus, "after the hand-written ones", &[]);
    let a = read_all(&env, &bus);
    let b = read_all(&env, &bus);
    let view: Vec<(&str, &str)> = a.iter().map(|m| (s(m, "type"), s(m, "body"))).collect();
    assert_eq!(
        view,
        [
            ("FACT", "an old one-line record"),
            ("QUESTION", "Which database should the migration target?"),
            ("DECISION", "Postgres."),
            ("FRAMED", "a\n---\ntype: X\n---\nb\n"),
            ("INFO", "after the hand-written ones"),
        ]
    );
    assert_eq!(s(&a[0], "msg_id"), "OFF-0");
    assert!(a.iter().all(|m| !s(m, "msg_id").is_empty()));
    assert_eq!(a, b, "ids are stable across reads");
}

/// Acceptance 2 with the real writer: every prefix of a record, then a post.
#[test]
fn every_prefix_of_a_record_then_a_post_reads_the_post_exactly() {
    let env = Env::new();
    let full = env.path("full.md");
    post(&env, &full, "x\n---\ntype: Y\n---\nz", &["--meta", "a=b"]);
    let record = std::fs::read(&full).unwrap();
    let bus = env.path("b.md");
    for k in (0..record.len()).step_by(3).chain([record.len() - 1]) {
        std::fs::write(&bus, &record[..k]).unwrap();
        let body = format!("valid after prefix {k}\n---\n");
        let id = post(&env, &bus, &body, &[]);
        let got = read_all(&env, &bus);
        let hits: Vec<_> = got.iter().filter(|m| s(m, "msg_id") == id).collect();
        assert_eq!(hits.len(), 1, "prefix {k}: {got:#?}");
        assert_eq!(s(hits[0], "body"), body, "prefix {k}");
        assert!(hits[0].get("torn").is_none());
    }
}

#[test]
fn refuses_symlink_fifo_and_directory_buses() {
    let env = Env::new();
    let real = env.write("real.md", "");
    let link = env.path("link.md");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let fifo = env.path("fifo.md");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    for (p, word) in [
        (link, "symlink"),
        (fifo, "FIFO"),
        (env.path(""), "directory"),
    ] {
        let out = env.run(&["bus", "post", "--bus", p.to_str().unwrap(), "--body", "x"]);
        assert_eq!(out.status.code(), Some(2), "{}", show(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(word) && err.contains(p.to_str().unwrap()),
            "{err}"
        );
    }
}

/// Acceptance 5: a short write under RLIMIT_FSIZE is cut back and reported.
#[test]
fn a_short_write_is_cut_back_and_reported() {
    let env = Env::new();
    let bus = env.path("b.md");
    post(&env, &bus, "first", &[]);
    post(&env, &bus, "second", &[]);
    let before = std::fs::read(&bus).unwrap();
    let limit = before.len() as u64 + 100;
    let mut c = env.cmd(&[
        "bus",
        "post",
        "--bus",
        bus.to_str().unwrap(),
        "--body",
        &"x".repeat(5000),
    ]);
    // SAFETY: setrlimit between fork and exec touches no shared state.
    unsafe {
        c.pre_exec(move || {
            let r = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &r) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("File too large") && err.contains(bus.to_str().unwrap()),
        "{err}"
    );
    assert!(err.contains("cut back"), "{err}");
    assert_eq!(
        std::fs::read(&bus).unwrap(),
        before,
        "file back at its old length"
    );
    let bodies: Vec<String> = read_all(&env, &bus)
        .iter()
        .map(|m| s(m, "body").to_owned())
        .collect();
    assert_eq!(bodies, ["first", "second"]);
}

/// Acceptance 6: a stopped lock holder makes others fail after the timeout, clearly;
/// once it is killed the next post goes through at once.
#[test]
fn a_stopped_lock_holder_times_others_out_then_frees_the_bus() {
    let env = Env::new();
    let bus = env.path("b.md");
    post(&env, &bus, "before", &[]);
    // flock(1) holds the lock itself (-o: its `sleep` child does not), in a group of its
    // own so both are killed together by the group id.
    let mut holder = Command::new("flock")
        .arg("-o")
        .arg(&bus)
        .args(["sleep", "600"])
        .process_group(0)
        .spawn()
        .unwrap();
    let hpid = holder.id() as i32;
    wait_for(
        "the holder to take the lock",
        Duration::from_secs(10),
        || {
            !Command::new("flock")
                .args(["-n"])
                .arg(&bus)
                .arg("true")
                .status()
                .unwrap()
                .success()
        },
    );
    let _ = Command::new("kill")
        .args(["-STOP", &hpid.to_string()])
        .status();
    let t = Instant::now();
    let out = env.run(&[
        "bus",
        "post",
        "--bus",
        bus.to_str().unwrap(),
        "--body",
        "x",
        "--lock-timeout",
        "300ms",
    ]);
    let waited = t.elapsed();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{hpid}")])
        .status();
    let _ = holder.wait();
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert!(
        err.contains("timed out after 300ms waiting for the lock")
            && err.contains(bus.to_str().unwrap()),
        "{err}"
    );
    let t = Instant::now();
    post(&env, &bus, "after", &["--lock-timeout", "10s"]);
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "the next post went through at once: {:?}",
        t.elapsed()
    );
    let bodies: Vec<String> = read_all(&env, &bus)
        .iter()
        .map(|m| s(m, "body").to_owned())
        .collect();
    assert_eq!(bodies, ["before", "after"]);
}

/// Acceptance 7: a child run posts `--to parent`; the parent's task bus has it, `--mine`
/// shows it to the parent, `--unread` shows each message once per name.
#[test]
fn a_child_posts_to_its_parent_and_the_parent_reads_it_as_mine() {
    let env = Env::new();
    // The parent is a job of task p/parent; it starts a child job in another task, whose
    // script posts to its parent. The child finds the parent's bus by the parent's run id.
    let child_script = env.write(
        "child.sh",
        "run-agent bus post --to parent --type QUESTION --body 'which db?'\n",
    );
    let parent_script = env.write(
        "parent.sh",
        &format!(
            "run-agent job --project p --task child --prompt-file {} --agent shell >/dev/null\n\
             echo \"$JRUN_ID\" > \"$JRUN_TASK_FOLDER/parent-id\"\n\
             run-agent bus read --mine --json --type QUESTION > \"$JRUN_TASK_FOLDER/mine.json\"\n",
            child_script.display()
        ),
    );
    let out = env.run(&[
        "job",
        "--project",
        "p",
        "--task",
        "parent",
        "--agent",
        "shell",
        "--prompt-file",
        parent_script.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let parent_dir = env.task_dir("p", "parent");
    let parent_id = std::fs::read_to_string(parent_dir.join("parent-id"))
        .unwrap()
        .trim()
        .to_owned();
    let bus = parent_dir.join("TASK-MESSAGE-BUS.md");
    let q: Vec<_> = read_all(&env, &bus)
        .into_iter()
        .filter(|m| s(m, "type") == "QUESTION")
        .collect();
    assert_eq!(q.len(), 1, "{q:#?}");
    assert_eq!(s(&q[0], "to"), parent_id);
    let child_runs = env.runs("p", "child");
    assert_eq!(child_runs.len(), 1);
    let child_id = child_runs[0].file_name().unwrap().to_str().unwrap();
    assert_eq!(s(&q[0], "from"), child_id);
    let mine = parse_json(&std::fs::read(parent_dir.join("mine.json")).unwrap());
    assert_eq!(mine.len(), 1);
    assert_eq!(s(&mine[0], "body"), "which db?");

    // --mine filters by $JRUN_ID: addressed to someone else is hidden, broadcasts shown.
    post(&env, &bus, "for another run", &["--to", "someone-else"]);
    post(&env, &bus, "for everyone", &[]);
    let mut c = env.cmd(&[
        "bus",
        "read",
        "--bus",
        bus.to_str().unwrap(),
        "--mine",
        "--json",
        "--tail",
        "0",
    ]);
    let out = c.env("JRUN_ID", &parent_id).output().unwrap();
    let bodies: Vec<String> = parse_json(&out.stdout)
        .iter()
        .map(|m| s(m, "body").to_owned())
        .collect();
    assert!(
        bodies.contains(&"which db?".to_owned()) && bodies.contains(&"for everyone".to_owned())
    );
    assert!(
        !bodies.contains(&"for another run".to_owned()),
        "{bodies:?}"
    );
}

#[test]
fn unread_cursors_show_each_message_once_per_name() {
    let env = Env::new();
    let bus = env.path("b.md");
    let unread = |name: &str| -> Vec<String> {
        let out = env.run(&[
            "bus",
            "read",
            "--bus",
            bus.to_str().unwrap(),
            "--unread",
            "--as",
            name,
            "--json",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
        parse_json(&out.stdout)
            .iter()
            .map(|m| s(m, "body").to_owned())
            .collect()
    };
    post(&env, &bus, "one", &[]);
    post(&env, &bus, "two", &[]);
    assert_eq!(unread("a"), ["one", "two"]);
    assert!(unread("a").is_empty());
    post(&env, &bus, "three", &[]);
    assert_eq!(unread("a"), ["three"]);
    assert_eq!(
        unread("b"),
        ["one", "two", "three"],
        "names are independent"
    );
    assert!(unread("b").is_empty());
    let out = env.run(&[
        "bus",
        "read",
        "--bus",
        bus.to_str().unwrap(),
        "--unread",
        "--as",
        "../x",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
}

#[test]
fn tail_since_and_type_select_messages() {
    let env = Env::new();
    let bus = env.path("b.md");
    let ids: Vec<String> = (0..30)
        .map(|i| {
            post(
                &env,
                &bus,
                &format!("m{i}"),
                &["--type", if i % 3 == 0 { "FACT" } else { "INFO" }],
            )
        })
        .collect();
    let bodies = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["bus", "read", "--bus", bus.to_str().unwrap(), "--json"];
        a.extend_from_slice(args);
        let out = env.run(&a);
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
        parse_json(&out.stdout)
            .iter()
            .map(|m| s(m, "body").to_owned())
            .collect()
    };
    assert_eq!(bodies(&[]).len(), 20, "default tail is 20");
    assert_eq!(bodies(&["--tail", "2"]), ["m28", "m29"]);
    assert_eq!(bodies(&["--tail", "2", "--type", "FACT"]), ["m24", "m27"]);
    assert_eq!(bodies(&["--since", &ids[26]]), ["m27", "m28", "m29"]);
    let out = env.run(&[
        "bus",
        "read",
        "--bus",
        bus.to_str().unwrap(),
        "--since",
        "MSG-nope",
    ]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn gc_dry_run_changes_nothing() {
    let env = Env::new();
    let bus = env.root().join("p/PROJECT-MESSAGE-BUS.md");
    std::fs::create_dir_all(bus.parent().unwrap()).unwrap();
    post(&env, &bus, "x", &[]);
    let out = env.run(&["gc", "--rotate-bus", "--bus-max-size", "1", "--dry-run"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("would rotate"),
        "{}",
        show(&out)
    );
    assert_eq!(std::fs::read_dir(bus.parent().unwrap()).unwrap().count(), 1);
}

/// A reader over a bus whose first record is a 1 GiB run of NUL bytes (sparse, a
/// zero-filled tail a crash left) still reads the record after it, in little memory.
#[test]
fn a_gigabyte_of_zeros_does_not_blow_memory() {
    let env = Env::new();
    let bus = env.path("b.md");
    std::fs::File::create(&bus)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    post(&env, &bus, "after the zeros", &[]);
    let out = env.path("out.json");
    let (status, maxrss_kb) = run_measured(
        env.cmd(&[
            "bus",
            "read",
            "--bus",
            bus.to_str().unwrap(),
            "--json",
            "--tail",
            "1",
        ]),
        &out,
    );
    assert!(status);
    let got = parse_json(&std::fs::read(&out).unwrap());
    assert_eq!(got.len(), 1);
    assert_eq!(s(&got[0], "body"), "after the zeros");
    assert!(maxrss_kb < 32 * 1024, "peak memory {maxrss_kb} KiB");
}

/// Runs a command with stdout to a file; returns success and its peak RSS in KiB.
fn run_measured(mut c: Command, out: &Path) -> (bool, i64) {
    c.stdout(std::fs::File::create(out).unwrap());
    let child = c.spawn().unwrap();
    let mut status = 0;
    // SAFETY: wait4 on our own child, with a zeroed rusage to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    // Reaped by wait4 above; dropping the handle does not wait again.
    std::mem::forget(child);
    (
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        usage.ru_maxrss,
    )
}

#[test]
fn discover_finds_the_buses_above_a_folder() {
    let env = Env::new();
    let task = env.root().join("p/t");
    std::fs::create_dir_all(task.join("runs/r1")).unwrap();
    std::fs::write(task.join("TASK.md"), "x").unwrap();
    let out = env.run(&[
        "bus",
        "discover",
        "--from",
        task.join("runs/r1").to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let v: BTreeMap<String, serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["task_bus"],
        task.join("TASK-MESSAGE-BUS.md").to_str().unwrap()
    );
    assert_eq!(
        v["project_bus"],
        env.root()
            .join("p/PROJECT-MESSAGE-BUS.md")
            .to_str()
            .unwrap()
    );
}
