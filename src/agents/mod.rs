//! Agent backends: how each agent is started and how its output is read.

pub(crate) mod backend;
pub(crate) mod stream;
pub(crate) mod usage;
