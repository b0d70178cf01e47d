//! Settings, read once from the environment at start.
//!
//! Every setting is declared once in [`table`]. Every mistake is found here, before the first
//! request, and reported with the name of the setting at fault; a value is never echoed,
//! since connection strings hold keys. The domain types built here ([`ServiceEndpoint`],
//! [`TokenPolicy`], [`CallerPolicy`], …) are what the composition root assembles.

mod aws_http;
pub mod aws_refresh;
pub mod aws_secrets;
mod caller;
mod connection_names;
mod endpoints;
mod environment;
mod references;
mod serving;
pub mod table;
mod tokens;
mod upstream;

use crate::caller::{CallerPolicy, OidcSettings};
use crate::endpoints::{HealthSchedule, ServiceEndpoint};
use crate::entra::EntraOverrides;
use crate::hub::HubName;
use crate::service::UpstreamLimits;
use crate::tokens::{EntraMode, TokenPolicy};
use crate::url_rules::AllowedOrigin;

pub use environment::{Environment, SettingError};
pub use serving::{ConnectionLimits, Host};

/// Everything the function is configured with.
#[derive(Debug)]
pub struct Settings {
    /// The SignalR instances, in configuration order.
    pub endpoints: Vec<ServiceEndpoint>,
    /// Route prefix without leading or trailing `/` (`api` by default; may be empty).
    pub route_prefix: String,
    /// Hub for `/{prefix}/negotiate` without `?hub=`.
    pub default_hub: Option<HubName>,
    /// When set, the only hubs served (lower-case).
    pub allowed_hubs: Option<Vec<String>>,
    /// `SIGNALR_APPLICATION_NAME`: prefix of hub names in the service.
    pub application_name: Option<String>,
    /// Lifetime and unique claim of every token.
    pub token_policy: TokenPolicy,
    /// How Entra endpoints get client tokens.
    pub entra_mode: EntraMode,
    /// The Entra scope and authority the settings give instead of each endpoint's cloud.
    pub entra: EntraOverrides,
    /// Bounds on calls to Entra and the service's REST API.
    pub upstream: UpstreamLimits,
    /// When health probes run, and their retries (with more than one endpoint).
    pub health: HealthSchedule,
    /// How often connection strings read from AWS are read again; `None`: never.
    pub secret_refresh: Option<std::time::Duration>,
    /// Browser origins allowed to call negotiate (`SIGNALR_CORS_ORIGINS`); `None` turns CORS off.
    pub cors_origins: Option<Vec<AllowedOrigin>>,
    /// Where the caller's identity comes from, and which claims reach the token.
    pub caller: CallerPolicy,
    /// The OIDC provider, when `oidc` is a source.
    pub oidc: Option<OidcSettings>,
    /// Where the binary serves from.
    pub host: Host,
    /// Timeouts and the connection cap of the HTTP hosts.
    pub connections: ConnectionLimits,
    /// `RUST_LOG`, when set.
    pub log_filter: Option<String>,
    /// Things to log once logging is up (the settings are read before).
    pub warnings: Vec<String>,
}

impl Settings {
    /// Reads settings from `(name, value)` pairs (a test's own, or the environment's).
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Result<Self, SettingError> {
        let env = Environment::new(vars);
        Self::from_environment(&env, Host::detect(&env)?)
    }

