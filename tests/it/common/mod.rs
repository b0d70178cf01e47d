//! Helpers shared by the integration tests: build the real router and send it requests
//! in-process, run the real binary, wait for it, verify tokens with a JWT implementation that is
//! not ours.

pub mod fake_entra;
pub mod fake_service;
pub mod oidc;

use std::collections::BTreeMap;
use std::fs::File;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::http::{HeaderMap, Request, StatusCode};
use hmac::{Hmac, Mac};
use http_body_util::BodyExt as _;
use jwt::VerifyWithKey;
use serde_json::Value;
use sha2::Sha256;
use signalr_negotiate::{App, Settings};
use tower::ServiceExt as _;

pub const BINARY: &str = env!("CARGO_BIN_EXE_signalr-negotiate");
pub const KEY: &str = "Tst0KeyFor+Integration/Tests0123456789abcdef=";

/// Every secret the tests give the function: none may ever appear in what it logs.
pub const SECRETS: &[&str] = &[
    KEY,
    fake_service::IDENTITY_HEADER,
    fake_service::ENTRA_TOKEN,
    fake_service::TEMPORARY_KEY,
    fake_entra::CLIENT_SECRET,
    fake_entra::ASSERTION_HEADER_START,
    // Key material of a PEM file (the words alone may appear in a message).
    "PRIVATE KEY-----\nMII",
    "service-made-token",
    "SecretsManagerKey0123456789abcdefghijklmnopq",
    "ParameterStoreKey0123456789abcdefghijklmnop",
    "moto-test-secret-access-key-6b1f",
    "RotatedKeyOld0123456789abcdefghijklmnopqrstu",
    "RotatedKeyNew0123456789abcdefghijklmnopqrstu",
    "RotatedKeyThird0123456789abcdefghijklmnopqrs",
    "RotatedKeyMoved0123456789abcdefghijklmnopqrs",
    "interop-identity-header",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH",
];

pub fn connection_string(endpoint: &str) -> String {
    format!("Endpoint={endpoint};AccessKey={KEY};Version=1.0;")
}

/// The real router, built in-process from exactly these settings.
pub fn build_router<K: Into<String>, V: Into<String>>(vars: impl IntoIterator<Item = (K, V)>) -> Router {
    let settings = Settings::from_vars(vars.into_iter().map(|(k, v)| (k.into(), v.into()))).unwrap();
    signalr_negotiate::router(Arc::new(App::new(&settings).unwrap()))
}

/// The real router for a connection string to `https://demo.service.signalr.net` (with [`KEY`])
/// and the given settings.
pub fn router(vars: &[(&str, &str)]) -> Router {
    let cs = connection_string("https://demo.service.signalr.net");
    build_router(std::iter::once(("AzureSignalRConnectionString", cs.as_str())).chain(vars.iter().copied()))
}

/// An answer of the router, read whole.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The request's method and URI, for messages.
    request: String,
}

impl Answer {
    /// The body as JSON; panics, naming the request, when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("{}: body is not JSON: {:?}", self.request, self.body))
    }
}

/// Sends one request through the router in-process, as a host would, and reads the answer.
pub async fn send<B>(router: &Router, request: Request<B>) -> Answer
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    let described = format!("{} {}", request.method(), request.uri());
    let response = router.clone().oneshot(request.map(Body::new)).await.unwrap();
    let (parts, body) = response.into_parts();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
        request: described,
    }
}

/// Sends a request without headers; returns the status, the body as JSON and the headers.
pub async fn call(router: &Router, method: &str, uri: &str, body: Body) -> (StatusCode, Value, HeaderMap) {
    let request = Request::builder().method(method).uri(uri).body(body).unwrap();
    let answer = send(router, request).await;
    (answer.status, answer.json(), answer.headers)
}

/// A server on loopback that answers every request with `body` (200, JSON) and counts them:
/// the other origin a redirect points to. Returns its port and the count.
pub async fn start_elsewhere(body: Value) -> (u16, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&hits);
    let router = Router::new().fallback(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        let body = body.clone();
        async move { axum::Json(body) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (port, hits)
}

/// Runs the binary to completion with only the given environment (at `RUST_LOG=debug` unless
/// it says otherwise); returns its exit code and everything it printed (standard output, then
/// standard error). Fails the test if any test secret was printed.
pub fn run_binary(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let output = Command::new(BINARY)
        .args(args)
        .env_clear()
        .env("RUST_LOG", "debug")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    for secret in SECRETS {
        assert!(!text.contains(secret), "a secret was printed by {args:?}:\n{text}");
    }
    (output.status.code().unwrap_or(-1), text)
}

/// POSTs to `url` and reads the answer as JSON, whatever its status.
pub async fn post_json(client: &reqwest::Client, url: String) -> Value {
    client.post(url).send().await.unwrap().json().await.unwrap()
}

/// Log output as JSON lines; panics on a line that is not JSON.
pub fn json_lines(logs: &str) -> Vec<Value> {
    logs.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON line: {line}")))
        .collect()
}

/// A loopback port that was free a moment ago, for a binary to listen on. Taken from below the
/// kernel's ephemeral range, where no stand-in bound to port 0 can take it before the binary
/// binds it; each test process walks its own stretch of the range, skipping ports held.
pub fn free_port() -> u16 {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<usize>().ok())
        .unwrap_or(32768);
    let low = ephemeral_low.saturating_sub(12_000).max(1024);
    let span = ephemeral_low.saturating_sub(low).max(1);
    let start = std::process::id() as usize * 97 % span;
    loop {
        let port = low + (start + NEXT.fetch_add(1, Ordering::Relaxed)) % span;
        if let Ok(port) = u16::try_from(port) {
            if TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return port;
            }
        }
    }
}

