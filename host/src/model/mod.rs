//! The KMS API shapes: enums, requests and responses, with AWS's field
//! names. The library takes and returns these; the wire protocol and the CLI
//! serialise them as AWS's JSON (binary fields in base64, times in epoch
//! seconds).

mod specs;

pub use specs::Algorithms;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Declares a KMS string enum: serde, `as_str`, `FromStr` and `Display`, all
/// with AWS's spelling.
macro_rules! kms_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every value, in AWS's order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

            /// AWS's spelling.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text,)+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownValue;
            fn from_str(text: &str) -> Result<Self, UnknownValue> {
                match text {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(UnknownValue),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// A string that names no value of a KMS enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownValue;

kms_enum! {
    /// The state of a KMS key (AWS's `KeyState`).
    KeyState {
        /// Being created (multi-region replicas).
        Creating = "Creating",
        /// Usable.
        Enabled = "Enabled",
        /// Turned off by its owner.
        Disabled = "Disabled",
        /// Scheduled for deletion.
        PendingDeletion = "PendingDeletion",
        /// Waiting for imported key material.
        PendingImport = "PendingImport",
        /// A multi-region primary waiting for its replicas to go.
        PendingReplicaDeletion = "PendingReplicaDeletion",
        /// Its custom key store is disconnected.
        Unavailable = "Unavailable",
        /// Being updated (multi-region primary moves).
        Updating = "Updating",
    }
}

kms_enum! {
    /// The type of key material (AWS's `KeySpec`).
    KeySpec {
        /// AES-256-GCM symmetric encryption.
        SymmetricDefault = "SYMMETRIC_DEFAULT",
        /// RSA 2048.
        Rsa2048 = "RSA_2048",
        /// RSA 3072.
        Rsa3072 = "RSA_3072",
        /// RSA 4096.
        Rsa4096 = "RSA_4096",
        /// NIST P-256.
        EccNistP256 = "ECC_NIST_P256",
        /// NIST P-384.
        EccNistP384 = "ECC_NIST_P384",
        /// NIST P-521.
        EccNistP521 = "ECC_NIST_P521",
        /// secp256k1.
        EccSecgP256k1 = "ECC_SECG_P256K1",
        /// HMAC with SHA-224.
        Hmac224 = "HMAC_224",
        /// HMAC with SHA-256.
        Hmac256 = "HMAC_256",
        /// HMAC with SHA-384.
        Hmac384 = "HMAC_384",
        /// HMAC with SHA-512.
        Hmac512 = "HMAC_512",
        /// SM2 (China Regions only).
        Sm2 = "SM2",
        /// ML-DSA-44 (FIPS 204).
        MlDsa44 = "ML_DSA_44",
        /// ML-DSA-65 (FIPS 204).
        MlDsa65 = "ML_DSA_65",
        /// ML-DSA-87 (FIPS 204).
        MlDsa87 = "ML_DSA_87",
        /// Ed25519.
        EccNistEdwards25519 = "ECC_NIST_EDWARDS25519",
        /// ML-KEM-512 (FIPS 203).
        MlKem512 = "ML_KEM_512",
        /// ML-KEM-768 (FIPS 203).
        MlKem768 = "ML_KEM_768",
        /// ML-KEM-1024 (FIPS 203).
        MlKem1024 = "ML_KEM_1024",
    }
}

kms_enum! {
    /// The type of a data key pair (AWS's `DataKeyPairSpec`).
    DataKeyPairSpec {
        /// RSA 2048.
        Rsa2048 = "RSA_2048",
        /// RSA 3072.
        Rsa3072 = "RSA_3072",
        /// RSA 4096.
        Rsa4096 = "RSA_4096",
        /// NIST P-256.
        EccNistP256 = "ECC_NIST_P256",
        /// NIST P-384.
        EccNistP384 = "ECC_NIST_P384",
        /// NIST P-521.
        EccNistP521 = "ECC_NIST_P521",
        /// secp256k1.
        EccSecgP256k1 = "ECC_SECG_P256K1",
        /// SM2 (China Regions only).
        Sm2 = "SM2",
        /// Ed25519.
        EccNistEdwards25519 = "ECC_NIST_EDWARDS25519",
        /// ML-KEM-512.
        MlKem512 = "ML_KEM_512",
        /// ML-KEM-768.
        MlKem768 = "ML_KEM_768",
        /// ML-KEM-1024.
        MlKem1024 = "ML_KEM_1024",
    }
}

kms_enum! {
    /// Signing algorithms (AWS's `SigningAlgorithmSpec`).
    SigningAlgorithmSpec {
        /// RSASSA-PSS with SHA-256.
        RsassaPssSha256 = "RSASSA_PSS_SHA_256",
        /// RSASSA-PSS with SHA-384.
        RsassaPssSha384 = "RSASSA_PSS_SHA_384",
        /// RSASSA-PSS with SHA-512.
        RsassaPssSha512 = "RSASSA_PSS_SHA_512",
        /// RSASSA-PKCS1-v1_5 with SHA-256.
        RsassaPkcs1V15Sha256 = "RSASSA_PKCS1_V1_5_SHA_256",
        /// RSASSA-PKCS1-v1_5 with SHA-384.
        RsassaPkcs1V15Sha384 = "RSASSA_PKCS1_V1_5_SHA_384",
        /// RSASSA-PKCS1-v1_5 with SHA-512.
        RsassaPkcs1V15Sha512 = "RSASSA_PKCS1_V1_5_SHA_512",
        /// ECDSA with SHA-256.
        EcdsaSha256 = "ECDSA_SHA_256",
        /// ECDSA with SHA-384.
        EcdsaSha384 = "ECDSA_SHA_384",
        /// ECDSA with SHA-512.
        EcdsaSha512 = "ECDSA_SHA_512",
        /// SM2 signatures (China Regions only).
        Sm2dsa = "SM2DSA",
        /// ML-DSA with SHAKE-256.
        MlDsaShake256 = "ML_DSA_SHAKE_256",
        /// Pure Ed25519.
        Ed25519Sha512 = "ED25519_SHA_512",
        /// Ed25519ph.
        Ed25519PhSha512 = "ED25519_PH_SHA_512",
    }
}

kms_enum! {
    /// MAC algorithms (AWS's `MacAlgorithmSpec`).
    MacAlgorithmSpec {
        /// HMAC with SHA-224.
        HmacSha224 = "HMAC_SHA_224",
        /// HMAC with SHA-256.
        HmacSha256 = "HMAC_SHA_256",
        /// HMAC with SHA-384.
        HmacSha384 = "HMAC_SHA_384",
        /// HMAC with SHA-512.
        HmacSha512 = "HMAC_SHA_512",
    }
}

kms_enum! {
    /// Key agreement algorithms (AWS's `KeyAgreementAlgorithmSpec`).
    KeyAgreementAlgorithmSpec {
        /// Elliptic-curve Diffie-Hellman.
        Ecdh = "ECDH",
    }
}

kms_enum! {
    /// What `Sign` and `Verify` take as `Message` (AWS's `MessageType`).
    MessageType {
        /// The message itself.
        Raw = "RAW",
        /// Its digest.
        Digest = "DIGEST",
        /// ML-DSA's external mu.
        ExternalMu = "EXTERNAL_MU",
    }
}

kms_enum! {
    /// What a key is for (AWS's `KeyUsage`).
    KeyUsage {
        /// Encrypt and decrypt.
        EncryptDecrypt = "ENCRYPT_DECRYPT",
        /// Sign and verify.
        SignVerify = "SIGN_VERIFY",
        /// Generate and verify MACs.
        GenerateVerifyMac = "GENERATE_VERIFY_MAC",
        /// Derive shared secrets.
        KeyAgreement = "KEY_AGREEMENT",
        /// Encapsulate and decapsulate (ML-KEM).
        EncapsulateDecapsulate = "ENCAPSULATE_DECAPSULATE",
    }
}

kms_enum! {
    /// Where key material came from (AWS's `OriginType`).
    OriginType {
        /// Generated by the service.
        AwsKms = "AWS_KMS",
        /// Imported by the customer.
        External = "EXTERNAL",
        /// Generated in a CloudHSM key store.
        AwsCloudhsm = "AWS_CLOUDHSM",
        /// Held in an external key store.
        ExternalKeyStore = "EXTERNAL_KEY_STORE",
    }
}

kms_enum! {
    /// How key material to import is wrapped (AWS's `AlgorithmSpec`).
    AlgorithmSpec {
        /// Deprecated by AWS; refused.
        RsaesPkcs1V15 = "RSAES_PKCS1_V1_5",
        /// RSA-OAEP with SHA-1.
        RsaesOaepSha1 = "RSAES_OAEP_SHA_1",
        /// RSA-OAEP with SHA-256.
        RsaesOaepSha256 = "RSAES_OAEP_SHA_256",
        /// RSA-OAEP (SHA-1) over an AES key, then AES key wrap with padding.
        RsaAesKeyWrapSha1 = "RSA_AES_KEY_WRAP_SHA_1",
        /// RSA-OAEP (SHA-256) over an AES key, then AES key wrap with padding.
        RsaAesKeyWrapSha256 = "RSA_AES_KEY_WRAP_SHA_256",
        /// China Regions only; refused.
        Sm2pke = "SM2PKE",
    }
}

kms_enum! {
    /// The public wrapping key's type (AWS's `WrappingKeySpec`).
    WrappingKeySpec {
        /// RSA, 2048 bits.
        Rsa2048 = "RSA_2048",
        /// RSA, 3072 bits.
        Rsa3072 = "RSA_3072",
        /// RSA, 4096 bits.
        Rsa4096 = "RSA_4096",
        /// China Regions only; refused.
        Sm2 = "SM2",
    }
}

kms_enum! {
    /// Whether imported key material expires (AWS's `ExpirationModelType`).
    ExpirationModelType {
        /// It expires at `ValidTo`.
        KeyMaterialExpires = "KEY_MATERIAL_EXPIRES",
        /// It does not expire.
        KeyMaterialDoesNotExpire = "KEY_MATERIAL_DOES_NOT_EXPIRE",
    }
}

kms_enum! {
    /// Who manages a key (AWS's `KeyManager`).
    KeyManager {
        /// An AWS-managed key.
        Aws = "AWS",
        /// A customer-managed key.
        Customer = "CUSTOMER",
    }
}

kms_enum! {
    /// Encryption algorithms (AWS's `EncryptionAlgorithmSpec`).
    EncryptionAlgorithmSpec {
        /// AES-256-GCM, the only algorithm of symmetric keys.
        SymmetricDefault = "SYMMETRIC_DEFAULT",
        /// RSA OAEP with SHA-1.
        RsaesOaepSha1 = "RSAES_OAEP_SHA_1",
        /// RSA OAEP with SHA-256.
        RsaesOaepSha256 = "RSAES_OAEP_SHA_256",
        /// SM2 public-key encryption.
        Sm2pke = "SM2PKE",
    }
}

kms_enum! {
    /// Data-key lengths (AWS's `DataKeySpec`).
    DataKeySpec {
        /// 256 bits.
        Aes256 = "AES_256",
        /// 128 bits.
        Aes128 = "AES_128",
    }
}

/// Secret bytes: a plaintext or a plaintext data key. Zeroized on drop, its
/// `Debug` shows only the length, and `==` compares in constant time (for
/// a given length: the length is not secret).
#[derive(Clone, Default)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl PartialEq for SecretBytes {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq as _;
        self.0.len() == other.0.len() && bool::from(self.0.as_slice().ct_eq(other.0.as_slice()))
    }
}

