//! Azure Web PubSub's settings: its endpoints (read by `endpoints`, under its own names), the
//! client protocol, the roles and groups every token carries, and its Entra scope. With no Web
//! PubSub connection string, a Web PubSub setting set is a warning: it does nothing.

use super::environment::{Environment, SettingError, fail};
use super::table::{
    ENTRA_MODE, Setting, WEBPUBSUB_CLIENT_PROTOCOL, WEBPUBSUB_ENTRA_SCOPE, WEBPUBSUB_GROUPS, WEBPUBSUB_ROLES,
    WEBPUBSUB_ROLES_FROM_CLAIM,
};
use super::upstream::entra_scope;
use crate::endpoints::{Authentication, ServiceEndpoint};
use crate::entra::EntraOverrides;
use crate::hub::MAX_HUB_NAME_LEN;
use crate::product::{ClientProtocol, RoleError, WebPubSub, check_group, check_role};
use crate::tokens::{EntraMode, MAX_TOKEN_LEN};

/// What serving Web PubSub needs from the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebPubSubSettings {
    /// Its instances, in configuration order.
    pub endpoints: Vec<ServiceEndpoint>,
    /// The protocol, roles and groups of every token.
    pub contract: WebPubSub,
    /// The Entra scope and authority for its Entra endpoints.
    pub entra: EntraOverrides,
}

/// The Web PubSub settings, when a Web PubSub endpoint is configured.
pub(super) fn webpubsub(
    env: &Environment,
    endpoints: Vec<ServiceEndpoint>,
    entra: &EntraOverrides,
    entra_mode: EntraMode,
    warnings: &mut Vec<String>,
) -> Result<Option<WebPubSubSettings>, SettingError> {
    const OWN: [Setting; 5] = [
        WEBPUBSUB_CLIENT_PROTOCOL,
        WEBPUBSUB_ROLES,
        WEBPUBSUB_GROUPS,
        WEBPUBSUB_ROLES_FROM_CLAIM,
        WEBPUBSUB_ENTRA_SCOPE,
    ];
    if endpoints.is_empty() {
        if let Some((name, _)) = OWN.iter().find_map(|setting| env.get(setting)) {
            warnings.push(format!(
                "{name} is set but no Web PubSub connection string is (WebPubSubConnectionString): it does nothing"
            ));
        }
        return Ok(None);
    }
    let protocol = match env
        .value_or_default(&WEBPUBSUB_CLIENT_PROTOCOL)
        .map(ClientProtocol::parse)
    {
        Some(Some(protocol)) => protocol,
        _ => return fail(WEBPUBSUB_CLIENT_PROTOCOL.name, "must be default, mqtt or socketio"),
    };
    let roles = checked_list(env, &WEBPUBSUB_ROLES, check_role)?;
    let groups = checked_list(env, &WEBPUBSUB_GROUPS, check_group)?;
    let uses_entra = endpoints
        .iter()
        .any(|endpoint| matches!(endpoint.auth(), Authentication::MicrosoftEntra(_)));
    if uses_entra && entra_mode == EntraMode::AccessKey {
        return fail(
            ENTRA_MODE.name,
            "is access-key, which only Azure SignalR offers: Web PubSub endpoints with Microsoft Entra ID get their \
            tokens from the service's generateToken; leave it unset or set generate-token",
        );
    }
    let scope = entra_scope(env, &WEBPUBSUB_ENTRA_SCOPE, "https://webpubsub.azure.com/.default")?;
    let contract = WebPubSub {
        protocol,
        roles,
        groups,
    };
    fits_a_token(&endpoints, &contract)?;
    Ok(Some(WebPubSubSettings {
        endpoints,
        contract,
        entra: EntraOverrides { scope, ..entra.clone() },
    }))
}

/// A comma list whose every entry passes `check`; an entry at fault is named by position and
/// shown escaped (roles and groups are no secret).
fn checked_list(
    env: &Environment,
    setting: &Setting,
    check: fn(&str) -> Result<(), RoleError>,
) -> Result<Vec<String>, SettingError> {
    let mut checked = Vec::new();
    for (at, entry) in env.list(setting).unwrap_or_default().into_iter().enumerate() {
        if let Err(error) = check(entry) {
            return fail(setting.name, format!("entry {} ({entry:?}) {error}", at + 1));
        }
        if !checked.iter().any(|kept: &String| kept == entry) {
            checked.push(entry.to_owned());
        }
    }
    Ok(checked)
}

