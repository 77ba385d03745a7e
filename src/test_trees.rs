//! The spec trees that unit tests compile to see real rendered output: specs/acme, every
//! fixture, and a generated 12-workload tree (`examples/gen.rs`).

use std::path::PathBuf;

#[allow(dead_code)] // only `generate` is used here
#[path = "../examples/gen.rs"]
mod gen;

/// Compile every tree (their diagnostics are not looked at).
pub(crate) fn compile_all(tag: &str) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut roots = vec![root.join("specs/acme")];
    let mut fixtures: Vec<PathBuf> = std::fs::read_dir(root.join("fixtures"))
        .expect("fixtures/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    fixtures.sort();
    roots.extend(fixtures);
    let generated = std::env::temp_dir().join(format!("trestle-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&generated);
    gen::generate(12, &generated).expect("generated tree");
    roots.push(generated.clone());
    for r in &roots {
        let _ = crate::compile(r, &crate::Options::default());
    }
    let _ = std::fs::remove_dir_all(&generated);
}
