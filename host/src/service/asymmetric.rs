//! Operations of asymmetric and HMAC keys: Sign, Verify, GetPublicKey,
//! GenerateMac, VerifyMac, GenerateDataKeyPair(WithoutPlaintext) and
//! DeriveSharedSecret. Every use of a private or HMAC key happens in the
//! guest; the host holds public keys and wrapped blobs only.

use std::borrow::Cow;

use super::Op;
use super::ciphertext;
use super::error::InternalError;
use super::material::{
    check_dry_run, check_encryption_use, check_usage, core_spec, material_label, missing_material,
};
use super::{Caller, Details, Kms, KmsError, KmsResult};
use crate::audit::Trail;
use crate::authz::Action;
use crate::authz::request::RequestParameters;
use crate::core::{GuestError, WrappedKey, names};
use crate::model::{
    DataKeyPairSpec, DeriveSharedSecretRequest, DeriveSharedSecretResponse,
    GenerateDataKeyPairRequest, GenerateDataKeyPairResponse,
    GenerateDataKeyPairWithoutPlaintextResponse, GenerateMacRequest, GenerateMacResponse,
    GetPublicKeyRequest, GetPublicKeyResponse, KeyAgreementAlgorithmSpec, KeyUsage,
    MacAlgorithmSpec, MessageType, SecretBytes, SignRequest, SignResponse, SigningAlgorithmSpec,
    VerifyMacRequest, VerifyMacResponse, VerifyRequest, VerifyResponse,
};
use crate::store::{KeyRecord, Material};

/// AWS's limit on a raw `Message` of Sign, Verify and the MAC operations.
const MAX_MESSAGE: usize = 4096;
/// AWS's limit on a `Signature` or a `Mac` (`CiphertextType`).
const MAX_SIGNATURE: usize = 6144;
/// AWS's limit on a peer's `PublicKey` (`PublicKeyType`).
const MAX_PUBLIC_KEY: usize = 8192;

/// A binary member's length within `min..=max`.
fn check_length(path: &str, bytes: &[u8], min: usize, max: usize) -> KmsResult<()> {
    if (min..=max).contains(&bytes.len()) {
        Ok(())
    } else {
        Err(KmsError::binary_length(path, bytes.len(), min, max))
    }
}

/// A message to sign or verify, checked against its type and algorithm
/// before any key is looked up, as AWS checks it.
fn check_message(
    message: &[u8],
    message_type: MessageType,
    algorithm: SigningAlgorithmSpec,
) -> KmsResult<()> {
    check_length("message", message, 1, MAX_MESSAGE)?;
    let fits = !matches!(
        (algorithm, message_type),
        (_, MessageType::ExternalMu)
            | (SigningAlgorithmSpec::Ed25519Sha512, MessageType::Digest)
            | (SigningAlgorithmSpec::Ed25519PhSha512, MessageType::Raw)
    );
    if !fits {
        return Err(KmsError::validation(format!(
            "MessageType {message_type} is not supported with signing algorithm {algorithm}"
        )));
    }
    if message_type == MessageType::Digest && algorithm.digest_len() != Some(message.len()) {
        return Err(KmsError::digest_length(algorithm));
    }
    Ok(())
}

/// A required enum member.
fn required<T>(value: Option<T>, member: &str) -> KmsResult<T> {
    value.ok_or_else(|| KmsError::required(member))
}

/// The signing algorithm, if the key's spec offers it.
fn check_signing_algorithm(key: &KeyRecord, algorithm: SigningAlgorithmSpec) -> KmsResult<()> {
    if key.key_spec.signing_algorithms().contains(&algorithm) {
        Ok(())
    } else {
        Err(KmsError::wrong_algorithm(algorithm, key.key_spec))
    }
}

/// A guest failure on a path where the request was checked first: keyward's
/// fault.
fn internal(error: GuestError) -> KmsError {
    KmsError::guest(error)
}

