//! `X-Amz-Target: TrentService.<Operation>` → the library call, with AWS's
//! JSON shapes, and the one place errors become `__type`.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::service::{Caller, Kms, KmsError, KmsResult};

/// An error as the wire protocol reports it.
#[derive(Debug)]
pub struct WireError {
    /// The HTTP status.
    pub status: u16,
    /// `__type`.
    pub code: &'static str,
    /// `message`.
    pub message: String,
}

impl WireError {
    /// A client error (HTTP 400).
    pub fn client(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: 400,
            code,
            message: message.into(),
        }
    }

    /// The JSON body AWS sends for this error.
    pub fn body(&self) -> Vec<u8> {
        serde_json::json!({ "__type": self.code, "message": self.message })
            .to_string()
            .into_bytes()
    }
}

impl From<KmsError> for WireError {
    fn from(error: KmsError) -> Self {
        let status = match error {
            KmsError::Internal(_) => 500,
            _ => 400,
        };
        Self {
            status,
            code: error.code(),
            message: error.to_string(),
        }
    }
}

/// Parses a request body: malformed JSON or a wrong type is a
/// `SerializationException`, an unknown enum value a `ValidationException`.
fn parse<R: DeserializeOwned>(body: &[u8]) -> Result<R, WireError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| {
        let text = e.to_string();
        if text.starts_with("unknown variant") {
            WireError::client(
                "ValidationException",
                format!("1 validation error detected: {text}"),
            )
        } else {
            WireError::client(
                "SerializationException",
                format!("the request body could not be read: {text}"),
            )
        }
    })
}

fn call<R: DeserializeOwned, S: Serialize>(
    body: &[u8],
    run: impl FnOnce(R) -> KmsResult<S>,
) -> Result<Vec<u8>, WireError> {
    let request = parse(body)?;
    let response = run(request)?;
    serde_json::to_vec(&response).map_err(|e| WireError {
        status: 500,
        code: "KMSInternalException",
        message: format!("the response could not be written: {e}"),
    })
}

macro_rules! operations {
    ($($kind:ident $name:literal => $method:ident,)+) => {
        /// Every operation the wire protocol serves, by its AWS name.
        pub const OPERATIONS: &[&str] = &[$($name,)+];

        /// Runs the operation `name` with a JSON request body.
        pub fn dispatch(kms: &Kms, caller: &Caller, name: &str, body: &[u8]) -> Result<Vec<u8>, WireError> {
            match name {
                $($name => call(body, |request| kms.$method(caller, request)),)+
                _ => Err(WireError::client(
                    "UnknownOperationException",
                    format!("operation `{name}` is not known"),
                )),
            }
        }

        /// Whether an operation changes state (CloudTrail's `readOnly` is
        /// the opposite). Declared with each operation below (`write`,
        /// `read`, or `slow` for a read that can take seconds), so that a new
        /// operation cannot be added without saying which.
        pub fn is_mutation(name: &str) -> bool {
            match name {
                $($name => operations!(@writes $kind),)+
                _ => false,
            }
        }

        /// Whether an operation must run off the async workers: it waits for
        /// an fsync (every mutation), or computes for seconds (`slow`).
        pub fn blocks(name: &str) -> bool {
            match name {
                $($name => operations!(@blocks $kind),)+
                _ => false,
            }
        }
    };
    (@writes write) => { true };
    (@writes read) => { false };
    (@writes slow) => { false };
    (@blocks write) => { true };
    (@blocks read) => { false };
    (@blocks slow) => { true };
}

operations! {
    write "CreateKey" => create_key,
    read "DescribeKey" => describe_key,
    read "ListKeys" => list_keys,
    read "Encrypt" => encrypt,
    read "Decrypt" => decrypt,
    read "ReEncrypt" => re_encrypt,
    read "GenerateDataKey" => generate_data_key,
    read "GenerateDataKeyWithoutPlaintext" => generate_data_key_without_plaintext,
    read "GenerateRandom" => generate_random,
    write "PutKeyPolicy" => put_key_policy,
    read "GetKeyPolicy" => get_key_policy,
    read "ListKeyPolicies" => list_key_policies,
    write "CreateGrant" => create_grant,
    read "ListGrants" => list_grants,
    read "ListRetirableGrants" => list_retirable_grants,
    write "RetireGrant" => retire_grant,
    write "RevokeGrant" => revoke_grant,
    write "EnableKey" => enable_key,
    write "DisableKey" => disable_key,
    write "UpdateKeyDescription" => update_key_description,
    write "CreateAlias" => create_alias,
    write "UpdateAlias" => update_alias,
    write "DeleteAlias" => delete_alias,
    read "ListAliases" => list_aliases,
    write "TagResource" => tag_resource,
    write "UntagResource" => untag_resource,
    read "ListResourceTags" => list_resource_tags,
    write "ScheduleKeyDeletion" => schedule_key_deletion,
    write "CancelKeyDeletion" => cancel_key_deletion,
    write "EnableKeyRotation" => enable_key_rotation,
    write "DisableKeyRotation" => disable_key_rotation,
    read "GetKeyRotationStatus" => get_key_rotation_status,
    write "RotateKeyOnDemand" => rotate_key_on_demand,
    read "ListKeyRotations" => list_key_rotations,
    read "GetKeyLastUsage" => get_key_last_usage,
    // RSA key generation in the guest: RSA_4096 takes seconds.
    slow "GetParametersForImport" => get_parameters_for_import,
    write "ImportKeyMaterial" => import_key_material,
    write "DeleteImportedKeyMaterial" => delete_imported_key_material,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_in_the_readme_coverage_table_is_served() {
        let readme = include_str!("../../../README.md");
        let table: Vec<&str> = readme
            .lines()
            .skip_while(|l| !l.starts_with("## API coverage"))
            .skip(1)
            .take_while(|l| !l.starts_with("## "))
            .filter_map(|l| l.strip_prefix("| "))
            .filter_map(|l| l.split(' ').next())
            .filter(|name| name.chars().next().is_some_and(|c| c.is_ascii_uppercase()))
            .filter(|name| *name != "Operation")
            .collect();
        assert!(!table.is_empty());
        for name in &table {
            assert!(
                OPERATIONS.contains(name),
                "{name} is in the README but not served"
            );
        }
        for name in OPERATIONS {
            assert!(
                table.contains(name),
                "{name} is served but not in the README"
            );
        }
    }

    #[test]
    fn json_errors_are_classified() {
        let bad_json = parse::<crate::model::EncryptRequest>(b"{not json").unwrap_err();
        assert_eq!(bad_json.code, "SerializationException");
        let wrong_type = parse::<crate::model::EncryptRequest>(br#"{"KeyId": 1}"#).unwrap_err();
        assert_eq!(wrong_type.code, "SerializationException");
        let bad_enum =
            parse::<crate::model::CreateKeyRequest>(br#"{"KeySpec": "NOPE"}"#).unwrap_err();
        assert_eq!(bad_enum.code, "ValidationException");
        assert!(parse::<crate::model::ListKeysRequest>(b"").is_ok());
    }
}
