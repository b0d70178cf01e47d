//! A value fetched from elsewhere and held in memory (a temporary access key, an identity
//! provider's signing keys, a Microsoft Entra token): read without waiting, stamped with when
//! it was fetched, and fetched once at a time. Callers that find nothing usable share the one
//! fetch in flight, each waiting no later than its own deadline; when the fetch ends, every
//! caller still waiting has its outcome, so a failure starts no second fetch for them. A fetch
//! runs as a task of its own: a caller that stops waiting neither cancels it nor makes room
//! for a second one beside it.

use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use tokio::sync::watch;
use tokio::time::{Instant, timeout_at};

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

/// Why a caller that waited for a fetch has nothing it can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missed<E> {
    /// The fetch failed: every caller that waited on it learns the same.
    Failed(E),
    /// The fetch brought a value, and it does not serve this caller.
    NotFound,
    /// The caller's deadline came first; the fetch goes on for whoever comes next.
    Late,
}

/// How a fetch ended, for those waiting on it.
#[derive(Clone)]
enum Outcome<E> {
    Fetched,
    Failed(E),
    /// The fetch's task ended without an outcome: it panicked.
    Lost,
}

/// The outcome of the fetch in flight, once it has one.
type Flight<E> = watch::Receiver<Option<Outcome<E>>>;

pub struct FetchCache<T, E> {
    shared: Arc<Shared<T, E>>,
}

/// What the cache shares with its fetches' tasks.
struct Shared<T, E> {
    held: RwLock<Option<Held<T>>>,
    /// The fetch in flight; its task clears it when the fetch ends, after holding what it brought.
    in_flight: Mutex<Option<Flight<E>>>,
}

impl<T, E> Default for FetchCache<T, E> {
    fn default() -> Self {
        Self {
            shared: Arc::new(Shared {
                held: RwLock::new(None),
                in_flight: Mutex::new(None),
            }),
        }
    }
}

impl<T, E> Shared<T, E> {
    fn held(&self) -> Option<Held<T>> {
        self.held
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn in_flight(&self) -> MutexGuard<'_, Option<Flight<E>>> {
        self.in_flight.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<T, E> FetchCache<T, E>
where
    T: Send + Sync + 'static,
    E: Clone + Send + Sync + 'static,
{
    /// What is held now, if anything.
    pub fn held(&self) -> Option<Held<T>> {
        self.shared.held()
    }

    /// `found` in what is held; otherwise the fetch in flight, or the one `start` begins (or
    /// `start`'s answer at once: a fetch declined, say rate-limited), waited on until `deadline`
    /// at the latest; then `found` in what the fetch brought, or `missed` says why not.
    /// `start` and `found` run while no other fetch can begin: they must not wait, nor use
    /// this cache.
    pub async fn find_or_fetch<R, F>(
        &self,
        deadline: Instant,
        found: impl Fn(&Held<T>) -> Option<R>,
        start: impl FnOnce() -> Result<F, R>,
        missed: impl FnOnce(Missed<E>) -> R,
    ) -> R
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        if let Some(result) = self.held().as_ref().and_then(&found) {
            return result;
        }
        let mut flight = {
            let mut in_flight = self.shared.in_flight();
            // A fetch that just ended holds its value before it leaves.
            if let Some(result) = self.held().as_ref().and_then(&found) {
                return result;
            }
            match &*in_flight {
                Some(flight) => flight.clone(),
                // No time left: a fetch begun now could only fail, and be counted as failed.
                None if deadline <= Instant::now() => return missed(Missed::Late),
                None => match start() {
                    Ok(fetch) => self.launch(&mut in_flight, fetch),
                    Err(answer) => return answer,
                },
            }
        };
        let outcome = match timeout_at(deadline, flight.wait_for(Option::is_some)).await {
            Ok(Ok(outcome)) => outcome.clone(),
            // The sender lives in the fetch's task, which always sends before it ends.
            Ok(Err(_)) => Some(Outcome::Lost),
            Err(_) => return missed(Missed::Late),
        };
        match outcome {
            Some(Outcome::Fetched) => self
                .held()
                .as_ref()
                .and_then(&found)
                .unwrap_or_else(|| missed(Missed::NotFound)),
            Some(Outcome::Failed(error)) => missed(Missed::Failed(error)),
            Some(Outcome::Lost) | None => panic!("a fetch panicked"),
        }
    }

    /// Starts the fetch `start` makes, in the background, unless one is in flight; whether it
    /// started.
    pub fn refresh<F>(&self, start: impl FnOnce() -> F) -> bool
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        let mut in_flight = self.shared.in_flight();
        if in_flight.is_some() {
            return false;
        }
        self.launch(&mut in_flight, start());
        true
    }

