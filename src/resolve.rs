//! Pass 3: collect declarations from all files into a [`Model`] and check every reference:
//! undefined and duplicate names (both spans), placeholders, ports, params, referenced files.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use crate::ast::*;
use crate::check::values::{self, Segment};
use crate::diagnostics::{codes, did_you_mean, Diagnostic};
use crate::model::{Asset, Checked, Model};
use crate::source::{Origin, Sources, Span};

/// Build the model and check it. Returns the model (even with errors, for tooling) and diagnostics.
pub fn resolve(
    sources: &Sources,
    files: Vec<(crate::source::FileId, File)>,
) -> (Model, Vec<Diagnostic>) {
    let mut r = Resolver {
        sources,
        m: Model::default(),
        diags: Vec::new(),
    };
    r.collect(files);
    r.check();
    (r.m, r.diags)
}

/// Vouch for a model when there are no errors; give it back otherwise.
pub fn checked(model: Model, diags: &[Diagnostic]) -> Result<Checked, Box<Model>> {
    if diags.iter().any(Diagnostic::is_error) {
        Err(Box::new(model))
    } else {
        Ok(Checked::new(model))
    }
}

struct Resolver<'s> {
    sources: &'s Sources,
    m: Model,
    diags: Vec<Diagnostic>,
}

fn insert<T>(
    map: &mut BTreeMap<String, T>,
    name: &Name,
    item: T,
    span_of: fn(&T) -> Span,
    kind: &str,
    diags: &mut Vec<Diagnostic>,
) {
    if let Some(prev) = map.get(&name.value) {
        diags.push(
            Diagnostic::error(
                codes::DUPLICATE_NAME,
                format!("{kind} `{}` is declared twice", name.value),
            )
            .label(name.span, "declared again here")
            .related(span_of(prev), "first declared here")
            .help(format!(
                "{kind} names are global across files; rename or remove one"
            )),
        );
        return;
    }
    map.insert(name.value.clone(), item);
}

impl<'s> Resolver<'s> {
    fn collect(&mut self, files: Vec<(crate::source::FileId, File)>) {
        let mut builtin_types = Vec::new();
        // Sorted by file name so that "first declared" is deterministic.
        let mut files = files;
        files.sort_by(|a, b| self.sources.get(a.0).name.cmp(&self.sources.get(b.0).name));
        let d = &mut self.diags;
        for (_, f) in files {
            for item in f.items {
                match item {
                    Item::Team(t) => insert(
                        &mut self.m.teams,
                        &t.name.clone(),
                        t,
                        |x| x.name.span,
                        "team",
                        d,
                    ),
                    Item::Domain(x) => insert(
                        &mut self.m.domains,
                        &x.name.clone(),
                        x,
                        |x| x.name.span,
                        "domain",
                        d,
                    ),
                    Item::System(x) => insert(
                        &mut self.m.systems,
                        &x.name.clone(),
                        x,
                        |x| x.name.span,
                        "system",
                        d,
                    ),
                    Item::Environment(x) => insert(
                        &mut self.m.environments,
                        &x.name.clone(),
                        x,
                        |x| x.name.span,
                        "environment",
                        d,
                    ),
                    Item::Workload(x) => insert(
                        &mut self.m.workloads,
                        &x.name.clone(),
                        *x,
                        |x| x.name.span,
                        "workload",
                        d,
                    ),
                    Item::Api(x) => insert(
                        &mut self.m.apis,
                        &x.name.clone(),
                        x,
                        |x| x.name.span,
                        "api",
                        d,
                    ),
                    Item::ResourceType(x) => {
                        if self.sources.get(x.name.span.file).origin == Origin::Builtin {
                            builtin_types.push(x);
                        } else {
                            insert(
                                &mut self.m.resource_types,
                                &x.name.clone(),
                                x,
                                |x| x.name.span,
                                "resource type",
                                d,
                            )
                        }
                    }
                    Item::Policy(x) => insert(
                        &mut self.m.policies,
                        &x.name.clone(),
                        x,
                        |x| x.name.span,
                        "policy",
                        d,
                    ),
                    Item::Rule(x) => self.m.rules.push(x),
                    Item::Waiver(x) => self.m.waivers.push(x),
                }
            }
        }
        for t in builtin_types {
            if !self.m.resource_types.contains_key(&t.name.value) {
                self.m.builtin_types.insert(t.name.value.clone());
                self.m.resource_types.insert(t.name.value.clone(), t);
            }
        }
    }

