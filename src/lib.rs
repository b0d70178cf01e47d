//! The negotiate function for Azure SignalR Service and Azure Web PubSub.
//!
//! A SignalR client POSTs to `{base}/negotiate`; this crate answers with the service URL to
//! connect to and a signed access token (`{"url": "...", "accessToken": "..."}`), the same way
//! on AWS Lambda, as an Azure Functions custom handler, and as a local server.
//!
//! **A request** flows one way: the HTTP edge (`http/`: routes, extractors, CORS, the only
//! place that picks statuses) → the caller (`caller/`: a trusted source of identity, the
//! claims that reach the token) → the hub (`hub.rs`: validated once, as [`HubName`]) → the
//! endpoint (`endpoints/`: connection strings, `ServiceEndpoint`, the endpoint router and its
//! health board) → the token (`tokens/`: claims, signing, issuers; with Microsoft Entra ID
//! through `entra/` and the service's REST API in `service/`) → the answer. The core of it,
//! hub and caller in and URL and token out, is `negotiator.rs`. Which service a negotiator
//! answers for, and every way the two services differ (client URL, audience, claims, answer,
//! `generateToken` query, clouds), is `product/`.
//!
//! **Start-up** flows one way too: the environment → `settings/` (every setting declared once,
//! and the only reader of the environment; connection strings kept in AWS are read first by
//! `aws/`, which also reads them again while serving) → `startup.rs` (the composition root:
//! HTTP client, REST API, OIDC verifier, issuers, health) → `hosts/` (Lambda, the Functions
//! host, the local server; logs).
//!
//! **Shared** by both: `url_rules.rs` (which URLs a connection string, a CORS origin or an OIDC
//! provider may name), `fetch_cache.rs` (a fetched value held in memory, one fetch in flight at
//! a time), `setting_file.rs` (a file a setting names: regular, and read up to a cap) and
//! `secret.rs` (a string that never prints). **The command line**: `main.rs`
//! starts the binary, `cli.rs` reads its arguments and writes `--help`, and `check/` is the
//! `check` command's report, with its proof against the service.
//!
//! ```
//! use std::sync::Arc;
//! use signalr_negotiate::{App, Caller, HubName, Settings};
//!
//! let settings = Settings::from_vars([(
//!     "AzureSignalRConnectionString".to_owned(),
//!     "Endpoint=https://demo.service.signalr.net;AccessKey=secret;Version=1.0;".to_owned(),
//! )])?;
//! let app = App::new(&settings)?;
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let hub = HubName::parse("Chat").unwrap();
//! // What the negotiate waits for upstream (with Microsoft Entra ID) ends by this deadline.
//! let deadline = tokio::time::Instant::now() + app.upstream_deadline();
//! let answer = app.negotiator().negotiate(&hub, &Caller::default(), None, 1_700_000_000, deadline).await;
//! let answer = answer.unwrap().response;
//! assert!(answer.url.starts_with("https://demo.service.signalr.net/client/?hub=chat&asrs_request_id="));
//! assert_eq!(answer.access_token.split('.').count(), 3);
//! # });
//! // The same app, behind the one router every host serves:
//! let _router = signalr_negotiate::router(Arc::new(app));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

mod aws;
mod caller;
mod check;
pub mod cli;
mod endpoints;
mod entra;
mod fetch_cache;
mod hosts;
mod http;
mod hub;
mod negotiator;
mod product;
mod secret;
mod service;
mod setting_file;
mod settings;
mod startup;
mod tokens;
mod url_rules;

pub use aws::{AwsReferences, KeyRefresher, resolve as resolve_aws_references};
pub use caller::{Caller, decode_client_principal};
pub use check::{CheckOptions, run as check};
pub use endpoints::{
    Authentication, ConnectionString, ConnectionStringError, ConnectionStringWarning, EndpointType, EntraCredential,
    ServiceEndpoint,
};
pub use hosts::logs::{init as init_logging, subscriber as log_subscriber};
pub use hosts::{lambda_request, report_init_error, serve};
pub use http::router;
pub use hub::{HubName, HubNameError, MAX_HUB_NAME_LEN};
pub use negotiator::{NegotiateResponse, Negotiated, Negotiator};
pub use product::{ClientAccess, ClientProtocol, Contract, Service, WebPubSub};
pub use secret::Secret;
pub use settings::{Environment, Host, SettingError, Settings};
pub use startup::{App, StartupError};
pub use tokens::{
    AccessKey, AccessToken, AccessTokenClaims, MAX_TOKEN_LEN, RotatingKey, TokenError, TokenPolicy, sign,
};
