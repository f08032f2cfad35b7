//! Group commit: requests that change nothing share the commit that makes
//! their audit events durable.
//!
//! A request queues its event and waits. If no commit is under way, it
//! becomes the leader: it takes every queued event, writes them in one
//! transaction, and wakes the others with the result. Under load one commit
//! (and, with `AuditSync::Disk`, one fsync) serves many requests; alone, a
//! request commits its own event without any hand-off to another thread.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

use crate::store::{NewEvent, Store, StoreError};

/// Whether a queued event was committed; the error says why not (shared by
/// every request of the failed commit).
type Slot = Arc<OnceLock<Result<(), Arc<StoreError>>>>;

/// The queue of events waiting for a commit.
#[derive(Debug, Default)]
pub struct GroupCommit {
    state: Mutex<State>,
    committed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    queue: Vec<(NewEvent, Slot)>,
    writing: bool,
}

impl GroupCommit {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a queue and a flag, each always consistent on its own.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Appends `event` and returns once it is durable (as the store's
    /// `AuditSync` says), or with the reason it could not be written.
    pub fn append(&self, store: &dyn Store, event: NewEvent) -> Result<(), Arc<StoreError>> {
        let slot: Slot = Arc::default();
        let mut state = self.lock();
        state.queue.push((event, Arc::clone(&slot)));
        loop {
            if let Some(result) = slot.get() {
                return result.clone();
            }
            if state.writing {
                state = self
                    .committed
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                continue;
            }
            state.writing = true;
            let batch = std::mem::take(&mut state.queue);
            drop(state);
            let (events, slots): (Vec<NewEvent>, Vec<Slot>) = batch.into_iter().unzip();
            let result = store.append_events(&events).map_err(Arc::new);
            for slot in slots {
                let _ = slot.set(result.clone());
            }
            state = self.lock();
            state.writing = false;
            self.committed.notify_all();
        }
    }
}
