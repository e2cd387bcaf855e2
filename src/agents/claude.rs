//! Claude Code (`claude -p`): how run-agent starts it and how its `stream-json` output
//! is summarised.
//!
//! What the CLI does, as checked (no `claude` binary was available to run):
//! - Flags: `-p`/`--print` runs one prompt headless; `--input-format text` reads the
//!   prompt from stdin; `--output-format stream-json` prints one JSON object per line and
//!   needs `--verbose` in print mode; `--permission-mode` takes `default`, `acceptEdits`,
//!   `plan`, `bypassPermissions`, `dontAsk` (`bypassPermissions` is what
//!   `--dangerously-skip-permissions` sets); `--model <alias|id>` picks the model.
//!   Sources: Claude Code CLI reference (code.claude.com/docs/en/cli-reference, as
//!   mirrored at docs.arantic.com/claude-code/flags and backgroundclaude.com/cli-reference);
//!   headless docs (docs.anthropic.com/docs/claude-code/sdk/sdk-headless).
//! - Token: `ANTHROPIC_API_KEY` (headless docs; without it the CLI uses its login).
//! - Events, one per line, each with `type`:
//!   `system` (`subtype: "init"` carries `model`, `session_id`, `tools`, `permissionMode`;
//!   `subtype: "api_retry"` carries `attempt`, `max_retries`, `error_status`, `error`
//!   such as `rate_limit`), `assistant` and `user` (`message` is an Anthropic API message:
//!   `id`, `model`, `content` blocks of `type` `text` / `tool_use` / `tool_result`;
//!   an API failure arrives as an assistant message with model `<synthetic>` and an
//!   `error` field such as `rate_limit`), `rate_limit_event` (`rate_limit_info` with
//!   `status` `allowed` / `allowed_warning` / `rejected`, `resetsAt` epoch seconds,
//!   `rateLimitType`), and last `result`: `subtype` (`success`, `error_max_turns`,
//!   `error_during_execution`, ...), `is_error`, `result` (final text), `total_cost_usd`
//!   (older CLIs: `cost_usd`), `usage` {`input_tokens`, `output_tokens`,
//!   `cache_read_input_tokens`, `cache_creation_input_tokens`}, `modelUsage` keyed by
//!   model, `errors` (strings), `api_error_status` (e.g. 429).
//!   Sources: Agent SDK message types as modelled by the `claude-codes` crate
//!   (docs.rs/claude-codes, `io::ResultMessage`, `RateLimitEvent`); dev.to
//!   "claude code output format json fields" (cost field is `total_cost_usd`).
//! - Limits: a subscription limit is reported as result text
//!   `Claude AI usage limit reached|<reset epoch>` (anthropics/claude-code issues #2490,
//!   #4048, #6119) or, in newer CLIs, `You've hit your limit · resets <time>` (#22441);
//!   an API limit as `API Error: 429 {"type":"error","error":{"type":"rate_limit_error",..}}`.
//!
//! Claude's `input_tokens` already excludes cache reads and writes, so usage is taken as is.

use serde::Deserialize;
use serde_json::Value;

use super::backend::Backend;
use super::ratelimit;
use super::stream::{
    capped, count_field, parse_line, push_capped, str_field, EventMachine, OutputFormat, RateLimit,
    StreamSummary,
};
use super::usage::Usage;

pub(crate) const BACKEND: Backend = Backend {
    name: "claude",
    program: "claude",
    args: &[
        "-p",
        "--input-format",
        "text",
        "--output-format",
        "stream-json",
        "--verbose",
        "--permission-mode",
        "bypassPermissions",
    ],
    trailing_args: &[],
    model_flag: "--model",
    token_env: "ANTHROPIC_API_KEY",
    output: OutputFormat::ClaudeJson,
};

/// The model name Claude Code puts on messages it made up itself (API errors).
const SYNTHETIC_MODEL: &str = "<synthetic>";

/// Just enough of an event to decide whether it is worth a full parse; tool output
/// (`user` events) is the bulk of a stream and is never parsed further.
#[derive(Deserialize)]
struct Head {
    #[serde(rename = "type")]
    kind: String,
}

/// The state of one Claude stream, fed line by line.
#[derive(Debug, Default)]
pub(crate) struct ClaudeEvents {
    model: Option<String>,
    /// Id and text blocks of the latest assistant message that had text; Claude prints
    /// each content block of a message as its own event.
    last_message_id: Option<String>,
    last_text: Option<String>,
    saw_result: bool,
    result_is_error: bool,
    result_text: Option<String>,
    usage: Option<Usage>,
    error: Option<String>,
    /// Evidence of a limit seen before the result: kept only if the run then failed.
    limit: Option<RateLimit>,
}

impl EventMachine for ClaudeEvents {
    fn feed(&mut self, line: &[u8]) -> bool {
        let Some(head) = parse_line::<Head>(line) else {
            return false;
        };
        match head.kind.as_str() {
            "system" | "assistant" | "result" | "rate_limit_event" => {}
            _ => return true,
        }
        let Some(event) = parse_line::<Value>(line) else {
            return false;
        };
        match head.kind.as_str() {
            "system" => self.system(&event),
            "assistant" => self.assistant(&event),
            "result" => self.result(&event),
            _ => self.rate_limit_event(&event),
        }
        true
    }

