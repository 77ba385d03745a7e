//! HCL for Terraform: a small document model, a writer whose output `terraform fmt` leaves
//! unchanged, string escaping that keeps spec values from interpolating, and a re-formatter for
//! HCL rendered by provisioner templates.
//!
//! The layout rules are HashiCorp's: those of hclwrite's `Format` (indentation by bracket
//! nesting, token spacing, `=` and trailing-comment alignment in runs of lines) plus the rewrites
//! `terraform fmt` adds on top (interpolation-only strings unwrapped, block labels quoted, legacy
//! variable types modernised). They are re-implemented here over our own lexer because hcl-rs
//! and hcl-edit do not align `=` the way `terraform fmt` does. The writer renders a [`Body`] to
//! plain text and sends it through the same layout pass as [`format()`], so the two cannot
//! disagree; `.ci/hclcheck.js` checks the results with HashiCorp's own formatter and parser.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use unicode_segmentation::UnicodeSegmentation;

pub mod fast;

// ---------------------------------------------------------------------------------------------
// Document model
// ---------------------------------------------------------------------------------------------

/// A sequence of attributes, blocks, blank lines and comments: a file, or the inside of a block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Body(pub Vec<Structure>);

/// One item of a [`Body`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Structure {
    /// `key = value`.
    Attribute(Attribute),
    /// `ident "label" ... { body }`.
    Block(Block),
    /// An explicit blank line; runs collapse to one, and one at the start or end of a body is dropped.
    Blank,
    /// A `# ...` comment: the text without the `# ` prefix; each of its lines becomes one comment line.
    Comment(String),
}

/// `key = value`; the key must be an HCL identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// The attribute name, e.g. `instance_class`.
    pub key: String,
    /// The value.
    pub value: Expr,
}

/// `ident "label" ... { body }`; labels are always written quoted and escaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The block type, e.g. `resource`.
    pub ident: String,
    /// The labels, unescaped, e.g. `["aws_db_instance", "orders"]`.
    pub labels: Vec<String>,
    /// The contents.
    pub body: Body,
}

/// An attribute value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// A literal string, escaped on output so that it can never interpolate.
    Str(String),
    /// The contents of a quoted template, already escaped, e.g. `${var.x}-a` (written as `"${var.x}-a"`).
    Template(String),
    /// A raw expression written as is, e.g. `aws_db_instance.x.address` or `jsonencode({ a = 1 })`.
    Raw(String),
    /// A number.
    Int(i64),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// A tuple: on one line when every element fits on one line, else one element per line.
    List(Vec<Expr>),
    /// An object, one `key = value` per line; keys that are not identifiers are quoted.
    Object(Vec<(String, Expr)>),
}

impl Body {
    /// An empty body.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `key = value`.
    pub fn attr(&mut self, key: impl Into<String>, value: Expr) -> &mut Self {
        self.0
            .push(Structure::Attribute(Attribute::new(key, value)));
        self
    }

    /// Appends a block.
    pub fn block(&mut self, block: Block) -> &mut Self {
        self.0.push(Structure::Block(block));
        self
    }

    /// Appends a `# ...` comment.
    pub fn comment(&mut self, text: impl Into<String>) -> &mut Self {
        self.0.push(Structure::Comment(text.into()));
        self
    }

    /// Appends an explicit blank line.
    pub fn blank(&mut self) -> &mut Self {
        self.0.push(Structure::Blank);
        self
    }

    /// Whether the body has no items at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Attribute {
    /// `key = value`.
    pub fn new(key: impl Into<String>, value: Expr) -> Self {
        Self {
            key: key.into(),
            value,
        }
    }
}

impl Block {
    /// A block with an empty body.
    pub fn new<L: Into<String>>(
        ident: impl Into<String>,
        labels: impl IntoIterator<Item = L>,
    ) -> Self {
        Self {
            ident: ident.into(),
            labels: labels.into_iter().map(Into::into).collect(),
            body: Body::new(),
        }
    }

    /// The same block with `body` as its contents.
    pub fn with_body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }
}

impl Expr {
    /// A literal string.
    pub fn str(s: impl Into<String>) -> Self {
        Expr::Str(s.into())
    }

    /// A raw expression.
    pub fn raw(s: impl Into<String>) -> Self {
        Expr::Raw(s.into())
    }

    /// A quoted template whose contents are already escaped.
    pub fn template(s: impl Into<String>) -> Self {
        Expr::Template(s.into())
    }
}

// ---------------------------------------------------------------------------------------------
// Escaping
// ---------------------------------------------------------------------------------------------

/// The contents of an HCL quoted string holding exactly `s`: no spec value can interpolate.
///
/// Escapes `\\`, `\"`, `\n`, `\r`, `\t`, `${` as `$${` and `%{` as `%%{`; other non-printable
/// characters become `\uNNNN` (or `\UNNNNNNNN`), with lower-case hex as hclwrite writes them, so
/// that `terraform fmt`, which re-escapes block labels that way, leaves our labels alone.
pub fn escape_string(s: &str) -> String {
    escape(s, false)
}

/// A block label as a complete string literal: like [`quote`], but `$` and `%` are written
/// `\u0024` and `\u0025`.
///
/// `terraform fmt` (1.11) silently drops a quoted label holding a raw `$` or `%` when it
/// re-renders labels; the escaped form keeps its value through fmt, which rewrites it to the
/// raw character, so such a label (best avoided) is never canonical but is never lost either.
pub fn quote_label(s: &str) -> String {
    format!("\"{}\"", escape(s, true))
}

fn escape(s: &str, label: bool) -> String {
    // Most values are printable ASCII needing no escape at all.
    if s.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && !matches!(b, b'\\' | b'"' | b'$' | b'%'))
    {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' if label => out.push_str("\\u0024"),
            '%' if label => out.push_str("\\u0025"),
            '$' | '%' => {
                out.push(c);
                // Doubling the introducer is HCL's escape for a literal `${` / `%{`.
                if chars.peek() == Some(&'{') {
                    out.push(c);
                }
            }
            c if !is_printable(c) => {
                let code = u32::from(c);
                if code < 0x1_0000 {
                    out.push_str(&format!("\\u{code:04x}"));
                } else {
                    out.push_str(&format!("\\U{code:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// A complete HCL string literal for `s`: `"` + [`escape_string`] + `"`.
pub fn quote(s: &str) -> String {
    format!("\"{}\"", escape_string(s))
}

/// Whether `s` can be written bare as an object key: an ASCII identifier that is not a keyword.
///
/// HCL allows Unicode identifiers, but ASCII is what every Terraform provider uses, and quoting
/// anything else is always correct. `true`, `false` and `null` would be read as values and `for`
/// would start a `for` expression, so they are quoted too.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !matches!(s, "true" | "false" | "null" | "for")
}

/// Go's `unicode.IsPrint`, which decides what hclwrite escapes, for the characters that matter.
///
/// Without Unicode tables we treat unassigned code points as printable; Go escapes them. That can
/// only matter for a block label holding one, which `terraform fmt` would then re-escape.
fn is_printable(c: char) -> bool {
    // In ASCII only the C0 controls and DEL are not printable (every range below is above it).
    if c.is_ascii() {
        return !c.is_ascii_control();
    }
    let u = u32::from(c);
    !(c.is_control()
        // Space separators other than U+0020, line and paragraph separators.
        || u == 0x00A0
        || u == 0x1680
        || (0x2000..=0x200A).contains(&u)
        || u == 0x2028
        || u == 0x2029
        || u == 0x202F
        || u == 0x205F
        || u == 0x3000
        // Format characters: soft hyphen, zero-width and bidi controls, BOM, tags, ...
        || u == 0x00AD
        || (0x0600..=0x0605).contains(&u)
        || u == 0x061C
        || u == 0x06DD
        || u == 0x070F
        || (0x0890..=0x0891).contains(&u)
        || u == 0x08E2
        || u == 0x180E
        || (0x200B..=0x200F).contains(&u)
        || (0x202A..=0x202E).contains(&u)
        || (0x2060..=0x2064).contains(&u)
        || (0x2066..=0x206F).contains(&u)
        || u == 0xFEFF
        || (0xFFF9..=0xFFFB).contains(&u)
        || u == 0x110BD
        || u == 0x110CD
        || (0x13430..=0x1343F).contains(&u)
        || (0x1BCA0..=0x1BCA3).contains(&u)
        || (0x1D173..=0x1D17A).contains(&u)
        || u == 0xE0001
        || (0xE0020..=0xE007F).contains(&u)
        // Private use areas.
        || (0xE000..=0xF8FF).contains(&u)
        || (0xF_0000..=0xF_FFFD).contains(&u)
        || (0x10_0000..=0x10_FFFD).contains(&u)
        // Noncharacters.
        || (0xFDD0..=0xFDEF).contains(&u)
        || (u & 0xFFFE) == 0xFFFE)
}

/// The value of the contents of a quoted string literal (the inverse of [`escape_string`]).
///
/// Returns `None` for an invalid escape, so that such a label is left exactly as written.
fn unescape_literal(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                '"' => out.push('"'),
                '\\' => out.push('\\'),
                'u' => out.push(hex_char(&mut chars, 4)?),
                'U' => out.push(hex_char(&mut chars, 8)?),
                _ => return None,
            },
            '$' | '%' => {
                let mut ahead = chars.clone();
                if ahead.next() == Some(c) && ahead.next() == Some('{') {
                    chars.next();
                }
                out.push(c);
            }
            c => out.push(c),
        }
    }
    Some(out)
}

fn hex_char(chars: &mut impl Iterator<Item = char>, digits: usize) -> Option<char> {
    let mut code = 0u32;
    for _ in 0..digits {
        code = code * 16 + chars.next()?.to_digit(16)?;
    }
    char::from_u32(code)
}

// ---------------------------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------------------------

/// The canonical text of `body`: what `terraform fmt` leaves unchanged, ending with exactly one
/// newline (an empty body gives an empty string).
pub fn to_string(body: &Body) -> String {
    let mut text = String::new();
    write_body(&mut text, body, 0);
    canonical(&text)
}

/// The canonical text of one expression as an attribute value, without a trailing newline.
///
/// Multi-line values are indented as at the top level; [`format()`] re-indents them wherever a
/// template puts them.
pub fn expr_to_string(expr: &Expr) -> String {
    let mut text = String::from("x = ");
    write_expr(&mut text, expr, 0);
    text.push('\n');
    let out = canonical(&text);
    let out = out.strip_prefix("x = ").unwrap_or(&out);
    out.strip_suffix('\n').unwrap_or(out).to_string()
}

/// Lays out text we generated ourselves; it is valid HCL unless a `Raw` or `Template` is not.
fn canonical(text: &str) -> String {
    layout(rewrite(lex_checked(text).toks))
}

/// What an item is, for deciding where blank lines go; a comment goes with what follows it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Anchor {
    Attribute,
    Block,
    Free,
}

