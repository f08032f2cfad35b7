//! Cryptographic operations: Encrypt, Decrypt, ReEncrypt, GenerateDataKey,
//! GenerateDataKeyWithoutPlaintext and GenerateRandom.

use super::Op;
use super::ciphertext::{self, Header};
use super::error::Violation;
use super::material::{
    check_dry_run, check_encryption_use, core_spec, material_label, missing_material,
};
use super::{Caller, Details, Kms, KmsError, KmsResult};
use crate::audit::Trail;
use crate::authz::Action;
use crate::authz::request::RequestParameters;
use crate::core::{
    CiphertextDestination, CiphertextSource, GuestError, OaepHash, RsaCiphertext, RsaDestination,
    SymmetricCiphertext, SymmetricDestination, WrappedKey, names,
};
use crate::model::{
    DataKeySpec, DecryptRequest, DecryptResponse, EncryptRequest, EncryptResponse,
    EncryptionAlgorithmSpec, EncryptionContext, GenerateDataKeyRequest, GenerateDataKeyResponse,
    GenerateDataKeyWithoutPlaintextResponse, GenerateRandomRequest, GenerateRandomResponse,
    ReEncryptRequest, ReEncryptResponse, SecretBytes,
};
use crate::store::KeyRecord;
use std::borrow::Cow;

/// AWS's Encrypt limit.
const MAX_PLAINTEXT: usize = 4096;
/// AWS's limit on a `CiphertextBlob`.
const MAX_CIPHERTEXT: usize = 6144;
/// Data keys and random strings: 1..=1024 bytes.
const MAX_RANDOM: i64 = 1024;
/// At most this many grant tokens, each at most this long.
const MAX_GRANT_TOKENS: usize = 10;
const MAX_GRANT_TOKEN_LEN: usize = 8192;
/// The largest encryption context, counting the bytes of every key and value.
const MAX_CONTEXT_BYTES: usize = 8192;

fn check_grant_tokens(tokens: &[String]) -> KmsResult<()> {
    if tokens.len() > MAX_GRANT_TOKENS {
        return Err(KmsError::validation(format!(
            "`GrantTokens` holds at most {MAX_GRANT_TOKENS} tokens"
        )));
    }
    if tokens
        .iter()
        .any(|t| t.is_empty() || t.len() > MAX_GRANT_TOKEN_LEN)
    {
        return Err(KmsError::validation(format!(
            "each grant token must be between 1 and {MAX_GRANT_TOKEN_LEN} characters"
        )));
    }
    Ok(())
}

/// A ciphertext's header, the header's bytes and the body; every failure is
/// the one opaque `InvalidCiphertextException`.
fn open_ciphertext(blob: &[u8]) -> KmsResult<(Header, &[u8], &[u8])> {
    check_ciphertext_size(blob)?;
    Header::parse(blob).map_err(|_| KmsError::InvalidCiphertext)
}

/// `kms:EncryptionAlgorithm`: the request's algorithm (defaulted).
fn algorithm_parameters(algorithm: Option<EncryptionAlgorithmSpec>) -> RequestParameters {
    RequestParameters {
        encryption_algorithm: Some(Cow::Borrowed(
            algorithm
                .unwrap_or(EncryptionAlgorithmSpec::SymmetricDefault)
                .as_str(),
        )),
        ..RequestParameters::NONE
    }
}

impl<'a> Details<'a> {
    /// A request's encryption context (named `name` in errors) and grant
    /// tokens, checked against AWS's limits.
    pub(super) fn checked(
        name: &str,
        encryption_context: Option<&'a EncryptionContext>,
        grant_tokens: &'a [String],
    ) -> KmsResult<Self> {
        check_context(name, encryption_context)?;
        check_grant_tokens(grant_tokens)?;
        Ok(Self {
            encryption_context,
            grant_tokens,
            parameters: None,
        })
    }

    /// A request's grant tokens, checked, for operations with no encryption
    /// context.
    pub(super) fn tokens(grant_tokens: &'a [String]) -> KmsResult<Self> {
        check_grant_tokens(grant_tokens)?;
        Ok(Self {
            encryption_context: None,
            grant_tokens,
            parameters: None,
        })
    }
}

