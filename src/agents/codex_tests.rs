use std::time::Duration;

use super::*;
use crate::agents::stream::summarize;
use crate::agents::test_support::summarize_fake;

fn parse(stream: &str) -> StreamSummary {
    summarize(OutputFormat::CodexJson, stream.as_bytes()).unwrap()
}

fn fake(env: &[(&str, &str)]) -> (StreamSummary, i32) {
    summarize_fake("codex", OutputFormat::CodexJson, env)
}

#[test]
fn fake_ok_stream_gives_text_and_uncached_input() {
    let (s, code) = fake(&[
        ("FAKE_TEXT", "Patched it.\nTests pass."),
        ("FAKE_INPUT_TOKENS", "2000"),
        ("FAKE_OUTPUT_TOKENS", "300"),
        ("FAKE_CACHED_TOKENS", "1024"),
    ]);
    assert_eq!(code, 0);
    assert_eq!(s.final_text.as_deref(), Some("Patched it.\nTests pass."));
    assert_eq!(
        s.usage,
        Some(Usage {
            input_tokens: 2000,
            output_tokens: 300,
            cache_read_tokens: 1024,
            cache_write_tokens: 0,
            cost_usd: None,
        })
    );
    assert_eq!(s.model, None);
    assert_eq!(s.error, None);
    assert_eq!(s.rate_limited, None);
    assert_eq!((s.events, s.non_json_lines), (8, 0));
}

#[test]
fn fake_error_stream_reports_the_failed_turn() {
    let (s, code) = fake(&[("FAKE_MODE", "error")]);
    assert_eq!(code, 1);
    assert_eq!(
        s.error.as_deref(),
        Some("fake failure: unexpected status 500 Internal Server Error")
    );
    assert_eq!(s.rate_limited, None);
    assert_eq!(s.final_text, None);
}

#[test]
fn fake_rate_limit_stream_gives_the_wait() {
    let (s, code) = fake(&[("FAKE_MODE", "rate_limit")]);
    assert_eq!(code, 1);
    let limit = s.rate_limited.unwrap();
    assert!(limit.message.starts_with("You've hit your usage limit."));
    assert_eq!(limit.retry_after, Some(Duration::from_secs(3900)));
}

#[test]
fn fake_garbage_and_truncated_streams_are_tolerated() {
    let (s, _) = fake(&[("FAKE_MODE", "garbage"), ("FAKE_TEXT", "ok")]);
    assert_eq!(s.final_text.as_deref(), Some("ok"));
    assert_eq!(s.usage.unwrap().output_tokens, 45);
    assert_eq!(s.non_json_lines, 4);

    let (s, _) = fake(&[("FAKE_MODE", "truncated"), ("FAKE_TEXT", "ok")]);
    assert_eq!(s.final_text.as_deref(), Some("ok"));
    assert_eq!(s.usage, None);
    assert_eq!(s.non_json_lines, 1);
}

#[test]
fn last_turn_usage_is_the_total_and_last_message_the_answer() {
    let s = parse(concat!(
        r#"{"type":"item.completed","item":{"id":"item_1","type":"agent_message","text":"first"}}"#,
        "\n",
        r#"{"type":"turn.completed","usage":{"input_tokens":100,"cached_input_tokens":40,"output_tokens":10}}"#,
        "\n",
        r#"{"type":"item.completed","item":{"id":"item_2","type":"agent_message","text":"second"}}"#,
        "\n",
        r#"{"type":"turn.completed","usage":{"input_tokens":250,"cached_input_tokens":90,"output_tokens":30,"reasoning_output_tokens":12}}"#,
    ));
    assert_eq!(s.final_text.as_deref(), Some("second"));
    let u = s.usage.unwrap();
    assert_eq!(
        (u.input_tokens, u.cache_read_tokens, u.output_tokens),
        (160, 90, 30)
    );
}

#[test]
fn legacy_item_type_spelling_is_read() {
    let s = parse(
        r#"{"type":"item.completed","item":{"id":"item_3","item_type":"assistant_message","text":"old style"}}"#,
    );
    assert_eq!(s.final_text.as_deref(), Some("old style"));
}

#[test]
fn recovered_errors_are_forgotten_and_unrecovered_ones_kept() {
    let s = parse(concat!(
        r#"{"type":"error","message":"Reconnecting... 1/5"}"#,
        "\n",
        r#"{"type":"turn.completed","usage":{"input_tokens":1,"cached_input_tokens":0,"output_tokens":1}}"#,
    ));
    assert_eq!(s.error, None);

    let s = parse(
        r#"{"type":"error","message":"exceeded retry limit, last status: 429 Too Many Requests"}"#,
    );
    assert_eq!(
        s.error.as_deref(),
        Some("exceeded retry limit, last status: 429 Too Many Requests")
    );
    assert!(s.rate_limited.is_some());
}

#[test]
fn limit_notice_item_explains_a_bare_failure() {
    let s = parse(concat!(
        r#"{"type":"item.completed","item":{"id":"item_0","type":"error","message":"Rate limit reached; retry in 20s"}}"#,
        "\n",
        r#"{"type":"turn.failed","error":{"message":"turn failed"}}"#,
    ));
    assert_eq!(s.error.as_deref(), Some("turn failed"));
    assert_eq!(
        s.rate_limited.unwrap().retry_after,
        Some(Duration::from_secs(20))
    );
    // The same notice in a successful run means nothing.
    let s = parse(
        r#"{"type":"item.completed","item":{"id":"item_0","type":"error","message":"Rate limit reached"}}"#,
    );
    assert_eq!(s.rate_limited, None);
}

#[test]
fn command_output_is_not_taken_for_an_answer() {
    let s = parse(concat!(
        r#"{"type":"item.completed","item":{"id":"item_1","type":"command_execution","command":"cat x","aggregated_output":"{\"text\":\"no\"}","exit_code":0,"status":"completed"}}"#,
        "\n",
        r#"{"type":"item.completed","item":{"id":"item_2","type":"reasoning","text":"hmm"}}"#,
    ));
    assert_eq!(s.final_text, None);
}
