//! Read-only views of the runs root: scanning, the run tree, listings, following files,
//! the live `watch` stream, the status line, and garbage collection of finished runs.

pub(crate) mod bus_render;
pub(crate) mod children;
pub(crate) mod fast_info;
pub(crate) mod follow;
pub(crate) mod gc;
pub(crate) mod health;
pub(crate) mod list;
pub(crate) mod progress;
pub(crate) mod scan;
pub(crate) mod status_line;
pub(crate) mod stream;
pub(crate) mod tree;
