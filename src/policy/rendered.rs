//! The rendered objects of one environment, parsed back from the files the emitters produced,
//! each with the spec item it came from: Kubernetes documents (`target kubernetes kind=K`)
//! and Terraform `resource` blocks (`target terraform type=T`).
//!
//! Parsing the emitted text (rather than reaching into each emitter) means policies judge
//! exactly what `build` would write, whatever emitter or template produced it.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::ir;
use crate::source::Span;

/// Which output format an object was rendered to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Format {
    Kubernetes,
    Terraform,
}

/// The spec item an object was rendered from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Origin {
    /// A workload's own objects (ServiceAccount, Deployment, Service, …).
    Workload(String),
    /// What a provisioner rendered for a resource instance (by id).
    Resource(String),
    /// Objects of the environment itself (the Namespace, `main.tf`).
    Environment,
}

/// One rendered Kubernetes object or Terraform resource block.
#[derive(Debug, Clone)]
pub struct Object {
    pub format: Format,
    /// The Kubernetes `kind`, or the Terraform resource type.
    pub kind: String,
    /// `metadata.name`, or the Terraform resource name.
    pub name: String,
    /// The object: a Kubernetes document as JSON; a Terraform block as
    /// `{address, type, name, values}` (see [`terraform_block`]).
    pub value: Value,
    pub origin: Origin,
    /// The spec span of the origin: the workload's name, the resource instance, the environment.
    pub span: Span,
    /// The output path, relative to OUT.
    pub path: String,
}

impl Object {
    /// `Deployment web` / `aws_s3_bucket.shop-images`, for labels.
    pub fn describe(&self) -> String {
        match self.format {
            Format::Kubernetes => format!("{} `{}`", self.kind, self.name),
            Format::Terraform => format!("`{}.{}`", self.kind, self.name),
        }
    }
}

/// Every rendered object of one environment, in output path order.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    pub objects: Vec<Object>,
}

impl Rendered {
    /// Objects of one format and kind (or type).
    pub fn of<'a>(&'a self, format: Format, kind: &'a str) -> impl Iterator<Item = &'a Object> {
        self.objects
            .iter()
            .filter(move |o| o.format == format && o.kind == kind)
    }
}

/// A Terraform `resource` block of an emitted file, as policies see it.
#[derive(Debug, Clone, PartialEq)]
pub struct TfResource {
    /// The resource type (first label).
    pub ty: String,
    /// The resource name (second label).
    pub name: String,
    /// The block as [`terraform_block`] shapes it.
    pub value: Value,
}

/// What the emitters know of the files they wrote, by path (relative to OUT), so that
/// [`collect`] need not parse those files back: exactly what parsing them would give.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The `resource` blocks of `.tf` files, from the emitter's own parse of their text.
    pub terraform: HashMap<String, Vec<TfResource>>,
    /// The documents of `.yaml` files, as they were written (our emitter reads back the same).
    pub kubernetes: HashMap<String, Vec<crate::yaml::Value>>,
}

/// The `resource` blocks (with two labels) of parsed Terraform whose type is in `wanted`
/// (what rules and policies read, see `policy::terraform_types`), in file order.
pub fn terraform_resources(
    body: &hcl_edit::structure::Body,
    wanted: &std::collections::BTreeSet<String>,
) -> Vec<TfResource> {
    body.iter()
        .filter_map(|s| s.as_block())
        .filter(|b| {
            b.ident.as_str() == "resource"
                && b.labels.len() == 2
                && wanted.contains(b.labels[0].as_str())
        })
        .map(|block| {
            let ty = block.labels[0].as_str();
            let name = block.labels[1].as_str();
            TfResource {
                value: terraform_block(ty, name, &block.body),
                ty: ty.to_string(),
                name: name.to_string(),
            }
        })
        .collect()
}

