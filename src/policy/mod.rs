//! Pass 7: policy. The built-in rules (registry: `src/rules.rs`) and the tree's `policy` nodes
//! (CEL) run over the IR and the rendered objects of every environment, waivers remove what
//! they excuse, and the rest become diagnostics whose code is the rule id or policy name.
//!
//! The runner: configure the rules from `rule` nodes, compile the policies (T502), check the
//! waivers' dates (T504), evaluate everything in parallel (one job per environment and
//! policy), apply the waivers (T505 for those that match nothing), and report a finding that
//! repeats in several environments once, naming them.

mod cel;
mod image;
pub mod objects;
mod refs;
mod regions;
pub mod rendered;
mod routes;
mod storage;
#[cfg(test)]
mod tests;
pub mod waivers;
mod workload;

use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::ast::{self, EnvType, RuleSeverity, Scalar, Spanned};
use crate::diagnostics::{codes, did_you_mean, Diagnostic, Severity};
use crate::ir;
use crate::model::Checked;
use crate::source::{Sources, Span};
pub use rendered::Rendered;

/// What the policy pass reports.
#[derive(Debug, Default)]
pub struct Outcome {
    pub diags: Vec<Diagnostic>,
    /// Findings that a waiver removed (a finding in several environments counts once).
    pub waived: usize,
}

/// The input of one policy run.
pub struct Input<'a> {
    pub model: &'a Checked,
    pub sources: &'a Sources,
    /// The compiled environments and, in the same order, what was rendered for them.
    pub envs: &'a [ir::Environment],
    pub rendered: &'a [Rendered],
    /// The date waivers are judged against.
    pub today: ast::Date,
    /// Rules and policies are evaluated only when no earlier pass reported an error.
    pub evaluate: bool,
    /// Every environment was compiled (no `--env`): only then is a waiver that matched nothing
    /// known to be unused.
    pub all_envs: bool,
}

/// Who a finding is about, for waiver scopes (`workload=`, `resource=`, `team=`, `api=`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Scope {
    pub workloads: Vec<String>,
    /// Instance ids and the names under which workloads request them.
    pub resources: Vec<String>,
    pub teams: Vec<String>,
    pub apis: Vec<String>,
}

impl Scope {
    /// A workload's finding: the workload and its owner team.
    pub fn workload(w: &ir::Workload) -> Scope {
        Scope {
            workloads: vec![w.name.clone()],
            teams: vec![w.owner.clone()],
            ..Scope::default()
        }
    }

    /// A resource instance's finding: the instance, its consumers and their teams.
    pub fn resource(r: &ir::ResourceInstance, env: &ir::Environment) -> Scope {
        let mut s = Scope {
            resources: vec![r.id.clone(), r.name.clone()],
            ..Scope::default()
        };
        for (name, _) in &r.consumers {
            s.workloads.push(name.clone());
            if let Some(w) = env.workload(name) {
                s.teams.push(w.owner.clone());
                s.resources.extend(
                    w.resources
                        .iter()
                        .filter(|u| u.id == r.id)
                        .map(|u| u.name.clone()),
                );
            }
        }
        s.resources.sort();
        s.resources.dedup();
        s.teams.sort();
        s.teams.dedup();
        s
    }

    /// The scope of a rendered object's origin.
    pub fn origin(o: &rendered::Origin, env: &ir::Environment) -> Scope {
        match o {
            rendered::Origin::Workload(w) => env.workload(w).map(Scope::workload),
            rendered::Origin::Resource(id) => {
                env.resources.get(id).map(|r| Scope::resource(r, env))
            }
            rendered::Origin::Environment => None,
        }
        .unwrap_or_default()
    }
}

/// One rule or policy finding before waivers and merging.
#[derive(Debug, Clone)]
pub(crate) struct Finding {
    /// Code = rule id or policy name; severity as configured.
    pub diag: Diagnostic,
    /// The environment it was found in (none for teams, APIs and model-wide rules).
    pub env: Option<String>,
    pub scope: Scope,
}

