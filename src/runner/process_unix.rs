//! Process facts read from `/proc` in one pass, process identity (pid + start time +
//! host), and signals that first prove whom they reach.

use std::collections::HashMap;
use std::ffi::OsString;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::unix::{hostname, is_same_process, proc_start, signal_group};

/// One live (non-zombie) process as `/proc/<pid>/stat` describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Proc {
    pub(crate) pid: i32,
    pub(crate) pgid: i32,
    /// Start time in clock ticks since boot.
    pub(crate) start: u64,
}

/// Every live process, read once, so a pass over many runs costs one scan of `/proc`
/// rather than one per run.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    by_pid: HashMap<i32, Proc>,
    group_sizes: HashMap<i32, usize>,
}

impl Snapshot {
    pub(crate) fn take() -> Self {
        let mut snap = Self::default();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return snap;
        };
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<i32>().ok())
            else {
                continue;
            };
            if let Some(p) = read_stat(pid) {
                snap.by_pid.insert(pid, p);
                *snap.group_sizes.entry(p.pgid).or_default() += 1;
            }
        }
        snap
    }

    /// How many live processes are in group `pgid`.
    pub(crate) fn group_size(&self, pgid: i32) -> usize {
        self.group_sizes.get(&pgid).copied().unwrap_or(0)
    }

    pub(crate) fn get(&self, pid: i32) -> Option<&Proc> {
        self.by_pid.get(&pid)
    }

    /// Members of group `pgid`.
    pub(crate) fn members(&self, pgid: i32) -> impl Iterator<Item = &Proc> {
        self.by_pid.values().filter(move |p| p.pgid == pgid)
    }
}

/// Pid, group and start time of a live process; `None` for a zombie or a gone pid.
fn read_stat(pid: i32) -> Option<Proc> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses; the fields after the last ')'
    // are plain: state (3), ppid (4), pgrp (5), ... starttime (22).
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    let pgid = fields.nth(1)?.parse().ok()?;
    let start = fields.nth(16)?.parse().ok()?;
    Some(Proc { pid, pgid, start })
}

/// Clock ticks per second, the unit of `/proc` start times. `USER_HZ` is part of the
/// Linux ABI and 100 on every architecture Linux exports it for.
fn ticks_per_second() -> u64 {
    100
}

/// How long ago a process with this start time (ticks since boot) started.
pub(crate) fn age(start: u64) -> Option<Duration> {
    let uptime = std::fs::read_to_string("/proc/uptime").ok()?;
    let secs: f64 = uptime.split_whitespace().next()?.parse().ok()?;
    let started = start as f64 / ticks_per_second() as f64;
    Some(Duration::from_secs_f64((secs - started).max(0.0)))
}

/// The file name of the program `pid` runs (`/proc/<pid>/exe`), when we may read it.
pub(crate) fn exe_name(pid: i32) -> Option<OsString> {
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .and_then(|p| p.file_name().map(ToOwned::to_owned))
}

/// The file name of this very binary, to recognise a nested `run-agent` by its program.
pub(crate) fn own_exe_name() -> Option<OsString> {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(ToOwned::to_owned))
}

/// One process for good: pid and kernel start time, on a host. Pids are reused, the pair
/// is not; a record from another host cannot be checked here at all.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Identity {
    pub(crate) pid: i32,
    pub(crate) start: u64,
    pub(crate) host: String,
}

impl Identity {
    /// This process.
    pub(crate) fn current() -> Self {
        let pid = std::process::id() as i32;
        Self {
            pid,
            start: proc_start(pid).unwrap_or(0),
            host: hostname(),
        }
    }

    /// True when the record was written on this host (or names none, as old ones do).
    pub(crate) fn is_local(&self) -> bool {
        self.host.is_empty() || self.host == hostname()
    }

    pub(crate) fn is_self(&self) -> bool {
        self.pid == std::process::id() as i32
    }

    /// True only when this exact process is alive. A process on another host is never
    /// proven alive here; callers decide what that means for them.
    pub(crate) fn alive(&self) -> bool {
        self.is_local() && self.pid > 0 && self.start > 0 && is_same_process(self.pid, self.start)
    }

