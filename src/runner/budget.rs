//! Spending limits of a task: totals from the run records, the 80 % warning, the stop.

use crate::agents::usage::Usage;
use crate::storage::layout::TaskPaths;
use crate::storage::run_info::RunInfo;

/// Share of a budget at which the task bus gets one `WARN`.
pub(crate) const WARN_AT: f64 = 0.8;

/// `--max-cost-usd` / `--max-tokens` (or the config's `budget`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Budget {
    pub(crate) max_cost_usd: Option<f64>,
    pub(crate) max_tokens: Option<u64>,
}

impl Budget {
    pub(crate) fn is_set(&self) -> bool {
        self.max_cost_usd.is_some() || self.max_tokens.is_some()
    }

    /// The largest share of any limit that `spent` uses (0.0 when no limit is set).
    pub(crate) fn fraction(&self, spent: &Usage) -> f64 {
        let cost = self
            .max_cost_usd
            .filter(|m| *m > 0.0)
            .map_or(0.0, |m| spent.cost_usd.unwrap_or(0.0) / m);
        let tokens = self
            .max_tokens
            .filter(|m| *m > 0)
            .map_or(0.0, |m| spent.total_tokens() as f64 / m as f64);
        cost.max(tokens)
    }

    /// One line naming what was spent against which limit.
    pub(crate) fn describe(&self, spent: &Usage) -> String {
        let mut parts = Vec::new();
        if let Some(m) = self.max_cost_usd {
            parts.push(format!(
                "{:.2} of {m:.2} USD",
                spent.cost_usd.unwrap_or(0.0)
            ));
        }
        if let Some(m) = self.max_tokens {
            parts.push(format!("{} of {m} tokens", spent.total_tokens()));
        }
        parts.join(", ")
    }
}

/// The usage of every run recorded in the task folder, so totals survive restarts of
/// `run-agent task` on the same task.
pub(crate) fn task_usage(task: &TaskPaths) -> Usage {
    let mut total = Usage::default();
    let Ok(entries) = std::fs::read_dir(&task.runs) else {
        return total;
    };
    for entry in entries.flatten() {
        if let Ok(info) = RunInfo::load(&entry.path().join("run-info.yaml")) {
            if let Some(u) = &info.usage {
                total.add(u);
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fraction_takes_the_tighter_limit() {
        let b = Budget {
            max_cost_usd: Some(1.0),
            max_tokens: Some(1000),
        };
        let spent = Usage {
            input_tokens: 900,
            cost_usd: Some(0.5),
            ..Usage::default()
        };
        assert!((b.fraction(&spent) - 0.9).abs() < 1e-9);
        assert_eq!(Budget::default().fraction(&spent), 0.0);
        assert!(b.describe(&spent).contains("0.50 of 1.00 USD"));
    }
}
