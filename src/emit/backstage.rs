//! Backstage catalog (SPEC section 4): one entity per file under `OUT/catalog/<kind>/<name>.yaml`
//! (kind lower-case), API definitions copied verbatim next to their API, and
//! `catalog/location.yaml`, a Location whose `spec.targets` list every entity file.
//!
//! The catalog describes the organisation, not one environment, so it is built from the model
//! and the IR of *every* environment, whatever `--env` selected: a Component's links and
//! namespaces, its resources and a Resource's consumers are unions over environments.
//!
//! References use Backstage's default kinds where the field has one (`owner: payments`,
//! `system: checkout`, `providesApis: [checkout-v1]`) and are fully qualified where it has none
//! (`dependsOn: [resource:default/checkout-api-db]`). No entity sets `metadata.namespace`, so
//! everything lands in `default`.
//!
//! What Backstage would reject is refused at the spec span by [`check`], which runs with the
//! resolver so that `validate` reports it too: names are RFC 1035 labels and tags are checked
//! by the lowering pass; here blank display names and members declared differently in two
//! teams (one User entity cannot hold both).

use std::collections::{BTreeMap, BTreeSet};

use crate::ast::Member;
use crate::diagnostics::{codes, Diagnostic};
use crate::ir;
use crate::model::{Checked, Model};
use crate::source::{Sources, Span};
use crate::yaml::{self, Map, Value};

/// The `apiVersion` of every entity.
pub const API_VERSION: &str = "backstage.io/v1alpha1";

/// `metadata.name` of the Location entity in `catalog/location.yaml`.
pub const LOCATION_NAME: &str = "trestle-catalog";

/// What the catalog needs besides the checked model.
pub struct Context<'a> {
    pub sources: &'a Sources,
    /// Every environment, expanded (not only those selected with `--env`).
    pub envs: &'a [ir::Environment],
    /// `--source-url`, already checked by [`parse_source_url`] (no trailing `/`).
    pub source_url: Option<&'a str>,
}

/// Checks that Backstage's entity validation would otherwise fail on, at the spec span:
/// blank team or member titles (`spec.profile.displayName` must be non-empty) and a member
/// listed in several teams with different emails or titles.
pub fn check(model: &Model) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let blank = |what: &str, span: Span, example: &str| {
        Diagnostic::error(codes::INVALID_VALUE, format!("{what} is blank"))
            .label(
                span,
                "becomes the Backstage display name, which must not be empty",
            )
            .help(format!(
                "write a display name such as {example}, or remove `title`"
            ))
    };
    // Member name → every (team, declaration) so far.
    let mut seen: BTreeMap<&str, Vec<(&str, &Member)>> = BTreeMap::new();
    for team in model.teams.values() {
        if let Some(t) = &team.title {
            if t.value.trim().is_empty() {
                diags.push(blank("the team's title", t.span, "\"Payments\""));
            }
        }
        for m in &team.members {
            if let Some(t) = &m.title {
                if t.value.trim().is_empty() {
                    diags.push(blank("the member's title", t.span, "\"Alice Liddell\""));
                }
            }
            let earlier = seen.entry(&m.name.value).or_default();
            for what in ["email", "title"] {
                let field = |x: &Member| match what {
                    "email" => x.email.clone(),
                    _ => x.title.clone(),
                };
                let Some(here) = field(m) else {
                    continue;
                };
                // Compare with the first earlier declaration that gives the field.
                let Some((first_team, there)) =
                    earlier.iter().find_map(|(t, x)| field(x).map(|v| (*t, v)))
                else {
                    continue;
                };
                if here.value != there.value {
                    diags.push(
                        Diagnostic::error(
                            codes::MEMBER_CONFLICT,
                            format!(
                                "member `{}` is listed with two different {what}s",
                                m.name.value
                            ),
                        )
                        .label(here.span, format!("{what} in team `{}`", team.name.value))
                        .related(there.span, format!("{what} in team `{first_team}`"))
                        .help(format!(
                            "a member is one Backstage User in every team that lists it: give the same {what} in both places, or set it in one place only"
                        )),
                    );
                }
            }
            earlier.push((&team.name.value, m));
        }
    }
    diags
}

