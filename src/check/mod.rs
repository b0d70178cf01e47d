//! `check`: the settings as serving would load them, each endpoint and its health, a sample
//! token per endpoint, decoded, and the proof that the service takes it ([`proof`], with the
//! service's [`clock`]); then the application-firewall rules the tokens can serve
//! ([`firewall`]). With `--offline` nothing is sent over the network. Secrets are never printed:
//! keys and client secrets show as their kind only, and a token only as its header and claims.

mod clock;
mod connect;
mod firewall;
mod proof;

use std::fmt::{Display, Write as _};
use std::process::ExitCode;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::caller::{Caller, Unauthorized};
use crate::endpoints::{Authentication, EntraCredential, ServiceEndpoint, display_name, health_url};
use crate::entra::EntraTarget;
use crate::http::ApiError;
use crate::hub::HubName;
use crate::negotiator::NegotiateError;
use crate::product::{ClientAccess, Contract};
use crate::service::ServiceApi;
use crate::settings::table::TABLE;
use crate::settings::table::{AUTH_REQUIRED, AUTHORITY_HOST, ENTRA_SCOPE};
use crate::settings::{Environment, Settings};
use crate::startup::{self, App};
use crate::tokens::{EntraMode, TokenIssuer, unix_now};

/// What the command line asks `check` for.
#[derive(Debug, Clone, Copy)]
pub struct CheckOptions<'a> {
    /// The sample's hub.
    pub hub: &'a str,
    /// The sample's user id.
    pub user: Option<&'a str>,
    /// Send nothing over the network.
    pub offline: bool,
}

/// The report as it is written, and how many problems it names.
#[derive(Default)]
struct Report {
    out: String,
    problems: usize,
}

impl Report {
    /// `  {label} {text}`, the label padded so that values line up.
    fn line(&mut self, label: &str, text: impl Display) {
        let _ = writeln!(self.out, "  {label:<11} {text}");
    }

    /// A problem, on its own line: what is wrong and what to change.
    fn problem(&mut self, label: &str, text: impl Display) {
        self.problems += 1;
        self.line(label, format_args!("PROBLEM: {text}"));
    }
}

