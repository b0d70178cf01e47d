//! Broken upstreams through the real binary: the managed-identity endpoint and the SignalR REST
//! API refuse, hang, answer slowly, reset mid-body, or answer 5xx, 429 or garbage. The function
//! answers within its deadline with the mapped status every time and recovers on the next
//! request once the fault clears. Also: SIGTERM lets a request in flight finish.

use std::time::{Duration, Instant};

use std::sync::atomic::Ordering;

use serde_json::{Value, json};

use crate::common::fake_service::{ENTRA_TOKEN, Fake, Fault, IDENTITY_HEADER, start_fake};
use crate::common::{Function, free_port, now, start_elsewhere, wait_ready};

/// The deadline the function runs with in these tests.
const DEADLINE: Duration = Duration::from_millis(1000);

struct Running {
    function: Function,
    base: String,
    client: reqwest::Client,
}

async fn start(name: &str, fake_port: u16) -> Running {
    let listen = format!("127.0.0.1:{}", free_port());
    let cs = format!("Endpoint=http://127.0.0.1;Port={fake_port};AuthType=azure.msi;Version=1.0;");
    let identity = format!("http://127.0.0.1:{fake_port}/msi/token");
    let deadline = DEADLINE.as_millis().to_string();
    let mut function = Function::spawn(
        name,
        &[
            ("SIGNALR_LISTEN", &listen),
            ("AzureSignalRConnectionString", &cs),
            ("IDENTITY_ENDPOINT", &identity),
            ("IDENTITY_HEADER", IDENTITY_HEADER),
            ("SIGNALR_UPSTREAM_TIMEOUT_MS", "400"),
            ("SIGNALR_UPSTREAM_DEADLINE_MS", &deadline),
        ],
    );
    let base = format!("http://{listen}");
    let client = reqwest::Client::new();
    wait_ready(&client, &base, &mut function).await;
    Running { function, base, client }
}

impl Running {
    /// Negotiates; returns the status, the body, and how long it took.
    async fn negotiate(&self) -> (u16, Value, Duration) {
        let started = Instant::now();
        let response = self
            .client
            .post(format!("{}/api/chat/negotiate", self.base))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap(), started.elapsed())
    }

    /// Asserts the mapped status and error, within the deadline (plus slack for a busy machine).
    async fn expect(&self, name: &str, status: u16, text: &str) {
        let (got, body, took) = self.negotiate().await;
        assert_eq!(got, status, "{name}: {body}");
        if status != 200 {
            let error = body["error"].as_str().unwrap_or_else(|| panic!("{name}: {body}"));
            assert!(error.contains(text), "{name}: {error}");
        }
        assert!(took < DEADLINE + Duration::from_millis(700), "{name} took {took:?}");
    }
}

