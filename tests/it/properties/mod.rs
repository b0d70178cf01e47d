//! Property tests, one module per subject as in `fuzz/fuzz_targets/`: the connection-string
//! parser, hub names, the client URL and audience, and App Service's client principal, each
//! checked against a definition written here rather than against the code's own helpers.
//!
//! `PROPTEST_CASES=N` runs every property N times instead of its default count. A failure
//! prints the shrunk input; regressions are not written to disk, so add a unit test for it.

mod client_principal;
mod client_url;
mod connection_string;
mod hub_name;

use proptest::prelude::ProptestConfig;

/// `cases` runs (or `PROPTEST_CASES`), and no regression files next to this source.
pub(super) fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}