impl Eq for SecretBytes {}

impl SecretBytes {
    /// Wraps bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(Zeroizing::new(bytes.into()))
    }

    /// The bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Their length.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(bytes: Vec<u8>) -> Self {
        Self::new(bytes)
    }
}

impl From<Zeroizing<Vec<u8>>> for SecretBytes {
    fn from(bytes: Zeroizing<Vec<u8>>) -> Self {
        Self(bytes)
    }
}

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretBytes({} bytes)", self.0.len())
    }
}

impl Serialize for SecretBytes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        base64_bytes::serialize(&self.0, serializer)
    }
}

impl<'de> Deserialize<'de> for SecretBytes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        base64_bytes::deserialize(deserializer).map(Self::new)
    }
}

/// Runs `serialise` with every binary field (plaintexts, data keys,
/// ciphertexts, key material, import tokens) left out, whatever its name,
/// because binary fields are all serialised by [`base64_bytes`] and skip
/// themselves while [`base64_bytes::redacting`]. The audit trail's members
/// ([`crate::audit::members`]) are written this way.
pub(crate) fn redacting<R>(serialise: impl FnOnce() -> R) -> R {
    /// Restores the flag however serialisation ends: a panic cannot leave
    /// this thread leaving out the binary fields of the wire responses it
    /// serialises next, and a nested call cannot end an outer one's
    /// redaction.
    struct Redacting(bool);
    impl Drop for Redacting {
        fn drop(&mut self) {
            base64_bytes::REDACTING.set(self.0);
        }
    }
    let _restore = Redacting(base64_bytes::REDACTING.replace(true));
    serialise()
}

