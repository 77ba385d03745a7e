//! Pass 5: the dependency graph of one environment (petgraph). Nodes are workloads and resource
//! instances; edges point from the dependent to what it needs: `depends-on` (workload →
//! workload), resource use (workload → resource), param references (`${resources.X.OUT}` in a
//! param: resource → resource) and Terraform references (a resource's rendered Terraform or
//! `expr=` output naming an address another instance declares: resource → resource).
//!
//! A cycle is a T401 error listing every edge at its span. A workload's deployment wave is the
//! length of its longest `depends-on` chain (0 = depends on nothing); a resource instance is in
//! the wave of its earliest consumer. Unused resource types and unconsumed APIs are T402
//! infos, reported once over the model.
//! docs/graph.md describes all of it; [`render`] draws the graph as DOT, Mermaid or JSON.

pub mod render;

use std::collections::{BTreeMap, BTreeSet};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use crate::diagnostics::{codes, Diagnostic};
use crate::ir;
use crate::model::Model;
use crate::source::{Origin, Sources, Span};

/// A node of the graph.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Node {
    Workload(String),
    Resource(String),
}

impl Node {
    /// The workload name or resource instance id.
    pub fn name(&self) -> &str {
        match self {
            Node::Workload(n) | Node::Resource(n) => n,
        }
    }
}

/// Why an edge exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EdgeKind {
    /// `depends-on`: workload → workload.
    DependsOn,
    /// A `resource` request: workload → resource instance.
    Uses,
    /// A param holding `${resources.NAME.OUTPUT}`: resource → resource.
    References,
    /// Rendered Terraform or an `expr=` output naming another instance's address.
    Terraform,
}

impl EdgeKind {
    /// The kind as the JSON graph and `--format` outputs name it.
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::DependsOn => "depends-on",
            EdgeKind::Uses => "uses",
            EdgeKind::References => "references",
            EdgeKind::Terraform => "terraform",
        }
    }
}

/// An edge: its kind, where it comes from in the specs, and a short label (the resource NAME
/// for `uses`, `param → output` for references, the Terraform address for Terraform edges).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub kind: EdgeKind,
    pub span: Span,
    pub label: String,
}

/// A Terraform reference between two instances, found in rendered Terraform.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TerraformRef {
    /// The instance whose Terraform holds the reference.
    pub from: String,
    /// The instance that declares the address.
    pub to: String,
    /// The address, like `aws_db_instance.orders-db`.
    pub address: String,
    /// The template or `expr=` output that holds it.
    pub span: Span,
}

/// The graph of one environment with derived facts.
#[derive(Debug)]
pub struct Graph {
    pub graph: DiGraph<Node, Edge>,
    pub index: BTreeMap<Node, NodeIndex>,
    /// Wave per node (0 = deployed first).
    pub waves: BTreeMap<Node, usize>,
    /// For each workload, the workloads that depend on it: (name, namespace), sorted.
    pub dependents: BTreeMap<String, Vec<(String, String)>>,
}

impl Graph {
    /// The deployment wave of a workload (0 when unknown).
    pub fn workload_wave(&self, name: &str) -> usize {
        self.waves
            .get(&Node::Workload(name.to_string()))
            .copied()
            .unwrap_or(0)
    }

    /// The deployment wave of a resource instance (0 when unknown).
    pub fn resource_wave(&self, id: &str) -> usize {
        self.waves
            .get(&Node::Resource(id.to_string()))
            .copied()
            .unwrap_or(0)
    }

