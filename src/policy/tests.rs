//! Tests of the policy pass that need a whole compiled tree.

use std::path::{Path, PathBuf};

use super::objects::{self, TOP_LEVEL_FIELDS};
use crate::ast::Date;
use crate::diagnostics::Diagnostic;

fn root(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn options() -> crate::Options {
    crate::Options {
        today: Some(Date {
            year: 2026,
            month: 11,
            day: 24,
        }),
        ..crate::Options::default()
    }
}

fn fields(target: &str) -> &'static [&'static str] {
    TOP_LEVEL_FIELDS
        .iter()
        .find(|(t, _)| *t == target)
        .map(|(_, f)| *f)
        .expect("every target is listed")
}

fn assert_keys(target: &str, v: &serde_json::Value) {
    let known = fields(target);
    for k in v.as_object().expect("an object").keys() {
        assert!(
            known.contains(&k.as_str()),
            "{target} field `{k}` is not in TOP_LEVEL_FIELDS (and so not documented)"
        );
    }
}

/// Every field a policy can read is documented in docs/policies.md, in its target's section,
/// and the objects have no undocumented fields.
#[test]
fn documented_fields_match_the_objects() {
    let outcome = crate::compile(&root("specs/acme"), &options());
    assert!(!outcome.has_errors());
    let m = &outcome.model;
    for env in &outcome.envs {
        assert_keys("environment", &objects::environment(env, m));
        for w in &env.workloads {
            assert_keys("workload", &objects::workload(w, env));
        }
        for r in env.resources.values() {
            assert_keys("resource", &objects::resource(r));
        }
    }
    for t in m.teams.values() {
        assert_keys("team", &objects::team(t, m));
    }
    for a in m.apis.values() {
        assert_keys("api", &objects::api(a, m));
    }
    let docs = std::fs::read_to_string(root("docs/policies.md")).expect("docs/policies.md");
    for (target, fields) in TOP_LEVEL_FIELDS {
        let head = format!("#### `target {target}`");
        let start = docs
            .find(&head)
            .unwrap_or_else(|| panic!("docs/policies.md has no section {head}"));
        let rest = &docs[start + head.len()..];
        let section = &rest[..rest.find("####").unwrap_or(rest.len())];
        for f in *fields {
            assert!(
                section.contains(&format!("| `{f}` |")),
                "docs/policies.md does not document `{f}` of target {target}"
            );
        }
    }
}

fn codes(diags: &[Diagnostic]) -> Vec<(String, String)> {
    diags
        .iter()
        .map(|d| (d.code.clone(), d.message.clone()))
        .collect()
}

/// Policies run in parallel; their findings do not depend on the thread count.
#[test]
fn findings_do_not_depend_on_threads() {
    let tree = root("fixtures/noncompliant-platform");
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a pool")
        .install(|| crate::compile(&tree, &options()));
    let four = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .expect("a pool")
        .install(|| crate::compile(&tree, &options()));
    assert_eq!(one.diags, four.diags);
    let rules: Vec<String> = codes(&one.diags).into_iter().map(|(c, _)| c).collect();
    for r in crate::rules::RULES {
        assert!(rules.iter().any(|c| c == r.id), "{} does not fire", r.id);
    }
}

/// The acme example passes its own policies, with its one waiver in use.
#[test]
fn acme_is_compliant() {
    let outcome = crate::compile(&root("specs/acme"), &options());
    assert!(outcome.diags.is_empty(), "{:?}", codes(&outcome.diags));
    assert_eq!(outcome.waived, 1);
}

/// `--env` narrows the run: production rules do not run for `--env dev`, and a waiver can only
/// be called unused when every environment was evaluated.
#[test]
fn env_flag_limits_evaluation_and_unused_waivers() {
    let tree = root("fixtures/noncompliant-platform");
    let dev_only = crate::Options {
        envs: ["dev".to_string()].into_iter().collect(),
        ..options()
    };
    let dev = crate::compile(&tree, &dev_only);
    assert!(!dev.diags.iter().any(|d| d.code == "allowed-regions"));
    assert!(dev.diags.iter().any(|d| d.code == "image-tag-pinned"));

    let tmp = tempfile::tempdir().expect("a temp dir");
    std::fs::copy(
        root("fixtures/_base/platform.kdl"),
        tmp.path().join("platform.kdl"),
    )
    .expect("copy");
    std::fs::write(
        tmp.path().join("waivers.kdl"),
        "waiver probes-required workload=web env=prod expires=\"2027-01-01\" reason=\"X-1\"\n",
    )
    .expect("write");
    let all = crate::compile(tmp.path(), &options());
    assert_eq!(
        codes(&all.diags),
        [(
            "T505".to_string(),
            "waiver for `probes-required` matches no finding".to_string()
        )]
    );
    let dev = crate::compile(tmp.path(), &dev_only);
    assert!(dev.diags.is_empty(), "{:?}", codes(&dev.diags));
}

/// `--deny-warnings` fails a run whose findings are only warnings; a bad `--today` is a usage
/// error.
#[test]
fn deny_warnings_and_today_flags() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    std::fs::copy(
        root("fixtures/_base/platform.kdl"),
        tmp.path().join("platform.kdl"),
    )
    .expect("copy");
    // probes-required is a warning by default.
    std::fs::write(
        tmp.path().join("rules.kdl"),
        "rule probes-required severity=warning\nrule prod-min-replicas min=3 severity=warning\n",
    )
    .expect("write");
    let dir = tmp.path().to_string_lossy().into_owned();
    let run = |extra: &[&str]| {
        let mut args: Vec<std::ffi::OsString> =
            ["trestle", "validate", dir.as_str(), "--format", "json"]
                .iter()
                .map(Into::into)
                .collect();
        args.extend(extra.iter().map(Into::into));
        crate::cli::run(args)
    };
    assert_eq!(run(&["--today", "2026-11-24"]), crate::cli::exit::OK);
    assert_eq!(
        run(&["--today", "2026-11-24", "--deny-warnings"]),
        crate::cli::exit::SPEC_ERRORS
    );
    assert_eq!(run(&["--today", "2026-13-01"]), crate::cli::exit::USAGE);
}
