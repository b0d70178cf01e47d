//! Log lines are written in batches off the request path; none is lost: every negotiate's line
//! reaches standard output before the process exits, SIGTERM included, on the local server
//! (text lines) and under the Functions host (JSON lines). A standard output nobody reads holds
//! up neither a negotiate nor the exit, and what it could not take is counted. A value from
//! elsewhere (here a provider's discovery document) stays one value of its line in either format.

use std::io::Read as _;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::oidc::{AUDIENCE, RSA_KID, TestIssuer};
use crate::common::{self, BINARY, Function, connection_string, free_port, wait_ready};

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

/// The local server with its standard output a pipe that this test reads only when it chooses
/// to (standard error in a file); killed when dropped.
struct Piped {
    child: Child,
    stdout: Option<ChildStdout>,
    base: String,
}

/// Whole negotiates' lines that fill more than the log buffer (1 MiB) and the pipe (64 KiB):
/// a hub name this long makes a line of about 220 bytes.
const FLOOD: usize = 7_000;
const GRACE_MS: u64 = 1_000;

impl Piped {
    async fn start() -> Self {
        let listen = format!("127.0.0.1:{}", free_port());
        let log = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("piped-{listen}.err"));
        let mut child = Command::new(BINARY)
            .env_clear()
            .env("SIGNALR_LISTEN", &listen)
            .env(
                "AzureSignalRConnectionString",
                connection_string("https://demo.service.signalr.net"),
            )
            .env("SIGNALR_SHUTDOWN_GRACE_MS", GRACE_MS.to_string())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take();
        let base = format!("http://{listen}");
        let started = Instant::now();
        while reqwest::get(format!("{base}/")).await.is_err() {
            assert!(started.elapsed() < Duration::from_secs(15), "not ready in 15 s");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Self { child, stdout, base }
    }

    /// Sends `FLOOD` negotiates, 16 at a time; each must be answered 200 within a second.
    async fn flood(&self) {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let url = format!("{}/api/{}/negotiate", self.base, "h".repeat(120));
        let mut slowest = Duration::ZERO;
        for sent in (0..FLOOD).step_by(16) {
            let batch = (sent..FLOOD.min(sent + 16)).map(|_| async {
                let started = Instant::now();
                let status = client.post(&url).send().await.map(|answer| answer.status().as_u16());
                (status, started.elapsed())
            });
            for (status, took) in futures_util::future::join_all(batch).await {
                let status = status.unwrap_or_else(|error| panic!("after {sent} negotiates: {error}"));
                assert_eq!(status, 200, "after {sent} negotiates");
                slowest = slowest.max(took);
            }
        }
        assert!(slowest < Duration::from_secs(1), "a negotiate took {slowest:?}");
    }

    /// Sends SIGTERM; the exit status once it came, within the grace period and 2 s.
    fn terminate(&mut self) -> std::process::ExitStatus {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < Duration::from_millis(GRACE_MS) + Duration::from_secs(2),
                "still running {:?} after SIGTERM",
                started.elapsed()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Piped {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Standard output nobody reads (a stuck pipe): negotiates are still answered at once long
/// after the log buffer is full, and SIGTERM ends the process within the grace period.
#[tokio::test]
async fn a_sink_that_does_not_read_holds_up_no_negotiate_nor_the_exit() {
    let mut server = Piped::start().await;
    server.flood().await;
    assert!(server.terminate().success());
    drop(server.stdout.take());
}

/// Standard output that is read again after a pause: the lines it could not take are counted,
/// in one warning once it reads, and every negotiate is either a line or in the count.
#[tokio::test]
async fn dropped_lines_are_counted_once_the_sink_reads_again() {
    let mut server = Piped::start().await;
    server.flood().await;
    let read = Arc::new(Mutex::new(String::new()));
    let mut stdout = server.stdout.take().unwrap();
    let reader = std::thread::spawn({
        let read = Arc::clone(&read);
        move || {
            let mut buffer = [0; 64 * 1024];
            while let Ok(n @ 1..) = stdout.read(&mut buffer) {
                read.lock()
                    .unwrap()
                    .push_str(std::str::from_utf8(&buffer[..n]).unwrap());
            }
        }
    });
    let dropped = "log lines were dropped while the log sink was not reading";
    let started = Instant::now();
    while !read.lock().unwrap().contains(dropped) {
        assert!(started.elapsed() < Duration::from_secs(10), "no count in 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(server.terminate().success());
    reader.join().unwrap();
    let logs = read.lock().unwrap().clone();
    let counts: Vec<&str> = logs.lines().filter(|line| line.contains(dropped)).collect();
    assert_eq!(counts.len(), 1, "{counts:?}");
    assert!(counts[0][27..].starts_with("  WARN "), "{}", counts[0]);
    let fields = text_fields(counts[0], dropped);
    assert_eq!(fields.len(), 1, "{fields:?}");
    assert_eq!(fields[0].0, "dropped");
    let count: usize = fields[0].1.parse().unwrap();
    assert!(counts[0].contains(&format!(" WARN {count} {dropped}")), "{}", counts[0]);
    let negotiates = logs.lines().filter(|line| line.contains(" negotiate hub=")).count();
    assert!(count > 0 && negotiates > 0);
    assert_eq!(negotiates + count, FLOOD, "every negotiate is a line or counted");
    assert!(
        logs.lines().last().is_some_and(|line| line.ends_with("stopped")),
        "{}",
        &logs[logs.len() - 300..]
    );
}
