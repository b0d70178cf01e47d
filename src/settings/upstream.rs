//! Calls out of the function: how Entra endpoints get tokens, how long calls to Entra and the
//! service may take, and how often endpoints' health is probed.

use std::time::Duration;

use super::environment::{Environment, SettingError, fail};
use super::table::{
    AUTHORITY_HOST, CLAIMS, COPY_CLAIMS, ENTRA_MODE, ENTRA_SCOPE, HEALTH_CHECK_INTERVAL_MS, UPSTREAM_DEADLINE_MS,
    UPSTREAM_TIMEOUT_MS,
};
use crate::endpoints::{Authentication, ServiceEndpoint};
use crate::entra::EntraOverrides;
use crate::service::UpstreamLimits;
use crate::tokens::EntraMode;

/// `SIGNALR_ENTRA_MODE`; generate-token mode refuses settings that add custom claims, which
/// the service's generateToken cannot carry.
pub(super) fn entra_mode(env: &Environment, endpoints: &[ServiceEndpoint]) -> Result<EntraMode, SettingError> {
    let mode = match env.value_or_default(&ENTRA_MODE) {
        Some(mode) if mode.eq_ignore_ascii_case(EntraMode::GenerateToken.name()) => EntraMode::GenerateToken,
        Some(mode) if mode.eq_ignore_ascii_case(EntraMode::AccessKey.name()) => EntraMode::AccessKey,
        _ => return fail(ENTRA_MODE.name, "must be generate-token or access-key"),
    };
    let uses_entra = endpoints
        .iter()
        .any(|endpoint| matches!(endpoint.auth(), Authentication::MicrosoftEntra(_)));
    if mode == EntraMode::GenerateToken && uses_entra {
        for custom in [CLAIMS, COPY_CLAIMS] {
            if env.value(&custom).is_some() {
                return fail(
                    custom.name,
                    "custom claims cannot be added to tokens the service makes (generateToken); set SIGNALR_ENTRA_MODE=access-key to sign tokens with claims locally",
                );
            }
        }
    }
    Ok(mode)
}

/// `AZURE_AUTHORITY_HOST` and `SIGNALR_ENTRA_SCOPE`: for private clouds and custom domains,
/// instead of what the cloud of each endpoint's host implies.
pub(super) fn entra_overrides(env: &Environment) -> Result<EntraOverrides, SettingError> {
    let authority_host = match env.value(&AUTHORITY_HOST) {
        None => None,
        Some(text) => match authority_host(text) {
            Some(host) => Some(host),
            None => {
                return fail(
                    AUTHORITY_HOST.name,
                    "must be the https:// URL of a Microsoft Entra authority host alone, without a path, tenant, query or fragment (for example https://login.microsoftonline.us)",
                );
            }
        },
    };
    let scope = match env.value(&ENTRA_SCOPE) {
        None => None,
        Some(scope) if is_default_scope(scope) => Some(scope.to_owned()),
        Some(_) => {
            return fail(
                ENTRA_SCOPE.name,
                "must be the service's application ID URI followed by /.default (for example https://signalr.azure.us/.default)",
            );
        }
    };
    Ok(EntraOverrides { authority_host, scope })
}

/// `https://host[:port]` of an https URL with a host and nothing after it but `/`.
fn authority_host(text: &str) -> Option<String> {
    let url = url::Url::parse(text).ok()?;
    let alone = url.scheme() == "https"
        && url.username().is_empty()
        && url.password().is_none()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none();
    let host = url.host_str().filter(|_| alone)?;
    Some(match url.port() {
        Some(port) => format!("https://{host}:{port}"),
        None => format!("https://{host}"),
    })
}

/// `{absolute URI}/.default`, as Entra's v2 token endpoint takes an application's scope (and
/// with only the characters azure_identity lets through).
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

/// `SIGNALR_HEALTH_CHECK_INTERVAL_MS`.
pub(super) fn health_interval(env: &Environment) -> Result<Duration, SettingError> {
    let ms = env.whole_number(&HEALTH_CHECK_INTERVAL_MS, 100..=3_600_000, "milliseconds")?;
    Ok(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
