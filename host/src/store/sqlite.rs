//! The embedded default store: SQLite in WAL mode, one transaction per
//! mutation, `synchronous = FULL` so that an acknowledged write survives
//! kill -9 and power loss.
//!
//! Reads of keys and material are served from an in-memory cache, because
//! they sit on the path of every cryptographic request. The cache is
//! dropped whenever this connection writes, and whenever SQLite's
//! `data_version` shows that another connection (another keyward process on
//! the same data directory) has committed.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use parking_lot::{ReentrantMutex, ReentrantMutexGuard};
use rusqlite::{Connection, OptionalExtension, Row, params};

use std::sync::Arc;

use super::{
    AliasRecord, DigestRecord, GrantRecord, IdentityPolicies, ImportedMaterial, KeyRecord, KeyUse,
    LogMark, Material, Page, Store, StoreError, StoreResult, StoredEvent, Transaction,
};

/// The schema, applied in order; `PRAGMA user_version` records how many
/// steps a database has had. Later issues add their tables as new steps.
const MIGRATIONS: &[&str] = &[
    r#"
    CREATE TABLE meta (
        name  TEXT PRIMARY KEY,
        value BLOB NOT NULL
    ) STRICT;
    CREATE TABLE keys (
        region          TEXT    NOT NULL,
        key_id          TEXT    NOT NULL,
        account         TEXT    NOT NULL,
        arn             TEXT    NOT NULL UNIQUE,
        description     TEXT    NOT NULL,
        created_ms      INTEGER NOT NULL,
        state           TEXT    NOT NULL,
        key_spec        TEXT    NOT NULL,
        key_usage       TEXT    NOT NULL,
        origin          TEXT    NOT NULL,
        key_manager     TEXT    NOT NULL,
        multi_region    INTEGER NOT NULL,
        current_version INTEGER NOT NULL,
        PRIMARY KEY (region, key_id)
    ) STRICT;
    CREATE INDEX keys_by_account ON keys (region, account, key_id);
    CREATE TABLE key_material (
        region     TEXT    NOT NULL,
        key_id     TEXT    NOT NULL,
        version    INTEGER NOT NULL,
        wrapped    BLOB    NOT NULL,
        created_ms INTEGER NOT NULL,
        PRIMARY KEY (region, key_id, version),
        FOREIGN KEY (region, key_id) REFERENCES keys (region, key_id) ON DELETE CASCADE
    ) STRICT;
"#,
    r#"
    ALTER TABLE keys ADD COLUMN policy TEXT NOT NULL DEFAULT '';
    ALTER TABLE keys ADD COLUMN policy_version INTEGER NOT NULL DEFAULT 1;
    CREATE TABLE grants (
        grant_id           TEXT    PRIMARY KEY,
        grant_token        TEXT    NOT NULL UNIQUE,
        region             TEXT    NOT NULL,
        key_id             TEXT    NOT NULL,
        name               TEXT,
        grantee_principal  TEXT    NOT NULL,
        retiring_principal TEXT,
        issuing_account    TEXT    NOT NULL,
        operations         TEXT    NOT NULL,
        constraints        TEXT,
        created_ms         INTEGER NOT NULL,
        FOREIGN KEY (region, key_id) REFERENCES keys (region, key_id) ON DELETE CASCADE
    ) STRICT;
    CREATE INDEX grants_by_key ON grants (region, key_id, grant_id);
    CREATE INDEX grants_by_retiring ON grants (region, retiring_principal, grant_id);
    CREATE TABLE identity_policies (
        account  TEXT NOT NULL,
        name     TEXT NOT NULL,
        document TEXT NOT NULL,
        PRIMARY KEY (account, name)
    ) STRICT;
    CREATE TABLE identity_versions (
        account TEXT PRIMARY KEY,
        version INTEGER NOT NULL
    ) STRICT;
"#,
    r#"
    ALTER TABLE keys ADD COLUMN tags TEXT NOT NULL DEFAULT '{}';
    CREATE TABLE aliases (
        region     TEXT    NOT NULL,
        account    TEXT    NOT NULL,
        name       TEXT    NOT NULL,
        key_id     TEXT    NOT NULL,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        PRIMARY KEY (region, account, name),
        FOREIGN KEY (region, key_id) REFERENCES keys (region, key_id) ON DELETE CASCADE
    ) STRICT;
    CREATE INDEX aliases_by_key ON aliases (region, key_id);
"#,
    r#"
    ALTER TABLE keys ADD COLUMN deletion_ms INTEGER;
    ALTER TABLE keys ADD COLUMN pending_window_days INTEGER;
"#,
    r#"
    ALTER TABLE keys ADD COLUMN rotation_period_days INTEGER;
    ALTER TABLE keys ADD COLUMN next_rotation_ms INTEGER;
    ALTER TABLE keys ADD COLUMN on_demand_rotations INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE key_material ADD COLUMN rotation_type TEXT;
"#,
    r#"
    CREATE TABLE audit_events (
        region    TEXT    NOT NULL,
        seq       INTEGER NOT NULL,
        time_ms   INTEGER NOT NULL,
        event     TEXT    NOT NULL,
        prev_hash BLOB    NOT NULL,
        hash      BLOB    NOT NULL,
        PRIMARY KEY (region, seq)
    ) STRICT;
    CREATE TABLE audit_digests (
        region       TEXT    NOT NULL,
        number       INTEGER NOT NULL,
        through_seq  INTEGER NOT NULL,
        through_hash BLOB    NOT NULL,
        time_ms      INTEGER NOT NULL,
        prev_mac     BLOB    NOT NULL,
        mac          BLOB    NOT NULL,
        PRIMARY KEY (region, number)
    ) STRICT;
    -- Moves on with every change to what the read cache holds, so that a
    -- commit elsewhere that only appends audit events leaves it valid.
    CREATE TABLE generation (n INTEGER NOT NULL) STRICT;
    INSERT INTO generation (n) VALUES (0);
    CREATE TRIGGER keys_insert AFTER INSERT ON keys
        BEGIN UPDATE generation SET n = n + 1; END;
    CREATE TRIGGER keys_update AFTER UPDATE ON keys
        BEGIN UPDATE generation SET n = n + 1; END;
    CREATE TRIGGER keys_delete AFTER DELETE ON keys
        BEGIN UPDATE generation SET n = n + 1; END;
    CREATE TRIGGER key_material_insert AFTER INSERT ON key_material
        BEGIN UPDATE generation SET n = n + 1; END;
    CREATE TRIGGER key_material_update AFTER UPDATE ON key_material
        BEGIN UPDATE generation SET n = n + 1; END;
    CREATE TRIGGER key_material_delete AFTER DELETE ON key_material
        BEGIN UPDATE generation SET n = n + 1; END;
    CREATE TRIGGER grants_insert AFTER INSERT ON grants
        BEGIN UPDATE generation SET n = n + 1; END;
    CREATE TRIGGER grants_update AFTER UPDATE ON grants
        BEGIN UPDATE generation SET n = n + 1; END;
    CREATE TRIGGER grants_delete AFTER DELETE ON grants
        BEGIN UPDATE generation SET n = n + 1; END;
    CREATE TRIGGER aliases_insert AFTER INSERT ON aliases
        BEGIN UPDATE generation SET n = n + 1; END;
    CREATE TRIGGER aliases_update AFTER UPDATE ON aliases
        BEGIN UPDATE generation SET n = n + 1; END;
    CREATE TRIGGER aliases_delete AFTER DELETE ON aliases
        BEGIN UPDATE generation SET n = n + 1; END;
    CREATE TRIGGER identity_policies_insert AFTER INSERT ON identity_policies
        BEGIN UPDATE generation SET n = n + 1; END;
    CREATE TRIGGER identity_policies_update AFTER UPDATE ON identity_policies
        BEGIN UPDATE generation SET n = n + 1; END;
    CREATE TRIGGER identity_policies_delete AFTER DELETE ON identity_policies
        BEGIN UPDATE generation SET n = n + 1; END;
    CREATE TRIGGER identity_versions_insert AFTER INSERT ON identity_versions
        BEGIN UPDATE generation SET n = n + 1; END;
    CREATE TRIGGER identity_versions_update AFTER UPDATE ON identity_versions
        BEGIN UPDATE generation SET n = n + 1; END;
    CREATE TRIGGER identity_versions_delete AFTER DELETE ON identity_versions
        BEGIN UPDATE generation SET n = n + 1; END;
    CREATE TABLE key_usage (
        region     TEXT    NOT NULL,
        key_id     TEXT    NOT NULL,
        operation  TEXT    NOT NULL,
        time_ms    INTEGER NOT NULL,
        event_id   TEXT    NOT NULL,
        request_id TEXT    NOT NULL,
        PRIMARY KEY (region, key_id),
        FOREIGN KEY (region, key_id) REFERENCES keys (region, key_id) ON DELETE CASCADE
    ) STRICT;
"#,
    r#"
    ALTER TABLE keys ADD COLUMN import_fingerprint BLOB;
    ALTER TABLE keys ADD COLUMN material_valid_to INTEGER;
    CREATE INDEX keys_by_material_expiry ON keys (material_valid_to)
        WHERE material_valid_to IS NOT NULL;
"#,
    // The audit events move to append-only files (`audit::log`); the
    // `audit_events` table stays only until its rows are moved out.
    r#"
    -- Pruned once the log's marks pass them: every line before a mark is
    -- marked recorded in the file.
    CREATE TABLE audit_committed (
        event_id TEXT    PRIMARY KEY,
        region   TEXT    NOT NULL,
        seq      INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE audit_marks (
        region      TEXT    PRIMARY KEY,
        byte_offset INTEGER NOT NULL,
        seq         INTEGER NOT NULL,
        hash        BLOB    NOT NULL
    ) STRICT;
"#,
    // Asymmetric keys: the public key of each material version, kept in
    // the clear as AWS returns it (the private half stays wrapped).
    r#"
    ALTER TABLE key_material ADD COLUMN public_key BLOB;
"#,
];

const DOMAIN_KEY: &str = "sealed_domain_key";

/// SQLite: one connection for keys, policies and the records of audited
/// mutations, behind a mutex; one more for the audit log's own records
/// (marks and last uses), so that those never wait on or join a transaction
/// of the first.
#[derive(Debug)]
pub struct SqliteStore {
    /// Held by an open [`Transaction`] for its whole life, and for the length
    /// of every call, so that no other thread reads or writes through `inner`
    /// in the middle of a transaction. Reentrant: the transaction's own
    /// thread passes.
    unit: ReentrantMutex<()>,
    inner: Mutex<Inner>,
    /// Only reads, for the audit log's question (did a mutation commit?),
    /// asked under the log's own locks: never waiting for `unit`, which a
    /// mutation holds while it waits for those locks.
    reader: Mutex<Connection>,
    /// A deletion of key material committed and the WAL still holds older
    /// copies of its pages: [`Store::wipe_deleted`] checkpoints. Set only by
    /// a commit and cleared only by the wipe, so that no other transaction
    /// (one that rolls back between the two) can cancel it; atomic, so that
    /// the wipe after every other mutation costs no lock.
    wipe_due: std::sync::atomic::AtomicBool,
}

/// The store's connection, locked for one call.
struct Locked<'a> {
    // INVARIANT: declared before `_unit`, so dropped first.
    inner: MutexGuard<'a, Inner>,
    _unit: ReentrantMutexGuard<'a, ()>,
}

