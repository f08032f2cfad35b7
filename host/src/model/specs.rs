//! AWS's rules for key specs: which usages each allows, which algorithms
//! each offers for a usage, and what the core does with it.

use super::{
    DataKeyPairSpec, EncryptionAlgorithmSpec, GrantOperation, KeyAgreementAlgorithmSpec, KeySpec,
    KeyUsage, MacAlgorithmSpec, SigningAlgorithmSpec,
};

/// The algorithms a key offers, as `DescribeKey` and `GetPublicKey` list
/// them: each list is present only for the key's usage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Algorithms {
    /// For `ENCRYPT_DECRYPT`.
    pub encryption: Option<Vec<EncryptionAlgorithmSpec>>,
    /// For `SIGN_VERIFY`.
    pub signing: Option<Vec<SigningAlgorithmSpec>>,
    /// For `GENERATE_VERIFY_MAC`.
    pub mac: Option<Vec<MacAlgorithmSpec>>,
    /// For `KEY_AGREEMENT`.
    pub key_agreement: Option<Vec<KeyAgreementAlgorithmSpec>>,
}

impl KeySpec {
    /// Whether keyward creates and imports keys of this spec. SM2 (China
    /// Regions only) and the post-quantum specs are not yet.
    pub fn is_supported(self) -> bool {
        !matches!(
            self,
            Self::Sm2
                | Self::MlDsa44
                | Self::MlDsa65
                | Self::MlDsa87
                | Self::MlKem512
                | Self::MlKem768
                | Self::MlKem1024
        )
    }

    /// An RSA spec.
    pub fn is_rsa(self) -> bool {
        matches!(self, Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096)
    }

    /// An HMAC spec.
    pub fn is_hmac(self) -> bool {
        matches!(
            self,
            Self::Hmac224 | Self::Hmac256 | Self::Hmac384 | Self::Hmac512
        )
    }

    /// A spec with a public key (RSA and the elliptic curves).
    pub fn is_asymmetric(self) -> bool {
        self != Self::SymmetricDefault && !self.is_hmac()
    }

    /// The usages AWS allows for the spec.
    pub fn usages(self) -> &'static [KeyUsage] {
        use KeyUsage::*;
        match self {
            Self::SymmetricDefault => &[EncryptDecrypt],
            Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 => &[EncryptDecrypt, SignVerify],
            Self::EccNistP256 | Self::EccNistP384 | Self::EccNistP521 => {
                &[SignVerify, KeyAgreement]
            }
            Self::EccSecgP256k1 | Self::EccNistEdwards25519 => &[SignVerify],
            Self::Hmac224 | Self::Hmac256 | Self::Hmac384 | Self::Hmac512 => &[GenerateVerifyMac],
            Self::Sm2 => &[EncryptDecrypt, SignVerify, KeyAgreement],
            Self::MlDsa44 | Self::MlDsa65 | Self::MlDsa87 => &[SignVerify],
            Self::MlKem512 | Self::MlKem768 | Self::MlKem1024 => &[EncapsulateDecapsulate],
        }
    }

    /// The signing algorithms of the spec, in AWS's order.
    pub fn signing_algorithms(self) -> &'static [SigningAlgorithmSpec] {
        use SigningAlgorithmSpec::*;
        match self {
            Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 => &[
                RsassaPkcs1V15Sha256,
                RsassaPkcs1V15Sha384,
                RsassaPkcs1V15Sha512,
                RsassaPssSha256,
                RsassaPssSha384,
                RsassaPssSha512,
            ],
            Self::EccNistP256 | Self::EccSecgP256k1 => &[EcdsaSha256],
            Self::EccNistP384 => &[EcdsaSha384],
            Self::EccNistP521 => &[EcdsaSha512],
            Self::EccNistEdwards25519 => &[Ed25519Sha512, Ed25519PhSha512],
            Self::Sm2 => &[Sm2dsa],
            Self::MlDsa44 | Self::MlDsa65 | Self::MlDsa87 => &[MlDsaShake256],
            _ => &[],
        }
    }

    /// The encryption algorithms of the spec.
    pub fn encryption_algorithms(self) -> &'static [EncryptionAlgorithmSpec] {
        use EncryptionAlgorithmSpec::*;
        match self {
            Self::SymmetricDefault => &[SymmetricDefault],
            Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 => &[RsaesOaepSha1, RsaesOaepSha256],
            Self::Sm2 => &[Sm2pke],
            _ => &[],
        }
    }

    /// The MAC algorithm of an HMAC spec.
    pub fn mac_algorithms(self) -> &'static [MacAlgorithmSpec] {
        use MacAlgorithmSpec::*;
        match self {
            Self::Hmac224 => &[HmacSha224],
            Self::Hmac256 => &[HmacSha256],
            Self::Hmac384 => &[HmacSha384],
            Self::Hmac512 => &[HmacSha512],
            _ => &[],
        }
    }

    /// The algorithms a key of this spec and `usage` lists.
    pub fn algorithms(self, usage: KeyUsage) -> Algorithms {
        fn list<T: Clone>(all: &[T]) -> Option<Vec<T>> {
            Some(all.to_vec())
        }
        match usage {
            KeyUsage::EncryptDecrypt => Algorithms {
                encryption: list(self.encryption_algorithms()),
                ..Algorithms::default()
            },
            KeyUsage::SignVerify => Algorithms {
                signing: list(self.signing_algorithms()),
                ..Algorithms::default()
            },
            KeyUsage::GenerateVerifyMac => Algorithms {
                mac: list(self.mac_algorithms()),
                ..Algorithms::default()
            },
            KeyUsage::KeyAgreement => Algorithms {
                key_agreement: Some(vec![KeyAgreementAlgorithmSpec::Ecdh]),
                ..Algorithms::default()
            },
            KeyUsage::EncapsulateDecapsulate => Algorithms::default(),
        }
    }

    /// The largest plaintext RSA-OAEP with `algorithm` takes under a key of
    /// this spec (AWS's table: the modulus less two hashes and two bytes).
    pub fn rsa_plaintext_limit(self, algorithm: EncryptionAlgorithmSpec) -> Option<usize> {
        let modulus = match self {
            Self::Rsa2048 => 256,
            Self::Rsa3072 => 384,
            Self::Rsa4096 => 512,
            _ => return None,
        };
        let hash = match algorithm {
            EncryptionAlgorithmSpec::RsaesOaepSha1 => 20,
            EncryptionAlgorithmSpec::RsaesOaepSha256 => 32,
            _ => return None,
        };
        Some(modulus - 2 * hash - 2)
    }
}

