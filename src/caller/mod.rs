//! Who is calling: the user id and claims of the caller, taken only from a trusted source.
//!
//! Sources (`SIGNALR_AUTH`, tried in order): App Service authentication headers (trusted only
//! where the platform strips forged copies, i.e. `WEBSITE_AUTH_ENABLED=True`), the API Gateway
//! authorizer in the Lambda request context (set by `lambda_http`, never by a client), and an
//! OIDC bearer token validated against the provider's keys. Whatever the source, the claims
//! that reach the token are only those configured: `SIGNALR_COPY_CLAIMS` and `SIGNALR_CLAIMS`.
//! A source that knows when the caller's credential expires says so (the OIDC bearer's `exp`,
//! the API Gateway JWT authorizer's): the caller's token will not outlive it. A caller that
//! asks to be a diagnostic client must carry a claim value `SIGNALR_DIAGNOSTIC_CLIENTS` names.
//!
//! A user id is one value of the user-id claim. A claim with several values (a JSON array, a
//! claim repeated, an array API Gateway flattened into `"[a b]"`) names no one in particular:
//! with `SIGNALR_AUTH_REQUIRED` that caller gets a 401 naming the claim (never its values), as
//! one whose identity has no user id at all; without, its token has no user id, and a warning
//! says so.

mod api_gateway;
mod app_service;
mod claims;
mod oidc;
mod roles;

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::{Extensions, HeaderMap};
use serde_json::Value;
use tokio::time::Instant;

/// What this layer finds: the caller as its token describes it.
pub use crate::tokens::Caller;
pub use app_service::decode_client_principal;
pub use claims::{copied_claims, token_claims};
pub use oidc::{OidcSettings, OidcVerifier};

/// A trusted source of caller identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthSource {
    /// App Service authentication's `X-MS-CLIENT-PRINCIPAL*` headers.
    AppService,
    /// The API Gateway authorizer in the Lambda request context.
    ApiGateway,
    /// An OIDC bearer token.
    Oidc,
    /// Nobody in particular.
    Anonymous,
}

impl AuthSource {
    /// A source by its setting name (`app-service`, `api-gateway`, `oidc`, `anonymous`).
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "app-service" => Some(Self::AppService),
            "api-gateway" => Some(Self::ApiGateway),
            "oidc" => Some(Self::Oidc),
            "anonymous" => Some(Self::Anonymous),
            _ => None,
        }
    }
}

/// The caller settings, fixed at start.
#[derive(Debug, Clone, PartialEq)]
pub struct CallerPolicy {
    /// The sources tried, in order.
    pub sources: Vec<AuthSource>,
    /// No identity is a 401.
    pub required: bool,
    /// The claim holding the user id (`sub` by default).
    pub user_id_claim: String,
    /// Whether `SIGNALR_USER_ID_CLAIM` was set (App Service then reads it from the principal's claims).
    pub user_id_claim_set: bool,
    /// Caller claims copied into the token: `(caller's name, name in the token)`.
    pub copy_claims: Vec<(String, String)>,
    /// Fixed claims added to every token (already renamed).
    pub fixed_claims: Vec<(String, Value)>,
    /// Development only: `?userId=` names the user when no trusted source does.
    pub dev_query_user: bool,
    /// The unique-token claim, which no custom claim may take.
    pub unique_claim: Option<String>,
    /// `(claim, value)` pairs: a caller with any of them may be a diagnostic client.
    pub diagnostic_clients: Vec<(String, String)>,
    /// `WEBPUBSUB_ROLES_FROM_CLAIM`: the claim whose `webpubsub.*` values are the caller's Web
    /// PubSub roles.
    pub role_claim: Option<String>,
}

impl Default for CallerPolicy {
    fn default() -> Self {
        Self {
            sources: vec![AuthSource::Anonymous],
            required: false,
            user_id_claim: "sub".to_owned(),
            user_id_claim_set: false,
            copy_claims: Vec::new(),
            fixed_claims: Vec::new(),
            dev_query_user: false,
            unique_claim: Some(crate::tokens::DEFAULT_UNIQUE_CLAIM.to_owned()),
            diagnostic_clients: Vec::new(),
            role_claim: None,
        }
    }
}

