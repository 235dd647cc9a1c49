//! `tls_version` (CHECKS.md §10): refuse SSLv2, SSLv3, TLS 1.0 and TLS 1.1 (RFC 6176, RFC 7568,
//! RFC 8996); offer TLS 1.2 and/or 1.3 (RFC 9325 §3.1.1). Judged over every probed address:
//! one backend that still speaks TLS 1.0 is enough.

use super::{CheckDef, CheckInput, Evaluation, merge_same_findings};
use crate::measure::{GaugeDef, Measurement};
use crate::probe::ProbeKind;
use crate::tls::legacy::{Outcome as LegacyOutcome, Version};
use crate::tls::versions::{AddressVersions, VersionsEvidence};
use crate::verdict::{Finding, FindingDef, Judgement, Severity};

/// Options of `tls_version`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TlsVersionOptions {
    /// Also send an SSLv2 CLIENT-HELLO (off by default, CHECKS.md §10).
    pub sslv2: bool,
}

const SSLV2_ACCEPTED: FindingDef = FindingDef::new("sslv2_accepted", Severity::Critical);
const SSLV3_ACCEPTED: FindingDef = FindingDef::new("sslv3_accepted", Severity::High);
const TLS10_ACCEPTED: FindingDef = FindingDef::new("tls10_accepted", Severity::Medium);
const TLS11_ACCEPTED: FindingDef = FindingDef::new("tls11_accepted", Severity::Medium);
const NO_MODERN_TLS: FindingDef = FindingDef::new("no_modern_tls", Severity::Critical);
const TLS12_LEGACY_SUITES_ONLY: FindingDef =
    FindingDef::new("tls12_legacy_suites_only", Severity::Medium);
const TLS13_UNSUPPORTED: FindingDef = FindingDef::new("tls13_unsupported", Severity::Info);
const VERSION_NEGOTIATION_BROKEN: FindingDef =
    FindingDef::new("version_negotiation_broken", Severity::Info);
const PROBE_INCONCLUSIVE: FindingDef = FindingDef::new("probe_inconclusive", Severity::Info);

static ACCEPTED: GaugeDef = GaugeDef {
    name: "tls_version_accepted",
    help: "1 if some probed address that took a connection accepts the version, 0 if all refuse it, -1 if inconclusive",
    labels: &["version"],
};
static ALERT_CODE: GaugeDef = GaugeDef {
    name: "tls_legacy_alert_code",
    help: "Fatal alert the first judged address sent to the hand-built hello for the version (0 = none)",
    labels: &["version"],
};
static NEGOTIATED: GaugeDef = GaugeDef {
    name: "tls_negotiated_info",
    help: "Cipher suite and group rustls negotiated for the version: 1",
    labels: &["version", "cipher", "group"],
};

/// The check.
pub static CHECK: CheckDef = CheckDef {
    id: "tls_version",
    summary: "legacy protocol versions are refused and TLS 1.2 or 1.3 is offered",
    inputs: &[ProbeKind::TlsVersions],
    findings: &[
        SSLV2_ACCEPTED,
        SSLV3_ACCEPTED,
        TLS10_ACCEPTED,
        TLS11_ACCEPTED,
        NO_MODERN_TLS,
        TLS12_LEGACY_SUITES_ONLY,
        TLS13_UNSUPPORTED,
        VERSION_NEGOTIATION_BROKEN,
        PROBE_INCONCLUSIVE,
    ],
    gauges: &[&ACCEPTED, &ALERT_CODE, &NEGOTIATED],
    opt_in: false,
    scans_cycle: false,
    also_reads: &[],
    evaluate,
};

