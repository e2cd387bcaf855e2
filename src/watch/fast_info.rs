//! A fast reader for the common shape of `run-info.yaml`: flat `key: value` lines as
//! run-agent (and conductor-loop) write them. Listing a large root spends most of its
//! time parsing these records, and a general YAML parser is several times slower than
//! reading the files. Anything outside the simple shape (block scalars, escapes, flow
//! collections, comments after values) returns `None` and the caller falls back to
//! [`RunInfo::parse`], so the result is always what the full parser would give.

use crate::agents::usage::Usage;
use crate::storage::run_info::{RunInfo, RunStatus, RUN_INFO_VERSION};

/// Parses `bytes` when they have the simple shape; `None` means "use the full parser".
pub(crate) fn parse_fast(bytes: &[u8]) -> Option<RunInfo> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut info = RunInfo {
        version: 0,
        run_id: String::new(),
        project_id: String::new(),
        task_id: String::new(),
        parent_run_id: String::new(),
        previous_run_id: String::new(),
        attempt: 0,
        depth: 0,
        agent: String::new(),
        agent_version: String::new(),
        commandline: String::new(),
        pid: 0,
        pgid: 0,
        proc_start: 0,
        host: String::new(),
        start_time: String::new(),
        end_time: String::new(),
        exit_code: -1,
        status: RunStatus::Running,
        error_summary: String::new(),
        cwd: String::new(),
        prompt_path: String::new(),
        output_path: String::new(),
        stdout_path: String::new(),
        stderr_path: String::new(),
        usage: None,
    };
    // Required keys (no serde default): all must be seen.
    let (mut version, mut run_id, mut project, mut task, mut status) =
        (false, false, false, false, false);
    let mut in_usage = false;
    let mut in_unknown_block = false;
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') || (n == 0 && line == "---") {
            continue;
        }
        let indented = line.starts_with(' ');
        if indented {
            if in_unknown_block {
                continue;
            }
            if !in_usage {
                return None;
            }
            let (key, value) = split_key(line.trim_start())?;
            let usage = info.usage.get_or_insert_with(Usage::default);
            match key {
                "input_tokens" => usage.input_tokens = value.parse().ok()?,
                "output_tokens" => usage.output_tokens = value.parse().ok()?,
                "cache_read_tokens" => usage.cache_read_tokens = value.parse().ok()?,
                "cache_write_tokens" => usage.cache_write_tokens = value.parse().ok()?,
                "cost_usd" => usage.cost_usd = Some(value.parse().ok()?),
                _ => {}
            }
            continue;
        }
        in_usage = false;
        in_unknown_block = false;
        let (key, raw) = split_key(line)?;
        match key {
            "version" => {
                info.version = raw.parse().ok()?;
                version = true;
            }
            "attempt" => info.attempt = raw.parse().ok()?,
            "depth" => info.depth = raw.parse().ok()?,
            "pid" => info.pid = raw.parse().ok()?,
            "pgid" => info.pgid = raw.parse().ok()?,
            "proc_start" => info.proc_start = raw.parse().ok()?,
            "exit_code" => info.exit_code = raw.parse().ok()?,
            "status" => {
                info.status = match raw {
                    "running" => RunStatus::Running,
                    "completed" => RunStatus::Completed,
                    "failed" => RunStatus::Failed,
                    "stopped" => RunStatus::Stopped,
                    _ => return None,
                };
                status = true;
            }
            "usage" => {
                if !raw.is_empty() {
                    return None;
                }
                info.usage = Some(Usage::default());
                in_usage = true;
            }
            _ => {
                let slot = match key {
                    "run_id" => {
                        run_id = true;
                        &mut info.run_id
                    }
                    "project_id" => {
                        project = true;
                        &mut info.project_id
                    }
                    "task_id" => {
                        task = true;
                        &mut info.task_id
                    }
                    "parent_run_id" => &mut info.parent_run_id,
                    "previous_run_id" => &mut info.previous_run_id,
                    "agent" => &mut info.agent,
                    "agent_version" => &mut info.agent_version,
                    "commandline" => &mut info.commandline,
                    "host" => &mut info.host,
                    "start_time" => &mut info.start_time,
                    "end_time" => &mut info.end_time,
                    "error_summary" => &mut info.error_summary,
                    "cwd" => &mut info.cwd,
                    "prompt_path" => &mut info.prompt_path,
                    "output_path" => &mut info.output_path,
                    "stdout_path" => &mut info.stdout_path,
                    "stderr_path" => &mut info.stderr_path,
                    _ => {
                        // An unknown key: ignored, with any nested block under it.
                        in_unknown_block = raw.is_empty();
                        if !raw.is_empty() {
                            scalar(raw)?;
                        }
                        continue;
                    }
                };
                *slot = scalar(raw)?;
            }
        }
    }
    (version && run_id && project && task && status && info.version == RUN_INFO_VERSION)
        .then_some(info)
}

