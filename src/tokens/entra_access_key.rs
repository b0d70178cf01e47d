//! Temporary access keys for Entra `access-key` mode: fetched from the service with an Entra
//! token, then used to sign tokens locally like a connection string's key (with `kid`).
//!
//! The SDK's timing: refresh after 55 minutes (every 5 while refreshing fails), and never sign
//! with a key not refreshed for 120 minutes. A refresh runs in the background while the held
//! key is still valid, so requests never wait on it; only the first request (or one after the
//! key expired) waits for a fetch. One fetch is in flight at a time: requests meanwhile wait for
//! it, each until its own deadline at the latest, and the fetch may take until the deadline of
//! the request that started it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::AccessKey;
use crate::entra::EntraTokenSource;
use crate::fetch_cache::{FetchCache, Held, Missed};
use crate::service::{ServiceApi, UpstreamError};

/// When a held key is refreshed and when it may no longer be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyLifetime {
    pub refresh_after: Duration,
    pub retry_failed_refresh_after: Duration,
    pub expire_after: Duration,
}

impl Default for KeyLifetime {
    fn default() -> Self {
        Self {
            refresh_after: Duration::from_secs(55 * 60),
            retry_failed_refresh_after: Duration::from_secs(5 * 60),
            expire_after: Duration::from_secs(120 * 60),
        }
    }
}

/// What to do with a held key of a given age.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Use it.
    Fresh,
    /// Use it, and refresh in the background.
    Stale,
    /// Do not use it: fetch a new one first.
    Expired,
}

impl KeyLifetime {
    pub fn state(&self, age: Duration) -> KeyState {
        if age >= self.expire_after {
            KeyState::Expired
        } else if age >= self.refresh_after {
            KeyState::Stale
        } else {
            KeyState::Fresh
        }
    }
}

pub struct TemporaryKeyStore {
    entra: Arc<EntraTokenSource>,
    api: ServiceApi,
    server_base: String,
    lifetime: KeyLifetime,
    key: FetchCache<AccessKey, UpstreamError>,
    last_failed_refresh: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for TemporaryKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemporaryKeyStore")
            .field("server_base", &self.server_base)
            .field("credential", &self.entra.name())
            .finish_non_exhaustive()
    }
}

impl TemporaryKeyStore {
    pub fn new(entra: Arc<EntraTokenSource>, api: ServiceApi, server_base: String, lifetime: KeyLifetime) -> Self {
        Self {
            entra,
            api,
            server_base,
            lifetime,
            key: FetchCache::default(),
            last_failed_refresh: Mutex::new(None),
        }
    }

    /// The source of the Entra tokens the key is fetched with.
    pub fn entra(&self) -> &EntraTokenSource {
        &self.entra
    }

    /// A key that may sign now: the one held, or the one in flight (or one fetched now),
    /// waited for until `deadline` at the latest.
    pub async fn key(self: &Arc<Self>, deadline: Instant) -> Result<Arc<AccessKey>, UpstreamError> {
        if let Some(held) = self.key.held() {
            match self.lifetime.state(held.fetched_at.elapsed()) {
                KeyState::Fresh => return Ok(held.value),
                KeyState::Stale => {
                    self.refresh_in_background();
                    return Ok(held.value);
                }
                KeyState::Expired => {}
            }
        }
        let usable = |held: &Held<AccessKey>| {
            (self.lifetime.state(held.fetched_at.elapsed()) != KeyState::Expired).then(|| Ok(Arc::clone(&held.value)))
        };
        let missed = |missed| {
            Err(match missed {
                Missed::Failed(error) => error,
                // A key fetched now is fresh: not found only with no time left.
                Missed::NotFound | Missed::Late => UpstreamError::KeyTimeout,
            })
        };
        self.key
            .find_or_fetch(deadline, usable, || Ok::<_, Result<_, _>>(self.fetch(deadline)), missed)
            .await
    }

    /// A fetch of a key, to run on its own until `deadline`.
    fn fetch(
        self: &Arc<Self>,
        deadline: Instant,
    ) -> impl Future<Output = Result<AccessKey, UpstreamError>> + Send + 'static {
        let store = Arc::clone(self);
        async move {
            let issued = store
                .api
                .fetch_access_key(&store.entra, &store.server_base, deadline)
                .await?;
            tracing::info!(key_id = %issued.key_id, server = %store.server_base, "fetched a temporary access key");
            Ok(AccessKey::with_id(&issued.key_id, &issued.access_key))
        }
    }

    fn refresh_in_background(self: &Arc<Self>) {
        let recently_failed = self
            .last_failed_refresh
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .is_some_and(|failed| failed.elapsed() < self.lifetime.retry_failed_refresh_after);
        if recently_failed {
            return;
        }
        self.key.refresh(|| {
            let (store, fetch) = (
                Arc::clone(self),
                self.fetch(Instant::now() + self.api.limits().deadline),
            );
            async move {
                let fetched = fetch.await;
                if let Err(error) = &fetched {
                    tracing::warn!(
                        %error,
                        server = %store.server_base,
                        "refreshing the temporary access key failed; the held key is used meanwhile"
                    );
                    *store
                        .last_failed_refresh
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Instant::now());
                }
                fetched
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_timing() {
        let lifetime = KeyLifetime::default();
        let minutes = |m: u64| Duration::from_secs(m * 60);
        assert_eq!(lifetime.state(Duration::ZERO), KeyState::Fresh);
        assert_eq!(lifetime.state(minutes(54)), KeyState::Fresh);
        assert_eq!(lifetime.state(minutes(55)), KeyState::Stale);
        assert_eq!(lifetime.state(minutes(119)), KeyState::Stale);
        assert_eq!(lifetime.state(minutes(120)), KeyState::Expired);
    }
}
