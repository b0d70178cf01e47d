//! A value fetched from elsewhere and held in memory (a temporary access key, an identity
//! provider's signing keys): read without waiting, stamped with when it was fetched, and
//! fetched by one caller at a time — a caller that waited for another's fetch sees its result
//! instead of fetching again. A fetch runs as a task of its own: a caller that stops waiting
//! (its request dropped) neither cancels it nor makes room for a second one beside it.

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
    /// The turn to fetch, held by the fetch's own task until it ends.
    fetching: Arc<tokio::sync::Mutex<()>>,
}

impl<T> Default for FetchCache<T> {
    fn default() -> Self {
        Self {
            held: RwLock::new(None),
            fetching: Arc::default(),
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

    /// `found` in what is held; otherwise, on this caller's turn, `found` again (another
    /// caller's fetch may have brought it), then `start`: a fetch, run as a task of its own that
    /// keeps the turn until it ends, or an answer at once (a fetch declined, say rate-limited).
    pub async fn find_or_fetch<R, F>(
        &self,
        found: impl Fn(&Held<T>) -> Option<R>,
        start: impl FnOnce() -> Result<F, R>,
    ) -> R
    where
        F: Future<Output = R> + Send + 'static,
        R: Send + 'static,
    {
        if let Some(result) = self.held().as_ref().and_then(&found) {
            return result;
        }
        let turn = Arc::clone(&self.fetching).lock_owned().await;
        if let Some(result) = self.held().as_ref().and_then(&found) {
            return result;
        }
        let fetch = match start() {
            Ok(fetch) => fetch,
            Err(answer) => return answer,
        };
        let task = tokio::spawn(async move {
            let result = fetch.await;
            drop(turn);
            result
        });
        match task.await {
            Ok(result) => result,
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            // Cancelled: the runtime is shutting down, and this caller with it.
            Err(_) => std::future::pending().await,
        }
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
                cache
                    .find_or_fetch(|held| Some(*held.value), slow_fetch(&cache, &fetches, 20))
                    .await
            })
        });
        for caller in callers.collect::<Vec<_>>() {
            assert_eq!(caller.await.unwrap(), 7);
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    /// A fetch of 7 that takes `millis`, counted when it starts.
    fn slow_fetch(
        cache: &Arc<FetchCache<u32>>,
        fetches: &Arc<AtomicUsize>,
        millis: u64,
    ) -> impl FnOnce() -> Result<std::pin::Pin<Box<dyn Future<Output = u32> + Send>>, u32> {
        let (cache, fetches) = (Arc::clone(cache), Arc::clone(fetches));
        move || {
            Ok(Box::pin(async move {
                fetches.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
                *cache.store(7)
            }))
        }
    }

    #[tokio::test]
    async fn a_caller_that_stops_waiting_neither_cancels_the_fetch_nor_makes_room_for_another() {
        let cache: Arc<FetchCache<u32>> = Arc::default();
        let fetches = Arc::new(AtomicUsize::new(0));
        for _ in 0..5 {
            let waiting = cache.find_or_fetch(|held| Some(*held.value), slow_fetch(&cache, &fetches, 200));
            assert!(
                tokio::time::timeout(std::time::Duration::from_millis(10), waiting)
                    .await
                    .is_err()
            );
        }
        let got = cache
            .find_or_fetch(|held| Some(*held.value), slow_fetch(&cache, &fetches, 200))
            .await;
        assert_eq!(got, 7);
        assert_eq!(fetches.load(Ordering::SeqCst), 1, "one fetch, run to its end");
    }

    /// A fetch that panics (a bug) panics its caller too, rather than leaving it waiting.
    #[tokio::test]
    async fn a_fetch_that_panics_reaches_its_caller() {
        let cache: Arc<FetchCache<u32>> = Arc::default();
        let caller = tokio::spawn(async move {
            cache
                .find_or_fetch(
                    |held| Some(*held.value),
                    || Ok::<_, u32>(async { panic!("the fetch failed") }),
                )
                .await
        });
        let ended = tokio::time::timeout(std::time::Duration::from_secs(5), caller)
            .await
            .expect("the caller is not left waiting");
        assert!(ended.unwrap_err().is_panic());
    }

    #[tokio::test]
    async fn a_declined_fetch_answers_at_once() {
        let cache: FetchCache<u32> = FetchCache::default();
        let got = cache
            .find_or_fetch(|held| Some(*held.value), || Err::<std::future::Ready<u32>, _>(9))
            .await;
        assert_eq!(got, 9);
        assert!(cache.held().is_none());
    }

    #[tokio::test]
    async fn a_held_value_that_does_not_serve_is_fetched_again() {
        let cache: Arc<FetchCache<u32>> = Arc::default();
        cache.store(1);
        let fetches = Arc::new(AtomicUsize::new(0));
        let got = cache
            .find_or_fetch(|held| (*held.value == 7).then_some(7), slow_fetch(&cache, &fetches, 0))
            .await;
        assert_eq!(got, 7);
        assert_eq!(*cache.held().unwrap().value, 7);
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }
}
