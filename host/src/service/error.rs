//! The one error type of the service, named after the KMS exceptions. The
//! wire layer turns [`KmsError::code`] into `__type`.

use std::sync::Arc;

use crate::core::{CoreFault, GuestError};
use crate::model::{EncryptionAlgorithmSpec, KeySpec, KeyUsage, SigningAlgorithmSpec};
use crate::store::StoreError;

/// An error of a KMS operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KmsError {
    /// `NotFoundException`: the key (or alias) does not exist.
    #[error("{0}")]
    NotFound(String),
    /// `DisabledException`: the key is disabled.
    #[error("{0}")]
    Disabled(String),
    /// `KMSInvalidStateException`: the key's state does not allow this.
    #[error("{0}")]
    InvalidState(String),
    /// `InvalidCiphertextException`. Opaque on purpose: it never says which
    /// check failed, and, as AWS's, its message is empty.
    #[error("")]
    InvalidCiphertext,
    /// `IncorrectKeyException`: the ciphertext is not under the named key.
    #[error("{0}")]
    IncorrectKey(String),
    /// `ValidationException`: a parameter is out of range or malformed.
    #[error("{0}")]
    Validation(String),
    /// `InvalidKeyUsageException`: the key cannot do this operation.
    #[error("{0}")]
    InvalidKeyUsage(String),
    /// `AccessDeniedException`: authorization refused the request.
    #[error("{0}")]
    AccessDenied(String),
    /// `InvalidMarkerException`: a pagination marker is not one we issued.
    #[error("{0}")]
    InvalidMarker(String),
    /// `UnsupportedOperationException`: valid, but keyward does not do it.
    #[error("{0}")]
    UnsupportedOperation(String),
    /// `CustomKeyStoreNotFoundException`.
    #[error("{0}")]
    CustomKeyStoreNotFound(String),
    /// `MalformedPolicyDocumentException`: a policy does not parse or
    /// validate, or would lock its key out; Cedar's diagnostics included.
    #[error("{0}")]
    MalformedPolicyDocument(String),
    /// `InvalidGrantTokenException`.
    #[error("{0}")]
    InvalidGrantToken(String),
    /// `InvalidGrantIdException`.
    #[error("{0}")]
    InvalidGrantId(String),
    /// `InvalidArnException`.
    #[error("{0}")]
    InvalidArn(String),
    /// `TagException`: a tag is not valid.
    #[error("{0}")]
    Tag(String),
    /// `LimitExceededException`.
    #[error("{0}")]
    LimitExceeded(String),
    /// `AlreadyExistsException`.
    #[error("{0}")]
    AlreadyExists(String),
    /// `InvalidAliasNameException`.
    #[error("{0}")]
    InvalidAliasName(String),
    /// `InvalidImportTokenException`: the import token is not one this key
    /// store issued for this key.
    #[error("{0}")]
    InvalidImportToken(String),
    /// `ExpiredImportTokenException`: the import token's 24 hours are over.
    #[error("{0}")]
    ExpiredImportToken(String),
    /// `IncorrectKeyMaterialException`: the imported material is not the
    /// material imported before, or not a valid key.
    #[error("{0}")]
    IncorrectKeyMaterial(String),
    /// `KMSInvalidSignatureException`: the signature does not verify. As
    /// AWS's, its message is empty.
    #[error("")]
    InvalidSignature,
    /// `KMSInvalidMacException`: the MAC does not match. As AWS's, its
    /// message is empty.
    #[error("")]
    InvalidMac,
    /// `DryRunOperationException`: the request would have succeeded. The
    /// message is AWS's.
    #[error("The request would have succeeded, but the DryRun option is set.")]
    DryRunOperation,
    /// `KMSInternalException`: a failure of keyward itself.
    #[error("the service failed internally")]
    Internal(#[source] InternalError),
}

