//! A direct renderer over the Handlebars crate's compiled template tree, for the subset that
//! provisioner templates use: raw text, comments, `{{path}}` values (escaped by the registry's
//! escape function), the `hcl`, `yaml` and `text` helpers, `#if`, `#unless` and `#each` blocks
//! with `{{else}}` (and `else if` chains), `eq`/`ne`/`gt`/`gte`/`lt`/`lte` subexpressions over
//! integers and any JSON for `eq`/`ne`, `this`, `../`, `@root`, `@key`, `@index`, `@first` and
//! `@last`. It borrows the JSON context instead of copying it.
//!
//! It declines (returns `None`) whenever it is not sure to write exactly what the crate
//! would: a missing variable anywhere except in an `#if`/`#unless` condition (which the crate
//! reads as null, strict mode or not), a helper or form outside the subset, an invalid array
//! index, output past [`super::MAX_OUTPUT`]. The caller then renders the whole template with
//! the crate, so every error message stays the crate's. Whitespace control (`~`) and
//! standalone-line stripping are applied by the crate's compiler, so raw strings already
//! reflect them; indentation only matters for partials, which `compile` refuses.

use handlebars::template::{HelperTemplate, Parameter, TemplateElement};
use handlebars::{JsonRender, JsonTruthy, Path, PathSeg, Template};
use serde_json::Value;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::sync::OnceLock;

/// The names a `{{name}}` expression would call as a helper instead of looking up: the
/// crate's built-ins and the ones [`super::registry`] adds.
const HELPERS: &[&str] = &[
    "if", "unless", "each", "with", "lookup", "raw", "log", "eq", "ne", "gt", "gte", "lt", "lte",
    "and", "or", "not", "len", "hcl", "yaml", "text",
];

/// The path segments `..` and `@root`, as the crate parses them (its grammar rules are private,
/// so the values come from parsing a path once).
fn ruled() -> &'static (PathSeg, PathSeg) {
    static RULED: OnceLock<(PathSeg, PathSeg)> = OnceLock::new();
    RULED.get_or_init(|| {
        let first = |raw: &str| match Path::parse(raw) {
            Ok(Path::Relative((segs, _))) => segs.into_iter().next(),
            _ => None,
        };
        (
            first("../a").expect("`../a` parses to a path starting with `..`"),
            first("@root/a").expect("`@root/a` parses to a path starting with `@root`"),
        )
    })
}

/// One block scope: the value `this` names, and the `@` variables of an `#each` iteration.
struct Frame<'a> {
    base: &'a Value,
    each: Option<Iteration<'a>>,
}

struct Iteration<'a> {
    index: usize,
    first: bool,
    last: bool,
    key: Option<&'a str>,
}

/// A resolved parameter: a value in the context (the crate's `ScopedJson::Context`), any
/// other value (a literal, a local variable, a subexpression result), or missing.
enum Val<'a> {
    Context(&'a Value),
    Other(Cow<'a, Value>),
    Missing,
}

impl Val<'_> {
    fn value(&self) -> &Value {
        static NULL: Value = Value::Null;
        match self {
            Val::Context(v) => v,
            Val::Other(v) => v,
            Val::Missing => &NULL,
        }
    }
}

struct Renderer<'a, 'e> {
    root: &'a Value,
    escape: &'e dyn Fn(&str) -> String,
    out: String,
    /// Escaped values of paths outside any block, by path text: a template names the same few
    /// (`resource.id`, `env.name`) dozens of times.
    memo: Vec<(&'a str, String)>,
    /// Values of paths resolved from the root, by path text.
    values: Vec<(&'a str, Option<&'a Value>)>,
}

/// Render `template` against `data` with `escape` for `{{path}}` values, or `None` to let the
/// crate render it.
pub(super) fn render(
    template: &Template,
    data: &Value,
    escape: &dyn Fn(&str) -> String,
) -> Option<String> {
    let raw: usize = template
        .elements
        .iter()
        .map(|e| match e {
            TemplateElement::RawString(s) => s.len(),
            _ => 0,
        })
        .sum();
    let mut r = Renderer {
        root: data,
        escape,
        out: String::with_capacity(raw + raw / 4),
        memo: Vec::new(),
        values: Vec::new(),
    };
    let mut frames = vec![Frame {
        base: data,
        each: None,
    }];
    r.template(template, &mut frames)?;
    Some(r.out)
}

impl<'a> Renderer<'a, '_> {
    fn write(&mut self, s: &str) -> Option<()> {
        push(&mut self.out, s)
    }

