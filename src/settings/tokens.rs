//! What every token gets: its lifetime, the unique-token claim's name, whether it carries the
//! caller's login end, and the SDK's connection claims (validated with the SDK's ranges); and
//! that the fixed claims leave room for a token at all.

use super::environment::{Environment, SettingError, fail};
use super::serving::Hubs;
use super::table::{
    CLAIMS, CLOSE_ON_AUTH_EXPIRATION, ENABLE_DETAILED_ERRORS, HANDSHAKE_TIMEOUT_SECONDS, MAX_POLL_INTERVAL_SECONDS,
    TOKEN_LIFETIME_SECONDS, TRANSPORTS, UNIQUE_CLAIM,
};
use crate::caller::{CallerPolicy, token_claims};
use crate::endpoints::{ServiceEndpoint, display_name};
use crate::hub::HubName;
use crate::tokens::{
    AccessKey, AccessTokenClaims, Caller, ConnectionClaims, ConnectionOptions, MAX_HANDSHAKE_TIMEOUT_SECS,
    MAX_POLL_INTERVAL_SECS, MAX_TOKEN_LEN, TokenError, TokenPolicy, Transports, may_name_unique_claim, sign, unix_now,
};

/// `SIGNALR_TOKEN_LIFETIME_SECONDS`, `SIGNALR_UNIQUE_CLAIM` (empty: no unique claim),
/// `SIGNALR_CLOSE_ON_AUTH_EXPIRATION` and the connection options, for `endpoint_count`
/// endpoints.
pub(super) fn token_policy(env: &Environment, endpoint_count: usize) -> Result<TokenPolicy, SettingError> {
    let lifetime_secs = env.whole_number(&TOKEN_LIFETIME_SECONDS, 1..=86_400, "seconds")?;
    let unique_claim = match env.get(&UNIQUE_CLAIM).map(|(_, value)| value.trim()) {
        None => UNIQUE_CLAIM.default_value().map(str::to_owned),
        Some("") => None,
        Some(name) if !may_name_unique_claim(name) => {
            return fail(
                UNIQUE_CLAIM.name,
                "names a claim the token already uses; choose another name, or leave it empty to send no unique claim",
            );
        }
        Some(name) => Some(name.to_owned()),
    };
    Ok(TokenPolicy {
        lifetime_secs,
        unique_claim,
        close_on_auth_expiration: env.boolean(&CLOSE_ON_AUTH_EXPIRATION)?,
        connection: ConnectionClaims::new(&connection_options(env, endpoint_count)?),
    })
}

/// Refuses `SIGNALR_CLAIMS` that make every token of an endpoint longer than the service takes:
/// even the shortest a negotiate could get there (the shortest hub served, no user id, no copied
/// claim, no key id) would be, so each negotiate would fail.
pub(super) fn claims_fit(
    endpoints: &[ServiceEndpoint],
    hubs: &Hubs,
    policy: &TokenPolicy,
    caller: &CallerPolicy,
) -> Result<(), SettingError> {
    if caller.fixed_claims.is_empty() {
        return Ok(());
    }
    let shortest_hub = hubs
        .allowed_hubs
        .iter()
        .flatten()
        .min_by_key(|hub| hub.len())
        .map_or("a", String::as_str);
    let Ok(service_hub) =
        HubName::parse(shortest_hub).and_then(|hub| hub.service_name(hubs.application_name.as_deref()))
    else {
        return Ok(());
    };
    let least = Caller {
        claims: token_claims(caller, &[]),
        ..Caller::default()
    };
    // Any key: every signature has the same length.
    let key = AccessKey::new("");
    for endpoint in endpoints {
        let audience = endpoint.audience(&service_hub);
        let claims = AccessTokenClaims::for_caller(&audience, &least, policy, unix_now(), 1);
        if let Err(TokenError::TooLong(length)) = sign(&key, &claims) {
            return fail(
                CLAIMS.name,
                format!(
                    "makes every token of endpoint {} longer than the service accepts: the shortest would be {length} \
                    characters, {} over the {MAX_TOKEN_LEN} allowed; use fewer or shorter claims",
                    display_name(endpoint.name()),
                    length - MAX_TOKEN_LEN
                ),
            );
        }
    }
    Ok(())
}

/// The SDK's connection options, each off unless set, in the SDK's ranges: handshake timeout
/// 1–30 s (`NegotiateHandler`), poll interval 1–300 s (`ServiceOptionsExtensions`).
fn connection_options(env: &Environment, endpoint_count: usize) -> Result<ConnectionOptions, SettingError> {
    let max_poll_interval_secs = match env.value(&MAX_POLL_INTERVAL_SECONDS) {
        Some(_) => Some(env.whole_number(&MAX_POLL_INTERVAL_SECONDS, 1..=MAX_POLL_INTERVAL_SECS, "seconds")?),
        None => None,
    };
    Ok(ConnectionOptions {
        detailed_errors: env.boolean(&ENABLE_DETAILED_ERRORS)?,
        handshake_timeout_secs: env.whole_number(
            &HANDSHAKE_TIMEOUT_SECONDS,
            1..=MAX_HANDSHAKE_TIMEOUT_SECS,
            "seconds",
        )?,
        max_poll_interval_secs,
        transports: transports(env)?,
        endpoint_count,
    })
}

