//! `check`: the configuration as serving would load it, each endpoint and its health, and a
//! sample token per endpoint, decoded. Secrets are never printed: keys and client secrets show
//! as their kind only, and a token only as its header and claims.

use std::fmt::Write as _;
use std::process::ExitCode;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::config::Config;
use crate::connection_string::{Authentication, EntraCredential};
use crate::identity::Caller;
use crate::negotiate::Negotiator;

/// Runs the check; the report goes to standard output.
pub async fn run(config: &Config, negotiator: &Negotiator, hub: &str, user: Option<&str>) -> ExitCode {
    let mut out = String::new();
    let mut problems = 0;
    let http = reqwest::Client::builder().build().ok();
    let _ = writeln!(out, "configuration: loaded, {} endpoint(s)", config.endpoints.len());
    for warning in &config.warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
    let caller = Caller {
        user_id: user.map(str::to_owned),
        claims: Vec::new(),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    for (index, endpoint) in negotiator.endpoints().enumerate() {
        let name = if endpoint.name().is_empty() {
            "(default)"
        } else {
            endpoint.name()
        };
        let _ = writeln!(
            out,
            "\nendpoint {name} ({}), from {}",
            endpoint.endpoint_type(),
            endpoint.source()
        );
        let _ = writeln!(out, "  endpoint:   {}", endpoint.endpoint_url());
        let _ = writeln!(out, "  clients to: {}", endpoint.client_url("{hub}", "{id}"));
        let _ = writeln!(out, "  server:     {}", endpoint.server_base());
        let _ = writeln!(out, "  auth:       {}", auth_kind(endpoint.auth(), config));
        let health = match &http {
            Some(http) => crate::health::probe(http, endpoint.server_base()).await,
            None => Err("no HTTP client".to_owned()),
        };
        match health {
            Ok(()) => {
                let _ = writeln!(out, "  health:     ok");
            }
            Err(why) => {
                problems += 1;
                let _ = writeln!(out, "  health:     PROBLEM: {why}");
            }
        }
        match negotiator.negotiate_on(index, hub, &caller, now).await {
            Ok(negotiated) => {
                let _ = writeln!(
                    out,
                    "  sample for hub {hub}{}:",
                    user.map(|u| format!(", user {u}")).unwrap_or_default()
                );
                let _ = writeln!(out, "    url:    {}", negotiated.response.url);
                let mut parts = negotiated.response.access_token.split('.');
                for label in ["header", "claims"] {
                    let decoded = parts
                        .next()
                        .and_then(|part| URL_SAFE_NO_PAD.decode(part).ok())
                        .and_then(|json| serde_json::from_slice::<Value>(&json).ok())
                        .map_or_else(|| "(not JSON)".to_owned(), |value| value.to_string());
                    let _ = writeln!(out, "    {label}: {decoded}");
                }
            }
            Err(error) => {
                problems += 1;
                let _ = writeln!(
                    out,
                    "  sample:     PROBLEM ({}): {}",
                    error.status.as_u16(),
                    error.message
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "\n{}",
        if problems == 0 {
            "result: OK".to_owned()
        } else {
            format!("result: {problems} problem(s)")
        }
    );
    print!("{out}");
    if problems == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn auth_kind(auth: &Authentication, config: &Config) -> String {
    let mode = match config.entra_mode {
        crate::issuer::EntraMode::GenerateToken => "generate-token",
        crate::issuer::EntraMode::AccessKey => "access-key",
    };
    match auth {
        Authentication::AccessKey(_) => "access key (not shown)".to_owned(),
        Authentication::MicrosoftEntra(credential) => {
            let credential = match credential {
                EntraCredential::Default { .. } => "default chain (AuthType=azure)".to_owned(),
                EntraCredential::ManagedIdentity { client_id: None } => "managed identity, system-assigned".to_owned(),
                EntraCredential::ManagedIdentity { client_id: Some(id) } => format!("managed identity, client id {id}"),
                EntraCredential::ClientSecret {
                    tenant_id, client_id, ..
                } => {
                    format!("client secret (not shown), tenant {tenant_id}, client id {client_id}")
                }
                EntraCredential::ClientCertificate { .. } => "client certificate".to_owned(),
            };
            format!("Microsoft Entra ID: {credential}; {mode} mode")
        }
    }
}
