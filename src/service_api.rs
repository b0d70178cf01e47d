//! The SignalR service's REST API as this function uses it with Microsoft Entra ID:
//! `generateToken` (a client token made by the service) and `auth/accessKey` (a temporary key
//! to sign with locally).
//!
//! Every call goes through the process's one HTTP client (connections are reused), is bounded
//! by a per-attempt timeout and an overall deadline, and is retried once on a connect error,
//! a timeout, 502/503/504, or 429 (after `Retry-After`, when that fits in the deadline).

use std::time::Duration;

use axum::http::StatusCode;
use serde::Deserialize;
use tokio::time::{Instant, timeout_at};

use crate::entra::{EntraError, EntraTokenSource};
use crate::error::ApiError;

/// `api-version` of the generateToken call.
pub const GENERATE_TOKEN_API_VERSION: &str = "2022-11-01";

/// How long calls to Entra and the service may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamLimits {
    /// One HTTP attempt.
    pub attempt_timeout: Duration,
    /// Everything a negotiate waits for upstream: the Entra token and all attempts.
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

/// Why a call upstream did not give what was needed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    #[error(transparent)]
    Entra(#[from] EntraError),
    #[error("timed out getting a Microsoft Entra token with {0}")]
    EntraTimeout(&'static str),
    #[error("the SignalR service refused this function's identity ({0})")]
    Refused(u16),
    #[error("the SignalR service answered {0}")]
    Status(u16),
    #[error("the SignalR service is throttling requests (429)")]
    Throttled,
    #[error("the SignalR service did not answer in time")]
    Timeout,
    #[error("could not reach the SignalR service")]
    Unreachable,
    #[error("the SignalR service answered with an unexpected body")]
    Malformed,
}

impl UpstreamError {
    /// A connect error, timeout or 5xx: the endpoint looks down (for failover).
    pub fn is_endpoint_failure(&self) -> bool {
        matches!(self, Self::Timeout | Self::Unreachable) || matches!(self, Self::Status(status) if *status >= 500)
    }

    /// The answer the client gets: the cause in one sentence, never a secret.
    pub fn to_api_error(&self) -> ApiError {
        match self {
            Self::Entra(error) => ApiError::new(
                StatusCode::BAD_GATEWAY,
                format!(
                    "{} could not get a Microsoft Entra token for the SignalR service; see the function's log",
                    error.credential
                ),
            ),
            Self::EntraTimeout(credential) => ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                format!("{credential} did not get a Microsoft Entra token in time"),
            ),
            Self::Refused(status) => ApiError::new(
                StatusCode::BAD_GATEWAY,
                format!(
                    "the SignalR service refused this function's identity ({status}): grant it the role SignalR REST API Owner on the SignalR instance"
                ),
            ),
            Self::Status(404) => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "the SignalR service answered 404: check the endpoint URL (Endpoint, ServerEndpoint or serviceUri)",
            ),
            Self::Status(status) => ApiError::new(
                StatusCode::BAD_GATEWAY,
                format!("the SignalR service answered {status}"),
            ),
            Self::Throttled => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the SignalR service is throttling this function; try again shortly",
            ),
            Self::Timeout => ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "the SignalR service did not answer in time",
            ),
            Self::Unreachable => ApiError::new(StatusCode::BAD_GATEWAY, "could not reach the SignalR service"),
            Self::Malformed => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "the SignalR service answered with an unexpected body",
            ),
        }
    }
}

/// A temporary access key issued by the service (`KeyId` goes in the token header as `kid`).
#[derive(Deserialize)]
pub struct IssuedKey {
    #[serde(rename = "KeyId")]
    pub key_id: String,
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

