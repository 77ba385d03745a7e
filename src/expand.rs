//! Pass 4: expand the checked model per environment into the IR: select the workloads deployed
//! there, apply `when` overrides (base < env-type < env), create resource instances, match
//! provisioners, render their outputs and resolve placeholders.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use crate::ast::{self, EnvType, Patch, Scalar, Spanned, WhenSelector};
use crate::check::values::{self, Segment};
use crate::diagnostics::{codes, Diagnostic};
use crate::emit::templates;
use crate::ir::{self, Layer, Part, Provenance, SecretRef, Text};
use crate::model::{Checked, Model};
use crate::source::Span;

/// Expand every environment (in parallel); diagnostics that repeat across environments are
/// reported once, naming them.
pub fn expand(model: &Checked, envs: &BTreeSet<String>) -> (Vec<ir::Environment>, Vec<Diagnostic>) {
    expand_with(model, envs, true)
}

/// [`expand`] without [`ir::Workload::provenance`] (left empty): only `trestle why` reads it,
/// and building it formats a key per field of every workload.
pub fn expand_without_provenance(
    model: &Checked,
    envs: &BTreeSet<String>,
) -> (Vec<ir::Environment>, Vec<Diagnostic>) {
    expand_with(model, envs, false)
}

fn expand_with(
    model: &Checked,
    envs: &BTreeSet<String>,
    provenance: bool,
) -> (Vec<ir::Environment>, Vec<Diagnostic>) {
    use rayon::prelude::*;
    let results: Vec<(ir::Environment, Vec<Diagnostic>)> = model
        .environments
        .values()
        .filter(|e| envs.is_empty() || envs.contains(&e.name.value))
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|e| expand_env(model, e, provenance))
        .collect();
    let mut out = Vec::new();
    let mut per_env = Vec::new();
    for (env, diags) in results {
        per_env.push((env.name.clone(), diags));
        out.push(env);
    }
    (out, merge_env_diags(per_env))
}

/// Diagnostics of several environments: one that repeats is reported once, with a note
/// naming the environments (SPEC section 3).
pub fn merge_env_diags(per_env: Vec<(String, Vec<Diagnostic>)>) -> Vec<Diagnostic> {
    let mut by_diag: Vec<(Diagnostic, Vec<String>)> = Vec::new();
    for (env, diags) in per_env {
        for d in diags {
            match by_diag.iter_mut().find(|(x, _)| *x == d) {
                Some((_, names)) => {
                    if !names.contains(&env) {
                        names.push(env.clone());
                    }
                }
                None => by_diag.push((d, vec![env.clone()])),
            }
        }
    }
    by_diag
        .into_iter()
        .map(|(d, envs)| {
            d.note(format!(
                "in environment{} {}",
                if envs.len() == 1 { "" } else { "s" },
                envs.join(", ")
            ))
        })
        .collect()
}

/// A workload body after merging layers, still in AST terms, with provenance.
/// Parts no `when` layer changed are borrowed from the workload, not copied.
struct Merged<'a> {
    replicas: (i64, Span),
    tags: Vec<String>,
    containers: Vec<Cow<'a, ast::Container>>,
    service: Option<Cow<'a, ast::Service>>,
    routes: &'a [ast::Route],
    autoscale: Option<(ast::Autoscale, Span)>,
    resources: Vec<Cow<'a, ast::ResourceReq>>,
    environments: Option<Vec<String>>,
    provenance: Provenance,
}

/// Which layer set each field, recorded only when someone reads it (`trestle why`): the keys
/// are formatted strings, built only then.
struct Marks {
    on: bool,
    map: Provenance,
}

fn mark(p: &mut Marks, key: impl FnOnce() -> String, layer: Layer, span: Span) {
    if p.on {
        p.map.entry(key()).or_default().push((layer, span));
    }
}

fn merge_compute(base: &mut Option<ast::Compute>, over: &ast::Compute) {
    match base {
        None => *base = Some(over.clone()),
        Some(b) => {
            if over.request.is_some() {
                b.request = over.request.clone();
            }
            if over.limit.is_some() {
                b.limit = over.limit.clone();
            }
        }
    }
}

fn merge_container(
    base: &mut ast::Container,
    over: &ast::Container,
    layer: Layer,
    prov: &mut Marks,
) {
    let key = |f: &str| format!("container.{}.{f}", over.name.value);
    if let Some(i) = &over.image {
        base.image = Some(i.clone());
        mark(prov, || key("image"), layer, i.span);
    }
    if let Some(c) = &over.command {
        base.command = Some(c.clone());
        mark(prov, || key("command"), layer, c.span);
    }
    if let Some(a) = &over.args {
        base.args = Some(a.clone());
        mark(prov, || key("args"), layer, a.span);
    }
    for e in &over.env {
        mark(
            prov,
            || key(&format!("env.{}", e.key.value)),
            layer,
            e.value.span,
        );
        match &e.value.value {
            Patch::Remove => base.env.retain(|x| x.key.value != e.key.value),
            Patch::Set(_) => match base.env.iter_mut().find(|x| x.key.value == e.key.value) {
                Some(slot) => *slot = e.clone(),
                None => base.env.push(e.clone()),
            },
        }
    }
    for p in &over.ports {
        match base.ports.iter_mut().find(|x| x.name.value == p.name.value) {
            Some(slot) => *slot = p.clone(),
            None => base.ports.push(p.clone()),
        }
    }
    if let Some(c) = &over.cpu {
        merge_compute(&mut base.cpu, c);
        mark(prov, || key("cpu"), layer, c.span);
    }
    if let Some(m) = &over.memory {
        merge_compute(&mut base.memory, m);
        mark(prov, || key("memory"), layer, m.span);
    }
    for p in &over.probes {
        match base
            .probes
            .iter_mut()
            .find(|x| x.kind.value == p.kind.value)
        {
            Some(slot) => *slot = p.clone(),
            None => base.probes.push(p.clone()),
        }
    }
    for f in &over.files {
        match base.files.iter_mut().find(|x| x.path.value == f.path.value) {
            Some(slot) => *slot = f.clone(),
            None => base.files.push(f.clone()),
        }
    }
    for v in &over.volumes {
        match base
            .volumes
            .iter_mut()
            .find(|x| x.path.value == v.path.value)
        {
            Some(slot) => *slot = v.clone(),
            None => base.volumes.push(v.clone()),
        }
    }
}

