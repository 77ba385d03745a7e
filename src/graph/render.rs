//! `trestle graph`: one environment's graph as Graphviz DOT, a Mermaid flowchart or JSON.
//!
//! Every format shows the same [`View`]: nodes (workloads and resource instances, with the
//! resource type), edges labelled by kind, and the deployment waves, each wave a box (a DOT
//! cluster, a Mermaid subgraph). Arrows point at what a node needs and are laid out right to
//! left, so what is needed comes out on the left. Names are escaped for each format, so no spec value can break
//! the syntax.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use petgraph::visit::EdgeRef;
use serde_json::json;

use super::{EdgeKind, Graph, Node};
use crate::ir;
use crate::source::Sources;

/// An output format of `trestle graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Graphviz DOT (`dot -Tsvg`)
    Dot,
    /// A Mermaid flowchart (renders in GitHub Markdown)
    Mermaid,
    /// Nodes, edges and waves as JSON
    Json,
}

/// A node as drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewNode {
    /// `workload:NAME` or `resource:ID`.
    pub id: String,
    pub name: String,
    /// `workload` or `resource`.
    pub kind: &'static str,
    /// The resource type (resources only).
    pub ty: Option<String>,
    /// The provisioner that won (resources only).
    pub provisioner: Option<String>,
    pub class: Option<String>,
    pub namespace: String,
    pub wave: usize,
}

/// An edge as drawn.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ViewEdge {
    pub from: String,
    pub to: String,
    pub kind: EdgeKind,
    pub label: String,
    /// Where the edge comes from: spec file (relative to ROOT), 1-based line and column.
    pub file: String,
    pub line: usize,
    pub column: usize,
}

/// What every format draws, in a deterministic order: nodes by wave, kind and name; edges by
/// their endpoints, kind and label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub environment: String,
    pub nodes: Vec<ViewNode>,
    pub edges: Vec<ViewEdge>,
}

impl View {
    /// The view of an environment's graph.
    pub fn new(graph: &Graph, env: &ir::Environment, sources: &Sources) -> View {
        let id = |n: &Node| match n {
            Node::Workload(w) => format!("workload:{w}"),
            Node::Resource(r) => format!("resource:{r}"),
        };
        let mut nodes: Vec<ViewNode> = graph
            .index
            .keys()
            .map(|n| {
                let wave = graph.waves.get(n).copied().unwrap_or(0);
                match n {
                    Node::Workload(name) => ViewNode {
                        id: id(n),
                        name: name.clone(),
                        kind: "workload",
                        ty: None,
                        provisioner: None,
                        class: None,
                        namespace: env
                            .workload(name)
                            .map(|w| w.namespace.clone())
                            .unwrap_or_default(),
                        wave,
                    },
                    Node::Resource(rid) => {
                        let inst = env.resources.get(rid);
                        ViewNode {
                            id: id(n),
                            name: rid.clone(),
                            kind: "resource",
                            ty: inst.map(|i| i.ty.clone()),
                            provisioner: inst.map(|i| i.provisioner.clone()),
                            class: inst.map(|i| i.class.clone()),
                            namespace: inst.map(|i| i.namespace.clone()).unwrap_or_default(),
                            wave,
                        }
                    }
                }
            })
            .collect();
        // Workloads first in each wave, then their resources.
        nodes.sort_by(|a, b| {
            (a.wave, a.kind != "workload", &a.name).cmp(&(b.wave, b.kind != "workload", &b.name))
        });
        let mut edges: Vec<ViewEdge> = graph
            .graph
            .edge_references()
            .map(|e| {
                let w = e.weight();
                let file = sources.get(w.span.file);
                let (line, column) = file.line_col(w.span.start);
                ViewEdge {
                    from: id(&graph.graph[e.source()]),
                    to: id(&graph.graph[e.target()]),
                    kind: w.kind,
                    label: w.label.clone(),
                    file: file.name.clone(),
                    line,
                    column,
                }
            })
            .collect();
        edges.sort();
        edges.dedup();
        View {
            environment: env.name.clone(),
            nodes,
            edges,
        }
    }

    /// Node ids per wave, wave 0 first.
    pub fn waves(&self) -> Vec<Vec<&ViewNode>> {
        let mut waves: BTreeMap<usize, Vec<&ViewNode>> = BTreeMap::new();
        for n in &self.nodes {
            waves.entry(n.wave).or_default().push(n);
        }
        waves.into_values().collect()
    }
}

