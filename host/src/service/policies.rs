//! Key policies (PutKeyPolicy, GetKeyPolicy, ListKeyPolicies) and the
//! operator's admin surface for identity policies, which AWS keeps in IAM and
//! keyward keeps here.

use super::Op;
use super::{Caller, Details, Kms, KmsError, KmsResult};
use crate::authz::request::RequestParameters;
use crate::authz::{self, Action, KeyPolicies, Source};
use crate::model::{
    DEFAULT_POLICY_NAME, EmptyResponse, GetKeyPolicyRequest, GetKeyPolicyResponse,
    ListKeyPoliciesRequest, ListKeyPoliciesResponse, PutKeyPolicyRequest,
};
use crate::store::{GrantRecord, KeyRecord};
use cedar_policy::PolicySet;

/// AWS's limit on a key policy document, in bytes.
const MAX_POLICY_BYTES: usize = 32 * 1024;
/// The longest `Policy` member the API takes (its shape's constraint).
const MAX_POLICY_MEMBER: usize = 131_072;

/// Parses and validates a key policy, as `MalformedPolicyDocumentException`
/// with Cedar's diagnostics if it fails.
pub(super) fn check_key_policy_text(text: &str) -> KmsResult<PolicySet> {
    check_size(text)?;
    authz::parse_policy_set(Source::KeyPolicy, text)
        .map_err(|e| KmsError::MalformedPolicyDocument(format!("the key policy is invalid:\n{e}")))
}

/// The size rules: the member's shape first (`ValidationException`), then
/// the key policy limit, a fault of the document.
fn check_size(text: &str) -> KmsResult<()> {
    if text.is_empty() || text.len() > MAX_POLICY_MEMBER {
        return Err(KmsError::validation(format!(
            "`Policy` must be between 1 and {MAX_POLICY_MEMBER} characters"
        )));
    }
    if text.len() > MAX_POLICY_BYTES {
        return Err(KmsError::MalformedPolicyDocument(format!(
            "the policy is {} bytes, over the limit of {MAX_POLICY_BYTES} bytes",
            text.len()
        )));
    }
    Ok(())
}

fn check_policy_name(name: Option<&str>) -> KmsResult<()> {
    match name {
        None | Some(DEFAULT_POLICY_NAME) => Ok(()),
        Some(other) => Err(KmsError::NotFound(format!(
            "policy `{other}` does not exist; the only key policy is `default`"
        ))),
    }
}

impl Kms {
    /// The lockout safety check: the caller must still be able to call
    /// PutKeyPolicy on `key` under its new policy (`policy`, parsed).
    pub(super) fn check_lockout(
        &self,
        caller: &Caller,
        key: &KeyRecord,
        policy: &PolicySet,
        grants: &[GrantRecord],
    ) -> KmsResult<()> {
        let aws_managed = key.key_manager == crate::model::KeyManager::Aws;
        let policies = KeyPolicies::compiled(&key.arn, aws_managed, policy, grants)
            .map_err(|e| KmsError::MalformedPolicyDocument(e.to_string()))?;
        let decision = self.decide_with(
            caller,
            Action::PutKeyPolicy,
            key,
            &policies,
            Details::default(),
            None,
        )?;
        if decision.allowed {
            Ok(())
        } else {
            Err(KmsError::MalformedPolicyDocument(
                "the new key policy will not allow you to update the key policy in the future \
                 (set `BypassPolicyLockoutSafetyCheck` to override)"
                    .into(),
            ))
        }
    }

    /// `PutKeyPolicy`: replaces the key policy, validated against the schema.
    pub fn put_key_policy(
        &self,
        caller: &Caller,
        request: PutKeyPolicyRequest,
    ) -> KmsResult<EmptyResponse> {
        self.run(
            caller,
            Op::write("PutKeyPolicy"),
            request,
            |trail, request| {
                check_policy_name(request.policy_name.as_deref())?;
                check_size(&request.policy)?;
                let parameters = RequestParameters {
                    bypass_policy_lockout_safety_check: Some(
                        request.bypass_policy_lockout_safety_check == Some(true),
                    ),
                    ..RequestParameters::NONE
                };
                let key = self.admit(
                    caller,
                    trail,
                    Action::PutKeyPolicy,
                    &request.key_id,
                    Details::parameters(&parameters),
                )?;
                let parsed = check_key_policy_text(&request.policy)?;
                let updated = KeyRecord {
                    policy: request.policy.clone(),
                    policy_version: key.policy_version + 1,
                    ..key.clone()
                };
                if request.bypass_policy_lockout_safety_check != Some(true) {
                    let grants = self.store.grants(&key.region, &key.key_id)?;
                    self.check_lockout(caller, &updated, &parsed, &grants)?;
                }
                self.store
                    .put_key_policy(&key.region, &key.key_id, &request.policy)?;
                Ok(EmptyResponse {})
            },
        )
    }

