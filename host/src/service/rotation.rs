//! Rotation: EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus,
//! RotateKeyOnDemand and ListKeyRotations, and automatic rotation in the
//! maintenance sweep. New material is generated inside the guest; new
//! encryptions use the newest version, and every older version still
//! decrypts (the ciphertext names its version).

use super::Op;
use super::material::material_label;
use super::{Caller, Details, Kms, KmsError, KmsResult};
use crate::authz::Action;
use crate::authz::request::RequestParameters;
use crate::clock::{DAY_MS, seconds};
use crate::model::{
    EmptyResponse, EnableKeyRotationRequest, GetKeyRotationStatusResponse, KeyIdRequest, KeySpec,
    KeyState, ListKeyRotationsRequest, ListKeyRotationsResponse, OriginType,
    RotateKeyOnDemandResponse, RotationsListEntry,
};
use crate::store::{KeyRecord, Material};

/// AWS's rotation period: 90 to 2560 days, 365 by default.
const MIN_PERIOD_DAYS: i64 = 90;
const MAX_PERIOD_DAYS: i64 = 2560;
const DEFAULT_PERIOD_DAYS: i64 = 365;
/// AWS's limit on on-demand rotations per key.
pub(super) const MAX_ON_DEMAND_ROTATIONS: i64 = 25;

fn check_rotatable(key: &KeyRecord) -> KmsResult<()> {
    if key.key_spec != KeySpec::SymmetricDefault {
        return Err(KmsError::UnsupportedOperation(format!(
            "key `{}` is not a symmetric encryption key; only those rotate",
            key.arn
        )));
    }
    if key.origin != OriginType::AwsKms {
        return Err(KmsError::UnsupportedOperation(format!(
            "key `{}` has imported key material, which does not rotate",
            key.arn
        )));
    }
    Ok(())
}

impl Kms {
    /// Generates the next material version of `key` inside the guest and
    /// makes it current; `key` carries the rotation fields to store with it.
    fn rotate(&self, key: &KeyRecord, rotation_type: &str) -> KmsResult<()> {
        let version = key.current_version + 1;
        // INVARIANT: only symmetric keys rotate (`check_rotatable`).
        let generated = self
            .core
            .generate_key(
                &material_label(&key.arn, version),
                crate::core::CoreKeySpec::SymmetricDefault,
            )?
            .map_err(KmsError::guest)?;
        let material = Material {
            version,
            wrapped: generated.blob,
            created_ms: self.now_ms(),
            public_key: None,
        };
        self.store.add_material(key, &material, rotation_type)?;
        Ok(())
    }

    /// `EnableKeyRotation`.
    pub fn enable_key_rotation(
        &self,
        caller: &Caller,
        request: EnableKeyRotationRequest,
    ) -> KmsResult<EmptyResponse> {
        self.run(caller, Op::write("EnableKeyRotation"), request, |trail, request| {
            let days = request
                .rotation_period_in_days
                .unwrap_or(DEFAULT_PERIOD_DAYS);
            if !(MIN_PERIOD_DAYS..=MAX_PERIOD_DAYS).contains(&days) {
                return Err(KmsError::validation(format!(
                    "`RotationPeriodInDays` must be between {MIN_PERIOD_DAYS} and {MAX_PERIOD_DAYS}"
                )));
            }
            let parameters = RequestParameters {
                // AWS's default when the member is left out.
                rotation_period_in_days: Some(days),
                ..RequestParameters::NONE
            };
            let key = self.admit(caller, trail,
                Action::EnableKeyRotation,
                &request.key_id,
                Details::parameters(&parameters),
            )?;
            check_rotatable(&key)?;
            // The schedule keeps its anchor (the last rotation, or when
            // rotation was first enabled): enabling again, as an idempotent
            // deployment does, must not postpone the next rotation.
            let period = days.saturating_mul(DAY_MS);
            let next = match key.rotation {
                Some((old_days, old_next)) => old_next
                    .saturating_sub(old_days.saturating_mul(DAY_MS))
                    .saturating_add(period),
                None => self.now_ms().saturating_add(period),
            };
            self.store.update_key(&KeyRecord {
                rotation: Some((days, next)),
                ..key
            })?;
            Ok(EmptyResponse {})
        })
    }

    /// `DisableKeyRotation`.
    pub fn disable_key_rotation(
        &self,
        caller: &Caller,
        request: KeyIdRequest,
    ) -> KmsResult<EmptyResponse> {
        self.run(
            caller,
            Op::write("DisableKeyRotation"),
            request,
            |trail, request| {
                let key = self.admit(
                    caller,
                    trail,
                    Action::DisableKeyRotation,
                    &request.key_id,
                    Details::default(),
                )?;
                check_rotatable(&key)?;
                self.store.update_key(&KeyRecord {
                    rotation: None,
                    ..key
                })?;
                Ok(EmptyResponse {})
            },
        )
    }

