//! Rules about a workload's pods: resources-required, prod-min-replicas, probes-required.
//! Replica and probe rules do not apply to scheduled workloads (CronJobs).

use crate::ast::{EnvType, ProbeKind};

use super::{EnvCx, Finding, Scope};

pub(super) fn check(cx: &EnvCx<'_>, out: &mut Vec<Finding>) {
    resources_required(cx, out);
    prod_min_replicas(cx, out);
    probes_required(cx, out);
}

fn list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn resources_required(cx: &EnvCx<'_>, out: &mut Vec<Finding>) {
    let Some(rule) = cx.config.rule("resources-required") else {
        return;
    };
    for w in &cx.env.workloads {
        for c in &w.containers {
            let mut missing = Vec::new();
            let mut fixes = Vec::new();
            if c.cpu.request.is_none() {
                missing.push("cpu request");
                fixes.push(match &c.cpu.limit {
                    Some(l) => format!("cpu request=\"100m\" limit=\"{l}\""),
                    None => "cpu request=\"100m\"".to_string(),
                });
            }
            match (&c.memory.request, &c.memory.limit) {
                (Some(_), Some(_)) => {}
                (None, None) => {
                    missing.push("memory request");
                    missing.push("memory limit");
                    fixes.push("memory request=\"128Mi\" limit=\"256Mi\"".to_string());
                }
                (None, Some(l)) => {
                    missing.push("memory request");
                    fixes.push(format!("memory request=\"{l}\" limit=\"{l}\""));
                }
                (Some(r), None) => {
                    missing.push("memory limit");
                    fixes.push(format!("memory request=\"{r}\" limit=\"{r}\""));
                }
            }
            if missing.is_empty() {
                continue;
            }
            let fixes: Vec<String> = fixes.iter().map(|f| format!("`{f}`")).collect();
            let d = rule
                .diag(format!(
                    "container `{}` of `{}` has no {}",
                    c.name,
                    w.name,
                    list(&missing)
                ))
                .label(
                    cx.container_span(w, &c.name),
                    format!("no {}", list(&missing)),
                )
                .help(format!(
                    "add {} to the container",
                    list(&fixes.iter().map(String::as_str).collect::<Vec<_>>())
                ));
            out.push(cx.finding(d, Scope::workload(w)));
        }
    }
}

fn prod_min_replicas(cx: &EnvCx<'_>, out: &mut Vec<Finding>) {
    let Some(rule) = cx.config.rule("prod-min-replicas") else {
        return;
    };
    if cx.env.env_type != EnvType::Production {
        return;
    }
    let min = cx.config.min_replicas;
    let plural = |n: i64| if n == 1 { "replica" } else { "replicas" };
    for w in &cx.env.workloads {
        if w.schedule.is_some() {
            continue;
        }
        let d = match &w.autoscale {
            Some(a) if a.min < min => rule
                .diag(format!(
                    "`{}` can scale down to {} {} in production; at least {min} are required",
                    w.name,
                    a.min,
                    plural(a.min)
                ))
                .label(a.span, format!("autoscale min={}", a.min))
                .help(format!(
                    "raise the minimum: `autoscale min={min} max={} cpu-percent={}`",
                    a.max.max(min),
                    a.cpu_percent
                )),
            Some(_) => continue,
            None if w.replicas < min => {
                let defaulted = w.replicas_span == cx.workload_span(w);
                rule.diag(format!(
                    "`{}` runs {} {} in production; at least {min} are required",
                    w.name,
                    w.replicas,
                    plural(w.replicas)
                ))
                .label(
                    w.replicas_span,
                    if defaulted {
                        "no `replicas`: one pod".to_string()
                    } else {
                        format!("{} {}", w.replicas, plural(w.replicas))
                    },
                )
                .help(format!(
                    "set `replicas {min}`, or add `when env-type=production {{ replicas {min} }}`"
                ))
            }
            None => continue,
        };
        out.push(cx.finding(d, Scope::workload(w)));
    }
}

fn probes_required(cx: &EnvCx<'_>, out: &mut Vec<Finding>) {
    let Some(rule) = cx.config.rule("probes-required") else {
        return;
    };
    for w in &cx.env.workloads {
        if w.schedule.is_some() || w.service.is_none() {
            continue;
        }
        for c in &w.containers {
            let missing: Vec<&str> = [ProbeKind::Liveness, ProbeKind::Readiness]
                .into_iter()
                .filter(|k| !c.probes.iter().any(|p| p.kind == *k))
                .map(ProbeKind::as_str)
                .collect();
            if missing.is_empty() {
                continue;
            }
            let example = |kind: &str| match c.ports.first() {
                Some(p) => format!(
                    "`probe {kind} http path=\"/{}\" port={}`",
                    if kind == "liveness" {
                        "healthz"
                    } else {
                        "ready"
                    },
                    p.name
                ),
                None => format!("`probe {kind} exec \"/bin/healthcheck\"`"),
            };
            let examples: Vec<String> = missing.iter().map(|k| example(k)).collect();
            let probes = if missing.len() == 1 {
                "probe"
            } else {
                "probes"
            };
            let d = rule
                .diag(format!(
                    "container `{}` of `{}` has no {} {probes}",
                    c.name,
                    w.name,
                    list(&missing)
                ))
                .label(
                    cx.container_span(w, &c.name),
                    format!("no {} {probes}", list(&missing)),
                )
                .help(format!(
                    "`{}` has a service, so traffic needs to know when it is ready: add {}",
                    w.name,
                    list(&examples.iter().map(String::as_str).collect::<Vec<_>>())
                ));
            out.push(cx.finding(d, Scope::workload(w)));
        }
    }
}