    fn template(&mut self, t: &'a Template, frames: &mut Vec<Frame<'a>>) -> Option<()> {
        for element in &t.elements {
            match element {
                TemplateElement::RawString(s) => self.write(s)?,
                TemplateElement::Comment(_) => {}
                TemplateElement::Expression(ht) => self.expression(ht, frames)?,
                TemplateElement::HelperBlock(ht) => self.block(ht, frames)?,
                _ => return None,
            }
        }
        Some(())
    }

    fn expression(&mut self, ht: &'a HelperTemplate, frames: &[Frame<'a>]) -> Option<()> {
        // Outside blocks a path means the same value everywhere in the template.
        let memo_key = match (&ht.name, frames.len()) {
            (Parameter::Path(Path::Relative((_, raw))), 1)
                if ht.params.is_empty() && ht.hash.is_empty() && !ht.block =>
            {
                if let Some((_, hit)) = self.memo.iter().find(|(k, _)| *k == raw) {
                    return push(&mut self.out, hit);
                }
                Some(raw.as_str())
            }
            _ => None,
        };
        if ht.block || ht.block_param.is_some() || !ht.hash.is_empty() {
            return None;
        }
        if ht.params.is_empty() {
            // A value: `{{path}}`, unless the name is a helper.
            let Parameter::Path(path) = &ht.name else {
                return None;
            };
            let raw = match path {
                Path::Relative((_, raw)) | Path::Local((_, _, raw)) => raw,
            };
            if HELPERS.contains(&raw.as_str()) {
                return None;
            }
            let v = self.lookup(path, frames)?;
            let escaped = match v {
                Val::Missing => return None, // strict mode: the crate's error
                Val::Context(Value::String(s)) => (self.escape)(s),
                v => (self.escape)(&v.value().render()),
            };
            self.write(&escaped)?;
            if let Some(key) = memo_key {
                self.memo.push((key, escaped));
            }
            return Some(());
        }
        let f: fn(&Value) -> String = match ht.name.as_name()? {
            "hcl" => super::hcl_literal,
            "yaml" => super::yaml_literal,
            "text" => super::scalar_text,
            _ => return None,
        };
        let [param] = ht.params.as_slice() else {
            return None;
        };
        match self.param(param, frames)? {
            Val::Missing => None,
            v => self.write(&f(v.value())),
        }
    }

    fn block(&mut self, ht: &'a HelperTemplate, frames: &mut Vec<Frame<'a>>) -> Option<()> {
        if ht.block_param.is_some() || !ht.hash.is_empty() {
            return None;
        }
        let [param] = ht.params.as_slice() else {
            return None;
        };
        match ht.name.as_name()? {
            name @ ("if" | "unless") => {
                // A missing condition is null to the crate, strict mode or not.
                let v = self.param(param, frames)?;
                let truthy = v.value().is_truthy(false) == (name == "if");
                let branch = if truthy { &ht.template } else { &ht.inverse };
                match branch {
                    Some(t) => self.template(t, frames),
                    None => Some(()),
                }
            }
            "each" => {
                let v = self.param(param, frames)?;
                let Some(body) = &ht.template else {
                    return Some(());
                };
                let no_else = ht.inverse.is_none();
                // The crate iterates a value from elsewhere than the context by copy, with
                // other path semantics: not handled here.
                let value: &'a Value = match &v {
                    Val::Context(value) => value,
                    other => {
                        return match (&ht.inverse, other.value()) {
                            (_, Value::Array(_) | Value::Object(_)) => None,
                            (Some(t), _) => self.template(t, frames),
                            (None, _) => None, // strict mode: the crate's error
                        };
                    }
                };
                match value {
                    Value::Array(items) if !items.is_empty() || no_else => {
                        let len = items.len();
                        for (index, item) in items.iter().enumerate() {
                            frames.push(Frame {
                                base: item,
                                each: Some(Iteration {
                                    index,
                                    first: index == 0,
                                    last: index + 1 == len,
                                    key: None,
                                }),
                            });
                            let done = self.template(body, frames);
                            frames.pop();
                            done?;
                        }
                        Some(())
                    }
                    Value::Object(map) if !map.is_empty() || no_else => {
                        let len = map.len();
                        for (index, (key, item)) in map.iter().enumerate() {
                            frames.push(Frame {
                                base: item,
                                each: Some(Iteration {
                                    index,
                                    first: index == 0,
                                    last: index + 1 == len,
                                    key: Some(key),
                                }),
                            });
                            let done = self.template(body, frames);
                            frames.pop();
                            done?;
                        }
                        Some(())
                    }
                    _ => match &ht.inverse {
                        Some(t) => self.template(t, frames),
                        None => None, // strict mode: the crate's error
                    },
                }
            }
            _ => None,
        }
    }

    fn param(&mut self, p: &'a Parameter, frames: &[Frame<'a>]) -> Option<Val<'a>> {
        match p {
            Parameter::Path(path) => self.lookup(path, frames),
            Parameter::Literal(v) => Some(Val::Other(Cow::Borrowed(v))),
            Parameter::Subexpression(sub) => {
                let TemplateElement::Expression(ht) = sub.as_element() else {
                    return None;
                };
                if ht.block || !ht.hash.is_empty() {
                    return None;
                }
                let [x, y] = ht.params.as_slice() else {
                    return None;
                };
                let name = ht.name.as_name()?;
                let (x, y) = (self.param(x, frames)?, self.param(y, frames)?);
                if matches!(x, Val::Missing) || matches!(y, Val::Missing) {
                    return None; // strict mode: the crate's error
                }
                let (x, y) = (x.value(), y.value());
                let result = match name {
                    "eq" => x == y,
                    "ne" => x != y,
                    "gt" => int_cmp(x, y)? == Ordering::Greater,
                    "gte" => int_cmp(x, y)? != Ordering::Less,
                    "lt" => int_cmp(x, y)? == Ordering::Less,
                    "lte" => int_cmp(x, y)? != Ordering::Greater,
                    _ => return None,
                };
                Some(Val::Other(Cow::Owned(Value::Bool(result))))
            }
            _ => None, // a bare name, or a form this crate version adds
        }
    }

    /// Resolve a path as the crate's `Context::navigate` and local variables do.
    fn lookup(&mut self, path: &'a Path, frames: &[Frame<'a>]) -> Option<Val<'a>> {
        match path {
            Path::Local((level, name, _)) => {
                let frame = frames.len().checked_sub(level + 1).map(|i| &frames[i])?;
                let Some(it) = &frame.each else {
                    return Some(Val::Missing);
                };
                let v = match name.as_str() {
                    "first" => Value::Bool(it.first),
                    "last" => Value::Bool(it.last),
                    "index" => Value::from(it.index),
                    "key" => match it.key {
                        Some(k) => Value::String(k.to_string()),
                        None => return Some(Val::Missing),
                    },
                    _ => return Some(Val::Missing),
                };
                Some(Val::Other(Cow::Owned(v)))
            }
            Path::Relative((segs, raw)) => {
                let (up, root) = ruled();
                let mut depth = 0;
                let mut from_root = false;
                for seg in segs {
                    match seg {
                        PathSeg::Named(_) => break,
                        s if s == up => depth += 1,
                        s if s == root => {
                            from_root = true;
                            break;
                        }
                        _ => break,
                    }
                }
                if segs
                    .iter()
                    .any(|s| !matches!(s, PathSeg::Named(_)) && s != up && s != root)
                {
                    return None;
                }
                let base: &'a Value = if depth > 0 {
                    // Past the outermost block the crate falls back to the innermost one.
                    frames[frames.len().checked_sub(depth + 1)?].base
                } else if from_root {
                    self.root
                } else {
                    frames.last()?.base
                };
                let from_root = std::ptr::eq(base, self.root);
                if from_root {
                    if let Some((_, hit)) = self.values.iter().find(|(k, _)| *k == raw) {
                        return Some(hit.map_or(Val::Missing, Val::Context));
                    }
                }
                let found = walk(base, segs)?;
                if from_root {
                    self.values.push((raw, found));
                }
                Some(found.map_or(Val::Missing, Val::Context))
            }
        }
    }
}

