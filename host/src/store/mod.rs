//! Persistent state: key metadata and wrapped material versions, behind the
//! [`Store`] trait, with SQLite ([`SqliteStore`]) as the embedded default.
//!
//! The store holds only wrapped key material (DESIGN.md §2): whoever reads its
//! files learns nothing without the master key, which lives in a separate file
//! (see [`DataDir`]).

mod datadir;
mod sqlite;

pub use datadir::{DataDir, MASTER_KEY_ENV, write_private};
pub use sqlite::SqliteStore;

/// The length of an audit event hash (SHA-256), as the store keeps it; the
/// audit chain uses the same.
pub const HASH_LEN: usize = 32;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::model::{
    GrantConstraints, GrantOperation, KeyManager, KeySpec, KeyState, KeyUsage, OriginType,
};

/// A storage failure. The service reports it as an internal error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused an operation.
    #[error("the key store database failed")]
    Sqlite(#[from] rusqlite::Error),
    /// The data directory could not be read or written.
    #[error("the data directory `{path}` could not be used")]
    Io {
        /// The file or folder involved.
        path: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A stored value does not decode, so the store was written by something
    /// else or has been damaged.
    #[error("the key store holds a value it cannot read: {0}")]
    Corrupt(String),
    /// A key with this id already exists in the region.
    #[error("a key with this id already exists")]
    Duplicate,
}

impl StoreError {
    /// Turns an I/O error about `path` into a store error (for `map_err`).
    pub fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| Self::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// The result type of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// A KMS key as stored: everything `DescribeKey` reports, and the pointer to
/// the current material version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyRecord {
    /// The key id (a UUID, or `mrk-…` for multi-region keys).
    pub key_id: String,
    /// The region the key lives in.
    pub region: String,
    /// The owning account.
    pub account: String,
    /// The full key ARN.
    pub arn: String,
    /// The customer's description.
    pub description: String,
    /// Creation time, in milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// The key state.
    pub state: KeyState,
    /// The key spec.
    pub key_spec: KeySpec,
    /// The key usage.
    pub key_usage: KeyUsage,
    /// Where the material came from.
    pub origin: OriginType,
    /// Customer- or AWS-managed.
    pub key_manager: KeyManager,
    /// Whether this is a multi-region key.
    pub multi_region: bool,
    /// The material version new encryptions use.
    pub current_version: u32,
    /// The key policy (Cedar).
    pub policy: String,
    /// Changes whenever the key policy or the key's grants change, so that
    /// cached policy sets can tell they are stale.
    pub policy_version: i64,
    /// The key's tags.
    pub tags: BTreeMap<String, String>,
    /// When a key pending deletion will be deleted, in milliseconds since
    /// the epoch, and its waiting period in days.
    pub deletion: Option<(i64, i64)>,
    /// Automatic rotation, when enabled: the period in days and the time of
    /// the next rotation (milliseconds since the epoch).
    pub rotation: Option<(i64, i64)>,
    /// How many on-demand rotations the key has had.
    pub on_demand_rotations: i64,
    /// Imported material (origin `EXTERNAL`), once some has been imported.
    pub imported: Option<ImportedMaterial>,
    /// The names of the aliases that point at the key (read-only here:
    /// filled in by the store, changed through the alias methods).
    pub aliases: Vec<String>,
}

/// What the store keeps about a key's imported material.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImportedMaterial {
    /// The guest's keyed fingerprint of the first material imported, kept
    /// after the material is deleted or expires: only the same material may
    /// be imported again.
    pub fingerprint: Vec<u8>,
    /// When the present material expires, in milliseconds since the epoch
    /// (`None`: it does not expire, or none is present).
    pub valid_to_ms: Option<i64>,
}

/// An alias: a name for a key, per account and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasRecord {
    /// The region.
    pub region: String,
    /// The account.
    pub account: String,
    /// `alias/<name>`.
    pub name: String,
    /// The key it points at.
    pub key_id: String,
    /// Creation time, in milliseconds since the epoch.
    pub created_ms: i64,
    /// Last update, in milliseconds since the epoch.
    pub updated_ms: i64,
}

