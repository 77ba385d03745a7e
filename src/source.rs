//! Source files and byte spans: every diagnostic and every IR item points back here.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Index of a file in [`Sources`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId(pub u32);

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    /// A span over `start..end` of `file`.
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span {
            file,
            start: start as u32,
            end: end as u32,
        }
    }

    /// The span from a kdl span.
    pub fn from_kdl(file: FileId, span: miette::SourceSpan) -> Span {
        Span::new(file, span.offset(), span.offset() + span.len())
    }

    /// Byte length.
    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }

    /// True for a zero-length span.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// A sub-span at byte offsets relative to this span's start.
    pub fn sub(&self, from: usize, to: usize) -> Span {
        Span::new(
            self.file,
            self.start as usize + from,
            self.start as usize + to,
        )
    }
}

/// Where a file came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A file of the user's spec tree.
    Tree,
    /// A file of the built-in platform, embedded in the binary.
    Builtin,
}

/// One spec file (or an embedded built-in file) with its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path relative to ROOT, '/'-separated; built-ins are `<builtin>/NAME`.
    pub name: String,
    /// Absolute path on disk (None for built-ins).
    pub path: Option<PathBuf>,
    pub text: Arc<str>,
    pub origin: Origin,
    /// Byte offsets of line starts, for line/column lookups.
    line_starts: Vec<u32>,
}

impl SourceFile {
    /// A file with its text.
    pub fn new(name: String, path: Option<PathBuf>, text: Arc<str>, origin: Origin) -> SourceFile {
        let mut line_starts = vec![0u32];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i as u32 + 1),
        );
        SourceFile {
            name,
            path,
            text,
            origin,
            line_starts,
        }
    }

    /// 1-based line and column (in Unicode scalar values) of a byte offset.
    pub fn line_col(&self, offset: u32) -> (usize, usize) {
        let offset = offset.min(self.text.len() as u32);
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line] as usize;
        let mut end = offset as usize;
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        let col = self.text[start..end].chars().count() + 1;
        (line + 1, col)
    }

    /// The text of a span.
    pub fn slice(&self, span: Span) -> &str {
        self.text
            .get(span.start as usize..span.end as usize)
            .unwrap_or("")
    }

    /// The directory that relative paths in this file are resolved against.
    pub fn dir(&self) -> Option<&Path> {
        self.path.as_deref().and_then(Path::parent)
    }
}

/// All files of one compilation.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub root: PathBuf,
    files: Vec<SourceFile>,
}

impl Sources {
    /// An empty set of sources for ROOT.
    pub fn new(root: PathBuf) -> Sources {
        Sources {
            root,
            files: Vec::new(),
        }
    }

    /// Add a file and return its id.
    pub fn add(&mut self, file: SourceFile) -> FileId {
        self.files.push(file);
        FileId(self.files.len() as u32 - 1)
    }

    /// The file with this id.
    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    /// Every file with its id.
    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(i as u32), f))
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// True when there are no files.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The text under a span.
    pub fn slice(&self, span: Span) -> &str {
        self.get(span.file).slice(span)
    }
}
