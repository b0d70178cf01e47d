//! The binary's own HTTP server (the local host; the Functions host runs the same one) against
//! clients that misbehave on the wire: connections that send nothing, half a request line, half
//! the headers or half a body, that stay idle after an answer, or that are too many; and a
//! shutdown while such connections are open. Raw TCP, so the test controls every byte.
//! Timings are asserted as "closed within N seconds", generous for a loaded machine. Clients
//! that misbehave in numbers (a flood of silent connections, a client that does not read, a
//! stop with connections queued) are in `pressure`.

mod pressure;

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::common::{Function, free_port, wait_ready};

/// Long enough for a loaded two-core machine to notice a close that is due in under a second.
const WITHIN: Duration = Duration::from_secs(8);

struct Running {
    function: Function,
    listen: String,
}

async fn start(name: &str, env: &[(&str, &str)]) -> Running {
    start_with(name, env, Function::spawn).await
}

async fn start_with(
    name: &str,
    env: &[(&str, &str)],
    spawn: impl FnOnce(&str, &[(&str, &str)]) -> Function,
) -> Running {
    let listen = format!("127.0.0.1:{}", free_port());
    let mut all = vec![("SIGNALR_LISTEN", listen.as_str()), ("RUST_LOG", "info")];
    all.extend_from_slice(env);
    let mut function = spawn(name, &all);
    wait_ready(&reqwest::Client::new(), &format!("http://{listen}"), &mut function).await;
    Running { function, listen }
}

impl Running {
    async fn connect(&self) -> TcpStream {
        TcpStream::connect(&self.listen).await.unwrap()
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.listen)
    }
}

/// Reads until the server closes the connection; what it sent, or `None` if it is still open
/// after `limit`.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(limit, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    read.ok().map(|()| String::from_utf8_lossy(&got).into_owned())
}

/// Reads one HTTP answer with a `Content-Length` (what this server sends); the connection
/// stays open.
async fn read_answer(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(WITHIN, stream.read(&mut buffer))
            .await
            .expect("an answer in time")
            .unwrap();
        assert!(n > 0, "closed before answering: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buffer[..n]);
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|line| {
                    line.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(str::to_owned)
                })
                .map_or(0, |value| value.trim().parse().unwrap());
            if body.len() >= length {
                return text;
            }
        }
    }
}