impl Kms {
    /// The current material of `key`, with its public key.
    fn current(&self, key: &KeyRecord) -> KmsResult<(WrappedKey, Material)> {
        let material = self
            .store
            .material(&key.region, &key.key_id, key.current_version)?
            .ok_or_else(|| missing_material(key))?;
        let wrapped = WrappedKey {
            label: material_label(&key.arn, key.current_version),
            blob: material.wrapped.clone(),
        };
        Ok((wrapped, material))
    }

    /// The public key of `key`'s current material.
    pub(super) fn public_key(&self, key: &KeyRecord) -> KmsResult<Vec<u8>> {
        let (_, material) = self.current(key)?;
        material.public_key.ok_or_else(|| {
            KmsError::Internal(InternalError::Store(crate::store::StoreError::Corrupt(
                format!("asymmetric key `{}` has no public key", key.arn),
            )))
        })
    }

    /// `Sign`: a signature by the key's private half, made in the guest.
    pub fn sign(&self, caller: &Caller, request: SignRequest) -> KmsResult<SignResponse> {
        self.run(caller, Op::crypto("Sign"), request, |trail, request| {
            let algorithm = required(request.signing_algorithm, "SigningAlgorithm")?;
            let message_type = request.message_type.unwrap_or(MessageType::Raw);
            check_message(request.message.expose(), message_type, algorithm)?;
            let parameters = signing_parameters(algorithm, message_type);
            let details = Details::tokens(&request.grant_tokens)?.with(&parameters);
            let key = self.admit(caller, trail, Action::Sign, &request.key_id, details)?;
            check_usage(&key, KeyUsage::SignVerify, "Sign")?;
            check_signing_algorithm(&key, algorithm)?;
            check_dry_run(request.dry_run)?;
            let (core_algorithm, core_type) = core_signing(algorithm, message_type)?;
            let (wrapped, _) = self.current(&key)?;
            let signature = self
                .core
                .sign(
                    &wrapped,
                    core_algorithm,
                    core_type,
                    request.message.expose(),
                )?
                .map_err(internal)?;
            Ok(SignResponse {
                key_id: key.arn,
                signature,
                signing_algorithm: algorithm,
            })
        })
    }

    /// `Verify`: checks a signature with the key's public key, in the guest.
    /// One that does not verify is `KMSInvalidSignatureException`.
    pub fn verify(&self, caller: &Caller, request: VerifyRequest) -> KmsResult<VerifyResponse> {
        self.run(caller, Op::crypto("Verify"), request, |trail, request| {
            let algorithm = required(request.signing_algorithm, "SigningAlgorithm")?;
            let message_type = request.message_type.unwrap_or(MessageType::Raw);
            check_message(request.message.expose(), message_type, algorithm)?;
            check_length("signature", &request.signature, 1, MAX_SIGNATURE)?;
            let parameters = signing_parameters(algorithm, message_type);
            let details = Details::tokens(&request.grant_tokens)?.with(&parameters);
            let key = self.admit(caller, trail, Action::Verify, &request.key_id, details)?;
            check_usage(&key, KeyUsage::SignVerify, "Verify")?;
            check_signing_algorithm(&key, algorithm)?;
            check_dry_run(request.dry_run)?;
            let (core_algorithm, core_type) = core_signing(algorithm, message_type)?;
            let spec = core_spec(key.key_spec)?;
            let public_key = self.public_key(&key)?;
            let valid = self
                .core
                .verify(
                    spec,
                    &public_key,
                    core_algorithm,
                    core_type,
                    request.message.expose(),
                    &request.signature,
                )?
                .map_err(internal)?;
            if !valid {
                return Err(KmsError::InvalidSignature);
            }
            Ok(VerifyResponse {
                key_id: key.arn,
                signature_valid: true,
                signing_algorithm: algorithm,
            })
        })
    }

