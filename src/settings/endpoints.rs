//! Where endpoints come from: the unnamed connection string (four names, see
//! `connection_names`), the named forms (`Azure__SignalR__Endpoints__<name>…`,
//! `[ConnectionStrings__]Azure__SignalR__ConnectionString__<name>…`), the Functions
//! identity-based form (`…__serviceUri` and friends), and, with nothing set, the local
//! emulator's default — on the local server and Core Tools only: on Lambda and on a deployed
//! Function App, nothing set stops the start. Endpoints with the same `Endpoint` URL collapse
//! (a primary wins).

use super::connection_names::ConnectionNames;
use super::environment::{Environment, SettingError, fail, spelled};
use super::identity_based::{IDENTITY_KEYS, endpoint_type, identity_based_endpoint};
use super::serving::Host;
use super::table::{CONNECTION_STRING, FUNCTIONS_CONNECTION_STRINGS};
use crate::endpoints::{ConnectionString, EndpointType, ServiceEndpoint};
use crate::product::Service;

/// The local emulator's well-known connection string, served when nothing is configured.
pub const EMULATOR_CONNECTION_STRING: &str =
    "Endpoint=http://localhost;Port=8999;AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;";

/// Every configured endpoint of each service: SignalR's and Web PubSub's.
#[derive(Debug)]
pub(super) struct Endpoints {
    /// Azure SignalR's, in configuration order; empty when only Web PubSub is configured.
    pub signalr: Vec<ServiceEndpoint>,
    /// Azure Web PubSub's, in configuration order; often empty.
    pub webpubsub: Vec<ServiceEndpoint>,
}

/// Every configured endpoint. With none of either service: on Lambda and on a deployed
/// Function App, a refusal naming what was looked for (the emulator's published key would sign
/// tokens no service accepts, and anyone could sign); elsewhere SignalR's local emulator's
/// default, with a warning.
pub(super) fn endpoints(env: &Environment, host: Host, warnings: &mut Vec<String>) -> Result<Endpoints, SettingError> {
    let [signalr_names, webpubsub_names] = ConnectionNames::both(env)?;
    if !signalr_names.is_default() {
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
                signalr_names.binding
            ));
        }
    }
    let mut signalr = configured(env, &signalr_names, warnings)?;
    let webpubsub = configured(env, &webpubsub_names, warnings)?;
    if signalr.is_empty() && webpubsub.is_empty() {
        let (host_name, looked_for) = (
            match host {
                Host::Lambda => "on AWS Lambda",
                _ => "in a Function App in Azure (WEBSITE_INSTANCE_ID is set)",
            },
            signalr_names.looked_for(),
        );
        if host.is_deployed() {
            return fail(
                &signalr_names.binding,
                format!(
                    "is not set, nor any other connection string: {host_name} one is required (looked for \
                    {looked_for}; for Azure Web PubSub, {}); the local emulator's default is served only on a local \
                    server and under func start",
                    webpubsub_names.looked_for()
                ),
            );
        }
        warnings.push(format!(
            "no connection string is set (looked for {looked_for}): serving the local emulator's default, \
            Endpoint=http://localhost;Port=8999 — set a connection string for anything but local development"
        ));
        signalr.push(connection_string_endpoint(
            "(emulator default)",
            EMULATOR_CONNECTION_STRING,
            "",
            EndpointType::Primary,
            warnings,
        )?);
    }
    Ok(Endpoints { signalr, webpubsub })
}

/// One service's configured endpoints (none, when nothing names one), the same instance named
/// twice taken once; at least one primary.
fn configured(
    env: &Environment,
    names: &ConnectionNames,
    warnings: &mut Vec<String>,
) -> Result<Vec<ServiceEndpoint>, SettingError> {
    let mut all: Vec<ServiceEndpoint> = unnamed_endpoint(env, names, warnings)?.into_iter().collect();
    all.extend(named_endpoints(env, names, warnings)?);
    if all.is_empty() {
        return Ok(all);
    }
    let all = deduplicate(all, names.service, warnings);
    if !all
        .iter()
        .any(|endpoint| endpoint.endpoint_type() == EndpointType::Primary)
    {
        return fail(
            all[0].source(),
            "no endpoint is primary: at least one endpoint must be primary (secondary ones only take clients when no \
            primary is online)",
        );
    }
    Ok(all)
}

/// The single endpoint without a name: a connection string under one or more of the
/// unnamed names (equal, if several), or `AzureSignalRConnectionString__serviceUri` and
/// friends (the binding's name, if another is chosen).
fn unnamed_endpoint(
    env: &Environment,
    names: &ConnectionNames,
    warnings: &mut Vec<String>,
) -> Result<Option<ServiceEndpoint>, SettingError> {
    let mut chosen: Option<(&str, &str)> = None;
    for setting in &names.unnamed {
        let Some((name, value)) = env.get_raw(setting) else {
            continue;
        };
        if value.trim().is_empty() {
            return fail(
                name,
                format!(
                    "is empty: set it to the connection string of your {} instance, or remove it",
                    names.service.display_name()
                ),
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
                return fail(first, needs_service_uri(prefix, names.service));
            }
        },
        None => None,
    };
    match (chosen, identity_based) {
        (Some((name, _)), Some(_)) => fail(
            name,
            format!(
                "is set together with {prefix}__serviceUri: use the connection string or the identity-based settings, \
                not both"
            ),
        ),
        (None, identity_based) => Ok(identity_based),
        (Some((setting, text)), None) => Ok(Some(connection_string_endpoint(
            setting,
            text,
            "",
            EndpointType::Primary,
            warnings,
        )?)),
    }
}

