//! Kubernetes emitter (SPEC section 4): per environment a `namespace.yaml` per namespace and one
//! multi-document `<workload>.yaml` per workload, secure by default, keys in the order humans
//! expect. Values go through the YAML model (src/yaml.rs), never through string formatting.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use crate::ast::ProbeKind;
use crate::ir::{self, EnvValue, Part, Text};
use crate::yaml::{self, Map, Value};

/// The user and group every pod runs as.
pub const POD_UID: i64 = 10001;

/// Labels every object of a workload carries; the selector uses only `app.kubernetes.io/name`.
fn labels(w: &ir::Workload, env: &ir::Environment) -> Map {
    let mut all: BTreeMap<String, String> = env.labels.clone();
    all.insert("app.kubernetes.io/name".into(), w.name.clone());
    all.insert("app.kubernetes.io/part-of".into(), w.system.clone());
    all.insert("app.kubernetes.io/managed-by".into(), "trestle".into());
    all.insert("backstage.io/kubernetes-id".into(), w.name.clone());
    all.into_iter().collect()
}

fn selector(w: &ir::Workload) -> Map {
    Map::new().with("app.kubernetes.io/name", w.name.as_str())
}

fn metadata(name: &str, w: &ir::Workload, labels: &Map, annotations: &Map) -> Map {
    let mut m = Map::new()
        .with("name", name)
        .with("namespace", w.namespace.as_str())
        .with("labels", labels.clone());
    if !annotations.is_empty() {
        m.insert("annotations", annotations.clone());
    }
    m
}

/// Escape `$` so Kubernetes does not expand `$(…)` in a literal.
fn dollar_escape(s: &str) -> String {
    s.replace('$', "$$")
}

/// The helper variable name for a secret-backed output.
pub fn helper_var(s: &ir::SecretRef) -> String {
    format!("TRESTLE_{}_{}", s.resource, s.output)
        .to_uppercase()
        .replace('-', "_")
}

fn secret_env(name: &str, s: &ir::SecretRef) -> Value {
    Map::new()
        .with("name", name)
        .with(
            "valueFrom",
            Map::new().with(
                "secretKeyRef",
                Map::new()
                    .with("name", s.secret.as_str())
                    .with("key", s.key.as_str()),
            ),
        )
        .into()
}

/// Build the env list: helper variables for secrets in composites and args go just before
/// their first user; every literal `$` is doubled.
fn env_list(c: &ir::Container) -> Vec<Value> {
    let mut out = Vec::new();
    let mut defined: BTreeSet<String> = BTreeSet::new();
    let mut helpers_for = |text: &Text, out: &mut Vec<Value>| {
        for p in &text.parts {
            if let Part::Secret(s) = p {
                let var = helper_var(s);
                if defined.insert(var.clone()) {
                    out.push(secret_env(&var, s));
                }
            }
        }
    };
    let expand = |text: &Text| -> String {
        text.parts
            .iter()
            .map(|p| match p {
                Part::Literal(l) => dollar_escape(l),
                Part::Secret(s) => format!("$({})", helper_var(s)),
            })
            .collect()
    };
    // Secrets used by command/args must be defined as env vars too.
    for t in c.command.iter().chain(&c.args) {
        helpers_for(t, &mut out);
    }
    for e in &c.env {
        match &e.value {
            EnvValue::Int(i) => out.push(
                Map::new()
                    .with("name", e.key.as_str())
                    .with("value", i.to_string())
                    .into(),
            ),
            EnvValue::Bool(b) => out.push(
                Map::new()
                    .with("name", e.key.as_str())
                    .with("value", b.to_string())
                    .into(),
            ),
            EnvValue::Text(t) => {
                if let Some(s) = t.as_single_secret() {
                    out.push(secret_env(&e.key, s));
                } else {
                    helpers_for(t, &mut out);
                    out.push(
                        Map::new()
                            .with("name", e.key.as_str())
                            .with("value", expand(t))
                            .into(),
                    );
                }
            }
        }
    }
    out
}

fn args_list(texts: &[Text]) -> Value {
    texts
        .iter()
        .map(|t| {
            t.parts
                .iter()
                .map(|p| match p {
                    Part::Literal(l) => dollar_escape(l),
                    Part::Secret(s) => format!("$({})", helper_var(s)),
                })
                .collect::<String>()
        })
        .map(Value::Str)
        .collect()
}

