//! A stapled OCSP response, read just far enough for tls_cert (CHECKS.md §9): the response
//! status, and for the single response about the leaf its CertID, certStatus, thisUpdate and
//! nextUpdate (RFC 6960 §4.2.1). The responder's signature is not verified: prodprobe reports
//! what the server staples, it does not act on it.
//!
//! A small DER reader keeps this self-contained; every length is checked against its
//! enclosing element, so hostile bytes give [`Staple::Malformed`], never a panic.

use serde::Serialize;

/// What the staple says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Staple {
    /// `responseStatus` other than successful (RFC 6960 §4.2.1: 1 malformedRequest, 2
    /// internalError, 3 tryLater, 5 sigRequired, 6 unauthorized).
    Unsuccessful {
        /// The status code.
        status: u8,
    },
    /// A successful basic response.
    Basic {
        /// The SingleResponses, in order.
        responses: Vec<SingleResponse>,
    },
    /// Not a parsable OCSP response.
    Malformed,
}

/// certStatus (RFC 6960 §4.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CertStatus {
    /// good.
    Good,
    /// revoked.
    Revoked,
    /// unknown.
    Unknown,
}

/// One SingleResponse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SingleResponse {
    /// CertID hash algorithm: `sha1`, `sha256`, or the OID.
    pub hash_algorithm: String,
    /// CertID issuerNameHash.
    #[serde(skip)]
    pub issuer_name_hash: Vec<u8>,
    /// CertID issuerKeyHash.
    #[serde(skip)]
    pub issuer_key_hash: Vec<u8>,
    /// CertID serialNumber content bytes.
    #[serde(skip)]
    pub serial: Vec<u8>,
    /// certStatus.
    pub status: CertStatus,
    /// thisUpdate, Unix seconds.
    pub this_update: i64,
    /// nextUpdate, Unix seconds, when present.
    pub next_update: Option<i64>,
}

impl SingleResponse {
    /// Whether this response is about the certificate with `serial` issued under the Name
    /// whose DER is `issuer_der` (RFC 6960 §4.1.1 CertID). For SHA-1 and SHA-256 CertIDs the
    /// issuer name hash is compared, and the issuer key hash against `issuer_keys`, the
    /// subjectPublicKey bits of the served certificates carrying that Name (several when a CA
    /// was re-keyed; none known when the issuer was not served, and then the name decides).
    /// Other algorithms are judged on the serial alone.
    pub fn is_for(&self, serial: &[u8], issuer_der: &[u8], issuer_keys: &[&[u8]]) -> bool {
        if strip_zeros(&self.serial) != strip_zeros(serial) {
            return false;
        }
        let alg = match self.hash_algorithm.as_str() {
            "sha1" => &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            "sha256" => &ring::digest::SHA256,
            _ => return true,
        };
        let hash = |b: &[u8]| ring::digest::digest(alg, b);
        hash(issuer_der).as_ref() == self.issuer_name_hash.as_slice()
            && (issuer_keys.is_empty()
                || issuer_keys
                    .iter()
                    .any(|k| hash(k).as_ref() == self.issuer_key_hash.as_slice()))
    }
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let first = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[first..]
}

/// A DER element: tag and contents.
#[derive(Debug, Clone, Copy)]
struct Tlv<'a> {
    tag: u8,
    body: &'a [u8],
}

/// Reads one TLV from the front of `input`; returns it and the rest.
fn tlv(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let tag = *input.first()?;
    if tag & 0x1f == 0x1f {
        return None; // high tag numbers never occur in OCSP
    }
    let first = *input.get(1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let bytes = input.get(2..2 + n)?;
        let len = bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, 2 + n)
    };
    let body = input.get(header..header.checked_add(len)?)?;
    Some((Tlv { tag, body }, &input[header + len..]))
}

fn expect(input: &[u8], tag: u8) -> Option<(Tlv<'_>, &[u8])> {
    let (t, rest) = tlv(input)?;
    (t.tag == tag).then_some((t, rest))
}

