//! trestle: a static compiler for internal developer platforms.
//!
//! The driver runs the passes in order (see ARCHITECTURE.md): parse → lower → resolve →
//! expand → graph → render → policy → write. Each pass returns its result and its
//! diagnostics; a pass runs only on input that earlier passes accepted.

pub mod ast;
pub mod check;
pub mod cli;
pub mod diagnostics;
pub mod emit;
pub mod expand;
pub mod format;
pub mod graph;
pub mod hcl;
pub mod init;
pub mod ir;
pub mod kdl_fast;
pub mod lower;
pub mod model;
pub mod parse;
pub mod platform;
pub mod policy;
pub mod progress;
pub mod resolve;
pub mod rules;
pub mod source;
#[cfg(test)]
mod test_rng;
#[cfg(test)]
mod test_trees;
pub mod why;
pub mod write;
pub mod yaml;

use std::path::Path;

use diagnostics::Diagnostic;
use source::Sources;

/// What one run of the front end produced.
pub struct Frontend {
    pub sources: Sources,
    /// The model, when it has errors; otherwise `checked` holds it (see [`Frontend::model`]).
    unchecked: Option<model::Model>,
    pub checked: Option<model::Checked>,
    pub diags: Vec<Diagnostic>,
}

impl Frontend {
    /// The resolved model, checked or not.
    pub fn model(&self) -> &model::Model {
        match (&self.checked, &self.unchecked) {
            (Some(c), _) => c,
            (None, Some(m)) => m,
            // `frontend` always sets exactly one of the two.
            (None, None) => unreachable!("a front end without a model"),
        }
    }
}

/// Phase timings on stderr when `TRESTLE_TIMINGS` is set (for profiling; see BENCHMARKS.md).
pub struct Timings {
    last: Option<std::time::Instant>,
}

impl Timings {
    pub fn start() -> Self {
        let on = std::env::var_os("TRESTLE_TIMINGS").is_some_and(|v| !v.is_empty());
        Timings {
            last: on.then(std::time::Instant::now),
        }
    }

    /// Print the time since the previous lap under `label`.
    pub fn lap(&mut self, label: &str) {
        if let Some(last) = self.last {
            let now = std::time::Instant::now();
            eprintln!(
                "timing: {label:<12} {:>8.1} ms",
                (now - last).as_secs_f64() * 1e3
            );
            self.last = Some(now);
        }
    }
}

/// Passes 1–3: parse, lower and resolve every spec file under ROOT.
pub fn frontend(root: &Path) -> Frontend {
    let mut t = Timings::start();
    let parsed = parse::load(root);
    t.lap("parse");
    let mut diags = parsed.diags;
    diags.extend(parsed.tree_errors);
    let (model, resolve_diags) = resolve::resolve(&parsed.sources, parsed.files);
    diags.extend(resolve_diags);
    t.lap("resolve");
    diags.extend(emit::backstage::check(&model));
    diagnostics::sort(&mut diags, &parsed.sources);
    let (checked, unchecked) = match resolve::checked(model, &diags) {
        Ok(checked) => (Some(checked), None),
        Err(model) => (None, Some(*model)),
    };
    if let Some(checked) = &checked {
        diags.extend(graph::unused(checked, &parsed.sources));
        diagnostics::sort(&mut diags, &parsed.sources);
    }
    t.lap("checks");
    Frontend {
        sources: parsed.sources,
        unchecked,
        checked,
        diags,
    }
}

/// Options of one compilation.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Environments to compile (empty: all).
    pub envs: std::collections::BTreeSet<String>,
    /// The date waivers expire against (`None`: `SOURCE_DATE_EPOCH`, else the clock).
    pub today: Option<ast::Date>,
    /// `--source-url`: the repository URL of ROOT, for Backstage `source-location` annotations.
    pub source_url: Option<String>,
    /// What happens to each environment's files once they are rendered.
    pub sink: Sink,
}

