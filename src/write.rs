//! The output tree writer behind `build --out`, `check --out` and `diff --out` (SPEC 4–6).
//!
//! Writing is split in two steps so that `check` and `diff` share every decision with
//! `build`: [`plan`] reads OUT and classifies each path without writing anything, and
//! [`apply`] carries the plan out. The rules, and the decisions where the spec is silent:
//!
//! - **Ownership** comes from `OUT/.trestle/manifest.json` (`{"generator": "trestle",
//!   "version": 1, "files": {PATH: "sha256:HEX"}}`). A path listed there is *owned*: it
//!   is overwritten when its content changes (even if someone edited it by hand; see
//!   [`Plan::hand_edited`]) and deleted when no longer produced. Any other file is
//!   *foreign* and never touched, except that a foreign file whose bytes already equal
//!   the generated content is *adopted* (recorded in the manifest, not rewritten).
//! - **Conflicts**: a foreign file with different bytes, a directory that holds anything
//!   but files about to be removed, a symlink (never followed, even when it points back
//!   into OUT) or any other non-regular file on a generated path or on one of its parent
//!   directories is a [`WriteError::Conflict`]. [`plan`] reports all of them at once.
//! - **A corrupt manifest is an error** ([`WriteError::BadManifest`]), never "no
//!   manifest": silently treating owned files as foreign would turn every changed file
//!   into a conflict and leak stale ones forever, and trusting a half-read manifest
//!   could delete the wrong files. The message tells the user to delete the manifest to
//!   start over; then identical files are adopted and differing ones reported. A
//!   manifest entry that is not a safe path is corrupt too, so a tampered manifest
//!   cannot make trestle delete anything outside OUT.
//! - **Scope**: with `--env`, only paths under those environments and `catalog/` are
//!   written, pruned or re-recorded; artifacts outside the scope are ignored and the
//!   manifest keeps the previous entries for them unchanged.
//! - **Order in [`apply`]**: removals first (so a generated file can replace a directory
//!   of stale files and vice versa), then writes, then the manifest, last. Every file is
//!   written to `.NAME.trestle-tmp` next to it and renamed, so an interrupted run leaves
//!   each file either old or new; the temporary name is reserved for trestle. Files are
//!   written in parallel and only the manifest is fsynced (syncing every file of a large
//!   build took tens of seconds; a rebuild repairs what a power loss tore).
//! - **Unchanged files and an unchanged manifest are not rewritten** (no mtime churn).
//!   Comparison is against the bytes on disk, not the manifest hash, so `check` also
//!   notices hand edits.
//! - **Pruning directories**: after deleting a file, its now-empty parent directories
//!   are removed up to (not including) OUT, unless a generated file still lives below
//!   them. Only empty directories are ever removed, so one holding a foreign file stays.
//! - An owned path that is no longer produced and is already gone, or has become a
//!   directory or symlink, or sits below a symlink, is left alone and only dropped from
//!   the manifest.
//! - Error paths are relative to OUT with `/` separators; errors about OUT itself carry
//!   OUT as given.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::{self, Write as _};
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use similar::{ChangeTag, TextDiff};

/// Everything one build produces: relative '/'-separated paths -> bytes. BTreeMap for determinism.
pub type Artifacts = BTreeMap<String, Vec<u8>>;

/// The folder inside OUT that trestle keeps for itself.
pub const STATE_DIR: &str = ".trestle";
/// The manifest's path relative to OUT.
pub const MANIFEST_PATH: &str = ".trestle/manifest.json";
/// The top-level folder that every scope owns, because the catalog covers every environment.
pub const CATALOG_DIR: &str = "catalog";

/// Suffix of the temporary files used for atomic writes; generated paths may not use it.
const TMP_SUFFIX: &str = ".trestle-tmp";
const GENERATOR: &str = "trestle";
const MANIFEST_VERSION: u64 = 1;

/// Which part of OUT this run owns: `None` = everything; `Some(envs)` = those environments plus `catalog/`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// The environments selected with `--env`, or `None` for all of OUT.
    pub envs: Option<BTreeSet<String>>,
}

impl Scope {
    /// A scope that owns all of OUT (no `--env`).
    pub fn all() -> Self {
        Scope { envs: None }
    }

    /// A scope limited to the given environments (and `catalog/`).
    pub fn envs<I: IntoIterator<Item = S>, S: Into<String>>(envs: I) -> Self {
        Scope {
            envs: Some(envs.into_iter().map(Into::into).collect()),
        }
    }

    /// Whether this run may write, prune or re-record the (safe, relative) `path`.
    pub fn owns(&self, path: &str) -> bool {
        match &self.envs {
            None => true,
            Some(envs) => {
                let first = path.split('/').next().unwrap_or(path);
                first == CATALOG_DIR || envs.contains(first)
            }
        }
    }
}

/// What [`apply`] will do to one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Change {
    /// The path does not exist yet (or is a directory of files about to be removed).
    Create,
    /// The path is owned and its bytes differ.
    Update,
    /// The path is owned and already holds the generated bytes.
    Unchanged,
    /// The file existed, is not in the manifest, and its bytes already equal the new content.
    Adopt,
    /// Owned by the previous manifest, no longer produced, in scope: it will be deleted.
    Remove,
}

/// Everything [`apply`] needs, computed by [`plan`] from one read of OUT.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The output directory.
    pub out: PathBuf,
    /// Every in-scope path that is produced or removed, sorted by path.
    pub entries: Vec<(String, Change)>,
    /// Bytes on disk before this run, for `Update` and `Remove` entries (diffs show them).
    old: BTreeMap<String, Vec<u8>>,
    /// `sha256:HEX` of the new content of every in-scope artifact, to catch artifacts
    /// that changed between `plan` and `apply`.
    hashes: BTreeMap<String, String>,
    /// The serialized manifest this run leaves behind.
    manifest: Vec<u8>,
    /// Whether `manifest` differs from the bytes on disk (or there are none).
    manifest_changed: bool,
    /// Directories that still hold generated files, so pruning stops there.
    keep_dirs: BTreeSet<String>,
    /// Owned files whose bytes on disk differ from what trestle last wrote.
    hand_edited: Vec<String>,
    /// OUT did not exist: `apply` builds the whole tree in a staging folder next to it and
    /// renames that into place.
    fresh: bool,
}

/// Counts of what [`apply`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Files created or updated.
    pub written: usize,
    /// Owned files left as they were.
    pub unchanged: usize,
    /// Foreign files with identical bytes that are now owned.
    pub adopted: usize,
    /// Stale owned files deleted.
    pub removed: usize,
}

/// Why OUT cannot be planned or written.
#[derive(Debug)]
pub enum WriteError {
    /// A foreign file, directory or symlink is in the way of a generated file.
    Conflict {
        /// The blocking path, relative to OUT.
        path: String,
    },
    /// A generated path that could escape OUT or clash with trestle's own files.
    UnsafePath {
        /// The offending path as given.
        path: String,
    },
    /// Reading or writing failed.
    Io {
        /// The path being read or written, relative to OUT (or OUT itself).
        path: String,
        /// The underlying error.
        error: io::Error,
    },
    /// `.trestle/manifest.json` exists but cannot be trusted.
    BadManifest {
        /// The manifest's path, relative to OUT.
        path: String,
        /// What is wrong with it.
        message: String,
    },
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::Conflict { path } => write!(
                f,
                "{path}: in the way of a generated file: trestle did not write it (it is not \
                 in {MANIFEST_PATH}) and it is a different file, a directory or a symlink; \
                 move it away or make its contents match"
            ),
            WriteError::UnsafePath { path } => write!(
                f,
                "{path:?}: not a safe output path: it must be relative and '/'-separated, \
                 without empty, '.' or '..' components or backslashes, not under \
                 {STATE_DIR}/, not ending in {TMP_SUFFIX}, and not both a file and a folder"
            ),
            WriteError::Io { path, error } => write!(f, "{path}: {error}"),
            WriteError::BadManifest { path, message } => write!(
                f,
                "{path}: not a valid trestle manifest: {message} (delete it to start over; \
                 identical files will be adopted)"
            ),
        }
    }
}

impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WriteError::Io { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// The manifest as stored; field order here is the order in the file.
#[derive(Debug, Serialize, Deserialize)]
struct ManifestFile {
    generator: String,
    version: u64,
    files: BTreeMap<String, String>,
}

/// What `symlink_metadata` found at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Missing,
    Dir,
    File,
    Symlink,
    Other,
}

fn io_err(path: &str, error: io::Error) -> WriteError {
    WriteError::Io {
        path: path.to_string(),
        error,
    }
}

/// `sha256:` and the lower-case hex digest of `bytes`, as stored in the manifest.
pub fn content_hash(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(7 + 64);
    s.push_str("sha256:");
    for b in digest {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    s
}

fn is_hash(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Whether `path` is a relative, '/'-separated path that stays inside OUT and off trestle's own files.
pub fn is_safe_path(path: &str) -> bool {
    if path.is_empty() || path.contains('\\') || path.contains('\0') {
        return false;
    }
    let mut components = path.split('/');
    // Case-insensitive so that `.TRESTLE/` cannot alias the state folder on macOS or Windows.
    if components
        .next()
        .is_none_or(|first| first.eq_ignore_ascii_case(STATE_DIR))
    {
        return false;
    }
    if path
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return false;
    }
    // A generated `.x.trestle-tmp` could be clobbered by the atomic write of `x`.
    !path.ends_with(TMP_SUFFIX)
}

/// Generated paths that would land on the same file: the same path twice, or paths (or
/// folders on the way) that differ only in letter case, which are one file on the
/// case-insensitive file systems of macOS and Windows. Each pair is (earlier, later) in the
/// given order; one pair per colliding path.
pub fn collisions<'a>(paths: impl IntoIterator<Item = &'a str>) -> Vec<(String, String)> {
    // Lower-cased, without allocating for the usual all-lower-case ASCII path.
    fn fold(s: &str) -> std::borrow::Cow<'_, str> {
        if s.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
            s.to_lowercase().into()
        } else {
            s.into()
        }
    }
    // Folded spelling -> the first spelling seen, for files and for every folder prefix.
    let mut files: HashMap<std::borrow::Cow<'_, str>, &str> = HashMap::new();
    let mut dirs: HashMap<std::borrow::Cow<'_, str>, (&str, &str)> = HashMap::new();
    let mut out = Vec::new();
    for path in paths {
        if let Some(first) = files.insert(fold(path), path) {
            out.push((first.to_string(), path.to_string()));
            continue;
        }
        for (i, _) in path.match_indices('/') {
            let dir = &path[..=i];
            // Lower-casing can change byte lengths, so fold the prefix on its own.
            match dirs.entry(fold(dir)) {
                std::collections::hash_map::Entry::Occupied(e) if e.get().0 != dir => {
                    out.push((e.get().1.to_string(), path.to_string()));
                    break;
                }
                std::collections::hash_map::Entry::Occupied(_) => {}
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert((dir, path));
                }
            }
        }
    }
    out
}

/// OUT joined with a safe relative path, one component at a time.
fn join(out: &Path, rel: &str) -> PathBuf {
    let mut p = out.to_path_buf();
    p.extend(rel.split('/'));
    p
}

/// The proper ancestors of `rel`, shortest first: `a/b/c` gives `a`, `a/b`.
fn ancestors(rel: &str) -> impl Iterator<Item = &str> {
    rel.match_indices('/').map(move |(i, _)| &rel[..i])
}

/// Looks at a path without following symlinks; a missing path or a file where a parent
/// directory should be both count as missing.
fn kind_of(path: &Path) -> io::Result<Kind> {
    match fs::symlink_metadata(path) {
        Ok(m) => {
            let t = m.file_type();
            Ok(if t.is_symlink() {
                Kind::Symlink
            } else if t.is_dir() {
                Kind::Dir
            } else if t.is_file() {
                Kind::File
            } else {
                Kind::Other
            })
        }
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(Kind::Missing)
        }
        Err(e) => Err(e),
    }
}

/// Memoised [`kind_of`] for relative paths, since many artifacts share parents.
struct Probe<'a> {
    out: &'a Path,
    cache: HashMap<String, Kind>,
}

impl Probe<'_> {
    fn kind(&mut self, rel: &str) -> Result<Kind, WriteError> {
        if let Some(k) = self.cache.get(rel) {
            return Ok(*k);
        }
        let k = kind_of(&join(self.out, rel)).map_err(|e| io_err(rel, e))?;
        self.cache.insert(rel.to_string(), k);
        Ok(k)
    }
}

/// The previous run's manifest: who owns what, and the exact bytes (to skip rewriting it).
#[derive(Default)]
struct OldManifest {
    files: BTreeMap<String, String>,
    bytes: Option<Vec<u8>>,
}

/// Reads and validates the previous manifest; no manifest at all means nothing is owned.
fn read_manifest(out: &Path) -> Result<OldManifest, WriteError> {
    let bad = |message: String| WriteError::BadManifest {
        path: MANIFEST_PATH.to_string(),
        message,
    };
    // The state folder and manifest are written through, so they must not be symlinks.
    match kind_of(&out.join(STATE_DIR)).map_err(|e| io_err(STATE_DIR, e))? {
        Kind::Missing => return Ok(OldManifest::default()),
        Kind::Dir => {}
        _ => return Err(bad(format!("{STATE_DIR} is not a directory"))),
    }
    let path = join(out, MANIFEST_PATH);
    match kind_of(&path).map_err(|e| io_err(MANIFEST_PATH, e))? {
        Kind::Missing => return Ok(OldManifest::default()),
        Kind::File => {}
        _ => return Err(bad("not a regular file".to_string())),
    }
    let bytes = fs::read(&path).map_err(|e| io_err(MANIFEST_PATH, e))?;
    let parsed: ManifestFile = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    if parsed.generator != GENERATOR {
        return Err(bad(format!(
            "generator is {:?}, expected {GENERATOR:?}",
            parsed.generator
        )));
    }
    if parsed.version != MANIFEST_VERSION {
        return Err(bad(format!(
            "version {} is not supported (this trestle writes version {MANIFEST_VERSION})",
            parsed.version
        )));
    }
    for (p, h) in &parsed.files {
        if !is_safe_path(p) {
            return Err(bad(format!("entry {p:?} is not a safe output path")));
        }
        if !is_hash(h) {
            return Err(bad(format!(
                "entry {p:?} has hash {h:?}, expected sha256:<64 hex digits>"
            )));
        }
    }
    Ok(OldManifest {
        files: parsed.files,
        bytes: Some(bytes),
    })
}

/// Paths that are unsafe, or that are a file and a folder at once (another path lies below them).
fn unsafe_paths(paths: &BTreeSet<&str>) -> Vec<WriteError> {
    paths
        .iter()
        .filter(|path| {
            // The first path after "p/" in sort order starts with "p/" exactly when some path
            // lies below p.
            let below = format!("{path}/");
            !is_safe_path(path)
                || paths
                    .range(below.as_str()..)
                    .next()
                    .is_some_and(|k| k.starts_with(&below))
        })
        .map(|path| WriteError::UnsafePath {
            path: path.to_string(),
        })
        .collect()
}

