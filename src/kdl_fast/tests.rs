#![allow(clippy::unwrap_used)]
//! The fast parser against the `kdl` crate: hand-picked corner cases of the crate's grammar,
//! then a randomized differential test that mutates valid snippets.

use super::*;

/// Texts the fast parser must accept, each with the same result as the crate.
const ACCEPTED: &[&str] = &[
    "",
    " ",
    "\n\n",
    "\u{FEFF}a",
    "a",
    "a;",
    "a; b",
    "a;b;",
    "a\nb\r\nc\rd\u{85}e\u{2028}f\u{2029}g\u{0B}h\u{0C}i",
    "a { }",
    "a {x}",
    "a{x}",
    "a { b; c }",
    "a {\n    b 1\n    c k=v\n}\n",
    "a { b { c { d } } }",
    "  a b=1 c  ;  d /* x */ \\\n  e",
    "a // comment\nb",
    "a // comment",
    "// only a comment",
    "/* block */ a /* inner /* nested */ */ b",
    "a /**/ b /*/ still comment */ c",
    "a \\ // continued\n b",
    "a \\",
    "\\\na",
    "a\t\u{a0}b\u{3000}c\u{1680}d\u{2009}e\u{202f}f\u{205f}g",
    // slashdash
    "/-a\nb",
    "/- a b { c }\nd",
    "/-\n  a\nb",
    "a;/-b",
    "a; /-b\nc",
    "a /-b c",
    "a /-b",
    "a /- \n b c",
    "a /-/-b c d",
    "a /-{x}",
    "a /-{x} {y}",
    "a /-b /-{x} {y}",
    "a /-b /-c /-{x} /-{z} {y} /-{w}",
    "a {x}/-{y}",
    "a {x} /-b c",
    "a /-{x} /-y",
    "a /-k=v b",
    "n #true/-x",
    // types
    "(t)n",
    "(t) n",
    "( t )n { a }",
    "(\"quoted type\")n",
    "n (t)5 k=(u) \"x\" (v)w",
    "n k=(t) 5",
    "n ( t )5",
    "n (#\"raw\"#)1",
    // identifiers
    "n -_1 +-5 .a -. .. - + +. , <> a:b @x !? * % $ ^ ~ ` | '",
    "n +inf",
    "n true-ish nullable infinity nan2",
    "n ünïcödé 名前 emoji🎉",
    "a-b_c.d",
    // strings
    "n \"\" \"a\" \"a b\" \"tab\there\"",
    "n \"\\n\\t\\\\\\\"\\b\\f\\r\\s\"",
    "n \"\\u{0}\\u{41}\\u{10FFFF}\\u{1f600}\"",
    "n \"a\\   \n   b\"",
    "n \"a\\\n\\\nb\"",
    "n #\"raw \\n \"quoted\" \"#",
    "n ##\"has \"# inside\"##",
    "n #\"\"#",
    "n \"x\"=1 #\"y\"#=2 z = 3",
    "\"quoted name\" 1",
    "#\"raw name\"# 1",
    "n \"a\"{}",
    // multi-line strings
    "n \"\"\"\n    one\n      two\n    \"\"\"",
    "n \"\"\"\nflush\n\"\"\"",
    "n \"\"\"\n  a\n\n  b\n \n  \"\"\"",
    "n \"\"\"\n\"\"\"",
    "n \"\"\"\n  \n  \"\"\"",
    "n \"\"\"\r\n  crlf\r\n  \"\"\"",
    "n \"\"\"\n  esc\\n\\\"q\\\" \"\" \"x\n  \"\"\" next",
    "n \"\"\"\n\ta\n\t\"\"\"",
    "n \"\"\"\n  trailing   \n  \"\"\"",
    // keywords
    "n #true #false #null #inf #-inf #nan",
    "n #true{}",
    "n #null;",
    // numbers
    "n 0 -0 +0 1 -1 +7 1_000 1__0_ 12345678901234567890123456789012345678",
    "n 1.5 -1.5 +1.5 1_0.5_0 1e5 1E5 1e+5 1e-5 1.5e3 0e1 1_e5 1e5_ +1_0.5_e1_0",
    "n 0x10 0X1f -0xFF 0xdead_beef 0o17 0O7 -0o1_0 0b1010 0B1 0b1_0 +0b1",
    "n 1{}",
    "n 1e400 -1e400 1e-400",
    "n 170141183460469231731687303715884105727 -170141183460469231731687303715884105727",
    "n 0.1 0.30000000000000004 123456789.123456789e-5",
];

