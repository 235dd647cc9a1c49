//! Facts read from served certificates with x509-parser. Parsing never panics; an unparsable
//! certificate yields `None` fields.

use rustls::pki_types::CertificateDer;
use x509_parser::prelude::{FromDer, X509Certificate};

/// What the probes and checks need from one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSummary {
    /// notBefore, Unix seconds.
    pub not_before: i64,
    /// notAfter, Unix seconds.
    pub not_after: i64,
    /// Subject common name, if any.
    pub subject_cn: Option<String>,
    /// Issuer common name, if any.
    pub issuer_cn: Option<String>,
    /// Subject and issuer are byte-identical.
    pub self_issued: bool,
}

/// Parses one DER certificate; `None` when it is not a valid X.509 certificate.
pub fn summarize(der: &CertificateDer<'_>) -> Option<CertSummary> {
    let (_, cert) = X509Certificate::from_der(der.as_ref()).ok()?;
    let cn = |name: &x509_parser::x509::X509Name<'_>| {
        name.iter_common_name()
            .next()
            .and_then(|a| a.as_str().ok())
            .map(str::to_owned)
    };
    Some(CertSummary {
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        subject_cn: cn(cert.subject()),
        issuer_cn: cn(cert.issuer()),
        self_issued: cert.subject().as_raw() == cert.issuer().as_raw(),
    })
}

/// The earliest notAfter across the certificates as served (blackbox's
/// `probe_ssl_earliest_cert_expiry`), skipping unparsable ones.
pub fn earliest_not_after(chain: &[CertificateDer<'static>]) -> Option<i64> {
    chain
        .iter()
        .filter_map(summarize)
        .map(|s| s.not_after)
        .min()
}
