//! An access key: the shared secret of an Azure SignalR instance that signs client tokens.
//!
//! The key is used as the UTF-8 bytes of the string as written in the connection string
//! (it is not base64-decoded), like the service SDK does. It is prepared once, when the
//! configuration is loaded: the HMAC-SHA256 state after the inner and outer pads, and the
//! encoded JWT header, so that a token costs one HMAC over its message and nothing more.
//! It is never printed: `Debug` shows only whether a key id is set.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

/// A signing key, with the key id the service knows it by (temporary Entra keys have one;
/// keys from a connection string do not).
#[derive(Clone)]
pub struct AccessKey {
    key_id: Option<String>,
    /// HS256, keyed with the secret's UTF-8 bytes; cloned for each signature.
    signing_key: Hmac<Sha256>,
    /// The JWT header, base64url-encoded, ready to prefix every token signed with this key.
    encoded_header: String,
}

impl AccessKey {
    /// A key from a connection string's `AccessKey`: HS256, no `kid`.
    pub fn new(secret: &str) -> Self {
        Self::build(None, secret)
    }

    /// A key the service issued with an id (sent as the token header's `kid`).
    pub fn with_id(key_id: &str, secret: &str) -> Self {
        Self::build(Some(key_id.to_owned()), secret)
    }

    fn build(key_id: Option<String>, secret: &str) -> Self {
        let header = match &key_id {
            None => serde_json::json!({"alg": "HS256", "typ": "JWT"}),
            Some(kid) => serde_json::json!({"alg": "HS256", "kid": kid, "typ": "JWT"}),
        };
        let encoded_header = URL_SAFE_NO_PAD.encode(header.to_string());
        Self {
            key_id,
            signing_key: Hmac::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length"),
            encoded_header,
        }
    }

    /// The id the service knows the key by (`kid`), if any.
    pub fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
    }

    /// The HS256 signature of a message (a JWT's `header.claims`).
    pub fn sign(&self, message: &[u8]) -> [u8; 32] {
        let mut mac = self.signing_key.clone();
        mac.update(message);
        mac.finalize().into_bytes().into()
    }

    pub(crate) fn encoded_header(&self) -> &str {
        &self.encoded_header
    }
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKey")
            .field("key_id", &self.key_id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded_header(key: &AccessKey) -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(key.encoded_header()).unwrap()).unwrap()
    }

    #[test]
    fn header_is_hs256_without_kid_for_a_connection_string_key() {
        let key = AccessKey::new("secret");
        assert_eq!(
            URL_SAFE_NO_PAD.decode(key.encoded_header()).unwrap(),
            br#"{"alg":"HS256","typ":"JWT"}"#
        );
    }

    #[test]
    fn header_carries_kid_for_an_issued_key() {
        let key = AccessKey::with_id("key-1", "secret");
        assert_eq!(
            decoded_header(&key),
            serde_json::json!({"alg": "HS256", "kid": "key-1", "typ": "JWT"})
        );
        assert_eq!(key.key_id(), Some("key-1"));
    }

    #[test]
    fn signs_with_the_utf8_bytes_of_the_secret() {
        // An independent HMAC (aws-lc, as jsonwebtoken uses it), keyed with the string as written.
        let expected = jsonwebtoken::crypto::sign(
            b"header.claims",
            &jsonwebtoken::EncodingKey::from_secret(b"abc=="),
            jsonwebtoken::Algorithm::HS256,
        )
        .unwrap();
        let key = AccessKey::new("abc==");
        assert_eq!(URL_SAFE_NO_PAD.encode(key.sign(b"header.claims")), expected);
        // The prepared state is not consumed: the same message signs alike, a clone too.
        assert_eq!(key.sign(b"x"), key.sign(b"x"));
        assert_eq!(key.clone().sign(b"x"), key.sign(b"x"));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let printed = format!("{:?}", AccessKey::with_id("id", "TOP-SECRET-VALUE"));
        assert!(!printed.contains("TOP-SECRET-VALUE"), "{printed}");
        assert!(printed.contains("<redacted>"));
    }
}