/// A configured, enabled built-in rule.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RuleCfg {
    pub id: &'static str,
    pub severity: Severity,
}

impl RuleCfg {
    /// A diagnostic with the rule's id and severity.
    pub fn diag(&self, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(self.id.to_string(), self.severity, message)
    }
}

/// The built-in rules as the tree's `rule` nodes configure them.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// Enabled rules and their severity (absent: `severity=off`).
    enabled: BTreeMap<&'static str, Severity>,
    /// image-tag-pinned `require-digest-in`.
    pub require_digest_in: Vec<EnvType>,
    /// prod-min-replicas `min`.
    pub min_replicas: i64,
    /// allowed-regions `regions` (empty: any region).
    pub regions: Vec<String>,
}

impl Config {
    /// Read the `rule` nodes; bad parameter values and repeated rules are reported.
    pub fn new(model: &Checked, diags: &mut Vec<Diagnostic>) -> Config {
        let mut c = Config {
            enabled: crate::rules::RULES
                .iter()
                .map(|r| (r.id, r.severity))
                .collect(),
            require_digest_in: Vec::new(),
            min_replicas: 2,
            regions: Vec::new(),
        };
        let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
        for r in &model.rules {
            let Some(info) = crate::rules::lookup(&r.id.value) else {
                continue;
            };
            if let Some(first) = seen.get(info.id) {
                diags.push(
                    Diagnostic::error(
                        codes::DUPLICATE_NAME,
                        format!("rule `{}` is configured twice", info.id),
                    )
                    .label(r.id.span, "configured again here")
                    .related(*first, "first configured here")
                    .help("merge the two `rule` nodes into one"),
                );
                continue;
            }
            seen.insert(info.id, r.id.span);
            if let Some(s) = &r.severity {
                match s.value {
                    RuleSeverity::Off => {
                        c.enabled.remove(info.id);
                    }
                    RuleSeverity::Info => {
                        c.enabled.insert(info.id, Severity::Info);
                    }
                    RuleSeverity::Warning => {
                        c.enabled.insert(info.id, Severity::Warning);
                    }
                    RuleSeverity::Error => {
                        c.enabled.insert(info.id, Severity::Error);
                    }
                }
            }
            for p in &r.params {
                match (info.id, p.key.value.as_str()) {
                    ("image-tag-pinned", "require-digest-in") => {
                        if let Some(s) = param_string(p, diags, "require-digest-in=\"production\"")
                        {
                            c.require_digest_in = env_types(&s, diags);
                        }
                    }
                    ("prod-min-replicas", "min") => match &p.value.value {
                        Scalar::Int(n) if *n >= 1 => c.min_replicas = *n,
                        Scalar::Int(n) => diags.push(
                            Diagnostic::error(
                                codes::INVALID_VALUE,
                                format!("`min={n}` would allow production to run no pods"),
                            )
                            .label(p.value.span, "must be at least 1")
                            .help("write `min=2`, or turn the rule off with `severity=off`"),
                        ),
                        other => diags.push(
                            Diagnostic::error(
                                codes::WRONG_TYPE,
                                format!("`min` takes an integer, not a {}", other.type_name()),
                            )
                            .label(p.value.span, "expected an integer")
                            .help(format!("write `min={}`", other.to_text().trim_matches('"'))),
                        ),
                    },
                    ("allowed-regions", "regions") => {
                        if let Some(s) =
                            param_string(p, diags, "regions=\"eu-west-1 eu-central-1\"")
                        {
                            c.regions = s.value.split_whitespace().map(str::to_string).collect();
                        }
                    }
                    // Unknown parameters are reported by resolve (T202, with did-you-mean).
                    _ => {}
                }
            }
        }
        c
    }