    fn err(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn undefined(&mut self, name: &Name, kind: &str, known: Vec<&str>) {
        let help = did_you_mean(&name.value, known.iter().copied()).unwrap_or_else(|| {
            if known.is_empty() {
                format!("declare it: `{kind} {} {{ … }}`", name.value)
            } else {
                format!(
                    "declared {kind}s: {}",
                    crate::lower::list(&known[..known.len().min(8)])
                )
            }
        });
        self.err(
            Diagnostic::error(
                codes::UNDEFINED_NAME,
                format!("no {kind} named `{}`", name.value),
            )
            .label(name.span, format!("unknown {kind}"))
            .help(help),
        );
    }

    fn undefined_with(&mut self, name: &Name, kind: &str, known: Vec<&str>) {
        let known: Vec<String> = known.into_iter().map(str::to_string).collect();
        let refs: Vec<&str> = known.iter().map(String::as_str).collect();
        self.undefined(name, kind, refs);
    }

    fn check_ref<T>(&mut self, name: &Name, map: &BTreeMap<String, T>, kind: &str) -> bool {
        if map.contains_key(&name.value) {
            return true;
        }
        let known: Vec<String> = map.keys().cloned().collect();
        self.undefined_with(name, kind, known.iter().map(String::as_str).collect());
        false
    }

    fn check(&mut self) {
        let m = std::mem::take(&mut self.m);
        for t in m.teams.values() {
            if let Some(p) = &t.parent {
                if p.value == t.name.value {
                    self.err(
                        Diagnostic::error(
                            codes::CYCLE,
                            format!("team `{}` is its own parent", p.value),
                        )
                        .label(p.span, "parent here"),
                    );
                } else {
                    self.check_ref(p, &m.teams, "team");
                }
            }
        }
        self.team_cycles(&m);
        for d in m.domains.values() {
            if let Some(o) = &d.owner {
                self.check_owner(o, &m);
            }
        }
        for s in m.systems.values() {
            if let Some(o) = &s.owner {
                self.check_owner(o, &m);
            }
            if let Some(d) = &s.domain {
                self.check_ref(d, &m.domains, "domain");
            }
        }
        for a in m.apis.values() {
            if let Some(o) = &a.owner {
                self.check_owner(o, &m);
            }
            if let Some(s) = &a.system {
                self.check_ref(s, &m.systems, "system");
            }
            if let Some(def) = &a.definition {
                self.asset(def, &m, "API definition");
            }
        }
        for t in m.resource_types.values() {
            self.resource_type(t, &m);
        }
        for w in m.workloads.values() {
            self.workload(w, &m);
        }
        self.shared_resources(&m);
        self.guard_rails(&m);
        self.derived_names(&m);
        // Assets were collected into the (emptied) working model while checking.
        let assets = std::mem::take(&mut self.m.assets);
        self.m = m;
        self.m.assets = assets;
    }

    fn team_cycles(&mut self, m: &Model) {
        let mut reported = BTreeSet::new();
        for start in m.teams.keys() {
            let mut path: Vec<&str> = vec![start];
            let mut cur = start.as_str();
            while let Some(p) = m.teams.get(cur).and_then(|t| t.parent.as_ref()) {
                if let Some(pos) = path.iter().position(|x| *x == p.value) {
                    let cycle: BTreeSet<&str> = path[pos..].iter().copied().collect();
                    if path[pos..].len() > 1
                        && reported.insert(cycle.into_iter().collect::<Vec<_>>().join(","))
                    {
                        let mut d = Diagnostic::error(
                            codes::CYCLE,
                            format!(
                                "teams form a parent cycle: {} → {}",
                                path[pos..].join(" → "),
                                p.value
                            ),
                        );
                        for (i, name) in path[pos..].iter().enumerate() {
                            if let Some(par) = m.teams.get(*name).and_then(|t| t.parent.as_ref()) {
                                d = if i == 0 {
                                    d.label(par.span, format!("`{name}`'s parent"))
                                } else {
                                    d.related(par.span, format!("`{name}`'s parent"))
                                };
                            }
                        }
                        self.err(d.help("a team hierarchy is a tree; remove one `parent`"));
                    }
                    break;
                }
                if !m.teams.contains_key(&p.value) {
                    break;
                }
                path.push(&p.value);
                cur = &p.value;
            }
        }
    }

    /// Resolve a path relative to the spec file naming it; it must stay inside ROOT.
    fn asset(&mut self, s: &Spanned<String>, _m: &Model, what: &str) -> Option<Asset> {
        let file = self.sources.get(s.span.file);
        if file.origin == Origin::Builtin {
            let dir = Path::new(&file.name)
                .parent()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            let rel = normalize(
                Path::new(dir.trim_start_matches("<builtin>").trim_start_matches('/'))
                    .join(&s.value)
                    .as_path(),
            );
            let Some(text) = rel.as_deref().and_then(crate::platform::template) else {
                self.err(
                    Diagnostic::error(
                        codes::FILE_NOT_FOUND,
                        format!("built-in {what} `{}` is missing", s.value),
                    )
                    .label(s.span, "not embedded"),
                );
                return None;
            };
            let asset = Asset {
                name: format!("<builtin>/{}", rel.unwrap_or_default()),
                path: None,
                bytes: Arc::from(text.as_bytes()),
            };
            self.m_assets_insert(s.span, asset.clone());
            return Some(asset);
        }
        let root = &self.sources.root;
        let dir = file
            .dir()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| root.clone());
        if Path::new(&s.value).is_absolute() {
            self.err(
                Diagnostic::error(
                    codes::PATH_ESCAPES_ROOT,
                    format!("{what} path `{}` is absolute", s.value),
                )
                .label(s.span, "absolute path")
                .help(format!(
                    "copy the file into the spec tree and name it relative to `{}`, e.g. \"{}\"",
                    file.name,
                    Path::new(&s.value)
                        .file_name()
                        .map_or_else(|| "config.yaml".into(), |n| n.to_string_lossy())
                )),
            );
            return None;
        }
        let joined = dir.join(&s.value);
        let canon_root = root.canonicalize().unwrap_or_else(|_| root.clone());
        // Lexical check first, so a `..` path outside ROOT is refused even when it exists.
        let lexical = normalize(&joined.canonicalize().unwrap_or(joined.clone()));
        let lexical_inside = normalize(&dir.canonicalize().unwrap_or(dir.clone()).join(&s.value))
            .is_some_and(|p| Path::new(&p).starts_with(&canon_root));
        match std::fs::canonicalize(&joined) {
            Ok(real) if !real.starts_with(&canon_root) => {
                self.err(
                    Diagnostic::error(codes::PATH_ESCAPES_ROOT, format!("{what} `{}` resolves outside ROOT", s.value))
                        .label(s.span, "escapes ROOT")
                        .help("paths are relative to the spec file that names them and must stay inside ROOT (after `..` and symlinks)"),
                );
                None
            }
            Ok(real) => match std::fs::read(&real) {
                Ok(bytes) => {
                    let name = real
                        .strip_prefix(&canon_root)
                        .map(|p| {
                            p.components()
                                .map(|c| c.as_os_str().to_string_lossy())
                                .collect::<Vec<_>>()
                                .join("/")
                        })
                        .unwrap_or_default();
                    let asset = Asset {
                        name,
                        path: Some(real),
                        bytes: Arc::from(bytes),
                    };
                    self.m_assets_insert(s.span, asset.clone());
                    Some(asset)
                }
                Err(e) => {
                    self.err(
                        Diagnostic::error(
                            codes::FILE_NOT_FOUND,
                            format!("cannot read {what} `{}`: {e}", s.value),
                        )
                        .label(s.span, "unreadable"),
                    );
                    None
                }
            },
            Err(_) if !lexical_inside && lexical.is_some() => {
                self.err(
                    Diagnostic::error(codes::PATH_ESCAPES_ROOT, format!("{what} `{}` points outside ROOT", s.value))
                        .label(s.span, "escapes ROOT")
                        .help("paths are relative to the spec file that names them and must stay inside ROOT"),
                );
                None
            }
            Err(_) => {
                let rel_dir = Path::new(&file.name)
                    .parent()
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let looked = normalize(&Path::new(&rel_dir).join(&s.value)).unwrap_or_default();
                let help = match find_by_name(root, &s.value) {
                    Some(found) => format!(
                        "paths are relative to the folder of `{}`; did you mean \"{}\" (`{found}` under ROOT)?",
                        file.name,
                        relative_to(&rel_dir, &found)
                    ),
                    None => format!(
                        "looked for `{looked}` under ROOT; paths are relative to the folder of `{}`",
                        file.name
                    ),
                };
                self.err(
                    Diagnostic::error(
                        codes::FILE_NOT_FOUND,
                        format!("{what} `{}` does not exist", s.value),
                    )
                    .label(s.span, "no such file")
                    .help(help),
                );
                None
            }
        }
    }