/// Serde for AWS's binary fields: standard base64 in JSON.
pub mod base64_bytes {
    use std::cell::Cell;

    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    thread_local! {
        /// Set while [`super::redacting`] runs on this thread.
        pub(super) static REDACTING: Cell<bool> = const { Cell::new(false) };
    }

    /// Whether binary fields are being left out (`redacting`): for
    /// `skip_serializing_if` on every binary field, so that the audit trail
    /// gets no member at all for it.
    pub fn redacting<T: ?Sized>(_: &T) -> bool {
        REDACTING.get()
    }

    /// Serialises bytes as base64 (as `null` while redacting for the audit
    /// trail, should a binary field lack `skip_serializing_if`).
    pub fn serialize<S: Serializer>(
        bytes: impl AsRef<[u8]>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        if REDACTING.get() {
            return serializer.serialize_none();
        }
        serializer.serialize_str(&STANDARD.encode(bytes.as_ref()))
    }

    /// Deserialises base64 into bytes.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD
            .decode(text.as_bytes())
            .map_err(|_| serde::de::Error::custom("a binary field is not valid base64"))
    }
}

/// An encryption context: string pairs bound to a ciphertext as AAD.
pub type EncryptionContext = BTreeMap<String, String>;

/// A tag on a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// The tag key.
    pub tag_key: String,
    /// The tag value.
    pub tag_value: String,
}

/// `CreateKey` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateKeyRequest {
    /// A description, up to 8192 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The key usage; `ENCRYPT_DECRYPT` by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_usage: Option<KeyUsage>,
    /// The key spec; `SYMMETRIC_DEFAULT` by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_spec: Option<KeySpec>,
    /// The deprecated name of `KeySpec`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_master_key_spec: Option<KeySpec>,
    /// Where the material comes from; `AWS_KMS` by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<OriginType>,
    /// The key policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Skip the policy lockout safety check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bypass_policy_lockout_safety_check: Option<bool>,
    /// Tags for the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
    /// Create a multi-region primary key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multi_region: Option<bool>,
    /// A custom key store to create the key in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_key_store_id: Option<String>,
    /// The key material id of an external key store.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xks_key_id: Option<String>,
}

/// The metadata of a key, as `DescribeKey` and `CreateKey` return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyMetadata {
    /// The owning account.
    #[serde(rename = "AWSAccountId")]
    pub aws_account_id: String,
    /// The key id.
    pub key_id: String,
    /// The key ARN.
    pub arn: String,
    /// Creation time, epoch seconds.
    pub creation_date: f64,
    /// Whether the key is enabled.
    pub enabled: bool,
    /// The description.
    pub description: String,
    /// The key usage.
    pub key_usage: KeyUsage,
    /// The key state.
    pub key_state: KeyState,
    /// Where the material came from.
    pub origin: OriginType,
    /// Customer- or AWS-managed.
    pub key_manager: KeyManager,
    /// The deprecated name of `KeySpec`.
    pub customer_master_key_spec: KeySpec,
    /// The key spec.
    pub key_spec: KeySpec,
    /// The encryption algorithms of an `ENCRYPT_DECRYPT` key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_algorithms: Option<Vec<EncryptionAlgorithmSpec>>,
    /// The signing algorithms of a `SIGN_VERIFY` key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_algorithms: Option<Vec<SigningAlgorithmSpec>>,
    /// The MAC algorithm of a `GENERATE_VERIFY_MAC` key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_algorithms: Option<Vec<MacAlgorithmSpec>>,
    /// The key agreement algorithms of a `KEY_AGREEMENT` key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_agreement_algorithms: Option<Vec<KeyAgreementAlgorithmSpec>>,
    /// Whether this is a multi-region key.
    pub multi_region: bool,
    /// When a key pending deletion will be deleted, epoch seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_date: Option<f64>,
    /// The waiting period of a key pending deletion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_deletion_window_in_days: Option<i64>,
    /// Whether imported key material expires (keys with imported material).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_model: Option<ExpirationModelType>,
    /// When imported key material expires, epoch seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<f64>,
}

