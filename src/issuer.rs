//! How an endpoint's client tokens are issued: signed locally with the connection string's
//! access key, made by the service (`generateToken`, Entra default), or signed locally with a
//! temporary key the service issued (Entra `access-key` mode).

use std::sync::Arc;

use axum::http::StatusCode;

use crate::access_key::AccessKey;
use crate::connection_string::Authentication;
use crate::endpoint::ServiceEndpoint;
use crate::entra::{CredentialError, EntraTokenSource};
use crate::error::ApiError;
use crate::service_api::{ServiceApi, UpstreamError};
use crate::temporary_key::{KeyLifetime, TemporaryKeyStore};
use crate::token::{self, AccessTokenClaims, MAX_TOKEN_LEN, TokenError, TokenPolicy};

/// How Entra endpoints get client tokens (`SIGNALR_ENTRA_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EntraMode {
    /// The service makes each token (`generateToken`); no custom claims.
    #[default]
    GenerateToken,
    /// Sign locally with a temporary key from the service; custom claims allowed.
    AccessKey,
}

#[derive(Debug)]
pub enum TokenIssuer {
    AccessKey(AccessKey),
    GenerateToken {
        entra: Arc<EntraTokenSource>,
        api: ServiceApi,
    },
    TemporaryKey(Arc<TemporaryKeyStore>),
}

/// Why no token was issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error(transparent)]
    Token(#[from] TokenError),
}

impl IssueError {
    /// The endpoint looks down (connect error, timeout, 5xx): try another.
    pub fn is_endpoint_failure(&self) -> bool {
        matches!(self, Self::Upstream(error) if error.is_endpoint_failure())
    }

    pub fn to_api_error(&self) -> ApiError {
        match self {
            Self::Upstream(error) => error.to_api_error(),
            Self::Token(error @ TokenError::TooLong(_)) => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, error.to_string())
            }
            Self::Token(error) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
        }
    }
}

impl TokenIssuer {
    /// The issuer for an endpoint. `api` is needed only by Entra endpoints.
    pub fn new(endpoint: &ServiceEndpoint, mode: EntraMode, api: Option<&ServiceApi>) -> Result<Self, CredentialError> {
        let credential = match endpoint.auth() {
            Authentication::AccessKey(key) => return Ok(Self::AccessKey(key.clone())),
            Authentication::MicrosoftEntra(credential) => credential,
        };
        let api = api.ok_or_else(|| CredentialError("no HTTP client for Microsoft Entra ID".to_owned()))?;
        let entra = Arc::new(EntraTokenSource::new(credential, api.http())?);
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
            token::sign(key, &claims)
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
                if token.len() > MAX_TOKEN_LEN {
                    return Err(TokenError::TooLong(token.len()).into());
                }
                Ok(token)
            }
        }
    }
}
