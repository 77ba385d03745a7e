#![allow(clippy::unwrap_used)]
//! Replays every input that once crashed or hung a fuzz target (`fuzz/regressions/<target>/`),
//! and the hand-written seeds (`fuzz/seeds/<target>/`), through the same harness the fuzz
//! targets run (fuzz/harness.rs). See docs/fuzzing.md.

use std::path::{Path, PathBuf};

#[path = "../fuzz/harness.rs"]
mod harness;

fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files: Vec<PathBuf> = ["regressions", "seeds"]
        .iter()
        .flat_map(|kind| {
            std::fs::read_dir(root.join(kind).join(target))
                .into_iter()
                .flatten()
        })
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn frontend_inputs() {
    let files = inputs("frontend");
    assert!(files.len() > 10, "seeds exist: {files:?}");
    for f in files {
        let data = std::fs::read(&f).unwrap();
        harness::frontend(&data);
    }
}

#[test]
fn compile_inputs() {
    let files = inputs("compile");
    assert!(!files.is_empty());
    for f in files {
        let data = std::fs::read(&f).unwrap();
        let dir = tempfile::tempdir().unwrap();
        eprintln!("{}", f.display());
        harness::compile(&data, dir.path());
    }
}

#[test]
fn yaml_inputs() {
    let files = inputs("yaml");
    assert!(files.len() > 10, "seeds exist: {files:?}");
    let mut fast = 0;
    for f in files {
        let data = std::fs::read(&f).unwrap();
        harness::yaml(&data);
        fast += usize::from(trestle::yaml::fast::parse(&String::from_utf8_lossy(&data)).is_some());
    }
    // Most seeds take the fast path, so the fuzzer starts inside the subset.
    assert!(fast > 10, "{fast}");
}

/// The seeds reach the back end: they compile without errors, so the fuzzer starts from
/// inputs that exercise templates and every emitter.
#[test]
fn compile_seeds_are_valid() {
    for name in ["terraform", "kubernetes"] {
        let data = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fuzz/seeds/compile")
                .join(name),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        harness::compile(&data, dir.path());
        let outcome = trestle::compile(
            dir.path(),
            &trestle::Options {
                today: trestle::policy::waivers::parse_date("2026-01-01"),
                ..Default::default()
            },
        );
        let errors: Vec<String> = outcome
            .diags
            .iter()
            .filter(|d| d.is_error())
            .map(|d| format!("{} {}", d.code, d.message))
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
        assert!(
            outcome.artifacts.keys().any(|k| k.contains("/api-t.")),
            "{name}: the template is rendered"
        );
    }
}
