//! Imported key material (BYOK): GetParametersForImport,
//! ImportKeyMaterial and DeleteImportedKeyMaterial, and the expiry of
//! imported material in the maintenance sweep.
//!
//! The RSA wrapping key is generated inside the guest, and its private half
//! leaves the guest only sealed under the domain key. keyward keeps no state
//! for an import in progress: the import token *is* that sealed private key,
//! behind a header (algorithm, key size, expiry) that the seal's label binds
//! to the key's ARN. A token altered, or presented for another key, does not
//! open; an expired one is refused before it is tried.

use super::Op;
use super::material::material_label;
use super::{Caller, Details, Kms, KmsError, KmsResult};
use crate::authz::Action;
use crate::authz::request::RequestParameters;
use crate::clock::{DAY_MS, seconds};
use crate::core::{GuestError, WrappedKey, WrappingAlgorithm};
use crate::model::{
    AlgorithmSpec, EmptyResponse, ExpirationModelType, GetParametersForImportRequest,
    GetParametersForImportResponse, ImportKeyMaterialRequest, ImportKeyMaterialResponse,
    KeyIdRequest, KeySpec, KeyState, OriginType, WrappingKeySpec,
};
use crate::store::{ImportedMaterial, KeyRecord, Material};
use std::borrow::Cow;
use subtle::ConstantTimeEq;

/// How long a token and its public key are good for: 24 hours, as in AWS.
const TOKEN_VALIDITY_MS: i64 = DAY_MS;
/// AWS's limit on `ValidTo`: at most 365 days ahead.
const MAX_VALID_TO_MS: i64 = 365 * DAY_MS;
/// AWS's limits on `ImportToken` and `EncryptedKeyMaterial`.
const MAX_TOKEN_LEN: usize = 6144;
const MAX_MATERIAL_LEN: usize = 6144;
/// Imported material is material version 1 of its key, always.
const IMPORTED_VERSION: u32 = 1;

/// The token's header: magic, format version, algorithm, key size, expiry.
const TOKEN_MAGIC: &[u8; 4] = b"KWIT";
const TOKEN_VERSION: u8 = 1;
const TOKEN_HEADER_LEN: usize = TOKEN_MAGIC.len() + 1 + 1 + 1 + 8;

/// The wrapping algorithms keyward accepts, in token order, with the
/// guest's name for each.
const ALGORITHMS: [(AlgorithmSpec, WrappingAlgorithm); 4] = [
    (
        AlgorithmSpec::RsaesOaepSha1,
        WrappingAlgorithm::RsaesOaepSha1,
    ),
    (
        AlgorithmSpec::RsaesOaepSha256,
        WrappingAlgorithm::RsaesOaepSha256,
    ),
    (
        AlgorithmSpec::RsaAesKeyWrapSha1,
        WrappingAlgorithm::RsaAesKeyWrapSha1,
    ),
    (
        AlgorithmSpec::RsaAesKeyWrapSha256,
        WrappingAlgorithm::RsaAesKeyWrapSha256,
    ),
];
/// The wrapping key sizes, in token order.
const SIZES: [(WrappingKeySpec, u32); 3] = [
    (WrappingKeySpec::Rsa2048, 2048),
    (WrappingKeySpec::Rsa3072, 3072),
    (WrappingKeySpec::Rsa4096, 4096),
];

/// An import token, decoded.
struct ImportToken {
    algorithm: usize,
    size: usize,
    expires_ms: i64,
    sealed_private_key: Vec<u8>,
}

