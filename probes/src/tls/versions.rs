//! The `tls_versions` probe (CHECKS.md §10): at each address (at most 4 per family) one
//! rustls handshake restricted to TLS 1.3 and one restricted to TLS 1.2 (recording cipher and
//! group), the hand-built TLS 1.2 (broad suites) and TLS 1.3 hellos when rustls's handshake
//! of that version is refused before a certificate, and the hand-built hellos for TLS 1.1,
//! TLS 1.0, SSLv3 (and SSLv2 when enabled) from
//! [`super::legacy`]. Handshakes run one after another: at most one connection is open. An
//! address that took no TCP connection for either modern handshake gets no legacy hello.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::time::{Instant, timeout_at};

use super::alert_of;
use super::legacy::{self, Outcome as LegacyOutcome, Probed, Version};
use super::probe::{addresses, connect, server_name};
use crate::context::ProbeContext;
use crate::evidence::Evidence;
use crate::fetch::TLS_TIMEOUT;
use crate::probe::Outcome;
use crate::target::Target;

/// Addresses probed per family at most. CHECKS.md §10 says "probe every resolved address"; a
/// bound is kept against hostile DNS answers (each address costs up to seven handshakes).
pub const MAX_PER_FAMILY: usize = 4;

/// A rustls handshake restricted to one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Modern {
    /// The server negotiated the version: the handshake completed, or it failed after the
    /// server's Certificate arrived (`reason` `failed_after_certificate`: a server demanding a
    /// client certificate, a signature rustls rejects).
    pub accepted: bool,
    /// Negotiated cipher suite.
    pub cipher: Option<&'static str>,
    /// Negotiated key-exchange group.
    pub group: Option<String>,
    /// The fatal alert the server sent, if that is how the handshake ended.
    pub alert: Option<u8>,
    /// Why it was not accepted, when no alert says it (`connect_refused`, `tls_timeout`,
    /// `tls_handshake`); timeouts make the verdict inconclusive. For an accepted version,
    /// `failed_after_certificate` when the handshake did not complete.
    pub reason: Option<&'static str>,
}

impl Modern {
    /// No answer in time: neither accepted nor refused.
    pub fn inconclusive(&self) -> bool {
        !self.accepted && matches!(self.reason, Some("tls_timeout" | "connect_timeout"))
    }

    /// No TCP connection: the handshake never started, so it says nothing about versions.
    pub fn not_connected(&self) -> bool {
        !self.accepted && self.reason.is_some_and(|r| r.starts_with("connect_"))
    }
}

/// What one address accepted.
#[derive(Debug, Clone, Serialize)]
pub struct AddressVersions {
    /// The address.
    pub address: IpAddr,
    /// TLS 1.3 via rustls.
    pub tls13: Modern,
    /// TLS 1.2 via rustls (ECDHE + AEAD suites only).
    pub tls12: Modern,
    /// The hand-built TLS 1.2 hello with the broad suite list, sent when rustls's TLS 1.2
    /// handshake ended before a certificate without timing out (an alert, a reset, an answer
    /// rustls refused).
    pub tls12_legacy: Option<Probed>,
    /// The hand-built TLS 1.3 hello (all five TLS 1.3 suites, the RSASSA-PSS and EdDSA
    /// schemes), sent when rustls's TLS 1.3 handshake ended before a certificate without
    /// timing out: a server may speak TLS 1.3 with what rustls lacks (an RSASSA-PSS key, CCM
    /// suites only).
    pub tls13_legacy: Option<Probed>,
    /// The hand-built hellos, highest version first: TLS 1.1, TLS 1.0, SSLv3 (, SSLv2).
    pub legacy: Vec<Probed>,
}

impl AddressVersions {
    /// The legacy probe of `v`, if sent.
    pub fn legacy(&self, v: Version) -> Option<&Probed> {
        self.legacy.iter().find(|p| p.offered == v)
    }

    /// Whether `v` is accepted at this address: its own probe accepted it, or a probe of a
    /// higher version was answered with `v` (CHECKS.md §10: it counts for that version).
    pub fn accepts(&self, v: Version) -> bool {
        let hand_built = |p: Option<Probed>| {
            p.is_some_and(|p| matches!(p.outcome, LegacyOutcome::Accepted { .. }))
        };
        match v {
            Version::Tls13 => self.tls13.accepted || hand_built(self.tls13_legacy),
            Version::Tls12 => self.tls12.accepted || hand_built(self.tls12_legacy),
            _ => self.legacy.iter().any(|p| match p.outcome {
                LegacyOutcome::Accepted { .. } => p.offered == v,
                LegacyOutcome::LowerAccepted { version } => version == v,
                _ => false,
            }),
        }
    }

    /// Neither modern handshake got a TCP connection: nothing about this address is known.
    pub fn unreachable(&self) -> bool {
        self.tls13.not_connected() && self.tls12.not_connected()
    }

    /// Whether the probe of `v` got no answer in time.
    pub fn inconclusive(&self, v: Version) -> bool {
        match v {
            Version::Tls13 => self.tls13.inconclusive(),
            Version::Tls12 => self.tls12.inconclusive(),
            _ => self
                .legacy(v)
                .is_some_and(|p| matches!(p.outcome, LegacyOutcome::Inconclusive { .. })),
        }
    }
}

/// Evidence of the `tls_versions` probe.
#[derive(Debug, Clone)]
pub struct VersionsEvidence {
    /// The host (SNI unless an IP literal).
    pub host: String,
    /// The port.
    pub port: u16,
    /// Why no address was probed (`not_https`, `nxdomain` …).
    pub skipped: Option<&'static str>,
    /// Per address, in resolver order.
    pub addresses: Vec<AddressVersions>,
    /// Whether SSLv2 was probed (option `tls_version.sslv2`).
    pub sslv2_probed: bool,
}