const NEGOTIATE: &str = "POST /api/chat/negotiate HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_that_send_too_little_are_closed_after_the_header_timeout() {
    let running = start("server-header-timeout", &[("SIGNALR_HEADER_TIMEOUT_MS", "500")]).await;
    let partial: [(&str, &str); 4] = [
        ("nothing", ""),
        ("half a request line", "POST /api/chat/nego"),
        (
            "half the headers",
            "POST /api/chat/negotiate HTTP/1.1\r\nHost: test\r\nX-Slow: ",
        ),
        (
            "all but the blank line",
            "POST /api/chat/negotiate HTTP/1.1\r\nHost: test\r\n",
        ),
    ];
    let mut open = Vec::new();
    for (name, bytes) in partial {
        let mut stream = running.connect().await;
        stream.write_all(bytes.as_bytes()).await.unwrap();
        open.push((name, stream, Instant::now()));
    }
    for (name, mut stream, opened) in open {
        let answer = read_until_closed(&mut stream, WITHIN).await;
        assert!(answer.is_some(), "{name}: still open after {WITHIN:?}");
        assert!(
            opened.elapsed() >= Duration::from_millis(400),
            "{name}: closed before its time"
        );
        let answer = answer.unwrap();
        assert!(!answer.contains("accessToken"), "{name}: {answer}");
    }
    // The server still answers.
    let response = reqwest::Client::new()
        .post(running.url("/api/chat/negotiate"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let running = start("server-idle", &[("SIGNALR_HEADER_TIMEOUT_MS", "500")]).await;
    let mut stream = running.connect().await;
    for _ in 0..2 {
        stream.write_all(NEGOTIATE.as_bytes()).await.unwrap();
        let answer = read_answer(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(
            !answer.to_ascii_lowercase().contains("connection: close"),
            "kept alive: {answer}"
        );
    }
    let idle = Instant::now();
    assert_eq!(read_until_closed(&mut stream, WITHIN).await.as_deref(), Some(""));
    assert!(idle.elapsed() >= Duration::from_millis(400), "closed before its time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_a_body_is_a_408_after_the_body_timeout() {
    let running = start(
        "server-body-timeout",
        &[
            ("SIGNALR_BODY_TIMEOUT_MS", "500"),
            ("SIGNALR_HEADER_TIMEOUT_MS", "60000"),
        ],
    )
    .await;
    let mut stream = running.connect().await;
    let head = "POST /api/chat/negotiate HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n";
    stream.write_all(format!("{head}0123456789").as_bytes()).await.unwrap();
    let sent = Instant::now();
    let answer = read_until_closed(&mut stream, WITHIN)
        .await
        .unwrap_or_else(|| panic!("still open after {WITHIN:?}"));
    assert!(
        sent.elapsed() >= Duration::from_millis(400),
        "answered before its time: {answer}"
    );
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("application/json") && answer.contains(r#"{"error":"#),
        "{answer}"
    );
    assert!(!answer.contains("accessToken"), "{answer}");
    // A body that trickles in is bounded by the same deadline, not per chunk.
    let mut stream = running.connect().await;
    stream.write_all(head.as_bytes()).await.unwrap();
    let sent = Instant::now();
    let trickle = async {
        for _ in 0..100 {
            if stream.write_all(b"x").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(1500), trickle).await;
    let answer = read_until_closed(&mut stream, WITHIN).await.expect("closed");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(sent.elapsed() < WITHIN, "{:?}", sent.elapsed());
}

/// Sockets the process holds (its listener included), from /proc.
fn sockets_of(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().starts_with("socket:"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_more_connections_than_the_cap_are_held_open() {
    let running = start(
        "server-cap",
        &[("SIGNALR_MAX_CONNECTIONS", "4"), ("SIGNALR_HEADER_TIMEOUT_MS", "60000")],
    )
    .await;
    let pid = running.function.pid();
    // The listener, the signal handler's socket pair, perhaps wait_ready's connection.
    let before = sockets_of(pid);
    let mut silent = Vec::new();
    for _ in 0..12 {
        silent.push(running.connect().await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let held = sockets_of(pid);
    assert!(
        held <= before + 4,
        "{held} sockets held with a cap of 4 (before: {before})"
    );
    // A negotiate is served: one of them gives way to it (or, at the latest, they go).
    let negotiate = tokio::spawn({
        let url = running.url("/api/chat/negotiate");
        async move {
            reqwest::Client::new()
                .post(url)
                .send()
                .await
                .map(|r| r.status().as_u16())
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(silent);
    let status = tokio::time::timeout(WITHIN, negotiate)
        .await
        .expect("answered once the slots were free")
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
}

/// Idle keep-alive connections cannot take every slot: past three quarters of the cap, a new
/// connection gets its answer with `Connection: close`, and the slot comes back at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn near_the_cap_connections_are_not_kept_alive() {
    let running = start(
        "server-crowded",
        &[("SIGNALR_MAX_CONNECTIONS", "4"), ("SIGNALR_HEADER_TIMEOUT_MS", "60000")],
    )
    .await;
    // wait_ready's connection may still hold a slot: at most three of these are kept alive.
    let mut kept = Vec::new();
    let mut closed = 0;
    for _ in 0..4 {
        let mut stream = running.connect().await;
        stream.write_all(NEGOTIATE.as_bytes()).await.unwrap();
        let answer = read_answer(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        if answer.to_ascii_lowercase().contains("connection: close") {
            closed += 1;
            assert_eq!(read_until_closed(&mut stream, WITHIN).await.as_deref(), Some(""));
        } else {
            kept.push(stream);
        }
    }
    assert!(
        closed >= 1 && kept.len() <= 3,
        "{} kept alive with a cap of 4",
        kept.len()
    );
    // More keep coming, one answer each, while the kept-alive ones idle.
    for _ in 0..5 {
        let mut stream = running.connect().await;
        stream.write_all(NEGOTIATE.as_bytes()).await.unwrap();
        let answer = tokio::time::timeout(WITHIN, read_answer(&mut stream))
            .await
            .expect("answered");
        assert!(answer.to_ascii_lowercase().contains("connection: close"), "{answer}");
    }
}

/// With the file limit at 64, seventy silent connections are closed after the header timeout,
/// so a negotiate behind them is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seventy_silent_connections_under_a_file_limit_of_64_do_not_stop_negotiates() {
    let running = start_with(
        "server-file-limit",
        &[("SIGNALR_HEADER_TIMEOUT_MS", "1000")],
        |name, env| Function::spawn_with_file_limit(name, env, 64),
    )
    .await;
    let mut silent = Vec::new();
    for _ in 0..70 {
        silent.push(running.connect().await);
    }
    let started = Instant::now();
    let response = tokio::time::timeout(
        Duration::from_secs(20),
        reqwest::Client::new().post(running.url("/api/chat/negotiate")).send(),
    )
    .await
    .expect("a negotiate answered within 20 s")
    .unwrap();
    assert_eq!(response.status(), 200, "after {:?}", started.elapsed());
    drop(silent);
}

/// SIGTERM with connections open that are not done (half the headers, idle keep-alive): the
/// process stops accepting, gives them the grace period, closes them and exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_what_is_left_after_the_grace_period() {
    let mut running = start(
        "server-grace",
        &[
            ("SIGNALR_HEADER_TIMEOUT_MS", "60000"),
            ("SIGNALR_SHUTDOWN_GRACE_MS", "1000"),
        ],
    )
    .await;
    let mut half = running.connect().await;
    half.write_all(b"POST /api/chat/negotiate HTTP/1.1\r\nHost: te")
        .await
        .unwrap();
    let mut idle = running.connect().await;
    idle.write_all(NEGOTIATE.as_bytes()).await.unwrap();
    assert!(read_answer(&mut idle).await.starts_with("HTTP/1.1 200"));
    let stopping = Instant::now();
    running.function.terminate();
    let status = running
        .function
        .wait_exit(WITHIN)
        .unwrap_or_else(|| panic!("still running {WITHIN:?} after SIGTERM:\n{}", running.function.logs()));
    assert!(status.success(), "{status}");
    assert!(
        stopping.elapsed() >= Duration::from_millis(900),
        "the half-sent request got no grace period"
    );
    assert!(read_until_closed(&mut half, WITHIN).await.is_some());
    assert!(read_until_closed(&mut idle, WITHIN).await.is_some());
    let logs = running.function.logs();
    assert!(logs.contains("after the grace period"), "{logs}");
}

/// HEAD on a negotiate route is refused before anything runs: 405 with `Allow`, no token made,
/// no negotiate logged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_on_a_negotiate_route_is_a_405_and_makes_no_token() {
    let running = start("server-head", &[("SIGNALR_HUB", "chat")]).await;
    let client = reqwest::Client::new();
    for path in ["/api/chat/negotiate", "/api/negotiate"] {
        let response = client.head(running.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 405, "{path}");
        assert_eq!(response.headers()["allow"], "GET, POST", "{path}");
    }
    assert_eq!(client.head(running.url("/")).send().await.unwrap().status(), 200);
    // A refused negotiate after them: once its line is out, theirs would be too (in order).
    let refused = client.post(running.url("/api/1nvalid/negotiate")).send().await.unwrap();
    assert_eq!(refused.status(), 400);
    let logs = running.function.logs_with("status=400");
    assert!(logs.contains("status=400"), "{logs}");
    assert!(!logs.contains("status=200"), "a negotiate ran:\n{logs}");
}
