//! Rules over the rendered Terraform: storage-encrypted and no-public-buckets.
//!
//! They read what the provisioner templates produced (see `rendered.rs`), so a platform's own
//! resource types are held to the same bar as the built-in ones. Each finding points at the
//! resource instance that produced the block, with the template as a related label.

use serde_json::Value;

use crate::diagnostics::Diagnostic;
use crate::ir;

use super::rendered::{Format, Object, Origin};
use super::{EnvCx, Finding, Scope};

/// Resource types whose storage must be encrypted, and how each says so.
enum Check {
    /// An attribute that must be literally `true`.
    True(&'static str),
    /// A nested block whose `enabled` must be `true`.
    BlockEnabled(&'static str),
    /// SQS: a KMS key, or SQS-managed encryption.
    Sqs,
    /// S3: an inline `server_side_encryption_configuration` block, or an
    /// `aws_s3_bucket_server_side_encryption_configuration` for the bucket.
    S3,
}

const ENCRYPTED: &[(&str, Check)] = &[
    ("aws_db_instance", Check::True("storage_encrypted")),
    ("aws_rds_cluster", Check::True("storage_encrypted")),
    ("aws_docdb_cluster", Check::True("storage_encrypted")),
    ("aws_neptune_cluster", Check::True("storage_encrypted")),
    ("aws_ebs_volume", Check::True("encrypted")),
    ("aws_efs_file_system", Check::True("encrypted")),
    ("aws_redshift_cluster", Check::True("encrypted")),
    (
        "aws_elasticache_replication_group",
        Check::True("at_rest_encryption_enabled"),
    ),
    (
        "aws_opensearch_domain",
        Check::BlockEnabled("encrypt_at_rest"),
    ),
    (
        "aws_elasticsearch_domain",
        Check::BlockEnabled("encrypt_at_rest"),
    ),
    ("aws_sqs_queue", Check::Sqs),
    ("aws_s3_bucket", Check::S3),
];

/// The four settings of an `aws_s3_bucket_public_access_block`.
const BLOCK_SETTINGS: [&str; 4] = [
    "block_public_acls",
    "block_public_policy",
    "ignore_public_acls",
    "restrict_public_buckets",
];

/// Canned ACLs that open a bucket to the world or to every AWS account.
const PUBLIC_ACLS: [&str; 3] = ["public-read", "public-read-write", "authenticated-read"];

pub(super) fn check(cx: &EnvCx<'_>, out: &mut Vec<Finding>) {
    storage_encrypted(cx, out);
    no_public_buckets(cx, out);
}

fn values(o: &Object) -> &Value {
    &o.value["values"]
}

/// True when a companion resource's `bucket` points at this bucket: a reference to it
/// (`aws_s3_bucket.NAME.id` / `.bucket`) or its literal name.
/// Every Terraform resource type the storage rules read; the policy engine keeps no other
/// rendered Terraform blocks for them (see `policy::terraform_types`).
pub(crate) fn terraform_types() -> impl Iterator<Item = &'static str> {
    ENCRYPTED.iter().map(|(t, _)| *t).chain([
        "aws_s3_bucket_server_side_encryption_configuration",
        "aws_s3_bucket",
        "aws_s3_bucket_public_access_block",
        "aws_s3_bucket_acl",
    ])
}

fn refers_to_bucket(companion: &Object, bucket: &Object) -> bool {
    let Some(b) = values(companion)["bucket"].as_str() else {
        return false;
    };
    let id = format!("aws_s3_bucket.{}.id", bucket.name);
    let name = format!("aws_s3_bucket.{}.bucket", bucket.name);
    b == id || b == name || values(bucket)["bucket"].as_str() == Some(b)
}

/// The provisioner template that rendered an instance's Terraform, for a related label.
fn template_span(cx: &EnvCx<'_>, inst: &ir::ResourceInstance) -> Option<crate::source::Span> {
    cx.model
        .resource_types
        .get(&inst.ty)?
        .provisioners
        .iter()
        .find(|p| p.name.value == inst.provisioner)?
        .terraform
        .as_ref()
        .map(|t| t.span)
}

/// A finding about a rendered block, blamed on the instance that produced it.
fn blame(cx: &EnvCx<'_>, o: &Object, d: Diagnostic) -> Finding {
    let mut d = d.label(
        o.span,
        match &o.origin {
            Origin::Resource(id) => format!("`{id}` renders {}", o.describe()),
            _ => format!("renders {}", o.describe()),
        },
    );
    if let Origin::Resource(id) = &o.origin {
        if let Some(inst) = cx.env.resources.get(id) {
            if let Some(t) = template_span(cx, inst) {
                d = d.related(
                    t,
                    format!(
                        "provisioner `{}` renders it from this template",
                        inst.provisioner
                    ),
                );
            }
        }
    }
    // The path without its `<env>/` prefix, so that findings in several environments merge.
    let file = o
        .path
        .strip_prefix(&format!("{}/", cx.env.name))
        .unwrap_or(&o.path);
    cx.finding(
        d.note(format!("rendered to {file}")),
        Scope::origin(&o.origin, cx.env),
    )
}

fn storage_encrypted(cx: &EnvCx<'_>, out: &mut Vec<Finding>) {
    let Some(rule) = cx.config.rule("storage-encrypted") else {
        return;
    };
    let terraform: Vec<&Object> = cx
        .rendered
        .objects
        .iter()
        .filter(|o| o.format == Format::Terraform)
        .collect();
    for o in &terraform {
        let Some((_, check)) = ENCRYPTED.iter().find(|(t, _)| *t == o.kind) else {
            continue;
        };
        let v = values(o);
        let problem = match check {
            Check::True(attr) => (v[*attr] != Value::Bool(true))
                .then(|| format!("set `{attr} = true` in {}", o.describe())),
            Check::BlockEnabled(block) => (v[*block][0]["enabled"] != Value::Bool(true))
                .then(|| format!("add `{block} {{ enabled = true }}` to {}", o.describe())),
            Check::Sqs => (v["kms_master_key_id"].is_null()
                && v["sqs_managed_sse_enabled"] != Value::Bool(true))
            .then(|| {
                "set `kms_master_key_id` (a KMS key) or `sqs_managed_sse_enabled = true`"
                    .to_string()
            }),
            Check::S3 => {
                let inline = v["server_side_encryption_configuration"].is_array();
                let separate = terraform.iter().any(|c| {
                    c.kind == "aws_s3_bucket_server_side_encryption_configuration"
                        && refers_to_bucket(c, o)
                });
                (!inline && !separate).then(|| format!(
                    "add a `resource \"aws_s3_bucket_server_side_encryption_configuration\"` with `bucket = aws_s3_bucket.{}.id`",
                    o.name
                ))
            }
        };
        let Some(help) = problem else { continue };
        let d = rule
            .diag(format!("{} is not encrypted at rest", o.describe()))
            .help(format!("in the provisioner's template, {help}"));
        out.push(blame(cx, o, d));
    }
}

fn no_public_buckets(cx: &EnvCx<'_>, out: &mut Vec<Finding>) {
    let Some(rule) = cx.config.rule("no-public-buckets") else {
        return;
    };
    let terraform: Vec<&Object> = cx
        .rendered
        .objects
        .iter()
        .filter(|o| o.format == Format::Terraform)
        .collect();
    for bucket in terraform.iter().filter(|o| o.kind == "aws_s3_bucket") {
        let companions = |kind: &str| -> Vec<&&Object> {
            terraform
                .iter()
                .filter(|c| c.kind == kind && refers_to_bucket(c, bucket))
                .collect()
        };
        let mut problems: Vec<(String, String)> = Vec::new();
        let blocks = companions("aws_s3_bucket_public_access_block");
        match blocks.first() {
            None => problems.push((
                format!("{} has no public access block", bucket.describe()),
                format!(
                    "add a `resource \"aws_s3_bucket_public_access_block\"` with `bucket = aws_s3_bucket.{}.id` and {} all `true`",
                    bucket.name,
                    BLOCK_SETTINGS.join(", ")
                ),
            )),
            Some(b) => {
                let off: Vec<&str> = BLOCK_SETTINGS
                    .into_iter()
                    .filter(|s| values(b)[*s] != Value::Bool(true))
                    .collect();
                if !off.is_empty() {
                    problems.push((
                        format!(
                            "the public access block of {} does not set {} to `true`",
                            bucket.describe(),
                            off.join(", ")
                        ),
                        format!("set {} in {}", off.iter().map(|s| format!("`{s} = true`")).collect::<Vec<_>>().join(", "), b.describe()),
                    ));
                }
            }
        }
        let mut acls: Vec<(String, String)> = Vec::new();
        if let Some(acl) = values(bucket)["acl"].as_str() {
            acls.push((acl.to_string(), bucket.describe()));
        }
        for a in companions("aws_s3_bucket_acl") {
            if let Some(acl) = values(a)["acl"].as_str() {
                acls.push((acl.to_string(), a.describe()));
            }
        }
        for (acl, at) in acls {
            if PUBLIC_ACLS.contains(&acl.as_str()) {
                problems.push((
                    format!("{} has the public ACL `{acl}`", bucket.describe()),
                    format!("remove `acl = \"{acl}\"` from {at}; serve public files through a CDN instead"),
                ));
            }
        }
        for (message, help) in problems {
            let d = rule
                .diag(message)
                .help(format!("in the provisioner's template, {help}"));
            out.push(blame(cx, bucket, d));
        }
    }
}
