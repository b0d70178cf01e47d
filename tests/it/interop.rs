//! Interop with the official SignalR client: `@microsoft/signalr` negotiates with the real
//! binary, follows the redirect to a stand-in service (`tests/interop/service.js`) that checks
//! the token as the service does, and completes the WebSocket handshake. Cases with a wrong
//! key, a wrong audience and a wrong url must fail, so the test can tell.
//!
//! Needs Node.js and npm; the packages of `tests/interop` are installed by `npm ci` on first
//! use (or by `.ci/run`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use crate::common::{self, Function, KEY, free_port, wait_ready};

/// The secret the stand-in's managed-identity endpoint expects (App Service protocol).
const IDENTITY_HEADER: &str = "interop-identity-header";

pub(crate) fn harness() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

/// `true` when Node and the harness packages are there (installing them if needed): the
/// SignalR client's and the Web PubSub harness's.
pub(crate) fn node_ready() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| {
        if Command::new("node").arg("--version").output().is_err() {
            assert!(
                std::env::var_os("CI").is_none(),
                "Node.js is required for the interop test in CI"
            );
            eprintln!("interop test skipped: Node.js is not installed");
            return false;
        }
        let installed = ["@microsoft/signalr", "@azure/web-pubsub-client", "aedes", "socket.io"]
            .iter()
            .all(|package| harness().join("node_modules").join(package).exists());
        if !installed {
            let status = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(harness())
                .status()
                .expect("npm runs");
            assert!(status.success(), "npm ci in tests/interop failed");
        }
        true
    })
}

/// The stand-in service, killed when dropped.
struct Service {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Service {
    fn start(name: &str) -> Self {
        Self::start_with(name, &[])
    }

