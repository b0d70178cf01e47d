//! Calls out of the function: how Entra endpoints get tokens, how long calls to Entra and the
//! service may take, and how often endpoints' health is probed.

use std::time::Duration;

use super::environment::{Environment, SettingError, fail};
use super::table::{
    AUTHORITY_HOST, CLAIMS, CLIENT_ID, CLIENT_SECRET, CLOSE_ON_AUTH_EXPIRATION, COPY_CLAIMS, DIAGNOSTIC_CLIENTS,
    ENABLE_DETAILED_ERRORS, ENTRA_MODE, ENTRA_SCOPE, FEDERATED_TOKEN_FILE, HANDSHAKE_TIMEOUT_SECONDS,
    HEALTH_CHECK_INTERVAL_MS, HEALTH_RETRY_MS, IDENTITY_ENDPOINT, MAX_POLL_INTERVAL_SECONDS, Setting, TENANT_ID,
    TRANSPORTS, UNIQUE_CLAIM, UPSTREAM_DEADLINE_MS, UPSTREAM_TIMEOUT_MS,
};
use crate::endpoints::{Authentication, HealthSchedule, ServiceEndpoint};
use crate::entra::{ChainSettings, EntraOverrides};
use crate::secret::Secret;
use crate::service::UpstreamLimits;
use crate::tokens::EntraMode;
use crate::url_rules;

/// `SIGNALR_ENTRA_MODE`. Generate-token mode refuses settings that add claims, which the
/// service's generateToken cannot carry (it takes a hub, a user id and minutes), the unique
/// claim's name among them, and says once which application firewall rules its tokens defeat.
pub(super) fn entra_mode(
    env: &Environment,
    endpoints: &[ServiceEndpoint],
    warnings: &mut Vec<String>,
) -> Result<EntraMode, SettingError> {
    let mode = match env.value_or_default(&ENTRA_MODE) {
        Some(mode) if mode.eq_ignore_ascii_case(EntraMode::GenerateToken.name()) => EntraMode::GenerateToken,
        Some(mode) if mode.eq_ignore_ascii_case(EntraMode::AccessKey.name()) => EntraMode::AccessKey,
        _ => return fail(ENTRA_MODE.name, "must be generate-token or access-key"),
    };
    let uses_entra = endpoints
        .iter()
        .any(|endpoint| matches!(endpoint.auth(), Authentication::MicrosoftEntra(_)));
    if mode == EntraMode::GenerateToken && uses_entra {
        const CLAIMS_NEED_ACCESS_KEY: &str = "adds a claim to the token, and tokens the service makes (generateToken) \
        cannot carry claims; set SIGNALR_ENTRA_MODE=access-key to sign tokens with claims locally";
        for setting in [
            CLAIMS,
            COPY_CLAIMS,
            HANDSHAKE_TIMEOUT_SECONDS,
            MAX_POLL_INTERVAL_SECONDS,
            TRANSPORTS,
            DIAGNOSTIC_CLIENTS,
        ] {
            if env.value(&setting).is_some() {
                return fail(setting.name, CLAIMS_NEED_ACCESS_KEY);
            }
        }
        for switch in [CLOSE_ON_AUTH_EXPIRATION, ENABLE_DETAILED_ERRORS] {
            if env.boolean(&switch)? {
                return fail(switch.name, CLAIMS_NEED_ACCESS_KEY);
            }
        }
        // Set to a name, it promises tokens the service cannot make; set empty, it asks for none.
        if env.value(&UNIQUE_CLAIM).is_some() {
            return fail(
                UNIQUE_CLAIM.name,
                "names a unique-token claim, and tokens the service makes (generateToken) cannot carry it; set \
                SIGNALR_ENTRA_MODE=access-key to sign tokens with it locally, or leave SIGNALR_UNIQUE_CLAIM unset",
            );
        }
        // The rules that need a claim (signalr-howto-configure-application-firewall.md in
        // MicrosoftDocs/azure-docs): a rule skips a token that lacks it.
        warnings.push(
            "SIGNALR_ENTRA_MODE=generate-token: the service makes the tokens, so they carry neither the unique-token \
            claim (SIGNALR_UNIQUE_CLAIM) nor custom claims, and these application firewall rules cannot work: \
            ThrottleByJwtSignatureRule and TrafficThrottleByJwtSignatureRule (no unique claim: tokens made in the \
            same second are alike), ThrottleByJwtCustomClaimRule and TrafficThrottleByJwtCustomClaimRule (no custom \
            claims); set SIGNALR_ENTRA_MODE=access-key to sign the tokens locally with both"
                .to_owned(),
        );
    }
    Ok(mode)
}

