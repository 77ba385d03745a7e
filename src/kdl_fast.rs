//! A fast, hand-written KDL v2 parser for valid documents.
//!
//! The `kdl` crate's parser is correct but slow (about 2.5 MB/s: it builds an error value for
//! every alternative it tries). [`parse`] reads the same language an order of magnitude faster
//! and returns `Some(doc)` only when `kdl::KdlDocument::parse_v2` would accept the text and
//! produce the same document in everything trestle reads: node names and type annotations,
//! entries in order with their names and values, children, and the spans of documents,
//! nodes, names, entries, property keys and type annotations. Formatting data (`KdlNodeFormat`,
//! `KdlEntryFormat`, identifier `repr`) is left unset; only `trestle fmt` needs it, and it
//! parses with the `kdl` crate itself.
//!
//! Anything invalid, or valid but outside the supported subset (multi-line raw strings,
//! whitespace escapes inside multi-line strings, raw strings whose body starts with `"`, U+007F
//! outside comments, bare `-inf`), gives `None`, and the caller parses with the `kdl` crate,
//! which reports the errors. So diagnostics never come from this parser.
//!
//! The parser mirrors the `kdl` 6.7 grammar (`v2_parser.rs`) rule by rule, including where it
//! backtracks: a function returning `R<bool>` or `R<Option<_>>` reports "not here" as
//! `Ok(false)`/`Ok(None)` with the position unchanged, and [`Bad`] for input that makes the
//! whole document invalid (or that this parser leaves to the crate). Spans follow the crate:
//! an entry span covers `key=value` or the (typed) value only, a node span runs from its type
//! or name through its children and the node-space after them (not the terminator), and a
//! document span runs from its first node to the end of its last one.
//!
//! [`same`] and [`check`] compare the two parsers; the tests below, `tests/kdl_fast.rs` and the
//! `frontend` fuzz target use them.

use kdl::{KdlDocument, KdlEntry, KdlIdentifier, KdlNode, KdlValue};
use miette::SourceSpan;

/// Nesting (children blocks and chained slashdashes) beyond which this parser gives up. The
/// front end refuses nesting deeper than [`crate::parse::MAX_DEPTH`] before parsing; this
/// bound keeps the recursion safe for any other caller.
const MAX_NEST: usize = 128;

/// The input is invalid KDL, or outside what this parser supports: let the `kdl` crate decide.
#[derive(Debug)]
struct Bad;

type R<T> = Result<T, Bad>;

/// Parse a KDL v2 document; `None` when the text is invalid or outside the supported subset.
pub fn parse(text: &str) -> Option<KdlDocument> {
    let mut p = Parser {
        s: text,
        b: text.as_bytes(),
        i: 0,
        depth: 0,
    };
    p.document().ok()
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
    depth: usize,
}

/// What a token starting at some offset can be, in entry position.
enum Start {
    /// An identifier, quoted or raw string: an argument, or the key of a property.
    Str,
    /// A type annotation, number or keyword: a value.
    Value,
    /// Not an entry at all (whitespace, `/`, `{`, `}`, `;`, …).
    None,
}

/// ASCII bytes that may appear in a bare identifier.
const fn ident_ascii() -> [bool; 128] {
    let mut t = [false; 128];
    let mut c = 0x21;
    while c < 0x7f {
        t[c] = !matches!(
            c as u8,
            b'\\' | b'/' | b'(' | b')' | b'{' | b'}' | b'[' | b']' | b';' | b'"' | b'#' | b'='
        );
        c += 1;
    }
    t
}
const IDENT_ASCII: [bool; 128] = ident_ascii();

const UNICODE_SPACES: [char; 16] = [
    '\u{00A0}', '\u{1680}', '\u{2000}', '\u{2001}', '\u{2002}', '\u{2003}', '\u{2004}', '\u{2005}',
    '\u{2006}', '\u{2007}', '\u{2008}', '\u{2009}', '\u{200A}', '\u{202F}', '\u{205F}', '\u{3000}',
];

/// Code points KDL v2 forbids outside comments (the `kdl` crate's list). U+007F, which the
/// crate lets through although the specification forbids it, is handled by the callers.
fn disallowed(c: char) -> bool {
    matches!(c,
        '\u{0000}'..='\u{0008}'
        | '\u{000E}'..='\u{001F}'
        | '\u{200E}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}'
        | '\u{FEFF}'
    )
}

fn non_ascii_newline(c: char) -> bool {
    matches!(c, '\u{0085}' | '\u{2028}' | '\u{2029}')
}

