//! A hand-written reader for the block-style YAML subset that provisioner templates render
//! and that our own emitter writes, used as a fast path by [`super::from_yaml_str`].
//!
//! The contract is narrow on purpose: [`parse`] returns `Some` only when the input lies in
//! the subset below AND the result equals what the serde_yaml_ng path returns as `Ok`;
//! anything else (including every input the serde path rejects) gives `None`, and the
//! caller falls back to serde_yaml_ng, so error messages never change. When in doubt, the
//! reader bails out rather than guess.
//!
//! The subset: documents separated by `---` lines; comments; block mappings and sequences
//! (indented, indentless `key:\n- item`, compact `- key: v` and `- - x`); single-line plain,
//! single- and double-quoted scalars; literal block scalars (`|`, `|-`, `|+`, with an
//! indentation indicator); one-line flow sequences of scalars and the empty `[]`/`{}`.
//! Not supported (always `None`): anchors, aliases, tags, directives, `?` keys, folded or
//! multi-line flow/plain/quoted scalars, tabs outside quoted and block scalar text, CR
//! line breaks, duplicate keys, `<<`, and plain scalars whose resolution is unusual (hex,
//! octal, `.inf`, `+1`, exponents...).

use super::{Map, Value};

/// Reads a YAML stream in the subset; see the module docs for the `None` contract.
pub fn parse(s: &str) -> Option<Vec<Value>> {
    if !chars_ok(s) {
        return None;
    }
    let mut lines: Vec<&str> = s.split('\n').collect();
    // The text after the final newline is no line; a last line without one is.
    let unterminated_last = if s.ends_with('\n') || s.is_empty() {
        lines.pop();
        false
    } else {
        true
    };
    let mut docs = Vec::new();
    // Explicit documents start at a `---` line; the part before the first one is a document
    // only when it holds a node.
    let mut start = 0;
    let mut explicit = false;
    for (i, line) in lines.iter().enumerate() {
        if let Some(rest) = line.strip_prefix("---") {
            if rest.is_empty() {
                push_doc(&lines, start, i, explicit, unterminated_last, &mut docs)?;
                start = i + 1;
                explicit = true;
                continue;
            }
            if rest.starts_with([' ', '\t']) {
                return None;
            }
        }
        if line.starts_with('%')
            || line
                .strip_prefix("...")
                .is_some_and(|r| r.is_empty() || r.starts_with([' ', '\t']))
        {
            return None;
        }
    }
    push_doc(
        &lines,
        start,
        lines.len(),
        explicit,
        unterminated_last,
        &mut docs,
    )?;
    if docs.is_empty() {
        // serde_yaml_ng reads a stream without documents as one empty document.
        docs.push(Value::Null);
    }
    Some(docs)
}

fn push_doc(
    lines: &[&str],
    start: usize,
    end: usize,
    explicit: bool,
    unterminated_last: bool,
    docs: &mut Vec<Value>,
) -> Option<()> {
    let mut p = Parser {
        lines: &lines[..end],
        i: start,
        unterminated: unterminated_last && end == lines.len(),
        depth: 0,
    };
    match p.peek()? {
        None if explicit => docs.push(Value::Null),
        None => {}
        Some(col) => {
            let value = p.root(col)?;
            if p.peek()?.is_some() {
                return None;
            }
            docs.push(value);
        }
    }
    Some(())
}

/// Rejects what libyaml refuses or treats as a line break (CR, NEL, LS, PS), the BOM, and
/// non-printable characters; tabs pass here and are checked where they matter.
fn chars_ok(s: &str) -> bool {
    let b = s.as_bytes();
    if b.iter()
        .all(|&c| (0x20..0x7F).contains(&c) || c == b'\n' || c == b'\t')
    {
        return true;
    }
    s.chars().all(|c| match c {
        '\n' | '\t' => true,
        c if c < ' ' => false,
        '\u{7F}'..='\u{9F}' | '\u{2028}' | '\u{2029}' | '\u{FEFF}' | '\u{FFFE}' | '\u{FFFF}' => {
            false
        }
        _ => true,
    })
}

struct Parser<'a, 'b> {
    lines: &'b [&'a str],
    /// The current line.
    i: usize,
    /// Whether the last of `lines` ends the input without a newline.
    unterminated: bool,
    /// Collections open around the current line.
    depth: usize,
}

/// Deeper nesting is left to serde_yaml_ng, which refuses more than 128 levels (an indentless
/// sequence adds a level without a `block`, so this counts at most half); this also
/// bounds the recursion of this reader (a 16 MiB line of `- - - …` nests millions deep).
const MAX_DEPTH: usize = 48;

