//! Azure Web PubSub's client contract: where each client protocol connects, the audience its
//! token names, the token's claims, and what `generateToken` is asked for.
//!
//! As the service SDKs do it: the .NET `WebPubSubServiceClient`
//! (Azure/azure-sdk-for-net, sdk/webpubsub/Azure.Messaging.WebPubSub/src/
//! WebPubSubServiceClient_helpers.cs: `GenerateTokenFromAzureKeyCredential`,
//! `GetRelativeClientEndpoint`, `GetClientAccessUriInternal`), which the Functions extension's
//! `WebPubSubConnection` binding uses, and `@azure/web-pubsub`'s `getClientAccessToken`
//! (Azure/azure-sdk-for-js, sdk/web-pubsub/web-pubsub), which adds Socket.IO's path.

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::endpoints::ServiceEndpoint;
use crate::tokens::{Caller, Claims};

/// Which Web PubSub clients this function negotiates for (`WEBPUBSUB_CLIENT_PROTOCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientProtocol {
    /// WebSocket clients (`@azure/web-pubsub-client`, raw WebSocket): `/client/hubs/{hub}`.
    #[default]
    Default,
    /// MQTT over WebSocket: `/clients/mqtt/hubs/{hub}`.
    Mqtt,
    /// Web PubSub for Socket.IO: `/clients/socketio/hubs/{hub}`.
    SocketIo,
}

impl ClientProtocol {
    /// The setting's spellings.
    pub const NAMES: [&'static str; 3] = ["default", "mqtt", "socketio"];

    /// A protocol by its setting's name (without case).
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "default" => Some(Self::Default),
            "mqtt" => Some(Self::Mqtt),
            "socketio" => Some(Self::SocketIo),
            _ => None,
        }
    }

    /// The setting's spelling.
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// The client path before the hub (.NET `GetRelativeClientEndpoint`; the JS SDK's
    /// `clients/socketio/hubs/` for Socket.IO).
    pub fn path(self) -> &'static str {
        match self {
            Self::Default => "/client/hubs/",
            Self::Mqtt => "/clients/mqtt/hubs/",
            Self::SocketIo => "/clients/socketio/hubs/",
        }
    }

    /// `generateToken`'s `clientType`, as the SDKs send it (.NET `GetClientAccessTokenCore`:
    /// `default`, `mqtt`; the JS SDK passes its `clientProtocol`, `socketio` included; the
    /// service reads it without case).
    pub fn client_type(self) -> &'static str {
        self.name()
    }
}

/// What every Web PubSub token of this function carries besides its caller: the protocol's
/// audience, the configured roles and the groups joined on connect.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebPubSub {
    /// The clients negotiated for.
    pub protocol: ClientProtocol,
    /// `WEBPUBSUB_ROLES`, checked against the role grammar.
    pub roles: Vec<String>,
    /// `WEBPUBSUB_GROUPS`, checked against the group rule.
    pub groups: Vec<String>,
}

/// Where a client connects: the URL (with the token for WebSocket and MQTT clients) and how
/// the answer shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAccess {
    /// SignalR: `{"url","accessToken"}`.
    SignalR,
    /// `{"baseUrl","url","accessToken"}`: `baseUrl` is the first `base_len` bytes of the url.
    WebPubSub {
        /// Length of `wss://{host}{path}{hub}` in the url.
        base_len: usize,
    },
    /// `{"endpoint","path","token"}`: the url is the endpoint.
    SocketIo {
        /// The Socket.IO path, `/clients/socketio/hubs/{hub}` (after any path of the client
        /// endpoint).
        path: String,
    },
}

impl WebPubSub {
    /// The token's `aud`: `Endpoint` (with `Port`) and the protocol's client path (.NET:
    /// `{Endpoint.AbsoluteUri}{GetRelativeClientEndpoint}`).
    pub fn audience(&self, endpoint: &ServiceEndpoint, hub: &str) -> String {
        let base = endpoint.endpoint_url();
        let path = self.protocol.path();
        let mut audience = String::with_capacity(base.len() + path.len() + hub.len());
        audience.push_str(base);
        audience.push_str(path);
        audience.push_str(hub);
        audience
    }

