//! A value fetched from elsewhere and held in memory (a temporary access key, an identity
//! provider's signing keys): read without waiting, stamped with when it was fetched, and
//! fetched by one caller at a time — a caller that waited for another's fetch sees its result
//! instead of fetching again.

use std::sync::{Arc, RwLock};

use tokio::time::Instant;

/// The value held, and when it was fetched.
pub struct Held<T> {
    pub value: Arc<T>,
    pub fetched_at: Instant,
}

impl<T> Clone for Held<T> {
    fn clone(&self) -> Self {
        Self {
            value: Arc::clone(&self.value),
            fetched_at: self.fetched_at,
        }
    }
}

pub struct FetchCache<T> {
    held: RwLock<Option<Held<T>>>,
    fetching: tokio::sync::Mutex<()>,
}

impl<T> Default for FetchCache<T> {
    fn default() -> Self {
        Self {
            held: RwLock::new(None),
            fetching: tokio::sync::Mutex::new(()),
        }
    }
}

impl<T> FetchCache<T> {
    /// What is held now, if anything.
    pub fn held(&self) -> Option<Held<T>> {
        self.held
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Holds a freshly fetched value, stamped now.
    pub fn store(&self, value: T) -> Arc<T> {
        let value = Arc::new(value);
        *self.held.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Held {
            value: Arc::clone(&value),
            fetched_at: Instant::now(),
        });
        value
    }

    /// `found` in what is held; otherwise `fetch`, one caller at a time. A caller that waited
    /// while another fetched looks at the held value again before fetching itself.
    pub async fn find_or_fetch<R>(&self, found: impl Fn(&Held<T>) -> Option<R>, fetch: impl Future<Output = R>) -> R {
        if let Some(result) = self.held().as_ref().and_then(&found) {
            return result;
        }
        let _one_fetch = self.fetching.lock().await;
        if let Some(result) = self.held().as_ref().and_then(&found) {
            return result;
        }
        fetch.await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn concurrent_callers_share_one_fetch() {
        let cache: Arc<FetchCache<u32>> = Arc::default();
        let fetches = Arc::new(AtomicUsize::new(0));
        let callers = (0..8).map(|_| {
            let (cache, fetches) = (Arc::clone(&cache), Arc::clone(&fetches));
            tokio::spawn(async move {
                let fetch = async {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    *cache.store(7)
                };
                cache.find_or_fetch(|held| Some(*held.value), fetch).await
            })
        });
        for caller in callers.collect::<Vec<_>>() {
            assert_eq!(caller.await.unwrap(), 7);
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_held_value_that_does_not_serve_is_fetched_again() {
        let cache = FetchCache::default();
        cache.store(1);
        let got = cache
            .find_or_fetch(|held| (*held.value == 2).then_some(2), async { *cache.store(2) })
            .await;
        assert_eq!(got, 2);
        assert_eq!(*cache.held().unwrap().value, 2);
    }
}
