//! The `tls` probe (CHECKS.md §9): for each resolved address (at most 2 per family) a TLS
//! handshake with SNI = host (none for IP literals) and ALPN `h2, http/1.1`, the chain recorded
//! as served before verification, plus an AIA caIssuers fetch for a chain that does not reach
//! a trust anchor (each distinct URL at most once per run). No HTTP request is sent; the
//! connection is closed after the handshake.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};
use url::{Host, Url};

use super::inspect::{self, CertDetails};
use super::{TlsFacts, Verification};
use crate::context::ProbeContext;
use crate::evidence::Evidence;
use crate::fetch::{CONNECT_TIMEOUT, OTHER_BODY_CAP, RequestSpec, TLS_TIMEOUT};
use crate::measure::{GaugeDef, Measurement};
use crate::probe::Outcome;
use crate::target::Target;

/// Addresses probed per family at most (CHECKS.md §9): bounds the `address` label.
pub const MAX_PER_FAMILY: usize = 2;

/// Where the probe connected, and what it saw there.
#[derive(Debug, Clone)]
pub struct AddressTls {
    /// The address.
    pub address: IpAddr,
    /// The handshake's facts: the chain as served and WebPKI's verdict. `None` when no TCP
    /// connection was made or no certificate arrived.
    pub facts: Option<Arc<TlsFacts>>,
    /// Why the connection or handshake failed (`connect_refused`, `connect_timeout`,
    /// `tls_handshake`, `tls_timeout` …), with a detail for reports.
    pub failure: Option<(&'static str, String)>,
    /// Whether the chain reaches a trust anchor, judged at an instant inside the validity
    /// window of the served certificates so that an expired certificate does not hide an
    /// unknown issuer (and the reverse). `None` when it cannot be told apart from time.
    pub trusted: Option<bool>,
    /// The reason of the trust verdict (`unknown_issuer`, `bad_signature`,
    /// `unsupported_signature_algorithm` …) when `trusted` is false.
    pub trust_reason: Option<&'static str>,
    /// The path ends at a public root (webpki-roots or the platform store) rather than a
    /// configured CA; only known for trusted chains.
    pub public_root: bool,
    /// Parsed certificates, in served order (unparsable ones skipped).
    pub certs: Vec<CertDetails>,
    /// The leaf (first served certificate) parsed, so `certs[0]` is the leaf.
    pub leaf_parsed: bool,
    /// Handshake time.
    pub duration: Duration,
    /// Set when rustls failed before any certificate arrived and the chain was read from the
    /// server's answer to the hand-built TLS 1.2 hello instead: why rustls failed.
    pub rustls_failure: Option<String>,
    /// The AIA caIssuers fetch for this address's leaf, when its chain lacks an anchor: whether
    /// what the URL serves completes *this* chain (CHECKS.md §9 `incomplete_chain`).
    pub aia: Option<AiaFetch>,
}

impl AddressTls {
    /// The leaf's details, if a parsable leaf arrived.
    pub fn leaf(&self) -> Option<&CertDetails> {
        self.certs.first().filter(|_| self.leaf_parsed)
    }

    /// Whether a certificate chain was recorded.
    pub fn has_chain(&self) -> bool {
        self.facts.as_ref().is_some_and(|f| !f.chain.is_empty())
    }
}

/// The outcome of an AIA caIssuers fetch for one address's chain (CHECKS.md §9
/// `incomplete_chain`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AiaFetch {
    /// The caIssuers URL from the leaf.
    pub url: String,
    /// `completes`, or why it does not: `not_a_certificate`, `does_not_complete`, or the
    /// fetch's failure reason (`connect_refused`, `timeout`, `http_status` …).
    pub result: &'static str,
}

impl AiaFetch {
    /// Whether the fetched certificate completes the path to a trust anchor.
    pub fn completes(&self) -> bool {
        self.result == "completes"
    }
}

/// Evidence of the `tls` probe.
#[derive(Debug, Clone)]
pub struct TlsEvidence {
    /// The host H (SNI unless an IP literal).
    pub host: String,
    /// The port.
    pub port: u16,
    /// Why no address was probed (`not_https`, `nxdomain`, `timeout` …).
    pub skipped: Option<&'static str>,
    /// One entry per probed address, in resolver order (IPv4 first).
    pub addresses: Vec<AddressTls>,
}

