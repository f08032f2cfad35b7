//! RSA keys generated ahead of use. An RSA_4096 key takes seconds to
//! generate in the guest (BENCHMARKS.md: p95 15 s), so a few of each size
//! are prepared in the background and bound to a KMS key when one is
//! created, or used as a data key pair.
//!
//! What is kept here is only what the guest's `prepare-key` returns: a key
//! sealed under the domain key that opens nowhere but in `generate-key` and
//! `generate-data-key-pair`. It lives in memory, so a restart starts the
//! pool over; nothing about it reaches the store until it is a key's.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::Duration;

use super::{CoreKeySpec, CorePool};

/// The specs prepared ahead, in the order they are refilled when equally
/// short.
const SPECS: [CoreKeySpec; 3] = [
    CoreKeySpec::Rsa2048,
    CoreKeySpec::Rsa3072,
    CoreKeySpec::Rsa4096,
];

/// How long the refill thread sleeps after a failure before trying again.
const RETRY: Duration = Duration::from_secs(1);

/// The prepared keys of one guest pool.
#[derive(Debug)]
pub(super) struct Prepared {
    /// How many keys of each spec to keep ready.
    per_spec: usize,
    /// Ready keys, by the index of their spec in [`SPECS`].
    ready: Mutex<[Vec<Vec<u8>>; 3]>,
    /// Signalled when a key is taken, and when the pool is dropped.
    wanted: Condvar,
    stopped: AtomicBool,
    /// How many prepared keys have been taken, for tests and operators.
    taken: AtomicUsize,
}

impl Prepared {
    /// Starts keeping `per_spec` keys of each RSA size for `pool`, in a
    /// thread of its own that ends with the pool.
    pub(super) fn start(pool: &Arc<CorePool>, per_spec: usize) -> Option<Arc<Self>> {
        if per_spec == 0 {
            return None;
        }
        let prepared = Arc::new(Self {
            per_spec,
            ready: Mutex::new(Default::default()),
            wanted: Condvar::new(),
            stopped: AtomicBool::new(false),
            taken: AtomicUsize::new(0),
        });
        let weak = Arc::downgrade(pool);
        let refilling = Arc::clone(&prepared);
        let spawned = std::thread::Builder::new()
            .name("keyward-prepare".into())
            .spawn(move || refill(&weak, &refilling));
        if let Err(e) = spawned {
            tracing::warn!("RSA keys will not be prepared ahead: {e}");
            return None;
        }
        Some(prepared)
    }

    fn lock(&self) -> MutexGuard<'_, [Vec<Vec<u8>>; 3]> {
        // Every update is one push or pop: a panic cannot leave it torn.
        self.ready
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A prepared key of `spec`, if one is ready.
    pub(super) fn take(&self, spec: CoreKeySpec) -> Option<Vec<u8>> {
        let index = SPECS.iter().position(|s| *s == spec)?;
        let taken = self.lock().get_mut(index).and_then(Vec::pop);
        if taken.is_some() {
            self.taken.fetch_add(1, Ordering::Relaxed);
        }
        self.wanted.notify_all();
        taken
    }

    /// How many prepared keys have been taken.
    pub(super) fn taken(&self) -> usize {
        self.taken.load(Ordering::Relaxed)
    }

    /// How many keys of `spec` are ready.
    pub(super) fn ready(&self, spec: CoreKeySpec) -> usize {
        SPECS
            .iter()
            .position(|s| *s == spec)
            .and_then(|index| self.lock().get(index).map(Vec::len))
            .unwrap_or(0)
    }

    /// Ends the refill thread (when its pool is dropped).
    pub(super) fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        self.wanted.notify_all();
    }

    /// The spec most short of its target, waiting until one is; `None`
    /// once stopped.
    fn next_wanted(&self) -> Option<CoreKeySpec> {
        let mut ready = self.lock();
        loop {
            if self.stopped.load(Ordering::Acquire) {
                return None;
            }
            let shortest = SPECS
                .iter()
                .zip(ready.iter())
                .filter(|(_, keys)| keys.len() < self.per_spec)
                .min_by_key(|(_, keys)| keys.len());
            if let Some((spec, _)) = shortest {
                return Some(*spec);
            }
            ready = self
                .wanted
                .wait(ready)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    fn put(&self, spec: CoreKeySpec, key: Vec<u8>) {
        if let Some(index) = SPECS.iter().position(|s| *s == spec)
            && let Some(keys) = self.lock().get_mut(index)
        {
            keys.push(key);
        }
    }
}

/// The refill loop: one key at a time, on one guest instance, while the
/// others serve requests.
fn refill(pool: &Weak<CorePool>, prepared: &Prepared) {
    while let Some(spec) = prepared.next_wanted() {
        // INVARIANT: the pool is held only while a key is generated, so
        // that dropping the service ends this thread soon after.
        let Some(pool) = pool.upgrade() else {
            return;
        };
        match pool.prepare_key(spec) {
            Ok(Ok(key)) => prepared.put(spec, key),
            Ok(Err(e)) => {
                tracing::warn!("preparing an RSA key failed: {e}");
                std::thread::sleep(RETRY);
            }
            Err(fault) => {
                tracing::warn!("preparing an RSA key faulted: {fault:#}");
                std::thread::sleep(RETRY);
            }
        }
    }
}
