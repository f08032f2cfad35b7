//! The KMS operations and the one request pipeline they all go through.
//!
//! Every operation on a key passes the same gate, `Kms::admit`:
//!
//! 1. resolve the key (key id, key ARN, alias name or alias ARN) in the
//!    caller's region;
//! 2. check the key's state against the operation (AWS's key-state table);
//! 3. authorize (`authz`);
//!
//! and only then calls the crypto core and builds the response. Operations
//! without a key (`ListKeys`, `GenerateRandom`, `CreateKey`) go through the
//! same request wrapper, `Kms::run`, which checks the region and will record
//! the audit event.

pub use crate::request::{Caller, TlsDetails};
pub(crate) use crate::request::{KeyRef, is_key_id};

mod aliases;
mod asymmetric;
mod audit;
mod ciphertext;
mod crypto_ops;
mod error;
mod grants;
mod imports;
mod keys;
mod lifecycle;
mod material;
mod policies;
mod rotation;
mod tags;
#[cfg(feature = "test-hooks")]
mod testing;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::RwLock;

pub use error::{InternalError, KmsError, KmsResult};
pub use lifecycle::MaintenanceReport;
#[cfg(feature = "test-hooks")]
pub use testing::Testing;

use crate::audit::commit::{GroupCommit, Ticket};
use crate::audit::log::AuditLog;
use crate::audit::members::members;
use crate::audit::{EventBuilder, Outcome, Trail};
use crate::authz::request::{self, RequestFacts, RequestParameters};
use crate::authz::{self, Action, Decision, IndexedPolicies, KeyPolicies, Principal, Question};
use crate::clock::{Clock, SystemClock};
use crate::core::{CoreConfig, CorePool, GuestError};
use crate::model::{EncryptionContext, KeyManager, KeyState};
use crate::store::{AuditSync, DataDir, KeyRecord, NewEvent, SqliteStore, Store, StoreError};

pub use audit::{AuditExport, AuditVerification};
use audit::{Sealer, Sealing};

/// How a [`Kms`] is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// The data directory (database and master key).
    pub data_dir: PathBuf,
    /// The regions this service serves; requests for any other are refused.
    pub regions: Vec<String>,
    /// The guest pool's settings.
    pub core: CoreConfig,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// How audit events of read-only requests reach the disk.
    pub audit_sync: AuditSync,
    /// How often a thread of the service gives the audit chains a signed
    /// digest, if they have new events (a digest is also made when the
    /// service is dropped).
    pub digest_interval_ms: i64,
}

impl Config {
    /// The defaults for a data directory: region `us-east-1`, a pool sized
    /// to the machine, the system clock.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            regions: vec!["us-east-1".to_owned()],
            core: CoreConfig::default(),
            clock: Arc::new(SystemClock),
            audit_sync: AuditSync::default(),
            digest_interval_ms: 1000,
        }
    }
}

/// What a request says besides its key that policies can test.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Details<'a> {
    /// The encryption context.
    pub encryption_context: Option<&'a EncryptionContext>,
    /// The grant tokens.
    pub grant_tokens: &'a [String],
    /// The members that condition keys test.
    pub parameters: Option<&'a RequestParameters>,
}

impl<'a> Details<'a> {
    /// Only the members that condition keys test.
    pub(crate) fn parameters(parameters: &'a RequestParameters) -> Self {
        Self {
            parameters: Some(parameters),
            ..Self::default()
        }
    }

    /// These details, with the members that condition keys test.
    pub(crate) fn with(self, parameters: &'a RequestParameters) -> Self {
        Self {
            parameters: Some(parameters),
            ..self
        }
    }
}

/// An operation as the pipeline runs it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Op {
    /// The AWS name.
    name: &'static str,
    /// Whether it changes state: it then runs in one store transaction with
    /// its audit event. CloudTrail's `readOnly` is the opposite.
    writes: bool,
    /// Whether keyward itself did it (a scheduled deletion or rotation):
    /// CloudTrail's `AwsServiceEvent`.
    service: bool,
    /// Whether its event records the response (`responseElements`).
    records_response: bool,
    /// Its event's `eventSource`.
    source: &'static str,
}

