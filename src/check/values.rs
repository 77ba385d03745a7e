//! Value checks that need no other file: names, quantities, ports, env names, cron, dates,
//! placeholders. Each returns a help text for the diagnostic on failure.

/// Check an RFC 1035 label (`[a-z]([-a-z0-9]*[a-z0-9])?`, at most 63 characters).
pub fn rfc1035(s: &str) -> Result<(), String> {
    let fixed = suggest_label(s);
    let help = || {
        if fixed.is_empty() || fixed == s {
            "names use lower-case letters, digits and `-`, start with a letter and end with a letter or digit".to_string()
        } else {
            format!("write it as `{fixed}`")
        }
    };
    if s.is_empty() || s.len() > 63 {
        return Err(if s.is_empty() {
            "a name cannot be empty".into()
        } else {
            format!("names are at most 63 characters; this one has {}", s.len())
        });
    }
    let b = s.as_bytes();
    if !b[0].is_ascii_lowercase()
        || !b[b.len() - 1].is_ascii_alphanumeric()
        || b[b.len() - 1].is_ascii_uppercase()
        || !b
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
    {
        return Err(help());
    }
    Ok(())
}

/// A label close to `s`: lower-cased, `_`/space/`.` as `-`, trimmed.
fn suggest_label(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| match c {
            'A'..='Z' => c.to_ascii_lowercase(),
            '_' | ' ' | '.' => '-',
            c => c,
        })
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
        .collect();
    while out.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        out.remove(0);
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// Parse a Kubernetes quantity into base units (cores, bytes); `None` when malformed.
pub fn quantity(s: &str) -> Option<f64> {
    let s = s.trim();
    let (num, suffix) =
        match s.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-')) {
            Some(i) => s.split_at(i),
            None => (s, ""),
        };
    let digits = num.strip_prefix(['+', '-']).unwrap_or(num);
    if digits.is_empty()
        || digits.starts_with('.') && digits.len() == 1
        || digits.matches('.').count() > 1
        || !digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        || num.starts_with('-')
    {
        return None;
    }
    let value: f64 = digits.parse().ok()?;
    let mult = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        e if e.starts_with(['e', 'E']) => {
            let exp: i32 = e[1..].parse().ok()?;
            10f64.powi(exp)
        }
        _ => return None,
    };
    Some(value * mult)
}

/// Help for a malformed quantity of `what` (`cpu` or `memory`).
pub fn quantity_help(what: &str, s: &str) -> String {
    let trimmed = s.trim();
    if what == "memory" {
        if let Some(n) = trimmed
            .strip_suffix("MB")
            .or(trimmed.strip_suffix("mb"))
            .or(trimmed.strip_suffix("Mb"))
        {
            return format!("Kubernetes writes mebibytes as `Mi`: \"{n}Mi\"");
        }
        if let Some(n) = trimmed.strip_suffix("GB").or(trimmed.strip_suffix("gb")) {
            return format!("Kubernetes writes gibibytes as `Gi`: \"{n}Gi\"");
        }
        return "memory takes a quantity such as \"256Mi\" or \"1Gi\"".into();
    }
    if let Some(n) = trimmed
        .strip_suffix("cores")
        .or(trimmed.strip_suffix("core"))
    {
        return format!("write cores as a plain number: \"{}\"", n.trim());
    }
    "cpu takes a quantity such as \"250m\" (millicores) or \"1\" (one core)".into()
}

/// Check an IANA service name as Kubernetes uses it for port names.
pub fn port_name(s: &str) -> Result<(), String> {
    let rule = "port names are IANA service names: at most 15 lower-case letters, digits and `-`, with at least one letter";
    if s.is_empty() || s.len() > 15 {
        return Err(format!("{rule}; `{s}` has {} characters", s.len()));
    }
    let ok_chars = s
        .bytes()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
    let has_letter = s.bytes().any(|c| c.is_ascii_lowercase());
    if !ok_chars || !has_letter || s.starts_with('-') || s.ends_with('-') || s.contains("--") {
        return Err(rule.into());
    }
    Ok(())
}

