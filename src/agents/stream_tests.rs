use std::io::{self, Read, Write};
use std::path::Path;
use std::time::Instant;

use proptest::prelude::*;

use super::*;

const JSON_FORMATS: [OutputFormat; 3] = [
    OutputFormat::ClaudeJson,
    OutputFormat::CodexJson,
    OutputFormat::GeminiJson,
];

#[test]
fn output_format_names_round_trip() {
    for format in OutputFormat::ALL {
        assert_eq!(format.to_string().parse::<OutputFormat>(), Ok(format));
    }
    let err = "claude".parse::<OutputFormat>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown output format `claude`: expected one of text, claude-json, codex-json, gemini-json"
    );
}

#[test]
fn text_format_gives_an_empty_summary() {
    let s = summarize(
        OutputFormat::Text,
        &b"{\"type\":\"result\",\"result\":\"x\"}\n"[..],
    )
    .unwrap();
    assert_eq!(s, StreamSummary::default());
}

#[test]
fn summarize_file_reads_a_file_and_reports_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent-stdout.txt");
    std::fs::write(
        &path,
        "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"result\":\"hi\"}\r\n",
    )
    .unwrap();
    let s = summarize_file(OutputFormat::ClaudeJson, &path).unwrap();
    assert_eq!(s.final_text.as_deref(), Some("hi"));
    assert!(summarize_file(OutputFormat::ClaudeJson, &dir.path().join("nope")).is_err());
    assert_eq!(
        summarize_file(OutputFormat::Text, &dir.path().join("nope")).unwrap(),
        StreamSummary::default()
    );
}

#[test]
fn invalid_utf8_inside_an_event_is_replaced_not_dropped() {
    let mut stream = b"{\"type\":\"result\",\"is_error\":false,\"result\":\"caf".to_vec();
    stream.extend_from_slice(b"\xff\xfe\"}\n");
    let s = summarize(OutputFormat::ClaudeJson, stream.as_slice()).unwrap();
    assert_eq!(s.final_text.as_deref(), Some("caf\u{fffd}\u{fffd}"));
}

#[test]
fn blank_lines_are_not_counted_and_noise_is() {
    let s = summarize(
        OutputFormat::GeminiJson,
        &b"\n\n   \nnoise\n[1,2]\n\"str\"\n{\"no_type\":1}\n"[..],
    )
    .unwrap();
    assert_eq!((s.events, s.non_json_lines), (0, 4));
}

/// A stream made on the fly: `prefix`, then `fill` bytes of `byte`, then `suffix`.
struct Generated {
    parts: Vec<Vec<u8>>,
    fill: u64,
    byte: u8,
    stage: usize,
    offset: usize,
}

impl Generated {
    fn new(prefix: &[u8], fill: u64, byte: u8, suffix: &[u8]) -> Self {
        Generated {
            parts: vec![prefix.to_vec(), suffix.to_vec()],
            fill,
            byte,
            stage: 0,
            offset: 0,
        }
    }
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.stage {
                0 | 2 => {
                    let part = &self.parts[self.stage / 2];
                    if self.offset < part.len() {
                        let n = buf.len().min(part.len() - self.offset);
                        buf[..n].copy_from_slice(&part[self.offset..self.offset + n]);
                        self.offset += n;
                        return Ok(n);
                    }
                    self.stage += 1;
                    self.offset = 0;
                }
                1 => {
                    if self.fill > 0 {
                        let n = buf
                            .len()
                            .min(usize::try_from(self.fill).unwrap_or(usize::MAX));
                        buf[..n].fill(self.byte);
                        self.fill -= n as u64;
                        return Ok(n);
                    }
                    self.stage = 2;
                }
                _ => return Ok(0),
            }
        }
    }
}

#[test]
fn a_40_mb_line_is_skipped_without_losing_the_rest() {
    let started = Instant::now();
    let reader = Generated::new(
        b"{\"type\":\"user\",\"message\":{\"content\":\"",
        40 * 1024 * 1024,
        b'a',
        b"\"}}\n{\"type\":\"result\",\"is_error\":false,\"result\":\"after\",\"usage\":{\"input_tokens\":1,\"output_tokens\":2}}\n",
    );
    let s = summarize(OutputFormat::ClaudeJson, reader).unwrap();
    assert_eq!(s.final_text.as_deref(), Some("after"));
    assert_eq!(s.usage.unwrap().output_tokens, 2);
    assert_eq!((s.events, s.non_json_lines), (1, 1));
    // Even a debug build skips 40 MB quickly: nothing of it is parsed.
    assert!(started.elapsed().as_secs() < 20);
}

