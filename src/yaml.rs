//! A small YAML document model and a deterministic block-style emitter.
//!
//! We own the emitter because serde-based YAML writers leave YAML 1.1 words such as `yes`,
//! `on`, `1:20` or `2001-12-14` unquoted, and Kubernetes tooling (YAML 1.1) reads those as
//! booleans, numbers or timestamps. Here a string is emitted plain only when every YAML 1.1
//! and 1.2 reader gets back exactly that string; otherwise it is double-quoted or, for
//! multi-line text, written as a literal block scalar.
//!
//! Layout follows `kubectl`: two-space indentation, sequences under a mapping key start at
//! the key's column (`containers:\n- name: a\n  image: b`), and a mapping inside a sequence
//! item starts on the dash line.

use std::fmt::Write as _;

pub mod fast;

/// A YAML value with mapping keys in insertion order (the emitter never reorders).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer, written in decimal.
    Int(i64),
    /// A finite float, always written with a `.`; non-finite ones come out as `.nan`/`.inf`.
    Float(f64),
    /// A string, quoted only when a plain scalar would be read as something else.
    Str(String),
    /// A block sequence (`[]` when empty).
    Seq(Vec<Value>),
    /// A block mapping (`{}` when empty).
    Map(Map),
}

/// A mapping whose entries keep insertion order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Map(pub Vec<(String, Value)>);

impl Map {
    /// An empty mapping.
    pub fn new() -> Self {
        Map(Vec::new())
    }

    /// Sets `k` to `v`; an existing key keeps its position so output order stays stable.
    pub fn insert(&mut self, k: impl Into<String>, v: impl Into<Value>) -> &mut Self {
        let k = k.into();
        let v = v.into();
        match self.0.iter_mut().find(|(key, _)| *key == k) {
            Some(slot) => slot.1 = v,
            None => self.0.push((k, v)),
        }
        self
    }

    /// Builder form of [`Map::insert`].
    pub fn with(mut self, k: impl Into<String>, v: impl Into<Value>) -> Self {
        self.insert(k, v);
        self
    }

    /// The value stored under `k`.
    pub fn get(&self, k: &str) -> Option<&Value> {
        self.0.iter().find(|(key, _)| key == k).map(|(_, v)| v)
    }

    /// Mutable access to the value stored under `k`.
    pub fn get_mut(&mut self, k: &str) -> Option<&mut Value> {
        self.0.iter_mut().find(|(key, _)| key == k).map(|(_, v)| v)
    }

    /// Removes `k`, keeping the order of the remaining entries.
    pub fn remove(&mut self, k: &str) -> Option<Value> {
        let at = self.0.iter().position(|(key, _)| key == k)?;
        Some(self.0.remove(at).1)
    }

    /// Whether the mapping has no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Entries in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }
}

impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for Map {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = Map::new();
        for (k, v) in iter {
            map.insert(k, v);
        }
        map
    }
}

