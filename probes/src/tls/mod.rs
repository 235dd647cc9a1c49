//! TLS client side of the network engine: one [`TlsClient`] per trust configuration (the public
//! roots, or the public roots plus a target's CA), built once and shared by every run.

pub mod cert;
pub mod inspect;
pub mod legacy;
pub mod ocsp;
mod p521;
pub mod probe;
mod verifier;
pub mod versions;

use std::io;
use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, RootCertStore};
use serde::Serialize;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::error::Error;
use verifier::RecordingVerifier;

/// The WebPKI verdict on the served chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Verification {
    /// The chain verified for the host against the configured roots.
    Verified,
    /// Verification failed; the handshake went on so the chain could be recorded.
    Failed {
        /// Low-cardinality reason: `expired`, `not_yet_valid`, `hostname_mismatch`,
        /// `unknown_issuer`, `bad_signature`, `unsupported_signature_algorithm`, `revoked`,
        /// `invalid_purpose`, `bad_encoding` or `invalid_certificate`.
        reason: &'static str,
        /// rustls's message.
        detail: String,
    },
    /// The handshake ended before a certificate was presented.
    NotReached,
}

impl Verification {
    /// True only for [`Verification::Verified`].
    pub fn is_verified(&self) -> bool {
        matches!(self, Verification::Verified)
    }

    /// The failure reason, if verification failed.
    pub fn failure_reason(&self) -> Option<&'static str> {
        match self {
            Verification::Failed { reason, .. } => Some(reason),
            _ => None,
        }
    }
}

/// Facts about one TLS connection, recorded whether or not the certificate verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFacts {
    /// Negotiated version (`tls1.2`, `tls1.3`); `None` when the handshake did not complete.
    pub version: Option<&'static str>,
    /// Negotiated cipher suite (IANA-style name as rustls prints it).
    pub cipher: Option<&'static str>,
    /// Negotiated key-exchange group.
    pub group: Option<String>,
    /// Negotiated ALPN protocol.
    pub alpn: Option<String>,
    /// SNI sent (none for IP literals, RFC 6066 §3).
    pub sni: Option<String>,
    /// The certificates as served, leaf first; empty if none arrived.
    pub chain: Arc<[CertificateDer<'static>]>,
    /// Stapled OCSP response, if any.
    pub ocsp: Option<Arc<[u8]>>,
    /// WebPKI's verdict.
    pub verification: Verification,
    /// The server asked for a client certificate (mutual TLS) and this connection presented
    /// none (no `client_cert` configured for the host).
    pub client_cert_missing: bool,
}

impl TlsFacts {
    /// Whether the certificate verified.
    pub fn verified(&self) -> bool {
        self.verification.is_verified()
    }

    /// Whether a certificate was presented and failed verification (CHECKS.md §0.3's
    /// `invalid_cert`); false when the handshake ended before any certificate arrived.
    pub fn cert_failed(&self) -> bool {
        self.verification.failure_reason().is_some()
    }
}

/// The TLS alert a failed handshake received, if that is how it failed.
pub fn alert_of(e: &io::Error) -> Option<u8> {
    match e.get_ref()?.downcast_ref::<rustls::Error>()? {
        rustls::Error::AlertReceived(d) => Some(u8::from(*d)),
        _ => None,
    }
}

/// Whether rustls itself refused the server's handshake (an ALPN protocol it never offered,
/// a message or parameter it rejects): the server spoke TLS, so the hand-built hello can
/// still tell which version it accepts and read its certificate.
pub fn rejected_by_client(e: &io::Error) -> bool {
    matches!(
        e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()),
        Some(rustls::Error::PeerMisbehaved(_) | rustls::Error::PeerIncompatible(_))
    )
}

/// The hint for a server that asked for a client certificate and then ended the connection.
pub const CLIENT_CERT_HINT: &str = " (the server asks for a client certificate: mutual TLS, \
     and prodprobe presents none)";