impl ImportToken {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(TOKEN_HEADER_LEN + self.sealed_private_key.len());
        out.extend_from_slice(TOKEN_MAGIC);
        out.push(TOKEN_VERSION);
        out.push(u8::try_from(self.algorithm).unwrap_or(u8::MAX));
        out.push(u8::try_from(self.size).unwrap_or(u8::MAX));
        out.extend_from_slice(&self.expires_ms.to_be_bytes());
        out.extend_from_slice(&self.sealed_private_key);
        out
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        let (header, sealed) = bytes.split_at_checked(TOKEN_HEADER_LEN)?;
        let (magic, rest) = header.split_at(TOKEN_MAGIC.len());
        let [version, algorithm, size, expires @ ..] = rest else {
            return None;
        };
        if magic != TOKEN_MAGIC || *version != TOKEN_VERSION || sealed.is_empty() {
            return None;
        }
        let algorithm = usize::from(*algorithm);
        let size = usize::from(*size);
        (algorithm < ALGORITHMS.len() && size < SIZES.len()).then(|| Self {
            algorithm,
            size,
            expires_ms: i64::from_be_bytes(expires.try_into().unwrap_or_default()),
            sealed_private_key: sealed.to_vec(),
        })
    }

    /// The label the guest seals the private key under: everything the
    /// header says, and the key it is for.
    fn label(&self, arn: &str) -> Vec<u8> {
        format!(
            "{arn}#import#{}#{}#{}",
            ALGORITHMS
                .get(self.algorithm)
                .map_or("", |(a, _)| a.as_str()),
            SIZES.get(self.size).map_or("", |(s, _)| s.as_str()),
            self.expires_ms
        )
        .into_bytes()
    }
}

/// A key's `ExpirationModel` and `ValidTo` (milliseconds), for keys that
/// hold imported material.
pub(super) fn expiration(key: &KeyRecord) -> (Option<ExpirationModelType>, Option<i64>) {
    match expiration_model(key) {
        Some(model) => (
            Some(model),
            key.imported.as_ref().and_then(|i| i.valid_to_ms),
        ),
        None => (None, None),
    }
}

/// A key's `ExpirationModel`, for keys that hold imported material.
fn expiration_model(key: &KeyRecord) -> Option<ExpirationModelType> {
    let imported = key.imported.as_ref()?;
    (key.state != KeyState::PendingImport).then_some(match imported.valid_to_ms {
        Some(_) => ExpirationModelType::KeyMaterialExpires,
        None => ExpirationModelType::KeyMaterialDoesNotExpire,
    })
}

/// `key` as it stands at `now_ms`: a key whose imported material has
/// expired is `PendingImport` even before the sweep deletes the material
/// (a key pending deletion stays so).
pub(super) fn with_expiry(mut key: KeyRecord, now_ms: i64) -> KeyRecord {
    let expired = key
        .imported
        .as_ref()
        .and_then(|i| i.valid_to_ms)
        .is_some_and(|valid_to| valid_to <= now_ms);
    if expired && matches!(key.state, KeyState::Enabled | KeyState::Disabled) {
        key.state = KeyState::PendingImport;
    }
    key
}

/// The state a key with imported material takes when it loses it.
fn without_material(key: KeyRecord) -> KeyRecord {
    KeyRecord {
        state: match key.state {
            KeyState::PendingDeletion => KeyState::PendingDeletion,
            _ => KeyState::PendingImport,
        },
        imported: key.imported.map(|imported| ImportedMaterial {
            valid_to_ms: None,
            ..imported
        }),
        ..key
    }
}

/// What material of `spec` must be, for `IncorrectKeyMaterialException`.
fn incorrect_material(spec: KeySpec) -> String {
    match spec {
        KeySpec::SymmetricDefault => "symmetric key material must be 256 bits (32 bytes)".into(),
        KeySpec::Hmac224 => "HMAC_224 key material must be 28 to 64 bytes".into(),
        KeySpec::Hmac256 => "HMAC_256 key material must be 32 to 64 bytes".into(),
        KeySpec::Hmac384 => "HMAC_384 key material must be 48 to 128 bytes".into(),
        KeySpec::Hmac512 => "HMAC_512 key material must be 64 to 128 bytes".into(),
        spec => format!("{spec} key material must be a PKCS #8 private key of that spec"),
    }
}

fn require_external(key: &KeyRecord) -> KmsResult<()> {
    if key.origin == OriginType::External {
        Ok(())
    } else {
        Err(KmsError::UnsupportedOperation(format!(
            "key `{}` has origin `{}`; only keys with origin `EXTERNAL` take imported key \
             material",
            key.arn, key.origin
        )))
    }
}

