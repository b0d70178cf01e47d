//! The functional core of negotiate: a validated hub and a caller in; the client URL and a
//! token for one endpoint out, or why there is none. Everything it needs is prepared at start
//! (see [`crate::startup`]); it knows nothing of HTTP.

use tokio::time::Instant;

use crate::caller::Caller;
use crate::endpoints::{EndpointRouter, ServiceEndpoint};
use crate::hub::{HubName, HubNameError};
use crate::product::{ClientAccess, Contract, Service};
use crate::tokens::{AccessToken, IssueError, RandomId, TokenIssuer};

/// Where a client connects, and with which token.
#[derive(Clone, PartialEq, Eq)]
pub struct NegotiateResponse {
    /// SignalR: `{ClientEndpoint | Endpoint}/client/?hub=…&asrs_request_id=…`; Web PubSub:
    /// `ws(s)://…/client/hubs/{hub}?access_token=…` (or MQTT's path); Socket.IO: the endpoint.
    pub url: String,
    /// What the client presents to the service at `url`: signed here, or made by the service.
    pub access_token: AccessToken,
    /// How the answer shows `url`.
    pub access: ClientAccess,
}

impl NegotiateResponse {
    /// The URL without the token a Web PubSub URL carries (`?access_token=…`): what may be
    /// printed.
    pub fn url_without_token(&self) -> &str {
        match self.access {
            ClientAccess::WebPubSub { base_len } => self.url.get(..base_len).unwrap_or_default(),
            ClientAccess::SignalR | ClientAccess::SocketIo { .. } => &self.url,
        }
    }
}

/// Never the token, which a Web PubSub URL carries too.
impl std::fmt::Debug for NegotiateResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NegotiateResponse")
            .field("url", &self.url_without_token())
            .field("access_token", &self.access_token)
            .field("access", &self.access)
            .finish()
    }
}

/// A successful negotiate and what the log line reports of it.
#[derive(Debug)]
pub struct Negotiated<'a> {
    /// What the client gets.
    pub response: NegotiateResponse,
    /// The endpoint that gave the token (after any failover).
    pub endpoint: &'a ServiceEndpoint,
    /// The hub's name in the service (prefixed, lower-case).
    pub service_hub: String,
}

