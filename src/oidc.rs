//! Bearer tokens from an OpenID Connect provider, validated with `jsonwebtoken`.
//!
//! The signing keys come from the provider's JWKS, found by discovery
//! (`{issuer}/.well-known/openid-configuration`) unless a JWKS URI is configured. They are
//! cached; a token signed with a key id not in the cache triggers one refetch, at most once a
//! minute, so a flood of forged `kid`s cannot make us hammer the provider. Only asymmetric
//! algorithms are accepted, which rules out `none` and HMAC keyed with a public key.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::time::Instant;

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

/// Where to find the provider and what tokens must say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    pub issuer: String,
    pub audience: String,
    /// When set, discovery is skipped.
    pub jwks_uri: Option<String>,
}

/// Why a bearer token was refused; the message is the reason given to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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

struct Keys {
    by_kid: HashMap<String, (DecodingKey, Option<Algorithm>)>,
    fetched: Option<Instant>,
}

pub struct OidcVerifier {
    settings: OidcSettings,
    http: reqwest::Client,
    keys: RwLock<Keys>,
    fetching: tokio::sync::Mutex<()>,
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
    pub fn new(settings: OidcSettings, http: reqwest::Client, deadline: Duration) -> Self {
        Self {
            settings,
            http,
            keys: RwLock::new(Keys {
                by_kid: HashMap::new(),
                fetched: None,
            }),
            fetching: tokio::sync::Mutex::new(()),
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
        if let Some(found) = self.cached(kid) {
            return Ok(found);
        }
        let _one_fetch = self.fetching.lock().await;
        if let Some(found) = self.cached(kid) {
            return Ok(found);
        }
        let last = self.keys.read().unwrap_or_else(|p| p.into_inner()).fetched;
        if last.is_some_and(|at| at.elapsed() < REFETCH_INTERVAL) {
            return Err(OidcError::UnknownKey);
        }
        let fetched = tokio::time::timeout(self.deadline, self.fetch_keys()).await;
        let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
        keys.fetched = Some(Instant::now());
        match fetched {
            Ok(Ok(by_kid)) => keys.by_kid = by_kid,
            Ok(Err(reason)) => {
                tracing::warn!(%reason, issuer = %self.settings.issuer, "fetching the OIDC signing keys failed");
                return Err(OidcError::KeysUnavailable);
            }
            Err(_) => {
                tracing::warn!(issuer = %self.settings.issuer, "fetching the OIDC signing keys timed out");
                return Err(OidcError::KeysUnavailable);
            }
        }
        keys.by_kid.get(kid).cloned().ok_or(OidcError::UnknownKey)
    }

    fn cached(&self, kid: &str) -> Option<(DecodingKey, Option<Algorithm>)> {
        self.keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .by_kid
            .get(kid)
            .cloned()
    }

    async fn fetch_keys(&self) -> Result<HashMap<String, (DecodingKey, Option<Algorithm>)>, String> {
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

/// An issuer or JWKS URL must be https, except on a loopback host (development and tests).
pub fn is_acceptable_provider_url(url: &url::Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => match url.host() {
            Some(url::Host::Domain(domain)) => domain == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_urls_must_be_https_except_on_loopback() {
        let ok = |u: &str| is_acceptable_provider_url(&url::Url::parse(u).unwrap());
        assert!(ok("https://login.microsoftonline.com/tenant/v2.0"));
        assert!(ok("http://127.0.0.1:8080/issuer"));
        assert!(ok("http://localhost:1"));
        assert!(ok("http://[::1]:1"));
        assert!(!ok("http://login.example.com"));
        assert!(!ok("http://10.0.0.1"));
        assert!(!ok("ftp://x"));
    }

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
