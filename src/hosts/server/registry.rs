//! Every connection the server holds, with what it is doing and since when; which one gives way
//! when a new connection needs room; and the closing of the idle and silent ones at shutdown.
//!
//! A connection moves through phases that its own task records without a lock (an atomic word
//! per connection): accepted and silent, part of a request head, a request being handled, idle
//! after an answer; and, separately, whether an answer is waiting for a client that does not
//! read. Only a new connection, a connection ending, the choice of which one gives way and the
//! shutdown take the registry's lock. When a phase began is noted the first time the registry
//! looks (a new connection's, when it is taken), so that a request reads no clock.
//!
//! At the cap, the connection that gives way is, oldest first: one that has sent nothing, then
//! one part-way through a request head, then an idle keep-alive one, then one whose answer the
//! client is not reading. One that is handling a request never gives way. Nor does any
//! connection in its first [`SETTLE`] in a phase: time for a request to follow its connect, so
//! that under a flood of connections that never send a byte, a client's request is read
//! before its connection could be chosen (the flood then turns over at most the cap every
//! `SETTLE`, and the connections waiting in the kernel's queue behind it are taken in order).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::task::AtomicWaker;
use slab::Slab;
use tokio::sync::Notify;

/// How long a connection is left alone in a phase before it may be chosen to give way.
pub(super) const SETTLE: Duration = Duration::from_millis(20);

/// A connection's phase, the low bits of its state word; the rest holds when the phase began
/// (milliseconds since the registry started, plus one), or 0 until the registry first looks.
mod phase {
    pub const SILENT: u64 = 0;
    pub const PARTIAL: u64 = 1;
    pub const BUSY: u64 = 2;
    pub const IDLE: u64 = 3;
    pub const CLOSING: u64 = 4;
    pub const BITS: u32 = 3;
    pub const MASK: u64 = (1 << BITS) - 1;
}

/// One connection's record, shared by its task (which moves it from phase to phase) and the
/// registry (which reads it, and marks it closing).
#[derive(Debug)]
pub(super) struct Slot {
    state: AtomicU64,
    /// An answer is waiting for the client to read: when that began, as in `state` (1 until
    /// the registry looks), or 0.
    write_blocked: AtomicU64,
    /// The connection's task, woken when it is told to close.
    waker: AtomicWaker,
}

impl Slot {
    fn new(since: u64) -> Self {
        Self {
            state: AtomicU64::new(since << phase::BITS | phase::SILENT),
            write_blocked: AtomicU64::new(0),
            waker: AtomicWaker::new(),
        }
    }

    /// Bytes came in: if they begin a request head, the connection is no longer silent or idle.
    pub(super) fn got_bytes(&self) {
        self.move_to(phase::PARTIAL, |phase| matches!(phase, phase::SILENT | phase::IDLE));
    }

    /// A request head is complete: its request is being handled.
    pub(super) fn handling(&self) {
        self.move_to(phase::BUSY, |phase| phase != phase::CLOSING);
    }

    /// The request's answer is handed over: the connection waits for the next request.
    pub(super) fn answered(&self) {
        self.move_to(phase::IDLE, |phase| phase != phase::CLOSING);
    }

    /// Whether a write of an answer is waiting for the client to read.
    pub(super) fn write_blocked(&self, blocked: bool) {
        self.write_blocked.store(u64::from(blocked), Ordering::Relaxed);
    }

    /// Told to close: its task ends the connection at its next read or write.
    pub(super) fn closing(&self) -> bool {
        self.state.load(Ordering::Relaxed) & phase::MASK == phase::CLOSING
    }

    /// Sent nothing since it was accepted.
    pub(super) fn silent(&self) -> bool {
        self.state.load(Ordering::Relaxed) & phase::MASK == phase::SILENT
    }

    /// The task to wake when the connection is told to close (its own: registered once).
    pub(super) fn wake_on_close(&self, waker: &std::task::Waker) {
        self.waker.register(waker);
    }

