//! Integration tests: one binary that runs the real `run-agent` against temp roots.

mod support;

mod agents;
mod skeleton;
mod supervision;
mod watching;
