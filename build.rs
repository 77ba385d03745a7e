//! Embeds the built-in platform (src/platform/*.kdl and templates/) so the list cannot drift.

use std::fmt::Write;
use std::path::Path;

fn main() {
    let dir = Path::new("src/platform");
    println!("cargo:rerun-if-changed=src/platform");
    let mut kdl = Vec::new();
    let mut templates = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        println!("cargo:rerun-if-changed={}", d.display());
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p
                .strip_prefix(dir)
                .expect("walked below src/platform")
                .to_string_lossy()
                .replace('\\', "/");
            if rel.ends_with(".kdl") {
                kdl.push(rel);
            } else if rel.ends_with(".hbs") {
                templates.push(rel);
            }
        }
    }
    kdl.sort();
    templates.sort();
    let mut out = String::new();
    let abs = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let line = |out: &mut String, rel: &str| {
        let _ = writeln!(
            out,
            "    ({rel:?}, include_str!({:?})),",
            format!("{abs}/src/platform/{rel}")
        );
    };
    out.push_str(
        "/// Built-in KDL files: (name, text).\npub const KDL_FILES: &[(&str, &str)] = &[\n",
    );
    for k in &kdl {
        line(&mut out, k);
    }
    out.push_str("];\n/// Built-in templates: (path relative to the platform folder, text).\npub const TEMPLATES: &[(&str, &str)] = &[\n");
    for t in &templates {
        line(&mut out, t);
    }
    out.push_str("];\n");
    let dest =
        Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("platform_files.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}