    /// `GetKeyPolicy`.
    pub fn get_key_policy(
        &self,
        caller: &Caller,
        request: GetKeyPolicyRequest,
    ) -> KmsResult<GetKeyPolicyResponse> {
        self.run(
            caller,
            Op::read("GetKeyPolicy"),
            request,
            |trail, request| {
                check_policy_name(request.policy_name.as_deref())?;
                let key = self.admit(
                    caller,
                    trail,
                    Action::GetKeyPolicy,
                    &request.key_id,
                    Details::default(),
                )?;
                Ok(GetKeyPolicyResponse {
                    policy: super::key_policy_text(&key),
                    policy_name: DEFAULT_POLICY_NAME.to_owned(),
                })
            },
        )
    }

    /// `ListKeyPolicies`: always `["default"]`.
    pub fn list_key_policies(
        &self,
        caller: &Caller,
        request: ListKeyPoliciesRequest,
    ) -> KmsResult<ListKeyPoliciesResponse> {
        self.run(
            caller,
            Op::read("ListKeyPolicies"),
            request,
            |trail, request| {
                if request.limit.is_some_and(|l| !(1..=1000).contains(&l)) {
                    return Err(KmsError::validation("`Limit` must be between 1 and 1000"));
                }
                self.admit(
                    caller,
                    trail,
                    Action::ListKeyPolicies,
                    &request.key_id,
                    Details::default(),
                )?;
                Ok(ListKeyPoliciesResponse {
                    policy_names: vec![DEFAULT_POLICY_NAME.to_owned()],
                    truncated: false,
                })
            },
        )
    }

    /// The authorization decision for `action` on a key, with its reasons,
    /// without performing the action: for testing policies against a live
    /// store. The key's state is not checked.
    pub fn explain(
        &self,
        caller: &Caller,
        action: Action,
        key_ref: &str,
        encryption_context: Option<&crate::model::EncryptionContext>,
    ) -> KmsResult<authz::Decision> {
        #[derive(serde::Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct ExplainRequest<'a> {
            key_id: &'a str,
            action: &'a str,
            encryption_context: Option<&'a crate::model::EncryptionContext>,
        }
        let request = ExplainRequest {
            key_id: key_ref,
            action: action.name(),
            encryption_context,
        };
        self.run(caller, Op::read("Explain"), request, |trail, _| {
            let key = self.resolve(caller, key_ref)?;
            trail.key(&key);
            let details = Details {
                encryption_context,
                ..Details::default()
            };
            self.decide_on_key(caller, action, &key, details, None)
        })
    }

    /// Creates or replaces the identity policy `name` of `account` (AWS
    /// keeps these in IAM; keyward here). A policy named
    /// `user/<UserName>/<PolicyName>` or `role/<RoleName>/<PolicyName>` is
    /// attached to that user or role and may be IAM JSON, as IAM's
    /// `PutUserPolicy` and `PutRolePolicy` take it; any other name holds an
    /// account-wide Cedar document. Only the account's root may do this.
    /// Recorded in the audit trail as IAM records it.
    pub fn put_identity_policy(
        &self,
        caller: &Caller,
        account: &str,
        name: &str,
        document: &str,
    ) -> KmsResult<()> {
        let attached = authz::attachment(account, name);
        let operation = identity_operation(attached.as_ref(), true);
        let members = IdentityPolicyMembers::of(account, name, attached.as_ref(), Some(document));
        self.run(caller, Op::iam(operation), members, |trail, _| {
            check_identity_target(account, name)?;
            self.admit_identity_change(caller, trail, operation, account, name)?;
            check_size(document)?;
            authz::parse_policy_set(Source::Identity { account, name }, document).map_err(|e| {
                KmsError::MalformedPolicyDocument(format!("the identity policy is invalid:\n{e}"))
            })?;
            Ok(self.store.put_identity_policy(account, name, document)?)
        })
    }

    /// Only an account's root changes its identity policies (keyward has no
    /// IAM permissions to decide more finely).
    fn admit_identity_change(
        &self,
        caller: &Caller,
        trail: &super::Trail,
        operation: &str,
        account: &str,
        name: &str,
    ) -> KmsResult<()> {
        let principal = &caller.principal;
        let allowed = principal.is_root() && principal.account() == account;
        let reasons = if allowed {
            vec![format!("identity/{account}/root")]
        } else {
            Vec::new()
        };
        trail.decision(&authz::Decision { allowed, reasons });
        if allowed {
            return Ok(());
        }
        let resource = match authz::attachment(account, name) {
            Some(a) => format!("arn:aws:iam::{account}:{}/{}", a.kind, a.owner),
            None => format!("arn:aws:iam::{account}:root"),
        };
        Err(KmsError::AccessDenied(format!(
            "User: {} is not authorized to perform: iam:{operation} on resource: {resource} \
             because only the account's root changes its identity policies in keyward",
            principal.arn()
        )))
    }

    /// The identity policies of `account`, by name.
    pub fn identity_policies(&self, account: &str) -> KmsResult<Vec<(String, String)>> {
        check_identity_target(account, "x")?;
        Ok(self.store.identity_policies(account)?.policies.clone())
    }

    /// Deletes the identity policy `name` of `account` (only the account's
    /// root may; recorded as IAM's `DeleteUserPolicy`, `DeleteRolePolicy`, or
    /// keyward's `DeleteIdentityPolicy`).
    pub fn delete_identity_policy(
        &self,
        caller: &Caller,
        account: &str,
        name: &str,
    ) -> KmsResult<()> {
        let attached = authz::attachment(account, name);
        let operation = identity_operation(attached.as_ref(), false);
        let members = IdentityPolicyMembers::of(account, name, attached.as_ref(), None);
        self.run(caller, Op::iam(operation), members, |trail, _| {
            check_identity_target(account, name)?;
            self.admit_identity_change(caller, trail, operation, account, name)?;
            if self.store.delete_identity_policy(account, name)? {
                Ok(())
            } else {
                Err(KmsError::NotFound(format!(
                    "identity policy `{name}` of account `{account}` does not exist"
                )))
            }
        })
    }
}