    fn m_assets_insert(&mut self, span: Span, asset: Asset) {
        self.pending_assets().insert(span, asset);
    }

    fn pending_assets(&mut self) -> &mut BTreeMap<Span, Asset> {
        &mut self.m.assets
    }

    fn resource_type(&mut self, t: &ResourceType, m: &Model) {
        let outputs: HashMap<&str, &OutputDecl> = t
            .outputs
            .iter()
            .map(|o| (o.name.value.as_str(), o))
            .collect();
        for p in &t.provisioners {
            for o in &p.outputs {
                match outputs.get(o.name.value.as_str()) {
                    None => {
                        let help = did_you_mean(&o.name.value, outputs.keys().copied())
                            .unwrap_or_else(|| {
                                format!("declare it on the type: `output {}`", o.name.value)
                            });
                        self.err(
                            Diagnostic::error(
                                codes::PROVISIONER_OUTPUTS,
                                format!(
                                    "resource type `{}` has no output `{}`",
                                    t.name.value, o.name.value
                                ),
                            )
                            .label(o.name.span, "not declared by the type")
                            .help(help),
                        );
                    }
                    Some(decl) if decl.sensitive => {
                        if let OutputSource::Value(v) = &o.source {
                            self.err(
                                Diagnostic::error(
                                    codes::SENSITIVE_PLAIN,
                                    format!(
                                        "sensitive output `{}` is given with `value=`",
                                        o.name.value
                                    ),
                                )
                                .label(v.span, "would be written in plain text")
                                .related(decl.span, "declared sensitive here")
                                .help(
                                    "use `expr=` (a Terraform expression) or `secret=` with `key=`",
                                ),
                            );
                        }
                    }
                    Some(_) => {}
                }
            }
            for decl in &t.outputs {
                if !p.outputs.iter().any(|o| o.name.value == decl.name.value) {
                    self.err(
                        Diagnostic::error(
                            codes::PROVISIONER_OUTPUTS,
                            format!(
                                "provisioner `{}` does not define output `{}`",
                                p.name.value, decl.name.value
                            ),
                        )
                        .label(p.name.span, "incomplete outputs")
                        .related(decl.span, "declared here")
                        .help(format!(
                            "add `output {} value=\"…\"` (or `expr=`, or `secret=` with `key=`)",
                            decl.name.value
                        )),
                    );
                }
            }
            for mline in &p.matches {
                if let Some(e) = &mline.env {
                    self.check_ref(e, &m.environments, "environment");
                }
                if let Some(w) = &mline.workload {
                    self.check_ref(w, &m.workloads, "workload");
                }
            }
            for tpl in [&p.terraform, &p.kubernetes].into_iter().flatten() {
                self.asset(tpl, m, "template");
            }
        }
    }

    /// A `when` that selects only environments the workload is not deployed to never applies: a
    /// warning, since it is probably meant for an environment the workload should be in (or is
    /// left over from one it no longer is). Deployment follows expansion: the `environments` of
    /// the last layer that sets it (the workload, then `when env-type=`, then `when env=`).
    fn when_outside_environments(&mut self, w: &Workload, wh: &When, m: &Model) {
        let selected: Vec<&Environment> = match &wh.selector {
            WhenSelector::Env(e) => m.environments.get(&e.value).into_iter().collect(),
            WhenSelector::EnvType(t) => m
                .environments
                .values()
                .filter(|e| e.env_type.as_ref().map(|x| x.value) == Some(t.value))
                .collect(),
        };
        // No such environment (or type) is reported on its own.
        let Some(first) = selected.first() else {
            return;
        };
        let deciding = |env: &Environment| {
            let mut list = w.body.environments.as_ref();
            let type_layers = w.whens.iter().filter(|x| match &x.selector {
                WhenSelector::EnvType(t) => env.env_type.as_ref().map(|y| y.value) == Some(t.value),
                WhenSelector::Env(_) => false,
            });
            let env_layers = w.whens.iter().filter(|x| match &x.selector {
                WhenSelector::Env(e) => e.value == env.name.value,
                WhenSelector::EnvType(_) => false,
            });
            for layer in type_layers.chain(env_layers) {
                if layer.body.environments.is_some() {
                    list = layer.body.environments.as_ref();
                }
            }
            list
        };
        let deployed = |env: &Environment| {
            deciding(env).is_none_or(|l| l.value.iter().any(|x| x.value == env.name.value))
        };
        if selected.iter().any(|e| deployed(e)) {
            return;
        }
        let Some(list) = deciding(first) else {
            return;
        };
        let (span, what) = match &wh.selector {
            WhenSelector::Env(e) => (e.span, format!("environment `{}`", e.value)),
            WhenSelector::EnvType(t) => (t.span, format!("any `{}` environment", t.value.as_str())),
        };
        let names: Vec<&str> = list.value.iter().map(|e| e.value.as_str()).collect();
        self.err(
            Diagnostic::warning(
                codes::INVALID_WHEN,
                format!(
                    "this `when` never applies: workload `{}` is not deployed to {what}",
                    w.name.value
                ),
            )
            .label(span, "never selected")
            .related(
                list.span,
                format!("`environments` lists only {}", crate::lower::list(&names)),
            )
            .help("add the environment to `environments`, or remove the `when` block"),
        );
    }

