//! Azure Web PubSub through the real binary. The official clients (`@azure/web-pubsub-client`,
//! `mqtt`, `socket.io-client`, driven by `tests/interop/wps-client.js`) negotiate with us and
//! connect to a stand-in service (`tests/interop/wps-service.js`) that verifies the token as the
//! service does (signature, `aud`, `exp`, roles) and answers with the service's messages; a
//! tampered token must be refused there, so the test can tell. Microsoft Entra ID goes through
//! the fake REST API (`common::fake_service`), whose recorded query is the generateToken call.
//! Needs Node.js and npm (see `interop`).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::common::fake_service::{IDENTITY_HEADER, start_fake};
use crate::common::{Function, KEY, free_port, post_json, run_binary, verify_token, wait_ready};
use crate::interop::{harness, node_ready};

/// The stand-in Web PubSub service, killed when dropped.
struct Service {
    child: Child,
    port: u16,
    events: PathBuf,
}

impl Service {
    fn start(name: &str) -> Self {
        let events = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("wps-service-{name}.jsonl"));
        let mut child = Command::new("node")
            .arg("wps-service.js")
            .current_dir(harness())
            .env("ACCESS_KEY", KEY)
            .env("PORT", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node starts the Web PubSub stand-in");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let port = serde_json::from_str::<Value>(&line)
            .ok()
            .and_then(|v| v["port"].as_u64())
            .unwrap_or_else(|| panic!("the stand-in did not print its port: {line:?}")) as u16;
        // The rest of its events, one JSON line each, kept in a file the test reads.
        let mut file = std::fs::File::create(&events).unwrap();
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut file));
        Self { child, port, events }
    }

    fn connection_string(&self) -> String {
        format!(
            "Endpoint=http://127.0.0.1;Port={};AccessKey={KEY};Version=1.0;",
            self.port
        )
    }

    /// The first connection it accepted, as it logged it.
    fn connected(&self) -> Value {
        self.events()
            .into_iter()
            .find(|event| event["event"] == "connected")
            .unwrap_or_else(|| panic!("the stand-in saw no connection: {:?}", self.events()))
    }

    /// The events it logged, as JSON.
    fn events(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.events)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The function, started with `env` on a free port.
async fn function(name: &str, env: &[(&str, &str)]) -> (Function, String) {
    let listen = format!("127.0.0.1:{}", free_port());
    let mut env = env.to_vec();
    env.push(("SIGNALR_LISTEN", listen.as_str()));
    let mut function = Function::spawn(name, &env);
    let base = format!("http://{listen}");
    wait_ready(&reqwest::Client::new(), &base, &mut function).await;
    (function, base)
}

/// The stand-in, and the function negotiating for it with `extra` settings; the function's base
/// URL.
async fn with_service(name: &str, extra: &[(&str, &str)]) -> (Service, Function, String) {
    let service = Service::start(name);
    let cs = service.connection_string();
    let mut env = vec![("WebPubSubConnectionString", cs.as_str())];
    env.extend_from_slice(extra);
    let (function, base) = function(&format!("wps-{name}"), &env).await;
    (service, function, base)
}

