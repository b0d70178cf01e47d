//! Configuration, read once from the environment at start.
//!
//! Setting names are matched case-insensitively with `:` and `__` as the same separator, as
//! .NET configuration does (`Azure:SignalR:ConnectionString` is `Azure__SignalR__ConnectionString`).
//! Every mistake is found here, before the first request, and reported with the name of the
//! setting at fault; a value is never echoed, since connection strings hold keys.

use std::collections::HashMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};

use std::time::Duration;

use crate::connection_string::{self, Authentication, ConnectionString, EntraCredential};
use crate::endpoint::{EndpointType, ServiceEndpoint};
use serde_json::Value;

use crate::hub;
use crate::identity::{self, AuthSource, IdentityPolicy};
use crate::issuer::EntraMode;
use crate::oidc::{self, OidcSettings};
use crate::secret::Secret;
use crate::service_api::UpstreamLimits;
use crate::token::{DEFAULT_UNIQUE_CLAIM, TokenPolicy};

/// The local emulator's well-known connection string, served when nothing is configured.
pub const EMULATOR_CONNECTION_STRING: &str =
    "Endpoint=http://localhost;Port=8999;AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;";

/// The single-endpoint connection string settings: the ASP.NET name and the Functions binding's.
const CONNECTION_STRING_SETTINGS: [&str; 2] = ["Azure__SignalR__ConnectionString", "AzureSignalRConnectionString"];

/// Settings whose sub-keys configure named endpoints.
const NAMED_ENDPOINT_FAMILIES: [&str; 2] = ["Azure__SignalR__ConnectionString__", "Azure__SignalR__Endpoints__"];

/// The Functions binding's identity-based form: `AzureSignalRConnectionString__serviceUri` and friends.
const IDENTITY_BASED: &str = "AzureSignalRConnectionString";

/// Settings that add custom claims to tokens (the service's generateToken cannot).
const CUSTOM_CLAIM_SETTINGS: [&str; 2] = ["SIGNALR_CLAIMS", "SIGNALR_COPY_CLAIMS"];

/// Default address of the local server: the port `func start` uses.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 7071);

const MAX_TOKEN_LIFETIME_SECS: u64 = 86_400;

/// Claims a unique-token claim may not replace.
const RESERVED_CLAIMS: [&str; 7] = ["aud", "iat", "nbf", "exp", "iss", "asrs.s.uid", "nameid"];

/// Where the binary serves from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// `AWS_LAMBDA_RUNTIME_API` is set: the Lambda Runtime API drives us.
    Lambda,
    /// `FUNCTIONS_CUSTOMHANDLER_PORT` is set: the Azure Functions host forwards requests.
    Functions(SocketAddr),
    /// Neither: a plain HTTP server on `SIGNALR_LISTEN`.
    Local(SocketAddr),
}

#[derive(Debug)]
pub struct Config {
    pub endpoints: Vec<ServiceEndpoint>,
    /// Route prefix without leading or trailing `/` (`api` by default; may be empty).
    pub route_prefix: String,
    /// Hub for `/{prefix}/negotiate` without `?hub=`.
    pub default_hub: Option<String>,
    /// When set, the only hubs served (lower-case).
    pub allowed_hubs: Option<Vec<String>>,
    pub application_name: Option<String>,
    pub token_policy: TokenPolicy,
    /// How Entra endpoints get client tokens.
    pub entra_mode: EntraMode,
    /// Bounds on calls to Entra and the service's REST API.
    pub upstream: UpstreamLimits,
    /// Time between health probe rounds (with more than one endpoint).
    pub health_interval: Duration,
    /// Browser origins allowed to call negotiate (`SIGNALR_CORS_ORIGINS`); `None` turns CORS off.
    pub cors_origins: Option<Vec<String>>,
    /// Where the caller's identity comes from, and which claims reach the token.
    pub identity: IdentityPolicy,
    /// The OIDC provider, when `oidc` is a source.
    pub oidc: Option<OidcSettings>,
    pub host: Host,
    /// Things to log once logging is up (the configuration is read before).
    pub warnings: Vec<String>,
}

/// A setting that stops the start. `Display` names the setting and never shows its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub setting: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "setting {}: {}", self.setting, self.message)
    }
}

impl std::error::Error for ConfigError {}

fn fail<T>(setting: &str, message: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError {
        setting: setting.to_owned(),
        message: message.into(),
    })
}

/// The environment, keyed by normalised name (lower-case, `:` as `__`).
struct Settings {
    by_key: HashMap<String, (String, String)>,
}

impl Settings {
    fn new(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let by_key = vars
            .into_iter()
            .map(|(name, value)| (normalise(&name), (name, value)))
            .collect();
        Self { by_key }
    }

    /// `(name as set, value)` of a setting.
    fn get(&self, name: &str) -> Option<(&str, &str)> {
        self.by_key
            .get(&normalise(name))
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }

    /// The value of a setting, `None` when unset or blank.
    fn value(&self, name: &str) -> Option<&str> {
        self.get(name)
            .map(|(_, value)| value.trim())
            .filter(|value| !value.is_empty())
    }