/// [`terraform_resources`] of a parse of `text`, whichever parser made it.
pub fn terraform_resources_of(
    text: &str,
    parse: &crate::hcl::Parse,
    wanted: &std::collections::BTreeSet<String>,
) -> Vec<TfResource> {
    use crate::hcl::{fast, Parse};
    let body = match parse {
        Parse::Edit(body) => return terraform_resources(body, wanted),
        Parse::Fast(body) => body,
    };
    let out: Vec<TfResource> = body
        .items
        .iter()
        .filter_map(|s| match s {
            fast::Structure::Block {
                ident,
                labels,
                body,
            } if &text[ident.clone()] == "resource" && labels.len() == 2 => {
                let ty = labels[0].value(text);
                if !wanted.contains(ty.as_ref()) {
                    return None;
                }
                let name = labels[1].value(text);
                let mut values = Map::new();
                fast_body_into(text, body, &mut values);
                Some(TfResource {
                    value: resource_value(&ty, &name, values),
                    ty: ty.into_owned(),
                    name: name.into_owned(),
                })
            }
            _ => None,
        })
        .collect();
    debug_assert_eq!(
        Some(&out),
        hcl_edit::parser::parse_body(text)
            .ok()
            .map(|b| terraform_resources(&b, wanted))
            .as_ref(),
        "the fast HCL reader reads resources differently from hcl-edit:\n{text}"
    );
    out
}

fn fast_body_into(text: &str, body: &[crate::hcl::fast::Structure], m: &mut Map<String, Value>) {
    use crate::hcl::fast::Structure;
    for s in body {
        match s {
            Structure::Attribute { key, value } => {
                m.insert(
                    text[key.clone()].to_string(),
                    fast_expr_to_json(text, value),
                );
            }
            Structure::Block { ident, body, .. } => {
                let mut inner = Map::new();
                fast_body_into(text, body, &mut inner);
                let entry = m
                    .entry(text[ident.clone()].to_string())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(list) = entry {
                    list.push(Value::Object(inner));
                }
            }
        }
    }
}

/// [`expr_to_json`] for the fast reader's expressions.
pub(crate) fn fast_expr_to_json(text: &str, e: &crate::hcl::fast::Expr) -> Value {
    use crate::hcl::fast::{Expr as E, Key};
    match e {
        E::Null => Value::Null,
        E::Bool(b) => Value::Bool(*b),
        E::Int(i) => Value::from(*i),
        E::Str(s) => Value::String(s.value(text).into_owned()),
        E::Template(r) => Value::String(text[r.clone()].to_string()),
        E::Array(items) => Value::Array(items.iter().map(|e| fast_expr_to_json(text, e)).collect()),
        E::Object(items) => Value::Object(
            items
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        Key::Ident(r) => text[r.clone()].to_string(),
                        Key::Str(s) => s.value(text).into_owned(),
                    };
                    (key, fast_expr_to_json(text, v))
                })
                .collect(),
        ),
        E::Other(r) => Value::String(text[r.clone()].trim().to_string()),
    }
}

