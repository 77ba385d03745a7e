//! Pass 2: KDL documents to the typed AST. Schema errors (unknown nodes and properties, wrong
//! types, missing fields, malformed values) are collected; lowering never stops at the first.

use std::collections::HashMap;

use kdl::{KdlDocument, KdlNode, KdlValue};

use crate::ast::*;
use crate::check::values;
use crate::diagnostics::{codes, did_you_mean, Diagnostic, Severity};
use crate::source::{FileId, Span};

/// Top-level node kinds.
pub const TOP_LEVEL: &[&str] = &[
    "team",
    "domain",
    "system",
    "environment",
    "workload",
    "api",
    "resource-type",
    "policy",
    "rule",
    "waiver",
];

const WORKLOAD_CHILDREN: &[&str] = &[
    "description",
    "owner",
    "system",
    "lifecycle",
    "tags",
    "replicas",
    "container",
    "service",
    "route",
    "autoscale",
    "schedule",
    "resource",
    "depends-on",
    "provides-api",
    "consumes-api",
    "environments",
    "when",
];

/// Kubernetes kinds trestle renders (for help on `target`).
const K8S_KINDS: &[&str] = &[
    "Deployment",
    "CronJob",
    "Service",
    "Ingress",
    "ConfigMap",
    "ServiceAccount",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "NetworkPolicy",
    "Namespace",
];

/// What a `when` block may override (SPEC section 2).
pub const WHEN_CHILDREN: &[&str] = &[
    "replicas",
    "container",
    "service",
    "route",
    "autoscale",
    "resource",
    "environments",
    "tags",
];

const CONTAINER_CHILDREN: &[&str] = &[
    "image", "command", "args", "env", "port", "cpu", "memory", "probe", "file", "volume",
];

/// Lower one parsed file.
pub fn lower_file(file: FileId, src: &str, doc: &KdlDocument) -> (File, Vec<Diagnostic>) {
    let mut lx = Lx {
        file,
        src,
        diags: Vec::new(),
    };
    let mut out = File::default();
    for node in doc.nodes() {
        if let Some(item) = lx.top_level(node) {
            out.items.push(item);
        }
    }
    (out, lx.diags)
}

/// One entry value with its span.
#[derive(Clone, Copy)]
struct Val<'n> {
    v: &'n KdlValue,
    span: Span,
}

/// A node's name, positional arguments and properties, with properties marked as consumed.
struct View<'n> {
    node: &'n KdlNode,
    name: &'n str,
    name_span: Span,
    span: Span,
    args: Vec<Val<'n>>,
    props: Vec<(Spanned<String>, Val<'n>, bool)>,
}

impl<'n> View<'n> {
    fn children(&self) -> &'n [KdlNode] {
        self.node.children().map(|d| d.nodes()).unwrap_or(&[])
    }
}

struct Lx<'a> {
    file: FileId,
    src: &'a str,
    diags: Vec<Diagnostic>,
}

fn text_of(v: &KdlValue) -> String {
    match v {
        KdlValue::String(s) => format!("{s:?}"),
        KdlValue::Integer(i) => i.to_string(),
        KdlValue::Float(f) => f.to_string(),
        KdlValue::Bool(b) => format!("#{b}"),
        KdlValue::Null => "#null".into(),
    }
}

fn kind_of(v: &KdlValue) -> &'static str {
    match v {
        KdlValue::String(_) => "a string",
        KdlValue::Integer(_) => "an integer",
        KdlValue::Float(_) => "a float",
        KdlValue::Bool(_) => "a boolean",
        KdlValue::Null => "#null",
    }
}