/// Serializes a manifest: pretty JSON, keys sorted, trailing newline.
fn render_manifest(files: &BTreeMap<String, String>) -> Result<Vec<u8>, WriteError> {
    let m = ManifestFile {
        generator: GENERATOR.to_string(),
        version: MANIFEST_VERSION,
        files: files.clone(),
    };
    let mut bytes = serde_json::to_vec_pretty(&m).map_err(|e| WriteError::BadManifest {
        path: MANIFEST_PATH.to_string(),
        message: e.to_string(),
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Whether the directory `rel` holds nothing but (possibly nested, possibly empty)
/// directories and files that this run removes, so a generated file may replace it.
fn holds_only_removed(out: &Path, rel: &str, removed: &BTreeSet<String>) -> io::Result<bool> {
    for entry in fs::read_dir(join(out, rel))? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            return Ok(false);
        };
        let child = format!("{rel}/{name}");
        let t = entry.file_type()?;
        let ok = if t.is_dir() {
            holds_only_removed(out, &child, removed)?
        } else {
            t.is_file() && removed.contains(&child)
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The bytes at an artifact's path in OUT, if readable; borrowed from the artifact when equal.
type OnDisk<'a> = Option<std::borrow::Cow<'a, [u8]>>;

/// Reads OUT and decides what building `artifacts` within `scope` would change; never writes.
pub fn plan(out: &Path, artifacts: &Artifacts, scope: &Scope) -> Result<Plan, Vec<WriteError>> {
    let mut errors = unsafe_paths(&artifacts.keys().map(String::as_str).collect());
    if !errors.is_empty() {
        return Err(errors);
    }

    let out_kind = kind_of(out);
    let fresh = matches!(out_kind, Ok(Kind::Missing));
    match out_kind {
        Ok(Kind::Missing) | Ok(Kind::Dir) => {}
        // OUT itself is the user's choice, so a symlink to a directory is followed.
        Ok(Kind::Symlink) if out.is_dir() => {}
        Ok(_) => {
            return Err(vec![io_err(
                &out.display().to_string(),
                io::Error::new(
                    io::ErrorKind::NotADirectory,
                    "output path is not a directory",
                ),
            )])
        }
        Err(e) => return Err(vec![io_err(&out.display().to_string(), e)]),
    }

    let OldManifest {
        files: old_files,
        bytes: old_manifest_bytes,
    } = read_manifest(out).map_err(|e| vec![e])?;
    let mut probe = Probe {
        out,
        cache: HashMap::new(),
    };
    let mut entries: BTreeMap<String, Change> = BTreeMap::new();
    let mut old: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut hand_edited = Vec::new();

    // Removals first: whether an old file goes away decides whether a new path is free.
    let mut removed = BTreeSet::new();
    'stale: for (path, hash) in &old_files {
        if artifacts.contains_key(path) || !scope.owns(path) {
            continue;
        }
        for dir in ancestors(path) {
            match probe.kind(dir) {
                Ok(Kind::Dir) => {}
                // Gone, or below something that is no longer our folder: leave it alone.
                Ok(_) => continue 'stale,
                Err(e) => {
                    errors.push(e);
                    continue 'stale;
                }
            }
        }
        match probe.kind(path) {
            Ok(Kind::File) => match fs::read(join(out, path)) {
                Ok(bytes) => {
                    if content_hash(&bytes) != *hash {
                        hand_edited.push(path.clone());
                    }
                    old.insert(path.clone(), bytes);
                    entries.insert(path.clone(), Change::Remove);
                    removed.insert(path.clone());
                }
                Err(e) => errors.push(io_err(path, e)),
            },
            Ok(_) => {}
            Err(e) => errors.push(e),
        }
    }

    // Hash every artifact and read what is on disk at its path in parallel; the decisions
    // below stay sequential. A read that went through a symlink is never used: the path is
    // only compared when it and its folders are plain files and folders.
    // A file that already holds the artifact's bytes is not kept: the artifact stands in for it
    // (at monorepo scale, keeping both doubled the memory of `check`).
    let prefetched: HashMap<&str, (String, OnDisk<'_>)> = {
        use rayon::prelude::*;
        artifacts
            .par_iter()
            .filter(|(path, _)| scope.owns(path))
            .map(|(path, bytes)| {
                // A fresh OUT holds nothing to read.
                let current = if fresh {
                    None
                } else {
                    fs::read(join(out, path)).ok()
                };
                let current = current.map(|b| {
                    if b == *bytes {
                        std::borrow::Cow::Borrowed(bytes.as_slice())
                    } else {
                        std::borrow::Cow::Owned(b)
                    }
                });
                (path.as_str(), (content_hash(bytes), current))
            })
            .collect()
    };
    let mut conflicts = BTreeSet::new();
    let mut hashes = BTreeMap::new();
    let mut keep_dirs = BTreeSet::new();
    'artifact: for (path, bytes) in artifacts {
        let Some((hash, current)) = prefetched.get(path.as_str()) else {
            continue;
        };
        hashes.insert(path.clone(), hash.clone());
        keep_dirs.extend(ancestors(path).map(str::to_string));
        let mut parent_missing = false;
        for dir in ancestors(path) {
            match probe.kind(dir) {
                Ok(Kind::Dir) => {}
                Ok(Kind::Missing) => {
                    parent_missing = true;
                    break;
                }
                Ok(Kind::File) if removed.contains(dir) => {
                    parent_missing = true;
                    break;
                }
                Ok(_) => {
                    conflicts.insert(dir.to_string());
                    continue 'artifact;
                }
                Err(e) => {
                    errors.push(e);
                    continue 'artifact;
                }
            }
        }
        if parent_missing {
            entries.insert(path.clone(), Change::Create);
            continue;
        }
        let owned = old_files.get(path);
        let change = match probe.kind(path) {
            Ok(Kind::Missing) => Change::Create,
            Ok(Kind::Dir) => match holds_only_removed(out, path, &removed) {
                Ok(true) => Change::Create,
                Ok(false) => {
                    conflicts.insert(path.clone());
                    continue;
                }
                Err(e) => {
                    errors.push(io_err(path, e));
                    continue;
                }
            },
            Ok(Kind::File) => {
                let current: std::borrow::Cow<'_, [u8]> = match current {
                    Some(b) => std::borrow::Cow::Borrowed(&**b),
                    None => match fs::read(join(out, path)) {
                        Ok(b) => b.into(),
                        Err(e) => {
                            errors.push(io_err(path, e));
                            continue;
                        }
                    },
                };
                match (owned, *current == **bytes) {
                    (Some(_), true) => Change::Unchanged,
                    (None, true) => Change::Adopt,
                    (Some(h), false) => {
                        if content_hash(&current) != *h {
                            hand_edited.push(path.clone());
                        }
                        old.insert(path.clone(), current.into_owned());
                        Change::Update
                    }
                    (None, false) => {
                        conflicts.insert(path.clone());
                        continue;
                    }
                }
            }
            Ok(Kind::Symlink) | Ok(Kind::Other) => {
                conflicts.insert(path.clone());
                continue;
            }
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        entries.insert(path.clone(), change);
    }
    errors.extend(
        conflicts
            .into_iter()
            .map(|path| WriteError::Conflict { path }),
    );
    if !errors.is_empty() {
        return Err(errors);
    }

    // Out-of-scope entries survive as they were; in-scope ones are exactly what this run produced.
    let mut new_files: BTreeMap<String, String> = old_files
        .into_iter()
        .filter(|(p, _)| !scope.owns(p))
        .collect();
    new_files.extend(hashes.iter().map(|(p, h)| (p.clone(), h.clone())));
    let manifest = render_manifest(&new_files).map_err(|e| vec![e])?;
    let manifest_changed = old_manifest_bytes.as_deref() != Some(manifest.as_slice());
    // Out-of-scope generated files keep their folders too (they are never empty, but be sure).
    keep_dirs.extend(
        new_files
            .keys()
            .flat_map(|p| ancestors(p).map(str::to_string)),
    );
    hand_edited.sort();

    Ok(Plan {
        out: out.to_path_buf(),
        entries: entries.into_iter().collect(),
        old,
        hashes,
        manifest,
        manifest_changed,
        keep_dirs,
        hand_edited,
        fresh,
    })
}

impl Plan {
    /// Whether building would change nothing: no file to create, update, adopt or remove, and the same manifest.
    pub fn is_clean(&self) -> bool {
        // Adopting is drift: `build` must record the file in the manifest.
        !self.manifest_changed && self.entries.iter().all(|(_, c)| *c == Change::Unchanged)
    }

    /// Whether `apply` would rewrite `.trestle/manifest.json`.
    pub fn manifest_changed(&self) -> bool {
        self.manifest_changed
    }

    /// The manifest bytes this plan leaves behind.
    pub fn manifest(&self) -> &[u8] {
        &self.manifest
    }

    /// Owned files whose bytes differ from what trestle last wrote; `apply` overwrites or deletes them.
    pub fn hand_edited(&self) -> &[String] {
        &self.hand_edited
    }

    /// How many entries have the given change.
    pub fn count(&self, change: Change) -> usize {
        self.entries.iter().filter(|(_, c)| *c == change).count()
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so
/// that an interrupted run leaves the file either old or new. Only `sync` files are flushed
/// to disk before the rename: syncing every generated file made large builds take tens of
/// seconds, and generated files are rebuilt from the specs after a power loss (the manifest,
/// which decides ownership, is synced).
fn write_atomic(path: &Path, bytes: &[u8], sync: bool) -> io::Result<()> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let tmp = path.with_file_name(format!(".{name}{TMP_SUFFIX}"));
    // A leftover from an interrupted run; removing it (never following it if it is a
    // symlink) lets `create_new` guarantee we write a fresh file of our own.
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        // Without this a power loss after the rename could leave an empty file on some
        // filesystems.
        if sync {
            f.sync_all()?;
        }
        drop(f);
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Removes an empty directory tree (a generated file replaces it); fails if a file is left inside.
fn remove_empty_tree(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            remove_empty_tree(&entry.path())?;
        }
    }
    fs::remove_dir(dir)
}

/// The bytes of `path` in `artifacts`, which must be those `plan` was made with.
fn checked_bytes<'a>(
    plan: &Plan,
    artifacts: &'a Artifacts,
    path: &str,
) -> Result<&'a [u8], WriteError> {
    let bytes = artifacts.get(path).ok_or_else(|| {
        io_err(
            path,
            io::Error::new(io::ErrorKind::InvalidInput, "artifact missing at apply"),
        )
    })?;
    // The manifest already records the planned hash; writing anything else would lie.
    if plan.hashes.get(path) != Some(&content_hash(bytes)) {
        return Err(io_err(
            path,
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "artifact changed between plan and apply",
            ),
        ));
    }
    Ok(bytes)
}