fn merge<'a>(w: &'a ast::Workload, env: &ast::Environment, provenance: bool) -> Merged<'a> {
    let mut prov = Marks {
        on: provenance,
        map: Provenance::new(),
    };
    let mut m = Merged {
        replicas: (1, w.name.span),
        tags: Vec::new(),
        containers: Vec::new(),
        service: None,
        routes: &[],
        autoscale: None,
        resources: Vec::new(),
        environments: None,
        provenance: Provenance::new(),
    };
    let env_type = env.env_type.as_ref().map(|t| t.value);
    let mut layers: Vec<(Layer, &ast::WorkloadBody)> = vec![(Layer::Base, &w.body)];
    for wh in &w.whens {
        if let WhenSelector::EnvType(t) = &wh.selector {
            if Some(t.value) == env_type {
                layers.push((Layer::EnvType, &wh.body));
            }
        }
    }
    for wh in &w.whens {
        if let WhenSelector::Env(e) = &wh.selector {
            if e.value == env.name.value {
                layers.push((Layer::Env, &wh.body));
            }
        }
    }
    for (layer, b) in layers {
        if let Some(r) = &b.replicas {
            m.replicas = match r.value {
                Patch::Set(n) => (n, r.span),
                Patch::Remove => (1, r.span),
            };
            mark(&mut prov, || "replicas".into(), layer, r.span);
        }
        if let Some(t) = &b.tags {
            m.tags = t.value.iter().map(|x| x.value.clone()).collect();
            mark(&mut prov, || "tags".into(), layer, t.span);
        }
        for c in &b.containers {
            match m
                .containers
                .iter_mut()
                .find(|x| x.name.value == c.name.value)
            {
                Some(base) => merge_container(base.to_mut(), c, layer, &mut prov),
                None => {
                    m.containers.push(Cow::Borrowed(c));
                    for (f, s) in [
                        ("image", c.image.as_ref().map(|x| x.span)),
                        ("command", c.command.as_ref().map(|x| x.span)),
                        ("args", c.args.as_ref().map(|x| x.span)),
                    ] {
                        if let Some(s) = s {
                            mark(
                                &mut prov,
                                || format!("container.{}.{f}", c.name.value),
                                layer,
                                s,
                            );
                        }
                    }
                    for e in &c.env {
                        mark(
                            &mut prov,
                            || format!("container.{}.env.{}", c.name.value, e.key.value),
                            layer,
                            e.value.span,
                        );
                    }
                    for (f, s) in [
                        ("cpu", c.cpu.as_ref().map(|x| x.span)),
                        ("memory", c.memory.as_ref().map(|x| x.span)),
                    ] {
                        if let Some(s) = s {
                            mark(
                                &mut prov,
                                || format!("container.{}.{f}", c.name.value),
                                layer,
                                s,
                            );
                        }
                    }
                }
            }
        }
        if let Some(s) = &b.service {
            mark(&mut prov, || "service".into(), layer, s.span);
            match &s.value {
                Patch::Remove => m.service = None,
                Patch::Set(over) => match &mut m.service {
                    None => m.service = Some(Cow::Borrowed(over)),
                    Some(base) => {
                        let base = base.to_mut();
                        for p in &over.ports {
                            match base.ports.iter_mut().find(|x| x.name.value == p.name.value) {
                                Some(slot) => {
                                    if p.number.is_some() {
                                        slot.number = p.number.clone();
                                    }
                                    if p.target.is_some() {
                                        slot.target = p.target.clone();
                                    }
                                }
                                None => base.ports.push(p.clone()),
                            }
                        }
                    }
                },
            }
        }
        if let Some(r) = &b.routes {
            m.routes = &r.value;
            mark(&mut prov, || "route".into(), layer, r.span);
        }
        if let Some(a) = &b.autoscale {
            match &a.value {
                Patch::Remove => m.autoscale = None,
                Patch::Set(over) => {
                    let base = m
                        .autoscale
                        .get_or_insert_with(|| (ast::Autoscale::default(), a.span));
                    base.1 = a.span;
                    for (slot, val, f) in [
                        (&mut base.0.min, &over.min, "min"),
                        (&mut base.0.max, &over.max, "max"),
                        (&mut base.0.cpu_percent, &over.cpu_percent, "cpu-percent"),
                    ] {
                        if let Some(v) = val {
                            *slot = Some(v.clone());
                            mark(&mut prov, || format!("autoscale.{f}"), layer, v.span);
                        }
                    }
                }
            }
            mark(&mut prov, || "autoscale".into(), layer, a.span);
        }
        for r in &b.resources {
            match m
                .resources
                .iter_mut()
                .find(|x| x.name.value == r.name.value)
            {
                None => {
                    for p in &r.params {
                        mark(
                            &mut prov,
                            || format!("resource.{}.{}", r.name.value, p.key.value),
                            layer,
                            p.value.span,
                        );
                    }
                    m.resources.push(Cow::Borrowed(r));
                }
                Some(base) => {
                    let base = base.to_mut();
                    if r.class.is_some() {
                        base.class = r.class.clone();
                    }
                    if r.id.is_some() {
                        base.id = r.id.clone();
                    }
                    for p in &r.params {
                        mark(
                            &mut prov,
                            || format!("resource.{}.{}", r.name.value, p.key.value),
                            layer,
                            p.value.span,
                        );
                        match base.params.iter_mut().find(|x| x.key.value == p.key.value) {
                            Some(slot) => *slot = p.clone(),
                            None => base.params.push(p.clone()),
                        }
                    }
                }
            }
        }
        if let Some(e) = &b.environments {
            m.environments = Some(e.value.iter().map(|x| x.value.clone()).collect());
            mark(&mut prov, || "environments".into(), layer, e.span);
        }
    }
    m.provenance = prov.map;
    m
}

fn namespace(env: &ast::Environment, system: &str) -> String {
    env.namespace.as_ref().map_or_else(
        || format!("{system}-{}", env.name.value),
        |n| n.value.clone(),
    )
}

/// One workload's declaration of a resource instance.
struct Decl {
    workload: String,
    namespace: String,
    span: Span,
    /// Params after overrides: the value and, for a value the workload gave (not a type's
    /// default), its span.
    params: BTreeMap<String, (Scalar, Option<Span>)>,
    /// "type/class", which workloads sharing the instance must agree on.
    kind: String,
}

struct Instance<'m> {
    id: String,
    name: String,
    ty: &'m ast::ResourceType,
    class: String,
    consumers: Vec<(String, String)>,
    span: Span,
    decls: Vec<Decl>,
}

