//! Key states and descriptions: EnableKey, DisableKey, UpdateKeyDescription,
//! ScheduleKeyDeletion and CancelKeyDeletion, and the maintenance sweep that
//! deletes keys whose waiting period has passed.

use super::Op;
use super::{Caller, Details, Kms, KmsError, KmsResult};
use crate::authz::request::RequestParameters;
use crate::authz::{Action, Principal};
use crate::clock::{DAY_MS, seconds};
use crate::model::{
    CancelKeyDeletionResponse, EmptyResponse, KeyIdRequest, KeyState, ScheduleKeyDeletionRequest,
    ScheduleKeyDeletionResponse, UpdateKeyDescriptionRequest,
};

/// AWS's waiting period for key deletion: 7 to 30 days, 30 by default.
const MIN_PENDING_DAYS: i64 = 7;
const MAX_PENDING_DAYS: i64 = 30;

/// What a maintenance sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MaintenanceReport {
    /// The ARNs of the keys deleted, their waiting period over.
    pub deleted_keys: Vec<String>,
    /// The ARNs of the keys rotated, their rotation due.
    pub rotated_keys: Vec<String>,
    /// The ARNs of the keys whose imported material expired and was deleted.
    pub expired_material: Vec<String>,
}
use crate::store::{KeyRecord, StoreError};

/// The caller keyward acts as when it changes a key on its own schedule:
/// the key's account, in the key's region (recorded as an
/// `AwsServiceEvent` invoked by `kms.amazonaws.com`).
fn key_service(key: &KeyRecord) -> KmsResult<Caller> {
    let account = Principal::account_root(&key.account)
        .map_err(|e| StoreError::Corrupt(format!("key `{}`: {e}", key.arn)))?;
    Ok(Caller::new(account, key.region.clone()))
}

