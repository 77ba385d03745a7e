//! `trestle why WORKLOAD.FIELD --env E`: a value of one workload in one environment and every
//! layer that set it (base, env-type, env), each with its file and line. Values come from the
//! IR, layers from the provenance that expansion records (`ir::Workload::provenance`).

use crate::ast::Scalar;
use crate::diagnostics::suggest;
use crate::ir::{self, Layer};
use crate::model::Checked;
use crate::source::{Sources, Span};

/// One place that set (or defaulted) the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// `base`, `env-type=production`, `env=prod`, or `(default …)`.
    pub layer: String,
    /// `file:line`, empty when the value is a built-in default with no source.
    pub location: String,
    /// The source line, trimmed.
    pub text: String,
}

/// The answer to one `why` question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub workload: String,
    pub field: String,
    pub env: String,
    /// The final value, written as in a spec (`4`, `"small"`, `#true`).
    pub value: String,
    /// Layers in the order they apply; the last one wins.
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
}

impl Answer {
    /// Human-readable text: the value, then one aligned line per layer.
    pub fn render(&self) -> String {
        let mut out = format!(
            "{}.{} in environment {}: {}\n",
            self.workload, self.field, self.env, self.value
        );
        let lw = self.rows.iter().map(|r| r.layer.len()).max().unwrap_or(0);
        let fw = self
            .rows
            .iter()
            .map(|r| r.location.len())
            .max()
            .unwrap_or(0);
        let n = self.rows.len();
        for (i, r) in self.rows.iter().enumerate() {
            let mut line = format!("  {:lw$}  {:fw$}  {}", r.layer, r.location, r.text);
            if n > 1 && i + 1 == n {
                line.push_str("    <- final");
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        for note in &self.notes {
            out.push_str(&format!("  note: {note}\n"));
        }
        out
    }
}

/// A value written as in a spec.
fn scalar(s: &Scalar) -> String {
    match s {
        Scalar::Str(s) => quote(s),
        Scalar::Int(i) => i.to_string(),
        Scalar::Float(f) => f.to_string(),
        Scalar::Bool(b) => format!("#{b}"),
        Scalar::Null => "#null".into(),
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

fn text(t: &ir::Text) -> String {
    let mut s = String::new();
    for p in &t.parts {
        match p {
            ir::Part::Literal(l) => s.push_str(l),
            ir::Part::Secret(r) => {
                s.push_str(&format!("${{secret {}/{}}}", r.secret, r.key));
            }
        }
    }
    quote(&s)
}

fn list(items: impl IntoIterator<Item = String>) -> String {
    let v: Vec<String> = items.into_iter().collect();
    if v.is_empty() {
        "(none)".into()
    } else {
        v.join(" ")
    }
}

fn compute(c: &ir::Compute) -> String {
    let mut parts = Vec::new();
    if let Some(r) = &c.request {
        parts.push(format!("request={}", quote(r)));
    }
    if let Some(l) = &c.limit {
        parts.push(format!("limit={}", quote(l)));
    }
    list(parts)
}

/// Every field `why` can answer for this workload, in a stable order.
pub fn fields(w: &ir::Workload) -> Vec<String> {
    let mut out: Vec<String> = [
        "replicas",
        "tags",
        "owner",
        "system",
        "lifecycle",
        "description",
        "namespace",
        "schedule",
        "service",
        "route",
        "autoscale",
        "autoscale.min",
        "autoscale.max",
        "autoscale.cpu-percent",
        "environments",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for c in &w.containers {
        for f in ["image", "command", "args", "cpu", "memory"] {
            out.push(format!("container.{}.{f}", c.name));
        }
        for e in &c.env {
            out.push(format!("container.{}.env.{}", c.name, e.key));
        }
    }
    for r in &w.resources {
        out.push(format!("resource.{}.id", r.name));
        out.push(format!("resource.{}.provisioner", r.name));
    }
    out
}

/// The resource params of `w`'s resource `name` in `env`, as `resource.NAME.PARAM` fields.
fn param_fields(w: &ir::Workload, env: &ir::Environment) -> Vec<String> {
    let mut out = Vec::new();
    for r in &w.resources {
        if let Some(inst) = env.resources.get(&r.id) {
            for p in inst.params.keys() {
                out.push(format!("resource.{}.{p}", r.name));
            }
        }
    }
    out
}

/// The final value of a field, from the IR (None: not a field of this workload).
fn value(
    w: &ir::Workload,
    env: &ir::Environment,
    model: &Checked,
    field: &str,
) -> Option<(String, Vec<String>)> {
    let mut notes = Vec::new();
    let ast = model.workloads.get(&w.name);
    let v = match field {
        "replicas" => {
            if let Some(a) = &w.autoscale {
                notes.push(format!(
                    "autoscale is on: the HorizontalPodAutoscaler keeps {}..{} replicas and the Deployment omits `replicas`",
                    a.min, a.max
                ));
            }
            if w.schedule.is_some() {
                notes.push(
                    "a scheduled workload runs as a CronJob; `replicas` does not apply".into(),
                );
            }
            w.replicas.to_string()
        }
        "tags" => list(w.tags.iter().map(|t| quote(t))),
        "owner" => w.owner.clone(),
        "system" => w.system.clone(),
        "lifecycle" => w.lifecycle.as_str().to_string(),
        "description" => w.description.as_deref().map_or("(none)".into(), quote),
        "namespace" => quote(&w.namespace),
        "schedule" => w.schedule.as_deref().map_or("(none)".into(), quote),
        "service" => match &w.service {
            None => "(none)".into(),
            Some(ports) => list(
                ports
                    .iter()
                    .map(|p| format!("port {} {} target={}", p.name, p.number, p.target)),
            ),
        },
        "route" => list(w.routes.iter().map(|r| {
            format!(
                "host={} path={} port={} tls=#{}",
                quote(&r.host),
                quote(&r.path),
                r.port,
                r.tls
            )
        })),
        "autoscale" => w.autoscale.as_ref().map_or("(none)".into(), |a| {
            format!("min={} max={} cpu-percent={}", a.min, a.max, a.cpu_percent)
        }),
        "autoscale.min" => w
            .autoscale
            .as_ref()
            .map_or("(none)".into(), |a| a.min.to_string()),
        "autoscale.max" => w
            .autoscale
            .as_ref()
            .map_or("(none)".into(), |a| a.max.to_string()),
        "autoscale.cpu-percent" => w
            .autoscale
            .as_ref()
            .map_or("(none)".into(), |a| a.cpu_percent.to_string()),
        "environments" => {
            let all: Vec<String> = model.environments.keys().cloned().collect();
            let listed = ast.and_then(|a| {
                let mut v = a
                    .body
                    .environments
                    .as_ref()
                    .map(|e| e.value.iter().map(|x| x.value.clone()).collect::<Vec<_>>());
                for wh in &a.whens {
                    if let Some(e) = &wh.body.environments {
                        if w.provenance
                            .get("environments")
                            .is_some_and(|rows| rows.iter().any(|(_, s)| *s == e.span))
                        {
                            v = Some(e.value.iter().map(|x| x.value.clone()).collect());
                        }
                    }
                }
                v
            });
            match listed {
                Some(v) => list(v),
                None => format!("{} (every environment)", list(all)),
            }
        }
        _ => {
            let parts: Vec<&str> = field.splitn(3, '.').collect();
            match parts.as_slice() {
                ["container", c, rest] => {
                    let c = w.containers.iter().find(|x| x.name == *c)?;
                    match *rest {
                        "image" => quote(&c.image),
                        "command" => list(c.command.iter().map(text)),
                        "args" => list(c.args.iter().map(text)),
                        "cpu" => compute(&c.cpu),
                        "memory" => compute(&c.memory),
                        _ => {
                            let key = rest.strip_prefix("env.")?;
                            let e = c.env.iter().find(|e| e.key == key)?;
                            match &e.value {
                                ir::EnvValue::Text(t) => text(t),
                                ir::EnvValue::Int(i) => i.to_string(),
                                ir::EnvValue::Bool(b) => format!("#{b}"),
                            }
                        }
                    }
                }
                ["resource", r, p] => {
                    let u = w.resources.iter().find(|x| x.name == *r)?;
                    let inst = env.resources.get(&u.id)?;
                    match *p {
                        "id" => quote(&inst.id),
                        "provisioner" => {
                            notes.push(format!(
                                "resource type `{}`, class `{}`; provisioners are matched by rank (SPEC section 2)",
                                inst.ty, inst.class
                            ));
                            inst.provisioner.clone()
                        }
                        p => scalar(inst.params.get(p)?),
                    }
                }
                _ => return None,
            }
        }
    };
    Some((v, notes))
}

fn row(sources: &Sources, layer: String, span: Span) -> Row {
    let f = sources.get(span.file);
    let (line, _) = f.line_col(span.start);
    let text = f.text.lines().nth(line - 1).unwrap_or("").trim();
    let mut text: String = text.chars().take(100).collect();
    if text.chars().count() == 100 {
        text.push('…');
    }
    Row {
        layer,
        location: format!("{}:{line}", f.name),
        text,
    }
}

fn layer_name(layer: Layer, env: &ir::Environment) -> String {
    match layer {
        Layer::Base => "base".into(),
        Layer::EnvType => format!("env-type={}", env.env_type.as_str()),
        Layer::Env => format!("env={}", env.name),
    }
}

/// Answer `WORKLOAD.FIELD` in one expanded environment. The error is a message for the user,
/// with a "did you mean" where one is close.
pub fn answer(
    model: &Checked,
    sources: &Sources,
    env: &ir::Environment,
    query: &str,
) -> Result<Answer, String> {
    let Some((wname, field)) = query.split_once('.') else {
        return Err(format!(
            "`{query}` is not WORKLOAD.FIELD; write e.g. `{query}.replicas` or `{query}.container.main.image`"
        ));
    };
    let Some(w) = env.workload(wname) else {
        if model.workloads.contains_key(wname) {
            return Err(format!(
                "workload `{wname}` is not deployed in environment `{}` (see its `environments`); try another --env",
                env.name
            ));
        }
        let hint = suggest(wname, model.workloads.keys().map(String::as_str))
            .map_or_else(String::new, |s| format!("; did you mean `{s}`?"));
        return Err(format!("no workload `{wname}`{hint}"));
    };
    let mut known = fields(w);
    known.extend(param_fields(w, env));
    known.extend(w.provenance.keys().cloned());
    known.sort();
    known.dedup();
    let found = known.iter().any(|k| k == field);
    let v = if found {
        value(w, env, model, field).or_else(|| {
            // Set by a layer, then removed with `#null` by a later one.
            w.provenance
                .contains_key(field)
                .then(|| ("(removed)".to_string(), Vec::new()))
        })
    } else {
        None
    };
    let Some((value, mut notes)) = v else {
        let hint = suggest(field, known.iter().map(String::as_str))
            .map_or_else(String::new, |s| format!("did you mean `{wname}.{s}`? "));
        return Err(format!(
            "`{field}` is not a field of workload `{wname}` in environment `{}`; {hint}fields: {}",
            env.name,
            known.join(", ")
        ));
    };
    let mut rows: Vec<Row> = w
        .provenance
        .get(field)
        .map(|layers| {
            layers
                .iter()
                .map(|(l, s)| row(sources, layer_name(*l, env), *s))
                .collect()
        })
        .unwrap_or_default();
    if rows.is_empty() {
        rows = base_rows(model, sources, w, env, field, &mut notes);
    } else if rows.first().is_some_and(|r| r.layer != "base") && field.starts_with("resource.") {
        // A param first set in a `when`: below it is the type's default, if it has one.
        if let Some(d) = param_default_row(model, sources, w, env, field) {
            rows.insert(0, d);
        }
    }
    Ok(Answer {
        workload: w.name.clone(),
        field: field.to_string(),
        env: env.name.clone(),
        value,
        rows,
        notes,
    })
}

/// Rows for fields that `when` cannot override, or that no layer set.
fn base_rows(
    model: &Checked,
    sources: &Sources,
    w: &ir::Workload,
    env: &ir::Environment,
    field: &str,
    notes: &mut Vec<String>,
) -> Vec<Row> {
    let base = |span: Option<Span>| span.map(|s| row(sources, "base".into(), s));
    let ast = model.workloads.get(&w.name);
    let set = match field {
        "owner" => base(ast.and_then(|a| a.owner.as_ref().map(|x| x.span))),
        "system" => base(ast.and_then(|a| a.system.as_ref().map(|x| x.span))),
        "lifecycle" => base(ast.and_then(|a| a.lifecycle.as_ref().map(|x| x.span))),
        "description" => base(ast.and_then(|a| a.description.as_ref().map(|x| x.span))),
        "schedule" => base(ast.and_then(|a| a.schedule.as_ref().map(|x| x.span))),
        "namespace" => model
            .environments
            .get(&env.name)
            .and_then(|e| e.namespace.as_ref())
            .map(|n| row(sources, format!("environment {}", env.name), n.span)),
        _ => None,
    };
    if let Some(r) = set {
        return vec![r];
    }
    if let Some(["resource", r, p]) = Some(field.splitn(3, '.').collect::<Vec<_>>().as_slice()) {
        let inst = w
            .resources
            .iter()
            .find(|u| u.name == *r)
            .and_then(|u| env.resources.get(&u.id));
        if let Some(inst) = inst {
            if *p == "provisioner" {
                return vec![row(
                    sources,
                    format!("provisioner {}", inst.provisioner),
                    inst.provisioner_span,
                )];
            }
            if *p == "id" {
                return vec![row(sources, "base".into(), inst.span)];
            }
            if let Some(d) = param_default_row(model, sources, w, env, field) {
                return vec![d];
            }
        }
    }
    let default = match field {
        "replicas" => "(default: 1)",
        "lifecycle" => "(default: production)",
        "namespace" => {
            notes.push(format!(
                "environment `{}` sets no `namespace`, so it is `<system>-<env>`",
                env.name
            ));
            "(default)"
        }
        _ => "(not set)",
    };
    vec![Row {
        layer: default.into(),
        location: String::new(),
        text: String::new(),
    }]
}

/// The declaration of a resource param's default, as a row.
fn param_default_row(
    model: &Checked,
    sources: &Sources,
    w: &ir::Workload,
    env: &ir::Environment,
    field: &str,
) -> Option<Row> {
    let mut parts = field.splitn(3, '.');
    let (_, r, p) = (parts.next()?, parts.next()?, parts.next()?);
    let u = w.resources.iter().find(|u| u.name == r)?;
    let inst = env.resources.get(&u.id)?;
    let decl = model
        .resource_types
        .get(&inst.ty)?
        .params
        .iter()
        .find(|d| d.name.value == p && d.default.is_some())?;
    Some(row(
        sources,
        format!("(default from resource type {})", inst.ty),
        decl.span,
    ))
}

/// `trestle why [ROOT] WORKLOAD.FIELD --env NAME`; returns the exit code.
pub fn cmd(args: &[String], common: &crate::cli::Common) -> i32 {
    use crate::cli::exit;
    let (root, query) = match args {
        [query] => (std::path::PathBuf::from("."), query.as_str()),
        [root, query] => (std::path::PathBuf::from(root), query.as_str()),
        _ => {
            eprintln!("error: expected [ROOT] WORKLOAD.FIELD");
            return exit::USAGE;
        }
    };
    let env_name = match common.envs.as_slice() {
        [e] => e.clone(),
        [] => {
            eprintln!("error: `why` needs `--env NAME`: values differ per environment");
            return exit::USAGE;
        }
        _ => {
            eprintln!("error: `why` answers for one environment; give `--env` once");
            return exit::USAGE;
        }
    };
    if !root.is_dir() {
        eprintln!("error: `{}` is not a directory", root.display());
        return exit::USAGE;
    }
    common.init_threads();
    let fe = crate::frontend(&root);
    let Some(checked) = &fe.checked else {
        crate::cli::report(&fe.diags, &fe.sources, common, "why", 0);
        return exit::SPEC_ERRORS;
    };
    if !checked.environments.contains_key(&env_name) {
        let hint = suggest(&env_name, checked.environments.keys().map(String::as_str))
            .map_or_else(String::new, |s| format!("; did you mean `{s}`?"));
        let all: Vec<&str> = checked.environments.keys().map(String::as_str).collect();
        eprintln!(
            "error: no environment `{env_name}`{hint} (environments: {})",
            all.join(", ")
        );
        return exit::USAGE;
    }
    let envs = std::collections::BTreeSet::from([env_name.clone()]);
    let (expanded, diags) = crate::expand::expand(checked, &envs);
    let has_errors = diags.iter().any(crate::diagnostics::Diagnostic::is_error);
    if has_errors {
        crate::cli::report(&diags, &fe.sources, common, "why", 0);
    }
    let Some(env) = expanded.iter().find(|e| e.name == env_name) else {
        return exit::SPEC_ERRORS;
    };
    match answer(checked, &fe.sources, env, query) {
        Ok(a) => {
            print!("{}", a.render());
            if has_errors {
                exit::SPEC_ERRORS
            } else {
                exit::OK
            }
        }
        Err(msg) => {
            eprintln!("error: {msg}");
            exit::USAGE
        }
    }
}
