//! The binary as an AWS Lambda function, driven through a fake Lambda Runtime API that speaks
//! the real protocol: `GET /2018-06-01/runtime/invocation/next` long-polls for an event and
//! answers with the `Lambda-Runtime-*` headers; the function posts each result to
//! `/2018-06-01/runtime/invocation/{id}/response` (or `/error`).

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::common::{self, Function, KEY, assert_negotiated, connection_string};

#[derive(Debug)]
pub(crate) struct Posted {
    pub request_id: String,
    pub kind: &'static str,
    pub body: Value,
    /// The `Lambda-Runtime-Function-Error-Type` header of an error, and the `Content-Type`.
    pub error_type: Option<String>,
    pub content_type: Option<String>,
    /// What the function had written to its log when it posted this.
    pub log_at_post: String,
}

#[derive(Clone)]
struct RuntimeApi {
    events: Arc<Mutex<VecDeque<(String, Value)>>>,
    posted: mpsc::UnboundedSender<Posted>,
    /// The function's log file, known once it is spawned; no event is handed out before.
    log: Arc<OnceLock<PathBuf>>,
}

impl RuntimeApi {
    fn log_now(&self) -> String {
        self.log
            .get()
            .and_then(|path| std::fs::read_to_string(path).ok())
            .unwrap_or_default()
    }
}

/// A fake Runtime API handing out `events`; returns its address, the results the function
/// posts, and where to put the function's log path once it runs.
pub(crate) async fn start_runtime_api(
    events: VecDeque<(String, Value)>,
) -> (String, mpsc::UnboundedReceiver<Posted>, Arc<OnceLock<PathBuf>>) {
    let (runtime_api, results, log, _feed) = start_fed_runtime_api(events).await;
    (runtime_api, results, log)
}

/// Events waiting to be handed out; a test may add more while the function runs.
pub(crate) type EventFeed = Arc<Mutex<VecDeque<(String, Value)>>>;

/// [`start_runtime_api`], with the queue of events to add to.
pub(crate) async fn start_fed_runtime_api(
    events: VecDeque<(String, Value)>,
) -> (
    String,
    mpsc::UnboundedReceiver<Posted>,
    Arc<OnceLock<PathBuf>>,
    EventFeed,
) {
    let (posted, results) = mpsc::unbounded_channel();
    let log = Arc::new(OnceLock::new());
    let feed = Arc::new(Mutex::new(events));
    let api = RuntimeApi {
        events: Arc::clone(&feed),
        posted,
        log: Arc::clone(&log),
    };
    let router = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
        .route("/2018-06-01/runtime/invocation/{id}/{kind}", post(post_result))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let runtime_api = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (runtime_api, results, log, feed)
}

/// The binary under the fake Runtime API at `runtime_api`, with Lambda's environment.
pub(crate) fn spawn_lambda(runtime_api: &str, log: &OnceLock<PathBuf>, more: &[(&str, &str)]) -> Function {
    let cs = connection_string("https://demo.service.signalr.net");
    let mut env = vec![("AzureSignalRConnectionString", cs.as_str())];
    env.extend_from_slice(more);
    spawn_lambda_without_connection_string(runtime_api, log, &env)
}

/// As [`spawn_lambda`], with no connection string but those in `more`.
fn spawn_lambda_without_connection_string(
    runtime_api: &str,
    log: &OnceLock<PathBuf>,
    more: &[(&str, &str)],
) -> Function {
    let mut env = vec![
        ("AWS_LAMBDA_RUNTIME_API", runtime_api),
        ("AWS_LAMBDA_FUNCTION_NAME", "negotiate"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/negotiate"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/23/[$LATEST]abc"),
        ("AWS_REGION", "eu-west-1"),
        ("RUST_LOG", "info"),
    ];
    env.extend_from_slice(more);
    let function = Function::spawn("lambda", &env);
    let _ = log.set(function.log.clone());
    function
}

