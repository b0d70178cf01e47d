//! Endpoint health, for more than one endpoint: `HEAD {ServerEndpoint}/api/health?api-version=…`
//! (no auth, 2 s timeout, any 2xx is healthy), probed at start and then in the background
//! every interval (2 minutes by default, as the SDK). As the SDK's `RestHealthCheckService`
//! (Azure/azure-signalr, `Microsoft.Azure.SignalR.Management`, with its `HealthCheckOption`),
//! a failed probe is retried up to [`PROBE_RETRIES`] times, a retry spacing apart (3 s by
//! default): an endpoint goes offline only when every probe of a round failed, and one
//! success keeps (or brings) it online. A request never waits on a probe once the first round
//! is known, nor longer than [`FIRST_ROUND_WAIT`] after start. A failed token call marks an
//! endpoint offline at once ([`HealthBoard::mark_offline`]); the next round that succeeds
//! brings it back.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::ServiceEndpoint;
use crate::product::Service;

/// Timeout of one probe (the SDK's `HttpTimeout`).
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Probes after a failed one, in one round, before an endpoint is offline (the SDK's
/// `MaxRetries`): three probes in all.
pub const PROBE_RETRIES: u32 = 2;

/// How long after start requests wait, at most, for the first round.
pub const FIRST_ROUND_WAIT: Duration = Duration::from_millis(2_500);

/// When rounds run and how failed probes are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthSchedule {
    /// Between the starts of two rounds (the SDK's `CheckInterval`, 2 minutes).
    pub interval: Duration,
    /// Between a failed probe and its retry (the SDK's `RetryInterval`, 3 s).
    pub retry_spacing: Duration,
}

/// Online or not, per endpoint (by index), with the names for logs.
#[derive(Debug)]
pub struct HealthBoard {
    /// Whose endpoints these are (the log lines say).
    service: Service,
    names: Vec<String>,
    online: Vec<AtomicBool>,
    started: Instant,
    /// Set once the first round is known: what a request checks, without a lock.
    first_round_known: AtomicBool,
    first_round: watch::Receiver<bool>,
}

impl HealthBoard {
    /// Whether the endpoint at `index` is online.
    pub fn is_online(&self, index: usize) -> bool {
        self.online[index].load(Ordering::Relaxed)
    }

    /// Records a state; logs only changes.
    pub fn set(&self, index: usize, online: bool, why: &str) {
        let was = self.online[index].swap(online, Ordering::Relaxed);
        if was != online {
            let name = display_name(&self.names[index]);
            match (self.service, online) {
                (Service::SignalR, true) => tracing::info!(endpoint = name, "SignalR endpoint is online"),
                (Service::SignalR, false) => {
                    tracing::warn!(endpoint = name, reason = why, "SignalR endpoint is offline");
                }
                (Service::WebPubSub, true) => tracing::info!(endpoint = name, "Web PubSub endpoint is online"),
                (Service::WebPubSub, false) => {
                    tracing::warn!(endpoint = name, reason = why, "Web PubSub endpoint is offline");
                }
            }
        }
    }

    pub fn mark_offline(&self, index: usize, why: &str) {
        self.set(index, false, why);
    }

    /// Waits for the first round of probes, until [`FIRST_ROUND_WAIT`] after start at most:
    /// requests after that never wait.
    pub async fn first_round(&self) {
        if self.first_round_known.load(Ordering::Relaxed) {
            return;
        }
        let mut ready = self.first_round.clone();
        let deadline = tokio::time::Instant::from_std(self.started + FIRST_ROUND_WAIT);
        let _ = tokio::time::timeout_at(deadline, ready.wait_for(|done| *done)).await;
    }
}

/// An endpoint's name as logs and `check` show it: `(default)` for the unnamed one.
pub fn display_name(name: &str) -> &str {
    if name.is_empty() { "(default)" } else { name }
}