impl Op {
    /// An operation that changes nothing.
    pub(crate) const fn read(name: &'static str) -> Self {
        Self {
            name,
            writes: false,
            service: false,
            records_response: true,
            source: "kms.amazonaws.com",
        }
    }

    /// A cryptographic operation: it changes nothing, and, as in AWS's
    /// CloudTrail, its event's `responseElements` is `null` (the response
    /// is a key id and secrets or ciphertext; the key is in `resources`).
    pub(crate) const fn crypto(name: &'static str) -> Self {
        Self {
            records_response: false,
            ..Self::read(name)
        }
    }

    /// An operation that changes state.
    pub(crate) const fn write(name: &'static str) -> Self {
        Self {
            writes: true,
            ..Self::read(name)
        }
    }

    /// A change to an identity policy, which CloudTrail records as IAM's.
    pub(crate) const fn iam(name: &'static str) -> Self {
        Self {
            source: "iam.amazonaws.com",
            ..Self::write(name)
        }
    }

    /// A change keyward makes on its own schedule.
    pub(crate) const fn service(name: &'static str) -> Self {
        Self {
            service: true,
            ..Self::write(name)
        }
    }
}

/// A compiled policy set and the version of what it was compiled from.
type Versioned<T> = (i64, Arc<T>);

/// Compiled policy sets, by what they were compiled from and its version.
/// `Debug` shows sizes only: the prepared requests hold encryption contexts
/// and grant tokens.
#[derive(Default)]
struct AuthzCache {
    /// By (region, key id).
    keys: RwLock<HashMap<(String, String), Versioned<KeyPolicies>>>,
    /// By account.
    identity: RwLock<HashMap<String, Versioned<IndexedPolicies>>>,
    /// Request entities and contexts, by their inputs.
    prepared: request::PreparedCache,
}

impl std::fmt::Debug for AuthzCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthzCache")
            .field("keys", &self.keys.read().len())
            .field("identity", &self.identity.read().len())
            .finish_non_exhaustive()
    }
}

impl AuthzCache {
    /// Forgets every compiled policy set, after a transaction that may have
    /// compiled one from rows it then rolled back.
    fn clear(&self) {
        self.keys.write().clear();
        self.identity.write().clear();
    }
}

/// Why a [`Kms`] could not be opened or initialised.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The data directory has no key store yet.
    #[error("`{0}` is not an initialised keyward data directory (run `keyward init`)")]
    NotInitialized(String),
    /// `init` found an existing key store.
    #[error("`{0}` is already initialised")]
    AlreadyInitialized(String),
    /// The master key does not open the store's domain key.
    #[error("the master key does not open this key store's domain key")]
    WrongMasterKey,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The crypto core could not start.
    #[error(transparent)]
    Core(#[from] crate::core::CoreFault),
    /// The crypto core refused to create a domain key.
    #[error("the crypto core refused to create a domain key: {0}")]
    Guest(GuestError),
}

/// The key management service: one store, one guest pool, every operation.
#[derive(Debug)]
pub struct Kms {
    store: Arc<dyn Store>,
    core: Arc<CorePool>,
    regions: Vec<String>,
    clock: Arc<dyn Clock>,
    authz: AuthzCache,
    /// The audit trail's files.
    audit: Arc<AuditLog>,
    /// With [`AuditSync::Disk`], events of requests that change nothing,
    /// waiting for a shared fsync.
    commits: Arc<GroupCommit>,
    /// The thread that commits the events of [`Self::deferring_audit`],
    /// started by its first use.
    writer: std::sync::OnceLock<Option<std::thread::JoinHandle<()>>>,
    /// Makes the audit trail's digests.
    sealer: Arc<Sealer>,
    /// The thread that makes them every digest interval.
    sealing: Option<Sealing>,
    /// When this store began recording key use (`TrackingStartDate`).
    usage_tracking_start_ms: i64,
    /// Set by `Testing::skip_read_audit` for benchmarks.
    #[cfg(feature = "test-hooks")]
    skip_read_audit: std::sync::atomic::AtomicBool,
    /// Set by `Testing::panic_in_operations`.
    #[cfg(feature = "test-hooks")]
    panic_in_operations: std::sync::atomic::AtomicBool,
}