/// `probe_ssl_earliest_cert_expiry{probe="tls",address}`.
pub static EARLIEST_EXPIRY: GaugeDef = GaugeDef {
    name: "ssl_earliest_cert_expiry",
    help: "Earliest notAfter (Unix seconds) among the certificates as served, exported even when verification fails (blackbox)",
    labels: &["address"],
};
/// `probe_ssl_last_chain_info{probe="tls",address,…}` (blackbox's labels, bounded).
pub static LAST_CHAIN_INFO: GaugeDef = GaugeDef {
    name: "ssl_last_chain_info",
    help: "The served leaf certificate (blackbox); label values truncated to 64 bytes",
    labels: &[
        "address",
        "fingerprint_sha256",
        "subject",
        "issuer",
        "subjectalternative",
        "serialnumber",
    ],
};
/// `probe_tls_version_info{probe="tls",address,version}`.
pub static VERSION_INFO: GaugeDef = GaugeDef {
    name: "tls_version_info",
    help: "Negotiated TLS version of the connection, as blackbox names it",
    labels: &["address", "version"],
};
/// `probe_tls_chain_verified{probe="tls",address,reason}`.
pub static CHAIN_VERIFIED: GaugeDef = GaugeDef {
    name: "tls_chain_verified",
    help: "1 if the served chain verified for the host, else 0; reason is verified or the low-cardinality verification failure",
    labels: &["address", "reason"],
};

/// Gauges of the tls probe.
pub static GAUGES: &[&GaugeDef] = &[
    &EARLIEST_EXPIRY,
    &LAST_CHAIN_INFO,
    &VERSION_INFO,
    &CHAIN_VERIFIED,
];

/// The host, port and addresses to probe: the pin, the IP literal, or at most `per_family`
/// resolved addresses per family (IPv4 first): [`MAX_PER_FAMILY`] for this probe,
/// [`super::versions::MAX_PER_FAMILY`] for `tls_versions`.
///
/// # Errors
///
/// The resolution failure's reason and detail.
pub(crate) async fn addresses(
    target: &Target,
    cx: &ProbeContext<'_>,
    per_family: usize,
) -> Result<Vec<IpAddr>, (&'static str, String)> {
    let url = &target.url;
    match url.host() {
        Some(Host::Ipv4(ip)) => return Ok(vec![IpAddr::V4(ip)]),
        Some(Host::Ipv6(ip)) => return Ok(vec![IpAddr::V6(ip)]),
        Some(Host::Domain(_)) => {}
        None => return Err(("invalid_url", "URL has no host".into())),
    }
    if let Some(pin) = target.pin_for(url) {
        return Ok(vec![pin]);
    }
    let looked_up = timeout_at(cx.deadline, cx.engine.resolver().lookup_ip(&target.host)).await;
    let all = match looked_up {
        Ok(Ok(a)) => a,
        Ok(Err(f)) => return Err((f.reason, f.detail)),
        Err(_) => return Err(("timeout", format!("resolving {} timed out", target.host))),
    };
    Ok(pick(&all, per_family))
}

/// At most `per_family` addresses per family, IPv4 first, in resolver order.
pub fn pick(all: &[IpAddr], per_family: usize) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = all
        .iter()
        .filter(|a| a.is_ipv4())
        .take(per_family)
        .copied()
        .collect();
    out.extend(all.iter().filter(|a| a.is_ipv6()).take(per_family).copied());
    out.dedup();
    out
}

/// The TLS server name for the target: the DNS name, or the IP (no SNI, RFC 6066 §3).
pub(crate) fn server_name(target: &Target) -> Option<ServerName<'static>> {
    match target.url.host()? {
        Host::Domain(d) => ServerName::try_from(d.trim_end_matches('.').to_owned()).ok(),
        Host::Ipv4(ip) => Some(ServerName::IpAddress(IpAddr::V4(ip).into())),
        Host::Ipv6(ip) => Some(ServerName::IpAddress(IpAddr::V6(ip).into())),
    }
}

/// Opens TCP to `addr`, bounded by the connect limit and the deadline.
pub(crate) async fn connect(
    addr: SocketAddr,
    deadline: Instant,
) -> Result<TcpStream, (&'static str, String)> {
    let connect_deadline = deadline.min(Instant::now() + CONNECT_TIMEOUT);
    match timeout_at(connect_deadline, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => {
            let _ = s.set_nodelay(true);
            Ok(s)
        }
        Ok(Err(e)) => {
            use std::io::ErrorKind;
            let reason = match e.kind() {
                ErrorKind::ConnectionRefused => "connect_refused",
                ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => "connect_unreachable",
                ErrorKind::TimedOut => "connect_timeout",
                _ => "connect_error",
            };
            Err((reason, format!("connecting to {addr}: {e}")))
        }
        Err(_) => Err(("connect_timeout", format!("connecting to {addr} timed out"))),
    }
}