async fn next_invocation(State(api): State<RuntimeApi>) -> impl IntoResponse {
    while api.log.get().is_none() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // No event yet: hold the long poll, as Lambda does while the sandbox is frozen.
    let (request_id, event) = loop {
        let next = api.events.lock().unwrap().pop_front();
        match next {
            Some(next) => break next,
            None => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    };
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 10_000;
    let mut headers = HeaderMap::new();
    headers.insert("Lambda-Runtime-Aws-Request-Id", request_id.parse().unwrap());
    headers.insert("Lambda-Runtime-Deadline-Ms", deadline.to_string().parse().unwrap());
    headers.insert(
        "Lambda-Runtime-Invoked-Function-Arn",
        "arn:aws:lambda:eu-west-1:123456789012:function:negotiate"
            .parse()
            .unwrap(),
    );
    headers.insert(
        "Lambda-Runtime-Trace-Id",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1".parse().unwrap(),
    );
    (headers, axum::Json(event))
}

async fn post_result(
    State(api): State<RuntimeApi>,
    Path((request_id, kind)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> StatusCode {
    let kind = if kind == "response" { "response" } else { "error" };
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let log_at_post = api.log_now();
    let _ = api.posted.send(Posted {
        request_id,
        kind,
        body,
        error_type: None,
        content_type: None,
        log_at_post,
    });
    StatusCode::ACCEPTED
}

/// `POST /2018-06-01/runtime/init/error`: the Runtime API takes an optional
/// `Lambda-Runtime-Function-Error-Type` header and a JSON `{"errorMessage", "errorType"}`,
/// and answers 202 with `{"status": "OK"}`.
async fn init_error(State(api): State<RuntimeApi>, headers: HeaderMap, body: axum::body::Bytes) -> impl IntoResponse {
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let log_at_post = api.log_now();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let _ = api.posted.send(Posted {
        request_id: String::new(),
        kind: "init-error",
        body,
        error_type: header("Lambda-Runtime-Function-Error-Type"),
        content_type: header("content-type"),
        log_at_post,
    });
    (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"})))
}

/// An API Gateway HTTP API (payload 2.0) event for `POST /api/{hub}/negotiate`.
pub(crate) fn http_api_event(hub: &str) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "ANY /api/{hub}/negotiate",
        "rawPath": format!("/api/{hub}/negotiate"),
        "rawQueryString": "negotiateVersion=1",
        "headers": {
            "content-length": "0",
            "host": "r3pmxmplak.execute-api.eu-west-1.amazonaws.com",
            "user-agent": "node",
            "x-forwarded-for": "203.0.113.9",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
            "x-signalr-user-agent": "Microsoft SignalR/10.0 (10.0.11; Linux; NodeJS; 20.20.2)"
        },
        "queryStringParameters": {"negotiateVersion": "1"},
        "pathParameters": {"hub": hub},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "r3pmxmplak",
            "domainName": "r3pmxmplak.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "r3pmxmplak",
            "http": {
                "method": "POST",
                "path": format!("/api/{hub}/negotiate"),
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.9",
                "userAgent": "node"
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": "ANY /api/{hub}/negotiate",
            "stage": "$default",
            "time": "23/Nov/2026:13:00:00 +0000",
            "timeEpoch": 1_795_438_800_000_i64
        },
        "isBase64Encoded": false
    })
}

/// A Lambda Function URL event (payload 2.0, `$default` route) for `GET /api/negotiate?hub=`.
fn function_url_event(query: &str) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/api/negotiate",
        "rawQueryString": query,
        "headers": {
            "host": "abcdefghijklmnop.lambda-url.eu-west-1.on.aws",
            "user-agent": "curl/8.5.0",
            "x-amzn-trace-id": "Root=1-6552b5e2-7b1b5b2a1f2e3d4c5b6a7980",
            "x-forwarded-for": "203.0.113.10",
            "x-forwarded-proto": "https"
        },
        "queryStringParameters": {"hub": "Chat"},
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefghijklmnop",
            "domainName": "abcdefghijklmnop.lambda-url.eu-west-1.on.aws",
            "domainPrefix": "abcdefghijklmnop",
            "http": {
                "method": "GET",
                "path": "/api/negotiate",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": "curl/8.5.0"
            },
            "requestId": "8c1f2a3b-4d5e-6f70-8192-a3b4c5d6e7f8",
            "routeKey": "$default",
            "stage": "$default",
            "time": "23/Nov/2026:13:00:01 +0000",
            "timeEpoch": 1_795_438_801_000_i64
        },
        "isBase64Encoded": false
    })
}