/// The audit chain of requests for regions this service does not serve.
pub const UNSERVED_CHAIN: &str = "unserved";

thread_local! {
    /// Set by [`Kms::deferring_audit`]: the group-commit tickets of the
    /// read-only requests run on this thread, for the caller to wait on.
    static DEFERRED: std::cell::RefCell<Option<Vec<Ticket>>> =
        const { std::cell::RefCell::new(None) };
}

/// The audit events of requests run by [`Kms::deferring_audit`], queued for
/// a group commit but not yet known to be durable. Nothing those requests
/// returned may be released before [`Kms::wait_for_audit`] succeeds.
#[derive(Debug)]
#[must_use = "the audit must be waited for before the responses are released"]
pub struct PendingAudit(Vec<Ticket>);

impl Drop for Kms {
    /// Seals the audit trail, so that a process that ends normally leaves
    /// no event outside a digest.
    fn drop(&mut self) {
        self.commits.shut_down();
        if let Some(Some(writer)) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!("the audit writer thread panicked");
        }
        // The thread first, so that this is the last digest.
        drop(self.sealing.take());
        if let Err(e) = self.seal_audit() {
            tracing::error!(error = %e, "the audit trail could not be sealed");
        }
    }
}

impl Kms {
    /// Initialises a new key store in `config.data_dir`: the directory, the
    /// master key file (mode 0600), the database and a new domain key,
    /// created and sealed inside the guest.
    pub fn init(config: &Config) -> Result<(), OpenError> {
        let dir = DataDir::new(&config.data_dir);
        let shown = dir.path().display().to_string();
        if dir.is_initialized() {
            return Err(OpenError::AlreadyInitialized(shown));
        }
        dir.create().map_err(|e| match e {
            StoreError::Io { source, .. } if source.kind() == std::io::ErrorKind::AlreadyExists => {
                OpenError::AlreadyInitialized(shown.clone())
            }
            other => OpenError::Store(other),
        })?;
        let master = dir.master_key()?;
        let sealed = CorePool::create_domain_key(&master)?.map_err(OpenError::Guest)?;
        let store = SqliteStore::open(&dir.database())?;
        if store.sealed_domain_key()?.is_some() {
            return Err(OpenError::AlreadyInitialized(shown));
        }
        store.set_sealed_domain_key(&sealed)?;
        Ok(())
    }

