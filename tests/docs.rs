#![allow(clippy::unwrap_used)]
//! The docs cannot drift from the code:
//! - docs/language.md lists, per node, the children and properties the real parser accepts
//!   (asked by feeding it an unknown name and reading which names its help offers);
//! - docs/diagnostics.md is generated from the code registry (`TRESTLE_BLESS=1` rewrites it);
//! - README.md links every page under docs/.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(manifest_dir().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum What {
    Children,
    Properties,
}

/// Where to ask the parser, per docs/language.md section: snippets with `@@` where an unknown
/// child node (`zzqx`) or property (`zzqx=1`) goes. Several snippets are united (a `probe`
/// accepts `path` only with `http`).
const PROBES: &[(&str, What, &[&str])] = &[
    ("Top level", What::Children, &["@@"]),
    ("`team`", What::Children, &["team t { @@ }"]),
    ("`member`", What::Properties, &["team t { member m @@ }"]),
    ("`domain`", What::Children, &["domain d { @@ }"]),
    ("`system`", What::Children, &["system s { @@ }"]),
    ("`environment`", What::Children, &["environment e { @@ }"]),
    (
        "`ingress-class`",
        What::Properties,
        &["environment e { ingress-class nginx @@ }"],
    ),
    (
        "`terraform`",
        What::Children,
        &["environment e { terraform { @@ } }"],
    ),
    ("`workload`", What::Children, &["workload w { @@ }"]),
    (
        "`when`",
        What::Properties,
        &["workload w { when env=e @@ { } }"],
    ),
    (
        "`when`",
        What::Children,
        &["workload w { when env=e { @@ } }"],
    ),
    (
        "`container`",
        What::Children,
        &["workload w { container c { @@ } }"],
    ),
    (
        "`port` in `container`",
        What::Properties,
        &["workload w { container c { port http 80 @@ } }"],
    ),
    (
        "`cpu`",
        What::Properties,
        &["workload w { container c { cpu request=\"1\" @@ } }"],
    ),
    (
        "`memory`",
        What::Properties,
        &["workload w { container c { memory request=\"1Mi\" @@ } }"],
    ),
    (
        "`probe`",
        What::Properties,
        &[
            "workload w { container c { probe liveness http path=\"/\" port=http @@ } }",
            "workload w { container c { probe liveness tcp port=http @@ } }",
            "workload w { container c { probe liveness exec \"true\" @@ } }",
        ],
    ),
    (
        "`file`",
        What::Properties,
        &["workload w { container c { file \"/a\" content=\"x\" @@ } }"],
    ),
    (
        "`volume`",
        What::Properties,
        &["workload w { container c { volume \"/a\" source=\"x\" @@ } }"],
    ),
    (
        "`service`",
        What::Children,
        &["workload w { service { @@ } }"],
    ),
    (
        "`port` in `service`",
        What::Properties,
        &["workload w { service { port http 80 @@ } }"],
    ),
    (
        "`route`",
        What::Properties,
        &["workload w { route host=\"a.example\" port=http @@ }"],
    ),
    (
        "`autoscale`",
        What::Properties,
        &["workload w { autoscale min=1 max=2 cpu-percent=50 @@ }"],
    ),
    ("`api`", What::Children, &["api a { @@ }"]),
    (
        "`resource-type`",
        What::Children,
        &["resource-type r { @@ }"],
    ),
    (
        "`param`",
        What::Properties,
        &["resource-type r { param p type=string @@ }"],
    ),
    (
        "`output` in `resource-type`",
        What::Properties,
        &["resource-type r { output o @@ }"],
    ),
    (
        "`provisioner`",
        What::Children,
        &["resource-type r { provisioner p { @@ } }"],
    ),
    (
        "`match`",
        What::Properties,
        &["resource-type r { provisioner p { match @@ } }"],
    ),
    (
        "`output` in `provisioner`",
        What::Properties,
        &["resource-type r { provisioner p { output o value=\"x\" @@ } }"],
    ),
    ("`policy`", What::Children, &["policy p { @@ }"]),
    (
        "`target`",
        What::Properties,
        &[
            "policy p { target kubernetes @@ }",
            "policy p { target terraform @@ }",
            "policy p { target workload @@ }",
        ],
    ),
    (
        "`waiver`",
        What::Properties,
        &["waiver x @@ expires=\"2030-01-01\" reason=\"r\""],
    ),
];

