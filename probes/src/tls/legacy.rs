//! Hand-built ClientHellos for the protocol versions rustls cannot offer (SSLv2, SSLv3,
//! TLS 1.0, TLS 1.1) and for the legacy-suite TLS 1.2 retry, and the classifier of the
//! server's first reply (CHECKS.md §10, after testssl.sh's `prepare_tls_clienthello`,
//! `tls_sockets` and `parse_tls_serverhello`).
//!
//! The byte builder and the classifier are pure functions, unit-tested on replies captured
//! from real servers (OpenSSL 3.0 `s_server`) and, where no server on a current system speaks
//! the version any more (SSLv3, SSLv2), on replies written byte by byte from the RFCs.
//! [`probe`] sends one hello over raw TCP, reads at most one reply, and never finishes the
//! handshake.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

/// Reply wait per hello (CHECKS.md §10: timeout 5 s).
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// TCP connect limit per hello.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest TLS record we accept: 2^14 plaintext plus 2048 of expansion (RFC 5246 §6.2.3).
pub const MAX_RECORD: usize = 16_384 + 2048;
/// Bytes read at most before giving up on a verdict (a few records of warnings at most).
const MAX_READ: usize = 2 * (MAX_RECORD + 5);

/// A protocol version a hand-built hello can offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Version {
    /// SSL 2.0 (RFC 6176 prohibits it).
    Ssl2,
    /// SSL 3.0 (RFC 7568 prohibits it).
    Ssl3,
    /// TLS 1.0 (RFC 8996 prohibits it).
    Tls10,
    /// TLS 1.1 (RFC 8996 prohibits it).
    Tls11,
    /// TLS 1.2 (the legacy-suite retry only).
    Tls12,
    /// TLS 1.3 (only ever seen in a reply).
    Tls13,
}

impl Version {
    /// The `version` label value (CHECKS.md §10 metrics).
    pub const fn label(self) -> &'static str {
        match self {
            Version::Ssl2 => "ssl2",
            Version::Ssl3 => "ssl3",
            Version::Tls10 => "tls1.0",
            Version::Tls11 => "tls1.1",
            Version::Tls12 => "tls1.2",
            Version::Tls13 => "tls1.3",
        }
    }

    /// The two-byte `ProtocolVersion` (RFC 5246 §6.2.1; SSLv2 is `00 02`).
    pub const fn wire(self) -> u16 {
        match self {
            Version::Ssl2 => 0x0002,
            Version::Ssl3 => 0x0300,
            Version::Tls10 => 0x0301,
            Version::Tls11 => 0x0302,
            Version::Tls12 => 0x0303,
            Version::Tls13 => 0x0304,
        }
    }

    /// The version a wire value names, if any.
    pub const fn from_wire(v: u16) -> Option<Version> {
        match v {
            0x0002 => Some(Version::Ssl2),
            0x0300 => Some(Version::Ssl3),
            0x0301 => Some(Version::Tls10),
            0x0302 => Some(Version::Tls11),
            0x0303 => Some(Version::Tls12),
            0x0304 => Some(Version::Tls13),
            _ => None,
        }
    }
}

/// Which cipher-suite list a hello offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suites {
    /// The minimal 8-suite list sent first (CHECKS.md §10 table).
    Minimal,
    /// testssl.sh's 80-entry `TLS_CIPHER` list, for the single retry after alert 40.
    Long,
    /// A broad TLS 1.2 list: the long list plus the TLS 1.2 CBC-SHA256 and RSA/DHE-kx GCM
    /// suites, for telling "legacy suites only" apart from "no TLS 1.2".
    Tls12Broad,
    /// The five TLS 1.3 suites (RFC 8446 §B.4, the CCM ones included), for the TLS 1.3 hello.
    Tls13,
}

/// TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256,
/// TLS_AES_128_CCM_SHA256, TLS_AES_128_CCM_8_SHA256 (RFC 8446 §B.4).
const TLS13_SUITES: [u16; 5] = [0x1301, 0x1302, 0x1303, 0x1304, 0x1305];

/// ECDHE-RSA/ECDSA-AES256/128-CBC-SHA, AES256/128-SHA, 3DES-SHA, and the renegotiation SCSV
/// (RFC 5746 §3.4).
const MINIMAL_SUITES: [u16; 8] = [
    0xc014, 0xc013, 0xc00a, 0xc009, 0x0035, 0x002f, 0x000a, 0x00ff,
];

/// testssl.sh `etc/tls_data.txt` `TLS_CIPHER`: 76 standard suites + 4 GOST, ending in the SCSV.
const LONG_SUITES: [u16; 80] = [
    0xc014, 0xc00a, 0xc022, 0xc021, 0xc020, 0x0039, 0x0038, 0x0037, //
    0x0036, 0x0088, 0x0087, 0x0086, 0x0085, 0xc00f, 0xc005, 0x0035, //
    0x0084, 0xc013, 0xc009, 0xc01f, 0xc01e, 0xc01d, 0x0033, 0x0032, //
    0x0080, 0x0081, 0x0082, 0x0083, 0x0031, 0x0030, 0x009a, 0x0099, //
    0x0098, 0x0097, 0x0045, 0x0044, 0x0043, 0x0042, 0xc00e, 0xc004, //
    0x002f, 0x0096, 0x0041, 0x0007, 0xc011, 0xc007, 0x0066, 0xc00c, //
    0xc002, 0x0005, 0x0004, 0xc012, 0xc008, 0xc01c, 0xc01b, 0xc01a, //
    0x0016, 0x0013, 0x0010, 0x000d, 0xc00d, 0xc003, 0x000a, 0x0063, //
    0x0015, 0x0012, 0x000f, 0x000c, 0x0062, 0x0009, 0x0065, 0x0064, //
    0x0014, 0x0011, 0x000e, 0x000b, 0x0008, 0x0006, 0x0003, 0x00ff,
];

/// TLS 1.2-only suites added to the long list for the legacy-suite retry: RSA and DHE key
/// exchange with GCM, and the CBC-SHA256/384 suites (RFC 5246 App. A.5, RFC 5288, RFC 5289),
/// DHE with ChaCha20-Poly1305 (RFC 7905) and the AES-CCM suites (RFC 6655, RFC 7251), none of
/// which rustls offers: a server limited to them is not a server without TLS 1.2.
const TLS12_EXTRA_SUITES: [u16; 27] = [
    0xc028, 0xc024, 0xc027, 0xc023, 0x009f, 0x009e, 0x009d, 0x009c, 0x006b, 0x0067, 0x003d, 0x003c,
    0x00a3, 0x00a2, 0xccaa, 0xc09c, 0xc09d, 0xc09e, 0xc09f, 0xc0a0, 0xc0a1, 0xc0a2, 0xc0a3, 0xc0ac,
    0xc0ad, 0xc0ae, 0xc0af,
];

