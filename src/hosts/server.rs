//! The HTTP server of the local host and the Azure Functions host (which forwards each request
//! to `127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT` with the original path, query and headers, and
//! its invocation id in `X-Azure-Functions-InvocationId`).

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::Router;
use axum::ServiceExt as _;
use axum::extract::Request;
use axum::serve::ListenerExt as _;
use tokio::net::TcpListener;
use tower::util::MapRequest;

use crate::http::HostRequestId;

/// What a host does to each request before the router sees it (outside the router, so that it
/// costs no per-route layer).
pub(super) type Prepare = fn(Request) -> Request;

/// The local server takes requests as they come.
pub(super) fn as_is(request: Request) -> Request {
    request
}

/// Listens on `addr` and serves until SIGTERM or Ctrl-C, finishing requests in flight;
/// `announce` logs the address actually bound.
pub(super) async fn serve(addr: SocketAddr, router: Router, prepare: Prepare, announce: fn(SocketAddr)) -> ExitCode {
    let listener = match TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%addr, %error, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    let local = listener.local_addr().unwrap_or(addr);
    announce(local);
    // Answers are small: send each at once rather than wait for an ACK (Nagle).
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let service = MapRequest::new(router, prepare).into_make_service();
    match axum::serve(listener, service)
        .with_graceful_shutdown(super::shutdown_signal())
        .await
    {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "the server stopped");
            ExitCode::FAILURE
        }
    }
}

/// A request as the Functions host forwards it: it carries the host's invocation id.
pub(super) fn from_functions_host(mut request: Request) -> Request {
    if let Some(id) = invocation_id(&request) {
        request.extensions_mut().insert(HostRequestId(id));
    }
    request
}

/// `X-Azure-Functions-InvocationId`, when it looks like one (a GUID-like token).
fn invocation_id(request: &Request) -> Option<String> {
    request
        .headers()
        .get("x-azure-functions-invocationid")
        .and_then(|value| value.to_str().ok())
        .filter(|id| id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .map(str::to_owned)
}
