//! Imported key material (BYOK): the RSA wrapping key pairs of
//! `GetParametersForImport`, and the opening of material a customer wrapped
//! under one for `ImportKeyMaterial`.
//!
//! The private half of a wrapping key leaves this module only sealed under
//! the domain key (bound to the host's label, which names the key, the
//! algorithm and the expiry); the host keeps that blob inside the import
//! token. Imported material leaves only wrapped as generated material is,
//! with a keyed fingerprint that lets the host refuse different material on
//! re-import without ever seeing either.

use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{Oaep, RsaPrivateKey, RsaPublicKey};
use zeroize::Zeroizing;

use crate::crypto::{self, NONCE_LEN, Opaque, SecretKey};

/// Associated-data prefix of a sealed wrapping private key.
const AAD_WRAPPING_KEY: &[u8] = b"keyward/v1/wrapping-key:";
/// HKDF `info` of the key that fingerprints imported material.
const INFO_IMPORT_FINGERPRINT: &[u8] = b"keyward/v1/import-fingerprint";
/// The AES key of `RSA_AES_KEY_WRAP_*` is AES-256.
const AES_WRAP_KEY_LEN: usize = 32;
/// The RSA sizes AWS offers (`RSA_2048`, `RSA_3072`, `RSA_4096`).
pub const WRAPPING_KEY_BITS: [u32; 3] = [2048, 3072, 4096];

/// How the customer wrapped the material (AWS's `AlgorithmSpec`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrappingAlgorithm {
    /// RSA-OAEP with SHA-1 over the material.
    RsaesOaepSha1,
    /// RSA-OAEP with SHA-256 over the material.
    RsaesOaepSha256,
    /// RSA-OAEP (SHA-1) over a fresh AES-256 key, then that key wraps the
    /// material with AES key wrap with padding (RFC 5649).
    RsaAesKeyWrapSha1,
    /// As [`Self::RsaAesKeyWrapSha1`], with SHA-256 in OAEP.
    RsaAesKeyWrapSha256,
}

/// Why an import step failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportError {
    /// The RSA size is not one AWS offers.
    UnsupportedSize,
    /// Generating, encoding or sealing the key pair failed: no fault of
    /// the caller's.
    Internal,
    /// The sealed private key does not open under this label: the import
    /// token belongs to another key, or was altered.
    InvalidToken,
    /// The wrapped material does not decrypt under the wrapping key.
    InvalidCiphertext,
}

/// A fresh wrapping key pair.
#[derive(Debug)]
pub struct WrappingKeyPair {
    /// The public key, DER `SubjectPublicKeyInfo` (what AWS returns).
    pub public_key: Vec<u8>,
    /// The private key (PKCS #8 DER), sealed under the domain key.
    pub sealed_private_key: Vec<u8>,
}

fn wrapping_key_aad(label: &[u8]) -> Vec<u8> {
    [AAD_WRAPPING_KEY, label].concat()
}

/// Generates an RSA wrapping key pair of `bits`, its private half sealed
/// under `domain` and bound to `label`.
pub fn generate_wrapping_key<R: rand_core::CryptoRng + ?Sized>(
    domain: &SecretKey,
    label: &[u8],
    bits: u32,
    rng: &mut R,
    nonce: [u8; NONCE_LEN],
) -> Result<WrappingKeyPair, ImportError> {
    if !WRAPPING_KEY_BITS.contains(&bits) {
        return Err(ImportError::UnsupportedSize);
    }
    let bits = usize::try_from(bits).map_err(|_| ImportError::UnsupportedSize)?;
    let private = RsaPrivateKey::new(rng, bits).map_err(|_| ImportError::Internal)?;
    let public_key = RsaPublicKey::from(&private)
        .to_public_key_der()
        .map_err(|_| ImportError::Internal)?
        .into_vec();
    let der = private.to_pkcs8_der().map_err(|_| ImportError::Internal)?;
    let sealed_private_key =
        crypto::seal_secret(domain, &wrapping_key_aad(label), der.as_bytes(), nonce)
            .map_err(|Opaque| ImportError::Internal)?;
    Ok(WrappingKeyPair {
        public_key,
        sealed_private_key,
    })
}