/// What a trusted source vouches for: a user id, every claim (a name may repeat), and when the
/// credential expires.
#[derive(Debug, Clone, Default, PartialEq)]
struct Identity {
    user_id: UserId,
    claims: Vec<(String, Value)>,
    login_end: Option<u64>,
}

/// What an identity's user-id claim gives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum UserId {
    /// No such claim, or no usable value in it.
    #[default]
    Missing,
    One(String),
    /// Several different values: no user id.
    Several,
}

impl UserId {
    /// `fallback` (a principal id beside the claims) when the claim is missing; several values
    /// stay several.
    fn or(self, fallback: Option<String>) -> Self {
        match (self, fallback) {
            (Self::Missing, Some(id)) => Self::One(id),
            (read, _) => read,
        }
    }

    /// Reads claim values: a string (not empty) or a number is a value, an array each of its
    /// items; the same value twice counts once.
    fn read<'a>(values: impl IntoIterator<Item = &'a Value>) -> Self {
        let mut found = Self::Missing;
        let items = values.into_iter().flat_map(|value| match value {
            Value::Array(items) => items.as_slice(),
            one => std::slice::from_ref(one),
        });
        for item in items {
            let text = match item {
                Value::String(text) if !text.is_empty() => Cow::Borrowed(text.as_str()),
                Value::Number(number) => Cow::Owned(number.to_string()),
                _ => continue,
            };
            found = match found {
                Self::Missing => Self::One(text.into_owned()),
                Self::One(first) if first == text => Self::One(first),
                _ => return Self::Several,
            };
        }
        found
    }
}

/// Why a caller gets no token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallerError {
    /// No valid credential (or none, where one is required).
    #[error(transparent)]
    Unauthorized(#[from] Unauthorized),
    /// Asked to be a diagnostic client without a claim value that allows it.
    #[error("this caller may not open a diagnostic connection (SIGNALR_DIAGNOSTIC_CLIENTS names who may)")]
    NotDiagnostic,
    /// The roles claim (`WEBPUBSUB_ROLES_FROM_CLAIM`) holds a `webpubsub.*` value the service
    /// would refuse.
    #[error("the caller's {claim} claim holds a value that {error}")]
    NotARole {
        /// The claim's name (from the settings).
        claim: String,
        /// What is wrong with the value (which is not repeated).
        error: crate::product::RoleError,
    },
}

/// A presented credential was invalid, or one was required and missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Unauthorized {
    /// Why, in one sentence that repeats nothing of the credential.
    pub reason: Cow<'static, str>,
    /// Ask for a bearer token (OIDC is a configured source).
    pub bearer: bool,
}

/// Finds the caller of a request, from the configured sources.
#[derive(Debug)]
pub struct CallerResolver {
    policy: CallerPolicy,
    oidc: Option<OidcVerifier>,
    /// When the resolver was made, and after how long (in ms) a user-id claim with several
    /// values may be warned of again.
    made: Instant,
    next_warning_ms: AtomicU64,
}

/// A caller whose user-id claim has several values is warned of at most this often: every
/// such caller, on every negotiate, is one, when `SIGNALR_USER_ID_CLAIM` names a list.
const SEVERAL_WARNING_EVERY: Duration = Duration::from_secs(60);

impl CallerResolver {
    /// A resolver for the policy; `oidc` is needed when `oidc` is a source.
    pub fn new(policy: CallerPolicy, oidc: Option<OidcVerifier>) -> Self {
        Self {
            policy,
            oidc,
            made: Instant::now(),
            next_warning_ms: AtomicU64::new(0),
        }
    }

    /// The sources, user id claim and claims this resolver applies, fixed at start.
    pub fn policy(&self) -> &CallerPolicy {
        &self.policy
    }

    fn unauthorized(&self, reason: impl Into<Cow<'static, str>>) -> Unauthorized {
        Unauthorized {
            reason: reason.into(),
            bearer: self.oidc.is_some(),
        }
    }

