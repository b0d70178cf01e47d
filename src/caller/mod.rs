//! Who is calling: the user id and claims of the caller, taken only from a trusted source.
//!
//! Sources (`SIGNALR_AUTH`, tried in order): App Service authentication headers (trusted only
//! where the platform strips forged copies, i.e. `WEBSITE_AUTH_ENABLED=True`), the API Gateway
//! authorizer in the Lambda request context (set by `lambda_http`, never by a client), and an
//! OIDC bearer token validated against the provider's keys. Whatever the source, the claims
//! that reach the token are only those configured: `SIGNALR_COPY_CLAIMS` and `SIGNALR_CLAIMS`.
//! A source that knows when the caller's credential expires says so (the OIDC bearer's `exp`,
//! the API Gateway JWT authorizer's): the caller's token will not outlive it. A caller that
//! asks to be a diagnostic client must carry a claim value `SIGNALR_DIAGNOSTIC_CLIENTS` names.

mod api_gateway;
mod app_service;
mod claims;
mod oidc;

use std::borrow::Cow;

use axum::http::{Extensions, HeaderMap};
use serde_json::Value;
use tokio::time::Instant;

/// What this layer finds: the caller as its token describes it.
pub use crate::tokens::Caller;
pub use app_service::decode_client_principal;
pub use claims::{copied_claims, token_claims};
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
    /// Caller claims copied into the token: `(caller's name, name in the token)`.
    pub copy_claims: Vec<(String, String)>,
    /// Fixed claims added to every token (already renamed).
    pub fixed_claims: Vec<(String, Value)>,
    /// Development only: `?userId=` names the user when no trusted source does.
    pub dev_query_user: bool,
    /// The unique-token claim, which no custom claim may take.
    pub unique_claim: Option<String>,
    /// `(claim, value)` pairs: a caller with any of them may be a diagnostic client.
    pub diagnostic_clients: Vec<(String, String)>,
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
            diagnostic_clients: Vec::new(),
        }
    }
}

/// What a trusted source vouches for: a user id, every claim (a name may repeat), and when the
/// credential expires.
#[derive(Debug, Clone, Default, PartialEq)]
struct Identity {
    user_id: Option<String>,
    claims: Vec<(String, Value)>,
    login_end: Option<u64>,
}

/// Why a caller gets no token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallerError {
    /// No valid credential (or none, where one is required).
    #[error(transparent)]
    Unauthorized(#[from] Unauthorized),
    /// Asked to be a diagnostic client without a claim value that allows it.
    #[error("this caller may not open a diagnostic connection (SIGNALR_DIAGNOSTIC_CLIENTS names who may)")]
    NotDiagnostic,
}