impl<'a> Lx<'a> {
    fn span(&self, s: miette::SourceSpan) -> Span {
        Span::from_kdl(self.file, s)
    }

    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn view<'n>(&self, node: &'n KdlNode) -> View<'n> {
        let mut args = Vec::new();
        let mut props = Vec::new();
        for e in node.entries() {
            let espan = self.span(e.span());
            match e.name() {
                None => args.push(Val {
                    v: e.value(),
                    span: espan,
                }),
                Some(key) => {
                    let kspan = self.span(key.span());
                    // The value starts after `=` and any whitespace.
                    let after_key = (kspan.end as usize).min(espan.end as usize);
                    let rest = self.src.get(after_key..espan.end as usize).unwrap_or("");
                    let skip = rest
                        .find('=')
                        .map(|i| i + 1 + rest[i + 1..].len() - rest[i + 1..].trim_start().len())
                        .unwrap_or(0);
                    let vspan = Span::new(self.file, after_key + skip, espan.end as usize);
                    props.push((
                        Spanned::new(key.value().to_string(), kspan),
                        Val {
                            v: e.value(),
                            span: vspan,
                        },
                        false,
                    ));
                }
            }
        }
        View {
            node,
            name: node.name().value(),
            name_span: self.span(node.name().span()),
            span: self.span(node.span()),
            args,
            props,
        }
    }

    /// Take property `key`; a repeated key is a duplicate.
    fn prop<'n>(&mut self, v: &mut View<'n>, key: &str) -> Option<Val<'n>> {
        let mut found: Option<(Val<'n>, Span)> = None;
        let mut dup = None;
        for (k, val, used) in v.props.iter_mut() {
            if k.value == key && !*used {
                *used = true;
                match found {
                    None => found = Some((*val, k.span)),
                    Some((_, first)) => dup = Some((first, k.span)),
                }
            }
        }
        if let Some((first, second)) = dup {
            self.push(
                Diagnostic::error(
                    codes::DUPLICATE_FIELD,
                    format!("property `{key}` is given twice"),
                )
                .label(second, "given again here")
                .related(first, "first given here")
                .help("remove one of them"),
            );
        }
        found.map(|(v, _)| v)
    }

    /// Report properties nobody took.
    fn finish(&mut self, v: &View<'_>, allowed: &[&str]) {
        for (k, _, used) in &v.props {
            if !used {
                let help = did_you_mean(&k.value, allowed.iter().copied()).unwrap_or_else(|| {
                    if allowed.is_empty() {
                        format!("`{}` takes no properties", v.name)
                    } else {
                        format!("`{}` accepts {}", v.name, list(allowed))
                    }
                });
                self.push(
                    Diagnostic::error(
                        codes::UNKNOWN_PROPERTY,
                        format!("unknown property `{}` on `{}`", k.value, v.name),
                    )
                    .label(k.span, "unknown property")
                    .help(help),
                );
            }
        }
    }

    /// Take every remaining property as a free-form `key=value` list.
    fn rest_props(&mut self, v: &mut View<'_>) -> Vec<Prop> {
        let mut out = Vec::new();
        for (k, val, used) in v.props.iter_mut() {
            if !*used {
                *used = true;
                out.push(Prop {
                    key: k.clone(),
                    value: Spanned::new(scalar(val.v), val.span),
                });
            }
        }
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for p in &out {
            if let Some(first) = seen.insert(&p.key.value, p.key.span) {
                self.diags.push(
                    Diagnostic::error(
                        codes::DUPLICATE_FIELD,
                        format!("`{}` is given twice", p.key.value),
                    )
                    .label(p.key.span, "given again here")
                    .related(first, "first given here"),
                );
            }
        }
        out
    }

    fn args_count(&mut self, v: &View<'_>, min: usize, max: usize, usage: &str) -> bool {
        let n = v.args.len();
        if n < min {
            self.push(
                Diagnostic::error(
                    codes::WRONG_ARGUMENTS,
                    format!(
                        "`{}` needs {} argument{}",
                        v.name,
                        plural_n(min),
                        if min == 1 { "" } else { "s" }
                    ),
                )
                .label(v.span, "missing argument")
                .help(format!("write `{usage}`")),
            );
            return false;
        }
        if n > max {
            let extra = v.args[max].span;
            let last = v.args[n - 1].span;
            self.push(
                Diagnostic::error(
                    codes::WRONG_ARGUMENTS,
                    format!(
                        "`{}` takes {} argument{}, found {n}",
                        v.name,
                        if max == 0 {
                            "no".to_string()
                        } else {
                            format!("at most {max}")
                        },
                        if max == 1 { "" } else { "s" }
                    ),
                )
                .label(
                    Span::new(self.file, extra.start as usize, last.end as usize),
                    "unexpected",
                )
                .help(format!("write `{usage}`")),
            );
        }
        true
    }

    fn no_children(&mut self, v: &View<'_>) {
        if let Some(doc) = v.node.children() {
            let span = self.span(doc.span());
            self.push(
                Diagnostic::error(
                    codes::UNKNOWN_NODE,
                    format!("`{}` takes no children", v.name),
                )
                .label(span, "unexpected block")
                .help("remove the `{ … }` block"),
            );
        }
    }

    fn type_error(&mut self, val: Val<'_>, expected: &str, help: Option<String>) {
        self.push(
            Diagnostic::error(
                codes::WRONG_TYPE,
                format!("expected {expected}, found {}", kind_of(val.v)),
            )
            .label(val.span, format!("expected {expected}"))
            .maybe_help(help),
        );
    }

    fn string(&mut self, val: Val<'_>) -> Option<Spanned<String>> {
        match val.v {
            KdlValue::String(s) => Some(Spanned::new(s.clone(), val.span)),
            other => {
                let help = match other {
                    KdlValue::Null => None,
                    _ => Some(format!(
                        "quote it: \"{}\"",
                        text_of(other).trim_start_matches('#')
                    )),
                };
                self.type_error(val, "a string", help);
                None
            }
        }
    }

    fn int(&mut self, val: Val<'_>) -> Option<Spanned<i64>> {
        match val.v {
            KdlValue::Integer(i) => match i64::try_from(*i) {
                Ok(n) => Some(Spanned::new(n, val.span)),
                Err(_) => {
                    self.type_error(val, "an integer that fits in 64 bits", None);
                    None
                }
            },
            KdlValue::String(s) if s.trim().parse::<i64>().is_ok() => {
                self.type_error(
                    val,
                    "an integer",
                    Some(format!("remove the quotes: {}", s.trim())),
                );
                None
            }
            KdlValue::String(s) => {
                // "10s", "30 seconds": a unit where a plain number of seconds is expected.
                let digits: String = s.trim().chars().take_while(char::is_ascii_digit).collect();
                let help = (!digits.is_empty()).then(|| {
                    format!(
                        "remove the quotes and the unit: {digits} (durations are whole seconds)"
                    )
                });
                self.type_error(val, "an integer", help);
                None
            }
            KdlValue::Float(f) => {
                let help = Some(format!("write a whole number, e.g. {}", f.round()));
                self.type_error(val, "an integer", help);
                None
            }
            _ => {
                self.type_error(val, "an integer", None);
                None
            }
        }
    }

    fn non_negative(&mut self, val: Val<'_>) -> Option<Spanned<i64>> {
        let n = self.int(val)?;
        if n.value < 0 {
            self.push(
                Diagnostic::error(codes::INVALID_VALUE, "expected a non-negative integer")
                    .label(n.span, "negative")
                    .help("use 0 or more"),
            );
            return None;
        }
        Some(n)
    }

    fn bool(&mut self, val: Val<'_>) -> Option<Spanned<bool>> {
        match val.v {
            KdlValue::Bool(b) => Some(Spanned::new(*b, val.span)),
            KdlValue::String(s) if s == "true" || s == "false" => {
                self.type_error(
                    val,
                    "a boolean",
                    Some(format!(
                        "write #{s} without quotes: KDL writes booleans as #true and #false"
                    )),
                );
                None
            }
            _ => {
                self.type_error(val, "a boolean", Some("write #true or #false".into()));
                None
            }
        }
    }

    /// A string that must be an RFC 1035 label.
    fn name(&mut self, val: Val<'_>, what: &str) -> Option<Name> {
        let s = self.string(val)?;
        if let Err(help) = values::rfc1035(&s.value) {
            self.push(
                Diagnostic::error(
                    codes::INVALID_NAME,
                    format!("invalid {what} name `{}`", s.value),
                )
                .label(s.span, "not an RFC 1035 label")
                .help(help),
            );
        }
        Some(s)
    }

    fn enumerated<T>(
        &mut self,
        val: Val<'_>,
        what: &str,
        all: &[&str],
        parse: fn(&str) -> Option<T>,
    ) -> Option<Spanned<T>> {
        let s = self.string(val)?;
        match parse(&s.value) {
            Some(t) => Some(Spanned::new(t, s.span)),
            None => {
                let help = did_you_mean(&s.value, all.iter().copied())
                    .unwrap_or_else(|| format!("{what} is one of {}", list(all)));
                self.push(
                    Diagnostic::error(
                        codes::INVALID_ENUM,
                        format!("`{}` is not a valid {what}", s.value),
                    )
                    .label(s.span, format!("unknown {what}"))
                    .help(help),
                );
                None
            }
        }
    }

    /// The single argument of a node like `owner payments`.
    fn single<'n>(&mut self, node: &'n KdlNode, usage: &str) -> Option<(View<'n>, Val<'n>)> {
        let v = self.view(node);
        self.finish(&v, &[]);
        self.no_children(&v);
        if !self.args_count(&v, 1, 1, usage) {
            return None;
        }
        let val = v.args[0];
        Some((v, val))
    }

    fn single_string(&mut self, node: &KdlNode, usage: &str) -> Option<Spanned<String>> {
        let (_, val) = self.single(node, usage)?;
        self.string(val)
    }

    fn single_name(&mut self, node: &KdlNode, what: &str, usage: &str) -> Option<Name> {
        let (_, val) = self.single(node, usage)?;
        self.name(val, what)
    }

    fn string_args(&mut self, v: &View<'_>) -> Vec<Spanned<String>> {
        v.args.iter().filter_map(|a| self.string(*a)).collect()
    }

    fn unknown_child(&mut self, node: &KdlNode, parent: &str, allowed: &[&str]) {
        let name = node.name().value();
        let span = self.span(node.name().span());
        let help = did_you_mean(name, allowed.iter().copied())
            .unwrap_or_else(|| format!("`{parent}` accepts {}", list(allowed)));
        self.push(
            Diagnostic::error(
                codes::UNKNOWN_NODE,
                format!("unknown node `{name}` in `{parent}`"),
            )
            .label(span, "unknown node")
            .help(help),
        );
    }

    /// Report a second occurrence of a node that may appear once.
    fn once(&mut self, seen: &mut HashMap<String, Span>, node: &KdlNode) -> bool {
        let span = self.span(node.name().span());
        let name = node.name().value().to_string();
        if let Some(first) = seen.get(&name) {
            self.push(
                Diagnostic::error(codes::DUPLICATE_FIELD, format!("`{name}` is given twice"))
                    .label(span, "given again here")
                    .related(*first, "first given here")
                    .help("keep one of them"),
            );
            return false;
        }
        seen.insert(name, span);
        true
    }

    fn require<T>(
        &mut self,
        value: &Option<T>,
        what: &str,
        parent: &str,
        span: Span,
        example: &str,
    ) {
        if value.is_none() {
            self.push(
                Diagnostic::error(codes::MISSING_FIELD, format!("{parent} has no `{what}`"))
                    .label(span, format!("`{what}` is required here"))
                    .help(format!("add `{example}`")),
            );
        }
    }

    /// Report a missing child node, unless it was given (its bad value is already reported) or
    /// an unknown child looks like a misspelling of it (reported with "did you mean").
    #[allow(clippy::too_many_arguments)]
    fn require_child<T>(
        &mut self,
        v: &View<'_>,
        seen: &HashMap<String, Span>,
        value: &Option<T>,
        what: &str,
        parent: &str,
        span: Span,
        example: &str,
    ) {
        if seen.contains_key(what) || misspelt_child(v, what) {
            return;
        }
        self.require(value, what, parent, span, example);
    }

    /// Report a missing property, unless it was given (its bad value is already reported) or
    /// an unknown property looks like a misspelling of it.
    fn require_prop<T>(
        &mut self,
        v: &View<'_>,
        value: &Option<T>,
        what: &str,
        parent: &str,
        example: &str,
    ) {
        if given_prop(v, what) {
            return;
        }
        self.require(value, what, parent, v.span, example);
    }

    fn item_name(&mut self, v: &View<'_>, what: &str, usage: &str) -> Option<Name> {
        if !self.args_count(v, 1, 1, usage) {
            return None;
        }
        self.name(v.args[0], what)
    }

    fn item_string(&mut self, v: &View<'_>, usage: &str) -> Option<Spanned<String>> {
        if !self.args_count(v, 1, 1, usage) {
            return None;
        }
        self.string(v.args[0])
    }

    fn top_level(&mut self, node: &KdlNode) -> Option<Item> {
        match node.name().value() {
            "team" => self.team(node).map(Item::Team),
            "domain" => self.domain(node).map(Item::Domain),
            "system" => self.system(node).map(Item::System),
            "environment" => self.environment(node).map(Item::Environment),
            "workload" => self.workload(node).map(|w| Item::Workload(Box::new(w))),
            "api" => self.api(node).map(Item::Api),
            "resource-type" => self.resource_type(node).map(Item::ResourceType),
            "policy" => self.policy(node).map(Item::Policy),
            "rule" => self.rule(node).map(Item::Rule),
            "waiver" => self.waiver(node).map(Item::Waiver),
            other => {
                let span = self.span(node.name().span());
                let help = did_you_mean(other, TOP_LEVEL.iter().copied())
                    .unwrap_or_else(|| format!("top-level nodes are {}", list(TOP_LEVEL)));
                self.push(
                    Diagnostic::error(
                        codes::UNKNOWN_NODE,
                        format!("unknown top-level node `{other}`"),
                    )
                    .label(span, "unknown node")
                    .help(help),
                );
                None
            }
        }
    }

    fn team(&mut self, node: &KdlNode) -> Option<Team> {
        let v = self.view(node);
        self.finish(&v, &[]);
        let name = self.item_name(&v, "team", "team NAME { … }")?;
        let mut t = Team {
            name,
            span: v.span,
            title: None,
            email: None,
            parent: None,
            members: Vec::new(),
        };
        let mut seen = HashMap::new();
        for c in v.children() {
            match c.name().value() {
                "title" if self.once(&mut seen, c) => {
                    t.title = self.single_string(c, "title \"Payments\"")
                }
                "email" if self.once(&mut seen, c) => t.email = self.email(c),
                "parent" if self.once(&mut seen, c) => {
                    t.parent = self.single_name(c, "team", "parent engineering")
                }
                "member" => {
                    let mut mv = self.view(c);
                    self.no_children(&mv);
                    let Some(name) =
                        self.item_name(&mv, "member", "member NAME email=\"…\" title=\"…\"")
                    else {
                        continue;
                    };
                    let email = self.prop(&mut mv, "email").and_then(|x| self.string(x));
                    if let Some(e) = &email {
                        self.check_email(e);
                    }
                    let title = self.prop(&mut mv, "title").and_then(|x| self.string(x));
                    self.finish(&mv, &["email", "title"]);
                    if let Some(first) = t.members.iter().find(|m| m.name.value == name.value) {
                        let first = first.name.span;
                        self.push(
                            Diagnostic::error(
                                codes::DUPLICATE_FIELD,
                                format!("member `{}` is listed twice", name.value),
                            )
                            .label(name.span, "listed again here")
                            .related(first, "first listed here")
                            .help("remove one of them"),
                        );
                        continue;
                    }
                    t.members.push(Member {
                        name,
                        span: mv.span,
                        email,
                        title,
                    });
                }
                "title" | "email" | "parent" => {}
                _ => self.unknown_child(c, "team", &["title", "email", "parent", "member"]),
            }
        }
        Some(t)
    }

    fn email(&mut self, node: &KdlNode) -> Option<Spanned<String>> {
        let e = self.single_string(node, "email \"team@example.com\"")?;
        self.check_email(&e);
        Some(e)
    }

    fn check_email(&mut self, e: &Spanned<String>) {
        let ok = e.value.split_once('@').is_some_and(|(a, b)| {
            !a.is_empty()
                && b.contains('.')
                && !b.starts_with('.')
                && !e.value.contains(char::is_whitespace)
        });
        if !ok {
            self.push(
                Diagnostic::error(
                    codes::INVALID_VALUE,
                    format!("`{}` is not an email address", e.value),
                )
                .label(e.span, "not an email address")
                .help("write an address such as \"payments@acme.example\""),
            );
        }
    }

    fn domain(&mut self, node: &KdlNode) -> Option<Domain> {
        let v = self.view(node);
        self.finish(&v, &[]);
        let name = self.item_name(&v, "domain", "domain NAME { owner TEAM }")?;
        let mut d = Domain {
            name,
            span: v.span,
            owner: None,
            description: None,
        };
        let mut seen = HashMap::new();
        for c in v.children() {
            match c.name().value() {
                "owner" if self.once(&mut seen, c) => {
                    d.owner = self.single_name(c, "team", "owner TEAM")
                }
                "description" if self.once(&mut seen, c) => {
                    d.description = self.single_string(c, "description \"…\"")
                }
                "owner" | "description" => {}
                _ => self.unknown_child(c, "domain", &["owner", "description"]),
            }
        }
        self.require_child(
            &v,
            &seen,
            &d.owner,
            "owner",
            &format!("domain `{}`", d.name.value),
            d.name.span,
            "owner TEAM",
        );
        Some(d)
    }

    fn system(&mut self, node: &KdlNode) -> Option<System> {
        let v = self.view(node);
        self.finish(&v, &[]);
        let name = self.item_name(&v, "system", "system NAME { owner TEAM }")?;
        let mut s = System {
            name,
            span: v.span,
            owner: None,
            domain: None,
            description: None,
        };
        let mut seen = HashMap::new();
        for c in v.children() {
            match c.name().value() {
                "owner" if self.once(&mut seen, c) => {
                    s.owner = self.single_name(c, "team", "owner TEAM")
                }
                "domain" if self.once(&mut seen, c) => {
                    s.domain = self.single_name(c, "domain", "domain NAME")
                }
                "description" if self.once(&mut seen, c) => {
                    s.description = self.single_string(c, "description \"…\"")
                }
                "owner" | "domain" | "description" => {}
                _ => self.unknown_child(c, "system", &["owner", "domain", "description"]),
            }
        }
        self.require_child(
            &v,
            &seen,
            &s.owner,
            "owner",
            &format!("system `{}`", s.name.value),
            s.name.span,
            "owner TEAM",
        );
        Some(s)
    }

    fn environment(&mut self, node: &KdlNode) -> Option<Environment> {
        let v = self.view(node);
        self.finish(&v, &[]);
        let name = self.item_name(&v, "environment", "environment NAME { type … region … }")?;
        if name.value == "catalog" {
            self.push(
                Diagnostic::error(codes::RESERVED_NAME, "`catalog` cannot name an environment")
                    .label(name.span, "reserved")
                    .help("`OUT/catalog/` holds the Backstage entities; choose another name"),
            );
        }
        let mut e = Environment {
            name,
            span: v.span,
            env_type: None,
            region: None,
            namespace: None,
            ingress_class: None,
            ingress_namespace: None,
            labels: Vec::new(),
            terraform: None,
        };
        let mut seen = HashMap::new();
        const KIDS: &[&str] = &[
            "type",
            "region",
            "namespace",
            "ingress-class",
            "labels",
            "terraform",
        ];
        for c in v.children() {
            match c.name().value() {
                n if KIDS.contains(&n) && !self.once(&mut seen, c) => {}
                "type" => {
                    if let Some((_, val)) = self.single(c, "type production") {
                        e.env_type =
                            self.enumerated(val, "environment type", &EnvType::ALL, EnvType::parse);
                    }
                }
                "region" => e.region = self.single_string(c, "region eu-west-1"),
                "namespace" => {
                    e.namespace = self.single_string(c, "namespace \"shop-prod\"");
                    if let Some(ns) = &e.namespace {
                        if let Err(help) = values::rfc1035(&ns.value) {
                            self.push(
                                Diagnostic::error(
                                    codes::INVALID_NAME,
                                    format!("invalid namespace `{}`", ns.value),
                                )
                                .label(ns.span, "not an RFC 1035 label")
                                .help(help),
                            );
                        }
                    }
                }
                "ingress-class" => {
                    let mut iv = self.view(c);
                    self.no_children(&iv);
                    if self.args_count(&iv, 1, 1, "ingress-class nginx namespace=ingress-nginx") {
                        e.ingress_class = self.string(iv.args[0]);
                    }
                    e.ingress_namespace = self
                        .prop(&mut iv, "namespace")
                        .and_then(|x| self.name(x, "namespace"));
                    self.finish(&iv, &["namespace"]);
                }
                "labels" => {
                    let mut lv = self.view(c);
                    self.no_children(&lv);
                    self.args_count(&lv, 0, 0, "labels key=value …");
                    e.labels = self.rest_props(&mut lv);
                    for l in &e.labels {
                        // They go onto every Kubernetes object of the environment, where the
                        // API server rejects what is not a valid label.
                        if let Err(help) = values::label_key(&l.key.value) {
                            self.push(
                                Diagnostic::error(
                                    codes::INVALID_VALUE,
                                    format!("`{}` is not a Kubernetes label key", l.key.value),
                                )
                                .label(l.key.span, "invalid label key")
                                .help(help),
                            );
                        }
                        match &l.value.value {
                            Scalar::Str(v) => {
                                if let Err(help) = values::label_value(v) {
                                    self.push(
                                        Diagnostic::error(
                                            codes::INVALID_VALUE,
                                            format!("`{v}` is not a Kubernetes label value"),
                                        )
                                        .label(l.value.span, "invalid label value")
                                        .help(help),
                                    );
                                }
                            }
                            _ => self.push(
                                Diagnostic::error(codes::WRONG_TYPE, "label values are strings")
                                    .label(l.value.span, "expected a string")
                                    .help(format!(
                                        "quote it: {}=\"{}\"",
                                        l.key.value,
                                        l.value.value.to_text()
                                    )),
                            ),
                        }
                    }
                }
                "terraform" => e.terraform = Some(self.terraform(c)),
                _ => self.unknown_child(c, "environment", KIDS),
            }
        }
        let what = format!("environment `{}`", e.name.value);
        self.require_child(
            &v,
            &seen,
            &e.env_type,
            "type",
            &what,
            e.name.span,
            "type development",
        );
        self.require_child(
            &v,
            &seen,
            &e.region,
            "region",
            &what,
            e.name.span,
            "region eu-west-1",
        );
        Some(e)
    }

    fn terraform(&mut self, node: &KdlNode) -> TerraformBlock {
        let v = self.view(node);
        self.finish(&v, &[]);
        self.args_count(&v, 0, 0, "terraform { … }");
        let mut t = TerraformBlock {
            span: Some(v.span),
            ..TerraformBlock::default()
        };
        let mut seen = HashMap::new();
        for c in v.children() {
            match c.name().value() {
                "required-version" if self.once(&mut seen, c) => {
                    t.required_version = self.single_string(c, "required-version \">= 1.6\"")
                }
                "provider" => {
                    if let Some(p) = self.provider(c) {
                        t.providers.push(p);
                    }
                }
                "backend" if self.once(&mut seen, c) => {
                    let mut bv = self.view(c);
                    self.no_children(&bv);
                    if self.args_count(&bv, 1, 1, "backend s3 bucket=… key=…") {
                        if let Some(kind) = self.string(bv.args[0]) {
                            let attrs = self.rest_props(&mut bv);
                            t.backend = Some(Backend {
                                kind,
                                span: bv.span,
                                attrs,
                            });
                        }
                    }
                }
                "required-version" | "backend" => {}
                _ => {
                    self.unknown_child(c, "terraform", &["required-version", "provider", "backend"])
                }
            }
        }
        t
    }

    fn provider(&mut self, node: &KdlNode) -> Option<Provider> {
        let mut v = self.view(node);
        self.no_children(&v);
        if !self.args_count(
            &v,
            1,
            1,
            "provider aws source=\"hashicorp/aws\" version=\"~> 5.0\"",
        ) {
            return None;
        }
        let name = self.string(v.args[0])?;
        if !name
            .value
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_')
            || name.value.is_empty()
        {
            self.push(
                Diagnostic::error(
                    codes::INVALID_NAME,
                    format!("invalid provider name `{}`", name.value),
                )
                .label(name.span, "not a Terraform provider name")
                .help("provider names are lower-case, like `aws` or `kubernetes`"),
            );
        }
        let source = self.prop(&mut v, "source").and_then(|x| self.string(x));
        let version = self.prop(&mut v, "version").and_then(|x| self.string(x));
        let attrs = self.rest_props(&mut v);
        Some(Provider {
            name,
            span: v.span,
            source,
            version,
            attrs,
        })
    }

    fn workload(&mut self, node: &KdlNode) -> Option<Workload> {
        let v = self.view(node);
        self.finish(&v, &[]);
        let name = self.item_name(&v, "workload", "workload NAME { … }")?;
        let mut w = Workload {
            name,
            span: v.span,
            description: None,
            owner: None,
            system: None,
            lifecycle: None,
            schedule: None,
            depends_on: Vec::new(),
            provides_api: Vec::new(),
            consumes_api: Vec::new(),
            body: WorkloadBody::default(),
            whens: Vec::new(),
        };
        let mut seen = HashMap::new();
        let mut rest = Vec::new();
        for c in v.children() {
            match c.name().value() {
                n @ ("description" | "owner" | "system" | "lifecycle" | "schedule")
                    if !self.once(&mut seen, c) =>
                {
                    let _ = n;
                }
                "description" => w.description = self.single_string(c, "description \"…\""),
                "owner" => w.owner = self.single_name(c, "team", "owner TEAM"),
                "system" => w.system = self.single_name(c, "system", "system NAME"),
                "lifecycle" => {
                    if let Some((_, val)) = self.single(c, "lifecycle production") {
                        w.lifecycle =
                            self.enumerated(val, "lifecycle", &Lifecycle::ALL, Lifecycle::parse);
                    }
                }
                "schedule" => {
                    w.schedule = self.single_string(c, "schedule \"0 3 * * *\"");
                    if let Some(s) = &w.schedule {
                        if let Err((field, help)) = values::cron_at(&s.value) {
                            let (span, label) = match field {
                                Some(r) => (inner_span(self.src, s, r), "this field"),
                                None => (s.span, "not a valid schedule"),
                            };
                            self.push(
                                Diagnostic::error(
                                    codes::INVALID_CRON,
                                    format!("invalid cron schedule \"{}\"", s.value),
                                )
                                .label(span, label)
                                .help(help),
                            );
                        }
                    }
                }
                n @ ("depends-on" | "provides-api" | "consumes-api") => {
                    let v2 = self.view(c);
                    self.finish(&v2, &[]);
                    self.no_children(&v2);
                    let what = if n == "depends-on" { "workload" } else { "API" };
                    self.args_count(&v2, 1, usize::MAX, &format!("{n} NAME …"));
                    let names: Vec<Name> =
                        v2.args.iter().filter_map(|a| self.name(*a, what)).collect();
                    match n {
                        "depends-on" => w.depends_on.extend(names),
                        "provides-api" => w.provides_api.extend(names),
                        _ => w.consumes_api.extend(names),
                    }
                }
                "when" => {
                    if let Some(when) = self.when(c) {
                        w.whens.push(when);
                    }
                }
                _ => rest.push(c),
            }
        }
        w.body = self.body(&rest, false, "workload");
        self.pod_ports(&w.body.containers);
        let what = format!("workload `{}`", w.name.value);
        self.require_child(
            &v,
            &seen,
            &w.owner,
            "owner",
            &what,
            w.name.span,
            "owner TEAM",
        );
        self.require_child(
            &v,
            &seen,
            &w.system,
            "system",
            &what,
            w.name.span,
            "system NAME",
        );
        if w.body.containers.is_empty() {
            self.push(
                Diagnostic::error(codes::MISSING_FIELD, format!("{what} has no `container`"))
                    .label(w.name.span, "a workload needs at least one container")
                    .help("add `container main { image \"registry/app:1.0.0\" }`"),
            );
        }
        if let Some(s) = &w.schedule {
            let mut present = Vec::new();
            for b in std::iter::once(&w.body).chain(w.whens.iter().map(|x| &x.body)) {
                present.push((set_span(&b.service), "service"));
                present.push((
                    b.routes
                        .as_ref()
                        .filter(|r| !r.value.is_empty())
                        .map(|x| x.span),
                    "route",
                ));
                present.push((set_span(&b.autoscale), "autoscale"));
            }
            for (present, what) in present {
                if let Some(span) = present {
                    self.push(
                        Diagnostic::error(
                            codes::CONFLICTING_FIELDS,
                            format!("a scheduled workload cannot have `{what}`"),
                        )
                        .label(span, format!("`{what}` here"))
                        .related(s.span, "the workload is scheduled here")
                        .help(format!(
                            "a CronJob serves no traffic; remove `{what}` or the schedule"
                        )),
                    );
                }
            }
        }
        Some(w)
    }

    fn when(&mut self, node: &KdlNode) -> Option<When> {
        let mut v = self.view(node);
        let env = self.prop(&mut v, "env");
        let env_type = self.prop(&mut v, "env-type");
        if let Some(a) = v.args.first().copied() {
            let (label, help) = match a.v {
                _ if env.is_some() || env_type.is_some() => (
                    "unexpected argument",
                    "remove it; the property selects the environments".to_string(),
                ),
                KdlValue::String(s) if EnvType::parse(s).is_some() => (
                    "an environment type, written as an argument",
                    format!("write `when env-type={s} {{ … }}`"),
                ),
                KdlValue::String(s) => (
                    "an environment name, written as an argument",
                    format!("write `when env={s} {{ … }}`"),
                ),
                _ => (
                    "argument",
                    "write `when env=prod { … }` or `when env-type=production { … }`".to_string(),
                ),
            };
            self.push(
                Diagnostic::error(
                    codes::INVALID_WHEN,
                    "`when` selects environments with `env=` or `env-type=`, not an argument",
                )
                .label(a.span, label)
                .help(help),
            );
            if env.is_none() && env_type.is_none() {
                self.finish(&v, &["env", "env-type"]);
                return None;
            }
        }
        let selector = match (env, env_type) {
            (Some(e), None) => WhenSelector::Env(self.name(e, "environment")?),
            (None, Some(t)) => WhenSelector::EnvType(self.enumerated(
                t,
                "environment type",
                &EnvType::ALL,
                EnvType::parse,
            )?),
            (Some(e), Some(t)) => {
                self.push(
                    Diagnostic::error(
                        codes::INVALID_WHEN,
                        "`when` takes exactly one of `env=` and `env-type=`",
                    )
                    .label(t.span, "second selector")
                    .related(e.span, "first selector")
                    .help("split it into two `when` blocks"),
                );
                return None;
            }
            (None, None) => {
                self.finish(&v, &["env", "env-type"]);
                self.push(
                    Diagnostic::error(codes::INVALID_WHEN, "`when` needs `env=` or `env-type=`")
                        .label(v.name_span, "no selector")
                        .help("write `when env=prod { … }` or `when env-type=production { … }`"),
                );
                return None;
            }
        };
        self.finish(&v, &["env", "env-type"]);
        let kids: Vec<&KdlNode> = v.children().iter().collect();
        let body = self.body(&kids, true, "when");
        Some(When {
            selector,
            span: v.span,
            body,
        })
    }

    /// The overridable part of a workload; `patch` is true inside `when`.
    fn body(&mut self, nodes: &[&KdlNode], patch: bool, parent: &str) -> WorkloadBody {
        let mut b = WorkloadBody::default();
        let mut seen = HashMap::new();
        let mut containers: HashMap<String, Span> = HashMap::new();
        let mut resources: HashMap<String, Span> = HashMap::new();
        let mut routes: Vec<Route> = Vec::new();
        let mut routes_span: Option<Span> = None;
        for c in nodes.iter().copied() {
            let name = c.name().value();
            if patch && !WHEN_CHILDREN.contains(&name) {
                let span = self.span(c.name().span());
                let help = if WORKLOAD_CHILDREN.contains(&name) {
                    format!(
                        "`when` may override {}; move `{name}` to the workload itself",
                        list(WHEN_CHILDREN)
                    )
                } else {
                    did_you_mean(name, WHEN_CHILDREN.iter().copied())
                        .unwrap_or_else(|| format!("`when` may override {}", list(WHEN_CHILDREN)))
                };
                let code = if WORKLOAD_CHILDREN.contains(&name) {
                    codes::INVALID_WHEN
                } else {
                    codes::UNKNOWN_NODE
                };
                self.push(
                    Diagnostic::error(code, format!("`{name}` cannot appear in `when`"))
                        .label(span, "not overridable")
                        .help(help),
                );
                continue;
            }
            match name {
                "replicas" | "tags" | "service" | "autoscale" | "environments"
                    if !self.once(&mut seen, c) => {}
                "replicas" => {
                    if let Some((v, val)) = self.single(c, "replicas 2") {
                        if matches!(val.v, KdlValue::Null) && patch {
                            b.replicas = Some(Spanned::new(Patch::Remove, v.span));
                        } else if let Some(n) = self.non_negative(val) {
                            b.replicas = Some(Spanned::new(Patch::Set(n.value), n.span));
                        }
                    }
                }
                "tags" => {
                    let v = self.view(c);
                    self.finish(&v, &[]);
                    self.no_children(&v);
                    let tags = self.string_args(&v);
                    for t in &tags {
                        self.check_tag(t);
                    }
                    b.tags = Some(Spanned::new(tags, v.span));
                }
                "container" => {
                    if let Some(ct) = self.container(c, patch) {
                        if let Some(first) = containers.insert(ct.name.value.clone(), ct.name.span)
                        {
                            self.push(
                                Diagnostic::error(
                                    codes::DUPLICATE_FIELD,
                                    format!("two containers are named `{}`", ct.name.value),
                                )
                                .label(ct.name.span, "second container")
                                .related(first, "first container")
                                .help("container names are unique within a workload"),
                            );
                        } else {
                            b.containers.push(ct);
                        }
                    }
                }
                "service" => {
                    let v = self.view(c);
                    self.finish(&v, &[]);
                    if v.args.len() == 1 && matches!(v.args[0].v, KdlValue::Null) && patch {
                        b.service = Some(Spanned::new(Patch::Remove, v.span));
                        continue;
                    }
                    self.args_count(&v, 0, 0, "service { port http 80 target=http }");
                    let mut ports = Vec::new();
                    let mut names: HashMap<String, Span> = HashMap::new();
                    for p in v.children() {
                        if p.name().value() != "port" {
                            self.unknown_child(p, "service", &["port"]);
                            continue;
                        }
                        let mut pv = self.view(p);
                        self.no_children(&pv);
                        let usage = "port http 80 target=http";
                        let count_ok = if patch {
                            self.args_count(&pv, 1, 2, usage)
                        } else {
                            self.args_count(&pv, 2, 2, usage)
                        };
                        if !count_ok {
                            continue;
                        }
                        let Some(pname) = self.port_name(pv.args[0]) else {
                            continue;
                        };
                        let number = pv.args.get(1).and_then(|a| self.port_number(*a));
                        let target = self
                            .prop(&mut pv, "target")
                            .and_then(|x| self.port_ref(x, "target", "container"));
                        self.finish(&pv, &["target"]);
                        if let Some(first) = names.insert(pname.value.clone(), pname.span) {
                            self.push(
                                Diagnostic::error(
                                    codes::DUPLICATE_FIELD,
                                    format!("two service ports are named `{}`", pname.value),
                                )
                                .label(pname.span, "second port")
                                .related(first, "first port")
                                .help("service port names are unique; rename or remove one"),
                            );
                        }
                        ports.push(ServicePort {
                            name: pname,
                            span: pv.span,
                            number,
                            target,
                        });
                    }
                    if ports.is_empty() && !patch {
                        self.push(
                            Diagnostic::error(codes::MISSING_FIELD, "`service` has no port")
                                .label(v.span, "no `port` inside")
                                .help("add `port http 80 target=http`"),
                        );
                    }
                    b.service = Some(Spanned::new(Patch::Set(Service { ports }), v.span));
                }
                "route" => {
                    let mut v = self.view(c);
                    self.no_children(&v);
                    routes_span = Some(routes_span.map_or(v.span, |s: Span| {
                        Span::new(s.file, s.start as usize, v.span.end as usize)
                    }));
                    if v.args.len() == 1 && matches!(v.args[0].v, KdlValue::Null) && patch {
                        continue;
                    }
                    self.args_count(&v, 0, 0, "route host=\"shop.acme.example\" port=http");
                    let host = self.prop(&mut v, "host").and_then(|x| self.string(x));
                    if let Some(h) = &host {
                        if let Err(help) = values::host(&h.value) {
                            self.push(
                                Diagnostic::error(
                                    codes::INVALID_VALUE,
                                    format!("`{}` is not a valid host", h.value),
                                )
                                .label(h.span, "invalid host")
                                .help(help),
                            );
                        }
                    }
                    let path = self.prop(&mut v, "path").and_then(|x| self.string(x));
                    if let Some(p) = &path {
                        self.check_abs_path(p, "route path");
                    }
                    let port = self
                        .prop(&mut v, "port")
                        .and_then(|x| self.port_ref(x, "port", "service"));
                    let tls = self.prop(&mut v, "tls").and_then(|x| self.bool(x));
                    self.finish(&v, &["host", "path", "port", "tls"]);
                    self.require_prop(&v, &host, "host", "`route`", "host=\"shop.acme.example\"");
                    self.require_prop(&v, &port, "port", "`route`", "port=http");
                    routes.push(Route {
                        span: v.span,
                        host,
                        path,
                        port,
                        tls,
                    });
                }
                "autoscale" => {
                    let mut v = self.view(c);
                    self.no_children(&v);
                    if v.args.len() == 1 && matches!(v.args[0].v, KdlValue::Null) && patch {
                        self.finish(&v, &[]);
                        b.autoscale = Some(Spanned::new(Patch::Remove, v.span));
                        continue;
                    }
                    self.args_count(&v, 0, 0, "autoscale min=2 max=10 cpu-percent=70");
                    let mut a = Autoscale {
                        min: self.prop(&mut v, "min").and_then(|x| self.int(x)),
                        max: self.prop(&mut v, "max").and_then(|x| self.int(x)),
                        cpu_percent: self.prop(&mut v, "cpu-percent").and_then(|x| self.int(x)),
                    };
                    self.finish(&v, &["min", "max", "cpu-percent"]);
                    if !patch {
                        self.require_prop(&v, &a.min, "min", "`autoscale`", "min=2");
                        self.require_prop(&v, &a.max, "max", "`autoscale`", "max=10");
                        self.require_prop(
                            &v,
                            &a.cpu_percent,
                            "cpu-percent",
                            "`autoscale`",
                            "cpu-percent=70",
                        );
                    }
                    for (val, lo, hi, what) in [
                        (&a.min, 1, i64::MAX, "min"),
                        (&a.max, 1, i64::MAX, "max"),
                        (&a.cpu_percent, 1, 100, "cpu-percent"),
                    ] {
                        if let Some(x) = val {
                            if x.value < lo || x.value > hi {
                                self.push(
                                    Diagnostic::error(
                                        codes::INVALID_VALUE,
                                        if hi == i64::MAX {
                                            format!("autoscale `{what}` must be at least {lo}")
                                        } else {
                                            format!("autoscale `{what}` must be between {lo} and {hi}")
                                        },
                                    )
                                    .label(x.span, "out of range")
                                    .help(if what == "cpu-percent" {
                                        "the target average CPU utilisation, in percent of the request: e.g. cpu-percent=70".to_string()
                                    } else {
                                        format!("write {what}={lo} or more; to stop a workload, set `replicas 0` without autoscale")
                                    }),
                                );
                            }
                        }
                    }
                    if let (Some(min), Some(max)) = (&a.min, &a.max) {
                        if min.value > max.value {
                            self.push(
                                Diagnostic::error(
                                    codes::CONFLICTING_FIELDS,
                                    "autoscale `min` exceeds `max`",
                                )
                                .label(min.span, format!("min is {}", min.value))
                                .related(max.span, format!("max is {}", max.value))
                                .help(format!("swap them: min={} max={}", max.value, min.value)),
                            );
                            a.min = None;
                        }
                    }
                    b.autoscale = Some(Spanned::new(Patch::Set(a), v.span));
                }
                "resource" => {
                    if let Some(r) = self.resource(c, patch) {
                        if let Some(first) = resources.insert(r.name.value.clone(), r.name.span) {
                            self.push(
                                Diagnostic::error(
                                    codes::DUPLICATE_FIELD,
                                    format!("two resources are named `{}`", r.name.value),
                                )
                                .label(r.name.span, "second resource")
                                .related(first, "first resource")
                                .help("resource names are unique within a workload"),
                            );
                        } else {
                            b.resources.push(r);
                        }
                    }
                }
                "environments" => {
                    let v = self.view(c);
                    self.finish(&v, &[]);
                    self.no_children(&v);
                    self.args_count(&v, 1, usize::MAX, "environments dev staging prod");
                    let envs = v
                        .args
                        .iter()
                        .filter_map(|a| self.name(*a, "environment"))
                        .collect();
                    b.environments = Some(Spanned::new(envs, v.span));
                }
                _ => self.unknown_child(
                    c,
                    parent,
                    if patch {
                        WHEN_CHILDREN
                    } else {
                        WORKLOAD_CHILDREN
                    },
                ),
            }
        }
        if let Some(span) = routes_span {
            b.routes = Some(Spanned::new(routes, span));
        }
        b
    }

    /// Containers of a pod share one network: a port number (per protocol) is bound once.
    fn pod_ports(&mut self, containers: &[Container]) {
        let mut bound: HashMap<(i64, String), (&str, Span)> = HashMap::new();
        for c in containers {
            for p in &c.ports {
                let proto = p
                    .protocol
                    .as_ref()
                    .map_or("TCP".to_string(), |x| x.value.clone());
                let key = (p.number.value, proto.clone());
                if let Some((other, first)) = bound.get(&key) {
                    let where_ = if *other == c.name.value.as_str() {
                        "in this container".to_string()
                    } else {
                        format!("by container `{other}`")
                    };
                    self.push(
                        Diagnostic::error(
                            codes::DUPLICATE_FIELD,
                            format!("{proto} port {} is already declared {where_}", p.number.value),
                        )
                        .label(p.number.span, "declared again here")
                        .related(*first, "first declared here")
                        .help("the containers of a pod share one network, so each port number is bound once; use another number"),
                    );
                } else {
                    bound.insert(key, (c.name.value.as_str(), p.number.span));
                }
            }
        }
    }

    fn check_tag(&mut self, t: &Spanned<String>) {
        // Backstage tags: [a-z0-9:+#] words separated by '-', at most 63 characters.
        let s = &t.value;
        let ok = !s.is_empty()
            && s.len() <= 63
            && s.split('-').all(|w| {
                !w.is_empty()
                    && w.bytes().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || b":+#".contains(&c)
                    })
            });
        if !ok {
            self.push(
                Diagnostic::error(codes::INVALID_VALUE, format!("`{s}` is not a valid tag"))
                    .label(t.span, "invalid tag")
                    .help("Backstage tags are lower-case words of `a-z0-9:+#` joined by `-`, at most 63 characters"),
            );
        }
    }

    fn check_abs_path(&mut self, p: &Spanned<String>, what: &str) {
        if !p.value.starts_with('/') || p.value.contains(char::is_control) {
            self.push(
                Diagnostic::error(
                    codes::INVALID_VALUE,
                    format!("{what} `{}` is not an absolute path", p.value),
                )
                .label(p.span, "must start with `/`")
                .help(format!("write \"/{}\"", p.value.trim_start_matches('/'))),
            );
        }
    }

    fn port_name(&mut self, val: Val<'_>) -> Option<Name> {
        let s = self.string(val)?;
        if let Err(help) = values::port_name(&s.value) {
            self.push(
                Diagnostic::error(
                    codes::INVALID_PORT,
                    format!("invalid port name `{}`", s.value),
                )
                .label(s.span, "not an IANA service name")
                .help(match values::suggest_port_name(&s.value) {
                    Some(fixed) => format!("write `{fixed}`; {help}"),
                    None => help,
                }),
            );
        }
        Some(s)
    }

    /// A reference to a port by name (`port=http`); a number is a common mistake.
    fn port_ref(&mut self, val: Val<'_>, key: &str, of: &str) -> Option<Spanned<String>> {
        if let KdlValue::Integer(n) = val.v {
            let help = if of == "service" {
                format!("`{key}` names a port of the workload's `service`: write {key}=http for `service {{ port http 80 }}`")
            } else {
                format!("`{key}` names a container port: declare `port http {n}` in the container and write {key}=http")
            };
            self.push(
                Diagnostic::error(
                    codes::WRONG_TYPE,
                    format!("`{key}` takes a port name, not a number"),
                )
                .label(val.span, format!("a number, not a {of} port name"))
                .help(help),
            );
            return None;
        }
        self.string(val)
    }

    fn port_number(&mut self, val: Val<'_>) -> Option<Spanned<i64>> {
        let n = self.int(val)?;
        if !(1..=65535).contains(&n.value) {
            self.push(
                Diagnostic::error(
                    codes::INVALID_PORT,
                    format!("port {} is out of range", n.value),
                )
                .label(n.span, "not 1-65535")
                .help("port numbers are 1 to 65535"),
            );
            return None;
        }
        Some(n)
    }

    fn container(&mut self, node: &KdlNode, patch: bool) -> Option<Container> {
        let v = self.view(node);
        self.finish(&v, &[]);
        let name = self.item_name(&v, "container", "container main { image \"…\" }")?;
        let mut c = Container {
            name,
            span: v.span,
            image: None,
            command: None,
            args: None,
            env: Vec::new(),
            ports: Vec::new(),
            cpu: None,
            memory: None,
            probes: Vec::new(),
            files: Vec::new(),
            volumes: Vec::new(),
        };
        let mut seen = HashMap::new();
        let mut env_keys: HashMap<String, Span> = HashMap::new();
        let mut port_names: HashMap<String, Span> = HashMap::new();
        let mut probe_kinds: HashMap<ProbeKind, Span> = HashMap::new();
        let mut file_paths: HashMap<String, Span> = HashMap::new();
        for k in v.children() {
            match k.name().value() {
                "image" | "command" | "args" | "cpu" | "memory" if !self.once(&mut seen, k) => {}
                "image" => {
                    c.image = self.single_string(k, "image \"ghcr.io/acme/app:1.0.0\"");
                    if let Some(i) = &c.image {
                        if i.value.trim().is_empty() || i.value.contains(char::is_whitespace) {
                            self.push(
                                Diagnostic::error(codes::INVALID_VALUE, "invalid image reference")
                                    .label(i.span, "empty or contains spaces")
                                    .help("write a reference such as \"ghcr.io/acme/app:1.4.2\""),
                            );
                        }
                    }
                }
                n @ ("command" | "args") => {
                    let kv = self.view(k);
                    self.finish(&kv, &[]);
                    self.no_children(&kv);
                    if n == "command" && kv.args.is_empty() && !patch {
                        self.push(
                            Diagnostic::error(codes::WRONG_ARGUMENTS, "`command` needs at least one argument")
                                .label(kv.span, "empty command")
                                .help("write `command \"/app/server\" \"--flag\"`, or remove it to use the image's entrypoint"),
                        );
                    }
                    let items = self.string_args(&kv);
                    for it in &items {
                        self.check_placeholders(it);
                    }
                    let val = Some(Spanned::new(items, kv.span));
                    if n == "command" {
                        c.command = val;
                    } else {
                        c.args = val;
                    }
                }
                "env" => {
                    let mut kv = self.view(k);
                    self.no_children(&kv);
                    self.args_count(&kv, 0, 0, "env KEY=value …");
                    let props = self.rest_props(&mut kv);
                    for p in props {
                        if let Err(help) = values::env_name(&p.key.value) {
                            let reserved = p
                                .key
                                .value
                                .strip_prefix("TRESTLE_")
                                .filter(|rest| values::env_name(rest).is_ok());
                            let d = match reserved {
                                Some(rest) => Diagnostic::error(
                                    codes::INVALID_ENV_NAME,
                                    format!("environment variable `{}` uses the reserved prefix `TRESTLE_`", p.key.value),
                                )
                                .label(p.key.span, "reserved prefix")
                                .help(format!("{help}; rename it, e.g. `APP_{rest}`")),
                                None => Diagnostic::error(
                                    codes::INVALID_ENV_NAME,
                                    format!("invalid environment variable name `{}`", p.key.value),
                                )
                                .label(p.key.span, "not a C identifier")
                                .help(help),
                            };
                            self.push(d);
                            continue;
                        }
                        let value = match p.value.value {
                            Scalar::Null if patch => Patch::Remove,
                            Scalar::Str(_) | Scalar::Int(_) | Scalar::Bool(_) => {
                                Patch::Set(p.value.value.clone())
                            }
                            _ => {
                                self.push(
                                    Diagnostic::error(codes::WRONG_TYPE, format!("env values are strings, integers or booleans, found {}", p.value.value.type_name()))
                                        .label(p.value.span, "unsupported value")
                                        .help(format!("quote it: {}=\"{}\"", p.key.value, p.value.value.to_text())),
                                );
                                continue;
                            }
                        };
                        if let Patch::Set(Scalar::Str(s)) = &value {
                            self.check_placeholders(&Spanned::new(s.clone(), p.value.span));
                        }
                        if let Some(first) = env_keys.insert(p.key.value.clone(), p.key.span) {
                            self.push(
                                Diagnostic::error(
                                    codes::DUPLICATE_FIELD,
                                    format!("environment variable `{}` is set twice", p.key.value),
                                )
                                .label(p.key.span, "set again here")
                                .related(first, "first set here")
                                .help("keep one of them"),
                            );
                            continue;
                        }
                        c.env.push(EnvVar {
                            key: p.key,
                            value: Spanned::new(value, p.value.span),
                        });
                    }
                }
                "port" => {
                    let mut kv = self.view(k);
                    self.no_children(&kv);
                    if !self.args_count(&kv, 2, 2, "port http 8080") {
                        continue;
                    }
                    let pname = self.port_name(kv.args[0]);
                    let number = self.port_number(kv.args[1]);
                    let protocol = self.prop(&mut kv, "protocol").and_then(|x| self.string(x));
                    if let Some(p) = &protocol {
                        if p.value != "TCP" && p.value != "UDP" {
                            self.push(
                                Diagnostic::error(
                                    codes::INVALID_PORT,
                                    format!("unknown protocol `{}`", p.value),
                                )
                                .label(p.span, "not TCP or UDP")
                                .help(format!("write protocol=\"{}\"", p.value.to_uppercase())),
                            );
                        }
                    }
                    self.finish(&kv, &["protocol"]);
                    let (Some(pname), Some(number)) = (pname, number) else {
                        continue;
                    };
                    if let Some(first) = port_names.insert(pname.value.clone(), pname.span) {
                        self.push(
                            Diagnostic::error(
                                codes::DUPLICATE_FIELD,
                                format!("two ports are named `{}`", pname.value),
                            )
                            .label(pname.span, "second port")
                            .related(first, "first port")
                            .help("port names are unique within a container; rename or remove one"),
                        );
                        continue;
                    }
                    c.ports.push(Port {
                        name: pname,
                        span: kv.span,
                        number,
                        protocol,
                    });
                }
                n @ ("cpu" | "memory") => {
                    let mut kv = self.view(k);
                    self.no_children(&kv);
                    self.args_count(&kv, 0, 0, &format!("{n} request=\"…\" limit=\"…\""));
                    let request = self
                        .prop(&mut kv, "request")
                        .and_then(|x| self.quantity(x, n));
                    let limit = self
                        .prop(&mut kv, "limit")
                        .and_then(|x| self.quantity(x, n));
                    self.finish(&kv, &["request", "limit"]);
                    if let (Some(r), Some(l)) = (&request, &limit) {
                        if values::quantity(&r.value) > values::quantity(&l.value) {
                            self.push(
                                Diagnostic::error(
                                    codes::INVALID_QUANTITY,
                                    format!("{n} request exceeds its limit"),
                                )
                                .label(r.span, format!("request {}", r.value))
                                .related(l.span, format!("limit {}", l.value))
                                .help(format!(
                                    "raise the limit to at least {}, or lower the request",
                                    r.value
                                )),
                            );
                        }
                    }
                    let comp = Some(Compute {
                        span: kv.span,
                        request,
                        limit,
                    });
                    if n == "cpu" {
                        c.cpu = comp;
                    } else {
                        c.memory = comp;
                    }
                }
                "probe" => {
                    if let Some(p) = self.probe(k) {
                        if let Some(first) = probe_kinds.insert(p.kind.value, p.kind.span) {
                            self.push(
                                Diagnostic::error(
                                    codes::DUPLICATE_FIELD,
                                    format!("two {} probes", p.kind.value.as_str()),
                                )
                                .label(p.kind.span, "second probe")
                                .related(first, "first probe")
                                .help(format!(
                                    "a container has at most one {} probe; remove one",
                                    p.kind.value.as_str()
                                )),
                            );
                            continue;
                        }
                        c.probes.push(p);
                    }
                }
                "file" => {
                    if let Some(f) = self.file_mount(k) {
                        if let Some(first) = file_paths.insert(f.path.value.clone(), f.path.span) {
                            self.push(
                                Diagnostic::error(
                                    codes::DUPLICATE_FIELD,
                                    format!("file `{}` is mounted twice", f.path.value),
                                )
                                .label(f.path.span, "second mount")
                                .related(first, "first mount")
                                .help("mount each path once; remove one of them"),
                            );
                            continue;
                        }
                        c.files.push(f);
                    }
                }
                "volume" => {
                    let mut kv = self.view(k);
                    self.no_children(&kv);
                    let Some(path) = self
                        .item_string(&kv, "volume /data source=\"${resources.data.claim-name}\"")
                    else {
                        continue;
                    };
                    self.check_abs_path(&path, "volume path");
                    let source = self.prop(&mut kv, "source").and_then(|x| self.string(x));
                    if let Some(s) = &source {
                        self.check_placeholders(s);
                    }
                    let read_only = self.prop(&mut kv, "read-only").and_then(|x| self.bool(x));
                    self.finish(&kv, &["source", "read-only"]);
                    self.require_prop(
                        &kv,
                        &source,
                        "source",
                        "`volume`",
                        "source=\"${resources.data.claim-name}\"",
                    );
                    c.volumes.push(VolumeMount {
                        path,
                        span: kv.span,
                        source,
                        read_only,
                    });
                }
                _ => self.unknown_child(k, "container", CONTAINER_CHILDREN),
            }
        }
        if !patch {
            self.require_child(
                &v,
                &seen,
                &c.image,
                "image",
                &format!("container `{}`", c.name.value),
                c.name.span,
                "image \"ghcr.io/acme/app:1.0.0\"",
            );
        }
        Some(c)
    }

    fn quantity(&mut self, val: Val<'_>, what: &str) -> Option<Spanned<String>> {
        let s = match val.v {
            KdlValue::Integer(i) => {
                self.type_error(val, "a quantity string", Some(format!("quote it: \"{i}\"")));
                return None;
            }
            _ => self.string(val)?,
        };
        if values::quantity(&s.value).is_none() {
            self.push(
                Diagnostic::error(
                    codes::INVALID_QUANTITY,
                    format!("invalid {what} quantity \"{}\"", s.value),
                )
                .label(s.span, "not a Kubernetes quantity")
                .help(values::quantity_help(what, &s.value)),
            );
            return None;
        }
        Some(s)
    }

    fn probe(&mut self, node: &KdlNode) -> Option<Probe> {
        let mut v = self.view(node);
        self.no_children(&v);
        let usage = "probe liveness http path=\"/healthz\" port=http";
        if !self.args_count(&v, 2, usize::MAX, usage) {
            return None;
        }
        let kind = self.enumerated(
            v.args[0],
            "probe kind",
            &["liveness", "readiness", "startup"],
            |s| match s {
                "liveness" => Some(ProbeKind::Liveness),
                "readiness" => Some(ProbeKind::Readiness),
                "startup" => Some(ProbeKind::Startup),
                _ => None,
            },
        );
        let how = self.string(v.args[1]);
        let mut allowed = vec!["initial-delay", "period", "timeout", "failure-threshold"];
        let action = match how.as_ref().map(|h| h.value.as_str()) {
            Some("http") => {
                allowed.extend(["path", "port"]);
                self.args_count(&v, 2, 2, usage);
                let path = self.prop(&mut v, "path").and_then(|x| self.string(x));
                if let Some(p) = &path {
                    self.check_abs_path(p, "probe path");
                }
                let port = self
                    .prop(&mut v, "port")
                    .and_then(|x| self.port_ref(x, "port", "container"));
                self.require_prop(&v, &path, "path", "an http probe", "path=\"/healthz\"");
                self.require_prop(&v, &port, "port", "an http probe", "port=http");
                match (path, port) {
                    (Some(path), Some(port)) => Some(ProbeAction::Http { path, port }),
                    _ => None,
                }
            }
            Some("tcp") => {
                allowed.push("port");
                self.args_count(&v, 2, 2, "probe liveness tcp port=http");
                let port = self
                    .prop(&mut v, "port")
                    .and_then(|x| self.port_ref(x, "port", "container"));
                self.require_prop(&v, &port, "port", "a tcp probe", "port=http");
                port.map(|port| ProbeAction::Tcp { port })
            }
            Some("exec") => {
                if v.args.len() < 3 {
                    self.push(
                        Diagnostic::error(codes::WRONG_ARGUMENTS, "an exec probe needs a command")
                            .label(v.span, "no command")
                            .help("write `probe liveness exec \"pg_isready\" \"-U\" \"app\"`"),
                    );
                    None
                } else {
                    let cmd = v.args[2..].iter().filter_map(|a| self.string(*a)).collect();
                    Some(ProbeAction::Exec(cmd))
                }
            }
            Some(other) => {
                let other = other.to_string();
                let span = v.args[1].span;
                self.push(
                    Diagnostic::error(
                        codes::INVALID_ENUM,
                        format!("unknown probe action `{other}`"),
                    )
                    .label(span, "not http, tcp or exec")
                    .maybe_help(did_you_mean(&other, ["http", "tcp", "exec"])),
                );
                None
            }
            None => None,
        };
        let mut num =
            |lx: &mut Self, key: &str| lx.prop(&mut v, key).and_then(|x| lx.non_negative(x));
        let initial_delay = num(self, "initial-delay");
        let period = num(self, "period");
        let timeout = num(self, "timeout");
        let failure_threshold = num(self, "failure-threshold");
        self.finish(&v, &allowed);
        Some(Probe {
            kind: kind?,
            span: v.span,
            action: action?,
            initial_delay,
            period,
            timeout,
            failure_threshold,
        })
    }

    fn file_mount(&mut self, node: &KdlNode) -> Option<FileMount> {
        let mut v = self.view(node);
        self.no_children(&v);
        let path = self.item_string(
            &v,
            "file \"/etc/app/config.yaml\" source=\"config/app.yaml\"",
        )?;
        self.check_abs_path(&path, "file path");
        if path.value.ends_with('/') {
            self.push(
                Diagnostic::error(
                    codes::INVALID_VALUE,
                    "a file path names a file, not a folder",
                )
                .label(path.span, "ends with `/`"),
            );
        }
        let source = self.prop(&mut v, "source").and_then(|x| self.string(x));
        let content = self.prop(&mut v, "content").and_then(|x| self.string(x));
        // Modes are octal: `mode=0o644` (a KDL octal integer) or `mode="0644"`.
        let mode = self.prop(&mut v, "mode").and_then(|x| match x.v {
            KdlValue::String(s)
                if !s.is_empty()
                    && s.len() <= 4
                    && s.bytes().all(|c| (b'0'..=b'7').contains(&c)) =>
            {
                i64::from_str_radix(s, 8)
                    .ok()
                    .map(|m| Spanned::new(m, x.span))
            }
            KdlValue::String(_) => {
                self.type_error(
                    x,
                    "an octal mode",
                    Some("write mode=0o644 or mode=\"0644\"".into()),
                );
                None
            }
            KdlValue::Integer(_) => {
                // KDL drops the radix: only the source text tells 0o644 from 644.
                let raw = self
                    .src
                    .get(x.span.start as usize..x.span.end as usize)
                    .unwrap_or("");
                if raw.starts_with("0o") {
                    return self.int(x);
                }
                let digits = raw.trim_start_matches('+');
                let help = if !digits.is_empty()
                    && digits.len() <= 4
                    && digits.bytes().all(|c| (b'0'..=b'7').contains(&c))
                {
                    format!(
                        "write mode=0o{} (or mode=\"{digits}\")",
                        digits.trim_start_matches('0')
                    )
                } else {
                    "write an octal mode such as mode=0o644".to_string()
                };
                self.push(
                    Diagnostic::error(
                        codes::INVALID_VALUE,
                        format!("file mode `{raw}` is not octal"),
                    )
                    .label(x.span, "a decimal number")
                    .help(help),
                );
                None
            }
            _ => self.int(x),
        });
        let expand = self.prop(&mut v, "expand").and_then(|x| self.bool(x));
        self.finish(&v, &["source", "content", "mode", "expand"]);
        if let Some(m) = &mode {
            if !(0..=0o777).contains(&m.value) {
                self.push(
                    Diagnostic::error(
                        codes::INVALID_VALUE,
                        format!("file mode {} is out of range", m.value),
                    )
                    .label(m.span, "not 0 to 0o777")
                    .help("write an octal mode such as 0o644"),
                );
            }
        }
        match (&source, &content) {
            (Some(s), Some(c)) => self.push(
                Diagnostic::error(codes::CONFLICTING_FIELDS, "a file has either `source=` or `content=`, not both")
                    .label(c.span, "content here")
                    .related(s.span, "source here")
                    .help("keep `source=` (a file next to the spec) or `content=` (inline text), and remove the other"),
            ),
            (None, None) => self.push(
                Diagnostic::error(codes::MISSING_FIELD, "a file needs `source=` or `content=`")
                    .label(v.span, "no contents")
                    .help("add source=\"config/app.yaml\" (relative to this spec file) or content=\"…\""),
            ),
            _ => {}
        }
        if expand.as_ref().is_none_or(|e| e.value) {
            if let Some(c) = &content {
                self.check_placeholders(c);
            }
        }
        Some(FileMount {
            path,
            span: v.span,
            source,
            content,
            mode,
            expand,
        })
    }

    fn resource(&mut self, node: &KdlNode, patch: bool) -> Option<ResourceReq> {
        let mut v = self.view(node);
        self.no_children(&v);
        let name = self.item_name(&v, "resource", "resource db type=postgres")?;
        let ty = self
            .prop(&mut v, "type")
            .and_then(|x| self.name(x, "resource type"));
        let class = self
            .prop(&mut v, "class")
            .and_then(|x| self.name(x, "class"));
        let id = self
            .prop(&mut v, "id")
            .and_then(|x| self.name(x, "resource id"));
        let params = self.rest_props(&mut v);
        for p in &params {
            if let Scalar::Str(s) = &p.value.value {
                self.check_placeholders(&Spanned::new(s.clone(), p.value.span));
            }
        }
        if !patch {
            self.require_prop(
                &v,
                &ty,
                "type",
                &format!("resource `{}`", name.value),
                "type=postgres",
            );
        }
        Some(ResourceReq {
            name,
            span: v.span,
            ty,
            class,
            id,
            params,
        })
    }

    /// Check `${…}` syntax in a string value (T215).
    fn check_placeholders(&mut self, s: &Spanned<String>) {
        // No `${`, no placeholder and nothing malformed (most strings).
        if !s.value.contains("${") {
            return;
        }
        if let Err(e) = values::placeholders(&s.value) {
            let span = self.inner_span(s, e.range);
            self.push(
                Diagnostic::error(codes::INVALID_PLACEHOLDER, e.message.clone())
                    .label(
                        span,
                        if e.message.starts_with("unclosed") {
                            "no closing `}`"
                        } else {
                            "malformed placeholder"
                        },
                    )
                    .help(e.help),
            );
        }
    }

    /// Map a byte range of a decoded string back to the source, exactly when the string has
    /// no escapes; otherwise the whole string.
    fn inner_span(&self, s: &Spanned<String>, range: (usize, usize)) -> Span {
        inner_span(self.src, s, range)
    }

    fn api(&mut self, node: &KdlNode) -> Option<Api> {
        let v = self.view(node);
        self.finish(&v, &[]);
        let name = self.item_name(&v, "API", "api NAME { … }")?;
        let mut a = Api {
            name,
            span: v.span,
            ty: None,
            owner: None,
            system: None,
            lifecycle: None,
            description: None,
            definition: None,
        };
        let mut seen = HashMap::new();
        const KIDS: &[&str] = &[
            "type",
            "owner",
            "system",
            "lifecycle",
            "description",
            "definition",
        ];
        for c in v.children() {
            match c.name().value() {
                n if KIDS.contains(&n) && !self.once(&mut seen, c) => {}
                "type" => {
                    if let Some((_, val)) = self.single(c, "type openapi") {
                        a.ty = self.enumerated(val, "API type", &ApiType::ALL, ApiType::parse);
                    }
                }
                "owner" => a.owner = self.single_name(c, "team", "owner TEAM"),
                "system" => a.system = self.single_name(c, "system", "system NAME"),
                "lifecycle" => {
                    if let Some((_, val)) = self.single(c, "lifecycle production") {
                        a.lifecycle =
                            self.enumerated(val, "lifecycle", &Lifecycle::ALL, Lifecycle::parse);
                    }
                }
                "description" => a.description = self.single_string(c, "description \"…\""),
                "definition" => a.definition = self.single_string(c, "definition \"apis/x.yaml\""),
                _ => self.unknown_child(c, "api", KIDS),
            }
        }
        let what = format!("api `{}`", a.name.value);
        let sp = a.name.span;
        self.require_child(&v, &seen, &a.ty, "type", &what, sp, "type openapi");
        self.require_child(&v, &seen, &a.owner, "owner", &what, sp, "owner TEAM");
        self.require_child(&v, &seen, &a.system, "system", &what, sp, "system NAME");
        self.require_child(
            &v,
            &seen,
            &a.definition,
            "definition",
            &what,
            a.name.span,
            "definition \"apis/NAME.yaml\"",
        );
        Some(a)
    }

    fn resource_type(&mut self, node: &KdlNode) -> Option<ResourceType> {
        let v = self.view(node);
        self.finish(&v, &[]);
        let name = self.item_name(&v, "resource type", "resource-type NAME { … }")?;
        let mut t = ResourceType {
            name,
            span: v.span,
            description: None,
            params: Vec::new(),
            outputs: Vec::new(),
            provisioners: Vec::new(),
        };
        let mut seen = HashMap::new();
        let mut names: HashMap<(bool, String), Span> = HashMap::new();
        for c in v.children() {
            match c.name().value() {
                "description" if self.once(&mut seen, c) => {
                    t.description = self.single_string(c, "description \"…\"")
                }
                "description" => {}
                "param" => {
                    if let Some(p) = self.param(c) {
                        if let Some(first) =
                            names.insert((false, p.name.value.clone()), p.name.span)
                        {
                            self.dup(&p.name, first, "param");
                        } else {
                            t.params.push(p);
                        }
                    }
                }
                "output" => {
                    let mut ov = self.view(c);
                    self.no_children(&ov);
                    let Some(oname) = self.item_name(&ov, "output", "output host sensitive=#false")
                    else {
                        continue;
                    };
                    let sensitive = self
                        .prop(&mut ov, "sensitive")
                        .and_then(|x| self.bool(x))
                        .is_some_and(|b| b.value);
                    self.finish(&ov, &["sensitive"]);
                    if let Some(first) = names.insert((true, oname.value.clone()), oname.span) {
                        self.dup(&oname, first, "output");
                    } else {
                        t.outputs.push(OutputDecl {
                            name: oname,
                            span: ov.span,
                            sensitive,
                        });
                    }
                }
                "provisioner" => {
                    if let Some(p) = self.provisioner(c) {
                        if let Some(first) =
                            t.provisioners.iter().find(|x| x.name.value == p.name.value)
                        {
                            let first = first.name.span;
                            self.dup(&p.name, first, "provisioner");
                        } else {
                            t.provisioners.push(p);
                        }
                    }
                }
                _ => self.unknown_child(
                    c,
                    "resource-type",
                    &["description", "param", "output", "provisioner"],
                ),
            }
        }
        if t.provisioners.is_empty() {
            self.push(
                Diagnostic::error(codes::MISSING_FIELD, format!("resource type `{}` has no provisioner", t.name.value))
                    .label(t.name.span, "nothing can provision it")
                    .help("add `provisioner NAME { match env-type=… terraform \"templates/….tf.hbs\" … }`"),
            );
        }
        Some(t)
    }

    fn dup(&mut self, name: &Name, first: Span, what: &str) {
        self.push(
            Diagnostic::error(
                codes::DUPLICATE_FIELD,
                format!("{what} `{}` is declared twice", name.value),
            )
            .label(name.span, "declared again here")
            .related(first, "first declared here"),
        );
    }

    fn param(&mut self, node: &KdlNode) -> Option<ParamDecl> {
        let mut v = self.view(node);
        self.no_children(&v);
        let name = self.item_name(&v, "param", "param size type=string default=small")?;
        if matches!(name.value.as_str(), "type" | "class" | "id") {
            self.push(
                Diagnostic::error(codes::RESERVED_NAME, format!("`{}` cannot name a parameter", name.value))
                    .label(name.span, "reserved")
                    .help("`type`, `class` and `id` are properties of every `resource`; choose another name"),
            );
        }
        let ty = self.prop(&mut v, "type").and_then(|x| {
            self.enumerated(x, "param type", &["string", "int", "bool"], |s| match s {
                "string" => Some(ParamType::String),
                "int" => Some(ParamType::Int),
                "bool" => Some(ParamType::Bool),
                _ => None,
            })
        });
        let default = self
            .prop(&mut v, "default")
            .map(|x| Spanned::new(scalar(x.v), x.span));
        let one_of = self
            .prop(&mut v, "one-of")
            .and_then(|x| self.string(x))
            .map(|s| {
                Spanned::new(
                    s.value.split_whitespace().map(str::to_string).collect(),
                    s.span,
                )
            });
        let min = self.prop(&mut v, "min").and_then(|x| self.int(x));
        let max = self.prop(&mut v, "max").and_then(|x| self.int(x));
        let required = self
            .prop(&mut v, "required")
            .and_then(|x| self.bool(x))
            .is_some_and(|b| b.value);
        self.finish(&v, &["type", "default", "one-of", "min", "max", "required"]);
        let ty = match ty {
            Some(t) => t,
            None => {
                if !v.props.iter().any(|(k, _, _)| k.value == "type") {
                    self.require(
                        &None::<()>,
                        "type",
                        &format!("param `{}`", name.value),
                        v.span,
                        "type=string",
                    );
                }
                return None;
            }
        };
        let p = ParamDecl {
            name,
            span: v.span,
            ty,
            default,
            one_of,
            min,
            max,
            required,
        };
        if let Some(d) = &p.default {
            if let Err((msg, help)) = check_param_value(&p, &d.value) {
                self.push(
                    Diagnostic::error(
                        codes::INVALID_PARAM,
                        format!("default of `{}` {msg}", p.name.value),
                    )
                    .label(d.span, "invalid default")
                    .maybe_help(help),
                );
            }
        }
        Some(p)
    }

    fn provisioner(&mut self, node: &KdlNode) -> Option<Provisioner> {
        let v = self.view(node);
        self.finish(&v, &[]);
        let name = self.item_name(&v, "provisioner", "provisioner NAME { … }")?;
        let mut p = Provisioner {
            name,
            span: v.span,
            matches: Vec::new(),
            providers: Vec::new(),
            terraform: None,
            kubernetes: None,
            outputs: Vec::new(),
        };
        let mut seen = HashMap::new();
        for c in v.children() {
            match c.name().value() {
                "terraform" | "kubernetes" if !self.once(&mut seen, c) => {}
                "match" => {
                    let mut mv = self.view(c);
                    self.no_children(&mv);
                    self.args_count(&mv, 0, 0, "match env-type=production");
                    let mut m = MatchLine {
                        span: Some(mv.span),
                        ..MatchLine::default()
                    };
                    m.env_type = self.prop(&mut mv, "env-type").and_then(|x| {
                        self.enumerated(x, "environment type", &EnvType::ALL, EnvType::parse)
                    });
                    m.env = self
                        .prop(&mut mv, "env")
                        .and_then(|x| self.name(x, "environment"));
                    m.workload = self
                        .prop(&mut mv, "workload")
                        .and_then(|x| self.name(x, "workload"));
                    m.resource = self
                        .prop(&mut mv, "resource")
                        .and_then(|x| self.name(x, "resource"));
                    m.class = self
                        .prop(&mut mv, "class")
                        .and_then(|x| self.name(x, "class"));
                    self.finish(&mv, &["env-type", "env", "workload", "resource", "class"]);
                    p.matches.push(m);
                }
                "provider" => {
                    if let Some(pr) = self.provider(c) {
                        p.providers.push(pr);
                    }
                }
                n @ ("terraform" | "kubernetes") => {
                    let (ext, usage) = if n == "terraform" {
                        (".tf.hbs", "terraform \"templates/x.tf.hbs\"")
                    } else {
                        (".yaml.hbs", "kubernetes \"templates/x.yaml.hbs\"")
                    };
                    let Some(path) = self.single_string(c, usage) else {
                        continue;
                    };
                    if !path.value.ends_with(ext) {
                        self.push(
                            Diagnostic::error(
                                codes::TEMPLATE_KIND,
                                format!("a `{n}` template must end in `{ext}`"),
                            )
                            .label(path.span, format!("not a {ext} file"))
                            .help(format!("rename the template to end in `{ext}`")),
                        );
                    }
                    if n == "terraform" {
                        p.terraform = Some(path);
                    } else {
                        p.kubernetes = Some(path);
                    }
                }
                "output" => {
                    let mut ov = self.view(c);
                    self.no_children(&ov);
                    let Some(oname) = self.item_name(&ov, "output", "output host value=\"…\"")
                    else {
                        continue;
                    };
                    let value = self.prop(&mut ov, "value").and_then(|x| self.string(x));
                    let expr = self.prop(&mut ov, "expr").and_then(|x| self.string(x));
                    let secret = self.prop(&mut ov, "secret").and_then(|x| self.string(x));
                    let key = self.prop(&mut ov, "key").and_then(|x| self.string(x));
                    self.finish(&ov, &["value", "expr", "secret", "key"]);
                    // Which kinds were written (by key, so a bad value reported above counts).
                    let key_span = |k: &str| {
                        ov.props
                            .iter()
                            .find(|(p, _, _)| p.value == k)
                            .map(|(p, _, _)| p.span)
                    };
                    let kinds: Vec<(&str, Span)> = ["value", "expr", "secret"]
                        .into_iter()
                        .filter_map(|k| {
                            key_span(k)
                                .or_else(|| (k == "secret").then(|| key_span("key")).flatten())
                                .map(|sp| (k, sp))
                        })
                        .collect();
                    let complete =
                        value.is_some() || expr.is_some() || (secret.is_some() && key.is_some());
                    // Stands in for a malformed output (already reported) so that it does not
                    // also count as missing; an `expr` so that no plain-text check fires on it.
                    let fallback = || OutputSource::Expr(Spanned::new(String::new(), ov.span));
                    let source = match (value, expr, secret, key) {
                        (Some(v), None, None, None) => OutputSource::Value(v),
                        (None, Some(e), None, None) => OutputSource::Expr(e),
                        (None, None, Some(s), Some(k)) => OutputSource::Secret { name: s, key: k },
                        (value, expr, secret, key) => {
                            let how = "write one of `value=\"…\"` (a literal), `expr=\"aws_x.y.attr\"` (a Terraform expression) or `secret=\"name\" key=\"key\"` (an existing Kubernetes secret)";
                            if kinds.len() > 1 {
                                self.push(
                                    Diagnostic::error(
                                        codes::PROVISIONER_OUTPUTS,
                                        format!("output `{}` has more than one of `value=`, `expr=` and `secret=`", oname.value),
                                    )
                                    .label(kinds[1].1, format!("second source: `{}=`", kinds[1].0))
                                    .related(kinds[0].1, format!("first source: `{}=`", kinds[0].0))
                                    .help(format!("keep one; {how}")),
                                );
                            } else if kinds.is_empty() {
                                self.push(
                                    Diagnostic::error(
                                        codes::PROVISIONER_OUTPUTS,
                                        format!("output `{}` has no value", oname.value),
                                    )
                                    .label(oname.span, "no `value=`, `expr=` or `secret=`")
                                    .help(how),
                                );
                            } else if !complete
                                && (key_span("secret").is_none() || key_span("key").is_none())
                            {
                                let (has, lacks, example) = if key_span("secret").is_some() {
                                    ("secret", "key", "key=\"password\"")
                                } else {
                                    ("key", "secret", "secret=\"{{resource.id}}-auth\"")
                                };
                                self.push(
                                    Diagnostic::error(
                                        codes::PROVISIONER_OUTPUTS,
                                        format!("output `{}` has `{has}=` without `{lacks}=`", oname.value),
                                    )
                                    .label(kinds[0].1, format!("needs `{lacks}=`"))
                                    .help(format!("add {example}: a secret output names the secret and its key")),
                                );
                            }
                            value
                                .map(OutputSource::Value)
                                .or(expr.map(OutputSource::Expr))
                                .or(secret
                                    .zip(key)
                                    .map(|(name, key)| OutputSource::Secret { name, key }))
                                .unwrap_or_else(fallback)
                        }
                    };
                    if let Some(first) = p.outputs.iter().find(|o| o.name.value == oname.value) {
                        let first = first.name.span;
                        self.push(
                            Diagnostic::error(
                                codes::PROVISIONER_OUTPUTS,
                                format!("output `{}` is defined twice", oname.value),
                            )
                            .label(oname.span, "defined again here")
                            .related(first, "first defined here"),
                        );
                        continue;
                    }
                    p.outputs.push(ProvisionerOutput {
                        name: oname,
                        span: ov.span,
                        source,
                    });
                }
                _ => self.unknown_child(
                    c,
                    "provisioner",
                    &["match", "provider", "terraform", "kubernetes", "output"],
                ),
            }
        }
        Some(p)
    }

    fn policy(&mut self, node: &KdlNode) -> Option<Policy> {
        let v = self.view(node);
        self.finish(&v, &[]);
        let name = self.item_name(&v, "policy", "policy NAME { … }")?;
        let mut p = Policy {
            name,
            span: v.span,
            description: None,
            severity: None,
            target: None,
            when: None,
            assert: None,
            message: None,
            message_expr: None,
        };
        let mut seen = HashMap::new();
        const KIDS: &[&str] = &[
            "description",
            "severity",
            "target",
            "when",
            "assert",
            "message",
            "message-expr",
        ];
        for c in v.children() {
            match c.name().value() {
                n if KIDS.contains(&n) && !self.once(&mut seen, c) => {}
                "description" => p.description = self.single_string(c, "description \"…\""),
                "severity" => {
                    if let Some((_, val)) = self.single(c, "severity error") {
                        p.severity =
                            self.enumerated(val, "severity", &["error", "warning", "info"], |s| {
                                match s {
                                    "error" => Some(Severity::Error),
                                    "warning" => Some(Severity::Warning),
                                    "info" => Some(Severity::Info),
                                    _ => None,
                                }
                            });
                    }
                }
                "target" => p.target = self.policy_target(c),
                "when" => p.when = self.single_string(c, "when \"env.type == 'production'\""),
                "assert" => p.assert = self.single_string(c, "assert \"object.replicas >= 2\""),
                "message" => p.message = self.single_string(c, "message \"…\""),
                "message-expr" => {
                    p.message_expr = self.single_string(c, "message-expr \"'…' + object.name\"")
                }
                _ => self.unknown_child(c, "policy", KIDS),
            }
        }
        let what = format!("policy `{}`", p.name.value);
        let sp = p.name.span;
        self.require_child(
            &v,
            &seen,
            &p.severity,
            "severity",
            &what,
            sp,
            "severity error",
        );
        self.require_child(&v, &seen, &p.target, "target", &what, sp, "target workload");
        self.require_child(
            &v,
            &seen,
            &p.assert,
            "assert",
            &what,
            sp,
            "assert \"object.replicas >= 2\"",
        );
        self.require_child(&v, &seen, &p.message, "message", &what, sp, "message \"…\"");
        Some(p)
    }

    fn policy_target(&mut self, node: &KdlNode) -> Option<Spanned<PolicyTarget>> {
        let mut v = self.view(node);
        self.no_children(&v);
        if !self.args_count(&v, 1, 1, "target workload") {
            return None;
        }
        let kind = self.string(v.args[0])?;
        const TARGETS: &[&str] = &[
            "workload",
            "resource",
            "api",
            "environment",
            "team",
            "kubernetes",
            "terraform",
        ];
        let t = match kind.value.as_str() {
            "workload" => PolicyTarget::Workload,
            "resource" => PolicyTarget::Resource,
            "api" => PolicyTarget::Api,
            "environment" => PolicyTarget::Environment,
            "team" => PolicyTarget::Team,
            "kubernetes" => {
                let k = self.prop(&mut v, "kind").and_then(|x| self.string(x));
                self.finish(&v, &["kind"]);
                let Some(k) = k else {
                    self.require(
                        &None::<()>,
                        "kind",
                        "`target kubernetes`",
                        v.span,
                        "kind=Deployment",
                    );
                    return None;
                };
                PolicyTarget::Kubernetes { kind: k }
            }
            "terraform" => {
                let k = self.prop(&mut v, "type").and_then(|x| self.string(x));
                self.finish(&v, &["type"]);
                let Some(k) = k else {
                    self.require(
                        &None::<()>,
                        "type",
                        "`target terraform`",
                        v.span,
                        "type=aws_s3_bucket",
                    );
                    return None;
                };
                PolicyTarget::Terraform { ty: k }
            }
            other => {
                let other = other.to_string();
                self.push(
                    Diagnostic::error(
                        codes::INVALID_ENUM,
                        format!("`{other}` is not a policy target"),
                    )
                    .label(kind.span, "unknown target")
                    .help(
                        did_you_mean(&other, TARGETS.iter().copied()).unwrap_or_else(|| {
                            if other.starts_with("aws_") || other.starts_with("google_") || other.starts_with("azurerm_") {
                                format!("for rendered Terraform resources write `target terraform type={other}`")
                            } else if K8S_KINDS.iter().any(|k| k.eq_ignore_ascii_case(&other)) {
                                let kind = K8S_KINDS.iter().find(|k| k.eq_ignore_ascii_case(&other)).copied().unwrap_or("Deployment");
                                format!("for rendered Kubernetes objects write `target kubernetes kind={kind}`")
                            } else {
                                format!("targets are {}", list(TARGETS))
                            }
                        }),
                    ),
                );
                return None;
            }
        };
        if !matches!(
            t,
            PolicyTarget::Kubernetes { .. } | PolicyTarget::Terraform { .. }
        ) {
            self.finish(&v, &[]);
        }
        Some(Spanned::new(t, v.span))
    }

    fn rule(&mut self, node: &KdlNode) -> Option<Rule> {
        let mut v = self.view(node);
        self.no_children(&v);
        let id = self.item_name(&v, "rule", "rule RULE-ID severity=error")?;
        let severity = self.prop(&mut v, "severity").and_then(|x| {
            self.enumerated(
                x,
                "severity",
                &["off", "info", "warning", "error"],
                |s| match s {
                    "off" => Some(RuleSeverity::Off),
                    "info" => Some(RuleSeverity::Info),
                    "warning" => Some(RuleSeverity::Warning),
                    "error" => Some(RuleSeverity::Error),
                    _ => None,
                },
            )
        });
        let params = self.rest_props(&mut v);
        Some(Rule {
            id,
            span: v.span,
            severity,
            params,
        })
    }

    fn waiver(&mut self, node: &KdlNode) -> Option<Waiver> {
        let mut v = self.view(node);
        self.no_children(&v);
        let target = self.item_name(
            &v,
            "rule or policy",
            "waiver RULE-OR-POLICY workload=… expires=\"2027-03-31\" reason=\"…\"",
        )?;
        let mut scope = |lx: &mut Self, key: &str, what: &str| {
            lx.prop(&mut v, key).and_then(|x| lx.name(x, what))
        };
        let workload = scope(self, "workload", "workload");
        let resource = scope(self, "resource", "resource");
        let env = scope(self, "env", "environment");
        let team = scope(self, "team", "team");
        let api = scope(self, "api", "API");
        let expires =
            self.prop(&mut v, "expires")
                .and_then(|x| self.string(x))
                .and_then(|s| match values::date(&s.value) {
                    Some(d) => Some(Spanned::new(d, s.span)),
                    None => {
                        self.push(
                            Diagnostic::error(
                                codes::INVALID_DATE,
                                format!("`{}` is not a date", s.value),
                            )
                            .label(s.span, values::date_problem(&s.value))
                            .help(match values::date_fix(&s.value) {
                                Some(fixed) => format!("write expires=\"{fixed}\""),
                                None => "write the date as YYYY-MM-DD, e.g. expires=\"2027-03-31\""
                                    .into(),
                            }),
                        );
                        None
                    }
                });
        let reason = self.prop(&mut v, "reason").and_then(|x| self.string(x));
        self.finish(
            &v,
            &[
                "workload", "resource", "env", "team", "api", "expires", "reason",
            ],
        );
        if !given_prop(&v, "expires") {
            self.require(
                &None::<()>,
                "expires",
                &format!("waiver `{}`", target.value),
                v.span,
                "expires=\"2027-03-31\"",
            );
        }
        if reason.as_ref().is_none_or(|r| r.value.trim().is_empty()) {
            self.push(
                Diagnostic::error(
                    codes::MISSING_FIELD,
                    format!("waiver `{}` has no reason", target.value),
                )
                .label(
                    reason.as_ref().map_or(v.span, |r| r.span),
                    "a waiver needs a reason",
                )
                .help("add reason=\"TICKET-123: why this is acceptable for now\""),
            );
        }
        Some(Waiver {
            target,
            span: v.span,
            workload,
            resource,
            env,
            team,
            api,
            expires,
            reason,
        })
    }
}

