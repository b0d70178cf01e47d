//! Log lines are written in batches off the request path; none is lost: every negotiate's line
//! reaches standard output before the process exits, SIGTERM included, on the local server
//! (text lines) and under the Functions host (JSON lines).

use std::time::Duration;

use crate::common::{self, Function, connection_string, free_port, wait_ready};

const NEGOTIATES: usize = 400;

/// Sends `NEGOTIATES` negotiates, 8 at a time, stops the process with SIGTERM at once, and
/// returns what it logged.
async fn negotiate_then_terminate(name: &str, host: (&str, String), base: &str) -> String {
    let cs = connection_string("https://demo.service.signalr.net");
    let mut function = Function::spawn(
        name,
        &[
            (host.0, host.1.as_str()),
            ("AzureSignalRConnectionString", &cs),
            ("RUST_LOG", "info"),
        ],
    );
    let client = reqwest::Client::new();
    wait_ready(&client, base, &mut function).await;
    let url = format!("{base}/api/chat/negotiate");
    let mut sent = 0;
    while sent < NEGOTIATES {
        let batch: Vec<_> = (0..8.min(NEGOTIATES - sent))
            .map(|_| client.post(&url).send())
            .collect();
        for response in futures_util::future::join_all(batch).await {
            assert_eq!(response.unwrap().status(), 200);
        }
        sent += 8;
    }
    drop(client);
    function.terminate();
    let status = function
        .wait_exit(Duration::from_secs(10))
        .expect("exits after SIGTERM");
    assert!(status.success(), "{status}");
    function.logs()
}

#[tokio::test]
async fn no_line_is_lost_at_sigterm_on_the_local_server() {
    let listen = format!("127.0.0.1:{}", free_port());
    let logs = negotiate_then_terminate(
        "logs-local",
        ("SIGNALR_LISTEN", listen.clone()),
        &format!("http://{listen}"),
    )
    .await;
    let negotiates = logs
        .lines()
        .filter(|line| line.contains(" negotiate ") && line.contains("status=200"))
        .count();
    assert_eq!(negotiates, NEGOTIATES, "{logs}");
    assert!(
        logs.lines().last().is_some_and(|line| line.contains("stopped")),
        "{logs}"
    );
}

#[tokio::test]
async fn no_line_is_lost_at_sigterm_under_the_functions_host() {
    let port = free_port();
    let logs = negotiate_then_terminate(
        "logs-functions",
        ("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string()),
        &format!("http://127.0.0.1:{port}"),
    )
    .await;
    let lines = common::json_lines(&logs);
    let negotiates = lines
        .iter()
        .filter(|line| line["message"] == "negotiate" && line["status"] == 200)
        .count();
    assert_eq!(negotiates, NEGOTIATES, "{logs}");
    assert_eq!(lines.last().map(|line| line["message"].clone()), Some("stopped".into()));
}
