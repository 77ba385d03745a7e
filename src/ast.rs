//! The typed AST: what one spec file declares, every value with its byte span.
//! Lowering fills it; nothing here is resolved across files yet.

use crate::source::Span;

/// A value with the span it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    /// Wrap a value.
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

impl Spanned<String> {
    /// The string.
    pub fn as_str(&self) -> &str {
        &self.value
    }
}

/// A name (RFC 1035 label or rule id) with its span.
pub type Name = Spanned<String>;

/// A scalar value from a property.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
}

impl Scalar {
    /// The value as text, as it would appear in an env var or template.
    pub fn to_text(&self) -> String {
        match self {
            Scalar::Str(s) => s.clone(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::Null => String::new(),
        }
    }

    /// The type's name for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Scalar::Str(_) => "string",
            Scalar::Int(_) => "integer",
            Scalar::Float(_) => "float",
            Scalar::Bool(_) => "boolean",
            Scalar::Null => "null",
        }
    }
}

/// A `key=value` pair.
#[derive(Debug, Clone, PartialEq)]
pub struct Prop {
    pub key: Spanned<String>,
    pub value: Spanned<Scalar>,
}

/// Set a value, or remove the inherited one (`autoscale #null` in a `when`).
#[derive(Debug, Clone, PartialEq)]
pub enum Patch<T> {
    Set(T),
    Remove,
}

/// Environment types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EnvType {
    Development,
    Staging,
    Production,
}

impl EnvType {
    /// Every type, in order.
    pub const ALL: [&'static str; 3] = ["development", "staging", "production"];

    /// Parse a type name.
    pub fn parse(s: &str) -> Option<EnvType> {
        match s {
            "development" => Some(EnvType::Development),
            "staging" => Some(EnvType::Staging),
            "production" => Some(EnvType::Production),
            _ => None,
        }
    }

    /// The type's name.
    pub fn as_str(self) -> &'static str {
        match self {
            EnvType::Development => "development",
            EnvType::Staging => "staging",
            EnvType::Production => "production",
        }
    }
}

/// Workload and API lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lifecycle {
    Experimental,
    Production,
    Deprecated,
}

impl Lifecycle {
    /// Every value, in order.
    pub const ALL: [&'static str; 3] = ["experimental", "production", "deprecated"];

    /// Parse a lifecycle.
    pub fn parse(s: &str) -> Option<Lifecycle> {
        match s {
            "experimental" => Some(Lifecycle::Experimental),
            "production" => Some(Lifecycle::Production),
            "deprecated" => Some(Lifecycle::Deprecated),
            _ => None,
        }
    }

    /// The value's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Experimental => "experimental",
            Lifecycle::Production => "production",
            Lifecycle::Deprecated => "deprecated",
        }
    }
}

/// One spec file's declarations.
#[derive(Debug, Clone, Default)]
pub struct File {
    pub items: Vec<Item>,
}

/// A top-level declaration.
#[derive(Debug, Clone)]
pub enum Item {
    Team(Team),
    Domain(Domain),
    System(System),
    Environment(Environment),
    Workload(Box<Workload>),
    Api(Api),
    ResourceType(ResourceType),
    Policy(Policy),
    Rule(Rule),
    Waiver(Waiver),
}

#[derive(Debug, Clone)]
pub struct Team {
    pub name: Name,
    pub span: Span,
    pub title: Option<Spanned<String>>,
    pub email: Option<Spanned<String>>,
    pub parent: Option<Name>,
    pub members: Vec<Member>,
}

#[derive(Debug, Clone)]
pub struct Member {
    pub name: Name,
    pub span: Span,
    pub email: Option<Spanned<String>>,
    pub title: Option<Spanned<String>>,
}

#[derive(Debug, Clone)]
pub struct Domain {
    pub name: Name,
    pub span: Span,
    pub owner: Option<Name>,
    pub description: Option<Spanned<String>>,
}

#[derive(Debug, Clone)]
pub struct System {
    pub name: Name,
    pub span: Span,
    pub owner: Option<Name>,
    pub domain: Option<Name>,
    pub description: Option<Spanned<String>>,
}

#[derive(Debug, Clone)]
pub struct Environment {
    pub name: Name,
    pub span: Span,
    pub env_type: Option<Spanned<EnvType>>,
    pub region: Option<Spanned<String>>,
    pub namespace: Option<Spanned<String>>,
    pub ingress_class: Option<Spanned<String>>,
    pub ingress_namespace: Option<Spanned<String>>,
    pub labels: Vec<Prop>,
    pub terraform: Option<TerraformBlock>,
}

#[derive(Debug, Clone, Default)]
pub struct TerraformBlock {
    pub span: Option<Span>,
    pub required_version: Option<Spanned<String>>,
    pub providers: Vec<Provider>,
    pub backend: Option<Backend>,
}

/// `provider NAME source= version= …attrs`
#[derive(Debug, Clone)]
pub struct Provider {
    pub name: Name,
    pub span: Span,
    pub source: Option<Spanned<String>>,
    pub version: Option<Spanned<String>>,
    pub attrs: Vec<Prop>,
}

