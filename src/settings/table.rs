//! Every setting, declared once: its name, its default and one line of help. Settings are read
//! only through these declarations (see [`super::Environment`]); `--help` is written from this
//! table, `check` prints the settings in effect from it, and a test holds the README's
//! settings table to it.

use DefaultValue::{Described, None as Unset, Value};

use super::environment::normalise;
pub use super::setting::{DefaultValue, Setting};
use super::setting::{secret, setting};
pub use hosts::*;
pub use webpubsub::*;

mod hosts;
mod webpubsub;

// The names a connection string is read from, after the SDK and the Functions binding:
// `Azure:SignalR:ConnectionString` is the SDK's `Constants.Keys.ConnectionStringDefaultKey`,
// `ConnectionStrings:Azure:SignalR:ConnectionString` its `ConnectionStringSecondaryKey`
// (Azure/azure-signalr, src/Microsoft.Azure.SignalR.Common/Constants.cs), and
// `AzureSignalRConnectionString` the binding's default `ConnectionStringSetting`
// (`Constants.AzureSignalRConnectionStringName`), which the binding reads as
// `GetConnectionString(key) ?? configuration[key]` (Azure/azure-sdk-for-net,
// Microsoft.Azure.WebJobs.Extensions.SignalRService, Config/OptionsSetup.cs). Core Tools'
// `func start` passes local.settings.json's ConnectionStrings section to the process as
// `ConnectionStrings:<name>` variables (Azure/azure-functions-core-tools,
// StartHostAction.GetConfigurationSettings); App Service passes the portal's connection strings
// of type Custom as `CUSTOMCONNSTR_<name>`, which .NET reads as `ConnectionStrings:<name>`.
pub const CONNECTION_STRING: Setting = secret(
    "AzureSignalRConnectionString",
    "connection string (the Functions binding's name); an arn:aws:secretsmanager:... or arn:aws:ssm:...:parameter/... \
    value is read from AWS at start",
);
pub const FUNCTIONS_CONNECTION_STRINGS: Setting = secret(
    "ConnectionStrings__AzureSignalRConnectionString",
    "the same, from a ConnectionStrings section (local.settings.json) or App Service's Connection strings \
    (CUSTOMCONNSTR_AzureSignalRConnectionString); all names set must be equal",
);
pub const ASPNET_CONNECTION_STRING: Setting = secret(
    "Azure__SignalR__ConnectionString",
    "the same, ASP.NET name (the SDK's ConnectionStringDefaultKey)",
);
pub const ASPNET_CONNECTION_STRINGS: Setting = secret(
    "ConnectionStrings__Azure__SignalR__ConnectionString",
    "the same, the SDK's ConnectionStringSecondaryKey (CUSTOMCONNSTR_Azure__SignalR__ConnectionString in App Service)",
);
pub const CONNECTION_STRING_SETTING: Setting = setting(
    "SIGNALR_CONNECTION_STRING_SETTING",
    Value("AzureSignalRConnectionString"),
    "the setting that holds the connection string, as the Functions binding's ConnectionStringSetting: <name>, \
    ConnectionStrings__<name> (CUSTOMCONNSTR_<name>) or <name>__serviceUri are read instead of \
    AzureSignalRConnectionString",
);
pub const SERVICE_URI: Setting = secret(
    "AzureSignalRConnectionString__serviceUri",
    "identity-based endpoint (Microsoft Entra ID), with __credential, __clientId, __tenantId, __clientSecret, \
    __clientEndpoint, __serverEndpoint, __type",
);
pub const NAMED_ENDPOINTS: Setting = secret(
    "Azure__SignalR__Endpoints__<name>[__primary|__secondary]",
    "a named endpoint's connection string (several instances); or __<name>__serviceUri and the other identity-based \
    keys",
);
pub const NAMED_CONNECTION_STRINGS: Setting = secret(
    "Azure__SignalR__ConnectionString__<name>[__primary|__secondary]",
    "a named endpoint's connection string, ASP.NET form",
);
pub const NAMED_CONNECTION_STRINGS_SECTION: Setting = secret(
    "ConnectionStrings__Azure__SignalR__ConnectionString__<name>[__primary|__secondary]",
    "the same, from a ConnectionStrings section or App Service's Connection strings \
    (CUSTOMCONNSTR_Azure__SignalR__ConnectionString__<name>)",
);
pub const ENTRA_MODE: Setting = setting(
    "SIGNALR_ENTRA_MODE",
    Value("generate-token"),
    "generate-token (the service makes tokens) or access-key (sign locally with a temporary key)",
);
pub const ENTRA_SCOPE: Setting = setting(
    "SIGNALR_ENTRA_SCOPE",
    Described("from Endpoint"),
    "scope of Microsoft Entra tokens for the service (ending in /.default), instead of the one the cloud of Endpoint \
    implies",
);
pub const AUTHORITY_HOST: Setting = setting(
    "AZURE_AUTHORITY_HOST",
    Described("from Endpoint"),
    "Microsoft Entra authority (https://host), instead of the one the cloud of Endpoint implies; the Azure SDKs' \
    variable",
);
// What the chain of `AuthType=azure` consults, under the Azure SDKs' names
// (azure_identity's WorkloadIdentityCredential, ManagedIdentityCredential and the
// EnvironmentCredential of Azure/azure-sdk-for-net, sdk/identity/Azure.Identity).
pub const FEDERATED_TOKEN_FILE: Setting = setting(
    "AZURE_FEDERATED_TOKEN_FILE",
    Unset,
    "AuthType=azure: the token file of workload identity (set by AKS), with AZURE_TENANT_ID and AZURE_CLIENT_ID",
);
pub const IDENTITY_ENDPOINT: Setting = setting(
    "IDENTITY_ENDPOINT",
    Unset,
    "AuthType=azure: set where a managed identity is offered (App Service, Functions, Container Apps)",
);
pub const CLIENT_ID: Setting = setting(
    "AZURE_CLIENT_ID",
    Unset,
    "AuthType=azure: the client of workload identity and of a client secret; the managed identity's, without ClientId",
);
pub const TENANT_ID: Setting = setting(
    "AZURE_TENANT_ID",
    Unset,
    "AuthType=azure: the tenant of workload identity and of a client secret",
);
pub const CLIENT_SECRET: Setting = secret(
    "AZURE_CLIENT_SECRET",
    "AuthType=azure: a client secret, with AZURE_TENANT_ID and AZURE_CLIENT_ID",
);
pub const UPSTREAM_TIMEOUT_MS: Setting = setting(
    "SIGNALR_UPSTREAM_TIMEOUT_MS",
    Value("3000"),
    "one call to Entra or the service's REST API, in milliseconds",
);
pub const UPSTREAM_DEADLINE_MS: Setting = setting(
    "SIGNALR_UPSTREAM_DEADLINE_MS",
    Value("5000"),
    "all upstream waiting in one negotiate (OIDC keys, Entra token, REST call, retry), in milliseconds",
);
pub const HEALTH_CHECK_INTERVAL_MS: Setting = setting(
    "SIGNALR_HEALTH_CHECK_INTERVAL_MS",
    Value("120000"),
    "time between health probe rounds with several endpoints, in milliseconds",
);
pub const HEALTH_RETRY_MS: Setting = setting(
    "SIGNALR_HEALTH_RETRY_MS",
    Value("3000"),
    "time between a failed health probe and its retry (2 retries, then offline), in milliseconds",
);
pub const SECRET_REFRESH_SECONDS: Setting = setting(
    "SIGNALR_SECRET_REFRESH_SECONDS",
    Value("300"),
    "re-read connection strings kept in Secrets Manager or SSM this often, in seconds; 0 turns it off",
);
pub const ROUTE_PREFIX: Setting = setting(
    "SIGNALR_ROUTE_PREFIX",
    Value("api"),
    "first path segment(s) of the routes; empty serves at the root",
);
pub const HUB: Setting = setting("SIGNALR_HUB", Unset, "hub of /{prefix}/negotiate without ?hub=");
pub const HUBS: Setting = setting("SIGNALR_HUBS", Unset, "comma list: the only hubs served");
pub const APPLICATION_NAME: Setting = setting(
    "SIGNALR_APPLICATION_NAME",
    Unset,
    "prefix of hub names in the service ({app}_{hub}), as the SDK's ApplicationName",
);
pub const TOKEN_LIFETIME_SECONDS: Setting = setting(
    "SIGNALR_TOKEN_LIFETIME_SECONDS",
    Value("3600"),
    "lifetime of client tokens, 1 to 86400 seconds",
);
pub const UNIQUE_CLAIM: Setting = setting(
    "SIGNALR_UNIQUE_CLAIM",
    Value("uniqueToken"),
    "claim carrying a fresh random value per token; empty leaves it out",
);
pub const CLOSE_ON_AUTH_EXPIRATION: Setting = setting(
    "SIGNALR_CLOSE_ON_AUTH_EXPIRATION",
    Value("false"),
    "true: the service closes a connection when the caller's login ends (asrs.s.coae, asrs.s.aeo); not in \
    generate-token mode",
);
pub const ENABLE_DETAILED_ERRORS: Setting = setting(
    "SIGNALR_ENABLE_DETAILED_ERRORS",
    Value("false"),
    "true: clients get detailed hub errors (asrs.s.derror); not in generate-token mode",
);
pub const HANDSHAKE_TIMEOUT_SECONDS: Setting = setting(
    "SIGNALR_HANDSHAKE_TIMEOUT_SECONDS",
    Value("15"),
    "the service's handshake timeout for clients, 1 to 30 seconds (asrs.s.cht); not in generate-token mode",
);
pub const MAX_POLL_INTERVAL_SECONDS: Setting = setting(
    "SIGNALR_MAX_POLL_INTERVAL_SECONDS",
    Unset,
    "longest wait between a long-polling client's polls, 1 to 300 seconds (asrs.s.ttl); not in generate-token mode",
);
pub const TRANSPORTS: Setting = setting(
    "SIGNALR_TRANSPORTS",
    Described("all"),
    "comma list of the transports clients may use: WebSockets, ServerSentEvents, LongPolling (asrs.s.htt); not in \
    generate-token mode",
);
pub const AUTH: Setting = setting(
    "SIGNALR_AUTH",
    Value("anonymous"),
    "identity sources, in order: app-service, api-gateway, oidc, anonymous",
);
pub const AUTH_REQUIRED: Setting = setting(
    "SIGNALR_AUTH_REQUIRED",
    Value("false"),
    "true: 401 unless the caller has one user id",
);
pub const OIDC_ISSUER: Setting = setting(
    "SIGNALR_OIDC_ISSUER",
    Unset,
    "OIDC issuer (https; http only on loopback); required with oidc",
);
pub const OIDC_AUDIENCE: Setting = setting(
    "SIGNALR_OIDC_AUDIENCE",
    Unset,
    "audience the bearer tokens must carry; required with oidc",
);
pub const OIDC_JWKS_URI: Setting = setting(
    "SIGNALR_OIDC_JWKS_URI",
    Described("discovery"),
    "JWKS URL, to skip {issuer}/.well-known/openid-configuration",
);
pub const USER_ID_CLAIM: Setting = setting("SIGNALR_USER_ID_CLAIM", Value("sub"), "claim holding the user id");
pub const COPY_CLAIMS: Setting = setting(
    "SIGNALR_COPY_CLAIMS",
    Unset,
    "comma list of caller claims copied into tokens",
);
pub const CLAIMS: Setting = setting(
    "SIGNALR_CLAIMS",
    Unset,
    "JSON object of fixed claims added to every token",
);
pub const DEV_QUERY_USER: Setting = setting(
    "SIGNALR_DEV_QUERY_USER",
    Value("false"),
    "development only: user id from ?userId=",
);
pub const DIAGNOSTIC_CLIENTS: Setting = setting(
    "SIGNALR_DIAGNOSTIC_CLIENTS",
    Unset,
    "comma list of claim:value; a caller with one may ask ?diagnostic=true (asrs.s.dc); not in generate-token mode",
);
pub const WEBSITE_AUTH_ENABLED: Setting = setting(
    "WEBSITE_AUTH_ENABLED",
    Unset,
    "set by App Service when its authentication is on; app-service requires True",
);
pub const CORS_ORIGINS: Setting = setting(
    "SIGNALR_CORS_ORIGINS",
    Unset,
    "comma list of browser origins allowed to negotiate (CORS with credentials; https://*.example.com for every \
    subdomain)",
);
pub const LISTEN: Setting = setting(
    "SIGNALR_LISTEN",
    Value("127.0.0.1:7071"),
    "address of the local server (0.0.0.0:PORT in a container)",
);
pub const HEADER_TIMEOUT_MS: Setting = setting(
    "SIGNALR_HEADER_TIMEOUT_MS",
    Value("10000"),
    "local and Functions hosts: time to send a request's line and headers, from when the connection opens or its last \
    answer went out (so also the idle keep-alive timeout), in milliseconds",
);
pub const BODY_TIMEOUT_MS: Setting = setting(
    "SIGNALR_BODY_TIMEOUT_MS",
    Value("10000"),
    "time to receive a request's whole body, in milliseconds (408 after it)",
);
pub const WRITE_TIMEOUT_MS: Setting = setting(
    "SIGNALR_WRITE_TIMEOUT_MS",
    Value("10000"),
    "local and Functions hosts: time an answer has to reach a client that stops reading, from when a write first has \
    to wait, in milliseconds; past it, the connection is closed",
);
pub const MAX_CONNECTIONS: Setting = setting(
    "SIGNALR_MAX_CONNECTIONS",
    Value("512"),
    "local and Functions hosts: connections held open at once; at the cap, a new one displaces the oldest that has \
    sent no complete request (or is idle, or is not reading its answer); above three quarters of it, connections are \
    not kept alive",
);
pub const FIRST_BYTE_TIMEOUT_MS: Setting = setting(
    "SIGNALR_FIRST_BYTE_TIMEOUT_MS",
    Value("1000"),
    "local and Functions hosts: above three quarters of SIGNALR_MAX_CONNECTIONS, and after SIGTERM, time a new \
    connection has to send its first byte, in milliseconds",
);
pub const SHUTDOWN_GRACE_MS: Setting = setting(
    "SIGNALR_SHUTDOWN_GRACE_MS",
    Value("8000"),
    "local and Functions hosts: after SIGTERM or Ctrl-C, time requests in flight get to finish before the connections \
    left are closed, in milliseconds",
);
pub const RUST_LOG: Setting = setting(
    "RUST_LOG",
    Value("info"),
    "log level and filters (warn, off, signalr_negotiate=debug, ...)",
);

