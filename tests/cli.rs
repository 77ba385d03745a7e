#![allow(clippy::unwrap_used)]
//! The command line as a user meets it: exit codes across verbs (SPEC section 6), `init`,
//! `why`, `fmt`, completions, `--help` examples, colour, and SARIF checked against the
//! official SARIF 2.1.0 schema.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trestle"));
    c.env_remove("NO_COLOR");
    c
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited, not killed")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A fresh `trestle init` tree.
fn starter(dir: &Path) -> PathBuf {
    let root = dir.join("starter");
    let o = run(&["init", s(&root)]);
    assert_eq!(code(&o), 0, "init failed: {}", stderr(&o));
    root
}

fn copy_tree(from: &Path, to: &Path) {
    for e in walkdir::WalkDir::new(from) {
        let e = e.unwrap();
        let target = to.join(e.path().strip_prefix(from).unwrap());
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// A copy of the tree `good` at `bad`, with a workload whose `replicas` is a string (T203).
fn broken_copy(good: &Path, bad: &Path) {
    copy_tree(good, bad);
    std::fs::write(
        bad.join("apps/broken.kdl"),
        "workload broken {\n    owner platform\n    system hello\n    replicas \"2\"\n    container main { image \"ghcr.io/x/y:1.0.0\" }\n}\n",
    )
    .unwrap();
}

#[test]
fn init_then_build_succeeds_and_a_second_build_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let root = starter(tmp.path());
    for f in [
        "org.kdl",
        "environments.kdl",
        "policies.kdl",
        "apps/hello-api.kdl",
    ] {
        assert!(root.join(f).is_file(), "{f} written");
    }
    let out = root.join("out");
    let first = run(&["build", s(&root), "--out", s(&out)]);
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    assert!(
        stderr(&first).contains("0 errors, 0 warnings"),
        "{}",
        stderr(&first)
    );
    for p in [
        "dev/kubernetes/hello-dev/hello-api.yaml",
        "prod/kubernetes/hello-prod/hello-api.yaml",
        "prod/terraform/hello-api-db.tf",
    ] {
        assert!(out.join(p).is_file(), "{p} generated");
    }
    let manifest = out.join(".trestle/manifest.json");
    let before = std::fs::metadata(&manifest).unwrap().modified().unwrap();
    let second = run(&["build", s(&root), "--out", s(&out)]);
    assert_eq!(code(&second), 0);
    assert!(
        stderr(&second).contains("wrote 0 files"),
        "second build rewrote files: {}",
        stderr(&second)
    );
    assert_eq!(
        std::fs::metadata(&manifest).unwrap().modified().unwrap(),
        before
    );
    assert_eq!(code(&run(&["check", s(&root), "--out", s(&out)])), 0);
    // The starter is formatted, and init refuses to run over it.
    assert_eq!(code(&run(&["fmt", "--check", s(&root)])), 0);
    let again = run(&["init", s(&root)]);
    assert_eq!(code(&again), 2);
    assert!(
        stderr(&again).contains("refusing to overwrite") && stderr(&again).contains("org.kdl"),
        "{}",
        stderr(&again)
    );
}

const PLATFORM: &str = r#"team web { title "Web" }
system site { owner web }
environment dev { type development; region eu-west-1 }
environment prod { type production; region eu-west-1 }
"#;

const APP: &str = r#"workload api {
    owner web
    system site
    replicas 1
    container main {
        image "ghcr.io/acme/api:1.0.0"
        env LOG_LEVEL=info
    }
    resource db type=postgres size=small
    when env-type=production {
        replicas 3
        container main {
            image "ghcr.io/acme/api:1.1.0"
        }
        resource db size=medium
    }
    when env=prod {
        replicas 4
        container main {
            image "ghcr.io/acme/api:1.2.0"
            env LOG_LEVEL=warn
        }
        resource db size=large
    }
}
"#;

/// The 1-based line of the `n`th (0-based) line of APP containing `needle`.
fn line_of(needle: &str, n: usize) -> usize {
    APP.lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .nth(n)
        .unwrap()
        .0
        + 1
}

fn why_tree(dir: &Path) -> PathBuf {
    let root = dir.join("why");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("platform.kdl"), PLATFORM).unwrap();
    std::fs::write(root.join("app.kdl"), APP).unwrap();
    root
}

