//! Where the audit trail is kept: one append-only file per region, one line
//! per event, each line carrying the event's position and hash in its
//! region's chain (see [`super::chain`]).
//!
//! A line is a status byte and a JSON object:
//!
//! ```text
//! ={"region":"us-east-1","time":1795000000000,"event":{...},"seq":7,"hash":"<64 hex>"}
//! ```
//!
//! The chain fields come last, so that a writer prepares everything before
//! them without the lock (readers take the fields in any order: older lines
//! put them first). `event` is the CloudTrail event exactly as hashed. The
//! region is the file's, and is in each line for older keywards, which
//! need it to read the line. The keys a successful cryptographic operation
//! used (for `GetKeyLastUsage`) are its event's resources; lines of older
//! keywards list them (`"used":[[region, key id]]`), and events moved from
//! the database say `"used":[]` (their uses were never counted). The status
//! is `=` for a recorded event. A mutation's
//! event is written first as `?` and fsynced, then the mutation commits in SQLite together with a
//! row naming the event (`Store::record_audited_mutation`), then the line
//! becomes `=`. So a mutation is never kept without its event, and a crash
//! in between is mended by whoever next writes the file: the `?` line is
//! kept if its mutation committed, and cut off if not (readers skip it).
//!
//! Writers hold an exclusive `flock` on the file while they append, so two
//! keyward processes on one data directory (a server and a CLI) share each
//! chain: a writer that takes the lock first reads what the other appended
//! since, and continues the chain from there. A process keeps the lock from
//! one write to the next (a lease), so that under load a write costs no
//! locking system calls. A writer that finds the lock taken says so in the
//! file's waiting room (a shared `flock` on `<region>.wait`), and the holder
//! looks there every few milliseconds and lets it in. Every write is
//! positional, at the end found under the lock; a torn last line, which
//! only a writer that died can leave, is cut off there too.
//!
//! Requests that change nothing write their own line and return: one
//! `pwrite` to the page cache, no database commit. With [`AuditSync::Disk`]
//! events are fsynced, and concurrent requests share the fsync
//! ([`super::commit::GroupCommit`]).
//!
//! The last use of each key is kept in memory as events are written or read
//! from the file, and saved to SQLite with a mark of how far into the file
//! the saved records reach ([`AuditLog::save_marks`], at every digest and at
//! shutdown). Opening continues from the marks instead of reading every
//! file from the start.

use std::cell::Cell;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Seek as _, SeekFrom, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, FileExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, MutexGuard};
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest as _, Sha256};

use super::chain::{self, HASH_LEN};
use crate::request::KeyRef;
use crate::store::StoredEvent;
use crate::store::{AuditSync, KeyUse, LogMark, NewEvent, Store, StoreError, StoreResult};

/// How much of a file is read at a time when catching up or reading.
const CHUNK: usize = 1 << 20;

const RECORDED: u8 = b'=';
const UNCOMMITTED: u8 = b'?';

/// The audit log files of one data directory.
#[derive(Debug)]
pub struct AuditLog {
    dir: PathBuf,
    sync: AuditSync,
    store: Arc<dyn Store>,
    /// The saved marks, as read at open: where each region's file is first
    /// read from.
    marks: HashMap<String, LogMark>,
    regions: Arc<Regions>,
    usage: Mutex<Usage>,
    /// The offsets last saved as marks, so that an unchanged mark is not
    /// written again.
    saved: Mutex<HashMap<String, u64>>,
    #[cfg(feature = "test-hooks")]
    refuse_writes: std::sync::atomic::AtomicBool,
}

/// The last use of each key seen in the files since open, by region and
/// key id, and whether it is saved yet.
#[derive(Debug, Default)]
struct Usage(HashMap<String, HashMap<String, (KeyUse, bool)>>);

/// One use of keys, borrowed from an event.
struct Use<'a> {
    operation: &'a str,
    time_ms: i64,
    event_id: &'a str,
    request_id: &'a str,
}

impl Use<'_> {
    fn of(event: &NewEvent) -> Use<'_> {
        Use {
            operation: &event.event_name,
            time_ms: event.time_ms,
            event_id: &event.event_id,
            request_id: &event.request_id,
        }
    }
}

impl Usage {
    /// Records `used` as the last use of `keys`, unless a later one is
    /// known. A key seen before is updated in place, without allocating:
    /// this runs for every Encrypt and Decrypt.
    fn note(&mut self, keys: &[(String, String)], used: &Use<'_>) {
        use super::set;
        for (region, key_id) in keys {
            if !self.0.contains_key(region) {
                self.0.insert(region.clone(), HashMap::new());
            }
            let Some(by_key) = self.0.get_mut(region) else {
                continue;
            };
            match by_key.get_mut(key_id) {
                Some((known, _)) if known.time_ms > used.time_ms => {}
                Some((known, unsaved)) => {
                    set(&mut known.operation, used.operation);
                    known.time_ms = used.time_ms;
                    set(&mut known.event_id, used.event_id);
                    set(&mut known.request_id, used.request_id);
                    *unsaved = true;
                }
                None => {
                    let known = KeyUse {
                        operation: used.operation.to_owned(),
                        time_ms: used.time_ms,
                        event_id: used.event_id.to_owned(),
                        request_id: used.request_id.to_owned(),
                    };
                    by_key.insert(key_id.clone(), (known, true));
                }
            }
        }
    }
}

/// How often a process that keeps a file's `flock` from one write to the
/// next looks for another process waiting for it (and lets it in); an idle
/// process gives the lock up within twice this.
const LEASE: Duration = Duration::from_millis(5);

/// How long a file's `flock` is kept with no write, before the lease keeper
/// lets go of it. (Long in unit tests, so that they see only the waiting
/// room let writers in.)
const IDLE: Duration = if cfg!(test) {
    Duration::from_secs(60)
} else {
    LEASE
};

/// How long a process keeps a file's `flock` at most, even with no one
/// known to wait: a writer that does not say it waits (an older keyward, a
/// tool) still gets in under load. (Long in unit tests, so that they see
/// only the waiting room let writers in.)
const LONGEST_LEASE: Duration = if cfg!(test) {
    Duration::from_secs(60)
} else {
    Duration::from_millis(100)
};

/// How long a writer whose longest lease ran out waits before it takes the
/// `flock` again: time for a writer of another process, woken by the
/// unlock, to take it first.
const HANDOVER: Duration = Duration::from_micros(50);

/// The open files, by region.
type Regions = Mutex<HashMap<String, Arc<Mutex<RegionLog>>>>;