/// A valid port name close to `s` (lower-cased, `_` and spaces as `-`, cut to 15 characters).
pub fn suggest_port_name(s: &str) -> Option<String> {
    let mut out: String = s
        .chars()
        .map(|c| match c {
            'A'..='Z' => c.to_ascii_lowercase(),
            '_' | ' ' | '.' => '-',
            c => c,
        })
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    if out.len() > 15 {
        // Drop whole trailing words first, else cut.
        while out.len() > 15 && out.contains('-') {
            let cut = out.rfind('-').unwrap_or(out.len());
            out.truncate(cut);
        }
        out.truncate(15);
    }
    let out = out.trim_matches('-').to_string();
    (out != s && port_name(&out).is_ok()).then_some(out)
}

/// Check a Kubernetes label key: an optional DNS-subdomain prefix and `/`, then a name of at most
/// 63 characters of `[A-Za-z0-9._-]` that starts and ends with a letter or digit.
pub fn label_key(s: &str) -> Result<(), String> {
    let (prefix, name) = match s.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    if let Some(p) = prefix {
        let ok = !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|l| {
                !l.is_empty()
                    && l.bytes()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            });
        if !ok {
            return Err(
                "a label key's prefix is a lower-case DNS name, e.g. `acme.example/team`".into(),
            );
        }
    }
    if name.is_empty() {
        return Err("a label key needs a name after the prefix".into());
    }
    label_value(name).map_err(|_| {
        "label keys are at most 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit (e.g. `cost-center`)".into()
    })
}

/// Check a Kubernetes label value: empty, or at most 63 characters of `[A-Za-z0-9._-]` that
/// start and end with a letter or digit.
pub fn label_value(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Ok(());
    }
    let b = s.as_bytes();
    let ok = s.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
    if ok {
        return Ok(());
    }
    let fixed: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect::<String>()
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .chars()
        .take(63)
        .collect();
    let rule = "label values are at most 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit";
    if fixed.is_empty() {
        Err(rule.into())
    } else {
        Err(format!("{rule}: e.g. \"{fixed}\""))
    }
}

/// Check an environment variable name (a C identifier).
pub fn env_name(s: &str) -> Result<(), String> {
    let mut chars = s.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        let fixed: String = s
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        return Err(format!(
            "environment variable names are C identifiers ([A-Za-z_][A-Za-z0-9_]*); try `{fixed}`"
        ));
    }
    if s.starts_with("TRESTLE_") {
        return Err(
            "names starting with `TRESTLE_` are reserved for generated helper variables".into(),
        );
    }
    Ok(())
}

/// Check a five-field cron expression (or an `@` macro) as Kubernetes CronJobs accept it.
pub fn cron(s: &str) -> Result<(), String> {
    cron_at(s).map_err(|(_, help)| help)
}