/// An API Gateway REST API (payload 1.0) event on stage `prod`: lambda_http puts the stage in
/// front of the path, which must not move the routes.
fn rest_api_event(hub: &str) -> Value {
    json!({
        "resource": "/api/{hub}/negotiate",
        "path": format!("/api/{hub}/negotiate"),
        "httpMethod": "POST",
        "headers": {"Host": "abc123.execute-api.eu-west-1.amazonaws.com", "Content-Length": "0"},
        "multiValueHeaders": {"Host": ["abc123.execute-api.eu-west-1.amazonaws.com"]},
        "queryStringParameters": {"negotiateVersion": "1"},
        "multiValueQueryStringParameters": {"negotiateVersion": ["1"]},
        "pathParameters": {"hub": hub},
        "stageVariables": null,
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123", "resourceId": "res1", "stage": "prod",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", "resourcePath": "/api/{hub}/negotiate",
            "httpMethod": "POST", "path": format!("/prod/api/{hub}/negotiate"), "protocol": "HTTP/1.1",
            "requestTimeEpoch": 1_795_438_800_000_i64, "identity": {"sourceIp": "203.0.113.11"}
        },
        "body": null,
        "isBase64Encoded": false
    })
}

#[tokio::test]
async fn answers_http_api_and_function_url_events_through_the_runtime_api() {
    let events = VecDeque::from([
        ("req-http-api".to_owned(), http_api_event("Chat")),
        (
            "req-function-url".to_owned(),
            function_url_event("hub=Chat&negotiateVersion=1"),
        ),
        ("req-bad-hub".to_owned(), http_api_event("a&b=c")),
        ("req-twice".to_owned(), function_url_event("hub=a&hub=b")),
        ("req-rest-stage".to_owned(), rest_api_event("Chat")),
    ]);
    let (runtime_api, mut results, log) = start_runtime_api(events).await;
    let function = spawn_lambda(&runtime_api, &log, &[]);

    let mut got = Vec::new();
    for _ in 0..5 {
        let result = tokio::time::timeout(Duration::from_secs(15), results.recv())
            .await
            .unwrap_or_else(|_| panic!("no result from the function in 15 s:\n{}", function.logs()))
            .unwrap();
        got.push(result);
    }
    let by_id = |id: &str| {
        got.iter()
            .find(|p| p.request_id == id)
            .unwrap_or_else(|| panic!("{id}: {got:?}"))
    };

    for id in ["req-http-api", "req-function-url", "req-rest-stage"] {
        let posted = by_id(id);
        assert_eq!(posted.kind, "response", "{posted:?}");
        assert_eq!(posted.body["statusCode"], 200, "{posted:?}");
        // Payload 2.0 answers carry `headers`; REST API (1.0) answers `multiValueHeaders`.
        let content_type = posted.body["headers"]["content-type"]
            .as_str()
            .or_else(|| posted.body["multiValueHeaders"]["content-type"][0].as_str());
        assert_eq!(content_type, Some("application/json"), "{posted:?}");
        assert_eq!(posted.body["isBase64Encoded"], false);
        let body: Value = serde_json::from_str(posted.body["body"].as_str().unwrap()).unwrap();
        assert_negotiated(
            &body,
            "https://demo.service.signalr.net",
            "https://demo.service.signalr.net",
            "chat",
        );
    }
    for (id, status) in [("req-bad-hub", 400), ("req-twice", 400)] {
        let posted = by_id(id);
        assert_eq!(posted.kind, "response", "{posted:?}");
        assert_eq!(posted.body["statusCode"], status, "{posted:?}");
        let body: Value = serde_json::from_str(posted.body["body"].as_str().unwrap()).unwrap();
        assert!(body["error"].is_string(), "{body}");
    }
    // The environment shuts down: SIGTERM between invocations ends the process cleanly.
    let mut function = function;
    function.terminate();
    let status = function.wait_exit(Duration::from_secs(5)).expect("exits after SIGTERM");
    assert!(status.success(), "{status}");
    let logs = function.logs();
    assert!(!logs.contains(KEY), "the key was logged:\n{logs}");
    let lines = common::json_lines(&logs);
    // Each negotiate's line carries the request id the Runtime API gave the invocation.
    for id in ["req-http-api", "req-function-url", "req-rest-stage", "req-bad-hub"] {
        assert!(
            lines.iter().any(|line| line["request_id"] == id),
            "no log line for {id}:\n{logs}"
        );
    }
}

