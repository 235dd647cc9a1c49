//! `tls_cert` (CHECKS.md §9): the presented certificate is valid for the host with public roots
//! (or the configured CA), not near expiry, and cryptographically current. Judged per probed
//! address from the chain as served, so every fact survives a broken certificate; a finding
//! raised at several addresses is one finding naming each of them.

use std::time::{SystemTime, UNIX_EPOCH};

use super::{CheckDef, CheckInput, Evaluation};
use crate::measure::{GaugeDef, Measurement};
use crate::probe::ProbeKind;
use crate::tls::Verification;
use crate::tls::inspect::{CertDetails, KeyKind, host_matches};
use crate::tls::ocsp::{self, CertStatus, Staple};
use crate::tls::probe::{AddressTls, TlsEvidence};
use crate::verdict::{Finding, FindingDef, Judgement, Severity};

/// Default `warn_days` (CHECKS.md §9).
pub const DEFAULT_WARN_DAYS: u32 = 21;
/// Default `critical_days` (CHECKS.md §9).
pub const DEFAULT_CRITICAL_DAYS: u32 = 7;
/// Public-root leaf lifetime limit before the CA/B schedule of ballot SC-081 (398 days).
pub const MAX_LIFETIME_DAYS: i64 = 398;

/// Options of `tls_cert`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TlsCertOptions {
    /// `expires_soon` below min(this many days, 25 % of the lifetime). Default 21.
    pub warn_days: u32,
    /// `expires_critical` below min(this many days, 10 % of the lifetime). Default 7.
    pub critical_days: u32,
    /// Fetch the leaf's AIA caIssuers (one GET per distinct URL, ≤ 64 KiB) to tell
    /// `incomplete_chain` from `untrusted_chain`. Default true.
    pub aia_fetch: bool,
    /// Trust the operating system's roots instead of webpki-roots (for every probe of the
    /// target). Default false.
    pub platform_roots: bool,
}

impl Default for TlsCertOptions {
    fn default() -> Self {
        TlsCertOptions {
            warn_days: DEFAULT_WARN_DAYS,
            critical_days: DEFAULT_CRITICAL_DAYS,
            aia_fetch: true,
            platform_roots: false,
        }
    }
}

const UNTRUSTED_CHAIN: FindingDef = FindingDef::new("untrusted_chain", Severity::Critical);
const INCOMPLETE_CHAIN: FindingDef = FindingDef::new("incomplete_chain", Severity::High);
const HOSTNAME_MISMATCH: FindingDef = FindingDef::new("hostname_mismatch", Severity::Critical);
const EXPIRED: FindingDef = FindingDef::new("expired", Severity::Critical);
const NOT_YET_VALID: FindingDef = FindingDef::new("not_yet_valid", Severity::Critical);
const EXPIRES_CRITICAL: FindingDef = FindingDef::new("expires_critical", Severity::High);
const EXPIRES_SOON: FindingDef = FindingDef::new("expires_soon", Severity::Medium);
const WEAK_SIGNATURE: FindingDef = FindingDef::new("weak_signature", Severity::Critical);
const WEAK_KEY: FindingDef = FindingDef::new("weak_key", Severity::High);
const UNCOMMON_CURVE: FindingDef = FindingDef::new("uncommon_curve", Severity::Info);
const MUST_STAPLE_WITHOUT_STAPLE: FindingDef =
    FindingDef::new("must_staple_without_staple", Severity::High);
const OCSP_STAPLE_BAD: FindingDef = FindingDef::new("ocsp_staple_bad", Severity::Medium);
const REVOKED: FindingDef = FindingDef::new("revoked", Severity::Critical);
const OCSP_NOT_STAPLED: FindingDef = FindingDef::new("ocsp_not_stapled", Severity::Info);
const LIFETIME_EXCEEDS_POLICY: FindingDef =
    FindingDef::new("lifetime_exceeds_policy", Severity::Info);
const CHAIN_ORDER: FindingDef = FindingDef::new("chain_order", Severity::Info);
const INCONSISTENT_BACKENDS: FindingDef =
    FindingDef::new("inconsistent_backends", Severity::Medium);

