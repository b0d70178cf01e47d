//! The three hosts: the Lambda Runtime API, the Azure Functions host, a local HTTP server.

use std::process::ExitCode;

use axum::Router;
use axum::serve::ListenerExt as _;
use tokio::net::TcpListener;

use crate::app;
use crate::config::Host;

/// Serves the router on the host until it stops (or, for HTTP, until SIGTERM or Ctrl-C).
pub async fn serve(host: Host, router: Router) -> ExitCode {
    match host {
        // Lambda sends SIGTERM only between invocations (when the environment shuts down).
        Host::Lambda => {
            let runtime = lambda_http::run(
                tower::ServiceBuilder::new()
                    .map_request(app::on_raw_event_path::<lambda_http::Body>)
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
                () = shutdown_signal() => ExitCode::SUCCESS,
            }
        }
        Host::Functions(addr) | Host::Local(addr) => {
            let listener = match TcpListener::bind(addr).await {
                Ok(listener) => listener,
                Err(error) => {
                    tracing::error!(%addr, %error, "cannot listen");
                    return ExitCode::FAILURE;
                }
            };
            let local = listener.local_addr().unwrap_or(addr);
            match host {
                Host::Functions(_) => {
                    tracing::info!(addr = %local, "serving the Azure Functions host")
                }
                _ => tracing::info!("listening on http://{local}"),
            }
            // Answers are small: send each at once rather than wait for an ACK (Nagle).
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            match axum::serve(listener, router)
                .with_graceful_shutdown(shutdown_signal())
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
    tracing::info!("shutting down: finishing requests in flight");
}
