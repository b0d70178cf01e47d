//! Who is calling, through the real router: OIDC bearer tokens against a local provider, App
//! Service authentication headers, and API Gateway authorizers in `lambda_http` requests.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use serde_json::{Value, json};
use signalr_negotiate::Settings;

use crate::common::oidc::{self, AUDIENCE, RSA_KID, TestIssuer};
use crate::common::{self, KEY, router, verify_token};

/// What these tests look at in an answer.
struct Answer {
    status: StatusCode,
    body: Value,
    challenge: Option<String>,
}

impl From<common::Answer> for Answer {
    fn from(answer: common::Answer) -> Self {
        Self {
            status: answer.status,
            body: answer.json(),
            challenge: answer
                .headers
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_owned()),
        }
    }
}

impl Answer {
    fn claims(&self) -> std::collections::BTreeMap<String, Value> {
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
        verify_token(self.body["accessToken"].as_str().unwrap(), KEY)
    }

    fn refused(&self, reason: &str) {
        assert_eq!(self.status, StatusCode::UNAUTHORIZED, "{}", self.body);
        assert!(self.body.get("accessToken").is_none());
        let error = self.body["error"].as_str().unwrap();
        assert!(error.contains(reason), "expected {reason:?} in {error:?}");
    }
}

async fn negotiate(router: &Router, uri: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = Request::post(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    common::send(router, request.body(Body::empty()).unwrap()).await.into()
}

fn oidc_router(issuer: &TestIssuer, extra: &[(&str, &str)]) -> Router {
    let mut vars = vec![
        ("SIGNALR_AUTH", "oidc"),
        ("SIGNALR_OIDC_ISSUER", issuer.issuer.as_str()),
        ("SIGNALR_OIDC_AUDIENCE", AUDIENCE),
        ("SIGNALR_COPY_CLAIMS", "email,roles,aud"),
    ];
    vars.extend_from_slice(extra);
    router(&vars)
}

async fn with_bearer(router: &Router, token: &str) -> Answer {
    negotiate(
        router,
        "/api/chat/negotiate",
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await
}

#[tokio::test]
async fn oidc_valid_tokens_set_the_user_and_copy_claims() {
    let issuer = TestIssuer::start().await;
    let router = oidc_router(&issuer, &[]);
    let mut claims = issuer.claims("user-42");
    claims["email"] = json!("ada@example.com");
    claims["roles"] = json!(["admin", "ops"]);
    claims["secret_claim"] = json!("not copied");

    let got = with_bearer(&router, &issuer.rs256(RSA_KID, &claims)).await.claims();
    assert_eq!(got["asrs.s.uid"], "user-42");
    assert_eq!(got["nameid"], "user-42");
    assert_eq!(got["email"], "ada@example.com");
    assert_eq!(got["roles"], json!(["admin", "ops"]));
    assert_eq!(got["asrs.u.aud"], AUDIENCE, "a copied aud is renamed");
    assert_eq!(got["aud"], "https://demo.service.signalr.net/client/?hub=chat");
    assert!(!got.contains_key("secret_claim"));

    let got = with_bearer(&router, &issuer.es256(&claims)).await.claims();
    assert_eq!(got["asrs.s.uid"], "user-42");
    assert_eq!(issuer.fetches(), 1, "the JWKS is cached");
}

/// A copied or fixed claim whose name is a registered one in another case (`Aud`, `NONCE`,
/// `ISS`) is renamed `asrs.u.<name>` like its lower-case form: it never sits beside the
/// token's own.
#[tokio::test]
async fn reserved_claim_names_in_any_case_are_renamed() {
    let issuer = TestIssuer::start().await;
    let router = router(&[
        ("SIGNALR_AUTH", "oidc"),
        ("SIGNALR_OIDC_ISSUER", issuer.issuer.as_str()),
        ("SIGNALR_OIDC_AUDIENCE", AUDIENCE),
        ("SIGNALR_COPY_CLAIMS", "Aud,NONCE"),
        ("SIGNALR_CLAIMS", r#"{"ISS":"configured"}"#),
    ]);
    let mut claims = issuer.claims("user-1");
    claims["Aud"] = json!("copied-aud");
    claims["NONCE"] = json!("copied-nonce");
    let got = with_bearer(&router, &issuer.rs256(RSA_KID, &claims)).await.claims();
    assert_eq!(got["asrs.u.Aud"], "copied-aud");
    assert_eq!(got["asrs.u.NONCE"], "copied-nonce");
    assert_eq!(got["asrs.u.ISS"], "configured");
    for name in ["Aud", "NONCE", "ISS"] {
        assert!(!got.contains_key(name), "{name} reached the token as itself: {got:?}");
    }
}

#[tokio::test]
async fn oidc_invalid_tokens_are_401_with_the_reason() {
    let issuer = TestIssuer::start().await;
    let router = oidc_router(&issuer, &[]);
    let now = common::now();
    let valid = issuer.claims("u");
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = valid.clone();
        change(&mut claims);
        claims
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "expired",
            issuer.rs256(RSA_KID, &with(&|c| c["exp"] = json!(now - 120))),
            "expired",
        ),
        (
            "not yet valid",
            issuer.rs256(RSA_KID, &with(&|c| c["nbf"] = json!(now + 300))),
            "not valid yet",
        ),
        (
            "wrong issuer",
            issuer.rs256(RSA_KID, &with(&|c| c["iss"] = json!("https://evil.example.com"))),
            "another issuer",
        ),
        (
            "wrong audience",
            issuer.rs256(RSA_KID, &with(&|c| c["aud"] = json!("api://other"))),
            "another audience",
        ),
        (
            "bad signature",
            oidc::sign_rs256(&oidc::stranger_key(), RSA_KID, &valid),
            "signature",
        ),
        ("alg none", oidc::unsigned(&valid), "not a well-formed JWT"),
        (
            "HS256 keyed with the public key",
            oidc::hs256(&issuer.public_key_bytes(), &valid),
            "algorithm is not accepted",
        ),
        ("garbage", "eyJnYXJiYWdl.%%%.x".to_owned(), "not a well-formed JWT"),
        ("oversized", "a".repeat(20_000), "not a bearer token"),
    ];
    for (name, token, reason) in cases {
        let answer = with_bearer(&router, &token).await;
        answer.refused(reason);
        let challenge = answer
            .challenge
            .unwrap_or_else(|| panic!("{name}: no WWW-Authenticate"));
        assert!(challenge.starts_with("Bearer"), "{name}: {challenge}");
    }
    let answer = negotiate(
        &router,
        "/api/chat/negotiate",
        &[("authorization", "Basic dXNlcjpwdw==")],
    )
    .await;
    answer.refused("not a bearer token");
}

#[tokio::test]
async fn an_unknown_kid_refetches_the_keys_once_a_minute_at_most() {
    let issuer = TestIssuer::start().await;
    let router = oidc_router(&issuer, &[]);
    with_bearer(&router, &issuer.rs256(RSA_KID, &issuer.claims("u")))
        .await
        .claims();
    assert_eq!(issuer.fetches(), 1);
    let forged = issuer.rs256("rotated-key", &issuer.claims("u"));
    with_bearer(&router, &forged).await.refused("unknown key");
    assert_eq!(
        issuer.fetches(),
        1,
        "the first fetch was under a minute ago: no refetch"
    );

    // A fresh router has fetched nothing: an unknown kid makes exactly one fetch.
    let router = oidc_router(&issuer, &[]);
    with_bearer(&router, &forged).await.refused("unknown key");
    assert_eq!(issuer.fetches(), 2);
    with_bearer(&router, &forged).await.refused("unknown key");
    assert_eq!(issuer.fetches(), 2);
}

/// Callers that give up cannot defeat the refetch limit: twenty requests with unknown key ids,
/// each dropped after 100 ms while the provider takes a second, make one fetch, and that fetch
/// completes for the callers that come after.
#[tokio::test]
async fn dropped_requests_neither_cancel_the_key_fetch_nor_start_another() {
    let issuer = TestIssuer::start().await;
    issuer.set(|c| c.keys_delay = Duration::from_secs(1));
    let router = oidc_router(&issuer, &[]);
    for n in 0..20 {
        let forged = issuer.rs256(&format!("unknown-{n}"), &issuer.claims("u"));
        let _ = tokio::time::timeout(Duration::from_millis(100), with_bearer(&router, &forged)).await;
    }
    assert_eq!(issuer.fetches(), 1, "one fetch, whatever the callers did");
    let started = Instant::now();
    let valid = issuer.rs256(RSA_KID, &issuer.claims("u"));
    loop {
        let answer = with_bearer(&router, &valid).await;
        if answer.status == StatusCode::OK {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{}", answer.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(issuer.fetches(), 1, "the detached fetch brought the keys");
}

/// Keys come only from https, or http on a loopback address; the discovered `jwks_uri` is
/// judged by the same rule as the settings, on the parsed address: `::ffff:127.0.0.1`,
/// `0.0.0.0` and `::ffff:7f00:1` are not loopback addresses.
#[tokio::test]
async fn a_discovered_jwks_uri_must_be_https_or_a_loopback_address() {
    let issuer = TestIssuer::start().await;
    let port = issuer.port();
    for host in ["[::ffff:127.0.0.1]", "0.0.0.0", "[::ffff:7f00:1]", "keys.example.com"] {
        let uri = format!("http://{host}:{port}/tenant-1/v2.0/keys");
        issuer.set(|c| c.jwks_uri = Some(uri.clone()));
        let router = oidc_router(&issuer, &[]);
        with_bearer(&router, &issuer.rs256(RSA_KID, &issuer.claims("u")))
            .await
            .refused("signing keys could not be fetched");
        assert_eq!(issuer.fetches(), 0, "{uri} was fetched");
    }
}

/// Discovery and keys are fetched where they are, never through a redirect (a 302 could send
/// the fetch to plain http elsewhere).
#[tokio::test]
async fn discovery_and_keys_follow_no_redirect() {
    let issuer = TestIssuer::start().await;
    let (elsewhere, hits) = common::start_elsewhere(issuer.jwks()).await;
    let keys_elsewhere = format!("http://127.0.0.1:{elsewhere}/keys");
    issuer.set(|c| c.keys_redirect = Some(keys_elsewhere.clone()));
    let router = oidc_router(&issuer, &[]);
    with_bearer(&router, &issuer.rs256(RSA_KID, &issuer.claims("u")))
        .await
        .refused("signing keys could not be fetched");
    let discovery = json!({"issuer": issuer.issuer, "jwks_uri": keys_elsewhere});
    let (discovery_elsewhere, discovery_hits) = common::start_elsewhere(discovery).await;
    issuer.set(|c| {
        c.keys_redirect = None;
        c.discovery_redirect = Some(format!("http://127.0.0.1:{discovery_elsewhere}/openid-configuration"));
    });
    let router = oidc_router(&issuer, &[]);
    with_bearer(&router, &issuer.rs256(RSA_KID, &issuer.claims("u")))
        .await
        .refused("signing keys could not be fetched");
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the redirect for the keys was followed");
    assert_eq!(
        discovery_hits.load(Ordering::SeqCst),
        0,
        "the redirect for discovery was followed"
    );
}

/// `iss` is the configured issuer as a string: an array holding it is another issuer
/// (RFC 7519 4.1.1, OpenID Connect Core 3.1.3.7).
#[tokio::test]
async fn an_iss_array_is_refused() {
    let issuer = TestIssuer::start().await;
    let router = oidc_router(&issuer, &[]);
    for iss in [json!([issuer.issuer]), json!([issuer.issuer, "https://other"])] {
        let mut claims = issuer.claims("u");
        claims["iss"] = iss;
        with_bearer(&router, &issuer.rs256(RSA_KID, &claims))
            .await
            .refused("another issuer");
    }
    // Neither a string nor an array: no issuer at all.
    for iss in [json!({"iss": issuer.issuer}), json!(7), json!(null)] {
        let mut claims = issuer.claims("u");
        claims["iss"] = iss;
        with_bearer(&router, &issuer.rs256(RSA_KID, &claims))
            .await
            .refused("the bearer token");
    }
    with_bearer(&router, &issuer.rs256(RSA_KID, &issuer.claims("u")))
        .await
        .claims();
}

/// A failed fetch while no key was ever fetched is retried soon, backing off (1 s, 2 s, …),
/// not after a minute: one blip of the provider at start does not lock everyone out. The limit
/// still holds: requests arriving meanwhile do not each make a fetch.
#[tokio::test]
async fn a_failed_first_key_fetch_is_retried_soon_with_backoff() {
    let issuer = TestIssuer::start().await;
    issuer.set(|c| c.keys_status = Some(503));
    let router = oidc_router(&issuer, &[]);
    let valid = issuer.rs256(RSA_KID, &issuer.claims("u"));
    let down = Instant::now();
    while down.elapsed() < Duration::from_millis(2200) {
        with_bearer(&router, &valid)
            .await
            .refused("signing keys could not be fetched");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let while_down = issuer.fetches();
    assert!((1..=2).contains(&while_down), "{while_down} fetches in 2.2 s");
    issuer.set(|c| c.keys_status = None);
    let back = Instant::now();
    loop {
        let answer = with_bearer(&router, &valid).await;
        if answer.status == StatusCode::OK {
            break;
        }
        answer.refused("signing keys could not be fetched");
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "still refused {:?} after the provider came back",
            back.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(issuer.fetches() <= while_down + 2, "{} fetches", issuer.fetches());
}

#[tokio::test]
async fn jwks_endpoint_down_is_a_401() {
    let issuer = TestIssuer::start().await;
    let closed = format!("http://127.0.0.1:{}/tenant-1/v2.0", common::free_port());
    let router = router(&[
        ("SIGNALR_AUTH", "oidc"),
        ("SIGNALR_OIDC_ISSUER", &closed),
        ("SIGNALR_OIDC_AUDIENCE", AUDIENCE),
    ]);
    let mut claims = issuer.claims("u");
    claims["iss"] = json!(closed);
    with_bearer(&router, &issuer.rs256(RSA_KID, &claims))
        .await
        .refused("signing keys could not be fetched");
}

#[tokio::test]
async fn a_missing_token_is_anonymous_unless_required() {
    let issuer = TestIssuer::start().await;
    let open = oidc_router(&issuer, &[]);
    let got = negotiate(&open, "/api/chat/negotiate", &[]).await.claims();
    assert!(!got.contains_key("asrs.s.uid"));

    let required = oidc_router(&issuer, &[("SIGNALR_AUTH_REQUIRED", "true")]);
    let answer = negotiate(&required, "/api/chat/negotiate", &[]).await;
    answer.refused("requires a signed-in caller");
    assert!(answer.challenge.unwrap().starts_with("Bearer"));
}

/// A bearer whose user id claim is an array names no one: a 401 naming the claim where a user
/// id is required, a token without one otherwise; one item is that user. (An array `sub` is
/// refused by jsonwebtoken as malformed: the claim here is `oid`.)
#[tokio::test]
async fn a_bearer_user_id_array_is_no_user_id() {
    let issuer = TestIssuer::start().await;
    let mut claims = issuer.claims("subject");
    claims["oid"] = json!(["alice", "mallory"]);
    let token = issuer.rs256(RSA_KID, &claims);
    let oid = ("SIGNALR_USER_ID_CLAIM", "oid");
    let required = oidc_router(&issuer, &[oid, ("SIGNALR_AUTH_REQUIRED", "true")]);
    let answer = with_bearer(&required, &token).await;
    answer.refused("user id claim (oid) has several values");
    assert!(!answer.body.to_string().contains("mallory"), "{}", answer.body);

    let open = oidc_router(&issuer, &[oid]);
    let got = with_bearer(&open, &token).await.claims();
    assert!(
        !got.contains_key("asrs.s.uid") && !got.contains_key("nameid"),
        "{got:?}"
    );

    claims["oid"] = json!(["alice"]);
    let got = with_bearer(&required, &issuer.rs256(RSA_KID, &claims)).await.claims();
    assert_eq!(got["asrs.s.uid"], "alice");
}

/// Required means a user id from every source: App Service principal claims that repeat the
/// named user id claim with two values are a 401, and so is an identity without the claim.
#[tokio::test]
async fn app_service_user_id_claim_with_two_values_is_a_401_where_required() {
    let router = router(&[
        ("SIGNALR_AUTH", "app-service"),
        ("WEBSITE_AUTH_ENABLED", "True"),
        ("SIGNALR_AUTH_REQUIRED", "true"),
        ("SIGNALR_USER_ID_CLAIM", "oid"),
    ]);
    let with = |claims: Value| {
        let encoded = principal(&json!({"auth_typ": "aad", "claims": claims}));
        let router = router.clone();
        async move {
            negotiate(
                &router,
                "/api/chat/negotiate",
                &[
                    ("x-ms-client-principal-id", "principal"),
                    ("x-ms-client-principal", &encoded),
                ],
            )
            .await
        }
    };
    with(json!([{"typ": "oid", "val": "a"}, {"typ": "oid", "val": "b"}]))
        .await
        .refused("user id claim (oid) has several values");
    let got = with(json!([{"typ": "oid", "val": "a"}])).await.claims();
    assert_eq!(got["asrs.s.uid"], "a");
    let got = with(json!([{"typ": "name", "val": "Ada"}])).await.claims();
    assert_eq!(got["asrs.s.uid"], "principal", "no claim: the principal id");
}

fn principal(json: &Value) -> String {
    base64::engine::general_purpose::STANDARD.encode(json.to_string())
}

#[tokio::test]
async fn app_service_headers_give_the_user_and_claims() {
    let router = router(&[
        ("SIGNALR_AUTH", "app-service"),
        ("WEBSITE_AUTH_ENABLED", "True"),
        ("SIGNALR_COPY_CLAIMS", "roles,name"),
    ]);
    let encoded = principal(&json!({
        "auth_typ": "aad",
        "claims": [
            {"typ": "name", "val": "Ada Lovelace"},
            {"typ": "roles", "val": "admin"},
            {"typ": "roles", "val": "ops"},
            {"typ": "http://schemas.microsoft.com/identity/claims/objectidentifier", "val": "oid-1"}
        ],
        "name_typ": "name",
        "role_typ": "roles"
    }));
    let headers = [
        ("x-ms-client-principal-id", "principal-7"),
        ("x-ms-client-principal-name", "ada@example.com"),
        ("x-ms-client-principal-idp", "aad"),
        ("x-ms-client-principal", encoded.as_str()),
    ];
    let got = negotiate(&router, "/api/chat/negotiate", &headers).await.claims();
    assert_eq!(got["asrs.s.uid"], "principal-7");
    assert_eq!(got["nameid"], "principal-7");
    assert_eq!(got["roles"], json!(["admin", "ops"]));
    assert_eq!(got["name"], "Ada Lovelace");

    // No headers: anonymous.
    let got = negotiate(&router, "/api/chat/negotiate", &[]).await.claims();
    assert!(!got.contains_key("asrs.s.uid"));

    // A principal that is not base64 JSON: 401, no Bearer challenge (OIDC is not configured).
    for bad in [
        "%%%not-base64%%%",
        &base64::engine::general_purpose::STANDARD.encode("{not json"),
    ] {
        let answer = negotiate(
            &router,
            "/api/chat/negotiate",
            &[("x-ms-client-principal-id", "p"), ("x-ms-client-principal", bad)],
        )
        .await;
        answer.refused("X-MS-CLIENT-PRINCIPAL");
        assert!(answer.challenge.is_none());
    }
}

#[tokio::test]
async fn forged_identity_headers_are_ignored_when_not_trusted() {
    let router = router(&[("SIGNALR_COPY_CLAIMS", "roles")]);
    let encoded = principal(&json!({"claims": [{"typ": "roles", "val": "admin"}]}));
    let got = negotiate(
        &router,
        "/api/chat/negotiate?userId=mallory",
        &[
            ("x-ms-client-principal-id", "admin"),
            ("x-ms-client-principal", &encoded),
        ],
    )
    .await
    .claims();
    assert!(!got.contains_key("asrs.s.uid") && !got.contains_key("nameid") && !got.contains_key("roles"));
}

#[test]
fn app_service_is_refused_unless_the_platform_strips_forged_headers() {
    let error = Settings::from_vars([("SIGNALR_AUTH".to_owned(), "app-service".to_owned())]).unwrap_err();
    assert_eq!(error.setting, "SIGNALR_AUTH");
    assert!(error.message.contains("WEBSITE_AUTH_ENABLED=True"), "{error}");
}

#[tokio::test]
async fn dev_query_user_names_the_user_and_fixed_claims_are_added() {
    let router = router(&[
        ("SIGNALR_DEV_QUERY_USER", "true"),
        ("SIGNALR_CLAIMS", r#"{"tier":"gold","jti":"fixed","levels":[1,2]}"#),
    ]);
    let got = negotiate(&router, "/api/chat/negotiate?userId=alice", &[])
        .await
        .claims();
    assert_eq!(got["asrs.s.uid"], "alice");
    assert_eq!(got["tier"], "gold");
    assert_eq!(got["asrs.u.jti"], "fixed");
    assert_eq!(got["levels"], json!([1, 2]));
}

/// A Lambda request as `lambda_http` builds it from an API Gateway event.
fn lambda_request(event: Value) -> lambda_http::Request {
    lambda_http::request::from_str(&event.to_string()).expect("a valid API Gateway event")
}

fn http_api_event(authorizer: Value) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "ANY /api/{hub}/negotiate",
        "rawPath": "/api/chat/negotiate",
        "rawQueryString": "",
        "headers": {"host": "abc.execute-api.eu-west-1.amazonaws.com"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc", "domainName": "abc.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "abc", "requestId": "r1", "routeKey": "ANY /api/{hub}/negotiate", "stage": "$default",
            "time": "23/Nov/2026:13:00:00 +0000", "timeEpoch": 1_795_438_800_000_i64,
            "http": {
                "method": "POST", "path": "/api/chat/negotiate", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9",
                "userAgent": "t"
            },
            "authorizer": authorizer
        },
        "isBase64Encoded": false
    })
}

#[tokio::test]
async fn api_gateway_http_api_jwt_authorizer_claims() {
    let router = router(&[("SIGNALR_AUTH", "api-gateway"), ("SIGNALR_COPY_CLAIMS", "email")]);
    let event = http_api_event(json!({"jwt": {
        "claims": {
            "sub": "cognito-sub-1",
            "email": "ada@example.com",
            "iss": "https://cognito-idp.eu-west-1.amazonaws.com/pool"
        },
        "scopes": ["negotiate"]
    }}));
    let got = Answer::from(common::send(&router, lambda_request(event)).await).claims();
    assert_eq!(got["asrs.s.uid"], "cognito-sub-1");
    assert_eq!(got["email"], "ada@example.com");
}

#[tokio::test]
async fn api_gateway_lambda_authorizer_context() {
    let router = router(&[
        ("SIGNALR_AUTH", "api-gateway"),
        ("SIGNALR_USER_ID_CLAIM", "userId"),
        ("SIGNALR_COPY_CLAIMS", "plan"),
    ]);
    let event = http_api_event(json!({"lambda": {"userId": "u-77", "plan": "pro"}}));
    let got = Answer::from(common::send(&router, lambda_request(event)).await).claims();
    assert_eq!(got["asrs.s.uid"], "u-77");
    assert_eq!(got["plan"], "pro");
}

#[tokio::test]
async fn api_gateway_rest_api_claims() {
    let router = router(&[("SIGNALR_AUTH", "api-gateway"), ("SIGNALR_COPY_CLAIMS", "email")]);
    let event = json!({
        "resource": "/api/{hub}/negotiate",
        "path": "/api/chat/negotiate",
        "httpMethod": "POST",
        "headers": {"Host": "abc.execute-api.eu-west-1.amazonaws.com"},
        "multiValueHeaders": {"Host": ["abc.execute-api.eu-west-1.amazonaws.com"]},
        "queryStringParameters": null,
        "multiValueQueryStringParameters": null,
        "pathParameters": {"hub": "chat"},
        "stageVariables": null,
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc", "resourceId": "r", "stage": "prod",
            "requestId": "id-1", "resourcePath": "/api/{hub}/negotiate", "httpMethod": "POST",
            "path": "/prod/api/chat/negotiate", "protocol": "HTTP/1.1", "requestTimeEpoch": 1_795_438_800_000_i64,
            "identity": {"sourceIp": "203.0.113.9"},
            "authorizer": {"claims": {"sub": "rest-user-1", "email": "grace@example.com"}, "principalId": "ignored"}
        },
        "body": null,
        "isBase64Encoded": false
    });
    // lambda_http puts the stage in front of the path; the Lambda host routes on the event's path.
    let request = lambda_request(event);
    assert_eq!(request.uri().path(), "/prod/api/chat/negotiate");
    let got = Answer::from(common::send(&router, signalr_negotiate::lambda_request(request)).await).claims();
    assert_eq!(got["asrs.s.uid"], "rest-user-1");
    assert_eq!(got["email"], "grace@example.com");
}

#[tokio::test]
async fn api_gateway_source_outside_lambda_is_anonymous() {
    let router = router(&[("SIGNALR_AUTH", "api-gateway"), ("SIGNALR_AUTH_REQUIRED", "true")]);
    negotiate(&router, "/api/chat/negotiate", &[("x-amzn-oidc-identity", "forged")])
        .await
        .refused("requires a signed-in caller");
}
