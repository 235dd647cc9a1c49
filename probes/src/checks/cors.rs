//! `cors` (CHECKS.md §8): no attacker-controlled origin can read responses, especially with
//! credentials. *Allowed* ⇔ the ACAO value (OWS-trimmed) is byte-identical to the Origin sent
//! (Fetch CORS check); *credentialed* ⇔ ACAC is exactly `true`.

use super::{CheckDef, CheckInput, Evaluation};
use crate::active::{cert_gate, stopped_judgement};
use crate::cors::{CorsPath, CorsProbe, Variant, parse_origin};
use crate::evidence::{Exchange, latin1};
use crate::measure::{GaugeDef, Measurement};
use crate::probe::ProbeKind;
use crate::target::registrable_domain;
use crate::verdict::{Finding, FindingDef, Judgement, Severity};

/// Options of `cors`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsOptions {
    /// Origins the target legitimately trusts (`scheme://host[:port]`; `*` and `null` are
    /// accepted and get no look-alikes). At most 10 are probed.
    pub allowed_origins: Vec<String>,
    /// Paths probed besides the target URL (at most 5).
    pub paths: Vec<String>,
}

const REFLECT_ANY_WITH_CREDENTIALS: FindingDef =
    FindingDef::new("reflect_any_with_credentials", Severity::Critical);
const NULL_ORIGIN_WITH_CREDENTIALS: FindingDef =
    FindingDef::new("null_origin_with_credentials", Severity::High);
const ORIGIN_BYPASS_WITH_CREDENTIALS: FindingDef =
    FindingDef::new("origin_bypass_with_credentials", Severity::High);
const PREFLIGHT_PERMISSIVE_WITH_CREDENTIALS: FindingDef =
    FindingDef::new("preflight_permissive_with_credentials", Severity::High);
const HTTP_ORIGIN_TRUSTED_WITH_CREDENTIALS: FindingDef =
    FindingDef::new("http_origin_trusted_with_credentials", Severity::Medium);
const MISSING_VARY_ORIGIN: FindingDef = FindingDef::new("missing_vary_origin", Severity::Low);
const WILDCARD_WITH_CREDENTIALS: FindingDef =
    FindingDef::new("wildcard_with_credentials", Severity::Low);
const REFLECT_ANY: FindingDef = FindingDef::new("reflect_any", Severity::Low);
const NULL_ORIGIN: FindingDef = FindingDef::new("null_origin", Severity::Low);
const ORIGIN_BYPASS: FindingDef = FindingDef::new("origin_bypass", Severity::Low);
const PREFLIGHT_PERMISSIVE: FindingDef = FindingDef::new("preflight_permissive", Severity::Low);
const ANY_SUBDOMAIN_TRUSTED_WITH_CREDENTIALS: FindingDef =
    FindingDef::new("any_subdomain_trusted_with_credentials", Severity::Low);
const HTTP_ORIGIN_TRUSTED: FindingDef = FindingDef::new("http_origin_trusted", Severity::Info);
const ANY_SUBDOMAIN_TRUSTED: FindingDef = FindingDef::new("any_subdomain_trusted", Severity::Info);
const ACAO_INVALID: FindingDef = FindingDef::new("acao_invalid", Severity::Info);
const ACAC_NOT_EXACT: FindingDef = FindingDef::new("acac_not_exact", Severity::Info);
const CORS_NOT_ENABLED: FindingDef = FindingDef::new("cors_not_enabled", Severity::Info);

static ALLOWS_ARBITRARY: GaugeDef = GaugeDef {
    name: "cors_allows_arbitrary_origin",
    help: "1 if an arbitrary unrelated Origin was allowed on any probed path",
    labels: &[],
};
static ALLOWS_NULL: GaugeDef = GaugeDef {
    name: "cors_allows_null_origin",
    help: "1 if Origin null was allowed on any probed path",
    labels: &[],
};
static BYPASS: GaugeDef = GaugeDef {
    name: "cors_origin_bypass",
    help: "1 if a look-alike Origin (prefix, suffix, dot_regex, allowed_prefix, allowed_suffix) was allowed on any probed path",
    labels: &[],
};
static CREDENTIALS: GaugeDef = GaugeDef {
    name: "cors_credentials_allowed",
    help: "1 if any CORS grant came with Access-Control-Allow-Credentials: true",
    labels: &[],
};
static VARY: GaugeDef = GaugeDef {
    name: "cors_vary_origin",
    help: "1 if any probed response carried Vary: Origin (or Vary: *)",
    labels: &[],
};

