//! A fake Azure SignalR service and App Service managed-identity endpoint on loopback, speaking
//! the real wire contracts: `GET /msi/token` (api-version 2019-08-01, `x-identity-header`),
//! `POST /api/hubs/{hub}/:generateToken`, `GET /api/v1/auth/accessKey`, `HEAD /api/health`,
//! `HEAD /api/hubs/{hub}/users/{user}` (the REST API's users call) and the client's
//! `POST /client/negotiate`. Bearer tokens are checked as the service checks them: the
//! signature with the resource's access key (or a temporary key by its `kid`, or a token this
//! fake made), `aud` (the scheme and host the request reached, without port), and `exp` by the
//! service's clock; a refusal is a 401 with JwtBearer's challenge. Every answer carries the
//! service's clock as `Date`, which a test can skew; an identity can be denied its role (403).
//! Calls and accepted connections are counted; REST faults can be scripted.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, head, post};
use axum::serve::{Listener as _, ListenerExt as _};
use serde_json::json;

mod bearer;

pub const IDENTITY_HEADER: &str = "identity-header-secret-4c1d";
pub const ENTRA_TOKEN: &str = "entra-access-token-7f3a9b";
pub const TEMPORARY_KEY: &str = "TemporaryKey0123456789abcdefghijklmnopqrstuv";
pub const KEY_ID: &str = "temporary-key-1";

/// What the fake REST API does with the next call.
#[derive(Debug, Clone)]
pub enum Fault {
    Status(u16),
    Throttle(&'static str),
    Hang,
    NotJson,
    /// Answer normally after this long.
    Slow(Duration),
    /// Start a 200 answer, then drop the connection mid-body.
    Reset,
    /// Answer with this redirect status and `Location`.
    Redirect(u16, String),
    /// Answer with this status and body.
    Body(u16, String),
}

#[derive(Default)]
pub struct Counters {
    pub identity: AtomicUsize,
    pub generate: AtomicUsize,
    pub keys: AtomicUsize,
    pub connections: AtomicUsize,
    /// Client negotiates (`POST /client/negotiate`), answered or refused.
    pub client_negotiates: AtomicUsize,
    /// Users calls of the REST API, answered or refused.
    pub user_calls: AtomicUsize,
}

#[derive(Clone, Default)]
pub struct Fake {
    pub counters: Arc<Counters>,
    pub faults: Arc<Mutex<VecDeque<Fault>>>,
    /// Faults of the managed-identity endpoint, one per request.
    pub identity_faults: Arc<Mutex<VecDeque<Fault>>>,
    /// The `resource` the managed-identity endpoint accepts (`https://signalr.azure.com` unless set).
    pub identity_resource: Arc<Mutex<Option<String>>>,
    /// The query of every managed-identity request.
    pub identity_queries: Arc<Mutex<Vec<String>>>,
    pub queries: Arc<Mutex<Vec<String>>>,
    /// The resource's access key, when not [`super::KEY`].
    key: Arc<Mutex<Option<String>>>,
    /// The service's clock minus the real one, in seconds.
    clock_skew: Arc<AtomicI64>,
    /// The managed identity has no role on the resource: its calls get 403.
    role_denied: Arc<AtomicBool>,
}

impl Fake {
    pub fn fault(&self, faults: &[Fault]) {
        self.faults.lock().unwrap().extend(faults.iter().cloned());
    }

    /// Makes this the resource's access key (another resource's, as far as [`super::KEY`] goes).
    pub fn use_key(&self, key: &str) {
        *self.key.lock().unwrap() = Some(key.to_owned());
    }

    /// Sets the service's clock `seconds` ahead of the real one (behind when negative).
    pub fn skew_clock(&self, seconds: i64) {
        self.clock_skew.store(seconds, Ordering::SeqCst);
    }

    /// Takes the identity's role away: the REST API answers its Entra token with 403.
    pub fn deny_role(&self) {
        self.role_denied.store(true, Ordering::SeqCst);
    }

    /// Makes the managed-identity endpoint accept this `resource` only (the scope without `/.default`).
    pub fn expect_resource(&self, resource: &str) {
        *self.identity_resource.lock().unwrap() = Some(resource.to_owned());
    }

    pub fn count(&self, which: fn(&Counters) -> &AtomicUsize) -> usize {
        which(&self.counters).load(Ordering::SeqCst)
    }
}

/// The App Service managed identity endpoint (api-version 2019-08-01).
async fn identity(
    State(fake): State<Fake>,
    Query(query): Query<Vec<(String, String)>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    fake.counters.identity.fetch_add(1, Ordering::SeqCst);
    fake.identity_queries
        .lock()
        .unwrap()
        .push(uri.query().unwrap_or_default().to_owned());
    let resource = fake
        .identity_resource
        .lock()
        .unwrap()
        .clone()
        .unwrap_or_else(|| "https://signalr.azure.com".to_owned());
    let fault = fake.identity_faults.lock().unwrap().pop_front();
    if let Some(response) = fault_response(fault).await {
        return response;
    }
    let has = |k: &str, v: &str| query.iter().any(|(key, value)| key == k && value == v);
    if headers.get("x-identity-header").and_then(|h| h.to_str().ok()) != Some(IDENTITY_HEADER)
        || !has("api-version", "2019-08-01")
        || !has("resource", &resource)
    {
        return (StatusCode::BAD_REQUEST, "bad identity request").into_response();
    }
    let expires_on = (super::now() + 3600).to_string();
    axum::Json(json!({
        "access_token": ENTRA_TOKEN,
        "expires_on": expires_on,
        "token_type": "Bearer",
        "resource": resource
    }))
    .into_response()
}

/// A 403 for an identity without a role (the body the SDK's tests use).
fn role_denied(fake: &Fake) -> Option<Response> {
    fake.role_denied
        .load(Ordering::SeqCst)
        .then(|| (StatusCode::FORBIDDEN, "Please check your role assignments.").into_response())
}

/// What a REST call gets instead of its answer: 401 without the Entra token, 403 while roles
/// are denied, else the next queued fault.
async fn refusal(fake: &Fake, headers: &HeaderMap) -> Option<Response> {
    if !authorised(headers) {
        return Some(StatusCode::UNAUTHORIZED.into_response());
    }
    if let Some(denied) = role_denied(fake) {
        return Some(denied);
    }
    apply_fault(fake).await
}

fn authorised(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|h| h.to_str().ok()) == Some(&format!("Bearer {ENTRA_TOKEN}"))
}