/// Texts the crate rejects: the fast parser must refuse them too.
const REJECTED: &[&str] = &[
    "/-a;b",
    "a;/-b;c",
    "a; ;b",
    ";",
    "a {",
    "a }",
    "}",
    "{ a }",
    "a {x}{y}",
    "a {x} b",
    "a {x} /-b\nc",
    "a /-",
    "a /-}",
    "a { /- }",
    "n true",
    "n false",
    "n null",
    "n inf",
    "n nan",
    "true",
    "n #truex",
    "n #maybe",
    "n ##x",
    "n \"unterminated",
    "n \"new\nline\"",
    "n \"\\q\"",
    "n \"\\u{}\"",
    "n \"\\u{1234567}\"",
    "n \"\\u{D800}\"",
    "n \"\\u{110000}\"",
    "n \"a\"b",
    "n \"a\"/-b",
    "n a\"b\"",
    "n a(b)",
    "n a[b]",
    "n 1x",
    "n 1.",
    "n 1.e5",
    "n .5",
    "n -.5",
    "n 1e",
    "n 1e+",
    "n 1e_5",
    "n 0x",
    "n 0x_1",
    "n 0b2",
    "n 0b1e5",
    "n 0o8",
    "n 170141183460469231731687303715884105728",
    "n 0x80000000000000000000000000000000",
    "n (t x)",
    "n (t)",
    "n ()5",
    "n (1)5",
    "n (t)(u)5",
    "n k=",
    "n k= ",
    "n =1",
    "n k=v=w",
    "5",
    "(t)5",
    "n /* unclosed",
    "/* unclosed",
    "n \\ x",
    "n \"\"\"one line\"\"\"",
    "n \"\"\"\n  a\n b\n  \"\"\"",
    "n \"\"\"\n  a \"\"\" b\n  \"\"\"",
    "n \"\"\"\n  unterminated",
    "n #\"unterminated",
    "n #\"a\"##",
    "n #\"\"\"#",
    "a\u{200E}b",
    "a \u{FEFF}",
    "a\u{0}",
    "n \"\u{1}\"",
    "n #\"\u{7}\"#",
];

#[test]
fn accepted_cases_match_the_crate() {
    for text in ACCEPTED {
        assert!(
            KdlDocument::parse_v2(text).is_ok(),
            "the crate accepts {text:?}"
        );
        let fast = parse(text).unwrap_or_else(|| panic!("fast parser refused {text:?}"));
        let slow = KdlDocument::parse_v2(text).unwrap();
        if let Err(e) = same(&fast, &slow) {
            panic!("{text:?}: {e}");
        }
    }
}

#[test]
fn rejected_cases_are_refused() {
    for text in REJECTED {
        assert!(
            KdlDocument::parse_v2(text).is_err(),
            "the crate rejects {text:?}"
        );
        assert!(parse(text).is_none(), "fast parser accepted {text:?}");
    }
}

#[test]
fn values_are_decoded() {
    let doc = parse(
        "n 0x1f -0o17 0b101 1_000 2.5e2 \"a\\tb\\u{e9}\" #\"\\raw\"# \"\"\"\n    x\n      y\n    \"\"\"",
    )
    .unwrap();
    let values: Vec<KdlValue> = doc.nodes()[0]
        .entries()
        .iter()
        .map(|e| e.value().clone())
        .collect();
    assert_eq!(
        values,
        vec![
            KdlValue::Integer(31),
            KdlValue::Integer(-15),
            KdlValue::Integer(5),
            KdlValue::Integer(1000),
            KdlValue::Float(250.0),
            KdlValue::String("a\tb\u{e9}".into()),
            KdlValue::String("\\raw".into()),
            KdlValue::String("x\n  y".into()),
        ]
    );
}

#[test]
fn spans_follow_the_crate() {
    // An entry span covers `key=value` only; a node span runs through its children and the
    // space after them; a children block's span runs from its first node to its last.
    let text = "outer (t)arg {\n    inner 1   \n}  ;";
    let doc = parse(text).unwrap();
    let at = |s: SourceSpan| &text[s.offset()..s.offset() + s.len()];
    let outer = &doc.nodes()[0];
    assert_eq!(at(outer.span()), "outer (t)arg {\n    inner 1   \n}  ");
    assert_eq!(at(outer.name().span()), "outer");
    let e = &outer.entries()[0];
    assert_eq!(at(e.span()), "(t)arg");
    let kids = outer.children().unwrap();
    assert_eq!(at(kids.span()), "inner 1   ");
    assert_eq!(at(doc.span()), at(outer.span()));
    let text = "n key = (u)\"v\"";
    let doc = parse(text).unwrap();
    let e = &doc.nodes()[0].entries()[0];
    assert_eq!(
        &text[e.span().offset()..][..e.span().len()],
        "key = (u)\"v\""
    );
    assert_eq!(e.name().unwrap().span().offset(), 2);
    assert_eq!(e.ty().unwrap().span().offset(), 9);
}

#[test]
fn nesting_is_bounded() {
    let deep = format!("{}{}", "a {".repeat(MAX_NEST + 1), "}".repeat(MAX_NEST + 1));
    assert!(parse(&deep).is_none());
    let ok = format!("{}{}", "a {".repeat(MAX_NEST - 1), "}".repeat(MAX_NEST - 1));
    assert!(parse(&ok).is_some());
    let slashdashes = format!("n {}x", "/-".repeat(MAX_NEST + 1));
    assert!(parse(&slashdashes).is_none());
}

