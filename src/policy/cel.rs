//! Custom `policy` nodes in CEL (the `cel` crate, with its strings extension).
//!
//! Each expression is compiled once (T502 at the offending character when the string's
//! source allows it), checked for names other than `object` and `env`, and then evaluated per
//! target item: `when` guards, `assert` must be true, `message-expr` (optional) words the
//! failure. Evaluation errors are T503, grouped per expression and error with the items they
//! happened for.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use ::cel::common::ast::{EntryExpr, Expr, IdedExpr};
use ::cel::{Context, Env, ExecutionError, Program, Value as CelValue};

use crate::ast::{self, PolicyTarget, Spanned};
use crate::diagnostics::{codes, did_you_mean, Diagnostic, Severity};
use crate::model::Model;
use crate::source::{Sources, Span};

use super::rendered::Format;
use super::{objects, EnvCx, Finding, Scope};

/// The CEL environment: the standard library plus the strings extension, built once.
fn cel_env() -> Arc<Env> {
    static ENV: OnceLock<Arc<Env>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Env::stdlib();
        // Registration only fails on a name clash inside the crate's own libraries.
        let _ = env.add_extension(::cel::extensions::strings);
        Arc::new(env)
    })
    .clone()
}

/// What a policy runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target<'a> {
    Workload,
    Resource,
    Api,
    Environment,
    Team,
    Kubernetes(&'a str),
    Terraform(&'a str),
}

/// One compiled expression and where it was written.
struct Expression {
    program: Program,
    span: Span,
    /// `when`, `assert` or `message-expr`.
    which: &'static str,
}

/// A policy whose expressions all compiled.
pub(crate) struct Compiled<'a> {
    policy: &'a ast::Policy,
    target: Target<'a>,
    severity: Severity,
    when: Option<Expression>,
    assert: Expression,
    message_expr: Option<Expression>,
}

/// An evaluation error of one expression on one item.
#[derive(Debug, Clone)]
pub(crate) struct EvalError {
    policy: String,
    which: &'static str,
    span: Span,
    message: String,
    missing_key: bool,
    item: String,
    env: Option<String>,
}

/// Names CEL itself gives meaning to as identifiers (type names for `type(x) == int`).
const CEL_TYPE_NAMES: &[&str] = &[
    "int",
    "uint",
    "double",
    "bool",
    "string",
    "bytes",
    "list",
    "map",
    "null_type",
    "type",
];

/// Compile every policy; expressions that do not compile are reported (T502) and their
/// policy is skipped.
pub(crate) fn compile<'a>(
    model: &'a Model,
    sources: &Sources,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Compiled<'a>> {
    let mut out = Vec::new();
    for p in model.policies.values() {
        let (Some(target), Some(assert), Some(severity)) = (&p.target, &p.assert, &p.severity)
        else {
            continue;
        };
        let target = match &target.value {
            PolicyTarget::Workload => Target::Workload,
            PolicyTarget::Resource => Target::Resource,
            PolicyTarget::Api => Target::Api,
            PolicyTarget::Environment => Target::Environment,
            PolicyTarget::Team => Target::Team,
            PolicyTarget::Kubernetes { kind } => Target::Kubernetes(&kind.value),
            PolicyTarget::Terraform { ty } => Target::Terraform(&ty.value),
        };
        let has_env = !matches!(target, Target::Team | Target::Api);
        let mut ok = true;
        let mut one = |s: &Spanned<String>, which: &'static str| -> Option<Expression> {
            match compile_one(p, s, which, has_env, sources) {
                Ok(program) => Some(Expression {
                    program,
                    span: s.span,
                    which,
                }),
                Err(d) => {
                    diags.push(*d);
                    ok = false;
                    None
                }
            }
        };
        let when = p.when.as_ref().and_then(|s| one(s, "when"));
        let assert = one(assert, "assert");
        let message_expr = p.message_expr.as_ref().and_then(|s| one(s, "message-expr"));
        if let (true, Some(assert)) = (ok, assert) {
            out.push(Compiled {
                policy: p,
                target,
                severity: severity.value,
                when,
                assert,
                message_expr,
            });
        }
    }
    out
}

