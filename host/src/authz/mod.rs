//! Authorization: who may do what to which key.
//!
//! The Cedar evaluation of key policies, identity policies and grants is
//! issue "Cedar authorization". Until it lands, [`authorize`] applies two
//! real rules: the regional guardrail (a key is usable only in its own
//! region) and account ownership (a key's own account may use it; every other
//! account is denied). Every decision carries the ids of the rules behind it.

use std::collections::BTreeMap;

use crate::store::KeyRecord;

/// What kind of principal made a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    /// `arn:aws:iam::<account>:root`.
    AccountRoot,
    /// `arn:aws:iam::<account>:user/<name>`.
    User(String),
    /// `arn:aws:iam::<account>:role/<name>`.
    Role(String),
}

/// An authenticated identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    arn: String,
    account: String,
    kind: PrincipalKind,
    tags: BTreeMap<String, String>,
}

/// A principal ARN that keyward does not understand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an account root, user or role ARN")]
pub struct InvalidPrincipal(pub String);

impl Principal {
    /// The root of `account` (12 digits).
    pub fn account_root(account: &str) -> Result<Self, InvalidPrincipal> {
        Self::parse(&format!("arn:aws:iam::{account}:root"))
    }

    /// Parses `arn:aws:iam::<account>:root|user/<name>|role/<name>`.
    pub fn parse(arn: &str) -> Result<Self, InvalidPrincipal> {
        let invalid = || InvalidPrincipal(arn.to_owned());
        let rest = arn.strip_prefix("arn:aws:iam::").ok_or_else(invalid)?;
        let (account, resource) = rest.split_once(':').ok_or_else(invalid)?;
        if !is_account_id(account) {
            return Err(invalid());
        }
        let kind = if resource == "root" {
            PrincipalKind::AccountRoot
        } else if let Some(name) = resource.strip_prefix("user/").filter(|n| is_iam_name(n)) {
            PrincipalKind::User(name.to_owned())
        } else if let Some(name) = resource.strip_prefix("role/").filter(|n| is_iam_name(n)) {
            PrincipalKind::Role(name.to_owned())
        } else {
            return Err(invalid());
        };
        Ok(Self {
            arn: arn.to_owned(),
            account: account.to_owned(),
            kind,
            tags: BTreeMap::new(),
        })
    }

    /// The same principal with these tags (IAM principal tags).
    pub fn with_tags(mut self, tags: BTreeMap<String, String>) -> Self {
        self.tags = tags;
        self
    }

    /// The principal's tags.
    pub fn tags(&self) -> &BTreeMap<String, String> {
        &self.tags
    }

    /// The principal's ARN.
    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// The account the principal belongs to.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// Root, user or role.
    pub fn kind(&self) -> &PrincipalKind {
        &self.kind
    }
}

/// Whether `text` is a 12-digit AWS account id.
pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// IAM names (with an optional path): letters, digits and `+=,.@_-/`.
fn is_iam_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 512
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b))
}

/// The KMS actions, named as IAM and key policies name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `kms:CreateKey`.
    CreateKey,
    /// `kms:DescribeKey`.
    DescribeKey,
    /// `kms:ListKeys`.
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
    /// `kms:GenerateRandom`.
    GenerateRandom,
}

impl Action {
    /// The IAM action name, such as `kms:Encrypt`.
    pub fn iam_name(self) -> &'static str {
        match self {
            Self::CreateKey => "kms:CreateKey",
            Self::DescribeKey => "kms:DescribeKey",
            Self::ListKeys => "kms:ListKeys",
            Self::Encrypt => "kms:Encrypt",
            Self::Decrypt => "kms:Decrypt",
            Self::ReEncryptFrom => "kms:ReEncryptFrom",
            Self::ReEncryptTo => "kms:ReEncryptTo",
            Self::GenerateDataKey => "kms:GenerateDataKey",
            Self::GenerateDataKeyWithoutPlaintext => "kms:GenerateDataKeyWithoutPlaintext",
            Self::GenerateRandom => "kms:GenerateRandom",
        }
    }
}

