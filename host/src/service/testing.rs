//! Test-only access to the crypto core, compiled only with the cargo feature
//! `test-hooks` (which every normal build leaves off).

use super::material::material_label;
use super::{Kms, KmsError, KmsResult};
use crate::core::{CoreFault, WrappedKey};

/// Hooks into a [`Kms`]'s crypto core for tests.
#[derive(Debug)]
pub struct Testing<'k> {
    kms: &'k Kms,
}

impl<'k> Testing<'k> {
    pub(super) fn new(kms: &'k Kms) -> Self {
        Self { kms }
    }

    /// How many RSA keys of `spec` are prepared and ready
    /// ([`crate::core::CoreConfig::prepared_rsa_keys`]).
    pub fn prepared_rsa_keys_ready(&self, spec: crate::model::KeySpec) -> usize {
        crate::core::names::key_spec(spec).map_or(0, |spec| self.kms.core.prepared_ready(spec))
    }

    /// How many prepared RSA keys have been used.
    pub fn prepared_rsa_keys_taken(&self) -> usize {
        self.kms.core.prepared_taken()
    }

    /// The plaintext backing material of one version of a key, revealed by
    /// the guest's test-only export.
    pub fn reveal_backing_key(
        &self,
        region: &str,
        key_id: &str,
        version: u32,
    ) -> KmsResult<Vec<u8>> {
        let key = self
            .kms
            .store
            .key(region, key_id)?
            .ok_or_else(|| KmsError::NotFound(format!("key `{key_id}` does not exist")))?;
        let material = self
            .kms
            .store
            .material(region, key_id, version)?
            .ok_or_else(|| {
                KmsError::NotFound(format!("version {version} of `{key_id}` does not exist"))
            })?;
        let wrapped = WrappedKey {
            label: material_label(&key.arn, version),
            blob: material.wrapped,
        };
        self.kms.core.reveal_key(&wrapped)?.map_err(KmsError::guest)
    }

    /// Makes every audit log write fail (until called with `false`).
    pub fn refuse_audit_writes(&self, refuse: bool) {
        self.kms.audit.refuse_writes(refuse);
    }

    /// Runs requests that change nothing without any audit event (not
    /// built, not written), for benchmarks of what the trail costs.
    pub fn skip_read_audit(&self, skip: bool) {
        self.kms
            .skip_read_audit
            .store(skip, std::sync::atomic::Ordering::Relaxed);
    }

    /// Makes every operation panic once it has passed the audit's start
    /// (until called with `false`).
    pub fn panic_in_operations(&self, panic: bool) {
        self.kms
            .panic_in_operations
            .store(panic, std::sync::atomic::Ordering::Relaxed);
    }

    /// Makes the guest trap.
    pub fn inject_fault(&self) -> Result<(), CoreFault> {
        self.kms.core.inject_fault()
    }

    /// Makes the guest loop until its call deadline stops it.
    pub fn spin(&self) -> Result<(), CoreFault> {
        self.kms.core.spin()
    }

    /// Asks the guest to grow its memory by `pages` (64 KiB each).
    pub fn grow_memory(&self, pages: u32) -> Result<bool, CoreFault> {
        self.kms.core.grow_memory(pages)
    }
}
