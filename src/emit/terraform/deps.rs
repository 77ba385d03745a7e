//! Terraform addresses in rendered HCL: what an instance's Terraform declares and what it
//! refers to (for the graph's Terraform edges), and `depends_on` for resource-to-resource
//! edges that no reference implies (docs/graph.md, "Terraform `depends_on`").
//!
//! An address is `TYPE.NAME` for a `resource` block, `data.TYPE.NAME` for a `data` block and
//! `module.NAME` for a `module` block; a reference is any traversal starting with one of
//! these shapes (`aws_db_instance.orders-db.address`, `data.aws_route53_zone.web.zone_id`).

use std::collections::{BTreeMap, BTreeSet};

use hcl_edit::expr::{Array, Expression, Traversal, TraversalOperator};
use hcl_edit::structure::{Attribute, Block, Body};
use hcl_edit::visit::{self, Visit};
use hcl_edit::{Decorate, Decorated, Ident};

/// Root names that are never resource addresses.
const NOT_ADDRESSES: &[&str] = &["var", "local", "each", "count", "path", "terraform", "self"];

/// A top-level `resource`, `data` or `module` block of rendered Terraform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TfBlock {
    pub address: String,
    /// `resource` and `module` blocks are managed; `data` blocks are not.
    pub managed: bool,
    /// Addresses this block refers to (its `depends_on` included).
    pub refs: BTreeSet<String>,
}

/// What one instance's rendered Terraform declares and refers to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Analysis {
    /// Declared blocks, in file order.
    pub blocks: Vec<TfBlock>,
    /// Every address referred to anywhere in the file.
    pub refs: BTreeSet<String>,
}

#[derive(Default)]
struct Refs(BTreeSet<String>);

impl Visit for Refs {
    fn visit_traversal(&mut self, node: &Traversal) {
        if let Some(a) = address(node) {
            self.0.insert(a);
        }
        visit::visit_traversal(self, node);
    }
}

/// The address a traversal starts with, if it names a resource, data source or module.
fn address(t: &Traversal) -> Option<String> {
    let Expression::Variable(root) = &t.expr else {
        return None;
    };
    let root = root.value().as_str();
    let attr = |i: usize| match t.operators.get(i).map(|o| o.value()) {
        Some(TraversalOperator::GetAttr(name)) => Some(name.value().as_str().to_string()),
        _ => None,
    };
    match root {
        r if NOT_ADDRESSES.contains(&r) => None,
        "data" => Some(format!("data.{}.{}", attr(0)?, attr(1)?)),
        "module" => Some(format!("module.{}", attr(0)?)),
        r => Some(format!("{r}.{}", attr(0)?)),
    }
}

fn block_address(b: &Block) -> Option<(String, bool)> {
    let labels: Vec<&str> = b.labels.iter().map(|l| l.as_str()).collect();
    address_of(b.ident.value().as_str(), &labels)
}

/// A block's address from its type and labels, and whether it is managed.
fn address_of(ident: &str, labels: &[&str]) -> Option<(String, bool)> {
    match (ident, labels) {
        ("resource", [ty, name]) => Some((format!("{ty}.{name}"), true)),
        ("data", [ty, name]) => Some((format!("data.{ty}.{name}"), false)),
        ("module", [name]) => Some((format!("module.{name}"), true)),
        _ => None,
    }
}

/// Analyse a parse of rendered Terraform `text`, whichever parser made it.
pub fn analyse_parse(text: &str, parse: &crate::hcl::Parse) -> Analysis {
    use crate::hcl::{fast, Parse};
    let body = match parse {
        Parse::Edit(body) => return analyse_body(body),
        Parse::Fast(body) => body,
    };
    let address = |t: &fast::Traversal| {
        let root = &text[t.root.clone()];
        let attr = |i: usize| t.attrs[i].clone().map(|r| &text[r]);
        match root {
            r if NOT_ADDRESSES.contains(&r) => None,
            "data" => Some(format!("data.{}.{}", attr(0)?, attr(1)?)),
            "module" => Some(format!("module.{}", attr(0)?)),
            r => Some(format!("{r}.{}", attr(0)?)),
        }
    };
    let mut all = BTreeSet::new();
    let mut blocks = Vec::new();
    for (s, range) in body.items.iter().zip(&body.item_traversals) {
        let mut refs: BTreeSet<String> = body.traversals[range.clone()]
            .iter()
            .filter_map(address)
            .collect();
        let declared = match s {
            fast::Structure::Block { ident, labels, .. } => {
                let labels: Vec<std::borrow::Cow<'_, str>> =
                    labels.iter().map(|l| l.value(text)).collect();
                let labels: Vec<&str> = labels.iter().map(AsRef::as_ref).collect();
                address_of(&text[ident.clone()], &labels)
            }
            fast::Structure::Attribute { .. } => None,
        };
        all.extend(refs.iter().cloned());
        if let Some((address, managed)) = declared {
            refs.remove(&address);
            blocks.push(TfBlock {
                address,
                managed,
                refs,
            });
        }
    }
    let out = Analysis { blocks, refs: all };
    debug_assert_eq!(
        Some(&out),
        analyse(text).as_ref(),
        "the fast HCL reader finds other references than hcl-edit:\n{text}"
    );
    out
}

