//! The resolved model: every declaration of the tree by kind and name, references checked.
//! Only the checker builds a [`Checked`] model, so later passes cannot run on bad input.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::ast::*;

/// A file that a spec refers to (config file, API definition, template), read once.
#[derive(Debug, Clone)]
pub struct Asset {
    /// Path relative to ROOT, '/'-separated (built-ins: `<builtin>/…`).
    pub name: String,
    pub path: Option<PathBuf>,
    pub bytes: Arc<[u8]>,
}

/// Every declaration of a spec tree, by kind and name (sorted for determinism).
#[derive(Debug, Clone, Default)]
pub struct Model {
    pub teams: BTreeMap<String, Team>,
    pub domains: BTreeMap<String, Domain>,
    pub systems: BTreeMap<String, System>,
    pub environments: BTreeMap<String, Environment>,
    pub workloads: BTreeMap<String, Workload>,
    pub apis: BTreeMap<String, Api>,
    pub resource_types: BTreeMap<String, ResourceType>,
    /// Names of resource types that come from the built-in platform.
    pub builtin_types: std::collections::BTreeSet<String>,
    pub policies: BTreeMap<String, Policy>,
    pub rules: Vec<Rule>,
    pub waivers: Vec<Waiver>,
    /// Referenced files by the span of the string that names them.
    pub assets: BTreeMap<crate::source::Span, Asset>,
}

/// A model with no errors: the only input later passes accept.
#[derive(Debug, Clone)]
pub struct Checked(Model);

impl Checked {
    /// Only the checker may vouch for a model.
    pub(crate) fn new(model: Model) -> Checked {
        Checked(model)
    }

    /// The model.
    pub fn model(&self) -> &Model {
        &self.0
    }

    /// The model, by value.
    pub fn into_model(self) -> Model {
        self.0
    }
}

impl std::ops::Deref for Checked {
    type Target = Model;
    fn deref(&self) -> &Model {
        &self.0
    }
}