    /// `GetKeyRotationStatus`.
    pub fn get_key_rotation_status(
        &self,
        caller: &Caller,
        request: KeyIdRequest,
    ) -> KmsResult<GetKeyRotationStatusResponse> {
        self.run(
            caller,
            Op::read("GetKeyRotationStatus"),
            request,
            |trail, request| {
                let key = self.admit(
                    caller,
                    trail,
                    Action::GetKeyRotationStatus,
                    &request.key_id,
                    Details::default(),
                )?;
                Ok(GetKeyRotationStatusResponse {
                    key_rotation_enabled: key.rotation.is_some(),
                    key_id: key.arn,
                    rotation_period_in_days: key.rotation.map(|(days, _)| days),
                    next_rotation_date: key.rotation.map(|(_, next)| seconds(next)),
                    on_demand_rotation_start_date: None,
                })
            },
        )
    }

    /// `RotateKeyOnDemand`: a new material version now, at most 25 times
    /// per key. The automatic schedule is unchanged.
    pub fn rotate_key_on_demand(
        &self,
        caller: &Caller,
        request: KeyIdRequest,
    ) -> KmsResult<RotateKeyOnDemandResponse> {
        self.run(caller, Op::write("RotateKeyOnDemand"), request, |trail, request| {
            let key = self.admit(caller, trail, Action::RotateKeyOnDemand, &request.key_id, Details::default())?;
            check_rotatable(&key)?;
            if key.on_demand_rotations >= MAX_ON_DEMAND_ROTATIONS {
                return Err(KmsError::LimitExceeded(format!(
                    "key `{}` has had the most on-demand rotations allowed ({MAX_ON_DEMAND_ROTATIONS})",
                    key.arn
                )));
            }
            let arn = key.arn.clone();
            let counted = KeyRecord {
                on_demand_rotations: key.on_demand_rotations + 1,
                ..key
            };
            self.rotate(&counted, "ON_DEMAND")?;
            Ok(RotateKeyOnDemandResponse { key_id: arn })
        })
    }

    /// `ListKeyRotations`, oldest first.
    pub fn list_key_rotations(
        &self,
        caller: &Caller,
        request: ListKeyRotationsRequest,
    ) -> KmsResult<ListKeyRotationsResponse> {
        self.run(
            caller,
            Op::read("ListKeyRotations"),
            request,
            |trail, request| {
                let limit = request.limit.unwrap_or(100);
                if !(1..=1000).contains(&limit) {
                    return Err(KmsError::validation("`Limit` must be between 1 and 1000"));
                }
                let after: u32 = match &request.marker {
                    Some(marker) => marker.parse().map_err(|_| {
                        KmsError::InvalidMarker(format!("marker `{marker}` is not valid"))
                    })?,
                    None => 0,
                };
                let key = self.admit(
                    caller,
                    trail,
                    Action::ListKeyRotations,
                    &request.key_id,
                    Details::default(),
                )?;
                let limit = usize::try_from(limit).unwrap_or(1);
                let mut rotations: Vec<(u32, i64, String)> = self
                    .store
                    .rotations(&key.region, &key.key_id)?
                    .into_iter()
                    .filter(|(version, _, _)| *version > after)
                    .collect();
                let truncated = rotations.len() > limit;
                rotations.truncate(limit);
                Ok(ListKeyRotationsResponse {
                    next_marker: truncated
                        .then(|| rotations.last().map(|(v, _, _)| v.to_string()))
                        .flatten(),
                    rotations: rotations
                        .into_iter()
                        .map(|(_, at, rotation_type)| RotationsListEntry {
                            key_id: key.arn.clone(),
                            rotation_date: seconds(at),
                            rotation_type,
                        })
                        .collect(),
                    truncated,
                })
            },
        )
    }

    /// Rotates every enabled key whose automatic rotation is due; returns
    /// their ARNs.
    pub(super) fn rotate_due_keys(&self) -> KmsResult<Vec<String>> {
        let now = self.now_ms();
        let mut rotated = Vec::new();
        for key in self.store.keys_due_for_rotation(now)? {
            let due = |key: &KeyRecord| {
                key.state == KeyState::Enabled && key.rotation.is_some_and(|(_, next)| next <= now)
            };
            let done = self.service_event(&key, "RotateKey", due, |key| {
                let Some((days, mut next)) = key.rotation else {
                    return Ok(());
                };
                let period = days.saturating_mul(DAY_MS).max(1);
                while next <= now {
                    next = next.saturating_add(period);
                }
                self.rotate(
                    &KeyRecord {
                        rotation: Some((days, next)),
                        ..key
                    },
                    "AUTOMATIC",
                )
            })?;
            rotated.extend(done);
        }
        Ok(rotated)
    }
}
