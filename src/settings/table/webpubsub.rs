//! Azure Web PubSub's settings, declared as every setting is (see the parent module); listed in
//! its `TABLE`.

use super::DefaultValue::{Described, None as Unset, Value};
use super::Setting;
use crate::settings::setting::{secret, setting};

// Web PubSub's names after its Functions extension: `WebPubSubConnectionString` is
// `Constants.WebPubSubConnectionStringName` (Azure/azure-sdk-for-net,
// Microsoft.Azure.WebJobs.Extensions.WebPubSub), read in the same forms as SignalR's.
pub const WEBPUBSUB_CONNECTION_STRING: Setting = secret(
    "WebPubSubConnectionString",
    "Azure Web PubSub connection string (the Functions extension's name; __serviceUri and the other identity-based \
    keys, an AWS ARN as for SignalR); served under /{prefix}/webpubsub/, and on the usual routes unless SignalR is \
    configured",
);
pub const WEBPUBSUB_FUNCTIONS_CONNECTION_STRINGS: Setting = secret(
    "ConnectionStrings__WebPubSubConnectionString",
    "the same, from a ConnectionStrings section or App Service's Connection strings \
    (CUSTOMCONNSTR_WebPubSubConnectionString); all names set must be equal",
);
pub const WEBPUBSUB_NAMED_ENDPOINTS: Setting = secret(
    "Azure__WebPubSub__Endpoints__<name>[__primary|__secondary]",
    "a named Web PubSub endpoint's connection string (several instances); or __<name>__serviceUri and the other \
    identity-based keys",
);
pub const WEBPUBSUB_CLIENT_PROTOCOL: Setting = setting(
    "WEBPUBSUB_CLIENT_PROTOCOL",
    Value("default"),
    "Web PubSub clients negotiated for: default (WebSocket), mqtt or socketio",
);
pub const WEBPUBSUB_ROLES: Setting = setting(
    "WEBPUBSUB_ROLES",
    Unset,
    "comma list of roles every Web PubSub token carries (webpubsub.joinLeaveGroup[.<group>], \
    webpubsub.sendToGroup[.<group>], webpubsub.joinLeaveGroups.<pattern>, webpubsub.sendToGroups.<pattern>)",
);
pub const WEBPUBSUB_GROUPS: Setting = setting(
    "WEBPUBSUB_GROUPS",
    Unset,
    "comma list of groups every Web PubSub client joins on connect",
);
pub const WEBPUBSUB_ROLES_FROM_CLAIM: Setting = setting(
    "WEBPUBSUB_ROLES_FROM_CLAIM",
    Unset,
    "a trusted caller's claim (e.g. roles) whose webpubsub.* values are added as roles; others are left out",
);
pub const WEBPUBSUB_ENTRA_SCOPE: Setting = setting(
    "WEBPUBSUB_ENTRA_SCOPE",
    Described("from Endpoint"),
    "scope of Microsoft Entra tokens for Web PubSub (ending in /.default), instead of the one the cloud of its \
    Endpoint implies",
);
