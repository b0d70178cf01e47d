//! The Azure SignalR service's REST API, as this function calls it with Microsoft Entra ID.

mod rest_api;

pub use rest_api::{ServiceApi, UpstreamError, UpstreamLimits};
