//! The guest pool: the one place the host talks to the crypto core.
//!
//! One [`Engine`] per process compiles the embedded component once (and
//! caches the compiled code on disk through wasmtime's own cache, so that a
//! restart skips compilation). Each [`CorePool`] holds long-lived instances
//! started with its key store's sealed domain key; a call checks one out, and
//! an instance that traps is dropped and replaced.
//!
//! This module is the trust boundary of DESIGN.md §2: what crosses it is
//! wrapped key material, caller plaintexts and ciphertexts, data keys and
//! random bytes. Backing key plaintext never does.

mod bindings;
mod prepared;

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Cache, CacheConfig, Config, Engine, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use zeroize::Zeroizing;

use bindings::{Bindings, BindingsPre, WitError};
pub use bindings::{
    CiphertextDestination, CiphertextSource, CoreKeySpec, CoreMessageType, CoreSigningAlgorithm,
    DataKey, DataKeyPair, GeneratedKey, ImportedKey, MacAlgorithm, OaepHash, RsaCiphertext,
    RsaDestination, SymmetricCiphertext, SymmetricDestination, WrappedKey, WrappingAlgorithm,
    WrappingKeyPair,
};

/// The crypto-core component, built from `guest/` by the build script.
const GUEST_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/keyward_guest.wasm"));

/// How often the epoch ticker advances the engine's epoch.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Settings of a guest pool.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Number of instances; defaults to the available parallelism.
    pub instances: usize,
    /// Linear-memory cap per instance, in bytes.
    pub memory_limit: usize,
    /// Wall-clock budget of one guest call, enforced by epoch interruption.
    pub call_deadline: Duration,
    /// The budget of generating an RSA wrapping key, which takes seconds
    /// (RSA_4096 measured 4 to 29 s: the prime search is random) where every
    /// other call takes microseconds.
    pub keygen_deadline: Duration,
    /// RSA keys of each size (2048, 3072, 4096) to generate ahead of use,
    /// in a background thread, so that CreateKey and GenerateDataKeyPair
    /// do not wait seconds for one. 0, the default, prepares none: a
    /// long-running service (`keyward serve`) sets it.
    pub prepared_rsa_keys: usize,
}

impl Default for CoreConfig {
    fn default() -> Self {
        Self {
            instances: std::thread::available_parallelism().map_or(2, usize::from),
            memory_limit: 64 << 20,
            call_deadline: Duration::from_secs(2),
            keygen_deadline: Duration::from_secs(180),
            prepared_rsa_keys: 0,
        }
    }
}

/// Why the crypto core refused a call: the WIT `error` variant, as the host
/// sees it (the generated bindings stay private to `core`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GuestError {
    /// `start` has not succeeded on the instance.
    #[error("the crypto core was not started")]
    NotStarted,
    /// `start` was called twice.
    #[error("the crypto core was already started")]
    AlreadyStarted,
    /// The master key or the sealed domain key is wrong.
    #[error("the domain key does not open under the master key")]
    InvalidDomainKey,
    /// A wrapped key does not open under its label.
    #[error("a wrapped key does not open under its label")]
    InvalidWrappedKey,
    /// A ciphertext failed authentication. Opaque on purpose.
    #[error("invalid ciphertext")]
    InvalidCiphertext,
    /// An argument is out of range; the string names it.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The WASI random source failed.
    #[error("the random source failed")]
    EntropyUnavailable,
    /// Imported material is not a key of its spec.
    #[error("the key material is not a key of its spec")]
    IncorrectKeyMaterial,
    /// A public key is not a valid key of the expected spec.
    #[error("invalid public key")]
    InvalidPublicKey,
}

