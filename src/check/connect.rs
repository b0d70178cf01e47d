//! The proof that a Web PubSub endpoint takes its tokens, after its sample: the sample's client
//! URL opened as the client opens it (`ServiceApi::webpubsub_connect`): the WebSocket upgrade
//! for WebSocket and MQTT clients, which the service answers 101 only to a token it takes, and
//! Engine.IO's polling handshake for Socket.IO clients, answered 200. The connection is dropped
//! at once. A refusal says what to change, as SignalR's proof does.

use super::Report;
use crate::endpoints::{Authentication, ServiceEndpoint};
use crate::negotiator::{NegotiateError, Negotiated};
use crate::product::{ClientAccess, ClientProtocol};
use crate::service::ServiceApi;

/// Writes the `connect:` line of a Web PubSub endpoint.
pub(super) async fn prove(
    report: &mut Report,
    api: &ServiceApi,
    endpoint: &ServiceEndpoint,
    protocol: ClientProtocol,
    sample: &Result<Negotiated<'_>, NegotiateError>,
) {
    let Ok(negotiated) = sample else {
        report.line("connect:", "not tried (no sample token)");
        return;
    };
    let response = &negotiated.response;
    let token = response.access_token.as_str();
    let (url, subprotocol, accepted, what) = match &response.access {
        ClientAccess::SocketIo { path } => (
            format!("{}{path}/?EIO=4&transport=polling&access_token={token}", response.url),
            None,
            200,
            "the Socket.IO handshake",
        ),
        _ => {
            let subprotocol = match protocol {
                ClientProtocol::Mqtt => "mqtt",
                _ => "json.webpubsub.azure.v1",
            };
            (response.url.clone(), Some(subprotocol), 101, "the WebSocket upgrade")
        }
    };
    let source = endpoint.source();
    match api.webpubsub_connect(&url, subprotocol).await {
        Ok(answer) if answer.status == accepted => report.line(
            "connect:",
            format_args!("ok: the service took the sample token ({what} answered {accepted})"),
        ),
        // Engine.IO refuses a handshake it does not allow with 403 (its "Forbidden").
        Ok(answer) if answer.status == 401 || (answer.status == 403 && subprotocol.is_none()) => {
            let advice = match endpoint.auth() {
                Authentication::AccessKey(_) => format!(
                    "the AccessKey in {source} is not a key of this resource, or Endpoint is not the resource's own \
                    URL (a proxy or custom domain goes in ClientEndpoint)"
                ),
                Authentication::MicrosoftEntra(_) => {
                    format!("the resource that made the token is not the one clients reach: check {source}")
                }
            };
            report.problem(
                "connect:",
                format_args!(
                    "the service refused the sample token ({what} answered {}): {advice}",
                    answer.status
                ),
            );
        }
        Ok(answer) => report.problem(
            "connect:",
            format_args!(
                "{what} answered {} ({}): the URL clients get (ClientEndpoint or Endpoint in {source}) should lead \
                to the resource's client endpoint",
                answer.status,
                answer.body_excerpt()
            ),
        ),
        Err(error) => report.problem(
            "connect:",
            format_args!("{error}: the URL clients get (ClientEndpoint or Endpoint in {source}) is not reachable"),
        ),
    }
}
