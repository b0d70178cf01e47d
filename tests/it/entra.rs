//! Microsoft Entra ID through the real binary: a managed identity over the App Service
//! protocol (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`), and the service's REST API
//! (`generateToken`, `auth/accessKey`), both faked on loopback with their real wire contracts.

use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::common::fake_service::{ENTRA_TOKEN, Fault, IDENTITY_HEADER, KEY_ID, TEMPORARY_KEY, start_fake};
use crate::common::{Function, free_port, verify_token, wait_ready};

struct Running {
    function: Function,
    base: String,
    client: reqwest::Client,
}

async fn start_function(name: &str, service_port: u16, identity_port: u16, extra: &[(&str, &str)]) -> Running {
    let listen = format!("127.0.0.1:{}", free_port());
    let cs = format!("Endpoint=http://127.0.0.1;Port={service_port};AuthType=azure.msi;Version=1.0;");
    let identity_endpoint = format!("http://127.0.0.1:{identity_port}/msi/token");
    let mut env = vec![
        ("SIGNALR_LISTEN", listen.as_str()),
        ("AzureSignalRConnectionString", cs.as_str()),
        ("IDENTITY_ENDPOINT", identity_endpoint.as_str()),
        ("IDENTITY_HEADER", IDENTITY_HEADER),
        ("RUST_LOG", "debug"),
    ];
    env.extend_from_slice(extra);
    let mut function = Function::spawn(name, &env);
    let base = format!("http://{listen}");
    let client = reqwest::Client::new();
    wait_ready(&client, &base, &mut function).await;
    Running { function, base, client }
}

impl Running {
    async fn negotiate(&self, hub: &str) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}/api/{hub}/negotiate", self.base))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    fn assert_no_secret_logged(&self) {
        let logs = self.function.logs();
        for secret in [IDENTITY_HEADER, ENTRA_TOKEN, TEMPORARY_KEY, "service-made-token"] {
            assert!(!logs.contains(secret), "{secret} was logged:\n{logs}");
        }
    }
}

#[tokio::test]
async fn generate_token_mode_returns_the_service_token_with_one_identity_request() {
    let (fake, port) = start_fake().await;
    let running = start_function(
        "entra-generate",
        port,
        port,
        &[("SIGNALR_TOKEN_LIFETIME_SECONDS", "90")],
    )
    .await;
    for n in 0..100 {
        let (status, body) = running.negotiate("Chat").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["accessToken"], format!("service-made-token.chat.{n}"));
        let url = body["url"].as_str().unwrap();
        assert!(
            url.starts_with(&format!("http://127.0.0.1:{port}/client/?hub=chat&asrs_request_id=")),
            "{url}"
        );
    }
    assert_eq!(fake.count(|c| &c.identity), 1, "one Entra token for 100 negotiates");
    assert_eq!(fake.count(|c| &c.generate), 100);
    // The identity endpoint and the REST API share host and port here, so the process's one
    // HTTP client serves all 101 calls on one kept-alive connection.
    assert_eq!(fake.count(|c| &c.connections), 1, "connections are reused");
    let query = fake.queries.lock().unwrap()[0].clone();
    // 90 s, in whole minutes rounded down: never longer than the configured lifetime.
    assert_eq!(query, "api-version=2022-11-01&minutesToExpire=1");
    running.assert_no_secret_logged();
}

#[tokio::test]
async fn access_key_mode_signs_with_the_temporary_key_fetched_once() {
    let (fake, port) = start_fake().await;
    let running = start_function("entra-access-key", port, port, &[("SIGNALR_ENTRA_MODE", "access-key")]).await;
    for _ in 0..100 {
        let (status, body) = running.negotiate("chat").await;
        assert_eq!(status, 200, "{body}");
        let token = body["accessToken"].as_str().unwrap();
        let claims = verify_token(token, TEMPORARY_KEY);
        assert_eq!(claims["aud"], "http://127.0.0.1/client/?hub=chat");
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap();
        let header: Value = serde_json::from_slice(&header).unwrap();
        assert_eq!(header, json!({"alg": "HS256", "kid": KEY_ID, "typ": "JWT"}));
    }
    assert_eq!(fake.count(|c| &c.keys), 1, "one key fetch for 100 negotiates");
    assert_eq!(fake.count(|c| &c.identity), 1);
    running.assert_no_secret_logged();
}