fn anchor(items: &[Structure], i: usize) -> Anchor {
    for item in &items[i..] {
        match item {
            Structure::Attribute(_) => return Anchor::Attribute,
            Structure::Block(_) => return Anchor::Block,
            Structure::Comment(_) => continue,
            Structure::Blank => return Anchor::Free,
        }
    }
    Anchor::Free
}

/// Writes items with single spaces and plain indentation; alignment is left to [`layout`].
fn write_body(out: &mut String, body: &Body, level: usize) {
    let items = &body.0;
    let mut prev: Option<usize> = None;
    let mut blank_requested = false;
    for (i, item) in items.iter().enumerate() {
        if matches!(item, Structure::Blank) {
            blank_requested = prev.is_some();
            continue;
        }
        if let Some(p) = prev {
            // A comment directly above an item documents it, so nothing separates the two; a
            // block is set apart from its neighbours, as in hand-written Terraform.
            let documents_this = matches!(items[p], Structure::Comment(_));
            if blank_requested
                || (!documents_this
                    && (anchor(items, i) == Anchor::Block || anchor(items, p) == Anchor::Block))
            {
                out.push('\n');
            }
        }
        blank_requested = false;
        write_item(out, item, level);
        prev = Some(i);
    }
}

fn indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str("  ");
    }
}

fn write_item(out: &mut String, item: &Structure, level: usize) {
    match item {
        Structure::Attribute(attr) => {
            indent(out, level);
            out.push_str(&attr.key);
            out.push_str(" = ");
            write_expr(out, &attr.value, level);
            out.push('\n');
        }
        Structure::Block(block) => {
            indent(out, level);
            out.push_str(&block.ident);
            for label in &block.labels {
                out.push(' ');
                out.push_str(&quote_label(label));
            }
            out.push_str(" {\n");
            write_body(out, &block.body, level + 1);
            indent(out, level);
            out.push_str("}\n");
        }
        Structure::Comment(text) => {
            let mut any = false;
            // A lone `\r` would end the line for some readers and not for others.
            for line in text.lines().flat_map(|l| l.split('\r')) {
                any = true;
                write_comment_line(out, line, level);
            }
            if !any {
                write_comment_line(out, "", level);
            }
        }
        Structure::Blank => {}
    }
}

fn write_comment_line(out: &mut String, line: &str, level: usize) {
    indent(out, level);
    let line = line.trim_end();
    if line.is_empty() {
        out.push_str("#\n");
    } else {
        out.push_str("# ");
        out.push_str(line);
        out.push('\n');
    }
}

/// Whether an expression is written on one line.
fn is_inline(expr: &Expr) -> bool {
    match expr {
        Expr::Str(_) | Expr::Template(_) | Expr::Int(_) | Expr::Bool(_) | Expr::Null => true,
        Expr::Raw(s) => !s.contains('\n'),
        Expr::List(items) => items.iter().all(is_inline),
        Expr::Object(entries) => entries.is_empty(),
    }
}

fn write_expr(out: &mut String, expr: &Expr, level: usize) {
    match expr {
        Expr::Str(s) => out.push_str(&quote(s)),
        Expr::Template(s) => {
            out.push('"');
            out.push_str(s);
            out.push('"');
        }
        Expr::Raw(s) => out.push_str(s),
        Expr::Int(n) => out.push_str(&n.to_string()),
        Expr::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Expr::Null => out.push_str("null"),
        Expr::List(items) if is_inline(expr) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_expr(out, item, level);
            }
            out.push(']');
        }
        Expr::List(items) => {
            // One element per line with a trailing comma, the shape fmt keeps for long tuples.
            out.push_str("[\n");
            for item in items {
                indent(out, level + 1);
                write_expr(out, item, level + 1);
                out.push_str(",\n");
            }
            indent(out, level);
            out.push(']');
        }
        Expr::Object(entries) if entries.is_empty() => out.push_str("{}"),
        Expr::Object(entries) => {
            out.push_str("{\n");
            for (key, value) in entries {
                indent(out, level + 1);
                if is_identifier(key) {
                    out.push_str(key);
                } else {
                    out.push_str(&quote(key));
                }
                out.push_str(" = ");
                write_expr(out, value, level + 1);
                out.push('\n');
            }
            indent(out, level);
            out.push('}');
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Re-formatting
// ---------------------------------------------------------------------------------------------

/// Why [`format()`] rejected its input, with a 1-based position in that input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError {
    /// What is wrong.
    pub message: String,
    /// The 1-based line.
    pub line: usize,
    /// The 1-based column, in characters.
    pub column: usize,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for FormatError {}

/// Parses HCL text (rendered by a template) and re-emits it canonically, keeping comments.
///
/// The result is what `terraform fmt` leaves unchanged (but see [`quote_label`] on labels holding
/// `$` or `%`). Beyond fmt's own rules, runs of blank lines collapse to one, blank lines right
/// inside brackets and at either end go, top-level blocks are separated by a blank line, blanks
/// after a heredoc's closing marker go, line endings become `\n`, and the text ends with exactly
/// one newline (empty input stays empty).
pub fn format(text: &str) -> Result<String, FormatError> {
    format_parsed(text).map(|f| f.text)
}

/// Canonical HCL text and its parse, so that whoever reads the formatted text (references,
/// policies) need not parse it again.
#[derive(Debug)]
pub struct Formatted {
    /// The canonical text.
    pub text: String,
    /// `text`, parsed.
    pub body: Parse,
}

/// A parse of some HCL text: by [`fast::parse`] when it accepts the text (its ranges point
/// into that text), else by hcl-edit. Both read the same (see [`fast`]).
#[derive(Debug)]
pub enum Parse {
    /// hcl-edit's parse.
    Edit(hcl_edit::structure::Body),
    /// The fast reader's parse.
    Fast(fast::Body),
}

/// Parses `text` (any HCL, not necessarily canonical), with hcl-edit's error when it is invalid.
pub fn parse_text(text: &str) -> Result<Parse, FormatError> {
    let lexed = lex_checked(text);
    match lexed.error {
        None => parse_lexed(text, &lexed.toks, ""),
        Some(_) => parse(text, "").map(Parse::Edit),
    }
}

/// The fast reader's parse of lexed text (lexed without error), else hcl-edit's.
fn parse_lexed(text: &str, toks: &[Tok<'_>], context: &str) -> Result<Parse, FormatError> {
    match fast::parse(text, toks) {
        Some(body) => {
            debug_assert!(
                hcl_edit::parser::parse_body(text).is_ok(),
                "the fast HCL reader accepted what hcl-edit rejects:\n{text}"
            );
            Ok(Parse::Fast(body))
        }
        None => parse(text, context).map(Parse::Edit),
    }
}

/// [`format()`], also handing back the parse of the result.
///
/// The input is parsed first (its errors point into the input); the result is parsed again
/// only when formatting changed it, since otherwise the two parses are of the same text.
pub fn format_parsed(text: &str) -> Result<Formatted, FormatError> {
    let text: Cow<'_, str> = if text.contains("\r\n") {
        Cow::Owned(text.replace("\r\n", "\n"))
    } else {
        Cow::Borrowed(text)
    };
    // HashiCorp's parser skips a byte-order mark; hcl-edit rejects it.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    // Our lexer pins down unterminated strings, heredocs and comments; hcl-edit reports some of
    // them at the very start of the input.
    let lexed = lex_checked(text);
    if let Some(err) = lexed.error {
        return Err(err);
    }
    let body = parse_lexed(text, &lexed.toks, "")?;
    let fast = matches!(body, Parse::Fast(_));
    let (out, spans) = layout_spans(rewrite(lexed.toks), fast.then_some(text));
    if out == text {
        return Ok(Formatted { text: out, body });
    }
    // Formatting changes only whitespace and what fmt rewrites; should a bug of ours break the
    // text anyway, say so rather than hand back HCL that Terraform would reject.
    let context = "after formatting (a bug in trestle's HCL formatter): ";
    if fast {
        // The fast reader's subset never puts two tokens together so that they would lex as
        // something else: the tokens just laid out are those of the result.
        let toks: Vec<Tok<'_>> = spans
            .iter()
            .map(|(kind, r)| Tok::new(*kind, &out[r.clone()]))
            .collect();
        debug_assert!(
            {
                let relexed = lex_checked(&out);
                relexed.error.is_none()
                    && relexed.toks.len() == toks.len()
                    && relexed
                        .toks
                        .iter()
                        .zip(&toks)
                        .all(|(a, b)| a.kind == b.kind && a.text == b.text)
            },
            "laid-out tokens differ from those of the result:\n{out}"
        );
        if let Some(body) = fast::parse(&out, &toks) {
            debug_assert!(hcl_edit::parser::parse_body(&out).is_ok(), "{out}");
            return Ok(Formatted {
                text: out,
                body: Parse::Fast(body),
            });
        }
    }
    let relexed = lex_checked(&out);
    let body = match relexed.error {
        None => parse_lexed(&out, &relexed.toks, context)?,
        Some(_) => Parse::Edit(parse(&out, context)?),
    };
    Ok(Formatted { text: out, body })
}

/// HCL that is canonical by construction (written by [`to_string`], or canonical pieces joined
/// as [`format()`] would join them), checked by parsing it once: [`format()`] would hand it back
/// unchanged (debug builds check that), so it is neither lexed nor laid out again. When it does
/// not parse, the error is exactly the one [`format()`] reports.
pub fn parse_canonical(text: String) -> Result<Formatted, FormatError> {
    // `format` rewrites line endings and drops a byte-order mark: such text takes the long way.
    if text.contains('\r') || text.starts_with('\u{feff}') {
        return format_parsed(&text);
    }
    match parse_text(&text) {
        Ok(body) => {
            debug_assert_eq!(
                format(&text).as_ref().ok(),
                Some(&text),
                "canonical HCL is a fixed point of `format`"
            );
            Ok(Formatted { text, body })
        }
        Err(_) => format_parsed(&text),
    }
}

fn parse(text: &str, context: &str) -> Result<hcl_edit::structure::Body, FormatError> {
    hcl_edit::parser::parse_body(text).map_err(|err| FormatError {
        message: format!("{context}{}", err.message()),
        line: err.location().line(),
        column: err.location().column(),
    })
}

// ---------------------------------------------------------------------------------------------
// Lexer: the token types of HashiCorp's hclsyntax scanner that formatting depends on
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Ident,
    Number,
    OQuote,
    CQuote,
    /// Literal text inside a quoted string, escapes included.
    QuotedLit,
    /// Literal text inside a heredoc, up to and including a newline.
    StringLit,
    /// `<<EOF` or `<<-EOF`, including the newline after it.
    OHeredoc,
    /// The closing marker of a heredoc, including any indentation before it.
    CHeredoc,
    /// `${` or `${~`.
    TemplateInterp,
    /// `%{` or `%{~`.
    TemplateControl,
    /// `}` or `~}` closing a template interpolation or directive.
    TemplateSeqEnd,
    OBrace,
    CBrace,
    OBrack,
    CBrack,
    OParen,
    CParen,
    Comma,
    Dot,
    Ellipsis,
    Colon,
    /// `::` in provider-defined function names (`provider::aws::arn_parse`).
    DoubleColon,
    Question,
    Equal,
    FatArrow,
    EqualOp,
    NotEqual,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    Bang,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    /// `# ...` and `// ...` (including their newline) and `/* ... */`.
    Comment,
    Newline,
    Invalid,
}