/// A non-ASCII character that may appear in a bare identifier.
fn ident_non_ascii(c: char) -> bool {
    !(UNICODE_SPACES.contains(&c) || non_ascii_newline(c) || disallowed(c))
}

fn ident(value: String, start: usize, end: usize) -> KdlIdentifier {
    let mut id = KdlIdentifier::from(value);
    id.set_span(start..end);
    id
}

impl Parser<'_> {
    fn at(&self, i: usize) -> u8 {
        self.b.get(i).copied().unwrap_or(0)
    }

    fn eof(&self) -> bool {
        self.i >= self.b.len()
    }

    fn starts(&self, i: usize, pat: &[u8]) -> bool {
        self.b.get(i..).is_some_and(|r| r.starts_with(pat))
    }

    fn char_at(&self, i: usize) -> char {
        self.s[i..].chars().next().unwrap_or('\0')
    }

    /// Bytes of the unicode-space at `i`, or 0.
    fn space_len(&self, i: usize) -> usize {
        match self.at(i) {
            b' ' | b'\t' => 1,
            0xC2 | 0xE1 | 0xE2 | 0xE3 => {
                let c = self.char_at(i);
                if UNICODE_SPACES.contains(&c) {
                    c.len_utf8()
                } else {
                    0
                }
            }
            _ => 0,
        }
    }

    /// Bytes of the newline at `i` (CRLF counts as one), or 0.
    fn newline_len(&self, i: usize) -> usize {
        match self.at(i) {
            b'\r' if self.at(i + 1) == b'\n' => 2,
            b'\r' | b'\n' | 0x0B | 0x0C => 1,
            0xC2 | 0xE2 => {
                let c = self.char_at(i);
                if non_ascii_newline(c) {
                    c.len_utf8()
                } else {
                    0
                }
            }
            _ => 0,
        }
    }

    /// The end of the `/* … */` comment (nested) opening at `i`.
    fn block_comment_end(&self, mut i: usize) -> R<usize> {
        let b = self.b;
        let mut nest = 0usize;
        while i < b.len() {
            if b[i] == b'*' && self.at(i + 1) == b'/' {
                nest -= 1;
                i += 2;
                if nest == 0 {
                    return Ok(i);
                }
            } else if b[i] == b'/' && self.at(i + 1) == b'*' {
                nest += 1;
                i += 2;
            } else {
                i += 1;
            }
        }
        Err(Bad)
    }

    /// The end of the `//` comment at `i`, including its newline.
    fn line_comment_end(&self, i: usize) -> usize {
        let b = self.b;
        let mut j = i + 2;
        while j < b.len() {
            let n = self.newline_len(j);
            if n > 0 {
                return j + n;
            }
            j += 1;
        }
        j
    }

    /// `ws*` (unicode spaces and block comments) from `i`.
    fn wss_end(&self, mut i: usize) -> R<usize> {
        loop {
            let n = self.space_len(i);
            if n > 0 {
                i += n;
            } else if self.at(i) == b'/' && self.at(i + 1) == b'*' {
                i = self.block_comment_end(i)?;
            } else {
                return Ok(i);
            }
        }
    }

    /// The end of `escline := '\' ws* (single-line-comment | newline | eof) ws*` at `i`.
    fn escline_end(&self, i: usize) -> R<Option<usize>> {
        let mut j = self.wss_end(i + 1)?;
        if self.at(j) == b'/' && self.at(j + 1) == b'/' {
            j = self.line_comment_end(j);
        } else if j < self.b.len() {
            let n = self.newline_len(j);
            if n == 0 {
                return Ok(None);
            }
            j += n;
        }
        self.wss_end(j).map(Some)
    }

    /// `node-space*`; true when something was consumed (`node-space+`).
    fn ws(&mut self) -> R<bool> {
        let start = self.i;
        loop {
            let c = self.at(self.i);
            if c == b' ' || c == b'\t' {
                self.i += 1;
            } else if c == b'/' && self.at(self.i + 1) == b'*' {
                self.i = self.block_comment_end(self.i)?;
            } else if c == b'\\' {
                match self.escline_end(self.i)? {
                    Some(end) => self.i = end,
                    None => break,
                }
            } else if c >= 0x80 {
                let n = self.space_len(self.i);
                if n == 0 {
                    break;
                }
                self.i += n;
            } else {
                break;
            }
        }
        Ok(self.i > start)
    }

    /// `line-space*`: node-space, newlines and `//` comments.
    fn line_spaces(&mut self) -> R<()> {
        loop {
            self.ws()?;
            let n = self.newline_len(self.i);
            if n > 0 {
                self.i += n;
            } else if self.starts(self.i, b"//") {
                self.i = self.line_comment_end(self.i);
            } else {
                return Ok(());
            }
        }
    }

    /// `node-terminator := ';' | newline | single-line-comment`.
    fn node_terminator(&mut self) -> bool {
        if self.at(self.i) == b';' {
            self.i += 1;
            return true;
        }
        let n = self.newline_len(self.i);
        if n > 0 {
            self.i += n;
            return true;
        }
        if self.starts(self.i, b"//") {
            self.i = self.line_comment_end(self.i);
            return true;
        }
        false
    }

    /// Whether a value may end here (the crate's `value_terminator`, peeked).
    fn value_terminated(&self) -> R<bool> {
        let i = self.i;
        if i >= self.b.len() {
            return Ok(true);
        }
        Ok(match self.b[i] {
            b'=' | b')' | b'{' | b'}' | b';' | b' ' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C => true,
            b'/' => matches!(self.at(i + 1), b'/' | b'*'),
            b'\\' => self.escline_end(i)?.is_some(),
            c if c >= 0x80 => self.space_len(i) > 0 || self.newline_len(i) > 0,
            _ => false,
        })
    }

    fn at_close_or_eof(&self) -> bool {
        self.eof() || self.b[self.i] == b'}'
    }

    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_NEST {
            return Err(Bad);
        }
        Ok(())
    }

    /// `document := bom? nodes`, then the end of input.
    fn document(&mut self) -> R<KdlDocument> {
        if self.s.starts_with('\u{FEFF}') {
            self.i = 3;
        }
        let doc = self.nodes()?;
        if !self.eof() {
            return Err(Bad);
        }
        Ok(doc)
    }

    /// `(line-space | slashdash base-node)*`: what the crate skips before and after nodes.
    fn leading(&mut self) -> R<()> {
        loop {
            self.line_spaces()?;
            if !self.starts(self.i, b"/-") {
                return Ok(());
            }
            self.i += 2;
            self.line_spaces()?;
            if self.at_close_or_eof() {
                return Err(Bad);
            }
            self.base_node(&mut Vec::new())?;
        }
    }

    /// `nodes`: leading space, nodes separated by terminators, trailing space.
    fn nodes(&mut self) -> R<KdlDocument> {
        self.leading()?;
        let start = self.i;
        let mut end = start;
        let mut nodes = Vec::new();
        let mut trailing_done = false;
        if !self.at_close_or_eof() {
            self.base_node(&mut nodes)?;
            end = self.i;
            while self.node_terminator() {
                self.leading()?;
                if self.at_close_or_eof() {
                    // The crate backtracks to the terminator here and then consumes the same
                    // terminator and the same trailing space again; reparsing would only
                    // repeat that work, which doubles per level of nested slashdashed blocks.
                    trailing_done = true;
                    break;
                }
                self.base_node(&mut nodes)?;
                end = self.i;
            }
        }
        if !trailing_done {
            self.node_terminator();
            self.leading()?;
        }
        let mut doc = KdlDocument::new();
        *doc.nodes_mut() = nodes;
        doc.set_span(start..end);
        Ok(doc)
    }

    /// `'{' nodes '}'`.
    fn children(&mut self) -> R<KdlDocument> {
        self.enter()?;
        self.i += 1;
        let doc = self.nodes()?;
        if self.at(self.i) != b'}' || self.eof() {
            return Err(Bad);
        }
        self.i += 1;
        self.depth -= 1;
        Ok(doc)
    }

    /// One node, pushed onto `out` (built in place: nodes are large to move).
    fn base_node(&mut self, out: &mut Vec<KdlNode>) -> R<()> {
        let start = self.i;
        let ty = if self.at(self.i) == b'(' {
            Some(self.type_annotation()?)
        } else {
            None
        };
        self.ws()?;
        let (name, ns, ne) = self.string_token()?.ok_or(Bad)?;
        out.push(KdlNode::new(ident(name, ns, ne)));
        let node = out.last_mut().ok_or(Bad)?;
        node.clear_format();
        if let Some(ty) = ty {
            node.set_ty(ty);
        }
        loop {
            let save = self.i;
            if !(self.ws()? && self.node_entry(node.entries_mut())?) {
                self.i = save;
                break;
            }
        }
        self.before_children()?;
        if self.at(self.i) == b'{' && !self.eof() {
            let kids = self.children()?;
            node.set_children(kids);
            let save = self.i;
            if !self.slashdashed_children()? {
                self.i = save;
            }
        }
        self.ws()?;
        node.set_span(start..self.i);
        Ok(())
    }

    /// The crate's `before_node_children`: trailing slashdashed entries and/or slashdashed
    /// children blocks, then node-space.
    fn before_children(&mut self) -> R<()> {
        let start = self.i;
        if self.ws()? && self.slashdashed_entries()? {
            let mid = self.i;
            if !(self.ws()? && self.slashdashed_children()?) {
                self.i = mid;
            }
        } else {
            self.i = start;
            if !(self.ws()? && self.slashdashed_children()?) {
                self.i = start;
            }
        }
        self.ws()?;
        Ok(())
    }

    /// `node-space* ('/-' children) (node-space+ '/-' children)*`.
    fn slashdashed_children(&mut self) -> R<bool> {
        let start = self.i;
        self.ws()?;
        if !self.slashdashed_child()? {
            self.i = start;
            return Ok(false);
        }
        loop {
            let save = self.i;
            if !(self.ws()? && self.slashdashed_child()?) {
                self.i = save;
                return Ok(true);
            }
        }
    }

    fn slashdashed_child(&mut self) -> R<bool> {
        let save = self.i;
        if !self.starts(self.i, b"/-") {
            return Ok(false);
        }
        self.i += 2;
        self.line_spaces()?;
        if self.at(self.i) != b'{' || self.eof() {
            self.i = save;
            return Ok(false);
        }
        self.children()?;
        Ok(true)
    }

    /// `('/-' entry) (node-space+ '/-' entry)*`.
    fn slashdashed_entries(&mut self) -> R<bool> {
        if !self.slashdashed_entry()? {
            return Ok(false);
        }
        loop {
            let save = self.i;
            if !(self.ws()? && self.slashdashed_entry()?) {
                self.i = save;
                return Ok(true);
            }
        }
    }

    fn slashdashed_entry(&mut self) -> R<bool> {
        let save = self.i;
        if !self.starts(self.i, b"/-") {
            return Ok(false);
        }
        self.i += 2;
        self.line_spaces()?;
        self.enter()?;
        let found = self.node_entry(&mut Vec::new())?;
        self.depth -= 1;
        if !found {
            self.i = save;
        }
        Ok(found)
    }

    /// `node-space* (slashdashed-entries node-space+)? (prop | value)`, pushed onto `out`;
    /// false (position unchanged) when no entry starts here.
    fn node_entry(&mut self, out: &mut Vec<KdlEntry>) -> R<bool> {
        let save = self.i;
        self.ws()?;
        let g = self.i;
        if !(self.slashdashed_entries()? && self.ws()?) {
            self.i = g;
        }
        let start = self.i;
        let (key, ty, value) = match self.start_kind()? {
            Start::None => {
                self.i = save;
                return Ok(false);
            }
            Start::Str => {
                let (key, ks, ke) = self.string_token()?.ok_or(Bad)?;
                let after = self.i;
                self.ws()?;
                if self.at(self.i) == b'=' && !self.eof() {
                    self.i += 1;
                    self.ws()?;
                    let (ty, value) = self.value()?;
                    (Some(ident(key, ks, ke)), ty, value)
                } else {
                    self.i = after;
                    (None, None, KdlValue::String(key))
                }
            }
            Start::Value => {
                let (ty, value) = self.value()?;
                (None, ty, value)
            }
        };
        out.push(KdlEntry::new(value));
        let entry = out.last_mut().ok_or(Bad)?;
        if key.is_some() {
            entry.set_name(key);
        }
        if let Some(ty) = ty {
            entry.set_ty(ty);
        }
        entry.set_span(start..self.i);
        Ok(true)
    }

    /// Classify the token at the current position.
    fn start_kind(&self) -> R<Start> {
        let i = self.i;
        if self.eof() {
            return Ok(Start::None);
        }
        let digit = |j: usize| self.at(j).is_ascii_digit();
        Ok(match self.b[i] {
            b'"' => Start::Str,
            b'#' => match self.at(i + 1) {
                b'"' => Start::Str,
                b'#' => {
                    let hashes = self.b[i..].iter().take_while(|&&c| c == b'#').count();
                    if self.at(i + hashes) == b'"' {
                        Start::Str
                    } else {
                        return Err(Bad);
                    }
                }
                _ => Start::Value,
            },
            b'(' => Start::Value,
            b'0'..=b'9' => Start::Value,
            b'+' | b'-' if digit(i + 1) => Start::Value,
            b'+' | b'-' if self.at(i + 1) == b'.' && digit(i + 2) => return Err(Bad),
            b'.' if digit(i + 1) => return Err(Bad),
            c if c < 0x80 => {
                if IDENT_ASCII[c as usize] {
                    Start::Str
                } else if c == 0x7f {
                    return Err(Bad);
                } else {
                    Start::None
                }
            }
            _ => {
                if ident_non_ascii(self.char_at(i)) {
                    Start::Str
                } else {
                    Start::None
                }
            }
        })
    }

    /// `value := type? node-space* (keyword | number | string)`.
    fn value(&mut self) -> R<(Option<KdlIdentifier>, KdlValue)> {
        let ty = if self.at(self.i) == b'(' && !self.eof() {
            let t = self.type_annotation()?;
            self.ws()?;
            Some(t)
        } else {
            None
        };
        let v = match self.start_kind()? {
            Start::Str => KdlValue::String(self.string_token()?.ok_or(Bad)?.0),
            Start::Value if self.at(self.i) == b'#' => self.keyword()?,
            Start::Value if self.at(self.i) != b'(' => self.number()?,
            _ => return Err(Bad),
        };
        Ok((ty, v))
    }

    /// `'(' node-space* string node-space* ')'`.
    fn type_annotation(&mut self) -> R<KdlIdentifier> {
        self.i += 1;
        self.ws()?;
        if !matches!(self.start_kind()?, Start::Str) {
            return Err(Bad);
        }
        let (name, s, e) = self.string_token()?.ok_or(Bad)?;
        if self.at(self.i) != b')' {
            let save = self.i;
            if !self.ws()? {
                return Err(Bad);
            }
            self.i = save;
        }
        self.ws()?;
        if self.at(self.i) != b')' || self.eof() {
            return Err(Bad);
        }
        self.i += 1;
        Ok(ident(name, s, e))
    }

    /// `#true`, `#false`, `#null`, `#inf`, `#-inf`, `#nan` (no terminator check, like the crate).
    fn keyword(&mut self) -> R<KdlValue> {
        let rest = &self.b[self.i + 1..];
        let (v, n) = if rest.starts_with(b"true") {
            (KdlValue::Bool(true), 4)
        } else if rest.starts_with(b"false") {
            (KdlValue::Bool(false), 5)
        } else if rest.starts_with(b"null") {
            (KdlValue::Null, 4)
        } else if rest.starts_with(b"nan") {
            (KdlValue::Float(f64::NAN), 3)
        } else if rest.starts_with(b"inf") {
            (KdlValue::Float(f64::INFINITY), 3)
        } else if rest.starts_with(b"-inf") {
            (KdlValue::Float(f64::NEG_INFINITY), 4)
        } else {
            return Err(Bad);
        };
        self.i += 1 + n;
        Ok(v)
    }

    /// An identifier, quoted or raw string with the value terminator after it: its value and
    /// span. `None` (position unchanged) when none starts here.
    fn string_token(&mut self) -> R<Option<(String, usize, usize)>> {
        let start = self.i;
        let value = match self.start_kind()? {
            Start::Str => match self.b[start] {
                b'"' if self.starts(start, b"\"\"\"") => self.multi_line_string()?,
                b'"' => self.quoted_string()?,
                b'#' => self.raw_string()?,
                _ => self.bare_identifier()?,
            },
            _ => return Ok(None),
        };
        if !self.value_terminated()? {
            return Err(Bad);
        }
        Ok(Some((value, start, self.i)))
    }

    fn bare_identifier(&mut self) -> R<String> {
        let start = self.i;
        let b = self.b;
        let mut j = start;
        while j < b.len() {
            let c = b[j];
            if c < 0x80 {
                if !IDENT_ASCII[c as usize] {
                    break;
                }
                j += 1;
            } else {
                let ch = self.char_at(j);
                if !ident_non_ascii(ch) {
                    break;
                }
                j += ch.len_utf8();
            }
        }
        let text = &self.s[start..j];
        if matches!(text, "true" | "false" | "null" | "inf" | "-inf" | "nan") {
            return Err(Bad);
        }
        self.i = j;
        Ok(text.to_string())
    }

    /// A single-line `"…"` string; the position is at the opening quote.
    fn quoted_string(&mut self) -> R<String> {
        let start = self.i + 1;
        let mut j = start;
        loop {
            match self.at(j) {
                _ if j >= self.b.len() => return Err(Bad),
                b'"' => {
                    self.i = j + 1;
                    return Ok(self.s[start..j].to_string());
                }
                b'\\' => break,
                b'\t' => j += 1,
                0x00..=0x1F | 0x7F => return Err(Bad),
                c if c < 0x80 => j += 1,
                _ => j += self.plain_char(j)?,
            }
        }
        let mut out = String::from(&self.s[start..j]);
        loop {
            match self.at(j) {
                _ if j >= self.b.len() => return Err(Bad),
                b'"' => {
                    self.i = j + 1;
                    return Ok(out);
                }
                b'\\' => {
                    let n = self.ws_escape_len(j);
                    if n > 0 {
                        j += n;
                    } else {
                        j = self.escape(j, &mut out)?;
                    }
                }
                b'\t' => {
                    out.push('\t');
                    j += 1;
                }
                0x00..=0x1F | 0x7F => return Err(Bad),
                c if c < 0x80 => {
                    out.push(c as char);
                    j += 1;
                }
                _ => {
                    let n = self.plain_char(j)?;
                    out.push_str(&self.s[j..j + n]);
                    j += n;
                }
            }
        }
    }

    /// Bytes of the non-ASCII string character at `j`; newlines and disallowed code points
    /// are [`Bad`].
    fn plain_char(&self, j: usize) -> R<usize> {
        let c = self.char_at(j);
        if disallowed(c) || non_ascii_newline(c) {
            return Err(Bad);
        }
        Ok(c.len_utf8())
    }

    /// Bytes of the whitespace escape (`\` then unicode spaces and newlines) at `j`, or 0.
    fn ws_escape_len(&self, j: usize) -> usize {
        let mut k = j + 1;
        loop {
            let n = self.space_len(k).max(self.newline_len(k));
            if n == 0 {
                break;
            }
            k += n;
        }
        if k == j + 1 {
            0
        } else {
            k - j
        }
    }

    /// Decode the escape (not a whitespace escape) at `j` into `out`; the offset after it.
    fn escape(&self, j: usize, out: &mut String) -> R<usize> {
        let c = match self.at(j + 1) {
            b'\\' => '\\',
            b'"' => '"',
            b'b' => '\u{0008}',
            b'f' => '\u{000C}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b's' => ' ',
            b'u' if self.at(j + 2) == b'{' => {
                let digits = self.b[j + 3..]
                    .iter()
                    .take(6)
                    .take_while(|c| c.is_ascii_hexdigit())
                    .count();
                if digits == 0 || self.at(j + 3 + digits) != b'}' {
                    return Err(Bad);
                }
                let hex = &self.s[j + 3..j + 3 + digits];
                let v = u32::from_str_radix(hex, 16).map_err(|_| Bad)?;
                out.push(char::from_u32(v).ok_or(Bad)?);
                return Ok(j + 4 + digits);
            }
            _ => return Err(Bad),
        };
        out.push(c);
        Ok(j + 2)
    }

    /// A `"""` string: the opening quotes must be followed by a newline; the closing quotes
    /// stand on their own line, and the whitespace before them is removed from every line.
    fn multi_line_string(&mut self) -> R<String> {
        let mut j = self.i + 3;
        let n = self.newline_len(j);
        if n == 0 {
            return Err(Bad);
        }
        j += n;
        // Find the closing line, checking every line before it.
        let mut lines: Vec<(usize, usize)> = Vec::new();
        let (prefix_start, prefix_end) = loop {
            let mut k = j;
            loop {
                let n = self.space_len(k);
                if n == 0 {
                    break;
                }
                k += n;
            }
            if self.starts(k, b"\"\"\"") {
                break (j, k);
            }
            let line_start = j;
            loop {
                if j >= self.b.len() {
                    return Err(Bad);
                }
                if self.newline_len(j) > 0 {
                    break;
                }
                match self.b[j] {
                    b'"' if self.starts(j, b"\"\"\"") => return Err(Bad),
                    b'\\' => {
                        if self.ws_escape_len(j) > 0 {
                            return Err(Bad);
                        }
                        j = self.escape(j, &mut String::new())?;
                    }
                    b'\t' => j += 1,
                    0x00..=0x1F | 0x7F => return Err(Bad),
                    c if c < 0x80 => j += 1,
                    _ => j += self.plain_char(j)?,
                }
            }
            lines.push((line_start, j));
            j += self.newline_len(j);
        };
        let prefix = &self.s[prefix_start..prefix_end];
        let blank = |t: &str| {
            t.chars()
                .all(|c| c == ' ' || c == '\t' || UNICODE_SPACES.contains(&c))
        };
        let mut out = String::new();
        for (ls, le) in lines {
            let line = &self.s[ls..le];
            if let Some(rest) = line.strip_prefix(prefix) {
                if !blank(rest) {
                    self.unescape_into(ls + prefix.len(), le, &mut out)?;
                }
            } else if !blank(line) {
                return Err(Bad);
            }
            out.push('\n');
        }
        out.pop();
        self.i = prefix_end + 3;
        Ok(out)
    }

    /// Append the already checked string characters in `from..to` to `out`, decoding escapes.
    fn unescape_into(&self, from: usize, to: usize, out: &mut String) -> R<()> {
        let mut j = from;
        while j < to {
            let run = self.b[j..to]
                .iter()
                .position(|&c| c == b'\\')
                .map_or(to, |p| j + p);
            out.push_str(&self.s[j..run]);
            j = run;
            if j < to {
                j = self.escape(j, out)?;
            }
        }
        Ok(())
    }

    /// A single-line raw string `#"…"#` (any number of `#`); the position is at the first `#`.
    fn raw_string(&mut self) -> R<String> {
        let hashes = self.b[self.i..].iter().take_while(|&&c| c == b'#').count();
        let q = self.i + hashes;
        if self.starts(q, b"\"\"\"") && self.newline_len(q + 3) > 0 {
            return Err(Bad); // multi-line raw strings are left to the crate
        }
        let body = q + 1;
        let mut j = body;
        loop {
            if j >= self.b.len() {
                return Err(Bad);
            }
            let c = self.b[j];
            if c == b'"'
                && self.b.len() >= j + 1 + hashes
                && self.b[j + 1..j + 1 + hashes].iter().all(|&h| h == b'#')
            {
                break;
            }
            match c {
                b'\t' => j += 1,
                0x00..=0x1F | 0x7F => return Err(Bad),
                c if c < 0x80 => j += 1,
                _ => j += self.plain_char(j)?,
            }
        }
        if self.at(body) == b'"' && j > body {
            // `#"""#`-like bodies: the crate has special cases; let it decide.
            return Err(Bad);
        }
        self.i = j + 1 + hashes;
        Ok(self.s[body..j].to_string())
    }

    /// A decimal, hexadecimal, octal or binary number; the position is at its sign or first
    /// digit.
    fn number(&mut self) -> R<KdlValue> {
        let start = self.i;
        let mut j = start;
        let neg = self.at(j) == b'-';
        if matches!(self.at(j), b'+' | b'-') {
            j += 1;
        }
        let radix = match (self.at(j), self.at(j + 1)) {
            (b'0', b'x' | b'X') => 16,
            (b'0', b'o' | b'O') => 8,
            (b'0', b'b' | b'B') => 2,
            _ => 10,
        };
        let digit = |c: u8| (c as char).is_digit(radix);
        let group = |j: &mut usize| -> R<i128> {
            let from = *j;
            if !digit(self.at(from)) {
                return Err(Bad);
            }
            while digit(self.at(*j)) || self.at(*j) == b'_' {
                *j += 1;
            }
            let mut v: i128 = 0;
            for &c in &self.b[from..*j] {
                if c != b'_' {
                    let d = (c as char).to_digit(radix).ok_or(Bad)?;
                    v = v
                        .checked_mul(i128::from(radix))
                        .and_then(|v| v.checked_add(i128::from(d)))
                        .ok_or(Bad)?;
                }
            }
            Ok(v)
        };
        let value = if radix != 10 {
            j += 2;
            let v = group(&mut j)?;
            KdlValue::Integer(if neg { -v } else { v })
        } else {
            let v = group(&mut j)?;
            let mut float = false;
            if self.at(j) == b'.' {
                j += 1;
                group(&mut j)?;
                float = true;
            }
            if matches!(self.at(j), b'e' | b'E') {
                j += 1;
                if matches!(self.at(j), b'+' | b'-') {
                    j += 1;
                }
                group(&mut j)?;
                float = true;
            }
            if float {
                let text = &self.s[start..j];
                let f = if text.contains('_') {
                    text.replace('_', "").parse::<f64>()
                } else {
                    text.parse::<f64>()
                };
                KdlValue::Float(f.map_err(|_| Bad)?)
            } else {
                KdlValue::Integer(if neg { -v } else { v })
            }
        };
        self.i = j;
        if !self.value_terminated()? {
            return Err(Bad);
        }
        Ok(value)
    }
}