/// Follow the named segments of a path from `v`: `Some(None)` when a value is missing, `None`
/// when the crate fails (a name that is not an index into an array).
fn walk<'a>(mut v: &'a Value, segs: &[PathSeg]) -> Option<Option<&'a Value>> {
    for seg in segs {
        let PathSeg::Named(name) = seg else {
            continue;
        };
        let next = match v {
            Value::Array(items) => items.get(name.parse::<usize>().ok()?),
            Value::Object(map) => map.get(name),
            _ => None,
        };
        match next {
            Some(n) => v = n,
            None => return Some(None),
        }
    }
    Some(Some(v))
}

/// Append to the output, declining past [`super::MAX_OUTPUT`] (the crate reports it: T610).
fn push(out: &mut String, s: &str) -> Option<()> {
    if out.len() + s.len() > super::MAX_OUTPUT {
        return None;
    }
    out.push_str(s);
    Some(())
}

/// The crate's comparison for two integers; `None` (decline) for anything else.
fn int_cmp(x: &Value, y: &Value) -> Option<Ordering> {
    let int = |v: &Value| -> Option<i128> {
        let n = v.as_number()?;
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    };
    Some(int(x)?.cmp(&int(y)?))
}

/// Renders the fast path took, and what the crate rendered where it declined, in this test
/// process: the tests below check that real templates take the fast path.
#[cfg(test)]
pub(super) static ACCEPTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
#[cfg(test)]
pub(super) static DECLINED_OK: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