/// Analyse rendered Terraform; `None` when it does not parse (reported elsewhere).
#[cfg_attr(not(debug_assertions), allow(dead_code))]
pub fn analyse(text: &str) -> Option<Analysis> {
    Some(analyse_body(&hcl_edit::parser::parse_body(text).ok()?))
}

/// Analyse parsed Terraform (the body [`crate::hcl::format_parsed`] hands back).
pub fn analyse_body(body: &Body) -> Analysis {
    let mut all = Refs::default();
    let mut blocks = Vec::new();
    // One walk: a block's references are collected once, for itself and for the file.
    for s in body.iter() {
        let Some(b) = s.as_block() else {
            all.visit_structure(s);
            continue;
        };
        let Some((address, managed)) = block_address(b) else {
            all.visit_block(b);
            continue;
        };
        let mut r = Refs::default();
        r.visit_body(&b.body);
        all.0.extend(r.0.iter().cloned());
        r.0.remove(&address);
        blocks.push(TfBlock {
            address,
            managed,
            refs: r.0,
        });
    }
    Analysis {
        blocks,
        refs: all.0,
    }
}

/// The addresses one Terraform expression refers to (empty when it does not parse).
pub fn expr_refs(expr: &str) -> BTreeSet<String> {
    let mut r = Refs::default();
    if let Ok(e) = hcl_edit::parser::parse_expr(expr) {
        r.visit_expr(&e);
    }
    r.0
}

impl Analysis {
    /// For each block, the blocks of this file it waits for, directly or through others.
    fn closure(&self) -> Vec<BTreeSet<usize>> {
        let by_address: BTreeMap<&str, usize> = self
            .blocks
            .iter()
            .enumerate()
            .map(|(i, b)| (b.address.as_str(), i))
            .collect();
        let direct: Vec<Vec<usize>> = self
            .blocks
            .iter()
            .map(|b| {
                b.refs
                    .iter()
                    .filter_map(|r| by_address.get(r.as_str()).copied())
                    .collect()
            })
            .collect();
        (0..self.blocks.len())
            .map(|start| {
                let mut seen = BTreeSet::new();
                let mut stack = direct[start].clone();
                while let Some(i) = stack.pop() {
                    if seen.insert(i) {
                        stack.extend(direct[i].iter().copied());
                    }
                }
                seen.remove(&start);
                seen
            })
            .collect()
    }

    /// Managed blocks that wait for no other managed block of the file: whatever waits for
    /// them waits for the whole file's creation to start after it.
    pub fn first(&self) -> Vec<String> {
        let reach = self.closure();
        self.blocks
            .iter()
            .enumerate()
            .filter(|(i, b)| b.managed && !reach[*i].iter().any(|j| self.blocks[*j].managed))
            .map(|(_, b)| b.address.clone())
            .collect()
    }

    /// Managed blocks that no other managed block of the file waits for: waiting for these
    /// waits for every managed block of the file.
    pub fn last(&self) -> Vec<String> {
        let reach = self.closure();
        self.blocks
            .iter()
            .enumerate()
            .filter(|(i, b)| {
                b.managed
                    && !reach
                        .iter()
                        .enumerate()
                        .any(|(k, r)| k != *i && self.blocks[k].managed && r.contains(i))
            })
            .map(|(_, b)| b.address.clone())
            .collect()
    }
}