/// `CreateKey` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateKeyResponse {
    /// The new key.
    pub key_metadata: KeyMetadata,
}

/// `DescribeKey` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeKeyRequest {
    /// Key id, key ARN, alias name or alias ARN.
    pub key_id: String,
    /// Grant tokens (at most 10).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub grant_tokens: Vec<String>,
}

/// `DescribeKey` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeKeyResponse {
    /// The key.
    pub key_metadata: KeyMetadata,
}

/// `ListKeys` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListKeysRequest {
    /// Page size, 1..=1000 (default 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// The `NextMarker` of the previous page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

/// One entry of `ListKeys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyListEntry {
    /// The key id.
    pub key_id: String,
    /// The key ARN.
    pub key_arn: String,
}

/// `ListKeys` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeysResponse {
    /// This page of keys.
    pub keys: Vec<KeyListEntry>,
    /// Where the next page starts, when `Truncated`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    /// Whether there are more keys.
    pub truncated: bool,
}

/// `Encrypt` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EncryptRequest {
    /// Key id, key ARN, alias name or alias ARN.
    pub key_id: String,
    /// 1..=4096 bytes.
    #[serde(skip_serializing_if = "base64_bytes::redacting")]
    pub plaintext: SecretBytes,
    /// Bound to the ciphertext as AAD.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_context: Option<EncryptionContext>,
    /// Grant tokens (at most 10).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub grant_tokens: Vec<String>,
    /// `SYMMETRIC_DEFAULT` for symmetric keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_algorithm: Option<EncryptionAlgorithmSpec>,
    /// Check authorization only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

/// `Encrypt` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptResponse {
    /// The ciphertext.
    #[serde(with = "base64_bytes", skip_serializing_if = "base64_bytes::redacting")]
    pub ciphertext_blob: Vec<u8>,
    /// The ARN of the key used.
    pub key_id: String,
    /// The algorithm used.
    pub encryption_algorithm: EncryptionAlgorithmSpec,
}

/// `Decrypt` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DecryptRequest {
    /// The ciphertext.
    #[serde(with = "base64_bytes", skip_serializing_if = "base64_bytes::redacting")]
    pub ciphertext_blob: Vec<u8>,
    /// The context it was encrypted with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_context: Option<EncryptionContext>,
    /// Grant tokens (at most 10).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub grant_tokens: Vec<String>,
    /// If given, the ciphertext must be under this key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// `SYMMETRIC_DEFAULT` for symmetric keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_algorithm: Option<EncryptionAlgorithmSpec>,
    /// Check authorization only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

/// `Decrypt` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DecryptResponse {
    /// The ARN of the key used.
    pub key_id: String,
    /// The plaintext.
    #[serde(skip_serializing_if = "base64_bytes::redacting")]
    pub plaintext: SecretBytes,
    /// The algorithm used.
    pub encryption_algorithm: EncryptionAlgorithmSpec,
}

/// `ReEncrypt` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ReEncryptRequest {
    /// The ciphertext to re-encrypt.
    #[serde(with = "base64_bytes", skip_serializing_if = "base64_bytes::redacting")]
    pub ciphertext_blob: Vec<u8>,
    /// The context it was encrypted with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_encryption_context: Option<EncryptionContext>,
    /// If given, the ciphertext must be under this key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_key_id: Option<String>,
    /// The key to encrypt under.
    pub destination_key_id: String,
    /// The context for the new ciphertext.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_encryption_context: Option<EncryptionContext>,
    /// `SYMMETRIC_DEFAULT` for symmetric keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_encryption_algorithm: Option<EncryptionAlgorithmSpec>,
    /// `SYMMETRIC_DEFAULT` for symmetric keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_encryption_algorithm: Option<EncryptionAlgorithmSpec>,
    /// Grant tokens (at most 10).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub grant_tokens: Vec<String>,
    /// Check authorization only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

/// `ReEncrypt` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReEncryptResponse {
    /// The new ciphertext.
    #[serde(with = "base64_bytes", skip_serializing_if = "base64_bytes::redacting")]
    pub ciphertext_blob: Vec<u8>,
    /// The ARN of the key that decrypted.
    pub source_key_id: String,
    /// The ARN of the key that encrypted.
    pub key_id: String,
    /// The source algorithm.
    pub source_encryption_algorithm: EncryptionAlgorithmSpec,
    /// The destination algorithm.
    pub destination_encryption_algorithm: EncryptionAlgorithmSpec,
}

/// `GenerateDataKey` and `GenerateDataKeyWithoutPlaintext` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GenerateDataKeyRequest {
    /// Key id, key ARN, alias name or alias ARN.
    pub key_id: String,
    /// Bound to the ciphertext as AAD.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_context: Option<EncryptionContext>,
    /// 1..=1024; exactly one of this and `KeySpec`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_of_bytes: Option<i64>,
    /// `AES_128` or `AES_256`; exactly one of this and `NumberOfBytes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_spec: Option<DataKeySpec>,
    /// Grant tokens (at most 10).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub grant_tokens: Vec<String>,
    /// Check authorization only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

/// `GenerateDataKey` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateDataKeyResponse {
    /// The data key, encrypted.
    #[serde(with = "base64_bytes", skip_serializing_if = "base64_bytes::redacting")]
    pub ciphertext_blob: Vec<u8>,
    /// The data key.
    #[serde(skip_serializing_if = "base64_bytes::redacting")]
    pub plaintext: SecretBytes,
    /// The ARN of the key used.
    pub key_id: String,
}