fn check_context(name: &str, context: Option<&EncryptionContext>) -> KmsResult<()> {
    let size: usize = context
        .into_iter()
        .flatten()
        .map(|(k, v)| k.len() + v.len())
        .sum();
    if size > MAX_CONTEXT_BYTES {
        return Err(KmsError::validation(format!(
            "`{name}` must be at most {MAX_CONTEXT_BYTES} bytes"
        )));
    }
    Ok(())
}

fn check_ciphertext_size(blob: &[u8]) -> KmsResult<()> {
    if blob.is_empty() || blob.len() > MAX_CIPHERTEXT {
        return Err(KmsError::validation(format!(
            "`CiphertextBlob` must be between 1 and {MAX_CIPHERTEXT} bytes"
        )));
    }
    Ok(())
}

/// Whether a request names RSA-OAEP: its ciphertext is then plain RSA-OAEP,
/// with no keyward header, and its key must be named.
fn is_rsa_algorithm(algorithm: Option<EncryptionAlgorithmSpec>) -> bool {
    algorithm.and_then(names::oaep_hash).is_some()
}

/// RSA keys take no encryption context, as in AWS.
fn check_no_context(name: &str, context: Option<&EncryptionContext>) -> KmsResult<()> {
    if context.is_some_and(|c| !c.is_empty()) {
        return Err(KmsError::validation(format!(
            "{name} is not supported with asymmetric KMS keys"
        )));
    }
    Ok(())
}

/// The OAEP hash of an algorithm checked to be RSA-OAEP.
fn oaep(algorithm: Option<EncryptionAlgorithmSpec>) -> KmsResult<OaepHash> {
    algorithm.and_then(names::oaep_hash).ok_or_else(|| {
        KmsError::guest(GuestError::InvalidArgument(
            "an RSA key without an RSA-OAEP algorithm".into(),
        ))
    })
}

/// Fills in `SYMMETRIC_DEFAULT` for an encryption algorithm a request
/// leaves out. For a symmetric key that is what leaving it out means
/// ([`check_encryption_use`] treats the two alike), and CloudTrail records
/// the algorithm of Encrypt, Decrypt and ReEncrypt either way.
fn default_algorithm(algorithm: &mut Option<EncryptionAlgorithmSpec>) {
    algorithm.get_or_insert(EncryptionAlgorithmSpec::SymmetricDefault);
}

/// `NumberOfBytes` or `KeySpec`, exactly one, as a length.
fn data_key_length(number_of_bytes: Option<i64>, key_spec: Option<DataKeySpec>) -> KmsResult<u32> {
    match (number_of_bytes, key_spec) {
        (Some(n), None) if (1..=MAX_RANDOM).contains(&n) => Ok(u32::try_from(n).unwrap_or(1)),
        (Some(_), None) => Err(KmsError::validation(format!(
            "`NumberOfBytes` must be between 1 and {MAX_RANDOM}"
        ))),
        (None, Some(DataKeySpec::Aes256)) => Ok(32),
        (None, Some(DataKeySpec::Aes128)) => Ok(16),
        _ => Err(KmsError::validation(
            "specify either `NumberOfBytes` or `KeySpec`, not both or neither",
        )),
    }
}

/// Maps a guest error on a path where only a damaged ciphertext can cause
/// one to the opaque `InvalidCiphertextException`; anything else is ours.
fn decrypt_error(error: GuestError) -> KmsError {
    match error {
        GuestError::InvalidCiphertext => KmsError::InvalidCiphertext,
        other => KmsError::guest(other),
    }
}

impl Kms {
    /// The wrapped material of one version of `key`, for the guest.
    pub(super) fn wrapped_key(
        &self,
        key: &KeyRecord,
        version: u32,
    ) -> KmsResult<Option<WrappedKey>> {
        let material = self.store.material(&key.region, &key.key_id, version)?;
        Ok(material.map(|m| WrappedKey {
            label: material_label(&key.arn, version),
            blob: m.wrapped,
        }))
    }

    /// The current material of `key` and the header new ciphertexts get.
    pub(super) fn current_material(&self, key: &KeyRecord) -> KmsResult<(WrappedKey, Vec<u8>)> {
        let wrapped = self
            .wrapped_key(key, key.current_version)?
            .ok_or_else(|| missing_material(key))?;
        let header = Header {
            key_arn: key.arn.clone(),
            version: key.current_version,
        };
        Ok((wrapped, header.encode()))
    }