/// A presented credential was invalid, or one was required and missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
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

    /// The sources, user id claim and claims this resolver applies, fixed at start.
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
    /// development mode; `diagnostic` is the request asking to be a diagnostic client. What is
    /// fetched to know the caller (an OIDC provider's keys) is waited for until `deadline`.
    pub async fn resolve(
        &self,
        headers: &HeaderMap,
        extensions: &Extensions,
        query_user: Option<&str>,
        diagnostic: bool,
        deadline: Instant,
    ) -> Result<Caller, CallerError> {
        for source in &self.policy.sources {
            let found = match source {
                AuthSource::AppService => {
                    app_service::identity(headers, &self.policy).map_err(|r| self.unauthorized(r))?
                }
                AuthSource::ApiGateway => api_gateway::identity(extensions, &self.policy),
                // Boxed: discovery and key fetches make a large future that the other
                // sources should not carry.
                AuthSource::Oidc => match &self.oidc {
                    Some(oidc) => Box::pin(oidc::identity(oidc, headers, &self.policy, deadline))
                        .await
                        .map_err(|r| self.unauthorized(r))?,
                    None => None,
                },
                AuthSource::Anonymous => None,
            };
            if let Some(identity) = found {
                return self.caller(identity, diagnostic);
            }
        }
        let mut identity = Identity::default();
        if let Some(user) = query_user.filter(|user| !user.is_empty() && self.policy.dev_query_user) {
            identity.user_id = Some(user.to_owned());
        } else if self.policy.required {
            return Err(self.unauthorized("this function requires a signed-in caller").into());
        }
        self.caller(identity, diagnostic)
    }

    /// A caller known by a user id at most: `check`'s sample.
    pub fn sample(&self, user_id: Option<&str>) -> Caller {
        Caller {
            user_id: user_id.map(str::to_owned),
            claims: token_claims(&self.policy, &[]),
            login_end: None,
            diagnostic: false,
        }
    }

    fn caller(&self, identity: Identity, diagnostic: bool) -> Result<Caller, CallerError> {
        if diagnostic && !self.may_diagnose(&identity.claims) {
            return Err(CallerError::NotDiagnostic);
        }
        Ok(Caller {
            user_id: identity.user_id,
            claims: token_claims(&self.policy, &identity.claims),
            login_end: identity.login_end,
            diagnostic,
        })
    }

    /// Whether the claims hold a value `SIGNALR_DIAGNOSTIC_CLIENTS` names (as the claim's value
    /// or one of its values). Anonymous callers have no claims, so never.
    fn may_diagnose(&self, claims: &[(String, Value)]) -> bool {
        let holds = |value: &Value, wanted: &str| match value {
            Value::String(text) => text == wanted,
            Value::Array(values) => values.iter().any(|value| value.as_str() == Some(wanted)),
            _ => false,
        };
        self.policy
            .diagnostic_clients
            .iter()
            .any(|(claim, wanted)| claims.iter().any(|(name, value)| name == claim && holds(value, wanted)))
    }
}

/// When the credential expires, from its `exp` claim, in Unix seconds.
fn login_end_from(claims: &[(String, Value)]) -> Option<u64> {
    let (_, exp) = claims.iter().find(|(name, _)| name == "exp")?;
    expiry_seconds(exp)
}

