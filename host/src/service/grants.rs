//! Grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant and
//! RevokeGrant. A grant is stored as data and compiled into its key's Cedar
//! policy set (`authz::grants`), so that it takes effect, and stops, at once.

use super::Op;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{Caller, Details, Kms, KmsError, KmsResult};
use crate::authz::request::RequestParameters;
use crate::authz::{self, Action, Principal, grants as grant_policy};
use crate::model::{
    CreateGrantRequest, CreateGrantResponse, EmptyResponse, GrantListEntry, GrantOperation,
    KeySpec, ListGrantsRequest, ListGrantsResponse, ListRetirableGrantsRequest, RetireGrantRequest,
    RevokeGrantRequest,
};
use crate::store::{GrantRecord, KeyRecord};
use std::borrow::Cow;

/// `ListGrants` page sizes.
const DEFAULT_GRANT_LIMIT: i64 = 50;
const MAX_GRANT_LIMIT: i64 = 100;

fn random_hex(bytes: usize) -> KmsResult<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| KmsError::Internal(super::InternalError::Entropy(e)))?;
    Ok(hex::encode(buf))
}

fn check_principal(field: &str, value: &str) -> KmsResult<()> {
    if value.is_empty() || value.len() > 256 || grant_policy::grantee_uid(value).is_none() {
        return Err(KmsError::validation(format!(
            "`{field}` `{value}` is not an account, user or role ARN, an account id, or a service principal"
        )));
    }
    Ok(())
}

fn check_grant_name(name: &str) -> KmsResult<()> {
    let valid = !name.is_empty()
        && name.len() <= 256
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":/_-".contains(&b));
    if valid {
        Ok(())
    } else {
        Err(KmsError::validation(format!(
            "grant name `{name}` must be 1 to 256 letters, digits or :/_-"
        )))
    }
}

fn entry(key_arn: &str, grant: &GrantRecord) -> GrantListEntry {
    #[expect(
        clippy::cast_precision_loss,
        reason = "epoch milliseconds fit an f64 exactly"
    )]
    let creation_date = grant.created_ms as f64 / 1000.0;
    GrantListEntry {
        key_id: key_arn.to_owned(),
        grant_id: grant.grant_id.clone(),
        name: grant.name.clone(),
        creation_date,
        grantee_principal: grant.grantee_principal.clone(),
        retiring_principal: grant.retiring_principal.clone(),
        issuing_account: format!("arn:aws:iam::{}:root", grant.issuing_account),
        operations: grant.operations.clone(),
        constraints: grant.constraints.clone(),
    }
}

/// One page of grants after `marker` (a grant id).
fn page(
    grants: Vec<GrantRecord>,
    limit: Option<i64>,
    marker: Option<&str>,
) -> KmsResult<(Vec<GrantRecord>, Option<String>)> {
    let limit = limit.unwrap_or(DEFAULT_GRANT_LIMIT);
    if !(1..=MAX_GRANT_LIMIT).contains(&limit) {
        return Err(KmsError::validation(format!(
            "`Limit` must be between 1 and {MAX_GRANT_LIMIT}"
        )));
    }
    if let Some(marker) = marker
        && (marker.len() != 64 || !marker.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(KmsError::InvalidMarker(format!(
            "marker `{marker}` is not valid"
        )));
    }
    let limit = usize::try_from(limit).unwrap_or(1);
    let mut after: Vec<GrantRecord> = grants
        .into_iter()
        .filter(|g| marker.is_none_or(|m| g.grant_id.as_str() > m))
        .collect();
    let next = if after.len() > limit {
        after
            .get(limit.saturating_sub(1))
            .map(|g| g.grant_id.clone())
    } else {
        None
    };
    after.truncate(limit);
    Ok((after, next))
}