/// `AZURE_AUTHORITY_HOST` and `SIGNALR_ENTRA_SCOPE`: for private clouds and custom domains,
/// instead of what the cloud of each endpoint's host implies; and what the default chain
/// consults.
pub(super) fn entra_overrides(env: &Environment) -> Result<EntraOverrides, SettingError> {
    let authority_host = match env.value(&AUTHORITY_HOST) {
        None => None,
        Some(text) => match authority_host(text) {
            Some(host) => Some(host),
            None => {
                return fail(
                    AUTHORITY_HOST.name,
                    "must be the https:// URL of a Microsoft Entra authority host alone, without a path, tenant, query \
                    or fragment (for example https://login.microsoftonline.us)",
                );
            }
        },
    };
    let scope = entra_scope(env, &ENTRA_SCOPE, "https://signalr.azure.us/.default")?;
    Ok(EntraOverrides {
        authority_host,
        scope,
        default_chain: default_chain(env),
    })
}

/// The variables `AuthType=azure`'s chain consults, as given (not trimmed: a secret or a path
/// is taken as it is), `None` when unset or empty.
fn default_chain(env: &Environment) -> ChainSettings {
    let given = |setting: &Setting| {
        env.get(setting)
            .map(|(_, value)| value.to_owned())
            .filter(|value| !value.is_empty())
    };
    ChainSettings {
        federated_token_file: given(&FEDERATED_TOKEN_FILE),
        identity_endpoint: given(&IDENTITY_ENDPOINT).is_some(),
        client_id: given(&CLIENT_ID),
        tenant_id: given(&TENANT_ID),
        client_secret: given(&CLIENT_SECRET).map(Secret::new),
    }
}

/// `https://host[:port]` of an https URL with a host and nothing after it but `/` (the shared
/// service-URL rule, narrowed to https and no path).
fn authority_host(text: &str) -> Option<String> {
    url_rules::service_url(text)
        .filter(|url| url.scheme() == "https" && url.path() == "/")
        .map(|url| url.origin().ascii_serialization())
}

/// `{absolute URI}/.default`, as Entra's v2 token endpoint takes an application's scope (and
/// with only the characters azure_identity lets through).
/// A scope setting (`SIGNALR_ENTRA_SCOPE`, `WEBPUBSUB_ENTRA_SCOPE`): an application ID URI
/// followed by `/.default`, as `example` is.
pub(super) fn entra_scope(env: &Environment, setting: &Setting, example: &str) -> Result<Option<String>, SettingError> {
    match env.value(setting) {
        None => Ok(None),
        Some(scope) if is_default_scope(scope) => Ok(Some(scope.to_owned())),
        Some(_) => fail(
            setting.name,
            format!("must be the service's application ID URI followed by /.default (for example {example})"),
        ),
    }
}

fn is_default_scope(scope: &str) -> bool {
    scope.strip_suffix("/.default").is_some_and(|resource| {
        url::Url::parse(resource).is_ok_and(|url| url.has_host())
            && resource
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '/'))
    })
}

