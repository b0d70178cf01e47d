//! The three hosts — the Lambda Runtime API, the Azure Functions host, a local HTTP server —
//! each serving the one router until it stops; which one is decided once, from the
//! environment ([`Host::detect`]).

mod lambda;
mod lambda_event;
pub mod logs;
mod server;

use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;

use crate::aws::KeyRefresher;
pub use crate::settings::Host;
use crate::settings::Settings;
pub use lambda::{prepare as lambda_request, report_init_error};

/// Serves the router on the settings' host until it stops (or, for HTTP, until SIGTERM or
/// Ctrl-C), within their connection limits. With a `refresher`, keys kept in AWS are read again
/// while serving: in the background on the HTTP hosts, from the first invocation after each
/// period on Lambda.
pub async fn serve(settings: &Settings, router: Router, refresher: Option<Arc<KeyRefresher>>) -> ExitCode {
    let (host, limits) = (settings.host, settings.connections);
    if let Some(refresher) = refresher.clone().filter(|_| host != Host::Lambda) {
        tokio::spawn(refresher.run());
    }
    match host {
        Host::Lambda => lambda::serve(router, refresher, settings.ignore_stage_in_path).await,
        Host::Functions { addr, .. } => {
            let announce = |addr| tracing::info!(%addr, "serving the Azure Functions host");
            server::serve(addr, router, server::from_functions_host, limits, announce).await
        }
        Host::Local(addr) => {
            let announce = |addr| tracing::info!("listening on http://{addr}");
            server::serve(addr, router, server::as_is, limits, announce).await
        }
    }
}

/// SIGTERM (the Functions host, Lambda, a container runtime) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    logs::shutdown_started();
    tracing::info!("shutting down: finishing requests in flight");
}