/// What went wrong inside keyward. Never shown to the caller beyond
/// `KMSInternalException`; logged for the operator.
#[derive(Debug, thiserror::Error)]
pub enum InternalError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The crypto core trapped or could not start.
    #[error(transparent)]
    Core(#[from] CoreFault),
    /// The crypto core returned an error the request could not cause.
    #[error("the crypto core refused the call: {0}")]
    Guest(GuestError),
    /// A stored policy no longer compiles.
    #[error("a stored policy does not compile: {0}")]
    Policy(#[from] crate::authz::PolicyError),
    /// The operation panicked (its failure is recorded, and the panic goes
    /// on).
    #[error("the operation panicked")]
    Panicked,
    /// The operating system's random source failed (grant ids and tokens
    /// are drawn from it on the host).
    #[error("the random source failed")]
    Entropy(#[source] getrandom::Error),
    /// The audit event could not be written, so the request was refused.
    /// Shared: one failed group commit fails every request in it.
    #[error("the audit trail could not be written")]
    Audit(#[source] Arc<StoreError>),
}

impl KmsError {
    /// The AWS exception name, as the wire protocol's `__type`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "NotFoundException",
            Self::Disabled(_) => "DisabledException",
            Self::InvalidState(_) => "KMSInvalidStateException",
            Self::InvalidCiphertext => "InvalidCiphertextException",
            Self::IncorrectKey(_) => "IncorrectKeyException",
            Self::Validation(_) => "ValidationException",
            Self::InvalidKeyUsage(_) => "InvalidKeyUsageException",
            Self::AccessDenied(_) => "AccessDeniedException",
            Self::InvalidMarker(_) => "InvalidMarkerException",
            Self::UnsupportedOperation(_) => "UnsupportedOperationException",
            Self::CustomKeyStoreNotFound(_) => "CustomKeyStoreNotFoundException",
            Self::MalformedPolicyDocument(_) => "MalformedPolicyDocumentException",
            Self::InvalidGrantToken(_) => "InvalidGrantTokenException",
            Self::InvalidGrantId(_) => "InvalidGrantIdException",
            Self::InvalidArn(_) => "InvalidArnException",
            Self::Tag(_) => "TagException",
            Self::LimitExceeded(_) => "LimitExceededException",
            Self::AlreadyExists(_) => "AlreadyExistsException",
            Self::InvalidAliasName(_) => "InvalidAliasNameException",
            Self::InvalidImportToken(_) => "InvalidImportTokenException",
            Self::ExpiredImportToken(_) => "ExpiredImportTokenException",
            Self::IncorrectKeyMaterial(_) => "IncorrectKeyMaterialException",
            Self::InvalidSignature => "KMSInvalidSignatureException",
            Self::InvalidMac => "KMSInvalidMacException",
            Self::DryRunOperation => "DryRunOperationException",
            Self::Internal(_) => "KMSInternalException",
        }
    }

    /// Request members that keyward does not implement, refused rather than
    /// skipped (`UnsupportedOperationException`, naming each).
    #[cfg(feature = "api")]
    pub(crate) fn unsupported_members(operation: &str, members: &[String]) -> Self {
        let names: Vec<String> = members.iter().map(|m| format!("`{m}`")).collect();
        let (noun, verb) = if names.len() == 1 {
            ("parameter", "is")
        } else {
            ("parameters", "are")
        };
        Self::UnsupportedOperation(format!(
            "the {noun} {} of `{operation}` {verb} not supported by keyward",
            names.join(", ")
        ))
    }

    pub(crate) fn validation(message: impl Into<String>) -> Self {
        Self::Validation(message.into())
    }

    /// The crypto core refused a call that the request could not have
    /// caused: `KMSInternalException`.
    pub(crate) fn guest(error: GuestError) -> Self {
        Self::Internal(InternalError::Guest(error))
    }
}

impl From<crate::request::BadKeyRef> for KmsError {
    fn from(bad: crate::request::BadKeyRef) -> Self {
        use crate::request::{BadKeyRef, MAX_KEY_ID_LEN};
        match bad {
            BadKeyRef::Length => Self::validation(format!(
                "`KeyId` must be between 1 and {MAX_KEY_ID_LEN} characters"
            )),
            BadKeyRef::Arn(text) => Self::NotFound(format!("invalid arn `{text}`")),
            BadKeyRef::KeyId(text) => Self::invalid_key_id(&text),
        }
    }
}

impl From<StoreError> for KmsError {
    fn from(error: StoreError) -> Self {
        Self::Internal(InternalError::Store(error))
    }
}

impl From<CoreFault> for KmsError {
    fn from(error: CoreFault) -> Self {
        Self::Internal(InternalError::Core(error))
    }
}

/// The result of a KMS operation.
pub type KmsResult<T> = Result<T, KmsError>;

/// One violated constraint of a request member, as AWS's
/// `ValidationException` messages list them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    /// The member's value as sent.
    value: String,
    /// Where it is, in AWS's form: `tags.1.member.tagKey`.
    path: String,
    /// What it breaks: `Member must have length less than or equal to 128`.
    constraint: String,
}

impl Violation {
    fn new(value: impl ToString, path: String, constraint: String) -> Self {
        Self {
            value: value.to_string(),
            path,
            constraint,
        }
    }

    /// A string longer than `max` characters.
    pub(crate) fn too_long(value: &str, path: String, max: usize) -> Self {
        Self::new(
            value,
            path,
            format!("Member must have length less than or equal to {max}"),
        )
    }

    /// A string shorter than `min` characters.
    pub(crate) fn too_short(value: &str, path: String, min: usize) -> Self {
        Self::new(
            value,
            path,
            format!("Member must have length greater than or equal to {min}"),
        )
    }

    /// A string that does not match AWS's `pattern` for the member.
    pub(crate) fn pattern(value: &str, path: String, pattern: &str) -> Self {
        Self::new(
            value,
            path,
            format!("Member must satisfy regular expression pattern: {pattern}"),
        )
    }

    /// A number below `min`.
    pub(crate) fn below(value: i64, path: String, min: i64) -> Self {
        Self::new(
            value,
            path,
            format!("Member must have value greater than or equal to {min}"),
        )
    }