    /// Moves to `to` (its start not yet noted) from a phase `from` accepts; never out of
    /// closing, which only the registry sets.
    fn move_to(&self, to: u64, from: impl Fn(u64) -> bool) {
        let _ = self.state.fetch_update(Ordering::Release, Ordering::Relaxed, |state| {
            from(state & phase::MASK).then_some(to)
        });
    }
}

/// The connections held, and the rules for giving way.
pub(super) struct Registry {
    slots: Mutex<Slab<Arc<Slot>>>,
    cap: usize,
    /// Above this many held, connections are crowded: answers close their connection and a
    /// new connection gets the first-byte timeout.
    crowded_above: usize,
    /// Connections held and not told to close (changed under the lock).
    held: AtomicUsize,
    crowded: AtomicBool,
    draining: AtomicBool,
    /// A connection ended.
    freed: Notify,
    started: Instant,
}

/// A connection taken: its key in the registry, and its record.
pub(super) type Admitted = (usize, Arc<Slot>);

/// Why a new connection cannot be taken now.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum NoRoom {
    /// A connection will have settled and may give way by then.
    Until(Instant),
    /// Every connection is handling a request: a slot comes back when one ends.
    UntilOneEnds,
}

impl Registry {
    pub(super) fn new(cap: usize) -> Self {
        Self {
            slots: Mutex::new(Slab::with_capacity(cap.min(4096))),
            cap,
            crowded_above: cap * 3 / 4,
            held: AtomicUsize::new(0),
            crowded: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            freed: Notify::new(),
            started: Instant::now(),
        }
    }

    /// Takes a new connection if there is room: below the cap, or one that gives way to it.
    pub(super) fn admit(&self) -> Result<Admitted, NoRoom> {
        let mut slots = self.lock();
        let now = self.now();
        if self.held.load(Ordering::Relaxed) >= self.cap {
            self.give_way(&mut slots, now)?;
        }
        Ok(self.insert(&mut slots, now))
    }

    /// Takes a connection whatever the count (those accepted as the server stops).
    pub(super) fn admit_anyway(&self) -> Admitted {
        let mut slots = self.lock();
        let now = self.now();
        self.insert(&mut slots, now)
    }

    fn insert(&self, slots: &mut Slab<Arc<Slot>>, now: u64) -> Admitted {
        let slot = Arc::new(Slot::new(now));
        let key = slots.insert(Arc::clone(&slot));
        self.held.fetch_add(1, Ordering::Relaxed);
        self.update_crowded();
        (key, slot)
    }

    /// A connection ended.
    pub(super) fn remove(&self, key: usize) {
        let mut slots = self.lock();
        if let Some(slot) = slots.try_remove(key) {
            if !slot.closing() {
                self.held.fetch_sub(1, Ordering::Relaxed);
            }
            self.update_crowded();
        }
        drop(slots);
        self.freed.notify_one();
    }

    /// Closes the connection that would give way to a new one, if any has settled (when no
    /// file descriptor is left for new connections).
    pub(super) fn make_room(&self) -> bool {
        let mut slots = self.lock();
        let now = self.now();
        self.give_way(&mut slots, now).is_ok()
    }

    /// As many connections are held as the cap allows.
    pub(super) fn at_cap(&self) -> bool {
        self.held.load(Ordering::Relaxed) >= self.cap
    }

    /// Connections are crowded (or shutting down): answers close their connection.
    pub(super) fn crowded(&self) -> bool {
        self.crowded.load(Ordering::Relaxed)
    }

    /// Connections held, those told to close but not yet closed included.
    pub(super) fn open(&self) -> usize {
        self.lock().len()
    }

    /// Waits until a connection ends (or returns at once if one ended since the last call).
    pub(super) async fn one_ended(&self) {
        self.freed.notified().await;
    }