    fn workload(&mut self, w: &Workload, m: &Model) {
        if let Some(o) = &w.owner {
            self.check_owner(o, m);
        }
        if let Some(s) = &w.system {
            self.check_ref(s, &m.systems, "system");
        }
        for d in &w.depends_on {
            if d.value == w.name.value {
                self.err(
                    Diagnostic::error(
                        codes::SELF_DEPENDENCY,
                        format!("workload `{}` depends on itself", d.value),
                    )
                    .label(d.span, "self-dependency")
                    .help("remove it"),
                );
            } else {
                self.check_ref(d, &m.workloads, "workload");
            }
        }
        for a in w.provides_api.iter().chain(&w.consumes_api) {
            self.check_ref(a, &m.apis, "api");
        }
        let mut seen_when: HashMap<String, Span> = HashMap::new();
        for wh in &w.whens {
            let key = match &wh.selector {
                WhenSelector::Env(e) => {
                    if !m.environments.contains_key(&e.value) {
                        let known: Vec<String> = m.environments.keys().cloned().collect();
                        self.err(
                            Diagnostic::error(
                                codes::UNKNOWN_ENVIRONMENT,
                                format!("`when` for unknown environment `{}`", e.value),
                            )
                            .label(e.span, "no such environment")
                            .help(did_you_mean(&e.value, known.iter().map(String::as_str)).unwrap_or_else(|| {
                                format!(
                                    "declared environments: {}; or declare `environment {} {{ … }}`",
                                    crate::lower::list(&known.iter().map(String::as_str).collect::<Vec<_>>()),
                                    e.value
                                )
                            })),
                        );
                    }
                    (format!("env={}", e.value), e.span)
                }
                WhenSelector::EnvType(t) => {
                    if !m
                        .environments
                        .values()
                        .any(|e| e.env_type.as_ref().map(|x| x.value) == Some(t.value))
                    {
                        self.err(
                            Diagnostic::error(
                                codes::UNKNOWN_ENVIRONMENT,
                                format!("no environment has type `{}`", t.value.as_str()),
                            )
                            .label(t.span, "this override never applies")
                            .help("declare an environment of this type or remove the `when`"),
                        );
                    }
                    (format!("env-type={}", t.value.as_str()), t.span)
                }
            };
            self.when_outside_environments(w, wh, m);
            if let Some(first) = seen_when.insert(key.0.clone(), key.1) {
                self.err(
                    Diagnostic::error(
                        codes::INVALID_WHEN,
                        format!("two `when {}` blocks in one workload", key.0),
                    )
                    .label(key.1, "second block")
                    .related(first, "first block")
                    .help("merge them into one"),
                );
            }
        }
        // Resources: declared at any layer; the type comes from the base or the first layer that sets it.
        let mut res: BTreeMap<&str, &ResourceReq> = BTreeMap::new();
        for r in &w.body.resources {
            res.insert(&r.name.value, r);
        }
        for wh in &w.whens {
            for r in &wh.body.resources {
                if !res.contains_key(r.name.value.as_str()) {
                    if r.ty.is_none() {
                        self.err(
                            Diagnostic::error(
                                codes::MISSING_FIELD,
                                format!("resource `{}` has no `type`", r.name.value),
                            )
                            .label(r.span, "new in this `when`, so it needs a type")
                            .help("add type=… or declare the resource in the workload itself"),
                        );
                        continue;
                    }
                    res.insert(&r.name.value, r);
                }
            }
        }
        let mut types: BTreeMap<&str, &ResourceType> = BTreeMap::new();
        for (name, r) in &res {
            if let Some(ty) = &r.ty {
                if self.check_ref(ty, &m.resource_types, "resource type") {
                    types.insert(name, &m.resource_types[&ty.value]);
                }
            }
        }
        for layer in std::iter::once(&w.body).chain(w.whens.iter().map(|x| &x.body)) {
            let is_base = std::ptr::eq(layer, &w.body);
            for r in &layer.resources {
                if let Some(t) = types.get(r.name.value.as_str()) {
                    self.params(
                        r,
                        t,
                        is_base
                            || !w
                                .body
                                .resources
                                .iter()
                                .any(|b| b.name.value == r.name.value),
                    );
                }
            }
            self.layer_refs(w, layer, &res, &types, m);
        }
        for envs in std::iter::once(&w.body)
            .chain(w.whens.iter().map(|x| &x.body))
            .filter_map(|b| b.environments.as_ref())
        {
            for e in &envs.value {
                self.check_ref(e, &m.environments, "environment");
            }
        }
        // A container that first appears in a `when` is complete only with an image.
        for wh in &w.whens {
            for c in &wh.body.containers {
                let in_base = w
                    .body
                    .containers
                    .iter()
                    .any(|b| b.name.value == c.name.value);
                if !in_base && c.image.is_none() {
                    self.err(
                        Diagnostic::error(
                            codes::MISSING_FIELD,
                            format!("container `{}` has no `image`", c.name.value),
                        )
                        .label(c.name.span, "new in this `when`, so it needs an image")
                        .help("add `image \"registry/app:1.0.0\"`, or declare the container in the workload itself"),
                    );
                }
            }
        }
    }

    /// An owner must be a team; a member's name gets a pointed help.
    fn check_owner(&mut self, o: &Name, m: &Model) {
        if m.teams.contains_key(&o.value) {
            return;
        }
        let team_of = m
            .teams
            .values()
            .find(|t| t.members.iter().any(|x| x.name.value == o.value));
        match team_of {
            Some(t) => self.err(
                Diagnostic::error(
                    codes::UNDEFINED_NAME,
                    format!("no team named `{}`", o.value),
                )
                .label(o.span, "a person, not a team")
                .related(
                    t.members
                        .iter()
                        .find(|x| x.name.value == o.value)
                        .map_or(t.name.span, |x| x.name.span),
                    format!("`{}` is a member of team `{}`", o.value, t.name.value),
                )
                .help(format!(
                    "owners are teams, so ownership survives people moving on: write `owner {}`",
                    t.name.value
                )),
            ),
            None => {
                self.check_ref(o, &m.teams, "team");
            }
        }
    }

    /// Check a resource request's params against its type.
    fn params(&mut self, r: &ResourceReq, t: &ResourceType, complete: bool) {
        for p in &r.params {
            match t.params.iter().find(|d| d.name.value == p.key.value) {
                None => {
                    let known: Vec<&str> = t.params.iter().map(|d| d.name.value.as_str()).collect();
                    let help =
                        did_you_mean(&p.key.value, known.iter().copied()).unwrap_or_else(|| {
                            if known.is_empty() {
                                format!("`{}` takes no params", t.name.value)
                            } else {
                                format!("`{}` takes {}", t.name.value, crate::lower::list(&known))
                            }
                        });
                    self.err(
                        Diagnostic::error(
                            codes::INVALID_PARAM,
                            format!(
                                "resource type `{}` has no param `{}`",
                                t.name.value, p.key.value
                            ),
                        )
                        .label(p.key.span, "unknown param")
                        .related(t.name.span, "type declared here")
                        .help(help),
                    );
                }
                Some(decl) => {
                    // Strings with placeholders are checked after expansion.
                    if matches!(&p.value.value, Scalar::Str(s) if s.contains("${"))
                        && decl.ty.value == ParamType::String
                    {
                        continue;
                    }
                    if let Err((msg, help)) = crate::lower::check_param_value(decl, &p.value.value)
                    {
                        self.err(
                            Diagnostic::error(
                                codes::INVALID_PARAM,
                                format!("param `{}` {msg}", p.key.value),
                            )
                            .label(p.value.span, "invalid value")
                            .related(decl.span, "declared here")
                            .maybe_help(help),
                        );
                    }
                }
            }
        }
        if complete {
            for decl in &t.params {
                if decl.required
                    && decl.default.is_none()
                    && !r.params.iter().any(|p| p.key.value == decl.name.value)
                {
                    self.err(
                        Diagnostic::error(
                            codes::INVALID_PARAM,
                            format!(
                                "resource `{}` needs param `{}`",
                                r.name.value, decl.name.value
                            ),
                        )
                        .label(r.span, "missing required param")
                        .related(decl.span, "declared required here")
                        .help(format!("add {}=…", decl.name.value)),
                    );
                }
            }
        }
    }

