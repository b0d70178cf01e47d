//! The SignalR service's REST API as this function uses it with Microsoft Entra ID:
//! `generateToken` (a client token made by the service) and `auth/accessKey` (a temporary key
//! to sign with locally); and the read-only users call with which `check` proves an endpoint's
//! server side.
//!
//! Every call goes through the process's one HTTP client (connections are reused), is bounded
//! by a per-attempt timeout and the deadline it is given (a negotiate's: the Entra token and
//! every attempt fit in it), and is retried once on a connect error, a timeout, 502/503/504,
//! or 429 (after `Retry-After`, when that fits in the deadline).

use std::time::Duration;

use serde::Deserialize;
use tokio::time::{Instant, timeout_at};

use super::answer::{self, ServiceAnswer};
use crate::entra::{EntraError, EntraToken, EntraTokenSource, NoToken};

use crate::product::Service;

/// How long calls to Entra and the service may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamLimits {
    /// One HTTP attempt (and the connect timeout of the process's HTTP client).
    pub attempt_timeout: Duration,
    /// Everything a negotiate waits for upstream, from when its request was read: the caller's
    /// identity (an OIDC provider's keys), the Entra token and all attempts.
    pub deadline: Duration,
}

impl Default for UpstreamLimits {
    fn default() -> Self {
        Self {
            attempt_timeout: Duration::from_secs(3),
            deadline: Duration::from_secs(5),
        }
    }
}

/// Why a call upstream did not give what was needed. Each message is the one a caller of the
/// negotiate function reads too (the HTTP edge adds advice to some).
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    /// The credential could not get a Microsoft Entra token.
    #[error(transparent)]
    Entra(#[from] EntraError),
    /// The credential (named) did not get a token within the deadline.
    #[error("{0} did not get a Microsoft Entra token in time")]
    EntraTimeout(&'static str),
    /// 401 or 403: the service does not accept this function's identity for `call`.
    #[error("the {} service refused this function's identity ({status})", call.service().short_name())]
    Refused {
        /// 401 (the token: tenant, audience) or 403 (no role that grants the call).
        status: u16,
        /// The call refused, which says which permission the identity lacks.
        call: Call,
    },
    /// Another status that is not success.
    #[error("the service answered {0}")]
    Status(u16),
    /// 429 that did not clear within the deadline.
    #[error("the service is throttling this function")]
    Throttled,
    /// No answer within the deadline.
    #[error("the service did not answer in time")]
    Timeout,
    /// The temporary access key being fetched (for another negotiate) did not come within the
    /// deadline.
    #[error("the temporary access key did not come in time")]
    KeyTimeout,
    /// The request could not be sent, or its answer's body not read (no timeout involved).
    #[error("could not reach the service")]
    Unreachable,
    /// A 2xx whose body is not what the API documents.
    #[error("the service answered with an unexpected body")]
    Malformed,
}

impl UpstreamError {
    /// A connect error, timeout or 5xx: the endpoint looks down (for failover).
    pub fn is_endpoint_failure(&self) -> bool {
        matches!(self, Self::Timeout | Self::Unreachable) || matches!(self, Self::Status(status) if *status >= 500)
    }
}

/// The REST API calls a negotiate makes with Microsoft Entra ID, each needing its own permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// `generateToken` (`SIGNALR_ENTRA_MODE=generate-token`, and every Web PubSub Entra endpoint).
    GenerateToken(Service),
    /// `auth/accessKey` (`SIGNALR_ENTRA_MODE=access-key`).
    AccessKey,
}

impl Call {
    /// The service whose API the call is.
    pub fn service(self) -> Service {
        match self {
            Self::GenerateToken(service) => service,
            Self::AccessKey => Service::SignalR,
        }
    }

    /// The data action an identity needs for the call, and the built-in roles that grant it
    /// (MicrosoftDocs/azure-docs, role-based-access-control/built-in-roles/web-and-mobile.md).
    /// (Web PubSub: `Microsoft.SignalRService/WebPubSub/auth/clientToken/action`, granted by
    /// Web PubSub Service Owner.)
    pub fn permission(self) -> (&'static str, &'static str) {
        match self {
            Self::GenerateToken(Service::SignalR) => (
                "Microsoft.SignalRService/SignalR/auth/clientToken/action",
                "SignalR REST API Owner or SignalR Service Owner",
            ),
            Self::GenerateToken(Service::WebPubSub) => (
                "Microsoft.SignalRService/WebPubSub/auth/clientToken/action",
                "Web PubSub Service Owner",
            ),
            Self::AccessKey => (
                "Microsoft.SignalRService/SignalR/auth/accessKey/action",
                "SignalR App Server or SignalR Service Owner",
            ),
        }
    }
}