/// `trestle graph [ROOT] --env NAME --format F`: compile everything in memory (the graph needs
/// the rendered Terraform), print diagnostics to stderr and the graph to stdout. The graph is
/// printed even when it has a cycle, which is easier to see drawn; the exit code is 1 then.
pub fn cmd(root: Option<std::path::PathBuf>, env: &str, format: Format, color: bool) -> i32 {
    use crate::cli::exit;
    use std::io::Write as _;
    let root = root.unwrap_or_else(|| std::path::PathBuf::from("."));
    if !root.is_dir() {
        eprintln!("error: `{}` is not a directory", root.display());
        return exit::USAGE;
    }
    let options = crate::Options {
        envs: BTreeSet::from([env.to_string()]),
        ..Default::default()
    };
    let outcome = crate::compile(&root, &options);
    let _ = std::io::stderr().write_all(
        crate::diagnostics::render::human(&outcome.diags, &outcome.sources, color).as_bytes(),
    );
    let code = if outcome.has_errors() {
        exit::SPEC_ERRORS
    } else {
        exit::OK
    };
    let (Some(graph), Some(ir_env)) = (
        outcome.graphs.get(env),
        outcome.envs.iter().find(|e| e.name == env),
    ) else {
        eprintln!("trestle graph: no graph for environment `{env}`");
        return exit::SPEC_ERRORS;
    };
    let view = View::new(graph, ir_env, &outcome.sources);
    let _ = std::io::stdout().write_all(render(&view, format).as_bytes());
    code
}

/// Render a view in a format; the text ends with a newline.
pub fn render(view: &View, format: Format) -> String {
    match format {
        Format::Dot => dot(view),
        Format::Mermaid => mermaid(view),
        Format::Json => json(view),
    }
}

/// The text an edge shows.
fn edge_caption(e: &ViewEdge) -> String {
    match e.kind {
        EdgeKind::DependsOn => "depends on".to_string(),
        EdgeKind::Uses => format!("uses {}", e.label),
        EdgeKind::References => e.label.clone(),
        EdgeKind::Terraform => format!("terraform: {}", e.label),
    }
}

/// The second line of a node's caption: `workload` or the resource type and provisioner.
fn node_detail(n: &ViewNode) -> String {
    match (&n.ty, &n.provisioner) {
        (Some(t), Some(p)) => format!("{t} ({p})"),
        (Some(t), None) => t.clone(),
        _ => "workload".to_string(),
    }
}

/// A DOT double-quoted string: `"` and `\` escaped, line breaks as `\n` (a centred line).
pub fn dot_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn dot(view: &View) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// Generated by trestle: the dependency graph of environment {}.",
        view.environment.replace(['\n', '\r'], " ")
    );
    let _ = writeln!(
        out,
        "digraph {} {{",
        dot_quote(&format!("trestle {}", view.environment))
    );
    // Arrows point at what a node needs; laid out right to left, what is needed comes out on
    // the left. Each wave is a box of its own.
    out.push_str("  rankdir=RL;\n  nodesep=0.3;\n  ranksep=0.5;\n");
    out.push_str("  node [fontname=\"Helvetica\", fontsize=11];\n");
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=9, color=\"#4b5563\"];\n");
    for nodes in view.waves() {
        let Some(wave) = nodes.first().map(|n| n.wave) else {
            continue;
        };
        let _ = writeln!(
            out,
            "  subgraph {} {{",
            dot_quote(&format!("cluster_wave_{wave}"))
        );
        let _ = writeln!(out, "    label={};", dot_quote(&format!("wave {wave}")));
        out.push_str("    style=\"rounded,dashed\";\n    color=\"#9ca3af\";\n    fontcolor=\"#6b7280\";\n    fontname=\"Helvetica\";\n");
        for n in &nodes {
            let label = dot_quote(&format!("{}\n{}", n.name, node_detail(n)));
            let style = if n.kind == "workload" {
                "shape=box, style=\"rounded,filled\", fillcolor=\"#dbeafe\", color=\"#1d4ed8\""
            } else {
                "shape=cylinder, style=filled, fillcolor=\"#fef3c7\", color=\"#b45309\""
            };
            let _ = writeln!(out, "    {} [label={label}, {style}];", dot_quote(&n.id));
        }
        out.push_str("  }\n");
    }
    for e in &view.edges {
        let style = match e.kind {
            EdgeKind::DependsOn => "penwidth=1.6",
            EdgeKind::Uses => "style=solid",
            EdgeKind::References => "style=dashed, color=\"#b45309\"",
            EdgeKind::Terraform => "style=dotted, color=\"#7c3aed\"",
        };
        let _ = writeln!(
            out,
            "  {} -> {} [label={}, {style}];",
            dot_quote(&e.from),
            dot_quote(&e.to),
            dot_quote(&edge_caption(e))
        );
    }
    out.push_str("}\n");
    out
}