fn compile_one(
    p: &ast::Policy,
    s: &Spanned<String>,
    which: &'static str,
    has_env: bool,
    sources: &Sources,
) -> Result<Program, Box<Diagnostic>> {
    let header = |what: &str| format!("policy `{}`: `{which}` {what}", p.name.value);
    let program = match cel_env().compile(&s.value) {
        Ok(program) => program,
        Err(errs) => {
            let first = errs.errors.first();
            let (msg, at) = first.map_or_else(
                || ("not a CEL expression".to_string(), None),
                |e| {
                    (
                        parse_message(&e.msg),
                        char_offset(&s.value, e.pos.0, e.pos.1),
                    )
                },
            );
            let span = at.map_or(s.span, |a| point(s, a, sources));
            return Err(Box::new(
                Diagnostic::error(codes::CEL_COMPILE, header("is not valid CEL"))
                    .label(span, msg)
                    .maybe_help(syntax_help(&s.value)),
            ));
        }
    };
    let mut free = Vec::new();
    free_idents(program.expression(), &mut Vec::new(), &mut free);
    for (name, id) in free {
        if name == "object" || (name == "env" && has_env) || CEL_TYPE_NAMES.contains(&name) {
            continue;
        }
        let at = program
            .source_info()
            .offset_for(id)
            .map(|(start, _)| byte_offset(&s.value, start as usize));
        let span = at.map_or(s.span, |a| {
            let sp = point(s, a, sources);
            widen(sp, name.len(), s, a)
        });
        let d = if name == "env" {
            Diagnostic::error(
                codes::CEL_COMPILE,
                header("uses `env`, which team and api policies do not have"),
            )
            .label(span, "no environment here")
            .help("team and API policies run once for the whole tree; remove the `env` condition")
        } else {
            let known: &[&str] = if has_env {
                &["object", "env"]
            } else {
                &["object"]
            };
            Diagnostic::error(
                codes::CEL_COMPILE,
                header(&format!("uses unknown name `{name}`")),
            )
            .label(span, "not defined")
            .help(
                did_you_mean(name, known.iter().copied()).unwrap_or_else(|| {
                    format!(
                        "a policy sees {}",
                        if has_env {
                            "`object` and `env`"
                        } else {
                            "`object`"
                        }
                    )
                }),
            )
        };
        return Err(Box::new(d));
    }
    Ok(program)
}

/// The parser's message, without ANTLR's long lists of expected tokens.
fn parse_message(msg: &str) -> String {
    let msg = msg.strip_prefix("Syntax error: ").unwrap_or(msg);
    if msg.starts_with("mismatched input '<EOF>'") || msg.contains("at input '<EOF>'") {
        return "the expression ends too early".into();
    }
    match msg.find(" expecting {") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Hints for habits from other languages.
fn syntax_help(src: &str) -> Option<String> {
    let padded = format!(" {src} ");
    if padded.contains(" and ") || padded.contains(" or ") {
        return Some("CEL writes `&&` and `||` for `and` and `or`".into());
    }
    if padded.contains(" not ") {
        return Some("CEL writes `!` for `not`".into());
    }
    let single_eq = src.char_indices().any(|(i, c)| {
        c == '='
            && !matches!(src[..i].chars().last(), Some('=' | '!' | '<' | '>'))
            && !src[i + 1..].starts_with('=')
    });
    if single_eq {
        return Some("compare with `==`; CEL has no assignment".into());
    }
    None
}

/// Identifiers not bound by a comprehension (`all(c, …)` binds `c`), with their expression ids.
fn free_idents<'e>(e: &'e IdedExpr, bound: &mut Vec<&'e str>, out: &mut Vec<(&'e str, u64)>) {
    match &e.expr {
        Expr::Ident(name) => {
            if !name.starts_with('@') && !bound.contains(&name.as_str()) {
                out.push((name, e.id));
            }
        }
        Expr::Call(call) => {
            if let Some(t) = &call.target {
                free_idents(t, bound, out);
            }
            for a in &call.args {
                free_idents(a, bound, out);
            }
        }
        Expr::Select(sel) => free_idents(&sel.operand, bound, out),
        Expr::List(list) => {
            for x in &list.elements {
                free_idents(x, bound, out);
            }
        }
        Expr::Map(map) => {
            for entry in &map.entries {
                match &entry.expr {
                    EntryExpr::StructField(f) => free_idents(&f.value, bound, out),
                    EntryExpr::MapEntry(m) => {
                        free_idents(&m.key, bound, out);
                        free_idents(&m.value, bound, out);
                    }
                }
            }
        }
        Expr::Struct(st) => {
            for entry in &st.entries {
                match &entry.expr {
                    EntryExpr::StructField(f) => free_idents(&f.value, bound, out),
                    EntryExpr::MapEntry(m) => {
                        free_idents(&m.key, bound, out);
                        free_idents(&m.value, bound, out);
                    }
                }
            }
        }
        Expr::Comprehension(c) => {
            free_idents(&c.iter_range, bound, out);
            free_idents(&c.accu_init, bound, out);
            let depth = bound.len();
            bound.push(&c.iter_var);
            if let Some(v) = &c.iter_var2 {
                bound.push(v);
            }
            bound.push(&c.accu_var);
            free_idents(&c.loop_cond, bound, out);
            free_idents(&c.loop_step, bound, out);
            free_idents(&c.result, bound, out);
            bound.truncate(depth);
        }
        Expr::Literal(_) | Expr::Unspecified => {}
    }
}

