//! The real router, driven in-process: routes, hub rules and every kind of bad input get
//! their status and a JSON error, never a token they should not.

use axum::Router;
use axum::body::Body;
use axum::http::StatusCode;
use signalr_negotiate::Settings;

use crate::common::{self, KEY, assert_negotiated, call, router};

async fn expect_error(router: &Router, method: &str, uri: &str, body: Body, status: StatusCode) -> String {
    let (got, json, headers) = call(router, method, uri, body).await;
    assert_eq!(got, status, "{method} {uri}: {json}");
    assert_eq!(headers["content-type"], "application/json", "{method} {uri}");
    assert!(json.get("accessToken").is_none(), "{method} {uri} issued a token");
    let message = json["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{method} {uri}: {json}"))
        .to_owned();
    assert!(!message.contains(KEY));
    message
}

#[tokio::test]
async fn negotiates_on_both_routes_with_get_and_post() {
    let router = router(&[("SIGNALR_HUB", "Default")]);
    for (method, uri, hub) in [
        (
            "POST",
            "/api/Chat/negotiate?negotiateVersion=1&useStatefulReconnect=true",
            "chat",
        ),
        ("GET", "/api/chat/negotiate", "chat"),
        ("POST", "/api/negotiate?hub=News", "news"),
        ("POST", "/api/negotiate?negotiateVersion=1", "default"),
        ("POST", "/api/a%5B0%5D/negotiate", "a[0]"),
    ] {
        let (status, json, headers) = call(&router, method, uri, Body::empty()).await;
        assert_eq!(status, StatusCode::OK, "{method} {uri}: {json}");
        assert_eq!(headers["cache-control"], "no-store");
        assert_negotiated(
            &json,
            "https://demo.service.signalr.net",
            "https://demo.service.signalr.net",
            hub,
        );
    }
}

#[tokio::test]
async fn status_route_answers_ok() {
    let (status, json, _) = call(&router(&[]), "GET", "/", Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json, serde_json::json!({"status": "ok"}));
}