/// `GenerateDataKeyWithoutPlaintext` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateDataKeyWithoutPlaintextResponse {
    /// The data key, encrypted.
    #[serde(with = "base64_bytes", skip_serializing_if = "base64_bytes::redacting")]
    pub ciphertext_blob: Vec<u8>,
    /// The ARN of the key used.
    pub key_id: String,
}

/// `Sign` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SignRequest {
    /// Key id, key ARN, alias name or alias ARN of a `SIGN_VERIFY` key.
    pub key_id: String,
    /// The message (1..=4096 bytes) or its digest.
    #[serde(skip_serializing_if = "base64_bytes::redacting")]
    pub message: SecretBytes,
    /// `RAW` (the default) or `DIGEST`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_type: Option<MessageType>,
    /// Grant tokens (at most 10).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub grant_tokens: Vec<String>,
    /// The algorithm; required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_algorithm: Option<SigningAlgorithmSpec>,
    /// Check authorization only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

/// `Sign` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SignResponse {
    /// The ARN of the key used.
    pub key_id: String,
    /// The signature: DER for ECDSA, raw for RSA and Ed25519.
    #[serde(with = "base64_bytes", skip_serializing_if = "base64_bytes::redacting")]
    pub signature: Vec<u8>,
    /// The algorithm used.
    pub signing_algorithm: SigningAlgorithmSpec,
}

/// `Verify` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VerifyRequest {
    /// Key id, key ARN, alias name or alias ARN of a `SIGN_VERIFY` key.
    pub key_id: String,
    /// The message or its digest, as signed.
    #[serde(skip_serializing_if = "base64_bytes::redacting")]
    pub message: SecretBytes,
    /// `RAW` (the default) or `DIGEST`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_type: Option<MessageType>,
    /// The signature to check.
    #[serde(with = "base64_bytes", skip_serializing_if = "base64_bytes::redacting")]
    pub signature: Vec<u8>,
    /// The algorithm; required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_algorithm: Option<SigningAlgorithmSpec>,
    /// Grant tokens (at most 10).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub grant_tokens: Vec<String>,
    /// Check authorization only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

/// `Verify` response (an invalid signature is `KMSInvalidSignatureException`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VerifyResponse {
    /// The ARN of the key used.
    pub key_id: String,
    /// Always true: a signature that does not verify is an error.
    pub signature_valid: bool,
    /// The algorithm used.
    pub signing_algorithm: SigningAlgorithmSpec,
}

/// `GetPublicKey` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GetPublicKeyRequest {
    /// Key id, key ARN, alias name or alias ARN of an asymmetric key.
    pub key_id: String,
    /// Grant tokens (at most 10).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub grant_tokens: Vec<String>,
}

/// `GetPublicKey` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetPublicKeyResponse {
    /// The key ARN.
    pub key_id: String,
    /// DER `SubjectPublicKeyInfo`.
    #[serde(with = "base64_bytes", skip_serializing_if = "base64_bytes::redacting")]
    pub public_key: Vec<u8>,
    /// The deprecated name of `KeySpec`.
    pub customer_master_key_spec: KeySpec,
    /// The key spec.
    pub key_spec: KeySpec,
    /// The key usage.
    pub key_usage: KeyUsage,
    /// The encryption algorithms of an `ENCRYPT_DECRYPT` key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_algorithms: Option<Vec<EncryptionAlgorithmSpec>>,
    /// The signing algorithms of a `SIGN_VERIFY` key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_algorithms: Option<Vec<SigningAlgorithmSpec>>,
    /// The key agreement algorithms of a `KEY_AGREEMENT` key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_agreement_algorithms: Option<Vec<KeyAgreementAlgorithmSpec>>,
}

/// `GenerateMac` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GenerateMacRequest {
    /// The message, 1..=4096 bytes.
    #[serde(skip_serializing_if = "base64_bytes::redacting")]
    pub message: SecretBytes,
    /// Key id, key ARN, alias name or alias ARN of an HMAC key.
    pub key_id: String,
    /// The algorithm; required, and the key spec's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac_algorithm: Option<MacAlgorithmSpec>,
    /// Grant tokens (at most 10).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub grant_tokens: Vec<String>,
    /// Check authorization only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

/// `GenerateMac` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateMacResponse {
    /// The MAC.
    #[serde(with = "base64_bytes", skip_serializing_if = "base64_bytes::redacting")]
    pub mac: Vec<u8>,
    /// The algorithm used.
    pub mac_algorithm: MacAlgorithmSpec,
    /// The ARN of the key used.
    pub key_id: String,
}

/// `VerifyMac` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VerifyMacRequest {
    /// The message, 1..=4096 bytes.
    #[serde(skip_serializing_if = "base64_bytes::redacting")]
    pub message: SecretBytes,
    /// Key id, key ARN, alias name or alias ARN of an HMAC key.
    pub key_id: String,
    /// The algorithm; required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac_algorithm: Option<MacAlgorithmSpec>,
    /// The MAC to check.
    #[serde(with = "base64_bytes", skip_serializing_if = "base64_bytes::redacting")]
    pub mac: Vec<u8>,
    /// Grant tokens (at most 10).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub grant_tokens: Vec<String>,
    /// Check authorization only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

/// `VerifyMac` response (a MAC that does not match is
/// `KMSInvalidMacException`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VerifyMacResponse {
    /// The ARN of the key used.
    pub key_id: String,
    /// Always true: a MAC that does not match is an error.
    pub mac_valid: bool,
    /// The algorithm used.
    pub mac_algorithm: MacAlgorithmSpec,
}

