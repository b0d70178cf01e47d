//! The HTTP server of the local host and the Azure Functions host (which forwards each request
//! to `127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT` with the original path, query and headers, and
//! its invocation id in `X-Azure-Functions-InvocationId`).
//!
//! hyper's HTTP/1 connection, with a timer: a connection that does not send a request's line
//! and headers in time, from when it opens or from its last answer, is closed (hyper's header
//! read timeout, which is also the idle keep-alive timeout). Every connection is accepted and
//! recorded with what it is doing ([`registry`]); at `max_connections`, a new one displaces the
//! oldest that is not handling a request (see the registry for the order), and waits only if
//! every one is. Past three quarters of the cap, answers close their connection and a new
//! connection has a short time to send its first byte; an answer that a client does not take
//! within the write timeout closes its connection ([`connection`]). On SIGTERM or Ctrl-C the
//! server takes the connections the kernel has already accepted and closes its listener (the
//! kernel refuses the next ones); idle connections are closed, silent ones after the first-byte
//! timeout, each request in flight is answered with `Connection: close`, and what is still
//! open after the grace period is closed. The body's deadline is the negotiate handler's (it
//! applies on every host).

mod connection;
mod registry;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioTimer;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::time::Instant;
use tower::util::MapRequest;

use self::registry::{NoRoom, Registry};
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
    let listener = match listen(addr, limits.max_connections) {
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
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    let registry = Arc::new(Registry::new(limits.max_connections));
    let start = |tcp, admitted| connection::spawn(tcp, admitted, &registry, &http, service.clone(), &limits);
    let shutdown = super::shutdown_signal();
    tokio::pin!(shutdown);
    let mut accept_failing = false;
    let mut at_cap = false;
    // A connection accepted, waiting for room when the server is told to stop.
    let mut waiting = None;
    'serving: loop {
        let tcp = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(error) => {
                    if accept_failed(&error, &mut accept_failing, &registry, &mut shutdown).await {
                        break;
                    }
                    continue;
                }
            },
        };
        accept_failing = false;
        if registry.at_cap() && !at_cap {
            tracing::warn!(
                max_connections = limits.max_connections,
                "connections at the cap: new ones displace those that sent no complete request, oldest first"
            );
        }
        at_cap = registry.at_cap() || (at_cap && registry.crowded());
        // Those behind it wait in the kernel's queue meanwhile.
        let admitted = loop {
            match registry.admit() {
                Ok(admitted) => break admitted,
                Err(no_room) => {
                    let room = async {
                        match no_room {
                            NoRoom::Until(at) => tokio::time::sleep_until(at.into()).await,
                            NoRoom::UntilOneEnds => std::future::pending().await,
                        }
                    };
                    tokio::select! {
                        biased;
                        () = &mut shutdown => {
                            waiting = Some(tcp);
                            break 'serving;
                        }
                        () = registry.one_ended() => {}
                        () = room => {}
                    }
                }
            }
        };
        start(tcp, admitted);
    }
    let accepted = stop_accepting(listener, waiting);
    for tcp in accepted {
        start(tcp, registry.admit_anyway());
    }
    drain(&registry, &limits).await;
    ExitCode::SUCCESS
}

/// The listener, with room in the kernel's queue for four times the cap (at least 1,024; the
/// kernel holds it to `net.core.somaxconn`) rather than std's 128: under a flood, a client's
/// connection then waits its turn there instead of being dropped and retried a second later.
fn listen(addr: SocketAddr, max_connections: usize) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As std does on Unix: a restart can bind while the last run's connections are in TIME_WAIT.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    let backlog = max_connections.saturating_mul(4).clamp(1024, 65_535);
    socket.listen(u32::try_from(backlog).unwrap_or(65_535))
}

/// Takes the connections the kernel has accepted (and `waiting`), then closes the listener, so
/// that every connection a client saw open gets an answer and the next ones are refused.
fn stop_accepting(listener: TcpListener, waiting: Option<TcpStream>) -> Vec<TcpStream> {
    let mut accepted: Vec<TcpStream> = waiting.into_iter().collect();
    // Straight to the socket: tokio's listener would not try while it has seen no readiness.
    let Ok(listener) = listener.into_std() else {
        return accepted;
    };
    while let Ok((tcp, _)) = listener.accept() {
        // accept(2) does not pass on the listener's non-blocking mode.
        match tcp.set_nonblocking(true).and_then(|()| TcpStream::from_std(tcp)) {
            Ok(tcp) => accepted.push(tcp),
            Err(error) => tracing::warn!(%error, "cannot serve a connection accepted while stopping"),
        }
    }
    drop(listener);
    accepted
}

/// Answers what is in flight with `Connection: close` and closes what is not: idle connections
/// at once, silent ones after the first-byte timeout; whatever is left at the end of the grace
/// period is closed as the process exits.
async fn drain(registry: &Registry, limits: &ConnectionLimits) {
    let started = Instant::now();
    registry.drain(false);
    closed_by(registry, started + limits.first_byte_timeout.min(limits.shutdown_grace)).await;
    registry.drain(true);
    match closed_by(registry, started + limits.shutdown_grace).await {
        0 => tracing::info!("stopped"),
        open => tracing::warn!(
            open,
            grace_ms = limits.shutdown_grace.as_millis() as u64,
            "stopped: closing the connections still open after the grace period"
        ),
    }
}

/// Waits until every connection is closed, or until `deadline`; the number still open.
async fn closed_by(registry: &Registry, deadline: Instant) -> usize {
    loop {
        let open = registry.open();
        if open == 0 {
            return 0;
        }
        tokio::select! {
            () = registry.one_ended() => {}
            () = tokio::time::sleep_until(deadline) => return registry.open(),
        }
    }
}

/// A failed accept: a connection that went away before it was accepted is nothing; anything
/// else (no file descriptor left) is logged once while it lasts, and treated as pressure: the
/// connection that would give way to a new one is closed, and the next accept waits a moment
/// instead of spinning. True when the shutdown signal came meanwhile.
async fn accept_failed(
    error: &std::io::Error,
    failing: &mut bool,
    registry: &Registry,
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
    let pause = if registry.make_room() { 10 } else { 100 };
    tokio::select! {
        () = tokio::time::sleep(Duration::from_millis(pause)) => false,
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
