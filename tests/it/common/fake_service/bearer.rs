//! The calls of the fake service whose bearer token is checked as the service checks it: the
//! client's negotiate and the REST API's users call; and the service's clock, on every answer.

use std::sync::atomic::Ordering;
use std::time::{Duration, UNIX_EPOCH};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac as _};
use serde_json::{Value, json};
use sha2::Sha256;

use super::{Fake, KEY_ID, TEMPORARY_KEY, authorised, role_denied};

impl Fake {
    /// The service's clock, in seconds since the epoch.
    fn now(&self) -> i64 {
        crate::common::now() + self.clock_skew.load(Ordering::SeqCst)
    }

    /// Checks a bearer token as the service does: its signature, `aud` (the query, which the
    /// REST API's `aud` may carry, aside) and `exp`; `Err` holds the challenge's description.
    fn verify(&self, headers: &HeaderMap, audience: &str) -> Result<(), String> {
        let token = headers
            .get("authorization")
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or_else(String::new)?;
        let decode = |part: &str| -> Option<Value> { serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok() };
        let (message, signature) = token.rsplit_once('.').ok_or_else(String::new)?;
        let (header, claims) = message.split_once('.').ok_or_else(String::new)?;
        let (Some(header), Some(claims)) = (decode(header), decode(claims)) else {
            return Err(String::new());
        };
        let key = match header["kid"].as_str() {
            Some(KEY_ID) => TEMPORARY_KEY.to_owned(),
            Some(_) => return Err("The signature key was not found".into()),
            None => self
                .key
                .lock()
                .unwrap()
                .clone()
                .unwrap_or_else(|| crate::common::KEY.to_owned()),
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(message.as_bytes());
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap_or_default();
        if header["alg"] != "HS256" || mac.verify_slice(&signature).is_err() {
            return Err("The signature key was not found".into());
        }
        let aud = claims["aud"].as_str().unwrap_or_default();
        if aud != audience && aud.split_once('?').map(|(path, _)| path) != Some(audience) {
            return Err("The audience is invalid".into());
        }
        let exp = claims["exp"].as_i64().unwrap_or(0);
        if exp <= self.now() {
            let at = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(exp.max(0) as u64));
            return Err(format!("The token expired at '{at}'"));
        }
        Ok(())
    }
}

/// 401 as ASP.NET Core's JwtBearer answers a refused token: a challenge, no body.
fn challenge(description: &str) -> Response {
    let value = if description.is_empty() {
        "Bearer".to_owned()
    } else {
        format!("Bearer error=\"invalid_token\", error_description=\"{description}\"")
    };
    (StatusCode::UNAUTHORIZED, [("www-authenticate", value)]).into_response()
}

/// The scheme and host a request reached, without port: what an `aud` for this service names.
fn audience_base(headers: &HeaderMap) -> String {
    let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or_default();
    let host = host.rsplit_once(':').map_or(host, |(host, _)| host);
    format!("http://{host}")
}

/// `POST /client/negotiate?hub=…&asrs_request_id=…&negotiateVersion=1`, as the service answers
/// the official client; a token this fake made (generateToken) is taken for its own hub.
pub(super) async fn client_negotiate(
    State(fake): State<Fake>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let n = fake.counters.client_negotiates.fetch_add(1, Ordering::SeqCst);
    let hubs: Vec<&str> = query
        .iter()
        .filter(|(key, _)| key == "hub")
        .map(|(_, value)| value.as_str())
        .collect();
    let [hub] = hubs[..] else {
        return (StatusCode::BAD_REQUEST, "`hub` is a preserved query parameter").into_response();
    };
    let bearer = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "));
    let verdict = match bearer.and_then(|token| token.strip_prefix("service-made-token.")) {
        Some(made) if made.starts_with(&format!("{hub}.")) => Ok(()),
        Some(_) => Err("The audience is invalid".to_owned()),
        None => fake.verify(&headers, &format!("{}/client/?hub={hub}", audience_base(&headers))),
    };
    if let Err(description) = verdict {
        return challenge(&description);
    }
    axum::Json(json!({
        "connectionToken": format!("token-{n}"),
        "connectionId": format!("connection-{n}"),
        "negotiateVersion": 1,
        "availableTransports": [
            {"transport": "WebSockets", "transferFormats": ["Text", "Binary"]},
            {"transport": "ServerSentEvents", "transferFormats": ["Text"]},
            {"transport": "LongPolling", "transferFormats": ["Text", "Binary"]}
        ]
    }))
    .into_response()
}

/// `HEAD /api/hubs/{hub}/users/{user}?api-version=…`: nobody is connected, so a call the
/// service authorises gets 404 with `x-ms-error-code: Warning.User.NotExisted`.
pub(super) async fn user_connected(State(fake): State<Fake>, uri: axum::http::Uri, headers: HeaderMap) -> Response {
    fake.counters.user_calls.fetch_add(1, Ordering::SeqCst);
    if !uri.query().unwrap_or_default().contains("api-version=") {
        return StatusCode::BAD_REQUEST.into_response();
    }
    if authorised(&headers) {
        if let Some(denied) = role_denied(&fake) {
            return denied;
        }
    } else if let Err(description) = fake.verify(&headers, &format!("{}{}", audience_base(&headers), uri.path())) {
        return challenge(&description);
    }
    (StatusCode::NOT_FOUND, [("x-ms-error-code", "Warning.User.NotExisted")]).into_response()
}

/// Every answer carries the service's clock.
pub(super) async fn service_date(State(fake): State<Fake>, mut response: Response) -> Response {
    let now = UNIX_EPOCH + Duration::from_secs(fake.now().max(0) as u64);
    response
        .headers_mut()
        .insert("date", httpdate::fmt_http_date(now).parse().unwrap());
    response
}
