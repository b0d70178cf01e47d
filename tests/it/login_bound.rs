//! Tokens bounded by the caller's login, through the real binary: an OIDC bearer's `exp` and an
//! API Gateway JWT authorizer's `exp` bound the token's `exp`, and `minutesToExpire` of
//! generateToken (rounded down); `SIGNALR_CLOSE_ON_AUTH_EXPIRATION=true` adds `asrs.s.coae` and
//! `asrs.s.aeo`; a credential with too little left is a 401 with `WWW-Authenticate: Bearer`,
//! which the SignalR client answers with a fresh credential.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::fake_service::{IDENTITY_HEADER, start_fake};
use crate::common::oidc::{AUDIENCE, RSA_KID, TestIssuer};
use crate::common::{self, Function, KEY, free_port, verify_token, wait_ready};
use crate::lambda_runtime::{http_api_event, spawn_lambda, start_runtime_api};

/// The binary serving on a free loopback port with `env`; its base URL.
pub(crate) async fn serve(name: &str, env: &[(&str, &str)]) -> (Function, String) {
    let listen = format!("127.0.0.1:{}", free_port());
    let mut all = vec![("SIGNALR_LISTEN", listen.as_str())];
    all.extend_from_slice(env);
    let mut function = Function::spawn(name, &all);
    let base = format!("http://{listen}");
    wait_ready(&reqwest::Client::new(), &base, &mut function).await;
    (function, base)
}

/// What a negotiate answered.
pub(crate) struct Negotiated {
    pub status: u16,
    pub body: Value,
    pub challenge: Option<String>,
}

impl Negotiated {
    /// The token's claims, verified with the access key.
    pub fn claims(&self) -> BTreeMap<String, Value> {
        assert_eq!(self.status, 200, "{}", self.body);
        verify_token(self.body["accessToken"].as_str().unwrap(), KEY)
    }

    /// A refusal with this status whose error says `reason`.
    pub fn refused(&self, status: u16, reason: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert!(self.body.get("accessToken").is_none(), "{}", self.body);
        let error = self.body["error"].as_str().unwrap();
        assert!(error.contains(reason), "expected {reason:?} in {error:?}");
    }
}

/// `POST {base}{path}`, with `Authorization: Bearer` when a token is given.
pub(crate) async fn negotiate(base: &str, path: &str, bearer: Option<&str>) -> Negotiated {
    let mut request = reqwest::Client::new().post(format!("{base}{path}"));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|value| value.to_str().unwrap().to_owned());
    Negotiated {
        status,
        body: response.json().await.unwrap(),
        challenge,
    }
}

