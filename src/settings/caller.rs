//! Caller settings: the identity sources and their trust conditions, the user id claim, the
//! claims copied or fixed into tokens, and the OpenID Connect provider.

use serde_json::Value;

use super::environment::{Environment, SettingError, fail};
use super::serving::Host;
use super::table::{
    AUTH, AUTH_REQUIRED, CLAIMS, COPY_CLAIMS, DEV_QUERY_USER, DIAGNOSTIC_CLIENTS, OIDC_AUDIENCE, OIDC_ISSUER,
    OIDC_JWKS_URI, USER_ID_CLAIM, WEBPUBSUB_ROLES_FROM_CLAIM, WEBSITE_AUTH_ENABLED,
};
use crate::caller::{AuthSource, CallerPolicy, OidcSettings, copied_claims};
use crate::tokens::{custom_claim_name, is_system_claim};
use crate::url_rules;

/// The caller policy (with `unique_claim` as the token settings name it) and the OIDC
/// provider when `oidc` is a source.
pub(super) fn caller(
    env: &Environment,
    unique_claim: Option<&str>,
    host: Host,
    warnings: &mut Vec<String>,
) -> Result<(CallerPolicy, Option<OidcSettings>), SettingError> {
    let mut policy = CallerPolicy {
        unique_claim: unique_claim.map(str::to_owned),
        ..CallerPolicy::default()
    };
    let mut sources = Vec::new();
    for name in env.list(&AUTH).unwrap_or_default() {
        match AuthSource::parse(name) {
            Some(source) if !sources.contains(&source) => sources.push(source),
            Some(_) => {}
            None => {
                return fail(
                    AUTH.name,
                    "lists an unknown source: use app-service, api-gateway, oidc or anonymous",
                );
            }
        }
    }
    policy.sources = sources;
    if policy.sources.contains(&AuthSource::AppService)
        && !env
            .value(&WEBSITE_AUTH_ENABLED)
            .is_some_and(|value| value.eq_ignore_ascii_case("true"))
    {
        return fail(
            AUTH.name,
            "app-service trusts the X-MS-CLIENT-PRINCIPAL headers only where App Service authentication strips forged \
            ones: enable it (WEBSITE_AUTH_ENABLED=True) or use another source",
        );
    }
    policy.required = env.boolean(&AUTH_REQUIRED)?;
    policy.dev_query_user = env.boolean(&DEV_QUERY_USER)?;
    if policy.dev_query_user && policy.required {
        return fail(
            DEV_QUERY_USER.name,
            "contradicts SIGNALR_AUTH_REQUIRED=true: with it any caller could name itself with ?userId= and pass; turn \
            one of them off",
        );
    }
    if policy.dev_query_user && host.is_deployed() {
        return fail(
            DEV_QUERY_USER.name,
            "is for development only (any caller names itself with ?userId=) and is refused on AWS Lambda and on a \
            deployed Function App; use a trusted source in SIGNALR_AUTH",
        );
    }
    if policy.dev_query_user {
        warnings.push(
            "SIGNALR_DEV_QUERY_USER is on: any caller can name its user with ?userId= — for development only"
                .to_owned(),
        );
    }
    if let Some(claim) = env.value(&USER_ID_CLAIM) {
        policy.user_id_claim = claim.to_owned();
        policy.user_id_claim_set = true;
    }
    if let Some(list) = env.list(&COPY_CLAIMS) {
        if list.iter().any(|name| is_system_claim(name, unique_claim)) {
            return fail(
                COPY_CLAIMS.name,
                "lists a claim the token writes itself (asrs.s.*, nameid or its long form, or the unique claim, in any \
                case): name the caller's user id claim in SIGNALR_USER_ID_CLAIM instead",
            );
        }
        policy.copy_claims = copied_claims(list, unique_claim);
    }
    policy.fixed_claims = fixed_claims(env, unique_claim)?;
    policy.diagnostic_clients = diagnostic_clients(env)?;
    policy.role_claim = env.value(&WEBPUBSUB_ROLES_FROM_CLAIM).map(str::to_owned);
    let oidc = if policy.sources.contains(&AuthSource::Oidc) {
        Some(oidc(env)?)
    } else {
        None
    };
    Ok((policy, oidc))
}

/// `SIGNALR_CLAIMS`: a JSON object of strings, numbers, booleans or arrays of them.
fn fixed_claims(env: &Environment, unique_claim: Option<&str>) -> Result<Vec<(String, Value)>, SettingError> {
    let Some(json) = env.value(&CLAIMS) else {
        return Ok(Vec::new());
    };
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(json) else {
        return fail(CLAIMS.name, "must be a JSON object, for example {\"tier\":\"gold\"}");
    };
    let mut claims = Vec::with_capacity(object.len());
    for (name, value) in object {
        let scalar = |v: &Value| matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_));
        let acceptable = scalar(&value) || matches!(&value, Value::Array(items) if items.iter().all(scalar));
        if name.is_empty() || !acceptable {
            return fail(
                CLAIMS.name,
                "claim values must be strings, numbers, booleans or arrays of them",
            );
        }
        if is_system_claim(&name, unique_claim) {
            return fail(
                CLAIMS.name,
                "names a claim the token writes itself (asrs.s.*, nameid or its long form, or the unique claim, in any \
                case): the user id comes from the caller (SIGNALR_USER_ID_CLAIM)",
            );
        }
        let name = custom_claim_name(&name, unique_claim).into_owned();
        claims.push((name, value));
    }
    Ok(claims)
}