static NOT_AFTER: GaugeDef = GaugeDef {
    name: "tls_cert_not_after_timestamp_seconds",
    help: "notAfter of the leaf (Unix seconds); of the earliest-expiring leaf when addresses differ",
    labels: &[],
};
static NOT_BEFORE: GaugeDef = GaugeDef {
    name: "tls_cert_not_before_timestamp_seconds",
    help: "notBefore of the leaf (Unix seconds)",
    labels: &[],
};
static EXPIRES_IN: GaugeDef = GaugeDef {
    name: "tls_cert_expires_in_seconds",
    help: "Seconds until the leaf expires, negative once expired (days = / 86400)",
    labels: &[],
};
static LIFETIME: GaugeDef = GaugeDef {
    name: "tls_cert_lifetime_seconds",
    help: "notAfter - notBefore of the leaf",
    labels: &[],
};
static WARN_AT: GaugeDef = GaugeDef {
    name: "tls_cert_expiry_warn_at_seconds",
    help: "Time left below which the leaf is expires_soon: min(warn_days, 25 % of its lifetime), in seconds",
    labels: &[],
};
static CRIT_AT: GaugeDef = GaugeDef {
    name: "tls_cert_expiry_crit_at_seconds",
    help: "Time left below which the leaf is expires_critical: min(critical_days, 10 % of its lifetime), in seconds",
    labels: &[],
};
static LIFETIME_USED: GaugeDef = GaugeDef {
    name: "tls_cert_lifetime_used_ratio",
    help: "Share of the leaf's lifetime elapsed: 0 at notBefore, 1 at notAfter (ACME clients renew near 2/3)",
    labels: &[],
};
static CHAIN_NOT_AFTER_MIN: GaugeDef = GaugeDef {
    name: "tls_chain_not_after_min_timestamp_seconds",
    help: "Earliest notAfter among the certificates of the path (Unix seconds): served ones outside their validity and served roots are left out when the chain verified",
    labels: &[],
};
static KEY_BITS: GaugeDef = GaugeDef {
    name: "tls_cert_key_length",
    help: "Leaf public key size in bits",
    labels: &[],
};
static CHAIN_LENGTH: GaugeDef = GaugeDef {
    name: "tls_cert_chain_length",
    help: "Certificates the server sent, leaf included",
    labels: &[],
};
static CHAIN_VALID: GaugeDef = GaugeDef {
    name: "tls_cert_chain_valid",
    help: "1 if the chain reaches a trusted root and is within its validity at every probed address (the host name apart: tls_cert_hostname_match), else 0",
    labels: &[],
};
static HOSTNAME_MATCH: GaugeDef = GaugeDef {
    name: "tls_cert_hostname_match",
    help: "1 if the host matches a SAN of the leaf at every probed address, else 0",
    labels: &[],
};
static OCSP_STAPLED: GaugeDef = GaugeDef {
    name: "tls_cert_ocsp_stapled",
    help: "1 if every probed address stapled an OCSP response, else 0",
    labels: &[],
};
static INFO: GaugeDef = GaugeDef {
    name: "tls_cert_info",
    help: "The leaf (earliest-expiring when addresses differ): 1, label values truncated to 64 bytes",
    labels: &["subject_cn", "issuer_cn", "key_type", "sig_alg"],
};

/// The check.
pub static CHECK: CheckDef = CheckDef {
    id: "tls_cert",
    summary: "the certificate is valid for the host, not near expiry, and cryptographically current",
    inputs: &[ProbeKind::Tls],
    findings: &[
        UNTRUSTED_CHAIN,
        INCOMPLETE_CHAIN,
        HOSTNAME_MISMATCH,
        EXPIRED,
        NOT_YET_VALID,
        EXPIRES_CRITICAL,
        EXPIRES_SOON,
        WEAK_SIGNATURE,
        WEAK_KEY,
        UNCOMMON_CURVE,
        MUST_STAPLE_WITHOUT_STAPLE,
        OCSP_STAPLE_BAD,
        REVOKED,
        OCSP_NOT_STAPLED,
        LIFETIME_EXCEEDS_POLICY,
        CHAIN_ORDER,
        INCONSISTENT_BACKENDS,
    ],
    gauges: &[
        &NOT_AFTER,
        &NOT_BEFORE,
        &EXPIRES_IN,
        &LIFETIME,
        &WARN_AT,
        &CRIT_AT,
        &LIFETIME_USED,
        &CHAIN_NOT_AFTER_MIN,
        &KEY_BITS,
        &CHAIN_LENGTH,
        &CHAIN_VALID,
        &HOSTNAME_MATCH,
        &OCSP_STAPLED,
        &INFO,
    ],
    opt_in: false,
    scans_cycle: false,
    also_reads: &[],
    evaluate,
};

