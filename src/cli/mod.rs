//! The command line: argument definitions, one file per command, and the exit-code edge.

mod args;
mod context;
mod job;
mod output;
mod resume;
mod run_args;
mod stop;
mod target;
mod task;
mod usage;
mod validate;
mod wait;

pub use args::Cli;
