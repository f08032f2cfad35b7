//! Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases. An alias is
//! a name for a key in one account and region. The `KeyId` of DescribeKey
//! and the cryptographic operations accepts an alias name or alias ARN; the
//! operations that manage a key take its id or ARN only, as in AWS
//! (`Action::accepts_alias`).

use super::Op;
use super::error::Violation;
use super::{Caller, Details, Kms, KmsError, KmsResult};
use crate::authz::Action;
use crate::clock::seconds;
use crate::model::{
    AliasListEntry, AliasRequest, DeleteAliasRequest, EmptyResponse, ListAliasesRequest,
    ListAliasesResponse,
};
use crate::store::{AliasRecord, StoreError};

/// The longest alias name.
const MAX_ALIAS_NAME: usize = 256;
/// The pattern of AWS's `AliasNameType`.
const ALIAS_NAME_PATTERN: &str = "^[a-zA-Z0-9:/_-]+$";

/// Checks an alias name as AWS does: first the member's shape (1 to 256
/// characters of `a-zA-Z0-9:/_-`, `ValidationException`), then the
/// `alias/` prefix (`ValidationException`, AWS's words), then KMS's own
/// rules (`InvalidAliasNameException`): something after the prefix, no
/// `:`, not under the reserved `alias/aws/`.
fn check_alias_name(name: &str) -> KmsResult<()> {
    let path = || "aliasName".to_owned();
    if name.is_empty() {
        return Err(KmsError::constraints(&[Violation::too_short(
            name,
            path(),
            1,
        )]));
    }
    if name.chars().count() > MAX_ALIAS_NAME {
        return Err(KmsError::constraints(&[Violation::too_long(
            name,
            path(),
            MAX_ALIAS_NAME,
        )]));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b":/_-".contains(&b))
    {
        return Err(KmsError::constraints(&[Violation::pattern(
            name,
            path(),
            ALIAS_NAME_PATTERN,
        )]));
    }
    let Some(rest) = name.strip_prefix("alias/") else {
        return Err(KmsError::alias_prefix());
    };
    let valid = !rest.is_empty() && !rest.contains(':');
    if !valid {
        return Err(KmsError::InvalidAliasName(format!(
            "alias name `{name}` must be `alias/` and 1 or more of a-z A-Z 0-9 / _ -, at most {MAX_ALIAS_NAME} characters"
        )));
    }
    if name.starts_with("alias/aws/") {
        return Err(KmsError::InvalidAliasName(format!(
            "alias name `{name}` is reserved: `alias/aws/` names AWS managed keys"
        )));
    }
    Ok(())
}

impl Kms {
    /// `CreateAlias`: a new name for a key in the caller's account and region.
    pub fn create_alias(&self, caller: &Caller, request: AliasRequest) -> KmsResult<EmptyResponse> {
        self.run(
            caller,
            Op::write("CreateAlias"),
            request,
            |trail, request| {
                check_alias_name(&request.alias_name)?;
                if request.target_key_id.starts_with("alias/")
                    || request.target_key_id.contains(":alias/")
                {
                    return Err(KmsError::validation(
                        "`TargetKeyId` must be a key id or key ARN, not an alias",
                    ));
                }
                let key = self.admit(
                    caller,
                    trail,
                    Action::CreateAlias,
                    &request.target_key_id,
                    Details::default(),
                )?;
                if key.region != caller.region || key.account != caller.principal.account() {
                    return Err(KmsError::validation(
                        "an alias and its key must be in the same account and region",
                    ));
                }
                let now = self.now_ms();
                let alias = AliasRecord {
                    region: caller.region.clone(),
                    account: key.account.clone(),
                    name: request.alias_name.clone(),
                    key_id: key.key_id.clone(),
                    created_ms: now,
                    updated_ms: now,
                };
                match self.store.create_alias(&alias) {
                    Err(StoreError::Duplicate) => Err(KmsError::AlreadyExists(format!(
                        "alias `{}` already exists",
                        request.alias_name
                    ))),
                    other => Ok(other.map(|()| EmptyResponse {})?),
                }
            },
        )
    }

