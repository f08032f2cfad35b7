//! Key management operations: CreateKey, DescribeKey, ListKeys.

use super::Op;
use super::material::material_label;
use super::{Caller, Details, Kms, KmsError, KmsResult, key_arn};
use crate::authz::Action;
use crate::authz::request::RequestParameters;
use crate::clock::{DAY_MS, seconds};
use crate::model::{
    CreateKeyRequest, CreateKeyResponse, DescribeKeyRequest, DescribeKeyResponse, KeyListEntry,
    KeyManager, KeyMetadata, KeySpec, KeyState, KeyUsage, ListKeysRequest, ListKeysResponse,
    OriginType,
};
use crate::store::{KeyRecord, Material, Page};
use std::borrow::Cow;

/// AWS's limit on a key description, in characters.
pub(super) const MAX_DESCRIPTION: usize = 8192;
/// `ListKeys` page sizes.
const DEFAULT_LIST_LIMIT: i64 = 100;
const MAX_LIST_LIMIT: i64 = 1000;

/// A key's `KeyMetadata`.
pub(super) fn metadata(key: &KeyRecord) -> KeyMetadata {
    #[expect(
        clippy::cast_precision_loss,
        reason = "epoch milliseconds fit an f64 exactly until the year 287396"
    )]
    let creation_date = key.created_ms as f64 / 1000.0;
    let (expiration_model, valid_to_ms) = super::imports::expiration(key);
    let algorithms = key.key_spec.algorithms(key.key_usage);
    KeyMetadata {
        aws_account_id: key.account.clone(),
        key_id: key.key_id.clone(),
        arn: key.arn.clone(),
        creation_date,
        enabled: key.state == KeyState::Enabled,
        description: key.description.clone(),
        key_usage: key.key_usage,
        key_state: key.state,
        origin: key.origin,
        key_manager: key.key_manager,
        customer_master_key_spec: key.key_spec,
        key_spec: key.key_spec,
        encryption_algorithms: algorithms.encryption,
        signing_algorithms: algorithms.signing,
        mac_algorithms: algorithms.mac,
        key_agreement_algorithms: algorithms.key_agreement,
        multi_region: key.multi_region,
        deletion_date: key.deletion.map(|(at, _)| seconds(at)),
        pending_deletion_window_in_days: key.deletion.map(|(_, days)| days),
        expiration_model,
        valid_to: valid_to_ms.map(seconds),
    }
}

fn not_yet(what: &str) -> KmsError {
    KmsError::UnsupportedOperation(format!("keyward does not support {what} yet"))
}

