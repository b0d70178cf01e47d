//! Lambda events and their answers, with lambda_http's public conversion in between.
//!
//! An event is read as lambda_http's deserializer reads it (the first of the REST API, HTTP API
//! and ALB forms it parses as), so that its origin, and the format of its answer, are known.
//! lambda_http's conversion (`request::from_str`) decodes a base64 body and builds the URI from
//! the Host (or the context's domain name), `X-Forwarded-Proto`, the stage, the path and the
//! query with `expect` and `unwrap`: an event whose body is marked base64 but is not, or whose
//! parts do not make a URI, panics there, and with `panic = "abort"` ends the process. Each
//! event is checked here by the same steps, without panicking (a property test holds the two to
//! agree), and such an event, or one that is no HTTP event at all, is answered 400 in its
//! origin's format instead. The answer is written as lambda_http writes one (its
//! `LambdaResponse::from_response`, which it keeps to itself).

use std::borrow::Cow;

use axum::http::{self, HeaderMap};
use axum::response::IntoResponse as _;
use base64::Engine as _;
use lambda_http::Body;
use lambda_http::aws_lambda_events::alb::{AlbTargetGroupRequest, AlbTargetGroupResponse};
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayProxyRequest, ApiGatewayProxyResponse, ApiGatewayV2httpRequest, ApiGatewayV2httpResponse,
};
use serde::Serialize;

use crate::http::ApiError;

/// An HTTP event, in the form lambda_http reads it as.
pub(super) enum Event {
    ApiGatewayV1(Box<ApiGatewayProxyRequest>),
    ApiGatewayV2(Box<ApiGatewayV2httpRequest>),
    Alb(Box<AlbTargetGroupRequest>),
}

/// Where an event came from, which says the format of its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    /// An API Gateway REST API (payload 1.0).
    ApiGatewayV1,
    /// An API Gateway HTTP API or a Function URL (payload 2.0).
    ApiGatewayV2,
    /// An Application Load Balancer.
    Alb,
}

impl Event {
    /// The event as lambda_http's deserializer reads it: the first form it parses as, tried in
    /// its order (lambda_http, `src/deserializer.rs`, with the features this crate enables);
    /// `None` when it is no HTTP event lambda_http reads.
    pub(super) fn parse(json: &str) -> Option<Self> {
        if let Ok(event) = serde_json::from_str(json) {
            return Some(Self::ApiGatewayV1(Box::new(event)));
        }
        if let Ok(event) = serde_json::from_str(json) {
            return Some(Self::ApiGatewayV2(Box::new(event)));
        }
        serde_json::from_str(json).ok().map(|event| Self::Alb(Box::new(event)))
    }

    /// Where the event came from, which picks the format of its answer.
    pub(super) fn origin(&self) -> Origin {
        match self {
            Self::ApiGatewayV1(_) => Origin::ApiGatewayV1,
            Self::ApiGatewayV2(_) => Origin::ApiGatewayV2,
            Self::Alb(_) => Origin::Alb,
        }
    }
}

/// Why `lambda_http` could not make a request of this event, if it could not.
pub(super) fn defect(event: &Event, ignore_stage_in_path: bool) -> Option<&'static str> {
    let (body, base64, uri) = match event {
        Event::ApiGatewayV2(event) => (
            event.body.as_deref(),
            event.is_base64_encoded,
            request_uri(
                &event.headers,
                event.request_context.domain_name.as_deref(),
                &with_stage(
                    ignore_stage_in_path,
                    event.request_context.stage.as_deref(),
                    event.raw_path.as_deref().unwrap_or_default(),
                ),
                event.raw_query_string.as_deref().map(Cow::Borrowed),
            ),
        ),
        // A REST API event's query is encoded again (form-urlencoded) from its parameters: it
        // always makes a valid query, so only the host and path are checked.
        Event::ApiGatewayV1(event) => (
            event.body.as_deref(),
            event.is_base64_encoded,
            request_uri(
                &event.headers,
                event.request_context.domain_name.as_deref(),
                &with_stage(
                    ignore_stage_in_path,
                    event.request_context.stage.as_deref(),
                    event.path.as_deref().unwrap_or_default(),
                ),
                None,
            ),
        ),
        // The query of an ALB event is decoded and encoded again (form-urlencoded): it always
        // makes a valid query, so only the path and host are checked.
        Event::Alb(event) => (
            event.body.as_deref(),
            event.is_base64_encoded,
            request_uri(&event.headers, None, event.path.as_deref().unwrap_or_default(), None),
        ),
    };
    if base64 && body.is_some_and(|body| base64::engine::general_purpose::STANDARD.decode(body).is_err()) {
        return Some("the event's body is marked base64 but is not valid base64");
    }
    uri.is_none()
        .then_some("the event's host, path or query do not make a valid URL")
}