/// The check.
pub static CHECK: CheckDef = CheckDef {
    id: "cors",
    summary: "no attacker-controlled origin can read responses, especially with credentials",
    inputs: &[ProbeKind::Cors, ProbeKind::Fetch],
    findings: &[
        REFLECT_ANY_WITH_CREDENTIALS,
        NULL_ORIGIN_WITH_CREDENTIALS,
        ORIGIN_BYPASS_WITH_CREDENTIALS,
        PREFLIGHT_PERMISSIVE_WITH_CREDENTIALS,
        HTTP_ORIGIN_TRUSTED_WITH_CREDENTIALS,
        MISSING_VARY_ORIGIN,
        WILDCARD_WITH_CREDENTIALS,
        REFLECT_ANY,
        NULL_ORIGIN,
        ORIGIN_BYPASS,
        PREFLIGHT_PERMISSIVE,
        ANY_SUBDOMAIN_TRUSTED_WITH_CREDENTIALS,
        HTTP_ORIGIN_TRUSTED,
        ANY_SUBDOMAIN_TRUSTED,
        ACAO_INVALID,
        ACAC_NOT_EXACT,
        CORS_NOT_ENABLED,
    ],
    gauges: &[
        &ALLOWS_ARBITRARY,
        &ALLOWS_NULL,
        &BYPASS,
        &CREDENTIALS,
        &VARY,
    ],
    opt_in: false,
    scans_cycle: false,
    also_reads: &[],
    evaluate,
};

/// Header field lines of `name`, each decoded and OWS-trimmed.
fn lines(e: &Exchange, name: &str) -> Vec<String> {
    e.header_lines(name)
        .map(|v| latin1(v.as_bytes()).trim_matches([' ', '\t']).to_owned())
        .collect()
}

/// The single ACAO value, when exactly one field line is present.
fn acao(e: &Exchange) -> Option<String> {
    let l = lines(e, "access-control-allow-origin");
    (l.len() == 1).then(|| l[0].clone())
}

/// Fetch CORS check: ACAO byte-identical to the Origin sent.
fn allowed(e: &Exchange, origin: &str) -> bool {
    acao(e).is_some_and(|v| v == origin)
}

/// ACAC exactly `true` (case-sensitive, Fetch ABNF `%s"true"`).
fn credentialed(e: &Exchange) -> bool {
    e.combined("access-control-allow-credentials")
        .as_deref()
        .map(str::trim)
        == Some("true")
}

fn list_has(e: &Exchange, name: &str, wanted: &str) -> bool {
    e.combined(name).is_some_and(|v| {
        v.split(',')
            .map(str::trim)
            .any(|t| t == "*" || t.eq_ignore_ascii_case(wanted))
    })
}

fn describe(p: &CorsProbe, e: &Exchange) -> String {
    let method = if p.variant == Variant::Preflight {
        "OPTIONS"
    } else {
        "GET"
    };
    format!(
        "{} {method} {} Origin: {} → {} ACAO: {} ACAC: {}",
        p.variant.as_str(),
        e.url,
        p.origin.as_deref().unwrap_or("(none)"),
        e.status,
        e.combined("access-control-allow-origin")
            .as_deref()
            .unwrap_or("(none)"),
        e.combined("access-control-allow-credentials")
            .as_deref()
            .unwrap_or("(none)"),
    )
}

