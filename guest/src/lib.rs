//! keyward's crypto core: the WASI 0.2 component that plays the HSM.
//!
//! It holds the key store's domain key in its own linear memory and performs
//! every operation that touches key material (see `wit/crypto.wit`). The pure
//! cryptography lives in [`crypto`], where it is tested natively against
//! known-answer vectors; this file is the component glue and the instance
//! state.

pub mod crypto;
pub mod import;
pub mod keys;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crypto::{NONCE_LEN, Opaque, SALT_LEN, SecretKey};
use zeroize::Zeroizing;

#[cfg(target_arch = "wasm32")]
#[expect(
    unsafe_code,
    reason = "wit-bindgen's generated glue for the canonical ABI"
)]
mod bindings {
    #[cfg(not(feature = "test-hooks"))]
    wit_bindgen::generate!({ path: "../wit", world: "crypto-core" });
    #[cfg(feature = "test-hooks")]
    wit_bindgen::generate!({ path: "../wit", world: "crypto-core-testing" });

    use super::Component;
    export!(Component);
}

/// The component's export type.
#[cfg(target_arch = "wasm32")]
struct Component;

/// How many unwrapped backing keys an instance keeps, so that a hot key is
/// not unwrapped on every call. Past this the cache starts over.
const KEY_CACHE_LIMIT: usize = 4096;

/// What a started instance holds.
struct State {
    domain: SecretKey,
    /// The key that MACs audit digests, derived from the domain key.
    audit: SecretKey,
    /// Unwrapped backing keys by (label, wrapped blob). The blob carries a
    /// random nonce, so equal blobs mean equal material.
    keys: HashMap<(Vec<u8>, Vec<u8>), SecretKey>,
    /// Opened private and HMAC keys, likewise: parsing an RSA key costs far
    /// more than using it.
    private_keys: HashMap<(Vec<u8>, Vec<u8>), Rc<keys::PrivateKey>>,
}

thread_local! {
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
}

/// Failures of the core, mirrored one to one by the WIT `error` variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreError {
    /// `start` has not succeeded.
    NotStarted,
    /// `start` was already called.
    AlreadyStarted,
    /// The master key or the sealed domain key is wrong.
    InvalidDomainKey,
    /// A wrapped key does not open under the domain key and label.
    InvalidWrappedKey,
    /// A ciphertext body failed authentication.
    InvalidCiphertext,
    /// An argument is out of range.
    InvalidArgument(String),
    /// The random source failed.
    EntropyUnavailable,
    /// Imported material is not a key of its spec.
    IncorrectKeyMaterial,
    /// A public key is not a valid key of the expected spec.
    InvalidPublicKey,
}

impl From<keys::KeyError> for CoreError {
    fn from(error: keys::KeyError) -> Self {
        match error {
            keys::KeyError::InvalidArgument(what) => Self::InvalidArgument(what),
            keys::KeyError::InvalidSealedKey => Self::InvalidWrappedKey,
            keys::KeyError::InvalidCiphertext => Self::InvalidCiphertext,
            keys::KeyError::InvalidPublicKey => Self::InvalidPublicKey,
            keys::KeyError::IncorrectMaterial => Self::IncorrectKeyMaterial,
            keys::KeyError::Internal => {
                Self::InvalidArgument("generating or encoding the key failed".into())
            }
        }
    }
}

impl From<import::ImportError> for CoreError {
    fn from(error: import::ImportError) -> Self {
        match error {
            import::ImportError::UnsupportedSize => {
                Self::InvalidArgument("the wrapping key size must be 2048, 3072 or 4096".into())
            }
            import::ImportError::Internal => {
                Self::InvalidArgument("generating the wrapping key failed".into())
            }
            import::ImportError::InvalidToken => Self::InvalidWrappedKey,
            import::ImportError::InvalidCiphertext => Self::InvalidCiphertext,
        }
    }
}

/// The WASI random source as the RSA code wants it. A failing source traps
/// the instance (the host replaces it), which is the only safe outcome in
/// the middle of key generation.
fn rsa_rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}

fn random<const N: usize>() -> Result<[u8; N], CoreError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|_| CoreError::EntropyUnavailable)?;
    Ok(bytes)
}

