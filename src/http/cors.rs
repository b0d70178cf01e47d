//! CORS for the listed browser origins (exact, or every subdomain of `https://*.domain`), with
//! credentials (the SignalR client sends them): an origin that is not listed gets no CORS
//! headers at all, the browser refuses the answer, and we log it once at warn.

use std::collections::HashSet;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

use crate::url_rules::AllowedOrigin;

/// The listed origins, and the refused ones already logged.
struct Origins {
    allowed: Box<[AllowedOrigin]>,
    refused: RefusedOrigins,
}

impl Origins {
    /// Byte comparisons against each rule: no allocation on a browser's request.
    fn allows(&self, origin: &HeaderValue) -> bool {
        self.allowed.iter().any(|rule| rule.matches(origin.as_bytes()))
    }
}

/// The router with CORS for `origins`, on the routes (and fallback) it has so far.
pub(super) fn layer<S: Clone + Send + Sync + 'static>(router: Router<S>, origins: &[AllowedOrigin]) -> Router<S> {
    let origins = Arc::new(Origins {
        allowed: origins.into(),
        refused: RefusedOrigins::default(),
    });
    let rules = Arc::clone(&origins);
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| rules.allows(origin)))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST])
        // Any requested header, reflected (`*` cannot go with credentials), and only to listed
        // origins, which are trusted with credentials already (as ASP.NET Core's `AllowAnyHeader()`).
        .allow_headers(AllowHeaders::mirror_request())
        .max_age(std::time::Duration::from_secs(600));
    router
        .layer(cors)
        .layer(axum::middleware::from_fn(move |request: Request, next: Next| {
            only_listed_origins(Arc::clone(&origins), request, next)
        }))
}

/// tower-http answers every preflight with its allow headers; an origin that is not listed
/// gets none at all, so nothing suggests it might be allowed. A refused preflight is logged.
/// tower-http's preflight answer is not cached either, as every answer of ours.
async fn only_listed_origins(origins: Arc<Origins>, request: Request, next: Next) -> Response {
    let origin = request.headers().get(header::ORIGIN);
    let allowed = origin.is_some_and(|origin| origins.allows(origin));
    // Only preflights are logged: a same-origin POST carries `Origin` too, and the SignalR
    // client's cross-origin negotiate always sends a preflight first (its custom headers).
    if let Some(origin) = origin.filter(|_| !allowed && is_preflight(&request)) {
        origins.refused.log(origin);
    }
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    if !allowed {
        let headers = response.headers_mut();
        let cors: Vec<header::HeaderName> = headers
            .keys()
            .filter(|name| name.as_str().starts_with("access-control-"))
            .cloned()
            .collect();
        for name in cors {
            headers.remove(name);
        }
    }
    response
}

fn is_preflight(request: &Request) -> bool {
    request.method() == Method::OPTIONS && request.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// Refused origins already logged, so that each is logged once. Anyone can send endless
/// made-up origins, so at most [`RefusedOrigins::REMEMBERED`] are kept, as keyed hashes; once
/// full, one line says so. A wrong `SIGNALR_CORS_ORIGINS` shows among the first origins seen.
#[derive(Default)]
struct RefusedOrigins {
    /// Keyed per process (SipHash with random keys): nobody can make two origins collide.
    hasher: std::hash::RandomState,
    seen: Mutex<HashSet<u64>>,
}

impl RefusedOrigins {
    const REMEMBERED: usize = 512;
    /// Of an origin, what a log line shows: a header may be kilobytes long.
    const SHOWN: usize = 200;

    fn log(&self, origin: &HeaderValue) {
        let bytes = origin.as_bytes();
        let noted = self.note(bytes);
        if matches!(noted, Noted::First | Noted::Filled) {
            let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(Self::SHOWN)]);
            tracing::warn!(
                origin = &*shown,
                "CORS preflight refused: the origin is not in SIGNALR_CORS_ORIGINS (logged once per origin)"
            );
        }
        if noted == Noted::Filled {
            tracing::warn!(
                remembered = Self::REMEMBERED,
                "CORS: this many different refused origins have been logged; further new ones are not logged"
            );
        }
    }

    /// Remembers an origin, if there is room.
    fn note(&self, origin: &[u8]) -> Noted {
        let hash = self.hasher.hash_one(origin);
        // A poisoned lock only means another request panicked while holding it: the set is
        // still a valid set.
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.contains(&hash) {
            Noted::Again
        } else if seen.len() >= Self::REMEMBERED {
            Noted::Forgotten
        } else {
            seen.insert(hash);
            if seen.len() == Self::REMEMBERED {
                Noted::Filled
            } else {
                Noted::First
            }
        }
    }
}

