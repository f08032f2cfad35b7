//! Asymmetric and HMAC key material: RSA, the NIST and SECG curves,
//! Ed25519 and HMAC keys, with what KMS does with each (sign, verify,
//! RSA-OAEP, MACs, ECDH and data key pairs).
//!
//! A private key or an HMAC key leaves this module only sealed under the
//! domain key ([`seal`]), bound to the host's label, with its spec inside the
//! sealed bytes, so that a blob opens only as the key it was made as. Public
//! keys leave as DER `SubjectPublicKeyInfo`, as AWS returns them.
//!
//! Like [`crate::crypto`], nothing here touches WASI or global state:
//! randomness comes in as an argument, and the tests run natively.

use ecdsa::elliptic_curve::Generate as _;
use ecdsa::signature::hazmat::{PrehashVerifier, RandomizedPrehashSigner};
use hmac::{KeyInit, Mac};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{Oaep, RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};
use zeroize::Zeroizing;

use crate::crypto::{self, NONCE_LEN, Opaque, SecretKey};

/// Associated-data prefix of a sealed private or HMAC key.
const AAD_KEY_MATERIAL: &[u8] = b"keyward/v1/key-material:";
/// The largest message that `Sign` and `GenerateMac` take raw (AWS's limit).
pub const MAX_MESSAGE: usize = 4096;

/// The key specs this module holds (AWS's `KeySpec`, less
/// `SYMMETRIC_DEFAULT`, which [`crate::crypto`] holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeySpec {
    /// RSA, 2048 bits.
    Rsa2048,
    /// RSA, 3072 bits.
    Rsa3072,
    /// RSA, 4096 bits.
    Rsa4096,
    /// NIST P-256.
    P256,
    /// NIST P-384.
    P384,
    /// NIST P-521.
    P521,
    /// SECG secp256k1.
    Secp256k1,
    /// Ed25519.
    Ed25519,
    /// HMAC with SHA-224.
    Hmac224,
    /// HMAC with SHA-256.
    Hmac256,
    /// HMAC with SHA-384.
    Hmac384,
    /// HMAC with SHA-512.
    Hmac512,
}

impl KeySpec {
    /// Every spec, in the order of their tags.
    pub const ALL: [Self; 12] = [
        Self::Rsa2048,
        Self::Rsa3072,
        Self::Rsa4096,
        Self::P256,
        Self::P384,
        Self::P521,
        Self::Secp256k1,
        Self::Ed25519,
        Self::Hmac224,
        Self::Hmac256,
        Self::Hmac384,
        Self::Hmac512,
    ];

    /// The byte that names the spec inside a sealed key.
    fn tag(self) -> u8 {
        match self {
            Self::Rsa2048 => 1,
            Self::Rsa3072 => 2,
            Self::Rsa4096 => 3,
            Self::P256 => 4,
            Self::P384 => 5,
            Self::P521 => 6,
            Self::Secp256k1 => 7,
            Self::Ed25519 => 8,
            Self::Hmac224 => 9,
            Self::Hmac256 => 10,
            Self::Hmac384 => 11,
            Self::Hmac512 => 12,
        }
    }

    fn from_tag(tag: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|spec| spec.tag() == tag)
    }

    /// An HMAC spec.
    pub fn is_hmac(self) -> bool {
        self.hmac_lengths().is_some()
    }

    /// The modulus size of an RSA spec.
    fn rsa_bits(self) -> Option<usize> {
        match self {
            Self::Rsa2048 => Some(2048),
            Self::Rsa3072 => Some(3072),
            Self::Rsa4096 => Some(4096),
            _ => None,
        }
    }

    /// The range of key lengths an HMAC spec takes, in bytes: generated
    /// keys have the lower bound; imported ones may be longer, as AWS allows.
    fn hmac_lengths(self) -> Option<(usize, usize)> {
        match self {
            Self::Hmac224 => Some((28, 64)),
            Self::Hmac256 => Some((32, 64)),
            Self::Hmac384 => Some((48, 128)),
            Self::Hmac512 => Some((64, 128)),
            _ => None,
        }
    }
}

