//! The data directory: the SQLite database, the audit log files and the
//! operator's master key.
//!
//! The master key seals the domain key (which only the guest ever holds in
//! the clear). It is a file created at `init` with mode 0600, or the
//! environment variable [`MASTER_KEY_ENV`], base64 in both cases.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use super::{StoreError, StoreResult};

/// The environment variable that can hold the master key (base64 of 32
/// bytes) instead of the file.
pub const MASTER_KEY_ENV: &str = "KEYWARD_MASTER_KEY";

const MASTER_KEY_FILE: &str = "master.key";
const DATABASE_FILE: &str = "keyward.db";
/// Length of the master key in bytes.
const MASTER_KEY_LEN: usize = 32;

/// A keyward data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    path: PathBuf,
}

/// Writes a new file only its owner can read (mode 0600) and syncs it; fails
/// if the file exists, so that no secret is ever overwritten.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

impl DataDir {
    /// The data directory at `path` (which may not exist yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The SQLite database file.
    pub fn database(&self) -> PathBuf {
        self.path.join(DATABASE_FILE)
    }

    /// The directory of the audit log files (see `audit::log`).
    pub fn audit_log(&self) -> PathBuf {
        self.path.join("audit")
    }

    /// Whether the directory has been initialised (its database exists).
    pub fn is_initialized(&self) -> bool {
        self.database().is_file()
    }

    /// Creates the directory (mode 0700) and a new random master key file
    /// (mode 0600), unless the master key comes from the environment. Fails
    /// if a master key file already exists: a key is never overwritten.
    pub fn create(&self) -> StoreResult<()> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.path)
            .map_err(StoreError::io(&self.path))?;
        if std::env::var_os(MASTER_KEY_ENV).is_some() {
            return Ok(());
        }
        let file = self.path.join(MASTER_KEY_FILE);
        let mut key = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        getrandom::fill(key.as_mut_slice()).map_err(|e| StoreError::Io {
            path: file.display().to_string(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let encoded = Zeroizing::new(format!("{}\n", STANDARD.encode(key.as_slice())));
        write_private(&file, encoded.as_bytes()).map_err(StoreError::io(&file))
    }

    /// Reads the master key from the environment or the key file.
    pub fn master_key(&self) -> StoreResult<Zeroizing<Vec<u8>>> {
        let (source, text) = match std::env::var(MASTER_KEY_ENV) {
            Ok(text) => (MASTER_KEY_ENV.to_string(), Zeroizing::new(text)),
            Err(_) => {
                let file = self.path.join(MASTER_KEY_FILE);
                let text = fs::read_to_string(&file).map_err(StoreError::io(&file))?;
                (file.display().to_string(), Zeroizing::new(text))
            }
        };
        let key = STANDARD
            .decode(text.trim())
            .map(Zeroizing::new)
            .map_err(|_| {
                StoreError::Corrupt(format!("the master key in `{source}` is not base64"))
            })?;
        if key.len() != MASTER_KEY_LEN {
            return Err(StoreError::Corrupt(format!(
                "the master key in `{source}` is not {MASTER_KEY_LEN} bytes"
            )));
        }
        Ok(key)
    }
}