/// A report line for a failed handshake with `remote`. A server that asked for a client
/// certificate is named as such; the alerts a server sends when it shares no version, suite
/// or signature scheme with us get a hint: rustls offers TLS 1.2/1.3 with AEAD suites only, so
/// a server limited to CBC or RSA key-exchange suites (which browsers may still accept) fails
/// here, and `tls_version` says what it does offer.
pub fn handshake_failure_detail(
    remote: impl std::fmt::Display,
    e: &io::Error,
    facts: &TlsFacts,
) -> String {
    let hint = match alert_of(e) {
        _ if facts.client_cert_missing => CLIENT_CERT_HINT,
        // handshake_failure, protocol_version, insufficient_security (RFC 8446 §6).
        Some(40 | 70 | 71) => {
            " (no TLS version, cipher suite or signature scheme in common with rustls's \
             TLS 1.2/1.3 AEAD suites; tls_version shows what the server offers)"
        }
        _ => "",
    };
    format!("TLS handshake with {remote}: {e}{hint}")
}

/// A TLS client configuration with the recording verifier, built once per trust
/// configuration and shared by every connection.
#[derive(Clone)]
pub struct TlsClient {
    connector: TlsConnector,
    /// Restricted to one version each, for the `tls_versions` probe (CHECKS.md §10).
    tls12_only: TlsConnector,
    tls13_only: TlsConnector,
    /// For mutual TLS: the connector presenting the configured client certificate, and the
    /// one server name it is used for.
    client_cert: Option<(TlsConnector, ServerName<'static>)>,
    /// The crypto provider the connectors were built with.
    provider: Arc<CryptoProvider>,
    /// The WebPKI verifier inside `connector`, for re-verifying a chain (AIA completion, the
    /// trust verdict at a time inside the validity window).
    webpki: Arc<WebPkiServerVerifier>,
    /// Subjects (DER Name contents) of the public roots, without any configured CA: a path
    /// that ends at one of them is a public-root path (CHECKS.md §9 public-root-only rules).
    public_subjects: Arc<[Vec<u8>]>,
    /// Subjects of every trust anchor, configured CAs included.
    anchor_subjects: Arc<[Vec<u8>]>,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsClient").finish_non_exhaustive()
    }
}

