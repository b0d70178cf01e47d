//! Where endpoints come from: the unnamed connection string (four names, see
//! `connection_names`), the named forms (`Azure__SignalR__Endpoints__<name>…`,
//! `[ConnectionStrings__]Azure__SignalR__ConnectionString__<name>…`), the Functions
//! identity-based form (`…__serviceUri` and friends), and, with nothing set, the local
//! emulator's default — on the local server and Core Tools only: on Lambda and on a deployed
//! Function App, nothing set stops the start. Endpoints with the same `Endpoint` URL collapse
//! (a primary wins).

use super::connection_names::ConnectionNames;
use super::environment::{Environment, SettingError, fail, spelled};
use super::serving::Host;
use super::table::{CONNECTION_STRING, FUNCTIONS_CONNECTION_STRINGS};
use crate::endpoints::{Authentication, ConnectionString, EndpointType, EntraCredential, ServiceEndpoint};
use crate::secret::Secret;
use crate::url_rules;

/// The local emulator's well-known connection string, served when nothing is configured.
pub const EMULATOR_CONNECTION_STRING: &str =
    "Endpoint=http://localhost;Port=8999;AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;";

/// Sub-keys of an identity-based endpoint (lower-case).
const IDENTITY_KEYS: [&str; 8] = [
    "serviceuri",
    "credential",
    "clientid",
    "tenantid",
    "clientsecret",
    "clientendpoint",
    "serverendpoint",
    "type",
];

/// Every configured endpoint. With none: on Lambda and on a deployed Function App, a refusal
/// naming what was looked for (the emulator's published key would sign tokens no service
/// accepts, and anyone could sign); elsewhere the emulator's default, with a warning.
pub(super) fn endpoints(
    env: &Environment,
    host: Host,
    warnings: &mut Vec<String>,
) -> Result<Vec<ServiceEndpoint>, SettingError> {
    let names = ConnectionNames::from_env(env)?;
    if !names.is_default() {
        // The default binding's names, set but not read now.
        let identity_keys = env.names_under(&format!("{}__", CONNECTION_STRING.name));
        let ignored: Vec<&str> = [FUNCTIONS_CONNECTION_STRINGS, CONNECTION_STRING]
            .iter()
            .filter_map(|setting| env.get(setting).map(|(name, _)| name))
            .chain(identity_keys.first().copied())
            .collect();
        if !ignored.is_empty() {
            warnings.push(format!(
                "{} is set but not read: SIGNALR_CONNECTION_STRING_SETTING names {}",
                ignored.join(", "),
                names.binding
            ));
        }
    }
    let mut all: Vec<ServiceEndpoint> = unnamed_endpoint(env, &names)?.into_iter().collect();
    all.extend(named_endpoints(env)?);
    if all.is_empty() {
        let (host_name, looked_for) = (
            match host {
                Host::Lambda => "on AWS Lambda",
                _ => "in a Function App in Azure (WEBSITE_INSTANCE_ID is set)",
            },
            names.looked_for(),
        );
        if host.is_deployed() {
            return fail(
                &names.binding,
                format!(
                    "is not set, nor any other connection string: {host_name} one is required (looked for {looked_for}); the local emulator's default is served only on a local server and under func start"
                ),
            );
        }
        warnings.push(format!(
            "no connection string is set (looked for {looked_for}): serving the local emulator's default, Endpoint=http://localhost;Port=8999 — set a connection string for anything but local development"
        ));
        all.push(connection_string_endpoint(
            "(emulator default)",
            EMULATOR_CONNECTION_STRING,
            "",
            EndpointType::Primary,
        )?);
    }
    let all = deduplicate(all, warnings);
    if !all
        .iter()
        .any(|endpoint| endpoint.endpoint_type() == EndpointType::Primary)
    {
        return fail(
            all[0].source(),
            "no endpoint is primary: at least one endpoint must be primary (secondary ones only take clients when no primary is online)",
        );
    }
    Ok(all)
}

/// The single endpoint without a name: a connection string under one or more of the
/// unnamed names (equal, if several), or `AzureSignalRConnectionString__serviceUri` and
/// friends (the binding's name, if another is chosen).
fn unnamed_endpoint(env: &Environment, names: &ConnectionNames) -> Result<Option<ServiceEndpoint>, SettingError> {
    let mut chosen: Option<(&str, &str)> = None;
    for setting in &names.unnamed {
        let Some((name, value)) = env.get_raw(setting) else {
            continue;
        };
        if value.trim().is_empty() {
            return fail(
                name,
                "is empty: set it to the connection string of your Azure SignalR instance, or remove it to use the local emulator",
            );
        }
        match chosen {
            Some((first, existing)) if existing != value => {
                return fail(
                    name,
                    format!("differs from {first}: set the connection string in one of them only"),
                );
            }
            Some(_) => {}
            None => chosen = Some((name, value)),
        }
    }
    let prefix = names.identity_prefix();
    let identity_based = match env.names_under(&format!("{prefix}__")).first() {
        Some(first) => match identity_based_endpoint(env, prefix, "")? {
            Some(endpoint) => Some(endpoint),
            None => {
                return fail(
                    first,
                    format!("needs {prefix}__serviceUri (the https URL of the SignalR instance)"),
                );
            }
        },
        None => None,
    };
    match (chosen, identity_based) {
        (Some((name, _)), Some(_)) => fail(
            name,
            format!(
                "is set together with {prefix}__serviceUri: use the connection string or the identity-based settings, not both"
            ),
        ),
        (None, identity_based) => Ok(identity_based),
        (Some((setting, text)), None) => Ok(Some(connection_string_endpoint(
            setting,
            text,
            "",
            EndpointType::Primary,
        )?)),
    }
}

