//! The names a connection string may be set under, per service: one list, read by the endpoint
//! settings and by the AWS references (a value that is an ARN is resolved only under these
//! names). `SIGNALR_CONNECTION_STRING_SETTING` changes the SignalR binding's name, as the
//! binding's `ConnectionStringSetting` does; Web PubSub's are its extension's default,
//! `WebPubSubConnectionString`, in the same forms.

use super::environment::{Environment, SettingError, fail, normalise};
use super::table::{
    self, ASPNET_CONNECTION_STRING, ASPNET_CONNECTION_STRINGS, CONNECTION_STRING, CONNECTION_STRING_SETTING,
    NAMED_CONNECTION_STRINGS, NAMED_CONNECTION_STRINGS_SECTION, NAMED_ENDPOINTS, Setting, WEBPUBSUB_CONNECTION_STRING,
    WEBPUBSUB_NAMED_ENDPOINTS,
};
use crate::product::Service;

/// `ConnectionStrings__` (what `GetConnectionString` reads; App Service's `CUSTOMCONNSTR_` is
/// the same, see `normalise`).
const SECTION: &str = "ConnectionStrings__";

/// Settings whose sub-keys configure SignalR's named endpoints.
const NAMED_FAMILIES: [Setting; 3] = [
    NAMED_CONNECTION_STRINGS,
    NAMED_CONNECTION_STRINGS_SECTION,
    NAMED_ENDPOINTS,
];

/// Settings whose sub-keys configure Web PubSub's named endpoints.
const WEBPUBSUB_NAMED_FAMILIES: [Setting; 1] = [WEBPUBSUB_NAMED_ENDPOINTS];

/// Where a service's connection string may be, for this environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ConnectionNames {
    /// Whose connection strings these are.
    pub service: Service,
    /// The Functions binding's setting: `AzureSignalRConnectionString`, or the name
    /// `SIGNALR_CONNECTION_STRING_SETTING` gives.
    pub binding: String,
    /// The unnamed connection string's names, in order of precedence (the first set is the
    /// endpoint's source; all set must be equal): SignalR's SDK's default key and its secondary
    /// key, then the binding's `GetConnectionString(key)` and `configuration[key]`.
    pub unnamed: Vec<String>,
}

impl ConnectionNames {
    /// Web PubSub's names: the extension's `WebPubSubConnectionString` (its
    /// `Constants.WebPubSubConnectionStringName`), read as `GetConnectionString(key) ??
    /// configuration[key]` as the SignalR binding reads its own.
    pub fn webpubsub() -> Self {
        let binding = WEBPUBSUB_CONNECTION_STRING.name;
        Self {
            service: Service::WebPubSub,
            unnamed: vec![format!("{SECTION}{binding}"), binding.to_owned()],
            binding: binding.to_owned(),
        }
    }

    /// Both services' names.
    pub fn both(env: &Environment) -> Result<[Self; 2], SettingError> {
        Ok([Self::from_env(env)?, Self::webpubsub()])
    }