/// Map a byte range of a decoded KDL string to its source span (exact when unescaped).
pub fn inner_span(src: &str, s: &Spanned<String>, range: (usize, usize)) -> Span {
    let raw = src
        .get(s.span.start as usize..s.span.end as usize)
        .unwrap_or("");
    let hashes = raw.len() - raw.trim_start_matches('#').len();
    let quote_len = if raw[hashes..].starts_with("\"\"\"") {
        3
    } else if raw[hashes..].starts_with('"') {
        1
    } else {
        0
    };
    let open = hashes + quote_len;
    if quote_len == 1 && raw.get(open..open + s.value.len()) == Some(s.value.as_str()) {
        return s.span.sub(open + range.0, open + range.1);
    }
    if quote_len == 0 && raw == s.value {
        return s.span.sub(range.0, range.1);
    }
    s.span
}

fn scalar(v: &KdlValue) -> Scalar {
    match v {
        KdlValue::String(s) => Scalar::Str(s.clone()),
        KdlValue::Integer(i) => i64::try_from(*i)
            .map(Scalar::Int)
            .unwrap_or(Scalar::Float(*i as f64)),
        KdlValue::Float(f) => Scalar::Float(*f),
        KdlValue::Bool(b) => Scalar::Bool(*b),
        KdlValue::Null => Scalar::Null,
    }
}

