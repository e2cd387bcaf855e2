//! Finding the runs started by given runs, across tasks, through the per-run children
//! index (`runner/descendants.rs`): the cost follows the descendants, not the root.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::scan::{read_run, Problem, RunRecord};
use crate::runner::descendants::collect;

/// Every descendant of the runs in `roots` (children, their children, ...), grouped by
/// parent run id, each group oldest first. Runs already in `roots` are not repeated.
pub(crate) fn find_children(
    root_dirs: &[PathBuf],
    roots: &[&str],
    host: &str,
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, Vec<RunRecord>> {
    let mut by_parent: BTreeMap<String, Vec<RunRecord>> = BTreeMap::new();
    for node in collect(root_dirs).runs.into_iter().filter(|n| !n.is_root) {
        match read_run(&node.dir, host) {
            Ok(run) if !run.info.parent_run_id.is_empty() => by_parent
                .entry(run.info.parent_run_id.clone())
                .or_default()
                .push(run),
            Ok(_) => {}
            Err(p) => problems.push(p),
        }
    }
    // Walk down from the roots; the seen set guards against a cycle in hand-edited
    // records.
    let mut seen: BTreeSet<String> = roots.iter().map(|s| (*s).to_owned()).collect();
    let mut queue: Vec<String> = seen.iter().cloned().collect();
    let mut out: BTreeMap<String, Vec<RunRecord>> = BTreeMap::new();
    while let Some(parent) = queue.pop() {
        let Some(kids) = by_parent.remove(&parent) else {
            continue;
        };
        let mut kept = Vec::new();
        for kid in kids {
            if seen.insert(kid.info.run_id.clone()) {
                queue.push(kid.info.run_id.clone());
                kept.push(kid);
            }
        }
        if !kept.is_empty() {
            kept.sort_by(|a, b| a.info.run_id.cmp(&b.info.run_id));
            out.insert(parent, kept);
        }
    }
    out
}
