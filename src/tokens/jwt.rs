//! HS256 signing of client access tokens: `header.claims.signature`, all base64url without
//! padding. The header comes prepared with the key ([`AccessKey`]), so a token costs one JSON
//! serialisation and one HMAC. [`AccessToken`] is a token known to be in that form.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::AccessKey;
use super::claims::ISSUER;

/// The service refuses longer tokens (SDK).
pub const MAX_TOKEN_LEN: usize = 4096;

/// Why a token could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Over [`MAX_TOKEN_LEN`] characters.
    #[error(
        "the access token would be {0} characters long; the service accepts at most 4096 (use fewer or shorter claims)"
    )]
    TooLong(usize),
    /// The claims could not be serialised.
    #[error("the access token could not be signed")]
    Signing,
    /// The service's token is not a JWS in compact form.
    #[error("the token from the service is not a JSON web token")]
    NotCompact,
}

/// A client access token in JWS compact form — base64url parts joined by dots, at most
/// [`MAX_TOKEN_LEN`] characters — so it goes into a JSON string or a URL as it is, with
/// nothing to escape. Made by [`sign`], or checked by [`AccessToken::from_service`].
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    /// A token the service made (`generateToken`): refused unless in compact form and short
    /// enough, so that what the client gets is what the service gave.
    pub fn from_service(token: String) -> Result<Self, TokenError> {
        let compact = token.split('.').count() == 3
            && token
                .bytes()
                .all(|byte| byte == b'.' || byte == b'-' || byte == b'_' || byte.is_ascii_alphanumeric());
        if !compact {
            return Err(TokenError::NotCompact);
        }
        check_length(token).map(Self)
    }

    /// The token, as the client gets it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for AccessToken {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

/// A bearer credential: its length only.
impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AccessToken({} characters)", self.0.len())
    }
}

/// A token's claims as the JSON object a JWT carries.
pub trait Claims {
    /// The claims as a JSON object, appended to `json`.
    fn write_json(&self, json: &mut Vec<u8>) -> Result<(), serde_json::Error>;

    /// About how many bytes [`Self::write_json`] writes, to size the buffer once.
    fn size_hint(&self) -> usize;
}

/// Signs the claims with the key.
// Hand-written: jsonwebtoken::encode costs 19,765 instructions per negotiate more (BENCHMARKS.md, "Crates or ours").
pub fn sign(key: &AccessKey, claims: &impl Claims) -> Result<AccessToken, TokenError> {
    let mut json = Vec::with_capacity(claims.size_hint());
    claims.write_json(&mut json).map_err(|_| TokenError::Signing)?;
    let header = key.encoded_header();
    let mut token = String::with_capacity(header.len() + 2 + json.len() * 4 / 3 + 48);
    token.push_str(header);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&json, &mut token);
    let signature = key.sign(token.as_bytes());
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    check_length(token).map(AccessToken)
}

/// A token for the service's REST API, as the SDK's REST client signs one with an access key
/// (Azure/azure-signalr, `AuthUtility.GenerateJwtToken` called by `RestApiAccessTokenGenerator`):
/// `aud` the request's URL without its query, `iat` = `nbf` = now, `exp`, `iss`, and `nameid`
/// naming the server that calls.
pub fn sign_server_token(
    key: &AccessKey,
    audience: &str,
    server_name: &str,
    now: u64,
    lifetime_secs: u64,
) -> Result<AccessToken, TokenError> {
    let claims = serde_json::json!({
        "aud": audience,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime_secs,
        "iss": ISSUER,
        "nameid": server_name,
    });
    let json = serde_json::to_vec(&claims).map_err(|_| TokenError::Signing)?;
    let mut token = format!("{}.{}", key.encoded_header(), URL_SAFE_NO_PAD.encode(json));
    let signature = key.sign(token.as_bytes());
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    check_length(token).map(AccessToken)
}