/// An instant inside every served certificate's validity window (their intersection), or
/// inside the leaf's when they do not overlap.
fn instant_inside(certs: &[CertDetails]) -> Option<UnixTime> {
    let leaf = certs.first()?;
    let lo = certs.iter().map(|c| c.summary.not_before).max()?;
    let hi = certs.iter().map(|c| c.summary.not_after).min()?;
    let (lo, hi) = if lo <= hi {
        (lo, hi)
    } else {
        (leaf.summary.not_before, leaf.summary.not_after)
    };
    let mid = lo + (hi - lo) / 2;
    u64::try_from(mid)
        .ok()
        .map(|s| UnixTime::since_unix_epoch(Duration::from_secs(s)))
}

/// Trust apart from time: `Some(true)` when the path reaches an anchor, `Some(false)` when it
/// cannot (unknown issuer, bad signature …), `None` when only time-related errors remain.
fn trust(verdict: &Verification) -> (Option<bool>, Option<&'static str>) {
    match verdict {
        Verification::Verified => (Some(true), None),
        Verification::Failed { reason, .. } => match *reason {
            // Name checks come after path building in rustls: the path itself is fine.
            "hostname_mismatch" => (Some(true), None),
            "expired" | "not_yet_valid" => (None, None),
            other => (Some(false), Some(other)),
        },
        Verification::NotReached => (None, None),
    }
}

/// Runs one handshake against `addr`.
async fn probe_address(
    target: &Target,
    name: &ServerName<'static>,
    addr: SocketAddr,
    deadline: Instant,
) -> AddressTls {
    let t0 = Instant::now();
    let mut out = AddressTls {
        address: addr.ip(),
        facts: None,
        failure: None,
        trusted: None,
        trust_reason: None,
        public_root: false,
        certs: Vec::new(),
        leaf_parsed: false,
        duration: Duration::ZERO,
        rustls_failure: None,
        aia: None,
    };
    let tcp = match connect(addr, deadline).await {
        Ok(s) => s,
        Err(f) => {
            out.failure = Some(f);
            out.duration = t0.elapsed();
            return out;
        }
    };
    let tls_deadline = deadline.min(Instant::now() + TLS_TIMEOUT);
    match timeout_at(tls_deadline, target.tls.handshake(name.clone(), tcp)).await {
        Ok((Ok(mut stream), facts)) => {
            // close_notify, bounded: the probe never sends a request.
            let _ = timeout_at(
                deadline.min(Instant::now() + Duration::from_secs(1)),
                stream.shutdown(),
            )
            .await;
            out.facts = Some(Arc::new(facts));
        }
        Ok((Err(e), facts)) => {
            let detail = super::handshake_failure_detail(addr, &e, &facts);
            if !facts.chain.is_empty() {
                out.facts = Some(Arc::new(facts));
                out.failure = Some(("tls_handshake", detail));
            } else if (refused_version_or_suite(&e) || super::rejected_by_client(&e))
                && let Some(facts) = chain_without_rustls(target, name, addr, deadline).await
            {
                // The certificate is judged like any other; tls_version says what the
                // server offers instead of what rustls speaks.
                out.facts = Some(Arc::new(facts));
                out.rustls_failure = Some(detail);
            } else {
                out.failure = Some(("tls_handshake", detail));
            }
        }
        Err(_) => {
            out.failure = Some((
                "tls_timeout",
                format!("TLS handshake with {addr} timed out"),
            ));
        }
    }
    out.duration = t0.elapsed();
    if let Some(facts) = &out.facts {
        let parsed: Vec<Option<CertDetails>> = facts.chain.iter().map(inspect::inspect).collect();
        out.leaf_parsed = parsed.first().is_some_and(Option::is_some);
        out.certs = parsed.into_iter().flatten().collect();
        let (trusted, reason) = judge_trust(target, name, facts, &out.certs);
        out.trusted = trusted;
        out.trust_reason = reason;
        out.public_root = trusted == Some(true) && path_ends_at_public_root(target, &out.certs);
    }
    out
}

