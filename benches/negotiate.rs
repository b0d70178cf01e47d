//! Micro-benchmarks of the negotiate path: token signing, connection-string parsing, and one full
//! negotiate through the router (`tower::ServiceExt::oneshot`), on the access-key path and in
//! Entra `access-key` mode against a fake service started here, and with its log line formatted
//! as each host writes it.
//!
//! `cargo bench --bench negotiate` (add `-- <filter>` to run some). The whole-process figures
//! (requests/s against peers, cold start, footprint) are in `bench/` and `BENCHMARKS.md`.

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use criterion::{Criterion, Throughput};
use http_body_util::BodyExt as _;
use serde_json::json;
use tower::ServiceExt as _;

use signalr_negotiate::{
    AccessKey, AccessTokenClaims, App, Caller, ConnectionString, Host, Settings, TokenPolicy, log_subscriber, router,
    sign,
};

/// A realistic access key: 44 characters, as the portal shows them.
const ACCESS_KEY: &str = "Zm9vYmFyYmF6cXV4MDEyMzQ1Njc4OWFiY2RlZmdoaWo=";
/// What the fake service hands out in Entra access-key mode (also 44 characters).
const TEMPORARY_KEY: &str = "BenchTemporaryKey0123456789abcdefghijklmnopq";
/// The secret the fake managed-identity endpoint expects in `x-identity-header`.
const IDENTITY_HEADER: &str = "bench-identity-header";

fn access_key_connection_string() -> String {
    format!("Endpoint=https://bench.service.signalr.net;AccessKey={ACCESS_KEY};Version=1.0;")
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

/// The fake Azure SignalR service: the App Service managed-identity endpoint and the
/// temporary access key API, answering at once.
fn fake_service() -> Router {
    Router::new()
        .route(
            "/msi/token",
            get(|headers: axum::http::HeaderMap| async move {
                if headers.get("x-identity-header").and_then(|v| v.to_str().ok()) != Some(IDENTITY_HEADER) {
                    return (
                        StatusCode::BAD_REQUEST,
                        axum::Json(json!({"error": "bad identity header"})),
                    );
                }
                (
                    StatusCode::OK,
                    axum::Json(json!({
                        "access_token": "t",
                        "expires_on": (now() + 3600).to_string(),
                        "token_type": "Bearer",
                        "resource": "https://signalr.azure.com",
                    })),
                )
            }),
        )
        .route(
            "/api/v1/auth/accessKey",
            get(|| async { axum::Json(json!({"KeyId": "k", "AccessKey": TEMPORARY_KEY})) }),
        )
}

fn negotiate_request() -> Request<Body> {
    Request::post("/api/chat/negotiate")
        .body(Body::empty())
        .expect("a valid request")
}

/// One negotiate through the router, its body read to the end.
async fn negotiate_once(router: &Router) -> (StatusCode, usize) {
    let response = router
        .clone()
        .oneshot(negotiate_request())
        .await
        .expect("the router is infallible");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("a body in memory")
        .to_bytes();
    (status, body.len())
}

/// Runs `iters` negotiates inside the runtime and times them together (as criterion's async
/// bencher does), so the runtime's entry cost is not counted per request.
fn time_negotiates(runtime: &tokio::runtime::Runtime, router: &Router, iters: u64) -> Duration {
    runtime.block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            black_box(negotiate_once(router).await);
        }
        start.elapsed()
    })
}

fn bench_token(c: &mut Criterion) {
    let key = AccessKey::new(ACCESS_KEY);
    let policy = TokenPolicy::default();
    let anonymous = Caller::default();
    let audience = "https://bench.service.signalr.net/client/?hub=chat";
    let issued_at = now();
    let mut group = c.benchmark_group("token");
    group.throughput(Throughput::Elements(1));
    group.bench_function("sign (claims with a fresh unique value, HS256)", |b| {
        b.iter(|| {
            let claims = AccessTokenClaims::new(black_box(audience), &anonymous, &policy, issued_at);
            sign(&key, &claims).expect("signs")
        });
    });
    group.bench_function("sign (fixed claims, HS256 only)", |b| {
        let claims = AccessTokenClaims::new(audience, &anonymous, &policy, issued_at);
        b.iter(|| sign(&key, black_box(&claims)).expect("signs"));
    });
    group.finish();
}

