//! Authorization in Cedar, with AWS KMS's semantics.
//!
//! Four policy sources decide every request (DESIGN.md §4):
//!
//! 1. the guardrails shipped in `policies/guardrails/` (forbid only);
//! 2. the key policy, one per key;
//! 3. the identity policies of the caller's account;
//! 4. the grants on the key, each compiled to one Cedar policy.
//!
//! A request is allowed only if nothing forbids it and (a) the key policy
//! permits the principal, or (b) the key policy permits the principal's
//! account root and an identity policy permits the principal, or (c) a grant
//! permits it. A principal of another account needs its own account's
//! identity policy as well, unless a grant allows it. An account root has
//! every identity permission in its own account, as in AWS. Operations that
//! act on no key (`CreateKey`, `ListKeys`, `GenerateRandom`, ...) are decided
//! by the guardrails and identity policies alone.
//!
//! Policy text is parsed and validated once, when it is set ([`policy`]);
//! [`KeyPolicies`] and identity policy sets are cached by the service and
//! rebuilt only when their version changes. The request path builds a few
//! entities and evaluates already-parsed sets.

mod action;
pub mod grants;
pub mod harness;
pub mod iam;
pub mod policy;
mod principal;
pub mod request;
pub mod schema;
pub mod shipped;

use std::collections::HashMap;

use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Entities, EntityUid, Policy, PolicySet,
    PrincipalConstraint, Request,
};

pub use action::Action;
pub use policy::{Attached, PolicyError, Source, attachment, parse_policy_set};
pub(crate) use principal::account_uid;
pub use principal::{InvalidPrincipal, Principal, PrincipalKind, is_account_id};

use crate::store::GrantRecord;

/// The outcome of authorization, with the policies that decided it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Decision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// The ids of the determining policies or grants: for an allow, the
    /// permits (key policy, identity policy, grant) that allowed it; for a
    /// deny by an explicit forbid, the forbids. Empty for a default deny.
    pub reasons: Vec<String>,
}

impl Decision {
    fn deny(reasons: Vec<String>) -> Self {
        Self {
            allowed: false,
            reasons,
        }
    }

    fn allow(reasons: Vec<String>) -> Self {
        Self {
            allowed: true,
            reasons,
        }
    }
}

/// Policies indexed by principal. A policy whose scope says
/// `principal == X` can only apply to requests by X, so each principal gets
/// a set of the policies naming it plus those that name no one in
/// particular; a request evaluates only its principal's set. This keeps the
/// decision cheap with hundreds of grants, each of which names its grantee.
#[derive(Debug, Clone, Default)]
pub struct IndexedPolicies {
    general: PolicySet,
    by_principal: HashMap<EntityUid, PolicySet>,
    needs_action_hierarchy: bool,
}

impl IndexedPolicies {
    /// Indexes `policies`.
    pub fn new(policies: impl IntoIterator<Item = Policy>) -> Result<Self, PolicyError> {
        let mut general = Vec::new();
        let mut specific: HashMap<EntityUid, Vec<Policy>> = HashMap::new();
        let mut needs_action_hierarchy = false;
        for policy in policies {
            needs_action_hierarchy |= policy::needs_action_hierarchy(&policy);
            match policy.principal_constraint() {
                PrincipalConstraint::Eq(uid) => specific.entry(uid).or_default().push(policy),
                _ => general.push(policy),
            }
        }
        let set_of = |policies: Vec<Policy>| -> Result<PolicySet, PolicyError> {
            PolicySet::from_policies(policies).map_err(|e| PolicyError(e.to_string()))
        };
        let mut by_principal = HashMap::with_capacity(specific.len());
        for (uid, mut own) in specific {
            own.extend(general.iter().cloned());
            by_principal.insert(uid, set_of(own)?);
        }
        Ok(Self {
            general: set_of(general)?,
            by_principal,
            needs_action_hierarchy,
        })
    }

