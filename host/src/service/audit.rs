//! The service's side of the audit trail: digests, verification, queries,
//! exports, and `GetKeyLastUsage`, which the trail's last-use records
//! answer.

use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;

use super::{Caller, Details, Kms, KmsError, KmsResult, Op};
use crate::audit::chain::{self, RegionReport, Walker};
use crate::audit::log::{AuditLog, Entry};
use crate::audit::query::{self, Filter};
use crate::authz::Action;
use crate::clock::Clock;
use crate::clock::seconds;
use crate::core::CorePool;
use crate::model::{GetKeyLastUsageResponse, KeyIdRequest, KeyLastUsage};
use crate::store::{DigestRecord, KeyRecord, Store, StoreError};

/// What `keyward audit verify` found: one report per region.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditVerification {
    /// The regions' chains.
    pub regions: Vec<RegionReport>,
}

impl AuditVerification {
    /// Whether every chain is intact.
    pub fn intact(&self) -> bool {
        self.regions.iter().all(|r| r.first_bad.is_none())
    }
}

/// What `keyward audit export` wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AuditExport {
    /// How many records.
    pub records: usize,
    /// The files.
    pub files: Vec<PathBuf>,
}

/// What makes the audit trail's digests, shared by the service and the
/// thread that makes one every interval while the service is open (and so
/// off the requests' path: a digest fsyncs the logs first).
#[derive(Debug)]
pub(super) struct Sealer {
    pub(super) store: Arc<dyn Store>,
    pub(super) core: Arc<CorePool>,
    pub(super) audit: Arc<AuditLog>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) interval_ms: i64,
    /// When the chains last got a digest; held while one is made, so that
    /// two are never made at once.
    pub(super) sealed_ms: Mutex<i64>,
}

/// The thread of [`Sealer::start`]; dropping it stops the thread.
#[derive(Debug)]
pub(super) struct Sealing {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Sealing {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the audit sealing thread panicked");
        }
    }
}

impl Sealer {
    /// Starts the thread that makes a digest whenever the interval has
    /// passed since the last (by the service's clock). Without a thread
    /// (the system refused one), digests are made when the service is
    /// dropped and when asked for.
    pub(super) fn start(self: &Arc<Self>) -> Sealing {
        let (stop, stopped) = mpsc::channel::<()>();
        let sealer = Arc::clone(self);
        // Checked often enough for the interval, and at least every second
        // for a clock that moves by other means than time (tests).
        let tick =
            Duration::from_millis(u64::try_from(self.interval_ms.clamp(10, 1000)).unwrap_or(1000));
        let thread = std::thread::Builder::new()
            .name("keyward-sealer".into())
            .spawn(move || {
                let mut failing = false;
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(tick) {
                    // A panic must not end the digests for good: the next
                    // tick tries again, as for an error.
                    let sealed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        sealer.seal_if_due()
                    }));
                    match sealed {
                        Ok(Ok(())) if failing => {
                            tracing::info!("the audit trail is being sealed again");
                            failing = false;
                        }
                        Ok(Ok(())) => {}
                        // Logged once, not at every tick, until it recovers.
                        Ok(Err(e)) if !failing => {
                            tracing::error!(error = %e, "the audit trail could not be sealed");
                            failing = true;
                        }
                        Err(_) if !failing => {
                            tracing::error!("making an audit digest panicked");
                            failing = true;
                        }
                        Ok(Err(_)) | Err(_) => {}
                    }
                }
            })
            .inspect_err(|e| tracing::error!("cannot start the audit sealing thread: {e}"))
            .ok();
        Sealing {
            stop: Some(stop),
            thread,
        }
    }

    /// Makes a signed digest of every region's chain that has events past
    /// its newest digest.
    pub(super) fn seal(&self) -> KmsResult<()> {
        let mut sealed_ms = self.sealed_ms.lock();
        self.seal_locked(&mut sealed_ms)
    }

    /// Seals the chains if the interval has passed since the last digest.
    fn seal_if_due(&self) -> KmsResult<()> {
        let Some(mut sealed_ms) = self.sealed_ms.try_lock() else {
            return Ok(());
        };
        if self.clock.now_ms().saturating_sub(*sealed_ms) >= self.interval_ms {
            self.seal_locked(&mut sealed_ms)?;
        }
        Ok(())
    }

    /// [`Sealer::seal`], under its lock. The MAC is made inside the guest
    /// with a key derived from the domain key.
    fn seal_locked(&self, sealed_ms: &mut i64) -> KmsResult<()> {
        let now = self.clock.now_ms();
        // The last uses first: a digest that fails still leaves them saved.
        self.audit.save_marks()?;
        for region in self.audit.regions()? {
            let last = self.store.last_digest(&region)?;
            let through = last.as_ref().map_or(0, |d| d.through_seq);
            let Some((head_seq, head_hash)) = self.audit.durable_head_past(&region, through)?
            else {
                continue;
            };
            let mut digest = DigestRecord {
                region: region.clone(),
                number: last.as_ref().map_or(1, |d| d.number + 1),
                through_seq: head_seq,
                through_hash: head_hash.to_vec(),
                time_ms: now,
                prev_mac: last.map(|d| d.mac).unwrap_or_default(),
                mac: Vec::new(),
            };
            digest.mac = self
                .core
                .seal_digest(&chain::digest_message(&digest))?
                .map_err(KmsError::guest)?;
            self.store.append_digest(&digest)?;
        }
        *sealed_ms = now;
        Ok(())
    }
}

