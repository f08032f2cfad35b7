#![allow(missing_docs, reason = "criterion macros generate undocumented items")]
#![allow(clippy::unwrap_used, reason = "a benchmark aborts on any failure")]
//! The cost of the audit trail per request.
//!
//! - `audit/build_event_encrypt`: writing one Encrypt event (redaction,
//!   CloudTrail JSON), on the request's own thread.
//! - `audit/append_1_caller_{os,disk}`: one thread appending one event at a
//!   time to the log (`disk`: through the group commit, which fsyncs).
//! - `audit/append_8_callers_{os,disk}`: 8 threads appending events (chain
//!   hashing, one positional write each; `disk` shares an fsync per group);
//!   the figure is wall time per event.
//! - `audit/encrypt_32B_8_callers`: the whole Encrypt pipeline, audit
//!   included, from 8 threads; wall time per request.
//! - `audit/encrypt_32B_8_callers_unaudited` (with `--features test-hooks`):
//!   the same with no event built or written.
//! - `audit/encrypt_32B_8_callers_audit_cost` (with `--features
//!   test-hooks`): what the trail costs a request, measured in pairs: each
//!   sample times the same requests with and without the trail, back to
//!   back, and counts the difference (a noisy machine drifts between
//!   separate runs by more than the cost).
//!
//! Run: `cargo bench -p keyward --features test-hooks --bench audit`.
//! Figures go in BENCHMARKS.md.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use keyward::audit::commit::GroupCommit;
use keyward::audit::log::AuditLog;
use keyward::audit::members::members;
use keyward::audit::{EventBuilder, Outcome, Trail};
use keyward::model::{CreateKeyRequest, EncryptRequest, SecretBytes};
use keyward::store::{AuditSync, SqliteStore, Store};
use keyward::{Caller, Config, Kms, Principal};

const CALLERS: u64 = 8;

fn caller() -> Caller {
    Caller::new(
        Principal::account_root("111122223333").unwrap(),
        "us-east-1",
    )
}

fn encrypt_request() -> EncryptRequest {
    EncryptRequest {
        key_id: "1234abcd-12ab-34cd-56ef-1234567890ab".into(),
        plaintext: SecretBytes::new(vec![7; 32]),
        encryption_context: Some([("Department".to_owned(), "Finance".to_owned())].into()),
        ..Default::default()
    }
}

fn event(caller: &Caller) -> keyward::store::NewEvent {
    let trail = Trail::default();
    EventBuilder {
        caller,
        chain: "us-east-1",
        operation: "Encrypt",
        read_only: true,
        service_event: false,
        event_source: "kms.amazonaws.com",
        parameters: &members(&encrypt_request()),
        trail: &trail,
        time_ms: 1_795_000_000_000,
        request_id: "93746dd6-63bc-11e4-bc2b-4198b6150d5c",
    }
    // As CloudTrail records Encrypt: with no response elements.
    .build(Outcome::Success(None))
}

/// Runs `work` `iters` times spread over `CALLERS` threads; wall time.
fn concurrently(iters: u64, work: impl Fn() + Sync) -> Duration {
    let per_thread = iters.div_ceil(CALLERS);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..CALLERS {
            scope.spawn(|| {
                for _ in 0..per_thread {
                    work();
                }
            });
        }
    });
    start.elapsed() * u32::try_from(iters).unwrap() / u32::try_from(per_thread * CALLERS).unwrap()
}

fn audit(c: &mut Criterion) {
    let caller = caller();
    let mut group = c.benchmark_group("audit");
    group.bench_function("build_event_encrypt", |b| {
        b.iter(|| black_box(event(&caller)))
    });
    for (name, sync) in [("os", AuditSync::Os), ("disk", AuditSync::Disk)] {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.path().join("audit.db")).unwrap());
        let log = AuditLog::open(&dir.path().join("audit"), sync, store).unwrap();
        let commits = GroupCommit::default();
        let prepared = event(&caller);
        // As `Kms` does: a direct write, or a group commit for the fsync.
        let append = || match sync {
            AuditSync::Os => log.append(std::slice::from_ref(&prepared)).unwrap(),
            AuditSync::Disk => commits.append(&log, prepared.clone()).unwrap(),
        };
        group.bench_function(format!("append_1_caller_{name}"), |b| b.iter(append));
        group.bench_function(format!("append_8_callers_{name}"), |b| {
            b.iter_custom(|iters| concurrently(iters, append))
        });
    }

    let dir = tempfile::tempdir().unwrap();
    let (kms, _) = Kms::open_or_init(Config::new(dir.path().join("data"))).unwrap();
    let kms = Arc::new(kms);
    let key_id = kms
        .create_key(&caller, CreateKeyRequest::default())
        .unwrap()
        .key_metadata
        .key_id;
    let encrypt = || {
        let request = EncryptRequest {
            key_id: key_id.clone(),
            plaintext: SecretBytes::new(vec![7; 32]),
            ..Default::default()
        };
        black_box(kms.encrypt(&caller, request).unwrap());
    };
    group.bench_function("encrypt_32B_8_callers", |b| {
        b.iter_custom(|iters| concurrently(iters, encrypt))
    });
    #[cfg(feature = "test-hooks")]
    {
        kms.testing().skip_read_audit(true);
        group.bench_function("encrypt_32B_8_callers_unaudited", |b| {
            b.iter_custom(|iters| concurrently(iters, encrypt))
        });
        kms.testing().skip_read_audit(false);
        // Paired: each sample runs the same number of requests with and
        // without the trail, alternating which goes first, and counts the
        // difference, so that the machine's drift between runs cancels out.
        let mut audited_first = false;
        group.bench_function("encrypt_32B_8_callers_audit_cost", |b| {
            b.iter_custom(|iters| {
                audited_first = !audited_first;
                let run = |skip: bool| {
                    kms.testing().skip_read_audit(skip);
                    concurrently(iters, encrypt)
                };
                let (audited, unaudited) = if audited_first {
                    let audited = run(false);
                    (audited, run(true))
                } else {
                    let unaudited = run(true);
                    (run(false), unaudited)
                };
                // A sample where noise made the trail look free counts as
                // 1 ns (criterion takes no zero): an overstatement.
                audited
                    .saturating_sub(unaudited)
                    .max(Duration::from_nanos(1))
            })
        });
        kms.testing().skip_read_audit(false);
    }
    group.finish();
}

criterion_group!(benches, audit);
criterion_main!(benches);