    /// Where the client connects, with `token`: `ClientEndpoint` (else `Endpoint` with `Port`)
    /// with `http` made `ws` and `https` made `wss` for WebSocket and MQTT clients; the
    /// `http(s)` origin and a path for Socket.IO, whose client takes them apart.
    pub fn access(&self, endpoint: &ServiceEndpoint, hub: &str, token: &str) -> (String, ClientAccess) {
        let base = endpoint.client_base();
        let path = self.protocol.path();
        if self.protocol == ClientProtocol::SocketIo {
            // `io(endpoint, { path })`: a path left in the endpoint would be read as a namespace.
            let origin_end = base.find("://").map_or(0, |scheme| scheme + 3);
            let origin_end = base[origin_end..]
                .find('/')
                .map_or(base.len(), |slash| origin_end + slash);
            let (origin, prefix) = base.split_at(origin_end);
            let path = format!("{prefix}{path}{hub}");
            return (origin.to_owned(), ClientAccess::SocketIo { path });
        }
        const TOKEN: &str = "?access_token=";
        let rest = base.strip_prefix("http").unwrap_or(base);
        let mut url = String::with_capacity(2 + rest.len() + path.len() + hub.len() + TOKEN.len() + token.len());
        url.push_str("ws");
        url.push_str(rest);
        url.push_str(path);
        url.push_str(hub);
        let base_len = url.len();
        url.push_str(TOKEN);
        url.push_str(token);
        (url, ClientAccess::WebPubSub { base_len })
    }

    /// The claims of `caller`'s token.
    pub fn claims<'a>(
        &'a self,
        audience: &'a str,
        caller: &'a Caller,
        issued_at: u64,
        lifetime_secs: u64,
    ) -> WebPubSubClaims<'a> {
        WebPubSubClaims {
            audience,
            user_id: caller.user_id.as_deref(),
            roles: Roles {
                configured: &self.roles,
                caller: &caller.roles,
            },
            groups: &self.groups,
            issued_at,
            lifetime_secs,
        }
    }

    /// `generateToken`'s query besides `api-version`, `userId` and `minutesToExpire`: each role
    /// and group repeated under its name, and the client type (.NET `GenerateClientTokenImpl`).
    pub fn generate_token_query<'a>(&'a self, caller: &'a Caller) -> Vec<(&'static str, &'a str)> {
        let roles = Roles {
            configured: &self.roles,
            caller: &caller.roles,
        };
        let mut query: Vec<(&str, &str)> = roles.iter().map(|role| ("role", role)).collect();
        query.extend(self.groups.iter().map(|group| ("group", group.as_str())));
        query.push(("clientType", self.protocol.client_type()));
        query
    }
}

/// The configured roles, then the caller's that are not among them.
#[derive(Debug, Clone, Copy)]
struct Roles<'a> {
    configured: &'a [String],
    caller: &'a [String],
}

impl<'a> Roles<'a> {
    fn iter(self) -> impl Iterator<Item = &'a str> {
        let configured = self.configured;
        configured.iter().map(String::as_str).chain(
            self.caller
                .iter()
                .enumerate()
                .filter(move |(at, role)| !configured.contains(role) && !self.caller[..*at].contains(role))
                .map(|(_, role)| role.as_str()),
        )
    }

    fn is_empty(self) -> bool {
        self.configured.is_empty() && self.caller.is_empty()
    }
}

/// The claims of one Web PubSub client token, in the .NET SDK's order: `sub` (when the user is
/// known), `role` and `webpubsub.group` (arrays, when any), `nbf`, `exp`, `iat`, `aud`.
#[derive(Debug, Clone)]
pub struct WebPubSubClaims<'a> {
    audience: &'a str,
    user_id: Option<&'a str>,
    roles: Roles<'a>,
    groups: &'a [String],
    issued_at: u64,
    lifetime_secs: u64,
}

impl Serialize for WebPubSubClaims<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some(user_id) = self.user_id {
            map.serialize_entry("sub", user_id)?;
        }
        if !self.roles.is_empty() {
            map.serialize_entry("role", &AllOf(self.roles))?;
        }
        if !self.groups.is_empty() {
            map.serialize_entry("webpubsub.group", self.groups)?;
        }
        map.serialize_entry("nbf", &self.issued_at)?;
        map.serialize_entry("exp", &(self.issued_at + self.lifetime_secs))?;
        map.serialize_entry("iat", &self.issued_at)?;
        map.serialize_entry("aud", self.audience)?;
        map.end()
    }
}

