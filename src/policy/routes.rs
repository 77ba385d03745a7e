//! unique-route-host: no two routes serve the same host and path in one environment.

use std::collections::BTreeMap;

use crate::source::Span;

use super::{EnvCx, Finding, Scope};

/// Hosts compare case-insensitively; an Ingress `Prefix` path ignores a trailing `/`.
fn key(host: &str, path: &str) -> (String, String) {
    let path = path.trim_end_matches('/');
    (
        host.to_ascii_lowercase(),
        if path.is_empty() {
            "/".into()
        } else {
            path.into()
        },
    )
}

pub(super) fn check(cx: &EnvCx<'_>, out: &mut Vec<Finding>) {
    let Some(rule) = cx.config.rule("unique-route-host") else {
        return;
    };
    // Workloads are sorted by name, routes in spec order: the first one keeps the address.
    let mut first: BTreeMap<(String, String), (&str, Span)> = BTreeMap::new();
    for w in &cx.env.workloads {
        for r in &w.routes {
            let k = key(&r.host, &r.path);
            let Some((owner, span)) = first.get(&k).copied() else {
                first.insert(k, (&w.name, r.span));
                continue;
            };
            let who = if owner == w.name {
                format!("another route of `{owner}`")
            } else {
                format!("`{owner}`")
            };
            let d = rule
                .diag(format!(
                    "route `{}{}` of `{}` is also served by {who}",
                    r.host, r.path, w.name
                ))
                .label(r.span, "same host and path")
                .related(span, "first route to this host and path")
                .help("give one of the routes another host or path");
            out.push(cx.finding(d, Scope::workload(w)));
        }
    }
}