/// Whether an allowed_suffix hit is explained by subdomain trust alone. The look-alike
/// `corsprobe{n}app.example.com` of `https://app.example.com` is a name under `example.com`;
/// when that is also the target's registrable domain, the path's own probes tell the two
/// readings apart: `corsprobe-{n}.example.com` (subdomain) granted while
/// `corsprobe{n}example.com` (suffix, a domain anyone can register) is refused means a rule
/// like `https://.*\.example\.com`, which an attacker exploits only by owning a subdomain
/// (takeover, XSS). Any other hit stays the bypass CHECKS.md §8 names (ADR 0003).
fn subdomain_trust_only(origin: &str, target: &crate::target::Target, path: &CorsPath) -> bool {
    let Some(rd) = parse_origin(origin).and_then(|(_, h, _)| registrable_domain(&h)) else {
        return false;
    };
    if target
        .url
        .host_str()
        .and_then(registrable_domain)
        .as_deref()
        != Some(rd.as_str())
    {
        return false;
    }
    let granted = |v: Variant| {
        path.probes.iter().any(|p| {
            p.variant == v
                && p.origin
                    .as_deref()
                    .is_some_and(|o| p.outcome.as_ref().is_ok_and(|e| allowed(e, o)))
        })
    };
    granted(Variant::Subdomain) && !granted(Variant::Suffix)
}

/// One finding per id; the first keeps its evidence and names the other probes that raised the
/// same id (`prefix` and `allowed_suffix` granted on two paths): fixing the one shown must not
/// leave the rest unseen.
fn merge_same_id(findings: &mut Vec<Finding>) {
    let mut out: Vec<Finding> = Vec::new();
    for f in findings.drain(..) {
        match out.iter_mut().find(|o| o.id == f.id) {
            None => out.push(f),
            Some(first) => {
                // `{variant} {method} {url} Origin: {origin}`, without the response part.
                let probe = f.evidence.split(" → ").next().unwrap_or(&f.evidence);
                if !first.evidence.contains(probe) {
                    let sep = if first.evidence.contains("; also ") {
                        "; "
                    } else {
                        "; also "
                    };
                    first.evidence.push_str(sep);
                    first.evidence.push_str(probe);
                    first.evidence = crate::verdict::truncate(
                        std::mem::take(&mut first.evidence),
                        crate::verdict::EVIDENCE_MAX_BYTES,
                    );
                }
            }
        }
    }
    *findings = out;
}