/// Parses a DER OCSPResponse (RFC 6960 §4.2.1).
pub fn parse(der: &[u8]) -> Staple {
    parse_inner(der).unwrap_or(Staple::Malformed)
}

fn parse_inner(der: &[u8]) -> Option<Staple> {
    let (resp, _) = expect(der, 0x30)?;
    let (status, rest) = expect(resp.body, 0x0a)?;
    let status = *status.body.first()?;
    if status != 0 {
        return Some(Staple::Unsuccessful { status });
    }
    // responseBytes [0] EXPLICIT ResponseBytes
    let (rb, _) = expect(rest, 0xa0)?;
    let (rb, _) = expect(rb.body, 0x30)?;
    let (oid, rest) = expect(rb.body, 0x06)?;
    // id-pkix-ocsp-basic 1.3.6.1.5.5.7.48.1.1
    if oid.body != [0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01] {
        return None;
    }
    let (octets, _) = expect(rest, 0x04)?;
    let (basic, _) = expect(octets.body, 0x30)?;
    let (tbs, _) = expect(basic.body, 0x30)?;
    let mut rest = tbs.body;
    // version [0] EXPLICIT DEFAULT v1
    if let Some((t, r)) = tlv(rest)
        && t.tag == 0xa0
    {
        rest = r;
    }
    // responderID: [1] Name or [2] KeyHash
    let (rid, r) = tlv(rest)?;
    if rid.tag != 0xa1 && rid.tag != 0xa2 {
        return None;
    }
    // producedAt
    let (_, r) = expect(r, 0x18)?;
    let (list, _) = expect(r, 0x30)?;
    let mut responses = Vec::new();
    let mut items = list.body;
    while !items.is_empty() {
        let (single, r) = expect(items, 0x30)?;
        responses.push(single_response(single.body)?);
        items = r;
        if responses.len() > 64 {
            return None;
        }
    }
    Some(Staple::Basic { responses })
}

fn single_response(body: &[u8]) -> Option<SingleResponse> {
    let (cert_id, rest) = expect(body, 0x30)?;
    let (alg, r) = expect(cert_id.body, 0x30)?;
    let (alg_oid, _) = expect(alg.body, 0x06)?;
    let hash_algorithm = match alg_oid.body {
        [0x2b, 0x0e, 0x03, 0x02, 0x1a] => "sha1".to_owned(),
        [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01] => "sha256".to_owned(),
        other => super::inspect::hex(other),
    };
    let (name_hash, r) = expect(r, 0x04)?;
    let (key_hash, r) = expect(r, 0x04)?;
    let (serial, _) = expect(r, 0x02)?;
    let (status, rest) = tlv(rest)?;
    let status = match status.tag {
        0x80 => CertStatus::Good,    // good [0] IMPLICIT NULL
        0xa1 => CertStatus::Revoked, // revoked [1] IMPLICIT RevokedInfo
        0x82 => CertStatus::Unknown, // unknown [2] IMPLICIT UnknownInfo
        _ => return None,
    };
    let (this_update, rest) = expect(rest, 0x18)?;
    let this_update = generalized_time(this_update.body)?;
    let next_update = match tlv(rest) {
        Some((t, _)) if t.tag == 0xa0 => {
            let (gt, _) = expect(t.body, 0x18)?;
            Some(generalized_time(gt.body)?)
        }
        _ => None,
    };
    Some(SingleResponse {
        hash_algorithm,
        issuer_name_hash: name_hash.body.to_vec(),
        issuer_key_hash: key_hash.body.to_vec(),
        serial: serial.body.to_vec(),
        status,
        this_update,
        next_update,
    })
}

