#![allow(clippy::unwrap_used)]
//! Golden output, determinism, atomicity and round-trip tests of `trestle build`.
//! `TRESTLE_BLESS=1 cargo test` rewrites golden/; review that diff like code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_trestle"))
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every file under `dir`, by '/'-separated relative path.
fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let rel = e
                .path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.insert(rel, std::fs::read(e.path()).unwrap());
        }
    }
    out
}

fn build(root: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    bin()
        .arg("build")
        .arg(root)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn copy_tree(from: &Path, to: &Path, reverse: bool) {
    let mut entries: Vec<_> = walkdir::WalkDir::new(from)
        .into_iter()
        .map(|e| e.unwrap())
        .collect();
    if reverse {
        entries.reverse();
    }
    for e in &entries {
        let rel = e.path().strip_prefix(from).unwrap();
        let target = to.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

#[test]
fn golden_examples() {
    let specs = manifest_dir().join("specs");
    let mut failures = Vec::new();
    for example in std::fs::read_dir(&specs).unwrap() {
        let example = example.unwrap().path();
        let name = example.file_name().unwrap().to_string_lossy().into_owned();
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let res = build(&example, &out, &["--color", "never"]);
        assert!(
            res.status.success(),
            "build of {name} failed:\n{}",
            String::from_utf8_lossy(&res.stderr)
        );
        let actual = read_tree(&out);
        let golden_dir = manifest_dir().join("golden").join(&name);
        if std::env::var_os("TRESTLE_BLESS").is_some() {
            let _ = std::fs::remove_dir_all(&golden_dir);
            for (path, bytes) in &actual {
                let p = golden_dir.join(path);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(p, bytes).unwrap();
            }
            continue;
        }
        let expected = read_tree(&golden_dir);
        let paths: std::collections::BTreeSet<&String> =
            expected.keys().chain(actual.keys()).collect();
        for path in paths {
            let e = expected
                .get(path)
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            let a = actual
                .get(path)
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            if e != a || expected.contains_key(path) != actual.contains_key(path) {
                let diff = similar::TextDiff::from_lines(e.as_str(), a.as_str())
                    .unified_diff()
                    .header(&format!("golden/{name}/{path}"), "actual")
                    .to_string();
                failures.push(diff);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "golden output differs (TRESTLE_BLESS=1 cargo test rewrites it):\n{}",
        failures.join("\n")
    );
}

#[test]
fn output_is_deterministic_across_threads_and_file_order() {
    let example = manifest_dir().join("specs/acme");
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    let c = tmp.path().join("c");
    assert!(build(&example, &a, &["-j", "1"]).status.success());
    assert!(build(&example, &b, &[]).status.success());
    let copy = tmp.path().join("copy");
    copy_tree(&example, &copy, true);
    assert!(build(&copy, &c, &["-j", "2"]).status.success());
    let ta = read_tree(&a);
    assert!(ta.len() > 10);
    assert_eq!(ta, read_tree(&b), "-j 1 and default threads differ");
    assert_eq!(ta, read_tree(&c), "a copy with another file order differs");
}

#[test]
fn errors_leave_output_untouched_and_foreign_files_survive() {
    let example = manifest_dir().join("specs/acme");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert!(build(&example, &out, &[]).status.success());
    std::fs::write(out.join("NOTES.md"), "mine").unwrap();
    // A foreign file survives a rebuild.
    assert!(build(&example, &out, &[]).status.success());
    assert_eq!(
        std::fs::read_to_string(out.join("NOTES.md")).unwrap(),
        "mine"
    );
    let before = read_tree(&out);
    // A spec tree with an error writes nothing.
    let broken = tmp.path().join("broken");
    copy_tree(&example, &broken, false);
    let app = broken.join("apps/checkout/checkout-api.kdl");
    let text = std::fs::read_to_string(&app)
        .unwrap()
        .replacen("replicas", "replicass", 1);
    std::fs::write(&app, text).unwrap();
    let res = build(&broken, &out, &[]);
    assert_eq!(res.status.code(), Some(1));
    assert_eq!(
        before,
        read_tree(&out),
        "a failed build changed the output directory"
    );
}

#[test]
fn check_reports_drift_with_exit_3() {
    let example = manifest_dir().join("specs/acme");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert!(build(&example, &out, &[]).status.success());
    let check = |out: &Path| {
        bin()
            .arg("check")
            .arg(&example)
            .arg("--out")
            .arg(out)
            .args(["--color", "never"])
            .output()
            .unwrap()
    };
    assert_eq!(check(&out).status.code(), Some(0));
    let victim = read_tree(&out)
        .keys()
        .find(|k| k.ends_with("namespace.yaml"))
        .unwrap()
        .clone();
    std::fs::write(out.join(&victim), "edited\n").unwrap();
    let res = check(&out);
    assert_eq!(res.status.code(), Some(3));
    let stdout = String::from_utf8_lossy(&res.stdout);
    assert!(
        stdout.contains(&format!("--- a/{victim}")) && stdout.contains("-edited"),
        "{stdout}"
    );
}

/// Hostile strings in env values and args come back from the YAML exactly.
#[test]
fn hostile_values_round_trip() {
    let hostile = [
        "yes",
        "no",
        "on",
        "off",
        "~",
        "null",
        "0x1F",
        "1e3",
        "0777",
        "1_000",
        "2001-12-14",
        "1:20",
        "<<",
        " lead",
        "trail ",
        "a: b",
        "a #b",
        "#x",
        "quote\"s",
        "back\\slash",
        "new\nline",
        "ünï©ødé ✓",
        "- dash",
        "[x]",
        "{y}",
        "*a",
        "&b",
        "!t",
        "%p",
        "@at",
        "`tick`",
        "---",
        "...",
        "tab\there",
    ];
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("spec");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::copy(
        manifest_dir().join("fixtures/_base/platform.kdl"),
        root.join("platform.kdl"),
    )
    .unwrap();
    let mut env = String::new();
    for (i, h) in hostile.iter().enumerate() {
        let escaped = h
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
            .replace('\t', "\\t");
        env.push_str(&format!("        env V{i}=\"{escaped}\"\n"));
    }
    env.push_str("        env DOLLAR=\"$${HOME} and $(X)\"\n");
    let app = format!(
        "workload rt {{\n    owner platform\n    system shop\n    container main {{\n        image \"ghcr.io/acme/rt:1.0.0\"\n{env}        args \"yes\" \"1:20\" \"$${{x}}\"\n    }}\n}}\n"
    );
    std::fs::write(root.join("rt.kdl"), app).unwrap();
    let out = tmp.path().join("out");
    let res = build(&root, &out, &["--env", "dev"]);
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let text = std::fs::read_to_string(out.join("dev/kubernetes/shop-dev/rt.yaml")).unwrap();
    let docs: Vec<serde_yaml_ng::Value> = serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    let deploy = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
    let container = &deploy["spec"]["template"]["spec"]["containers"][0];
    let env = container["env"].as_sequence().unwrap();
    for (i, h) in hostile.iter().enumerate() {
        let var = env
            .iter()
            .find(|e| e["name"] == format!("V{i}").as_str())
            .unwrap();
        assert_eq!(var["value"].as_str(), Some(*h), "V{i}");
    }
    let dollar = env.iter().find(|e| e["name"] == "DOLLAR").unwrap();
    assert_eq!(
        dollar["value"].as_str(),
        Some("$${HOME} and $$(X)"),
        "literal $ is doubled for Kubernetes"
    );
    let args: Vec<&str> = container["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args, ["yes", "1:20", "$${x}"]);
}
