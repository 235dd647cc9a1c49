//! A few DER structures the tests serve: the AIA and TLS Feature extensions rcgen has no
//! builder for, and stapled OCSP responses (RFC 6960 §4.2.1; the signature is filler, since
//! prodprobe reports staples without verifying them).

fn len(n: usize) -> Vec<u8> {
    if n < 0x80 {
        vec![n as u8]
    } else if n < 0x100 {
        vec![0x81, n as u8]
    } else {
        vec![0x82, (n >> 8) as u8, n as u8]
    }
}

pub fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(len(body.len()));
    out.extend_from_slice(body);
    out
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

fn gtime(unix: i64) -> Vec<u8> {
    let t = time::OffsetDateTime::from_unix_timestamp(unix).unwrap();
    let s = format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    tlv(0x18, s.as_bytes())
}

/// OID 1.3.6.1.5.5.7.1.1 (authorityInfoAccess) and its value with one caIssuers URI.
pub fn aia_ca_issuers(url: &str) -> rcgen::CustomExtension {
    aia_ca_issuers_list(&[url])
}

/// An AIA extension listing several caIssuers URLs, in order.
pub fn aia_ca_issuers_list(urls: &[&str]) -> rcgen::CustomExtension {
    let ca_issuers_oid = tlv(0x06, &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x02]);
    let descriptions: Vec<Vec<u8>> = urls
        .iter()
        .map(|u| seq(&[ca_issuers_oid.clone(), tlv(0x86, u.as_bytes())]))
        .collect();
    rcgen::CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 1], seq(&descriptions))
}

/// OID 1.3.6.1.5.5.7.1.24 (TLS Feature, RFC 7633) with status_request: must-staple.
pub fn must_staple() -> rcgen::CustomExtension {
    rcgen::CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 5, 5, 7, 1, 24],
        vec![0x30, 0x03, 0x02, 0x01, 0x05],
    )
}

/// certStatus of a made-up staple.
#[derive(Debug, Clone, Copy)]
pub enum Status {
    Good,
    Revoked,
}

/// A successful basic OCSP response about `serial` (INTEGER content bytes) issued under the
/// Name whose DER is `issuer_der` by the key whose subjectPublicKey bits are `issuer_key`
/// (SHA-1 CertID), valid from `this_update` to `next_update`.
pub fn ocsp_response(
    (issuer_der, issuer_key): (&[u8], &[u8]),
    serial: &[u8],
    status: Status,
    this_update: i64,
    next_update: i64,
) -> Vec<u8> {
    let sha1_oid = tlv(0x06, &[0x2b, 0x0e, 0x03, 0x02, 0x1a]);
    let sha1 = |b: &[u8]| ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, b);
    let (name_hash, key_hash) = (sha1(issuer_der), sha1(issuer_key));
    let cert_id = seq(&[
        seq(&[sha1_oid, vec![0x05, 0x00]]),
        tlv(0x04, name_hash.as_ref()),
        tlv(0x04, key_hash.as_ref()),
        tlv(0x02, serial),
    ]);
    let cert_status = match status {
        Status::Good => vec![0x80, 0x00],
        Status::Revoked => tlv(0xa1, &gtime(this_update - 86_400)),
    };
    let single = seq(&[
        cert_id,
        cert_status,
        gtime(this_update),
        tlv(0xa0, &gtime(next_update)),
    ]);
    let response_data = seq(&[tlv(0xa1, &seq(&[])), gtime(this_update), seq(&[single])]);
    let ecdsa_sha256 = tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]);
    let basic = seq(&[
        response_data,
        seq(&[ecdsa_sha256]),
        tlv(0x03, &[0x00, 0x00]),
    ]);
    let basic_oid = tlv(
        0x06,
        &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01],
    );
    let response_bytes = seq(&[basic_oid, tlv(0x04, &basic)]);
    seq(&[tlv(0x0a, &[0x00]), tlv(0xa0, &response_bytes)])
}