    /// From now on every answer closes its connection; idle connections are closed now, and
    /// silent ones too if `silent_too`.
    pub(super) fn drain(&self, silent_too: bool) {
        self.draining.store(true, Ordering::Relaxed);
        let slots = self.lock();
        self.update_crowded();
        for (_, slot) in slots.iter() {
            let state = slot.state.load(Ordering::Acquire);
            let phase = state & phase::MASK;
            if phase == phase::IDLE || (silent_too && phase == phase::SILENT) {
                self.close(slot, state);
            }
        }
    }

    /// Chooses the connection that gives way (see the module's doc) and closes it.
    fn give_way(&self, slots: &mut MutexGuard<'_, Slab<Arc<Slot>>>, now: u64) -> Result<(), NoRoom> {
        // A connection that moves on meanwhile is not closed; look again (a few times at most).
        for _ in 0..4 {
            let mut chosen: Option<(u64, u64, &Arc<Slot>, u64)> = None;
            let mut settles: Option<u64> = None;
            for (_, slot) in slots.iter() {
                let state = slot.state.load(Ordering::Acquire);
                let (rank, since) = match state & phase::MASK {
                    phase::SILENT => (0, noted(&slot.state, state, now)),
                    phase::PARTIAL => (1, noted(&slot.state, state, now)),
                    phase::IDLE => (2, noted(&slot.state, state, now)),
                    phase::BUSY => match slot.write_blocked.load(Ordering::Relaxed) {
                        0 => continue,
                        1 => {
                            let _ = slot
                                .write_blocked
                                .compare_exchange(1, now, Ordering::Relaxed, Ordering::Relaxed);
                            (3, now)
                        }
                        since => (3, since),
                    },
                    _ => continue,
                };
                let settled_at = since + SETTLE.as_millis() as u64;
                if settled_at > now {
                    settles = Some(settles.map_or(settled_at, |at| at.min(settled_at)));
                } else if chosen.is_none_or(|(r, s, ..)| (rank, since) < (r, s)) {
                    chosen = Some((rank, since, slot, state));
                }
            }
            match chosen {
                Some((.., slot, state)) if self.close(slot, state) => return Ok(()),
                Some(_) => continue,
                None => {
                    return Err(match settles {
                        Some(at) => NoRoom::Until(self.started + Duration::from_millis(at - 1)),
                        None => NoRoom::UntilOneEnds,
                    });
                }
            }
        }
        Err(NoRoom::Until(Instant::now()))
    }

    /// Tells a connection to close, if it is still as it was seen (`state`).
    fn close(&self, slot: &Slot, state: u64) -> bool {
        let closing = state & !phase::MASK | phase::CLOSING;
        if slot
            .state
            .compare_exchange(state, closing, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        self.held.fetch_sub(1, Ordering::Relaxed);
        slot.waker.wake();
        true
    }

    fn update_crowded(&self) {
        let crowded = self.held.load(Ordering::Relaxed) > self.crowded_above || self.draining.load(Ordering::Relaxed);
        self.crowded.store(crowded, Ordering::Relaxed);
    }

    /// Milliseconds since the registry started, plus one (0 means "not noted").
    fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64 + 1
    }

