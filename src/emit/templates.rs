//! Provisioner templates (Handlebars, strict mode) with escaping for the target format:
//! in `.tf.hbs` a value is safe inside an HCL string, in `.yaml.hbs` inside a double-quoted
//! YAML string; `{{hcl x}}` and `{{yaml x}}` write complete literals. Triple-stash is refused.

use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderErrorReason,
};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

mod fast;

/// What a template renders to, which decides escaping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `value=`, `expr=` and `secret=` strings: no escaping.
    Plain,
    Terraform,
    Kubernetes,
}

/// A template failure: message and, when known, the 1-based line and column in the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub message: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

/// The markers around a Terraform reference in a context string. Their nonce is random per
/// process, so no spec string can forge one; markers never reach the output.
fn markers() -> &'static (String, String) {
    static MARKERS: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    MARKERS.get_or_init(|| {
        use std::hash::BuildHasher;
        let nonce = std::collections::hash_map::RandomState::new().hash_one("trestle");
        (
            format!("\u{E000}{nonce:016x}\u{E000}"),
            format!("\u{E001}{nonce:016x}\u{E001}"),
        )
    })
}

/// A Terraform expression as a context string: a Terraform template writes it as `${EXPR}`
/// inside a string and `{{hcl x}}` as the bare expression; [`has_terraform_ref`] finds it
/// anywhere else.
pub fn terraform_ref(expr: &str) -> String {
    let (start, end) = markers();
    format!("{start}{expr}{end}")
}

/// True when rendered text still holds a Terraform reference, which only Terraform escaping
/// can write.
pub fn has_terraform_ref(s: &str) -> bool {
    // Every marker starts with U+E000, whose UTF-8 starts with 0xEE: a byte scan (memchr)
    // rules out almost every string before the substring search.
    s.as_bytes().contains(&0xEE) && s.contains(markers().0.as_str())
}

/// A context string as pieces: (is a Terraform reference, text).
fn pieces(s: &str) -> Vec<(bool, &str)> {
    let (start, end) = markers();
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(at) = rest.find(start.as_str()) {
        let after = &rest[at + start.len()..];
        let Some(close) = after.find(end.as_str()) else {
            break;
        };
        if at > 0 {
            out.push((false, &rest[..at]));
        }
        out.push((true, &after[..close]));
        rest = &after[close + end.len()..];
    }
    if !rest.is_empty() || out.is_empty() {
        out.push((false, rest));
    }
    out
}

/// Escape a value for the inside of an HCL quoted string; `${` and `%{` cannot interpolate.
/// A Terraform reference (see [`terraform_ref`]) becomes the interpolation `${EXPR}`.
pub fn hcl_escape(s: &str) -> String {
    if !has_terraform_ref(s) {
        return crate::hcl::escape_string(s); // one literal piece
    }
    let mut out = String::with_capacity(s.len());
    for (is_ref, piece) in pieces(s) {
        if is_ref {
            out.push_str("${");
            out.push_str(piece);
            out.push('}');
        } else {
            out.push_str(&crate::hcl::escape_string(piece));
        }
    }
    out
}

