//! The registry of built-in rules: id, default severity, parameters and explanation.
//! `trestle rules`, `trestle explain RULE` and docs/rules.md come from this table.

use crate::diagnostics::Severity;

/// A built-in rule's registry entry.
#[derive(Debug, Clone, Copy)]
pub struct RuleInfo {
    pub id: &'static str,
    pub severity: Severity,
    pub title: &'static str,
    /// Parameters as `name=default` descriptions.
    pub params: &'static [(&'static str, &'static str)],
    pub explanation: &'static str,
}

/// Every built-in rule, sorted by id.
pub const RULES: &[RuleInfo] = &[
    RuleInfo { id: "allowed-regions", severity: Severity::Error, title: "environments use allowed regions",
        params: &[("regions", "space-separated region list; empty allows all")],
        explanation: "Every environment's `region` must be one of `regions`. Data residency and cost controls depend on it.\n\n    rule allowed-regions regions=\"eu-west-1 eu-central-1\"" },
    RuleInfo { id: "api-provider-exists", severity: Severity::Error, title: "consumed APIs have a provider",
        params: &[],
        explanation: "A workload that `consumes-api` an API needs some workload deployed in the same environment that `provides-api` it; otherwise the consumer calls nothing." },
    RuleInfo { id: "image-tag-pinned", severity: Severity::Warning, title: "images are pinned",
        params: &[("require-digest-in", "space-separated env types that require an @sha256 digest (default none)")],
        explanation: "Images must carry an explicit tag other than `latest` (or a digest). An untagged or `:latest` image changes under you between deploys.\n\n    image \"ghcr.io/acme/api:1.4.2\"" },
    RuleInfo { id: "no-deprecated-dependency", severity: Severity::Warning, title: "production does not depend on deprecated workloads",
        params: &[],
        explanation: "In production environments a workload must not `depends-on` a workload whose lifecycle is `deprecated`." },
    RuleInfo { id: "no-public-buckets", severity: Severity::Error, title: "S3 buckets block public access",
        params: &[],
        explanation: "Every rendered `aws_s3_bucket` must have an `aws_s3_bucket_public_access_block` with all four settings true, and no public ACL." },
    RuleInfo { id: "owner-is-team", severity: Severity::Error, title: "owners are teams",
        params: &[],
        explanation: "The `owner` of a workload, system, domain and API names a declared team (not a person), so ownership survives people moving on." },
    RuleInfo { id: "probes-required", severity: Severity::Warning, title: "services have liveness and readiness probes",
        params: &[],
        explanation: "Every container of a workload with a `service` needs a liveness and a readiness probe. Scheduled workloads are exempt." },
    RuleInfo { id: "prod-min-replicas", severity: Severity::Error, title: "production runs at least two replicas",
        params: &[("min", "2")],
        explanation: "In production environments, `replicas` (or `autoscale min`) must be at least `min`. Scheduled workloads are exempt." },
    RuleInfo { id: "resources-required", severity: Severity::Warning, title: "containers declare cpu and memory",
        params: &[],
        explanation: "Every container needs a cpu request and a memory request and limit, so the scheduler can place it and a leak cannot starve the node." },
    RuleInfo { id: "storage-encrypted", severity: Severity::Error, title: "storage is encrypted",
        params: &[],
        explanation: "Rendered RDS instances, ElastiCache groups, S3 buckets and SQS queues must enable encryption at rest." },
    RuleInfo { id: "unique-route-host", severity: Severity::Error, title: "route hosts are unique per environment",
        params: &[],
        explanation: "Two workloads must not route the same host and path in one environment; the ingress controller would pick one at random." },
];

/// Look up a rule by id.
pub fn lookup(id: &str) -> Option<&'static RuleInfo> {
    RULES.iter().find(|r| r.id == id)
}