/// Why a negotiate gave no token.
#[derive(Debug, thiserror::Error)]
pub enum NegotiateError {
    /// `SIGNALR_HUBS` does not list the hub.
    #[error("this function does not serve that hub")]
    HubNotServed,
    /// The hub's name in the service breaks the service's rule (with the application name).
    #[error(transparent)]
    Hub(#[from] HubNameError),
    /// Every endpoint of the service is offline (or the one left just failed).
    #[error("no {} endpoint is available", .0.short_name())]
    NoEndpoint(Service),
    /// The endpoint's issuer failed.
    #[error(transparent)]
    Issue(#[from] IssueError),
}

/// Everything a negotiate needs, prepared at start.
#[derive(Debug)]
pub struct Negotiator {
    contract: Contract,
    issuers: Vec<TokenIssuer>,
    router: EndpointRouter,
    allowed_hubs: Option<Vec<String>>,
    application_name: Option<String>,
}

impl Negotiator {
    /// A negotiator under `contract` over the endpoints' issuers (in configuration order, as
    /// `router` indexes them). The application name prefixes SignalR hubs only: Web PubSub has
    /// no such prefix.
    pub fn new(
        contract: Contract,
        issuers: Vec<TokenIssuer>,
        router: EndpointRouter,
        allowed_hubs: Option<Vec<String>>,
        application_name: Option<String>,
    ) -> Self {
        Self {
            contract,
            issuers,
            router,
            allowed_hubs,
            application_name,
        }
    }

    /// The service contract this negotiator follows.
    pub fn contract(&self) -> &Contract {
        &self.contract
    }

    /// The configured endpoints, in order.
    pub fn endpoints(&self) -> impl Iterator<Item = &ServiceEndpoint> {
        self.issuers.iter().map(TokenIssuer::endpoint)
    }

    /// How the endpoint at `index` (in configuration order) gets its tokens.
    pub fn issuer(&self, index: usize) -> Option<&TokenIssuer> {
        self.issuers.get(index)
    }

    /// Negotiates for a hub and a caller at `now` (seconds since the epoch), on the endpoint
    /// `requested` names if it is online, else on one the router picks; fails over once. What
    /// it waits for upstream (the failover's included) ends by `deadline`.
    pub async fn negotiate(
        &self,
        hub: &HubName,
        caller: &Caller,
        requested_endpoint: Option<&str>,
        now: u64,
        deadline: Instant,
    ) -> Result<Negotiated<'_>, NegotiateError> {
        let service_hub = self.service_hub(hub)?;
        self.router.ready().await;
        let mut failed = None;
        loop {
            let index = self
                .router
                .choose(requested_endpoint, failed)
                .ok_or(NegotiateError::NoEndpoint(self.contract.service()))?;
            match self.issue_on(index, &service_hub, caller, now, deadline).await {
                Ok(response) => return Ok(self.negotiated(index, response, service_hub)),
                // Passive failover: the endpoint looks down; mark it and try another, once.
                Err(error)
                    if error.is_endpoint_failure()
                        && failed.is_none()
                        && self.router.mark_offline(index, &error.to_string()) =>
                {
                    failed = Some(index);
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Negotiates on one endpoint (by index), whatever its health, by `deadline`: what `check`
    /// samples.
    pub async fn negotiate_on(
        &self,
        index: usize,
        hub: &HubName,
        caller: &Caller,
        now: u64,
        deadline: Instant,
    ) -> Result<Negotiated<'_>, NegotiateError> {
        let service_hub = self.service_hub(hub)?;
        let response = self.issue_on(index, &service_hub, caller, now, deadline).await?;
        Ok(self.negotiated(index, response, service_hub))
    }

    /// The service's name for a hub this function serves.
    fn service_hub(&self, hub: &HubName) -> Result<String, NegotiateError> {
        if let Some(allowed) = &self.allowed_hubs {
            if !allowed.iter().any(|name| name.eq_ignore_ascii_case(hub)) {
                return Err(NegotiateError::HubNotServed);
            }
        }
        match self.contract {
            Contract::SignalR => Ok(hub.service_name(self.application_name.as_deref())?),
            // As the Web PubSub SDKs send it: the hub as written, by Web PubSub's own rule.
            Contract::WebPubSub(_) => {
                hub.check_webpubsub()?;
                Ok(hub.as_str().to_owned())
            }
        }
    }

    fn negotiated(&self, index: usize, response: NegotiateResponse, service_hub: String) -> Negotiated<'_> {
        Negotiated {
            response,
            endpoint: self.issuers[index].endpoint(),
            service_hub,
        }
    }

    async fn issue_on(
        &self,
        index: usize,
        service_hub: &str,
        caller: &Caller,
        now: u64,
        deadline: Instant,
    ) -> Result<NegotiateResponse, IssueError> {
        let issuer = &self.issuers[index];
        let access_token = issuer.issue(&self.contract, service_hub, caller, now, deadline).await?;
        let (url, access) = match &self.contract {
            Contract::SignalR => (
                issuer.endpoint().client_url(service_hub, RandomId::generate().as_str()),
                ClientAccess::SignalR,
            ),
            Contract::WebPubSub(webpubsub) => webpubsub.access(issuer.endpoint(), service_hub, &access_token),
        };
        Ok(NegotiateResponse {
            url,
            access_token,
            access,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;
    use crate::startup::App;

    fn negotiator(vars: &[(&str, &str)]) -> App {
        let settings = Settings::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap();
        App::new(&settings).unwrap()
    }

    fn soon() -> Instant {
        Instant::now() + std::time::Duration::from_secs(5)
    }

    fn hub(name: &str) -> HubName {
        HubName::parse(name).unwrap()
    }

    #[test]
    fn each_endpoints_issuer_is_found_by_index_with_its_entra_source() {
        let app = negotiator(&[(
            "AzureSignalRConnectionString",
            "Endpoint=https://demo.signalr.azure.cn;AuthType=azure.msi;Version=1.0;",
        )]);
        let entra = app
            .negotiator()
            .issuer(0)
            .and_then(TokenIssuer::entra)
            .expect("an Entra source");
        assert_eq!(entra.target().scope, "https://signalr.azure.cn/.default");
        assert!(app.negotiator().issuer(1).is_none());
        let app = negotiator(&[("SIGNALR_ENTRA_MODE", "access-key")]);
        assert!(
            app.negotiator()
                .issuer(0)
                .is_some_and(|issuer| issuer.entra().is_none()),
            "an access key"
        );
        let app = negotiator(&[
            (
                "AzureSignalRConnectionString",
                "Endpoint=https://demo.signalr.azure.us;AuthType=azure.msi;Version=1.0;",
            ),
            ("SIGNALR_ENTRA_MODE", "access-key"),
        ]);
        let entra = app
            .negotiator()
            .issuer(0)
            .and_then(TokenIssuer::entra)
            .expect("a temporary-key store's source");
        assert_eq!(entra.target().authority_host, "https://login.microsoftonline.us");
    }

    #[tokio::test]
    async fn negotiates_with_the_lower_cased_prefixed_hub() {
        let app = negotiator(&[("SIGNALR_APPLICATION_NAME", "App")]);
        let n = app.negotiator();
        let done = n
            .negotiate(&hub("Chat"), &Caller::default(), None, 100, soon())
            .await
            .unwrap();
        assert_eq!(done.service_hub, "app_chat");
        assert!(
            done.response
                .url
                .starts_with("http://localhost:8999/client/?hub=app_chat&asrs_request_id="),
            "{}",
            done.response.url
        );
    }

    #[tokio::test]
    async fn request_ids_are_fresh_and_url_safe() {
        let app = negotiator(&[]);
        let n = app.negotiator();
        let a = n
            .negotiate(&hub("chat"), &Caller::default(), None, 0, soon())
            .await
            .unwrap()
            .response
            .url;
        let b = n
            .negotiate(&hub("chat"), &Caller::default(), None, 0, soon())
            .await
            .unwrap()
            .response
            .url;
        assert_ne!(a, b);
        let id = a.rsplit_once("asrs_request_id=").unwrap().1;
        assert!(
            id.len() >= 16 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{id}"
        );
    }

    #[tokio::test]
    async fn refuses_unlisted_hubs() {
        let app = negotiator(&[("SIGNALR_HUBS", "chat")]);
        let n = app.negotiator();
        assert!(matches!(
            n.negotiate(&hub("news"), &Caller::default(), None, 0, soon()).await,
            Err(NegotiateError::HubNotServed)
        ));
        assert!(
            n.negotiate(&hub("CHAT"), &Caller::default(), None, 0, soon())
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn the_prefixed_hub_must_fit_the_service_rule() {
        let app = negotiator(&[("SIGNALR_APPLICATION_NAME", &"a".repeat(126))]);
        let n = app.negotiator();
        let done = n
            .negotiate(&hub("h"), &Caller::default(), None, 0, soon())
            .await
            .unwrap();
        assert_eq!(done.service_hub.len(), 128);
        assert!(matches!(
            n.negotiate(&hub("hh"), &Caller::default(), None, 0, soon()).await,
            Err(NegotiateError::Hub(HubNameError::TooLongWithApplication))
        ));
        let app = negotiator(&[("SIGNALR_APPLICATION_NAME", "App")]);
        let fits = app
            .negotiator()
            .negotiate(&hub(&"h".repeat(124)), &Caller::default(), None, 0, soon())
            .await
            .unwrap();
        assert_eq!(fits.service_hub.len(), 128);
    }

    #[tokio::test]
    async fn the_callers_login_bounds_the_token_and_reaches_its_claims() {
        let app = negotiator(&[("SIGNALR_CLOSE_ON_AUTH_EXPIRATION", "true")]);
        let caller = Caller {
            user_id: Some("u".into()),
            login_end: Some(1_000 + 120),
            diagnostic: true,
            ..Caller::default()
        };
        let done = app
            .negotiator()
            .negotiate(&hub("chat"), &caller, None, 1_000, soon())
            .await
            .unwrap();
        let payload = done.response.access_token.split('.').nth(1).unwrap();
        let claims: serde_json::Value = serde_json::from_slice(
            &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).unwrap(),
        )
        .unwrap();
        assert_eq!(claims["exp"], 1_120);
        assert_eq!(claims["asrs.s.uid"], "u");
        assert_eq!(claims["asrs.s.aeo"], "1120");
        assert_eq!(claims["asrs.s.dc"], "true");
        let ended = Caller {
            login_end: Some(1_000),
            ..caller
        };
        assert!(matches!(
            app.negotiator()
                .negotiate(&hub("chat"), &ended, None, 1_000, soon())
                .await,
            Err(NegotiateError::Issue(IssueError::LoginEnded))
        ));
    }

    #[tokio::test]
    async fn a_web_pubsub_answer_never_prints_its_token() {
        let app = negotiator(&[(
            "WebPubSubConnectionString",
            "Endpoint=https://demo.webpubsub.azure.com;AccessKey=secret;Version=1.0;",
        )]);
        let done = app
            .negotiator()
            .negotiate(&hub("chat"), &Caller::default(), None, 0, soon())
            .await
            .unwrap();
        let token = done.response.access_token.as_str().to_owned();
        assert!(done.response.url.ends_with(&token));
        assert_eq!(
            done.response.url_without_token(),
            "wss://demo.webpubsub.azure.com/client/hubs/chat"
        );
        for printed in [format!("{:?}", done.response), format!("{done:?}")] {
            assert!(!printed.contains(&token), "{printed}");
        }
    }
}