/// Writes one created or updated file of `plan`.
fn write_one(plan: &Plan, artifacts: &Artifacts, path: &str) -> Result<(), WriteError> {
    let bytes = checked_bytes(plan, artifacts, path)?;
    let target = join(&plan.out, path);
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent).map_err(|e| io_err(path, e))?;
    }
    if kind_of(&target).map_err(|e| io_err(path, e))? == Kind::Dir {
        remove_empty_tree(&target).map_err(|e| io_err(path, e))?;
    }
    write_atomic(&target, bytes, false).map_err(|e| io_err(path, e))
}

/// A fresh OUT (it did not exist at plan time) is built in a hidden staging folder next to it,
/// `.<OUT name>.trestle-tmp-<pid>`, and renamed into place at the end: the tree appears whole
/// or not at all, and each file is created once instead of as a temporary file plus a rename
/// (half the file-system operations, which dominate a cold build of thousands of files).
/// `None` when OUT has no usable parent or name, or the staging folder cannot be created;
/// the caller then writes file by file.
fn apply_fresh(plan: &Plan, artifacts: &Artifacts) -> Option<Result<Summary, WriteError>> {
    let out = &plan.out;
    let staging = staging_dir(out)?;
    fs::create_dir_all(staging.parent()?).ok()?;
    // `create_dir`, not `_all`: the folder must be new, so that nothing else is in it.
    fs::create_dir(&staging).ok()?;
    let result = (|| {
        let writes: Vec<&String> = plan
            .entries
            .iter()
            .filter(|(_, c)| matches!(c, Change::Create | Change::Update))
            .map(|(p, _)| p)
            .collect();
        // Every folder once, parents before children (sorted order puts `a` before `a/b`).
        let dirs: BTreeSet<&str> = writes
            .iter()
            .flat_map(|p| ancestors(p))
            .chain([STATE_DIR])
            .collect();
        for dir in dirs {
            fs::create_dir(join(&staging, dir)).map_err(|e| io_err(dir, e))?;
        }
        let results: Vec<Result<(), WriteError>> = {
            use rayon::prelude::*;
            writes
                .par_iter()
                .map(|path| {
                    let bytes = checked_bytes(plan, artifacts, path)?;
                    let mut f = fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(join(&staging, path))
                        .map_err(|e| io_err(path, e))?;
                    f.write_all(bytes).map_err(|e| io_err(path, e))
                })
                .collect()
        };
        let mut summary = Summary::default();
        for r in results {
            r?;
            summary.written += 1;
        }
        write_atomic(&join(&staging, MANIFEST_PATH), &plan.manifest, true)
            .map_err(|e| io_err(MANIFEST_PATH, e))?;
        // Fails if something non-empty appeared at OUT meanwhile; it is never overwritten.
        fs::rename(&staging, out).map_err(|e| io_err(&out.display().to_string(), e))?;
        Ok(summary)
    })();
    if result.is_err() {
        let _ = fs::remove_dir_all(&staging);
    }
    Some(result)
}

/// A fresh OUT written while the build still compiles: each environment's files go into the
/// staging folder (the one [`apply_fresh`] uses) as soon as they are rendered, and only their
/// hashes stay in memory. At N = 10,000 workloads the rendered files are a third of a gigabyte;
/// holding them all until the end was a quarter of the build's peak memory.
///
/// Nothing appears at OUT before [`Staging::finish`] renames the folder into place, so a build
/// with errors leaves OUT untouched: the caller then calls [`Staging::discard`].
#[derive(Debug)]
pub struct Staging {
    out: PathBuf,
    dir: PathBuf,
    state: std::sync::Mutex<Staged>,
}

#[derive(Debug, Default)]
struct Staged {
    /// Every staged path with its content hash.
    hashes: BTreeMap<String, String>,
    /// Every path given to [`Staging::put`], written or not.
    paths: BTreeSet<String>,
    /// Folders created so far (relative to the staging folder).
    dirs: BTreeSet<String>,
    errors: Vec<WriteError>,
}

impl Staging {
    /// Creates the staging folder for OUT when OUT does not exist; `None` otherwise (OUT exists,
    /// or has no usable parent or name, or the folder cannot be created): then the build plans
    /// and writes as usual once it has compiled.
    pub fn create(out: &Path) -> Option<Staging> {
        if !matches!(kind_of(out), Ok(Kind::Missing)) {
            return None;
        }
        let dir = staging_dir(out)?;
        fs::create_dir_all(dir.parent()?).ok()?;
        // `create_dir`, not `_all`: the folder must be new, so that nothing else is in it.
        fs::create_dir(&dir).ok()?;
        Some(Staging {
            out: out.to_path_buf(),
            dir,
            state: Default::default(),
        })
    }