#[tokio::test]
async fn rest_faults_map_to_statuses_and_the_next_request_recovers() {
    let (fake, port) = start_fake().await;
    let running = start_function(
        "entra-faults",
        port,
        port,
        &[
            ("SIGNALR_UPSTREAM_TIMEOUT_MS", "300"),
            ("SIGNALR_UPSTREAM_DEADLINE_MS", "1000"),
        ],
    )
    .await;
    let cases: &[(&str, &[Fault], u16, &str)] = &[
        ("401", &[Fault::Status(401)], 502, "SignalR REST API Owner"),
        ("403", &[Fault::Status(403)], 502, "SignalR REST API Owner"),
        ("404", &[Fault::Status(404)], 502, "404"),
        ("429 then 200", &[Fault::Throttle("0")], 200, ""),
        (
            "429 twice",
            &[Fault::Throttle("0"), Fault::Throttle("0")],
            503,
            "throttling",
        ),
        ("429 past the deadline", &[Fault::Throttle("5")], 503, "throttling"),
        ("503 then 200", &[Fault::Status(503)], 200, ""),
        ("500 is not retried", &[Fault::Status(500)], 502, "answered 500"),
        (
            "a hang past the deadline",
            &[Fault::Hang, Fault::Hang],
            504,
            "did not answer in time",
        ),
        ("not JSON", &[Fault::NotJson], 502, "unexpected body"),
    ];
    for (name, faults, status, text) in cases {
        fake.fault(faults);
        let started = Instant::now();
        let (got, body) = running.negotiate("chat").await;
        assert_eq!(got, *status, "{name}: {body}");
        if *status != 200 {
            let error = body["error"].as_str().unwrap_or_else(|| panic!("{name}: {body}"));
            assert!(error.contains(text), "{name}: {error}");
            assert!(body.get("accessToken").is_none());
        }
        assert!(
            started.elapsed() < Duration::from_millis(1800),
            "{name} took {:?}",
            started.elapsed()
        );
        fake.faults.lock().unwrap().clear();
        let (after, body) = running.negotiate("chat").await;
        assert_eq!(after, 200, "{name}: the next request should succeed: {body}");
    }
    running.assert_no_secret_logged();
}

#[tokio::test]
async fn identity_endpoint_down_is_a_502_naming_the_credential() {
    let (_fake, port) = start_fake().await;
    let closed = free_port();
    let running = start_function(
        "entra-identity-down",
        port,
        closed,
        &[("SIGNALR_UPSTREAM_DEADLINE_MS", "3000")],
    )
    .await;
    let (status, body) = running.negotiate("chat").await;
    assert_eq!(status, 502, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("ManagedIdentityCredential"), "{error}");
    assert!(
        !error.contains("127.0.0.1"),
        "internal addresses stay in the log: {error}"
    );
    assert!(
        running
            .function
            .logs_with("Microsoft Entra token request failed")
            .contains("Microsoft Entra token request failed")
    );
}

#[tokio::test]
async fn service_refusing_connections_is_a_502() {
    let (fake, port) = start_fake().await;
    let closed = free_port();
    let running = start_function("entra-refused", closed, port, &[]).await;
    let (status, body) = running.negotiate("chat").await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"], "could not reach the service");
    assert_eq!(fake.count(|c| &c.identity), 1);
}

#[tokio::test]
async fn generate_token_mode_passes_the_user_id() {
    let (fake, port) = start_fake().await;
    let running = start_function("entra-user", port, port, &[("SIGNALR_DEV_QUERY_USER", "true")]).await;
    let response = running
        .client
        .post(format!("{}/api/chat/negotiate?userId=ada%20lovelace", running.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let query = fake.queries.lock().unwrap()[0].clone();
    assert_eq!(query, "api-version=2022-11-01&minutesToExpire=60&userId=ada+lovelace");
}