/// CloudWatch ties a line to an invocation only if it is written before the response is
/// posted: lines are batched, but per invocation.
#[tokio::test]
async fn each_invocations_lines_are_written_before_its_response_is_posted() {
    let ids = ["inv-1", "inv-2", "inv-3", "inv-4"];
    let events = ids
        .iter()
        .enumerate()
        .map(|(n, id)| {
            (
                (*id).to_owned(),
                http_api_event(if n % 2 == 0 { "Chat" } else { "a&b" }),
            )
        })
        .collect();
    let (runtime_api, mut results, log) = start_runtime_api(events).await;
    let function = spawn_lambda(&runtime_api, &log, &[]);
    for _ in ids {
        let posted = tokio::time::timeout(Duration::from_secs(15), results.recv())
            .await
            .unwrap_or_else(|_| panic!("no result from the function in 15 s:\n{}", function.logs()))
            .unwrap();
        let own_line = common::json_lines(&posted.log_at_post)
            .into_iter()
            .find(|line| line["request_id"] == posted.request_id.as_str());
        let own_line = own_line.unwrap_or_else(|| {
            panic!(
                "{} was posted before its log line was written:\n{}",
                posted.request_id, posted.log_at_post
            )
        });
        assert_eq!(own_line["status"], posted.body["statusCode"], "{own_line}");
    }
}

/// An ALB event (multi-value headers off) for `POST /api/{hub}/negotiate`.
fn alb_event(hub: &str) -> Value {
    json!({
        "requestContext": {"elb": {"targetGroupArn": concat!(
            "arn:aws:elasticloadbalancing:eu-west-1:123456789012:",
            "targetgroup/negotiate/6d0ecf831eec9f09"
        )}},
        "httpMethod": "POST",
        "path": format!("/api/{hub}/negotiate"),
        "queryStringParameters": {},
        "headers": {"host": "lb-123.eu-west-1.elb.amazonaws.com", "content-type": "text/plain"},
        "body": "",
        "isBase64Encoded": false
    })
}