fn probe(p: &ir::Probe) -> Map {
    let mut m = match &p.action {
        ir::ProbeAction::Http { path, port } => Map::new().with(
            "httpGet",
            Map::new()
                .with("path", path.as_str())
                .with("port", port.as_str()),
        ),
        ir::ProbeAction::Tcp { port } => {
            Map::new().with("tcpSocket", Map::new().with("port", port.as_str()))
        }
        ir::ProbeAction::Exec(cmd) => Map::new().with(
            "exec",
            Map::new().with(
                "command",
                cmd.iter()
                    .map(|s| Value::from(s.as_str()))
                    .collect::<Value>(),
            ),
        ),
    };
    for (k, v) in [
        ("initialDelaySeconds", p.initial_delay),
        ("periodSeconds", p.period),
        ("timeoutSeconds", p.timeout),
        ("failureThreshold", p.failure_threshold),
    ] {
        if let Some(v) = v {
            m.insert(k, v);
        }
    }
    m
}

/// The ConfigMap key for a mounted file path.
pub fn file_key(path: &str) -> String {
    path.trim_start_matches('/')
        .chars()
        .map(|c| match c {
            '/' => '_',
            c if c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_' => c,
            _ => '-',
        })
        .collect()
}

fn container(c: &ir::Container) -> Map {
    // `Always` re-resolves the tag at every start, so a re-pushed tag cannot run stale code.
    let mut m = Map::new()
        .with("name", c.name.as_str())
        .with("image", c.image.as_str())
        .with("imagePullPolicy", "Always");
    if !c.command.is_empty() {
        m.insert("command", args_list(&c.command));
    }
    if !c.args.is_empty() {
        m.insert("args", args_list(&c.args));
    }
    let env = env_list(c);
    if !env.is_empty() {
        m.insert("env", Value::Seq(env));
    }
    if !c.ports.is_empty() {
        m.insert(
            "ports",
            c.ports
                .iter()
                .map(|p| {
                    Value::from(
                        Map::new()
                            .with("name", p.name.as_str())
                            .with("containerPort", p.number)
                            .with("protocol", p.protocol.as_str()),
                    )
                })
                .collect::<Value>(),
        );
    }
    let mut resources = Map::new();
    let mut requests = Map::new();
    let mut limits = Map::new();
    for (name, comp) in [("cpu", &c.cpu), ("memory", &c.memory)] {
        if let Some(r) = &comp.request {
            requests.insert(name, r.as_str());
        }
        if let Some(l) = &comp.limit {
            limits.insert(name, l.as_str());
        }
    }
    if !limits.is_empty() {
        resources.insert("limits", limits);
    }
    if !requests.is_empty() {
        resources.insert("requests", requests);
    }
    m.insert("resources", resources);
    for kind in [
        ProbeKind::Liveness,
        ProbeKind::Readiness,
        ProbeKind::Startup,
    ] {
        if let Some(p) = c.probes.iter().find(|p| p.kind == kind) {
            m.insert(format!("{}Probe", kind.as_str()), probe(p));
        }
    }
    m.insert(
        "securityContext",
        Map::new()
            .with("allowPrivilegeEscalation", false)
            .with(
                "capabilities",
                Map::new().with("drop", Value::Seq(vec!["ALL".into()])),
            )
            .with("privileged", false)
            .with("readOnlyRootFilesystem", true)
            .with("runAsNonRoot", true),
    );
    let mut mounts = vec![Value::from(
        Map::new().with("name", "tmp").with("mountPath", "/tmp"),
    )];
    for f in &c.files {
        mounts.push(
            Map::new()
                .with("name", "files")
                .with("mountPath", f.path.as_str())
                .with("subPath", file_key(&f.path))
                .with("readOnly", true)
                .into(),
        );
    }
    for v in &c.volumes {
        mounts.push(
            Map::new()
                .with("name", format!("claim-{}", v.claim))
                .with("mountPath", v.path.as_str())
                .with("readOnly", v.read_only)
                .into(),
        );
    }
    m.insert("volumeMounts", Value::Seq(mounts));
    m
}