/// Opens material the customer wrapped under the public half of
/// `sealed_private_key` with `algorithm`. What the material must be (256
/// bits, PKCS #8, an HMAC key) is the caller's to check.
pub fn open_material<R: rand_core::CryptoRng + ?Sized>(
    domain: &SecretKey,
    label: &[u8],
    sealed_private_key: &[u8],
    algorithm: WrappingAlgorithm,
    wrapped: &[u8],
    rng: &mut R,
) -> Result<Zeroizing<Vec<u8>>, ImportError> {
    let der = crypto::open_secret(domain, &wrapping_key_aad(label), sealed_private_key)
        .map_err(|Opaque| ImportError::InvalidToken)?;
    let private = RsaPrivateKey::from_pkcs8_der(&der).map_err(|_| ImportError::InvalidToken)?;
    let oaep = |sha256: bool| {
        if sha256 {
            Oaep::<sha2::Sha256>::new().into()
        } else {
            OaepAny::Sha1(Oaep::<sha1::Sha1>::new())
        }
    };
    let material = match algorithm {
        WrappingAlgorithm::RsaesOaepSha1 | WrappingAlgorithm::RsaesOaepSha256 => {
            let padding = oaep(algorithm == WrappingAlgorithm::RsaesOaepSha256);
            Zeroizing::new(padding.decrypt(&private, rng, wrapped)?)
        }
        WrappingAlgorithm::RsaAesKeyWrapSha1 | WrappingAlgorithm::RsaAesKeyWrapSha256 => {
            let split = private.size();
            if wrapped.len() <= split {
                return Err(ImportError::InvalidCiphertext);
            }
            let (rsa_part, kwp_part) = wrapped.split_at(split);
            let padding = oaep(algorithm == WrappingAlgorithm::RsaAesKeyWrapSha256);
            let aes_key = Zeroizing::new(padding.decrypt(&private, rng, rsa_part)?);
            if aes_key.len() != AES_WRAP_KEY_LEN {
                return Err(ImportError::InvalidCiphertext);
            }
            aes_key_unwrap(&aes_key, kwp_part)?
        }
    };
    Ok(material)
}

