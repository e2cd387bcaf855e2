//! The command line: argument definitions, one file per command, and the exit-code edge.

mod args;
mod bus;
mod bus_post;
mod bus_read;
mod bus_stress;
mod completions;
mod context;
mod gc;
mod job;
mod list;
mod man;
mod output;
mod resume;
mod run_args;
mod show_output;
mod status;
mod stop;
mod target;
mod task;
mod usage;
mod validate;
mod wait;
mod watch;

pub use args::Cli;