/// What makes a TLS 1.2 suite that rustls (ECDHE with AES-GCM or ChaCha20-Poly1305 only)
/// does not offer legacy, for evidence (IANA TLS Cipher Suites registry).
pub fn legacy_suite_kind(suite: u16) -> &'static str {
    match suite {
        0xc09c | 0xc09d | 0xc0a0 | 0xc0a1 => "RSA key exchange, AES-CCM",
        0xc09e | 0xc09f | 0xc0a2 | 0xc0a3 => "DHE key exchange, AES-CCM",
        0xc0ac..=0xc0af => "AES-CCM",
        0x009c | 0x009d => "RSA key exchange",
        0x009e | 0x009f | 0x00a2 | 0x00a3 | 0xccaa => "DHE key exchange",
        0x0004 | 0x0005 | 0xc002 | 0xc007 | 0xc00c | 0xc011 | 0x0018 | 0x0020 | 0x0024 => "RC4",
        _ => "CBC",
    }
}

/// signature_algorithms for the TLS 1.2 hello (RFC 5246 §7.4.1.4.1; RFC 8446 §4.2.3 code
/// points): RSA-PKCS1 and ECDSA with SHA-256/384/512, RSA-PSS with rsaEncryption keys, EdDSA,
/// RSA-PSS with RSASSA-PSS keys (which rustls does not offer: a server with such a key
/// refuses rustls, and this hello still reads its certificate), then the SHA-1 fallbacks.
const SIGNATURE_ALGORITHMS: [u16; 16] = [
    0x0401, 0x0501, 0x0601, 0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0807, 0x0808, 0x0809,
    0x080a, 0x080b, 0x0201, 0x0203,
];

/// The TLS 1.2 suites rustls offers (ECDHE with AES-GCM or ChaCha20-Poly1305, RFC 5289,
/// RFC 7905), first in the legacy-suite hello: a server that refused rustls for another
/// reason (a signature scheme, an extension) still picks one of them, and is not reported as
/// limited to legacy suites.
const RUSTLS_TLS12_SUITES: [u16; 6] = [0xc02b, 0xc02c, 0xc02f, 0xc030, 0xcca9, 0xcca8];

/// Whether rustls offers `suite` in TLS 1.2.
pub fn rustls_offers(suite: u16) -> bool {
    RUSTLS_TLS12_SUITES.contains(&suite)
}

/// supported_groups of the minimal hello: x25519, secp256r1, secp384r1 (RFC 8422 §5.1.1, RFC
/// 7748), byte for byte CHECKS.md §10's example.
const SUPPORTED_GROUPS: [u16; 3] = [0x001d, 0x0017, 0x0018];

/// supported_groups of the broad hellos (the TLS 1.0/1.1 retry and the TLS 1.2 legacy-suite
/// hello): those and secp521r1, as Safari and Firefox offer. Up to TLS 1.2 the list also bounds
/// the curve of an ECDSA certificate (RFC 8422 §5.1), so a server with a P-521 key, or whose
/// ECDHE is limited to P-521 (`ssl_ecdh_curve secp521r1`), refuses a hello without it (alert 40,
/// which the minimal hello's retry follows), and its TLS 1.0–1.2 went unseen.
const BROAD_GROUPS: [u16; 4] = [0x001d, 0x0017, 0x0018, 0x0019];

/// supported_groups of the TLS 1.3 hello: those, then ffdhe2048 and ffdhe3072 (RFC 8446
/// §4.2.7), which Firefox offers and rustls lacks. Its key share is for X25519 only; a server
/// preferring another listed group answers with a HelloRetryRequest, which still shows TLS 1.3.
/// A server limited to a group no browser offers (X448, ffdhe4096) refuses it: no client
/// completes its TLS 1.3.
const TLS13_GROUPS: [u16; 6] = [0x001d, 0x0017, 0x0018, 0x0019, 0x0100, 0x0101];

/// The DOWNGRD sentinel's first seven bytes (RFC 8446 §4.1.3); the eighth is `00` (the server
/// also speaks TLS 1.2) or `01` (it also speaks TLS 1.3).
const DOWNGRADE_PREFIX: [u8; 7] = *b"DOWNGRD";

fn push_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn push_u24(out: &mut Vec<u8>, v: usize) {
    let v = u32::try_from(v).unwrap_or(u32::MAX);
    out.extend_from_slice(&v.to_be_bytes()[1..]);
}