/// Expiry thresholds in seconds (CHECKS.md §9): `warn_at = min(warn_days·86400,
/// 0.25·lifetime)`, `crit_at = min(critical_days·86400, 0.10·lifetime)`.
pub fn thresholds(opts: &TlsCertOptions, lifetime: i64) -> (i64, i64) {
    let lifetime = lifetime.max(0);
    let warn = (i64::from(opts.warn_days) * 86_400).min(lifetime / 4);
    let crit = (i64::from(opts.critical_days) * 86_400).min(lifetime / 10);
    (warn, crit)
}

/// The CA/B lifetime cap (days) for a public-root leaf issued at `not_before` (ballot SC-081:
/// 200 d from 2026-03-15, 100 d from 2027-03-15, 47 d from 2029-03-15; 398 d before).
pub fn lifetime_cap_days(not_before: i64) -> i64 {
    const D2026_03_15: i64 = 1_773_532_800;
    const D2027_03_15: i64 = 1_805_068_800;
    const D2029_03_15: i64 = 1_868_227_200;
    if not_before >= D2029_03_15 {
        47
    } else if not_before >= D2027_03_15 {
        100
    } else if not_before >= D2026_03_15 {
        200
    } else {
        MAX_LIFETIME_DAYS
    }
}

fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A span for evidence: days with one decimal from a day up, else hours, minutes or seconds
/// (a staple stale for minutes is not "0.0 days" stale).
fn span(secs: i64) -> String {
    let a = secs.unsigned_abs();
    if a >= 86_400 {
        format!("{:.1} days", secs as f64 / 86_400.0)
    } else if a >= 3600 {
        format!("{:.1} hours", secs as f64 / 3600.0)
    } else if a >= 60 {
        format!("{} minutes", secs / 60)
    } else {
        format!("{secs} seconds")
    }
}

/// A certificate that is a trust anchor as served (self-issued CA): excluded from the
/// non-anchor rules.
fn is_anchor(c: &CertDetails) -> bool {
    c.is_ca && c.summary.self_issued
}

/// Whether the live verification built a path to an anchor: it verified, or failed only on
/// the name (rustls checks the name after building the path).
fn path_built(a: &AddressTls) -> bool {
    a.facts.as_ref().is_some_and(|f| {
        matches!(
            f.verification,
            Verification::Verified
                | Verification::Failed {
                    reason: "hostname_mismatch",
                    ..
                }
        )
    })
}

/// Per served certificate (`a.certs` order): whether it cannot be on the validated path.
/// When the live verification built a path, webpki checked that every certificate on it was
/// valid at the handshake, so a served certificate outside its validity then (an expired
/// cross-sign such as ISRG Root X1 by DST Root CA X3, a stale extra) is one path building went
/// around: CHECKS.md §9 judges expiry on the validated path only ("with an expired
/// intermediate or cross-signed root, path building must find a valid path"). The leaf is
/// always on the path. `handshake` bounds the handshake in Unix seconds (the tls run).
fn off_path(a: &AddressTls, handshake: (i64, i64)) -> Vec<bool> {
    let built = path_built(a);
    a.certs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            built
                && i > 0
                && (c.summary.not_after < handshake.0 || c.summary.not_before > handshake.1)
        })
        .collect()
}

fn who(i: usize, c: &CertDetails) -> String {
    let role = if i == 0 { "leaf" } else { "chain" };
    format!("{role} #{i} {}", c.subject)
}