/// The hash of a signing or MAC algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    /// SHA-224 (HMAC only).
    Sha224,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl Hash {
    /// The digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Self::Sha224 => 28,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    fn digest(self, message: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha224 => Sha224::digest(message).to_vec(),
            Self::Sha256 => Sha256::digest(message).to_vec(),
            Self::Sha384 => Sha384::digest(message).to_vec(),
            Self::Sha512 => Sha512::digest(message).to_vec(),
        }
    }
}

/// AWS's signing algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlgorithm {
    /// RSASSA-PSS, salt as long as the hash, MGF1 with the same hash.
    RsassaPss(Hash),
    /// RSASSA-PKCS1-v1_5.
    RsassaPkcs1V15(Hash),
    /// ECDSA, DER-encoded signature.
    Ecdsa(Hash),
    /// Pure Ed25519 (RFC 8032), over the raw message.
    Ed25519,
    /// Ed25519ph (RFC 8032, HashEdDSA with SHA-512).
    Ed25519Ph,
}

impl SigningAlgorithm {
    /// Whether a key of `spec` signs with this algorithm (AWS's table).
    pub fn fits(self, spec: KeySpec) -> bool {
        use Hash::*;
        match self {
            Self::RsassaPss(h) | Self::RsassaPkcs1V15(h) => {
                spec.rsa_bits().is_some() && h != Sha224
            }
            Self::Ecdsa(h) => matches!(
                (spec, h),
                (KeySpec::P256 | KeySpec::Secp256k1, Sha256)
                    | (KeySpec::P384, Sha384)
                    | (KeySpec::P521, Sha512)
            ),
            Self::Ed25519 | Self::Ed25519Ph => spec == KeySpec::Ed25519,
        }
    }

    /// The hash a `DIGEST` message must be the output of.
    fn hash(self) -> Hash {
        match self {
            Self::RsassaPss(h) | Self::RsassaPkcs1V15(h) | Self::Ecdsa(h) => h,
            Self::Ed25519 | Self::Ed25519Ph => Hash::Sha512,
        }
    }
}

/// Whether a message is the data to sign or its digest (AWS's `MessageType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    /// The message itself, up to [`MAX_MESSAGE`] bytes.
    Raw,
    /// The digest of the message under the algorithm's hash.
    Digest,
}

/// RSA-OAEP's hash (AWS's `RSAES_OAEP_SHA_1` and `RSAES_OAEP_SHA_256`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OaepHash {
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
}

/// Why an operation on a key failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// An argument does not fit the key or the algorithm; the string names it.
    InvalidArgument(String),
    /// A sealed key does not open under the domain key and label.
    InvalidSealedKey,
    /// An RSA ciphertext does not decrypt. Opaque on purpose.
    InvalidCiphertext,
    /// A public key is not a valid key of the spec (wrong curve, not a point).
    InvalidPublicKey,
    /// Imported material is not a key of the spec.
    IncorrectMaterial,
    /// Generating or encoding a key failed: no fault of the caller's.
    Internal,
}

fn invalid(what: &str) -> KeyError {
    KeyError::InvalidArgument(what.to_owned())
}

/// A private key or an HMAC key. Each variant zeroizes its secret on drop,
/// and `Debug` prints only the spec.
pub enum PrivateKey {
    /// An RSA key of [`KeySpec::Rsa2048`], 3072 or 4096.
    Rsa(KeySpec, Box<RsaPrivateKey>),
    /// A P-256 key.
    P256(p256::ecdsa::SigningKey),
    /// A P-384 key.
    P384(p384::ecdsa::SigningKey),
    /// A P-521 key.
    P521(p521::ecdsa::SigningKey),
    /// A secp256k1 key.
    Secp256k1(k256::ecdsa::SigningKey),
    /// An Ed25519 key.
    Ed25519(ed25519_dalek::SigningKey),
    /// An HMAC key of one of the HMAC specs.
    Hmac(KeySpec, Zeroizing<Vec<u8>>),
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKey")
            .field("spec", &self.spec())
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// A new random key of `spec`.
    pub fn generate<R: rand_core::CryptoRng + ?Sized>(
        spec: KeySpec,
        rng: &mut R,
    ) -> Result<Self, KeyError> {
        Ok(match spec {
            KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => {
                let bits = spec.rsa_bits().ok_or(KeyError::Internal)?;
                let key = RsaPrivateKey::new(rng, bits).map_err(|_| KeyError::Internal)?;
                Self::Rsa(spec, Box::new(key))
            }
            KeySpec::P256 => Self::P256(p256::ecdsa::SigningKey::generate_from_rng(rng)),
            KeySpec::P384 => Self::P384(p384::ecdsa::SigningKey::generate_from_rng(rng)),
            KeySpec::P521 => Self::P521(p521::ecdsa::SigningKey::generate_from_rng(rng)),
            KeySpec::Secp256k1 => Self::Secp256k1(k256::ecdsa::SigningKey::generate_from_rng(rng)),
            KeySpec::Ed25519 => Self::Ed25519(ed25519_dalek::SigningKey::generate(rng)),
            KeySpec::Hmac224 | KeySpec::Hmac256 | KeySpec::Hmac384 | KeySpec::Hmac512 => {
                let (length, _) = spec.hmac_lengths().ok_or(KeyError::Internal)?;
                let mut key = Zeroizing::new(vec![0u8; length]);
                rng.fill_bytes(&mut key);
                Self::Hmac(spec, key)
            }
        })
    }

