//! An access key that may be replaced while the function serves (a connection string kept in
//! Secrets Manager or SSM, re-read in the background, `aws::refresh`). Negotiates read it on
//! every token without a lock (`arc-swap`); a replacement is rare (a key regenerated in the
//! portal).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;

use super::AccessKey;

/// An access key that can be replaced atomically while tokens are signed with it.
pub struct RotatingKey {
    current: ArcSwap<AccessKey>,
    /// How many times the key was replaced.
    generation: AtomicU64,
}

impl RotatingKey {
    /// A cell holding `key`.
    pub fn new(key: AccessKey) -> Self {
        Self {
            current: ArcSwap::from_pointee(key),
            generation: AtomicU64::new(0),
        }
    }

    /// Replaces the key: every read that starts after this returns signs with the new one.
    pub fn replace(&self, key: AccessKey) {
        self.current.store(Arc::new(key));
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    /// Runs `use_key` with the current key.
    pub fn with<R>(&self, use_key: impl FnOnce(&AccessKey) -> R) -> R {
        use_key(&self.current.load())
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
        let cells: Vec<RotatingKey> = (0..19)
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