/// Runs `wps-client.js` against `negotiate` for `protocol`, with `client_env`; its final line.
fn client(negotiate: &str, protocol: &str, client_env: &[(&str, &str)]) -> Value {
    let output = Command::new("node")
        .args(["wps-client.js", negotiate, protocol])
        .current_dir(harness())
        .envs(client_env.iter().copied())
        .output()
        .expect("node runs the client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| {
            panic!(
                "no result from the client: {stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
}

#[tokio::test]
async fn the_official_client_joins_what_its_roles_allow_and_the_groups_of_its_token() {
    if !node_ready() {
        return;
    }
    let (service, function, base) = with_service(
        "default",
        &[
            (
                "WEBPUBSUB_ROLES",
                "webpubsub.joinLeaveGroup.lobby,webpubsub.sendToGroup.news",
            ),
            ("WEBPUBSUB_GROUPS", "news"),
            ("SIGNALR_DEV_QUERY_USER", "true"),
        ],
    )
    .await;
    // A role or a group in the query is no role or group: only the settings give them.
    let negotiate = format!("{base}/api/chat/negotiate?userId=ada&role=webpubsub.joinLeaveGroup&group=vip");
    let env = [
        ("ALLOWED_GROUP", "lobby"),
        ("FORBIDDEN_GROUP", "vip"),
        ("TOKEN_GROUP", "news"),
    ];
    let result = client(&negotiate, "default", &env);
    let context = || format!("{result}\n{}\n{:?}", function.logs(), service.events());
    assert_eq!(
        result["negotiate"]["keys"],
        serde_json::json!(["baseUrl", "url", "accessToken"]),
        "{}",
        context()
    );
    assert_eq!(result["connected"], true, "{}", context());
    assert_eq!(result["userId"], "ada", "{}", context());
    assert_eq!(result["joined"]["lobby"], true, "{}", context());
    assert_eq!(
        result["joined"]["vip"],
        false,
        "the role allows lobby only: {}",
        context()
    );
    assert_eq!(
        result["received"][0]["group"],
        "news",
        "joined on connect: {}",
        context()
    );
    let connected = service.connected();
    assert_eq!(
        connected["claims"]["aud"],
        format!("http://127.0.0.1:{}/client/hubs/chat", service.port)
    );
    assert_eq!(
        connected["claims"]["role"],
        serde_json::json!(["webpubsub.joinLeaveGroup.lobby", "webpubsub.sendToGroup.news"])
    );
    let tampered = client(&negotiate, "default", &[("TAMPER", "1")]);
    assert_eq!(
        tampered["connected"], false,
        "a bad signature must be refused: {tampered}"
    );
    assert!(
        service.events().iter().any(|event| event["event"] == "refused"),
        "{:?}",
        service.events()
    );
}

#[tokio::test]
async fn an_mqtt_client_connects_over_websocket_with_the_token_in_its_url() {
    if !node_ready() {
        return;
    }
    let (service, function, base) = with_service(
        "mqtt",
        &[
            ("WEBPUBSUB_CLIENT_PROTOCOL", "mqtt"),
            (
                "WEBPUBSUB_ROLES",
                "webpubsub.joinLeaveGroup.lobby,webpubsub.sendToGroup.lobby",
            ),
        ],
    )
    .await;
    let negotiate = format!("{base}/api/chat/negotiate");
    let result = client(
        &negotiate,
        "mqtt",
        &[("ALLOWED_GROUP", "lobby"), ("FORBIDDEN_GROUP", "vip")],
    );
    let context = || format!("{result}\n{}\n{:?}", function.logs(), service.events());
    assert_eq!(result["connected"], true, "{}", context());
    assert_eq!(result["joined"]["lobby"], true, "{}", context());
    assert_eq!(result["joined"]["vip"], false, "{}", context());
    assert_eq!(result["received"][0]["data"], "hi", "{}", context());
    let connected = service.connected();
    assert_eq!(connected["protocol"], "mqtt");
    assert_eq!(
        connected["claims"]["aud"],
        format!("http://127.0.0.1:{}/clients/mqtt/hubs/chat", service.port)
    );
    let tampered = client(&negotiate, "mqtt", &[("TAMPER", "1"), ("ALLOWED_GROUP", "lobby")]);
    assert_eq!(tampered["connected"], false, "{tampered}");
}

#[tokio::test]
async fn a_socket_io_client_connects_with_the_endpoint_path_and_token() {
    if !node_ready() {
        return;
    }
    let (service, function, base) = with_service("socketio", &[("WEBPUBSUB_CLIENT_PROTOCOL", "socketio")]).await;
    let negotiate = format!("{base}/api/chat/negotiate");
    let result = client(&negotiate, "socketio", &[]);
    let context = || format!("{result}\n{}\n{:?}", function.logs(), service.events());
    assert_eq!(
        result["negotiate"]["keys"],
        serde_json::json!(["endpoint", "path", "token"]),
        "{}",
        context()
    );
    assert_eq!(result["connected"], true, "{}", context());
    assert_eq!(result["received"][0], "hi", "{}", context());
    let tampered = client(&negotiate, "socketio", &[("TAMPER", "1")]);
    assert_eq!(tampered["connected"], false, "{tampered}");
}

#[tokio::test]
async fn with_both_services_web_pubsub_answers_under_its_own_prefix() {
    if !node_ready() {
        return;
    }
    let signalr = format!("Endpoint=https://demo.service.signalr.net;AccessKey={KEY};Version=1.0;");
    let (service, function, base) = with_service("both", &[("AzureSignalRConnectionString", &signalr)]).await;
    let http = reqwest::Client::new();
    let answer: Value = post_json(&http, format!("{base}/api/chat/negotiate")).await;
    assert!(
        answer["url"]
            .as_str()
            .unwrap()
            .starts_with("https://demo.service.signalr.net/client/?hub=chat"),
        "SignalR keeps its routes: {answer}"
    );
    let result = client(&format!("{base}/api/webpubsub/Chat/negotiate"), "default", &[]);
    assert_eq!(result["connected"], true, "{result}\n{}", function.logs());
    let connected = service.connected();
    assert_eq!(connected["hub"], "Chat", "the hub as written, as the SDKs send it");
}

#[tokio::test]
async fn generate_token_is_asked_for_the_roles_groups_and_client_type() {
    let (fake, port) = start_fake().await;
    fake.expect_resource("https://webpubsub.azure.com");
    let cs = format!("Endpoint=http://127.0.0.1;Port={port};AuthType=azure.msi;Version=1.0;");
    let identity = format!("http://127.0.0.1:{port}/msi/token");
    let (function, base) = function(
        "wps-entra",
        &[
            ("WebPubSubConnectionString", &cs),
            ("IDENTITY_ENDPOINT", &identity),
            ("IDENTITY_HEADER", IDENTITY_HEADER),
            ("WEBPUBSUB_CLIENT_PROTOCOL", "mqtt"),
            (
                "WEBPUBSUB_ROLES",
                "webpubsub.joinLeaveGroup.lobby,webpubsub.sendToGroups.room.*",
            ),
            ("WEBPUBSUB_GROUPS", "lobby,news"),
            ("SIGNALR_DEV_QUERY_USER", "true"),
        ],
    )
    .await;
    let http = reqwest::Client::new();
    let response = http
        .post(format!("{base}/api/chat/negotiate?userId=ada%20lovelace"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", function.logs());
    let answer: Value = response.json().await.unwrap();
    let token = answer["accessToken"].as_str().unwrap();
    assert!(token.starts_with("service-made-token.chat."), "{answer}");
    assert_eq!(
        answer["url"],
        format!("ws://127.0.0.1:{port}/clients/mqtt/hubs/chat?access_token={token}")
    );
    assert_eq!(
        answer["baseUrl"],
        format!("ws://127.0.0.1:{port}/clients/mqtt/hubs/chat")
    );
    let query = fake.queries.lock().unwrap()[0].clone();
    assert_eq!(
        query,
        "api-version=2024-01-01&minutesToExpire=60&userId=ada+lovelace&role=webpubsub.joinLeaveGroup.lobby\
        &role=webpubsub.sendToGroups.room.*&group=lobby&group=news&clientType=mqtt"
    );
}

#[tokio::test]
async fn generate_token_faults_are_answered_as_signalrs_are() {
    use crate::common::fake_service::Fault;
    let (fake, port) = start_fake().await;
    fake.expect_resource("https://webpubsub.azure.com");
    let cs = format!("Endpoint=http://127.0.0.1;Port={port};AuthType=azure.msi;Version=1.0;");
    let identity = format!("http://127.0.0.1:{port}/msi/token");
    let (_function, base) = function(
        "wps-entra-faults",
        &[
            ("WebPubSubConnectionString", &cs),
            ("IDENTITY_ENDPOINT", &identity),
            ("IDENTITY_HEADER", IDENTITY_HEADER),
            ("SIGNALR_UPSTREAM_TIMEOUT_MS", "300"),
            ("SIGNALR_UPSTREAM_DEADLINE_MS", "1000"),
        ],
    )
    .await;
    let http = reqwest::Client::new();
    let cases: [(&[Fault], u16, &str); 6] = [
        (
            &[Fault::Status(403)],
            502,
            "grant it the role Web PubSub Service Owner on the Web PubSub instance",
        ),
        (&[Fault::Status(404)], 502, "the service answered 404"),
        (&[Fault::Status(503)], 200, ""),
        (&[Fault::Throttle("0"), Fault::Throttle("0")], 503, "throttling"),
        (&[Fault::Hang, Fault::Hang], 504, "did not answer in time"),
        (&[Fault::NotJson], 502, "unexpected body"),
    ];
    for (faults, status, says) in cases {
        fake.fault(faults);
        let response = http.post(format!("{base}/api/chat/negotiate")).send().await.unwrap();
        let got = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(got, status, "{faults:?}: {body}");
        if status != 200 {
            assert!(body["error"].as_str().unwrap().contains(says), "{faults:?}: {body}");
        }
        fake.faults.lock().unwrap().clear();
        let after = http.post(format!("{base}/api/chat/negotiate")).send().await.unwrap();
        let recovered = after.status();
        assert_eq!(
            recovered,
            200,
            "{faults:?}: the next request should succeed: {}",
            after.text().await.unwrap()
        );
    }
}

#[tokio::test]
async fn the_token_is_signed_as_the_sdk_signs_it() {
    let cs = format!("Endpoint=https://demo.webpubsub.azure.com;Port=8443;AccessKey={KEY};Version=1.0;");
    let (_function, base) = function(
        "wps-claims",
        &[
            ("WebPubSubConnectionString", &cs),
            ("WEBPUBSUB_ROLES", "webpubsub.sendToGroup"),
            ("SIGNALR_TOKEN_LIFETIME_SECONDS", "600"),
        ],
    )
    .await;
    let answer: Value = post_json(&reqwest::Client::new(), format!("{base}/api/negotiate?hub=Chat")).await;
    let token = answer["accessToken"].as_str().unwrap();
    let header = token.split('.').next().unwrap();
    assert_eq!(
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header).unwrap(),
        br#"{"alg":"HS256","typ":"JWT"}"#
    );
    let claims = verify_token(token, KEY);
    assert_eq!(claims["aud"], "https://demo.webpubsub.azure.com:8443/client/hubs/Chat");
    assert_eq!(claims["role"], serde_json::json!(["webpubsub.sendToGroup"]));
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 600);
    assert_eq!(claims["nbf"], claims["iat"]);
    assert!(!claims.contains_key("sub"), "an anonymous caller has no user id");
    assert_eq!(
        answer["url"],
        format!("wss://demo.webpubsub.azure.com:8443/client/hubs/Chat?access_token={token}")
    );
    // Its own prefix answers too, so a client's URL need not change when SignalR joins.
    let own: Value = post_json(&reqwest::Client::new(), format!("{base}/api/webpubsub/chat/negotiate")).await;
    assert!(own["baseUrl"].as_str().unwrap().ends_with("/client/hubs/chat"), "{own}");
}

#[tokio::test]
async fn bad_input_is_a_clear_refusal() {
    let cs = format!("Endpoint=https://demo.webpubsub.azure.com;AccessKey={KEY};Version=1.0;");
    let (_function, base) = function("wps-bad-input", &[("WebPubSubConnectionString", &cs)]).await;
    let http = reqwest::Client::new();
    // SignalR's alphabet, but not Web PubSub's.
    let answer = http
        .post(format!("{base}/api/chat.room/negotiate"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    let body: Value = answer.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("Azure Web PubSub's rule"),
        "{body}"
    );
    for hub in ["9chat", "a%20b", "chat%22%7D"] {
        let response = http.post(format!("{base}/api/{hub}/negotiate")).send().await.unwrap();
        assert_eq!(response.status(), 400, "{hub}");
        let body: Value = response.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("hub name"), "{body}");
    }
    for (name, value, says) in [
        (
            "WEBPUBSUB_ROLES",
            "webpubsub.sendToGroup,\"};alert(1)",
            "is not a Web PubSub role",
        ),
        (
            "WEBPUBSUB_ROLES",
            "webpubsub.sendToGroups.*.*.*.*.*.*",
            "more than five *",
        ),
        ("WEBPUBSUB_GROUPS", "lobby,\u{1b}[2J", "names a group"),
        (
            "WEBPUBSUB_CLIENT_PROTOCOL",
            "signalr",
            "must be default, mqtt or socketio",
        ),
    ] {
        let (code, output) = run_binary(&[], &[("WebPubSubConnectionString", &cs), (name, value)]);
        assert_eq!(code, 2, "{name}={value}: {output}");
        assert!(output.contains(name) && output.contains(says), "{output}");
    }
}

/// `WEBPUBSUB_ROLES_FROM_CLAIM`: the trusted principal's `webpubsub.*` roles join the configured
/// ones; its other roles are left out; one the service would refuse is a 403; a client without
/// a trusted identity gets the configured ones only, whatever its query says.
#[tokio::test]
async fn roles_from_a_trusted_claim_join_the_configured_ones() {
    use axum::body::Body;
    use axum::http::Request;
    use base64::Engine as _;

    use crate::common::{build_router, send};

    let cs = format!("Endpoint=https://demo.webpubsub.azure.com;AccessKey={KEY};Version=1.0;");
    let router = build_router([
        ("WebPubSubConnectionString", cs.as_str()),
        ("SIGNALR_AUTH", "app-service,anonymous"),
        ("WEBSITE_AUTH_ENABLED", "True"),
        ("WEBPUBSUB_ROLES", "webpubsub.joinLeaveGroup.lobby"),
        ("WEBPUBSUB_ROLES_FROM_CLAIM", "roles"),
    ]);
    let negotiate = |claims: Option<Value>| {
        let mut request = Request::post("/api/chat/negotiate?role=webpubsub.sendToGroup");
        if let Some(claims) = claims {
            let principal = serde_json::json!({"auth_typ": "aad", "claims": claims, "role_typ": "roles"});
            let encoded = base64::engine::general_purpose::STANDARD.encode(principal.to_string());
            request = request
                .header("x-ms-client-principal-id", "ada")
                .header("x-ms-client-principal", encoded);
        }
        let router = router.clone();
        async move { send(&router, request.body(Body::empty()).unwrap()).await }
    };
    let answer = negotiate(Some(serde_json::json!([
        {"typ": "roles", "val": "admin"},
        {"typ": "roles", "val": "webpubsub.sendToGroup.lobby"},
        {"typ": "roles", "val": "webpubsub.joinLeaveGroup.lobby"}
    ])))
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let claims = verify_token(answer.json()["accessToken"].as_str().unwrap(), KEY);
    assert_eq!(claims["sub"], "ada");
    assert_eq!(
        claims["role"],
        serde_json::json!(["webpubsub.joinLeaveGroup.lobby", "webpubsub.sendToGroup.lobby"])
    );
    let answer = negotiate(None).await;
    let claims = verify_token(answer.json()["accessToken"].as_str().unwrap(), KEY);
    assert_eq!(
        claims["role"],
        serde_json::json!(["webpubsub.joinLeaveGroup.lobby"]),
        "the query adds nothing"
    );
    let refused = negotiate(Some(
        serde_json::json!([{"typ": "roles", "val": "webpubsub.sendToGroups.*.*.*.*.*.*"}]),
    ))
    .await;
    assert_eq!(refused.status, 403);
    assert!(
        refused.json()["error"].as_str().unwrap().contains("roles claim"),
        "{:?}",
        refused.body
    );
}

/// The SDK as an oracle (`tests/interop/wps-oracle.js`: `@azure/web-pubsub`'s
/// `getClientAccessToken` for the same connection string, user, roles, groups and lifetime): the
/// same header, URL and claims for every protocol; ours adds `nbf` (as the .NET SDK does) and
/// orders the claims as the .NET SDK does.
#[tokio::test]
async fn tokens_and_urls_match_the_sdks_for_every_protocol() {
    if !node_ready() {
        return;
    }
    let cs = format!("Endpoint=https://demo.webpubsub.azure.com;Port=8443;AccessKey={KEY};Version=1.0;");
    let roles = "webpubsub.sendToGroup,webpubsub.joinLeaveGroup.lobby";
    for protocol in ["default", "mqtt", "socketio"] {
        let (_function, base) = function(
            &format!("wps-oracle-{protocol}"),
            &[
                ("WebPubSubConnectionString", &cs),
                ("WEBPUBSUB_CLIENT_PROTOCOL", protocol),
                ("WEBPUBSUB_ROLES", roles),
                ("WEBPUBSUB_GROUPS", "lobby"),
                ("SIGNALR_TOKEN_LIFETIME_SECONDS", "600"),
                ("SIGNALR_DEV_QUERY_USER", "true"),
            ],
        )
        .await;
        let ours: Value = post_json(&reqwest::Client::new(), format!("{base}/api/Chat/negotiate?userId=ada")).await;
        let output = Command::new("node")
            .args(["wps-oracle.js", &cs, "Chat", protocol, "ada", roles, "lobby", "10"])
            .current_dir(harness())
            .output()
            .expect("node runs the oracle");
        let sdk: Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&output.stderr)));
        let token = ours["accessToken"].as_str().or(ours["token"].as_str()).unwrap();
        let part = |token: &str, at: usize| {
            let text = base64::Engine::decode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                token.split('.').nth(at).unwrap(),
            )
            .unwrap();
            serde_json::from_slice::<serde_json::Map<String, Value>>(&text).unwrap()
        };
        let sdk_token = sdk["result"]["token"].as_str().unwrap();
        assert_eq!(part(token, 0), part(sdk_token, 0), "{protocol}: header");
        let (mut claims, sdk_claims) = (part(token, 1), part(sdk_token, 1));
        // The order as serialised: each name's place in the payload's text.
        let text = base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            token.split('.').nth(1).unwrap(),
        )
        .unwrap();
        let text = String::from_utf8(text).unwrap();
        let places: Vec<usize> = ["sub", "role", "webpubsub.group", "nbf", "exp", "iat", "aud"]
            .iter()
            .map(|name| text.find(&format!("\"{name}\":")).unwrap_or(usize::MAX))
            .collect();
        assert!(
            places.windows(2).all(|pair| pair[0] < pair[1]),
            "{protocol}: .NET's order: {text}"
        );
        assert_eq!(claims.remove("nbf"), Some(claims["iat"].clone()), "{protocol}");
        for name in ["sub", "role", "webpubsub.group", "aud"] {
            assert_eq!(claims[name], sdk_claims[name], "{protocol}: {name}");
        }
        let lifetime = |c: &serde_json::Map<String, Value>| c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap();
        assert_eq!(lifetime(&claims), lifetime(&sdk_claims), "{protocol}: lifetime");
        assert_eq!(claims.len(), sdk_claims.len(), "{protocol}: no other claim");
        match protocol {
            "socketio" => {
                let sdk_base = sdk["result"]["baseUrl"].as_str().unwrap();
                let (_, sdk_path) = sdk_base.split_at(sdk_base.find("/clients").unwrap());
                assert_eq!(ours["path"], sdk_path, "{protocol}");
                assert_eq!(ours["endpoint"], "https://demo.webpubsub.azure.com:8443");
            }
            _ => {
                assert_eq!(ours["baseUrl"], sdk["result"]["baseUrl"], "{protocol}");
                assert_eq!(
                    ours["url"],
                    format!("{}?access_token={token}", sdk["result"]["baseUrl"].as_str().unwrap())
                );
            }
        }
    }
}

