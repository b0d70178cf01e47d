//! Starts the negotiate function on the host the environment names: AWS Lambda when
//! `AWS_LAMBDA_RUNTIME_API` is set, the Azure Functions host when `FUNCTIONS_CUSTOMHANDLER_PORT`
//! is set, a local server on `SIGNALR_LISTEN` (default 127.0.0.1:7071) otherwise. `check`
//! loads the same settings and reports on them instead (`--help` lists everything).

use std::process::ExitCode;
use std::sync::Arc;

use signalr_negotiate::cli::{self, Command};
use signalr_negotiate::{
    App, CheckOptions, Environment, Host, Settings, StartupError, check, init_logging, report_init_error,
    resolve_aws_references, serve,
};

fn main() -> ExitCode {
    let command = match cli::parse(std::env::args().skip(1)) {
        Ok(Command::Help) => {
            print!("{}", cli::usage());
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!("signalr-negotiate {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Ok(command) => command,
        Err(error) => {
            eprintln!("signalr-negotiate: {error}\n\n{}", cli::usage());
            return ExitCode::from(2);
        }
    };
    let env = Environment::from_process();
    let host = Host::detect(&env);
    // Lambda hands us one request at a time, `check` makes a few, and a refusal one report:
    // one thread starts faster.
    let runtime = if matches!(host, Ok(Host::Local(_) | Host::Functions { .. })) && command == Command::Serve {
        tokio::runtime::Builder::new_multi_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    };
    match runtime {
        Ok(runtime) => runtime.block_on(async {
            match host {
                Ok(host) => run(command, &env, host).await,
                Err(error) => refuse(&env, command, &error.into()).await,
            }
        }),
        Err(error) => {
            eprintln!("signalr-negotiate: cannot start the async runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, process: &Environment, host: Host) -> ExitCode {
    // Values kept in AWS (Secrets Manager, SSM) are read before anything else, and again while
    // serving (SIGNALR_SECRET_REFRESH_SECONDS).
    let (env, aws) = match resolve_aws_references(process.clone()).await {
        Ok(resolved) => resolved,
        Err(error) => return refuse(process, command, &error.into()).await,
    };
    let settings = match Settings::from_environment(&env, host) {
        Ok(settings) => settings,
        Err(error) => return refuse(process, command, &error.into()).await,
    };
    // Written out when it is dropped, at the end of this function: nothing logged is lost while
    // standard output reads (a stuck one is waited for at most the grace period).
    let grace = settings.connections.shutdown_grace;
    let _logs = (command == Command::Serve).then(|| init_logging(host, settings.log_filter.as_deref(), grace));
    for warning in settings.warnings.iter().filter(|_| command == Command::Serve) {
        // A warning may quote a part of a setting (a misspelt key): a field, never the message.
        tracing::warn!(%warning, "a setting may not do what was meant");
    }
    // `check --offline` starts nothing that calls out (the health probes of several endpoints).
    let offline = matches!(command, Command::Check { offline: true, .. });
    let app = match App::build(&settings, &aws, !offline) {
        Ok(app) => app,
        Err(error) => return refuse(process, command, &error).await,
    };
    match command {
        Command::Check { hub, user, offline } => {
            let options = CheckOptions {
                hub: &hub,
                user: user.as_deref(),
                offline,
            };
            check(&env, &settings, &app, options).await
        }
        _ => {
            let refresher = app.key_refresher().cloned();
            serve(&settings, signalr_negotiate::router(Arc::new(app)), refresher).await
        }
    }
}

/// What stops the start: a setting (its name and the reason, never its value) exits with 2,
/// anything else with 1. Serving on Lambda, the Runtime API is told too (its init error), so
/// the invoke fails with the reason rather than waiting.
async fn refuse(env: &Environment, command: Command, error: &StartupError) -> ExitCode {
    eprintln!("signalr-negotiate: {error}");
    let (code, error_type) = match error {
        StartupError::Setting(_) => (ExitCode::from(2), "Runtime.InvalidSetting"),
        StartupError::HttpClient(_) => (ExitCode::FAILURE, "Runtime.InitError"),
    };
    if let (Some(runtime_api), Command::Serve) = (Host::lambda_runtime_api(env), command) {
        report_init_error(runtime_api, error_type, &format!("signalr-negotiate: {error}")).await;
    }
    code
}
