//! On-disk state: the runs-root layout, identifiers, run-info records and atomic writes.

pub(crate) mod atomic;
pub(crate) mod ids;
pub(crate) mod layout;
pub(crate) mod run_info;
pub(crate) mod time;