/// `backend TYPE …attrs`
#[derive(Debug, Clone)]
pub struct Backend {
    pub kind: Name,
    pub span: Span,
    pub attrs: Vec<Prop>,
}

#[derive(Debug, Clone)]
pub struct Workload {
    pub name: Name,
    pub span: Span,
    pub description: Option<Spanned<String>>,
    pub owner: Option<Name>,
    pub system: Option<Name>,
    pub lifecycle: Option<Spanned<Lifecycle>>,
    pub schedule: Option<Spanned<String>>,
    pub depends_on: Vec<Name>,
    pub provides_api: Vec<Name>,
    pub consumes_api: Vec<Name>,
    /// The overridable part at the base layer.
    pub body: WorkloadBody,
    pub whens: Vec<When>,
}

/// The part of a workload that `when` blocks may override.
#[derive(Debug, Clone, Default)]
pub struct WorkloadBody {
    pub replicas: Option<Spanned<Patch<i64>>>,
    pub tags: Option<Spanned<Vec<Spanned<String>>>>,
    pub containers: Vec<Container>,
    pub service: Option<Spanned<Patch<Service>>>,
    /// `route` nodes; in a `when`, any route replaces the inherited list.
    pub routes: Option<Spanned<Vec<Route>>>,
    pub autoscale: Option<Spanned<Patch<Autoscale>>>,
    pub resources: Vec<ResourceReq>,
    pub environments: Option<Spanned<Vec<Name>>>,
}

/// Which environments a `when` applies to.
#[derive(Debug, Clone)]
pub enum WhenSelector {
    Env(Name),
    EnvType(Spanned<EnvType>),
}

#[derive(Debug, Clone)]
pub struct When {
    pub selector: WhenSelector,
    pub span: Span,
    pub body: WorkloadBody,
}

#[derive(Debug, Clone)]
pub struct Container {
    pub name: Name,
    pub span: Span,
    pub image: Option<Spanned<String>>,
    pub command: Option<Spanned<Vec<Spanned<String>>>>,
    pub args: Option<Spanned<Vec<Spanned<String>>>>,
    pub env: Vec<EnvVar>,
    pub ports: Vec<Port>,
    pub cpu: Option<Compute>,
    pub memory: Option<Compute>,
    pub probes: Vec<Probe>,
    pub files: Vec<FileMount>,
    pub volumes: Vec<VolumeMount>,
}

/// One `KEY=VALUE` of an `env` node; `#null` removes an inherited variable.
#[derive(Debug, Clone)]
pub struct EnvVar {
    pub key: Spanned<String>,
    pub value: Spanned<Patch<Scalar>>,
}

#[derive(Debug, Clone)]
pub struct Port {
    pub name: Name,
    pub span: Span,
    pub number: Spanned<i64>,
    pub protocol: Option<Spanned<String>>,
}

/// `cpu request= limit=` or `memory request= limit=`.
#[derive(Debug, Clone)]
pub struct Compute {
    pub span: Span,
    pub request: Option<Spanned<String>>,
    pub limit: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProbeKind {
    Liveness,
    Readiness,
    Startup,
}

impl ProbeKind {
    /// The kind's name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeKind::Liveness => "liveness",
            ProbeKind::Readiness => "readiness",
            ProbeKind::Startup => "startup",
        }
    }
}

#[derive(Debug, Clone)]
pub enum ProbeAction {
    Http { path: Spanned<String>, port: Name },
    Tcp { port: Name },
    Exec(Vec<Spanned<String>>),
}

#[derive(Debug, Clone)]
pub struct Probe {
    pub kind: Spanned<ProbeKind>,
    pub span: Span,
    pub action: ProbeAction,
    pub initial_delay: Option<Spanned<i64>>,
    pub period: Option<Spanned<i64>>,
    pub timeout: Option<Spanned<i64>>,
    pub failure_threshold: Option<Spanned<i64>>,
}

#[derive(Debug, Clone)]
pub struct FileMount {
    pub path: Spanned<String>,
    pub span: Span,
    pub source: Option<Spanned<String>>,
    pub content: Option<Spanned<String>>,
    pub mode: Option<Spanned<i64>>,
    pub expand: Option<Spanned<bool>>,
}

#[derive(Debug, Clone)]
pub struct VolumeMount {
    pub path: Spanned<String>,
    pub span: Span,
    pub source: Option<Spanned<String>>,
    pub read_only: Option<Spanned<bool>>,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub ports: Vec<ServicePort>,
}

#[derive(Debug, Clone)]
pub struct ServicePort {
    pub name: Name,
    pub span: Span,
    pub number: Option<Spanned<i64>>,
    pub target: Option<Name>,
}

#[derive(Debug, Clone)]
pub struct Route {
    pub span: Span,
    pub host: Option<Spanned<String>>,
    pub path: Option<Spanned<String>>,
    pub port: Option<Name>,
    pub tls: Option<Spanned<bool>>,
}

