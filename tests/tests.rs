//! Integration tests: one binary that runs the real `run-agent` against temp roots.

mod support;

mod agents;
mod bus;
mod bus_live;
mod method;
mod skeleton;
mod supervision;
mod watching;