impl Kms {
    /// `CreateGrant`. A grant allowed through another grant (rather than a
    /// policy) may allow only a subset of that grant's operations, under
    /// constraints at least as strict.
    pub fn create_grant(
        &self,
        caller: &Caller,
        request: CreateGrantRequest,
    ) -> KmsResult<CreateGrantResponse> {
        self.run(
            caller,
            Op::write("CreateGrant"),
            request,
            |trail, request| {
                check_principal("GranteePrincipal", &request.grantee_principal)?;
                if let Some(retiring) = &request.retiring_principal {
                    check_principal("RetiringPrincipal", retiring)?;
                }
                if request.operations.is_empty() {
                    return Err(KmsError::validation(
                        "`Operations` must name at least one operation",
                    ));
                }
                if let Some(name) = &request.name {
                    check_grant_name(name)?;
                }
                if let Some(constraints) = &request.constraints {
                    let pairs = constraints
                        .encryption_context_subset
                        .iter()
                        .chain(&constraints.encryption_context_equals);
                    let size: usize = pairs.flatten().map(|(k, v)| k.len() + v.len()).sum();
                    if size > 8192 {
                        return Err(KmsError::validation(
                            "grant constraints must be at most 8192 bytes",
                        ));
                    }
                }
                let parameters = RequestParameters {
                    grant_operations: Some(
                        request
                            .operations
                            .iter()
                            .map(|o| Cow::Borrowed(o.as_str()))
                            .collect(),
                    ),
                    grantee_principal: Some(Cow::Owned(request.grantee_principal.clone())),
                    retiring_principal: request.retiring_principal.clone().map(Cow::Owned),
                    grant_constraint_type: request.constraints.as_ref().and_then(|c| {
                        if c.encryption_context_equals.is_some() {
                            Some(Cow::Borrowed("EncryptionContextEquals"))
                        } else if c.encryption_context_subset.is_some() {
                            Some(Cow::Borrowed("EncryptionContextSubset"))
                        } else {
                            None
                        }
                    }),
                    ..RequestParameters::NONE
                };
                let details = Details::tokens(&request.grant_tokens)?.with(&parameters);
                let (key, decision) = self.admit_with_decision(
                    caller,
                    trail,
                    Action::CreateGrant,
                    &request.key_id,
                    details,
                )?;
                check_fits_key(&key, &request)?;
                let by_policy = decision
                    .reasons
                    .iter()
                    .any(|r| !r.starts_with(grant_policy::ID_PREFIX));
                if !by_policy {
                    self.check_regrant(caller, &key, &decision.reasons, &request)?;
                }
                if request.dry_run == Some(true) {
                    return Err(KmsError::DryRunOperation);
                }

                let mut operations = request.operations.clone();
                operations.sort_by_key(|op| op.as_str());
                operations.dedup();
                let existing = self.store.grants(&key.region, &key.key_id)?;
                if let Some(name) = &request.name
                    && let Some(same) = existing.iter().find(|g| {
                        g.name.as_deref() == Some(name.as_str())
                            && g.grantee_principal == request.grantee_principal
                            && g.retiring_principal == request.retiring_principal
                            && g.operations == operations
                            && g.constraints == request.constraints
                    })
                {
                    return Ok(CreateGrantResponse {
                        grant_token: same.grant_token.clone(),
                        grant_id: same.grant_id.clone(),
                    });
                }
                let grant = GrantRecord {
                    grant_id: random_hex(32)?,
                    grant_token: {
                        let mut token = vec![0u8; 96];
                        getrandom::fill(&mut token)
                            .map_err(|e| KmsError::Internal(super::InternalError::Entropy(e)))?;
                        URL_SAFE_NO_PAD.encode(token)
                    },
                    region: key.region.clone(),
                    key_id: key.key_id.clone(),
                    name: request.name.clone(),
                    grantee_principal: request.grantee_principal.clone(),
                    retiring_principal: request.retiring_principal.clone(),
                    issuing_account: caller.principal.account().to_owned(),
                    operations,
                    constraints: request.constraints.clone(),
                    created_ms: self.now_ms(),
                };
                // Compile before storing, so that a grant that cannot become a
                // policy is never stored.
                grant_policy::to_policy(&key.arn, &grant)
                    .map_err(|e| KmsError::validation(format!("the grant is not valid: {e}")))?;
                self.store.insert_grant(&grant)?;
                Ok(CreateGrantResponse {
                    grant_token: grant.grant_token,
                    grant_id: grant.grant_id,
                })
            },
        )
    }

    /// A grant that allows CreateGrant lets its grantee grant only what it
    /// holds itself.
    fn check_regrant(
        &self,
        caller: &Caller,
        key: &KeyRecord,
        reasons: &[String],
        request: &CreateGrantRequest,
    ) -> KmsResult<()> {
        let grants = self.store.grants(&key.region, &key.key_id)?;
        let allowed = reasons.iter().any(|reason| {
            let id = reason.trim_start_matches(grant_policy::ID_PREFIX);
            grants.iter().any(|parent| {
                parent.grant_id == id
                    && request
                        .operations
                        .iter()
                        .all(|op| parent.operations.contains(op))
                    && grant_policy::constraints_within(
                        request.constraints.as_ref(),
                        parent.constraints.as_ref(),
                    )
            })
        });
        if allowed {
            Ok(())
        } else {
            Err(KmsError::AccessDenied(format!(
                "User: {} is not authorized to perform: kms:CreateGrant on resource: {} because the grant that \
                 allows it does not allow all of the requested operations and constraints",
                caller.principal.arn(),
                key.arn
            )))
        }
    }