/// Add addresses to the `depends_on` of blocks (by their address), creating the attribute at
/// the end of the block or extending an existing list. Addresses a list already holds are not
/// repeated. The result still needs canonical formatting.
pub fn add_depends_on(
    text: &str,
    additions: &BTreeMap<String, Vec<String>>,
) -> Result<String, String> {
    let mut body: Body = hcl_edit::parser::parse_body(text).map_err(|e| e.to_string())?;
    for block in body.blocks_mut() {
        let Some((address, _)) = block_address(block) else {
            continue;
        };
        let Some(add) = additions.get(&address) else {
            continue;
        };
        let exprs: Vec<Expression> = add
            .iter()
            .map(|a| hcl_edit::parser::parse_expr(a).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        match block.body.get_attribute_mut("depends_on") {
            Some(mut attr) => {
                let Expression::Array(list) = attr.value_mut() else {
                    return Err(format!("`depends_on` of {address} is not a list"));
                };
                let have: BTreeSet<String> = list
                    .iter()
                    .map(|e| e.to_string().trim().to_string())
                    .collect();
                for (a, e) in add.iter().zip(exprs) {
                    if !have.contains(a) {
                        list.push(e);
                    }
                }
            }
            None => {
                let mut list = Array::new();
                for e in exprs {
                    list.push(e);
                }
                // A blank line sets the meta-argument apart, as Terraform's style guide does.
                let mut attr = Attribute::new(Decorated::new(Ident::new("depends_on")), list);
                attr.decor_mut().set_prefix("\n");
                block.body.push(attr);
            }
        }
    }
    Ok(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TF: &str = r#"data "aws_caller_identity" "db" {}

resource "aws_kms_key" "db" {
  description = "x ${data.aws_caller_identity.db.account_id}"
}

resource "random_password" "db" {
  length = 32
}

resource "aws_db_instance" "db" {
  kms_key_id = aws_kms_key.db.arn
  password   = random_password.db.result
  tags       = { for k, v in var.tags : k => "${v}-${local.x}" }
  depends_on = [aws_kms_key.db]
}

resource "aws_kms_alias" "db" {
  target_key_id = aws_kms_key.db.key_id
}

module "other" {
  source = "./m"
}

output "x" {
  value = module.other.y[0]
}
"#;

    #[test]
    fn declarations_and_references() {
        let a = analyse(TF).unwrap();
        let addresses: Vec<&str> = a.blocks.iter().map(|b| b.address.as_str()).collect();
        assert_eq!(
            addresses,
            [
                "data.aws_caller_identity.db",
                "aws_kms_key.db",
                "random_password.db",
                "aws_db_instance.db",
                "aws_kms_alias.db",
                "module.other"
            ]
        );
        assert_eq!(
            a.refs.iter().map(String::as_str).collect::<Vec<_>>(),
            [
                "aws_kms_key.db",
                "data.aws_caller_identity.db",
                "module.other",
                "random_password.db"
            ]
        );
        assert_eq!(
            a.first(),
            ["aws_kms_key.db", "random_password.db", "module.other"]
        );
        assert_eq!(
            a.last(),
            ["aws_db_instance.db", "aws_kms_alias.db", "module.other"]
        );
        assert_eq!(
            expr_refs("aws_lb.web[0].dns_name == data.x.y.z ? var.a : each.key"),
            BTreeSet::from(["aws_lb.web".to_string(), "data.x.y".to_string()])
        );
    }

    #[test]
    fn depends_on_is_added_or_extended() {
        let additions = BTreeMap::from([
            (
                "aws_db_instance.db".to_string(),
                vec!["aws_kms_key.db".to_string(), "aws_sqs_queue.q".to_string()],
            ),
            (
                "random_password.db".to_string(),
                vec!["aws_sqs_queue.q".to_string()],
            ),
        ]);
        let out = crate::hcl::format(&add_depends_on(TF, &additions).unwrap()).unwrap();
        let a = analyse(&out).unwrap();
        let refs = |addr: &str| {
            a.blocks
                .iter()
                .find(|b| b.address == addr)
                .unwrap()
                .refs
                .clone()
        };
        assert!(refs("random_password.db").contains("aws_sqs_queue.q"));
        assert!(refs("aws_db_instance.db").contains("aws_sqs_queue.q"));
        assert!(
            out.contains("depends_on = [aws_kms_key.db, aws_sqs_queue.q]"),
            "{out}"
        );
        assert!(
            out.contains("  length = 32\n\n  depends_on = [aws_sqs_queue.q]\n}"),
            "{out}"
        );
        assert_eq!(crate::hcl::format(&out).unwrap(), out);
    }
}