    /// A number above `max`.
    pub(crate) fn above(value: i64, path: String, max: i64) -> Self {
        Self::new(
            value,
            path,
            format!("Member must have value less than or equal to {max}"),
        )
    }
}

/// AWS's wording of the messages that callers and test suites compare
/// with AWS's, in one place.
impl KmsError {
    /// `ValidationException` for violated member constraints, all of them
    /// in one message, as AWS reports them.
    pub(crate) fn constraints(violations: &[Violation]) -> Self {
        let count = match violations.len() {
            1 => "1 validation error detected".to_owned(),
            n => format!("{n} validation errors detected"),
        };
        let listed: Vec<String> = violations
            .iter()
            .map(|v| {
                format!(
                    "Value '{}' at '{}' failed to satisfy constraint: {}",
                    v.value, v.path, v.constraint
                )
            })
            .collect();
        Self::Validation(format!("{count}: {}", listed.join("; ")))
    }

    /// `ValidationException`: a required member is missing, worded as
    /// AWS words it for `GenerateRandom`'s `NumberOfBytes`.
    pub(crate) fn required(member: &str) -> Self {
        Self::Validation(format!("{member} is required."))
    }

    /// `NotFoundException`: no key has this ARN (also when the request named
    /// it by id).
    pub(crate) fn key_not_found(arn: &str) -> Self {
        Self::NotFound(format!("Key '{arn}' does not exist"))
    }

    /// `NotFoundException`: a `KeyId` that is neither a key id, an ARN nor
    /// an alias.
    pub(crate) fn invalid_key_id(text: &str) -> Self {
        Self::NotFound(format!("Invalid keyId '{text}'"))
    }

    /// `ValidationException`: an alias name without `alias/`.
    pub(crate) fn alias_prefix() -> Self {
        Self::Validation(
            "Alias must start with the prefix \"alias/\". Please see \
             https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
                .into(),
        )
    }

    /// `IncorrectKeyException`: a ciphertext is not under the key the
    /// request named.
    pub(crate) fn incorrect_key() -> Self {
        Self::IncorrectKey(
            "The key ID in the request does not identify a CMK that can perform this operation."
                .into(),
        )
    }

    /// `InvalidKeyUsageException`: the key's usage does not allow the
    /// operation.
    pub(crate) fn wrong_usage(arn: &str, usage: KeyUsage, operation: &str) -> Self {
        Self::InvalidKeyUsage(format!(
            "{arn} key usage is {usage} which is not valid for {operation}."
        ))
    }

    /// `InvalidKeyUsageException`: an algorithm the key's spec does not
    /// offer.
    pub(crate) fn wrong_algorithm(algorithm: impl std::fmt::Display, spec: KeySpec) -> Self {
        Self::InvalidKeyUsage(format!(
            "Algorithm {algorithm} is incompatible with key spec {spec}."
        ))
    }

    /// `ValidationException`: a `DIGEST` message of the wrong length.
    pub(crate) fn digest_length(algorithm: SigningAlgorithmSpec) -> Self {
        Self::Validation(format!(
            "Digest is invalid length for algorithm {algorithm}."
        ))
    }

    /// `ValidationException`: a plaintext too long for RSA-OAEP.
    pub(crate) fn rsa_plaintext_too_long(
        algorithm: EncryptionAlgorithmSpec,
        spec: KeySpec,
        limit: usize,
    ) -> Self {
        Self::Validation(format!(
            "Algorithm {algorithm} and key spec {spec} cannot encrypt data larger than {limit} bytes."
        ))
    }

    /// `ValidationException`: a key usage the spec does not allow.
    pub(crate) fn usage_not_compatible(usage: KeyUsage, spec: KeySpec) -> Self {
        Self::Validation(format!(
            "KeyUsage {usage} is not compatible with KeySpec {spec}"
        ))
    }

    /// `ValidationException`: `CreateKey` without `KeyUsage` for a spec
    /// that is not symmetric.
    pub(crate) fn usage_required() -> Self {
        Self::Validation(
            "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys."
                .into(),
        )
    }

    /// `ValidationException`: a binary member (`message`, `signature`)
    /// outside its length bounds. AWS leaves sensitive values out of the
    /// message.
    pub(crate) fn binary_length(path: &str, length: usize, min: usize, max: usize) -> Self {
        let constraint = if length < min {
            format!("Member must have length greater than or equal to {min}")
        } else {
            format!("Member must have length less than or equal to {max}")
        };
        Self::Validation(format!(
            "1 validation error detected: Value at '{path}' failed to satisfy constraint: {constraint}"
        ))
    }

    /// `TagException`: more tags than a key may have.
    pub(crate) fn too_many_tags() -> Self {
        Self::Tag("Too many tags".into())
    }

    /// `TagException`: one request names a tag key twice.
    pub(crate) fn duplicate_tag_keys() -> Self {
        Self::Tag("Duplicate tag keys".into())
    }

    /// `TagException`: a tag key with AWS's reserved prefix.
    pub(crate) fn reserved_tag_prefix() -> Self {
        Self::Tag("Tags beginning with aws: are reserved".into())
    }
}