/// Splits `key: value` (or `key:`), refusing anything that is not a plain lowercase key.
fn split_key(line: &str) -> Option<(&str, &str)> {
    let colon = line.find(':')?;
    let key = &line[..colon];
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        return None;
    }
    let rest = &line[colon + 1..];
    if rest.is_empty() {
        return Some((key, ""));
    }
    let value = rest.strip_prefix(' ')?;
    Some((key, value.trim_end()))
}

/// A string scalar: plain, or quoted without escapes. `None` for anything a YAML parser
/// might read differently.
fn scalar(raw: &str) -> Option<String> {
    if raw.is_empty() {
        return Some(String::new());
    }
    if let Some(inner) = raw.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        if raw.len() < 2 {
            return None;
        }
        // '' is the only escape in single quotes; a lone quote means the scalar did not
        // end where we think.
        let unescaped = inner.replace("''", "'");
        if unescaped.matches('\'').count() * 2 != inner.matches('\'').count() {
            return None;
        }
        return Some(unescaped);
    }
    if let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        if raw.len() < 2 || inner.contains(['\\', '"']) {
            return None;
        }
        return Some(inner.to_owned());
    }
    let first = raw.as_bytes()[0];
    let indicator = matches!(
        first,
        b'[' | b'{' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\'' | b'"' | b'%' | b'@' | b'`' | b'#'
    );
    let special = matches!(raw, "~" | "null" | "Null" | "NULL" | "-" | "?");
    if indicator || special || raw.starts_with("- ") || raw.contains(" #") || raw.contains(": ") {
        return None;
    }
    Some(raw.to_owned())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    pub(crate) use crate::storage::run_info::tests::sample;
    use std::path::Path;

    /// The fast reader must agree with the full parser whenever it answers.
    fn agrees(info: &RunInfo) {
        let text = serde_yaml::to_string(info).unwrap();
        let full = RunInfo::parse(Path::new("x"), text.as_bytes()).unwrap();
        if let Some(fast) = parse_fast(text.as_bytes()) {
            assert_eq!(fast, full, "{text}");
        }
    }

    #[test]
    fn reads_what_run_agent_writes() {
        let mut info = sample();
        let text = serde_yaml::to_string(&info).unwrap();
        assert_eq!(parse_fast(text.as_bytes()), Some(info.clone()));
        info.status = RunStatus::Failed;
        info.end_time = "2026-11-21T10:16:00.000000Z".into();
        info.exit_code = 3;
        info.error_summary = "agent exited with code 3".into();
        info.commandline = "claude -p --output-format 'x y'".into();
        info.usage = Some(Usage {
            input_tokens: 10,
            output_tokens: 20,
            cache_read_tokens: 1,
            cache_write_tokens: 2,
            cost_usd: Some(0.25),
        });
        let text = serde_yaml::to_string(&info).unwrap();
        assert_eq!(parse_fast(text.as_bytes()), Some(info));
    }

    #[test]
    fn agrees_with_the_full_parser_on_odd_strings() {
        for s in [
            "a: b",
            "'quoted'",
            "\"dq\"",
            "x #y",
            "line\nbreak",
            "tab\there",
            "123",
            "true",
            "~",
            "null",
            "- dash",
            "[x]",
            "{a}",
            "é ü",
            "",
            " lead",
            "trail ",
            "it's",
        ] {
            let mut info = sample();
            info.error_summary = s.into();
            info.commandline = s.into();
            agrees(&info);
        }
    }

    #[test]
    fn gives_up_on_what_it_cannot_read_exactly() {
        assert_eq!(parse_fast(b"garbage"), None);
        assert_eq!(parse_fast(b"version: 1\nrun_id: [x\n"), None);
        assert_eq!(
            parse_fast(b"version: 2\nrun_id: a\nproject_id: p\ntask_id: t\nstatus: running\n"),
            None
        );
        let ok = b"version: 1\nrun_id: a\nproject_id: p\ntask_id: t\nstatus: running\nfuture:\n  nested: 1\nother: x\n";
        assert_eq!(parse_fast(ok).unwrap().run_id, "a");
    }
}