    /// Whether some policy tests an action group in a condition, so that
    /// requests must carry the action hierarchy.
    pub fn needs_action_hierarchy(&self) -> bool {
        self.needs_action_hierarchy
    }

    /// The policies that can apply to requests by `principal`.
    pub fn for_principal(&self, principal: &EntityUid) -> &PolicySet {
        self.by_principal.get(principal).unwrap_or(&self.general)
    }
}

/// The compiled policies of one key: the guardrails, the key policy and its
/// grants together, and the key policy alone (for the account-root check),
/// each indexed by principal.
#[derive(Debug, Clone)]
pub struct KeyPolicies {
    combined: IndexedPolicies,
    key_policy: IndexedPolicies,
}

impl KeyPolicies {
    /// Compiles a key's policy text and grants (`aws_managed` selects the
    /// guardrails of AWS managed keys). The key policy is validated
    /// again here only because it comes from storage; it was validated when
    /// it was set.
    pub fn new(
        key_arn: &str,
        aws_managed: bool,
        key_policy: &str,
        grants: &[GrantRecord],
    ) -> Result<Self, PolicyError> {
        let key_policy = parse_policy_set(Source::KeyPolicy, key_policy)?;
        Self::compiled(key_arn, aws_managed, &key_policy, grants)
    }

    /// [`KeyPolicies::new`] with the key policy already parsed (by
    /// [`parse_policy_set`]), so that a policy being set is parsed once.
    pub fn compiled(
        key_arn: &str,
        aws_managed: bool,
        key_policy: &PolicySet,
        grants: &[GrantRecord],
    ) -> Result<Self, PolicyError> {
        let mut combined: Vec<Policy> = shipped::guardrails_for_keys(aws_managed);
        combined.extend(key_policy.policies().cloned());
        for grant in grants {
            if let Some(policy) = grants::to_policy(key_arn, grant)? {
                combined.push(policy);
            }
        }
        Ok(Self {
            combined: IndexedPolicies::new(combined)?,
            key_policy: IndexedPolicies::new(key_policy.policies().cloned())?,
        })
    }

    /// Whether requests on this key must carry the action hierarchy.
    pub fn needs_action_hierarchy(&self) -> bool {
        self.combined.needs_action_hierarchy()
    }
}

/// One authorization question, in Cedar terms.
#[derive(Debug)]
pub struct Question<'a> {
    /// Who asks.
    pub principal: &'a Principal,
    /// For what.
    pub action: Action,
    /// On what: `Key::"<arn>"` or `Account::"<id>"`.
    pub resource: EntityUid,
    /// The account that owns the resource.
    pub resource_account: &'a str,
    /// The principal, account, key and encryption-context entities.
    pub entities: &'a Entities,
    /// The context record.
    pub context: Context,
}

/// What Cedar said about one policy set.
struct Outcome {
    allowed: bool,
    reasons: Vec<String>,
}

impl Outcome {
    /// Cedar denies with reasons only when a forbid was satisfied.
    fn forbidden(&self) -> bool {
        !self.allowed && !self.reasons.is_empty()
    }
}

fn evaluate(question: &Question<'_>, principal: EntityUid, policies: &IndexedPolicies) -> Outcome {
    let policies = policies.for_principal(&principal);
    let request = match Request::new(
        principal,
        question.action.entity_uid(),
        question.resource.clone(),
        question.context.clone(),
        None,
    ) {
        Ok(request) => request,
        Err(e) => {
            tracing::error!("building a Cedar request failed: {e}");
            return Outcome {
                allowed: false,
                reasons: Vec::new(),
            };
        }
    };
    let response = Authorizer::new().is_authorized(&request, policies, question.entities);
    for error in response.diagnostics().errors() {
        // A policy that errors is skipped, as Cedar specifies; the operator
        // should hear of it.
        tracing::warn!("a policy failed to evaluate: {error}");
    }
    Outcome {
        allowed: response.decision() == CedarDecision::Allow,
        reasons: response
            .diagnostics()
            .reason()
            .map(ToString::to_string)
            .collect(),
    }
}