async fn modern(
    target: &Target,
    name: &rustls::pki_types::ServerName<'static>,
    addr: SocketAddr,
    tls13: bool,
    deadline: Instant,
) -> Modern {
    let mut out = Modern {
        accepted: false,
        cipher: None,
        group: None,
        alert: None,
        reason: None,
    };
    let tcp = match connect(addr, deadline).await {
        Ok(s) => s,
        Err((reason, _)) => {
            out.reason = Some(reason);
            return out;
        }
    };
    let tls_deadline = deadline.min(Instant::now() + TLS_TIMEOUT);
    match timeout_at(
        tls_deadline,
        target.tls.handshake_only(tls13, name.clone(), tcp),
    )
    .await
    {
        Ok((Ok(mut stream), facts)) => {
            out.accepted = true;
            out.cipher = facts.cipher;
            out.group = facts.group;
            let _ = timeout_at(
                deadline.min(Instant::now() + Duration::from_secs(1)),
                stream.shutdown(),
            )
            .await;
        }
        Ok((Err(e), facts)) => {
            out.alert = alert_of(&e);
            // A Certificate only follows a ServerHello for this version: the server speaks
            // it, whatever broke later (mTLS servers send alert 40 or 116 after their
            // CertificateRequest when no client certificate comes).
            if facts.chain.is_empty() {
                out.reason = Some(if super::rejected_by_client(&e) {
                    "rejected_by_client"
                } else {
                    "tls_handshake"
                });
            } else {
                out.accepted = true;
                out.reason = Some("failed_after_certificate");
            }
        }
        Err(_) => out.reason = Some("tls_timeout"),
    }
    out
}

async fn probe_address(
    target: &Target,
    name: &rustls::pki_types::ServerName<'static>,
    addr: SocketAddr,
    sslv2: bool,
    deadline: Instant,
) -> AddressVersions {
    let sni = match name {
        rustls::pki_types::ServerName::DnsName(d) => Some(d.as_ref().to_owned()),
        _ => None,
    };
    let tls13 = modern(target, name, addr, true, deadline).await;
    let tls12 = modern(target, name, addr, false, deadline).await;
    if tls13.not_connected() && tls12.not_connected() {
        // Nothing listens (or the address is blackholed): the legacy hellos would only wait
        // for their own connect limits.
        return AddressVersions {
            address: addr.ip(),
            tls13,
            tls12,
            tls12_legacy: None,
            tls13_legacy: None,
            legacy: Vec::new(),
        };
    }
    // Only when no certificate arrived: an accepted TLS 1.2 needs no legacy-suite retry. Not
    // only after alert 40 or 71 (CHECKS.md §10): servers refuse what rustls lacks in other
    // ways too (Java answers an RSASSA-PSS key it cannot use with internal_error or a reset),
    // and rustls may refuse the server's answer itself (an ALPN protocol it never offered).
    // The hand-built hello, with the broad suite and scheme lists and no ALPN, tells whether
    // TLS 1.2 is spoken.
    let tls12_legacy = if !tls12.accepted && !tls12.inconclusive() {
        Some(legacy::probe(addr, sni.as_deref(), Version::Tls12, deadline).await)
    } else {
        None
    };
    let tls13_legacy = if !tls13.accepted && !tls13.inconclusive() && !tls13.not_connected() {
        Some(legacy::probe(addr, sni.as_deref(), Version::Tls13, deadline).await)
    } else {
        None
    };
    let mut versions = vec![Version::Tls11, Version::Tls10, Version::Ssl3];
    if sslv2 {
        versions.push(Version::Ssl2);
    }
    let mut legacy = Vec::new();
    for v in versions {
        legacy.push(legacy::probe(addr, sni.as_deref(), v, deadline).await);
    }
    AddressVersions {
        address: addr.ip(),
        tls13,
        tls12,
        tls12_legacy,
        tls13_legacy,
        legacy,
    }
}

/// Runs the probe.
pub(crate) async fn run(target: &Target, cx: &ProbeContext<'_>) -> Outcome {
    let port = target.url.port_or_known_default().unwrap_or(443);
    let sslv2 = target.options.tls_version.sslv2;
    let mut evidence = VersionsEvidence {
        host: target.host.clone(),
        port,
        skipped: None,
        addresses: Vec::new(),
        sslv2_probed: sslv2,
    };
    let finish = |evidence: VersionsEvidence, reason: Option<&'static str>| Outcome {
        evidence: Evidence::TlsVersions(evidence),
        success: reason.is_none(),
        reason,
        measurements: Vec::new(),
    };
    if target.url.scheme() != "https" {
        evidence.skipped = Some("not_https");
        return finish(evidence, Some("not_https"));
    }
    let Some(name) = server_name(target) else {
        evidence.skipped = Some("invalid_url");
        return finish(evidence, Some("invalid_url"));
    };
    let addrs = match addresses(target, cx, MAX_PER_FAMILY).await {
        Ok(a) => a,
        Err((reason, _)) => {
            evidence.skipped = Some(reason);
            return finish(evidence, Some(reason));
        }
    };
    for ip in addrs {
        let a = probe_address(target, &name, SocketAddr::new(ip, port), sslv2, cx.deadline).await;
        evidence.addresses.push(a);
    }
    // The network work completed when every address answered its modern handshakes one way
    // or the other.
    let reason = evidence.addresses.iter().find_map(|a| {
        [&a.tls13, &a.tls12]
            .into_iter()
            .find(|m| !m.accepted && m.alert.is_none())
            .and_then(|m| m.reason)
            .filter(|r| !matches!(*r, "tls_handshake" | "rejected_by_client"))
    });
    finish(evidence, reason)
}