/// Compare two parsed documents in everything trestle reads (names, types, entries, values,
/// children and all their spans); the first difference, with its path, as the error.
pub fn same(a: &KdlDocument, b: &KdlDocument) -> Result<(), String> {
    same_doc(a, b, "document")
}

fn span_str(s: SourceSpan) -> String {
    format!("{}..{}", s.offset(), s.offset() + s.len())
}

fn same_span(a: SourceSpan, b: SourceSpan, what: &str) -> Result<(), String> {
    if a.offset() == b.offset() && a.len() == b.len() {
        Ok(())
    } else {
        Err(format!("{what} span {} != {}", span_str(a), span_str(b)))
    }
}

fn same_ident(
    a: Option<&KdlIdentifier>,
    b: Option<&KdlIdentifier>,
    what: &str,
) -> Result<(), String> {
    match (a, b) {
        (None, None) => Ok(()),
        (Some(x), Some(y)) => {
            if x.value() != y.value() {
                return Err(format!("{what} {:?} != {:?}", x.value(), y.value()));
            }
            same_span(x.span(), y.span(), what)
        }
        _ => Err(format!("{what}: {a:?} != {b:?}")),
    }
}

fn same_value(a: &KdlValue, b: &KdlValue) -> bool {
    match (a, b) {
        (KdlValue::Float(x), KdlValue::Float(y)) => {
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
        }
        (KdlValue::Float(_), _) | (_, KdlValue::Float(_)) => false,
        _ => a == b,
    }
}

