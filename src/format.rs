//! `trestle fmt`: the canonical layout of KDL spec files, with every comment kept.
//!
//! The formatter works on tokens, not on the parsed document, so nothing the author wrote is
//! lost or re-spelled: strings keep their quoting, numbers their radix, comments their text.
//! Only the whitespace between tokens changes:
//!
//! - each line is indented by four spaces per open `{`;
//! - entries on a line are separated by one space (`key=value` stays glued; `key = value`
//!   becomes `key=value`), `{` and `}` inside a line get one space on their inner side, `;`
//!   hugs what precedes it;
//! - the gap before a trailing `// comment` is kept, so comments aligned in a column stay aligned;
//! - a block that opens on one line and closes on another has its `}` on a line of its own,
//!   and its first child starts on a new line;
//! - runs of blank lines become one; blank lines at the start or end of the file, after a
//!   `{` or before a `}` are removed; lines end in `\n` with no trailing whitespace;
//! - multi-line strings and block comments are copied verbatim.
//!
//! The result is parsed again and compared with the input node by node; if the meaning
//! changed the file is left alone and an error is reported, so `fmt` can never change what a
//! spec says.

use std::collections::HashSet;
use std::io::Write as _;

/// Why a file could not be formatted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// The file is not valid KDL v2 (the caller reports the syntax diagnostics).
    Syntax,
    /// Formatting would have changed the document's meaning: a formatter bug, never written.
    Changed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Anything else: identifiers, strings, numbers, keywords, `key=value`, `(type)value`.
    Atom,
    LineComment,
    BlockComment,
    /// `/-`
    Slashdash,
    Open,
    Close,
    Semi,
    /// `\` line continuation.
    Escline,
}

#[derive(Debug, Clone, Copy)]
struct Tok<'a> {
    kind: Kind,
    text: &'a str,
    /// Whitespace between the previous token on the same line and this one.
    gap: &'a str,
}

type Line<'a> = Vec<Tok<'a>>;

/// Deepest nesting formatted: what the spec parser accepts (deeper files are T104 there).
const MAX_DEPTH: usize = crate::parse::MAX_DEPTH;

fn is_ws(c: char) -> bool {
    matches!(
        c,
        '\t' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}' | '\u{202f}' | '\u{205f}' | '\u{3000}' | '\u{feff}'
    )
}