/// Every event the runtime hands over gets an answer, never a dead process: a body marked
/// base64 that is not (lambda_http's conversion would abort the process), a Host that makes no
/// URL, a query that makes no URI, and a payload that is no HTTP event are each a 400 in the
/// origin's format, and the events after them are served.
#[tokio::test]
async fn every_event_gets_an_answer_and_the_process_lives() {
    let with = |mut event: Value, change: &dyn Fn(&mut Value)| {
        change(&mut event);
        event
    };
    let not_base64 = |event: &mut Value| {
        event["isBase64Encoded"] = json!(true);
        event["body"] = json!("%%% not base64 %%%");
    };
    let events = vec![
        ("http-api-not-base64", with(http_api_event("Chat"), &not_base64)),
        ("rest-not-base64", with(rest_api_event("Chat"), &not_base64)),
        ("alb-not-base64", with(alb_event("Chat"), &not_base64)),
        (
            "http-api-bad-host",
            with(http_api_event("Chat"), &|e| {
                e["headers"]["host"] = json!("api.example.com:99999")
            }),
        ),
        (
            "http-api-bad-query",
            with(http_api_event("Chat"), &|e| e["rawQueryString"] = json!("a b")),
        ),
        ("not-http", json!({"hello": "world"})),
        (
            "http-api-base64",
            with(http_api_event("Chat"), &|e| {
                e["isBase64Encoded"] = json!(true);
                e["body"] = json!("e30=");
            }),
        ),
        ("alb", alb_event("Chat")),
        ("http-api", http_api_event("Chat")),
    ];
    let count = events.len();
    let events = events.into_iter().map(|(id, event)| (id.to_owned(), event)).collect();
    let (runtime_api, mut results, log) = start_runtime_api(events).await;
    let mut function = spawn_lambda(&runtime_api, &log, &[]);
    let mut got = Vec::new();
    for _ in 0..count {
        let result = tokio::time::timeout(Duration::from_secs(15), results.recv())
            .await
            .ok()
            .flatten();
        let Some(result) = result else {
            let exited = function.wait_exit(Duration::ZERO);
            panic!(
                "no result for event {} of {count} in 15 s (the process: {exited:?}):\n{}",
                got.len() + 1,
                function.logs()
            );
        };
        got.push(result);
    }
    let by_id = |id: &str| {
        got.iter()
            .find(|p| p.request_id == id)
            .unwrap_or_else(|| panic!("{id}: {got:?}"))
    };
    let body_of = |posted: &Posted| -> Value { serde_json::from_str(posted.body["body"].as_str().unwrap()).unwrap() };
    for id in [
        "http-api-not-base64",
        "rest-not-base64",
        "alb-not-base64",
        "http-api-bad-host",
        "http-api-bad-query",
        "not-http",
    ] {
        let posted = by_id(id);
        assert_eq!(posted.kind, "response", "{posted:?}");
        assert_eq!(posted.body["statusCode"], 400, "{posted:?}");
        assert!(body_of(posted)["error"].is_string(), "{posted:?}");
        assert!(posted.body.get("accessToken").is_none());
        // Its line was written before its answer was posted, as for any invocation.
        assert!(
            common::json_lines(&posted.log_at_post)
                .iter()
                .any(|line| line["request_id"] == id && line["status"] == 400),
            "{id}: no line before the answer:\n{}",
            posted.log_at_post
        );
    }
    // The response format of each origin: REST (1.0) multi-value headers, ALB a description.
    assert_eq!(
        by_id("rest-not-base64").body["multiValueHeaders"]["content-type"],
        json!(["application/json"])
    );
    assert_eq!(by_id("alb-not-base64").body["statusDescription"], "400 Bad Request");
    assert_eq!(
        by_id("http-api-not-base64").body["headers"]["content-type"],
        "application/json"
    );
    assert!(
        body_of(by_id("http-api-not-base64"))["error"]
            .as_str()
            .unwrap()
            .contains("base64")
    );
    for id in ["http-api-base64", "alb", "http-api"] {
        let posted = by_id(id);
        assert_eq!(posted.body["statusCode"], 200, "{posted:?}");
        assert_negotiated(
            &body_of(posted),
            "https://demo.service.signalr.net",
            "https://demo.service.signalr.net",
            "chat",
        );
    }
    assert!(function.wait_exit(Duration::ZERO).is_none(), "the process ended");
    let logs = function.logs();
    assert!(!logs.contains("panicked"), "{logs}");
}

