//! One request's writes as a unit: what its handler writes is staged (the request sees its own
//! writes through [`IamService::snapshot`]) and committed at the request's end together with
//! the request's audit event, in one transaction, before the new state is published. The
//! writer's turn is held from the first write to that commit, so writes of different requests
//! never interleave. A unit dropped without [`Unit::finish`] (an error, a panic) changes
//! nothing.
//!
//! The staged state lives in a thread-local: a request is served on one blocking thread from
//! its first byte to its answer, and the handlers reach the service through `&IamService`
//! without knowing whether a unit is open (outside a unit, a write commits at once, as the
//! usage flusher's and start-up's do).

use std::cell::RefCell;
use std::marker::PhantomData;
use std::sync::{Arc, Condvar, Mutex};

use super::{IamService, Snapshot};
use crate::audit::AuditEvent;
use crate::error::{IamError, IamResult};
use crate::state::{IamState, Touched};
use crate::trail::Prepared;
pub use crate::trail::{Durability, Recorded};

/// The writers' mutual exclusion, as a turn that can be held across calls.
#[derive(Default)]
pub(super) struct WriterLock {
    busy: Mutex<bool>,
    freed: Condvar,
}

/// Holding the writer's turn; released on drop (with the cluster's write lock, when the
/// turn took it: [`IamService::take_turn`]).
pub(super) struct WriterTurn {
    lock: Arc<WriterLock>,
    pub(super) cluster: Option<Arc<dyn crate::store::Store>>,
}

impl WriterLock {
    pub(super) fn acquire(self: &Arc<Self>) -> WriterTurn {
        // A poisoned flag is still a flag: the bool is valid whatever panicked.
        let mut busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        while *busy {
            busy = self.freed.wait(busy).unwrap_or_else(|p| p.into_inner());
        }
        *busy = true;
        WriterTurn {
            lock: self.clone(),
            cluster: None,
        }
    }
}

impl Drop for WriterTurn {
    fn drop(&mut self) {
        if let Some(store) = self.cluster.take()
            && let Some(cluster) = store.cluster()
        {
            cluster.unlock_writes();
        }
        let mut busy = self.lock.busy.lock().unwrap_or_else(|p| p.into_inner());
        *busy = false;
        self.lock.freed.notify_one();
    }
}

struct Staged {
    /// The service the unit belongs to (its address).
    service: usize,
    turn: Option<WriterTurn>,
    snapshot: Option<Arc<Snapshot>>,
    touched: Touched,
}

thread_local! {
    static STAGED: RefCell<Option<Staged>> = const { RefCell::new(None) };
}

/// An open unit of one request (see the module's documentation).
pub struct Unit<'a> {
    service: &'a IamService,
    /// Whether this unit opened the thread's staging (a unit opened inside another one
    /// writes into the outer one and only appends its event).
    owner: bool,
    _one_thread: PhantomData<*const ()>,
}

fn id(service: &IamService) -> usize {
    service as *const IamService as usize
}

impl IamService {
    /// Opens the unit of the request served on this thread.
    pub fn begin(&self) -> Unit<'_> {
        let owner = STAGED.with(|s| {
            let mut s = s.borrow_mut();
            if s.is_some() {
                return false;
            }
            *s = Some(Staged {
                service: id(self),
                turn: None,
                snapshot: None,
                touched: Touched::default(),
            });
            true
        });
        Unit {
            service: self,
            owner,
            _one_thread: PhantomData,
        }
    }

    /// The staged snapshot of this thread's open unit, if it has written.
    pub(super) fn staged_snapshot(&self) -> Option<Arc<Snapshot>> {
        STAGED.with(|s| {
            s.borrow()
                .as_ref()
                .filter(|st| st.service == id(self))
                .and_then(|st| st.snapshot.clone())
        })
    }

    /// Whether this thread has an open unit of this service.
    pub(super) fn in_unit(&self) -> bool {
        STAGED.with(|s| s.borrow().as_ref().is_some_and(|st| st.service == id(self)))
    }

    /// [`IamService::write`] inside this thread's unit: staged, not yet committed.
    pub(super) fn write_staged<T>(
        &self,
        change: impl FnOnce(&mut IamState, &mut Touched) -> IamResult<T>,
    ) -> IamResult<T> {
        let needs_turn = STAGED.with(|s| s.borrow().as_ref().is_some_and(|st| st.turn.is_none()));
        if needs_turn {
            // Taken outside the RefCell's borrow: it may wait for another request's unit.
            let turn = self.take_turn()?;
            STAGED.with(|s| {
                if let Some(st) = s.borrow_mut().as_mut() {
                    st.turn = Some(turn);
                }
            });
        }
        // Under the turn, the published snapshot is the latest committed state.
        let base = self
            .staged_snapshot()
            .unwrap_or_else(|| self.snapshot.load_full());
        let mut state = base.state.clone();
        let mut touched = Touched::default();
        let out = change(&mut state, &mut touched)?;
        STAGED.with(|s| {
            if let Some(st) = s.borrow_mut().as_mut() {
                st.snapshot = Some(Arc::new(Snapshot::new(state)));
                st.touched.merge(touched);
            }
        });
        Ok(out)
    }
}

impl Unit<'_> {
    /// Whether the request has written anything.
    pub fn changed(&self) -> bool {
        self.owner && self.service.staged_snapshot().is_some()
    }

    /// Commits what the request wrote together with its audit `event` (recorded at
    /// `time_ms`) in one transaction and publishes the new state; a request that wrote
    /// nothing has its event appended to the trail, durable once the returned
    /// [`Recorded`] resolves (answer the request only then), or for an allowed read within
    /// the trail's batch window ([`crate::trail::Trail::durability_of`]). With auditing off,
    /// `event` is ignored. On an error nothing was changed and nothing recorded.
    pub fn finish(mut self, event: Option<(AuditEvent, i64)>) -> IamResult<Recorded> {
        let service = self.service;
        let staged = if self.owner {
            self.owner = false;
            STAGED.with(|s| s.borrow_mut().take())
        } else {
            None
        };
        let event = match (&service.trail, event) {
            (Some(trail), Some((event, time_ms))) => Some((
                Prepared::new(&event, time_ms).map_err(not_stored)?,
                trail.durability_of(&event),
            )),
            _ => None,
        };
        match staged {
            Some(Staged {
                snapshot: Some(snapshot),
                touched,
                turn,
                ..
            }) => {
                let changes = touched.changes(&snapshot.state, &service.master_key)?;
                match (&service.trail, event) {
                    (Some(trail), Some((event, _))) => trail
                        .chain([event], |store, rows| store.commit_recorded(&changes, rows))
                        .map_err(not_stored)?,
                    _ if !changes.is_empty() => {
                        service.store.commit(&changes).map_err(not_stored)?
                    }
                    _ => {}
                }
                service.snapshot.store(snapshot);
                drop(turn);
                Ok(Recorded::done())
            }
            _ => Ok(match (&service.trail, event) {
                (Some(trail), Some((event, durability))) => trail.append(event, durability),
                _ => Recorded::done(),
            }),
        }
    }
}

/// The error of a request whose change or event could not be stored (logged here, once).
pub fn not_stored(e: crate::store::StoreError) -> IamError {
    tracing::error!(error = %e, "store commit failed");
    IamError::ServiceFailure("The request could not be stored; nothing was changed.".into())
}

impl Drop for Unit<'_> {
    fn drop(&mut self) {
        if self.owner {
            // Not finished: what was staged is discarded and the turn released.
            STAGED.with(|s| s.borrow_mut().take());
        }
    }
}