    /// Names (as set) of the settings under a prefix.
    fn names_under(&self, prefix: &str) -> Vec<&str> {
        let prefix = normalise(prefix);
        let mut names: Vec<&str> = self
            .by_key
            .iter()
            .filter(|(key, _)| key.starts_with(&prefix))
            .map(|(_, (name, _))| name.as_str())
            .collect();
        names.sort_unstable();
        names
    }
}

/// The process environment as text (variables that are not Unicode are skipped).
pub fn environment() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
        .collect()
}

fn normalise(name: &str) -> String {
    name.replace(':', "__").to_ascii_lowercase()
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(environment())
    }

    /// Reads configuration from `(name, value)` pairs (the environment, or a test's own).
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Result<Self, ConfigError> {
        let settings = Settings::new(vars);
        let mut warnings = Vec::new();
        let endpoints = endpoints(&settings, &mut warnings)?;
        let application_name = match settings.value("SIGNALR_APPLICATION_NAME") {
            Some(name) => match hub::validate(name) {
                Ok(()) => Some(name.to_owned()),
                Err(_) => {
                    return fail(
                        "SIGNALR_APPLICATION_NAME",
                        "must start with a letter and contain only letters, digits and _ (at most 128 characters)",
                    );
                }
            },
            None => None,
        };
        let allowed_hubs = allowed_hubs(&settings)?;
        let default_hub = match settings.value("SIGNALR_HUB") {
            Some(hub) => {
                if let Err(error) = hub::validate(hub) {
                    return fail("SIGNALR_HUB", error.to_string());
                }
                if allowed_hubs
                    .as_ref()
                    .is_some_and(|hubs| !hubs.contains(&hub.to_ascii_lowercase()))
                {
                    return fail("SIGNALR_HUB", "is not one of the hubs listed in SIGNALR_HUBS");
                }
                Some(hub.to_owned())
            }
            None => None,
        };
        let entra_mode = entra_mode(&settings, &endpoints)?;
        let token_policy = token_policy(&settings)?;
        let (identity, oidc) = identity(&settings, token_policy.unique_claim.as_deref(), &mut warnings)?;
        Ok(Self {
            endpoints,
            route_prefix: route_prefix(&settings)?,
            default_hub,
            allowed_hubs,
            application_name,
            token_policy,
            entra_mode,
            upstream: upstream_limits(&settings)?,
            cors_origins: cors_origins(&settings)?,
            health_interval: match settings.value("SIGNALR_HEALTH_CHECK_INTERVAL_MS") {
                None => crate::health::DEFAULT_INTERVAL,
                Some(text) => match text.parse::<u64>() {
                    Ok(ms) if (100..=3_600_000).contains(&ms) => Duration::from_millis(ms),
                    _ => {
                        return fail(
                            "SIGNALR_HEALTH_CHECK_INTERVAL_MS",
                            "must be a whole number of milliseconds from 100 to 3600000",
                        );
                    }
                },
            },
            identity,
            oidc,
            host: host(&settings)?,
            warnings,
        })
    }
}