impl std::ops::Deref for Locked<'_> {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

impl std::ops::DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut Inner {
        &mut self.inner
    }
}

#[derive(Debug)]
struct Inner {
    conn: Connection,
    cache: Cache,
    /// Key material was deleted inside the open transaction: the WAL is to
    /// be wiped if it commits.
    wipe_if_committed: bool,
}

/// Keys and material versions read since the last change, by region and id.
#[derive(Debug, Default)]
struct Cache {
    /// SQLite's `data_version` when the cache was last checked.
    data_version: i64,
    /// The `generation` row when the cache was filled.
    generation: i64,
    keys: HashMap<String, HashMap<String, KeyRecord>>,
    material: HashMap<String, HashMap<(String, u32), Material>>,
    grants: HashMap<String, HashMap<String, Arc<Vec<GrantRecord>>>>,
    identity: HashMap<String, Arc<IdentityPolicies>>,
}

impl Inner {
    /// Drops the cache if another connection has committed a change to
    /// what it holds since it was filled. `data_version` moves with every
    /// commit elsewhere, the audit connection's included; the `generation`
    /// row only with changes to keys, material, grants, aliases and identity
    /// policies.
    fn refresh(&mut self) -> StoreResult<()> {
        let version: i64 = self
            .conn
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |row| row.get(0))?;
        if version == self.cache.data_version {
            return Ok(());
        }
        let generation: i64 = self
            .conn
            .prepare_cached("SELECT n FROM generation")?
            .query_row([], |row| row.get(0))?;
        if generation == self.cache.generation {
            self.cache.data_version = version;
        } else {
            self.cache = Cache {
                data_version: version,
                generation,
                ..Cache::default()
            };
        }
        Ok(())
    }

    /// Drops the cache after a write on this connection (which does not
    /// change `data_version`).
    fn invalidate(&mut self) {
        // A generation no read can match, so that the next refresh also
        // rereads it.
        self.cache = Cache {
            data_version: self.cache.data_version,
            generation: -1,
            ..Cache::default()
        };
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its
    /// schema up to date.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let mut conn = connect(path, "FULL")?;
        migrate(&mut conn)?;
        Ok(Self {
            unit: ReentrantMutex::new(()),
            inner: Mutex::new(Inner {
                conn,
                cache: Cache::default(),
                wipe_if_committed: false,
            }),
            reader: Mutex::new(connect(path, "NORMAL")?),
            wipe_due: std::sync::atomic::AtomicBool::new(false),
        })
    }

    fn lock(&self) -> Locked<'_> {
        let unit = self.unit.lock();
        // SQLite rolls back an unfinished transaction itself, and the cache
        // is only ever dropped or filled with committed rows, so a panic
        // while holding the lock leaves nothing inconsistent.
        let inner = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Locked { inner, _unit: unit }
    }
}

