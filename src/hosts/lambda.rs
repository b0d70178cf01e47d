//! AWS Lambda: `lambda_http` drives the router through the Runtime API. The router sees each
//! event with the event's own path and the invocation's request id.

use std::process::ExitCode;

use axum::Router;
use axum::http;
use lambda_http::RequestExt as _;

use crate::http::HostRequestId;

/// Serves the Runtime API until it stops, or until SIGTERM (which Lambda sends only between
/// invocations, when the environment shuts down).
pub(super) async fn serve(router: Router) -> ExitCode {
    // What start-up logged belongs to the init phase.
    super::logs::flush();
    let runtime = lambda_http::run(
        tower::ServiceBuilder::new()
            .map_request(prepare::<lambda_http::Body>)
            // An invocation's lines reach standard output before its response is posted, so
            // CloudWatch ties them to the request.
            .map_response(|response| {
                super::logs::flush();
                response
            })
            .service(router),
    );
    tokio::select! {
        outcome = runtime => match outcome {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!(%error, "the Lambda runtime stopped");
                ExitCode::FAILURE
            }
        },
        () = super::shutdown_signal() => ExitCode::SUCCESS,
    }
}

/// An event's request as the router sees it on Lambda: the event's own path, and the
/// invocation's request id for the log line.
pub fn prepare<B>(request: http::Request<B>) -> http::Request<B> {
    let mut request = on_raw_event_path(request);
    if let Some(context) = request.extensions().get::<lambda_http::Context>() {
        let id = HostRequestId(context.request_id.clone());
        request.extensions_mut().insert(id);
    }
    request
}

/// Routes on the path of the event itself: `lambda_http` puts the API Gateway stage in front of
/// it (`/prod/api/chat/negotiate` for a REST API stage `prod`), which would move the routes
/// with every stage name.
fn on_raw_event_path<B>(mut request: http::Request<B>) -> http::Request<B> {
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
