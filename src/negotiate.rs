//! The negotiate handler: request → hub → endpoint → token → `{"url", "accessToken"}`.
//!
//! [`Negotiator`] is the functional core, built once from the configuration; the axum
//! handlers below only take the hub out of the request, bound the body and log the outcome.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use serde::{Deserialize, Serialize};

use crate::config::{Config, ConfigError};
use crate::connection_string::Authentication;
use crate::endpoint::ServiceEndpoint;
use crate::error::{self, ApiError};
use crate::health::{self, HealthBoard};
use crate::hub;
use crate::identity::{self, Caller, Identifier};
use crate::issuer::{IssueError, TokenIssuer};
use crate::oidc::OidcVerifier;
use crate::routing::{self, Candidate};
use crate::service_api::ServiceApi;
use crate::token::{self, TokenPolicy};

/// Largest request body accepted (a negotiate needs none).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The redirect a SignalR client follows: where to connect, and with which token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NegotiateResponse {
    pub url: String,
    pub access_token: String,
}

impl IntoResponse for NegotiateResponse {
    /// `200` with the JSON body, never cached. The body is written once into a buffer of its
    /// final size (the URL and token plus the JSON around them).
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(self.url.len() + self.access_token.len() + 32);
        if serde_json::to_writer(&mut body, &self).is_err() {
            return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "the answer could not be written").into_response();
        }
        error::json_answer(StatusCode::OK, body)
    }
}

/// An endpoint with the way its tokens are issued.
#[derive(Debug)]
struct ServingEndpoint {
    endpoint: ServiceEndpoint,
    issuer: TokenIssuer,
}

/// Everything a negotiate needs, prepared at start.
#[derive(Debug)]
pub struct Negotiator {
    identifier: Identifier,
    endpoints: Vec<ServingEndpoint>,
    /// Health of each endpoint, when there is more than one.
    health: Option<Arc<HealthBoard>>,
    default_hub: Option<String>,
    allowed_hubs: Option<Vec<String>>,
    application_name: Option<String>,
    token_policy: TokenPolicy,
}

/// A successful negotiate and what the log line reports of it.
#[derive(Debug)]
pub struct Negotiated<'a> {
    pub response: NegotiateResponse,
    pub endpoint: &'a ServiceEndpoint,
    pub service_hub: String,
}

impl Negotiator {
    /// Prepares every endpoint's issuer; a credential that cannot be built stops the start.
    pub fn new(config: &Config) -> Result<Self, ConfigError> {
        let uses_entra = config
            .endpoints
            .iter()
            .any(|endpoint| matches!(endpoint.auth(), Authentication::MicrosoftEntra(_)));
        // The one HTTP client of the process, made only when something calls out.
        let several = config.endpoints.len() > 1;
        let http = if uses_entra || config.oidc.is_some() || several {
            Some(
                reqwest::Client::builder()
                    .connect_timeout(config.upstream.attempt_timeout)
                    .pool_idle_timeout(std::time::Duration::from_secs(90))
                    .user_agent(concat!("signalr-negotiate/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|error| ConfigError {
                        setting: "(HTTP client)".to_owned(),
                        message: format!("could not be created: {error}"),
                    })?,
            )
        } else {
            None
        };
        let api = http
            .as_ref()
            .filter(|_| uses_entra)
            .map(|http| ServiceApi::new(http.clone(), config.upstream));
        let oidc = config
            .oidc
            .clone()
            .zip(http.clone())
            .map(|(settings, http)| OidcVerifier::new(settings, http, config.upstream.deadline));
        let mut endpoints = Vec::with_capacity(config.endpoints.len());
        for endpoint in &config.endpoints {
            let issuer = TokenIssuer::new(endpoint, config.entra_mode, api.as_ref()).map_err(|error| ConfigError {
                setting: endpoint.source().to_owned(),
                message: error.0,
            })?;
            endpoints.push(ServingEndpoint {
                endpoint: endpoint.clone(),
                issuer,
            });
        }
        let health = http.as_ref().filter(|_| several).map(|http| {
            health::start(
                config.endpoints.iter().map(|e| e.name().to_owned()).collect(),
                config.endpoints.iter().map(|e| e.server_base().to_owned()).collect(),
                http.clone(),
                config.health_interval,
            )
        });
        Ok(Self {
            identifier: Identifier::new(config.identity.clone(), oidc),
            health,
            endpoints,
            default_hub: config.default_hub.clone(),
            allowed_hubs: config.allowed_hubs.clone(),
            application_name: config.application_name.clone(),
            token_policy: config.token_policy.clone(),
        })
    }

    pub fn default_hub(&self) -> Option<&str> {
        self.default_hub.as_deref()
    }

    pub fn identifier(&self) -> &Identifier {
        &self.identifier
    }

    /// The configured endpoints, in order.
    pub fn endpoints(&self) -> impl Iterator<Item = &ServiceEndpoint> {
        self.endpoints.iter().map(|serving| &serving.endpoint)
    }