/// Check one value against a param declaration: (message, help) on failure.
pub fn check_param_value(p: &ParamDecl, v: &Scalar) -> Result<(), (String, Option<String>)> {
    match (p.ty.value, v) {
        (ParamType::String, Scalar::Str(s)) => {
            if let Some(one_of) = &p.one_of {
                if !one_of.value.iter().any(|o| o == s) {
                    return Err((
                        format!(
                            "must be one of {}, found \"{s}\"",
                            list_owned(&one_of.value)
                        ),
                        did_you_mean(s, one_of.value.iter().map(String::as_str)).or_else(|| {
                            Some(format!(
                                "write {}={}",
                                p.name.value,
                                one_of.value.first().map_or("…", String::as_str)
                            ))
                        }),
                    ));
                }
            }
            Ok(())
        }
        (ParamType::Int, Scalar::Int(i)) => {
            let range = match (&p.min, &p.max) {
                (Some(lo), Some(hi)) => format!("use a value from {} to {}", lo.value, hi.value),
                (Some(lo), None) => format!("use {} or more", lo.value),
                (None, Some(hi)) => format!("use {} or less", hi.value),
                (None, None) => String::new(),
            };
            if let Some(min) = &p.min {
                if *i < min.value {
                    return Err((
                        format!("must be at least {}, found {i}", min.value),
                        Some(range),
                    ));
                }
            }
            if let Some(max) = &p.max {
                if *i > max.value {
                    return Err((
                        format!("must be at most {}, found {i}", max.value),
                        Some(range),
                    ));
                }
            }
            Ok(())
        }
        (ParamType::Bool, Scalar::Bool(_)) => Ok(()),
        (ty, Scalar::Str(s)) if ty == ParamType::Int && s.parse::<i64>().is_ok() => Err((
            "is an int, found a string".to_string(),
            Some(format!("remove the quotes: {s}")),
        )),
        (ParamType::String, other) => {
            let text = other.to_text();
            let help = match &p.one_of {
                Some(one_of) if !one_of.value.contains(&text) => {
                    let pick = one_of
                        .value
                        .iter()
                        .find(|o| text.starts_with(o.as_str()))
                        .or(one_of.value.first())
                        .map_or("…", String::as_str);
                    format!(
                        "quote it and use one of {}: {}=\"{pick}\"",
                        list_owned(&one_of.value),
                        p.name.value
                    )
                }
                _ => format!("quote it: {}=\"{text}\"", p.name.value),
            };
            Err((
                format!("is a string, found {}", article(other.type_name())),
                Some(help),
            ))
        }
        (ty, other) => Err((
            format!(
                "is {} {}, found {}",
                if ty == ParamType::Int { "an" } else { "a" },
                ty.as_str(),
                article(other.type_name())
            ),
            (ty == ParamType::Bool).then(|| "write #true or #false".to_string()),
        )),
    }
}

