//! Reading an agent's stdout stream into a summary: final text, usage, model, error and
//! rate limit, for every output format, with bounded memory.
//!
//! The stream is read one line at a time and each line is handed to the backend's event
//! machine (`claude.rs`, `codex.rs`, `gemini.rs`). Nothing in a stream can make this fail
//! or panic: lines that are not JSON, invalid UTF-8, unknown events and a last line cut
//! short are skipped and counted. A line longer than `MAX_LINE` is never held whole; its
//! first `MAX_LINE` bytes are read and the rest skipped, so memory stays bounded by that
//! cap whatever the agent prints.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::claude::ClaudeEvents;
use super::codex::CodexEvents;
use super::gemini::GeminiEvents;
use super::usage::Usage;

/// Longest line kept for parsing. Real events are far smaller; a longer line is a tool
/// dump nobody summarises, and buffering it would let one line exhaust memory.
pub(crate) const MAX_LINE: usize = 16 * 1024 * 1024;

/// Read size; large enough that a 100 MB stream is a few thousand reads.
const READ_BUFFER: usize = 256 * 1024;

/// Longest answer text kept. An agent that streams more is summarised by its first
/// `MAX_TEXT` bytes; the full stream is still in `agent-stdout.txt`.
pub(crate) const MAX_TEXT: usize = 8 * 1024 * 1024;

/// What the agent prints on stdout, and so how to summarise it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutputFormat {
    Text,
    ClaudeJson,
    CodexJson,
    GeminiJson,
}

impl OutputFormat {
    pub(crate) const ALL: [OutputFormat; 4] = [
        OutputFormat::Text,
        OutputFormat::ClaudeJson,
        OutputFormat::CodexJson,
        OutputFormat::GeminiJson,
    ];

    /// The name used in the config file and on the command line.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Text => "text",
            OutputFormat::ClaudeJson => "claude-json",
            OutputFormat::CodexJson => "codex-json",
            OutputFormat::GeminiJson => "gemini-json",
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An output format name that is not one of `OutputFormat::ALL`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown output format `{given}`: expected one of text, claude-json, codex-json, gemini-json"
)]
pub(crate) struct UnknownOutputFormat {
    pub(crate) given: String,
}

impl FromStr for OutputFormat {
    type Err = UnknownOutputFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OutputFormat::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| UnknownOutputFormat {
                given: s.to_string(),
            })
    }
}

/// The agent said it is out of quota or rate limited.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RateLimit {
    /// The agent's own words, for the bus and `error_summary`.
    pub(crate) message: String,
    /// How long until the limit lifts, when the agent says.
    pub(crate) retry_after: Option<Duration>,
}

/// What one run's stdout stream says about the run.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct StreamSummary {
    /// The agent's last answer, for `output.md`.
    pub(crate) final_text: Option<String>,
    pub(crate) usage: Option<Usage>,
    pub(crate) model: Option<String>,
    /// Why the run failed, in the agent's words, when the stream says it failed.
    pub(crate) error: Option<String>,
    pub(crate) rate_limited: Option<RateLimit>,
    /// Lines that parsed as JSON objects.
    pub(crate) events: u64,
    /// Lines skipped: not JSON, cut short, or longer than `MAX_LINE`.
    pub(crate) non_json_lines: u64,
}

/// A backend's event machine: fed each line that looks like a JSON object, in order.
pub(crate) trait EventMachine {
    /// Takes one line (without its newline). Returns false when the line is not a JSON
    /// object after all, so it is counted as skipped.
    fn feed(&mut self, line: &[u8]) -> bool;
    /// The summary of everything fed so far.
    fn finish(self) -> StreamSummary;
}

/// Summarises a stream in `format`. Only read errors are errors; the content never is.
/// For `Text` the summary is empty: the caller copies stdout to `output.md` itself.
pub(crate) fn summarize(format: OutputFormat, reader: impl Read) -> io::Result<StreamSummary> {
    match format {
        OutputFormat::Text => Ok(StreamSummary::default()),
        OutputFormat::ClaudeJson => run(ClaudeEvents::default(), reader),
        OutputFormat::CodexJson => run(CodexEvents::default(), reader),
        OutputFormat::GeminiJson => run(GeminiEvents::default(), reader),
    }
}

/// `summarize` on a file, e.g. a finished run's `agent-stdout.txt`.
pub(crate) fn summarize_file(format: OutputFormat, path: &Path) -> io::Result<StreamSummary> {
    if format == OutputFormat::Text {
        return Ok(StreamSummary::default());
    }
    summarize(format, File::open(path)?)
}