/// Leading spaces of a line; `None` when a tab follows them (tabs never indent).
fn indent_of(line: &str) -> Option<usize> {
    let n = line.bytes().take_while(|&b| b == b' ').count();
    if line.as_bytes().get(n) == Some(&b'\t') {
        return None;
    }
    Some(n)
}

/// Whether `content` (the text from a node's column) opens a block sequence entry.
fn is_dash(content: &str) -> bool {
    content == "-" || content.starts_with("- ")
}

/// Characters that may not start a plain scalar here (indicators, or ones we leave to libyaml).
fn bad_plain_start(c: u8) -> bool {
    matches!(
        c,
        b'&' | b'*'
            | b'!'
            | b'|'
            | b'>'
            | b'\''
            | b'"'
            | b'%'
            | b'@'
            | b'`'
            | b'#'
            | b','
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'?'
            | b':'
            | b' '
            | b'\t'
    )
}

/// The rest of a line after a scalar must be blank or a comment (`#` after a space).
fn only_comment(rest: &str) -> bool {
    let t = rest.trim_start_matches(' ');
    t.is_empty() || (t.starts_with('#') && t.len() < rest.len())
}

impl<'a> Parser<'a, '_> {
    /// Skips blank and comment lines; the indentation of the next line with a node, or
    /// `Some(None)` at the end of the document. `None` bails out (a tab indents a line).
    fn peek(&mut self) -> Option<Option<usize>> {
        while let Some(line) = self.lines.get(self.i) {
            let n = indent_of(line)?;
            let rest = &line[n..];
            if !rest.is_empty() && !rest.starts_with('#') {
                return Some(Some(n));
            }
            self.i += 1;
        }
        Some(None)
    }

    fn root(&mut self, col: usize) -> Option<Value> {
        let content = &self.lines[self.i][col..];
        if is_dash(content) {
            self.seq(col)
        } else {
            self.map(col, key_end(content)?)
        }
    }

    /// A node that starts at `col` on the current line, inside a collection whose
    /// indentation is `parent`.
    fn block(&mut self, col: usize, parent: usize) -> Option<Value> {
        if self.depth >= MAX_DEPTH {
            return None;
        }
        self.depth += 1;
        let content = &self.lines[self.i][col..];
        let value = if is_dash(content) {
            self.seq(col)
        } else if let Some(key) = key_end(content) {
            self.map(col, key)
        } else {
            self.inline(col, parent)
        };
        self.depth -= 1;
        value
    }

    /// A block mapping whose keys sit at column `n`; the current line holds its first entry,
    /// whose key `first` [`key_end`] has read.
    fn map(&mut self, n: usize, first: (String, usize)) -> Option<Value> {
        let mut out: Vec<(String, Value)> = Vec::new();
        let mut entry = Some(first);
        loop {
            let line = self.lines[self.i];
            let (key, after) = match entry.take() {
                Some(e) => e,
                None => key_end(&line[n..])?,
            };
            if key == "<<" || out.iter().any(|(k, _)| *k == key) {
                return None;
            }
            // `after` is the offset just past the `:`, which a space or the line end follows.
            let rest_col = n + after;
            let rest = &line[rest_col..];
            let t = rest.trim_start_matches(' ');
            let value = if t.is_empty() || t.starts_with('#') {
                self.i += 1;
                match self.peek()? {
                    Some(m) if m > n => self.block(m, n)?,
                    Some(m) if m == n && is_dash(&self.lines[self.i][m..]) => self.seq(n)?,
                    _ => Value::Null,
                }
            } else {
                self.inline(rest_col + (rest.len() - t.len()), n)?
            };
            out.push((key, value));
            match self.peek()? {
                Some(m) if m == n => continue,
                Some(m) if m > n => return None,
                _ => return Some(Value::Map(Map(out))),
            }
        }
    }

    /// A block sequence whose dashes sit at column `n`; the first dash is on the current line.
    fn seq(&mut self, n: usize) -> Option<Value> {
        let mut out = Vec::new();
        loop {
            let line = self.lines[self.i];
            let content = &line[n..];
            if !is_dash(content) {
                // The end of an indentless sequence; the caller judges the line.
                return Some(Value::Seq(out));
            }
            let after = &content[1..];
            let t = after.trim_start_matches(' ');
            let c = n + 1 + (after.len() - t.len());
            let item = if t.is_empty() || t.starts_with('#') {
                self.i += 1;
                match self.peek()? {
                    Some(m) if m > n => self.block(m, n)?,
                    _ => Value::Null,
                }
            } else if t.starts_with('\t') {
                return None;
            } else {
                self.block(c, n)?
            };
            out.push(item);
            match self.peek()? {
                Some(m) if m == n => continue,
                Some(m) if m > n => return None,
                _ => return Some(Value::Seq(out)),
            }
        }
    }

    /// A scalar or flow collection at `col` of the current line, which it ends; `parent` is
    /// the indentation of the enclosing collection (block scalars count from it).
    fn inline(&mut self, col: usize, parent: usize) -> Option<Value> {
        let line = self.lines[self.i];
        let text = &line[col..];
        let first = *text.as_bytes().first()?;
        let value = match first {
            b'"' | b'\'' => {
                let (s, used) = quoted(text)?;
                if !only_comment(&text[used..]) {
                    return None;
                }
                Value::Str(s)
            }
            b'|' => return self.literal(&text[1..], parent),
            b'[' => flow(&text[1..], ']')?,
            b'{' => flow(&text[1..], '}')?,
            b'-' if matches!(text.as_bytes().get(1), None | Some(b' ' | b'\t')) => return None,
            c if bad_plain_start(c) => return None,
            _ => {
                let end = text.find(" #").unwrap_or(text.len());
                let s = text[..end].trim_end_matches(' ');
                if s.contains(": ") || s.ends_with(':') || s.contains('\t') {
                    return None;
                }
                resolve(s)?
            }
        };
        self.i += 1;
        Some(value)
    }

    /// A literal block scalar; `header` is what follows the `|`.
    fn literal(&mut self, header: &str, parent: usize) -> Option<Value> {
        let hb = header.as_bytes();
        let (mut explicit, mut chomp) = (None, b' ');
        let mut k = 0;
        while k < hb.len() && k < 2 {
            match hb[k] {
                b'1'..=b'9' if explicit.is_none() => explicit = Some(usize::from(hb[k] - b'0')),
                b'+' | b'-' if chomp == b' ' => chomp = hb[k],
                _ => break,
            }
            k += 1;
        }
        let rest = &header[k..];
        if !(rest.is_empty() || rest.starts_with(' ') && only_comment(rest)) {
            return None;
        }
        let start = self.i + 1;
        // Content indentation: explicit, or that of the first line with text.
        let ci = match explicit {
            Some(e) => parent + e,
            None => {
                let mut j = start;
                loop {
                    let line = self.lines.get(j)?;
                    let n = line.bytes().take_while(|&b| b == b' ').count();
                    if n < line.len() {
                        // libyaml rejects a tab where it is still looking for the indentation.
                        if line.as_bytes()[n] == b'\t' {
                            return None;
                        }
                        break n;
                    }
                    j += 1;
                }
            }
        };
        if ci <= parent {
            return None;
        }
        let mut body = String::new();
        let mut pending = 0usize;
        let mut any_text = false;
        let mut j = start;
        while let Some(line) = self.lines.get(j) {
            let n = line.bytes().take_while(|&b| b == b' ').count();
            if n == line.len() {
                // A blank line; more spaces than the indentation would be content (and,
                // before the first text, would change the detected indentation).
                if n > ci {
                    return None;
                }
                pending += 1;
            } else if line[n..].trim_start_matches([' ', '\t']).is_empty() {
                return None;
            } else if n >= ci {
                if any_text {
                    body.push('\n');
                }
                for _ in 0..pending {
                    body.push('\n');
                }
                pending = 0;
                body.push_str(&line[ci..]);
                any_text = true;
            } else {
                break;
            }
            j += 1;
        }
        if !any_text || (self.unterminated && j == self.lines.len()) {
            return None;
        }
        match chomp {
            b'-' => {}
            b'+' => {
                for _ in 0..=pending {
                    body.push('\n');
                }
            }
            _ => body.push('\n'),
        }
        self.i = j;
        Some(Value::Str(body))
    }
}