/// The settings of an OIDC provider.
pub(crate) fn oidc_env(issuer: &TestIssuer) -> [(&'static str, &str); 3] {
    [
        ("SIGNALR_AUTH", "oidc"),
        ("SIGNALR_OIDC_ISSUER", issuer.issuer.as_str()),
        ("SIGNALR_OIDC_AUDIENCE", AUDIENCE),
    ]
}

/// A bearer token for `sub` that expires at `exp` (Unix seconds).
fn bearer(issuer: &TestIssuer, sub: &str, exp: i64) -> String {
    let mut claims = issuer.claims(sub);
    claims["exp"] = json!(exp);
    issuer.rs256(RSA_KID, &claims)
}

fn assert_expiring_refusal(answer: &Negotiated, reason: &str) {
    answer.refused(401, reason);
    let challenge = answer.challenge.as_deref().expect("WWW-Authenticate");
    assert!(challenge.starts_with("Bearer error=\"invalid_token\""), "{challenge}");
}

#[tokio::test]
async fn an_oidc_callers_token_ends_with_its_login_and_says_when() {
    let issuer = TestIssuer::start().await;
    let cs = common::connection_string("https://demo.service.signalr.net");
    let mut env = vec![
        ("AzureSignalRConnectionString", cs.as_str()),
        ("SIGNALR_CLOSE_ON_AUTH_EXPIRATION", "true"),
    ];
    env.extend(oidc_env(&issuer));
    let (_function, base) = serve("login-bound-oidc", &env).await;

    // A caller whose own token expires in 120 s.
    let login_end = common::now() + 120;
    let got = negotiate(&base, "/api/chat/negotiate", Some(&bearer(&issuer, "ada", login_end)))
        .await
        .claims();
    assert_eq!(got["exp"], login_end, "the token ends with the login, not in an hour");
    assert!((got["iat"].as_i64().unwrap() - common::now()).abs() <= 5);
    assert_eq!(got["asrs.s.coae"], "true");
    assert_eq!(
        got["asrs.s.aeo"],
        login_end.to_string(),
        "a string, as the SDK writes it"
    );
    assert_eq!(got["asrs.s.uid"], "ada");

    // A login that outlasts the configured lifetime: the configured lifetime, and the service
    // still closes the connection when the login ends.
    let long_login = common::now() + 7200;
    let got = negotiate(&base, "/api/chat/negotiate", Some(&bearer(&issuer, "ada", long_login)))
        .await
        .claims();
    assert_eq!(got["exp"].as_i64().unwrap() - got["iat"].as_i64().unwrap(), 3600);
    assert_eq!(got["asrs.s.aeo"], long_login.to_string());

    // No credential, no known end: the configured lifetime, and nothing to close on.
    let got = negotiate(&base, "/api/chat/negotiate", None).await.claims();
    assert_eq!(got["exp"].as_i64().unwrap() - got["iat"].as_i64().unwrap(), 3600);
    assert!(
        !got.contains_key("asrs.s.coae") && !got.contains_key("asrs.s.aeo"),
        "{got:?}"
    );

    // Expired 30 s ago: inside the 60 s clock-skew leeway, so the bearer is valid; but no token
    // may outlive it.
    let ended = bearer(&issuer, "ada", common::now() - 30);
    let answer = negotiate(&base, "/api/chat/negotiate", Some(&ended)).await;
    assert_expiring_refusal(&answer, "the caller's credential has expired");
}

#[tokio::test]
async fn without_close_on_auth_expiration_the_token_is_still_bounded() {
    let issuer = TestIssuer::start().await;
    let cs = common::connection_string("https://demo.service.signalr.net");
    let mut env = vec![("AzureSignalRConnectionString", cs.as_str())];
    env.extend(oidc_env(&issuer));
    let (_function, base) = serve("login-bound-no-coae", &env).await;
    let login_end = common::now() + 120;
    let got = negotiate(&base, "/api/chat/negotiate", Some(&bearer(&issuer, "bo", login_end)))
        .await
        .claims();
    assert_eq!(got["exp"], login_end);
    assert!(
        !got.contains_key("asrs.s.coae") && !got.contains_key("asrs.s.aeo"),
        "{got:?}"
    );
}

#[tokio::test]
async fn generate_token_mode_asks_for_the_whole_minutes_the_login_has_left() {
    let issuer = TestIssuer::start().await;
    let (fake, port) = start_fake().await;
    let cs = format!("Endpoint=http://127.0.0.1;Port={port};AuthType=azure.msi;Version=1.0;");
    let identity_endpoint = format!("http://127.0.0.1:{port}/msi/token");
    let mut env = vec![
        ("AzureSignalRConnectionString", cs.as_str()),
        ("IDENTITY_ENDPOINT", identity_endpoint.as_str()),
        ("IDENTITY_HEADER", IDENTITY_HEADER),
    ];
    env.extend(oidc_env(&issuer));
    let (function, base) = serve("login-bound-generate", &env).await;
    let last_query = || fake.queries.lock().unwrap().last().cloned().unwrap_or_default();

    // A caller whose token expires in 120 s: the whole minutes left when the function reads the
    // clock, rounded down (2 within the same second, 1 a second later), never past the login.
    let before = common::now();
    let end = before + 120;
    let answer = negotiate(&base, "/api/chat/negotiate", Some(&bearer(&issuer, "ada", end))).await;
    let after = common::now();
    assert_eq!(answer.status, 200, "{}", answer.body);
    let query = last_query();
    let minutes: i64 = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("minutesToExpire="))
        .and_then(|minutes| minutes.parse().ok())
        .unwrap_or_else(|| panic!("{query}"));
    assert!(
        (before..=after).any(|now| minutes == (end - now) / 60),
        "minutesToExpire={minutes} for a login ending {end}, asked between {before} and {after}"
    );

    // Just under two minutes left (119 s): one whole minute, rounded down, never past the login.
    let answer = negotiate(
        &base,
        "/api/chat/negotiate",
        Some(&bearer(&issuer, "ada", common::now() + 119)),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(last_query(), "api-version=2022-11-01&minutesToExpire=1&userId=ada");

    // A login that outlasts the configured hour: the hour.
    let answer = negotiate(
        &base,
        "/api/chat/negotiate",
        Some(&bearer(&issuer, "ada", common::now() + 7200)),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(last_query(), "api-version=2022-11-01&minutesToExpire=60&userId=ada");

    // Under a minute left: the service cannot make a token that short, so none is asked for.
    let calls = fake.count(|c| &c.generate);
    let answer = negotiate(
        &base,
        "/api/chat/negotiate",
        Some(&bearer(&issuer, "ada", common::now() + 50)),
    )
    .await;
    assert_expiring_refusal(&answer, "expires in less than a minute");
    assert_eq!(fake.count(|c| &c.generate), calls, "no generateToken call");

    // Said once at start: these tokens carry no unique-token claim.
    let logs = function.logs_with("ThrottleByJwtSignatureRule");
    let lines = logs.lines().filter(|line| line.contains("ThrottleByJwtSignatureRule"));
    assert_eq!(lines.count(), 1, "{logs}");
}

/// An HTTP API event whose JWT authorizer passed these claims (all strings, as API Gateway
/// passes them), with this query.
fn jwt_authorized_event(claims: Value, query: &str) -> Value {
    let mut event = http_api_event("Chat");
    event["rawQueryString"] = json!(query);
    let parameters: serde_json::Map<String, Value> = query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), json!(v)))
        .collect();
    event["queryStringParameters"] = Value::Object(parameters);
    event["requestContext"]["authorizer"] = json!({"jwt": {"claims": claims, "scopes": null}});
    event
}