/// Byte offset in `src` of a 1-based line and 1-based column counted in characters.
fn char_offset(src: &str, line: isize, column: isize) -> Option<usize> {
    if line < 1 || column < 1 {
        return None;
    }
    let mut start = 0;
    for (i, l) in src.split_inclusive('\n').enumerate() {
        if i + 1 == line as usize {
            let col = column as usize - 1;
            let off = l.char_indices().nth(col).map_or(l.len(), |(b, _)| b);
            return Some((start + off).min(src.len()));
        }
        start += l.len();
    }
    None
}

/// Byte offset of character index `chars` in `src`.
fn byte_offset(src: &str, chars: usize) -> usize {
    src.char_indices().nth(chars).map_or(src.len(), |(b, _)| b)
}

/// A one-character span at byte offset `at` of the expression, when the string's source is
/// a plain quoted string whose text is the value; else the whole string.
fn point(s: &Spanned<String>, at: usize, sources: &Sources) -> Span {
    let src = sources.slice(s.span);
    if src.len() == s.value.len() + 2 && src.get(1..src.len() - 1) == Some(s.value.as_str()) {
        let len = s.value[at..].chars().next().map_or(0, char::len_utf8);
        return super::inner_span(s, at, len);
    }
    s.span
}

/// Widen a one-character point to `len` bytes when it lies inside the string.
fn widen(sp: Span, len: usize, s: &Spanned<String>, at: usize) -> Span {
    if sp == s.span || at + len > s.value.len() {
        return sp;
    }
    super::inner_span(s, at, len)
}