fn random_key() -> Result<SecretKey, CoreError> {
    Ok(SecretKey::from_bytes(*Zeroizing::new(random()?)))
}

fn master_key(bytes: &[u8]) -> Result<SecretKey, CoreError> {
    SecretKey::from_slice(bytes).ok_or(CoreError::InvalidDomainKey)
}

fn with_state<T>(f: impl FnOnce(&mut State) -> Result<T, CoreError>) -> Result<T, CoreError> {
    STATE.with_borrow_mut(|state| match state {
        Some(state) => f(state),
        None => Err(CoreError::NotStarted),
    })
}

fn backing_key<'s>(
    state: &'s mut State,
    label: &[u8],
    blob: &[u8],
) -> Result<&'s SecretKey, CoreError> {
    let cache_key = (label.to_vec(), blob.to_vec());
    if !state.keys.contains_key(&cache_key) {
        let key = crypto::unwrap_backing_key(&state.domain, label, blob)
            .map_err(|Opaque| CoreError::InvalidWrappedKey)?;
        if state.keys.len() >= KEY_CACHE_LIMIT {
            state.keys.clear();
        }
        state.keys.insert(cache_key.clone(), key);
    }
    state
        .keys
        .get(&cache_key)
        .ok_or(CoreError::InvalidWrappedKey)
}

fn private_key(
    state: &mut State,
    label: &[u8],
    blob: &[u8],
) -> Result<Rc<keys::PrivateKey>, CoreError> {
    let cache_key = (label.to_vec(), blob.to_vec());
    if let Some(key) = state.private_keys.get(&cache_key) {
        return Ok(Rc::clone(key));
    }
    let key = Rc::new(keys::open(&state.domain, label, blob)?);
    if state.private_keys.len() >= KEY_CACHE_LIMIT {
        state.private_keys.clear();
    }
    state.private_keys.insert(cache_key, Rc::clone(&key));
    Ok(key)
}

fn check_length(name: &str, length: usize, max: usize) -> Result<(), CoreError> {
    if (1..=max).contains(&length) {
        Ok(())
    } else {
        Err(CoreError::InvalidArgument(format!(
            "`{name}` must be between 1 and {max} bytes"
        )))
    }
}

/// The operations of the core, independent of the WIT glue.
pub mod ops {
    use super::*;

    /// See `create-domain-key` in the WIT.
    pub fn create_domain_key(master: &[u8]) -> Result<Vec<u8>, CoreError> {
        let master = master_key(master)?;
        let domain = random_key()?;
        crypto::seal_domain_key(&master, &domain, random()?)
            .map_err(|Opaque| CoreError::InvalidDomainKey)
    }

    /// See `start` in the WIT.
    pub fn start(master: &[u8], sealed: &[u8]) -> Result<(), CoreError> {
        STATE.with_borrow_mut(|state| {
            if state.is_some() {
                return Err(CoreError::AlreadyStarted);
            }
            let domain = crypto::open_domain_key(&master_key(master)?, sealed)
                .map_err(|Opaque| CoreError::InvalidDomainKey)?;
            *state = Some(State {
                audit: crypto::audit_digest_key(&domain),
                domain,
                keys: HashMap::new(),
                private_keys: HashMap::new(),
            });
            Ok(())
        })
    }

    /// See `generate-key` in the WIT: `None` is `SYMMETRIC_DEFAULT`.
    /// Returns the wrapped material and the public key.
    pub fn generate_key(
        label: &[u8],
        spec: Option<keys::KeySpec>,
        prepared: Option<&[u8]>,
    ) -> Result<(Vec<u8>, Option<Vec<u8>>), CoreError> {
        let key = match spec {
            Some(spec) => Some(new_private_key(spec, prepared)?),
            None => None,
        };
        with_state(|state| match &key {
            None => {
                let material = random_key()?;
                let blob = crypto::wrap_backing_key(
                    &state.domain,
                    label,
                    &material,
                    random::<NONCE_LEN>()?,
                )
                .map_err(|Opaque| CoreError::InvalidWrappedKey)?;
                Ok((blob, None))
            }
            Some(key) => {
                let blob = keys::seal(&state.domain, label, key, random()?)?;
                Ok((blob, key.public_key()?))
            }
        })
    }

