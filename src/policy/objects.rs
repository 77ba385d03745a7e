//! What a CEL policy sees: the IR and model items as JSON-like values with snake_case keys.
//!
//! The field lists here are the contract documented in docs/policies.md (a test checks that
//! every field named there exists). Optional fields are absent, not null, when unset, so
//! `has(object.autoscale)` reads naturally.

use serde_json::{json, Map, Value};

use crate::ast::{self, Scalar};
use crate::ir::{self, EnvValue, Part, ProbeAction, Text};
use crate::model::Model;

/// A scalar as JSON.
pub fn scalar(v: &Scalar) -> Value {
    match v {
        Scalar::Str(s) => json!(s),
        Scalar::Int(i) => json!(i),
        Scalar::Float(f) => json!(f),
        Scalar::Bool(b) => json!(b),
        Scalar::Null => Value::Null,
    }
}

/// A resolved string; a secret-backed part reads `${secret:RESOURCE-ID.OUTPUT}`, so a policy
/// can see that a value comes from a secret without ever seeing the secret.
pub fn text(t: &Text) -> String {
    t.parts
        .iter()
        .map(|p| match p {
            Part::Literal(l) => l.clone(),
            Part::Secret(s) => format!("${{secret:{}.{}}}", s.resource, s.output),
        })
        .collect()
}

fn insert_opt<T: Into<Value>>(m: &mut Map<String, Value>, key: &str, v: Option<T>) {
    if let Some(v) = v {
        m.insert(key.to_string(), v.into());
    }
}

/// `env`, and `object` for `target environment`.
pub fn environment(env: &ir::Environment, model: &Model) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(env.name));
    m.insert("type".into(), json!(env.env_type.as_str()));
    m.insert("region".into(), json!(env.region));
    if let Some(ns) = model
        .environments
        .get(&env.name)
        .and_then(|e| e.namespace.as_ref())
    {
        m.insert("namespace".into(), json!(ns.value));
    }
    m.insert("labels".into(), json!(env.labels));
    insert_opt(&mut m, "ingress_class", env.ingress_class.clone());
    m.insert("ingress_namespace".into(), json!(env.ingress_namespace));
    m.insert(
        "workloads".into(),
        json!(env
            .workloads
            .iter()
            .map(|w| w.name.as_str())
            .collect::<Vec<_>>()),
    );
    m.insert(
        "resources".into(),
        json!(env.resources.keys().collect::<Vec<_>>()),
    );
    Value::Object(m)
}

fn compute(c: &ir::Compute) -> Value {
    let mut m = Map::new();
    insert_opt(&mut m, "request", c.request.clone());
    insert_opt(&mut m, "limit", c.limit.clone());
    Value::Object(m)
}

fn probe(p: &ir::Probe) -> Value {
    let mut m = Map::new();
    match &p.action {
        ProbeAction::Http { path, port } => {
            m.insert("type".into(), json!("http"));
            m.insert("path".into(), json!(path));
            m.insert("port".into(), json!(port));
        }
        ProbeAction::Tcp { port } => {
            m.insert("type".into(), json!("tcp"));
            m.insert("port".into(), json!(port));
        }
        ProbeAction::Exec(cmd) => {
            m.insert("type".into(), json!("exec"));
            m.insert("command".into(), json!(cmd));
        }
    }
    insert_opt(&mut m, "initial_delay", p.initial_delay);
    insert_opt(&mut m, "period", p.period);
    insert_opt(&mut m, "timeout", p.timeout);
    insert_opt(&mut m, "failure_threshold", p.failure_threshold);
    Value::Object(m)
}

