//! `dns` (CHECKS.md §16): the host resolves; CAA presence is reported and checked against the
//! CA of the leaf the `tls` probe saw last (read from the evidence set, never waited for).

use std::time::Duration;

use super::{CheckDef, CheckInput, Evaluation};
use crate::dns::{Caa, CaaRecord, DnsEvidence, FamilyLookup};
use crate::measure::{GaugeDef, Measurement};
use crate::probe::ProbeKind;
use crate::tls::inspect::CertDetails;
use crate::verdict::{Finding, FindingDef, Judgement, Severity};

/// Resolution slower than this raises `slow_resolution` (CHECKS.md §16).
pub const SLOW_RESOLUTION: Duration = Duration::from_secs(1);

/// Options of `dns`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct DnsOptions {
    /// Resolve the public name even when the target pins an address (`resolve:`); by default
    /// such targets skip dns with reason `address_pinned`.
    pub when_pinned: bool,
}

const NXDOMAIN: FindingDef = FindingDef::new("nxdomain", Severity::Critical);
const RESOLUTION_FAILED: FindingDef = FindingDef::new("resolution_failed", Severity::Critical);
const NO_ADDRESS: FindingDef = FindingDef::new("no_address", Severity::Critical);
const CAA_UNKNOWN_CRITICAL: FindingDef = FindingDef::new("caa_unknown_critical", Severity::Medium);
const CAA_BLOCKS_CURRENT_CA: FindingDef =
    FindingDef::new("caa_blocks_current_ca", Severity::Medium);
const CAA_LOOKUP_FAILED: FindingDef = FindingDef::new("caa_lookup_failed", Severity::Low);
const CAA_MISSING: FindingDef = FindingDef::new("caa_missing", Severity::Info);
const NO_IPV6: FindingDef = FindingDef::new("no_ipv6", Severity::Info);
const NO_IPV4: FindingDef = FindingDef::new("no_ipv4", Severity::Info);
const SLOW_RESOLUTION_F: FindingDef = FindingDef::new("slow_resolution", Severity::Info);

static RESOLVE_SUCCESS: GaugeDef = GaugeDef {
    name: "dns_resolve_success",
    help: "1 if the host resolved to at least one address",
    labels: &[],
};
static RESOLVE_DURATION: GaugeDef = GaugeDef {
    name: "dns_resolve_duration_seconds",
    help: "A and AAAA resolution time (the slower family; they run concurrently), uncached",
    labels: &[],
};
static RECORDS: GaugeDef = GaugeDef {
    name: "dns_records",
    help: "Addresses per family (ipv4, ipv6)",
    labels: &["family"],
};
static CNAME_CHAIN: GaugeDef = GaugeDef {
    name: "dns_cname_chain_length",
    help: "CNAME records followed to reach the addresses",
    labels: &[],
};
static MIN_TTL: GaugeDef = GaugeDef {
    name: "dns_min_ttl_seconds",
    help: "Smallest TTL among the answer records",
    labels: &[],
};
static CAA_PRESENT: GaugeDef = GaugeDef {
    name: "dns_caa_present",
    help: "1 if a CAA RRset applies to the host (on it or an ancestor)",
    labels: &[],
};
static CAA_ISSUERS: GaugeDef = GaugeDef {
    name: "dns_caa_issuers",
    help: "CAs the relevant CAA RRset authorises (issue and issuewild records naming a CA)",
    labels: &[],
};
static CAA_IODEF: GaugeDef = GaugeDef {
    name: "dns_caa_iodef_present",
    help: "1 if the relevant CAA RRset has an iodef record",
    labels: &[],
};
static CAA_DEPTH: GaugeDef = GaugeDef {
    name: "dns_caa_relevant_depth",
    help: "Labels climbed from the host to the relevant CAA RRset (0 = on the host)",
    labels: &[],
};