#[tokio::test]
async fn an_api_gateway_jwt_authorizers_exp_and_arrays_reach_the_token() {
    let login_end = common::now() + 120;
    let events = VecDeque::from([
        (
            "allowed".to_owned(),
            jwt_authorized_event(
                json!({
                    "sub": "cognito-user-1",
                    "exp": login_end.to_string(),
                    "cognito:groups": "[admins signalr-diagnostics]",
                }),
                "negotiateVersion=1&diagnostic=true",
            ),
        ),
        (
            "not-allowed".to_owned(),
            jwt_authorized_event(
                json!({"sub": "cognito-user-2", "exp": login_end.to_string(), "cognito:groups": "[readers]"}),
                "diagnostic=true",
            ),
        ),
        (
            "plain".to_owned(),
            jwt_authorized_event(
                json!({"sub": "cognito-user-2", "exp": login_end.to_string(), "cognito:groups": "[readers]"}),
                "negotiateVersion=1",
            ),
        ),
    ]);
    let (runtime_api, mut results, log) = start_runtime_api(events).await;
    let function = spawn_lambda(
        &runtime_api,
        &log,
        &[
            ("SIGNALR_AUTH", "api-gateway"),
            ("SIGNALR_COPY_CLAIMS", "cognito:groups"),
            ("SIGNALR_CLOSE_ON_AUTH_EXPIRATION", "true"),
            ("SIGNALR_DIAGNOSTIC_CLIENTS", "cognito:groups:signalr-diagnostics"),
        ],
    );
    let mut answers = BTreeMap::new();
    for _ in 0..3 {
        let posted = tokio::time::timeout(Duration::from_secs(15), results.recv())
            .await
            .unwrap_or_else(|_| panic!("no result in 15 s:\n{}", function.logs()))
            .unwrap();
        let status = posted.body["statusCode"].as_u64().unwrap();
        let body: Value = serde_json::from_str(posted.body["body"].as_str().unwrap()).unwrap();
        answers.insert(posted.request_id, (status, body));
    }

    let (status, body) = &answers["allowed"];
    assert_eq!(*status, 200, "{body}");
    let got = verify_token(body["accessToken"].as_str().unwrap(), KEY);
    assert_eq!(got["exp"], login_end);
    assert_eq!(got["asrs.s.aeo"], login_end.to_string());
    assert_eq!(got["asrs.s.coae"], "true");
    assert_eq!(got["asrs.s.dc"], "true");
    assert_eq!(got["asrs.s.uid"], "cognito-user-1");
    assert_eq!(
        got["cognito:groups"],
        json!(["admins", "signalr-diagnostics"]),
        "the flattened array is an array again"
    );

    let (status, body) = &answers["not-allowed"];
    assert_eq!(*status, 403, "{body}");
    assert!(body["error"].as_str().unwrap().contains("diagnostic"), "{body}");

    let (status, body) = &answers["plain"];
    assert_eq!(*status, 200, "{body}");
    let got = verify_token(body["accessToken"].as_str().unwrap(), KEY);
    assert_eq!(got["cognito:groups"], json!(["readers"]));
    assert!(!got.contains_key("asrs.s.dc"), "not asked for: {got:?}");
    assert_eq!(got["exp"], login_end);
}
