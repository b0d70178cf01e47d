//! The services as this function calls them: their REST API (`generateToken` and SignalR's
//! temporary key with Microsoft Entra ID while serving, and the read-only users call `check`
//! makes), and their client side (what `check` does with a sample token: SignalR's client
//! negotiate, Web PubSub's connect).

mod answer;
mod client;
mod rest_api;

pub use client::{NegotiateAnswerError, check_negotiate_body, negotiate_url};
#[cfg(test)]
pub use rest_api::Call;
pub use rest_api::{GenerateToken, ServiceApi, UpstreamError, UpstreamLimits, UserProbe};