/// A grant on a key. `Debug` leaves out the grant token, a bearer
/// credential.
#[derive(Clone, PartialEq, Eq)]
pub struct GrantRecord {
    /// The grant id (64 hex digits).
    pub grant_id: String,
    /// The grant token (usable in `GrantTokens`; retires the grant).
    pub grant_token: String,
    /// The key's region.
    pub region: String,
    /// The key's id.
    pub key_id: String,
    /// The grant's name, if any.
    pub name: Option<String>,
    /// Who the grant allows (a principal ARN or a service principal).
    pub grantee_principal: String,
    /// Who may retire it.
    pub retiring_principal: Option<String>,
    /// The account that created it.
    pub issuing_account: String,
    /// What it allows.
    pub operations: Vec<GrantOperation>,
    /// Conditions on the encryption context.
    pub constraints: Option<GrantConstraints>,
    /// Creation time, in milliseconds since the epoch.
    pub created_ms: i64,
}

impl std::fmt::Debug for GrantRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrantRecord")
            .field("grant_id", &self.grant_id)
            .field("region", &self.region)
            .field("key_id", &self.key_id)
            .field("name", &self.name)
            .field("grantee_principal", &self.grantee_principal)
            .field("retiring_principal", &self.retiring_principal)
            .field("issuing_account", &self.issuing_account)
            .field("operations", &self.operations)
            .field("constraints", &self.constraints)
            .finish_non_exhaustive()
    }
}

/// The identity policies of an account.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdentityPolicies {
    /// Changes whenever the account's identity policies change.
    pub version: i64,
    /// The policies, by name, in name order.
    pub policies: Vec<(String, String)>,
}

/// One version of a key's backing material, wrapped under the domain key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Material {
    /// The version number, from 1.
    pub version: u32,
    /// The wrapped blob, opaque to the host.
    pub wrapped: Vec<u8>,
    /// When this version was created, in milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// The public key (DER `SubjectPublicKeyInfo`) of asymmetric material.
    pub public_key: Option<Vec<u8>>,
}

/// Where one page of `ListKeys` starts and how long it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<'a> {
    /// Return only entries after this one (exclusive).
    pub after: Option<&'a str>,
    /// The most entries to return.
    pub limit: usize,
}

/// An audit event on its way into the chain of its region: the event JSON,
/// and what the last-use records need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewEvent {
    /// The region whose chain it joins.
    pub region: String,
    /// When it happened, in milliseconds since the epoch.
    pub time_ms: i64,
    /// The CloudTrail-shaped event, exactly as it is hashed and stored.
    pub json: String,
    /// The keys a successful cryptographic operation used, for
    /// `GetKeyLastUsage`: (region, key id).
    pub used_keys: Vec<(String, String)>,
    /// The operation name, for the last-use record.
    pub event_name: String,
    /// The event id, for the last-use record.
    pub event_id: String,
    /// The request id, for the last-use record.
    pub request_id: String,
}

/// An audit event as stored, with its place in its region's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// The region of the chain.
    pub region: String,
    /// Its position in the chain, from 1.
    pub seq: i64,
    /// When it happened, in milliseconds since the epoch.
    pub time_ms: i64,
    /// The event JSON.
    pub json: String,
    /// This event's hash (see `audit::chain`).
    pub hash: Vec<u8>,
}

/// Where an audit log file stood when the last-use records were last saved:
/// every event before `offset` is reflected in the saved records, and the
/// event ending there has position `seq` and hash `hash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogMark {
    /// The region of the chain.
    pub region: String,
    /// The byte offset in the region's log file (a line boundary).
    pub offset: u64,
    /// The position of the last event before it (0 for none).
    pub seq: i64,
    /// That event's hash (zeros for none).
    pub hash: [u8; HASH_LEN],
}

/// A signed checkpoint of a region's chain (see `audit::chain`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestRecord {
    /// The region of the chain.
    pub region: String,
    /// Its number in the region's digest chain, from 1.
    pub number: i64,
    /// The last event it covers.
    pub through_seq: i64,
    /// That event's hash.
    pub through_hash: Vec<u8>,
    /// When it was made, in milliseconds since the epoch.
    pub time_ms: i64,
    /// The MAC of the previous digest (empty for the first).
    pub prev_mac: Vec<u8>,
    /// The guest's MAC over all of the above.
    pub mac: Vec<u8>,
}

/// The last successful cryptographic use of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUse {
    /// The operation (`Encrypt`, `Decrypt`, ...).
    pub operation: String,
    /// When, in milliseconds since the epoch.
    pub time_ms: i64,
    /// The audit event's id.
    pub event_id: String,
    /// The request's id.
    pub request_id: String,
}

