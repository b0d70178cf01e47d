//! The server under pressure: a flood of silent connections reopened as fast as they are closed
//! (the cap must stay fair to clients), a client that sends requests and never reads the
//! answers (it must not hold its connection for ever), and SIGTERM with connections that the
//! kernel accepted but the server had not yet taken (each must be answered).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};

use super::{NEGOTIATE, WITHIN, read_until_closed, sockets_of, start};

/// Silent connections, one after another: each is opened and held, sending nothing, until the
/// server closes it; then the next is opened. `opened` counts them.
async fn silent_connections(listen: String, opened: Arc<AtomicUsize>) {
    let mut buffer = [0u8; 256];
    loop {
        match TcpStream::connect(&listen).await {
            Ok(mut stream) => {
                opened.fetch_add(1, Ordering::Relaxed);
                while matches!(stream.read(&mut buffer).await, Ok(n) if n > 0) {}
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

/// A negotiate on a new connection: how long it took, from the connect to the whole answer,
/// if it was answered 200 within `limit`; else what happened.
async fn negotiate(listen: &str, limit: Duration) -> Result<Duration, String> {
    let started = Instant::now();
    let exchange = async {
        let mut stream = TcpStream::connect(listen)
            .await
            .map_err(|error| format!("connect: {error}"))?;
        stream
            .write_all(NEGOTIATE.as_bytes())
            .await
            .map_err(|error| format!("send: {error}"))?;
        let mut got = Vec::new();
        let mut buffer = [0u8; 4096];
        while !is_whole_answer(&got) {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buffer[..n]),
            }
        }
        let answer = String::from_utf8_lossy(&got);
        if answer.starts_with("HTTP/1.1 200") && is_whole_answer(&got) {
            Ok(())
        } else {
            Err(format!("closed after {:?}", answer.lines().next().unwrap_or("nothing")))
        }
    };
    match tokio::time::timeout(limit, exchange).await {
        Ok(Ok(())) => Ok(started.elapsed()),
        Ok(Err(error)) => Err(error),
        Err(_) => Err(format!("no answer within {limit:?}")),
    }
}

/// A head and as many bytes of body as its `Content-Length` says.
fn is_whole_answer(got: &[u8]) -> bool {
    let text = String::from_utf8_lossy(got);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let length = head
        .lines()
        .find_map(|line| {
            line.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .and_then(|value| value.trim().parse::<usize>().ok())
        })
        .unwrap_or(0);
    body.len() >= length
}

/// An attacker holds four times the cap in silent connections and reopens each as soon as the
/// server closes it, so that the kernel's queue is always full of them. Clients that negotiate
/// meanwhile, on new connections, are still answered: at least 95% of them, each within a
/// second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_silent_connections_does_not_lock_clients_out() {
    const CAP: usize = 16;
    let running = start(
        "server-flood",
        &[
            ("SIGNALR_MAX_CONNECTIONS", "16"),
            ("SIGNALR_HEADER_TIMEOUT_MS", "2000"),
            ("SIGNALR_FIRST_BYTE_TIMEOUT_MS", "500"),
        ],
    )
    .await;
    let opened = Arc::new(AtomicUsize::new(0));
    let flood: Vec<_> = (0..4 * CAP)
        .map(|_| tokio::spawn(silent_connections(running.listen.clone(), Arc::clone(&opened))))
        .collect();
    // Every slot taken, and the rest of the flood queued behind them.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let opened_before = opened.load(Ordering::Relaxed);
    let mut outcomes = Vec::new();
    for _ in 0..10 {
        let batch: Vec<_> = (0..4)
            .map(|_| {
                let listen = running.listen.clone();
                tokio::spawn(async move { negotiate(&listen, Duration::from_secs(1)).await })
            })
            .collect();
        for client in batch {
            outcomes.push(client.await.unwrap());
        }
    }
    let reopened = opened.load(Ordering::Relaxed) - opened_before;
    for attacker in &flood {
        attacker.abort();
    }
    let answered = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
    let failed: Vec<_> = outcomes.iter().filter_map(|outcome| outcome.as_ref().err()).collect();
    assert!(
        answered * 100 >= outcomes.len() * 95,
        "{answered} of {} answered within 1 s while the flood reopened {reopened} connections: {failed:?}",
        outcomes.len()
    );
    // The flood did not let up: the slots turned over while the clients negotiated.
    assert!(reopened >= CAP, "the flood reopened only {reopened} connections");
}

/// A client pipelines requests and never reads: once its answers fill the socket buffers, the
/// server's write waits; after the write timeout the connection is closed and its socket freed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_its_answers_is_closed_after_the_write_timeout() {
    let running = start(
        "server-write-timeout",
        &[
            ("SIGNALR_WRITE_TIMEOUT_MS", "1000"),
            ("SIGNALR_HEADER_TIMEOUT_MS", "60000"),
        ],
    )
    .await;
    let pid = running.function.pid();
    // wait_ready's connection goes first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = sockets_of(pid);
    // A small receive buffer: a few dozen answers fill it.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(running.listen.parse().unwrap()).await.unwrap();
    let opened = Instant::now();
    let (_unread, mut writer) = stream.into_split();
    let sent = Arc::new(AtomicUsize::new(0));
    let writing = tokio::spawn({
        let sent = Arc::clone(&sent);
        let requests = NEGOTIATE.repeat(50);
        async move {
            while writer.write_all(requests.as_bytes()).await.is_ok() {
                sent.fetch_add(50, Ordering::Relaxed);
            }
        }
    });
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if sockets_of(pid) <= before {
            break;
        }
        assert!(
            opened.elapsed() < WITHIN,
            "still open {WITHIN:?} after it stopped reading ({} requests sent)",
            sent.load(Ordering::Relaxed)
        );
    }
    assert!(
        opened.elapsed() >= Duration::from_millis(900),
        "closed before the write timeout: {:?}",
        opened.elapsed()
    );
    assert!(sent.load(Ordering::Relaxed) >= 50, "no request went out");
    writing.abort();
}