    /// Finds a parsed ciphertext's key: `IncorrectKeyException` if the
    /// caller named another key, then the pipeline gate for `action`.
    fn ciphertext_key(
        &self,
        caller: &Caller,
        trail: &Trail,
        action: Action,
        header: &Header,
        named: Option<&str>,
        details: Details<'_>,
    ) -> KmsResult<KeyRecord> {
        if let Some(named) = named {
            let named_key = self.resolve(caller, named)?;
            if named_key.arn != header.key_arn {
                return Err(KmsError::incorrect_key());
            }
        }
        self.admit(caller, trail, action, &header.key_arn, details)
    }

    /// `Encrypt`: up to 4096 bytes, with the encryption context as AAD.
    pub fn encrypt(
        &self,
        caller: &Caller,
        mut request: EncryptRequest,
    ) -> KmsResult<EncryptResponse> {
        default_algorithm(&mut request.encryption_algorithm);
        self.run(caller, Op::crypto("Encrypt"), request, |trail, request| {
            if request.plaintext.is_empty() || request.plaintext.len() > MAX_PLAINTEXT {
                return Err(KmsError::validation(format!(
                    "`Plaintext` must be between 1 and {MAX_PLAINTEXT} bytes"
                )));
            }
            let parameters = algorithm_parameters(request.encryption_algorithm);
            let details = Details::checked(
                "EncryptionContext",
                request.encryption_context.as_ref(),
                &request.grant_tokens,
            )?
            .with(&parameters);
            let key = self.admit(caller, trail, Action::Encrypt, &request.key_id, details)?;
            check_encryption_use(&key, request.encryption_algorithm, "Encrypt")?;
            if key.key_spec.is_rsa() {
                return self.rsa_encrypt(&key, &request);
            }
            check_dry_run(request.dry_run)?;
            let (wrapped, header) = self.current_material(&key)?;
            let aad = ciphertext::aad(&header, request.encryption_context.as_ref());
            let body = self
                .core
                .encrypt(&wrapped, &aad, request.plaintext.expose())?
                .map_err(KmsError::guest)?;
            Ok(EncryptResponse {
                ciphertext_blob: [header, body].concat(),
                key_id: key.arn,
                encryption_algorithm: EncryptionAlgorithmSpec::SymmetricDefault,
            })
        })
    }

    /// `Decrypt`: the ciphertext names its key; `KeyId`, if given, must
    /// agree. Every failure to open is the one `InvalidCiphertextException`.
    pub fn decrypt(
        &self,
        caller: &Caller,
        mut request: DecryptRequest,
    ) -> KmsResult<DecryptResponse> {
        default_algorithm(&mut request.encryption_algorithm);
        self.run(caller, Op::crypto("Decrypt"), request, |trail, request| {
            let parameters = algorithm_parameters(request.encryption_algorithm);
            let details = Details::checked(
                "EncryptionContext",
                request.encryption_context.as_ref(),
                &request.grant_tokens,
            )?
            .with(&parameters);
            // An RSA-OAEP ciphertext has no header: the request names its key.
            // Without a name, the blob must be keyward's, whose header does.
            if let Some(named) = request.key_id.as_deref()
                && is_rsa_algorithm(request.encryption_algorithm)
            {
                return self.rsa_decrypt(caller, trail, &request, named, details);
            }
            let (header, header_bytes, body) = open_ciphertext(&request.ciphertext_blob)?;
            let key = self.ciphertext_key(
                caller,
                trail,
                Action::Decrypt,
                &header,
                request.key_id.as_deref(),
                details,
            )?;
            check_encryption_use(&key, request.encryption_algorithm, "Decrypt")?;
            check_dry_run(request.dry_run)?;
            let wrapped = self
                .wrapped_key(&key, header.version)?
                .ok_or(KmsError::InvalidCiphertext)?;
            let aad = ciphertext::aad(header_bytes, request.encryption_context.as_ref());
            let plaintext = self
                .core
                .decrypt(&wrapped, &aad, body)?
                .map_err(decrypt_error)?;
            Ok(DecryptResponse {
                key_id: key.arn,
                plaintext: SecretBytes::from(plaintext),
                encryption_algorithm: EncryptionAlgorithmSpec::SymmetricDefault,
            })
        })
    }

