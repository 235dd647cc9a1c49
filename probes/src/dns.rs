//! The `dns` probe (CHECKS.md §16): A and AAAA for the host, each timed, with the CNAME chain
//! and TTLs; then CAA (RFC 8659 §3), climbing from the host towards the root until an RRset is
//! found. Queries go through the resolver's uncached twin ([`crate::resolve::Resolver::uncached`]):
//! the probe measures DNS, not prodprobe's cache or `/etc/hosts`.

use std::net::IpAddr;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use serde::Serialize;
use tokio::time::{Instant, timeout_at};
use url::Host;

use crate::context::ProbeContext;
use crate::evidence::Evidence;
use crate::probe::Outcome;
use crate::resolve::classify;
use crate::target::Target;

/// CAA records kept at most per RRset (bounded evidence).
const MAX_CAA: usize = 32;
/// CNAME links kept at most.
const MAX_CNAME: usize = 16;

/// One family's lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FamilyLookup {
    /// `None` on success (addresses may still be empty: NOERROR without records); else the
    /// failure: `nxdomain`, `servfail`, `refused`, `timeout` or `dns_error`.
    pub error: Option<&'static str>,
    /// Human-readable detail of the failure.
    pub detail: Option<String>,
    /// The addresses.
    pub addresses: Vec<IpAddr>,
    /// CNAME targets followed, in order.
    pub cname_chain: Vec<String>,
    /// Smallest TTL among the answer records.
    pub min_ttl: Option<u32>,
    /// Query time.
    #[serde(skip)]
    pub duration: Duration,
}

/// One CAA record (RFC 8659 §4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaaRecord {
    /// Issuer Critical flag (bit 128 of the flags octet).
    pub critical: bool,
    /// Property tag, lower-cased.
    pub tag: String,
    /// Value, lossily decoded, truncated to 255 bytes.
    pub value: String,
}

impl CaaRecord {
    /// For `issue` / `issuewild`: the issuer domain, lower-cased; `None` for `";"` (no CA).
    pub fn issuer(&self) -> Option<String> {
        let domain = self.value.split(';').next().unwrap_or("").trim();
        (!domain.is_empty()).then(|| domain.trim_end_matches('.').to_ascii_lowercase())
    }
}

/// The CAA lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Caa {
    /// The relevant RRset.
    Found {
        /// Where it was found.
        at: String,
        /// Labels climbed from the host (0 = at the host).
        depth: u32,
        /// The records.
        records: Vec<CaaRecord>,
    },
    /// No CAA RRset on the host or any ancestor.
    Missing,
    /// A CAA query failed (SERVFAIL, timeout …): issuance may be blocked.
    Failed {
        /// Low-cardinality reason.
        reason: &'static str,
        /// At which name.
        at: String,
    },
    /// Not queried (resolution failed).
    NotQueried,
}

/// Evidence of the `dns` probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsEvidence {
    /// The host.
    pub host: String,
    /// Why nothing was resolved: `ip_address` (the target is an IP literal),
    /// `address_pinned` (`resolve:` set and dns not enabled for it) or `localhost` (`localhost`
    /// and `*.localhost` never reach DNS, RFC 6761 §6.3: no record or CAA rule applies).
    pub skipped: Option<&'static str>,
    /// A.
    pub v4: Option<FamilyLookup>,
    /// AAAA.
    pub v6: Option<FamilyLookup>,
    /// CAA.
    pub caa: Caa,
    /// Resolution time: the slower of the two families (they run concurrently).
    #[serde(skip)]
    pub duration: Duration,
}

impl DnsEvidence {
    /// Every address found, IPv4 first.
    pub fn addresses(&self) -> impl Iterator<Item = &IpAddr> {
        self.v4
            .iter()
            .chain(self.v6.iter())
            .flat_map(|f| f.addresses.iter())
    }
}

async fn family(
    resolver: &TokioResolver,
    name: &Name,
    host: &str,
    rtype: RecordType,
    deadline: Instant,
) -> FamilyLookup {
    let t0 = Instant::now();
    let looked_up = timeout_at(deadline, resolver.lookup(name.clone(), rtype)).await;
    let mut out = FamilyLookup {
        error: None,
        detail: None,
        addresses: Vec::new(),
        cname_chain: Vec::new(),
        min_ttl: None,
        duration: Duration::ZERO,
    };
    match looked_up {
        Ok(Ok(lookup)) => {
            for r in lookup.answers() {
                out.min_ttl = Some(out.min_ttl.map_or(r.ttl, |t| t.min(r.ttl)));
                match &r.data {
                    RData::A(a) if rtype == RecordType::A => out.addresses.push(IpAddr::V4(a.0)),
                    RData::AAAA(a) if rtype == RecordType::AAAA => {
                        out.addresses.push(IpAddr::V6(a.0));
                    }
                    RData::CNAME(c) if out.cname_chain.len() < MAX_CNAME => {
                        out.cname_chain
                            .push(c.0.to_ascii().trim_end_matches('.').to_owned());
                    }
                    _ => {}
                }
            }
        }
        Ok(Err(e)) => {
            let f = classify(host, &e);
            // NOERROR without records is an empty family, not a failure.
            if f.reason != "no_address" {
                out.error = Some(f.reason);
                out.detail = Some(f.detail);
            }
        }
        Err(_) => {
            out.error = Some("timeout");
            out.detail = Some(format!("resolving {host} timed out"));
        }
    }
    out.duration = t0.elapsed();
    out
}