/// `GenerateDataKeyPair` and `GenerateDataKeyPairWithoutPlaintext` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GenerateDataKeyPairRequest {
    /// Bound to the encrypted private key as AAD.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_context: Option<EncryptionContext>,
    /// Key id, key ARN, alias name or alias ARN of a symmetric encryption key.
    pub key_id: String,
    /// The type of pair; required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_pair_spec: Option<DataKeyPairSpec>,
    /// Grant tokens (at most 10).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub grant_tokens: Vec<String>,
    /// Check authorization only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

/// `GenerateDataKeyPair` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateDataKeyPairResponse {
    /// The private key (PKCS #8 DER), encrypted under the KMS key: a
    /// ciphertext that `Decrypt` opens.
    #[serde(with = "base64_bytes", skip_serializing_if = "base64_bytes::redacting")]
    pub private_key_ciphertext_blob: Vec<u8>,
    /// The private key, PKCS #8 DER.
    #[serde(skip_serializing_if = "base64_bytes::redacting")]
    pub private_key_plaintext: SecretBytes,
    /// The public key, DER `SubjectPublicKeyInfo`.
    #[serde(with = "base64_bytes", skip_serializing_if = "base64_bytes::redacting")]
    pub public_key: Vec<u8>,
    /// The ARN of the key that encrypted the private key.
    pub key_id: String,
    /// The type of pair.
    pub key_pair_spec: DataKeyPairSpec,
}

/// `GenerateDataKeyPairWithoutPlaintext` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateDataKeyPairWithoutPlaintextResponse {
    /// The private key (PKCS #8 DER), encrypted under the KMS key.
    #[serde(with = "base64_bytes", skip_serializing_if = "base64_bytes::redacting")]
    pub private_key_ciphertext_blob: Vec<u8>,
    /// The public key, DER `SubjectPublicKeyInfo`.
    #[serde(with = "base64_bytes", skip_serializing_if = "base64_bytes::redacting")]
    pub public_key: Vec<u8>,
    /// The ARN of the key that encrypted the private key.
    pub key_id: String,
    /// The type of pair.
    pub key_pair_spec: DataKeyPairSpec,
}

/// `DeriveSharedSecret` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeriveSharedSecretRequest {
    /// Key id, key ARN, alias name or alias ARN of a `KEY_AGREEMENT` key.
    pub key_id: String,
    /// `ECDH`; required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_agreement_algorithm: Option<KeyAgreementAlgorithmSpec>,
    /// The peer's public key, DER `SubjectPublicKeyInfo`.
    #[serde(with = "base64_bytes", skip_serializing_if = "base64_bytes::redacting")]
    pub public_key: Vec<u8>,
    /// Grant tokens (at most 10).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub grant_tokens: Vec<String>,
    /// Check authorization only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

/// `DeriveSharedSecret` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeriveSharedSecretResponse {
    /// The ARN of the key used.
    pub key_id: String,
    /// The raw shared secret.
    #[serde(skip_serializing_if = "base64_bytes::redacting")]
    pub shared_secret: SecretBytes,
    /// The algorithm used.
    pub key_agreement_algorithm: KeyAgreementAlgorithmSpec,
    /// The origin of the key's material.
    pub key_origin: OriginType,
}

/// `GenerateRandom` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GenerateRandomRequest {
    /// 1..=1024.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_of_bytes: Option<i64>,
    /// A custom key store to draw from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_key_store_id: Option<String>,
}

/// `GenerateRandom` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateRandomResponse {
    /// The random bytes.
    #[serde(skip_serializing_if = "base64_bytes::redacting")]
    pub plaintext: SecretBytes,
}

/// Constraints of a grant on the encryption context of the requests it
/// allows (AWS's `GrantConstraints`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GrantConstraints {
    /// The request's context must contain these pairs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_context_subset: Option<EncryptionContext>,
    /// The request's context must be exactly these pairs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_context_equals: Option<EncryptionContext>,
}

kms_enum! {
    /// Operations a grant can allow (AWS's `GrantOperation`).
    GrantOperation {
        /// Decrypt.
        Decrypt = "Decrypt",
        /// Encrypt.
        Encrypt = "Encrypt",
        /// GenerateDataKey.
        GenerateDataKey = "GenerateDataKey",
        /// GenerateDataKeyWithoutPlaintext.
        GenerateDataKeyWithoutPlaintext = "GenerateDataKeyWithoutPlaintext",
        /// ReEncryptFrom.
        ReEncryptFrom = "ReEncryptFrom",
        /// ReEncryptTo.
        ReEncryptTo = "ReEncryptTo",
        /// Sign.
        Sign = "Sign",
        /// Verify.
        Verify = "Verify",
        /// GetPublicKey.
        GetPublicKey = "GetPublicKey",
        /// CreateGrant.
        CreateGrant = "CreateGrant",
        /// RetireGrant.
        RetireGrant = "RetireGrant",
        /// DescribeKey.
        DescribeKey = "DescribeKey",
        /// GenerateDataKeyPair.
        GenerateDataKeyPair = "GenerateDataKeyPair",
        /// GenerateDataKeyPairWithoutPlaintext.
        GenerateDataKeyPairWithoutPlaintext = "GenerateDataKeyPairWithoutPlaintext",
        /// GenerateMac.
        GenerateMac = "GenerateMac",
        /// VerifyMac.
        VerifyMac = "VerifyMac",
        /// DeriveSharedSecret.
        DeriveSharedSecret = "DeriveSharedSecret",
    }
}

/// `CreateKey`'s and `PutKeyPolicy`'s policy document name; the only one.
pub const DEFAULT_POLICY_NAME: &str = "default";

