//! Renderers: human (miette, like rustc), JSON, SARIF 2.1.0 and GitHub workflow annotations.

use std::fmt;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};
use serde_json::{json, Value};

use super::{codes, Diagnostic, Severity};
use crate::source::{FileId, Sources, Span};

/// Output format of diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Human,
    Json,
    Sarif,
    Github,
}

/// One file's part of a diagnostic, in the shape miette renders.
#[derive(Debug)]
struct MietteView {
    code: String,
    message: String,
    severity: miette::Severity,
    source: NamedSource<String>,
    labels: Vec<LabeledSpan>,
    help: Option<String>,
    related: Vec<MietteView>,
}

impl fmt::Display for MietteView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MietteView {}

impl miette::Diagnostic for MietteView {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        (!self.code.is_empty()).then(|| Box::new(&self.code) as Box<dyn fmt::Display>)
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(self.labels.iter().cloned()))
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            None
        } else {
            Some(Box::new(
                self.related.iter().map(|r| r as &dyn miette::Diagnostic),
            ))
        }
    }
}

fn miette_span(span: Span) -> SourceSpan {
    SourceSpan::new((span.start as usize).into(), span.len())
}

fn miette_view(d: &Diagnostic, sources: &Sources) -> MietteView {
    let severity = match d.severity {
        Severity::Error => miette::Severity::Error,
        Severity::Warning => miette::Severity::Warning,
        Severity::Info => miette::Severity::Advice,
    };
    let primary_file = d.primary_span().map(|s| s.file);
    let help = d.help.clone();
    let Some(file) = primary_file else {
        return MietteView {
            code: d.code.clone(),
            message: d.message.clone(),
            severity,
            source: NamedSource::new("", String::new()),
            labels: Vec::new(),
            help,
            related: Vec::new(),
        };
    };
    let labels_in = |f: FileId| -> Vec<LabeledSpan> {
        d.labels
            .iter()
            .filter(|l| l.span.file == f)
            .map(|l| {
                let text = (!l.message.is_empty()).then(|| l.message.clone());
                if l.primary {
                    LabeledSpan::new_primary_with_span(text, miette_span(l.span))
                } else {
                    LabeledSpan::new_with_span(text, miette_span(l.span))
                }
            })
            .collect()
    };
    let named = |f: FileId| {
        let sf = sources.get(f);
        NamedSource::new(sf.name.clone(), sf.text.to_string()).with_language("kdl")
    };
    let mut others: Vec<FileId> = d
        .labels
        .iter()
        .map(|l| l.span.file)
        .filter(|f| *f != file)
        .collect();
    others.sort();
    others.dedup();
    let related: Vec<MietteView> = others
        .into_iter()
        .map(|f| MietteView {
            code: String::new(),
            message: "see also".to_string(),
            severity: miette::Severity::Advice,
            source: named(f),
            labels: labels_in(f),
            help: None,
            related: Vec::new(),
        })
        .collect();
    MietteView {
        code: d.code.clone(),
        message: d.message.clone(),
        severity,
        source: named(file),
        labels: labels_in(file),
        help,
        related,
    }
}

/// Render diagnostics for a terminal (or a golden file, with `color == false`).
pub fn human(diags: &[Diagnostic], sources: &Sources, color: bool) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let mut out = String::new();
    for d in diags {
        // Notes go in the footer, rustc-style (`= note: …`), so they never read as help.
        let mut handler = GraphicalReportHandler::new_themed(theme.clone())
            .with_width(100)
            .with_links(false);
        if !d.notes.is_empty() {
            let footer: Vec<String> = d.notes.iter().map(|n| format!("= note: {n}")).collect();
            handler = handler.with_footer(footer.join("\n"));
        }
        let view = miette_view(d, sources);
        if handler.render_report(&mut out, &view).is_err() {
            out.push_str(&format!(
                "{}[{}]: {}\n",
                d.severity.as_str(),
                d.code,
                d.message
            ));
        }
        out.push('\n');
    }
    out
}

fn location(span: Span, sources: &Sources) -> (String, usize, usize, usize, usize) {
    let f = sources.get(span.file);
    let (line, col) = f.line_col(span.start);
    let (end_line, end_col) = f.line_col(span.end);
    (f.name.clone(), line, col, end_line, end_col)
}

/// One JSON object per diagnostic (SPEC section 7).
pub fn json_value(d: &Diagnostic, sources: &Sources) -> Value {
    let mut obj = json!({
        "code": d.code,
        "severity": d.severity.as_str(),
        "message": d.message,
    });
    if let Some(span) = d.primary_span() {
        let (file, line, column, end_line, end_column) = location(span, sources);
        obj["file"] = json!(file);
        obj["line"] = json!(line);
        obj["column"] = json!(column);
        obj["end_line"] = json!(end_line);
        obj["end_column"] = json!(end_column);
        obj["span"] = json!({"start": span.start, "end": span.end});
    }
    obj["labels"] = d
        .labels
        .iter()
        .map(|l| {
            let (file, line, column, _, _) = location(l.span, sources);
            json!({
                "file": file, "line": line, "column": column,
                "span": {"start": l.span.start, "end": l.span.end},
                "message": l.message, "primary": l.primary,
            })
        })
        .collect();
    obj["help"] = json!(d.help);
    if !d.notes.is_empty() {
        obj["notes"] = json!(d.notes);
    }
    obj
}

/// A JSON array of diagnostics.
pub fn json(diags: &[Diagnostic], sources: &Sources) -> String {
    let arr: Vec<Value> = diags.iter().map(|d| json_value(d, sources)).collect();
    let mut s = serde_json::to_string_pretty(&arr).unwrap_or_else(|_| "[]".to_string());
    s.push('\n');
    s
}