/// Checks a `--source-url` value: an absolute `http`/`https` URL without query or fragment.
/// Returns it without trailing `/`, ready to have `/<spec path>` appended.
pub fn parse_source_url(s: &str) -> Result<String, String> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(|| {
            format!("`{s}` is not an http(s) URL; give the repository URL of ROOT, e.g. https://github.com/acme/platform/blob/main/specs")
        })?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() {
        return Err(format!("`{s}` has no host"));
    }
    if s.chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '?' | '#'))
    {
        return Err(format!(
            "`{s}` must not contain spaces, control characters, `?` or `#`"
        ));
    }
    Ok(s.trim_end_matches('/').to_string())
}

/// Percent-encodes a '/'-separated relative path for use in a URL (RFC 3986 `pchar` and `/`
/// stay as they are).
fn encode_path(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The extension kept for a copied API definition: the source file's, when it is a plain
/// alphanumeric word; otherwise none.
fn definition_extension(asset_name: &str) -> Option<&str> {
    let file = asset_name.rsplit('/').next().unwrap_or(asset_name);
    let (stem, ext) = file.rsplit_once('.')?;
    (!stem.is_empty()
        && !ext.is_empty()
        && ext.len() <= 16
        && ext.bytes().all(|b| b.is_ascii_alphanumeric()))
    .then_some(ext)
}

/// A fully qualified entity reference, for fields without a default kind.
fn qualified(kind: &str, name: &str) -> String {
    format!("{kind}:default/{name}")
}

/// One entity on its way to a file.
struct Entity {
    /// `kind` as Backstage spells it (`API`, `Component`, …).
    kind: &'static str,
    name: String,
    description: Option<String>,
    annotations: BTreeMap<String, String>,
    tags: Vec<String>,
    links: Vec<Value>,
    spec: Map,
    /// Spec files the entity comes from, for the header.
    files: BTreeSet<String>,
}

impl Entity {
    fn new(kind: &'static str, name: &str) -> Entity {
        Entity {
            kind,
            name: name.to_string(),
            description: None,
            annotations: BTreeMap::new(),
            tags: Vec::new(),
            links: Vec::new(),
            spec: Map::new(),
            files: BTreeSet::new(),
        }
    }

    /// `catalog/<kind>/<name>.yaml`.
    fn path(&self) -> String {
        format!(
            "{}/{}/{}.yaml",
            crate::write::CATALOG_DIR,
            self.kind.to_ascii_lowercase(),
            self.name
        )
    }

    fn into_document(self) -> Value {
        let mut metadata = Map::new().with("name", self.name.as_str());
        if let Some(d) = &self.description {
            metadata.insert("description", d.as_str());
        }
        if !self.annotations.is_empty() {
            metadata.insert(
                "annotations",
                self.annotations
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect::<Map>(),
            );
        }
        if !self.tags.is_empty() {
            metadata.insert("tags", self.tags.iter().collect::<Value>());
        }
        if !self.links.is_empty() {
            metadata.insert("links", Value::Seq(self.links));
        }
        Map::new()
            .with("apiVersion", API_VERSION)
            .with("kind", self.kind)
            .with("metadata", metadata)
            .with("spec", self.spec)
            .into()
    }
}

/// Builds the catalog: entity files, copied API definitions and `location.yaml`.
pub fn emit(model: &Checked, cx: &Context<'_>) -> (Vec<(String, Vec<u8>)>, Vec<Diagnostic>) {
    let mut b = Builder {
        model,
        cx,
        entities: Vec::new(),
        copies: Vec::new(),
        diags: Vec::new(),
    };
    b.groups_and_users();
    b.domains_and_systems();
    b.components();
    b.resources();
    b.apis();
    b.finish()
}

struct Builder<'a> {
    model: &'a Checked,
    cx: &'a Context<'a>,
    entities: Vec<Entity>,
    /// Verbatim copies: (path, bytes).
    copies: Vec<(String, Vec<u8>)>,
    diags: Vec<Diagnostic>,
}