    /// `GetPublicKey`: the DER `SubjectPublicKeyInfo` of an asymmetric key,
    /// with its spec, usage and algorithms.
    pub fn get_public_key(
        &self,
        caller: &Caller,
        request: GetPublicKeyRequest,
    ) -> KmsResult<GetPublicKeyResponse> {
        self.run(
            caller,
            Op::read("GetPublicKey"),
            request,
            |trail, request| {
                let details = Details::tokens(&request.grant_tokens)?;
                let key = self.admit(
                    caller,
                    trail,
                    Action::GetPublicKey,
                    &request.key_id,
                    details,
                )?;
                if !key.key_spec.is_asymmetric() {
                    return Err(KmsError::UnsupportedOperation(format!(
                        "{} key spec {} has no public key",
                        key.arn, key.key_spec
                    )));
                }
                let public_key = self.public_key(&key)?;
                let algorithms = key.key_spec.algorithms(key.key_usage);
                Ok(GetPublicKeyResponse {
                    key_id: key.arn,
                    public_key,
                    customer_master_key_spec: key.key_spec,
                    key_spec: key.key_spec,
                    key_usage: key.key_usage,
                    encryption_algorithms: algorithms.encryption,
                    signing_algorithms: algorithms.signing,
                    key_agreement_algorithms: algorithms.key_agreement,
                })
            },
        )
    }

    /// The checks both MAC operations make; returns the key.
    fn mac_key(
        &self,
        caller: &Caller,
        trail: &Trail,
        action: Action,
        request: MacRequest<'_>,
    ) -> KmsResult<(KeyRecord, MacAlgorithmSpec)> {
        let MacRequest {
            key_id,
            message,
            algorithm,
            grant_tokens,
        } = request;
        let algorithm = required(algorithm, "MacAlgorithm")?;
        check_length("message", message, 1, MAX_MESSAGE)?;
        let parameters = RequestParameters {
            mac_algorithm: Some(Cow::Borrowed(algorithm.as_str())),
            ..RequestParameters::NONE
        };
        let details = Details::tokens(grant_tokens)?.with(&parameters);
        let key = self.admit(caller, trail, action, key_id, details)?;
        check_usage(&key, KeyUsage::GenerateVerifyMac, action.name())?;
        if !key.key_spec.mac_algorithms().contains(&algorithm) {
            return Err(KmsError::wrong_algorithm(algorithm, key.key_spec));
        }
        Ok((key, algorithm))
    }

    /// `GenerateMac`: an HMAC under the key, computed in the guest.
    pub fn generate_mac(
        &self,
        caller: &Caller,
        request: GenerateMacRequest,
    ) -> KmsResult<GenerateMacResponse> {
        self.run(
            caller,
            Op::crypto("GenerateMac"),
            request,
            |trail, request| {
                let (key, algorithm) = self.mac_key(
                    caller,
                    trail,
                    Action::GenerateMac,
                    MacRequest {
                        key_id: &request.key_id,
                        message: request.message.expose(),
                        algorithm: request.mac_algorithm,
                        grant_tokens: &request.grant_tokens,
                    },
                )?;
                check_dry_run(request.dry_run)?;
                let (wrapped, _) = self.current(&key)?;
                let mac = self
                    .core
                    .generate_mac(
                        &wrapped,
                        names::mac_algorithm(algorithm),
                        request.message.expose(),
                    )?
                    .map_err(internal)?;
                Ok(GenerateMacResponse {
                    mac,
                    mac_algorithm: algorithm,
                    key_id: key.arn,
                })
            },
        )
    }

    /// `VerifyMac`: compares a MAC in the guest, in constant time. One that
    /// does not match is `KMSInvalidMacException`.
    pub fn verify_mac(
        &self,
        caller: &Caller,
        request: VerifyMacRequest,
    ) -> KmsResult<VerifyMacResponse> {
        self.run(
            caller,
            Op::crypto("VerifyMac"),
            request,
            |trail, request| {
                check_length("mac", &request.mac, 1, MAX_SIGNATURE)?;
                let (key, algorithm) = self.mac_key(
                    caller,
                    trail,
                    Action::VerifyMac,
                    MacRequest {
                        key_id: &request.key_id,
                        message: request.message.expose(),
                        algorithm: request.mac_algorithm,
                        grant_tokens: &request.grant_tokens,
                    },
                )?;
                check_dry_run(request.dry_run)?;
                let (wrapped, _) = self.current(&key)?;
                let valid = self
                    .core
                    .verify_mac(
                        &wrapped,
                        names::mac_algorithm(algorithm),
                        request.message.expose(),
                        &request.mac,
                    )?
                    .map_err(internal)?;
                if !valid {
                    return Err(KmsError::InvalidMac);
                }
                Ok(VerifyMacResponse {
                    key_id: key.arn,
                    mac_valid: true,
                    mac_algorithm: algorithm,
                })
            },
        )
    }

