//! The claims of a client access token, in the SDK's order — `aud`, `iat`, `nbf`, `exp`, `iss`,
//! the user id (`asrs.s.uid` and `nameid`) when known, a fresh random value under the
//! unique-token claim (for the application firewall's per-token rules), the SDK's connection
//! claims (`asrs.s.*`, see [`super::connection`]), then custom claims — and the rules for which
//! names a custom claim may take.

use std::borrow::Cow;
use std::fmt;

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::RandomId;
use super::connection::{AUTH_EXPIRES_ON, CLOSE_ON_AUTH_EXPIRATION, ConnectionClaims, DIAGNOSTIC_CLIENT};
use super::jwt::Claims;

/// `iss` of every token signed with an access key.
pub const ISSUER: &str = "azure-signalr";
/// Default name of the unique-token claim.
pub const DEFAULT_UNIQUE_CLAIM: &str = "uniqueToken";

/// The claims this function writes itself; the unique-token claim may not take these names.
const OWN_CLAIMS: [&str; 7] = ["aud", "iat", "nbf", "exp", "iss", "asrs.s.uid", "nameid"];

/// The prefix of the service's own claims (Azure/azure-signalr, `Constants.ClaimType`).
const SYSTEM_PREFIX: &str = "asrs.s.";

/// The names .NET's JWT handler reads as the user identifier: `nameid` and the claim type it
/// maps it to (`ClaimTypes.NameIdentifier`).
const NAME_IDENTIFIER: [&str; 2] = [
    "nameid",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier",
];

/// Claim names the SDK moves under `asrs.u.` when they come from the caller or configuration
/// (Azure/azure-signalr, `ClaimsUtility.BuildJwtClaims`).
pub(crate) const RENAMED_CLAIMS: [&str; 11] = [
    "aud", "exp", "iat", "nbf", "iss", "actort", "acr", "azp", "c_hash", "jti", "nonce",
];

/// What every token gets, fixed at start from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPolicy {
    /// Seconds from `iat` to `exp` (1 to 86400), unless the caller's login ends sooner.
    pub lifetime_secs: u64,
    /// Name of the claim that carries a fresh random value; `None` leaves it out.
    pub unique_claim: Option<String>,
    /// `asrs.s.coae` and `asrs.s.aeo` on tokens of callers whose login end is known.
    pub close_on_auth_expiration: bool,
    /// The connection claims every token carries, serialised at start.
    pub connection: ConnectionClaims,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        Self {
            lifetime_secs: 3600,
            unique_claim: Some(DEFAULT_UNIQUE_CLAIM.to_owned()),
            close_on_auth_expiration: false,
            connection: ConnectionClaims::default(),
        }
    }
}

impl TokenPolicy {
    /// The lifetime of a token issued at `now` for a caller whose login ends at `login_end`
    /// (Unix seconds), when known: never past that end (the proposal of Azure/azure-signalr
    /// issue 2285: `min(AccessTokenLifetime, expiration - now)`). `None` when the login has
    /// already ended.
    pub fn lifetime_for(&self, login_end: Option<u64>, now: u64) -> Option<u64> {
        match login_end {
            None => Some(self.lifetime_secs),
            Some(end) => end
                .checked_sub(now)
                .filter(|&left| left > 0)
                .map(|left| left.min(self.lifetime_secs)),
        }
    }
}

/// The caller as its token describes it: who, with which claims, and what the login allows.
/// The caller layer (`crate::caller`) finds it, from a trusted source only; the token borrows
/// it (defined here, with the token, so that the caller layer depends on the token and not
/// the other way round).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// `asrs.s.uid` and `nameid`, when known.
    pub user_id: Option<String>,
    /// The token's custom claims: the copied ones, then the fixed ones, renamed and merged.
    pub claims: Vec<(String, serde_json::Value)>,
    /// When the caller's credential expires (Unix seconds), when a trusted source says.
    pub login_end: Option<u64>,
    /// A diagnostic client (`asrs.s.dc`): the caller asked, and carries a claim value that
    /// allows it.
    pub diagnostic: bool,
    /// Web PubSub roles a trusted identity's claim gives (`WEBPUBSUB_ROLES_FROM_CLAIM`),
    /// checked against the service's role grammar.
    pub roles: Vec<String>,
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
    /// Whom the token is for: its user id (`asrs.s.uid` and `nameid`), whether it is a
    /// diagnostic client (`asrs.s.dc`), and its custom claims, last.
    pub caller: &'a Caller,
    /// Name and value of the unique-token claim.
    pub unique: Option<(&'a str, RandomId)>,
    /// `asrs.s.coae` = `"true"` and `asrs.s.aeo` = this (Unix seconds): the service closes the
    /// connection then.
    pub close_at: Option<u64>,
    /// The connection claims every token carries: a [`ConnectionClaims`] fragment (empty, or
    /// `,"name":"value"` per claim), copied as it is.
    pub connection: &'a str,
}