    /// `ListGrants`.
    pub fn list_grants(
        &self,
        caller: &Caller,
        request: ListGrantsRequest,
    ) -> KmsResult<ListGrantsResponse> {
        self.run(caller, Op::read("ListGrants"), request, |trail, request| {
            let key = self.admit(
                caller,
                trail,
                Action::ListGrants,
                &request.key_id,
                Details::default(),
            )?;
            let grants: Vec<GrantRecord> = self
                .store
                .grants(&key.region, &key.key_id)?
                .iter()
                .filter(|g| request.grant_id.as_ref().is_none_or(|id| &g.grant_id == id))
                .filter(|g| {
                    request
                        .grantee_principal
                        .as_ref()
                        .is_none_or(|p| &g.grantee_principal == p)
                })
                .cloned()
                .collect();
            let (grants, next_marker) = page(grants, request.limit, request.marker.as_deref())?;
            Ok(ListGrantsResponse {
                grants: grants.iter().map(|g| entry(&key.arn, g)).collect(),
                truncated: next_marker.is_some(),
                next_marker,
            })
        })
    }

    /// `ListRetirableGrants`: grants in the request region whose retiring
    /// principal is the one named.
    pub fn list_retirable_grants(
        &self,
        caller: &Caller,
        request: ListRetirableGrantsRequest,
    ) -> KmsResult<ListGrantsResponse> {
        self.run(
            caller,
            Op::read("ListRetirableGrants"),
            request,
            |trail, request| {
                check_principal("RetiringPrincipal", &request.retiring_principal)?;
                self.admit_account(caller, trail, Action::ListRetirableGrants)?;
                // As in AWS, only a principal of the caller's own account can
                // be named: another account's grants are not the caller's to
                // see. A service principal belongs to no account, so its list
                // holds only the grants the caller's account issued.
                let own = caller.principal.account();
                let account = match Principal::parse(&request.retiring_principal) {
                    Ok(named) => Some(named.account().to_owned()),
                    Err(_) if authz::is_account_id(&request.retiring_principal) => {
                        Some(request.retiring_principal.clone())
                    }
                    Err(_) => None,
                };
                if account.as_deref().is_some_and(|account| account != own) {
                    return Err(KmsError::AccessDenied(format!(
                        "User: {} is not authorized to list the grants retirable by `{}`, \
                         which is not in account {own}",
                        caller.principal.arn(),
                        request.retiring_principal
                    )));
                }
                let mut grants = self
                    .store
                    .retirable_grants(&caller.region, &request.retiring_principal)?;
                grants.retain(|g| g.issuing_account == own);
                let (grants, next_marker) = page(grants, request.limit, request.marker.as_deref())?;
                Ok(ListGrantsResponse {
                    grants: grants
                        .iter()
                        .map(|g| {
                            let arn = super::key_arn(&g.region, &g.issuing_account, &g.key_id);
                            let arn = self
                                .store
                                .key(&g.region, &g.key_id)
                                .ok()
                                .flatten()
                                .map_or(arn, |k| k.arn);
                            entry(&arn, g)
                        })
                        .collect(),
                    truncated: next_marker.is_some(),
                    next_marker,
                })
            },
        )
    }

