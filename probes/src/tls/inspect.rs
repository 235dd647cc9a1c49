//! What tls_cert needs from each served certificate, read with x509-parser: names, key,
//! signature algorithm, AIA caIssuers, the TLS Feature (must-staple) extension. Parsing never
//! panics; an unparsable certificate yields `None`.

use std::net::IpAddr;

use rustls::pki_types::CertificateDer;
use serde::Serialize;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::RSAPublicKey;
use x509_parser::signature_algorithm::RsaSsaPssParams;
use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo};

use super::cert::{CertSummary, summarize};

/// The public key of a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// RSA.
    Rsa,
    /// An EC key on a named curve: `P-256`, `P-384`, `P-521` or the curve's OID.
    Ec(String),
    /// DSA.
    Dsa,
    /// Ed25519.
    Ed25519,
    /// Ed448.
    Ed448,
    /// Anything else (the algorithm OID).
    Other(String),
}

impl KeyKind {
    /// The `key_type` label value (`rsa`, `ec-p256`, `dsa`, `ed25519` …).
    pub fn label(&self) -> String {
        match self {
            KeyKind::Rsa => "rsa".into(),
            KeyKind::Ec(curve) => format!("ec-{}", curve.to_ascii_lowercase().replace('-', "")),
            KeyKind::Dsa => "dsa".into(),
            KeyKind::Ed25519 => "ed25519".into(),
            KeyKind::Ed448 => "ed448".into(),
            KeyKind::Other(oid) => format!("other-{oid}"),
        }
    }
}

/// Everything tls_cert reads from one certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertDetails {
    /// Validity and common names.
    #[serde(skip)]
    pub summary: CertSummary,
    /// Subject, RFC 4514 style.
    pub subject: String,
    /// Issuer, RFC 4514 style.
    pub issuer: String,
    /// Serial number, hex.
    pub serial: String,
    /// Serial number, the INTEGER's content bytes.
    #[serde(skip)]
    pub serial_bytes: Vec<u8>,
    /// SHA-256 of the DER, lower-case hex (blackbox's `fingerprint_sha256`).
    pub sha256: String,
    /// SAN dNSNames, as written.
    pub dns_names: Vec<String>,
    /// SAN iPAddresses.
    pub ip_addresses: Vec<IpAddr>,
    /// Public key type.
    pub key: KeyKind,
    /// Public key size in bits (RSA modulus bit length, EC named curve size; 0 when unknown).
    pub key_bits: u32,
    /// Signature algorithm name (`sha256WithRSAEncryption`, `ecdsa-with-SHA256`,
    /// `rsassaPss-SHA256`, …).
    pub sig_alg: String,
    /// Signed with SHA-1 or MD5 (CHECKS.md §9 `weak_signature`).
    pub weak_signature: bool,
    /// basicConstraints cA.
    pub is_ca: bool,
    /// AIA caIssuers URLs (http only: fetching one must not need TLS).
    pub ca_issuers: Vec<String>,
    /// TLS Feature extension (RFC 7633) lists status_request: must-staple.
    pub must_staple: bool,
    /// The issuer Name, DER with its header (OCSP issuerNameHash input).
    #[serde(skip)]
    pub issuer_der: Vec<u8>,
    /// Subject and issuer Name contents (DER without the SEQUENCE header), as webpki stores
    /// trust-anchor subjects.
    #[serde(skip)]
    pub subject_contents: Vec<u8>,
    /// See `subject_contents`.
    #[serde(skip)]
    pub issuer_contents: Vec<u8>,
    /// The subjectPublicKey BIT STRING's bits (OCSP issuerKeyHash input, RFC 6960 §4.1.1).
    #[serde(skip)]
    pub public_key: Vec<u8>,
}

/// OID of the TLS Feature extension (RFC 7633).
const TLS_FEATURE: &str = "1.3.6.1.5.5.7.1.24";
/// id-ad-caIssuers (RFC 5280 §4.2.2.1).
const CA_ISSUERS: &str = "1.3.6.1.5.5.7.48.2";

/// The contents of a DER TLV (tag and length stripped); the input if it is not one.
pub fn der_contents(der: &[u8]) -> &[u8] {
    if der.len() < 2 {
        return der;
    }
    let (len, header) = match der[1] {
        n if n < 0x80 => (usize::from(n), 2),
        0x81 if der.len() >= 3 => (usize::from(der[2]), 3),
        0x82 if der.len() >= 4 => (usize::from(u16::from_be_bytes([der[2], der[3]])), 4),
        _ => return der,
    };
    der.get(header..header + len).unwrap_or(der)
}