/// Starts probing each endpoint of `service` in the background, by `schedule`.
pub fn start(
    service: Service,
    endpoints: &[ServiceEndpoint],
    http: reqwest::Client,
    schedule: HealthSchedule,
) -> Arc<HealthBoard> {
    let names: Vec<String> = endpoints.iter().map(|e| e.name().to_owned()).collect();
    let health_urls: Vec<String> = endpoints.iter().map(|e| health_url(service, e.server_base())).collect();
    let (done, first_round) = watch::channel(false);
    let board = Arc::new(HealthBoard {
        service,
        online: names.iter().map(|_| AtomicBool::new(true)).collect(),
        names,
        started: Instant::now(),
        first_round_known: AtomicBool::new(false),
        first_round,
    });
    let probing = Arc::clone(&board);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(schedule.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            // Each endpoint's state is set as soon as its own verdict is known.
            futures_util::future::join_all(health_urls.iter().enumerate().map(|(index, base)| {
                let (http, board) = (&http, &probing);
                async move {
                    let name = display_name(&board.names[index]);
                    let known_offline = !board.is_online(index);
                    match verdict(name, known_offline, || probe(http, base), schedule.retry_spacing).await {
                        Ok(()) => board.set(index, true, ""),
                        Err(why) => board.set(index, false, &why),
                    }
                }
            }))
            .await;
            probing.first_round_known.store(true, Ordering::Relaxed);
            let _ = done.send(true);
        }
    });
    board
}

/// One endpoint's verdict in a round, by the SDK's rule: `Ok` at the first probe that
/// succeeds; `Err` only when the probe and its [`PROBE_RETRIES`] retries, `retry_spacing`
/// apart, all failed. An endpoint `known_offline` is probed the same way, but its failed
/// probes are logged at debug: its offline line said it already, and every round would
/// repeat it until the endpoint is back (which its online line says).
async fn verdict<F, Fut>(
    endpoint: &str,
    known_offline: bool,
    mut probe: F,
    retry_spacing: Duration,
) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let mut retries = 0;
    loop {
        match probe().await {
            Ok(()) => return Ok(()),
            Err(why) if retries == PROBE_RETRIES => {
                return Err(format!("{why} ({} probes in a row failed)", PROBE_RETRIES + 1));
            }
            Err(why) => {
                // At info, as the SDK logs its `WillRetryHealthCheck`, while the endpoint is
                // online.
                if known_offline {
                    tracing::debug!(
                        endpoint,
                        reason = why,
                        ?retry_spacing,
                        "health probe failed; it will be retried"
                    );
                } else {
                    tracing::info!(
                        endpoint,
                        reason = why,
                        ?retry_spacing,
                        "health probe failed; it will be retried"
                    );
                }
                retries += 1;
                tokio::time::sleep(retry_spacing).await;
            }
        }
    }
}

/// The health URL of an endpoint of `service`: each service's own `api-version`.
pub fn health_url(service: Service, server_base: &str) -> String {
    format!("{server_base}/api/health?api-version={}", service.health_api_version())
}

