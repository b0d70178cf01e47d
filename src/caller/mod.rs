//! Who is calling: the user id and claims of the caller, taken only from a trusted source.
//!
//! Sources (`SIGNALR_AUTH`, tried in order): App Service authentication headers (trusted only
//! where the platform strips forged copies, i.e. `WEBSITE_AUTH_ENABLED=True`), the API Gateway
//! authorizer in the Lambda request context (set by `lambda_http`, never by a client), and an
//! OIDC bearer token validated against the provider's keys. Whatever the source, the claims
//! that reach the token are only those configured: `SIGNALR_COPY_CLAIMS` and `SIGNALR_CLAIMS`.

mod api_gateway;
mod app_service;
mod claims;
mod oidc;

use std::borrow::Cow;

use axum::http::{Extensions, HeaderMap};
use serde_json::Value;

pub use app_service::decode_client_principal;
pub use claims::token_claims;
pub use oidc::{OidcSettings, OidcVerifier};

/// A trusted source of caller identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthSource {
    /// App Service authentication's `X-MS-CLIENT-PRINCIPAL*` headers.
    AppService,
    /// The API Gateway authorizer in the Lambda request context.
    ApiGateway,
    /// An OIDC bearer token.
    Oidc,
    /// Nobody in particular.
    Anonymous,
}

impl AuthSource {
    /// A source by its setting name (`app-service`, `api-gateway`, `oidc`, `anonymous`).
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "app-service" => Some(Self::AppService),
            "api-gateway" => Some(Self::ApiGateway),
            "oidc" => Some(Self::Oidc),
            "anonymous" => Some(Self::Anonymous),
            _ => None,
        }
    }
}

/// The caller settings, fixed at start.
#[derive(Debug, Clone, PartialEq)]
pub struct CallerPolicy {
    /// The sources tried, in order.
    pub sources: Vec<AuthSource>,
    /// No identity is a 401.
    pub required: bool,
    /// The claim holding the user id (`sub` by default).
    pub user_id_claim: String,
    /// Whether `SIGNALR_USER_ID_CLAIM` was set (App Service then reads it from the principal's claims).
    pub user_id_claim_set: bool,
    /// Caller claims copied into the token.
    pub copy_claims: Vec<String>,
    /// Fixed claims added to every token (already renamed).
    pub fixed_claims: Vec<(String, Value)>,
    /// Development only: `?userId=` names the user when no trusted source does.
    pub dev_query_user: bool,
    /// The unique-token claim, which no custom claim may take.
    pub unique_claim: Option<String>,
}

impl Default for CallerPolicy {
    fn default() -> Self {
        Self {
            sources: vec![AuthSource::Anonymous],
            required: false,
            user_id_claim: "sub".to_owned(),
            user_id_claim_set: false,
            copy_claims: Vec::new(),
            fixed_claims: Vec::new(),
            dev_query_user: false,
            unique_claim: Some(crate::tokens::DEFAULT_UNIQUE_CLAIM.to_owned()),
        }
    }
}

/// The caller as the token will describe it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Caller {
    /// `asrs.s.uid` and `nameid`, when known.
    pub user_id: Option<String>,
    /// The token's custom claims: the copied ones, then the fixed ones, renamed and merged.
    pub claims: Vec<(String, Value)>,
}

/// What a trusted source vouches for: a user id and every claim (a name may repeat).
#[derive(Debug, Clone, Default, PartialEq)]
struct Identity {
    user_id: Option<String>,
    claims: Vec<(String, Value)>,
}

/// A presented credential was invalid, or one was required and missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unauthorized {
    /// Why, in one sentence that repeats nothing of the credential.
    pub reason: Cow<'static, str>,
    /// Ask for a bearer token (OIDC is a configured source).
    pub bearer: bool,
}

/// Finds the caller of a request, from the configured sources.
#[derive(Debug)]
pub struct CallerResolver {
    policy: CallerPolicy,
    oidc: Option<OidcVerifier>,
}

impl CallerResolver {
    /// A resolver for the policy; `oidc` is needed when `oidc` is a source.
    pub fn new(policy: CallerPolicy, oidc: Option<OidcVerifier>) -> Self {
        Self { policy, oidc }
    }

    /// The caller settings.
    pub fn policy(&self) -> &CallerPolicy {
        &self.policy
    }

    fn unauthorized(&self, reason: impl Into<Cow<'static, str>>) -> Unauthorized {
        Unauthorized {
            reason: reason.into(),
            bearer: self.oidc.is_some(),
        }
    }

    /// The caller of a request (its headers, and the extensions a host put there); anonymous
    /// when no source knows it and none is required. `query_user` is `?userId=`, read only in
    /// development mode.
    pub async fn resolve(
        &self,
        headers: &HeaderMap,
        extensions: &Extensions,
        query_user: Option<&str>,
    ) -> Result<Caller, Unauthorized> {
        for source in &self.policy.sources {
            let found = match source {
                AuthSource::AppService => {
                    app_service::identity(headers, &self.policy).map_err(|r| self.unauthorized(r))?
                }
                AuthSource::ApiGateway => api_gateway::identity(extensions, &self.policy),
                // Boxed: discovery and key fetches make a large future that the other
                // sources should not carry.
                AuthSource::Oidc => match &self.oidc {
                    Some(oidc) => Box::pin(oidc::identity(oidc, headers, &self.policy))
                        .await
                        .map_err(|r| self.unauthorized(r))?,
                    None => None,
                },
                AuthSource::Anonymous => None,
            };
            if let Some(identity) = found {
                return Ok(self.caller(identity));
            }
        }
        if self.policy.dev_query_user {
            if let Some(user) = query_user.filter(|user| !user.is_empty()) {
                return Ok(self.sample(Some(user)));
            }
        }
        if self.policy.required {
            return Err(self.unauthorized("this function requires a signed-in caller"));
        }
        Ok(self.caller(Identity::default()))
    }

    /// A caller known by a user id at most: the development query user, and `check`'s sample.
    pub fn sample(&self, user_id: Option<&str>) -> Caller {
        self.caller(Identity {
            user_id: user_id.map(str::to_owned),
            claims: Vec::new(),
        })
    }

    fn caller(&self, identity: Identity) -> Caller {
        Caller {
            user_id: identity.user_id,
            claims: token_claims(&self.policy, &identity.claims),
        }
    }
}

/// The user id in the claims, by `SIGNALR_USER_ID_CLAIM`.
fn user_id_from(policy: &CallerPolicy, claims: &[(String, Value)]) -> Option<String> {
    claims
        .iter()
        .find(|(name, _)| *name == policy.user_id_claim)
        .and_then(|(_, value)| match value {
            Value::String(text) if !text.is_empty() => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_sources_parse() {
        assert_eq!(AuthSource::parse("App-Service"), Some(AuthSource::AppService));
        assert_eq!(AuthSource::parse(" oidc "), Some(AuthSource::Oidc));
        assert_eq!(AuthSource::parse("basic"), None);
    }
}