fn container(c: &ir::Container) -> Value {
    let env: Map<String, Value> = c
        .env
        .iter()
        .map(|e| {
            let v = match &e.value {
                EnvValue::Text(t) => json!(text(t)),
                EnvValue::Int(i) => json!(i),
                EnvValue::Bool(b) => json!(b),
            };
            (e.key.clone(), v)
        })
        .collect();
    let probes: Map<String, Value> = c
        .probes
        .iter()
        .map(|p| (p.kind.as_str().to_string(), probe(p)))
        .collect();
    json!({
        "name": c.name,
        "image": c.image,
        "command": c.command.iter().map(text).collect::<Vec<_>>(),
        "args": c.args.iter().map(text).collect::<Vec<_>>(),
        "env": env,
        "ports": c.ports.iter().map(|p| json!({"name": p.name, "number": p.number, "protocol": p.protocol})).collect::<Vec<_>>(),
        "cpu": compute(&c.cpu),
        "memory": compute(&c.memory),
        "probes": probes,
        "files": c.files.iter().map(|f| {
            let mut m = Map::new();
            m.insert("path".into(), json!(f.path));
            insert_opt(&mut m, "mode", f.mode);
            Value::Object(m)
        }).collect::<Vec<_>>(),
        "volumes": c.volumes.iter().map(|v| json!({"path": v.path, "claim": v.claim, "read_only": v.read_only})).collect::<Vec<_>>(),
    })
}

/// `object` for `target workload`: the workload as resolved in one environment.
pub fn workload(w: &ir::Workload, env: &ir::Environment) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(w.name));
    insert_opt(&mut m, "description", w.description.clone());
    m.insert("owner".into(), json!(w.owner));
    m.insert("system".into(), json!(w.system));
    m.insert("lifecycle".into(), json!(w.lifecycle.as_str()));
    m.insert("namespace".into(), json!(w.namespace));
    insert_opt(&mut m, "schedule", w.schedule.clone());
    m.insert("scheduled".into(), json!(w.schedule.is_some()));
    m.insert("replicas".into(), json!(w.replicas));
    m.insert("tags".into(), json!(w.tags));
    m.insert(
        "containers".into(),
        Value::Array(w.containers.iter().map(container).collect()),
    );
    if let Some(ports) = &w.service {
        m.insert(
            "service".into(),
            json!({"ports": ports.iter().map(|p| json!({"name": p.name, "number": p.number, "target": p.target})).collect::<Vec<_>>()}),
        );
    }
    m.insert(
        "routes".into(),
        json!(w
            .routes
            .iter()
            .map(|r| json!({"host": r.host, "path": r.path, "port": r.port, "tls": r.tls}))
            .collect::<Vec<_>>()),
    );
    if let Some(a) = &w.autoscale {
        m.insert(
            "autoscale".into(),
            json!({"min": a.min, "max": a.max, "cpu_percent": a.cpu_percent}),
        );
    }
    m.insert(
        "resources".into(),
        json!(w
            .resources
            .iter()
            .map(|r| {
                let ty = env.resources.get(&r.id).map_or("", |i| i.ty.as_str());
                json!({"name": r.name, "id": r.id, "type": ty})
            })
            .collect::<Vec<_>>()),
    );
    m.insert(
        "depends_on".into(),
        json!(w.depends_on.iter().map(|(n, _)| n).collect::<Vec<_>>()),
    );
    m.insert("provides_api".into(), json!(w.provides_api));
    m.insert("consumes_api".into(), json!(w.consumes_api));
    Value::Object(m)
}

/// `object` for `target resource`: one resource instance in one environment.
pub fn resource(r: &ir::ResourceInstance) -> Value {
    let params: Map<String, Value> = r
        .params
        .iter()
        .map(|(k, v)| (k.clone(), scalar(v)))
        .collect();
    let outputs: Map<String, Value> = r
        .outputs
        .iter()
        .map(|o| {
            let source = match o.value {
                ir::OutputValue::Value(_) => "value",
                ir::OutputValue::Expr(_) => "expr",
                ir::OutputValue::Secret { .. } => "secret",
            };
            (
                o.name.clone(),
                json!({"sensitive": o.sensitive, "source": source}),
            )
        })
        .collect();
    json!({
        "id": r.id,
        "name": r.name,
        "type": r.ty,
        "class": r.class,
        "params": params,
        "consumers": r.consumers.iter().map(|(w, _)| w).collect::<Vec<_>>(),
        "namespace": r.namespace,
        "provisioner": r.provisioner,
        "outputs": outputs,
    })
}

