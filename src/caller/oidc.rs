//! Bearer tokens from an OpenID Connect provider, validated with `jsonwebtoken`.
//!
//! The signing keys come from the provider's JWKS, found by discovery
//! (`{issuer}/.well-known/openid-configuration`) unless a JWKS URI is configured; either URL
//! must be https, or http on a loopback address (`url_rules`), and no redirect is followed.
//! They are cached; a token signed with a key id not in the cache triggers one refetch, at
//! most once a minute counted from when a fetch starts, so a flood of forged `kid`s cannot
//! make us hammer the provider. One fetch is in flight at a time, as a task of its own:
//! callers that give up do not cancel it, callers meanwhile wait for it (each until its
//! negotiate's deadline at the latest), and it may take until the deadline of the caller that
//! started it. Until keys were first fetched, a failed fetch is retried sooner (1 s, 2 s,
//! 4 s, … up to the minute), so one failure at start does not refuse every token for a
//! minute; callers that come before the retry may start are refused at once. Only asymmetric
//! algorithms are accepted, which rules out `none` and HMAC keyed with a public key; `iss`
//! must be the configured issuer, as a string.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::time::Instant;

use super::{CallerPolicy, Identity, login_end_from, user_id_from};
use crate::fetch_cache::{FetchCache, Held, Missed};
use crate::url_rules;

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
/// The shortest time between the starts of two JWKS fetches caused by unknown key ids.
const REFETCH_INTERVAL: Duration = Duration::from_secs(60);
/// Until keys were first fetched, the wait after the first failed fetch (doubled after each).
const FIRST_FETCH_RETRY: Duration = Duration::from_secs(1);
/// Longest bearer token looked at (real ones are a few KB).
const MAX_BEARER_LEN: usize = 16 * 1024;

/// The identity in `Authorization: Bearer`; `None` without the header; `Err` with the reason
/// when the token is not valid. Fetching the provider's keys ends by `deadline`.
pub(super) async fn identity(
    verifier: &OidcVerifier,
    headers: &HeaderMap,
    policy: &CallerPolicy,
    deadline: Instant,
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
        .verify(token, deadline)
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
type KeySet = HashMap<String, Arc<(DecodingKey, Option<Algorithm>)>>;

/// A key for a token, or why there is none.
type KeyFound = Result<Arc<(DecodingKey, Option<Algorithm>)>, OidcError>;

/// Validates bearer tokens against one provider's published keys.
pub struct OidcVerifier {
    provider: Arc<Provider>,
    /// The checks of each accepted algorithm, built once: jsonwebtoken wants every listed
    /// algorithm to match the key's family, so there is one per algorithm.
    validations: Vec<(Algorithm, Validation)>,
}

/// What the verifier shares with its fetch tasks.
struct Provider {
    settings: OidcSettings,
    http: reqwest::Client,
    keys: FetchCache<KeySet, OidcError>,
    limit: Mutex<RefetchLimit>,
}

/// When the next fetch may start. A fetch counts from its start, whatever becomes of it; while
/// no keys were ever fetched, a failure shortens the wait to a backoff.
#[derive(Debug, Default)]
struct RefetchLimit {
    next: Option<Instant>,
    failures_before_keys: u32,
}

impl RefetchLimit {
    /// Whether a fetch may start at `now`; if so, it is counted as started.
    fn start(&mut self, now: Instant) -> bool {
        if self.next.is_some_and(|next| now < next) {
            return false;
        }
        self.next = Some(now + REFETCH_INTERVAL);
        true
    }

    /// A fetch that started at `started` failed while no keys were held: the next may start
    /// after 1 s, 2 s, 4 s, … (never later than the usual minute).
    fn failed_before_keys(&mut self, started: Instant) {
        let doublings = self.failures_before_keys.min(6);
        self.failures_before_keys += 1;
        self.next = Some(started + (FIRST_FETCH_RETRY * (1 << doublings)).min(REFETCH_INTERVAL));
    }
}

impl std::fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcVerifier")
            .field("settings", &self.provider.settings)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl OidcVerifier {
    /// A verifier sending through `http`.
    pub fn new(settings: OidcSettings, http: reqwest::Client) -> Self {
        let validations = ACCEPTED
            .iter()
            .map(|&alg| {
                let mut validation = Validation::new(alg);
                validation.set_issuer(&[&settings.issuer]);
                validation.set_audience(&[&settings.audience]);
                validation.leeway = LEEWAY_SECS;
                validation.validate_nbf = true;
                validation.set_required_spec_claims(&["exp", "iss", "aud"]);
                (alg, validation)
            })
            .collect();
        Self {
            validations,
            provider: Arc::new(Provider {
                settings,
                http,
                keys: FetchCache::default(),
                limit: Mutex::default(),
            }),
        }
    }

    /// Validates a bearer token; returns its claims. Fetching the keys ends by `deadline`.
    pub async fn verify(&self, token: &str, deadline: Instant) -> Result<Map<String, Value>, OidcError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| OidcError::Malformed)?;
        let Some((_, validation)) = self.validations.iter().find(|(alg, _)| *alg == header.alg) else {
            return Err(OidcError::Algorithm);
        };
        let kid = header.kid.unwrap_or_default();
        let found = self.key(&kid, deadline).await?;
        let (key, key_alg) = &*found;
        if key_alg.is_some_and(|alg| alg != header.alg) {
            return Err(OidcError::Algorithm);
        }
        let issuer = &self.provider.settings.issuer;
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, key, validation)
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
            })?;
        // jsonwebtoken takes an array of issuers that holds ours; `iss` is one string
        // (RFC 7519 4.1.1; OpenID Connect Core 3.1.3.7: it must exactly match).
        match claims.get("iss") {
            Some(Value::String(iss)) if iss == issuer => Ok(claims),
            _ => Err(OidcError::WrongIssuer),
        }
    }

    /// The key for `kid`, fetching the JWKS when none is held or the kid is new (rate-limited);
    /// no later than `deadline`.
    async fn key(&self, kid: &str, deadline: Instant) -> KeyFound {
        let cached = |held: &Held<KeySet>| held.value.get(kid).cloned().map(Ok);
        let provider = &self.provider;
        let missed = |missed| {
            Err(match missed {
                Missed::Failed(error) => error,
                Missed::NotFound => OidcError::UnknownKey,
                Missed::Late => OidcError::KeysUnavailable,
            })
        };
        provider
            .keys
            .find_or_fetch(deadline, cached, || provider.start_fetch(deadline), missed)
            .await
    }
}

