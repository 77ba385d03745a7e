//! allowed-regions: each environment's region, and its providers' `region=`, are allowed.

use crate::ast::Scalar;

use super::{EnvCx, Finding, Scope};

pub(super) fn check(cx: &EnvCx<'_>, out: &mut Vec<Finding>) {
    let Some(rule) = cx.config.rule("allowed-regions") else {
        return;
    };
    let allowed = &cx.config.regions;
    if allowed.is_empty() {
        return;
    }
    let Some(env) = cx.model.environments.get(&cx.env.name) else {
        return;
    };
    // Only a near miss (`eu-west-l`) gets a "did you mean"; other regions get the list.
    let help = |region: &str| match allowed.iter().find(|a| strsim::levenshtein(region, a) <= 1) {
        Some(a) => format!("did you mean `{a}`?"),
        None => format!(
            "allowed regions: {} (`rule allowed-regions regions=…`)",
            allowed.join(", ")
        ),
    };
    let mut places = Vec::new();
    if let Some(r) = &env.region {
        places.push((
            r.value.clone(),
            r.span,
            "the environment's region".to_string(),
        ));
    }
    for p in env.terraform.iter().flat_map(|t| t.providers.iter()) {
        for a in &p.attrs {
            if let ("region", Scalar::Str(v)) = (a.key.value.as_str(), &a.value.value) {
                places.push((
                    v.clone(),
                    a.value.span,
                    format!("provider `{}` region", p.name.value),
                ));
            }
        }
    }
    for (region, span, what) in places {
        if allowed.contains(&region) {
            continue;
        }
        let d = rule
            .diag(format!(
                "environment `{}` uses region `{region}`, which is not allowed",
                cx.env.name
            ))
            .label(span, format!("{what} is not an allowed region"))
            .help(help(&region));
        out.push(cx.finding(d, Scope::default()));
    }
}