/// The identifier of the regional guardrail.
pub const REGIONAL_GUARDRAIL: &str = "guardrail/regional";
/// The identifier of the interim rule that lets a key's own account use it.
pub const OWNER_ACCOUNT_RULE: &str = "interim/owner-account";

/// The outcome of authorization, with the rules that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// The ids of the rules (later: policies and grants) that decided.
    /// Empty for a default deny.
    pub reasons: Vec<String>,
}

/// Decides whether `principal`, calling in `request_region`, may perform
/// `action` on `key`.
///
/// The interim rules do not depend on the action; the Cedar policies will.
pub fn authorize(
    principal: &Principal,
    request_region: &str,
    _action: Action,
    key: &KeyRecord,
) -> Decision {
    if key.region != request_region {
        return Decision {
            allowed: false,
            reasons: vec![REGIONAL_GUARDRAIL.to_owned()],
        };
    }
    if principal.account() == key.account {
        return Decision {
            allowed: true,
            reasons: vec![OWNER_ACCOUNT_RULE.to_owned()],
        };
    }
    Decision {
        allowed: false,
        reasons: Vec::new(),
    }
}

/// AWS's wording of a denial.
pub fn denial_message(principal: &Principal, action: Action, key_arn: &str) -> String {
    format!(
        "User: {} is not authorized to perform: {} on resource: {} because no resource-based policy allows the {} action",
        principal.arn(),
        action.iam_name(),
        key_arn,
        action.iam_name()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{KeyManager, KeySpec, KeyState, KeyUsage, OriginType};

    fn key(region: &str, account: &str) -> KeyRecord {
        KeyRecord {
            key_id: "k".into(),
            region: region.into(),
            account: account.into(),
            arn: format!("arn:aws:kms:{region}:{account}:key/k"),
            description: String::new(),
            created_ms: 0,
            state: KeyState::Enabled,
            key_spec: KeySpec::SymmetricDefault,
            key_usage: KeyUsage::EncryptDecrypt,
            origin: OriginType::AwsKms,
            key_manager: KeyManager::Customer,
            multi_region: false,
            current_version: 1,
        }
    }

    #[test]
    fn owner_account_is_allowed_in_the_key_region_only() {
        let alice = Principal::parse("arn:aws:iam::111122223333:user/alice").unwrap();
        let k = key("us-east-1", "111122223333");
        let allowed = authorize(&alice, "us-east-1", Action::Encrypt, &k);
        assert_eq!(
            allowed,
            Decision {
                allowed: true,
                reasons: vec![OWNER_ACCOUNT_RULE.into()]
            }
        );
        let other_region = authorize(&alice, "eu-west-1", Action::Encrypt, &k);
        assert_eq!(
            other_region,
            Decision {
                allowed: false,
                reasons: vec![REGIONAL_GUARDRAIL.into()]
            }
        );
    }

    #[test]
    fn other_accounts_are_denied_by_default() {
        let mallory = Principal::account_root("444455556666").unwrap();
        let decision = authorize(
            &mallory,
            "us-east-1",
            Action::Decrypt,
            &key("us-east-1", "111122223333"),
        );
        assert_eq!(
            decision,
            Decision {
                allowed: false,
                reasons: vec![]
            }
        );
    }

    #[test]
    fn principal_arns_parse() {
        assert_eq!(
            Principal::parse("arn:aws:iam::111122223333:root")
                .unwrap()
                .kind(),
            &PrincipalKind::AccountRoot
        );
        assert_eq!(
            Principal::parse("arn:aws:iam::111122223333:role/admin")
                .unwrap()
                .kind(),
            &PrincipalKind::Role("admin".into())
        );
        for bad in [
            "",
            "arn:aws:iam::1111:root",
            "arn:aws:iam::111122223333:group/x",
            "arn:aws:iam::111122223333:user/",
        ] {
            assert!(Principal::parse(bad).is_err(), "{bad}");
        }
    }
}