/// Parse back the files rendered for `env` (paths relative to OUT).
///
/// `workload_span` gives the span to blame for a workload's objects (its name); files that do
/// not parse are skipped, because the emitters already reported them. Kubernetes documents are
/// parsed only when `kubernetes` is set (some policy targets them): parsing every YAML file
/// back is a fifth of a large build. Terraform blocks are kept only for `terraform_types` (what
/// rules and policies read). A file found in `parsed` is not parsed again.
pub fn collect(
    env: &ir::Environment,
    files: &[(String, Vec<u8>)],
    workload_span: &dyn Fn(&str) -> Option<Span>,
    kubernetes: bool,
    terraform_types: &std::collections::BTreeSet<String>,
    mut parsed: Parsed,
) -> Rendered {
    let mut objects = Vec::new();
    let mut sorted: Vec<&(String, Vec<u8>)> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let prefix = format!("{}/", env.name);
    for (path, bytes) in sorted {
        let Some(rest) = path.strip_prefix(&prefix) else {
            continue;
        };
        let Ok(text) = std::str::from_utf8(bytes) else {
            continue;
        };
        let stem = rest
            .rsplit('/')
            .next()
            .and_then(|f| f.rsplit_once('.'))
            .map_or("", |(s, _)| s);
        if let Some(k8s) = rest.strip_prefix("kubernetes/") {
            if !kubernetes {
                continue;
            }
            let parts: Vec<&str> = k8s.split('/').collect();
            let origin = match parts.as_slice() {
                [_, "resources", _] if env.resources.contains_key(stem) => {
                    Origin::Resource(stem.to_string())
                }
                [_, _] if env.workload(stem).is_some() => Origin::Workload(stem.to_string()),
                _ => Origin::Environment,
            };
            let Some(span) = origin_span(env, &origin, workload_span) else {
                continue;
            };
            let docs = match parsed.kubernetes.remove(path.as_str()) {
                Some(docs) => docs,
                None => match crate::yaml::from_yaml_str(text) {
                    Ok(docs) => docs,
                    Err(_) => continue,
                },
            };
            for doc in docs {
                let value = yaml_to_json(&doc);
                let Some(kind) = value.get("kind").and_then(Value::as_str) else {
                    continue;
                };
                let name = value
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                objects.push(Object {
                    format: Format::Kubernetes,
                    kind: kind.to_string(),
                    name,
                    value,
                    origin: origin.clone(),
                    span,
                    path: path.clone(),
                });
            }
        } else if rest.starts_with("terraform/") && rest.ends_with(".tf") {
            let origin = if env.resources.contains_key(stem) {
                Origin::Resource(stem.to_string())
            } else {
                Origin::Environment
            };
            let Some(span) = origin_span(env, &origin, workload_span) else {
                continue;
            };
            let resources = match parsed.terraform.remove(path.as_str()) {
                Some(r) => r,
                None => match hcl_edit::parser::parse_body(text) {
                    Ok(body) => terraform_resources(&body, terraform_types),
                    Err(_) => continue,
                },
            };
            // Both sources hold only blocks of `terraform_types` (see `terraform_resources`).
            for r in resources {
                objects.push(Object {
                    format: Format::Terraform,
                    kind: r.ty,
                    name: r.name,
                    value: r.value,
                    origin: origin.clone(),
                    span,
                    path: path.clone(),
                });
            }
        }
    }
    Rendered { objects }
}

fn origin_span(
    env: &ir::Environment,
    origin: &Origin,
    workload_span: &dyn Fn(&str) -> Option<Span>,
) -> Option<Span> {
    match origin {
        Origin::Workload(w) => workload_span(w),
        Origin::Resource(id) => env.resources.get(id).map(|r| r.span),
        Origin::Environment => Some(env.span),
    }
}

/// Our YAML model as JSON.
pub fn yaml_to_json(v: &crate::yaml::Value) -> Value {
    use crate::yaml::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(*b),
        Y::Int(i) => Value::from(*i),
        Y::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Y::Str(s) => Value::String(s.clone()),
        Y::Seq(items) => Value::Array(items.iter().map(yaml_to_json).collect()),
        Y::Map(m) => Value::Object(
            m.0.iter()
                .map(|(k, v)| (k.clone(), yaml_to_json(v)))
                .collect(),
        ),
    }
}

/// A Terraform resource block as `{address, type, name, values}`, the shape of a resource in
/// `terraform show -json`: attributes live under `values`, so an attribute called `name` or
/// `type` (`aws_sqs_queue`, `aws_iam_role` have one) cannot clash with the block's labels.
///
/// Literals become JSON values; any other expression (a reference, a function call, a template
/// with `${…}`) becomes its HCL source text, so
/// `object.values.bucket == 'aws_s3_bucket.logs.id'` works. Nested blocks become lists of objects under the block's name, as in
/// `terraform show -json` (`object.values.encrypt_at_rest[0].enabled`).
pub fn terraform_block(ty: &str, name: &str, body: &hcl_edit::structure::Body) -> Value {
    let mut values = Map::new();
    body_into(body, &mut values);
    resource_value(ty, name, values)
}