    /// The key's spec.
    pub fn spec(&self) -> KeySpec {
        match self {
            Self::Rsa(spec, _) | Self::Hmac(spec, _) => *spec,
            Self::P256(_) => KeySpec::P256,
            Self::P384(_) => KeySpec::P384,
            Self::P521(_) => KeySpec::P521,
            Self::Secp256k1(_) => KeySpec::Secp256k1,
            Self::Ed25519(_) => KeySpec::Ed25519,
        }
    }

    /// Reads a key of `spec`: PKCS #8 DER for a private key, the raw bytes
    /// for an HMAC key. Anything else, including a key of another size or
    /// curve, is [`KeyError::IncorrectMaterial`].
    pub fn from_secret(spec: KeySpec, secret: &[u8]) -> Result<Self, KeyError> {
        let wrong = |_| KeyError::IncorrectMaterial;
        let key = match spec {
            KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => {
                let key = RsaPrivateKey::from_pkcs8_der(secret).map_err(wrong)?;
                if Some(key.n().bits() as usize) != spec.rsa_bits() {
                    return Err(KeyError::IncorrectMaterial);
                }
                Self::Rsa(spec, Box::new(key))
            }
            KeySpec::P256 => {
                Self::P256(p256::ecdsa::SigningKey::from_pkcs8_der(secret).map_err(wrong)?)
            }
            KeySpec::P384 => {
                Self::P384(p384::ecdsa::SigningKey::from_pkcs8_der(secret).map_err(wrong)?)
            }
            KeySpec::P521 => {
                Self::P521(p521::ecdsa::SigningKey::from_pkcs8_der(secret).map_err(wrong)?)
            }
            KeySpec::Secp256k1 => {
                Self::Secp256k1(k256::ecdsa::SigningKey::from_pkcs8_der(secret).map_err(wrong)?)
            }
            KeySpec::Ed25519 => {
                Self::Ed25519(ed25519_dalek::SigningKey::from_pkcs8_der(secret).map_err(wrong)?)
            }
            KeySpec::Hmac224 | KeySpec::Hmac256 | KeySpec::Hmac384 | KeySpec::Hmac512 => {
                let (min, max) = spec.hmac_lengths().ok_or(KeyError::Internal)?;
                if !(min..=max).contains(&secret.len()) {
                    return Err(KeyError::IncorrectMaterial);
                }
                Self::Hmac(spec, Zeroizing::new(secret.to_vec()))
            }
        };
        Ok(key)
    }

