//! Pass 1: find the spec files under ROOT, read and parse them in parallel, and lower each.
//! KDL syntax errors become T101 diagnostics pointing at the offending token.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::ast;
use crate::diagnostics::{codes, Diagnostic};
use crate::lower;
use crate::source::{FileId, Origin, SourceFile, Sources, Span};

/// Deepest `{` nesting accepted; deeper input is refused before the recursive parser sees it.
pub const MAX_DEPTH: usize = 64;

/// Largest spec file parsed (T105). The `kdl` crate, which parses every file the fast parser
/// refuses (any invalid one), reads about 2 MB/s in release builds, so this bounds the time one
/// file can take; it also keeps byte offsets far below `u32::MAX`.
pub const MAX_FILE_SIZE: u64 = 16 << 20;

/// The front end's result: every file, its AST, and the diagnostics of passes 1 and 2.
#[derive(Debug, Default)]
pub struct Parsed {
    pub sources: Sources,
    pub files: Vec<(FileId, ast::File)>,
    pub diags: Vec<Diagnostic>,
    /// Problems with the tree itself (unreadable folders), not tied to a span.
    pub tree_errors: Vec<Diagnostic>,
}

/// Find every `*.kdl` under ROOT: skips hidden folders, output folders (holding
/// `.trestle/manifest.json`) and what `.trestleignore` lists. Sorted by relative path.
pub fn discover(root: &Path) -> (Vec<(String, PathBuf)>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let ignore = {
        let mut b = ignore::gitignore::GitignoreBuilder::new(root);
        let file = root.join(".trestleignore");
        if file.is_file() {
            if let Some(e) = b.add(&file) {
                // Drop the absolute path the error carries; keep the line number.
                let mut err = &e;
                let mut line = None;
                loop {
                    match err {
                        ignore::Error::WithPath { err: inner, .. } => err = inner,
                        ignore::Error::WithLineNumber {
                            line: l,
                            err: inner,
                        } => {
                            line = Some(*l);
                            err = inner;
                        }
                        _ => break,
                    }
                }
                let at = line.map_or_else(String::new, |l| format!(", line {l}"));
                diags.push(
                    Diagnostic::error(codes::UNREADABLE, format!("`.trestleignore`{at}: {err}"))
                        .help("fix the pattern; `.trestleignore` uses gitignore syntax"),
                );
            }
        }
        b.build().ok()
    };
    let canon_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let mut out = Vec::new();
    // Symlinked folders that lead outside ROOT are reported and not walked: one could point
    // at `/`.
    let escaping = std::cell::RefCell::new(Vec::new());
    let walker = walkdir::WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            if e.depth() == 0 {
                return true;
            }
            let name = e.file_name().to_string_lossy();
            if e.file_type().is_dir()
                && (name.starts_with('.') || e.path().join(".trestle/manifest.json").is_file())
            {
                return false;
            }
            if e.file_type().is_dir() && e.path_is_symlink() {
                let inside = e
                    .path()
                    .canonicalize()
                    .is_ok_and(|real| real.starts_with(&canon_root));
                if !inside {
                    escaping.borrow_mut().push(rel_name(root, e.path()));
                    return false;
                }
            }
            if let Some(ig) = &ignore {
                let rel = e.path().strip_prefix(root).unwrap_or(e.path());
                if ig
                    .matched_path_or_any_parents(rel, e.file_type().is_dir())
                    .is_ignore()
                {
                    return false;
                }
            }
            true
        });
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e
                    .path()
                    .map(|p| rel_name(root, p))
                    .unwrap_or_else(|| ".".into());
                let msg = if e.loop_ancestor().is_some() {
                    format!("symlink loop at `{path}`")
                } else {
                    format!(
                        "cannot read `{path}`: {}",
                        e.io_error()
                            .map_or_else(|| e.to_string(), |io| io.to_string())
                    )
                };
                diags.push(
                    Diagnostic::error(codes::UNREADABLE, msg)
                        .help("fix the entry or list it in `.trestleignore`"),
                );
                continue;
            }
        };
        if !entry.file_type().is_file() || entry.path().extension().is_none_or(|x| x != "kdl") {
            continue;
        }
        let rel = rel_name(root, entry.path());
        if entry.path_is_symlink() || entry.depth() > 0 {
            if let Ok(real) = entry.path().canonicalize() {
                if !real.starts_with(&canon_root) {
                    diags.push(
                        Diagnostic::error(codes::PATH_ESCAPES_ROOT, format!("`{rel}` is a symlink to a file outside ROOT"))
                            .help("spec files must live inside ROOT; copy the file in or list it in `.trestleignore`"),
                    );
                    continue;
                }
            }
        }
        out.push((rel, entry.path().to_path_buf()));
    }
    for rel in escaping.into_inner() {
        diags.push(
            Diagnostic::error(codes::PATH_ESCAPES_ROOT, format!("`{rel}` is a symlink to a folder outside ROOT"))
                .help("spec files must live inside ROOT; move the folder in, or list the link in `.trestleignore`"),
        );
    }
    (out, diags)
}

