//! Random, URL-safe identifiers: the `asrs_request_id` of a client URL and the value of the
//! unique-token claim.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;

/// 128 bits from a cryptographically secure generator, as 22 base64url characters, held
/// inline (no allocation).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RandomId([u8; 22]);

impl RandomId {
    /// A new identifier, independent of every other.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        let mut text = [0u8; 22];
        // 16 bytes are exactly 22 characters unpadded, so this always fills the buffer.
        let _ = URL_SAFE_NO_PAD.encode_slice(bytes, &mut text);
        Self(text)
    }

    /// The 22 base64url characters.
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
    use super::*;

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
}