/// A workload's resource requests as (NAME, instance id, span).
fn resource_uses(w: &ast::Workload, mm: &Merged<'_>) -> Vec<ir::ResourceUse> {
    mm.resources
        .iter()
        .map(|r| ir::ResourceUse {
            name: r.name.value.clone(),
            id: r.id.as_ref().map_or_else(
                || format!("{}-{}", w.name.value, r.name.value),
                |i| i.value.clone(),
            ),
            span: r.span,
        })
        .collect()
}

/// The instances a declaration's params refer to: (param, instance id, output, span).
fn param_references(d: &Decl, uses: &[ir::ResourceUse]) -> Vec<ir::Reference> {
    let mut out = Vec::new();
    for (key, (value, span)) in &d.params {
        let (Scalar::Str(raw), Some(span)) = (value, span) else {
            continue;
        };
        if !raw.contains("${") {
            continue;
        }
        let Ok(segs) = values::placeholders(raw) else {
            continue;
        };
        for seg in segs {
            let Segment::Placeholder { path, .. } = seg else {
                continue;
            };
            if let [kind, name, output] = path.as_slice() {
                if kind != "resources" {
                    continue;
                }
                if let Some(u) = uses.iter().find(|u| &u.name == name) {
                    out.push(ir::Reference {
                        param: key.clone(),
                        resource: u.id.clone(),
                        output: output.clone(),
                        span: *span,
                    });
                }
            }
        }
    }
    out
}

/// Instance ids in an order where each instance comes after the instances its params refer
/// to, so that their outputs are known. Instances on a cycle (the graph reports it) come last,
/// by id.
fn instance_order(
    instances: &BTreeMap<String, Instance<'_>>,
    uses_of: &BTreeMap<&str, Vec<ir::ResourceUse>>,
) -> Vec<String> {
    let deps: BTreeMap<&str, BTreeSet<String>> = instances
        .iter()
        .map(|(id, inst)| {
            let refs: BTreeSet<String> = inst
                .decls
                .iter()
                .flat_map(|d| {
                    let uses = uses_of
                        .get(d.workload.as_str())
                        .map_or(&[][..], Vec::as_slice);
                    param_references(d, uses)
                })
                .map(|r| r.resource)
                .filter(|r| r != id && instances.contains_key(r))
                .collect();
            (id.as_str(), refs)
        })
        .collect();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut order = Vec::with_capacity(instances.len());
    // Instances that refer to none are ready at once; the rest wait in rounds.
    let mut waiting: Vec<(&str, &BTreeSet<String>)> = Vec::new();
    for (id, d) in &deps {
        if d.is_empty() {
            done.insert(id);
            order.push(id.to_string());
        } else {
            waiting.push((id, d));
        }
    }
    loop {
        let ready: Vec<&str> = waiting
            .iter()
            .filter(|(id, d)| !done.contains(id) && d.iter().all(|x| done.contains(x.as_str())))
            .map(|(id, _)| *id)
            .collect();
        if ready.is_empty() {
            break;
        }
        for id in ready {
            done.insert(id);
            order.push(id.to_string());
        }
    }
    for id in instances.keys() {
        if !done.contains(id.as_str()) {
            order.push(id.clone());
        }
    }
    order
}

/// The params whose Terraform references appear in rendered text: (param, instance, output).
pub fn params_in(
    text: &str,
    terraform: &BTreeMap<String, Vec<ir::ParamPart>>,
) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (param, parts) in terraform {
        for p in parts {
            if let ir::ParamPart::Terraform {
                resource,
                output,
                expr,
            } = p
            {
                if text.contains(&templates::terraform_ref(expr)) {
                    out.push((param.clone(), resource.clone(), output.clone()));
                    break;
                }
            }
        }
    }
    out
}

/// A declaration's params with placeholders resolved.
#[derive(Debug, Clone, PartialEq)]
struct ResolvedParams {
    params: BTreeMap<String, Scalar>,
    terraform: BTreeMap<String, Vec<ir::ParamPart>>,
    references: Vec<ir::Reference>,
}

/// Resolve the placeholders of a declaration's params against the instances provisioned so
/// far. `value=` outputs and `${env.*}`, `${workload.name}`, `${namespace}` become literal
/// text; an `expr=` output becomes a Terraform reference; a `secret=` output cannot be a param.
fn resolve_params(
    d: &Decl,
    ty: &ast::ResourceType,
    cx: &Resolve<'_>,
    diags: &mut Vec<Diagnostic>,
) -> ResolvedParams {
    let mut out = ResolvedParams {
        params: BTreeMap::new(),
        terraform: BTreeMap::new(),
        references: param_references(d, cx.uses),
    };
    for (key, (value, span)) in &d.params {
        let (Scalar::Str(raw), Some(span)) = (value, span) else {
            out.params.insert(key.clone(), value.clone());
            continue;
        };
        let text = cx.text_at(raw, *span, diags);
        let mut parts: Vec<ir::ParamPart> = Vec::new();
        for part in text.parts {
            match part {
                Part::Literal(l) => match parts.last_mut() {
                    Some(ir::ParamPart::Literal(prev)) => prev.push_str(&l),
                    _ => parts.push(ir::ParamPart::Literal(l)),
                },
                Part::Secret(s) => {
                    let output = cx
                        .resources
                        .get(&s.resource)
                        .and_then(|i| i.output(&s.output));
                    match output.map(|o| &o.value) {
                        Some(ir::OutputValue::Expr(x)) => parts.push(ir::ParamPart::Terraform {
                            resource: s.resource.clone(),
                            output: s.output.clone(),
                            expr: x.trim().to_string(),
                        }),
                        _ => diags.push(
                            Diagnostic::error(
                                codes::SENSITIVE_PLAIN,
                                format!(
                                    "param `{key}` cannot hold `{}.{}`: it lives in the Kubernetes secret `{}`",
                                    s.resource, s.output, s.secret
                                ),
                            )
                            .label(*span, "a resource param is rendered into templates")
                            .help("pass the output to the workload as an env var instead (it becomes a secretKeyRef)"),
                        ),
                    }
                }
            }
        }
        let display: String = parts
            .iter()
            .map(|p| match p {
                ir::ParamPart::Literal(l) => l.clone(),
                ir::ParamPart::Terraform { expr, .. } => format!("${{{expr}}}"),
            })
            .collect();
        if parts
            .iter()
            .any(|p| matches!(p, ir::ParamPart::Terraform { .. }))
        {
            out.terraform.insert(key.clone(), parts);
        } else if display != *raw {
            // A resolved value must still satisfy the type (`one-of`, …).
            if let Some(decl) = ty.params.iter().find(|p| p.name.value == *key) {
                if let Err((msg, help)) =
                    crate::lower::check_param_value(decl, &Scalar::Str(display.clone()))
                {
                    diags.push(
                        Diagnostic::error(codes::INVALID_PARAM, format!("param `{key}` {msg}"))
                            .label(*span, format!("resolves to {display:?}"))
                            .related(decl.span, "declared here")
                            .maybe_help(help),
                    );
                }
            }
        }
        out.params.insert(key.clone(), Scalar::Str(display));
    }
    out
}