    /// `RetireGrant`, by token or by key and grant id. Allowed to the
    /// retiring principal, to the grantee if the grant allows RetireGrant,
    /// and to the account that created the grant.
    pub fn retire_grant(
        &self,
        caller: &Caller,
        request: RetireGrantRequest,
    ) -> KmsResult<EmptyResponse> {
        self.run(caller, Op::write("RetireGrant"), request, |trail, request| {
            let grant = match (&request.grant_token, &request.key_id, &request.grant_id) {
                (Some(token), _, _) => self
                    .store
                    .grant_by_token(token)?
                    .ok_or_else(|| KmsError::InvalidGrantToken("the grant token is not valid".into()))?,
                (None, Some(key_id), Some(grant_id)) => {
                    let key = self.resolve(caller, key_id)?;
                    self.store
                        .grants(&key.region, &key.key_id)?
                        .iter()
                        .find(|g| &g.grant_id == grant_id)
                        .cloned()
                        .ok_or_else(|| KmsError::InvalidGrantId(format!("grant `{grant_id}` does not exist")))?
                }
                _ => {
                    return Err(KmsError::validation(
                        "specify `GrantToken`, or `KeyId` and `GrantId`",
                    ));
                }
            };
            let key = self
                .store
                .key(&grant.region, &grant.key_id)?
                .ok_or_else(|| KmsError::NotFound(format!("key `{}` does not exist", grant.key_id)))?;
            trail.key(&key);
            // The retire rules below replace the policies' permits, not
            // their forbids: guardrails (the regional rule) and explicit
            // forbids still apply, through the one decision procedure.
            let decision = self.decide_on_key(caller, Action::RetireGrant, &key, Details::default(), None)?;
            if !decision.allowed && !decision.reasons.is_empty() {
                trail.decision(&decision);
                return Err(KmsError::AccessDenied(authz::denial_message(
                    &caller.principal,
                    Action::RetireGrant,
                    &key.arn,
                    &decision,
                )));
            }
            let me = &caller.principal;
            let is = |named: &str| Principal::parse(named).is_ok_and(|p| p.arn() == me.arn());
            let may_retire = grant.retiring_principal.as_deref().is_some_and(is)
                || (is(&grant.grantee_principal) && grant.operations.contains(&GrantOperation::RetireGrant))
                || (me.is_root() && me.account() == grant.issuing_account);
            trail.decision(&authz::Decision {
                allowed: may_retire,
                reasons: vec![format!("retire rules of grant {}", grant.grant_id)],
            });
            if !may_retire {
                return Err(KmsError::AccessDenied(format!(
                    "User: {} is not authorized to perform: kms:RetireGrant on resource: {} because it is not \
                     the grant's retiring principal, its grantee with RetireGrant, or its issuing account",
                    me.arn(),
                    key.arn
                )));
            }
            if request.dry_run == Some(true) {
                return Err(KmsError::DryRunOperation);
            }
            self.store.delete_grant(&grant.region, &grant.key_id, &grant.grant_id)?;
            Ok(EmptyResponse {})
        })
    }

    /// `RevokeGrant`: needs kms:RevokeGrant on the key.
    pub fn revoke_grant(
        &self,
        caller: &Caller,
        request: RevokeGrantRequest,
    ) -> KmsResult<EmptyResponse> {
        self.run(
            caller,
            Op::write("RevokeGrant"),
            request,
            |trail, request| {
                if request.grant_id.is_empty() || request.grant_id.len() > 128 {
                    return Err(KmsError::validation(
                        "`GrantId` must be between 1 and 128 characters",
                    ));
                }
                let key = self.admit(
                    caller,
                    trail,
                    Action::RevokeGrant,
                    &request.key_id,
                    Details::default(),
                )?;
                if request.dry_run == Some(true) {
                    return Err(KmsError::DryRunOperation);
                }
                if self
                    .store
                    .delete_grant(&key.region, &key.key_id, &request.grant_id)?
                {
                    Ok(EmptyResponse {})
                } else {
                    Err(KmsError::InvalidGrantId(format!(
                        "grant `{}` does not exist on key `{}`",
                        request.grant_id, key.arn
                    )))
                }
            },
        )
    }
}

/// A grant allows only operations its key supports, and constrains the
/// encryption context only of a symmetric encryption key, the one kind that
/// takes one (AWS's rules: `ValidationException` otherwise).
fn check_fits_key(key: &KeyRecord, request: &CreateGrantRequest) -> KmsResult<()> {
    let unfit: Vec<&str> = request
        .operations
        .iter()
        .filter(|op| !op.fits(key.key_spec, key.key_usage))
        .map(|op| op.as_str())
        .collect();
    if !unfit.is_empty() {
        return Err(KmsError::validation(format!(
            "grant operations {} are not supported by key {} (key spec {}, key usage {})",
            unfit.join(", "),
            key.arn,
            key.key_spec,
            key.key_usage
        )));
    }
    if request.constraints.is_some() && key.key_spec != KeySpec::SymmetricDefault {
        return Err(KmsError::validation(format!(
            "grant constraints are supported only for symmetric encryption keys; key {} has key spec {}",
            key.arn, key.key_spec
        )));
    }
    Ok(())
}