/// One region's file, and where its chain stands as of `end`.
#[derive(Debug)]
struct RegionLog {
    region: String,
    path: PathBuf,
    file: File,
    /// Every byte before it is a complete line this process has read or
    /// written (or, after the file was changed behind keyward's back,
    /// passed over: see [`AuditLog::catch_up`]).
    end: u64,
    /// The position and hash of the head of the chain this process knows:
    /// the last event before `end`, unless the file was changed.
    seq: i64,
    hash: [u8; HASH_LEN],
    /// How far the file's pages were last dropped from the page cache
    /// ([`drop_from_cache`]).
    uncached: u64,
    /// How far disk blocks were last reserved past the end
    /// ([`reserve_blocks`]).
    reserved: u64,
    /// The file's waiting room: a writer that finds the file's `flock` held
    /// holds a shared `flock` on this one until it has the file's, so that
    /// the holder knows to let it in ([`AuditLog::with_region`]).
    waiting: File,
    /// Since when this process holds the file's `flock`, if it does.
    locked_since: Option<Instant>,
    /// When the holder last looked for waiting writers.
    checked: Instant,
    /// When the file was last written or caught up with.
    used: Instant,
}

/// A line of a log file, as read.
#[derive(Deserialize)]
struct Line<'a> {
    seq: i64,
    #[serde(borrow)]
    hash: &'a str,
    region: String,
    time: i64,
    /// Only in lines of older keywards.
    #[serde(default)]
    used: Option<Vec<(String, String)>>,
    #[serde(borrow)]
    event: &'a RawValue,
}

impl Line<'_> {
    /// Whether the line marks its event as moved from the database (only
    /// a file's first lines can be).
    fn moved(&self) -> bool {
        self.used.as_ref().is_some_and(Vec::is_empty)
    }
}

/// What the last-use records need from an event's JSON.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventIds {
    #[serde(default)]
    event_time: String,
    event_name: String,
    #[serde(rename = "eventID")]
    event_id: String,
    #[serde(rename = "requestID")]
    request_id: String,
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    resources: Vec<EventResource>,
}

#[derive(Deserialize)]
struct EventResource {
    #[serde(rename = "ARN")]
    arn: String,
}

impl EventIds {
    /// When the event happened, in milliseconds: `line_time`, the line's
    /// own record of it, if that is in the event's `eventTime` second (the
    /// line's fields are outside the hash), else the start of that second.
    fn time_ms(&self, line_time: i64) -> i64 {
        if super::in_second(line_time, &self.event_time) {
            return line_time;
        }
        super::parse_iso8601(&self.event_time).unwrap_or(line_time)
    }

    /// The keys the event's operation used, as its writer noted them: the
    /// resources of a successful cryptographic operation.
    fn used_keys(&self) -> Vec<(String, String)> {
        if !super::uses_its_keys(&self.event_name, self.error_code.is_none()) {
            return Vec::new();
        }
        self.resources
            .iter()
            .filter_map(|resource| match KeyRef::parse(&resource.arn, "") {
                Ok(KeyRef::Key { region, key_id, .. }) => {
                    Some((region.to_owned(), key_id.to_owned()))
                }
                _ => None,
            })
            .collect()
    }
}

/// What the used keys a line lists (outside the hash) say that its event
/// does not: only lines of older keywards list them, and must list the
/// event's own; an empty list, which marks an event moved from the database
/// (whose uses the last-use records skip), only comes before all others
/// (`moved`: so far, every line has one).
fn used_disagrees(line: &Line<'_>, moved: bool) -> Option<&'static str> {
    match &line.used {
        None => None,
        Some(used) if used.is_empty() => {
            (!moved).then_some("says it was moved from the database, after events that were not")
        }
        Some(used) => {
            let mut listed = used.clone();
            let mut implied = serde_json::from_str::<EventIds>(line.event.get())
                .map(|ids| ids.used_keys())
                .unwrap_or_default();
            listed.sort_unstable();
            implied.sort_unstable();
            (listed != implied).then_some("lists keys that its event did not use")
        }
    }
}

/// One line of a region's log, as [`AuditLog::read`] gives it.
#[derive(Debug)]
pub enum Entry {
    /// A recorded event.
    Event(StoredEvent),
    /// A line that does not decode, or a mutation's event whose mutation
    /// did not commit, followed by other lines.
    Unreadable(String),
}

/// The log file of `region`: its name where that is a plain region name,
/// else a hash of it (the region of a request comes from the caller, and a
/// request for a region that is not served is recorded too).
fn file_name(region: &str) -> String {
    let plain = !region.is_empty()
        && region.len() <= 64
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if plain {
        format!("{region}.log")
    } else {
        format!(
            "_{}.log",
            hex::encode(
                Sha256::digest(region.as_bytes())
                    .get(..16)
                    .unwrap_or_default()
            )
        )
    }
}

/// Appends the line of `event` at `seq` with `hash` to `out`.
#[cfg(test)]
fn encode(out: &mut Vec<u8>, status: u8, seq: i64, hash: &[u8; HASH_LEN], event: &NewEvent) {
    encode_body(out, status, event);
    encode_chain(out, seq, hash);
}

/// [`encode`] for an event moved from the database: its keys were never
/// counted as used, and an empty `used` says so to readers.
fn encode_moved(out: &mut Vec<u8>, seq: i64, hash: &[u8; HASH_LEN], event: &NewEvent) {
    encode_body(out, RECORDED, event);
    // The body ends with the event; `used` goes before the chain fields.
    out.extend_from_slice(b",\"used\":[]");
    encode_chain(out, seq, hash);
}

/// Appends what a line holds before its chain fields, which
/// [`encode_chain`] then appends.
fn encode_body(out: &mut Vec<u8>, status: u8, event: &NewEvent) {
    out.reserve(event.json.len() + 256);
    out.push(status);
    out.extend_from_slice(b"{\"region\":");
    // INVARIANT: writing to a Vec and serialising strings cannot fail.
    let _ = serde_json::to_writer(&mut *out, &event.region);
    let _ = write!(out, ",\"time\":{}", event.time_ms);
    out.extend_from_slice(b",\"event\":");
    out.extend_from_slice(event.json.as_bytes());
}

/// Ends a line begun by [`encode_body`] with its place in the chain.
fn encode_chain(out: &mut Vec<u8>, seq: i64, hash: &[u8; HASH_LEN]) {
    // INVARIANT: writing to a Vec cannot fail.
    let _ = write!(out, ",\"seq\":{seq},\"hash\":\"");
    let mut digits = [0; HASH_LEN * 2];
    // INVARIANT: the buffer is exactly twice the hash's length.
    let _ = hex::encode_to_slice(hash, &mut digits);
    out.extend_from_slice(&digits);
    out.extend_from_slice(b"\"}\n");
}

/// Decodes a line (without its newline): its status and contents.
fn decode(line: &[u8]) -> Option<(u8, Line<'_>, [u8; HASH_LEN])> {
    let (&status, rest) = line.split_first()?;
    let text = std::str::from_utf8(rest).ok()?;
    let parsed: Line<'_> = serde_json::from_str(text).ok()?;
    let mut hash = [0; HASH_LEN];
    hex::decode_to_slice(parsed.hash, &mut hash).ok()?;
    Some((status, parsed, hash))
}

/// Calls `each` with the offset and bytes (without the newline) of every
/// complete line of `file` between `from` and `to`, until it returns
/// `false`. Returns where the last complete line it was given ends.
#[expect(
    clippy::indexing_slicing,
    reason = "n <= CHUNK = chunk.len(), and start and start + newline stay within pending: \
              newline is a position found in pending[start..]"
)]
fn scan(
    file: &File,
    path: &Path,
    from: u64,
    to: u64,
    mut each: impl FnMut(u64, &[u8]) -> StoreResult<bool>,
) -> StoreResult<u64> {
    let mut pending: Vec<u8> = Vec::new();
    // The file offset of pending[0].
    let mut base = from;
    let mut next = from;
    let mut chunk = vec![0; CHUNK];
    while next < to {
        let n = usize::try_from(to - next).map_or(CHUNK, |left| left.min(CHUNK));
        match file.read_exact_at(&mut chunk[..n], next) {
            Ok(()) => {}
            // Cut shorter meanwhile (a reader without the lock): what is
            // left is all there is.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(base),
            Err(e) => return Err(StoreError::io(path)(e)),
        }
        next += n as u64;
        pending.extend_from_slice(&chunk[..n]);
        let mut start = 0;
        while let Some(newline) = pending[start..].iter().position(|&b| b == b'\n') {
            let offset = base + start as u64;
            if !each(offset, &pending[start..start + newline])? {
                return Ok(offset + newline as u64 + 1);
            }
            start += newline + 1;
        }
        pending.drain(..start);
        base += start as u64;
    }
    Ok(base)
}

