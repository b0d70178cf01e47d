//! Which Azure cloud an endpoint lives in, and so what its Microsoft Entra tokens are for
//! (the scope) and where credentials get them (the authority host). Worked out once per
//! endpoint at start, from the host of `Endpoint`; two settings override it for private clouds
//! and custom domains.
//!
//! The clouds, as Microsoft documents them:
//! - Azure public cloud: instances at `*.service.signalr.net`; the SDK's scope
//!   `https://signalr.azure.com/.default` (Azure/azure-signalr, `Constants.AsrsDefaultScope`);
//!   authority `https://login.microsoftonline.com`.
//! - Azure China (21Vianet): instances at `*.signalr.azure.cn` ("Connection strings in Azure
//!   SignalR Service" on docs.azure.cn: `Endpoint=https://<resource_name>.signalr.azure.cn`); scope
//!   `https://signalr.azure.cn/.default` (the same site's client negotiation article: "fetch a
//!   Microsoft Entra ID token with scope https://signalr.azure.cn/.default"); authority
//!   `https://login.chinacloudapi.cn` (azure_identity's and Azure.Identity's `AzureChina`).
//! - Azure Government: instances at `*.signalr.azure.us` (the private endpoint DNS zone
//!   `privatelink.signalr.azure.us` in "Azure Private Endpoint private DNS zone values");
//!   authority `https://login.microsoftonline.us` ("Compare Azure Government and global Azure":
//!   Azure Active Directory, and azure_identity's `AzureGovernment`). The scope
//!   `https://signalr.azure.us/.default` follows the service's naming in the other two clouds
//!   (`signalr.azure.com`, `signalr.azure.cn`); no Microsoft page we found states it word for
//!   word, which is one reason `SIGNALR_ENTRA_SCOPE` exists.
//!
//! Any other host (a loopback emulator, a custom domain, a private cloud) gets the public
//! cloud's values, as the SDK does for every endpoint, unless the settings say otherwise.

use std::fmt;

use super::ChainSettings;
use crate::product::Service;

/// An Azure cloud, as the host of `Endpoint` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    /// `*.service.signalr.net`.
    Public,
    /// `*.signalr.azure.cn`.
    China,
    /// `*.signalr.azure.us`.
    Government,
    /// Any other host: the public cloud's values apply.
    Unrecognised,
}

impl Cloud {
    /// The cloud of an endpoint of `service` by its host (a DNS name, compared without case).
    pub fn of_host(service: Service, host: &str) -> Self {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let under = |domain: &str| {
            host.strip_suffix(domain)
                .is_some_and(|name| name.len() > 1 && name.ends_with('.'))
        };
        let [public, china, government] = service.domains();
        if under(public) {
            Self::Public
        } else if under(china) {
            Self::China
        } else if under(government) {
            Self::Government
        } else {
            Self::Unrecognised
        }
    }

    /// The scope of tokens for `service` in this cloud.
    pub fn scope(self, service: Service) -> &'static str {
        let [public, china, government] = service.scopes();
        match self {
            Self::Public | Self::Unrecognised => public,
            Self::China => china,
            Self::Government => government,
        }
    }

    /// The Microsoft Entra authority host of this cloud.
    pub fn authority_host(self) -> &'static str {
        match self {
            Self::Public | Self::Unrecognised => "https://login.microsoftonline.com",
            Self::China => "https://login.chinacloudapi.cn",
            Self::Government => "https://login.microsoftonline.us",
        }
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Public => "Azure public cloud",
            Self::China => "Azure China",
            Self::Government => "Azure Government",
            Self::Unrecognised => "not recognised from the host (Azure public cloud values)",
        })
    }
}

/// What the settings say for every Entra endpoint instead of the cloud's values
/// (`AZURE_AUTHORITY_HOST`, `SIGNALR_ENTRA_SCOPE`) and of the process environment (the
/// variables the default chain consults).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntraOverrides {
    /// `https://host[:port]`, without a trailing `/`.
    pub authority_host: Option<String>,
    /// A scope ending in `/.default`.
    pub scope: Option<String>,
    /// What `AuthType=azure`'s chain is given.
    pub default_chain: ChainSettings,
}

/// What one endpoint's credential asks Microsoft Entra for, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntraTarget {
    /// The cloud of the endpoint's host.
    pub cloud: Cloud,
    /// The scope tokens are requested for.
    pub scope: String,
    /// The authority host credentials other than a managed identity send to.
    pub authority_host: String,
    /// The scope came from `SIGNALR_ENTRA_SCOPE`.
    pub scope_overridden: bool,
    /// The authority came from `AZURE_AUTHORITY_HOST`.
    pub authority_overridden: bool,
    /// What `AuthType=azure`'s chain is given.
    pub default_chain: ChainSettings,
}

