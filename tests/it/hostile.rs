//! Hostile input through the real router: each request gets its status and a JSON error (or,
//! when it is a legitimate negotiate after all, a token without the identity it tried to forge),
//! nothing panics, and nothing logged above info repeats request data.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::common::oidc::{self, AUDIENCE, TestIssuer};
use crate::common::{self, KEY, verify_token};

/// Log lines at warn and above, as the function would write them.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Case {
    name: &'static str,
    request: Request<Body>,
    status: StatusCode,
    /// Text of the request that must not be logged verbatim above info.
    marker: Option<String>,
}

fn request(method: &str, uri: &str) -> Request<Body> {
    Request::builder().method(method).uri(uri).body(Body::empty()).unwrap()
}

fn with_header(uri: &str, name: &str, value: &str) -> Request<Body> {
    Request::post(uri).header(name, value).body(Body::empty()).unwrap()
}

fn case(name: &'static str, request: Request<Body>, status: StatusCode) -> Case {
    Case {
        name,
        request,
        status,
        marker: None,
    }
}

fn marked(name: &'static str, request: Request<Body>, status: StatusCode, marker: &str) -> Case {
    Case {
        name,
        request,
        status,
        marker: Some(marker.to_owned()),
    }
}

fn cases(issuer: &TestIssuer) -> Vec<Case> {
    use StatusCode as S;
    let long = "h".repeat(129);
    let valid = issuer.claims("mallory");
    let mut cases = vec![
        case("PUT", request("PUT", "/api/chat/negotiate"), S::METHOD_NOT_ALLOWED),
        case(
            "DELETE",
            request("DELETE", "/api/chat/negotiate"),
            S::METHOD_NOT_ALLOWED,
        ),
        case(
            "PATCH",
            request("PATCH", "/api/negotiate?hub=chat"),
            S::METHOD_NOT_ALLOWED,
        ),
        case("TRACE", request("TRACE", "/api/chat/negotiate"), S::METHOD_NOT_ALLOWED),
        case(
            "custom method",
            request("BREW", "/api/chat/negotiate"),
            S::METHOD_NOT_ALLOWED,
        ),
        case(
            "OPTIONS without CORS",
            request("OPTIONS", "/api/chat/negotiate"),
            S::METHOD_NOT_ALLOWED,
        ),
        case(
            "dot-dot path",
            request("POST", "/api/../api/chat/negotiate"),
            S::BAD_REQUEST,
        ),
        case(
            "encoded dot-dot hub",
            request("POST", "/api/%2e%2e/negotiate"),
            S::BAD_REQUEST,
        ),
        case("encoded slash", request("POST", "/api/a%2Fb/negotiate"), S::BAD_REQUEST),
        case(
            "encoded backslash",
            request("POST", "/api/a%5Cb/negotiate"),
            S::BAD_REQUEST,
        ),
        case("NUL in hub", request("POST", "/api/chat%00/negotiate"), S::BAD_REQUEST),
        case("NUL as hub", request("POST", "/api/%00/negotiate"), S::BAD_REQUEST),
        case(
            "invalid UTF-8 in path",
            request("POST", "/api/%FF%FE/negotiate"),
            S::BAD_REQUEST,
        ),
        case(
            "invalid UTF-8 in query",
            request("POST", "/api/negotiate?hub=%C3%28"),
            S::BAD_REQUEST,
        ),
        case("traversal", request("GET", "/..%2f..%2fetc%2fpasswd"), S::NOT_FOUND),
        case("double slash", request("POST", "//api/chat/negotiate"), S::NOT_FOUND),
        case("trailing slash", request("POST", "/api/chat/negotiate/"), S::NOT_FOUND),
        case(
            "upper-case prefix",
            request("POST", "/API/chat/negotiate"),
            S::NOT_FOUND,
        ),
        case("empty hub in path", request("POST", "/api//negotiate"), S::BAD_REQUEST),
        case(
            "empty hub in query",
            request("POST", "/api/negotiate?hub="),
            S::BAD_REQUEST,
        ),
        case("no hub", request("POST", "/api/negotiate"), S::BAD_REQUEST),
        case(
            "hub twice",
            request("POST", "/api/negotiate?hub=chat&hub=chat"),
            S::BAD_REQUEST,
        ),
        case(
            "hub twice, different",
            request("POST", "/api/negotiate?hub=chat&hub=admin"),
            S::BAD_REQUEST,
        ),
        case(
            "hub too long",
            request("POST", &format!("/api/{long}/negotiate")),
            S::BAD_REQUEST,
        ),
        case(
            "hub starting with a digit",
            request("POST", "/api/1chat/negotiate"),
            S::BAD_REQUEST,
        ),
        case(
            "non-ASCII hub",
            request("POST", "/api/ch%C3%A4t/negotiate"),
            S::BAD_REQUEST,
        ),
        marked(
            "query injection in hub",
            request("POST", "/api/negotiate?hub=chat%26asrs_request_id%3Devil"),
            S::BAD_REQUEST,
            "asrs_request_id=evil",
        ),
        case(
            "10 MB body",
            Request::post("/api/chat/negotiate")
                .body(Body::from(vec![b'x'; 10 << 20]))
                .unwrap(),
            S::PAYLOAD_TOO_LARGE,
        ),
        case(
            "huge declared length",
            Request::post("/api/chat/negotiate")
                .header("content-length", "99999999999")
                .body(Body::from("x"))
                .unwrap(),
            S::PAYLOAD_TOO_LARGE,
        ),
        marked(
            "malformed bearer",
            with_header("/api/chat/negotiate", "authorization", "Bearer not.a.jwt.at-all"),
            S::UNAUTHORIZED,
            "not.a.jwt.at-all",
        ),
        case(
            "oversized bearer",
            with_header(
                "/api/chat/negotiate",
                "authorization",
                &format!("Bearer {}", "e".repeat(20_000)),
            ),
            S::UNAUTHORIZED,
        ),
        case(
            "empty bearer",
            with_header("/api/chat/negotiate", "authorization", "Bearer "),
            S::UNAUTHORIZED,
        ),
        case(
            "basic auth",
            with_header("/api/chat/negotiate", "authorization", "Basic YTpi"),
            S::UNAUTHORIZED,
        ),
        case(
            "alg none",
            with_header(
                "/api/chat/negotiate",
                "authorization",
                &format!("Bearer {}", oidc::unsigned(&valid)),
            ),
            S::UNAUTHORIZED,
        ),
        case(
            "alg confusion",
            with_header(
                "/api/chat/negotiate",
                "authorization",
                &format!("Bearer {}", oidc::hs256(&issuer.public_key_bytes(), &valid)),
            ),
            S::UNAUTHORIZED,
        ),
        case(
            "forged kid",
            with_header(
                "/api/chat/negotiate",
                "authorization",
                &format!("Bearer {}", issuer.rs256("../../etc/passwd", &valid)),
            ),
            S::UNAUTHORIZED,
        ),
        case(
            "non-ASCII authorization",
            Request::post("/api/chat/negotiate")
                .header(
                    "authorization",
                    axum::http::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
                )
                .body(Body::empty())
                .unwrap(),
            S::UNAUTHORIZED,
        ),
    ];
    // Every reserved URL character in a hub name: only `[`, `]` and `,` are in the service's alphabet.
    for (encoded, status) in [
        ("%3A", S::BAD_REQUEST),
        ("%2F", S::BAD_REQUEST),
        ("%3F", S::BAD_REQUEST),
        ("%23", S::BAD_REQUEST),
        ("%40", S::BAD_REQUEST),
        ("%21", S::BAD_REQUEST),
        ("%24", S::BAD_REQUEST),
        ("%26", S::BAD_REQUEST),
        ("%27", S::BAD_REQUEST),
        ("%28", S::BAD_REQUEST),
        ("%29", S::BAD_REQUEST),
        ("%2A", S::BAD_REQUEST),
        ("%2B", S::BAD_REQUEST),
        ("%3B", S::BAD_REQUEST),
        ("%3D", S::BAD_REQUEST),
        ("%25", S::BAD_REQUEST),
        ("%20", S::BAD_REQUEST),
        ("%5B", S::OK),
        ("%5D", S::OK),
        ("%2C", S::OK),
    ] {
        cases.push(case(
            "reserved character in hub",
            request("POST", &format!("/api/negotiate?hub=a{encoded}b")),
            status,
        ));
    }
    cases
}

