//! Starts the negotiate function on the host the environment names: AWS Lambda when
//! `AWS_LAMBDA_RUNTIME_API` is set, the Azure Functions host when `FUNCTIONS_CUSTOMHANDLER_PORT`
//! is set, a local server on `SIGNALR_LISTEN` (default 127.0.0.1:7071) otherwise. `check`
//! loads the same settings and reports on them instead (`--help` lists everything).

use std::process::ExitCode;
use std::sync::Arc;

use signalr_negotiate::cli::{self, Command};
use signalr_negotiate::{
    App, Environment, Host, Settings, StartupError, check, init_logging, resolve_aws_references, serve,
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
    let host = match Host::detect(&env) {
        Ok(host) => host,
        Err(error) => return refuse(&error.into()),
    };
    // Lambda hands us one request at a time, and `check` makes a few: one thread starts faster.
    let runtime = if host == Host::Lambda || command != Command::Serve {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().enable_all().build()
    };
    match runtime {
        Ok(runtime) => runtime.block_on(run(command, env, host)),
        Err(error) => {
            eprintln!("signalr-negotiate: cannot start the async runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, env: Environment, host: Host) -> ExitCode {
    // Values kept in AWS (Secrets Manager, SSM) are read once, before anything else.
    let env = match resolve_aws_references(env).await {
        Ok(env) => env,
        Err(error) => return refuse(&error.into()),
    };
    let settings = match Settings::from_environment(&env, host) {
        Ok(settings) => settings,
        Err(error) => return refuse(&error.into()),
    };
    // Written out when it is dropped, at the end of this function: nothing logged is lost.
    let _logs = (command == Command::Serve).then(|| init_logging(host, settings.log_filter.as_deref()));
    for warning in settings.warnings.iter().filter(|_| command == Command::Serve) {
        tracing::warn!("{warning}");
    }
    let app = match App::new(&settings) {
        Ok(app) => app,
        Err(error) => return refuse(&error),
    };
    match command {
        Command::Check { hub, user } => check(&env, &settings, &app, &hub, user.as_deref()).await,
        _ => serve(host, settings.connections, signalr_negotiate::router(Arc::new(app))).await,
    }
}

/// What stops the start: a setting (its name and the reason, never its value) exits with 2,
/// anything else with 1.
fn refuse(error: &StartupError) -> ExitCode {
    eprintln!("signalr-negotiate: {error}");
    match error {
        StartupError::Setting(_) => ExitCode::from(2),
        StartupError::Runtime(_) => ExitCode::FAILURE,
    }
}