#[test]
fn a_line_of_exactly_the_cap_is_still_parsed() {
    let prefix = b"{\"type\":\"result\",\"is_error\":false,\"result\":\"";
    let suffix = b"\"}\n";
    let fill = (MAX_LINE - prefix.len() - suffix.len()) as u64;
    let reader = Generated::new(prefix, fill, b'z', suffix);
    let s = summarize(OutputFormat::ClaudeJson, reader).unwrap();
    assert_eq!(s.final_text.map(|t| t.len()), Some(MAX_TEXT));
    assert_eq!(s.non_json_lines, 0);
}

#[test]
fn a_huge_last_line_without_newline_is_skipped() {
    let reader = Generated::new(
        b"{\"type\":\"assistant\",\"x\":\"",
        20 * 1024 * 1024,
        b'q',
        b"",
    );
    let s = summarize(OutputFormat::CodexJson, reader).unwrap();
    assert_eq!((s.events, s.non_json_lines), (0, 1));
}

#[test]
fn push_capped_cuts_at_a_char_boundary() {
    let mut text = "x".repeat(MAX_TEXT - 1);
    push_capped(&mut text, "é");
    assert_eq!(text.len(), MAX_TEXT - 1);
    push_capped(&mut text, "y");
    assert_eq!(text.len(), MAX_TEXT);
}

/// Lines that look like events of any of the three agents, and near misses.
fn event_line() -> impl Strategy<Value = Vec<u8>> {
    let kinds = prop::sample::select(vec![
        "system",
        "assistant",
        "user",
        "result",
        "rate_limit_event",
        "thread.started",
        "turn.completed",
        "turn.failed",
        "item.completed",
        "error",
        "init",
        "message",
        "tool_use",
        "tool_result",
        "???",
    ]);
    let values = prop::sample::select(vec![
        "null",
        "1",
        "-1",
        "1e400",
        "18446744073709551616",
        "\"\"",
        "\"x|1750708800\"",
        "[]",
        "{}",
        "true",
        "{\"type\":\"agent_message\",\"text\":\"t\"}",
        "{\"input_tokens\":5,\"cached_input_tokens\":9}",
        "[{\"type\":\"text\",\"text\":1}]",
    ]);
    let keys = prop::sample::select(vec![
        "result",
        "is_error",
        "subtype",
        "usage",
        "message",
        "item",
        "content",
        "delta",
        "role",
        "stats",
        "error",
        "total_cost_usd",
        "rate_limit_info",
        "model",
        "status",
    ]);
    (
        kinds,
        prop::collection::vec((keys, values), 0..6),
        any::<bool>(),
        prop::collection::vec(any::<u8>(), 0..8),
    )
        .prop_map(|(kind, fields, cut, junk)| {
            let mut line = format!("{{\"type\":\"{kind}\"");
            for (k, v) in fields {
                line.push_str(&format!(",\"{k}\":{v}"));
            }
            line.push('}');
            let mut bytes = line.into_bytes();
            if cut {
                bytes.truncate(bytes.len() / 2);
                // Junk, but no newline: the line count must stay what it was.
                bytes.extend(junk.into_iter().filter(|b| *b != b'\n'));
            }
            bytes
        })
}

proptest! {
    #[test]
    fn summarize_never_fails_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        for format in OutputFormat::ALL {
            prop_assert!(summarize(format, bytes.as_slice()).is_ok());
        }
    }

    #[test]
    fn summarize_never_fails_on_near_miss_events(lines in prop::collection::vec(event_line(), 0..20)) {
        let stream = lines.join(&b'\n');
        for format in JSON_FORMATS {
            let s = summarize(format, stream.as_slice()).unwrap();
            prop_assert!(s.events + s.non_json_lines <= lines.len() as u64);
        }
    }
}