/// `check` proves a Web PubSub endpoint as its clients would find it: the stand-in answers the
/// WebSocket upgrade (101) or the Socket.IO handshake (200) only for a token it takes.
#[test]
fn check_proves_the_service_takes_the_token_for_every_protocol() {
    if !node_ready() {
        return;
    }
    let service = Service::start("check");
    let good = service.connection_string();
    let wrong_key = good.replace(KEY, "not-the-key");
    for (protocol, what) in [
        ("default", "the WebSocket upgrade answered 101"),
        ("mqtt", "the WebSocket upgrade answered 101"),
        ("socketio", "the Socket.IO handshake answered 200"),
    ] {
        let env = |cs: &str| {
            vec![
                ("WebPubSubConnectionString".to_owned(), cs.to_owned()),
                ("WEBPUBSUB_CLIENT_PROTOCOL".to_owned(), protocol.to_owned()),
            ]
        };
        let run = |cs: &str| {
            let vars = env(cs);
            let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            run_binary(&["check", "--hub", "chat"], &vars)
        };
        let (code, output) = run(&good);
        assert_eq!(code, 0, "{protocol}: {output}");
        assert!(
            output.contains(&format!("connect:    ok: the service took the sample token ({what})")),
            "{output}"
        );
        let (code, output) = run(&wrong_key);
        assert_eq!(code, 1, "{protocol}: {output}");
        assert!(
            output.contains("PROBLEM: the service refused the sample token"),
            "{protocol}: {output}"
        );
        assert!(
            output.contains("the AccessKey in WebPubSubConnectionString"),
            "{output}"
        );
    }
}