fn bench_connection_string(c: &mut Criterion) {
    let access_key = access_key_connection_string();
    let entra = concat!(
        "Endpoint=https://bench.service.signalr.net;AuthType=azure.msi;",
        "ClientId=00000000-0000-0000-0000-000000000000;Version=1.0;"
    );
    let mut group = c.benchmark_group("connection_string");
    group.throughput(Throughput::Elements(1));
    group.bench_function("parse (AccessKey)", |b| {
        b.iter(|| {
            black_box(access_key.as_str())
                .parse::<ConnectionString>()
                .expect("parses")
        });
    });
    group.bench_function("parse (AuthType=azure.msi)", |b| {
        b.iter(|| black_box(entra).parse::<ConnectionString>().expect("parses"));
    });
    group.finish();
}

fn bench_router(c: &mut Criterion, runtime: &tokio::runtime::Runtime, fake_port: u16) {
    let access_key_config = Settings::from_vars(vars(&[(
        "AzureSignalRConnectionString",
        &access_key_connection_string(),
    )]))
    .expect("access-key configuration");
    let entra_connection_string = format!("Endpoint=http://127.0.0.1;Port={fake_port};AuthType=azure.msi;Version=1.0;");
    let entra_config = Settings::from_vars(vars(&[
        ("AzureSignalRConnectionString", &entra_connection_string),
        ("SIGNALR_ENTRA_MODE", "access-key"),
    ]))
    .expect("Entra access-key configuration");
    // Credentials may spawn tasks: build the routers inside the runtime.
    let (access_key_router, entra_router) = runtime.block_on(async {
        (
            router(std::sync::Arc::new(
                App::new(&access_key_config).expect("access-key app"),
            )),
            router(std::sync::Arc::new(App::new(&entra_config).expect("Entra app"))),
        )
    });
    // Warm up: the first Entra negotiate fetches the managed-identity token and the temporary key.
    for (name, router) in [("access-key", &access_key_router), ("entra access-key", &entra_router)] {
        let (status, len) = runtime.block_on(negotiate_once(router));
        assert_eq!(status, StatusCode::OK, "warm-up negotiate ({name})");
        assert!(len > 0, "warm-up negotiate ({name}) has a body");
    }

    let mut group = c.benchmark_group("router");
    group.throughput(Throughput::Elements(1));
    group.bench_function("POST /api/chat/negotiate (access key)", |b| {
        b.iter_custom(|iters| time_negotiates(runtime, &access_key_router, iters));
    });
    group.bench_function("POST /api/chat/negotiate (Entra access-key mode, key held)", |b| {
        b.iter_custom(|iters| time_negotiates(runtime, &entra_router, iters));
    });
    group.finish();

    // The same negotiate with its log line formatted as each host writes it (into a sink: what
    // reaching standard output costs is the batch writer's business, measured by compare.sh).
    let mut group = c.benchmark_group("router with the log line");
    group.throughput(Throughput::Elements(1));
    let hosts = [
        (
            "JSON line (Lambda, Functions host)",
            Host::Functions {
                addr: "127.0.0.1:1".parse().unwrap(),
                deployed: false,
            },
        ),
        ("text line (local server)", Host::Local("127.0.0.1:1".parse().unwrap())),
    ];
    for (name, host) in hosts {
        let (subscriber, _) = log_subscriber(host, Some("info"), std::io::sink);
        let _logging = tracing::subscriber::set_default(subscriber);
        group.bench_function(format!("POST /api/chat/negotiate (access key), {name}"), |b| {
            b.iter_custom(|iters| time_negotiates(runtime, &access_key_router, iters));
        });
    }
    group.finish();
}

fn main() {
    // The fake service's port must be known before its address goes into the environment, and
    // the environment must be written before any thread starts: bind first, serve later.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port for the fake service");
    let fake_port = listener.local_addr().expect("the fake service's address").port();
    // SAFETY: no other thread exists yet (no runtime has been built, criterion has not started),
    // so nothing can read the environment while it is written.
    unsafe {
        std::env::set_var("IDENTITY_ENDPOINT", format!("http://127.0.0.1:{fake_port}/msi/token"));
        std::env::set_var("IDENTITY_HEADER", IDENTITY_HEADER);
    }

    // The fake runs on its own runtime thread, so the measured runtime only runs the function.
    let fake_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("the fake service's runtime");
    listener.set_nonblocking(true).expect("a non-blocking listener");
    fake_runtime.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
        axum::serve(listener, fake_service())
            .await
            .expect("the fake service runs");
    });

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the benchmark's runtime");

    let mut criterion = Criterion::default().configure_from_args();
    bench_token(&mut criterion);
    bench_connection_string(&mut criterion);
    bench_router(&mut criterion, &runtime, fake_port);
    criterion.final_summary();
}