/// A spec file's path as CI systems want it: relative to the directory trestle runs in (the
/// repository root, usually), so that `trestle validate platform --format github` annotates
/// `platform/apps/x.kdl`. File names are relative to ROOT; when ROOT is a plain relative path
/// it is put in front. For an absolute ROOT, or one with `..`, the name stays ROOT-relative.
fn workspace_path(file: &str, sources: &Sources) -> String {
    use std::path::Component;
    let root = &sources.root;
    let plain = root
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    let prefix: Vec<String> = root
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    if !plain || prefix.is_empty() || file.starts_with('<') {
        return file.to_string();
    }
    format!("{}/{file}", prefix.join("/"))
}

/// A relative path as a URI reference: every byte but unreserved characters and `/`
/// percent-encoded (RFC 3986), so `my apps/café.kdl` stays a valid `artifactLocation.uri`.
fn uri_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn sarif_region(span: Span, sources: &Sources) -> Value {
    let (file, line, column, end_line, end_column) = location(span, sources);
    let file = workspace_path(&file, sources);
    json!({
        "physicalLocation": {
            "artifactLocation": {"uri": uri_path(&file), "uriBaseId": "%SRCROOT%"},
            "region": {
                "startLine": line, "startColumn": column,
                "endLine": end_line, "endColumn": end_column,
                "charOffset": span.start, "charLength": span.len(),
            }
        }
    })
}

/// SARIF 2.1.0, one run, rules from the code registry plus any rule ids used.
pub fn sarif(diags: &[Diagnostic], sources: &Sources) -> String {
    let mut rule_ids: Vec<&str> = diags.iter().map(|d| d.code.as_str()).collect();
    rule_ids.sort();
    rule_ids.dedup();
    let rules: Vec<Value> = rule_ids
        .iter()
        .map(|id| {
            let (title, text) = match codes::lookup(id) {
                Some(c) => (c.title.to_string(), c.explanation.to_string()),
                None => (id.to_string(), format!("trestle rule or policy `{id}`")),
            };
            json!({
                "id": id,
                "name": title,
                "shortDescription": {"text": title},
                "fullDescription": {"text": text},
                "helpUri": format!("https://trestle.dev/explain/{id}"),
            })
        })
        .collect();
    let results: Vec<Value> = diags
        .iter()
        .map(|d| {
            let level = match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Info => "note",
            };
            let mut message = d.message.clone();
            if let Some(h) = &d.help {
                message.push_str("\nhelp: ");
                message.push_str(h);
            }
            let mut r = json!({
                "ruleId": d.code,
                "ruleIndex": rule_ids.iter().position(|x| *x == d.code),
                "level": level,
                "message": {"text": message},
            });
            if let Some(span) = d.primary_span() {
                r["locations"] = json!([sarif_region(span, sources)]);
            }
            let related: Vec<Value> = d
                .labels
                .iter()
                .filter(|l| !l.primary)
                .enumerate()
                .map(|(i, l)| {
                    let mut v = sarif_region(l.span, sources);
                    v["id"] = json!(i);
                    v["message"] = json!({"text": l.message});
                    v
                })
                .collect();
            if !related.is_empty() {
                r["relatedLocations"] = json!(related);
            }
            r
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "trestle",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://trestle.dev",
                "rules": rules,
            }},
            "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "the directory trestle ran in"}}},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

/// Escape a workflow command's property value.
fn gh_escape_prop(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
        .replace(':', "%3A")
        .replace(',', "%2C")
}

fn gh_escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// GitHub Actions workflow annotation lines (`::error file=…,line=…::message`).
pub fn github(diags: &[Diagnostic], sources: &Sources) -> String {
    let mut out = String::new();
    for d in diags {
        let cmd = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let mut props = vec![format!("title={}", gh_escape_prop(&d.code))];
        if let Some(span) = d.primary_span() {
            let (file, line, col, end_line, end_col) = location(span, sources);
            let file = workspace_path(&file, sources);
            props.insert(0, format!("file={}", gh_escape_prop(&file)));
            props.push(format!("line={line}"));
            props.push(format!("col={col}"));
            props.push(format!("endLine={end_line}"));
            if end_line == line {
                props.push(format!("endColumn={end_col}"));
            }
        }
        let mut msg = format!("[{}] {}", d.code, d.message);
        for n in &d.notes {
            msg.push_str("\nnote: ");
            msg.push_str(n);
        }
        if let Some(h) = &d.help {
            msg.push_str("\nhelp: ");
            msg.push_str(h);
        }
        out.push_str(&format!(
            "::{cmd} {}::{}\n",
            props.join(","),
            gh_escape_data(&msg)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{Origin, SourceFile, Span};

    #[test]
    fn github_annotations_carry_notes_and_help_on_their_own_lines() {
        let mut sources = Sources::new(std::path::PathBuf::from("platform"));
        let text: std::sync::Arc<str> = "workload w {\n    replicas 0\n}\n".into();
        let file = sources.add(SourceFile::new(
            "apps/w.kdl".to_string(),
            None,
            text,
            Origin::Tree,
        ));
        let d = Diagnostic::warning(
            super::super::codes::UNKNOWN_ENVIRONMENT,
            "`when env=qa`: no such environment",
        )
        .label(Span::new(file, 17, 27), "here")
        .note("environments: dev, prod")
        .help("use one of them, or declare `qa`");
        let out = github(&[d], &sources);
        assert_eq!(
            out,
            "::warning file=platform/apps/w.kdl,title=T609,line=2,col=5,endLine=2,endColumn=15::\
             [T609] `when env=qa`: no such environment%0Anote: environments: dev, prod%0A\
             help: use one of them, or declare `qa`\n"
        );
    }
}
