//! A cold start against an upstream that hangs (an OIDC provider's discovery or keys, the
//! managed-identity endpoint, the temporary-key call): negotiates arriving one after another
//! share one fetch, and each is answered within `SIGNALR_UPSTREAM_DEADLINE_MS` of its own
//! arrival, whatever it waited for (the caller's identity and the Entra token included).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use serde_json::Value;

use crate::common::fake_service::{Fault, IDENTITY_HEADER, start_fake};
use crate::common::oidc::{AUDIENCE, RSA_KID, TestIssuer};
use crate::common::{self, Function, free_port, router, wait_ready};

/// The deadline the function runs with here.
const DEADLINE: Duration = Duration::from_millis(1000);
/// What a busy machine may add to it.
const SLACK: Duration = Duration::from_millis(400);
/// Negotiates per case, and the time between their arrivals: all arrive within the deadline
/// of the first.
const CALLERS: u32 = 6;
const APART: Duration = Duration::from_millis(150);

/// One answer: its status, its error, and how long after its request it came.
type Timed = (u16, String, Duration);

/// Sends `CALLERS` negotiates `APART` apart, each with `send`; their answers, in order.
async fn staggered<F, Fut>(send: F) -> Vec<Timed>
where
    F: Fn() -> Fut,
    Fut: Future<Output = (u16, Value)> + Send + 'static,
{
    let started = Instant::now();
    let mut callers = Vec::new();
    for n in 0..CALLERS {
        tokio::time::sleep_until((started + APART * n).into()).await;
        let answer = send();
        callers.push(tokio::spawn(async move {
            let sent = Instant::now();
            let (status, body) = answer.await;
            let error = body["error"].as_str().unwrap_or_default().to_owned();
            (status, error, sent.elapsed())
        }));
    }
    let mut answers = Vec::new();
    for caller in callers {
        answers.push(caller.await.unwrap());
    }
    answers
}

