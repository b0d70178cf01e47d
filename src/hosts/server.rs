//! The HTTP server of the local host and the Azure Functions host (which forwards each request
//! to `127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT` with the original path, query and headers, and
//! its invocation id in `X-Azure-Functions-InvocationId`).
//!
//! hyper's HTTP/1 connection, with a timer: a connection that does not send a request's line
//! and headers in time, from when it opens or from its last answer, is closed (hyper's header
//! read timeout, which is also the idle keep-alive timeout). At most `max_connections` are held
//! open; past three quarters of them, a new connection gets one answer and is closed, so idle
//! keep-alive connections cannot hold every slot. On SIGTERM or Ctrl-C the listener closes,
//! each connection finishes the request it is on (hyper-util's graceful shutdown), and those
//! still open after the grace period are closed. The body's deadline is the negotiate
//! handler's (it applies on every host).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::util::MapRequest;

use crate::http::HostRequestId;
use crate::settings::ConnectionLimits;

/// What a host does to each request before the router sees it (outside the router, so that it
/// costs no per-route layer).
pub(super) type Prepare = fn(Request) -> Request;

/// The local server takes requests as they come.
pub(super) fn as_is(request: Request) -> Request {
    request
}

/// Listens on `addr` and serves until SIGTERM or Ctrl-C, finishing requests in flight within
/// the grace period; `prepare` is applied to each request, `announce` logs the address bound.
// Hand-written: axum::serve has no header-read timeout, connection cap or grace (BENCHMARKS.md, "Crates or ours").
pub(super) async fn serve(
    addr: SocketAddr,
    router: Router,
    prepare: Prepare,
    limits: ConnectionLimits,
    announce: fn(SocketAddr),
) -> ExitCode {
    let listener = match TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%addr, %error, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    announce(listener.local_addr().unwrap_or(addr));
    let service = TowerToHyperService::new(MapRequest::new(router, move |request: hyper::Request<Incoming>| {
        prepare(request.map(Body::new))
    }));
    let mut keep_alive = http1::Builder::new();
    keep_alive
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let mut one_answer = keep_alive.clone();
    one_answer.keep_alive(false);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let crowded = limits.max_connections - limits.max_connections * 3 / 4;
    let graceful = GracefulShutdown::new();
    let mut accept_failing = false;
    let shutdown = super::shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break, // never closed
            },
            () = &mut shutdown => break,
        };
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(error) => {
                    if accept_failed(&error, &mut accept_failing, &mut shutdown).await {
                        break;
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        accept_failing = false;
        // Answers are small: send each at once rather than wait for an ACK (Nagle).
        let _ = tcp.set_nodelay(true);
        let builder = if slots.available_permits() < crowded {
            &one_answer
        } else {
            &keep_alive
        };
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(tcp), service.clone()));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection closed");
            }
            drop(slot);
        });
    }
    drop(listener);
    let open = graceful.count();
    match tokio::time::timeout(limits.shutdown_grace, graceful.shutdown()).await {
        Ok(()) => tracing::info!("stopped"),
        Err(_) => tracing::warn!(
            open,
            grace_ms = limits.shutdown_grace.as_millis() as u64,
            "stopped: closing the connections still open after the grace period"
        ),
    }
    ExitCode::SUCCESS
}

/// A failed accept: a connection that went away before it was accepted is nothing; anything
/// else (no file descriptor left) is logged once while it lasts, and the next accept waits a
/// moment instead of spinning. True when the shutdown signal came meanwhile.
async fn accept_failed(
    error: &std::io::Error,
    failing: &mut bool,
    shutdown: &mut (impl Future<Output = ()> + Unpin),
) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset, Interrupted};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted
    ) {
        return false;
    }
    if !*failing {
        tracing::warn!(
            %error,
            "cannot accept connections; retrying (is SIGNALR_MAX_CONNECTIONS above the file limit?)"
        );
        *failing = true;
    }
    tokio::select! {
        () = tokio::time::sleep(std::time::Duration::from_millis(100)) => false,
        () = shutdown => true,
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