    /// `ReEncrypt`: decrypt and encrypt again inside the guest, so that the
    /// plaintext never reaches the host.
    pub fn re_encrypt(
        &self,
        caller: &Caller,
        mut request: ReEncryptRequest,
    ) -> KmsResult<ReEncryptResponse> {
        default_algorithm(&mut request.source_encryption_algorithm);
        default_algorithm(&mut request.destination_encryption_algorithm);
        let op = Op::crypto("ReEncrypt");
        self.run(caller, op, request, |trail, request| {
            // Both checked before either key is looked up (the grant tokens
            // with each: a list of at most ten).
            let source_details = Details::checked(
                "SourceEncryptionContext",
                request.source_encryption_context.as_ref(),
                &request.grant_tokens,
            )?;
            let destination_details = Details::checked(
                "DestinationEncryptionContext",
                request.destination_encryption_context.as_ref(),
                &request.grant_tokens,
            )?;
            // A symmetric ciphertext names its key in its header; an RSA one
            // is plain RSA-OAEP, so the request must name its key.
            let rsa_source = request
                .source_key_id
                .as_deref()
                .filter(|_| is_rsa_algorithm(request.source_encryption_algorithm));
            let parsed = match rsa_source {
                Some(_) => {
                    check_ciphertext_size(&request.ciphertext_blob)?;
                    None
                }
                None => Some(open_ciphertext(&request.ciphertext_blob)?),
            };
            let named_source = match rsa_source {
                Some(named) => Some(self.resolve_for(caller, Action::ReEncryptFrom, named)?),
                None => None,
            };
            let source_arn = match (&parsed, &named_source) {
                (Some((header, ..)), _) => header.key_arn.clone(),
                (None, Some(key)) => key.arn.clone(),
                (None, None) => return Err(KmsError::InvalidCiphertext),
            };
            // The destination is looked up once, here; a failure to find it
            // is reported at its gate, after the source's, as before.
            let destination =
                self.resolve_for(caller, Action::ReEncryptTo, &request.destination_key_id);
            // kms:ReEncryptOnSameKey, for both decisions (absent when the
            // destination does not resolve: the request then fails below).
            let same_key = destination.as_ref().ok().map(|d| d.arn == source_arn);
            let source_parameters = RequestParameters {
                re_encrypt_on_same_key: same_key,
                ..algorithm_parameters(request.source_encryption_algorithm)
            };
            let destination_parameters = RequestParameters {
                re_encrypt_on_same_key: same_key,
                ..algorithm_parameters(request.destination_encryption_algorithm)
            };
            let source_details = source_details.with(&source_parameters);
            let source = match (&parsed, named_source) {
                (Some((header, ..)), _) => self.ciphertext_key(
                    caller,
                    trail,
                    Action::ReEncryptFrom,
                    header,
                    request.source_key_id.as_deref(),
                    source_details,
                )?,
                (None, Some(key)) => {
                    let named = request.source_key_id.as_deref().unwrap_or_default();
                    self.gate(
                        caller,
                        trail,
                        Action::ReEncryptFrom,
                        key,
                        named,
                        source_details,
                    )?
                    .0
                }
                (None, None) => return Err(KmsError::InvalidCiphertext),
            };
            check_encryption_use(&source, request.source_encryption_algorithm, "ReEncrypt")?;
            if source.key_spec.is_rsa() {
                check_no_context(
                    "SourceEncryptionContext",
                    request.source_encryption_context.as_ref(),
                )?;
            }
            let (destination, _) = self.gate(
                caller,
                trail,
                Action::ReEncryptTo,
                destination?,
                &request.destination_key_id,
                destination_details.with(&destination_parameters),
            )?;
            check_encryption_use(
                &destination,
                request.destination_encryption_algorithm,
                "ReEncrypt",
            )?;
            check_dry_run(request.dry_run)?;
            let source_input = match &parsed {
                Some((header, header_bytes, body)) => {
                    CiphertextSource::Symmetric(SymmetricCiphertext {
                        key: self
                            .wrapped_key(&source, header.version)?
                            .ok_or(KmsError::InvalidCiphertext)?,
                        aad: ciphertext::aad(
                            header_bytes,
                            request.source_encryption_context.as_ref(),
                        ),
                        body: body.to_vec(),
                    })
                }
                None => CiphertextSource::Rsa(RsaCiphertext {
                    key: self
                        .wrapped_key(&source, source.current_version)?
                        .ok_or(KmsError::InvalidCiphertext)?,
                    hash: oaep(request.source_encryption_algorithm)?,
                    ciphertext: request.ciphertext_blob.clone(),
                }),
            };
            let (destination_input, header) = if destination.key_spec.is_rsa() {
                check_no_context(
                    "DestinationEncryptionContext",
                    request.destination_encryption_context.as_ref(),
                )?;
                let rsa = RsaDestination {
                    spec: core_spec(destination.key_spec)?,
                    public_key: self.public_key(&destination)?,
                    hash: oaep(request.destination_encryption_algorithm)?,
                };
                (CiphertextDestination::Rsa(rsa), Vec::new())
            } else {
                let (key, header) = self.current_material(&destination)?;
                let aad = ciphertext::aad(&header, request.destination_encryption_context.as_ref());
                (
                    CiphertextDestination::Symmetric(SymmetricDestination { key, aad }),
                    header,
                )
            };
            let new_body = self
                .core
                .re_encrypt(&source_input, &destination_input)?
                .map_err(|error| match error {
                    // The plaintext is longer than the RSA destination takes.
                    GuestError::InvalidArgument(_) if destination.key_spec.is_rsa() => {
                        KmsError::validation(
                            "the plaintext is too long for the destination key and algorithm",
                        )
                    }
                    other => decrypt_error(other),
                })?;
            Ok(ReEncryptResponse {
                ciphertext_blob: [header, new_body].concat(),
                source_key_id: source.arn,
                key_id: destination.arn,
                source_encryption_algorithm: request
                    .source_encryption_algorithm
                    .unwrap_or(EncryptionAlgorithmSpec::SymmetricDefault),
                destination_encryption_algorithm: request
                    .destination_encryption_algorithm
                    .unwrap_or(EncryptionAlgorithmSpec::SymmetricDefault),
            })
        })
    }

