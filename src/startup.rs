//! The composition root: from the settings, the one HTTP client, the REST API client, the OIDC
//! verifier, each endpoint's token issuer and the health board, assembled into an [`App`] that
//! the HTTP edge serves and `check` samples. Nothing here runs per request.

use std::sync::Arc;
use std::time::Duration;

use crate::aws::{AwsReferences, KeyRefresher, KeyRefresherBuilder};
use crate::caller::{CallerResolver, OidcVerifier};
use crate::endpoints::{Authentication, EndpointRouter, start_health_probes};
use crate::http::TraceHeader;
use crate::hub::HubName;
use crate::negotiator::Negotiator;
use crate::service::{ServiceApi, UpstreamLimits};
use crate::settings::{Host, SettingError, Settings};
use crate::tokens::TokenIssuer;
use crate::url_rules::AllowedOrigin;

/// Everything serving needs, built once.
#[derive(Debug)]
pub struct App {
    negotiator: Negotiator,
    callers: CallerResolver,
    default_hub: Option<HubName>,
    route_prefix: String,
    cors_origins: Option<Vec<AllowedOrigin>>,
    body_timeout: Duration,
    upstream_deadline: Duration,
    http: Option<reqwest::Client>,
    query_values_joined: bool,
    trace_header: TraceHeader,
    key_refresher: Option<Arc<KeyRefresher>>,
}

