//! Logging: JSON lines where a host collects logs (Lambda, Functions), text locally.
//!
//! The level comes from `RUST_LOG` (default `info`). Nothing logged here or elsewhere carries
//! a key, a secret or a token: those types print as `<redacted>`.

use tracing_subscriber::EnvFilter;

use crate::config::Host;

pub fn init(host: Host) {
    let (filter, bad_filter) = match EnvFilter::try_from_default_env() {
        Ok(filter) => (filter, false),
        Err(error) => {
            let unset = matches!(std::env::var("RUST_LOG"), Err(std::env::VarError::NotPresent));
            (EnvFilter::new("info"), !unset && !error.to_string().is_empty())
        }
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .with_target(false)
        // Colours only for a person at a terminal, not in files and collectors.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    match host {
        Host::Lambda | Host::Functions(_) => builder.json().flatten_event(true).with_current_span(false).init(),
        Host::Local(_) => builder.init(),
    }
    if bad_filter {
        tracing::warn!("RUST_LOG could not be parsed; logging at info");
    }
}
