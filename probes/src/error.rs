//! The library's error type: only construction can fail; probes never return errors
//! (failures are evidence).

use thiserror::Error;

/// Errors from building library components (TLS clients, resolvers).
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The DNS resolver could not be built. Configure `resolver.nameservers` explicitly
    /// when the system configuration is missing or unreadable.
    #[error("cannot build DNS resolver: {0}")]
    Resolver(String),
    /// A CA certificate was rejected as a trust anchor. Check that the file holds PEM
    /// `CERTIFICATE` blocks of CA certificates.
    #[error("invalid CA certificate: {0}")]
    InvalidCa(String),
    /// The TLS client configuration could not be built (unsupported protocol set).
    #[error("cannot build TLS client: {0}")]
    Tls(String),
    /// The client certificate and key (mutual TLS) are unusable: the key type is not supported
    /// or the key does not belong to the certificate.
    #[error("unusable client certificate: {0}")]
    ClientCert(String),
}