async fn apply_fault(fake: &Fake) -> Option<Response> {
    let fault = fake.faults.lock().unwrap().pop_front();
    fault_response(fault).await
}

/// The answer a fault gives; `None` when the request should be answered normally.
async fn fault_response(fault: Option<Fault>) -> Option<Response> {
    Some(match fault? {
        Fault::Status(status) => (StatusCode::from_u16(status).unwrap(), "{}").into_response(),
        Fault::Throttle(retry_after) => {
            (StatusCode::TOO_MANY_REQUESTS, [("retry-after", retry_after)], "").into_response()
        }
        Fault::Hang => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            StatusCode::OK.into_response()
        }
        Fault::NotJson => (StatusCode::OK, "<html>not json</html>").into_response(),
        Fault::Slow(delay) => {
            tokio::time::sleep(delay).await;
            return None;
        }
        Fault::Body(status, body) => (StatusCode::from_u16(status).unwrap(), body).into_response(),
        Fault::Redirect(status, location) => {
            (StatusCode::from_u16(status).unwrap(), [("location", location)], "").into_response()
        }
        Fault::Reset => {
            let chunks: Vec<Result<&'static str, std::io::Error>> = vec![
                Ok("{\"token\": \"partial"),
                Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset")),
            ];
            (
                [("content-type", "application/json"), ("content-length", "200")],
                axum::body::Body::from_stream(futures_util::stream::iter(chunks)),
            )
                .into_response()
        }
    })
}

/// `POST /api/hubs/{hub}/:generateToken?api-version=2022-11-01&minutesToExpire=…`
async fn generate_token(
    State(fake): State<Fake>,
    Path(hub): Path<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let n = fake.counters.generate.fetch_add(1, Ordering::SeqCst);
    fake.queries
        .lock()
        .unwrap()
        .push(uri.query().unwrap_or_default().to_owned());
    if let Some(refused) = refusal(&fake, &headers).await {
        return refused;
    }
    axum::Json(json!({"token": format!("service-made-token.{hub}.{n}")})).into_response()
}

/// `GET /api/v1/auth/accessKey`
async fn access_key(State(fake): State<Fake>, headers: HeaderMap) -> Response {
    fake.counters.keys.fetch_add(1, Ordering::SeqCst);
    if let Some(refused) = refusal(&fake, &headers).await {
        return refused;
    }
    axum::Json(json!({"KeyId": KEY_ID, "AccessKey": TEMPORARY_KEY})).into_response()
}

/// Starts the fake on loopback; returns it and its port. Accepted connections are counted.
pub async fn start_fake() -> (Fake, u16) {
    let (fake, port, stop) = start_stoppable_fake().await;
    std::mem::forget(stop);
    (fake, port)
}

/// Stops a fake started by [`start_stoppable_fake`]; dropping it stops the fake too.
pub struct Stop {
    signal: tokio::sync::oneshot::Sender<()>,
    served: tokio::task::JoinHandle<()>,
}

impl Stop {
    /// Stops the fake and returns once it is gone: the port refuses connections, and the
    /// connections it had are closed (a pause instead would be a guess on a busy machine).
    pub async fn stop(self) {
        let _ = self.signal.send(());
        tokio::time::timeout(Duration::from_secs(10), self.served)
            .await
            .expect("the fake stops within 10 s")
            .unwrap();
    }
}

/// As [`start_fake`], with a handle that stops the server.
pub async fn start_stoppable_fake() -> (Fake, u16, Stop) {
    let fake = Fake::default();
    let router = Router::new()
        .without_v07_checks()
        .route("/msi/token", get(identity))
        .route("/api/hubs/{hub}/:generateToken", post(generate_token))
        .route("/api/v1/auth/accessKey", get(access_key))
        .route("/api/health", head(|| async { StatusCode::OK }))
        .route("/api/hubs/{hub}/users/{user}", head(bearer::user_connected))
        .route("/client/negotiate", post(bearer::client_negotiate))
        .layer(axum::middleware::map_response_with_state(
            fake.clone(),
            bearer::service_date,
        ))
        .with_state(fake.clone());
    let counters = fake.counters.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .tap_io(move |_| {
            counters.connections.fetch_add(1, Ordering::SeqCst);
        });
    let port = listener.local_addr().unwrap().port();
    let (signal, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
            .unwrap()
    });
    (fake, port, Stop { signal, served })
}
