#![allow(clippy::unwrap_used)]
//! Hostile input: every case gets a clear diagnostic and a bounded run (the binary is killed
//! and the test fails if it takes longer than [`LIMIT`]), never a panic, a hang or output
//! outside OUT. Big inputs are generated here, not committed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Generous for debug builds on a busy 2-core machine; a hang is minutes, not seconds.
const LIMIT: Duration = Duration::from_secs(120);

/// The platform every case starts from: one environment, one team, one system.
const BASE: &str = r#"
environment dev {
    type development
    region eu-west-1
}
team core {
    title "Core"
    email "core@example.com"
    member ada email="ada@example.com"
}
system shop { owner core; description "Shop"; }
"#;

struct Run {
    code: i32,
    /// Diagnostic codes from `--format json`, in output order.
    codes: Vec<String>,
    /// Messages from `--format json`, in output order.
    messages: Vec<String>,
    stderr: String,
}

/// Runs `trestle VERB ROOT ARGS… --format json` and kills it after [`LIMIT`].
fn trestle(verb: &str, root: &Path, args: &[&str]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trestle"))
        .arg(verb)
        .arg(root)
        .args(args)
        .args(["--format", "json", "--today", "2026-01-01"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Drain the pipes on threads so that a chatty child cannot block on a full pipe.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out, &mut s).unwrap();
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut err, &mut s).unwrap();
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("trestle {verb} took longer than {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = out.join().unwrap();
    let stderr = err.join().unwrap();
    let code = status
        .code()
        .unwrap_or_else(|| panic!("killed by a signal: {stderr}"));
    assert!(
        !stderr.contains("panicked") && !stderr.contains("overflowed its stack"),
        "{stderr}"
    );
    let json: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is a JSON array ({e}):\n{stdout}\n{stderr}"));
    let items = json.as_array().unwrap();
    let field = |k: &str| -> Vec<String> {
        items
            .iter()
            .map(|d| d[k].as_str().unwrap_or_default().to_string())
            .collect()
    };
    Run {
        code,
        codes: field("code"),
        messages: field("message"),
        stderr,
    }
}

fn validate(root: &Path) -> Run {
    trestle("validate", root, &[])
}

/// The summary line of `trestle validate ROOT` (human output only has one).
fn summary(root: &Path) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_trestle"))
        .arg("validate")
        .arg(root)
        .args(["--color", "never", "--today", "2026-01-01"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    stderr.lines().last().unwrap_or_default().to_string()
}

/// A fresh spec tree holding the base platform.
fn tree() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("spec");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("platform.kdl"), BASE).unwrap();
    (tmp, root)
}

fn assert_only(run: &Run, code: &str) {
    assert_eq!(
        run.code, 1,
        "exit 1 for errors in the specs: {:?}",
        run.messages
    );
    assert!(
        !run.codes.is_empty() && run.codes.iter().all(|c| c == code),
        "only {code}: {:?} {:?}",
        run.codes,
        run.messages
    );
}

#[test]
fn deeply_nested_kdl_is_refused_before_parsing() {
    let (_tmp, root) = tree();
    let deep = |prefix: &str| {
        format!(
            "{prefix}{}{}",
            "a {\n".repeat(100_000),
            "}\n".repeat(100_000)
        )
    };
    std::fs::write(root.join("deep.kdl"), deep("")).unwrap();
    let run = validate(&root);
    assert_only(&run, "T104");
    assert_eq!(run.codes.len(), 1);

    // Strings that a careless brace counter would misread must not hide the nesting: a
    // multi-line string holding a lone `"`, and a raw string ending in a backslash.
    std::fs::write(root.join("deep.kdl"), deep("x \"\"\"\n\"\n\"\"\"\n")).unwrap();
    assert_only(&validate(&root), "T104");
    std::fs::write(root.join("deep.kdl"), deep("x #\"\\\"#\n")).unwrap();
    assert_only(&validate(&root), "T104");
    std::fs::write(root.join("deep.kdl"), deep("x ##\"a\"# {\"##\n")).unwrap();
    assert_only(&validate(&root), "T104");
}

#[test]
fn invalid_kdl_with_deeply_nested_slashdash_blocks_is_refused_quickly() {
    // The kdl crate (which reports syntax errors) backtracks exponentially on this shape; at
    // depth 30 it would run for hours.
    let (_tmp, root) = tree();
    let d = 30;
    let text = format!("{}{} =bad\n", "x;/-a {".repeat(d), "}".repeat(d));
    std::fs::write(root.join("sd.kdl"), text).unwrap();
    let started = std::time::Instant::now();
    let run = validate(&root);
    assert_only(&run, "T104");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    // Valid KDL of the same shape is parsed (by the fast parser): only the unknown node `x`
    // is reported, no syntax or nesting error.
    let valid = format!("{}{}\n", "x;/-a {".repeat(d), "}".repeat(d));
    std::fs::write(root.join("sd.kdl"), valid).unwrap();
    assert_only(&validate(&root), "T201");
}