    /// Resource-to-resource edges: (from id, to id, kind), sorted and deduplicated.
    pub fn resource_edges(&self) -> Vec<(String, String, EdgeKind)> {
        let mut out: Vec<(String, String, EdgeKind)> = self
            .graph
            .edge_references()
            .filter_map(
                |e| match (&self.graph[e.source()], &self.graph[e.target()]) {
                    (Node::Resource(a), Node::Resource(b)) => {
                        Some((a.clone(), b.clone(), e.weight().kind))
                    }
                    _ => None,
                },
            )
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// Build the graph of one environment; a cycle is a T401 error. `terraform` holds the
/// references found in the environment's rendered Terraform.
pub fn build(env: &ir::Environment, terraform: &[TerraformRef]) -> (Graph, Vec<Diagnostic>) {
    let mut graph = DiGraph::new();
    let mut index = BTreeMap::new();
    for w in &env.workloads {
        let n = Node::Workload(w.name.clone());
        index.insert(n.clone(), graph.add_node(n));
    }
    for id in env.resources.keys() {
        let n = Node::Resource(id.clone());
        index.insert(n.clone(), graph.add_node(n));
    }
    let mut dependents: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for w in &env.workloads {
        let from = index[&Node::Workload(w.name.clone())];
        for (dep, span) in &w.depends_on {
            if let Some(to) = index.get(&Node::Workload(dep.clone())) {
                graph.add_edge(
                    from,
                    *to,
                    Edge {
                        kind: EdgeKind::DependsOn,
                        span: *span,
                        label: String::new(),
                    },
                );
                dependents
                    .entry(dep.clone())
                    .or_default()
                    .push((w.name.clone(), w.namespace.clone()));
            }
        }
        for u in &w.resources {
            if let Some(to) = index.get(&Node::Resource(u.id.clone())) {
                graph.add_edge(
                    from,
                    *to,
                    Edge {
                        kind: EdgeKind::Uses,
                        span: u.span,
                        label: u.name.clone(),
                    },
                );
            }
        }
    }
    for inst in env.resources.values() {
        let from = index[&Node::Resource(inst.id.clone())];
        for r in &inst.references {
            if let Some(to) = index.get(&Node::Resource(r.resource.clone())) {
                graph.add_edge(
                    from,
                    *to,
                    Edge {
                        kind: EdgeKind::References,
                        span: r.span,
                        label: format!("{} → {}", r.param, r.output),
                    },
                );
            }
        }
    }
    let mut tf: Vec<&TerraformRef> = terraform.iter().collect();
    tf.sort();
    tf.dedup();
    for r in tf {
        let (Some(from), Some(to)) = (
            index.get(&Node::Resource(r.from.clone())),
            index.get(&Node::Resource(r.to.clone())),
        ) else {
            continue;
        };
        graph.add_edge(
            *from,
            *to,
            Edge {
                kind: EdgeKind::Terraform,
                span: r.span,
                label: r.address.clone(),
            },
        );
    }
    for d in dependents.values_mut() {
        d.sort();
        d.dedup();
    }
    let mut diags = Vec::new();
    // tarjan_scc lists components in postorder: each after every component it reaches, so the
    // workloads a workload depends on have their wave when it gets its own.
    let mut waves = BTreeMap::new();
    for scc in tarjan_scc(&graph) {
        let members: BTreeSet<NodeIndex> = scc.iter().copied().collect();
        // The component's own edges, in edge order (only its members' out-edges can be
        // inside it; scanning every edge per component was quadratic at monorepo scale).
        let mut inner: Vec<_> = scc
            .iter()
            .flat_map(|n| graph.edges(*n))
            .filter(|e| members.contains(&e.target()))
            .collect();
        inner.sort_by_key(|e| e.id());
        if !inner.is_empty() {
            diags.push(cycle(&graph, &inner));
        }
        let wave = scc
            .iter()
            .flat_map(|n| graph.edges(*n))
            .filter(|e| e.weight().kind == EdgeKind::DependsOn && !members.contains(&e.target()))
            .map(|e| waves.get(&graph[e.target()]).copied().unwrap_or(0) + 1)
            .max()
            .unwrap_or(0);
        for n in &scc {
            if let Node::Workload(_) = graph[*n] {
                waves.insert(graph[*n].clone(), wave);
            }
        }
    }
    // A resource instance deploys with its first consumer: never in an earlier wave, since
    // Argo CD waits for a wave to be healthy and a claim on a `WaitForFirstConsumer` storage
    // class stays Pending until a pod uses it.
    for inst in env.resources.values() {
        let wave = inst
            .consumers
            .iter()
            .filter_map(|(w, _)| waves.get(&Node::Workload(w.clone())).copied())
            .min()
            .unwrap_or(0);
        waves.insert(Node::Resource(inst.id.clone()), wave);
    }
    (
        Graph {
            graph,
            index,
            waves,
            dependents,
        },
        diags,
    )
}

/// What an edge means, for cycle messages: "`a` depends on `b`".
fn edge_text(kind: EdgeKind, label: &str, a: &str, b: &str) -> String {
    match kind {
        EdgeKind::DependsOn => format!("`{a}` depends on `{b}`"),
        EdgeKind::Uses => format!("`{a}` uses `{b}`"),
        EdgeKind::References => {
            let param = label.split(" → ").next().unwrap_or(label);
            format!("param `{param}` of `{a}` refers to `{b}`")
        }
        EdgeKind::Terraform => format!("the Terraform of `{a}` refers to `{label}` of `{b}`"),
    }
}

/// The T401 error for the edges inside one strongly connected component.
fn cycle(
    graph: &DiGraph<Node, Edge>,
    inner: &[petgraph::graph::EdgeReference<'_, Edge>],
) -> Diagnostic {
    let mut edges: Vec<(String, String, EdgeKind, String, Span)> = inner
        .iter()
        .map(|e| {
            (
                graph[e.source()].name().to_string(),
                graph[e.target()].name().to_string(),
                e.weight().kind,
                e.weight().label.clone(),
                e.weight().span,
            )
        })
        .collect();
    edges.sort();
    edges.dedup();
    let pairs: Vec<(String, String)> = edges.iter().map(|e| (e.0.clone(), e.1.clone())).collect();
    let mut d = Diagnostic::error(
        codes::CYCLE,
        format!("dependency cycle: {}", cycle_text(&pairs)),
    );
    for (i, (a, b, kind, label, span)) in edges.iter().enumerate() {
        let text = edge_text(*kind, label, a, b);
        d = if i == 0 {
            d.label(*span, text)
        } else {
            d.related(*span, text)
        };
    }
    let help = if edges.iter().all(|e| e.2 == EdgeKind::DependsOn) {
        "no deployment order exists; remove one of these `depends-on` lines"
    } else {
        "no deployment order exists; remove one of these references"
    };
    d.help(help)
}

fn cycle_text(edges: &[(String, String)]) -> String {
    // Walk the cycle from its first edge so the message reads a → b → c → a.
    let Some(first) = edges.first() else {
        return String::new();
    };
    let mut path = vec![first.0.clone(), first.1.clone()];
    if first.0 == first.1 {
        return path.join(" → ");
    }
    while path.len() <= edges.len() {
        let last = path[path.len() - 1].clone();
        match edges.iter().find(|e| e.0 == last && e.1 != last) {
            Some(e) if e.1 == path[0] => {
                path.push(e.1.clone());
                break;
            }
            Some(e) => path.push(e.1.clone()),
            None => break,
        }
    }
    path.join(" → ")
}

/// T402 infos over the whole model (not per environment): resource types declared in the tree
/// that no workload requests in any layer, and APIs that workloads provide but none consumes.
pub fn unused(model: &Model, sources: &Sources) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let requested: BTreeSet<&str> = model
        .workloads
        .values()
        .flat_map(|w| std::iter::once(&w.body).chain(w.whens.iter().map(|x| &x.body)))
        .flat_map(|b| &b.resources)
        .filter_map(|r| r.ty.as_ref().map(|t| t.value.as_str()))
        .collect();
    for t in model.resource_types.values() {
        let in_tree = sources.get(t.name.span.file).origin == Origin::Tree;
        if in_tree && !requested.contains(t.name.value.as_str()) {
            diags.push(
                Diagnostic::info(
                    codes::UNUSED,
                    format!("no workload requests resource type `{}`", t.name.value),
                )
                .label(t.name.span, "declared here, never requested")
                .help(format!(
                    "request it in a workload (`resource NAME type={}`) or remove it",
                    t.name.value
                )),
            );
        }
    }
    let consumed: BTreeSet<&str> = model
        .workloads
        .values()
        .flat_map(|w| &w.consumes_api)
        .map(|a| a.value.as_str())
        .collect();
    for w in model.workloads.values() {
        for api in &w.provides_api {
            if consumed.contains(api.value.as_str()) {
                continue;
            }
            let mut d = Diagnostic::info(
                codes::UNUSED,
                format!(
                    "API `{}` is provided by `{}` but no workload consumes it",
                    api.value, w.name.value
                ),
            )
            .label(api.span, "provided here, never consumed");
            if let Some(a) = model.apis.get(&api.value) {
                d = d.related(a.name.span, "declared here");
            }
            diags.push(d.help(format!(
                "add `consumes-api {}` to the workloads that call it, or stop declaring it",
                api.value
            )));
        }
    }
    diags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycle_text_walks_the_cycle() {
        let e = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            cycle_text(&[e("a", "b"), e("b", "c"), e("c", "a")]),
            "a → b → c → a"
        );
        assert_eq!(cycle_text(&[e("db", "db")]), "db → db");
    }
}