fn len_u16(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// The server_name extension (RFC 6066 §3): one `host_name` entry. `None` for IP literals.
fn sni_extension(out: &mut Vec<u8>, host: &str) {
    let n = host.len();
    push_u16(out, 0x0000);
    push_u16(out, len_u16(n + 5));
    push_u16(out, len_u16(n + 3));
    out.push(0x00);
    push_u16(out, len_u16(n));
    out.extend_from_slice(host.as_bytes());
}

/// Builds a TLS-family ClientHello record (SSLv3, TLS 1.0, 1.1 or 1.2).
///
/// Layout (RFC 5246 §7.4.1.2; CHECKS.md §10): record header with record-layer version
/// `03 01` (`03 00` for SSLv3, RFC 5246 App. E.1 lets servers accept any `03 xx`), handshake
/// header, `client_version`, 32 random bytes, empty session id, suites, null compression, and
/// for TLS: SNI (when `sni` is a DNS name), supported_groups + ec_point_formats (every list
/// offers ECDHE), signature_algorithms only for TLS 1.2 (RFC 5246 §7.4.1.4.1), never
/// supported_versions (RFC 8446 §4.2.1: it would let the server pick 1.3). RFC 7685 padding
/// keeps the handshake message out of the 256–511 byte range that breaks some F5 devices, and
/// off lengths ≡ 10 or 14 (mod 256), as testssl.sh does. SSLv2 uses [`sslv2_client_hello`].
pub fn client_hello(
    version: Version,
    sni: Option<&str>,
    suites: Suites,
    random: &[u8; 32],
) -> Vec<u8> {
    let ssl3 = version == Version::Ssl3;
    let list: Vec<u16> = match suites {
        Suites::Minimal => MINIMAL_SUITES.to_vec(),
        Suites::Long => LONG_SUITES.to_vec(),
        Suites::Tls12Broad => {
            let mut l = RUSTLS_TLS12_SUITES.to_vec();
            l.extend_from_slice(&TLS12_EXTRA_SUITES);
            l.extend_from_slice(&LONG_SUITES);
            l
        }
        Suites::Tls13 => TLS13_SUITES.to_vec(),
    };
    let mut body = Vec::with_capacity(512);
    push_u16(&mut body, version.wire().min(0x0303));
    body.extend_from_slice(random);
    body.push(0x00); // session_id: empty
    push_u16(&mut body, len_u16(list.len() * 2));
    for s in &list {
        push_u16(&mut body, *s);
    }
    body.extend_from_slice(&[0x01, 0x00]); // compression: one method, null
    if !ssl3 {
        let mut ext = Vec::with_capacity(256);
        if let Some(host) = sni {
            sni_extension(&mut ext, host);
        }
        // supported_groups (RFC 8422 §5.1.1).
        push_u16(&mut ext, 0x000a);
        let groups: &[u16] = match suites {
            Suites::Minimal => &SUPPORTED_GROUPS,
            Suites::Long | Suites::Tls12Broad => &BROAD_GROUPS,
            Suites::Tls13 => &TLS13_GROUPS,
        };
        push_u16(&mut ext, len_u16(2 + groups.len() * 2));
        push_u16(&mut ext, len_u16(groups.len() * 2));
        for &g in groups {
            push_u16(&mut ext, g);
        }
        // ec_point_formats: uncompressed (RFC 8422 §5.1.2).
        ext.extend_from_slice(&[0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]);
        if version >= Version::Tls12 {
            // status_request (RFC 6066 §8): OCSP, no responder ids, no extensions, so that a
            // server that staples sends CertificateStatus after its Certificate.
            ext.extend_from_slice(&[0x00, 0x05, 0x00, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00]);
            push_u16(&mut ext, 0x000d);
            push_u16(&mut ext, len_u16(2 + SIGNATURE_ALGORITHMS.len() * 2));
            push_u16(&mut ext, len_u16(SIGNATURE_ALGORITHMS.len() * 2));
            for a in SIGNATURE_ALGORITHMS {
                push_u16(&mut ext, a);
            }
        }
        if version == Version::Tls13 {
            // supported_versions offering TLS 1.3 only (RFC 8446 §4.2.1), and a key_share for
            // x25519 (§4.2.8): any 32 bytes are an X25519 public key (RFC 7748 §5), and the
            // handshake is never finished, so the random bytes of the hello serve.
            ext.extend_from_slice(&[0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04]);
            ext.extend_from_slice(&[0x00, 0x33, 0x00, 0x26, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20]);
            ext.extend_from_slice(random);
        }
        // RFC 7685 padding, sized on the whole handshake message (4-byte header included).
        let message_len = 4 + body.len() + 2 + ext.len();
        if (256..=511).contains(&message_len) {
            // Pad to 512; the final extension cannot be empty (testssl.sh PR #792).
            let data = if message_len >= 508 {
                1
            } else {
                508 - message_len
            };
            push_u16(&mut ext, 0x0015);
            push_u16(&mut ext, len_u16(data));
            ext.resize(ext.len() + data, 0);
        } else if matches!(message_len % 256, 10 | 14) {
            ext.extend_from_slice(&[0x00, 0x15, 0x00, 0x01, 0x00]);
        }
        push_u16(&mut body, len_u16(ext.len()));
        body.extend_from_slice(&ext);
    }
    let mut out = Vec::with_capacity(body.len() + 9);
    out.push(0x16);
    push_u16(&mut out, if ssl3 { 0x0300 } else { 0x0301 });
    push_u16(&mut out, len_u16(body.len() + 4));
    out.push(0x01); // ClientHello
    push_u24(&mut out, body.len());
    out.extend_from_slice(&body);
    out
}

/// SSLv2 cipher specs (RFC 6101 App. E; draft-hickman-netscape-ssl-00): RC4-MD5,
/// RC4-EXPORT40, RC2-CBC-MD5, RC2-EXPORT40, IDEA-CBC-MD5, DES-CBC-MD5, DES-192-EDE3-CBC-MD5.
const SSLV2_SPECS: [[u8; 3]; 7] = [
    [0x01, 0x00, 0x80],
    [0x02, 0x00, 0x80],
    [0x03, 0x00, 0x80],
    [0x04, 0x00, 0x80],
    [0x05, 0x00, 0x80],
    [0x06, 0x00, 0x40],
    [0x07, 0x00, 0xc0],
];

/// Builds an SSLv2 CLIENT-HELLO: a 2-byte record header with the high bit set, message type
/// 1, version `00 02`, cipher-spec / session-id / challenge lengths, the 3-byte specs and a
/// 16-byte challenge (draft-hickman-netscape-ssl-00, "Client-Hello").
pub fn sslv2_client_hello(challenge: &[u8; 16]) -> Vec<u8> {
    let mut body = vec![0x01, 0x00, 0x02];
    push_u16(&mut body, len_u16(SSLV2_SPECS.len() * 3));
    push_u16(&mut body, 0);
    push_u16(&mut body, len_u16(challenge.len()));
    for spec in SSLV2_SPECS {
        body.extend_from_slice(&spec);
    }
    body.extend_from_slice(challenge);
    let mut out = Vec::with_capacity(body.len() + 2);
    push_u16(&mut out, 0x8000 | len_u16(body.len()));
    out.extend_from_slice(&body);
    out
}

/// What the server's first reply was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reply {
    /// A ServerHello (SSLv2 SERVER-HELLO for the SSLv2 probe).
    ServerHello {
        /// `server_version` as sent.
        version: u16,
        /// The chosen suite, when the reply was long enough to carry it.
        cipher: Option<u16>,
        /// The random ends in the DOWNGRD sentinel (RFC 8446 §4.1.3): the server also speaks
        /// a newer version (`Some(0x01)` TLS 1.3, `Some(0x00)` TLS 1.2).
        downgrade_sentinel: Option<u8>,
    },
    /// A fatal alert (RFC 5246 §7.2).
    Alert {
        /// AlertDescription, e.g. 70 protocol_version, 40 handshake_failure.
        description: u8,
    },
    /// The connection closed (FIN or RST) before a verdict.
    Closed,
    /// No verdict before the reply timeout.
    Timeout,
    /// The bytes are not a TLS record (e.g. `HTTP/1.1 400`), or a record was malformed.
    NonTls,
    /// A TLS record other than ServerHello or an alert came first.
    Unexpected,
}

/// The classifier's state after some bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parse {
    /// More bytes are needed.
    Incomplete,
    /// A verdict.
    Done(Reply),
}

/// Classifies the bytes read so far of a reply to a TLS-family hello (CHECKS.md §10 reply
/// table). Records are walked in order: a warning alert (level 1, e.g. 112
/// unrecognized_name) is skipped and the next record classified; handshake bytes are
/// reassembled across records until the ServerHello's type, length and version are there
/// (and its random, to see the DOWNGRD sentinel, when the message carries one).
pub fn classify(buf: &[u8]) -> Parse {
    let mut off = 0;
    let mut handshake: Vec<u8> = Vec::new();
    loop {
        let rest = &buf[off..];
        if rest.is_empty() {
            return Parse::Incomplete;
        }
        // RFC 5246 §6.2.1: ContentType 20..=23, then ProtocolVersion major 3.
        if !(0x14..=0x17).contains(&rest[0]) || (rest.len() > 1 && rest[1] != 0x03) {
            return Parse::Done(Reply::NonTls);
        }
        if rest.len() < 5 {
            return Parse::Incomplete;
        }
        let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        if len == 0 || len > MAX_RECORD {
            return Parse::Done(Reply::NonTls);
        }
        let content_type = rest[0];
        // Alerts are two bytes; a ServerHello can be judged before its record is complete.
        let available = &rest[5..rest.len().min(5 + len)];
        match content_type {
            0x15 => {
                if available.len() < 2 {
                    return Parse::Incomplete;
                }
                if available[0] == 0x01 {
                    // Warning: keep reading (RFC 5246 §7.2; CHECKS.md §10).
                    if rest.len() < 5 + len {
                        return Parse::Incomplete;
                    }
                    off += 5 + len;
                    continue;
                }
                return Parse::Done(Reply::Alert {
                    description: available[1],
                });
            }
            0x16 => {
                let complete = rest.len() >= 5 + len;
                let mut hs = handshake.clone();
                hs.extend_from_slice(available);
                if let Some(verdict) = server_hello(&hs, complete) {
                    return Parse::Done(verdict);
                }
                if !complete {
                    return Parse::Incomplete;
                }
                handshake = hs;
                off += 5 + len;
            }
            _ => return Parse::Done(Reply::Unexpected),
        }
    }
}

