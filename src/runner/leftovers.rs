//! Ending what is left in a process group: SIGTERM, grace, SIGKILL, then count.

use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::time::Instant;

use super::unix::{group_members, signal_orphaned_group};

/// How often a draining group is looked at again. Groups have no exit event to wait on.
const POLL: Duration = Duration::from_millis(5);

/// Terminates whatever still lives in the groups of runs whose leaders we started and
/// reaped: SIGTERM, up to `grace` for them to go, then SIGKILL. Returns how many
/// processes were found left over.
pub(crate) async fn end_leftovers(pgids: &[i32], grace: Duration) -> usize {
    let mut found = 0;
    let mut live = Vec::new();
    for &pgid in pgids {
        let n = signal_orphaned_group(pgid, Signal::SIGTERM).unwrap_or(0);
        if n > 0 {
            found += n;
            live.push(pgid);
        }
    }
    if live.is_empty() {
        return 0;
    }
    tracing::info!(
        processes = found,
        "terminating processes left behind by agents"
    );
    let deadline = Instant::now() + grace;
    loop {
        live.retain(|&pgid| !group_members(pgid).is_empty());
        if live.is_empty() {
            return found;
        }
        if Instant::now() >= deadline {
            for &pgid in &live {
                let _ = signal_orphaned_group(pgid, Signal::SIGKILL);
            }
            // SIGKILL cannot be ignored; wait briefly so callers see them gone.
            let until = Instant::now() + Duration::from_secs(2);
            while Instant::now() < until && live.iter().any(|&g| !group_members(g).is_empty()) {
                tokio::time::sleep(POLL).await;
            }
            return found;
        }
        tokio::time::sleep(POLL).await;
    }
}