impl<'a> AccessTokenClaims<'a> {
    /// The claims of `caller`'s token issued now under `policy`, living as long as the policy
    /// says, with a fresh unique value.
    pub fn new(audience: &'a str, caller: &'a Caller, policy: &'a TokenPolicy, now: u64) -> Self {
        Self::for_caller(audience, caller, policy, now, policy.lifetime_secs)
    }

    /// As [`Self::new`], living `lifetime_secs` (see [`TokenPolicy::lifetime_for`]).
    pub fn for_caller(
        audience: &'a str,
        caller: &'a Caller,
        policy: &'a TokenPolicy,
        now: u64,
        lifetime_secs: u64,
    ) -> Self {
        Self {
            audience,
            issued_at: now,
            lifetime_secs,
            caller,
            unique: policy.unique_claim.as_deref().map(|name| (name, RandomId::generate())),
            // As the SDK: only when asked for and the login's end is known.
            close_at: caller.login_end.filter(|_| policy.close_on_auth_expiration),
            connection: policy.connection.as_str(),
        }
    }

    /// The claims as a JSON object, appended to `json`. The members that differ per token are
    /// serialised, the connection claims copied as they were serialised at start.
    fn write_claims(&self, json: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        serde_json::to_writer(&mut *json, &PerToken(self))?;
        let custom = &self.caller.claims;
        if self.connection.is_empty() && custom.is_empty() {
            return Ok(());
        }
        // `{…}` always ends with its closing brace: reopen the object after its members.
        json.pop();
        json.extend_from_slice(self.connection.as_bytes());
        if custom.is_empty() {
            json.push(b'}');
        } else {
            let open = json.len();
            serde_json::to_writer(&mut *json, &Custom(custom))?;
            // The custom claims' `{` becomes the `,` after the members before them.
            json[open] = b',';
        }
        Ok(())
    }

    /// The claims as a JSON string (what [`Claims::write_json`] writes), for tests.
    #[cfg(test)]
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        let mut json = Vec::new();
        self.write_claims(&mut json)?;
        // Only serde_json and the UTF-8 fragment wrote to it.
        Ok(String::from_utf8(json).unwrap_or_default())
    }
}

impl Claims for AccessTokenClaims<'_> {
    fn write_json(&self, json: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        self.write_claims(json)
    }

    /// The usual claims at once: the audience, five numbers and names, two ids, the connection
    /// claims.
    fn size_hint(&self) -> usize {
        192 + self.audience.len() + self.caller.user_id.as_ref().map_or(0, |id| 2 * id.len()) + self.connection.len()
    }
}

/// The members of a token that are not serialised at start: all but the connection claims
/// and the custom claims.
struct PerToken<'t, 'a>(&'t AccessTokenClaims<'a>);

impl Serialize for PerToken<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let claims = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("aud", claims.audience)?;
        map.serialize_entry("iat", &claims.issued_at)?;
        map.serialize_entry("nbf", &claims.issued_at)?;
        map.serialize_entry("exp", &(claims.issued_at + claims.lifetime_secs))?;
        map.serialize_entry("iss", ISSUER)?;
        if let Some(user_id) = &claims.caller.user_id {
            map.serialize_entry("asrs.s.uid", user_id)?;
            map.serialize_entry("nameid", user_id)?;
        }
        if let Some((name, value)) = &claims.unique {
            map.serialize_entry(name, value.as_str())?;
        }
        if claims.caller.diagnostic {
            map.serialize_entry(DIAGNOSTIC_CLIENT, "true")?;
        }
        if let Some(end) = claims.close_at {
            map.serialize_entry(CLOSE_ON_AUTH_EXPIRATION, "true")?;
            // A string, as the SDK writes it (`ToUnixTimeSeconds().ToString()`).
            map.serialize_entry(AUTH_EXPIRES_ON, &AsString(end))?;
        }
        map.end()
    }
}

