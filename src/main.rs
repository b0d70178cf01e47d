//! Starts the negotiate function on the host the environment names: AWS Lambda when
//! `AWS_LAMBDA_RUNTIME_API` is set, the Azure Functions host when `FUNCTIONS_CUSTOMHANDLER_PORT`
//! is set, a local server on `SIGNALR_LISTEN` (default 127.0.0.1:7071) otherwise. `check`
//! loads the same configuration and reports on it instead (`--help` lists everything).

use std::process::ExitCode;

use signalr_negotiate::cli::{self, Command};
use signalr_negotiate::config::{self, Config, ConfigError};
use signalr_negotiate::negotiate::Negotiator;
use signalr_negotiate::{app, aws_secrets, check, host, telemetry};

fn main() -> ExitCode {
    let command = match cli::parse(std::env::args().skip(1)) {
        Ok(command) => command,
        Err(error) => {
            eprintln!("signalr-negotiate: {error}\n\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Help => {
            print!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Command::Version => {
            println!("signalr-negotiate {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Command::Serve | Command::Check { .. } => {}
    }
    // Lambda hands us one request at a time: one thread starts faster and is enough.
    let on_lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some_and(|v| !v.is_empty());
    let runtime = if on_lambda || command != Command::Serve {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().enable_all().build()
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("signalr-negotiate: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(command))
}

async fn run(command: Command) -> ExitCode {
    // Values kept in AWS (Secrets Manager, SSM) are read once, before anything else.
    let vars = match aws_secrets::resolve(config::environment()).await {
        Ok(vars) => vars,
        Err(error) => return refuse(&error),
    };
    let config = match Config::from_vars(vars) {
        Ok(config) => config,
        Err(error) => return refuse(&error),
    };
    match command {
        Command::Check { hub, user } => match Negotiator::new(&config) {
            Ok(negotiator) => check::run(&config, &negotiator, &hub, user.as_deref()).await,
            Err(error) => refuse(&error),
        },
        _ => {
            telemetry::init(config.host);
            for warning in &config.warnings {
                tracing::warn!("{warning}");
            }
            match app::build(&config) {
                Ok(router) => host::serve(config.host, router).await,
                Err(error) => refuse(&error),
            }
        }
    }
}

/// A setting that stops the start: its name and the reason, never its value; exit code 2.
fn refuse(error: &ConfigError) -> ExitCode {
    eprintln!("signalr-negotiate: {error}");
    ExitCode::from(2)
}