/// A JSON value as a CEL value: integers stay `int`, objects become maps with string keys.
pub(crate) fn to_cel(v: &serde_json::Value) -> CelValue {
    use serde_json::Value as J;
    match v {
        J::Null => CelValue::Null,
        J::Bool(b) => CelValue::Bool(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => CelValue::Int(i),
            None => match n.as_u64() {
                Some(u) => CelValue::UInt(u),
                None => CelValue::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
        },
        J::String(s) => CelValue::String(Arc::new(s.clone())),
        J::Array(items) => CelValue::List(Arc::new(items.iter().map(to_cel).collect())),
        J::Object(m) => {
            let map: HashMap<String, CelValue> =
                m.iter().map(|(k, v)| (k.clone(), to_cel(v))).collect();
            CelValue::Map(::cel::objects::Map::from(map))
        }
    }
}

/// A CEL value's type name, for messages.
fn type_name(v: &CelValue) -> String {
    v.type_of().to_string()
}

impl Compiled<'_> {
    /// True for policies that run once per environment (all but team and api).
    pub fn per_environment(&self) -> bool {
        !matches!(self.target, Target::Team | Target::Api)
    }

    fn eval(
        &self,
        e: &Expression,
        object: &CelValue,
        env: Option<&CelValue>,
    ) -> Result<CelValue, ExecutionError> {
        let mut cx = Context::with_env(cel_env());
        cx.add_variable_from_value("object", object.clone());
        if let Some(env) = env {
            cx.add_variable_from_value("env", env.clone());
        }
        e.program.execute(&cx)
    }

    /// Evaluate on one item: `Some(message)` when the policy fails for it.
    fn check(
        &self,
        object: &CelValue,
        env: Option<&CelValue>,
        item: &str,
        env_name: Option<&str>,
        errors: &mut Vec<EvalError>,
    ) -> Option<String> {
        let error = |e: &Expression, message: String, missing_key: bool| EvalError {
            policy: self.policy.name.value.clone(),
            which: e.which,
            span: e.span,
            message,
            missing_key,
            item: item.to_string(),
            env: env_name.map(str::to_string),
        };
        let boolean = |e: &Expression, errors: &mut Vec<EvalError>| -> Option<bool> {
            match self.eval(e, object, env) {
                Ok(CelValue::Bool(b)) => Some(b),
                Ok(other) => {
                    errors.push(error(
                        e,
                        format!("it must be a bool, but it is a {}", type_name(&other)),
                        false,
                    ));
                    None
                }
                Err(err) => {
                    let missing = matches!(err, ExecutionError::NoSuchKey(_));
                    errors.push(error(e, err.to_string(), missing));
                    None
                }
            }
        };
        if let Some(w) = &self.when {
            if boolean(w, errors) != Some(true) {
                return None;
            }
        }
        if boolean(&self.assert, errors) != Some(false) {
            return None;
        }
        let fallback = self.policy.message.as_ref().map_or_else(
            || format!("policy `{}` failed", self.policy.name.value),
            |m| m.value.clone(),
        );
        let Some(m) = &self.message_expr else {
            return Some(fallback);
        };
        match self.eval(m, object, env) {
            Ok(CelValue::String(s)) => Some(s.to_string()),
            Ok(other) => {
                errors.push(error(
                    m,
                    format!("it must be a string, but it is a {}", type_name(&other)),
                    false,
                ));
                Some(fallback)
            }
            Err(err) => {
                let missing = matches!(err, ExecutionError::NoSuchKey(_));
                errors.push(error(m, err.to_string(), missing));
                Some(fallback)
            }
        }
    }

    fn finding(
        &self,
        message: String,
        span: Span,
        label: String,
        env: Option<&str>,
        scope: Scope,
    ) -> Finding {
        let mut d = Diagnostic::new(self.policy.name.value.clone(), self.severity, message)
            .label(span, label)
            .related(
                self.policy.name.span,
                format!("policy `{}` is declared here", self.policy.name.value),
            );
        d = d.related(self.assert.span, "this assertion is false");
        Finding {
            diag: d,
            env: env.map(str::to_string),
            scope,
        }
    }

    /// Run over one environment's IR items or rendered objects.
    pub fn run_env(&self, cx: &EnvCx<'_>, out: &mut Vec<Finding>, errors: &mut Vec<EvalError>) {
        let env_json = objects::environment(cx.env, cx.model);
        let env_val = to_cel(&env_json);
        let env_name = Some(cx.env.name.as_str());
        let name = &self.policy.name.value;
        let mut one = |obj: &serde_json::Value, item: String, span: Span, label: String, scope| {
            if let Some(msg) = self.check(&to_cel(obj), Some(&env_val), &item, env_name, errors) {
                out.push(self.finding(msg, span, label, env_name, scope));
            }
        };
        match self.target {
            Target::Workload => {
                for w in &cx.env.workloads {
                    one(
                        &objects::workload(w, cx.env),
                        format!("workload `{}`", w.name),
                        cx.workload_span(w),
                        format!("workload `{}` violates `{name}`", w.name),
                        Scope::workload(w),
                    );
                }
            }
            Target::Resource => {
                for r in cx.env.resources.values() {
                    one(
                        &objects::resource(r),
                        format!("resource `{}`", r.id),
                        r.span,
                        format!("resource `{}` violates `{name}`", r.id),
                        Scope::resource(r, cx.env),
                    );
                }
            }
            Target::Environment => one(
                &env_json,
                format!("environment `{}`", cx.env.name),
                cx.env.span,
                format!("environment `{}` violates `{name}`", cx.env.name),
                Scope::default(),
            ),
            Target::Kubernetes(kind) | Target::Terraform(kind) => {
                let format = if matches!(self.target, Target::Kubernetes(_)) {
                    Format::Kubernetes
                } else {
                    Format::Terraform
                };
                for o in cx.rendered.of(format, kind) {
                    let from = match o.origin {
                        super::rendered::Origin::Workload(_) => "this workload",
                        super::rendered::Origin::Resource(_) => "this resource",
                        super::rendered::Origin::Environment => "this environment",
                    };
                    one(
                        &o.value,
                        o.describe(),
                        o.span,
                        format!("{}, rendered from {from}, violates `{name}`", o.describe()),
                        Scope::origin(&o.origin, cx.env),
                    );
                }
            }
            Target::Team | Target::Api => {}
        }
    }

    /// Run a team or API policy over the model.
    pub fn run_model(&self, model: &Model, out: &mut Vec<Finding>, errors: &mut Vec<EvalError>) {
        let name = &self.policy.name.value;
        match self.target {
            Target::Team => {
                for t in model.teams.values() {
                    let item = format!("team `{}`", t.name.value);
                    let obj = to_cel(&objects::team(t, model));
                    if let Some(msg) = self.check(&obj, None, &item, None, errors) {
                        let scope = Scope {
                            teams: vec![t.name.value.clone()],
                            ..Scope::default()
                        };
                        out.push(self.finding(
                            msg,
                            t.name.span,
                            format!("{item} violates `{name}`"),
                            None,
                            scope,
                        ));
                    }
                }
            }
            Target::Api => {
                for a in model.apis.values() {
                    let item = format!("API `{}`", a.name.value);
                    let obj = to_cel(&objects::api(a, model));
                    if let Some(msg) = self.check(&obj, None, &item, None, errors) {
                        let scope = Scope {
                            apis: vec![a.name.value.clone()],
                            teams: a.owner.iter().map(|o| o.value.clone()).collect(),
                            ..Scope::default()
                        };
                        out.push(self.finding(
                            msg,
                            a.name.span,
                            format!("{item} violates `{name}`"),
                            None,
                            scope,
                        ));
                    }
                }
            }
            _ => {}
        }
    }
}