/// Like [`cron`], and on failure the byte range of the offending field when there is one.
pub fn cron_at(s: &str) -> Result<(), (Option<(usize, usize)>, String)> {
    let fields_at: Vec<(usize, usize)> = {
        let mut out = Vec::new();
        let mut start = None;
        for (i, c) in s.char_indices() {
            match (c.is_whitespace(), start) {
                (false, None) => start = Some(i),
                (true, Some(st)) => {
                    out.push((st, i));
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(st) = start {
            out.push((st, s.len()));
        }
        out
    };
    cron_fields(s).map_err(|(field, help)| (field.and_then(|f| fields_at.get(f).copied()), help))
}

fn cron_fields(s: &str) -> Result<(), (Option<usize>, String)> {
    let s = s.trim();
    if s.starts_with('@') {
        return match s {
            "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@midnight" | "@hourly" => Ok(()),
            _ => Err((None, "known macros are @yearly, @annually, @monthly, @weekly, @daily, @midnight and @hourly".into())),
        };
    }
    let fields: Vec<&str> = s.split_whitespace().collect();
    if fields.len() != 5 {
        return Err((
            None,
            format!(
                "a schedule has 5 fields (minute hour day-of-month month day-of-week); this one has {}",
                fields.len()
            ),
        ));
    }
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let specs: [(&str, u32, u32, &[&str], u32); 5] = [
        ("minute", 0, 59, &[], 0),
        ("hour", 0, 23, &[], 0),
        ("day-of-month", 1, 31, &[], 0),
        ("month", 1, 12, &MONTHS, 1),
        ("day-of-week", 0, 7, &DAYS, 0),
    ];
    for (index, (field, (name, lo, hi, names, base))) in fields.iter().zip(specs).enumerate() {
        let at = |help: String| (Some(index), help);
        let value = |v: &str| -> Result<u32, String> {
            if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(v)) {
                return Ok(i as u32 + base);
            }
            let n: u32 = v
                .parse()
                .map_err(|_| format!("`{v}` is not a number in the {name} field"))?;
            if n < lo || n > hi {
                return Err(format!("{name} is {lo}-{hi}; `{n}` is out of range"));
            }
            Ok(n)
        };
        for item in field.split(',') {
            let (range, step) = match item.split_once('/') {
                Some((r, st)) => (r, Some(st)),
                None => (item, None),
            };
            if let Some(st) = step {
                match st.parse::<u32>() {
                    Ok(n) if n > 0 && n <= hi => {}
                    _ => {
                        return Err(at(format!(
                            "`/{st}` is not a valid step in the {name} field"
                        )))
                    }
                }
            }
            if range == "*" || (range == "?" && (name == "day-of-month" || name == "day-of-week")) {
                continue;
            }
            match range.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (value(a).map_err(at)?, value(b).map_err(at)?);
                    if a > b {
                        return Err(at(format!(
                            "the range `{range}` in the {name} field runs backwards"
                        )));
                    }
                }
                None => {
                    value(range).map_err(at)?;
                }
            }
        }
    }
    Ok(())
}

/// Parse `YYYY-MM-DD`.
pub fn date(s: &str) -> Option<crate::ast::Date> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year: i32 = s[0..4].parse().ok()?;
    let month: u32 = s[5..7].parse().ok()?;
    let day: u32 = s[8..10].parse().ok()?;
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (day >= 1 && day <= days).then_some(crate::ast::Date { year, month, day })
}

/// Why `s` is not a date (for a label): a wrong format, or a day that does not exist.
pub fn date_problem(s: &str) -> String {
    let b = s.as_bytes();
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shaped {
        return "not YYYY-MM-DD".into();
    }
    let month: u32 = s[5..7].parse().unwrap_or(0);
    if !(1..=12).contains(&month) {
        return format!("there is no month {month}");
    }
    let days = (28..=31)
        .rev()
        .find(|d| date(&format!("{}-{d:02}", &s[..7])).is_some())
        .unwrap_or(28);
    format!("{} has {days} days", &s[..7])
}

/// The ISO form of an unambiguous `D/M/YYYY`, `M/D/YYYY` or `D.M.YYYY` date.
pub fn date_fix(s: &str) -> Option<String> {
    let parts: Vec<&str> = s.split(['/', '.', '-']).collect();
    let [a, b, y] = parts.as_slice() else {
        return None;
    };
    let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
    if y.len() != 4 || y.parse::<u32>().is_err() {
        return None;
    }
    let (m, d) = match (a > 12, b > 12) {
        (true, false) => (b, a),
        (false, true) => (a, b),
        _ => return None,
    };
    let iso = format!("{y}-{m:02}-{d:02}");
    date(&iso).map(|_| iso)
}