/// A temporary access key issued by the service (`KeyId` goes in the token header as `kid`).
#[derive(Deserialize)]
pub struct IssuedKey {
    /// `KeyId`, sent back as the token header's `kid`.
    #[serde(rename = "KeyId")]
    pub key_id: String,
    /// `AccessKey`, the secret to sign with.
    #[serde(rename = "AccessKey")]
    pub access_key: String,
}

impl std::fmt::Debug for IssuedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// `api-version` of the users call (Azure/azure-signalr, `docs/swagger/V20220601.md`).
pub const USERS_API_VERSION: &str = "2022-06-01";

/// The user `check` asks about, whom no client is: a 404 then says the call was authorised.
const PROBE_USER: &str = "signalr-negotiate-check";

/// `x-ms-error-code` of the 404 that means "no such user" rather than "no such route" (the
/// SDK's `Constants.ErrorCodes`, checked in `ServiceHubLifetimeManager.FilterExpectedResponse`).
const USER_NOT_EXISTED: &str = "Warning.User.NotExisted";

/// `HEAD {server}/api/hubs/{hub}/users/{user}?api-version=2022-06-01` — "has this user any
/// connection", which changes nothing — and the `aud` of a token for it.
#[derive(Debug, Clone)]
pub struct UserProbe {
    url: url::Url,
    audience: String,
}

impl UserProbe {
    /// The call for a service hub on the endpoint whose REST API is at `server_base` and whose
    /// tokens' `aud` start with `audience_base`.
    pub fn new(server_base: &str, audience_base: &str, service_hub: &str) -> Option<Self> {
        let mut url = url::Url::parse(server_base).ok()?;
        let base_path = url.path().trim_end_matches('/').len();
        url.path_segments_mut()
            .ok()?
            .pop_if_empty()
            .extend(["api", "hubs", service_hub, "users", PROBE_USER]);
        // As the SDK's REST client: the audience base and the service's path, without query or
        // port (`AccessTokenHttpMessageHandler`; the REST API's docs: "trailing slash and query
        // parameters not included").
        let audience = format!("{audience_base}{}", &url.path()[base_path..]);
        url.query_pairs_mut().append_pair("api-version", USERS_API_VERSION);
        Some(Self { url, audience })
    }

    /// The `aud` a token for this call carries.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The URL, for a report.
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// Whether the service authorised the call: 200 (the user has connections), or the 404
    /// that says there is no such user.
    pub fn authorised(answer: &ServiceAnswer) -> bool {
        answer.status == 200 || (answer.status == 404 && answer.error_code.as_deref() == Some(USER_NOT_EXISTED))
    }
}

/// What a `generateToken` call asks for.
#[derive(Debug, Clone, Copy)]
pub struct GenerateToken<'a> {
    /// Whose API it is (its `api-version`).
    pub service: Service,
    /// The REST API's base.
    pub server: &'a str,
    /// The hub as the service knows it.
    pub hub: &'a str,
    /// `userId`, when the caller is known.
    pub user_id: Option<&'a str>,
    /// `minutesToExpire`.
    pub minutes_to_expire: u64,
    /// The service's other parameters, in order (a name may repeat).
    pub query: &'a [(&'a str, &'a str)],
}

#[derive(Deserialize)]
struct GeneratedToken {
    token: String,
}

/// The REST API client: one HTTP client and the limits.
#[derive(Debug, Clone)]
pub struct ServiceApi {
    http: reqwest::Client,
    limits: UpstreamLimits,
}

impl ServiceApi {
    pub fn new(http: reqwest::Client, limits: UpstreamLimits) -> Self {
        Self { http, limits }
    }

