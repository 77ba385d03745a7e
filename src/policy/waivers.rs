//! Waivers: a named rule or policy, AND-ed scopes, an inclusive `expires` date and a reason.
//! An expired waiver is an error (T504) and excuses nothing; one that matches no finding is a
//! warning (T505). The date comes from `--today`, else `SOURCE_DATE_EPOCH`, else the clock.

use crate::ast::{Date, Waiver};
use crate::diagnostics::{codes, Diagnostic};
use crate::model::Model;

use super::Finding;

/// The date for a `YYYY-MM-DD` string.
pub fn parse_date(s: &str) -> Option<Date> {
    crate::check::values::date(s)
}

/// The civil date of a count of days since 1970-01-01 (Howard Hinnant's `civil_from_days`).
pub fn date_from_days(days: i64) -> Date {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    Date {
        year: year as i32,
        month: month as u32,
        day: day as u32,
    }
}

/// The UTC date of a Unix timestamp in seconds.
pub fn date_from_epoch(seconds: i64) -> Date {
    date_from_days(seconds.div_euclid(86_400))
}

/// The date waivers are judged against: `--today` when given, else `SOURCE_DATE_EPOCH`
/// (reproducible builds), else today's UTC date. A malformed value is an error message.
pub fn today(flag: Option<&str>) -> Result<Date, String> {
    if let Some(s) = flag {
        return parse_date(s).ok_or_else(|| {
            format!("--today `{s}` is not a date; write it as YYYY-MM-DD, e.g. --today 2027-03-31")
        });
    }
    if let Some(v) = std::env::var_os("SOURCE_DATE_EPOCH").filter(|v| !v.is_empty()) {
        let s = v.to_string_lossy();
        return s.trim().parse::<i64>().map(date_from_epoch).map_err(|_| {
            format!("SOURCE_DATE_EPOCH `{s}` is not a number of seconds since 1970-01-01")
        });
    }
    Ok(date_from_epoch(now()))
}

/// `SOURCE_DATE_EPOCH`'s date when it is valid, else today's UTC date (for library callers
/// that set no date; the CLI rejects a malformed value instead).
pub fn default_today() -> Date {
    today(None).unwrap_or_else(|_| date_from_epoch(now()))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn show(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

/// Report expired waivers (T504); returns the indices of the waivers still in force.
pub(crate) fn check_dates(model: &Model, today: Date, diags: &mut Vec<Diagnostic>) -> Vec<usize> {
    let mut active = Vec::new();
    for (i, w) in model.waivers.iter().enumerate() {
        match &w.expires {
            Some(e) if e.value < today => diags.push(
                Diagnostic::error(
                    codes::WAIVER_EXPIRED,
                    format!(
                        "waiver for `{}` expired on {} (today is {})",
                        w.target.value,
                        show(e.value),
                        show(today)
                    ),
                )
                .label(e.span, "expired")
                .related(w.target.span, "this waiver no longer excuses anything")
                .help(
                    "fix the finding and remove the waiver, or renew it with a new date and reason",
                ),
            ),
            _ => active.push(i),
        }
    }
    active
}

/// Does the waiver cover this finding? Every scope it sets must match.
pub(crate) fn matches(w: &Waiver, f: &Finding) -> bool {
    let code_matches = f.diag.code == w.target.value;
    let within = |scope: &Option<crate::ast::Name>, values: &[String]| {
        scope.as_ref().is_none_or(|s| values.contains(&s.value))
    };
    code_matches
        && within(&w.workload, &f.scope.workloads)
        && within(&w.resource, &f.scope.resources)
        && within(&w.team, &f.scope.teams)
        && within(&w.api, &f.scope.apis)
        && w.env
            .as_ref()
            .is_none_or(|e| f.env.as_deref() == Some(e.value.as_str()))
}

/// Split findings into kept and waived; report waivers in force that matched nothing (T505),
/// when every environment was evaluated.
pub(crate) fn apply(
    model: &Model,
    active: &[usize],
    findings: Vec<Finding>,
    all_envs: bool,
    diags: &mut Vec<Diagnostic>,
) -> (Vec<Finding>, Vec<Finding>) {
    let mut used = vec![false; active.len()];
    let mut kept = Vec::new();
    let mut waived = Vec::new();
    for f in findings {
        let mut hit = false;
        for (k, &i) in active.iter().enumerate() {
            if matches(&model.waivers[i], &f) {
                used[k] = true;
                hit = true;
            }
        }
        if hit {
            waived.push(f);
        } else {
            kept.push(f);
        }
    }
    if all_envs {
        for (k, &i) in active.iter().enumerate() {
            if used[k] {
                continue;
            }
            let w = &model.waivers[i];
            let off = crate::rules::lookup(&w.target.value).is_some()
                && model.rules.iter().any(|r| {
                    r.id.value == w.target.value
                        && r.severity
                            .as_ref()
                            .is_some_and(|s| s.value == crate::ast::RuleSeverity::Off)
                });
            let help = if off {
                format!(
                    "rule `{}` is off, so nothing needs waiving: remove the waiver",
                    w.target.value
                )
            } else {
                "remove the waiver, or fix its scope (`workload=`, `resource=`, `env=`, `team=`, `api=`)".to_string()
            };
            diags.push(
                Diagnostic::warning(
                    codes::WAIVER_UNUSED,
                    format!("waiver for `{}` matches no finding", w.target.value),
                )
                .label(w.target.span, "nothing to waive")
                .help(help),
            );
        }
    }
    (kept, waived)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> Date {
        Date {
            year: y,
            month: m,
            day,
        }
    }

    #[test]
    fn epoch_to_date() {
        assert_eq!(date_from_epoch(0), d(1970, 1, 1));
        assert_eq!(date_from_epoch(86_399), d(1970, 1, 1));
        assert_eq!(date_from_epoch(951_782_400), d(2000, 2, 29));
        assert_eq!(date_from_epoch(1_798_675_200), d(2026, 12, 31));
        assert_eq!(date_from_epoch(-1), d(1969, 12, 31));
    }

    #[test]
    fn today_prefers_the_flag_and_rejects_bad_dates() {
        assert_eq!(today(Some("2027-03-31")), Ok(d(2027, 3, 31)));
        assert!(today(Some("2027-02-30"))
            .unwrap_err()
            .contains("YYYY-MM-DD"));
        assert!(today(Some("31/03/2027")).is_err());
    }
}