    /// Reads settings from the environment, for a host already detected.
    pub fn from_environment(env: &Environment, host: Host) -> Result<Self, SettingError> {
        env.unambiguous()?;
        references::refuse_unresolved(env)?;
        let mut warnings = Vec::new();
        let endpoints = endpoints::endpoints(env, host, &mut warnings)?;
        let hubs = serving::hubs(env)?;
        let entra_mode = upstream::entra_mode(env, &endpoints, &mut warnings)?;
        let token_policy = tokens::token_policy(env, endpoints.len())?;
        let (caller, oidc) = caller::caller(env, token_policy.unique_claim.as_deref(), host, &mut warnings)?;
        Ok(Self {
            endpoints,
            route_prefix: serving::route_prefix(env)?,
            default_hub: hubs.default_hub,
            allowed_hubs: hubs.allowed_hubs,
            application_name: hubs.application_name,
            token_policy,
            entra_mode,
            entra: upstream::entra_overrides(env)?,
            upstream: upstream::upstream_limits(env)?,
            health: upstream::health_schedule(env)?,
            secret_refresh: aws_secrets::refresh_period(env)?,
            cors_origins: serving::cors_origins(env)?,
            caller,
            oidc,
            host,
            connections: serving::connection_limits(env)?,
            log_filter: env.value(&table::RUST_LOG).map(str::to_owned),
            warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::endpoints::{Authentication, EndpointType, EntraCredential};

    const KEY: &str = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvu";

    fn config(vars: &[(&str, &str)]) -> Result<Settings, SettingError> {
        Settings::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    fn error(vars: &[(&str, &str)]) -> SettingError {
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
        assert_eq!(
            config.health,
            HealthSchedule {
                interval: Duration::from_secs(120),
                retry_spacing: Duration::from_secs(3),
            },
            "the SDK's CheckInterval and RetryInterval"
        );
        assert_eq!(config.host, Host::Local("127.0.0.1:7071".parse().unwrap()));
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
    fn the_platforms_names_are_read_and_must_agree() {
        for name in [
            "ConnectionStrings:AzureSignalRConnectionString",
            "ConnectionStrings__AzureSignalRConnectionString",
            "CUSTOMCONNSTR_AzureSignalRConnectionString",
            "ConnectionStrings:Azure:SignalR:ConnectionString",
            "CUSTOMCONNSTR_Azure__SignalR__ConnectionString",
        ] {
            let config = config(&[(name, &cs())]).unwrap();
            assert!(config.warnings.is_empty(), "{name}: {:?}", config.warnings);
            assert_eq!(config.endpoints.len(), 1, "{name}");
            assert_eq!(config.endpoints[0].source(), name);
            assert_eq!(config.endpoints[0].endpoint_url(), "https://demo.service.signalr.net");
        }
        // All four names, equal: one endpoint, named after the first in the order of precedence.
        let all = config(&[
            ("AzureSignalRConnectionString", &cs()),
            ("CUSTOMCONNSTR_AzureSignalRConnectionString", &cs()),
            ("ConnectionStrings__Azure__SignalR__ConnectionString", &cs()),
            ("Azure:SignalR:ConnectionString", &cs()),
        ])
        .unwrap();
        assert_eq!(all.endpoints.len(), 1);
        assert_eq!(all.endpoints[0].source(), "Azure:SignalR:ConnectionString");
        let other = cs().replace("demo", "other");
        let e = error(&[
            ("AzureSignalRConnectionString", &cs()),
            ("CUSTOMCONNSTR_AzureSignalRConnectionString", &other),
        ]);
        assert_eq!(e.setting, "AzureSignalRConnectionString");
        assert_eq!(
            e.message,
            "differs from CUSTOMCONNSTR_AzureSignalRConnectionString: set the connection string in one of them only"
        );
        // The portal's connection string and the same name in the ConnectionStrings section are
        // one setting: two values are refused as two spellings.
        let e = error(&[
            ("CUSTOMCONNSTR_AzureSignalRConnectionString", &cs()),
            ("ConnectionStrings:AzureSignalRConnectionString", &other),
        ]);
        assert!(e.message.contains("is also set as"), "{e}");
    }

    #[test]
    fn named_endpoints_from_the_connection_strings_section() {
        let got = named(&[
            ("CUSTOMCONNSTR_Azure__SignalR__ConnectionString__East", &cs_for("east")),
            (
                "ConnectionStrings:Azure:SignalR:ConnectionString:west:secondary",
                &cs_for("west"),
            ),
        ]);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got.contains(&(
            "East".to_owned(),
            EndpointType::Primary,
            "https://east.service.signalr.net".to_owned()
        )));
        assert!(got.contains(&(
            "west".to_owned(),
            EndpointType::Secondary,
            "https://west.service.signalr.net".to_owned()
        )));
        let e = error(&[
            ("CUSTOMCONNSTR_Azure__SignalR__ConnectionString__east", &cs_for("east")),
            ("Azure__SignalR__Endpoints__east", &cs_for("east")),
        ]);
        assert!(e.message.contains("configures endpoint east again"), "{e}");
    }

    #[test]
    fn the_binding_setting_chooses_the_connection_string() {
        let chat = cs_for("chat");
        let config = config(&[
            ("SIGNALR_CONNECTION_STRING_SETTING", "ChatSignalR"),
            ("CUSTOMCONNSTR_ChatSignalR", &chat),
            ("AzureSignalRConnectionString", &cs()),
        ])
        .unwrap();
        assert_eq!(config.endpoints.len(), 1);
        assert_eq!(config.endpoints[0].endpoint_url(), "https://chat.service.signalr.net");
        assert_eq!(config.endpoints[0].source(), "CUSTOMCONNSTR_ChatSignalR");
        assert_eq!(
            config.warnings,
            ["AzureSignalRConnectionString is set but not read: SIGNALR_CONNECTION_STRING_SETTING names ChatSignalR"]
        );
        let identity = config_of(&[
            ("SIGNALR_CONNECTION_STRING_SETTING", "ChatSignalR"),
            ("ChatSignalR__serviceUri", "https://chat.service.signalr.net"),
            ("ChatSignalR__credential", "managedidentity"),
        ]);
        assert_eq!(identity.endpoints[0].source(), "ChatSignalR__serviceUri");
        let e = error(&[
            ("SIGNALR_CONNECTION_STRING_SETTING", "ChatSignalR"),
            ("ChatSignalR", &chat),
            ("Azure__SignalR__ConnectionString", &cs()),
        ]);
        assert_eq!(e.setting, "ChatSignalR");
        assert!(
            e.message.contains("differs from Azure__SignalR__ConnectionString"),
            "{e}"
        );
        // The chosen binding's identity-based keys, under two spellings with two values, are
        // refused as the default binding's are.
        let e = error(&[
            ("SIGNALR_CONNECTION_STRING_SETTING", "ChatSignalR"),
            ("ChatSignalR__serviceUri", "https://a.service.signalr.net"),
            ("CHATSIGNALR__SERVICEURI", "https://b.service.signalr.net"),
        ]);
        assert!(e.message.contains("is also set as"), "{e}");
        assert!(!e.to_string().contains("service.signalr.net"), "{e}");
    }

    fn config_of(vars: &[(&str, &str)]) -> Settings {
        config(vars).unwrap()
    }

    /// The emulator's published key signs nothing on Lambda or in a deployed Function App:
    /// no connection string stops the start there, naming what was looked for.
    #[test]
    fn deployed_hosts_never_fall_back_to_the_emulator() {
        for host in [
            &[("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")][..],
            &[
                ("FUNCTIONS_CUSTOMHANDLER_PORT", "7000"),
                ("WEBSITE_INSTANCE_ID", "a1b2"),
            ][..],
        ] {
            let e = error(host);
            assert_eq!(e.setting, "AzureSignalRConnectionString", "{host:?}");
            for looked_for in [
                "AzureSignalRConnectionString (or CUSTOMCONNSTR_AzureSignalRConnectionString)",
                "Azure__SignalR__ConnectionString",
                "AzureSignalRConnectionString__serviceUri",
                "Azure__SignalR__Endpoints__<name>",
                "the local emulator's default is served only on a local server and under func start",
            ] {
                assert!(e.message.contains(looked_for), "{host:?}: {e}");
            }
            let mut named = host.to_vec();
            named.push(("SIGNALR_CONNECTION_STRING_SETTING", "Mine"));
            let e = error(&named);
            assert_eq!(e.setting, "Mine", "{host:?}");
            assert!(e.message.starts_with("is not set"), "{e}");
            assert!(e.message.contains("Mine (or CUSTOMCONNSTR_Mine)"), "{e}");
        }
        assert!(
            error(&[("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")])
                .message
                .contains("on AWS Lambda")
        );
        // Core Tools' func start (no WEBSITE_INSTANCE_ID) is development: the emulator, warned.
        let func_start = config_of(&[("FUNCTIONS_CUSTOMHANDLER_PORT", "7000")]);
        assert_eq!(func_start.endpoints[0].source(), "(emulator default)");
        assert!(func_start.warnings[0].contains("emulator"), "{:?}", func_start.warnings);
    }

    /// A setting's value that is not text is refused by name; it used to be skipped, and the
    /// emulator's default served in its place.
    #[cfg(unix)]
    #[test]
    fn a_value_that_is_not_text_is_refused_by_name() {
        use std::ffi::OsString;
        use std::os::unix::ffi::OsStringExt as _;
        let not_text = OsString::from_vec(b"Endpoint=https://a;AccessKey=\xff\xfe".to_vec());
        for name in [
            "AzureSignalRConnectionString",
            "CUSTOMCONNSTR_AzureSignalRConnectionString",
            "Azure__SignalR__Endpoints__east",
            "SIGNALR_HUB",
        ] {
            let env = Environment::from_os([(OsString::from(name), not_text.clone())]);
            let e = Host::detect(&env).unwrap_err();
            assert_eq!(e.setting, name);
            assert!(e.message.starts_with("is not valid UTF-8 text"), "{e}");
            assert!(!e.to_string().contains("AccessKey"), "{e}");
        }
        // The name SIGNALR_CONNECTION_STRING_SETTING chooses is checked too.
        let env = Environment::from_os([
            (
                OsString::from("SIGNALR_CONNECTION_STRING_SETTING"),
                OsString::from("Mine"),
            ),
            (OsString::from("Mine"), not_text.clone()),
        ]);
        let host = Host::detect(&env).unwrap();
        assert_eq!(Settings::from_environment(&env, host).unwrap_err().setting, "Mine");
        // Variables the function does not read are none of its business, whatever it reads.
        let env = Environment::from_os([(OsString::from("LESSOPEN"), not_text.clone())]);
        assert!(Host::detect(&env).is_ok());
        let cs = cs();
        let env = Environment::from_os([
            (OsString::from("LESSOPEN"), not_text),
            (
                OsString::from("SIGNALR_CONNECTION_STRING_SETTING"),
                OsString::from("Mine"),
            ),
            (OsString::from("Mine"), OsString::from(&cs)),
        ]);
        let host = Host::detect(&env).unwrap();
        assert!(Settings::from_environment(&env, host).is_ok());
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
    fn entra_connection_strings_are_accepted_and_an_unreadable_certificate_refused_at_start() {
        let msi = config(&[(
            "AzureSignalRConnectionString",
            "Endpoint=https://a.service.signalr.net;AuthType=azure.msi;Version=1.0",
        )])
        .unwrap();
        assert!(matches!(
            msi.endpoints[0].auth(),
            Authentication::MicrosoftEntra(EntraCredential::ManagedIdentity { client_id: None })
        ));
        assert_eq!(msi.entra_mode, EntraMode::GenerateToken);
        let settings = config(&[(
            "AzureSignalRConnectionString",
            "Endpoint=https://a;AuthType=azure.app;ClientId=c;TenantId=t;ClientCert=/c.pem",
        )])
        .unwrap();
        let Err(crate::startup::StartupError::Setting(e)) = crate::startup::App::new(&settings) else {
            panic!("a certificate file that cannot be read should stop the start");
        };
        assert_eq!(e.setting, "AzureSignalRConnectionString");
        assert_eq!(
            e.message,
            "ClientCert (ClientCertPath) in the connection string: the certificate file could not be read (entity not found)"
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

    #[test]
    fn cors_origins_are_read_as_origins() {
        assert_eq!(config(&[]).unwrap().cors_origins, None);
        assert_eq!(
            config(&[("SIGNALR_CORS_ORIGINS", "https://App.example.com, http://localhost:8080")])
                .unwrap()
                .cors_origins,
            Some(vec![
                AllowedOrigin::Exact("https://app.example.com".to_owned()),
                AllowedOrigin::Exact("http://localhost:8080".to_owned())
            ])
        );
        assert_eq!(
            config(&[("SIGNALR_CORS_ORIGINS", "https://*.Contoso.com:8443")])
                .unwrap()
                .cors_origins,
            Some(vec![AllowedOrigin::Subdomains {
                prefix: "https://".to_owned(),
                suffix: ".contoso.com:8443".to_owned()
            }])
        );
        for bad in [
            "*",
            "https://a.example.com/path",
            "https://a.example.com,ftp://b",
            "https://a.*.zz-wildcard.com",
            "https://*zz-wildcard.com",
            "https://*.zz-wildcard",
        ] {
            let refusal = error(&[("SIGNALR_CORS_ORIGINS", bad)]);
            assert_eq!(refusal.setting, "SIGNALR_CORS_ORIGINS", "{bad}");
            assert!(!refusal.to_string().contains("zz-wildcard"), "{refusal}");
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
        // `{app}_{hub}` is the service's hub name: 128 characters leave 126 for the application.
        let longest = "a".repeat(126);
        assert_eq!(
            config(&[("SIGNALR_APPLICATION_NAME", &longest)])
                .unwrap()
                .application_name
                .as_deref(),
            Some(longest.as_str())
        );
        let e = error(&[("SIGNALR_APPLICATION_NAME", &"a".repeat(127))]);
        assert_eq!(e.setting, "SIGNALR_APPLICATION_NAME");
        assert!(e.message.contains("at most 126"), "{e}");
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
    fn connection_limits_have_safe_defaults_and_ranges() {
        assert_eq!(
            config(&[]).unwrap().connections,
            ConnectionLimits {
                header_timeout: Duration::from_secs(10),
                body_timeout: Duration::from_secs(10),
                max_connections: 512,
                shutdown_grace: Duration::from_secs(8),
            }
        );
        let set = config(&[
            ("SIGNALR_HEADER_TIMEOUT_MS", "250"),
            ("SIGNALR_BODY_TIMEOUT_MS", "300"),
            ("SIGNALR_MAX_CONNECTIONS", "8"),
            ("SIGNALR_SHUTDOWN_GRACE_MS", "0"),
        ])
        .unwrap()
        .connections;
        assert_eq!(set.header_timeout, Duration::from_millis(250));
        assert_eq!(set.body_timeout, Duration::from_millis(300));
        assert_eq!(set.max_connections, 8);
        assert_eq!(set.shutdown_grace, Duration::ZERO);
        for (setting, bad) in [
            ("SIGNALR_HEADER_TIMEOUT_MS", "0"),
            ("SIGNALR_HEADER_TIMEOUT_MS", "99"),
            ("SIGNALR_BODY_TIMEOUT_MS", "600001"),
            ("SIGNALR_MAX_CONNECTIONS", "0"),
            ("SIGNALR_MAX_CONNECTIONS", "many"),
            ("SIGNALR_SHUTDOWN_GRACE_MS", "-1"),
        ] {
            assert_eq!(error(&[(setting, bad)]).setting, setting, "{bad}");
        }
    }

    #[test]
    fn host_is_lambda_then_functions_then_local() {
        assert_eq!(
            config(&[
                ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
                ("FUNCTIONS_CUSTOMHANDLER_PORT", "1"),
                ("AzureSignalRConnectionString", &cs()),
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
            Host::Functions {
                addr: "127.0.0.1:40001".parse().unwrap(),
                deployed: false,
            }
        );
        let deployed = config(&[
            ("FUNCTIONS_CUSTOMHANDLER_PORT", "40001"),
            ("WEBSITE_INSTANCE_ID", "a1b2c3"),
            ("AzureSignalRConnectionString", &cs()),
        ])
        .unwrap()
        .host;
        assert!(deployed.is_deployed(), "{deployed:?}");
        assert!(Host::Lambda.is_deployed());
        assert!(!Host::Local("127.0.0.1:1".parse().unwrap()).is_deployed());
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
