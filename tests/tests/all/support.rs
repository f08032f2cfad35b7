//! Shared set-up for the integration tests.

use std::fmt::Debug;
use std::path::{Path, PathBuf};

use keyward::audit::chain::RegionReport;
use keyward::model::{
    CreateKeyRequest, DescribeKeyRequest, EncryptRequest, EncryptionContext, KeyIdRequest,
    KeyLastUsage, KeyMetadata, ScheduleKeyDeletionRequest, ScheduleKeyDeletionResponse,
    SecretBytes,
};
use keyward::{Caller, Config, Kms, KmsResult, Principal};

/// The account the tests act as.
pub const ACCOUNT: &str = "111122223333";
/// Another account, which owns nothing.
pub const OTHER_ACCOUNT: &str = "444455556666";
/// The region the tests use.
pub const REGION: &str = "us-east-1";

/// A key store in a temporary directory and a caller (the account root).
pub struct Env {
    pub dir: tempfile::TempDir,
    pub kms: Kms,
    pub caller: Caller,
}

impl Env {
    pub fn new() -> Self {
        Self::with_config(|_| {})
    }

    pub fn with_config(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(dir.path());
        adjust(&mut config);
        let (kms, initialized) = Kms::open_or_init(config).unwrap();
        assert!(initialized);
        Self {
            dir,
            kms,
            caller: root(ACCOUNT),
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        data_dir(self.dir.path())
    }

    /// Every file of the data directory (database, WAL, shared memory,
    /// master key, audit log), concatenated: what a scan for leaked secrets
    /// reads.
    pub fn data_dir_bytes(&self) -> Vec<u8> {
        dir_bytes(&self.data_dir())
    }

    /// Creates a key and returns its id.
    pub fn key(&self) -> String {
        self.kms
            .create_key(&self.caller, CreateKeyRequest::default())
            .unwrap()
            .key_metadata
            .key_id
    }

    /// The store's database, opened beside the service (to inspect or
    /// damage it).
    pub fn database(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.data_dir().join("keyward.db")).unwrap()
    }

    /// How many rows `table` of the store's database holds.
    pub fn count_rows(&self, table: &str) -> i64 {
        self.database()
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| {
                row.get(0)
            })
            .unwrap()
    }

    /// `key`'s last use, as `GetKeyLastUsage` reports it.
    pub fn last_usage(&self, key: &str) -> Option<KeyLastUsage> {
        self.kms
            .get_key_last_usage(&self.caller, key_id(key))
            .unwrap()
            .key_last_usage
    }

    /// Schedules `key`'s deletion after `days`.
    pub fn schedule_deletion(&self, key: &str, days: i64) -> ScheduleKeyDeletionResponse {
        self.kms
            .schedule_key_deletion(
                &self.caller,
                ScheduleKeyDeletionRequest {
                    key_id: key.to_owned(),
                    pending_window_in_days: Some(days),
                },
            )
            .unwrap()
    }

    /// The audit log file of `REGION`.
    pub fn audit_log(&self) -> PathBuf {
        self.data_dir().join("audit").join(format!("{REGION}.log"))
    }

    /// Rewrites the audit log of `REGION` line by line (to damage it).
    pub fn edit_audit_log(&self, edit: impl FnOnce(&mut Vec<String>)) {
        let path = self.audit_log();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        edit(&mut lines);
        let mut text = lines.join("\n");
        if !lines.is_empty() {
            text.push('\n');
        }
        std::fs::write(&path, text).unwrap();
    }

    /// The wrapped material versions a key has in the store, oldest first.
    pub fn stored_material(&self, key_id: &str) -> Vec<Vec<u8>> {
        let db = self.database();
        let mut statement = db
            .prepare("SELECT wrapped FROM key_material WHERE key_id = ?1 ORDER BY version")
            .unwrap();
        statement
            .query_map([key_id], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// The metadata of a key that must exist.
    pub fn describe(&self, key_id: &str) -> KeyMetadata {
        self.kms
            .describe_key(
                &self.caller,
                DescribeKeyRequest {
                    key_id: key_id.to_owned(),
                    ..Default::default()
                },
            )
            .unwrap()
            .key_metadata
    }

    /// Encrypts `plaintext` under `key_id` with `context`.
    pub fn encrypt(
        &self,
        key_id: &str,
        plaintext: &[u8],
        context: Option<EncryptionContext>,
    ) -> Vec<u8> {
        self.kms
            .encrypt(
                &self.caller,
                EncryptRequest {
                    key_id: key_id.to_owned(),
                    plaintext: SecretBytes::new(plaintext),
                    encryption_context: context,
                    ..Default::default()
                },
            )
            .unwrap()
            .ciphertext_blob
    }
}

/// Verifies `kms`'s audit trail, failing the test unless every chain is
/// intact.
pub fn verified(kms: &Kms) -> keyward::service::AuditVerification {
    let verification = kms.verify_audit().unwrap();
    assert!(verification.intact(), "{verification:?}");
    verification
}

/// `region`'s chain in `kms`'s audit trail, failing the test unless every
/// chain is intact.
pub fn verified_region(kms: &Kms, region: &str) -> RegionReport {
    let verification = verified(kms);
    let report = verification
        .regions
        .into_iter()
        .find(|r| r.region == region);
    report.unwrap_or_else(|| panic!("no audit chain for `{region}`"))
}

/// Every file under a directory, its subdirectories' included,
/// concatenated.
pub fn dir_bytes(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            all.extend(std::fs::read(&path).unwrap());
        } else if path.is_dir() {
            all.extend(dir_bytes(&path));
        }
    }
    all
}

pub fn data_dir(root: &Path) -> PathBuf {
    root.join("data")
}

pub fn config(root: &Path) -> Config {
    Config {
        regions: vec![REGION.to_owned(), "eu-west-1".to_owned()],
        ..Config::new(data_dir(root))
    }
}

/// The root of `account`, calling in [`REGION`].
pub fn root(account: &str) -> Caller {
    Caller::new(Principal::account_root(account).unwrap(), REGION)
}

/// The IAM user `name` of `account`, calling in [`REGION`].
pub fn user(account: &str, name: &str) -> Caller {
    Caller::new(
        Principal::parse(&format!("arn:aws:iam::{account}:user/{name}")).unwrap(),
        REGION,
    )
}

/// The IAM role `name` of `account`, calling in [`REGION`].
pub fn role(account: &str, name: &str) -> Caller {
    Caller::new(
        Principal::parse(&format!("arn:aws:iam::{account}:role/{name}")).unwrap(),
        REGION,
    )
}

/// A request that names one key.
pub fn key_id(key: &str) -> KeyIdRequest {
    KeyIdRequest {
        key_id: key.to_owned(),
    }
}

/// The AWS error code of a result that must be an error.
pub fn code<T: Debug>(result: KmsResult<T>) -> &'static str {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(e) => e.code(),
    }
}

/// An encryption context from pairs.
pub fn context(pairs: &[(&str, &str)]) -> EncryptionContext {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}