impl EntraTarget {
    /// The target of an endpoint of `service` whose `Endpoint` has this host.
    pub fn for_host(service: Service, host: &str, overrides: &EntraOverrides) -> Self {
        let cloud = Cloud::of_host(service, host);
        Self {
            cloud,
            scope: overrides
                .scope
                .clone()
                .unwrap_or_else(|| cloud.scope(service).to_owned()),
            authority_host: overrides
                .authority_host
                .clone()
                .unwrap_or_else(|| cloud.authority_host().to_owned()),
            scope_overridden: overrides.scope.is_some(),
            authority_overridden: overrides.authority_host.is_some(),
            default_chain: overrides.default_chain.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cloud_is_known_by_its_domain() {
        for (host, cloud) in [
            ("demo.service.signalr.net", Cloud::Public),
            ("Demo.Service.SignalR.NET", Cloud::Public),
            ("demo.service.signalr.net.", Cloud::Public),
            ("demo.privatelink.service.signalr.net", Cloud::Public),
            ("demo.signalr.azure.cn", Cloud::China),
            ("demo.service.signalr.azure.cn", Cloud::China),
            ("demo.signalr.azure.us", Cloud::Government),
            ("localhost", Cloud::Unrecognised),
            ("127.0.0.1", Cloud::Unrecognised),
            ("signalr.contoso.com", Cloud::Unrecognised),
            // The domain itself, look-alikes and the domain inside another name are not the cloud.
            ("service.signalr.net", Cloud::Unrecognised),
            (".service.signalr.net", Cloud::Unrecognised),
            ("signalr.azure.cn", Cloud::Unrecognised),
            ("demoservice.signalr.net", Cloud::Unrecognised),
            ("demo-signalr.azure.us", Cloud::Unrecognised),
            ("demo.signalr.azure.cn.example.com", Cloud::Unrecognised),
            ("demo.signalr.azure.us.evil", Cloud::Unrecognised),
        ] {
            assert_eq!(Cloud::of_host(Service::SignalR, host), cloud, "{host}");
        }
    }

    #[test]
    fn each_cloud_has_its_scope_and_authority() {
        let target = |host| EntraTarget::for_host(Service::SignalR, host, &EntraOverrides::default());
        let public = target("a.service.signalr.net");
        assert_eq!(public.scope, "https://signalr.azure.com/.default");
        assert_eq!(public.authority_host, "https://login.microsoftonline.com");
        let china = target("a.signalr.azure.cn");
        assert_eq!(china.cloud, Cloud::China);
        assert_eq!(china.scope, "https://signalr.azure.cn/.default");
        assert_eq!(china.authority_host, "https://login.chinacloudapi.cn");
        let government = target("a.signalr.azure.us");
        assert_eq!(government.scope, "https://signalr.azure.us/.default");
        assert_eq!(government.authority_host, "https://login.microsoftonline.us");
        let other = target("127.0.0.1");
        assert_eq!(
            (other.scope.as_str(), other.authority_host.as_str()),
            (public.scope.as_str(), public.authority_host.as_str())
        );
        assert!(!other.scope_overridden && !other.authority_overridden);
    }

    #[test]
    fn web_pubsub_instances_have_their_own_domains_and_scopes() {
        let target = |host| EntraTarget::for_host(Service::WebPubSub, host, &EntraOverrides::default());
        for (host, cloud, scope, authority) in [
            (
                "a.webpubsub.azure.com",
                Cloud::Public,
                "https://webpubsub.azure.com/.default",
                "https://login.microsoftonline.com",
            ),
            (
                "a.webpubsub.azure.cn",
                Cloud::China,
                "https://webpubsub.azure.cn/.default",
                "https://login.chinacloudapi.cn",
            ),
            (
                "a.webpubsub.azure.us",
                Cloud::Government,
                "https://webpubsub.azure.us/.default",
                "https://login.microsoftonline.us",
            ),
            (
                "localhost",
                Cloud::Unrecognised,
                "https://webpubsub.azure.com/.default",
                "https://login.microsoftonline.com",
            ),
        ] {
            let target = target(host);
            assert_eq!(
                (target.cloud, target.scope.as_str(), target.authority_host.as_str()),
                (cloud, scope, authority),
                "{host}"
            );
        }
        assert_eq!(
            Cloud::of_host(Service::WebPubSub, "a.service.signalr.net"),
            Cloud::Unrecognised,
            "a SignalR host is not a Web PubSub cloud's"
        );
    }

    #[test]
    fn settings_override_the_cloud_each_on_its_own() {
        let scope = EntraOverrides {
            authority_host: None,
            scope: Some("https://signalr.contoso.test/.default".into()),
            ..EntraOverrides::default()
        };
        let target = EntraTarget::for_host(Service::SignalR, "a.signalr.azure.cn", &scope);
        assert_eq!(target.cloud, Cloud::China);
        assert_eq!(target.scope, "https://signalr.contoso.test/.default");
        assert_eq!(target.authority_host, "https://login.chinacloudapi.cn");
        assert!(target.scope_overridden && !target.authority_overridden);
        let authority = EntraOverrides {
            authority_host: Some("https://login.sovereign.test".into()),
            scope: None,
            ..EntraOverrides::default()
        };
        let target = EntraTarget::for_host(Service::SignalR, "a.signalr.azure.us", &authority);
        assert_eq!(target.scope, "https://signalr.azure.us/.default");
        assert_eq!(target.authority_host, "https://login.sovereign.test");
        assert!(!target.scope_overridden && target.authority_overridden);
    }

    #[test]
    fn clouds_are_named_for_check() {
        assert_eq!(Cloud::China.to_string(), "Azure China");
        assert_eq!(Cloud::Government.to_string(), "Azure Government");
        assert_eq!(Cloud::Public.to_string(), "Azure public cloud");
        assert!(Cloud::Unrecognised.to_string().contains("public cloud values"));
    }
}
