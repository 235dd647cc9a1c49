//! `clickjacking` (CHECKS.md §4): HTML responses forbid framing by other origins.
//!
//! Rule 1 is CSP3's: an enforced header policy with `frame-ancestors` makes browsers ignore
//! X-Frame-Options. Rule 2 is the HTML Standard's "check a navigation response's adherence to
//! X-Frame-Options" over Fetch's "get, decode, split".

use super::csp::{self, PolicySource};
use super::header_list::{HeaderList, get_decode_split};
use super::{CheckDef, CheckInput, Evaluation, cap_for_non_html};
use crate::evidence::Exchange;
use crate::measure::{GaugeDef, Measurement};
use crate::probe::ProbeKind;
use crate::verdict::{Finding, FindingDef, Judgement, Severity};

const FRAME_ANCESTORS_PERMISSIVE: FindingDef =
    FindingDef::new("frame_ancestors_permissive", Severity::High);
const MISSING: FindingDef = FindingDef::new("missing", Severity::High);
const XFO_INVALID: FindingDef = FindingDef::new("xfo_invalid", Severity::High);
const XFO_ALLOWALL: FindingDef = FindingDef::new("xfo_allowall", Severity::High);
const XFO_ALLOW_FROM_OBSOLETE: FindingDef =
    FindingDef::new("xfo_allow_from_obsolete", Severity::Medium);
const XFO_OVERRIDDEN_BY_CSP: FindingDef = FindingDef::new("xfo_overridden_by_csp", Severity::Info);
const XFO_CONFLICTING_VALUES: FindingDef =
    FindingDef::new("xfo_conflicting_values", Severity::Info);
const XFO_META_IGNORED: FindingDef = FindingDef::new("xfo_meta_ignored", Severity::Info);

static PROTECTED: GaugeDef = GaugeDef {
    name: "clickjacking_protected",
    help: "1 if browsers refuse to let other origins frame the final response",
    labels: &[],
};
static VIA_CSP: GaugeDef = GaugeDef {
    name: "clickjacking_via_csp",
    help: "1 if the protection comes from a header CSP frame-ancestors directive",
    labels: &[],
};
static VIA_XFO: GaugeDef = GaugeDef {
    name: "clickjacking_via_xfo",
    help: "1 if the protection comes from X-Frame-Options",
    labels: &[],
};

/// The check.
pub static CHECK: CheckDef = CheckDef {
    id: "clickjacking",
    summary: "HTML responses forbid framing by other origins (CSP frame-ancestors or X-Frame-Options)",
    inputs: &[ProbeKind::Fetch],
    findings: &[
        FRAME_ANCESTORS_PERMISSIVE,
        MISSING,
        XFO_INVALID,
        XFO_ALLOWALL,
        XFO_ALLOW_FROM_OBSOLETE,
        XFO_OVERRIDDEN_BY_CSP,
        XFO_CONFLICTING_VALUES,
        XFO_META_IGNORED,
    ],
    gauges: &[&PROTECTED, &VIA_CSP, &VIA_XFO],
    opt_in: false,
    scans_cycle: false,
    also_reads: &[],
    evaluate,
};

/// What X-Frame-Options means to a browser (HTML Standard).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Xfo {
    /// No field line.
    Absent,
    /// `deny` or `sameorigin` (possibly repeated).
    Protected,
    /// Several distinct values, one of them deny/sameorigin/allowall: browsers block.
    Conflicting(Vec<String>),
    /// `allowall` alone.
    AllowAll,
    /// A single `allow-from …` (ignored by current browsers).
    AllowFrom(String),
    /// Anything else: not protected.
    Invalid(Vec<String>),
}

/// Interprets the values of Fetch's "get, decode, split" of `X-Frame-Options`.
pub fn interpret(list: &HeaderList) -> Xfo {
    let values = match list {
        HeaderList::Absent => return Xfo::Absent,
        HeaderList::Invalid(v) => return Xfo::Invalid(vec![v.clone()]),
        HeaderList::Values(v) => v,
    };
    let mut set: Vec<String> = Vec::new();
    for v in values {
        let v = v.to_ascii_lowercase();
        if !set.contains(&v) {
            set.push(v);
        }
    }
    let blocking = |v: &String| matches!(v.as_str(), "deny" | "sameorigin" | "allowall");
    if set.len() > 1 {
        return if set.iter().any(blocking) {
            Xfo::Conflicting(set)
        } else {
            Xfo::Invalid(set)
        };
    }
    match set.first().map(String::as_str) {
        Some("deny" | "sameorigin") => Xfo::Protected,
        Some("allowall") => Xfo::AllowAll,
        Some(v) if v.starts_with("allow-from") => Xfo::AllowFrom(v.to_owned()),
        _ => Xfo::Invalid(set),
    }
}

fn evaluate(input: &CheckInput<'_>) -> Evaluation {
    match input.judged_response() {
        Ok((_, e)) => {
            let (mut findings, m) = judge(e);
            cap_for_non_html(&mut findings, e);
            Evaluation::new(Judgement::Evaluated(findings), m)
        }
        Err(j) => Evaluation::bare(j),
    }
}