/// `SIGNALR_TRANSPORTS`: `HttpTransportType` names, combined; unset allows every transport.
fn transports(env: &Environment) -> Result<Option<Transports>, SettingError> {
    let Some(names) = env.list(&TRANSPORTS) else {
        return Ok(None);
    };
    let mut allowed: Option<Transports> = None;
    for name in names {
        let Some(transport) = Transports::parse(name) else {
            return fail(
                TRANSPORTS.name,
                "must list transports among WebSockets, ServerSentEvents and LongPolling, separated by commas",
            );
        };
        allowed = Some(allowed.map_or(transport, |so_far| so_far.with(transport)));
    }
    match allowed {
        Some(allowed) => Ok(Some(allowed)),
        None => fail(
            TRANSPORTS.name,
            "lists no transport: name at least one of WebSockets, ServerSentEvents and LongPolling, or leave it unset",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::testing::{config, error};

    fn policy(vars: &[(&str, &str)]) -> Result<TokenPolicy, SettingError> {
        policy_for(vars, 1)
    }

    fn policy_for(vars: &[(&str, &str)], endpoints: usize) -> Result<TokenPolicy, SettingError> {
        token_policy(
            &Environment::new(vars.iter().map(|(k, v)| (k.to_string(), v.to_string()))),
            endpoints,
        )
    }

    #[test]
    fn nothing_set_adds_no_connection_claim() {
        let unset = policy(&[]).unwrap();
        assert_eq!(unset.connection.as_str(), "");
        assert!(!unset.close_on_auth_expiration);
        assert_eq!(unset, TokenPolicy::default());
        let defaults = policy(&[
            ("SIGNALR_HANDSHAKE_TIMEOUT_SECONDS", "15"),
            ("SIGNALR_ENABLE_DETAILED_ERRORS", "false"),
            ("SIGNALR_CLOSE_ON_AUTH_EXPIRATION", "0"),
            ("SIGNALR_TRANSPORTS", " "),
        ])
        .unwrap();
        assert_eq!(
            defaults,
            TokenPolicy::default(),
            "the defaults, written out, add nothing"
        );
    }

    #[test]
    fn every_option_becomes_its_claim() {
        let all = policy_for(
            &[
                ("SIGNALR_CLOSE_ON_AUTH_EXPIRATION", "TRUE"),
                ("SIGNALR_ENABLE_DETAILED_ERRORS", "true"),
                ("SIGNALR_HANDSHAKE_TIMEOUT_SECONDS", "30"),
                ("SIGNALR_MAX_POLL_INTERVAL_SECONDS", "1"),
                ("SIGNALR_TRANSPORTS", "webSockets, LongPolling,,"),
            ],
            3,
        )
        .unwrap();
        assert!(all.close_on_auth_expiration);
        assert_eq!(
            all.connection.as_str(),
            r#","asrs.s.cht":"30","asrs.s.secn":"3","asrs.s.derror":"True","asrs.s.ttl":"1","asrs.s.htt":"5""#
        );
        let edges = policy(&[
            ("SIGNALR_HANDSHAKE_TIMEOUT_SECONDS", "1"),
            ("SIGNALR_MAX_POLL_INTERVAL_SECONDS", "300"),
            ("SIGNALR_TRANSPORTS", "ServerSentEvents"),
        ])
        .unwrap();
        assert_eq!(
            edges.connection.as_str(),
            r#","asrs.s.cht":"1","asrs.s.ttl":"300","asrs.s.htt":"2""#
        );
    }

    #[test]
    fn out_of_range_values_name_the_setting_and_its_range() {
        let cases: &[(&str, &str, &str)] = &[
            ("SIGNALR_HANDSHAKE_TIMEOUT_SECONDS", "0", "from 1 to 30"),
            ("SIGNALR_HANDSHAKE_TIMEOUT_SECONDS", "31", "from 1 to 30"),
            ("SIGNALR_HANDSHAKE_TIMEOUT_SECONDS", "2.5", "from 1 to 30"),
            ("SIGNALR_MAX_POLL_INTERVAL_SECONDS", "0", "from 1 to 300"),
            ("SIGNALR_MAX_POLL_INTERVAL_SECONDS", "301", "from 1 to 300"),
            ("SIGNALR_MAX_POLL_INTERVAL_SECONDS", "-1", "from 1 to 300"),
            (
                "SIGNALR_TRANSPORTS",
                "WebSockets,Carrier-Pigeon",
                "WebSockets, ServerSentEvents and LongPolling",
            ),
            (
                "SIGNALR_TRANSPORTS",
                "None",
                "WebSockets, ServerSentEvents and LongPolling",
            ),
            ("SIGNALR_TRANSPORTS", ",", "lists no transport"),
            ("SIGNALR_ENABLE_DETAILED_ERRORS", "yes", "true or false"),
            ("SIGNALR_CLOSE_ON_AUTH_EXPIRATION", "on", "true or false"),
        ];
        for (setting, value, reason) in cases {
            let error = policy(&[(setting, value)]).unwrap_err();
            assert_eq!(error.setting, *setting, "{value}");
            assert!(error.message.contains(reason), "{setting}={value}: {error}");
            assert!(!error.message.contains("Carrier"), "the value is not echoed");
        }
    }

    #[test]
    fn one_endpoint_sends_no_count() {
        assert_eq!(policy_for(&[], 1).unwrap().connection.as_str(), "");
        assert_eq!(policy_for(&[], 2).unwrap().connection.as_str(), r#","asrs.s.secn":"2""#);
    }

    #[test]
    fn token_lifetime_is_1_to_86400_seconds() {
        assert_eq!(
            config(&[("SIGNALR_TOKEN_LIFETIME_SECONDS", "300")])
                .unwrap()
                .token_policy
                .lifetime_secs,
            300
        );
        assert_eq!(
            config(&[("SIGNALR_TOKEN_LIFETIME_SECONDS", "86400")])
                .unwrap()
                .token_policy
                .lifetime_secs,
            86400
        );
        for bad in ["0", "86401", "-5", "1h", "3600.5"] {
            let e = error(&[("SIGNALR_TOKEN_LIFETIME_SECONDS", bad)]);
            assert_eq!(e.setting, "SIGNALR_TOKEN_LIFETIME_SECONDS", "{bad}");
            assert_eq!(e.message, "must be a whole number of seconds from 1 to 86400");
        }
    }

    /// The largest padding of a fixed claim that the start accepts, with `more` variables.
    fn largest_padding(more: &[(&str, &str)]) -> usize {
        (2_500..4_000)
            .find(|&pad| {
                let claims = serde_json::json!({ "pad": "p".repeat(pad + 1) }).to_string();
                let mut vars = vec![("SIGNALR_CLAIMS", claims.as_str())];
                vars.extend_from_slice(more);
                config(&vars).is_err()
            })
            .expect("a padding that overflows")
    }

    #[test]
    fn claims_too_long_for_the_shortest_token_are_refused() {
        let claims = serde_json::json!({ "tier": "g".repeat(3100) }).to_string();
        let e = error(&[("SIGNALR_CLAIMS", &claims)]);
        assert_eq!(e.setting, "SIGNALR_CLAIMS");
        assert!(
            e.message.starts_with(
                "makes every token of endpoint (default) longer than the service accepts: the shortest \
                would be "
            ),
            "{e}"
        );
        assert!(!e.message.contains("ggg"), "{e}");
        // The shortest token is on the shortest hub served, behind the application name.
        let any_hub = largest_padding(&[]);
        assert!(largest_padding(&[("SIGNALR_HUBS", "chat, notifications")]) < any_hub);
        assert!(largest_padding(&[("SIGNALR_APPLICATION_NAME", "shop")]) < any_hub);
        // Of several endpoints, the one whose audience leaves no room is named (two endpoints add
        // the count claim, 19 characters: the padding leaves room for it on the short audience).
        let long = "Endpoint=https://a-very-long-instance-name.service.signalr.net;AccessKey=k";
        let claims = serde_json::json!({ "pad": "p".repeat(any_hub - 20) }).to_string();
        let e = error(&[
            ("SIGNALR_CLAIMS", &claims),
            (
                "Azure__SignalR__Endpoints__near",
                "Endpoint=http://localhost;AccessKey=k",
            ),
            ("Azure__SignalR__Endpoints__far", long),
        ]);
        assert!(e.message.starts_with("makes every token of endpoint far "), "{e}");
    }

    #[test]
    fn unique_claim_can_be_renamed_disabled_but_not_clash() {
        assert_eq!(
            config(&[("SIGNALR_UNIQUE_CLAIM", "jti")])
                .unwrap()
                .token_policy
                .unique_claim
                .as_deref(),
            Some("jti")
        );
        assert_eq!(
            config(&[("SIGNALR_UNIQUE_CLAIM", "")])
                .unwrap()
                .token_policy
                .unique_claim,
            None
        );
        for reserved in ["aud", "exp", "nameid", "asrs.s.uid"] {
            assert_eq!(
                error(&[("SIGNALR_UNIQUE_CLAIM", reserved)]).setting,
                "SIGNALR_UNIQUE_CLAIM"
            );
        }
    }
}