fn pod_spec(w: &ir::Workload, scheduled: bool) -> Map {
    let mut spec = Map::new();
    spec.insert("serviceAccountName", w.name.as_str());
    spec.insert("automountServiceAccountToken", false);
    if scheduled {
        spec.insert("restartPolicy", "OnFailure");
    }
    spec.insert(
        "securityContext",
        Map::new()
            .with("fsGroup", POD_UID)
            .with("runAsGroup", POD_UID)
            .with("runAsNonRoot", true)
            .with("runAsUser", POD_UID)
            .with("seccompProfile", Map::new().with("type", "RuntimeDefault")),
    );
    spec.insert(
        "containers",
        w.containers
            .iter()
            .map(|c| Value::from(container(c)))
            .collect::<Value>(),
    );
    let mut volumes = vec![Value::from(
        Map::new().with("name", "tmp").with("emptyDir", Map::new()),
    )];
    let files: Vec<&ir::File> = w.containers.iter().flat_map(|c| &c.files).collect();
    if !files.is_empty() {
        let mut seen = BTreeSet::new();
        let items: Vec<Value> = files
            .iter()
            .filter(|f| seen.insert(file_key(&f.path)))
            .map(|f| {
                let mut item = Map::new()
                    .with("key", file_key(&f.path))
                    .with("path", file_key(&f.path));
                if let Some(mode) = f.mode {
                    item.insert("mode", mode);
                }
                Value::from(item)
            })
            .collect();
        volumes.push(
            Map::new()
                .with("name", "files")
                .with(
                    "configMap",
                    Map::new()
                        .with("name", format!("{}-files", w.name))
                        .with("items", Value::Seq(items)),
                )
                .into(),
        );
    }
    let claims: BTreeSet<&str> = w
        .containers
        .iter()
        .flat_map(|c| &c.volumes)
        .map(|v| v.claim.as_str())
        .collect();
    for claim in claims {
        volumes.push(
            Map::new()
                .with("name", format!("claim-{claim}"))
                .with("persistentVolumeClaim", Map::new().with("claimName", claim))
                .into(),
        );
    }
    spec.insert("volumes", Value::Seq(volumes));
    spec
}

fn config_hash(w: &ir::Workload) -> String {
    let mut h = Sha256::new();
    for f in w.containers.iter().flat_map(|c| &c.files) {
        h.update(f.path.as_bytes());
        h.update([0]);
        h.update(f.content.as_bytes());
        h.update([0]);
        h.update(f.mode.unwrap_or(-1).to_le_bytes());
    }
    let digest = h.finalize();
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Everything one workload needs from the rest of the environment.
pub struct Context<'a> {
    pub env: &'a ir::Environment,
    /// Workloads that depend on this one: (name, namespace).
    pub dependents: Vec<(String, String)>,
    /// Deployment wave (0 = first).
    pub wave: usize,
    /// The header comment (`# Generated by trestle …`).
    pub header: String,
}