/// T503 diagnostics: one per policy expression and error, naming the items it happened for.
pub(crate) fn eval_diagnostics(errors: Vec<EvalError>) -> Vec<Diagnostic> {
    // (policy, which, span, message) -> [(item, [envs])], in first-seen order.
    type Key = (String, &'static str, Span, String, bool);
    type Items = Vec<(String, Vec<String>)>;
    let mut groups: Vec<(Key, Items)> = Vec::new();
    for e in errors {
        let key = (e.policy, e.which, e.span, e.message, e.missing_key);
        let idx = match groups.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                groups.push((key, Vec::new()));
                groups.len() - 1
            }
        };
        let items = &mut groups[idx].1;
        match items.iter_mut().find(|(i, _)| *i == e.item) {
            Some((_, envs)) => envs.extend(e.env),
            None => items.push((e.item, e.env.into_iter().collect())),
        }
    }
    groups
        .into_iter()
        .map(|((policy, which, span, message, missing), items)| {
            const SHOWN: usize = 5;
            let mut list: Vec<String> = items
                .iter()
                .take(SHOWN)
                .map(|(item, envs)| {
                    if envs.is_empty() {
                        item.clone()
                    } else {
                        format!("{item} in {}", envs.join(", "))
                    }
                })
                .collect();
            if items.len() > SHOWN {
                list.push(format!("{} more", items.len() - SHOWN));
            }
            let d = Diagnostic::error(
                codes::CEL_EVAL,
                format!("policy `{policy}`: `{which}` failed to evaluate: {message}"),
            )
            .label(span, "this expression failed")
            .note(format!("while checking {}", list.join("; ")));
            if missing {
                d.help("test an optional field with `has(object.field)` before reading it, e.g. in `when`")
            } else if which == "assert" || which == "when" {
                d.help(format!("`{which}` must evaluate to a bool for every item"))
            } else {
                d
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(src: &str, object: serde_json::Value) -> Result<CelValue, ExecutionError> {
        let program = cel_env().compile(src).expect("compiles");
        let mut cx = Context::with_env(cel_env());
        cx.add_variable_from_value("object", to_cel(&object));
        program.execute(&cx)
    }

    #[test]
    fn integers_stay_int_and_strings_extension_is_there() {
        let obj = serde_json::json!({"replicas": 2, "name": "Web", "tags": ["a", "b"]});
        assert_eq!(
            run("object.replicas >= 2", obj.clone()),
            Ok(CelValue::Bool(true))
        );
        assert_eq!(
            run("object.name.lowerAscii() == 'web'", obj.clone()),
            Ok(CelValue::Bool(true))
        );
        assert_eq!(
            run("object.tags.all(t, t.size() == 1)", obj.clone()),
            Ok(CelValue::Bool(true))
        );
        assert!(matches!(
            run("object.missing == 1", obj),
            Err(ExecutionError::NoSuchKey(_))
        ));
    }

    #[test]
    fn free_identifiers_skip_comprehension_variables() {
        let p = cel_env()
            .compile("object.containers.all(c, c.image != '') && env.type == 'production' && obj.x")
            .unwrap();
        let mut free = Vec::new();
        free_idents(p.expression(), &mut Vec::new(), &mut free);
        let mut names: Vec<&str> = free.iter().map(|(n, _)| *n).collect();
        names.sort();
        names.dedup();
        assert_eq!(names, ["env", "obj", "object"]);
        let (_, id) = free.iter().find(|(n, _)| *n == "obj").unwrap();
        let (start, _) = p.source_info().offset_for(*id).unwrap();
        assert_eq!(
            start as usize,
            "object.containers.all(c, c.image != '') && env.type == 'production' && ".len()
        );
    }

    /// Every CEL expression in docs/policies.md and the acme example compiles and uses only
    /// `object` and `env`.
    #[test]
    fn documented_expressions_compile() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut n = 0;
        for file in ["docs/policies.md", "specs/acme/platform/policies.kdl"] {
            let text = std::fs::read_to_string(dir.join(file)).unwrap();
            for line in text.lines() {
                let line = line.trim();
                let Some(rest) = ["when \"", "assert \"", "message-expr \""]
                    .iter()
                    .find_map(|p| line.strip_prefix(p))
                else {
                    continue;
                };
                let Some(expr) = rest
                    .split("\"  //")
                    .next()
                    .and_then(|r| r.trim_end().strip_suffix('"'))
                else {
                    continue;
                };
                let p = cel_env()
                    .compile(expr)
                    .unwrap_or_else(|e| panic!("{file}: `{expr}` does not compile: {e}"));
                let mut free = Vec::new();
                free_idents(p.expression(), &mut Vec::new(), &mut free);
                for (name, _) in free {
                    assert!(
                        ["object", "env"].contains(&name) || CEL_TYPE_NAMES.contains(&name),
                        "{file}: `{expr}` uses `{name}`"
                    );
                }
                n += 1;
            }
        }
        assert!(n >= 10, "found only {n} expressions");
    }

    #[test]
    fn syntax_error_positions_are_one_based_columns() {
        let err = cel_env().compile("object.replicas >= ").unwrap_err();
        let e = &err.errors[0];
        assert_eq!(
            char_offset("object.replicas >= ", e.pos.0, e.pos.1),
            Some(19)
        );
        let err = cel_env().compile("object.a = 2").unwrap_err();
        let e = &err.errors[0];
        assert_eq!(char_offset("object.a = 2", e.pos.0, e.pos.1), Some(9));
        assert_eq!(
            syntax_help("object.a = 2").as_deref(),
            Some("compare with `==`; CEL has no assignment")
        );
    }
}