fn expand_env(
    model: &Checked,
    env: &ast::Environment,
    provenance: bool,
) -> (ir::Environment, Vec<Diagnostic>) {
    let m: &Model = model;
    let mut diags = Vec::new();
    let env_type = env
        .env_type
        .as_ref()
        .map_or(EnvType::Development, |t| t.value);
    let labels: BTreeMap<String, String> = env
        .labels
        .iter()
        .map(|l| (l.key.value.clone(), l.value.value.to_text()))
        .collect();
    // Select and merge.
    let merged: Vec<(&ast::Workload, Merged<'_>)> = {
        use rayon::prelude::*;
        let workloads: Vec<&ast::Workload> = m.workloads.values().collect();
        workloads
            .into_par_iter()
            .with_min_len(32)
            .map(|w| (w, merge(w, env, provenance)))
            .filter(|(_, mm)| {
                mm.environments
                    .as_ref()
                    .is_none_or(|e| e.contains(&env.name.value))
            })
            .collect()
    };
    let deployed: BTreeSet<&str> = merged.iter().map(|(w, _)| w.name.value.as_str()).collect();
    // What each workload calls its resources: NAME → instance id.
    let uses_of: BTreeMap<&str, Vec<ir::ResourceUse>> = merged
        .iter()
        .map(|(w, mm)| (w.name.value.as_str(), resource_uses(w, mm)))
        .collect();
    // Resource instances: shared by id.
    let mut instances: BTreeMap<String, Instance<'_>> = BTreeMap::new();
    for (w, mm) in &merged {
        let ns = namespace(env, w.system.as_ref().map_or("", |s| s.value.as_str()));
        for r in &mm.resources {
            let Some(ty) = r.ty.as_ref().and_then(|t| m.resource_types.get(&t.value)) else {
                continue;
            };
            let id = r.id.as_ref().map_or_else(
                || format!("{}-{}", w.name.value, r.name.value),
                |i| i.value.clone(),
            );
            let class = r
                .class
                .as_ref()
                .map_or_else(|| "default".to_string(), |c| c.value.clone());
            let mut params = BTreeMap::new();
            for d in &ty.params {
                if let Some(def) = &d.default {
                    params.insert(d.name.value.clone(), (def.value.clone(), None));
                }
            }
            for p in &r.params {
                params.insert(
                    p.key.value.clone(),
                    (p.value.value.clone(), Some(p.value.span)),
                );
            }
            // Params merged per environment must still satisfy the type (values with
            // placeholders once they are resolved).
            for p in &r.params {
                if let Some(decl) = ty.params.iter().find(|d| d.name.value == p.key.value) {
                    if matches!(&p.value.value, Scalar::Str(s) if s.contains("${")) {
                        continue;
                    }
                    if let Err((msg, help)) = crate::lower::check_param_value(decl, &p.value.value)
                    {
                        diags.push(
                            Diagnostic::error(
                                codes::INVALID_PARAM,
                                format!("param `{}` {msg}", p.key.value),
                            )
                            .label(p.value.span, "invalid value")
                            .maybe_help(help),
                        );
                    }
                }
            }
            for decl in &ty.params {
                if decl.required && !params.contains_key(&decl.name.value) {
                    diags.push(
                        Diagnostic::error(
                            codes::INVALID_PARAM,
                            format!(
                                "resource `{}` needs param `{}`",
                                r.name.value, decl.name.value
                            ),
                        )
                        .label(r.span, "missing required param")
                        .related(decl.span, "declared required here"),
                    );
                }
            }
            let inst = instances.entry(id.clone()).or_insert_with(|| Instance {
                id: id.clone(),
                name: r.name.value.clone(),
                ty,
                class: class.clone(),
                consumers: Vec::new(),
                span: r.span,
                decls: Vec::new(),
            });
            inst.consumers.push((w.name.value.clone(), ns.clone()));
            inst.decls.push(Decl {
                workload: w.name.value.clone(),
                namespace: ns.clone(),
                span: r.span,
                params,
                kind: format!("{}/{class}", ty.name.value),
            });
        }
    }
    // Match provisioners, resolve params and render outputs; an instance comes after the
    // instances its params refer to.
    let plain = templates::registry(templates::Kind::Plain);
    let mut resources: BTreeMap<String, ir::ResourceInstance> = BTreeMap::new();
    for id in instance_order(&instances, &uses_of) {
        let Some(mut inst) = instances.remove(&id) else {
            continue;
        };
        inst.consumers.sort();
        inst.consumers.dedup();
        let ns = inst
            .consumers
            .first()
            .map(|c| c.1.clone())
            .unwrap_or_default();
        let resolved: Vec<ResolvedParams> = inst
            .decls
            .iter()
            .map(|d| {
                let cx = Resolve {
                    workload: &d.workload,
                    env,
                    env_type,
                    namespace: &d.namespace,
                    uses: uses_of
                        .get(d.workload.as_str())
                        .map_or(&[][..], Vec::as_slice),
                    resources: &resources,
                };
                resolve_params(d, inst.ty, &cx, &mut diags)
            })
            .collect();
        let (first_decl, first) = (&inst.decls[0], &resolved[0]);
        for (other_decl, other) in inst.decls.iter().zip(&resolved).skip(1) {
            if other.params != first.params
                || other.terraform != first.terraform
                || other_decl.kind != first_decl.kind
            {
                diags.push(
                    Diagnostic::error(codes::SHARED_PARAMS_CONFLICT, format!("workloads sharing resource `{}` disagree on its type, class or params", inst.id))
                        .label(other_decl.span, format!("`{}` declares it like this", other_decl.workload))
                        .related(first_decl.span, format!("`{}` declares it like this", first_decl.workload))
                        .help("a shared resource is one instance; give every declaration the same type, class and params"),
                );
            }
        }
        let Some(prov) = match_provisioner(&inst, env, env_type, &mut diags) else {
            continue;
        };
        // One Handlebars context for all outputs of the instance, built only when an output
        // is a template at all (most are literals such as `5432`).
        let mut ctx: Option<handlebars::Context> = None;
        let mut outputs = Vec::new();
        for decl in &inst.ty.outputs {
            let Some(o) = prov
                .outputs
                .iter()
                .find(|o| o.name.value == decl.name.value)
            else {
                continue;
            };
            let mut render = |s: &Spanned<String>| match render_output(
                &plain,
                &s.value,
                || {
                    template_context(
                        &inst.id,
                        &inst.name,
                        &inst.ty.name.value,
                        &inst.class,
                        &first.params,
                        &first.terraform,
                        env,
                        &labels,
                        &ns,
                        &inst.consumers,
                    )
                },
                &mut ctx,
            ) {
                Ok(v) if templates::has_terraform_ref(&v) => {
                    let used = params_in(&v, &first.terraform);
                    let mut d = Diagnostic::error(
                        codes::SENSITIVE_PLAIN,
                        format!(
                            "output `{}` of provisioner `{}` would write a Terraform reference as plain text",
                            o.name.value, prov.name.value
                        ),
                    );
                    for (i, (param, resource, output)) in used.iter().enumerate() {
                        let Some((_, Some(span))) = first_decl.params.get(param) else {
                            continue;
                        };
                        let text = format!(
                            "param `{param}` holds `expr=` output `{output}` of `{resource}`"
                        );
                        d = if i == 0 {
                            d.label(*span, text)
                        } else {
                            d.related(*span, text)
                        };
                    }
                    diags.push(
                        d.related(s.span, "a `value=`, `expr=` or `secret=` string renders it here")
                            .note(format!("while provisioning `{}`", inst.id))
                            .help("a Terraform reference can only go into the `terraform` template; refer to a `value=` output in the param"),
                    );
                    None
                }
                Ok(v) => Some(v),
                Err(e) => {
                    diags.push(
                        Diagnostic::error(
                            codes::TEMPLATE_ERROR,
                            format!(
                                "output `{}` of provisioner `{}`: {}",
                                o.name.value, prov.name.value, e.message
                            ),
                        )
                        .label(s.span, "in this template string")
                        .note(format!("while provisioning `{}`", inst.id)),
                    );
                    None
                }
            };
            let value = match &o.source {
                ast::OutputSource::Value(v) => render(v).map(ir::OutputValue::Value),
                ast::OutputSource::Expr(v) => render(v).map(ir::OutputValue::Expr),
                ast::OutputSource::Secret { name, key } => match (render(name), render(key)) {
                    (Some(name), Some(key)) => Some(ir::OutputValue::Secret { name, key }),
                    _ => None,
                },
            };
            if let Some(value) = value {
                outputs.push(ir::Output {
                    name: decl.name.value.clone(),
                    sensitive: decl.sensitive,
                    value,
                });
            }
        }
        // The first declaration's params are the instance's: moved, not copied.
        let mut resolved = resolved;
        let first = resolved.swap_remove(0);
        resources.insert(
            inst.id.clone(),
            ir::ResourceInstance {
                id: inst.id,
                name: inst.name,
                ty: inst.ty.name.value.clone(),
                class: inst.class,
                params: first.params,
                terraform_params: first.terraform,
                references: first.references,
                consumers: inst.consumers,
                namespace: ns,
                span: inst.span,
                provisioner: prov.name.value.clone(),
                provisioner_span: prov.name.span,
                outputs,
            },
        );
    }
    // Workloads with placeholders resolved: independent of each other once the instances
    // are known, so in parallel; results and diagnostics keep the workload order.
    let resolved: Vec<(ir::Workload, Vec<Diagnostic>)> = {
        use rayon::prelude::*;
        merged
            .into_par_iter()
            .with_min_len(32)
            .map(|(w, mm)| {
                let mut diags = Vec::new();
                let system = w
                    .system
                    .as_ref()
                    .map_or_else(String::new, |s| s.value.clone());
                let ns = namespace(env, &system);
                let uses: Vec<ir::ResourceUse> = uses_of
                    .get(w.name.value.as_str())
                    .cloned()
                    .unwrap_or_default();
                let cx = Resolve {
                    workload: &w.name.value,
                    env,
                    env_type,
                    namespace: &ns,
                    uses: &uses,
                    resources: &resources,
                };
                let mut containers = Vec::new();
                for c in &mm.containers {
                    let Some(image) = &c.image else {
                        diags.push(
                            Diagnostic::error(
                                codes::MISSING_FIELD,
                                format!(
                                    "container `{}` has no `image` in this environment",
                                    c.name.value
                                ),
                            )
                            .label(c.name.span, "added by a `when` without an image")
                            .help("add `image \"…\"` to the container"),
                        );
                        continue;
                    };
                    let texts = |list: &Option<Spanned<Vec<Spanned<String>>>>,
                                 diags: &mut Vec<Diagnostic>|
                     -> Vec<Text> {
                        list.as_ref().map_or_else(Vec::new, |l| {
                            l.value.iter().map(|s| cx.text(s, diags)).collect()
                        })
                    };
                    let command = texts(&c.command, &mut diags);
                    let args = texts(&c.args, &mut diags);
                    let env_vars = c
                        .env
                        .iter()
                        .filter_map(|e| {
                            let value = match &e.value.value {
                                Patch::Remove => return None,
                                Patch::Set(Scalar::Int(i)) => ir::EnvValue::Int(*i),
                                Patch::Set(Scalar::Bool(b)) => ir::EnvValue::Bool(*b),
                                Patch::Set(other) => ir::EnvValue::Text(cx.text(
                                    &Spanned::new(other.to_text(), e.value.span),
                                    &mut diags,
                                )),
                            };
                            Some(ir::EnvVar {
                                key: e.key.value.clone(),
                                value,
                                span: e.key.span,
                            })
                        })
                        .collect();
                    let mut files = Vec::new();
                    for f in &c.files {
                        let expand = f.expand.as_ref().is_none_or(|e| e.value);
                        let raw = match (&f.content, &f.source) {
                            (Some(content), _) => Some((content.value.clone(), content.clone())),
                            (None, Some(src)) => m.assets.get(&src.span).map(|a| {
                                (String::from_utf8_lossy(&a.bytes).into_owned(), src.clone())
                            }),
                            _ => None,
                        };
                        let Some((raw, at)) = raw else { continue };
                        let content = if expand {
                            let t = cx.text_at(&raw, at.span, &mut diags);
                            match t.as_plain() {
                                Some(p) => p,
                                None => {
                                    diags.push(
                                        Diagnostic::error(
                                            codes::SENSITIVE_PLAIN,
                                            format!(
                                                "file `{}` would contain a secret in plain text",
                                                f.path.value
                                            ),
                                        )
                                        .label(at.span, "uses a secret-backed output")
                                        .help("pass the value as an env var instead"),
                                    );
                                    continue;
                                }
                            }
                        } else {
                            raw
                        };
                        files.push(ir::File {
                            path: f.path.value.clone(),
                            content,
                            mode: f.mode.as_ref().map(|m| m.value),
                            span: f.span,
                        });
                    }
                    let volumes = c
                        .volumes
                        .iter()
                        .filter_map(|v| {
                            let src = v.source.as_ref()?;
                            let t = cx.text(src, &mut diags);
                            let claim = match t.as_plain() {
                                Some(c) => c,
                                None => {
                                    diags.push(
                                        Diagnostic::error(
                                            codes::SENSITIVE_PLAIN,
                                            "a volume source cannot be a secret-backed output",
                                        )
                                        .label(src.span, "secret-backed"),
                                    );
                                    return None;
                                }
                            };
                            Some(ir::Volume {
                                path: v.path.value.clone(),
                                claim,
                                read_only: v.read_only.as_ref().is_some_and(|r| r.value),
                            })
                        })
                        .collect();
                    let compute = |c: &Option<ast::Compute>| ir::Compute {
                        request: c
                            .as_ref()
                            .and_then(|x| x.request.as_ref().map(|r| r.value.clone())),
                        limit: c
                            .as_ref()
                            .and_then(|x| x.limit.as_ref().map(|r| r.value.clone())),
                    };
                    containers.push(ir::Container {
                        name: c.name.value.clone(),
                        span: c.span,
                        image: image.value.clone(),
                        image_span: image.span,
                        command,
                        args,
                        env: env_vars,
                        ports: c
                            .ports
                            .iter()
                            .map(|p| ir::Port {
                                name: p.name.value.clone(),
                                number: p.number.value,
                                protocol: p
                                    .protocol
                                    .as_ref()
                                    .map_or_else(|| "TCP".to_string(), |x| x.value.clone()),
                            })
                            .collect(),
                        cpu: compute(&c.cpu),
                        memory: compute(&c.memory),
                        probes: c
                            .probes
                            .iter()
                            .map(|p| ir::Probe {
                                kind: p.kind.value,
                                action: match &p.action {
                                    ast::ProbeAction::Http { path, port } => {
                                        ir::ProbeAction::Http {
                                            path: path.value.clone(),
                                            port: port.value.clone(),
                                        }
                                    }
                                    ast::ProbeAction::Tcp { port } => ir::ProbeAction::Tcp {
                                        port: port.value.clone(),
                                    },
                                    ast::ProbeAction::Exec(cmd) => ir::ProbeAction::Exec(
                                        cmd.iter().map(|s| s.value.clone()).collect(),
                                    ),
                                },
                                initial_delay: p.initial_delay.as_ref().map(|x| x.value),
                                period: p.period.as_ref().map(|x| x.value),
                                timeout: p.timeout.as_ref().map(|x| x.value),
                                failure_threshold: p.failure_threshold.as_ref().map(|x| x.value),
                            })
                            .collect(),
                        files,
                        volumes,
                    });
                }
                let service = mm.service.as_ref().map(|s| {
                    s.ports
                        .iter()
                        .map(|p| ir::ServicePort {
                            name: p.name.value.clone(),
                            number: p.number.as_ref().map_or(80, |n| n.value),
                            target: p
                                .target
                                .as_ref()
                                .map_or_else(|| p.name.value.clone(), |t| t.value.clone()),
                        })
                        .collect()
                });
                let autoscale = match &mm.autoscale {
                    Some((a, span)) => match (&a.min, &a.max, &a.cpu_percent) {
                        (Some(min), Some(max), Some(cpu)) => Some(ir::Autoscale {
                            min: min.value,
                            max: max.value,
                            cpu_percent: cpu.value,
                            span: *span,
                        }),
                        _ => {
                            diags.push(
                                Diagnostic::error(
                                    codes::MISSING_FIELD,
                                    "`autoscale` needs `min`, `max` and `cpu-percent`",
                                )
                                .label(*span, "incomplete after overrides")
                                .help("write `autoscale min=2 max=10 cpu-percent=70`"),
                            );
                            None
                        }
                    },
                    None => None,
                };
                if let Some(a) = &autoscale {
                    if a.min > a.max {
                        diags.push(
                            Diagnostic::error(
                                codes::CONFLICTING_FIELDS,
                                format!("autoscale min {} exceeds max {}", a.min, a.max),
                            )
                            .label(a.span, "after overrides"),
                        );
                    }
                }
                let workload = ir::Workload {
                    name: w.name.value.clone(),
                    span: w.span,
                    file: String::new(),
                    description: w.description.as_ref().map(|d| d.value.clone()),
                    owner: w
                        .owner
                        .as_ref()
                        .map_or_else(String::new, |o| o.value.clone()),
                    system,
                    lifecycle: w
                        .lifecycle
                        .as_ref()
                        .map_or(ast::Lifecycle::Production, |l| l.value),
                    namespace: ns.clone(),
                    schedule: w.schedule.as_ref().map(|s| s.value.clone()),
                    replicas: mm.replicas.0,
                    replicas_span: mm.replicas.1,
                    tags: mm.tags.clone(),
                    containers,
                    service,
                    routes: mm
                        .routes
                        .iter()
                        .map(|r| ir::Route {
                            host: r
                                .host
                                .as_ref()
                                .map_or_else(String::new, |h| h.value.clone()),
                            path: r
                                .path
                                .as_ref()
                                .map_or_else(|| "/".to_string(), |p| p.value.clone()),
                            port: r
                                .port
                                .as_ref()
                                .map_or_else(String::new, |p| p.value.clone()),
                            tls: r.tls.as_ref().is_some_and(|t| t.value),
                            span: r.span,
                        })
                        .collect(),
                    autoscale,
                    resources: uses,
                    depends_on: w
                        .depends_on
                        .iter()
                        .filter(|d| deployed.contains(d.value.as_str()))
                        .map(|d| (d.value.clone(), d.span))
                        .collect(),
                    provides_api: w.provides_api.iter().map(|a| a.value.clone()).collect(),
                    consumes_api: w.consumes_api.iter().map(|a| a.value.clone()).collect(),
                    provenance: mm.provenance,
                };
                (workload, diags)
            })
            .collect()
    };
    let mut workloads = Vec::with_capacity(resolved.len());
    for (workload, d) in resolved {
        diags.extend(d);
        workloads.push(workload);
    }
    let ir_env = ir::Environment {
        name: env.name.value.clone(),
        span: env.name.span,
        env_type,
        region: env
            .region
            .as_ref()
            .map_or_else(String::new, |r| r.value.clone()),
        labels,
        ingress_class: env.ingress_class.as_ref().map(|c| c.value.clone()),
        ingress_namespace: env
            .ingress_namespace
            .as_ref()
            .map_or_else(|| "ingress-nginx".to_string(), |n| n.value.clone()),
        workloads,
        resources,
    };
    (ir_env, diags)
}