fn run<M: EventMachine>(mut machine: M, reader: impl Read) -> io::Result<StreamSummary> {
    let mut lines = Lines::new(reader);
    let mut events = 0;
    let mut skipped = 0;
    while let Some(line) = lines.next_line()? {
        let fed = match line {
            Line::Full(bytes) => {
                let trimmed = trim_ascii(bytes);
                // Cheap pre-check: every event is an object, most noise is not.
                trimmed.first() == Some(&b'{') && machine.feed(trimmed)
            }
            Line::TooLong => false,
        };
        if fed {
            events += 1;
        } else if !matches!(line, Line::Full(b) if trim_ascii(b).is_empty()) {
            skipped += 1;
        }
    }
    let mut summary = machine.finish();
    summary.events = events;
    summary.non_json_lines = skipped;
    Ok(summary)
}

fn trim_ascii(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

enum Line<'a> {
    /// A whole line, without the newline; the last one may lack a newline.
    Full(&'a [u8]),
    /// A line longer than `MAX_LINE`, already skipped.
    TooLong,
}

/// Splits a reader into lines of at most `MAX_LINE` bytes without ever buffering more.
struct Lines<R> {
    inner: BufReader<R>,
    buf: Vec<u8>,
}

impl<R: Read> Lines<R> {
    fn new(reader: R) -> Self {
        Lines {
            inner: BufReader::with_capacity(READ_BUFFER, reader),
            buf: Vec::new(),
        }
    }

    fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        // After a long line, give the memory back rather than keep it for the whole run.
        if self.buf.capacity() > 4 * READ_BUFFER {
            self.buf = Vec::new();
        }
        self.buf.clear();
        // `take` bounds how much `read_until` may buffer. With a limit that is a power of
        // two the vector's doubling stops at exactly MAX_LINE.
        let n =
            read_until_interrupted(&mut (&mut self.inner).take(MAX_LINE as u64), &mut self.buf)?;
        if n == 0 {
            return Ok(None);
        }
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
            return Ok(Some(Line::Full(&self.buf)));
        }
        if n < MAX_LINE {
            // End of stream without a newline: a last line, possibly cut short.
            return Ok(Some(Line::Full(&self.buf)));
        }
        self.skip_rest_of_line()?;
        Ok(Some(Line::TooLong))
    }

    fn skip_rest_of_line(&mut self) -> io::Result<()> {
        loop {
            let (done, used) = {
                let available = match self.inner.fill_buf() {
                    Ok(b) => b,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                if available.is_empty() {
                    return Ok(());
                }
                match available.iter().position(|&b| b == b'\n') {
                    Some(i) => (true, i + 1),
                    None => (false, available.len()),
                }
            };
            self.inner.consume(used);
            if done {
                return Ok(());
            }
        }
    }
}

fn read_until_interrupted(reader: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<usize> {
    loop {
        // read_until keeps what it read before an error in `buf`; a retry appends the rest.
        let before = buf.len();
        match reader.read_until(b'\n', buf) {
            Ok(n) => return Ok(before + n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Parses one line as `T`, ignoring fields `T` does not name. Invalid UTF-8 inside
/// strings is replaced rather than losing the whole event. `None` when it is not `T`.
pub(crate) fn parse_line<T: DeserializeOwned>(line: &[u8]) -> Option<T> {
    match serde_json::from_slice(line) {
        Ok(value) => Some(value),
        Err(_) if std::str::from_utf8(line).is_err() => {
            serde_json::from_str(&String::from_utf8_lossy(line)).ok()
        }
        Err(_) => None,
    }
}

/// Appends `more` to `text` up to `MAX_TEXT` bytes, cutting at a character boundary.
pub(crate) fn push_capped(text: &mut String, more: &str) {
    let room = MAX_TEXT.saturating_sub(text.len());
    if more.len() <= room {
        text.push_str(more);
    } else {
        let mut cut = room;
        while !more.is_char_boundary(cut) {
            cut -= 1;
        }
        text.push_str(&more[..cut]);
    }
}

/// `text` cut to `MAX_TEXT` bytes at a character boundary.
pub(crate) fn capped(text: &str) -> String {
    let mut out = String::new();
    push_capped(&mut out, text);
    out
}

/// The string at `key` of a JSON object, if it is a non-empty string.
pub(crate) fn str_field<'a>(value: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    value
        .get(key)
        .and_then(serde_json::Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The count at `key`, accepting any non-negative JSON number (agents written in JS
/// may send `12.0`); `None` for anything else.
pub(crate) fn count_field(value: &serde_json::Value, key: &str) -> Option<u64> {
    let v = value.get(key)?;
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0)
            // Saturating float-to-int conversion is what we want for absurd values.
            .map(|f| f as u64)
    })
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