/// Check a DNS host name for a route (`shop.acme.example`, optionally `*.` wildcard).
pub fn host(s: &str) -> Result<(), String> {
    let rest = s.strip_prefix("*.").unwrap_or(s);
    let ok = !rest.is_empty()
        && s.len() <= 253
        && rest.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    if ok {
        return Ok(());
    }
    // Suggest the host a user probably meant: no scheme, path or port, lower-case.
    let mut h = s.trim();
    if let Some((_, rest)) = h.split_once("://") {
        h = rest;
    }
    let path = h.find('/').map(|i| &h[i..]).filter(|p| p.len() > 1);
    let h = h.split(['/', '?', '#']).next().unwrap_or("");
    let h = h
        .rsplit_once(':')
        .map_or(h, |(host, _)| host)
        .to_ascii_lowercase();
    if h != s && host_ok(&h) {
        return Err(match path {
            Some(p) => format!("a host is a DNS name without scheme, port or path: write host=\"{h}\" path=\"{p}\""),
            None => format!("a host is a DNS name without scheme, port or path: write host=\"{h}\""),
        });
    }
    Err("a host is a lower-case DNS name such as `shop.acme.example`".into())
}

fn host_ok(s: &str) -> bool {
    host(s).is_ok()
}

/// One piece of a string with placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    /// `${a.b.c}`: the path and the byte range of the whole `${…}` in the decoded string.
    Placeholder {
        path: Vec<String>,
        range: (usize, usize),
    },
}

/// A placeholder syntax error at a byte range of the decoded string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceholderError {
    pub range: (usize, usize),
    pub message: String,
    pub help: String,
}

