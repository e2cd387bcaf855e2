//! Issue 3, the live half: concurrent writers, writers killed mid-append under
//! following readers, following through truncation and rotation.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::bus::{post, read_all, s};
use crate::support::{kill_all, show, wait_for, Env};

/// Runs a `bus stress` writer; returns its child.
fn stress(env: &Env, bus: &Path, writer: u64, count: u64, min: usize, max: usize) -> Child {
    stress_with(env, bus, writer, count, min, max, None)
}

fn stress_with(
    env: &Env,
    bus: &Path,
    writer: u64,
    count: u64,
    min: usize,
    max: usize,
    chunked: Option<usize>,
) -> Child {
    let mut c = env.cmd(&[
        "bus",
        "stress",
        "--bus",
        bus.to_str().unwrap(),
        "--writer",
        &writer.to_string(),
        "--count",
        &count.to_string(),
        "--min-size",
        &min.to_string(),
        "--max-size",
        &max.to_string(),
        "--print-ids",
    ]);
    if let Some(n) = chunked {
        c.arg("--chunked").arg(n.to_string());
    }
    c.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Checks a stress bus: every body well formed (`w<W> s<S>` and one letter), no torn
/// record, each writer's sequence complete and in order.
fn check_stress(msgs: &[serde_json::Value], writers: u64, count: u64) {
    let mut next: HashMap<u64, u64> = HashMap::new();
    for m in msgs {
        assert!(m.get("torn").is_none(), "torn record {}", s(m, "msg_id"));
        let body = s(m, "body");
        let (head, fill) = body.split_once('\n').unwrap_or((body, ""));
        let mut it = head.split(' ');
        let w: u64 = it.next().unwrap()[1..].parse().unwrap();
        let q: u64 = it.next().unwrap()[1..].parse().unwrap();
        let letter = (b'a' + ((w * 7 + q) % 26) as u8) as char;
        assert!(
            fill.chars().all(|c| c == letter),
            "body of w{w} s{q} is mixed"
        );
        let n = next.entry(w).or_insert(0);
        assert_eq!(q, *n, "writer {w}: order kept, none lost or doubled");
        *n += 1;
    }
    for w in 0..writers {
        assert_eq!(
            next.get(&w).copied().unwrap_or(0),
            count,
            "writer {w} count"
        );
    }
}

/// A scratch folder in memory (/dev/shm) where there is one, else on disk: the stress
/// tests write hundreds of megabytes, and on disk their writeback slows every fsync of
/// the tests running beside them.
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let b = tempfile::Builder::new().prefix("run-agent-bus-").to_owned();
    if shm.is_dir() {
        if let Ok(d) = b.tempdir_in(shm) {
            return d;
        }
    }
    b.tempdir().unwrap()
}

/// The heavy tests take turns, so the suite's peak load stays bearable on 2 cores.
static HEAVY: Mutex<()> = Mutex::new(());

fn heavy() -> std::sync::MutexGuard<'static, ()> {
    HEAVY.lock().unwrap_or_else(|e| e.into_inner())
}

fn concurrent_writers(writers: u64, count: u64) {
    let _turn = heavy();
    let env = Env::new();
    let scratch = scratch();
    let bus = scratch.path().join("b.md");
    let start = Instant::now();
    let mut children: Vec<Child> = (0..writers)
        .map(|w| stress(&env, &bus, w, count, 1, 64 << 10))
        .collect();
    let pids: Vec<i32> = children.iter().map(|c| c.id() as i32).collect();
    for c in &mut children {
        let st = c.wait().unwrap();
        if !st.success() {
            kill_all(&pids);
            panic!("writer failed: {st:?}");
        }
    }
    let wrote = start.elapsed();
    let msgs = read_all(&env, &bus);
    assert_eq!(msgs.len() as u64, writers * count);
    check_stress(&msgs, writers, count);
    eprintln!(
        "{writers} writers x {count}: {} MB written in {wrote:?}, read back in {:?}",
        std::fs::metadata(&bus).unwrap().len() >> 20,
        start.elapsed() - wrote
    );
}

