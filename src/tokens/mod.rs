//! Client access tokens: the caller they describe, their claims, HS256 signing with an access
//! key, and the issuer that makes an endpoint's tokens (locally, or through the service with
//! Microsoft Entra ID).

mod access_key;
mod claims;
mod connection;
mod entra_access_key;
mod issuer;
mod jwt;
mod random_id;
mod rotating_key;

pub use access_key::AccessKey;
pub use claims::{
    AccessTokenClaims, Caller, DEFAULT_UNIQUE_CLAIM, TokenPolicy, custom_claim_name, is_system_claim,
    may_name_unique_claim,
};
pub use connection::{
    ConnectionClaims, ConnectionOptions, MAX_HANDSHAKE_TIMEOUT_SECS, MAX_POLL_INTERVAL_SECS, Transports,
};
pub use issuer::{EntraMode, IssueError, TokenIssuer};
pub use jwt::{AccessToken, Claims, MAX_TOKEN_LEN, TokenError, sign, sign_server_token};
pub use random_id::RandomId;
pub use rotating_key::RotatingKey;

/// Now, in whole seconds since the Unix epoch (the unit of `iat`, `nbf` and `exp`).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
