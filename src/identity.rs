//! Who is calling: the user id and claims of the caller, taken only from a trusted source.
//!
//! Sources (`SIGNALR_AUTH`, tried in order): App Service authentication headers (trusted only
//! where the platform strips forged copies, i.e. `WEBSITE_AUTH_ENABLED=True`), the API Gateway
//! authorizer in the Lambda request context (set by `lambda_http`, never by a client), and an
//! OIDC bearer token validated against the provider's keys. Whatever the source, the claims
//! that reach the token are only those configured: `SIGNALR_COPY_CLAIMS` and `SIGNALR_CLAIMS`.

use std::borrow::Cow;

use axum::http::StatusCode;
use axum::http::request::Parts;
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::oidc::{OidcError, OidcVerifier};

/// A trusted source of caller identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthSource {
    AppService,
    ApiGateway,
    Oidc,
    Anonymous,
}

impl AuthSource {
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

/// Claim names the SDK moves under `asrs.u.` when they come from the caller or configuration.
const RENAMED_CLAIMS: [&str; 11] = [
    "aud", "exp", "iat", "nbf", "iss", "actort", "acr", "azp", "c_hash", "jti", "nonce",
];

/// The identity settings, fixed at start.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityPolicy {
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
}

impl Default for IdentityPolicy {
    fn default() -> Self {
        Self {
            sources: vec![AuthSource::Anonymous],
            required: false,
            user_id_claim: "sub".to_owned(),
            user_id_claim_set: false,
            copy_claims: Vec::new(),
            fixed_claims: Vec::new(),
            dev_query_user: false,
        }
    }
}

/// The caller as a trusted source describes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Caller {
    pub user_id: Option<String>,
    /// Every claim the source vouches for; a name may repeat.
    pub claims: Vec<(String, Value)>,
}

/// A presented credential was invalid, or one was required and missing: a 401.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unauthorized {
    pub reason: Cow<'static, str>,
    /// Answer with `WWW-Authenticate: Bearer` (OIDC is a configured source).
    pub bearer: bool,
}

impl Unauthorized {
    pub fn to_api_error(&self) -> ApiError {
        let challenge = if self.bearer {
            let description = self.reason.replace('"', "'");
            Some(format!(
                "Bearer error=\"invalid_token\", error_description=\"{description}\""
            ))
        } else {
            None
        };
        ApiError::new(StatusCode::UNAUTHORIZED, self.reason.clone()).with_challenge(challenge)
    }
}

/// Finds the caller of a request, from the configured sources.
#[derive(Debug)]
pub struct Identifier {
    policy: IdentityPolicy,
    oidc: Option<OidcVerifier>,
}

impl Identifier {
    pub fn new(policy: IdentityPolicy, oidc: Option<OidcVerifier>) -> Self {
        Self { policy, oidc }
    }

    pub fn policy(&self) -> &IdentityPolicy {
        &self.policy
    }

    fn bearer_challenge(&self) -> bool {
        self.oidc.is_some()
    }

    fn unauthorized(&self, reason: impl Into<Cow<'static, str>>) -> Unauthorized {
        Unauthorized {
            reason: reason.into(),
            bearer: self.bearer_challenge(),
        }
    }

    /// The caller of a request; anonymous when no source knows it and none is required.
    pub async fn identify(&self, request: &Parts) -> Result<Caller, Unauthorized> {
        for source in &self.policy.sources {
            let found = match source {
                AuthSource::AppService => self.app_service_caller(request)?,
                AuthSource::ApiGateway => self.api_gateway_caller(request),
                // Boxed: discovery and key fetches make a large future that the other
                // sources should not carry.
                AuthSource::Oidc => Box::pin(self.bearer_caller(request)).await?,
                AuthSource::Anonymous => None,
            };
            if let Some(caller) = found {
                return Ok(caller);
            }
        }
        if self.policy.dev_query_user {
            if let Some(user) = query_user(request.uri.query()) {
                return Ok(Caller {
                    user_id: Some(user),
                    claims: Vec::new(),
                });
            }
        }
        if self.policy.required {
            return Err(self.unauthorized("this function requires a signed-in caller"));
        }
        Ok(Caller::default())
    }

    /// The user id from the claims, by `SIGNALR_USER_ID_CLAIM`.
    fn user_id_from(&self, claims: &[(String, Value)]) -> Option<String> {
        claims
            .iter()
            .find(|(name, _)| *name == self.policy.user_id_claim)
            .and_then(|(_, value)| match value {
                Value::String(text) if !text.is_empty() => Some(text.clone()),
                Value::Number(number) => Some(number.to_string()),
                _ => None,
            })
    }