    /// Writes `files` (paths relative to OUT) into the staging folder, in parallel, and keeps
    /// only their hashes. Failures are kept for [`Staging::finish`] to report.
    pub fn put(&self, files: Vec<(String, Vec<u8>)>) {
        use rayon::prelude::*;
        let given: Vec<String> = files.iter().map(|(p, _)| p.clone()).collect();
        // An unsafe path is never written; `finish` reports it, like every path problem.
        let files: Vec<_> = files.into_iter().filter(|(p, _)| is_safe_path(p)).collect();
        // Folders first, each once, parents before children (sorted order puts `a` before `a/b`).
        let wanted: BTreeSet<&str> = files.iter().flat_map(|(p, _)| ancestors(p)).collect();
        let mut errors = Vec::new();
        {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            for dir in wanted {
                if state.dirs.contains(dir) {
                    continue;
                }
                match fs::create_dir(join(&self.dir, dir)) {
                    Ok(()) => {
                        state.dirs.insert(dir.to_string());
                    }
                    Err(e) => errors.push(io_err(dir, e)),
                }
            }
        }
        let written: Vec<Result<(String, String), WriteError>> = files
            .into_par_iter()
            .map(|(path, bytes)| {
                let hash = content_hash(&bytes);
                let mut f = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(join(&self.dir, &path))
                    .map_err(|e| io_err(&path, e))?;
                f.write_all(&bytes).map_err(|e| io_err(&path, e))?;
                Ok((path, hash))
            })
            .collect();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.paths.extend(given);
        state.errors.extend(errors);
        for w in written {
            match w {
                Ok((path, hash)) => {
                    state.hashes.insert(path, hash);
                }
                Err(e) => state.errors.push(e),
            }
        }
    }

    /// Stages `artifacts` too, writes the manifest and renames the staging folder to OUT. On
    /// any error the staging folder is removed and OUT stays as it was (missing).
    pub fn finish(&self, artifacts: &Artifacts) -> Result<Summary, Vec<WriteError>> {
        self.put(
            artifacts
                .iter()
                .map(|(p, b)| (p.clone(), b.clone()))
                .collect(),
        );
        let state = std::mem::take(&mut *self.state.lock().unwrap_or_else(|e| e.into_inner()));
        let result = (|| {
            // The same path checks as `plan`, over everything staged: they come first, since a
            // path that is a file and a folder at once also made a write fail.
            let unsafe_paths = unsafe_paths(&state.paths.iter().map(String::as_str).collect());
            if !unsafe_paths.is_empty() {
                return Err(unsafe_paths);
            }
            if !state.errors.is_empty() {
                return Err(state.errors);
            }
            let manifest = render_manifest(&state.hashes).map_err(|e| vec![e])?;
            let state_dir = join(&self.dir, STATE_DIR);
            fs::create_dir(&state_dir).map_err(|e| vec![io_err(STATE_DIR, e)])?;
            write_atomic(&join(&self.dir, MANIFEST_PATH), &manifest, true)
                .map_err(|e| vec![io_err(MANIFEST_PATH, e)])?;
            // Fails if something non-empty appeared at OUT meanwhile; it is never overwritten.
            fs::rename(&self.dir, &self.out)
                .map_err(|e| vec![io_err(&self.out.display().to_string(), e)])?;
            Ok(Summary {
                written: state.hashes.len(),
                ..Summary::default()
            })
        })();
        if result.is_err() {
            self.discard();
        }
        result
    }

    /// Removes the staging folder and everything in it.
    pub fn discard(&self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// `.<OUT name>.trestle-tmp-<pid>` next to OUT.
fn staging_dir(out: &Path) -> Option<PathBuf> {
    let name = out.file_name()?.to_str()?;
    let parent = match out.parent() {
        Some(p) if p.as_os_str().is_empty() => Path::new("."),
        Some(p) => p,
        None => return None,
    };
    Some(parent.join(format!(".{name}{TMP_SUFFIX}-{}", std::process::id())))
}

/// Carries out `plan` with the same `artifacts`: removals, then writes, then the manifest, last.
pub fn apply(plan: &Plan, artifacts: &Artifacts) -> Result<Summary, WriteError> {
    if plan.fresh {
        if let Some(result) = apply_fresh(plan, artifacts) {
            return result;
        }
    }
    let out = &plan.out;
    let mut summary = Summary::default();
    fs::create_dir_all(out).map_err(|e| io_err(&out.display().to_string(), e))?;

    for (path, change) in &plan.entries {
        if *change != Change::Remove {
            continue;
        }
        match fs::remove_file(join(out, path)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_err(path, e)),
            _ => {}
        }
        summary.removed += 1;
        for dir in ancestors(path).collect::<Vec<_>>().into_iter().rev() {
            if plan.keep_dirs.contains(dir) {
                break;
            }
            // Fails on a directory that still holds anything, which is exactly when to stop.
            if fs::remove_dir(join(out, dir)).is_err() {
                break;
            }
        }
    }

    let mut writes = Vec::new();
    for (path, change) in &plan.entries {
        match change {
            Change::Create | Change::Update => writes.push(path),
            Change::Unchanged => summary.unchanged += 1,
            Change::Adopt => summary.adopted += 1,
            Change::Remove => {}
        }
    }
    // Files are independent (removals are done, every parent folder is ours to create), so
    // they are written in parallel; the first error in path order is reported.
    let results: Vec<Result<(), WriteError>> = {
        use rayon::prelude::*;
        writes
            .par_iter()
            .map(|path| write_one(plan, artifacts, path))
            .collect()
    };
    for r in results {
        r?;
        summary.written += 1;
    }

    if plan.manifest_changed {
        fs::create_dir_all(out.join(STATE_DIR)).map_err(|e| io_err(STATE_DIR, e))?;
        write_atomic(&join(out, MANIFEST_PATH), &plan.manifest, true)
            .map_err(|e| io_err(MANIFEST_PATH, e))?;
    }
    Ok(summary)
}

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const CYAN: &str = "\x1b[36m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// Content the diff shows as text: UTF-8 without NUL bytes.
fn as_text(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes)
        .ok()
        .filter(|s| !s.contains('\0'))
}

/// Appends one line, wrapped in `color` when colouring is on.
fn push_line(buf: &mut String, color: Option<&str>, line: &str) {
    match color {
        Some(c) => {
            let _ = writeln!(buf, "{c}{line}{RESET}");
        }
        None => {
            buf.push_str(line);
            buf.push('\n');
        }
    }
}

/// A unified diff (3 lines of context) of every file `apply` would create, update or remove.
pub fn unified_diff(plan: &Plan, artifacts: &Artifacts, color: bool) -> String {
    let paint = |c: &'static str| color.then_some(c);
    let empty: &[u8] = &[];
    let mut buf = String::new();
    for (path, change) in &plan.entries {
        let (before, after): (&[u8], &[u8]) = match change {
            Change::Unchanged | Change::Adopt => continue,
            Change::Create => (empty, artifacts.get(path).map_or(empty, Vec::as_slice)),
            Change::Update => (
                plan.old.get(path).map_or(empty, Vec::as_slice),
                artifacts.get(path).map_or(empty, Vec::as_slice),
            ),
            Change::Remove => (plan.old.get(path).map_or(empty, Vec::as_slice), empty),
        };
        push_line(&mut buf, paint(BOLD), &format!("--- a/{path}"));
        push_line(&mut buf, paint(BOLD), &format!("+++ b/{path}"));
        let (Some(before), Some(after)) = (as_text(before), as_text(after)) else {
            buf.push_str("Binary files differ\n");
            continue;
        };
        let diff = TextDiff::from_lines(before, after);
        for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
            push_line(&mut buf, paint(CYAN), &hunk.header().to_string());
            for change in hunk.iter_changes() {
                let (sign, c) = match change.tag() {
                    ChangeTag::Equal => (' ', None),
                    ChangeTag::Delete => ('-', paint(RED)),
                    ChangeTag::Insert => ('+', paint(GREEN)),
                };
                let value = change.value();
                let line = value.strip_suffix('\n').unwrap_or(value);
                push_line(&mut buf, c, &format!("{sign}{line}"));
                if !value.ends_with('\n') {
                    buf.push_str("\\ No newline at end of file\n");
                }
            }
        }
    }
    buf
}

