//! ECDSA over P-521 for certificate and handshake signatures.
//!
//! rustls's ring provider verifies ECDSA on P-256 and P-384 only: a chain signed by a P-521 key,
//! or a server whose leaf key is on P-521, would fail verification (or the handshake) although
//! CHECKS.md §9 treats P-521 as acceptable (`uncommon_curve`, info) and the Web PKI allows it.
//! This module adds P-521 (RustCrypto's `p521`, pure Rust) to ring's verification algorithms;
//! everything else — key exchange, ciphers, the other signature algorithms — stays ring's.

use std::sync::{Arc, OnceLock};

use p521::ecdsa::signature::hazmat::PrehashVerifier;
use p521::ecdsa::{Signature, VerifyingKey};
use ring::digest;
use rustls::SignatureScheme;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{AlgorithmIdentifier, InvalidSignature, SignatureVerificationAlgorithm};
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

/// The crypto provider of every prodprobe TLS client: ring, with P-521 signatures verified.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    let mut p = rustls::crypto::ring::default_provider();
    p.signature_verification_algorithms = algorithms(p.signature_verification_algorithms);
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