/// ALPN offered by the HTTP probes.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// A connector offering `versions`, verifying with `verifier`, presenting `client_cert` when
/// asked (and recording the request either way).
fn connector(
    provider: &Arc<CryptoProvider>,
    versions: &[&'static rustls::SupportedProtocolVersion],
    verifier: RecordingVerifier,
    client_cert: Option<Arc<rustls::sign::CertifiedKey>>,
) -> Result<TlsConnector, Error> {
    let mut config = ClientConfig::builder_with_provider(Arc::clone(provider))
        .with_protocol_versions(versions)
        .map_err(|e| Error::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_cert_resolver(Arc::new(verifier::ClientCert(client_cert)));
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    // Every run must see the certificate: a resumed TLS 1.3 session skips verification.
    config.resumption = Resumption::disabled();
    Ok(TlsConnector::from(Arc::new(config)))
}

impl TlsClient {
    /// A client trusting the public Web PKI roots (webpki-roots) plus `extra_roots`
    /// (a private CA is added to the public roots, never swapped for them).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCa`] when an extra root is not a usable trust anchor.
    pub fn new(extra_roots: &[CertificateDer<'static>]) -> Result<Self, Error> {
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for der in extra_roots {
            roots
                .add(der.clone())
                .map_err(|e| Error::InvalidCa(e.to_string()))?;
        }
        let public_subjects: Vec<Vec<u8>> = webpki_roots::TLS_SERVER_ROOTS
            .iter()
            .map(|ta| ta.subject.as_ref().to_vec())
            .collect();
        let provider = p521::provider();
        Self::with_roots(roots, public_subjects, provider)
    }

    /// A client trusting the operating system's roots (rustls-native-certs) instead of
    /// webpki-roots, plus `extra_roots`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCa`] when an extra root is not a usable trust anchor, [`Error::Tls`]
    /// when the system store holds no usable root.
    pub fn with_platform_roots(extra_roots: &[CertificateDer<'static>]) -> Result<Self, Error> {
        let loaded = rustls_native_certs::load_native_certs();
        let mut roots = RootCertStore::empty();
        let (added, _) = roots.add_parsable_certificates(loaded.certs);
        if added == 0 {
            return Err(Error::Tls(
                "the platform trust store holds no usable root certificate".into(),
            ));
        }
        let public_subjects: Vec<Vec<u8>> = roots
            .roots
            .iter()
            .map(|ta| ta.subject.as_ref().to_vec())
            .collect();
        for der in extra_roots {
            roots
                .add(der.clone())
                .map_err(|e| Error::InvalidCa(e.to_string()))?;
        }
        let provider = p521::provider();
        Self::with_roots(roots, public_subjects, provider)
    }

    fn with_roots(
        roots: RootCertStore,
        public_subjects: Vec<Vec<u8>>,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, Error> {
        let anchor_subjects: Vec<Vec<u8>> = roots
            .roots
            .iter()
            .map(|ta| ta.subject.as_ref().to_vec())
            .collect();
        let webpki =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                .build()
                .map_err(|e| Error::Tls(e.to_string()))?;
        let build = |versions: &[&'static rustls::SupportedProtocolVersion]| -> Result<_, Error> {
            connector(
                &provider,
                versions,
                RecordingVerifier::new(Arc::clone(&webpki)),
                None,
            )
        };
        Ok(TlsClient {
            connector: build(rustls::ALL_VERSIONS)?,
            tls12_only: build(&[&rustls::version::TLS12])?,
            tls13_only: build(&[&rustls::version::TLS13])?,
            client_cert: None,
            webpki,
            provider,
            public_subjects: Arc::from(public_subjects),
            anchor_subjects: Arc::from(anchor_subjects),
        })
    }

    /// This client, presenting `chain` and `key` (a client certificate, for mutual TLS) when
    /// the server `host` asks for one. Only to `host`, and only after its certificate verified:
    /// that connector's verifier fails the handshake on a certificate that fails (after
    /// recording the chain), so the client certificate is never sent to a server that failed
    /// verification, nor to a redirect target or AIA host. The tls_version handshakes never
    /// present it.
    ///
    /// # Errors
    ///
    /// [`Error::ClientCert`] when the key is unusable or does not match the certificate.
    pub fn with_client_cert(
        &self,
        chain: Vec<CertificateDer<'static>>,
        key: &rustls::pki_types::PrivateKeyDer<'static>,
        host: ServerName<'static>,
    ) -> Result<Self, Error> {
        let signing = self
            .provider
            .key_provider
            .load_private_key(key.clone_key())
            .map_err(|e| {
                Error::ClientCert(format!(
                    "the private key cannot sign (RSA, ECDSA P-256/P-384 and Ed25519 keys can): {e}"
                ))
            })?;
        let certified = rustls::sign::CertifiedKey::new(chain, signing);
        certified.keys_match().map_err(|e| {
            Error::ClientCert(match e {
                rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                    "the private key does not belong to the certificate (the first certificate of \
                     client_cert must be the one issued for this key)"
                        .to_owned()
                }
                other => other.to_string(),
            })
        })?;
        let connector = connector(
            &self.provider,
            rustls::ALL_VERSIONS,
            RecordingVerifier::strict(Arc::clone(&self.webpki)),
            Some(Arc::new(certified)),
        )?;
        Ok(TlsClient {
            client_cert: Some((connector, host)),
            ..self.clone()
        })
    }

    /// WebPKI's verdict on `chain` (leaf first) for `server_name` at `now`, without a
    /// handshake: used to re-verify a chain completed from AIA, and to judge trust apart from
    /// time (at an instant inside the validity window).
    pub fn verify(
        &self,
        chain: &[CertificateDer<'static>],
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Verification {
        let Some((leaf, rest)) = chain.split_first() else {
            return Verification::NotReached;
        };
        match self
            .webpki
            .verify_server_cert(leaf, rest, server_name, &[], now)
        {
            Ok(_) => Verification::Verified,
            Err(e) => Verification::Failed {
                reason: verifier::reason(&e),
                detail: e.to_string(),
            },
        }
    }

    /// Whether `subject` (DER Name contents) is the subject of a trust anchor (public or
    /// configured).
    pub fn is_anchor_subject(&self, subject: &[u8]) -> bool {
        self.anchor_subjects.iter().any(|s| s == subject)
    }

    /// Whether `subject` (DER Name contents) is the subject of a public root (webpki-roots,
    /// or the platform store), as opposed to a configured CA.
    pub fn is_public_root_subject(&self, subject: &[u8]) -> bool {
        self.public_subjects.iter().any(|s| s == subject)
    }

    /// Runs a handshake over `tcp`, recording the chain and the verdict. The handshake is
    /// not aborted by a failed verification; it fails only on protocol or signature errors
    /// (and, with a client certificate for this host, on a failed verification too).
    pub(crate) async fn handshake(
        &self,
        server_name: ServerName<'static>,
        tcp: TcpStream,
    ) -> (io::Result<TlsStream<TcpStream>>, TlsFacts) {
        match &self.client_cert {
            Some((mtls, host)) if same_server(host, &server_name) => {
                let (result, mut facts) = self.handshake_with(mtls, server_name, tcp).await;
                facts.client_cert_missing = false;
                (result, facts)
            }
            _ => self.handshake_with(&self.connector, server_name, tcp).await,
        }
    }

    /// Whether this client presents a client certificate (to its target host).
    pub fn has_client_cert(&self) -> bool {
        self.client_cert.is_some()
    }

    /// As [`TlsClient::handshake`], offering only TLS 1.2 (`Some(false)`) or only TLS 1.3
    /// (`Some(true)`) (the `tls_versions` probe).
    pub(crate) async fn handshake_only(
        &self,
        tls13: bool,
        server_name: ServerName<'static>,
        tcp: TcpStream,
    ) -> (io::Result<TlsStream<TcpStream>>, TlsFacts) {
        let connector = if tls13 {
            &self.tls13_only
        } else {
            &self.tls12_only
        };
        self.handshake_with(connector, server_name, tcp).await
    }

    async fn handshake_with(
        &self,
        connector: &TlsConnector,
        server_name: ServerName<'static>,
        tcp: TcpStream,
    ) -> (io::Result<TlsStream<TcpStream>>, TlsFacts) {
        let sni = match &server_name {
            ServerName::DnsName(name) => Some(name.as_ref().to_owned()),
            _ => None,
        };
        let (result, observed) =
            verifier::record_handshake(connector.connect(server_name, tcp)).await;
        let (chain, ocsp, verification) = match observed.recorded {
            Some(r) => (
                Arc::from(r.chain),
                r.ocsp.map(Arc::from),
                match r.result {
                    Ok(()) => Verification::Verified,
                    Err(e) => Verification::Failed {
                        reason: verifier::reason(&e),
                        detail: e.to_string(),
                    },
                },
            ),
            None => (Arc::from(Vec::new()), None, Verification::NotReached),
        };
        let mut facts = TlsFacts {
            version: None,
            cipher: None,
            group: None,
            alpn: None,
            sni,
            chain,
            ocsp,
            verification,
            client_cert_missing: observed.client_cert_requested,
        };
        if let Ok(stream) = &result {
            let conn = stream.get_ref().1;
            facts.version = conn.protocol_version().map(version_name);
            facts.cipher = conn
                .negotiated_cipher_suite()
                .and_then(|s| s.suite().as_str());
            facts.group = conn
                .negotiated_key_exchange_group()
                .map(|g| format!("{:?}", g.name()));
            facts.alpn = conn
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned());
        }
        (result, facts)
    }
}

/// Whether two server names are the same host: DNS names compared without case and trailing
/// dot, IP addresses as addresses.
fn same_server(a: &ServerName<'_>, b: &ServerName<'_>) -> bool {
    match (a, b) {
        (ServerName::DnsName(x), ServerName::DnsName(y)) => x
            .as_ref()
            .trim_end_matches('.')
            .eq_ignore_ascii_case(y.as_ref().trim_end_matches('.')),
        (ServerName::IpAddress(x), ServerName::IpAddress(y)) => x == y,
        _ => false,
    }
}

/// blackbox's `version` label values.
fn version_name(v: rustls::ProtocolVersion) -> &'static str {
    match v {
        rustls::ProtocolVersion::TLSv1_3 => "tls1.3",
        rustls::ProtocolVersion::TLSv1_2 => "tls1.2",
        rustls::ProtocolVersion::TLSv1_1 => "tls1.1",
        rustls::ProtocolVersion::TLSv1_0 => "tls1.0",
        rustls::ProtocolVersion::SSLv3 => "ssl3",
        _ => "unknown",
    }
}