/// Render one output string of a provisioner, as [`templates::render`] would against the
/// context `make` builds; the context is built once (into `ctx`) and only when a template
/// needs it. Text without `{{` is not a template and comes back unchanged.
fn render_output(
    hb: &handlebars::Handlebars<'_>,
    text: &str,
    make: impl FnOnce() -> serde_json::Value,
    ctx: &mut Option<handlebars::Context>,
) -> Result<String, templates::TemplateError> {
    if !text.contains("{{") && text.len() <= templates::MAX_OUTPUT {
        debug_assert_eq!(
            templates::render(hb, text, &serde_json::Value::Null).as_deref(),
            Ok(text)
        );
        return Ok(text.to_string());
    }
    match &*templates::compile_cached(text) {
        Ok(t) => {
            let ctx = ctx.get_or_insert_with(|| handlebars::Context::from(make()));
            templates::render_in(hb, t, ctx)
        }
        Err(e) => Err(e.clone()),
    }
}

/// The Handlebars context of SPEC section 8. A param holding a Terraform reference (an
/// `expr=` output of another instance) is a marked string: Terraform escaping writes the
/// reference as `${EXPR}`, `{{hcl x}}` as the bare expression, and any other kind refuses it.
#[allow(clippy::too_many_arguments)]
pub fn template_context(
    id: &str,
    name: &str,
    ty: &str,
    class: &str,
    params: &BTreeMap<String, Scalar>,
    terraform_params: &BTreeMap<String, Vec<ir::ParamPart>>,
    env: &ast::Environment,
    labels: &BTreeMap<String, String>,
    namespace: &str,
    consumers: &[(String, String)],
) -> serde_json::Value {
    use serde_json::{Map, Value};
    // Built by hand rather than with `json!`, which goes through `Serialize` for every value;
    // the keys go in the same order (the map keeps insertion order).
    let string = |s: &str| Value::String(s.to_string());
    let object = |entries: Vec<(&str, Value)>| {
        let mut m = Map::with_capacity(entries.len());
        for (k, v) in entries {
            m.insert(k.to_string(), v);
        }
        Value::Object(m)
    };
    let params: Map<String, Value> = params
        .iter()
        .map(|(k, v)| {
            let j = match v {
                // Terraform references travel marked; only Terraform escaping can write them.
                Scalar::Str(_) if terraform_params.contains_key(k) => Value::String(
                    terraform_params[k]
                        .iter()
                        .map(|p| match p {
                            ir::ParamPart::Literal(l) => l.clone(),
                            ir::ParamPart::Terraform { expr, .. } => templates::terraform_ref(expr),
                        })
                        .collect::<String>(),
                ),
                Scalar::Str(s) => string(s),
                Scalar::Int(i) => Value::from(*i),
                Scalar::Float(f) => Value::from(*f),
                Scalar::Bool(b) => Value::Bool(*b),
                Scalar::Null => Value::Null,
            };
            (k.clone(), j)
        })
        .collect();
    let labels: Map<String, Value> = labels.iter().map(|(k, v)| (k.clone(), string(v))).collect();
    let workloads = consumers
        .iter()
        .map(|(n, ns)| object(vec![("name", string(n)), ("namespace", string(ns))]))
        .collect();
    object(vec![
        (
            "resource",
            object(vec![
                ("name", string(name)),
                ("id", string(id)),
                ("type", string(ty)),
                ("class", string(class)),
                ("params", Value::Object(params)),
            ]),
        ),
        (
            "env",
            object(vec![
                ("name", string(&env.name.value)),
                (
                    "type",
                    string(
                        env.env_type
                            .as_ref()
                            .map_or("development", |t| t.value.as_str()),
                    ),
                ),
                (
                    "region",
                    string(env.region.as_ref().map_or("", |r| r.value.as_str())),
                ),
                ("labels", Value::Object(labels)),
            ]),
        ),
        ("namespace", string(namespace)),
        ("workloads", Value::Array(workloads)),
    ])
}