/// Acceptance 3, sized for a debug build on 2 cores; the exact figures run below.
#[test]
fn concurrent_writers_lose_nothing_and_keep_order() {
    concurrent_writers(16, 200);
}

/// Acceptance 3 with the issue's numbers: `cargo test --release -- --ignored` (and
/// scripts/bench/stress.sh).
#[test]
#[ignore = "heavy: 16 x 2000 appends; run with --release -- --ignored"]
fn concurrent_writers_issue_numbers() {
    concurrent_writers(16, 2000);
}

/// A follower process: `bus read --follow --json --tail 0`, its output collected.
struct Follower {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
}

/// A failing test must not leave its followers running.
impl Drop for Follower {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            kill_all(&[self.child.id() as i32]);
            let _ = self.child.wait();
        }
    }
}

impl Follower {
    fn start(env: &Env, bus: &Path, extra_env: &[(&str, &str)]) -> Self {
        let mut c = env.cmd(&[
            "bus",
            "read",
            "--bus",
            bus.to_str().unwrap(),
            "--follow",
            "--json",
            "--tail",
            "0",
        ]);
        c.env("JRUN_POLL_INTERVAL", "50ms")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in extra_env {
            c.env(k, v);
        }
        let mut child = c.spawn().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let out = child.stdout.take().unwrap();
        let l2 = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                match line {
                    Ok(l) => l2.lock().unwrap().push(l),
                    Err(_) => break,
                }
            }
        });
        let mut err = child.stderr.take().unwrap();
        let e2 = stderr.clone();
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            e2.lock().unwrap().push_str(&s);
        });
        Self {
            child,
            lines,
            stderr,
        }
    }

    fn ids(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                s(&v, "msg_id").to_owned()
            })
            .collect()
    }

    fn bodies(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                s(&v, "body").to_owned()
            })
            .collect()
    }

    /// Generous: four debug-build followers may still be catching up at the end.
    fn wait_for_body(&self, body: &str) {
        wait_for(
            &format!("follower to print {body:?}"),
            Duration::from_secs(90),
            || self.bodies().iter().any(|b| b == body),
        );
    }

    fn stop(mut self) -> (Vec<String>, String) {
        let alive = self.child.try_wait().unwrap().is_none();
        kill_all(&[self.child.id() as i32]);
        let _ = self.child.wait();
        assert!(
            alive,
            "follower exited early: {}",
            self.stderr.lock().unwrap()
        );
        let err = self.stderr.lock().unwrap().clone();
        (self.ids(), err)
    }
}

