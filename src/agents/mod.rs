//! The agent-backend layer: how each built-in agent CLI is started, how its output
//! stream is summarised, and how usage and agent versions are read.
// Nothing outside this module calls it yet; the runner will, through the re-exports.
#![allow(dead_code, unused_imports)]

pub(crate) mod backend;
pub(crate) mod claude;
pub(crate) mod codex;
pub(crate) mod gemini;
pub(crate) mod ratelimit;
pub(crate) mod stream;
pub(crate) mod usage;
pub(crate) mod version;

pub(crate) use backend::{builtin, Backend, BUILTINS};
pub(crate) use stream::{
    summarize, summarize_file, OutputFormat, RateLimit, StreamSummary, UnknownOutputFormat,
};
pub(crate) use usage::{Price, Usage};
pub(crate) use version::agent_version;

#[cfg(test)]
mod test_support;