/// Rank of a match line: which of (resource, env, workload, env-type) it sets.
type Rank = (bool, bool, bool, bool);

fn match_provisioner<'m>(
    inst: &Instance<'m>,
    env: &ast::Environment,
    env_type: EnvType,
    diags: &mut Vec<Diagnostic>,
) -> Option<&'m ast::Provisioner> {
    let mut best: Vec<(Rank, &ast::Provisioner)> = Vec::new();
    let mut best_rank: Option<Rank> = None;
    for p in &inst.ty.provisioners {
        let rank = if p.matches.is_empty() {
            (inst.class == "default").then_some((false, false, false, false))
        } else {
            p.matches
                .iter()
                .filter(|l| {
                    l.class.as_ref().map_or("default", |c| c.value.as_str()) == inst.class
                        && l.env_type.as_ref().is_none_or(|t| t.value == env_type)
                        && l.env.as_ref().is_none_or(|e| e.value == env.name.value)
                        && l.workload
                            .as_ref()
                            .is_none_or(|w| inst.consumers.iter().any(|c| c.0 == w.value))
                        && l.resource
                            .as_ref()
                            .is_none_or(|r| r.value == inst.name || r.value == inst.id)
                })
                .map(|l| {
                    (
                        l.resource.is_some(),
                        l.env.is_some(),
                        l.workload.is_some(),
                        l.env_type.is_some(),
                    )
                })
                .max()
        };
        let Some(rank) = rank else { continue };
        match best_rank {
            Some(b) if rank < b => {}
            Some(b) if rank == b => best.push((rank, p)),
            _ => {
                best_rank = Some(rank);
                best = vec![(rank, p)];
            }
        }
    }
    match best.as_slice() {
        [(_, p)] => Some(p),
        [] => {
            let mut d = Diagnostic::error(
                codes::NO_PROVISIONER,
                format!(
                    "no provisioner of `{}` matches resource `{}` in environment `{}`",
                    inst.ty.name.value, inst.id, env.name.value
                ),
            )
            .label(
                inst.span,
                format!(
                    "`{}` (class `{}`) needs a provisioner here",
                    inst.id, inst.class
                ),
            );
            for p in &inst.ty.provisioners {
                d = d.related(
                    p.name.span,
                    format!("candidate `{}` does not match", p.name.value),
                );
            }
            diags.push(d.help(format!(
                "add `match env={}` (or env-type=…, class=…) to a provisioner of `{}`",
                env.name.value, inst.ty.name.value
            )));
            None
        }
        tied => {
            let mut d = Diagnostic::error(
                codes::AMBIGUOUS_PROVISIONER,
                format!(
                    "{} provisioners of `{}` match resource `{}` in environment `{}` equally well",
                    tied.len(),
                    inst.ty.name.value,
                    inst.id,
                    env.name.value
                ),
            )
            .label(inst.span, "ambiguous");
            for (_, p) in tied {
                d = d.related(p.name.span, format!("candidate `{}`", p.name.value));
            }
            diags.push(d.help("make one provisioner's `match` line more specific (resource > env > workload > env-type)"));
            None
        }
    }
}