fn same_doc(a: &KdlDocument, b: &KdlDocument, path: &str) -> Result<(), String> {
    same_span(a.span(), b.span(), path)?;
    if a.nodes().len() != b.nodes().len() {
        return Err(format!(
            "{path}: {} nodes != {}",
            a.nodes().len(),
            b.nodes().len()
        ));
    }
    for (i, (x, y)) in a.nodes().iter().zip(b.nodes()).enumerate() {
        let path = format!("{path} > node {i} `{}`", y.name().value());
        same_ident(Some(x.name()), Some(y.name()), &format!("{path} name"))?;
        same_ident(x.ty(), y.ty(), &format!("{path} type"))?;
        same_span(x.span(), y.span(), &path)?;
        if x.entries().len() != y.entries().len() {
            return Err(format!(
                "{path}: {} entries != {}",
                x.entries().len(),
                y.entries().len()
            ));
        }
        for (j, (e, f)) in x.entries().iter().zip(y.entries()).enumerate() {
            let path = format!("{path} entry {j}");
            same_ident(e.name(), f.name(), &format!("{path} key"))?;
            same_ident(e.ty(), f.ty(), &format!("{path} type"))?;
            if !same_value(e.value(), f.value()) {
                return Err(format!("{path} value {:?} != {:?}", e.value(), f.value()));
            }
            same_span(e.span(), f.span(), &path)?;
        }
        match (x.children(), y.children()) {
            (None, None) => {}
            (Some(c), Some(d)) => same_doc(c, d, &format!("{path} children"))?,
            (c, d) => {
                return Err(format!(
                    "{path}: children {} != {}",
                    c.is_some(),
                    d.is_some()
                ))
            }
        }
    }
    Ok(())
}