/// Writes a realistic stream of at least `total` bytes to `path`, a round at a time so
/// that the stream is never in memory: mostly tool output, some assistant text, and the
/// usage at the end.
fn write_big_stream(format: OutputFormat, total: usize, path: &Path) {
    let tool_output = "x".repeat(3000);
    let round = match format {
        OutputFormat::ClaudeJson => format!(
            "{}\n{}\n{}\n",
            r#"{"type":"assistant","message":{"id":"msg_1","model":"claude-sonnet-4-5","content":[{"type":"text","text":"Looking at the next file now."}],"usage":{"input_tokens":4,"output_tokens":3}},"session_id":"s"}"#,
            r#"{"type":"assistant","message":{"id":"msg_1","model":"claude-sonnet-4-5","content":[{"type":"tool_use","id":"toolu_1","name":"Read","input":{"file_path":"/src/main.rs"}}]},"session_id":"s"}"#,
            format_args!(
                r#"{{"type":"user","message":{{"role":"user","content":[{{"tool_use_id":"toolu_1","type":"tool_result","content":"{tool_output}\n\"quoted\" \\ end"}}]}},"session_id":"s"}}"#
            ),
        ),
        OutputFormat::CodexJson => format!(
            "{}\n{}\n{}\n",
            r#"{"type":"item.completed","item":{"id":"item_0","type":"reasoning","text":"**Looking at the next file**"}}"#,
            format_args!(
                r#"{{"type":"item.completed","item":{{"id":"item_1","type":"command_execution","command":"bash -lc 'cat src/main.rs'","aggregated_output":"{tool_output}\n","exit_code":0,"status":"completed"}}}}"#
            ),
            r#"{"type":"item.completed","item":{"id":"item_2","type":"agent_message","text":"Next file."}}"#,
        ),
        _ => format!(
            "{}\n{}\n{}\n",
            r#"{"type":"message","timestamp":"2025-10-10T12:00:00.000Z","role":"assistant","content":"Looking at the next file","delta":true}"#,
            r#"{"type":"tool_use","timestamp":"2025-10-10T12:00:00.000Z","tool_name":"read_file","tool_id":"read_file-1","parameters":{"absolute_path":"/src/main.rs"}}"#,
            format_args!(
                r#"{{"type":"tool_result","timestamp":"2025-10-10T12:00:00.000Z","tool_id":"read_file-1","status":"success","output":"{tool_output}"}}"#
            ),
        ),
    };
    let end = match format {
        OutputFormat::ClaudeJson => {
            r#"{"type":"result","subtype":"success","is_error":false,"result":"done","total_cost_usd":1.0,"usage":{"input_tokens":10,"output_tokens":20}}"#
        }
        OutputFormat::CodexJson => {
            r#"{"type":"turn.completed","usage":{"input_tokens":10,"cached_input_tokens":0,"output_tokens":20}}"#
        }
        _ => {
            r#"{"type":"result","status":"success","stats":{"input_tokens":10,"output_tokens":20,"cached":0,"input":10}}"#
        }
    };
    let mut out = io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut written = 0;
    while written < total {
        out.write_all(round.as_bytes()).unwrap();
        written += round.len();
    }
    writeln!(out, "{end}").unwrap();
    out.flush().unwrap();
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `cargo test --release --lib -- --ignored --nocapture parse_100mb` prints the figures.
/// Run it alone, so that the process's peak RSS is this test's.
#[test]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
fn parse_100mb() {
    let dir = tempfile::tempdir().unwrap();
    for format in JSON_FORMATS {
        let path = dir.path().join(format.as_str());
        write_big_stream(format, 100 * 1024 * 1024, &path);
    }
    for format in JSON_FORMATS {
        let path = dir.path().join(format.as_str());
        let size = std::fs::metadata(&path).unwrap().len();
        let started = Instant::now();
        let s = summarize_file(format, &path).unwrap();
        let took = started.elapsed();
        assert_eq!(s.usage.unwrap().output_tokens, 20);
        println!(
            "{format}: {} MB, {} events in {:.0} ms ({:.0} MB/s), peak RSS so far {:?} KiB",
            size / 1_000_000,
            s.events,
            took.as_secs_f64() * 1000.0,
            size as f64 / 1e6 / took.as_secs_f64(),
            peak_rss_kib(),
        );
    }
}