/// Every setting, in the order `--help` and the README list them.
pub const TABLE: &[Setting] = &[
    CONNECTION_STRING,
    FUNCTIONS_CONNECTION_STRINGS,
    ASPNET_CONNECTION_STRING,
    ASPNET_CONNECTION_STRINGS,
    CONNECTION_STRING_SETTING,
    SERVICE_URI,
    NAMED_ENDPOINTS,
    NAMED_CONNECTION_STRINGS,
    NAMED_CONNECTION_STRINGS_SECTION,
    WEBPUBSUB_CONNECTION_STRING,
    WEBPUBSUB_FUNCTIONS_CONNECTION_STRINGS,
    WEBPUBSUB_NAMED_ENDPOINTS,
    WEBPUBSUB_CLIENT_PROTOCOL,
    WEBPUBSUB_ROLES,
    WEBPUBSUB_GROUPS,
    WEBPUBSUB_ROLES_FROM_CLAIM,
    ENTRA_MODE,
    ENTRA_SCOPE,
    WEBPUBSUB_ENTRA_SCOPE,
    AUTHORITY_HOST,
    FEDERATED_TOKEN_FILE,
    IDENTITY_ENDPOINT,
    CLIENT_ID,
    TENANT_ID,
    CLIENT_SECRET,
    UPSTREAM_TIMEOUT_MS,
    UPSTREAM_DEADLINE_MS,
    HEALTH_CHECK_INTERVAL_MS,
    HEALTH_RETRY_MS,
    SECRET_REFRESH_SECONDS,
    ROUTE_PREFIX,
    HUB,
    HUBS,
    APPLICATION_NAME,
    TOKEN_LIFETIME_SECONDS,
    UNIQUE_CLAIM,
    CLOSE_ON_AUTH_EXPIRATION,
    ENABLE_DETAILED_ERRORS,
    HANDSHAKE_TIMEOUT_SECONDS,
    MAX_POLL_INTERVAL_SECONDS,
    TRANSPORTS,
    AUTH,
    AUTH_REQUIRED,
    OIDC_ISSUER,
    OIDC_AUDIENCE,
    OIDC_JWKS_URI,
    USER_ID_CLAIM,
    COPY_CLAIMS,
    CLAIMS,
    DEV_QUERY_USER,
    DIAGNOSTIC_CLIENTS,
    WEBSITE_AUTH_ENABLED,
    CORS_ORIGINS,
    LISTEN,
    HEADER_TIMEOUT_MS,
    BODY_TIMEOUT_MS,
    WRITE_TIMEOUT_MS,
    MAX_CONNECTIONS,
    FIRST_BYTE_TIMEOUT_MS,
    SHUTDOWN_GRACE_MS,
    FUNCTIONS_PORT,
    WEBSITE_INSTANCE_ID,
    LAMBDA_RUNTIME_API,
    LAMBDA_FUNCTION_NAME,
    LAMBDA_FUNCTION_VERSION,
    LAMBDA_FUNCTION_MEMORY_SIZE,
    IGNORE_STAGE_IN_PATH,
    RUST_LOG,
];