impl Provider {
    /// When no fetch is in flight: a fetch to run on its own until `deadline`, unless the limit
    /// says not yet (then the answer at once: the keys held do not have the key, or there are
    /// none).
    fn start_fetch(
        self: &Arc<Self>,
        deadline: Instant,
    ) -> Result<impl Future<Output = Result<KeySet, OidcError>> + Send + 'static, KeyFound> {
        let started = Instant::now();
        let had_keys = self.keys.held().is_some();
        if !self.limit.lock().unwrap_or_else(|p| p.into_inner()).start(started) {
            return Err(Err(if had_keys {
                OidcError::UnknownKey
            } else {
                OidcError::KeysUnavailable
            }));
        }
        let provider = Arc::clone(self);
        Ok(async move { provider.fetch(started, deadline, had_keys).await })
    }

    /// Fetches the keys, until `deadline` at the latest.
    async fn fetch(&self, started: Instant, deadline: Instant, had_keys: bool) -> Result<KeySet, OidcError> {
        let reason = match tokio::time::timeout_at(deadline, self.fetch_keys()).await {
            Ok(Ok(by_kid)) => return Ok(by_kid),
            Ok(Err(reason)) => reason,
            Err(_) => "timed out".to_owned(),
        };
        if !had_keys {
            self.limit
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .failed_before_keys(started);
        }
        tracing::warn!(%reason, issuer = %self.settings.issuer, "fetching the OIDC signing keys failed");
        Err(OidcError::KeysUnavailable)
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
                if url_rules::provider_url(&discovery.jwks_uri).is_none() {
                    return Err(format!(
                        "the discovery document's jwks_uri {} is neither https nor http on a loopback address",
                        discovery.jwks_uri
                    ));
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
            by_kid.insert(jwk.common.key_id.clone().unwrap_or_default(), Arc::new((key, alg)));
        }
        tracing::info!(keys = by_kid.len(), "fetched the OIDC signing keys");
        Ok(by_kid)
    }

    /// A JSON document by GET; the one HTTP client follows no redirect, so a 3xx fails here.
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

    #[test]
    fn a_fetch_counts_from_its_start_and_the_next_waits_a_minute() {
        let now = Instant::now();
        let mut limit = RefetchLimit::default();
        assert!(limit.start(now));
        assert_eq!(limit.next, Some(now + REFETCH_INTERVAL));
        assert!(!limit.start(now));
        assert!(!limit.start(now + REFETCH_INTERVAL - Duration::from_millis(1)));
        assert!(limit.start(now + REFETCH_INTERVAL));
    }

    #[test]
    fn failures_before_any_key_back_off_from_a_second_up_to_the_minute() {
        let started = Instant::now();
        let mut limit = RefetchLimit::default();
        let mut waits = Vec::new();
        for _ in 0..9 {
            assert!(limit.start(limit.next.unwrap_or(started)));
            let at = limit.next.unwrap() - REFETCH_INTERVAL;
            limit.failed_before_keys(at);
            waits.push((limit.next.unwrap() - at).as_secs());
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(limit.failures_before_keys, 9);
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
        );
        // {"alg":"none","typ":"JWT"}.{"sub":"x"}.
        let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4In0.";
        let deadline = Instant::now() + Duration::from_millis(10);
        assert_eq!(verifier.verify(none, deadline).await, Err(OidcError::Malformed));
        let hmac = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::HS256),
            &serde_json::json!({"sub": "x"}),
            &jsonwebtoken::EncodingKey::from_secret(b"public key bytes"),
        )
        .unwrap();
        assert_eq!(verifier.verify(&hmac, deadline).await, Err(OidcError::Algorithm));
        assert_eq!(verifier.verify("garbage", deadline).await, Err(OidcError::Malformed));
    }
}