    /// A private key of `spec`: the prepared one if given, else a new one.
    /// An RSA key takes seconds to generate, so it is made without holding
    /// the state, and only sealed under it.
    fn new_private_key(
        spec: keys::KeySpec,
        prepared: Option<&[u8]>,
    ) -> Result<keys::PrivateKey, CoreError> {
        match prepared {
            Some(blob) => with_state(|state| Ok(keys::open_prepared(&state.domain, blob, spec)?)),
            None => Ok(keys::PrivateKey::generate(spec, &mut rsa_rng())?),
        }
    }

    /// See `prepare-key` in the WIT.
    pub fn prepare_key(spec: keys::KeySpec) -> Result<Vec<u8>, CoreError> {
        if spec.is_hmac() {
            return Err(CoreError::InvalidArgument(
                "only private keys are prepared".into(),
            ));
        }
        let key = keys::PrivateKey::generate(spec, &mut rsa_rng())?;
        with_state(|state| Ok(keys::seal_prepared(&state.domain, &key, random()?)?))
    }

    /// See `sign` in the WIT.
    pub fn sign(
        label: &[u8],
        blob: &[u8],
        algorithm: keys::SigningAlgorithm,
        message_type: keys::MessageType,
        message: &[u8],
    ) -> Result<Vec<u8>, CoreError> {
        let key = with_state(|state| private_key(state, label, blob))?;
        Ok(key.sign(algorithm, message_type, message, &mut rsa_rng())?)
    }

    /// See `generate-mac` in the WIT.
    pub fn generate_mac(
        label: &[u8],
        blob: &[u8],
        hash: keys::Hash,
        message: &[u8],
    ) -> Result<Vec<u8>, CoreError> {
        let key = with_state(|state| private_key(state, label, blob))?;
        Ok(key.mac(hash, message)?)
    }

    /// See `verify-mac` in the WIT.
    pub fn verify_mac(
        label: &[u8],
        blob: &[u8],
        hash: keys::Hash,
        message: &[u8],
        tag: &[u8],
    ) -> Result<bool, CoreError> {
        let key = with_state(|state| private_key(state, label, blob))?;
        Ok(key.verify_mac(hash, message, tag)?)
    }

