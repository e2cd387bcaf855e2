//! Ending what is left in a process group: SIGTERM, grace, SIGKILL, then count.

use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::time::Instant;

use super::process_unix::Snapshot;
use super::unix::signal_group;

/// How often a draining group is looked at again. Groups have no exit event to wait on.
const POLL: Duration = Duration::from_millis(5);

/// The groups among `pgids` that still have members but no leader: the leftovers of
/// runs whose leaders have exited. Linux does not hand out a pid still in use as a
/// group id, so while any member lives the id is still the run's; if a process with pid
/// == pgid exists again, the id was reused after the group emptied and is left alone.
fn orphaned(pgids: &[i32], snap: &Snapshot) -> Vec<(i32, usize)> {
    pgids
        .iter()
        .filter(|&&g| g > 1 && snap.get(g).is_none())
        .map(|&g| (g, snap.group_size(g)))
        .filter(|&(_, n)| n > 0)
        .collect()
}

/// Terminates whatever still lives in the groups of runs whose leaders have exited:
/// SIGTERM, up to `grace` for them to go, then SIGKILL. Returns how many processes were
/// found left over. One scan of `/proc` per look, however many groups.
pub(crate) async fn end_leftovers(pgids: &[i32], grace: Duration) -> usize {
    let mut pgids = pgids.to_vec();
    pgids.sort_unstable();
    pgids.dedup();
    let first = orphaned(&pgids, &Snapshot::take());
    if first.is_empty() {
        return 0;
    }
    let found = first.iter().map(|&(_, n)| n).sum();
    tracing::info!(
        processes = found,
        "terminating processes left behind by agents"
    );
    let mut live: Vec<i32> = Vec::new();
    for (pgid, _) in first {
        if signal_group(pgid, Signal::SIGTERM).is_ok() {
            live.push(pgid);
        }
    }
    let deadline = Instant::now() + grace;
    let mut killed = false;
    let until = deadline + Duration::from_secs(2);
    loop {
        let snap = Snapshot::take();
        live.retain(|&g| snap.get(g).is_none() && snap.group_size(g) > 0);
        if live.is_empty() || Instant::now() >= until {
            return found;
        }
        if !killed && Instant::now() >= deadline {
            // SIGKILL cannot be ignored; keep looking briefly so callers see them gone.
            for &pgid in &live {
                let _ = signal_group(pgid, Signal::SIGKILL);
            }
            killed = true;
        }
        tokio::time::sleep(POLL).await;
    }
}