/// Runs the check; the report goes to standard output.
pub async fn run(env: &Environment, settings: &Settings, app: &App, options: CheckOptions<'_>) -> ExitCode {
    let CheckOptions { hub, user, offline } = options;
    let mut report = Report::default();
    // The client serving uses; made here too when serving would not need one.
    let http = if offline {
        None
    } else {
        app.http()
            .cloned()
            .or_else(|| startup::http_client(&settings.upstream).ok())
    };
    let api = http.clone().map(|http| ServiceApi::new(http, settings.upstream));
    let out = &mut report.out;
    let webpubsub = settings
        .webpubsub
        .as_ref()
        .map_or(0, |webpubsub| webpubsub.endpoints.len());
    let _ = writeln!(
        out,
        "configuration: loaded, {} endpoint(s)",
        settings.endpoints.len() + webpubsub
    );
    if offline {
        let _ = writeln!(
            out,
            "offline: nothing is sent over the network (no health probe, no token from the service, no proof \
            that the service takes the tokens)"
        );
    }
    for warning in &settings.warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
    settings_in_effect(out, env);
    let caller = app.callers().sample(user);
    if let Some(user) = user {
        sample_user(&mut report.out, user, &caller);
    }
    let hub_name = HubName::parse(hub);
    let now = unix_now();
    for negotiator in app.negotiators() {
        let service = negotiator.contract().service();
        for (index, endpoint) in negotiator.endpoints().enumerate() {
            let name = display_name(endpoint.name());
            let _ = writeln!(
                report.out,
                "\n{} endpoint {name} ({}), from {}",
                service.short_name(),
                endpoint.endpoint_type(),
                endpoint.source()
            );
            report.line("endpoint:", endpoint.endpoint_url());
            report.line("clients to:", clients_to(negotiator.contract(), endpoint));
            report.line("server:", endpoint.server_base());
            report.line("auth:", auth_kind(endpoint.auth(), settings.entra_mode));
            let entra = negotiator.issuer(index).and_then(TokenIssuer::entra);
            if let Some(entra) = entra {
                entra_target(&mut report, entra.target(), endpoint.auth());
            }
            match &http {
                None if offline => report.line("health:", "not probed (--offline)"),
                None => report.problem("health:", "no HTTP client"),
                Some(http) => match crate::endpoints::probe(http, &health_url(service, endpoint.server_base())).await {
                    Ok(()) => report.line("health:", "ok"),
                    Err(why) => report.problem("health:", why),
                },
            }
            if offline && entra.is_some() {
                report.line(
                    "sample:",
                    "not made (--offline: the service makes or signs a Microsoft Entra endpoint's tokens)",
                );
                continue;
            }
            let Ok(caller) = &caller else {
                report.line("sample:", "none: such a caller gets a 401 (above)");
                continue;
            };
            let sample = match &hub_name {
                Ok(hub) => {
                    let deadline = tokio::time::Instant::now() + app.upstream_deadline();
                    negotiator.negotiate_on(index, hub, caller, now, deadline).await
                }
                Err(error) => Err(NegotiateError::Hub(*error)),
            };
            match &sample {
                Ok(negotiated) => {
                    let _ = writeln!(
                        report.out,
                        "  sample for hub {hub}{}:",
                        user.map(|u| format!(", user {u}")).unwrap_or_default()
                    );
                    // A Web PubSub URL carries the token: shown without it, as the token is.
                    let _ = writeln!(report.out, "    url:    {}", negotiated.response.url_without_token());
                    let mut parts = negotiated.response.access_token.split('.');
                    for label in ["header", "claims"] {
                        let decoded = parts
                            .next()
                            .and_then(|part| URL_SAFE_NO_PAD.decode(part).ok())
                            .and_then(|json| serde_json::from_slice::<Value>(&json).ok())
                            .map_or_else(|| "(not JSON)".to_owned(), |value| value.to_string());
                        let _ = writeln!(report.out, "    {label}: {decoded}");
                    }
                }
                Err(error) => {
                    let error = ApiError::from(error);
                    report.problems += 1;
                    report.line(
                        "sample:",
                        format_args!("PROBLEM ({}): {}", error.status.as_u16(), error.message),
                    );
                }
            }
            match (negotiator.contract(), &api) {
                (Contract::WebPubSub(webpubsub), Some(api)) => {
                    connect::prove(&mut report, api, endpoint, webpubsub.protocol, &sample).await;
                }
                (Contract::SignalR, Some(api)) => {
                    let proving = proof::Proving {
                        api,
                        endpoint,
                        entra,
                        mode: settings.entra_mode,
                        lifetime_secs: settings.token_policy.lifetime_secs,
                        now,
                    };
                    proving.prove(&mut report, &sample).await;
                }
                (_, None) => {}
            }
        }
    }

    firewall::report(&mut report.out, settings);
    let result = if report.problems == 0 {
        "result: OK".to_owned()
    } else {
        format!("result: {} problem(s)", report.problems)
    };
    let _ = writeln!(report.out, "\n{result}");
    print!("{}", report.out);
    if report.problems == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Where clients of an endpoint connect, with placeholders for what varies.
fn clients_to(contract: &Contract, endpoint: &ServiceEndpoint) -> String {
    match contract {
        Contract::SignalR => endpoint.client_url("{hub}", "{id}"),
        Contract::WebPubSub(webpubsub) => match webpubsub.access(endpoint, "{hub}", "{token}") {
            (url, ClientAccess::SocketIo { path }) => format!("{url} (Socket.IO path {path})"),
            (url, _) => url,
        },
    }
}

/// What `--user` gives when it is not one user id: `[a b]` (an array as API Gateway flattens
/// it) is several values, which name no one.
fn sample_user(out: &mut String, user: &str, caller: &Result<Caller, Unauthorized>) {
    let _ = match caller {
        Ok(caller) if caller.user_id.is_none() => writeln!(
            out,
            "user {user}: several values (or none) of the user id claim: no user id, so such a caller's token has \
            none; with {}=true it gets a 401",
            AUTH_REQUIRED.name
        ),
        Err(refused) => writeln!(out, "user {user}: such a caller gets a 401: {refused}"),
        Ok(_) => Ok(()),
    };
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
fn entra_target(report: &mut Report, target: &EntraTarget, auth: &Authentication) {
    let from = |overridden: bool, setting: &str| {
        if overridden {
            format!(" (from {setting})")
        } else {
            " (from the cloud)".to_owned()
        }
    };
    report.line("cloud:", format_args!("{} (from the host of Endpoint)", target.cloud));
    report.line(
        "scope:",
        format_args!("{}{}", target.scope, from(target.scope_overridden, ENTRA_SCOPE.name)),
    );
    let authority = if matches!(
        auth,
        Authentication::MicrosoftEntra(EntraCredential::ManagedIdentity { .. })
    ) {
        " (not used: a managed identity asks its local endpoint)".to_owned()
    } else {
        from(target.authority_overridden, AUTHORITY_HOST.name)
    };
    report.line("authority:", format_args!("{}{authority}", target.authority_host));
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
