#![allow(clippy::unwrap_used)]
//! `trestle graph`: golden DOT, Mermaid and JSON of the example's prod graph (the Mermaid
//! source is also the one docs/graph.md shows), Graphviz rendering, resource-to-resource
//! edges, Terraform references and `depends_on`, and the graph of a tree with a cycle.
//! `TRESTLE_BLESS=1 cargo test --test graph` rewrites golden/graph/, the Mermaid block of
//! docs/graph.md and (when Graphviz is installed) docs/graph.svg.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn trestle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trestle"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn graph(root: &Path, env: &str, format: &str) -> Output {
    trestle(&[
        "graph",
        root.to_str().unwrap(),
        "--env",
        env,
        "--format",
        format,
    ])
}

fn blessing() -> bool {
    std::env::var_os("TRESTLE_BLESS").is_some()
}

fn has_dot() -> bool {
    Command::new("dot")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The Mermaid block of docs/graph.md, between its markers.
const MERMAID_START: &str = "<!-- graph:acme-prod:start -->\n```mermaid\n";
const MERMAID_END: &str = "```\n<!-- graph:acme-prod:end -->";

#[test]
fn acme_prod_graph_is_golden_and_deterministic() {
    let root = manifest_dir().join("specs/acme");
    let dir = manifest_dir().join("golden/graph");
    let mut failures = Vec::new();
    for (format, ext) in [("dot", "dot"), ("mermaid", "mmd"), ("json", "json")] {
        let out = graph(&root, "prod", format);
        assert!(
            out.status.success(),
            "graph --format {format} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        // Same bytes on a second run.
        let again = trestle(&[
            "graph",
            root.to_str().unwrap(),
            "--env",
            "prod",
            "--format",
            format,
        ]);
        assert_eq!(String::from_utf8(again.stdout).unwrap(), text, "{format}");
        let path = dir.join(format!("acme-prod.{ext}"));
        if blessing() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
        } else if std::fs::read_to_string(&path).unwrap_or_default() != text {
            failures.push(path.display().to_string());
        }
    }
    assert!(
        failures.is_empty(),
        "graph output differs from {failures:?} (TRESTLE_BLESS=1 cargo test --test graph rewrites it)"
    );
}

#[test]
fn acme_prod_graph_shows_nodes_edges_and_waves() {
    let out = graph(&manifest_dir().join("specs/acme"), "prod", "json");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let node = |id: &str| {
        v["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["id"] == id)
            .unwrap_or_else(|| panic!("no node {id}"))
            .clone()
    };
    // checkout-api depends on payments-api: one wave later; resources join their consumer.
    assert_eq!(node("workload:payments-api")["wave"], 0);
    assert_eq!(node("workload:checkout-api")["wave"], 1);
    assert_eq!(node("workload:storefront-web")["wave"], 2);
    assert_eq!(node("resource:checkout-api-db")["wave"], 1);
    assert_eq!(node("resource:checkout-api-db")["type"], "postgres");
    let edges = v["edges"].as_array().unwrap();
    let has = |from: &str, to: &str, kind: &str| {
        edges
            .iter()
            .any(|e| e["from"] == from && e["to"] == to && e["kind"] == kind)
    };
    assert!(has(
        "workload:checkout-api",
        "workload:payments-api",
        "depends-on"
    ));
    assert!(has(
        "workload:checkout-api",
        "resource:checkout-api-db",
        "uses"
    ));
    assert!(has(
        "resource:storefront-web-www",
        "resource:storefront-web-dns",
        "references"
    ));
    let waves = v["waves"].as_array().unwrap();
    assert_eq!(waves.len(), 3);
    assert!(waves[0]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("workload:payments-api")));
    // The record the alias points at is a literal name, so only `depends_on` orders them.
    let www = std::fs::read_to_string(
        manifest_dir().join("golden/acme/prod/terraform/storefront-web-www.tf"),
    )
    .unwrap();
    assert!(
        www.contains("  depends_on = [aws_route53_record.storefront-web-dns]\n"),
        "{www}"
    );
}

#[test]
fn docs_show_the_golden_mermaid_and_graphviz_renders_the_dot() {
    let root = manifest_dir().join("specs/acme");
    let mmd = String::from_utf8(graph(&root, "prod", "mermaid").stdout).unwrap();
    let docs_path = manifest_dir().join("docs/graph.md");
    let docs = std::fs::read_to_string(&docs_path).unwrap();
    let (Some(start), Some(end)) = (docs.find(MERMAID_START), docs.find(MERMAID_END)) else {
        panic!("docs/graph.md has no acme-prod Mermaid block");
    };
    let block = &docs[start + MERMAID_START.len()..end];
    if blessing() {
        let new = format!(
            "{}{mmd}{}",
            &docs[..start + MERMAID_START.len()],
            &docs[end..]
        );
        std::fs::write(&docs_path, new).unwrap();
    } else {
        assert_eq!(
            block, mmd,
            "docs/graph.md shows a stale graph (TRESTLE_BLESS=1 cargo test --test graph)"
        );
    }
    if !has_dot() {
        eprintln!("Graphviz `dot` is not installed: skipping the SVG rendering check");
        return;
    }
    let dot_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(dot_file.path(), graph(&root, "prod", "dot").stdout).unwrap();
    let svg = Command::new("dot")
        .arg("-Tsvg")
        .arg(dot_file.path())
        .output()
        .unwrap();
    assert!(
        svg.status.success(),
        "dot -Tsvg failed: {}",
        String::from_utf8_lossy(&svg.stderr)
    );
    let text = String::from_utf8(svg.stdout).unwrap();
    assert!(text.contains("<svg") && text.contains("checkout&#45;api"));
    if blessing() {
        std::fs::write(manifest_dir().join("docs/graph.svg"), text).unwrap();
    }
}

/// A spec tree: `fixtures/_base` plus the given files.
fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let base = manifest_dir().join("fixtures/_base");
    for e in std::fs::read_dir(base).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

const DB_ALIAS: &str = r#"
workload api {
    owner platform
    system shop
    replicas 2
    container main {
        image "ghcr.io/acme/api:1.0.0"
        cpu request="100m" limit="500m"
        memory request="128Mi" limit="256Mi"
        env DB_NAME="${resources.dbname.fqdn}"
    }
    resource db type=postgres
    resource dbname type=dns-record name="db.${env.name}.acme.example" target="${resources.db.host}"
}
"#;

/// An `expr=` output in a param becomes a Terraform reference: the record refers to the
/// database's address, the graph has a param edge and a Terraform edge, and no `depends_on`
/// is needed. In dev the same output is a `value=`: the param is literal text.
#[test]
fn terraform_reference_in_a_param() {
    let t = tree(&[("app.kdl", DB_ALIAS)]);
    let out = tempfile::tempdir().unwrap();
    let res = trestle(&[
        "build",
        t.path().to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let tf = std::fs::read_to_string(out.path().join("prod/terraform/api-dbname.tf")).unwrap();
    assert!(
        tf.contains("  records = [\"${aws_db_instance.api-db.address}\"]\n"),
        "{tf}"
    );
    assert!(!tf.contains("depends_on"), "{tf}");
    let body = hcl_edit::parser::parse_body(&tf).unwrap();
    assert_eq!(body.blocks().count(), 2, "nothing else was injected");
    // The workload gets the record's name: the param resolved before the output rendered.
    let k8s =
        std::fs::read_to_string(out.path().join("prod/kubernetes/shop-prod/api.yaml")).unwrap();
    assert!(k8s.contains("value: db.prod.acme.example"), "{k8s}");

    let json = graph(t.path(), "prod", "json");
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let kinds: Vec<&str> = v["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["from"] == "resource:api-dbname" && e["to"] == "resource:api-db")
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["references", "terraform"]);

    let dev = std::fs::read_to_string(out.path().join("dev/terraform/main.tf")).unwrap();
    assert!(!dev.contains("api-dbname"));
    let json = graph(t.path(), "dev", "json");
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let kinds: Vec<&str> = v["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["from"] == "resource:api-dbname")
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["references"]);
}

/// A tree with a cycle still draws (the cycle is easier to see), and exits 1.
#[test]
fn a_cycle_is_drawn_and_exits_1() {
    let cycle =
        std::fs::read_to_string(manifest_dir().join("fixtures/T401-workload-cycle/app.kdl"))
            .unwrap();
    let t = tree(&[("app.kdl", &cycle)]);
    let out = graph(t.path(), "prod", "json");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("dependency cycle: api → worker → jobs → api"),
        "{stderr}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let depends: Vec<_> = v["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "depends-on")
        .collect();
    assert_eq!(depends.len(), 3);
    // An unknown environment is an error, with nothing drawn.
    let out = graph(t.path(), "nope", "dot");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
}
