//! How an endpoint's client tokens are issued: signed locally with the connection string's
//! access key, made by the service (`generateToken`, Entra default), or signed locally with a
//! temporary key the service issued (Entra `access-key` mode).

use std::sync::Arc;

use super::entra_access_key::{KeyLifetime, TemporaryKeyStore};
use super::{AccessKey, AccessTokenClaims, TokenError, TokenPolicy, jwt};
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
        let api = api.ok_or_else(|| CredentialError("no HTTP client for Microsoft Entra ID".to_owned()))?;
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
            Self::AccessKey(_) => None,
            Self::GenerateToken { entra, .. } => Some(entra),
            Self::TemporaryKey(store) => Some(store.entra()),
        }
    }

    /// A client token for `service_hub` on `endpoint`.
    pub async fn issue(
        &self,
        endpoint: &ServiceEndpoint,
        service_hub: &str,
        user_id: Option<&str>,
        custom_claims: &[(String, serde_json::Value)],
        policy: &TokenPolicy,
        now: u64,
    ) -> Result<String, IssueError> {
        let sign = |key: &AccessKey| {
            let audience = endpoint.audience(service_hub);
            let claims = AccessTokenClaims::new(&audience, user_id, policy, now).with_custom(custom_claims);
            jwt::sign(key, &claims)
        };
        match self {
            Self::AccessKey(key) => Ok(sign(key)?),
            // The Entra paths are boxed: their futures are large (an HTTP call), and the
            // access-key path should not move them around on every negotiate.
            Self::TemporaryKey(store) => {
                let key = Box::pin(store.key()).await?;
                Ok(sign(&key)?)
            }
            Self::GenerateToken { entra, api } => {
                let token = Box::pin(api.generate_token(
                    entra,
                    endpoint.server_base(),
                    service_hub,
                    user_id,
                    policy.lifetime_secs,
                ))
                .await?;
                Ok(jwt::check_length(token)?)
            }
        }
    }
}
