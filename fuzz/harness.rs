//! What the fuzz targets do with one input. Shared by `fuzz/fuzz_targets/*.rs` and by
//! `tests/fuzz_regressions.rs`, which replays every file under `fuzz/regressions/` in
//! `cargo test`. A panic, an abort or a hang here is a bug in trestle.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use trestle::diagnostics::{render, Diagnostic};
use trestle::source::{FileId, Origin, SourceFile, Sources};

/// Every label of every diagnostic lies inside its file, on character boundaries.
fn check_spans(diags: &[Diagnostic], sources: &Sources) {
    for d in diags {
        for l in &d.labels {
            let text = &sources.get(l.span.file).text;
            let (s, e) = (l.span.start as usize, l.span.end as usize);
            assert!(
                s <= e && e <= text.len() && text.is_char_boundary(s) && text.is_char_boundary(e),
                "{} label {s}..{e} outside its file of {} bytes: {d:?}",
                d.code,
                text.len()
            );
        }
    }
}

/// The front end on one file: bytes -> parse and lower -> diagnostics in every format; and the
/// fast KDL parser against the `kdl` crate.
pub fn frontend(data: &[u8]) {
    // Non-UTF-8 files never reach the parser (T102); replace bad bytes to get past that.
    let text = String::from_utf8_lossy(data).into_owned();
    // Wherever the fast KDL parser accepts a text, the `kdl` crate must accept it too and
    // produce the same document.
    if let Err(e) = trestle::kdl_fast::check(&text) {
        panic!("the fast KDL parser differs from the kdl crate: {e}");
    }
    let (_, diags) = trestle::parse::parse_text(FileId(0), &text);
    let mut sources = Sources::new(PathBuf::from("fuzz"));
    sources.add(SourceFile::new(
        "fuzz.kdl".into(),
        None,
        Arc::from(text),
        Origin::Tree,
    ));
    check_spans(&diags, &sources);
    let _ = render::human(&diags, &sources, false);
    let _ = render::json(&diags, &sources);
}

/// The fixed part of the tree the `compile` target writes: environments and an organisation.
const PLATFORM: &str = r#"
environment dev {
    type development
    region eu-west-1
    terraform {
        provider aws source="hashicorp/aws" version="~> 5.0" region=eu-west-1
    }
}
environment prod {
    type production
    region eu-west-1
    ingress-class nginx
}
team core {
    title "Core"
    email "core@example.com"
    member ada email="ada@example.com"
}
system shop { owner core; description "Shop"; }
"#;

/// The whole compile of a small tree. The input is a spec file, then a 0xFF byte, then a
/// template that is written both as `templates/t.tf.hbs` and `templates/t.yaml.hbs`. `dir`
/// is a scratch directory that this function owns.
pub fn compile(data: &[u8], dir: &Path) {
    let (spec, template) = match data.iter().position(|&b| b == 0xFF) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b""[..]),
    };
    let write = |rel: &str, bytes: &[u8]| {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().expect("a relative path has a parent"))
            .expect("the scratch directory is writable");
        std::fs::write(path, bytes).expect("the scratch directory is writable");
    };
    write("platform.kdl", PLATFORM.as_bytes());
    write("app.kdl", spec);
    write("templates/t.tf.hbs", template);
    write("templates/t.yaml.hbs", template);
    write("config/app.yaml", b"greeting: hello\n");

    let options = trestle::Options {
        today: trestle::policy::waivers::parse_date("2026-01-01"),
        ..Default::default()
    };
    let outcome = trestle::compile(dir, &options);
    check_spans(&outcome.diags, &outcome.sources);
    let _ = render::human(&outcome.diags, &outcome.sources, false);
    let _ = render::json(&outcome.diags, &outcome.sources);
    if !outcome.has_errors() {
        // A tree that compiles without errors can always be written.
        let out = dir.join("out-never-created");
        if let Err(errors) = trestle::write::plan(&out, &outcome.artifacts, &Default::default()) {
            let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
            panic!("compiled without errors but cannot be written: {errors:?}");
        }
    }
}

/// The fast YAML reader on any text: it declines (`None`) or agrees exactly with the
/// serde_yaml_ng path, errors included (it may only return what that path returns as `Ok`).
pub fn yaml(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Some(docs) = trestle::yaml::fast::parse(&text) {
        assert_eq!(
            Ok(&docs),
            trestle::yaml::from_yaml_str_serde(&text).as_ref(),
            "{text:?}"
        );
    }
}
