//! Answers: every refusal is `{"error": "..."}` with the status that fits; every answer is JSON
//! and never cached.

use std::borrow::Cow;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answer. The message is one sentence a developer can act on; it never carries a
/// secret or repeats request data verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: Cow<'static, str>,
    /// `WWW-Authenticate` of a 401.
    pub challenge: Option<String>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            message: message.into(),
            challenge: None,
        }
    }

    pub fn with_challenge(mut self, challenge: Option<String>) -> Self {
        self.challenge = challenge;
        self
    }

    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_json_with_escaping() {
        let error = ApiError::bad_request("a \"quoted\" word");
        assert_eq!(error.body(), r#"{"error":"a \"quoted\" word"}"#);
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    }
}