/// Where [`compile`] puts the generated files.
#[derive(Debug, Clone, Default)]
pub enum Sink {
    /// In [`Outcome::artifacts`].
    #[default]
    Keep,
    /// Nowhere: only the diagnostics matter (`validate`).
    Discard,
    /// Into a fresh OUT's staging folder as soon as they are rendered, so that a large build
    /// never holds all of them (`build` into a missing OUT); `artifacts` stays empty.
    Stage(std::sync::Arc<write::Staging>),
}

impl Sink {
    /// The files to keep for [`Outcome::artifacts`]: all of them, or none once staged or dropped.
    fn take(&self, files: Vec<(String, Vec<u8>)>) -> Vec<(String, Vec<u8>)> {
        match self {
            Sink::Keep => files,
            Sink::Discard => Vec::new(),
            Sink::Stage(staging) => {
                staging.put(files);
                Vec::new()
            }
        }
    }
}

/// Everything a full compilation produced.
pub struct Outcome {
    pub sources: Sources,
    pub model: model::Model,
    pub envs: Vec<ir::Environment>,
    pub artifacts: write::Artifacts,
    pub diags: Vec<Diagnostic>,
    /// Rule and policy findings that waivers removed.
    pub waived: usize,
    /// The dependency graph of each rendered environment, by name.
    pub graphs: std::collections::BTreeMap<String, graph::Graph>,
}

impl Outcome {
    /// True when any error was reported (then nothing may be written).
    pub fn has_errors(&self) -> bool {
        self.diags.iter().any(Diagnostic::is_error)
    }
}

/// The header comment of a generated file: which spec files it came from.
pub fn header(comment: &str, files: impl IntoIterator<Item = String>) -> String {
    let mut files: Vec<String> = files.into_iter().collect();
    files.sort();
    files.dedup();
    format!(
        "{comment} Generated by trestle from {}. Do not edit.\n",
        files.join(", ")
    )
}