fn rel_name(root: &Path, p: &Path) -> String {
    let rel = p.strip_prefix(root).unwrap_or(p);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// One file after reading, parsing and lowering.
struct FileResult {
    file: SourceFile,
    ast: Option<ast::File>,
    diags: Vec<Diagnostic>,
}

/// Parse and lower one file's text (used for the tree, built-ins and fuzzing).
pub fn parse_text(id: FileId, text: &str) -> (Option<ast::File>, Vec<Diagnostic>) {
    if let Some(span) = too_deep(text) {
        return (
            None,
            vec![Diagnostic::error(
                codes::TOO_DEEP,
                format!("nesting deeper than {MAX_DEPTH} levels"),
            )
            .label(Span::new(id, span, span + 1), "too deep")
            .help("no spec needs this much nesting; is a `}` missing, or is the file generated?")],
        );
    }
    // The fast parser handles valid documents; anything else goes to the `kdl` crate, whose
    // errors become the diagnostics below.
    let parsed = match crate::kdl_fast::parse(text) {
        Some(doc) => Ok(doc),
        None => {
            // The kdl crate takes exponential time on invalid text with nested `/-` blocks.
            if let Some(at) = slashdash_too_deep(text) {
                return (
                    None,
                    vec![Diagnostic::error(
                        codes::TOO_DEEP,
                        format!(
                            "invalid KDL with commented-out (`/-`) blocks nested deeper than \
                             {MAX_SLASHDASH_DEPTH} levels"
                        ),
                    )
                    .label(Span::new(id, at, at + 1), "too deep")
                    .help(
                        "the file is not valid KDL; delete the commented-out blocks (or use `//` \
                         comments) to see the exact error",
                    )],
                );
            }
            kdl::KdlDocument::parse_v2(text)
        }
    };
    match parsed {
        Ok(doc) => {
            let (file, diags) = lower::lower_file(id, text, &doc);
            (Some(file), diags)
        }
        Err(err) => {
            let mut diags: Vec<Diagnostic> = Vec::new();
            let mut seen_spans = Vec::new();
            let unclosed = err
                .diagnostics
                .iter()
                .any(|d| d.message.as_deref() == Some("No closing '}' for child block"));
            for d in &err.diagnostics {
                let start = d.span.offset().min(text.len());
                let end = (start + d.span.len()).min(text.len());
                let message = d.message.clone().unwrap_or_else(|| "invalid KDL".into());
                // kdl reports an unclosed block twice; keep the one at the `{`.
                if unclosed && message == "Closing '}' was not found after nodes" {
                    continue;
                }
                // kdl often reports one token twice (as a value and as a node name).
                if seen_spans.contains(&(start, end)) {
                    continue;
                }
                seen_spans.push((start, end));
                let label = kdl_label(d.label.as_deref(), &message);
                diags.push(refine_syntax(
                    id,
                    text,
                    start,
                    end,
                    message,
                    label,
                    d.help.clone(),
                ));
            }
            if diags.is_empty() {
                diags.push(
                    Diagnostic::error(codes::KDL_SYNTAX, "invalid KDL document")
                        .label(Span::new(id, 0, 0), "here"),
                );
            }
            (None, diags)
        }
    }
}

/// KDL v2 keywords that must be written with a leading `#`.
const BARE_KEYWORDS: &[&str] = &["true", "false", "null", "inf", "-inf", "nan"];

/// The bare (unquoted) token starting at `start`: up to whitespace, `;`, `{`, `}` or a comment.
fn bare_token(text: &str, start: usize) -> (usize, usize) {
    let rest = &text[start..];
    let mut end = rest.len();
    for (i, c) in rest.char_indices() {
        if c.is_whitespace() || matches!(c, ';' | '{' | '}') || rest[i..].starts_with("//") {
            end = i;
            break;
        }
    }
    (start, start + end)
}

/// Turn kdl's parse error into a diagnostic that names the mistake and shows the fix.
fn refine_syntax(
    id: FileId,
    text: &str,
    start: usize,
    end: usize,
    message: String,
    label: String,
    help: Option<String>,
) -> Diagnostic {
    let plain = |span: (usize, usize), message: String, label: String, help: Option<String>| {
        Diagnostic::error(codes::KDL_SYNTAX, message)
            .label(Span::new(id, span.0, span.1), label)
            .maybe_help(help)
    };
    let partial_value = help
        .as_deref()
        .is_some_and(|h| h.contains("value terminator"));
    match message.as_str() {
        "Unexpected newline in single-line quoted string" => {
            return plain(
                (start, end),
                "unterminated string".into(),
                "this string has no closing `\"`".into(),
                Some("close it with `\"` on the same line (a string spanning several lines is written between `\"\"\"` lines)".into()),
            );
        }
        "No closing '}' for child block" => return unclosed_block(id, text, start),
        "Expected keyword" => {
            let (ts, te) = bare_token(text, start);
            return unknown_keyword(id, ts, te, &text[ts..te]);
        }
        "Expected end of document" if text[start..].starts_with('}') => {
            return plain(
                (start, start + 1),
                "unexpected `}`".into(),
                "no block is open here".into(),
                Some("remove it, or look above for a node whose `{` is missing".into()),
            );
        }
        _ => {}
    }
    // Where the offending value starts: for "Expected property value" kdl spans the whole node
    // up to the `=`.
    let value_start = if message == "Expected property value" {
        text[start..end].rfind('=').map_or(start, |i| start + i + 1)
    } else {
        start
    };
    let (ts, te) = bare_token(text, value_start);
    let tok = &text[ts..te];
    let value_error = matches!(
        message.as_str(),
        "Expected identifier string"
            | "Expected property value"
            | "Expected float"
            | "Expected integer"
            | "Expected hexadecimal number"
            | "Expected octal number"
            | "Expected binary number"
            | "Non-digit character found after the '.' of a float"
    );
    if value_error {
        if BARE_KEYWORDS.contains(&tok) {
            return plain(
                (ts, te),
                format!("`{tok}` must be written `#{tok}` in KDL v2"),
                format!("write `#{tok}`"),
                Some("KDL v2 writes booleans and null as `#true`, `#false` and `#null`".into()),
            );
        }
        if tok.is_empty() && message == "Expected property value" {
            let key_start = text[..value_start.saturating_sub(1)]
                .rfind(|c: char| c.is_whitespace())
                .map_or(start, |i| i + 1);
            let key = &text[key_start..value_start.saturating_sub(1)];
            return plain(
                (key_start, value_start),
                format!("property `{key}` has no value"),
                "no value after `=`".into(),
                Some(format!(
                    "write `{key}=VALUE` without spaces around `=`, or remove it"
                )),
            );
        }
        if tok.starts_with('#') {
            return unknown_keyword(id, ts, te, tok);
        }
        if message.starts_with("Non-digit character found after the '.'")
            && tok.ends_with('.')
            && tok[..tok.len() - 1].bytes().all(|b| b.is_ascii_digit())
            && tok.len() > 1
        {
            let int = &tok[..tok.len() - 1];
            return plain(
                (ts, te),
                format!("`{tok}` is not a number"),
                "a float needs digits after the `.`".into(),
                Some(format!("write `{int}` (or `{int}.0`)")),
            );
        }
        if !tok.is_empty()
            && !tok.starts_with('"')
            && (partial_value
                || tok.contains(['/', '\\', '(', ')', '[', ']', '=', ',', '#'])
                || tok.starts_with(|c: char| c.is_ascii_digit()))
        {
            let quoted = tok.replace('\\', "\\\\").replace('"', "\\\"");
            return plain(
                (ts, te),
                format!("`{tok}` must be quoted"),
                "unquoted value".into(),
                Some(format!("quote it: \"{quoted}\"")),
            );
        }
    }
    let help = help.filter(|_| !partial_value).or_else(|| {
        partial_value
            .then(|| "put a space between the two values, or quote the whole value".to_string())
    });
    plain((start, end), message, label, help)
}

fn unknown_keyword(id: FileId, ts: usize, te: usize, tok: &str) -> Diagnostic {
    const KEYWORDS: &[&str] = &["#true", "#false", "#null", "#inf", "#-inf", "#nan"];
    let lower = tok.to_ascii_lowercase();
    let help = if KEYWORDS.contains(&lower.as_str()) {
        format!("keywords are lower-case: write `{lower}`")
    } else {
        crate::diagnostics::did_you_mean(tok, KEYWORDS.iter().copied()).unwrap_or_else(|| {
            "KDL's keywords are `#true`, `#false`, `#null`, `#inf`, `#-inf` and `#nan`; quote a string that starts with `#`".into()
        })
    };
    Diagnostic::error(codes::KDL_SYNTAX, format!("unknown keyword `{tok}`"))
        .label(Span::new(id, ts, te), "not a KDL keyword")
        .help(help)
}

/// A `{` that is never closed. kdl reports the outermost open block; the block that is really
/// missing its `}` is usually the first one closed by a `}` indented less than its own line.
fn unclosed_block(id: FileId, text: &str, kdl_at: usize) -> Diagnostic {
    let line_start = |at: usize| text[..at].rfind('\n').map_or(0, |i| i + 1);
    let indent = |at: usize| {
        let ls = line_start(at);
        text[ls..].len() - text[ls..].trim_start_matches([' ', '\t']).len()
    };
    let head = |at: usize| text[line_start(at)..at].trim().to_string();
    let mut stack: Vec<usize> = Vec::new();
    let mut guess = None;
    for (at, open) in braces(text) {
        if open {
            stack.push(at);
            continue;
        }
        let Some(opener) = stack.pop() else { continue };
        let own_line = text[line_start(at)..at].trim().is_empty();
        if guess.is_none() && own_line && indent(at) < indent(opener) {
            guess = Some((opener, at));
        }
    }
    let mut d = Diagnostic::error(codes::KDL_SYNTAX, "missing closing `}`");
    match guess {
        Some((opener, closer)) if opener != kdl_at => {
            let (line, _) = line_col(text, closer);
            d = d
                .label(
                    Span::new(id, opener, opener + 1),
                    "this block is never closed (judging by indentation)",
                )
                .related(
                    Span::new(id, closer, closer + 1),
                    "this `}` is indented for an outer block",
                )
                .help(format!(
                    "add a `}}` for `{} {{` before line {line}",
                    head(opener)
                ));
        }
        _ => {
            d = d
                .label(
                    Span::new(id, kdl_at, kdl_at + 1),
                    "this block is never closed",
                )
                .help(format!("add a `}}` to close `{} {{`", head(kdl_at)));
        }
    }
    d
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let line = text[..at].matches('\n').count() + 1;
    let col = text[..at]
        .rsplit('\n')
        .next()
        .map_or(0, |l| l.chars().count())
        + 1;
    (line, col)
}

/// Offsets of `{` (true) and `}` (false) outside strings and comments.
fn braces(text: &str) -> Vec<(usize, bool)> {
    let mut out = Vec::new();
    scan(text, |i, b| {
        if b == b'{' || b == b'}' {
            out.push((i, b == b'{'));
        }
        true
    });
    out
}

/// Visit every byte outside strings and comments; stop when `f` returns false.
///
/// This must lex strings exactly as KDL v2 does (quoted, multi-line `"""`, raw `#"…"#` with any
/// number of `#`): a brace this scan wrongly takes for string content would slip past
/// [`too_deep`] into the recursive parser.
fn scan(text: &str, mut f: impl FnMut(usize, u8) -> bool) {
    let b = text.as_bytes();
    let mut i = 0usize;
    while i < b.len() {
        match b[i] {
            b'"' => i = skip_quoted(b, i),
            b'#' => {
                let hashes = b[i..].iter().take_while(|&&c| c == b'#').count();
                if b.get(i + hashes) == Some(&b'"') {
                    i = skip_raw(b, i + hashes, hashes);
                } else {
                    // Not a raw string (`#true`); `#` is never a brace, skip the run at once.
                    i += hashes - 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut nest = 0usize;
                while i + 1 < b.len() {
                    if b[i] == b'/' && b[i + 1] == b'*' {
                        nest += 1;
                        i += 1;
                    } else if b[i] == b'*' && b[i + 1] == b'/' {
                        nest -= 1;
                        i += 1;
                        if nest == 0 {
                            break;
                        }
                    }
                    i += 1;
                }
            }
            c => {
                if !f(i, c) {
                    return;
                }
            }
        }
        i += 1;
    }
}

/// The offset of the closing quote of the quoted string opening at `at` (a `"`), or the end.
fn skip_quoted(b: &[u8], at: usize) -> usize {
    let multi = b[at..].starts_with(b"\"\"\"");
    let mut i = at + if multi { 3 } else { 1 };
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'"' if !multi => return i,
            b'"' if b[i..].starts_with(b"\"\"\"") => return i + 2,
            _ => {}
        }
        i += 1;
    }
    b.len()
}