#[test]
fn a_50_mb_spec_file_is_refused_quickly() {
    let (_tmp, root) = tree();
    let node = "domain generated { owner core; description \"padding padding padding\"; }\n";
    let text = node.repeat(50 * 1024 * 1024 / node.len());
    assert!(text.len() > 49 * 1024 * 1024);
    std::fs::write(root.join("huge.kdl"), &text).unwrap();
    let start = Instant::now();
    let run = validate(&root);
    assert_only(&run, "T105");
    assert!(
        run.messages[0].contains("`huge.kdl` is 50.0 MiB; spec files are limited to 16 MiB"),
        "{:?}",
        run.messages
    );
    // The file is not read past the limit, let alone parsed.
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn ten_thousand_files() {
    let (_tmp, root) = tree();
    for i in 0..10_000 {
        let dir = root.join(format!("teams/{:03}", i / 100));
        if i % 100 == 0 {
            std::fs::create_dir_all(&dir).unwrap();
        }
        std::fs::write(
            dir.join(format!("t{i:05}.kdl")),
            format!("team t{i:05} {{ title \"Team {i}\"; email \"t{i:05}@example.com\"; parent core; }}\n"),
        )
        .unwrap();
    }
    // One duplicate among them is found, with both places.
    std::fs::write(
        root.join("teams/099/dup.kdl"),
        "team t04711 { title \"Again\"; email \"again@example.com\"; }\n",
    )
    .unwrap();
    let run = validate(&root);
    assert_only(&run, "T302");
    assert_eq!(run.codes.len(), 1);
    let summary = summary(&root);
    assert!(
        summary.ends_with("(10002 spec files)"),
        "every file is read: {summary}"
    );
}

#[cfg(unix)]
#[test]
fn symlink_loop_and_symlinks_out_of_root() {
    use std::os::unix::fs::symlink;
    let (tmp, root) = tree();
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("x.kdl"), "team outsider { title \"O\"; }\n").unwrap();
    std::fs::write(outside.join("config.yaml"), "secret: 1\n").unwrap();

    symlink(".", root.join("loop")).unwrap();
    symlink(outside.join("x.kdl"), root.join("linked.kdl")).unwrap();
    // A folder link to the whole file system is refused without walking it.
    symlink("/", root.join("everything")).unwrap();
    // A config file whose link leaves ROOT is refused like `..` would be.
    std::fs::create_dir_all(root.join("config")).unwrap();
    symlink(outside.join("config.yaml"), root.join("config/app.yaml")).unwrap();
    std::fs::write(
        root.join("app.kdl"),
        r#"workload app {
    owner core
    system shop
    container main {
        image "registry.example.com/app:1.0.0"
        file "/etc/app/config.yaml" source="config/app.yaml"
    }
}
"#,
    )
    .unwrap();

    let start = Instant::now();
    let run = validate(&root);
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(run.code, 1);
    let mut found: Vec<(&str, &str)> = run
        .codes
        .iter()
        .map(String::as_str)
        .zip(run.messages.iter().map(String::as_str))
        .collect();
    found.sort();
    let expect = [
        ("T103", "symlink loop at `loop`"),
        ("T304", "`everything` is a symlink to a folder outside ROOT"),
        ("T304", "`linked.kdl` is a symlink to a file outside ROOT"),
    ];
    for (code, message) in expect {
        assert!(
            found.iter().any(|(c, m)| *c == code && m.contains(message)),
            "{code} {message}: {found:?}"
        );
    }
    assert!(
        found
            .iter()
            .any(|(c, m)| *c == "T304" && m.contains("config/app.yaml")),
        "the config file link: {found:?}"
    );
    assert!(
        !run.messages.iter().any(|m| m.contains("outsider")),
        "nothing from outside ROOT is read: {found:?}"
    );
}

#[test]
fn paths_with_dot_dot_stay_inside_root() {
    let (tmp, root) = tree();
    std::fs::write(tmp.path().join("passwd"), "root:x:0:0\n").unwrap();
    std::fs::write(tmp.path().join("evil.tf.hbs"), "resource \"x\" \"y\" {}\n").unwrap();
    std::fs::create_dir_all(root.join("apps/deep")).unwrap();
    std::fs::write(
        root.join("apps/deep/app.kdl"),
        r#"resource-type thing {
    output url
    provisioner any {
        terraform "../../../evil.tf.hbs"
        output url value="http://x"
    }
}
workload app {
    owner core
    system shop
    container main {
        image "registry.example.com/app:1.0.0"
        file "/etc/passwd" source="../../../passwd"
        file "/etc/hosts" source="../../apps/../../passwd"
    }
    resource t type=thing
}
"#,
    )
    .unwrap();
    let run = validate(&root);
    assert_only(&run, "T304");
    assert_eq!(run.codes.len(), 3, "{:?}", run.messages);
}

