//! The recording certificate verifier.
//!
//! rustls calls `verify_server_cert` with the chain exactly as served and the stapled OCSP
//! response. We store both, run WebPKI's own verification, store its verdict, and always let
//! the handshake continue: expiry and chain metrics must survive an expired, self-signed or
//! misnamed certificate. Whoever reads the record decides what an unverified connection may
//! carry (never credentials).
//!
//! One verifier lives inside each (shared, built-once) `ClientConfig`. rustls has no
//! per-connection verifier hook, so the record goes to a task-local slot that
//! [`record_handshake`] opens around one handshake: tokio-rustls drives the handshake inside the
//! awaiting task's poll, so the callback runs in that task's scope and nowhere else.

use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{CertificateError, DigitallySignedStruct, Error as TlsError, SignatureScheme};

/// What the verifier saw during one handshake.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub(crate) chain: Vec<CertificateDer<'static>>,
    pub(crate) ocsp: Option<Vec<u8>>,
    pub(crate) result: Result<(), TlsError>,
}

/// What one handshake showed: the verifier's record, and whether the server asked for a
/// client certificate (a CertificateRequest, RFC 8446 §4.3.2 / RFC 5246 §7.4.4).
#[derive(Debug, Default)]
pub(crate) struct Observed {
    pub(crate) recorded: Option<Recorded>,
    pub(crate) client_cert_requested: bool,
}

tokio::task_local! {
    static SLOT: RefCell<Observed>;
}

/// Runs `handshake` with a fresh record slot and returns its output with what it showed.
pub(crate) async fn record_handshake<F: Future>(handshake: F) -> (F::Output, Observed) {
    SLOT.scope(RefCell::new(Observed::default()), async move {
        let out = handshake.await;
        let observed = SLOT.with(|slot| std::mem::take(&mut *slot.borrow_mut()));
        (out, observed)
    })
    .await
}

/// The client-certificate resolver: records that the server asked for a certificate, so that
/// a server demanding mutual TLS is reported as such rather than as a handshake or connection
/// error without a cause, and answers with the configured certificate, if any (only in the
/// strict configuration built for the target's own host, [`super::TlsClient::with_client_cert`]).
#[derive(Debug)]
pub(crate) struct ClientCert(pub(crate) Option<Arc<CertifiedKey>>);

impl ResolvesClientCert for ClientCert {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        let _ = SLOT.try_with(|slot| slot.borrow_mut().client_cert_requested = true);
        self.0.clone()
    }

    fn has_certs(&self) -> bool {
        self.0.is_some()
    }
}

/// Wraps the shared WebPKI verifier; built once per trust configuration.
#[derive(Debug)]
pub(crate) struct RecordingVerifier {
    inner: Arc<WebPkiServerVerifier>,
    /// Abort the handshake (after recording) when verification fails: for connections that
    /// present a client certificate, which must never reach a server that failed it.
    strict: bool,
}

impl RecordingVerifier {
    pub(crate) fn new(inner: Arc<WebPkiServerVerifier>) -> Self {
        RecordingVerifier {
            inner,
            strict: false,
        }
    }

    /// A verifier that records, then fails the handshake on a certificate that fails.
    pub(crate) fn strict(inner: Arc<WebPkiServerVerifier>) -> Self {
        RecordingVerifier {
            inner,
            strict: true,
        }
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        let result = self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map(|_| ());
        let mut chain = Vec::with_capacity(1 + intermediates.len());
        chain.push(end_entity.clone().into_owned());
        chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        let refused = match &result {
            Err(e) if self.strict => Some(e.clone()),
            _ => None,
        };
        let record = Recorded {
            chain,
            ocsp: (!ocsp_response.is_empty()).then(|| ocsp_response.to_vec()),
            result,
        };
        // Outside a recording scope (never in prodprobe) the record is simply dropped.
        let _ = SLOT.try_with(|slot| slot.borrow_mut().recorded = Some(record));
        match refused {
            Some(e) => Err(e),
            None => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.after_failed_chain(self.inner.verify_tls12_signature(message, cert, dss))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.after_failed_chain(self.inner.verify_tls13_signature(message, cert, dss))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

impl RecordingVerifier {
    /// A leaf WebPKI cannot parse (an X.509 v1 certificate, such as browser-sync's bundled one)
    /// fails the handshake signature check as well, on certificate grounds, which would end
    /// the handshake although its chain was recorded as failed like any expired or self-signed
    /// one. When this handshake's chain already failed verification, the connection is
    /// unverified whatever the signature says (nothing that needs an authenticated peer is
    /// sent on it), so it goes on as theirs do. A chain that verified is never excused.
    fn after_failed_chain(
        &self,
        checked: Result<HandshakeSignatureValid, TlsError>,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        let chain_failed = || {
            SLOT.try_with(|slot| {
                slot.borrow()
                    .recorded
                    .as_ref()
                    .is_some_and(|r| r.result.is_err())
            })
            .unwrap_or(false)
        };
        match checked {
            Err(TlsError::InvalidCertificate(_)) if !self.strict && chain_failed() => {
                Ok(HandshakeSignatureValid::assertion())
            }
            other => other,
        }
    }
}

/// Maps a WebPKI verdict to a low-cardinality reason (the `reason` label of the TLS metrics).
pub(crate) fn reason(e: &TlsError) -> &'static str {
    match e {
        TlsError::InvalidCertificate(c) => match c {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => "expired",
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "not_yet_valid"
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                "hostname_mismatch"
            }
            CertificateError::UnknownIssuer => "unknown_issuer",
            CertificateError::BadSignature => "bad_signature",
            #[allow(deprecated)]
            CertificateError::UnsupportedSignatureAlgorithm => "unsupported_signature_algorithm",
            CertificateError::UnsupportedSignatureAlgorithmContext { .. }
            | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
                "unsupported_signature_algorithm"
            }
            CertificateError::Revoked => "revoked",
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                "invalid_purpose"
            }
            CertificateError::BadEncoding => "bad_encoding",
            // rustls passes these WebPKI verdicts on as `Other`, named by their Debug form.
            CertificateError::Other(o) => {
                let name = o.to_string();
                match name.as_str() {
                    // `openssl req -x509` makes a CA:TRUE certificate, refused as a leaf.
                    "CaUsedAsEndEntity" => "ca_used_as_end_entity",
                    "EndEntityUsedAsCa" => "end_entity_used_as_ca",
                    "MaximumPathDepthExceeded" | "MaximumPathBuildCallsExceeded" => {
                        "chain_too_long"
                    }
                    // X.509 v1 (no extensions, so no SAN): WebPKI and browsers refuse it.
                    "UnsupportedCertVersion" => "unsupported_cert_version",
                    _ => "invalid_certificate",
                }
            }
            _ => "invalid_certificate",
        },
        _ => "invalid_certificate",
    }
}