/// The offset of the last `#` of the raw string whose quotes start at `at`, opened by
/// `hashes` `#` characters; raw strings have no escapes.
fn skip_raw(b: &[u8], at: usize, hashes: usize) -> usize {
    let quotes = if b[at..].starts_with(b"\"\"\"") { 3 } else { 1 };
    let mut i = at + quotes;
    while i < b.len() {
        if b[i..].starts_with(&b"\"\"\""[..quotes])
            && b[i + quotes..].len() >= hashes
            && b[i + quotes..i + quotes + hashes]
                .iter()
                .all(|&c| c == b'#')
        {
            return i + quotes + hashes - 1;
        }
        i += 1;
    }
    b.len()
}

/// kdl's labels read like "not float"; say what was expected instead.
fn kdl_label(label: Option<&str>, message: &str) -> String {
    match label {
        Some(l) if l.starts_with("not ") => format!("expected {}", &l[4..]),
        Some(l) => l.to_string(),
        None => message.to_lowercase(),
    }
}

/// The offset of the first `{` nested deeper than MAX_DEPTH, skipping strings and comments.
pub(crate) fn too_deep(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut found = None;
    scan(text, |i, b| {
        match b {
            b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    found = Some(i);
                    return false;
                }
            }
            b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        true
    });
    found
}

