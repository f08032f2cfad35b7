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

/// Parses the request body of `operation`: malformed JSON or a wrong type is
/// a `SerializationException`, an unknown enum value a `ValidationException`.
///
/// A member that keyward does not implement is refused, never skipped: AWS
/// acts on every member it defines, and a caller who sends `Recipient` (to
/// get a plaintext only encrypted to an enclave) or `GranteeServicePrincipal`
/// must not get the plaintext in clear or a broader grant instead.
fn parse<R: DeserializeOwned>(operation: &str, body: &[u8]) -> Result<R, WireError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    let mut unsupported = Vec::new();
    let mut json = serde_json::Deserializer::from_slice(body);
    let parsed = serde_ignored::deserialize(&mut json, |path| unsupported.push(member_path(&path)))
        .and_then(|request| json.end().map(|()| request));
    let request = parsed.map_err(|e| {
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
    })?;
    if !unsupported.is_empty() {
        return Err(KmsError::unsupported_members(operation, &unsupported).into());
    }
    Ok(request)
}

/// A member's path as AWS's shapes name it: `Constraints.Other`, `Tags[0].Extra`.
fn member_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Map { parent, key } => match member_path(parent) {
            above if above.is_empty() => key.clone(),
            above => format!("{above}.{key}"),
        },
        Path::Seq { parent, index } => format!("{}[{index}]", member_path(parent)),
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => member_path(parent),
    }
}

fn call<R: DeserializeOwned, S: Serialize>(
    operation: &str,
    body: &[u8],
    run: impl FnOnce(R) -> KmsResult<S>,
) -> Result<Vec<u8>, WireError> {
    let request = parse(operation, body)?;
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
                $($name => call($name, body, |request| kms.$method(caller, request)),)+
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
    read "Sign" => sign,
    read "Verify" => verify,
    read "GetPublicKey" => get_public_key,
    read "GenerateMac" => generate_mac,
    read "VerifyMac" => verify_mac,
    // A key pair is generated per call: RSA_4096 takes seconds.
    slow "GenerateDataKeyPair" => generate_data_key_pair,
    slow "GenerateDataKeyPairWithoutPlaintext" => generate_data_key_pair_without_plaintext,
    read "DeriveSharedSecret" => derive_shared_secret,
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
        let bad_json = parse::<crate::model::EncryptRequest>("Encrypt", b"{not json").unwrap_err();
        assert_eq!(bad_json.code, "SerializationException");
        let wrong_type =
            parse::<crate::model::EncryptRequest>("Encrypt", br#"{"KeyId": 1}"#).unwrap_err();
        assert_eq!(wrong_type.code, "SerializationException");
        let bad_enum =
            parse::<crate::model::CreateKeyRequest>("CreateKey", br#"{"KeySpec": "NOPE"}"#)
                .unwrap_err();
        assert_eq!(bad_enum.code, "ValidationException");
        parse::<crate::model::ListKeysRequest>("ListKeys", b"").unwrap();
        let trailing = parse::<crate::model::ListKeysRequest>("ListKeys", b"{} {}").unwrap_err();
        assert_eq!(trailing.code, "SerializationException");
    }

    #[test]
    fn members_keyward_does_not_implement_are_refused_by_name() {
        let recipient = parse::<crate::model::DecryptRequest>(
            "Decrypt",
            br#"{"CiphertextBlob": "AAAA", "Recipient": {"AttestationDocument": "AAAA"}}"#,
        )
        .unwrap_err();
        assert_eq!(recipient.code, "UnsupportedOperationException");
        assert!(
            recipient.message.contains("`Recipient`"),
            "{}",
            recipient.message
        );
        assert!(
            recipient.message.contains("`Decrypt`"),
            "{}",
            recipient.message
        );
        let nested = parse::<crate::model::CreateGrantRequest>(
            "CreateGrant",
            br#"{"KeyId": "k", "Constraints": {"EncryptionContextSubset": {}, "Other": 1}}"#,
        )
        .unwrap_err();
        assert_eq!(nested.code, "UnsupportedOperationException");
        assert!(
            nested.message.contains("`Constraints.Other`"),
            "{}",
            nested.message
        );
        let two = parse::<crate::model::ListKeysRequest>(
            "ListKeys",
            br#"{"ResourceOwners": ["a"], "Limit": 1, "Extra": null}"#,
        )
        .unwrap_err();
        assert!(
            two.message.contains("`ResourceOwners`, `Extra`"),
            "{}",
            two.message
        );
    }
}
