//! The message bus: record format, locked appends, lockless reads, following.

pub(crate) mod append;
pub(crate) mod format;