/// For a line (from a node's column) that is a mapping entry: the converted key and the
/// byte offset just past its `:`. `None` when the line is no entry this reader accepts.
fn key_end(content: &str) -> Option<(String, usize)> {
    let first = *content.as_bytes().first()?;
    if first == b'"' || first == b'\'' {
        let (key, used) = quoted(content)?;
        let after = content[used..].strip_prefix(':')?;
        if !(after.is_empty() || after.starts_with(' ')) || used > 1000 {
            return None;
        }
        return Some((key, used + 1));
    }
    if bad_plain_start(first) || first == b'-' {
        return None;
    }
    let b = content.as_bytes();
    let mut at = None;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b':' if matches!(b.get(i + 1), None | Some(b' ')) => {
                at = Some(i);
                break;
            }
            b'#' if b[i - 1] == b' ' => return None,
            b'\t' | b'"' | b'\'' => return None,
            _ => {}
        }
    }
    let at = at?;
    let key = &content[..at];
    if key.ends_with(' ') || key.len() > 1000 {
        return None;
    }
    let key = match resolve(key)? {
        Value::Str(s) => s,
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        _ => return None,
    };
    Some((key, at + 1))
}

/// A single- or double-quoted scalar at the start of `text` that closes on the same line:
/// its value and the bytes it spans.
fn quoted(text: &str) -> Option<(String, usize)> {
    let double = text.starts_with('"');
    let body = &text[1..];
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' if double => return Some((out, i + 2)),
            '\'' if !double => {
                if body[i + 1..].starts_with('\'') {
                    chars.next();
                    out.push('\'');
                } else {
                    return Some((out, i + 2));
                }
            }
            '\\' if double => {
                let (_, e) = chars.next()?;
                let width = match e {
                    'x' => 2,
                    'u' => 4,
                    'U' => 8,
                    _ => {
                        out.push(match e {
                            '0' => '\0',
                            'a' => '\u{07}',
                            'b' => '\u{08}',
                            't' | '\t' => '\t',
                            'n' => '\n',
                            'v' => '\u{0B}',
                            'f' => '\u{0C}',
                            'r' => '\r',
                            'e' => '\u{1B}',
                            ' ' => ' ',
                            '"' => '"',
                            '/' => '/',
                            '\\' => '\\',
                            'N' => '\u{85}',
                            '_' => '\u{A0}',
                            'L' => '\u{2028}',
                            'P' => '\u{2029}',
                            _ => return None,
                        });
                        continue;
                    }
                };
                let mut code = 0u32;
                for _ in 0..width {
                    let (_, h) = chars.next()?;
                    code = code * 16 + h.to_digit(16)?;
                }
                out.push(char::from_u32(code)?);
            }
            _ => out.push(c),
        }
    }
    None
}