    /// The process's one HTTP client (Entra credentials send through it too).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn limits(&self) -> UpstreamLimits {
        self.limits
    }

    /// `POST {server}/api/hubs/{hub}/:generateToken?api-version=…&minutesToExpire=…[&userId=…]`
    /// and the service's other parameters, with the Entra token, by `deadline`.
    pub async fn generate_token(
        &self,
        entra: &EntraTokenSource,
        request: &GenerateToken<'_>,
        deadline: Instant,
    ) -> Result<String, UpstreamError> {
        let bearer = entra_token(entra, deadline).await?;
        let mut url = url::Url::parse(&format!("{}/api/hubs/{}/:generateToken", request.server, request.hub))
            .map_err(|_| UpstreamError::Status(404))?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("api-version", request.service.generate_token_api_version())
                .append_pair("minutesToExpire", &request.minutes_to_expire.to_string());
            if let Some(user_id) = request.user_id {
                query.append_pair("userId", user_id);
            }
            for (name, value) in request.query {
                query.append_pair(name, value);
            }
        }
        let body = self
            .send(deadline, Call::GenerateToken(request.service), || {
                self.http
                    .post(url.clone())
                    .bearer_auth(bearer.secret())
                    .header("content-length", "0")
            })
            .await?;
        let generated: GeneratedToken = serde_json::from_slice(&body).map_err(|_| UpstreamError::Malformed)?;
        if generated.token.is_empty() {
            return Err(UpstreamError::Malformed);
        }
        Ok(generated.token)
    }

    /// `GET {server}/api/v1/auth/accessKey`, with the Entra token, by `deadline`.
    pub async fn fetch_access_key(
        &self,
        entra: &EntraTokenSource,
        server_base: &str,
        deadline: Instant,
    ) -> Result<IssuedKey, UpstreamError> {
        let bearer = entra_token(entra, deadline).await?;
        let url = format!("{server_base}/api/v1/auth/accessKey");
        let body = self
            .send(deadline, Call::AccessKey, || {
                self.http.get(&url).bearer_auth(bearer.secret())
            })
            .await?;
        let key: IssuedKey = serde_json::from_slice(&body).map_err(|_| UpstreamError::Malformed)?;
        if key.key_id.is_empty() || key.access_key.is_empty() {
            return Err(UpstreamError::Malformed);
        }
        Ok(key)
    }

    /// The users call, with `bearer` (a token signed for [`UserProbe::audience`]); one attempt.
    pub async fn head_user(&self, probe: &UserProbe, bearer: &str) -> Result<ServiceAnswer, UpstreamError> {
        let request = self.http.head(probe.url.clone()).bearer_auth(bearer);
        answer::send(request, self.limits.attempt_timeout).await
    }

    /// Sends with at most one retry, within `deadline`; returns the body of a 2xx answer.
    async fn send(
        &self,
        deadline: Instant,
        call: Call,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<bytes::Bytes, UpstreamError> {
        let mut retried = false;
        loop {
            let attempt_end = deadline.min(Instant::now() + self.limits.attempt_timeout);
            let failure = match timeout_at(attempt_end, attempt(call, request())).await {
                Ok(Ok(body)) => return Ok(body),
                Ok(Err(failure)) => failure,
                Err(_) => Attempt::Failed(UpstreamError::Timeout),
            };
            let (error, wait) = match failure {
                Attempt::Failed(error) => (error, Duration::ZERO),
                Attempt::Throttled(retry_after) => (UpstreamError::Throttled, retry_after),
                Attempt::Final(error) => return Err(error),
            };
            let retry_at = Instant::now() + wait;
            // A retry needs time for the wait and a useful attempt after it.
            if retried || retry_at + Duration::from_millis(50) >= deadline {
                return Err(error);
            }
            retried = true;
            tracing::debug!(%error, "retrying the service call");
            tokio::time::sleep_until(retry_at).await;
        }
    }
}

enum Attempt {
    /// May be retried at once.
    Failed(UpstreamError),
    /// 429: may be retried after this long.
    Throttled(Duration),
    /// Not worth retrying.
    Final(UpstreamError),
}