    /// `POST {server}/api/hubs/{hub}/:generateToken?api-version=2022-11-01&minutesToExpire=…[&userId=…]`
    pub async fn generate_token(
        &self,
        entra: &EntraTokenSource,
        server_base: &str,
        service_hub: &str,
        user_id: Option<&str>,
        lifetime_secs: u64,
    ) -> Result<String, UpstreamError> {
        let deadline = Instant::now() + self.limits.deadline;
        let bearer = entra_token(entra, deadline).await?;
        let mut url = url::Url::parse(&format!("{server_base}/api/hubs/{service_hub}/:generateToken"))
            .map_err(|_| UpstreamError::Status(404))?;
        url.query_pairs_mut()
            .append_pair("api-version", GENERATE_TOKEN_API_VERSION)
            .append_pair("minutesToExpire", &lifetime_secs.div_ceil(60).to_string());
        if let Some(user_id) = user_id {
            url.query_pairs_mut().append_pair("userId", user_id);
        }
        let body = self
            .send(deadline, || {
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

    /// `GET {server}/api/v1/auth/accessKey`
    pub async fn fetch_access_key(
        &self,
        entra: &EntraTokenSource,
        server_base: &str,
    ) -> Result<IssuedKey, UpstreamError> {
        let deadline = Instant::now() + self.limits.deadline;
        let bearer = entra_token(entra, deadline).await?;
        let url = format!("{server_base}/api/v1/auth/accessKey");
        let body = self
            .send(deadline, || self.http.get(&url).bearer_auth(bearer.secret()))
            .await?;
        let key: IssuedKey = serde_json::from_slice(&body).map_err(|_| UpstreamError::Malformed)?;
        if key.key_id.is_empty() || key.access_key.is_empty() {
            return Err(UpstreamError::Malformed);
        }
        Ok(key)
    }

    /// Sends with at most one retry, within `deadline`; returns the body of a 2xx answer.
    async fn send(
        &self,
        deadline: Instant,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<bytes::Bytes, UpstreamError> {
        let mut retried = false;
        loop {
            let attempt_end = deadline.min(Instant::now() + self.limits.attempt_timeout);
            let failure = match timeout_at(attempt_end, attempt(request())).await {
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
            tracing::debug!(%error, "retrying the SignalR service call");
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

async fn attempt(request: reqwest::RequestBuilder) -> Result<bytes::Bytes, Attempt> {
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
        401 | 403 => Err(Attempt::Final(UpstreamError::Refused(status))),
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

async fn entra_token(
    entra: &EntraTokenSource,
    deadline: Instant,
) -> Result<azure_core::credentials::Secret, UpstreamError> {
    match timeout_at(deadline, entra.token()).await {
        Ok(Ok(token)) => Ok(token),
        Ok(Err(error)) => {
            tracing::warn!(credential = error.credential, detail = %error.detail, "Microsoft Entra token request failed");
            Err(UpstreamError::Entra(error))
        }
        Err(_) => Err(UpstreamError::EntraTimeout(entra.name())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_map_to_statuses() {
        let cases = [
            (UpstreamError::Refused(401), StatusCode::BAD_GATEWAY),
            (UpstreamError::Refused(403), StatusCode::BAD_GATEWAY),
            (UpstreamError::Status(404), StatusCode::BAD_GATEWAY),
            (UpstreamError::Status(500), StatusCode::BAD_GATEWAY),
            (UpstreamError::Throttled, StatusCode::SERVICE_UNAVAILABLE),
            (UpstreamError::Timeout, StatusCode::GATEWAY_TIMEOUT),
            (UpstreamError::EntraTimeout("X"), StatusCode::GATEWAY_TIMEOUT),
            (UpstreamError::Unreachable, StatusCode::BAD_GATEWAY),
            (UpstreamError::Malformed, StatusCode::BAD_GATEWAY),
        ];
        for (error, status) in cases {
            assert_eq!(error.to_api_error().status, status, "{error:?}");
        }
        assert!(
            UpstreamError::Refused(403)
                .to_api_error()
                .message
                .contains("SignalR REST API Owner")
        );
    }

    #[test]
    fn entra_errors_name_the_credential_but_not_the_detail() {
        let error = UpstreamError::Entra(EntraError {
            credential: "ManagedIdentityCredential",
            detail: "connection refused to http://169.254.169.254 with header x".into(),
        });
        let api = error.to_api_error();
        assert!(
            api.message.starts_with("ManagedIdentityCredential could not get"),
            "{}",
            api.message
        );
        assert!(!api.message.contains("169.254"));
    }

    #[test]
    fn endpoint_failures_are_connect_timeout_and_5xx() {
        assert!(UpstreamError::Timeout.is_endpoint_failure());
        assert!(UpstreamError::Unreachable.is_endpoint_failure());
        assert!(UpstreamError::Status(503).is_endpoint_failure());
        assert!(!UpstreamError::Status(404).is_endpoint_failure());
        assert!(!UpstreamError::Refused(401).is_endpoint_failure());
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
    fn issued_key_debug_hides_the_key() {
        let key: IssuedKey = serde_json::from_str(r#"{"KeyId":"k1","AccessKey":"TEMP-SECRET"}"#).unwrap();
        assert!(!format!("{key:?}").contains("TEMP-SECRET"));
    }
}