/// The custom claims as a JSON object.
struct Custom<'a>(&'a [(String, serde_json::Value)]);

impl Serialize for Custom<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// A value written as a JSON string of its `Display`, without an allocation.
struct AsString<T>(T);

impl<T: fmt::Display> Serialize for AsString<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

/// A character as the service compares claim names: .NET's ordinal case-insensitive
/// comparison upper-cases each character, so `ı` and `ſ` count as `I` and `S` too.
fn fold(c: char) -> char {
    let mut upper = c.to_uppercase();
    match (upper.next(), upper.next()) {
        (Some(single), None) => single,
        _ => c,
    }
}

/// Two claim names the service takes for one.
fn same_name(a: &str, b: &str) -> bool {
    a.chars().map(fold).eq(b.chars().map(fold))
}

/// `name` starts with `prefix`, as the service compares claim names.
fn starts_with(name: &str, prefix: &str) -> bool {
    let mut name = name.chars().map(fold);
    prefix.chars().map(fold).all(|expected| name.next() == Some(expected))
}

/// Whether the unique-token claim may take this name: not one the token writes itself, not
/// the service's own, in any case.
pub fn may_name_unique_claim(name: &str) -> bool {
    !OWN_CLAIMS.iter().any(|own| same_name(name, own)) && !is_system_claim(name, None)
}

/// The name a caller or configured claim takes in the token: `asrs.u.<name>` for a registered
/// name the SDK renames and for the token's own names, in any case; otherwise the name itself.
pub fn custom_claim_name<'a>(name: &'a str, unique_claim: Option<&str>) -> Cow<'a, str> {
    if RENAMED_CLAIMS.iter().any(|reserved| same_name(name, reserved)) || is_system_claim(name, unique_claim) {
        Cow::Owned(format!("asrs.u.{name}"))
    } else {
        Cow::Borrowed(name)
    }
}