/// AES-256 key unwrap with padding (RFC 5649).
fn aes_key_unwrap(key: &[u8], wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>, ImportError> {
    use aes_kw::KeyInit;
    let kwp = aes_kw::KwpAes256::new_from_slice(key).map_err(|_| ImportError::InvalidCiphertext)?;
    let mut out = Zeroizing::new(vec![0u8; wrapped.len().saturating_sub(8)]);
    let length = kwp
        .unwrap_key(wrapped, &mut out)
        .map_err(|_| ImportError::InvalidCiphertext)?
        .len();
    out.truncate(length);
    Ok(out)
}

/// OAEP with either digest, so that both algorithm families share a path.
enum OaepAny {
    Sha1(Oaep<sha1::Sha1>),
    Sha256(Oaep<sha2::Sha256>),
}

impl From<Oaep<sha2::Sha256>> for OaepAny {
    fn from(padding: Oaep<sha2::Sha256>) -> Self {
        Self::Sha256(padding)
    }
}

impl OaepAny {
    fn decrypt<R: rand_core::CryptoRng + ?Sized>(
        self,
        private: &RsaPrivateKey,
        rng: &mut R,
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, ImportError> {
        match self {
            Self::Sha1(padding) => private.decrypt_blinded(rng, padding, ciphertext),
            Self::Sha256(padding) => private.decrypt_blinded(rng, padding, ciphertext),
        }
        .map_err(|_| ImportError::InvalidCiphertext)
    }
}

/// A keyed fingerprint of imported material for one key: equal for the same
/// material and label, and useless to anyone without the domain key.
pub fn material_fingerprint(
    domain: &SecretKey,
    label: &[u8],
    material: &[u8],
) -> Result<Vec<u8>, Opaque> {
    let key = crypto::domain_subkey(domain, INFO_IMPORT_FINGERPRINT);
    let mut message = Zeroizing::new(Vec::with_capacity(label.len() + material.len() + 8));
    message.extend_from_slice(&u64::try_from(label.len()).unwrap_or(u64::MAX).to_be_bytes());
    message.extend_from_slice(label);
    message.extend_from_slice(material);
    crypto::seal_digest(&key, &message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
        rand_core::UnwrapErr(getrandom::SysRng)
    }

    fn domain() -> SecretKey {
        SecretKey::from_bytes([7; crate::crypto::KEY_LEN])
    }

    fn pair(label: &[u8]) -> (WrappingKeyPair, RsaPublicKey) {
        use rsa::pkcs8::DecodePublicKey;
        let pair =
            generate_wrapping_key(&domain(), label, 2048, &mut rng(), [1; NONCE_LEN]).unwrap();
        let public = RsaPublicKey::from_public_key_der(&pair.public_key).unwrap();
        (pair, public)
    }

    #[test]
    fn material_wrapped_by_each_algorithm_opens_and_fingerprints_alike() {
        let label = b"key#import";
        let (pair, public) = pair(label);
        let material = [0x42u8; 32];
        let aes_key = [0x24u8; 32];
        let kwp = {
            use aes_kw::KeyInit;
            let kwp = aes_kw::KwpAes256::new_from_slice(&aes_key).unwrap();
            let mut buf = [0u8; 40];
            kwp.wrap_key(&material, &mut buf).unwrap().to_vec()
        };
        let cases = [
            (
                WrappingAlgorithm::RsaesOaepSha256,
                public.encrypt(&mut rng(), Oaep::<sha2::Sha256>::new(), &material),
            ),
            (
                WrappingAlgorithm::RsaesOaepSha1,
                public.encrypt(&mut rng(), Oaep::<sha1::Sha1>::new(), &material),
            ),
            (
                WrappingAlgorithm::RsaAesKeyWrapSha256,
                public
                    .encrypt(&mut rng(), Oaep::<sha2::Sha256>::new(), &aes_key)
                    .map(|head| [head, kwp.clone()].concat()),
            ),
        ];
        let mut fingerprints = Vec::new();
        for (algorithm, wrapped) in cases {
            let wrapped = wrapped.unwrap();
            let opened = open_material(
                &domain(),
                label,
                &pair.sealed_private_key,
                algorithm,
                &wrapped,
                &mut rng(),
            );
            assert_eq!(
                opened.as_deref().ok().map(Vec::as_slice),
                Some(material.as_slice())
            );
            if let Ok(opened) = opened {
                fingerprints.push(material_fingerprint(&domain(), label, &opened).unwrap());
            }
            // The wrong algorithm, a flipped byte, another label: refused.
            let other = if algorithm == WrappingAlgorithm::RsaesOaepSha1 {
                WrappingAlgorithm::RsaesOaepSha256
            } else {
                WrappingAlgorithm::RsaesOaepSha1
            };
            let refused = |a, w: &[u8], l: &[u8]| {
                open_material(&domain(), l, &pair.sealed_private_key, a, w, &mut rng()).err()
            };
            assert_eq!(
                refused(other, &wrapped, label),
                Some(ImportError::InvalidCiphertext)
            );
            let mut flipped = wrapped.clone();
            if let Some(last) = flipped.last_mut() {
                *last ^= 1;
            }
            assert_eq!(
                refused(algorithm, &flipped, label),
                Some(ImportError::InvalidCiphertext)
            );
            assert_eq!(
                refused(algorithm, &wrapped, b"key#other"),
                Some(ImportError::InvalidToken)
            );
        }
        assert_eq!(fingerprints.len(), 3);
        assert!(fingerprints.iter().all(|f| f == &fingerprints[0]));
        assert_ne!(
            material_fingerprint(&domain(), label, &[0x43; 32]).unwrap(),
            fingerprints[0]
        );
        assert_ne!(
            material_fingerprint(&domain(), b"another key", &material).unwrap(),
            fingerprints[0]
        );
    }

    #[test]
    fn only_the_sizes_aws_offers_are_generated() {
        let made = generate_wrapping_key(&domain(), b"l", 1024, &mut rng(), [0; NONCE_LEN]);
        assert_eq!(made.err(), Some(ImportError::UnsupportedSize));
    }
}
