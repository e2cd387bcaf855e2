//! The command line: argument definitions, one file per command, and the exit-code edge.

mod args;
mod context;
mod job;
mod output;
mod run_args;
mod task;
mod usage;
mod validate;

pub use args::Cli;
