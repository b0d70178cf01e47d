//! Bearer tokens from an OpenID Connect provider, validated with `jsonwebtoken`.
//!
//! The signing keys come from the provider's JWKS, found by discovery
//! (`{issuer}/.well-known/openid-configuration`) unless a JWKS URI is configured. They are
//! cached; a token signed with a key id not in the cache triggers one refetch, at most once a
//! minute, so a flood of forged `kid`s cannot make us hammer the provider. Only asymmetric
//! algorithms are accepted, which rules out `none` and HMAC keyed with a public key.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use axum::http::HeaderMap;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::time::Instant;

use super::{CallerPolicy, Identity, login_end_from, user_id_from};
use crate::fetch_cache::{FetchCache, Held};

/// Algorithms a bearer token may use.
const ACCEPTED: [Algorithm; 8] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
];
/// Clock skew allowed on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 60;
/// The shortest time between two JWKS fetches caused by unknown key ids.
const REFETCH_INTERVAL: Duration = Duration::from_secs(60);
/// Longest bearer token looked at (real ones are a few KB).
const MAX_BEARER_LEN: usize = 16 * 1024;

/// The identity in `Authorization: Bearer`; `None` without the header; `Err` with the reason
/// when the token is not valid.
pub(super) async fn identity(
    verifier: &OidcVerifier,
    headers: &HeaderMap,
    policy: &CallerPolicy,
) -> Result<Option<Identity>, String> {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|token| !token.is_empty() && token.len() <= MAX_BEARER_LEN)
        .ok_or("the Authorization header is not a bearer token")?;
    let claims: Vec<(String, Value)> = verifier
        .verify(token)
        .await
        .map_err(|error| error.to_string())?
        .into_iter()
        .collect();
    let user_id = user_id_from(policy, &claims);
    // `exp` is required and was validated: the bearer's end is the login's.
    let login_end = login_end_from(&claims);
    Ok(Some(Identity {
        user_id,
        claims,
        login_end,
    }))
}

/// Where to find the provider and what tokens must say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// `iss` the tokens must carry; discovery starts from it.
    pub issuer: String,
    /// `aud` the tokens must carry.
    pub audience: String,
    /// When set, discovery is skipped.
    pub jwks_uri: Option<String>,
}

/// Why a bearer token was refused; the message is the reason given to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[allow(missing_docs)] // each message says it
pub enum OidcError {
    #[error("the bearer token is not a well-formed JWT")]
    Malformed,
    #[error("the bearer token's algorithm is not accepted (asymmetric algorithms only)")]
    Algorithm,
    #[error("the bearer token has expired")]
    Expired,
    #[error("the bearer token is not valid yet")]
    NotYetValid,
    #[error("the bearer token's signature is not valid")]
    BadSignature,
    #[error("the bearer token is for another audience")]
    WrongAudience,
    #[error("the bearer token is from another issuer")]
    WrongIssuer,
    #[error("the bearer token is signed with an unknown key")]
    UnknownKey,
    #[error("the bearer token lacks a required claim")]
    MissingClaim,
    #[error("the identity provider's signing keys could not be fetched")]
    KeysUnavailable,
}

/// The provider's signing keys by key id, with the algorithm each is for.
type KeySet = HashMap<String, (DecodingKey, Option<Algorithm>)>;

/// Validates bearer tokens against one provider's published keys.
pub struct OidcVerifier {
    settings: OidcSettings,
    http: reqwest::Client,
    keys: FetchCache<KeySet>,
    /// When the keys were last fetched, successfully or not (for the refetch limit).
    last_fetch: Mutex<Option<Instant>>,
    deadline: Duration,
}

