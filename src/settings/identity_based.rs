//! The Functions identity-based form of an endpoint (`{prefix}__serviceUri` and its sibling
//! keys, Microsoft Entra ID), and the endpoint types the named forms take.

use super::environment::{Environment, SettingError, fail};
use crate::endpoints::{Authentication, ConnectionString, EndpointType, EntraCredential, ServiceEndpoint};
use crate::secret::Secret;
use crate::url_rules;

/// Sub-keys of an identity-based endpoint (lower-case).
pub(super) const IDENTITY_KEYS: [&str; 8] = [
    "serviceuri",
    "credential",
    "clientid",
    "tenantid",
    "clientsecret",
    "clientendpoint",
    "serverendpoint",
    "type",
];

/// `primary` or `secondary`, without case.
pub(super) fn endpoint_type(text: &str) -> Option<EndpointType> {
    if text.eq_ignore_ascii_case("primary") {
        Some(EndpointType::Primary)
    } else if text.eq_ignore_ascii_case("secondary") {
        Some(EndpointType::Secondary)
    } else {
        None
    }
}

/// `{prefix}__serviceUri` with `__credential`, `__clientId`, `__tenantId`, `__clientSecret`,
/// `__clientEndpoint`, `__serverEndpoint`, `__type` (the Functions identity-based form).
pub(super) fn identity_based_endpoint(
    env: &Environment,
    prefix: &str,
    name: &str,
) -> Result<Option<ServiceEndpoint>, SettingError> {
    let setting = |key: &str| format!("{prefix}__{key}");
    let value = |key: &str| env.value_raw(&setting(key));
    let url = |key: &str| -> Result<Option<url::Url>, SettingError> {
        match value(key) {
            Some(text) => match url_rules::service_url(text) {
                Some(url) => Ok(Some(url)),
                None => fail(
                    &setting(key),
                    "must be an absolute http:// or https:// URL with a host and no query or fragment",
                ),
            },
            None => Ok(None),
        }
    };
    let Some(endpoint) = url("serviceUri")? else {
        return Ok(None);
    };
    let client_id = value("clientId").map(str::to_owned);
    let credential = match (value("credential"), value("tenantId"), value("clientSecret")) {
        (Some(kind), _, _) if kind.eq_ignore_ascii_case("managedidentity") => {
            EntraCredential::ManagedIdentity { client_id }
        }
        (Some(_), _, _) => {
            return fail(&setting("credential"), "must be managedidentity (or be left out)");
        }
        (None, Some(tenant_id), Some(secret)) => EntraCredential::ClientSecret {
            tenant_id: tenant_id.to_owned(),
            client_id: match client_id {
                Some(id) => id,
                None => return fail(&setting("clientId"), "is required with a client secret"),
            },
            client_secret: Secret::new(secret),
        },
        (None, Some(_), None) => {
            return fail(
                &setting("clientSecret"),
                "is required with a tenantId (or set credential=managedidentity)",
            );
        }
        (None, None, Some(_)) => {
            return fail(&setting("tenantId"), "is required with a client secret");
        }
        (None, None, None) => EntraCredential::Default { client_id },
    };
    let endpoint_type = match value("type") {
        None => EndpointType::Primary,
        Some(kind) => match endpoint_type(kind) {
            Some(kind) => kind,
            None => return fail(&setting("type"), "must be primary or secondary"),
        },
    };
    let connection_string = ConnectionString {
        endpoint,
        port: None,
        version: None,
        client_endpoint: url("clientEndpoint")?,
        server_endpoint: url("serverEndpoint")?,
        auth: Authentication::MicrosoftEntra(credential),
    };
    Ok(Some(
        ServiceEndpoint::new(name, endpoint_type, connection_string).with_source(setting("serviceUri")),
    ))
}