/// Where a token sits in the block structure, for the blank lines between top-level blocks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Mark {
    #[default]
    None,
    TopBlockStart,
    TopBlockEnd,
}

#[derive(Clone, Debug)]
struct Tok<'a> {
    kind: Kind,
    /// A slice of the lexed text, or text the rewrites made.
    text: Cow<'a, str>,
    /// Spaces written before the token; the layout pass decides every one of them.
    spaces: usize,
    mark: Mark,
}

impl<'a> Tok<'a> {
    fn new(kind: Kind, text: impl Into<Cow<'a, str>>) -> Self {
        Tok {
            kind,
            text: text.into(),
            spaces: 0,
            mark: Mark::None,
        }
    }

    /// A single-line comment consumes its newline and so ends a line, like a newline does.
    fn ends_line(&self) -> bool {
        self.kind == Kind::Newline || (self.kind == Kind::Comment && self.text.ends_with('\n'))
    }

    fn bracket_change(&self) -> i32 {
        match self.kind {
            Kind::OBrace
            | Kind::OBrack
            | Kind::OParen
            | Kind::TemplateControl
            | Kind::TemplateInterp => 1,
            Kind::CBrace | Kind::CBrack | Kind::CParen | Kind::TemplateSeqEnd => -1,
            _ => 0,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Expressions and structure.
    Code,
    /// Inside `{ ... }` in code: a `}` closes the brace.
    Brace,
    /// Inside `${ ... }` or `%{ ... }`: a `}` ends the template sequence.
    Interp,
    /// Inside `"..."`.
    Quoted,
    /// Inside a heredoc whose marker is `src[marker_start..marker_end]`, at the start of a line
    /// or not.
    Heredoc {
        marker_start: usize,
        marker_end: usize,
        line_start: bool,
    },
}

/// The lexer works on bytes: everything it looks for is ASCII, and a non-ASCII character
/// (which may only start or continue an identifier, or be an invalid token) is decoded where
/// it starts. Positions are byte offsets, always on character boundaries.
struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    toks: Vec<Tok<'a>>,
    modes: Vec<Mode>,
    /// Where (a byte offset) the innermost open heredoc started, for reporting it unterminated.
    heredoc_starts: Vec<usize>,
    error: Option<FormatError>,
}

const UNCLOSED_STRING: &str =
    "quoted string not closed on its line (write a newline as \\n, or use a heredoc)";

struct Lexed<'a> {
    toks: Vec<Tok<'a>>,
    /// The first unterminated string, heredoc or comment.
    error: Option<FormatError>,
}

/// Splits text into tokens. Invalid input still gives tokens (`Invalid` ones, as in hclsyntax),
/// so that the layout of our own output never depends on it being valid.
fn lex_checked(src: &str) -> Lexed<'_> {
    let mut lx = Lexer {
        src,
        bytes: src.as_bytes(),
        // Rendered Terraform has about one token per five bytes: one allocation, mostly.
        toks: Vec::with_capacity(src.len() / 4 + 16),
        pos: 0,
        modes: vec![Mode::Code],
        heredoc_starts: Vec::new(),
        error: None,
    };
    let len = src.len();
    while lx.pos < len {
        match lx.modes.last() {
            Some(Mode::Quoted) => lx.quoted(),
            Some(&Mode::Heredoc {
                marker_start,
                marker_end,
                line_start,
            }) => lx.heredoc(marker_start..marker_end, line_start),
            _ => lx.code(),
        }
    }
    if lx.modes.contains(&Mode::Quoted) {
        lx.fail(lx.pos, UNCLOSED_STRING);
    }
    if let Some(&at) = lx.heredoc_starts.last() {
        lx.fail(at, "heredoc has no closing marker");
    }
    Lexed {
        toks: lx.toks,
        error: lx.error,
    }
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_ident_continue(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// ASCII bytes that continue an identifier.
const IDENT_CONTINUE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 128 {
        t[b] = (b as u8).is_ascii_alphanumeric() || b == b'_' as usize || b == b'-' as usize;
        b += 1;
    }
    t
};

/// Bytes that may end a run of template literal text: `\n`, `"`, `\`, `$` and `%`.
const LITERAL_STOP: [bool; 256] = {
    let mut t = [false; 256];
    t[b'\n' as usize] = true;
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t[b'$' as usize] = true;
    t[b'%' as usize] = true;
    t
};

impl<'a> Lexer<'a> {
    /// Records the first error, at the byte offset `at`.
    fn fail(&mut self, at: usize, message: &str) {
        if self.error.is_some() {
            return;
        }
        // Lines and columns (in characters) are counted only here, on the way out.
        let before = &self.src[..at];
        let line = 1 + before.bytes().filter(|&b| b == b'\n').count();
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = 1 + before[line_start..].chars().count();
        self.error = Some(FormatError {
            message: message.to_string(),
            line,
            column,
        });
    }

    #[inline]
    fn at(&self, k: usize) -> Option<u8> {
        self.bytes.get(self.pos + k).copied()
    }

    /// The character starting at offset `k`.
    fn char_at(&self, k: usize) -> Option<char> {
        self.src.get(self.pos + k..).and_then(|s| s.chars().next())
    }