fn killed_writers(total: usize) {
    let _turn = heavy();
    let env = Env::new();
    let scratch = scratch();
    let bus = scratch.path().join("b.md");
    std::fs::write(&bus, "").unwrap();
    let followers: Vec<Follower> = (0..4).map(|_| Follower::start(&env, &bus, &[])).collect();
    let acked: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    // Large bodies so a kill often lands inside the write. Each writer is killed a
    // random 0-4 ms after its first acknowledged post (so while it is appending), or
    // after 300 ms if it never gets one through.
    struct Writer {
        child: Child,
        born: Instant,
        delay: Duration,
        first_ack: Arc<Mutex<Option<Instant>>>,
        reader: std::thread::JoinHandle<()>,
    }
    let mut started = 0;
    let mut running: Vec<Writer> = Vec::new();
    while started < total || !running.is_empty() {
        while started < total && running.len() < 8 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            // Every other writer writes in 64 KiB pieces, as `cat >> bus` does.
            let chunked = if started % 2 == 0 {
                None
            } else {
                Some(64 << 10)
            };
            let mut child = stress_with(
                &env,
                &bus,
                started as u64,
                1_000_000,
                4 << 10,
                512 << 10,
                chunked,
            );
            let out = child.stdout.take().unwrap();
            let a = acked.clone();
            let first_ack = Arc::new(Mutex::new(None));
            let f2 = first_ack.clone();
            let reader = std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    f2.lock().unwrap().get_or_insert_with(Instant::now);
                    a.lock().unwrap().push(line);
                }
            });
            running.push(Writer {
                child,
                born: Instant::now(),
                delay: Duration::from_micros(rng % 4_000),
                first_ack,
                reader,
            });
            started += 1;
        }
        let now = Instant::now();
        let mut i = 0;
        while i < running.len() {
            let w = &running[i];
            let due = match *w.first_ack.lock().unwrap() {
                Some(t) => t + w.delay <= now,
                None => w.born + Duration::from_millis(300) <= now,
            };
            if due {
                let mut w = running.swap_remove(i);
                let _ = w.child.kill();
                let _ = w.child.wait();
                w.reader.join().unwrap();
            } else {
                i += 1;
            }
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let last = post(&env, &bus, "the post after the killed writers", &[]);
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= total / 4,
        "writers got posts through: {}",
        acked.len()
    );
    let on_disk = read_all(&env, &bus);
    let torn = on_disk.iter().filter(|m| m.get("torn").is_some()).count();
    let mut count: HashMap<&str, usize> = HashMap::new();
    for m in &on_disk {
        *count.entry(s(m, "msg_id")).or_default() += 1;
    }
    for id in &acked {
        assert_eq!(
            count.get(id.as_str()),
            Some(&1),
            "acknowledged {id} exactly once on disk"
        );
    }
    assert_eq!(
        s(on_disk.last().unwrap(), "msg_id"),
        last,
        "the last post reads back"
    );
    for f in followers {
        f.wait_for_body("the post after the killed writers");
        let (ids, err) = f.stop();
        assert!(err.is_empty(), "follower stderr: {err}");
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for id in &ids {
            *seen.entry(id.as_str()).or_default() += 1;
        }
        for id in &acked {
            assert_eq!(
                seen.get(id.as_str()),
                Some(&1),
                "follower saw {id} exactly once"
            );
        }
    }
    eprintln!(
        "{total} writers killed; {} posts acknowledged; {torn} torn records on disk",
        acked.len()
    );
}

/// Acceptance 4: writers SIGKILLed mid-append while four readers follow.
#[test]
fn killed_writers_never_break_readers_or_lose_acknowledged_posts() {
    killed_writers(300);
}

fn follow_through_truncation_and_rotation(poll_only: bool) {
    let env = Env::new();
    let root = env.root();
    let bus = root.join("p/t/TASK-MESSAGE-BUS.md");
    std::fs::create_dir_all(bus.parent().unwrap()).unwrap();
    let mode = if poll_only { "1" } else { "0" };
    let f = Follower::start(&env, &bus, &[("JRUN_POLL_ONLY", mode)]);
    post(&env, &bus, "one", &[]);
    f.wait_for_body("one");
    let out = env.run(&["gc", "--rotate-bus", "--bus-max-size", "10"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("rotated"),
        "{}",
        show(&out)
    );
    let archived: Vec<PathBuf> = std::fs::read_dir(bus.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".archived"))
        .collect();
    assert_eq!(archived.len(), 1);
    post(&env, &bus, "two", &[]);
    f.wait_for_body("two");
    std::fs::write(&bus, "").unwrap();
    post(&env, &bus, "three", &[]);
    f.wait_for_body("three");
    let (_, err) = f.stop();
    assert!(err.is_empty(), "{err}");
}

#[test]
fn follow_survives_truncation_and_rotation_with_events() {
    follow_through_truncation_and_rotation(false);
}

#[test]
fn follow_survives_truncation_and_rotation_by_polling() {
    follow_through_truncation_and_rotation(true);
}