/// `object` for `target team`.
pub fn team(t: &ast::Team, model: &Model) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(t.name.value));
    insert_opt(&mut m, "title", t.title.as_ref().map(|x| x.value.clone()));
    insert_opt(&mut m, "email", t.email.as_ref().map(|x| x.value.clone()));
    insert_opt(&mut m, "parent", t.parent.as_ref().map(|x| x.value.clone()));
    m.insert(
        "members".into(),
        Value::Array(
            t.members
                .iter()
                .map(|mb| {
                    let mut o = Map::new();
                    o.insert("name".into(), json!(mb.name.value));
                    insert_opt(&mut o, "email", mb.email.as_ref().map(|x| x.value.clone()));
                    insert_opt(&mut o, "title", mb.title.as_ref().map(|x| x.value.clone()));
                    Value::Object(o)
                })
                .collect(),
        ),
    );
    m.insert(
        "children".into(),
        json!(model
            .teams
            .values()
            .filter(|c| c.parent.as_ref().is_some_and(|p| p.value == t.name.value))
            .map(|c| c.name.value.as_str())
            .collect::<Vec<_>>()),
    );
    Value::Object(m)
}

/// `object` for `target api`.
pub fn api(a: &ast::Api, model: &Model) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(a.name.value));
    insert_opt(&mut m, "type", a.ty.as_ref().map(|x| x.value.as_str()));
    insert_opt(&mut m, "owner", a.owner.as_ref().map(|x| x.value.clone()));
    insert_opt(&mut m, "system", a.system.as_ref().map(|x| x.value.clone()));
    m.insert(
        "lifecycle".into(),
        json!(a
            .lifecycle
            .as_ref()
            .map_or(ast::Lifecycle::Production, |l| l.value)
            .as_str()),
    );
    insert_opt(
        &mut m,
        "description",
        a.description.as_ref().map(|x| x.value.clone()),
    );
    insert_opt(
        &mut m,
        "definition",
        a.definition.as_ref().map(|x| x.value.clone()),
    );
    let users = |f: fn(&ast::Workload) -> &Vec<ast::Name>| -> Vec<&str> {
        model
            .workloads
            .values()
            .filter(|w| f(w).iter().any(|n| n.value == a.name.value))
            .map(|w| w.name.value.as_str())
            .collect()
    };
    m.insert("providers".into(), json!(users(|w| &w.provides_api)));
    m.insert("consumers".into(), json!(users(|w| &w.consumes_api)));
    Value::Object(m)
}

/// Every field name used at the top level of each IR target, for the docs test.
#[cfg(test)]
pub(crate) const TOP_LEVEL_FIELDS: &[(&str, &[&str])] = &[
    (
        "workload",
        &[
            "name",
            "description",
            "owner",
            "system",
            "lifecycle",
            "namespace",
            "schedule",
            "scheduled",
            "replicas",
            "tags",
            "containers",
            "service",
            "routes",
            "autoscale",
            "resources",
            "depends_on",
            "provides_api",
            "consumes_api",
        ],
    ),
    (
        "resource",
        &[
            "id",
            "name",
            "type",
            "class",
            "params",
            "consumers",
            "namespace",
            "provisioner",
            "outputs",
        ],
    ),
    (
        "environment",
        &[
            "name",
            "type",
            "region",
            "namespace",
            "labels",
            "ingress_class",
            "ingress_namespace",
            "workloads",
            "resources",
        ],
    ),
    (
        "team",
        &["name", "title", "email", "parent", "members", "children"],
    ),
    (
        "api",
        &[
            "name",
            "type",
            "owner",
            "system",
            "lifecycle",
            "description",
            "definition",
            "providers",
            "consumers",
        ],
    ),
];