/// RFC 8659 §3: the host's CAA RRset, else its parent's, …, up to but not including the root.
async fn caa(resolver: &TokioResolver, host: &str, deadline: Instant) -> Caa {
    let labels: Vec<&str> = host.split('.').filter(|l| !l.is_empty()).collect();
    for depth in 0..labels.len() {
        let at = labels[depth..].join(".");
        let Ok(name) = Name::from_ascii(format!("{at}.")) else {
            return Caa::Failed {
                reason: "dns_error",
                at,
            };
        };
        match timeout_at(deadline, resolver.lookup(name, RecordType::CAA)).await {
            Ok(Ok(lookup)) => {
                let records: Vec<CaaRecord> = lookup
                    .answers()
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::CAA(c) => Some(CaaRecord {
                            critical: c.issuer_critical,
                            tag: c.tag.to_ascii_lowercase(),
                            value: crate::verdict::truncate(
                                String::from_utf8_lossy(&c.value).into_owned(),
                                255,
                            ),
                        }),
                        _ => None,
                    })
                    .take(MAX_CAA)
                    .collect();
                if !records.is_empty() {
                    return Caa::Found {
                        at,
                        depth: u32::try_from(depth).unwrap_or(u32::MAX),
                        records,
                    };
                }
            }
            Ok(Err(e)) => {
                let f = classify(host, &e);
                // NOERROR/NODATA and NXDOMAIN both mean "no RRset here": climb.
                if !matches!(f.reason, "no_address" | "nxdomain") {
                    return Caa::Failed {
                        reason: f.reason,
                        at,
                    };
                }
            }
            Err(_) => {
                return Caa::Failed {
                    reason: "timeout",
                    at,
                };
            }
        }
    }
    Caa::Missing
}

/// Runs the probe.
pub(crate) async fn run(target: &Target, cx: &ProbeContext<'_>) -> Outcome {
    let host = target.host.clone();
    let mut evidence = DnsEvidence {
        host: host.clone(),
        skipped: None,
        v4: None,
        v6: None,
        caa: Caa::NotQueried,
        duration: Duration::ZERO,
    };
    let skip = match target.url.host() {
        Some(Host::Domain(_)) if host == "localhost" || host.ends_with(".localhost") => {
            Some("localhost")
        }
        Some(Host::Domain(_)) => (target.resolve.is_some() && !target.options.dns.when_pinned)
            .then_some("address_pinned"),
        _ => Some("ip_address"),
    };
    if let Some(reason) = skip {
        evidence.skipped = Some(reason);
        return Outcome {
            evidence: Evidence::Dns(evidence),
            success: true,
            reason: None,
            measurements: Vec::new(),
        };
    }
    let resolver = cx.engine.resolver().uncached();
    let Ok(name) = Name::from_ascii(format!("{host}.")) else {
        evidence.v4 = Some(FamilyLookup {
            error: Some("dns_error"),
            detail: Some(format!("{host} is not a valid DNS name")),
            addresses: Vec::new(),
            cname_chain: Vec::new(),
            min_ttl: None,
            duration: Duration::ZERO,
        });
        return Outcome {
            evidence: Evidence::Dns(evidence),
            success: false,
            reason: Some("dns_error"),
            measurements: Vec::new(),
        };
    };
    let (v4, v6) = tokio::join!(
        family(resolver, &name, &host, RecordType::A, cx.deadline),
        family(resolver, &name, &host, RecordType::AAAA, cx.deadline)
    );
    evidence.duration = v4.duration.max(v6.duration);
    let resolved = !v4.addresses.is_empty() || !v6.addresses.is_empty();
    let nxdomain = v4.error == Some("nxdomain") && v6.error == Some("nxdomain");
    if !nxdomain {
        evidence.caa = caa(resolver, &host, cx.deadline).await;
    }
    let reason = if resolved {
        None
    } else {
        Some(v4.error.or(v6.error).unwrap_or("no_address"))
    };
    evidence.v4 = Some(v4);
    evidence.v6 = Some(v6);
    Outcome {
        evidence: Evidence::Dns(evidence),
        success: reason.is_none(),
        reason,
        measurements: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_values() {
        let r = |v: &str| CaaRecord {
            critical: false,
            tag: "issue".into(),
            value: v.into(),
        };
        assert_eq!(
            r("letsencrypt.org").issuer().as_deref(),
            Some("letsencrypt.org")
        );
        assert_eq!(
            r(" Pki.Goog; cansignhttpexchanges=yes").issuer().as_deref(),
            Some("pki.goog")
        );
        assert_eq!(r(";").issuer(), None);
        assert_eq!(r("").issuer(), None);
    }
}