/// One line for humans, e.g. "3 files to create, 1 to update, 2 to remove, 40 unchanged".
pub fn summary_line(plan: &Plan) -> String {
    let create = plan.count(Change::Create);
    let mut line = format!(
        "{create} {} to create, {} to update",
        if create == 1 { "file" } else { "files" },
        plan.count(Change::Update)
    );
    let adopt = plan.count(Change::Adopt);
    if adopt > 0 {
        let _ = write!(line, ", {adopt} to adopt");
    }
    let _ = write!(
        line,
        ", {} to remove, {} unchanged",
        plan.count(Change::Remove),
        plan.count(Change::Unchanged)
    );
    let files_clean = plan.entries.iter().all(|(_, c)| *c == Change::Unchanged);
    // Otherwise a manifest-only change would look clean while `check` reports drift.
    if files_clean && plan.manifest_changed {
        line.push_str("; manifest to update");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn arts(items: &[(&str, &str)]) -> Artifacts {
        items
            .iter()
            .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
            .collect()
    }

    fn build(out: &Path, a: &Artifacts, scope: &Scope) -> Summary {
        let p = plan(out, a, scope).expect("plan");
        apply(&p, a).expect("apply")
    }

    #[test]
    fn collisions_exact_case_and_folders() {
        let found = collisions([
            "prod/kubernetes/shop/api.yaml",
            "prod/kubernetes/shop/worker.yaml",
            "prod/kubernetes/shop/API.yaml",
            "prod/kubernetes/shop/worker.yaml",
            "prod/kubernetes/Shop/other.yaml",
            "prod/terraform/straße.tf",
            "prod/terraform/STRASSE.tf",
        ]);
        assert_eq!(
            found,
            vec![
                (
                    "prod/kubernetes/shop/api.yaml".to_string(),
                    "prod/kubernetes/shop/API.yaml".to_string()
                ),
                (
                    "prod/kubernetes/shop/worker.yaml".to_string(),
                    "prod/kubernetes/shop/worker.yaml".to_string()
                ),
                (
                    "prod/kubernetes/shop/api.yaml".to_string(),
                    "prod/kubernetes/Shop/other.yaml".to_string()
                ),
            ]
        );
        assert!(collisions(["a/b.yaml", "a/c.yaml", "b/b.yaml"]).is_empty());
    }

    fn changes(p: &Plan) -> Vec<(&str, Change)> {
        p.entries.iter().map(|(s, c)| (s.as_str(), *c)).collect()
    }

    fn manifest_files(out: &Path) -> BTreeMap<String, String> {
        let bytes = fs::read(join(out, MANIFEST_PATH)).expect("manifest");
        let m: ManifestFile = serde_json::from_slice(&bytes).expect("json");
        m.files
    }

    fn read(out: &Path, rel: &str) -> String {
        fs::read_to_string(join(out, rel)).expect("read")
    }

    #[test]
    fn creates_into_missing_out() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let out = tmp.path().join("out/nested");
        let a = arts(&[
            ("dev/terraform/main.tf", "x\n"),
            ("catalog/location.yaml", "y\n"),
        ]);
        let p = plan(&out, &a, &Scope::all()).expect("plan");
        assert!(!out.exists(), "plan must not write");
        assert_eq!(
            changes(&p),
            vec![
                ("catalog/location.yaml", Change::Create),
                ("dev/terraform/main.tf", Change::Create)
            ]
        );
        assert!(!p.is_clean());
        assert_eq!(
            summary_line(&p),
            "2 files to create, 0 to update, 0 to remove, 0 unchanged"
        );
        let s = apply(&p, &a).expect("apply");
        assert_eq!(s.written, 2);
        assert_eq!(read(&out, "dev/terraform/main.tf"), "x\n");
        let again = plan(&out, &a, &Scope::all()).expect("plan");
        assert!(again.is_clean());
        assert_eq!(
            summary_line(&again),
            "0 files to create, 0 to update, 0 to remove, 2 unchanged"
        );
    }

    #[test]
    fn fresh_out_is_renamed_into_place_and_leaves_nothing_beside_it() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let out = tmp.path().join("out");
        let a = arts(&[
            ("dev/kubernetes/shop/api.yaml", "a\n"),
            ("dev/terraform/main.tf", "x\n"),
            ("catalog/location.yaml", "y\n"),
        ]);
        let p = plan(&out, &a, &Scope::all()).expect("plan");
        assert_eq!(apply(&p, &a).expect("apply").written, 3);
        assert_eq!(read(&out, "dev/kubernetes/shop/api.yaml"), "a\n");
        assert_eq!(manifest_files(&out).len(), 3);
        let beside: Vec<_> = fs::read_dir(tmp.path())
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(beside, vec![std::ffi::OsString::from("out")]);
    }

    #[test]
    fn staging_writes_what_plan_and_apply_write_and_reports_their_path_errors() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let a = arts(&[
            ("dev/kubernetes/shop/api.yaml", "a\n"),
            ("dev/terraform/main.tf", "x\n"),
            ("catalog/location.yaml", "y\n"),
        ]);
        let planned = tmp.path().join("planned");
        apply(&plan(&planned, &a, &Scope::all()).expect("plan"), &a).expect("apply");
        let staged = tmp.path().join("staged");
        let s = Staging::create(&staged).expect("staging");
        assert!(!staged.exists(), "nothing at OUT before finish");
        let mut it = a.iter().map(|(p, b)| (p.clone(), b.clone()));
        s.put(it.by_ref().take(2).collect());
        let rest: Artifacts = it.collect();
        assert_eq!(s.finish(&rest).expect("finish").written, 3);
        for path in a.keys().map(String::as_str).chain([MANIFEST_PATH]) {
            assert_eq!(read(&staged, path), read(&planned, path), "{path}");
        }

        // A path that is a file and a folder at once, or unsafe, is refused as by `plan`, and
        // nothing is left behind.
        let bad = tmp.path().join("bad");
        let s = Staging::create(&bad).expect("staging");
        s.put(vec![
            ("dev/a".to_string(), b"1".to_vec()),
            ("dev/a/b".to_string(), b"2".to_vec()),
            ("../escape".to_string(), b"3".to_vec()),
        ]);
        let errors = s.finish(&Artifacts::new()).expect_err("refused");
        let mut paths: Vec<String> = errors
            .iter()
            .map(|e| match e {
                WriteError::UnsafePath { path } => path.clone(),
                other => panic!("unexpected {other}"),
            })
            .collect();
        paths.sort();
        assert_eq!(paths, ["../escape", "dev/a"]);
        let mut beside: Vec<_> = fs::read_dir(tmp.path())
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        beside.sort();
        assert_eq!(beside, ["planned", "staged"]);
    }

    #[test]
    fn fresh_out_never_replaces_a_folder_that_appeared_meanwhile() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let out = tmp.path().join("out");
        let a = arts(&[("dev/terraform/main.tf", "x\n")]);
        let p = plan(&out, &a, &Scope::all()).expect("plan");
        // Someone else creates OUT with a file of their own between plan and apply.
        fs::create_dir(&out).expect("mkdir");
        fs::write(out.join("theirs.txt"), "keep").expect("write");
        assert!(apply(&p, &a).is_err());
        assert_eq!(read(&out, "theirs.txt"), "keep");
        assert!(!out.join("dev").exists());
        let beside = fs::read_dir(tmp.path()).expect("read_dir").count();
        assert_eq!(beside, 1, "the staging folder is removed on failure");
    }

    #[test]
    fn manifest_is_exact_sorted_and_deterministic() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let out = tmp.path();
        let a = arts(&[("z.txt", ""), ("a/b.txt", "hi\n")]);
        build(out, &a, &Scope::all());
        let text = read(out, MANIFEST_PATH);
        let expected = format!(
            "{{\n  \"generator\": \"trestle\",\n  \"version\": 1,\n  \"files\": {{\n    \
             \"a/b.txt\": \"{}\",\n    \"z.txt\": \"{}\"\n  }}\n}}\n",
            content_hash(b"hi\n"),
            content_hash(b"")
        );
        assert_eq!(text, expected);
        assert_eq!(
            content_hash(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn manifest_written_last() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let out = tmp.path();
        let a = arts(&[("a.txt", "a\n"), ("z.txt", "z\n")]);
        let p = plan(out, &a, &Scope::all()).expect("plan");
        // Sabotage the last write after planning: a non-empty directory where z.txt goes.
        fs::create_dir_all(out.join("z.txt")).expect("mkdir");
        fs::write(out.join("z.txt/keep"), "k").expect("write");
        let err = apply(&p, &a).expect_err("must fail");
        assert!(matches!(err, WriteError::Io { ref path, .. } if path == "z.txt"));
        assert_eq!(read(out, "a.txt"), "a\n");
        assert!(!join(out, MANIFEST_PATH).exists());
        assert!(!out.join(".z.txt.trestle-tmp").exists());
    }

    #[test]
    fn update_and_unchanged_keeps_mtime() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let out = tmp.path();
        build(
            out,
            &arts(&[("a.txt", "1\n"), ("b.txt", "same\n")]),
            &Scope::all(),
        );
        let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        for f in ["a.txt", "b.txt", MANIFEST_PATH] {
            fs::File::options()
                .write(true)
                .open(join(out, f))
                .and_then(|h| h.set_modified(old))
                .expect("set mtime");
        }
        let a = arts(&[("a.txt", "2\n"), ("b.txt", "same\n")]);
        let p = plan(out, &a, &Scope::all()).expect("plan");
        assert_eq!(
            changes(&p),
            vec![("a.txt", Change::Update), ("b.txt", Change::Unchanged)]
        );
        let s = apply(&p, &a).expect("apply");
        assert_eq!((s.written, s.unchanged), (1, 1));
        let mtime = |f: &str| {
            fs::metadata(join(out, f))
                .and_then(|m| m.modified())
                .expect("mtime")
        };
        assert_eq!(mtime("b.txt"), old);
        assert_ne!(mtime("a.txt"), old);
        assert_eq!(read(out, "a.txt"), "2\n");

        // Nothing changes at all: the manifest is not rewritten either.
        fs::File::options()
            .write(true)
            .open(join(out, MANIFEST_PATH))
            .and_then(|h| h.set_modified(old))
            .expect("set mtime");
        build(out, &a, &Scope::all());
        assert_eq!(mtime(MANIFEST_PATH), old);
    }

    #[test]
    fn hand_edit_of_owned_file_is_drift_and_overwritten() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let out = tmp.path();
        let a = arts(&[("a.txt", "gen\n")]);
        build(out, &a, &Scope::all());
        fs::write(out.join("a.txt"), "edited\n").expect("write");
        let p = plan(out, &a, &Scope::all()).expect("plan");
        assert_eq!(changes(&p), vec![("a.txt", Change::Update)]);
        assert_eq!(p.hand_edited(), ["a.txt".to_string()]);
        assert!(!p.is_clean());
        apply(&p, &a).expect("apply");
        assert_eq!(read(out, "a.txt"), "gen\n");
    }

    #[test]
    fn removes_stale_and_cleans_empty_parents() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let out = tmp.path();
        build(
            out,
            &arts(&[
                ("dev/kubernetes/ns/old.yaml", "o\n"),
                ("dev/kubernetes/ns/keep.yaml", "k\n"),
                ("dev/terraform/gone/deep/x.tf", "x\n"),
                ("dev/mixed/y.tf", "y\n"),
            ]),
            &Scope::all(),
        );
        fs::write(out.join("dev/mixed/foreign.txt"), "mine").expect("write");
        let a = arts(&[("dev/kubernetes/ns/keep.yaml", "k\n")]);
        let p = plan(out, &a, &Scope::all()).expect("plan");
        assert_eq!(
            changes(&p),
            vec![
                ("dev/kubernetes/ns/keep.yaml", Change::Unchanged),
                ("dev/kubernetes/ns/old.yaml", Change::Remove),
                ("dev/mixed/y.tf", Change::Remove),
                ("dev/terraform/gone/deep/x.tf", Change::Remove),
            ]
        );
        let s = apply(&p, &a).expect("apply");
        assert_eq!(s.removed, 3);
        assert!(!out.join("dev/kubernetes/ns/old.yaml").exists());
        assert!(out.join("dev/kubernetes/ns/keep.yaml").exists());
        assert!(!out.join("dev/terraform").exists(), "empty parents pruned");
        assert_eq!(read(out, "dev/mixed/foreign.txt"), "mine");
        assert!(!out.join("dev/mixed/y.tf").exists());
        assert_eq!(
            manifest_files(out).keys().collect::<Vec<_>>(),
            ["dev/kubernetes/ns/keep.yaml"]
        );

        // Removing everything stops at OUT and keeps the state folder.
        build(out, &Artifacts::new(), &Scope::all());
        assert!(out.is_dir());
        assert!(!out.join("dev/kubernetes").exists());
        assert_eq!(read(out, "dev/mixed/foreign.txt"), "mine");
        assert!(manifest_files(out).is_empty());
    }

    #[test]
    fn foreign_files_survive_and_conflict() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let out = tmp.path();
        fs::create_dir_all(out.join("dev")).expect("mkdir");
        fs::write(out.join("dev/notes.md"), "mine\n").expect("write");
        fs::write(out.join("dev/main.tf"), "different\n").expect("write");
        let a = arts(&[("dev/main.tf", "generated\n")]);
        let errs = plan(out, &a, &Scope::all()).expect_err("conflict");
        assert!(
            matches!(&errs[..], [WriteError::Conflict { path }] if path == "dev/main.tf"),
            "{errs:?}"
        );
        assert!(errs[0].to_string().contains("dev/main.tf"));
        assert_eq!(read(out, "dev/main.tf"), "different\n");

        fs::remove_file(out.join("dev/main.tf")).expect("rm");
        build(out, &a, &Scope::all());
        build(out, &Artifacts::new(), &Scope::all());
        assert_eq!(read(out, "dev/notes.md"), "mine\n");
        assert!(!out.join("dev/main.tf").exists());
    }

    #[test]
    fn adopts_identical_foreign_file() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let out = tmp.path();
        fs::write(out.join("a.txt"), "same\n").expect("write");
        let a = arts(&[("a.txt", "same\n")]);
        let p = plan(out, &a, &Scope::all()).expect("plan");
        assert_eq!(changes(&p), vec![("a.txt", Change::Adopt)]);
        assert!(!p.is_clean(), "adopting needs a manifest write");
        assert_eq!(
            summary_line(&p),
            "0 files to create, 0 to update, 1 to adopt, 0 to remove, 0 unchanged"
        );
        assert_eq!(unified_diff(&p, &a, false), "");
        let s = apply(&p, &a).expect("apply");
        assert_eq!(s.adopted, 1);
        assert!(manifest_files(out).contains_key("a.txt"));
        assert!(plan(out, &a, &Scope::all()).expect("plan").is_clean());
    }

    #[test]
    fn scope_keeps_other_envs() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let out = tmp.path();
        build(
            out,
            &arts(&[
                ("prod/main.tf", "p\n"),
                ("prod/old.tf", "po\n"),
                ("dev/main.tf", "d\n"),
                ("dev/old.tf", "do\n"),
                ("catalog/a.yaml", "a\n"),
                ("catalog/b.yaml", "b\n"),
            ]),
            &Scope::all(),
        );
        let before = manifest_files(out);
        // A scoped build may be handed other environments' artifacts too: they are ignored.
        let a = arts(&[
            ("dev/main.tf", "d2\n"),
            ("catalog/a.yaml", "a\n"),
            ("prod/main.tf", "p-ignored\n"),
        ]);
        let scope = Scope::envs(["dev"]);
        assert!(scope.owns("catalog/x") && scope.owns("dev/x") && !scope.owns("prod/x"));
        let p = plan(out, &a, &scope).expect("plan");
        assert_eq!(
            changes(&p),
            vec![
                ("catalog/a.yaml", Change::Unchanged),
                ("catalog/b.yaml", Change::Remove),
                ("dev/main.tf", Change::Update),
                ("dev/old.tf", Change::Remove),
            ]
        );
        apply(&p, &a).expect("apply");
        assert_eq!(read(out, "prod/main.tf"), "p\n");
        assert_eq!(read(out, "prod/old.tf"), "po\n");
        assert!(!out.join("dev/old.tf").exists());
        assert!(!out.join("catalog/b.yaml").exists());
        let after = manifest_files(out);
        assert_eq!(after.get("prod/main.tf"), before.get("prod/main.tf"));
        assert_eq!(after.get("prod/old.tf"), before.get("prod/old.tf"));
        assert_eq!(after.get("dev/main.tf"), Some(&content_hash(b"d2\n")));
        assert!(!after.contains_key("dev/old.tf") && !after.contains_key("catalog/b.yaml"));
    }

    #[test]
    fn diff_create_update_remove() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let out = tmp.path();
        build(
            out,
            &arts(&[("b.txt", "1\n2\n3\n4\n5\n6\n7\n8\n9\n"), ("c.txt", "bye\n")]),
            &Scope::all(),
        );
        let a = arts(&[
            ("a.txt", "new\nfile"),
            ("b.txt", "1\n2\n3\n4\nFIVE\n6\n7\n8\n9\n"),
        ]);
        let p = plan(out, &a, &Scope::all()).expect("plan");
        let d = unified_diff(&p, &a, false);
        let expected = "\
--- a/a.txt
+++ b/a.txt
@@ -0,0 +1,2 @@
+new
+file
\\ No newline at end of file
--- a/b.txt
+++ b/b.txt
@@ -2,7 +2,7 @@
 2
 3
 4
