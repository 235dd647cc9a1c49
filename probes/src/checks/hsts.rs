//! `hsts` (CHECKS.md §2): HTTPS responses carry a valid, long-lived Strict-Transport-Security
//! policy. The parser is a tokenizer for the RFC 6797 §6.1 grammar, not `split(';')`.

use super::https_redirect;
use super::{CheckDef, CheckInput, Evaluation};
use crate::evidence::{Exchange, FetchEvidence, latin1};
use crate::measure::{GaugeDef, Measurement};
use crate::probe::ProbeKind;
use crate::target::registrable_domain;
use crate::verdict::{Finding, FindingDef, Judgement, Severity};

/// Observatory's pass threshold (180 days).
pub const DEFAULT_MIN_MAX_AGE: u64 = 15_552_000;
/// hstspreload's minimum and OWASP's value (1 year).
pub const DEFAULT_RECOMMENDED_MAX_AGE: u64 = 31_536_000;
/// hstspreload's requirement.
const PRELOAD_MIN_MAX_AGE: u64 = 31_536_000;

/// Options of `hsts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HstsOptions {
    /// max-age below this (and above 0) raises `max_age_too_short`.
    pub min_max_age: u64,
    /// max-age below this raises `below_recommended`.
    pub recommended_max_age: u64,
}

impl Default for HstsOptions {
    fn default() -> Self {
        HstsOptions {
            min_max_age: DEFAULT_MIN_MAX_AGE,
            recommended_max_age: DEFAULT_RECOMMENDED_MAX_AGE,
        }
    }
}

const HTTPS_UNAVAILABLE: FindingDef = FindingDef::new("https_unavailable", Severity::High);
const INVALID_CERT: FindingDef = FindingDef::new("invalid_cert", Severity::High);
const MISSING: FindingDef = FindingDef::new("missing", Severity::High);
const MULTIPLE_HEADERS: FindingDef = FindingDef::new("multiple_headers", Severity::Medium);
const DUPLICATE_IDENTICAL: FindingDef = FindingDef::new("duplicate_identical", Severity::Info);
const INVALID_SYNTAX: FindingDef = FindingDef::new("invalid_syntax", Severity::High);
const MAX_AGE_MISSING: FindingDef = FindingDef::new("max_age_missing", Severity::High);
const UNKNOWN_DIRECTIVE: FindingDef = FindingDef::new("unknown_directive", Severity::Info);
const DIRECTIVE_WITH_VALUE: FindingDef = FindingDef::new("directive_with_value", Severity::Info);
const EMPTY_DIRECTIVE: FindingDef = FindingDef::new("empty_directive", Severity::Info);
const MAX_AGE_ZERO: FindingDef = FindingDef::new("max_age_zero", Severity::High);
const MAX_AGE_TOO_SHORT: FindingDef = FindingDef::new("max_age_too_short", Severity::Medium);
const BELOW_RECOMMENDED: FindingDef = FindingDef::new("below_recommended", Severity::Info);
const NO_INCLUDE_SUBDOMAINS: FindingDef = FindingDef::new("no_include_subdomains", Severity::Info);
const PRELOAD_NOT_ELIGIBLE: FindingDef = FindingDef::new("preload_not_eligible", Severity::Info);
const SENT_OVER_HTTP: FindingDef = FindingDef::new("sent_over_http", Severity::Info);
const META_IGNORED: FindingDef = FindingDef::new("meta_ignored", Severity::Info);

static MAX_AGE: GaugeDef = GaugeDef {
    name: "hsts_max_age_seconds",
    help: "HSTS max-age of the first HTTPS response, -1 when missing or invalid",
    labels: &[],
};
static INCLUDE_SUBDOMAINS: GaugeDef = GaugeDef {
    name: "hsts_include_subdomains",
    help: "1 if the HSTS policy has includeSubDomains",
    labels: &[],
};
static PRELOAD_DIRECTIVE: GaugeDef = GaugeDef {
    name: "hsts_preload_directive",
    help: "1 if the HSTS policy has the preload directive",
    labels: &[],
};
static PRELOAD_READY: GaugeDef = GaugeDef {
    name: "hsts_preload_ready",
    help: "1 if the host meets the hstspreload.org submission requirements",
    labels: &[],
};
static PRELOADED: GaugeDef = GaugeDef {
    name: "hsts_preloaded",
    help: "1 if the host is on the configured HSTS preload list",
    labels: &[],
};
static HEADER_LINES: GaugeDef = GaugeDef {
    name: "hsts_header_lines",
    help: "Strict-Transport-Security field lines on the first HTTPS response (CHECKS.md hsts_header_count)",
    labels: &[],
};