impl Kms {
    /// Makes a signed digest of every region's chain that has events past
    /// its newest digest. The MAC is made inside the guest with a key
    /// derived from the domain key. A thread does this every digest
    /// interval while the service is open, and dropping the service does it
    /// once more.
    pub fn seal_audit(&self) -> KmsResult<()> {
        self.sealer.seal()
    }

    /// Checks every region's chain and digests: the first edited, deleted or
    /// inserted event, a forged digest, or a tail cut short of what a digest
    /// covers.
    pub fn verify_audit(&self) -> KmsResult<AuditVerification> {
        let mut regions = Vec::new();
        let mut names = self.audit.regions()?;
        for digest_region in self.store.digest_regions()? {
            if !names.contains(&digest_region) {
                names.push(digest_region);
            }
        }
        names.sort();
        for region in names {
            let digests = self.store.digests(&region)?;
            let mut failure = None;
            let mut walker = Walker::new(&region, &digests, |digest| {
                match self
                    .core
                    .check_digest(&chain::digest_message(digest), &digest.mac)
                {
                    Ok(Ok(valid)) => valid,
                    Ok(Err(e)) => {
                        failure = Some(KmsError::guest(e));
                        false
                    }
                    Err(e) => {
                        failure = Some(KmsError::from(e));
                        false
                    }
                }
            });
            if let Some(failure) = failure {
                return Err(failure);
            }
            self.audit.read(&region, |entry| {
                match entry {
                    Entry::Event(event) => walker.event(&event),
                    Entry::Unreadable(problem) => walker.unreadable(&problem),
                }
                !walker.done()
            })?;
            regions.push(walker.finish());
        }
        Ok(AuditVerification { regions })
    }

    /// The audit events that match `filter`. A key given by alias or id is
    /// resolved in `caller`'s region and account first (a key that no longer
    /// exists is matched by its id).
    pub fn query_audit(
        &self,
        caller: &Caller,
        key: Option<&str>,
        mut filter: Filter,
    ) -> KmsResult<Vec<serde_json::Value>> {
        if let Some(key) = key {
            match self.resolve(caller, key) {
                Ok(found) => filter.key_arns = Some(vec![found.arn]),
                Err(KmsError::NotFound(_)) if !key.contains("alias/") => {
                    let id = key.rsplit_once("key/").map_or(key, |(_, id)| id);
                    filter.key_id = Some(id.to_owned());
                }
                Err(e) => return Err(e),
            }
        }
        Ok(query::query(&self.audit, &filter)?)
    }

    /// Writes the events that match `filter` as CloudTrail log files in
    /// `dir`.
    pub fn export_audit(
        &self,
        caller: &Caller,
        key: Option<&str>,
        filter: Filter,
        dir: &Path,
    ) -> KmsResult<AuditExport> {
        let events = self.query_audit(caller, key, filter)?;
        let files = query::export(&events, dir).map_err(StoreError::io(dir))?;
        Ok(AuditExport {
            records: events.len(),
            files,
        })
    }

    /// The last successful cryptographic use of `key`.
    pub(super) fn last_usage(&self, key: &KeyRecord) -> KmsResult<Option<KeyLastUsage>> {
        let usage = self.audit.key_usage(&key.region, &key.key_id)?;
        Ok(usage.map(|usage| KeyLastUsage {
            operation: usage.operation,
            timestamp: seconds(usage.time_ms),
            cloud_trail_event_id: usage.event_id,
            kms_request_id: usage.request_id,
        }))
    }

    /// `GetKeyLastUsage`: the last successful cryptographic operation with a
    /// key, from the audit trail's last-use record.
    pub fn get_key_last_usage(
        &self,
        caller: &Caller,
        request: KeyIdRequest,
    ) -> KmsResult<GetKeyLastUsageResponse> {
        self.run(
            caller,
            Op::read("GetKeyLastUsage"),
            request,
            |trail, request| {
                let key = self.admit(
                    caller,
                    trail,
                    Action::GetKeyLastUsage,
                    &request.key_id,
                    Details::default(),
                )?;
                Ok(GetKeyLastUsageResponse {
                    key_last_usage: self.last_usage(&key)?,
                    tracking_start_date: seconds(self.usage_tracking_start_ms),
                    key_creation_date: seconds(key.created_ms),
                    key_id: key.arn,
                })
            },
        )
    }
}
