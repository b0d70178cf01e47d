//! The client URL and the audience: built from any valid connection string and any hub that
//! `HubName::parse` accepts, the URL keeps host, port and path and carries exactly two query
//! parameters.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use signalr_negotiate::{ConnectionString, EndpointType, HubName, ServiceEndpoint};
use url::Url;

use super::config;
use super::connection_string::{ValidCs, valid_cs};
use super::hub_name::{any_hub, valid_hub};

fn check_client_url(model: &ValidCs, service_hub: &str, request_id: &str) -> Result<(), TestCaseError> {
    let cs: ConnectionString = model.text().parse().map_err(|e| TestCaseError::fail(format!("{e}")))?;
    let endpoint = ServiceEndpoint::new("", EndpointType::Primary, cs);
    let (base, port) = model.client_base();

    let written = endpoint.client_url(service_hub, request_id);
    let url = match Url::parse(&written) {
        Ok(url) => url,
        Err(error) => return Err(TestCaseError::fail(format!("{written:?} does not parse: {error}"))),
    };
    prop_assert_eq!(url.as_str(), written.as_str(), "the url is not in its normal form");
    prop_assert_eq!(url.scheme(), base.scheme());
    prop_assert_eq!(
        url.host().map(|host| host.to_owned()),
        Some(base.host.expected()),
        "{}",
        written
    );
    prop_assert_eq!(url.port_or_known_default(), Some(port), "{}", written);
    let expected_path = format!("{}/client/", base.encoded_path().trim_end_matches('/'));
    prop_assert_eq!(url.path(), expected_path, "{}", written);
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    prop_assert_eq!(
        pairs,
        vec![
            ("hub".to_owned(), service_hub.to_owned()),
            ("asrs_request_id".to_owned(), request_id.to_owned()),
        ],
        "{}",
        written
    );
    prop_assert_eq!(url.fragment(), None);
    prop_assert!(url.username().is_empty() && url.password().is_none());

    let audience = endpoint.audience(service_hub);
    let parsed = match Url::parse(&audience) {
        Ok(url) => url,
        Err(error) => return Err(TestCaseError::fail(format!("{audience:?} does not parse: {error}"))),
    };
    prop_assert_eq!(
        parsed.host().map(|host| host.to_owned()),
        Some(model.endpoint.host.expected()),
        "{}",
        audience
    );
    let host = parsed.host_str().unwrap_or_default();
    prop_assert_eq!(
        &audience,
        &format!("{}://{host}/client/?hub={service_hub}", model.endpoint.scheme())
    );
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn the_client_url_keeps_host_port_path_and_exactly_two_query_parameters(
        model in valid_cs(),
        name in valid_hub(),
        application in prop::option::of("[A-Za-z][A-Za-z0-9_]{0,20}"),
        request_id in "[A-Za-z0-9_-]{1,32}",
    ) {
        let prefixed_len = application.as_ref().map_or(0, |app| app.len() + 1) + name.len();
        let service_hub = HubName::parse(&name).expect("a valid hub").service_name(application.as_deref());
        // `{application}_{hub}` follows the service's rule too: 128 characters at most.
        prop_assert_eq!(service_hub.is_ok(), prefixed_len <= 128, "{:?}", service_hub);
        if let Ok(service_hub) = service_hub {
            prop_assert_eq!(&service_hub, &service_hub.to_ascii_lowercase());
            check_client_url(&model, &service_hub, &request_id)?;
        }
    }

    #[test]
    fn no_hub_that_validate_accepts_injects_a_parameter_or_a_path(
        model in valid_cs(),
        name in any_hub(),
        request_id in "[A-Za-z0-9_-]{1,32}",
    ) {
        if let Ok(hub) = HubName::parse(&name) {
            let service_hub = hub.service_name(None).expect("a hub alone fits");
            check_client_url(&model, &service_hub, &request_id)?;
        }
    }
}