    /// Placeholders, port references and autoscale requirements within one layer.
    fn layer_refs(
        &mut self,
        w: &Workload,
        layer: &WorkloadBody,
        res: &BTreeMap<&str, &ResourceReq>,
        types: &BTreeMap<&str, &ResourceType>,
        m: &Model,
    ) {
        let mut strings: Vec<(Spanned<String>, &str)> = Vec::new();
        for c in &layer.containers {
            for e in &c.env {
                if let Patch::Set(Scalar::Str(s)) = &e.value.value {
                    strings.push((Spanned::new(s.clone(), e.value.span), "env"));
                }
            }
            for a in c.args.iter().chain(&c.command).flat_map(|x| &x.value) {
                strings.push((a.clone(), "args"));
            }
            for v in &c.volumes {
                if let Some(s) = &v.source {
                    strings.push((s.clone(), "volume"));
                }
            }
            for f in &c.files {
                let expand = f.expand.as_ref().is_none_or(|e| e.value);
                if let Some(content) = &f.content {
                    if expand {
                        strings.push((content.clone(), "file"));
                    }
                }
                if let Some(src) = &f.source {
                    if let Some(asset) = self.asset(src, m, "file source") {
                        if expand {
                            match std::str::from_utf8(&asset.bytes) {
                                Ok(text) => self.file_placeholders(text, src, res, types),
                                Err(_) => self.err(
                                    Diagnostic::error(codes::INVALID_VALUE, format!("`{}` is not UTF-8 text", src.value))
                                        .label(src.span, "binary file")
                                        .help("placeholders are expanded in text files only; add expand=#false to mount it as is"),
                                ),
                            }
                        }
                    }
                }
            }
            // Port references within the container.
            let base = w
                .body
                .containers
                .iter()
                .find(|b| b.name.value == c.name.value);
            let port_known = |name: &str| {
                c.ports
                    .iter()
                    .chain(base.map(|b| b.ports.as_slice()).unwrap_or(&[]))
                    .any(|p| p.name.value == name)
            };
            for p in &c.probes {
                let port = match &p.action {
                    ProbeAction::Http { port, .. } | ProbeAction::Tcp { port } => port,
                    ProbeAction::Exec(_) => continue,
                };
                if !port_known(&port.value) {
                    let names: Vec<String> = c.ports.iter().map(|p| p.name.value.clone()).collect();
                    self.err(
                        Diagnostic::error(
                            codes::UNKNOWN_PORT,
                            format!("container `{}` has no port `{}`", c.name.value, port.value),
                        )
                        .label(port.span, "unknown port")
                        .help(
                            did_you_mean(&port.value, names.iter().map(String::as_str))
                                .unwrap_or_else(|| {
                                    format!("add `port {} 8080` to the container", port.value)
                                }),
                        ),
                    );
                }
            }
        }
        for r in &layer.resources {
            for p in &r.params {
                if let Scalar::Str(s) = &p.value.value {
                    strings.push((Spanned::new(s.clone(), p.value.span), "param"));
                }
            }
        }
        for (s, ctx) in strings {
            self.string_placeholders(&s, res, types, ctx == "file");
        }
        // Service targets name container ports of the workload (any layer).
        let all_ports: BTreeSet<&str> = std::iter::once(&w.body)
            .chain(w.whens.iter().map(|x| &x.body))
            .flat_map(|b| &b.containers)
            .flat_map(|c| &c.ports)
            .map(|p| p.name.value.as_str())
            .collect();
        if let Some(Spanned {
            value: Patch::Set(svc),
            ..
        }) = &layer.service
        {
            for p in &svc.ports {
                let target = p.target.as_ref().unwrap_or(&p.name);
                if !all_ports.contains(target.value.as_str()) {
                    self.err(
                        Diagnostic::error(codes::UNKNOWN_PORT, format!("no container port named `{}`", target.value))
                            .label(target.span, "service target")
                            .help(
                                did_you_mean(&target.value, all_ports.iter().copied())
                                    .unwrap_or_else(|| {
                                        let names: Vec<&str> = all_ports.iter().copied().collect();
                                        if names.is_empty() {
                                            format!("`target` names a container port; add `port {} 8080` to a container", target.value)
                                        } else {
                                            format!("`target` names a container port: {}", names.iter().map(|n| format!("target={n}")).collect::<Vec<_>>().join(" or "))
                                        }
                                    }),
                            ),
                    );
                }
            }
        }
        let svc_ports: BTreeSet<&str> = std::iter::once(&w.body)
            .chain(w.whens.iter().map(|x| &x.body))
            .filter_map(|b| match &b.service {
                Some(Spanned {
                    value: Patch::Set(s),
                    ..
                }) => Some(s),
                _ => None,
            })
            .flat_map(|s| &s.ports)
            .map(|p| p.name.value.as_str())
            .collect();
        if let Some(routes) = &layer.routes {
            for r in &routes.value {
                if let Some(port) = &r.port {
                    if !svc_ports.contains(port.value.as_str()) {
                        let help = if svc_ports.is_empty() {
                            "a route sends traffic to a service port; add `service { port http 80 target=http }`".to_string()
                        } else {
                            did_you_mean(&port.value, svc_ports.iter().copied())
                                .unwrap_or_else(|| "`port` names a service port".into())
                        };
                        self.err(
                            Diagnostic::error(
                                codes::UNKNOWN_PORT,
                                format!("no service port named `{}`", port.value),
                            )
                            .label(port.span, "route port")
                            .help(help),
                        );
                    }
                }
            }
        }
        if let Some(Spanned {
            value: Patch::Set(_),
            span,
        }) = &layer.autoscale
        {
            let containers: Vec<&Container> = w.body.containers.iter().collect();
            for c in containers {
                let has = c.cpu.as_ref().is_some_and(|x| x.request.is_some())
                    || w.whens.iter().flat_map(|x| &x.body.containers).any(|o| {
                        o.name.value == c.name.value
                            && o.cpu.as_ref().is_some_and(|x| x.request.is_some())
                    });
                if !has {
                    self.err(
                        Diagnostic::error(
                            codes::CONFLICTING_FIELDS,
                            format!(
                                "`autoscale` needs a cpu request on container `{}`",
                                c.name.value
                            ),
                        )
                        .label(c.name.span, "no cpu request")
                        .related(*span, "autoscale here")
                        .help("add `cpu request=\"250m\"` to the container"),
                    );
                }
            }
        }
    }