/// How the two parsers treated one text (see [`check`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Both accept it, with the same document.
    Identical,
    /// The fast parser leaves it to the crate, which accepts it (outside the subset).
    LeftToKdl,
    /// Both refuse it.
    Invalid,
    /// Nested deeper than the front end allows: not compared.
    TooDeep,
}

/// The differential property for one text: when [`parse`] accepts it, the `kdl` crate accepts
/// it too and [`same`] holds. Texts nested deeper than the front end allows are skipped (the
/// crate's recursive parser is not safe on them).
pub fn check(text: &str) -> Result<Outcome, String> {
    // Deeply nested `/-` blocks take the crate exponential time (trestle refuses them when
    // they are invalid; see `parse::slashdash_too_deep`), so they are not compared either.
    if crate::parse::too_deep(text).is_some() || crate::parse::slashdash_too_deep(text).is_some() {
        return Ok(Outcome::TooDeep);
    }
    let fast = parse(text);
    let slow = KdlDocument::parse_v2(text);
    match (fast, slow) {
        (Some(fast), Ok(slow)) => same(&fast, &slow).map(|()| Outcome::Identical),
        (Some(_), Err(e)) => Err(format!(
            "accepted invalid KDL ({:?})",
            e.diagnostics
                .iter()
                .map(|d| d.message.clone())
                .collect::<Vec<_>>()
        )),
        (None, Ok(_)) => Ok(Outcome::LeftToKdl),
        (None, Err(_)) => Ok(Outcome::Invalid),
    }
}

#[cfg(test)]
mod tests;
