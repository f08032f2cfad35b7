//! Group commit: when events must be on disk before the answer
//! ([`AuditSync::Disk`](crate::store::AuditSync)), concurrent requests that
//! change nothing share the fsync.
//!
//! A request queues its event and waits. A thread that waits (the library,
//! the CLI) becomes the leader if no commit is under way: it takes every
//! queued event, writes and fsyncs them at once, and wakes the others with
//! the result. Alone, such a request commits its own event without any
//! hand-off to another thread. An async server instead queues its events
//! and awaits them ([`Ticket::durable`]) while its workers go on serving;
//! the writer thread ([`GroupCommit::run_writer`]) commits whatever is
//! queued whenever no leader is. Under load one fsync serves many requests.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

use super::log::AuditLog;
use crate::store::{NewEvent, StoreError};

/// How long the writer thread waits for more events before it commits a
/// small batch, and what counts as small.
const GATHER_FOR: std::time::Duration = std::time::Duration::from_micros(100);
const GATHER_UNTIL: usize = 32;

/// The outcome of one commit, shared by every request in it.
type Outcome = Result<(), Arc<StoreError>>;

/// Whether a queued event was committed, and a wake-up for an async waiter.
#[derive(Debug, Default)]
struct Slot {
    outcome: OnceLock<Outcome>,
    done: tokio::sync::Notify,
}

impl Slot {
    fn finish(&self, outcome: Outcome) {
        let _ = self.outcome.set(outcome);
        // Stores a permit if nobody awaits yet: the wake-up cannot be lost.
        self.done.notify_one();
    }
}

/// The queue of events waiting for a commit.
#[derive(Debug, Default)]
pub struct GroupCommit {
    state: Mutex<State>,
    /// Signalled when a commit ends.
    committed: Condvar,
    /// Signalled when an event is queued for the writer thread.
    queued: Condvar,
}

#[derive(Debug, Default)]
struct State {
    queue: Vec<(NewEvent, Arc<Slot>)>,
    writing: bool,
    shutdown: bool,
}

impl GroupCommit {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a queue and two flags, each always consistent on its
        // own.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Appends `event` and returns once it is durable (as the store's
    /// `AuditSync` says), or with the reason it could not be written.
    pub fn append(&self, log: &AuditLog, event: NewEvent) -> Outcome {
        let slot = Arc::new(Slot::default());
        let mut state = self.lock();
        state.queue.push((event, Arc::clone(&slot)));
        loop {
            if let Some(outcome) = slot.outcome.get() {
                return outcome.clone();
            }
            if state.writing {
                state = self
                    .committed
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                continue;
            }
            state = self.commit_queue(log, state);
        }
    }

    /// Queues `event` for the writer thread without waiting. Nothing the
    /// event vouches for may be released before the ticket is durable.
    pub fn enqueue(&self, event: NewEvent) -> Ticket {
        let slot = Arc::new(Slot::default());
        self.lock().queue.push((event, Arc::clone(&slot)));
        self.queued.notify_one();
        Ticket(slot)
    }

    /// Commits queued events until [`Self::shut_down`]: the writer thread's
    /// loop, for the events of [`Self::enqueue`].
    pub fn run_writer(&self, log: &AuditLog) {
        let mut state = self.lock();
        loop {
            if state.queue.is_empty() || state.writing {
                // Leave only with nothing queued and nobody writing, so that
                // no queued event is left without a committer.
                if state.shutdown && state.queue.is_empty() && !state.writing {
                    return;
                }
                state = self
                    .queued
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                continue;
            }
            if state.queue.len() < GATHER_UNTIL {
                // Requests arrive a few microseconds apart under load: a
                // moment's wait lets one commit serve many of them, where
                // committing at once would serve one or two and cost the
                // next arrivals a commit each.
                drop(state);
                std::thread::sleep(GATHER_FOR);
                state = self.lock();
                // A waiting caller may have led a commit meanwhile.
                if state.writing || state.queue.is_empty() {
                    continue;
                }
            }
            state = self.commit_queue(log, state);
        }
    }

    /// Makes [`Self::run_writer`] return once the queue is empty.
    pub fn shut_down(&self) {
        self.lock().shutdown = true;
        self.queued.notify_all();
    }

    /// Writes everything queued at once, as the leader, and
    /// tells every request in it the outcome.
    fn commit_queue<'a>(
        &'a self,
        log: &AuditLog,
        mut state: MutexGuard<'a, State>,
    ) -> MutexGuard<'a, State> {
        state.writing = true;
        let batch = std::mem::take(&mut state.queue);
        drop(state);
        let (events, slots): (Vec<NewEvent>, Vec<Arc<Slot>>) = batch.into_iter().unzip();
        let outcome = log.append(&events).map_err(Arc::new);
        for slot in slots {
            slot.finish(outcome.clone());
        }
        let mut state = self.lock();
        state.writing = false;
        self.committed.notify_all();
        // Events queued during this commit may be waiting for the writer.
        self.queued.notify_one();
        state
    }
}

/// An event queued by [`GroupCommit::enqueue`], not yet known to be durable.
#[derive(Debug)]
#[must_use = "an audit ticket must be awaited before the response is released"]
pub struct Ticket(Arc<Slot>);

impl Ticket {
    /// Resolves once the event is durable, or with the reason it is not.
    pub async fn durable(self) -> Outcome {
        loop {
            if let Some(outcome) = self.0.outcome.get() {
                return outcome.clone();
            }
            self.0.done.notified().await;
        }
    }
}
