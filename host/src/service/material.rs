//! What every operation on a key's material shares: the label that binds
//! wrapped material to its key, the core's name of the key's spec, the usage
//! and dry-run checks, and the error for material the store has lost.

use super::error::InternalError;
use super::{KmsError, KmsResult};
use crate::core::names;
use crate::model::{EncryptionAlgorithmSpec, KeySpec, KeyUsage};
use crate::store::KeyRecord;

/// The label that binds a wrapped material version to its key: the guest
/// refuses to open the blob under any other label.
pub(super) fn material_label(arn: &str, version: u32) -> Vec<u8> {
    format!("{arn}#{version}").into_bytes()
}

/// A key's usage must be `usage` for `operation` (AWS's
/// `InvalidKeyUsageException`).
pub(super) fn check_usage(key: &KeyRecord, usage: KeyUsage, operation: &str) -> KmsResult<()> {
    if key.key_usage == usage {
        Ok(())
    } else {
        Err(KmsError::wrong_usage(&key.arn, key.key_usage, operation))
    }
}

/// The core's name of a key's spec, which keyward created, so supports.
pub(super) fn core_spec(spec: KeySpec) -> KmsResult<crate::core::CoreKeySpec> {
    names::key_spec(spec).ok_or_else(|| {
        KmsError::UnsupportedOperation(format!("keyward does not support key spec {spec} yet"))
    })
}

/// A key's current material is missing from the store: the store is
/// damaged, since every key but one pending import has some.
pub(super) fn missing_material(key: &KeyRecord) -> KmsError {
    KmsError::Internal(InternalError::Store(crate::store::StoreError::Corrupt(
        format!(
            "key `{}` has no material version {}",
            key.arn, key.current_version
        ),
    )))
}

/// A request with `DryRun` stops here, having passed every check.
pub(super) fn check_dry_run(dry_run: Option<bool>) -> KmsResult<()> {
    if dry_run == Some(true) {
        return Err(KmsError::DryRunOperation);
    }
    Ok(())
}

/// The key encrypts (`ENCRYPT_DECRYPT`) with `algorithm`, one its spec
/// offers: `SYMMETRIC_DEFAULT` for symmetric keys, RSA-OAEP for RSA keys.
pub(super) fn check_encryption_use(
    key: &KeyRecord,
    algorithm: Option<EncryptionAlgorithmSpec>,
    operation: &str,
) -> KmsResult<()> {
    check_usage(key, KeyUsage::EncryptDecrypt, operation)?;
    let algorithm = algorithm.unwrap_or(EncryptionAlgorithmSpec::SymmetricDefault);
    if key.key_spec.encryption_algorithms().contains(&algorithm) {
        Ok(())
    } else {
        Err(KmsError::wrong_algorithm(algorithm, key.key_spec))
    }
}