/// Findings for one address.
fn judge_address(
    a: &AddressTls,
    evidence: &TlsEvidence,
    opts: &TlsCertOptions,
    (now, handshake): (i64, (i64, i64)),
    out: &mut Vec<Finding>,
) {
    let at = std::net::SocketAddr::new(a.address, evidence.port).to_string();
    let Some(facts) = &a.facts else { return };
    let off = off_path(a, handshake);
    // Trust, apart from time and name.
    let weak_sig: Vec<String> = a
        .certs
        .iter()
        .enumerate()
        .filter(|(_, c)| c.weak_signature && !is_anchor(c))
        .map(|(i, c)| format!("{}: {}", who(i, c), c.sig_alg))
        .collect();
    if !weak_sig.is_empty() {
        out.push(Finding::new(
            &WEAK_SIGNATURE,
            format!("{at}: {}", weak_sig.join("; ")),
        ));
    }
    if a.trusted == Some(false) {
        let reason = a.trust_reason.unwrap_or("invalid_certificate");
        let completes = a.aia.as_ref().is_some_and(|f| f.completes());
        if reason == "unknown_issuer" && completes {
            let url = a.aia.as_ref().map_or("", |f| f.url.as_str());
            out.push(Finding::new(
                &INCOMPLETE_CHAIN,
                format!("{at}: the server omits the intermediate; {url} completes the path"),
            ));
        } else if reason != "unsupported_signature_algorithm" || weak_sig.is_empty() {
            let aia = a
                .aia
                .as_ref()
                .map(|f| format!(" (AIA {}: {})", f.url, f.result))
                .unwrap_or_default();
            out.push(Finding::new(
                &UNTRUSTED_CHAIN,
                format!("{at}: no path to a trust anchor ({reason}){aia}"),
            ));
        }
    }
    let Some(leaf) = a.leaf() else {
        out.push(Finding::new(
            &UNTRUSTED_CHAIN,
            format!("{at}: the leaf certificate cannot be parsed"),
        ));
        return;
    };
    if !host_matches(&evidence.host, &leaf.dns_names, &leaf.ip_addresses) {
        let mut sans: Vec<String> = leaf.dns_names.clone();
        sans.extend(leaf.ip_addresses.iter().map(ToString::to_string));
        out.push(Finding::new(
            &HOSTNAME_MISMATCH,
            format!(
                "{at}: {} matches no SAN ({})",
                evidence.host,
                if sans.is_empty() {
                    "none".to_owned()
                } else {
                    sans.join(", ")
                }
            ),
        ));
    }
    // Expiry: every served certificate that may be on the path, except a served root.
    let judged = |i: usize, c: &CertDetails| (i == 0 || !is_anchor(c)) && !off[i];
    let expired: Vec<String> = a
        .certs
        .iter()
        .enumerate()
        .filter(|(i, c)| judged(*i, c) && now > c.summary.not_after)
        .map(|(i, c)| {
            format!(
                "{} expired {} ago",
                who(i, c),
                span(now - c.summary.not_after)
            )
        })
        .collect();
    let not_yet: Vec<String> = a
        .certs
        .iter()
        .enumerate()
        .filter(|(i, c)| judged(*i, c) && now < c.summary.not_before)
        .map(|(i, c)| {
            format!(
                "{} valid only in {}",
                who(i, c),
                span(c.summary.not_before - now)
            )
        })
        .collect();
    let lifetime = leaf.summary.not_after - leaf.summary.not_before;
    let remaining = leaf.summary.not_after - now;
    if !expired.is_empty() {
        out.push(Finding::new(
            &EXPIRED,
            format!("{at}: {}", expired.join("; ")),
        ));
    } else {
        let (warn_at, crit_at) = thresholds(opts, lifetime);
        if remaining < crit_at {
            out.push(Finding::new(
                &EXPIRES_CRITICAL,
                format!(
                    "{at}: leaf expires in {} (< {} for a {} certificate)",
                    span(remaining),
                    span(crit_at),
                    span(lifetime)
                ),
            ));
        } else if remaining < warn_at {
            out.push(Finding::new(
                &EXPIRES_SOON,
                format!(
                    "{at}: leaf expires in {} (< {} for a {} certificate)",
                    span(remaining),
                    span(warn_at),
                    span(lifetime)
                ),
            ));
        }
    }
    if !not_yet.is_empty() {
        out.push(Finding::new(
            &NOT_YET_VALID,
            format!("{at}: {}", not_yet.join("; ")),
        ));
    }
    // Keys.
    for (i, c) in a.certs.iter().enumerate() {
        if is_anchor(c) && i > 0 {
            continue;
        }
        let weak = match &c.key {
            // 0 = size unknown (an unparsable modulus): not evidence of a weak key.
            KeyKind::Rsa => {
                (c.key_bits > 0 && c.key_bits < 2048).then(|| format!("RSA {} bits", c.key_bits))
            }
            KeyKind::Dsa => Some("DSA".to_owned()),
            KeyKind::Ec(curve) => (!matches!(curve.as_str(), "P-256" | "P-384" | "P-521"))
                .then(|| format!("EC curve {curve}")),
            other => a
                .public_root
                .then(|| format!("{} outside the Web PKI", other.label())),
        };
        if let Some(w) = weak {
            out.push(Finding::new(&WEAK_KEY, format!("{at}: {}: {w}", who(i, c))));
        }
        if c.key == KeyKind::Ec("P-521".into()) {
            out.push(Finding::new(
                &UNCOMMON_CURVE,
                format!("{at}: {}: P-521", who(i, c)),
            ));
        }
    }
    // OCSP.
    match &facts.ocsp {
        None => {
            if leaf.must_staple {
                out.push(Finding::new(
                    &MUST_STAPLE_WITHOUT_STAPLE,
                    format!(
                        "{at}: the leaf requires stapling (TLS Feature status_request) but none was sent"
                    ),
                ));
            }
            out.push(Finding::new(
                &OCSP_NOT_STAPLED,
                format!("{at}: no OCSP staple"),
            ));
        }
        Some(bytes) => {
            // The served certificates named as the leaf's issuer: their keys must match the
            // staple's CertID too.
            let issuer_keys: Vec<&[u8]> = a
                .certs
                .iter()
                .filter(|c| c.subject_contents == leaf.issuer_contents)
                .map(|c| c.public_key.as_slice())
                .collect();
            judge_staple(&at, bytes, (leaf, &issuer_keys), now, out);
        }
    }
    // Policy (public roots only).
    if a.public_root {
        let cap = lifetime_cap_days(leaf.summary.not_before);
        if lifetime > cap * 86_400 {
            out.push(Finding::new(
                &LIFETIME_EXCEEDS_POLICY,
                format!("{at}: leaf lifetime {} > {cap} days", span(lifetime)),
            ));
        }
    }
    // Order as sent: each certificate issues the one before it; no root.
    let mut order = Vec::new();
    for (i, pair) in a.certs.windows(2).enumerate() {
        if pair[0].issuer_contents != pair[1].subject_contents {
            order.push(format!("#{} does not issue #{i}", i + 1));
        }
    }
    if let Some((i, root)) = a
        .certs
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, c)| is_anchor(c))
    {
        order.push(format!("#{i} is a root ({})", root.subject));
    }
    // Per-cert expiry of what path building went around (CHECKS.md §9 edge case).
    for (i, c) in a.certs.iter().enumerate().filter(|(i, _)| off[*i]) {
        let when = if now > c.summary.not_after {
            format!("expired {} ago", span(now - c.summary.not_after))
        } else {
            format!("valid only in {}", span(c.summary.not_before - now))
        };
        order.push(format!("{} {when}, not on the validated path", who(i, c)));
    }
    if !order.is_empty() {
        out.push(Finding::new(
            &CHAIN_ORDER,
            format!("{at}: {}", order.join("; ")),
        ));
    }
}