fn script(queue: &std::sync::Mutex<std::collections::VecDeque<Fault>>, faults: &[Fault]) {
    let mut queue = queue.lock().unwrap();
    queue.clear();
    queue.extend(faults.iter().cloned());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_api_slow_answers_and_resets() {
    let (fake, port) = start_fake().await;
    let running = start("faults-rest", port).await;
    let cases: &[(&str, &[Fault], u16, &str)] = &[
        (
            "slow, within the deadline",
            &[Fault::Slow(Duration::from_millis(150))],
            200,
            "",
        ),
        (
            "slow past the attempt timeout, then fine",
            &[Fault::Slow(Duration::from_millis(600))],
            200,
            "",
        ),
        (
            "slow past the deadline",
            &[Fault::Slow(Duration::from_secs(5)), Fault::Slow(Duration::from_secs(5))],
            504,
            "did not answer in time",
        ),
        ("reset mid-body, then fine", &[Fault::Reset], 200, ""),
        ("reset twice", &[Fault::Reset, Fault::Reset], 502, "could not reach"),
        (
            "502 twice",
            &[Fault::Status(502), Fault::Status(502)],
            502,
            "answered 502",
        ),
        (
            "429 twice",
            &[Fault::Throttle("0"), Fault::Throttle("0")],
            503,
            "throttling",
        ),
        ("garbage", &[Fault::NotJson], 502, "unexpected body"),
        // The token goes into the answer unescaped: one that is not a compact JWT is refused.
        (
            "a token that would break the answer's JSON",
            &[Fault::Body(
                200,
                r#"{"token":"a.b\",\"url\":\"https://evil.example.c"}"#.into(),
            )],
            502,
            "unexpected body",
        ),
        (
            "a token that is no JWT",
            &[Fault::Body(200, r#"{"token":"not a token"}"#.into())],
            502,
            "unexpected body",
        ),
    ];
    for (name, faults, status, text) in cases {
        script(&fake.faults, faults);
        running.expect(name, *status, text).await;
        fake.faults.lock().unwrap().clear();
        running.expect(&format!("{name}, then clear"), 200, "").await;
    }
}

/// A redirect from the REST API to another origin is not followed (that origin would hand out
/// its own token): it is an upstream error, 502, and the other origin is never asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_from_the_rest_api_is_a_502_and_is_not_followed() {
    let (elsewhere, hits) = start_elsewhere(json!({"token": "token-from-elsewhere"})).await;
    let (fake, port) = start_fake().await;
    let running = start("faults-rest-redirect", port).await;
    let target = format!("http://127.0.0.1:{elsewhere}/api/hubs/chat/:generateToken?api-version=2022-11-01");
    for status in [301, 302, 303, 307, 308] {
        script(&fake.faults, &[Fault::Redirect(status, target.clone())]);
        running
            .expect(
                &format!("{status}"),
                502,
                "redirect, which this function does not follow",
            )
            .await;
    }
    running.expect("no redirect", 200, "").await;
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the other origin was asked");
}

/// Nor is a redirect from the managed-identity endpoint: the credential fails (502).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_from_the_identity_endpoint_is_not_followed() {
    let token = json!({
        "access_token": ENTRA_TOKEN,
        "expires_on": (now() + 3600).to_string(),
        "token_type": "Bearer",
        "resource": "https://signalr.azure.com"
    });
    let (elsewhere, hits) = start_elsewhere(token).await;
    let target = format!("http://127.0.0.1:{elsewhere}/msi/token");
    identity_fault(
        "identity redirect",
        &[Fault::Redirect(307, target.clone()), Fault::Redirect(307, target)],
        502,
        "ManagedIdentityCredential could not get",
    )
    .await;
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the other origin was asked");
}

/// An identity endpoint's error body is not logged whole: the log line has the status and a
/// short excerpt, one line of printable text (the body could be huge, forge log lines or carry
/// terminal escapes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identity_error_body_is_logged_as_its_status_and_a_short_excerpt() {
    let body = format!(
        "{{\"error\":\"invalid_request\",\"error_description\":\"no identity\"}}\r\nFORGED-LINE level=ERROR all is \
        lost\n\x1b[31mred{}PAST-THE-EXCERPT",
        " padding".repeat(8 * 1024)
    );
    let (fake, port) = start_fake().await;
    script(
        &fake.identity_faults,
        &[Fault::Body(500, body.clone()), Fault::Body(500, body)],
    );
    let running = start("faults-identity-body", port).await;
    running
        .expect("identity 500 with a big body", 502, "ManagedIdentityCredential")
        .await;
    let logs = running.function.logs_with("Microsoft Entra token request failed");
    let line = logs
        .lines()
        .find(|line| line.contains("Microsoft Entra token request failed"))
        .unwrap_or_else(|| panic!("no warning logged:\n{logs}"));
    assert!(line.contains("500"), "{line}");
    assert!(line.contains("invalid_request"), "the excerpt starts the body: {line}");
    assert!(line.len() < 1000, "{} characters: {line}", line.len());
    assert!(!logs.contains("PAST-THE-EXCERPT"), "the whole body was logged");
    assert!(!logs.contains('\u{1b}'), "a terminal escape was logged");
    assert!(
        !logs.lines().any(|line| line.starts_with("FORGED-LINE")),
        "the body forged a log line:\n{logs}"
    );
}

/// Each identity fault needs a fresh function: a credential keeps its token once it has one.
async fn identity_fault(name: &str, faults: &[Fault], status: u16, text: &str) -> Fake {
    let (fake, port) = start_fake().await;
    script(&fake.identity_faults, faults);
    let running = start(name, port).await;
    running.expect(name, status, text).await;
    fake.identity_faults.lock().unwrap().clear();
    running.expect(&format!("{name}, then clear"), 200, "").await;
    fake
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_endpoint_faults() {
    // The credential retries once itself, so a fault on both attempts reaches the caller.
    identity_fault(
        "identity 500",
        &[Fault::Status(500), Fault::Status(500)],
        502,
        "ManagedIdentityCredential could not get",
    )
    .await;
    identity_fault(
        "identity garbage",
        &[Fault::NotJson, Fault::NotJson],
        502,
        "ManagedIdentityCredential could not get",
    )
    .await;
    identity_fault(
        "identity hangs",
        &[Fault::Hang, Fault::Hang],
        504,
        "did not get a Microsoft Entra token in time",
    )
    .await;
    let fake = identity_fault("identity 500 once", &[Fault::Status(500)], 200, "").await;
    assert_eq!(fake.count(|c| &c.identity), 2, "the credential's own retry");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_request_in_flight_and_exits_0() {
    let (fake, port) = start_fake().await;
    let mut running = start("faults-shutdown", port).await;
    running.expect("warm-up", 200, "").await;
    script(&fake.faults, &[Fault::Slow(Duration::from_millis(700))]);
    let asked = fake.count(|c| &c.generate);
    let client = running.client.clone();
    let url = format!("{}/api/chat/negotiate", running.base);
    let in_flight = tokio::spawn(async move { client.post(url).send().await.map(|r| r.status().as_u16()) });
    // SIGTERM once the request is in flight, that is once the function has asked the service
    // for its token (a fixed pause could end before the request arrives on a busy machine).
    let started = Instant::now();
    while fake.count(|c| &c.generate) == asked {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the request never reached the service"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    running.function.terminate();
    assert_eq!(
        in_flight.await.unwrap().unwrap(),
        200,
        "the request in flight is answered"
    );
    let status = running
        .function
        .wait_exit(Duration::from_secs(5))
        .expect("exits after SIGTERM");
    assert!(status.success(), "{status}");
    assert!(running.function.logs().contains("shutting down"));
}