/// Text for a Mermaid quoted label: ASCII punctuation other than `-_.,:/()=+` and control
/// characters become numeric entities (`#34;`), so quotes, brackets, pipes, backticks and
/// markup cannot end the label or start syntax.
pub fn mermaid_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let safe = c.is_ascii_alphanumeric()
            || " -_.,:/()=+".contains(c)
            || (!c.is_ascii() && !c.is_control() && !c.is_whitespace());
        if safe {
            out.push(c);
        } else {
            let _ = write!(out, "#{};", c as u32);
        }
    }
    out
}

/// Mermaid node ids: letters, digits and `_` only, unique per view.
fn mermaid_ids(view: &View) -> BTreeMap<&str, String> {
    let mut taken: BTreeSet<String> = BTreeSet::new();
    let mut ids = BTreeMap::new();
    for n in &view.nodes {
        let prefix = if n.kind == "workload" { "w" } else { "r" };
        let name: String = n
            .name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let base = format!("{prefix}_{name}");
        let mut id = base.clone();
        let mut k = 2;
        while !taken.insert(id.clone()) {
            id = format!("{base}_{k}");
            k += 1;
        }
        ids.insert(n.id.as_str(), id);
    }
    ids
}

fn mermaid(view: &View) -> String {
    let ids = mermaid_ids(view);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "%% Generated by trestle: the dependency graph of environment {}.",
        view.environment.replace(['\n', '\r'], " ")
    );
    // Right to left: arrows point at what a node needs, and wave 0 comes out on the left.
    out.push_str("flowchart RL\n");
    for nodes in view.waves() {
        let Some(wave) = nodes.first().map(|n| n.wave) else {
            continue;
        };
        let _ = writeln!(out, "  subgraph wave{wave}[\"wave {wave}\"]");
        for n in &nodes {
            let text = format!(
                "{}<br/>{}",
                mermaid_text(&n.name),
                mermaid_text(&node_detail(n))
            );
            let id = &ids[n.id.as_str()];
            if n.kind == "workload" {
                let _ = writeln!(out, "    {id}(\"{text}\"):::workload");
            } else {
                let _ = writeln!(out, "    {id}[(\"{text}\")]:::resource");
            }
        }
        out.push_str("  end\n");
    }
    for e in &view.edges {
        let (Some(from), Some(to)) = (ids.get(e.from.as_str()), ids.get(e.to.as_str())) else {
            continue;
        };
        let arrow = match e.kind {
            EdgeKind::DependsOn => "==>",
            EdgeKind::Uses => "-->",
            EdgeKind::References | EdgeKind::Terraform => "-.->",
        };
        let _ = writeln!(
            out,
            "  {from} {arrow}|\"{}\"| {to}",
            mermaid_text(&edge_caption(e))
        );
    }
    out.push_str("  classDef workload fill:#dbeafe,stroke:#1d4ed8,color:#111827\n");
    out.push_str("  classDef resource fill:#fef3c7,stroke:#b45309,color:#111827\n");
    out
}

