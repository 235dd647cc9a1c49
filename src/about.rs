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
