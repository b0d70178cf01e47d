//! CORS for the listed browser origins, with credentials (the SignalR client sends them): an
//! origin that is not listed gets no CORS headers at all, and the browser refuses the answer.

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Headers a SignalR browser client sends on negotiate.
const ALLOWED_HEADERS: [header::HeaderName; 4] = [
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
    header::HeaderName::from_static("x-requested-with"),
    header::HeaderName::from_static("x-signalr-user-agent"),
];

/// The router with CORS for `origins` (already in their serialised form).
pub(super) fn layer(router: Router, origins: &[String]) -> Router {
    let listed: Arc<[HeaderValue]> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(listed.iter().cloned()))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers(ALLOWED_HEADERS)
        .max_age(std::time::Duration::from_secs(600));
    router
        .layer(cors)
        .layer(axum::middleware::from_fn(move |request: Request, next: Next| {
            only_listed_origins(listed.clone(), request, next)
        }))
}

/// tower-http answers every preflight with its allow headers; an origin that is not listed
/// gets none at all, so nothing suggests it might be allowed.
async fn only_listed_origins(listed: Arc<[HeaderValue]>, request: Request, next: Next) -> Response {
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