fn judge_staple(
    at: &str,
    bytes: &[u8],
    (leaf, issuer_keys): (&CertDetails, &[&[u8]]),
    now: i64,
    out: &mut Vec<Finding>,
) {
    match ocsp::parse(bytes) {
        Staple::Unsuccessful { status } => out.push(Finding::new(
            &OCSP_STAPLE_BAD,
            format!("{at}: OCSP responseStatus {status} (not successful)"),
        )),
        Staple::Malformed => out.push(Finding::new(
            &OCSP_STAPLE_BAD,
            format!("{at}: the staple is not a parsable OCSP response"),
        )),
        Staple::Basic { responses } => {
            let Some(r) = responses
                .iter()
                .find(|r| r.is_for(&leaf.serial_bytes, &leaf.issuer_der, issuer_keys))
            else {
                out.push(Finding::new(
                    &OCSP_STAPLE_BAD,
                    format!(
                        "{at}: the staple is for another certificate (leaf serial {})",
                        leaf.serial
                    ),
                ));
                return;
            };
            match r.status {
                CertStatus::Revoked => out.push(Finding::new(
                    &REVOKED,
                    format!(
                        "{at}: stapled OCSP says the leaf (serial {}) is revoked",
                        leaf.serial
                    ),
                )),
                CertStatus::Unknown => out.push(Finding::new(
                    &OCSP_STAPLE_BAD,
                    format!("{at}: stapled OCSP status unknown"),
                )),
                CertStatus::Good => {}
            }
            if let Some(next) = r.next_update
                && next < now
            {
                out.push(Finding::new(
                    &OCSP_STAPLE_BAD,
                    format!("{at}: stale staple: nextUpdate {} ago", span(now - next)),
                ));
            }
        }
    }
}