/// How the audit events of requests that change nothing reach the disk.
/// A mutation's event is always fsynced before the mutation commits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AuditSync {
    /// Each event is written to its log file (the OS's page cache) before
    /// the caller gets its answer: it survives kill -9 of keyward, not a
    /// power loss of the machine.
    #[default]
    Os,
    /// Events are fsynced before any caller gets its answer; concurrent
    /// requests share the fsync (a group commit).
    Disk,
}

/// A store transaction that every store call on this thread joins until it
/// is committed; dropping it uncommitted rolls everything back.
pub trait Transaction {
    /// Records, inside this transaction, that the mutation whose audit event
    /// has this id (at `seq` of `region`'s chain) committed: the audit log
    /// writes that event before the commit, and a log left by a crash
    /// between the two asks [`Store::audited_mutation_committed`] whether to
    /// keep it.
    fn record_audited_mutation(&self, event_id: &str, region: &str, seq: i64) -> StoreResult<()>;
    /// Commits. A deletion of key material committed here leaves a wipe of
    /// the write-ahead log due ([`Store::wipe_deleted`]).
    fn commit(self: Box<Self>) -> StoreResult<()>;
}

/// The key store. Every mutation is one transaction; an acknowledged write
/// survives a crash.
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Begins a transaction that the calls of this thread join (and other
    /// threads wait for) until it ends.
    fn begin(&self) -> StoreResult<Box<dyn Transaction + '_>>;

    /// Whether the mutation whose audit event has this id committed (see
    /// [`Transaction::record_audited_mutation`]).
    fn audited_mutation_committed(&self, event_id: &str) -> StoreResult<bool>;

    /// Wipes what a committed deletion of key material left in the
    /// write-ahead log, if a transaction's commit left that due. It may wait
    /// seconds for readers, so the service calls it after a mutation's
    /// audit event is recorded and the audit log's lock let go. A failure
    /// is logged, not returned: the deletion has committed.
    fn wipe_deleted(&self);

    /// Where each region's audit log stood when its last-use records were
    /// last saved.
    fn audit_marks(&self) -> StoreResult<Vec<LogMark>>;

    /// Saves last-use records and the log positions they reflect, in one
    /// transaction. A record replaces a saved one only if it is not older;
    /// a mark replaces a saved one only if it is further along the chain
    /// (a later position: after the file was cut behind keyward's back, the
    /// chain goes on at smaller offsets). Records of
    /// keys that no longer exist are dropped, and so are the committed
    /// mutations a mark has passed.
    fn save_audit_marks(
        &self,
        marks: &[LogMark],
        usage: &[(String, String, KeyUse)],
    ) -> StoreResult<()>;

    /// Whether [`Store::legacy_audit_events`] has any.
    fn has_legacy_audit_events(&self) -> StoreResult<bool>;

    /// The audit events still in the database from before the audit log
    /// files, oldest first within each region.
    fn legacy_audit_events(&self) -> StoreResult<Vec<StoredEvent>>;

    /// Deletes the events of [`Store::legacy_audit_events`] once they are
    /// safely in the log files.
    fn drop_legacy_audit_events(&self) -> StoreResult<()>;

    /// The newest digest of a region.
    fn last_digest(&self, region: &str) -> StoreResult<Option<DigestRecord>>;

    /// The regions that have audit digests.
    fn digest_regions(&self) -> StoreResult<Vec<String>>;

    /// Every digest of a region, oldest first.
    fn digests(&self, region: &str) -> StoreResult<Vec<DigestRecord>>;

    /// Records a digest; fails if its number is taken.
    fn append_digest(&self, digest: &DigestRecord) -> StoreResult<()>;

    /// The last successful cryptographic use of a key, if any.
    fn key_usage(&self, region: &str, key_id: &str) -> StoreResult<Option<KeyUse>>;

    /// When this store began recording key use (milliseconds since the
    /// epoch), recorded as `now_ms` the first time it is asked.
    fn usage_tracking_start(&self, now_ms: i64) -> StoreResult<i64>;

    /// The domain key sealed under the master key, if the store has one.
    fn sealed_domain_key(&self) -> StoreResult<Option<Vec<u8>>>;

    /// Records the sealed domain key. Fails if one is already recorded.
    fn set_sealed_domain_key(&self, sealed: &[u8]) -> StoreResult<()>;

    /// Inserts a new key together with its first material version (none for
    /// a key awaiting imported material).
    fn insert_key(&self, key: &KeyRecord, material: Option<&Material>) -> StoreResult<()>;

    /// The key with this id in this region.
    fn key(&self, region: &str, key_id: &str) -> StoreResult<Option<KeyRecord>>;

    /// One material version of a key.
    fn material(&self, region: &str, key_id: &str, version: u32) -> StoreResult<Option<Material>>;

    /// The keys of an account in a region, ordered by key id.
    fn list_keys(&self, region: &str, account: &str, page: Page<'_>)
    -> StoreResult<Vec<KeyRecord>>;

    /// Replaces a key's policy (and moves its policy version on).
    fn put_key_policy(&self, region: &str, key_id: &str, policy: &str) -> StoreResult<()>;

    /// Adds a grant (and moves its key's policy version on).
    fn insert_grant(&self, grant: &GrantRecord) -> StoreResult<()>;

    /// Deletes a grant (and moves its key's policy version on). Returns
    /// whether it existed.
    fn delete_grant(&self, region: &str, key_id: &str, grant_id: &str) -> StoreResult<bool>;

    /// The grants on a key, ordered by grant id.
    fn grants(&self, region: &str, key_id: &str) -> StoreResult<Arc<Vec<GrantRecord>>>;

    /// The grant with this token.
    fn grant_by_token(&self, token: &str) -> StoreResult<Option<GrantRecord>>;

    /// The grants a principal may retire, in a region, ordered by grant id.
    fn retirable_grants(
        &self,
        region: &str,
        retiring_principal: &str,
    ) -> StoreResult<Vec<GrantRecord>>;

    /// The identity policies of an account.
    fn identity_policies(&self, account: &str) -> StoreResult<Arc<IdentityPolicies>>;

    /// Creates or replaces an identity policy.
    fn put_identity_policy(&self, account: &str, name: &str, document: &str) -> StoreResult<()>;

    /// Deletes an identity policy; returns whether it existed.
    fn delete_identity_policy(&self, account: &str, name: &str) -> StoreResult<bool>;

    /// Writes a key's mutable fields: description, state, tags and deletion.
    fn update_key(&self, key: &KeyRecord) -> StoreResult<()>;

    /// Adds a material version and makes it current, writing the key's
    /// rotation fields from `key` in the same transaction.
    fn add_material(
        &self,
        key: &KeyRecord,
        material: &Material,
        rotation_type: &str,
    ) -> StoreResult<()>;

    /// Replaces all of a key's material with `material` (or with none), and
    /// writes the key's mutable fields from `key`, in one transaction; the
    /// freed pages are wiped as in [`Store::delete_key`].
    fn replace_material(&self, key: &KeyRecord, material: Option<&Material>) -> StoreResult<()>;

    /// Keys whose imported material expired at or before `now_ms`.
    fn keys_with_expired_material(&self, now_ms: i64) -> StoreResult<Vec<KeyRecord>>;

    /// The rotations of a key: (material version, time, `AUTOMATIC` or
    /// `ON_DEMAND`), oldest first; the original material is not a rotation.
    fn rotations(&self, region: &str, key_id: &str) -> StoreResult<Vec<(u32, i64, String)>>;

    /// Enabled keys with automatic rotation due at or before `now_ms`.
    fn keys_due_for_rotation(&self, now_ms: i64) -> StoreResult<Vec<KeyRecord>>;

    /// Keys pending deletion whose date is at or before `now_ms`.
    fn keys_due_for_deletion(&self, now_ms: i64) -> StoreResult<Vec<KeyRecord>>;

    /// Deletes a key with all its material, grants and aliases, and rewrites
    /// the freed pages so that nothing of it stays in the files.
    fn delete_key(&self, region: &str, key_id: &str) -> StoreResult<()>;

    /// Creates an alias; [`StoreError::Duplicate`] if the name is taken.
    fn create_alias(&self, alias: &AliasRecord) -> StoreResult<()>;

    /// Points an existing alias at another key; returns whether it existed.
    fn update_alias(
        &self,
        region: &str,
        account: &str,
        name: &str,
        key_id: &str,
        now_ms: i64,
    ) -> StoreResult<bool>;

    /// Deletes an alias; returns whether it existed.
    fn delete_alias(&self, region: &str, account: &str, name: &str) -> StoreResult<bool>;

    /// The alias with this name.
    fn alias(&self, region: &str, account: &str, name: &str) -> StoreResult<Option<AliasRecord>>;

    /// The aliases of an account in a region, by name; only those of
    /// `key_id` if given.
    fn list_aliases(
        &self,
        region: &str,
        account: &str,
        key_id: Option<&str>,
    ) -> StoreResult<Vec<AliasRecord>>;
}