fn is_newline(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{85}' | '\u{b}' | '\u{c}' | '\u{2028}' | '\u{2029}'
    )
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn bump(&mut self) {
        if let Some(c) = self.peek() {
            self.pos += c.len_utf8();
        }
    }

    /// Skip a quoted string starting at `"` (single- or multi-line, with escapes).
    fn string(&mut self) {
        let multi = self.rest().starts_with("\"\"\"");
        self.pos += if multi { 3 } else { 1 };
        while let Some(c) = self.peek() {
            if c == '\\' {
                self.bump();
                self.bump();
                continue;
            }
            if multi && self.rest().starts_with("\"\"\"") {
                self.pos += 3;
                return;
            }
            self.bump();
            if !multi && c == '"' {
                return;
            }
        }
    }

    /// Skip a raw string `#…#"…"#…#` whose `hashes` leading `#` were already consumed.
    fn raw_string(&mut self, hashes: usize) {
        let multi = self.rest().starts_with("\"\"\"");
        let quote = if multi { "\"\"\"" } else { "\"" };
        self.pos += quote.len();
        let close = format!("{quote}{}", "#".repeat(hashes));
        match self.rest().find(&close) {
            Some(i) => self.pos += i + close.len(),
            None => self.pos = self.src.len(),
        }
    }

    /// Skip a `(type)` annotation, which may hold quoted strings and whitespace.
    fn annotation(&mut self) {
        self.bump();
        while let Some(c) = self.peek() {
            match c {
                ')' => {
                    self.bump();
                    return;
                }
                '"' => self.string(),
                '#' => self.hashes(),
                c if is_newline(c) => return,
                _ => self.bump(),
            }
        }
    }

    /// `#` starts a raw string or a keyword (`#true`).
    fn hashes(&mut self) {
        let n = self.rest().chars().take_while(|c| *c == '#').count();
        self.pos += n;
        if self.peek() == Some('"') {
            self.raw_string(n);
        }
    }

    fn atom(&mut self) {
        while let Some(c) = self.peek() {
            let r = self.rest();
            if is_ws(c)
                || is_newline(c)
                || matches!(c, '{' | '}' | ';' | '\\')
                || r.starts_with("//")
                || r.starts_with("/*")
                || r.starts_with("/-")
            {
                return;
            }
            match c {
                '"' => self.string(),
                '#' => self.hashes(),
                '(' => self.annotation(),
                _ => self.bump(),
            }
        }
    }

    fn block_comment(&mut self) {
        self.pos += 2;
        let mut depth = 1;
        while depth > 0 && self.pos < self.src.len() {
            let r = self.rest();
            if r.starts_with("/*") {
                depth += 1;
                self.pos += 2;
            } else if r.starts_with("*/") {
                depth -= 1;
                self.pos += 2;
            } else {
                self.bump();
            }
        }
    }

    /// Split the source into lines of tokens.
    fn lines(mut self) -> Vec<Line<'a>> {
        let mut lines = Vec::new();
        let mut line: Line<'a> = Vec::new();
        let mut gap_start = self.pos;
        while let Some(c) = self.peek() {
            let start = self.pos;
            let kind = if is_newline(c) {
                if self.rest().starts_with("\r\n") {
                    self.pos += 2;
                } else {
                    self.bump();
                }
                lines.push(std::mem::take(&mut line));
                gap_start = self.pos;
                continue;
            } else if is_ws(c) {
                self.bump();
                continue;
            } else if self.rest().starts_with("//") {
                while self.peek().is_some_and(|c| !is_newline(c)) {
                    self.bump();
                }
                Kind::LineComment
            } else if self.rest().starts_with("/*") {
                self.block_comment();
                Kind::BlockComment
            } else if self.rest().starts_with("/-") {
                self.pos += 2;
                Kind::Slashdash
            } else {
                match c {
                    '{' => {
                        self.bump();
                        Kind::Open
                    }
                    '}' => {
                        self.bump();
                        Kind::Close
                    }
                    ';' => {
                        self.bump();
                        Kind::Semi
                    }
                    '\\' => {
                        self.bump();
                        Kind::Escline
                    }
                    _ => {
                        self.atom();
                        if self.pos == start {
                            // Never loop forever on something the lexer does not know.
                            self.bump();
                        }
                        Kind::Atom
                    }
                }
            };
            line.push(Tok {
                kind,
                text: &self.src[start..self.pos],
                gap: &self.src[gap_start..start],
            });
            gap_start = self.pos;
        }
        lines.push(line);
        lines
    }
}