fn endpoints(settings: &Settings, warnings: &mut Vec<String>) -> Result<Vec<ServiceEndpoint>, ConfigError> {
    let mut all: Vec<ServiceEndpoint> = unnamed_endpoint(settings)?.into_iter().collect();
    all.extend(named_endpoints(settings)?);
    if all.is_empty() {
        warnings.push(
            "no connection string is set (AzureSignalRConnectionString or Azure__SignalR__ConnectionString): serving the local emulator's default, Endpoint=http://localhost;Port=8999 — set a connection string for anything but local development".to_owned(),
        );
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

/// The single endpoint without a name: `Azure__SignalR__ConnectionString`,
/// `AzureSignalRConnectionString`, or `AzureSignalRConnectionString__serviceUri` and friends.
fn unnamed_endpoint(settings: &Settings) -> Result<Option<ServiceEndpoint>, ConfigError> {
    let mut chosen: Option<(&str, &str)> = None;
    for setting in CONNECTION_STRING_SETTINGS {
        let Some((name, value)) = settings.get(setting) else {
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
    let identity_based = match settings.names_under(&format!("{IDENTITY_BASED}__")).first() {
        Some(first) => match identity_based_endpoint(settings, IDENTITY_BASED, "")? {
            Some(endpoint) => Some(endpoint),
            None => {
                return fail(
                    first,
                    format!("needs {IDENTITY_BASED}__serviceUri (the https URL of the SignalR instance)"),
                );
            }
        },
        None => None,
    };
    match (chosen, identity_based) {
        (Some((name, _)), Some(_)) => fail(
            name,
            format!(
                "is set together with {IDENTITY_BASED}__serviceUri: use the connection string or the identity-based settings, not both"
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

fn endpoint_type(text: &str) -> Option<EndpointType> {
    if text.eq_ignore_ascii_case("primary") {
        Some(EndpointType::Primary)
    } else if text.eq_ignore_ascii_case("secondary") {
        Some(EndpointType::Secondary)
    } else {
        None
    }
}

/// Named endpoints: `Azure__SignalR__ConnectionString__<name>[__primary|__secondary]` and
/// `Azure__SignalR__Endpoints__<name>[__primary|__secondary]` hold connection strings;
/// `Azure__SignalR__Endpoints__<name>__serviceUri` (with `__type`, `__credential`, …) is the
/// identity-based form. A name configured twice is a conflict.
fn named_endpoints(settings: &Settings) -> Result<Vec<ServiceEndpoint>, ConfigError> {
    // name (lower-case) → (name as written, family, settings under it)
    let mut groups: Vec<(String, String, &str, Vec<String>)> = Vec::new();
    for family in NAMED_ENDPOINT_FAMILIES {
        for setting in settings.names_under(family) {
            let rest = &setting.replace(':', "__")[family.len()..];
            let name = rest.split("__").next().unwrap_or_default().to_owned();
            if name.is_empty() {
                return fail(
                    setting,
                    "has no endpoint name (expected <prefix>__<name>[__primary|__secondary])",
                );
            }
            let key = name.to_ascii_lowercase();
            match groups.iter_mut().find(|group| group.0 == key) {
                Some(group) if group.2 != family => {
                    return fail(
                        setting,
                        format!("configures endpoint {name} again: it is also set under {}", group.2),
                    );
                }
                Some(group) => group.3.push(setting.to_owned()),
                None => groups.push((key, name, family, vec![setting.to_owned()])),
            }
        }
    }
    let mut endpoints = Vec::new();
    for (_, name, family, names) in groups {
        let prefix = format!("{family}{name}");
        let mut connection_strings = Vec::new();
        let mut identity = false;
        for setting in &names {
            let rest = &setting.replace(':', "__")[prefix.len()..];
            let suffix = rest.strip_prefix("__").unwrap_or(rest);
            if suffix.is_empty() {
                connection_strings.push((setting.as_str(), EndpointType::Primary));
            } else if suffix.contains("__") {
                return fail(
                    setting,
                    "is not understood: expected <prefix>__<name>[__primary|__secondary]",
                );
            } else if let Some(kind) = endpoint_type(suffix) {
                connection_strings.push((setting.as_str(), kind));
            } else if IDENTITY_KEYS.contains(&suffix.to_ascii_lowercase().as_str()) {
                identity = true;
            } else {
                return fail(setting, "has an endpoint type that is neither primary nor secondary");
            }
        }
        match (connection_strings.as_slice(), identity) {
            ([(setting, kind)], false) => {
                let text = settings.get(setting).map(|(_, value)| value).unwrap_or_default();
                if text.trim().is_empty() {
                    return fail(setting, "is empty");
                }
                endpoints.push(connection_string_endpoint(setting, text, &name, *kind)?);
            }
            ([], true) => match identity_based_endpoint(settings, &prefix, &name)? {
                Some(endpoint) => endpoints.push(endpoint),
                None => {
                    return fail(
                        &names[0],
                        format!("needs {prefix}__serviceUri (the https URL of the SignalR instance)"),
                    );
                }
            },
            (_, _) => {
                return fail(
                    &names[0],
                    format!(
                        "endpoint {name} is configured more than once: give it one connection string or one set of identity-based settings"
                    ),
                );
            }
        }
    }
    Ok(endpoints)
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

fn connection_string_endpoint(
    setting: &str,
    text: &str,
    name: &str,
    kind: EndpointType,
) -> Result<ServiceEndpoint, ConfigError> {
    let connection_string: ConnectionString = match text.parse() {
        Ok(parsed) => parsed,
        Err(error) => return fail(setting, error.to_string()),
    };
    if let Authentication::MicrosoftEntra(EntraCredential::ClientCertificate { .. }) = connection_string.auth {
        return fail(setting, CERTIFICATES_UNSUPPORTED);
    }
    Ok(ServiceEndpoint::new(name, kind, connection_string).with_source(setting))
}

const CERTIFICATES_UNSUPPORTED: &str = "client certificates (ClientCert) are not supported in this build (it carries no OpenSSL); use ClientSecret or a managed identity";

/// `{prefix}__serviceUri` with `__credential`, `__clientId`, `__tenantId`, `__clientSecret`,
/// `__clientEndpoint`, `__serverEndpoint`, `__type` (the Functions identity-based form).
fn identity_based_endpoint(
    settings: &Settings,
    prefix: &str,
    name: &str,
) -> Result<Option<ServiceEndpoint>, ConfigError> {
    let setting = |key: &str| format!("{prefix}__{key}");
    let value = |key: &str| settings.value(&setting(key));
    let url = |key: &str| -> Result<Option<url::Url>, ConfigError> {
        match value(key) {
            Some(text) => match connection_string::parse_url(text, "") {
                Ok(url) => Ok(Some(url)),
                Err(_) => fail(
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

fn entra_mode(settings: &Settings, endpoints: &[ServiceEndpoint]) -> Result<EntraMode, ConfigError> {
    let mode = match settings.value("SIGNALR_ENTRA_MODE") {
        None => EntraMode::GenerateToken,
        Some(mode) if mode.eq_ignore_ascii_case("generate-token") => EntraMode::GenerateToken,
        Some(mode) if mode.eq_ignore_ascii_case("access-key") => EntraMode::AccessKey,
        Some(_) => return fail("SIGNALR_ENTRA_MODE", "must be generate-token or access-key"),
    };
    let uses_entra = endpoints
        .iter()
        .any(|endpoint| matches!(endpoint.auth(), Authentication::MicrosoftEntra(_)));
    if mode == EntraMode::GenerateToken && uses_entra {
        for custom in CUSTOM_CLAIM_SETTINGS {
            if settings.value(custom).is_some() {
                return fail(
                    custom,
                    "custom claims cannot be added to tokens the service makes (generateToken); set SIGNALR_ENTRA_MODE=access-key to sign tokens with claims locally",
                );
            }
        }
    }
    Ok(mode)
}

fn upstream_limits(settings: &Settings) -> Result<UpstreamLimits, ConfigError> {
    let millis = |name: &str, default: Duration| -> Result<Duration, ConfigError> {
        match settings.value(name) {
            Some(text) => match text.parse::<u64>() {
                Ok(ms) if (1..=120_000).contains(&ms) => Ok(Duration::from_millis(ms)),
                _ => fail(name, "must be a whole number of milliseconds from 1 to 120000"),
            },
            None => Ok(default),
        }
    };
    let defaults = UpstreamLimits::default();
    Ok(UpstreamLimits {
        attempt_timeout: millis("SIGNALR_UPSTREAM_TIMEOUT_MS", defaults.attempt_timeout)?,
        deadline: millis("SIGNALR_UPSTREAM_DEADLINE_MS", defaults.deadline)?,
    })
}

fn identity(
    settings: &Settings,
    unique_claim: Option<&str>,
    warnings: &mut Vec<String>,
) -> Result<(IdentityPolicy, Option<OidcSettings>), ConfigError> {
    let mut policy = IdentityPolicy::default();
    if let Some(list) = settings.value("SIGNALR_AUTH") {
        let mut sources = Vec::new();
        for name in list.split(',').filter(|name| !name.trim().is_empty()) {
            match AuthSource::parse(name) {
                Some(source) if !sources.contains(&source) => sources.push(source),
                Some(_) => {}
                None => {
                    return fail(
                        "SIGNALR_AUTH",
                        "lists an unknown source: use app-service, api-gateway, oidc or anonymous",
                    );
                }
            }
        }
        policy.sources = sources;
    }
    if policy.sources.contains(&AuthSource::AppService)
        && !settings
            .value("WEBSITE_AUTH_ENABLED")
            .is_some_and(|value| value.eq_ignore_ascii_case("true"))
    {
        return fail(
            "SIGNALR_AUTH",
            "app-service trusts the X-MS-CLIENT-PRINCIPAL headers only where App Service authentication strips forged ones: enable it (WEBSITE_AUTH_ENABLED=True) or use another source",
        );
    }
    policy.required = boolean(settings, "SIGNALR_AUTH_REQUIRED")?;
    policy.dev_query_user = boolean(settings, "SIGNALR_DEV_QUERY_USER")?;
    if policy.dev_query_user {
        warnings.push(
            "SIGNALR_DEV_QUERY_USER is on: any caller can name its user with ?userId= — for development only"
                .to_owned(),
        );
    }
    if let Some(claim) = settings.value("SIGNALR_USER_ID_CLAIM") {
        policy.user_id_claim = claim.to_owned();
        policy.user_id_claim_set = true;
    }
    if let Some(list) = settings.value("SIGNALR_COPY_CLAIMS") {
        policy.copy_claims = list
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect();
    }
    if let Some(json) = settings.value("SIGNALR_CLAIMS") {
        let Ok(Value::Object(object)) = serde_json::from_str::<Value>(json) else {
            return fail(
                "SIGNALR_CLAIMS",
                "must be a JSON object, for example {\"tier\":\"gold\"}",
            );
        };
        for (name, value) in object {
            let scalar = |v: &Value| matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_));
            let acceptable = scalar(&value) || matches!(&value, Value::Array(items) if items.iter().all(scalar));
            if name.is_empty() || !acceptable {
                return fail(
                    "SIGNALR_CLAIMS",
                    "claim values must be strings, numbers, booleans or arrays of them",
                );
            }
            let name = identity::token_claim_name(&name).into_owned();
            if identity::is_system_claim(&name, unique_claim) {
                return fail(
                    "SIGNALR_CLAIMS",
                    "names a claim the token already uses (asrs.s.*, nameid or the unique claim)",
                );
            }
            policy.fixed_claims.push((name, value));
        }
    }
    let oidc = if policy.sources.contains(&AuthSource::Oidc) {
        let provider_url = |name: &str| -> Result<Option<String>, ConfigError> {
            let Some(text) = settings.value(name) else {
                return Ok(None);
            };
            match url::Url::parse(text) {
                Ok(url) if oidc::is_acceptable_provider_url(&url) => Ok(Some(text.to_owned())),
                _ => fail(name, "must be an https URL (http only on a loopback host)"),
            }
        };
        let Some(issuer) = provider_url("SIGNALR_OIDC_ISSUER")? else {
            return fail(
                "SIGNALR_OIDC_ISSUER",
                "is required with SIGNALR_AUTH=oidc (for example https://login.microsoftonline.com/<tenant>/v2.0)",
            );
        };
        let Some(audience) = settings.value("SIGNALR_OIDC_AUDIENCE") else {
            return fail(
                "SIGNALR_OIDC_AUDIENCE",
                "is required with SIGNALR_AUTH=oidc (the audience your tokens are issued for)",
            );
        };
        Some(OidcSettings {
            issuer,
            audience: audience.to_owned(),
            jwks_uri: provider_url("SIGNALR_OIDC_JWKS_URI")?,
        })
    } else {
        None
    };
    Ok((policy, oidc))
}

/// `SIGNALR_CORS_ORIGINS`: a comma list of origins (`scheme://host[:port]`). `*` is refused:
/// the SignalR client sends credentials, which a wildcard cannot be combined with.
fn cors_origins(settings: &Settings) -> Result<Option<Vec<String>>, ConfigError> {
    let Some(list) = settings.value("SIGNALR_CORS_ORIGINS") else {
        return Ok(None);
    };
    let mut origins = Vec::new();
    for origin in list.split(',').map(str::trim).filter(|origin| !origin.is_empty()) {
        let parsed = url::Url::parse(origin).ok().filter(|url| {
            matches!(url.scheme(), "http" | "https")
                && url.host_str().is_some()
                && url.path() == "/"
                && !origin.ends_with('/')
                && url.query().is_none()
                && url.username().is_empty()
        });
        match parsed {
            Some(url) => origins.push(url.origin().ascii_serialization()),
            None => {
                return fail(
                    "SIGNALR_CORS_ORIGINS",
                    "must list origins such as https://app.example.com or http://localhost:8080 (no path, no *: the SignalR client sends credentials)",
                );
            }
        }
    }
    Ok(Some(origins))
}

fn boolean(settings: &Settings, name: &str) -> Result<bool, ConfigError> {
    match settings.value(name) {
        None => Ok(false),
        Some(value) if value.eq_ignore_ascii_case("true") || value == "1" => Ok(true),
        Some(value) if value.eq_ignore_ascii_case("false") || value == "0" => Ok(false),
        Some(_) => fail(name, "must be true or false"),
    }
}

fn allowed_hubs(settings: &Settings) -> Result<Option<Vec<String>>, ConfigError> {
    let Some(list) = settings.value("SIGNALR_HUBS") else {
        return Ok(None);
    };
    let mut hubs = Vec::new();
    for hub in list.split(',').map(str::trim).filter(|hub| !hub.is_empty()) {
        if let Err(error) = hub::validate(hub) {
            return fail("SIGNALR_HUBS", format!("lists an invalid hub name: {error}"));
        }
        hubs.push(hub.to_ascii_lowercase());
    }
    Ok(Some(hubs))
}

fn route_prefix(settings: &Settings) -> Result<String, ConfigError> {
    let Some(prefix) = settings.get("SIGNALR_ROUTE_PREFIX").map(|(_, value)| value.trim()) else {
        return Ok("api".to_owned());
    };
    let prefix = prefix.trim_matches('/');
    let valid_segment = |segment: &str| {
        !segment.is_empty()
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
    };
    if prefix.is_empty() || prefix.split('/').all(valid_segment) {
        Ok(prefix.to_owned())
    } else {
        fail(
            "SIGNALR_ROUTE_PREFIX",
            "must be path segments of letters, digits, - _ . ~ separated by / (for example api), or empty",
        )
    }
}

fn token_policy(settings: &Settings) -> Result<TokenPolicy, ConfigError> {
    let lifetime_secs = match settings.value("SIGNALR_TOKEN_LIFETIME_SECONDS") {
        Some(text) => match text.parse::<u64>() {
            Ok(secs) if (1..=MAX_TOKEN_LIFETIME_SECS).contains(&secs) => secs,
            _ => {
                return fail(
                    "SIGNALR_TOKEN_LIFETIME_SECONDS",
                    "must be a whole number of seconds from 1 to 86400",
                );
            }
        },
        None => TokenPolicy::default().lifetime_secs,
    };
    let unique_claim = match settings.get("SIGNALR_UNIQUE_CLAIM").map(|(_, value)| value.trim()) {
        None => Some(DEFAULT_UNIQUE_CLAIM.to_owned()),
        Some("") => None,
        Some(name) if RESERVED_CLAIMS.contains(&name) => {
            return fail(
                "SIGNALR_UNIQUE_CLAIM",
                "names a claim the token already uses; choose another name, or leave it empty to send no unique claim",
            );
        }
        Some(name) => Some(name.to_owned()),
    };
    Ok(TokenPolicy {
        lifetime_secs,
        unique_claim,
    })
}

fn host(settings: &Settings) -> Result<Host, ConfigError> {
    if settings.value("AWS_LAMBDA_RUNTIME_API").is_some() {
        return Ok(Host::Lambda);
    }
    if let Some(port) = settings.value("FUNCTIONS_CUSTOMHANDLER_PORT") {
        return match port.parse::<u16>() {
            Ok(port) => Ok(Host::Functions(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port))),
            Err(_) => fail("FUNCTIONS_CUSTOMHANDLER_PORT", "must be a port number from 0 to 65535"),
        };
    }
    match settings.value("SIGNALR_LISTEN") {
        Some(addr) => match addr.parse::<SocketAddr>() {
            Ok(addr) => Ok(Host::Local(addr)),
            Err(_) => fail(
                "SIGNALR_LISTEN",
                "must be an IP address and port, for example 127.0.0.1:7071 or 0.0.0.0:8080",
            ),
        },
        None => Ok(Host::Local(DEFAULT_LISTEN)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvu";

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    fn error(vars: &[(&str, &str)]) -> ConfigError {
        let error = config(vars).expect_err("should be refused");
        assert!(!error.to_string().contains(KEY), "echoes the key: {error}");
        error
    }

    fn cs() -> String {
        format!("Endpoint=https://demo.service.signalr.net;AccessKey={KEY};Version=1.0;")
    }

    #[test]
    fn nothing_set_serves_the_emulator_default_with_a_warning() {
        let config = config(&[]).unwrap();
        assert_eq!(config.endpoints.len(), 1);
        assert_eq!(
            config.endpoints[0].client_url("chat", "r"),
            "http://localhost:8999/client/?hub=chat&asrs_request_id=r"
        );
        assert_eq!(config.warnings.len(), 1);
        assert!(config.warnings[0].contains("emulator"));
        assert_eq!(config.route_prefix, "api");
        assert_eq!(config.token_policy, TokenPolicy::default());
        assert_eq!(config.host, Host::Local(DEFAULT_LISTEN));
    }

    #[test]
    fn each_single_endpoint_form_is_read() {
        for name in [
            "Azure__SignalR__ConnectionString",
            "Azure:SignalR:ConnectionString",
            "AzureSignalRConnectionString",
            "azuresignalrconnectionstring",
        ] {
            let config = config(&[(name, &cs())]).unwrap();
            assert!(config.warnings.is_empty(), "{name}");
            assert_eq!(
                config.endpoints[0].audience("h"),
                "https://demo.service.signalr.net/client/?hub=h"
            );
        }
    }

    #[test]
    fn both_forms_must_agree() {
        assert!(
            config(&[
                ("AzureSignalRConnectionString", &cs()),
                ("Azure__SignalR__ConnectionString", &cs())
            ])
            .is_ok()
        );
        let other = cs().replace("demo", "other");
        let e = error(&[
            ("Azure__SignalR__ConnectionString", &cs()),
            ("AzureSignalRConnectionString", &other),
        ]);
        assert_eq!(e.setting, "AzureSignalRConnectionString");
        assert_eq!(
            e.message,
            "differs from Azure__SignalR__ConnectionString: set the connection string in one of them only"
        );
    }

    #[test]
    fn a_malformed_connection_string_names_the_setting_and_not_the_key() {
        let e = error(&[("AzureSignalRConnectionString", &format!("AccessKey={KEY}"))]);
        assert_eq!(e.setting, "AzureSignalRConnectionString");
        assert!(e.message.contains("no Endpoint"), "{e}");
        assert_eq!(
            e.to_string(),
            "setting AzureSignalRConnectionString: the connection string has no Endpoint (expected Endpoint=https://<name>.service.signalr.net;...)"
        );
        let e = error(&[(
            "Azure:SignalR:ConnectionString",
            &format!("Endpoint=https://a;AccessKey={KEY};Port=0"),
        )]);
        assert_eq!(e.setting, "Azure:SignalR:ConnectionString");
        let e = error(&[("AzureSignalRConnectionString", "  ")]);
        assert!(e.message.starts_with("is empty"), "{e}");
    }

    fn named(vars: &[(&str, &str)]) -> Vec<(String, EndpointType, String)> {
        config(vars)
            .unwrap()
            .endpoints
            .iter()
            .map(|e| (e.name().to_owned(), e.endpoint_type(), e.endpoint_url().to_owned()))
            .collect()
    }

    fn cs_for(host: &str) -> String {
        format!("Endpoint=https://{host}.service.signalr.net;AccessKey={KEY};Version=1.0;")
    }

    #[test]
    fn named_endpoints_in_every_form() {
        let (east, west, north, south) = (cs_for("east"), cs_for("west"), cs_for("north"), cs_for("south"));
        let got = named(&[
            ("Azure__SignalR__ConnectionString__east", &east),
            ("Azure:SignalR:ConnectionString:west:secondary", &west),
            ("Azure__SignalR__Endpoints__north__Primary", &north),
            (
                "Azure__SignalR__Endpoints__south__serviceUri",
                "https://south.service.signalr.net",
            ),
            ("Azure__SignalR__Endpoints__south__type", "secondary"),
            (
                "Azure__SignalR__Endpoints__south__clientEndpoint",
                "https://proxy.example.com",
            ),
            ("AzureSignalRConnectionString", &south.replace("south", "default")),
        ]);
        let expect =
            |name: &str, kind, host: &str| (name.to_owned(), kind, format!("https://{host}.service.signalr.net"));
        assert_eq!(got.len(), 5, "{got:?}");
        assert!(got.contains(&expect("", EndpointType::Primary, "default")));
        assert!(got.contains(&expect("east", EndpointType::Primary, "east")));
        assert!(got.contains(&expect("west", EndpointType::Secondary, "west")));
        assert!(got.contains(&expect("north", EndpointType::Primary, "north")));
        assert!(got.contains(&expect("south", EndpointType::Secondary, "south")));
        let config = config(&[
            (
                "Azure__SignalR__Endpoints__south__serviceUri",
                "https://south.service.signalr.net",
            ),
            (
                "Azure__SignalR__Endpoints__south__clientEndpoint",
                "https://proxy.example.com/sig",
            ),
        ])
        .unwrap();
        assert_eq!(
            config.endpoints[0].client_url("h", "r"),
            "https://proxy.example.com/sig/client/?hub=h&asrs_request_id=r"
        );
        assert_eq!(
            config.endpoints[0].source(),
            "Azure__SignalR__Endpoints__south__serviceUri"
        );
    }

    #[test]
    fn the_same_url_collapses_and_primary_wins() {
        let got = named(&[
            ("Azure__SignalR__ConnectionString__a__secondary", &cs_for("same")),
            (
                "Azure__SignalR__ConnectionString__b",
                &cs_for("same").replace(";Version=1.0;", ";Port=443;"),
            ),
            ("Azure__SignalR__ConnectionString__c", &cs_for("other")),
        ]);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got.contains(&(
            "b".to_owned(),
            EndpointType::Primary,
            "https://same.service.signalr.net".to_owned()
        )));
        let config = config(&[
            ("Azure__SignalR__ConnectionString__a", &cs_for("same")),
            ("Azure__SignalR__ConnectionString__b", &cs_for("same")),
        ])
        .unwrap();
        assert_eq!(config.endpoints.len(), 1);
        assert!(
            config
                .warnings
                .iter()
                .any(|w| w.contains("name the same SignalR endpoint"))
        );
    }

    #[test]
    fn named_endpoint_mistakes_stop_the_start() {
        let (east, west) = (cs_for("east"), cs_for("west"));
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
        let cases: &[Case] = &[
            (
                &[("Azure__SignalR__ConnectionString__east__secondary", &east)],
                "Azure__SignalR__ConnectionString__east__secondary",
                "no endpoint is primary",
            ),
            (
                &[("Azure__SignalR__ConnectionString__east__tertiary", &east)],
                "Azure__SignalR__ConnectionString__east__tertiary",
                "neither primary nor secondary",
            ),
            (
                &[
                    ("Azure__SignalR__ConnectionString__east", &east),
                    ("Azure__SignalR__ConnectionString__east__secondary", &west),
                ],
                "Azure__SignalR__ConnectionString__east",
                "configured more than once",
            ),
            (
                &[
                    ("Azure__SignalR__ConnectionString__east", &east),
                    ("Azure__SignalR__Endpoints__east", &west),
                ],
                "Azure__SignalR__Endpoints__east",
                "also set under",
            ),
            (
                &[("Azure__SignalR__Endpoints__east__clientId", "c")],
                "Azure__SignalR__Endpoints__east__clientId",
                "needs Azure__SignalR__Endpoints__east__serviceUri",
            ),
            (
                &[("Azure__SignalR__Endpoints__east", "Endpoint=https://x")],
                "Azure__SignalR__Endpoints__east",
                "AccessKey is required",
            ),
            (
                &[("Azure__SignalR__Endpoints__east__primary__x", &east)],
                "Azure__SignalR__Endpoints__east__primary__x",
                "not understood",
            ),
        ];
        for (vars, setting, reason) in cases {
            let e = error(vars);
            assert_eq!(e.setting, *setting, "{vars:?}: {e}");
            assert!(e.message.contains(reason), "{vars:?}: {e}");
        }
    }

    #[test]
    fn entra_connection_strings_are_accepted_except_certificates() {
        let config = config(&[(
            "AzureSignalRConnectionString",
            "Endpoint=https://a.service.signalr.net;AuthType=azure.msi;Version=1.0",
        )])
        .unwrap();
        assert!(matches!(
            config.endpoints[0].auth(),
            Authentication::MicrosoftEntra(EntraCredential::ManagedIdentity { client_id: None })
        ));
        assert_eq!(config.entra_mode, EntraMode::GenerateToken);
        let e = error(&[(
            "AzureSignalRConnectionString",
            "Endpoint=https://a;AuthType=azure.app;ClientId=c;TenantId=t;ClientCert=/c.pem",
        )]);
        assert_eq!(e.setting, "AzureSignalRConnectionString");
        assert!(
            e.message
                .contains("client certificates (ClientCert) are not supported in this build"),
            "{e}"
        );
    }

    #[test]
    fn identity_based_settings_make_an_entra_endpoint() {
        let msi = config(&[
            (
                "AzureSignalRConnectionString__serviceUri",
                "https://a.service.signalr.net",
            ),
            ("AzureSignalRConnectionString__credential", "managedidentity"),
            ("AzureSignalRConnectionString__clientId", "0000-1111"),
            (
                "AzureSignalRConnectionString__clientEndpoint",
                "https://proxy.example.com",
            ),
            ("AzureSignalRConnectionString__serverEndpoint", "http://10.1.2.3:8080"),
        ])
        .unwrap();
        let endpoint = &msi.endpoints[0];
        assert!(matches!(
            endpoint.auth(),
            Authentication::MicrosoftEntra(EntraCredential::ManagedIdentity { client_id: Some(id) }) if id == "0000-1111"
        ));
        assert_eq!(
            endpoint.client_url("h", "r"),
            "https://proxy.example.com/client/?hub=h&asrs_request_id=r"
        );
        assert_eq!(endpoint.audience("h"), "https://a.service.signalr.net/client/?hub=h");
        assert_eq!(endpoint.server_base(), "http://10.1.2.3:8080");
        assert_eq!(endpoint.source(), "AzureSignalRConnectionString__serviceUri");

        let app = config(&[
            (
                "AzureSignalRConnectionString__serviceUri",
                "https://a.service.signalr.net",
            ),
            ("AzureSignalRConnectionString__tenantId", "t"),
            ("AzureSignalRConnectionString__clientId", "c"),
            ("AzureSignalRConnectionString__clientSecret", "s"),
        ])
        .unwrap();
        assert!(matches!(
            app.endpoints[0].auth(),
            Authentication::MicrosoftEntra(EntraCredential::ClientSecret { .. })
        ));
        let default = config(&[(
            "AzureSignalRConnectionString:serviceUri",
            "https://a.service.signalr.net",
        )])
        .unwrap();
        assert!(matches!(
            default.endpoints[0].auth(),
            Authentication::MicrosoftEntra(EntraCredential::Default { client_id: None })
        ));
    }

    #[test]
    fn identity_based_mistakes_name_the_setting() {
        let uri = ("AzureSignalRConnectionString__serviceUri", "https://a");
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("AzureSignalRConnectionString__serviceUri", "a.service.signalr.net")],
                "AzureSignalRConnectionString__serviceUri",
            ),
            (
                &[("AzureSignalRConnectionString__clientId", "c")],
                "AzureSignalRConnectionString__clientId",
            ),
            (
                &[uri, ("AzureSignalRConnectionString__credential", "certificate")],
                "AzureSignalRConnectionString__credential",
            ),
            (
                &[uri, ("AzureSignalRConnectionString__tenantId", "t")],
                "AzureSignalRConnectionString__clientSecret",
            ),
            (
                &[uri, ("AzureSignalRConnectionString__clientSecret", "s")],
                "AzureSignalRConnectionString__tenantId",
            ),
            (
                &[uri, ("AzureSignalRConnectionString__type", "tertiary")],
                "AzureSignalRConnectionString__type",
            ),
            (
                &[uri, ("AzureSignalRConnectionString__serverEndpoint", "ftp://x")],
                "AzureSignalRConnectionString__serverEndpoint",
            ),
            (
                &[uri, ("AzureSignalRConnectionString", "Endpoint=https://a;AccessKey=k")],
                "AzureSignalRConnectionString",
            ),
        ];
        for (vars, setting) in cases {
            assert_eq!(error(vars).setting, *setting, "{vars:?}");
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

    #[test]
    fn hubs_and_application_name_are_validated() {
        let config_ok = config(&[
            ("SIGNALR_HUB", "Chat"),
            ("SIGNALR_HUBS", "chat, News"),
            ("SIGNALR_APPLICATION_NAME", "app1"),
        ])
        .unwrap();
        assert_eq!(config_ok.default_hub.as_deref(), Some("Chat"));
        assert_eq!(config_ok.allowed_hubs, Some(vec!["chat".to_owned(), "news".to_owned()]));
        assert_eq!(config_ok.application_name.as_deref(), Some("app1"));
        assert_eq!(error(&[("SIGNALR_HUB", "a/b")]).setting, "SIGNALR_HUB");
        assert_eq!(error(&[("SIGNALR_HUBS", "chat,a&b")]).setting, "SIGNALR_HUBS");
        let e = error(&[("SIGNALR_HUB", "other"), ("SIGNALR_HUBS", "chat")]);
        assert_eq!(e.message, "is not one of the hubs listed in SIGNALR_HUBS");
        assert_eq!(
            error(&[("SIGNALR_APPLICATION_NAME", "my-app")]).setting,
            "SIGNALR_APPLICATION_NAME"
        );
    }

    #[test]
    fn route_prefix_is_trimmed_and_checked() {
        assert_eq!(
            config(&[("SIGNALR_ROUTE_PREFIX", "/signalr/")]).unwrap().route_prefix,
            "signalr"
        );
        assert_eq!(config(&[("SIGNALR_ROUTE_PREFIX", "")]).unwrap().route_prefix, "");
        assert_eq!(
            config(&[("SIGNALR_ROUTE_PREFIX", "v1/api")]).unwrap().route_prefix,
            "v1/api"
        );
        for bad in ["{hub}", "a//b", "a b", "*rest"] {
            assert_eq!(
                error(&[("SIGNALR_ROUTE_PREFIX", bad)]).setting,
                "SIGNALR_ROUTE_PREFIX",
                "{bad}"
            );
        }
    }

    #[test]
    fn host_is_lambda_then_functions_then_local() {
        assert_eq!(
            config(&[
                ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
                ("FUNCTIONS_CUSTOMHANDLER_PORT", "1")
            ])
            .unwrap()
            .host,
            Host::Lambda
        );
        assert_eq!(
            config(&[
                ("FUNCTIONS_CUSTOMHANDLER_PORT", "40001"),
                ("SIGNALR_LISTEN", "0.0.0.0:1")
            ])
            .unwrap()
            .host,
            Host::Functions("127.0.0.1:40001".parse().unwrap())
        );
        assert_eq!(
            config(&[("SIGNALR_LISTEN", "0.0.0.0:8080")]).unwrap().host,
            Host::Local("0.0.0.0:8080".parse().unwrap())
        );
        assert_eq!(
            error(&[("FUNCTIONS_CUSTOMHANDLER_PORT", "http")]).setting,
            "FUNCTIONS_CUSTOMHANDLER_PORT"
        );
        assert_eq!(error(&[("SIGNALR_LISTEN", "localhost")]).setting, "SIGNALR_LISTEN");
    }
}