    /// See `rsa-decrypt` in the WIT.
    pub fn rsa_decrypt(
        label: &[u8],
        blob: &[u8],
        hash: keys::OaepHash,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CoreError> {
        let key = with_state(|state| private_key(state, label, blob))?;
        Ok(key.decrypt(hash, ciphertext, &mut rsa_rng())?)
    }

    /// See `generate-data-key-pair` in the WIT. Returns the public key, the
    /// private key and the body that seals it.
    pub fn generate_data_key_pair(
        label: &[u8],
        blob: &[u8],
        aad: &[u8],
        spec: keys::KeySpec,
        prepared: Option<&[u8]>,
    ) -> Result<KeyPair, CoreError> {
        if spec.is_hmac() {
            return Err(CoreError::InvalidArgument(
                "the spec is not a data key pair spec".into(),
            ));
        }
        let pair = new_private_key(spec, prepared)?;
        let public = pair
            .public_key()?
            .ok_or_else(|| CoreError::InvalidArgument("the pair has no public key".into()))?;
        let private = pair.to_secret()?;
        let body = encrypt(label, blob, aad, &private)?;
        Ok(KeyPair {
            public_key: public,
            private_key: private,
            body,
        })
    }

    /// See `derive-shared-secret` in the WIT.
    pub fn derive_shared_secret(
        label: &[u8],
        blob: &[u8],
        peer: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CoreError> {
        let key = with_state(|state| private_key(state, label, blob))?;
        Ok(key.agree(peer)?)
    }

    /// See `encrypt` in the WIT.
    pub fn encrypt(
        label: &[u8],
        blob: &[u8],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CoreError> {
        check_length("plaintext", plaintext.len(), crypto::MAX_PLAINTEXT)?;
        with_state(|state| {
            let key = backing_key(state, label, blob)?;
            crypto::seal_message(key, random::<SALT_LEN>()?, aad, plaintext)
                .map_err(|Opaque| CoreError::InvalidArgument("`plaintext` is too long".into()))
        })
    }

    /// See `decrypt` in the WIT.
    pub fn decrypt(
        label: &[u8],
        blob: &[u8],
        aad: &[u8],
        body: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CoreError> {
        with_state(|state| {
            let key = backing_key(state, label, blob)?;
            crypto::open_message(key, aad, body).map_err(|Opaque| CoreError::InvalidCiphertext)
        })
    }

    /// See `generate-data-key` in the WIT. Returns the plaintext and the body.
    pub fn generate_data_key(
        label: &[u8],
        blob: &[u8],
        aad: &[u8],
        length: u32,
    ) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>), CoreError> {
        let length = usize::try_from(length).unwrap_or(usize::MAX);
        check_length("length", length, 1024)?;
        let mut plaintext = Zeroizing::new(vec![0u8; length]);
        getrandom::fill(&mut plaintext).map_err(|_| CoreError::EntropyUnavailable)?;
        let body = encrypt(label, blob, aad, &plaintext)?;
        Ok((plaintext, body))
    }

    /// A data key pair (see `generate-data-key-pair` in the WIT).
    pub struct KeyPair {
        /// DER `SubjectPublicKeyInfo`.
        pub public_key: Vec<u8>,
        /// PKCS #8 DER.
        pub private_key: Zeroizing<Vec<u8>>,
        /// The private key sealed as `encrypt` seals.
        pub body: Vec<u8>,
    }

    impl std::fmt::Debug for KeyPair {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            // The private key's bytes never reach a log.
            f.debug_struct("KeyPair")
                .field("public_key", &self.public_key.len())
                .finish_non_exhaustive()
        }
    }

    /// Imported material (see `import-key` in the WIT).
    #[derive(Debug)]
    pub struct Imported {
        /// Wrapped under the domain key.
        pub blob: Vec<u8>,
        /// The keyed fingerprint.
        pub fingerprint: Vec<u8>,
        /// The public key of asymmetric material.
        pub public_key: Option<Vec<u8>>,
    }

    /// A ciphertext `re_encrypt` opens (see `ciphertext-source` in the WIT).
    #[derive(Debug)]
    pub enum Source<'a> {
        /// A body under a symmetric key: label, blob, AAD, body.
        Symmetric(&'a [u8], &'a [u8], &'a [u8], &'a [u8]),
        /// RSA-OAEP under an RSA key: label, blob, hash, ciphertext.
        Rsa(&'a [u8], &'a [u8], keys::OaepHash, &'a [u8]),
    }

    /// What `re_encrypt` seals for (see `ciphertext-destination`).
    #[derive(Debug)]
    pub enum Destination<'a> {
        /// A symmetric key: label, blob, AAD.
        Symmetric(&'a [u8], &'a [u8], &'a [u8]),
        /// An RSA public key: spec, DER, hash.
        Rsa(keys::KeySpec, &'a [u8], keys::OaepHash),
    }

    /// See `re-encrypt` in the WIT.
    pub fn re_encrypt(
        source: Source<'_>,
        destination: Destination<'_>,
    ) -> Result<Vec<u8>, CoreError> {
        let plaintext = match source {
            Source::Symmetric(label, blob, aad, body) => decrypt(label, blob, aad, body)?,
            Source::Rsa(label, blob, hash, ciphertext) => {
                rsa_decrypt(label, blob, hash, ciphertext)?
            }
        };
        match destination {
            Destination::Symmetric(label, blob, aad) => encrypt(label, blob, aad, &plaintext),
            Destination::Rsa(spec, public, hash) => Ok(keys::encrypt(
                spec,
                public,
                hash,
                &plaintext,
                &mut rsa_rng(),
            )?),
        }
    }

    /// See `seal-digest` in the WIT.
    pub fn seal_digest(message: &[u8]) -> Result<Vec<u8>, CoreError> {
        with_state(|state| {
            crypto::seal_digest(&state.audit, message)
                .map_err(|Opaque| CoreError::InvalidArgument("digest".into()))
        })
    }

    /// See `check-digest` in the WIT.
    pub fn check_digest(message: &[u8], tag: &[u8]) -> Result<bool, CoreError> {
        with_state(|state| {
            crypto::check_digest(&state.audit, message, tag)
                .map_err(|Opaque| CoreError::InvalidArgument("digest".into()))
        })
    }

    /// See `generate-wrapping-key` in the WIT.
    pub fn generate_wrapping_key(
        label: &[u8],
        bits: u32,
    ) -> Result<import::WrappingKeyPair, CoreError> {
        with_state(|state| {
            Ok(import::generate_wrapping_key(
                &state.domain,
                label,
                bits,
                &mut rsa_rng(),
                random()?,
            )?)
        })
    }

    /// See `import-key` in the WIT (`None` is `SYMMETRIC_DEFAULT`). Returns
    /// the wrapped material, its fingerprint and its public key.
    pub fn import_key(
        wrapping_key: (&[u8], &[u8]),
        algorithm: import::WrappingAlgorithm,
        encrypted_material: &[u8],
        label: &[u8],
        spec: Option<keys::KeySpec>,
    ) -> Result<Imported, CoreError> {
        with_state(|state| {
            let material = import::open_material(
                &state.domain,
                wrapping_key.0,
                wrapping_key.1,
                algorithm,
                encrypted_material,
                &mut rsa_rng(),
            )?;
            // Neither step can fail for a key that parsed; if one did, it is
            // no fault of the token or the material.
            let failed = |Opaque| CoreError::InvalidArgument("sealing imported material".into());
            let (blob, secret, public) = match spec {
                None => {
                    let key =
                        SecretKey::from_slice(&material).ok_or(CoreError::IncorrectKeyMaterial)?;
                    let blob = crypto::wrap_backing_key(&state.domain, label, &key, random()?)
                        .map_err(failed)?;
                    (blob, material, None)
                }
                Some(spec) => {
                    let key = keys::PrivateKey::from_secret(spec, &material)?;
                    let blob = keys::seal(&state.domain, label, &key, random()?)?;
                    // The canonical encoding, so that the same key in
                    // another PKCS #8 encoding fingerprints alike.
                    (blob, key.to_secret()?, key.public_key()?)
                }
            };
            let fingerprint =
                import::material_fingerprint(&state.domain, label, &secret).map_err(failed)?;
            Ok(Imported {
                blob,
                fingerprint,
                public_key: public,
            })
        })
    }

    /// See `random-bytes` in the WIT.
    pub fn random_bytes(length: u32) -> Result<Vec<u8>, CoreError> {
        let length = usize::try_from(length).unwrap_or(usize::MAX);
        check_length("length", length, 1024)?;
        let mut bytes = vec![0u8; length];
        getrandom::fill(&mut bytes).map_err(|_| CoreError::EntropyUnavailable)?;
        Ok(bytes)
    }

    /// See `reveal-key` in the WIT (test hooks only).
    #[cfg(feature = "test-hooks")]
    pub fn reveal_key(label: &[u8], blob: &[u8]) -> Result<Vec<u8>, CoreError> {
        with_state(|state| match backing_key(state, label, blob) {
            Ok(key) => Ok(key.expose().to_vec()),
            Err(_) => Ok(private_key(state, label, blob)?.to_secret()?.to_vec()),
        })
    }
}

#[cfg(target_arch = "wasm32")]
mod glue {
    use super::bindings::exports::keyward::crypto::core::Guest;
    use super::bindings::keyward::crypto::types::{
        CiphertextDestination, CiphertextSource, DataKey, DataKeyPair, Error, GeneratedKey,
        ImportedKey, KeySpec, MacAlgorithm, MessageType, OaepHash, SigningAlgorithm, WrappedKey,
        WrappingAlgorithm, WrappingKeyPair,
    };
    use super::ops::{Destination, Source};
    use super::{Component, CoreError, import, keys, ops};
    use zeroize::Zeroizing;

    impl From<CoreError> for Error {
        fn from(error: CoreError) -> Self {
            match error {
                CoreError::NotStarted => Error::NotStarted,
                CoreError::AlreadyStarted => Error::AlreadyStarted,
                CoreError::InvalidDomainKey => Error::InvalidDomainKey,
                CoreError::InvalidWrappedKey => Error::InvalidWrappedKey,
                CoreError::InvalidCiphertext => Error::InvalidCiphertext,
                CoreError::InvalidArgument(what) => Error::InvalidArgument(what),
                CoreError::EntropyUnavailable => Error::EntropyUnavailable,
                CoreError::IncorrectKeyMaterial => Error::IncorrectKeyMaterial,
                CoreError::InvalidPublicKey => Error::InvalidPublicKey,
            }
        }
    }

    /// `None` is `SYMMETRIC_DEFAULT`, which the symmetric code holds.
    fn spec(spec: KeySpec) -> Option<keys::KeySpec> {
        Some(match spec {
            KeySpec::SymmetricDefault => return None,
            KeySpec::Rsa2048 => keys::KeySpec::Rsa2048,
            KeySpec::Rsa3072 => keys::KeySpec::Rsa3072,
            KeySpec::Rsa4096 => keys::KeySpec::Rsa4096,
            KeySpec::EccNistP256 => keys::KeySpec::P256,
            KeySpec::EccNistP384 => keys::KeySpec::P384,
            KeySpec::EccNistP521 => keys::KeySpec::P521,
            KeySpec::EccSecgP256k1 => keys::KeySpec::Secp256k1,
            KeySpec::EccNistEdwards25519 => keys::KeySpec::Ed25519,
            KeySpec::Hmac224 => keys::KeySpec::Hmac224,
            KeySpec::Hmac256 => keys::KeySpec::Hmac256,
            KeySpec::Hmac384 => keys::KeySpec::Hmac384,
            KeySpec::Hmac512 => keys::KeySpec::Hmac512,
        })
    }

    fn asymmetric(given: KeySpec) -> Result<keys::KeySpec, Error> {
        spec(given).ok_or_else(|| Error::InvalidArgument("the key spec is symmetric".into()))
    }

    fn signing(algorithm: SigningAlgorithm) -> keys::SigningAlgorithm {
        use keys::Hash::*;
        use keys::SigningAlgorithm as A;
        match algorithm {
            SigningAlgorithm::RsassaPssSha256 => A::RsassaPss(Sha256),
            SigningAlgorithm::RsassaPssSha384 => A::RsassaPss(Sha384),
            SigningAlgorithm::RsassaPssSha512 => A::RsassaPss(Sha512),
            SigningAlgorithm::RsassaPkcs1V15Sha256 => A::RsassaPkcs1V15(Sha256),
            SigningAlgorithm::RsassaPkcs1V15Sha384 => A::RsassaPkcs1V15(Sha384),
            SigningAlgorithm::RsassaPkcs1V15Sha512 => A::RsassaPkcs1V15(Sha512),
            SigningAlgorithm::EcdsaSha256 => A::Ecdsa(Sha256),
            SigningAlgorithm::EcdsaSha384 => A::Ecdsa(Sha384),
            SigningAlgorithm::EcdsaSha512 => A::Ecdsa(Sha512),
            SigningAlgorithm::Ed25519Sha512 => A::Ed25519,
            SigningAlgorithm::Ed25519PhSha512 => A::Ed25519Ph,
        }
    }

    fn message_type(message_type: MessageType) -> keys::MessageType {
        match message_type {
            MessageType::Raw => keys::MessageType::Raw,
            MessageType::Digest => keys::MessageType::Digest,
        }
    }

    fn mac(algorithm: MacAlgorithm) -> keys::Hash {
        match algorithm {
            MacAlgorithm::HmacSha224 => keys::Hash::Sha224,
            MacAlgorithm::HmacSha256 => keys::Hash::Sha256,
            MacAlgorithm::HmacSha384 => keys::Hash::Sha384,
            MacAlgorithm::HmacSha512 => keys::Hash::Sha512,
        }
    }

    fn oaep(hash: OaepHash) -> keys::OaepHash {
        match hash {
            OaepHash::Sha1 => keys::OaepHash::Sha1,
            OaepHash::Sha256 => keys::OaepHash::Sha256,
        }
    }

    impl Guest for Component {
        fn create_domain_key(master_key: Vec<u8>) -> Result<Vec<u8>, Error> {
            let master_key = Zeroizing::new(master_key);
            Ok(ops::create_domain_key(&master_key)?)
        }

        fn start(master_key: Vec<u8>, sealed_domain_key: Vec<u8>) -> Result<(), Error> {
            let master_key = Zeroizing::new(master_key);
            Ok(ops::start(&master_key, &sealed_domain_key)?)
        }

        fn generate_key(
            label: Vec<u8>,
            key_spec: KeySpec,
            prepared: Option<Vec<u8>>,
        ) -> Result<GeneratedKey, Error> {
            let (blob, public_key) =
                ops::generate_key(&label, spec(key_spec), prepared.as_deref())?;
            Ok(GeneratedKey { blob, public_key })
        }

        fn prepare_key(key_spec: KeySpec) -> Result<Vec<u8>, Error> {
            Ok(ops::prepare_key(asymmetric(key_spec)?)?)
        }

        fn encrypt(key: WrappedKey, aad: Vec<u8>, plaintext: Vec<u8>) -> Result<Vec<u8>, Error> {
            let plaintext = Zeroizing::new(plaintext);
            Ok(ops::encrypt(&key.label, &key.blob, &aad, &plaintext)?)
        }

        fn decrypt(key: WrappedKey, aad: Vec<u8>, body: Vec<u8>) -> Result<Vec<u8>, Error> {
            // The plaintext goes to the caller, who asked for it; the
            // canonical ABI copies it out of this Vec.
            Ok(ops::decrypt(&key.label, &key.blob, &aad, &body)?.to_vec())
        }

        fn generate_data_key(
            key: WrappedKey,
            aad: Vec<u8>,
            length: u32,
            with_plaintext: bool,
        ) -> Result<DataKey, Error> {
            let (plaintext, body) = ops::generate_data_key(&key.label, &key.blob, &aad, length)?;
            Ok(DataKey {
                plaintext: with_plaintext.then(|| plaintext.to_vec()),
                body,
            })
        }

        fn re_encrypt(
            source: CiphertextSource,
            destination: CiphertextDestination,
        ) -> Result<Vec<u8>, Error> {
            let source = match &source {
                CiphertextSource::Symmetric(s) => {
                    Source::Symmetric(&s.key.label, &s.key.blob, &s.aad, &s.body)
                }
                CiphertextSource::Rsa(s) => {
                    Source::Rsa(&s.key.label, &s.key.blob, oaep(s.hash), &s.ciphertext)
                }
            };
            let destination = match &destination {
                CiphertextDestination::Symmetric(d) => {
                    Destination::Symmetric(&d.key.label, &d.key.blob, &d.aad)
                }
                CiphertextDestination::Rsa(d) => {
                    Destination::Rsa(asymmetric(d.spec)?, &d.public_key, oaep(d.hash))
                }
            };
            Ok(ops::re_encrypt(source, destination)?)
        }

        fn sign(
            key: WrappedKey,
            algorithm: SigningAlgorithm,
            kind: MessageType,
            message: Vec<u8>,
        ) -> Result<Vec<u8>, Error> {
            Ok(ops::sign(
                &key.label,
                &key.blob,
                signing(algorithm),
                message_type(kind),
                &message,
            )?)
        }

        fn verify(
            key_spec: KeySpec,
            public_key: Vec<u8>,
            algorithm: SigningAlgorithm,
            kind: MessageType,
            message: Vec<u8>,
            signature: Vec<u8>,
        ) -> Result<bool, Error> {
            Ok(keys::verify(
                asymmetric(key_spec)?,
                &public_key,
                signing(algorithm),
                message_type(kind),
                &message,
                &signature,
            )
            .map_err(CoreError::from)?)
        }

        fn generate_mac(
            key: WrappedKey,
            algorithm: MacAlgorithm,
            message: Vec<u8>,
        ) -> Result<Vec<u8>, Error> {
            Ok(ops::generate_mac(
                &key.label,
                &key.blob,
                mac(algorithm),
                &message,
            )?)
        }

        fn verify_mac(
            key: WrappedKey,
            algorithm: MacAlgorithm,
            message: Vec<u8>,
            tag: Vec<u8>,
        ) -> Result<bool, Error> {
            Ok(ops::verify_mac(
                &key.label,
                &key.blob,
                mac(algorithm),
                &message,
                &tag,
            )?)
        }

        fn rsa_encrypt(
            key_spec: KeySpec,
            public_key: Vec<u8>,
            hash: OaepHash,
            plaintext: Vec<u8>,
        ) -> Result<Vec<u8>, Error> {
            let plaintext = Zeroizing::new(plaintext);
            Ok(keys::encrypt(
                asymmetric(key_spec)?,
                &public_key,
                oaep(hash),
                &plaintext,
                &mut super::rsa_rng(),
            )
            .map_err(CoreError::from)?)
        }

        fn rsa_decrypt(
            key: WrappedKey,
            hash: OaepHash,
            ciphertext: Vec<u8>,
        ) -> Result<Vec<u8>, Error> {
            Ok(ops::rsa_decrypt(&key.label, &key.blob, oaep(hash), &ciphertext)?.to_vec())
        }

        fn generate_data_key_pair(
            key: WrappedKey,
            aad: Vec<u8>,
            key_spec: KeySpec,
            with_plaintext: bool,
            prepared: Option<Vec<u8>>,
        ) -> Result<DataKeyPair, Error> {
            let pair = ops::generate_data_key_pair(
                &key.label,
                &key.blob,
                &aad,
                asymmetric(key_spec)?,
                prepared.as_deref(),
            )?;
            Ok(DataKeyPair {
                public_key: pair.public_key,
                private_key: with_plaintext.then(|| pair.private_key.to_vec()),
                body: pair.body,
            })
        }

        fn derive_shared_secret(
            key: WrappedKey,
            peer_public_key: Vec<u8>,
        ) -> Result<Vec<u8>, Error> {
            Ok(ops::derive_shared_secret(&key.label, &key.blob, &peer_public_key)?.to_vec())
        }

        fn seal_digest(message: Vec<u8>) -> Result<Vec<u8>, Error> {
            Ok(ops::seal_digest(&message)?)
        }

        fn check_digest(message: Vec<u8>, mac: Vec<u8>) -> Result<bool, Error> {
            Ok(ops::check_digest(&message, &mac)?)
        }

        fn generate_wrapping_key(label: Vec<u8>, bits: u32) -> Result<WrappingKeyPair, Error> {
            let pair = ops::generate_wrapping_key(&label, bits)?;
            Ok(WrappingKeyPair {
                public_key: pair.public_key,
                sealed_private_key: pair.sealed_private_key,
            })
        }

        fn import_key(
            wrapping_key: WrappedKey,
            algorithm: WrappingAlgorithm,
            encrypted_material: Vec<u8>,
            label: Vec<u8>,
            key_spec: KeySpec,
        ) -> Result<ImportedKey, Error> {
            let algorithm = match algorithm {
                WrappingAlgorithm::RsaesOaepSha1 => import::WrappingAlgorithm::RsaesOaepSha1,
                WrappingAlgorithm::RsaesOaepSha256 => import::WrappingAlgorithm::RsaesOaepSha256,
                WrappingAlgorithm::RsaAesKeyWrapSha1 => {
                    import::WrappingAlgorithm::RsaAesKeyWrapSha1
                }
                WrappingAlgorithm::RsaAesKeyWrapSha256 => {
                    import::WrappingAlgorithm::RsaAesKeyWrapSha256
                }
            };
            let imported = ops::import_key(
                (&wrapping_key.label, &wrapping_key.blob),
                algorithm,
                &encrypted_material,
                &label,
                spec(key_spec),
            )?;
            Ok(ImportedKey {
                blob: imported.blob,
                fingerprint: imported.fingerprint,
                public_key: imported.public_key,
            })
        }

        fn random_bytes(length: u32) -> Result<Vec<u8>, Error> {
            Ok(ops::random_bytes(length)?)
        }
    }

    #[cfg(feature = "test-hooks")]
    impl super::bindings::exports::keyward::crypto::testing::Guest for Component {
        fn reveal_key(key: WrappedKey) -> Result<Vec<u8>, Error> {
            Ok(ops::reveal_key(&key.label, &key.blob)?)
        }

        #[expect(clippy::panic, reason = "the hook exists to trap the instance")]
        fn fault() {
            panic!("fault injected by the test hook");
        }

        fn spin() {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }

        fn grow_memory(pages: u32) -> bool {
            let pages = usize::try_from(pages).unwrap_or(usize::MAX);
            core::arch::wasm32::memory_grow(0, pages) != usize::MAX
        }
    }
}