fn needs_service_uri(prefix: &str, service: Service) -> String {
    format!(
        "needs {prefix}__serviceUri (the https URL of the {} instance)",
        service.display_name()
    )
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
fn named_endpoints(
    env: &Environment,
    names: &ConnectionNames,
    warnings: &mut Vec<String>,
) -> Result<Vec<ServiceEndpoint>, SettingError> {
    let mut groups: Vec<NamedGroup<'_>> = Vec::new();
    for family in names.families() {
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
        endpoints.push(named_endpoint(env, &group, names.service, warnings)?);
    }
    Ok(endpoints)
}

fn named_endpoint(
    env: &Environment,
    group: &NamedGroup<'_>,
    service: Service,
    warnings: &mut Vec<String>,
) -> Result<ServiceEndpoint, SettingError> {
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
            connection_string_endpoint(setting, text, name, *kind, warnings)
        }
        ([], true) => match identity_based_endpoint(env, &prefix, name)? {
            Some(endpoint) => Ok(endpoint),
            None => fail(group.settings[0], needs_service_uri(&prefix, service)),
        },
        (_, _) => fail(
            group.settings[0],
            format!(
                "endpoint {name} is configured more than once: give it one connection string or one set of \
                identity-based settings"
            ),
        ),
    }
}

/// Endpoints with the same `Endpoint` URL collapse into one; a primary one wins.
fn deduplicate(endpoints: Vec<ServiceEndpoint>, service: Service, warnings: &mut Vec<String>) -> Vec<ServiceEndpoint> {
    let mut kept: Vec<ServiceEndpoint> = Vec::with_capacity(endpoints.len());
    for endpoint in endpoints {
        match kept
            .iter_mut()
            .find(|other| other.endpoint_url() == endpoint.endpoint_url())
        {
            None => kept.push(endpoint),
            Some(existing) => {
                warnings.push(format!(
                    "{} and {} name the same {} endpoint; they are used as one",
                    existing.source(),
                    endpoint.source(),
                    service.display_name()
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

/// The endpoint of the connection string `text`, read from `setting`: refused naming the setting
/// and the key at fault, never a value; what it says that its author most likely did not mean (a
/// misspelt key, a key its `AuthType` does not read…) is added to `warnings`, after the setting.
pub(crate) fn connection_string_endpoint(
    setting: &str,
    text: &str,
    name: &str,
    kind: EndpointType,
    warnings: &mut Vec<String>,
) -> Result<ServiceEndpoint, SettingError> {
    let connection_string: ConnectionString = match text.parse() {
        Ok(parsed) => parsed,
        Err(error) => return fail(setting, error.to_string()),
    };
    let noted = connection_string.warnings(text);
    warnings.extend(noted.iter().map(|warning| format!("{setting}: {warning}")));
    Ok(ServiceEndpoint::new(name, kind, connection_string).with_source(setting))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::{Authentication, EntraCredential};
    use crate::settings::testing::{KEY, config, config_of, cs, cs_for, error};
    use crate::tokens::EntraMode;

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

    #[test]
    fn a_malformed_connection_string_names_the_setting_and_not_the_key() {
        let e = error(&[("AzureSignalRConnectionString", &format!("AccessKey={KEY}"))]);
        assert_eq!(e.setting, "AzureSignalRConnectionString");
        assert!(e.message.contains("no Endpoint"), "{e}");
        assert_eq!(
            e.to_string(),
            "setting AzureSignalRConnectionString: the connection string has no Endpoint (expected \
            Endpoint=https://<name>.service.signalr.net;...)"
        );
        let e = error(&[(
            "Azure:SignalR:ConnectionString",
            &format!("Endpoint=https://a;AccessKey={KEY};Port=0"),
        )]);
        assert_eq!(e.setting, "Azure:SignalR:ConnectionString");
        let e = error(&[("AzureSignalRConnectionString", "  ")]);
        assert!(e.message.starts_with("is empty"), "{e}");
    }

    #[test]
    fn connection_string_slips_are_warned_naming_the_setting() {
        let misspelt = format!("{};ClientEndpiont=https://proxy.example.com", cs());
        let ignored = format!("{};TenantId=t", cs_for("east"));
        let settings = config_of(&[
            ("AzureSignalRConnectionString", &misspelt),
            ("Azure__SignalR__Endpoints__east", &ignored),
        ]);
        assert_eq!(
            settings.warnings,
            [
                "AzureSignalRConnectionString: ClientEndpiont in the connection string is not a key the SDK reads, so \
                it is ignored: did you mean ClientEndpoint?",
                "Azure__SignalR__Endpoints__east: TenantId in the connection string is ignored without AuthType \
                (tokens are signed with AccessKey): it is used by AuthType=azure.app",
            ]
        );
        let e = error(&[("Azure__SignalR__Endpoints__east", &format!("'{}'", cs_for("east")))]);
        assert_eq!(e.setting, "Azure__SignalR__Endpoints__east");
        assert_eq!(
            e.message,
            "the connection string is in quotes: remove the quotes around it"
        );
    }

    fn named(vars: &[(&str, &str)]) -> Vec<(String, EndpointType, String)> {
        config(vars)
            .unwrap()
            .endpoints
            .iter()
            .map(|e| (e.name().to_owned(), e.endpoint_type(), e.endpoint_url().to_owned()))
            .collect()
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
                .any(|w| w.contains("name the same Azure SignalR endpoint"))
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
            "ClientCert (ClientCertPath) in the connection string: the certificate file could not be read (entity not \
            found)"
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
            Authentication::MicrosoftEntra(EntraCredential::ManagedIdentity { client_id: Some(id) })
                if id == "0000-1111"
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
}