/// Every pass: parse, lower, resolve, expand, graph and render, all in memory.
pub fn compile(root: &Path, options: &Options) -> Outcome {
    let fe = frontend(root);
    let mut t = Timings::start();
    let mut diags = fe.diags;
    let mut outcome_envs = Vec::new();
    let mut artifacts = write::Artifacts::new();
    let mut waived = 0;
    let mut graphs = std::collections::BTreeMap::new();
    if let Some(checked) = &fe.checked {
        for name in &options.envs {
            if !checked.environments.contains_key(name) {
                diags.push(Diagnostic::error(
                    diagnostics::codes::UNKNOWN_ENVIRONMENT,
                    format!("--env {name}: no such environment"),
                ));
            }
        }
        // Every environment is expanded: the catalog covers them all, whatever `--env` selected
        // (SPEC section 5); Kubernetes and Terraform are rendered for the selected ones only.
        // Which layer set each field is for `trestle why` (which expands on its own); nothing
        // here reads it, and at monorepo scale it is a tenth of the memory of a build.
        let (all_envs, expand_diags) =
            expand::expand_without_provenance(checked, &Default::default());
        diags.extend(expand_diags);
        t.lap("expand");
        // Without `--env` every environment is rendered; only a selection is copied out.
        let selected: Vec<ir::Environment> = if options.envs.is_empty() {
            Vec::new()
        } else {
            all_envs
                .iter()
                .filter(|e| options.envs.contains(&e.name))
                .cloned()
                .collect()
        };
        let envs: &[ir::Environment] = if options.envs.is_empty() {
            &all_envs
        } else {
            &selected
        };
        // Rendered Kubernetes objects are parsed back only for policies that target them.
        let k8s_policies = checked.policies.values().any(|p| {
            matches!(
                p.target.as_ref().map(|t| &t.value),
                Some(ast::PolicyTarget::Kubernetes { .. })
            )
        });
        let terraform_types = policy::terraform_types(checked);
        // One environment at a time, each rendered in parallel inside: rendering them all at
        // once held three environments' intermediate state together (a fifth of the peak
        // memory at N = 10,000) for no gain in time on two cores.
        let rendered: Vec<(Staged, policy::Rendered, graph::Graph)> = envs
            .iter()
            .map(|env| {
                let ((files, d), g, parsed) = render_env(checked, &fe.sources, env);
                let mut t = Timings::start();
                let span = |w: &str| checked.workloads.get(w).map(|x| x.name.span);
                let objects = policy::rendered::collect(
                    env,
                    &files,
                    &span,
                    k8s_policies,
                    &terraform_types,
                    parsed,
                );
                t.lap(" policy input");
                let paths: Vec<String> = files.iter().map(|(p, _)| p.clone()).collect();
                // Staged (or dropped) right away, before the next environment renders.
                let kept = options.sink.take(files);
                t.lap(" output");
                ((kept, paths, d), objects, g)
            })
            .collect();
        let mut objects = Vec::new();
        let mut per_env = Vec::new();
        let mut paths = Vec::new();
        for (((files, env_paths, d), o, g), env) in rendered.into_iter().zip(envs) {
            per_env.push((env.name.clone(), d));
            paths.extend(env_paths);
            artifacts.extend(files);
            objects.push(o);
            graphs.insert(env.name.clone(), g);
        }
        diags.extend(expand::merge_env_diags(per_env));
        t.lap("render");
        let catalog = emit::backstage::Context {
            sources: &fe.sources,
            envs: &all_envs,
            source_url: options.source_url.as_deref(),
        };
        let (files, d) = emit::backstage::emit(checked, &catalog);
        diags.extend(d);
        paths.extend(files.iter().map(|(p, _)| p.clone()));
        artifacts.extend(options.sink.take(files));
        diags.extend(path_collisions(checked, envs, &paths));
        t.lap("catalog");
        let policies = policy::run(&policy::Input {
            model: checked,
            sources: &fe.sources,
            envs,
            rendered: &objects,
            today: options.today.unwrap_or_else(policy::waivers::default_today),
            evaluate: !diags.iter().any(Diagnostic::is_error),
            all_envs: options.envs.is_empty(),
        });
        diags.extend(policies.diags);
        waived = policies.waived;
        outcome_envs = if options.envs.is_empty() {
            all_envs
        } else {
            selected
        };
        t.lap("policies");
    }
    diagnostics::sort(&mut diags, &fe.sources);
    Outcome {
        sources: fe.sources,
        model: match fe.checked {
            Some(checked) => checked.into_model(),
            None => fe.unchecked.unwrap_or_default(),
        },
        envs: outcome_envs,
        artifacts,
        diags,
        waived,
        graphs,
    }
}

/// Files (path relative to OUT, bytes) and diagnostics of one environment.
type Rendered = (Vec<(String, Vec<u8>)>, Vec<Diagnostic>);

/// One environment's files not yet staged, the paths of all of them, and its diagnostics.
type Staged = (Vec<(String, Vec<u8>)>, Vec<String>, Vec<Diagnostic>);

