//! How a run looks to a read-only view: a `running` record whose process is gone is
//! shown as failed, without rewriting the file (healing the record is the supervisor's
//! job). This is the one place that decision is made, so it can be swapped for the
//! shared healing rules at merge.

use crate::runner::unix::{hostname, is_same_process};
use crate::storage::run_info::{RunInfo, RunStatus};

/// What a view shows for a run's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Effective {
    pub(crate) status: RunStatus,
    /// True when the record says running but its process is gone.
    pub(crate) process_gone: bool,
}

/// The message shown for a run recorded as running whose process is gone.
pub(crate) const PROCESS_GONE: &str = "process gone (recorded as running)";

/// The status a view shows for `info`. Runs on another host cannot be checked by pid, so
/// their record is trusted.
pub(crate) fn effective_status(info: &RunInfo, this_host: &str) -> Effective {
    if info.status != RunStatus::Running {
        return Effective {
            status: info.status,
            process_gone: false,
        };
    }
    let other_host = !info.host.is_empty() && !this_host.is_empty() && info.host != this_host;
    if other_host || is_same_process(info.pid, info.proc_start) {
        Effective {
            status: RunStatus::Running,
            process_gone: false,
        }
    } else {
        Effective {
            status: RunStatus::Failed,
            process_gone: true,
        }
    }
}

/// This machine's host name, looked up once per view.
pub(crate) fn this_host() -> String {
    hostname()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watch::fast_info::tests::sample;

    #[test]
    fn a_dead_running_record_shows_as_failed_and_a_live_one_as_running() {
        let host = this_host();
        let mut info = sample();
        info.host = host.clone();
        info.pid = i32::MAX - 1;
        info.proc_start = 1;
        let e = effective_status(&info, &host);
        assert_eq!(e.status, RunStatus::Failed);
        assert!(e.process_gone);

        let me = std::process::id() as i32;
        info.pid = me;
        info.proc_start = crate::runner::unix::proc_start(me).unwrap();
        let e = effective_status(&info, &host);
        assert_eq!(e.status, RunStatus::Running);

        info.status = RunStatus::Completed;
        assert_eq!(effective_status(&info, &host).status, RunStatus::Completed);
        info.status = RunStatus::Running;
        info.pid = i32::MAX - 1;
        info.host = "elsewhere".into();
        assert_eq!(effective_status(&info, &host).status, RunStatus::Running);
    }
}