/// The check.
pub static CHECK: CheckDef = CheckDef {
    id: "dns",
    summary: "the host resolves; CAA allows the current CA",
    inputs: &[ProbeKind::Dns],
    findings: &[
        NXDOMAIN,
        RESOLUTION_FAILED,
        NO_ADDRESS,
        CAA_UNKNOWN_CRITICAL,
        CAA_BLOCKS_CURRENT_CA,
        CAA_LOOKUP_FAILED,
        CAA_MISSING,
        NO_IPV6,
        NO_IPV4,
        SLOW_RESOLUTION_F,
    ],
    gauges: &[
        &RESOLVE_SUCCESS,
        &RESOLVE_DURATION,
        &RECORDS,
        &CNAME_CHAIN,
        &MIN_TTL,
        &CAA_PRESENT,
        &CAA_ISSUERS,
        &CAA_IODEF,
        &CAA_DEPTH,
    ],
    opt_in: false,
    scans_cycle: false,
    also_reads: &[ProbeKind::Tls],
    evaluate,
};

/// CAA tags CAs understand (RFC 8659 §4.2–4.4, RFC 8657, CA/B BR 3.2.2.8, BIMI `issuevmc`).
const KNOWN_TAGS: &[&str] = &[
    "issue",
    "issuewild",
    "iodef",
    "issuemail",
    "issuevmc",
    "contactemail",
    "contactphone",
];

/// The CAA issuer domains of a leaf's CA, from its issuer name (CHECKS.md §16 mapping);
/// empty when the CA is not one we know, and then CAA is not judged.
///
/// Beyond CHECKS.md's one domain per CA, each CA's other documented identifiers count too:
/// domains that still name a CA's older brand (`comodoca.com`, `symantec.com`, `geotrust.com` …)
/// keep authorising it, so listing only the new one would report `caa_blocks_current_ca` on a
/// renewal that succeeds. DigiCert's brands (GeoTrust, RapidSSL, Thawte) issue as DigiCert.
pub fn ca_domains(leaf: &CertDetails) -> &'static [&'static str] {
    ca_domains_of_issuer(&leaf.issuer)
}

fn ca_domains_of_issuer(issuer: &str) -> &'static [&'static str] {
    let issuer = issuer.to_ascii_lowercase();
    let any = |names: &[&str]| names.iter().any(|n| issuer.contains(n));
    if any(&["let's encrypt", "lets encrypt"]) {
        &["letsencrypt.org"]
    } else if issuer.contains("google trust services") {
        &["pki.goog"]
    } else if any(&["digicert", "geotrust", "rapidssl", "thawte"]) {
        // DigiCert's CAA documentation.
        &[
            "digicert.com",
            "www.digicert.com",
            "digicert.ne.jp",
            "cybertrust.ne.jp",
            "symantec.com",
            "thawte.com",
            "geotrust.com",
            "rapidssl.com",
            "digitalcertvalidation.com",
        ]
    } else if any(&["sectigo", "zerossl", "comodo", "usertrust"]) {
        // Sectigo's CAA documentation (ZeroSSL issues from Sectigo).
        &[
            "sectigo.com",
            "comodoca.com",
            "comodo.com",
            "usertrust.com",
            "trust-provider.com",
        ]
    } else if issuer.contains("globalsign") {
        &["globalsign.com"]
    } else if issuer.contains("amazon") {
        &[
            "amazon.com",
            "amazontrust.com",
            "awstrust.com",
            "amazonaws.com",
        ]
    } else {
        &[]
    }
}

/// Whether `records` authorise one of `domains` for a name that is (or is not) a wildcard
/// (RFC 8659 §4.2, §4.3: issuewild, when present, governs wildcard names; issue otherwise).
pub fn authorises(records: &[CaaRecord], domains: &[&str], wildcard: bool) -> bool {
    let of = |tag: &'static str| -> Vec<&CaaRecord> {
        records.iter().filter(|r| r.tag == tag).collect()
    };
    let wild = of("issuewild");
    let relevant = if wildcard && !wild.is_empty() {
        wild
    } else {
        of("issue")
    };
    if relevant.is_empty() {
        return true; // no issue property: any CA may issue
    }
    relevant
        .iter()
        .filter_map(|r| r.issuer())
        .any(|d| domains.contains(&d.as_str()))
}

