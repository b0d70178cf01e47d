//! Several endpoints: distribution over online primaries, secondaries as a fallback, health
//! probes against fake services on loopback, `?endpoint=`, and passive failover through the
//! real binary.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::StatusCode;
use axum::routing::head;
use serde_json::Value;

use crate::common::fake_service::{IDENTITY_HEADER, start_fake, start_stoppable_fake};
use crate::common::{self, Function, KEY, free_port, post_json, wait_ready};

/// What a fake endpoint's `HEAD /api/health` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Health {
    Ok,
    Unavailable,
    Hang,
}

/// A loopback service that only answers the health probe, as told: its state, or 503 for
/// the next probes while `fail_next` lasts.
struct HealthFake {
    port: u16,
    state: Arc<Mutex<Health>>,
    probes: Arc<Probes>,
}

#[derive(Default)]
struct Probes {
    /// Probes still to fail with 503, whatever the state.
    fail_next: AtomicUsize,
    /// Probes answered 503 because of `fail_next`.
    failed: AtomicUsize,
    /// Probes answered.
    answered: AtomicUsize,
}

impl HealthFake {
    async fn start(initial: Health) -> Self {
        let state = Arc::new(Mutex::new(initial));
        let probes = Arc::new(Probes::default());
        let (shared, counted) = (state.clone(), probes.clone());
        let router = Router::new().route(
            "/api/health",
            head(move || {
                let state = *shared.lock().unwrap();
                let counted = counted.clone();
                async move {
                    counted.answered.fetch_add(1, Ordering::SeqCst);
                    let failing = counted
                        .fail_next
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    if failing {
                        counted.failed.fetch_add(1, Ordering::SeqCst);
                        return StatusCode::SERVICE_UNAVAILABLE;
                    }
                    match state {
                        Health::Ok => StatusCode::OK,
                        Health::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                        Health::Hang => {
                            tokio::time::sleep(Duration::from_secs(30)).await;
                            StatusCode::OK
                        }
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Self { port, state, probes }
    }

    fn set(&self, health: Health) {
        *self.state.lock().unwrap() = health;
    }

    /// The next `n` probes fail with 503.
    fn fail_next(&self, n: usize) {
        self.probes.failed.store(0, Ordering::SeqCst);
        self.probes.fail_next.store(n, Ordering::SeqCst);
    }

    fn failed(&self) -> usize {
        self.probes.failed.load(Ordering::SeqCst)
    }

    fn answered(&self) -> usize {
        self.probes.answered.load(Ordering::SeqCst)
    }

    fn connection_string(&self) -> String {
        format!(
            "Endpoint=http://127.0.0.1;Port={};AccessKey={KEY};Version=1.0;",
            self.port
        )
    }
}

/// Between a failed probe and its retry, in these tests (3 s by default, as the SDK).
const RETRY_MS: u64 = 100;
/// An endpoint is offline after this many failed probes in a row (the SDK's rule).
const PROBES_TO_OFFLINE: usize = 3;

fn router(endpoints: &[(&str, &str, &HealthFake)], interval_ms: u64) -> Router {
    let mut vars: Vec<(String, String)> = endpoints
        .iter()
        .map(|(name, kind, fake)| {
            (
                format!("Azure__SignalR__Endpoints__{name}__{kind}"),
                fake.connection_string(),
            )
        })
        .collect();
    vars.push(("SIGNALR_HEALTH_CHECK_INTERVAL_MS".into(), interval_ms.to_string()));
    vars.push(("SIGNALR_HEALTH_RETRY_MS".into(), RETRY_MS.to_string()));
    common::build_router(vars)
}

/// Negotiates; returns the status and the port of the endpoint the client was sent to.
async fn negotiate(router: &Router, query: &str) -> (StatusCode, Option<u16>, Value) {
    let (status, body, _) = common::call(router, "POST", &format!("/api/chat/negotiate{query}"), Body::empty()).await;
    let port = body["url"]
        .as_str()
        .and_then(|url| url.strip_prefix("http://127.0.0.1:"))
        .and_then(|rest| rest.split('/').next())
        .and_then(|port| port.parse().ok());
    (status, port, body)
}

/// Polls until `?endpoint={name}` is (or is not) served by `port`, or the limit passes.
async fn wait_until_served(router: &Router, name: &str, port: u16, served: bool, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let (status, got, _) = negotiate(router, &format!("?endpoint={name}")).await;
        if status == StatusCode::OK && (got == Some(port)) == served {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "{name} served={served} not reached in {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negotiates_spread_evenly_over_online_primaries() {
    let (p1, p2, p3) = (
        HealthFake::start(Health::Ok).await,
        HealthFake::start(Health::Ok).await,
        HealthFake::start(Health::Ok).await,
    );
    let s1 = HealthFake::start(Health::Ok).await;
    let router = router(
        &[
            ("p1", "primary", &p1),
            ("p2", "primary", &p2),
            ("p3", "primary", &p3),
            ("s1", "secondary", &s1),
        ],
        60_000,
    );
    let mut counts: HashMap<u16, usize> = HashMap::new();
    for _ in 0..3000 {
        let (status, port, body) = negotiate(&router, "").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        *counts.entry(port.unwrap()).or_default() += 1;
    }
    for fake in [&p1, &p2, &p3] {
        let n = counts.get(&fake.port).copied().unwrap_or_default();
        assert!((900..=1100).contains(&n), "{n} of 3000 on one primary: {counts:?}");
    }
    assert_eq!(
        counts.get(&s1.port),
        None,
        "a secondary serves only when no primary is online"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secondaries_serve_when_primaries_are_offline_then_none_is_503() {
    let (p1, p2) = (
        HealthFake::start(Health::Unavailable).await,
        HealthFake::start(Health::Unavailable).await,
    );
    let (s1, s2) = (HealthFake::start(Health::Ok).await, HealthFake::start(Health::Ok).await);
    let router = router(
        &[
            ("p1", "primary", &p1),
            ("p2", "primary", &p2),
            ("s1", "secondary", &s1),
            ("s2", "secondary", &s2),
        ],
        200,
    );
    let mut counts: HashMap<u16, usize> = HashMap::new();
    for _ in 0..200 {
        let (status, port, body) = negotiate(&router, "").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        *counts.entry(port.unwrap()).or_default() += 1;
    }
    assert_eq!(
        counts.keys().copied().collect::<std::collections::BTreeSet<_>>().len(),
        2,
        "{counts:?}"
    );
    assert!(counts.contains_key(&s1.port) && counts.contains_key(&s2.port));

    s1.set(Health::Unavailable);
    s2.set(Health::Unavailable);
    let start = Instant::now();
    loop {
        let (status, _, body) = negotiate(&router, "").await;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(body["error"], "no SignalR endpoint is available");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "still served after every endpoint went offline"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_mark_503_and_hangs_offline_and_recovery_returns_within_a_period() {
    let (a, b) = (HealthFake::start(Health::Ok).await, HealthFake::start(Health::Ok).await);
    let period = Duration::from_millis(300);
    let router = router(&[("a", "primary", &a), ("b", "primary", &b)], period.as_millis() as u64);

    // ?endpoint= is honoured while the endpoint is online.
    for _ in 0..20 {
        assert_eq!(negotiate(&router, "?endpoint=a").await.1, Some(a.port));
    }
    // An unknown name falls back to the default choice.
    assert_eq!(negotiate(&router, "?endpoint=nope").await.0, StatusCode::OK);

    let retries = Duration::from_millis(RETRY_MS * (PROBES_TO_OFFLINE as u64 - 1));
    a.set(Health::Unavailable);
    wait_until_served(&router, "a", a.port, false, period * 3 + retries).await;
    a.set(Health::Ok);
    let back = wait_until_served(&router, "a", a.port, true, period * 3).await;
    // Within one probe period (plus scheduling slack on a busy machine).
    assert!(back <= period + Duration::from_millis(500), "recovered after {back:?}");

    a.set(Health::Hang);
    // Each probe gives up after its 2 s timeout; the third one decides.
    wait_until_served(
        &router,
        "a",
        a.port,
        false,
        Duration::from_secs(2) * PROBES_TO_OFFLINE as u32 + retries + period * 3,
    )
    .await;
    // Requests are not blocked by the hanging probe (which takes 2 s to give up).
    let started = Instant::now();
    assert_eq!(negotiate(&router, "").await.0, StatusCode::OK);
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_generate_token_fails_over_and_marks_the_endpoint_offline() {
    let (identity, identity_port) = start_fake().await;
    let (_a, a_port, stop_a) = start_stoppable_fake().await;
    let (b, b_port) = start_fake().await;
    let listen = format!("127.0.0.1:{}", free_port());
    let cs = |port: u16| format!("Endpoint=http://127.0.0.1;Port={port};AuthType=azure.msi;Version=1.0;");
    let (cs_a, cs_b) = (cs(a_port), cs(b_port));
    let identity_endpoint = format!("http://127.0.0.1:{identity_port}/msi/token");
    let mut function = Function::spawn(
        "endpoints-failover",
        &[
            ("SIGNALR_LISTEN", &listen),
            ("Azure__SignalR__Endpoints__a", &cs_a),
            ("Azure__SignalR__Endpoints__b", &cs_b),
            ("IDENTITY_ENDPOINT", &identity_endpoint),
            ("IDENTITY_HEADER", IDENTITY_HEADER),
            ("SIGNALR_HEALTH_CHECK_INTERVAL_MS", "3600000"),
            ("RUST_LOG", "info"),
        ],
    );
    let base = format!("http://{listen}");
    let client = reqwest::Client::new();
    wait_ready(&client, &base, &mut function).await;

    // Both online: `a` is served when asked for.
    let body: Value = post_json(&client, format!("{base}/api/chat/negotiate?endpoint=a")).await;
    assert!(body["url"].as_str().unwrap().contains(&format!(":{a_port}/")), "{body}");

    // `a` stops answering: connections are refused.
    stop_a.stop().await;
    for _ in 0..20 {
        let response = client
            .post(format!("{base}/api/chat/negotiate?endpoint=a"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert!(body["url"].as_str().unwrap().contains(&format!(":{b_port}/")), "{body}");
    }
    assert_eq!(b.count(|c| &c.generate), 20);
    let logs = function.logs_with("SignalR endpoint is offline");
    let offline: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("SignalR endpoint is offline"))
        .collect();
    assert_eq!(offline.len(), 1, "marked offline once:\n{logs}");
    assert!(offline[0].contains(r#"endpoint="a""#), "{}", offline[0]);
    assert!(identity.count(|c| &c.identity) >= 1);
}

/// Asks the binary for `?endpoint=a` until `until` holds or `limit` passes; checks on each
/// answer, with the probes `a` had failed by the time it came, that `a` was served while fewer
/// than [`PROBES_TO_OFFLINE`] probes had failed, and not served only once that many had. Returns the last answer's
/// port.
async fn watch_a(
    client: &reqwest::Client,
    base: &str,
    a: &HealthFake,
    limit: Duration,
    until: impl Fn(usize, u16) -> bool,
) -> u16 {
    let start = Instant::now();
    loop {
        let body: Value = post_json(client, format!("{base}/api/chat/negotiate?endpoint=a")).await;
        let failed_after = a.failed();
        let url = body["url"].as_str().unwrap_or_else(|| panic!("{body}"));
        let port: u16 = url
            .strip_prefix("http://127.0.0.1:")
            .and_then(|rest| rest.split('/').next())
            .and_then(|port| port.parse().ok())
            .unwrap();
        if port != a.port {
            assert!(
                failed_after >= PROBES_TO_OFFLINE,
                "a went offline after {failed_after} failed probes"
            );
        }
        // The fake counts a failure before the binary reads it: fewer than three counted after
        // the answer means the binary cannot have seen a third.
        if failed_after < PROBES_TO_OFFLINE {
            assert_eq!(port, a.port, "a not served after {failed_after} failed probes");
        }
        if until(failed_after, port) {
            return port;
        }
        assert!(
            start.elapsed() < limit,
            "not reached in {limit:?}: {failed_after} failed, served by {port}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The SDK's rule through the binary: a failed probe is retried twice; the endpoint stays
/// online while a retry succeeds, and goes offline only once three probes in a row failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_goes_offline_only_after_three_failed_probes_in_a_row() {
    let (a, b) = (HealthFake::start(Health::Ok).await, HealthFake::start(Health::Ok).await);
    let listen = format!("127.0.0.1:{}", free_port());
    let (cs_a, cs_b) = (a.connection_string(), b.connection_string());
    let mut function = Function::spawn(
        "endpoints-health-retries",
        &[
            ("SIGNALR_LISTEN", &listen),
            ("Azure__SignalR__Endpoints__a", &cs_a),
            ("Azure__SignalR__Endpoints__b", &cs_b),
            ("SIGNALR_HEALTH_CHECK_INTERVAL_MS", "1000"),
            ("SIGNALR_HEALTH_RETRY_MS", "300"),
        ],
    );
    let base = format!("http://{listen}");
    let client = reqwest::Client::new();
    wait_ready(&client, &base, &mut function).await;

    // Two failures, then a good probe: `a` is served throughout, and never logged offline.
    a.fail_next(PROBES_TO_OFFLINE - 1);
    let answered = a.answered();
    watch_a(&client, &base, &a, Duration::from_secs(5), |failed, _| {
        failed == PROBES_TO_OFFLINE - 1 && a.answered() > answered + failed
    })
    .await;
    let logs = function.logs_with("health probe failed; it will be retried");
    assert!(logs.contains("health probe failed; it will be retried"), "{logs}");
    assert!(!logs.contains("SignalR endpoint is offline"), "{logs}");

    // Three failures in a row: offline only then, logged once with the rule.
    a.fail_next(PROBES_TO_OFFLINE);
    let first_failed_probe = Instant::now();
    let port = watch_a(&client, &base, &a, Duration::from_secs(5), |_, port| port != a.port).await;
    assert_eq!(port, b.port);
    // The second and third probes came a retry spacing (300 ms) after the one before.
    assert!(
        first_failed_probe.elapsed() >= Duration::from_millis(600),
        "{:?}",
        first_failed_probe.elapsed()
    );
    let logs = function.logs_with("SignalR endpoint is offline");
    let offline: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains("SignalR endpoint is offline"))
        .collect();
    assert_eq!(offline.len(), 1, "{logs}");
    assert!(offline[0].contains("3 probes in a row failed"), "{}", offline[0]);

    // The next round's good probe brings it back.
    let start = Instant::now();
    loop {
        let body: Value = post_json(&client, format!("{base}/api/chat/negotiate?endpoint=a")).await;
        if body["url"].as_str().unwrap().contains(&format!(":{}/", a.port)) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(3), "a never came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        function
            .logs_with("SignalR endpoint is online")
            .contains("SignalR endpoint is online")
    );
}

/// The lines of `logs` that hold `needle`, with their positions.
fn lines_with<'a>(logs: &'a str, needle: &str) -> Vec<(usize, &'a str)> {
    logs.lines()
        .enumerate()
        .filter(|(_, line)| line.contains(needle))
        .collect()
}

/// An endpoint already offline is still probed as the SDK probes (three probes a round), but
/// its failed probes are not logged at info again: the offline line said it once, and nothing
/// more is said until the endpoint is back online. A failure after that is logged at info.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_already_offline_does_not_repeat_its_failed_probes_at_info() {
    const RETRIED: &str = "health probe failed; it will be retried";
    const OFFLINE: &str = "SignalR endpoint is offline";
    let (a, b) = (
        HealthFake::start(Health::Unavailable).await,
        HealthFake::start(Health::Ok).await,
    );
    let listen = format!("127.0.0.1:{}", free_port());
    let (cs_a, cs_b) = (a.connection_string(), b.connection_string());
    let mut function = Function::spawn(
        "endpoints-offline-quiet",
        &[
            ("SIGNALR_LISTEN", &listen),
            ("Azure__SignalR__Endpoints__a", &cs_a),
            ("Azure__SignalR__Endpoints__b", &cs_b),
            ("SIGNALR_HEALTH_CHECK_INTERVAL_MS", "400"),
            ("SIGNALR_HEALTH_RETRY_MS", "100"),
            ("RUST_LOG", "info"),
        ],
    );
    let client = reqwest::Client::new();
    wait_ready(&client, &format!("http://{listen}"), &mut function).await;
    let wait_for = |what: &str, done: &dyn Fn() -> bool| {
        let start = Instant::now();
        while !done() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{what}:\n{}",
                function.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // Lines are written in batches, every 50 ms.
        std::thread::sleep(Duration::from_millis(150));
    };

    // The first round: two retries at info, then offline. Two more rounds, offline all along.
    wait_for("offline", &|| function.logs().contains(OFFLINE));
    let probed = a.answered();
    wait_for("two more rounds", &|| a.answered() >= probed + 2 * PROBES_TO_OFFLINE);
    let logs = function.logs();
    let offline = lines_with(&logs, OFFLINE);
    assert_eq!(offline.len(), 1, "{logs}");
    let retried = lines_with(&logs, RETRIED);
    assert_eq!(
        retried.len(),
        PROBES_TO_OFFLINE - 1,
        "only the first round's retries:\n{logs}"
    );
    assert!(retried.iter().all(|(at, _)| *at < offline[0].0), "{logs}");

    // Back online, then failing again: that failure's retries are logged at info.
    a.set(Health::Ok);
    wait_for("online", &|| function.logs().contains("SignalR endpoint is online"));
    a.set(Health::Unavailable);
    wait_for("offline again", &|| lines_with(&function.logs(), OFFLINE).len() == 2);
    let logs = function.logs();
    let online = lines_with(&logs, "SignalR endpoint is online");
    let retried = lines_with(&logs, RETRIED);
    assert_eq!(retried.len(), 2 * (PROBES_TO_OFFLINE - 1), "{logs}");
    assert!(
        retried.iter().filter(|(at, _)| *at > online[0].0).count() == PROBES_TO_OFFLINE - 1,
        "{logs}"
    );
}