impl From<WitError> for GuestError {
    fn from(error: WitError) -> Self {
        match error {
            WitError::NotStarted => Self::NotStarted,
            WitError::AlreadyStarted => Self::AlreadyStarted,
            WitError::InvalidDomainKey => Self::InvalidDomainKey,
            WitError::InvalidWrappedKey => Self::InvalidWrappedKey,
            WitError::InvalidCiphertext => Self::InvalidCiphertext,
            WitError::InvalidArgument(what) => Self::InvalidArgument(what),
            WitError::EntropyUnavailable => Self::EntropyUnavailable,
            WitError::IncorrectKeyMaterial => Self::IncorrectKeyMaterial,
            WitError::InvalidPublicKey => Self::InvalidPublicKey,
        }
    }
}

/// A failure of the guest itself, as opposed to an error the guest returned:
/// the instance trapped (fault, memory cap, deadline) or could not be made.
/// The instance involved has been discarded.
#[derive(Debug, thiserror::Error)]
#[error("the crypto core failed")]
pub struct CoreFault(#[source] pub wasmtime::Error);

/// The process-wide engine and the compiled component.
struct Compiled {
    engine: Engine,
    component: Component,
}

static COMPILED: OnceLock<Result<Compiled, String>> = OnceLock::new();

/// Where wasmtime caches compiled code: `$KEYWARD_CACHE_DIR`, else the user's
/// cache directory, else a folder in the temporary directory.
fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KEYWARD_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("keyward").join("wasmtime")
}