/// Several Web PubSub endpoints share SignalR's router: a `generateToken` that cannot connect
/// fails over to the other endpoint, which is marked offline once, in Web PubSub's words.
#[tokio::test]
async fn a_web_pubsub_endpoint_that_goes_down_fails_over() {
    use crate::common::fake_service::start_stoppable_fake;

    let (identity, identity_port) = start_fake().await;
    identity.expect_resource("https://webpubsub.azure.com");
    let (a, a_port, stop_a) = start_stoppable_fake().await;
    let (b, b_port) = start_fake().await;
    a.expect_resource("https://webpubsub.azure.com");
    let cs = |port: u16| format!("Endpoint=http://127.0.0.1;Port={port};AuthType=azure.msi;Version=1.0;");
    let (cs_a, cs_b) = (cs(a_port), cs(b_port));
    let identity_endpoint = format!("http://127.0.0.1:{identity_port}/msi/token");
    let (function, base) = function(
        "wps-failover",
        &[
            ("Azure__WebPubSub__Endpoints__a", &cs_a),
            ("Azure__WebPubSub__Endpoints__b", &cs_b),
            ("IDENTITY_ENDPOINT", &identity_endpoint),
            ("IDENTITY_HEADER", IDENTITY_HEADER),
            ("SIGNALR_HEALTH_CHECK_INTERVAL_MS", "3600000"),
            ("RUST_LOG", "info"),
        ],
    )
    .await;
    let http = reqwest::Client::new();
    let negotiate = || async {
        let response = http
            .post(format!("{base}/api/chat/negotiate?endpoint=a"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json::<Value>().await.unwrap()
    };
    let body = negotiate().await;
    assert!(
        body["baseUrl"]
            .as_str()
            .unwrap()
            .contains(&format!(":{a_port}/client/hubs/chat")),
        "{body}"
    );
    stop_a.stop().await;
    for _ in 0..5 {
        let body = negotiate().await;
        assert!(
            body["baseUrl"]
                .as_str()
                .unwrap()
                .contains(&format!(":{b_port}/client/hubs/chat")),
            "{body}"
        );
    }
    assert_eq!(b.count(|c| &c.generate), 5);
    let logs = function.logs_with("Web PubSub endpoint is offline");
    let offline = logs
        .lines()
        .filter(|l| l.contains("Web PubSub endpoint is offline"))
        .count();
    assert_eq!(offline, 1, "marked offline once:\n{logs}");
}
