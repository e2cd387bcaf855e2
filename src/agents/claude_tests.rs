use std::time::Duration;

use super::*;
use crate::agents::stream::summarize;
use crate::agents::test_support::{run_fake, summarize_fake};

fn parse(stream: &str) -> StreamSummary {
    summarize(OutputFormat::ClaudeJson, stream.as_bytes()).unwrap()
}

fn fake(env: &[(&str, &str)]) -> (StreamSummary, i32) {
    summarize_fake("claude", OutputFormat::ClaudeJson, env)
}

#[test]
fn fake_ok_stream_gives_text_usage_cost_and_model() {
    let (s, code) = fake(&[
        (
            "FAKE_TEXT",
            "All done.\nSecond line with \"quotes\" and \\ and é",
        ),
        ("FAKE_COST", "0.4321"),
        ("FAKE_INPUT_TOKENS", "1000"),
        ("FAKE_OUTPUT_TOKENS", "250"),
        ("FAKE_CACHED_TOKENS", "5000"),
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        s.final_text.as_deref(),
        Some("All done.\nSecond line with \"quotes\" and \\ and é")
    );
    assert_eq!(
        s.usage,
        Some(Usage {
            input_tokens: 1000,
            output_tokens: 250,
            cache_read_tokens: 5000,
            cache_write_tokens: 0,
            cost_usd: Some(0.4321),
        })
    );
    assert_eq!(s.model.as_deref(), Some("claude-sonnet-4-5-20250929"));
    assert_eq!(s.error, None);
    assert_eq!(s.rate_limited, None);
    assert_eq!(s.non_json_lines, 0);
    assert_eq!(s.events, 6);
}

#[test]
fn fake_error_stream_reports_the_error() {
    let (s, code) = fake(&[("FAKE_MODE", "error")]);
    assert_eq!(code, 1);
    assert_eq!(s.error.as_deref(), Some("fake failure: tool crashed"));
    assert_eq!(s.rate_limited, None);
    assert_eq!(
        s.final_text.as_deref(),
        Some("I will look at the task first.")
    );
    assert_eq!(s.usage.unwrap().cost_usd, Some(0.0123));
}

#[test]
fn fake_rate_limit_stream_gives_the_reset_time() {
    let (s, code) = fake(&[("FAKE_MODE", "rate_limit")]);
    assert_eq!(code, 1);
    let limit = s.rate_limited.expect("rate limited");
    assert!(limit.message.starts_with("Claude AI usage limit reached|"));
    let wait = limit.retry_after.expect("reset time");
    assert!(
        wait > Duration::from_secs(3500) && wait <= Duration::from_secs(3600),
        "{wait:?}"
    );
    assert!(s.error.unwrap().contains("usage limit reached"));
    // The synthetic message is not an answer.
    assert_eq!(
        s.final_text.as_deref(),
        Some("I will look at the task first.")
    );
}

#[test]
fn fake_garbage_stream_is_tolerated() {
    let (s, code) = fake(&[("FAKE_MODE", "garbage"), ("FAKE_TEXT", "ok")]);
    assert_eq!(code, 0);
    assert_eq!(s.final_text.as_deref(), Some("ok"));
    assert_eq!(s.usage.unwrap().output_tokens, 45);
    assert_eq!(s.error, None);
    assert_eq!(s.non_json_lines, 6);
}

#[test]
fn fake_truncated_stream_falls_back_to_the_last_assistant_text() {
    let (s, _) = fake(&[("FAKE_MODE", "truncated"), ("FAKE_TEXT", "partial answer")]);
    assert_eq!(s.final_text.as_deref(), Some("partial answer"));
    assert_eq!(s.usage, None);
    assert_eq!(s.error, None);
    assert_eq!(s.non_json_lines, 1);
}

#[test]
fn fake_records_argv_prompt_and_masks_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let argv = dir.path().join("argv");
    let prompt = dir.path().join("prompt");
    let env = dir.path().join("env");
    let done = dir.path().join("done");
    let (_, code) = run_fake(
        "claude",
        "line one\nline two\n\n",
        &[
            ("FAKE_ARGV_FILE", argv.to_str().unwrap()),
            ("FAKE_PROMPT_FILE", prompt.to_str().unwrap()),
            ("FAKE_ENV_DUMP", env.to_str().unwrap()),
            ("FAKE_DONE_FILE", done.to_str().unwrap()),
            ("ANTHROPIC_API_KEY", "sk-secret-value"),
        ],
    );
    assert_eq!(code, 0);
    assert_eq!(std::fs::read_to_string(&argv).unwrap(), "");
    assert_eq!(
        std::fs::read_to_string(&prompt).unwrap(),
        "line one\nline two\n\n"
    );
    let dump = std::fs::read_to_string(&env).unwrap();
    assert!(dump.contains("ANTHROPIC_API_KEY=<set>"), "{dump}");
    assert!(!dump.contains("sk-secret-value"));
    assert!(done.exists());
}

