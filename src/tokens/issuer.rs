//! How an endpoint's client tokens are issued: signed locally with the connection string's
//! access key, made by the service (`generateToken`, Entra default), or signed locally with a
//! temporary key the service issued (Entra `access-key` mode).

use std::sync::Arc;

use tokio::time::Instant;

use super::entra_access_key::{KeyLifetime, TemporaryKeyStore};
use super::{AccessKey, AccessToken, AccessTokenClaims, Caller, RotatingKey, TokenError, TokenPolicy, jwt};
use crate::endpoints::{Authentication, ServiceEndpoint};
use crate::entra::{CredentialError, EntraOverrides, EntraTarget, EntraTokenSource};
use crate::product::{Contract, Service};
use crate::service::{GenerateToken, ServiceApi, UpstreamError};

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

/// An endpoint's issuer of client tokens, prepared at start: the endpoint, how its tokens are
/// made, and the policy every token follows (shared by all endpoints). A negotiate asks it
/// only for what varies, a hub and a caller.
#[derive(Debug)]
pub struct TokenIssuer {
    endpoint: ServiceEndpoint,
    policy: Arc<TokenPolicy>,
    method: Method,
}

/// How an endpoint's tokens are made.
#[derive(Debug)]
enum Method {
    /// Sign with the connection string's key.
    AccessKey(AccessKey),
    /// Sign with the connection string's key, re-read while serving (a connection string kept
    /// in AWS): read per token without a lock.
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
    /// Signing failed, or the token would be too long for the service.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The caller's credential has expired (it was accepted within the clock-skew leeway):
    /// no token may outlive it.
    #[error("the caller's credential has expired; get a fresh one and negotiate again")]
    LoginEnded,
    /// The service makes tokens in whole minutes, and the caller's credential expires sooner.
    #[error(
        "the caller's credential expires in less than a minute, the shortest token the service makes; \
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
    /// The issuer for an endpoint of `service`. `api` is needed only by Entra endpoints, whose
    /// tokens are for the cloud of the endpoint's host unless `overrides` say otherwise.
    pub fn new(
        endpoint: ServiceEndpoint,
        policy: Arc<TokenPolicy>,
        mode: EntraMode,
        (service, overrides): (Service, &EntraOverrides),
        api: Option<&ServiceApi>,
    ) -> Result<Self, CredentialError> {
        let method = match endpoint.auth() {
            Authentication::AccessKey(key) => Method::AccessKey(AccessKey::new(key.expose())),
            Authentication::MicrosoftEntra(credential) => {
                let api = api.ok_or(CredentialError::NoHttpClient)?;
                let target = EntraTarget::for_host(service, endpoint.host(), overrides);
                let entra = Arc::new(EntraTokenSource::new(credential, target, api.http())?);
                match mode {
                    EntraMode::GenerateToken => Method::GenerateToken {
                        entra,
                        api: api.clone(),
                    },
                    EntraMode::AccessKey => Method::TemporaryKey(Arc::new(TemporaryKeyStore::new(
                        entra,
                        api.clone(),
                        endpoint.server_base().to_owned(),
                        KeyLifetime::default(),
                    ))),
                }
            }
        };
        Ok(Self {
            endpoint,
            policy,
            method,
        })
    }

    /// The issuer for an endpoint whose access key is re-read while serving.
    pub fn rotating(endpoint: ServiceEndpoint, policy: Arc<TokenPolicy>, key: Arc<RotatingKey>) -> Self {
        Self {
            endpoint,
            policy,
            method: Method::RotatingKey(key),
        }
    }

    /// The endpoint whose tokens this issues.
    pub fn endpoint(&self) -> &ServiceEndpoint {
        &self.endpoint
    }

    /// The source of Entra tokens, for Entra endpoints.
    pub fn entra(&self) -> Option<&EntraTokenSource> {
        match &self.method {
            Method::AccessKey(_) | Method::RotatingKey(_) => None,
            Method::GenerateToken { entra, .. } => Some(entra),
            Method::TemporaryKey(store) => Some(store.entra()),
        }
    }

    /// A client token for `service_hub` under `contract`, for `caller`, issued at `now`; it
    /// never outlives the caller's login. Whatever it waits for upstream ends by `deadline`.
    pub async fn issue(
        &self,
        contract: &Contract,
        service_hub: &str,
        caller: &Caller,
        now: u64,
        deadline: Instant,
    ) -> Result<AccessToken, IssueError> {
        let policy = &*self.policy;
        let lifetime = policy
            .lifetime_for(caller.login_end, now)
            .ok_or(IssueError::LoginEnded)?;
        let sign = |key: &AccessKey| match contract {
            Contract::SignalR => {
                let audience = self.endpoint.audience(service_hub);
                jwt::sign(
                    key,
                    &AccessTokenClaims::for_caller(&audience, caller, policy, now, lifetime),
                )
            }
            Contract::WebPubSub(webpubsub) => {
                let audience = webpubsub.audience(&self.endpoint, service_hub);
                jwt::sign(key, &webpubsub.claims(&audience, caller, now, lifetime))
            }
        };
        match &self.method {
            Method::AccessKey(key) => Ok(sign(key)?),
            Method::RotatingKey(cell) => Ok(cell.with(sign)?),
            // The Entra paths are boxed: their futures are large (an HTTP call), and the
            // access-key path should not move them around on every negotiate.
            Method::TemporaryKey(store) => {
                let key = Box::pin(store.key(deadline)).await?;
                Ok(sign(&key)?)
            }
            Method::GenerateToken { entra, api } => {
                let login_left = caller.login_end.map(|end| end.saturating_sub(now));
                let minutes = minutes_to_expire(lifetime, login_left)?;
                let user_id = caller.user_id.as_deref();
                let server = self.endpoint.server_base();
                let query = match contract {
                    Contract::SignalR => Vec::new(),
                    Contract::WebPubSub(webpubsub) => webpubsub.generate_token_query(caller),
                };
                let request = GenerateToken {
                    service: contract.service(),
                    server,
                    hub: service_hub,
                    user_id,
                    minutes_to_expire: minutes,
                    query: &query,
                };
                let call = api.generate_token(entra, &request, deadline);
                let token = Box::pin(call).await?;
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
