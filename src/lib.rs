//! run-agent: runs AI coding agents in a Ralph loop, with all state in plain files.
//!
//! The binary is a thin shell over [`cli::Cli`]; everything else is crate-private.

mod agents;
mod bus;
pub mod cli;
mod config;
mod error;
mod runner;
mod storage;
mod watch;

/// Entry points for `cargo fuzz` (fuzz/): not part of the API.
#[doc(hidden)]
pub mod fuzzing {
    /// Reads arbitrary bytes as a message bus and checks the reader's invariants;
    /// panics on a violation.
    pub fn bus_reader(bytes: &[u8]) {
        crate::bus::fuzz::check(bytes);
    }
}
