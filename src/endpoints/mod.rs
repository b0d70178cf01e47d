//! Service endpoints, named as the SDK names them: connection strings, `ServiceEndpoint`, the
//! endpoint router that picks one per negotiate, and the health board it consults.

mod connection_string;
mod endpoint;
mod health;
mod router;

pub use connection_string::{
    Authentication, ConnectionString, ConnectionStringError, ConnectionStringWarning, EntraCredential,
    looks_like_connection_string,
};
pub use endpoint::{EndpointType, ServiceEndpoint};
pub use health::{HealthBoard, HealthSchedule, display_name, health_url, probe, start as start_health_probes};
pub use router::EndpointRouter;