/// How deep blocks opened under a `/-` may nest in a file the fast parser declined.
pub const MAX_SLASHDASH_DEPTH: usize = 8;

/// The offset of the first `{` nested more than [`MAX_SLASHDASH_DEPTH`] levels inside
/// slashdashed nodes or blocks (an estimate: a `/-` counts for the next block opened on the
/// same node, i.e. before a `;` or line end at its depth).
pub(crate) fn slashdash_too_deep(text: &str) -> Option<usize> {
    // Per open block: how many slashdashed blocks enclose it, and whether a `/-` is pending
    // on the current node at that depth.
    let mut stack: Vec<(usize, bool)> = vec![(0, false)];
    let b = text.as_bytes();
    let mut found = None;
    scan(text, |i, c| {
        match c {
            b'/' if b.get(i + 1) == Some(&b'-') => {
                if let Some(top) = stack.last_mut() {
                    top.1 = true;
                }
            }
            b'{' => {
                let (count, pending) = stack.last().copied().unwrap_or((0, false));
                let count = count + usize::from(pending);
                if count > MAX_SLASHDASH_DEPTH {
                    found = Some(i);
                    return false;
                }
                stack.push((count, false));
            }
            b'}' if stack.len() > 1 => {
                stack.pop();
            }
            b';' | b'\n' => {
                if let Some(top) = stack.last_mut() {
                    top.1 = false;
                }
            }
            _ => {}
        }
        true
    });
    found
}

