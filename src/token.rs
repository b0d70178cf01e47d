//! Client access tokens: the claims the service reads, and HS256 signing with an access key.
//!
//! The JWT header is prepared with the key ([`AccessKey`]); a negotiate only serialises the
//! claims and computes one HMAC. Claims, in the SDK's order: `aud`, `iat`, `nbf`, `exp`,
//! `iss`, the user id (`asrs.s.uid` and `nameid`) when known, then a fresh random value
//! under the unique-token claim for the application firewall's per-token rules.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::access_key::AccessKey;

/// The service refuses longer tokens (SDK).
pub const MAX_TOKEN_LEN: usize = 4096;
/// `iss` of every token signed with an access key.
pub const ISSUER: &str = "azure-signalr";
/// Default name of the unique-token claim.
pub const DEFAULT_UNIQUE_CLAIM: &str = "uniqueToken";

/// What every token gets, fixed at start from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPolicy {
    /// Seconds from `iat` to `exp` (1 to 86400).
    pub lifetime_secs: u64,
    /// Name of the claim that carries a fresh random value; `None` leaves it out.
    pub unique_claim: Option<String>,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        Self {
            lifetime_secs: 3600,
            unique_claim: Some(DEFAULT_UNIQUE_CLAIM.to_owned()),
        }
    }
}

/// The claims of one client token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenClaims<'a> {
    pub audience: &'a str,
    pub issued_at: u64,
    pub lifetime_secs: u64,
    pub user_id: Option<&'a str>,
    /// Name and value of the unique-token claim.
    pub unique: Option<(&'a str, RandomId)>,
    /// Copied and configured claims, already renamed and merged.
    pub custom: &'a [(String, serde_json::Value)],
}

impl<'a> AccessTokenClaims<'a> {
    /// The claims for a token issued now under `policy`, with a fresh unique value.
    pub fn new(audience: &'a str, user_id: Option<&'a str>, policy: &'a TokenPolicy, now: u64) -> Self {
        Self {
            audience,
            issued_at: now,
            lifetime_secs: policy.lifetime_secs,
            user_id,
            unique: policy.unique_claim.as_deref().map(|name| (name, RandomId::generate())),
            custom: &[],
        }
    }

    /// Adds the caller's and the configured claims.
    pub fn with_custom(mut self, custom: &'a [(String, serde_json::Value)]) -> Self {
        self.custom = custom;
        self
    }
}

impl Serialize for AccessTokenClaims<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("aud", self.audience)?;
        map.serialize_entry("iat", &self.issued_at)?;
        map.serialize_entry("nbf", &self.issued_at)?;
        map.serialize_entry("exp", &(self.issued_at + self.lifetime_secs))?;
        map.serialize_entry("iss", ISSUER)?;
        if let Some(user_id) = self.user_id {
            map.serialize_entry("asrs.s.uid", user_id)?;
            map.serialize_entry("nameid", user_id)?;
        }
        if let Some((name, value)) = &self.unique {
            map.serialize_entry(name, value.as_str())?;
        }
        for (name, value) in self.custom {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(
        "the access token would be {0} characters long; the service accepts at most 4096 (use fewer or shorter claims)"
    )]
    TooLong(usize),
    #[error("the access token could not be signed")]
    Signing,
}

/// Signs the claims with the key: `header.claims.signature`, all base64url without padding.
pub fn sign(key: &AccessKey, claims: &AccessTokenClaims<'_>) -> Result<String, TokenError> {
    // Sized for the usual claims at once: the audience, five numbers and names, two ids.
    let mut json = Vec::with_capacity(192 + claims.audience.len() + claims.user_id.map_or(0, |id| 2 * id.len()));
    serde_json::to_writer(&mut json, claims).map_err(|_| TokenError::Signing)?;
    let header = key.encoded_header();
    let mut token = String::with_capacity(header.len() + 2 + json.len() * 4 / 3 + 48);
    token.push_str(header);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&json, &mut token);
    let signature = key.sign(token.as_bytes());
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::TooLong(token.len()));
    }
    Ok(token)
}

/// A random, URL-safe identifier: 128 bits from a cryptographically secure generator, as 22
/// base64url characters, held inline (no allocation).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RandomId([u8; 22]);

impl RandomId {
    pub fn generate() -> Self {
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        let mut text = [0u8; 22];
        // 16 bytes are exactly 22 characters unpadded, so this always fills the buffer.
        let _ = URL_SAFE_NO_PAD.encode_slice(bytes, &mut text);
        Self(text)
    }

    pub fn as_str(&self) -> &str {
        // base64url is ASCII.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::fmt::Debug for RandomId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RandomId").field(&self.as_str()).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use hmac::{Hmac, Mac};
    use jwt::VerifyWithKey;
    use serde_json::{Value, json};
    use sha2::Sha256;

    use super::*;

    const KEY: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH";

    /// Verifies with the `jwt` crate and RustCrypto's HMAC (not the code that signed it),
    /// keyed with the UTF-8 bytes of the access key string.
    fn verify(token: &str, key: &str) -> BTreeMap<String, Value> {
        let key: Hmac<Sha256> = Hmac::new_from_slice(key.as_bytes()).unwrap();
        token.verify_with_key(&key).expect("signature verifies")
    }

    fn header(token: &str) -> Value {
        let first = token.split('.').next().unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(first).unwrap()).unwrap()
    }

