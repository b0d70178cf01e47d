//! Hub names: `HubName::parse` accepts exactly `^[A-Za-z][A-Za-z0-9_`,.\[\]]{0,127}$` (checked against
//! a definition written here without regexes), and an accepted name, lower-cased, stays the
//! value of `hub` in the client URL: no other query parameter, no other path.

#![no_main]

use libfuzzer_sys::fuzz_target;
use signalr_negotiate::{ConnectionString, EndpointType, HubName, HubNameError, ServiceEndpoint};
use url::Url;

fuzz_target!(|data: &[u8]| {
    let Ok(name) = std::str::from_utf8(data) else {
        return;
    };
    let result = HubName::parse(name);
    assert_eq!(result.is_ok(), matches_service_rule(name), "{name:?}: {result:?}");
    assert_eq!(
        result == Err(HubNameError::Empty),
        name.is_empty(),
        "{name:?}: {result:?}"
    );
    let Ok(hub) = result else {
        return;
    };
    let service_hub = hub.service_name(None).expect("a hub alone fits the service rule");
    let lower: String = name.chars().map(|c| c.to_ascii_lowercase()).collect();
    assert_eq!(service_hub, lower);

    let cs: ConnectionString = "Endpoint=https://fuzz.service.signalr.net/base/;AccessKey=fuzz-key"
        .parse()
        .expect("a fixed valid connection string");
    let endpoint = ServiceEndpoint::new("", EndpointType::Primary, cs);
    let url = Url::parse(&endpoint.client_url(&service_hub, "rid")).expect("the client url parses");
    assert_eq!(url.host_str(), Some("fuzz.service.signalr.net"));
    assert_eq!(url.path(), "/base/client/");
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert_eq!(
        pairs,
        [
            ("hub".to_owned(), lower.clone()),
            ("asrs_request_id".to_owned(), "rid".to_owned())
        ]
    );
    assert_eq!(url.fragment(), None);
    assert_eq!(
        endpoint.audience(&service_hub),
        format!("https://fuzz.service.signalr.net/client/?hub={lower}")
    );
});

/// The service's rule, spelled out: a letter, then at most 127 of letters, digits and `` _`,.[] ``.
fn matches_service_rule(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let letter = |c: char| c.is_ascii_lowercase() || c.is_ascii_uppercase();
    let rest_ok = |c: char| letter(c) || c.is_ascii_digit() || "_`,.[]".contains(c);
    letter(first) && name.chars().count() <= 128 && chars.all(rest_ok)
}
