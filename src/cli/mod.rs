//! The command line: argument definitions, one file per command, and the exit-code edge.

mod args;
mod bus;
mod bus_post;
mod bus_read;
mod bus_stress;
mod context;
mod gc;
mod job;
mod output;
mod run_args;
mod task;

pub use args::Cli;
