//! Wall-clock formatting: RFC 3339 UTC for records, compact stamps for ids.

use std::time::SystemTime;

/// RFC 3339 UTC with microseconds, the form every record uses.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_micros(t).to_string()
}

/// RFC 3339 UTC with nanoseconds, for bus timestamps where order within a second matters.
pub(crate) fn rfc3339_nanos(t: SystemTime) -> String {
    humantime::format_rfc3339_nanos(t).to_string()
}

/// Parses an RFC 3339 UTC timestamp as written by [`rfc3339`]; `None` for anything else.
pub(crate) fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(s.trim()).ok()
}

/// The pieces ids are built from: `YYYYMMDD`, `HHMMSS` and the nine fraction digits.
pub(crate) struct Stamp {
    pub(crate) date: String,
    pub(crate) time: String,
    pub(crate) nanos: String,
}

pub(crate) fn stamp(t: SystemTime) -> Stamp {
    // humantime always writes `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` at nanosecond precision,
    // so slicing it avoids pulling in a calendar crate for three numbers.
    let s = humantime::format_rfc3339_nanos(t).to_string();
    let b = s.as_bytes();
    let pick = |ranges: &[(usize, usize)]| -> String {
        ranges
            .iter()
            .map(|&(a, z)| std::str::from_utf8(&b[a..z]).unwrap_or("0"))
            .collect()
    };
    Stamp {
        date: pick(&[(0, 4), (5, 7), (8, 10)]),
        time: pick(&[(11, 13), (14, 16), (17, 19)]),
        nanos: pick(&[(20, 29)]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn stamp_splits_a_known_instant() {
        // 2026-11-21T10:15:00.123456789Z
        let t = SystemTime::UNIX_EPOCH + Duration::new(1_795_256_100, 123_456_789);
        let s = stamp(t);
        assert_eq!(s.date, "20261121");
        assert_eq!(s.time, "101500");
        assert_eq!(s.nanos, "123456789");
        assert_eq!(rfc3339(t), "2026-11-21T10:15:00.123456Z");
        assert_eq!(parse_rfc3339(&rfc3339_nanos(t)), Some(t));
    }
}