/// Escape a value for the inside of a double-quoted YAML string.
pub fn yaml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20
                || c == '\u{7f}'
                || c == '\u{85}'
                || c == '\u{2028}'
                || c == '\u{2029}'
                || c == '\u{feff}' =>
            {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn hcl_literal(v: &Value) -> String {
    match v {
        Value::String(s) => match pieces(s).as_slice() {
            [(true, expr)] => (*expr).to_string(),
            _ => format!("\"{}\"", hcl_escape(s)),
        },
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(hcl_literal).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(o) => format!(
            "{{ {} }}",
            o.iter()
                .map(|(k, v)| format!("\"{}\" = {}", hcl_escape(k), hcl_literal(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn yaml_literal(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{}\"", yaml_escape(s)),
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

fn literal_helper(
    f: fn(&Value) -> String,
) -> impl Fn(
    &Helper<'_>,
    &Handlebars<'_>,
    &Context,
    &mut RenderContext<'_, '_>,
    &mut dyn Output,
) -> HelperResult
       + Send
       + Sync {
    move |h, _, _, _, out| {
        let v = h
            .param(0)
            .ok_or_else(|| RenderErrorReason::ParamNotFoundForIndex("literal", 0))?;
        if v.is_value_missing() {
            return Err(RenderErrorReason::MissingVariable(Some(
                v.relative_path().cloned().unwrap_or_default(),
            ))
            .into());
        }
        out.write(&f(v.value()))?;
        Ok(())
    }
}

/// A Handlebars registry for one kind of output.
pub fn registry(kind: Kind) -> Handlebars<'static> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.set_prevent_indent(true);
    match kind {
        Kind::Plain => hb.register_escape_fn(handlebars::no_escape),
        Kind::Terraform => hb.register_escape_fn(hcl_escape),
        Kind::Kubernetes => hb.register_escape_fn(yaml_escape),
    }
    hb.register_helper("hcl", Box::new(literal_helper(hcl_literal)));
    hb.register_helper("yaml", Box::new(literal_helper(yaml_literal)));
    hb.register_helper(
        "text",
        Box::new(
            |h: &Helper<'_>,
             _: &Handlebars<'_>,
             _: &Context,
             _: &mut RenderContext<'_, '_>,
             out: &mut dyn Output|
             -> HelperResult {
                let v = h
                    .param(0)
                    .ok_or_else(|| RenderErrorReason::ParamNotFoundForIndex("text", 0))?;
                out.write(&scalar_text(v.value()))?;
                Ok(())
            },
        ),
    );
    hb
}

/// Find a triple-stash `{{{`, which would bypass escaping: (line, column).
pub fn triple_stash(text: &str) -> Option<(usize, usize)> {
    let at = text.find("{{{")?;
    let line = text[..at].matches('\n').count() + 1;
    let col = text[..at]
        .rsplit('\n')
        .next()
        .map_or(0, |l| l.chars().count())
        + 1;
    Some((line, col))
}

/// The most bytes one template may render; more is an error (T610), so that a template
/// looping over large lists cannot exhaust memory or fill the disk.
pub const MAX_OUTPUT: usize = 16 << 20;

/// Find a partial (`{{> name}}`, `{{#> name}}`) or a decorator such as an inline partial
/// (`{{#*inline}}`, `{{*name}}`): (line, column). Provisioner templates are one file each, and
/// partials are the only way a Handlebars template can recurse.
pub fn partial(text: &str) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let at = text.match_indices("{{").map(|(i, _)| i).find(|&i| {
        if i > 0 && bytes[i - 1] == b'\\' {
            return false; // `\{{` is a literal
        }
        let mut j = i + 2;
        for skip in [b'~', b'#'] {
            if bytes.get(j) == Some(&skip) {
                j += 1;
            }
        }
        while bytes.get(j).is_some_and(u8::is_ascii_whitespace) {
            j += 1;
        }
        matches!(bytes.get(j), Some(b'>' | b'*'))
    })?;
    Some(line_col(text, at))
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let line = text[..at].matches('\n').count() + 1;
    let col = text[..at]
        .rsplit('\n')
        .next()
        .map_or(0, |l| l.chars().count())
        + 1;
    (line, col)
}

/// A template compiled once and rendered any number of times.
#[derive(Debug, Clone)]
pub struct Compiled(handlebars::Template);

/// Compile a template text, refusing triple-stash and partials.
pub fn compile(text: &str) -> Result<Compiled, TemplateError> {
    if let Some((line, column)) = triple_stash(text) {
        return Err(TemplateError {
            message: "triple-stash `{{{…}}}` would skip escaping".into(),
            line: Some(line),
            column: Some(column),
        });
    }
    if let Some((line, column)) = partial(text) {
        return Err(TemplateError {
            message: "partials and decorators (`{{> …}}`, `{{#*inline …}}`) are not supported in provisioner templates".into(),
            line: Some(line),
            column: Some(column),
        });
    }
    handlebars::Template::compile(text)
        .map(Compiled)
        .map_err(|t| TemplateError {
            message: t.reason().to_string(),
            line: t.pos().map(|p| p.0),
            column: t.pos().map(|p| p.1),
        })
}

/// What compiling a template text gave, shared.
pub type Shared = Arc<Result<Compiled, TemplateError>>;

/// [`compile`], remembered by text for the whole process: every environment compiles the same
/// provisioner templates and `value=` strings, compiling is a pure function of the text, and
/// Handlebars' compiler is slow (it computes a line and column for every element).
pub fn compile_cached(text: &str) -> Shared {
    // Bounded, for long-lived callers (tests, a language server): cleared when full.
    const MAX_ENTRIES: usize = 4096;
    static CACHE: OnceLock<Mutex<HashMap<String, Shared>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(hit) = cache.lock().ok().and_then(|c| c.get(text).cloned()) {
        return hit;
    }
    let compiled = Arc::new(compile(text));
    // A poisoned lock only means another thread panicked; the result is still right.
    if let Ok(mut c) = cache.lock() {
        if c.len() >= MAX_ENTRIES {
            c.clear();
        }
        c.insert(text.to_string(), compiled.clone());
    }
    compiled
}

/// A string output that refuses to grow past [`MAX_OUTPUT`].
struct Capped(String);

impl Output for Capped {
    fn write(&mut self, seg: &str) -> Result<(), std::io::Error> {
        if self.0.len() + seg.len() > MAX_OUTPUT {
            return Err(std::io::Error::other(TOO_LARGE));
        }
        self.0.push_str(seg);
        Ok(())
    }
}

const TOO_LARGE: &str = "output too large";

/// True when a render failed because its output passed [`MAX_OUTPUT`] (T610, not T603).
pub fn is_too_large(e: &TemplateError) -> bool {
    e.message.starts_with("the template renders more than")
}

/// Render a compiled template against a context.
pub fn render_compiled(
    hb: &Handlebars<'_>,
    template: &Compiled,
    ctx: &Value,
) -> Result<String, TemplateError> {
    if let Some(out) = render_fast(hb, template, ctx) {
        debug_assert_eq!(
            Ok(&out),
            render_crate(hb, template, &Context::from(ctx.clone())).as_ref(),
            "fast template rendering differs from the Handlebars crate's"
        );
        return Ok(out);
    }
    render_crate(hb, template, &Context::from(ctx.clone()))
}

/// Render a compiled template against a Handlebars context, which several templates can share
/// (building one from a JSON value takes the value; [`render_compiled`] has to copy it when
/// the fast renderer declines).
pub fn render_in(
    hb: &Handlebars<'_>,
    template: &Compiled,
    ctx: &Context,
) -> Result<String, TemplateError> {
    if let Some(out) = render_fast(hb, template, ctx.data()) {
        debug_assert_eq!(
            Ok(&out),
            render_crate(hb, template, ctx).as_ref(),
            "fast template rendering differs from the Handlebars crate's"
        );
        return Ok(out);
    }
    render_crate(hb, template, ctx)
}

/// [`fast::render`] for a strict registry (every registry of [`registry`]); `None` when it
/// declines.
fn render_fast(hb: &Handlebars<'_>, template: &Compiled, data: &Value) -> Option<String> {
    if !hb.strict_mode() {
        return None;
    }
    let out = fast::render(&template.0, data, hb.get_escape_fn());
    #[cfg(test)]
    if out.is_some() {
        fast::ACCEPTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    } else if let Ok(text) = render_crate(hb, template, &Context::from(data.clone())) {
        fast::DECLINED_OK.lock().unwrap().push(text);
    }
    out
}

/// The reference renderer: the Handlebars crate.
fn render_crate(
    hb: &Handlebars<'_>,
    template: &Compiled,
    ctx: &Context,
) -> Result<String, TemplateError> {
    use handlebars::Renderable;
    let mut rc = RenderContext::new(None);
    let mut out = Capped(String::new());
    match template.0.render(hb, ctx, &mut rc, &mut out) {
        Ok(()) => Ok(out.0),
        Err(e) => Err(render_error(&e)),
    }
}

fn render_error(e: &handlebars::RenderError) -> TemplateError {
    let (line, column) = (e.line_no, e.column_no);
    let mut message = e.reason().to_string();
    match e.reason() {
        RenderErrorReason::TemplateError(t) => {
            return TemplateError {
                message: t.reason().to_string(),
                line: t.pos().map(|p| p.0),
                column: t.pos().map(|p| p.1),
            };
        }
        RenderErrorReason::MissingVariable(path) => {
            message = match path {
                Some(p) => format!("missing variable `{p}` (templates run in strict mode)"),
                None => "missing variable (templates run in strict mode)".to_string(),
            };
        }
        RenderErrorReason::IOError(io) if io.to_string() == TOO_LARGE => {
            message = format!("the template renders more than {} MiB", MAX_OUTPUT >> 20);
        }
        _ => {}
    }
    if message.is_empty() {
        message = e.to_string();
    }
    TemplateError {
        message,
        line,
        column,
    }
}

/// Render a template text against a context (compile, then [`render_compiled`]).
pub fn render(hb: &Handlebars<'_>, text: &str, ctx: &Value) -> Result<String, TemplateError> {
    match &*compile_cached(text) {
        Ok(t) => render_compiled(hb, t, ctx),
        Err(e) => Err(e.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escapes_per_kind() {
        let ctx = json!({"x": "a\"b${c}%{d}\\\n"});
        let tf = render(&registry(Kind::Terraform), "v = \"{{x}}\"", &ctx).unwrap();
        assert_eq!(tf, "v = \"a\\\"b$${c}%%{d}\\\\\\n\"");
        let y = render(&registry(Kind::Kubernetes), "v: \"{{x}}\"", &ctx).unwrap();
        assert_eq!(y, "v: \"a\\\"b${c}%{d}\\\\\\n\"");
        let p = render(&registry(Kind::Plain), "{{x}}", &ctx).unwrap();
        assert_eq!(p, "a\"b${c}%{d}\\\n");
    }

    #[test]
    fn terraform_references() {
        let r = terraform_ref("aws_lb.web.dns_name");
        let ctx = json!({"whole": r, "part": format!("x-{r}-\"${{y}}"), "fake": "\u{E000}0\u{E000}a\u{E001}0\u{E001}"});
        let tf = registry(Kind::Terraform);
        assert_eq!(
            render(&tf, "a = \"{{whole}}\"\nb = \"{{part}}\"\nc = {{hcl whole}}\nd = {{hcl part}}", &ctx).unwrap(),
            "a = \"${aws_lb.web.dns_name}\"\nb = \"x-${aws_lb.web.dns_name}-\\\"$${y}\"\nc = aws_lb.web.dns_name\nd = \"x-${aws_lb.web.dns_name}-\\\"$${y}\""
        );
        // A spec string cannot forge the markers: it stays a literal.
        assert_eq!(
            render(&tf, "{{fake}}", &ctx).unwrap(),
            crate::hcl::escape_string("\u{E000}0\u{E000}a\u{E001}0\u{E001}")
        );
        // Other kinds leave the reference in place, where the caller finds and refuses it.
        for kind in [Kind::Kubernetes, Kind::Plain] {
            let out = render(&registry(kind), "{{part}}", &ctx).unwrap();
            assert!(has_terraform_ref(&out), "{kind:?}");
        }
        assert!(!has_terraform_ref(&render(&tf, "{{whole}}", &ctx).unwrap()));
    }

    #[test]
    fn literal_helpers() {
        let ctx = json!({"n": 20, "b": true, "s": "x\"y"});
        assert_eq!(
            render(
                &registry(Kind::Terraform),
                "{{hcl n}} {{hcl b}} {{hcl s}}",
                &ctx
            )
            .unwrap(),
            "20 true \"x\\\"y\""
        );
        assert_eq!(
            render(&registry(Kind::Kubernetes), "{{yaml s}}", &ctx).unwrap(),
            "\"x\\\"y\""
        );
    }

    #[test]
    fn strict_and_triple_stash() {
        let err = render(&registry(Kind::Plain), "a\n{{missing.x}}", &json!({})).unwrap_err();
        assert_eq!(err.line, Some(2));
        assert_eq!(
            err.message,
            "missing variable `missing.x` (templates run in strict mode)"
        );
        let err = render(&registry(Kind::Plain), "ok\n  {{{x}}}", &json!({"x": 1})).unwrap_err();
        assert_eq!((err.line, err.column), (Some(2), Some(3)));
    }
}
