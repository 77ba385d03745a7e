#![allow(clippy::unwrap_used)]
//! Data-driven diagnostics tests: every folder under `fixtures/` (except `_base`) is one case.
//!
//! A case's spec tree is `fixtures/_base/` overlaid with the case's own files (a file of the same
//! name replaces the base one; a case holding a file named `no-base` starts empty). The harness
//! runs the real binary, `trestle validate ROOT` (or the verb named in a `verb` file), and
//! compares against `expected.txt`: one line per diagnostic (`CODE severity file:line:col`)
//! followed by the rendered human diagnostics. `TRESTLE_BLESS=1 cargo test` rewrites them.
//! A case named `T123-…` must report code T123; a case named `rule-<rule-id>-fires` must report
//! that rule and one named `rule-<rule-id>-passes` must not; a `code` file lists further codes
//! (rule ids, policy names) the case must report, one per line. Any case must exit 0 or 1,
//! never panic.

use std::path::{Path, PathBuf};
use std::process::Command;

use libtest_mimic::{Arguments, Failed, Trial};

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == "expected.txt" || name == "no-base" || name == "verb" || name == "code" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(&target)?;
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

fn run_case(dir: &Path) -> Result<(), Failed> {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("spec");
    std::fs::create_dir_all(&root)?;
    if !dir.join("no-base").exists() {
        copy_tree(&dir.parent().unwrap().join("_base"), &root)?;
    }
    copy_tree(dir, &root)?;
    let verb = std::fs::read_to_string(dir.join("verb")).unwrap_or_else(|_| "validate".into());
    let mut args: Vec<String> = verb.split_whitespace().map(str::to_string).collect();
    args.push(root.to_string_lossy().into_owned());
    if args[0] == "build" || args[0] == "check" || args[0] == "diff" {
        args.push("--out".into());
        args.push(tmp.path().join("out").to_string_lossy().into_owned());
    }
    let bin = env!("CARGO_BIN_EXE_trestle");
    let json = Command::new(bin)
        .args(&args)
        .args(["--format", "json", "--today", "2026-11-24"])
        .output()?;
    let human = Command::new(bin)
        .args(&args)
        .args(["--color", "never", "--today", "2026-11-24"])
        .env("NO_COLOR", "1")
        .output()?;
    for out in [&json, &human] {
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("panicked") {
            return Err(format!("trestle panicked:\n{stderr}").into());
        }
    }
    let diags: Vec<serde_json::Value> = serde_json::from_slice(&json.stdout).map_err(|e| {
        format!(
            "--format json is not a JSON array: {e}\n{}",
            String::from_utf8_lossy(&json.stdout)
        )
    })?;
    let has_error = diags.iter().any(|d| d["severity"] == "error");
    let code = json.status.code();
    let want_code = if has_error { Some(1) } else { Some(0) };
    if code != want_code {
        return Err(format!("exit code {code:?}, expected {want_code:?}").into());
    }
    if human.status.code() != want_code {
        return Err(format!(
            "human run exit code {:?}, expected {want_code:?}",
            human.status.code()
        )
        .into());
    }
    if let Some(expected_code) = name
        .split('-')
        .next()
        .filter(|c| c.len() == 4 && c.starts_with('T'))
    {
        if !diags.iter().any(|d| d["code"] == expected_code) {
            return Err(format!(
                "expected a {expected_code} diagnostic, got {:?}",
                diags.iter().map(|d| d["code"].clone()).collect::<Vec<_>>()
            )
            .into());
        }
    }
    let codes: Vec<&str> = diags.iter().filter_map(|d| d["code"].as_str()).collect();
    let mut required: Vec<String> = std::fs::read_to_string(dir.join("code"))
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if let Some(rest) = name.strip_prefix("rule-") {
        // The longest rule id the name starts with: `rule-image-tag-pinned-digest-fires`.
        let rule = trestle::rules::RULES
            .iter()
            .map(|r| r.id)
            .filter(|id| rest.starts_with(&format!("{id}-")))
            .max_by_key(|id| id.len())
            .ok_or_else(|| format!("`{name}` names no built-in rule"))?;
        if name.ends_with("-fires") {
            required.push(rule.to_string());
        } else if name.ends_with("-passes") {
            if codes.contains(&rule) {
                return Err(format!("`{rule}` fired, but the case says it passes").into());
            }
        } else {
            return Err(format!("`{name}` must end in -fires or -passes").into());
        }
    }
    for want in &required {
        if !codes.contains(&want.as_str()) {
            return Err(format!("expected a `{want}` diagnostic, got {codes:?}").into());
        }
    }
    let mut actual = String::new();
    for d in &diags {
        actual.push_str(&format!(
            "{} {} {}:{}:{}\n",
            d["code"].as_str().unwrap_or("?"),
            d["severity"].as_str().unwrap_or("?"),
            d["file"].as_str().unwrap_or("-"),
            d["line"],
            d["column"]
        ));
    }
    actual.push_str("---\n");
    let tmp_str = tmp.path().to_string_lossy().into_owned();
    actual.push_str(&String::from_utf8_lossy(&human.stderr).replace(&tmp_str, "$TMP"));
    compare(&dir.join("expected.txt"), &actual)
}

/// Compare with a golden file, or rewrite it when blessing.
fn compare(path: &Path, actual: &str) -> Result<(), Failed> {
    if std::env::var_os("TRESTLE_BLESS").is_some() {
        std::fs::write(path, actual)?;
        return Ok(());
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    if expected == actual {
        return Ok(());
    }
    let diff = similar::TextDiff::from_lines(expected.as_str(), actual)
        .unified_diff()
        .header("expected", "actual")
        .to_string();
    Err(format!(
        "{} differs (TRESTLE_BLESS=1 cargo test rewrites it):\n{diff}",
        path.display()
    )
    .into())
}

fn main() {
    let args = Arguments::from_args();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("fixtures/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n != "_base"))
        .collect();
    cases.sort();
    let trials = cases
        .into_iter()
        .map(|dir| {
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            Trial::test(name, move || run_case(&dir))
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
