//! Rules about references between declarations: owner-is-team (model-wide),
//! no-deprecated-dependency and api-provider-exists (per environment).

use std::collections::BTreeSet;

use crate::ast::{EnvType, Lifecycle, Name};
use crate::model::Model;

use super::{Config, EnvCx, Finding, Scope};

/// True when the team or one of its descendants has a member.
fn has_people(model: &Model, team: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut todo = vec![team];
    while let Some(t) = todo.pop() {
        if !seen.insert(t) {
            continue;
        }
        if model.teams.get(t).is_some_and(|x| !x.members.is_empty()) {
            return true;
        }
        todo.extend(
            model
                .teams
                .values()
                .filter(|c| c.parent.as_ref().is_some_and(|p| p.value == t))
                .map(|c| c.name.value.as_str()),
        );
    }
    false
}

/// owner-is-team: every owner is a team with people in it. (An owner that is no team at all
/// is already an error, T301.)
pub(super) fn owner_is_team(model: &Model, config: &Config, out: &mut Vec<Finding>) {
    let Some(rule) = config.rule("owner-is-team") else {
        return;
    };
    let mut owned: Vec<(&str, &str, &Name, Scope)> = Vec::new();
    for d in model.domains.values() {
        if let Some(o) = &d.owner {
            owned.push(("domain", &d.name.value, o, Scope::default()));
        }
    }
    for s in model.systems.values() {
        if let Some(o) = &s.owner {
            owned.push(("system", &s.name.value, o, Scope::default()));
        }
    }
    for w in model.workloads.values() {
        if let Some(o) = &w.owner {
            let scope = Scope {
                workloads: vec![w.name.value.clone()],
                ..Scope::default()
            };
            owned.push(("workload", &w.name.value, o, scope));
        }
    }
    for a in model.apis.values() {
        if let Some(o) = &a.owner {
            let scope = Scope {
                apis: vec![a.name.value.clone()],
                ..Scope::default()
            };
            owned.push(("API", &a.name.value, o, scope));
        }
    }
    for (kind, name, owner, mut scope) in owned {
        let Some(team) = model.teams.get(&owner.value) else {
            continue;
        };
        if has_people(model, &owner.value) {
            continue;
        }
        scope.teams.push(owner.value.clone());
        let d = rule
            .diag(format!(
                "{kind} `{name}` is owned by team `{}`, which has no members",
                owner.value
            ))
            .label(owner.span, "a team with nobody in it")
            .related(team.name.span, "declared here without a `member`")
            .help(format!(
                "add `member NAME email=\"…\"` to team `{}`, or give the {kind} an owner team with people",
                owner.value
            ));
        out.push(Finding {
            diag: d,
            env: None,
            scope,
        });
    }
}

pub(super) fn check(cx: &EnvCx<'_>, out: &mut Vec<Finding>) {
    no_deprecated_dependency(cx, out);
    api_provider_exists(cx, out);
}

/// The `consumes-api` names of a workload with their spans (not overridable by `when`).
fn consumed<'m>(cx: &EnvCx<'m>, workload: &str) -> &'m [Name] {
    cx.model
        .workloads
        .get(workload)
        .map_or(&[], |w| w.consumes_api.as_slice())
}

fn no_deprecated_dependency(cx: &EnvCx<'_>, out: &mut Vec<Finding>) {
    let Some(rule) = cx.config.rule("no-deprecated-dependency") else {
        return;
    };
    if cx.env.env_type != EnvType::Production {
        return;
    }
    for w in &cx.env.workloads {
        for (dep, span) in &w.depends_on {
            let Some(target) = cx.model.workloads.get(dep) else {
                continue;
            };
            let Some(lc) = target
                .lifecycle
                .as_ref()
                .filter(|l| l.value == Lifecycle::Deprecated)
            else {
                continue;
            };
            let d = rule
                .diag(format!(
                    "`{}` depends on `{dep}`, which is deprecated",
                    w.name
                ))
                .label(*span, "a deprecated workload")
                .related(lc.span, format!("`{dep}` is marked deprecated here"))
                .help(format!(
                    "move `{}` off `{dep}` before `{dep}` is retired",
                    w.name
                ));
            out.push(cx.finding(d, Scope::workload(w)));
        }
        for api in consumed(cx, &w.name) {
            let Some(a) = cx.model.apis.get(&api.value) else {
                continue;
            };
            let Some(lc) = a
                .lifecycle
                .as_ref()
                .filter(|l| l.value == Lifecycle::Deprecated)
            else {
                continue;
            };
            let mut scope = Scope::workload(w);
            scope.apis.push(api.value.clone());
            let d = rule
                .diag(format!(
                    "`{}` consumes API `{}`, which is deprecated",
                    w.name, api.value
                ))
                .label(api.span, "a deprecated API")
                .related(
                    lc.span,
                    format!("`{}` is marked deprecated here", api.value),
                )
                .help(format!(
                    "move `{}` to the API that replaces `{}`",
                    w.name, api.value
                ));
            out.push(cx.finding(d, scope));
        }
    }
}

fn api_provider_exists(cx: &EnvCx<'_>, out: &mut Vec<Finding>) {
    let Some(rule) = cx.config.rule("api-provider-exists") else {
        return;
    };
    for w in &cx.env.workloads {
        for api in consumed(cx, &w.name) {
            let provided_here = cx
                .env
                .workloads
                .iter()
                .any(|p| p.provides_api.contains(&api.value));
            if provided_here {
                continue;
            }
            let elsewhere: Vec<&str> = cx
                .model
                .workloads
                .values()
                .filter(|p| p.provides_api.iter().any(|x| x.value == api.value))
                .map(|p| p.name.value.as_str())
                .collect();
            let help = match elsewhere.as_slice() {
                [] => format!(
                    "add `provides-api {}` to the workload that serves it",
                    api.value
                ),
                [one] => format!(
                    "`{one}` provides it but is not deployed here: check its `environments`"
                ),
                many => format!(
                    "{} provide it but none is deployed here: check their `environments`",
                    many.iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            let mut scope = Scope::workload(w);
            scope.apis.push(api.value.clone());
            let d = rule
                .diag(format!(
                    "`{}` consumes API `{}`, but no workload here provides it",
                    w.name, api.value
                ))
                .label(api.span, "no provider in this environment")
                .help(help);
            out.push(cx.finding(d, scope));
        }
    }
}