/// What [`RefusedOrigins::note`] did with an origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Noted {
    /// Seen for the first time.
    First,
    /// Seen for the first time, and now the set is full.
    Filled,
    /// Seen before.
    Again,
    /// New, but the set is full.
    Forgotten,
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::StatusCode;
    use tower::ServiceExt as _;

    use super::*;

    #[test]
    fn each_refused_origin_is_new_once_and_memory_is_bounded() {
        let refused = RefusedOrigins::default();
        assert_eq!(refused.note(b"https://a.example"), Noted::First);
        assert_eq!(refused.note(b"https://a.example"), Noted::Again);
        assert_eq!(refused.note(b"https://b.example"), Noted::First);
        for n in 2..RefusedOrigins::REMEMBERED - 1 {
            assert_eq!(refused.note(format!("https://{n}.example").as_bytes()), Noted::First);
        }
        assert_eq!(refused.note(b"https://last.example"), Noted::Filled);
        assert_eq!(refused.seen.lock().unwrap().len(), RefusedOrigins::REMEMBERED);
        assert_eq!(refused.note(b"https://one-too-many.example"), Noted::Forgotten);
        assert_eq!(refused.note(b"https://one-too-many.example"), Noted::Forgotten);
        assert_eq!(refused.note(b"https://a.example"), Noted::Again);
        assert_eq!(refused.seen.lock().unwrap().len(), RefusedOrigins::REMEMBERED);
    }

    fn router() -> Router {
        let origins = [
            AllowedOrigin::parse("https://*.contoso.com").unwrap(),
            AllowedOrigin::parse("http://localhost:8080").unwrap(),
        ];
        layer(
            Router::new().route("/n", axum::routing::post(|| async { "ok" })),
            &origins,
        )
    }

    async fn send(method: Method, origin: &str, preflight: bool) -> Response {
        let mut request = Request::builder()
            .method(method)
            .uri("/n")
            .header(header::ORIGIN, origin);
        if preflight {
            request = request
                .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
                .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "x-api-key");
        }
        router().oneshot(request.body(Body::empty()).unwrap()).await.unwrap()
    }

    #[tokio::test]
    async fn listed_origins_get_cors_headers_and_others_none() {
        for origin in ["https://app.contoso.com", "http://localhost:8080"] {
            let answer = send(Method::OPTIONS, origin, true).await;
            assert!(answer.status().is_success());
            let headers = answer.headers();
            assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], origin);
            assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_HEADERS], "x-api-key");
            let answer = send(Method::POST, origin, false).await;
            assert_eq!(answer.status(), StatusCode::OK);
            assert_eq!(answer.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], origin);
        }
        for origin in ["https://contoso.com", "http://localhost:8081"] {
            for (method, preflight) in [(Method::OPTIONS, true), (Method::POST, false)] {
                let answer = send(method, origin, preflight).await;
                let cors: Vec<_> = answer
                    .headers()
                    .keys()
                    .filter(|name| name.as_str().starts_with("access-control-"))
                    .collect();
                assert!(cors.is_empty(), "{origin}: {cors:?}");
                assert!(answer.headers().contains_key(header::VARY), "{origin}");
            }
        }
    }

    #[test]
    fn a_preflight_is_an_options_request_asking_for_a_method() {
        let request = |method: Method, asks: bool| {
            let mut request = Request::builder().method(method).uri("/n");
            if asks {
                request = request.header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST");
            }
            request.body(Body::empty()).unwrap()
        };
        assert!(is_preflight(&request(Method::OPTIONS, true)));
        assert!(!is_preflight(&request(Method::OPTIONS, false)));
        assert!(!is_preflight(&request(Method::POST, true)));
        assert!(!is_preflight(&request(Method::POST, false)));
    }
}