#[tokio::test]
async fn a_small_body_is_accepted_and_a_large_one_is_413() {
    let router = router(&[]);
    let (status, _, _) = call(
        &router,
        "POST",
        "/api/chat/negotiate",
        Body::from(vec![b'x'; 16 * 1024]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let message = expect_error(
        &router,
        "POST",
        "/api/chat/negotiate",
        Body::from(vec![b'x'; 16 * 1024 + 1]),
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert!(message.contains("16 KiB"), "{message}");
    expect_error(
        &router,
        "POST",
        "/api/chat/negotiate",
        Body::from(vec![0u8; 10 << 20]),
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
}

#[tokio::test]
async fn wrong_methods_are_405_with_allow() {
    let router = router(&[]);
    for method in ["PUT", "DELETE", "PATCH", "OPTIONS"] {
        let (status, json, headers) = call(&router, method, "/api/chat/negotiate", Body::empty()).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method}: {json}");
        assert_eq!(headers["allow"], "GET, POST");
        assert!(json["error"].is_string());
        expect_error(
            &router,
            method,
            "/api/negotiate?hub=chat",
            Body::empty(),
            StatusCode::METHOD_NOT_ALLOWED,
        )
        .await;
    }
    expect_error(&router, "POST", "/", Body::empty(), StatusCode::METHOD_NOT_ALLOWED).await;
}

/// HEAD is not GET on a negotiate route: 405 with `Allow`, and no token is made (a HEAD answer
/// has no body, so the token would be made and logged for nobody). `HEAD /` stays a probe.
#[tokio::test]
async fn head_on_a_negotiate_route_is_405() {
    let router = router(&[("SIGNALR_HUB", "chat")]);
    for uri in ["/api/chat/negotiate", "/api/negotiate", "/api/negotiate?hub=chat"] {
        let request = axum::http::Request::head(uri).body(Body::empty()).unwrap();
        let answer = common::send(&router, request).await;
        assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED, "{uri}");
        assert_eq!(answer.headers["allow"], "GET, POST", "{uri}");
        assert_eq!(answer.headers["content-type"], "application/json", "{uri}");
    }
    let request = axum::http::Request::head("/").body(Body::empty()).unwrap();
    assert_eq!(common::send(&router, request).await.status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_paths_are_404() {
    let router = router(&[]);
    for uri in [
        "/x",
        "/api",
        "/api/chat",
        "/api/chat/negotiate/",
        "/negotiate",
        "/api/chat/connect",
        "/API/chat/negotiate",
    ] {
        expect_error(&router, "POST", uri, Body::empty(), StatusCode::NOT_FOUND).await;
    }
}

#[tokio::test]
async fn bad_hub_names_are_400() {
    let router = router(&[]);
    let long = "h".repeat(129);
    for uri in [
        "/api//negotiate".to_owned(),
        "/api/a/b/negotiate".to_owned(),
        "/api/a%2Fb/negotiate".to_owned(),
        "/api/a&b=c/negotiate".to_owned(),
        "/api/a%26b%3Dc/negotiate".to_owned(),
        "/api/ch%C3%A4t/negotiate".to_owned(),
        "/api/chat%00/negotiate".to_owned(),
        "/api/%FF/negotiate".to_owned(),
        "/api/1chat/negotiate".to_owned(),
        format!("/api/{long}/negotiate"),
        "/api/negotiate?hub=".to_owned(),
        "/api/negotiate?hub=a%2Fb".to_owned(),
        "/api/negotiate?hub=a%26b%3Dc".to_owned(),
        "/api/negotiate?hub=ch%C3%A4t".to_owned(),
        format!("/api/negotiate?hub={long}"),
        "/api/negotiate".to_owned(),
        "/api/negotiate?hub=a&hub=a".to_owned(),
    ] {
        expect_error(&router, "POST", &uri, Body::empty(), StatusCode::BAD_REQUEST).await;
    }
}

#[tokio::test]
async fn unlisted_hubs_are_404() {
    let router = router(&[("SIGNALR_HUBS", "chat,news")]);
    expect_error(
        &router,
        "POST",
        "/api/other/negotiate",
        Body::empty(),
        StatusCode::NOT_FOUND,
    )
    .await;
    let (status, _, _) = call(&router, "POST", "/api/NEWS/negotiate", Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn route_prefix_moves_the_routes() {
    let router = router(&[("SIGNALR_ROUTE_PREFIX", "signalr/v1")]);
    let (status, _, _) = call(&router, "POST", "/signalr/v1/chat/negotiate", Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    expect_error(
        &router,
        "POST",
        "/api/chat/negotiate",
        Body::empty(),
        StatusCode::NOT_FOUND,
    )
    .await;

    let root = router_with_prefix("");
    let (status, _, _) = call(&root, "POST", "/chat/negotiate", Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = call(&root, "GET", "/", Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
}

fn router_with_prefix(prefix: &str) -> Router {
    router(&[("SIGNALR_ROUTE_PREFIX", prefix)])
}

#[tokio::test]
async fn token_lifetime_application_name_and_client_endpoint_reach_the_answer() {
    let cs = format!(
        "Endpoint=https://demo.service.signalr.net;ClientEndpoint=https://proxy.example.com/sig/;AccessKey={KEY}"
    );
    let router = common::build_router([
        ("AzureSignalRConnectionString", cs.as_str()),
        ("SIGNALR_TOKEN_LIFETIME_SECONDS", "120"),
        ("SIGNALR_APPLICATION_NAME", "Shop"),
        ("SIGNALR_UNIQUE_CLAIM", ""),
    ]);
    let (status, json, _) = call(&router, "POST", "/api/Chat/negotiate", Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    let url = json["url"].as_str().unwrap();
    assert!(
        url.starts_with("https://proxy.example.com/sig/client/?hub=shop_chat&asrs_request_id="),
        "{url}"
    );
    let claims = common::verify_token(json["accessToken"].as_str().unwrap(), KEY);
    assert_eq!(claims["aud"], "https://demo.service.signalr.net/client/?hub=shop_chat");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 120);
    assert!(!claims.contains_key("uniqueToken"));
}

#[tokio::test]
async fn a_comma_in_the_query_hub_is_a_hub_locally_and_refused_under_the_functions_host() {
    let local = router(&[]);
    let (status, json, _) = call(&local, "POST", "/api/negotiate?hub=a%2Cb", Body::empty()).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_negotiated(
        &json,
        "https://demo.service.signalr.net",
        "https://demo.service.signalr.net",
        "a,b",
    );
    // The Functions host's forwarding joins ?hub=a&hub=b into ?hub=a%2Cb: refused there.
    let functions = router(&[("FUNCTIONS_CUSTOMHANDLER_PORT", "7072")]);
    let message = expect_error(
        &functions,
        "POST",
        "/api/negotiate?hub=a%2Cb",
        Body::empty(),
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(message.contains("repeated hub parameter"), "{message}");
    let (status, json, _) = call(&functions, "POST", "/api/a,b/negotiate", Body::empty()).await;
    assert_eq!(status, StatusCode::OK, "the path form still works: {json}");
}

/// The answer to a negotiate whose token carries a fixed claim of `pad` characters. The hub's
/// name is long enough for claims that overflow its tokens to leave room in those of a
/// one-letter hub (claims that overflow every token are refused at start).
async fn negotiate_with_padding(pad: usize) -> (StatusCode, serde_json::Value) {
    negotiate_on_hub_with_padding("chat_room_with_a_long_name", pad).await
}

async fn negotiate_on_hub_with_padding(hub: &str, pad: usize) -> (StatusCode, serde_json::Value) {
    let claims = serde_json::json!({ "pad": "p".repeat(pad) }).to_string();
    let router = router(&[("SIGNALR_CLAIMS", claims.as_str())]);
    let (status, json, _) = call(&router, "POST", &format!("/api/{hub}/negotiate"), Body::empty()).await;
    (status, json)
}

/// The token's length: the token served, or the length the 413 names.
fn token_length(status: StatusCode, json: &serde_json::Value) -> usize {
    match status {
        StatusCode::OK => json["accessToken"].as_str().unwrap().len(),
        StatusCode::PAYLOAD_TOO_LARGE => {
            let error = json["error"].as_str().unwrap();
            let words: Vec<&str> = error.split(' ').collect();
            let at = words.iter().position(|w| *w == "characters").expect(error);
            words[at - 1].parse().expect(error)
        }
        other => panic!("{other}: {json}"),
    }
}

#[tokio::test]
async fn a_token_of_4096_characters_is_served_and_one_of_4097_is_a_413() {
    let (status, json) = negotiate_with_padding(0).await;
    let unpadded = token_length(status, &json);
    // Each character of claims adds 4/3 of a token character: look around the estimate.
    let mut seen = Vec::new();
    let estimate = (4096 - unpadded) * 3 / 4;
    for pad in estimate - 4..estimate + 4 {
        let (status, json) = negotiate_with_padding(pad).await;
        let length = token_length(status, &json);
        match length {
            ..=4096 => assert_eq!(status, StatusCode::OK, "{length}: {json}"),
            _ => {
                assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{length}: {json}");
                assert_eq!(json.as_object().unwrap().len(), 1, "only the error: {json}");
                assert!(json["error"].as_str().unwrap().contains("at most 4096"), "{json}");
            }
        }
        seen.push(length);
    }
    assert!(seen.contains(&4096) && seen.contains(&4097), "{seen:?}");
}

/// Fixed claims that leave no room even in the shortest token (hub `a`, no user) stop the start
/// instead of failing every negotiate: the start refuses exactly the claims whose shortest token
/// would be a 413.
#[tokio::test]
async fn claims_too_long_for_every_token_are_refused_at_start_exactly_there() {
    // As `router` reads them.
    let settings = |pad: usize| {
        let claims = serde_json::json!({ "pad": "p".repeat(pad) }).to_string();
        let cs = common::connection_string("https://demo.service.signalr.net");
        Settings::from_vars([
            ("AzureSignalRConnectionString".to_owned(), cs),
            ("SIGNALR_CLAIMS".to_owned(), claims),
        ])
    };
    let (status, json) = negotiate_on_hub_with_padding("a", 0).await;
    let unpadded = token_length(status, &json);
    let estimate = (4096 - unpadded) * 3 / 4;
    let largest = (estimate - 4..estimate + 8)
        .take_while(|&pad| settings(pad).is_ok())
        .last()
        .expect("small claims are accepted");
    let (status, json) = negotiate_on_hub_with_padding("a", largest).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let served = token_length(status, &json);
    assert!(
        served > 4096 - 4,
        "one more character of claims would not overflow: {served}"
    );
    let refused = settings(largest + 1).unwrap_err();
    assert_eq!(refused.setting, "SIGNALR_CLAIMS");
    let over: Vec<&str> = refused.message.split(' ').collect();
    let length: usize = over[over.iter().position(|w| *w == "characters,").unwrap() - 1]
        .parse()
        .unwrap();
    assert!((4097..=4096 + 4).contains(&length), "{refused}");
    assert!(
        refused.message.ends_with(&format!(
            "{length} characters, {} over the 4096 allowed; use fewer or shorter claims",
            length - 4096
        )),
        "{refused}"
    );
}

/// Every answer says `Cache-Control: no-store`, whatever the route, method or status: the
/// readiness probe, preflights (answered by the CORS layer, refused, or 405 without CORS), the
/// router's own 404 and 405, refusals and tokens.
#[tokio::test]
async fn every_answer_is_never_cached() {
    let plain = router(&[]);
    let with_cors = router(&[("SIGNALR_CORS_ORIGINS", "http://localhost:8080")]);
    for router in [&plain, &with_cors] {
        let mut requests = Vec::new();
        for (method, uri) in [
            ("GET", "/"),
            ("HEAD", "/"),
            ("POST", "/"),
            ("GET", "/nowhere"),
            ("POST", "/api/chat/negotiate"),
            ("GET", "/api/negotiate?hub=chat"),
            ("DELETE", "/api/chat/negotiate"),
            ("HEAD", "/api/negotiate"),
            ("PUT", "/api//negotiate"),
            ("POST", "/api//negotiate"),
            ("POST", "/api/negotiate"),
        ] {
            requests.push(
                axum::http::Request::builder()
                    .method(method)
                    .uri(uri)
                    .body(Body::empty())
                    .unwrap(),
            );
        }
        requests.push(
            axum::http::Request::post("/api/chat/negotiate")
                .body(Body::from(vec![b'x'; 16 * 1024 + 1]))
                .unwrap(),
        );
        for uri in ["/api/chat/negotiate", "/api/negotiate", "/", "/nowhere"] {
            for origin in ["http://localhost:8080", "https://elsewhere.example"] {
                requests.push(
                    axum::http::Request::options(uri)
                        .header("origin", origin)
                        .header("access-control-request-method", "POST")
                        .body(Body::empty())
                        .unwrap(),
                );
            }
        }
        for request in requests {
            let described = format!(
                "{} {} {:?}",
                request.method(),
                request.uri(),
                request.headers().get("origin")
            );
            let answer = common::send(router, request).await;
            assert_eq!(
                answer.headers.get("cache-control").map(|v| v.to_str().unwrap()),
                Some("no-store"),
                "{described}: {} {:?}",
                answer.status,
                answer.headers
            );
        }
    }
}