    /// The rule's configuration, or `None` when it is off.
    pub fn rule(&self, id: &'static str) -> Option<RuleCfg> {
        debug_assert!(
            crate::rules::lookup(id).is_some(),
            "rule `{id}` is in the registry"
        );
        self.enabled
            .get(id)
            .map(|&severity| RuleCfg { id, severity })
    }
}

fn param_string(
    p: &ast::Prop,
    diags: &mut Vec<Diagnostic>,
    example: &str,
) -> Option<Spanned<String>> {
    match &p.value.value {
        Scalar::Str(s) => Some(Spanned::new(s.clone(), p.value.span)),
        other => {
            diags.push(
                Diagnostic::error(
                    codes::WRONG_TYPE,
                    format!(
                        "`{}` takes a string, not a {}",
                        p.key.value,
                        other.type_name()
                    ),
                )
                .label(p.value.span, "expected a string")
                .help(format!("write `{example}`")),
            );
            None
        }
    }
}

/// A space-separated list of environment types; each bad one is reported at its own span.
fn env_types(s: &Spanned<String>, diags: &mut Vec<Diagnostic>) -> Vec<EnvType> {
    let mut out = Vec::new();
    // The value's text starts after the opening quote when it is a plain quoted string.
    let mut offset = 0;
    for word in s.value.split_whitespace() {
        let at = s.value[offset..].find(word).map_or(0, |i| i + offset);
        offset = at + word.len();
        match EnvType::parse(word) {
            Some(t) => out.push(t),
            None => {
                let span = inner_span(s, at, word.len());
                diags.push(
                    Diagnostic::error(
                        codes::INVALID_ENUM,
                        format!("`{word}` is not an environment type"),
                    )
                    .label(span, "not an environment type")
                    .help(
                        did_you_mean(word, EnvType::ALL).unwrap_or_else(|| {
                            "types are development, staging and production".into()
                        }),
                    ),
                );
            }
        }
    }
    out
}

/// The span of bytes `at..at+len` of a KDL string's value, when its source is a plain quoted
/// string (no escapes); otherwise the whole string's span.
pub(crate) fn inner_span(s: &Spanned<String>, at: usize, len: usize) -> Span {
    let whole = s.span;
    // `"…"`: the value starts one byte in, and its source length is the value's plus quotes.
    if whole.len() == s.value.len() + 2 && at + len <= s.value.len() {
        let start = whole.start as usize + 1 + at;
        return Span::new(whole.file, start, start + len);
    }
    whole
}

/// What the rules of one environment see.
pub(crate) struct EnvCx<'a> {
    pub model: &'a Checked,
    pub config: &'a Config,
    pub env: &'a ir::Environment,
    pub rendered: &'a Rendered,
}

impl EnvCx<'_> {
    /// A finding in this environment.
    pub fn finding(&self, diag: Diagnostic, scope: Scope) -> Finding {
        Finding {
            diag,
            env: Some(self.env.name.clone()),
            scope,
        }
    }

    /// The span of a workload's name.
    pub fn workload_span(&self, w: &ir::Workload) -> Span {
        self.model
            .workloads
            .get(&w.name)
            .map_or(w.span, |x| x.name.span)
    }

    /// The span of a container's name: in the base workload, else in the first `when` that
    /// declares it.
    pub fn container_span(&self, w: &ir::Workload, container: &str) -> Span {
        let Some(ast) = self.model.workloads.get(&w.name) else {
            return w.span;
        };
        std::iter::once(&ast.body)
            .chain(ast.whens.iter().map(|wh| &wh.body))
            .flat_map(|b| b.containers.iter())
            .find(|c| c.name.value == container)
            .map_or(ast.name.span, |c| c.name.span)
    }
}

/// One unit of parallel work.
enum Job<'a> {
    /// The built-in rules over one environment.
    Builtins(usize),
    /// Model-wide built-in rules (owner-is-team).
    ModelBuiltins,
    /// One policy over one environment (IR and rendered targets).
    Policy(usize, &'a cel::Compiled<'a>),
    /// One team or API policy.
    ModelPolicy(&'a cel::Compiled<'a>),
}

