//! The agent-backend layer: choosing an agent, how each built-in agent CLI is started,
//! how its output stream is summarised, and how usage and agent versions are read.

pub(crate) mod backend;
pub(crate) mod claude;
pub(crate) mod codex;
pub(crate) mod collect;
pub(crate) mod gemini;
pub(crate) mod ratelimit;
pub(crate) mod resolve;
pub(crate) mod stream;
pub(crate) mod usage;
pub(crate) mod version;

#[cfg(test)]
mod test_support;
