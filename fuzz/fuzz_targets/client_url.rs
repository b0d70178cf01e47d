//! Client URLs and audiences from arbitrary endpoints and hubs.
//!
//! The input is UTF-8 text split on `\n` into `Endpoint`, `ClientEndpoint` (empty: none),
//! `Port` (empty: none) and the hub name. Whatever the parser accepts becomes a
//! `ServiceEndpoint`; its client URL must parse with the `url` crate, keep the scheme, host and
//! port of `ClientEndpoint` (else `Endpoint` with `Port`), be `{base path}/client/` with the
//! query `hub`, `asrs_request_id` and nothing else; the audience must be
//! `{scheme}://{host}/client/?hub={hub}` of `Endpoint` alone.

#![no_main]

use libfuzzer_sys::fuzz_target;
use signalr_negotiate::{ConnectionString, EndpointType, HubName, ServiceEndpoint};
use url::Url;

const REQUEST_ID: &str = "Fuzz_request-1";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(4, '\n');
    let endpoint = parts.next().unwrap_or_default();
    let client = parts.next().unwrap_or_default();
    let port = parts.next().unwrap_or_default();
    let name = parts.next().unwrap_or_default();

    let mut setting = format!("Endpoint={endpoint};AccessKey=fuzz-access-key");
    if !client.is_empty() {
        setting.push_str(";ClientEndpoint=");
        setting.push_str(client);
    }
    if !port.is_empty() {
        setting.push_str(";Port=");
        setting.push_str(port);
    }
    let Ok(cs) = setting.parse::<ConnectionString>() else {
        return;
    };
    // An invalid hub never reaches the URL; keep exercising the endpoint with a valid one.
    let hub = HubName::parse(name).unwrap_or_else(|_| HubName::parse("Hub").expect("a valid name"));
    let service_hub = hub.service_name(None).expect("a hub alone fits the service rule");

    let expected = cs.client_endpoint.clone().unwrap_or_else(|| {
        let mut endpoint = cs.endpoint.clone();
        if let Some(port) = cs.port {
            endpoint
                .set_port(Some(port))
                .expect("an http(s) URL with a host takes a port");
        }
        endpoint
    });
    let audience_host = cs.endpoint.host_str().expect("Endpoint has a host").to_owned();
    let audience_scheme = cs.endpoint.scheme().to_owned();
    let service = ServiceEndpoint::new("", EndpointType::Primary, cs);

    let written = service.client_url(&service_hub, REQUEST_ID);
    let url = Url::parse(&written).unwrap_or_else(|error| panic!("{written:?} does not parse: {error}"));
    assert_eq!(url.scheme(), expected.scheme(), "{written}");
    assert_eq!(url.host(), expected.host(), "{written}");
    assert_eq!(
        url.port_or_known_default(),
        expected.port_or_known_default(),
        "{written}"
    );
    assert_eq!(
        url.path(),
        format!("{}/client/", expected.path().trim_end_matches('/')),
        "{written}"
    );
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert_eq!(
        pairs,
        [
            ("hub".to_owned(), service_hub.clone()),
            ("asrs_request_id".to_owned(), REQUEST_ID.to_owned())
        ],
        "{written}"
    );
    assert_eq!(url.fragment(), None, "{written}");

    let audience = service.audience(&service_hub);
    assert_eq!(
        audience,
        format!("{audience_scheme}://{audience_host}/client/?hub={service_hub}")
    );
    let parsed = Url::parse(&audience).unwrap_or_else(|error| panic!("{audience:?} does not parse: {error}"));
    assert_eq!(parsed.host_str(), Some(audience_host.as_str()), "{audience}");
    assert_eq!(parsed.port(), None, "{audience}");
});