fn endpoint_type(text: &str) -> Option<EndpointType> {
    if text.eq_ignore_ascii_case("primary") {
        Some(EndpointType::Primary)
    } else if text.eq_ignore_ascii_case("secondary") {
        Some(EndpointType::Secondary)
    } else {
        None
    }
}

/// One named endpoint's settings: its name as written, its family's prefix, and the names set.
struct NamedGroup<'a> {
    key: String,
    name: String,
    family: &'static str,
    settings: Vec<&'a str>,
}

/// Named endpoints: `Azure__SignalR__ConnectionString__<name>[__primary|__secondary]` and
/// `Azure__SignalR__Endpoints__<name>[__primary|__secondary]` hold connection strings;
/// `Azure__SignalR__Endpoints__<name>__serviceUri` (with `__type`, `__credential`, …) is the
/// identity-based form. A name configured twice is a conflict.
fn named_endpoints(env: &Environment) -> Result<Vec<ServiceEndpoint>, SettingError> {
    let mut groups: Vec<NamedGroup<'_>> = Vec::new();
    for family in ConnectionNames::families() {
        for setting in env.names_under(family) {
            let rest = &spelled(setting)[family.len()..];
            let name = rest.split("__").next().unwrap_or_default().to_owned();
            if name.is_empty() {
                return fail(
                    setting,
                    "has no endpoint name (expected <prefix>__<name>[__primary|__secondary])",
                );
            }
            let key = name.to_ascii_lowercase();
            match groups.iter_mut().find(|group| group.key == key) {
                Some(group) if group.family != family => {
                    return fail(
                        setting,
                        format!(
                            "configures endpoint {name} again: it is also set under {}",
                            group.family
                        ),
                    );
                }
                Some(group) => group.settings.push(setting),
                None => groups.push(NamedGroup {
                    key,
                    name,
                    family,
                    settings: vec![setting],
                }),
            }
        }
    }
    let mut endpoints = Vec::new();
    for group in groups {
        endpoints.push(named_endpoint(env, &group)?);
    }
    Ok(endpoints)
}

fn named_endpoint(env: &Environment, group: &NamedGroup<'_>) -> Result<ServiceEndpoint, SettingError> {
    let name = &group.name;
    let prefix = format!("{}{name}", group.family);
    let mut connection_strings = Vec::new();
    let mut identity = false;
    for setting in &group.settings {
        let rest = &spelled(setting)[prefix.len()..];
        let suffix = rest.strip_prefix("__").unwrap_or(rest);
        if suffix.is_empty() {
            connection_strings.push((*setting, EndpointType::Primary));
        } else if suffix.contains("__") {
            return fail(
                setting,
                "is not understood: expected <prefix>__<name>[__primary|__secondary]",
            );
        } else if let Some(kind) = endpoint_type(suffix) {
            connection_strings.push((*setting, kind));
        } else if IDENTITY_KEYS.contains(&suffix.to_ascii_lowercase().as_str()) {
            identity = true;
        } else {
            return fail(setting, "has an endpoint type that is neither primary nor secondary");
        }
    }
    match (connection_strings.as_slice(), identity) {
        ([(setting, kind)], false) => {
            let text = env.get_raw(setting).map(|(_, value)| value).unwrap_or_default();
            if text.trim().is_empty() {
                return fail(setting, "is empty");
            }
            connection_string_endpoint(setting, text, name, *kind)
        }
        ([], true) => match identity_based_endpoint(env, &prefix, name)? {
            Some(endpoint) => Ok(endpoint),
            None => fail(
                group.settings[0],
                format!("needs {prefix}__serviceUri (the https URL of the SignalR instance)"),
            ),
        },
        (_, _) => fail(
            group.settings[0],
            format!(
                "endpoint {name} is configured more than once: give it one connection string or one set of identity-based settings"
            ),
        ),
    }
}

/// Endpoints with the same `Endpoint` URL collapse into one; a primary one wins.
fn deduplicate(endpoints: Vec<ServiceEndpoint>, warnings: &mut Vec<String>) -> Vec<ServiceEndpoint> {
    let mut kept: Vec<ServiceEndpoint> = Vec::with_capacity(endpoints.len());
    for endpoint in endpoints {
        match kept
            .iter_mut()
            .find(|other| other.endpoint_url() == endpoint.endpoint_url())
        {
            None => kept.push(endpoint),
            Some(existing) => {
                warnings.push(format!(
                    "{} and {} name the same SignalR endpoint; they are used as one",
                    existing.source(),
                    endpoint.source()
                ));
                if existing.endpoint_type() == EndpointType::Secondary
                    && endpoint.endpoint_type() == EndpointType::Primary
                {
                    *existing = endpoint;
                }
            }
        }
    }
    kept
}

pub(super) fn connection_string_endpoint(
    setting: &str,
    text: &str,
    name: &str,
    kind: EndpointType,
) -> Result<ServiceEndpoint, SettingError> {
    let connection_string: ConnectionString = match text.parse() {
        Ok(parsed) => parsed,
        Err(error) => return fail(setting, error.to_string()),
    };
    Ok(ServiceEndpoint::new(name, kind, connection_string).with_source(setting))
}

/// `{prefix}__serviceUri` with `__credential`, `__clientId`, `__tenantId`, `__clientSecret`,
/// `__clientEndpoint`, `__serverEndpoint`, `__type` (the Functions identity-based form).
fn identity_based_endpoint(
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