/// Whether a handshake that ended before any certificate looks like a server refusing our
/// versions or suites: alert handshake_failure (40), protocol_version (70) or
/// insufficient_security (71) (RFC 8446 §6, RFC 5246 §7.2.2), or the connection closed or reset
/// by the peer (servers that drop hellos they cannot serve). Anything else (a non-TLS
/// service, alert 112, internal_error …) would not hand the legacy hello a certificate either.
fn refused_version_or_suite(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    match super::alert_of(e) {
        Some(code) => matches!(code, 40 | 70 | 71),
        None => matches!(
            e.kind(),
            ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset
        ),
    }
}

/// The chain of a server that shares no version or suite with rustls (TLS 1.2 with CBC or RSA
/// key-exchange suites only, TLS 1.0/1.1 only): read in clear from its answer to the
/// hand-built TLS 1.2 hello and verified as rustls would have. `None` when that answer holds
/// no certificate either.
async fn chain_without_rustls(
    target: &Target,
    name: &ServerName<'static>,
    addr: SocketAddr,
    deadline: Instant,
) -> Option<TlsFacts> {
    let sni = match name {
        ServerName::DnsName(d) => Some(d.as_ref().to_owned()),
        _ => None,
    };
    let flight = super::legacy::server_flight(addr, sni.as_deref(), deadline)
        .await
        .ok()
        .filter(|f| !f.chain.is_empty())?;
    let chain: Vec<CertificateDer<'static>> =
        flight.chain.into_iter().map(CertificateDer::from).collect();
    let verification = target.tls.verify(&chain, name, UnixTime::now());
    Some(TlsFacts {
        version: super::legacy::Version::from_wire(flight.version).map(|v| v.label()),
        cipher: flight
            .cipher
            .and_then(|c| rustls::CipherSuite::from(c).as_str()),
        group: None,
        alpn: None,
        sni,
        chain: Arc::from(chain),
        ocsp: flight.ocsp.map(Arc::from),
        verification,
        client_cert_missing: false,
    })
}

/// Trust apart from time and name (`AddressTls::trusted`) and its reason.
fn judge_trust(
    target: &Target,
    name: &ServerName<'static>,
    facts: &TlsFacts,
    certs: &[CertDetails],
) -> (Option<bool>, Option<&'static str>) {
    // A chain that verified now is trusted: only a failed live verdict needs the second
    // verification, at an instant inside the validity windows, that judges trust apart
    // from time (an expired certificate's path still reaching an anchor).
    let (trusted, reason) = match instant_inside(certs) {
        Some(t) if !facts.verified() => trust(&target.tls.verify(&facts.chain, name, t)),
        _ => trust(&facts.verification),
    };
    // Fall back on the live verdict when the window check could not tell (validity
    // windows that do not overlap: an intermediate that expired before the leaf was
    // issued). Then a path whose issuer Names lead to no anchor cannot reach one at any
    // instant.
    let (trusted, reason) = match trusted {
        Some(t) => (Some(t), reason),
        None => match trust(&facts.verification) {
            (None, _) if !names_reach_anchor(target, certs) => {
                (Some(false), Some("unknown_issuer"))
            }
            other => other,
        },
    };
    // An issuer with an RSA key under 2048 bits: WebPKI (ring) refuses to verify what it
    // signed and calls the signature bad, but the path exists (`openssl verify` accepts
    // it); that refusal is tls_cert's `weak_key`, not an untrusted chain, as for a weak
    // leaf. Only where the issuer Names lead to an anchor.
    match (trusted, reason) {
        (Some(false), Some("bad_signature" | "unsupported_signature_algorithm"))
            if weak_rsa_issuer(certs) =>
        {
            if names_reach_anchor(target, certs) {
                (None, None)
            } else {
                (Some(false), Some("unknown_issuer"))
            }
        }
        other => other,
    }
}

/// Whether following issuer Names from the leaf through the served certificates meets the
/// subject of a trust anchor: what any path to an anchor needs, whatever the time. A walk over
/// Names, each visited once, so a hostile chain of look-alike subjects stays linear.
/// Signatures are not looked at: `true` says a path may exist.
fn names_reach_anchor(target: &Target, certs: &[CertDetails]) -> bool {
    let Some(leaf) = certs.first() else {
        return true;
    };
    let mut seen: Vec<&[u8]> = Vec::new();
    let mut next: Vec<&[u8]> = vec![&leaf.issuer_contents];
    while let Some(name) = next.pop() {
        if target.tls.is_anchor_subject(name) {
            return true;
        }
        if seen.contains(&name) {
            continue;
        }
        seen.push(name);
        next.extend(
            certs[1..]
                .iter()
                .filter(|c| c.subject_contents == name)
                .map(|c| c.issuer_contents.as_slice()),
        );
    }
    false
}

