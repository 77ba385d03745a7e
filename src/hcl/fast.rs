//! A fast reader for the HCL that provisioner templates render, over the tokens of our own
//! lexer: it builds just what trestle reads from rendered Terraform (attributes, blocks and their
//! labels, literal values, the source text of other expressions, and traversals), as byte ranges
//! into the text.
//!
//! It accepts a deliberately small subset of HCL (see [`parse`]) and *declines* (returns `None`)
//! on anything else and on every syntax error, so that hcl-edit's parser handles those and its
//! diagnostics stay exactly what they were. Whatever it accepts hcl-edit accepts too. On
//! canonical text (what `format` returns, the only text trestle reads back) both read the same
//! values and references; on other text the source of a non-literal value may differ from
//! hcl-edit's rendering of it in whitespace. Debug builds check both properties wherever the
//! fast reader answers; `tests` below check every `.tf` file of the test suite, corner cases and
//! seeded mutants.

use std::borrow::Cow;
use std::ops::Range;

use super::{unescape_literal, Kind, Tok};

/// Deeper nesting (blocks and brackets) is left to hcl-edit, which has its own limit (64).
const MAX_DEPTH: usize = 32;

/// A parsed file: its top-level items, and the traversals each of them holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Body {
    /// Top-level attributes and blocks, in file order.
    pub items: Vec<Structure>,
    /// For each of `items`, the range of `traversals` found inside it.
    pub item_traversals: Vec<Range<usize>>,
    /// Every traversal (`a.b[c].d`, with at least one operator), in file order.
    pub traversals: Vec<Traversal>,
}

/// An attribute or a block.
#[derive(Debug, Clone, PartialEq)]
pub enum Structure {
    /// `key = value`.
    Attribute {
        /// The key.
        key: Range<usize>,
        /// The value.
        value: Expr,
    },
    /// `ident label... { body }`.
    Block {
        /// The block type.
        ident: Range<usize>,
        /// The labels.
        labels: Vec<Str>,
        /// The contents.
        body: Vec<Structure>,
    },
}

/// A quoted string without interpolation, or an identifier (a label or an object key).
#[derive(Debug, Clone, PartialEq)]
pub struct Str {
    /// The text between the quotes, or the identifier.
    pub raw: Range<usize>,
    /// Whether `raw` holds escapes (`\n`, `$${`, ...), so that its value differs from it.
    pub escaped: bool,
}

impl Str {
    /// The value: the text with its escapes resolved.
    pub fn value<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let raw = &text[self.raw.clone()];
        if self.escaped {
            // Checked when parsed.
            Cow::Owned(unescape_literal(raw).unwrap_or_default())
        } else {
            Cow::Borrowed(raw)
        }
    }
}

/// An expression, as far as trestle reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer literal.
    Int(i64),
    /// A quoted string without interpolation.
    Str(Str),
    /// A quoted string with interpolations: the text between its quotes.
    Template(Range<usize>),
    /// `[a, b]`.
    Array(Vec<Expr>),
    /// `{ k = v }`; keys are identifiers or quoted strings.
    Object(Vec<(Key, Expr)>),
    /// Anything else (a variable, a traversal, a function call): its source text.
    Other(Range<usize>),
}

/// An object key.
#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    /// A bare identifier.
    Ident(Range<usize>),
    /// A quoted string.
    Str(Str),
}

/// A traversal's root variable and its first two operators (`None` for one that is not `.name`
/// or is missing): all that an address needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Traversal {
    /// The root variable.
    pub root: Range<usize>,
    /// The first two operators, when they are attribute accesses.
    pub attrs: [Option<Range<usize>>; 2],
}