#[test]
fn result_text_wins_over_assistant_text() {
    let s = parse(concat!(
        r#"{"type":"assistant","message":{"id":"m1","model":"claude-opus-4-1","content":[{"type":"text","text":"thinking aloud"}]}}"#,
        "\n",
        r#"{"type":"result","subtype":"success","is_error":false,"result":"final","total_cost_usd":1.5,"usage":{"input_tokens":3,"output_tokens":4,"cache_read_input_tokens":5,"cache_creation_input_tokens":6}}"#,
        "\n",
    ));
    assert_eq!(s.final_text.as_deref(), Some("final"));
    assert_eq!(s.model.as_deref(), Some("claude-opus-4-1"));
    let u = s.usage.unwrap();
    assert_eq!(
        (
            u.input_tokens,
            u.output_tokens,
            u.cache_read_tokens,
            u.cache_write_tokens
        ),
        (3, 4, 5, 6)
    );
    assert_eq!(u.total_tokens(), 18);
    assert_eq!(u.cost_usd, Some(1.5));
}

#[test]
fn text_blocks_of_one_message_are_joined_and_a_new_message_replaces_them() {
    let s = parse(concat!(
        r#"{"type":"assistant","message":{"id":"m1","content":[{"type":"text","text":"a"}]}}"#,
        "\n",
        r#"{"type":"assistant","message":{"id":"m1","content":[{"type":"tool_use","id":"t","name":"Bash","input":{}}]}}"#,
        "\n",
        r#"{"type":"assistant","message":{"id":"m1","content":[{"type":"text","text":"b"}]}}"#,
        "\n",
    ));
    assert_eq!(s.final_text.as_deref(), Some("a\nb"));
    let s = parse(concat!(
        r#"{"type":"assistant","message":{"id":"m1","content":[{"type":"text","text":"a"}]}}"#,
        "\n",
        r#"{"type":"assistant","message":{"id":"m2","content":[{"type":"text","text":"c"}]}}"#,
    ));
    assert_eq!(s.final_text.as_deref(), Some("c"));
}

#[test]
fn api_429_result_is_a_rate_limit() {
    let s = parse(concat!(
        r#"{"type":"system","subtype":"api_retry","attempt":1,"max_retries":10,"retry_delay_ms":500,"error_status":429,"error":"rate_limit"}"#,
        "\n",
        r#"{"type":"result","subtype":"success","is_error":true,"api_error_status":429,"result":"API Error: 429 {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"This request would exceed your account's rate limit. Please try again later.\"}}","total_cost_usd":0}"#,
    ));
    let limit = s.rate_limited.unwrap();
    assert!(limit.message.starts_with("API Error: 429"));
    assert_eq!(limit.retry_after, None);
    assert!(s.error.is_some());
    assert_eq!(s.final_text, None);
}

#[test]
fn rejected_rate_limit_event_without_result_is_a_rate_limit() {
    let reset = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let s = parse(&format!(
        r#"{{"type":"rate_limit_event","rate_limit_info":{{"status":"rejected","resetsAt":{reset},"rateLimitType":"five_hour"}}}}"#
    ));
    let limit = s.rate_limited.unwrap();
    assert_eq!(limit.message, "Claude five_hour limit reached");
    assert!(limit.retry_after.unwrap() > Duration::from_secs(590));
    assert_eq!(s.error.as_deref(), Some("Claude five_hour limit reached"));
}

#[test]
fn limit_warnings_are_forgotten_when_the_run_succeeds() {
    let s = parse(concat!(
        r#"{"type":"rate_limit_event","rate_limit_info":{"status":"allowed_warning","resetsAt":1}}"#,
        "\n",
        r#"{"type":"system","subtype":"api_retry","error_status":429,"error":"rate_limit"}"#,
        "\n",
        r#"{"type":"result","subtype":"success","is_error":false,"result":"fine"}"#,
    ));
    assert_eq!(s.rate_limited, None);
    assert_eq!(s.error, None);
    assert_eq!(s.final_text.as_deref(), Some("fine"));
}

#[test]
fn error_subtype_without_is_error_and_without_text() {
    let s = parse(
        r#"{"type":"result","subtype":"error_max_turns","num_turns":50,"usage":null,"cost_usd":0.2}"#,
    );
    assert_eq!(
        s.error.as_deref(),
        Some("claude ended with error_max_turns")
    );
    assert_eq!(s.usage.unwrap().cost_usd, Some(0.2));
}

#[test]
fn error_subtype_wins_over_is_error_false() {
    let s = parse(
        r#"{"type":"result","subtype":"error_max_turns","is_error":false,"result":"partial"}"#,
    );
    assert_eq!(s.error.as_deref(), Some("partial"));
    assert_eq!(s.final_text, None);
}

#[test]
fn odd_field_types_do_not_lose_the_event() {
    let s = parse(concat!(
        r#"{"type":"system","subtype":"init","model":42}"#,
        "\n",
        r#"{"type":"assistant","message":{"id":7,"content":"not a list"}}"#,
        "\n",
        r#"{"type":"result","is_error":"maybe","result":["x"],"usage":{"input_tokens":"3","output_tokens":2.0}}"#,
    ));
    assert_eq!(s.final_text, None);
    assert_eq!(s.usage.unwrap().output_tokens, 2);
    assert_eq!(s.model, None);
}
