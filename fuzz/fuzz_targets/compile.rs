//! Fuzz target: the whole compile of a small tree with a fuzzed spec file and template
//! (input: spec bytes, a 0xFF byte, template bytes).
#![no_main]

#[allow(dead_code)] // each target uses one half of the harness
#[path = "../harness.rs"]
mod harness;

use std::path::PathBuf;
use std::sync::OnceLock;

fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("trestle-fuzz-compile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("the temporary directory is writable");
        dir
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::compile(data, scratch()));