/// "a string", "an integer".
fn article(noun: &str) -> String {
    match noun {
        "null" => "#null".into(),
        n if n.starts_with(['a', 'e', 'i', 'o', 'u']) => format!("an {n}"),
        n => format!("a {n}"),
    }
}

fn plural_n(n: usize) -> String {
    match n {
        1 => "an".into(),
        n => n.to_string(),
    }
}

/// "`a`, `b` and `c`"
pub fn list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => format!("`{one}`"),
        [init @ .., last] => format!(
            "{} and `{last}`",
            init.iter()
                .map(|i| format!("`{i}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn list_owned(items: &[String]) -> String {
    list(&items.iter().map(String::as_str).collect::<Vec<_>>())
}

/// The span of a value that a layer sets (not removes).
fn set_span<T>(p: &Option<Spanned<Patch<T>>>) -> Option<Span> {
    match p {
        Some(Spanned {
            value: Patch::Set(_),
            span,
        }) => Some(*span),
        _ => None,
    }
}

/// Every node name the language knows, anywhere.
fn known_node(name: &str) -> bool {
    const OTHERS: &[&str] = &[
        "title",
        "email",
        "parent",
        "member",
        "type",
        "region",
        "namespace",
        "ingress-class",
        "labels",
        "terraform",
        "required-version",
        "provider",
        "backend",
        "definition",
        "param",
        "output",
        "provisioner",
        "match",
        "kubernetes",
        "severity",
        "target",
        "assert",
        "message",
        "message-expr",
        "domain",
    ];
    TOP_LEVEL.contains(&name)
        || WORKLOAD_CHILDREN.contains(&name)
        || CONTAINER_CHILDREN.contains(&name)
        || OTHERS.contains(&name)
}

/// True when a child of `v` that is not a known node looks like a misspelling of `what`.
fn misspelt_child(v: &View<'_>, what: &str) -> bool {
    v.children().iter().any(|c| {
        let n = c.name().value();
        !known_node(n) && crate::diagnostics::suggest(n, [what]).is_some()
    })
}

/// True when property `key` was given, or an unknown property looks like a misspelling of it.
fn given_prop(v: &View<'_>, key: &str) -> bool {
    v.props.iter().any(|(k, _, used)| {
        k.value == key || (!used && crate::diagnostics::suggest(&k.value, [key]).is_some())
    })
}