fn evaluate(input: &CheckInput<'_>) -> Evaluation {
    let evidence = match input.tls() {
        Ok(e) => e,
        Err(j) => return Evaluation::bare(j),
    };
    if let Some(reason) = evidence.skipped {
        return Evaluation::bare(if reason == "not_https" {
            Judgement::Skipped("not_https")
        } else {
            Judgement::Error(reason)
        });
    }
    let with_chain: Vec<&AddressTls> = evidence
        .addresses
        .iter()
        .filter(|a| a.has_chain())
        .collect();
    if with_chain.is_empty() {
        let reason = evidence
            .addresses
            .iter()
            .find_map(|a| a.failure.as_ref().map(|(r, _)| *r))
            .unwrap_or("no_certificate");
        return Evaluation::bare(Judgement::Error(reason));
    }
    let opts = &input.target.options.tls_cert;
    let now = unix(input.now);
    // The live verification ran inside the tls run.
    let handshake = input.evidence.run(ProbeKind::Tls).map_or((now, now), |r| {
        let start = unix(r.started_at);
        let secs = i64::try_from(r.duration.as_secs()).unwrap_or(i64::MAX);
        (start, start.saturating_add(secs).saturating_add(1))
    });
    let mut findings = Vec::new();
    let mut failing = false;
    for a in &with_chain {
        let mut own = Vec::new();
        judge_address(a, evidence, opts, (now, handshake), &mut own);
        failing |= own.iter().any(|f| f.severity > Severity::Info)
            || a.facts.as_ref().is_some_and(|f| !f.verified());
        findings.extend(own);
    }
    let mut leaves: Vec<(&str, String)> = with_chain
        .iter()
        .filter_map(|a| a.leaf().map(|l| (l.sha256.as_str(), a.address.to_string())))
        .collect();
    leaves.sort();
    leaves.dedup_by(|x, y| x.0 == y.0);
    if leaves.len() > 1 && failing {
        let list: Vec<String> = leaves
            .iter()
            .map(|(fp, addr)| format!("{addr}: {}", &fp[..16.min(fp.len())]))
            .collect();
        findings.push(Finding::new(
            &INCONSISTENT_BACKENDS,
            format!("addresses present different leaves: {}", list.join(", ")),
        ));
    }
    // The expiry findings are ranges (CHECKS.md §9): one per target, the worst address's
    // (expired, then expires_critical, then expires_soon), naming every address it holds for.
    let expiry = [EXPIRED.id, EXPIRES_CRITICAL.id, EXPIRES_SOON.id];
    if let Some(worst) = expiry
        .iter()
        .find(|id| findings.iter().any(|f| f.id == **id))
    {
        findings.retain(|f| f.id == *worst || !expiry.contains(&f.id));
    }
    super::merge_same_findings(&mut findings);
    let measurements = measure(evidence, opts, &with_chain, (now, handshake));
    Evaluation::new(Judgement::Evaluated(findings), measurements)
}

