//! Finding the runs started by given runs, across tasks. For now a scan of every run
//! record in the root, keyed by `parent_run_id`; this is the one function to switch to
//! the per-run children index when it lands.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::scan::{scan, Problem, RunRecord, Scope};

/// Every descendant of the runs in `roots` (children, their children, ...), grouped by
/// parent run id, each group oldest first. Runs already in `roots` are not repeated.
pub(crate) fn find_children(
    root: &Path,
    roots: &[&str],
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, Vec<RunRecord>> {
    let all = scan(root, &Scope::default());
    problems.extend(all.problems);
    let mut by_parent: BTreeMap<String, Vec<RunRecord>> = BTreeMap::new();
    for task in all.tasks {
        for run in task.runs {
            if !run.info.parent_run_id.is_empty() {
                by_parent
                    .entry(run.info.parent_run_id.clone())
                    .or_default()
                    .push(run);
            }
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