/// Reads a ServerHello from reassembled handshake bytes (RFC 5246 §7.4.1.3): `None` when more
/// bytes are needed.
fn server_hello(hs: &[u8], record_complete: bool) -> Option<Reply> {
    if hs.is_empty() {
        return None;
    }
    if hs[0] != 0x02 {
        return Some(Reply::Unexpected);
    }
    if hs.len() < 6 {
        return None;
    }
    let msg_len = (usize::from(hs[1]) << 16) | (usize::from(hs[2]) << 8) | usize::from(hs[3]);
    let legacy_version = u16::from_be_bytes([hs[4], hs[5]]);
    let end = (4 + msg_len).min(hs.len());
    // random = hs[6..38]; session_id length at 38; cipher after the session id. A TLS 1.3
    // answer (legacy_version 03 03) names its version in an extension, so such a message is
    // read whole when it can be (it is short, and one record carries it unless the server
    // fragments); an older version is judged from its first bytes (CHECKS.md §10).
    let wanted = if legacy_version == 0x0303 {
        4 + msg_len
    } else {
        (4 + msg_len).min(41)
    };
    if hs.len() < wanted && !record_complete {
        return None;
    }
    let msg = &hs[..end];
    let downgrade_sentinel = (msg.len() >= 38 && msg[30..37] == DOWNGRADE_PREFIX).then(|| msg[37]);
    let cipher_at = msg.get(38).map(|&sid| 39 + usize::from(sid));
    let cipher =
        cipher_at.and_then(|at| Some(u16::from_be_bytes([*msg.get(at)?, *msg.get(at + 1)?])));
    // supported_versions in a ServerHello (or HelloRetryRequest) is the version chosen
    // (RFC 8446 §4.2.1); legacy_version then says 03 03.
    let version = cipher_at
        .and_then(|at| selected_version(msg.get(at + 3..)?))
        .unwrap_or(legacy_version);
    Some(Reply::ServerHello {
        version,
        cipher,
        downgrade_sentinel,
    })
}

/// The supported_versions value among a ServerHello's extensions (the bytes from the
/// extensions' length on), if present and well formed.
fn selected_version(ext: &[u8]) -> Option<u16> {
    let total = usize::from(u16::from_be_bytes([*ext.first()?, *ext.get(1)?]));
    let mut rest = ext.get(2..2 + total)?;
    while rest.len() >= 4 {
        let ty = u16::from_be_bytes([rest[0], rest[1]]);
        let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        let data = rest.get(4..4 + len)?;
        if ty == 0x002b && len == 2 {
            return Some(u16::from_be_bytes([data[0], data[1]]));
        }
        rest = &rest[4 + len..];
    }
    None
}

/// Classifies a reply to the SSLv2 CLIENT-HELLO: an SSLv2 record (high bit set in the first
/// byte) whose message type is 4 (SERVER-HELLO) is an SSLv2 ServerHello with version `00 02`;
/// anything in TLS record form goes through [`classify`] (an SSLv3/TLS server answering an
/// SSLv2-format hello with its own version does not speak SSLv2).
pub fn classify_sslv2(buf: &[u8]) -> Parse {
    let Some(&first) = buf.first() else {
        return Parse::Incomplete;
    };
    if first & 0x80 == 0 {
        return classify(buf);
    }
    if buf.len() < 3 {
        return Parse::Incomplete;
    }
    if buf[2] != 0x04 {
        return Parse::Done(Reply::NonTls);
    }
    // SERVER-HELLO: type, session-id-hit, certificate type, server version (2 bytes).
    if buf.len() < 7 {
        return Parse::Incomplete;
    }
    Parse::Done(Reply::ServerHello {
        version: u16::from_be_bytes([buf[5], buf[6]]),
        cipher: None,
        downgrade_sentinel: None,
    })
}

/// Largest server flight [`parse_flight`] reads: a chain of a few certificates, its staple and
/// key exchange fit easily; anything larger is not a certificate chain worth judging.
pub const MAX_FLIGHT: usize = 128 * 1024;

/// The server's first flight to a TLS ≤ 1.2 hello, read past the ServerHello: before TLS 1.3
/// the Certificate message travels in clear (RFC 5246 §7.4.2), so the chain of a server that
/// shares no suite with rustls can still be judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flight {
    /// `server_version` of the ServerHello.
    pub version: u16,
    /// The chosen suite.
    pub cipher: Option<u16>,
    /// The certificate_list, leaf first, as served (empty for anonymous suites).
    pub chain: Vec<Vec<u8>>,
    /// The OCSPResponse of a CertificateStatus message (RFC 6066 §8), if the server stapled.
    pub ocsp: Option<Vec<u8>>,
}

/// A 24-bit length at `at`.
fn u24_at(b: &[u8], at: usize) -> Option<usize> {
    let x = b.get(at..at + 3)?;
    Some((usize::from(x[0]) << 16) | (usize::from(x[1]) << 8) | usize::from(x[2]))
}

/// The `certificate_list` of a Certificate message body (RFC 5246 §7.4.2): a 24-bit total
/// length, then each certificate with its own 24-bit length. `None` when malformed.
fn certificate_list(body: &[u8]) -> Option<Vec<Vec<u8>>> {
    let total = u24_at(body, 0)?;
    let list = body.get(3..3 + total)?;
    let mut out = Vec::new();
    let mut at = 0;
    while at < list.len() {
        let n = u24_at(list, at)?;
        out.push(list.get(at + 3..at + 3 + n)?.to_vec());
        at += 3 + n;
    }
    Some(out)
}

/// Reads the server's flight to a TLS ≤ 1.2 hello (RFC 5246 §7.3: ServerHello, Certificate,
/// CertificateStatus, ServerKeyExchange, CertificateRequest, ServerHelloDone): done at the
/// first message after the certificate and its staple, or at ServerHelloDone. Records are
/// walked as [`classify`] walks them (warning alerts skipped, handshake bytes reassembled);
/// anything but a ServerHello first, a fatal alert, a non-handshake record, a malformed
/// message or more than [`MAX_FLIGHT`] bytes ends it with the [`Reply`] that says why.
pub fn parse_flight(buf: &[u8]) -> Option<Result<Flight, Reply>> {
    if buf.len() > MAX_FLIGHT {
        return Some(Err(Reply::NonTls));
    }
    // Reassemble the handshake bytes of every complete record (and the started one).
    let mut hs = Vec::new();
    let mut off = 0;
    while off < buf.len() {
        let rest = &buf[off..];
        if !(0x14..=0x17).contains(&rest[0]) || (rest.len() > 1 && rest[1] != 0x03) {
            return Some(Err(Reply::NonTls));
        }
        if rest.len() < 5 {
            break;
        }
        let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        if len == 0 || len > MAX_RECORD {
            return Some(Err(Reply::NonTls));
        }
        let available = &rest[5..rest.len().min(5 + len)];
        match rest[0] {
            0x15 if available.len() >= 2 && available[0] != 0x01 => {
                return Some(Err(Reply::Alert {
                    description: available[1],
                }));
            }
            0x15 => {}
            0x16 => hs.extend_from_slice(available),
            _ => return Some(Err(Reply::Unexpected)),
        }
        off += 5 + len;
    }
    let mut flight: Option<Flight> = None;
    let mut at = 0;
    while let (Some(&kind), Some(len)) = (hs.get(at), u24_at(&hs, at + 1)) {
        // An incomplete message: more bytes are needed.
        let body = hs.get(at + 4..at + 4 + len)?;
        match (kind, flight.as_mut()) {
            (0x02, None) => {
                let Some(Reply::ServerHello {
                    version, cipher, ..
                }) = server_hello(&hs[at..at + 4 + len], true)
                else {
                    return Some(Err(Reply::Unexpected));
                };
                flight = Some(Flight {
                    version,
                    cipher,
                    chain: Vec::new(),
                    ocsp: None,
                });
            }
            (0x0b, Some(f)) => match certificate_list(body) {
                Some(chain) => f.chain = chain,
                None => return Some(Err(Reply::NonTls)),
            },
            // CertificateStatus: status_type ocsp(1), 24-bit length, OCSPResponse.
            (0x16, Some(f)) => {
                if body.first() == Some(&0x01)
                    && let Some(n) = u24_at(body, 1)
                {
                    f.ocsp = body.get(4..4 + n).map(<[u8]>::to_vec);
                }
            }
            // ServerKeyExchange, CertificateRequest, ServerHelloDone: the chain is complete.
            (0x0c..=0x0e, Some(f)) => return Some(Ok(f.clone())),
            _ => return Some(Err(Reply::Unexpected)),
        }
        at += 4 + len;
    }
    None
}