fn sig_name(oid: &str) -> (String, bool) {
    let (name, weak) = match oid {
        "1.2.840.113549.1.1.4" => ("md5WithRSAEncryption", true),
        "1.2.840.113549.1.1.5" => ("sha1WithRSAEncryption", true),
        "1.2.840.113549.1.1.11" => ("sha256WithRSAEncryption", false),
        "1.2.840.113549.1.1.12" => ("sha384WithRSAEncryption", false),
        "1.2.840.113549.1.1.13" => ("sha512WithRSAEncryption", false),
        "1.2.840.10045.4.1" => ("ecdsa-with-SHA1", true),
        "1.2.840.10045.4.3.2" => ("ecdsa-with-SHA256", false),
        "1.2.840.10045.4.3.3" => ("ecdsa-with-SHA384", false),
        "1.2.840.10045.4.3.4" => ("ecdsa-with-SHA512", false),
        "1.2.840.10040.4.3" => ("dsa-with-sha1", true),
        "1.3.101.112" => ("ed25519", false),
        "1.3.101.113" => ("ed448", false),
        "1.3.14.3.2.29" => ("sha1WithRSA", true),
        other => return (other.to_owned(), false),
    };
    (name.to_owned(), weak)
}

/// The name and weakness of an RSASSA-PSS signature (RFC 4055 §3.1): `rsassaPss-` and the
/// hash of its parameters, SHA-1 when hashAlgorithm is absent (its DEFAULT) or, against §3.1's
/// MUST, the parameters are; SHA-1 and MD5 are weak. Parameters that do not parse name no
/// hash and are not evidence of a weak one.
fn pss_name(alg: &AlgorithmIdentifier<'_>) -> (String, bool) {
    let hash = match &alg.parameters {
        None => Some(SHA1.to_owned()),
        Some(params) => RsaSsaPssParams::try_from(params)
            .ok()
            .map(|p| p.hash_algorithm_oid().to_id_string()),
    };
    let (name, weak) = match hash.as_deref() {
        None => return ("rsassaPss".to_owned(), false),
        Some(SHA1) => ("SHA1", true),
        Some("1.2.840.113549.2.5") => ("MD5", true),
        Some("2.16.840.1.101.3.4.2.4") => ("SHA224", false),
        Some("2.16.840.1.101.3.4.2.1") => ("SHA256", false),
        Some("2.16.840.1.101.3.4.2.2") => ("SHA384", false),
        Some("2.16.840.1.101.3.4.2.3") => ("SHA512", false),
        Some(other) => (other, false),
    };
    (format!("rsassaPss-{name}"), weak)
}

/// id-sha1 (RFC 4055 §2.1).
const SHA1: &str = "1.3.14.3.2.26";

/// The signature algorithm's name and whether it is weak (SHA-1 or MD5).
fn signature(alg: &AlgorithmIdentifier<'_>) -> (String, bool) {
    match alg.algorithm.to_id_string().as_str() {
        RSASSA_PSS => pss_name(alg),
        oid => sig_name(oid),
    }
}

fn curve_name(oid: &str) -> String {
    match oid {
        "1.2.840.10045.3.1.7" => "P-256".into(),
        "1.3.132.0.34" => "P-384".into(),
        "1.3.132.0.35" => "P-521".into(),
        other => other.to_owned(),
    }
}

/// rsaEncryption (RFC 8017 App. C).
const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
/// id-RSASSA-PSS (RFC 4055 §1.2): as a key algorithm, an RSA key restricted to PSS; as a
/// signature algorithm, its hash is in the parameters.
const RSASSA_PSS: &str = "1.2.840.113549.1.1.10";

/// The kind of a certificate's public key.
fn key_kind(spki: &SubjectPublicKeyInfo<'_>) -> KeyKind {
    match spki.algorithm.algorithm.to_id_string().as_str() {
        RSA_ENCRYPTION | RSASSA_PSS => KeyKind::Rsa,
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| curve_name(&o.to_id_string()))
                .unwrap_or_else(|| "unknown".into());
            KeyKind::Ec(curve)
        }
        "1.2.840.10040.4.1" => KeyKind::Dsa,
        "1.3.101.112" => KeyKind::Ed25519,
        "1.3.101.113" => KeyKind::Ed448,
        other => KeyKind::Other(other.to_owned()),
    }
}