impl Kms {
    /// `CreateKey`: a symmetric encryption key whose material is generated
    /// inside the guest and stored only wrapped.
    pub fn create_key(
        &self,
        caller: &Caller,
        request: CreateKeyRequest,
    ) -> KmsResult<CreateKeyResponse> {
        self.run(caller, Op::write("CreateKey"), request, |trail, request| {
            let description = request.description.unwrap_or_default();
            if description.chars().count() > MAX_DESCRIPTION {
                return Err(KmsError::validation(format!(
                    "`Description` must be at most {MAX_DESCRIPTION} characters"
                )));
            }
            let key_spec = match (request.key_spec, request.customer_master_key_spec) {
                (Some(_), Some(_)) => {
                    return Err(KmsError::validation(
                        "specify `KeySpec` or `CustomerMasterKeySpec`, not both",
                    ));
                }
                (Some(spec), None) | (None, Some(spec)) => spec,
                (None, None) => KeySpec::SymmetricDefault,
            };
            let key_usage = match request.key_usage {
                Some(usage) => usage,
                None if key_spec == KeySpec::SymmetricDefault => KeyUsage::EncryptDecrypt,
                None => return Err(KmsError::usage_required()),
            };
            if !key_spec.usages().contains(&key_usage) {
                return Err(KmsError::usage_not_compatible(key_usage, key_spec));
            }
            let core_spec = crate::core::names::key_spec(key_spec)
                .ok_or_else(|| not_yet(&format!("key spec `{key_spec}`")))?;
            let origin = request.origin.unwrap_or(OriginType::AwsKms);
            match origin {
                OriginType::AwsKms | OriginType::External => {}
                OriginType::AwsCloudhsm | OriginType::ExternalKeyStore => {
                    return Err(KmsError::validation(
                        "this origin requires a `CustomKeyStoreId`",
                    ));
                }
            }
            if let Some(store) = request.custom_key_store_id {
                return Err(KmsError::CustomKeyStoreNotFound(format!(
                    "custom key store `{store}` does not exist"
                )));
            }
            if request.xks_key_id.is_some() {
                return Err(KmsError::validation(
                    "`XksKeyId` requires an external key store",
                ));
            }
            let tags = super::tags::validated(
                request.tags.as_deref().unwrap_or_default(),
                &Default::default(),
            )?;
            if request.multi_region == Some(true) {
                return Err(not_yet("multi-region keys"));
            }

            let parameters = RequestParameters {
                bypass_policy_lockout_safety_check: Some(
                    request.bypass_policy_lockout_safety_check == Some(true),
                ),
                key_spec: Some(Cow::Borrowed(key_spec.as_str())),
                key_usage: Some(Cow::Borrowed(key_usage.as_str())),
                key_origin: Some(Cow::Borrowed(origin.as_str())),
                multi_region: Some(request.multi_region == Some(true)),
                request_tags: Some(tags.clone()),
                tag_keys: Some(tags.keys().cloned().map(Cow::Owned).collect()),
                ..RequestParameters::NONE
            };
            self.admit_account_with(
                caller,
                trail,
                Action::CreateKey,
                Details::parameters(&parameters),
            )?;

            let account = caller.principal.account().to_owned();
            let key_id = uuid::Uuid::new_v4().to_string();
            let arn = key_arn(&caller.region, &account, &key_id);
            // A policy given is parsed once, here, and checked for lockout
            // below.
            let given = request
                .policy
                .as_deref()
                .map(super::policies::check_key_policy_text)
                .transpose()?;
            let policy = match &request.policy {
                Some(text) => text.clone(),
                None => crate::authz::iam::default_key_policy(&account),
            };
            let version = 1;
            // A key for imported material starts without any: the
            // customer brings it with ImportKeyMaterial.
            let wrapped = match origin {
                OriginType::External => None,
                _ => Some(
                    self.core
                        .generate_key(&material_label(&arn, version), core_spec)?
                        .map_err(KmsError::guest)?,
                ),
            };
            let now = self.now_ms();
            let record = KeyRecord {
                key_id,
                region: caller.region.clone(),
                account,
                arn,
                description,
                created_ms: now,
                state: if wrapped.is_some() {
                    KeyState::Enabled
                } else {
                    KeyState::PendingImport
                },
                key_spec,
                key_usage,
                origin,
                key_manager: KeyManager::Customer,
                multi_region: false,
                current_version: version,
                policy,
                policy_version: 1,
                tags,
                deletion: None,
                rotation: None,
                on_demand_rotations: 0,
                imported: None,
                aliases: Vec::new(),
            };
            if let Some(given) = &given
                && request.bypass_policy_lockout_safety_check != Some(true)
            {
                self.check_lockout(caller, &record, given, &[])?;
            }
            let material = wrapped.map(|generated| Material {
                version,
                wrapped: generated.blob,
                created_ms: now,
                public_key: generated.public_key,
            });
            self.store.insert_key(&record, material.as_ref())?;
            // As CloudTrail records CreateKey: with the new key as its
            // resource, so that a query for the key finds its creation.
            trail.key(&record);
            Ok(CreateKeyResponse {
                key_metadata: metadata(&record),
            })
        })
    }

