//! Gemini CLI (`gemini`): how run-agent starts it and how its `stream-json` output is
//! summarised.
//!
//! What the CLI does, as checked (no `gemini` binary was available to run):
//! - Flags: headless mode starts when stdin is not a terminal (or with `-p`), and piped
//!   stdin is the prompt (`-p` text is appended to it); `--approval-mode` takes
//!   `default`, `auto_edit`, `yolo` (newer: also `plan`); `-o`/`--output-format` takes
//!   `text`, `json`, `stream-json`; `-m`/`--model` picks the model.
//!   Sources: google-gemini/gemini-cli `packages/cli/src/config/config.ts`;
//!   geminicli.com/docs/cli/headless ("Headless mode reference").
//! - Token: `GEMINI_API_KEY`; headless mode needs it (or Vertex AI settings) unless a
//!   login is cached, else it exits 41 "Please set an Auth method".
//!   Source: geminicli.com/docs/get-started/authentication.
//! - Events (`packages/core/src/output/types.ts`, `JsonStreamEvent`), each with `type`
//!   and `timestamp`: `init` {`session_id`, `model`}, `message` {`role`: `user` |
//!   `assistant`, `content`, `delta`: true for streamed chunks}, `tool_use` {`tool_name`,
//!   `tool_id`, `parameters`}, `tool_result` {`tool_id`, `status`, `output`, `error`},
//!   `error` {`severity`: `warning` | `error`, `message`}, `result` {`status`: `success` |
//!   `error`, `error`: {`type`, `message`}, `stats`: {`total_tokens`, `input_tokens`,
//!   `output_tokens`, `cached`, `input`, `duration_ms`, `tool_calls`}}.
//! - Usage: `stats.input_tokens` is the prompt count summed over models and includes
//!   `cached`; `stats.input` is the uncached part
//!   (`stream-json-formatter.ts`, `convertToStreamStats`). No cost is reported.
//! - Failures: `nonInteractiveCli.ts` throws API errors to `handleError`, which for
//!   `stream-json` writes the message to **stderr**, not stdout; so a quota error
//!   (`429`, `RESOURCE_EXHAUSTED`, "exhausted your capacity", "Please retry in 30s") may
//!   only be visible there. `ratelimit::detect` can be run on the stderr tail for that.

use serde::Deserialize;
use serde_json::Value;

use super::backend::Backend;
use super::ratelimit;
use super::stream::{
    capped, count_field, parse_line, push_capped, str_field, EventMachine, OutputFormat,
    StreamSummary,
};
use super::usage::Usage;

pub(crate) const BACKEND: Backend = Backend {
    name: "gemini",
    program: "gemini",
    args: &["--approval-mode", "yolo", "--output-format", "stream-json"],
    trailing_args: &[],
    model_flag: "--model",
    token_env: "GEMINI_API_KEY",
    output: OutputFormat::GeminiJson,
};

/// Enough of an event to skip tool output and the echoed prompt without parsing them.
#[derive(Deserialize)]
struct Head {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    role: Option<String>,
}

/// The state of one Gemini stream, fed line by line.
#[derive(Debug, Default)]
pub(crate) struct GeminiEvents {
    model: Option<String>,
    /// Assistant text since the last tool call: the answer the model is giving now.
    current: String,
    /// The last non-empty answer before a tool call, in case nothing follows it.
    previous: Option<String>,
    tool_since_text: bool,
    saw_result: bool,
    succeeded: bool,
    usage: Option<Usage>,
    error: Option<String>,
    warnings: Vec<String>,
}

const MAX_WARNINGS: usize = 8;

impl EventMachine for GeminiEvents {
    fn feed(&mut self, line: &[u8]) -> bool {
        let Some(head) = parse_line::<Head>(line) else {
            return false;
        };
        match head.kind.as_str() {
            "tool_use" | "tool_result" => {
                self.tool_since_text = true;
                return true;
            }
            "message" if head.role.as_deref() == Some("assistant") => {}
            "init" | "error" | "result" => {}
            _ => return true,
        }
        let Some(event) = parse_line::<Value>(line) else {
            return false;
        };
        match head.kind.as_str() {
            "message" => self.message(&event),
            "init" => {
                if let Some(model) = str_field(&event, "model") {
                    self.model = Some(model.to_string());
                }
            }
            "error" => self.error_event(&event),
            _ => self.result(&event),
        }
        true
    }

    fn finish(self) -> StreamSummary {
        let final_text = if self.current.is_empty() {
            self.previous
        } else {
            Some(self.current)
        };
        let error = if self.succeeded { None } else { self.error };
        let rate_limited = error.as_deref().and_then(ratelimit::detect).or_else(|| {
            error.as_ref()?;
            self.warnings
                .iter()
                .rev()
                .find_map(|w| ratelimit::detect(w))
        });
        StreamSummary {
            final_text,
            usage: self.usage,
            model: self.model,
            error,
            rate_limited,
            ..StreamSummary::default()
        }
    }
}

impl GeminiEvents {
    fn message(&mut self, event: &Value) {
        let Some(content) = event.get("content").and_then(Value::as_str) else {
            return;
        };
        if self.tool_since_text {
            self.tool_since_text = false;
            if !self.current.is_empty() {
                self.previous = Some(std::mem::take(&mut self.current));
            }
        }
        if event.get("delta").and_then(Value::as_bool) != Some(true) {
            // A whole message replaces what was streamed for this answer so far.
            self.current.clear();
        }
        push_capped(&mut self.current, content);
    }

    fn error_event(&mut self, event: &Value) {
        let message = capped(str_field(event, "message").unwrap_or("gemini reported an error"));
        if str_field(event, "severity") == Some("warning") {
            if self.warnings.len() == MAX_WARNINGS {
                self.warnings.remove(0);
            }
            self.warnings.push(message);
        } else {
            self.error = Some(message);
        }
    }

    fn result(&mut self, event: &Value) {
        self.saw_result = true;
        self.succeeded = str_field(event, "status") != Some("error");
        if let Some(stats) = event.get("stats").and_then(stats_usage) {
            self.usage = Some(stats);
        }
        if self.succeeded {
            return;
        }
        let detail = event.get("error");
        let message = detail.and_then(|e| str_field(e, "message"));
        let kind = detail.and_then(|e| str_field(e, "type"));
        self.error = Some(capped(&match (kind, message) {
            (Some(kind), Some(message)) => format!("{kind}: {message}"),
            (None, Some(message)) => message.to_string(),
            (Some(kind), None) => kind.to_string(),
            (None, None) => self
                .error
                .take()
                .unwrap_or_else(|| "gemini ended with an error".to_string()),
        }));
    }
}

fn stats_usage(stats: &Value) -> Option<Usage> {
    stats.as_object()?;
    let count = |snake: &str, camel: &str| count_field(stats, snake).or(count_field(stats, camel));
    let cached = count("cached", "cachedTokens").unwrap_or(0);
    let input = match count_field(stats, "input") {
        Some(uncached) => uncached,
        None => count("input_tokens", "inputTokens")
            .unwrap_or(0)
            .saturating_sub(cached),
    };
    Some(Usage {
        input_tokens: input,
        output_tokens: count("output_tokens", "outputTokens").unwrap_or(0),
        cache_read_tokens: cached,
        cache_write_tokens: 0,
        cost_usd: None,
    })
}

#[cfg(test)]
#[path = "gemini_tests.rs"]
mod tests;