    /// Encrypt under an RSA key: plain RSA-OAEP with its public key, as
    /// AWS's, so that data encrypted offline decrypts here and the reverse.
    fn rsa_encrypt(&self, key: &KeyRecord, request: &EncryptRequest) -> KmsResult<EncryptResponse> {
        let algorithm = request
            .encryption_algorithm
            .unwrap_or(EncryptionAlgorithmSpec::SymmetricDefault);
        check_no_context("EncryptionContext", request.encryption_context.as_ref())?;
        let limit = key.key_spec.rsa_plaintext_limit(algorithm).unwrap_or(0);
        if request.plaintext.len() > limit {
            return Err(KmsError::rsa_plaintext_too_long(
                algorithm,
                key.key_spec,
                limit,
            ));
        }
        check_dry_run(request.dry_run)?;
        let ciphertext_blob = self
            .core
            .rsa_encrypt(
                core_spec(key.key_spec)?,
                &self.public_key(key)?,
                oaep(Some(algorithm))?,
                request.plaintext.expose(),
            )?
            .map_err(KmsError::guest)?;
        Ok(EncryptResponse {
            ciphertext_blob,
            key_id: key.arn.clone(),
            encryption_algorithm: algorithm,
        })
    }

    /// Decrypt an RSA-OAEP ciphertext: the request names the key and the
    /// algorithm, since the ciphertext carries neither.
    fn rsa_decrypt(
        &self,
        caller: &Caller,
        trail: &Trail,
        request: &DecryptRequest,
        named: &str,
        details: Details<'_>,
    ) -> KmsResult<DecryptResponse> {
        check_ciphertext_size(&request.ciphertext_blob)?;
        let key = self.admit(caller, trail, Action::Decrypt, named, details)?;
        check_encryption_use(&key, request.encryption_algorithm, "Decrypt")?;
        check_no_context("EncryptionContext", request.encryption_context.as_ref())?;
        check_dry_run(request.dry_run)?;
        let wrapped = self
            .wrapped_key(&key, key.current_version)?
            .ok_or(KmsError::InvalidCiphertext)?;
        let plaintext = self
            .core
            .rsa_decrypt(
                &wrapped,
                oaep(request.encryption_algorithm)?,
                &request.ciphertext_blob,
            )?
            .map_err(decrypt_error)?;
        Ok(DecryptResponse {
            key_id: key.arn,
            plaintext: SecretBytes::from(plaintext),
            encryption_algorithm: request
                .encryption_algorithm
                .unwrap_or(EncryptionAlgorithmSpec::SymmetricDefault),
        })
    }