fn json(view: &View) -> String {
    let nodes: Vec<serde_json::Value> = view
        .nodes
        .iter()
        .map(|n| {
            let mut o = json!({
                "id": n.id,
                "kind": n.kind,
                "name": n.name,
                "namespace": n.namespace,
                "wave": n.wave,
            });
            if let (Some(ty), Some(map)) = (&n.ty, o.as_object_mut()) {
                map.insert("type".into(), json!(ty));
                map.insert("class".into(), json!(n.class));
                map.insert("provisioner".into(), json!(n.provisioner));
            }
            o
        })
        .collect();
    let edges: Vec<serde_json::Value> = view
        .edges
        .iter()
        .map(|e| {
            json!({
                "from": e.from,
                "to": e.to,
                "kind": e.kind.as_str(),
                "label": e.label,
                "file": e.file,
                "line": e.line,
                "column": e.column,
            })
        })
        .collect();
    let waves: Vec<Vec<&str>> = view
        .waves()
        .iter()
        .map(|w| w.iter().map(|n| n.id.as_str()).collect())
        .collect();
    let doc = json!({
        "environment": view.environment,
        "nodes": nodes,
        "edges": edges,
        "waves": waves,
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "a\"b\\c\n<d>|e`f]g[h}{i;j#k%l&m -->x";

    fn hostile_view() -> View {
        let node = |kind: &'static str, name: &str, wave| ViewNode {
            id: format!("{kind}:{name}"),
            name: name.to_string(),
            kind,
            ty: (kind == "resource").then(|| HOSTILE.to_string()),
            provisioner: (kind == "resource").then(|| "p\"q".to_string()),
            class: (kind == "resource").then(|| "default".to_string()),
            namespace: "ns".into(),
            wave,
        };
        let w = format!("{HOSTILE}-w");
        let r = format!("{HOSTILE}-r");
        View {
            environment: HOSTILE.to_string(),
            nodes: vec![
                node("resource", &r, 0),
                node("workload", &w, 1),
                // Collides with the first once sanitised.
                node("workload", &w.replace('"', "_"), 1),
            ],
            edges: vec![ViewEdge {
                from: format!("workload:{w}"),
                to: format!("resource:{r}"),
                kind: EdgeKind::Uses,
                label: HOSTILE.to_string(),
                file: "x.kdl".into(),
                line: 1,
                column: 1,
            }],
        }
    }

    /// DOT: every double-quoted string is closed on its line, with no raw line break, and the
    /// statements are exactly the ones we write.
    #[test]
    fn dot_escapes_hostile_names() {
        let text = dot(&hostile_view());
        assert!(text.contains(&dot_quote(&format!("workload:{HOSTILE}-w"))));
        assert_eq!(
            dot_quote("a\"b\\c\nd"),
            "\"a\\\"b\\\\c\\nd\"",
            "quote, backslash and line break escaped"
        );
        for line in text.lines().skip(1) {
            // Outside quoted strings, a line holds only DOT syntax we wrote.
            let mut outside = String::new();
            let mut in_str = false;
            let mut chars = line.chars();
            while let Some(c) = chars.next() {
                match (in_str, c) {
                    (true, '\\') => {
                        chars.next();
                    }
                    (_, '"') => in_str = !in_str,
                    (false, c) => outside.push(c),
                    _ => {}
                }
            }
            assert!(!in_str, "unterminated string: {line}");
            assert!(
                outside
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || " {}[]=;,->.#_".contains(c)),
                "unexpected syntax outside strings: {outside:?} in {line}"
            );
        }
        assert_eq!(text.matches(" -> ").count(), 1, "one edge");
    }

    /// Mermaid: ids are plain identifiers (distinct even when names sanitise alike), labels
    /// hold only safe characters and entities.
    #[test]
    fn mermaid_escapes_hostile_names() {
        let view = hostile_view();
        let text = mermaid(&view);
        let ids = mermaid_ids(&view);
        let unique: BTreeSet<&String> = ids.values().collect();
        assert_eq!(unique.len(), 3, "{ids:?}");
        for id in ids.values() {
            assert!(
                id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{id}"
            );
        }
        assert_eq!(mermaid_text("a\"|`<b>\n→"), "a#34;#124;#96;#60;b#62;#10;→");
        for line in text.lines().skip(1) {
            // Between the quotes of a label, only safe characters, entities and `<br/>`.
            for (i, part) in line.split('"').enumerate() {
                if i % 2 == 1 {
                    let rest = part.replace("<br/>", "");
                    assert!(
                        rest.chars().all(|c| c.is_ascii_alphanumeric()
                            || " -_.,:/()=+#;".contains(c)
                            || !c.is_ascii()),
                        "unsafe label {part:?}"
                    );
                }
            }
            assert_eq!(line.matches('"').count() % 2, 0, "{line}");
        }
        assert!(text.starts_with("%% Generated by trestle"));
    }

    /// Writes the hostile view as DOT and Mermaid under `TRESTLE_GRAPH_DIR`, for Graphviz and
    /// Mermaid's own parser (docs/graph.md, "Checking the output").
    #[test]
    fn dump_for_graph_tools() {
        let Some(dir) = std::env::var_os("TRESTLE_GRAPH_DIR") else {
            return;
        };
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("create TRESTLE_GRAPH_DIR");
        let view = hostile_view();
        std::fs::write(dir.join("hostile.dot"), dot(&view)).expect("write");
        std::fs::write(dir.join("hostile.mmd"), mermaid(&view)).expect("write");
    }

    #[test]
    fn json_lists_nodes_edges_and_waves() {
        let v: serde_json::Value = serde_json::from_str(&json(&hostile_view())).unwrap();
        assert_eq!(v["nodes"].as_array().unwrap().len(), 3);
        assert_eq!(v["edges"][0]["label"], HOSTILE);
        assert_eq!(v["waves"].as_array().unwrap().len(), 2);
        assert_eq!(v["nodes"][0]["type"], HOSTILE);
    }
}
