//! The IR: one fully resolved environment. Overrides applied, provisioners matched and
//! placeholders resolved; every item keeps its span, overridden values their layer.

use std::collections::BTreeMap;

use crate::ast::{EnvType, Lifecycle, ProbeKind, Scalar};
use crate::source::Span;

/// Which layer of a workload set a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Layer {
    Base,
    EnvType,
    Env,
}

impl Layer {
    /// The layer's name, as `trestle why` prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Base => "base",
            Layer::EnvType => "env-type",
            Layer::Env => "env",
        }
    }
}

/// Where one field's value came from: each layer that set it, in order (last wins).
pub type Provenance = BTreeMap<String, Vec<(Layer, Span)>>;

/// One environment, resolved.
#[derive(Debug, Clone)]
pub struct Environment {
    pub name: String,
    pub span: Span,
    pub env_type: EnvType,
    pub region: String,
    pub labels: BTreeMap<String, String>,
    pub ingress_class: Option<String>,
    pub ingress_namespace: String,
    /// Workloads deployed here, sorted by name.
    pub workloads: Vec<Workload>,
    /// Resource instances by id.
    pub resources: BTreeMap<String, ResourceInstance>,
}

impl Environment {
    /// The workload with this name.
    pub fn workload(&self, name: &str) -> Option<&Workload> {
        // Sorted by name, so large environments need no linear scan per lookup.
        self.workloads
            .binary_search_by(|w| w.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.workloads[i])
    }
}

/// A piece of a resolved string.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Literal(String),
    /// A resource output that lives in a secret (sensitive, `expr=` or `secret=`).
    Secret(SecretRef),
}

/// Where a secret-backed output can be read in the cluster.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SecretRef {
    /// The instance id and output name, for helper variable names.
    pub resource: String,
    pub output: String,
    /// Kubernetes secret and key.
    pub secret: String,
    pub key: String,
}

/// A string value after placeholder resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct Text {
    pub parts: Vec<Part>,
}

impl Text {
    /// A literal.
    pub fn literal(s: impl Into<String>) -> Text {
        Text {
            parts: vec![Part::Literal(s.into())],
        }
    }

    /// The text when it has no secret parts.
    pub fn as_plain(&self) -> Option<String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Literal(l) => out.push_str(l),
                Part::Secret(_) => return None,
            }
        }
        Some(out)
    }

    /// The single secret this text consists of, if that is all it is.
    pub fn as_single_secret(&self) -> Option<&SecretRef> {
        match self.parts.as_slice() {
            [Part::Secret(s)] => Some(s),
            _ => None,
        }
    }
}

/// A resolved env var value.
#[derive(Debug, Clone, PartialEq)]
pub enum EnvValue {
    Text(Text),
    Int(i64),
    Bool(bool),
}

#[derive(Debug, Clone)]
pub struct EnvVar {
    pub key: String,
    pub value: EnvValue,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Port {
    pub name: String,
    pub number: i64,
    pub protocol: String,
}

#[derive(Debug, Clone, Default)]
pub struct Compute {
    pub request: Option<String>,
    pub limit: Option<String>,
}

#[derive(Debug, Clone)]
pub enum ProbeAction {
    Http { path: String, port: String },
    Tcp { port: String },
    Exec(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct Probe {
    pub kind: ProbeKind,
    pub action: ProbeAction,
    pub initial_delay: Option<i64>,
    pub period: Option<i64>,
    pub timeout: Option<i64>,
    pub failure_threshold: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct File {
    pub path: String,
    pub content: String,
    pub mode: Option<i64>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Volume {
    pub path: String,
    pub claim: String,
    pub read_only: bool,
}

#[derive(Debug, Clone)]
pub struct Container {
    pub name: String,
    pub span: Span,
    pub image: String,
    pub image_span: Span,
    pub command: Vec<Text>,
    pub args: Vec<Text>,
    pub env: Vec<EnvVar>,
    pub ports: Vec<Port>,
    pub cpu: Compute,
    pub memory: Compute,
    pub probes: Vec<Probe>,
    pub files: Vec<File>,
    pub volumes: Vec<Volume>,
}

#[derive(Debug, Clone)]
pub struct ServicePort {
    pub name: String,
    pub number: i64,
    pub target: String,
}

#[derive(Debug, Clone)]
pub struct Route {
    pub host: String,
    pub path: String,
    pub port: String,
    pub tls: bool,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Autoscale {
    pub min: i64,
    pub max: i64,
    pub cpu_percent: i64,
    pub span: Span,
}

/// A workload's use of a resource instance.
#[derive(Debug, Clone)]
pub struct ResourceUse {
    pub name: String,
    pub id: String,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Workload {
    pub name: String,
    pub span: Span,
    pub file: String,
    pub description: Option<String>,
    pub owner: String,
    pub system: String,
    pub lifecycle: Lifecycle,
    pub namespace: String,
    pub schedule: Option<String>,
    pub replicas: i64,
    pub replicas_span: Span,
    pub tags: Vec<String>,
    pub containers: Vec<Container>,
    pub service: Option<Vec<ServicePort>>,
    pub routes: Vec<Route>,
    pub autoscale: Option<Autoscale>,
    pub resources: Vec<ResourceUse>,
    pub depends_on: Vec<(String, Span)>,
    pub provides_api: Vec<String>,
    pub consumes_api: Vec<String>,
    pub provenance: Provenance,
}

/// How a provisioner defined an output, rendered.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputValue {
    Value(String),
    Expr(String),
    Secret { name: String, key: String },
}

#[derive(Debug, Clone)]
pub struct Output {
    pub name: String,
    pub sensitive: bool,
    pub value: OutputValue,
}

impl Output {
    /// True when the value must only travel through a Kubernetes secret.
    pub fn secret_backed(&self) -> bool {
        self.sensitive || !matches!(self.value, OutputValue::Value(_))
    }
}

/// A piece of a resolved resource param.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamPart {
    Literal(String),
    /// An `expr=` output of another instance: a Terraform expression. Only a `terraform`
    /// template can use it; there it becomes a reference (`${EXPR}` inside a string).
    Terraform {
        resource: String,
        output: String,
        expr: String,
    },
}

/// A resource-to-resource reference: a param of this instance names an output of another
/// instance of the same workload (`${resources.NAME.OUTPUT}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The param holding the placeholder.
    pub param: String,
    /// The referenced instance id and output.
    pub resource: String,
    pub output: String,
    /// The param's value in the spec.
    pub span: Span,
}

/// One resource instance in one environment.
#[derive(Debug, Clone)]
pub struct ResourceInstance {
    pub id: String,
    /// The NAME under which the first consumer requests it.
    pub name: String,
    pub ty: String,
    pub class: String,
    /// Params with placeholders resolved; a Terraform-time part is shown as `${EXPR}`.
    pub params: BTreeMap<String, Scalar>,
    /// The params that hold Terraform-time parts, piece by piece.
    pub terraform_params: BTreeMap<String, Vec<ParamPart>>,
    /// Other instances this one's params refer to, in param order.
    pub references: Vec<Reference>,
    /// Consumers: (workload, namespace), sorted by workload name.
    pub consumers: Vec<(String, String)>,
    /// The namespace of the first consumer by name.
    pub namespace: String,
    pub span: Span,
    pub provisioner: String,
    pub provisioner_span: Span,
    pub outputs: Vec<Output>,
}

impl ResourceInstance {
    /// The output with this name.
    pub fn output(&self, name: &str) -> Option<&Output> {
        self.outputs.iter().find(|o| o.name == name)
    }
}
