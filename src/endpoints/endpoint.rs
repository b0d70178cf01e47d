//! A service endpoint: one Azure SignalR instance as clients and this function reach it.
//!
//! Everything a negotiate needs from the endpoint's URLs is computed once, when the
//! configuration is loaded: the client URL prefix (`ClientEndpoint`, else `Endpoint` with
//! `Port` applied), the audience prefix (scheme and host of `Endpoint` only, as the service
//! checks it), and the base of the REST API (`ServerEndpoint`, else `Endpoint` with `Port`).

use std::fmt;

use url::Url;

use super::{Authentication, ConnectionString};

/// What follows the audience base in a client token's `aud`, before the hub.
const CLIENT_AUDIENCE_PATH: &str = "/client/?hub=";

/// Primary endpoints take clients; secondary ones only when no primary is online.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointType {
    /// Takes clients whenever online.
    Primary,
    /// Takes clients only when no primary is online.
    Secondary,
}

impl fmt::Display for EndpointType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EndpointType::Primary => "primary",
            EndpointType::Secondary => "secondary",
        })
    }
}

/// One Azure SignalR instance: its name and type, the URLs a negotiate needs, and how its
/// tokens are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEndpoint {
    name: String,
    /// The setting this endpoint was read from (for messages; never its value).
    source: String,
    endpoint_type: EndpointType,
    /// `Endpoint` with `Port`, without a trailing `/`: what identifies the instance.
    endpoint_url: String,
    /// The host of `Endpoint` (lower-case): it names the instance's cloud.
    host: String,
    /// `{ClientEndpoint | Endpoint+Port}/client/?hub=`
    client_url_prefix: String,
    /// `{scheme}://{host}/client/?hub=` of `Endpoint`
    audience_prefix: String,
    /// `ServerEndpoint`, else `Endpoint` with `Port`, without a trailing `/`.
    server_base: String,
    auth: Authentication,
}

impl ServiceEndpoint {
    /// The endpoint of a connection string, under a name (empty for the unnamed one).
    pub fn new(name: impl Into<String>, endpoint_type: EndpointType, cs: ConnectionString) -> Self {
        let mut endpoint = cs.endpoint;
        if let Some(port) = cs.port {
            // A URL with an http(s) scheme and a host always takes a port.
            let _ = endpoint.set_port(Some(port));
        }
        let endpoint_base = base_of(&endpoint);
        let client_base = cs
            .client_endpoint
            .as_ref()
            .map_or_else(|| endpoint_base.clone(), base_of);
        let server_base = cs
            .server_endpoint
            .as_ref()
            .map_or_else(|| endpoint_base.clone(), base_of);
        let audience_prefix = format!(
            "{}://{}{CLIENT_AUDIENCE_PATH}",
            endpoint.scheme(),
            endpoint.host_str().unwrap_or_default()
        );
        Self {
            name: name.into(),
            source: String::new(),
            endpoint_type,
            client_url_prefix: format!("{client_base}/client/?hub="),
            endpoint_url: endpoint_base,
            host: endpoint.host_str().unwrap_or_default().to_owned(),
            audience_prefix,
            server_base,
            auth: cs.auth,
        }
    }

    /// Records the setting the endpoint was read from.
    pub fn with_source(mut self, setting: impl Into<String>) -> Self {
        self.source = setting.into();
        self
    }

    /// The setting this endpoint was read from, which messages name (never its value).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The name given in configuration (empty for the single unnamed endpoint).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Primary or secondary.
    pub fn endpoint_type(&self) -> EndpointType {
        self.endpoint_type
    }

    /// How tokens for this endpoint are obtained.
    pub fn auth(&self) -> &Authentication {
        &self.auth
    }

    /// `Endpoint` with `Port` applied: endpoints with the same one are the same instance.
    pub fn endpoint_url(&self) -> &str {
        &self.endpoint_url
    }

    /// The host of `Endpoint`, lower-case (IPv6 in brackets): it names the instance's cloud.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `ClientEndpoint`, else `Endpoint` with `Port`, without a trailing `/`: where clients
    /// connect.
    pub fn client_base(&self) -> &str {
        &self.client_url_prefix[..self.client_url_prefix.len() - "/client/?hub=".len()]
    }

    /// Base URL of the service's REST API and health probe.
    pub fn server_base(&self) -> &str {
        &self.server_base
    }

