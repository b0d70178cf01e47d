//! Answers, and the only place that turns domain errors into a status and `{"error": "..."}`.
//! Every answer is JSON and never cached.

use std::borrow::Cow;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::caller::{CallerError, Unauthorized};
use crate::hub::HubNameError;
use crate::negotiator::{NegotiateError, NegotiateResponse};
use crate::product::ClientAccess;
use crate::service::UpstreamError;
use crate::tokens::{IssueError, TokenError};

/// An error answer. The message is one sentence a developer can act on; it never carries a
/// secret or repeats request data verbatim. For a domain error it is the error's own message,
/// with advice added here where the answer gives some.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// Chosen here, by the kind of error.
    pub status: StatusCode,
    /// The body's `error`, and the `reason` of the log line.
    pub message: Cow<'static, str>,
    /// `WWW-Authenticate` of a 401: `Bearer` when bearer tokens are what the function takes.
    pub challenge: Option<String>,
}

/// The advice of an answer about a service URL that leads nowhere.
const CHECK_ENDPOINT_URL: &str = "check the endpoint URL (Endpoint, ServerEndpoint or serviceUri)";

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

impl ApiError {
    /// An error answer with no `WWW-Authenticate` challenge.
    pub fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            message: message.into(),
            challenge: None,
        }
    }

    /// 400: the request itself is wrong (its hub, query, body or the event carrying it).
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404: no route has this path, or this function serves no such hub.
    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// The JSON body, `{"error": message}`.
    pub fn body(&self) -> String {
        serde_json::to_string(&ErrorBody { error: &self.message })
            .unwrap_or_else(|_| r#"{"error":"internal error"}"#.to_owned())
    }
}

/// An answer of this function: a JSON body, never cached (a token, or why there is none).
pub fn json_answer(status: StatusCode, body: impl Into<Body>) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body.into(),
    )
        .into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = json_answer(self.status, self.body());
        let headers = response.headers_mut();
        if let Some(challenge) = self.challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

/// `200` with the answer the service's client reads, written once into a buffer of its final
/// size: SignalR's `{"url","accessToken"}`; Web PubSub's `{"baseUrl","url","accessToken"}`, as
/// the Functions extension's `WebPubSubConnection` serialises it; Socket.IO's
/// `{"endpoint","path","token"}`, as Web PubSub for Socket.IO's negotiate answers. URLs go
/// through serde_json's string writer; the token goes in as it is: an
/// [`AccessToken`](crate::tokens::AccessToken) has nothing to escape.
// Hand-written: a serde derive costs 2,975 instructions per negotiate more (BENCHMARKS.md, "Crates or ours").
pub fn negotiated(response: &NegotiateResponse) -> Response {
    let token = response.access_token.as_str();
    let url = response.url.as_str();
    let written = match &response.access {
        ClientAccess::SignalR => return signalr_answer(url, token),
        ClientAccess::WebPubSub { base_len } => members(
            &[("baseUrl", url.get(..*base_len).unwrap_or(url)), ("url", url)],
            ("accessToken", token),
        ),
        ClientAccess::SocketIo { path } => members(&[("endpoint", url), ("path", path)], ("token", token)),
    };
    match written {
        Ok(body) => json_answer(StatusCode::OK, body),
        Err(_) => unwritten(),
    }
}

fn unwritten() -> Response {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "the answer could not be written").into_response()
}

/// SignalR's `{"url","accessToken"}`, from constant pieces (the answer of nearly every
/// negotiate).
fn signalr_answer(url: &str, token: &str) -> Response {
    const URL: &[u8] = br#"{"url":"#;
    const TOKEN: &[u8] = br#","accessToken":""#;
    let mut body = Vec::with_capacity(URL.len() + url.len() + 8 + TOKEN.len() + token.len() + 2);
    body.extend_from_slice(URL);
    if serde_json::to_writer(&mut body, url).is_err() {
        return unwritten();
    }
    body.extend_from_slice(TOKEN);
    body.extend_from_slice(token.as_bytes());
    body.extend_from_slice(b"\"}");
    json_answer(StatusCode::OK, body)
}