/// The CAA properties that do not authorise one of `domains` for a leaf with SAN dNSNames
/// `names` (CHECKS.md §16 `caa_blocks_current_ca`): `issue` when a plain name is blocked,
/// `issuewild` (or `issue`, absent any issuewild, RFC 8659 §4.3) when a wildcard name is.
/// A leaf for `example.com` and `*.example.com` needs both.
pub fn blocking_properties(
    records: &[CaaRecord],
    domains: &[&str],
    names: &[String],
) -> Vec<&'static str> {
    let wildcard = |n: &String| n.starts_with("*.");
    let mut out = Vec::new();
    if names.iter().any(|n| !wildcard(n)) && !authorises(records, domains, false) {
        out.push("issue");
    }
    if names.iter().any(wildcard) && !authorises(records, domains, true) {
        let wild = records.iter().any(|r| r.tag == "issuewild");
        let tag = if wild { "issuewild" } else { "issue" };
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    out
}

fn family_failure(name: &str, f: &FamilyLookup) -> Option<String> {
    f.error.map(|e| {
        format!(
            "{name}: {e}{}",
            f.detail
                .as_ref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        )
    })
}

fn evaluate(input: &CheckInput<'_>) -> Evaluation {
    let e: &DnsEvidence = match input.dns() {
        Ok(e) => e,
        Err(j) => return Evaluation::bare(j),
    };
    if let Some(reason) = e.skipped {
        return Evaluation::bare(Judgement::Skipped(reason));
    }
    let (Some(v4), Some(v6)) = (&e.v4, &e.v6) else {
        return Evaluation::bare(Judgement::Error("no_evidence"));
    };
    // The configured nameserver is an authoritative server that does not recurse: nothing
    // it says about other zones is the public answer.
    let referral = |f: &FamilyLookup| f.error == Some("referral");
    if referral(v4)
        || referral(v6)
        || matches!(
            e.caa,
            Caa::Failed {
                reason: "referral",
                ..
            }
        )
    {
        return Evaluation::bare(Judgement::Error("resolver_not_recursive"));
    }
    let mut findings = Vec::new();
    let host = &e.host;
    // A name without address that is a CNAME: the evidence names the chain and its end.
    let dangling = |f: &FamilyLookup, what: &str| match f.cname_chain.last() {
        Some(end) => format!(
            "{host} is a CNAME ({host} → {}); {end} {what}",
            f.cname_chain.join(" → ")
        ),
        None => format!("{host}: {what}"),
    };
    if v4.error == Some("nxdomain") && v6.error == Some("nxdomain") {
        findings.push(Finding::new(
            &NXDOMAIN,
            dangling(v4, "does not exist (NXDOMAIN)"),
        ));
    } else {
        let failures: Vec<String> = [("A", v4), ("AAAA", v6)]
            .iter()
            .filter(|(_, f)| f.error.is_some_and(|r| r != "nxdomain"))
            .filter_map(|(n, f)| family_failure(n, f))
            .collect();
        let (n4, n6) = (v4.addresses.len(), v6.addresses.len());
        // The host resolves when either family does: an outage is no address at all. A
        // family whose lookup failed (authoritative servers that SERVFAIL or drop AAAA) is a
        // missing family, its failure kept as the evidence.
        let missing = |family: &str, f: &FamilyLookup| match f.error {
            Some(e) if e != "nxdomain" => format!(
                "{host} has no {family} record: the lookup failed ({})",
                family_failure(family, f).unwrap_or_else(|| e.to_owned())
            ),
            // (An NXDOMAIN for one type only is a broken server, but the family is missing.)
            _ => format!("{host} has no {family} record"),
        };
        if n4 == 0 && n6 == 0 {
            if failures.is_empty() {
                findings.push(Finding::new(
                    &NO_ADDRESS,
                    dangling(v4, "has no A or AAAA records (NOERROR)"),
                ));
            } else {
                findings.push(Finding::new(
                    &RESOLUTION_FAILED,
                    format!("{host}: {}", failures.join("; ")),
                ));
            }
        } else if n6 == 0 {
            findings.push(Finding::new(&NO_IPV6, missing("AAAA", v6)));
        } else if n4 == 0 {
            findings.push(Finding::new(&NO_IPV4, missing("A", v4)));
        }
    }
    if e.duration > SLOW_RESOLUTION {
        findings.push(Finding::new(
            &SLOW_RESOLUTION_F,
            format!("resolution took {:.3} s", e.duration.as_secs_f64()),
        ));
    }
    match &e.caa {
        Caa::Found { at, records, .. } => {
            for r in records {
                if r.critical && !KNOWN_TAGS.contains(&r.tag.as_str()) {
                    findings.push(Finding::new(
                        &CAA_UNKNOWN_CRITICAL,
                        format!(
                            "{at}: CAA 128 {} \"{}\": CAs must not issue",
                            r.tag, r.value
                        ),
                    ));
                }
            }
            // The leaf the tls probe saw last, if any (never waited for).
            let leaf = input
                .evidence
                .tls()
                .and_then(|t| t.addresses.iter().find_map(|a| a.leaf()));
            if let Some(leaf) = leaf {
                let domains = ca_domains(leaf);
                let blocking = blocking_properties(records, domains, &leaf.dns_names);
                if !domains.is_empty() && !blocking.is_empty() {
                    let tag = blocking.join(" and ");
                    findings.push(Finding::new(
                        &CAA_BLOCKS_CURRENT_CA,
                        format!(
                            "{at}: CAA {tag} does not authorise {} (issuer of the current leaf: {})",
                            domains.join(" or "),
                            leaf.issuer
                        ),
                    ));
                }
            }
        }
        Caa::Missing => findings.push(Finding::new(
            &CAA_MISSING,
            format!("no CAA record on {host} or its ancestors: any CA may issue"),
        )),
        Caa::Failed { reason, at } => findings.push(Finding::new(
            &CAA_LOOKUP_FAILED,
            format!("CAA query for {at}: {reason} (CAs must not issue while it fails)"),
        )),
        Caa::NotQueried => {}
    }
    Evaluation::new(Judgement::Evaluated(findings), measure(e, v4, v6))
}