/// `PutKeyPolicy` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PutKeyPolicyRequest {
    /// Key id or key ARN.
    pub key_id: String,
    /// `default` (the only name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_name: Option<String>,
    /// The key policy, in Cedar.
    pub policy: String,
    /// Skip the lockout safety check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bypass_policy_lockout_safety_check: Option<bool>,
}

/// `GetKeyPolicy` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GetKeyPolicyRequest {
    /// Key id or key ARN.
    pub key_id: String,
    /// `default` (the only name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_name: Option<String>,
}

/// `GetKeyPolicy` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetKeyPolicyResponse {
    /// The key policy, in Cedar.
    pub policy: String,
    /// `default`.
    pub policy_name: String,
}

/// `ListKeyPolicies` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListKeyPoliciesRequest {
    /// Key id or key ARN.
    pub key_id: String,
    /// Page size, 1..=1000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// Where to continue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

/// `ListKeyPolicies` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeyPoliciesResponse {
    /// `["default"]`.
    pub policy_names: Vec<String>,
    /// Always false: there is one policy.
    pub truncated: bool,
}

/// `CreateGrant` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateGrantRequest {
    /// Key id or key ARN.
    pub key_id: String,
    /// Who the grant allows.
    pub grantee_principal: String,
    /// Who may retire the grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retiring_principal: Option<String>,
    /// What the grant allows.
    pub operations: Vec<GrantOperation>,
    /// Conditions on the encryption context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraints: Option<GrantConstraints>,
    /// Grant tokens (at most 10).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub grant_tokens: Vec<String>,
    /// A name; creating the same grant with the same name again returns the
    /// existing grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Check authorization only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

/// `CreateGrant` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateGrantResponse {
    /// The grant token, usable at once in `GrantTokens`.
    pub grant_token: String,
    /// The grant's id.
    pub grant_id: String,
}

/// A grant as `ListGrants` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GrantListEntry {
    /// The key ARN.
    pub key_id: String,
    /// The grant's id.
    pub grant_id: String,
    /// The grant's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Creation time, epoch seconds.
    pub creation_date: f64,
    /// Who the grant allows.
    pub grantee_principal: String,
    /// Who may retire it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retiring_principal: Option<String>,
    /// The account that created it.
    pub issuing_account: String,
    /// What it allows.
    pub operations: Vec<GrantOperation>,
    /// Its constraints.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraints: Option<GrantConstraints>,
}

/// `ListGrants` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListGrantsRequest {
    /// Key id or key ARN.
    pub key_id: String,
    /// Page size, 1..=100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// Where to continue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    /// Only this grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
    /// Only grants for this grantee.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grantee_principal: Option<String>,
}

/// `ListGrants` and `ListRetirableGrants` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListGrantsResponse {
    /// This page of grants.
    pub grants: Vec<GrantListEntry>,
    /// Where the next page starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    /// Whether there are more.
    pub truncated: bool,
}

/// `ListRetirableGrants` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListRetirableGrantsRequest {
    /// The retiring principal.
    pub retiring_principal: String,
    /// Page size, 1..=100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// Where to continue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

/// `RetireGrant` request: a token, or a key and a grant id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RetireGrantRequest {
    /// The grant's token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_token: Option<String>,
    /// The key ARN (with `GrantId`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// The grant's id (with `KeyId`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
    /// Check authorization only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

/// `RevokeGrant` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RevokeGrantRequest {
    /// Key id or key ARN.
    pub key_id: String,
    /// The grant's id.
    pub grant_id: String,
    /// Check authorization only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

/// The empty response of `RetireGrant` and `RevokeGrant`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmptyResponse {}

/// `EnableKey` and `DisableKey` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct KeyIdRequest {
    /// Key id or key ARN.
    pub key_id: String,
}

/// `UpdateKeyDescription` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpdateKeyDescriptionRequest {
    /// Key id or key ARN.
    pub key_id: String,
    /// The new description, up to 8192 characters.
    pub description: String,
}

/// `TagResource` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TagResourceRequest {
    /// Key id or key ARN.
    pub key_id: String,
    /// Tags to add or replace.
    pub tags: Vec<Tag>,
}

/// `UntagResource` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UntagResourceRequest {
    /// Key id or key ARN.
    pub key_id: String,
    /// Tag keys to remove.
    pub tag_keys: Vec<String>,
}

/// `ListResourceTags` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListResourceTagsRequest {
    /// Key id or key ARN.
    pub key_id: String,
    /// Page size, 1..=50.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// Where to continue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

/// `ListResourceTags` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListResourceTagsResponse {
    /// This page of tags.
    pub tags: Vec<Tag>,
    /// Where the next page starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    /// Whether there are more.
    pub truncated: bool,
}

/// `CreateAlias` and `UpdateAlias` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AliasRequest {
    /// `alias/<name>`.
    pub alias_name: String,
    /// Key id or key ARN.
    pub target_key_id: String,
}

/// `DeleteAlias` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeleteAliasRequest {
    /// `alias/<name>`.
    pub alias_name: String,
}

/// `ListAliases` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListAliasesRequest {
    /// Only the aliases of this key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Page size, 1..=100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// Where to continue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

/// One alias, as `ListAliases` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasListEntry {
    /// `alias/<name>`.
    pub alias_name: String,
    /// The alias ARN.
    pub alias_arn: String,
    /// The key id it points at.
    pub target_key_id: String,
    /// Creation time, epoch seconds.
    pub creation_date: f64,
    /// Last update, epoch seconds.
    pub last_updated_date: f64,
}

/// `ListAliases` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAliasesResponse {
    /// This page of aliases.
    pub aliases: Vec<AliasListEntry>,
    /// Where the next page starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    /// Whether there are more.
    pub truncated: bool,
}