/// `{"name":value,…,"token name":"token"}`: the values escaped, the token as it is.
fn members(members: &[(&str, &str)], token: (&str, &str)) -> serde_json::Result<Vec<u8>> {
    let size = members
        .iter()
        .map(|(name, value)| name.len() + 2 * value.len() + 6)
        .sum::<usize>();
    let mut body = Vec::with_capacity(size + token.0.len() + token.1.len() + 8);
    body.push(b'{');
    for (name, value) in members {
        body.push(b'"');
        body.extend_from_slice(name.as_bytes());
        body.extend_from_slice(b"\":");
        serde_json::to_writer(&mut body, value)?;
        body.push(b',');
    }
    body.push(b'"');
    body.extend_from_slice(token.0.as_bytes());
    body.extend_from_slice(b"\":\"");
    body.extend_from_slice(token.1.as_bytes());
    body.extend_from_slice(b"\"}");
    Ok(body)
}

impl From<HubNameError> for ApiError {
    fn from(error: HubNameError) -> Self {
        Self::bad_request(error.to_string())
    }
}

impl From<&Unauthorized> for ApiError {
    /// 401, with `WWW-Authenticate: Bearer` when bearer tokens are what the function takes.
    fn from(unauthorized: &Unauthorized) -> Self {
        let challenge = unauthorized.bearer.then(|| {
            let description = unauthorized.reason.replace('"', "'");
            format!("Bearer error=\"invalid_token\", error_description=\"{description}\"")
        });
        Self {
            status: StatusCode::UNAUTHORIZED,
            message: unauthorized.reason.clone(),
            challenge,
        }
    }
}

impl From<&CallerError> for ApiError {
    /// 401 for a credential; 403 for a diagnostic client the caller may not be.
    fn from(error: &CallerError) -> Self {
        match error {
            CallerError::Unauthorized(unauthorized) => unauthorized.into(),
            CallerError::NotDiagnostic | CallerError::NotARole { .. } => {
                Self::new(StatusCode::FORBIDDEN, error.to_string())
            }
        }
    }
}

impl From<&NegotiateError> for ApiError {
    fn from(error: &NegotiateError) -> Self {
        match error {
            NegotiateError::HubNotServed => Self::not_found(error.to_string()),
            NegotiateError::Hub(hub) => (*hub).into(),
            NegotiateError::Issue(expiring @ (IssueError::LoginEnded | IssueError::LoginEndsTooSoon)) => {
                // A 401 with the challenge that makes the SignalR client fetch a fresh
                // credential and retry once, as for any refused bearer.
                Self::from(&Unauthorized {
                    reason: expiring.to_string().into(),
                    bearer: true,
                })
            }
            NegotiateError::NoEndpoint(_) => Self::new(StatusCode::SERVICE_UNAVAILABLE, error.to_string()),
            NegotiateError::Issue(IssueError::Upstream(upstream)) => upstream.into(),
            NegotiateError::Issue(IssueError::Token(token @ TokenError::TooLong(_))) => {
                Self::new(StatusCode::PAYLOAD_TOO_LARGE, token.to_string())
            }
            NegotiateError::Issue(IssueError::Token(token)) => {
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, token.to_string())
            }
        }
    }
}