/// The verdict on one offered version, from one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// The server answered with a ServerHello for the offered version.
    Accepted {
        /// The suite it chose.
        cipher: Option<u16>,
        /// The DOWNGRD sentinel byte, when present.
        downgrade_sentinel: Option<u8>,
    },
    /// The offered version was refused but a lower one came back (it counts for that one).
    LowerAccepted {
        /// What the server chose.
        version: Version,
    },
    /// A version above the offer came back: RFC 5246 App. E.1 demands alert
    /// protocol_version instead (`version_negotiation_broken`).
    Higher {
        /// The wire version that came back.
        version: u16,
    },
    /// Refused with a fatal alert.
    Alert {
        /// AlertDescription.
        code: u8,
    },
    /// Refused otherwise: `closed`, `non_tls`, `unexpected` or `connect_refused`/`connect_error`.
    Refused {
        /// Low-cardinality reason.
        reason: &'static str,
    },
    /// No answer in time, or the TCP connection could not be opened in time (`timeout`,
    /// `connect_timeout`): `probe_inconclusive`.
    Inconclusive {
        /// Low-cardinality reason.
        reason: &'static str,
    },
}

impl Outcome {
    /// Maps a reply to an offered version onto the verdict table of CHECKS.md §10.
    pub fn from_reply(offered: Version, reply: Reply) -> Outcome {
        match reply {
            Reply::ServerHello {
                version,
                cipher,
                downgrade_sentinel,
            } => {
                let offered_wire = offered.wire();
                if version == offered_wire {
                    Outcome::Accepted {
                        cipher,
                        downgrade_sentinel,
                    }
                } else if version > offered_wire {
                    Outcome::Higher { version }
                } else {
                    match Version::from_wire(version) {
                        Some(v) => Outcome::LowerAccepted { version: v },
                        None => Outcome::Refused { reason: "non_tls" },
                    }
                }
            }
            Reply::Alert { description } => Outcome::Alert { code: description },
            Reply::Closed => Outcome::Refused { reason: "closed" },
            Reply::Timeout => Outcome::Inconclusive { reason: "timeout" },
            Reply::NonTls => Outcome::Refused { reason: "non_tls" },
            Reply::Unexpected => Outcome::Refused {
                reason: "unexpected",
            },
        }
    }

    /// The fatal alert code, 0 when none (`tls_legacy_alert_code`).
    pub fn alert_code(&self) -> u8 {
        match self {
            Outcome::Alert { code } => *code,
            _ => 0,
        }
    }
}

/// The result of probing one version at one address: the final verdict and whether the
/// long-list retry was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Probed {
    /// The version offered.
    pub offered: Version,
    /// The verdict.
    pub outcome: Outcome,
    /// The hello was retried with the long suite list after alert 40.
    pub retried: bool,
}

/// Sends one hello to `addr` and classifies the reply, bounded by `deadline`, the connect
/// limit and [`REPLY_TIMEOUT`]. The socket is closed after the first verdict.
pub async fn exchange(addr: SocketAddr, hello: &[u8], sslv2: bool, deadline: Instant) -> Reply {
    let parsed = converse(addr, hello, deadline, MAX_READ, |buf| {
        let parsed = if sslv2 {
            classify_sslv2(buf)
        } else {
            classify(buf)
        };
        match parsed {
            Parse::Done(reply) => Some(reply),
            Parse::Incomplete => None,
        }
    })
    .await;
    parsed.unwrap_or_else(|failed| failed)
}

/// Sends `hello` and reads until `parse` decides, more than `limit` bytes arrived
/// ([`Reply::NonTls`]), the connection closed or the reply timed out. The socket is closed
/// on return; the handshake is never finished.
async fn converse<T>(
    addr: SocketAddr,
    hello: &[u8],
    deadline: Instant,
    limit: usize,
    parse: impl Fn(&[u8]) -> Option<T>,
) -> Result<T, Reply> {
    let connect_deadline = deadline.min(Instant::now() + CONNECT_TIMEOUT);
    let mut tcp = match timeout_at(connect_deadline, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(_)) => return Err(Reply::Closed),
        Err(_) => return Err(Reply::Timeout),
    };
    let _ = tcp.set_nodelay(true);
    let reply_deadline = deadline.min(Instant::now() + REPLY_TIMEOUT);
    if timeout_at(reply_deadline, tcp.write_all(hello))
        .await
        .is_err()
    {
        return Err(Reply::Timeout);
    }
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(done) = parse(&buf) {
            return Ok(done);
        }
        if buf.len() >= limit {
            return Err(Reply::NonTls);
        }
        match timeout_at(reply_deadline, tcp.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Err(Reply::Closed),
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => return Err(Reply::Timeout),
        }
    }
}

/// Reads the certificate chain of a server rustls cannot handshake with (no TLS 1.2 ECDHE +
/// AEAD suite, or no TLS ≥ 1.2 at all): the TLS 1.2 hello with the broad suite list, the
/// server's flight read up to the message after its Certificate ([`parse_flight`]).
///
/// # Errors
///
/// The [`Reply`] that ended the exchange without a flight (an alert, closed, timeout …).
pub async fn server_flight(
    addr: SocketAddr,
    sni: Option<&str>,
    deadline: Instant,
) -> Result<Flight, Reply> {
    let mut random = [0u8; 32];
    rand::fill(&mut random);
    let hello = client_hello(Version::Tls12, sni, Suites::Tls12Broad, &random);
    converse(addr, &hello, deadline, MAX_FLIGHT + 1, parse_flight).await?
}