    /// SignalR's names for this environment.
    /// The names, once `SIGNALR_CONNECTION_STRING_SETTING` is checked: a setting name, not one
    /// of the function's other settings, and not prefixed (both forms are read).
    pub fn from_env(env: &Environment) -> Result<Self, SettingError> {
        let binding = env.value_or_default(&CONNECTION_STRING_SETTING).unwrap_or_default();
        let key = normalise(binding);
        if binding.is_empty()
            || !binding
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'.' | b'-'))
        {
            return fail(
                CONNECTION_STRING_SETTING.name,
                "must be the name of an app setting (letters, digits, _ : . -), for example MySignalRConnection",
            );
        }
        if key.starts_with(&normalise(SECTION)) {
            return fail(
                CONNECTION_STRING_SETTING.name,
                "must name the setting without ConnectionStrings: or CUSTOMCONNSTR_ in front: both forms of the name \
                are read",
            );
        }
        if key != normalise(CONNECTION_STRING.name) && table::is_read(&key) {
            return fail(
                CONNECTION_STRING_SETTING.name,
                "names one of the function's own settings: name the app setting that holds the connection string",
            );
        }
        let names = Self {
            service: Service::SignalR,
            unnamed: vec![
                ASPNET_CONNECTION_STRING.name.to_owned(),
                ASPNET_CONNECTION_STRINGS.name.to_owned(),
                format!("{SECTION}{binding}"),
                binding.to_owned(),
            ],
            binding: binding.to_owned(),
        };
        // A name chosen at run time is not in the settings table: its spellings (and those of
        // its identity-based keys) are checked here.
        env.unambiguous_where(|key| names.holds_connection_string(key))?;
        Ok(names)
    }

    /// The identity-based form's prefix: `{binding}__serviceUri` and its siblings.
    pub fn identity_prefix(&self) -> &str {
        &self.binding
    }

    /// Whether the binding's name is the default.
    pub fn is_default(&self) -> bool {
        self.service == Service::WebPubSub || normalise(&self.binding) == normalise(CONNECTION_STRING.name)
    }

    /// The prefixes of the named forms, as `Azure__SignalR__Endpoints__`.
    pub fn families(&self) -> impl Iterator<Item = &'static str> + use<> {
        let families: &'static [Setting] = match self.service {
            Service::SignalR => &NAMED_FAMILIES,
            Service::WebPubSub => &WEBPUBSUB_NAMED_FAMILIES,
        };
        families.iter().map(|family| {
            let name = family.name;
            &name[..name.find("<name>").unwrap_or(name.len())]
        })
    }

    /// Whether a variable may hold a connection string: an unnamed name, a named form, or
    /// the binding's identity-based keys (a client secret).
    pub fn holds_connection_string(&self, name: &str) -> bool {
        let name = normalise(name);
        let identity = normalise(&format!("{}__", self.binding));
        self.unnamed.iter().any(|unnamed| normalise(unnamed) == name)
            || name.starts_with(&identity)
            || self.families().any(|family| name.starts_with(&normalise(family)))
    }

    /// What was looked for, for the message when nothing is set.
    pub fn looked_for(&self) -> String {
        if self.service == Service::WebPubSub {
            let binding = &self.binding;
            let named = self
                .families()
                .map(|family| format!("{family}<name>"))
                .collect::<Vec<_>>();
            return format!(
                "{binding} (or CUSTOMCONNSTR_{binding}), {binding}__serviceUri, or a named endpoint ({})",
                named.join(", ")
            );
        }
        format!(
            "{} (or CUSTOMCONNSTR_{}), {}, {} (or CUSTOMCONNSTR_{}), {}__serviceUri, or a named endpoint ({})",
            self.unnamed[3],
            self.binding,
            self.unnamed[0],
            self.unnamed[1],
            ASPNET_CONNECTION_STRING.name,
            self.binding,
            self.families()
                .map(|family| format!("{family}<name>"))
                .collect::<Vec<_>>()
                .join(", "),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::environment::spelled;
    use crate::settings::testing::{config, config_of, cs, cs_for, error};

    fn env(vars: &[(&str, &str)]) -> Environment {
        Environment::new(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn the_default_names_in_order() {
        let names = ConnectionNames::from_env(&env(&[])).unwrap();
        assert_eq!(
            names.unnamed,
            [
                "Azure__SignalR__ConnectionString",
                "ConnectionStrings__Azure__SignalR__ConnectionString",
                "ConnectionStrings__AzureSignalRConnectionString",
                "AzureSignalRConnectionString"
            ]
        );
        assert!(names.is_default());
        assert_eq!(names.unnamed[2], table::FUNCTIONS_CONNECTION_STRINGS.name);
        for name in [
            "AzureSignalRConnectionString",
            "CUSTOMCONNSTR_AzureSignalRConnectionString",
            "ConnectionStrings:AzureSignalRConnectionString",
            "customconnstr_azure__signalr__connectionstring",
            "Azure:SignalR:ConnectionString:east",
            "CUSTOMCONNSTR_Azure__SignalR__ConnectionString__west__secondary",
            "Azure__SignalR__Endpoints__north",
            "AzureSignalRConnectionString__clientSecret",
        ] {
            assert!(names.holds_connection_string(name), "{name}");
        }
        for name in ["SIGNALR_CLAIMS", "CUSTOMCONNSTR_Other", "AzureSignalRConnectionStringX"] {
            assert!(!names.holds_connection_string(name), "{name}");
        }
        assert_eq!(
            names.looked_for(),
            "AzureSignalRConnectionString (or CUSTOMCONNSTR_AzureSignalRConnectionString), \
            Azure__SignalR__ConnectionString, ConnectionStrings__Azure__SignalR__ConnectionString (or \
            CUSTOMCONNSTR_Azure__SignalR__ConnectionString), AzureSignalRConnectionString__serviceUri, or a named \
            endpoint (Azure__SignalR__ConnectionString__<name>, \
            ConnectionStrings__Azure__SignalR__ConnectionString__<name>, Azure__SignalR__Endpoints__<name>)"
        );
    }

    #[test]
    fn web_pubsubs_names_are_its_extensions() {
        let names = ConnectionNames::webpubsub();
        assert_eq!(
            names.unnamed,
            [
                "ConnectionStrings__WebPubSubConnectionString",
                "WebPubSubConnectionString"
            ]
        );
        for name in [
            "WebPubSubConnectionString",
            "CUSTOMCONNSTR_WebPubSubConnectionString",
            "ConnectionStrings:WebPubSubConnectionString",
            "WebPubSubConnectionString__serviceUri",
            "Azure:WebPubSub:Endpoints:east",
        ] {
            assert!(names.holds_connection_string(name), "{name}");
        }
        for name in [
            "AzureSignalRConnectionString",
            "Azure__SignalR__Endpoints__north",
            "WEBPUBSUB_ROLES",
        ] {
            assert!(!names.holds_connection_string(name), "{name}");
        }
        assert_eq!(
            names.looked_for(),
            "WebPubSubConnectionString (or CUSTOMCONNSTR_WebPubSubConnectionString), \
            WebPubSubConnectionString__serviceUri, or a named endpoint (Azure__WebPubSub__Endpoints__<name>)"
        );
    }

    #[test]
    fn the_binding_setting_names_another_setting() {
        let names = ConnectionNames::from_env(&env(&[("SIGNALR_CONNECTION_STRING_SETTING", "Chat:SignalR")])).unwrap();
        assert_eq!(names.unnamed[2], "ConnectionStrings__Chat:SignalR");
        assert_eq!(names.unnamed[3], "Chat:SignalR");
        assert_eq!(names.identity_prefix(), "Chat:SignalR");
        assert!(!names.is_default());
        assert!(names.holds_connection_string("CUSTOMCONNSTR_Chat__SignalR"));
        assert!(names.holds_connection_string("chat__signalr"));
        assert!(names.holds_connection_string("Chat__SignalR__serviceUri"));
        assert!(!names.holds_connection_string("AzureSignalRConnectionString"));
        for (value, reason) in [
            ("a b", "must be the name of an app setting"),
            ("ConnectionStrings:Chat", "without ConnectionStrings: or CUSTOMCONNSTR_"),
            ("CUSTOMCONNSTR_Chat", "without ConnectionStrings: or CUSTOMCONNSTR_"),
            ("SIGNALR_HUB", "one of the function's own settings"),
            ("Azure__SignalR__Endpoints__east", "one of the function's own settings"),
        ] {
            let error = ConnectionNames::from_env(&env(&[("SIGNALR_CONNECTION_STRING_SETTING", value)])).unwrap_err();
            assert_eq!(error.setting, "SIGNALR_CONNECTION_STRING_SETTING");
            assert!(error.message.contains(reason), "{value:?}: {error}");
        }
        let error = ConnectionNames::from_env(&env(&[
            ("SIGNALR_CONNECTION_STRING_SETTING", "Chat"),
            ("CUSTOMCONNSTR_Chat", "Endpoint=https://a;AccessKey=SECRET-A"),
            ("ConnectionStrings:chat", "Endpoint=https://b;AccessKey=SECRET-B"),
        ]))
        .unwrap_err();
        assert_eq!(error.setting, "CUSTOMCONNSTR_Chat");
        // Other variables set twice are not this setting's business.
        assert!(
            ConnectionNames::from_env(&env(&[
                ("SIGNALR_CONNECTION_STRING_SETTING", "Chat"),
                ("HTTP_PROXY", "http://a"),
                ("http_proxy", "http://b"),
            ]))
            .is_ok()
        );
        assert!(error.message.contains("also set as ConnectionStrings:chat"), "{error}");
        assert!(!error.to_string().contains("SECRET"), "{error}");
    }

    #[test]
    fn names_are_spelled_as_the_families() {
        assert_eq!(
            spelled("CUSTOMCONNSTR_Azure:SignalR:ConnectionString:East"),
            "ConnectionStrings__Azure__SignalR__ConnectionString__East"
        );
        assert_eq!(spelled("customconnstr_x"), "ConnectionStrings__x");
        assert_eq!(
            spelled("Azure:SignalR:Endpoints:West"),
            "Azure__SignalR__Endpoints__West"
        );
        assert_eq!(spelled("CUSTOM"), "CUSTOM");
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
}