/// Whether the function reads a variable of this (normalised) name: a declared setting, a key
/// of a named family (`…__<name>…`), or a key of an identity-based form
/// (`AzureSignalRConnectionString__serviceUri`, `WebPubSubConnectionString__serviceUri` and
/// their siblings).
pub fn is_read(normalised: &str) -> bool {
    let identity_based = |binding: &str| normalised.starts_with(&normalise(&format!("{binding}__")));
    identity_based(CONNECTION_STRING.name)
        || identity_based(WEBPUBSUB_CONNECTION_STRING.name)
        || TABLE.iter().any(|setting| {
            let name = normalise(setting.name);
            match name.find("<name>") {
                Some(at) => normalised.starts_with(&name[..at]),
                None => normalised == name,
            }
        })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn names_are_unique_and_help_is_one_line() {
        let mut seen = HashSet::new();
        for setting in TABLE {
            assert!(
                seen.insert(super::super::environment::normalise(setting.name)),
                "{} twice",
                setting.name
            );
            assert!(
                !setting.help.is_empty() && !setting.help.contains('\n'),
                "{}",
                setting.name
            );
        }
    }

    #[test]
    fn the_settings_read_are_the_declared_ones_and_their_families() {
        for read in [
            "signalr_auth_required",
            "azuresignalrconnectionstring",
            "azuresignalrconnectionstring__serviceuri",
            "azuresignalrconnectionstring__clientid",
            "azure__signalr__connectionstring",
            "azure__signalr__connectionstring__east__primary",
            "azure__signalr__endpoints__west",
            "connectionstrings__azuresignalrconnectionstring",
            "connectionstrings__azure__signalr__connectionstring",
            "connectionstrings__azure__signalr__connectionstring__east__secondary",
            "webpubsubconnectionstring",
            "webpubsubconnectionstring__serviceuri",
            "connectionstrings__webpubsubconnectionstring",
            "azure__webpubsub__endpoints__east__secondary",
            "webpubsub_roles",
            "rust_log",
        ] {
            assert!(is_read(read), "{read}");
        }
        for other in [
            "path",
            "http_proxy",
            "signalr_unknown",
            "azuresignalrconnectionstringx",
            "azure__signalr",
        ] {
            assert!(!is_read(other), "{other}");
        }
    }

    /// The README's settings table lists exactly these settings, with these defaults.
    #[test]
    fn the_readme_table_matches() {
        let readme = include_str!("../../README.md");
        let section = readme
            .split("\n## Settings\n")
            .nth(1)
            .and_then(|rest| rest.split("\n## ").next())
            .expect("README has a Settings section");
        let mut rows = Vec::new();
        for line in section.lines().filter(|line| line.starts_with("| `")) {
            let cells: Vec<String> = line
                .replace("\\|", "\u{1}")
                .split('|')
                .map(|cell| cell.trim().replace('\u{1}', "|"))
                .collect();
            rows.push((cells[1].trim_matches('`').to_owned(), cells[2].clone()));
        }
        let documented: Vec<(String, String)> = TABLE
            .iter()
            .map(|setting| {
                let default = match setting.default {
                    DefaultValue::None => "—".to_owned(),
                    DefaultValue::Value(value) => format!("`{value}`"),
                    DefaultValue::Described(words) => words.to_owned(),
                };
                (setting.name.to_owned(), default)
            })
            .collect();
        for row in &rows {
            assert!(
                documented.contains(row),
                "README row {row:?} is not in the settings table"
            );
        }
        for setting in &documented {
            assert!(rows.contains(setting), "the README's settings table lacks {setting:?}");
        }
    }
}
