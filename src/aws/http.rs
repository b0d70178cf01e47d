//! The AWS SDK's HTTP client: requests go through reqwest, the HTTP/1.1 and rustls stack this
//! binary already carries, instead of the SDK's default client, which would add a second hyper
//! client with HTTP/2 to the binary. The SDK's connect and read timeouts are applied per
//! request; its retries and signing are unchanged.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

/// The SDK's HTTP client, over one reqwest client.
#[derive(Debug, Clone)]
pub struct ReqwestClient(reqwest::Client);

impl ReqwestClient {
    /// A client for the AWS SDK's `http_client` setting.
    pub fn shared(http: reqwest::Client) -> SharedHttpClient {
        SharedHttpClient::new(Self(http))
    }
}

impl HttpClient for ReqwestClient {
    fn http_connector(&self, settings: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(Connector {
            http: self.0.clone(),
            // reqwest bounds a whole request; the SDK's connect and read timeouts together are
            // the longest a request may take.
            timeout: match (settings.connect_timeout(), settings.read_timeout()) {
                (Some(connect), Some(read)) => Some(connect + read),
                (connect, read) => connect.or(read),
            },
        })
    }
}

#[derive(Debug)]
struct Connector {
    http: reqwest::Client,
    timeout: Option<std::time::Duration>,
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let http = self.http.clone();
        let timeout = self.timeout;
        HttpConnectorFuture::new(async move {
            let request = request
                .try_into_http1x()
                .map_err(|error| ConnectorError::user(error.into()))?;
            let (parts, body) = request.into_parts();
            // The calls made here (GetSecretValue, GetParameter, credentials) have small,
            // in-memory bodies.
            let body = body
                .bytes()
                .ok_or_else(|| ConnectorError::user("a streaming request body is not supported".into()))?
                .to_vec();
            let mut builder = http
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body);
            if let Some(timeout) = timeout {
                builder = builder.timeout(timeout);
            }
            let response = builder.send().await.map_err(connector_error)?;
            let mut answer = axum::http::Response::builder().status(response.status());
            if let Some(headers) = answer.headers_mut() {
                *headers = response.headers().clone();
            }
            let bytes = response.bytes().await.map_err(connector_error)?;
            let answer = answer
                .body(SdkBody::from(bytes))
                .map_err(|error| ConnectorError::other(error.into(), None))?;
            HttpResponse::try_from(answer).map_err(|error| ConnectorError::other(error.into(), None))
        })
    }
}

fn connector_error(error: reqwest::Error) -> ConnectorError {
    if error.is_timeout() {
        ConnectorError::timeout(error.into())
    } else if error.is_connect() || error.is_request() || error.is_body() {
        ConnectorError::io(error.into())
    } else {
        ConnectorError::other(error.into(), None)
    }
}