/// The path with the stage in front, as `lambda_http` puts it (unless told not to:
/// `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH`). It leaves out a stage the path already starts
/// with; that changes nothing to whether the URL parses, which is all this check asks, so it
/// is not repeated here.
fn with_stage<'a>(ignore_stage_in_path: bool, stage: Option<&str>, path: &'a str) -> Cow<'a, str> {
    if ignore_stage_in_path {
        return Cow::Borrowed(path);
    }
    match stage {
        None | Some("$default") => Cow::Borrowed(path),
        Some(stage) => Cow::Owned(format!("/{stage}{path}")),
    }
}

/// Whether the URI `lambda_http` builds for these parts is one (its `build_request_uri`, then
/// `Request::builder().uri(…)`), without its `unwrap`.
fn request_uri(headers: &HeaderMap, domain_name: Option<&str>, path: &str, query: Option<Cow<'_, str>>) -> Option<()> {
    let host = headers
        .get(http::header::HOST)
        .and_then(|host| host.to_str().ok())
        .or(domain_name);
    let mut uri = match host {
        None => url::Url::parse(&format!("http://localhost{path}"))
            .ok()?
            .path()
            .to_owned(),
        Some(host) => {
            let scheme = headers
                .get("x-forwarded-proto")
                .and_then(|proto| proto.to_str().ok())
                .unwrap_or("https");
            url::Url::parse(&format!("{scheme}://{host}{path}")).ok()?.to_string()
        }
    };
    if let Some(query) = query.filter(|query| !query.is_empty()) {
        uri.push('?');
        uri.push_str(&query);
    }
    http::Uri::try_from(uri).ok().map(|_| ())
}

/// An event's answer, in the response format of its origin.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(super) enum Answer {
    ApiGatewayV1(ApiGatewayProxyResponse),
    ApiGatewayV2(ApiGatewayV2httpResponse),
    Alb(AlbTargetGroupResponse),
}

impl Answer {
    /// `response` in the format of `origin`, as lambda_http writes it (`LambdaResponse::
    /// from_response` in its `src/response.rs`).
    pub(super) fn new(origin: Origin, response: http::Response<Body>) -> Self {
        let (parts, body) = response.into_parts();
        let (is_base64_encoded, body) = match body {
            body @ Body::Text(_) => (false, Some(body)),
            body @ Body::Binary(_) => (true, Some(body)),
            _ => (false, None),
        };
        let status_code = i64::from(parts.status.as_u16());
        let headers = parts.headers;
        match origin {
            Origin::ApiGatewayV1 => {
                let mut answer = ApiGatewayProxyResponse::default();
                answer.status_code = status_code;
                answer.is_base64_encoded = is_base64_encoded;
                // API Gateway merges `headers` into `multiValueHeaders`: one of them only, or
                // each header would be sent twice.
                answer.multi_value_headers = headers;
                answer.body = body;
                Self::ApiGatewayV1(answer)
            }
            Origin::ApiGatewayV2 => {
                // Payload 2.0 has no multi-value headers: `Set-Cookie` goes in `cookies`.
                let mut headers = headers;
                let cookies = headers
                    .get_all(http::header::SET_COOKIE)
                    .iter()
                    .map(|cookie| cookie.to_str().unwrap_or_default().to_owned())
                    .collect();
                headers.remove(http::header::SET_COOKIE);
                let mut answer = ApiGatewayV2httpResponse::default();
                answer.status_code = status_code;
                answer.is_base64_encoded = is_base64_encoded;
                answer.cookies = cookies;
                answer.headers = headers;
                answer.body = body;
                Self::ApiGatewayV2(answer)
            }
            Origin::Alb => {
                // Both forms: the target group reads the one its multi-value setting names.
                let mut answer = AlbTargetGroupResponse::default();
                answer.status_code = status_code;
                answer.status_description = Some(format!(
                    "{status_code} {}",
                    parts.status.canonical_reason().unwrap_or_default()
                ));
                answer.is_base64_encoded = is_base64_encoded;
                answer.headers = headers.clone();
                answer.multi_value_headers = headers;
                answer.body = body;
                Self::Alb(answer)
            }
        }
    }