/// One health probe of a [`health_url`]: `Ok` on any 2xx within the timeout.
pub async fn probe(http: &reqwest::Client, url: &str) -> Result<(), String> {
    match http.head(url).timeout(PROBE_TIMEOUT).send().await {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(format!("health probe answered {}", response.status().as_u16())),
        Err(error) if error.is_timeout() => Err("health probe timed out".to_owned()),
        Err(_) => Err("health probe could not connect".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    /// A short spacing: tokio's paused clock (`test-util`) would make tests build every
    /// tokio-dependent crate a second time.
    const SPACING: Duration = Duration::from_millis(150);

    /// The verdict on probes that answer `script` in turn, and when each probe was sent.
    async fn judge(script: &[bool]) -> (Result<(), String>, Vec<Duration>) {
        let start = Instant::now();
        let sent = RefCell::new(Vec::new());
        let mut answers = script.iter().copied();
        let verdict = verdict(
            "a",
            false,
            || {
                sent.borrow_mut().push(start.elapsed());
                let ok = answers.next().expect("probed more often than scripted");
                async move {
                    if ok {
                        Ok(())
                    } else {
                        Err("health probe answered 503".to_owned())
                    }
                }
            },
            SPACING,
        )
        .await;
        (verdict, sent.into_inner())
    }

    /// Probes were sent `SPACING` apart (a little more on a busy machine, never less).
    fn spaced(sent: &[Duration]) {
        assert!(sent[0] < SPACING / 2, "{sent:?}");
        for pair in sent.windows(2) {
            let gap = pair[1] - pair[0];
            assert!(gap >= SPACING && gap < SPACING * 4, "{sent:?}");
        }
    }

    #[tokio::test]
    async fn online_at_the_first_probe_that_succeeds() {
        let (verdict, sent) = judge(&[true]).await;
        assert_eq!(verdict, Ok(()));
        assert_eq!(sent.len(), 1);
        let (verdict, sent) = judge(&[false, true]).await;
        assert_eq!(verdict, Ok(()));
        assert_eq!(sent.len(), 2);
        spaced(&sent);
    }

    #[tokio::test]
    async fn two_failures_are_retried_and_the_third_probe_decides() {
        let (verdict, sent) = judge(&[false, false, true]).await;
        assert_eq!(verdict, Ok(()));
        assert_eq!(sent.len(), 3);
        spaced(&sent);
    }

    #[tokio::test]
    async fn offline_only_after_three_failures_a_spacing_apart() {
        let (verdict, sent) = judge(&[false, false, false]).await;
        assert_eq!(
            verdict,
            Err("health probe answered 503 (3 probes in a row failed)".to_owned())
        );
        assert_eq!(sent.len(), 3, "the SDK's MaxRetries = 2");
        spaced(&sent);
    }

    /// A board whose first round is not known yet (the sender keeps the round open).
    fn board(names: &[&str]) -> (HealthBoard, watch::Sender<bool>) {
        let (done, first_round) = watch::channel(false);
        let board = HealthBoard {
            service: Service::SignalR,
            names: names.iter().map(|n| (*n).to_owned()).collect(),
            online: names.iter().map(|_| AtomicBool::new(true)).collect(),
            started: Instant::now(),
            first_round_known: AtomicBool::new(false),
            first_round,
        };
        (board, done)
    }

    #[test]
    fn the_board_records_each_endpoint_apart() {
        let (board, _done) = board(&["", "b"]);
        assert!(board.is_online(0) && board.is_online(1));
        board.mark_offline(1, "down");
        assert!(board.is_online(0) && !board.is_online(1));
        board.set(1, true, "");
        assert!(board.is_online(1));
        assert_eq!(display_name(""), "(default)");
        assert_eq!(display_name("b"), "b");
    }

    #[tokio::test]
    async fn requests_wait_for_the_first_round_only_until_the_wait_after_start_is_over() {
        let elapsed = |started: Instant| started.elapsed();
        // Past the wait: no wait.
        let (mut board, _done) = board(&["a"]);
        board.started = Instant::now() - FIRST_ROUND_WAIT;
        let waited = Instant::now();
        board.first_round().await;
        assert!(elapsed(waited) < Duration::from_millis(200), "{:?}", elapsed(waited));

        // 300 ms of the wait left, the round still running: those 300 ms.
        let (mut board, _done) = self::board(&["a"]);
        board.started = Instant::now() - FIRST_ROUND_WAIT + Duration::from_millis(300);
        let waited = Instant::now();
        board.first_round().await;
        assert!(elapsed(waited) >= Duration::from_millis(250), "{:?}", elapsed(waited));

        // The round ends: waiting ends with it.
        let (board, done) = self::board(&["a"]);
        let board = Arc::new(board);
        let waiting = tokio::spawn({
            let board = Arc::clone(&board);
            async move {
                let waited = Instant::now();
                board.first_round().await;
                waited.elapsed()
            }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        done.send(true).unwrap();
        let waited = waiting.await.unwrap();
        assert!(waited < Duration::from_millis(1_000), "{waited:?}");

        // Known: no wait, and no look at the channel.
        let (board, _done) = self::board(&["a"]);
        board.first_round_known.store(true, Ordering::Relaxed);
        let waited = Instant::now();
        board.first_round().await;
        assert!(elapsed(waited) < Duration::from_millis(200), "{:?}", elapsed(waited));
    }
}
