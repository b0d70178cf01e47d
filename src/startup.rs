//! The composition root: from the settings, the one HTTP client, the REST API client, the OIDC
//! verifier, each endpoint's token issuer and the health board, assembled into an [`App`] that
//! the HTTP edge serves and `check` samples. Nothing here runs per request.

use std::sync::Arc;
use std::time::Duration;

use crate::aws::{AwsReferences, KeyRefresher, KeyRefresherBuilder};
use crate::caller::{CallerResolver, OidcVerifier};
use crate::endpoints::{Authentication, EndpointRouter, ServiceEndpoint, start_health_probes};
use crate::entra::EntraOverrides;
use crate::http::TraceHeader;
use crate::hub::HubName;
use crate::negotiator::Negotiator;
use crate::product::Contract;
use crate::service::{ServiceApi, UpstreamLimits};
use crate::settings::table::CONNECTION_STRING;
use crate::settings::{Host, SettingError, Settings};
use crate::tokens::{TokenIssuer, TokenPolicy};
use crate::url_rules::AllowedOrigin;

/// Everything serving needs, built once.
#[derive(Debug)]
pub struct App {
    /// What the usual negotiate routes answer: SignalR's, or Web PubSub's when only it is
    /// configured.
    negotiator: Negotiator,
    /// Web PubSub's, when SignalR is configured too.
    other: Option<Negotiator>,
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

/// What building one negotiator per service shares: the settings, the process's HTTP client
/// (for health probes, when they run), the REST API, the token policy and the watch on keys
/// kept in AWS.
struct Assembly<'a> {
    settings: &'a Settings,
    http: Option<reqwest::Client>,
    api: Option<&'a ServiceApi>,
    policy: Arc<TokenPolicy>,
    refresher: Option<KeyRefresherBuilder<'a>>,
}

impl Assembly<'_> {
    /// A negotiator under `contract` over `endpoints`, each with its issuer; their health
    /// probed when there are several.
    fn negotiator(
        &mut self,
        contract: Contract,
        endpoints: &[ServiceEndpoint],
        entra: &EntraOverrides,
        application_name: Option<String>,
    ) -> Result<Negotiator, StartupError> {
        let service = contract.service();
        let mut issuers = Vec::with_capacity(endpoints.len());
        for endpoint in endpoints {
            let policy = Arc::clone(&self.policy);
            let issuer = match self.refresher.as_mut().and_then(|refresher| refresher.watch(endpoint)) {
                Some(key) => TokenIssuer::rotating(endpoint.clone(), policy, key),
                None => TokenIssuer::new(
                    endpoint.clone(),
                    policy,
                    self.settings.entra_mode,
                    (service, entra),
                    self.api,
                )
                .map_err(|error| SettingError::new(endpoint.source(), error.to_string()))?,
            };
            issuers.push(issuer);
        }
        let health = self
            .http
            .as_ref()
            .filter(|_| endpoints.len() > 1)
            .map(|http| start_health_probes(service, endpoints, http.clone(), self.settings.health));
        Ok(Negotiator::new(
            contract,
            issuers,
            EndpointRouter::new(endpoints, health),
            self.settings.allowed_hubs.clone(),
            application_name,
        ))
    }
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
        let webpubsub = settings.webpubsub.as_ref();
        let webpubsub_endpoints = webpubsub.map_or(&[][..], |webpubsub| &webpubsub.endpoints);
        let uses_entra = settings
            .endpoints
            .iter()
            .chain(webpubsub_endpoints)
            .any(|endpoint| matches!(endpoint.auth(), Authentication::MicrosoftEntra(_)));
        let several = settings.endpoints.len() > 1 || webpubsub_endpoints.len() > 1;
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
        let mut assembly = Assembly {
            settings,
            http: http.clone().filter(|_| probe_health),
            api: api.as_ref(),
            policy: Arc::new(settings.token_policy.clone()),
            refresher: KeyRefresherBuilder::new(references, settings.secret_refresh),
        };
        let signalr = if settings.endpoints.is_empty() {
            None
        } else {
            Some(assembly.negotiator(
                Contract::SignalR,
                &settings.endpoints,
                &settings.entra,
                settings.application_name.clone(),
            )?)
        };
        let webpubsub = match webpubsub {
            Some(webpubsub) => Some(assembly.negotiator(
                Contract::WebPubSub(webpubsub.contract.clone()),
                &webpubsub.endpoints,
                &webpubsub.entra,
                None,
            )?),
            None => None,
        };
        let (negotiator, other) = match (signalr, webpubsub) {
            (Some(signalr), webpubsub) => (signalr, webpubsub),
            (None, Some(webpubsub)) => (webpubsub, None),
            // The settings always hold one service's endpoints (the emulator's, if need be).
            (None, None) => {
                return Err(SettingError::new(CONNECTION_STRING.name, "names no endpoint").into());
            }
        };
        let refresher = assembly.refresher;
        Ok(Self {
            negotiator,
            other,
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

    /// Hub and caller in, URL and token out: what the usual negotiate routes call (SignalR's,
    /// or Web PubSub's when only it is configured).
    pub fn negotiator(&self) -> &Negotiator {
        &self.negotiator
    }

    /// Web PubSub's negotiator, when configured: the routes under `/{prefix}/webpubsub/`
    /// (the usual ones too when SignalR is not configured).
    pub fn webpubsub(&self) -> Option<&Negotiator> {
        match self.negotiator.contract() {
            Contract::WebPubSub(_) => Some(&self.negotiator),
            Contract::SignalR => self.other.as_ref(),
        }
    }

    /// Every negotiator, the usual routes' first: what `check` samples.
    pub fn negotiators(&self) -> impl Iterator<Item = &Negotiator> {
        std::iter::once(&self.negotiator).chain(&self.other)
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
