//! The identities file: access key id → secret → principal (ARN and tags).
//!
//! ```json
//! {"identities": [
//!   {"access_key_id": "AKIA...", "secret_access_key": "...",
//!    "principal": "arn:aws:iam::111122223333:user/alice", "tags": {"team": "payments"}},
//!   {"access_key_id": "AKIB...", "secret_access_key_env": "BOB_SECRET",
//!    "principal": "arn:aws:iam::111122223333:role/batch"}
//! ]}
//! ```
//!
//! A secret can come from an environment variable (`secret_access_key_env`)
//! so that the file itself holds none.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::authz::Principal;
use crate::store::write_private;

/// One entry of the identities file. No `Debug`: it can hold a secret.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    access_key_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret_access_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret_access_key_env: Option<String>,
    principal: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    tags: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    identities: Vec<Entry>,
}

/// A known access key: its secret and the principal it authenticates as.
pub struct Identity {
    /// The secret access key.
    pub secret: Zeroizing<String>,
    /// The principal.
    pub principal: Principal,
    /// The credentials as `aws-sigv4` takes them, built once rather than on
    /// every request.
    pub signing: aws_smithy_runtime_api::client::identity::Identity,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

/// Every identity the server accepts, by access key id.
#[derive(Debug, Default)]
pub struct Identities {
    by_access_key: HashMap<String, Identity>,
}

/// Why the identities file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum IdentitiesError {
    /// Reading or writing the file failed.
    #[error("cannot use the identities file `{path}`")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("the identities file `{path}` is invalid: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

impl Identities {
    /// Loads an identities file.
    pub fn load(path: &Path) -> Result<Self, IdentitiesError> {
        let shown = path.display().to_string();
        // The file may hold secrets.
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|source| {
            IdentitiesError::Io {
                path: shown.clone(),
                source,
            }
        })?);
        let invalid = |reason: String| IdentitiesError::Invalid {
            path: shown.clone(),
            reason,
        };
        let file: File = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        let mut identities = Self::default();
        for entry in file.identities {
            let secret = match (entry.secret_access_key, entry.secret_access_key_env) {
                (Some(secret), None) => secret,
                (None, Some(var)) => std::env::var(&var)
                    .map_err(|_| invalid(format!("environment variable `{var}` is not set")))?,
                _ => {
                    return Err(invalid(format!(
                        "`{}` needs exactly one of `secret_access_key` and `secret_access_key_env`",
                        entry.access_key_id
                    )));
                }
            };
            let principal = Principal::parse(&entry.principal)
                .map_err(|e| invalid(e.to_string()))?
                .with_tags(entry.tags);
            identities.insert(&entry.access_key_id, secret, principal);
        }
        Ok(identities)
    }

    /// Adds an identity.
    pub fn insert(&mut self, access_key_id: &str, secret: String, principal: Principal) {
        let secret = Zeroizing::new(secret);
        let signing = aws_credential_types::Credentials::new(
            access_key_id,
            secret.as_str(),
            None,
            None,
            "keyward-identities",
        )
        .into();
        self.by_access_key.insert(
            access_key_id.to_owned(),
            Identity {
                secret,
                principal,
                signing,
            },
        );
    }

    /// The identity of an access key.
    pub fn get(&self, access_key_id: &str) -> Option<&Identity> {
        self.by_access_key.get(access_key_id)
    }

    /// How many identities there are.
    pub fn len(&self) -> usize {
        self.by_access_key.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_access_key.is_empty()
    }
}

/// A development identity written on a server's first start.
#[derive(Debug)]
pub struct DevIdentity {
    /// Its access key id.
    pub access_key_id: String,
    /// The principal (the account root of 111122223333).
    pub principal: String,
}

fn random_text(alphabet: &[u8], len: usize) -> Result<String, std::io::Error> {
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(bytes
        .iter()
        .filter_map(|b| alphabet.get(usize::from(*b) % alphabet.len()).copied())
        .map(char::from)
        .collect())
}

/// Writes `identities.json` with one random development identity (the root
/// of `account`) and a matching AWS shared-credentials file `credentials`
/// with the profile `keyward`, both mode 0600, in `dir`.
pub fn write_dev_identity(dir: &Path, account: &str) -> Result<DevIdentity, IdentitiesError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| IdentitiesError::Io { path, source }
    };
    let upper = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let secret_chars = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let identities_path = dir.join("identities.json");
    let access_key_id = format!(
        "AKIA{}",
        random_text(upper, 16).map_err(io(&identities_path))?
    );
    let secret = Zeroizing::new(random_text(secret_chars, 40).map_err(io(&identities_path))?);
    let principal = Principal::account_root(account)
        .map_err(|e| IdentitiesError::Invalid {
            path: identities_path.display().to_string(),
            reason: e.to_string(),
        })?
        .arn()
        .to_owned();
    let file = File {
        identities: vec![Entry {
            access_key_id: access_key_id.clone(),
            secret_access_key: Some(secret.to_string()),
            secret_access_key_env: None,
            principal: principal.clone(),
            tags: BTreeMap::new(),
        }],
    };
    let json = Zeroizing::new(serde_json::to_string_pretty(&file).map_err(|e| {
        IdentitiesError::Invalid {
            path: identities_path.display().to_string(),
            reason: e.to_string(),
        }
    })?);
    write_private(&identities_path, json.as_bytes()).map_err(io(&identities_path))?;
    let credentials_path = dir.join("credentials");
    let credentials = Zeroizing::new(format!(
        "[keyward]\naws_access_key_id = {access_key_id}\naws_secret_access_key = {}\n",
        secret.as_str()
    ));
    write_private(&credentials_path, credentials.as_bytes()).map_err(io(&credentials_path))?;
    Ok(DevIdentity {
        access_key_id,
        principal,
    })
}
