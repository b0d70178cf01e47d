//! The claims of a client access token, in the SDK's order — `aud`, `iat`, `nbf`, `exp`, `iss`,
//! the user id (`asrs.s.uid` and `nameid`) when known, a fresh random value under the
//! unique-token claim (for the application firewall's per-token rules), then custom claims —
//! and the rules for which names a custom claim may take.

use std::borrow::Cow;

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::RandomId;

/// `iss` of every token signed with an access key.
pub const ISSUER: &str = "azure-signalr";
/// Default name of the unique-token claim.
pub const DEFAULT_UNIQUE_CLAIM: &str = "uniqueToken";

/// The claims this function writes itself; the unique-token claim may not take these names.
const OWN_CLAIMS: [&str; 7] = ["aud", "iat", "nbf", "exp", "iss", "asrs.s.uid", "nameid"];

/// Claim names the SDK moves under `asrs.u.` when they come from the caller or configuration
/// (Azure/azure-signalr, `ClaimsUtility.BuildJwtClaims`).
pub(crate) const RENAMED_CLAIMS: [&str; 11] = [
    "aud", "exp", "iat", "nbf", "iss", "actort", "acr", "azp", "c_hash", "jti", "nonce",
];

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
    /// `aud`: the client URL the service checks, without the request id.
    pub audience: &'a str,
    /// `iat` and `nbf`, in seconds since the epoch.
    pub issued_at: u64,
    /// `exp` − `iat`.
    pub lifetime_secs: u64,
    /// `asrs.s.uid` and `nameid`.
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

/// Whether the unique-token claim may take this name (not one the token already writes).
pub fn may_name_unique_claim(name: &str) -> bool {
    !OWN_CLAIMS.contains(&name)
}

/// The name a caller or configured claim takes in the token (`asrs.u.` for reserved names).
pub fn custom_claim_name(name: &str) -> Cow<'_, str> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn unique_values_differ_between_tokens() {
        let policy = TokenPolicy::default();
        let a = AccessTokenClaims::new("a", None, &policy, 0).unique.unwrap().1;
        let b = AccessTokenClaims::new("a", None, &policy, 0).unique.unwrap().1;
        assert_ne!(a, b);
    }

    #[test]
    fn reserved_names_move_under_asrs_u() {
        for name in RENAMED_CLAIMS {
            assert_eq!(custom_claim_name(name), format!("asrs.u.{name}"));
        }
        assert_eq!(custom_claim_name("email"), "email");
        assert!(is_system_claim("asrs.s.uid", None));
        assert!(is_system_claim("uniqueToken", Some("uniqueToken")));
        assert!(!is_system_claim("email", Some("uniqueToken")));
    }

    #[test]
    fn the_unique_claim_cannot_take_the_tokens_own_names() {
        for own in ["aud", "exp", "nameid", "asrs.s.uid"] {
            assert!(!may_name_unique_claim(own), "{own}");
        }
        assert!(may_name_unique_claim("jti"));
    }
}