impl Value {
    /// The string, when this is a `Str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The mapping, when this is a `Map`.
    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The items, when this is a `Seq`.
    pub fn as_seq(&self) -> Option<&[Value]> {
        match self {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The value under `k`, when this is a `Map`.
    pub fn get(&self, k: &str) -> Option<&Value> {
        self.as_map().and_then(|m| m.get(k))
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<&String> for Value {
    fn from(s: &String) -> Self {
        Value::Str(s.clone())
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}

impl From<i32> for Value {
    fn from(n: i32) -> Self {
        Value::Int(i64::from(n))
    }
}

impl From<u16> for Value {
    fn from(n: u16) -> Self {
        Value::Int(i64::from(n))
    }
}

impl From<u32> for Value {
    fn from(n: u32) -> Self {
        Value::Int(i64::from(n))
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}

impl From<Map> for Value {
    fn from(m: Map) -> Self {
        Value::Map(m)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Self {
        Value::Seq(items)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

impl<T: Into<Value>> FromIterator<T> for Value {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Value::Seq(iter.into_iter().map(Into::into).collect())
    }
}

/// Emits one document (no leading `---`), ending with a newline.
pub fn to_string(v: &Value) -> String {
    let mut out = String::new();
    write_document(&mut out, v);
    out
}

/// Emits a stream: documents separated by `---` lines, with no `---` before the first one.
pub fn documents_to_string(docs: &[Value]) -> String {
    documents_after("", docs)
}

/// `prefix` (a header comment) followed by [`documents_to_string`] of `docs`, in a string of
/// exactly that length: the text is written into a buffer each thread reuses, so neither the
/// growth of the text nor the joining of the prefix copies it more than once.
pub fn documents_after(prefix: &str, docs: &[Value]) -> String {
    thread_local! {
        static SCRATCH: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    SCRATCH.with(|scratch| {
        // A reentrant call (none today) would find the buffer taken: it gets its own.
        let mut own = String::new();
        let mut guard = scratch.try_borrow_mut();
        let out = match &mut guard {
            Ok(buf) => &mut **buf,
            Err(_) => &mut own,
        };
        out.clear();
        out.push_str(prefix);
        write_documents(out, docs);
        let text = out.as_str().to_owned();
        // A buffer grown by one huge file is not kept for the rest of the process.
        if out.capacity() > 1 << 20 {
            *out = String::new();
        }
        text
    })
}

/// Appends the stream of `docs` to `out` (see [`documents_to_string`]).
pub fn write_documents(out: &mut String, docs: &[Value]) {
    // Separators only between documents, so a one-document stream equals `to_string` and a
    // header comment can be prepended as is; an empty slice gives "".
    for (i, doc) in docs.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        write_document(out, doc);
    }
}

/// True when a plain scalar would be read as anything but this exact string under YAML 1.1 or 1.2.
pub fn needs_quotes(s: &str) -> bool {
    // Fast path for the common shape of keys and names (`app.kubernetes.io/name`, `api-v2`):
    // a letter, then letters, digits, `_`, `.`, `/` or `-`. None of the rules below can apply
    // to such a string except the special words.
    let b = s.as_bytes();
    if b.first().is_some_and(u8::is_ascii_alphabetic)
        && b.iter().all(|&c| NAME_BYTE[usize::from(c)])
    {
        return is_special_word(s);
    }
    needs_quotes_general(s)
}

/// The bytes of [`needs_quotes`]' fast path: ASCII letters and digits, `_`, `.`, `/`, `-`
/// (a table, since every key and most values of every emitted document pass through it).
static NAME_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'/' | b'-');
        c += 1;
    }
    t
};

/// [`needs_quotes`] for any string.
fn needs_quotes_general(s: &str) -> bool {
    // Deliberately conservative: anything that starts like a number (`8080`, `1Gi`, `.5`,
    // `+1`, `-1`) is quoted, as is any string starting with an indicator other than `-`
    // followed by a letter or `-` (so `--port=80` and `-v` stay plain). Over-quoting only
    // costs looks; under-quoting changes meaning.
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return true;
    };
    // Every rule below only ever answers "quote", so the cheapest go first.
    if first.is_ascii_digit() {
        return true;
    }
    let second = chars.next();
    let last = s.chars().next_back().unwrap_or(first);
    if first.is_whitespace() || last.is_whitespace() {
        return true;
    }
    // Tabs are legal in plain scalars but readers disagree on them next to `:` and `#`;
    // flow indicators are excluded so the text is also safe inside `[...]`/`{...}`.
    let flow = |c: u8| matches!(c, b',' | b'[' | b']' | b'{' | b'}');
    let unsafe_char = if s.is_ascii() {
        // The only ASCII characters `needs_escape` takes are the controls (tab among them).
        s.bytes().any(|c| c.is_ascii_control() || flow(c))
    } else {
        s.chars()
            .any(|c| c == '\t' || needs_escape(c) || (c.is_ascii() && flow(c as u8)))
    };
    if unsafe_char {
        return true;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return true;
    }
    match first {
        '-' => {
            let dash_ok = matches!(second, Some(c) if c.is_ascii_alphabetic() || c == '-');
            if !dash_ok || s.starts_with("---") {
                return true;
            }
        }
        '?' | ':' | '#' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%' | '@' | '`' | '+'
        | '~' => return true,
        _ => {}
    }
    // Every YAML 1.1/1.2 int, float, sexagesimal and timestamp form starts with a digit
    // once an optional sign is dropped (a leading digit returned above), or with `.` and a
    // digit (`.5`; 1.1 even reads `.`, and PyYAML `._`).
    if first == '.' && matches!(second, None | Some('.' | '_' | '0'..='9')) {
        return true;
    }
    is_special_word(s)
}

/// Booleans, nulls, `.inf`/`.nan`, the merge key and the value key, in any letter case.
fn is_special_word(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "y", "yes", "n", "no", "true", "false", "on", "off", "null", "~", "<<", "=",
    ];
    // The longest special word is five bytes (`false`, `+.inf`).
    if s.len() > 5 {
        return false;
    }
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    WORDS.iter().any(|w| s.eq_ignore_ascii_case(w))
        || [".inf", ".nan"]
            .iter()
            .any(|w| unsigned.eq_ignore_ascii_case(w))
}

/// Keys additionally avoid a leading `-`, which next to an indentless sequence looks like an item.
fn key_needs_quotes(k: &str) -> bool {
    needs_quotes(k) || k.starts_with('-')
}

/// Characters that must be written as escapes: YAML non-printables, line separators YAML 1.1
/// treats as breaks, and invisible format or bidi controls a reviewer should see.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{FFFE}'
                | '\u{FFFF}'
        )
}

/// Implicit keys longer than 1024 characters are invalid YAML; leave headroom for bytes vs chars.
const MAX_IMPLICIT_KEY: usize = 1000;

fn write_document(out: &mut String, v: &Value) {
    match v {
        Value::Map(m) if !m.is_empty() => write_map(out, m, 0, false),
        Value::Seq(items) if !items.is_empty() => write_seq(out, items, 0, false),
        // A top-level block scalar's explicit indentation is read differently by libyaml and
        // the spec, so top-level multi-line strings are double-quoted instead.
        other => {
            write_inline(out, other);
            out.push('\n');
        }
    }
}

fn pad(out: &mut String, col: usize) {
    const SPACES: &str = "                                                                ";
    match SPACES.get(..col) {
        Some(spaces) => out.push_str(spaces),
        None => out.extend(std::iter::repeat_n(' ', col)),
    }
}

/// Writes a mapping whose keys sit at `col`; `inline_first` when the first key follows `- `.
fn write_map(out: &mut String, m: &Map, col: usize, inline_first: bool) {
    for (i, (k, v)) in m.0.iter().enumerate() {
        if i > 0 || !inline_first {
            pad(out, col);
        }
        let key = format_key(k);
        if key.len() > MAX_IMPLICIT_KEY {
            out.push_str("? ");
            out.push_str(&key);
            out.push('\n');
            pad(out, col);
        } else {
            out.push_str(&key);
        }
        out.push(':');
        write_after_indicator(out, v, col);
    }
}

/// Writes items whose dashes sit at `col`; `inline_first` when the first dash follows `- `.
fn write_seq(out: &mut String, items: &[Value], col: usize, inline_first: bool) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 || !inline_first {
            pad(out, col);
        }
        out.push('-');
        match item {
            Value::Map(m) if !m.is_empty() => {
                out.push(' ');
                write_map(out, m, col + 2, true);
            }
            Value::Seq(inner) if !inner.is_empty() => {
                out.push(' ');
                write_seq(out, inner, col + 2, true);
            }
            other => write_after_indicator(out, other, col),
        }
    }
}

/// Writes what follows a `key:` or `-` written at `col`: an inline scalar, a literal block
/// or nested mapping two columns right, or a nested sequence at `col` itself (kubectl style;
/// only reachable from a key, since items that are sequences go inline after the dash).
fn write_after_indicator(out: &mut String, v: &Value, col: usize) {
    match v {
        Value::Map(m) if !m.is_empty() => {
            out.push('\n');
            write_map(out, m, col + 2, false);
        }
        Value::Seq(items) if !items.is_empty() => {
            out.push('\n');
            write_seq(out, items, col, false);
        }
        Value::Str(s) if literal_ok(s) => write_literal(out, s, col + 2),
        other => {
            out.push(' ');
            write_inline(out, other);
            out.push('\n');
        }
    }
}

fn format_key(k: &str) -> std::borrow::Cow<'_, str> {
    if key_needs_quotes(k) {
        let mut key = String::new();
        write_quoted(&mut key, k);
        key.into()
    } else {
        k.into()
    }
}

fn write_inline(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Int(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Float(f) => write_float(out, *f),
        Value::Str(s) if needs_quotes(s) => write_quoted(out, s),
        Value::Str(s) => out.push_str(s),
        Value::Seq(_) => out.push_str("[]"),
        Value::Map(_) => out.push_str("{}"),
    }
}

/// Rust's `Display` for floats never uses an exponent, which sidesteps YAML 1.1's rule that
/// an exponent needs a sign (`1e3` is a string there).
fn write_float(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str(".nan");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { ".inf" } else { "-.inf" });
    } else {
        let start = out.len();
        let _ = write!(out, "{f}");
        if !out[start..].contains('.') {
            out.push_str(".0");
        }
    }
}

fn write_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if needs_escape(c) => {
                let n = u32::from(c);
                let _ = if n <= 0xFF {
                    write!(out, "\\x{n:02X}")
                } else if n <= 0xFFFF {
                    write!(out, "\\u{n:04X}")
                } else {
                    write!(out, "\\U{n:08X}")
                };
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Multi-line text reads best as a literal block; anything needing escapes (CR, controls,
/// invisible characters) or holding no text besides newlines falls back to double quotes.
fn literal_ok(s: &str) -> bool {
    s.contains('\n')
        && s.chars().any(|c| c != '\n')
        && !s.chars().any(|c| c != '\n' && c != '\t' && needs_escape(c))
}

/// Writes ` |…` and the lines of `s` at `content_col`.
fn write_literal(out: &mut String, s: &str, content_col: usize) {
    let body = s.trim_end_matches('\n');
    let trailing = s.len() - body.len();
    out.push_str(" |");
    // Indentation is auto-detected from the first non-empty line, so text whose first such
    // line starts with a space (or a tab, which libyaml rejects there) needs it spelled out.
    // It is always 2: content sits two columns right of the enclosing collection, which is
    // what both the spec and libyaml measure from (top-level scalars never get here).
    let first_text = body.split('\n').find(|line| !line.is_empty());
    if first_text.is_some_and(|line| line.starts_with([' ', '\t'])) {
        out.push('2');
    }
    out.push_str(match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    });
    out.push('\n');
    for line in body.split('\n') {
        if !line.is_empty() {
            pad(out, content_col);
            out.push_str(line);
        }
        out.push('\n');
    }
    for _ in 1..trailing {
        out.push('\n');
    }
}

/// Parses a multi-document YAML stream, keeping mapping key order.
///
/// The block-style subset that templates and our emitter produce is read by [`fast`];
/// everything else, and every error, comes from serde_yaml_ng.
pub fn from_yaml_str(s: &str) -> Result<Vec<Value>, String> {
    if let Some(docs) = fast::parse(s) {
        // The fast path's promise, checked by every debug run (tests, goldens, fixtures).
        debug_assert_eq!(
            Ok(&docs),
            from_yaml_str_serde(s).as_ref(),
            "the fast YAML reader disagrees with serde_yaml_ng on {s:?}"
        );
        return Ok(docs);
    }
    from_yaml_str_serde(s)
}

/// [`from_yaml_str`] without the fast path: the reference the fast reader must agree with.
#[doc(hidden)]
pub fn from_yaml_str_serde(s: &str) -> Result<Vec<Value>, String> {
    // Empty documents (and an empty input) come back as `Null`. Integer and boolean keys
    // become their text, as Kubernetes' own YAML-to-JSON step does; other non-string keys,
    // tags, non-finite floats and integers beyond i64 are errors rather than silent guesses.
    use serde::Deserialize as _;
    let mut docs = Vec::new();
    for (i, de) in serde_yaml_ng::Deserializer::from_str(s).enumerate() {
        let parsed = serde_yaml_ng::Value::deserialize(de)
            .map_err(|e| format!("YAML document {}: {e}", i + 1))?;
        let value = convert(parsed).map_err(|e| format!("YAML document {}: {e}", i + 1))?;
        docs.push(value);
    }
    Ok(docs)
}

fn convert(v: serde_yaml_ng::Value) -> Result<Value, String> {
    use serde_yaml_ng::Value as Y;
    Ok(match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if n.is_f64() {
                let f = n.as_f64().unwrap_or(f64::NAN);
                if !f.is_finite() {
                    return Err(format!("non-finite number `{n}` is not supported"));
                }
                Value::Float(f)
            } else {
                return Err(format!("integer `{n}` does not fit in 64-bit signed"));
            }
        }
        Y::String(s) => Value::Str(s),
        Y::Sequence(items) => Value::Seq(items.into_iter().map(convert).collect::<Result<_, _>>()?),
        Y::Mapping(m) => {
            let mut out = Vec::with_capacity(m.len());
            for (k, v) in m {
                let key = match k {
                    Y::String(s) => s,
                    Y::Bool(b) => b.to_string(),
                    Y::Number(n) if !n.is_f64() => n.to_string(),
                    other => return Err(format!("unsupported mapping key {other:?}")),
                };
                out.push((key, convert(v)?));
            }
            Value::Map(Map(out))
        }
        Y::Tagged(t) => return Err(format!("tag `{}` is not supported", t.tag)),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn the_fast_path_of_needs_quotes_agrees_with_the_general_rules() {
        // Every string of up to four characters over an alphabet with each kind of character
        // the rules look at, plus the special words in several letter cases.
        let alphabet = [
            'a', 'Y', 'e', 's', 'n', 'o', '0', '.', '-', '_', '/', ':', ' ', '#',
        ];
        let mut cases = vec![String::new()];
        let mut frontier = vec![String::new()];
        for _ in 0..4 {
            let mut next = Vec::new();
            for s in &frontier {
                for c in alphabet {
                    next.push(format!("{s}{c}"));
                }
            }
            cases.extend(next.iter().cloned());
            frontier = next;
        }
        for w in [
            "yes", "No", "TRUE", "false", "On", "off", "null", "Null", "y", "N", ".inf", "-.Inf",
            "+.nan", "<<", "=", "~", "falsey", "nulls",
        ] {
            cases.push(w.to_string());
        }
        for s in &cases {
            assert_eq!(
                super::needs_quotes(s),
                super::needs_quotes_general(s),
                "{s:?}"
            );
        }
    }

    use super::*;
    use serde_yaml_ng::Value as Y;

    // ---- A tiny backtracking regex matcher, so the YAML 1.1/1.2 type regexes below can be
    // ---- written exactly as the specs print them and checked independently of `needs_quotes`.

    enum Node {
        Char(char),
        Class(Vec<(char, char)>),
        Group(Vec<Vec<Node>>),
        Repeat(Box<Node>, usize, Option<usize>),
    }

    fn parse_alternatives(p: &[char], i: &mut usize) -> Vec<Vec<Node>> {
        let mut alts = vec![Vec::new()];
        while *i < p.len() {
            let c = p[*i];
            *i += 1;
            let atom = match c {
                '|' => {
                    alts.push(Vec::new());
                    continue;
                }
                ')' => return alts,
                '(' => Node::Group(parse_alternatives(p, i)),
                '[' => {
                    let mut ranges = Vec::new();
                    while p[*i] != ']' {
                        let lo = class_char(p, i);
                        if p[*i] == '-' && p[*i + 1] != ']' {
                            *i += 1;
                            ranges.push((lo, class_char(p, i)));
                        } else {
                            ranges.push((lo, lo));
                        }
                    }
                    *i += 1;
                    Node::Class(ranges)
                }
                '\\' => {
                    *i += 1;
                    Node::Char(unescape(p[*i - 1]))
                }
                c => Node::Char(c),
            };
            let atom = match p.get(*i) {
                Some('?') => Node::Repeat(Box::new(atom), 0, Some(1)),
                Some('*') => Node::Repeat(Box::new(atom), 0, None),
                Some('+') => Node::Repeat(Box::new(atom), 1, None),
                _ => {
                    alts.last_mut().unwrap().push(atom);
                    continue;
                }
            };
            *i += 1;
            alts.last_mut().unwrap().push(atom);
        }
        alts
    }

    fn class_char(p: &[char], i: &mut usize) -> char {
        let c = p[*i];
        *i += 1;
        if c == '\\' {
            *i += 1;
            unescape(p[*i - 1])
        } else {
            c
        }
    }

    fn unescape(c: char) -> char {
        if c == 't' {
            '\t'
        } else {
            c
        }
    }

    fn match_seq(seq: &[Node], s: &[char], i: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
        match seq.split_first() {
            None => k(i),
            Some((first, rest)) => match_node(first, s, i, &mut |j| match_seq(rest, s, j, k)),
        }
    }

    fn match_node(n: &Node, s: &[char], i: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
        match n {
            Node::Char(c) => i < s.len() && s[i] == *c && k(i + 1),
            Node::Class(r) => {
                i < s.len() && r.iter().any(|&(a, b)| a <= s[i] && s[i] <= b) && k(i + 1)
            }
            Node::Group(alts) => alts.iter().any(|alt| match_seq(alt, s, i, k)),
            Node::Repeat(inner, min, max) => match_repeat(inner, *min, *max, 0, s, i, k),
        }
    }

    fn match_repeat(
        inner: &Node,
        min: usize,
        max: Option<usize>,
        count: usize,
        s: &[char],
        i: usize,
        k: &mut dyn FnMut(usize) -> bool,
    ) -> bool {
        if max.is_none_or(|m| count < m)
            && match_node(inner, s, i, &mut |j| {
                j != i && match_repeat(inner, min, max, count + 1, s, j, k)
            })
        {
            return true;
        }
        count >= min && k(i)
    }

    fn full_match(pattern: &str, s: &str) -> bool {
        let p: Vec<char> = pattern.chars().collect();
        let alts = parse_alternatives(&p, &mut 0);
        let s: Vec<char> = s.chars().collect();
        alts.iter()
            .any(|alt| match_seq(alt, &s, 0, &mut |j| j == s.len()))
    }

    /// Implicit-type regexes of YAML 1.1 (yaml.org/type), YAML 1.2 core schema, and the
    /// looser variants PyYAML and go-yaml use.
    const SPECIAL_FORMS: &[&str] = &[
        // 1.1 bool, null
        "y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF",
        "~|null|Null|NULL",
        // 1.1 int
        "[-+]?0b[0-1_]+",
        "[-+]?0[0-7_]+",
        "[-+]?(0|[1-9][0-9_]*)",
        "[-+]?0x[0-9a-fA-F_]+",
        "[-+]?[1-9][0-9_]*(:[0-5]?[0-9])+",
        // 1.1 float
        "[-+]?([0-9][0-9_]*)?\\.[0-9.]*([eE][-+][0-9]+)?",
        "[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\\.[0-9_]*",
        "[-+]?\\.(inf|Inf|INF)",
        "\\.(nan|NaN|NAN)",
        // 1.1 timestamp
        "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]",
        "[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?([Tt]|[ \\t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](\\.[0-9]*)?(([ \\t]*)(Z|[-+][0-9][0-9]?(:[0-9][0-9])?))?",
        // 1.1 merge, value
        "<<",
        "=",
        // 1.2 core
        "[-+]?[0-9]+",
        "0o[0-7]+",
        "0x[0-9a-fA-F]+",
        "[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?",
        "\\.nan|\\.NaN|\\.NAN",
        // PyYAML / go-yaml variants
        "[-+]?([0-9][0-9_]*)\\.[0-9_]*([eE][-+][0-9]+)?",
        "\\.[0-9_]+([eE][-+][0-9]+)?",
        "[-+]?0o[0-7_]+",
        "[-+]?[0-9][0-9_]*([eE][-+]?[0-9]+)?",
    ];

    fn special_form(s: &str) -> Option<&'static str> {
        if s.is_empty() {
            return Some("empty");
        }
        SPECIAL_FORMS.iter().copied().find(|p| full_match(p, s))
    }

    #[test]
    fn regex_matcher_sanity() {
        for s in [
            "yes",
            "Off",
            "~",
            "0b101",
            "0777",
            "0o17",
            "1_000",
            "0x1F",
            "1:20",
            "190:20:30",
            "1.5",
            ".5",
            "1e3",
            "1.",
            ".inf",
            "-.Inf",
            ".NaN",
            "6.8523015e+5",
            "685.230_15e+03",
            "190:20:30.15",
            "2001-12-14",
            "2001-12-14t21:59:43.10-05:00",
            "2001-12-14 21:59:43.10 -5",
            "2001-12-14T21:59:43Z",
            "<<",
            "=",
            "+1",
            "-1",
            ".",
        ] {
            assert!(special_form(s).is_some(), "{s} should be special");
        }
        for s in ["yess", "abc", "1a", "0x", "-", "a.b", "1:2:3a"] {
            assert_eq!(special_form(s), None, "{s} should not be special");
        }
    }

    // ---- Round trips.

    const SPECIAL_WORDS: &[&str] = &[
        "y",
        "Y",
        "yes",
        "Yes",
        "YES",
        "n",
        "N",
        "no",
        "No",
        "NO",
        "true",
        "True",
        "TRUE",
        "false",
        "False",
        "FALSE",
        "on",
        "On",
        "ON",
        "off",
        "Off",
        "OFF",
        "~",
        "null",
        "Null",
        "NULL",
        "",
        "0",
        "7",
        "0777",
        "0o17",
        "0x1F",
        "0b101",
        "1_000",
        "+1",
        "-1",
        "+0",
        "-0",
        "1:20",
        "190:20:30",
        "1.5",
        ".5",
        "-.5",
        "+.5",
        "1e3",
        "1E3",
        "1e+3",
        "1.",
        ".inf",
        ".Inf",
        ".INF",
        "-.inf",
        "-.Inf",
        "+.inf",
        ".nan",
        ".NaN",
        ".NAN",
        "6.8523015e+5",
        "685.230_15e+03",
        "190:20:30.15",
        "2001-12-14",
        "2001-12-14t21:59:43.10-05:00",
        "2001-12-14 21:59:43.10 -5",
        "2001-12-14T21:59:43Z",
        "<<",
        "=",
        ".",
        "..",
        "...",
        "._",
        "+._1",
        "0.",
        "00",
        "08",
        "09",
        "1__0",
        "0x_1",
        "+0b1",
        "-0o7",
    ];

    const HOSTILE: &[&str] = &[
        "plain",
        "inf",
        "nan",
        "Infinity",
        "-Infinity",
        "NaN",
        "hello world",
        "app.kubernetes.io/name",
        "ghcr.io/acme/api:1.2.3",
        "postgres://u:p@db:5432/x?sslmode=require",
        "https://example.com/#frag",
        "say \"hi\"",
        "it's",
        "'single'",
        "\"double\"",
        "back\\slash",
        "\\",
        "\\n",
        "${x}",
        "$${x}",
        "%{x}",
        "%%{x}",
        "$(VAR)",
        "$$(VAR)",
        "a$b",
        "$",
        "café",
        "日本語",
        "emoji 🚀",
        "👨\u{200d}👩\u{200d}👧",
        "\u{200f}rtl",
        "a\u{200e}b",
        "\u{202e}evil",
        "a\u{feff}b",
        "\u{feff}",
        "nul\0byte",
        "\0",
        "nel\u{85}x",
        "ls\u{2028}x",
        "ps\u{2029}x",
        "del\u{7f}",
        "bell\u{7}",
        "esc\u{1b}[0m",
        "\u{fffe}",
        "soft\u{ad}hy",
        "tab\there",
        "\t",
        "crlf\r\nline",
        "\r",
        "cr\r",
        " lead",
        "trail ",
        " both ",
        "\u{a0}nbsp",
        "nbsp\u{a0}",
        "\nlead",
        "trail\n",
        "\n",
        "\n\n",
        "\n\n\n",
        "a\nb",
        "a\n\nb",
        "a\nb\n",
        "a\nb\n\n",
        "\n a",
        " a\nb",
        "  a\n b",
        "a\n  \nb",
        "a\n ",
        "a\n\t\tb",
        "\ta\nb",
        "a \nb ",
        "- x",
        "-",
        "--",
        "---",
        "--- x",
        "---x",
        "...",
        "... x",
        "-x",
        "--port=8080",
        "-v",
        "-1x",
        "-.x",
        "? x",
        "?",
        "?x",
        ": x",
        ":",
        ":x",
        "::1",
        "key: value",
        "key:",
        "key:value",
        "a:b",
        "a :b",
        "a #b",
        "a#b",
        "#x",
        "#",
        "!tag",
        "!",
        "!!str",
        "&a",
        "*a",
        "|",
        "|-",
        ">",
        ">-",
        "%",
        "%YAML",
        "@",
        "@x",
        "`",
        "`x`",
        ",",
        "a,b",
        "[",
        "]",
        "[a]",
        "{",
        "}",
        "{a: b}",
        "a[0]",
        "x{y}",
        "<<x",
        "<",
        "=x",
        "==",
        "~x",
        "~/dir",
        "+",
        "+x",
        "a b c",
        "a  b",
        "a\tb",
        ".hidden",
        ".x",
        "..x",
        "x.",
        "1Gi",
        "500m",
        "v1",
        "v1.2",
        "1.25-alpine",
        "0.0.0.0/0",
        "10.0.0.1",
        "12:34",
        "12:34:56",
        "1_2",
        "0b",
        "0x",
        "0o",
        "e3",
        "E",
        "_",
        "a_b",
        "yes please",
        "no way",
        "on-call",
        "off.",
        "y/n",
        "True story",
        "null pointer",
        "# comment",
        "a # comment",
        "a  #b",
        "x: y: z",
        "'",
        "\"",
        "''",
        "\"\"",
        "multi\nline: value\n- item\n# not a comment\n",
        "  indented\n    more\n",
        "line with trailing space \nnext",
        "ends with spaces\n   ",
        "---\n...\n",
        "\\\n\"\n",
        "é\nü\n",
        "${a}\n%{b}\n",
    ];

    fn all_cases() -> Vec<String> {
        let mut cases: Vec<String> = SPECIAL_WORDS
            .iter()
            .chain(HOSTILE)
            .map(|s| s.to_string())
            .collect();
        for s in SPECIAL_WORDS.iter().chain(HOSTILE) {
            cases.push(format!("{s}\n{s}"));
            cases.push(format!("{s}\n"));
            cases.push(format!("\n{s}"));
            cases.push(format!(" {s}\n\n"));
        }
        cases
    }

    fn parse(text: &str) -> Y {
        serde_yaml_ng::from_str(text).unwrap_or_else(|e| panic!("parse failed: {e}\n---\n{text}"))
    }

    fn as_string<'a>(v: &'a Y, text: &str) -> &'a str {
        match v {
            Y::String(s) => s,
            other => panic!("expected a string, got {other:?} from:\n{text}"),
        }
    }

    /// Emits `s` in every position the emitter has and checks each reads back as `s`.
    fn check_round_trip(s: &str) {
        let text = to_string(&Map::new().with("k", s).into());
        let back = parse(&text);
        assert_eq!(as_string(&back["k"], &text), s, "value in:\n{text}");
        if text == format!("k: {s}\n") {
            assert_eq!(special_form(s), None, "emitted plain but special: {text}");
        }

        let text = to_string(&Value::Seq(vec![s.into(), "after".into()]));
        let back = parse(&text);
        assert_eq!(as_string(&back[0], &text), s, "seq item in:\n{text}");

        let nested: Value = Map::new()
            .with(
                "outer",
                Map::new().with(
                    "list",
                    vec![
                        Map::new().with("name", s).with("other", s).into(),
                        Value::Seq(vec![s.into(), Value::Seq(vec![s.into()])]),
                        s.into(),
                    ],
                ),
            )
            .with("tail", s)
            .into();
        let text = to_string(&nested);
        let back = parse(&text);
        let list = &back["outer"]["list"];
        for got in [
            &list[0]["name"],
            &list[0]["other"],
            &list[1][0],
            &list[1][1][0],
            &list[2],
            &back["tail"],
        ] {
            assert_eq!(as_string(got, &text), s, "nested in:\n{text}");
        }
        assert_eq!(
            from_yaml_str(&text).unwrap(),
            vec![nested],
            "from_yaml_str of:\n{text}"
        );

        let text = to_string(&Map::new().with(s, "v").with("z", 1).into());
        let back = parse(&text);
        let Y::Mapping(m) = &back else {
            panic!("not a mapping:\n{text}")
        };
        let (key, _) = m.iter().next().unwrap();
        assert_eq!(as_string(key, &text), s, "key in:\n{text}");
        if text.starts_with(&format!("{s}: ")) {
            assert_eq!(
                special_form(s),
                None,
                "key emitted plain but special: {text}"
            );
        }

        let text = to_string(&s.into());
        assert_eq!(as_string(&parse(&text), &text), s, "document in:\n{text}");
    }

    #[test]
    fn hostile_strings_round_trip() {
        for s in all_cases() {
            check_round_trip(&s);
        }
    }

    #[test]
    fn special_forms_are_always_quoted() {
        for s in all_cases() {
            if !needs_quotes(&s) {
                assert_eq!(
                    special_form(&s),
                    None,
                    "{s:?} is special but would be plain"
                );
            }
        }
        for s in SPECIAL_WORDS {
            assert!(needs_quotes(s), "{s:?}");
        }
    }

    #[test]
    fn short_strings_exhaustively() {
        let alphabet: Vec<char> = "01.-+:eEx_ yn~<=#a\"'\\\n\t,".chars().collect();
        let mut strings = vec![String::new()];
        let mut frontier = vec![String::new()];
        for _ in 0..3 {
            let mut next = Vec::new();
            for base in &frontier {
                for c in &alphabet {
                    next.push(format!("{base}{c}"));
                }
            }
            strings.extend(next.iter().cloned());
            frontier = next;
        }
        for s in &strings {
            if !needs_quotes(s) {
                assert_eq!(special_form(s), None, "{s:?}");
            }
            let text = to_string(
                &Map::new()
                    .with("k", s.as_str())
                    .with(s.as_str(), s.as_str())
                    .into(),
            );
            let back = parse(&text);
            assert_eq!(as_string(&back["k"], &text), s);
            let Y::Mapping(m) = &back else { panic!() };
            let (key, value) = m.iter().nth(1).unwrap();
            assert_eq!(as_string(key, &text), s);
            assert_eq!(as_string(value, &text), s);
        }
    }

    #[test]
    fn multi_line_exhaustively() {
        let alphabet: Vec<char> = "a \t\n#-".chars().collect();
        let mut frontier = vec![String::new()];
        for _ in 0..5 {
            let mut next = Vec::new();
            for base in &frontier {
                for c in &alphabet {
                    let s = format!("{base}{c}");
                    check_round_trip(&s);
                    next.push(s);
                }
            }
            frontier = next;
        }
    }

    #[test]
    fn plain_when_safe() {
        for s in [
            "plain",
            "app.kubernetes.io/name",
            "ghcr.io/acme/api:1.2.3",
            "--port=8080",
            "-v",
            "https://example.com/#frag",
            "$(VAR)",
            "say \"hi\"",
            "it's",
            "café",
            "emoji 🚀",
            "RuntimeDefault",
            "ALL",
            "a:b",
            "a#b",
            ".hidden",
            "v1",
            "x.",
        ] {
            assert!(!needs_quotes(s), "{s:?} should stay plain");
        }
    }

    #[test]
    fn quoting_and_escapes() {
        let cases: &[(&str, &str)] = &[
            ("yes", "\"yes\""),
            ("", "\"\""),
            ("8080", "\"8080\""),
            ("a: b", "\"a: b\""),
            ("say \"hi\" \\o/ ", "\"say \\\"hi\\\" \\\\o/ \""),
            ("\0\t\r\u{7}", "\"\\0\\t\\r\\x07\""),
            (
                "\u{85}\u{2028}\u{2029}\u{feff}\u{200f}",
                "\"\\x85\\u2028\\u2029\\uFEFF\\u200F\"",
            ),
            ("crlf\r\n", "\"crlf\\r\\n\""),
            ("\n\n", "\"\\n\\n\""),
            ("${x}", "\"${x}\""),
        ];
        for (s, want) in cases {
            assert_eq!(to_string(&(*s).into()), format!("{want}\n"), "{s:?}");
        }
    }

    #[test]
    fn literal_blocks() {
        let doc: Value = Map::new()
            .with("strip", "a\nb")
            .with("clip", "a\nb\n")
            .with("keep", "a\n\nb\n\n\n")
            .with("indent", "  x\ny\n")
            .with("blank-first", "\n  x")
            .with("list", vec!["one\ntwo\n".into(), " lead\n".into()])
            .with("after", 1)
            .into();
        let want = "\
strip: |-
  a
  b
clip: |
  a
  b
keep: |+
  a

  b


indent: |2
    x
  y
blank-first: |2-

    x
list:
- |
  one
  two
- |2
   lead
after: 1
";
        let text = to_string(&doc);
        assert_eq!(text, want);
        assert_eq!(from_yaml_str(&text).unwrap(), vec![doc]);
    }

    #[test]
    fn scalars_and_empties() {
        let doc: Value = Map::new()
            .with("null", Value::Null)
            .with("t", true)
            .with("f", false)
            .with("int", -42i64)
            .with("port", 8080u16)
            .with("one", Value::Float(1.0))
            .with("half", Value::Float(0.5))
            .with("neg", Value::Float(-2.25))
            .with("big", Value::Float(1e21))
            .with("tiny", Value::Float(1e-7))
            .with("map", Map::new())
            .with("seq", Value::Seq(vec![]))
            .with(
                "items",
                vec![Map::new().into(), Value::Seq(vec![]), Value::Null],
            )
            .into();
        let want = "\
\"null\": null
t: true
f: false
int: -42
port: 8080
one: 1.0
half: 0.5
neg: -2.25
big: 1000000000000000000000.0
tiny: 0.0000001
map: {}
seq: []
items:
- {}
- []
- null
";
        let text = to_string(&doc);
        assert_eq!(text, want);
        assert_eq!(from_yaml_str(&text).unwrap(), vec![doc]);
        assert_eq!(to_string(&Value::Null), "null\n");
        assert_eq!(to_string(&Map::new().into()), "{}\n");
        assert_eq!(to_string(&Value::Seq(vec![])), "[]\n");
        assert_eq!(to_string(&Value::Float(f64::NAN)), ".nan\n");
        assert_eq!(to_string(&Value::Float(f64::NEG_INFINITY)), "-.inf\n");
    }

    #[test]
    fn keys_needing_quotes() {
        let doc: Value = Map::new()
            .with("on", "push")
            .with("yes", 1)
            .with("1", "one")
            .with("<<", "merge")
            .with("a: b", "colon")
            .with("#c", "hash")
            .with("-x", "dash")
            .with("", "empty")
            .with("app.kubernetes.io/name", "plain")
            .with("$text", "./x.yaml")
            .into();
        let want = "\
\"on\": push
\"yes\": 1
\"1\": one
\"<<\": merge
\"a: b\": colon
\"#c\": hash
\"-x\": dash
\"\": empty
app.kubernetes.io/name: plain
$text: ./x.yaml
";
        let text = to_string(&doc);
        assert_eq!(text, want);
        assert_eq!(from_yaml_str(&text).unwrap(), vec![doc]);
    }

    #[test]
    fn long_keys_use_explicit_form() {
        let long = "k".repeat(2000);
        let doc: Value = vec![Map::new()
            .with(long.as_str(), Map::new().with("a", 1))
            .with("list", vec![Value::from("x")])
            .with(format!("{long}2"), vec![Value::from("y")])
            .into()]
        .into();
        let text = to_string(&doc);
        assert!(
            text.starts_with(&format!("- ? {long}\n  :\n    a: 1\n")),
            "{text}"
        );
        assert_eq!(from_yaml_str(&text).unwrap(), vec![doc]);
    }

    #[test]
    fn map_insert_keeps_position() {
        let mut m = Map::new();
        m.insert("a", 1).insert("b", 2).insert("a", 3);
        assert_eq!(m.len(), 2);
        assert_eq!(m.get("a"), Some(&Value::Int(3)));
        assert_eq!(to_string(&m.clone().into()), "a: 3\nb: 2\n");
        assert_eq!(m.remove("a"), Some(Value::Int(3)));
        assert!(!m.is_empty());
        let collected: Map = [("z", "1"), ("a", "2")].into_iter().collect();
        assert_eq!(to_string(&collected.into()), "z: \"1\"\na: \"2\"\n");
    }

    #[test]
    fn deployment_golden() {
        let name_labels = || Map::new().with("app.kubernetes.io/name", "orders");
        let container = Map::new()
            .with("name", "orders")
            .with("image", "ghcr.io/acme/orders:1.4.2")
            .with("args", vec![Value::from("--port=8080"), Value::from("yes")])
            .with(
                "env",
                vec![
                    Map::new()
                        .with("name", "GREETING")
                        .with("value", "on")
                        .into(),
                    Map::new()
                        .with("name", "DATABASE_URL")
                        .with("value", "postgres://$(TRESTLE_DB_PASSWORD)@db:5432/orders")
                        .into(),
                    Map::new()
                        .with("name", "SCRIPT")
                        .with("value", "echo hi\nexit 0\n")
                        .into(),
                ],
            )
            .with(
                "ports",
                vec![Map::new()
                    .with("containerPort", 8080)
                    .with("name", "http")
                    .into()],
            )
            .with(
                "resources",
                Map::new().with("limits", Map::new().with("memory", "512Mi")),
            )
            .with(
                "securityContext",
                Map::new().with(
                    "capabilities",
                    Map::new().with("drop", vec![Value::from("ALL")]),
                ),
            )
            .with("volumeMounts", Value::Seq(vec![]));
        let doc: Value = Map::new()
            .with("apiVersion", "apps/v1")
            .with("kind", "Deployment")
            .with(
                "metadata",
                Map::new()
                    .with("name", "orders")
                    .with("namespace", "shop")
                    .with(
                        "labels",
                        name_labels().with("app.kubernetes.io/part-of", "shop"),
                    )
                    .with("annotations", Map::new().with("trestle.dev/wave", "1")),
            )
            .with(
                "spec",
                Map::new()
                    .with("replicas", 2)
                    .with("selector", Map::new().with("matchLabels", name_labels()))
                    .with(
                        "template",
                        Map::new()
                            .with("metadata", Map::new().with("labels", name_labels()))
                            .with(
                                "spec",
                                Map::new()
                                    .with("automountServiceAccountToken", false)
                                    .with(
                                        "securityContext",
                                        Map::new()
                                            .with("runAsNonRoot", true)
                                            .with("runAsUser", 10001)
                                            .with(
                                                "seccompProfile",
                                                Map::new().with("type", "RuntimeDefault"),
                                            ),
                                    )
                                    .with("containers", vec![container.into()])
                                    .with(
                                        "volumes",
                                        vec![Map::new()
                                            .with("name", "tmp")
                                            .with("emptyDir", Map::new())
                                            .into()],
                                    ),
                            ),
                    ),
            )
            .into();
        let want = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: orders
  namespace: shop
  labels:
    app.kubernetes.io/name: orders
    app.kubernetes.io/part-of: shop
  annotations:
    trestle.dev/wave: "1"
spec:
  replicas: 2
  selector:
    matchLabels:
      app.kubernetes.io/name: orders
  template:
    metadata:
      labels:
        app.kubernetes.io/name: orders
    spec:
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        seccompProfile:
          type: RuntimeDefault
      containers:
      - name: orders
        image: ghcr.io/acme/orders:1.4.2
        args:
        - --port=8080
        - "yes"
        env:
        - name: GREETING
          value: "on"
        - name: DATABASE_URL
          value: postgres://$(TRESTLE_DB_PASSWORD)@db:5432/orders
        - name: SCRIPT
          value: |
            echo hi
            exit 0
        ports:
        - containerPort: 8080
          name: http
        resources:
          limits:
            memory: "512Mi"
        securityContext:
          capabilities:
            drop:
            - ALL
        volumeMounts: []
      volumes:
      - name: tmp
        emptyDir: {}
"#;
        let text = to_string(&doc);
        assert_eq!(text, want);
        assert_eq!(from_yaml_str(&text).unwrap(), vec![doc.clone()]);

        let stream = documents_to_string(&[doc.clone(), Map::new().with("kind", "Service").into()]);
        assert_eq!(stream, format!("{want}---\nkind: Service\n"));
        let docs = from_yaml_str(&stream).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0], doc);
        assert_eq!(documents_to_string(std::slice::from_ref(&doc)), want);
        assert_eq!(documents_to_string(&[]), "");
    }

    #[test]
    fn parse_back_keeps_order_and_reports_errors() {
        let docs = from_yaml_str("z: 1\na: [x, 2, 1.5, null, true]\n8080: http\n---\n---\nb: c\n")
            .unwrap();
        assert_eq!(docs.len(), 3);
        let first = docs[0].as_map().unwrap();
        assert_eq!(
            first.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            ["z", "a", "8080"]
        );
        assert_eq!(
            docs[0].get("a"),
            Some(&Value::Seq(vec![
                "x".into(),
                Value::Int(2),
                Value::Float(1.5),
                Value::Null,
                Value::Bool(true)
            ]))
        );
        assert_eq!(docs[1], Value::Null);
        assert!(from_yaml_str("a: [").is_err());
        assert!(from_yaml_str("a: 1\na: 2\n").is_err());
        assert!(from_yaml_str("a: .inf\n").is_err());
        assert!(from_yaml_str("a: !custom x\n").is_err());
        assert!(from_yaml_str("a: 18446744073709551615\n").is_err());
        assert_eq!(from_yaml_str("").unwrap(), vec![Value::Null]);
    }
}
