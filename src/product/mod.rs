//! Which service a negotiate is for: Azure SignalR Service or Azure Web PubSub. The two share
//! connection strings, endpoints, Microsoft Entra ID, callers, deadlines and hosts; they differ
//! in the client URL, the audience, the token's claims, the answer's shape, what
//! `generateToken` is asked, and the clouds' domains and scopes. This module is the one place
//! that knows those differences; the rest of the crate asks a [`Service`] or a [`Contract`].

mod roles;
mod webpubsub;

pub use roles::{RoleError, check_group, check_role, is_meant_as_role};
pub use webpubsub::{ClientAccess, ClientProtocol, WebPubSub};

/// The two services this function negotiates for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Service {
    /// Azure SignalR Service.
    #[default]
    SignalR,
    /// Azure Web PubSub.
    WebPubSub,
}

/// Azure's clouds, in the order [`Service::domains`] and [`Service::scopes`] list them.
pub const CLOUDS: usize = 3;

impl Service {
    /// The service's short name: `SignalR`, `Web PubSub`.
    pub fn short_name(self) -> &'static str {
        match self {
            Self::SignalR => "SignalR",
            Self::WebPubSub => "Web PubSub",
        }
    }

    /// The service's name in messages.
    pub fn display_name(self) -> &'static str {
        match self {
            Self::SignalR => "Azure SignalR",
            Self::WebPubSub => "Azure Web PubSub",
        }
    }

    /// The DNS domains of its instances: the public cloud, Azure China, Azure Government
    /// (`<name>.service.signalr.net`, `<name>.webpubsub.azure.com` and their sovereign
    /// siblings, as the services' connection-string articles on learn.microsoft.com,
    /// docs.azure.cn and the private-endpoint DNS zone list give them).
    pub fn domains(self) -> [&'static str; CLOUDS] {
        match self {
            Self::SignalR => ["service.signalr.net", "signalr.azure.cn", "signalr.azure.us"],
            Self::WebPubSub => ["webpubsub.azure.com", "webpubsub.azure.cn", "webpubsub.azure.us"],
        }
    }

    /// The Microsoft Entra scope of its data plane, per cloud (SignalR: Azure/azure-signalr's
    /// `Constants.AsrsDefaultScope`; Web PubSub: the JS SDK's `https://webpubsub.azure.com/.default`;
    /// the sovereign clouds' follow each service's naming, and `SIGNALR_ENTRA_SCOPE` /
    /// `WEBPUBSUB_ENTRA_SCOPE` override them).
    pub fn scopes(self) -> [&'static str; CLOUDS] {
        match self {
            Self::SignalR => [
                "https://signalr.azure.com/.default",
                "https://signalr.azure.cn/.default",
                "https://signalr.azure.us/.default",
            ],
            Self::WebPubSub => [
                "https://webpubsub.azure.com/.default",
                "https://webpubsub.azure.cn/.default",
                "https://webpubsub.azure.us/.default",
            ],
        }
    }

    /// The `api-version` of its health probe (`HEAD /api/health`).
    pub fn health_api_version(self) -> &'static str {
        match self {
            Self::SignalR => "2022-06-01",
            Self::WebPubSub => "2024-01-01",
        }
    }

    /// The `api-version` of its `generateToken` (Web PubSub: the first with `group` and
    /// `clientType`, which the .NET SDK requires for MQTT).
    pub fn generate_token_api_version(self) -> &'static str {
        match self {
            Self::SignalR => "2022-11-01",
            Self::WebPubSub => "2024-01-01",
        }
    }
}

/// What one negotiator's tokens and answers follow: the service, and for Web PubSub the client
/// protocol, roles and groups.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Contract {
    /// Azure SignalR: `{"url","accessToken"}`, the SDK's claims.
    #[default]
    SignalR,
    /// Azure Web PubSub.
    WebPubSub(WebPubSub),
}

impl Contract {
    /// The service this contract is with.
    pub fn service(&self) -> Service {
        match self {
            Self::SignalR => Service::SignalR,
            Self::WebPubSub(_) => Service::WebPubSub,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_service_knows_its_domains_scopes_and_api_version() {
        assert_eq!(Service::WebPubSub.domains()[0], "webpubsub.azure.com");
        assert_eq!(Service::WebPubSub.scopes()[1], "https://webpubsub.azure.cn/.default");
        assert_eq!(Service::SignalR.scopes()[2], "https://signalr.azure.us/.default");
        assert_eq!(Service::WebPubSub.generate_token_api_version(), "2024-01-01");
        assert_eq!(Contract::default().service(), Service::SignalR);
        assert_eq!(Contract::WebPubSub(WebPubSub::default()).service(), Service::WebPubSub);
    }
}
