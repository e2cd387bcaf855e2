//! The agent-backend layer: how each built-in agent CLI is started, how its output
//! stream is summarised, and how usage and versions are read.
// Nothing outside this module calls it yet; the runner will, through the re-exports.
#![allow(dead_code, unused_imports)]

pub(crate) mod usage;

pub(crate) use usage::{Price, Usage};
