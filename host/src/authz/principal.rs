//! Principals: the identities requests are made as, and their Cedar
//! entities.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use cedar_policy::{EntityId, EntityTypeName, EntityUid};

/// What kind of principal made a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// `arn:aws:iam::<account>:root`, the account itself.
    AccountRoot,
    /// `arn:aws:iam::<account>:user/<name>`.
    User(String),
    /// `arn:aws:iam::<account>:role/<name>`.
    Role(String),
}

/// An authenticated identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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

    /// Parses `arn:aws:iam::<account>:root|user/<name>|role/<name>`, or a
    /// bare 12-digit account id (the account root, as key policies and
    /// grants accept it).
    pub fn parse(arn: &str) -> Result<Self, InvalidPrincipal> {
        if is_account_id(arn) {
            return Self::account_root(arn);
        }
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
            arn: format!("arn:aws:iam::{account}:{resource}"),
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

    /// IAM's `aws:PrincipalType`: `Account` for a root, `User`, or
    /// `AssumedRole` for a role (whose callers are its sessions).
    pub fn iam_type(&self) -> &'static str {
        match self.kind {
            PrincipalKind::AccountRoot => "Account",
            PrincipalKind::User(_) => "User",
            PrincipalKind::Role(_) => "AssumedRole",
        }
    }

    /// Whether this is an account root.
    pub fn is_root(&self) -> bool {
        self.kind == PrincipalKind::AccountRoot
    }

    /// The principal's tags.
    pub fn tags(&self) -> &BTreeMap<String, String> {
        &self.tags
    }

    /// The principal's Cedar entity id: `Account::"<id>"` for a root,
    /// `User::"<arn>"` or `Role::"<arn>"` otherwise.
    pub fn entity_uid(&self) -> EntityUid {
        match self.kind {
            PrincipalKind::AccountRoot => account_uid(&self.account),
            PrincipalKind::User(_) => uid("User", &self.arn),
            PrincipalKind::Role(_) => uid("Role", &self.arn),
        }
    }
}

/// The schema's entity type names, parsed once per process: parsing runs
/// Cedar's name grammar, too slow for the request path.
const TYPE_NAMES: [&str; 8] = [
    "Account",
    "User",
    "Role",
    "Service",
    "Key",
    "EncryptionContext",
    "Tags",
    "Action",
];

/// A Cedar entity uid of a type this schema declares.
pub(crate) fn uid(type_name: &'static str, id: &str) -> EntityUid {
    static TYPES: OnceLock<Vec<EntityTypeName>> = OnceLock::new();
    let types = TYPES.get_or_init(|| {
        #[expect(
            clippy::expect_used,
            reason = "the type names are this crate's literals, which parse"
        )]
        TYPE_NAMES
            .iter()
            .map(|name| name.parse().expect("a schema type name"))
            .collect()
    });
    #[expect(
        clippy::expect_used,
        reason = "callers pass only the names in TYPE_NAMES, a unit test checks each"
    )]
    let type_name = TYPE_NAMES
        .iter()
        .position(|name| *name == type_name)
        .and_then(|index| types.get(index))
        .expect("a type name this module lists")
        .clone();
    EntityUid::from_type_name_and_id(type_name, EntityId::new(id))
}

/// `Account::"<account>"`.
pub(crate) fn account_uid(account: &str) -> EntityUid {
    uid("Account", account)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principal_arns_parse() {
        assert_eq!(
            Principal::parse("arn:aws:iam::111122223333:root")
                .unwrap()
                .kind(),
            &PrincipalKind::AccountRoot
        );
        assert_eq!(
            Principal::parse("111122223333").unwrap().arn(),
            "arn:aws:iam::111122223333:root"
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

    #[test]
    fn every_type_name_parses() {
        for name in TYPE_NAMES {
            assert_eq!(uid(name, "x").type_name().to_string(), name);
        }
    }

    #[test]
    fn entity_uids_follow_the_schema() {
        let root = Principal::account_root("111122223333").unwrap();
        assert_eq!(root.entity_uid().to_string(), r#"Account::"111122223333""#);
        let alice = Principal::parse("arn:aws:iam::111122223333:user/alice").unwrap();
        assert_eq!(
            alice.entity_uid().to_string(),
            r#"User::"arn:aws:iam::111122223333:user/alice""#
        );
    }
}
