//! Project, task and run identifiers: validation and generation.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use super::time::stamp;

/// Longest project or task id accepted.
const MAX_ID_LEN: usize = 128;

/// Why an id was refused; the caller names which id it was.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum IdError {
    #[error("invalid {kind} id {shown}: it is empty (use 1-128 characters of A-Z a-z 0-9 . _ -)")]
    Empty { kind: &'static str, shown: String },
    #[error("invalid {kind} id {shown}: it is {len} characters long (at most 128 are allowed)")]
    TooLong {
        kind: &'static str,
        shown: String,
        len: usize,
    },
    #[error("invalid {kind} id {shown}: it may not start with '{first}' (start with a letter, digit or '_')")]
    BadStart {
        kind: &'static str,
        shown: String,
        first: char,
    },
    #[error(
        "invalid {kind} id {shown}: character {bad:?} is not allowed (use only A-Z a-z 0-9 . _ -)"
    )]
    BadChar {
        kind: &'static str,
        shown: String,
        bad: char,
    },
}

/// Checks a project or task id: 1-128 characters of `[A-Za-z0-9._-]`, not starting with
/// `.` or `-`, so an id can never name a parent directory, a hidden file or an option.
pub(crate) fn validate_id(kind: &'static str, id: &str) -> Result<(), IdError> {
    // Debug-quote the id so NUL, newlines and control characters are visible in the error.
    let shown = if id.chars().count() > 40 {
        format!("{:?}...", id.chars().take(40).collect::<String>())
    } else {
        format!("{id:?}")
    };
    let Some(first) = id.chars().next() else {
        return Err(IdError::Empty { kind, shown });
    };
    if id.len() > MAX_ID_LEN {
        return Err(IdError::TooLong {
            kind,
            shown,
            len: id.chars().count(),
        });
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(IdError::BadChar { kind, shown, bad });
    }
    if first == '.' || first == '-' {
        return Err(IdError::BadStart { kind, shown, first });
    }
    Ok(())
}

/// Per-process counter that makes run ids unique within one process.
static RUN_SEQ: AtomicU64 = AtomicU64::new(1);

/// A new run id, `YYYYMMDD-HHMMSSffff-<pid>-<seq>` in UTC: sorts by start time and never
/// collides, because pid + per-process sequence is unique among live processes.
pub(crate) fn new_run_id(now: SystemTime) -> String {
    let s = stamp(now);
    let seq = RUN_SEQ.fetch_add(1, Ordering::Relaxed);
    format!(
        "{}-{}{}-{}-{}",
        s.date,
        s.time,
        &s.nanos[..4],
        std::process::id(),
        seq
    )
}

/// A default task id, `task-YYYYMMDD-HHMMSS-<slug>`, the slug made of the prompt's first
/// words so a person can tell tasks apart in a listing.
pub(crate) fn new_task_id(now: SystemTime, prompt: &str) -> String {
    let s = stamp(now);
    format!("task-{}-{}-{}", s.date, s.time, slug(prompt))
}

/// Up to five lowercase words of the prompt, joined by `-`, at most 40 characters.
fn slug(prompt: &str) -> String {
    let mut out = String::new();
    let words = prompt
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(5);
    for word in words {
        let word = word.to_ascii_lowercase();
        if out.len() + word.len() + 1 > 40 {
            break;
        }
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(&word);
    }
    if out.is_empty() {
        out.push_str("task");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_ids() {
        for id in ["a", "demo", "task-1.2_x", "A0", &"x".repeat(128)] {
            assert_eq!(validate_id("task", id), Ok(()), "{id}");
        }
    }

    #[test]
    fn refuses_paths_and_oddities() {
        for id in [
            "",
            "..",
            ".x",
            "-x",
            "a/b",
            "../evil",
            "/abs",
            "a\0b",
            "a\nb",
            "é",
            &"x".repeat(129),
        ] {
            assert!(validate_id("task", id).is_err(), "{id:?} was accepted");
        }
    }

    #[test]
    fn error_names_the_kind_and_the_id() {
        let e = validate_id("project", "a/b").unwrap_err().to_string();
        assert!(e.contains("project id \"a/b\""), "{e}");
        assert!(e.contains("'/'"), "{e}");
    }

    #[test]
    fn run_ids_have_the_documented_shape_and_differ() {
        let now = SystemTime::now();
        let a = new_run_id(now);
        let b = new_run_id(now);
        assert_ne!(a, b);
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(parts.len(), 4, "{a}");
        assert_eq!(parts[0].len(), 8);
        assert_eq!(parts[1].len(), 10);
        assert_eq!(parts[2], std::process::id().to_string());
        assert!(parts[3].parse::<u64>().is_ok());
    }

    #[test]
    fn task_ids_are_valid_and_carry_a_slug() {
        let id = new_task_id(SystemTime::now(), "Fix the login page, then docs!");
        assert!(id.ends_with("-fix-the-login-page-then"), "{id}");
        assert_eq!(validate_id("task", &id), Ok(()));
        let id = new_task_id(SystemTime::now(), "!!!");
        assert!(id.ends_with("-task"), "{id}");
    }
}