    /// The caller of a request (its headers, and the extensions a host put there); anonymous
    /// when no source knows it and none is required. `query_user` is `?userId=`, read only in
    /// development mode; `diagnostic` is the request asking to be a diagnostic client. What is
    /// fetched to know the caller (an OIDC provider's keys) is waited for until `deadline`.
    pub async fn resolve(
        &self,
        headers: &HeaderMap,
        extensions: &Extensions,
        query_user: Option<&str>,
        diagnostic: bool,
        deadline: Instant,
    ) -> Result<Caller, CallerError> {
        for source in &self.policy.sources {
            let found = match source {
                AuthSource::AppService => {
                    app_service::identity(headers, &self.policy).map_err(|r| self.unauthorized(r))?
                }
                AuthSource::ApiGateway => api_gateway::identity(extensions, &self.policy),
                // Boxed: discovery and key fetches make a large future that the other
                // sources should not carry.
                AuthSource::Oidc => match &self.oidc {
                    Some(oidc) => Box::pin(oidc::identity(oidc, headers, &self.policy, deadline))
                        .await
                        .map_err(|r| self.unauthorized(r))?,
                    None => None,
                },
                AuthSource::Anonymous => None,
            };
            if let Some(identity) = found {
                return self.caller(identity, diagnostic);
            }
        }
        let mut identity = Identity::default();
        if let Some(user) = query_user.filter(|user| !user.is_empty() && self.policy.dev_query_user) {
            identity.user_id = UserId::One(user.to_owned());
        } else if self.policy.required {
            return Err(self.unauthorized("this function requires a signed-in caller").into());
        }
        self.caller(identity, diagnostic)
    }

    /// `check`'s sample caller, known by `user` at most: `user` read as the user-id claim's
    /// value, where `[a b]` stands for several values (as API Gateway flattens an array), and
    /// refused as serving would refuse such a caller.
    pub fn sample(&self, user: Option<&str>) -> Result<Caller, Unauthorized> {
        let user_id = match user {
            Some(text) => self.user_id(UserId::read([&api_gateway::http_api_claim(text)]))?,
            None => None,
        };
        Ok(Caller {
            user_id,
            claims: token_claims(&self.policy, &[]),
            login_end: None,
            diagnostic: false,
            roles: Vec::new(),
        })
    }

    fn caller(&self, identity: Identity, diagnostic: bool) -> Result<Caller, CallerError> {
        let user_id = match identity.user_id {
            UserId::One(id) => Some(id),
            UserId::Missing if !self.policy.required => None,
            other => self.user_id(other)?,
        };
        if diagnostic && !self.may_diagnose(&identity.claims) {
            return Err(CallerError::NotDiagnostic);
        }
        Ok(Caller {
            user_id,
            claims: token_claims(&self.policy, &identity.claims),
            login_end: identity.login_end,
            diagnostic,
            roles: match &self.policy.role_claim {
                Some(claim) => roles::from_claims(claim, &identity.claims)?,
                None => Vec::new(),
            },
        })
    }

    /// The user id of an identity a source vouched for: one value, or none — a 401 where one
    /// is required, and a warning for several values otherwise. (The one value and an
    /// anonymous caller are also taken by [`Self::caller`] before calling this.)
    #[cold]
    fn user_id(&self, read: UserId) -> Result<Option<String>, Unauthorized> {
        let claim = &self.policy.user_id_claim;
        match read {
            UserId::One(id) => Ok(Some(id)),
            UserId::Several if self.policy.required => Err(self.unauthorized(format!(
                "the caller's user id claim ({claim}) has several values, and this function requires one user id \
                (SIGNALR_AUTH_REQUIRED, SIGNALR_USER_ID_CLAIM)"
            ))),
            UserId::Missing if self.policy.required => Err(self.unauthorized(format!(
                "the caller's identity has no user id claim ({claim}), and this function requires one user id \
                (SIGNALR_AUTH_REQUIRED, SIGNALR_USER_ID_CLAIM)"
            ))),
            UserId::Several => {
                self.warn_several(claim);
                Ok(None)
            }
            UserId::Missing => Ok(None),
        }
    }

