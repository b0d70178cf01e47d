//! An access key that may be replaced while the function serves (a connection string kept in
//! Secrets Manager or SSM, re-read in the background, `aws::refresh`).
//!
//! Negotiates read it on every token, so the read takes no lock: each thread keeps the key it
//! last used with the cell's generation, and a read is one atomic load of the generation; only
//! a thread that sees a new generation takes the lock, once, to pick up the new key. A
//! replacement is rare (a key regenerated in the portal), so the lock is never contended on
//! the hot path. Hand-written because the crates that do this (arc-swap) are not in the tree
//! and cost more per read (a debt slot written and the pointer loaded twice).

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::AccessKey;

/// Gives each cell an id for the threads' caches.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// A thread holds the keys of at most this many cells (a process has one per endpoint; tests
/// make many): past it, the cache starts again, and the next reads take the lock once.
const CACHED_CELLS: usize = 16;

/// What one thread last read from one cell.
struct Seen {
    cell: u64,
    generation: u64,
    key: Arc<AccessKey>,
}

thread_local! {
    static SEEN: RefCell<Vec<Seen>> = const { RefCell::new(Vec::new()) };
}

/// An access key that can be replaced atomically while tokens are signed with it.
pub struct RotatingKey {
    id: u64,
    /// Incremented after each replacement, under the lock.
    generation: AtomicU64,
    current: Mutex<Arc<AccessKey>>,
}