/// The documents of one workload's file, in SPEC order.
pub fn workload_documents(w: &ir::Workload, cx: &Context<'_>) -> Vec<Value> {
    let env = cx.env;
    let wave = cx.wave.to_string();
    let annotations = Map::new()
        .with("argocd.argoproj.io/sync-wave", wave.as_str())
        .with("trestle.dev/wave", wave.as_str());
    // The same labels on every object and the pod template: built once.
    let labels = labels(w, env);
    let meta = |name: &str| metadata(name, w, &labels, &annotations);
    let mut docs = Vec::new();
    docs.push(
        Map::new()
            .with("apiVersion", "v1")
            .with("kind", "ServiceAccount")
            .with("metadata", meta(&w.name))
            .with("automountServiceAccountToken", false)
            .into(),
    );
    let files: Vec<&ir::File> = w.containers.iter().flat_map(|c| &c.files).collect();
    if !files.is_empty() {
        let mut data = Map::new();
        for f in &files {
            data.insert(file_key(&f.path), f.content.as_str());
        }
        docs.push(
            Map::new()
                .with("apiVersion", "v1")
                .with("kind", "ConfigMap")
                .with("metadata", meta(&format!("{}-files", w.name)))
                .with("data", data)
                .into(),
        );
    }
    let pod_meta = Map::new().with("labels", labels.clone()).with(
        "annotations",
        Map::new().with("trestle.dev/config-hash", config_hash(w)),
    );
    let scheduled = w.schedule.is_some();
    let template = Map::new()
        .with("metadata", pod_meta)
        .with("spec", pod_spec(w, scheduled));
    if let Some(schedule) = &w.schedule {
        docs.push(
            Map::new()
                .with("apiVersion", "batch/v1")
                .with("kind", "CronJob")
                .with("metadata", meta(&w.name))
                .with(
                    "spec",
                    Map::new()
                        .with("schedule", schedule.as_str())
                        .with("concurrencyPolicy", "Forbid")
                        .with(
                            "jobTemplate",
                            Map::new().with(
                                "spec",
                                Map::new()
                                    .with("backoffLimit", 3)
                                    .with("template", template),
                            ),
                        ),
                )
                .into(),
        );
        docs.push(network_policy(w, cx, meta(&w.name)).into());
        return docs;
    }
    let mut spec = Map::new();
    if w.autoscale.is_none() {
        spec.insert("replicas", w.replicas);
    }
    spec.insert("selector", Map::new().with("matchLabels", selector(w)));
    spec.insert("template", template);
    docs.push(
        Map::new()
            .with("apiVersion", "apps/v1")
            .with("kind", "Deployment")
            .with("metadata", meta(&w.name))
            .with("spec", spec)
            .into(),
    );
    if let Some(ports) = &w.service {
        docs.push(
            Map::new()
                .with("apiVersion", "v1")
                .with("kind", "Service")
                .with("metadata", meta(&w.name))
                .with(
                    "spec",
                    Map::new()
                        .with("type", "ClusterIP")
                        .with("selector", selector(w))
                        .with(
                            "ports",
                            ports
                                .iter()
                                .map(|p| {
                                    let proto = w
                                        .containers
                                        .iter()
                                        .flat_map(|c| &c.ports)
                                        .find(|cp| cp.name == p.target)
                                        .map_or("TCP", |cp| cp.protocol.as_str());
                                    Value::from(
                                        Map::new()
                                            .with("name", p.name.as_str())
                                            .with("port", p.number)
                                            .with("targetPort", p.target.as_str())
                                            .with("protocol", proto),
                                    )
                                })
                                .collect::<Value>(),
                        ),
                )
                .into(),
        );
    }
    if !w.routes.is_empty() {
        docs.push(ingress(w, env, meta(&w.name)).into());
    }
    if let Some(a) = &w.autoscale {
        docs.push(
            Map::new()
                .with("apiVersion", "autoscaling/v2")
                .with("kind", "HorizontalPodAutoscaler")
                .with("metadata", meta(&w.name))
                .with(
                    "spec",
                    Map::new()
                        .with(
                            "scaleTargetRef",
                            Map::new()
                                .with("apiVersion", "apps/v1")
                                .with("kind", "Deployment")
                                .with("name", w.name.as_str()),
                        )
                        .with("minReplicas", a.min)
                        .with("maxReplicas", a.max)
                        .with(
                            "metrics",
                            Value::Seq(vec![Map::new()
                                .with("type", "Resource")
                                .with(
                                    "resource",
                                    Map::new().with("name", "cpu").with(
                                        "target",
                                        Map::new()
                                            .with("type", "Utilization")
                                            .with("averageUtilization", a.cpu_percent),
                                    ),
                                )
                                .into()]),
                        ),
                )
                .into(),
        );
    }
    let min_pods = w.autoscale.as_ref().map_or(w.replicas, |a| a.min);
    if min_pods >= 2 {
        docs.push(
            Map::new()
                .with("apiVersion", "policy/v1")
                .with("kind", "PodDisruptionBudget")
                .with("metadata", meta(&w.name))
                .with(
                    "spec",
                    Map::new()
                        .with("maxUnavailable", 1)
                        .with("selector", Map::new().with("matchLabels", selector(w))),
                )
                .into(),
        );
    }
    docs.push(network_policy(w, cx, meta(&w.name)).into());
    docs
}