fn measure(e: &DnsEvidence, v4: &FamilyLookup, v6: &FamilyLookup) -> Vec<Measurement> {
    let resolved = !v4.addresses.is_empty() || !v6.addresses.is_empty();
    let mut m = vec![
        Measurement::flag(&RESOLVE_SUCCESS, resolved),
        Measurement::new(&RESOLVE_DURATION, e.duration.as_secs_f64()),
        Measurement::labelled(&RECORDS, ["ipv4"], v4.addresses.len() as f64),
        Measurement::labelled(&RECORDS, ["ipv6"], v6.addresses.len() as f64),
        Measurement::new(
            &CNAME_CHAIN,
            v4.cname_chain.len().max(v6.cname_chain.len()) as f64,
        ),
    ];
    if let Some(ttl) = [v4.min_ttl, v6.min_ttl].into_iter().flatten().min() {
        m.push(Measurement::new(&MIN_TTL, f64::from(ttl)));
    }
    match &e.caa {
        Caa::Found { depth, records, .. } => {
            let mut issuers: Vec<String> = records
                .iter()
                .filter(|r| r.tag == "issue" || r.tag == "issuewild")
                .filter_map(CaaRecord::issuer)
                .collect();
            issuers.sort();
            issuers.dedup();
            m.push(Measurement::flag(&CAA_PRESENT, true));
            m.push(Measurement::new(&CAA_ISSUERS, issuers.len() as f64));
            m.push(Measurement::flag(
                &CAA_IODEF,
                records.iter().any(|r| r.tag == "iodef"),
            ));
            m.push(Measurement::new(&CAA_DEPTH, f64::from(*depth)));
        }
        Caa::Missing => {
            m.push(Measurement::flag(&CAA_PRESENT, false));
            m.push(Measurement::new(&CAA_ISSUERS, 0.0));
            m.push(Measurement::flag(&CAA_IODEF, false));
        }
        Caa::Failed { .. } | Caa::NotQueried => {}
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(tag: &str, value: &str) -> CaaRecord {
        CaaRecord {
            critical: false,
            tag: tag.into(),
            value: value.into(),
        }
    }

    #[test]
    fn issue_and_issuewild_rules() {
        let le = &["letsencrypt.org"][..];
        assert!(authorises(&[rec("issue", "letsencrypt.org")], le, false));
        assert!(!authorises(&[rec("issue", "pki.goog")], le, false));
        assert!(!authorises(&[rec("issue", ";")], le, false));
        assert!(authorises(
            &[rec("iodef", "mailto:x@example.com")],
            le,
            false
        ));
        // issuewild governs wildcard leaves when present; issue otherwise.
        let recs = [rec("issue", "letsencrypt.org"), rec("issuewild", ";")];
        assert!(authorises(&recs, le, false));
        assert!(!authorises(&recs, le, true));
        assert!(authorises(&[rec("issue", "letsencrypt.org")], le, true));
    }

    #[test]
    fn a_ca_is_authorised_by_any_of_its_documented_caa_domains() {
        let names = vec!["shop.example".to_owned()];
        let sectigo = ca_domains_of_issuer(
            "C=GB, O=Sectigo Limited, CN=Sectigo RSA Domain Validation Secure Server CA",
        );
        assert!(blocking_properties(&[rec("issue", "comodoca.com")], sectigo, &names).is_empty());
        let rapidssl = ca_domains_of_issuer(
            "C=US, O=DigiCert Inc, CN=RapidSSL Global TLS RSA4096 SHA256 2022 CA1",
        );
        assert!(blocking_properties(&[rec("issue", "geotrust.com")], rapidssl, &names).is_empty());
        assert_eq!(
            blocking_properties(&[rec("issue", "letsencrypt.org")], rapidssl, &names),
            ["issue"]
        );
        assert!(ca_domains_of_issuer("CN=Some Private CA").is_empty());
    }

    #[test]
    fn a_leaf_with_plain_and_wildcard_names_needs_issue_and_issuewild() {
        let le = &["letsencrypt.org"][..];
        let names = |n: &[&str]| -> Vec<String> { n.iter().map(|s| (*s).to_owned()).collect() };
        let mixed = names(&["example.com", "*.example.com"]);
        // issuewild allows the wildcard, issue forbids the plain name.
        let recs = [
            rec("issue", "pki.goog"),
            rec("issuewild", "letsencrypt.org"),
        ];
        assert_eq!(blocking_properties(&recs, le, &mixed), ["issue"]);
        assert!(blocking_properties(&recs, le, &names(&["*.example.com"])).is_empty());
        // The reverse: issue allows, issuewild forbids.
        let recs = [rec("issue", "letsencrypt.org"), rec("issuewild", ";")];
        assert_eq!(blocking_properties(&recs, le, &mixed), ["issuewild"]);
        assert!(blocking_properties(&recs, le, &names(&["example.com"])).is_empty());
        // No issuewild: issue governs both (RFC 8659 §4.3), named once.
        let recs = [rec("issue", "pki.goog")];
        assert_eq!(blocking_properties(&recs, le, &mixed), ["issue"]);
        let recs = [rec("issue", "letsencrypt.org")];
        assert!(blocking_properties(&recs, le, &mixed).is_empty());
        // Both forbid.
        let recs = [rec("issue", ";"), rec("issuewild", ";")];
        assert_eq!(
            blocking_properties(&recs, le, &mixed),
            ["issue", "issuewild"]
        );
    }
}