/// The names the parser's help offers for an unknown `zzqx` in `snippet`.
fn accepted(snippet: &str, what: What) -> BTreeSet<String> {
    let tmp = tempfile::tempdir().unwrap();
    let probe = match what {
        What::Children => "zzqx",
        What::Properties => "zzqx=1",
    };
    std::fs::write(tmp.path().join("a.kdl"), snippet.replace("@@", probe)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_trestle"))
        .args(["validate", tmp.path().to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    let diags: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let want = match what {
        What::Children => "T201",
        What::Properties => "T202",
    };
    let d = diags
        .iter()
        .find(|d| d["code"] == want && d["message"].as_str().unwrap().contains("`zzqx`"))
        .unwrap_or_else(|| panic!("no {want} for {snippet}: {diags:#?}"));
    let help = d["help"].as_str().unwrap();
    if help.ends_with("takes no properties") {
        return BTreeSet::new();
    }
    let list = ["accepts ", "nodes are ", "may override "]
        .iter()
        .find_map(|k| help.split_once(k))
        .unwrap_or_else(|| panic!("help of {snippet} lists no names: {help}"))
        .1;
    backticked(list)
}

fn backticked(s: &str) -> BTreeSet<String> {
    s.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// `(section, what)` → names, from docs/language.md; free-form lists ("any") are skipped.
fn documented() -> BTreeMap<(String, &'static str), BTreeSet<String>> {
    let mut out = BTreeMap::new();
    let mut section = String::new();
    for line in read("docs/language.md").lines() {
        if let Some(h) = line
            .strip_prefix("### ")
            .or_else(|| line.strip_prefix("## "))
        {
            section = h.trim().to_string();
            continue;
        }
        for (prefix, key) in [("Children: ", "Children"), ("Properties: ", "Properties")] {
            if let Some(list) = line.strip_prefix(prefix) {
                if list.starts_with("any ") {
                    continue;
                }
                let names = if list.trim() == "none" {
                    BTreeSet::new()
                } else {
                    backticked(list)
                };
                let prev = out.insert((section.clone(), key), names);
                assert!(prev.is_none(), "two {key} lines in {section}");
            }
        }
    }
    out
}

#[test]
fn language_reference_matches_the_parser() {
    let mut docs = documented();
    let mut failures = Vec::new();
    for (section, what, snippets) in PROBES {
        let key = match what {
            What::Children => "Children",
            What::Properties => "Properties",
        };
        let real: BTreeSet<String> = snippets.iter().flat_map(|s| accepted(s, *what)).collect();
        match docs.remove(&(section.to_string(), key)) {
            None => failures.push(format!(
                "docs/language.md: section {section} has no `{key}:` line; the parser accepts {real:?}"
            )),
            Some(doc) if doc != real => failures.push(format!(
                "docs/language.md: {section} {key}: documented {doc:?}, the parser accepts {real:?}"
            )),
            Some(_) => {}
        }
    }
    for (section, key) in docs.keys() {
        failures.push(format!(
            "docs/language.md: {section} {key} is not checked: add a probe to tests/docs.rs"
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

const GROUPS: &[(&str, &str)] = &[
    ("T1", "T1xx: syntax"),
    ("T2", "T2xx: schema and types"),
    ("T3", "T3xx: names and references"),
    ("T4", "T4xx: graph"),
    ("T5", "T5xx: policy"),
    ("T6", "T6xx: expansion, provisioning and templates"),
    ("T7", "T7xx: output and I/O"),
];

/// docs/diagnostics.md, generated from `codes::ALL`.
fn diagnostics_md() -> String {
    let mut s = String::from(
        "# Diagnostics reference\n\n\
<!-- Generated from src/diagnostics/codes.rs by tests/docs.rs; do not edit. \
`TRESTLE_BLESS=1 cargo test --test docs` rewrites it. -->\n\n\
Every diagnostic has a stable code, a severity, a message, the exact span with a label, related \
spans where they help, and a `help:` line where a fix is known. `trestle explain CODE` prints \
the same text as this page. Findings of built-in rules and of your own policies carry the \
rule's id or the policy's name instead of a code: `trestle rules` and [rules.md](rules.md) list the rules, \
[policies.md](policies.md) explains policies and waivers.\n\n\
| code | title |\n|---|---|\n",
    );
    for c in trestle::diagnostics::codes::ALL {
        s.push_str(&format!(
            "| [{}](#{}) | {} |\n",
            c.code,
            c.code.to_lowercase(),
            c.title
        ));
    }
    for (prefix, heading) in GROUPS {
        let codes: Vec<_> = trestle::diagnostics::codes::ALL
            .iter()
            .filter(|c| c.code.starts_with(prefix))
            .collect();
        if codes.is_empty() {
            continue;
        }
        s.push_str(&format!("\n## {heading}\n"));
        for c in codes {
            s.push_str(&format!("\n### {}\n\n**{}**\n\n", c.code, c.title));
            s.push_str(c.explanation.trim_end());
            s.push('\n');
        }
    }
    s
}

#[test]
fn diagnostics_reference_is_generated_from_the_registry() {
    let want = diagnostics_md();
    let path = manifest_dir().join("docs/diagnostics.md");
    if std::env::var_os("TRESTLE_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/diagnostics.md is stale: run `TRESTLE_BLESS=1 cargo test --test docs` and review the diff"
    );
    // Every code is in it, with its title: the table cannot skip one.
    for c in trestle::diagnostics::codes::ALL {
        assert!(have.contains(&format!("### {}\n\n**{}**", c.code, c.title)));
    }
}

#[test]
fn readme_links_every_doc_page() {
    let readme = read("README.md");
    for e in std::fs::read_dir(manifest_dir().join("docs")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".md") {
            assert!(
                readme.contains(&format!("(docs/{name})")),
                "README.md does not link docs/{name}"
            );
        }
    }
}

/// Code blocks of a guide whose info string names a file: (path, text).
fn file_blocks(doc: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        let Some(info) = line.strip_prefix("```") else {
            continue;
        };
        let file = info
            .split_whitespace()
            .find_map(|w| w.strip_prefix("file="))
            .map(str::to_string);
        let mut text = String::new();
        for l in lines.by_ref() {
            if l.starts_with("```") {
                break;
            }
            text.push_str(l);
            text.push('\n');
        }
        if let Some(f) = file {
            out.push((f, text));
        }
    }
    out
}

/// `$ trestle …` lines in ```sh blocks with the output that follows them.
fn transcripts(doc: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut in_sh = false;
    let mut current: Option<(String, String)> = None;
    for line in doc.lines() {
        if line.starts_with("```") {
            if let Some(t) = current.take() {
                out.push(t);
            }
            in_sh = !in_sh && line.trim() == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        if let Some(cmd) = line.strip_prefix("$ ") {
            if let Some(t) = current.take() {
                out.push(t);
            }
            current = Some((cmd.to_string(), String::new()));
        } else if let Some((_, o)) = current.as_mut() {
            o.push_str(line);
            o.push('\n');
        }
    }
    out
}

/// The guides' example files, added to a `trestle init` tree, build; their transcripts
/// (`$ trestle why platform …`) print what the guide shows.
#[test]
fn guides_examples_build() {
    let bin = env!("CARGO_BIN_EXE_trestle");
    for guide in ["docs/app-guide.md", "docs/platform-guide.md"] {
        let doc = read(guide);
        let blocks = file_blocks(&doc);
        assert!(!blocks.is_empty(), "{guide} has no file= blocks");
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("platform");
        let init = Command::new(bin).arg("init").arg(&root).output().unwrap();
        assert!(init.status.success());
        for (file, text) in &blocks {
            let path = root.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let out = tmp.path().join("out");
        let build = Command::new(bin)
            .arg("build")
            .arg(&root)
            .arg("--out")
            .arg(&out)
            .args(["--color", "never"])
            .output()
            .unwrap();
        assert!(
            build.status.success(),
            "{guide}: the example tree does not build:\n{}",
            String::from_utf8_lossy(&build.stderr)
        );
        let fmt = Command::new(bin)
            .args(["fmt", "--check"])
            .arg(&root)
            .output()
            .unwrap();
        assert!(
            fmt.status.success(),
            "{guide}: examples are not `trestle fmt`-clean:\n{}",
            String::from_utf8_lossy(&fmt.stdout)
        );
        let shown = transcripts(&doc);
        assert!(
            guide != "docs/app-guide.md" || !shown.is_empty(),
            "the app guide shows a `$ trestle why` transcript"
        );
        for (cmd, want) in shown {
            let args: Vec<String> = cmd
                .split_whitespace()
                .skip(1)
                .map(|a| {
                    if a == "platform" {
                        root.to_string_lossy().into_owned()
                    } else {
                        a.to_string()
                    }
                })
                .collect();
            let o = Command::new(bin).args(&args).output().unwrap();
            assert_eq!(
                String::from_utf8_lossy(&o.stdout),
                want,
                "{guide}: `{cmd}` prints something else"
            );
        }
    }
}

/// A newcomer's first step: the README's first command builds the example.
#[test]
fn readme_first_command_builds_the_example() {
    let readme = read("README.md");
    let block = readme
        .split("```sh\n")
        .nth(1)
        .expect("README.md has a ```sh block");
    let first = block
        .lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .unwrap();
    let args = first
        .strip_prefix("cargo run --release -- ")
        .unwrap_or_else(|| {
            panic!("README's first command is not `cargo run --release -- …`: {first}")
        });
    let tmp = tempfile::tempdir().unwrap();
    let mut words: Vec<String> = args.split_whitespace().map(str::to_string).collect();
    let out = words
        .iter()
        .position(|w| w == "--out")
        .expect("the first command writes somewhere with --out");
    words[out + 1] = tmp.path().join("out").to_string_lossy().into_owned();
    let o = Command::new(env!("CARGO_BIN_EXE_trestle"))
        .args(&words)
        .current_dir(manifest_dir())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "`{first}` fails:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(tmp.path().join("out/.trestle/manifest.json").is_file());
}