/// The check.
pub static CHECK: CheckDef = CheckDef {
    id: "hsts",
    summary: "HTTPS responses carry a valid, long-lived Strict-Transport-Security policy",
    inputs: &[ProbeKind::Fetch],
    findings: &[
        HTTPS_UNAVAILABLE,
        INVALID_CERT,
        MISSING,
        MULTIPLE_HEADERS,
        DUPLICATE_IDENTICAL,
        INVALID_SYNTAX,
        MAX_AGE_MISSING,
        UNKNOWN_DIRECTIVE,
        DIRECTIVE_WITH_VALUE,
        EMPTY_DIRECTIVE,
        MAX_AGE_ZERO,
        MAX_AGE_TOO_SHORT,
        BELOW_RECOMMENDED,
        NO_INCLUDE_SUBDOMAINS,
        PRELOAD_NOT_ELIGIBLE,
        SENT_OVER_HTTP,
        META_IGNORED,
    ],
    gauges: &[
        &MAX_AGE,
        &INCLUDE_SUBDOMAINS,
        &PRELOAD_DIRECTIVE,
        &PRELOAD_READY,
        &PRELOADED,
        &HEADER_LINES,
    ],
    opt_in: false,
    scans_cycle: false,
    also_reads: &[],
    evaluate,
};

/// One directive as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// Name as written.
    pub name: String,
    /// Value after unquoting, if `=` was present.
    pub value: Option<String>,
}

/// A syntactically valid header value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Directives {
    /// Directives in order.
    pub list: Vec<Directive>,
    /// Empty directive slots (`;;`, a trailing `;`).
    pub empty: usize,
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Tokenizes a header value per RFC 6797 §6.1 (with RFC 9110 token, quoted-string and OWS).
///
/// # Errors
///
/// A description of the first byte outside the grammar.
pub fn parse(value: &[u8]) -> Result<Directives, String> {
    let n = value.len();
    let mut i = 0;
    let mut out = Directives::default();
    let mut semicolons = 0;
    let describe = |i: usize| match value.get(i) {
        Some(b) if b.is_ascii_graphic() => format!("unexpected {:?} at byte {i}", *b as char),
        Some(b) => format!("unexpected byte 0x{b:02x} at byte {i}"),
        None => format!("unexpected end at byte {i}"),
    };
    loop {
        while i < n && is_ows(value[i]) {
            i += 1;
        }
        if i == n || value[i] == b';' {
            out.empty += 1;
        } else {
            let start = i;
            while i < n && is_tchar(value[i]) {
                i += 1;
            }
            if i == start {
                return Err(describe(i));
            }
            let name = String::from_utf8_lossy(&value[start..i]).into_owned();
            while i < n && is_ows(value[i]) {
                i += 1;
            }
            let mut dv = None;
            if i < n && value[i] == b'=' {
                i += 1;
                while i < n && is_ows(value[i]) {
                    i += 1;
                }
                if i < n && value[i] == b'"' {
                    i += 1;
                    let mut s = Vec::new();
                    loop {
                        match value.get(i) {
                            None => {
                                return Err(format!(
                                    "unterminated quoted string starting at byte {start}"
                                ));
                            }
                            Some(b'"') => {
                                i += 1;
                                break;
                            }
                            Some(b'\\') => match value.get(i + 1) {
                                Some(&c)
                                    if c == b'\t'
                                        || c == b' '
                                        || (0x21..=0x7e).contains(&c)
                                        || c >= 0x80 =>
                                {
                                    s.push(c);
                                    i += 2;
                                }
                                _ => return Err(describe(i + 1)),
                            },
                            Some(&c)
                                if c == b'\t'
                                    || c == b' '
                                    || c == 0x21
                                    || (0x23..=0x7e).contains(&c)
                                    || c >= 0x80 =>
                            {
                                s.push(c);
                                i += 1;
                            }
                            Some(_) => return Err(describe(i)),
                        }
                    }
                    dv = Some(latin1(&s));
                } else {
                    let vs = i;
                    while i < n && is_tchar(value[i]) {
                        i += 1;
                    }
                    if i == vs {
                        return Err(describe(i));
                    }
                    dv = Some(String::from_utf8_lossy(&value[vs..i]).into_owned());
                }
                while i < n && is_ows(value[i]) {
                    i += 1;
                }
            }
            out.list.push(Directive { name, value: dv });
        }
        if i == n {
            break;
        }
        if value[i] != b';' {
            return Err(describe(i));
        }
        semicolons += 1;
        i += 1;
    }
    if semicolons == 0 {
        // A lone directive (or an empty value) has no empty *directive*.
        out.empty = 0;
    }
    Ok(out)
}