    fn app_service_caller(&self, request: &Parts) -> Result<Option<Caller>, Unauthorized> {
        let header = |name: &str| request.headers.get(name).map(|value| value.to_str());
        let principal_id = match header("x-ms-client-principal-id") {
            None => None,
            Some(Ok(id)) if !id.is_empty() => Some(id.to_owned()),
            Some(_) => return Err(self.unauthorized("X-MS-CLIENT-PRINCIPAL-ID is not valid")),
        };
        let claims = match header("x-ms-client-principal") {
            None => Vec::new(),
            Some(Ok(encoded)) => decode_client_principal(encoded)
                .ok_or_else(|| self.unauthorized("X-MS-CLIENT-PRINCIPAL is not valid base64-encoded JSON"))?,
            Some(Err(_)) => return Err(self.unauthorized("X-MS-CLIENT-PRINCIPAL is not valid base64-encoded JSON")),
        };
        if principal_id.is_none() && claims.is_empty() {
            return Ok(None);
        }
        let user_id = if self.policy.user_id_claim_set {
            self.user_id_from(&claims).or(principal_id)
        } else {
            principal_id.or_else(|| self.user_id_from(&claims))
        };
        Ok(Some(Caller { user_id, claims }))
    }

    fn api_gateway_caller(&self, request: &Parts) -> Option<Caller> {
        let context = request.extensions.get::<lambda_http::request::RequestContext>()?;
        let mut claims: Vec<(String, Value)> = Vec::new();
        let mut principal = None;
        match context {
            lambda_http::request::RequestContext::ApiGatewayV2(context) => {
                let authorizer = context.authorizer.as_ref()?;
                if let Some(jwt) = &authorizer.jwt {
                    claims.extend(jwt.claims.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))));
                }
                claims.extend(authorizer.fields.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            lambda_http::request::RequestContext::ApiGatewayV1(context) => {
                let fields = &context.authorizer.fields;
                match fields.get("claims") {
                    Some(Value::Object(jwt_claims)) => {
                        claims.extend(jwt_claims.iter().map(|(k, v)| (k.clone(), v.clone())))
                    }
                    _ => claims.extend(
                        fields
                            .iter()
                            .filter(|(k, _)| !matches!(k.as_str(), "principalId" | "integrationLatency" | "claims"))
                            .map(|(k, v)| (k.clone(), v.clone())),
                    ),
                }
                principal = fields.get("principalId").and_then(Value::as_str).map(str::to_owned);
            }
            _ => return None,
        }
        claims.sort_by(|a, b| a.0.cmp(&b.0));
        if claims.is_empty() && principal.is_none() {
            return None;
        }
        let user_id = self.user_id_from(&claims).or(principal);
        Some(Caller { user_id, claims })
    }

    async fn bearer_caller(&self, request: &Parts) -> Result<Option<Caller>, Unauthorized> {
        let Some(oidc) = &self.oidc else {
            return Ok(None);
        };
        let Some(value) = request.headers.get(axum::http::header::AUTHORIZATION) else {
            return Ok(None);
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|token| !token.is_empty() && token.len() <= MAX_BEARER_LEN)
            .ok_or_else(|| self.unauthorized("the Authorization header is not a bearer token"))?;
        let claims = oidc
            .verify(token)
            .await
            .map_err(|error: OidcError| self.unauthorized(error.to_string()))?;
        let claims: Vec<(String, Value)> = claims.into_iter().collect();
        let user_id = self.user_id_from(&claims);
        Ok(Some(Caller { user_id, claims }))
    }
}

/// Longest bearer token looked at (real ones are a few KB).
const MAX_BEARER_LEN: usize = 16 * 1024;

#[derive(Deserialize)]
struct ClientPrincipal {
    #[serde(default)]
    claims: Vec<PrincipalClaim>,
}

#[derive(Deserialize)]
struct PrincipalClaim {
    typ: String,
    val: String,
}

/// Decodes App Service's `X-MS-CLIENT-PRINCIPAL`: base64 (padded or not) of
/// `{"auth_typ","claims":[{"typ","val"}],"name_typ","role_typ"}`.
pub fn decode_client_principal(encoded: &str) -> Option<Vec<(String, Value)>> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let json = LENIENT.decode(encoded.trim()).ok()?;
    let principal: ClientPrincipal = serde_json::from_slice(&json).ok()?;
    Some(
        principal
            .claims
            .into_iter()
            .map(|claim| (claim.typ, Value::String(claim.val)))
            .collect(),
    )
}

fn query_user(query: Option<&str>) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(key, _)| key == "userId")
        .map(|(_, value)| value.into_owned())
        .filter(|user| !user.is_empty())
}