fn ingress(w: &ir::Workload, env: &ir::Environment, meta: Map) -> Map {
    let mut hosts: Vec<&str> = Vec::new();
    for r in &w.routes {
        if !hosts.contains(&r.host.as_str()) {
            hosts.push(&r.host);
        }
    }
    let rules: Vec<Value> = hosts
        .iter()
        .map(|host| {
            let paths: Vec<Value> = w
                .routes
                .iter()
                .filter(|r| r.host == *host)
                .map(|r| {
                    Map::new()
                        .with("path", r.path.as_str())
                        .with("pathType", "Prefix")
                        .with(
                            "backend",
                            Map::new().with(
                                "service",
                                Map::new()
                                    .with("name", w.name.as_str())
                                    .with("port", Map::new().with("name", r.port.as_str())),
                            ),
                        )
                        .into()
                })
                .collect();
            Map::new()
                .with("host", *host)
                .with("http", Map::new().with("paths", Value::Seq(paths)))
                .into()
        })
        .collect();
    let tls_hosts: Vec<&str> = hosts
        .iter()
        .copied()
        .filter(|h| w.routes.iter().any(|r| r.host == *h && r.tls))
        .collect();
    let mut spec = Map::new();
    if let Some(class) = &env.ingress_class {
        spec.insert("ingressClassName", class.as_str());
    }
    if !tls_hosts.is_empty() {
        spec.insert(
            "tls",
            Value::Seq(vec![Map::new()
                .with(
                    "hosts",
                    tls_hosts.iter().map(|h| Value::from(*h)).collect::<Value>(),
                )
                .with("secretName", format!("{}-tls", w.name))
                .into()]),
        );
    }
    spec.insert("rules", Value::Seq(rules));
    Map::new()
        .with("apiVersion", "networking.k8s.io/v1")
        .with("kind", "Ingress")
        .with("metadata", meta)
        .with("spec", spec)
}

fn network_policy(w: &ir::Workload, cx: &Context<'_>, meta: Map) -> Map {
    let target_ports: Vec<Value> = match &w.service {
        Some(ports) => {
            let mut seen = BTreeSet::new();
            ports
                .iter()
                .filter_map(|p| {
                    w.containers
                        .iter()
                        .flat_map(|c| &c.ports)
                        .find(|cp| cp.name == p.target)
                })
                .filter(|cp| seen.insert(cp.name.clone()))
                .map(|cp| {
                    Value::from(
                        Map::new()
                            .with("protocol", cp.protocol.as_str())
                            .with("port", cp.number),
                    )
                })
                .collect()
        }
        None => Vec::new(),
    };
    let mut rules = Vec::new();
    if !target_ports.is_empty() {
        let mut from: Vec<Value> = cx
            .dependents
            .iter()
            .map(|(name, ns)| {
                Map::new()
                    .with(
                        "namespaceSelector",
                        Map::new().with(
                            "matchLabels",
                            Map::new().with("kubernetes.io/metadata.name", ns.as_str()),
                        ),
                    )
                    .with(
                        "podSelector",
                        Map::new().with(
                            "matchLabels",
                            Map::new().with("app.kubernetes.io/name", name.as_str()),
                        ),
                    )
                    .into()
            })
            .collect();
        if !w.routes.is_empty() {
            from.push(
                Map::new()
                    .with(
                        "namespaceSelector",
                        Map::new().with(
                            "matchLabels",
                            Map::new().with(
                                "kubernetes.io/metadata.name",
                                cx.env.ingress_namespace.as_str(),
                            ),
                        ),
                    )
                    .into(),
            );
        }
        if !from.is_empty() {
            rules.push(Value::from(
                Map::new()
                    .with("from", Value::Seq(from))
                    .with("ports", Value::Seq(target_ports)),
            ));
        }
    }
    Map::new()
        .with("apiVersion", "networking.k8s.io/v1")
        .with("kind", "NetworkPolicy")
        .with("metadata", meta)
        .with(
            "spec",
            Map::new()
                .with("podSelector", Map::new().with("matchLabels", selector(w)))
                .with("policyTypes", Value::Seq(vec!["Ingress".into()]))
                .with("ingress", Value::Seq(rules)),
        )
}

/// The `namespace.yaml` of one namespace.
pub fn namespace_document(ns: &str, env: &ir::Environment) -> Value {
    let mut labels: BTreeMap<String, String> = env.labels.clone();
    labels.insert("app.kubernetes.io/managed-by".into(), "trestle".into());
    labels.insert("kubernetes.io/metadata.name".into(), ns.into());
    labels.insert(
        "pod-security.kubernetes.io/enforce".into(),
        "restricted".into(),
    );
    labels.insert(
        "pod-security.kubernetes.io/audit".into(),
        "restricted".into(),
    );
    labels.insert(
        "pod-security.kubernetes.io/warn".into(),
        "restricted".into(),
    );
    Map::new()
        .with("apiVersion", "v1")
        .with("kind", "Namespace")
        .with(
            "metadata",
            Map::new()
                .with("name", ns)
                .with("labels", labels.into_iter().collect::<Map>()),
        )
        .into()
}

/// Join documents under a header comment.
pub fn file_text(header: &str, docs: &[Value]) -> String {
    yaml::documents_after(header, docs)
}
