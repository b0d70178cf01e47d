//! The negotiate handlers: the hub from the path or the query, a bounded body, the caller,
//! then the core; one log line per negotiate with the outcome, the host's request id and the
//! platform's trace id.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use axum::body::HttpBody as _;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::LengthLimitError;

use super::answer::{self, ApiError};
use super::query::NegotiateQuery;
use crate::endpoints::display_name;
use crate::hub::HubName;
use crate::startup::App;
use crate::tokens::unix_now;

/// Largest request body accepted (a negotiate needs none).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The id the host gave a request (Lambda's request id, the Functions host's invocation id),
/// put in the request's extensions by the host for the log line.
#[derive(Debug, Clone)]
pub struct HostRequestId(pub String);

/// The request's query parameters (any query string is read).
fn query(request: &Request) -> NegotiateQuery {
    NegotiateQuery::parse(request.uri().query())
}

/// Which negotiator a route answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Routes {
    /// The usual routes: SignalR's, or Web PubSub's when only it is configured.
    Usual,
    /// `/{prefix}/webpubsub/…`: Web PubSub's.
    WebPubSub,
}

/// `/{prefix}/{hub}/negotiate`
pub(super) async fn path_hub(
    State(app): State<Arc<App>>,
    hub: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    let query = query(&request);
    respond(&app, Routes::Usual, hub_in_path(hub), query, request).await
}

/// `/{prefix}/webpubsub/{hub}/negotiate`
pub(super) async fn webpubsub_path_hub(
    State(app): State<Arc<App>>,
    hub: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    let query = query(&request);
    respond(&app, Routes::WebPubSub, hub_in_path(hub), query, request).await
}

/// The hub of a path, checked.
fn hub_in_path(hub: Result<Path<String>, PathRejection>) -> Result<Cow<'static, HubName>, ApiError> {
    match hub {
        Ok(Path(hub)) => HubName::from_string(hub).map(Cow::Owned).map_err(ApiError::from),
        Err(_) => Err(ApiError::bad_request(
            "the hub name in the path is not valid percent-encoded UTF-8",
        )),
    }
}

/// `/{prefix}/negotiate?hub=…` (or `SIGNALR_HUB`)
pub(super) async fn query_hub(State(app): State<Arc<App>>, request: Request) -> Response {
    let mut query = query(&request);
    let hub = query.hub(app.default_hub(), app.query_values_joined());
    respond(&app, Routes::Usual, hub, query, request).await
}

/// `/{prefix}/webpubsub/negotiate?hub=…` (or `SIGNALR_HUB`)
pub(super) async fn webpubsub_query_hub(State(app): State<Arc<App>>, request: Request) -> Response {
    let mut query = query(&request);
    let hub = query.hub(app.default_hub(), app.query_values_joined());
    respond(&app, Routes::WebPubSub, hub, query, request).await
}

async fn respond(
    app: &App,
    routes: Routes,
    hub: Result<Cow<'_, HubName>, ApiError>,
    query: NegotiateQuery,
    request: Request,
) -> Response {
    let started = Instant::now();
    let (mut parts, body) = request.into_parts();
    let request_id = parts.extensions.remove::<HostRequestId>().map(|id| id.0);
    let trace_id = app.trace_header().trace_id(&parts.headers);
    let outcome = async {
        let hub = hub?;
        refuse_declared_oversize(&parts.headers)?;
        // Read and dropped, bounded in size (axum's own helper; no per-request layer) and in
        // time. A deadline on the whole read, not tower-http's TimeoutBody: that one bounds
        // the wait for each chunk, so a byte now and then would hold the connection for as
        // long as 16 KiB takes. An empty body (nearly every negotiate) is not read at all.
        let mut read_at = started;
        if !body.is_end_stream() {
            let read = axum::body::to_bytes(body, MAX_BODY_BYTES);
            match tokio::time::timeout(app.body_timeout(), read).await {
                Ok(read) => {
                    read.map_err(body_error)?;
                }
                Err(_) => return Err(body_too_slow()),
            }
            read_at = Instant::now();
        }
        // One deadline for all the negotiate waits for upstream (the caller's identity, the
        // Entra token, the REST API), counted from when its request was read.
        let deadline = tokio::time::Instant::from_std(read_at) + app.upstream_deadline();
        let diagnostic = query.diagnostic()?;
        let caller = app
            .callers()
            .resolve(
                &parts.headers,
                &parts.extensions,
                query.user_id.as_deref(),
                diagnostic,
                deadline,
            )
            .await
            .map_err(|error| ApiError::from(&error))?;
        let negotiator = match (routes, app.webpubsub()) {
            (Routes::WebPubSub, Some(webpubsub)) => webpubsub,
            _ => app.negotiator(),
        };
        negotiator
            .negotiate(&hub, &caller, query.endpoint.as_deref(), unix_now(), deadline)
            .await
            .map_err(|error| ApiError::from(&error))
    }
    .await;
    let latency_us = started.elapsed().as_micros() as u64;
    match outcome {
        Ok(negotiated) => {
            tracing::info!(
                request_id,
                trace_id,
                hub = %negotiated.service_hub,
                endpoint = display_name(negotiated.endpoint.name()),
                status = 200u16,
                latency_us,
                "negotiate"
            );
            answer::negotiated(&negotiated.response)
        }
        Err(error) => {
            tracing::info!(
                request_id,
                trace_id,
                status = error.status.as_u16(),
                latency_us,
                reason = %error.message,
                "negotiate refused"
            );
            error.into_response()
        }
    }
}

fn body_too_slow() -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "the request body did not arrive in time; negotiate needs no body",
    )
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "the request body is larger than 16 KiB; negotiate needs no body",
    )
}

/// A declared length over the limit is refused before anything is read.
fn refuse_declared_oversize(headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    match declared {
        Some(length) if length > MAX_BODY_BYTES as u64 => Err(too_large()),
        _ => Ok(()),
    }
}

fn body_error(error: axum::Error) -> ApiError {
    if error.into_inner().is::<LengthLimitError>() {
        too_large()
    } else {
        ApiError::bad_request("the request body could not be read")
    }
}