fn connect(path: &Path, synchronous: &str) -> StoreResult<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", synchronous)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Freed pages are overwritten, so that deleted wrapped material does
    // not linger in the file.
    conn.pragma_update(None, "secure_delete", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

/// An open transaction on the store's main connection.
struct SqliteTransaction<'a> {
    store: &'a SqliteStore,
    // Held until the transaction ends: other threads wait.
    _unit: ReentrantMutexGuard<'a, ()>,
    done: bool,
}

impl Transaction for SqliteTransaction<'_> {
    fn record_audited_mutation(&self, event_id: &str, region: &str, seq: i64) -> StoreResult<()> {
        let inner = self.store.lock();
        inner
            .conn
            .prepare_cached(
                "INSERT INTO audit_committed (event_id, region, seq) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![event_id, region, seq])?;
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> StoreResult<()> {
        let mut inner = self.store.lock();
        let committed = inner.conn.execute_batch("COMMIT");
        self.done = true;
        let wipe = std::mem::take(&mut inner.wipe_if_committed);
        if let Err(e) = committed {
            let _ = inner.conn.execute_batch("ROLLBACK");
            inner.invalidate();
            return Err(e.into());
        }
        if wipe {
            self.store
                .wipe_due
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(())
    }
}

impl Drop for SqliteTransaction<'_> {
    fn drop(&mut self) {
        if !self.done {
            let mut inner = self.store.lock();
            let _ = inner.conn.execute_batch("ROLLBACK");
            // The cache may hold rows of the rolled-back transaction.
            inner.invalidate();
            inner.wipe_if_committed = false;
        }
    }
}

/// Moves the write-ahead log into the database and truncates it, so that no
/// older copy of a page (of deleted material) survives in the WAL file.
/// Runs after the deletion committed, so a failure is logged, not returned.
/// SQLite reports a checkpoint that another connection (a reader) kept
/// from completing as busy, without waiting: this retries for up to five
/// seconds.
fn checkpoint(conn: &Connection) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
            row.get::<_, i64>(0)
        }) {
            Ok(0) => return,
            Ok(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Ok(_) => {
                tracing::warn!("the write-ahead log was not truncated after a deletion: busy");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "the write-ahead log was not truncated after a deletion");
                return;
            }
        }
    }
}

fn digest_record(row: &Row<'_>) -> rusqlite::Result<DigestRecord> {
    Ok(DigestRecord {
        region: row.get(0)?,
        number: row.get(1)?,
        through_seq: row.get(2)?,
        through_hash: row.get(3)?,
        time_ms: row.get(4)?,
        prev_mac: row.get(5)?,
        mac: row.get(6)?,
    })
}

fn stored_event(row: &Row<'_>) -> rusqlite::Result<StoredEvent> {
    Ok(StoredEvent {
        region: row.get(0)?,
        seq: row.get(1)?,
        time_ms: row.get(2)?,
        json: row.get(3)?,
        hash: row.get(4)?,
    })
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let done: usize = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    for (step, sql) in MIGRATIONS.iter().enumerate().skip(done) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", step + 1)?;
        tx.commit()?;
    }
    Ok(())
}

fn parse<T: std::str::FromStr>(column: &str, text: &str) -> StoreResult<T> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("column `{column}` holds `{text}`")))
}

/// Writes a key's mutable fields (see [`Store::update_key`]).
fn update_key_row(conn: &Connection, key: &KeyRecord) -> StoreResult<()> {
    let tags = tags_json(&key.tags)?;
    conn.prepare_cached(
        "UPDATE keys SET description = ?3, state = ?4, tags = ?5, deletion_ms = ?6, \
             pending_window_days = ?7, rotation_period_days = ?8, next_rotation_ms = ?9, \
             on_demand_rotations = ?10, import_fingerprint = ?11, material_valid_to = ?12 \
             WHERE region = ?1 AND key_id = ?2",
    )?
    .execute(params![
        key.region,
        key.key_id,
        key.description,
        key.state.as_str(),
        tags,
        key.deletion.map(|(at, _)| at),
        key.deletion.map(|(_, days)| days),
        key.rotation.map(|(days, _)| days),
        key.rotation.map(|(_, next)| next),
        key.on_demand_rotations,
        key.imported.as_ref().map(|i| &i.fingerprint),
        key.imported.as_ref().and_then(|i| i.valid_to_ms),
    ])?;
    Ok(())
}

/// Inserts one material version of `key`.
fn insert_material(conn: &Connection, key: &KeyRecord, material: &Material) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO key_material (region, key_id, version, wrapped, created_ms, public_key) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            key.region,
            key.key_id,
            material.version,
            material.wrapped,
            material.created_ms,
            material.public_key
        ],
    )?;
    Ok(())
}

/// After a deletion of key material: secure_delete has zeroed the freed
/// pages in the database; the checkpoint clears the WAL too, once the
/// deletion has committed ([`Store::wipe_deleted`] inside a transaction).
fn wipe_freed_pages(inner: &mut Inner) -> StoreResult<()> {
    if inner.conn.is_autocommit() {
        checkpoint(&inner.conn);
    } else {
        inner.wipe_if_committed = true;
    }
    Ok(())
}

const KEY_COLUMNS: &str = "key_id, region, account, arn, description, created_ms, state, key_spec, \
     key_usage, origin, key_manager, multi_region, current_version, policy, policy_version, tags, \
     deletion_ms, pending_window_days, rotation_period_days, next_rotation_ms, on_demand_rotations, \
     import_fingerprint, material_valid_to";