/// Put `}` of a multi-line block on its own line, and a block's first child after its `{`.
fn split_blocks(lines: Vec<Line<'_>>) -> Vec<Line<'_>> {
    // Match braces across the file; a brace whose partner is on another line is "open-ended".
    let mut stack: Vec<(usize, usize)> = Vec::new();
    let mut open_ended: HashSet<(usize, usize)> = HashSet::new();
    for (l, line) in lines.iter().enumerate() {
        for (t, tok) in line.iter().enumerate() {
            match tok.kind {
                Kind::Open => stack.push((l, t)),
                Kind::Close => match stack.pop() {
                    Some((ol, ot)) if ol != l => {
                        open_ended.insert((ol, ot));
                        open_ended.insert((l, t));
                    }
                    Some(_) => {}
                    None => {
                        open_ended.insert((l, t));
                    }
                },
                _ => {}
            }
        }
    }
    for open in stack {
        open_ended.insert(open);
    }
    let mut out = Vec::new();
    for (l, line) in lines.into_iter().enumerate() {
        let mut cur: Line<'_> = Vec::new();
        for (t, tok) in line.iter().enumerate() {
            let ended = open_ended.contains(&(l, t));
            if ended && tok.kind == Kind::Close && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            cur.push(*tok);
            // A trailing comment or `\` stays on the line of its `{`.
            let rest_is_code = line[t + 1..]
                .iter()
                .any(|x| !matches!(x.kind, Kind::LineComment | Kind::Escline));
            if ended && tok.kind == Kind::Open && rest_is_code {
                out.push(std::mem::take(&mut cur));
            }
        }
        out.push(cur);
    }
    out
}

fn join(line: &[Tok<'_>]) -> String {
    let mut s = String::new();
    for (i, t) in line.iter().enumerate() {
        if i > 0 {
            let p = line[i - 1];
            let sep = match (p.kind, t.kind) {
                (_, Kind::LineComment) if !t.gap.is_empty() => " ".repeat(t.gap.chars().count()),
                (_, Kind::Semi) | (Kind::Open, Kind::Close) => String::new(),
                (Kind::Slashdash, _) if t.gap.is_empty() => String::new(),
                (Kind::Atom, Kind::Atom) if p.text.ends_with('=') || t.text.starts_with('=') => {
                    String::new()
                }
                _ => " ".to_string(),
            };
            s.push_str(&sep);
        }
        if t.kind == Kind::LineComment {
            s.push_str(t.text.trim_end_matches(is_ws));
        } else {
            s.push_str(t.text);
        }
    }
    s
}

/// Lay out lines: indentation, blank lines.
fn layout(lines: &[Line<'_>]) -> String {
    let mut out = String::new();
    let mut depth: usize = 0;
    let mut continuation = false;
    let mut blank = false;
    let mut after_open = true; // start of file behaves like just after `{`
    for line in lines {
        let Some(first) = line.first() else {
            blank = true;
            continue;
        };
        if blank && !after_open && first.kind != Kind::Close {
            out.push('\n');
        }
        blank = false;
        let mut level = depth;
        if first.kind == Kind::Close {
            level = level.saturating_sub(1);
        }
        if continuation {
            level += 1;
        }
        for _ in 0..level {
            out.push_str("    ");
        }
        out.push_str(&join(line));
        out.push('\n');
        for t in line {
            match t.kind {
                Kind::Open => depth += 1,
                Kind::Close => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        let last_code = line.iter().rev().find(|t| t.kind != Kind::LineComment);
        continuation = last_code.is_some_and(|t| t.kind == Kind::Escline);
        after_open = last_code.is_some_and(|t| t.kind == Kind::Open);
    }
    out
}

/// The canonical layout of `src` (which must be valid KDL v2).
pub fn format_source(src: &str) -> Result<String, FormatError> {
    let (bom, body) = match src.strip_prefix('\u{feff}') {
        Some(rest) => ("\u{feff}", rest),
        None => ("", src),
    };
    let lines = Lexer { src: body, pos: 0 }.lines();
    // The KDL parser recurses per level; refuse what the spec parser refuses (T104) first.
    let mut depth = 0usize;
    for t in lines.iter().flatten() {
        match t.kind {
            Kind::Open => depth += 1,
            Kind::Close => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > MAX_DEPTH {
            return Err(FormatError::Syntax);
        }
    }
    let Ok(before) = kdl::KdlDocument::parse_v2(src) else {
        return Err(FormatError::Syntax);
    };
    let mut text = String::from(bom);
    text.push_str(&layout(&split_blocks(lines)));
    if text.trim().is_empty() {
        text = String::new();
    }
    match kdl::KdlDocument::parse_v2(&text) {
        Ok(after) if same_document(&before, &after) => Ok(text),
        _ => Err(FormatError::Changed),
    }
}

fn same_document(a: &kdl::KdlDocument, b: &kdl::KdlDocument) -> bool {
    a.nodes().len() == b.nodes().len()
        && a.nodes()
            .iter()
            .zip(b.nodes())
            .all(|(x, y)| same_node(x, y))
}

fn same_node(a: &kdl::KdlNode, b: &kdl::KdlNode) -> bool {
    let ty = |t: Option<&kdl::KdlIdentifier>| t.map(|i| i.value().to_string());
    a.name().value() == b.name().value()
        && ty(a.ty()) == ty(b.ty())
        && a.entries().len() == b.entries().len()
        && a.entries().iter().zip(b.entries()).all(|(x, y)| {
            ty(x.name()) == ty(y.name()) && ty(x.ty()) == ty(y.ty()) && x.value() == y.value()
        })
        && match (a.children(), b.children()) {
            (None, None) => true,
            (Some(x), Some(y)) => same_document(x, y),
            _ => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(s: &str) -> String {
        format_source(s).expect("formats")
    }

    #[test]
    fn indents_and_spaces() {
        let src = "team  payments{\ntitle   \"Payments\"\n\t\tmember alice   email=\"a@x\"\n}\n";
        assert_eq!(
            fmt(src),
            "team payments {\n    title \"Payments\"\n    member alice email=\"a@x\"\n}\n"
        );
    }

    #[test]
    fn keeps_comments_strings_and_numbers_verbatim() {
        let src = "// header\n\n\n/* block\n   comment */\nworkload w {   // trailing\n  file \"/a\" mode=0o644 content=#\"raw \"quoted\" { } \"#\n  /- replicas 3\n  env A=\"x // not a comment\" B=#true\n}\n";
        let out = fmt(src);
        assert_eq!(
            out,
            "// header\n\n/* block\n   comment */\nworkload w {   // trailing\n    file \"/a\" mode=0o644 content=#\"raw \"quoted\" { } \"#\n    /- replicas 3\n    env A=\"x // not a comment\" B=#true\n}\n"
        );
    }

    #[test]
    fn aligned_trailing_comments_stay_aligned() {
        let src = "environment prod {\n  type production       // one\n  region eu-west-1      // two\n}\n";
        assert_eq!(
            fmt(src),
            "environment prod {\n    type production       // one\n    region eu-west-1      // two\n}\n"
        );
    }

    #[test]
    fn one_line_blocks_stay_and_multi_line_blocks_split() {
        assert_eq!(
            fmt("domain d {owner p;description \"x\"}\n"),
            "domain d { owner p; description \"x\" }\n"
        );
        assert_eq!(
            fmt("system s { owner p\n  domain d }\n"),
            "system s {\n    owner p\n    domain d\n}\n"
        );
        assert_eq!(fmt("a {}\nb { }\n"), "a {}\nb {}\n");
    }

    #[test]
    fn blank_lines_collapse_and_trim() {
        let src = "\n\nteam a {\n\n  title \"A\"\n\n\n  email \"a@x\"\n\n}\n\n\nteam b\n\n\n";
        assert_eq!(
            fmt(src),
            "team a {\n    title \"A\"\n\n    email \"a@x\"\n}\n\nteam b\n"
        );
    }

    #[test]
    fn multiline_strings_and_continuations_are_kept() {
        let src = "workload w {\n  container main {\n    file \"/x\" content=\"\"\"\n      line one\n        two\n      \"\"\"\n    args \"a\" \\\n  \"b\"\n  }\n}\n";
        let out = fmt(src);
        assert!(
            out.contains("content=\"\"\"\n      line one\n        two\n      \"\"\"\n"),
            "{out}"
        );
        assert!(
            out.contains("        args \"a\" \\\n            \"b\"\n"),
            "{out}"
        );
    }

    #[test]
    fn trailing_whitespace_goes_also_after_comments() {
        assert_eq!(
            fmt("a   \t\n// note  \t\nb // c   \n"),
            "a\n// note\nb // c\n"
        );
    }

    #[test]
    fn property_spacing_and_crlf() {
        assert_eq!(
            fmt("rule x severity = error\r\nrule y\r\n"),
            "rule x severity=error\nrule y\n"
        );
    }

    #[test]
    fn idempotent() {
        let srcs = [
            "a{b{c 1;d 2}\ne}\n",
            "x \\ // c\n  1 2\ny (t)\"v\" key=(u)1\n",
            "/- a { b }\n/-c\n",
        ];
        for s in srcs {
            let once = fmt(s);
            assert_eq!(fmt(&once), once, "not idempotent on {s:?}");
        }
    }

    #[test]
    fn syntax_errors_are_refused() {
        assert_eq!(format_source("a {\n"), Err(FormatError::Syntax));
        let deep = format!("{}{}", "a {".repeat(100_000), "}".repeat(100_000));
        assert_eq!(format_source(&deep), Err(FormatError::Syntax));
    }
}

/// One file `trestle fmt` looked at.
#[derive(Debug, Clone)]
struct Target {
    /// As shown to the user: the path given, joined with the path inside a walked folder.
    shown: String,
    path: std::path::PathBuf,
}

/// The files under `paths`: folders are walked like a spec tree, files taken as they are.
fn targets(paths: &[std::path::PathBuf]) -> Result<Vec<Target>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let (found, errors) = crate::parse::discover(p);
            if let Some(e) = errors.first() {
                return Err(e.message.clone());
            }
            for (rel, path) in found {
                let shown = if p.as_os_str() == "." {
                    rel
                } else {
                    format!("{}/{rel}", p.display().to_string().trim_end_matches('/'))
                };
                out.push(Target { shown, path });
            }
        } else if p.is_file() {
            out.push(Target {
                shown: p.display().to_string(),
                path: p.clone(),
            });
        } else {
            return Err(format!("`{}` is not a file or directory", p.display()));
        }
    }
    Ok(out)
}

/// Replace a file's contents through a temporary file and a rename, keeping its permissions.
fn write_atomic(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.trestle-fmt.tmp"));
    let perms = std::fs::metadata(path)?.permissions();
    std::fs::write(&tmp, text)?;
    let done = std::fs::set_permissions(&tmp, perms).and_then(|()| std::fs::rename(&tmp, path));
    if done.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    done
}

/// `trestle fmt [PATHS] [--check]`; returns the exit code (SPEC section 6): 0 when every file
/// is formatted (or was formatted now), 1 with `--check` when a file would change or when a
/// file has syntax errors, 2 for I/O errors.
pub fn cmd(paths: &[std::path::PathBuf], check: bool, color: bool) -> i32 {
    use crate::cli::exit;
    use crate::source::{FileId, Origin, SourceFile, Sources};
    let default = [std::path::PathBuf::from(".")];
    let paths = if paths.is_empty() {
        &default[..]
    } else {
        paths
    };
    let targets = match targets(paths) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let mut sources = Sources::new(std::path::PathBuf::from("."));
    let mut syntax = Vec::new();
    let mut changed = Vec::new();
    let mut failed = false;
    for t in &targets {
        let text = match std::fs::read_to_string(&t.path) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error[T702]: cannot read `{}`: {e}", t.shown);
                failed = true;
                continue;
            }
        };
        match format_source(&text) {
            Ok(f) if f == text => {}
            Ok(f) => changed.push((t, f)),
            Err(FormatError::Syntax) => {
                let id = FileId(sources.len() as u32);
                let (_, diags) = crate::parse::parse_text(id, &text);
                sources.add(SourceFile::new(
                    t.shown.clone(),
                    Some(t.path.clone()),
                    text.into(),
                    Origin::Tree,
                ));
                syntax.extend(diags.into_iter().filter(|d| d.code.starts_with("T1")));
            }
            Err(FormatError::Changed) => {
                eprintln!(
                    "error: formatting `{}` would change its meaning; the file was left as it is (this is a trestle bug)",
                    t.shown
                );
                failed = true;
            }
        }
    }
    if !syntax.is_empty() {
        eprint!(
            "{}",
            crate::diagnostics::render::human(&syntax, &sources, color)
        );
    }
    let mut out = std::io::stdout().lock();
    for (t, text) in &changed {
        if check {
            let _ = writeln!(out, "{}", t.shown);
        } else if let Err(e) = write_atomic(&t.path, text) {
            eprintln!("error[T702]: cannot write `{}`: {e}", t.shown);
            failed = true;
        } else {
            eprintln!("formatted {}", t.shown);
        }
    }
    let total = targets.len();
    let n = changed.len();
    let files = |n: usize| format!("{n} file{}", if n == 1 { "" } else { "s" });
    if check {
        if n == 0 {
            eprintln!("trestle fmt: {} already formatted", files(total));
        } else {
            eprintln!(
                "trestle fmt: {} of {total} would be reformatted; run `trestle fmt` to fix",
                files(n)
            );
        }
    } else {
        eprintln!(
            "trestle fmt: {} reformatted, {} unchanged",
            files(n),
            total - n - sources.len()
        );
    }
    if failed {
        exit::USAGE
    } else if !syntax.is_empty() || (check && n > 0) {
        exit::SPEC_ERRORS
    } else {
        exit::OK
    }
}