/// The policy a response carries, judged on its own.
#[derive(Debug, Clone, PartialEq)]
struct ResponseJudgement {
    findings: Vec<Finding>,
    max_age: Option<u64>,
    include_subdomains: bool,
    preload: bool,
    lines: usize,
}

fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |acc, b| {
        acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

fn judge_response(e: &Exchange, opts: &HstsOptions) -> ResponseJudgement {
    let lines = e.field_lines("strict-transport-security");
    let mut j = ResponseJudgement {
        findings: Vec::new(),
        max_age: None,
        include_subdomains: false,
        preload: false,
        lines: lines.len(),
    };
    let Some(first) = lines.first() else {
        j.findings.push(Finding::new(
            &MISSING,
            format!(
                "no Strict-Transport-Security on GET {} → {}",
                e.url, e.status
            ),
        ));
        return j;
    };
    let shown = latin1(first);
    if lines.len() > 1 {
        let all: Vec<String> = lines.iter().map(|l| latin1(l)).collect();
        let def = if lines.iter().all(|l| l == first) {
            &DUPLICATE_IDENTICAL
        } else {
            &MULTIPLE_HEADERS
        };
        j.findings.push(Finding::new(def, all.join(" | ")));
    }
    let directives = match parse(first) {
        Ok(d) => d,
        Err(why) => {
            j.findings
                .push(Finding::new(&INVALID_SYNTAX, format!("{shown} ({why})")));
            return j;
        }
    };
    let mut seen: Vec<String> = Vec::new();
    for d in &directives.list {
        let lower = d.name.to_ascii_lowercase();
        if seen.contains(&lower) {
            j.findings.push(Finding::new(
                &INVALID_SYNTAX,
                format!("{shown} (directive {} appears twice)", d.name),
            ));
            return j;
        }
        seen.push(lower);
    }
    let mut max_age_value = None;
    let mut unknown: Vec<&str> = Vec::new();
    for d in &directives.list {
        match d.name.to_ascii_lowercase().as_str() {
            "max-age" => match d.value.as_deref().and_then(digits) {
                Some(v) => max_age_value = Some(v),
                None => {
                    j.findings.push(Finding::new(
                        &INVALID_SYNTAX,
                        format!("{shown} (max-age must be digits)"),
                    ));
                    return j;
                }
            },
            "includesubdomains" | "preload" => {
                if d.value.is_some() {
                    j.findings.push(Finding::new(
                        &DIRECTIVE_WITH_VALUE,
                        format!("{shown} ({} has a value and does not count)", d.name),
                    ));
                } else if d.name.eq_ignore_ascii_case("preload") {
                    j.preload = true;
                } else {
                    j.include_subdomains = true;
                }
            }
            _ => unknown.push(d.name.as_str()),
        }
    }
    // One finding naming every unknown directive, names first, so that a long header line
    // is what the evidence cap cuts.
    if !unknown.is_empty() {
        let s = if unknown.len() == 1 { "" } else { "s" };
        j.findings.push(Finding::new(
            &UNKNOWN_DIRECTIVE,
            format!("unknown directive{s} {}: {shown}", unknown.join(", ")),
        ));
    }
    if directives.empty > 0 {
        j.findings
            .push(Finding::new(&EMPTY_DIRECTIVE, shown.clone()));
    }
    match max_age_value {
        None => j
            .findings
            .push(Finding::new(&MAX_AGE_MISSING, shown.clone())),
        Some(age) => {
            j.max_age = Some(age);
            if age == 0 {
                j.findings.push(Finding::new(&MAX_AGE_ZERO, shown.clone()));
            } else if age < opts.min_max_age {
                j.findings.push(Finding::new(
                    &MAX_AGE_TOO_SHORT,
                    format!("{shown} (minimum {})", opts.min_max_age),
                ));
            }
            if age < opts.recommended_max_age {
                j.findings.push(Finding::new(
                    &BELOW_RECOMMENDED,
                    format!("{shown} (recommended {})", opts.recommended_max_age),
                ));
            }
        }
    }
    if !j.include_subdomains {
        j.findings.push(Finding::new(&NO_INCLUDE_SUBDOMAINS, shown));
    }
    j
}

fn worst(j: &ResponseJudgement) -> (Option<Severity>, usize) {
    (
        j.findings.iter().map(|f| f.severity).max(),
        j.findings.len(),
    )
}

fn evaluate(input: &CheckInput<'_>) -> Evaluation {
    // A plain-HTTP target URL is `https_unavailable` whatever answered it, a limiter's 429
    // included; an HTTPS page answered by a limiter is not judged.
    let fetch = if input.target.url.scheme() == "https" {
        input.fetch()
    } else {
        input.fetch_unjudged()
    };
    match fetch {
        Ok(fetch) => evaluate_fetch(input, fetch),
        Err(j) => Evaluation::bare(j),
    }
}

fn metrics(j: Option<&ResponseJudgement>, ready: bool, preloaded: bool) -> Vec<Measurement> {
    vec![
        Measurement::new(
            &MAX_AGE,
            j.and_then(|j| j.max_age).map_or(-1.0, |a| a as f64),
        ),
        Measurement::flag(&INCLUDE_SUBDOMAINS, j.is_some_and(|j| j.include_subdomains)),
        Measurement::flag(&PRELOAD_DIRECTIVE, j.is_some_and(|j| j.preload)),
        Measurement::flag(&PRELOAD_READY, ready),
        Measurement::flag(&PRELOADED, preloaded),
        Measurement::new(&HEADER_LINES, j.map_or(0.0, |j| j.lines as f64)),
    ]
}

/// `sent_over_http`: Strict-Transport-Security on an `http://` response of either chain
/// (browsers ignore it there, RFC 6797 §8.1).
fn sent_over_http(fetch: &FetchEvidence) -> Option<Finding> {
    fetch
        .http
        .iter()
        .flat_map(|c| c.responses())
        .chain(fetch.main.responses())
        .find(|e| e.url.scheme() == "http" && e.headers.contains_key("strict-transport-security"))
        .map(|e| {
            Finding::new(
                &SENT_OVER_HTTP,
                format!(
                    "GET {} carries Strict-Transport-Security (ignored over http)",
                    e.url
                ),
            )
        })
}

fn evaluate_fetch(input: &CheckInput<'_>, fetch: &FetchEvidence) -> Evaluation {
    let target = input.target;
    let opts = &target.options.hsts;
    let preloaded = target
        .options
        .preload
        .as_ref()
        .is_some_and(|l| l.contains(&target.host));

    // A host on the preload list passes: every finding becomes info (CHECKS.md §2), the
    // preconditions' included.
    let finish = |mut findings: Vec<Finding>, measurements: Vec<Measurement>| {
        if preloaded {
            for f in &mut findings {
                f.severity = Severity::Info;
            }
        }
        Evaluation::new(Judgement::Evaluated(findings), measurements)
    };
    if target.url.scheme() != "https" {
        let mut findings = vec![Finding::new(
            &HTTPS_UNAVAILABLE,
            format!("target URL {} is plain HTTP", target.url),
        )];
        findings.extend(sent_over_http(fetch));
        return finish(findings, metrics(None, false, preloaded));
    }
    // A failed first response: a certificate that failed verification (a strict verifier, as
    // with a client certificate, ends the handshake there) is `invalid_cert`, as when the
    // recording verifier let the exchange finish; anything else leaves no HTTPS to judge.
    let unavailable = |f: &crate::evidence::Failure| match f
        .tls
        .as_ref()
        .and_then(|t| t.verification.failure_reason())
    {
        Some(reason) => Finding::new(
            &INVALID_CERT,
            format!("GET {}: certificate {reason}", f.url),
        ),
        None => Finding::new(
            &HTTPS_UNAVAILABLE,
            format!("GET {}: {} ({})", f.url, f.reason, f.detail),
        ),
    };
    let r1 = match fetch.main.first() {
        Ok(e) => e,
        Err(f) => return finish(vec![unavailable(f)], metrics(None, false, preloaded)),
    };

    // R1 = the target path's first response, plus https://host/ when the path differs (CHECKS.md
    // §2's R1 proper, so it must answer too); worst wins.
    let mut judged: Vec<ResponseJudgement> = vec![judge_response(r1, opts)];
    match fetch.root.as_ref().map(|c| c.first()) {
        Some(Ok(root)) => judged.push(judge_response(root, opts)),
        Some(Err(f)) => return finish(vec![unavailable(f)], metrics(None, false, preloaded)),
        None => {}
    }
    let worst_idx = (0..judged.len())
        .max_by(|&a, &b| worst(&judged[a]).cmp(&worst(&judged[b])).then(b.cmp(&a)))
        .unwrap_or(0);
    let chosen = judged.swap_remove(worst_idx);

    if let Some(reason) = r1
        .tls
        .as_ref()
        .and_then(|t| t.verification.failure_reason())
    {
        // RFC 6797 §8.1: UAs ignore STS received over a connection with certificate errors.
        return finish(
            vec![Finding::new(
                &INVALID_CERT,
                format!("GET {}: certificate {reason}", r1.url),
            )],
            metrics(Some(&chosen), false, preloaded),
        );
    }

    let mut findings = chosen.findings.clone();
    let redirect = fetch
        .http
        .first()
        .map(|c| https_redirect::analyze(c, &target.options.https_redirect, None));
    // hstspreload asks for the redirect only "if you are listening on port 80": a host that
    // serves no plain HTTP at all meets it.
    let redirect_ok = redirect.as_ref().is_some_and(|a| {
        !a.served
            || (a.first_hop_https
                && a.first_hop_same_host
                && a.findings.iter().all(|f| f.severity == Severity::Info))
    });
    let apex = registrable_domain(&target.host).is_some_and(|d| d == target.host);
    let ready = chosen.max_age.is_some_and(|a| a >= PRELOAD_MIN_MAX_AGE)
        && chosen.include_subdomains
        && chosen.preload
        && apex
        && redirect_ok
        && chosen.lines > 0;
    if chosen.preload && !ready {
        let mut unmet = Vec::new();
        if chosen.max_age.is_none_or(|a| a < PRELOAD_MIN_MAX_AGE) {
            unmet.push("max-age below 31536000");
        }
        if !chosen.include_subdomains {
            unmet.push("no includeSubDomains");
        }
        if !apex {
            unmet.push("host is not the registrable domain");
        }
        if !redirect_ok {
            unmet.push(match &redirect {
                Some(a) if a.first_hop_https && a.first_hop_same_host => {
                    "the http:// redirect chain fails https_redirect"
                }
                _ => "http:// does not redirect to https on the same host first",
            });
        }
        findings.push(Finding::new(&PRELOAD_NOT_ELIGIBLE, unmet.join("; ")));
    }

    findings.extend(sent_over_http(fetch));
    let meta = fetch
        .main
        .responses()
        .filter_map(|e| e.html.as_ref())
        .find_map(|h| {
            h.any_http_equiv("strict-transport-security")
                .next()
                .cloned()
        });
    if let Some(m) = meta {
        findings.push(Finding::new(
            &META_IGNORED,
            format!(
                "<meta http-equiv=\"Strict-Transport-Security\" content=\"{}\">",
                m.content.unwrap_or_default()
            ),
        ));
    }
    finish(findings, metrics(Some(&chosen), ready, preloaded))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &str) -> Vec<(String, Option<String>)> {
        parse(v.as_bytes())
            .unwrap()
            .list
            .into_iter()
            .map(|d| (d.name, d.value))
            .collect()
    }

    #[test]
    fn grammar_accepts_rfc_forms() {
        assert_eq!(
            names("max-age=31536000"),
            [("max-age".into(), Some("31536000".into()))]
        );
        assert_eq!(
            names("max-age=\"31536000\""),
            [("max-age".into(), Some("31536000".into()))]
        );
        assert_eq!(names("Max-Age = 5 ; INCLUDESUBDOMAINS").len(), 2);
        assert_eq!(parse(b"max-age=1;;preload").unwrap().empty, 1);
        assert_eq!(parse(b"max-age=1;").unwrap().empty, 1);
        assert_eq!(parse(b"max-age=1").unwrap().empty, 0);
        assert_eq!(
            names("max-age=\"a\\\"b\""),
            [("max-age".into(), Some("a\"b".into()))]
        );
    }

    #[test]
    fn grammar_rejects_what_uas_ignore() {
        for bad in [
            "max-age=31536000, includeSubDomains",
            "\"max-age=31536000\"",
            "max-age=\"31536000",
            "max-age=“31536000”",
            "=5",
            "max-age=",
            "max-age=1 includeSubDomains",
            "max-age=1\u{1}",
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad:?} should be invalid");
        }
    }

    #[test]
    fn saturating_digits() {
        assert_eq!(digits("00031536000"), Some(31_536_000));
        assert_eq!(digits("99999999999999999999999"), Some(u64::MAX));
        assert_eq!(digits("-1"), None);
        assert_eq!(digits(""), None);
    }
}