/// A served certificate after the leaf (an issuer) with an RSA key under 2048 bits.
fn weak_rsa_issuer(certs: &[CertDetails]) -> bool {
    certs
        .iter()
        .skip(1)
        .any(|c| c.key == inspect::KeyKind::Rsa && (1..2048).contains(&c.key_bits))
}

/// Whether some served certificate is issued by (or is) a public root, not a configured CA.
fn path_ends_at_public_root(target: &Target, certs: &[CertDetails]) -> bool {
    certs.iter().any(|c| {
        target.tls.is_public_root_subject(&c.issuer_contents)
            || target.tls.is_public_root_subject(&c.subject_contents)
    })
}

/// caIssuers URLs of one leaf tried at most.
const MAX_AIA_URLS: usize = 3;

/// Fetches a caIssuers URL (one GET, ≤ 64 KiB): the certificates it serves, or why none.
async fn fetch_issuers(
    target: &Target,
    cx: &ProbeContext<'_>,
    url: &str,
) -> Result<Vec<CertificateDer<'static>>, &'static str> {
    let Ok(parsed) = Url::parse(url) else {
        return Err("invalid_url");
    };
    let spec = RequestSpec::get(&parsed, OTHER_BODY_CAP);
    let exchange = match cx
        .engine
        .exchange(&spec, &target.tls, None, cx.deadline)
        .await
    {
        Ok(e) => e,
        Err(f) => return Err(f.reason),
    };
    if exchange.status != 200 {
        return Err("http_status");
    }
    if exchange.body_truncated {
        return Err("too_large");
    }
    let fetched = certificates(&exchange.body);
    if fetched.is_empty() {
        return Err("not_a_certificate");
    }
    Ok(fetched)
}

/// Whether `fetched` completes the path of `chain` to a trust anchor: `completes` or
/// `does_not_complete`.
fn completion(
    target: &Target,
    name: &ServerName<'static>,
    chain: &[CertificateDer<'static>],
    fetched: &[CertificateDer<'static>],
) -> &'static str {
    let mut completed = chain.to_vec();
    completed.extend_from_slice(fetched);
    let certs: Vec<CertDetails> = completed.iter().filter_map(inspect::inspect).collect();
    let verdict = match instant_inside(&certs) {
        Some(t) => target.tls.verify(&completed, name, t),
        None => return "does_not_complete",
    };
    match trust(&verdict) {
        (Some(true), _) => "completes",
        _ => "does_not_complete",
    }
}

/// Certificates from a caIssuers body: one DER certificate, a DER certs-only CMS message
/// (`.p7c`, RFC 5280 §4.2.2.1), or PEM; at most four.
fn certificates(body: &[u8]) -> Vec<CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    if body.starts_with(b"-----BEGIN") {
        return CertificateDer::pem_slice_iter(body)
            .filter_map(Result::ok)
            .take(4)
            .collect();
    }
    let der = CertificateDer::from(body.to_vec());
    if inspect::inspect(&der).is_some() {
        return vec![der];
    }
    super::cert::certs_only_cms(body, 4)
        .into_iter()
        .filter(|c| inspect::inspect(c).is_some())
        .collect()
}