#[tokio::test]
async fn hostile_requests_are_refused_cleanly() {
    let issuer = TestIssuer::start().await;
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let router = common::router(&[
        ("SIGNALR_AUTH", "oidc"),
        ("SIGNALR_OIDC_ISSUER", &issuer.issuer),
        ("SIGNALR_OIDC_AUDIENCE", AUDIENCE),
    ]);
    let cases = cases(&issuer);
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let mut markers = Vec::new();
    for case in cases {
        let answer = common::send(&router, case.request).await;
        let status = answer.status;
        let content_type = answer.headers.get("content-type").cloned();
        let bytes = answer.body;
        assert_eq!(
            status,
            case.status,
            "{}: {}",
            case.name,
            String::from_utf8_lossy(&bytes)
        );
        assert_eq!(
            content_type.as_ref().map(|v| v.to_str().unwrap()),
            Some("application/json"),
            "{}",
            case.name
        );
        let body: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("{}: not JSON", case.name));
        if status == StatusCode::OK {
            let claims = verify_token(body["accessToken"].as_str().unwrap(), KEY);
            assert!(!claims.contains_key("asrs.s.uid"), "{}", case.name);
        } else {
            assert!(body["error"].is_string(), "{}: {body}", case.name);
            assert!(body.get("accessToken").is_none(), "{}: a token was issued", case.name);
        }
        markers.extend(case.marker);
    }
    let logged = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for marker in markers {
        assert!(
            !logged.contains(&marker),
            "request data logged above info: {marker}\n{logged}"
        );
    }
}

#[tokio::test]
async fn forged_identity_headers_get_no_identity_when_not_trusted() {
    let router = common::router(&[]);
    let principal = base64::engine::general_purpose::STANDARD
        .encode(json!({"claims": [{"typ": "sub", "val": "admin"}]}).to_string());
    let request = Request::post("/api/chat/negotiate?userId=admin")
        .header("x-ms-client-principal-id", "admin")
        .header("x-ms-client-principal", principal)
        .header("x-amzn-oidc-identity", "admin")
        .header("x-forwarded-user", "admin")
        .body(Body::empty())
        .unwrap();
    let answer = common::send(&router, request).await;
    assert_eq!(answer.status, StatusCode::OK);
    let body: Value = answer.json();
    let claims = verify_token(body["accessToken"].as_str().unwrap(), KEY);
    assert!(
        !claims.contains_key("asrs.s.uid") && !claims.contains_key("nameid"),
        "{claims:?}"
    );
}
