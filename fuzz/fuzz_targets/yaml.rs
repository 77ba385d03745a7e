//! Fuzz target: the fast YAML reader against the serde_yaml_ng path on one text.
#![no_main]

#[allow(dead_code)] // each target uses one part of the harness
#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::yaml(data));