/// A one-line flow sequence (`close` is `]`) or mapping (`}`) of scalars; `text` follows
/// the opening bracket. Mapping entries are `key: value` with both present.
fn flow(text: &str, close: char) -> Option<Value> {
    let is_map = close == '}';
    let (mut items, mut entries) = (Vec::new(), Vec::<(String, Value)>::new());
    let mut rest = text.trim_start_matches(' ');
    let mut key: Option<String> = None;
    if let Some(r) = rest.strip_prefix(close) {
        if !only_comment(r) {
            return None;
        }
        return Some(if is_map {
            Value::Map(Map::new())
        } else {
            Value::Seq(items)
        });
    }
    loop {
        let (scalar, after) = flow_scalar(rest)?;
        let after = after.trim_start_matches(' ');
        if is_map && key.is_none() {
            // A key: `:` then a space must follow.
            let k = match scalar {
                Value::Str(s) => s,
                Value::Bool(b) => b.to_string(),
                Value::Int(i) => i.to_string(),
                _ => return None,
            };
            if k == "<<" || entries.iter().any(|(e, _)| *e == k) {
                return None;
            }
            key = Some(k);
            rest = after.strip_prefix(": ")?.trim_start_matches(' ');
            continue;
        }
        match key.take() {
            Some(k) => entries.push((k, scalar)),
            None => items.push(scalar),
        }
        if let Some(r) = after.strip_prefix(close) {
            if !only_comment(r) {
                return None;
            }
            return Some(if is_map {
                Value::Map(Map(entries))
            } else {
                Value::Seq(items)
            });
        }
        rest = after.strip_prefix(',')?.trim_start_matches(' ');
        if rest.starts_with(close) {
            return None;
        }
    }
}

/// One quoted or plain scalar inside a flow collection, and the text after it.
fn flow_scalar(rest: &str) -> Option<(Value, &str)> {
    let first = *rest.as_bytes().first()?;
    if first == b'"' || first == b'\'' {
        let (s, used) = quoted(rest)?;
        return Some((Value::Str(s), &rest[used..]));
    }
    if bad_plain_start(first) || first == b'-' && rest.as_bytes().get(1) == Some(&b' ') {
        return None;
    }
    let end = rest.find([',', ']', '}', ':'])?;
    let s = rest[..end].trim_end_matches(' ');
    if s.is_empty()
        || s.bytes().any(|c| {
            matches!(
                c,
                b'#' | b'[' | b'{' | b'"' | b'\'' | b'\t' | b'&' | b'*' | b'?'
            )
        })
    {
        return None;
    }
    Some((resolve(s)?, &rest[end..]))
}