#[cfg(test)]
mod tests {
    use super::super::{compile, registry, render_crate, Kind};
    use handlebars::Context;
    use serde_json::{json, Value};

    /// The fast result (when it renders) and the crate's, for every kind.
    fn both(text: &str, ctx: &Value) -> Vec<(Option<String>, Result<String, String>)> {
        let t = compile(text).expect("the test template compiles");
        [Kind::Plain, Kind::Terraform, Kind::Kubernetes]
            .into_iter()
            .map(|kind| {
                let hb = registry(kind);
                let fast = super::render(&t.0, ctx, hb.get_escape_fn());
                let slow =
                    render_crate(&hb, &t, &Context::from(ctx.clone())).map_err(|e| e.message);
                (fast, slow)
            })
            .collect()
    }

    /// The fast renderer renders `text` and writes what the crate writes.
    #[track_caller]
    fn same(text: &str, ctx: &Value) -> String {
        let mut first = None;
        for (fast, slow) in both(text, ctx) {
            let fast = fast.unwrap_or_else(|| panic!("declined {text:?}"));
            assert_eq!(Ok(&fast), slow.as_ref(), "{text:?}");
            first.get_or_insert(fast);
        }
        first.expect("three kinds")
    }

    /// The fast renderer declines `text`; returns the crate's result.
    #[track_caller]
    fn declines(text: &str, ctx: &Value) -> Result<String, String> {
        let mut first = None;
        for (fast, slow) in both(text, ctx) {
            assert_eq!(fast, None, "{text:?} should decline");
            first.get_or_insert(slow);
        }
        first.expect("three kinds")
    }

    fn ctx() -> Value {
        json!({
            "resource": {"id": "db", "params": {"size": "large", "storage-gb": 20, "n": 3,
                "neg": -2, "big": u64::MAX, "f": 1.5, "on": true, "off": false, "none": null,
                "empty": "", "zero": 0, "list": ["a", "b\"c"], "nested": [[1, 2], []],
                "obj": {"k": "v", "q": "\"${x}\n"}, "emptyobj": {}, "emptylist": []}},
            "env": {"name": "prod", "type": "production", "labels": {"team": "a", "cost": "x\ty"}},
            "workloads": [{"name": "api", "namespace": "ns-a"}, {"name": "web", "namespace": "ns-b"}],
            "namespace": "shared",
            "quote": "a\"b\\c${d}%{e}\u{7f}\u{2028}"
        })
    }