    fn string_placeholders(
        &mut self,
        s: &Spanned<String>,
        res: &BTreeMap<&str, &ResourceReq>,
        types: &BTreeMap<&str, &ResourceType>,
        in_file: bool,
    ) {
        // No `${`, no placeholder (most strings).
        if !s.value.contains("${") {
            return;
        }
        let Ok(segs) = values::placeholders(&s.value) else {
            return;
        };
        for seg in segs {
            if let Segment::Placeholder { path, range } = seg {
                let src = &self.sources.get(s.span.file).text;
                let span = crate::lower::inner_span(src, s, range);
                self.placeholder(&path, span, res, types, in_file);
            }
        }
    }

    fn file_placeholders(
        &mut self,
        text: &str,
        src: &Spanned<String>,
        res: &BTreeMap<&str, &ResourceReq>,
        types: &BTreeMap<&str, &ResourceType>,
    ) {
        match values::placeholders(text) {
            Err(e) => self.err(
                Diagnostic::error(
                    codes::INVALID_PLACEHOLDER,
                    format!("{} in `{}`", e.message, src.value),
                )
                .label(src.span, "in this file")
                .help(format!("{}; or add expand=#false", e.help)),
            ),
            Ok(segs) => {
                for seg in segs {
                    if let Segment::Placeholder { path, .. } = seg {
                        self.placeholder(&path, src.span, res, types, true);
                    }
                }
            }
        }
    }

    fn placeholder(
        &mut self,
        path: &[String],
        span: Span,
        res: &BTreeMap<&str, &ResourceReq>,
        types: &BTreeMap<&str, &ResourceType>,
        in_file: bool,
    ) {
        let p: Vec<&str> = path.iter().map(String::as_str).collect();
        let seg = |k: usize| self.segment_span(span, path, k);
        match p.as_slice() {
            ["workload", "name"] | ["env", "name" | "type" | "region"] | ["namespace"] => {}
            ["resources", name, output] => {
                let Some(r) = res.get(name) else {
                    let names: Vec<&str> = res.keys().copied().collect();
                    let help = did_you_mean(name, names.iter().copied()).unwrap_or_else(|| {
                        if names.is_empty() {
                            format!("declare it in the workload: `resource {name} type=…`")
                        } else {
                            format!(
                                "the workload's resources are {}; or declare it: `resource {name} type=…`",
                                crate::lower::list(&names)
                            )
                        }
                    });
                    self.err(
                        Diagnostic::error(
                            codes::UNKNOWN_REFERENCE,
                            format!("the workload has no resource `{name}`"),
                        )
                        .label(seg(1), "no such resource in this workload")
                        .help(help),
                    );
                    return;
                };
                let Some(t) = types.get(name) else { return };
                match t.outputs.iter().find(|o| o.name.value == *output) {
                    None => {
                        let outs: Vec<&str> =
                            t.outputs.iter().map(|o| o.name.value.as_str()).collect();
                        self.err(
                            Diagnostic::error(
                                codes::UNKNOWN_REFERENCE,
                                format!(
                                    "resource type `{}` has no output `{output}`",
                                    t.name.value
                                ),
                            )
                            .label(seg(2), format!("not an output of {}", t.name.value))
                            .related(r.span, format!("`{name}` is a {}", t.name.value))
                            .help(
                                did_you_mean(output, outs.iter().copied()).unwrap_or_else(|| {
                                    format!("its outputs are {}", crate::lower::list(&outs))
                                }),
                            ),
                        );
                    }
                    Some(decl) if in_file && (decl.sensitive || secret_backed(t, output)) => {
                        self.err(
                            Diagnostic::error(codes::SENSITIVE_PLAIN, format!("secret-backed output `{name}.{output}` cannot be used in a file"))
                                .label(span, "would be written into a ConfigMap in plain text")
                                .related(decl.span, "declared here")
                                .help("pass it as an env var (it becomes a secretKeyRef) and read it from the environment"),
                        );
                    }
                    Some(_) => {}
                }
            }
            ["resources", rest @ ..] => {
                let help = match rest {
                    [name] => match types.get(name) {
                        Some(t) => {
                            let outs: Vec<&str> =
                                t.outputs.iter().map(|o| o.name.value.as_str()).collect();
                            format!(
                                "name an output: `${{resources.{name}.{}}}`; a {} has {}",
                                outs.first().copied().unwrap_or("OUTPUT"),
                                t.name.value,
                                crate::lower::list(&outs)
                            )
                        }
                        None => format!("write `${{resources.{name}.OUTPUT}}`"),
                    },
                    _ => "write `${resources.NAME.OUTPUT}`".to_string(),
                };
                self.err(
                    Diagnostic::error(
                        codes::INVALID_PLACEHOLDER,
                        "a resource placeholder has three parts: `${resources.NAME.OUTPUT}`",
                    )
                    .label(
                        span,
                        if rest.len() < 2 {
                            "no output named"
                        } else {
                            "too many parts"
                        },
                    )
                    .help(help),
                );
            }
            _ => {
                const KNOWN: &[&str] = &[
                    "workload.name",
                    "env.name",
                    "env.type",
                    "env.region",
                    "namespace",
                ];
                let joined = path.join(".");
                let help = if p.first() == Some(&"resource") && p.len() == 3 {
                    Some(format!("did you mean `${{resources.{}.{}}}`?", p[1], p[2]))
                } else if let ["env" | "workload", field] = p.as_slice() {
                    let fields: &[&str] = if p[0] == "env" {
                        &["name", "type", "region"]
                    } else {
                        &["name"]
                    };
                    Some(
                        crate::diagnostics::suggest(field, fields.iter().copied())
                            .map(|f| format!("did you mean `${{{}.{f}}}`?", p[0]))
                            .unwrap_or_else(|| {
                                format!(
                                    "`{}` placeholders are {}",
                                    p[0],
                                    fields
                                        .iter()
                                        .map(|f| format!("`${{{}.{f}}}`", p[0]))
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                )
                            }),
                    )
                } else {
                    crate::diagnostics::suggest(&joined, KNOWN.iter().copied())
                        .map(|k| format!("did you mean `${{{k}}}`?"))
                };
                self.err(
                    Diagnostic::error(
                        codes::UNKNOWN_REFERENCE,
                        format!("unknown placeholder `${{{joined}}}`"),
                    )
                    .label(span, "unknown placeholder")
                    .help(help.unwrap_or_else(|| "placeholders are `${resources.NAME.OUTPUT}`, `${workload.name}`, `${env.name}`, `${env.type}`, `${env.region}` and `${namespace}`".into())),
                );
            }
        }
    }