impl RotatingKey {
    /// A cell holding `key`.
    pub fn new(key: AccessKey) -> Self {
        Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            generation: AtomicU64::new(0),
            current: Mutex::new(Arc::new(key)),
        }
    }

    /// Replaces the key: every read that starts after this returns signs with the new one.
    pub fn replace(&self, key: AccessKey) {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        *current = Arc::new(key);
        // Published after the key: a reader that sees this generation finds the new key.
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Runs `use_key` with the current key.
    pub fn with<R>(&self, use_key: impl FnOnce(&AccessKey) -> R) -> R {
        let generation = self.generation.load(Ordering::Acquire);
        SEEN.with_borrow_mut(|seen| {
            let index = match seen.iter().position(|entry| entry.cell == self.id) {
                Some(index) if seen[index].generation == generation => index,
                Some(index) => {
                    seen[index].key = self.load();
                    seen[index].generation = generation;
                    index
                }
                None => {
                    if seen.len() >= CACHED_CELLS {
                        seen.clear();
                    }
                    seen.push(Seen {
                        cell: self.id,
                        generation,
                        key: self.load(),
                    });
                    seen.len() - 1
                }
            };
            use_key(&seen[index].key)
        })
    }

    /// The current key, under the lock. A replacement between the generation's load and this
    /// lock only makes the thread load once more on its next read.
    fn load(&self) -> Arc<AccessKey> {
        Arc::clone(&self.current.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl fmt::Debug for RotatingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RotatingKey")
            .field("generation", &self.generation.load(Ordering::Relaxed))
            .field("secret", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signature(cell: &RotatingKey) -> [u8; 32] {
        cell.with(|key| key.sign(b"message"))
    }

    #[test]
    fn a_replaced_key_signs_from_the_next_read_on_every_thread() {
        let (old, new) = (AccessKey::new("old-key"), AccessKey::new("new-key"));
        let cell = Arc::new(RotatingKey::new(old.clone()));
        assert_eq!(signature(&cell), old.sign(b"message"));
        assert_eq!(signature(&cell), old.sign(b"message"), "from the thread's cache");
        let other = {
            let cell = Arc::clone(&cell);
            std::thread::spawn(move || signature(&cell)).join().unwrap()
        };
        assert_eq!(other, old.sign(b"message"));
        cell.replace(new.clone());
        assert_eq!(signature(&cell), new.sign(b"message"), "this thread's cache was stale");
        let other = {
            let cell = Arc::clone(&cell);
            std::thread::spawn(move || signature(&cell)).join().unwrap()
        };
        assert_eq!(other, new.sign(b"message"));
        cell.replace(old.clone());
        assert_eq!(signature(&cell), old.sign(b"message"), "and back");
    }

    #[test]
    fn cells_do_not_share_a_threads_cache() {
        let cells: Vec<RotatingKey> = (0..CACHED_CELLS + 3)
            .map(|n| RotatingKey::new(AccessKey::new(&format!("key-{n}"))))
            .collect();
        for _ in 0..2 {
            for (n, cell) in cells.iter().enumerate() {
                assert_eq!(signature(cell), AccessKey::new(&format!("key-{n}")).sign(b"message"));
            }
        }
        cells[1].replace(AccessKey::new("rotated"));
        assert_eq!(signature(&cells[1]), AccessKey::new("rotated").sign(b"message"));
        assert_eq!(signature(&cells[2]), AccessKey::new("key-2").sign(b"message"));
        SEEN.with_borrow(|seen| assert!(seen.len() <= CACHED_CELLS, "bounded: {}", seen.len()));
    }

    #[test]
    fn a_read_with_the_current_generation_takes_no_lock() {
        let cell = Arc::new(RotatingKey::new(AccessKey::new("k")));
        let (warm, warmed) = std::sync::mpsc::channel();
        let (go, went) = std::sync::mpsc::channel::<()>();
        let (done, finished) = std::sync::mpsc::channel();
        let reader = {
            let cell = Arc::clone(&cell);
            std::thread::spawn(move || {
                signature(&cell);
                warm.send(()).unwrap();
                went.recv().unwrap();
                done.send(signature(&cell)).unwrap();
            })
        };
        warmed.recv().unwrap();
        let held = cell.current.lock().unwrap();
        go.send(()).unwrap();
        let signed = finished.recv_timeout(std::time::Duration::from_secs(5));
        drop(held);
        assert_eq!(
            signed,
            Ok(AccessKey::new("k").sign(b"message")),
            "the read waited on the lock"
        );
        reader.join().unwrap();
    }

    #[test]
    fn a_thread_keeps_one_entry_per_cell_up_to_the_bound() {
        SEEN.with_borrow_mut(Vec::clear);
        let cells: Vec<RotatingKey> = (0..3)
            .map(|n| RotatingKey::new(AccessKey::new(&format!("{n}"))))
            .collect();
        for cell in cells.iter().chain(&cells) {
            signature(cell);
        }
        SEEN.with_borrow(|seen| assert_eq!(seen.len(), 3));
        let more: Vec<RotatingKey> = (0..CACHED_CELLS)
            .map(|n| RotatingKey::new(AccessKey::new(&format!("{n}"))))
            .collect();
        for cell in &more {
            signature(cell);
        }
        SEEN.with_borrow(|seen| assert_eq!(seen.len(), 3, "started again at the bound"));
    }

    #[test]
    fn readers_racing_a_replacement_end_on_the_new_key() {
        let keys: Vec<AccessKey> = (0..=50).map(|n| AccessKey::new(&format!("k{n}"))).collect();
        let signatures: Arc<Vec<[u8; 32]>> = Arc::new(keys.iter().map(|key| key.sign(b"message")).collect());
        let cell = Arc::new(RotatingKey::new(keys[0].clone()));
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let (cell, signatures) = (Arc::clone(&cell), Arc::clone(&signatures));
                std::thread::spawn(move || {
                    let mut last = 0;
                    for _ in 0..2_000 {
                        let signed = signature(&cell);
                        let index = signatures.iter().position(|known| *known == signed).expect("a key set");
                        assert!(index >= last, "a thread went back to an older key");
                        last = index;
                    }
                })
            })
            .collect();
        for key in &keys[1..] {
            cell.replace(key.clone());
        }
        for reader in readers {
            reader.join().unwrap();
        }
        assert_eq!(signature(&cell), signatures[50]);
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let printed = format!("{:?}", RotatingKey::new(AccessKey::new("TOP-SECRET-VALUE")));
        assert!(!printed.contains("TOP-SECRET-VALUE"), "{printed}");
        assert_eq!(printed, r#"RotatingKey { generation: 0, secret: "<redacted>" }"#);
    }
}
