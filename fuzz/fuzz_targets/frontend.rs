//! Fuzz target: one spec file's bytes through parsing, lowering and diagnostic rendering.
#![no_main]

#[allow(dead_code)] // each target uses one half of the harness
#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::frontend(data));
