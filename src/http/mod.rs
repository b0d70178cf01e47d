//! The HTTP edge: the router, its extractors, CORS, the platform's trace id of a request, and
//! the only place that turns domain errors into statuses and `{"error": "..."}`.

pub mod answer;
mod cors;
mod negotiate;
mod query;
mod router;
mod trace;

pub use answer::ApiError;
pub use negotiate::HostRequestId;
pub use router::router;
pub use trace::TraceHeader;
