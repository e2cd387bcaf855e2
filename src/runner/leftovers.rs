//! Ending what is left in a process group: SIGTERM, grace, SIGKILL, then count.

use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::time::Instant;

use super::unix::{count_members, signal_orphaned_groups};

/// How often a draining group is looked at again. Groups have no exit event to wait on.
const POLL: Duration = Duration::from_millis(5);

/// Terminates whatever still lives in the groups of runs whose leaders we started and
/// reaped: SIGTERM, up to `grace` for them to go, then SIGKILL. Returns how many
/// processes were found left over.
pub(crate) async fn end_leftovers(pgids: &[i32], grace: Duration) -> usize {
    let counts = signal_orphaned_groups(pgids, Signal::SIGTERM);
    let found: usize = counts.iter().sum();
    let mut live: Vec<i32> = pgids
        .iter()
        .zip(&counts)
        .filter(|(_, &n)| n > 0)
        .map(|(&g, _)| g)
        .collect();
    if live.is_empty() {
        return 0;
    }
    tracing::info!(
        processes = found,
        "terminating processes left behind by agents"
    );
    let deadline = Instant::now() + grace;
    loop {
        let counts = count_members(&live);
        live = live
            .iter()
            .zip(&counts)
            .filter(|(_, &n)| n > 0)
            .map(|(&g, _)| g)
            .collect();
        if live.is_empty() {
            return found;
        }
        if Instant::now() >= deadline {
            signal_orphaned_groups(&live, Signal::SIGKILL);
            // SIGKILL cannot be ignored; wait briefly so callers see them gone.
            let until = Instant::now() + Duration::from_secs(2);
            while Instant::now() < until && count_members(&live).iter().any(|&n| n > 0) {
                tokio::time::sleep(POLL).await;
            }
            return found;
        }
        tokio::time::sleep(POLL).await;
    }
}