    /// The shared body of the two GenerateDataKey operations.
    fn generate_data_key_inner(
        &self,
        caller: &Caller,
        trail: &Trail,
        action: Action,
        request: &GenerateDataKeyRequest,
    ) -> KmsResult<(Option<SecretBytes>, Vec<u8>, String)> {
        let length = data_key_length(request.number_of_bytes, request.key_spec)?;
        let parameters = algorithm_parameters(Some(EncryptionAlgorithmSpec::SymmetricDefault));
        let details = Details::checked(
            "EncryptionContext",
            request.encryption_context.as_ref(),
            &request.grant_tokens,
        )?
        .with(&parameters);
        let key = self.admit(caller, trail, action, &request.key_id, details)?;
        check_encryption_use(&key, None, action.name())?;
        check_dry_run(request.dry_run)?;
        let (wrapped, header) = self.current_material(&key)?;
        let aad = ciphertext::aad(&header, request.encryption_context.as_ref());
        let with_plaintext = action == Action::GenerateDataKey;
        let data_key = self
            .core
            .generate_data_key(&wrapped, &aad, length, with_plaintext)?
            .map_err(KmsError::guest)?;
        Ok((
            data_key.plaintext.map(SecretBytes::from),
            [header, data_key.body].concat(),
            key.arn,
        ))
    }

    /// `GenerateDataKey`: a random data key, returned in plaintext and
    /// encrypted under the KMS key.
    pub fn generate_data_key(
        &self,
        caller: &Caller,
        request: GenerateDataKeyRequest,
    ) -> KmsResult<GenerateDataKeyResponse> {
        self.run(
            caller,
            Op::crypto("GenerateDataKey"),
            request,
            |trail, request| {
                let (plaintext, ciphertext_blob, key_id) =
                    self.generate_data_key_inner(caller, trail, Action::GenerateDataKey, &request)?;
                let plaintext = plaintext.ok_or_else(|| {
                    KmsError::guest(GuestError::InvalidArgument(
                        "the crypto core returned no plaintext data key".into(),
                    ))
                })?;
                Ok(GenerateDataKeyResponse {
                    ciphertext_blob,
                    plaintext,
                    key_id,
                })
            },
        )
    }

    /// `GenerateDataKeyWithoutPlaintext`: the encrypted data key only; the
    /// plaintext never leaves the guest.
    pub fn generate_data_key_without_plaintext(
        &self,
        caller: &Caller,
        request: GenerateDataKeyRequest,
    ) -> KmsResult<GenerateDataKeyWithoutPlaintextResponse> {
        self.run(
            caller,
            Op::crypto("GenerateDataKeyWithoutPlaintext"),
            request,
            |trail, request| {
                let (_, ciphertext_blob, key_id) = self.generate_data_key_inner(
                    caller,
                    trail,
                    Action::GenerateDataKeyWithoutPlaintext,
                    &request,
                )?;
                Ok(GenerateDataKeyWithoutPlaintextResponse {
                    ciphertext_blob,
                    key_id,
                })
            },
        )
    }

    /// `GenerateRandom`: 1..=1024 random bytes from the guest.
    pub fn generate_random(
        &self,
        caller: &Caller,
        request: GenerateRandomRequest,
    ) -> KmsResult<GenerateRandomResponse> {
        self.run(
            caller,
            Op::crypto("GenerateRandom"),
            request,
            |trail, request| {
                let path = || "numberOfBytes".to_owned();
                let length = match request.number_of_bytes {
                    Some(n) if (1..=MAX_RANDOM).contains(&n) => u32::try_from(n).unwrap_or(1),
                    Some(n) if n < 1 => {
                        return Err(KmsError::constraints(&[Violation::below(n, path(), 1)]));
                    }
                    Some(n) => {
                        return Err(KmsError::constraints(&[Violation::above(
                            n,
                            path(),
                            MAX_RANDOM,
                        )]));
                    }
                    None => return Err(KmsError::required("NumberOfBytes")),
                };
                if let Some(store) = request.custom_key_store_id {
                    return Err(KmsError::CustomKeyStoreNotFound(format!(
                        "custom key store `{store}` does not exist"
                    )));
                }
                self.admit_account(caller, trail, Action::GenerateRandom)?;
                let bytes = self.core.random_bytes(length)?.map_err(KmsError::guest)?;
                Ok(GenerateRandomResponse {
                    plaintext: SecretBytes::from(bytes),
                })
            },
        )
    }
}
