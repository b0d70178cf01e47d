//! The services' client side, as `check` plays it. For Web PubSub, what its clients do with the
//! answer: the WebSocket upgrade to the client URL (with the protocol's subprotocol), or
//! Engine.IO's first polling request for Socket.IO; the service answers 101 (or 200) only to a
//! token it takes. For SignalR, what the official SignalR client does with
//! a negotiate answer next — `POST` to the answer's URL with `negotiate` added, the token as its
//! bearer (dotnet/aspnetcore, `src/SignalR/clients/ts/signalr/src/HttpConnection.ts`,
//! `_getNegotiationResponse`). The service's 200 proves the token's key (or the Entra path), its
//! `aud` and the URL together; it opens no connection (the service drops a negotiate that no
//! connect follows within seconds).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use super::answer::{self, ServiceAnswer};
use super::{ServiceApi, UpstreamError};

/// Why a 200 to a client negotiate is not an accepted negotiate (the client would fail).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NegotiateAnswerError {
    /// Not JSON with a connection id and token: the client cannot connect with it.
    #[error("its body is not a negotiate answer (JSON with connectionId and connectionToken)")]
    NotNegotiate,
    /// JSON with `error`, which the client throws.
    #[error("its body carries an error: {0}")]
    Error(String),
}

/// The members of a negotiate answer (version 1) that the client needs.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NegotiateBody {
    connection_id: Option<String>,
    connection_token: Option<String>,
    negotiate_version: Option<u64>,
    error: Option<String>,
}

impl ServiceApi {
    /// `POST {client_url with negotiate}` with the token as bearer, `X-Requested-With:
    /// XMLHttpRequest` and an empty body, as the official client sends it; one attempt.
    pub async fn client_negotiate(&self, client_url: &str, token: &str) -> Result<ServiceAnswer, UpstreamError> {
        let request = self
            .http()
            .post(negotiate_url(client_url))
            .bearer_auth(token)
            .header("x-requested-with", "XMLHttpRequest")
            .header("content-length", "0");
        answer::send(request, self.limits().attempt_timeout).await
    }
}

impl ServiceApi {
    /// Opens a Web PubSub client connection as its client does and drops it with the answer:
    /// `GET` the client URL (`ws` read as `http`) with the WebSocket upgrade headers and
    /// `subprotocol`, or, without one, a plain `GET` (Socket.IO's polling handshake). One attempt.
    pub async fn webpubsub_connect(
        &self,
        url: &str,
        subprotocol: Option<&str>,
    ) -> Result<ServiceAnswer, UpstreamError> {
        let url = match url.strip_prefix("ws") {
            Some(rest) => format!("http{rest}"),
            None => url.to_owned(),
        };
        let mut request = self.http().get(url);
        if let Some(subprotocol) = subprotocol {
            let mut key = [0u8; 16];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
            request = request
                .header("connection", "Upgrade")
                .header("upgrade", "websocket")
                .header("sec-websocket-version", "13")
                .header("sec-websocket-key", STANDARD.encode(key))
                .header("sec-websocket-protocol", subprotocol);
        }
        answer::send(request, self.limits().attempt_timeout).await
    }
}

/// The URL the official client POSTs to: the answer's URL with `negotiate` after its path
/// (and a `/`), its query kept, and `negotiateVersion=1` unless the query names a version
/// (`HttpConnection._resolveNegotiateUrl`).
pub fn negotiate_url(url: &str) -> String {
    let (path, query) = match url.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (url, None),
    };
    let mut negotiate = String::with_capacity(url.len() + 32);
    negotiate.push_str(path);
    if !negotiate.ends_with('/') {
        negotiate.push('/');
    }
    negotiate.push_str("negotiate");
    if let Some(query) = query.filter(|query| !query.is_empty()) {
        negotiate.push('?');
        negotiate.push_str(query);
    }
    if !query.is_some_and(|query| query.split('&').any(|pair| pair.starts_with("negotiateVersion="))) {
        negotiate.push(if negotiate.contains('?') { '&' } else { '?' });
        negotiate.push_str("negotiateVersion=1");
    }
    negotiate
}

/// Whether a 200's body is a negotiate answer the client can connect with.
pub fn check_negotiate_body(body: &[u8]) -> Result<(), NegotiateAnswerError> {
    let answer: NegotiateBody = serde_json::from_slice(body).map_err(|_| NegotiateAnswerError::NotNegotiate)?;
    if let Some(error) = answer.error {
        return Err(NegotiateAnswerError::Error(crate::entra::excerpt(&error, 160)));
    }
    let id = answer.connection_id.filter(|id| !id.is_empty());
    // Before version 1 the connection id serves as the token too.
    let token = match answer.negotiate_version {
        Some(version) if version >= 1 => answer.connection_token.filter(|token| !token.is_empty()),
        _ => id.clone(),
    };
    match (id, token) {
        (Some(_), Some(_)) => Ok(()),
        _ => Err(NegotiateAnswerError::NotNegotiate),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_negotiate_url_is_the_official_clients() {
        assert_eq!(
            negotiate_url("https://x.service.signalr.net/client/?hub=chat&asrs_request_id=R"),
            "https://x.service.signalr.net/client/negotiate?hub=chat&asrs_request_id=R&negotiateVersion=1"
        );
        assert_eq!(
            negotiate_url("http://127.0.0.1:8080/gw/client/?hub=chat"),
            "http://127.0.0.1:8080/gw/client/negotiate?hub=chat&negotiateVersion=1"
        );
        assert_eq!(negotiate_url("https://h/a"), "https://h/a/negotiate?negotiateVersion=1");
        assert_eq!(
            negotiate_url("https://h/a?negotiateVersion=1"),
            "https://h/a/negotiate?negotiateVersion=1"
        );
    }

    #[test]
    fn a_negotiate_body_needs_an_id_and_a_token() {
        let ok = br#"{"connectionToken":"t","connectionId":"i","negotiateVersion":1,"availableTransports":[]}"#;
        assert_eq!(check_negotiate_body(ok), Ok(()));
        assert_eq!(check_negotiate_body(br#"{"connectionId":"i"}"#), Ok(()), "version 0");
        for bad in [
            &b""[..],
            b"<html>",
            br#"{"connectionId":"i","negotiateVersion":1}"#,
            br#"{"connectionToken":"t","negotiateVersion":1}"#,
            br#"{"url":"https://elsewhere","accessToken":"t"}"#,
        ] {
            assert_eq!(
                check_negotiate_body(bad),
                Err(NegotiateAnswerError::NotNegotiate),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(
            check_negotiate_body(br#"{"error":"Hub chat is not\nserved"}"#),
            Err(NegotiateAnswerError::Error("Hub chat is not served".into()))
        );
    }
}