/// On Lambda, no connection string is a refusal, never the emulator's published key: the
/// process tells the Runtime API why (`/runtime/init/error`, so the invoke fails at once with
/// the reason and it reaches CloudWatch) and exits with 2, before asking for an event.
#[tokio::test]
async fn no_connection_string_is_an_init_error_on_lambda() {
    let events = VecDeque::from([("req-never".to_owned(), http_api_event("Chat"))]);
    let (runtime_api, mut results, log) = start_runtime_api(events).await;
    let mut function = spawn_lambda_without_connection_string(&runtime_api, &log, &[]);
    let posted = tokio::time::timeout(Duration::from_secs(15), results.recv())
        .await
        .unwrap_or_else(|_| panic!("nothing posted in 15 s:\n{}", function.logs()))
        .unwrap();
    assert_eq!(posted.kind, "init-error", "{posted:?}");
    assert_eq!(
        posted.error_type.as_deref(),
        Some("Runtime.InvalidSetting"),
        "{posted:?}"
    );
    assert_eq!(posted.content_type.as_deref(), Some("application/json"), "{posted:?}");
    assert_eq!(posted.body["errorType"], "Runtime.InvalidSetting", "{posted:?}");
    let message = posted.body["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(
            "signalr-negotiate: setting AzureSignalRConnectionString: is not set, nor any other connection string: on \
            AWS Lambda one is required (looked for AzureSignalRConnectionString"
        ),
        "{message}"
    );
    assert!(message.contains("Azure__SignalR__Endpoints__<name>"), "{message}");
    let status = function
        .wait_exit(Duration::from_secs(5))
        .expect("exits after reporting");
    assert_eq!(status.code(), Some(2), "{}", function.logs());
    // No event was asked for: the one queued is still there, so nothing else was posted.
    assert!(results.try_recv().is_err());
    let logs = function.logs();
    assert!(
        logs.contains("setting AzureSignalRConnectionString: is not set"),
        "{logs}"
    );
}

/// Any refusal at start is reported the same way: a connection string that does not parse.
#[tokio::test]
async fn a_bad_setting_is_an_init_error_on_lambda() {
    let (runtime_api, mut results, log) = start_runtime_api(VecDeque::new()).await;
    let bad = format!("AccessKey={KEY}");
    let mut function = spawn_lambda_without_connection_string(
        &runtime_api,
        &log,
        &[("CUSTOMCONNSTR_AzureSignalRConnectionString", &bad)],
    );
    let posted = tokio::time::timeout(Duration::from_secs(15), results.recv())
        .await
        .unwrap_or_else(|_| panic!("nothing posted in 15 s:\n{}", function.logs()))
        .unwrap();
    assert_eq!(posted.kind, "init-error", "{posted:?}");
    let message = posted.body["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(
            "signalr-negotiate: setting CUSTOMCONNSTR_AzureSignalRConnectionString: the connection string has no \
            Endpoint"
        ),
        "{message}"
    );
    assert!(!message.contains(KEY), "{message}");
    let status = function
        .wait_exit(Duration::from_secs(5))
        .expect("exits after reporting");
    assert_eq!(status.code(), Some(2));
}

/// The negotiate line names the unnamed endpoint as `check` does and carries the X-Ray trace
/// id the Runtime API gave the invocation (`Lambda-Runtime-Trace-Id`), by which X-Ray finds it.
#[tokio::test]
async fn the_negotiate_line_carries_the_invocations_xray_trace_id() {
    let events = VecDeque::from([("req-traced".to_owned(), http_api_event("Chat"))]);
    let (runtime_api, mut results, log) = start_runtime_api(events).await;
    let mut function = spawn_lambda(&runtime_api, &log, &[]);
    let posted = tokio::time::timeout(Duration::from_secs(15), results.recv())
        .await
        .unwrap_or_else(|_| panic!("no result from the function in 15 s:\n{}", function.logs()))
        .unwrap();
    assert_eq!(posted.body["statusCode"], 200, "{posted:?}");
    let line = common::json_lines(&posted.log_at_post)
        .into_iter()
        .find(|line| line["request_id"] == "req-traced")
        .unwrap_or_else(|| panic!("no line:\n{}", posted.log_at_post));
    assert_eq!(line["endpoint"], "(default)", "{line}");
    assert_eq!(line["trace_id"], "1-5759e988-bd862e3fe1be46a994272793", "{line}");
    function.terminate();
    function.wait_exit(Duration::from_secs(5)).expect("exits after SIGTERM");
}