/// `SIGNALR_UPSTREAM_TIMEOUT_MS` and `SIGNALR_UPSTREAM_DEADLINE_MS`.
pub(super) fn upstream_limits(env: &Environment) -> Result<UpstreamLimits, SettingError> {
    let millis = |setting| -> Result<Duration, SettingError> {
        Ok(Duration::from_millis(env.whole_number(
            setting,
            1..=120_000,
            "milliseconds",
        )?))
    };
    Ok(UpstreamLimits {
        attempt_timeout: millis(&UPSTREAM_TIMEOUT_MS)?,
        deadline: millis(&UPSTREAM_DEADLINE_MS)?,
    })
}

/// `SIGNALR_HEALTH_CHECK_INTERVAL_MS` and `SIGNALR_HEALTH_RETRY_MS`.
pub(super) fn health_schedule(env: &Environment) -> Result<HealthSchedule, SettingError> {
    let interval = env.whole_number(&HEALTH_CHECK_INTERVAL_MS, 100..=3_600_000, "milliseconds")?;
    let retry_spacing = env.whole_number(&HEALTH_RETRY_MS, 100..=60_000, "milliseconds")?;
    Ok(HealthSchedule {
        interval: Duration::from_millis(interval),
        retry_spacing: Duration::from_millis(retry_spacing),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::testing::{config, error};

    fn mode(vars: &[(&str, &str)]) -> (Result<EntraMode, SettingError>, Vec<String>) {
        let env = Environment::new(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let endpoints = super::super::endpoints::endpoints(
            &env,
            super::super::Host::Local(([127, 0, 0, 1], 7071).into()),
            &mut Vec::new(),
        )
        .unwrap();
        let mut warnings = Vec::new();
        (entra_mode(&env, &endpoints.signalr, &mut warnings), warnings)
    }

    const ENTRA: (&str, &str) = ("AzureSignalRConnectionString", "Endpoint=https://a;AuthType=azure.msi");
    const KEYED: (&str, &str) = (
        "AzureSignalRConnectionString",
        "Endpoint=https://a;AccessKey=ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvu",
    );

    #[test]
    fn generate_token_mode_refuses_every_setting_that_adds_a_claim() {
        for (setting, value) in [
            ("SIGNALR_CLAIMS", r#"{"tier":"gold"}"#),
            ("SIGNALR_COPY_CLAIMS", "email"),
            ("SIGNALR_CLOSE_ON_AUTH_EXPIRATION", "true"),
            ("SIGNALR_ENABLE_DETAILED_ERRORS", "true"),
            ("SIGNALR_HANDSHAKE_TIMEOUT_SECONDS", "20"),
            ("SIGNALR_MAX_POLL_INTERVAL_SECONDS", "5"),
            ("SIGNALR_TRANSPORTS", "WebSockets"),
            ("SIGNALR_DIAGNOSTIC_CLIENTS", "roles:diag"),
        ] {
            let error = mode(&[ENTRA, (setting, value)]).0.unwrap_err();
            assert_eq!(error.setting, setting);
            assert!(error.message.contains("SIGNALR_ENTRA_MODE=access-key"), "{error}");
            // Signed locally, each is fine.
            assert_eq!(
                mode(&[ENTRA, (setting, value), ("SIGNALR_ENTRA_MODE", "access-key")]).0,
                Ok(EntraMode::AccessKey)
            );
            assert_eq!(mode(&[KEYED, (setting, value)]).0, Ok(EntraMode::GenerateToken));
        }
        // Switched off, a switch is no claim.
        for switch in ["SIGNALR_CLOSE_ON_AUTH_EXPIRATION", "SIGNALR_ENABLE_DETAILED_ERRORS"] {
            assert!(mode(&[ENTRA, (switch, "false")]).0.is_ok(), "{switch}");
            assert_eq!(
                mode(&[ENTRA, (switch, "maybe")]).0.unwrap_err().message,
                "must be true or false"
            );
        }
    }

    #[test]
    fn generate_token_mode_warns_once_that_its_tokens_have_no_unique_claim() {
        let (got, warnings) = mode(&[ENTRA]);
        assert_eq!(got, Ok(EntraMode::GenerateToken));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("ThrottleByJwtSignatureRule"), "{}", warnings[0]);
        assert!(warnings[0].contains("SIGNALR_ENTRA_MODE=access-key"));
        assert!(mode(&[ENTRA, ("SIGNALR_ENTRA_MODE", "access-key")]).1.is_empty());
        assert!(mode(&[KEYED]).1.is_empty(), "access keys sign locally: no warning");
    }

    #[test]
    fn generate_token_mode_refuses_a_unique_claim_set_by_name() {
        for name in ["uniqueToken", "jti"] {
            let error = mode(&[ENTRA, ("SIGNALR_UNIQUE_CLAIM", name)]).0.unwrap_err();
            assert_eq!(error.setting, "SIGNALR_UNIQUE_CLAIM");
            assert_eq!(
                error.message,
                "names a unique-token claim, and tokens the service makes (generateToken) cannot carry it; set \
                SIGNALR_ENTRA_MODE=access-key to sign tokens with it locally, or leave SIGNALR_UNIQUE_CLAIM unset"
            );
            let signed_here = [
                ENTRA,
                ("SIGNALR_UNIQUE_CLAIM", name),
                ("SIGNALR_ENTRA_MODE", "access-key"),
            ];
            assert_eq!(mode(&signed_here).0, Ok(EntraMode::AccessKey));
            assert_eq!(
                mode(&[KEYED, ("SIGNALR_UNIQUE_CLAIM", name)]).0,
                Ok(EntraMode::GenerateToken)
            );
        }
        // Empty asks for no unique claim, which is what these tokens have.
        assert_eq!(
            mode(&[ENTRA, ("SIGNALR_UNIQUE_CLAIM", "")]).0,
            Ok(EntraMode::GenerateToken)
        );
    }

    #[test]
    fn generate_token_modes_warning_names_every_firewall_rule_it_defeats() {
        let (_, warnings) = mode(&[ENTRA]);
        for rule in [
            "ThrottleByJwtSignatureRule and TrafficThrottleByJwtSignatureRule (no unique claim",
            "ThrottleByJwtCustomClaimRule and TrafficThrottleByJwtCustomClaimRule (no custom claims)",
        ] {
            assert!(warnings[0].contains(rule), "{rule}: {}", warnings[0]);
        }
    }

    fn overrides(vars: &[(&str, &str)]) -> Result<EntraOverrides, SettingError> {
        entra_overrides(&Environment::new(
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        ))
    }

    #[test]
    fn unset_overrides_nothing() {
        assert_eq!(overrides(&[]), Ok(EntraOverrides::default()));
        assert_eq!(
            overrides(&[("AZURE_AUTHORITY_HOST", " "), ("SIGNALR_ENTRA_SCOPE", "")]),
            Ok(EntraOverrides::default())
        );
    }

    #[test]
    fn an_authority_host_is_an_https_host_alone() {
        for (text, expected) in [
            ("https://login.microsoftonline.us", "https://login.microsoftonline.us"),
            ("https://login.microsoftonline.us/", "https://login.microsoftonline.us"),
            ("HTTPS://Login.ChinaCloudAPI.cn/", "https://login.chinacloudapi.cn"),
            ("https://login.sovereign.test:8443", "https://login.sovereign.test:8443"),
        ] {
            let read = overrides(&[("azure_authority_host", text)]).unwrap();
            assert_eq!(read.authority_host.as_deref(), Some(expected), "{text}");
        }
        for bad in [
            "http://login.microsoftonline.us",
            "login.microsoftonline.us",
            "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47",
            "https://login.microsoftonline.com/?x=1",
            "https://login.microsoftonline.com/#f",
            "https://user:pw@login.microsoftonline.com",
            "https://",
        ] {
            let error = overrides(&[("AZURE_AUTHORITY_HOST", bad)]).unwrap_err();
            assert_eq!(error.setting, "AZURE_AUTHORITY_HOST", "{bad}");
            assert!(error.message.starts_with("must be the https:// URL"), "{bad}: {error}");
            assert!(
                "https://login.microsoftonline.us".contains(bad) || !error.message.contains(bad),
                "the value is not echoed"
            );
        }
    }

    #[test]
    fn a_scope_ends_in_default() {
        for good in [
            "https://signalr.azure.us/.default",
            "https://signalr.contoso.test/.default",
            "api://5f1c3d9e-0000-4000-8000-000000000000/.default",
        ] {
            assert_eq!(
                overrides(&[("SIGNALR_ENTRA_SCOPE", good)]).unwrap().scope.as_deref(),
                Some(good)
            );
        }
        for bad in [
            "https://signalr.azure.us",
            "https://signalr.azure.us/",
            "signalr.azure.us/.default",
            "/.default",
            "https://signalr.azure.us/.default https://other/.default",
            "https://signalr.azure.us/x?y=1/.default",
        ] {
            let error = overrides(&[("SIGNALR_ENTRA_SCOPE", bad)]).unwrap_err();
            assert_eq!(error.setting, "SIGNALR_ENTRA_SCOPE", "{bad}");
        }
    }

    #[test]
    fn entra_mode_and_custom_claims() {
        let entra = ("AzureSignalRConnectionString", "Endpoint=https://a;AuthType=azure");
        assert_eq!(
            config(&[entra, ("SIGNALR_ENTRA_MODE", "access-key")])
                .unwrap()
                .entra_mode,
            EntraMode::AccessKey
        );
        assert_eq!(
            error(&[entra, ("SIGNALR_ENTRA_MODE", "sign")]).setting,
            "SIGNALR_ENTRA_MODE"
        );
        let e = error(&[entra, ("SIGNALR_CLAIMS", r#"{"tier":"gold"}"#)]);
        assert_eq!(e.setting, "SIGNALR_CLAIMS");
        assert!(e.message.contains("SIGNALR_ENTRA_MODE=access-key"), "{e}");
        assert!(
            config(&[
                entra,
                ("SIGNALR_ENTRA_MODE", "access-key"),
                ("SIGNALR_COPY_CLAIMS", "email")
            ])
            .is_ok()
        );
        // With access keys, custom claims need no special mode.
        assert!(config(&[("SIGNALR_CLAIMS", r#"{"tier":"gold"}"#)]).is_ok());
    }

    #[test]
    fn upstream_limits_are_milliseconds() {
        let limits = config(&[
            ("SIGNALR_UPSTREAM_TIMEOUT_MS", "250"),
            ("SIGNALR_UPSTREAM_DEADLINE_MS", "900"),
        ])
        .unwrap()
        .upstream;
        assert_eq!(limits.attempt_timeout, Duration::from_millis(250));
        assert_eq!(limits.deadline, Duration::from_millis(900));
        assert_eq!(config(&[]).unwrap().upstream, UpstreamLimits::default());
        assert_eq!(
            error(&[("SIGNALR_UPSTREAM_DEADLINE_MS", "0")]).setting,
            "SIGNALR_UPSTREAM_DEADLINE_MS"
        );
    }

    /// The chain's variables come from the settings, as given, never from the process; the
    /// secret is never shown.
    #[test]
    fn the_default_chains_variables_are_read_as_given() {
        let chain = overrides(&[
            ("AZURE_CLIENT_ID", "c"),
            ("azure_tenant_id", "t"),
            ("AZURE_CLIENT_SECRET", " s3cret "),
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:41000/msi/token"),
            ("AZURE_FEDERATED_TOKEN_FILE", ""),
        ])
        .unwrap()
        .default_chain;
        assert_eq!(chain.client_id.as_deref(), Some("c"));
        assert_eq!(chain.tenant_id.as_deref(), Some("t"));
        assert_eq!(chain.client_secret.as_ref().map(Secret::expose), Some(" s3cret "));
        assert!(chain.identity_endpoint);
        assert_eq!(chain.federated_token_file, None, "empty is unset");
        assert!(!format!("{chain:?}").contains("s3cret"));
        assert_eq!(overrides(&[]).unwrap().default_chain, ChainSettings::default());
    }
}