#[derive(Debug, Clone, Default)]
pub struct Autoscale {
    pub min: Option<Spanned<i64>>,
    pub max: Option<Spanned<i64>>,
    pub cpu_percent: Option<Spanned<i64>>,
}

/// `resource NAME type=T class=? id=? PARAM=VALUE…`
#[derive(Debug, Clone)]
pub struct ResourceReq {
    pub name: Name,
    pub span: Span,
    pub ty: Option<Name>,
    pub class: Option<Name>,
    pub id: Option<Name>,
    pub params: Vec<Prop>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiType {
    Openapi,
    Asyncapi,
    Grpc,
    Graphql,
}

impl ApiType {
    /// Every value.
    pub const ALL: [&'static str; 4] = ["openapi", "asyncapi", "grpc", "graphql"];

    /// Parse an API type.
    pub fn parse(s: &str) -> Option<ApiType> {
        match s {
            "openapi" => Some(ApiType::Openapi),
            "asyncapi" => Some(ApiType::Asyncapi),
            "grpc" => Some(ApiType::Grpc),
            "graphql" => Some(ApiType::Graphql),
            _ => None,
        }
    }

    /// The type's name.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiType::Openapi => "openapi",
            ApiType::Asyncapi => "asyncapi",
            ApiType::Grpc => "grpc",
            ApiType::Graphql => "graphql",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Api {
    pub name: Name,
    pub span: Span,
    pub ty: Option<Spanned<ApiType>>,
    pub owner: Option<Name>,
    pub system: Option<Name>,
    pub lifecycle: Option<Spanned<Lifecycle>>,
    pub description: Option<Spanned<String>>,
    pub definition: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    String,
    Int,
    Bool,
}

impl ParamType {
    /// The type's name.
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Int => "int",
            ParamType::Bool => "bool",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ParamDecl {
    pub name: Name,
    pub span: Span,
    pub ty: Spanned<ParamType>,
    pub default: Option<Spanned<Scalar>>,
    pub one_of: Option<Spanned<Vec<String>>>,
    pub min: Option<Spanned<i64>>,
    pub max: Option<Spanned<i64>>,
    pub required: bool,
}

#[derive(Debug, Clone)]
pub struct OutputDecl {
    pub name: Name,
    pub span: Span,
    pub sensitive: bool,
}

#[derive(Debug, Clone)]
pub struct ResourceType {
    pub name: Name,
    pub span: Span,
    pub description: Option<Spanned<String>>,
    pub params: Vec<ParamDecl>,
    pub outputs: Vec<OutputDecl>,
    pub provisioners: Vec<Provisioner>,
}

/// One `match` line of a provisioner.
#[derive(Debug, Clone, Default)]
pub struct MatchLine {
    pub span: Option<Span>,
    pub env_type: Option<Spanned<EnvType>>,
    pub env: Option<Name>,
    pub workload: Option<Name>,
    pub resource: Option<Name>,
    pub class: Option<Name>,
}

/// How a provisioner defines one output.
#[derive(Debug, Clone)]
pub enum OutputSource {
    Value(Spanned<String>),
    Expr(Spanned<String>),
    Secret {
        name: Spanned<String>,
        key: Spanned<String>,
    },
}

#[derive(Debug, Clone)]
pub struct ProvisionerOutput {
    pub name: Name,
    pub span: Span,
    pub source: OutputSource,
}

#[derive(Debug, Clone)]
pub struct Provisioner {
    pub name: Name,
    pub span: Span,
    pub matches: Vec<MatchLine>,
    pub providers: Vec<Provider>,
    pub terraform: Option<Spanned<String>>,
    pub kubernetes: Option<Spanned<String>>,
    pub outputs: Vec<ProvisionerOutput>,
}

/// What a policy runs over.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicyTarget {
    Workload,
    Resource,
    Api,
    Environment,
    Team,
    Kubernetes { kind: Spanned<String> },
    Terraform { ty: Spanned<String> },
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub name: Name,
    pub span: Span,
    pub description: Option<Spanned<String>>,
    pub severity: Option<Spanned<crate::diagnostics::Severity>>,
    pub target: Option<Spanned<PolicyTarget>>,
    pub when: Option<Spanned<String>>,
    pub assert: Option<Spanned<String>>,
    pub message: Option<Spanned<String>>,
    pub message_expr: Option<Spanned<String>>,
}

/// Severity of a configured rule: `off` disables it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleSeverity {
    Off,
    Info,
    Warning,
    Error,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub id: Name,
    pub span: Span,
    pub severity: Option<Spanned<RuleSeverity>>,
    pub params: Vec<Prop>,
}

/// A calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

#[derive(Debug, Clone)]
pub struct Waiver {
    pub target: Name,
    pub span: Span,
    pub workload: Option<Name>,
    pub resource: Option<Name>,
    pub env: Option<Name>,
    pub team: Option<Name>,
    pub api: Option<Name>,
    pub expires: Option<Spanned<Date>>,
    pub reason: Option<Spanned<String>>,
}
