//! After a run ends: what the agent printed becomes `output.md`, usage, an error summary
//! and a rate-limit finding.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::ratelimit;
use super::resolve::AgentSpec;
use super::stream::{summarize_file, OutputFormat, RateLimit};
use super::usage::{Price, Usage};
use crate::config::file::PriceConfig;
use crate::storage::layout::RunPaths;

/// How much of the end of stderr is searched for a rate-limit message (Gemini reports
/// API errors there, not in its stream).
const STDERR_TAIL: u64 = 64 * 1024;

/// What the run's output says.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    pub(crate) usage: Option<Usage>,
    pub(crate) error: Option<String>,
    pub(crate) rate_limit: Option<RateLimit>,
}

/// Reads the run's stdout (and the end of its stderr) and makes sure `output.md` exists:
/// the agent's own if it wrote one, else the final text of its JSON stream, else a copy
/// of stdout.
pub(crate) fn collect(
    agent: &AgentSpec,
    run: &RunPaths,
    exit_code: i32,
    prices: &BTreeMap<String, PriceConfig>,
) -> Findings {
    let summary = match agent.output {
        OutputFormat::Text => None,
        format => match summarize_file(format, &run.stdout) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(path = %run.stdout.display(), error = %e, "cannot read the agent's output stream");
                None
            }
        },
    };
    let final_text = summary
        .as_ref()
        .and_then(|s| s.final_text.as_deref())
        .filter(|t| !t.trim().is_empty());
    ensure_output(run, final_text);

    let mut findings = Findings::default();
    if let Some(s) = summary {
        findings.error = s.error;
        findings.rate_limit = s.rate_limited;
        findings.usage = s.usage.map(|mut u| {
            if u.cost_usd.is_none() {
                let candidates = [
                    s.model.as_deref(),
                    agent.model.as_deref(),
                    Some(agent.name.as_str()),
                ];
                if let Some(p) = candidates.into_iter().flatten().find_map(|m| prices.get(m)) {
                    u.price(&to_price(p));
                }
            }
            u
        });
    }
    if findings.rate_limit.is_none() && exit_code != 0 {
        findings.rate_limit =
            stderr_tail(&run.stderr).and_then(|t| t.lines().rev().find_map(ratelimit::detect));
    }
    findings
}

fn to_price(p: &PriceConfig) -> Price {
    Price {
        input: p.input,
        output: p.output,
        cache_read: p.cache_read,
        cache_write: p.cache_write,
    }
}

/// `output.md` always exists after a run.
pub(crate) fn ensure_output(run: &RunPaths, final_text: Option<&str>) {
    if run.output.exists() {
        return;
    }
    let result = match final_text {
        Some(text) => {
            let mut text = text.to_owned();
            if !text.ends_with('\n') {
                text.push('\n');
            }
            fs::write(&run.output, text)
        }
        None => fs::copy(&run.stdout, &run.output).map(|_| ()),
    };
    if let Err(e) = result {
        tracing::warn!(path = %run.output.display(), error = %e, "cannot write output.md");
        let _ = File::create(&run.output);
    }
}

fn stderr_tail(path: &Path) -> Option<String> {
    let mut f = File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(STDERR_TAIL)))
        .ok()?;
    let mut buf = Vec::new();
    f.take(STDERR_TAIL).read_to_end(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// The program an agent runs, as a path, for `--version`: bare names are looked up on
/// `PATH` the way the spawn will.
pub(crate) fn program_path(program: &str, path_var: &std::ffi::OsStr) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(PathBuf::from(program));
    }
    std::env::split_paths(path_var)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
