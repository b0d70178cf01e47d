//! The integration tests, as one test binary: one link of the crate and both cloud SDKs instead
//! of one per subject. Each module is a subject: the router in-process (`router`, `hostile`,
//! `cors`, `identity`), the real binary under each host (and under `cargo lambda watch`) and
//! against fake upstreams, moto and the official SignalR client, and the property tests;
//! `common` holds what they share.

mod common;

mod aws_secrets;
mod cargo_lambda;
mod check;
mod clouds;
mod cold_start;
mod connection_options;
mod cors;
mod deployed;
mod endpoints;
mod entra;
mod functions_host;
mod hostile;
mod identity;
mod interop;
mod lambda_runtime;
mod login_bound;
mod logs;
mod properties;
mod router;
mod server;
mod startup;
mod upstream_faults;
mod webpubsub;
