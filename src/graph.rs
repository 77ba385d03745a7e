//! Pass 5: the dependency graph of one environment (petgraph). Nodes are workloads and resource
//! instances; edges are `depends-on` and resource use. Cycles are errors listing every edge;
//! the longest-path depth over `depends-on` gives each workload's deployment wave.

use std::collections::BTreeMap;

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::diagnostics::{codes, Diagnostic};
use crate::ir;
use crate::source::Span;

/// A node of the graph.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Node {
    Workload(String),
    Resource(String),
}

/// Why an edge exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    DependsOn,
    Uses,
}

/// The graph of one environment with derived facts.
#[derive(Debug)]
pub struct Graph {
    pub graph: DiGraph<Node, (EdgeKind, Span)>,
    pub index: BTreeMap<Node, NodeIndex>,
    /// Wave per workload (0 = deployed first).
    pub waves: BTreeMap<String, usize>,
    /// For each workload, the workloads that depend on it: (name, namespace), sorted.
    pub dependents: BTreeMap<String, Vec<(String, String)>>,
}

/// Build the graph; a cycle is a T401 error.
pub fn build(env: &ir::Environment) -> (Graph, Vec<Diagnostic>) {
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
                graph.add_edge(from, *to, (EdgeKind::DependsOn, *span));
                dependents
                    .entry(dep.clone())
                    .or_default()
                    .push((w.name.clone(), w.namespace.clone()));
            }
        }
        for u in &w.resources {
            if let Some(to) = index.get(&Node::Resource(u.id.clone())) {
                graph.add_edge(from, *to, (EdgeKind::Uses, u.span));
            }
        }
    }
    for d in dependents.values_mut() {
        d.sort();
        d.dedup();
    }
    let mut diags = Vec::new();
    let mut in_cycle = std::collections::BTreeSet::new();
    for scc in tarjan_scc(&graph) {
        if scc.len() < 2 {
            continue;
        }
        let mut names: Vec<String> = scc
            .iter()
            .map(|i| match &graph[*i] {
                Node::Workload(n) | Node::Resource(n) => n.clone(),
            })
            .collect();
        names.sort();
        in_cycle.extend(names.iter().cloned());
        let mut edges: Vec<(String, String, Span)> = graph
            .edge_indices()
            .filter_map(|e| {
                let (a, b) = graph.edge_endpoints(e)?;
                (scc.contains(&a) && scc.contains(&b)).then(|| {
                    let name = |i: NodeIndex| match &graph[i] {
                        Node::Workload(n) | Node::Resource(n) => n.clone(),
                    };
                    (name(a), name(b), graph[e].1)
                })
            })
            .collect();
        edges.sort();
        let mut d = Diagnostic::error(
            codes::CYCLE,
            format!("dependency cycle: {}", cycle_text(&edges)),
        );
        for (i, (a, b, span)) in edges.iter().enumerate() {
            d = if i == 0 {
                d.label(*span, format!("`{a}` depends on `{b}`"))
            } else {
                d.related(*span, format!("`{a}` depends on `{b}`"))
            };
        }
        diags.push(d.help("no deployment order exists; remove one of these edges"));
    }
    let mut waves = BTreeMap::new();
    for w in &env.workloads {
        wave(&w.name, env, &in_cycle, &mut waves, 0);
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

fn cycle_text(edges: &[(String, String, Span)]) -> String {
    // Walk the cycle from its first edge so the message reads a → b → c → a.
    let Some(first) = edges.first() else {
        return String::new();
    };
    let mut path = vec![first.0.clone(), first.1.clone()];
    while path.len() <= edges.len() {
        let last = path[path.len() - 1].clone();
        match edges.iter().find(|e| e.0 == last) {
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

fn wave(
    name: &str,
    env: &ir::Environment,
    in_cycle: &std::collections::BTreeSet<String>,
    memo: &mut BTreeMap<String, usize>,
    depth: usize,
) -> usize {
    if let Some(w) = memo.get(name) {
        return *w;
    }
    if in_cycle.contains(name) || depth > env.workloads.len() {
        memo.insert(name.to_string(), 0);
        return 0;
    }
    let deps: Vec<String> = env
        .workload(name)
        .map(|w| w.depends_on.iter().map(|d| d.0.clone()).collect())
        .unwrap_or_default();
    let value = deps
        .iter()
        .map(|d| wave(d, env, in_cycle, memo, depth + 1) + 1)
        .max()
        .unwrap_or(0);
    memo.insert(name.to_string(), value);
    value
}