impl std::fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcVerifier")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl OidcVerifier {
    /// A verifier sending through `http`; a key fetch may take at most `deadline`.
    pub fn new(settings: OidcSettings, http: reqwest::Client, deadline: Duration) -> Self {
        Self {
            settings,
            http,
            keys: FetchCache::default(),
            last_fetch: Mutex::new(None),
            deadline,
        }
    }

    /// Validates a bearer token; returns its claims.
    pub async fn verify(&self, token: &str) -> Result<Map<String, Value>, OidcError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| OidcError::Malformed)?;
        if !ACCEPTED.contains(&header.alg) {
            return Err(OidcError::Algorithm);
        }
        let kid = header.kid.unwrap_or_default();
        let (key, key_alg) = self.key(&kid).await?;
        if key_alg.is_some_and(|alg| alg != header.alg) {
            return Err(OidcError::Algorithm);
        }
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|error| match error.kind() {
                ErrorKind::ExpiredSignature => OidcError::Expired,
                ErrorKind::ImmatureSignature => OidcError::NotYetValid,
                ErrorKind::InvalidSignature => OidcError::BadSignature,
                ErrorKind::InvalidAudience => OidcError::WrongAudience,
                ErrorKind::InvalidIssuer => OidcError::WrongIssuer,
                ErrorKind::MissingRequiredClaim(_) => OidcError::MissingClaim,
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidKeyFormat => OidcError::Algorithm,
                _ => OidcError::Malformed,
            })
    }

    /// The key for `kid`, fetching the JWKS when none is held or the kid is new (rate-limited).
    async fn key(&self, kid: &str) -> Result<(DecodingKey, Option<Algorithm>), OidcError> {
        let cached = |held: &Held<KeySet>| held.value.get(kid).cloned().map(Ok);
        self.keys.find_or_fetch(cached, self.refetch(kid)).await
    }

    /// Fetches the keys unless a fetch happened less than a minute ago.
    async fn refetch(&self, kid: &str) -> Result<(DecodingKey, Option<Algorithm>), OidcError> {
        let last = *self.last_fetch.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|at| at.elapsed() < REFETCH_INTERVAL) {
            return Err(OidcError::UnknownKey);
        }
        let fetched = tokio::time::timeout(self.deadline, self.fetch_keys()).await;
        *self.last_fetch.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        let keys = match fetched {
            Ok(Ok(by_kid)) => self.keys.store(by_kid),
            Ok(Err(reason)) => {
                tracing::warn!(%reason, issuer = %self.settings.issuer, "fetching the OIDC signing keys failed");
                return Err(OidcError::KeysUnavailable);
            }
            Err(_) => {
                tracing::warn!(issuer = %self.settings.issuer, "fetching the OIDC signing keys timed out");
                return Err(OidcError::KeysUnavailable);
            }
        };
        keys.get(kid).cloned().ok_or(OidcError::UnknownKey)
    }

    async fn fetch_keys(&self) -> Result<KeySet, String> {
        let jwks_uri = match &self.settings.jwks_uri {
            Some(uri) => uri.clone(),
            None => {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    self.settings.issuer.trim_end_matches('/')
                );
                let discovery: Discovery = self.get_json(&url).await?;
                if discovery.issuer != self.settings.issuer {
                    return Err("the discovery document names another issuer".to_owned());
                }
                discovery.jwks_uri
            }
        };
        let set: JwkSet = self.get_json(&jwks_uri).await?;
        let mut by_kid = HashMap::new();
        for jwk in &set.keys {
            let Ok(key) = DecodingKey::from_jwk(jwk) else {
                continue; // a key type we do not use (e.g. an encryption key)
            };
            let alg = jwk
                .common
                .key_algorithm
                .and_then(|alg| alg.to_string().parse::<Algorithm>().ok());
            by_kid.insert(jwk.common.key_id.clone().unwrap_or_default(), (key, alg));
        }
        tracing::info!(keys = by_kid.len(), "fetched the OIDC signing keys");
        Ok(by_kid)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|error| format!("{url}: {error}"))?;
        if !response.status().is_success() {
            return Err(format!("{url}: answered {}", response.status()));
        }
        response.json().await.map_err(|error| format!("{url}: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn alg_none_and_hmac_are_refused_before_any_key_lookup() {
        let verifier = OidcVerifier::new(
            OidcSettings {
                issuer: "https://issuer.invalid".into(),
                audience: "api".into(),
                jwks_uri: None,
            },
            reqwest::Client::new(),
            Duration::from_millis(10),
        );
        // {"alg":"none","typ":"JWT"}.{"sub":"x"}.
        let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4In0.";
        assert_eq!(verifier.verify(none).await, Err(OidcError::Malformed));
        let hmac = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::HS256),
            &serde_json::json!({"sub": "x"}),
            &jsonwebtoken::EncodingKey::from_secret(b"public key bytes"),
        )
        .unwrap();
        assert_eq!(verifier.verify(&hmac).await, Err(OidcError::Algorithm));
        assert_eq!(verifier.verify("garbage").await, Err(OidcError::Malformed));
    }
}
