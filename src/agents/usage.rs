//! Token and cost accounting for one agent run: the `usage` block of run-info.yaml.

use serde::{Deserialize, Serialize};

/// Tokens and cost one run consumed, in one shape for every agent.
///
/// `input_tokens` counts only input that was *not* served from a cache, so the four token
/// counts are disjoint: they can be summed (`total_tokens`) and priced one by one without
/// counting a token twice. Claude already reports input this way; Codex and Gemini report
/// cached tokens as a part of their input count, and their parsers subtract it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Usage {
    #[serde(default)]
    pub(crate) input_tokens: u64,
    #[serde(default)]
    pub(crate) output_tokens: u64,
    #[serde(default)]
    pub(crate) cache_read_tokens: u64,
    #[serde(default)]
    pub(crate) cache_write_tokens: u64,
    /// What the agent said the run cost, or what `price` worked out; absent when neither
    /// is known, so a reader can tell "free" from "unknown".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cost_usd: Option<f64>,
}

/// Prices of one model in USD per million tokens, from the `prices:` config section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Price {
    #[serde(default)]
    pub(crate) input: Option<f64>,
    #[serde(default)]
    pub(crate) output: Option<f64>,
    #[serde(default)]
    pub(crate) cache_read: Option<f64>,
    #[serde(default)]
    pub(crate) cache_write: Option<f64>,
}

/// A cost as people read it: `$1.25`, and four places below a dollar so a few cheap
/// runs do not show as `$0.00`.
pub(crate) fn usd(cost: f64) -> String {
    if cost.abs() < 1.0 {
        format!("${cost:.4}")
    } else {
        format!("${cost:.2}")
    }
}

const PER_MILLION: f64 = 1_000_000.0;

impl Usage {
    /// Adds another run's usage; sums saturate so a corrupt file cannot wrap a budget
    /// around to zero. A cost is known in the sum if it is known in either part.
    pub(crate) fn add(&mut self, other: &Usage) {
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.cache_read_tokens = self
            .cache_read_tokens
            .saturating_add(other.cache_read_tokens);
        self.cache_write_tokens = self
            .cache_write_tokens
            .saturating_add(other.cache_write_tokens);
        self.cost_usd = match (self.cost_usd, other.cost_usd) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
        };
    }

    /// All tokens of the run, for `--max-tokens`.
    pub(crate) fn total_tokens(&self) -> u64 {
        self.input_tokens
            .saturating_add(self.output_tokens)
            .saturating_add(self.cache_read_tokens)
            .saturating_add(self.cache_write_tokens)
    }

    /// Fills in `cost_usd` from a price list when the agent reported tokens but no cost.
    ///
    /// A cost the agent reported is never replaced: it knows its own discounts. Cache
    /// prices that are not configured fall back to the input price, so a budget is
    /// over- rather than under-estimated. With neither an input nor an output price there
    /// is nothing to go on and the cost stays unknown.
    pub(crate) fn price(&mut self, prices: &Price) {
        if self.cost_usd.is_some() || (prices.input.is_none() && prices.output.is_none()) {
            return;
        }
        let input = prices.input.unwrap_or(0.0);
        let cost = tokens(self.input_tokens) * input
            + tokens(self.output_tokens) * prices.output.unwrap_or(0.0)
            + tokens(self.cache_read_tokens) * prices.cache_read.unwrap_or(input)
            + tokens(self.cache_write_tokens) * prices.cache_write.unwrap_or(input);
        self.cost_usd = Some(cost / PER_MILLION);
    }
}

// Token counts stay far below 2^53 in practice, so the conversion is exact.
#[allow(clippy::cast_precision_loss)]
fn tokens(n: u64) -> f64 {
    n as f64
}

#[cfg(test)]
mod tests {

    #[test]
    fn small_costs_keep_four_places() {
        assert_eq!(super::usd(0.0042), "$0.0042");
        assert_eq!(super::usd(1.256), "$1.26");
        assert_eq!(super::usd(12.0), "$12.00");
    }

    use super::*;

    fn usage(input: u64, output: u64, read: u64, write: u64) -> Usage {
        Usage {
            input_tokens: input,
            output_tokens: output,
            cache_read_tokens: read,
            cache_write_tokens: write,
            cost_usd: None,
        }
    }

    #[test]
    fn add_sums_tokens_and_known_costs() {
        let mut a = usage(1, 2, 3, 4);
        a.add(&usage(10, 20, 30, 40));
        assert_eq!(a, usage(11, 22, 33, 44));
        assert_eq!(a.total_tokens(), 110);

        let mut with_cost = Usage {
            cost_usd: Some(0.5),
            ..usage(1, 1, 0, 0)
        };
        with_cost.add(&usage(1, 1, 0, 0));
        assert_eq!(with_cost.cost_usd, Some(0.5));
        with_cost.add(&Usage {
            cost_usd: Some(0.25),
            ..Usage::default()
        });
        assert_eq!(with_cost.cost_usd, Some(0.75));
    }

    #[test]
    fn add_saturates() {
        let mut a = usage(u64::MAX, 0, 0, 0);
        a.add(&usage(5, 0, 0, 0));
        assert_eq!(a.input_tokens, u64::MAX);
        assert_eq!(a.total_tokens(), u64::MAX);
    }

    #[test]
    fn price_uses_per_million_rates_and_falls_back_to_input_for_cache() {
        let mut u = usage(1_000_000, 2_000_000, 4_000_000, 1_000_000);
        u.price(&Price {
            input: Some(1.25),
            output: Some(10.0),
            cache_read: Some(0.125),
            cache_write: None,
        });
        // 1.25 + 20 + 0.5 + 1.25 (cache write priced as input)
        let cost = u.cost_usd.unwrap();
        assert!((cost - 23.0).abs() < 1e-9, "{cost}");
    }

    #[test]
    fn price_keeps_a_reported_cost_and_needs_a_price() {
        let mut reported = Usage {
            cost_usd: Some(0.01),
            ..usage(1_000_000, 0, 0, 0)
        };
        reported.price(&Price {
            input: Some(3.0),
            ..Price::default()
        });
        assert_eq!(reported.cost_usd, Some(0.01));

        let mut unpriced = usage(1_000_000, 0, 0, 0);
        unpriced.price(&Price::default());
        assert_eq!(unpriced.cost_usd, None);
    }

    #[test]
    fn serde_skips_unknown_cost_and_reads_old_files() {
        let yaml = serde_yaml::to_string(&usage(1, 2, 3, 4)).unwrap();
        assert!(!yaml.contains("cost_usd"), "{yaml}");
        let back: Usage = serde_yaml::from_str("input_tokens: 7\nfuture_key: 1\n").unwrap();
        assert_eq!(back, usage(7, 0, 0, 0));
        let json = serde_json::to_string(&Usage {
            cost_usd: Some(1.5),
            ..Usage::default()
        })
        .unwrap();
        assert!(json.contains("\"cost_usd\":1.5"), "{json}");
    }
}