    /// Negotiates for a hub as the request named it, for a caller, at `now` (seconds since the epoch).
    pub async fn negotiate(
        &self,
        hub: &str,
        caller: &Caller,
        requested_endpoint: Option<&str>,
        now: u64,
    ) -> Result<Negotiated<'_>, ApiError> {
        let (service_hub, custom_claims) = self.prepare(hub, caller)?;
        if let Some(health) = &self.health {
            health.first_round().await;
        }
        let mut failed = None;
        loop {
            let index = self.choose_endpoint(requested_endpoint, failed)?;
            match (
                self.issue_on(index, &service_hub, caller, &custom_claims, now).await,
                &self.health,
            ) {
                (Ok(response), _) => {
                    return Ok(Negotiated {
                        response,
                        endpoint: &self.endpoints[index].endpoint,
                        service_hub,
                    });
                }
                // Passive failover: the endpoint looks down; mark it and try another, once.
                (Err(error), Some(health)) if error.is_endpoint_failure() && failed.is_none() => {
                    health.mark_offline(index, &error.to_string());
                    failed = Some(index);
                }
                (Err(error), _) => return Err(error.to_api_error()),
            }
        }
    }

    /// Negotiates on one endpoint (by index), whatever its health: what `check` samples.
    pub async fn negotiate_on(
        &self,
        index: usize,
        hub: &str,
        caller: &Caller,
        now: u64,
    ) -> Result<Negotiated<'_>, ApiError> {
        let (service_hub, custom_claims) = self.prepare(hub, caller)?;
        let response = self
            .issue_on(index, &service_hub, caller, &custom_claims, now)
            .await
            .map_err(|error| error.to_api_error())?;
        Ok(Negotiated {
            response,
            endpoint: &self.endpoints[index].endpoint,
            service_hub,
        })
    }

    /// Checks the hub; returns the service's name for it and the caller's custom claims.
    fn prepare(&self, hub: &str, caller: &Caller) -> Result<(String, Vec<(String, serde_json::Value)>), ApiError> {
        hub::validate(hub).map_err(|error| ApiError::bad_request(error.to_string()))?;
        if let Some(allowed) = &self.allowed_hubs {
            if !allowed.iter().any(|name| name.eq_ignore_ascii_case(hub)) {
                return Err(ApiError::not_found("this function does not serve that hub"));
            }
        }
        let service_hub = hub::service_hub(self.application_name.as_deref(), hub);
        let custom_claims = identity::custom_claims(
            self.identifier.policy(),
            caller,
            self.token_policy.unique_claim.as_deref(),
        );
        Ok((service_hub, custom_claims))
    }

    async fn issue_on(
        &self,
        index: usize,
        service_hub: &str,
        caller: &Caller,
        custom_claims: &[(String, serde_json::Value)],
        now: u64,
    ) -> Result<NegotiateResponse, IssueError> {
        let serving = &self.endpoints[index];
        let access_token = serving
            .issuer
            .issue(
                &serving.endpoint,
                service_hub,
                caller.user_id.as_deref(),
                custom_claims,
                &self.token_policy,
                now,
            )
            .await?;
        let url = serving
            .endpoint
            .client_url(service_hub, token::RandomId::generate().as_str());
        Ok(NegotiateResponse { url, access_token })
    }

    /// The endpoint for this request (SPEC §7), never `failed`.
    fn choose_endpoint(&self, requested: Option<&str>, failed: Option<usize>) -> Result<usize, ApiError> {
        let no_endpoint = || ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "no SignalR endpoint is available");
        let Some(health) = &self.health else {
            return if failed.is_none() && !self.endpoints.is_empty() {
                Ok(0)
            } else {
                Err(no_endpoint())
            };
        };
        let candidates: Vec<Candidate<'_>> = self
            .endpoints
            .iter()
            .enumerate()
            .map(|(index, serving)| Candidate {
                name: serving.endpoint.name(),
                endpoint_type: serving.endpoint.endpoint_type(),
                online: health.is_online(index),
            })
            .collect();
        routing::choose(&candidates, requested, failed, |n| {
            rand::Rng::random_range(&mut rand::rng(), 0..n)
        })
        .ok_or_else(no_endpoint)
    }
}

/// `/{prefix}/{hub}/negotiate`
pub async fn negotiate_path_hub(
    State(negotiator): State<Arc<Negotiator>>,
    hub: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    let hub = hub
        .map(|Path(hub)| hub)
        .map_err(|_| ApiError::bad_request("the hub name in the path is not valid percent-encoded UTF-8"));
    respond(&negotiator, hub, request).await
}

/// `/{prefix}/negotiate?hub=…` (or `SIGNALR_HUB`)
pub async fn negotiate_query_hub(State(negotiator): State<Arc<Negotiator>>, request: Request) -> Response {
    let hub = hub_from_query(request.uri().query(), negotiator.default_hub());
    respond(&negotiator, hub, request).await
}