fn compile() -> Result<Compiled, String> {
    let mut config = Config::new();
    config.epoch_interruption(true);
    let mut cache = CacheConfig::new();
    cache.with_directory(cache_dir());
    match Cache::new(cache) {
        Ok(cache) => {
            config.cache(Some(cache));
        }
        Err(e) => tracing::warn!("compiling without a code cache: {e:#}"),
    }
    let engine = Engine::new(&config).map_err(|e| format!("{e:#}"))?;
    let component = Component::new(&engine, GUEST_WASM).map_err(|e| format!("{e:#}"))?;
    let ticker = engine.weak();
    std::thread::Builder::new()
        .name("keyward-epoch".into())
        .spawn(move || {
            while let Some(engine) = ticker.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .map_err(|e| format!("starting the epoch ticker: {e}"))?;
    Ok(Compiled { engine, component })
}

fn compiled() -> Result<&'static Compiled, CoreFault> {
    COMPILED
        .get_or_init(compile)
        .as_ref()
        .map_err(|e| CoreFault(wasmtime::Error::msg(e.clone())))
}

/// A wall-clock budget in epoch ticks (at least one).
fn ticks(budget: Duration) -> u64 {
    let tick = EPOCH_TICK.as_millis().max(1);
    u64::try_from(budget.as_millis() / tick)
        .unwrap_or(u64::MAX)
        .max(1)
}

/// The per-instance host state: a WASI context with nothing in it (no files,
/// no environment, no network; only clocks and randomness) and the limits.
struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// One live instance of the crypto core.
struct Instance {
    store: Store<HostState>,
    bindings: Bindings,
}

/// The instances of one key store's crypto core.
pub struct CorePool {
    pre: BindingsPre<HostState>,
    engine: Engine,
    config: CoreConfig,
    master_key: Zeroizing<Vec<u8>>,
    sealed_domain_key: Vec<u8>,
    idle: Mutex<Idle>,
    returned: Condvar,
    /// Held while an instance generates an RSA key, so that at most one
    /// instance is ever busy with that for seconds and the others stay free
    /// for everyone else's calls.
    keygen: Mutex<()>,
    /// RSA keys generated ahead of use, when configured.
    prepared: std::sync::OnceLock<Arc<prepared::Prepared>>,
}

impl Drop for CorePool {
    fn drop(&mut self) {
        if let Some(prepared) = self.prepared.get() {
            prepared.stop();
        }
    }
}

struct Idle {
    instances: Vec<Instance>,
    /// Instances in existence, idle or checked out.
    live: usize,
}

impl std::fmt::Debug for CorePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CorePool")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl CorePool {
    /// Creates a new domain key inside a fresh guest and returns it sealed
    /// under `master_key`. Used once, when a key store is initialised.
    pub fn create_domain_key(master_key: &[u8]) -> Result<Result<Vec<u8>, GuestError>, CoreFault> {
        let compiled = compiled()?;
        let pre = BindingsPre::new(instance_pre(compiled)?).map_err(CoreFault)?;
        let mut instance = instantiate(&pre, &compiled.engine, &CoreConfig::default())?;
        instance
            .bindings
            .keyward_crypto_core()
            .call_create_domain_key(&mut instance.store, master_key)
            .map(|result| result.map_err(GuestError::from))
            .map_err(CoreFault)
    }

    /// Opens a pool whose instances start with `sealed_domain_key`, checking
    /// that it opens under `master_key`.
    pub fn new(
        config: CoreConfig,
        master_key: Zeroizing<Vec<u8>>,
        sealed_domain_key: Vec<u8>,
    ) -> Result<Result<Arc<Self>, GuestError>, CoreFault> {
        let compiled = compiled()?;
        let pre = BindingsPre::new(instance_pre(compiled)?).map_err(CoreFault)?;
        let pool = Arc::new(Self {
            pre,
            engine: compiled.engine.clone(),
            config,
            master_key,
            sealed_domain_key,
            idle: Mutex::new(Idle {
                instances: Vec::new(),
                live: 0,
            }),
            returned: Condvar::new(),
            keygen: Mutex::new(()),
            prepared: std::sync::OnceLock::new(),
        });
        // Start one instance now, so that a wrong master key fails here.
        let first = match pool.start_instance()? {
            Ok(instance) => instance,
            Err(e) => return Ok(Err(e)),
        };
        let mut idle = pool.lock();
        idle.instances.push(first);
        idle.live = 1;
        drop(idle);
        if let Some(prepared) = prepared::Prepared::start(&pool, pool.config.prepared_rsa_keys) {
            let _ = pool.prepared.set(prepared);
        }
        Ok(Ok(pool))
    }

    /// The pool's settings.
    pub fn config(&self) -> &CoreConfig {
        &self.config
    }

    fn lock(&self) -> MutexGuard<'_, Idle> {
        // A panic while holding this lock cannot leave `Idle` inconsistent
        // (every update is a single push, pop or counter change).
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn start_instance(&self) -> Result<Result<Instance, GuestError>, CoreFault> {
        let mut instance = instantiate(&self.pre, &self.engine, &self.config)?;
        instance.store.set_epoch_deadline(self.deadline_ticks());
        let started = instance
            .bindings
            .keyward_crypto_core()
            .call_start(
                &mut instance.store,
                &self.master_key,
                &self.sealed_domain_key,
            )
            .map_err(CoreFault)?;
        Ok(started.map(|()| instance).map_err(GuestError::from))
    }

    fn deadline_ticks(&self) -> u64 {
        ticks(self.config.call_deadline)
    }

    /// Checks out an instance, making one if the pool is below its size and
    /// none is idle, or waiting for one to come back.
    fn checkout(&self) -> Result<Instance, CoreFault> {
        let mut idle = self.lock();
        loop {
            if let Some(instance) = idle.instances.pop() {
                return Ok(instance);
            }
            if idle.live < self.config.instances.max(1) {
                idle.live += 1;
                drop(idle);
                let made = self.start_instance().and_then(|started| {
                    started.map_err(|e| {
                        CoreFault(wasmtime::Error::msg(format!("starting an instance: {e}")))
                    })
                });
                if made.is_err() {
                    self.lock().live -= 1;
                    self.returned.notify_one();
                }
                return made;
            }
            idle = self
                .returned
                .wait(idle)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    fn give_back(&self, instance: Option<Instance>) {
        let mut idle = self.lock();
        match instance {
            Some(instance) => idle.instances.push(instance),
            None => idle.live -= 1,
        }
        drop(idle);
        self.returned.notify_one();
    }

    /// Runs one guest call on an instance. The outer result is a trap (the
    /// instance is discarded and the next call gets a fresh one); the inner
    /// one is the error the guest returned.
    fn call<T>(
        &self,
        f: impl FnOnce(&mut Store<HostState>, &Bindings) -> wasmtime::Result<Result<T, WitError>>,
    ) -> Result<Result<T, GuestError>, CoreFault> {
        self.call_within(self.config.call_deadline, f)
    }

    /// [`Self::call`] with its own wall-clock budget.
    fn call_within<T>(
        &self,
        budget: Duration,
        f: impl FnOnce(&mut Store<HostState>, &Bindings) -> wasmtime::Result<Result<T, WitError>>,
    ) -> Result<Result<T, GuestError>, CoreFault> {
        let mut instance = self.checkout()?;
        instance.store.set_epoch_deadline(ticks(budget));
        let outcome = f(&mut instance.store, &instance.bindings);
        match outcome {
            Ok(result) => {
                self.give_back(Some(instance));
                Ok(result.map_err(GuestError::from))
            }
            Err(trap) => {
                tracing::warn!("crypto core instance trapped and was discarded: {trap:#}");
                self.give_back(None);
                Err(CoreFault(trap))
            }
        }
    }

    /// Generates key material of `spec` bound to `label`, returned wrapped,
    /// with its public key if it has one (see `with_new_key`).
    pub fn generate_key(
        &self,
        label: &[u8],
        spec: CoreKeySpec,
    ) -> Result<Result<GeneratedKey, GuestError>, CoreFault> {
        self.with_new_key(spec, |store, b, prepared| {
            b.keyward_crypto_core()
                .call_generate_key(store, label, spec, prepared)
        })
    }

    /// Runs a call that makes a key of `spec`: with a prepared key when one
    /// is ready; else generating one in the call, which for RSA takes
    /// seconds, so one at a time, under the key-generation budget.
    fn with_new_key<T>(
        &self,
        spec: CoreKeySpec,
        call: impl Fn(
            &mut Store<HostState>,
            &Bindings,
            Option<&[u8]>,
        ) -> wasmtime::Result<Result<T, WitError>>,
    ) -> Result<Result<T, GuestError>, CoreFault> {
        if let Some(prepared) = self.take_prepared(spec) {
            let made = self.call(|store, b| call(store, b, Some(&prepared)))?;
            // A prepared key that does not open is dropped; a new one is made.
            if made.is_ok() {
                return Ok(made);
            }
        }
        if is_rsa(spec) {
            let _one_at_a_time = self.keygen_turn();
            return self.call_within(self.config.keygen_deadline, |store, b| call(store, b, None));
        }
        self.call(|store, b| call(store, b, None))
    }

    /// Generates an RSA key ahead of use (for the prepared keys).
    fn prepare_key(&self, spec: CoreKeySpec) -> Result<Result<Vec<u8>, GuestError>, CoreFault> {
        let _one_at_a_time = self.keygen_turn();
        self.call_within(self.config.keygen_deadline, |store, b| {
            b.keyward_crypto_core().call_prepare_key(store, spec)
        })
    }

    /// A prepared key of `spec`, if the pool keeps them and one is ready.
    fn take_prepared(&self, spec: CoreKeySpec) -> Option<Vec<u8>> {
        self.prepared.get().and_then(|p| p.take(spec))
    }

    /// How many prepared keys of `spec` are ready.
    pub fn prepared_ready(&self, spec: CoreKeySpec) -> usize {
        self.prepared.get().map_or(0, |p| p.ready(spec))
    }

    /// How many prepared keys have been used.
    pub fn prepared_taken(&self) -> usize {
        self.prepared.get().map_or(0, |p| p.taken())
    }

    /// The turn to generate an RSA key: one instance at a time.
    fn keygen_turn(&self) -> MutexGuard<'_, ()> {
        self.keygen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Signs `message` with the private key `key`.
    pub fn sign(
        &self,
        key: &WrappedKey,
        algorithm: CoreSigningAlgorithm,
        message_type: CoreMessageType,
        message: &[u8],
    ) -> Result<Result<Vec<u8>, GuestError>, CoreFault> {
        self.call(|store, b| {
            b.keyward_crypto_core()
                .call_sign(store, key, algorithm, message_type, message)
        })
    }

    /// Whether `signature` verifies under the public key of a key of `spec`.
    pub fn verify(
        &self,
        spec: CoreKeySpec,
        public_key: &[u8],
        algorithm: CoreSigningAlgorithm,
        message_type: CoreMessageType,
        message: &[u8],
        signature: &[u8],
    ) -> Result<Result<bool, GuestError>, CoreFault> {
        self.call(|store, b| {
            b.keyward_crypto_core().call_verify(
                store,
                spec,
                public_key,
                algorithm,
                message_type,
                message,
                signature,
            )
        })
    }

    /// The HMAC of `message` under the HMAC key `key`.
    pub fn generate_mac(
        &self,
        key: &WrappedKey,
        algorithm: MacAlgorithm,
        message: &[u8],
    ) -> Result<Result<Vec<u8>, GuestError>, CoreFault> {
        self.call(|store, b| {
            b.keyward_crypto_core()
                .call_generate_mac(store, key, algorithm, message)
        })
    }

    /// Whether `mac` is the HMAC of `message` under `key`.
    pub fn verify_mac(
        &self,
        key: &WrappedKey,
        algorithm: MacAlgorithm,
        message: &[u8],
        mac: &[u8],
    ) -> Result<Result<bool, GuestError>, CoreFault> {
        self.call(|store, b| {
            b.keyward_crypto_core()
                .call_verify_mac(store, key, algorithm, message, mac)
        })
    }

    /// RSA-OAEP encryption with the public key of an RSA key of `spec`.
    pub fn rsa_encrypt(
        &self,
        spec: CoreKeySpec,
        public_key: &[u8],
        hash: OaepHash,
        plaintext: &[u8],
    ) -> Result<Result<Vec<u8>, GuestError>, CoreFault> {
        self.call(|store, b| {
            b.keyward_crypto_core()
                .call_rsa_encrypt(store, spec, public_key, hash, plaintext)
        })
    }

    /// RSA-OAEP decryption with the private key `key`.
    pub fn rsa_decrypt(
        &self,
        key: &WrappedKey,
        hash: OaepHash,
        ciphertext: &[u8],
    ) -> Result<Result<Zeroizing<Vec<u8>>, GuestError>, CoreFault> {
        self.call(|store, b| {
            let result = b
                .keyward_crypto_core()
                .call_rsa_decrypt(store, key, hash, ciphertext)?;
            Ok(result.map(Zeroizing::new))
        })
    }

    /// Generates a data key pair of `spec`, its private key sealed under
    /// `key` and `aad`: a prepared RSA key when one is ready.
    pub fn generate_data_key_pair(
        &self,
        key: &WrappedKey,
        aad: &[u8],
        spec: CoreKeySpec,
        with_plaintext: bool,
    ) -> Result<Result<DataKeyPair, GuestError>, CoreFault> {
        self.with_new_key(spec, |store, b, prepared| {
            b.keyward_crypto_core().call_generate_data_key_pair(
                store,
                key,
                aad,
                spec,
                with_plaintext,
                prepared,
            )
        })
    }

    /// ECDH between the private key `key` and a peer's public key.
    pub fn derive_shared_secret(
        &self,
        key: &WrappedKey,
        peer_public_key: &[u8],
    ) -> Result<Result<Zeroizing<Vec<u8>>, GuestError>, CoreFault> {
        self.call(|store, b| {
            let result =
                b.keyward_crypto_core()
                    .call_derive_shared_secret(store, key, peer_public_key)?;
            Ok(result.map(Zeroizing::new))
        })
    }

    /// Encrypts `plaintext` under `key`, authenticating `aad`.
    pub fn encrypt(
        &self,
        key: &WrappedKey,
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Result<Vec<u8>, GuestError>, CoreFault> {
        self.call(|store, b| {
            b.keyward_crypto_core()
                .call_encrypt(store, key, aad, plaintext)
        })
    }

    /// Decrypts a ciphertext body under `key` and `aad`.
    pub fn decrypt(
        &self,
        key: &WrappedKey,
        aad: &[u8],
        body: &[u8],
    ) -> Result<Result<Zeroizing<Vec<u8>>, GuestError>, CoreFault> {
        self.call(|store, b| {
            let result = b
                .keyward_crypto_core()
                .call_decrypt(store, key, aad, body)?;
            Ok(result.map(Zeroizing::new))
        })
    }

    /// Generates a data key of `length` bytes sealed under `key`.
    pub fn generate_data_key(
        &self,
        key: &WrappedKey,
        aad: &[u8],
        length: u32,
        with_plaintext: bool,
    ) -> Result<Result<DataKey, GuestError>, CoreFault> {
        self.call(|store, b| {
            b.keyward_crypto_core()
                .call_generate_data_key(store, key, aad, length, with_plaintext)
        })
    }

    /// Opens a ciphertext and seals its plaintext for another key, inside
    /// the guest.
    pub fn re_encrypt(
        &self,
        source: &CiphertextSource,
        destination: &CiphertextDestination,
    ) -> Result<Result<Vec<u8>, GuestError>, CoreFault> {
        self.call(|store, b| {
            b.keyward_crypto_core()
                .call_re_encrypt(store, source, destination)
        })
    }

    /// MACs an audit digest inside the guest (the key never leaves it).
    pub fn seal_digest(&self, message: &[u8]) -> Result<Result<Vec<u8>, GuestError>, CoreFault> {
        self.call(|store, b| b.keyward_crypto_core().call_seal_digest(store, message))
    }

    /// Checks an audit digest's MAC inside the guest.
    pub fn check_digest(
        &self,
        message: &[u8],
        mac: &[u8],
    ) -> Result<Result<bool, GuestError>, CoreFault> {
        self.call(|store, b| {
            b.keyward_crypto_core()
                .call_check_digest(store, message, mac)
        })
    }

    /// Generates an RSA wrapping key pair of `bits` for importing key
    /// material; the private half comes back sealed, bound to `label`.
    pub fn generate_wrapping_key(
        &self,
        label: &[u8],
        bits: u32,
    ) -> Result<Result<WrappingKeyPair, GuestError>, CoreFault> {
        let _one_at_a_time = self.keygen_turn();
        self.call_within(self.config.keygen_deadline, |store, b| {
            b.keyward_crypto_core()
                .call_generate_wrapping_key(store, label, bits)
        })
    }

    /// Opens customer-wrapped key material inside the guest and returns it
    /// wrapped under the domain key, bound to `label`, with its fingerprint.
    pub fn import_key(
        &self,
        wrapping_key: &WrappedKey,
        algorithm: WrappingAlgorithm,
        encrypted_material: &[u8],
        label: &[u8],
        spec: CoreKeySpec,
    ) -> Result<Result<ImportedKey, GuestError>, CoreFault> {
        self.call(|store, b| {
            b.keyward_crypto_core().call_import_key(
                store,
                wrapping_key,
                algorithm,
                encrypted_material,
                label,
                spec,
            )
        })
    }

    /// Returns `length` random bytes from the guest.
    pub fn random_bytes(&self, length: u32) -> Result<Result<Vec<u8>, GuestError>, CoreFault> {
        self.call(|store, b| b.keyward_crypto_core().call_random_bytes(store, length))
    }
}

/// Whether generating a key of `spec` is the slow RSA prime search.
fn is_rsa(spec: CoreKeySpec) -> bool {
    matches!(
        spec,
        CoreKeySpec::Rsa2048 | CoreKeySpec::Rsa3072 | CoreKeySpec::Rsa4096
    )
}

/// Test-only calls, present when the guest is built with its `testing`
/// interface (cargo feature `test-hooks`).
#[cfg(feature = "test-hooks")]
impl CorePool {
    /// Reveals the plaintext backing material of `key`. Exists only so that
    /// tests can prove the material never reaches storage.
    pub fn reveal_key(&self, key: &WrappedKey) -> Result<Result<Vec<u8>, GuestError>, CoreFault> {
        self.call(|store, b| b.keyward_crypto_testing().call_reveal_key(store, key))
    }

    /// Makes the guest trap.
    pub fn inject_fault(&self) -> Result<(), CoreFault> {
        self.call(|store, b| b.keyward_crypto_testing().call_fault(store).map(Ok))?
            .map_err(|e| CoreFault(wasmtime::Error::msg(e.to_string())))
    }

    /// Makes the guest loop until the call deadline stops it.
    pub fn spin(&self) -> Result<(), CoreFault> {
        self.call(|store, b| b.keyward_crypto_testing().call_spin(store).map(Ok))?
            .map_err(|e| CoreFault(wasmtime::Error::msg(e.to_string())))
    }

    /// Asks the guest to grow its memory by `pages`; returns whether it could.
    pub fn grow_memory(&self, pages: u32) -> Result<bool, CoreFault> {
        self.call(|store, b| {
            b.keyward_crypto_testing()
                .call_grow_memory(store, pages)
                .map(Ok)
        })?
        .map_err(|e| CoreFault(wasmtime::Error::msg(e.to_string())))
    }
}

fn instance_pre(
    compiled: &Compiled,
) -> Result<wasmtime::component::InstancePre<HostState>, CoreFault> {
    let mut linker = Linker::<HostState>::new(&compiled.engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(CoreFault)?;
    linker
        .instantiate_pre(&compiled.component)
        .map_err(CoreFault)
}

fn instantiate(
    pre: &BindingsPre<HostState>,
    engine: &Engine,
    config: &CoreConfig,
) -> Result<Instance, CoreFault> {
    let limits = StoreLimitsBuilder::new()
        .memory_size(config.memory_limit)
        .instances(4)
        .build();
    let state = HostState {
        wasi: WasiCtx::builder().build(),
        table: ResourceTable::new(),
        limits,
    };
    let mut store = Store::new(engine, state);
    store.limiter(|state| &mut state.limits);
    store.epoch_deadline_trap();
    store.set_epoch_deadline(u64::MAX / 2);
    let bindings = pre.instantiate(&mut store).map_err(CoreFault)?;
    Ok(Instance { store, bindings })
}

/// The crypto core's names for the model's enums: `None` where keyward
/// does not support the value.
pub mod names {
    use super::{CoreKeySpec, CoreMessageType, CoreSigningAlgorithm, MacAlgorithm, OaepHash};
    use crate::model::{
        EncryptionAlgorithmSpec, KeySpec, MacAlgorithmSpec, MessageType, SigningAlgorithmSpec,
    };

    /// A key spec.
    pub fn key_spec(spec: KeySpec) -> Option<CoreKeySpec> {
        Some(match spec {
            KeySpec::SymmetricDefault => CoreKeySpec::SymmetricDefault,
            KeySpec::Rsa2048 => CoreKeySpec::Rsa2048,
            KeySpec::Rsa3072 => CoreKeySpec::Rsa3072,
            KeySpec::Rsa4096 => CoreKeySpec::Rsa4096,
            KeySpec::EccNistP256 => CoreKeySpec::EccNistP256,
            KeySpec::EccNistP384 => CoreKeySpec::EccNistP384,
            KeySpec::EccNistP521 => CoreKeySpec::EccNistP521,
            KeySpec::EccSecgP256k1 => CoreKeySpec::EccSecgP256k1,
            KeySpec::EccNistEdwards25519 => CoreKeySpec::EccNistEdwards25519,
            KeySpec::Hmac224 => CoreKeySpec::Hmac224,
            KeySpec::Hmac256 => CoreKeySpec::Hmac256,
            KeySpec::Hmac384 => CoreKeySpec::Hmac384,
            KeySpec::Hmac512 => CoreKeySpec::Hmac512,
            KeySpec::Sm2
            | KeySpec::MlDsa44
            | KeySpec::MlDsa65
            | KeySpec::MlDsa87
            | KeySpec::MlKem512
            | KeySpec::MlKem768
            | KeySpec::MlKem1024 => return None,
        })
    }

    /// A signing algorithm.
    pub fn signing_algorithm(algorithm: SigningAlgorithmSpec) -> Option<CoreSigningAlgorithm> {
        use SigningAlgorithmSpec as S;
        Some(match algorithm {
            S::RsassaPssSha256 => CoreSigningAlgorithm::RsassaPssSha256,
            S::RsassaPssSha384 => CoreSigningAlgorithm::RsassaPssSha384,
            S::RsassaPssSha512 => CoreSigningAlgorithm::RsassaPssSha512,
            S::RsassaPkcs1V15Sha256 => CoreSigningAlgorithm::RsassaPkcs1V15Sha256,
            S::RsassaPkcs1V15Sha384 => CoreSigningAlgorithm::RsassaPkcs1V15Sha384,
            S::RsassaPkcs1V15Sha512 => CoreSigningAlgorithm::RsassaPkcs1V15Sha512,
            S::EcdsaSha256 => CoreSigningAlgorithm::EcdsaSha256,
            S::EcdsaSha384 => CoreSigningAlgorithm::EcdsaSha384,
            S::EcdsaSha512 => CoreSigningAlgorithm::EcdsaSha512,
            S::Ed25519Sha512 => CoreSigningAlgorithm::Ed25519Sha512,
            S::Ed25519PhSha512 => CoreSigningAlgorithm::Ed25519PhSha512,
            S::Sm2dsa | S::MlDsaShake256 => return None,
        })
    }

    /// A message type.
    pub fn message_type(message_type: MessageType) -> Option<CoreMessageType> {
        match message_type {
            MessageType::Raw => Some(CoreMessageType::Raw),
            MessageType::Digest => Some(CoreMessageType::Digest),
            MessageType::ExternalMu => None,
        }
    }

    /// A MAC algorithm.
    pub fn mac_algorithm(algorithm: MacAlgorithmSpec) -> MacAlgorithm {
        match algorithm {
            MacAlgorithmSpec::HmacSha224 => MacAlgorithm::HmacSha224,
            MacAlgorithmSpec::HmacSha256 => MacAlgorithm::HmacSha256,
            MacAlgorithmSpec::HmacSha384 => MacAlgorithm::HmacSha384,
            MacAlgorithmSpec::HmacSha512 => MacAlgorithm::HmacSha512,
        }
    }

    /// The OAEP hash of an RSA encryption algorithm.
    pub fn oaep_hash(algorithm: EncryptionAlgorithmSpec) -> Option<OaepHash> {
        match algorithm {
            EncryptionAlgorithmSpec::RsaesOaepSha1 => Some(OaepHash::Sha1),
            EncryptionAlgorithmSpec::RsaesOaepSha256 => Some(OaepHash::Sha256),
            EncryptionAlgorithmSpec::SymmetricDefault | EncryptionAlgorithmSpec::Sm2pke => None,
        }
    }
}
