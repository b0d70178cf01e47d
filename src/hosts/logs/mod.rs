//! Logging: JSON lines where a host collects logs (Lambda, Functions), text locally, written in
//! batches off the request path; a log sink that stops reading never holds up a request, and
//! is waited for a bounded time only (at the end of a Lambda invocation, at exit).
//!
//! The level comes from `RUST_LOG` (default `info`). Nothing logged here or elsewhere carries
//! a key, a secret or a token: those types print as `<redacted>`.

mod batch;
#[cfg(test)]
pub(crate) mod captured;
mod format;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use batch::{Batch, BatchWriter};
use format::{JsonLines, TextLines};
use tracing::Subscriber;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;

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

/// The batch of the process's log lines, once logging has started.
static BATCH: OnceLock<Arc<Batch>> = OnceLock::new();
/// When SIGTERM or Ctrl-C came: the wait for the sink at exit counts from then.
static SHUTDOWN: OnceLock<Instant> = OnceLock::new();

/// On Lambda, the longest an invocation waits for its lines to be written before its answer is
/// posted, and the process at exit. Lambda's own pipe reads at once; should it stop, the first
/// invocation loses a second, the next ones nothing (a writer given up on is not waited for
/// again until it writes), and their lines wait in the buffer or are counted as dropped.
const LAMBDA_WAIT: Duration = Duration::from_secs(1);
/// At exit, the sink is waited for at least this long, whatever the grace period: a sink that
/// reads takes a few milliseconds, and no line of it is lost.
const LEAST_EXIT_WAIT: Duration = Duration::from_millis(250);

/// Logging, started; dropping it writes the lines still buffered (at exit), waiting for the
/// sink until the grace period after SIGTERM (or from now) is over.
#[must_use = "dropping it at once ends batching early"]
pub struct Logs {
    exit_wait: Duration,
}

impl Drop for Logs {
    fn drop(&mut self) {
        if let Some(batch) = BATCH.get() {
            let now = Instant::now();
            let from = SHUTDOWN.get().copied().unwrap_or(now);
            let until = (from + self.exit_wait).max(now + LEAST_EXIT_WAIT);
            batch.flush(until - now);
        }
    }
}

/// Starts logging for the host, at the level `RUST_LOG` (`log_filter`) asks for. Lines are
/// batched and written by a thread of their own; on Lambda also at the end of each invocation
/// ([`flush`]). At exit, what is left is written, waiting for the sink at most `grace` after
/// SIGTERM (on Lambda, [`LAMBDA_WAIT`]).
pub fn init(host: Host, log_filter: Option<&str>, grace: Duration) -> Logs {
    let batch = BATCH.get_or_init(Batch::new);
    batch.write_in_background();
    let (subscriber, bad_filter) = subscriber(host, log_filter, BatchWriter(Arc::clone(batch)));
    let _ = tracing::subscriber::set_global_default(subscriber);
    if bad_filter {
        tracing::warn!("RUST_LOG could not be parsed; logging at info");
    }
    let exit_wait = if host == Host::Lambda { LAMBDA_WAIT } else { grace };
    Logs { exit_wait }
}

/// Notes that the process was asked to stop: the wait for the sink at exit counts from now.
pub fn shutdown_started() {
    let _ = SHUTDOWN.set(Instant::now());
}

/// The host's log format (JSON lines on Lambda and the Functions host, text locally) at the
/// level `RUST_LOG` (`log_filter`) asks for, each line written with `writer`; and whether the
/// filter could not be read (info is used then).
pub fn subscriber<W>(host: Host, log_filter: Option<&str>, writer: W) -> (Box<dyn Subscriber + Send + Sync>, bool)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let (filter, bad_filter) = filter_from(log_filter);
    let builder = tracing_subscriber::fmt()
        // The format's own ceiling is INFO unless raised: `filter` alone decides the level.
        .with_max_level(LevelFilter::TRACE)
        .with_writer(writer)
        .with_target(false)
        // Colours only for a person at a terminal, not in files and collectors.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    let subscriber: Box<dyn Subscriber + Send + Sync> = match host {
        Host::Lambda | Host::Functions { .. } => Box::new(builder.event_format(JsonLines).finish().with(filter)),
        Host::Local(_) => Box::new(builder.event_format(TextLines).finish().with(filter)),
    };
    (subscriber, bad_filter)
}

/// Writes the buffered lines now (the end of a Lambda invocation), waiting for the sink at
/// most [`LAMBDA_WAIT`].
pub fn flush() {
    if let Some(batch) = BATCH.get() {
        batch.flush(LAMBDA_WAIT);
    }
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::captured::Captured;
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

    /// The lines a subscriber for `rust_log` writes of an info and a debug event.
    fn lines_at(rust_log: Option<&str>) -> String {
        let captured = Captured::default();
        let (subscriber, _) = subscriber(Host::Local(([127, 0, 0, 1], 0).into()), rust_log, captured.clone());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("an info line");
            tracing::debug!("a debug line");
        });
        captured.text()
    }

    #[test]
    fn debug_lines_are_written_when_rust_log_asks_for_them() {
        let info = lines_at(None);
        assert!(
            info.contains("an info line") && !info.contains("a debug line"),
            "{info}"
        );
        for debug in ["debug", "signalr_negotiate=debug", "warn,signalr_negotiate=trace"] {
            let lines = lines_at(Some(debug));
            assert!(lines.contains("a debug line"), "{debug}: {lines}");
        }
        assert!(!lines_at(Some("warn")).contains("an info line"));
    }

    #[test]
    fn an_unreadable_rust_log_falls_back_to_info_and_says_so() {
        let (filter, bad) = filter_from(Some("signalr_negotiate=loud"));
        assert!(bad);
        assert!(enabled(&filter, "signalr_negotiate", Level::INFO));
        assert!(!filter_from(Some("  ")).1);
    }
}