/// The name a caller or configured claim takes in the token (`asrs.u.` for reserved names).
pub fn token_claim_name(name: &str) -> Cow<'_, str> {
    if RENAMED_CLAIMS.contains(&name) {
        Cow::Owned(format!("asrs.u.{name}"))
    } else {
        Cow::Borrowed(name)
    }
}

/// Names the token's own claims hold; a custom claim may not take them.
pub fn is_system_claim(name: &str, unique_claim: Option<&str>) -> bool {
    name.starts_with("asrs.s.") || name == "nameid" || Some(name) == unique_claim
}

/// The custom claims of a caller's token: the copied ones, then the fixed ones; a name that
/// repeats becomes an array.
pub fn custom_claims(policy: &IdentityPolicy, caller: &Caller, unique_claim: Option<&str>) -> Vec<(String, Value)> {
    let mut merged: Map<String, Value> = Map::new();
    let mut order: Vec<String> = Vec::new();
    let copied = caller
        .claims
        .iter()
        .filter(|(name, _)| policy.copy_claims.iter().any(|wanted| wanted == name))
        .map(|(name, value)| (token_claim_name(name).into_owned(), value.clone()));
    for (name, value) in copied.chain(policy.fixed_claims.iter().cloned()) {
        if is_system_claim(&name, unique_claim) {
            continue;
        }
        match merged.get_mut(&name) {
            None => {
                order.push(name.clone());
                merged.insert(name, value);
            }
            Some(Value::Array(values)) if !matches!(value, Value::Array(_)) => values.push(value),
            Some(existing) => {
                let first = existing.take();
                let mut values = match first {
                    Value::Array(values) => values,
                    other => vec![other],
                };
                match value {
                    Value::Array(more) => values.extend(more),
                    one => values.push(one),
                }
                *existing = Value::Array(values);
            }
        }
    }
    order
        .into_iter()
        .filter_map(|name| merged.remove(&name).map(|value| (name, value)))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn principal(json: &Value) -> String {
        base64::engine::general_purpose::STANDARD.encode(json.to_string())
    }

    #[test]
    fn client_principal_decodes_padded_or_not() {
        let encoded = principal(&json!({
            "auth_typ": "aad",
            "claims": [{"typ": "name", "val": "Ada"}, {"typ": "roles", "val": "admin"}, {"typ": "roles", "val": "ops"}],
            "name_typ": "name",
            "role_typ": "roles"
        }));
        let claims = decode_client_principal(&encoded).unwrap();
        assert_eq!(claims.len(), 3);
        assert_eq!(claims[0], ("name".to_owned(), json!("Ada")));
        assert_eq!(decode_client_principal(encoded.trim_end_matches('=')).unwrap(), claims);
        assert!(decode_client_principal("not base64!").is_none());
        assert!(decode_client_principal(&base64::engine::general_purpose::STANDARD.encode("{not json")).is_none());
    }

    #[test]
    fn copied_claims_are_filtered_renamed_and_merged() {
        let policy = IdentityPolicy {
            copy_claims: vec!["roles".into(), "email".into(), "aud".into(), "nameid".into()],
            fixed_claims: vec![("tier".into(), json!("gold")), ("roles".into(), json!("reader"))],
            ..IdentityPolicy::default()
        };
        let caller = Caller {
            user_id: Some("u1".into()),
            claims: vec![
                ("roles".into(), json!("admin")),
                ("email".into(), json!("a@example.com")),
                ("roles".into(), json!("ops")),
                ("secret".into(), json!("not copied")),
                ("aud".into(), json!("their-api")),
                ("nameid".into(), json!("spoof")),
            ],
        };
        let claims = custom_claims(&policy, &caller, Some("uniqueToken"));
        assert_eq!(
            claims,
            vec![
                ("roles".to_owned(), json!(["admin", "ops", "reader"])),
                ("email".to_owned(), json!("a@example.com")),
                ("asrs.u.aud".to_owned(), json!("their-api")),
                ("tier".to_owned(), json!("gold")),
            ]
        );
    }

    #[test]
    fn reserved_names_move_under_asrs_u() {
        for name in RENAMED_CLAIMS {
            assert_eq!(token_claim_name(name), format!("asrs.u.{name}"));
        }
        assert_eq!(token_claim_name("email"), "email");
        assert!(is_system_claim("asrs.s.uid", None));
        assert!(is_system_claim("uniqueToken", Some("uniqueToken")));
        assert!(!is_system_claim("email", Some("uniqueToken")));
    }

    #[test]
    fn auth_sources_parse() {
        assert_eq!(AuthSource::parse("App-Service"), Some(AuthSource::AppService));
        assert_eq!(AuthSource::parse(" oidc "), Some(AuthSource::Oidc));
        assert_eq!(AuthSource::parse("basic"), None);
    }
}