/// `SIGNALR_DIAGNOSTIC_CLIENTS`: `claim:value` pairs, split at the last `:` (claim names such
/// as `cognito:groups` or a URI hold one; values cannot).
fn diagnostic_clients(env: &Environment) -> Result<Vec<(String, String)>, SettingError> {
    let Some(list) = env.list(&DIAGNOSTIC_CLIENTS) else {
        return Ok(Vec::new());
    };
    let mut pairs = Vec::with_capacity(list.len());
    for item in list {
        match item.rsplit_once(':').map(|(claim, value)| (claim.trim(), value.trim())) {
            Some((claim, value)) if !claim.is_empty() && !value.is_empty() => {
                pairs.push((claim.to_owned(), value.to_owned()));
            }
            _ => {
                return fail(
                    DIAGNOSTIC_CLIENTS.name,
                    "must list claim:value pairs separated by commas (for example roles:signalr-diagnostics)",
                );
            }
        }
    }
    Ok(pairs)
}

/// The OIDC provider: issuer and audience required, the JWKS URL optional.
fn oidc(env: &Environment) -> Result<OidcSettings, SettingError> {
    let provider_url = |setting: &super::table::Setting| -> Result<Option<String>, SettingError> {
        let Some(text) = env.value(setting) else {
            return Ok(None);
        };
        match url_rules::provider_url(text) {
            Some(_) => Ok(Some(text.to_owned())),
            None => fail(setting.name, "must be an https URL (http only on a loopback host)"),
        }
    };
    let Some(issuer) = provider_url(&OIDC_ISSUER)? else {
        return fail(
            OIDC_ISSUER.name,
            "is required with SIGNALR_AUTH=oidc (for example https://login.microsoftonline.com/<tenant>/v2.0)",
        );
    };
    let Some(audience) = env.value(&OIDC_AUDIENCE) else {
        return fail(
            OIDC_AUDIENCE.name,
            "is required with SIGNALR_AUTH=oidc (the audience your tokens are issued for)",
        );
    };
    Ok(OidcSettings {
        issuer,
        audience: audience.to_owned(),
        jwks_uri: provider_url(&OIDC_JWKS_URI)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::testing::{config, cs, error};

    fn read(value: &str) -> Result<Vec<(String, String)>, SettingError> {
        diagnostic_clients(&Environment::new([(
            "SIGNALR_DIAGNOSTIC_CLIENTS".to_owned(),
            value.to_owned(),
        )]))
    }

    #[test]
    fn diagnostic_clients_are_claim_value_pairs() {
        let pair = |claim: &str, value: &str| (claim.to_owned(), value.to_owned());
        assert_eq!(
            read(
                "roles:signalr-diagnostics, cognito:groups : ops \
                ,http://schemas.microsoft.com/ws/2008/06/identity/claims/role:diag"
            )
            .unwrap(),
            vec![
                pair("roles", "signalr-diagnostics"),
                pair("cognito:groups", "ops"),
                pair("http://schemas.microsoft.com/ws/2008/06/identity/claims/role", "diag"),
            ]
        );
        assert_eq!(read("").unwrap(), Vec::new());
        for bad in ["roles", "roles:", ":diag", "roles:diag,admins"] {
            let error = read(bad).unwrap_err();
            assert_eq!(error.setting, "SIGNALR_DIAGNOSTIC_CLIENTS", "{bad}");
            assert!(error.message.contains("claim:value"), "{bad}: {error}");
        }
    }

    /// The token's own claim names, in any case (and `ı`/`ſ` for `i`/`s`, as .NET compares
    /// them), cannot be set, copied or taken by the unique claim.
    #[test]
    fn the_tokens_own_claim_names_are_refused_in_any_spelling() {
        let uri = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/NameIdentifier";
        for name in [
            "ASRS.S.UID",
            "asrs.S.aut",
            "NameId",
            "NAMEID",
            uri,
            "UniqueToken",
            "nameıd",
            "aſrs.s.uid",
        ] {
            let fixed = serde_json::json!({ name: "x" }).to_string();
            let e = error(&[("SIGNALR_CLAIMS", &fixed)]);
            assert_eq!(e.setting, "SIGNALR_CLAIMS", "{name}");
            let e = error(&[("SIGNALR_COPY_CLAIMS", &format!("email,{name}"))]);
            assert_eq!(e.setting, "SIGNALR_COPY_CLAIMS", "{name}: {e}");
            assert!(e.message.contains("SIGNALR_USER_ID_CLAIM"), "{e}");
        }
        for name in ["asrs.s.uid", "nameid", uri] {
            let e = error(&[("SIGNALR_COPY_CLAIMS", name)]);
            assert_eq!(e.setting, "SIGNALR_COPY_CLAIMS", "{name}: silently ignored before");
        }
        for name in ["asrs.s.aut", "ASRS.S.UID", "Aud", "EXP", "NameID", uri] {
            assert_eq!(
                error(&[("SIGNALR_UNIQUE_CLAIM", name)]).setting,
                "SIGNALR_UNIQUE_CLAIM",
                "{name}"
            );
        }
        // Under another unique claim, `uniqueToken` is an ordinary name.
        let renamed = config(&[
            ("SIGNALR_UNIQUE_CLAIM", "jti"),
            ("SIGNALR_CLAIMS", r#"{"uniqueToken":"x"}"#),
        ]);
        assert!(renamed.is_ok(), "{:?}", renamed.err());
        // Reserved names are renamed whatever their case.
        let fixed = config(&[("SIGNALR_CLAIMS", r#"{"AUD":"x","Jti":"y","tier":"z"}"#)])
            .unwrap()
            .caller
            .fixed_claims;
        let names: Vec<&str> = fixed.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["asrs.u.AUD", "asrs.u.Jti", "tier"]);
    }

    #[test]
    fn caller_sources_are_listed_once_and_trusted_only_where_they_can_be() {
        let caller = config(&[("SIGNALR_AUTH", "anonymous, Anonymous,anonymous")])
            .unwrap()
            .caller;
        assert_eq!(caller.sources, [crate::caller::AuthSource::Anonymous]);
        let caller = config(&[
            ("SIGNALR_AUTH", "app-service,anonymous"),
            ("WEBSITE_AUTH_ENABLED", "True"),
        ])
        .unwrap()
        .caller;
        assert_eq!(
            caller.sources,
            [
                crate::caller::AuthSource::AppService,
                crate::caller::AuthSource::Anonymous
            ]
        );
        for enabled in [None, Some("false")] {
            let mut vars = vec![("SIGNALR_AUTH", "app-service")];
            vars.extend(enabled.map(|value| ("WEBSITE_AUTH_ENABLED", value)));
            assert_eq!(error(&vars).setting, "SIGNALR_AUTH", "{enabled:?}");
        }
        assert_eq!(error(&[("SIGNALR_AUTH", "anonymous,basic")]).setting, "SIGNALR_AUTH");
        // The caller policy knows the unique claim the token settings chose.
        let caller = config(&[("SIGNALR_UNIQUE_CLAIM", "tid")]).unwrap().caller;
        assert_eq!(caller.unique_claim.as_deref(), Some("tid"));
    }

    #[test]
    fn fixed_claims_are_named_scalars_or_arrays_of_them() {
        let fixed = config(&[("SIGNALR_CLAIMS", r#"{"n":1,"b":true,"s":"x","a":[1,"y",false]}"#)])
            .unwrap()
            .caller
            .fixed_claims;
        assert_eq!(fixed.len(), 4);
        for bad in [
            r#"{"":"x"}"#,
            r#"{"o":{"k":1}}"#,
            r#"{"a":[[1]]}"#,
            r#"{"z":null}"#,
            r#""text""#,
        ] {
            assert_eq!(error(&[("SIGNALR_CLAIMS", bad)]).setting, "SIGNALR_CLAIMS", "{bad}");
        }
    }

    /// `?userId=` names the user only in development: never beside SIGNALR_AUTH_REQUIRED,
    /// never on Lambda or a deployed Function App.
    #[test]
    fn the_dev_query_user_is_for_development_only() {
        let dev = ("SIGNALR_DEV_QUERY_USER", "true");
        let e = error(&[dev, ("SIGNALR_AUTH_REQUIRED", "true")]);
        assert_eq!(e.setting, "SIGNALR_DEV_QUERY_USER");
        assert!(e.message.contains("SIGNALR_AUTH_REQUIRED"), "{e}");
        let cs = cs();
        for host in [
            &[("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")][..],
            &[
                ("FUNCTIONS_CUSTOMHANDLER_PORT", "7000"),
                ("WEBSITE_INSTANCE_ID", "a1b2"),
            ][..],
        ] {
            let mut vars = host.to_vec();
            vars.push(dev);
            vars.push(("AzureSignalRConnectionString", &cs));
            let e = error(&vars);
            assert_eq!(e.setting, "SIGNALR_DEV_QUERY_USER", "{host:?}");
            assert!(e.message.contains("development only"), "{e}");
        }
        // Locally, and under Core Tools' func start, it is allowed (with a warning).
        for host in [&[][..], &[("FUNCTIONS_CUSTOMHANDLER_PORT", "7000")][..]] {
            let mut vars = host.to_vec();
            vars.push(dev);
            let settings = config(&vars).unwrap();
            assert!(settings.caller.dev_query_user);
            assert!(settings.warnings.iter().any(|w| w.contains("SIGNALR_DEV_QUERY_USER")));
        }
    }
}