/// Reads `toks` (all of `text`, lexed without error), or declines with `None`.
///
/// Accepted: attributes and blocks (labels are identifiers or plain quoted strings; a body is
/// `{}` or spans lines), whole-line `#` and `//` comments and such comments after an item;
/// values that are `null`, `true`, `false`, decimal integers, quoted strings (interpolations
/// `${...}` of accepted expressions on one line, no directives), variables with `.name` and
/// `[expr]` operators, function calls, arrays, objects with identifier or quoted keys, and
/// binary operators on one line. Declined: everything else, e.g. unary operators, conditionals,
/// `for`, heredocs, splats, parentheses, `/* */` comments, comments inside expressions,
/// one-line blocks with contents, non-ASCII identifiers, duplicate attribute or object keys,
/// carriage returns, and escapes in strings whose value is source text (see `verbatim`).
pub(super) fn parse(text: &str, toks: &[Tok<'_>]) -> Option<Body> {
    // hcl-edit refuses a carriage return outside a `\r\n` pair even in a comment; `format`
    // has already turned `\r\n` into `\n`.
    if text.contains('\r') {
        return None;
    }
    let mut p = Parser {
        text,
        toks,
        pos: 0,
        depth: 0,
        verbatim: 0,
        escapes: 0,
        operators: 0,
        traversals: Vec::new(),
    };
    let mut items = Vec::new();
    let mut item_traversals = Vec::new();
    let mut keys = Vec::new();
    loop {
        p.skip_trivia()?;
        let Some(t) = p.peek() else {
            break;
        };
        if t.kind != Kind::Ident {
            return None;
        }
        let first = p.traversals.len();
        items.push(p.structure(&mut keys)?);
        item_traversals.push(first..p.traversals.len());
        if !p.end_of_line() && p.peek().is_some() {
            return None;
        }
    }
    Some(Body {
        items,
        item_traversals,
        traversals: p.traversals,
    })
}

struct Parser<'s, 't, 'a> {
    text: &'s str,
    toks: &'t [Tok<'a>],
    pos: usize,
    depth: usize,
    /// Above 0 inside an expression whose source text is its value (a call's arguments, an
    /// index, an interpolation): hcl-edit writes such text from its parse, re-escaping
    /// strings, so escapes there would not read back as written.
    verbatim: usize,
    /// How many strings with escapes were read so far.
    escapes: usize,
    /// Binary operators in the current attribute value.
    operators: usize,
    traversals: Vec<Traversal>,
}

fn is_binary_operator(kind: Kind) -> bool {
    use Kind::*;
    matches!(
        kind,
        Plus | Minus | Star | Slash | Percent | EqualOp | NotEqual | Lt | Le | Gt | Ge | And | Or
    )
}