impl Kms {
    /// Makes `change` to `key` on keyward's own schedule: one audited
    /// service event named `event_name`, in one transaction with the change.
    /// The sweep listed `key` outside that transaction, so the change gets
    /// the key as it stands inside it, and only if `due` still holds (a
    /// request may have re-imported, cancelled or disabled in between);
    /// otherwise the event records `KMSInvalidStateException` and nothing
    /// changes. Returns the key's ARN if the change was made.
    pub(super) fn service_event(
        &self,
        key: &KeyRecord,
        event_name: &'static str,
        due: impl Fn(&KeyRecord) -> bool,
        change: impl FnOnce(KeyRecord) -> KmsResult<()>,
    ) -> KmsResult<Option<String>> {
        let request = KeyIdRequest {
            key_id: key.arn.clone(),
        };
        let done = self.run(
            &key_service(key)?,
            Op::service(event_name),
            request,
            |trail, _| {
                trail.key(key);
                let current = self
                    .store
                    .key(&key.region, &key.key_id)?
                    .filter(|current| due(current))
                    .ok_or_else(|| {
                        KmsError::InvalidState(format!(
                            "key `{}` is no longer due for {event_name}",
                            key.arn
                        ))
                    })?;
                change(current)?;
                Ok(EmptyResponse {})
            },
        );
        match done {
            Ok(EmptyResponse {}) => Ok(Some(key.arn.clone())),
            Err(KmsError::InvalidState(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn set_state(
        &self,
        caller: &Caller,
        action: Action,
        operation: &'static str,
        request: &KeyIdRequest,
        to: KeyState,
    ) -> KmsResult<EmptyResponse> {
        self.run(caller, Op::write(operation), request, |trail, request| {
            // The key-state table allows only Enabled and Disabled keys.
            let key = self.admit(caller, trail, action, &request.key_id, Details::default())?;
            if key.state != to {
                self.store.update_key(&KeyRecord { state: to, ..key })?;
            }
            Ok(EmptyResponse {})
        })
    }

    /// `EnableKey`.
    pub fn enable_key(&self, caller: &Caller, request: KeyIdRequest) -> KmsResult<EmptyResponse> {
        self.set_state(
            caller,
            Action::EnableKey,
            "EnableKey",
            &request,
            KeyState::Enabled,
        )
    }

    /// `DisableKey`: cryptographic operations then fail with
    /// `DisabledException` until the key is enabled again.
    pub fn disable_key(&self, caller: &Caller, request: KeyIdRequest) -> KmsResult<EmptyResponse> {
        self.set_state(
            caller,
            Action::DisableKey,
            "DisableKey",
            &request,
            KeyState::Disabled,
        )
    }

    /// `ScheduleKeyDeletion`: the key becomes `PendingDeletion` and is
    /// deleted, with all its material, when the waiting period ends.
    pub fn schedule_key_deletion(
        &self,
        caller: &Caller,
        request: ScheduleKeyDeletionRequest,
    ) -> KmsResult<ScheduleKeyDeletionResponse> {
        self.run(caller, Op::write("ScheduleKeyDeletion"), request, |trail, request| {
            let days = request.pending_window_in_days.unwrap_or(MAX_PENDING_DAYS);
            if !(MIN_PENDING_DAYS..=MAX_PENDING_DAYS).contains(&days) {
                return Err(KmsError::validation(format!(
                    "`PendingWindowInDays` must be between {MIN_PENDING_DAYS} and {MAX_PENDING_DAYS}"
                )));
            }
            let parameters = RequestParameters {
                pending_window_in_days: Some(days),
                ..RequestParameters::NONE
            };
            let key = self.admit(caller, trail, Action::ScheduleKeyDeletion, &request.key_id, Details::parameters(&parameters))?;
            let deletion_ms = self.now_ms().saturating_add(days.saturating_mul(DAY_MS));
            let last_usage = self.last_usage(&key)?;
            let arn = key.arn.clone();
            self.store.update_key(&KeyRecord {
                state: KeyState::PendingDeletion,
                deletion: Some((deletion_ms, days)),
                ..key
            })?;
            Ok(ScheduleKeyDeletionResponse {
                key_id: arn,
                deletion_date: seconds(deletion_ms),
                key_state: KeyState::PendingDeletion,
                pending_window_in_days: days,
                key_last_usage: last_usage,
            })
        })
    }

    /// `CancelKeyDeletion`: the key returns to `Disabled`, as in AWS, or to
    /// `PendingImport` if it is a key for imported material that has none.
    pub fn cancel_key_deletion(
        &self,
        caller: &Caller,
        request: KeyIdRequest,
    ) -> KmsResult<CancelKeyDeletionResponse> {
        self.run(
            caller,
            Op::write("CancelKeyDeletion"),
            request,
            |trail, request| {
                let key = self.admit(
                    caller,
                    trail,
                    Action::CancelKeyDeletion,
                    &request.key_id,
                    Details::default(),
                )?;
                let arn = key.arn.clone();
                let material =
                    self.store
                        .material(&key.region, &key.key_id, key.current_version)?;
                self.store.update_key(&KeyRecord {
                    state: if material.is_some() {
                        KeyState::Disabled
                    } else {
                        KeyState::PendingImport
                    },
                    deletion: None,
                    ..key
                })?;
                Ok(CancelKeyDeletionResponse { key_id: arn })
            },
        )
    }

    /// Deletes every key whose deletion date has passed, rotates every key
    /// whose automatic rotation is due and deletes imported material whose
    /// `ValidTo` has passed (by this service's clock), each as an audited
    /// service event, and seals the audit trail.
    /// `keyward serve` runs this every minute; `keyward maintenance run` runs
    /// it once.
    pub fn run_maintenance(&self) -> KmsResult<MaintenanceReport> {
        let mut report = MaintenanceReport {
            rotated_keys: self.rotate_due_keys()?,
            expired_material: self.expire_imported_material()?,
            ..MaintenanceReport::default()
        };
        let now = self.now_ms();
        for key in self.store.keys_due_for_deletion(now)? {
            let due = |key: &KeyRecord| {
                key.state == KeyState::PendingDeletion
                    && key.deletion.is_some_and(|(at, _)| at <= now)
            };
            let deleted = self.service_event(&key, "DeleteKey", due, |key| {
                Ok(self.store.delete_key(&key.region, &key.key_id)?)
            })?;
            if let Some(arn) = deleted {
                tracing::info!(key = %arn, "deleted a key whose waiting period ended");
                report.deleted_keys.push(arn);
            }
        }
        self.seal_audit()?;
        Ok(report)
    }

    /// `UpdateKeyDescription`.
    pub fn update_key_description(
        &self,
        caller: &Caller,
        request: UpdateKeyDescriptionRequest,
    ) -> KmsResult<EmptyResponse> {
        self.run(
            caller,
            Op::write("UpdateKeyDescription"),
            request,
            |trail, request| {
                if request.description.chars().count() > super::keys::MAX_DESCRIPTION {
                    return Err(KmsError::validation(
                        "`Description` must be at most 8192 characters",
                    ));
                }
                let key = self.admit(
                    caller,
                    trail,
                    Action::UpdateKeyDescription,
                    &request.key_id,
                    Details::default(),
                )?;
                self.store.update_key(&KeyRecord {
                    description: request.description,
                    ..key
                })?;
                Ok(EmptyResponse {})
            },
        )
    }
}
