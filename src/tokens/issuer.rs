//! How an endpoint's client tokens are issued: signed locally with the connection string's
//! access key, made by the service (`generateToken`, Entra default), or signed locally with a
//! temporary key the service issued (Entra `access-key` mode).

use std::sync::Arc;

use super::entra_access_key::{KeyLifetime, TemporaryKeyStore};
use super::{AccessKey, AccessToken, AccessTokenClaims, RotatingKey, TokenError, TokenPolicy, TokenSubject, jwt};
use crate::endpoints::{Authentication, ServiceEndpoint};
use crate::entra::{CredentialError, EntraOverrides, EntraTarget, EntraTokenSource};
use crate::service::{ServiceApi, UpstreamError};

/// How Entra endpoints get client tokens (`SIGNALR_ENTRA_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EntraMode {
    /// The service makes each token (`generateToken`); no custom claims.
    #[default]
    GenerateToken,
    /// Sign locally with a temporary key from the service; custom claims allowed.
    AccessKey,
}

impl EntraMode {
    /// The setting's spelling of the mode.
    pub fn name(self) -> &'static str {
        match self {
            Self::GenerateToken => "generate-token",
            Self::AccessKey => "access-key",
        }
    }
}

/// One endpoint's way of making tokens, prepared at start.
#[derive(Debug)]
pub enum TokenIssuer {
    /// Sign with the connection string's key.
    AccessKey(AccessKey),
    /// Sign with the connection string's key, re-read while serving (a connection string kept
    /// in AWS): one atomic load per token, no lock.
    RotatingKey(Arc<RotatingKey>),
    /// Ask the service (`generateToken`).
    GenerateToken {
        entra: Arc<EntraTokenSource>,
        api: ServiceApi,
    },
    /// Sign with a temporary key from the service.
    TemporaryKey(Arc<TemporaryKeyStore>),
}

/// Why no token was issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// Entra or the service's REST API did not give what was needed.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// The token could not be made.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The caller's credential has expired (it was accepted within the clock-skew leeway):
    /// no token may outlive it.
    #[error("the caller's credential has expired; get a fresh one and negotiate again")]
    LoginEnded,
    /// The service makes tokens in whole minutes, and the caller's credential expires sooner.
    #[error(
        "the caller's credential expires in less than a minute, the shortest token the SignalR service makes; \
         get a fresh one and negotiate again"
    )]
    LoginEndsTooSoon,
}

impl IssueError {
    /// The endpoint looks down (connect error, timeout, 5xx): try another.
    pub fn is_endpoint_failure(&self) -> bool {
        matches!(self, Self::Upstream(error) if error.is_endpoint_failure())
    }
}

impl TokenIssuer {
    /// The issuer for an endpoint. `api` is needed only by Entra endpoints, whose tokens are for
    /// the cloud of the endpoint's host unless `overrides` say otherwise.
    pub fn new(
        endpoint: &ServiceEndpoint,
        mode: EntraMode,
        overrides: &EntraOverrides,
        api: Option<&ServiceApi>,
    ) -> Result<Self, CredentialError> {
        let credential = match endpoint.auth() {
            Authentication::AccessKey(key) => return Ok(Self::AccessKey(AccessKey::new(key.expose()))),
            Authentication::MicrosoftEntra(credential) => credential,
        };
        let api = api.ok_or(CredentialError::NoHttpClient)?;
        let target = EntraTarget::for_host(endpoint.host(), overrides);
        let entra = Arc::new(EntraTokenSource::new(credential, target, api.http())?);
        Ok(match mode {
            EntraMode::GenerateToken => Self::GenerateToken {
                entra,
                api: api.clone(),
            },
            EntraMode::AccessKey => Self::TemporaryKey(Arc::new(TemporaryKeyStore::new(
                entra,
                api.clone(),
                endpoint.server_base().to_owned(),
                KeyLifetime::default(),
            ))),
        })
    }