/// The roles as a JSON array.
struct AllOf<'a>(Roles<'a>);

impl Serialize for AllOf<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter())
    }
}

impl Claims for WebPubSubClaims<'_> {
    fn write_json(&self, json: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        serde_json::to_writer(json, self)
    }

    fn size_hint(&self) -> usize {
        let listed = |values: &[String]| values.iter().map(|value| value.len() + 3).sum::<usize>();
        96 + self.audience.len()
            + self.user_id.map_or(0, str::len)
            + listed(self.roles.configured)
            + listed(self.roles.caller)
            + listed(self.groups)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::EndpointType;

    fn endpoint(text: &str) -> ServiceEndpoint {
        ServiceEndpoint::new("", EndpointType::Primary, text.parse().unwrap())
    }

    fn contract(protocol: ClientProtocol, roles: &[&str], groups: &[&str]) -> WebPubSub {
        WebPubSub {
            protocol,
            roles: roles.iter().map(|role| (*role).to_owned()).collect(),
            groups: groups.iter().map(|group| (*group).to_owned()).collect(),
        }
    }

    #[test]
    fn urls_and_audiences_per_protocol_as_the_sdks_make_them() {
        let e = endpoint("Endpoint=https://demo.webpubsub.azure.com;AccessKey=k;Version=1.0;");
        let default = contract(ClientProtocol::Default, &[], &[]);
        assert_eq!(
            default.audience(&e, "Chat"),
            "https://demo.webpubsub.azure.com/client/hubs/Chat"
        );
        let (url, access) = default.access(&e, "Chat", "T");
        assert_eq!(url, "wss://demo.webpubsub.azure.com/client/hubs/Chat?access_token=T");
        assert_eq!(
            access,
            ClientAccess::WebPubSub {
                base_len: url.len() - "?access_token=T".len()
            }
        );
        let mqtt = contract(ClientProtocol::Mqtt, &[], &[]);
        assert_eq!(
            mqtt.audience(&e, "h"),
            "https://demo.webpubsub.azure.com/clients/mqtt/hubs/h"
        );
        assert_eq!(
            mqtt.access(&e, "h", "T").0,
            "wss://demo.webpubsub.azure.com/clients/mqtt/hubs/h?access_token=T"
        );
        let socketio = contract(ClientProtocol::SocketIo, &[], &[]);
        assert_eq!(
            socketio.audience(&e, "h"),
            "https://demo.webpubsub.azure.com/clients/socketio/hubs/h"
        );
        assert_eq!(
            socketio.access(&e, "h", "T"),
            (
                "https://demo.webpubsub.azure.com".to_owned(),
                ClientAccess::SocketIo {
                    path: "/clients/socketio/hubs/h".to_owned()
                }
            )
        );
    }

    #[test]
    fn port_http_and_client_endpoint_are_honoured() {
        let local = endpoint("Endpoint=http://localhost;Port=8080;AccessKey=k;Version=1.0;");
        let default = contract(ClientProtocol::Default, &[], &[]);
        assert_eq!(default.audience(&local, "h"), "http://localhost:8080/client/hubs/h");
        assert_eq!(
            default.access(&local, "h", "T").0,
            "ws://localhost:8080/client/hubs/h?access_token=T"
        );
        let proxied = endpoint(
            "Endpoint=https://demo.webpubsub.azure.com;ClientEndpoint=https://proxy.example/wps;AccessKey=k;Version=1.0;",
        );
        assert_eq!(
            default.audience(&proxied, "h"),
            "https://demo.webpubsub.azure.com/client/hubs/h",
            "the service checks its own endpoint"
        );
        assert_eq!(
            default.access(&proxied, "h", "T").0,
            "wss://proxy.example/wps/client/hubs/h?access_token=T"
        );
        let socketio = contract(ClientProtocol::SocketIo, &[], &[]);
        let short = endpoint("Endpoint=https://a.b;ClientEndpoint=http://p.io/w;AccessKey=k;Version=1.0;");
        assert_eq!(
            socketio.access(&short, "h", "T"),
            (
                "http://p.io".to_owned(),
                ClientAccess::SocketIo {
                    path: "/w/clients/socketio/hubs/h".to_owned()
                }
            )
        );
        assert_eq!(
            socketio.access(&proxied, "h", "T"),
            (
                "https://proxy.example".to_owned(),
                ClientAccess::SocketIo {
                    path: "/wps/clients/socketio/hubs/h".to_owned()
                }
            )
        );
    }

    #[test]
    fn claims_in_the_dotnet_order_with_arrays_and_empty_lists_left_out() {
        let wps = contract(ClientProtocol::Default, &["webpubsub.joinLeaveGroup.lobby"], &["lobby"]);
        let caller = Caller {
            user_id: Some("u\"1".into()),
            roles: vec![
                "webpubsub.sendToGroup.lobby".into(),
                "webpubsub.joinLeaveGroup.lobby".into(),
            ],
            ..Caller::default()
        };
        let claims = wps.claims("https://a/client/hubs/h", &caller, 100, 60);
        let mut json = Vec::new();
        claims.write_json(&mut json).unwrap();
        // The buffer is sized once: room for the claims, not much more.
        let hint = claims.size_hint();
        assert!(
            hint >= json.len() && hint <= json.len() + 128,
            "{hint} for {}",
            json.len()
        );
        assert_eq!(
            String::from_utf8(json).unwrap(),
            r#"{"sub":"u\"1","role":["webpubsub.joinLeaveGroup.lobby","webpubsub.sendToGroup.lobby"],"webpubsub.group":["lobby"],"nbf":100,"exp":160,"iat":100,"aud":"https://a/client/hubs/h"}"#
        );
        // Configured roles alone, and a caller's alone, each make the claim.
        let json_of = |wps: &WebPubSub, caller: &Caller| {
            let mut json = Vec::new();
            wps.claims("a", caller, 0, 1).write_json(&mut json).unwrap();
            String::from_utf8(json).unwrap()
        };
        let configured = contract(ClientProtocol::Default, &["webpubsub.sendToGroup"], &[]);
        assert!(json_of(&configured, &Caller::default()).starts_with(r#"{"role":["webpubsub.sendToGroup"],"nbf""#));
        let callers = Caller {
            roles: vec!["webpubsub.joinLeaveGroup".into()],
            ..Caller::default()
        };
        let none = contract(ClientProtocol::Default, &[], &[]);
        assert!(json_of(&none, &callers).starts_with(r#"{"role":["webpubsub.joinLeaveGroup"],"nbf""#));
        let bare = contract(ClientProtocol::Default, &[], &[]);
        let anonymous = Caller::default();
        let mut json = Vec::new();
        bare.claims("aud", &anonymous, 5, 10).write_json(&mut json).unwrap();
        assert_eq!(
            String::from_utf8(json).unwrap(),
            r#"{"nbf":5,"exp":15,"iat":5,"aud":"aud"}"#
        );
    }

    #[test]
    fn generate_token_repeats_roles_and_groups_and_names_the_client_type() {
        let wps = contract(ClientProtocol::Mqtt, &["webpubsub.sendToGroup"], &["a", "b"]);
        let caller = Caller {
            roles: vec!["webpubsub.sendToGroup".into(), "webpubsub.joinLeaveGroup.a".into()],
            ..Caller::default()
        };
        assert_eq!(
            wps.generate_token_query(&caller),
            [
                ("role", "webpubsub.sendToGroup"),
                ("role", "webpubsub.joinLeaveGroup.a"),
                ("group", "a"),
                ("group", "b"),
                ("clientType", "mqtt"),
            ]
        );
        assert_eq!(
            contract(ClientProtocol::Default, &[], &[]).generate_token_query(&Caller::default()),
            [("clientType", "default")]
        );
    }

    #[test]
    fn protocols_by_name() {
        for name in ClientProtocol::NAMES {
            assert_eq!(ClientProtocol::parse(name).unwrap().name(), name);
        }
        assert_eq!(ClientProtocol::parse("MQTT"), Some(ClientProtocol::Mqtt));
        assert_eq!(ClientProtocol::parse("socket.io"), None);
        assert_eq!(ClientProtocol::parse(""), None);
    }
}
