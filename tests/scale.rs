#![allow(clippy::unwrap_used)]
//! Determinism at scale: a generated tree (examples/gen.rs) builds byte-identically with
//! `-j 1`, `-j 2` and `-j 8`, and from a copy whose files were created in reverse order.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

#[allow(dead_code)]
#[path = "../examples/gen.rs"]
mod gen;

/// Every file under `dir`, by '/'-separated relative path.
fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let rel = e.path().strip_prefix(dir).unwrap();
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.insert(rel.join("/"), std::fs::read(e.path()).unwrap());
        }
    }
    out
}

fn build(root: &Path, out: &Path, jobs: &str) -> BTreeMap<String, Vec<u8>> {
    let o = Command::new(env!("CARGO_BIN_EXE_trestle"))
        .arg("build")
        .arg(root)
        .arg("--out")
        .arg(out)
        .args(["-j", jobs, "--color", "never", "--today", "2026-01-01"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "build -j {jobs} failed:\n{stderr}");
    assert!(
        stderr.contains("0 errors, 0 warnings"),
        "the generated tree is clean:\n{stderr}"
    );
    read_tree(out)
}

/// Copies the files of `from` into `to`, creating them (and their folders) in reverse order.
fn copy_reversed(from: &Path, to: &Path) {
    let files: Vec<_> = read_tree(from).into_iter().rev().collect();
    for (rel, bytes) in files {
        let target = to.join(rel);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, bytes).unwrap();
    }
}

#[test]
fn generated_tree_builds_identically_across_threads_and_file_order() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("specs");
    let files = gen::generate(200, &root).unwrap();
    assert!(files > 200, "one file per workload plus teams and platform");

    let reference = build(&root, &tmp.path().join("out-j1"), "1");
    // The tree is big enough to be interesting: three environments, many namespaces,
    // Terraform for every database and cache, and the catalog.
    assert!(reference.len() > 1000, "{} files", reference.len());
    for env in ["dev", "staging", "prod"] {
        assert!(reference.contains_key(&format!("{env}/terraform/main.tf")));
    }
    assert!(reference.contains_key("prod/terraform/w00001-api-db.tf"));
    assert!(reference.contains_key("dev/kubernetes/orders-0001-dev/w00001-api.yaml"));

    for jobs in ["2", "8"] {
        let other = build(&root, &tmp.path().join(format!("out-j{jobs}")), jobs);
        assert_same(&reference, &other, &format!("-j {jobs}"));
    }

    let reversed = tmp.path().join("reversed");
    copy_reversed(&root, &reversed);
    let other = build(&reversed, &tmp.path().join("out-reversed"), "2");
    assert_same(&reference, &other, "reverse file order");
}

fn assert_same(a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>, what: &str) {
    let keys_a: Vec<&String> = a.keys().collect();
    let keys_b: Vec<&String> = b.keys().collect();
    assert_eq!(keys_a, keys_b, "{what}: the same files");
    for (k, v) in a {
        assert!(b[k] == *v, "{what}: `{k}` differs");
    }
}