    fn advance(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.bytes.len());
    }

    /// A token of (at least one, and whole) characters from the current position to offset `n`.
    #[inline]
    fn take(&mut self, n: usize, kind: Kind) {
        let start = self.pos;
        let mut end = (start + n.max(1)).min(self.bytes.len());
        while !self.src.is_char_boundary(end) {
            end += 1;
        }
        self.pos = end;
        self.toks.push(Tok::new(kind, &self.src[start..end]));
    }

    fn top(&self) -> Option<&Mode> {
        self.modes.last()
    }

    /// Offset past the run starting at offset `from` of spaces and tabs.
    fn blanks(&self, from: usize) -> usize {
        let mut n = from;
        while matches!(self.at(n), Some(b' ' | b'\t')) {
            n += 1;
        }
        n
    }

    /// Offset past the run starting at offset `from` of ASCII digits.
    fn digits(&self, from: usize) -> usize {
        let mut n = from;
        while self.at(n).is_some_and(|b| b.is_ascii_digit()) {
            n += 1;
        }
        n
    }

    /// Offset past the run starting at offset `from` of identifier characters.
    #[inline]
    fn ident_rest(&self, from: usize) -> usize {
        let bytes = &self.bytes[(self.pos + from).min(self.bytes.len())..];
        let mut n = 0;
        loop {
            while n < bytes.len() && IDENT_CONTINUE[usize::from(bytes[n])] {
                n += 1;
            }
            if bytes.get(n).is_some_and(|&b| b >= 0x80) {
                match self.char_at(from + n) {
                    Some(c) if is_ident_continue(c) => n += c.len_utf8(),
                    _ => return from + n,
                }
            } else {
                return from + n;
            }
        }
    }

    /// The length of an identifier at the current position, if one starts there.
    fn ident_len(&self) -> Option<usize> {
        match self.at(0)? {
            b if b.is_ascii_alphabetic() || b == b'_' => Some(self.ident_rest(1)),
            b if b >= 0x80 => {
                let c = self.char_at(0).filter(|&c| is_ident_start(c))?;
                Some(self.ident_rest(c.len_utf8()))
            }
            _ => None,
        }
    }

    fn code(&mut self) {
        let Some(c) = self.at(0) else {
            return;
        };
        let next = self.at(1);
        match c {
            b' ' | b'\t' => {
                let n = self.blanks(1);
                self.advance(n);
            }
            b'\n' => self.take(1, Kind::Newline),
            b'#' => self.line_comment(),
            b'/' if next == Some(b'/') => self.line_comment(),
            b'/' if next == Some(b'*') => {
                let rest = &self.bytes[self.pos + 2..];
                let n = match rest.windows(2).position(|w| w == b"*/") {
                    Some(i) => i + 2,
                    None => {
                        self.fail(self.pos, "`/*` comment has no closing `*/`");
                        rest.len() + 2
                    }
                };
                self.take(n + 2, Kind::Comment);
            }
            b'"' => {
                self.take(1, Kind::OQuote);
                self.modes.push(Mode::Quoted);
            }
            b'<' => {
                if let Some((n, marker)) = self.heredoc_opener() {
                    self.heredoc_starts.push(self.pos);
                    let (marker_start, marker_end) =
                        (self.pos + marker.start, self.pos + marker.end);
                    self.take(n, Kind::OHeredoc);
                    self.modes.push(Mode::Heredoc {
                        marker_start,
                        marker_end,
                        line_start: true,
                    });
                } else if next == Some(b'=') {
                    self.take(2, Kind::Le);
                } else {
                    self.take(1, Kind::Lt);
                }
            }
            b'>' if next == Some(b'=') => self.take(2, Kind::Ge),
            b'>' => self.take(1, Kind::Gt),
            b'{' => {
                self.take(1, Kind::OBrace);
                self.modes.push(Mode::Brace);
            }
            b'}' => match self.top() {
                Some(Mode::Interp) => {
                    self.take(1, Kind::TemplateSeqEnd);
                    self.modes.pop();
                }
                Some(Mode::Brace) => {
                    self.take(1, Kind::CBrace);
                    self.modes.pop();
                }
                _ => self.take(1, Kind::CBrace),
            },
            b'~' if next == Some(b'}') && self.top() == Some(&Mode::Interp) => {
                self.take(2, Kind::TemplateSeqEnd);
                self.modes.pop();
            }
            b'[' => self.take(1, Kind::OBrack),
            b']' => self.take(1, Kind::CBrack),
            b'(' => self.take(1, Kind::OParen),
            b')' => self.take(1, Kind::CParen),
            b',' => self.take(1, Kind::Comma),
            b':' if next == Some(b':') => self.take(2, Kind::DoubleColon),
            b':' => self.take(1, Kind::Colon),
            b'?' => self.take(1, Kind::Question),
            b'+' => self.take(1, Kind::Plus),
            b'-' => self.take(1, Kind::Minus),
            b'*' => self.take(1, Kind::Star),
            b'/' => self.take(1, Kind::Slash),
            b'%' => self.take(1, Kind::Percent),
            b'.' if next == Some(b'.') && self.at(2) == Some(b'.') => self.take(3, Kind::Ellipsis),
            b'.' => self.take(1, Kind::Dot),
            b'=' if next == Some(b'=') => self.take(2, Kind::EqualOp),
            b'=' if next == Some(b'>') => self.take(2, Kind::FatArrow),
            b'=' => self.take(1, Kind::Equal),
            b'!' if next == Some(b'=') => self.take(2, Kind::NotEqual),
            b'!' => self.take(1, Kind::Bang),
            b'&' if next == Some(b'&') => self.take(2, Kind::And),
            b'|' if next == Some(b'|') => self.take(2, Kind::Or),
            c if c.is_ascii_digit() => {
                let mut n = self.digits(0);
                if self.at(n) == Some(b'.') && self.at(n + 1).is_some_and(|c| c.is_ascii_digit()) {
                    n = self.digits(n + 1);
                }
                if matches!(self.at(n), Some(b'e' | b'E')) {
                    let sign = usize::from(matches!(self.at(n + 1), Some(b'+' | b'-')));
                    if self.at(n + 1 + sign).is_some_and(|c| c.is_ascii_digit()) {
                        n = self.digits(n + 1 + sign);
                    }
                }
                self.take(n, Kind::Number);
            }
            _ => match self.ident_len() {
                Some(n) => self.take(n, Kind::Ident),
                None => self.take(1, Kind::Invalid),
            },
        }
    }

    fn line_comment(&mut self) {
        let rest = &self.bytes[self.pos..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        self.take(n, Kind::Comment);
    }

    /// `<<EOF\n` or `<<-EOF\n` at the current position: its length and where its marker is.
    fn heredoc_opener(&self) -> Option<(usize, Range<usize>)> {
        if self.at(1) != Some(b'<') {
            return None;
        }
        let start = if self.at(2) == Some(b'-') { 3 } else { 2 };
        let first = match self.at(start)? {
            b if b.is_ascii_alphabetic() || b == b'_' => 1,
            b if b >= 0x80 => self
                .char_at(start)
                .filter(|&c| is_ident_start(c))?
                .len_utf8(),
            _ => return None,
        };
        let end = self.ident_rest(start + first);
        if self.at(end) != Some(b'\n') {
            return None;
        }
        Some((end + 1, start..end))
    }

    /// A `${` / `%{` (with an optional strip marker) at offset 0, opening a template sequence.
    fn template_opener(&mut self) -> bool {
        let kind = match (self.at(0), self.at(1)) {
            (Some(b'$'), Some(b'{')) => Kind::TemplateInterp,
            (Some(b'%'), Some(b'{')) => Kind::TemplateControl,
            _ => return false,
        };
        let n = if self.at(2) == Some(b'~') { 3 } else { 2 };
        self.take(n, kind);
        self.modes.push(Mode::Interp);
        true
    }

    /// Length of template literal text from the current position up to a `${`/`%{` that opens
    /// a sequence, a newline, or (in a quoted string) a `"`; `$${` and `%%{` are escapes and
    /// stay literal, and so, in a quoted string, is a character after `\`.
    fn literal_len(&self, quoted: bool) -> usize {
        let bytes = &self.bytes[self.pos..];
        let mut n = 0;
        loop {
            while n < bytes.len() && !LITERAL_STOP[usize::from(bytes[n])] {
                n += 1;
            }
            let Some(&c) = bytes.get(n) else {
                return n;
            };
            match c {
                b'\n' => return n,
                b'"' if quoted => return n,
                b'\\' if quoted => {
                    n += if bytes.get(n + 1).is_some_and(|&c| c != b'\n') {
                        2
                    } else {
                        1
                    };
                }
                b'$' | b'%' if bytes.get(n + 1) == Some(&b'{') => return n,
                b'$' | b'%' if bytes.get(n + 1) == Some(&c) && bytes.get(n + 2) == Some(&b'{') => {
                    n += 3
                }
                _ => n += 1,
            }
        }
    }

    fn quoted(&mut self) {
        match self.at(0) {
            Some(b'"') => {
                self.take(1, Kind::CQuote);
                self.modes.pop();
            }
            Some(b'\n') | None => {
                self.fail(self.pos, UNCLOSED_STRING);
                self.modes.pop();
            }
            _ => {
                if !self.template_opener() {
                    let n = self.literal_len(true);
                    self.take(n, Kind::QuotedLit);
                }
            }
        }
    }

    fn heredoc(&mut self, marker: Range<usize>, line_start: bool) {
        if line_start {
            let indent = self.blanks(0);
            let len = marker.len();
            let is_marker = self.bytes[self.pos + indent..].starts_with(&self.bytes[marker]);
            // HCL allows blanks after the closing marker; fmt keeps them, we drop them.
            let trailing = self.blanks(indent + len);
            if is_marker && matches!(self.at(trailing), None | Some(b'\n')) {
                self.take(indent + len, Kind::CHeredoc);
                self.advance(trailing - indent - len);
                self.modes.pop();
                self.heredoc_starts.pop();
                return;
            }
            self.set_line_start(false);
        }
        if self.template_opener() {
            return;
        }
        let mut n = self.literal_len(false);
        if self.at(n) == Some(b'\n') {
            n += 1;
            self.set_line_start(true);
        }
        self.take(n, Kind::StringLit);
    }

    fn set_line_start(&mut self, value: bool) {
        if let Some(Mode::Heredoc { line_start, .. }) = self.modes.last_mut() {
            *line_start = value;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The rewrites `terraform fmt` makes beyond hclwrite's layout
// ---------------------------------------------------------------------------------------------

struct Rewriter<'a> {
    toks: Vec<Tok<'a>>,
    pos: usize,
    /// The rewritten tokens, once a rewrite changed something other than marks: until then
    /// `toks` is the result (marks are set in place), and nothing is copied.
    out: Option<Vec<Tok<'a>>>,
}

/// Walks the block structure to unwrap `"${x}"` attribute values, quote block labels and
/// modernise `variable` types, as `terraform fmt` does, and marks top-level blocks.
fn rewrite(toks: Vec<Tok<'_>>) -> Vec<Tok<'_>> {
    let mut rw = Rewriter {
        toks,
        pos: 0,
        out: None,
    };
    let mut path = Vec::new();
    while rw.pos < rw.toks.len() {
        rw.body(&mut path);
        // A stray `}` at the top level ends `body`; keep it and go on.
        if rw.pos < rw.toks.len() {
            rw.copy(1);
        }
    }
    match rw.out {
        Some(out) => out,
        None => rw.toks,
    }
}

impl<'a> Rewriter<'a> {
    fn kind(&self, at: usize) -> Option<Kind> {
        self.toks.get(at).map(|t| t.kind)
    }

    fn copy(&mut self, n: usize) {
        let end = (self.pos + n).min(self.toks.len());
        if let Some(out) = &mut self.out {
            out.extend_from_slice(&self.toks[self.pos..end]);
        }
        self.pos = end;
    }

    /// The output, made (from the tokens before `pos`) when the first change is made.
    fn out(&mut self) -> &mut Vec<Tok<'a>> {
        let (toks, pos) = (&self.toks, self.pos);
        self.out.get_or_insert_with(|| {
            let mut out = Vec::with_capacity(toks.len() + toks.len() / 8 + 8);
            out.extend_from_slice(&toks[..pos]);
            out
        })
    }

    /// Gives the token at `pos` the mark `mark` and steps past it.
    fn mark(&mut self, mark: Mark) {
        match &mut self.out {
            Some(out) => {
                let mut t = self.toks[self.pos].clone();
                t.mark = mark;
                out.push(t);
            }
            None => self.toks[self.pos].mark = mark,
        }
        self.pos += 1;
    }

    /// Items of a body, up to (not including) the `}` that closes it or the end of input.
    fn body(&mut self, path: &mut Vec<Cow<'a, str>>) {
        while let Some(kind) = self.kind(self.pos) {
            match kind {
                Kind::Newline | Kind::Comment => self.copy(1),
                Kind::CBrace => return,
                Kind::Ident if self.kind(self.pos + 1) == Some(Kind::Equal) => self.attribute(path),
                Kind::Ident => {
                    if !self.block(path) {
                        self.copy(1);
                    }
                }
                _ => self.copy(1),
            }
        }
    }

    fn attribute(&mut self, path: &[Cow<'a, str>]) {
        let is_type =
            path.len() == 1 && path[0] == "variable" && self.toks[self.pos].text == "type";
        self.copy(2);
        // The value runs to the end of the line at bracket depth 0, or to the `}` of a
        // single-line block.
        let start = self.pos;
        let mut depth = 0;
        let mut end = start;
        while let Some(t) = self.toks.get(end) {
            if depth <= 0 && (t.ends_line() || t.kind == Kind::CBrace) {
                break;
            }
            depth += t.bracket_change();
            end += 1;
        }
        // Trailing `/* */` comments belong to the line, not to the expression.
        let mut core_end = end;
        while core_end > start && self.toks[core_end - 1].kind == Kind::Comment {
            core_end -= 1;
        }
        let core = &self.toks[start..core_end];
        let replaced = if is_type {
            modern_type(core)
        } else {
            unwrap_interpolation(core)
        };
        match replaced {
            Some(new) => {
                self.out().extend(new);
                self.pos = core_end;
                self.copy(end - core_end);
            }
            None => self.copy(end - start),
        }
    }

    /// A block at `pos`, if one starts there: `ident label... {`.
    fn block(&mut self, path: &mut Vec<Cow<'a, str>>) -> bool {
        // Find the labels' end, and whether they are already as fmt writes them: quoted, with
        // plain text, and no comments between them.
        let mut at = self.pos + 1;
        let mut canonical = true;
        loop {
            match self.kind(at) {
                // fmt drops comments between labels when it re-renders them.
                Some(Kind::Comment) if !self.toks[at].ends_line() => {
                    canonical = false;
                    at += 1;
                }
                Some(Kind::Ident) => {
                    canonical = false;
                    at += 1;
                }
                Some(Kind::OQuote) => {
                    let mut end = at + 1;
                    while self
                        .kind(end)
                        .is_some_and(|k| k != Kind::CQuote && k != Kind::Newline)
                    {
                        end += 1;
                    }
                    if self.kind(end) != Some(Kind::CQuote) {
                        return false;
                    }
                    canonical &= match &self.toks[at + 1..end] {
                        [] => true,
                        [lit] => lit.kind == Kind::QuotedLit && is_plain_label(&lit.text),
                        _ => false,
                    };
                    at = end + 1;
                }
                Some(Kind::OBrace) => break,
                _ => return false,
            }
        }
        let top = path.is_empty();
        path.push(self.toks[self.pos].text.clone());
        if top {
            self.mark(Mark::TopBlockStart);
        } else {
            self.copy(1);
        }
        if canonical {
            self.copy(at - self.pos);
        } else {
            let mut labels: Vec<Tok<'a>> = Vec::with_capacity(6);
            let mut i = self.pos;
            while i < at {
                match self.toks[i].kind {
                    Kind::Ident => {
                        label_tokens(self.toks[i].text.clone(), &mut labels);
                        i += 1;
                    }
                    Kind::OQuote => {
                        let end = i
                            + 1
                            + self.toks[i + 1..at]
                                .iter()
                                .position(|t| t.kind == Kind::CQuote)
                                .expect("a quoted label closes before the block's `{`");
                        normalize_label(&self.toks[i..=end], &mut labels);
                        i = end + 1;
                    }
                    // A comment between labels.
                    _ => i += 1,
                }
            }
            self.out().append(&mut labels);
            self.pos = at;
        }
        self.copy(1);
        self.body(path);
        path.pop();
        if self.kind(self.pos) == Some(Kind::CBrace) {
            if top {
                self.mark(Mark::TopBlockEnd);
            } else {
                self.copy(1);
            }
        }
        true
    }
}

/// Appends the tokens of a quoted label with the value `value` to `toks`.
fn label_tokens<'a>(value: Cow<'a, str>, toks: &mut Vec<Tok<'a>>) {
    toks.push(Tok::new(Kind::OQuote, "\""));
    // Most labels need no escape: their text is their literal (see `is_plain_label`).
    let escaped = if is_plain_label(&value) {
        value
    } else {
        Cow::Owned(escape(&value, true))
    };
    if !escaped.is_empty() {
        toks.push(Tok::new(Kind::QuotedLit, escaped));
    }
    toks.push(Tok::new(Kind::CQuote, "\""));
}

/// Whether a label is written as is inside quotes, and reads back as itself: neither
/// [`escape`] (for labels) nor [`unescape_literal`] changes it.
fn is_plain_label(s: &str) -> bool {
    // Printable ASCII is the common case: no need to decode characters.
    if s.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && !matches!(b, b'\\' | b'"' | b'$' | b'%'))
    {
        return true;
    }
    s.chars()
        .all(|c| !matches!(c, '\\' | '"' | '$' | '%') && is_printable(c))
}

/// fmt re-renders every quoted label from its value, which normalises its escapes.
/// Appends the tokens of the quoted label `toks`, normalised, to `out`.
fn normalize_label<'a>(toks: &[Tok<'a>], out: &mut Vec<Tok<'a>>) {
    match toks {
        [_, lit, _] if lit.kind == Kind::QuotedLit => {
            if is_plain_label(&lit.text) {
                return label_tokens(lit.text.clone(), out);
            }
            match unescape_literal(&lit.text) {
                Some(value) => label_tokens(Cow::Owned(value), out),
                None => out.extend_from_slice(toks),
            }
        }
        _ => out.extend_from_slice(toks),
    }
}

