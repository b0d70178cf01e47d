//! CORS: off unless `SIGNALR_CORS_ORIGINS` is set; preflights answered with the
//! methods and headers the SignalR client uses; credentials allowed for listed origins only.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use signalr_negotiate::Settings;

use crate::common;

const LISTED: &str = "http://localhost:8080";

async fn preflight(router: &Router, origin: &str) -> (StatusCode, HeaderMap) {
    let request = Request::options("/api/chat/negotiate?negotiateVersion=1")
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "x-signalr-user-agent,x-requested-with,authorization",
        )
        .body(Body::empty())
        .unwrap();
    let answer = common::send(router, request).await;
    (answer.status, answer.headers)
}

async fn post(router: &Router, origin: &str) -> (StatusCode, HeaderMap) {
    let request = Request::post("/api/chat/negotiate")
        .header("origin", origin)
        .body(Body::empty())
        .unwrap();
    let answer = common::send(router, request).await;
    (answer.status, answer.headers)
}

fn cors_headers(headers: &HeaderMap) -> Vec<String> {
    headers
        .keys()
        .map(|name| name.as_str().to_owned())
        .filter(|name| name.starts_with("access-control-"))
        .collect()
}

#[tokio::test]
async fn a_listed_origin_gets_preflight_and_credentials() {
    let router = common::router(&[("SIGNALR_CORS_ORIGINS", "https://app.example.com, http://localhost:8080")]);
    let (status, headers) = preflight(&router, LISTED).await;
    assert!(status.is_success(), "{status}");
    assert_eq!(headers["access-control-allow-origin"], LISTED);
    assert_eq!(headers["access-control-allow-credentials"], "true");
    let methods = headers["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_ascii_uppercase();
    assert!(methods.contains("POST") && methods.contains("GET"), "{methods}");
    let allowed = headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for header in [
        "authorization",
        "content-type",
        "x-requested-with",
        "x-signalr-user-agent",
    ] {
        assert!(allowed.contains(header), "{header} not in {allowed}");
    }

    let (status, headers) = post(&router, LISTED).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["access-control-allow-origin"], LISTED);
    assert_eq!(headers["access-control-allow-credentials"], "true");
}

#[tokio::test]
async fn an_unlisted_origin_gets_no_cors_headers() {
    let router = common::router(&[("SIGNALR_CORS_ORIGINS", "https://app.example.com")]);
    let (_, headers) = preflight(&router, "https://evil.example.net").await;
    assert!(headers.get("access-control-allow-origin").is_none(), "{headers:?}");
    assert!(headers.get("access-control-allow-credentials").is_none(), "{headers:?}");
    let (status, headers) = post(&router, "https://evil.example.net").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the answer itself is the same; the browser withholds it"
    );
    assert!(cors_headers(&headers).is_empty(), "{headers:?}");
}

#[tokio::test]
async fn without_cors_preflights_are_405_and_answers_have_no_cors_headers() {
    let router = common::router(&[]);
    let (status, headers) = preflight(&router, LISTED).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(cors_headers(&headers).is_empty(), "{headers:?}");
    let (_, headers) = post(&router, LISTED).await;
    assert!(cors_headers(&headers).is_empty(), "{headers:?}");
}

#[test]
fn a_wildcard_or_a_path_is_refused_at_start() {
    for bad in ["*", "https://app.example.com/path", "app.example.com"] {
        let error = Settings::from_vars([("SIGNALR_CORS_ORIGINS".to_owned(), bad.to_owned())]).unwrap_err();
        assert_eq!(error.setting, "SIGNALR_CORS_ORIGINS", "{bad}");
    }
}
