//! Provisioner templates (Handlebars, strict mode) with escaping for the target format:
//! in `.tf.hbs` a value is safe inside an HCL string, in `.yaml.hbs` inside a double-quoted
//! YAML string; `{{hcl x}}` and `{{yaml x}}` write complete literals. Triple-stash is refused.

use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderErrorReason,
};
use serde_json::Value;

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

/// Escape a value for the inside of an HCL quoted string; `${` and `%{` cannot interpolate.
pub fn hcl_escape(s: &str) -> String {
    crate::hcl::escape_string(s)
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
        Value::String(s) => format!("\"{}\"", hcl_escape(s)),
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

/// Render a template text against a context.
pub fn render(hb: &Handlebars<'_>, text: &str, ctx: &Value) -> Result<String, TemplateError> {
    if let Some((line, column)) = triple_stash(text) {
        return Err(TemplateError {
            message: "triple-stash `{{{…}}}` would skip escaping".into(),
            line: Some(line),
            column: Some(column),
        });
    }
    hb.render_template(text, ctx).map_err(|e| {
        let (line, column) = (e.line_no, e.column_no);
        let mut message = e.reason().to_string();
        if let RenderErrorReason::TemplateError(t) = e.reason() {
            message = t.reason().to_string();
            return TemplateError {
                message,
                line: t.pos().map(|p| p.0),
                column: t.pos().map(|p| p.1),
            };
        }
        if let RenderErrorReason::MissingVariable(path) = e.reason() {
            message = match path {
                Some(p) => format!("missing variable `{p}` (templates run in strict mode)"),
                None => "missing variable (templates run in strict mode)".to_string(),
            };
        }
        if message.is_empty() {
            message = e.to_string();
        }
        TemplateError {
            message,
            line,
            column,
        }
    })
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
