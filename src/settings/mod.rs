//! Settings, read once from the environment at start.
//!
//! Every setting is declared once in [`table`]. Every mistake is found here, before the first
//! request, and reported with the name of the setting at fault; a value is never echoed,
//! since connection strings hold keys (only an entry of a list that holds no secret, a CORS
//! origin, is named, so that the user can tell which one to fix). The domain types built
//! here ([`ServiceEndpoint`], [`TokenPolicy`], [`CallerPolicy`], …) are what the
//! composition root assembles.

mod aws_references;
mod caller;
mod connection_names;
mod endpoints;
mod environment;
mod identity_based;
mod references;
mod serving;
mod setting;
pub mod table;
#[cfg(test)]
mod testing;
mod tokens;
mod upstream;
mod webpubsub;

use crate::caller::{CallerPolicy, OidcSettings};
use crate::endpoints::{HealthSchedule, ServiceEndpoint};
use crate::entra::EntraOverrides;
use crate::hub::HubName;
use crate::service::UpstreamLimits;
use crate::tokens::{EntraMode, TokenPolicy};
use crate::url_rules::AllowedOrigin;

pub(crate) use aws_references::{SecretReference, aws_references};
pub(crate) use endpoints::connection_string_endpoint;
pub use environment::{Environment, SettingError};
pub use serving::{ConnectionLimits, Host};
pub use webpubsub::WebPubSubSettings;

/// Everything the function is configured with.
#[derive(Debug)]
pub struct Settings {
    /// The SignalR instances, in configuration order (none when only Web PubSub is configured).
    pub endpoints: Vec<ServiceEndpoint>,
    /// Azure Web PubSub, when a Web PubSub connection string is set.
    pub webpubsub: Option<WebPubSubSettings>,
    /// Route prefix without leading or trailing `/` (`api` by default; may be empty).
    pub route_prefix: String,
    /// Hub for `/{prefix}/negotiate` without `?hub=`.
    pub default_hub: Option<HubName>,
    /// When set, the only hubs served (lower-case).
    pub allowed_hubs: Option<Vec<String>>,
    /// `SIGNALR_APPLICATION_NAME`: prefix of hub names in the service.
    pub application_name: Option<String>,
    /// Lifetime and unique claim of every token.
    pub token_policy: TokenPolicy,
    /// How Entra endpoints get client tokens.
    pub entra_mode: EntraMode,
    /// The Entra scope and authority the settings give instead of each endpoint's cloud.
    pub entra: EntraOverrides,
    /// Bounds on calls to Entra and the service's REST API.
    pub upstream: UpstreamLimits,
    /// When health probes run, and their retries (with more than one endpoint).
    pub health: HealthSchedule,
    /// How often connection strings read from AWS are read again; `None`: never.
    pub secret_refresh: Option<std::time::Duration>,
    /// Browser origins allowed to call negotiate (`SIGNALR_CORS_ORIGINS`); `None` turns CORS off.
    pub cors_origins: Option<Vec<AllowedOrigin>>,
    /// Where the caller's identity comes from, and which claims reach the token.
    pub caller: CallerPolicy,
    /// The OIDC provider, when `oidc` is a source.
    pub oidc: Option<OidcSettings>,
    /// Where the binary serves from.
    pub host: Host,
    /// Timeouts and the connection cap of the HTTP hosts.
    pub connections: ConnectionLimits,
    /// On Lambda: lambda_http leaves the API Gateway stage out of the request's URL
    /// (`AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH`).
    pub ignore_stage_in_path: bool,
    /// `RUST_LOG`, when set.
    pub log_filter: Option<String>,
    /// Things to log once logging is up (the settings are read before).
    pub warnings: Vec<String>,
}

impl Settings {
    /// Reads settings from `(name, value)` pairs (a test's own, or the environment's).
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Result<Self, SettingError> {
        let env = Environment::new(vars);
        Self::from_environment(&env, Host::detect(&env)?)
    }

    /// Reads settings from the environment, for a host already detected.
    pub fn from_environment(env: &Environment, host: Host) -> Result<Self, SettingError> {
        env.unambiguous()?;
        references::refuse_unresolved(env)?;
        let mut warnings = Vec::new();
        let endpoints::Endpoints {
            signalr: endpoints,
            webpubsub,
        } = endpoints::endpoints(env, host, &mut warnings)?;
        let hubs = serving::hubs(env)?;
        let entra_mode = upstream::entra_mode(env, &endpoints, &mut warnings)?;
        let entra = upstream::entra_overrides(env)?;
        let webpubsub = webpubsub::webpubsub(env, webpubsub, &entra, entra_mode, &mut warnings)?;
        if let (Some(_), Some(hub)) = (&webpubsub, &hubs.default_hub) {
            if let Err(error) = hub.check_webpubsub() {
                return Err(SettingError::new(table::HUB.name, error.to_string()));
            }
        }
        let token_policy = tokens::token_policy(env, endpoints.len())?;
        let (caller, oidc) = caller::caller(env, token_policy.unique_claim.as_deref(), host, &mut warnings)?;
        tokens::claims_fit(&endpoints, &hubs, &token_policy, &caller)?;
        if host == Host::Lambda {
            serving::lambda_runtime(env)?;
        }
        Ok(Self {
            endpoints,
            webpubsub,
            route_prefix: serving::route_prefix(env)?,
            default_hub: hubs.default_hub,
            allowed_hubs: hubs.allowed_hubs,
            application_name: hubs.application_name,
            token_policy,
            entra_mode,
            entra,
            upstream: upstream::upstream_limits(env)?,
            health: upstream::health_schedule(env)?,
            secret_refresh: aws_references::refresh_period(env)?,
            cors_origins: serving::cors_origins(env)?,
            caller,
            oidc,
            host,
            connections: serving::connection_limits(env)?,
            ignore_stage_in_path: serving::ignore_stage_in_path(env),
            log_filter: env.value(&table::RUST_LOG).map(str::to_owned),
            warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::testing::config;
    use super::*;

    #[test]
    fn nothing_set_serves_the_emulator_default_with_a_warning() {
        let config = config(&[]).unwrap();
        assert_eq!(config.endpoints.len(), 1);
        assert_eq!(
            config.endpoints[0].client_url("chat", "r"),
            "http://localhost:8999/client/?hub=chat&asrs_request_id=r"
        );
        assert_eq!(config.warnings.len(), 1);
        assert!(config.warnings[0].contains("emulator"));
        assert_eq!(config.route_prefix, "api");
        assert_eq!(config.token_policy, TokenPolicy::default());
        assert_eq!(
            config.health,
            HealthSchedule {
                interval: Duration::from_secs(120),
                retry_spacing: Duration::from_secs(3),
            },
            "the SDK's CheckInterval and RetryInterval"
        );
        assert_eq!(config.host, Host::Local("127.0.0.1:7071".parse().unwrap()));
    }
}