/// What the DOWNGRD sentinel in the ServerHello that accepted `v` says (CHECKS.md §10, RFC
/// 8446 §4.1.3: a TLS 1.3 server ends its random with `DOWNGRD\x01` when it negotiates TLS
/// 1.2, with `DOWNGRD\x00` below that, as TLS 1.2 servers should too): empty without one.
fn downgrade_note(a: &AddressVersions, v: Version) -> String {
    match a.legacy(v).map(|p| p.outcome) {
        Some(LegacyOutcome::Accepted {
            downgrade_sentinel: Some(byte),
            ..
        }) => format!(
            " (the ServerHello carries the DOWNGRD sentinel: it also speaks {})",
            if byte == 0x01 {
                "TLS 1.3"
            } else {
                "TLS 1.2 or 1.3"
            }
        ),
        _ => String::new(),
    }
}

fn judge_address(a: &AddressVersions, port: u16, out: &mut Vec<Finding>) {
    let at = std::net::SocketAddr::new(a.address, port).to_string();
    for (v, def) in [
        (Version::Ssl2, &SSLV2_ACCEPTED),
        (Version::Ssl3, &SSLV3_ACCEPTED),
        (Version::Tls10, &TLS10_ACCEPTED),
        (Version::Tls11, &TLS11_ACCEPTED),
    ] {
        if a.accepts(v) {
            out.push(Finding::new(
                def,
                format!("{at} accepts {}{}", v.label(), downgrade_note(a, v)),
            ));
        }
    }
    for p in &a.legacy {
        match p.outcome {
            LegacyOutcome::Higher { version } => out.push(Finding::new(
                &VERSION_NEGOTIATION_BROKEN,
                format!(
                    "{at} answered a {} hello with version {version:#06x} instead of alert protocol_version",
                    p.offered.label()
                ),
            )),
            LegacyOutcome::Inconclusive { reason } => out.push(Finding::new(
                &PROBE_INCONCLUSIVE,
                format!("{at}: no answer to the {} hello ({reason})", p.offered.label()),
            )),
            _ => {}
        }
    }
    for (label, m) in [("tls1.3", &a.tls13), ("tls1.2", &a.tls12)] {
        if m.inconclusive() {
            out.push(Finding::new(
                &PROBE_INCONCLUSIVE,
                format!("{at}: no answer to the {label} handshake"),
            ));
        }
    }
    let legacy12 = a
        .tls12_legacy
        .is_some_and(|p| matches!(p.outcome, LegacyOutcome::Accepted { .. }));
    // TLS 1.3 that only the hand-built hello got, with a suite browsers offer (the server
    // refused rustls for another reason, an RSASSA-PSS key): a modern version in use. With
    // only a CCM suite (TLS_AES_128_CCM_SHA256, TLS_AES_128_CCM_8_SHA256), which neither
    // rustls nor current browsers offer, no client completes it.
    let tls13_suite = a.tls13_legacy.and_then(|p| match p.outcome {
        LegacyOutcome::Accepted { cipher, .. } => Some(cipher),
        _ => None,
    });
    let tls13_usable =
        a.tls13.accepted || tls13_suite.is_some_and(|c| c.is_some_and(|c| c <= 0x1303));
    if !a.tls12.accepted
        && !tls13_usable
        && !legacy12
        && !a.tls12.inconclusive()
        && !a.tls13.inconclusive()
    {
        let why = |m: &crate::tls::versions::Modern| match (m.alert, m.reason) {
            (Some(code), _) => format!("alert {code}"),
            (None, Some(r)) => r.to_owned(),
            _ => "refused".to_owned(),
        };
        let ccm = match tls13_suite {
            Some(c) => format!(
                "; TLS 1.3 is offered only with {}, which neither rustls nor current browsers offer",
                c.map_or("an unknown suite".to_owned(), |c| format!("{c:#06x}"))
            ),
            None => String::new(),
        };
        out.push(Finding::new(
            &NO_MODERN_TLS,
            format!(
                "{at}: neither TLS 1.2 ({}) nor TLS 1.3 ({}) completes{ccm}",
                why(&a.tls12),
                why(&a.tls13)
            ),
        ));
    }
    let suite = a.tls12_legacy.and_then(|p| match p.outcome {
        LegacyOutcome::Accepted { cipher, .. } => cipher,
        _ => None,
    });
    // A suite rustls offers: TLS 1.2 is spoken with a modern suite, and rustls failed for
    // another reason (an RSASSA-PSS key, an ALPN protocol it never offered), which the HTTP
    // probes' errors name. Not a legacy-suite server.
    if legacy12 && !a.tls12.accepted && !suite.is_some_and(crate::tls::legacy::rustls_offers) {
        out.push(Finding::new(
            &TLS12_LEGACY_SUITES_ONLY,
            format!(
                "{at}: TLS 1.2 only with suites neither rustls nor current browsers offer (chose {})",
                suite.map_or("?".to_owned(), |s| format!(
                    "{s:#06x}, {}",
                    crate::tls::legacy::legacy_suite_kind(s)
                ))
            ),
        ));
    }
    if !tls13_usable && !a.tls13.inconclusive() {
        let detail = match tls13_suite {
            Some(c) => format!(
                "{at} offers TLS 1.3 only with {}, which browsers do not offer",
                c.map_or("an unknown suite".to_owned(), |c| format!("{c:#06x}"))
            ),
            None => format!("{at} does not offer TLS 1.3"),
        };
        out.push(Finding::new(&TLS13_UNSUPPORTED, detail));
    }
}