/// The binary, running with only the given environment; killed when dropped.
pub struct Function {
    child: Child,
    pub log: PathBuf,
}

impl Function {
    pub fn spawn(name: &str, env: &[(&str, &str)]) -> Self {
        Self::spawn_command(name, env, Command::new(BINARY))
    }

    /// As [`Function::spawn`], with variables whose values need not be text.
    pub fn spawn_with_raw(name: &str, env: &[(&str, &str)], raw: &[(&str, &std::ffi::OsStr)]) -> Self {
        let mut command = Command::new(BINARY);
        command.envs(raw.iter().copied());
        Self::spawn_command(name, env, command)
    }

    /// As [`Function::spawn`], with the process's file limit (`ulimit -n`) set to `files`.
    pub fn spawn_with_file_limit(name: &str, env: &[(&str, &str)], files: u32) -> Self {
        let mut command = Command::new("/bin/sh");
        command.args(["-c", &format!("ulimit -n {files} && exec \"$0\""), BINARY]);
        Self::spawn_command(name, env, command)
    }

    /// As [`Function::spawn`], with the process's address space (`ulimit -v`) capped at `kib`:
    /// a run-away allocation fails in the process rather than exhausting the machine.
    pub fn spawn_with_memory_limit(name: &str, env: &[(&str, &str)], kib: u64) -> Self {
        let mut command = Command::new("/bin/sh");
        command.args(["-c", &format!("ulimit -v {kib} && exec \"$0\""), BINARY]);
        Self::spawn_command(name, env, command)
    }

    fn spawn_command(name: &str, env: &[(&str, &str)], mut command: Command) -> Self {
        // Every test shares this process's id: the number keeps two spawns of one name apart.
        static SPAWNED: AtomicUsize = AtomicUsize::new(0);
        let n = SPAWNED.fetch_add(1, Ordering::Relaxed);
        let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}-{n}.log", std::process::id()));
        let out = File::create(&log).unwrap();
        // Log as much as possible, so that a secret in any log line is caught (see Drop).
        let default_level = ("RUST_LOG", "debug");
        // Variables the caller set on `command` are kept; nothing of this process's is.
        let given: Vec<_> = command
            .get_envs()
            .filter_map(|(name, value)| Some((name.to_owned(), value?.to_owned())))
            .collect();
        let child = command
            .env_clear()
            .envs(given)
            .envs(std::iter::once(default_level).chain(env.iter().copied()))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("the binary starts");
        Self { child, log }
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The logs once they hold `needle` (lines are written in batches, a few milliseconds after
    /// they are logged), or as they are after 5 s.
    pub fn logs_with(&self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let logs = self.logs();
            if logs.contains(needle) || start.elapsed() > Duration::from_secs(5) {
                return logs;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `limit` for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn terminate(&self) {
        self.signal("TERM");
    }

    /// Sends a signal by name (`TERM`, `INT`).
    pub fn signal(&self, name: &str) {
        Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status()
            .unwrap();
    }
}

impl Drop for Function {
    /// Stops the process (SIGTERM, so that it writes the log lines it still holds; SIGKILL if it
    /// has not exited within 2 s), then fails the test if anything it logged holds a test
    /// secret.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.terminate();
            if self.wait_exit(Duration::from_secs(2)).is_none() {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
        if std::thread::panicking() {
            return;
        }
        let logs = self.logs();
        for secret in SECRETS {
            assert!(
                !logs.contains(secret),
                "a secret was logged by {}:\n{logs}",
                self.log.display()
            );
        }
    }
}

/// Polls `GET {base}/` until it answers 200, as the Functions host does before forwarding.
pub async fn wait_ready(client: &reqwest::Client, base: &str, function: &mut Function) {
    let start = Instant::now();
    loop {
        if let Ok(response) = client.get(format!("{base}/")).send().await {
            if response.status() == 200 {
                return;
            }
        }
        if let Some(status) = function.wait_exit(Duration::ZERO) {
            panic!(
                "the function exited with {status} before it was ready:\n{}",
                function.logs()
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "not ready in 15 s:\n{}",
            function.logs()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Verifies an HS256 token with the `jwt` crate and RustCrypto's HMAC, keyed with the UTF-8
/// bytes of `key`; returns the claims.
pub fn verify_token(token: &str, key: &str) -> BTreeMap<String, Value> {
    let key: Hmac<Sha256> = Hmac::new_from_slice(key.as_bytes()).unwrap();
    token
        .verify_with_key(&key)
        .expect("the token verifies with the access key")
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Checks a negotiate answer for `hub` against `endpoint` (scheme://host, no port) and `url_base`.
pub fn assert_negotiated(body: &Value, url_base: &str, audience_base: &str, hub: &str) {
    let url = body["url"].as_str().expect("url");
    let prefix = format!("{url_base}/client/?hub={hub}&asrs_request_id=");
    assert!(url.starts_with(&prefix), "url {url} should start with {prefix}");
    assert!(url.len() > prefix.len());
    let claims = verify_token(body["accessToken"].as_str().expect("accessToken"), KEY);
    assert_eq!(claims["aud"], format!("{audience_base}/client/?hub={hub}"));
    assert_eq!(claims["iss"], "azure-signalr");
    let exp = claims["exp"].as_i64().unwrap();
    assert!((exp - now() - 3600).abs() <= 5, "exp {exp}");
    assert_eq!(body.as_object().unwrap().len(), 2, "only url and accessToken: {body}");
}