    /// Opens an initialised key store.
    pub fn open(config: Config) -> Result<Self, OpenError> {
        let dir = DataDir::new(&config.data_dir);
        if !dir.is_initialized() {
            return Err(OpenError::NotInitialized(dir.path().display().to_string()));
        }
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.database())?);
        let audit = Arc::new(AuditLog::open(
            &dir.audit_log(),
            config.audit_sync,
            Arc::clone(&store),
        )?);
        let usage_tracking_start_ms = store.usage_tracking_start(config.clock.now_ms())?;
        let sealed = store
            .sealed_domain_key()?
            .ok_or_else(|| OpenError::NotInitialized(dir.path().display().to_string()))?;
        let master = dir.master_key()?;
        let core = CorePool::new(config.core, master, sealed)?.map_err(|e| match e {
            GuestError::InvalidDomainKey => OpenError::WrongMasterKey,
            other => OpenError::Guest(other),
        })?;
        let sealer = Arc::new(Sealer {
            store: Arc::clone(&store),
            core: Arc::clone(&core),
            audit: Arc::clone(&audit),
            clock: Arc::clone(&config.clock),
            interval_ms: config.digest_interval_ms,
            sealed_ms: parking_lot::Mutex::new(config.clock.now_ms()),
        });
        let sealing = Some(sealer.start());
        Ok(Self {
            store,
            core,
            audit,
            regions: config.regions,
            clock: config.clock,
            authz: AuthzCache::default(),
            commits: Arc::default(),
            writer: std::sync::OnceLock::new(),
            sealer,
            sealing,
            usage_tracking_start_ms,
            #[cfg(feature = "test-hooks")]
            skip_read_audit: std::sync::atomic::AtomicBool::new(false),
            #[cfg(feature = "test-hooks")]
            panic_in_operations: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Opens the key store, initialising it first if the data directory has
    /// none. The flag says whether it did.
    pub fn open_or_init(config: Config) -> Result<(Self, bool), OpenError> {
        let initialized = if DataDir::new(&config.data_dir).is_initialized() {
            false
        } else {
            Self::init(&config)?;
            true
        };
        Ok((Self::open(config)?, initialized))
    }

    /// The regions this service serves.
    pub fn regions(&self) -> &[String] {
        &self.regions
    }

    /// Test-only access to the crypto core (cargo feature `test-hooks`).
    #[cfg(feature = "test-hooks")]
    pub fn testing(&self) -> Testing<'_> {
        Testing::new(self)
    }

    /// The request wrapper every operation runs in. It checks that the
    /// region is served, runs `body` on `request`, and records the audit
    /// event (whose `requestParameters` are `request`), failing
    /// closed: if the event cannot be written the caller gets an error and
    /// not the response. An operation that writes (`Op::write`) runs in one
    /// store transaction with its event, so that neither is kept without
    /// the other. Internal failures are logged for the operator (the caller
    /// sees only `KMSInternalException`).
    fn run<R: serde::Serialize, T: serde::Serialize>(
        &self,
        caller: &Caller,
        op: Op,
        request: R,
        body: impl FnOnce(&Trail, R) -> KmsResult<T>,
    ) -> KmsResult<T> {
        let audited = op.writes || self.audits_reads();
        // Before `body`, which may take the request apart.
        let parameters = audited.then(|| members(&request));
        let trail = Trail::default();
        let time_ms = self.now_ms();
        let request_id = caller
            .request_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let mut transaction = None;
        let served = self.regions.contains(&caller.region);
        let body = |request| {
            #[cfg(feature = "test-hooks")]
            self.panic_if_asked();
            body(&trail, request)
        };
        // A panic is recorded as a failure (and the transaction dropped)
        // before it goes on unwinding.
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if !served {
                Err(KmsError::validation(format!(
                    "region `{}` is not served by this keyward server",
                    caller.region
                )))
            } else if op.writes {
                match self.store.begin() {
                    Ok(started) => {
                        transaction = Some(started);
                        body(request)
                    }
                    Err(e) => Err(e.into()),
                }
            } else {
                body(request)
            }
        }));
        let (mut result, panic) = match ran {
            Ok(result) => (result, None),
            Err(panic) => (
                Err(KmsError::Internal(InternalError::Panicked)),
                Some(panic),
            ),
        };
        // Called on whichever path below runs (twice for a mutation whose
        // commit fails: its event is then written as a failure).
        let event = move |result: &KmsResult<T>| {
            let message;
            let outcome = match result {
                Ok(response) => Outcome::Success(op.records_response.then(|| members(response))),
                Err(e) => {
                    message = e.to_string();
                    Outcome::Failure {
                        code: e.code(),
                        message: &message,
                    }
                }
            };
            EventBuilder {
                caller,
                // Callers choose the region they name: requests for regions
                // not served share one chain, not a file each.
                chain: if served {
                    &caller.region
                } else {
                    UNSERVED_CHAIN
                },
                operation: op.name,
                read_only: !op.writes,
                service_event: op.service,
                event_source: op.source,
                parameters: parameters
                    .as_deref()
                    .unwrap_or(serde_json::value::RawValue::NULL),
                trail: &trail,
                time_ms,
                request_id: &request_id,
            }
            .build(outcome)
        };
        let recorded = match transaction {
            Some(transaction) if result.is_ok() => {
                let mutation = event(&result);
                // Whether the event was written and the commit tried.
                let mut committing = false;
                let written = self.audit.append_mutation(&mutation, |seq| {
                    committing = true;
                    transaction.record_audited_mutation(
                        &mutation.event_id,
                        &mutation.region,
                        seq,
                    )?;
                    transaction.commit()
                });
                // Outside the log's lock, which requests of the region wait
                // for, and the commit's (the wipe may wait for readers).
                self.store.wipe_deleted();
                if written.is_err() {
                    // Rolled back: nothing the operation did is kept, and
                    // nothing compiled from it may stay cached.
                    self.authz.clear();
                }
                match written {
                    Ok(()) => Ok(()),
                    // The event was taken back with the mutation; the log
                    // takes lines, so the failure is recorded as any other.
                    Err(e) if committing => {
                        result = Err(KmsError::Internal(InternalError::Store(e)));
                        self.record(event(&result))
                    }
                    Err(e) => Err(InternalError::Audit(Arc::new(e))),
                }
            }
            transaction => {
                if transaction.is_some() {
                    drop(transaction);
                    self.authz.clear();
                }
                if audited {
                    self.record(event(&result))
                } else {
                    Ok(())
                }
            }
        };
        if let Err(e) = recorded {
            result = Err(KmsError::Internal(e));
        }
        match &result {
            Err(KmsError::Internal(e)) => {
                tracing::error!(operation = op.name, error = ?e, "internal failure");
            }
            Err(e) => tracing::debug!(operation = op.name, error = e.code(), "refused"),
            Ok(_) => tracing::debug!(operation = op.name, "served"),
        }
        if let Some(panic) = panic {
            std::panic::resume_unwind(panic);
        }
        result
    }

    /// Panics if a test asked for it (`Testing::panic_in_operations`).
    #[cfg(feature = "test-hooks")]
    #[expect(clippy::panic, reason = "a test hook that makes operations panic")]
    fn panic_if_asked(&self) {
        if self
            .panic_in_operations
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            panic!("an operation panicked for a test");
        }
    }

    /// Whether requests that change nothing are audited: always, except in
    /// a benchmark's `Testing::skip_read_audit`.
    fn audits_reads(&self) -> bool {
        #[cfg(feature = "test-hooks")]
        if self
            .skip_read_audit
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return false;
        }
        true
    }

    /// Records the event of a request that changed nothing: written before
    /// the caller hears back, and with [`AuditSync::Disk`] fsynced in a
    /// group commit (or queued for one, under [`Self::deferring_audit`]).
    fn record(&self, event: NewEvent) -> Result<(), InternalError> {
        if self.audit.sync() == AuditSync::Os {
            let written = self.audit.append(std::slice::from_ref(&event));
            crate::audit::reuse(event);
            return written.map_err(|e| InternalError::Audit(Arc::new(e)));
        }
        let event = DEFERRED.with_borrow_mut(|deferred| match deferred {
            Some(tickets) => {
                tickets.push(self.commits.enqueue(event));
                None
            }
            None => Some(event),
        });
        match event {
            Some(event) => self
                .commits
                .append(&self.audit, event)
                .map_err(InternalError::Audit),
            None => Ok(()),
        }
    }

    /// Runs `requests` (on this thread) with the audit commits of read-only
    /// requests queued instead of awaited, so that an async server can wait
    /// for them off its workers (see [`Self::wait_for_audit`]) while the
    /// workers serve other requests, which then share the commit. Mutations
    /// commit their events with their changes, as always.
    pub fn deferring_audit<T>(&self, requests: impl FnOnce() -> T) -> (T, PendingAudit) {
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                DEFERRED.with_borrow_mut(Option::take);
            }
        }
        if self.audit.sync() == AuditSync::Os {
            // Each event is written by its own request, in microseconds.
            return (requests(), PendingAudit(Vec::new()));
        }
        let writer = self.writer.get_or_init(|| {
            let commits = Arc::clone(&self.commits);
            let audit = Arc::clone(&self.audit);
            std::thread::Builder::new()
                .name("keyward-audit".into())
                .spawn(move || commits.run_writer(&audit))
                .inspect_err(|e| tracing::error!("cannot start the audit writer thread: {e}"))
                .ok()
        });
        if writer.is_none() {
            // No writer to commit queued events: wait for each in place.
            return (requests(), PendingAudit(Vec::new()));
        }
        DEFERRED.with_borrow_mut(|deferred| *deferred = Some(Vec::new()));
        let reset = Reset;
        let output = requests();
        let tickets = DEFERRED.with_borrow_mut(Option::take).unwrap_or_default();
        drop(reset);
        (output, PendingAudit(tickets))
    }

    /// Resolves once the events of [`Self::deferring_audit`] are durable,
    /// committed by the audit writer thread. An error means the responses
    /// must be withheld: the caller gets `KMSInternalException` instead.
    pub async fn wait_for_audit(&self, pending: PendingAudit) -> KmsResult<()> {
        let mut outcome = Ok(());
        for ticket in pending.0 {
            if let Err(e) = ticket.durable().await {
                tracing::error!(error = ?e, "internal failure: the audit trail could not be written");
                outcome = Err(KmsError::Internal(InternalError::Audit(e)));
            }
        }
        outcome
    }

    /// The gate of the pipeline: resolve the key, check its state for
    /// `action`, authorize. Returns the key only if all three pass.
    fn admit(
        &self,
        caller: &Caller,
        trail: &Trail,
        action: Action,
        key_ref: &str,
        details: Details<'_>,
    ) -> KmsResult<KeyRecord> {
        self.admit_with_decision(caller, trail, action, key_ref, details)
            .map(|(key, _)| key)
    }

    /// `Kms::admit`, also returning the decision (whose reasons say
    /// whether a grant allowed it).
    fn admit_with_decision(
        &self,
        caller: &Caller,
        trail: &Trail,
        action: Action,
        key_ref: &str,
        details: Details<'_>,
    ) -> KmsResult<(KeyRecord, Decision)> {
        let key = self.resolve_for(caller, action, key_ref)?;
        self.gate(caller, trail, action, key, key_ref, details)
    }

    /// The key `key_ref` names for `action`: an alias only where the
    /// operation takes one ([`Action::accepts_alias`]), as in AWS.
    fn resolve_for(&self, caller: &Caller, action: Action, key_ref: &str) -> KmsResult<KeyRecord> {
        let parsed = KeyRef::parse(key_ref, &caller.region)?;
        if !action.accepts_alias() && matches!(parsed, KeyRef::Alias { .. }) {
            return Err(KmsError::invalid_key_id(key_ref));
        }
        self.resolve_parsed(caller, parsed)
    }

    /// The gate after resolution: the key's state for `action`, then
    /// authorization. `key_ref` is what the request named the key by.
    fn gate(
        &self,
        caller: &Caller,
        trail: &Trail,
        action: Action,
        key: KeyRecord,
        key_ref: &str,
        details: Details<'_>,
    ) -> KmsResult<(KeyRecord, Decision)> {
        let key = imports::with_expiry(key, self.now_ms());
        trail.key(&key);
        check_state(action, &key)?;
        let request_alias = key_ref.contains("alias/").then_some(key_ref);
        let decision = self.decide_on_key(caller, action, &key, details, request_alias)?;
        trail.decision(&decision);
        if !decision.allowed {
            return Err(KmsError::AccessDenied(authz::denial_message(
                &caller.principal,
                action,
                &key.arn,
                &decision,
            )));
        }
        Ok((key, decision))
    }

    /// Authorizes an operation on no key (CreateKey, ListKeys, ...).
    fn admit_account(&self, caller: &Caller, trail: &Trail, action: Action) -> KmsResult<()> {
        self.admit_account_with(caller, trail, action, Details::default())
    }

    /// [`Kms::admit_account`] with request members for condition keys.
    fn admit_account_with(
        &self,
        caller: &Caller,
        trail: &Trail,
        action: Action,
        details: Details<'_>,
    ) -> KmsResult<()> {
        let account = caller.principal.account();
        let facts = self.facts(caller, details, None);
        let identity = self.identity_set(account)?;
        let hierarchy = identity.needs_action_hierarchy()
            || authz::shipped::indexed_guardrails().needs_action_hierarchy();
        let prepared = self.prepare(
            hierarchy.then_some(action),
            &caller.principal,
            None,
            account,
            &facts,
        )?;
        let question = Question {
            principal: &caller.principal,
            action,
            resource: authz::account_uid(account),
            resource_account: account,
            entities: &prepared.entities,
            context: prepared.context.clone(),
        };
        let decision = authz::decide(&question, None, &identity);
        trail.decision(&decision);
        if !decision.allowed {
            let resource = format!("arn:aws:kms:{}:{account}:*", caller.region);
            return Err(KmsError::AccessDenied(authz::denial_message(
                &caller.principal,
                action,
                &resource,
                &decision,
            )));
        }
        Ok(())
    }

    fn facts<'a>(
        &self,
        caller: &'a Caller,
        details: Details<'a>,
        alias: Option<&'a str>,
    ) -> RequestFacts<'a> {
        RequestFacts {
            region: &caller.region,
            via_service: caller.via_service.as_deref(),
            source_ip: caller.source_ip,
            request_alias: alias,
            grant_tokens: details.grant_tokens,
            now_ms: self.now_ms(),
            secure_transport: caller.secure_transport,
            encryption_context: details.encryption_context,
            parameters: details.parameters,
        }
    }

    /// The Cedar decision for `action` on `key`.
    fn decide_on_key(
        &self,
        caller: &Caller,
        action: Action,
        key: &KeyRecord,
        details: Details<'_>,
        alias: Option<&str>,
    ) -> KmsResult<Decision> {
        let policies = self.key_policies(key)?;
        self.decide_with(caller, action, key, &policies, details, alias)
    }

    fn decide_with(
        &self,
        caller: &Caller,
        action: Action,
        key: &KeyRecord,
        policies: &KeyPolicies,
        details: Details<'_>,
        alias: Option<&str>,
    ) -> KmsResult<Decision> {
        let facts = self.facts(caller, details, alias);
        let identity = self.identity_set(caller.principal.account())?;
        let hierarchy = policies.needs_action_hierarchy() || identity.needs_action_hierarchy();
        let prepared = self.prepare(
            hierarchy.then_some(action),
            &caller.principal,
            Some(key),
            &key.account,
            &facts,
        )?;
        let question = Question {
            principal: &caller.principal,
            action,
            resource: request::key_uid(&key.arn),
            resource_account: &key.account,
            entities: &prepared.entities,
            context: prepared.context.clone(),
        };
        Ok(authz::decide(&question, Some(policies), &identity))
    }

    fn prepare(
        &self,
        action: Option<Action>,
        principal: &Principal,
        key: Option<&KeyRecord>,
        resource_account: &str,
        facts: &RequestFacts<'_>,
    ) -> KmsResult<Arc<request::Prepared>> {
        self.authz
            .prepared
            .prepare(action, principal, key, resource_account, facts)
            .map_err(|e| KmsError::Internal(InternalError::Policy(e)))
    }

    /// The compiled policies of a key, rebuilt when its policy version moves.
    fn key_policies(&self, key: &KeyRecord) -> KmsResult<Arc<KeyPolicies>> {
        let id = (key.region.clone(), key.key_id.clone());
        if let Some((version, policies)) = self.authz.keys.read().get(&id)
            && *version == key.policy_version
        {
            return Ok(Arc::clone(policies));
        }
        let grants = self.store.grants(&key.region, &key.key_id)?;
        let text = key_policy_text(key);
        let policies = Arc::new(
            KeyPolicies::new(&key.arn, key.key_manager == KeyManager::Aws, &text, &grants)
                .map_err(|e| KmsError::Internal(InternalError::Policy(e)))?,
        );
        self.authz
            .keys
            .write()
            .insert(id, (key.policy_version, Arc::clone(&policies)));
        Ok(policies)
    }

    /// The compiled identity policies of an account.
    fn identity_set(&self, account: &str) -> KmsResult<Arc<IndexedPolicies>> {
        let stored = self.store.identity_policies(account)?;
        if let Some((version, set)) = self.authz.identity.read().get(account)
            && *version == stored.version
        {
            return Ok(Arc::clone(set));
        }
        let set = Arc::new(
            authz::identity_policy_set(account, &stored.policies)
                .map_err(|e| KmsError::Internal(InternalError::Policy(e)))?,
        );
        self.authz
            .identity
            .write()
            .insert(account.to_owned(), (stored.version, Arc::clone(&set)));
        Ok(set)
    }

    /// Finds the key a `KeyId` parameter names.
    fn resolve(&self, caller: &Caller, key_ref: &str) -> KmsResult<KeyRecord> {
        self.resolve_parsed(caller, KeyRef::parse(key_ref, &caller.region)?)
    }

    fn resolve_parsed(&self, caller: &Caller, key_ref: KeyRef<'_>) -> KmsResult<KeyRecord> {
        match key_ref {
            KeyRef::Key {
                region,
                account,
                key_id,
            } => {
                // A bare key id names a key of the caller's own account.
                let account = account.unwrap_or(caller.principal.account());
                let key = self.store.key(region, key_id)?;
                match key {
                    Some(key) if key.account == account => Ok(key),
                    _ => Err(KmsError::key_not_found(&key_arn(region, account, key_id))),
                }
            }
            KeyRef::Alias {
                region,
                account,
                name,
            } => {
                let account = account.unwrap_or(caller.principal.account());
                let alias = match self.store.alias(region, account, name)? {
                    Some(alias) => alias,
                    None => {
                        return self.aws_managed_key_on_first_use(caller, region, account, name);
                    }
                };
                self.store.key(region, &alias.key_id)?.ok_or_else(|| {
                    KmsError::NotFound(format!(
                        "alias `{name}` points at a key that does not exist"
                    ))
                })
            }
        }
    }

    fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}