async fn attempt(call: Call, request: reqwest::RequestBuilder) -> Result<bytes::Bytes, Attempt> {
    let response = request.send().await.map_err(|error| {
        Attempt::Failed(if error.is_timeout() {
            UpstreamError::Timeout
        } else {
            UpstreamError::Unreachable
        })
    })?;
    let status = response.status().as_u16();
    match status {
        200..=299 => response
            .bytes()
            .await
            .map_err(|_| Attempt::Failed(UpstreamError::Unreachable)),
        401 | 403 => Err(Attempt::Final(UpstreamError::Refused { status, call })),
        429 => Err(Attempt::Throttled(retry_after(response.headers()))),
        502..=504 => Err(Attempt::Failed(UpstreamError::Status(status))),
        _ => Err(Attempt::Final(UpstreamError::Status(status))),
    }
}

/// `Retry-After` in seconds (the service sends seconds); 1 s when absent or unreadable.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Duration {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map_or(Duration::from_secs(1), Duration::from_secs)
}

/// The Entra token, by `deadline` (the credential's failure is logged where it is fetched).
async fn entra_token(entra: &EntraTokenSource, deadline: Instant) -> Result<std::sync::Arc<EntraToken>, UpstreamError> {
    entra.token(deadline).await.map_err(|no_token| match no_token {
        NoToken::Failed(error) => UpstreamError::Entra(error),
        NoToken::Late => UpstreamError::EntraTimeout(entra.name()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_failures_are_connect_timeout_and_5xx() {
        assert!(UpstreamError::Timeout.is_endpoint_failure());
        assert!(UpstreamError::Unreachable.is_endpoint_failure());
        assert!(UpstreamError::Status(503).is_endpoint_failure());
        assert!(!UpstreamError::Status(404).is_endpoint_failure());
        assert!(
            !UpstreamError::Refused {
                status: 401,
                call: Call::GenerateToken(Service::SignalR)
            }
            .is_endpoint_failure()
        );
        assert!(!UpstreamError::Throttled.is_endpoint_failure());
    }

    #[test]
    fn retry_after_reads_seconds() {
        let mut headers = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&headers), Duration::from_secs(1));
        headers.insert(reqwest::header::RETRY_AFTER, "0".parse().unwrap());
        assert_eq!(retry_after(&headers), Duration::ZERO);
        headers.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), Duration::from_secs(1));
    }

    #[test]
    fn the_users_call_and_its_audience_are_the_sdks() {
        let probe = UserProbe::new(
            "https://demo.service.signalr.net:8443",
            "https://demo.service.signalr.net",
            "a_chat",
        )
        .unwrap();
        assert_eq!(
            probe.url(),
            "https://demo.service.signalr.net:8443/api/hubs/a_chat/users/signalr-negotiate-check?api-version=2022-06-01"
        );
        assert_eq!(
            probe.audience(),
            "https://demo.service.signalr.net/api/hubs/a_chat/users/signalr-negotiate-check"
        );
        // A ServerEndpoint with a path (a gateway) keeps it in the URL; the `aud` is the service's.
        let probe = UserProbe::new(
            "https://gw.contoso.com/signalr/",
            "https://demo.service.signalr.net",
            "h`1",
        )
        .unwrap();
        assert_eq!(
            probe.url(),
            "https://gw.contoso.com/signalr/api/hubs/h%601/users/signalr-negotiate-check?api-version=2022-06-01"
        );
        assert_eq!(
            probe.audience(),
            "https://demo.service.signalr.net/api/hubs/h%601/users/signalr-negotiate-check"
        );
    }

    #[test]
    fn only_a_200_or_the_no_such_user_404_is_authorised() {
        let answer = |status, code: Option<&str>| ServiceAnswer {
            status,
            clock_skew: None,
            error_code: code.map(str::to_owned),
            refusal: None,
            body: bytes::Bytes::new(),
        };
        assert!(UserProbe::authorised(&answer(200, None)));
        assert!(UserProbe::authorised(&answer(404, Some("Warning.User.NotExisted"))));
        assert!(!UserProbe::authorised(&answer(404, None)));
        assert!(!UserProbe::authorised(&answer(401, None)));
        assert!(!UserProbe::authorised(&answer(403, None)));
    }

    #[test]
    fn issued_key_debug_hides_the_key() {
        let key: IssuedKey = serde_json::from_str(r#"{"KeyId":"k1","AccessKey":"TEMP-SECRET"}"#).unwrap();
        assert!(!format!("{key:?}").contains("TEMP-SECRET"));
    }
}