    /// The shared body of the two GenerateDataKeyPair operations.
    fn generate_data_key_pair_inner(
        &self,
        caller: &Caller,
        trail: &Trail,
        action: Action,
        request: &GenerateDataKeyPairRequest,
    ) -> KmsResult<GeneratedPair> {
        let pair_spec = required(request.key_pair_spec, "KeyPairSpec")?;
        let core_pair = names::key_spec(pair_spec.key_spec()).ok_or_else(|| {
            KmsError::UnsupportedOperation(format!(
                "keyward does not support the key pair spec {pair_spec} yet"
            ))
        })?;
        let parameters = RequestParameters {
            data_key_pair_spec: Some(Cow::Borrowed(pair_spec.as_str())),
            encryption_algorithm: Some(Cow::Borrowed("SYMMETRIC_DEFAULT")),
            ..RequestParameters::NONE
        };
        let details = Details::checked(
            "EncryptionContext",
            request.encryption_context.as_ref(),
            &request.grant_tokens,
        )?
        .with(&parameters);
        let key = self.admit(caller, trail, action, &request.key_id, details)?;
        // Only a symmetric encryption key seals the private key, as
        // GenerateDataKey: the same check.
        check_encryption_use(&key, None, action.name())?;
        check_dry_run(request.dry_run)?;
        let (wrapped, header) = self.current_material(&key)?;
        let aad = ciphertext::aad(&header, request.encryption_context.as_ref());
        let with_plaintext = action == Action::GenerateDataKeyPair;
        let pair = self
            .core
            .generate_data_key_pair(&wrapped, &aad, core_pair, with_plaintext)?
            .map_err(internal)?;
        Ok(GeneratedPair {
            public_key: pair.public_key,
            private_key: pair.private_key.map(SecretBytes::from),
            ciphertext: [header, pair.body].concat(),
            key_id: key.arn,
            spec: pair_spec,
        })
    }

    /// `GenerateDataKeyPair`: a key pair made in the guest; the private key
    /// returned in the clear and encrypted under the symmetric key, so
    /// that `Decrypt` opens `PrivateKeyCiphertextBlob`.
    pub fn generate_data_key_pair(
        &self,
        caller: &Caller,
        request: GenerateDataKeyPairRequest,
    ) -> KmsResult<GenerateDataKeyPairResponse> {
        self.run(
            caller,
            Op::crypto("GenerateDataKeyPair"),
            request,
            |trail, request| {
                let pair = self.generate_data_key_pair_inner(
                    caller,
                    trail,
                    Action::GenerateDataKeyPair,
                    &request,
                )?;
                let private_key_plaintext = pair.private_key.ok_or_else(|| {
                    KmsError::guest(GuestError::InvalidArgument(
                        "the crypto core returned no private key".into(),
                    ))
                })?;
                Ok(GenerateDataKeyPairResponse {
                    private_key_ciphertext_blob: pair.ciphertext,
                    private_key_plaintext,
                    public_key: pair.public_key,
                    key_id: pair.key_id,
                    key_pair_spec: pair.spec,
                })
            },
        )
    }

    /// `GenerateDataKeyPairWithoutPlaintext`: as `GenerateDataKeyPair`, but
    /// the private key never leaves the guest unencrypted.
    pub fn generate_data_key_pair_without_plaintext(
        &self,
        caller: &Caller,
        request: GenerateDataKeyPairRequest,
    ) -> KmsResult<GenerateDataKeyPairWithoutPlaintextResponse> {
        self.run(
            caller,
            Op::crypto("GenerateDataKeyPairWithoutPlaintext"),
            request,
            |trail, request| {
                let pair = self.generate_data_key_pair_inner(
                    caller,
                    trail,
                    Action::GenerateDataKeyPairWithoutPlaintext,
                    &request,
                )?;
                Ok(GenerateDataKeyPairWithoutPlaintextResponse {
                    private_key_ciphertext_blob: pair.ciphertext,
                    public_key: pair.public_key,
                    key_id: pair.key_id,
                    key_pair_spec: pair.spec,
                })
            },
        )
    }

