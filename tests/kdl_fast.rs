#![allow(clippy::unwrap_used)]
//! The fast KDL parser (`src/kdl_fast.rs`) against the `kdl` crate on every KDL text the
//! project has: specs, fixtures, the built-in platform, the `init` starter, the docs' code
//! blocks, the fuzz seeds and corpora, and a generated tree. Wherever the fast parser accepts
//! a text, the crate must accept it too and produce the same document (names, types, entries,
//! values, children, spans); the files trestle reads at scale must all be accepted, or there
//! is no speed-up.

use std::path::{Path, PathBuf};

use trestle::kdl_fast;

#[allow(dead_code)]
#[path = "../examples/gen.rs"]
mod gen;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every file under `dir` (relative to the crate) whose name ends with `ext` (any if empty).
fn files(dir: &str, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = walkdir::WalkDir::new(root().join(dir))
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| ext.is_empty() || p.to_string_lossy().ends_with(ext))
        .collect();
    out.sort();
    out
}

fn text_of(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned()
}

/// Run the differential check on each text: the number the fast parser accepted (with the
/// same document as the crate), and the names of those it refused although the crate accepts
/// them. Runs on a thread with a large stack: in debug builds the crate's recursive parser
/// needs more than the 2 MiB of a test thread on inputs nested about 60 deep.
fn check_all(texts: &[(String, String)]) -> (usize, Vec<String>) {
    let texts = texts.to_vec();
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || check_texts(&texts))
        .unwrap()
        .join()
        .unwrap()
}

fn check_texts(texts: &[(String, String)]) -> (usize, Vec<String>) {
    let mut failures = Vec::new();
    let mut refused = Vec::new();
    let mut identical = 0;
    for (name, text) in texts {
        match kdl_fast::check(text) {
            Ok(kdl_fast::Outcome::LeftToKdl) => {
                if std::env::var_os("KDL_FAST_TRACE").is_some() {
                    eprintln!("left to kdl: {name}");
                }
                refused.push(name.clone())
            }
            Ok(kdl_fast::Outcome::Identical) => identical += 1,
            Ok(_) => {}
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    (identical, refused)
}

fn named(paths: Vec<PathBuf>) -> Vec<(String, String)> {
    paths
        .into_iter()
        .map(|p| (p.display().to_string(), text_of(&p)))
        .collect()
}

/// ```kdl code blocks of the docs and the README.
fn doc_blocks() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut pages = files("docs", ".md");
    pages.push(root().join("README.md"));
    for page in pages {
        let text = text_of(&page);
        let mut lines = text.lines();
        let mut n = 0;
        while let Some(line) = lines.next() {
            let Some(info) = line.strip_prefix("```") else {
                continue;
            };
            let kdl = info.split_whitespace().next() == Some("kdl");
            let mut block = String::new();
            for l in lines.by_ref() {
                if l.starts_with("```") {
                    break;
                }
                block.push_str(l);
                block.push('\n');
            }
            if kdl {
                n += 1;
                out.push((format!("{} block {n}", page.display()), block));
            }
        }
    }
    assert!(out.len() >= 10, "found the docs' kdl blocks: {}", out.len());
    out
}

#[test]
fn project_files_are_accepted_and_identical() {
    // Every valid file must be accepted (a few under specs/ and fixtures/ are invalid on
    // purpose: ignored drafts, syntax-error fixtures).
    let mut texts = named(files("specs", ".kdl"));
    texts.extend(named(files("src/platform", ".kdl")));
    texts.extend(named(files("src/init/starter", ".kdl")));
    let (identical, refused) = check_all(&texts);
    assert!(refused.is_empty(), "valid files refused: {refused:?}");
    assert!(
        identical + 2 >= texts.len() && identical > 20,
        "{identical} of {}",
        texts.len()
    );

    let fixtures = named(files("fixtures", ".kdl"));
    let (identical, refused) = check_all(&fixtures);
    assert!(refused.is_empty(), "valid fixtures refused: {refused:?}");
    assert!(identical > 100, "{identical} of {}", fixtures.len());

    let blocks = doc_blocks();
    let (identical, refused) = check_all(&blocks);
    assert!(refused.is_empty(), "valid doc blocks refused: {refused:?}");
    assert!(identical >= 10, "{identical} of {}", blocks.len());
}

#[test]
fn generated_tree_is_accepted_and_identical() {
    let tmp = tempfile::tempdir().unwrap();
    gen::generate(60, tmp.path()).unwrap();
    let texts: Vec<(String, String)> = walkdir::WalkDir::new(tmp.path())
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().display().to_string(), text_of(e.path())))
        .collect();
    assert!(texts.len() > 60);
    let (identical, _) = check_all(&texts);
    assert_eq!(identical, texts.len(), "every generated file is accepted");
}

#[test]
fn fuzz_inputs_agree() {
    let mut texts = named(files("fuzz/seeds/frontend", ""));
    texts.extend(named(files("fuzz/regressions", ".kdl")));
    texts.extend(named(files("fuzz/corpus/frontend", "")));
    // `compile` inputs are a spec file, a 0xFF byte and a template.
    for p in files("fuzz/corpus/compile", "") {
        let bytes = std::fs::read(&p).unwrap();
        let spec = bytes.split(|&b| b == 0xFF).next().unwrap_or_default();
        texts.push((
            p.display().to_string(),
            String::from_utf8_lossy(spec).into_owned(),
        ));
    }
    assert!(texts.len() > 1000, "the corpora are there: {}", texts.len());
    let (identical, refused) = check_all(&texts);
    eprintln!(
        "{} fuzz inputs: {identical} accepted and identical, {} valid ones left to the kdl crate",
        texts.len(),
        refused.len()
    );
    assert!(identical > 500);
}

/// Parse throughput of both parsers, one thread, over the `.kdl` files of `KDL_BENCH_DIR`
/// (default: a generated 1,000-workload tree):
/// `cargo test --release --test kdl_fast -- --ignored --nocapture throughput`.
#[test]
#[ignore]
fn throughput() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = match std::env::var_os("KDL_BENCH_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            gen::generate(1000, tmp.path()).unwrap();
            tmp.path().to_path_buf()
        }
    };
    let texts: Vec<String> = walkdir::WalkDir::new(&dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.path().extension().is_some_and(|x| x == "kdl"))
        .map(|e| text_of(e.path()))
        .collect();
    let bytes: usize = texts.iter().map(String::len).sum();
    let rate = |parse: &dyn Fn(&str) -> bool| {
        let start = std::time::Instant::now();
        let mut rounds = 0;
        while rounds < 2 || start.elapsed().as_secs_f64() < 3.0 {
            for t in &texts {
                assert!(parse(t));
            }
            rounds += 1;
        }
        (bytes * rounds) as f64 / start.elapsed().as_secs_f64() / 1e6
    };
    let fast = rate(&|t| kdl_fast::parse(t).is_some());
    if std::env::var_os("KDL_BENCH_FAST_ONLY").is_some() {
        eprintln!("kdl_fast {fast:.1} MB/s");
        return;
    }
    let slow = rate(&|t| kdl::KdlDocument::parse_v2(t).is_ok());
    eprintln!(
        "{} files, {:.2} MB: kdl_fast {fast:.1} MB/s, kdl crate {slow:.2} MB/s ({:.0}x)",
        texts.len(),
        bytes as f64 / 1e6,
        fast / slow
    );
}