/// The Lambda runtime reads `AWS_LAMBDA_FUNCTION_NAME`, `_VERSION` and `_MEMORY_SIZE` at start
/// and panics on one missing (exit 134): each is checked first, so the process says which one,
/// tells the Runtime API (an init error, as for any refusal at start) and exits with 2.
#[tokio::test]
async fn a_missing_lambda_variable_is_a_refusal_that_names_it_never_a_panic() {
    for missing in [
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    ] {
        let (runtime_api, mut results, log) = start_runtime_api(VecDeque::new()).await;
        let cs = connection_string("https://demo.service.signalr.net");
        let env: Vec<(&str, &str)> = [
            ("AWS_LAMBDA_RUNTIME_API", runtime_api.as_str()),
            ("AWS_LAMBDA_FUNCTION_NAME", "negotiate"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
            ("AzureSignalRConnectionString", cs.as_str()),
        ]
        .into_iter()
        .filter(|(name, _)| *name != missing)
        .collect();
        let mut function = Function::spawn("lambda-missing-variable", &env);
        let _ = log.set(function.log.clone());
        // The stand-in answers on this test's runtime: wait without blocking it.
        let started = std::time::Instant::now();
        let (posted, status) = loop {
            // (`wait_exit` looks at least once when given any time at all.)
            if let Some(status) = function.wait_exit(Duration::from_millis(1)) {
                break (results.try_recv().ok(), status);
            }
            let logs = function.logs();
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{missing}: still running:\n{logs}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let logs = function.logs();
        assert_eq!(status.code(), Some(2), "{missing}: {logs}");
        assert!(!logs.contains("panicked"), "{missing}: {logs}");
        let said = format!("setting {missing}: is not set: the Lambda runtime needs");
        assert!(
            logs.contains(&format!("signalr-negotiate: {said}")),
            "{missing}: {logs}"
        );
        let posted = posted.unwrap_or_else(|| panic!("{missing}: no init error was posted:\n{logs}"));
        assert_eq!(posted.kind, "init-error", "{posted:?}");
        assert_eq!(
            posted.error_type.as_deref(),
            Some("Runtime.InvalidSetting"),
            "{posted:?}"
        );
        let message = posted.body["errorMessage"].as_str().unwrap_or_default();
        assert!(message.contains(&said), "{missing}: {message}");
    }
}

/// An HTTP API JWT authorizer flattens a token's array claims into strings (`"[alice mallory]"`):
/// a user id claim like that names no one. With `SIGNALR_AUTH_REQUIRED` the caller gets a 401
/// naming the claim, never its values; without, a token with no user id and a warning — never
/// a user id silently dropped.
#[tokio::test]
async fn a_user_id_claim_with_several_values_is_a_401_where_one_is_required() {
    let event = |sub: &str| {
        let mut event = http_api_event("Chat");
        event["requestContext"]["authorizer"] = json!({"jwt": {"claims": {"sub": sub}, "scopes": null}});
        event
    };
    for required in [true, false] {
        let events = VecDeque::from([
            ("req-several".to_owned(), event("[alice mallory]")),
            ("req-one".to_owned(), event("alice")),
        ]);
        let (runtime_api, mut results, log) = start_runtime_api(events).await;
        let required_text = required.to_string();
        let mut function = spawn_lambda(
            &runtime_api,
            &log,
            &[
                ("SIGNALR_AUTH", "api-gateway"),
                ("SIGNALR_AUTH_REQUIRED", &required_text),
            ],
        );
        let mut posted = Vec::new();
        for _ in 0..2 {
            let result = tokio::time::timeout(Duration::from_secs(15), results.recv())
                .await
                .unwrap_or_else(|_| panic!("no result from the function in 15 s:\n{}", function.logs()))
                .unwrap();
            posted.push(result);
        }
        let body = |id: &str| -> (u64, Value) {
            let posted = posted.iter().find(|p| p.request_id == id).unwrap();
            let body = serde_json::from_str(posted.body["body"].as_str().unwrap()).unwrap();
            (posted.body["statusCode"].as_u64().unwrap(), body)
        };
        let uid = |body: &Value| common::verify_token(body["accessToken"].as_str().unwrap(), KEY).remove("asrs.s.uid");
        let (status, one) = body("req-one");
        assert_eq!((status, uid(&one)), (200, Some(json!("alice"))), "{one}");
        let (status, several) = body("req-several");
        let logs = function.logs();
        if required {
            assert_eq!(status, 401, "{several}");
            let error = several["error"].as_str().unwrap();
            assert!(error.contains("(sub) has several values"), "{error}");
            assert!(!error.contains("alice") && !error.contains("mallory"), "{error}");
        } else {
            assert_eq!(status, 200, "{several}");
            assert_eq!(uid(&several), None, "{several}");
            let warning = common::json_lines(&logs)
                .into_iter()
                .find(|line| line["level"] == "WARN" && line["claim"] == "sub")
                .unwrap_or_else(|| panic!("no warning:\n{logs}"));
            assert!(
                warning["message"].as_str().unwrap().contains("several values"),
                "{warning}"
            );
        }
        assert!(!logs.contains("mallory"), "a value was logged:\n{logs}");
        function.terminate();
        function.wait_exit(Duration::from_secs(5)).expect("exits after SIGTERM");
    }
}

/// On Lambda, with both services configured, an HTTP API event on the template's Web PubSub
/// route gets Web PubSub's answer, and the usual route SignalR's.
#[tokio::test]
async fn the_web_pubsub_route_answers_on_lambda_beside_signalr() {
    let mut webpubsub = http_api_event("Chat");
    webpubsub["rawPath"] = json!("/api/webpubsub/Chat/negotiate");
    webpubsub["requestContext"]["http"]["path"] = json!("/api/webpubsub/Chat/negotiate");
    webpubsub["requestContext"]["routeKey"] = json!("ANY /api/webpubsub/{hub}/negotiate");
    let events = VecDeque::from([
        ("req-wps".to_owned(), webpubsub),
        ("req-signalr".to_owned(), http_api_event("Chat")),
    ]);
    let (runtime_api, mut results, log) = start_runtime_api(events).await;
    let wps = format!("Endpoint=https://demo.webpubsub.azure.com;AccessKey={KEY};Version=1.0;");
    let function = spawn_lambda(&runtime_api, &log, &[("WebPubSubConnectionString", &wps)]);
    let mut got = Vec::new();
    for _ in 0..2 {
        let result = tokio::time::timeout(Duration::from_secs(15), results.recv())
            .await
            .unwrap_or_else(|_| panic!("no result from the function in 15 s:\n{}", function.logs()))
            .unwrap();
        got.push(result);
    }
    let body_of = |id: &str| {
        let posted = got.iter().find(|p| p.request_id == id).unwrap();
        assert_eq!(posted.body["statusCode"], 200, "{posted:?}");
        serde_json::from_str::<Value>(posted.body["body"].as_str().unwrap()).unwrap()
    };
    let answer = body_of("req-wps");
    assert_eq!(
        answer["baseUrl"], "wss://demo.webpubsub.azure.com/client/hubs/Chat",
        "{answer}"
    );
    let claims = common::verify_token(answer["accessToken"].as_str().unwrap(), KEY);
    assert_eq!(claims["aud"], "https://demo.webpubsub.azure.com/client/hubs/Chat");
    assert_negotiated(
        &body_of("req-signalr"),
        "https://demo.service.signalr.net",
        "https://demo.service.signalr.net",
        "chat",
    );
}