    /// The secret in its canonical encoding: PKCS #8 DER for a private key,
    /// the raw bytes for an HMAC key.
    pub fn to_secret(&self) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let der = |result: Result<rsa::pkcs8::SecretDocument, rsa::pkcs8::Error>| {
            result
                .map(|document| Zeroizing::new(document.as_bytes().to_vec()))
                .map_err(|_| KeyError::Internal)
        };
        match self {
            Self::Rsa(_, key) => der(key.to_pkcs8_der()),
            Self::P256(key) => der(key.to_pkcs8_der()),
            Self::P384(key) => der(key.to_pkcs8_der()),
            Self::P521(key) => der(key.to_pkcs8_der()),
            Self::Secp256k1(key) => der(key.to_pkcs8_der()),
            // RFC 8410's form without the public key (PKCS #8 v1), which
            // is what OpenSSL writes and every reader takes.
            Self::Ed25519(key) => der(ed25519_dalek::pkcs8::KeypairBytes {
                secret_key: key.to_bytes(),
                public_key: None,
            }
            .to_pkcs8_der()),
            Self::Hmac(_, key) => Ok(key.clone()),
        }
    }

    /// The public key as DER `SubjectPublicKeyInfo`; `None` for an HMAC key.
    pub fn public_key(&self) -> Result<Option<Vec<u8>>, KeyError> {
        let der = |result: Result<spki::Document, spki::Error>| {
            result
                .map(|document| Some(document.into_vec()))
                .map_err(|_| KeyError::Internal)
        };
        match self {
            Self::Rsa(_, key) => der(RsaPublicKey::from(key.as_ref()).to_public_key_der()),
            Self::P256(key) => der(key.verifying_key().to_public_key_der()),
            Self::P384(key) => der(key.verifying_key().to_public_key_der()),
            Self::P521(key) => der(key.verifying_key().to_public_key_der()),
            Self::Secp256k1(key) => der(key.verifying_key().to_public_key_der()),
            Self::Ed25519(key) => der(key.verifying_key().to_public_key_der()),
            Self::Hmac(..) => Ok(None),
        }
    }

    /// Signs `message` (or its digest) with `algorithm`, in AWS's encodings:
    /// DER for ECDSA, raw for RSA and Ed25519.
    pub fn sign<R: rand_core::CryptoRng + ?Sized>(
        &self,
        algorithm: SigningAlgorithm,
        message_type: MessageType,
        message: &[u8],
        rng: &mut R,
    ) -> Result<Vec<u8>, KeyError> {
        if !algorithm.fits(self.spec()) {
            return Err(invalid("the signing algorithm does not fit the key"));
        }
        let digest = prehash(algorithm, message_type, message)?;
        fn failed<E>(_: E) -> KeyError {
            KeyError::Internal
        }
        Ok(match (self, algorithm) {
            // The padding schemes sign the digest with the key borrowed: no
            // copy of the private key per signature.
            (Self::Rsa(_, key), SigningAlgorithm::RsassaPss(hash)) => match hash {
                Hash::Sha256 => key.sign_with_rng(rng, rsa::Pss::<Sha256>::new(), &digest),
                Hash::Sha384 => key.sign_with_rng(rng, rsa::Pss::<Sha384>::new(), &digest),
                Hash::Sha512 | Hash::Sha224 => {
                    key.sign_with_rng(rng, rsa::Pss::<Sha512>::new(), &digest)
                }
            }
            .map_err(failed)?,
            (Self::Rsa(_, key), SigningAlgorithm::RsassaPkcs1V15(hash)) => match hash {
                Hash::Sha256 => key.sign(rsa::Pkcs1v15Sign::new::<Sha256>(), &digest),
                Hash::Sha384 => key.sign(rsa::Pkcs1v15Sign::new::<Sha384>(), &digest),
                Hash::Sha512 | Hash::Sha224 => {
                    key.sign(rsa::Pkcs1v15Sign::new::<Sha512>(), &digest)
                }
            }
            .map_err(failed)?,
            (Self::P256(key), SigningAlgorithm::Ecdsa(_)) => {
                let signature: p256::ecdsa::DerSignature =
                    key.sign_prehash_with_rng(rng, &digest).map_err(failed)?;
                signature.as_bytes().to_vec()
            }
            (Self::P384(key), SigningAlgorithm::Ecdsa(_)) => {
                let signature: p384::ecdsa::DerSignature =
                    key.sign_prehash_with_rng(rng, &digest).map_err(failed)?;
                signature.as_bytes().to_vec()
            }
            (Self::P521(key), SigningAlgorithm::Ecdsa(_)) => {
                let signature: p521::ecdsa::DerSignature =
                    key.sign_prehash_with_rng(rng, &digest).map_err(failed)?;
                signature.as_bytes().to_vec()
            }
            (Self::Secp256k1(key), SigningAlgorithm::Ecdsa(_)) => {
                let signature: k256::ecdsa::DerSignature =
                    key.sign_prehash_with_rng(rng, &digest).map_err(failed)?;
                signature.as_bytes().to_vec()
            }
            (Self::Ed25519(key), SigningAlgorithm::Ed25519) => {
                use ed25519_dalek::Signer;
                key.try_sign(message).map_err(failed)?.to_bytes().to_vec()
            }
            (Self::Ed25519(key), SigningAlgorithm::Ed25519Ph) => key
                .sign_prehashed(GivenSha512::new(&digest)?, None)
                .map_err(failed)?
                .to_bytes()
                .to_vec(),
            _ => return Err(invalid("the signing algorithm does not fit the key")),
        })
    }

    /// An HMAC of `message` with `hash`, which must be the key spec's.
    pub fn mac(&self, hash: Hash, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        Ok(self.hmac(hash, message)?.finalize())
    }

    /// Whether `tag` is the HMAC of `message` (compared in constant time).
    pub fn verify_mac(&self, hash: Hash, message: &[u8], tag: &[u8]) -> Result<bool, KeyError> {
        Ok(self.hmac(hash, message)?.verify_slice(tag))
    }

    fn hmac(&self, hash: Hash, message: &[u8]) -> Result<AnyHmac, KeyError> {
        let Self::Hmac(spec, key) = self else {
            return Err(invalid("the key is not an HMAC key"));
        };
        let expected = match spec {
            KeySpec::Hmac224 => Hash::Sha224,
            KeySpec::Hmac256 => Hash::Sha256,
            KeySpec::Hmac384 => Hash::Sha384,
            _ => Hash::Sha512,
        };
        if hash != expected {
            return Err(invalid("the MAC algorithm does not fit the key"));
        }
        if message.len() > MAX_MESSAGE {
            return Err(invalid("`message` must be at most 4096 bytes"));
        }
        AnyHmac::new(hash, key, message)
    }

    /// RSA-OAEP decryption. Every failure is [`KeyError::InvalidCiphertext`].
    pub fn decrypt<R: rand_core::CryptoRng + ?Sized>(
        &self,
        hash: OaepHash,
        ciphertext: &[u8],
        rng: &mut R,
    ) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let Self::Rsa(_, key) = self else {
            return Err(invalid("the key is not an RSA key"));
        };
        match hash {
            OaepHash::Sha1 => key.decrypt_blinded(rng, Oaep::<sha1::Sha1>::new(), ciphertext),
            OaepHash::Sha256 => key.decrypt_blinded(rng, Oaep::<Sha256>::new(), ciphertext),
        }
        .map(Zeroizing::new)
        .map_err(|_| KeyError::InvalidCiphertext)
    }

    /// ECDH with the peer's public key (DER `SubjectPublicKeyInfo`): the
    /// raw shared secret, the x-coordinate of the shared point, as AWS
    /// returns it.
    pub fn agree(&self, peer: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let bad = |_| KeyError::InvalidPublicKey;
        let secret = match self {
            Self::P256(key) => {
                let peer = p256::PublicKey::from_public_key_der(peer).map_err(bad)?;
                let shared = p256::ecdh::diffie_hellman(key.as_nonzero_scalar(), peer.as_affine());
                shared.raw_secret_bytes().to_vec()
            }
            Self::P384(key) => {
                let peer = p384::PublicKey::from_public_key_der(peer).map_err(bad)?;
                let shared = p384::ecdh::diffie_hellman(key.as_nonzero_scalar(), peer.as_affine());
                shared.raw_secret_bytes().to_vec()
            }
            Self::P521(key) => {
                let peer = p521::PublicKey::from_public_key_der(peer).map_err(bad)?;
                let shared = p521::ecdh::diffie_hellman(key.as_nonzero_scalar(), peer.as_affine());
                shared.raw_secret_bytes().to_vec()
            }
            _ => return Err(invalid("the key is not a NIST curve key")),
        };
        Ok(Zeroizing::new(secret))
    }
}