/// Every answer has `status` and `error`, within the deadline of its own request.
fn each_within_deadline(case: &str, answers: &[Timed], status: u16, error: &str) {
    for (n, (got, message, took)) in answers.iter().enumerate() {
        assert_eq!(*got, status, "{case}, negotiate {n}: {message}");
        assert!(message.contains(error), "{case}, negotiate {n}: {message}");
        assert!(
            *took < DEADLINE + SLACK,
            "{case}: negotiate {n} was answered {took:?} after it arrived: {answers:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oidc_provider_that_hangs_is_asked_once_and_bounds_no_one_past_the_deadline() {
    for discovery_hangs in [true, false] {
        let issuer = TestIssuer::start().await;
        issuer.set(|c| {
            if discovery_hangs {
                c.discovery_delay = Duration::from_secs(30);
            } else {
                c.keys_delay = Duration::from_secs(30);
            }
        });
        let deadline = DEADLINE.as_millis().to_string();
        let router = router(&[
            ("SIGNALR_AUTH", "oidc"),
            ("SIGNALR_OIDC_ISSUER", &issuer.issuer),
            ("SIGNALR_OIDC_AUDIENCE", AUDIENCE),
            ("SIGNALR_UPSTREAM_DEADLINE_MS", &deadline),
        ]);
        let bearer = format!("Bearer {}", issuer.rs256(RSA_KID, &issuer.claims("u")));
        let answers = staggered(|| {
            let request = Request::post("/api/chat/negotiate")
                .header("authorization", &bearer)
                .body(Body::empty())
                .unwrap();
            let router = router.clone();
            async move {
                let answer = common::send(&router, request).await;
                (answer.status.as_u16(), answer.json())
            }
        })
        .await;
        let case = if discovery_hangs {
            "discovery hangs"
        } else {
            "the keys hang"
        };
        each_within_deadline(case, &answers, 401, "signing keys could not be fetched");
        let asked = if discovery_hangs {
            issuer.discovery_fetches.load(Ordering::SeqCst)
        } else {
            issuer.fetches()
        };
        assert_eq!(asked, 1, "{case}: the provider was asked {asked} times");
    }
}

/// The binary with a managed identity at the fake and the deadline, and `extra` settings.
async fn start_function(name: &str, fake_port: u16, extra: &[(&str, &str)]) -> (Function, String) {
    let listen = format!("127.0.0.1:{}", free_port());
    let cs = format!("Endpoint=http://127.0.0.1;Port={fake_port};AuthType=azure.msi;Version=1.0;");
    let identity = format!("http://127.0.0.1:{fake_port}/msi/token");
    let deadline = DEADLINE.as_millis().to_string();
    let mut env = vec![
        ("SIGNALR_LISTEN", listen.as_str()),
        ("AzureSignalRConnectionString", &cs),
        ("IDENTITY_ENDPOINT", &identity),
        ("IDENTITY_HEADER", IDENTITY_HEADER),
        // One attempt fills the deadline: each fetch is one request.
        ("SIGNALR_UPSTREAM_TIMEOUT_MS", &deadline),
        ("SIGNALR_UPSTREAM_DEADLINE_MS", &deadline),
    ];
    env.extend_from_slice(extra);
    let mut function = Function::spawn(name, &env);
    let base = format!("http://{listen}");
    wait_ready(&reqwest::Client::new(), &base, &mut function).await;
    (function, format!("{base}/api/chat/negotiate"))
}

/// A negotiate by POST, with an optional bearer token.
fn post(
    client: &reqwest::Client,
    url: &str,
    bearer: Option<&str>,
) -> impl Future<Output = (u16, Value)> + Send + 'static {
    let mut request = client.post(url);
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    async move {
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_managed_identity_that_hangs_is_asked_once() {
    let (fake, port) = start_fake().await;
    fake.identity_faults
        .lock()
        .unwrap()
        .extend(std::iter::repeat_n(Fault::Hang, 20));
    let (_function, url) = start_function("cold-identity-hangs", port, &[]).await;
    let client = reqwest::Client::new();
    let answers = staggered(|| post(&client, &url, None)).await;
    each_within_deadline(
        "the identity endpoint hangs",
        &answers,
        504,
        "did not get a Microsoft Entra token in time",
    );
    let asked = fake.count(|c| &c.identity);
    assert_eq!(asked, 1, "the identity endpoint was asked {asked} times");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_temporary_key_call_that_hangs_is_made_once() {
    let (fake, port) = start_fake().await;
    fake.faults.lock().unwrap().extend(std::iter::repeat_n(Fault::Hang, 20));
    let (_function, url) = start_function("cold-access-key-hangs", port, &[("SIGNALR_ENTRA_MODE", "access-key")]).await;
    let client = reqwest::Client::new();
    let answers = staggered(|| post(&client, &url, None)).await;
    each_within_deadline("the temporary-key call hangs", &answers, 504, "in time");
    let asked = fake.count(|c| &c.keys);
    assert_eq!(asked, 1, "the temporary-key call was made {asked} times");
    assert_eq!(fake.count(|c| &c.identity), 1);
}

/// The deadline counts from the request: time spent on the caller's identity (a slow OIDC
/// provider) is not given again to the Entra token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_deadline_covers_the_callers_identity_and_the_entra_token() {
    let issuer = TestIssuer::start().await;
    issuer.set(|c| c.keys_delay = Duration::from_millis(800));
    let (fake, port) = start_fake().await;
    fake.identity_faults
        .lock()
        .unwrap()
        .extend(std::iter::repeat_n(Fault::Hang, 5));
    let oidc = [
        ("SIGNALR_AUTH", "oidc"),
        ("SIGNALR_OIDC_ISSUER", issuer.issuer.as_str()),
        ("SIGNALR_OIDC_AUDIENCE", AUDIENCE),
    ];
    let (_function, url) = start_function("cold-oidc-then-identity", port, &oidc).await;
    let bearer = issuer.rs256(RSA_KID, &issuer.claims("u"));
    let started = Instant::now();
    let (status, body) = post(&reqwest::Client::new(), &url, Some(&bearer)).await;
    let took = started.elapsed();
    assert_eq!(status, 504, "{body}");
    assert!(took < DEADLINE + SLACK, "answered after {took:?}: {body}");
    assert_eq!(issuer.fetches(), 1, "the keys came");
}