/// Runs the probe.
pub(crate) async fn run(target: &Target, cx: &ProbeContext<'_>) -> Outcome {
    let port = target.url.port_or_known_default().unwrap_or(443);
    let mut evidence = TlsEvidence {
        host: target.host.clone(),
        port,
        skipped: None,
        addresses: Vec::new(),
    };
    if target.url.scheme() != "https" {
        evidence.skipped = Some("not_https");
        return outcome(evidence, false, Some("not_https"));
    }
    let Some(name) = server_name(target) else {
        evidence.skipped = Some("invalid_url");
        return outcome(evidence, false, Some("invalid_url"));
    };
    let addrs = match addresses(target, cx, MAX_PER_FAMILY).await {
        Ok(a) => a,
        Err((reason, _)) => {
            evidence.skipped = Some(reason);
            return outcome(evidence, false, Some(reason));
        }
    };
    for ip in addrs {
        let probed = probe_address(target, &name, SocketAddr::new(ip, port), cx.deadline).await;
        evidence.addresses.push(probed);
    }
    // AIA for each address whose chain lacks an anchor, judged against that address's chain
    // (backends may serve different leaves); each distinct URL is fetched once per run.
    if target.options.tls_cert.aia_fetch {
        let mut fetched: Vec<(String, Result<Vec<CertificateDer<'static>>, &'static str>)> =
            Vec::new();
        for a in &mut evidence.addresses {
            if a.trusted != Some(false) || a.trust_reason != Some("unknown_issuer") {
                continue;
            }
            let (Some(leaf), Some(facts)) = (a.leaf(), a.facts.clone()) else {
                continue;
            };
            // Every caIssuers URL of the leaf in turn (a CA may list a mirror after a dead
            // one), until one completes the path; the first one's outcome stands otherwise.
            let mut kept: Option<AiaFetch> = None;
            for url in leaf.ca_issuers.iter().take(MAX_AIA_URLS) {
                let body = match fetched.iter().find(|(u, _)| u == url) {
                    Some((_, body)) => body.clone(),
                    None => {
                        let body = fetch_issuers(target, cx, url).await;
                        fetched.push((url.clone(), body.clone()));
                        body
                    }
                };
                let result = match body {
                    Ok(certs) => completion(target, &name, &facts.chain, &certs),
                    Err(reason) => reason,
                };
                let this = AiaFetch {
                    url: url.clone(),
                    result,
                };
                if result == "completes" {
                    kept = Some(this);
                    break;
                }
                kept.get_or_insert(this);
            }
            a.aia = kept;
        }
    }
    let failure = evidence.addresses.iter().find_map(|a| {
        a.failure.as_ref().map(|(r, _)| *r).or_else(|| {
            a.facts
                .as_ref()
                .and_then(|f| f.verification.failure_reason())
        })
    });
    let success = failure.is_none() && !evidence.addresses.is_empty();
    outcome(evidence, success, failure)
}

fn outcome(evidence: TlsEvidence, success: bool, reason: Option<&'static str>) -> Outcome {
    let measurements = measure(&evidence);
    Outcome {
        evidence: Evidence::Tls(evidence),
        success,
        reason: if success {
            None
        } else {
            reason.or(Some("no_address"))
        },
        measurements,
    }
}

/// blackbox's `version` label values.
pub fn blackbox_version(v: &str) -> &str {
    match v {
        "tls1.3" => "TLS 1.3",
        "tls1.2" => "TLS 1.2",
        "tls1.1" => "TLS 1.1",
        "tls1.0" => "TLS 1.0",
        other => other,
    }
}

fn measure(e: &TlsEvidence) -> Vec<Measurement> {
    let mut m = Vec::new();
    for a in &e.addresses {
        let address = a.address.to_string();
        let Some(facts) = &a.facts else { continue };
        if let Some(expiry) = super::cert::earliest_not_after(&facts.chain) {
            m.push(Measurement::labelled(
                &EARLIEST_EXPIRY,
                [address.clone()],
                expiry as f64,
            ));
        }
        if let Some(leaf) = a.leaf() {
            let sans: Vec<String> = leaf
                .dns_names
                .iter()
                .cloned()
                .chain(leaf.ip_addresses.iter().map(IpAddr::to_string))
                .collect();
            m.push(Measurement::labelled(
                &LAST_CHAIN_INFO,
                [
                    address.clone(),
                    leaf.sha256.clone(),
                    leaf.subject.clone(),
                    leaf.issuer.clone(),
                    sans.join(","),
                    leaf.serial.clone(),
                ],
                1.0,
            ));
        }
        if let Some(v) = facts.version {
            m.push(Measurement::labelled(
                &VERSION_INFO,
                [address.clone(), blackbox_version(v).to_owned()],
                1.0,
            ));
        }
        let reason = facts.verification.failure_reason().unwrap_or("verified");
        m.push(Measurement::labelled(
            &CHAIN_VERIFIED,
            [address, reason.to_owned()],
            if facts.verified() { 1.0 } else { 0.0 },
        ));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_two_addresses_per_family() {
        let all: Vec<IpAddr> = ["10.0.0.1", "::1", "10.0.0.2", "10.0.0.3", "::2", "::3"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let picked: Vec<String> = pick(&all, MAX_PER_FAMILY)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(picked, ["10.0.0.1", "10.0.0.2", "::1", "::2"]);
        let picked = pick(&all, crate::tls::versions::MAX_PER_FAMILY);
        assert_eq!(picked.len(), 6, "tls_versions takes up to four per family");
    }
}
