//! Starts the negotiate function on the host the environment names: AWS Lambda when
//! `AWS_LAMBDA_RUNTIME_API` is set, the Azure Functions host when `FUNCTIONS_CUSTOMHANDLER_PORT`
//! is set, a local server on `SIGNALR_LISTEN` (default 127.0.0.1:7071) otherwise.

use std::process::ExitCode;

use signalr_negotiate::config::{Config, Host};
use signalr_negotiate::{app, host, telemetry};

fn main() -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("signalr-negotiate: {error}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(config.host);
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    // Lambda hands us one request at a time: one thread starts faster and is enough.
    let runtime = match config.host {
        Host::Lambda => tokio::runtime::Builder::new_current_thread().enable_all().build(),
        Host::Functions(_) | Host::Local(_) => tokio::runtime::Builder::new_multi_thread().enable_all().build(),
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    // Credentials may spawn tasks: build them inside the runtime.
    let router = match runtime.block_on(async { app::build(&config) }) {
        Ok(router) => router,
        Err(error) => {
            eprintln!("signalr-negotiate: {error}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(host::serve(config.host, router))
}