    #[test]
    fn values_render_and_escape_like_the_crate() {
        let c = ctx();
        same("id={{resource.id}} env={{env.name}}", &c);
        same("{{quote}}|{{resource.params.obj.q}}", &c);
        // Numbers, booleans, null, empty strings, arrays and objects as values.
        let out = same(
            "{{resource.params.n}} {{resource.params.neg}} {{resource.params.big}} \
             {{resource.params.f}} {{resource.params.on}} {{resource.params.off}} \
             [{{resource.params.none}}] [{{resource.params.empty}}] {{resource.params.list}} \
             {{resource.params.nested}} {{resource.params.obj}} {{this}}",
            &c,
        );
        assert!(out.starts_with("3 -2 18446744073709551615 1.5 true false [] [] [a, b"));
        same("{{resource.params.[storage-gb]}} {{resource.params.list.[1]}} {{resource.params.list.0}}", &c);
        same("{{./namespace}} {{this.namespace}} {{@root.namespace}}", &c);
        same("{{! a comment }}x{{!-- another --}}y", &c);
        same(
            "a  {{~namespace~}}  b\n  {{#if resource.params.on}}\n  yes\n  {{/if}}\n",
            &c,
        );
        same("no template at all", &c);
        // Repeated paths outside blocks (memoized) and inside them (not).
        let out = same(
            "{{resource.id}}-{{quote}}-{{resource.id}}-{{quote}}{{#each workloads}}{{namespace}}{{this.namespace}}{{/each}}{{namespace}}{{resource.id}}",
            &c,
        );
        assert!(
            out.starts_with("db-") && out.ends_with("ns-ans-ans-bns-bshareddb"),
            "{out}"
        );
        same(r"\{{namespace}} {{namespace}}", &c);
    }

    #[test]
    fn helpers_render_like_the_crate() {
        let c = ctx();
        same("{{hcl resource.params.n}} {{hcl quote}} {{hcl resource.params.obj}} {{hcl resource.params.list}} {{hcl resource.params.none}}", &c);
        same("{{yaml quote}} {{yaml resource.params.on}} {{yaml resource.params.obj}} {{yaml resource.params.[storage-gb]}}", &c);
        same(
            "{{text quote}} {{text resource.params.n}} [{{text resource.params.none}}]",
            &c,
        );
        same("{{hcl \"lit\"}} {{yaml 3}}", &c);
    }

    #[test]
    fn blocks_render_like_the_crate() {
        let c = ctx();
        let out = same(
            "{{#if (eq resource.params.size \"large\")}}L{{else if (eq resource.params.size \"medium\")}}M{{else}}S{{/if}}",
            &c,
        );
        assert_eq!(out, "L");
        same("{{#if (eq env.type \"production\")}}14{{else}}7{{/if}}", &c);
        same("{{#unless resource.params.off}}u{{else}}v{{/unless}}", &c);
        // Truthiness, and a missing condition (null to the crate even in strict mode).
        for cond in [
            "on",
            "off",
            "none",
            "empty",
            "zero",
            "n",
            "f",
            "list",
            "emptylist",
            "obj",
            "emptyobj",
            "absent",
        ] {
            same(
                &format!("{{{{#if resource.params.{cond}}}}}t{{{{else}}}}f{{{{/if}}}}"),
                &c,
            );
        }
        for (op, a, b) in [
            ("gte", "resource.params.n", "2"),
            ("gt", "resource.params.neg", "-3"),
            ("lt", "resource.params.big", "1"),
            ("lte", "resource.params.n", "3"),
            ("ne", "resource.params.size", "\"x\""),
            ("eq", "resource.params.n", "3"),
            ("eq", "resource.params.list", "resource.params.list"),
            ("gte", "resource.params.n", "3"),
            ("gt", "resource.params.n", "3"),
            ("lt", "resource.params.n", "3"),
            ("gt", "resource.params.big", "resource.params.neg"),
            ("lte", "resource.params.neg", "resource.params.big"),
        ] {
            same(
                &format!("{{{{#if ({op} {a} {b})}}}}y{{{{else}}}}n{{{{/if}}}}"),
                &c,
            );
        }
        same("{{#each env.labels}}\n\"{{@key}}\" = \"{{this}}\" {{@index}}{{#if @first}}F{{/if}}{{#if @last}}L{{/if}}\n{{/each}}", &c);
        same(
            "toset([{{#each workloads}}\"{{this.namespace}}\", {{/each}}\"{{namespace}}\"])",
            &c,
        );
        same(
            "{{#each workloads}}{{name}}:{{../namespace}}:{{@root.env.name}}:{{@index}};{{/each}}",
            &c,
        );
        same("{{#each resource.params.nested}}[{{#each this}}{{this}}@{{@index}}/{{../../resource.id}}{{else}}empty{{/each}}]{{/each}}", &c);
        same("{{#each resource.params.emptylist}}x{{else}}none{{/each}}{{#each resource.params.emptylist}}x{{/each}}", &c);
        same("{{#each resource.params.emptyobj}}x{{else}}none{{/each}}{{#each resource.params.n}}x{{else}}not a list{{/each}}", &c);
        same(
            "{{#each resource.params.absent}}x{{else}}absent{{/each}}",
            &c,
        );
        same(
            "{{#each env.labels}}{{#each ../workloads}}{{@../key}}={{name}},{{/each}}{{/each}}",
            &c,
        );
    }