/// The configured roles and groups leave room in a token for the longest hub and a user id
/// (the service takes at most [`MAX_TOKEN_LEN`] characters).
fn fits_a_token(endpoints: &[ServiceEndpoint], contract: &WebPubSub) -> Result<(), SettingError> {
    /// Room kept for the user id, the numbers, the names and the signature.
    const ROOM: usize = 512;
    let longest_audience = endpoints
        .iter()
        .map(|endpoint| endpoint.endpoint_url().len())
        .max()
        .unwrap_or(0)
        + contract.protocol.path().len()
        + MAX_HUB_NAME_LEN;
    let listed = |values: &[String]| values.iter().map(|value| value.len() + 3).sum::<usize>();
    let claims = longest_audience + listed(&contract.roles) + listed(&contract.groups) + ROOM;
    // Base64url: four characters for every three bytes.
    if claims.div_ceil(3) * 4 > MAX_TOKEN_LEN {
        let setting = if contract.roles.len() >= contract.groups.len() {
            WEBPUBSUB_ROLES
        } else {
            WEBPUBSUB_GROUPS
        };
        return fail(
            setting.name,
            format!(
                "makes tokens longer than the service's {MAX_TOKEN_LEN} characters: list fewer roles or groups (a \
                wildcard role such as webpubsub.joinLeaveGroups.room.* covers many groups)"
            ),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::product::ClientProtocol;
    use crate::settings::testing::{config, error};

    const WPS: &str = "Endpoint=https://demo.webpubsub.azure.com;AccessKey=secret;Version=1.0;";

    #[test]
    fn only_web_pubsub_is_served_when_only_its_connection_string_is_set() {
        let config = config(&[("WebPubSubConnectionString", WPS)]).unwrap();
        assert!(config.endpoints.is_empty(), "no emulator default for SignalR");
        let wps = config.webpubsub.unwrap();
        assert_eq!(wps.endpoints.len(), 1);
        assert_eq!(wps.endpoints[0].source(), "WebPubSubConnectionString");
        assert_eq!(wps.contract.protocol, ClientProtocol::Default);
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
        let both = config_of_both();
        assert_eq!(both.endpoints.len(), 1);
        assert!(both.webpubsub.is_some());
    }

    fn config_of_both() -> crate::settings::Settings {
        config(&[
            ("WebPubSubConnectionString", WPS),
            (
                "AzureSignalRConnectionString",
                "Endpoint=https://demo.service.signalr.net;AccessKey=k;Version=1.0;",
            ),
        ])
        .unwrap()
    }

    #[test]
    fn every_platform_spelling_and_named_endpoints_are_read() {
        for name in [
            "CUSTOMCONNSTR_WebPubSubConnectionString",
            "ConnectionStrings:WebPubSubConnectionString",
            "webpubsubconnectionstring",
        ] {
            let config = config(&[(name, WPS)]).unwrap();
            assert_eq!(config.webpubsub.unwrap().endpoints.len(), 1, "{name}");
        }
        let config = config(&[
            ("Azure__WebPubSub__Endpoints__east", WPS),
            (
                "Azure:WebPubSub:Endpoints:west:secondary",
                "Endpoint=https://west.webpubsub.azure.com;AccessKey=k;Version=1.0;",
            ),
        ])
        .unwrap();
        let endpoints = config.webpubsub.unwrap().endpoints;
        assert_eq!(endpoints.len(), 2);
        let west = endpoints.iter().find(|endpoint| endpoint.name() == "west").unwrap();
        assert_eq!(west.endpoint_type(), crate::endpoints::EndpointType::Secondary);
        let identity = config_identity();
        assert!(matches!(
            identity.webpubsub.unwrap().endpoints[0].auth(),
            crate::endpoints::Authentication::MicrosoftEntra(_)
        ));
    }

    fn config_identity() -> crate::settings::Settings {
        config(&[
            (
                "WebPubSubConnectionString__serviceUri",
                "https://demo.webpubsub.azure.com",
            ),
            ("WebPubSubConnectionString__credential", "managedidentity"),
        ])
        .unwrap()
    }

    #[test]
    fn roles_groups_and_protocol_are_checked_and_named_when_wrong() {
        let config = config(&[
            ("WebPubSubConnectionString", WPS),
            ("WEBPUBSUB_CLIENT_PROTOCOL", "MQTT"),
            (
                "WEBPUBSUB_ROLES",
                "webpubsub.joinLeaveGroup.lobby, webpubsub.sendToGroups.room.*,webpubsub.joinLeaveGroup.lobby",
            ),
            ("WEBPUBSUB_GROUPS", "lobby"),
        ])
        .unwrap();
        let wps = config.webpubsub.unwrap();
        assert_eq!(wps.contract.protocol, ClientProtocol::Mqtt);
        assert_eq!(
            wps.contract.roles,
            ["webpubsub.joinLeaveGroup.lobby", "webpubsub.sendToGroups.room.*"]
        );
        assert_eq!(wps.contract.groups, ["lobby"]);
        let e = error(&[
            ("WebPubSubConnectionString", WPS),
            ("WEBPUBSUB_CLIENT_PROTOCOL", "signalr"),
        ]);
        assert_eq!(
            (e.setting.as_str(), e.message.as_str()),
            ("WEBPUBSUB_CLIENT_PROTOCOL", "must be default, mqtt or socketio")
        );
        let e = error(&[
            ("WebPubSubConnectionString", WPS),
            ("WEBPUBSUB_ROLES", "webpubsub.sendToGroup,admin\"};{x"),
        ]);
        assert_eq!(e.setting, "WEBPUBSUB_ROLES");
        assert!(
            e.message
                .starts_with("entry 2 (\"admin\\\"};{x\") is not a Web PubSub role"),
            "{e}"
        );
        let e = error(&[("WebPubSubConnectionString", WPS), ("WEBPUBSUB_GROUPS", "a,b\u{1b}[2J")]);
        assert_eq!(e.setting, "WEBPUBSUB_GROUPS");
        assert!(e.message.starts_with("entry 2 (\"b\\u{1b}[2J\") names a group"), "{e}");
    }

    #[test]
    fn the_default_hub_must_follow_web_pubsubs_rule() {
        let e = error(&[("WebPubSubConnectionString", WPS), ("SIGNALR_HUB", "chat.room")]);
        assert_eq!(e.setting, "SIGNALR_HUB");
        assert!(e.message.contains("Azure Web PubSub's rule"), "{e}");
        assert!(config(&[("WebPubSubConnectionString", WPS), ("SIGNALR_HUB", "chat_room1")]).is_ok());
    }

    #[test]
    fn too_many_roles_for_a_token_stop_the_start() {
        let roles: Vec<String> = (0..400)
            .map(|n| format!("webpubsub.sendToGroup.room-number-{n}"))
            .collect();
        let e = error(&[
            ("WebPubSubConnectionString", WPS),
            ("WEBPUBSUB_ROLES", &roles.join(",")),
        ]);
        assert_eq!(e.setting, "WEBPUBSUB_ROLES");
        assert!(e.message.contains("longer than the service's"), "{e}");
    }

    #[test]
    fn access_key_mode_is_refused_for_web_pubsub_entra_endpoints() {
        let e = error(&[
            (
                "WebPubSubConnectionString__serviceUri",
                "https://demo.webpubsub.azure.com",
            ),
            ("SIGNALR_ENTRA_MODE", "access-key"),
        ]);
        assert_eq!(e.setting, "SIGNALR_ENTRA_MODE");
        assert!(e.message.contains("only Azure SignalR offers"), "{e}");
    }

    #[test]
    fn web_pubsub_settings_without_its_connection_string_are_a_warning() {
        let config = config(&[("WEBPUBSUB_ROLES", "webpubsub.sendToGroup")]).unwrap();
        assert!(config.webpubsub.is_none());
        assert!(
            config
                .warnings
                .iter()
                .any(|w| w.starts_with("WEBPUBSUB_ROLES is set but no Web PubSub")),
            "{:?}",
            config.warnings
        );
    }

    #[test]
    fn its_scope_is_its_own() {
        let config = config(&[
            (
                "WebPubSubConnectionString__serviceUri",
                "https://demo.webpubsub.azure.com",
            ),
            ("WEBPUBSUB_ENTRA_SCOPE", "https://webpubsub.contoso.test/.default"),
            ("SIGNALR_ENTRA_SCOPE", "https://signalr.contoso.test/.default"),
        ])
        .unwrap();
        assert_eq!(
            config.webpubsub.unwrap().entra.scope.as_deref(),
            Some("https://webpubsub.contoso.test/.default")
        );
        assert_eq!(
            config.entra.scope.as_deref(),
            Some("https://signalr.contoso.test/.default")
        );
        let e = error(&[
            ("WebPubSubConnectionString", WPS),
            ("WEBPUBSUB_ENTRA_SCOPE", "https://x"),
        ]);
        assert_eq!(e.setting, "WEBPUBSUB_ENTRA_SCOPE");
    }
}