    fn finish(self) -> StreamSummary {
        let succeeded = self.saw_result && !self.result_is_error;
        let rate_limited = if succeeded { None } else { self.limit };
        let error = match (self.error, &rate_limited) {
            (Some(e), _) => Some(e),
            (None, Some(limit)) => Some(limit.message.clone()),
            (None, None) => None,
        };
        let final_text = if succeeded {
            self.result_text.or(self.last_text)
        } else {
            self.last_text
        };
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

impl ClaudeEvents {
    fn system(&mut self, event: &Value) {
        match str_field(event, "subtype") {
            Some("init") => {
                if let Some(model) = str_field(event, "model") {
                    self.model = Some(model.to_string());
                }
            }
            Some("api_retry") => {
                let status = count_field(event, "error_status");
                let reason = str_field(event, "error").unwrap_or("");
                if status == Some(429) || ratelimit::looks_rate_limited(reason) {
                    self.note_limit(RateLimit {
                        message: format!("API retry after {reason} ({})", status.unwrap_or(429)),
                        retry_after: None,
                    });
                }
            }
            _ => {}
        }
    }

    fn assistant(&mut self, event: &Value) {
        let Some(message) = event.get("message") else {
            return;
        };
        let model = str_field(message, "model");
        let text = text_blocks(message);
        // An API failure dressed as an assistant message is an error, not an answer.
        if model == Some(SYNTHETIC_MODEL) || str_field(event, "error").is_some() {
            if let Some(text) = &text {
                let reason = str_field(event, "error").unwrap_or("");
                if let Some(limit) = ratelimit::detect(text) {
                    self.note_limit(limit);
                } else if ratelimit::looks_rate_limited(reason) {
                    self.note_limit(RateLimit {
                        message: text.clone(),
                        retry_after: None,
                    });
                }
            }
            return;
        }
        if self.model.is_none() {
            self.model = model.map(str::to_string);
        }
        let Some(text) = text else {
            return;
        };
        let id = str_field(message, "id");
        match (&mut self.last_text, id) {
            (Some(last), Some(id)) if self.last_message_id.as_deref() == Some(id) => {
                push_capped(last, "\n");
                push_capped(last, &text);
            }
            _ => {
                self.last_text = Some(text);
                self.last_message_id = id.map(str::to_string);
            }
        }
    }

    fn result(&mut self, event: &Value) {
        self.saw_result = true;
        let subtype = str_field(event, "subtype").unwrap_or("");
        // Some CLI versions send `error_max_turns` with `is_error: false`; the subtype
        // still says the task was not finished.
        self.result_is_error = event.get("is_error").and_then(Value::as_bool) == Some(true)
            || subtype.starts_with("error");
        self.result_text = str_field(event, "result").map(capped);
        self.usage = usage(event).or(self.usage.take());
        if self.model.is_none() {
            self.model = event
                .get("modelUsage")
                .and_then(Value::as_object)
                .and_then(|models| models.keys().next().cloned());
        }
        if !self.result_is_error {
            self.error = None;
            return;
        }
        let errors: Vec<&str> = event
            .get("errors")
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let message = self
            .result_text
            .clone()
            .or_else(|| (!errors.is_empty()).then(|| capped(&errors.join("; "))))
            .unwrap_or_else(|| format!("claude ended with {}", non_empty(subtype, "an error")));
        if let Some(limit) = ratelimit::detect(&message) {
            self.limit = Some(limit);
        } else if count_field(event, "api_error_status") == Some(429) {
            self.limit = Some(RateLimit {
                message: message.clone(),
                retry_after: None,
            });
        }
        self.error = Some(message);
    }

    fn rate_limit_event(&mut self, event: &Value) {
        let Some(info) = event.get("rate_limit_info") else {
            return;
        };
        if str_field(info, "status") != Some("rejected") {
            return;
        }
        let kind = str_field(info, "rateLimitType").unwrap_or("usage");
        let retry_after = count_field(info, "resetsAt")
            .map(|epoch| ratelimit::until_epoch(epoch, std::time::SystemTime::now()));
        self.note_limit(RateLimit {
            message: format!("Claude {kind} limit reached"),
            retry_after,
        });
    }

    /// Keeps the first limit that names a wait time, else the latest one.
    fn note_limit(&mut self, limit: RateLimit) {
        let keep_old = self
            .limit
            .as_ref()
            .is_some_and(|old| old.retry_after.is_some() && limit.retry_after.is_none());
        if !keep_old {
            self.limit = Some(limit);
        }
    }
}

/// The text blocks of an API message, joined; `None` when it has none.
fn text_blocks(message: &Value) -> Option<String> {
    let blocks = message.get("content")?.as_array()?;
    let mut text = String::new();
    for block in blocks {
        if str_field(block, "type") != Some("text") {
            continue;
        }
        if let Some(part) = str_field(block, "text") {
            if !text.is_empty() {
                push_capped(&mut text, "\n");
            }
            push_capped(&mut text, part);
        }
    }
    (!text.is_empty()).then_some(text)
}

fn usage(event: &Value) -> Option<Usage> {
    let cost = event
        .get("total_cost_usd")
        .or_else(|| event.get("cost_usd"))
        .and_then(Value::as_f64)
        .filter(|c| c.is_finite() && *c >= 0.0);
    let Some(u) = event.get("usage").filter(|u| u.is_object()) else {
        return cost.map(|c| Usage {
            cost_usd: Some(c),
            ..Usage::default()
        });
    };
    Some(Usage {
        input_tokens: count_field(u, "input_tokens").unwrap_or(0),
        output_tokens: count_field(u, "output_tokens").unwrap_or(0),
        cache_read_tokens: count_field(u, "cache_read_input_tokens").unwrap_or(0),
        cache_write_tokens: count_field(u, "cache_creation_input_tokens").unwrap_or(0),
        cost_usd: cost,
    })
}

fn non_empty<'a>(s: &'a str, default: &'a str) -> &'a str {
    if s.is_empty() {
        default
    } else {
        s
    }
}

#[cfg(test)]
#[path = "claude_tests.rs"]
mod tests;