    /// `{"error": reason}` with status 400, for an event from `origin` (`None`: not an HTTP
    /// event; the API Gateway REST format, which the HTTP API and Function URLs read too).
    pub(super) fn refusal(origin: Option<Origin>, reason: &'static str) -> Self {
        let error = ApiError::bad_request(reason);
        let body = Body::Text(error.body());
        let (parts, _) = error.into_response().into_parts();
        Self::new(
            origin.unwrap_or(Origin::ApiGatewayV1),
            http::Response::from_parts(parts, body),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;

    /// An event of each origin from the parts `lambda_http` builds a request of.
    fn events(
        host: &str,
        proto: Option<&str>,
        stage: &str,
        path: &str,
        query: &str,
        body: &str,
        base64: bool,
    ) -> Vec<Value> {
        let mut headers = json!({ "host": host });
        if let Some(proto) = proto {
            headers["x-forwarded-proto"] = json!(proto);
        }
        let v2 = json!({
            "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
            "headers": headers,
            "requestContext": {
                "accountId": "1", "apiId": "a", "domainName": host, "requestId": "r", "routeKey": "$default",
                "stage": stage, "time": "t", "timeEpoch": 0,
                "http": {
                    "method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9",
                    "userAgent": "t"
                }
            },
            "body": body, "isBase64Encoded": base64
        });
        let v1 = json!({
            "resource": "/{proxy+}", "path": path, "httpMethod": "POST", "headers": headers,
            "multiValueHeaders": {}, "queryStringParameters": {"q": query}, "multiValueQueryStringParameters": null,
            "pathParameters": null, "stageVariables": null,
            "requestContext": {"accountId": "1", "apiId": "a", "resourceId": "r", "stage": stage, "requestId": "r",
                "resourcePath": "/{proxy+}", "httpMethod": "POST", "path": path,
                "identity": {"sourceIp": "203.0.113.9"}},
            "body": body, "isBase64Encoded": base64
        });
        let alb = json!({
            "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/t/1"}},
            "httpMethod": "POST", "path": path, "queryStringParameters": {"q": query}, "headers": headers,
            "body": body, "isBase64Encoded": base64
        });
        vec![v2, v1, alb]
    }

    /// Whether `lambda_http`'s conversion of the event panics.
    fn conversion_panics(event: &str) -> bool {
        catch_unwind(AssertUnwindSafe(|| drop(lambda_http::request::from_str(event)))).is_err()
    }

    fn check(event: &Value) {
        let json = event.to_string();
        let Some(parsed) = Event::parse(&json) else {
            return; // not an event lambda_http reads: refused before any conversion
        };
        let found = defect(&parsed, false);
        assert_eq!(conversion_panics(&json), found.is_some(), "{found:?} for {event}");
    }

    #[test]
    fn defects_are_exactly_what_lambda_http_cannot_convert() {
        let cases = [
            (
                "api.example.com",
                None,
                "$default",
                "/api/chat/negotiate",
                "hub=chat",
                "e30=",
                true,
            ),
            (
                "api.example.com",
                None,
                "$default",
                "/api/chat/negotiate",
                "",
                "%%% not base64 %%%",
                true,
            ),
            (
                "api.example.com",
                None,
                "$default",
                "/api/chat/negotiate",
                "",
                "%%% text %%%",
                false,
            ),
            (
                "api.example.com:99999",
                None,
                "prod",
                "/api/chat/negotiate",
                "",
                "",
                false,
            ),
            ("a b", None, "$default", "/api/chat/negotiate", "", "", false),
            ("api.example.com", Some("not a scheme"), "$default", "/x", "", "", false),
            ("api.example.com", None, "$default", "/x", "a b", "", false),
            ("api.example.com", None, "$default", ":99999", "", "", false),
            (
                "api.example.com",
                None,
                "$default",
                "@evil.example.com/x",
                "",
                "",
                false,
            ),
            ("", None, "$default", "/x", "", "", false),
        ];
        for (host, proto, stage, path, query, body, base64) in cases {
            for event in events(host, proto, stage, path, query, body, base64) {
                check(&event);
            }
        }
        let event = &events("api.example.com", None, "$default", "/x", "", "%%%", true)[0];
        let parsed = Event::parse(&event.to_string()).unwrap();
        assert_eq!(
            defect(&parsed, false),
            Some("the event's body is marked base64 but is not valid base64")
        );
    }