/// Probes `version` at `addr` as CHECKS.md §10 says: the minimal hello first; for TLS 1.0 and
/// 1.1 a single retry with the long list when the reply is alert 40 (handshake_failure).
/// TLS 1.2 (the legacy-suite retry) sends the broad list at once.
pub async fn probe(
    addr: SocketAddr,
    sni: Option<&str>,
    version: Version,
    deadline: Instant,
) -> Probed {
    let mut random = [0u8; 32];
    rand::fill(&mut random);
    let (hello, sslv2) = match version {
        Version::Ssl2 => {
            let mut challenge = [0u8; 16];
            challenge.copy_from_slice(&random[..16]);
            (sslv2_client_hello(&challenge), true)
        }
        Version::Tls12 => (
            client_hello(version, sni, Suites::Tls12Broad, &random),
            false,
        ),
        Version::Tls13 => (client_hello(version, sni, Suites::Tls13, &random), false),
        _ => (client_hello(version, sni, Suites::Minimal, &random), false),
    };
    let reply = exchange(addr, &hello, sslv2, deadline).await;
    let outcome = connect_outcome(version, reply);
    let retry = matches!(version, Version::Tls10 | Version::Tls11)
        && matches!(outcome, Outcome::Alert { code: 40 });
    if !retry {
        return Probed {
            offered: version,
            outcome,
            retried: false,
        };
    }
    rand::fill(&mut random);
    let hello = client_hello(version, sni, Suites::Long, &random);
    let reply = exchange(addr, &hello, false, deadline).await;
    Probed {
        offered: version,
        outcome: connect_outcome(version, reply),
        retried: true,
    }
}