/// The digest to sign: the message hashed with the algorithm's hash, or the
/// message itself when it is already that digest.
fn prehash(
    algorithm: SigningAlgorithm,
    message_type: MessageType,
    message: &[u8],
) -> Result<Vec<u8>, KeyError> {
    let hash = algorithm.hash();
    match (algorithm, message_type) {
        (SigningAlgorithm::Ed25519, MessageType::Digest) => {
            Err(invalid("Ed25519 signs raw messages only"))
        }
        (SigningAlgorithm::Ed25519Ph, MessageType::Raw) => {
            Err(invalid("Ed25519ph signs digests only"))
        }
        (_, MessageType::Raw) if message.len() > MAX_MESSAGE || message.is_empty() => {
            Err(invalid("`message` must be between 1 and 4096 bytes"))
        }
        (_, MessageType::Raw) => Ok(hash.digest(message)),
        (_, MessageType::Digest) if message.len() != hash.digest_len() => {
            Err(invalid("the digest has the wrong length for the algorithm"))
        }
        (_, MessageType::Digest) => Ok(message.to_vec()),
    }
}

/// Verifies a signature with a public key (DER `SubjectPublicKeyInfo`) of
/// `spec`. A signature that is malformed, or made by another key or over
/// another message, is `Ok(false)`; a public key that does not parse is
/// [`KeyError::InvalidPublicKey`].
pub fn verify(
    spec: KeySpec,
    public_key: &[u8],
    algorithm: SigningAlgorithm,
    message_type: MessageType,
    message: &[u8],
    signature: &[u8],
) -> Result<bool, KeyError> {
    if !algorithm.fits(spec) {
        return Err(invalid("the signing algorithm does not fit the key"));
    }
    let digest = prehash(algorithm, message_type, message)?;
    let bad = |_| KeyError::InvalidPublicKey;
    let valid = match (spec, algorithm) {
        (_, SigningAlgorithm::RsassaPss(hash) | SigningAlgorithm::RsassaPkcs1V15(hash)) => {
            let key = RsaPublicKey::from_public_key_der(public_key).map_err(bad)?;
            if Some(key.n().bits() as usize) != spec.rsa_bits() {
                return Err(KeyError::InvalidPublicKey);
            }
            let pss = matches!(algorithm, SigningAlgorithm::RsassaPss(_));
            rsa_verify(key, pss, hash, &digest, signature)
        }
        (KeySpec::P256, _) => {
            let key = p256::ecdsa::VerifyingKey::from_public_key_der(public_key).map_err(bad)?;
            p256::ecdsa::Signature::from_der(signature)
                .is_ok_and(|s| key.verify_prehash(&digest, &s).is_ok())
        }
        (KeySpec::P384, _) => {
            let key = p384::ecdsa::VerifyingKey::from_public_key_der(public_key).map_err(bad)?;
            p384::ecdsa::Signature::from_der(signature)
                .is_ok_and(|s| key.verify_prehash(&digest, &s).is_ok())
        }
        (KeySpec::P521, _) => {
            let key = p521::ecdsa::VerifyingKey::from_public_key_der(public_key).map_err(bad)?;
            p521::ecdsa::Signature::from_der(signature)
                .is_ok_and(|s| key.verify_prehash(&digest, &s).is_ok())
        }
        (KeySpec::Secp256k1, _) => {
            let key = k256::ecdsa::VerifyingKey::from_public_key_der(public_key).map_err(bad)?;
            // ECDSA accepts either of s and n - s; k256 takes only the low
            // one, so a high-s signature made elsewhere is normalised first.
            k256::ecdsa::Signature::from_der(signature)
                .is_ok_and(|s| key.verify_prehash(&digest, &s.normalize_s()).is_ok())
        }
        (KeySpec::Ed25519, _) => {
            let key = ed25519_dalek::VerifyingKey::from_public_key_der(public_key).map_err(bad)?;
            match ed25519_dalek::Signature::from_slice(signature) {
                Err(_) => false,
                Ok(s) if algorithm == SigningAlgorithm::Ed25519 => {
                    key.verify_strict(message, &s).is_ok()
                }
                Ok(s) => key
                    .verify_prehashed(GivenSha512::new(&digest)?, None, &s)
                    .is_ok(),
            }
        }
        _ => return Err(invalid("the signing algorithm does not fit the key")),
    };
    Ok(valid)
}