/// `ValidTo` and `ExpirationModel` as the material's expiry (`None`: never).
fn valid_to_ms(request: &ImportKeyMaterialRequest, now_ms: i64) -> KmsResult<Option<i64>> {
    // AWS's default is KEY_MATERIAL_EXPIRES, which needs a ValidTo.
    let model = request
        .expiration_model
        .unwrap_or(ExpirationModelType::KeyMaterialExpires);
    match (model, request.valid_to) {
        (ExpirationModelType::KeyMaterialDoesNotExpire, None) => Ok(None),
        (ExpirationModelType::KeyMaterialDoesNotExpire, Some(_)) => Err(KmsError::validation(
            "`ValidTo` must be omitted when `ExpirationModel` is `KEY_MATERIAL_DOES_NOT_EXPIRE`",
        )),
        (ExpirationModelType::KeyMaterialExpires, None) => Err(KmsError::validation(
            "`ValidTo` is required when `ExpirationModel` is `KEY_MATERIAL_EXPIRES`",
        )),
        (ExpirationModelType::KeyMaterialExpires, Some(valid_to)) => {
            #[expect(
                clippy::cast_possible_truncation,
                reason = "a time in epoch seconds, checked against a range below"
            )]
            let valid_to_ms = (valid_to * 1000.0).round() as i64;
            if !valid_to.is_finite() || valid_to_ms <= now_ms {
                return Err(KmsError::validation("`ValidTo` must be in the future"));
            }
            if valid_to_ms > now_ms.saturating_add(MAX_VALID_TO_MS) {
                return Err(KmsError::validation(
                    "`ValidTo` must be at most 365 days from now",
                ));
            }
            Ok(Some(valid_to_ms))
        }
    }
}

impl Kms {
    /// `GetParametersForImport`: a fresh RSA wrapping key, generated inside
    /// the guest, and the token that carries its sealed private half; both
    /// good for 24 hours.
    pub fn get_parameters_for_import(
        &self,
        caller: &Caller,
        request: GetParametersForImportRequest,
    ) -> KmsResult<GetParametersForImportResponse> {
        self.run(
            caller,
            Op::read("GetParametersForImport"),
            request,
            |trail, request| {
                let Some(algorithm) = request.wrapping_algorithm else {
                    return Err(KmsError::validation("`WrappingAlgorithm` is required"));
                };
                let Some(spec) = request.wrapping_key_spec else {
                    return Err(KmsError::validation("`WrappingKeySpec` is required"));
                };
                let requested = algorithm;
                let algorithm = ALGORITHMS
                    .iter()
                    .position(|(a, _)| *a == algorithm)
                    .ok_or_else(|| {
                        KmsError::UnsupportedOperation(format!(
                            "keyward does not support the wrapping algorithm `{algorithm}`"
                        ))
                    })?;
                let bits = SIZES.iter().find(|(s, _)| *s == spec).map(|(_, bits)| *bits);
                let size = SIZES.iter().position(|(s, _)| *s == spec).ok_or_else(|| {
                    KmsError::UnsupportedOperation(format!(
                        "keyward does not support the wrapping key spec `{spec}`"
                    ))
                })?;
                let parameters = RequestParameters {
                    wrapping_algorithm: request
                        .wrapping_algorithm
                        .map(|a| Cow::Borrowed(a.as_str())),
                    wrapping_key_spec: request.wrapping_key_spec.map(|s| Cow::Borrowed(s.as_str())),
                    ..RequestParameters::NONE
                };
                let key = self.admit(
                    caller,
                    trail,
                    Action::GetParametersForImport,
                    &request.key_id,
                    Details::parameters(&parameters),
                )?;
                require_external(&key)?;
                // A private key (PKCS #8) is longer than RSA-OAEP can carry:
                // AWS takes RSA and ECC material only with RSA_AES_KEY_WRAP.
                if key.key_spec.is_asymmetric()
                    && matches!(
                        requested,
                        AlgorithmSpec::RsaesOaepSha1 | AlgorithmSpec::RsaesOaepSha256
                    )
                {
                    return Err(KmsError::validation(format!(
                        "{} is not a supported wrapping algorithm for key spec {}; use RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256",
                        requested, key.key_spec
                    )));
                }
                let expires_ms = self.now_ms().saturating_add(TOKEN_VALIDITY_MS);
                let mut token = ImportToken {
                    algorithm,
                    size,
                    expires_ms,
                    sealed_private_key: Vec::new(),
                };
                let pair = self
                    .core
                    .generate_wrapping_key(&token.label(&key.arn), bits.unwrap_or(2048))?
                    .map_err(KmsError::guest)?;
                token.sealed_private_key = pair.sealed_private_key;
                Ok(GetParametersForImportResponse {
                    key_id: key.arn,
                    import_token: token.encode().into(),
                    public_key: pair.public_key,
                    parameters_valid_to: seconds(expires_ms),
                })
            },
        )
    }

