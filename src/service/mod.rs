//! The Azure SignalR service as this function calls it: its REST API (with Microsoft Entra ID
//! while serving, and the read-only users call `check` makes), and its client side (the client
//! negotiate `check` makes with a sample token).

mod answer;
mod client;
mod rest_api;

pub use client::{NegotiateAnswerError, check_negotiate_body, negotiate_url};
#[cfg(test)]
pub use rest_api::Call;
pub use rest_api::{GenerateToken, ServiceApi, UpstreamError, UpstreamLimits, UserProbe};
