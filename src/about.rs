//! What each finding means for the service and what to change: the text `docs/checks.md`,
//! SARIF rules and the alert descriptions point to. One line per finding in `about.tsv`
//! (check, finding, text, tab-separated); a test holds it to the checks' catalogue.

use std::collections::HashMap;
use std::sync::OnceLock;

const TABLE: &str = include_str!("about.tsv");

/// The explanation of `finding` of `check`, if the table has one. (The status page of a large
/// fleet looks up tens of thousands of findings: the table is indexed once.)
#[must_use]
pub fn about(check: &str, finding: &str) -> Option<&'static str> {
    static INDEX: OnceLock<HashMap<(&'static str, &'static str), &'static str>> = OnceLock::new();
    INDEX
        .get_or_init(|| {
            TABLE
                .lines()
                .filter_map(|line| {
                    let mut cols = line.splitn(3, '\t');
                    Some(((cols.next()?, cols.next()?), cols.next()?))
                })
                .collect()
        })
        .get(&(check, finding))
        .copied()
}

/// Every (check, finding) the table explains, in its order.
pub fn entries() -> impl Iterator<Item = (&'static str, &'static str)> {
    TABLE.lines().filter_map(|line| {
        let mut cols = line.splitn(3, '\t');
        Some((cols.next()?, cols.next()?))
    })
}

/// The anchor of a finding in `docs/checks.md` (finding ids repeat across checks).
#[must_use]
pub fn anchor(check: &str, finding: &str) -> String {
    format!("{check}-{finding}")
}

/// The rulebook section of each check (`CHECKS.md §2` for hsts); a test holds it to the
/// shipped rulebook's headings (the binary does not embed the rulebook).
pub const SECTIONS: [(&str, &str); 16] = [
    ("https_redirect", "1"),
    ("hsts", "2"),
    ("csp", "3"),
    ("clickjacking", "4"),
    ("x_content_type_options", "5"),
    ("referrer_policy", "6"),
    ("cookies", "7"),
    ("cors", "8"),
    ("tls_cert", "9"),
    ("tls_version", "10"),
    ("health", "11"),
    ("rate_limit", "12"),
    ("exposed_paths", "13"),
    ("error_disclosure", "14"),
    ("server_disclosure", "15"),
    ("dns", "16"),
];

fn section(check: &str) -> Option<&'static str> {
    SECTIONS.iter().find(|(c, _)| *c == check).map(|(_, n)| *n)
}

/// What `prodprobe explain` prints: every check and its finding ids (no query), one check's
/// findings with their explanations (`hsts`), or one finding (`hsts/missing`, or `missing`
/// for every check that has it).
///
/// # Errors
///
/// A query that names no check and no finding.
pub fn explain(query: Option<&str>) -> Result<String, String> {
    use std::fmt::Write as _;
    let checks = probes::checks::ALL;
    let mut out = String::new();
    let Some(query) = query.map(str::trim).filter(|q| !q.is_empty()) else {
        for c in checks {
            let ids: Vec<&str> = c.findings.iter().map(|f| f.id).collect();
            let _ = writeln!(out, "{}: {}", c.id, ids.join(", "));
        }
        out.push_str("\nprodprobe explain CHECK or CHECK/FINDING says what a finding means and what to do.\n");
        return Ok(out);
    };
    let one = |out: &mut String, check: &str, finding: &str, severity: &str| {
        let _ = writeln!(
            out,
            "{check}/{finding} ({severity})\n\n{}\n\nRule: CHECKS.md §{} (docs/rulebook/CHECKS.md); docs/checks.md#{}\n",
            about(check, finding).unwrap_or(""),
            section(check).unwrap_or("?"),
            anchor(check, finding)
        );
    };
    let (check_part, finding_part) = match query.split_once('/') {
        // A SARIF rule id may carry the reported severity: `hsts/missing/high`.
        Some((c, f)) => (Some(c), f.split('/').next()),
        None if checks.iter().any(|c| c.id == query) => (Some(query), None),
        None => (None, Some(query)),
    };
    for c in checks
        .iter()
        .filter(|c| check_part.is_none_or(|q| c.id == q))
    {
        match finding_part {
            None => {
                let _ = writeln!(
                    out,
                    "{} (CHECKS.md §{}): {}\n",
                    c.id,
                    section(c.id).unwrap_or("?"),
                    c.summary
                );
                for f in c.findings {
                    let _ = writeln!(
                        out,
                        "  {:<8} {}: {}",
                        f.severity.as_str(),
                        f.id,
                        about(c.id, f.id).unwrap_or("")
                    );
                }
            }
            Some(id) => {
                for f in c.findings.iter().filter(|f| f.id == id) {
                    one(&mut out, c.id, f.id, f.severity.as_str());
                }
            }
        }
    }
    if out.is_empty() {
        return Err(format!(
            "no check or finding {query:?}: `prodprobe explain` lists them"
        ));
    }
    Ok(out)
}