    /// Runs `fetch` as a task of its own, in flight until it ends.
    fn launch<F>(&self, in_flight: &mut Option<Flight<E>>, fetch: F) -> Flight<E>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        let (sender, flight) = watch::channel(None);
        *in_flight = Some(flight.clone());
        let landing = Landing {
            shared: Arc::clone(&self.shared),
            sender,
        };
        tokio::spawn(async move {
            let outcome = match fetch.await {
                Ok(value) => {
                    *landing
                        .shared
                        .held
                        .write()
                        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Held {
                        value: Arc::new(value),
                        fetched_at: Instant::now(),
                    });
                    Outcome::Fetched
                }
                Err(error) => Outcome::Failed(error),
            };
            landing.land(outcome);
        });
        flight
    }
}

/// Ends a fetch, however its task ends (a panic included).
struct Landing<T, E> {
    shared: Arc<Shared<T, E>>,
    sender: watch::Sender<Option<Outcome<E>>>,
}

impl<T, E> Landing<T, E> {
    /// Leaves the flight (after what was fetched is held), then tells those waiting.
    fn land(&self, outcome: Outcome<E>) {
        *self.shared.in_flight() = None;
        self.sender.send_replace(Some(outcome));
    }
}

impl<T, E> Drop for Landing<T, E> {
    fn drop(&mut self) {
        let landed = self.sender.borrow().is_some();
        if !landed {
            self.land(Outcome::Lost);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    type Cache = FetchCache<u32, &'static str>;
    type Fetch = Pin<Box<dyn Future<Output = Result<u32, &'static str>> + Send>>;

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(30)
    }

    /// Every caller's answer when it waited in vain.
    fn missed(missed: Missed<&'static str>) -> u32 {
        match missed {
            Missed::Failed(_) => 100,
            Missed::NotFound => 200,
            Missed::Late => 300,
        }
    }

    /// A fetch that takes `millis`, then gives `result`, counted when it starts.
    fn slow_fetch(
        fetches: &Arc<AtomicUsize>,
        millis: u64,
        result: Result<u32, &'static str>,
    ) -> impl FnOnce() -> Result<Fetch, u32> {
        let fetches = Arc::clone(fetches);
        move || {
            Ok(Box::pin(async move {
                fetches.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(millis)).await;
                result
            }))
        }
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_fetch() {
        let cache: Arc<Cache> = Arc::default();
        let fetches = Arc::new(AtomicUsize::new(0));
        let callers = (0..8).map(|_| {
            let (cache, fetches) = (Arc::clone(&cache), Arc::clone(&fetches));
            tokio::spawn(async move {
                cache
                    .find_or_fetch(far(), |held| Some(*held.value), slow_fetch(&fetches, 20, Ok(7)), missed)
                    .await
            })
        });
        for caller in callers.collect::<Vec<_>>() {
            assert_eq!(caller.await.unwrap(), 7);
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_caller_that_stops_waiting_neither_cancels_the_fetch_nor_makes_room_for_another() {
        let cache: Cache = FetchCache::default();
        let fetches = Arc::new(AtomicUsize::new(0));
        for _ in 0..5 {
            let waiting = cache.find_or_fetch(
                far(),
                |held| Some(*held.value),
                slow_fetch(&fetches, 200, Ok(7)),
                missed,
            );
            assert!(tokio::time::timeout(Duration::from_millis(10), waiting).await.is_err());
        }
        let got = cache
            .find_or_fetch(
                far(),
                |held| Some(*held.value),
                slow_fetch(&fetches, 200, Ok(7)),
                missed,
            )
            .await;
        assert_eq!(got, 7);
        assert_eq!(fetches.load(Ordering::SeqCst), 1, "one fetch, run to its end");
    }

    /// Callers waiting on a fetch that fails all have its failure, when it fails: none of them
    /// starts a fetch of its own.
    #[tokio::test]
    async fn callers_waiting_on_a_failed_fetch_all_have_its_failure_and_start_no_other() {
        let cache: Arc<Cache> = Arc::default();
        let fetches = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let callers: Vec<_> = (0..8)
            .map(|_| {
                let (cache, fetches) = (Arc::clone(&cache), Arc::clone(&fetches));
                tokio::spawn(async move {
                    cache
                        .find_or_fetch(
                            far(),
                            |held| Some(*held.value),
                            slow_fetch(&fetches, 100, Err("down")),
                            missed,
                        )
                        .await
                })
            })
            .collect();
        for caller in callers {
            assert_eq!(caller.await.unwrap(), 100);
        }
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        assert!(cache.held().is_none());
        // The fetch has ended: a caller now starts the next.
        let got = cache
            .find_or_fetch(far(), |held| Some(*held.value), slow_fetch(&fetches, 0, Ok(7)), missed)
            .await;
        assert_eq!((got, fetches.load(Ordering::SeqCst)), (7, 2));
    }

    /// Each caller waits until its own deadline at the latest, while the fetch goes on.
    #[tokio::test]
    async fn each_caller_waits_no_later_than_its_own_deadline() {
        let cache: Arc<Cache> = Arc::default();
        let fetches = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let callers: Vec<_> = [100, 200, 300]
            .into_iter()
            .map(|millis| {
                let (cache, fetches) = (Arc::clone(&cache), Arc::clone(&fetches));
                tokio::spawn(async move {
                    let deadline = started + Duration::from_millis(millis);
                    let got = cache
                        .find_or_fetch(
                            deadline,
                            |held| Some(*held.value),
                            slow_fetch(&fetches, 10_000, Ok(7)),
                            missed,
                        )
                        .await;
                    (got, Instant::now() - deadline)
                })
            })
            .collect();
        for caller in callers {
            let (got, late_by) = caller.await.unwrap();
            assert_eq!(got, 300, "late");
            assert!(
                late_by < Duration::from_millis(500),
                "answered {late_by:?} after its deadline"
            );
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        // A caller whose deadline has passed begins nothing.
        let got = cache
            .find_or_fetch(
                started,
                |held| Some(*held.value),
                slow_fetch(&fetches, 0, Ok(7)),
                missed,
            )
            .await;
        assert_eq!((got, fetches.load(Ordering::SeqCst)), (300, 1));
    }

    /// A fetch that panics (a bug) panics its caller too, rather than leaving it waiting; and
    /// the next caller may fetch again.
    #[tokio::test]
    async fn a_fetch_that_panics_reaches_its_caller() {
        let cache: Arc<Cache> = Arc::default();
        let panicking = Arc::clone(&cache);
        let caller = tokio::spawn(async move {
            panicking
                .find_or_fetch(
                    far(),
                    |held| Some(*held.value),
                    || Ok::<_, u32>(async { panic!("the fetch failed") }),
                    missed,
                )
                .await
        });
        let ended = tokio::time::timeout(Duration::from_secs(5), caller)
            .await
            .expect("the caller is not left waiting");
        assert!(ended.unwrap_err().is_panic());
        let fetches = Arc::new(AtomicUsize::new(0));
        let got = cache
            .find_or_fetch(far(), |held| Some(*held.value), slow_fetch(&fetches, 0, Ok(7)), missed)
            .await;
        assert_eq!(got, 7);
    }

    #[tokio::test]
    async fn a_declined_fetch_answers_at_once() {
        let cache: Cache = FetchCache::default();
        let got = cache
            .find_or_fetch(far(), |held| Some(*held.value), || Err::<Fetch, _>(9), missed)
            .await;
        assert_eq!(got, 9);
        assert!(cache.held().is_none());
    }

    #[tokio::test]
    async fn a_held_value_that_does_not_serve_is_fetched_again() {
        let cache: Cache = FetchCache::default();
        let fetches = Arc::new(AtomicUsize::new(0));
        let got = cache
            .find_or_fetch(far(), |held| Some(*held.value), slow_fetch(&fetches, 0, Ok(1)), missed)
            .await;
        assert_eq!(got, 1);
        let got = cache
            .find_or_fetch(
                far(),
                |held| (*held.value == 7).then_some(7),
                slow_fetch(&fetches, 0, Ok(7)),
                missed,
            )
            .await;
        assert_eq!(got, 7);
        assert_eq!(*cache.held().unwrap().value, 7);
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
        // A fetched value that still does not serve.
        let got = cache
            .find_or_fetch(
                far(),
                |held| (*held.value == 8).then_some(8),
                slow_fetch(&fetches, 0, Ok(7)),
                missed,
            )
            .await;
        assert_eq!(got, 200);
    }

    /// A refresh runs in the background, and only when no fetch is in flight; callers meanwhile
    /// share it.
    #[tokio::test]
    async fn a_refresh_starts_only_when_no_fetch_is_in_flight() {
        let cache: Arc<Cache> = Arc::default();
        let fetches = Arc::new(AtomicUsize::new(0));
        let fetch = |millis| {
            let fetches = Arc::clone(&fetches);
            move || {
                Box::pin(async move {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(millis)).await;
                    Ok::<u32, &'static str>(7)
                }) as Fetch
            }
        };
        assert!(cache.refresh(fetch(100)));
        assert!(!cache.refresh(fetch(100)), "one in flight");
        let got = cache
            .find_or_fetch(far(), |held| Some(*held.value), slow_fetch(&fetches, 0, Ok(8)), missed)
            .await;
        assert_eq!(got, 7, "the refresh's value");
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        assert!(cache.refresh(fetch(0)), "the first has ended");
    }
}
