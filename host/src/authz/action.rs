//! The KMS actions, as IAM and the Cedar schema name them.

use cedar_policy::EntityUid;

use super::principal::uid;

/// Declares the actions with their names; `Action::ALL` lists them.
macro_rules! actions {
    ($($(#[$meta:meta])* $variant:ident,)+) => {
        /// A KMS action. Its Cedar entity is `Action::"<Name>"`, its IAM
        /// name `kms:<Name>`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action {
            $($(#[$meta])* $variant,)+
        }

        impl Action {
            /// Every action.
            pub const ALL: &'static [Action] = &[$(Action::$variant,)+];

            /// The operation name, such as `Encrypt`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Action::$variant => stringify!($variant),)+
                }
            }
        }
    };
}

actions! {
    /// `kms:CreateKey` (no key: authorized by identity policies).
    CreateKey,
    /// `kms:DescribeKey`.
    DescribeKey,
    /// `kms:ListKeys` (no key).
    ListKeys,
    /// `kms:Encrypt`.
    Encrypt,
    /// `kms:Decrypt`.
    Decrypt,
    /// `kms:ReEncryptFrom`.
    ReEncryptFrom,
    /// `kms:ReEncryptTo`.
    ReEncryptTo,
    /// `kms:GenerateDataKey`.
    GenerateDataKey,
    /// `kms:GenerateDataKeyWithoutPlaintext`.
    GenerateDataKeyWithoutPlaintext,
    /// `kms:GenerateRandom` (no key).
    GenerateRandom,
    /// `kms:PutKeyPolicy`.
    PutKeyPolicy,
    /// `kms:GetKeyPolicy`.
    GetKeyPolicy,
    /// `kms:ListKeyPolicies`.
    ListKeyPolicies,
    /// `kms:CreateGrant`.
    CreateGrant,
    /// `kms:ListGrants`.
    ListGrants,
    /// `kms:ListRetirableGrants` (no key).
    ListRetirableGrants,
    /// `kms:RetireGrant`.
    RetireGrant,
    /// `kms:RevokeGrant`.
    RevokeGrant,
    /// `kms:EnableKey`.
    EnableKey,
    /// `kms:DisableKey`.
    DisableKey,
    /// `kms:UpdateKeyDescription`.
    UpdateKeyDescription,
    /// `kms:CreateAlias` (on the target key).
    CreateAlias,
    /// `kms:UpdateAlias` (on the old and the new key).
    UpdateAlias,
    /// `kms:DeleteAlias` (on the key).
    DeleteAlias,
    /// `kms:ListAliases` (no key).
    ListAliases,
    /// `kms:TagResource`.
    TagResource,
    /// `kms:UntagResource`.
    UntagResource,
    /// `kms:ListResourceTags`.
    ListResourceTags,
    /// `kms:ScheduleKeyDeletion`.
    ScheduleKeyDeletion,
    /// `kms:CancelKeyDeletion`.
    CancelKeyDeletion,
    /// `kms:EnableKeyRotation`.
    EnableKeyRotation,
    /// `kms:DisableKeyRotation`.
    DisableKeyRotation,
    /// `kms:GetKeyRotationStatus`.
    GetKeyRotationStatus,
    /// `kms:RotateKeyOnDemand`.
    RotateKeyOnDemand,
    /// `kms:ListKeyRotations`.
    ListKeyRotations,
    /// `kms:GetKeyLastUsage`.
    GetKeyLastUsage,
    /// `kms:GetParametersForImport`.
    GetParametersForImport,
    /// `kms:ImportKeyMaterial`.
    ImportKeyMaterial,
    /// `kms:DeleteImportedKeyMaterial`.
    DeleteImportedKeyMaterial,
    /// `kms:Sign`.
    Sign,
    /// `kms:Verify`.
    Verify,
    /// `kms:GetPublicKey`.
    GetPublicKey,
    /// `kms:GenerateMac`.
    GenerateMac,
    /// `kms:VerifyMac`.
    VerifyMac,
    /// `kms:GenerateDataKeyPair`.
    GenerateDataKeyPair,
    /// `kms:GenerateDataKeyPairWithoutPlaintext`.
    GenerateDataKeyPairWithoutPlaintext,
    /// `kms:DeriveSharedSecret`.
    DeriveSharedSecret,
}

impl Action {
    /// The IAM action name, such as `kms:Encrypt`.
    pub fn iam_name(self) -> String {
        format!("kms:{}", self.name())
    }

    /// `Action::"<Name>"`.
    pub fn entity_uid(self) -> EntityUid {
        uid("Action", self.name())
    }

    /// Whether the action acts on a key (as opposed to on the account).
    pub fn on_key(self) -> bool {
        !matches!(
            self,
            Self::CreateKey
                | Self::ListKeys
                | Self::GenerateRandom
                | Self::ListRetirableGrants
                | Self::ListAliases
        )
    }

    /// Whether the operation's `KeyId` may be an alias (name or ARN), as in
    /// AWS: the cryptographic operations and DescribeKey take one; the
    /// operations that manage a key take its id or ARN only. The alias
    /// operations, which name an alias anyway, check their own members.
    pub fn accepts_alias(self) -> bool {
        matches!(
            self,
            Self::DescribeKey
                | Self::Encrypt
                | Self::Decrypt
                | Self::ReEncryptFrom
                | Self::ReEncryptTo
                | Self::GenerateDataKey
                | Self::GenerateDataKeyWithoutPlaintext
                | Self::Sign
                | Self::Verify
                | Self::GetPublicKey
                | Self::GenerateMac
                | Self::VerifyMac
                | Self::GenerateDataKeyPair
                | Self::GenerateDataKeyPairWithoutPlaintext
                | Self::DeriveSharedSecret
                | Self::GetKeyLastUsage
                | Self::CreateAlias
                | Self::UpdateAlias
                | Self::DeleteAlias
        )
    }

    /// The action named `name` (an operation name, with or without `kms:`).
    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.strip_prefix("kms:").unwrap_or(name);
        Self::ALL.iter().copied().find(|a| a.name() == name)
    }
}