#[test]
fn nested_slashdashed_blocks_take_linear_time() {
    // The crate parses a block's trailing slashdashed nodes twice, which doubles per level;
    // the fast parser must not (the crate is not called here: it would take hours).
    let text = format!("{}{}", "x;/-a {".repeat(60), "}".repeat(60));
    let start = std::time::Instant::now();
    let doc = parse(&text).unwrap();
    assert_eq!(doc.nodes().len(), 1);
    assert!(start.elapsed().as_secs() < 2, "{:?}", start.elapsed());
}

use crate::test_rng::Rng;

/// Valid snippets shaped like trestle specs, covering every construct the parser supports.
const SEEDS: &[&str] = &[
    "workload checkout-api {\n    description \"Public API\"\n    replicas 2\n    container main {\n        image \"ghcr.io/acme/api:1.4.2\"\n        env LOG_LEVEL=info DB=\"${resources.db.host}\"\n        port http 8080\n    }\n    route host=\"shop.example\" path=\"/\" port=http tls=#true\n}\n",
    "environment prod { type production; region eu-west-1 }\nteam t { member a email=\"a@b.c\" }\n",
    "resource-type pg {\n    param size type=string default=small one-of=\"small large\"\n    param gb type=int default=20 min=10 max=2_000\n    output password sensitive=#true\n}\n",
    "n (t)1 0x1F -0o7 0b1_0 1.5e-3 #null #false k=(u)#\"raw\"# \"esc\\n\\u{41}\\s\"\n",
    "/- skipped node { a }\nkept /-arg real /-{ hidden } { child; other 1 }\n",
    "a \\\n    b // note\n/* block /* nested */ */ c; d\n",
    "file \"/etc/x\" content=\"\"\"\n    line one\n      line two\n\n    \"\"\"\nnext 1\n",
    "when env-type=production { replicas 4; resource db size=large }\npolicy p { assert \"object.replicas >= 2\" }\n",
    "\u{FEFF}名前 ünï=\"ß\" x=+5 y=.a z=-\n",
];

const ALPHABET: &[&str] = &[
    "\"", "#", "/", "-", "*", "\\", "{", "}", "(", ")", ";", "=", ".", "+", "0", "1", "9", "e",
    "x", "b", "o", "a", "_", " ", "\n", "\t", "\r", "\"\"\"", "/-", "//", "/*", "*/", "#\"", "\"#",
    "\\u{", "\u{a0}", "\u{2028}", "\u{feff}", "\u{7f}", "ß", "true", "#true", "inf", ",", "'", "[",
    "]", "\u{1}",
];

/// One random edit: delete a range, insert a token, duplicate a range or swap two characters.
fn mutate(rng: &mut Rng, text: &str) -> String {
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    let pick = |rng: &mut Rng| bounds[rng.below(bounds.len())];
    let (mut a, mut b) = (pick(rng), pick(rng));
    if a > b {
        std::mem::swap(&mut a, &mut b);
    }
    match rng.below(4) {
        0 => {
            // Delete a short range.
            let b = bounds
                .iter()
                .copied()
                .find(|&x| x >= a + 1 + rng.below(4))
                .unwrap_or(text.len());
            format!("{}{}", &text[..a], &text[b..])
        }
        1 => {
            let tok = ALPHABET[rng.below(ALPHABET.len())];
            format!("{}{tok}{}", &text[..a], &text[a..])
        }
        2 => {
            let b = bounds
                .iter()
                .copied()
                .find(|&x| x >= a + rng.below(12))
                .unwrap_or(text.len());
            format!("{}{}{}", &text[..b], &text[a..b], &text[b..])
        }
        _ => {
            let ca = text[a..].chars().next();
            let cb = text[b..].chars().next();
            match (ca, cb) {
                (Some(x), Some(y)) if a < b => format!(
                    "{}{y}{}{x}{}",
                    &text[..a],
                    &text[a + x.len_utf8()..b],
                    &text[b + y.len_utf8()..]
                ),
                _ => text.to_string(),
            }
        }
    }
}

#[test]
fn seeds_are_accepted() {
    for s in SEEDS {
        assert_eq!(check(s), Ok(Outcome::Identical), "{s:?}");
    }
}

#[test]
fn randomized_differential() {
    // `KDL_FAST_CASES=1000000 cargo test --release --lib randomized` for a longer hunt.
    let cases = std::env::var("KDL_FAST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3000);
    let seed = std::env::var("KDL_FAST_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0x7265_7374_6c65_6b64);
    let mut rng = Rng(seed);
    let pool: Vec<&str> = SEEDS.iter().chain(ACCEPTED).copied().collect();
    let (mut accepted, mut left, mut total) = (0usize, 0usize, 0usize);
    for _ in 0..cases {
        let mut text = pool[rng.below(pool.len())].to_string();
        for _ in 0..1 + rng.below(3) {
            text = mutate(&mut rng, &text);
        }
        total += 1;
        match check(&text) {
            Ok(Outcome::Identical) => accepted += 1,
            Ok(Outcome::LeftToKdl) => left += 1,
            Ok(_) => {}
            Err(e) => panic!("{text:?}: {e}"),
        }
    }
    // The mutations must leave a fair share valid, or the test checks little.
    eprintln!("{accepted} of {total} mutated texts accepted, {left} valid ones left to the crate");
    assert!(accepted * 5 > total, "only {accepted} of {total} accepted");
}
