//! `referrer_policy` (CHECKS.md §6): the effective Referrer-Policy of the final response.
//!
//! The header is a fallback list: the last token a browser understands wins (W3C Referrer
//! Policy, "parse a referrer policy from a Referrer-Policy header"). A `<meta name="referrer">`
//! in `<head>` of an HTML response applies after the header and overrides it.

use super::header_list::{HeaderList, get_decode_split};
use super::{CheckDef, CheckInput, Evaluation};
use crate::evidence::Exchange;
use crate::measure::{GaugeDef, Measurement};
use crate::probe::ProbeKind;
use crate::verdict::{Finding, FindingDef, Judgement, Severity};

const UNSAFE: FindingDef = FindingDef::new("unsafe", Severity::Low);
const INVALID: FindingDef = FindingDef::new("invalid", Severity::Low);
const MISSING: FindingDef = FindingDef::new("missing", Severity::Info);

static INFO: GaugeDef = GaugeDef {
    name: "referrer_policy_info",
    help: "Effective referrer policy of the final response (one of the 8 tokens, none or invalid)",
    labels: &["policy"],
};

/// The check.
pub static CHECK: CheckDef = CheckDef {
    id: "referrer_policy",
    summary: "the final response's referrer policy does not leak URLs across origins or to http",
    inputs: &[ProbeKind::Fetch],
    findings: &[UNSAFE, INVALID, MISSING],
    gauges: &[&INFO],
    opt_in: false,
    scans_cycle: false,
    also_reads: &[],
    evaluate,
};

/// The referrer policy tokens.
pub const TOKENS: [&str; 8] = [
    "no-referrer",
    "no-referrer-when-downgrade",
    "same-origin",
    "origin",
    "strict-origin",
    "origin-when-cross-origin",
    "strict-origin-when-cross-origin",
    "unsafe-url",
];

const SAFE: [&str; 4] = [
    "no-referrer",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
];

/// The known token `s` names (ASCII case-insensitive), as the canonical `&'static str`.
pub fn token(s: &str) -> Option<&'static str> {
    TOKENS.iter().copied().find(|t| t.eq_ignore_ascii_case(s))
}

/// The header's policy: the last recognised token of the list.
pub fn from_header(list: &HeaderList) -> Option<&'static str> {
    match list {
        HeaderList::Values(v) => v.iter().filter_map(|t| token(t)).next_back(),
        _ => None,
    }
}

/// The policy a `<meta name="referrer">` content sets, with the HTML Standard's legacy values.
pub fn from_meta(content: &str) -> Option<&'static str> {
    let c = content.trim_matches(|c: char| c.is_ascii_whitespace());
    let legacy = match c.to_ascii_lowercase().as_str() {
        "never" => Some("no-referrer"),
        "always" => Some("unsafe-url"),
        "default" => Some("strict-origin-when-cross-origin"),
        "origin-when-crossorigin" => Some("origin-when-cross-origin"),
        _ => None,
    };
    legacy.or_else(|| token(c))
}

/// Where the effective policy came from, and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effective {
    /// The effective policy, if any source set one.
    pub policy: Option<&'static str>,
    /// The header as written (combined), when present.
    pub header: Option<String>,
    /// The content of the `<meta>` that set the policy, when one did.
    pub meta: Option<String>,
}

/// The effective policy of a response.
pub fn effective(e: &Exchange) -> Effective {
    let header = e.combined("referrer-policy");
    let mut policy = from_header(&get_decode_split(e, "referrer-policy"));
    let mut meta = None;
    if e.is_html()
        && let Some(html) = &e.html
    {
        for m in html.named("referrer").filter(|m| m.in_head) {
            if let Some(p) = m.content.as_deref().and_then(from_meta) {
                policy = Some(p);
                meta = m.content.clone();
            }
        }
    }
    Effective {
        policy,
        header,
        meta,
    }
}

fn evaluate(input: &CheckInput<'_>) -> Evaluation {
    let (_, e) = match input.judged_response() {
        Ok(r) => r,
        Err(j) => return Evaluation::bare(j),
    };
    let eff = effective(e);
    let shown = || match (&eff.meta, &eff.header) {
        (Some(m), _) => format!("<meta name=\"referrer\" content=\"{m}\">"),
        (None, Some(h)) => format!("Referrer-Policy: {h}"),
        (None, None) => String::new(),
    };
    let mut findings = Vec::new();
    let label = match eff.policy {
        Some(p) => {
            if !SAFE.contains(&p) {
                findings.push(Finding::new(
                    &UNSAFE,
                    format!("{} (effective {p})", shown()),
                ));
            }
            p
        }
        None if eff.header.is_some() => {
            findings.push(Finding::new(
                &INVALID,
                format!("{} (no recognised policy token)", shown()),
            ));
            "invalid"
        }
        None => {
            findings.push(Finding::new(
                &MISSING,
                format!(
                    "no Referrer-Policy on GET {} → {} (browsers default to strict-origin-when-cross-origin)",
                    e.url, e.status
                ),
            ));
            "none"
        }
    };
    Evaluation::new(
        Judgement::Evaluated(findings),
        vec![Measurement::labelled(&INFO, [label], 1.0)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::header_list::split;
    use crate::checks::test_support::exchange;

    fn h(v: &str) -> Option<&'static str> {
        from_header(&HeaderList::Values(split(v)))
    }

    #[test]
    fn the_last_known_token_of_a_fallback_list_wins() {
        assert_eq!(
            h("no-referrer, strict-origin-when-cross-origin"),
            Some("strict-origin-when-cross-origin")
        );
        assert_eq!(h("unsafe-url, future-policy"), Some("unsafe-url"));
        assert_eq!(h("STRICT-ORIGIN"), Some("strict-origin"));
        assert_eq!(h("foo, bar"), None);
        assert_eq!(h(""), None);
        assert_eq!(from_header(&HeaderList::Absent), None);
    }

    #[test]
    fn meta_in_head_overrides_the_header_with_legacy_values() {
        let body =
            r#"<html><head><meta name="referrer" content="never"></head><body></body></html>"#;
        let e = exchange(
            &[
                ("content-type", "text/html"),
                ("referrer-policy", "unsafe-url"),
            ],
            body,
        );
        assert_eq!(effective(&e).policy, Some("no-referrer"));
        let body =
            r#"<html><head></head><body><meta name="referrer" content="unsafe-url"></body></html>"#;
        let e = exchange(
            &[
                ("content-type", "text/html"),
                ("referrer-policy", "no-referrer"),
            ],
            body,
        );
        assert_eq!(effective(&e).policy, Some("no-referrer"));
        assert_eq!(
            from_meta("origin-when-crossorigin"),
            Some("origin-when-cross-origin")
        );
        assert_eq!(from_meta("Always"), Some("unsafe-url"));
        assert_eq!(
            from_meta("default"),
            Some("strict-origin-when-cross-origin")
        );
        assert_eq!(from_meta("bogus"), None);
    }
}