-5
+FIVE
 6
 7
 8
--- a/c.txt
+++ b/c.txt
@@ -1 +0,0 @@
-bye
";
        assert_eq!(d, expected);
        assert!(!d.contains('\x1b'), "colour off has no escape codes");
        let coloured = unified_diff(&p, &a, true);
        assert!(coloured.contains("\x1b[31m-5\x1b[0m"));
        assert!(coloured.contains("\x1b[32m+FIVE\x1b[0m"));
        assert!(coloured.contains("\x1b[36m@@ -2,7 +2,7 @@\x1b[0m"));
        assert_eq!(
            summary_line(&p),
            "1 file to create, 1 to update, 1 to remove, 0 unchanged"
        );
    }

    #[test]
    fn diff_binary() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let out = tmp.path();
        let mut a = Artifacts::new();
        a.insert("img.bin".to_string(), vec![0xff, 0x00, 0x01]);
        let p = plan(out, &a, &Scope::all()).expect("plan");
        assert_eq!(
            unified_diff(&p, &a, false),
            "--- a/img.bin\n+++ b/img.bin\nBinary files differ\n"
        );
    }

    #[test]
    fn unsafe_paths_rejected() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let out = tmp.path();
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a//b",
            "a/./b",
            "a/",
            ".trestle/manifest.json",
            ".TRESTLE/x",
            "a\\b",
            "a/.b.trestle-tmp",
        ] {
            let a = arts(&[(bad, "x")]);
            let errs = plan(out, &a, &Scope::all()).expect_err(bad);
            assert!(
                matches!(&errs[..], [WriteError::UnsafePath { path }] if path == bad),
                "{bad:?}: {errs:?}"
            );
        }
        let errs = plan(out, &arts(&[("a", "1"), ("a/b", "2")]), &Scope::all())
            .expect_err("file and folder");
        assert!(matches!(&errs[..], [WriteError::UnsafePath { path }] if path == "a"));
        assert!(is_safe_path("dev/.hidden/x.yaml"));
        assert_eq!(fs::read_dir(out).expect("ls").count(), 0, "nothing written");
    }

    #[test]
    fn bad_manifest_is_an_error() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let out = tmp.path();
        fs::create_dir_all(out.join(STATE_DIR)).expect("mkdir");
        let a = arts(&[("a.txt", "x")]);
        for bad in [
            "{not json".to_string(),
            r#"{"generator":"other","version":1,"files":{}}"#.to_string(),
            r#"{"generator":"trestle","version":2,"files":{}}"#.to_string(),
            format!(
                r#"{{"generator":"trestle","version":1,"files":{{"../x":"{}"}}}}"#,
                content_hash(b"")
            ),
            r#"{"generator":"trestle","version":1,"files":{"a.txt":"md5:00"}}"#.to_string(),
        ] {
            fs::write(join(out, MANIFEST_PATH), &bad).expect("write");
            let errs = plan(out, &a, &Scope::all()).expect_err(&bad);
            assert!(
                matches!(&errs[..], [WriteError::BadManifest { .. }]),
                "{bad}: {errs:?}"
            );
        }
    }

    #[test]
    #[cfg(unix)]
    fn symlinks_are_conflicts_and_never_followed() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let out = tmp.path().join("out");
        let elsewhere = tmp.path().join("elsewhere");
        fs::create_dir_all(&out).expect("mkdir");
        fs::create_dir_all(&elsewhere).expect("mkdir");
        std::os::unix::fs::symlink(&elsewhere, out.join("dev")).expect("symlink");
        std::os::unix::fs::symlink(elsewhere.join("f"), out.join("f.txt")).expect("symlink");
        let a = arts(&[("dev/main.tf", "x"), ("dev/other.tf", "y"), ("f.txt", "z")]);
        let errs = plan(&out, &a, &Scope::all()).expect_err("conflict");
        let paths: Vec<_> = errs
            .iter()
            .map(|e| match e {
                WriteError::Conflict { path } => path.as_str(),
                _ => "?",
            })
            .collect();
        assert_eq!(paths, ["dev", "f.txt"]);
        assert_eq!(fs::read_dir(&elsewhere).expect("ls").count(), 0);
    }

    #[test]
    fn file_and_folder_swap_places() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let out = tmp.path();
        build(out, &arts(&[("x/y.txt", "1")]), &Scope::all());
        let a = arts(&[("x", "now a file")]);
        let p = plan(out, &a, &Scope::all()).expect("plan");
        assert_eq!(
            changes(&p),
            vec![("x", Change::Create), ("x/y.txt", Change::Remove)]
        );
        apply(&p, &a).expect("apply");
        assert_eq!(read(out, "x"), "now a file");
        let b = arts(&[("x/z.txt", "folder again")]);
        build(out, &b, &Scope::all());
        assert_eq!(read(out, "x/z.txt"), "folder again");
    }

    #[test]
    fn missing_owned_file_is_recreated_and_gone_stale_dropped() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let out = tmp.path();
        build(out, &arts(&[("a.txt", "a"), ("b.txt", "b")]), &Scope::all());
        fs::remove_file(out.join("a.txt")).expect("rm");
        fs::remove_file(out.join("b.txt")).expect("rm");
        let a = arts(&[("a.txt", "a")]);
        let p = plan(out, &a, &Scope::all()).expect("plan");
        assert_eq!(changes(&p), vec![("a.txt", Change::Create)]);
        apply(&p, &a).expect("apply");
        fs::remove_file(out.join("a.txt")).expect("rm");
        let p = plan(out, &Artifacts::new(), &Scope::all()).expect("plan");
        assert!(p.entries.is_empty());
        assert!(!p.is_clean(), "the manifest still lists a.txt");
        assert_eq!(
            summary_line(&p),
            "0 files to create, 0 to update, 0 to remove, 0 unchanged; manifest to update"
        );
    }
}