    /// `DeriveSharedSecret`: ECDH between a `KEY_AGREEMENT` key and the
    /// peer's public key, in the guest.
    pub fn derive_shared_secret(
        &self,
        caller: &Caller,
        request: DeriveSharedSecretRequest,
    ) -> KmsResult<DeriveSharedSecretResponse> {
        self.run(
            caller,
            Op::crypto("DeriveSharedSecret"),
            request,
            |trail, request| {
                let algorithm = required(request.key_agreement_algorithm, "KeyAgreementAlgorithm")?;
                check_length("publicKey", &request.public_key, 1, MAX_PUBLIC_KEY)?;
                let parameters = RequestParameters {
                    key_agreement_algorithm: Some(Cow::Borrowed(algorithm.as_str())),
                    ..RequestParameters::NONE
                };
                let details = Details::tokens(&request.grant_tokens)?.with(&parameters);
                let key = self.admit(
                    caller,
                    trail,
                    Action::DeriveSharedSecret,
                    &request.key_id,
                    details,
                )?;
                check_usage(&key, KeyUsage::KeyAgreement, "DeriveSharedSecret")?;
                check_dry_run(request.dry_run)?;
                let (wrapped, _) = self.current(&key)?;
                let secret = self
                    .core
                    .derive_shared_secret(&wrapped, &request.public_key)?
                    .map_err(|error| match error {
                        // As AWS answers a peer key on another curve or off
                        // the curve: a ValidationException with no message.
                        GuestError::InvalidPublicKey => KmsError::Validation(String::new()),
                        other => internal(other),
                    })?;
                Ok(DeriveSharedSecretResponse {
                    key_id: key.arn,
                    shared_secret: SecretBytes::from(secret),
                    key_agreement_algorithm: KeyAgreementAlgorithmSpec::Ecdh,
                    key_origin: key.origin,
                })
            },
        )
    }
}

/// What both MAC operations take.
struct MacRequest<'r> {
    key_id: &'r str,
    message: &'r [u8],
    algorithm: Option<MacAlgorithmSpec>,
    grant_tokens: &'r [String],
}

/// A data key pair as both GenerateDataKeyPair operations answer it.
struct GeneratedPair {
    public_key: Vec<u8>,
    /// Present only for `GenerateDataKeyPair`.
    private_key: Option<SecretBytes>,
    /// The private key encrypted under the KMS key, header included.
    ciphertext: Vec<u8>,
    key_id: String,
    spec: DataKeyPairSpec,
}

/// `kms:SigningAlgorithm` and `kms:MessageType`.
fn signing_parameters(
    algorithm: SigningAlgorithmSpec,
    message_type: MessageType,
) -> RequestParameters {
    RequestParameters {
        signing_algorithm: Some(Cow::Borrowed(algorithm.as_str())),
        message_type: Some(Cow::Borrowed(message_type.as_str())),
        ..RequestParameters::NONE
    }
}

/// The core's names of a signing algorithm and message type that the key
/// has been checked to offer.
fn core_signing(
    algorithm: SigningAlgorithmSpec,
    message_type: MessageType,
) -> KmsResult<(
    crate::core::CoreSigningAlgorithm,
    crate::core::CoreMessageType,
)> {
    let unsupported = || {
        KmsError::UnsupportedOperation(format!(
            "keyward does not support the signing algorithm {algorithm} with message type {message_type}"
        ))
    };
    Ok((
        names::signing_algorithm(algorithm).ok_or_else(unsupported)?,
        names::message_type(message_type).ok_or_else(unsupported)?,
    ))
}
