//! The registry of built-in rules: id, default severity, parameters and explanation.
//! `trestle rules`, `trestle explain RULE` and docs/rules.md come from this table; the checks
//! themselves live in `src/policy/`.

use crate::diagnostics::Severity;

/// A built-in rule's registry entry.
#[derive(Debug, Clone, Copy)]
pub struct RuleInfo {
    pub id: &'static str,
    pub severity: Severity,
    pub title: &'static str,
    /// Parameters: name and description (with the default).
    pub params: &'static [(&'static str, &'static str)],
    /// What the rule checks and why, with an example.
    pub explanation: &'static str,
}

/// Every built-in rule, sorted by id.
pub const RULES: &[RuleInfo] = &[
    RuleInfo {
        id: "allowed-regions",
        severity: Severity::Error,
        title: "environments use allowed regions",
        params: &[("regions", "space-separated list of allowed regions (default: empty, which allows every region)")],
        explanation: "Every environment's `region`, and the `region=` of each provider in its `terraform` block, must be one of `regions`. Data residency, latency and cost commitments depend on where things run, and a typo such as `eu-west-l` should not quietly create infrastructure on another continent.

    rule allowed-regions regions=\"eu-west-1 eu-central-1\"",
    },
    RuleInfo {
        id: "api-provider-exists",
        severity: Severity::Error,
        title: "consumed APIs have a provider",
        params: &[],
        explanation: "A workload that `consumes-api` an API needs a workload deployed in the same environment that `provides-api` it. Otherwise the consumer calls an address that nothing serves, which usually shows up only at runtime (a provider limited by `environments`, or a provider that was removed).

    workload web { consumes-api payments-v1 … }
    workload payments-api { provides-api payments-v1 … }   // deployed wherever web is",
    },
    RuleInfo {
        id: "image-tag-pinned",
        severity: Severity::Warning,
        title: "images are pinned",
        params: &[("require-digest-in", "space-separated environment types whose images need an `@sha256:` digest (default: none)")],
        explanation: "Every container image carries an explicit tag other than `latest`, or a digest. An untagged or `:latest` image changes between deploys, so a rollback or a new node can run different code than the one that was reviewed. With `require-digest-in`, images in those environment types must be pinned by digest, which no one can move.

    image \"ghcr.io/acme/api:1.4.2\"
    image \"ghcr.io/acme/api:1.4.2@sha256:3f1c…\"      // required with require-digest-in=production",
    },
    RuleInfo {
        id: "no-deprecated-dependency",
        severity: Severity::Warning,
        title: "production does not depend on deprecated workloads or APIs",
        params: &[],
        explanation: "In production environments, a workload must not `depends-on` a workload whose `lifecycle` is `deprecated`, nor `consumes-api` an API whose lifecycle is `deprecated`. Deprecated things are on their way out; new production dependencies on them turn their retirement into an outage.",
    },
    RuleInfo {
        id: "no-public-buckets",
        severity: Severity::Error,
        title: "S3 buckets block public access",
        params: &[],
        explanation: "Checked on the rendered Terraform. Every `aws_s3_bucket` has an `aws_s3_bucket_public_access_block` (its `bucket` refers to the bucket) with `block_public_acls`, `block_public_policy`, `ignore_public_acls` and `restrict_public_buckets` all `true`, and neither the bucket nor an `aws_s3_bucket_acl` uses a public canned ACL (`public-read`, `public-read-write`, `authenticated-read`). Public buckets are the most common cloud data leak; public files belong behind a CDN.",
    },
    RuleInfo {
        id: "owner-is-team",
        severity: Severity::Error,
        title: "owners are teams with people",
        params: &[],
        explanation: "The `owner` of every domain, system, workload and API is a team that has people: a `member`, or a child team with members. (An owner that is not a team at all is always an error, T301.) An empty team is a placeholder: nobody gets paged, nobody reviews changes, and Backstage shows an owner no one can contact.",
    },
    RuleInfo {
        id: "probes-required",
        severity: Severity::Warning,
        title: "services have liveness and readiness probes",
        params: &[],
        explanation: "Every container of a workload with a `service` has a liveness and a readiness probe. Without readiness, the Service sends traffic to pods that are still starting; without liveness, a hung process is never restarted. Scheduled workloads are exempt.

    probe liveness http path=\"/healthz\" port=http
    probe readiness http path=\"/ready\" port=http",
    },
    RuleInfo {
        id: "prod-min-replicas",
        severity: Severity::Error,
        title: "production runs at least two replicas",
        params: &[("min", "the minimum `replicas`, or `autoscale min`, in production (default 2)")],
        explanation: "In production environments, a workload's `replicas` (or its `autoscale min`, when it autoscales) is at least `min`. One pod means every node drain, deploy or crash is an outage; the PodDisruptionBudget trestle writes needs two to keep one running. Scheduled workloads are exempt.

    when env-type=production { replicas 3 }",
    },
    RuleInfo {
        id: "resources-required",
        severity: Severity::Warning,
        title: "containers declare cpu and memory",
        params: &[],
        explanation: "Every container has a cpu request, a memory request and a memory limit. The scheduler places pods by their requests; without them a node is overcommitted. Without a memory limit, one leaking container can take the node's memory and get its neighbours killed.

    cpu request=\"250m\" limit=\"1\"
    memory request=\"256Mi\" limit=\"512Mi\"",
    },
    RuleInfo {
        id: "storage-encrypted",
        severity: Severity::Error,
        title: "storage is encrypted at rest",
        params: &[],
        explanation: "Checked on the rendered Terraform: `aws_db_instance`, `aws_rds_cluster`, `aws_docdb_cluster` and `aws_neptune_cluster` set `storage_encrypted = true`; `aws_ebs_volume`, `aws_efs_file_system` and `aws_redshift_cluster` set `encrypted = true`; `aws_elasticache_replication_group` sets `at_rest_encryption_enabled = true`; `aws_opensearch_domain` and `aws_elasticsearch_domain` have `encrypt_at_rest { enabled = true }`; `aws_sqs_queue` sets `kms_master_key_id` or `sqs_managed_sse_enabled = true`; `aws_s3_bucket` has a server-side encryption configuration. Unencrypted storage turns a lost snapshot or a mis-shared volume into a data breach, and most compliance regimes require encryption at rest.",
    },
    RuleInfo {
        id: "unique-route-host",
        severity: Severity::Error,
        title: "route hosts are unique per environment",
        params: &[],
        explanation: "No two routes in one environment serve the same host and path (hosts compare case-insensitively; a trailing `/` does not make a path different). Two Ingress rules for one address make the ingress controller pick one of them, so one workload silently receives the other's traffic.",
    },
];