impl<'a> Builder<'a> {
    fn file(&self, span: Span) -> String {
        self.cx.sources.get(span.file).name.clone()
    }

    /// A new entity declared at `span`, with its file recorded and, with `--source-url`, its
    /// `backstage.io/source-location`.
    fn entity(&self, kind: &'static str, name: &str, span: Span) -> Entity {
        let mut e = Entity::new(kind, name);
        let file = self.file(span);
        if let Some(url) = self.cx.source_url {
            e.annotations.insert(
                "backstage.io/source-location".into(),
                format!("url:{url}/{}", encode_path(&file)),
            );
        }
        e.files.insert(file);
        e
    }

    fn groups_and_users(&mut self) {
        let m = self.model;
        // Member name → (team, declaration) for every team that lists it.
        let mut users: BTreeMap<&str, Vec<(&str, &Member)>> = BTreeMap::new();
        for team in m.teams.values() {
            let name = team.name.value.as_str();
            let mut g = self.entity("Group", name, team.span);
            let mut profile = Map::new();
            if let Some(t) = &team.title {
                profile.insert("displayName", t.value.as_str());
            }
            if let Some(e) = &team.email {
                profile.insert("email", e.value.as_str());
            }
            g.spec.insert("type", "team");
            if !profile.is_empty() {
                g.spec.insert("profile", profile);
            }
            if let Some(p) = &team.parent {
                g.spec.insert("parent", p.value.as_str());
            }
            let mut children: Vec<&str> = Vec::new();
            for child in m.teams.values() {
                if child.parent.as_ref().is_some_and(|p| p.value == name) {
                    children.push(&child.name.value);
                    g.files.insert(self.file(child.span));
                }
            }
            g.spec
                .insert("children", children.into_iter().collect::<Value>());
            g.spec.insert(
                "members",
                team.members
                    .iter()
                    .map(|x| x.name.value.as_str())
                    .collect::<Value>(),
            );
            self.entities.push(g);
            for member in &team.members {
                users
                    .entry(&member.name.value)
                    .or_default()
                    .push((name, member));
            }
        }
        for (name, decls) in users {
            let Some((_, first)) = decls.first() else {
                continue;
            };
            let mut u = self.entity("User", name, first.span);
            // `check` guarantees that the declarations agree; the first value given wins.
            let title = decls.iter().find_map(|(_, x)| x.title.as_ref());
            let email = decls.iter().find_map(|(_, x)| x.email.as_ref());
            let mut profile = Map::new();
            if let Some(t) = title {
                profile.insert("displayName", t.value.as_str());
            }
            if let Some(e) = email {
                profile.insert("email", e.value.as_str());
            }
            if !profile.is_empty() {
                u.spec.insert("profile", profile);
            }
            for (_, x) in &decls {
                u.files.insert(self.file(x.span));
            }
            u.spec.insert(
                "memberOf",
                decls.iter().map(|(team, _)| *team).collect::<Value>(),
            );
            self.entities.push(u);
        }
    }

    fn domains_and_systems(&mut self) {
        let m = self.model;
        for d in m.domains.values() {
            let mut e = self.entity("Domain", &d.name.value, d.span);
            e.description = d.description.as_ref().map(|x| x.value.clone());
            if let Some(o) = &d.owner {
                e.spec.insert("owner", o.value.as_str());
            }
            self.entities.push(e);
        }
        for s in m.systems.values() {
            let mut e = self.entity("System", &s.name.value, s.span);
            e.description = s.description.as_ref().map(|x| x.value.clone());
            if let Some(o) = &s.owner {
                e.spec.insert("owner", o.value.as_str());
            }
            if let Some(d) = &s.domain {
                e.spec.insert("domain", d.value.as_str());
            }
            self.entities.push(e);
        }
    }