/// The event name of an identity-policy change: IAM's for a user's or a
/// role's policy, keyward's own for an account-wide Cedar document.
fn identity_operation(attached: Option<&authz::Attached<'_>>, put: bool) -> &'static str {
    match (attached.map(|a| a.kind), put) {
        (Some("user"), true) => "PutUserPolicy",
        (Some("user"), false) => "DeleteUserPolicy",
        (Some(_), true) => "PutRolePolicy",
        (Some(_), false) => "DeleteRolePolicy",
        (None, true) => "PutIdentityPolicy",
        (None, false) => "DeleteIdentityPolicy",
    }
}

/// An identity-policy change as CloudTrail records IAM's: `userName` or
/// `roleName`, `policyName` and `policyDocument` (and, for an account-wide
/// Cedar document, the account).
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct IdentityPolicyMembers<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    user_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    role_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<&'a str>,
    policy_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy_document: Option<&'a str>,
}

impl<'a> IdentityPolicyMembers<'a> {
    fn of(
        account: &'a str,
        name: &'a str,
        attached: Option<&authz::Attached<'a>>,
        document: Option<&'a str>,
    ) -> Self {
        let owner = |kind: &str| attached.filter(|a| a.kind == kind).map(|a| a.owner);
        Self {
            user_name: owner("user"),
            role_name: owner("role"),
            account: attached.is_none().then_some(account),
            policy_name: attached.map_or(name, |a| a.policy),
            policy_document: document,
        }
    }
}

fn check_identity_target(account: &str, name: &str) -> KmsResult<()> {
    if !authz::is_account_id(account) {
        return Err(KmsError::validation(format!(
            "`{account}` is not a 12-digit account id"
        )));
    }
    let is_name = |text: &str| {
        !text.is_empty()
            && text.len() <= 128
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
    };
    let valid_name = match authz::attachment(account, name) {
        Some(attached) => is_name(attached.owner) && is_name(attached.policy),
        None => is_name(name),
    };
    if !valid_name {
        return Err(KmsError::validation(format!(
            "identity policy name `{name}` must be 1 to 128 letters, digits or +=,.@_-, \
             or `user/<UserName>/<PolicyName>` or `role/<RoleName>/<PolicyName>` with such names"
        )));
    }
    Ok(())
}