    /// The source of Entra tokens, for Entra endpoints.
    pub fn entra(&self) -> Option<&EntraTokenSource> {
        match self {
            Self::AccessKey(_) | Self::RotatingKey(_) => None,
            Self::GenerateToken { entra, .. } => Some(entra),
            Self::TemporaryKey(store) => Some(store.entra()),
        }
    }

    /// A client token for `service_hub` on `endpoint`, for `subject`; it never outlives the
    /// subject's login.
    pub async fn issue(
        &self,
        endpoint: &ServiceEndpoint,
        service_hub: &str,
        subject: &TokenSubject<'_>,
        policy: &TokenPolicy,
        now: u64,
    ) -> Result<AccessToken, IssueError> {
        let lifetime = policy
            .lifetime_for(subject.login_end, now)
            .ok_or(IssueError::LoginEnded)?;
        let sign = |key: &AccessKey| {
            let audience = endpoint.audience(service_hub);
            let claims = AccessTokenClaims::for_subject(&audience, subject, policy, now, lifetime);
            jwt::sign(key, &claims)
        };
        match self {
            Self::AccessKey(key) => Ok(sign(key)?),
            Self::RotatingKey(cell) => Ok(cell.with(sign)?),
            // The Entra paths are boxed: their futures are large (an HTTP call), and the
            // access-key path should not move them around on every negotiate.
            Self::TemporaryKey(store) => {
                let key = Box::pin(store.key()).await?;
                Ok(sign(&key)?)
            }
            Self::GenerateToken { entra, api } => {
                let login_left = subject.login_end.map(|end| end.saturating_sub(now));
                let minutes = minutes_to_expire(lifetime, login_left)?;
                let token =
                    Box::pin(api.generate_token(entra, endpoint.server_base(), service_hub, subject.user_id, minutes))
                        .await?;
                AccessToken::from_service(token).map_err(|error| match error {
                    TokenError::NotCompact => IssueError::Upstream(UpstreamError::Malformed),
                    other => IssueError::Token(other),
                })
            }
        }
    }
}

/// `minutesToExpire` of a `generateToken` call for a token of `lifetime_secs`: whole minutes,
/// rounded down, at least one; but never past the login's end (`login_left` seconds away, when
/// known), so with less than a minute of the login left there is no token.
fn minutes_to_expire(lifetime_secs: u64, login_left: Option<u64>) -> Result<u64, IssueError> {
    let minutes = (lifetime_secs / 60).max(1);
    match login_left {
        Some(left) if left < minutes * 60 => Err(IssueError::LoginEndsTooSoon),
        _ => Ok(minutes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_are_rounded_down_at_least_one_and_never_past_the_login() {
        assert_eq!(minutes_to_expire(3600, None).unwrap(), 60);
        assert_eq!(minutes_to_expire(90, None).unwrap(), 1, "rounded down");
        assert_eq!(minutes_to_expire(119, None).unwrap(), 1);
        assert_eq!(minutes_to_expire(120, None).unwrap(), 2);
        assert_eq!(minutes_to_expire(1, None).unwrap(), 1, "at least one");
        // The lifetime was already bounded by the login: 120 s left is 2 minutes.
        assert_eq!(minutes_to_expire(120, Some(120)).unwrap(), 2);
        assert_eq!(minutes_to_expire(61, Some(61)).unwrap(), 1);
        assert_eq!(minutes_to_expire(60, Some(60)).unwrap(), 1);
        // A configured lifetime under a minute is one minute, if the login lasts that long.
        assert_eq!(minutes_to_expire(30, Some(600)).unwrap(), 1);
        assert!(matches!(
            minutes_to_expire(30, Some(45)),
            Err(IssueError::LoginEndsTooSoon)
        ));
        assert!(matches!(
            minutes_to_expire(59, Some(59)),
            Err(IssueError::LoginEndsTooSoon)
        ));
    }
}