    /// The AWS managed key `alias/aws/<service>` of the caller's account,
    /// created on its first use through that service (the caller's
    /// `via_service` must be `<service>.<region>.amazonaws.com`). Anything
    /// else is the missing alias's `NotFoundException`.
    pub(super) fn aws_managed_key_on_first_use(
        &self,
        caller: &Caller,
        region: &str,
        account: &str,
        alias_name: &str,
    ) -> KmsResult<KeyRecord> {
        let not_found = || KmsError::NotFound(format!("alias `{alias_name}` is not found"));
        let Some(service) = alias_name.strip_prefix("alias/aws/") else {
            return Err(not_found());
        };
        let Some(via) = caller.via_service.as_deref() else {
            return Err(not_found());
        };
        let expected = format!("{service}.{region}.amazonaws.com");
        if via != expected
            || region != caller.region
            || account != caller.principal.account()
            || service.is_empty()
        {
            return Err(not_found());
        }
        let key_id = uuid::Uuid::new_v4().to_string();
        let arn = key_arn(region, account, &key_id);
        let now = self.now_ms();
        let version = 1;
        let generated = self
            .core
            .generate_key(
                &material_label(&arn, version),
                crate::core::CoreKeySpec::SymmetricDefault,
            )?
            .map_err(KmsError::guest)?;
        let record = KeyRecord {
            key_id,
            region: region.to_owned(),
            account: account.to_owned(),
            arn,
            description: format!(
                "Default key that protects my {service} data when no other key is defined"
            ),
            created_ms: now,
            state: KeyState::Enabled,
            key_spec: KeySpec::SymmetricDefault,
            key_usage: KeyUsage::EncryptDecrypt,
            origin: OriginType::AwsKms,
            key_manager: KeyManager::Aws,
            multi_region: false,
            current_version: version,
            policy: crate::authz::shipped::aws_managed_key_policy(account, via),
            policy_version: 1,
            tags: Default::default(),
            deletion: None,
            // AWS managed keys rotate every year, and customers cannot change that.
            rotation: Some((365, now.saturating_add(365 * DAY_MS))),
            on_demand_rotations: 0,
            imported: None,
            aliases: Vec::new(),
        };
        self.store.insert_key(
            &record,
            Some(&Material {
                version,
                wrapped: generated.blob,
                created_ms: now,
                public_key: None,
            }),
        )?;
        let alias = crate::store::AliasRecord {
            region: region.to_owned(),
            account: account.to_owned(),
            name: alias_name.to_owned(),
            key_id: record.key_id.clone(),
            created_ms: now,
            updated_ms: now,
        };
        match self.store.create_alias(&alias) {
            Ok(()) => {}
            // Another request created it first: use that one, and delete
            // this one with its material.
            Err(crate::store::StoreError::Duplicate) => {
                self.store.delete_key(region, &record.key_id)?
            }
            Err(e) => return Err(e.into()),
        }
        let winner = self
            .store
            .alias(region, account, alias_name)?
            .ok_or_else(not_found)?;
        self.store
            .key(region, &winner.key_id)?
            .ok_or_else(not_found)
    }

    /// `DescribeKey`.
    pub fn describe_key(
        &self,
        caller: &Caller,
        request: DescribeKeyRequest,
    ) -> KmsResult<DescribeKeyResponse> {
        self.run(
            caller,
            Op::read("DescribeKey"),
            request,
            |trail, request| {
                let details = Details::tokens(&request.grant_tokens)?;
                let key =
                    self.admit(caller, trail, Action::DescribeKey, &request.key_id, details)?;
                Ok(DescribeKeyResponse {
                    key_metadata: metadata(&key),
                })
            },
        )
    }

    /// `ListKeys`: the caller's keys in the request region, in pages.
    pub fn list_keys(
        &self,
        caller: &Caller,
        request: ListKeysRequest,
    ) -> KmsResult<ListKeysResponse> {
        self.run(caller, Op::read("ListKeys"), request, |trail, request| {
            let limit = request.limit.unwrap_or(DEFAULT_LIST_LIMIT);
            if !(1..=MAX_LIST_LIMIT).contains(&limit) {
                return Err(KmsError::validation(format!(
                    "`Limit` must be between 1 and {MAX_LIST_LIMIT}"
                )));
            }
            let marker = request.marker.as_deref();
            if let Some(marker) = marker
                && !super::is_key_id(marker)
            {
                return Err(KmsError::InvalidMarker(format!(
                    "marker `{marker}` is not valid"
                )));
            }
            self.admit_account(caller, trail, Action::ListKeys)?;
            // INVARIANT: 1 <= limit <= 1000, so the cast is exact.
            let limit = usize::try_from(limit).unwrap_or(1);
            let mut keys = self.store.list_keys(
                &caller.region,
                caller.principal.account(),
                Page {
                    after: marker,
                    limit: limit + 1,
                },
            )?;
            let truncated = keys.len() > limit;
            keys.truncate(limit);
            let next_marker = if truncated {
                keys.last().map(|k| k.key_id.clone())
            } else {
                None
            };
            Ok(ListKeysResponse {
                keys: keys
                    .into_iter()
                    .map(|k| KeyListEntry {
                        key_id: k.key_id,
                        key_arn: k.arn,
                    })
                    .collect(),
                next_marker,
                truncated,
            })
        })
    }
}