    /// The same as [`Identity::alive`], against a snapshot.
    pub(crate) fn alive_in(&self, snap: &Snapshot) -> bool {
        self.is_local()
            && self.pid > 0
            && snap
                .get(self.pid)
                .is_some_and(|p| self.start > 0 && p.start == self.start)
    }

    /// Sends `sig` to this one process, only if it is provably the recorded one and not
    /// us or init.
    pub(crate) fn signal(&self, sig: Signal) -> bool {
        if self.pid <= 1 || self.is_self() || !self.alive() {
            return false;
        }
        kill(Pid::from_raw(self.pid), sig).is_ok()
    }

    /// "pid start host", the one-line form kept in run folders and the children index.
    pub(crate) fn to_line(&self) -> String {
        format!("{} {} {}", self.pid, self.start, self.host)
    }

    pub(crate) fn parse(line: &str) -> Option<Self> {
        let mut parts = line.split_whitespace();
        let pid = parts.next()?.parse().ok()?;
        let start = parts.next()?.parse().ok()?;
        let host = parts.next().unwrap_or("").to_owned();
        Some(Self { pid, start, host })
    }
}

/// What became of a request to signal a run's process group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GroupSignal {
    /// The group had members and was signalled.
    Sent,
    /// Nothing lives in the group.
    Empty,
    /// The group id cannot be proven to be the run's: left alone.
    Refused,
}

/// Signals the process group of a run whose agent was `leader`, recorded as leading
/// group `pgid`. While the leader lives it must pass the identity check and still lead
/// that group. Once it is gone, Linux does not reuse its pid while the group still has
/// members, so members of `pgid` with no process of pid `pgid` are the run's leftovers;
/// a process that now holds pid `pgid` is somebody else and the group is left alone.
/// Never pgid ≤ 1 or our own group ([`signal_group`] refuses those).
pub(crate) fn signal_run_group(
    leader: &Identity,
    pgid: i32,
    sig: Signal,
    snap: &Snapshot,
) -> GroupSignal {
    if pgid <= 1 || !leader.is_local() {
        return GroupSignal::Refused;
    }
    let holder = snap.get(pgid);
    let ours = match holder {
        Some(p) => leader.pid == pgid && leader.start > 0 && p.start == leader.start,
        None => true,
    };
    if !ours {
        return GroupSignal::Refused;
    }
    if snap.group_size(pgid) == 0 {
        return GroupSignal::Empty;
    }
    match signal_group(pgid, sig) {
        Ok(_) => GroupSignal::Sent,
        Err(_) => GroupSignal::Refused,
    }
}

/// True when `sig` may be worth sending: the group still has members and is provably
/// the run's (see [`signal_run_group`]).
pub(crate) fn run_group_alive(leader: &Identity, pgid: i32, snap: &Snapshot) -> bool {
    if pgid <= 1 || !leader.is_local() || pgid == nix::unistd::getpgrp().as_raw() {
        return false;
    }
    let ours = match snap.get(pgid) {
        Some(p) => leader.pid == pgid && leader.start > 0 && p.start == leader.start,
        None => true,
    };
    ours && snap.group_size(pgid) > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_sees_us_with_our_start_time() {
        let me = Identity::current();
        let snap = Snapshot::take();
        assert!(me.alive_in(&snap));
        assert!(me.alive());
        let other = Identity {
            start: me.start + 1,
            ..me.clone()
        };
        assert!(!other.alive_in(&snap));
        assert!(!other.alive());
        assert!(!other.signal(Signal::SIGTERM), "never signals a stranger");
        assert!(age(me.start).is_some_and(|a| a < Duration::from_secs(3600)));
    }

    #[test]
    fn identity_lines_round_trip() {
        let id = Identity {
            pid: 42,
            start: 7,
            host: "h".into(),
        };
        assert_eq!(Identity::parse(&id.to_line()), Some(id));
        assert_eq!(Identity::parse("x"), None);
    }

    #[test]
    fn a_group_held_by_another_process_is_refused() {
        let me = Identity::current();
        let snap = Snapshot::take();
        let stranger = Identity {
            start: me.start + 1,
            ..me.clone()
        };
        assert_eq!(
            signal_run_group(&stranger, me.pid, Signal::SIGCONT, &snap),
            GroupSignal::Refused
        );
        assert_eq!(
            signal_run_group(&me, 1, Signal::SIGCONT, &snap),
            GroupSignal::Refused
        );
    }
}
