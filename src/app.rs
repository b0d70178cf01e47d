//! The one axum `Router`, served unchanged by Lambda, the Functions host and the local server.

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{self, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{MethodRouter, get};
use serde_json::json;
use tower_http::catch_panic::CatchPanicLayer;

use crate::config::{Config, ConfigError};
use crate::error::ApiError;
use crate::hub;
use crate::negotiate::{Negotiator, negotiate_path_hub, negotiate_query_hub};

/// Methods a negotiate route answers.
const NEGOTIATE_METHODS: &str = "GET, POST";

/// Builds the router for a configuration (credentials are made here, so this can fail).
pub fn build(config: &Config) -> Result<Router, ConfigError> {
    Ok(router(Arc::new(Negotiator::new(config)?), &config.route_prefix))
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
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }))
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
