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

/// One DER TLV (X.690 §8.1) with a definite length: (tag, contents, what follows). `None` for
/// a long-form tag, an indefinite or overlong length, or a length past the input.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// id-signedData, 1.2.840.113549.1.7.2 (RFC 5652 §5.1), as DER contents.
const SIGNED_DATA: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];

/// The certificates of a DER "certs-only" CMS / PKCS #7 SignedData message (RFC 5652 §5.1), the
/// form RFC 5280 §4.2.2.1 allows besides a single certificate at an AIA caIssuers URL (`.p7c`):
/// `ContentInfo { signedData, [0] SignedData { version, digestAlgorithms, encapContentInfo,
/// [0] IMPLICIT certificates, … } }`. At most `max`; empty when `der` is not such a message.
pub fn certs_only_cms(der: &[u8], max: usize) -> Vec<CertificateDer<'static>> {
    let certs = || -> Option<Vec<CertificateDer<'static>>> {
        let (0x30, content_info, _) = tlv(der)? else {
            return None;
        };
        let (0x06, oid, rest) = tlv(content_info)? else {
            return None;
        };
        if oid != SIGNED_DATA {
            return None;
        }
        let (0xa0, explicit, _) = tlv(rest)? else {
            return None;
        };
        let (0x30, signed_data, _) = tlv(explicit)? else {
            return None;
        };
        // version, digestAlgorithms, encapContentInfo, then the optional [0] certificates.
        let mut rest = signed_data;
        for want in [0x02, 0x31, 0x30] {
            let (tag, _, next) = tlv(rest)?;
            if tag != want {
                return None;
            }
            rest = next;
        }
        let (0xa0, mut set, _) = tlv(rest)? else {
            return None;
        };
        let mut out = Vec::new();
        while out.len() < max {
            let Some((tag, _, next)) = tlv(set) else {
                break;
            };
            // A CertificateChoices that is a plain Certificate (a SEQUENCE); the other
            // choices are context-tagged and skipped.
            if tag == 0x30 {
                out.push(CertificateDer::from(set[..set.len() - next.len()].to_vec()));
            }
            set = next;
        }
        Some(out)
    };
    certs().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A certs-only message around `certs` (each a DER SEQUENCE), with short-form lengths.
    fn message(certs: &[&[u8]]) -> Vec<u8> {
        fn wrap(tag: u8, body: &[u8]) -> Vec<u8> {
            let mut v = vec![tag, u8::try_from(body.len()).unwrap()];
            v.extend_from_slice(body);
            v
        }
        let set: Vec<u8> = certs.concat();
        let mut sd = wrap(0x02, &[1]);
        sd.extend(wrap(0x31, &[]));
        sd.extend(wrap(
            0x30,
            &wrap(
                0x06,
                &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01],
            ),
        ));
        sd.extend(wrap(0xa0, &set));
        sd.extend(wrap(0x31, &[]));
        let mut ci = wrap(0x06, &SIGNED_DATA);
        ci.extend(wrap(0xa0, &wrap(0x30, &sd)));
        wrap(0x30, &ci)
    }

    #[test]
    fn certificates_of_a_certs_only_message_and_nothing_else() {
        let (a, b) = (&[0x30, 0x01, 0xaa][..], &[0x30, 0x02, 0xbb, 0xcc][..]);
        let m = message(&[a, b]);
        let got = certs_only_cms(&m, 4);
        assert_eq!(got.iter().map(|c| c.as_ref()).collect::<Vec<_>>(), [a, b]);
        assert_eq!(certs_only_cms(&m, 1).len(), 1, "bounded");
        // Every truncation, and a wrong content type, yield nothing.
        for n in 0..m.len() {
            assert!(certs_only_cms(&m[..n], 4).is_empty(), "{n}");
        }
        let mut other = m.clone();
        other[12] = 0x01; // id-data instead of id-signedData
        assert!(certs_only_cms(&other, 4).is_empty());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            prop_assert!(certs_only_cms(&bytes, 4).len() <= 4);
        }
    }
}