    /// The span of path part `k` inside a placeholder's span, when the source maps exactly.
    fn segment_span(&self, span: Span, path: &[String], k: usize) -> Span {
        let raw = self.sources.slice(span);
        let Some(inner) = raw.strip_prefix("${").and_then(|r| r.strip_suffix('}')) else {
            return span;
        };
        let mut pos = 2 + inner.len() - inner.trim_start().len();
        for (i, part) in path.iter().enumerate() {
            if raw.get(pos..pos + part.len()) != Some(part.as_str()) {
                return span;
            }
            if i == k {
                return span.sub(pos, pos + part.len());
            }
            pos += part.len() + 1;
        }
        span
    }

    fn shared_resources(&mut self, m: &Model) {
        let mut by_id: BTreeMap<String, Vec<(&Workload, &ResourceReq)>> = BTreeMap::new();
        for w in m.workloads.values() {
            for r in &w.body.resources {
                let id = r.id.as_ref().map_or_else(
                    || format!("{}-{}", w.name.value, r.name.value),
                    |i| i.value.clone(),
                );
                by_id.entry(id).or_default().push((w, r));
            }
        }
        for (id, users) in by_id {
            let Some(((w1, first), rest)) = users.split_first() else {
                continue;
            };
            for (w2, other) in rest {
                if let Some((what, here, there, fix)) = disagreement(first, other, m) {
                    self.err(
                        Diagnostic::error(
                            codes::SHARED_PARAMS_CONFLICT,
                            format!(
                                "workloads `{}` and `{}` share resource `{id}` but disagree on {what}",
                                w1.name.value, w2.name.value
                            ),
                        )
                        .label(here, format!("`{}` says this", w2.name.value))
                        .related(there, format!("`{}` says this", w1.name.value))
                        .help(format!(
                            "a shared resource is one instance: {fix}, or give them different `id=`s"
                        )),
                    );
                }
            }
        }
    }

    fn guard_rails(&mut self, m: &Model) {
        let builtin: Vec<&str> = crate::rules::RULES.iter().map(|r| r.id).collect();
        for r in &m.rules {
            if let Some(info) = crate::rules::lookup(&r.id.value) {
                let known: Vec<&str> = info.params.iter().map(|(k, _)| *k).collect();
                for p in &r.params {
                    if !known.contains(&p.key.value.as_str()) {
                        let help = did_you_mean(&p.key.value, known.iter().copied())
                            .unwrap_or_else(|| {
                                if known.is_empty() {
                                    format!("`{}` takes only `severity=`", info.id)
                                } else {
                                    format!(
                                        "`{}` takes `severity=` and {}",
                                        info.id,
                                        crate::lower::list(&known)
                                    )
                                }
                            });
                        self.err(
                            Diagnostic::error(
                                codes::UNKNOWN_PROPERTY,
                                format!("rule `{}` has no parameter `{}`", info.id, p.key.value),
                            )
                            .label(p.key.span, "unknown parameter")
                            .help(help),
                        );
                    }
                }
            }
            if !builtin.contains(&r.id.value.as_str()) {
                self.err(
                    Diagnostic::error(
                        codes::UNKNOWN_RULE,
                        format!("no built-in rule `{}`", r.id.value),
                    )
                    .label(r.id.span, "unknown rule")
                    .help(
                        did_you_mean(&r.id.value, builtin.iter().copied())
                            .unwrap_or_else(|| "`trestle rules` lists the built-in rules".into()),
                    ),
                );
            }
        }
        for p in m.policies.values() {
            if builtin.contains(&p.name.value.as_str()) {
                self.err(
                    Diagnostic::error(
                        codes::RULE_ID_TAKEN,
                        format!("`{}` is a built-in rule", p.name.value),
                    )
                    .label(p.name.span, "reuses a built-in rule id")
                    .help(format!(
                        "rename the policy, or configure the rule with `rule {} severity=…`",
                        p.name.value
                    )),
                );
            }
        }
        for wv in &m.waivers {
            if !builtin.contains(&wv.target.value.as_str())
                && !m.policies.contains_key(&wv.target.value)
            {
                let all: Vec<&str> = builtin
                    .iter()
                    .copied()
                    .chain(m.policies.keys().map(String::as_str))
                    .collect();
                self.err(
                    Diagnostic::error(
                        codes::UNKNOWN_RULE,
                        format!("no rule or policy `{}`", wv.target.value),
                    )
                    .label(wv.target.span, "unknown rule or policy")
                    .maybe_help(did_you_mean(&wv.target.value, all.iter().copied())),
                );
            }
            let scopes: [(&Option<Name>, Vec<&str>, &str); 5] = [
                (
                    &wv.workload,
                    m.workloads.keys().map(String::as_str).collect(),
                    "workload",
                ),
                (
                    &wv.env,
                    m.environments.keys().map(String::as_str).collect(),
                    "environment",
                ),
                (
                    &wv.team,
                    m.teams.keys().map(String::as_str).collect(),
                    "team",
                ),
                (&wv.api, m.apis.keys().map(String::as_str).collect(), "api"),
                (
                    &wv.resource,
                    m.workloads
                        .values()
                        .flat_map(|w| w.body.resources.iter().map(move |r| (w, r)))
                        .flat_map(|(w, r)| {
                            [r.name.value.as_str()]
                                .into_iter()
                                .chain(r.id.as_ref().map(|i| i.value.as_str()))
                                .chain(std::iter::once(leak_id(w, r)))
                        })
                        .collect(),
                    "resource",
                ),
            ];
            for (scope, known, kind) in scopes {
                if let Some(s) = scope {
                    if !known.contains(&s.value.as_str()) {
                        self.err(
                            Diagnostic::error(
                                codes::UNKNOWN_SCOPE,
                                format!("waiver scope names no {kind} `{}`", s.value),
                            )
                            .label(s.span, format!("unknown {kind}"))
                            .help(did_you_mean(&s.value, known.iter().copied()).unwrap_or_else(|| {
                                if known.is_empty() {
                                    format!("no {kind} is declared; remove `{kind}=` or fix the name")
                                } else {
                                    let mut k: Vec<&str> = known.clone();
                                    k.sort();
                                    k.dedup();
                                    format!("declared: {}", crate::lower::list(&k[..k.len().min(8)]))
                                }
                            })),
                        );
                    }
                }
            }
        }
    }

