//! Telling a rate- or usage-limit failure from any other agent error, and reading how
//! long the agent says to wait.
//!
//! The three CLIs have no common error code for "you are out of quota": Claude says
//! `Claude AI usage limit reached|<epoch>` or `API Error: 429 ... rate_limit_error`, Codex
//! says `You've hit your usage limit ... try again in 4 days 20 hours 9 minutes` or
//! `429 Too Many Requests`, Gemini says `429 RESOURCE_EXHAUSTED ... Please retry in 30s`.
//! So detection is by phrase, and is applied to error messages only, never to the agent's
//! answer text, where the same words may appear innocently.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::stream::RateLimit;

/// Phrases (lowercase) that mark a limit message. `429` is checked separately, as a whole
/// number, so that "line 4291" does not count.
const PHRASES: &[&str] = &[
    "rate limit",
    "rate_limit",
    "ratelimit",
    "usage limit",
    "too many requests",
    "resource_exhausted",
    "resource exhausted",
    "quota",
    "hit your limit",
    "exhausted your capacity",
    "overloaded_error",
];

/// Where a wait time is spelled out; the duration follows the phrase.
const WAIT_PREFIXES: &[&str] = &[
    "try again in ",
    "retry in ",
    "retry after ",
    "retrying in ",
    "reset after ",
    "resets in ",
    "reset in ",
    "retry-after:",
    "retry-after ",
    "retrydelay\":\"",
    "retrydelay\": \"",
];

/// A `RateLimit` when `message` reads like a limit error, with the wait time if it names one.
pub(crate) fn detect(message: &str) -> Option<RateLimit> {
    if !looks_rate_limited(message) {
        return None;
    }
    Some(RateLimit {
        message: message.trim().to_string(),
        retry_after: retry_after(message, SystemTime::now()),
    })
}

/// Whether `message` mentions a rate, usage or quota limit.
pub(crate) fn looks_rate_limited(message: &str) -> bool {
    // "Disk quota exceeded" is a tool failing, not the agent's account.
    let lower = message.to_ascii_lowercase().replace("disk quota", "disk");
    PHRASES.iter().any(|p| lower.contains(p)) || has_status_429(&lower)
}

fn has_status_429(lower: &str) -> bool {
    let bytes = lower.as_bytes();
    lower.match_indices("429").any(|(at, _)| {
        let before = at.checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(at + 3).copied();
        !before.is_some_and(|b| b.is_ascii_digit()) && !after.is_some_and(|b| b.is_ascii_digit())
    })
}

/// How long to wait before the limit lifts, from a reset epoch (`...|1750708800`) or a
/// spelled-out duration (`try again in 2 hours 5 minutes`, `retry in 12.5s`).
pub(crate) fn retry_after(message: &str, now: SystemTime) -> Option<Duration> {
    if let Some(epoch) = pipe_epoch(message) {
        return Some(until_epoch(epoch, now));
    }
    let lower = message.to_ascii_lowercase();
    WAIT_PREFIXES.iter().find_map(|prefix| {
        lower
            .match_indices(prefix)
            .find_map(|(at, _)| parse_duration_phrase(&lower[at + prefix.len()..]))
    })
}

/// Time from `now` until the Unix time `epoch_secs`; zero when it has passed.
pub(crate) fn until_epoch(epoch_secs: u64, now: SystemTime) -> Duration {
    let now = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    Duration::from_secs(epoch_secs).saturating_sub(now)
}

/// Claude's usage-limit text ends in `|<unix seconds>`, the time the limit resets.
fn pipe_epoch(message: &str) -> Option<u64> {
    let (_, tail) = message.rsplit_once('|')?;
    let digits: String = tail
        .trim()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    // Ten digits cover 2001..2286; anything else is not an epoch.
    if digits.len() == 10 {
        digits.parse().ok()
    } else {
        None
    }
}

/// Reads `4 days 20 hours 9 minutes`, `1h5m3s`, `30s`, `12.5 seconds`, `30` (seconds).
fn parse_duration_phrase(text: &str) -> Option<Duration> {
    let mut rest = text.trim_start_matches([' ', ':', '"']);
    let mut total = 0.0_f64;
    let mut parts = 0;
    loop {
        rest = rest.trim_start();
        if parts > 0 {
            rest = rest.trim_start_matches(',').trim_start();
            rest = rest.strip_prefix("and ").unwrap_or(rest).trim_start();
        }
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            break;
        }
        let Ok(value) = rest[..num_len].parse::<f64>() else {
            break;
        };
        rest = rest[num_len..].trim_start();
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "ms" | "millisecond" | "milliseconds" => 0.001,
            "" | "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
            "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3600.0,
            "d" | "day" | "days" => 86400.0,
            _ => break,
        };
        total += value * seconds_per_unit;
        parts += 1;
        rest = &rest[unit_len..];
        if unit_len == 0 {
            // A bare number is seconds, and nothing can follow it.
            break;
        }
    }
    (parts > 0 && (0.0..1e10).contains(&total)).then(|| Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn recognises_each_agents_limit_messages() {
        for msg in [
            "Claude AI usage limit reached|1750708800",
            "API Error: 429 {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\"}}",
            "You've hit your limit · resets 3pm (Europe/Berlin)",
            "You've hit your usage limit. Try again in 4 days 20 hours 9 minutes.",
            "exceeded retry limit, last status: 429 Too Many Requests",
            "[API Error: 429 RESOURCE_EXHAUSTED] Quota exceeded for metric",
            "You have exhausted your capacity on this model.",
        ] {
            assert!(looks_rate_limited(msg), "{msg}");
        }
        for msg in [
            "API Error: 500 internal server error",
            "syntax error at line 4291",
            "file not found",
            "write failed: Disk quota exceeded (os error 122)",
        ] {
            assert!(!looks_rate_limited(msg), "{msg}");
        }
    }

    #[test]
    fn reads_reset_epochs_and_spelled_out_waits() {
        let now = at(1_750_700_000);
        assert_eq!(
            retry_after("Claude AI usage limit reached|1750708800", now),
            Some(Duration::from_secs(8800))
        );
        assert_eq!(
            retry_after(
                "Claude AI usage limit reached|1750708800",
                at(1_800_000_000)
            ),
            Some(Duration::ZERO)
        );
        assert_eq!(
            retry_after("Try again in 4 days 20 hours 9 minutes.", now),
            Some(Duration::from_secs(4 * 86400 + 20 * 3600 + 9 * 60))
        );
        assert_eq!(
            retry_after("quota will reset after 1h5m3s.", now),
            Some(Duration::from_secs(3903))
        );
        assert_eq!(
            retry_after("Please retry in 12.5s.", now),
            Some(Duration::from_millis(12_500))
        );
        assert_eq!(
            retry_after("{\"retryDelay\":\"30s\"}", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after("Retry-After: 120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(retry_after("resets 3pm (Europe/Berlin)", now), None);
        assert_eq!(retry_after("try again in a while", now), None);
        assert_eq!(retry_after("a|b|123", now), None);
    }

    #[test]
    fn detect_keeps_the_message() {
        let limit = detect("  429 Too Many Requests\n").unwrap();
        assert_eq!(limit.message, "429 Too Many Requests");
        assert_eq!(limit.retry_after, None);
        assert!(detect("permission denied").is_none());
    }
}