/// Placeholder resolution for one workload in one environment.
struct Resolve<'a> {
    workload: &'a str,
    env: &'a ast::Environment,
    env_type: EnvType,
    namespace: &'a str,
    uses: &'a [ir::ResourceUse],
    resources: &'a BTreeMap<String, ir::ResourceInstance>,
}

impl Resolve<'_> {
    fn text(&self, s: &Spanned<String>, diags: &mut Vec<Diagnostic>) -> Text {
        self.text_at(&s.value, s.span, diags)
    }

    fn text_at(&self, raw: &str, span: Span, diags: &mut Vec<Diagnostic>) -> Text {
        // Without `${` there is no placeholder (nor a `$${` escape): the text is the literal.
        if !raw.contains("${") {
            return Text::literal(raw);
        }
        let Ok(segs) = values::placeholders(raw) else {
            return Text::literal(raw);
        };
        let mut parts: Vec<Part> = Vec::new();
        let push_lit = |parts: &mut Vec<Part>, s: &str| match parts.last_mut() {
            Some(Part::Literal(l)) => l.push_str(s),
            _ => parts.push(Part::Literal(s.to_string())),
        };
        for seg in segs {
            match seg {
                Segment::Literal(l) => push_lit(&mut parts, &l),
                Segment::Placeholder { path, .. } => {
                    let p: Vec<&str> = path.iter().map(String::as_str).collect();
                    match p.as_slice() {
                        ["workload", "name"] => push_lit(&mut parts, self.workload),
                        ["env", "name"] => push_lit(&mut parts, &self.env.name.value),
                        ["env", "type"] => push_lit(&mut parts, self.env_type.as_str()),
                        ["env", "region"] => push_lit(
                            &mut parts,
                            self.env.region.as_ref().map_or("", |r| r.value.as_str()),
                        ),
                        ["namespace"] => push_lit(&mut parts, self.namespace),
                        ["resources", name, output] => {
                            let Some(u) = self.uses.iter().find(|u| u.name == *name) else {
                                continue;
                            };
                            // An instance without a provisioner was already reported.
                            let Some(inst) = self.resources.get(&u.id) else {
                                continue;
                            };
                            let Some(o) = inst.output(output) else {
                                continue;
                            };
                            if o.secret_backed() {
                                let (secret, key) = match &o.value {
                                    ir::OutputValue::Secret { name, key } => {
                                        (name.clone(), key.clone())
                                    }
                                    _ => (format!("{}-outputs", inst.id), o.name.clone()),
                                };
                                parts.push(Part::Secret(SecretRef {
                                    resource: inst.id.clone(),
                                    output: o.name.clone(),
                                    secret,
                                    key,
                                }));
                            } else if let ir::OutputValue::Value(v) = &o.value {
                                push_lit(&mut parts, v);
                            }
                        }
                        _ => diags.push(
                            Diagnostic::error(
                                codes::UNKNOWN_REFERENCE,
                                format!("unknown placeholder `${{{}}}`", path.join(".")),
                            )
                            .label(span, "here"),
                        ),
                    }
                }
            }
        }
        if parts.is_empty() {
            parts.push(Part::Literal(String::new()));
        }
        Text { parts }
    }
}