/// The key size in bits (0 when unknown): an RSA modulus's bit length (rsaEncryption, and
/// id-RSASSA-PSS, whose subjectPublicKey holds the same RSAPublicKey, RFC 4055 §1.2), a named
/// curve's size, otherwise x509-parser's count. That count is off for both: it drops the
/// modulus's first byte and counts whole bytes (a 2047-bit modulus reads 2040), and counts an
/// EC point's coordinate bytes (P-521's 66 read 528).
fn key_size(spki: &SubjectPublicKeyInfo<'_>, key: &KeyKind) -> u32 {
    let bits = match key {
        KeyKind::Rsa => RSAPublicKey::from_der(&spki.subject_public_key.data)
            .map_or(0, |(_, k)| bit_length(k.modulus)),
        KeyKind::Ec(curve) if curve == "P-256" => 256,
        KeyKind::Ec(curve) if curve == "P-384" => 384,
        KeyKind::Ec(curve) if curve == "P-521" => 521,
        KeyKind::Ed25519 => 256,
        KeyKind::Ed448 => 456,
        _ => spki.parsed().map_or(0, |k| k.key_size()),
    };
    u32::try_from(bits).unwrap_or(u32::MAX)
}

/// The bit length of an unsigned big-endian integer (a DER INTEGER's contents: leading zero
/// bytes do not count).
fn bit_length(int: &[u8]) -> usize {
    let int = &int[int.iter().take_while(|&&b| b == 0).count()..];
    int.first().map_or(0, |&first| {
        (int.len() - 1) * 8 + (8 - first.leading_zeros() as usize)
    })
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads one certificate; `None` when it is not a valid X.509 certificate.
pub fn inspect(der: &CertificateDer<'_>) -> Option<CertDetails> {
    let summary = summarize(der)?;
    let (_, cert) = X509Certificate::from_der(der.as_ref()).ok()?;
    let mut dns_names = Vec::new();
    let mut ip_addresses = Vec::new();
    let mut ca_issuers = Vec::new();
    let mut must_staple = false;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                for name in &san.general_names {
                    match name {
                        GeneralName::DNSName(d) => dns_names.push((*d).to_owned()),
                        GeneralName::IPAddress(b) => match b.len() {
                            4 => {
                                let a: [u8; 4] = (*b).try_into().unwrap_or([0; 4]);
                                ip_addresses.push(IpAddr::from(a));
                            }
                            16 => {
                                let a: [u8; 16] = (*b).try_into().unwrap_or([0; 16]);
                                ip_addresses.push(IpAddr::from(a));
                            }
                            _ => {}
                        },
                        _ => {}
                    }
                }
            }
            ParsedExtension::AuthorityInfoAccess(aia) => {
                for d in aia.iter() {
                    if d.access_method.to_id_string() == CA_ISSUERS
                        && let GeneralName::URI(uri) = d.access_location
                        && uri.starts_with("http://")
                    {
                        ca_issuers.push(uri.to_owned());
                    }
                }
            }
            _ => {
                if ext.oid.to_id_string() == TLS_FEATURE {
                    must_staple = tls_feature_has_status_request(ext.value);
                }
            }
        }
    }
    let spki = cert.public_key();
    let key = key_kind(spki);
    let key_bits = key_size(spki, &key);
    let (sig_alg, weak_signature) = signature(&cert.signature_algorithm);
    let sha256 = hex(ring::digest::digest(&ring::digest::SHA256, der.as_ref()).as_ref());
    let serial_bytes = cert.raw_serial().to_vec();
    Some(CertDetails {
        summary,
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        serial: hex(&serial_bytes),
        serial_bytes,
        sha256,
        dns_names,
        ip_addresses,
        key,
        key_bits,
        sig_alg,
        weak_signature,
        is_ca: cert.is_ca(),
        ca_issuers,
        must_staple,
        issuer_der: cert.issuer().as_raw().to_vec(),
        subject_contents: der_contents(cert.subject().as_raw()).to_vec(),
        issuer_contents: der_contents(cert.issuer().as_raw()).to_vec(),
        public_key: spki.subject_public_key.data.to_vec(),
    })
}