/// Tells the kernel that the pages of `file` between `from` (where the last
/// call stopped) and `end`, which are on disk, will not be read soon, so
/// that it frees them: an append-only log would otherwise fill the page
/// cache with pages nobody reads, and each write would take a fresh page
/// from an ever larger cache. Only whole pages before `end` go, so the page
/// that lines are still appended to stays; `from` is taken back to its
/// page's start, which the last call kept.
fn drop_from_cache(file: &File, from: u64, end: u64) {
    let page = u64::try_from(rustix::param::page_size()).unwrap_or(4096);
    let Some((from, len)) = advised_range(from, end, page) else {
        return;
    };
    if let Err(e) = rustix::fs::fadvise(file, from, Some(len), rustix::fs::Advice::DontNeed) {
        tracing::debug!(error = %e, "the kernel was not told to drop an audit log's pages");
    }
}

/// How many bytes of disk blocks [`reserve_blocks`] reserves at a time.
const RESERVED: u64 = 1 << 20;

/// Reserves the disk blocks of the next [`RESERVED`] bytes from `end`,
/// without changing the file's size, so that appends write into blocks
/// the file already has. On ext4, appends of 1 KB lines cost the kernel
/// about 7% less this way, fsyncs included: a write that takes a new block
/// also reserves it and records it as delayed. Only a saving: a file
/// system that cannot reserve still takes every write.
fn reserve_blocks(file: &File, end: u64) {
    let flags = rustix::fs::FallocateFlags::KEEP_SIZE;
    if let Err(e) = rustix::fs::fallocate(file, flags, end, RESERVED) {
        tracing::debug!(error = %e, "no disk blocks were reserved for an audit log");
    }
}

/// The range [`drop_from_cache`] advises: the whole pages from the start of
/// `from`'s page to `end`'s, if there are any. `end` is rounded down here:
/// the kernel would drop a partial last page that ends the file, and the
/// next line would then read it back from disk. (An empty length would
/// mean the whole file.)
fn advised_range(from: u64, end: u64, page: u64) -> Option<(u64, std::num::NonZeroU64)> {
    let end = end / page * page;
    let from = from.min(end) / page * page;
    std::num::NonZeroU64::new(end - from).map(|len| (from, len))
}

/// The lease keeper: lets go of the `flock` of files not being written
/// that another process waits for, or that were not written for [`IDLE`],
/// so that another process waits at most about two leases for an idle
/// one. Ends once the [`AuditLog`] is gone.
fn keep_leases(regions: &Weak<Regions>) {
    loop {
        std::thread::sleep(LEASE);
        let Some(regions) = regions.upgrade() else {
            return;
        };
        let logs: Vec<Arc<Mutex<RegionLog>>> = regions.lock().values().cloned().collect();
        drop(regions);
        for log in logs {
            let Some(mut log) = log.try_lock() else {
                continue;
            };
            // Nobody in this process is writing: a waiting writer need
            // not wait for the next write here.
            if log.locked_since.is_some()
                && (log.used.elapsed() >= IDLE || AuditLog::someone_waits(&log))
            {
                AuditLog::unlock(&mut log);
            }
        }
    }
}