    /// With more of `service.js`'s settings (`ENTRA_RESOURCE`, `AUDIENCE_BASE`).
    fn start_with(name: &str, env: &[(&str, &str)]) -> Self {
        let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("interop-service-{name}.log"));
        let mut child = Command::new("node")
            .arg("service.js")
            .current_dir(harness())
            .env("ACCESS_KEY", KEY)
            .env("IDENTITY_HEADER", IDENTITY_HEADER)
            .env("PORT", "0")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("node starts the stand-in service");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .and_then(|v| v["port"].as_u64())
            .unwrap_or_else(|| panic!("the service did not print its port: {line:?}")) as u16;
        Self { child, port, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the function with `connection_string`, runs the official client against it and
/// returns whether `connection.start()` and an echo invoke succeeded, with the output.
async fn client_connects(name: &str, connection_string: &str) -> (bool, String) {
    client_connects_with(name, connection_string, &[]).await
}

async fn client_connects_with(name: &str, connection_string: &str, extra: &[(&str, &str)]) -> (bool, String) {
    client_connects_as(name, connection_string, extra, None).await
}

/// As [`client_connects_with`], with `accessTokenFactory` returning `caller_token`.
async fn client_connects_as(
    name: &str,
    connection_string: &str,
    extra: &[(&str, &str)],
    caller_token: Option<&str>,
) -> (bool, String) {
    let mut env = vec![("AzureSignalRConnectionString", connection_string)];
    env.extend_from_slice(extra);
    let client_env: Vec<(&str, &str)> = caller_token.map(|token| ("ACCESS_TOKEN", token)).into_iter().collect();
    client_runs(name, &env, &client_env).await
}

/// Starts the function with `env` (and a listen address), runs the official client against it
/// with `client_env` (see `client.js`), and returns whether it printed `interop ok`, with the
/// output.
async fn client_runs(name: &str, env: &[(&str, &str)], client_env: &[(&str, &str)]) -> (bool, String) {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut env = env.to_vec();
    env.push(("SIGNALR_LISTEN", listen.as_str()));
    let mut function = Function::spawn(&format!("interop-{name}"), &env);
    let base = format!("http://{listen}");
    wait_ready(&reqwest::Client::new(), &base, &mut function).await;
    let mut client = Command::new("node");
    client
        .arg("client.js")
        .current_dir(harness())
        .env("NEGOTIATE_BASE", format!("{base}/api/Chat"))
        .env("TIMEOUT_MS", "15000")
        .envs(client_env.iter().copied());
    let output = client.output().expect("node runs the client");
    let text = format!(
        "{}{}\n--- function log ---\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        function.logs()
    );
    (output.status.success() && text.contains("interop ok"), text)
}

#[tokio::test]
async fn the_official_client_connects_through_our_negotiate() {
    if !node_ready() {
        return;
    }
    let service = Service::start("ok");
    let cs = format!(
        "Endpoint=http://127.0.0.1;Port={};AccessKey={KEY};Version=1.0;",
        service.port
    );
    let (ok, output) = client_connects("ok", &cs).await;
    assert!(
        ok,
        "the client did not connect:\n{output}\n--- service log ---\n{}",
        service.log()
    );
    let log = service.log();
    assert!(log.contains(r#""aud":"http://127.0.0.1/client/?hub=chat""#), "{log}");
}

#[tokio::test]
async fn a_wrong_key_audience_or_url_is_caught() {
    if !node_ready() {
        return;
    }
    let service = Service::start("negative");
    let dead_port = free_port();
    let port = service.port;
    let cases = [
        (
            "wrong-key",
            format!("Endpoint=http://127.0.0.1;Port={port};AccessKey=not-{KEY};Version=1.0;"),
            "invalid signature",
        ),
        (
            "wrong-aud",
            format!(
                "Endpoint=http://localhost.localdomain;Port={port};ClientEndpoint=http://127.0.0.1:{port};\
                AccessKey={KEY};Version=1.0;"
            ),
            "audience",
        ),
        (
            "wrong-url",
            format!(
                "Endpoint=http://127.0.0.1;Port={port};ClientEndpoint=http://127.0.0.1:{dead_port};AccessKey={KEY};\
                Version=1.0;"
            ),
            "negotiation",
        ),
    ];
    for (name, cs, reason) in cases {
        let (ok, output) = client_connects(name, &cs).await;
        assert!(!ok, "{name}: the client connected, but should not have:\n{output}");
        let all = format!("{output}\n{}", service.log());
        assert!(all.contains(reason), "{name}: expected {reason:?} in:\n{all}");
    }
}

#[tokio::test]
async fn the_official_client_connects_in_entra_modes() {
    if !node_ready() {
        return;
    }
    let service = Service::start("entra");
    let cs = format!(
        "Endpoint=http://127.0.0.1;Port={};AuthType=azure.msi;Version=1.0;",
        service.port
    );
    let identity_endpoint = format!("http://127.0.0.1:{}/msi/token", service.port);
    for mode in ["generate-token", "access-key"] {
        let env = [
            ("IDENTITY_ENDPOINT", identity_endpoint.as_str()),
            ("IDENTITY_HEADER", IDENTITY_HEADER),
            ("SIGNALR_ENTRA_MODE", mode),
        ];
        let (ok, output) = client_connects_with(&format!("entra-{mode}"), &cs, &env).await;
        assert!(
            ok,
            "{mode}: the client did not connect:\n{output}\n--- service log ---\n{}",
            service.log()
        );
    }
    let log = service.log();
    assert!(log.contains("generateToken request"), "{log}");
    assert!(log.contains("accessKey request"), "{log}");
    assert!(log.contains(r#""aud":"http://127.0.0.1/client/?hub=chat""#), "{log}");
}

#[tokio::test]
async fn the_official_client_connects_to_instances_in_azure_china_and_azure_government() {
    if !node_ready() {
        return;
    }
    // The instance is https://demo.signalr.azure.cn (the seed's example), then
    // https://demo.signalr.azure.us; this function reaches its REST API, and clients reach it,
    // through ServerEndpoint and ClientEndpoint.
    for (cloud, host, resource) in [
        ("china", "demo.signalr.azure.cn", "https://signalr.azure.cn"),
        ("government", "demo.signalr.azure.us", "https://signalr.azure.us"),
    ] {
        let endpoint = format!("https://{host}");
        let service = Service::start_with(cloud, &[("ENTRA_RESOURCE", resource), ("AUDIENCE_BASE", &endpoint)]);
        let at = format!("http://127.0.0.1:{}", service.port);
        let cs = format!("Endpoint={endpoint};ServerEndpoint={at};ClientEndpoint={at};AuthType=azure.msi;Version=1.0;");
        let identity_endpoint = format!("{at}/msi/token");
        for mode in ["generate-token", "access-key"] {
            let env = [
                ("IDENTITY_ENDPOINT", identity_endpoint.as_str()),
                ("IDENTITY_HEADER", IDENTITY_HEADER),
                ("SIGNALR_ENTRA_MODE", mode),
            ];
            let (ok, output) = client_connects_with(&format!("{cloud}-{mode}"), &cs, &env).await;
            assert!(
                ok,
                "{cloud} {mode}: the client did not connect:\n{output}\n--- service log ---\n{}",
                service.log()
            );
        }
        let log = service.log();
        assert!(
            log.contains("generateToken request") && log.contains("accessKey request"),
            "{log}"
        );
        assert!(
            log.contains(&format!(r#""aud":"{endpoint}/client/?hub=chat""#)),
            "{log}"
        );
    }
}

// The provider is served by this test's runtime while the client runs: it needs a worker thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_client_signs_in_with_an_oidc_token() {
    if !node_ready() {
        return;
    }
    let issuer = common::oidc::TestIssuer::start().await;
    let service = Service::start("oidc");
    let cs = format!(
        "Endpoint=http://127.0.0.1;Port={};AccessKey={KEY};Version=1.0;",
        service.port
    );
    let token = issuer.rs256(common::oidc::RSA_KID, &issuer.claims("interop-user-1"));
    let env = [
        ("SIGNALR_AUTH", "oidc"),
        ("SIGNALR_AUTH_REQUIRED", "true"),
        ("SIGNALR_OIDC_ISSUER", issuer.issuer.as_str()),
        ("SIGNALR_OIDC_AUDIENCE", common::oidc::AUDIENCE),
    ];
    let (ok, output) = client_connects_as("oidc", &cs, &env, Some(&token)).await;
    assert!(
        ok,
        "the client did not connect:\n{output}\n--- service log ---\n{}",
        service.log()
    );
    let log = service.log();
    assert!(log.contains(r#""asrs.s.uid":"interop-user-1""#), "{log}");

    // Without the token the function refuses, and the client does not connect.
    let (ok, output) = client_connects_as("oidc-missing", &cs, &env, None).await;
    assert!(!ok, "{output}");
    assert!(output.contains("401"), "{output}");
}

// The provider is served by this test's runtime while the client runs: it needs a worker thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_client_connects_with_every_option_on() {
    if !node_ready() {
        return;
    }
    let issuer = common::oidc::TestIssuer::start().await;
    // Two instances: the token then carries the endpoint count too.
    let (east, west) = (Service::start("options-east"), Service::start("options-west"));
    let cs = |service: &Service| {
        format!(
            "Endpoint=http://127.0.0.1;Port={};AccessKey={KEY};Version=1.0;",
            service.port
        )
    };
    let (east_cs, west_cs) = (cs(&east), cs(&west));
    // The caller's login ends in 10 s; then it signs in again.
    let token = |sub: &str, lifetime: i64| {
        let mut claims = issuer.claims(sub);
        claims["exp"] = serde_json::json!(common::now() + lifetime);
        claims["roles"] = serde_json::json!(["reader", "signalr-diagnostics"]);
        issuer.rs256(common::oidc::RSA_KID, &claims)
    };
    let (first, fresh) = (token("interop-user-2", 10), token("interop-user-2", 600));
    let env = [
        ("Azure__SignalR__Endpoints__east", east_cs.as_str()),
        ("Azure__SignalR__Endpoints__west", west_cs.as_str()),
        ("SIGNALR_AUTH", "oidc"),
        ("SIGNALR_AUTH_REQUIRED", "true"),
        ("SIGNALR_OIDC_ISSUER", issuer.issuer.as_str()),
        ("SIGNALR_OIDC_AUDIENCE", common::oidc::AUDIENCE),
        ("SIGNALR_COPY_CLAIMS", "roles"),
        ("SIGNALR_CLOSE_ON_AUTH_EXPIRATION", "true"),
        ("SIGNALR_ENABLE_DETAILED_ERRORS", "true"),
        ("SIGNALR_HANDSHAKE_TIMEOUT_SECONDS", "20"),
        ("SIGNALR_MAX_POLL_INTERVAL_SECONDS", "5"),
        ("SIGNALR_TRANSPORTS", "WebSockets,ServerSentEvents"),
        ("SIGNALR_DIAGNOSTIC_CLIENTS", "roles:signalr-diagnostics"),
    ];
    let client_env = [
        ("NEGOTIATE_QUERY", "?diagnostic=true"),
        ("ACCESS_TOKEN", first.as_str()),
        ("FRESH_ACCESS_TOKEN", fresh.as_str()),
        ("EXPECT_DETAILED_ERRORS", "1"),
        ("EXPECT_CLOSE_ON_AUTH_EXPIRATION", "1"),
        ("TIMEOUT_MS", "40000"),
    ];
    let (ok, output) = client_runs("every-option", &env, &client_env).await;
    let log = format!("{}\n{}", east.log(), west.log());
    assert!(ok, "the client did not connect:\n{output}\n--- service logs ---\n{log}");
    assert!(output.contains("detailed error received"), "{output}");
    assert!(output.contains("closed by the service"), "{output}");
    assert!(output.contains("reconnected with a fresh login"), "{output}");
    for claim in [
        r#""asrs.s.dc":"true""#,
        r#""asrs.s.coae":"true""#,
        r#""asrs.s.cht":"20""#,
        r#""asrs.s.secn":"2""#,
        r#""asrs.s.derror":"True""#,
        r#""asrs.s.ttl":"5""#,
        r#""asrs.s.htt":"3""#,
        r#""roles":["reader","signalr-diagnostics"]"#,
    ] {
        assert!(log.contains(claim), "{claim} in no token:\n{log}");
    }
    assert!(log.contains("diagnostic client"), "{log}");
    assert!(log.contains("closed on auth expiration"), "{log}");
}