fn measure(
    evidence: &TlsEvidence,
    opts: &TlsCertOptions,
    with_chain: &[&AddressTls],
    (now, handshake): (i64, (i64, i64)),
) -> Vec<Measurement> {
    let mut m = Vec::new();
    let worst = with_chain
        .iter()
        .filter_map(|a| a.leaf().map(|l| (*a, l)))
        .min_by_key(|(_, l)| l.summary.not_after);
    if let Some((a, leaf)) = worst {
        let s = &leaf.summary;
        let lifetime = s.not_after - s.not_before;
        m.push(Measurement::new(&NOT_AFTER, s.not_after as f64));
        m.push(Measurement::new(&NOT_BEFORE, s.not_before as f64));
        m.push(Measurement::new(&EXPIRES_IN, (s.not_after - now) as f64));
        m.push(Measurement::new(&LIFETIME, lifetime as f64));
        // The thresholds the expiry findings used, so that alert rules follow a configured
        // warn_days / critical_days instead of repeating the defaults.
        let (warn_at, crit_at) = thresholds(opts, lifetime);
        m.push(Measurement::new(&WARN_AT, warn_at as f64));
        m.push(Measurement::new(&CRIT_AT, crit_at as f64));
        if lifetime > 0 {
            m.push(Measurement::new(
                &LIFETIME_USED,
                (now - s.not_before) as f64 / lifetime as f64,
            ));
        }
        // The path's earliest notAfter: once a path was built, neither served certificates
        // it went around nor a served root (the path ends at the store's anchor) are on it.
        let off = off_path(a, handshake);
        let built = path_built(a);
        let served_root = |i: usize, c: &CertDetails| built && i > 0 && is_anchor(c);
        if let Some(min) = a
            .certs
            .iter()
            .enumerate()
            .filter(|(i, c)| !off[*i] && !served_root(*i, c))
            .map(|(_, c)| c.summary.not_after)
            .min()
        {
            m.push(Measurement::new(&CHAIN_NOT_AFTER_MIN, min as f64));
        }
        m.push(Measurement::new(&KEY_BITS, f64::from(leaf.key_bits)));
        m.push(Measurement::new(
            &CHAIN_LENGTH,
            a.facts.as_ref().map_or(0, |f| f.chain.len()) as f64,
        ));
        m.push(Measurement::labelled(
            &INFO,
            [
                s.subject_cn.clone().unwrap_or_default(),
                s.issuer_cn.clone().unwrap_or_default(),
                leaf.key.label(),
                leaf.sig_alg.clone(),
            ],
            1.0,
        ));
    }
    // The name has its own gauge: a leaf for another host on a chain that verifies otherwise
    // is a valid chain, as testssl.sh's "chain of trust" reads it, so the two gauges tell
    // trust failures from name failures.
    m.push(Measurement::flag(
        &CHAIN_VALID,
        with_chain.iter().all(|a| path_built(a)),
    ));
    m.push(Measurement::flag(
        &HOSTNAME_MATCH,
        with_chain.iter().all(|a| {
            a.leaf()
                .is_some_and(|l| host_matches(&evidence.host, &l.dns_names, &l.ip_addresses))
        }),
    ));
    m.push(Measurement::flag(
        &OCSP_STAPLED,
        with_chain
            .iter()
            .all(|a| a.facts.as_ref().is_some_and(|f| f.ocsp.is_some())),
    ));
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_follow_the_lifetime() {
        let o = TlsCertOptions::default();
        // 90-day certificate: warn 21 d, critical 7 d.
        assert_eq!(thresholds(&o, 90 * 86_400), (21 * 86_400, 7 * 86_400));
        // 6-day certificate: warn 1.5 d, critical 0.6 d.
        assert_eq!(thresholds(&o, 6 * 86_400), (129_600, 51_840));
        // 45-day certificate: warn 11.25 d, critical 4.5 d.
        assert_eq!(thresholds(&o, 45 * 86_400), (972_000, 388_800));
    }

    #[test]
    fn evidence_spans_below_a_day_are_not_zero_days() {
        assert_eq!(span(5 * 86_400), "5.0 days");
        assert_eq!(span(-86_400), "-1.0 days");
        assert_eq!(span(12 * 3600), "12.0 hours");
        assert_eq!(span(5 * 60 + 7), "5 minutes");
        assert_eq!(span(42), "42 seconds");
    }

    #[test]
    fn lifetime_caps_follow_sc081() {
        assert_eq!(lifetime_cap_days(1_700_000_000), 398);
        assert_eq!(lifetime_cap_days(1_773_532_800), 200);
        assert_eq!(lifetime_cap_days(1_805_068_800), 100);
        assert_eq!(lifetime_cap_days(1_900_000_000), 47);
    }
}
