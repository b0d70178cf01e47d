//! Log lines are written in batches off the request path; none is lost: every negotiate's line
//! reaches standard output before the process exits, SIGTERM included, on the local server
//! (text lines) and under the Functions host (JSON lines). A value from elsewhere (here a
//! provider's discovery document) stays one value of its line in either format.

use std::time::Duration;

use crate::common::oidc::{AUDIENCE, RSA_KID, TestIssuer};
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

/// A text line's fields after `message`: each ` name=value`, a quoted value unescaped as Rust's
/// `Debug` escapes a string (as tracing-subscriber writes string fields); panics on anything
/// else, such as a bare value holding a quote or a control character.
fn text_fields(line: &str, message: &str) -> Vec<(String, String)> {
    let at = line
        .find(message)
        .unwrap_or_else(|| panic!("no {message:?} in {line:?}"));
    let mut chars = line[at + message.len()..].chars().peekable();
    let mut fields = Vec::new();
    while let Some(space) = chars.next() {
        assert_eq!(space, ' ', "{line:?}");
        let name: String = chars.by_ref().take_while(|&c| c != '=').collect();
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next().unwrap_or_else(|| panic!("unterminated: {line:?}")) {
                    '"' => break,
                    '\\' => match chars.next().unwrap() {
                        'n' => value.push('\n'),
                        'r' => value.push('\r'),
                        't' => value.push('\t'),
                        'u' => {
                            let hex: String = chars.by_ref().skip(1).take_while(|&c| c != '}').collect();
                            value.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
                        }
                        other => value.push(other),
                    },
                    c => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek().filter(|&&c| c != ' ') {
                assert!(c.is_ascii_graphic() && c != '"' && c != '=', "bare {c:?} in {line:?}");
                value.push(c);
                chars.next();
            }
        }
        fields.push((name, value));
    }
    fields
}

/// The discovery document's `jwks_uri` is the provider's to write. When it is refused, the line
/// saying why holds it as one value: no field, line or terminal sequence of its own, on the
/// local server (text) and under the Functions host (JSON).
#[tokio::test]
async fn a_hostile_jwks_uri_stays_one_value_in_either_format() {
    let issuer = TestIssuer::start().await;
    let hostile = "ftp://keys.example.com/k level=ERROR forged=yes x=\"y\"\n2026-01-01T00:00:00.000000Z ERROR forged \
        line\r\u{1b}[2J\u{2028}{\"level\":\"ERROR\"}\u{85}end";
    issuer.set(|c| c.jwks_uri = Some(hostile.to_owned()));
    let token = issuer.rs256(RSA_KID, &issuer.claims("u"));
    let cs = connection_string("https://demo.service.signalr.net");
    let failed = "fetching the OIDC signing keys failed";
    for json in [false, true] {
        let port = free_port();
        let (host, value) = if json {
            ("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        } else {
            ("SIGNALR_LISTEN", format!("127.0.0.1:{port}"))
        };
        let mut function = Function::spawn(
            if json { "jwks-uri-json" } else { "jwks-uri-text" },
            &[
                (host, value.as_str()),
                ("AzureSignalRConnectionString", &cs),
                ("SIGNALR_AUTH", "oidc"),
                ("SIGNALR_OIDC_ISSUER", &issuer.issuer),
                ("SIGNALR_OIDC_AUDIENCE", AUDIENCE),
            ],
        );
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        wait_ready(&client, &base, &mut function).await;
        let answer = client
            .post(format!("{base}/api/chat/negotiate"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 401);
        let logs = function.logs_with(failed);
        assert!(!logs.contains(['\u{1b}', '\u{2028}', '\u{85}', '\r']), "{logs:?}");
        let fields: Vec<(String, String)> = if json {
            // Every line one object, the refused one with exactly its own fields (sorted by name).
            let lines = common::json_lines(&logs);
            let line = lines.iter().find(|line| line["message"] == failed).expect(failed);
            let object = line.as_object().unwrap();
            let names: Vec<&str> = object.keys().map(String::as_str).collect();
            assert_eq!(names, ["issuer", "level", "message", "reason", "timestamp"], "{line}");
            ["reason", "issuer"]
                .map(|name| (name.to_owned(), object[name].as_str().unwrap().to_owned()))
                .to_vec()
        } else {
            assert!(
                logs.lines()
                    .all(|line| line.starts_with("20") && line.as_bytes()[26] == b'Z'),
                "{logs}"
            );
            let line = logs.lines().find(|line| line.contains(failed)).unwrap();
            assert!(line[27..].starts_with("  WARN "), "{line}");
            text_fields(line, failed)
        };
        let names: Vec<&str> = fields.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["reason", "issuer"], "{logs}");
        assert!(fields[0].1.contains(hostile), "{fields:?}");
        assert_eq!(fields[1].1, issuer.issuer);
    }
}