/// Render one environment: Terraform templates first (the graph needs the references in
/// them), then the graph, then Kubernetes, then the Terraform files (`depends_on` needs the
/// graph). Also what the emitters parsed of their files, which policies would parse back.
fn render_env(
    model: &model::Checked,
    sources: &Sources,
    env: &ir::Environment,
) -> (Rendered, graph::Graph, policy::rendered::Parsed) {
    let mut t = Timings::start();
    let terraform = emit::terraform::prepare(model, sources, env);
    t.lap(" templates");
    let (graph, mut diags) = graph::build(env, &terraform.references());
    t.lap(" graph");
    use rayon::prelude::*;
    let file_of = |span: source::Span| sources.get(span.file).name.clone();
    let env_file = file_of(env.span);
    let mut namespaces: std::collections::BTreeMap<&str, Vec<String>> =
        std::collections::BTreeMap::new();
    for w in &env.workloads {
        namespaces
            .entry(&w.namespace)
            .or_default()
            .push(file_of(w.span));
    }
    // Workload files are independent of each other: render them in parallel, in spec order.
    let mut files: Vec<(String, Vec<u8>)> = env
        .workloads
        .par_iter()
        .with_min_len(16)
        .map(|w| {
            let cx = emit::kubernetes::Context {
                env,
                dependents: graph.dependents.get(&w.name).cloned().unwrap_or_default(),
                wave: graph.workload_wave(&w.name),
                header: header("#", [file_of(w.span)]),
            };
            let docs = emit::kubernetes::workload_documents(w, &cx);
            (
                format!("{}/kubernetes/{}/{}.yaml", env.name, w.namespace, w.name),
                emit::kubernetes::file_text(&cx.header, &docs).into_bytes(),
            )
        })
        .collect();
    for (ns, mut from) in namespaces {
        from.push(env_file.clone());
        let text = emit::kubernetes::file_text(
            &header("#", from),
            &[emit::kubernetes::namespace_document(ns, env)],
        );
        files.push((
            format!("{}/kubernetes/{}/namespace.yaml", env.name, ns),
            text.into_bytes(),
        ));
    }
    t.lap(" kubernetes");
    let (tf_files, tf_diags, parsed) = terraform.finish(&graph);
    t.lap(" terraform");
    let has_terraform = tf_files.iter().any(|(p, _)| p.ends_with(".tf"));
    files.push((
        format!("{}/README.md", env.name),
        emit::readme::environment_readme(env, &env_file, has_terraform).into_bytes(),
    ));
    files.extend(tf_files);
    diags.extend(tf_diags);
    diags.sort_by_key(|d| d.primary_span());
    ((files, diags), graph, parsed)
}

/// T703 for generated paths that would land on one file: the same path twice (a workload
/// named `namespace` next to `namespace.yaml`), or paths that differ only in letter case,
/// which are one file on macOS and Windows.
fn path_collisions(
    model: &model::Checked,
    envs: &[ir::Environment],
    paths: &[String],
) -> Vec<Diagnostic> {
    // The spec item a generated path is named after: a workload or resource instance of its
    // environment, else the environment; catalog files by workload name.
    let origin = |path: &str| -> Option<source::Span> {
        let stem = path.rsplit('/').next()?.split('.').next()?;
        let first = path.split('/').next()?;
        match envs.iter().find(|e| e.name == first) {
            Some(env) => Some(
                env.workload(stem)
                    .and_then(|w| model.workloads.get(&w.name))
                    .map(|w| w.name.span)
                    .or_else(|| env.resources.get(stem).map(|r| r.span))
                    .unwrap_or(env.span),
            ),
            None => model.workloads.get(stem).map(|w| w.name.span),
        }
    };
    // One diagnostic per pair of producers, however many environments repeat the collision.
    let mut found: Vec<(Option<source::Span>, Option<source::Span>, Diagnostic)> = Vec::new();
    for (first, second) in write::collisions(paths.iter().map(String::as_str)) {
        let primary = origin(&second);
        // The other producer of an exact duplicate is its environment (`namespace.yaml`).
        let env_span = || {
            let env = second.split('/').next()?;
            envs.iter().find(|e| e.name == env).map(|e| e.span)
        };
        let other = if first == second {
            env_span()
        } else {
            origin(&first)
        }
        .filter(|s| Some(*s) != primary);
        if let Some((_, _, d)) = found.iter_mut().find(|(p, _, _)| *p == primary) {
            d.notes.push(format!("also `{second}`"));
            continue;
        }
        let message = if first == second {
            format!("two generated files would both be written to `{first}`")
        } else {
            format!(
                "generated paths `{first}` and `{second}` differ only in letter case; \
                 they are one file on case-insensitive file systems (macOS, Windows)"
            )
        };
        let mut d = Diagnostic::error(diagnostics::codes::PATH_COLLISION, message)
            .help("rename one of the items so that their output paths differ");
        if let Some(span) = primary {
            d = d.label(span, format!("produces `{second}`"));
        }
        if let Some(span) = other {
            d = d.related(span, format!("also produces `{first}`"));
        }
        found.push((primary, other, d));
    }
    found.into_iter().map(|(_, _, d)| d).collect()
}