    /// Names of objects derived from spec names must fit Kubernetes' limits.
    fn derived_names(&mut self, m: &Model) {
        for w in m.workloads.values() {
            let n = &w.name.value;
            if w.schedule.is_some() && n.len() > 52 {
                self.err(
                    Diagnostic::error(codes::NAME_TOO_LONG, format!("CronJob name `{n}` has {} characters; the limit is 52", n.len()))
                        .label(w.name.span, "names the CronJob")
                        .help("Kubernetes appends an 11-character suffix to a CronJob's Jobs; shorten the workload name"),
                );
            }
            for r in std::iter::once(&w.body)
                .chain(w.whens.iter().map(|x| &x.body))
                .flat_map(|b| &b.resources)
            {
                if r.id.is_none() {
                    let id = format!("{n}-{}", r.name.value);
                    let outputs = format!("{id}-outputs");
                    if outputs.len() > 63 {
                        self.err(
                            Diagnostic::error(codes::NAME_TOO_LONG, format!("resource instance secret `{outputs}` has {} characters; the limit is 63", outputs.len()))
                                .label(r.name.span, "the instance id is `<workload>-<resource>`")
                                .help("shorten the resource name or set a short `id=`"),
                        );
                    }
                }
            }
            if let Some(sys) = &w.system {
                for e in m.environments.values() {
                    if e.namespace.is_none() {
                        let ns = format!("{}-{}", sys.value, e.name.value);
                        if ns.len() > 63 {
                            self.err(
                                Diagnostic::error(
                                    codes::NAME_TOO_LONG,
                                    format!(
                                        "namespace `{ns}` has {} characters; the limit is 63",
                                        ns.len()
                                    ),
                                )
                                .label(sys.span, "the namespace is `<system>-<env>`")
                                .related(e.name.span, "environment")
                                .help(
                                    "shorten the system name or set the environment's `namespace`",
                                ),
                            );
                        }
                    }
                }
            }
        }
        for r in m.workloads.values().flat_map(|w| &w.body.resources) {
            if let Some(id) = &r.id {
                let outputs = format!("{}-outputs", id.value);
                if outputs.len() > 63 {
                    self.err(
                        Diagnostic::error(codes::NAME_TOO_LONG, format!("resource instance secret `{outputs}` has {} characters; the limit is 63", outputs.len()))
                            .label(id.span, "instance id")
                            .help("shorten the id"),
                    );
                }
            }
        }
    }
}

/// The first difference between two declarations of one shared resource:
/// (what, span in `b`, span in `a`, how to fix). Params compare with the type's defaults applied.
fn disagreement(
    a: &ResourceReq,
    b: &ResourceReq,
    m: &Model,
) -> Option<(String, Span, Span, String)> {
    let ty = |r: &ResourceReq| r.ty.as_ref().map(|t| t.value.clone());
    if ty(a) != ty(b) {
        let sa = a.ty.as_ref().map_or(a.span, |t| t.span);
        let sb = b.ty.as_ref().map_or(b.span, |t| t.span);
        return Some((
            "its type".into(),
            sb,
            sa,
            format!("give both type={}", ty(a).unwrap_or_default()),
        ));
    }
    let class = |r: &ResourceReq| {
        r.class
            .as_ref()
            .map_or("default".to_string(), |c| c.value.clone())
    };
    if class(a) != class(b) {
        let sa = a.class.as_ref().map_or(a.span, |t| t.span);
        let sb = b.class.as_ref().map_or(b.span, |t| t.span);
        return Some((
            "its class".into(),
            sb,
            sa,
            format!("give both class={}", class(a)),
        ));
    }
    let decls = ty(a)
        .and_then(|t| m.resource_types.get(&t))
        .map(|t| &t.params);
    let effective = |r: &ResourceReq, key: &str| -> (Option<Scalar>, Span) {
        match r.params.iter().find(|p| p.key.value == key) {
            Some(p) => (Some(p.value.value.clone()), p.value.span),
            None => (
                decls
                    .and_then(|d| d.iter().find(|d| d.name.value == key))
                    .and_then(|d| d.default.as_ref())
                    .map(|d| d.value.clone()),
                r.span,
            ),
        }
    };
    let mut keys: Vec<&str> = a
        .params
        .iter()
        .chain(&b.params)
        .map(|p| p.key.value.as_str())
        .collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let ((va, sa), (vb, sb)) = (effective(a, key), effective(b, key));
        if va != vb {
            let fix = match &va {
                Some(v) => format!("give both {key}={}", scalar_kdl(v)),
                None => format!("remove `{key}=` or set it in both"),
            };
            return Some((format!("`{key}`"), sb, sa, fix));
        }
    }
    None
}

/// A scalar as it is written in KDL.
fn scalar_kdl(v: &Scalar) -> String {
    match v {
        Scalar::Str(s) if values::rfc1035(s).is_ok() => s.clone(),
        Scalar::Str(s) => format!("{s:?}"),
        Scalar::Bool(b) => format!("#{b}"),
        Scalar::Null => "#null".into(),
        other => other.to_text(),
    }
}

/// True when the provisioners of `t` back `output` by a secret (expr= or secret=).
fn secret_backed(t: &ResourceType, output: &str) -> bool {
    t.provisioners.iter().flat_map(|p| &p.outputs).any(|o| {
        o.name.value == output
            && matches!(
                o.source,
                OutputSource::Expr(_) | OutputSource::Secret { .. }
            )
    })
}

fn leak_id<'a>(_w: &'a Workload, r: &'a ResourceReq) -> &'a str {
    r.name.value.as_str()
}

/// The one file under ROOT whose name is the file name of `path` (ROOT-relative), if unique.
fn find_by_name(root: &Path, path: &str) -> Option<String> {
    let name = Path::new(path).file_name()?;
    let mut found = Vec::new();
    for e in walkdir::WalkDir::new(root)
        .max_depth(8)
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'))
        .take(20_000)
        .flatten()
    {
        if e.file_type().is_file() && e.file_name() == name {
            let rel = e.path().strip_prefix(root).ok()?;
            found.push(
                rel.components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/"),
            );
        }
    }
    (found.len() == 1).then(|| found.remove(0))
}

/// The path from folder `from` to file `to`, both ROOT-relative and '/'-separated.
fn relative_to(from: &str, to: &str) -> String {
    let from: Vec<&str> = from.split('/').filter(|c| !c.is_empty()).collect();
    let to: Vec<&str> = to.split('/').collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; from.len() - common];
    parts.extend(&to[common..]);
    parts.join("/")
}

/// Lexically normalize a path (`a/./b/../c` → `a/c`); None if it climbs above its start.
fn normalize(p: &Path) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    let mut absolute = false;
    for c in p.components() {
        match c {
            std::path::Component::RootDir => absolute = true,
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                parts.pop()?;
            }
            std::path::Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            std::path::Component::Prefix(_) => {}
        }
    }
    let joined = parts.join("/");
    Some(if absolute {
        format!("/{joined}")
    } else {
        joined
    })
}