/// SIGTERM while connections wait in the kernel's queue (the process is stopped while they
/// connect and send, as a busy one would leave them): the server takes them before it closes
/// its listener and answers each; so it does, with `Connection: close`, a connection opened
/// before the signal whose request comes after it. A connection opened after the signal is
/// refused, while a half-sent request holds the process in its grace period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sigterm_every_connection_accepted_is_answered_and_new_ones_are_refused() {
    let mut running = start(
        "server-stop",
        &[
            ("SIGNALR_SHUTDOWN_GRACE_MS", "1500"),
            ("SIGNALR_HEADER_TIMEOUT_MS", "60000"),
        ],
    )
    .await;
    let mut early = Vec::new();
    for _ in 0..3 {
        early.push(running.connect().await);
    }
    let mut half = running.connect().await;
    half.write_all(b"POST /api/chat/negotiate HTTP/1.1\r\nHost: te")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    running.function.signal("STOP");
    let mut queued = Vec::new();
    for _ in 0..8 {
        let mut stream = running.connect().await;
        stream.write_all(NEGOTIATE.as_bytes()).await.unwrap();
        queued.push(stream);
    }
    running.function.terminate();
    running.function.signal("CONT");
    tokio::time::sleep(Duration::from_millis(100)).await;
    for stream in &mut early {
        stream.write_all(NEGOTIATE.as_bytes()).await.unwrap();
    }
    assert!(
        TcpStream::connect(&running.listen).await.is_err(),
        "a connection opened after SIGTERM was accepted"
    );
    let streams = early
        .iter_mut()
        .map(|stream| ("opened before SIGTERM", stream))
        .chain(queued.iter_mut().map(|stream| ("queued at SIGTERM", stream)));
    for (which, stream) in streams {
        let answer = read_until_closed(stream, WITHIN)
            .await
            .unwrap_or_else(|| panic!("{which}: still open after {WITHIN:?}"));
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "{which}: closed without an answer: {answer:?}"
        );
        // Those the server took before it saw the signal may have been answered before it too.
        assert!(
            which == "queued at SIGTERM" || answer.to_ascii_lowercase().contains("connection: close"),
            "{which}: {answer}"
        );
    }
    let status = running
        .function
        .wait_exit(WITHIN)
        .unwrap_or_else(|| panic!("still running after SIGTERM:\n{}", running.function.logs()));
    assert!(status.success(), "{status}");
    assert!(read_until_closed(&mut half, WITHIN).await.is_some());
}