    /// `{scheme}://{host}` of `Endpoint`: what every `aud` the service checks starts with, the
    /// REST API's included (the SDK's `AudienceBaseUrl`, without its trailing `/`).
    pub fn audience_base(&self) -> &str {
        &self.audience_prefix[..self.audience_prefix.len() - CLIENT_AUDIENCE_PATH.len()]
    }

    /// Whether `other` is this endpoint with another access key: the same name, type and URLs,
    /// and both signed with a key (what a rotated connection string may change while serving).
    /// The audience and the host follow from `endpoint_url`.
    pub fn differs_only_in_key(&self, other: &Self) -> bool {
        matches!(
            (&self.auth, &other.auth),
            (Authentication::AccessKey(_), Authentication::AccessKey(_))
        ) && self.name == other.name
            && self.endpoint_type == other.endpoint_type
            && self.endpoint_url == other.endpoint_url
            && self.client_url_prefix == other.client_url_prefix
            && self.server_base == other.server_base
    }

    /// The URL a client is redirected to, for an already normalised (lower-case) service hub.
    pub fn client_url(&self, service_hub: &str, request_id: &str) -> String {
        const REQUEST_ID: &str = "&asrs_request_id=";
        let mut url = String::with_capacity(
            self.client_url_prefix.len() + service_hub.len() + REQUEST_ID.len() + request_id.len(),
        );
        url.push_str(&self.client_url_prefix);
        url.push_str(service_hub);
        url.push_str(REQUEST_ID);
        url.push_str(request_id);
        url
    }

    /// The `aud` claim the service expects for a hub.
    pub fn audience(&self, service_hub: &str) -> String {
        let mut aud = String::with_capacity(self.audience_prefix.len() + service_hub.len());
        aud.push_str(&self.audience_prefix);
        aud.push_str(service_hub);
        aud
    }
}