/// The first value of a query parameter.
fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// The hub of `?hub=`, else the default; given twice, or neither, is a bad request.
fn hub_from_query(query: Option<&str>, default_hub: Option<&str>) -> Result<String, ApiError> {
    let mut hubs = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(key, _)| key == "hub")
        .map(|(_, value)| value);
    match (hubs.next(), hubs.next()) {
        (Some(hub), None) => Ok(hub.into_owned()),
        (Some(_), Some(_)) => Err(ApiError::bad_request("the hub query parameter is given more than once")),
        (None, _) => default_hub.map(str::to_owned).ok_or_else(|| {
            ApiError::bad_request("no hub given: use /{prefix}/{hub}/negotiate or ?hub=, or set SIGNALR_HUB")
        }),
    }
}

async fn respond(negotiator: &Negotiator, hub: Result<String, ApiError>, request: Request) -> Response {
    let started = Instant::now();
    let request_id = host_request_id(&request);
    let outcome = async {
        let hub = hub?;
        let (parts, body) = request.into_parts();
        read_body(&parts.headers, body).await?;
        let caller = negotiator
            .identifier()
            .identify(&parts)
            .await
            .map_err(|unauthorized| unauthorized.to_api_error())?;
        let requested_endpoint = query_value(parts.uri.query(), "endpoint");
        negotiator
            .negotiate(&hub, &caller, requested_endpoint.as_deref(), unix_now())
            .await
    }
    .await;
    let latency_us = started.elapsed().as_micros() as u64;
    match outcome {
        Ok(negotiated) => {
            tracing::info!(
                request_id,
                hub = %negotiated.service_hub,
                endpoint = negotiated.endpoint.name(),
                status = 200,
                latency_us,
                "negotiate"
            );
            negotiated.response.into_response()
        }
        Err(error) => {
            tracing::info!(
                request_id,
                status = error.status.as_u16(),
                latency_us,
                reason = %error.message,
                "negotiate refused"
            );
            error.into_response()
        }
    }
}

/// The id the host gave this request: Lambda's `Lambda-Runtime-Aws-Request-Id` (in the
/// `lambda_http` context) or the Functions host's `X-Azure-Functions-InvocationId`.
fn host_request_id(request: &Request) -> Option<String> {
    if let Some(context) = request.extensions().get::<lambda_http::Context>() {
        return Some(context.request_id.clone());
    }
    request
        .headers()
        .get("x-azure-functions-invocationid")
        .and_then(|value| value.to_str().ok())
        .filter(|id| id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .map(str::to_owned)
}

/// Reads and drops the body, refusing one over [`MAX_BODY_BYTES`].
/// A declared length over the limit is refused before anything is read.
async fn read_body(headers: &axum::http::HeaderMap, body: Body) -> Result<(), ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the request body is larger than 16 KiB; negotiate needs no body",
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(_) => Ok(()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Err(_) => Err(ApiError::bad_request("the request body could not be read")),
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn negotiator(vars: &[(&str, &str)]) -> Negotiator {
        let config = Config::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap();
        Negotiator::new(&config).unwrap()
    }

    #[test]
    fn query_hub_rules() {
        assert_eq!(
            hub_from_query(Some("hub=chat&negotiateVersion=1"), None).unwrap(),
            "chat"
        );
        assert_eq!(
            hub_from_query(Some("negotiateVersion=1"), Some("news")).unwrap(),
            "news"
        );
        assert_eq!(hub_from_query(Some("hub=a%20b"), None).unwrap(), "a b");
        assert_eq!(
            hub_from_query(Some("hub=a&hub=b"), Some("x")).unwrap_err().message,
            "the hub query parameter is given more than once"
        );
        assert_eq!(hub_from_query(None, None).unwrap_err().status, StatusCode::BAD_REQUEST);
        assert_eq!(hub_from_query(Some("hub="), Some("x")).unwrap(), "");
    }

    #[tokio::test]
    async fn negotiates_with_the_lower_cased_prefixed_hub() {
        let n = negotiator(&[("SIGNALR_APPLICATION_NAME", "App")]);
        let done = n.negotiate("Chat", &Caller::default(), None, 100).await.unwrap();
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
        let n = negotiator(&[]);
        let a = n
            .negotiate("chat", &Caller::default(), None, 0)
            .await
            .unwrap()
            .response
            .url;
        let b = n
            .negotiate("chat", &Caller::default(), None, 0)
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
    async fn refuses_bad_and_unlisted_hubs() {
        let n = negotiator(&[("SIGNALR_HUBS", "chat")]);
        assert_eq!(
            n.negotiate("a/b", &Caller::default(), None, 0)
                .await
                .unwrap_err()
                .status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            n.negotiate("news", &Caller::default(), None, 0)
                .await
                .unwrap_err()
                .status,
            StatusCode::NOT_FOUND
        );
        assert!(n.negotiate("CHAT", &Caller::default(), None, 0).await.is_ok());
    }

    #[tokio::test]
    async fn an_oversize_token_is_a_413() {
        let n = negotiator(&[("SIGNALR_APPLICATION_NAME", &"a".repeat(128))]);
        // A hub name of 128 plus a 128-character application name stays well under 4096.
        assert!(n.negotiate(&"h".repeat(128), &Caller::default(), None, 0).await.is_ok());
    }
}