fn connect_outcome(version: Version, reply: Reply) -> Outcome {
    Outcome::from_reply(version, reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    const ZERO: [u8; 32] = [0; 32];

    #[test]
    fn minimal_tls10_hello_matches_the_checks_md_example_byte_for_byte() {
        let hello = client_hello(Version::Tls10, Some("example.com"), Suites::Minimal, &ZERO);
        let want = hex(
            "16 03 01 00 63 | 01 00 00 5f | 03 01 | 0000000000000000000000000000000000000000000000000000000000000000 | 00 |
             00 10 c0 14 c0 13 c0 0a c0 09 00 35 00 2f 00 0a 00 ff | 01 00 | 00 26 | 00 00 00 10 00 0e 00 00 0b
             65 78 61 6d 70 6c 65 2e 63 6f 6d | 00 0a 00 08 00 06 00 1d 00 17 00 18 | 00 0b 00 02 01 00",
        );
        assert_eq!(hello, want);
        assert_eq!(hello.len(), 93 + "example.com".len());
        let tls11 = client_hello(Version::Tls11, Some("example.com"), Suites::Minimal, &ZERO);
        assert_eq!(&tls11[9..11], &[0x03, 0x02]);
        assert_eq!(&tls11[1..3], &[0x03, 0x01], "record layer stays 03 01");
    }

    #[test]
    fn sslv3_hello_has_no_extensions_and_is_64_bytes() {
        let hello = client_hello(Version::Ssl3, Some("example.com"), Suites::Minimal, &ZERO);
        assert_eq!(hello.len(), 64);
        assert_eq!(&hello[..9], &hex("16 03 00 00 3b 01 00 00 37"));
        assert_eq!(&hello[9..11], &[0x03, 0x00]);
        assert_eq!(
            &hello[62..],
            &[0x01, 0x00],
            "ends with the compression methods"
        );
    }

    #[test]
    fn ip_literals_get_no_sni() {
        let hello = client_hello(Version::Tls10, None, Suites::Minimal, &ZERO);
        assert_eq!(hello.len(), 93 - 9, "no server_name extension");
        assert_eq!(&hello[64..66], &[0x00, 0x12]);
    }

    #[test]
    fn long_list_is_testssl_tls_cipher_and_ends_in_the_scsv() {
        assert_eq!(LONG_SUITES.len(), 80);
        assert_eq!(LONG_SUITES[79], 0x00ff);
        let mut sorted = LONG_SUITES.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 80, "no duplicates");
        let hello = client_hello(Version::Tls11, Some("example.com"), Suites::Long, &ZERO);
        assert_eq!(&hello[44..46], &[0x00, 0xa0], "160 bytes of suites");
    }

    #[test]
    fn rfc7685_padding_keeps_messages_out_of_256_to_511() {
        for n in 1..=253 {
            let host = "a".repeat(n);
            for (v, s) in [
                (Version::Tls10, Suites::Minimal),
                (Version::Tls11, Suites::Long),
                (Version::Tls12, Suites::Tls12Broad),
            ] {
                let hello = client_hello(v, Some(&host), s, &ZERO);
                let msg = hello.len() - 5;
                assert!(!(256..=511).contains(&msg), "n={n} {v:?}: {msg}");
                assert!(!matches!(msg % 256, 10 | 14), "n={n} {v:?}: {msg}");
                // Lengths in the headers agree with the bytes.
                assert_eq!(usize::from(u16::from_be_bytes([hello[3], hello[4]])), msg);
                let hs = (usize::from(hello[6]) << 16)
                    | (usize::from(hello[7]) << 8)
                    | usize::from(hello[8]);
                assert_eq!(hs + 4, msg);
            }
        }
        // A name of 168 bytes brings the minimal hello to 256: padded to 512.
        let hello = client_hello(
            Version::Tls10,
            Some(&"a".repeat(168)),
            Suites::Minimal,
            &ZERO,
        );
        assert_eq!(hello.len() - 5, 512);
    }

    #[test]
    fn tls12_hello_offers_signature_algorithms_and_never_supported_versions() {
        let hello = client_hello(
            Version::Tls12,
            Some("example.com"),
            Suites::Tls12Broad,
            &ZERO,
        );
        assert_eq!(&hello[9..11], &[0x03, 0x03]);
        let has = |ext: [u8; 2]| hello.windows(2).any(|w| w == ext);
        assert!(has([0x00, 0x0d]));
        let tls10 = client_hello(Version::Tls10, Some("example.com"), Suites::Minimal, &ZERO);
        assert!(
            !tls10[66..].windows(2).any(|w| w == [0x00, 0x2b]),
            "no supported_versions"
        );
        assert!(
            !tls10[66..].windows(2).any(|w| w == [0x00, 0x0d]),
            "no signature_algorithms"
        );
    }

    // Replies captured from OpenSSL 3.0.19 `s_server` on loopback (first bytes of the flight;
    // the certificate is cut off, which the classifier never needs).

    /// `s_server -tls1`, answering the minimal TLS 1.0 hello.
    const OPENSSL_TLS10_ACCEPTS: &str = "16030100590200005503017056067d70982204b527f39399fc91fede9333e8ddccf6464302c185fac06c6d20c7b55586900df334ea697baf39a78f93602653f4ad2281399545375385c34667c01400000dff01000100000b00040300010216030103170b00031300031000030d30820309308201f1a00302";
    /// `s_server -tls1`, answering the minimal TLS 1.1 hello with TLS 1.0.
    const OPENSSL_TLS10_ANSWERS_TLS11: &str = "1603010059020000550301b54683c3b1f475293ed6415bd01143c25eb5b3f333c505aecba7d42d76340b9320fc5a453f54ed9b0012abc3cd7990f7edbbc01e0821abe4b99f85e7ad787b3428c01400000dff01000100000b00040300010216030103170b00031300031000030d30820309308201f1a00302";
    /// `s_server -tls1`, answering the SSLv3 hello: alert 40.
    const OPENSSL_REFUSES_SSL3: &str = "15030000020228";
    /// `s_server -tls1_1`, answering the TLS 1.0 hello: alert 70 protocol_version.
    const OPENSSL_TLS11_REFUSES_TLS10: &str = "15030100020246";
    /// `s_server` (all versions up to 1.3 at SECLEVEL=0), answering the TLS 1.0 hello: the
    /// random ends with the DOWNGRD sentinel `44 4f 57 4e 47 52 44 00`.
    const OPENSSL_MODERN_ACCEPTS_TLS10_WITH_SENTINEL: &str = "1603010059020000550301a3980c794d141632d40244ba8bbc302824dc842e98f17a69444f574e475244002091999160518bff368d25d31b9b57837dd89d24d6422ea066de9d8e908fbbed18c01400000dff01000100000b00040300010216030103170b00031300031000030d30820309308201f1a00302";

    fn outcome(offered: Version, reply_hex: &str) -> Outcome {
        match classify(&hex(reply_hex)) {
            Parse::Done(r) => Outcome::from_reply(offered, r),
            Parse::Incomplete => panic!("incomplete"),
        }
    }

    #[test]
    fn captured_openssl_replies_are_classified() {
        assert_eq!(
            outcome(Version::Tls10, OPENSSL_TLS10_ACCEPTS),
            Outcome::Accepted {
                cipher: Some(0xc014),
                downgrade_sentinel: None
            }
        );
        assert_eq!(
            outcome(Version::Tls11, OPENSSL_TLS10_ANSWERS_TLS11),
            Outcome::LowerAccepted {
                version: Version::Tls10
            }
        );
        assert_eq!(
            outcome(Version::Ssl3, OPENSSL_REFUSES_SSL3),
            Outcome::Alert { code: 40 }
        );
        assert_eq!(
            outcome(Version::Tls10, OPENSSL_TLS11_REFUSES_TLS10),
            Outcome::Alert { code: 70 }
        );
        assert_eq!(
            outcome(Version::Tls10, OPENSSL_MODERN_ACCEPTS_TLS10_WITH_SENTINEL),
            Outcome::Accepted {
                cipher: Some(0xc014),
                downgrade_sentinel: Some(0x00)
            }
        );
    }

    #[test]
    fn tls13_hello_offers_only_tls13_with_an_x25519_share() {
        let random = [7u8; 32];
        let hello = client_hello(Version::Tls13, Some("example.com"), Suites::Tls13, &random);
        let has = |needle: &[u8]| hello.windows(needle.len()).any(|w| w == needle);
        assert_eq!(
            &hello[9..11],
            &[0x03, 0x03],
            "legacy_version (RFC 8446 §4.1.2)"
        );
        assert!(has(&[
            0x00, 0x0a, 0x13, 0x01, 0x13, 0x02, 0x13, 0x03, 0x13, 0x04, 0x13, 0x05
        ]));
        assert!(
            has(&[0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04]),
            "supported_versions"
        );
        let mut share = vec![0x00, 0x33, 0x00, 0x26, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20];
        share.extend_from_slice(&random);
        assert!(has(&share), "key_share x25519");
        assert!(
            has(&[0x08, 0x09, 0x08, 0x0a, 0x08, 0x0b]),
            "RSASSA-PSS schemes"
        );
    }

    #[test]
    fn a_tls13_server_hello_is_read_by_its_supported_versions_on_committed_bytes() {
        // ServerHello: legacy_version 03 03, random, empty session id, TLS_AES_128_GCM_SHA256,
        // null compression, extensions supported_versions (03 04) and a key_share stub.
        let sh = "16 03 03 00 3a | 02 00 00 36 | 03 03 | 5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a | 00 | 13 01 | 00 | 00 0e | 00 2b 00 02 03 04 | 00 33 00 04 00 1d 00 00";
        assert_eq!(
            outcome(Version::Tls13, sh),
            Outcome::Accepted {
                cipher: Some(0x1301),
                downgrade_sentinel: None
            }
        );
        // The same server answering the TLS 1.3 hello with TLS 1.2 (no supported_versions).
        let tls12 = "16 03 03 00 2a | 02 00 00 26 | 03 03 | 5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a | 00 | c0 2f | 00";
        assert_eq!(
            outcome(Version::Tls13, tls12),
            Outcome::LowerAccepted {
                version: Version::Tls12
            }
        );
    }

    #[test]
    fn a_reply_cut_anywhere_is_incomplete_until_the_verdict_bytes_arrive() {
        let full = hex(OPENSSL_TLS10_ACCEPTS);
        for cut in 0..5 {
            assert_eq!(classify(&full[..cut]), Parse::Incomplete, "cut {cut}");
        }
        // Enough for type, length, version and random: a verdict.
        assert!(matches!(
            classify(&full[..50]),
            Parse::Done(Reply::ServerHello {
                version: 0x0301,
                ..
            })
        ));
    }

    #[test]
    fn server_hello_fragmented_across_records_is_reassembled() {
        // The captured ServerHello split after 3 handshake bytes into two records.
        let full = hex(OPENSSL_TLS10_ACCEPTS);
        let hs = &full[5..5 + 0x59];
        let mut split = hex("16 03 01 00 03");
        split.extend_from_slice(&hs[..3]);
        split.extend_from_slice(&hex("16 03 01 00 56"));
        split.extend_from_slice(&hs[3..]);
        assert_eq!(
            classify(&split),
            Parse::Done(Reply::ServerHello {
                version: 0x0301,
                cipher: Some(0xc014),
                downgrade_sentinel: None
            })
        );
    }

    #[test]
    fn warning_alerts_are_skipped_and_the_next_record_decides() {
        // Warning 112 unrecognized_name, then the captured ServerHello.
        let mut reply = hex("15 03 01 00 02 01 70");
        reply.extend_from_slice(&hex(OPENSSL_TLS10_ACCEPTS));
        assert!(matches!(
            classify(&reply),
            Parse::Done(Reply::ServerHello {
                version: 0x0301,
                ..
            })
        ));
        assert_eq!(classify(&hex("15 03 01 00 02 01 70")), Parse::Incomplete);
    }

    #[test]
    fn non_tls_replies_are_not_accepted() {
        assert_eq!(
            classify(b"HTTP/1.1 400 Bad Request\r\n\r\n"),
            Parse::Done(Reply::NonTls)
        );
        assert_eq!(classify(&hex("16 02 00")), Parse::Done(Reply::NonTls));
        assert_eq!(
            classify(&hex("16 03 01 ff ff")),
            Parse::Done(Reply::NonTls),
            "oversized record"
        );
        assert_eq!(
            classify(&hex("17 03 03 00 01 00")),
            Parse::Done(Reply::Unexpected)
        );
        assert_eq!(
            classify(&hex("16 03 03 00 04 0b 00 00 00")),
            Parse::Done(Reply::Unexpected)
        );
    }

    /// No server on a current system still speaks SSLv3: these replies are written byte by byte
    /// from RFC 6101 §5.6.1.3 (ServerHello with server_version 3.0), not captured.
    #[test]
    fn sslv3_server_hello_on_committed_bytes_counts_for_sslv3() {
        let mut reply = hex("16 03 00 00 2a 02 00 00 26 03 00");
        reply.extend_from_slice(&[0x5a; 32]);
        reply.extend_from_slice(&hex("00 00 0a 00"));
        assert_eq!(
            classify(&reply).clone(),
            Parse::Done(Reply::ServerHello {
                version: 0x0300,
                cipher: Some(0x000a),
                downgrade_sentinel: None
            })
        );
        // As the answer to a TLS 1.0 probe: TLS 1.0 refused, SSLv3 accepted.
        let Parse::Done(r) = classify(&reply) else {
            panic!()
        };
        assert_eq!(
            Outcome::from_reply(Version::Tls10, r),
            Outcome::LowerAccepted {
                version: Version::Ssl3
            }
        );
        assert!(matches!(
            Outcome::from_reply(Version::Ssl3, r),
            Outcome::Accepted { .. }
        ));
        // A TLS 1.2 ServerHello to an SSLv3 probe: higher than offered.
        let mut higher = reply.clone();
        higher[9..11].copy_from_slice(&[0x03, 0x03]);
        let Parse::Done(r) = classify(&higher) else {
            panic!()
        };
        assert_eq!(
            Outcome::from_reply(Version::Ssl3, r),
            Outcome::Higher { version: 0x0303 }
        );
    }

    /// No current server speaks SSLv2 either: a SERVER-HELLO written from
    /// draft-hickman-netscape-ssl-00 (2-byte header, type 4, session-id-hit 0, certificate
    /// type 1, version 00 02, …), not captured.
    #[test]
    fn sslv2_server_hello_on_committed_bytes_is_accepted() {
        let reply = hex("80 2e 04 00 01 00 02 00 05 00 03 00 10 30 82");
        let Parse::Done(r) = classify_sslv2(&reply) else {
            panic!()
        };
        assert!(matches!(
            Outcome::from_reply(Version::Ssl2, r),
            Outcome::Accepted { .. }
        ));
        // A TLS server refusing the SSLv2-format hello with an alert.
        assert_eq!(
            classify_sslv2(&hex("15 03 01 00 02 02 28")),
            Parse::Done(Reply::Alert { description: 40 })
        );
        assert_eq!(classify_sslv2(&hex("80 2e")), Parse::Incomplete);
        let hello = sslv2_client_hello(&[7; 16]);
        assert_eq!(&hello[..2], &[0x80, 0x2e]);
        assert_eq!(hello.len(), 2 + 0x2e);
        assert_eq!(&hello[2..5], &[0x01, 0x00, 0x02]);
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed = 0x1234_5678u32;
        for len in 0..600 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    (seed & 0xff) as u8
                })
                .collect();
            let _ = classify(&bytes);
            let _ = classify_sslv2(&bytes);
            let _ = parse_flight(&bytes);
            let mut tls = hex("16 03 01");
            tls.extend_from_slice(&bytes);
            let _ = classify(&tls);
            let _ = parse_flight(&tls);
        }
    }

    /// A handshake message: type, 24-bit length, body.
    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![kind];
        push_u24(&mut m, body.len());
        m.extend_from_slice(body);
        m
    }

    /// Handshake bytes cut into records of at most `size` bytes.
    fn records(hs: &[u8], size: usize) -> Vec<u8> {
        hs.chunks(size)
            .flat_map(|c| {
                let mut r = vec![0x16, 0x03, 0x03];
                push_u16(&mut r, len_u16(c.len()));
                r.extend_from_slice(c);
                r
            })
            .collect()
    }

    /// ServerHello (TLS 1.2, AES128-SHA), Certificate with two certificates, CertificateStatus,
    /// ServerHelloDone, written from RFC 5246 §7.4 and RFC 6066 §8 (the certificates are
    /// opaque bytes here: the flight reader never parses them).
    fn flight_bytes() -> Vec<u8> {
        let mut hello = hex("03 03");
        hello.extend_from_slice(&[7; 32]);
        hello.extend_from_slice(&hex("00 00 2f 00"));
        let (leaf, issuer) = (vec![0xaa; 700], vec![0xbb; 300]);
        let mut list = Vec::new();
        for c in [&leaf, &issuer] {
            push_u24(&mut list, c.len());
            list.extend_from_slice(c);
        }
        let mut cert = Vec::new();
        push_u24(&mut cert, list.len());
        cert.extend_from_slice(&list);
        let mut hs = message(0x02, &hello);
        hs.extend(message(0x0b, &cert));
        hs.extend(message(0x16, &hex("01 00 00 03 30 01 02")));
        hs.extend(message(0x0e, &[]));
        hs
    }

    #[test]
    fn flight_yields_version_suite_chain_and_staple_however_it_is_cut() {
        let hs = flight_bytes();
        for size in [16, 100, 512, 16_384] {
            let bytes = records(&hs, size);
            let got = parse_flight(&bytes).unwrap().unwrap();
            assert_eq!(got.version, 0x0303);
            assert_eq!(got.cipher, Some(0x002f));
            assert_eq!(got.chain, [vec![0xaa; 700], vec![0xbb; 300]], "size {size}");
            assert_eq!(got.ocsp, Some(hex("30 01 02")));
            for cut in 0..bytes.len() {
                assert_eq!(parse_flight(&bytes[..cut]), None, "size {size} cut {cut}");
            }
        }
    }

    #[test]
    fn flight_ends_at_the_message_after_the_certificate() {
        // RSA-kx servers send ServerHelloDone next; ECDHE servers ServerKeyExchange, which
        // ends the read before ServerHelloDone arrives.
        let mut hs = flight_bytes();
        let done = hs.len() - 4;
        hs.truncate(done);
        hs.extend(message(0x0c, &[1, 2, 3]));
        let got = parse_flight(&records(&hs, 16_384)).unwrap().unwrap();
        assert_eq!(got.chain.len(), 2);
    }

    #[test]
    fn flights_that_carry_no_chain_say_why() {
        let alert = hex("15 03 03 00 02 02 28");
        assert_eq!(
            parse_flight(&alert),
            Some(Err(Reply::Alert { description: 40 }))
        );
        let mut warned = hex("15 03 03 00 02 01 70");
        warned.extend(records(&flight_bytes(), 16_384));
        assert!(
            parse_flight(&warned).unwrap().is_ok(),
            "warning alert skipped"
        );
        assert_eq!(
            parse_flight(b"HTTP/1.1 400 Bad Request\r\n"),
            Some(Err(Reply::NonTls))
        );
        // A Certificate before any ServerHello.
        assert_eq!(
            parse_flight(&records(&message(0x0b, &hex("00 00 00")), 100)),
            Some(Err(Reply::Unexpected))
        );
        // A certificate length running past its list.
        let mut hs = flight_bytes()[..42].to_vec();
        hs.extend(message(0x0b, &hex("00 00 04 00 00 09 aa")));
        assert_eq!(
            parse_flight(&records(&hs, 16_384)),
            Some(Err(Reply::NonTls))
        );
        // An endless Certificate message is cut at the flight limit.
        let mut hs = flight_bytes()[..42].to_vec();
        hs.extend_from_slice(&hex("0b ff ff ff"));
        hs.resize(MAX_FLIGHT + 1, 0);
        assert_eq!(
            parse_flight(&records(&hs, 16_384)),
            Some(Err(Reply::NonTls))
        );
    }
}
