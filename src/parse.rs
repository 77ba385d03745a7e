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
                diags.push(Diagnostic::error(
                    codes::UNREADABLE,
                    format!(".trestleignore: {e}"),
                ));
            }
        }
        b.build().ok()
    };
    let canon_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let mut out = Vec::new();
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
            .label(Span::new(id, span, span + 1), "too deep")],
        );
    }
    match kdl::KdlDocument::parse_v2(text) {
        Ok(doc) => {
            let (file, diags) = lower::lower_file(id, text, &doc);
            (Some(file), diags)
        }
        Err(err) => {
            let mut diags: Vec<Diagnostic> = err
                .diagnostics
                .iter()
                .map(|d| {
                    let start = d.span.offset().min(text.len());
                    let end = (start + d.span.len()).min(text.len());
                    let message = d.message.clone().unwrap_or_else(|| "invalid KDL".into());
                    Diagnostic::error(codes::KDL_SYNTAX, message.clone())
                        .label(
                            Span::new(id, start, end),
                            kdl_label(d.label.as_deref(), &message),
                        )
                        .maybe_help(d.help.clone())
                })
                .collect();
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

/// kdl's labels read like "not float"; say what was expected instead.
fn kdl_label(label: Option<&str>, message: &str) -> String {
    match label {
        Some(l) if l.starts_with("not ") => format!("expected {}", &l[4..]),
        Some(l) => l.to_string(),
        None => message.to_lowercase(),
    }
}

/// The offset of the first `{` nested deeper than MAX_DEPTH, skipping strings and comments.
fn too_deep(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let (mut depth, mut i) = (0usize, 0usize);
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
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
            b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(i);
                }
            }
            b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

fn read_one(id: FileId, name: String, path: PathBuf) -> FileResult {
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
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
            FileResult {
                file: SourceFile::new(name, Some(path), Arc::from(lossy), Origin::Tree),
                ast: None,
                diags: vec![
                    Diagnostic::error(codes::NOT_UTF8, "file is not valid UTF-8")
                        .label(
                            Span::new(id, at, at + len),
                            format!("invalid byte at offset {valid}"),
                        )
                        .help("save the file as UTF-8"),
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
