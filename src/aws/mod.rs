//! AWS at run time: connection strings kept in Secrets Manager or SSM, read at start
//! ([`resolve`]) and again while serving ([`KeyRefresher`]), through the process's HTTP stack
//! (`http`). Which settings are such references, and how often they are read, is the
//! settings' business (`settings::aws_references`).

mod http;
mod refresh;
mod secrets;

pub use refresh::{KeyRefresher, KeyRefresherBuilder};
pub use secrets::{AwsReferences, resolve};
