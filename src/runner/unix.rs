//! Unix process plumbing: sessions, process identity from `/proc`, and group signals
//! that refuse any group we cannot prove is ours.

use std::io;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// Makes the child a session (and process-group) leader before it execs, so its whole
/// tree can be signalled as one group and a terminal's Ctrl-C reaches only the runner.
pub(crate) fn new_session(cmd: &mut tokio::process::Command) {
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| nix::unistd::setsid().map(|_| ()).map_err(io::Error::from));
    }
}

/// Leaves the caller's process group: a nested `run-agent` does this first so signals
/// aimed at the calling agent's group do not cut it off before it records its run.
pub(crate) fn leave_callers_group() {
    // Fails harmlessly when we already lead a group (for example under a shell with job
    // control); then we are already out of the caller's group.
    let _ = nix::unistd::setsid();
}

/// The kernel's start time of `pid` (field 22 of `/proc/<pid>/stat`, clock ticks since
/// boot): together with the pid it names one process for good, since pids are reused.
pub(crate) fn proc_start(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses; fields after the last
    // ')' are plain numbers. Field 3 is the first after it, so field 22 is the 20th.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// True when `pid` is alive (not a zombie) and started at `start`.
pub(crate) fn is_same_process(pid: i32, start: u64) -> bool {
    if pid <= 0 {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let Some(close) = stat.rfind(')') else {
                return false;
            };
            let mut fields = stat[close + 1..].split_whitespace();
            let state = fields.next().unwrap_or("Z");
            let started = fields.nth(18).and_then(|s| s.parse::<u64>().ok());
            state != "Z" && state != "X" && started == Some(start)
        }
        Err(_) => false,
    }
}

/// Why a group was not signalled.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum SignalRefused {
    #[error("process group {0} is not a run's group (refusing to signal pgid <= 1)")]
    TooLow(i32),
    #[error("process group {0} is run-agent's own group (refusing to signal it)")]
    Own(i32),
}

/// Sends `sig` to process group `pgid`, refusing pgid ≤ 1 and our own group. Callers
/// establish identity (pid + start time) first; this is the last line of defence.
pub(crate) fn signal_group(pgid: i32, sig: Signal) -> Result<bool, SignalRefused> {
    if pgid <= 1 {
        return Err(SignalRefused::TooLow(pgid));
    }
    if pgid == nix::unistd::getpgrp().as_raw() {
        return Err(SignalRefused::Own(pgid));
    }
    // ESRCH (nobody left) is the normal end of a group, not an error.
    Ok(killpg(Pid::from_raw(pgid), sig).is_ok())
}

/// Whether any process is in group `pgid`: `kill(-pgid, 0)` answers without a scan of
/// `/proc`. EPERM still means the group exists.
pub(crate) fn group_exists(pgid: i32) -> bool {
    pgid > 1
        && !matches!(
            killpg(Pid::from_raw(pgid), None),
            Err(nix::errno::Errno::ESRCH)
        )
}

/// The host name recorded in run-info, so a reader on another host knows pids are not
/// comparable.
pub(crate) fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_identity_checks_out() {
        let pid = std::process::id() as i32;
        let start = proc_start(pid).expect("proc_start of self");
        assert!(is_same_process(pid, start));
        assert!(!is_same_process(pid, start + 1));
        assert!(!is_same_process(0, start));
    }

    #[test]
    fn refuses_low_and_own_groups() {
        assert_eq!(
            signal_group(1, Signal::SIGTERM),
            Err(SignalRefused::TooLow(1))
        );
        assert_eq!(
            signal_group(0, Signal::SIGTERM),
            Err(SignalRefused::TooLow(0))
        );
        let own = nix::unistd::getpgrp().as_raw();
        if own > 1 {
            assert_eq!(
                signal_group(own, Signal::SIGTERM),
                Err(SignalRefused::Own(own))
            );
        }
    }
}
