//! The run tree of one task for `status`: its restart chain at the top, and under each
//! run the runs it started (child jobs and child tasks, in any task folder).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::health::PROCESS_GONE;
use super::scan::{RunRecord, TaskEntry};
use crate::storage::run_info::{RunInfo, RunStatus};
use crate::storage::time::parse_rfc3339;

/// One run and the runs it started.
#[derive(Debug, Clone)]
pub(crate) struct RunNode {
    pub(crate) run: RunRecord,
    pub(crate) children: Vec<RunNode>,
}

/// How long a run took (or has taken so far, while live); `None` without a start time.
pub(crate) fn duration(run: &RunRecord, now: SystemTime) -> Option<Duration> {
    let start = parse_rfc3339(&run.info.start_time)?;
    let end = if run.info.end_time.is_empty() {
        now
    } else {
        parse_rfc3339(&run.info.end_time)?
    };
    end.duration_since(start).ok()
}

/// Builds the tree of `task`: top-level runs are those whose parent is not a run of the
/// task (the restart chain); `found` holds the descendants from other places, keyed by
/// parent run id (see [`super::children::find_children`]).
pub(crate) fn build(task: &TaskEntry, found: &BTreeMap<String, Vec<RunRecord>>) -> Vec<RunNode> {
    let own: BTreeSet<&str> = task.runs.iter().map(|r| r.info.run_id.as_str()).collect();
    let mut by_parent: BTreeMap<&str, Vec<&RunRecord>> = BTreeMap::new();
    for r in &task.runs {
        by_parent.entry(&r.info.parent_run_id).or_default().push(r);
    }
    for (parent, kids) in found {
        for k in kids {
            if !own.contains(k.info.run_id.as_str()) {
                by_parent.entry(parent).or_default().push(k);
            }
        }
    }
    for kids in by_parent.values_mut() {
        kids.sort_by(|a, b| a.info.run_id.cmp(&b.info.run_id));
    }
    let mut seen = BTreeSet::new();
    task.runs
        .iter()
        .filter(|r| !own.contains(r.info.parent_run_id.as_str()))
        .filter_map(|r| node(r, &by_parent, &mut seen))
        .collect()
}

fn node<'a>(
    run: &'a RunRecord,
    by_parent: &BTreeMap<&str, Vec<&'a RunRecord>>,
    seen: &mut BTreeSet<&'a str>,
) -> Option<RunNode> {
    // A cycle in hand-edited records must not loop forever.
    if !seen.insert(&run.info.run_id) {
        return None;
    }
    let children = by_parent
        .get(run.info.run_id.as_str())
        .map(|kids| {
            kids.iter()
                .filter_map(|k| node(k, by_parent, seen))
                .collect()
        })
        .unwrap_or_default();
    Some(RunNode {
        run: run.clone(),
        children,
    })
}

/// A run in `status --json`: the run-info keys (status as a view sees it), plus
/// `duration_ms`, `run_folder` and `children`.
#[derive(Debug, Serialize)]
pub(crate) struct RunJson {
    #[serde(flatten)]
    pub(crate) info: RunInfo,
    pub(crate) duration_ms: Option<u128>,
    pub(crate) run_folder: String,
    pub(crate) children: Vec<RunJson>,
}

impl RunJson {
    pub(crate) fn from_node(node: &RunNode, now: SystemTime) -> Self {
        let mut info = node.run.info.clone();
        if node.run.effective.process_gone {
            info.status = RunStatus::Failed;
            info.error_summary = PROCESS_GONE.to_owned();
        }
        Self {
            info,
            duration_ms: duration(&node.run, now).map(|d| d.as_millis()),
            run_folder: node.run.dir.display().to_string(),
            children: node
                .children
                .iter()
                .map(|c| Self::from_node(c, now))
                .collect(),
        }
    }
}

/// Live runs anywhere in the tree.
pub(crate) fn live_count(nodes: &[RunNode]) -> usize {
    nodes
        .iter()
        .map(|n| usize::from(n.run.is_live()) + live_count(&n.children))
        .sum()
}

/// Total cost of the runs in the tree that report one.
pub(crate) fn cost(nodes: &[RunNode]) -> Option<f64> {
    let mut total = None;
    for n in nodes {
        if let Some(c) = n.run.info.usage.as_ref().and_then(|u| u.cost_usd) {
            *total.get_or_insert(0.0) += c;
        }
        if let Some(c) = cost(&n.children) {
            *total.get_or_insert(0.0) += c;
        }
    }
    total
}
