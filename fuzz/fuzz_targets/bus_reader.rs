//! Fuzz the bus reader: arbitrary bytes must never panic it or stall it, and a valid
//! record appended after them must read back exactly (docs/performance.md has the runs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    run_agent::fuzzing::bus_reader(data);
});
