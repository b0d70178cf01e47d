//! The binary as an Azure Functions custom handler: started with `FUNCTIONS_CUSTOMHANDLER_PORT`,
//! probed with `GET /` until ready, then sent requests the way the Functions host forwards them.

use std::time::Duration;

use serde_json::Value;

use crate::common::{self, Function, KEY, assert_negotiated, connection_string, free_port, wait_ready};

/// Headers the Functions host adds to a forwarded request (the client's own are kept).
fn forwarded(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    request
        .header("X-Azure-Functions-HostVersion", "4.1040.300.0")
        .header("X-Azure-Functions-InvocationId", "4a1c5b6e-8f3d-4e2a-9b7c-0d1e2f3a4b5c")
        .header("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        .header("X-Forwarded-For", "203.0.113.7:50432")
        .header(
            "X-SignalR-User-Agent",
            "Microsoft SignalR/10.0 (10.0.11; Linux; NodeJS; 20.20.2)",
        )
}

/// Sends a request as the Functions host forwards it: its status and JSON body.
async fn send_forwarded(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = forwarded(request).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn answers_negotiate_as_a_custom_handler_and_stops_cleanly_on_sigterm() {
    let port = free_port();
    let port_text = port.to_string();
    let cs = connection_string("https://demo.service.signalr.net");
    let mut function = Function::spawn(
        "functions-host",
        &[
            ("FUNCTIONS_CUSTOMHANDLER_PORT", &port_text),
            ("AzureSignalRConnectionString", &cs),
            ("SIGNALR_HUB", "news"),
            ("SIGNALR_LISTEN", "127.0.0.1:1"), // ignored: the Functions port wins
            ("RUST_LOG", "info"),
        ],
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    wait_ready(&client, &base, &mut function).await;

    let response = forwarded(client.post(format!("{base}/api/Chat/negotiate?negotiateVersion=1")))
        .header("Content-Length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_negotiated(
        &body,
        "https://demo.service.signalr.net",
        "https://demo.service.signalr.net",
        "chat",
    );

    // The default route: /api/negotiate takes the hub from SIGNALR_HUB.
    let demo = "https://demo.service.signalr.net";
    let (status, body) = send_forwarded(client.post(format!("{base}/api/negotiate"))).await;
    assert_eq!(status, 200);
    assert_negotiated(&body, demo, demo, "news");

    // A refusal is JSON too.
    let (status, body) = send_forwarded(client.post(format!("{base}/api/a%26b%3Dc/negotiate"))).await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("hub name"), "{body}");

    // The host's forwarding joins a repeated parameter's values with a comma (`?hub=a&hub=b`
    // arrives as `?hub=a%2Cb`): which hub was meant cannot be told, so it is refused.
    let (status, body) =
        send_forwarded(client.post(format!("{base}/api/negotiate?hub=a%2Cb&negotiateVersion=1"))).await;
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().contains("/{prefix}/{hub}/negotiate"),
        "{body}"
    );
    // A hub with a comma still works in the path, where the host changes nothing.
    let (status, body) = send_forwarded(client.post(format!("{base}/api/a,b/negotiate"))).await;
    assert_eq!(status, 200);
    assert_negotiated(&body, demo, demo, "a,b");

    // function.json lists no methods, so the host forwards every method and ours answer.
    let response = forwarded(client.delete(format!("{base}/api/chat/negotiate")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET, POST");
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].as_str().is_some(), "{body}");

    // Logs are JSON lines under the Functions host, and carry no secret.
    function.terminate();
    let status = function
        .wait_exit(Duration::from_secs(10))
        .expect("exits after SIGTERM");
    assert!(status.success(), "exit status {status}");
    let logs = function.logs();
    assert!(!logs.contains(KEY), "the key was logged:\n{logs}");
    let lines = common::json_lines(&logs);
    assert!(
        lines.iter().any(|line| line["message"] == "negotiate"
            && line["hub"] == "chat"
            && line["status"] == 200
            && line["request_id"] == "4a1c5b6e-8f3d-4e2a-9b7c-0d1e2f3a4b5c"),
        "{logs}"
    );
}

/// Through the binary as the Functions host reaches it: the readiness probe, a preflight (405
/// without `SIGNALR_CORS_ORIGINS`), the router's 404 and 405, a refusal and a token all say
/// `Cache-Control: no-store`.
#[tokio::test]
async fn every_answer_under_the_functions_host_is_never_cached() {
    let port = free_port();
    let port_text = port.to_string();
    let cs = connection_string("https://demo.service.signalr.net");
    let mut function = Function::spawn(
        "functions-host-no-store",
        &[
            ("FUNCTIONS_CUSTOMHANDLER_PORT", &port_text),
            ("AzureSignalRConnectionString", &cs),
        ],
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    wait_ready(&client, &base, &mut function).await;
    let requests = [
        client.get(format!("{base}/")),
        client.head(format!("{base}/")),
        client.get(format!("{base}/api/nowhere")),
        client.delete(format!("{base}/api/chat/negotiate")),
        client.post(format!("{base}/api/a%26b/negotiate")),
        client.post(format!("{base}/api/chat/negotiate")),
        client
            .request(reqwest::Method::OPTIONS, format!("{base}/api/chat/negotiate"))
            .header("origin", "http://localhost:8080")
            .header("access-control-request-method", "POST"),
    ];
    for request in requests {
        let response = forwarded(request).send().await.unwrap();
        let (status, url) = (response.status(), response.url().clone());
        assert_eq!(
            response.headers().get("cache-control").map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{url}: {status} {:?}",
            response.headers()
        );
    }
}

/// The negotiate line names the unnamed endpoint as `check` does and carries the trace id of
/// the host's `traceparent` (Application Insights' operation id), and only when the header has
/// the W3C form: anything else a client put there is not logged.
#[tokio::test]
async fn the_negotiate_line_names_the_endpoint_and_carries_the_trace_id() {
    let port = free_port();
    let port_text = port.to_string();
    let cs = connection_string("https://demo.service.signalr.net");
    let mut function = Function::spawn(
        "functions-host-trace",
        &[
            ("FUNCTIONS_CUSTOMHANDLER_PORT", &port_text),
            ("AzureSignalRConnectionString", &cs),
            ("RUST_LOG", "info"),
        ],
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    wait_ready(&client, &base, &mut function).await;
    // `forwarded` sends the host's traceparent: a negotiate and a refusal.
    let (status, _) = send_forwarded(client.post(format!("{base}/api/chat/negotiate"))).await;
    assert_eq!(status, 200);
    let (status, _) = send_forwarded(client.post(format!("{base}/api/a%26b/negotiate"))).await;
    assert_eq!(status, 400);
    // A traceparent that is not W3C's: not logged.
    let forged = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\",\"level\":\"ERROR";
    let response = client
        .post(format!("{base}/api/news/negotiate"))
        .header("traceparent", forged)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    function.terminate();
    function
        .wait_exit(Duration::from_secs(10))
        .expect("exits after SIGTERM");
    let logs = function.logs();
    let lines = common::json_lines(&logs);
    let line = |message: &str, hub: Option<&str>| {
        lines
            .iter()
            .find(|line| line["message"] == message && hub.is_none_or(|hub| line["hub"] == hub))
            .unwrap_or_else(|| panic!("no {message} line for {hub:?}:\n{logs}"))
    };
    let trace = "0af7651916cd43dd8448eb211c80319c";
    let negotiated = line("negotiate", Some("chat"));
    assert_eq!(negotiated["endpoint"], "(default)", "{negotiated}");
    assert_eq!(negotiated["trace_id"], trace, "{negotiated}");
    assert_eq!(line("negotiate refused", None)["trace_id"], trace, "{logs}");
    let forged_line = line("negotiate", Some("news"));
    assert!(forged_line.get("trace_id").is_none(), "{forged_line}");
}

/// `local.settings.example.json` leaves CORS to the function, as the README says: no `Host.CORS`
/// (with it, `func start` would answer every preflight itself, before the handler), and the
/// origins it lists in `SIGNALR_CORS_ORIGINS` get their preflight from the binary, started with
/// the file's values as `func start` passes them.
#[tokio::test]
async fn the_example_local_settings_leave_cors_to_the_function() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/functions/local.settings.example.json");
    let example: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for key in ["CORS", "CORSCredentials"] {
        assert!(
            example["Host"].get(key).is_none(),
            "{path}: Host.{key} makes func start answer preflights itself"
        );
    }
    let values: Vec<(String, String)> = example["Values"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, value)| (name.clone(), value.as_str().unwrap().to_owned()))
        .collect();
    let origins = values
        .iter()
        .find(|(name, _)| name == "SIGNALR_CORS_ORIGINS")
        .map(|(_, list)| list.clone())
        .expect("the example shows SIGNALR_CORS_ORIGINS");
    let port = free_port().to_string();
    let mut env: Vec<(&str, &str)> = values
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    env.push(("FUNCTIONS_CUSTOMHANDLER_PORT", &port));
    let mut function = Function::spawn("functions-example-settings", &env);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    wait_ready(&client, &base, &mut function).await;
    for origin in origins.split(',').map(str::trim) {
        let response = forwarded(client.request(reqwest::Method::OPTIONS, format!("{base}/api/chat/negotiate")))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{origin}: {}", response.status());
        assert_eq!(response.headers()["access-control-allow-origin"], origin);
        assert_eq!(response.headers()["access-control-allow-credentials"], "true");
    }
}