/// `"${expr}"` as an attribute value becomes `expr`, as `terraform fmt` does since 0.12.
fn unwrap_interpolation<'a>(toks: &[Tok<'a>]) -> Option<Vec<Tok<'a>>> {
    let n = toks.len();
    if n < 5
        || toks[0].kind != Kind::OQuote
        || toks[1].kind != Kind::TemplateInterp
        || toks[n - 2].kind != Kind::TemplateSeqEnd
        || toks[n - 1].kind != Kind::CQuote
    {
        return None;
    }
    let inside = &toks[2..n - 2];
    // Only a provably single interpolation: nested quoted strings may hold their own.
    let mut quotes = 0i32;
    for t in inside {
        match t.kind {
            Kind::OQuote => quotes += 1,
            Kind::CQuote => quotes -= 1,
            _ if quotes > 0 => {}
            Kind::TemplateInterp | Kind::TemplateSeqEnd | Kind::QuotedLit => return None,
            _ => {}
        }
    }
    let first = inside.iter().position(|t| t.kind != Kind::Newline)?;
    let last = inside.iter().rposition(|t| t.kind != Kind::Newline)?;
    let trimmed = &inside[first..=last];
    let multi_line = trimmed.iter().any(|t| t.kind == Kind::Newline);
    let parenthesized =
        trimmed[0].kind == Kind::OParen && trimmed[trimmed.len() - 1].kind == Kind::CParen;
    if multi_line && !parenthesized {
        // A multi-line expression (a conditional, say) needs parentheses once unwrapped.
        let mut out = vec![Tok::new(Kind::OParen, "(")];
        out.extend_from_slice(trimmed);
        out.push(Tok::new(Kind::CParen, ")"));
        Some(out)
    } else {
        Some(trimmed.to_vec())
    }
}

/// `type = list` and pre-0.12 quoted types in a `variable` block, as `terraform fmt` rewrites them.
fn modern_type<'a>(toks: &[Tok<'a>]) -> Option<Vec<Tok<'a>>> {
    fn call(name: &'static str, arg: &'static str) -> Vec<Tok<'static>> {
        vec![
            Tok::new(Kind::Ident, name),
            Tok::new(Kind::OParen, "("),
            Tok::new(Kind::Ident, arg),
            Tok::new(Kind::CParen, ")"),
        ]
    }
    match toks {
        [t] if t.kind == Kind::Ident => match t.text.as_ref() {
            "list" => Some(call("list", "any")),
            "map" => Some(call("map", "any")),
            "set" => Some(call("set", "any")),
            _ => None,
        },
        [o, lit, c]
            if o.kind == Kind::OQuote && lit.kind == Kind::QuotedLit && c.kind == Kind::CQuote =>
        {
            match lit.text.as_ref() {
                "string" => Some(vec![Tok::new(Kind::Ident, "string")]),
                "list" => Some(call("list", "string")),
                "map" => Some(call("map", "string")),
                _ => None,
            }
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Layout: hclwrite's rules for indentation, spacing and alignment
// ---------------------------------------------------------------------------------------------

/// One line as hclwrite sees it: a range of the tokens, split into cells: lead, then an
/// optional `= value` cell, then an optional trailing comment. A heredoc or a multi-line `/* */`
/// comment stays inside one line.
#[derive(Clone, Copy)]
struct Line {
    start: usize,
    end: usize,
    /// Index (in the line) of the `=` starting the assign cell.
    assign: Option<usize>,
    /// Index (in the line) of the trailing comment.
    comment: Option<usize>,
}

impl Line {
    fn new(start: usize, end: usize) -> Self {
        Line {
            start,
            end,
            assign: None,
            comment: None,
        }
    }

    fn toks<'t, 'a>(&self, all: &'t [Tok<'a>]) -> &'t [Tok<'a>] {
        &all[self.start..self.end]
    }

    fn len(&self) -> usize {
        self.end - self.start
    }

    fn lead_end(&self) -> usize {
        self.assign.or(self.comment).unwrap_or(self.len())
    }

    fn assign_end(&self) -> usize {
        self.comment.unwrap_or(self.len())
    }
}