fn rsa_verify(key: RsaPublicKey, pss: bool, hash: Hash, digest: &[u8], signature: &[u8]) -> bool {
    if pss {
        let Ok(signature) = rsa::pss::Signature::try_from(signature) else {
            return false;
        };
        match hash {
            Hash::Sha256 => {
                rsa::pss::VerifyingKey::<Sha256>::new(key).verify_prehash(digest, &signature)
            }
            Hash::Sha384 => {
                rsa::pss::VerifyingKey::<Sha384>::new(key).verify_prehash(digest, &signature)
            }
            Hash::Sha512 | Hash::Sha224 => {
                rsa::pss::VerifyingKey::<Sha512>::new(key).verify_prehash(digest, &signature)
            }
        }
        .is_ok()
    } else {
        let Ok(signature) = rsa::pkcs1v15::Signature::try_from(signature) else {
            return false;
        };
        match hash {
            Hash::Sha256 => {
                rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key).verify_prehash(digest, &signature)
            }
            Hash::Sha384 => {
                rsa::pkcs1v15::VerifyingKey::<Sha384>::new(key).verify_prehash(digest, &signature)
            }
            Hash::Sha512 | Hash::Sha224 => {
                rsa::pkcs1v15::VerifyingKey::<Sha512>::new(key).verify_prehash(digest, &signature)
            }
        }
        .is_ok()
    }
}

