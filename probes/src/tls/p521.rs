//! P-521 for rustls: ECDSA signatures (certificates and handshakes) and ECDHE key exchange.
//!
//! rustls's ring provider knows ECDSA and ECDHE on P-256 and P-384 only: a chain signed by a
//! P-521 key, or a server whose leaf key is on P-521, would fail verification (or the
//! handshake) although CHECKS.md §9 treats P-521 as acceptable (`uncommon_curve`, info) and the
//! Web PKI allows it; and a server whose key exchange is limited to secp521r1 (hardening guides'
//! `ssl_ecdh_curve secp521r1`), or whose TLS 1.2 certificate is on P-521 (RFC 8422 §5.1: the
//! client's supported_groups must list the certificate's curve), refused every probe although
//! Firefox and Safari, which offer secp521r1, complete its handshake. This module adds both
//! (RustCrypto's `p521`, pure Rust); everything else — the other groups, ciphers, signature
//! algorithms — stays ring's. secp521r1 is offered last, after ring's groups, so a server that
//! accepts a common group is never steered to it.

use std::sync::{Arc, OnceLock};

use p521::ecdsa::signature::hazmat::PrehashVerifier;
use p521::ecdsa::{Signature, VerifyingKey};
use p521::elliptic_curve::rand_core::OsRng;
use p521::elliptic_curve::sec1::ToEncodedPoint;
use ring::digest;
use rustls::crypto::{
    ActiveKeyExchange, CryptoProvider, SharedSecret, SupportedKxGroup, WebPkiSupportedAlgorithms,
};
use rustls::pki_types::{AlgorithmIdentifier, InvalidSignature, SignatureVerificationAlgorithm};
use rustls::{NamedGroup, PeerMisbehaved, SignatureScheme};
use rustls_pki_types::alg_id;

/// ECDSA with a P-521 public key and the given hash (RFC 5758 §3.2 names the signature
/// algorithms; RFC 5480 §2.1.1.1 the curve).
#[derive(Debug)]
struct EcdsaP521 {
    hash: &'static digest::Algorithm,
    signature_alg_id: AlgorithmIdentifier,
}

impl SignatureVerificationAlgorithm for EcdsaP521 {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        let key = VerifyingKey::from_sec1_bytes(public_key).map_err(|_| InvalidSignature)?;
        let sig = Signature::from_der(signature).map_err(|_| InvalidSignature)?;
        key.verify_prehash(&prehash(self.hash, message), &sig)
            .map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::ECDSA_P521
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        self.signature_alg_id
    }
}

/// The message's hash as the integer ECDSA signs (FIPS 186-5 §6.4.1: a hash shorter than the
/// group order is used whole). `ecdsa` refuses prehashes shorter than half the field (33 bytes),
/// so SHA-256 and SHA-384 digests are zero-extended on the left to 64 bytes: the same integer.
fn prehash(hash: &'static digest::Algorithm, message: &[u8]) -> [u8; 64] {
    let d = digest::digest(hash, message);
    let d = d.as_ref();
    let mut out = [0u8; 64];
    out[64 - d.len()..].copy_from_slice(d);
    out
}

static P521_SHA256: EcdsaP521 = EcdsaP521 {
    hash: &digest::SHA256,
    signature_alg_id: alg_id::ECDSA_SHA256,
};
static P521_SHA384: EcdsaP521 = EcdsaP521 {
    hash: &digest::SHA384,
    signature_alg_id: alg_id::ECDSA_SHA384,
};
static P521_SHA512: EcdsaP521 = EcdsaP521 {
    hash: &digest::SHA512,
    signature_alg_id: alg_id::ECDSA_SHA512,
};
static P521_SHA512_ONLY: [&dyn SignatureVerificationAlgorithm; 1] = [&P521_SHA512];

/// ring's verification algorithms plus P-521, built once per process (the lists must be
/// `'static`, so they are leaked exactly once, a few hundred bytes).
fn algorithms(ring: WebPkiSupportedAlgorithms) -> WebPkiSupportedAlgorithms {
    static ALGS: OnceLock<WebPkiSupportedAlgorithms> = OnceLock::new();
    *ALGS.get_or_init(|| {
        let mut all: Vec<&'static dyn SignatureVerificationAlgorithm> = ring.all.to_vec();
        all.extend([
            &P521_SHA256 as &'static dyn SignatureVerificationAlgorithm,
            &P521_SHA384,
            &P521_SHA512,
        ]);
        // TLS 1.2 does not tie ECDSA schemes to a curve (RFC 5246 §7.4.1.4.1): a P-521 key may
        // sign with ecdsa_secp256r1_sha256 or ecdsa_secp384r1_sha384, so P-521 goes last in
        // those entries (rustls tries every entry in TLS 1.2 and only the first in TLS 1.3, where
        // the scheme fixes the curve, RFC 8446 §4.2.3).
        let mut mapping: Vec<_> = ring
            .mapping
            .iter()
            .map(|&(scheme, algs)| {
                let extra: &'static dyn SignatureVerificationAlgorithm = match scheme {
                    SignatureScheme::ECDSA_NISTP256_SHA256 => &P521_SHA256,
                    SignatureScheme::ECDSA_NISTP384_SHA384 => &P521_SHA384,
                    _ => return (scheme, algs),
                };
                let mut algs = algs.to_vec();
                algs.push(extra);
                (scheme, &*Vec::leak(algs))
            })
            .collect();
        mapping.push((SignatureScheme::ECDSA_NISTP521_SHA512, &P521_SHA512_ONLY));
        WebPkiSupportedAlgorithms {
            all: Vec::leak(all),
            mapping: Vec::leak(mapping),
        }
    })
}