/// The file's bytes, or `Ok(None)` when it is larger than [`MAX_FILE_SIZE`] (read no further).
fn read_capped(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_FILE_SIZE + 1)
        .read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= MAX_FILE_SIZE).then_some(bytes))
}

fn read_one(id: FileId, name: String, path: PathBuf) -> FileResult {
    let bytes = match read_capped(&path) {
        Ok(Some(b)) => b,
        Ok(None) => {
            let size = std::fs::metadata(&path).map_or(0, |m| m.len());
            let file = SourceFile::new(name.clone(), Some(path), Arc::from(""), Origin::Tree);
            return FileResult {
                file,
                ast: None,
                diags: vec![Diagnostic::error(
                    codes::FILE_TOO_LARGE,
                    format!(
                        "`{name}` is {:.1} MiB; spec files are limited to {} MiB",
                        size as f64 / f64::from(1 << 20),
                        MAX_FILE_SIZE >> 20
                    ),
                )
                .label(Span::new(id, 0, 0), "this file")
                .help("split it into several files, or list it in `.trestleignore`")],
            };
        }
        Err(e) => {
            let file = SourceFile::new(name.clone(), Some(path), Arc::from(""), Origin::Tree);
            return FileResult {
                file,
                ast: None,
                diags: vec![Diagnostic::error(
                    codes::UNREADABLE,
                    format!("cannot read `{name}`: {e}"),
                )
                .label(Span::new(id, 0, 0), "this file")],
            };
        }
    };
    match String::from_utf8(bytes) {
        Ok(text) => {
            let (ast, diags) = parse_text(id, &text);
            FileResult {
                file: SourceFile::new(name, Some(path), Arc::from(text), Origin::Tree),
                ast,
                diags,
            }
        }
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let at = lossy
                .char_indices()
                .find(|(_, c)| *c == char::REPLACEMENT_CHARACTER)
                .map_or(valid, |(i, _)| i);
            let len = lossy[at..].chars().next().map_or(0, char::len_utf8);
            let byte = e.as_bytes().get(valid).copied().unwrap_or(0);
            FileResult {
                file: SourceFile::new(name, Some(path), Arc::from(lossy), Origin::Tree),
                ast: None,
                diags: vec![
                    Diagnostic::error(codes::NOT_UTF8, "file is not valid UTF-8")
                        .label(
                            Span::new(id, at, at + len),
                            format!("byte 0x{byte:02X} at offset {valid} is not UTF-8"),
                        )
                        .help(if (0xA0..=0xFF).contains(&byte) {
                            "the file looks like Latin-1 or Windows-1252; re-save it as UTF-8"
                        } else {
                            "re-save the file as UTF-8"
                        }),
                ],
            }
        }
    }
}

/// Read and parse every spec file under ROOT plus the built-in platform.
pub fn load(root: &Path) -> Parsed {
    let (found, tree_errors) = discover(root);
    let mut sources = Sources::new(root.to_path_buf());
    let results: Vec<FileResult> = found
        .into_par_iter()
        .enumerate()
        .map(|(i, (name, path))| read_one(FileId(i as u32), name, path))
        .collect();
    let mut parsed = Parsed {
        tree_errors,
        ..Parsed::default()
    };
    for r in results {
        let id = sources.add(r.file);
        parsed.diags.extend(r.diags);
        if let Some(ast) = r.ast {
            parsed.files.push((id, ast));
        }
    }
    for (name, text) in crate::platform::KDL_FILES {
        let id = FileId(sources.len() as u32);
        let (ast, diags) = parse_text(id, text);
        sources.add(SourceFile::new(
            format!("<builtin>/{name}"),
            None,
            Arc::from(*text),
            Origin::Builtin,
        ));
        debug_assert!(diags.is_empty(), "built-in {name} is valid: {diags:?}");
        parsed.diags.extend(diags);
        if let Some(ast) = ast {
            parsed.files.push((id, ast));
        }
    }
    parsed.sources = sources;
    parsed
}