    fn part() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just("api.example.com".to_owned()),
            Just("/api/chat/negotiate".to_owned()),
            Just(":99999".to_owned()),
            Just("[".to_owned()),
            Just("a b".to_owned()),
            Just("e30=".to_owned()),
            "[ -~]{0,12}",
            "\\PC{0,6}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn any_event_either_converts_or_is_refused_first(
            host in part(), proto in proptest::option::of(part()), stage in part(), path in part(),
            query in part(), body in part(), base64 in any::<bool>(),
        ) {
            for event in events(&host, proto.as_deref(), &stage, &path, &query, &body, base64) {
                check(&event);
            }
        }
    }

    #[test]
    fn a_refusal_has_the_origins_format() {
        let events = events("h", None, "$default", "/x", "", "%", true);
        let v2 = Event::parse(&events[0].to_string()).unwrap().origin();
        let answer = serde_json::to_value(Answer::refusal(Some(v2), "why")).unwrap();
        assert_eq!(answer["statusCode"], 400);
        assert_eq!(answer["headers"]["content-type"], "application/json");
        assert_eq!(answer["body"], r#"{"error":"why"}"#);
        let unknown = serde_json::to_value(Answer::refusal(None, "why")).unwrap();
        assert_eq!(unknown["statusCode"], 400);
        assert_eq!(
            unknown["multiValueHeaders"]["content-type"],
            json!(["application/json"])
        );
        assert_eq!(unknown["isBase64Encoded"], false);
    }

    /// A served response is written as lambda_http writes it: the REST API's headers only as
    /// multi-value headers, the HTTP API's cookies apart, an ALB's headers in both forms with a
    /// status line, and a binary body in base64.
    #[test]
    fn a_served_response_is_written_as_lambda_http_writes_it() {
        let response = || {
            http::Response::builder()
                .status(201)
                .header("set-cookie", "a=1")
                .header("set-cookie", "b=2")
                .header("x-one", "1")
                .body(Body::Binary(vec![0, 159, 146, 150]))
                .unwrap()
        };
        let v1 = serde_json::to_value(Answer::new(Origin::ApiGatewayV1, response())).unwrap();
        assert_eq!(v1["statusCode"], 201);
        assert_eq!(v1["isBase64Encoded"], true);
        assert_eq!(v1["body"], "AJ+Slg==");
        assert_eq!(v1["multiValueHeaders"]["set-cookie"], json!(["a=1", "b=2"]));
        assert_eq!(v1["headers"], json!({}));
        let v2 = serde_json::to_value(Answer::new(Origin::ApiGatewayV2, response())).unwrap();
        assert_eq!(v2["cookies"], json!(["a=1", "b=2"]));
        assert_eq!(v2["headers"], json!({"x-one": "1"}));
        assert_eq!(v2["isBase64Encoded"], true);
        let alb = serde_json::to_value(Answer::new(Origin::Alb, response())).unwrap();
        assert_eq!(alb["statusDescription"], "201 Created");
        assert_eq!(alb["headers"]["x-one"], "1");
        assert_eq!(alb["multiValueHeaders"]["set-cookie"], json!(["a=1", "b=2"]));
        let text = http::Response::new(Body::Text("{}".to_owned()));
        let text = serde_json::to_value(Answer::new(Origin::ApiGatewayV2, text)).unwrap();
        assert_eq!((&text["body"], &text["isBase64Encoded"]), (&json!("{}"), &json!(false)));
        let empty = serde_json::to_value(Answer::new(Origin::ApiGatewayV1, http::Response::new(Body::Empty))).unwrap();
        assert_eq!(empty["body"], Value::Null);
    }
}