fn evaluate(input: &CheckInput<'_>) -> Evaluation {
    let ev = match input.cors() {
        Ok(e) => e,
        Err(j) => return Evaluation::bare(j),
    };
    if let Err(j) = cert_gate(input, ev.responses()) {
        return Evaluation::bare(j);
    }
    // A run cut short (backoff, budget, an unanswering server) is judged on what it saw: a
    // reflection seen is real, but the absence of one proves nothing (checked below). So is a
    // run that left a path after a request it did not answer (a handler that hangs or drops
    // the connection), as for an unanswered `cookies.paths` page.
    let stopped = stopped_judgement(ev.stopped);
    if ev.responses().next().is_none() {
        return Evaluation::bare(stopped.err().unwrap_or(Judgement::Error("no_response")));
    }
    let stopped = stopped.and(ev.unanswered().map_or(Ok(()), |r| Err(Judgement::Error(r))));
    let mut findings = Vec::new();
    let (mut arbitrary, mut null, mut bypass, mut creds, mut vary) =
        (false, false, false, false, false);
    let mut any_acao = false;
    for path in &ev.paths {
        // What the path answers without an Origin: a grant equal to it is static, not an echo.
        let baseline_acao = path
            .probes
            .iter()
            .find(|p| p.variant == Variant::Baseline)
            .and_then(|p| p.outcome.as_ref().ok())
            .and_then(acao);
        for p in &path.probes {
            let Ok(e) = &p.outcome else { continue };
            let acao_lines = lines(e, "access-control-allow-origin");
            any_acao |= !acao_lines.is_empty();
            if list_has(e, "vary", "origin") {
                vary = true;
            }
            let cred = credentialed(e);
            if cred && !acao_lines.is_empty() {
                creds = true;
            }
            // Response-level facts.
            if acao_lines.len() > 1
                || acao_lines.first().is_some_and(|v| {
                    // A list, comma- or space-separated (nginx `add_header … "a b"`), or a
                    // trailing slash: no Origin can ever equal it.
                    v.contains([',', ' ', '\t']) || (v.len() > 1 && v.ends_with('/'))
                })
            {
                findings.push(Finding::new(&ACAO_INVALID, describe(p, e)));
            }
            if let Some(v) = e.combined("access-control-allow-credentials")
                && v.trim() != "true"
                && v.trim().eq_ignore_ascii_case("true")
            {
                findings.push(Finding::new(&ACAC_NOT_EXACT, describe(p, e)));
            }
            if acao(e).as_deref() == Some("*") && cred {
                findings.push(Finding::new(&WILDCARD_WITH_CREDENTIALS, describe(p, e)));
            }
            let Some(origin) = p.origin.as_deref() else {
                continue;
            };
            let granted = allowed(e, origin);
            // "ACAO depends on Origin (any probe echoed)": a fixed ACAO that happens to equal
            // the Origin sent (nginx `add_header … https://app.example`) depends on nothing.
            let echoed = granted && baseline_acao.as_deref() != Some(origin);
            // A preflight answer is not cacheable by HTTP caches (RFC 9110 §9.3.7: OPTIONS
            // responses are not), so the replay `Vary: Origin` prevents cannot happen there;
            // rack-cors sends Vary on every GET but not on its preflight answers.
            if echoed && p.variant != Variant::Preflight && !list_has(e, "vary", "origin") {
                findings.push(Finding::new(&MISSING_VARY_ORIGIN, describe(p, e)));
            }
            if !granted {
                continue;
            }
            let (with, without) = match p.variant {
                Variant::Arbitrary => {
                    arbitrary = true;
                    (&REFLECT_ANY_WITH_CREDENTIALS, &REFLECT_ANY)
                }
                Variant::Null => {
                    null = true;
                    (&NULL_ORIGIN_WITH_CREDENTIALS, &NULL_ORIGIN)
                }
                Variant::AllowedSuffix if subdomain_trust_only(origin, input.target, path) => (
                    &ANY_SUBDOMAIN_TRUSTED_WITH_CREDENTIALS,
                    &ANY_SUBDOMAIN_TRUSTED,
                ),
                Variant::Prefix
                | Variant::Suffix
                | Variant::DotRegex
                | Variant::AllowedPrefix
                | Variant::AllowedSuffix => {
                    bypass = true;
                    (&ORIGIN_BYPASS_WITH_CREDENTIALS, &ORIGIN_BYPASS)
                }
                Variant::Subdomain => (
                    &ANY_SUBDOMAIN_TRUSTED_WITH_CREDENTIALS,
                    &ANY_SUBDOMAIN_TRUSTED,
                ),
                Variant::HttpScheme => {
                    (&HTTP_ORIGIN_TRUSTED_WITH_CREDENTIALS, &HTTP_ORIGIN_TRUSTED)
                }
                Variant::Preflight => {
                    let ok = (200..300).contains(&e.status)
                        && list_has(e, "access-control-allow-methods", "PUT")
                        && p.request_header
                            .as_deref()
                            .is_some_and(|h| list_has(e, "access-control-allow-headers", h));
                    if !ok {
                        continue;
                    }
                    (
                        &PREFLIGHT_PERMISSIVE_WITH_CREDENTIALS,
                        &PREFLIGHT_PERMISSIVE,
                    )
                }
                Variant::Baseline | Variant::Own | Variant::AllowedExact => continue,
            };
            findings.push(Finding::new(
                if cred { with } else { without },
                describe(p, e),
            ));
        }
    }
    if let Err(j) = stopped
        && findings.iter().all(|f| f.severity == Severity::Info)
    {
        return Evaluation::bare(j);
    }
    if !any_acao {
        findings.push(Finding::new(
            &CORS_NOT_ENABLED,
            format!(
                "no Access-Control-Allow-Origin on any of {} responses",
                ev.responses().count()
            ),
        ));
    }
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    merge_same_id(&mut findings);
    Evaluation::new(
        Judgement::Evaluated(findings),
        vec![
            Measurement::flag(&ALLOWS_ARBITRARY, arbitrary),
            Measurement::flag(&ALLOWS_NULL, null),
            Measurement::flag(&BYPASS, bypass),
            Measurement::flag(&CREDENTIALS, creds),
            Measurement::flag(&VARY, vary),
        ],
    )
}
