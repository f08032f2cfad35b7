//! keyward's crypto core: the WASI 0.2 component that plays the HSM.
//!
//! It holds the key store's domain key in its own linear memory and performs
//! every operation that touches key material (see `wit/crypto.wit`). The pure
//! cryptography lives in [`crypto`], where it is tested natively against
//! known-answer vectors; this file is the component glue and the instance
//! state.

pub mod crypto;
pub mod import;

use std::cell::RefCell;
use std::collections::HashMap;

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
    /// Imported material is not 256 bits.
    IncorrectKeyMaterial,
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
            import::ImportError::IncorrectMaterial => Self::IncorrectKeyMaterial,
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
            });
            Ok(())
        })
    }

    /// See `generate-key` in the WIT.
    pub fn generate_key(label: &[u8]) -> Result<Vec<u8>, CoreError> {
        with_state(|state| {
            let material = random_key()?;
            crypto::wrap_backing_key(&state.domain, label, &material, random::<NONCE_LEN>()?)
                .map_err(|Opaque| CoreError::InvalidWrappedKey)
        })
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

    /// See `re-encrypt` in the WIT.
    pub fn re_encrypt(
        source: (&[u8], &[u8]),
        source_aad: &[u8],
        body: &[u8],
        destination: (&[u8], &[u8]),
        destination_aad: &[u8],
    ) -> Result<Vec<u8>, CoreError> {
        let plaintext = decrypt(source.0, source.1, source_aad, body)?;
        encrypt(destination.0, destination.1, destination_aad, &plaintext)
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

    /// See `import-key` in the WIT. Returns the wrapped material and its
    /// fingerprint.
    pub fn import_key(
        wrapping_key: (&[u8], &[u8]),
        algorithm: import::WrappingAlgorithm,
        encrypted_material: &[u8],
        label: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>), CoreError> {
        with_state(|state| {
            let material = import::open_material(
                &state.domain,
                wrapping_key.0,
                wrapping_key.1,
                algorithm,
                encrypted_material,
                &mut rsa_rng(),
            )?;
            // Neither step can fail for a 32-byte key; if one did, it is no
            // fault of the token or the material.
            let failed = |Opaque| CoreError::InvalidArgument("sealing imported material".into());
            let blob = crypto::wrap_backing_key(&state.domain, label, &material, random()?)
                .map_err(failed)?;
            let fingerprint =
                import::material_fingerprint(&state.domain, label, &material).map_err(failed)?;
            Ok((blob, fingerprint))
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
        with_state(|state| Ok(backing_key(state, label, blob)?.expose().to_vec()))
    }
}

#[cfg(target_arch = "wasm32")]
mod glue {
    use super::bindings::exports::keyward::crypto::core::Guest;
    use super::bindings::keyward::crypto::types::{
        DataKey, Error, ImportedKey, WrappedKey, WrappingAlgorithm, WrappingKeyPair,
    };
    use super::import;
    use super::{Component, CoreError, ops};

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
            }
        }
    }

    impl Guest for Component {
        fn create_domain_key(master_key: Vec<u8>) -> Result<Vec<u8>, Error> {
            let master_key = zeroize::Zeroizing::new(master_key);
            Ok(ops::create_domain_key(&master_key)?)
        }

        fn start(master_key: Vec<u8>, sealed_domain_key: Vec<u8>) -> Result<(), Error> {
            let master_key = zeroize::Zeroizing::new(master_key);
            Ok(ops::start(&master_key, &sealed_domain_key)?)
        }

        fn generate_key(label: Vec<u8>) -> Result<Vec<u8>, Error> {
            Ok(ops::generate_key(&label)?)
        }

        fn encrypt(key: WrappedKey, aad: Vec<u8>, plaintext: Vec<u8>) -> Result<Vec<u8>, Error> {
            let plaintext = zeroize::Zeroizing::new(plaintext);
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
            source: WrappedKey,
            source_aad: Vec<u8>,
            body: Vec<u8>,
            destination: WrappedKey,
            destination_aad: Vec<u8>,
        ) -> Result<Vec<u8>, Error> {
            Ok(ops::re_encrypt(
                (&source.label, &source.blob),
                &source_aad,
                &body,
                (&destination.label, &destination.blob),
                &destination_aad,
            )?)
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
            let (blob, fingerprint) = ops::import_key(
                (&wrapping_key.label, &wrapping_key.blob),
                algorithm,
                &encrypted_material,
                &label,
            )?;
            Ok(ImportedKey { blob, fingerprint })
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
