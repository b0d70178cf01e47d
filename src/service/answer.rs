//! The service's answer to a call `check` makes to prove an endpoint: its status and what
//! `check` reads of it — the service's clock (`Date`), its error code (`x-ms-error-code`), the
//! reason a refused bearer token was refused (`WWW-Authenticate`), and a bounded body. One
//! attempt, bounded by the per-attempt timeout, and no retry: a check reports what it sees.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::timeout;

use super::UpstreamError;

/// The most of a body that is read (a negotiate answer is a few hundred bytes).
const MAX_BODY: usize = 16 * 1024;
/// The longest reason or error text taken from an answer, in characters.
const MAX_TEXT: usize = 160;

/// What the service answered.
#[derive(Debug, Clone)]
pub struct ServiceAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The service's clock minus this machine's when the answer came, in seconds, from its
    /// `Date` header (whole seconds, so within about a second plus the round trip).
    pub clock_skew: Option<i64>,
    /// `x-ms-error-code`, which the service sets on a documented 404 (`Warning.User.NotExisted`).
    pub error_code: Option<String>,
    /// The `error_description` of a `WWW-Authenticate: Bearer` challenge (one printable line).
    pub refusal: Option<String>,
    /// The body, at most 16 KiB of it.
    pub body: bytes::Bytes,
}

impl ServiceAnswer {
    /// The body as one short line of printable text, for a report.
    pub fn body_excerpt(&self) -> String {
        crate::entra::excerpt(&String::from_utf8_lossy(&self.body), MAX_TEXT)
    }
}

/// Sends one request, within `limit`, and reads the answer.
pub(super) async fn send(request: reqwest::RequestBuilder, limit: Duration) -> Result<ServiceAnswer, UpstreamError> {
    match timeout(limit, receive(request)).await {
        Ok(answer) => answer,
        Err(_) => Err(UpstreamError::Timeout),
    }
}

async fn receive(request: reqwest::RequestBuilder) -> Result<ServiceAnswer, UpstreamError> {
    let mut response = request.send().await.map_err(|error| {
        if error.is_timeout() {
            UpstreamError::Timeout
        } else {
            UpstreamError::Unreachable
        }
    })?;
    let arrived = SystemTime::now();
    let headers = response.headers();
    let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let clock_skew = text("date")
        .and_then(|date| httpdate::parse_http_date(date).ok())
        .map(|date| seconds(date) - seconds(arrived));
    let error_code = text("x-ms-error-code").map(|code| crate::entra::excerpt(code, MAX_TEXT));
    let refusal = text("www-authenticate")
        .and_then(error_description)
        .map(|reason| crate::entra::excerpt(reason, MAX_TEXT));
    let status = response.status().as_u16();
    let mut body = Vec::new();
    while body.len() < MAX_BODY {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk[..chunk.len().min(MAX_BODY - body.len())]),
            Ok(None) => break,
            Err(_) => return Err(UpstreamError::Unreachable),
        }
    }
    Ok(ServiceAnswer {
        status,
        clock_skew,
        error_code,
        refusal,
        body: body.into(),
    })
}

/// Seconds since the epoch, rounded to the nearest (negative before it).
fn seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_secs_f64().round() as i64,
        Err(before) => -(before.duration().as_secs_f64().round() as i64),
    }
}

/// `error_description="…"` of a `Bearer` challenge (ASP.NET Core's JwtBearer writes it so:
/// `Bearer error="invalid_token", error_description="The signature key was not found"`).
fn error_description(challenge: &str) -> Option<&str> {
    let start = challenge.find("error_description=\"")? + "error_description=\"".len();
    let rest = &challenge[start..];
    Some(&rest[..rest.find('"')?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_is_read_from_a_bearer_challenge() {
        assert_eq!(
            error_description(r#"Bearer error="invalid_token", error_description="The audience is invalid""#),
            Some("The audience is invalid")
        );
        assert_eq!(
            error_description(r#"Bearer error_description="The token expired at '12/06/2026 19:00:00'""#),
            Some("The token expired at '12/06/2026 19:00:00'")
        );
        assert_eq!(error_description("Bearer"), None);
        assert_eq!(error_description(r#"Bearer error_description="unterminated"#), None);
    }

    #[test]
    fn seconds_round_to_the_nearest() {
        assert_eq!(seconds(UNIX_EPOCH + Duration::from_millis(1_600)), 2);
        assert_eq!(seconds(UNIX_EPOCH - Duration::from_millis(1_400)), -1);
    }
}
