//! Keys that rotate without a restart: connection strings read from Secrets Manager or SSM at
//! start are read again every `SIGNALR_SECRET_REFRESH_SECONDS`, and a new access key replaces
//! the endpoint's key atomically ([`RotatingKey`]). Negotiates never wait on a read: the local
//! and Functions hosts read in a background task; on Lambda, whose environment is frozen
//! between invocations, the first invocation after the period starts one read, which the
//! host lets finish after the invocation's answer is posted.
//!
//! Only the key may change while serving. A value that no longer parses, or that moves the
//! endpoint (`Endpoint`, `Port`, `ClientEndpoint`, `ServerEndpoint`, `AuthType`), keeps the last
//! good key and is logged once, naming the setting and the ARN (a restart applies it: the
//! endpoint's URLs, routing and health are built at start). A failed read keeps the last good
//! key and is logged once per outage, and once more when reads work again. No value is logged.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::secrets::{AwsReader, AwsReferences, ValueDigest, digest};
use crate::endpoints::{Authentication, ServiceEndpoint};
use crate::settings::{SecretReference, connection_string_endpoint};
use crate::tokens::{AccessKey, RotatingKey};

/// The longest one read may take: a refresh never holds a Lambda environment longer.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Reads the watched settings again and swaps their endpoints' keys.
#[derive(Debug)]
pub struct KeyRefresher {
    reader: AwsReader,
    period: Duration,
    watched: Vec<Watched>,
    /// When the refresher was made: the origin of `next_due`.
    origin: Instant,
    /// Milliseconds after `origin` when the values are stale.
    next_due: AtomicU64,
    /// A pass is running.
    running: AtomicBool,
}

/// One setting read from AWS, and the key of the endpoint made from it.
#[derive(Debug)]
struct Watched {
    setting: String,
    reference: SecretReference,
    endpoint: ServiceEndpoint,
    key: Arc<RotatingKey>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// The value last read (good or not): the same value is handled, and logged, once.
    last: ValueDigest,
    /// The last read failed; its failure was logged.
    failing: bool,
}

/// Builds a [`KeyRefresher`] while the endpoints' issuers are made.
#[derive(Debug)]
pub struct KeyRefresherBuilder<'a> {
    references: &'a AwsReferences,
    reader: &'a AwsReader,
    period: Duration,
    watched: Vec<Watched>,
}

impl<'a> KeyRefresherBuilder<'a> {
    /// A builder, when values were read from AWS and `period` is set.
    pub fn new(references: &'a AwsReferences, period: Option<Duration>) -> Option<Self> {
        Some(Self {
            reader: references.reader()?,
            references,
            period: period?,
            watched: Vec::new(),
        })
    }

    /// The endpoint's key as a [`RotatingKey`] the refresher replaces, when the endpoint signs
    /// with a key from a connection string read from AWS.
    pub fn watch(&mut self, endpoint: &ServiceEndpoint) -> Option<Arc<RotatingKey>> {
        let Authentication::AccessKey(secret) = endpoint.auth() else {
            return None;
        };
        let (reference, last) = self.references.of(endpoint.source())?;
        let key = Arc::new(RotatingKey::new(AccessKey::new(secret.expose())));
        self.watched.push(Watched {
            setting: endpoint.source().to_owned(),
            reference: reference.clone(),
            endpoint: endpoint.clone(),
            key: Arc::clone(&key),
            state: Mutex::new(State { last, failing: false }),
        });
        Some(key)
    }

    /// The refresher, when some endpoint is watched.
    pub fn build(self) -> Option<Arc<KeyRefresher>> {
        if self.watched.is_empty() {
            return None;
        }
        let reader = self.reader.clone();
        Some(Arc::new(KeyRefresher {
            reader,
            next_due: AtomicU64::new(millis(self.period)),
            period: self.period,
            watched: self.watched,
            origin: Instant::now(),
            running: AtomicBool::new(false),
        }))
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl KeyRefresher {
    /// Reads every watched value once, one after the other.
    pub async fn refresh(&self) {
        for watched in &self.watched {
            watched.refresh(&self.reader).await;
        }
    }

    /// Reads every period, for ever (the local and Functions hosts).
    pub async fn run(self: Arc<Self>) {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + self.period, self.period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            self.refresh().await;
        }
    }

    /// Starts one pass when the values are stale and none is running (Lambda: called per
    /// invocation); the caller may wait for it after answering.
    pub fn start_if_stale(self: &Arc<Self>) -> Option<tokio::task::JoinHandle<()>> {
        let now = millis(self.origin.elapsed());
        if now < self.next_due.load(Ordering::Relaxed) || self.running.swap(true, Ordering::AcqRel) {
            return None;
        }
        let this = Arc::clone(self);
        Some(tokio::spawn(async move {
            this.refresh().await;
            let done = millis(this.origin.elapsed());
            this.next_due
                .store(done.saturating_add(millis(this.period)), Ordering::Relaxed);
            this.running.store(false, Ordering::Release);
        }))
    }
}

impl Watched {
    async fn refresh(&self, reader: &AwsReader) {
        let (setting, arn) = (self.setting.as_str(), self.reference.arn());
        let read = match tokio::time::timeout(READ_TIMEOUT, reader.read(&self.reference)).await {
            Ok(read) => read,
            Err(_) => Err(format!("no answer within {} seconds", READ_TIMEOUT.as_secs())),
        };
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let value = match read {
            Ok(value) => value,
            Err(reason) => {
                if !state.failing {
                    state.failing = true;
                    tracing::warn!(
                        setting,
                        arn,
                        %reason,
                        "the connection string could not be read again; tokens are signed with the last key read \
                        until it can"
                    );
                }
                return;
            }
        };
        if std::mem::take(&mut state.failing) {
            tracing::info!(setting, arn, "the connection string can be read again");
        }
        let now = digest(&value);
        if now == state.last {
            tracing::debug!(setting, arn, "the connection string read again is unchanged");
            return;
        }
        state.last = now;
        // What the value says beyond its key was said at start, and applies only after a restart.
        let endpoint = match connection_string_endpoint(
            setting,
            &value,
            self.endpoint.name(),
            self.endpoint.endpoint_type(),
            &mut Vec::new(),
        ) {
            Ok(endpoint) => endpoint,
            Err(error) => {
                tracing::error!(
                    setting,
                    arn,
                    reason = %error.message,
                    "the new value is not a usable connection string; tokens are signed with the last good key"
                );
                return;
            }
        };
        match endpoint.auth() {
            Authentication::AccessKey(secret) if self.endpoint.differs_only_in_key(&endpoint) => {
                self.key.replace(AccessKey::new(secret.expose()));
                tracing::info!(setting, arn, "the access key was replaced with the one read now");
            }
            _ => tracing::error!(
                setting,
                arn,
                "the new value moves the endpoint (Endpoint, Port, ClientEndpoint, ServerEndpoint or AuthType \
                changed), which applies only at start: restart the function to use it; tokens are signed with the last \
                good key meanwhile"
            ),
        }
    }
}