/// `scheme://host[:port]/path`, default port omitted, without a trailing `/`.
fn base_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    let path = url.path().trim_end_matches('/');
    match url.port() {
        Some(port) => format!("{}://{host}:{port}{path}", url.scheme()),
        None => format!("{}://{host}{path}", url.scheme()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(text: &str) -> ServiceEndpoint {
        ServiceEndpoint::new("", EndpointType::Primary, text.parse().unwrap())
    }

    #[test]
    fn only_a_new_key_is_a_rotation() {
        let e = endpoint("Endpoint=https://a;ClientEndpoint=https://c;ServerEndpoint=https://s;AccessKey=k1");
        assert!(e.differs_only_in_key(&endpoint(
            "Endpoint=https://a;ClientEndpoint=https://c;ServerEndpoint=https://s;AccessKey=k2;Version=1.0"
        )));
        for moved in [
            "Endpoint=https://b;ClientEndpoint=https://c;ServerEndpoint=https://s;AccessKey=k2",
            "Endpoint=https://a;Port=444;ClientEndpoint=https://c;ServerEndpoint=https://s;AccessKey=k2",
            "Endpoint=https://a;ServerEndpoint=https://s;AccessKey=k2",
            "Endpoint=https://a;ClientEndpoint=https://c;AccessKey=k2",
            "Endpoint=https://a;ClientEndpoint=https://c;ServerEndpoint=https://s;AuthType=azure.msi",
        ] {
            assert!(!e.differs_only_in_key(&endpoint(moved)), "{moved}");
        }
        let msi = endpoint("Endpoint=https://a;ClientEndpoint=https://c;ServerEndpoint=https://s;AuthType=azure.msi");
        assert!(
            !msi.differs_only_in_key(&msi.clone()),
            "an Entra endpoint has no key to rotate"
        );
        let named = ServiceEndpoint::new(
            "east",
            EndpointType::Primary,
            "Endpoint=https://a;AccessKey=k".parse().unwrap(),
        );
        let secondary = ServiceEndpoint::new(
            "east",
            EndpointType::Secondary,
            "Endpoint=https://a;AccessKey=k".parse().unwrap(),
        );
        let other = ServiceEndpoint::new(
            "west",
            EndpointType::Primary,
            "Endpoint=https://a;AccessKey=k".parse().unwrap(),
        );
        assert!(named.differs_only_in_key(&named.clone()));
        assert!(!named.differs_only_in_key(&secondary) && !named.differs_only_in_key(&other));
    }

    #[test]
    fn port_applies_to_the_client_url_but_not_the_audience() {
        let e = endpoint("Endpoint=http://localhost;Port=8999;AccessKey=k");
        assert_eq!(
            e.client_url("chat", "RID"),
            "http://localhost:8999/client/?hub=chat&asrs_request_id=RID"
        );
        assert_eq!(e.audience("chat"), "http://localhost/client/?hub=chat");
        assert_eq!(e.audience_base(), "http://localhost");
        assert_eq!(e.server_base(), "http://localhost:8999");
    }

    #[test]
    fn client_endpoint_moves_the_url_but_not_the_audience() {
        let e = endpoint("Endpoint=https://a.service.signalr.net;ClientEndpoint=https://proxy/sig;AccessKey=k");
        assert_eq!(
            e.client_url("chat", "x"),
            "https://proxy/sig/client/?hub=chat&asrs_request_id=x"
        );
        assert_eq!(e.audience("chat"), "https://a.service.signalr.net/client/?hub=chat");
        assert_eq!(e.server_base(), "https://a.service.signalr.net");
    }

    #[test]
    fn port_does_not_apply_to_client_or_server_endpoints() {
        let e = endpoint(
            "Endpoint=https://a;Port=444;ClientEndpoint=https://proxy:8443;ServerEndpoint=http://internal;AccessKey=k",
        );
        assert_eq!(
            e.client_url("h", "r"),
            "https://proxy:8443/client/?hub=h&asrs_request_id=r"
        );
        assert_eq!(e.server_base(), "http://internal");
        assert_eq!(e.audience("h"), "https://a/client/?hub=h");
    }

    #[test]
    fn exactly_one_slash_joins_a_base_path_and_client() {
        for client in ["https://proxy/sig", "https://proxy/sig/", "https://proxy/sig//"] {
            let e = endpoint(&format!("Endpoint=https://a;ClientEndpoint={client};AccessKey=k"));
            assert_eq!(
                e.client_url("h", "r"),
                "https://proxy/sig/client/?hub=h&asrs_request_id=r",
                "{client}"
            );
        }
        let e = endpoint("Endpoint=https://a/;AccessKey=k");
        assert_eq!(e.client_url("h", "r"), "https://a/client/?hub=h&asrs_request_id=r");
    }

    #[test]
    fn a_path_on_endpoint_is_kept_for_the_url_but_not_the_audience() {
        let e = endpoint("Endpoint=https://gw.example.com/signalr/;AccessKey=k");
        assert_eq!(
            e.client_url("h", "r"),
            "https://gw.example.com/signalr/client/?hub=h&asrs_request_id=r"
        );
        assert_eq!(e.audience("h"), "https://gw.example.com/client/?hub=h");
    }

    #[test]
    fn default_ports_are_omitted() {
        let e = endpoint("Endpoint=https://a;Port=443;AccessKey=k");
        assert_eq!(e.client_url("h", "r"), "https://a/client/?hub=h&asrs_request_id=r");
        let e = endpoint("Endpoint=http://a:80;AccessKey=k");
        assert_eq!(e.client_url("h", "r"), "http://a/client/?hub=h&asrs_request_id=r");
        let e = endpoint("Endpoint=http://a;Port=443;AccessKey=k");
        assert_eq!(e.client_url("h", "r"), "http://a:443/client/?hub=h&asrs_request_id=r");
    }

    #[test]
    fn an_explicit_port_in_endpoint_is_kept_in_the_url_only() {
        let e = endpoint("Endpoint=https://a:8443;AccessKey=k");
        assert_eq!(e.client_url("h", "r"), "https://a:8443/client/?hub=h&asrs_request_id=r");
        assert_eq!(e.audience("h"), "https://a/client/?hub=h");
    }

    #[test]
    fn hosts_are_lower_cased_and_ipv6_is_bracketed() {
        let e = endpoint("Endpoint=https://A.Service.SignalR.net;AccessKey=k");
        assert_eq!(e.audience("h"), "https://a.service.signalr.net/client/?hub=h");
        assert_eq!(e.host(), "a.service.signalr.net");
        let e = endpoint("Endpoint=http://[::1];Port=8999;AccessKey=k");
        assert_eq!(
            e.client_url("h", "r"),
            "http://[::1]:8999/client/?hub=h&asrs_request_id=r"
        );
        assert_eq!(e.audience("h"), "http://[::1]/client/?hub=h");
        assert_eq!(e.host(), "[::1]");
    }

    #[test]
    fn the_host_is_that_of_endpoint_not_of_the_client_or_server_endpoint() {
        let e = endpoint(
            "Endpoint=https://demo.signalr.azure.cn;Port=444;ClientEndpoint=http://127.0.0.1:81;\
            ServerEndpoint=http://127.0.0.1:82;AccessKey=k",
        );
        assert_eq!(e.host(), "demo.signalr.azure.cn");
    }
}
