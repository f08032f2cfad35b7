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

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{KeyRecord, Material, Page, Store, StoreError, StoreResult};

/// The schema, applied in order; `PRAGMA user_version` records how many
/// steps a database has had. Later issues add their tables as new steps.
const MIGRATIONS: &[&str] = &[r#"
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
"#];

const DOMAIN_KEY: &str = "sealed_domain_key";

/// SQLite behind a mutex: one connection, short transactions.
#[derive(Debug)]
pub struct SqliteStore {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    conn: Connection,
    cache: Cache,
}

/// Keys and material versions read since the last change, by region and id.
#[derive(Debug, Default)]
struct Cache {
    /// SQLite's `data_version` when the cache was filled.
    data_version: i64,
    keys: HashMap<String, HashMap<String, KeyRecord>>,
    material: HashMap<String, HashMap<(String, u32), Material>>,
}

impl Inner {
    /// Drops the cache if another connection has committed since it was
    /// filled.
    fn refresh(&mut self) -> StoreResult<()> {
        let version: i64 = self
            .conn
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |row| row.get(0))?;
        if version != self.cache.data_version {
            self.cache = Cache {
                data_version: version,
                ..Cache::default()
            };
        }
        Ok(())
    }

    /// Drops the cache after a write on this connection (which does not
    /// change `data_version`).
    fn invalidate(&mut self) {
        let data_version = self.cache.data_version;
        self.cache = Cache {
            data_version,
            ..Cache::default()
        };
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its
    /// schema up to date.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Freed pages are overwritten, so that deleted wrapped material does
        // not linger in the file.
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&mut conn)?;
        Ok(Self {
            inner: Mutex::new(Inner {
                conn,
                cache: Cache::default(),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // SQLite rolls back an unfinished transaction itself, and the cache
        // is only ever dropped or filled with committed rows, so a panic
        // while holding the lock leaves nothing inconsistent.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
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

const KEY_COLUMNS: &str = "key_id, region, account, arn, description, created_ms, state, key_spec, \
     key_usage, origin, key_manager, multi_region, current_version";

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
        })
    }

    fn decode(self) -> StoreResult<KeyRecord> {
        Ok(KeyRecord {
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
        })
    }
}

impl Store for SqliteStore {
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

    fn insert_key(&self, key: &KeyRecord, material: &Material) -> StoreResult<()> {
        let mut inner = self.lock();
        inner.invalidate();
        let tx = inner.conn.transaction()?;
        let inserted = tx.execute(
            &format!(
                "INSERT OR IGNORE INTO keys ({KEY_COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
            ),
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
            ],
        )?;
        if inserted == 0 {
            return Err(StoreError::Duplicate);
        }
        tx.execute(
            "INSERT INTO key_material (region, key_id, version, wrapped, created_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                key.region,
                key.key_id,
                material.version,
                material.wrapped,
                material.created_ms
            ],
        )?;
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
        let key = raw.map(RawKey::decode).transpose()?;
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
                "SELECT version, wrapped, created_ms FROM key_material \
                 WHERE region = ?1 AND key_id = ?2 AND version = ?3",
            )?
            .query_row(params![region, key_id, version], |row| {
                Ok(Material {
                    version: row.get(0)?,
                    wrapped: row.get(1)?,
                    created_ms: row.get(2)?,
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
        }
    }

    #[test]
    fn another_connection_s_commit_invalidates_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let store = SqliteStore::open(&path).unwrap();
        let key = record();
        let material = Material {
            version: 1,
            wrapped: vec![1, 2, 3],
            created_ms: 1,
        };
        store.insert_key(&key, &material).unwrap();
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
        };
        store.insert_key(&key, &material).unwrap();
        assert!(matches!(
            store.insert_key(&key, &material),
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