#[test]
fn non_utf8_bytes() {
    let (_tmp, root) = tree();
    // Latin-1 "café" in a string, and bytes that are not text at all.
    std::fs::write(
        root.join("latin1.kdl"),
        b"team caf\xe9 { title \"Caf\xe9\"; }\n",
    )
    .unwrap();
    std::fs::write(
        root.join("binary.kdl"),
        [0xFFu8, 0xFE, 0x00, 0x80, 0x7B, 0x7B],
    )
    .unwrap();
    let run = validate(&root);
    assert_only(&run, "T102");
    assert_eq!(run.codes.len(), 2, "{:?}", run.messages);
    assert!(summary(&root).ends_with("(3 spec files)"));
}

#[cfg(target_os = "linux")]
#[test]
fn non_utf8_file_name() {
    use std::os::unix::ffi::OsStrExt;
    let (_tmp, root) = tree();
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.kdl");
    std::fs::write(root.join(name), "team cafe { title \"Cafe\"; }\n").unwrap();
    // The name is shown lossily; the file is read like any other.
    let run = validate(&root);
    assert_eq!(run.code, 0, "{:?} {}", run.messages, run.stderr);
    assert!(summary(&root).ends_with("(2 spec files)"));
}

/// A resource type whose only provisioner renders `template` as Terraform.
fn with_template(root: &Path, params: &str, template: &str) {
    std::fs::create_dir_all(root.join("templates")).unwrap();
    std::fs::write(root.join("templates/t.tf.hbs"), template).unwrap();
    std::fs::write(
        root.join("app.kdl"),
        format!(
            r#"resource-type thing {{
    {params}
    output url
    provisioner any {{
        terraform "templates/t.tf.hbs"
        output url value="http://x"
    }}
}}
workload app {{
    owner core
    system shop
    container main {{ image "registry.example.com/app:1.0.0"; }}
    resource t type=thing
}}
"#
        ),
    )
    .unwrap();
}

#[test]
fn recursive_templates_are_refused() {
    for template in [
        // Mutual recursion through inline partials.
        "{{#*inline \"a\"}}{{> b}}{{/inline}}{{#*inline \"b\"}}{{> a}}{{/inline}}{{> a}}\n",
        // Self-recursion with whitespace control.
        "{{~#*inline \"a\"~}}x{{~> a~}}{{~/inline~}}{{> a}}\n",
        // A partial block.
        "{{#> layout}}body{{/layout}}\n",
    ] {
        let (_tmp, root) = tree();
        with_template(&root, "", template);
        let run = validate(&root);
        assert_only(&run, "T603");
        assert!(
            run.messages[0].contains("partials and decorators"),
            "{template}: {:?}",
            run.messages
        );
    }
}

#[test]
fn huge_template_output_is_capped() {
    let (_tmp, root) = tree();
    let params: String = (0..12)
        .map(|i| {
            format!(
                "param p{i} type=string default=\"{}\"\n    ",
                "x".repeat(4096)
            )
        })
        .collect();
    // 12^4 iterations of 4 KiB: 81 MiB unless stopped.
    let template = "locals {\n  x = \"{{#each resource.params}}{{#each ../resource.params}}{{#each ../../resource.params}}{{#each ../../../resource.params}}{{this}}{{/each}}{{/each}}{{/each}}{{/each}}\"\n}\n";
    with_template(&root, &params, template);
    let run = validate(&root);
    assert_only(&run, "T610");
    assert!(
        run.messages[0].contains("renders more than 16 MiB"),
        "{:?}",
        run.messages
    );
}

#[test]
fn names_that_collide_in_output_paths() {
    let (tmp, root) = tree();
    // A workload named like the namespace's own file would overwrite it.
    std::fs::write(
        root.join("app.kdl"),
        r#"workload namespace {
    owner core
    system shop
    container main { image "registry.example.com/app:1.0.0"; }
}
"#,
    )
    .unwrap();
    let out = tmp.path().join("out");
    let run = trestle("build", &root, &["--out", out.to_str().unwrap()]);
    assert_only(&run, "T703");
    assert!(
        run.messages[0].contains("dev/kubernetes/shop-dev/namespace.yaml"),
        "{:?}",
        run.messages
    );
    assert!(!out.exists(), "nothing is written");
}
