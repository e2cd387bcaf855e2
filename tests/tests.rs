//! Integration tests: one binary that runs the real `run-agent` against temp roots.

mod support;

mod bus;
mod bus_live;
mod skeleton;
