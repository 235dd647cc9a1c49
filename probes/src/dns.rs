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

/// CNAME links kept (and, for a name that does not resolve, looked up) at most. A CAA RRset
/// is kept whole: the DNS message that carried it (at most 64 KiB) bounds it, and a record
/// dropped could be the critical one or the current CA's `issue`.
const MAX_CNAME: usize = 16;

/// A TTL as RFC 2181 §8 reads it: a value with the most significant bit set is treated as 0.
fn ttl(raw: u32) -> u32 {
    if raw > i32::MAX as u32 { 0 } else { raw }
}

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
    /// For `issue` / `issuewild`: the issuer domain, lower-cased; `None` for `";"` (no CA)
    /// and for a value that is not an issuer-domain-name (RFC 8659 §4.2: letters, digits and
    /// inner hyphens in dot-separated labels), which authorises no CA either.
    pub fn issuer(&self) -> Option<String> {
        let domain = self.value.split(';').next().unwrap_or("").trim();
        let domain = domain.strip_suffix('.').unwrap_or(domain);
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        (!domain.is_empty() && domain.split('.').all(label_ok)).then(|| domain.to_ascii_lowercase())
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
                let t = ttl(r.ttl);
                out.min_ttl = Some(out.min_ttl.map_or(t, |m| m.min(t)));
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

/// The CNAME chain from `host`, one CNAME query per link (at most [`MAX_CNAME`]), and whether
/// it loops. Asked only for a host that has no address, so it never costs a resolving target.
async fn cname_walk(
    resolver: &TokioResolver,
    host: &str,
    deadline: Instant,
) -> (Vec<String>, bool) {
    let mut chain: Vec<String> = Vec::new();
    let mut current = host.to_owned();
    while chain.len() < MAX_CNAME {
        let Ok(name) = Name::from_ascii(format!("{current}.")) else {
            break;
        };
        let Ok(Ok(lookup)) = timeout_at(deadline, resolver.lookup(name, RecordType::CNAME)).await
        else {
            break;
        };
        let Some(next) = lookup.answers().iter().find_map(|r| match &r.data {
            RData::CNAME(c) => Some(c.0.to_ascii().trim_end_matches('.').to_ascii_lowercase()),
            _ => None,
        }) else {
            break;
        };
        let looped = next == host.to_ascii_lowercase() || chain.contains(&next);
        chain.push(next.clone());
        if looped {
            return (chain, true);
        }
        current = next;
    }
    (chain, false)
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
    let (mut v4, mut v6) = tokio::join!(
        family(resolver, &name, &host, RecordType::A, cx.deadline),
        family(resolver, &name, &host, RecordType::AAAA, cx.deadline)
    );
    evidence.duration = v4.duration.max(v6.duration);
    let resolved = !v4.addresses.is_empty() || !v6.addresses.is_empty();
    let empty = |f: &FamilyLookup| matches!(f.error, None | Some("nxdomain"));
    if !resolved && empty(&v4) && empty(&v6) {
        // No address: name the CNAME chain that led nowhere (the resolver's error names
        // only the host), and tell a loop, which a CA's resolver fails on, from an end.
        let (chain, looped) = cname_walk(resolver, &host, cx.deadline).await;
        if looped {
            v4.error = Some("cname_loop");
            v4.detail = Some(format!("{host} → {}", chain.join(" → ")));
            // A CA's resolver fails on the loop too: its CAA lookup cannot succeed.
            evidence.caa = Caa::Failed {
                reason: "cname_loop",
                at: host.clone(),
            };
        }
        v6.cname_chain.clone_from(&chain);
        v4.cname_chain = chain;
    }
    let nxdomain = v4.error == Some("nxdomain") && v6.error == Some("nxdomain");
    if !nxdomain && !matches!(evidence.caa, Caa::Failed { .. }) {
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
        assert_eq!(r("ca.example.").issuer().as_deref(), Some("ca.example"));
        for malformed in [
            "%%%not a domain%%%",
            "\u{fffd}\u{fffd}",
            "-ca.example",
            "ca..example",
        ] {
            assert_eq!(r(malformed).issuer(), None, "{malformed}");
        }
    }

    #[test]
    fn a_ttl_with_the_top_bit_set_is_zero() {
        assert_eq!(ttl(300), 300);
        assert_eq!(ttl(i32::MAX as u32), i32::MAX as u32);
        assert_eq!(ttl(0x8000_0000), 0);
    }
}