/// What serde_yaml_ng makes of a plain scalar, after `convert`; `None` for forms this reader
/// leaves to it (and for ones `convert` rejects, such as non-finite floats).
fn resolve(s: &str) -> Option<Value> {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Value::Null),
        "true" | "True" | "TRUE" => return Some(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Value::Bool(false)),
        _ => {}
    }
    // serde_yaml_ng tries Rust's integer parsers (radix 10, and 16, 8 or 2 after `0x`, `0o`,
    // `0b`) and then its float parser, all after at most one sign. Every text they accept
    // continues with a digit or `.` after that sign, except `inf`, `infinity` and `nan`
    // (any case), which are not finite and so stay strings.
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    if !unsigned
        .as_bytes()
        .first()
        .is_some_and(|&c| c.is_ascii_digit() || c == b'.')
    {
        return Some(Value::Str(s.to_string()));
    }
    // Those parsers only accept these characters, a sign only first or after an exponent
    // mark, and one `.`; anything else is certainly a string.
    let ub = unsigned.as_bytes();
    let mut dots = 0;
    for (i, &c) in ub.iter().enumerate() {
        let ok = match c {
            b'.' => {
                dots += 1;
                dots == 1
            }
            b'+' | b'-' => i > 0 && matches!(ub[i - 1], b'e' | b'E'),
            c => {
                c.is_ascii_hexdigit()
                    || matches!(
                        c,
                        b'x' | b'X'
                            | b'o'
                            | b'O'
                            | b'i'
                            | b'I'
                            | b'n'
                            | b'N'
                            | b't'
                            | b'T'
                            | b'y'
                            | b'Y'
                    )
            }
        };
        if !ok {
            return Some(Value::Str(s.to_string()));
        }
    }
    if s.starts_with('+') {
        return None;
    }
    let body = s.strip_prefix('-').unwrap_or(s);
    let bb = body.as_bytes();
    if !bb.is_empty() && bb.iter().all(u8::is_ascii_digit) {
        if bb.len() > 1 && bb[0] == b'0' {
            // Leading zeros: a string in YAML 1.2 and in serde_yaml_ng.
            return Some(Value::Str(s.to_string()));
        }
        return s.parse::<i64>().ok().map(Value::Int);
    }
    // `digits.digits`, optionally with an exponent.
    let int_len = bb.iter().take_while(|c| c.is_ascii_digit()).count();
    let rest = &body[int_len..];
    let frac = rest.strip_prefix('.')?;
    let frac_len = frac.bytes().take_while(u8::is_ascii_digit).count();
    if int_len == 0 || frac_len == 0 {
        return None;
    }
    let exp = &frac[frac_len..];
    if !exp.is_empty() {
        let e = exp.strip_prefix(['e', 'E'])?;
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        if e.is_empty() || !e.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
    }
    let f: f64 = s.parse().ok()?;
    f.is_finite().then_some(Value::Float(f))
}