    /// `ImportKeyMaterial`: opens the customer's wrapped material inside the
    /// guest and stores it wrapped under the domain key. A key that has had
    /// material takes only the same material again.
    pub fn import_key_material(
        &self,
        caller: &Caller,
        request: ImportKeyMaterialRequest,
    ) -> KmsResult<ImportKeyMaterialResponse> {
        self.run(
            caller,
            Op::write("ImportKeyMaterial"),
            request,
            |trail, request| {
                for (name, value, max) in [
                    ("ImportToken", &request.import_token, MAX_TOKEN_LEN),
                    (
                        "EncryptedKeyMaterial",
                        &request.encrypted_key_material,
                        MAX_MATERIAL_LEN,
                    ),
                ] {
                    if value.is_empty() || value.len() > max {
                        return Err(KmsError::validation(format!(
                            "`{name}` must be between 1 and {max} bytes"
                        )));
                    }
                }
                let now = self.now_ms();
                let valid_to_ms = valid_to_ms(&request, now)?;
                let parameters = RequestParameters {
                    expiration_model: Some(Cow::Borrowed(
                        request
                            .expiration_model
                            .unwrap_or(ExpirationModelType::KeyMaterialExpires)
                            .as_str(),
                    )),
                    valid_to: valid_to_ms.map(|ms| ms.div_euclid(1000)),
                    ..RequestParameters::NONE
                };
                let key = self.admit(
                    caller,
                    trail,
                    Action::ImportKeyMaterial,
                    &request.key_id,
                    Details::parameters(&parameters),
                )?;
                require_external(&key)?;
                let invalid_token = || {
                    KmsError::InvalidImportToken(format!(
                        "the import token was not issued for key `{}`",
                        key.arn
                    ))
                };
                let token =
                    ImportToken::decode(request.import_token.expose()).ok_or_else(invalid_token)?;
                // Expiry first, as AWS does: an expired token decrypts
                // nothing. (A header edited to a later expiry does not open.)
                if token.expires_ms <= now {
                    return Err(KmsError::ExpiredImportToken(format!(
                        "the import token expired at {}; call GetParametersForImport again",
                        seconds(token.expires_ms)
                    )));
                }
                let wrapping_key = WrappedKey {
                    label: token.label(&key.arn),
                    blob: token.sealed_private_key.clone(),
                };
                let imported = self
                    .core
                    .import_key(
                        &wrapping_key,
                        ALGORITHMS
                            .get(token.algorithm)
                            .map(|(_, wrapping)| *wrapping)
                            .ok_or_else(invalid_token)?,
                        request.encrypted_key_material.expose(),
                        &material_label(&key.arn, IMPORTED_VERSION),
                        super::material::core_spec(key.key_spec)?,
                    )?
                    .map_err(|e| match e {
                        GuestError::InvalidWrappedKey => invalid_token(),
                        GuestError::InvalidCiphertext => KmsError::InvalidCiphertext,
                        GuestError::IncorrectKeyMaterial => {
                            KmsError::IncorrectKeyMaterial(incorrect_material(key.key_spec))
                        }
                        other => KmsError::guest(other),
                    })?;
                if let Some(previous) = &key.imported
                    && !bool::from(previous.fingerprint.as_slice().ct_eq(&imported.fingerprint))
                {
                    return Err(KmsError::IncorrectKeyMaterial(format!(
                        "key `{}` takes only the key material imported into it before",
                        key.arn
                    )));
                }
                let arn = key.arn.clone();
                let record = KeyRecord {
                    state: match key.state {
                        KeyState::PendingImport => KeyState::Enabled,
                        state => state,
                    },
                    imported: Some(ImportedMaterial {
                        fingerprint: imported.fingerprint,
                        valid_to_ms,
                    }),
                    ..key
                };
                let material = Material {
                    version: IMPORTED_VERSION,
                    wrapped: imported.blob,
                    created_ms: now,
                    public_key: imported.public_key,
                };
                self.store.replace_material(&record, Some(&material))?;
                Ok(ImportKeyMaterialResponse { key_id: arn })
            },
        )
    }