    /// Environments in name order (the IR's order is not part of its contract).
    fn envs(&self) -> Vec<&'a ir::Environment> {
        let mut envs: Vec<&'a ir::Environment> = self.cx.envs.iter().collect();
        envs.sort_by(|a, b| a.name.cmp(&b.name));
        envs
    }

    fn components(&mut self) {
        let m = self.model;
        let envs = self.envs();
        for w in m.workloads.values() {
            let name = w.name.value.as_str();
            let mut e = self.entity("Component", name, w.span);
            e.description = w.description.as_ref().map(|x| x.value.clone());
            let deployed: Vec<(&ir::Environment, &ir::Workload)> = envs
                .iter()
                .filter_map(|env| env.workload(name).map(|iw| (*env, iw)))
                .collect();
            // Tags: the base list, then what `when` blocks add in some environment.
            let mut tags: Vec<String> = Vec::new();
            let base = w
                .body
                .tags
                .iter()
                .flat_map(|t| t.value.iter().map(|x| &x.value));
            for t in base.chain(deployed.iter().flat_map(|(_, iw)| &iw.tags)) {
                if !tags.contains(t) {
                    tags.push(t.clone());
                }
            }
            e.tags = tags;
            // Links: every route host, once per URL, titled with the environments serving it.
            let mut links: Vec<(String, Vec<&str>)> = Vec::new();
            for (env, iw) in &deployed {
                for r in &iw.routes {
                    if r.host.starts_with("*.") {
                        continue; // a wildcard host is not a page one can open
                    }
                    let scheme = if r.tls { "https" } else { "http" };
                    let url = format!("{scheme}://{}{}", r.host, encode_path(&r.path));
                    match links.iter_mut().find(|(u, _)| *u == url) {
                        Some((_, names)) => {
                            if !names.contains(&env.name.as_str()) {
                                names.push(&env.name);
                            }
                        }
                        None => links.push((url, vec![&env.name])),
                    }
                }
            }
            e.links = links
                .into_iter()
                .map(|(url, names)| {
                    Map::new()
                        .with("url", url)
                        .with("title", names.join(", "))
                        .into()
                })
                .collect();
            e.annotations
                .insert("backstage.io/kubernetes-id".into(), name.to_string());
            let namespaces: BTreeSet<&str> = deployed
                .iter()
                .map(|(_, iw)| iw.namespace.as_str())
                .collect();
            match namespaces.len() {
                0 => {}
                1 => {
                    let ns = namespaces.iter().next().copied().unwrap_or_default();
                    e.annotations
                        .insert("backstage.io/kubernetes-namespace".into(), ns.to_string());
                }
                _ => {
                    e.annotations.insert(
                        "backstage.io/kubernetes-label-selector".into(),
                        format!("app.kubernetes.io/name={name}"),
                    );
                }
            }
            e.spec.insert(
                "type",
                if w.schedule.is_some() {
                    "job"
                } else {
                    "service"
                },
            );
            e.spec.insert(
                "lifecycle",
                w.lifecycle
                    .as_ref()
                    .map_or("production", |l| l.value.as_str()),
            );
            if let Some(o) = &w.owner {
                e.spec.insert("owner", o.value.as_str());
            }
            if let Some(s) = &w.system {
                e.spec.insert("system", s.value.as_str());
            }
            let mut depends: Vec<String> = w
                .depends_on
                .iter()
                .map(|d| qualified("component", &d.value))
                .collect();
            // Resources in spec order: the base declarations, then what only `when`s add.
            let mut ids: Vec<&str> = Vec::new();
            for (_, iw) in &deployed {
                for r in &iw.resources {
                    if !ids.contains(&r.id.as_str()) {
                        ids.push(&r.id);
                    }
                }
            }
            let base: Vec<String> = w
                .body
                .resources
                .iter()
                .map(|r| {
                    r.id.as_ref()
                        .map_or_else(|| format!("{name}-{}", r.name.value), |i| i.value.clone())
                })
                .collect();
            ids.sort_by_key(|id| base.iter().position(|b| b == id).unwrap_or(base.len()));
            depends.extend(ids.into_iter().map(|id| qualified("resource", id)));
            if !depends.is_empty() {
                e.spec
                    .insert("dependsOn", depends.into_iter().collect::<Value>());
            }
            for (key, apis) in [
                ("providesApis", &w.provides_api),
                ("consumesApis", &w.consumes_api),
            ] {
                if !apis.is_empty() {
                    e.spec.insert(
                        key,
                        apis.iter().map(|a| a.value.as_str()).collect::<Value>(),
                    );
                }
            }
            self.entities.push(e);
        }
    }

    fn resources(&mut self) {
        struct Acc<'e> {
            first: &'e ir::ResourceInstance,
            first_env: &'e str,
            consumers: BTreeSet<&'e str>,
            files: BTreeSet<String>,
            conflict: bool,
        }
        let envs = self.envs();
        let mut by_id: BTreeMap<&str, Acc<'_>> = BTreeMap::new();
        for env in &envs {
            for inst in env.resources.values() {
                let file = self.file(inst.span);
                let acc = by_id.entry(&inst.id).or_insert_with(|| Acc {
                    first: inst,
                    first_env: &env.name,
                    consumers: BTreeSet::new(),
                    files: BTreeSet::new(),
                    conflict: false,
                });
                acc.consumers
                    .extend(inst.consumers.iter().map(|(w, _)| w.as_str()));
                acc.files.insert(file);
                if inst.ty != acc.first.ty && !acc.conflict {
                    acc.conflict = true;
                    self.diags.push(
                        Diagnostic::error(
                            codes::SHARED_PARAMS_CONFLICT,
                            format!(
                                "resource `{}` is a `{}` in environment {} but a `{}` in {}",
                                inst.id, acc.first.ty, acc.first_env, inst.ty, env.name
                            ),
                        )
                        .label(inst.span, format!("type `{}` here", inst.ty))
                        .related(acc.first.span, format!("type `{}` here", acc.first.ty))
                        .help("one resource id is one Backstage Resource: use the same type, or give them different `id=`s"),
                    );
                }
            }
        }
        for (id, acc) in by_id {
            let mut e = self.entity("Resource", id, acc.first.span);
            e.files.extend(acc.files);
            e.spec.insert("type", acc.first.ty.as_str());
            // Owner and system of the first consumer by name.
            let first = acc
                .consumers
                .iter()
                .next()
                .and_then(|c| self.model.workloads.get(*c));
            for c in &acc.consumers {
                if let Some(w) = self.model.workloads.get(*c) {
                    e.files.insert(self.file(w.span));
                }
            }
            if let Some(w) = first {
                if let Some(o) = &w.owner {
                    e.spec.insert("owner", o.value.as_str());
                }
                if let Some(s) = &w.system {
                    e.spec.insert("system", s.value.as_str());
                }
            }
            e.spec.insert(
                "dependencyOf",
                acc.consumers
                    .iter()
                    .map(|c| qualified("component", c))
                    .collect::<Value>(),
            );
            self.entities.push(e);
        }
    }

    fn apis(&mut self) {
        let m = self.model;
        for a in m.apis.values() {
            let name = a.name.value.as_str();
            let mut e = self.entity("API", name, a.span);
            e.description = a.description.as_ref().map(|x| x.value.clone());
            if let Some(t) = &a.ty {
                e.spec.insert("type", t.value.as_str());
            }
            e.spec.insert(
                "lifecycle",
                a.lifecycle
                    .as_ref()
                    .map_or("production", |l| l.value.as_str()),
            );
            if let Some(o) = &a.owner {
                e.spec.insert("owner", o.value.as_str());
            }
            if let Some(s) = &a.system {
                e.spec.insert("system", s.value.as_str());
            }
            if let Some(asset) = a.definition.as_ref().and_then(|d| m.assets.get(&d.span)) {
                let file = match definition_extension(&asset.name) {
                    Some(ext) => format!("{name}.definition.{ext}"),
                    None => format!("{name}.definition"),
                };
                e.spec
                    .insert("definition", Map::new().with("$text", format!("./{file}")));
                self.copies.push((
                    format!("{}/api/{file}", crate::write::CATALOG_DIR),
                    asset.bytes.to_vec(),
                ));
            }
            self.entities.push(e);
        }
    }

    fn finish(self) -> (Vec<(String, Vec<u8>)>, Vec<Diagnostic>) {
        let mut files = self.copies;
        let mut targets = Vec::new();
        let mut all_files = BTreeSet::new();
        // Entities are written independently of each other: in parallel, in order.
        let written: Vec<(String, Vec<u8>, BTreeSet<String>)> = {
            use rayon::prelude::*;
            self.entities
                .into_par_iter()
                .with_min_len(64)
                .map(|mut e| {
                    let path = e.path();
                    let header = crate::emit::terraform::header(&e.files);
                    let from = std::mem::take(&mut e.files);
                    let text = yaml::documents_after(&header, &[e.into_document()]);
                    (path, text.into_bytes(), from)
                })
                .collect()
        };
        for (path, text, from) in written {
            targets.push(format!(
                "./{}",
                path.strip_prefix(&format!("{}/", crate::write::CATALOG_DIR))
                    .unwrap_or(&path)
            ));
            all_files.extend(from);
            files.push((path, text));
        }
        targets.sort();
        let location: Value = Map::new()
            .with("apiVersion", API_VERSION)
            .with("kind", "Location")
            .with(
                "metadata",
                Map::new().with("name", LOCATION_NAME).with(
                    "description",
                    "Every Backstage entity trestle generated from the spec tree",
                ),
            )
            .with(
                "spec",
                Map::new().with("targets", targets.into_iter().collect::<Value>()),
            )
            .into();
        let text = crate::emit::terraform::header(&all_files) + &yaml::to_string(&location);
        files.push((
            format!("{}/location.yaml", crate::write::CATALOG_DIR),
            text.into_bytes(),
        ));
        (files, self.diags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_url_needs_http_and_loses_trailing_slash() {
        assert_eq!(
            parse_source_url("https://github.com/acme/platform/blob/main/specs/").as_deref(),
            Ok("https://github.com/acme/platform/blob/main/specs")
        );
        assert!(parse_source_url("github.com/acme").is_err());
        assert!(parse_source_url("https:///x").is_err());
        assert!(parse_source_url("https://x/a b").is_err());
        assert!(parse_source_url("https://x/a?ref=main").is_err());
    }

    #[test]
    fn paths_are_percent_encoded() {
        assert_eq!(encode_path("apps/a b/ü.kdl"), "apps/a%20b/%C3%BC.kdl");
        assert_eq!(encode_path("/api/v1:x"), "/api/v1:x");
        assert_eq!(encode_path("/a?b#c%"), "/a%3Fb%23c%25");
    }

    #[test]
    fn definition_extensions() {
        assert_eq!(definition_extension("apis/checkout-v1.yaml"), Some("yaml"));
        assert_eq!(definition_extension("apis/payments.proto"), Some("proto"));
        assert_eq!(definition_extension("apis/README"), None);
        assert_eq!(definition_extension("apis/.hidden"), None);
        assert_eq!(definition_extension("apis/x.y z"), None);
    }
}
