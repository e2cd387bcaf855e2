//! Serde support for humantime durations (`250ms`, `2s`, `1h30m`) in the config file.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::Deserializer;

/// Deserializes an optional humantime duration; a bare number is taken as seconds.
pub(crate) fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    // Parsing inside the visitor (not after it returns) makes serde_yaml report the full
    // key path, `restart.kill_grace`, with the line.
    struct DurationVisitor;
    impl Visitor<'_> for DurationVisitor {
        type Value = Option<Duration>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration such as 250ms, 2s, 5m or 1h30m")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(Duration::from_secs(v)))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            parse_cli(v).map(Some).map_err(E::custom)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(DurationVisitor)
}

/// Parses a command-line duration, with the same words as the config file.
pub(crate) fn parse_cli(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("invalid duration {s:?}: {e} (write e.g. 250ms, 2s, 5m, 1h30m)"))
}
