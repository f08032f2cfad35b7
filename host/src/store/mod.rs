//! Persistent state: key metadata and wrapped material versions, behind the
//! [`Store`] trait, with SQLite ([`SqliteStore`]) as the embedded default.
//!
//! The store holds only wrapped key material (DESIGN.md §2): whoever reads its
//! files learns nothing without the master key, which lives in a separate file
//! (see [`DataDir`]).

mod datadir;
mod sqlite;

pub use datadir::{DataDir, MASTER_KEY_ENV};
pub use sqlite::SqliteStore;

use crate::model::{KeyManager, KeySpec, KeyState, KeyUsage, OriginType};

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

/// The result type of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// A KMS key as stored: everything `DescribeKey` reports, and the pointer to
/// the current material version.
#[derive(Debug, Clone, PartialEq)]
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
}

/// Where one page of `ListKeys` starts and how long it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<'a> {
    /// Return only entries after this one (exclusive).
    pub after: Option<&'a str>,
    /// The most entries to return.
    pub limit: usize,
}

/// The key store. Every mutation is one transaction; an acknowledged write
/// survives a crash.
pub trait Store: Send + Sync + std::fmt::Debug {
    /// The domain key sealed under the master key, if the store has one.
    fn sealed_domain_key(&self) -> StoreResult<Option<Vec<u8>>>;

    /// Records the sealed domain key. Fails if one is already recorded.
    fn set_sealed_domain_key(&self, sealed: &[u8]) -> StoreResult<()>;

    /// Inserts a new key together with its first material version.
    fn insert_key(&self, key: &KeyRecord, material: &Material) -> StoreResult<()>;

    /// The key with this id in this region.
    fn key(&self, region: &str, key_id: &str) -> StoreResult<Option<KeyRecord>>;

    /// One material version of a key.
    fn material(&self, region: &str, key_id: &str, version: u32) -> StoreResult<Option<Material>>;

    /// The keys of an account in a region, ordered by key id.
    fn list_keys(&self, region: &str, account: &str, page: Page<'_>)
    -> StoreResult<Vec<KeyRecord>>;
}