/// Every rendered Kubernetes provisioner output seen in this test process, recorded by
/// `render_kubernetes` so the tests below can check the fast path on real template output.
#[cfg(test)]
pub(crate) static RENDERED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    /// The reference: the serde_yaml_ng path on its own.
    fn reference(s: &str) -> Result<Vec<Value>, String> {
        crate::yaml::from_yaml_str_serde(s)
    }

    /// The contract: `None`, or exactly the reference's `Ok`.
    fn check(s: &str) -> Option<Vec<Value>> {
        let fast = parse(s);
        if let Some(docs) = &fast {
            assert_eq!(
                Ok(docs),
                reference(s).as_ref(),
                "fast reader disagrees on {s:?}"
            );
        }
        fast
    }

    fn root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    fn files_under(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                files_under(&p, ext, out);
            } else if p.extension().is_some_and(|e| e == ext) {
                out.push(p);
            }
        }
    }

    /// What provisioner templates render to in specs/acme, every fixture and a generated tree.
    fn rendered_outputs() -> Vec<String> {
        crate::test_trees::compile_all("yaml-fast");
        let mut seen = std::mem::take(&mut *RENDERED.lock().unwrap());
        seen.sort();
        seen.dedup();
        seen
    }

    fn golden_yaml() -> Vec<String> {
        let mut paths = Vec::new();
        files_under(&root().join("golden"), "yaml", &mut paths);
        paths
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }

    #[test]
    fn real_template_output_takes_the_fast_path() {
        let outputs = rendered_outputs();
        assert!(
            outputs.len() > 20,
            "only {} rendered outputs",
            outputs.len()
        );
        let mut fallbacks = Vec::new();
        for s in &outputs {
            if check(s).is_none() && reference(s).is_ok() {
                fallbacks.push(s.as_str());
            }
        }
        assert!(
            fallbacks.is_empty(),
            "{} valid outputs left to serde_yaml_ng, the first:\n{}",
            fallbacks.len(),
            fallbacks.first().copied().unwrap_or_default()
        );
    }

    #[test]
    fn everything_our_emitter_wrote_takes_the_fast_path() {
        let files = golden_yaml();
        assert!(files.len() > 20);
        for s in &files {
            let fast = check(s);
            // Copied API definitions (folded scalars and all) may fall back; ours may not.
            if s.starts_with("# Generated by trestle") {
                assert!(fast.is_some(), "golden YAML left to serde_yaml_ng:\n{s}");
            }
        }
    }

    /// Inputs for the hand-written and mutation tests.
    const CASES: &[&str] = &[
        "",
        "\n",
        "# only a comment\n",
        "---\n",
        "---\n---\n",
        "a: 1\n---\n",
        "# c\n---\na: 1\n",
        "a: 1\n---\n---\nb: c\n",
        "--- \na: 1\n",
        "---a\n",
        "...\n",
        "a: 1\n...\n",
        "%YAML 1.2\n---\na: 1\n",
        "a: 1",
        "a: b\nc:\n",
        "a:\n",
        "a: ~\nb: null\nc: Null\nd: NULL\ne: nULL\nf: nil\n",
        "a: true\nb: True\nc: TRUE\nd: tRUE\ne: yes\nf: on\ng: false\nh: False\ni: FALSE\nj: off\n",
        "a: 0\nb: -0\nc: 007\nd: -007\ne: 00\nf: +12\ng: 1_000\nh: 0x1F\ni: 0o17\nj: 0b11\n",
        "a: 9223372036854775807\nb: 9223372036854775808\nc: -9223372036854775808\n",
        "a: -9223372036854775809\nb: 18446744073709551615\nc: 99999999999999999999999\n",
        "a: 1.5\nb: -1.5\nc: 1.\nd: .5\ne: 1e3\nf: 1.5e3\ng: 1.5E-3\nh: 1.0e999\n",
        "a: .inf\n",
        "a: -.inf\n",
        "a: .nan\n",
        "a: inf\nb: nan\nc: Infinity\nd: -inf\ne: +inf\n",
        "a: 1Gi\nb: 500m\nc: 1.5.6\nd: 10s\ne: 1:20\nf: 2001-12-14\ng: 0xZZ\nh: 1e\ni: 0.\n",
        "a: -\n",
        "a: -x\nb: --port=80\nc: -1\nd: -.5\ne: ---\nf: +\n",
        "1: a\n2: b\ntrue: c\nnull: d\n",
        "1.5: a\n",
        "~: a\n",
        "'1': a\n1: b\n",
        "a: 1\na: 2\n",
        "true: 1\nTrue: 2\n",
        "<<: {}\n",
        "a: 'it''s'\nb: ''\nc: 'x' # c\nd: 'a\"b'\n",
        "a: \"\\0\\a\\b\\t\\n\\v\\f\\r\\e\\ \\\"\\/\\\\\\N\\_\\L\\P\"\n",
        "a: \"\\x41\\u00e9\\U0001F600\\x85\"\n",
        "a: \"\\ud800\"\n",
        "a: \"\\q\"\n",
        "a: \"\\xZZ\"\n",
        "a: \"unterminated\n",
        "a: \"multi\n  line\"\n",
        "a: 'multi\n  line'\n",
        "a: \"x\"y\n",
        "a: \"x\"#c\n",
        "a: \"tab\there\"\n",
        "a: 'tab\there'\n",
        "a: b # comment\nc: d#notcomment\n",
        "a: b  \n",
        "a:    value\n",
        "a: b: c\n",
        "a: b:\n",
        "a:b: c\n",
        "http://x: y\n",
        "key with spaces: v\n",
        "\"quoted: key\": v\n'single key': w\n",
        "\"a\" : v\n",
        "a : v\n",
        "a #b: c\n",
        "-a: b\n",
        "?a: b\n",
        "? a\n: b\n",
        "a[0]: b\n",
        "a: [1, 'x', \"y\", null, true, 1.5, z]\n",
        "a: []\nb: {}\nc: [ ]\nd: { }\n",
        "a: [a, b,]\n",
        "a: [a,, b]\n",
        "a: [a: b]\n",
        "a: [[1]]\n",
        "a: {b: c}\n",
        "a: {\"x\": \"yes: no\"}\n",
        "a: {b: c, d: 1, 2: e, true: f, 'g': [h]}\n",
        "a: {b: c, b: d}\n",
        "a: {b: c, 'b': d}\n",
        "a: {b}\n",
        "a: {b: }\n",
        "a: {b:c}\n",
        "a: {b :c}\n",
        "a: {\"b\":c}\n",
        "a: {b: c,}\n",
        "a: {b: c} # x\n",
        "a: {null: c}\n",
        "a: {b: c: d}\n",
        "a: {b: {c: d}}\n",
        "a: [b: c]\n",
        "a: [b, {c: d}]\n",
        "a: [a\n",
        "a: [a, b] # c\n",
        "a: [a, b]x\n",
        "a: &x 1\nb: *x\n",
        "a: !!str 1\n",
        "a: !custom x\n",
        "a: |\n  line1\n  line2\n",
        "a: |-\n  line1\n  line2\n",
        "a: |+\n  line1\n  line2\n\n\nb: 1\n",
        "a: |+\n  x\n\n",
        "a: |+\n  x\n\n# c\nb: 1\n",
        "a: |\n  x\n\n\nb: 1\n",
        "a: |\n  x\n\n  y\n",
        "a: |\n  x\n    y\n  z\n",
        "a: |2\n    x\n  y\n",
        "a: |2-\n   x\n",
        "a: |-2\n   x\n",
        "a: |1\n  x\n",
        "- |2\n   x\n",
        "- a: |2\n     x\n",
        "a: |\n\n  x\n",
        "a: |\n    \n  x\n",
        "a: |\n  \n  x\n",
        "a: |\n  x\n   \n  y\n",
        "a: |\n  x",
        "a: |-\n  x",
        "a: |\n  # not a comment\n  x\n",
        "a: | # comment\n  x\n",
        "a: |x\n  x\n",
        "a: |\nb: 1\n",
        "a: |\n",
        "a: |\n  x\n\t\n",
        "a: |\n  \tx\n",
        "a: |\n  x\n---\nb: |\n  y\n",
        "a: >\n  folded\n  text\n",
        "- a\n- b\n",
        "-\n- x\n-   \n",
        "- - a\n  - b\n- c\n",
        "- - - a\n",
        "- a: 1\n  b: 2\n- c: 3\n",
        "-   a: 1\n    b: 2\n",
        "- a: 1\n   b: 2\n",
        "k:\n- a\n- b\nl: 1\n",
        "k:\n  - a\n  - b\nl: 1\n",
        "k:\n  - a\n  l: 1\n",
        "k:\n- a: 1\n  b: 2\n- c\n",
        "k:\n    a: 1\n  b: 2\n",
        "k:\n  a: 1\n b: 2\n",
        "a: 1\n- b\n",
        "- a\nb: 1\n",
        "  a: 1\n  b: 2\n",
        "  a: 1\nb: 2\n",
        "a:\n  plain\n",
        "a:\n  plain\n  more\n",
        "a: plain\n  more\n",
        "a: plain\n  # comment\n  more\n",
        "- plain\n  more\n",
        "a:\n  # comment\nb: 1\n",
        "a:\n\n  b: 1\n",
        "a:\tb\n",
        "a: b\t\n",
        "\ta: b\n",
        "a:\n\t- b\n",
        "a: b\r\nc: d\r\n",
        "\u{FEFF}a: b\n",
        "a: \u{85}\n",
        "a: caf\u{e9}\nb: \u{a0}x\u{a0}\n",
        "a: \u{1}\n",
        "just a scalar\n",
        "'quoted root'\n",
        "a: b\n# trailing comment",
        "a: - b\n",
        "a: @x\n",
        "a: `x\n",
        "a: %x\n",
        "a: ,x\n",
        "a: x, y\n",
        "a: <<\nb: =\n",
        "a: 'x' 'y'\n",
    ];

    /// Plain scalars around every resolution rule of serde_yaml_ng.
    const SCALARS: &[&str] = &[
        "~",
        "null",
        "Null",
        "NULL",
        "nULL",
        "nil",
        "true",
        "True",
        "TRUE",
        "tRUE",
        "false",
        "False",
        "FALSE",
        "yes",
        "no",
        "on",
        "off",
        "y",
        "0",
        "-0",
        "+0",
        "7",
        "-7",
        "+12",
        "007",
        "-007",
        "00",
        "0.0",
        "-0.0",
        "1_000",
        "0x1F",
        "0X1F",
        "-0x1F",
        "0x",
        "0o17",
        "0b11",
        "0xZZ",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "-9223372036854775809",
        "18446744073709551616",
        "1.5",
        "-1.5",
        "1.",
        ".5",
        "-.5",
        "1e3",
        "1E3",
        "1.5e3",
        "1.5E-3",
        "1.5e+3",
        "1.5e",
        "1.0e999",
        "-1.0e999",
        ".inf",
        "-.inf",
        "+.inf",
        ".Inf",
        ".NAN",
        ".nan",
        "inf",
        "-inf",
        "nan",
        "NaN",
        "Infinity",
        "infinity",
        "1Gi",
        "500m",
        "10s",
        "1.5.6",
        "1:20",
        "2001-12-14",
        "12-14",
        "1-",
        "1+",
        "-",
        "+",
        "--",
        "-x",
        "-c",
        "--port=80",
        "+x",
        ".",
        "..",
        ".git",
        "x.5",
        "e5",
        "1d",
        "0e",
        "abc",
        "a b",
        "a,b",
        "a:b",
        "café",
        "1é",
        "=",
        "<<",
        "a#b",
        "a'b",
        "a\"b",
    ];

    #[test]
    fn scalar_resolution_matches() {
        let mut fast = 0;
        for v in SCALARS {
            for s in [
                format!("a: {v}\n"),
                format!("{v}: a\n"),
                format!("- {v}\n"),
                format!("a: [{v}]\n"),
                format!("a: [x, {v}, y]\n"),
                format!("a: '{v}'\n"),
            ] {
                fast += usize::from(check(&s).is_some());
            }
        }
        assert!(fast > SCALARS.len() * 3, "{fast}");
    }

    #[test]
    fn hand_written_edge_cases() {
        for s in CASES {
            check(s);
        }
        // Things the fast path must read itself, or there is no speed-up.
        for s in [
            "",
            "# c\n",
            "a: 1\n---\n---\nb: c\n",
            "a: ~\nb: null\nc: Null\nd: NULL\n",
            "a: 0\nb: -0\nc: 007\ne: 00\ng: 1_000\n",
            "a: 1.5\nb: -1.5\n",
            "a: 1Gi\nb: 500m\nc: 1.5.6\nd: 10s\ne: 1:20\nf: 2001-12-14\n",
            "a: 'it''s'\nb: ''\nc: 'x' # c\nd: 'a\"b'\n",
            "a: \"\\x41\\u00e9\\U0001F600\\t\"\n",
            "1: a\n2: b\ntrue: c\n",
            "a: [1, 'x', \"y\", null, true, 1.5, z]\n",
            "a: []\nb: {}\n",
            "a: |+\n  x\n\n\nb: 1\n",
            "a: |2\n    x\n  y\n",
            "- a: |2\n     x\n",
            "- - a\n  - b\n- c\n",
            "k:\n- a: 1\n  b: 2\n- c\n",
            "\"quoted: key\": v\n'single key': w\nhttp://x: y\n",
        ] {
            assert!(check(s).is_some(), "{s:?} left to serde_yaml_ng");
        }
        assert_eq!(
            parse("a: 007\nb: -0\n8080: x\nc: |-\n  t\n").unwrap(),
            vec![Value::Map(Map(vec![
                ("a".into(), Value::Str("007".into())),
                ("b".into(), Value::Int(0)),
                ("8080".into(), Value::Str("x".into())),
                ("c".into(), Value::Str("t".into())),
            ]))]
        );
        for s in [
            "a: 1\na: 2\n",
            "a: .inf\n",
            "a: &x 1\n",
            "a: >\n  x\n",
            "a: b\r\n",
        ] {
            assert_eq!(parse(s), None, "{s:?}");
        }
    }

    use crate::test_rng::Rng;

    /// Small edits at random places of real and hand-written inputs: the fast path must
    /// still be `None` or agree with serde_yaml_ng.
    #[test]
    fn mutations_are_rejected_or_read_the_same() {
        const PIECES: &[&str] = &[
            " ", "  ", "\n", "-", "- ", ":", ": ", "#", " #", "'", "\"", "|", "|-", "|+", "|2",
            "[", "]", "{", "}", ",", "\\", "\\n", "\t", "---\n", "0", "-0", "1.5", "~", "null",
            "true", "&a ", "*a", "!", "?", ">", "e3", "0x", ".", "\u{e9}", "a: b\n", "- x\n",
        ];
        let mut inputs: Vec<String> = CASES.iter().map(|s| s.to_string()).collect();
        inputs.extend(
            golden_yaml()
                .into_iter()
                .filter(|s| s.len() < 4000)
                .take(12),
        );
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        rng.mutants_take_both_paths(&inputs, PIECES, 20_000, |s| check(s).is_some());
    }
}