/// ECDHE over secp521r1 (NamedGroup 0x0019, RFC 8422 §5.1.1, RFC 8446 §4.2.7).
#[derive(Debug)]
struct P521Kx;

/// One handshake's ephemeral P-521 key.
struct P521Share {
    secret: p521::ecdh::EphemeralSecret,
    /// The uncompressed SEC1 point (RFC 8446 §4.2.8.2, RFC 8422 §5.4.1).
    public: Vec<u8>,
}

impl SupportedKxGroup for P521Kx {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, rustls::Error> {
        let secret = p521::ecdh::EphemeralSecret::random(&mut OsRng);
        let public = secret
            .public_key()
            .to_encoded_point(false)
            .as_bytes()
            .to_vec();
        Ok(Box::new(P521Share { secret, public }))
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::secp521r1
    }
}

impl ActiveKeyExchange for P521Share {
    fn complete(self: Box<Self>, peer_pub_key: &[u8]) -> Result<SharedSecret, rustls::Error> {
        // Only the uncompressed form is allowed in TLS; `from_sec1_bytes` checks the point is
        // on the curve (and not the identity).
        let peer = (peer_pub_key.first() == Some(&0x04))
            .then(|| p521::PublicKey::from_sec1_bytes(peer_pub_key).ok())
            .flatten()
            .ok_or(PeerMisbehaved::InvalidKeyShare)?;
        // The x-coordinate, fixed length (66 bytes): RFC 8446 §7.4.2, RFC 8422 §5.10.
        let shared = self.secret.diffie_hellman(&peer);
        let bytes: &[u8] = shared.raw_secret_bytes();
        Ok(SharedSecret::from(bytes))
    }

    fn pub_key(&self) -> &[u8] {
        &self.public
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::secp521r1
    }
}

static P521_KX: P521Kx = P521Kx;

/// The crypto provider of every prodprobe TLS client: ring, with P-521 signatures verified
/// and secp521r1 key exchange offered last.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    let mut p = rustls::crypto::ring::default_provider();
    p.signature_verification_algorithms = algorithms(p.signature_verification_algorithms);
    p.kx_groups.push(&P521_KX);
    Arc::new(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p521::ecdsa::SigningKey;
    use p521::ecdsa::signature::hazmat::PrehashSigner;

    fn signed(hash: &'static digest::Algorithm, msg: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let mut scalar = [0x5au8; 66];
        scalar[0] = 0; // below the group order, whose top byte is 0x01
        let key = SigningKey::from_slice(&scalar).unwrap();
        let sig: Signature = key.sign_prehash(&prehash(hash, msg)).unwrap();
        let public = VerifyingKey::from(&key)
            .to_encoded_point(false)
            .as_bytes()
            .to_vec();
        (public, sig.to_der().as_bytes().to_vec())
    }

    /// Both ends of a secp521r1 exchange derive the same 66-byte x-coordinate; compressed,
    /// off-curve and truncated peer shares are refused.
    #[test]
    fn p521_key_exchange_agrees_and_refuses_bad_shares() {
        let ours = P521_KX.start().unwrap();
        assert_eq!(ours.group(), NamedGroup::secp521r1);
        assert_eq!((ours.pub_key().len(), ours.pub_key()[0]), (133, 0x04));
        let peer = p521::ecdh::EphemeralSecret::random(&mut OsRng);
        let peer_share = peer.public_key().to_encoded_point(false);
        let expected =
            peer.diffie_hellman(&p521::PublicKey::from_sec1_bytes(ours.pub_key()).unwrap());
        let shared = ours.complete(peer_share.as_bytes()).unwrap();
        let want: &[u8] = expected.raw_secret_bytes();
        assert_eq!(shared.secret_bytes(), want);
        assert_eq!(want.len(), 66);

        let compressed = peer.public_key().to_encoded_point(true);
        let mut off_curve = peer_share.as_bytes().to_vec();
        off_curve[100] ^= 1;
        for bad in [
            compressed.as_bytes(),
            &off_curve,
            &peer_share.as_bytes()[..70],
            &[],
        ] {
            assert!(P521_KX.start().unwrap().complete(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn verifies_each_hash_and_rejects_tampering() {
        for (alg, hash) in [
            (&P521_SHA256, &digest::SHA256),
            (&P521_SHA384, &digest::SHA384),
            (&P521_SHA512, &digest::SHA512),
        ] {
            let (public, sig) = signed(hash, b"tbs");
            assert!(alg.verify_signature(&public, b"tbs", &sig).is_ok());
            assert!(alg.verify_signature(&public, b"tbS", &sig).is_err());
            assert!(alg.verify_signature(&public, b"tbs", &sig[1..]).is_err());
            assert!(alg.verify_signature(&public[1..], b"tbs", &sig).is_err());
        }
        // A signature over SHA-384 does not pass as SHA-512.
        let (public, sig) = signed(&digest::SHA384, b"tbs");
        assert!(P521_SHA512.verify_signature(&public, b"tbs", &sig).is_err());
    }

    #[test]
    fn the_provider_keeps_ring_and_adds_p521() {
        let ring = rustls::crypto::ring::default_provider();
        let ours = provider();
        let n = ring.signature_verification_algorithms.all.len();
        assert_eq!(ours.signature_verification_algorithms.all.len(), n + 3);
        assert!(
            ours.signature_verification_algorithms
                .supported_schemes()
                .contains(&SignatureScheme::ECDSA_NISTP521_SHA512)
        );
        assert_eq!(ours.cipher_suites.len(), ring.cipher_suites.len());
    }
}