/// The output line of a `why` answer for `layer`, with the columns' padding collapsed.
fn row(out: &str, layer: &str) -> String {
    out.lines()
        .find(|l| l.split_whitespace().next() == Some(layer))
        .unwrap_or_else(|| panic!("no {layer} row in:\n{out}"))
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn why_names_every_layer_with_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let root = why_tree(tmp.path());
    let o = run(&["why", s(&root), "api.replicas", "--env", "prod"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("api.replicas in environment prod: 4\n"),
        "{out}"
    );
    let r = |n| line_of("replicas", n);
    assert_eq!(
        row(&out, "base"),
        format!("base app.kdl:{} replicas 1", r(0))
    );
    assert_eq!(
        row(&out, "env-type=production"),
        format!("env-type=production app.kdl:{} replicas 3", r(1))
    );
    assert_eq!(
        row(&out, "env=prod"),
        format!("env=prod app.kdl:{} replicas 4 <- final", r(2))
    );

    // Same question in dev: only the base layer applies.
    let o = run(&["why", s(&root), "api.replicas", "--env", "dev"]);
    let out = stdout(&o);
    assert!(
        out.starts_with("api.replicas in environment dev: 1\n"),
        "{out}"
    );
    assert!(!out.contains("env-type"), "{out}");

    let o = run(&["why", s(&root), "api.container.main.image", "--env", "prod"]);
    let out = stdout(&o);
    assert!(
        out.starts_with(
            "api.container.main.image in environment prod: \"ghcr.io/acme/api:1.2.0\"\n"
        ),
        "{out}"
    );
    let i = |n| line_of("image", n);
    assert!(row(&out, "base").starts_with(&format!("base app.kdl:{} image", i(0))));
    assert!(row(&out, "env-type=production")
        .starts_with(&format!("env-type=production app.kdl:{} image", i(1))));
    assert!(row(&out, "env=prod").starts_with(&format!("env=prod app.kdl:{} image", i(2))));

    let o = run(&["why", s(&root), "api.resource.db.size", "--env", "prod"]);
    let out = stdout(&o);
    assert!(
        out.starts_with("api.resource.db.size in environment prod: \"large\"\n"),
        "{out}"
    );
    let d = |n| line_of("resource db", n);
    assert!(row(&out, "base").starts_with(&format!("base app.kdl:{}", d(0))));
    assert!(row(&out, "env-type=production")
        .starts_with(&format!("env-type=production app.kdl:{}", d(1))));
    assert!(row(&out, "env=prod").starts_with(&format!("env=prod app.kdl:{}", d(2))));

    let o = run(&[
        "why",
        s(&root),
        "api.container.main.env.LOG_LEVEL",
        "--env",
        "prod",
    ]);
    let out = stdout(&o);
    assert!(out.contains("prod: \"warn\"\n"), "{out}");
    assert!(row(&out, "env=prod").contains(&format!("app.kdl:{}", line_of("LOG_LEVEL", 1))));

    // A param no layer sets: the resource type's default, with the declaration.
    let o = run(&[
        "why",
        s(&root),
        "api.resource.db.storage-gb",
        "--env",
        "dev",
    ]);
    let out = stdout(&o);
    assert!(
        out.starts_with("api.resource.db.storage-gb in environment dev: 20\n"),
        "{out}"
    );
    assert!(
        out.contains("(default from resource type postgres)  <builtin>/postgres.kdl:"),
        "{out}"
    );

    // ROOT defaults to the current directory.
    let o = bin()
        .args(["why", "api.replicas", "--env", "prod"])
        .current_dir(&root)
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).starts_with("api.replicas in environment prod: 4\n"));
}