fn evaluate(input: &CheckInput<'_>) -> Evaluation {
    let evidence: &VersionsEvidence = match input.tls_versions() {
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
    if evidence.addresses.is_empty() {
        return Evaluation::bare(Judgement::Error("no_address"));
    }
    // An address that took no TCP connection says nothing about its versions: it is not judged
    // (the outage is health's and tls_cert's, CHECKS.md §0.3), and when no address took one
    // the check is an error. (Silence after connecting is §10's `probe_inconclusive`.)
    let judged: Vec<&AddressVersions> = evidence
        .addresses
        .iter()
        .filter(|a| !a.unreachable())
        .collect();
    if judged.is_empty() {
        return Evaluation::bare(Judgement::Error("unreachable"));
    }
    // Connected but never answered either modern handshake, anywhere: nothing to judge either
    // (tls_cert reports the dead TLS service).
    if judged
        .iter()
        .all(|a| a.tls13.inconclusive() && a.tls12.inconclusive())
    {
        return Evaluation::bare(Judgement::Error("no_answer"));
    }
    let mut findings = Vec::new();
    for a in &evidence.addresses {
        if judged.iter().any(|j| std::ptr::eq(*j, a)) {
            judge_address(a, evidence.port, &mut findings);
        } else {
            findings.push(Finding::new(
                &PROBE_INCONCLUSIVE,
                format!(
                    "{}: no connection for the TLS 1.3 ({}) or TLS 1.2 ({}) handshake; not judged",
                    std::net::SocketAddr::new(a.address, evidence.port),
                    a.tls13.reason.unwrap_or("no answer"),
                    a.tls12.reason.unwrap_or("no answer")
                ),
            ));
        }
    }
    merge_same_findings(&mut findings);
    Evaluation::new(Judgement::Evaluated(findings), measure(evidence, &judged))
}

/// The gauges over the judged addresses only: one that took no connection says nothing
/// (a blackholed backend would otherwise turn every version it was asked about into -1).
fn measure(e: &VersionsEvidence, judged: &[&AddressVersions]) -> Vec<Measurement> {
    let mut versions = vec![
        Version::Ssl3,
        Version::Tls10,
        Version::Tls11,
        Version::Tls12,
        Version::Tls13,
    ];
    if e.sslv2_probed {
        versions.insert(0, Version::Ssl2);
    }
    let mut m = Vec::new();
    for v in versions {
        let value = if judged.iter().any(|a| a.accepts(v)) {
            1.0
        } else if judged.iter().any(|a| a.inconclusive(v)) {
            -1.0
        } else {
            0.0
        };
        m.push(Measurement::labelled(&ACCEPTED, [v.label()], value));
        if !matches!(v, Version::Tls12 | Version::Tls13) {
            let code = judged
                .first()
                .and_then(|a| a.legacy(v))
                .map_or(0, |p| p.outcome.alert_code());
            m.push(Measurement::labelled(
                &ALERT_CODE,
                [v.label()],
                f64::from(code),
            ));
        }
    }
    for (label, pick) in [("tls1.3", true), ("tls1.2", false)] {
        // A completed handshake names its cipher; one that failed after the certificate
        // does not.
        let modern = || {
            judged
                .iter()
                .map(|a| if pick { &a.tls13 } else { &a.tls12 })
        };
        let accepted = modern()
            .find(|m| m.accepted && m.cipher.is_some())
            .or_else(|| modern().find(|m| m.accepted));
        if let Some(modern) = accepted {
            m.push(Measurement::labelled(
                &NEGOTIATED,
                [
                    label.to_owned(),
                    modern.cipher.unwrap_or("unknown").to_owned(),
                    modern.group.clone().unwrap_or_else(|| "unknown".into()),
                ],
                1.0,
            ));
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-made evidence: the sentinel's last byte names the newer version (RFC 8446 §4.1.3);
    /// no sentinel, no note.
    #[test]
    fn the_downgrade_sentinel_names_what_else_the_server_speaks() {
        use crate::tls::legacy::Probed;
        use crate::tls::versions::Modern;
        let refused = Modern {
            accepted: false,
            cipher: None,
            group: None,
            alert: Some(70),
            reason: None,
        };
        let accepting = |offered: Version, sentinel: Option<u8>| AddressVersions {
            address: [127, 0, 0, 1].into(),
            tls13: refused.clone(),
            tls12: refused.clone(),
            tls12_legacy: None,
            tls13_legacy: None,
            legacy: vec![Probed {
                offered,
                outcome: LegacyOutcome::Accepted {
                    cipher: Some(0xc014),
                    downgrade_sentinel: sentinel,
                },
                retried: false,
            }],
        };
        let note = |v: Version, sentinel: Option<u8>| {
            let mut out = Vec::new();
            judge_address(&accepting(v, sentinel), 443, &mut out);
            out.into_iter().next().unwrap().evidence
        };
        assert_eq!(
            note(Version::Tls11, Some(0x00)),
            "127.0.0.1:443 accepts tls1.1 (the ServerHello carries the DOWNGRD sentinel: it \
             also speaks TLS 1.2 or 1.3)"
        );
        assert_eq!(
            note(Version::Ssl3, Some(0x01)),
            "127.0.0.1:443 accepts ssl3 (the ServerHello carries the DOWNGRD sentinel: it also \
             speaks TLS 1.3)"
        );
        assert_eq!(note(Version::Tls10, None), "127.0.0.1:443 accepts tls1.0");
    }

    #[test]
    fn same_findings_merge_and_every_unanswered_hello_stays_named() {
        let mut f = vec![
            Finding::new(
                &PROBE_INCONCLUSIVE,
                "127.0.0.1:443: no answer to the tls1.0 hello",
            ),
            Finding::new(&TLS13_UNSUPPORTED, "127.0.0.1:443 does not offer TLS 1.3"),
            Finding::new(
                &PROBE_INCONCLUSIVE,
                "127.0.0.1:443: no answer to the tls1.1 hello",
            ),
        ];
        merge_same_findings(&mut f);
        assert_eq!(f.len(), 2);
        assert_eq!(
            f[0].evidence,
            "127.0.0.1:443: no answer to the tls1.0 hello; 127.0.0.1:443: no answer to the tls1.1 hello"
        );
        assert_eq!(f[1].id, "tls13_unsupported");
    }
}
