//! `check`: the settings as serving would load them, each endpoint and its health, and a
//! sample token per endpoint, decoded. Secrets are never printed: keys and client secrets show
//! as their kind only, and a token only as its header and claims.

use std::fmt::Write as _;
use std::process::ExitCode;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::endpoints::{Authentication, EntraCredential, display_name};
use crate::entra::EntraTarget;
use crate::http::ApiError;
use crate::hub::HubName;
use crate::settings::table::TABLE;
use crate::settings::table::{AUTHORITY_HOST, ENTRA_SCOPE};
use crate::settings::{Environment, Settings};
use crate::startup::{self, App};
use crate::tokens::{EntraMode, TokenIssuer, unix_now};

/// Runs the check; the report goes to standard output.
pub async fn run(env: &Environment, settings: &Settings, app: &App, hub: &str, user: Option<&str>) -> ExitCode {
    let mut out = String::new();
    let mut problems = 0;
    // The client serving uses; made here too when serving would not need one.
    let http = app
        .http()
        .cloned()
        .or_else(|| startup::http_client(&settings.upstream).ok());
    let _ = writeln!(out, "configuration: loaded, {} endpoint(s)", settings.endpoints.len());
    for warning in &settings.warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
    settings_in_effect(&mut out, env);
    let caller = app.callers().sample(user);
    let hub_name = HubName::parse(hub);
    let now = unix_now();
    for (index, endpoint) in app.negotiator().endpoints().enumerate() {
        let name = display_name(endpoint.name());
        let _ = writeln!(
            out,
            "\nendpoint {name} ({}), from {}",
            endpoint.endpoint_type(),
            endpoint.source()
        );
        let _ = writeln!(out, "  endpoint:   {}", endpoint.endpoint_url());
        let _ = writeln!(out, "  clients to: {}", endpoint.client_url("{hub}", "{id}"));
        let _ = writeln!(out, "  server:     {}", endpoint.server_base());
        let _ = writeln!(out, "  auth:       {}", auth_kind(endpoint.auth(), settings.entra_mode));
        if let Some(entra) = app.negotiator().issuer(index).and_then(TokenIssuer::entra) {
            entra_target(&mut out, entra.target(), endpoint.auth());
        }
        let health = match &http {
            Some(http) => crate::endpoints::probe(http, endpoint.server_base()).await,
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
        let sample = match &hub_name {
            Ok(hub) => app
                .negotiator()
                .negotiate_on(index, hub, &caller, now)
                .await
                .map_err(|error| ApiError::from(&error)),
            Err(error) => Err(ApiError::from(*error)),
        };
        match sample {
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

/// Each declared setting that is set: its value, or `(set, not shown)` for those that may hold
/// a secret.
fn settings_in_effect(out: &mut String, env: &Environment) {
    let mut lines = Vec::new();
    for setting in TABLE {
        if let Some((name, value)) = env.get(setting) {
            let shown = if setting.secret {
                "(set, not shown)"
            } else {
                value.trim()
            };
            lines.push(format!("  {name} = {shown}"));
        }
    }
    if !lines.is_empty() {
        let _ = writeln!(out, "settings in effect:\n{}", lines.join("\n"));
    }
}

/// The cloud of an Entra endpoint, and the scope and authority its credential uses.
fn entra_target(out: &mut String, target: &EntraTarget, auth: &Authentication) {
    let from = |overridden: bool, setting: &str| {
        if overridden {
            format!(" (from {setting})")
        } else {
            " (from the cloud)".to_owned()
        }
    };
    let _ = writeln!(out, "  cloud:      {} (from the host of Endpoint)", target.cloud);
    let _ = writeln!(
        out,
        "  scope:      {}{}",
        target.scope,
        from(target.scope_overridden, ENTRA_SCOPE.name)
    );
    let authority = if matches!(
        auth,
        Authentication::MicrosoftEntra(EntraCredential::ManagedIdentity { .. })
    ) {
        " (not used: a managed identity asks its local endpoint)".to_owned()
    } else {
        from(target.authority_overridden, AUTHORITY_HOST.name)
    };
    let _ = writeln!(out, "  authority:  {}{authority}", target.authority_host);
}

fn auth_kind(auth: &Authentication, mode: EntraMode) -> String {
    let mode = mode.name();
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
                EntraCredential::ClientCertificate {
                    tenant_id, client_id, ..
                } => format!("client certificate (key not shown), tenant {tenant_id}, client id {client_id}"),
            };
            format!("Microsoft Entra ID: {credential}; {mode} mode")
        }
    }
}