/// Run the policy pass.
/// The Terraform resource types that a built-in rule or a `policy` of `model` reads. Rendered
/// Terraform blocks of other types are not kept for the policy engine: at monorepo scale they
/// were a quarter of the memory of a build.
pub fn terraform_types(model: &Checked) -> std::collections::BTreeSet<String> {
    let mut types: std::collections::BTreeSet<String> =
        storage::terraform_types().map(str::to_string).collect();
    for p in model.policies.values() {
        if let Some(ast::PolicyTarget::Terraform { ty }) = p.target.as_ref().map(|t| &t.value) {
            types.insert(ty.value.clone());
        }
    }
    types
}

pub fn run(input: &Input<'_>) -> Outcome {
    let model = input.model;
    let mut diags = Vec::new();
    let config = Config::new(model, &mut diags);
    let policies = cel::compile(model, input.sources, &mut diags);
    let active = waivers::check_dates(model, input.today, &mut diags);
    if !input.evaluate {
        return Outcome { diags, waived: 0 };
    }

    let mut jobs = vec![Job::ModelBuiltins];
    for p in &policies {
        if !p.per_environment() {
            jobs.push(Job::ModelPolicy(p));
        }
    }
    for i in 0..input.envs.len() {
        jobs.push(Job::Builtins(i));
        for p in &policies {
            if p.per_environment() {
                jobs.push(Job::Policy(i, p));
            }
        }
    }
    let empty = Rendered::default();
    let results: Vec<(Vec<Finding>, Vec<cel::EvalError>)> = jobs
        .par_iter()
        .map(|job| {
            let mut out = Vec::new();
            let mut errors = Vec::new();
            let cx = |i: usize| EnvCx {
                model,
                config: &config,
                env: &input.envs[i],
                rendered: input.rendered.get(i).unwrap_or(&empty),
            };
            match job {
                Job::ModelBuiltins => refs::owner_is_team(model, &config, &mut out),
                Job::Builtins(i) => {
                    let cx = cx(*i);
                    image::check(&cx, &mut out);
                    workload::check(&cx, &mut out);
                    refs::check(&cx, &mut out);
                    routes::check(&cx, &mut out);
                    regions::check(&cx, &mut out);
                    storage::check(&cx, &mut out);
                }
                Job::Policy(i, p) => p.run_env(&cx(*i), &mut out, &mut errors),
                Job::ModelPolicy(p) => p.run_model(model, &mut out, &mut errors),
            }
            (out, errors)
        })
        .collect();
    let mut findings = Vec::new();
    let mut errors = Vec::new();
    for (f, e) in results {
        findings.extend(f);
        errors.extend(e);
    }
    diags.extend(cel::eval_diagnostics(errors));

    let (kept, waived) = waivers::apply(model, &active, findings, input.all_envs, &mut diags);
    diags.extend(merge(kept));
    Outcome {
        diags,
        waived: merge(waived).len(),
    }
}

/// Findings that are the same in several environments become one diagnostic naming them.
pub(crate) fn merge(findings: Vec<Finding>) -> Vec<Diagnostic> {
    let mut groups: Vec<(Diagnostic, Vec<String>)> = Vec::new();
    for f in findings {
        match groups.iter_mut().find(|(d, _)| *d == f.diag) {
            Some((_, envs)) => envs.extend(f.env),
            None => groups.push((f.diag, f.env.into_iter().collect())),
        }
    }
    groups
        .into_iter()
        .map(|(d, mut envs)| {
            if envs.is_empty() {
                return d;
            }
            envs.dedup();
            d.note(format!(
                "in environment{} {}",
                if envs.len() == 1 { "" } else { "s" },
                envs.join(", ")
            ))
        })
        .collect()
}