fn is_grant(id: &str) -> bool {
    id.starts_with(grants::ID_PREFIX)
}

/// Decides a question against a key's policies (`None` for operations on
/// no key) and the identity policies of the principal's account.
pub fn decide(
    question: &Question<'_>,
    key: Option<&KeyPolicies>,
    identity: &IndexedPolicies,
) -> Decision {
    let principal = question.principal;
    // Identity policies; an account root holds every identity permission
    // in its own account.
    let identity_outcome = || {
        if principal.is_root() {
            Outcome {
                allowed: true,
                reasons: vec![format!("identity/{}/root", principal.account())],
            }
        } else {
            evaluate(question, principal.entity_uid(), identity)
        }
    };

    let Some(key) = key else {
        let guard = evaluate(
            question,
            principal.entity_uid(),
            shipped::indexed_guardrails(),
        );
        if guard.forbidden() {
            return Decision::deny(guard.reasons);
        }
        let own_account = question.resource_account == principal.account();
        let identity = identity_outcome();
        if identity.forbidden() {
            return Decision::deny(identity.reasons);
        }
        return if own_account && identity.allowed {
            Decision::allow(identity.reasons)
        } else {
            Decision::deny(Vec::new())
        };
    };

    let direct = evaluate(question, principal.entity_uid(), &key.combined);
    if direct.forbidden() {
        return Decision::deny(direct.reasons);
    }
    let (grant_reasons, policy_reasons): (Vec<String>, Vec<String>) =
        direct.reasons.iter().cloned().partition(|id| is_grant(id));
    let same_account = question.resource_account == principal.account();

    // (c) a grant, alone, suffices, but an identity forbid still applies.
    // (a) the key policy names the principal: enough in the key's account.
    // (b) the key policy names the principal's account root: the identity
    //     policies decide.
    let identity = if principal.is_root() && same_account {
        None
    } else {
        Some(identity_outcome())
    };
    if let Some(identity) = &identity
        && identity.forbidden()
    {
        return Decision::deny(identity.reasons.clone());
    }
    let identity_allows = identity.as_ref().is_none_or(|i| i.allowed);
    let identity_reasons = identity.map(|i| i.reasons).unwrap_or_default();

    if direct.allowed && !policy_reasons.is_empty() && (same_account || identity_allows) {
        let mut reasons = policy_reasons;
        if !same_account {
            reasons.extend(identity_reasons);
        }
        return Decision::allow(reasons);
    }
    if direct.allowed && !grant_reasons.is_empty() {
        return Decision::allow(grant_reasons);
    }
    if identity_allows && !principal.is_root() {
        let root = evaluate(question, account_uid(principal.account()), &key.key_policy);
        if root.allowed {
            let mut reasons = root.reasons;
            reasons.extend(identity_reasons);
            return Decision::allow(reasons);
        }
    }
    Decision::deny(Vec::new())
}

/// AWS's wording of a denial.
pub fn denial_message(
    principal: &Principal,
    action: Action,
    resource_arn: &str,
    decision: &Decision,
) -> String {
    let name = action.iam_name();
    let because = if decision.reasons.is_empty() {
        format!("because no resource-based policy allows the {name} action")
    } else {
        format!("with an explicit deny in {}", decision.reasons.join(", "))
    };
    format!(
        "User: {} is not authorized to perform: {name} on resource: {resource_arn} {because}",
        principal.arn()
    )
}

/// Compiles the identity policies of an account, indexed by principal.
pub fn identity_policy_set(
    account: &str,
    policies: &[(String, String)],
) -> Result<IndexedPolicies, PolicyError> {
    let mut all = Vec::new();
    for (name, text) in policies {
        all.extend(
            parse_policy_set(Source::Identity { account, name }, text)?
                .policies()
                .cloned(),
        );
    }
    IndexedPolicies::new(all)
}