/// An `exp` value in Unix seconds: a number, or digits in a string as API Gateway passes claims.
fn expiry_seconds(exp: &Value) -> Option<u64> {
    match exp {
        Value::Number(number) => number.as_u64().or_else(|| {
            number
                .as_f64()
                .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
                .map(|seconds| seconds as u64)
        }),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
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
    fn the_login_ends_at_exp_as_a_number_or_digits() {
        let claims = |exp: Value| vec![("sub".to_owned(), Value::from("u")), ("exp".to_owned(), exp)];
        assert_eq!(
            login_end_from(&claims(Value::from(1_700_000_120_u64))),
            Some(1_700_000_120)
        );
        assert_eq!(
            login_end_from(&claims(Value::from(1_700_000_120.9))),
            Some(1_700_000_120)
        );
        assert_eq!(login_end_from(&claims(Value::from("1700000120"))), Some(1_700_000_120));
        assert_eq!(login_end_from(&claims(Value::from(-5))), None);
        assert_eq!(login_end_from(&claims(Value::from("soon"))), None);
        assert_eq!(login_end_from(&claims(Value::Null)), None);
        assert_eq!(login_end_from(&[("sub".to_owned(), Value::from("u"))]), None);
    }

    fn resolver(diagnostic_clients: &[(&str, &str)]) -> CallerResolver {
        CallerResolver::new(
            CallerPolicy {
                diagnostic_clients: diagnostic_clients
                    .iter()
                    .map(|(claim, value)| ((*claim).to_owned(), (*value).to_owned()))
                    .collect(),
                ..CallerPolicy::default()
            },
            None,
        )
    }

    fn identity(claims: &[(&str, Value)]) -> Identity {
        Identity {
            user_id: Some("u".into()),
            claims: claims
                .iter()
                .map(|(name, value)| ((*name).to_owned(), value.clone()))
                .collect(),
            login_end: Some(99),
        }
    }

    #[test]
    fn diagnostic_clients_need_a_configured_claim_value() {
        let diagnosers = resolver(&[("roles", "diag"), ("cognito:groups", "ops")]);
        let allowed = [
            identity(&[("roles", Value::from("diag"))]),
            identity(&[("roles", serde_json::json!(["reader", "diag"]))]),
            identity(&[("email", Value::from("a")), ("cognito:groups", Value::from("ops"))]),
        ];
        for allowed in allowed {
            let caller = diagnosers.caller(allowed.clone(), true).expect("allowed");
            assert!(caller.diagnostic);
            assert_eq!(caller.login_end, Some(99));
            assert!(
                !diagnosers.caller(allowed, false).unwrap().diagnostic,
                "only when asked"
            );
        }
        let refused = [
            identity(&[]),
            identity(&[("roles", Value::from("Diag"))]),
            identity(&[("roles", Value::from("reader"))]),
            identity(&[("role", Value::from("diag"))]),
            identity(&[("roles", serde_json::json!(["reader"]))]),
            identity(&[("roles", Value::from(true))]),
            identity(&[("cognito:groups", Value::from("diag"))]),
        ];
        for refused in refused {
            assert_eq!(
                diagnosers.caller(refused.clone(), true),
                Err(CallerError::NotDiagnostic),
                "{refused:?}"
            );
            assert!(diagnosers.caller(refused, false).is_ok());
        }
        let nobody = resolver(&[]);
        assert_eq!(
            nobody.caller(identity(&[("roles", Value::from("diag"))]), true),
            Err(CallerError::NotDiagnostic)
        );
    }

    #[tokio::test]
    async fn anonymous_and_query_users_are_never_diagnostic_clients() {
        let resolver = CallerResolver::new(
            CallerPolicy {
                dev_query_user: true,
                diagnostic_clients: vec![("roles".into(), "diag".into())],
                ..CallerPolicy::default()
            },
            None,
        );
        let (headers, extensions) = (HeaderMap::new(), Extensions::new());
        for user in [None, Some("diag")] {
            assert_eq!(
                resolver
                    .resolve(&headers, &extensions, user, true, Instant::now())
                    .await,
                Err(CallerError::NotDiagnostic)
            );
        }
        let caller = resolver
            .resolve(&headers, &extensions, Some("ada"), false, Instant::now())
            .await
            .unwrap();
        assert_eq!(caller.user_id.as_deref(), Some("ada"));
        assert_eq!(caller.login_end, None);
    }

    #[tokio::test]
    async fn the_query_user_counts_only_in_development_mode() {
        let (headers, extensions) = (HeaderMap::new(), Extensions::new());
        let production = CallerResolver::new(CallerPolicy::default(), None);
        let caller = production
            .resolve(&headers, &extensions, Some("mallory"), false, Instant::now())
            .await
            .unwrap();
        assert_eq!(caller.user_id, None, "?userId= is ignored outside development mode");
        let development = CallerResolver::new(
            CallerPolicy {
                dev_query_user: true,
                required: true,
                ..CallerPolicy::default()
            },
            None,
        );
        let caller = development
            .resolve(&headers, &extensions, Some("ada"), false, Instant::now())
            .await
            .unwrap();
        assert_eq!(caller.user_id.as_deref(), Some("ada"));
        assert!(matches!(
            development
                .resolve(&headers, &extensions, Some(""), false, Instant::now())
                .await,
            Err(CallerError::Unauthorized(_))
        ));
    }

    #[test]
    fn the_sample_caller_has_the_user_and_the_fixed_claims() {
        let resolver = CallerResolver::new(
            CallerPolicy {
                fixed_claims: vec![("tier".into(), Value::from("gold"))],
                ..CallerPolicy::default()
            },
            None,
        );
        let sample = resolver.sample(Some("u-1"));
        assert_eq!(sample.user_id.as_deref(), Some("u-1"));
        assert_eq!(sample.claims, vec![("tier".to_owned(), Value::from("gold"))]);
        assert_eq!((sample.login_end, sample.diagnostic), (None, false));
    }

    #[test]
    fn auth_sources_parse() {
        assert_eq!(AuthSource::parse("App-Service"), Some(AuthSource::AppService));
        assert_eq!(AuthSource::parse(" oidc "), Some(AuthSource::Oidc));
        assert_eq!(AuthSource::parse("basic"), None);
    }
}