impl AuditLog {
    /// Opens the log files in `dir` (creating it), moving any events still
    /// in the database from before the files into them.
    pub fn open(dir: &Path, sync: AuditSync, store: Arc<dyn Store>) -> StoreResult<Self> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(StoreError::io(dir))?;
        let marks = store
            .audit_marks()?
            .into_iter()
            .map(|mark| (mark.region.clone(), mark))
            .collect();
        let regions = Arc::<Regions>::default();
        let weak = Arc::downgrade(&regions);
        std::thread::Builder::new()
            .name("keyward-audit-lease".into())
            .spawn(move || keep_leases(&weak))
            .map_err(StoreError::io(dir))?;
        let log = Self {
            dir: dir.to_owned(),
            sync,
            store,
            marks,
            regions,
            usage: Mutex::default(),
            saved: Mutex::default(),
            #[cfg(feature = "test-hooks")]
            refuse_writes: std::sync::atomic::AtomicBool::new(false),
        };
        log.move_database_events()?;
        Ok(log)
    }

    /// Moves the events a store kept in its database before the log files
    /// existed into the files, as they were (same positions and hashes).
    fn move_database_events(&self) -> StoreResult<()> {
        if !self.store.has_legacy_audit_events()? {
            return Ok(());
        }
        // One process at a time: another may be opening the same store.
        let lock_path = self.dir.join("move.lock");
        let lock = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .map_err(StoreError::io(&lock_path))?;
        lock.lock().map_err(StoreError::io(&lock_path))?;
        let events = self.store.legacy_audit_events()?;
        if events.is_empty() {
            return Ok(());
        }
        for region in events.chunk_by(|a, b| a.region == b.region) {
            let Some(name) = region.first().map(|e| &e.region) else {
                continue;
            };
            let path = self.dir.join(file_name(name));
            if std::fs::metadata(&path).is_ok_and(|m| m.len() > 0) {
                // Moved before a crash kept the rows from being deleted.
                continue;
            }
            let mut lines = Vec::new();
            for stored in region {
                let hash: [u8; HASH_LEN] = stored.hash.clone().try_into().map_err(|_| {
                    StoreError::Corrupt(format!("audit event {} has a bad hash", stored.seq))
                })?;
                let event = NewEvent {
                    region: stored.region.clone(),
                    time_ms: stored.time_ms,
                    json: stored.json.clone(),
                    used_keys: Vec::new(),
                    event_name: String::new(),
                    event_id: String::new(),
                    request_id: String::new(),
                };
                encode_moved(&mut lines, stored.seq, &hash, &event);
            }
            let partial = path.with_extension("moving");
            let mut file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&partial)
                .map_err(StoreError::io(&partial))?;
            file.write_all(&lines).map_err(StoreError::io(&partial))?;
            file.sync_all().map_err(StoreError::io(&partial))?;
            std::fs::rename(&partial, &path).map_err(StoreError::io(&path))?;
        }
        self.sync_dir()?;
        self.store.drop_legacy_audit_events()
    }

    fn sync_dir(&self) -> StoreResult<()> {
        File::open(&self.dir)
            .and_then(|dir| dir.sync_all())
            .map_err(StoreError::io(&self.dir))
    }

    /// Whether events of requests that change nothing are fsynced.
    pub fn sync(&self) -> AuditSync {
        self.sync
    }

    /// Makes every write fail, for tests of what a failed audit write does.
    #[cfg(feature = "test-hooks")]
    pub fn refuse_writes(&self, refuse: bool) {
        self.refuse_writes
            .store(refuse, std::sync::atomic::Ordering::SeqCst);
    }

    #[cfg(feature = "test-hooks")]
    fn check_writable(&self, log: &RegionLog) -> StoreResult<()> {
        if self.refuse_writes.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StoreError::io(&log.path)(std::io::Error::other(
                "audit writes are refused for a test",
            )));
        }
        Ok(())
    }

    #[cfg(not(feature = "test-hooks"))]
    #[expect(
        clippy::unused_self,
        clippy::unnecessary_wraps,
        reason = "the twin of the test build's check"
    )]
    fn check_writable(&self, _: &RegionLog) -> StoreResult<()> {
        Ok(())
    }

    fn usage(&self) -> MutexGuard<'_, Usage> {
        // A panic mid-update leaves at worst one record half new; the next
        // use of that key overwrites it.
        self.usage.lock()
    }

    fn note_use(&self, keys: &[(String, String)], used: &Use<'_>) {
        if !keys.is_empty() {
            self.usage().note(keys, used);
        }
    }

    /// The region's file, opened on first use at the saved mark.
    fn region(&self, region: &str) -> StoreResult<Arc<Mutex<RegionLog>>> {
        let mut regions = self.regions.lock();
        if let Some(log) = regions.get(region) {
            return Ok(Arc::clone(log));
        }
        let path = self.dir.join(file_name(region));
        // The waiting room first: the log's creation is what decides
        // whether the folder is synced.
        let waiting_path = path.with_extension("wait");
        let waiting = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&waiting_path)
            .map_err(StoreError::io(&waiting_path))?;
        let created = !path.exists();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(StoreError::io(&path))?;
        if created {
            self.sync_dir()?;
        }
        let now = Instant::now();
        let mut log = RegionLog {
            region: region.to_owned(),
            path,
            file,
            end: 0,
            seq: 0,
            hash: [0; HASH_LEN],
            uncached: 0,
            reserved: 0,
            waiting,
            locked_since: None,
            checked: now,
            used: now,
        };
        if let Some(mark) = self.marks.get(region) {
            // The chain as of the mark, which the file must go on holding
            // (the catch-up checks that what follows continues it).
            (log.end, log.seq, log.hash) = (mark.offset, mark.seq, mark.hash);
        }
        let log = Arc::new(Mutex::new(log));
        regions.insert(region.to_owned(), Arc::clone(&log));
        Ok(log)
    }

    /// Runs `f` on `region`'s file under its locks (this process's, then
    /// the file's), after reading what other writers appended.
    ///
    /// The `flock` is kept from one write to the next, which under load
    /// spares each write two system calls and the catch-up (nobody else can
    /// have written meanwhile). Every [`LEASE`], a write looks for writers
    /// of other processes in the waiting room and lets them in first; the
    /// lease keeper thread ([`keep_leases`]) lets go of idle locks, and
    /// none is kept longer than [`LONGEST_LEASE`].
    fn with_region<T>(
        &self,
        region: &str,
        f: impl FnOnce(&mut RegionLog) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let log = self.region(region)?;
        // The state is `end` and the chain head there, updated together
        // only after a write succeeded.
        let mut log = log.lock();
        let now = Instant::now();
        if let Some(since) = log.locked_since
            && now.saturating_duration_since(log.checked) >= LEASE
        {
            Self::renew_or_hand_over(&mut log, since);
        }
        if log.locked_since.is_none() {
            Self::lock(&mut log)?;
            if let Err(e) = self.catch_up(&mut log) {
                Self::unlock(&mut log);
                return Err(e);
            }
        }
        log.used = now;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut log)));
        let result = match result {
            Ok(result) => result,
            Err(panic) => {
                // The next writer must catch up: the file may hold anything.
                Self::unlock(&mut log);
                std::panic::resume_unwind(panic);
            }
        };
        if result.is_err() {
            // The next writer, after taking the lock again, cuts off
            // whatever part of a failed write reached the file.
            Self::unlock(&mut log);
        }
        result
    }

    /// Takes the file's `flock`, from the waiting room if another process
    /// has it.
    fn lock(log: &mut RegionLog) -> StoreResult<()> {
        let taken = match log.file.try_lock() {
            Ok(()) => Ok(()),
            Err(std::fs::TryLockError::WouldBlock) => {
                // If the waiting room fails, the holder lets us in at its
                // longest lease's end.
                let waits = log.waiting.lock_shared().is_ok();
                let taken = log.file.lock();
                if waits {
                    Self::leave(&log.waiting);
                }
                taken
            }
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        };
        taken.map_err(StoreError::io(&log.path))?;
        let now = Instant::now();
        (log.locked_since, log.checked) = (Some(now), now);
        Ok(())
    }

    /// At a lease's end: keeps the file's `flock` if no writer of another
    /// process waits for it, else lets the waiting writers in and returns
    /// once they have it (the caller then waits its turn). Past
    /// [`LONGEST_LEASE`], lets go regardless, for [`HANDOVER`].
    fn renew_or_hand_over(log: &mut RegionLog, since: Instant) {
        if since.elapsed() >= LONGEST_LEASE {
            Self::unlock(log);
            std::thread::sleep(HANDOVER);
            return;
        }
        log.checked = Instant::now();
        if !Self::someone_waits(log) {
            return;
        }
        Self::unlock(log);
        // Free once every waiting writer has the file's lock (each leaves
        // the room after taking it). Not waited for past a lease: a writer
        // that stays in the room without taking the lock (a stopped
        // process) must not hold this one up, nor a room that a third
        // process keeps entering.
        let until = Instant::now() + LEASE;
        loop {
            match log.waiting.try_lock() {
                Ok(()) => {
                    Self::leave(&log.waiting);
                    return;
                }
                Err(std::fs::TryLockError::WouldBlock) if Instant::now() < until => {
                    std::thread::sleep(HANDOVER);
                }
                Err(_) => return,
            }
        }
    }

    /// Whether a writer of another process is in the file's waiting room:
    /// if it is free, nobody is. (If it cannot be looked at, the longest
    /// lease still lets writers in.)
    fn someone_waits(log: &RegionLog) -> bool {
        match log.waiting.try_lock() {
            Ok(()) => {
                Self::leave(&log.waiting);
                false
            }
            Err(std::fs::TryLockError::WouldBlock) => true,
            Err(std::fs::TryLockError::Error(e)) => {
                tracing::debug!(error = %e, "an audit log's waiting room could not be looked at");
                false
            }
        }
    }

    /// Lets go of a `flock` on a waiting room.
    fn leave(waiting: &File) {
        if let Err(e) = waiting.unlock() {
            tracing::warn!(error = %e, "an audit log's waiting room could not be left");
        }
    }

    fn unlock(log: &mut RegionLog) {
        log.locked_since = None;
        if let Err(e) = log.file.unlock() {
            tracing::warn!(error = %e, "an audit log file could not be unlocked");
        }
    }

    /// Reads the lines appended since `log.end` by anyone else, mending
    /// what a writer that died left: a `?` line is kept if its mutation
    /// committed and cut off if not, a torn last line is cut off.
    ///
    /// Every line must continue the chain this process knows. If the file
    /// was cut short, or holds lines past `log.end` that do not follow its
    /// head, someone without keyward's lock changed it: the chain then goes
    /// on from the head this process knows, after what the file holds, so
    /// that the next digest vouches for the events that are gone and
    /// `keyward audit verify` reports where the chain breaks. (Taking the
    /// file's own head instead would let the next digest vouch for the
    /// changed file.)
    fn catch_up(&self, log: &mut RegionLog) -> StoreResult<()> {
        // The size by seeking, not `stat`: a `stat` asks for the file's
        // times, and a file whose times were asked for gets a new
        // fine-grained time (an inode write) at its next write.
        let len = (&log.file)
            .seek(SeekFrom::End(0))
            .map_err(StoreError::io(&log.path))?;
        if len == log.end {
            return Ok(());
        }
        // Where the file stops following the chain, if it does.
        let mut broken = (len < log.end).then_some(log.end);
        let from = if broken.is_some() { 0 } else { log.end };
        let mut uncommitted = None;
        let (mut seq, mut hash) = (log.seq, log.hash);
        // Whether every line so far is of an event moved from the database
        // (only a file's first lines can be).
        let mut moved = from == 0;
        let complete = scan(&log.file, &log.path, from, len, |offset, line| {
            uncommitted = None;
            if broken.is_some() {
                // Only looking for the end of the last complete line.
                return Ok(true);
            }
            let followed = decode(line).and_then(|(status, parsed, line_hash)| {
                let next = seq + 1;
                let linked = parsed.seq == next
                    && chain::follows(&hash, &log.region, next, parsed.event.get(), &line_hash)
                        .is_some();
                linked.then_some((status, parsed, line_hash))
            });
            let Some((status, parsed, line_hash)) = followed else {
                broken = Some(offset);
                return Ok(true);
            };
            if status == UNCOMMITTED {
                if !self.committed(parsed.event)? {
                    uncommitted = Some(offset);
                    return Ok(true);
                }
                log.file
                    .write_all_at(&[RECORDED], offset)
                    .map_err(StoreError::io(&log.path))?;
            }
            (seq, hash) = (parsed.seq, line_hash);
            // The uses come from the hashed event, not the line's own
            // fields, which anyone could have edited. Events moved from the
            // database, which come first, were never counted.
            moved &= parsed.moved();
            if !moved && let Ok(ids) = serde_json::from_str::<EventIds>(parsed.event.get()) {
                let used = Use {
                    operation: &ids.event_name,
                    time_ms: ids.time_ms(parsed.time),
                    event_id: &ids.event_id,
                    request_id: &ids.request_id,
                };
                self.note_use(&ids.used_keys(), &used);
            }
            Ok(true)
        })?;
        if let Some(at) = broken {
            tracing::error!(
                region = log.region,
                at,
                seq = seq + 1,
                "the audit log was cut or changed behind keyward's back: its chain goes on from \
                 the events this process knows, and `keyward audit verify` reports the break"
            );
        }
        let end = match (broken, uncommitted) {
            (None, Some(uncommitted)) => uncommitted,
            _ => complete,
        };
        if end < len {
            // Only a writer that died (or failed) leaves these, and no one
            // else writes while this process holds the lock.
            tracing::warn!(
                region = log.region,
                "cutting an unfinished audit line off its log"
            );
            log.file.set_len(end).map_err(StoreError::io(&log.path))?;
        }
        (log.end, log.seq, log.hash) = (end, seq, hash);
        Ok(())
    }

    /// Whether the mutation of a `?` line committed.
    fn committed(&self, event: &RawValue) -> StoreResult<bool> {
        let ids: Option<EventIds> = serde_json::from_str(event.get()).ok();
        match ids {
            Some(ids) => self.store.audited_mutation_committed(&ids.event_id),
            None => Ok(false),
        }
    }

    /// Appends `events` to their regions' chains and returns once they are
    /// written (and, with [`AuditSync::Disk`], on disk).
    pub fn append(&self, events: &[NewEvent]) -> StoreResult<()> {
        let first = match events {
            [] => return Ok(()),
            [event] => return self.append_one(event),
            [first, ..] => first,
        };
        if events.iter().all(|e| e.region == first.region) {
            return self.append_region(&first.region, events.iter());
        }
        let mut regions: Vec<&str> = events.iter().map(|e| e.region.as_str()).collect();
        regions.sort_unstable();
        regions.dedup();
        for region in regions {
            self.append_region(region, events.iter().filter(|e| e.region == region))?;
        }
        Ok(())
    }

    /// [`Self::append`] of one event, as every request that changes nothing
    /// makes it: in a buffer this thread keeps from one line to the next.
    fn append_one(&self, event: &NewEvent) -> StoreResult<()> {
        thread_local! {
            static LINE: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
        }
        let mut line = LINE.take();
        line.clear();
        // Outside the lock: all but the chain fields, and the event's hash.
        encode_body(&mut line, RECORDED, event);
        let event_hash = chain::event_hash(&event.json);
        let written = self.with_region(&event.region, |log| {
            self.check_writable(log)?;
            let seq = log.seq + 1;
            let hash = chain::link(&log.hash, &event.region, seq, &event_hash);
            encode_chain(&mut line, seq, &hash);
            self.write_lines(log, &line, seq, hash)?;
            self.note_use(&event.used_keys, &Use::of(event));
            Ok(())
        });
        if line.capacity() <= super::KEPT_BUFFER {
            LINE.set(line);
        }
        written
    }

    fn append_region<'e>(
        &self,
        region: &str,
        events: impl Iterator<Item = &'e NewEvent> + Clone,
    ) -> StoreResult<()> {
        // Outside the lock: all but the chain fields, and the events'
        // hashes, so that only the short links are made in order.
        let mut bodies: Vec<(Vec<u8>, [u8; HASH_LEN])> = events
            .clone()
            .map(|event| {
                let mut body = Vec::new();
                encode_body(&mut body, RECORDED, event);
                (body, chain::event_hash(&event.json))
            })
            .collect();
        self.with_region(region, |log| {
            self.check_writable(log)?;
            let (mut seq, mut hash) = (log.seq, log.hash);
            for (body, event_hash) in &mut bodies {
                seq += 1;
                hash = chain::link(&hash, region, seq, event_hash);
                encode_chain(body, seq, &hash);
            }
            let lines = bodies
                .iter()
                .map(|(line, _)| line.as_slice())
                .collect::<Vec<_>>()
                .concat();
            self.write_lines(log, &lines, seq, hash)?;
            for event in events {
                self.note_use(&event.used_keys, &Use::of(event));
            }
            Ok(())
        })
    }

    /// Writes `lines` at the end of `log`, whose chain they bring to `seq`
    /// and `hash` (on disk too, with [`AuditSync::Disk`]), or takes back
    /// what reached the file.
    fn write_lines(
        &self,
        log: &mut RegionLog,
        lines: &[u8],
        seq: i64,
        hash: [u8; HASH_LEN],
    ) -> StoreResult<()> {
        let end = log.end + lines.len() as u64;
        if end > log.reserved {
            reserve_blocks(&log.file, log.end);
            log.reserved = log.end + RESERVED;
        }
        let written = log
            .file
            .write_all_at(lines, log.end)
            .and_then(|()| match self.sync {
                AuditSync::Disk => log.file.sync_data(),
                AuditSync::Os => Ok(()),
            });
        if let Err(e) = written {
            // The callers hear of a failure: no line of theirs may stay.
            // If it cannot be cut here, the lock is let go and the next
            // writer's catch-up cuts what is torn (a complete line would
            // stay: the error is logged).
            if let Err(cut) = log.file.set_len(log.end) {
                tracing::error!(error = %cut, "a failed audit write could not be taken back");
            }
            return Err(StoreError::io(&log.path)(e));
        }
        (log.end, log.seq, log.hash) = (end, seq, hash);
        Ok(())
    }

    /// Writes a mutation's event, runs `commit` with the event's position
    /// (it commits the mutation together with
    /// `Store::record_audited_mutation` of the event), and marks the event
    /// recorded. If the event cannot be written, `commit` does not run; if
    /// `commit` fails, the event is taken back.
    pub fn append_mutation(
        &self,
        event: &NewEvent,
        commit: impl FnOnce(i64) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let event_hash = chain::event_hash(&event.json);
        let mut line = Vec::new();
        encode_body(&mut line, UNCOMMITTED, event);
        self.with_region(&event.region, |log| {
            self.check_writable(log)?;
            let seq = log.seq + 1;
            let hash = chain::link(&log.hash, &event.region, seq, &event_hash);
            encode_chain(&mut line, seq, &hash);
            let start = log.end;
            // On disk before the mutation commits: a committed mutation
            // always finds its event.
            log.file
                .write_all_at(&line, start)
                .and_then(|()| log.file.sync_data())
                .map_err(StoreError::io(&log.path))?;
            if let Err(e) = commit(seq) {
                if let Err(cut) = log.file.set_len(start) {
                    // The next writer's catch-up cuts it off.
                    tracing::warn!(error = %cut, "an uncommitted audit event was not taken back");
                }
                return Err(e);
            }
            if let Err(e) = log.file.write_all_at(&[RECORDED], start) {
                // Committed either way, and readers ask the store about `?`.
                // `end` stays before the line, so that no mark passes it (and
                // prunes the store's record of it) before the catch-up after
                // the lock is taken again marks it.
                tracing::warn!(error = %e, "a committed audit event is still marked uncommitted");
                Self::unlock(log);
                return Ok(());
            }
            (log.end, log.seq, log.hash) = (start + line.len() as u64, seq, hash);
            self.note_use(&event.used_keys, &Use::of(event));
            Ok(())
        })
    }

    /// The position and hash of the newest event of `region` if it is past
    /// `through`, with every event up to it on disk: a digest may only vouch
    /// for events that a power loss cannot take back.
    pub fn durable_head_past(
        &self,
        region: &str,
        through: i64,
    ) -> StoreResult<Option<(i64, [u8; HASH_LEN])>> {
        let head = self.with_region(region, |log| {
            if log.seq <= through {
                return Ok(None);
            }
            let file = log.file.try_clone().map_err(StoreError::io(&log.path))?;
            let uncached = std::mem::replace(&mut log.uncached, log.end);
            Ok(Some((
                log.seq,
                log.hash,
                uncached..log.end,
                file,
                log.path.clone(),
            )))
        })?;
        let Some((seq, hash, synced, file, path)) = head else {
            return Ok(None);
        };
        // Without the lock, so that requests go on writing meanwhile: what
        // was written before the head was read is synced either way. (If
        // the sync fails, those pages just stay cached.)
        file.sync_data().map_err(StoreError::io(&path))?;
        drop_from_cache(&file, synced.start, synced.end);
        Ok(Some((seq, hash)))
    }

    /// The last successful cryptographic use of a key that the log records.
    pub fn key_usage(&self, region: &str, key_id: &str) -> StoreResult<Option<KeyUse>> {
        // Whatever other processes appended counts too.
        self.with_region(region, |_| Ok(()))?;
        let known = self
            .usage()
            .0
            .get(region)
            .and_then(|by_key| by_key.get(key_id))
            .map(|(used, _)| used.clone());
        match known {
            Some(used) => Ok(Some(used)),
            None => self.store.key_usage(region, key_id),
        }
    }

    /// Saves the last uses seen since the previous save, with the marks of
    /// how far into each file they reach.
    pub fn save_marks(&self) -> StoreResult<()> {
        let logs: Vec<Arc<Mutex<RegionLog>>> = self.regions.lock().values().cloned().collect();
        let mut saved = self.saved.lock();
        // Marks first: every use before a mark is in the map by then. Only
        // the marks that moved, each with its file to sync.
        let mut moved: Vec<(LogMark, File, PathBuf)> = Vec::new();
        for log in &logs {
            let log = log.lock();
            if saved.get(&log.region) == Some(&log.end) {
                continue;
            }
            let file = log.file.try_clone().map_err(StoreError::io(&log.path))?;
            let mark = LogMark {
                region: log.region.clone(),
                offset: log.end,
                seq: log.seq,
                hash: log.hash,
            };
            moved.push((mark, file, log.path.clone()));
        }
        // Saving a mark lets the store forget the commit records of the
        // mutations before it, so their lines (`?` flipped to `=`) must be
        // on disk first. Without the regions' locks: what was written
        // before the marks were read is synced either way.
        let mut marks = Vec::with_capacity(moved.len());
        for (mark, file, path) in moved {
            file.sync_data().map_err(StoreError::io(&path))?;
            marks.push(mark);
        }
        let mut records: Vec<(String, String, KeyUse)> = Vec::new();
        for (region, by_key) in &mut self.usage().0 {
            for (key_id, (used, unsaved)) in by_key {
                if std::mem::take(unsaved) {
                    records.push((region.clone(), key_id.clone(), used.clone()));
                }
            }
        }
        if marks.is_empty() && records.is_empty() {
            return Ok(());
        }
        let result = self.store.save_audit_marks(&marks, &records);
        if result.is_ok() {
            for mark in &marks {
                saved.insert(mark.region.clone(), mark.offset);
            }
        }
        drop(saved);
        if result.is_err() {
            // Tried again at the next save.
            let mut usage = self.usage();
            for (region, key_id, _) in &records {
                if let Some((_, unsaved)) = usage.0.get_mut(region).and_then(|m| m.get_mut(key_id))
                {
                    *unsaved = true;
                }
            }
        }
        result
    }

    /// The regions that have a log file.
    pub fn regions(&self) -> StoreResult<Vec<String>> {
        let mut regions = Vec::new();
        let entries = std::fs::read_dir(&self.dir).map_err(StoreError::io(&self.dir))?;
        for entry in entries {
            let entry = entry.map_err(StoreError::io(&self.dir))?;
            let name = entry.file_name();
            let Some(name) = name.to_str().and_then(|n| n.strip_suffix(".log")) else {
                continue;
            };
            if name.starts_with('_') {
                // A hashed name: the region is in its lines.
                let mut region = None;
                self.read_path(&entry.path(), |entry| match entry {
                    Entry::Event(event) => {
                        region = Some(event.region);
                        false
                    }
                    // Past a damaged line or an uncommitted one to the first
                    // event, so that damage cannot hide the chain.
                    Entry::Unreadable(_) => true,
                })?;
                regions.extend(region);
            } else {
                regions.push(name.to_owned());
            }
        }
        regions.sort();
        Ok(regions)
    }

    /// Calls `each` with the entries of `region`'s log, oldest first, until
    /// it returns `false`. Reads without the lock: a line being written is
    /// not yet there.
    pub fn read(&self, region: &str, each: impl FnMut(Entry) -> bool) -> StoreResult<()> {
        self.read_path(&self.dir.join(file_name(region)), each)
    }

    fn read_path(&self, path: &Path, mut each: impl FnMut(Entry) -> bool) -> StoreResult<()> {
        let file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StoreError::io(path)(e)),
        };
        let len = file.metadata().map_err(StoreError::io(path))?.len();
        // An uncommitted line is only left alone if nothing follows it.
        let mut held: Option<String> = None;
        // Whether all lines so far are of events moved from the database,
        // which come first.
        let mut moved = true;
        scan(&file, path, 0, len, |offset, line| {
            if let Some(problem) = held.take()
                && !each(Entry::Unreadable(problem))
            {
                return Ok(false);
            }
            let Some((status, parsed, hash)) = decode(line) else {
                return Ok(each(Entry::Unreadable(format!(
                    "the line at byte {offset} does not decode"
                ))));
            };
            moved &= parsed.moved();
            if let Some(problem) = used_disagrees(&parsed, moved) {
                let seq = parsed.seq;
                return Ok(each(Entry::Unreadable(format!(
                    "event {seq}'s line {problem} (edited)"
                ))));
            }
            if status != RECORDED && !(status == UNCOMMITTED && self.committed(parsed.event)?) {
                held = Some(format!(
                    "event {} is of a mutation that did not commit",
                    parsed.seq
                ));
                return Ok(true);
            }
            Ok(each(Entry::Event(StoredEvent {
                region: parsed.region,
                seq: parsed.seq,
                time_ms: parsed.time,
                json: parsed.event.get().to_owned(),
                hash: hash.to_vec(),
            })))
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_file_names_are_safe() {
        let event = NewEvent {
            region: "us-east-1".into(),
            time_ms: 5,
            json: r#"{"eventName":"Encrypt","eventID":"e","requestID":"r"}"#.into(),
            used_keys: vec![("us-east-1".into(), "k".into())],
            event_name: "Encrypt".into(),
            event_id: "e".into(),
            request_id: "r".into(),
        };
        let hash = [0xab; HASH_LEN];
        let mut out = Vec::new();
        encode(&mut out, RECORDED, 7, &hash, &event);
        assert_eq!(out.last(), Some(&b'\n'));
        let (status, line, decoded) = decode(&out[..out.len() - 1]).unwrap();
        assert_eq!((status, line.seq, decoded), (RECORDED, 7, hash));
        assert_eq!(line.time, 5);
        assert_eq!(line.event.get(), event.json);
        // The event says the keys it used.
        assert_eq!((line.region.as_str(), line.used), ("us-east-1", None));

        // A moved event says it used none.
        out.clear();
        encode_moved(&mut out, 7, &hash, &event);
        let (_, line, _) = decode(&out[..out.len() - 1]).unwrap();
        assert_eq!(line.used, Some(Vec::new()));

        // An older keyward's line, with both.
        let older = format!(
            r#"={{"region":"us-east-1","time":5,"used":[["us-east-1","k"]],"event":{{}},"seq":1,"hash":"{}"}}"#,
            "ab".repeat(HASH_LEN)
        );
        let (_, line, _) = decode(older.as_bytes()).unwrap();
        assert_eq!(line.region, "us-east-1");
        assert_eq!(line.used, Some(vec![("us-east-1".into(), "k".into())]));

        assert_eq!(file_name("eu-west-2"), "eu-west-2.log");
        for odd in ["../x", "", "Us-East-1", "a/b", &"a".repeat(65)] {
            let name = file_name(odd);
            assert!(name.starts_with('_') && !name.contains('/'), "{name}");
        }
    }

    #[test]
    fn the_keys_an_event_used_are_its_resources_if_it_used_them() {
        let ids = |json: serde_json::Value| {
            serde_json::from_value::<EventIds>(json)
                .unwrap()
                .used_keys()
        };
        let resources = serde_json::json!([
            {"accountId": "111122223333", "type": "AWS::KMS::Key",
             "ARN": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"},
            {"accountId": "111122223333", "type": "AWS::KMS::Key",
             "ARN": "arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab"},
        ]);
        let event = |name: &str| {
            serde_json::json!({
                "eventName": name, "eventID": "e", "requestID": "r", "resources": resources,
            })
        };
        assert_eq!(
            ids(event("ReEncrypt")),
            [
                (
                    "us-east-1".to_owned(),
                    "1234abcd-12ab-34cd-56ef-1234567890ab".to_owned()
                ),
                (
                    "eu-west-1".to_owned(),
                    "mrk-1234abcd12ab34cd56ef1234567890ab".to_owned()
                ),
            ]
        );
        // Not a cryptographic use.
        assert_eq!(ids(event("DescribeKey")), []);
        // A failed use.
        let mut failed = event("Decrypt");
        failed["errorCode"] = "InvalidCiphertextException".into();
        assert_eq!(ids(failed), []);
        // No key.
        assert_eq!(
            ids(serde_json::json!({"eventName": "Encrypt", "eventID": "e", "requestID": "r"})),
            []
        );
    }

    #[test]
    fn pages_are_dropped_from_where_the_last_drop_stopped() {
        let range = |from, end| advised_range(from, end, 4096).map(|(at, len)| (at, len.get()));
        assert_eq!(range(0, 0), None);
        assert_eq!(range(0, 4000), None);
        // Whole pages only: the one being appended to stays.
        assert_eq!(range(0, 10_000), Some((0, 8192)));
        // The page the last drop ended in was kept then; it is full now.
        assert_eq!(range(10_000, 20_000), Some((8192, 8192)));
        assert_eq!(range(8192, 8192), None);
        // A file cut shorter than the last drop.
        assert_eq!(range(20_000, 9000), None);
    }

    /// An audit log in `dir`'s `audit` folder, with a store of its own.
    fn open_log(dir: &Path, store_name: &str) -> AuditLog {
        let store: Arc<dyn Store> =
            Arc::new(crate::store::SqliteStore::open(&dir.join(store_name)).unwrap());
        AuditLog::open(&dir.join("audit"), AuditSync::Os, store).unwrap()
    }

    fn small_event(id: &str) -> NewEvent {
        NewEvent {
            region: "us-east-1".into(),
            time_ms: 5,
            json: format!(r#"{{"eventID":"{id}"}}"#),
            used_keys: Vec::new(),
            event_name: "Encrypt".into(),
            event_id: id.into(),
            request_id: "r".into(),
        }
    }

    /// Since when `log` holds the `flock` of `us-east-1`'s file.
    fn locked_since(log: &AuditLog) -> Option<Instant> {
        let region = Arc::clone(&log.regions.lock()["us-east-1"]);
        region.lock().locked_since
    }

    /// The event ids of `us-east-1`'s file, in order.
    fn event_ids(log: &AuditLog) -> Vec<String> {
        let mut ids = Vec::new();
        log.read("us-east-1", |entry| {
            if let Entry::Event(event) = entry {
                let json: serde_json::Value = serde_json::from_str(&event.json).unwrap();
                ids.push(json["eventID"].as_str().unwrap().to_owned());
            }
            true
        })
        .unwrap();
        ids
    }

    #[test]
    fn a_busy_writer_keeps_the_lock_while_nobody_waits() {
        let dir = tempfile::tempdir().unwrap();
        let log = open_log(dir.path(), "k.db");
        log.append(&[small_event("first")]).unwrap();
        let taken = locked_since(&log).unwrap();
        // Writes past several leases.
        let start = Instant::now();
        let mut n = 0;
        while start.elapsed() < LEASE * 4 {
            n += 1;
            log.append(&[small_event(&format!("e{n}"))]).unwrap();
        }
        assert_eq!(locked_since(&log), Some(taken), "the lock was let go");
    }

    #[test]
    fn a_writer_of_another_process_waiting_for_the_lock_is_let_in() {
        let dir = tempfile::tempdir().unwrap();
        // Two logs on one folder, as two processes have: each its own files.
        let busy = open_log(dir.path(), "k.db");
        let other = open_log(dir.path(), "k.db");
        busy.append(&[small_event("busy-0")]).unwrap();
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                // Neither idle nor the longest lease lets go of the lock
                // here (both are long in unit tests): only the waiting room
                // can let the other in.
                // Once the other is in, one more write: it must land after
                // the other's, even if this thread was not running while
                // the lease keeper let the other in between two writes.
                let start = Instant::now();
                let mut n = 0;
                while start.elapsed() < Duration::from_secs(10) {
                    let other_is_in = done.load(std::sync::atomic::Ordering::Acquire);
                    n += 1;
                    busy.append(&[small_event(&format!("busy-{n}"))]).unwrap();
                    if other_is_in {
                        break;
                    }
                }
            });
            other.append(&[small_event("other")]).unwrap();
            done.store(true, std::sync::atomic::Ordering::Release);
        });
        let ids = event_ids(&busy);
        let at = ids.iter().position(|id| id == "other").unwrap();
        assert!(
            ids[at + 1..].iter().any(|id| id.starts_with("busy-")),
            "the other writer got in only once the busy one stopped: {ids:?}"
        );
    }

    #[test]
    fn blocks_are_reserved_past_the_end_without_growing_the_file() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let log = open_log(dir.path(), "k.db");
        for n in 0..3 {
            log.append(&[small_event(&format!("e{n}"))]).unwrap();
        }
        let path = dir.path().join("audit").join("us-east-1.log");
        let file = std::fs::metadata(&path).unwrap();
        let lines = std::fs::read(&path).unwrap();
        assert!(
            lines.ends_with(b"\n") && !lines.contains(&0),
            "{} bytes, a zero at {:?}",
            lines.len(),
            lines.iter().position(|&byte| byte == 0)
        );
        assert_eq!(event_ids(&log), ["e0", "e1", "e2"]);
        // The file system under the tests reserves (ext4, xfs, tmpfs do).
        assert!(
            file.blocks() * 512 >= RESERVED,
            "{} bytes of blocks for {} bytes",
            file.blocks() * 512,
            file.len()
        );
    }

    #[test]
    fn lines_written_after_a_digest_drops_pages_follow_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let log = open_log(dir.path(), "k.db");
        let event = |n: usize| NewEvent {
            region: "us-east-1".into(),
            time_ms: 5,
            // About 1 KB, so that lines cross page boundaries.
            json: format!(r#"{{"eventID":"e{n}","pad":"{}"}}"#, "x".repeat(1000)),
            used_keys: Vec::new(),
            event_name: "Encrypt".into(),
            event_id: format!("e{n}"),
            request_id: "r".into(),
        };
        let mut written = 0;
        for round in 1..=3 {
            for _ in 0..9 {
                written += 1;
                log.append(&[event(written)]).unwrap();
            }
            // Syncs the file and drops its whole pages from the cache.
            let head = log.durable_head_past("us-east-1", 0).unwrap();
            assert_eq!(head.map(|(seq, _)| seq), Some(i64::from(round) * 9));
        }
        let mut read = Vec::new();
        log.read("us-east-1", |entry| {
            match entry {
                Entry::Event(event) => read.push((event.seq, event.json)),
                Entry::Unreadable(line) => panic!("unreadable: {line}"),
            }
            true
        })
        .unwrap();
        let expected: Vec<(i64, String)> = (1..=written)
            .map(|n| (i64::try_from(n).unwrap(), event(n).json))
            .collect();
        assert_eq!(read, expected);
    }
}
