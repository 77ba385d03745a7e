//! trestle: a static compiler for internal developer platforms.
//!
//! The driver runs the passes in order (see ARCHITECTURE.md): parse → lower → resolve →
//! expand → graph → render → policy → write. Each pass returns its result and its
//! diagnostics; a pass runs only on input that earlier passes accepted.

pub mod ast;
pub mod check;
pub mod cli;
pub mod diagnostics;
pub mod lower;
pub mod model;
pub mod parse;
pub mod platform;
pub mod resolve;
pub mod rules;
pub mod source;
pub mod write;
pub mod yaml;

use std::path::Path;

use diagnostics::Diagnostic;
use source::Sources;

/// What one run of the front end produced.
pub struct Frontend {
    pub sources: Sources,
    pub model: model::Model,
    pub checked: Option<model::Checked>,
    pub diags: Vec<Diagnostic>,
}

/// Passes 1–3: parse, lower and resolve every spec file under ROOT.
pub fn frontend(root: &Path) -> Frontend {
    let parsed = parse::load(root);
    let mut diags = parsed.diags;
    diags.extend(parsed.tree_errors);
    let (model, resolve_diags) = resolve::resolve(&parsed.sources, parsed.files);
    diags.extend(resolve_diags);
    diagnostics::sort(&mut diags, &parsed.sources);
    let checked = resolve::checked(model.clone(), &diags);
    Frontend {
        sources: parsed.sources,
        model,
        checked,
        diags,
    }
}
