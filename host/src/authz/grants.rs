//! Grants as Cedar policies: each grant becomes one `permit` for its grantee,
//! its operations and its key, with its encryption-context constraints as
//! the `when` condition. The policy id is `grant/<grant id>`.

use std::fmt::Write as _;

use cedar_policy::{Policy, PolicyId};

use super::action::Action;
use super::policy::PolicyError;
use super::principal::{Principal, uid};
use crate::model::{EncryptionContext, GrantConstraints, GrantOperation};
use crate::store::GrantRecord;

/// The prefix of every grant policy's id.
pub const ID_PREFIX: &str = "grant/";

/// The Cedar entity of a grantee: an IAM principal ARN (or account id), or
/// an AWS service principal such as `s3.amazonaws.com`.
pub fn grantee_uid(grantee: &str) -> Option<cedar_policy::EntityUid> {
    if let Ok(principal) = Principal::parse(grantee) {
        return Some(principal.entity_uid());
    }
    is_service_principal(grantee).then(|| uid("Service", grantee))
}

/// Whether `text` names an AWS service principal (`<name>.amazonaws.com`).
pub fn is_service_principal(text: &str) -> bool {
    text.strip_suffix(".amazonaws.com").is_some_and(|name| {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    })
}

/// The keyward action a grant operation allows, if keyward implements it.
pub fn action_of(operation: GrantOperation) -> Option<Action> {
    Action::from_name(operation.as_str())
}

/// A Cedar string literal.
fn literal(text: &str) -> String {
    // Rust's escapes (`\"`, `\\`, `\n`, `\u{..}`) are Cedar's.
    format!("{text:?}")
}

fn require_pairs(condition: &mut String, pairs: &EncryptionContext) {
    for (key, value) in pairs {
        let _ = write!(
            condition,
            " && context.encryption_context.hasTag({k}) && context.encryption_context.getTag({k}) == {v}",
            k = literal(key),
            v = literal(value)
        );
    }
}

/// The `when` condition of a grant's constraints.
fn condition(constraints: Option<&GrantConstraints>) -> String {
    let mut condition = String::from("true");
    let Some(constraints) = constraints else {
        return condition;
    };
    if let Some(subset) = &constraints.encryption_context_subset {
        require_pairs(&mut condition, subset);
    }
    if let Some(equals) = &constraints.encryption_context_equals {
        require_pairs(&mut condition, equals);
        let keys: Vec<String> = equals.keys().map(|k| literal(k)).collect();
        let _ = write!(
            condition,
            " && context.encryption_context_keys == [{}]",
            keys.join(", ")
        );
    }
    condition
}

/// The Cedar policy of a grant on `key_arn`, or `None` if it allows no
/// operation keyward implements.
pub fn to_policy(key_arn: &str, grant: &GrantRecord) -> Result<Option<Policy>, PolicyError> {
    let actions: Vec<String> = grant
        .operations
        .iter()
        .filter_map(|op| action_of(*op))
        .map(|a| a.entity_uid().to_string())
        .collect();
    if actions.is_empty() {
        return Ok(None);
    }
    let grantee = grantee_uid(&grant.grantee_principal).ok_or_else(|| {
        PolicyError(format!(
            "grantee `{}` is not a principal",
            grant.grantee_principal
        ))
    })?;
    let text = format!(
        "permit (principal == {grantee}, action in [{}], resource == Key::{}) when {{ {} }};",
        actions.join(", "),
        literal(key_arn),
        condition(grant.constraints.as_ref())
    );
    Policy::parse(
        Some(PolicyId::new(format!("{ID_PREFIX}{}", grant.grant_id))),
        text,
    )
    .map(Some)
    .map_err(|e| PolicyError(e.to_string()))
}

/// Whether `narrower` is at least as strict as `wider`: every pair `wider`
/// requires, `narrower` requires too.
pub fn constraints_within(
    narrower: Option<&GrantConstraints>,
    wider: Option<&GrantConstraints>,
) -> bool {
    let Some(wider) = wider else {
        return true;
    };
    let Some(narrower) = narrower else {
        return false;
    };
    let required = |c: &GrantConstraints| {
        let mut pairs = c.encryption_context_subset.clone().unwrap_or_default();
        pairs.extend(c.encryption_context_equals.clone().unwrap_or_default());
        pairs
    };
    let have = required(narrower);
    let subset_ok = required(wider).iter().all(|(k, v)| have.get(k) == Some(v));
    let equals_ok = match (
        &wider.encryption_context_equals,
        &narrower.encryption_context_equals,
    ) {
        (None, _) => true,
        (Some(w), Some(n)) => w == n,
        (Some(_), None) => false,
    };
    subset_ok && equals_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(constraints: Option<GrantConstraints>) -> GrantRecord {
        GrantRecord {
            grant_id: "g1".into(),
            grant_token: "t".into(),
            region: "us-east-1".into(),
            key_id: "k".into(),
            name: None,
            grantee_principal: "arn:aws:iam::111122223333:role/app".into(),
            retiring_principal: None,
            issuing_account: "111122223333".into(),
            operations: vec![GrantOperation::Decrypt, GrantOperation::Sign],
            constraints,
            created_ms: 0,
        }
    }

    #[test]
    fn grants_compile_to_valid_cedar() {
        let ctx: EncryptionContext = [("a\"b".to_string(), "v\\1".to_string())].into();
        let constraints = GrantConstraints {
            encryption_context_subset: Some(ctx.clone()),
            encryption_context_equals: Some(ctx),
        };
        let policy = to_policy(
            "arn:aws:kms:us-east-1:111122223333:key/k",
            &grant(Some(constraints)),
        )
        .unwrap()
        .unwrap();
        let mut set = cedar_policy::PolicySet::new();
        set.add(policy).unwrap();
        let validation = cedar_policy::Validator::new(super::super::schema::schema().clone())
            .validate(&set, cedar_policy::ValidationMode::Strict);
        assert!(validation.validation_passed(), "{validation:?}");
    }

    #[test]
    fn service_principals_are_recognised() {
        assert!(is_service_principal("s3.amazonaws.com"));
        assert!(!is_service_principal("evil.example.com"));
        assert!(grantee_uid("not a principal").is_none());
    }

    #[test]
    fn constraint_narrowing() {
        let subset = |pairs: &[(&str, &str)]| {
            Some(GrantConstraints {
                encryption_context_subset: Some(
                    pairs
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                encryption_context_equals: None,
            })
        };
        assert!(constraints_within(
            subset(&[("a", "1"), ("b", "2")]).as_ref(),
            subset(&[("a", "1")]).as_ref()
        ));
        assert!(!constraints_within(
            subset(&[("b", "2")]).as_ref(),
            subset(&[("a", "1")]).as_ref()
        ));
        assert!(!constraints_within(None, subset(&[("a", "1")]).as_ref()));
        assert!(constraints_within(None, None));
    }
}
