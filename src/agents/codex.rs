//! OpenAI Codex CLI (`codex exec`): how run-agent starts it and how its `--json` output
//! is summarised.
//!
//! What the CLI does, as checked (no `codex` binary was available to run):
//! - Flags: `codex exec [OPTIONS] [PROMPT]`; a prompt of `-` (or none) is read from stdin;
//!   `--json` (alias `--experimental-json`) prints JSON lines on stdout, progress stays on
//!   stderr; `--dangerously-bypass-approvals-and-sandbox` (alias `--yolo`) runs without
//!   approvals or sandbox; `-m`/`--model <MODEL>` picks the model (a global flag of
//!   `exec`). Source: openai/codex `codex-rs/exec/src/cli.rs` and the shared CLI options
//!   it flattens; docs/exec.md ("Non-interactive mode").
//! - Token: `OPENAI_API_KEY` is read from the environment; recent versions also accept
//!   `CODEX_API_KEY` (and `exec` prefers it); otherwise the ChatGPT login is used.
//!   Source: openai/codex `codex_login` (`OPENAI_API_KEY_ENV_VAR`,
//!   `CODEX_API_KEY_ENV_VAR`, test `exec_uses_codex_api_key_env_var`);
//!   developers.openai.com/codex/auth.
//! - Events (`codex-rs/exec/src/exec_events.rs`, `ThreadEvent`, tagged by `type`):
//!   `thread.started` {`thread_id`}, `turn.started`, `turn.completed` {`usage`:
//!   {`input_tokens`, `cached_input_tokens`, `output_tokens`}}, `turn.failed` {`error`:
//!   {`message`}}, `item.started` / `item.updated` / `item.completed` {`item`: {`id`,
//!   `type`, ...}}, `item.plan.delta`, `request_user_input`, `error` {`message`}. Item
//!   types: `agent_message` {`text`}, `reasoning` {`text`}, `command_execution`
//!   {`command`, `aggregated_output`, `exit_code`, `status`}, `file_change`,
//!   `mcp_tool_call`, `collab_tool_call`, `web_search`, `todo_list`, `plan`, `error`
//!   {`message`} (a non-fatal notice). Versions before the #4525 rewrite (Oct 2025)
//!   wrote `item_type` and `assistant_message`; both spellings are read.
//! - Usage: `turn.completed.usage` is the thread's running total
//!   (`event_processor_with_jsonl_output.rs`, `usage_from_last_total`), and `exec` ends
//!   after its turn, so the last `turn.completed` is the run's usage; summing several
//!   would count earlier turns twice. `input_tokens` includes `cached_input_tokens`
//!   (`TokenUsage::non_cached_input` subtracts them), so the cached part is moved to
//!   `cache_read_tokens`. Codex reports no cost and no model on this stream.
//! - Limits: `You've hit your usage limit. ... try again in 4 days 20 hours 9 minutes.`
//!   (openai/codex#3257) and `exceeded retry limit, last status: 429 Too Many Requests`
//!   arrive as `error` / `turn.failed` messages.

use serde::Deserialize;
use serde_json::Value;

use super::backend::Backend;
use super::ratelimit;
use super::stream::{
    capped, count_field, parse_line, str_field, EventMachine, OutputFormat, StreamSummary,
};
use super::usage::Usage;

pub(crate) const BACKEND: Backend = Backend {
    name: "codex",
    program: "codex",
    args: &[
        "exec",
        "--dangerously-bypass-approvals-and-sandbox",
        "--json",
    ],
    trailing_args: &["-"],
    model_flag: "--model",
    token_env: "OPENAI_API_KEY",
    output: OutputFormat::CodexJson,
};

/// Enough of an event to skip command output and reasoning without parsing them.
#[derive(Deserialize)]
struct Head {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    item: Option<ItemHead>,
}

#[derive(Deserialize)]
struct ItemHead {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    item_type: Option<String>,
}

/// The state of one Codex stream, fed line by line.
#[derive(Debug, Default)]
pub(crate) struct CodexEvents {
    final_text: Option<String>,
    usage: Option<Usage>,
    /// From `turn.failed`: the turn is over and it failed.
    failed: Option<String>,
    /// From `error` events; Codex also reports errors it then recovers from, so a turn
    /// that completes afterwards clears it.
    pending_error: Option<String>,
    notices: Vec<String>,
}

/// Non-fatal notices kept to look for a limit message in; a few are enough.
const MAX_NOTICES: usize = 8;

impl EventMachine for CodexEvents {
    fn feed(&mut self, line: &[u8]) -> bool {
        let Some(head) = parse_line::<Head>(line) else {
            return false;
        };
        let item_kind = head
            .item
            .as_ref()
            .and_then(|i| i.kind.as_deref().or(i.item_type.as_deref()));
        let wanted = match head.kind.as_str() {
            "item.completed" => matches!(
                item_kind,
                Some("agent_message" | "assistant_message" | "error")
            ),
            "turn.completed" | "turn.failed" | "error" => true,
            _ => false,
        };
        if !wanted {
            return true;
        }
        let Some(event) = parse_line::<Value>(line) else {
            return false;
        };
        match head.kind.as_str() {
            "item.completed" => self.item(&event, item_kind == Some("error")),
            "turn.completed" => {
                self.pending_error = None;
                if let Some(usage) = event.get("usage").and_then(usage) {
                    self.usage = Some(usage);
                }
            }
            "turn.failed" => {
                let message = event
                    .get("error")
                    .and_then(|e| str_field(e, "message"))
                    .unwrap_or("codex turn failed");
                self.failed = Some(capped(message));
            }
            _ => {
                let message = str_field(&event, "message").unwrap_or("codex reported an error");
                self.pending_error = Some(capped(message));
            }
        }
        true
    }

    fn finish(self) -> StreamSummary {
        let error = self.failed.or(self.pending_error);
        let rate_limited = error.as_deref().and_then(ratelimit::detect).or_else(|| {
            // A limit notice followed by a failure without words of its own.
            error.as_ref()?;
            self.notices.iter().rev().find_map(|n| ratelimit::detect(n))
        });
        StreamSummary {
            final_text: self.final_text,
            usage: self.usage,
            model: None,
            error,
            rate_limited,
            ..StreamSummary::default()
        }
    }
}

impl CodexEvents {
    fn item(&mut self, event: &Value, is_notice: bool) {
        let Some(item) = event.get("item") else {
            return;
        };
        if is_notice {
            if let Some(message) = str_field(item, "message") {
                if self.notices.len() == MAX_NOTICES {
                    self.notices.remove(0);
                }
                self.notices.push(capped(message));
            }
            return;
        }
        if let Some(text) = str_field(item, "text") {
            self.final_text = Some(capped(text));
        }
    }
}

fn usage(u: &Value) -> Option<Usage> {
    u.as_object()?;
    let input = count_field(u, "input_tokens").unwrap_or(0);
    let cached = count_field(u, "cached_input_tokens").unwrap_or(0);
    Some(Usage {
        input_tokens: input.saturating_sub(cached),
        output_tokens: count_field(u, "output_tokens").unwrap_or(0),
        cache_read_tokens: cached,
        cache_write_tokens: 0,
        cost_usd: None,
    })
}

#[cfg(test)]
#[path = "codex_tests.rs"]
mod tests;