/// Names the token's own claims hold, in any case: `asrs.s.*`, `nameid` (and the claim type
/// .NET reads it as), and the unique claim. A custom claim may not take them.
pub fn is_system_claim(name: &str, unique_claim: Option<&str>) -> bool {
    starts_with(name, SYSTEM_PREFIX)
        || NAME_IDENTIFIER.iter().any(|own| same_name(name, own))
        || unique_claim.is_some_and(|unique| same_name(name, unique))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::connection::{ConnectionOptions, Transports};
    use super::*;

    #[test]
    fn claims_are_serialised_in_the_sdk_order() {
        let policy = TokenPolicy {
            lifetime_secs: 60,
            unique_claim: Some("jti2".into()),
            ..TokenPolicy::default()
        };
        let caller = user("user-1");
        let claims = AccessTokenClaims::new("A", &caller, &policy, 10);
        let unique = claims.unique.unwrap().1;
        assert_eq!(
            claims.to_json().unwrap(),
            format!(
                concat!(
                    r#"{{"aud":"A","iat":10,"nbf":10,"exp":70,"iss":"azure-signalr","#,
                    r#""asrs.s.uid":"user-1","nameid":"user-1","jti2":"{}"}}"#
                ),
                unique.as_str()
            )
        );
    }

    /// A caller known by a user id only.
    fn user(user_id: &str) -> Caller {
        Caller {
            user_id: Some(user_id.to_owned()),
            ..Caller::default()
        }
    }

    /// An anonymous caller with custom claims.
    fn with_claims(claims: &[(String, Value)]) -> Caller {
        Caller {
            claims: claims.to_vec(),
            ..Caller::default()
        }
    }

    fn options() -> ConnectionOptions {
        ConnectionOptions {
            detailed_errors: true,
            handshake_timeout_secs: 20,
            max_poll_interval_secs: Some(5),
            transports: Some(Transports::WEB_SOCKETS),
            endpoint_count: 2,
        }
    }

    #[test]
    fn per_token_connection_and_custom_claims_follow_in_order() {
        let policy = TokenPolicy {
            lifetime_secs: 3600,
            unique_claim: None,
            close_on_auth_expiration: true,
            connection: ConnectionClaims::new(&options()),
        };
        let custom = vec![("roles".to_owned(), json!(["a", "b"])), ("n".to_owned(), json!(1))];
        let subject = Caller {
            user_id: Some("u".into()),
            claims: custom,
            login_end: Some(130),
            diagnostic: true,
            roles: Vec::new(),
        };
        let lifetime = policy.lifetime_for(subject.login_end, 10).unwrap();
        let claims = AccessTokenClaims::for_caller("A", &subject, &policy, 10, lifetime);
        assert_eq!(
            claims.to_json().unwrap(),
            concat!(
                r#"{"aud":"A","iat":10,"nbf":10,"exp":130,"iss":"azure-signalr","asrs.s.uid":"u","nameid":"u","#,
                r#""asrs.s.dc":"true","asrs.s.coae":"true","asrs.s.aeo":"130","#,
                r#""asrs.s.cht":"20","asrs.s.secn":"2","asrs.s.derror":"True","asrs.s.ttl":"5","asrs.s.htt":"1","#,
                r#""roles":["a","b"],"n":1}"#
            )
        );
    }

    #[test]
    fn every_part_may_be_empty_and_the_json_stays_whole() {
        let bare = TokenPolicy {
            unique_claim: None,
            ..TokenPolicy::default()
        };
        let with_connection = TokenPolicy {
            unique_claim: None,
            connection: ConnectionClaims::new(&options()),
            ..TokenPolicy::default()
        };
        let custom = [("tier".to_owned(), json!("gold"))];
        for policy in [&bare, &with_connection] {
            for custom in [&[][..], &custom[..]] {
                let caller = with_claims(custom);
                let json = AccessTokenClaims::new("A", &caller, policy, 0).to_json().unwrap();
                let parsed: serde_json::Map<String, Value> = serde_json::from_str(&json).expect(&json);
                assert_eq!(parsed["aud"], "A", "{json}");
                assert_eq!(parsed.contains_key("tier"), !custom.is_empty(), "{json}");
                assert_eq!(parsed.contains_key("asrs.s.cht"), policy == &with_connection, "{json}");
                assert_eq!(
                    parsed.len(),
                    5 + custom.len() + 5 * usize::from(policy == &with_connection)
                );
            }
        }
    }

    #[test]
    fn close_on_auth_expiration_needs_the_setting_and_a_known_login_end() {
        let on = TokenPolicy {
            close_on_auth_expiration: true,
            ..TokenPolicy::default()
        };
        let off = TokenPolicy::default();
        let known = Caller {
            login_end: Some(100),
            ..Caller::default()
        };
        let unknown = Caller::default();
        assert_eq!(
            AccessTokenClaims::for_caller("a", &known, &on, 0, 100).close_at,
            Some(100)
        );
        assert_eq!(
            AccessTokenClaims::for_caller("a", &unknown, &on, 0, 3600).close_at,
            None
        );
        assert_eq!(AccessTokenClaims::for_caller("a", &known, &off, 0, 100).close_at, None);
        let json = AccessTokenClaims::for_caller("a", &unknown, &on, 0, 3600)
            .to_json()
            .unwrap();
        assert!(!json.contains("asrs.s.coae") && !json.contains("asrs.s.aeo"), "{json}");
    }

    #[test]
    fn the_lifetime_never_outlives_the_login() {
        let policy = TokenPolicy {
            lifetime_secs: 3600,
            ..TokenPolicy::default()
        };
        assert_eq!(policy.lifetime_for(None, 1000), Some(3600));
        assert_eq!(policy.lifetime_for(Some(1120), 1000), Some(120));
        assert_eq!(policy.lifetime_for(Some(1001), 1000), Some(1));
        assert_eq!(
            policy.lifetime_for(Some(4600), 1000),
            Some(3600),
            "exactly the configured lifetime"
        );
        assert_eq!(policy.lifetime_for(Some(99_999), 1000), Some(3600));
        assert_eq!(policy.lifetime_for(Some(1000), 1000), None, "ends now");
        assert_eq!(
            policy.lifetime_for(Some(940), 1000),
            None,
            "ended (within the OIDC leeway)"
        );
    }

    /// Custom claims come last, after `iss` and the token's own claims, in the order given;
    /// an array stays an array.
    #[test]
    fn custom_claims_follow_the_tokens_own_in_order() {
        let policy = TokenPolicy {
            lifetime_secs: 1,
            unique_claim: None,
            ..TokenPolicy::default()
        };
        let custom = [
            ("roles".to_owned(), serde_json::json!(["admin", "ops"])),
            ("tier".to_owned(), serde_json::json!("gold")),
            ("level".to_owned(), serde_json::json!(3)),
        ];
        let caller = Caller {
            claims: custom.to_vec(),
            ..user("u")
        };
        let claims = AccessTokenClaims::new("A", &caller, &policy, 10);
        assert_eq!(
            claims.to_json().unwrap(),
            concat!(
                r#"{"aud":"A","iat":10,"nbf":10,"exp":11,"iss":"azure-signalr","asrs.s.uid":"u","nameid":"u","#,
                r#""roles":["admin","ops"],"tier":"gold","level":3}"#
            )
        );
        let caller = with_claims(&custom[1..2]);
        let anonymous = AccessTokenClaims::new("A", &caller, &policy, 10);
        assert_eq!(
            anonymous.to_json().unwrap(),
            r#"{"aud":"A","iat":10,"nbf":10,"exp":11,"iss":"azure-signalr","tier":"gold"}"#
        );
    }

    #[test]
    fn unique_values_differ_between_tokens() {
        let policy = TokenPolicy::default();
        let anonymous = Caller::default();
        let a = AccessTokenClaims::new("a", &anonymous, &policy, 0).unique.unwrap().1;
        let b = AccessTokenClaims::new("a", &anonymous, &policy, 0).unique.unwrap().1;
        assert_ne!(a, b);
    }

    #[test]
    fn reserved_names_move_under_asrs_u_in_any_case() {
        for name in RENAMED_CLAIMS {
            assert_eq!(custom_claim_name(name, None), format!("asrs.u.{name}"));
            let upper = name.to_ascii_uppercase();
            assert_eq!(custom_claim_name(&upper, None), format!("asrs.u.{upper}"));
        }
        for own in ["asrs.s.uid", "ASRS.S.X", "NameId", "uniquetoken"] {
            assert_eq!(custom_claim_name(own, Some("uniqueToken")), format!("asrs.u.{own}"));
        }
        for kept in ["email", "audience", "au", "asrs.u.aud", "nonces", "sub"] {
            assert_eq!(custom_claim_name(kept, Some("uniqueToken")), kept);
        }
    }

    #[test]
    fn system_names_are_compared_as_the_service_compares_them() {
        for system in [
            "asrs.s.uid",
            "ASRS.S.UID",
            "Asrs.s.aut",
            "asrs.s.",
            "nameid",
            "NAMEID",
            "nameıd",
            "aſrs.s.uid",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/NameIdentifier",
        ] {
            assert!(is_system_claim(system, None), "{system}");
        }
        for ordinary in [
            "asrs.u.uid",
            "asrs.sx",
            "asrs",
            "nameidx",
            "name",
            "email",
            "",
            "ASRS.S",
        ] {
            assert!(!is_system_claim(ordinary, None), "{ordinary}");
        }
        assert!(is_system_claim("uniqueToken", Some("uniqueToken")));
        assert!(is_system_claim("UNIQUETOKEN", Some("uniqueToken")));
        assert!(!is_system_claim("email", Some("uniqueToken")));
        assert!(!is_system_claim("uniqueToken", None));
    }

    #[test]
    fn the_unique_claim_cannot_take_the_tokens_own_names() {
        for own in [
            "aud",
            "Aud",
            "EXP",
            "iat",
            "nbf",
            "iss",
            "nameid",
            "NameId",
            "asrs.s.uid",
            "asrs.s.aut",
        ] {
            assert!(!may_name_unique_claim(own), "{own}");
        }
        for free in ["jti", "uniqueToken", "tid", "audit"] {
            assert!(may_name_unique_claim(free), "{free}");
        }
    }
}