    fn lock(&self) -> MutexGuard<'_, Slab<Arc<Slot>>> {
        // A panic while the lock is held aborts the process (panic = "abort"): never poisoned
        // in the binary; in tests, the data stays consistent either way.
        self.slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// When the phase seen in `state` began; noted as `now` if it was not yet.
fn noted(word: &AtomicU64, state: u64, now: u64) -> u64 {
    match state >> phase::BITS {
        0 => {
            let _ = word.compare_exchange(
                state,
                now << phase::BITS | state & phase::MASK,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
            now
        }
        since => since,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A registry whose clock reads `ms` (plus one) now.
    fn at(cap: usize, ms: u64) -> Registry {
        let mut registry = Registry::new(cap);
        registry.started = Instant::now() - Duration::from_millis(ms);
        registry
    }

    fn settle(registry: &mut Registry) {
        registry.started -= SETTLE;
    }

    #[test]
    fn below_the_cap_every_connection_is_taken_and_crowded_past_three_quarters() {
        let registry = at(4, 0);
        let taken: Vec<_> = (0..3).map(|_| registry.admit().unwrap()).collect();
        assert!(taken.iter().all(|(_, slot)| slot.silent()));
        assert!(!registry.crowded() && !registry.at_cap());
        registry.admit().unwrap();
        assert!(registry.crowded() && registry.at_cap());
        registry.remove(taken[0].0);
        assert!(!registry.crowded());
    }

    #[test]
    fn at_the_cap_the_oldest_silent_connection_gives_way_once_settled() {
        let mut registry = at(2, 100);
        let (_, old) = registry.admit().unwrap();
        settle(&mut registry);
        let (_, newer) = registry.admit().unwrap();
        assert!(registry.crowded());
        // The newer one has not settled; the older has.
        let (_, third) = registry.admit().unwrap();
        assert!(old.closing() && !newer.closing() && !third.closing());
        // Neither of the two held has settled now: no room until the first settles.
        match registry.admit() {
            Err(NoRoom::Until(at)) => assert!(at > Instant::now() && at <= Instant::now() + SETTLE),
            other => panic!("{other:?}"),
        }
        assert_eq!(registry.open(), 3, "the closing one is held until its task ends");
    }

    #[test]
    fn silent_then_partial_then_idle_then_not_reading_and_never_busy() {
        let mut registry = at(4, 0);
        let slots: Vec<_> = (0..4).map(|_| registry.admit().unwrap()).collect();
        let [(_, not_reading), (_, idle), (_, partial), (_, silent)] = [0, 1, 2, 3].map(|i| slots[i].clone());
        not_reading.got_bytes();
        not_reading.handling();
        not_reading.write_blocked(true);
        idle.got_bytes();
        idle.handling();
        idle.answered();
        partial.got_bytes();
        // A first look notes when each phase began; they settle after that.
        assert!(matches!(registry.admit(), Err(NoRoom::Until(_))));
        settle(&mut registry);
        let mut gave_way = Vec::new();
        for _ in 0..4 {
            let (_, newcomer) = registry.admit().unwrap();
            newcomer.got_bytes();
            newcomer.handling();
            settle(&mut registry);
            gave_way.push([&silent, &partial, &idle, &not_reading].map(|slot| slot.closing()));
        }
        assert_eq!(
            gave_way,
            [
                [true, false, false, false],
                [true, true, false, false],
                [true, true, true, false],
                [true, true, true, true],
            ]
        );
    }

    #[test]
    fn a_connection_handling_a_request_never_gives_way() {
        let mut registry = at(1, 1000);
        let (key, busy) = registry.admit().unwrap();
        busy.got_bytes();
        busy.handling();
        settle(&mut registry);
        assert_eq!(registry.admit().unwrap_err(), NoRoom::UntilOneEnds);
        registry.remove(key);
        assert!(registry.admit().is_ok());
        // Those accepted as the server stops are taken anyway.
        registry.admit_anyway();
        assert_eq!(registry.open(), 2);
    }

    #[test]
    fn a_closing_connection_stays_closing_and_is_counted_once() {
        let mut registry = at(1, 1000);
        let (key, old) = registry.admit().unwrap();
        settle(&mut registry);
        let (_, new) = registry.admit().unwrap();
        old.got_bytes();
        old.handling();
        assert!(old.closing());
        registry.remove(key);
        assert_eq!(registry.held.load(Ordering::Relaxed), 1);
        assert!(!new.closing());
    }

    #[test]
    fn draining_closes_idle_then_silent_connections_and_crowds() {
        let registry = at(8, 0);
        let (_, silent) = registry.admit().unwrap();
        let (_, idle) = registry.admit().unwrap();
        let (_, busy) = registry.admit().unwrap();
        idle.got_bytes();
        idle.handling();
        idle.answered();
        busy.got_bytes();
        busy.handling();
        registry.drain(false);
        assert!(registry.crowded());
        assert!(idle.closing() && !silent.closing() && !busy.closing());
        registry.drain(true);
        assert!(silent.closing() && !busy.closing());
    }
}