    /// `DeleteImportedKeyMaterial`: the material is deleted at once (and
    /// wiped from the store's files); the key becomes `PendingImport`, or
    /// stays `PendingDeletion`.
    pub fn delete_imported_key_material(
        &self,
        caller: &Caller,
        request: KeyIdRequest,
    ) -> KmsResult<EmptyResponse> {
        self.run(
            caller,
            Op::write("DeleteImportedKeyMaterial"),
            request,
            |trail, request| {
                let key = self.admit(
                    caller,
                    trail,
                    Action::DeleteImportedKeyMaterial,
                    &request.key_id,
                    Details::default(),
                )?;
                require_external(&key)?;
                self.store.replace_material(&without_material(key), None)?;
                Ok(EmptyResponse {})
            },
        )
    }

    /// Deletes the imported material whose `ValidTo` has passed, each as an
    /// audited service event (`DeleteExpiredKeyMaterial`, as CloudTrail
    /// names it). Returns the ARNs of the keys.
    pub(super) fn expire_imported_material(&self) -> KmsResult<Vec<String>> {
        let mut expired = Vec::new();
        let now = self.now_ms();
        for key in self.store.keys_with_expired_material(now)? {
            let due = |key: &KeyRecord| {
                key.imported
                    .as_ref()
                    .and_then(|i| i.valid_to_ms)
                    .is_some_and(|valid_to| valid_to <= now)
            };
            let done = self.service_event(&key, "DeleteExpiredKeyMaterial", due, |key| {
                Ok(self.store.replace_material(&without_material(key), None)?)
            })?;
            if let Some(arn) = done {
                tracing::info!(key = %arn, "deleted imported key material that expired");
                expired.push(arn);
            }
        }
        Ok(expired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_decodes_to_what_was_encoded_and_binds_its_header() {
        let token = ImportToken {
            algorithm: 3,
            size: 2,
            expires_ms: 1_700_000_000_123,
            sealed_private_key: vec![9; 40],
        };
        let bytes = token.encode();
        let decoded = ImportToken::decode(&bytes).unwrap();
        assert_eq!(decoded.label("arn"), token.label("arn"));
        assert_eq!(
            String::from_utf8(token.label("arn")).unwrap(),
            "arn#import#RSA_AES_KEY_WRAP_SHA_256#RSA_4096#1700000000123"
        );
        assert_ne!(token.label("arn"), token.label("other"));
        // Truncated, wrong magic, unknown algorithm: not a token.
        assert!(ImportToken::decode(&bytes[..TOKEN_HEADER_LEN]).is_none());
        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert!(ImportToken::decode(&bad).is_none());
        let mut bad = bytes;
        bad[5] = 9;
        assert!(ImportToken::decode(&bad).is_none());
    }

    /// Golden vector of an import token's header: fixed fields, the exact
    /// bytes.
    #[test]
    fn golden_import_token() {
        let token = ImportToken {
            algorithm: 2,
            size: 1,
            expires_ms: 1_767_225_600_000,
            sealed_private_key: vec![0xab; 4],
        };
        assert_eq!(hex::encode(token.encode()), GOLDEN_TOKEN);
        assert_eq!(
            String::from_utf8(token.label("arn:aws:kms:us-east-1:111122223333:key/k")).unwrap(),
            "arn:aws:kms:us-east-1:111122223333:key/k#import#RSA_AES_KEY_WRAP_SHA_1#RSA_3072#1767225600000"
        );
    }

    const GOLDEN_TOKEN: &str = "4b5749540102010000019b76daa800abababab";
}
