//! The one axum `Router`, served unchanged by Lambda, the Functions host and the local server.

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{self, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{MethodRouter, get};
use serde_json::json;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::{Config, ConfigError};
use crate::error::ApiError;
use crate::hub;
use crate::negotiate::{Negotiator, negotiate_path_hub, negotiate_query_hub};

/// Methods a negotiate route answers.
const NEGOTIATE_METHODS: &str = "GET, POST";

/// Headers a SignalR browser client sends on negotiate.
const CORS_ALLOWED_HEADERS: [header::HeaderName; 4] = [
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
    header::HeaderName::from_static("x-requested-with"),
    header::HeaderName::from_static("x-signalr-user-agent"),
];

/// Builds the router for a configuration (credentials are made here, so this can fail).
pub fn build(config: &Config) -> Result<Router, ConfigError> {
    let router = router(Arc::new(Negotiator::new(config)?), &config.route_prefix);
    Ok(match &config.cors_origins {
        Some(origins) => {
            let listed: Arc<[HeaderValue]> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
            router.layer(cors(&listed)).layer(axum::middleware::from_fn(
                move |request: Request, next: axum::middleware::Next| {
                    only_listed_origins(listed.clone(), request, next)
                },
            ))
        }
        None => router,
    })
}

/// tower-http answers every preflight with its allow headers; an origin that is not listed
/// gets none at all, so nothing suggests it might be allowed.
async fn only_listed_origins(listed: Arc<[HeaderValue]>, request: Request, next: axum::middleware::Next) -> Response {
    let allowed = request
        .headers()
        .get(header::ORIGIN)
        .is_some_and(|origin| listed.contains(origin));
    let mut response = next.run(request).await;
    if !allowed {
        let headers = response.headers_mut();
        let cors: Vec<header::HeaderName> = headers
            .keys()
            .filter(|name| name.as_str().starts_with("access-control-"))
            .cloned()
            .collect();
        for name in cors {
            headers.remove(name);
        }
    }
    response
}

/// CORS for the listed origins, with credentials (the SignalR client sends them); an origin not
/// listed gets no CORS headers, and the browser refuses the answer.
fn cors(origins: &[HeaderValue]) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins.iter().cloned()))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers(CORS_ALLOWED_HEADERS)
        .max_age(std::time::Duration::from_secs(600))
}

/// The routes of SPEC §1 under `prefix` (without slashes; empty for the root).
pub fn router(negotiator: Arc<Negotiator>, prefix: &str) -> Router {
    let base = if prefix.is_empty() {
        String::new()
    } else {
        format!("/{prefix}")
    };
    let negotiate_routes = |handler: MethodRouter<Arc<Negotiator>>| handler.fallback(method_not_allowed);
    let missing_route_prefix = base.clone();
    Router::new()
        .route("/", get(status).fallback(status_method_not_allowed))
        .route(
            &format!("{base}/negotiate"),
            negotiate_routes(get(negotiate_query_hub).post(negotiate_query_hub)),
        )
        .route(
            &format!("{base}/{{hub}}/negotiate"),
            negotiate_routes(get(negotiate_path_hub).post(negotiate_path_hub)),
        )
        .fallback(move |request: Request| not_found(request, missing_route_prefix.clone()))
        .with_state(negotiator)
}

/// On Lambda, routes on the path of the event itself: `lambda_http` puts the API Gateway stage
/// in front of it (`/prod/api/chat/negotiate` for a REST API stage `prod`), which would move the
/// routes with every stage name.
pub fn on_raw_event_path<B>(mut request: http::Request<B>) -> http::Request<B> {
    use lambda_http::RequestExt as _;
    let raw = request.raw_http_path();
    if raw.is_empty() || raw == request.uri().path() {
        return request;
    }
    let path_and_query = match request.uri().query() {
        Some(query) => format!("{raw}?{query}"),
        None => raw.to_owned(),
    };
    let mut parts = request.uri().clone().into_parts();
    if let Ok(path_and_query) = path_and_query.parse() {
        parts.path_and_query = Some(path_and_query);
        if let Ok(uri) = http::Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
    }
    request
}

/// `GET /`: readiness, as the Functions host probes it.
async fn status() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn status_method_not_allowed() -> Response {
    refuse_method("GET, HEAD")
}

async fn method_not_allowed() -> Response {
    refuse_method(NEGOTIATE_METHODS)
}

fn refuse_method(allow: &'static str) -> Response {
    let mut response = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("this route answers {allow} only"),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

/// Unknown paths are 404, except `/{prefix}/…/negotiate` whose middle is not one path
/// segment (an empty or slashed hub name): that is a bad hub name, so 400.
async fn not_found(request: Request, base: String) -> Response {
    let path = request.uri().path();
    let hub = path
        .strip_prefix(base.as_str())
        .and_then(|rest| rest.strip_prefix('/'))
        .and_then(|rest| rest.strip_suffix("/negotiate"));
    match hub {
        Some(_) if request.method() != Method::GET && request.method() != Method::POST => method_not_allowed().await,
        Some(hub_path) => {
            let reason = hub::validate(hub_path)
                .err()
                .map_or_else(|| "the hub name is not valid".to_owned(), |error| error.to_string());
            ApiError::bad_request(reason).into_response()
        }
        None => {
            ApiError::not_found(format!("no such route; negotiate is POST {base}/{{hub}}/negotiate")).into_response()
        }
    }
}