impl<'s> Parser<'s, '_, '_> {
    fn peek(&self) -> Option<&Tok<'_>> {
        self.toks.get(self.pos)
    }

    fn kind(&self, ahead: usize) -> Option<Kind> {
        self.toks.get(self.pos + ahead).map(|t| t.kind)
    }

    /// The byte range of the token at `i` in the text.
    fn range(&self, i: usize) -> Range<usize> {
        let t = &self.toks[i].text;
        // Lexed tokens are slices of the text.
        let start = t.as_ptr() as usize - self.text.as_ptr() as usize;
        start..start + t.len()
    }

    fn ident_range(&self) -> Option<Range<usize>> {
        let t = self.peek()?;
        (t.kind == Kind::Ident && t.text.is_ascii()).then(|| self.range(self.pos))
    }

    /// A `#` or `//` comment, which ends its line.
    fn is_line_comment(t: &Tok<'_>) -> bool {
        t.kind == Kind::Comment && !t.text.starts_with("/*")
    }

    /// Newlines and whole-line comments between items.
    fn skip_trivia(&mut self) -> Option<()> {
        while let Some(t) = self.peek() {
            match t.kind {
                Kind::Newline => self.pos += 1,
                Kind::Comment if Self::is_line_comment(t) => self.pos += 1,
                Kind::Comment => return None,
                _ => break,
            }
        }
        Some(())
    }

    /// Consumes the end of an item's line: a newline, or a comment (which holds its newline,
    /// unless it ends the text).
    fn end_of_line(&mut self) -> bool {
        match self.peek() {
            Some(t) if t.kind == Kind::Newline || Self::is_line_comment(t) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    fn structure(&mut self, keys: &mut Vec<&'s str>) -> Option<Structure> {
        let ident = self.ident_range()?;
        self.pos += 1;
        if self.kind(0) == Some(Kind::Equal) {
            let key = &self.text[ident.clone()];
            if keys.contains(&key) {
                return None;
            }
            keys.push(key);
            self.pos += 1;
            self.operators = 0;
            let value = self.expr(false)?;
            return Some(Structure::Attribute { key: ident, value });
        }
        let mut labels = Vec::new();
        loop {
            match self.kind(0)? {
                Kind::Ident => {
                    labels.push(Str {
                        raw: self.ident_range()?,
                        escaped: false,
                    });
                    self.pos += 1;
                }
                Kind::OQuote => match self.quoted()? {
                    Quoted::Str(s) => labels.push(s),
                    Quoted::Template(_) => return None,
                },
                Kind::OBrace => break,
                _ => return None,
            }
        }
        self.pos += 1;
        self.enter()?;
        let body = match self.kind(0) {
            Some(Kind::CBrace) => Vec::new(),
            _ if self.end_of_line() => self.body()?,
            _ => return None,
        };
        self.depth -= 1;
        if self.kind(0) != Some(Kind::CBrace) {
            return None;
        }
        self.pos += 1;
        Some(Structure::Block {
            ident,
            labels,
            body,
        })
    }

    /// The items of a block body up to its `}` (not consumed).
    fn body(&mut self) -> Option<Vec<Structure>> {
        let mut items = Vec::new();
        let mut keys = Vec::new();
        loop {
            self.skip_trivia()?;
            match self.kind(0)? {
                Kind::CBrace => return Some(items),
                Kind::Ident => {
                    items.push(self.structure(&mut keys)?);
                    if !self.end_of_line() {
                        return None;
                    }
                }
                _ => return None,
            }
        }
    }

    fn skip_newlines(&mut self) {
        while self.kind(0) == Some(Kind::Newline) {
            self.pos += 1;
        }
    }

    /// One expression; `multiline` when newlines around it are whitespace (inside brackets).
    fn expr(&mut self, multiline: bool) -> Option<Expr> {
        if multiline {
            self.skip_newlines();
        }
        self.enter()?;
        let start = self.pos;
        let escapes = self.escapes;
        let mut expr = self.term()?;
        if self.kind(0).is_some_and(is_binary_operator) {
            // The operation's value is its source text, so its operands are verbatim.
            if self.escapes != escapes {
                return None;
            }
            self.verbatim += 1;
            while self.kind(0).is_some_and(is_binary_operator) {
                // hcl-edit bounds the operators of an expression tree (128).
                self.operators += 1;
                if self.operators > 32 {
                    return None;
                }
                // An operand on the next line is declined: hcl-edit does not keep that line
                // break when it writes the operation out.
                self.pos += 1;
                self.term()?;
            }
            self.verbatim -= 1;
            expr = Expr::Other(self.span(start));
        }
        self.depth -= 1;
        if multiline {
            self.skip_newlines();
        }
        Some(expr)
    }

    /// An operand: a literal, a variable with its traversal, a call, an array or an object.
    fn term(&mut self) -> Option<Expr> {
        let start = self.pos;
        let t = self.peek()?;
        let expr = match t.kind {
            Kind::Ident => {
                let literal = match t.text.as_ref() {
                    "null" => Some(Expr::Null),
                    "true" => Some(Expr::Bool(true)),
                    "false" => Some(Expr::Bool(false)),
                    _ => None,
                };
                let root = self.ident_range()?;
                self.pos += 1;
                match (literal, self.kind(0)) {
                    (Some(l), _) => l,
                    (None, Some(Kind::OParen)) => {
                        self.adjacent()?;
                        self.call_args()?;
                        Expr::Other(self.span(start))
                    }
                    (None, Some(Kind::DoubleColon)) => return None,
                    (None, _) => {
                        self.traversal(root)?;
                        Expr::Other(self.span(start))
                    }
                }
            }
            Kind::Number => {
                let digits = t.text.as_ref();
                if !digits.bytes().all(|b| b.is_ascii_digit())
                    || (digits.len() > 1 && digits.starts_with('0'))
                {
                    return None;
                }
                let n = digits.parse().ok()?;
                self.pos += 1;
                Expr::Int(n)
            }
            Kind::OQuote => match self.quoted()? {
                Quoted::Str(s) => Expr::Str(s),
                Quoted::Template(r) => Expr::Template(r),
            },
            Kind::OBrack => self.array()?,
            Kind::OBrace => self.object()?,
            _ => return None,
        };
        // Only a variable takes traversal operators here.
        if matches!(self.kind(0), Some(Kind::Dot | Kind::OBrack)) {
            return None;
        }
        Some(expr)
    }

    /// The next token starts right where the last one ended: hcl-edit does not keep the space
    /// between the parts of a traversal when it writes it out.
    fn adjacent(&self) -> Option<()> {
        (self.range(self.pos - 1).end == self.range(self.pos).start).then_some(())
    }

    /// The text from the token at `start` to the last one consumed.
    fn span(&self, start: usize) -> Range<usize> {
        self.range(start).start..self.range(self.pos - 1).end
    }

    /// `.name` and `[expr]` operators after a variable (at `root`), recorded when present.
    fn traversal(&mut self, root: Range<usize>) -> Option<()> {
        let mut attrs = [None, None];
        let mut n = 0;
        loop {
            match self.kind(0) {
                Some(Kind::Dot) => {
                    self.adjacent()?;
                    self.pos += 1;
                    let name = self.ident_range()?;
                    self.adjacent()?;
                    self.pos += 1;
                    if n < 2 {
                        attrs[n] = Some(name);
                    }
                }
                Some(Kind::OBrack) => {
                    if self.kind(1) == Some(Kind::Star) {
                        return None;
                    }
                    self.adjacent()?;
                    self.pos += 1;
                    // The index's own traversals come before this one; order does not matter.
                    self.verbatim += 1;
                    self.expr(true)?;
                    self.verbatim -= 1;
                    if self.kind(0) != Some(Kind::CBrack) {
                        return None;
                    }
                    self.pos += 1;
                }
                _ => break,
            }
            n += 1;
        }
        if n > 0 {
            self.traversals.push(Traversal { root, attrs });
        }
        Some(())
    }

    /// `(args)` of a function call, at the `(`.
    fn call_args(&mut self) -> Option<()> {
        self.pos += 1;
        self.skip_newlines();
        if self.kind(0) == Some(Kind::CParen) {
            self.pos += 1;
            return Some(());
        }
        self.verbatim += 1;
        loop {
            self.expr(true)?;
            match self.kind(0)? {
                Kind::Comma => {
                    self.pos += 1;
                    self.skip_newlines();
                    if self.kind(0) == Some(Kind::CParen) {
                        break;
                    }
                }
                Kind::CParen => break,
                _ => return None,
            }
        }
        self.pos += 1;
        self.verbatim -= 1;
        Some(())
    }

    fn array(&mut self) -> Option<Expr> {
        self.pos += 1;
        self.skip_newlines();
        let mut items = Vec::new();
        if self.kind(0) == Some(Kind::CBrack) {
            self.pos += 1;
            return Some(Expr::Array(items));
        }
        if self.peek()?.text == "for" {
            return None;
        }
        loop {
            items.push(self.expr(true)?);
            match self.kind(0)? {
                Kind::Comma => {
                    self.pos += 1;
                    self.skip_newlines();
                    if self.kind(0) == Some(Kind::CBrack) {
                        self.pos += 1;
                        return Some(Expr::Array(items));
                    }
                }
                Kind::CBrack => {
                    self.pos += 1;
                    return Some(Expr::Array(items));
                }
                _ => return None,
            }
        }
    }

    fn object(&mut self) -> Option<Expr> {
        self.pos += 1;
        let mut items: Vec<(Key, Expr)> = Vec::new();
        let mut names: Vec<Cow<'_, str>> = Vec::new();
        loop {
            self.skip_newlines();
            let key = match self.kind(0)? {
                Kind::CBrace => {
                    self.pos += 1;
                    return Some(Expr::Object(items));
                }
                Kind::Ident => {
                    let r = self.ident_range()?;
                    if matches!(&self.text[r.clone()], "null" | "true" | "false" | "for") {
                        return None;
                    }
                    self.pos += 1;
                    Key::Ident(r)
                }
                Kind::OQuote => match self.quoted()? {
                    Quoted::Str(s) => Key::Str(s),
                    Quoted::Template(_) => return None,
                },
                _ => return None,
            };
            if self.kind(0) != Some(Kind::Equal) {
                return None;
            }
            self.pos += 1;
            // hcl-edit rejects a key given twice (however it is written).
            let name = match &key {
                Key::Ident(r) => Cow::Borrowed(&self.text[r.clone()]),
                Key::Str(s) => s.value(self.text),
            };
            if names.contains(&name) {
                return None;
            }
            names.push(name);
            let value = self.expr(false)?;
            items.push((key, value));
            match self.kind(0)? {
                Kind::CBrace => {
                    self.pos += 1;
                    return Some(Expr::Object(items));
                }
                Kind::Newline | Kind::Comma => self.pos += 1,
                _ => return None,
            }
        }
    }

    /// A quoted string at its `"`.
    fn quoted(&mut self) -> Option<Quoted> {
        let open = self.pos;
        self.pos += 1;
        let mut template = false;
        let mut escaped = false;
        loop {
            let t = self.peek()?;
            match t.kind {
                Kind::CQuote => break,
                Kind::QuotedLit => {
                    let lit = t.text.as_ref();
                    // One pass over the bytes finds what needs a closer look: controls (C1
                    // controls are encoded as 0xC2 0x80..0x9F) and escapes.
                    let (mut special, mut maybe_control) = (false, false);
                    for b in lit.bytes() {
                        special |= matches!(b, b'\\' | b'$' | b'%');
                        maybe_control |= b < 0x20 || b == 0x7f || b == 0xc2;
                    }
                    if maybe_control && lit.chars().any(|c| c.is_control()) {
                        return None;
                    }
                    if special {
                        unescape_literal(lit)?;
                        escaped |= lit.contains('\\') || lit.contains("$${") || lit.contains("%%{");
                    }
                    self.pos += 1;
                }
                Kind::TemplateInterp if t.text == "${" => {
                    template = true;
                    self.pos += 1;
                    self.verbatim += 1;
                    self.expr(false)?;
                    self.verbatim -= 1;
                    let end = self.peek()?;
                    if end.kind != Kind::TemplateSeqEnd || end.text != "}" {
                        return None;
                    }
                    self.pos += 1;
                }
                _ => return None,
            }
        }
        let inner = self.range(open).end..self.range(self.pos).start;
        self.pos += 1;
        self.escapes += usize::from(escaped);
        if template || self.verbatim > 0 {
            // hcl-edit re-escapes a template's text when it writes it out: keep to text that
            // reads back as itself.
            if escaped {
                return None;
            }
        }
        if template {
            return Some(Quoted::Template(inner));
        }
        Some(Quoted::Str(Str {
            raw: inner,
            escaped,
        }))
    }
}

enum Quoted {
    Str(Str),
    Template(Range<usize>),
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::emit::terraform::deps;
    use crate::hcl::{lex_checked, Parse};
    use crate::policy::rendered::{expr_to_json, fast_expr_to_json};
    use crate::test_rng::Rng;
    use serde_json::{json, Value};

    /// What trestle can read from a body, parser-independent: every item with its key or
    /// type and labels and its value as policies see it.
    fn edit_items(body: &hcl_edit::structure::Body) -> Value {
        Value::Array(
            body.iter()
                .map(|s| match s {
                    hcl_edit::structure::Structure::Attribute(a) => {
                        json!({"attr": a.key.as_str(), "value": expr_to_json(&a.value)})
                    }
                    hcl_edit::structure::Structure::Block(b) => json!({
                        "block": b.ident.as_str(),
                        "labels": b.labels.iter().map(|l| l.as_str()).collect::<Vec<_>>(),
                        "body": edit_items(&b.body),
                    }),
                })
                .collect(),
        )
    }

    fn fast_items(text: &str, body: &[Structure]) -> Value {
        Value::Array(
            body.iter()
                .map(|s| match s {
                    Structure::Attribute { key, value } => {
                        json!({"attr": &text[key.clone()], "value": fast_expr_to_json(text, value)})
                    }
                    Structure::Block {
                        ident,
                        labels,
                        body,
                    } => json!({
                        "block": &text[ident.clone()],
                        "labels": labels.iter().map(|l| l.value(text)).collect::<Vec<_>>(),
                        "body": fast_items(text, body),
                    }),
                })
                .collect(),
        )
    }

    /// What trestle reads from a parse of `text`, whichever parser made it.
    pub(crate) fn read(text: &str, parse: &Parse) -> (Value, deps::Analysis) {
        match parse {
            Parse::Edit(b) => (edit_items(b), deps::analyse_body(b)),
            Parse::Fast(b) => (fast_items(text, &b.items), deps::analyse_parse(text, parse)),
        }
    }

    /// The fast reader's verdict on `text`: `None` when it declines. When it reads it,
    /// hcl-edit must accept it too. Whatever trestle reads is canonical text (what `format`
    /// returns), so the canonical form of `text` must read the same with both parsers.
    fn check(text: &str) -> Option<Body> {
        let lexed = lex_checked(text);
        if lexed.error.is_some() {
            return None;
        }
        let fast = parse(text, &lexed.toks);
        if fast.is_some() {
            if let Err(e) = hcl_edit::parser::parse_body(text) {
                panic!("fast reader accepted what hcl-edit rejects ({e}):\n{text}");
            }
        }
        if let Ok(canonical) = crate::hcl::format(text) {
            same(&canonical);
        }
        fast
    }

    /// When the fast reader reads `text`, hcl-edit reads it the same way.
    fn same(text: &str) {
        let lexed = lex_checked(text);
        let Some(fast) = parse(text, &lexed.toks) else {
            return;
        };
        let edit = match hcl_edit::parser::parse_body(text) {
            Ok(b) => b,
            Err(e) => panic!("fast reader accepted what hcl-edit rejects ({e}):\n{text}"),
        };
        assert_eq!(
            fast_items(text, &fast.items),
            edit_items(&edit),
            "read differently:\n{text}"
        );
        assert_eq!(
            deps::analyse_parse(text, &Parse::Fast(fast)),
            deps::analyse_body(&edit),
            "references differ:\n{text}"
        );
    }

    fn test_suite_tf() -> Vec<String> {
        fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
            entries.sort();
            for p in entries {
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|e| e == "tf") {
                    out.push(std::fs::read_to_string(&p).unwrap());
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut out = Vec::new();
        for dir in ["golden", "fixtures", "tests", "examples"] {
            walk(&root.join(dir), &mut out);
        }
        out
    }

    const CASES: &[&str] = &[
        "",
        "# only a comment",
        "a = 1\n",
        "a = 1",
        "a = 1 # trailing\nb = \"x\" // also\n",
        "a = 1\n\n\n# c\n\nb = true\nc = false\nd = null\n",
        "a = 0\nb = 9223372036854775807\nc = 9223372036854775808\nd = 007\ne = 1.5\nf = 1e3\n",
        "a = -1\nb = !true\nc = 1 + 2\nd = x ? 1 : 2\ne = (1)\n",
        "a = 7 * 86400\nb = x.y + 1 - f(2) / 3 % 4\nc = a == b && c != d || e < f\nd = [1 +\n 2]\ne = [1\n + 2]\nf = \"\\n\" == x\ng = x == \"\\n\"\nh = 1 - -1\n",
        "a = \"\"\nb = \"x\\ny\\t\\\"\\\\ \\u00e9 \\U0001F600\"\nc = \"$${x} %%{y} $$ %% $ %\"\n",
        "a = \"\\q\"\n",
        "a = \"\\u00\"\n",
        "a = \"${var.x}-y\"\nb = \"${data.t.n.id}\"\nc = \"${f(1, \"${g}\")}\"\n",
        "a = \"${ var.x }\"\nb = \"${~x}\"\nc = \"%{if x}y%{endif}\"\nd = \"${x}\\n\"\n",
        "a = x\nb = x.y\nc = x.y.z\nd = x[0].y\ne = x.y[\"k\"].z\nf = x[y.z]\ng = x.0\nh = x.*.y\ni = x[*]\n",
        "a = data.t.n.id\nb = module.m.out\nc = var.v\nd = local.l\ne = each.key\nf = self.x\ng = data.t\nh = module\n",
        "a = f()\nb = f(1)\nc = f(1,)\nd = f(\n  1,\n  2\n)\ne = f(x...)\nf = p::a::f(1)\ng = f(1).x\n",
        "a = []\nb = [1, 2]\nc = [\n  1,\n  2,\n]\nd = [for x in y : x]\ne = [1,,2]\nf = [,]\n",
        "a = {}\nb = { x = 1 }\nc = {\n  x = 1\n  \"y.z\" = 2\n}\nd = { x = 1, y = 2 }\ne = { x: 1 }\nf = { for k, v in m : k => v }\n",
        "a = { x = 1, x = 2 }\nb = { x = 1, \"x\" = 2 }\nc = { \"x\" = 1, \"\\u0078\" = 2 }\n",
        "a = { true = 1 }\nb = { (k) = 1 }\nc = { x.y = 1 }\nd = { x = 1 # c\n}\n",
        "a = 1\na = 2\n",
        "b {}\nb \"l\" {}\nb l m {}\nb \"l\\n\" {\n}\nb {\n  a = 1\n}\nb { a = 1 }\n",
        "resource \"t\" \"n\" {\n  a = t2.m.id\n  depends_on = [t3.o]\n  inner {\n    b = t4.p.q\n  }\n}\n",
        "data \"t\" \"n\" {\n  x = resource_t.r.id\n}\nmodule \"m\" {\n  source = \"./m\"\n  v = data.t.n.id\n}\n",
        "resource \"t\" \"n\" {\n  a = t.n.id\n}\nresource \"t\" \"m\" { # c\n  a = t.n.id # c\n  // c\n}\n",
        "b \"${x}\" {}\nb \"a\" \"\" {}\n",
        "b {\n  a = 1 }\n",
        "b {\n  a = 1\n}c = 2\n",
        "b {\n  a = 1\n",
        "a = <<EOT\nx\nEOT\n",
        "a = /* c */ 1\n/* c */\nb = 1\n",
        "a = [\n  # c\n  1,\n]\n",
        "a = x\n  .y\n",
        "a = [x *\n[0]]\nb = [x\n* 1]\nc = f(1 +\n  2)\n",
        "a = f(\n  x\n  .y\n)\n",
        "a = [x\n  [0]]\n",
        "\u{e9} = 1\n",
        "a = \u{e9}\n",
        "a = 1 b = 2\n",
        "a = \"x\"y\n",
        "a = 1\r\nb = 2\r\n",
        "a = \"tab\there\"\n",
        "a = f(\"\\u0041\\n\")\nb = x[\"\\u0041\"]\nc = \"${f(\"\\n\")}\"\nd = [\"\\u0041\"]\n",
        "locals {\n  x = jsonencode({\n    A = \"a\"\n    B = [\n      { C = \"${x.y}:c\" },\n    ]\n  })\n}\n",
    ];

    #[test]
    fn test_suite_and_hand_written_cases_read_the_same() {
        let files = test_suite_tf();
        assert!(files.len() > 20, "{} .tf files", files.len());
        let mut fast = 0;
        for text in &files {
            let read = check(text).is_some();
            if !read {
                eprintln!("declined:\n{text}");
            }
            fast += usize::from(read);
        }
        // Every file trestle wrote is in the subset, or there is no speed-up.
        assert_eq!(fast, files.len());
        for text in CASES {
            check(text);
        }
        for text in [
            "",
            "a = 1\n",
            "a = 1 # trailing\nb = \"x\" // also\n",
            "a = \"\"\nb = \"x\\ny\\t\\\"\\\\ \\u00e9 \\U0001F600\"\nc = \"$${x} %%{y} $$ %% $ %\"\n",
            "a = \"${var.x}-y\"\nb = \"${data.t.n.id}\"\nc = \"${f(1, \"${g}\")}\"\n",
            "resource \"t\" \"n\" {\n  a = t2.m.id\n  depends_on = [t3.o]\n  inner {\n    b = t4.p.q\n  }\n}\n",
            "locals {\n  x = jsonencode({\n    A = \"a\"\n    B = [\n      { C = \"${x.y}:c\" },\n    ]\n  })\n}\n",
        ] {
            assert!(check(text).is_some(), "{text:?} left to hcl-edit");
        }
        for text in [
            "a = \"\\q\"\n",
            "a = 1\na = 2\n",
            "a = { x = 1, \"x\" = 2 }\n",
            "b {\n  a = 1 }\n",
            "a = 1 b = 2\n",
            "a = x.*.y\n",
            "a = -1\n",
        ] {
            assert!(check(text).is_none(), "{text:?} read by the fast path");
        }
    }

    /// Small edits at random places of real and hand-written inputs: the fast path must
    /// decline or agree with hcl-edit. `HCL_MUTANTS=n` and `HCL_SEED=n` run other mutants.
    #[test]
    fn mutations_are_declined_or_read_the_same() {
        const PIECES: &[&str] = &[
            " ", "\n", "=", "{", "}", "[", "]", "(", ")", ",", ".", "\"", "${", "}", "$${", "%{",
            "\\", "\\n", "#", "//", "/*", "*/", "0", "-1", "1.5", "true", "null", "x", "x.y",
            "data", "module", "for ", "\t", "\r", "\u{e9}", "~", "?", ":", "+", "<<EOT\n",
            "a = 1\n", "b {\n", "...", "*",
        ];
        let mut inputs: Vec<String> = CASES.iter().map(|s| s.to_string()).collect();
        inputs.extend(
            test_suite_tf()
                .into_iter()
                .filter(|s| s.len() < 3000)
                .take(16),
        );
        let mut rng = Rng(std::env::var("HCL_SEED")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0x2545_F491_4F6C_DD1D));
        let n = std::env::var("HCL_MUTANTS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(20_000);
        rng.mutants_take_both_paths(&inputs, PIECES, n, |s| check(s).is_some());
    }
}
