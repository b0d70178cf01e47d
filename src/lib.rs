//! The negotiate function for Azure SignalR Service.
//!
//! A SignalR client POSTs to `{base}/negotiate`; this crate answers with the service URL to
//! connect to and a signed access token (`{"url": "...", "accessToken": "..."}`), the same way
//! on AWS Lambda, as an Azure Functions custom handler, and as a local server.
//!
//! Data flows one way: request → hub ([`hub`]) → endpoint ([`endpoint`]) → token ([`token`])
//! → response ([`negotiate`]). Configuration ([`config`], [`connection_string`]) is read and
//! checked once at start; [`app`] builds the one router and [`host`] serves it.
//!
//! ```
//! use signalr_negotiate::config::Config;
//! use signalr_negotiate::negotiate::Negotiator;
//!
//! let config = Config::from_vars([(
//!     "AzureSignalRConnectionString".to_owned(),
//!     "Endpoint=https://demo.service.signalr.net;AccessKey=secret;Version=1.0;".to_owned(),
//! )])?;
//! let negotiator = Negotiator::new(&config)?;
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let answer = negotiator.negotiate("Chat", &Default::default(), None, 1_700_000_000).await.unwrap().response;
//! assert!(answer.url.starts_with("https://demo.service.signalr.net/client/?hub=chat&asrs_request_id="));
//! assert_eq!(answer.access_token.split('.').count(), 3);
//! # });
//! # Ok::<(), signalr_negotiate::config::ConfigError>(())
//! ```

pub mod access_key;
pub mod app;
pub mod aws_secrets;
pub mod check;
pub mod cli;
pub mod config;
pub mod connection_string;
pub mod endpoint;
pub mod entra;
pub mod error;
pub mod health;
pub mod host;
pub mod hub;
pub mod identity;
pub mod issuer;
pub mod negotiate;
pub mod oidc;
pub mod routing;
pub mod secret;
pub mod service_api;
pub mod telemetry;
pub mod temporary_key;
pub mod token;