/// The raw columns of a `keys` row, decoded into a [`KeyRecord`] afterwards
/// so that a bad value is a [`StoreError::Corrupt`], not a SQLite error.
struct RawKey {
    key_id: String,
    region: String,
    account: String,
    arn: String,
    description: String,
    created_ms: i64,
    state: String,
    key_spec: String,
    key_usage: String,
    origin: String,
    key_manager: String,
    multi_region: bool,
    current_version: u32,
    policy: String,
    policy_version: i64,
    tags: String,
    deletion_ms: Option<i64>,
    pending_window_days: Option<i64>,
    rotation_period_days: Option<i64>,
    next_rotation_ms: Option<i64>,
    on_demand_rotations: i64,
    import_fingerprint: Option<Vec<u8>>,
    material_valid_to: Option<i64>,
}

impl RawKey {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            key_id: row.get(0)?,
            region: row.get(1)?,
            account: row.get(2)?,
            arn: row.get(3)?,
            description: row.get(4)?,
            created_ms: row.get(5)?,
            state: row.get(6)?,
            key_spec: row.get(7)?,
            key_usage: row.get(8)?,
            origin: row.get(9)?,
            key_manager: row.get(10)?,
            multi_region: row.get(11)?,
            current_version: row.get(12)?,
            policy: row.get(13)?,
            policy_version: row.get(14)?,
            tags: row.get(15)?,
            deletion_ms: row.get(16)?,
            pending_window_days: row.get(17)?,
            rotation_period_days: row.get(18)?,
            next_rotation_ms: row.get(19)?,
            on_demand_rotations: row.get(20)?,
            import_fingerprint: row.get(21)?,
            material_valid_to: row.get(22)?,
        })
    }

    fn decode(self) -> StoreResult<KeyRecord> {
        let tags = serde_json::from_str(&self.tags)
            .map_err(|_| StoreError::Corrupt(format!("key `{}` has bad tags", self.key_id)))?;
        Ok(KeyRecord {
            tags,
            state: parse("state", &self.state)?,
            key_spec: parse("key_spec", &self.key_spec)?,
            key_usage: parse("key_usage", &self.key_usage)?,
            origin: parse("origin", &self.origin)?,
            key_manager: parse("key_manager", &self.key_manager)?,
            key_id: self.key_id,
            region: self.region,
            account: self.account,
            arn: self.arn,
            description: self.description,
            created_ms: self.created_ms,
            multi_region: self.multi_region,
            current_version: self.current_version,
            policy: self.policy,
            policy_version: self.policy_version,
            deletion: self.deletion_ms.zip(self.pending_window_days),
            rotation: self.rotation_period_days.zip(self.next_rotation_ms),
            on_demand_rotations: self.on_demand_rotations,
            imported: self.import_fingerprint.map(|fingerprint| ImportedMaterial {
                fingerprint,
                valid_to_ms: self.material_valid_to,
            }),
            aliases: Vec::new(),
        })
    }
}

