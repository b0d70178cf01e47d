//! Logging: JSON lines where a host collects logs (Lambda, Functions), text locally.
//!
//! The level comes from `RUST_LOG` (default `info`). Nothing logged here or elsewhere carries
//! a key, a secret or a token: those types print as `<redacted>`.

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use super::Host;

/// `RUST_LOG` as a list of `target=level` directives and a default level (`info`, `off`,
/// `signalr_negotiate=debug,info`); returns whether it was set but could not be read.
fn filter_from(rust_log: Option<&str>) -> (Targets, bool) {
    let default = || Targets::new().with_default(LevelFilter::INFO);
    match rust_log.map(str::trim).filter(|text| !text.is_empty()) {
        None => (default(), false),
        Some(text) => match text.parse::<Targets>() {
            Ok(targets) => (targets, false),
            Err(_) => (default(), true),
        },
    }
}

/// Starts logging for the host, at the level `RUST_LOG` (`log_filter`) asks for.
pub fn init(host: Host, log_filter: Option<&str>) {
    let (filter, bad_filter) = filter_from(log_filter);
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stdout)
        .with_target(false)
        // Colours only for a person at a terminal, not in files and collectors.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    match host {
        Host::Lambda | Host::Functions(_) => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .finish()
            .with(filter)
            .init(),
        Host::Local(_) => builder.finish().with(filter).init(),
    }
    if bad_filter {
        tracing::warn!("RUST_LOG could not be parsed; logging at info");
    }
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::*;

    fn enabled(filter: &Targets, target: &str, level: Level) -> bool {
        filter.would_enable(target, &level)
    }

    #[test]
    fn rust_log_sets_the_default_level_and_per_target_levels() {
        let (filter, bad) = filter_from(None);
        assert!(!bad);
        assert!(enabled(&filter, "signalr_negotiate", Level::INFO));
        assert!(!enabled(&filter, "signalr_negotiate", Level::DEBUG));

        let (filter, bad) = filter_from(Some("off"));
        assert!(!bad);
        assert!(!enabled(&filter, "signalr_negotiate", Level::ERROR));

        let (filter, _) = filter_from(Some("warn,signalr_negotiate=debug"));
        assert!(enabled(&filter, "signalr_negotiate::negotiate", Level::DEBUG));
        assert!(!enabled(&filter, "hyper", Level::INFO));
        assert!(enabled(&filter, "hyper", Level::WARN));
    }

    #[test]
    fn an_unreadable_rust_log_falls_back_to_info_and_says_so() {
        let (filter, bad) = filter_from(Some("signalr_negotiate=loud"));
        assert!(bad);
        assert!(enabled(&filter, "signalr_negotiate", Level::INFO));
        assert!(!filter_from(Some("  ")).1);
    }
}