/// RSA-OAEP encryption with a public key (DER `SubjectPublicKeyInfo`) of
/// `spec`. The plaintext must fit: at most the modulus size less
/// `2 * hash length + 2` bytes.
pub fn encrypt<R: rand_core::CryptoRng + ?Sized>(
    spec: KeySpec,
    public_key: &[u8],
    hash: OaepHash,
    plaintext: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, KeyError> {
    let key =
        RsaPublicKey::from_public_key_der(public_key).map_err(|_| KeyError::InvalidPublicKey)?;
    if Some(key.n().bits() as usize) != spec.rsa_bits() {
        return Err(KeyError::InvalidPublicKey);
    }
    match hash {
        OaepHash::Sha1 => key.encrypt(rng, Oaep::<sha1::Sha1>::new(), plaintext),
        OaepHash::Sha256 => key.encrypt(rng, Oaep::<Sha256>::new(), plaintext),
    }
    .map_err(|_| invalid("the plaintext is too long for the key and algorithm"))
}

/// HMAC under any of the four hashes.
enum AnyHmac {
    Sha224(hmac::Hmac<Sha224>),
    Sha256(hmac::Hmac<Sha256>),
    Sha384(hmac::Hmac<Sha384>),
    Sha512(hmac::Hmac<Sha512>),
}

impl AnyHmac {
    fn new(hash: Hash, key: &[u8], message: &[u8]) -> Result<Self, KeyError> {
        fn keyed<M: Mac + KeyInit>(key: &[u8], message: &[u8]) -> Result<M, KeyError> {
            let mut mac = <M as KeyInit>::new_from_slice(key).map_err(|_| KeyError::Internal)?;
            mac.update(message);
            Ok(mac)
        }
        Ok(match hash {
            Hash::Sha224 => Self::Sha224(keyed(key, message)?),
            Hash::Sha256 => Self::Sha256(keyed(key, message)?),
            Hash::Sha384 => Self::Sha384(keyed(key, message)?),
            Hash::Sha512 => Self::Sha512(keyed(key, message)?),
        })
    }

    fn finalize(self) -> Vec<u8> {
        match self {
            Self::Sha224(mac) => mac.finalize().into_bytes().to_vec(),
            Self::Sha256(mac) => mac.finalize().into_bytes().to_vec(),
            Self::Sha384(mac) => mac.finalize().into_bytes().to_vec(),
            Self::Sha512(mac) => mac.finalize().into_bytes().to_vec(),
        }
    }

    /// Constant-time comparison, by the `hmac` crate.
    fn verify_slice(self, tag: &[u8]) -> bool {
        match self {
            Self::Sha224(mac) => mac.verify_slice(tag).is_ok(),
            Self::Sha256(mac) => mac.verify_slice(tag).is_ok(),
            Self::Sha384(mac) => mac.verify_slice(tag).is_ok(),
            Self::Sha512(mac) => mac.verify_slice(tag).is_ok(),
        }
    }
}

/// A SHA-512 "digest" whose output is given rather than computed: Ed25519ph
/// takes its prehash as a digest object, and a `DIGEST` message is the
/// prehash already.
#[derive(Default, Clone)]
struct GivenSha512(Vec<u8>);

impl GivenSha512 {
    fn new(digest: &[u8]) -> Result<Self, KeyError> {
        if digest.len() != 64 {
            return Err(invalid("the digest has the wrong length for the algorithm"));
        }
        Ok(Self(digest.to_vec()))
    }
}

impl digest::HashMarker for GivenSha512 {}

impl digest::OutputSizeUser for GivenSha512 {
    type OutputSize = digest::consts::U64;
}

impl digest::Update for GivenSha512 {
    fn update(&mut self, data: &[u8]) {
        self.0.extend_from_slice(data);
    }
}

impl digest::FixedOutput for GivenSha512 {
    fn finalize_into(self, out: &mut digest::Output<Self>) {
        // INVARIANT: `new` is the only constructor the signing paths use, and
        // it takes exactly 64 bytes; nothing updates it after.
        for (slot, byte) in out.iter_mut().zip(self.0.iter()) {
            *slot = *byte;
        }
    }
}

fn sealed_key_aad(label: &[u8]) -> Vec<u8> {
    [AAD_KEY_MATERIAL, label].concat()
}

/// Seals `key` under `domain`, bound to `label`: the sealed bytes are the
/// spec's tag followed by [`PrivateKey::to_secret`].
pub fn seal(
    domain: &SecretKey,
    label: &[u8],
    key: &PrivateKey,
    nonce: [u8; NONCE_LEN],
) -> Result<Vec<u8>, KeyError> {
    seal_with(domain, &sealed_key_aad(label), key, nonce)
}

fn seal_with(
    domain: &SecretKey,
    aad: &[u8],
    key: &PrivateKey,
    nonce: [u8; NONCE_LEN],
) -> Result<Vec<u8>, KeyError> {
    let secret = key.to_secret()?;
    let mut plain = Zeroizing::new(Vec::with_capacity(1 + secret.len()));
    plain.push(key.spec().tag());
    plain.extend_from_slice(&secret);
    crypto::seal_secret(domain, aad, &plain, nonce).map_err(|Opaque| KeyError::Internal)
}

fn open_with(domain: &SecretKey, aad: &[u8], blob: &[u8]) -> Result<PrivateKey, KeyError> {
    let plain =
        crypto::open_secret(domain, aad, blob).map_err(|Opaque| KeyError::InvalidSealedKey)?;
    let (&tag, secret) = plain.split_first().ok_or(KeyError::InvalidSealedKey)?;
    let spec = KeySpec::from_tag(tag).ok_or(KeyError::InvalidSealedKey)?;
    PrivateKey::from_secret(spec, secret).map_err(|_| KeyError::InvalidSealedKey)
}

/// Associated data of a prepared key: no label, and a prefix no label can
/// make, so that it opens only as a prepared key.
const AAD_PREPARED_KEY: &[u8] = b"keyward/v1/prepared-key";

/// Seals a key generated ahead of use ([`open_prepared`] opens it).
pub fn seal_prepared(
    domain: &SecretKey,
    key: &PrivateKey,
    nonce: [u8; NONCE_LEN],
) -> Result<Vec<u8>, KeyError> {
    seal_with(domain, AAD_PREPARED_KEY, key, nonce)
}

/// Opens a key sealed by [`seal_prepared`]; it must be of `spec`.
pub fn open_prepared(
    domain: &SecretKey,
    blob: &[u8],
    spec: KeySpec,
) -> Result<PrivateKey, KeyError> {
    let key = open_with(domain, AAD_PREPARED_KEY, blob)?;
    if key.spec() == spec {
        Ok(key)
    } else {
        Err(KeyError::InvalidSealedKey)
    }
}

/// Opens a key sealed by [`seal`] with the same label.
pub fn open(domain: &SecretKey, label: &[u8], blob: &[u8]) -> Result<PrivateKey, KeyError> {
    open_with(domain, &sealed_key_aad(label), blob)
}

#[cfg(test)]
mod tests;
