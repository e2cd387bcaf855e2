use std::time::Duration;

use super::*;
use crate::agents::stream::summarize;
use crate::agents::test_support::summarize_fake;

fn parse(stream: &str) -> StreamSummary {
    summarize(OutputFormat::GeminiJson, stream.as_bytes()).unwrap()
}

fn fake(env: &[(&str, &str)]) -> (StreamSummary, i32) {
    summarize_fake("gemini", OutputFormat::GeminiJson, env)
}

#[test]
fn fake_ok_stream_joins_deltas_after_the_last_tool_call() {
    let (s, code) = fake(&[
        ("FAKE_TEXT", "The answer is 42.\nDone"),
        ("FAKE_INPUT_TOKENS", "900"),
        ("FAKE_OUTPUT_TOKENS", "77"),
        ("FAKE_CACHED_TOKENS", "300"),
    ]);
    assert_eq!(code, 0);
    assert_eq!(s.final_text.as_deref(), Some("The answer is 42.\nDone"));
    assert_eq!(
        s.usage,
        Some(Usage {
            input_tokens: 900,
            output_tokens: 77,
            cache_read_tokens: 300,
            cache_write_tokens: 0,
            cost_usd: None,
        })
    );
    assert_eq!(s.model.as_deref(), Some("gemini-2.5-pro"));
    assert_eq!(s.error, None);
    assert_eq!((s.events, s.non_json_lines), (8, 0));
}

#[test]
fn fake_error_stream_reports_the_error() {
    let (s, code) = fake(&[("FAKE_MODE", "error")]);
    assert_eq!(code, 1);
    assert_eq!(
        s.error.as_deref(),
        Some("FatalToolExecutionError: fake failure: tool crashed")
    );
    assert_eq!(s.rate_limited, None);
    assert_eq!(s.final_text.as_deref(), Some("I'll list the files first."));
    assert_eq!(s.usage.unwrap().input_tokens, 120);
}

#[test]
fn fake_rate_limit_stream_gives_the_wait() {
    let (s, code) = fake(&[("FAKE_MODE", "rate_limit")]);
    assert_eq!(code, 1);
    let limit = s.rate_limited.unwrap();
    assert!(
        limit.message.contains("RESOURCE_EXHAUSTED"),
        "{}",
        limit.message
    );
    assert_eq!(limit.retry_after, Some(Duration::from_secs(30)));
}

#[test]
fn fake_garbage_and_truncated_streams_are_tolerated() {
    let (s, _) = fake(&[("FAKE_MODE", "garbage"), ("FAKE_TEXT", "ok")]);
    assert_eq!(s.final_text.as_deref(), Some("ok"));
    assert_eq!(s.usage.unwrap().output_tokens, 45);
    assert_eq!(s.non_json_lines, 4);

    let (s, _) = fake(&[("FAKE_MODE", "truncated"), ("FAKE_TEXT", "two words")]);
    assert_eq!(s.final_text.as_deref(), Some("two words"));
    assert_eq!(s.usage, None);
    assert_eq!(s.error, None);
}

#[test]
fn text_before_a_trailing_tool_call_is_kept() {
    let s = parse(concat!(
        r#"{"type":"message","role":"assistant","content":"Let me ","delta":true}"#,
        "\n",
        r#"{"type":"message","role":"assistant","content":"check.","delta":true}"#,
        "\n",
        r#"{"type":"tool_use","tool_name":"ls","tool_id":"1","parameters":{}}"#,
        "\n",
        r#"{"type":"tool_result","tool_id":"1","status":"success","output":"x"}"#,
    ));
    assert_eq!(s.final_text.as_deref(), Some("Let me check."));
}

#[test]
fn user_messages_are_not_answers_and_whole_messages_replace() {
    let s = parse(concat!(
        r#"{"type":"message","role":"user","content":"the prompt"}"#,
        "\n",
        r#"{"type":"message","role":"assistant","content":"draft","delta":true}"#,
        "\n",
        r#"{"type":"message","role":"assistant","content":"whole"}"#,
    ));
    assert_eq!(s.final_text.as_deref(), Some("whole"));
}

#[test]
fn stats_without_the_uncached_split_and_in_camel_case() {
    let s = parse(
        r#"{"type":"result","status":"success","stats":{"input_tokens":100,"cached":30,"output_tokens":5}}"#,
    );
    let u = s.usage.unwrap();
    assert_eq!(
        (u.input_tokens, u.cache_read_tokens, u.output_tokens),
        (70, 30, 5)
    );
    let s = parse(
        r#"{"type":"result","status":"success","stats":{"inputTokens":12,"outputTokens":8,"totalTokens":20}}"#,
    );
    let u = s.usage.unwrap();
    assert_eq!((u.input_tokens, u.output_tokens), (12, 8));
}

#[test]
fn error_events_without_a_result() {
    let s = parse(concat!(
        r#"{"type":"error","severity":"warning","message":"Loop detected, stopping execution"}"#,
        "\n",
        r#"{"type":"error","severity":"error","message":"Maximum session turns exceeded"}"#,
    ));
    assert_eq!(s.error.as_deref(), Some("Maximum session turns exceeded"));
    assert_eq!(s.rate_limited, None);

    let s = parse(concat!(
        r#"{"type":"error","severity":"error","message":"boom"}"#,
        "\n",
        r#"{"type":"result","status":"success"}"#,
    ));
    assert_eq!(s.error, None);
}
