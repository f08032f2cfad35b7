//! The policies shipped in `policies/` and compiled into the binary: the
//! guardrails, the default key policy and the AWS managed key policy. Each
//! is parsed once per process, against [`super::schema`].

use std::sync::OnceLock;

use cedar_policy::PolicySet;

use super::policy::{PolicyError, Source, parse_policy_set};
use super::schema::broken_shipped_file;

/// The guardrails in `policies/guardrails/`, by file name.
pub const GUARDRAILS: &[(&str, &str)] = &[
    (
        "policies/guardrails/regional.cedar",
        include_str!("../../../policies/guardrails/regional.cedar"),
    ),
    (
        "policies/guardrails/aws-managed-keys.cedar",
        include_str!("../../../policies/guardrails/aws-managed-keys.cedar"),
    ),
];
/// `policies/default-key-policy.cedar`; `{account}` is the key's account.
pub const DEFAULT_KEY_POLICY_TEMPLATE: &str =
    include_str!("../../../policies/default-key-policy.cedar");

static GUARDRAIL_SET: OnceLock<PolicySet> = OnceLock::new();
static INDEXED_GUARDRAILS: OnceLock<super::IndexedPolicies> = OnceLock::new();

/// The guardrails, indexed by principal (for operations on no key, where
/// those only for AWS managed keys cannot apply).
pub fn indexed_guardrails() -> &'static super::IndexedPolicies {
    INDEXED_GUARDRAILS.get_or_init(|| {
        super::IndexedPolicies::new(guardrails_for_keys(false))
            .unwrap_or_else(|e| broken_shipped_file("policies/guardrails", &e.to_string()))
    })
}

/// The guardrails that can apply to a key: all of them for an AWS managed
/// key; for a customer managed key, those not marked
/// `@applies_to("aws-managed-keys")`.
pub fn guardrails_for_keys(aws_managed: bool) -> Vec<cedar_policy::Policy> {
    guardrails()
        .policies()
        .filter(|p| aws_managed || p.annotation("applies_to") != Some("aws-managed-keys"))
        .cloned()
        .collect()
}

/// The guardrails: forbid-only policies applied to every request.
pub fn guardrails() -> &'static PolicySet {
    GUARDRAIL_SET.get_or_init(|| {
        let mut set = PolicySet::new();
        for (file, text) in GUARDRAILS {
            let parsed = parse_policy_set(Source::Guardrail, text)
                .unwrap_or_else(|e| broken_shipped_file(file, &e.to_string()));
            for policy in parsed.policies() {
                // INVARIANT: ids are unique across the shipped guardrails
                // (their @id annotations); a unit test checks it.
                let _ = set.add(policy.clone());
            }
        }
        set
    })
}

/// The default key policy of a key in `account`.
pub fn default_key_policy(account: &str) -> String {
    DEFAULT_KEY_POLICY_TEMPLATE.replace("{account}", account)
}

/// `policies/aws-managed-key-policy.cedar`; `{account}` and `{via_service}`
/// are replaced.
pub const AWS_MANAGED_KEY_POLICY_TEMPLATE: &str =
    include_str!("../../../policies/aws-managed-key-policy.cedar");

/// The policy of the AWS managed key of a service in an account: the
/// account's principals may use it through that service, and read it.
pub fn aws_managed_key_policy(account: &str, via_service: &str) -> String {
    AWS_MANAGED_KEY_POLICY_TEMPLATE
        .replace("{account}", account)
        .replace("{via_service}", via_service)
}

/// Checks the shipped guardrails: they parse, validate, and only forbid.
pub fn check_guardrails() -> Result<(), PolicyError> {
    for (_, text) in GUARDRAILS {
        parse_policy_set(Source::Guardrail, text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_guardrails_and_key_policies_are_valid() {
        check_guardrails().unwrap();
        assert_eq!(guardrails().policies().count(), 3);
        parse_policy_set(Source::KeyPolicy, &default_key_policy("111122223333")).unwrap();
        parse_policy_set(
            Source::KeyPolicy,
            &aws_managed_key_policy("111122223333", "s3.us-east-1.amazonaws.com"),
        )
        .unwrap();
    }
}