    /// Says that a caller's user-id claim had several values: as a warning at most once a
    /// minute, at debug level otherwise.
    fn warn_several(&self, claim: &str) {
        const TOLD: &str = "a caller's user id claim has several values, so its token has no user id";
        let now = self.made.elapsed().as_millis() as u64;
        let next = self.next_warning_ms.load(Ordering::Relaxed);
        let later = now + SEVERAL_WARNING_EVERY.as_millis() as u64;
        let turn = now >= next
            && self
                .next_warning_ms
                .compare_exchange(next, later, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok();
        if turn {
            tracing::warn!(
                claim,
                "{TOLD} (said at most once a minute; SIGNALR_AUTH_REQUIRED=true refuses such callers)"
            );
        } else {
            tracing::debug!(claim, "{TOLD}");
        }
    }

    /// Whether the claims hold a value `SIGNALR_DIAGNOSTIC_CLIENTS` names (as the claim's value
    /// or one of its values). Anonymous callers have no claims, so never.
    fn may_diagnose(&self, claims: &[(String, Value)]) -> bool {
        let holds = |value: &Value, wanted: &str| match value {
            Value::String(text) => text == wanted,
            Value::Array(values) => values.iter().any(|value| value.as_str() == Some(wanted)),
            _ => false,
        };
        self.policy
            .diagnostic_clients
            .iter()
            .any(|(claim, wanted)| claims.iter().any(|(name, value)| name == claim && holds(value, wanted)))
    }
}

/// When the credential expires, from its `exp` claim, in Unix seconds.
fn login_end_from(claims: &[(String, Value)]) -> Option<u64> {
    let (_, exp) = claims.iter().find(|(name, _)| name == "exp")?;
    expiry_seconds(exp)
}

/// An `exp` value in Unix seconds: a number, or digits in a string as API Gateway passes claims.
fn expiry_seconds(exp: &Value) -> Option<u64> {
    match exp {
        Value::Number(number) => number.as_u64().or_else(|| {
            number
                .as_f64()
                .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
                .map(|seconds| seconds as u64)
        }),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// The user id in the claims, by `SIGNALR_USER_ID_CLAIM`: every value of every claim of that
/// name.
fn user_id_from(policy: &CallerPolicy, claims: &[(String, Value)]) -> UserId {
    UserId::read(
        claims
            .iter()
            .filter(|(name, _)| *name == policy.user_id_claim)
            .map(|(_, value)| value),
    )
}

#[cfg(test)]
mod tests {
    use crate::hosts::logs::captured::Captured;

    use super::*;

    #[test]
    fn the_login_ends_at_exp_as_a_number_or_digits() {
        let claims = |exp: Value| vec![("sub".to_owned(), Value::from("u")), ("exp".to_owned(), exp)];
        assert_eq!(
            login_end_from(&claims(Value::from(1_700_000_120_u64))),
            Some(1_700_000_120)
        );
        assert_eq!(
            login_end_from(&claims(Value::from(1_700_000_120.9))),
            Some(1_700_000_120)
        );
        assert_eq!(login_end_from(&claims(Value::from("1700000120"))), Some(1_700_000_120));
        assert_eq!(login_end_from(&claims(Value::from(-5))), None);
        assert_eq!(login_end_from(&claims(Value::from("soon"))), None);
        assert_eq!(login_end_from(&claims(Value::Null)), None);
        assert_eq!(login_end_from(&[("sub".to_owned(), Value::from("u"))]), None);
    }

    fn resolver(diagnostic_clients: &[(&str, &str)]) -> CallerResolver {
        CallerResolver::new(
            CallerPolicy {
                diagnostic_clients: diagnostic_clients
                    .iter()
                    .map(|(claim, value)| ((*claim).to_owned(), (*value).to_owned()))
                    .collect(),
                ..CallerPolicy::default()
            },
            None,
        )
    }

    fn identity(claims: &[(&str, Value)]) -> Identity {
        Identity {
            user_id: UserId::One("u".into()),
            claims: claims
                .iter()
                .map(|(name, value)| ((*name).to_owned(), value.clone()))
                .collect(),
            login_end: Some(99),
        }
    }

    #[test]
    fn diagnostic_clients_need_a_configured_claim_value() {
        let diagnosers = resolver(&[("roles", "diag"), ("cognito:groups", "ops")]);
        let allowed = [
            identity(&[("roles", Value::from("diag"))]),
            identity(&[("roles", serde_json::json!(["reader", "diag"]))]),
            identity(&[("email", Value::from("a")), ("cognito:groups", Value::from("ops"))]),
        ];
        for allowed in allowed {
            let caller = diagnosers.caller(allowed.clone(), true).expect("allowed");
            assert!(caller.diagnostic);
            assert_eq!(caller.login_end, Some(99));
            assert!(
                !diagnosers.caller(allowed, false).unwrap().diagnostic,
                "only when asked"
            );
        }
        let refused = [
            identity(&[]),
            identity(&[("roles", Value::from("Diag"))]),
            identity(&[("roles", Value::from("reader"))]),
            identity(&[("role", Value::from("diag"))]),
            identity(&[("roles", serde_json::json!(["reader"]))]),
            identity(&[("roles", Value::from(true))]),
            identity(&[("cognito:groups", Value::from("diag"))]),
        ];
        for refused in refused {
            assert_eq!(
                diagnosers.caller(refused.clone(), true),
                Err(CallerError::NotDiagnostic),
                "{refused:?}"
            );
            assert!(diagnosers.caller(refused, false).is_ok());
        }
        let nobody = resolver(&[]);
        assert_eq!(
            nobody.caller(identity(&[("roles", Value::from("diag"))]), true),
            Err(CallerError::NotDiagnostic)
        );
    }

    #[tokio::test]
    async fn anonymous_and_query_users_are_never_diagnostic_clients() {
        let resolver = CallerResolver::new(
            CallerPolicy {
                dev_query_user: true,
                diagnostic_clients: vec![("roles".into(), "diag".into())],
                ..CallerPolicy::default()
            },
            None,
        );
        let (headers, extensions) = (HeaderMap::new(), Extensions::new());
        for user in [None, Some("diag")] {
            assert_eq!(
                resolver
                    .resolve(&headers, &extensions, user, true, Instant::now())
                    .await,
                Err(CallerError::NotDiagnostic)
            );
        }
        let caller = resolver
            .resolve(&headers, &extensions, Some("ada"), false, Instant::now())
            .await
            .unwrap();
        assert_eq!(caller.user_id.as_deref(), Some("ada"));
        assert_eq!(caller.login_end, None);
    }

    #[tokio::test]
    async fn the_query_user_counts_only_in_development_mode() {
        let (headers, extensions) = (HeaderMap::new(), Extensions::new());
        let production = CallerResolver::new(CallerPolicy::default(), None);
        let caller = production
            .resolve(&headers, &extensions, Some("mallory"), false, Instant::now())
            .await
            .unwrap();
        assert_eq!(caller.user_id, None, "?userId= is ignored outside development mode");
        let development = CallerResolver::new(
            CallerPolicy {
                dev_query_user: true,
                required: true,
                ..CallerPolicy::default()
            },
            None,
        );
        let caller = development
            .resolve(&headers, &extensions, Some("ada"), false, Instant::now())
            .await
            .unwrap();
        assert_eq!(caller.user_id.as_deref(), Some("ada"));
        assert!(matches!(
            development
                .resolve(&headers, &extensions, Some(""), false, Instant::now())
                .await,
            Err(CallerError::Unauthorized(_))
        ));
    }

    #[test]
    fn the_sample_caller_has_the_user_and_the_fixed_claims() {
        let resolver = CallerResolver::new(
            CallerPolicy {
                fixed_claims: vec![("tier".into(), Value::from("gold"))],
                ..CallerPolicy::default()
            },
            None,
        );
        let sample = resolver.sample(Some("u-1")).unwrap();
        assert_eq!(sample.user_id.as_deref(), Some("u-1"));
        assert_eq!(sample.claims, vec![("tier".to_owned(), Value::from("gold"))]);
        assert_eq!((sample.login_end, sample.diagnostic), (None, false));
    }

    #[test]
    fn a_user_id_is_one_value_of_the_claim() {
        let read = |values: &[Value]| UserId::read(values);
        let one = |id: &str| UserId::One(id.to_owned());
        assert_eq!(read(&[Value::from("ada")]), one("ada"));
        assert_eq!(read(&[Value::from(42)]), one("42"));
        assert_eq!(read(&[serde_json::json!(["ada"])]), one("ada"));
        assert_eq!(read(&[serde_json::json!(["ada", "ada"])]), one("ada"));
        assert_eq!(read(&[Value::from("ada"), Value::from("ada")]), one("ada"));
        assert_eq!(read(&[serde_json::json!(["ada", "bob"])]), UserId::Several);
        assert_eq!(read(&[Value::from("ada"), Value::from("bob")]), UserId::Several);
        assert_eq!(read(&[serde_json::json!(["ada", 7])]), UserId::Several);
        for none in [
            Value::from(""),
            Value::Null,
            Value::from(true),
            serde_json::json!([]),
            serde_json::json!({}),
        ] {
            assert_eq!(read(std::slice::from_ref(&none)), UserId::Missing, "{none}");
        }
        assert_eq!(read(&[]), UserId::Missing);
        let policy = CallerPolicy::default();
        let claims = |pairs: &[(&str, &str)]| -> Vec<(String, Value)> {
            pairs
                .iter()
                .map(|(name, value)| ((*name).to_owned(), Value::from(*value)))
                .collect()
        };
        assert_eq!(
            user_id_from(&policy, &claims(&[("email", "e"), ("sub", "s")])),
            one("s")
        );
        assert_eq!(
            user_id_from(&policy, &claims(&[("sub", "a"), ("sub", "b")])),
            UserId::Several
        );
        assert_eq!(user_id_from(&policy, &claims(&[("email", "e")])), UserId::Missing);
        assert_eq!(UserId::Missing.or(Some("p".into())), one("p"));
        assert_eq!(
            UserId::Several.or(Some("p".into())),
            UserId::Several,
            "never silently another id"
        );
        assert_eq!(one("s").or(Some("p".into())), one("s"));
    }

    fn policy(required: bool) -> CallerPolicy {
        CallerPolicy {
            required,
            copy_claims: copied_claims(["roles"], None),
            ..CallerPolicy::default()
        }
    }

    fn several() -> Identity {
        Identity {
            user_id: UserId::Several,
            claims: vec![
                ("sub".into(), serde_json::json!(["alice", "mallory"])),
                ("roles".into(), Value::from("reader")),
            ],
            login_end: Some(99),
        }
    }

    #[test]
    fn several_values_are_a_401_naming_the_claim_where_a_user_id_is_required() {
        let required = CallerResolver::new(policy(true), None);
        let Err(CallerError::Unauthorized(refused)) = required.caller(several(), false) else {
            panic!("a caller with several user ids passed");
        };
        assert!(refused.reason.contains("(sub) has several values"), "{refused}");
        assert!(!refused.reason.contains("alice") && !refused.reason.contains("mallory"));
        let nobody = Identity {
            user_id: UserId::Missing,
            ..several()
        };
        let Err(CallerError::Unauthorized(refused)) = required.caller(nobody, false) else {
            panic!("an identity without a user id passed");
        };
        assert!(refused.reason.contains("no user id claim (sub)"), "{refused}");
        let one = Identity {
            user_id: UserId::One("alice".into()),
            ..several()
        };
        assert_eq!(required.caller(one, false).unwrap().user_id.as_deref(), Some("alice"));
    }

    #[test]
    fn several_values_are_no_user_id_otherwise_and_said_at_most_once_a_minute() {
        let open = CallerResolver::new(policy(false), None);
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(captured.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..3 {
                let caller = open.caller(several(), false).unwrap();
                assert_eq!(caller.user_id, None);
                assert_eq!(caller.claims, vec![("roles".to_owned(), Value::from("reader"))]);
                assert_eq!(caller.login_end, Some(99));
            }
        });
        let text = captured.text();
        let levels: Vec<&str> = text
            .lines()
            .map(|line| line[27..].trim_start().split(' ').next().unwrap())
            .collect();
        assert_eq!(levels, ["WARN", "DEBUG", "DEBUG"], "{text}");
        assert!(text.contains("claim=\"sub\"") && !text.contains("alice"), "{text}");
    }

    #[test]
    fn the_sample_user_reads_as_a_claim_value() {
        let open = CallerResolver::new(policy(false), None);
        assert_eq!(open.sample(Some("[a b]")).unwrap().user_id, None);
        assert_eq!(open.sample(Some("[a]")).unwrap().user_id.as_deref(), Some("a"));
        assert_eq!(open.sample(Some("ada")).unwrap().user_id.as_deref(), Some("ada"));
        assert_eq!(open.sample(None).unwrap().user_id, None);
        let required = CallerResolver::new(policy(true), None);
        let refused = required.sample(Some("[a b]")).unwrap_err();
        assert!(refused.reason.contains("several values"), "{refused}");
        assert!(required.sample(None).is_ok(), "no --user: a sample without a user id");
    }

    #[test]
    fn auth_sources_parse() {
        assert_eq!(AuthSource::parse("App-Service"), Some(AuthSource::AppService));
        assert_eq!(AuthSource::parse(" oidc "), Some(AuthSource::Oidc));
        assert_eq!(AuthSource::parse("basic"), None);
    }
}
