//! Endpoint health, for more than one endpoint: `HEAD {ServerEndpoint}/api/health?api-version=2022-06-01`
//! (no auth, 2 s timeout, any 2xx is healthy), probed at start and then in the background
//! every interval (2 minutes by default, as the SDK). A request never waits on a probe once
//! the first round is known. A failed token call marks an endpoint offline at once
//! ([`HealthBoard::mark_offline`]); the next probe that succeeds brings it back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use super::ServiceEndpoint;

/// Timeout of one probe.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Online or not, per endpoint (by index), with the names for logs.
#[derive(Debug)]
pub struct HealthBoard {
    names: Vec<String>,
    online: Vec<AtomicBool>,
    first_round: watch::Receiver<bool>,
}

impl HealthBoard {
    /// Whether the endpoint at `index` is online.
    pub fn is_online(&self, index: usize) -> bool {
        self.online[index].load(Ordering::Relaxed)
    }

    /// Records a state; logs only changes.
    pub fn set(&self, index: usize, online: bool, why: &str) {
        let was = self.online[index].swap(online, Ordering::Relaxed);
        if was != online {
            let name = display_name(&self.names[index]);
            if online {
                tracing::info!(endpoint = name, "SignalR endpoint is online");
            } else {
                tracing::warn!(endpoint = name, reason = why, "SignalR endpoint is offline");
            }
        }
    }

    pub fn mark_offline(&self, index: usize, why: &str) {
        self.set(index, false, why);
    }

    /// Waits (at most one probe timeout) for the first round of probes.
    pub async fn first_round(&self) {
        let mut ready = self.first_round.clone();
        let _ = tokio::time::timeout(PROBE_TIMEOUT + Duration::from_millis(500), ready.wait_for(|done| *done)).await;
    }
}

fn display_name(name: &str) -> &str {
    if name.is_empty() { "(default)" } else { name }
}

/// Starts probing each endpoint's server in the background, every `interval`.
pub fn start(endpoints: &[ServiceEndpoint], http: reqwest::Client, interval: Duration) -> Arc<HealthBoard> {
    let names: Vec<String> = endpoints.iter().map(|e| e.name().to_owned()).collect();
    let server_bases: Vec<String> = endpoints.iter().map(|e| e.server_base().to_owned()).collect();
    let (done, first_round) = watch::channel(false);
    let board = Arc::new(HealthBoard {
        online: names.iter().map(|_| AtomicBool::new(true)).collect(),
        names,
        first_round,
    });
    let probing = Arc::clone(&board);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let results = futures_util::future::join_all(server_bases.iter().map(|base| probe(&http, base))).await;
            for (index, result) in results.into_iter().enumerate() {
                match result {
                    Ok(()) => probing.set(index, true, ""),
                    Err(why) => probing.set(index, false, &why),
                }
            }
            let _ = done.send(true);
        }
    });
    board
}

/// One health probe: `Ok` on any 2xx within the timeout.
pub async fn probe(http: &reqwest::Client, server_base: &str) -> Result<(), String> {
    let url = format!("{server_base}/api/health?api-version=2022-06-01");
    match http.head(&url).timeout(PROBE_TIMEOUT).send().await {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(format!("health probe answered {}", response.status().as_u16())),
        Err(error) if error.is_timeout() => Err("health probe timed out".to_owned()),
        Err(_) => Err("health probe could not connect".to_owned()),
    }
}
