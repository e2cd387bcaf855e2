//! What an agent prints on stdout: plain text or one of the CLIs' JSON streams.

use std::fmt;
use std::str::FromStr;

/// The shape of an agent's stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum OutputFormat {
    #[default]
    Text,
    ClaudeJson,
    CodexJson,
    GeminiJson,
}

impl FromStr for OutputFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(Self::Text),
            "claude-json" => Ok(Self::ClaudeJson),
            "codex-json" => Ok(Self::CodexJson),
            "gemini-json" => Ok(Self::GeminiJson),
            other => Err(format!(
                "unknown output format {other:?} (use text, claude-json, codex-json or gemini-json)"
            )),
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Text => "text",
            Self::ClaudeJson => "claude-json",
            Self::CodexJson => "codex-json",
            Self::GeminiJson => "gemini-json",
        })
    }
}