impl From<&UpstreamError> for ApiError {
    /// The cause in one sentence, never a secret: the credential is named, its detail is only
    /// in the log.
    fn from(error: &UpstreamError) -> Self {
        use UpstreamError::*;
        let status = match error {
            EntraTimeout(_) | Timeout | KeyTimeout => StatusCode::GATEWAY_TIMEOUT,
            Throttled => StatusCode::SERVICE_UNAVAILABLE,
            Entra(_) | Refused { .. } | Status(_) | Unreachable | Malformed => StatusCode::BAD_GATEWAY,
        };
        let message = match error {
            Entra(_) => format!("{error}; see the function's log"),
            Refused { call, .. } => format!(
                "{error}: grant it the role {} on the {} instance",
                call.permission().1,
                call.service().short_name()
            ),
            Status(300..=399) => {
                format!("{error}, a redirect, which this function does not follow: {CHECK_ENDPOINT_URL}")
            }
            Status(404) => format!("{error}: {CHECK_ENDPOINT_URL}"),
            Throttled => format!("{error}; try again shortly"),
            EntraTimeout(_) | Status(_) | Timeout | KeyTimeout | Unreachable | Malformed => error.to_string(),
        };
        Self::new(status, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entra::EntraError;
    use crate::service::Call;
    use crate::tokens::AccessToken;

    fn refused(status: u16, call: Call) -> UpstreamError {
        UpstreamError::Refused { status, call }
    }

    #[test]
    fn the_answer_is_the_url_escaped_and_the_token_as_it_is() {
        let response = NegotiateResponse {
            url: "https://a.example/client/?hub=x&q=\"\\".into(),
            access_token: AccessToken::from_service("aa.bb-_.cc".into()).unwrap(),
            access: ClientAccess::SignalR,
        };
        let answer = negotiated(&response);
        assert_eq!(answer.status(), StatusCode::OK);
        let body = futures_util::FutureExt::now_or_never(axum::body::to_bytes(answer.into_body(), 1024))
            .unwrap()
            .unwrap();
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            r#"{"url":"https://a.example/client/?hub=x&q=\"\\","accessToken":"aa.bb-_.cc"}"#
        );
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(parsed["url"], response.url);
    }

    fn body_of(response: &NegotiateResponse) -> String {
        let answer = negotiated(response);
        assert_eq!(answer.status(), StatusCode::OK);
        let body = futures_util::FutureExt::now_or_never(axum::body::to_bytes(answer.into_body(), 1024))
            .unwrap()
            .unwrap();
        String::from_utf8(body.to_vec()).unwrap()
    }

    #[test]
    fn web_pubsub_answers_as_its_binding_and_socket_io_as_its_negotiate() {
        let url = "wss://a.example/client/hubs/h?access_token=aa.bb.cc";
        let response = NegotiateResponse {
            url: url.into(),
            access_token: AccessToken::from_service("aa.bb.cc".into()).unwrap(),
            access: ClientAccess::WebPubSub {
                base_len: url.find('?').unwrap(),
            },
        };
        assert_eq!(
            body_of(&response),
            r#"{"baseUrl":"wss://a.example/client/hubs/h","url":"wss://a.example/client/hubs/h?access_token=aa.bb.cc","accessToken":"aa.bb.cc"}"#
        );
        let response = NegotiateResponse {
            url: "https://a.example".into(),
            access_token: AccessToken::from_service("aa.bb.cc".into()).unwrap(),
            access: ClientAccess::SocketIo {
                path: "/clients/socketio/hubs/h\"".into(),
            },
        };
        assert_eq!(
            body_of(&response),
            r#"{"endpoint":"https://a.example","path":"/clients/socketio/hubs/h\"","token":"aa.bb.cc"}"#
        );
    }

    #[test]
    fn body_is_json_with_escaping() {
        let error = ApiError::bad_request("a \"quoted\" word");
        assert_eq!(error.body(), r#"{"error":"a \"quoted\" word"}"#);
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    }

    #[test]
    fn outcomes_map_to_statuses() {
        let cases = [
            (
                refused(401, Call::GenerateToken(crate::product::Service::SignalR)),
                StatusCode::BAD_GATEWAY,
            ),
            (refused(403, Call::AccessKey), StatusCode::BAD_GATEWAY),
            (UpstreamError::Status(404), StatusCode::BAD_GATEWAY),
            (UpstreamError::Status(307), StatusCode::BAD_GATEWAY),
            (UpstreamError::Status(500), StatusCode::BAD_GATEWAY),
            (UpstreamError::Throttled, StatusCode::SERVICE_UNAVAILABLE),
            (UpstreamError::Timeout, StatusCode::GATEWAY_TIMEOUT),
            (UpstreamError::EntraTimeout("X"), StatusCode::GATEWAY_TIMEOUT),
            (UpstreamError::KeyTimeout, StatusCode::GATEWAY_TIMEOUT),
            (UpstreamError::Unreachable, StatusCode::BAD_GATEWAY),
            (UpstreamError::Malformed, StatusCode::BAD_GATEWAY),
        ];
        for (error, status) in cases {
            assert_eq!(ApiError::from(&error).status, status, "{error:?}");
        }
        assert!(
            ApiError::from(&refused(403, Call::GenerateToken(crate::product::Service::SignalR)))
                .message
                .contains("SignalR REST API Owner")
        );
        assert!(
            ApiError::from(&refused(403, Call::AccessKey))
                .message
                .ends_with("grant it the role SignalR App Server or SignalR Service Owner on the SignalR instance")
        );
    }

    #[test]
    fn entra_errors_name_the_credential_but_not_the_detail() {
        let error = UpstreamError::Entra(EntraError {
            credential: "ManagedIdentityCredential",
            detail: "connection refused to http://169.254.169.254 with header x".into(),
        });
        let api = ApiError::from(&error);
        assert!(
            api.message.starts_with("ManagedIdentityCredential could not get"),
            "{}",
            api.message
        );
        assert!(!api.message.contains("169.254"));
    }

    #[test]
    fn negotiate_outcomes_map_to_statuses() {
        let status = |error: NegotiateError| ApiError::from(&error).status;
        assert_eq!(status(NegotiateError::HubNotServed), StatusCode::NOT_FOUND);
        assert_eq!(
            status(NegotiateError::NoEndpoint(crate::product::Service::SignalR)),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status(NegotiateError::Issue(TokenError::TooLong(5000).into())),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(ApiError::from(HubNameError::Empty).status, StatusCode::BAD_REQUEST);
        assert_eq!(
            status(NegotiateError::Hub(HubNameError::TooLongWithApplication)),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            ApiError::from(&CallerError::NotDiagnostic).status,
            StatusCode::FORBIDDEN
        );
    }

    #[test]
    fn a_credential_that_expires_too_soon_is_a_401_with_a_bearer_challenge() {
        for error in [IssueError::LoginEnded, IssueError::LoginEndsTooSoon] {
            let api = ApiError::from(&NegotiateError::Issue(error));
            assert_eq!(api.status, StatusCode::UNAUTHORIZED);
            let challenge = api.challenge.expect("a challenge");
            assert!(challenge.starts_with("Bearer error=\"invalid_token\""), "{challenge}");
            assert!(
                HeaderValue::from_str(&challenge).is_ok(),
                "a valid header value: {challenge}"
            );
            assert!(challenge.contains(api.message.as_ref()));
        }
        let through_caller = ApiError::from(&CallerError::Unauthorized(Unauthorized {
            reason: "no".into(),
            bearer: true,
        }));
        assert_eq!(through_caller.status, StatusCode::UNAUTHORIZED);
        assert!(through_caller.challenge.is_some());
    }

    #[test]
    fn a_bearer_challenge_never_breaks_the_header() {
        let error = ApiError::from(&Unauthorized {
            reason: "the \"token\" expired".into(),
            bearer: true,
        });
        assert_eq!(error.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            error.challenge.as_deref(),
            Some("Bearer error=\"invalid_token\", error_description=\"the 'token' expired\"")
        );
        let plain = ApiError::from(&Unauthorized {
            reason: "no".into(),
            bearer: false,
        });
        assert_eq!(plain.challenge, None);
    }
}
