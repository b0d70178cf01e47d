//! The limit for bench/compare.sh: a minimal axum server that answers every POST with the same
//! `application/json` body, as large as the negotiate function's answer. Nothing serving HTTP/1.1
//! with axum on the same machine can do less per request.
//!
//! Usage: `limit-server <port> <body bytes>` (or `PORT` and `BODY_SIZE`). Logs nothing.

use std::net::{Ipv4Addr, SocketAddr};

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::routing::post;
use axum::serve::ListenerExt as _;

fn setting(position: usize, name: &str, default: usize) -> usize {
    let text = std::env::args().nth(position).or_else(|| std::env::var(name).ok());
    match text {
        None => default,
        Some(text) => text.trim().parse().unwrap_or_else(|_| {
            eprintln!("limit-server: {name} must be a whole number, got {text:?}");
            std::process::exit(2);
        }),
    }
}

/// A JSON object of exactly `size` bytes (at least 8): `{"x":"aaa…"}`.
fn body_of(size: usize) -> Bytes {
    let padding = size.saturating_sub(r#"{"x":""}"#.len());
    Bytes::from(format!(r#"{{"x":"{}"}}"#, "a".repeat(padding)))
}

fn main() {
    let port = setting(1, "PORT", 8091);
    let size = setting(2, "BODY_SIZE", 512);
    let Ok(port) = u16::try_from(port) else {
        eprintln!("limit-server: PORT must be at most 65535");
        std::process::exit(2);
    };
    let body = body_of(size);
    let answer = move || {
        let body = body.clone();
        async move { ([(header::CONTENT_TYPE, "application/json")], body) }
    };
    let app = Router::new().fallback(post(answer));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_io()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let addr = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .unwrap_or_else(|error| {
                eprintln!("limit-server: cannot listen on {addr}: {error}");
                std::process::exit(1);
            })
            // As the function does: small answers go out at once (no Nagle).
            .tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
        axum::serve(listener, app).await.expect("the server runs");
    });
}