impl Store for SqliteStore {
    fn begin(&self) -> StoreResult<Box<dyn Transaction + '_>> {
        let unit = self.unit.lock();
        let inner = self.lock();
        inner.conn.execute_batch("BEGIN IMMEDIATE")?;
        drop(inner);
        Ok(Box::new(SqliteTransaction {
            store: self,
            _unit: unit,
            done: false,
        }))
    }

    fn wipe_deleted(&self) {
        if self
            .wipe_due
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            checkpoint(&self.lock().conn);
        }
    }

    fn audited_mutation_committed(&self, event_id: &str) -> StoreResult<bool> {
        let conn = self
            .reader
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(conn
            .prepare_cached("SELECT 1 FROM audit_committed WHERE event_id = ?1")?
            .query_row([event_id], |_| Ok(()))
            .optional()?
            .is_some())
    }

    fn audit_marks(&self) -> StoreResult<Vec<LogMark>> {
        let inner = self.lock();
        let mut statement = inner
            .conn
            .prepare_cached("SELECT region, byte_offset, seq, hash FROM audit_marks")?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, Vec<u8>>(3)?,
            ))
        })?;
        let mut marks = Vec::new();
        for row in rows {
            let (region, offset, seq, hash) = row?;
            let corrupt = || StoreError::Corrupt(format!("the audit mark of `{region}`"));
            marks.push(LogMark {
                offset: u64::try_from(offset).map_err(|_| corrupt())?,
                seq,
                hash: hash.try_into().map_err(|_| corrupt())?,
                region,
            });
        }
        Ok(marks)
    }

    fn save_audit_marks(
        &self,
        marks: &[LogMark],
        usage: &[(String, String, KeyUse)],
    ) -> StoreResult<()> {
        let mut inner = self.lock();
        // A savepoint: a transaction of its own, or part of the caller's.
        let tx = inner.conn.savepoint()?;
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO key_usage (region, key_id, operation, time_ms, event_id, request_id) \
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS \
                 (SELECT 1 FROM keys WHERE region = ?1 AND key_id = ?2) \
                 ON CONFLICT (region, key_id) DO UPDATE SET operation = excluded.operation, \
                 time_ms = excluded.time_ms, event_id = excluded.event_id, \
                 request_id = excluded.request_id WHERE excluded.time_ms >= key_usage.time_ms",
            )?;
            for (region, key_id, used) in usage {
                upsert.execute(params![
                    region,
                    key_id,
                    used.operation,
                    used.time_ms,
                    used.event_id,
                    used.request_id
                ])?;
            }
            let mut mark = tx.prepare_cached(
                "INSERT INTO audit_marks (region, byte_offset, seq, hash) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (region) DO UPDATE SET byte_offset = excluded.byte_offset, \
                 seq = excluded.seq, hash = excluded.hash \
                 WHERE excluded.seq > audit_marks.seq",
            )?;
            let mut prune =
                tx.prepare_cached("DELETE FROM audit_committed WHERE region = ?1 AND seq <= ?2")?;
            for m in marks {
                let offset = i64::try_from(m.offset).map_err(|_| {
                    StoreError::Corrupt(format!("the audit mark of `{}`", m.region))
                })?;
                mark.execute(params![m.region, offset, m.seq, m.hash.as_slice()])?;
                prune.execute(params![m.region, m.seq])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn has_legacy_audit_events(&self) -> StoreResult<bool> {
        Ok(self
            .lock()
            .conn
            .prepare_cached("SELECT 1 FROM audit_events LIMIT 1")?
            .query_row([], |_| Ok(()))
            .optional()?
            .is_some())
    }

    fn legacy_audit_events(&self) -> StoreResult<Vec<StoredEvent>> {
        let inner = self.lock();
        let mut statement = inner.conn.prepare_cached(
            "SELECT region, seq, time_ms, event, hash FROM audit_events ORDER BY region, seq",
        )?;
        let rows = statement.query_map([], stored_event)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn drop_legacy_audit_events(&self) -> StoreResult<()> {
        self.lock().conn.execute("DELETE FROM audit_events", [])?;
        Ok(())
    }

    fn last_digest(&self, region: &str) -> StoreResult<Option<DigestRecord>> {
        let inner = self.lock();
        Ok(inner
            .conn
            .prepare_cached(
                "SELECT region, number, through_seq, through_hash, time_ms, prev_mac, mac \
                 FROM audit_digests WHERE region = ?1 ORDER BY number DESC LIMIT 1",
            )?
            .query_row([region], digest_record)
            .optional()?)
    }

    fn digest_regions(&self) -> StoreResult<Vec<String>> {
        let inner = self.lock();
        let mut statement = inner
            .conn
            .prepare_cached("SELECT DISTINCT region FROM audit_digests ORDER BY region")?;
        let rows = statement.query_map([], |row| row.get(0))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn digests(&self, region: &str) -> StoreResult<Vec<DigestRecord>> {
        let inner = self.lock();
        let mut statement = inner.conn.prepare_cached(
            "SELECT region, number, through_seq, through_hash, time_ms, prev_mac, mac \
             FROM audit_digests WHERE region = ?1 ORDER BY number",
        )?;
        let rows = statement.query_map([region], digest_record)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn append_digest(&self, digest: &DigestRecord) -> StoreResult<()> {
        let inner = self.lock();
        inner.conn.execute(
            "INSERT INTO audit_digests \
             (region, number, through_seq, through_hash, time_ms, prev_mac, mac) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                digest.region,
                digest.number,
                digest.through_seq,
                digest.through_hash,
                digest.time_ms,
                digest.prev_mac,
                digest.mac
            ],
        )?;
        Ok(())
    }

    fn key_usage(&self, region: &str, key_id: &str) -> StoreResult<Option<KeyUse>> {
        let inner = self.lock();
        Ok(inner
            .conn
            .prepare_cached(
                "SELECT operation, time_ms, event_id, request_id FROM key_usage \
                 WHERE region = ?1 AND key_id = ?2",
            )?
            .query_row([region, key_id], |row| {
                Ok(KeyUse {
                    operation: row.get(0)?,
                    time_ms: row.get(1)?,
                    event_id: row.get(2)?,
                    request_id: row.get(3)?,
                })
            })
            .optional()?)
    }

    fn usage_tracking_start(&self, now_ms: i64) -> StoreResult<i64> {
        let inner = self.lock();
        let read = || {
            inner
                .conn
                .prepare_cached("SELECT value FROM meta WHERE name = 'usage_tracking_start_ms'")?
                .query_row([], |row| row.get::<_, Vec<u8>>(0))
                .optional()
        };
        // Read first: only the first open of a store writes (and fsyncs).
        let bytes = match read()? {
            Some(bytes) => bytes,
            None => {
                inner.conn.execute(
                    "INSERT OR IGNORE INTO meta (name, value) \
                     VALUES ('usage_tracking_start_ms', ?1)",
                    [now_ms.to_be_bytes().to_vec()],
                )?;
                read()?.unwrap_or_default()
            }
        };
        let bytes: [u8; 8] = bytes
            .try_into()
            .map_err(|_| StoreError::Corrupt("usage_tracking_start_ms".into()))?;
        Ok(i64::from_be_bytes(bytes))
    }

    fn sealed_domain_key(&self) -> StoreResult<Option<Vec<u8>>> {
        let inner = self.lock();
        let mut statement = inner
            .conn
            .prepare_cached("SELECT value FROM meta WHERE name = ?1")?;
        Ok(statement
            .query_row([DOMAIN_KEY], |row| row.get(0))
            .optional()?)
    }

    fn set_sealed_domain_key(&self, sealed: &[u8]) -> StoreResult<()> {
        let inner = self.lock();
        inner.conn.execute(
            "INSERT INTO meta (name, value) VALUES (?1, ?2)",
            params![DOMAIN_KEY, sealed],
        )?;
        Ok(())
    }

    fn insert_key(&self, key: &KeyRecord, material: Option<&Material>) -> StoreResult<()> {
        let mut inner = self.lock();
        inner.invalidate();
        let tx = inner.conn.savepoint()?;
        // The fixed columns here; the mutable ones (which the schema gives
        // defaults) by the one statement that updates them.
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO keys (key_id, region, account, arn, description, created_ms, \
             state, key_spec, key_usage, origin, key_manager, multi_region, current_version, \
             policy, policy_version) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            params![
                key.key_id,
                key.region,
                key.account,
                key.arn,
                key.description,
                key.created_ms,
                key.state.as_str(),
                key.key_spec.as_str(),
                key.key_usage.as_str(),
                key.origin.as_str(),
                key.key_manager.as_str(),
                key.multi_region,
                key.current_version,
                key.policy,
                key.policy_version,
            ],
        )?;
        if inserted == 0 {
            return Err(StoreError::Duplicate);
        }
        update_key_row(&tx, key)?;
        if let Some(material) = material {
            insert_material(&tx, key, material)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn key(&self, region: &str, key_id: &str) -> StoreResult<Option<KeyRecord>> {
        let mut inner = self.lock();
        inner.refresh()?;
        if let Some(key) = inner
            .cache
            .keys
            .get(region)
            .and_then(|keys| keys.get(key_id))
        {
            return Ok(Some(key.clone()));
        }
        let raw = inner
            .conn
            .prepare_cached(&format!(
                "SELECT {KEY_COLUMNS} FROM keys WHERE region = ?1 AND key_id = ?2"
            ))?
            .query_row([region, key_id], RawKey::from_row)
            .optional()?;
        let mut key = raw.map(RawKey::decode).transpose()?;
        if let Some(key) = &mut key {
            key.aliases = alias_names(&inner.conn, region, key_id)?;
        }
        if let Some(key) = &key {
            inner
                .cache
                .keys
                .entry(region.to_owned())
                .or_default()
                .insert(key_id.to_owned(), key.clone());
        }
        Ok(key)
    }

    fn material(&self, region: &str, key_id: &str, version: u32) -> StoreResult<Option<Material>> {
        let mut inner = self.lock();
        inner.refresh()?;
        let cached = inner
            .cache
            .material
            .get(region)
            .and_then(|m| m.get(&(key_id.to_owned(), version)));
        if let Some(material) = cached {
            return Ok(Some(material.clone()));
        }
        let material = inner
            .conn
            .prepare_cached(
                "SELECT version, wrapped, created_ms, public_key FROM key_material \
                 WHERE region = ?1 AND key_id = ?2 AND version = ?3",
            )?
            .query_row(params![region, key_id, version], |row| {
                Ok(Material {
                    version: row.get(0)?,
                    wrapped: row.get(1)?,
                    created_ms: row.get(2)?,
                    public_key: row.get(3)?,
                })
            })
            .optional()?;
        if let Some(material) = &material {
            inner
                .cache
                .material
                .entry(region.to_owned())
                .or_default()
                .insert((key_id.to_owned(), version), material.clone());
        }
        Ok(material)
    }

    fn list_keys(
        &self,
        region: &str,
        account: &str,
        page: Page<'_>,
    ) -> StoreResult<Vec<KeyRecord>> {
        let inner = self.lock();
        let mut statement = inner.conn.prepare_cached(&format!(
            "SELECT {KEY_COLUMNS} FROM keys WHERE region = ?1 AND account = ?2 AND key_id > ?3 \
             ORDER BY key_id LIMIT ?4"
        ))?;
        let limit = i64::try_from(page.limit).unwrap_or(i64::MAX);
        let rows = statement.query_map(
            params![region, account, page.after.unwrap_or(""), limit],
            RawKey::from_row,
        )?;
        let mut keys = Vec::new();
        for raw in rows {
            keys.push(raw?.decode()?);
        }
        Ok(keys)
    }

    fn put_key_policy(&self, region: &str, key_id: &str, policy: &str) -> StoreResult<()> {
        let mut inner = self.lock();
        inner.invalidate();
        inner.conn.execute(
            "UPDATE keys SET policy = ?3, policy_version = policy_version + 1 \
             WHERE region = ?1 AND key_id = ?2",
            params![region, key_id, policy],
        )?;
        Ok(())
    }

    fn insert_grant(&self, grant: &GrantRecord) -> StoreResult<()> {
        let operations = serde_json::to_string(&grant.operations)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let constraints = grant
            .constraints
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut inner = self.lock();
        inner.invalidate();
        let tx = inner.conn.savepoint()?;
        tx.execute(
            "INSERT INTO grants (grant_id, grant_token, region, key_id, name, grantee_principal, \
             retiring_principal, issuing_account, operations, constraints, created_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                grant.grant_id,
                grant.grant_token,
                grant.region,
                grant.key_id,
                grant.name,
                grant.grantee_principal,
                grant.retiring_principal,
                grant.issuing_account,
                operations,
                constraints,
                grant.created_ms,
            ],
        )?;
        bump_policy_version(&tx, &grant.region, &grant.key_id)?;
        tx.commit()?;
        Ok(())
    }

    fn delete_grant(&self, region: &str, key_id: &str, grant_id: &str) -> StoreResult<bool> {
        let mut inner = self.lock();
        inner.invalidate();
        let tx = inner.conn.savepoint()?;
        let deleted = tx.execute(
            "DELETE FROM grants WHERE region = ?1 AND key_id = ?2 AND grant_id = ?3",
            params![region, key_id, grant_id],
        )?;
        bump_policy_version(&tx, region, key_id)?;
        tx.commit()?;
        Ok(deleted > 0)
    }

    fn grants(&self, region: &str, key_id: &str) -> StoreResult<Arc<Vec<GrantRecord>>> {
        let mut inner = self.lock();
        inner.refresh()?;
        if let Some(grants) = inner.cache.grants.get(region).and_then(|g| g.get(key_id)) {
            return Ok(Arc::clone(grants));
        }
        let grants = Arc::new(query_grants(
            &inner.conn,
            &format!(
                "SELECT {GRANT_COLUMNS} FROM grants WHERE region = ?1 AND key_id = ?2 ORDER BY grant_id"
            ),
            params![region, key_id],
        )?);
        inner
            .cache
            .grants
            .entry(region.to_owned())
            .or_default()
            .insert(key_id.to_owned(), Arc::clone(&grants));
        Ok(grants)
    }

    fn grant_by_token(&self, token: &str) -> StoreResult<Option<GrantRecord>> {
        let inner = self.lock();
        let mut found = query_grants(
            &inner.conn,
            &format!("SELECT {GRANT_COLUMNS} FROM grants WHERE grant_token = ?1"),
            params![token],
        )?;
        Ok(found.pop())
    }

    fn retirable_grants(
        &self,
        region: &str,
        retiring_principal: &str,
    ) -> StoreResult<Vec<GrantRecord>> {
        let inner = self.lock();
        query_grants(
            &inner.conn,
            &format!(
                "SELECT {GRANT_COLUMNS} FROM grants WHERE region = ?1 AND retiring_principal = ?2 \
                 ORDER BY grant_id"
            ),
            params![region, retiring_principal],
        )
    }

    fn identity_policies(&self, account: &str) -> StoreResult<Arc<IdentityPolicies>> {
        let mut inner = self.lock();
        inner.refresh()?;
        if let Some(policies) = inner.cache.identity.get(account) {
            return Ok(Arc::clone(policies));
        }
        let version: i64 = inner
            .conn
            .prepare_cached("SELECT version FROM identity_versions WHERE account = ?1")?
            .query_row([account], |row| row.get(0))
            .optional()?
            .unwrap_or(0);
        let mut statement = inner.conn.prepare_cached(
            "SELECT name, document FROM identity_policies WHERE account = ?1 ORDER BY name",
        )?;
        let policies = statement
            .query_map([account], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<Vec<(String, String)>, _>>()?;
        drop(statement);
        let policies = Arc::new(IdentityPolicies { version, policies });
        inner
            .cache
            .identity
            .insert(account.to_owned(), Arc::clone(&policies));
        Ok(policies)
    }

    fn put_identity_policy(&self, account: &str, name: &str, document: &str) -> StoreResult<()> {
        let mut inner = self.lock();
        inner.invalidate();
        let tx = inner.conn.savepoint()?;
        tx.execute(
            "INSERT INTO identity_policies (account, name, document) VALUES (?1, ?2, ?3) \
             ON CONFLICT (account, name) DO UPDATE SET document = excluded.document",
            params![account, name, document],
        )?;
        bump_identity_version(&tx, account)?;
        tx.commit()?;
        Ok(())
    }

    fn delete_identity_policy(&self, account: &str, name: &str) -> StoreResult<bool> {
        let mut inner = self.lock();
        inner.invalidate();
        let tx = inner.conn.savepoint()?;
        let deleted = tx.execute(
            "DELETE FROM identity_policies WHERE account = ?1 AND name = ?2",
            params![account, name],
        )?;
        bump_identity_version(&tx, account)?;
        tx.commit()?;
        Ok(deleted > 0)
    }

    fn update_key(&self, key: &KeyRecord) -> StoreResult<()> {
        let mut inner = self.lock();
        inner.invalidate();
        update_key_row(&inner.conn, key)
    }

    fn replace_material(&self, key: &KeyRecord, material: Option<&Material>) -> StoreResult<()> {
        let mut inner = self.lock();
        inner.invalidate();
        let tx = inner.conn.savepoint()?;
        tx.execute(
            "DELETE FROM key_material WHERE region = ?1 AND key_id = ?2",
            params![key.region, key.key_id],
        )?;
        if let Some(material) = material {
            insert_material(&tx, key, material)?;
        }
        update_key_row(&tx, key)?;
        tx.commit()?;
        wipe_freed_pages(&mut inner)
    }

    fn keys_with_expired_material(&self, now_ms: i64) -> StoreResult<Vec<KeyRecord>> {
        let inner = self.lock();
        let mut statement = inner.conn.prepare_cached(&format!(
            "SELECT {KEY_COLUMNS} FROM keys WHERE material_valid_to <= ?1 ORDER BY region, key_id"
        ))?;
        let rows = statement.query_map([now_ms], RawKey::from_row)?;
        let mut keys = Vec::new();
        for raw in rows {
            keys.push(raw?.decode()?);
        }
        Ok(keys)
    }

    fn add_material(
        &self,
        key: &KeyRecord,
        material: &Material,
        rotation_type: &str,
    ) -> StoreResult<()> {
        let mut inner = self.lock();
        inner.invalidate();
        let tx = inner.conn.savepoint()?;
        tx.execute(
            "INSERT INTO key_material (region, key_id, version, wrapped, created_ms, rotation_type, public_key) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![key.region, key.key_id, material.version, material.wrapped, material.created_ms, rotation_type, material.public_key],
        )?;
        tx.execute(
            "UPDATE keys SET current_version = ?3, rotation_period_days = ?4, next_rotation_ms = ?5, \
             on_demand_rotations = ?6 WHERE region = ?1 AND key_id = ?2",
            params![
                key.region,
                key.key_id,
                material.version,
                key.rotation.map(|(days, _)| days),
                key.rotation.map(|(_, next)| next),
                key.on_demand_rotations,
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn rotations(&self, region: &str, key_id: &str) -> StoreResult<Vec<(u32, i64, String)>> {
        let inner = self.lock();
        let mut statement = inner.conn.prepare_cached(
            "SELECT version, created_ms, rotation_type FROM key_material \
             WHERE region = ?1 AND key_id = ?2 AND rotation_type IS NOT NULL ORDER BY version",
        )?;
        let rows = statement
            .query_map(params![region, key_id], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn keys_due_for_rotation(&self, now_ms: i64) -> StoreResult<Vec<KeyRecord>> {
        let inner = self.lock();
        let mut statement = inner.conn.prepare_cached(&format!(
            "SELECT {KEY_COLUMNS} FROM keys WHERE state = 'Enabled' AND rotation_period_days IS NOT NULL \
             AND next_rotation_ms <= ?1 ORDER BY region, key_id"
        ))?;
        let rows = statement.query_map([now_ms], RawKey::from_row)?;
        let mut keys = Vec::new();
        for raw in rows {
            keys.push(raw?.decode()?);
        }
        Ok(keys)
    }

    fn keys_due_for_deletion(&self, now_ms: i64) -> StoreResult<Vec<KeyRecord>> {
        let inner = self.lock();
        let mut statement = inner.conn.prepare_cached(&format!(
            "SELECT {KEY_COLUMNS} FROM keys WHERE state = 'PendingDeletion' AND deletion_ms <= ?1 \
             ORDER BY region, key_id"
        ))?;
        let rows = statement.query_map([now_ms], RawKey::from_row)?;
        let mut keys = Vec::new();
        for raw in rows {
            keys.push(raw?.decode()?);
        }
        Ok(keys)
    }

    fn delete_key(&self, region: &str, key_id: &str) -> StoreResult<()> {
        let mut inner = self.lock();
        inner.invalidate();
        let tx = inner.conn.savepoint()?;
        // Material, grants and aliases go with the key (ON DELETE CASCADE).
        tx.execute(
            "DELETE FROM keys WHERE region = ?1 AND key_id = ?2",
            params![region, key_id],
        )?;
        tx.commit()?;
        wipe_freed_pages(&mut inner)
    }

    fn create_alias(&self, alias: &AliasRecord) -> StoreResult<()> {
        let mut inner = self.lock();
        inner.invalidate();
        let inserted = inner.conn.execute(
            "INSERT OR IGNORE INTO aliases (region, account, name, key_id, created_ms, updated_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                alias.region,
                alias.account,
                alias.name,
                alias.key_id,
                alias.created_ms,
                alias.updated_ms
            ],
        )?;
        if inserted == 0 {
            return Err(StoreError::Duplicate);
        }
        Ok(())
    }

    fn update_alias(
        &self,
        region: &str,
        account: &str,
        name: &str,
        key_id: &str,
        now_ms: i64,
    ) -> StoreResult<bool> {
        let mut inner = self.lock();
        inner.invalidate();
        let updated = inner.conn.execute(
            "UPDATE aliases SET key_id = ?4, updated_ms = ?5 WHERE region = ?1 AND account = ?2 AND name = ?3",
            params![region, account, name, key_id, now_ms],
        )?;
        Ok(updated > 0)
    }

    fn delete_alias(&self, region: &str, account: &str, name: &str) -> StoreResult<bool> {
        let mut inner = self.lock();
        inner.invalidate();
        let deleted = inner.conn.execute(
            "DELETE FROM aliases WHERE region = ?1 AND account = ?2 AND name = ?3",
            params![region, account, name],
        )?;
        Ok(deleted > 0)
    }

    fn alias(&self, region: &str, account: &str, name: &str) -> StoreResult<Option<AliasRecord>> {
        let inner = self.lock();
        Ok(query_aliases(
            &inner.conn,
            "SELECT region, account, name, key_id, created_ms, updated_ms FROM aliases \
             WHERE region = ?1 AND account = ?2 AND name = ?3",
            params![region, account, name],
        )?
        .pop())
    }

    fn list_aliases(
        &self,
        region: &str,
        account: &str,
        key_id: Option<&str>,
    ) -> StoreResult<Vec<AliasRecord>> {
        let inner = self.lock();
        query_aliases(
            &inner.conn,
            "SELECT region, account, name, key_id, created_ms, updated_ms FROM aliases \
             WHERE region = ?1 AND account = ?2 AND (?3 IS NULL OR key_id = ?3) ORDER BY name",
            params![region, account, key_id],
        )
    }
}

fn tags_json(tags: &std::collections::BTreeMap<String, String>) -> StoreResult<String> {
    serde_json::to_string(tags).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn alias_names(conn: &Connection, region: &str, key_id: &str) -> StoreResult<Vec<String>> {
    let mut statement = conn.prepare_cached(
        "SELECT name FROM aliases WHERE region = ?1 AND key_id = ?2 ORDER BY name",
    )?;
    let names = statement
        .query_map(params![region, key_id], |row| row.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(names)
}

fn query_aliases(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<Vec<AliasRecord>> {
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map(params, |row| {
        Ok(AliasRecord {
            region: row.get(0)?,
            account: row.get(1)?,
            name: row.get(2)?,
            key_id: row.get(3)?,
            created_ms: row.get(4)?,
            updated_ms: row.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

const GRANT_COLUMNS: &str = "grant_id, grant_token, region, key_id, name, grantee_principal, \
     retiring_principal, issuing_account, operations, constraints, created_ms";

fn bump_policy_version(tx: &Connection, region: &str, key_id: &str) -> StoreResult<()> {
    tx.execute(
        "UPDATE keys SET policy_version = policy_version + 1 WHERE region = ?1 AND key_id = ?2",
        params![region, key_id],
    )?;
    Ok(())
}

fn bump_identity_version(tx: &Connection, account: &str) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO identity_versions (account, version) VALUES (?1, 1) \
         ON CONFLICT (account) DO UPDATE SET version = version + 1",
        params![account],
    )?;
    Ok(())
}

fn query_grants(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<Vec<GrantRecord>> {
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map(params, |row| {
        Ok((
            GrantRecord {
                grant_id: row.get(0)?,
                grant_token: row.get(1)?,
                region: row.get(2)?,
                key_id: row.get(3)?,
                name: row.get(4)?,
                grantee_principal: row.get(5)?,
                retiring_principal: row.get(6)?,
                issuing_account: row.get(7)?,
                operations: Vec::new(),
                constraints: None,
                created_ms: row.get(10)?,
            },
            row.get::<_, String>(8)?,
            row.get::<_, Option<String>>(9)?,
        ))
    })?;
    let mut grants = Vec::new();
    for row in rows {
        let (mut grant, operations, constraints) = row?;
        grant.operations = serde_json::from_str(&operations).map_err(|_| {
            StoreError::Corrupt(format!("grant `{}` has bad operations", grant.grant_id))
        })?;
        grant.constraints = constraints
            .map(|c| serde_json::from_str(&c))
            .transpose()
            .map_err(|_| {
                StoreError::Corrupt(format!("grant `{}` has bad constraints", grant.grant_id))
            })?;
        grants.push(grant);
    }
    Ok(grants)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{KeyManager, KeySpec, KeyState, KeyUsage, OriginType};

    fn record() -> KeyRecord {
        KeyRecord {
            key_id: "1234abcd-12ab-34cd-56ef-1234567890ab".into(),
            region: "us-east-1".into(),
            account: "111122223333".into(),
            arn: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                .into(),
            description: "before".into(),
            created_ms: 1,
            state: KeyState::Enabled,
            key_spec: KeySpec::SymmetricDefault,
            key_usage: KeyUsage::EncryptDecrypt,
            origin: OriginType::AwsKms,
            key_manager: KeyManager::Customer,
            multi_region: false,
            current_version: 1,
            policy: String::new(),
            policy_version: 1,
            tags: Default::default(),
            deletion: None,
            rotation: None,
            on_demand_rotations: 0,
            imported: None,
            aliases: Vec::new(),
        }
    }

    /// A store in a new directory (kept while the first value lives) at
    /// `path`, holding [`record`] with `wrapped` as its material.
    fn store_with_key(
        wrapped: Vec<u8>,
    ) -> (
        tempfile::TempDir,
        std::path::PathBuf,
        SqliteStore,
        KeyRecord,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let store = SqliteStore::open(&path).unwrap();
        let key = record();
        let material = Material {
            version: 1,
            wrapped,
            created_ms: 1,
            public_key: None,
        };
        store.insert_key(&key, Some(&material)).unwrap();
        (dir, path, store, key)
    }

    #[test]
    fn a_deletion_s_wipe_survives_another_transaction_rolling_back_first() {
        let (_dir, path, store, key) = store_with_key(vec![0x5e; 64]);
        let deleting = store.begin().unwrap();
        store.delete_key(&key.region, &key.key_id).unwrap();
        deleting.commit().unwrap();
        // Before the deleting request wipes, another one (refused) rolls
        // its transaction back.
        drop(store.begin().unwrap());
        store.wipe_deleted();
        let wal = std::fs::metadata(path.with_file_name("db-wal"))
            .unwrap()
            .len();
        assert_eq!(wal, 0, "the write-ahead log was not wiped");
    }

    #[test]
    fn another_connection_s_commit_invalidates_the_cache() {
        let (_dir, path, store, key) = store_with_key(vec![1, 2, 3]);
        assert_eq!(
            store
                .key(&key.region, &key.key_id)
                .unwrap()
                .unwrap()
                .description,
            "before"
        );

        // Another process writes through its own connection.
        let other = Connection::open(&path).unwrap();
        other
            .execute("UPDATE keys SET description = 'after'", [])
            .unwrap();
        other
            .execute("UPDATE key_material SET wrapped = x'040506'", [])
            .unwrap();
        assert_eq!(
            store
                .key(&key.region, &key.key_id)
                .unwrap()
                .unwrap()
                .description,
            "after"
        );
        assert_eq!(
            store
                .material(&key.region, &key.key_id, 1)
                .unwrap()
                .unwrap()
                .wrapped,
            vec![4, 5, 6]
        );
    }

    #[test]
    fn duplicate_keys_are_refused_and_nothing_half_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db")).unwrap();
        let key = record();
        let material = Material {
            version: 1,
            wrapped: vec![1],
            created_ms: 1,
            public_key: None,
        };
        store.insert_key(&key, Some(&material)).unwrap();
        assert!(matches!(
            store.insert_key(&key, Some(&material)),
            Err(StoreError::Duplicate)
        ));
        assert_eq!(
            store
                .material(&key.region, &key.key_id, 1)
                .unwrap()
                .unwrap()
                .wrapped,
            vec![1]
        );
    }
}