/// `ScheduleKeyDeletion` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ScheduleKeyDeletionRequest {
    /// Key id or key ARN.
    pub key_id: String,
    /// 7..=30 days (default 30).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_window_in_days: Option<i64>,
}

/// `ScheduleKeyDeletion` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleKeyDeletionResponse {
    /// The key ARN.
    pub key_id: String,
    /// When the key will be deleted, epoch seconds.
    pub deletion_date: f64,
    /// `PendingDeletion`.
    pub key_state: KeyState,
    /// The waiting period.
    pub pending_window_in_days: i64,
    /// keyward's extension: the key's last successful cryptographic use
    /// (as `GetKeyLastUsage` reports it), so that whoever schedules the
    /// deletion sees whether the key is still in use. SDKs ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_last_usage: Option<KeyLastUsage>,
}

/// `CancelKeyDeletion` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CancelKeyDeletionResponse {
    /// The key ARN.
    pub key_id: String,
}

/// `EnableKeyRotation` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EnableKeyRotationRequest {
    /// Key id or key ARN.
    pub key_id: String,
    /// 90..=2560 days (default 365).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_period_in_days: Option<i64>,
}

/// `GetKeyRotationStatus` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetKeyRotationStatusResponse {
    /// Whether automatic rotation is on.
    pub key_rotation_enabled: bool,
    /// The key ARN.
    pub key_id: String,
    /// The rotation period, when rotation is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_period_in_days: Option<i64>,
    /// The next automatic rotation, epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_rotation_date: Option<f64>,
    /// When an on-demand rotation in progress started (keyward's complete at
    /// once, so this is never set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_demand_rotation_start_date: Option<f64>,
}

/// `GetKeyLastUsage` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetKeyLastUsageResponse {
    /// The key ARN.
    pub key_id: String,
    /// The last successful cryptographic operation, if any since
    /// `TrackingStartDate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_last_usage: Option<KeyLastUsage>,
    /// When keyward began recording key use in this store, epoch seconds.
    pub tracking_start_date: f64,
    /// When the key was created, epoch seconds.
    pub key_creation_date: f64,
}

/// The last successful cryptographic use of a key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyLastUsage {
    /// The operation, such as `Decrypt`.
    pub operation: String,
    /// When, epoch seconds.
    pub timestamp: f64,
    /// The audit event's `eventID`.
    pub cloud_trail_event_id: String,
    /// The request's id.
    pub kms_request_id: String,
}

/// `RotateKeyOnDemand` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotateKeyOnDemandResponse {
    /// The key ARN.
    pub key_id: String,
}

/// `ListKeyRotations` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListKeyRotationsRequest {
    /// Key id or key ARN.
    pub key_id: String,
    /// Page size, 1..=1000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// Where to continue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

/// One completed rotation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationsListEntry {
    /// The key ARN.
    pub key_id: String,
    /// When, epoch seconds.
    pub rotation_date: f64,
    /// `AUTOMATIC` or `ON_DEMAND`.
    pub rotation_type: String,
}

/// `ListKeyRotations` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeyRotationsResponse {
    /// This page of rotations, oldest first.
    pub rotations: Vec<RotationsListEntry>,
    /// Where the next page starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    /// Whether there are more.
    pub truncated: bool,
}

/// `GetParametersForImport` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GetParametersForImportRequest {
    /// Key id or key ARN of a key with origin `EXTERNAL`.
    pub key_id: String,
    /// How the material will be wrapped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wrapping_algorithm: Option<AlgorithmSpec>,
    /// The size of the RSA wrapping key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wrapping_key_spec: Option<WrappingKeySpec>,
}

/// `GetParametersForImport` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParametersForImportResponse {
    /// The key ARN.
    pub key_id: String,
    /// The token to send back with the material (it holds the wrapping
    /// key's sealed private half: kept out of `Debug`).
    #[serde(skip_serializing_if = "base64_bytes::redacting")]
    pub import_token: SecretBytes,
    /// The RSA public key to wrap the material under, DER
    /// `SubjectPublicKeyInfo`.
    #[serde(with = "base64_bytes", skip_serializing_if = "base64_bytes::redacting")]
    pub public_key: Vec<u8>,
    /// When the token and the public key stop working, epoch seconds.
    pub parameters_valid_to: f64,
}

/// `ImportKeyMaterial` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImportKeyMaterialRequest {
    /// Key id or key ARN: the key of the `GetParametersForImport` call.
    pub key_id: String,
    /// The token `GetParametersForImport` returned.
    #[serde(skip_serializing_if = "base64_bytes::redacting")]
    pub import_token: SecretBytes,
    /// The material, wrapped under the returned public key.
    #[serde(skip_serializing_if = "base64_bytes::redacting")]
    pub encrypted_key_material: SecretBytes,
    /// When the material expires, epoch seconds (with
    /// `KEY_MATERIAL_EXPIRES`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<f64>,
    /// Whether the material expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_model: Option<ExpirationModelType>,
}

/// `ImportKeyMaterial` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImportKeyMaterialResponse {
    /// The key ARN.
    pub key_id: String,
}

#[cfg(test)]
mod tests {
    use super::SecretBytes;

    #[test]
    fn secret_bytes_compare_by_value() {
        let a = SecretBytes::new(b"secret".to_vec());
        assert_eq!(a, SecretBytes::new(b"secret".to_vec()));
        assert_ne!(a, SecretBytes::new(b"secreT".to_vec()));
        assert_ne!(a, SecretBytes::new(b"secret!".to_vec()));
        assert_eq!(SecretBytes::default(), SecretBytes::new(Vec::new()));
        assert_eq!(format!("{a:?}"), "SecretBytes(6 bytes)");
    }
}