/// Why the app could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A setting that cannot be served (a credential that cannot be built): exit code 2.
    #[error(transparent)]
    Setting(#[from] SettingError),
    /// The HTTP client could not be built (its TLS setup): a fault of this machine, not of the
    /// settings, exit code 1.
    #[error("the HTTP client could not be created: {0}")]
    HttpClient(#[source] reqwest::Error),
}

/// The process's one HTTP client for calls out (Entra, the REST API, health probes, OIDC keys);
/// the AWS SDK reads secrets at start, before this exists, over its own (`aws::http`).
/// It follows no redirect: each of those is called at an address the configuration names, and
/// a redirect elsewhere is an upstream fault (a token or a key from another origin must not
/// be taken for the configured one's).
pub fn http_client(limits: &UpstreamLimits) -> Result<reqwest::Client, StartupError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(limits.attempt_timeout)
        .pool_idle_timeout(Duration::from_secs(90))
        .user_agent(concat!("signalr-negotiate/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(StartupError::HttpClient)
}

impl App {
    /// Builds everything the settings describe; a credential that cannot be built stops the
    /// start. Must run inside a Tokio runtime when there are several endpoints (health probes).
    pub fn new(settings: &Settings) -> Result<Self, StartupError> {
        Self::with_aws(settings, &AwsReferences::default())
    }

    /// As [`App::new`], with the settings whose values were read from AWS: the keys of their
    /// endpoints are re-read every `SIGNALR_SECRET_REFRESH_SECONDS` by [`App::key_refresher`].
    pub fn with_aws(settings: &Settings, references: &AwsReferences) -> Result<Self, StartupError> {
        Self::build(settings, references, true)
    }

    /// As [`App::with_aws`]; without `probe_health`, the health of several endpoints is not
    /// probed in the background (each counts as online), so that nothing calls out at start.
    pub fn build(settings: &Settings, references: &AwsReferences, probe_health: bool) -> Result<Self, StartupError> {
        let uses_entra = settings
            .endpoints
            .iter()
            .any(|endpoint| matches!(endpoint.auth(), Authentication::MicrosoftEntra(_)));
        let several = settings.endpoints.len() > 1;
        // Made only when something calls out.
        let http = if uses_entra || settings.oidc.is_some() || several {
            Some(http_client(&settings.upstream)?)
        } else {
            None
        };
        let api = http
            .as_ref()
            .filter(|_| uses_entra)
            .map(|http| ServiceApi::new(http.clone(), settings.upstream));
        let oidc = settings
            .oidc
            .clone()
            .zip(http.clone())
            .map(|(oidc, http)| OidcVerifier::new(oidc, http));
        let policy = Arc::new(settings.token_policy.clone());
        let mut issuers = Vec::with_capacity(settings.endpoints.len());
        let mut refresher = KeyRefresherBuilder::new(references, settings.secret_refresh);
        for endpoint in &settings.endpoints {
            let policy = Arc::clone(&policy);
            let issuer = match refresher.as_mut().and_then(|refresher| refresher.watch(endpoint)) {
                Some(key) => TokenIssuer::rotating(endpoint.clone(), policy, key),
                None => TokenIssuer::new(
                    endpoint.clone(),
                    policy,
                    settings.entra_mode,
                    &settings.entra,
                    api.as_ref(),
                )
                .map_err(|error| SettingError::new(endpoint.source(), error.to_string()))?,
            };
            issuers.push(issuer);
        }
        let health = http
            .as_ref()
            .filter(|_| several && probe_health)
            .map(|http| start_health_probes(&settings.endpoints, http.clone(), settings.health));
        let negotiator = Negotiator::new(
            issuers,
            EndpointRouter::new(&settings.endpoints, health),
            settings.allowed_hubs.clone(),
            settings.application_name.clone(),
        );
        Ok(Self {
            negotiator,
            callers: CallerResolver::new(settings.caller.clone(), oidc),
            default_hub: settings.default_hub.clone(),
            route_prefix: settings.route_prefix.clone(),
            cors_origins: settings.cors_origins.clone(),
            body_timeout: settings.connections.body_timeout,
            upstream_deadline: settings.upstream.deadline,
            http,
            query_values_joined: matches!(settings.host, Host::Functions { .. }),
            trace_header: match settings.host {
                Host::Lambda => TraceHeader::XRay,
                Host::Functions { .. } | Host::Local(_) => TraceHeader::TraceParent,
            },
            key_refresher: refresher.and_then(KeyRefresherBuilder::build),
        })
    }

    /// Hub and caller in, URL and token out: what the negotiate route and `check` call.
    pub fn negotiator(&self) -> &Negotiator {
        &self.negotiator
    }

    /// Finds each request's caller from the configured sources.
    pub fn callers(&self) -> &CallerResolver {
        &self.callers
    }

    /// The hub of `/{prefix}/negotiate` without `?hub=`.
    pub fn default_hub(&self) -> Option<&HubName> {
        self.default_hub.as_ref()
    }

    /// The route prefix, without slashes (empty for the root).
    pub fn route_prefix(&self) -> &str {
        &self.route_prefix
    }

    /// Browser origins allowed to negotiate; `None` turns CORS off.
    pub fn cors_origins(&self) -> Option<&[AllowedOrigin]> {
        self.cors_origins.as_deref()
    }

    /// Whether a comma in a query value may be the host's join of a repeated parameter: the
    /// Functions host's forwarding rebuilds the query from ASP.NET Core's query collection,
    /// whose values for one key are joined with `,` (azure-functions-host,
    /// `HttpRequestExtensions.GetQueryCollectionAsDictionary`), so `?hub=a&hub=b` reaches us
    /// as `?hub=a%2Cb`.
    pub fn query_values_joined(&self) -> bool {
        self.query_values_joined
    }

    /// Where requests carry the platform's trace id, for the negotiate log line.
    pub fn trace_header(&self) -> TraceHeader {
        self.trace_header
    }

    /// The longest a request's body may take to arrive.
    pub fn body_timeout(&self) -> Duration {
        self.body_timeout
    }

    /// The longest a negotiate waits upstream, all told (`SIGNALR_UPSTREAM_DEADLINE_MS`).
    pub fn upstream_deadline(&self) -> Duration {
        self.upstream_deadline
    }

    /// What re-reads the keys kept in AWS while serving, when there are any and
    /// `SIGNALR_SECRET_REFRESH_SECONDS` is not 0.
    pub fn key_refresher(&self) -> Option<&Arc<KeyRefresher>> {
        self.key_refresher.as_ref()
    }

    /// The process's HTTP client, when serving needs one.
    pub fn http(&self) -> Option<&reqwest::Client> {
        self.http.as_ref()
    }
}