impl DataKeyPairSpec {
    /// The key spec of a pair of this type.
    pub fn key_spec(self) -> KeySpec {
        match self {
            Self::Rsa2048 => KeySpec::Rsa2048,
            Self::Rsa3072 => KeySpec::Rsa3072,
            Self::Rsa4096 => KeySpec::Rsa4096,
            Self::EccNistP256 => KeySpec::EccNistP256,
            Self::EccNistP384 => KeySpec::EccNistP384,
            Self::EccNistP521 => KeySpec::EccNistP521,
            Self::EccSecgP256k1 => KeySpec::EccSecgP256k1,
            Self::Sm2 => KeySpec::Sm2,
            Self::EccNistEdwards25519 => KeySpec::EccNistEdwards25519,
            Self::MlKem512 => KeySpec::MlKem512,
            Self::MlKem768 => KeySpec::MlKem768,
            Self::MlKem1024 => KeySpec::MlKem1024,
        }
    }
}

impl GrantOperation {
    /// Whether a key of `spec` and `usage` supports the operation, so that
    /// a grant may allow it (AWS's key type table).
    pub fn fits(self, spec: KeySpec, usage: KeyUsage) -> bool {
        use GrantOperation::*;
        match self {
            CreateGrant | RetireGrant | DescribeKey => true,
            Encrypt | Decrypt | ReEncryptFrom | ReEncryptTo => usage == KeyUsage::EncryptDecrypt,
            GenerateDataKey
            | GenerateDataKeyWithoutPlaintext
            | GenerateDataKeyPair
            | GenerateDataKeyPairWithoutPlaintext => spec == KeySpec::SymmetricDefault,
            GetPublicKey => spec.is_asymmetric(),
            Sign | Verify => usage == KeyUsage::SignVerify,
            GenerateMac | VerifyMac => usage == KeyUsage::GenerateVerifyMac,
            DeriveSharedSecret => usage == KeyUsage::KeyAgreement,
        }
    }
}

impl SigningAlgorithmSpec {
    /// The length of the digest a `DIGEST` message must have.
    pub fn digest_len(self) -> Option<usize> {
        match self {
            Self::RsassaPssSha256 | Self::RsassaPkcs1V15Sha256 | Self::EcdsaSha256 => Some(32),
            Self::RsassaPssSha384 | Self::RsassaPkcs1V15Sha384 | Self::EcdsaSha384 => Some(48),
            Self::RsassaPssSha512
            | Self::RsassaPkcs1V15Sha512
            | Self::EcdsaSha512
            | Self::Ed25519PhSha512 => Some(64),
            Self::Ed25519Sha512 | Self::Sm2dsa | Self::MlDsaShake256 => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's published limits (Encrypt's `Plaintext`, per key spec and
    /// algorithm), as recorded in the reference responses.
    #[test]
    fn rsa_limits_are_aws_s() {
        use EncryptionAlgorithmSpec::*;
        let limits = [
            (KeySpec::Rsa2048, RsaesOaepSha1, 214),
            (KeySpec::Rsa2048, RsaesOaepSha256, 190),
            (KeySpec::Rsa3072, RsaesOaepSha1, 342),
            (KeySpec::Rsa3072, RsaesOaepSha256, 318),
            (KeySpec::Rsa4096, RsaesOaepSha1, 470),
            (KeySpec::Rsa4096, RsaesOaepSha256, 446),
        ];
        for (spec, algorithm, limit) in limits {
            assert_eq!(spec.rsa_plaintext_limit(algorithm), Some(limit));
        }
    }

    #[test]
    fn every_supported_usage_lists_algorithms() {
        for spec in KeySpec::ALL.iter().filter(|s| s.is_supported()) {
            for usage in spec.usages() {
                let a = spec.algorithms(*usage);
                let lists = [
                    a.encryption.is_some(),
                    a.signing.is_some(),
                    a.mac.is_some(),
                    a.key_agreement.is_some(),
                ];
                assert_eq!(lists.iter().filter(|l| **l).count(), 1, "{spec} {usage}");
            }
        }
    }
}