fn is_blank(toks: &[Tok<'_>]) -> bool {
    toks.len() == 1 && toks[0].kind == Kind::Newline
}

fn starts_with_closer(toks: &[Tok<'_>]) -> bool {
    toks.first().is_some_and(|t| t.bracket_change() < 0)
}

fn columns(toks: &[Tok<'_>]) -> usize {
    // hclwrite counts grapheme clusters, not bytes or display width. In ASCII only `\r\n` is
    // one cluster of two characters (UAX #29, GB3), so ASCII without `\r` counts bytes.
    toks.iter()
        .map(|t| {
            let ascii = t.text.bytes().all(|b| b.is_ascii() && b != b'\r');
            t.spaces
                + if ascii {
                    t.text.len()
                } else {
                    t.text.graphemes(true).count()
                }
        })
        .sum()
}

fn layout(toks: Vec<Tok<'_>>) -> String {
    layout_spans(toks, None).0
}

/// [`layout`], and, when its result differs from `unless`, each token's kind and place in the
/// result.
fn layout_spans(
    mut toks: Vec<Tok<'_>>,
    unless: Option<&str>,
) -> (String, Vec<(Kind, Range<usize>)>) {
    let (lines, len) = lay_lines(&mut toks);

    const SPACES: &str = "                                                                ";
    let mut out = String::with_capacity(len + 1);
    for line in &lines {
        for t in line.toks(&toks) {
            match SPACES.get(..t.spaces) {
                Some(spaces) => out.push_str(spaces),
                None => out.extend(std::iter::repeat_n(' ', t.spaces)),
            }
            out.push_str(&t.text);
        }
    }
    let newline_added = !out.is_empty() && !out.ends_with('\n');
    if newline_added {
        out.push('\n');
    }
    let mut spans = Vec::new();
    if unless.is_some_and(|u| u != out) {
        spans.reserve(toks.len());
        let mut at = 0;
        for t in lines.iter().flat_map(|l| l.toks(&toks)) {
            at += t.spaces;
            spans.push((t.kind, at..at + t.text.len()));
            at += t.text.len();
        }
        // A `#` comment takes in the added newline; anything else is followed by it.
        if newline_added {
            match spans.last_mut() {
                Some((Kind::Comment, r)) if !out[r.clone()].starts_with("/*") => r.end += 1,
                _ => spans.push((Kind::Newline, out.len() - 1..out.len())),
            }
        }
    }
    (out, spans)
}

/// What the layout keeps of a line once it is laid out.
#[derive(Clone, Copy)]
struct Laid {
    line: Line,
    /// Net bracket change over the whole line.
    net: i32,
    /// Whether the line holds the `}` closing a top-level block.
    top_block_end: bool,
    /// Whether the line holds comments and newlines only, and a comment.
    comment_only: bool,
    /// Columns before the `=` of the assign cell.
    lead_width: usize,
    /// Columns from the `=` (with one space before it) to the trailing comment, if any.
    assign_width: usize,
}

impl Laid {
    fn blank(start: usize) -> Self {
        Laid {
            line: Line::new(start, start + 1),
            net: 0,
            top_block_end: false,
            comment_only: false,
            lead_width: 0,
            assign_width: 0,
        }
    }

    fn is_blank(&self, toks: &[Tok<'_>]) -> bool {
        is_blank(self.line.toks(toks))
    }
}

/// Splits `toks` into lines and lays them out (blank lines, cells, indentation, spaces) in one
/// pass over the tokens, then aligns cells. Returns the lines and about the length of the text
/// they make (no less), trailing newline aside.
fn lay_lines(toks: &mut Vec<Tok<'_>>) -> (Vec<Line>, usize) {
    // Our additions to fmt, all of them whitespace fmt preserves: one blank line at most, none at
    // the ends or just inside brackets, and one between top-level blocks. An added blank line is
    // a newline token appended to `toks`.
    let mut out: Vec<Laid> = Vec::with_capacity(toks.len() / 4 + 4);
    // How many brackets each open indentation level stands for: a line opening two brackets
    // indents once, and is undone only when both are closed.
    let mut levels: Vec<i32> = Vec::new();
    let mut len = 0;
    let mut start = 0;
    let total = toks.len();
    while start < total {
        // Not `toks[start..]`: added blank lines are appended to `toks`.
        let end = match toks[start..total].iter().position(Tok::ends_line) {
            Some(i) => start + i + 1,
            None => total,
        };
        let line = Line::new(start, end);
        start = end;
        if is_blank(line.toks(toks)) {
            let keep = out
                .last()
                .is_some_and(|prev| !prev.is_blank(toks) && prev.net <= 0);
            if keep {
                toks[line.start].spaces = 0;
                len += 1;
                out.push(Laid::blank(line.start));
            }
            continue;
        }
        if starts_with_closer(line.toks(toks)) {
            while out.last().is_some_and(|l| l.is_blank(toks)) {
                out.pop();
            }
        }
        if let Some(prev) = out.last() {
            let prev_blank = prev.is_blank(toks);
            let after_block = prev.top_block_end && !prev_blank;
            let before_block =
                toks[line.start].mark == Mark::TopBlockStart && !prev_blank && !prev.comment_only;
            if after_block || before_block {
                toks.push(Tok::new(Kind::Newline, "\n"));
                len += 1;
                out.push(Laid::blank(toks.len() - 1));
            }
        }
        out.push(lay_line(toks, line, &mut levels, &mut len));
    }
    while out.last().is_some_and(|l| l.is_blank(toks)) {
        out.pop();
    }
    len += align(toks, &out);
    (out.into_iter().map(|l| l.line).collect(), len)
}

/// Lays out one line that is not blank: finds its cells, indents it, spaces its tokens and
/// measures its cells. Adds about as much as the line's length to `len` (no less).
fn lay_line(toks: &mut [Tok<'_>], mut line: Line, levels: &mut Vec<i32>, len: &mut usize) -> Laid {
    find_cells(toks, &mut line);
    let lt = &mut toks[line.start..line.end];
    let mut net = 0;
    let mut top_block_end = false;
    let mut any_comment = false;
    let mut comment_only = true;
    // Text, and at most one space between tokens (alignment aside).
    *len += lt.len();
    for t in lt.iter() {
        *len += t.text.len();
        net += t.bracket_change();
        top_block_end |= t.mark == Mark::TopBlockEnd;
        match t.kind {
            Kind::Comment => any_comment = true,
            Kind::Newline => {}
            _ => comment_only = false,
        }
    }
    let lead_end = line.lead_end();
    let assign_end = line.assign_end();
    let mut indent_net = 0;
    for t in &lt[..lead_end] {
        indent_net += t.bracket_change();
        if t.kind == Kind::OHeredoc {
            break;
        }
    }
    if let Some(eq) = line.assign {
        indent_net += lt[eq..assign_end]
            .iter()
            .map(Tok::bracket_change)
            .sum::<i32>();
    }
    if indent_net > 0 {
        lt[0].spaces = 2 * levels.len();
        levels.push(indent_net);
    } else {
        let mut closed = -indent_net;
        while closed > 0 {
            let Some(top) = levels.last_mut() else {
                break;
            };
            if closed >= *top {
                closed -= *top;
                levels.pop();
            } else {
                *top -= closed;
                closed = 0;
            }
        }
        lt[0].spaces = 2 * levels.len();
    }
    *len += lt[0].spaces;
    space_line(lt, &line);
    let (lead_width, assign_width) = match line.assign {
        // The assign cell is measured only for aligning a trailing comment.
        Some(eq) if line.comment.is_some() => (columns(&lt[..eq]), columns(&lt[eq..assign_end])),
        Some(eq) => (columns(&lt[..eq]), 0),
        None => (0, 0),
    };
    Laid {
        line,
        net,
        top_block_end,
        comment_only: comment_only && any_comment,
        lead_width,
        assign_width,
    }
}

/// Aligns `=` signs and trailing comments; returns the spaces added.
fn align(toks: &mut [Tok<'_>], lines: &[Laid]) -> usize {
    let mut added = 0;
    // `=` signs: consecutive lines that have an assign cell form a run, aligned one space past
    // the widest lead.
    let mut i = 0;
    while i < lines.len() {
        if lines[i].line.assign.is_none() {
            i += 1;
            continue;
        }
        let start = i;
        let mut max = 0;
        while i < lines.len() && lines[i].line.assign.is_some() {
            max = max.max(lines[i].lead_width);
            i += 1;
        }
        for l in &lines[start..i] {
            if let Some(eq) = l.line.assign {
                // The `=` has one space already.
                toks[l.line.start + eq].spaces = max - l.lead_width + 1;
                added += max - l.lead_width;
            }
        }
    }
    // Trailing comments: the same, measured after the `=` alignment.
    let comment_width = |toks: &[Tok<'_>], l: &Laid| {
        l.line.comment.map(|c| match l.line.assign {
            Some(eq) => l.lead_width + l.assign_width + toks[l.line.start + eq].spaces - 1,
            None => columns(&l.line.toks(toks)[..c]),
        })
    };
    let mut i = 0;
    while i < lines.len() {
        if lines[i].line.comment.is_none() {
            i += 1;
            continue;
        }
        let start = i;
        let mut max = 0;
        while i < lines.len() {
            match comment_width(toks, &lines[i]) {
                Some(w) => max = max.max(w),
                None => break,
            }
            i += 1;
        }
        for l in &lines[start..i] {
            if let (Some(c), Some(w)) = (l.line.comment, comment_width(toks, l)) {
                let t = &mut toks[l.line.start + c];
                added = (added + max - w + 1).saturating_sub(t.spaces);
                t.spaces = max - w + 1;
            }
        }
    }
    added
}
fn find_cells(toks: &[Tok<'_>], line: &mut Line) {
    let lt = line.toks(toks);
    let n = lt.len();
    if n > 1 && lt[n - 1].kind == Kind::Comment {
        line.comment = Some(n - 1);
    }
    let lead_end = line.lead_end();
    // An `=` (not first on the line) starts the assign cell when the rest of the line is a
    // whole expression: a value that opens a bracket it does not close spans lines and breaks
    // the alignment run instead.
    if let Some(eq) = (1..lead_end).find(|&i| lt[i].kind == Kind::Equal) {
        let net: i32 = lt[eq..lead_end].iter().map(Tok::bracket_change).sum();
        if net == 0 {
            line.assign = Some(eq);
        }
    }
}

/// Sets the spaces between the tokens of each cell of the line `lt`.
fn space_line(lt: &mut [Tok<'_>], line: &Line) {
    let lead_end = line.lead_end();
    let assign_end = line.assign_end();
    let mut cells = [(0, lead_end), (0, 0)];
    if let Some(eq) = line.assign {
        // The `=` always has one space before it; alignment widens that later.
        lt[eq].spaces = 1;
        cells[1] = (eq, assign_end);
    }
    for (start, end) in cells {
        for i in start..end.saturating_sub(1) {
            let before = if i > start { Some(&lt[i - 1]) } else { None };
            let space = space_after(&lt[i], before, &lt[i + 1]);
            lt[i + 1].spaces = usize::from(space);
        }
    }
}

/// Whether `subject` is followed by a space, given its neighbours within the same cell.
fn space_after(subject: &Tok<'_>, before: Option<&Tok<'_>>, after: &Tok<'_>) -> bool {
    use Kind::*;
    let s = subject.kind;
    let a = after.kind;
    if a == Newline {
        return false;
    }
    if s == Ident && a == OParen {
        return false; // a function call
    }
    if (s == Ident && a == DoubleColon) || (s == DoubleColon && a == Ident) {
        return false; // a namespaced function name
    }
    if s == Dot || a == Dot {
        return false;
    }
    if a == Comma || a == Ellipsis {
        return false;
    }
    if s == Comma {
        return true;
    }
    if matches!(s, QuotedLit | StringLit | OQuote | OHeredoc)
        || matches!(a, QuotedLit | StringLit | CQuote | CHeredoc)
    {
        return false; // template text is never re-spaced
    }
    if s == Ident && subject.text == "in" && before.is_some_and(|b| b.kind == Ident) {
        return true; // `for x in [a]`: `in` is a keyword, not something being indexed
    }
    if a == OBrack && (s == Ident || s == Number || subject.bracket_change() < 0) {
        return false; // an index
    }
    if s == Bang {
        return false;
    }
    if s == Minus {
        // Negation takes no space; a `-` after something that cannot end an operand negates.
        return match before.map(|b| b.kind) {
            None => false,
            Some(
                OParen | OBrace | OBrack | Equal | Colon | Comma | Question | Plus | Star | Slash
                | Percent | Minus | EqualOp | NotEqual | Gt | Ge | Lt | Le | And | Or | Bang,
            ) => false,
            Some(_) => true,
        };
    }
    if s == OBrace || a == CBrace {
        return !(s == OBrace && a == CBrace); // `{ a = 1 }` but `{}`
    }
    if matches!(s, TemplateInterp | TemplateControl) && a == OBrace {
        return true;
    }
    if s == CBrace && a == TemplateSeqEnd {
        return true;
    }
    if s == TemplateSeqEnd && matches!(a, TemplateInterp | TemplateControl) {
        return false;
    }
    if subject.bracket_change() > 0 || after.bracket_change() < 0 {
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(key: &str, value: Expr) -> Structure {
        Structure::Attribute(Attribute::new(key, value))
    }

    fn block(ident: &str, labels: &[&str], items: Vec<Structure>) -> Structure {
        Structure::Block(Block::new(ident, labels.iter().copied()).with_body(Body(items)))
    }

    fn obj(entries: Vec<(&str, Expr)>) -> Expr {
        Expr::Object(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }

    fn s(v: &str) -> Expr {
        Expr::str(v)
    }

    fn raw(v: &str) -> Expr {
        Expr::raw(v)
    }

    /// Strings a spec could hold that must come out as exactly themselves.
    const HOSTILE: &[&str] = &[
        "plain",
        "",
        "quote \" inside",
        "back\\slash",
        "trailing backslash \\",
        "new\nline",
        "cr\rlf\r\n",
        "tab\tx",
        "${var.secret}",
        "${",
        "x${y}z",
        "%{ if true }x%{ endif }",
        "%{",
        "$${already}",
        "%%{already}",
        "$",
        "%",
        "a$",
        "$$",
        "$$$",
        "$${",
        "$$${x}",
        "100% {done}",
        "*/ /* # // -->",
        "<<EOF\nheredoc\nEOF\n",
        "<<-EOT",
        // NFC: HCL normalizes every string to NFC, so a decomposed `e\u{301}` would come back as `é`.
        "unicode é ü 中文 👍🏽 Å",
        "\u{1}\u{1f}\u{7f}\u{80}\u{9f}",
        "\u{a0}\u{ad}\u{200b}\u{202e}\u{2028}\u{2029}\u{feff}",
        "\u{e000}\u{10ffff}",
        "\"${\"}\"",
        "{{resource.id}}",
        "\\${not}",
        "\\n is not a newline",
    ];

    /// The documents the writer is checked on; each output was confirmed byte for byte with
    /// `terraform fmt` 1.11.4 and with hclwrite's Format and HCL's parser (`.ci/hclcheck.js`);
    /// fmt rewrites only the labels holding `$` or `%`, on purpose (see `quote_label`).
    fn writer_cases() -> Vec<(&'static str, Body)> {
        vec![
            (
                "resource",
                Body(vec![
                    Structure::Comment(
                        "Generated by trestle from specs/orders.kdl; do not edit.".into(),
                    ),
                    Structure::Blank,
                    block(
                        "resource",
                        &["aws_db_instance", "orders-db"],
                        vec![
                            attr("identifier", s("orders-db")),
                            attr("engine", s("postgres")),
                            attr("allocated_storage", Expr::Int(20)),
                            attr("multi_az", Expr::Bool(true)),
                            attr("kms_key_id", Expr::Null),
                            attr("password", raw("random_password.orders-db.result")),
                            attr(
                                "tags",
                                obj(vec![
                                    ("Name", s("orders-db")),
                                    ("app.kubernetes.io/name", s("orders")),
                                    ("team", raw("var.team")),
                                ]),
                            ),
                            attr(
                                "vpc_security_group_ids",
                                Expr::List(vec![raw("aws_security_group.db.id")]),
                            ),
                            attr("skip_final_snapshot", Expr::Bool(false)),
                            block(
                                "lifecycle",
                                &[],
                                vec![attr("prevent_destroy", Expr::Bool(true))],
                            ),
                            block("timeouts", &[], vec![]),
                        ],
                    ),
                    block(
                        "resource",
                        &["random_password", "orders-db"],
                        vec![
                            attr("length", Expr::Int(32)),
                            attr("special", Expr::Bool(false)),
                        ],
                    ),
                    block(
                        "output",
                        &["orders-db_address"],
                        vec![
                            attr("value", raw("aws_db_instance.orders-db.address")),
                            attr("sensitive", Expr::Bool(true)),
                        ],
                    ),
                    block("module", &["empty"], vec![]),
                ]),
            ),
            (
                "alignment",
                Body(vec![block(
                    "locals",
                    &[],
                    vec![
                        attr("a", Expr::Int(1)),
                        attr("long_name", Expr::Int(2)),
                        Structure::Blank,
                        attr("b", Expr::Int(3)),
                        attr("cc", Expr::Int(-4)),
                        Structure::Comment("A comment line breaks the run.".into()),
                        attr("ddd", Expr::Int(5)),
                        attr("e", obj(vec![("x", Expr::Int(1)), ("yy", Expr::Int(2))])),
                        attr("ffff", Expr::Int(6)),
                        attr(
                            "g",
                            Expr::List(vec![
                                obj(vec![("a", Expr::Int(1))]),
                                obj(vec![
                                    ("bb", Expr::Int(2)),
                                    ("c", Expr::List(vec![Expr::Int(1), Expr::Int(2)])),
                                ]),
                            ]),
                        ),
                        attr("h", Expr::Int(7)),
                        attr("iiiii", obj(vec![])),
                        block("nested", &[], vec![attr("x", Expr::Int(1))]),
                        attr("j", Expr::Int(8)),
                        attr("kk", Expr::Int(9)),
                        block("first", &["a"], vec![]),
                        block(
                            "second",
                            &["b"],
                            vec![attr("deep", obj(vec![("z", obj(vec![("zz", s("deep"))]))]))],
                        ),
                    ],
                )]),
            ),
            (
                "values",
                Body(vec![block(
                    "locals",
                    &[],
                    vec![
                        attr("empty_list", Expr::List(vec![])),
                        attr("strings", Expr::List(vec![s("a"), s("b")])),
                        attr(
                            "numbers",
                            Expr::List(vec![Expr::Int(1), Expr::Int(-2), Expr::Int(i64::MIN)]),
                        ),
                        attr(
                            "nested_lists",
                            Expr::List(vec![Expr::List(vec![s("a")]), Expr::List(vec![])]),
                        ),
                        attr(
                            "list_of_lists_with_object",
                            Expr::List(vec![
                                Expr::List(vec![s("x")]),
                                Expr::List(vec![obj(vec![("k", s("v"))])]),
                            ]),
                        ),
                        attr(
                            "keys",
                            obj(vec![
                                ("plain", Expr::Int(1)),
                                ("with-dash", Expr::Int(2)),
                                ("_under", Expr::Int(3)),
                                ("app.kubernetes.io/name", Expr::Int(4)),
                                ("1starts_with_digit", Expr::Int(5)),
                                ("with space", Expr::Int(6)),
                                ("true", Expr::Int(7)),
                                ("for", Expr::Int(8)),
                                ("é", Expr::Int(9)),
                                ("e\u{301}", Expr::Int(10)),
                                ("👍🏽", Expr::Int(11)),
                                ("${x}", Expr::Int(12)),
                                ("", Expr::Int(13)),
                            ]),
                        ),
                        attr("template", Expr::template("${var.env}-orders")),
                        attr("unwrapped", Expr::template("${var.only}")),
                        attr("call", raw("jsonencode({a=1,b=[1,2]})")),
                        attr(
                            "multi_line_raw",
                            raw("jsonencode({\n\"a\" = 1\n    b = [\n1,\n]\n})"),
                        ),
                        attr("conditional", raw("var.n>1?2:-1")),
                        attr("after", s("still aligned")),
                    ],
                )]),
            ),
            (
                "labels_and_comments",
                Body(vec![
                    Structure::Comment("first line\n\n  indented line   \nlast".into()),
                    block("resource", &["x", "quote \" and back\\slash"], vec![]),
                    Structure::Comment(String::new()),
                    block("resource", &["x", "dollar ${x} and 100%{y}"], vec![]),
                    block("resource", &["x", "unicode é\u{1}\u{202e}"], vec![]),
                    block("resource", &["x", ""], vec![]),
                    attr("top_level_attribute", s("x")),
                    Structure::Comment("about a".into()),
                    attr("a", s("x")),
                    Structure::Blank,
                    Structure::Blank,
                    Structure::Comment("trailing comment".into()),
                    Structure::Blank,
                ]),
            ),
        ]
    }

    fn hostile_body() -> Body {
        let mut body = Body::new();
        for (i, h) in HOSTILE.iter().enumerate() {
            body.attr(format!("s{i:02}"), s(h));
        }
        body.attr("list", Expr::List(HOSTILE.iter().map(|h| s(h)).collect()));
        body.attr(
            "object",
            Expr::Object(HOSTILE.iter().map(|h| (h.to_string(), s(h))).collect()),
        );
        for h in HOSTILE {
            body.block(Block::new("label", [*h]).with_body(Body(vec![attr("value", s(h))])));
        }
        body
    }

    /// hcl2json's JSON for a literal string: Terraform's JSON syntax, where `${` reads `$${`.
    fn json_template_literal(s: &str) -> String {
        json_string(&s.replace("${", "$${").replace("%{", "%%{"))
    }

    fn json_string(s: &str) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    fn hostile_expected_json() -> String {
        let mut fields: Vec<String> = HOSTILE
            .iter()
            .enumerate()
            .map(|(i, h)| format!("\"s{i:02}\": {}", json_template_literal(h)))
            .collect();
        let list: Vec<String> = HOSTILE.iter().map(|h| json_template_literal(h)).collect();
        fields.push(format!("\"list\": [{}]", list.join(", ")));
        let object: Vec<String> = HOSTILE
            .iter()
            .map(|h| format!("{}: {}", json_template_literal(h), json_template_literal(h)))
            .collect();
        fields.push(format!("\"object\": {{{}}}", object.join(", ")));
        // Labels are plain strings in hcl2json's JSON, not templates.
        let labels: Vec<String> = HOSTILE
            .iter()
            .map(|h| {
                format!(
                    "{}: [{{\"value\": {}}}]",
                    json_string(h),
                    json_template_literal(h)
                )
            })
            .collect();
        fields.push(format!("\"label\": {{{}}}", labels.join(", ")));
        format!("{{\n{}\n}}\n", fields.join(",\n"))
    }

    /// Messy text as a template might render it, and what `format` makes of it.
    /// What the writer makes of [`writer_cases`], in the same order.
    const WRITER_EXPECTED: &[(&str, &str)] = &[
        (
            "resource",
            r##"# Generated by trestle from specs/orders.kdl; do not edit.

resource "aws_db_instance" "orders-db" {
  identifier        = "orders-db"
  engine            = "postgres"
  allocated_storage = 20
  multi_az          = true
  kms_key_id        = null
  password          = random_password.orders-db.result
  tags = {
    Name                     = "orders-db"
    "app.kubernetes.io/name" = "orders"
    team                     = var.team
  }
  vpc_security_group_ids = [aws_security_group.db.id]
  skip_final_snapshot    = false

  lifecycle {
    prevent_destroy = true
  }

  timeouts {
  }
}

resource "random_password" "orders-db" {
  length  = 32
  special = false
}

output "orders-db_address" {
  value     = aws_db_instance.orders-db.address
  sensitive = true
}

module "empty" {
}
"##,
        ),
        (
            "alignment",
            r##"locals {
  a         = 1
  long_name = 2

  b  = 3
  cc = -4
  # A comment line breaks the run.
  ddd = 5
  e = {
    x  = 1
    yy = 2
  }
  ffff = 6
  g = [
    {
      a = 1
    },
    {
      bb = 2
      c  = [1, 2]
    },
  ]
  h     = 7
  iiiii = {}

  nested {
    x = 1
  }

  j  = 8
  kk = 9

  first "a" {
  }

  second "b" {
    deep = {
      z = {
        zz = "deep"
      }
    }
  }
}
"##,
        ),
        (
            "values",
            r##"locals {
  empty_list   = []
  strings      = ["a", "b"]
  numbers      = [1, -2, -9223372036854775808]
  nested_lists = [["a"], []]
  list_of_lists_with_object = [
    ["x"],
    [
      {
        k = "v"
      },
    ],
  ]
  keys = {
    plain                    = 1
    with-dash                = 2
    _under                   = 3
    "app.kubernetes.io/name" = 4
    "1starts_with_digit"     = 5
    "with space"             = 6
    "true"                   = 7
    "for"                    = 8
    "é"                      = 9
    "é"                      = 10
    "👍🏽"                      = 11
    "$${x}"                  = 12
    ""                       = 13
  }
  template  = "${var.env}-orders"
  unwrapped = var.only
  call      = jsonencode({ a = 1, b = [1, 2] })
  multi_line_raw = jsonencode({
    "a" = 1
    b = [
      1,
    ]
  })
  conditional = var.n > 1 ? 2 : -1
  after       = "still aligned"
}
"##,
        ),
        (
            "labels_and_comments",
            r##"# first line
#
#   indented line
# last
resource "x" "quote \" and back\\slash" {
}

#
resource "x" "dollar \u0024{x} and 100\u0025{y}" {
}

resource "x" "unicode é\u0001\u202e" {
}

resource "x" "" {
}

top_level_attribute = "x"
# about a
a = "x"

# trailing comment
"##,
        ),
    ];

    const FORMAT_CASES: &[(&str, &str)] = &[
        (
            "# rendered by a template\n\n\n\nresource \"aws_s3_bucket\" \"orders-assets\" {\n\tbucket = \"orders-assets\"\n    force_destroy=true   \n\n\n  tags = {\n      Name=\"orders\"  # name tag\n    Environment = \"prod\"   // env\n  }\n}\nresource \"aws_s3_bucket_versioning\" \"orders-assets\" {\n  bucket = \"${aws_s3_bucket.orders-assets.id}\"\n\n  versioning_configuration {\n\n    status = \"Enabled\"\n\n  }\n}\n\n\n\noutput \"arn\" { value = aws_s3_bucket.orders-assets.arn }\n\n\n",
            r##"# rendered by a template

resource "aws_s3_bucket" "orders-assets" {
  bucket        = "orders-assets"
  force_destroy = true

  tags = {
    Name        = "orders" # name tag
    Environment = "prod"   // env
  }
}

resource "aws_s3_bucket_versioning" "orders-assets" {
  bucket = aws_s3_bucket.orders-assets.id

  versioning_configuration {
    status = "Enabled"
  }
}

output "arn" { value = aws_s3_bucket.orders-assets.arn }
"##,
        ),
        (
            "resource \"aws_iam_policy\" \"p\" {\nname = \"orders\"\npolicy = <<-EOT\n  {\n\n    \"Statement\": [${ join(\",\", var.statements) }]\n  }\n  EOT\ndescription=\"x\"\n  path = var.path==\"\"?\"/\":var.path\n  tags = {for k,v in var.tags: k=>v if v!=null}\n  list = [\n\"a\",\n  \"b\"\n  ]\n}\n",
            r##"resource "aws_iam_policy" "p" {
  name        = "orders"
  policy      = <<-EOT
  {

    "Statement": [${join(",", var.statements)}]
  }
  EOT
  description = "x"
  path        = var.path == "" ? "/" : var.path
  tags        = { for k, v in var.tags : k => v if v != null }
  list = [
    "a",
    "b"
  ]
}
"##,
        ),
        (
            "\u{feff}variable region {\r\n  type = \"string\"\r\n  default=\"eu-west-1\"\r\n}\r\nvariable \"names\" {\r\n  type = list\r\n}\r\nlocals {\r\n  greeting = \"%{ if var.formal }Good day%{ else }Hi%{ endif }, ${ var.name }\"\r\n  a = 1 /* one */\r\n  bbb = 22 /* twenty-two */ # and a comment\r\n  /* block\r\n     comment */\r\n  c = 3\r\n}",
            r##"variable "region" {
  type    = string
  default = "eu-west-1"
}

variable "names" {
  type = list(any)
}

locals {
  greeting = "%{if var.formal}Good day%{else}Hi%{endif}, ${var.name}"
  a        = 1 /* one */
  bbb      = 22 /* twenty-two */ # and a comment
  /* block
     comment */
  c = 3
}
"##,
        ),
        ("", ""),
        ("\n\n  # only a comment\n\n", "# only a comment\n"),
    ];

    #[test]
    fn writer_output_is_what_terraform_fmt_leaves_alone() {
        let cases = writer_cases();
        assert_eq!(cases.len(), WRITER_EXPECTED.len());
        for ((name, body), (expected_name, expected)) in cases.iter().zip(WRITER_EXPECTED) {
            assert_eq!(name, expected_name);
            assert_eq!(to_string(body), *expected, "writer case {name}");
        }
    }

    #[test]
    fn format_cleans_up_template_output() {
        for (input, expected) in FORMAT_CASES {
            assert_eq!(format(input).as_deref(), Ok(*expected), "input: {input:?}");
        }
    }

    #[test]
    fn canonical_text_is_a_fixed_point_of_format() {
        let mut texts: Vec<String> = writer_cases().iter().map(|(_, b)| to_string(b)).collect();
        texts.push(to_string(&hostile_body()));
        texts.extend(FORMAT_CASES.iter().map(|(_, out)| out.to_string()));
        for text in texts {
            assert_eq!(format(&text).as_deref(), Ok(text.as_str()));
        }
    }

    /// The body `format_parsed` hands back is the parse of the text it returns, whether
    /// formatting changed the input or not; `parse_canonical` agrees with `format`.
    #[test]
    fn formatted_text_comes_with_its_parse() {
        let mut inputs: Vec<String> = FORMAT_CASES.iter().map(|(i, _)| i.to_string()).collect();
        inputs.extend(FORMAT_CASES.iter().map(|(_, out)| out.to_string()));
        inputs.push(to_string(&hostile_body()));
        for input in &inputs {
            let f = format_parsed(input).unwrap();
            assert_eq!(Ok(&f.text), format(input).as_ref());
            let parsed = Parse::Edit(hcl_edit::parser::parse_body(&f.text).unwrap());
            let read = |p: &Parse| fast::tests::read(&f.text, p);
            assert_eq!(read(&f.body), read(&parsed), "input: {input:?}");
            let c = parse_canonical(f.text.clone()).unwrap();
            assert_eq!(c.text, f.text);
            assert_eq!(read(&c.body), read(&f.body));
        }
        for broken in ["a = \"x\n", "a = = 1\n", "resource \"x\" {\n"] {
            assert_eq!(
                parse_canonical(broken.to_string()).map(|f| f.text),
                format(broken),
                "{broken:?}"
            );
        }
        // Alignment counts grapheme clusters: `e` and a combining accent are one column.
        let text = format("x = {\na = 1\n\"e\u{301}\" = 2\nabcd = 3\n}\n").unwrap();
        assert_eq!(
            text,
            "x = {\n  a    = 1\n  \"e\u{301}\"  = 2\n  abcd = 3\n}\n"
        );
    }

    #[test]
    fn empty_body_and_empty_block() {
        assert_eq!(to_string(&Body::new()), "");
        assert_eq!(to_string(&Body(vec![Structure::Blank])), "");
        let mut body = Body::new();
        body.block(Block::new("terraform", Vec::<String>::new()));
        assert_eq!(to_string(&body), "terraform {\n}\n");
    }

    #[test]
    fn escape_string_cases() {
        let cases = [
            ("plain", "plain"),
            ("a\"b", "a\\\"b"),
            ("back\\slash", "back\\\\slash"),
            ("\n\r\t", "\\n\\r\\t"),
            ("${x}", "$${x}"),
            ("%{ if x }", "%%{ if x }"),
            ("$${x}", "$$${x}"),
            ("$ % $$ %% a$", "$ % $$ %% a$"),
            ("\u{1}\u{7f}\u{85}", "\\u0001\\u007f\\u0085"),
            ("\u{202e}\u{feff}\u{a0}", "\\u202e\\ufeff\\u00a0"),
            ("\u{10ffff}", "\\U0010ffff"),
            ("é 中 👍🏽", "é 中 👍🏽"),
        ];
        for (raw, escaped) in cases {
            assert_eq!(escape_string(raw), escaped, "{raw:?}");
        }
        assert_eq!(quote("${x}"), "\"$${x}\"");
        assert_eq!(quote_label("a$b%{c}\""), "\"a\\u0024b\\u0025{c}\\\"\"");
    }

    #[test]
    fn unescaping_inverts_escaping() {
        for h in HOSTILE {
            assert_eq!(unescape_literal(&escape_string(h)).as_deref(), Some(*h));
            assert_eq!(unescape_literal(&escape(h, true)).as_deref(), Some(*h));
        }
        assert_eq!(unescape_literal("\\q"), None);
    }

    #[test]
    fn identifiers() {
        for ok in ["a", "_a", "a-b", "a_b9", "A"] {
            assert!(is_identifier(ok), "{ok}");
        }
        for quoted in [
            "", "9a", "-a", "a.b", "a/b", "a b", "é", "true", "false", "null", "for",
        ] {
            assert!(!is_identifier(quoted), "{quoted}");
        }
    }

    #[test]
    fn single_expressions() {
        assert_eq!(expr_to_string(&s("${x}\n")), "\"$${x}\\n\"");
        assert_eq!(expr_to_string(&Expr::template("${var.a}")), "var.a");
        assert_eq!(
            expr_to_string(&Expr::List(vec![s("a"), Expr::Int(1), Expr::Null])),
            "[\"a\", 1, null]"
        );
        assert_eq!(
            expr_to_string(&obj(vec![
                ("a", Expr::Int(1)),
                ("long-key", Expr::Bool(true))
            ])),
            "{\n  a        = 1\n  long-key = true\n}"
        );
        assert_eq!(
            expr_to_string(&raw("merge(a,{b=1})")),
            "merge(a, { b = 1 })"
        );
    }

    #[test]
    fn errors_point_at_the_problem() {
        let cases = [
            ("a = \"x\nb = 1\n", 1, 7),
            ("a = \"x", 1, 7),
            ("a = 1\nb = <<EOF\nx\n", 2, 5),
            ("a = 1\n/* open", 2, 1),
            ("a = 1\na = 2\n", 2, 1),
            ("a = 1 b = 2\n", 1, 7),
            ("foo {\n  a = \n}\n", 2, 7),
            ("a = \"\\q\"\n", 1, 8),
        ];
        for (input, line, column) in cases {
            let err = format(input).expect_err(input);
            assert_eq!((err.line, err.column), (line, column), "{input:?}: {err}");
            assert!(!err.message.is_empty());
        }
    }

    /// Writes every document under `TRESTLE_HCL_DIR` for `.ci/hclcheck.js` (and `terraform fmt`).
    #[test]
    fn dump_for_hashicorp_tools() {
        let Some(dir) = std::env::var_os("TRESTLE_HCL_DIR") else {
            return;
        };
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("create TRESTLE_HCL_DIR");
        for (name, body) in writer_cases() {
            std::fs::write(dir.join(format!("writer_{name}.tf")), to_string(&body))
                .expect("write case");
        }
        for (i, (input, _)) in FORMAT_CASES.iter().enumerate() {
            let out = format(input).expect("format case");
            std::fs::write(dir.join(format!("format_{i:02}.tf")), out).expect("write case");
        }
        std::fs::write(dir.join("hostile.tf"), to_string(&hostile_body())).expect("write");
        std::fs::write(dir.join("hostile.expected.json"), hostile_expected_json()).expect("write");
    }
}