/// Judges the final response.
pub fn judge(e: &Exchange) -> (Vec<Finding>, Vec<Measurement>) {
    let mut findings = Vec::new();
    let xfo_lines = e.combined("x-frame-options");
    let policies = csp::collect(e);
    let fa: Vec<(bool, String)> = policies
        .enforced
        .iter()
        .filter(|p| p.source == PolicySource::Header)
        .filter_map(|p| {
            let d = csp::effective(p, &["frame-ancestors"])?;
            Some((csp::frame_ancestors_restrictive(p)?, d.text()))
        })
        .collect();
    let (mut protected, mut via_csp, mut via_xfo) = (false, false, false);
    if !fa.is_empty() {
        // Rule 1: frame-ancestors wins over X-Frame-Options.
        protected = fa.iter().any(|(r, _)| *r);
        via_csp = protected;
        if !protected {
            findings.push(Finding::new(
                &FRAME_ANCESTORS_PERMISSIVE,
                fa.iter()
                    .map(|(_, t)| t.as_str())
                    .collect::<Vec<_>>()
                    .join(" | "),
            ));
        }
        if let Some(x) = &xfo_lines {
            findings.push(Finding::new(
                &XFO_OVERRIDDEN_BY_CSP,
                format!("X-Frame-Options: {x} (ignored: CSP frame-ancestors applies)"),
            ));
        }
    } else {
        let shown = || format!("X-Frame-Options: {}", xfo_lines.clone().unwrap_or_default());
        match interpret(&get_decode_split(e, "x-frame-options")) {
            Xfo::Absent => findings.push(Finding::new(
                &MISSING,
                format!(
                    "no X-Frame-Options and no CSP frame-ancestors on GET {} → {}",
                    e.url, e.status
                ),
            )),
            Xfo::Protected => protected = true,
            Xfo::Conflicting(set) => {
                protected = true;
                findings.push(Finding::new(
                    &XFO_CONFLICTING_VALUES,
                    format!("{} (values {:?}: browsers block framing)", shown(), set),
                ));
            }
            Xfo::AllowAll => findings.push(Finding::new(&XFO_ALLOWALL, shown())),
            Xfo::AllowFrom(_) => findings.push(Finding::new(
                &XFO_ALLOW_FROM_OBSOLETE,
                format!("{} (ALLOW-FROM is ignored by current browsers)", shown()),
            )),
            Xfo::Invalid(_) => findings.push(Finding::new(&XFO_INVALID, shown())),
        }
        via_xfo = protected;
    }
    if let Some(html) = &e.html
        && let Some(meta) = html.any_http_equiv("x-frame-options").next()
    {
        findings.push(Finding::new(
            &XFO_META_IGNORED,
            format!(
                "<meta http-equiv=\"X-Frame-Options\" content=\"{}\"> (browsers ignore it)",
                meta.content.clone().unwrap_or_default()
            ),
        ));
    }
    let m = vec![
        Measurement::flag(&PROTECTED, protected),
        Measurement::flag(&VIA_CSP, via_csp),
        Measurement::flag(&VIA_XFO, via_xfo),
    ];
    (findings, m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::header_list::split;
    use crate::checks::test_support::exchange;

    fn xfo(v: &str) -> Xfo {
        interpret(&HeaderList::Values(split(v)))
    }

    #[test]
    fn multi_value_rules_as_browsers_apply_them() {
        assert_eq!(xfo("DENY"), Xfo::Protected);
        assert_eq!(xfo("SAMEORIGIN, sameorigin"), Xfo::Protected);
        assert!(matches!(xfo("DENY, SAMEORIGIN"), Xfo::Conflicting(_)));
        assert!(matches!(xfo("allowall, foo"), Xfo::Conflicting(_)));
        assert!(matches!(xfo("foo, bar"), Xfo::Invalid(_)));
        assert_eq!(xfo("ALLOWALL"), Xfo::AllowAll);
        assert!(matches!(
            xfo("ALLOW-FROM https://a.example/"),
            Xfo::AllowFrom(_)
        ));
        assert!(matches!(xfo(""), Xfo::Invalid(_)));
        assert!(matches!(xfo("\"deny\""), Xfo::Invalid(_)));
        assert!(matches!(xfo("deny;"), Xfo::Invalid(_)));
        assert_eq!(interpret(&HeaderList::Absent), Xfo::Absent);
    }

    fn ids(headers: &[(&str, &str)]) -> Vec<&'static str> {
        judge(&exchange(headers, ""))
            .0
            .iter()
            .map(|f| f.id)
            .collect()
    }

    #[test]
    fn frame_ancestors_overrides_xfo() {
        let h = [
            ("content-security-policy", "frame-ancestors 'self'"),
            ("x-frame-options", "ALLOWALL"),
        ];
        assert_eq!(ids(&h), ["xfo_overridden_by_csp"]);
        let h = [("content-security-policy", "frame-ancestors 'self' https:")];
        assert_eq!(ids(&h), ["frame_ancestors_permissive"]);
        // One restrictive policy among several suffices.
        let h = [
            ("content-security-policy", "frame-ancestors *"),
            ("content-security-policy", "frame-ancestors 'none'"),
        ];
        assert!(ids(&h).is_empty());
        // Report-Only frame-ancestors never counts.
        let h = [(
            "content-security-policy-report-only",
            "frame-ancestors 'none'",
        )];
        assert_eq!(ids(&h), ["missing"]);
    }
}