    #[test]
    fn a_token_verifies_with_an_independent_decoder_and_carries_the_claims() {
        let policy = TokenPolicy::default();
        let claims = AccessTokenClaims::new("http://localhost/client/?hub=chat", None, &policy, 1_700_000_000);
        let token = sign(&AccessKey::new(KEY), &claims).unwrap();
        assert_eq!(header(&token), json!({"alg": "HS256", "typ": "JWT"}));
        let got = verify(&token, KEY);
        assert_eq!(got["aud"], "http://localhost/client/?hub=chat");
        assert_eq!(got["iat"], 1_700_000_000);
        assert_eq!(got["nbf"], 1_700_000_000);
        assert_eq!(got["exp"], 1_700_003_600);
        assert_eq!(got["iss"], "azure-signalr");
        assert_eq!(got["uniqueToken"].as_str().unwrap().len(), 22);
        assert!(!got.contains_key("asrs.s.uid") && !got.contains_key("nameid"));
        assert_eq!(got.len(), 6);
    }

    #[test]
    fn the_wrong_key_does_not_verify() {
        let policy = TokenPolicy::default();
        let claims = AccessTokenClaims::new("aud", None, &policy, 0);
        let token = sign(&AccessKey::new(KEY), &claims).unwrap();
        let other: Hmac<Sha256> = Hmac::new_from_slice(b"another key").unwrap();
        assert!(VerifyWithKey::<BTreeMap<String, Value>>::verify_with_key(token.as_str(), &other).is_err());
    }

    #[test]
    fn the_key_is_used_as_utf8_not_base64_decoded() {
        // A key that is valid base64: signing with its decoded bytes would differ.
        let key = "c2VjcmV0LWtleS1ieXRlcw==";
        let policy = TokenPolicy::default();
        let token = sign(&AccessKey::new(key), &AccessTokenClaims::new("aud", None, &policy, 0)).unwrap();
        verify(&token, key);
    }

    #[test]
    fn claims_are_serialised_in_the_sdk_order() {
        let policy = TokenPolicy {
            lifetime_secs: 60,
            unique_claim: Some("jti2".into()),
        };
        let claims = AccessTokenClaims::new("A", Some("user-1"), &policy, 10);
        let unique = claims.unique.unwrap().1;
        assert_eq!(
            serde_json::to_string(&claims).unwrap(),
            format!(
                r#"{{"aud":"A","iat":10,"nbf":10,"exp":70,"iss":"azure-signalr","asrs.s.uid":"user-1","nameid":"user-1","jti2":"{}"}}"#,
                unique.as_str()
            )
        );
    }

    #[test]
    fn unique_claim_can_be_renamed_or_left_out() {
        let renamed = TokenPolicy {
            lifetime_secs: 1,
            unique_claim: Some("tid".into()),
        };
        let token = sign(&AccessKey::new(KEY), &AccessTokenClaims::new("a", None, &renamed, 5)).unwrap();
        let got = verify(&token, KEY);
        assert!(got.contains_key("tid") && !got.contains_key("uniqueToken"));
        assert_eq!(got["exp"], 6);

        let none = TokenPolicy {
            lifetime_secs: 1,
            unique_claim: None,
        };
        let token = sign(&AccessKey::new(KEY), &AccessTokenClaims::new("a", None, &none, 5)).unwrap();
        assert_eq!(verify(&token, KEY).len(), 5);
    }

    #[test]
    fn random_ids_are_22_url_safe_characters() {
        let id = RandomId::generate();
        assert_eq!(id.as_str().len(), 22);
        assert!(
            id.as_str()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        // 128 bits: the last character carries 2 bits, so it is one of A, Q, g, w.
        assert!("AQgw".contains(&id.as_str()[21..]), "{id:?}");
        assert_eq!(URL_SAFE_NO_PAD.decode(id.as_str()).unwrap().len(), 16);
        assert_ne!(id, RandomId::generate());
    }

    #[test]
    fn unique_values_differ_between_tokens() {
        let policy = TokenPolicy::default();
        let a = AccessTokenClaims::new("a", None, &policy, 0).unique.unwrap().1;
        let b = AccessTokenClaims::new("a", None, &policy, 0).unique.unwrap().1;
        assert_ne!(a, b);
    }

    #[test]
    fn a_key_id_lands_in_the_header() {
        let policy = TokenPolicy::default();
        let token = sign(
            &AccessKey::with_id("kid-7", KEY),
            &AccessTokenClaims::new("a", None, &policy, 0),
        )
        .unwrap();
        assert_eq!(header(&token)["kid"], "kid-7");
        verify(&token, KEY);
    }

    #[test]
    fn tokens_over_4096_characters_are_refused() {
        let policy = TokenPolicy::default();
        let long_user = "u".repeat(2000);
        let claims = AccessTokenClaims::new("a", Some(&long_user), &policy, 0);
        match sign(&AccessKey::new(KEY), &claims) {
            Err(TokenError::TooLong(len)) => assert!(len > MAX_TOKEN_LEN),
            other => panic!("expected TooLong, got {other:?}"),
        }
        let fits = "u".repeat(1000);
        assert!(
            sign(
                &AccessKey::new(KEY),
                &AccessTokenClaims::new("a", Some(&fits), &policy, 0)
            )
            .is_ok()
        );
    }
}