fn resource_value(ty: &str, name: &str, values: Map<String, Value>) -> Value {
    let mut m = Map::new();
    m.insert("address".into(), Value::String(format!("{ty}.{name}")));
    m.insert("type".into(), Value::String(ty.to_string()));
    m.insert("name".into(), Value::String(name.to_string()));
    m.insert("values".into(), Value::Object(values));
    Value::Object(m)
}

fn body_into(body: &hcl_edit::structure::Body, m: &mut Map<String, Value>) {
    for s in body.iter() {
        if let Some(a) = s.as_attribute() {
            m.insert(a.key.as_str().to_string(), expr_to_json(&a.value));
        } else if let Some(b) = s.as_block() {
            let mut inner = Map::new();
            body_into(&b.body, &mut inner);
            let entry = m
                .entry(b.ident.as_str().to_string())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(list) = entry {
                list.push(Value::Object(inner));
            }
        }
    }
}

pub(crate) fn expr_to_json(e: &hcl_edit::expr::Expression) -> Value {
    use hcl_edit::expr::{Expression as E, ObjectKey};
    match e {
        E::Null(_) => Value::Null,
        E::Bool(b) => Value::Bool(*b.value()),
        E::Number(n) => {
            let n = n.value();
            match n.as_i64() {
                Some(i) => Value::from(i),
                None => n
                    .as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number),
            }
        }
        E::String(s) => Value::String(s.value().clone()),
        E::Array(items) => Value::Array(items.iter().map(expr_to_json).collect()),
        E::Object(obj) => Value::Object(
            obj.iter()
                .map(|(k, v)| {
                    let key = match k {
                        ObjectKey::Ident(i) => i.as_str().to_string(),
                        ObjectKey::Expression(E::String(s)) => s.value().clone(),
                        ObjectKey::Expression(other) => other.to_string().trim().to_string(),
                    };
                    (key, expr_to_json(v.expr()))
                })
                .collect(),
        ),
        E::Parenthesis(p) => expr_to_json(p.inner()),
        // A template keeps its `${…}` text, without the quotes around it.
        E::StringTemplate(_) => {
            let text = e.to_string();
            let text = text.trim();
            let inner = text
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .unwrap_or(text);
            Value::String(inner.to_string())
        }
        other => Value::String(other.to_string().trim().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terraform_literals_blocks_and_references() {
        let body = hcl_edit::parser::parse_body(
            r#"
resource "aws_db_instance" "db" {
  storage_encrypted = true
  allocated_storage = 20
  engine            = "postgres"
  kms_key_id        = aws_kms_key.db.arn
  tags              = { team = "payments", "cost-center" = "cc" }
  name              = "${var.env}-db"
  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
  parameter {
    name  = "log_statement"
    value = "ddl"
  }
}
"#,
        )
        .unwrap();
        let block = body.iter().find_map(|s| s.as_block()).unwrap();
        let o = terraform_block("aws_db_instance", "db", &block.body);
        assert_eq!(o["address"], "aws_db_instance.db");
        assert_eq!(o["type"], "aws_db_instance");
        assert_eq!(o["name"], "db");
        let v = &o["values"];
        assert_eq!(v["storage_encrypted"], true);
        assert_eq!(v["allocated_storage"], 20);
        assert_eq!(v["engine"], "postgres");
        assert_eq!(v["kms_key_id"], "aws_kms_key.db.arn");
        assert_eq!(v["tags"]["cost-center"], "cc");
        assert_eq!(v["name"], "${var.env}-db");
        assert_eq!(v["parameter"][1]["value"], "ddl");
    }
}
