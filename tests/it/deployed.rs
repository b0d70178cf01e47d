//! The binary where it is deployed: on a Function App in Azure no connection string stops the
//! start (the emulator's published key is for `func start` and the local server only), a
//! setting that is not text is refused by name, and the connection string is read under the
//! names the platforms use (`ConnectionStrings:…`, App Service's `CUSTOMCONNSTR_…`, the name
//! `SIGNALR_CONNECTION_STRING_SETTING` gives). The Lambda side is in `lambda_runtime`.

use std::ffi::OsStr;
use std::time::Duration;

use serde_json::Value;

use crate::common::{self, Function, KEY, assert_negotiated, connection_string, free_port, wait_ready};

/// Waits for the binary to exit; it must, with code 2. Returns what it printed.
fn exits_with_2(function: &mut Function, name: &str) -> String {
    let status = function.wait_exit(Duration::from_secs(10));
    let output = function.logs();
    let status = status.unwrap_or_else(|| panic!("{name}: started instead of refusing:\n{output}"));
    assert_eq!(status.code(), Some(2), "{name}: {output}");
    output
}

#[test]
fn a_deployed_function_app_without_a_connection_string_does_not_start() {
    let port = free_port().to_string();
    let mut function = Function::spawn(
        "deployed-no-cs",
        &[
            ("FUNCTIONS_CUSTOMHANDLER_PORT", &port),
            ("WEBSITE_INSTANCE_ID", "0a1b2c3d4e5f60718293a4b5c6d7e8f9"),
        ],
    );
    let output = exits_with_2(&mut function, "deployed-no-cs");
    assert!(
        output.contains(
            "signalr-negotiate: setting AzureSignalRConnectionString: is not set, nor any other connection string: in \
            a Function App in Azure (WEBSITE_INSTANCE_ID is set) one is required (looked for \
            AzureSignalRConnectionString (or CUSTOMCONNSTR_AzureSignalRConnectionString), \
            Azure__SignalR__ConnectionString"
        ),
        "{output}"
    );
    assert!(!output.contains("localhost:8999"), "{output}");
}

#[test]
fn a_setting_that_is_not_text_is_refused_by_name() {
    use std::os::unix::ffi::OsStrExt as _;
    let value = format!("Endpoint=https://demo.service.signalr.net;AccessKey={KEY}\u{0};Version=1.0;");
    // A Latin-1 é in the middle: not UTF-8.
    let mut bytes = value.into_bytes();
    let nul = bytes.iter().position(|&b| b == 0).unwrap();
    bytes[nul] = 0xe9;
    for name in [
        "AzureSignalRConnectionString",
        "CUSTOMCONNSTR_AzureSignalRConnectionString",
        "SIGNALR_HUBS",
    ] {
        let listen = format!("127.0.0.1:{}", free_port());
        let mut function = Function::spawn_with_raw(
            "not-text",
            &[("SIGNALR_LISTEN", &listen)],
            &[(name, OsStr::from_bytes(&bytes))],
        );
        let output = exits_with_2(&mut function, name);
        assert!(
            output.contains(&format!("setting {name}: is not valid UTF-8 text")),
            "{name}: {output}"
        );
    }
}

/// Starts the binary as a custom handler under `func start` with `env`, and negotiates once.
async fn negotiates_with(name: &str, env: &[(&str, &str)], expected_endpoint: &str) -> Function {
    let port = free_port();
    let port_text = port.to_string();
    let env: Vec<(&str, &str)> = [("FUNCTIONS_CUSTOMHANDLER_PORT", port_text.as_str())]
        .into_iter()
        .chain(env.iter().copied())
        .collect();
    let mut function = Function::spawn(name, &env);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    wait_ready(&client, &base, &mut function).await;
    let response = client.post(format!("{base}/api/chat/negotiate")).send().await.unwrap();
    assert_eq!(response.status(), 200, "{name}");
    let body: Value = response.json().await.unwrap();
    assert_negotiated(&body, expected_endpoint, expected_endpoint, "chat");
    function
}

#[tokio::test]
async fn the_platforms_names_for_the_connection_string_are_read() {
    let demo = connection_string("https://demo.service.signalr.net");
    // The portal's Connection strings (type Custom), on a deployed Function App.
    negotiates_with(
        "customconnstr",
        &[
            ("WEBSITE_INSTANCE_ID", "0a1b2c3d4e5f60718293a4b5c6d7e8f9"),
            ("CUSTOMCONNSTR_AzureSignalRConnectionString", &demo),
        ],
        "https://demo.service.signalr.net",
    )
    .await;
    // local.settings.json's ConnectionStrings section, as func start passes it.
    negotiates_with(
        "connection-strings-section",
        &[("ConnectionStrings:AzureSignalRConnectionString", &demo)],
        "https://demo.service.signalr.net",
    )
    .await;
    // The binding's ConnectionStringSetting: another setting holds it.
    let chat = connection_string("https://chat.service.signalr.net");
    let function = negotiates_with(
        "connection-string-setting",
        &[
            ("SIGNALR_CONNECTION_STRING_SETTING", "ChatSignalR"),
            ("ChatSignalR", &chat),
            ("AzureSignalRConnectionString", &demo),
        ],
        "https://chat.service.signalr.net",
    )
    .await;
    let logs = function.logs_with("is set but not read");
    assert!(
        logs.contains(
            "AzureSignalRConnectionString is set but not read: SIGNALR_CONNECTION_STRING_SETTING names ChatSignalR"
        ),
        "{logs}"
    );
}

#[test]
fn two_names_with_different_connection_strings_stop_the_start() {
    let listen = format!("127.0.0.1:{}", free_port());
    let demo = connection_string("https://demo.service.signalr.net");
    let other = connection_string("https://other.service.signalr.net");
    let mut function = Function::spawn(
        "two-connection-strings",
        &[
            ("SIGNALR_LISTEN", &listen),
            ("AzureSignalRConnectionString", &demo),
            ("CUSTOMCONNSTR_AzureSignalRConnectionString", &other),
        ],
    );
    let output = exits_with_2(&mut function, "two-connection-strings");
    assert!(
        output.contains(
            "setting AzureSignalRConnectionString: differs from CUSTOMCONNSTR_AzureSignalRConnectionString: set the \
            connection string in one of them only"
        ),
        "{output}"
    );
}

/// `check` says where the connection string came from, by name.
#[test]
fn check_names_the_source_of_the_connection_string() {
    let demo = connection_string("https://demo.service.signalr.net");
    let (_, output) = common::run_binary(&["check"], &[("CUSTOMCONNSTR_AzureSignalRConnectionString", &demo)]);
    assert!(
        output.contains("endpoint (default) (primary), from CUSTOMCONNSTR_AzureSignalRConnectionString"),
        "{output}"
    );
    assert!(
        output.contains("  CUSTOMCONNSTR_AzureSignalRConnectionString = (set, not shown)"),
        "{output}"
    );
    assert!(!output.contains(KEY), "{output}");
}