/// Look up a rule by id.
pub fn lookup(id: &str) -> Option<&'static RuleInfo> {
    RULES.iter().find(|r| r.id == id)
}

/// docs/rules.md, generated from [`RULES`] (a test keeps the file current).
pub fn markdown() -> String {
    let mut out = String::from(
        "# Built-in rules\n\n\
         <!-- Generated from src/rules.rs by `TRESTLE_BLESS=1 cargo test`; do not edit. -->\n\n\
         trestle checks these rules on every `validate`, `build`, `check` and `diff`. A finding's \
         code is the rule's id. Configure a rule with a `rule` node, waive one finding with a \
         `waiver` (see [policies.md](policies.md)):\n\n\
         ```kdl\n\
         rule image-tag-pinned severity=error require-digest-in=production\n\
         rule probes-required severity=off\n\
         ```\n\n\
         | rule | default | checks |\n|---|---|---|\n",
    );
    for r in RULES {
        out.push_str(&format!(
            "| [`{}`](#{}) | {} | {} |\n",
            r.id,
            r.id,
            r.severity.as_str(),
            r.title
        ));
    }
    for r in RULES {
        out.push_str(&format!(
            "\n## {}\n\n**{}** (default severity: `{}`)\n\n{}\n",
            r.id,
            r.title,
            r.severity.as_str(),
            r.explanation
                .replace("\n\n    ", "\n\n```kdl\n")
                .replace("\n    ", "\n")
        ));
        // Indented examples become kdl code blocks.
        if r.explanation.contains("\n\n    ") {
            out.push_str("```\n");
        }
        if !r.params.is_empty() {
            out.push_str("\n| parameter | meaning |\n|---|---|\n");
            for (k, v) in r.params {
                out.push_str(&format!("| `{k}` | {v} |\n"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_is_sorted_and_kebab_case() {
        let ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(ids, sorted);
        for id in ids {
            assert!(id.chars().all(|c| c.is_ascii_lowercase() || c == '-'));
            assert!(
                crate::diagnostics::codes::lookup(id).is_none(),
                "{id} clashes with a code"
            );
        }
    }

    /// docs/rules.md is generated from the registry; `TRESTLE_BLESS=1 cargo test` rewrites it.
    #[test]
    fn docs_rules_md_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rules.md");
        let want = markdown();
        if std::env::var_os("TRESTLE_BLESS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &want).unwrap();
            return;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "docs/rules.md is stale: run `TRESTLE_BLESS=1 cargo test` and review the diff"
        );
    }
}