    /// `UpdateAlias`: points an alias at another key; needs UpdateAlias on
    /// both keys.
    pub fn update_alias(&self, caller: &Caller, request: AliasRequest) -> KmsResult<EmptyResponse> {
        self.run(
            caller,
            Op::write("UpdateAlias"),
            request,
            |trail, request| {
                check_alias_name(&request.alias_name)?;
                let account = caller.principal.account();
                let existing = self
                    .store
                    .alias(&caller.region, account, &request.alias_name)?
                    .ok_or_else(|| {
                        KmsError::NotFound(format!("alias `{}` is not found", request.alias_name))
                    })?;
                self.admit(
                    caller,
                    trail,
                    Action::UpdateAlias,
                    &request.alias_name,
                    Details::default(),
                )?;
                let target = self.admit(
                    caller,
                    trail,
                    Action::UpdateAlias,
                    &request.target_key_id,
                    Details::default(),
                )?;
                if target.region != caller.region || target.account != account {
                    return Err(KmsError::validation(
                        "an alias and its key must be in the same account and region",
                    ));
                }
                self.store.update_alias(
                    &caller.region,
                    account,
                    &existing.name,
                    &target.key_id,
                    self.now_ms(),
                )?;
                Ok(EmptyResponse {})
            },
        )
    }

    /// `DeleteAlias`.
    pub fn delete_alias(
        &self,
        caller: &Caller,
        request: DeleteAliasRequest,
    ) -> KmsResult<EmptyResponse> {
        self.run(
            caller,
            Op::write("DeleteAlias"),
            request,
            |trail, request| {
                check_alias_name(&request.alias_name)?;
                self.admit(
                    caller,
                    trail,
                    Action::DeleteAlias,
                    &request.alias_name,
                    Details::default(),
                )?;
                self.store.delete_alias(
                    &caller.region,
                    caller.principal.account(),
                    &request.alias_name,
                )?;
                Ok(EmptyResponse {})
            },
        )
    }

    /// `ListAliases`: the caller's aliases in the region, or one key's.
    pub fn list_aliases(
        &self,
        caller: &Caller,
        request: ListAliasesRequest,
    ) -> KmsResult<ListAliasesResponse> {
        self.run(
            caller,
            Op::read("ListAliases"),
            request,
            |trail, request| {
                let limit = request.limit.unwrap_or(50);
                if !(1..=100).contains(&limit) {
                    return Err(KmsError::validation("`Limit` must be between 1 and 100"));
                }
                let account = caller.principal.account();
                let key_id = match &request.key_id {
                    Some(key_ref) => {
                        let key = self.resolve(caller, key_ref)?;
                        Some(key.key_id)
                    }
                    None => None,
                };
                self.admit_account(caller, trail, Action::ListAliases)?;
                let limit = usize::try_from(limit).unwrap_or(1);
                let mut aliases: Vec<AliasRecord> = self
                    .store
                    .list_aliases(&caller.region, account, key_id.as_deref())?
                    .into_iter()
                    .filter(|a| {
                        request
                            .marker
                            .as_ref()
                            .is_none_or(|m| a.name.as_str() > m.as_str())
                    })
                    .collect();
                let truncated = aliases.len() > limit;
                aliases.truncate(limit);
                Ok(ListAliasesResponse {
                    next_marker: truncated
                        .then(|| aliases.last().map(|a| a.name.clone()))
                        .flatten(),
                    aliases: aliases
                        .iter()
                        .map(|a| AliasListEntry {
                            alias_arn: format!("arn:aws:kms:{}:{}:{}", a.region, a.account, a.name),
                            alias_name: a.name.clone(),
                            target_key_id: a.key_id.clone(),
                            creation_date: seconds(a.created_ms),
                            last_updated_date: seconds(a.updated_ms),
                        })
                        .collect(),
                    truncated,
                })
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_names_follow_aws_rules() {
        check_alias_name("alias/payroll-2026/v_1").unwrap();
        for bad in ["alias/", "alias/aws/s3", "alias/a:b"] {
            assert!(
                matches!(check_alias_name(bad), Err(KmsError::InvalidAliasName(_))),
                "{bad}"
            );
        }
        for bad in [
            "",
            "payroll",
            "alias/has space",
            &format!("alias/{}", "a".repeat(251)),
        ] {
            assert!(
                matches!(check_alias_name(bad), Err(KmsError::Validation(_))),
                "{bad}"
            );
        }
        assert_eq!(
            check_alias_name("alias/has space").unwrap_err().to_string(),
            "1 validation error detected: Value 'alias/has space' at 'aliasName' failed to \
             satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
        );
    }
}
