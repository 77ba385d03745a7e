//! `trestle init DIR`: a small starter spec tree that builds as it is, using the built-in
//! platform (SPEC section 9). Its comments teach the language. The files live in
//! `src/init/starter/` and are embedded in the binary; a test builds them.

use std::path::{Path, PathBuf};

/// The starter tree: (path relative to DIR, text).
pub const FILES: &[(&str, &str)] = &[
    ("org.kdl", include_str!("starter/org.kdl")),
    ("environments.kdl", include_str!("starter/environments.kdl")),
    ("policies.kdl", include_str!("starter/policies.kdl")),
    (
        "apps/hello-api.kdl",
        include_str!("starter/apps/hello-api.kdl"),
    ),
];

/// Why `init` wrote nothing.
#[derive(Debug)]
pub enum InitError {
    /// These starter files already exist; nothing was written.
    Exists(Vec<PathBuf>),
    /// A file could not be written.
    Io(PathBuf, std::io::Error),
}

impl std::fmt::Display for InitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InitError::Exists(paths) => {
                let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
                write!(
                    f,
                    "refusing to overwrite existing file{}: {}",
                    if list.len() == 1 { "" } else { "s" },
                    list.join(", ")
                )
            }
            InitError::Io(p, e) => write!(f, "cannot write `{}`: {e}", p.display()),
        }
    }
}

/// Write the starter tree into `dir` (created when missing). If any of its files exists,
/// nothing is written. Returns the paths written.
pub fn init(dir: &Path) -> Result<Vec<PathBuf>, InitError> {
    let paths: Vec<PathBuf> = FILES.iter().map(|(rel, _)| dir.join(rel)).collect();
    // `symlink_metadata`: a dangling symlink is in the way too.
    let existing: Vec<PathBuf> = paths
        .iter()
        .filter(|p| p.symlink_metadata().is_ok())
        .cloned()
        .collect();
    if !existing.is_empty() {
        return Err(InitError::Exists(existing));
    }
    for (path, (_, text)) in paths.iter().zip(FILES) {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| InitError::Io(parent.to_path_buf(), e))?;
        }
        // `create_new`: never clobber a file that appeared since the check above.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| InitError::Io(path.clone(), e))?;
        std::io::Write::write_all(&mut f, text.as_bytes())
            .map_err(|e| InitError::Io(path.clone(), e))?;
    }
    Ok(paths)
}

/// `trestle init DIR`; returns the exit code.
pub fn cmd(dir: &Path) -> i32 {
    use crate::cli::exit;
    match init(dir) {
        Ok(paths) => {
            for p in &paths {
                eprintln!("created {}", p.display());
            }
            let d = dir.display();
            eprintln!(
                "\nNext steps:\n  trestle build {d} --out {d}/out     # compile it; look at {d}/out\n  trestle why {d} hello-api.replicas --env prod\n  trestle fmt --check {d}"
            );
            exit::OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            if matches!(e, InitError::Exists(_)) {
                eprintln!("nothing was written; choose an empty folder, or move those files away");
            }
            exit::USAGE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starter_files_are_formatted() {
        for (name, text) in FILES {
            let formatted = crate::format::format_source(text).expect("starter parses");
            assert_eq!(&formatted, text, "{name} is not `trestle fmt`-clean");
        }
    }

    #[test]
    fn refuses_to_overwrite_and_writes_nothing() {
        let tmp = tempfile::tempdir().expect("temp dir");
        std::fs::write(tmp.path().join("policies.kdl"), "// mine\n").expect("write");
        match init(tmp.path()) {
            Err(InitError::Exists(p)) => assert_eq!(p, vec![tmp.path().join("policies.kdl")]),
            other => panic!("expected Exists, got {other:?}"),
        }
        assert!(!tmp.path().join("org.kdl").exists(), "nothing else written");
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("policies.kdl")).expect("read"),
            "// mine\n"
        );
    }
}