    #[test]
    fn declines_what_it_does_not_know() {
        let c = ctx();
        // Strict-mode errors stay the crate's.
        assert!(declines("{{missing.x}}", &c)
            .unwrap_err()
            .contains("missing.x"));
        declines("{{hcl missing}}", &c).unwrap_err();
        declines("{{#each missing}}x{{/each}}", &c).unwrap_err();
        declines("{{#if (eq missing 1)}}x{{/if}}", &c).unwrap_err();
        declines("{{#each resource.params.n}}x{{/each}}", &c).unwrap_err();
        declines("{{resource.params.list.x}}", &c).unwrap_err();
        declines("{{@index}}", &c).unwrap_err();
        declines("{{#each workloads}}{{@key}}{{/each}}", &c).unwrap_err();
        declines("{{#each workloads}}{{../../x}}{{/each}}", &c).unwrap_err();
        // Forms outside the subset.
        declines("{{#with env}}{{name}}{{/with}}", &c).unwrap();
        declines("{{#each workloads as |w|}}{{w.name}}{{/each}}", &c).unwrap();
        declines("{{#if resource.params.zero includeZero=true}}z{{/if}}", &c).unwrap();
        declines("{{len workloads}}", &c).unwrap();
        declines("{{lookup env \"name\"}}", &c).unwrap();
        declines("{{#if (gt resource.params.f 1)}}y{{/if}}", &c).unwrap();
        declines(
            "{{#if (and resource.params.on resource.params.on)}}y{{/if}}",
            &c,
        )
        .unwrap();
        declines("{{eq 1 1}}", &c).unwrap();
    }

    #[test]
    fn output_past_the_cap_declines() {
        let big = "x".repeat(super::super::MAX_OUTPUT / 4 + 1);
        let c = json!({"big": big, "l": [1, 2, 3, 4]});
        let t = compile("{{#each l}}{{../big}}{{/each}}").unwrap();
        let hb = registry(Kind::Plain);
        assert_eq!(super::render(&t.0, &c, hb.get_escape_fn()), None);
        let err = super::super::render_compiled(&hb, &t, &c).unwrap_err();
        assert!(super::super::is_too_large(&err), "{err:?}");
    }

    /// Every template of the repository (built-in platform, specs/acme, fixtures, a generated
    /// tree) renders on the fast path wherever the crate renders it.
    #[test]
    fn real_templates_take_the_fast_path() {
        use std::sync::atomic::Ordering;
        let before = super::ACCEPTED.load(Ordering::Relaxed);
        crate::test_trees::compile_all("templates-fast");
        let accepted = super::ACCEPTED.load(Ordering::Relaxed) - before;
        assert!(accepted > 200, "only {accepted} fast renders");
        let declined = std::mem::take(&mut *super::DECLINED_OK.lock().unwrap());
        assert!(
            declined.is_empty(),
            "{} renders the crate did and the fast path declined, the first:\n{}",
            declined.len(),
            declined.first().map_or("", String::as_str)
        );
    }
}
