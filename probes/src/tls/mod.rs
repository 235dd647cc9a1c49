//! TLS client side of the network engine: one [`TlsClient`] per trust configuration (the public
//! roots, or the public roots plus a target's CA), built once and shared by every run.

pub mod cert;
mod verifier;

use std::io;
use std::sync::Arc;

use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName};
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
}

impl TlsFacts {
    /// Whether the certificate verified.
    pub fn verified(&self) -> bool {
        self.verification.is_verified()
    }
}

/// A TLS client configuration with the recording verifier, built once per trust
/// configuration and shared by every connection.
#[derive(Clone)]
pub struct TlsClient {
    connector: TlsConnector,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsClient").finish_non_exhaustive()
    }
}

/// ALPN offered by the HTTP probes.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

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
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Self::with_roots(roots, provider)
    }

    fn with_roots(roots: RootCertStore, provider: Arc<CryptoProvider>) -> Result<Self, Error> {
        let webpki =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                .build()
                .map_err(|e| Error::Tls(e.to_string()))?;
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(rustls::ALL_VERSIONS)
            .map_err(|e| Error::Tls(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(RecordingVerifier::new(webpki)))
            .with_no_client_auth();
        config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
        // Every run must see the certificate: a resumed TLS 1.3 session skips verification.
        config.resumption = Resumption::disabled();
        Ok(TlsClient {
            connector: TlsConnector::from(Arc::new(config)),
        })
    }

    /// Runs a handshake over `tcp`, recording the chain and the verdict. The handshake is
    /// not aborted by a failed verification; it fails only on protocol or signature errors.
    pub(crate) async fn handshake(
        &self,
        server_name: ServerName<'static>,
        tcp: TcpStream,
    ) -> (io::Result<TlsStream<TcpStream>>, TlsFacts) {
        let sni = match &server_name {
            ServerName::DnsName(name) => Some(name.as_ref().to_owned()),
            _ => None,
        };
        let (result, recorded) =
            verifier::record_handshake(self.connector.connect(server_name, tcp)).await;
        let (chain, ocsp, verification) = match recorded {
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
