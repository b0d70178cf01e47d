//! The one axum `Router`, served unchanged by Lambda, the Functions host and the local server:
//! the negotiate routes under the prefix, the readiness route, and JSON refusals for anything
//! else.

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};

use super::answer::{ApiError, json_answer};
use super::cors;
use super::negotiate;
use crate::hub::HubName;
use crate::startup::App;

/// Methods a negotiate route answers.
const NEGOTIATE_METHODS: &str = "GET, POST";

/// The router for an app: `/{prefix}/{hub}/negotiate`, `/{prefix}/negotiate` and `GET /`; with
/// Web PubSub configured, its routes under `/{prefix}/webpubsub/` too, whether or not the usual
/// ones are SignalR's (a SignalR hub named `webpubsub` is then reachable as
/// `/{prefix}/negotiate?hub=webpubsub`).
pub fn router(app: Arc<App>) -> Router {
    let prefix = app.route_prefix();
    let base = if prefix.is_empty() {
        String::new()
    } else {
        format!("/{prefix}")
    };
    // axum answers HEAD with a GET route (dropping the body): a negotiate would run and mint
    // a token nobody receives. The contract is GET and POST only, so HEAD is refused first.
    // OPTIONS has a route of its own: a preflight the CORS layer answers in axum's fallback
    // would get axum's `Allow` of every routed method, HEAD included, which is refused.
    let negotiate_route = |handler: MethodRouter<Arc<App>>| {
        handler
            .head(method_not_allowed)
            .options(method_not_allowed)
            .fallback(method_not_allowed)
    };
    let missing_route_prefix = base.clone();
    let mut routes = Router::new();
    if app.webpubsub().is_some() {
        routes = routes
            .route(
                &format!("{base}/webpubsub/negotiate"),
                negotiate_route(get(negotiate::webpubsub_query_hub).post(negotiate::webpubsub_query_hub)),
            )
            .route(
                &format!("{base}/webpubsub/{{hub}}/negotiate"),
                negotiate_route(get(negotiate::webpubsub_path_hub).post(negotiate::webpubsub_path_hub)),
            );
    }
    let routes = routes
        .route(
            &format!("{base}/negotiate"),
            negotiate_route(get(negotiate::query_hub).post(negotiate::query_hub)),
        )
        .route(
            &format!("{base}/{{hub}}/negotiate"),
            negotiate_route(get(negotiate::path_hub).post(negotiate::path_hub)),
        )
        .fallback(move |request: Request| not_found(request, missing_route_prefix.clone()));
    // CORS for the negotiate routes and the refusals of other paths, not for the readiness
    // probe: no browser calls it, and a preflight there would offer POST, which it refuses.
    let routes = match app.cors_origins() {
        Some(origins) => cors::layer(routes, origins),
        None => routes,
    };
    routes
        .route(
            "/",
            get(status)
                .options(status_method_not_allowed)
                .fallback(status_method_not_allowed),
        )
        .with_state(app)
}

/// `GET /`: readiness, as the Functions host probes it; never cached, as every answer.
async fn status() -> Response {
    json_answer(StatusCode::OK, r#"{"status":"ok"}"#)
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
            let reason = HubName::parse(hub_path)
                .err()
                .map_or_else(|| "the hub name is not valid".to_owned(), |error| error.to_string());
            ApiError::bad_request(reason).into_response()
        }
        None => {
            ApiError::not_found(format!("no such route; negotiate is POST {base}/{{hub}}/negotiate")).into_response()
        }
    }
}