/// A token the service will take: at most [`MAX_TOKEN_LEN`] characters.
fn check_length(token: String) -> Result<String, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::TooLong(token.len()));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use hmac::{Hmac, Mac};
    use jwt::VerifyWithKey;
    use serde_json::{Value, json};
    use sha2::Sha256;

    use super::*;
    use crate::tokens::AccessTokenClaims;
    use crate::tokens::{Caller, TokenPolicy};

    const KEY: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH";

    /// Verifies with the `jwt` crate and RustCrypto's HMAC (not the code that signed it),
    /// keyed with the UTF-8 bytes of the access key string.
    fn verify(token: &str, key: &str) -> BTreeMap<String, Value> {
        let key: Hmac<Sha256> = Hmac::new_from_slice(key.as_bytes()).unwrap();
        token.verify_with_key(&key).expect("signature verifies")
    }

    /// A caller known by a user id only.
    fn user(user_id: &str) -> Caller {
        Caller {
            user_id: Some(user_id.to_owned()),
            ..Caller::default()
        }
    }

    fn header(token: &str) -> Value {
        let first = token.split('.').next().unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(first).unwrap()).unwrap()
    }

    #[test]
    fn a_service_token_is_taken_only_in_compact_form_and_within_the_length() {
        let policy = TokenPolicy::default();
        let signed = sign(
            &AccessKey::new(KEY),
            &AccessTokenClaims::new("a", &user("u"), &policy, 0),
        )
        .unwrap();
        let again = AccessToken::from_service(signed.as_str().to_owned()).unwrap();
        assert_eq!(again, signed);
        assert_eq!(&*again, signed.as_str());
        assert!(AccessToken::from_service("aZ09-_.b.c".into()).is_ok());
        for bad in [
            "",
            "a.b",
            "a.b.c.d.e",
            "a.b.c=",
            "a.b\"c",
            "a.b\\c",
            "a.b c",
            "a.b.c\n",
            "a.b+/.c",
            "a.é.c",
        ] {
            assert!(
                matches!(AccessToken::from_service(bad.into()), Err(TokenError::NotCompact)),
                "{bad:?}"
            );
        }
        let longest = format!("a.b.{}", "c".repeat(MAX_TOKEN_LEN - 4));
        assert!(AccessToken::from_service(longest).is_ok());
        let over = format!("a.b.{}", "c".repeat(MAX_TOKEN_LEN - 3));
        assert!(matches!(
            AccessToken::from_service(over),
            Err(TokenError::TooLong(len)) if len == MAX_TOKEN_LEN + 1
        ));
    }

    #[test]
    fn a_server_token_carries_the_sdks_rest_claims() {
        let aud = "https://demo.service.signalr.net/api/hubs/chat/users/u";
        let token = sign_server_token(&AccessKey::new(KEY), aud, "server_1", 1_700_000_000, 300).unwrap();
        assert_eq!(header(&token), json!({"alg": "HS256", "typ": "JWT"}));
        let got = verify(&token, KEY);
        assert_eq!(got["aud"], aud);
        assert_eq!(
            (got["iat"].clone(), got["nbf"].clone()),
            (json!(1_700_000_000), json!(1_700_000_000))
        );
        assert_eq!(got["exp"], 1_700_000_300);
        assert_eq!(got["iss"], "azure-signalr");
        assert_eq!(got["nameid"], "server_1");
        assert_eq!(got.len(), 6);
    }

    #[test]
    fn a_token_is_never_printed_by_debug() {
        let token = AccessToken::from_service("header.payload.signature".into()).unwrap();
        assert_eq!(format!("{token:?}"), "AccessToken(24 characters)");
    }

    #[test]
    fn a_token_verifies_with_an_independent_decoder_and_carries_the_claims() {
        let policy = TokenPolicy::default();
        let anonymous = Caller::default();
        let claims = AccessTokenClaims::new("http://localhost/client/?hub=chat", &anonymous, &policy, 1_700_000_000);
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
    fn a_token_with_every_claim_verifies_and_reads_back() {
        use crate::tokens::{ConnectionClaims, ConnectionOptions, Transports};
        let policy = TokenPolicy {
            close_on_auth_expiration: true,
            connection: ConnectionClaims::new(&ConnectionOptions {
                detailed_errors: true,
                handshake_timeout_secs: 30,
                max_poll_interval_secs: Some(300),
                transports: Some(Transports::SERVER_SENT_EVENTS),
                endpoint_count: 3,
            }),
            ..TokenPolicy::default()
        };
        let caller = Caller {
            user_id: Some("u-1".into()),
            claims: vec![("email".to_owned(), json!("a@example.com"))],
            login_end: Some(1_700_000_120),
            diagnostic: true,
            roles: Vec::new(),
        };
        let claims = AccessTokenClaims::for_caller("aud", &caller, &policy, 1_700_000_000, 120);
        let got = verify(&sign(&AccessKey::new(KEY), &claims).unwrap(), KEY);
        assert_eq!(got["exp"], 1_700_000_120);
        assert_eq!(got["asrs.s.aeo"], "1700000120");
        assert_eq!(got["asrs.s.coae"], "true");
        assert_eq!(got["asrs.s.dc"], "true");
        assert_eq!(got["asrs.s.cht"], "30");
        assert_eq!(got["asrs.s.ttl"], "300");
        assert_eq!(got["asrs.s.htt"], "2");
        assert_eq!(got["asrs.s.secn"], "3");
        assert_eq!(got["asrs.s.derror"], "True");
        assert_eq!(got["email"], "a@example.com");
        assert_eq!(got.len(), 17);
    }

    #[test]
    fn the_wrong_key_does_not_verify() {
        let policy = TokenPolicy::default();
        let anonymous = Caller::default();
        let claims = AccessTokenClaims::new("aud", &anonymous, &policy, 0);
        let token = sign(&AccessKey::new(KEY), &claims).unwrap();
        let other: Hmac<Sha256> = Hmac::new_from_slice(b"another key").unwrap();
        assert!(VerifyWithKey::<BTreeMap<String, Value>>::verify_with_key(token.as_str(), &other).is_err());
    }

    #[test]
    fn the_key_is_used_as_utf8_not_base64_decoded() {
        // A key that is valid base64: signing with its decoded bytes would differ.
        let key = "c2VjcmV0LWtleS1ieXRlcw==";
        let policy = TokenPolicy::default();
        let token = sign(
            &AccessKey::new(key),
            &AccessTokenClaims::new("aud", &Caller::default(), &policy, 0),
        )
        .unwrap();
        verify(&token, key);
    }

    #[test]
    fn unique_claim_can_be_renamed_or_left_out() {
        let renamed = TokenPolicy {
            lifetime_secs: 1,
            unique_claim: Some("tid".into()),
            ..TokenPolicy::default()
        };
        let token = sign(
            &AccessKey::new(KEY),
            &AccessTokenClaims::new("a", &Caller::default(), &renamed, 5),
        )
        .unwrap();
        let got = verify(&token, KEY);
        assert!(got.contains_key("tid") && !got.contains_key("uniqueToken"));
        assert_eq!(got["exp"], 6);

        let none = TokenPolicy {
            lifetime_secs: 1,
            unique_claim: None,
            ..TokenPolicy::default()
        };
        let token = sign(
            &AccessKey::new(KEY),
            &AccessTokenClaims::new("a", &Caller::default(), &none, 5),
        )
        .unwrap();
        assert_eq!(verify(&token, KEY).len(), 5);
    }

    #[test]
    fn a_key_id_lands_in_the_header() {
        let policy = TokenPolicy::default();
        let token = sign(
            &AccessKey::with_id("kid-7", KEY),
            &AccessTokenClaims::new("a", &Caller::default(), &policy, 0),
        )
        .unwrap();
        assert_eq!(header(&token)["kid"], "kid-7");
        verify(&token, KEY);
    }

    /// The length of the token signed for an audience of `len` characters, or of the refusal.
    fn length_with_audience(len: usize) -> Result<usize, usize> {
        let policy = TokenPolicy {
            lifetime_secs: 60,
            unique_claim: None,
            ..TokenPolicy::default()
        };
        let audience = "a".repeat(len);
        match sign(
            &AccessKey::new(KEY),
            &AccessTokenClaims::new(&audience, &Caller::default(), &policy, 0),
        ) {
            Ok(token) => Ok(token.len()),
            Err(TokenError::TooLong(len)) => Err(len),
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_token_of_exactly_4096_characters_is_signed_and_4097_is_refused() {
        // One more byte of claims adds 4/3 of a character, so both lengths are reachable; look
        // around the estimate from an empty audience.
        let empty = length_with_audience(0).unwrap();
        let audience_for = |wanted: usize| {
            let estimate = (wanted - empty) * 3 / 4;
            (estimate - 4..estimate + 4)
                .find(|&len| length_with_audience(len).unwrap_or_else(|too_long| too_long) == wanted)
                .unwrap_or_else(|| panic!("no audience length gives a token of {wanted}"))
        };
        assert_eq!(length_with_audience(audience_for(4096)), Ok(4096));
        assert_eq!(length_with_audience(audience_for(4097)), Err(4097));
        assert_eq!(length_with_audience(audience_for(4095)), Ok(4095));
    }

    #[test]
    fn tokens_over_4096_characters_are_refused() {
        let policy = TokenPolicy::default();
        let long_user = "u".repeat(2000);
        let long_user = user(&long_user);
        let claims = AccessTokenClaims::new("a", &long_user, &policy, 0);
        match sign(&AccessKey::new(KEY), &claims) {
            Err(TokenError::TooLong(len)) => assert!(len > MAX_TOKEN_LEN),
            other => panic!("expected TooLong, got {other:?}"),
        }
        let fits = "u".repeat(1000);
        assert!(
            sign(
                &AccessKey::new(KEY),
                &AccessTokenClaims::new("a", &user(&fits), &policy, 0)
            )
            .is_ok()
        );
    }
}
