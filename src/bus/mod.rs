//! The message bus: record format, locked appends, lockless reads, following.

pub(crate) mod address;
pub(crate) mod append;
pub(crate) mod cursor;
pub(crate) mod discover;
pub(crate) mod error;
pub(crate) mod follow;
pub(crate) mod format;
pub(crate) mod fuzz;
pub(crate) mod parse;
pub(crate) mod read;
pub(crate) mod rotate;