/// RFC 7633 §6: `Features ::= SEQUENCE OF INTEGER`; status_request is 5 (RFC 6066 §8).
fn tls_feature_has_status_request(value: &[u8]) -> bool {
    if value.first() != Some(&0x30) {
        return false;
    }
    let mut rest = der_contents(value);
    while rest.len() >= 3 {
        if rest[0] != 0x02 {
            return false;
        }
        let len = usize::from(rest[1]);
        let Some(int) = rest.get(2..2 + len) else {
            return false;
        };
        if int == [0x05] {
            return true;
        }
        rest = &rest[2 + len..];
    }
    false
}

/// Whether `host` matches a certificate's SANs (CHECKS.md §9; RFC 9525, RFC 9110 §4.3.4):
/// DNS names ASCII case-insensitively with trailing dots ignored, `*` only as the whole
/// left-most label matching exactly one label (never a public suffix-sized remainder of one
/// label); IP targets against iPAddress SANs only. The CN is never consulted.
pub fn host_matches(host: &str, dns_names: &[String], ip_addresses: &[IpAddr]) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return ip_addresses.contains(&ip);
    }
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    dns_names.iter().any(|pattern| {
        let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
        match pattern.strip_prefix("*.") {
            Some(rest) => {
                // Two labels at least after the wildcard: `*.com` matches nothing.
                if !rest.contains('.') || rest.contains('*') {
                    return false;
                }
                match host.split_once('.') {
                    Some((first, tail)) => !first.is_empty() && tail == rest,
                    None => false,
                }
            }
            None => !pattern.contains('*') && pattern == host,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_cover_exactly_one_label() {
        let names = vec!["*.example.com".to_owned(), "Exact.Example.org".to_owned()];
        let m = |h: &str| host_matches(h, &names, &[]);
        assert!(m("a.example.com"));
        assert!(m("A.EXAMPLE.COM."));
        assert!(!m("example.com"));
        assert!(!m("a.b.example.com"));
        assert!(m("exact.example.org"));
        assert!(!m("x.exact.example.org"));
        assert!(!host_matches("a.com", &["*.com".into()], &[]));
        assert!(!host_matches(
            "ab.example.com",
            &["a*.example.com".into()],
            &[]
        ));
    }

    #[test]
    fn ip_targets_match_ip_sans_only() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(host_matches("127.0.0.1", &[], &[ip]));
        assert!(!host_matches("127.0.0.1", &["127.0.0.1".into()], &[]));
        let v6: IpAddr = "::1".parse().unwrap();
        assert!(host_matches("[::1]", &[], &[v6]));
    }

    #[test]
    fn tls_feature_values() {
        assert!(tls_feature_has_status_request(&[
            0x30, 0x03, 0x02, 0x01, 0x05
        ]));
        assert!(tls_feature_has_status_request(&[
            0x30, 0x06, 0x02, 0x01, 0x11, 0x02, 0x01, 0x05
        ]));
        assert!(!tls_feature_has_status_request(&[
            0x30, 0x03, 0x02, 0x01, 0x11
        ]));
        assert!(!tls_feature_has_status_request(&[0x30, 0x05, 0x02, 0x09]));
        assert!(!tls_feature_has_status_request(&[]));
    }

    /// A DER TLV with a short or one/two-byte long-form length.
    fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        match body.len() {
            n if n < 0x80 => out.push(n as u8),
            n if n < 0x100 => out.extend([0x81, n as u8]),
            n => out.extend([0x82, (n >> 8) as u8, n as u8]),
        }
        out.extend_from_slice(body);
        out
    }

    /// A modulus of exactly `bits` bits, as DER INTEGER contents (a leading zero byte when
    /// its top bit is set).
    fn modulus(bits: usize) -> Vec<u8> {
        let mut m = vec![0x5a; bits.div_ceil(8)];
        let high = 1u8 << ((bits - 1) % 8);
        m[0] = high | (0x5a & (high - 1));
        if high == 0x80 {
            m.insert(0, 0x00);
        }
        m
    }

    /// A hand-built SubjectPublicKeyInfo for an RSA key of `bits` under `oid` (DER contents),
    /// with `params` appended to the AlgorithmIdentifier.
    fn rsa_spki(oid: &[u8], params: &[u8], bits: usize) -> Vec<u8> {
        let rsa_key = tlv(
            0x30,
            &[tlv(0x02, &modulus(bits)), tlv(0x02, &[0x01, 0x00, 0x01])].concat(),
        );
        let alg = tlv(0x30, &[tlv(0x06, oid), params.to_vec()].concat());
        let bit_string = tlv(0x03, &[&[0x00][..], &rsa_key].concat());
        tlv(0x30, &[alg, bit_string].concat())
    }

    #[test]
    fn rsa_keys_have_their_modulus_bit_length() {
        const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
        const PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
        for (oid, params, bits) in [
            (RSA, &[0x05, 0x00][..], 2048),
            // Not a whole number of bytes: x509-parser read 2040 and 4088.
            (RSA, &[0x05, 0x00][..], 2047),
            (RSA, &[0x05, 0x00][..], 4095),
            // id-RSASSA-PSS, parameters absent (RFC 4055 §1.2) or an empty RSASSA-PSS-params.
            (PSS, &[][..], 2048),
            (PSS, &[0x30, 0x00][..], 3072),
            (PSS, &[][..], 1024),
            (PSS, &[][..], 2047),
        ] {
            let der = rsa_spki(oid, params, bits);
            let (_, spki) = SubjectPublicKeyInfo::from_der(&der).unwrap();
            assert_eq!(key_kind(&spki), KeyKind::Rsa);
            assert_eq!(
                key_size(&spki, &KeyKind::Rsa),
                bits as u32,
                "{oid:02x?} {bits}"
            );
        }
        assert_eq!(bit_length(&[0x00, 0x00, 0x01]), 1);
        assert_eq!(bit_length(&[0x00]), 0);
        assert_eq!(bit_length(&[]), 0);
    }

    #[test]
    fn ec_keys_have_their_curve_size() {
        const EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
        // (curve OID, coordinate bytes, name, bits): P-521's coordinates are 66 bytes.
        for (curve, len, name, bits) in [
            (
                &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07][..],
                32,
                "P-256",
                256,
            ),
            (&[0x2b, 0x81, 0x04, 0x00, 0x22][..], 48, "P-384", 384),
            (&[0x2b, 0x81, 0x04, 0x00, 0x23][..], 66, "P-521", 521),
        ] {
            let alg = tlv(0x30, &[tlv(0x06, EC), tlv(0x06, curve)].concat());
            let mut point = vec![0x00, 0x04];
            point.resize(2 + 2 * len, 0x5a);
            let der = tlv(0x30, &[alg, tlv(0x03, &point)].concat());
            let (_, spki) = SubjectPublicKeyInfo::from_der(&der).unwrap();
            let key = key_kind(&spki);
            assert_eq!(key, KeyKind::Ec(name.into()));
            assert_eq!(key_size(&spki, &key), bits, "{name}");
        }
    }

    #[test]
    fn rsassa_pss_signatures_are_named_and_judged_by_their_hash() {
        const PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
        const SHA256_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
        const SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
        const SHA1: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1a];
        const MD5: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x05];
        // RSASSA-PSS-params with hashAlgorithm [0] set to `hash`.
        let with_hash = |hash: &[u8]| {
            let alg = tlv(0x30, &[tlv(0x06, hash), vec![0x05, 0x00]].concat());
            tlv(0x30, &tlv(0xa0, &alg))
        };
        for (oid, params, want) in [
            // hashAlgorithm absent: its DEFAULT, SHA-1 (RFC 4055 §3.1).
            (PSS, tlv(0x30, &[]), ("rsassaPss-SHA1", true)),
            // No parameters at all (§3.1 requires them with a signature): every DEFAULT.
            (PSS, Vec::new(), ("rsassaPss-SHA1", true)),
            (PSS, with_hash(SHA1), ("rsassaPss-SHA1", true)),
            (PSS, with_hash(MD5), ("rsassaPss-MD5", true)),
            (PSS, with_hash(SHA256), ("rsassaPss-SHA256", false)),
            // Parameters that are no RSASSA-PSS-params: no hash named, none judged weak.
            (PSS, vec![0x05, 0x00], ("rsassaPss", false)),
            (
                SHA256_RSA,
                vec![0x05, 0x00],
                ("sha256WithRSAEncryption", false),
            ),
        ] {
            let der = tlv(0x30, &[tlv(0x06, oid), params.clone()].concat());
            let (_, alg) = AlgorithmIdentifier::from_der(&der).unwrap();
            assert_eq!(
                signature(&alg),
                (want.0.to_owned(), want.1),
                "{params:02x?}"
            );
        }
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert!(inspect(&CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x05])).is_none());
        assert!(inspect(&CertificateDer::from(Vec::new())).is_none());
    }
}