#[test]
fn why_suggests_on_unknown_names() {
    let tmp = tempfile::tempdir().unwrap();
    let root = why_tree(tmp.path());
    let cases = [
        ("apx.replicas", "prod", "did you mean `api`?"),
        ("api.replicaz", "prod", "did you mean `api.replicas`?"),
        (
            "api.resource.db.sise",
            "prod",
            "did you mean `api.resource.db.size`?",
        ),
        ("api.replicas", "prd", "did you mean `prod`?"),
        ("api", "prod", "is not WORKLOAD.FIELD"),
    ];
    for (q, env, want) in cases {
        let o = run(&["why", s(&root), q, "--env", env]);
        assert_eq!(code(&o), 2, "{q} --env {env}");
        assert!(stderr(&o).contains(want), "{q}: {}", stderr(&o));
    }
    let o = run(&["why", s(&root), "api.replicas"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--env"), "{}", stderr(&o));
}

/// Exit codes of SPEC section 6 across verbs: 0 success, 1 spec errors (and `fmt --check`
/// finding unformatted files), 2 usage or I/O errors, 3 drift.
#[test]
fn exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let good = starter(tmp.path());
    let bad = tmp.path().join("bad");
    broken_copy(&good, &bad);
    let unformatted = tmp.path().join("unformatted");
    copy_tree(&good, &unformatted);
    std::fs::write(
        unformatted.join("extra.kdl"),
        "team  extra{\ntitle \"X\"}\n",
    )
    .unwrap();
    // A waiver that matches nothing is a warning (T505): fine, unless warnings are denied.
    let warned = tmp.path().join("warned");
    copy_tree(&good, &warned);
    std::fs::write(
        warned.join("waivers.kdl"),
        "waiver image-tag-pinned env=dev expires=\"2099-12-31\" reason=\"nothing to excuse\"\n",
    )
    .unwrap();
    let w = s(&warned);
    let out = tmp.path().join("out");
    let drifted = tmp.path().join("drifted");
    let missing = tmp.path().join("missing");
    let (g, b, u, o, d, m) = (
        s(&good),
        s(&bad),
        s(&unformatted),
        s(&out),
        s(&drifted),
        s(&missing),
    );
    assert_eq!(code(&run(&["build", g, "--out", d])), 0);
    let yaml = drifted.join("dev/kubernetes/hello-dev/hello-api.yaml");
    let mut text = std::fs::read_to_string(&yaml).unwrap();
    text.push_str("# edited by hand\n");
    std::fs::write(&yaml, text).unwrap();

    let table: &[(&[&str], i32)] = &[
        (&["validate", g], 0),
        (&["validate", b], 1),
        (&["validate", m], 2),
        (&["validate", w], 0),
        (&["validate", w, "--deny-warnings"], 1),
        (&["validate", g, "--no-such-flag"], 2),
        (&["validate", g, "--format", "yaml"], 2),
        (&["build", b, "--out", o], 1),
        (&["build", g], 2),
        (&["build", g, "--out", o], 0),
        (&["check", g, "--out", o], 0),
        (&["check", g, "--out", d], 3),
        (&["check", b, "--out", o], 1),
        (&["diff", g, "--out", d], 0),
        (&["diff", b, "--out", d], 1),
        (&["explain", "T301"], 0),
        (&["explain", "T999"], 2),
        (&["rules"], 0),
        (&["fmt", "--check", g], 0),
        (&["fmt", "--check", u], 1),
        (&["fmt", "--check", m], 2),
        (&["why", g, "hello-api.replicas", "--env", "prod"], 0),
        (&["why", b, "hello-api.replicas", "--env", "prod"], 1),
        (&["why", g, "hello-api.nope", "--env", "prod"], 2),
        (&["init", g], 2),
        (&["completions", "bash"], 0),
        (&["completions", "powershell"], 2),
        (&["no-such-verb"], 2),
        (&[], 2),
        (&["--help"], 0),
        (&["--version"], 0),
    ];
    let mut failures = Vec::new();
    for (args, want) in table {
        let o = run(args);
        if code(&o) != *want {
            failures.push(format!(
                "trestle {}: exit {} (want {want})\n{}",
                args.join(" "),
                code(&o),
                stderr(&o)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        !out.join("dev").exists() || code(&run(&["check", g, "--out", o])) == 0,
        "a failed build wrote nothing"
    );
    // A syntax error under fmt is an error in the specs.
    std::fs::write(unformatted.join("broken.kdl"), "team x {\n").unwrap();
    let o = run(&["fmt", "--check", u]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("T101"), "{}", stderr(&o));
}

#[test]
fn every_verb_has_examples_in_its_help() {
    use clap::CommandFactory;
    let cli = trestle::cli::Cli::command();
    let verbs: Vec<String> = cli
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    assert!(verbs.len() >= 10, "{verbs:?}");
    for verb in &verbs {
        let o = run(&[verb, "--help"]);
        assert_eq!(code(&o), 0, "{verb} --help");
        let text = stdout(&o);
        let examples = text
            .split_once("Examples:")
            .unwrap_or_else(|| panic!("`trestle {verb} --help` has no Examples:\n{text}"))
            .1;
        assert!(
            examples.contains(&format!("trestle {verb}")),
            "`trestle {verb} --help` examples do not show the verb:\n{text}"
        );
    }
    assert!(stdout(&run(&["--help"])).contains("Examples:"));
}

#[test]
fn completions_for_each_shell() {
    for (shell, marker) in [
        ("bash", "_trestle()"),
        ("zsh", "#compdef trestle"),
        ("fish", "complete -c trestle"),
    ] {
        let o = run(&["completions", shell]);
        assert_eq!(code(&o), 0);
        let text = stdout(&o);
        assert!(text.contains(marker), "{shell}: no {marker}");
        for verb in ["validate", "build", "why", "fmt", "init"] {
            assert!(text.contains(verb), "{shell} completion lacks {verb}");
        }
    }
}

#[test]
fn colour_follows_flag_then_no_color_then_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("t");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("a.kdl"), "workload w {\n    replicaz 2\n}\n").unwrap();
    let esc = |o: &Output| stderr(o).contains('\u{1b}');
    let r = s(&root);
    assert!(esc(&run(&["validate", r, "--color", "always"])));
    assert!(!esc(&run(&["validate", r, "--color", "never"])));
    // Not a terminal: auto means no colour, and no progress spinner either.
    let auto = run(&["validate", r]);
    assert!(!esc(&auto) && !stderr(&auto).contains('\r'));
    let no_color = bin()
        .args(["validate", r, "--color", "auto"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!esc(&no_color));
    // An explicit flag wins over NO_COLOR (no-color.org).
    let forced = bin()
        .args(["validate", r, "--color", "always"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(esc(&forced));
    // Machine formats never carry colour codes.
    let json = run(&["validate", r, "--format", "json", "--color", "always"]);
    assert!(!stdout(&json).contains('\u{1b}'));
}

/// Lines of `text` re-indented by 2 spaces per level with trailing blanks and doubled blank
/// lines, except inside multi-line strings: everything `trestle fmt` must undo.
fn mess_up(text: &str) -> String {
    let mut out = String::new();
    let mut depth = 0i32;
    let mut in_multiline = false;
    for line in text.lines() {
        if in_multiline {
            out.push_str(line);
            out.push('\n');
            in_multiline = line.matches("\"\"\"").count() % 2 == 0;
            continue;
        }
        let t = line.trim();
        if t.is_empty() {
            out.push_str("\n  \n");
            continue;
        }
        let level = if t.starts_with('}') { depth - 1 } else { depth };
        out.push_str(&"  ".repeat(level.max(0) as usize));
        out.push_str(t);
        in_multiline = t.matches("\"\"\"").count() % 2 == 1;
        // Nothing may follow the `"""` that opens a multi-line string.
        out.push_str(if in_multiline { "\n" } else { "   \n" });
        if !t.starts_with("//") {
            depth += t.matches('{').count() as i32 - t.matches('}').count() as i32;
        }
    }
    out
}

#[test]
fn fmt_restores_the_example_specs_and_is_idempotent() {
    for example in ["specs/acme", "fixtures/_base"] {
        let src = manifest_dir().join(example);
        // The shipped trees are kept formatted.
        let o = run(&["fmt", "--check", s(&src)]);
        assert_eq!(code(&o), 0, "{example} is not fmt-clean:\n{}", stdout(&o));

        let tmp = tempfile::tempdir().unwrap();
        let copy = tmp.path().join("tree");
        copy_tree(&src, &copy);
        let files: Vec<PathBuf> = walkdir::WalkDir::new(&copy)
            .into_iter()
            .map(|e| e.unwrap().into_path())
            .filter(|p| {
                p.extension().is_some_and(|x| x == "kdl") && !p.starts_with(copy.join("drafts"))
            })
            .collect();
        for f in &files {
            let text = std::fs::read_to_string(f).unwrap();
            std::fs::write(f, mess_up(&text)).unwrap();
        }
        let check = run(&["fmt", "--check", s(&copy)]);
        assert_eq!(code(&check), 1, "{example}: messed-up files pass --check");
        let first = run(&["fmt", s(&copy)]);
        assert_eq!(code(&first), 0, "{}", stderr(&first));
        for f in &files {
            let rel = f.strip_prefix(&copy).unwrap();
            assert_eq!(
                std::fs::read_to_string(f).unwrap(),
                std::fs::read_to_string(src.join(rel)).unwrap(),
                "{example}/{}: fmt did not restore the canonical text",
                rel.display()
            );
        }
        let second = run(&["fmt", s(&copy)]);
        assert_eq!(code(&second), 0);
        assert!(
            stderr(&second).contains("0 files reformatted"),
            "{}",
            stderr(&second)
        );
    }
}

#[test]
fn fmt_takes_single_files() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("one.kdl");
    std::fs::write(&f, "team a {\n  title \"A\"   // the title\n}\n").unwrap();
    let o = run(&["fmt", "--check", s(&f)]);
    assert_eq!(code(&o), 1);
    assert_eq!(stdout(&o).trim(), s(&f), "--check lists the file");
    assert_eq!(code(&run(&["fmt", s(&f)])), 0);
    assert_eq!(
        std::fs::read_to_string(&f).unwrap(),
        "team a {\n    title \"A\"   // the title\n}\n"
    );
}

/// The case's spec tree as the fixture harness builds it: `_base` overlaid with the case.
fn fixture_tree(case: &Path, to: &Path) {
    if !case.join("no-base").exists() {
        copy_tree(&case.parent().unwrap().join("_base"), to);
    }
    copy_tree(case, to);
    for meta in ["expected.txt", "no-base", "verb", "code"] {
        let _ = std::fs::remove_file(to.join(meta));
    }
}

/// The pattern of `language` as the official schema writes it: its stray `]` is a literal in
/// ECMA-262's web-compatibility grammar (Annex B) but a syntax error in Rust regex engines.
const LANGUAGE_PATTERN: &str = "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$";

fn escape_stray_bracket(v: &mut serde_json::Value, fixed: &mut usize) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k == "pattern" && x == LANGUAGE_PATTERN {
                    *x = serde_json::json!(LANGUAGE_PATTERN.replace("]?$", "\\]?$"));
                    *fixed += 1;
                } else {
                    escape_stray_bracket(x, fixed);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| escape_stray_bracket(x, fixed)),
        _ => {}
    }
}

/// The official SARIF 2.1.0 schema (tests/data/, from the OASIS sarif-spec repository),
/// compiled with format checks (`uri`, `uri-reference`, `date-time`) on.
fn sarif_validator() -> jsonschema::Validator {
    let mut schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(manifest_dir().join("tests/data/sarif-schema-2.1.0.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        schema["title"],
        "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    );
    let mut fixed = 0;
    escape_stray_bracket(&mut schema, &mut fixed);
    assert_eq!(
        fixed, 2,
        "the vendored schema changed; revisit escape_stray_bracket"
    );
    jsonschema::draft7::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

#[test]
fn sarif_output_is_valid_sarif_2_1_0() {
    let validator = sarif_validator();
    let fixtures = manifest_dir().join("fixtures");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&fixtures)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && !p.ends_with("_base"))
        .collect();
    cases.sort();
    cases.push(manifest_dir().join("specs/acme"));
    // File names that are not URI-safe must be percent-encoded in `artifactLocation.uri`.
    let odd = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(odd.path().join("my apps")).unwrap();
    std::fs::write(
        odd.path().join("my apps/caf\u{e9} #1.kdl"),
        "workload w {\n    replicaz 2\n}\n",
    )
    .unwrap();
    cases.push(odd.path().to_path_buf());
    let mut results = 0;
    let mut related = 0;
    let mut failures = Vec::new();
    for case in &cases {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("spec");
        if case.starts_with(&fixtures) {
            fixture_tree(case, &root);
        } else {
            copy_tree(case, &root);
        }
        let o = run(&[
            "validate",
            s(&root),
            "--format",
            "sarif",
            "--today",
            "2026-11-24",
        ]);
        let doc: serde_json::Value = match serde_json::from_slice(&o.stdout) {
            Ok(d) => d,
            Err(e) => {
                failures.push(format!("{}: not JSON: {e}", case.display()));
                continue;
            }
        };
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if !errors.is_empty() {
            failures.push(format!("{}:\n  {}", case.display(), errors.join("\n  ")));
        }
        let run0 = &doc["runs"][0];
        assert_eq!(run0["columnKind"], "unicodeCodePoints");
        for r in run0["results"].as_array().unwrap() {
            results += 1;
            related += r["relatedLocations"].as_array().map_or(0, Vec::len);
            // Every result's rule is described in the driver.
            let i = r["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(run0["tool"]["driver"]["rules"][i]["id"], r["ruleId"]);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        results > 100 && related > 10,
        "{results} results, {related} related"
    );
}

#[test]
fn the_vendored_schema_rejects_broken_sarif() {
    // The test above can fail: the schema catches a wrong version and a bad level.
    let validator = sarif_validator();
    let bad = serde_json::json!({
        "version": "2.0.0",
        "runs": [{
            "tool": {"driver": {"name": "x"}},
            "results": [{
                "level": "fatal",
                "message": {"text": "m"},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": "my app.kdl"}}}]
            }]
        }]
    });
    let errors: Vec<String> = validator
        .iter_errors(&bad)
        .map(|e| e.instance_path().to_string())
        .collect();
    for path in [
        "/version",
        "/runs/0/results/0/level",
        "/runs/0/results/0/locations/0/physicalLocation/artifactLocation/uri",
    ] {
        assert!(
            errors.iter().any(|e| e == path),
            "{path} not caught: {errors:?}"
        );
    }
}

#[test]
fn ci_formats_name_files_from_the_working_directory() {
    // CI runs in the repository root: annotations must name `platform/apps/x.kdl`, not the
    // path inside the spec tree, or GitHub attaches them to no file.
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("platform/apps");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("x.kdl"), "workload w {\n    replicaz 2\n}\n").unwrap();
    let gh = bin()
        .args(["validate", "platform", "--format", "github"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(code(&gh), 1);
    assert!(
        stdout(&gh).contains("::error file=platform/apps/x.kdl,title=T201,line=2,col=5,"),
        "{}",
        stdout(&gh)
    );
    let sarif = bin()
        .args(["validate", "platform", "--format", "sarif"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&sarif.stdout).unwrap();
    let result = doc["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "T201")
        .unwrap();
    let loc = &result["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "platform/apps/x.kdl");
    assert_eq!(loc["region"]["startLine"], 2);
    // Human output keeps paths inside the tree, as the generated files' headers do.
    let human = bin()
        .args(["validate", "platform", "--color", "never"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(
        stderr(&human).contains("[apps/x.kdl:2:5]"),
        "{}",
        stderr(&human)
    );
}

/// Every file below `dir`, by path relative to it.
fn tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    for e in walkdir::WalkDir::new(dir) {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let rel = e.path().strip_prefix(dir).unwrap();
            files.insert(rel.display().to_string(), std::fs::read(e.path()).unwrap());
        }
    }
    files
}

#[test]
fn a_build_into_a_missing_out_is_staged_and_appears_whole_or_not_at_all() {
    let tmp = tempfile::tempdir().unwrap();
    let good = starter(tmp.path());
    let outs = tmp.path().join("outs");
    std::fs::create_dir(&outs).unwrap();
    // Into a missing OUT, files are written while compiling (write::Staging); into an
    // existing empty one they are planned and written afterwards. The trees are identical.
    let fresh = outs.join("fresh");
    let existing = outs.join("existing");
    std::fs::create_dir(&existing).unwrap();
    for out in [&fresh, &existing] {
        let o = run(&["build", s(&good), "--out", s(out)]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
    let (a, b) = (tree(&fresh), tree(&existing));
    assert!(a.len() > 10 && a.contains_key(".trestle/manifest.json"));
    assert_eq!(a, b, "staged and planned builds write the same tree");
    assert!(stderr(&run(&["check", s(&good), "--out", s(&fresh)])).contains("is up to date"));

    // A build with errors into a missing OUT leaves neither OUT nor its staging folder.
    let bad = tmp.path().join("bad");
    broken_copy(&good, &bad);
    let failed = outs.join("failed");
    let o = run(&["build", s(&bad), "--out", s(&failed)]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("nothing was written"), "{}", stderr(&o));
    let mut beside: Vec<String> = std::fs::read_dir(&outs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    beside.sort();
    assert_eq!(beside, ["existing", "fresh"]);
}