/// `YYYYMMDDHHMMSS[.fff]Z` (RFC 5280 §4.1.2.5.2) to Unix seconds.
fn generalized_time(b: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(b).ok()?;
    let s = s.strip_suffix('Z')?;
    let main = s.split('.').next()?;
    if main.len() != 14 || !main.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| main[r].parse::<i64>().ok();
    let (y, mo, d) = (n(0..4)?, n(4..6)?, n(6..8)?);
    let (h, mi, se) = (n(8..10)?, n(10..12)?, n(12..14)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    // Responses made with `openssl ocsp` (OpenSSL 3.0.19) by a throw-away CA
    // (`ocsp-fixture-ca.der`, CN=prodprobe OCSP fixture CA): serial 1001 good, 1002 revoked,
    // 1003 unknown; nextUpdate in 2126.
    const GOOD: &[u8] = include_bytes!("testdata/ocsp-good-serial-1001.der");
    const REVOKED: &[u8] = include_bytes!("testdata/ocsp-revoked-serial-1002.der");
    const UNKNOWN: &[u8] = include_bytes!("testdata/ocsp-unknown-serial-1003.der");
    const CA: &[u8] = include_bytes!("testdata/ocsp-fixture-ca.der");

    fn ca_subject() -> Vec<u8> {
        use x509_parser::prelude::{FromDer, X509Certificate};
        let (_, ca) = X509Certificate::from_der(CA).unwrap();
        ca.subject().as_raw().to_vec()
    }

    fn ca_key() -> Vec<u8> {
        use x509_parser::prelude::{FromDer, X509Certificate};
        let (_, ca) = X509Certificate::from_der(CA).unwrap();
        ca.public_key().subject_public_key.data.to_vec()
    }

    fn single(der: &[u8]) -> SingleResponse {
        match parse(der) {
            Staple::Basic { mut responses } => {
                assert_eq!(responses.len(), 1);
                responses.remove(0)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn openssl_responses_on_committed_bytes() {
        let good = single(GOOD);
        assert_eq!(good.status, CertStatus::Good);
        assert_eq!(good.hash_algorithm, "sha1");
        assert_eq!(good.serial, [0x10, 0x01]);
        assert!(good.next_update.unwrap() > 4_900_000_000, "2126");
        assert!(good.this_update > 1_700_000_000);
        let key = ca_key();
        assert!(
            good.is_for(&[0x10, 0x01], &ca_subject(), &[]),
            "issuer not served"
        );
        assert!(good.is_for(&[0x10, 0x01], &ca_subject(), &[&key]));
        assert!(good.is_for(&[0x10, 0x01], &ca_subject(), &[b"re-keyed", &key]));
        assert!(
            !good.is_for(&[0x10, 0x02], &ca_subject(), &[&key]),
            "another serial"
        );
        assert!(
            !good.is_for(&[0x10, 0x01], &[0x30, 0x00], &[&key]),
            "another issuer"
        );
        assert!(
            !good.is_for(&[0x10, 0x01], &ca_subject(), &[b"another key"]),
            "same issuer name, another issuer key"
        );
        assert_eq!(single(REVOKED).status, CertStatus::Revoked);
        assert_eq!(single(UNKNOWN).status, CertStatus::Unknown);
    }

    #[test]
    fn unsuccessful_and_malformed_responses() {
        // OCSPResponse { responseStatus tryLater(3) }.
        assert_eq!(
            parse(&[0x30, 0x03, 0x0a, 0x01, 0x03]),
            Staple::Unsuccessful { status: 3 }
        );
        assert_eq!(parse(&[]), Staple::Malformed);
        assert_eq!(parse(b"not der"), Staple::Malformed);
        // Every truncation of a real response is malformed, never a panic.
        for cut in 0..GOOD.len() {
            assert_eq!(parse(&GOOD[..cut]), Staple::Malformed, "cut {cut}");
        }
        let mut flipped = GOOD.to_vec();
        for i in 0..flipped.len() {
            flipped[i] ^= 0xff;
            let _ = parse(&flipped);
            flipped[i] ^= 0xff;
        }
    }

    #[test]
    fn generalized_times() {
        assert_eq!(generalized_time(b"19700101000000Z"), Some(0));
        assert_eq!(generalized_time(b"20000301000000Z"), Some(951_868_800));
        assert_eq!(generalized_time(b"20240229120000.5Z"), Some(1_709_208_000));
        assert_eq!(generalized_time(b"2024022912000Z"), None);
        assert_eq!(generalized_time(b"20241329120000Z"), None);
    }
}
