//! CORS: off unless `SIGNALR_CORS_ORIGINS` is set; preflights answered with the methods the
//! SignalR client uses and the headers it asks for; credentials allowed for listed origins
//! only (exact, or every subdomain of `https://*.domain`); a refused preflight logged once per
//! origin.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use signalr_negotiate::Settings;

use crate::common;

const LISTED: &str = "http://localhost:8080";

/// The headers the SignalR browser client asks for on negotiate.
const CLIENT_HEADERS: &str = "x-signalr-user-agent,x-requested-with,authorization";

async fn preflight(router: &Router, origin: &str) -> (StatusCode, HeaderMap) {
    preflight_asking(router, origin, CLIENT_HEADERS).await
}

async fn preflight_asking(router: &Router, origin: &str, headers: &str) -> (StatusCode, HeaderMap) {
    let request = Request::options("/api/chat/negotiate?negotiateVersion=1")
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", headers)
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
    for header in ["authorization", "x-requested-with", "x-signalr-user-agent"] {
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

#[tokio::test]
async fn a_listed_origin_may_send_the_headers_it_asks_for() {
    let router = common::router(&[("SIGNALR_CORS_ORIGINS", LISTED)]);
    // The client's `headers` option adds the app's own, such as X-Api-Key.
    let (status, headers) =
        preflight_asking(&router, LISTED, &format!("{CLIENT_HEADERS},x-api-key,content-type")).await;
    assert!(status.is_success(), "{status}");
    assert_eq!(headers["access-control-allow-origin"], LISTED);
    let allowed = headers["access-control-allow-headers"].to_str().unwrap();
    for header in ["x-api-key", "content-type", "authorization", "x-signalr-user-agent"] {
        assert!(
            allowed.split(',').any(|h| h.trim() == header),
            "{header} not in {allowed}"
        );
    }
    // Caches keep answers for different requested headers apart.
    let vary = headers
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join(",");
    assert!(vary.contains("access-control-request-headers"), "{vary}");

    // Not for anyone else.
    let (_, headers) = preflight_asking(&router, "https://evil.example.net", "x-api-key").await;
    assert!(cors_headers(&headers).is_empty(), "{headers:?}");
}

#[tokio::test]
async fn a_wildcard_allows_every_subdomain_with_its_scheme_and_port() {
    let router = common::router(&[(
        "SIGNALR_CORS_ORIGINS",
        "https://*.contoso.com, http://*.contoso.test:8080",
    )]);
    for allowed in [
        "https://app.contoso.com",
        "https://a.b.contoso.com",
        "http://dev.contoso.test:8080",
    ] {
        let (status, headers) = preflight(&router, allowed).await;
        assert!(status.is_success(), "{allowed}: {status}");
        assert_eq!(headers["access-control-allow-origin"], allowed);
        assert_eq!(headers["access-control-allow-credentials"], "true");
        let (status, headers) = post(&router, allowed).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["access-control-allow-origin"], allowed);
    }
    for refused in [
        "https://contoso.com",
        "https://evilcontoso.com",
        "https://app.evilcontoso.com",
        "https://contoso.com.evil.net",
        "http://app.contoso.com",
        "https://app.contoso.com:8443",
        "http://dev.contoso.test",
        "http://dev.contoso.test:8081",
        "https://evil.net/.contoso.com",
    ] {
        let (_, headers) = preflight(&router, refused).await;
        assert!(cors_headers(&headers).is_empty(), "{refused}: {headers:?}");
        let (_, headers) = post(&router, refused).await;
        assert!(cors_headers(&headers).is_empty(), "{refused}: {headers:?}");
    }
}

#[test]
fn a_wildcard_anywhere_but_a_leading_label_or_a_path_is_refused_at_start() {
    for bad in [
        "*",
        "https://app.example.com/path",
        "app.example.com",
        "https://a.*.example.com",
        "https://*example.com",
        "https://*.com",
        "https://app.example.com:*",
        "*.example.com",
        "https://*.example.com, *",
    ] {
        let error = Settings::from_vars([("SIGNALR_CORS_ORIGINS".to_owned(), bad.to_owned())]).unwrap_err();
        assert_eq!(error.setting, "SIGNALR_CORS_ORIGINS", "{bad}");
    }
}

/// Through the binary: a `https://*.` origin's preflight asking for an extra header, and the
/// warn line for refused origins, once per origin.
#[tokio::test]
async fn the_binary_allows_subdomains_and_logs_each_refused_origin_once() {
    let listen = format!("127.0.0.1:{}", common::free_port());
    let mut function = common::Function::spawn(
        "cors-preflight",
        &[
            ("SIGNALR_LISTEN", &listen),
            ("SIGNALR_CORS_ORIGINS", "https://*.contoso.com,http://localhost:8080"),
        ],
    );
    let base = format!("http://{listen}");
    let client = reqwest::Client::new();
    common::wait_ready(&client, &base, &mut function).await;
    let preflight = |origin: &'static str| {
        client
            .request(
                reqwest::Method::OPTIONS,
                format!("{base}/api/chat/negotiate?negotiateVersion=1"),
            )
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "x-signalr-user-agent,x-requested-with,x-api-key",
            )
            .send()
    };

    let answer = preflight("https://app.contoso.com").await.unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
    let headers = answer.headers();
    assert_eq!(headers["access-control-allow-origin"], "https://app.contoso.com");
    assert_eq!(headers["access-control-allow-credentials"], "true");
    assert!(
        headers["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("x-api-key"),
        "{headers:?}"
    );

    for origin in [
        "https://evilcontoso.com",
        "https://contoso.com",
        "https://evilcontoso.com",
    ] {
        let answer = preflight(origin).await.unwrap();
        assert!(
            answer.headers().get("access-control-allow-origin").is_none(),
            "{origin}"
        );
    }
    // A same-origin or non-preflight request from an unlisted origin is not logged.
    let answer = client
        .post(format!("{base}/api/chat/negotiate"))
        .header("origin", "https://quiet.example")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);

    function.logs_with(r#"origin="https://contoso.com""#);
    // Lines are written in batches: any further line would be out by now.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let logs = function.logs();
    let refused: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains("CORS preflight refused"))
        .collect();
    assert_eq!(refused.len(), 2, "once per origin:\n{logs}");
    assert!(refused.iter().all(|line| line.contains("WARN")), "{refused:?}");
    assert!(
        refused[0].contains(r#"origin="https://evilcontoso.com""#),
        "{}",
        refused[0]
    );
    assert!(refused[1].contains(r#"origin="https://contoso.com""#), "{}", refused[1]);
    assert!(
        !logs.contains("app.contoso.com"),
        "a listed origin is not logged:\n{logs}"
    );
    assert!(!logs.contains("quiet.example"), "{logs}");
}

/// What an answer offers is served: every method named by `Allow` (on a preflight or a 405)
/// or by `Access-Control-Allow-Methods`, sent to the same route, is not refused with a 405.
/// A negotiate route never offers HEAD, which it refuses.
#[tokio::test]
async fn answers_offer_only_the_methods_served() {
    for vars in [&[][..], &[("SIGNALR_CORS_ORIGINS", LISTED)][..]] {
        let router = common::router(vars);
        for uri in [
            "/api/chat/negotiate",
            "/api/negotiate?hub=chat",
            "/",
            "/api/a/b/negotiate",
        ] {
            let asking = [
                Request::options(uri)
                    .header("origin", LISTED)
                    .header("access-control-request-method", "POST")
                    .body(Body::empty())
                    .unwrap(),
                Request::delete(uri).body(Body::empty()).unwrap(),
                Request::options(uri).body(Body::empty()).unwrap(),
            ];
            let mut offered = Vec::new();
            for request in asking {
                let asked = request.method().clone();
                let answer = common::send(&router, request).await;
                for header in ["allow", "access-control-allow-methods"] {
                    for value in answer.headers.get_all(header) {
                        for method in value.to_str().unwrap().split(',') {
                            offered.push((asked.clone(), header, method.trim().to_ascii_uppercase()));
                        }
                    }
                }
            }
            assert!(!offered.is_empty(), "{vars:?} {uri}: nothing offered");
            for (asked, header, method) in offered {
                if uri.contains("negotiate") {
                    assert_ne!(method, "HEAD", "{vars:?} {uri}: {asked} offers HEAD in {header}");
                }
                let request = Request::builder()
                    .method(method.as_str())
                    .uri(uri)
                    .body(Body::empty())
                    .unwrap();
                let status = common::send(&router, request).await.status;
                assert_ne!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{vars:?} {uri}: {asked} offers {method} in {header}, which is refused"
                );
            }
        }
    }
}
