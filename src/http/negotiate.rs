//! The negotiate handlers: the hub from the path or the query, the caller, a bounded body,
//! then the core; one log line per negotiate with the outcome.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::answer::{self, ApiError};
use crate::hub::HubName;
use crate::startup::App;
use crate::tokens::unix_now;

/// Largest request body accepted (a negotiate needs none); the routes' `DefaultBodyLimit`.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The id the host gave a request (Lambda's request id, the Functions host's invocation id),
/// put in the request's extensions by the host for the log line.
#[derive(Debug, Clone)]
pub struct HostRequestId(pub String);

/// The query parameters a negotiate reads; the others (`negotiateVersion`, …) are ignored.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct NegotiateQuery {
    /// `?hub=`: `Err` when given more than once.
    hub: Result<Option<String>, ()>,
    /// `?endpoint=`: the first one.
    endpoint: Option<String>,
    /// `?userId=`: the first one (development mode only).
    user_id: Option<String>,
}

impl NegotiateQuery {
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut query = Self {
            hub: Ok(None),
            endpoint: None,
            user_id: None,
        };
        for (key, value) in pairs {
            match key.as_str() {
                "hub" => {
                    query.hub = match query.hub {
                        Ok(None) => Ok(Some(value)),
                        _ => Err(()),
                    }
                }
                "endpoint" if query.endpoint.is_none() => query.endpoint = Some(value),
                "userId" if query.user_id.is_none() => query.user_id = Some(value),
                _ => {}
            }
        }
        query
    }

    /// The hub of `?hub=`, else the default; given twice, or neither, is a bad request.
    fn hub(&self, default_hub: Option<&HubName>) -> Result<HubName, ApiError> {
        match &self.hub {
            Ok(Some(hub)) => Ok(HubName::parse(hub)?),
            Err(()) => Err(ApiError::bad_request("the hub query parameter is given more than once")),
            Ok(None) => default_hub.cloned().ok_or_else(|| {
                ApiError::bad_request("no hub given: use /{prefix}/{hub}/negotiate or ?hub=, or set SIGNALR_HUB")
            }),
        }
    }
}

fn query(query: Result<Query<Vec<(String, String)>>, QueryRejection>) -> NegotiateQuery {
    // A list of pairs takes any query string (bad percent-encoding decodes lossily).
    query.map_or_else(
        |_| NegotiateQuery::from_pairs(Vec::new()),
        |Query(pairs)| NegotiateQuery::from_pairs(pairs),
    )
}

/// `/{prefix}/{hub}/negotiate`
pub(super) async fn path_hub(
    State(app): State<Arc<App>>,
    hub: Result<Path<String>, PathRejection>,
    pairs: Result<Query<Vec<(String, String)>>, QueryRejection>,
    request: Request,
) -> Response {
    let hub = match hub {
        Ok(Path(hub)) => HubName::parse(&hub).map_err(ApiError::from),
        Err(_) => Err(ApiError::bad_request(
            "the hub name in the path is not valid percent-encoded UTF-8",
        )),
    };
    respond(&app, hub, query(pairs), request).await
}

/// `/{prefix}/negotiate?hub=…` (or `SIGNALR_HUB`)
pub(super) async fn query_hub(
    State(app): State<Arc<App>>,
    pairs: Result<Query<Vec<(String, String)>>, QueryRejection>,
    request: Request,
) -> Response {
    let query = query(pairs);
    let hub = query.hub(app.default_hub());
    respond(&app, hub, query, request).await
}

async fn respond(app: &App, hub: Result<HubName, ApiError>, query: NegotiateQuery, mut request: Request) -> Response {
    let started = Instant::now();
    let request_id = request.extensions_mut().remove::<HostRequestId>().map(|id| id.0);
    let outcome = async {
        let hub = hub?;
        refuse_declared_oversize(&request)?;
        let caller = app
            .callers()
            .resolve(request.headers(), request.extensions(), query.user_id.as_deref())
            .await
            .map_err(|unauthorized| ApiError::from(&unauthorized))?;
        // Read and dropped, bounded by the routes' DefaultBodyLimit.
        Bytes::from_request(request, &()).await.map_err(body_rejection)?;
        app.negotiator()
            .negotiate(&hub, &caller, query.endpoint.as_deref(), unix_now())
            .await
            .map_err(|error| ApiError::from(&error))
    }
    .await;
    let latency_us = started.elapsed().as_micros() as u64;
    match outcome {
        Ok(negotiated) => {
            tracing::info!(
                request_id,
                hub = %negotiated.service_hub,
                endpoint = negotiated.endpoint.name(),
                status = 200,
                latency_us,
                "negotiate"
            );
            answer::negotiated(&negotiated.response)
        }
        Err(error) => {
            tracing::info!(
                request_id,
                status = error.status.as_u16(),
                latency_us,
                reason = %error.message,
                "negotiate refused"
            );
            error.into_response()
        }
    }
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "the request body is larger than 16 KiB; negotiate needs no body",
    )
}

/// A declared length over the limit is refused before anything is read.
fn refuse_declared_oversize(request: &Request) -> Result<(), ApiError> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    match declared {
        Some(length) if length > MAX_BODY_BYTES as u64 => Err(too_large()),
        _ => Ok(()),
    }
}

fn body_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large()
    } else {
        ApiError::bad_request("the request body could not be read")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> NegotiateQuery {
        NegotiateQuery::from_pairs(url::form_urlencoded::parse(query.as_bytes()).into_owned().collect())
    }

    fn hub_from_query(query: Option<&str>, default_hub: Option<&str>) -> Result<String, ApiError> {
        let default_hub = default_hub.map(|hub| HubName::parse(hub).unwrap());
        parse(query.unwrap_or_default())
            .hub(default_hub.as_ref())
            .map(|hub| hub.as_str().to_owned())
    }

    #[test]
    fn query_hub_rules() {
        assert_eq!(
            hub_from_query(Some("hub=chat&negotiateVersion=1"), None).unwrap(),
            "chat"
        );
        assert_eq!(
            hub_from_query(Some("negotiateVersion=1"), Some("news")).unwrap(),
            "news"
        );
        assert_eq!(
            hub_from_query(Some("hub=a%20b"), None).unwrap_err().status,
            StatusCode::BAD_REQUEST,
            "a b is read, then refused as a hub name"
        );
        assert_eq!(
            hub_from_query(Some("hub=a&hub=b"), Some("x")).unwrap_err().message,
            "the hub query parameter is given more than once"
        );
        assert_eq!(hub_from_query(None, None).unwrap_err().status, StatusCode::BAD_REQUEST);
        assert_eq!(
            hub_from_query(Some("hub="), Some("x")).unwrap_err().message,
            "the hub name is empty"
        );
    }

    #[test]
    fn the_first_endpoint_and_user_count() {
        let query = parse("endpoint=east&endpoint=west&userId=ada&userId=bob&hub=chat");
        assert_eq!(query.endpoint.as_deref(), Some("east"));
        assert_eq!(query.user_id.as_deref(), Some("ada"));
        assert_eq!(query.hub, Ok(Some("chat".to_owned())));
    }
}