#[cfg(test)]
mod template_context_tests {
    use super::*;
    use serde_json::json;

    /// The hand-built context equals what `json!` builds, key order included.
    #[test]
    fn equals_the_json_macro() {
        let at = Span::new(crate::source::FileId(0), 0, 0);
        let env = ast::Environment {
            name: Spanned::new("prod".to_string(), at),
            span: at,
            env_type: Some(Spanned::new(EnvType::Production, at)),
            region: Some(Spanned::new("eu-west-1".to_string(), at)),
            namespace: None,
            ingress_class: None,
            ingress_namespace: None,
            labels: Vec::new(),
            terraform: None,
        };
        let params: BTreeMap<String, Scalar> = [
            ("a".to_string(), Scalar::Str("x".into())),
            ("b".to_string(), Scalar::Int(3)),
            ("c".to_string(), Scalar::Float(1.5)),
            ("d".to_string(), Scalar::Bool(true)),
            ("e".to_string(), Scalar::Null),
            ("f".to_string(), Scalar::Str("${db.host}".into())),
        ]
        .into_iter()
        .collect();
        let terraform: BTreeMap<String, Vec<ir::ParamPart>> = [(
            "f".to_string(),
            vec![
                ir::ParamPart::Literal("h=".into()),
                ir::ParamPart::Terraform {
                    resource: "db".into(),
                    output: "host".into(),
                    expr: "aws_db_instance.db.address".into(),
                },
            ],
        )]
        .into_iter()
        .collect();
        let labels: BTreeMap<String, String> = [("z", "1"), ("team", "core")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let consumers = vec![
            ("api".to_string(), "shop-prod".to_string()),
            ("web".to_string(), "shop-prod".to_string()),
        ];
        let got = template_context(
            "db",
            "database",
            "postgres",
            "default",
            &params,
            &terraform,
            &env,
            &labels,
            "shop-prod",
            &consumers,
        );
        let want = json!({
            "resource": {"name": "database", "id": "db", "type": "postgres", "class": "default",
                "params": {"a": "x", "b": 3, "c": 1.5, "d": true, "e": null,
                    "f": format!("h={}", templates::terraform_ref("aws_db_instance.db.address"))}},
            "env": {"name": "prod", "type": "production", "region": "eu-west-1",
                "labels": {"team": "core", "z": "1"}},
            "namespace": "shop-prod",
            "workloads": [{"name": "api", "namespace": "shop-prod"},
                {"name": "web", "namespace": "shop-prod"}],
        });
        assert_eq!(got, want);
        // Same key order too (the map keeps insertion order).
        assert_eq!(got.to_string(), want.to_string());
    }
}