/// A key's policy text: its own, or the default for keys stored before
/// key policies existed.
fn key_policy_text(key: &KeyRecord) -> String {
    if key.policy.is_empty() {
        authz::shipped::default_key_policy(&key.account)
    } else {
        key.policy.clone()
    }
}

/// The key states in which `action` may run (AWS's "key states" table);
/// anything else fails with the state's error.
fn check_state(action: Action, key: &KeyRecord) -> KmsResult<()> {
    let arn = &key.arn;
    let cryptographic = matches!(
        action,
        Action::Encrypt
            | Action::Decrypt
            | Action::ReEncryptFrom
            | Action::ReEncryptTo
            | Action::GenerateDataKey
            | Action::GenerateDataKeyWithoutPlaintext
            | Action::RotateKeyOnDemand
            | Action::Sign
            | Action::Verify
            | Action::GetPublicKey
            | Action::GenerateMac
            | Action::VerifyMac
            | Action::GenerateDataKeyPair
            | Action::GenerateDataKeyPairWithoutPlaintext
            | Action::DeriveSharedSecret
    );
    match (action, key.state) {
        (
            Action::DescribeKey
            | Action::GetKeyLastUsage
            | Action::GetKeyPolicy
            | Action::ListKeyPolicies
            | Action::PutKeyPolicy
            | Action::ListGrants
            | Action::RetireGrant
            | Action::RevokeGrant
            | Action::ListResourceTags
            | Action::DeleteAlias
            | Action::DeleteImportedKeyMaterial,
            _,
        )
        | (Action::CancelKeyDeletion, KeyState::PendingDeletion) => Ok(()),
        (Action::CancelKeyDeletion, _) => Err(KmsError::InvalidState(format!(
            "key `{arn}` is not pending deletion"
        ))),
        (_, KeyState::Enabled) => Ok(()),
        // A key without material can be neither enabled nor disabled.
        (Action::EnableKey | Action::DisableKey, KeyState::PendingImport) => Err(
            KmsError::InvalidState(format!("key `{arn}` is pending import")),
        ),
        (_, KeyState::Disabled | KeyState::PendingImport) if !cryptographic => Ok(()),
        (_, KeyState::Disabled) => Err(KmsError::Disabled(format!("key `{arn}` is disabled"))),
        (_, KeyState::PendingDeletion) => Err(KmsError::InvalidState(format!(
            "key `{arn}` is pending deletion"
        ))),
        (_, KeyState::PendingImport) => Err(KmsError::InvalidState(format!(
            "key `{arn}` is pending import"
        ))),
        (_, state) => Err(KmsError::InvalidState(format!(
            "key `{arn}` is in state `{state}`"
        ))),
    }
}

/// The ARN of a key.
fn key_arn(region: &str, account: &str, key_id: &str) -> String {
    format!("arn:aws:kms:{region}:{account}:key/{key_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mrk_ids_are_key_ids() {
        assert!(is_key_id("mrk-1234abcd12ab34cd56ef1234567890ab"));
        assert!(!is_key_id("mrk-1234abcd12ab34cd56ef1234567890a"));
    }
}