/// Split a string into literals and `${…}` placeholders; `$${` is a literal `${`.
pub fn placeholders(s: &str) -> Result<Vec<Segment>, PlaceholderError> {
    let mut segs = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    let b = s.as_bytes();
    while i < b.len() {
        if b[i] == b'$' && s[i..].starts_with("$${") {
            lit.push_str("${");
            i += 3;
            continue;
        }
        if b[i] == b'$' && s[i..].starts_with("${") {
            let Some(close) = s[i + 2..].find('}') else {
                let rest = &s[i + 2..];
                let k = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
                    .unwrap_or(rest.len());
                let help = if k > 0 {
                    format!(
                        "close it: `${{{}}}`, or write `$${{` for a literal `${{`",
                        &rest[..k]
                    )
                } else {
                    "close it with `}`, or write `$${` for a literal `${`".into()
                };
                return Err(PlaceholderError {
                    range: (i, i + 2 + k),
                    message: "unclosed placeholder".into(),
                    help,
                });
            };
            let inner = &s[i + 2..i + 2 + close];
            let end = i + 2 + close + 1;
            if let Some(cut) = [":-", ":=", ":?", ":+"]
                .iter()
                .filter_map(|op| inner.find(op))
                .min()
            {
                return Err(PlaceholderError {
                    range: (i, end),
                    message: format!("placeholders have no shell-style operators: `${{{inner}}}`"),
                    help: format!(
                        "write `${{{}}}`; a placeholder that cannot be resolved is an error, never a default",
                        inner[..cut].trim()
                    ),
                });
            }
            let path: Vec<String> = inner.trim().split('.').map(str::to_string).collect();
            let valid = !inner.trim().is_empty()
                && path.iter().all(|p| {
                    !p.is_empty()
                        && p.bytes()
                            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
                });
            if !valid {
                return Err(PlaceholderError {
                    range: (i, end),
                    message: format!("malformed placeholder `${{{inner}}}`"),
                    help: "placeholders look like `${resources.db.host}`, `${env.name}` or `${namespace}`; write `$${` for a literal `${`".into(),
                });
            }
            if !lit.is_empty() {
                segs.push(Segment::Literal(std::mem::take(&mut lit)));
            }
            segs.push(Segment::Placeholder {
                path,
                range: (i, end),
            });
            i = end;
            continue;
        }
        let ch = s[i..].chars().next().unwrap_or('\0');
        lit.push(ch);
        i += ch.len_utf8().max(1);
    }
    if !lit.is_empty() {
        segs.push(Segment::Literal(lit));
    }
    Ok(segs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert!(rfc1035("checkout-api").is_ok());
        assert!(rfc1035("a").is_ok());
        assert!(rfc1035("Checkout_API")
            .unwrap_err()
            .contains("checkout-api"));
        assert!(rfc1035("1abc").is_err());
        assert!(rfc1035("abc-").is_err());
        assert!(rfc1035(&"a".repeat(64)).is_err());
    }

    #[test]
    fn quantities() {
        assert_eq!(quantity("250m"), Some(0.25));
        assert_eq!(quantity("1"), Some(1.0));
        assert_eq!(quantity("0.5"), Some(0.5));
        assert_eq!(quantity("256Mi"), Some(256.0 * 1024.0 * 1024.0));
        assert_eq!(quantity("1e3"), Some(1000.0));
        assert_eq!(quantity("256MB"), None);
        assert_eq!(quantity("-1"), None);
        assert_eq!(quantity("."), None);
        assert_eq!(quantity(""), None);
        assert!(quantity_help("memory", "256MB").contains("256Mi"));
    }

    #[test]
    fn ports_and_env() {
        assert!(port_name("http").is_ok());
        assert!(port_name("http-metrics-01").is_ok());
        assert!(port_name("http-metrics-012").is_err());
        assert!(port_name("8080").is_err());
        assert!(port_name("a--b").is_err());
        assert!(env_name("LOG_LEVEL").is_ok());
        assert!(env_name("_x1").is_ok());
        assert!(env_name("1X").is_err());
        assert!(env_name("LOG-LEVEL").unwrap_err().contains("LOG_LEVEL"));
        assert!(env_name("TRESTLE_X").is_err());
    }

    #[test]
    fn crons() {
        for ok in [
            "0 3 * * *",
            "*/15 * * * *",
            "0 0 1,15 * mon-fri",
            "0 0 * JAN sun",
            "@daily",
        ] {
            assert!(cron(ok).is_ok(), "{ok}");
        }
        for bad in [
            "0 3 * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "*/0 * * * *",
            "@often",
            "5-1 * * * *",
        ] {
            assert!(cron(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pointed_help() {
        assert_eq!(cron_at("0 24 * * *").unwrap_err().0, Some((2, 4)));
        assert_eq!(cron_at("0 3 * *").unwrap_err().0, None);
        let e = placeholders("x${resources.db.host:-localhost}").unwrap_err();
        assert!(e.help.contains("`${resources.db.host}`"));
        let e = placeholders("${resources.db.host/shop").unwrap_err();
        assert_eq!(e.range, (0, 19));
        assert!(e.help.contains("`${resources.db.host}`"));
        assert!(host("https://Shop.acme.example/api")
            .unwrap_err()
            .contains("host=\"shop.acme.example\" path=\"/api\""));
        assert_eq!(suggest_port_name("HTTP").as_deref(), Some("http"));
        assert_eq!(
            suggest_port_name("prometheus-metrics").as_deref(),
            Some("prometheus")
        );
    }

    #[test]
    fn labels_and_dates() {
        assert!(label_key("cost-center").is_ok());
        assert!(label_key("acme.example/team").is_ok());
        assert!(label_key("cost center").is_err());
        assert!(label_value("").is_ok());
        assert!(label_value("cc-4100").is_ok());
        assert!(label_value("Shop Team").unwrap_err().contains("Shop-Team"));
        assert_eq!(date_fix("31/03/2027").as_deref(), Some("2027-03-31"));
        assert_eq!(date_fix("03/04/2027"), None);
        assert_eq!(date_problem("2027-02-30"), "2027-02 has 28 days");
    }

    #[test]
    fn dates() {
        assert!(date("2027-03-31").is_some());
        assert!(date("2028-02-29").is_some());
        assert!(date("2027-02-29").is_none());
        assert!(date("2027-3-31").is_none());
    }

    #[test]
    fn placeholder_segments() {
        let segs = placeholders("a${resources.db.host}b$${x}").unwrap();
        assert_eq!(
            segs,
            vec![
                Segment::Literal("a".into()),
                Segment::Placeholder {
                    path: vec!["resources".into(), "db".into(), "host".into()],
                    range: (1, 21)
                },
                Segment::Literal("b${x}".into()),
            ]
        );
        assert!(placeholders("${resources.db").is_err());
        assert!(placeholders("${}").is_err());
        assert!(placeholders("${a b}").is_err());
    }
}
