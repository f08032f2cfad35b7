//! Key states and descriptions: EnableKey, DisableKey, UpdateKeyDescription.

use super::{Caller, Details, Kms, KmsError, KmsResult};
use crate::authz::Action;
use crate::model::{EmptyResponse, KeyIdRequest, KeyState, UpdateKeyDescriptionRequest};
use crate::store::KeyRecord;

impl Kms {
    fn set_state(
        &self,
        caller: &Caller,
        action: Action,
        operation: &'static str,
        key_id: &str,
        to: KeyState,
    ) -> KmsResult<EmptyResponse> {
        self.run(caller, operation, || {
            let key = self.admit(caller, action, key_id, Details::default())?;
            match key.state {
                KeyState::Enabled | KeyState::Disabled => {}
                other => {
                    return Err(KmsError::InvalidState(format!(
                        "key `{}` is in state `{other}`, which does not allow {operation}",
                        key.arn
                    )));
                }
            }
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
            &request.key_id,
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
            &request.key_id,
            KeyState::Disabled,
        )
    }

    /// `UpdateKeyDescription`.
    pub fn update_key_description(
        &self,
        caller: &Caller,
        request: UpdateKeyDescriptionRequest,
    ) -> KmsResult<EmptyResponse> {
        self.run(caller, "UpdateKeyDescription", || {
            if request.description.chars().count() > super::keys::MAX_DESCRIPTION {
                return Err(KmsError::validation(
                    "`Description` must be at most 8192 characters",
                ));
            }
            let key = self.admit(
                caller,
                Action::UpdateKeyDescription,
                &request.key_id,
                Details::default(),
            )?;
            self.store.update_key(&KeyRecord {
                description: request.description,
                ..key
            })?;
            Ok(EmptyResponse {})
        })
    }
}
