//! The proof that the service takes an endpoint's tokens, after its sample: the sample token
//! presented to the service's client negotiate as the official client presents it (through
//! `ClientEndpoint`, and through `Endpoint` when that one fails), the server side's authority
//! (the REST API's users call signed with the access key; with Microsoft Entra ID, the sample's
//! own call), and the service's clock against this machine's (see [`super::clock`]). Each
//! problem is one line that says what to change.

use super::Report;
use super::clock::clock;
use crate::endpoints::{Authentication, EntraCredential, ServiceEndpoint};
use crate::entra::EntraTokenSource;
use crate::negotiator::{NegotiateError, Negotiated};
use crate::service::{NegotiateAnswerError, ServiceApi, UpstreamError, UserProbe, check_negotiate_body, negotiate_url};
use crate::tokens::{AccessKey, EntraMode, IssueError, sign_server_token};

/// `nameid` of the server token (the SDK names its server `{MachineName}_{guid}`).
const SERVER_NAME: &str = "signalr-negotiate-check";
/// Lifetime of the server token: one call.
const SERVER_TOKEN_SECS: u64 = 300;

/// One endpoint, and what proving it needs.
pub(super) struct Proving<'a> {
    pub api: &'a ServiceApi,
    pub endpoint: &'a ServiceEndpoint,
    /// The endpoint's source of Microsoft Entra tokens, when it uses Entra ID.
    pub entra: Option<&'a EntraTokenSource>,
    pub mode: EntraMode,
    /// The configured lifetime of a client token.
    pub lifetime_secs: u64,
    /// When the sample was made (seconds since the epoch).
    pub now: u64,
}

/// Why the service did not take a client negotiate.
enum Failure {
    /// No answer.
    Upstream(UpstreamError),
    /// 401, with the reason its challenge gives.
    Refused(Option<String>),
    /// Another status, with an excerpt of the body.
    Status(u16, String),
    /// A 200 that the client could not connect with.
    Body(NegotiateAnswerError),
}

/// What a refusal's reason points at (the JwtBearer texts the service sends).
#[derive(Debug, PartialEq, Eq)]
enum Reason {
    /// "The signature key was not found", "The signature is invalid".
    Key,
    /// "The audience is invalid".
    Audience,
    /// "The token expired at …", "The token is not valid before …".
    Lifetime,
    Other,
}

fn reason(text: Option<&str>) -> Reason {
    let text = text.unwrap_or_default().to_ascii_lowercase();
    if text.contains("signature") {
        Reason::Key
    } else if text.contains("audience") {
        Reason::Audience
    } else if ["expired", "lifetime", "not valid before", "not yet valid"]
        .iter()
        .any(|word| text.contains(word))
    {
        Reason::Lifetime
    } else {
        Reason::Other
    }
}

/// `(401)` or `(401: the reason)`.
fn status_and_reason(status: u16, text: Option<&str>) -> String {
    match text.filter(|text| !text.is_empty()) {
        Some(text) => format!("({status}: {text})"),
        None => format!("({status})"),
    }
}

impl Proving<'_> {
    /// Writes the endpoint's proof lines.
    pub async fn prove(&self, report: &mut Report, sample: &Result<Negotiated<'_>, NegotiateError>) {
        let negotiated = match sample {
            Ok(negotiated) => negotiated,
            Err(error) => {
                // The sample's line says why there is no token; a refused identity is told here.
                if !self.identity_refused(report, error) {
                    report.line("negotiate:", "not tried (no sample token)");
                }
                return;
            }
        };
        let mut skew = None;
        self.negotiate(report, negotiated, &mut skew).await;
        match self.endpoint.auth() {
            Authentication::AccessKey(secret) => {
                let key = AccessKey::new(secret.expose());
                self.rest_api(report, &key, &negotiated.service_hub, &mut skew).await;
            }
            Authentication::MicrosoftEntra(_) => report.line(
                "REST API:",
                match self.mode {
                    EntraMode::GenerateToken => {
                        "ok: the service made the sample token for the identity (generateToken)"
                    }
                    EntraMode::AccessKey => "ok: the service gave the identity its signing key (auth/accessKey)",
                },
            ),
        }
        clock(report, skew, self.lifetime_secs);
    }

    /// The client negotiate with the sample token, through the URL clients get; when that fails
    /// and `ClientEndpoint` moved it, through `Endpoint` too, to tell the two apart.
    async fn negotiate(&self, report: &mut Report, negotiated: &Negotiated<'_>, skew: &mut Option<i64>) {
        let url = &negotiated.response.url;
        let token = negotiated.response.access_token.as_str();
        let Some(failure) = self.attempt(url, token, skew).await else {
            report.line(
                "negotiate:",
                format_args!(
                    "ok: the service took the sample token (POST {} answered 200)",
                    post_target(url)
                ),
            );
            return;
        };
        if let Some(direct) = self.through_endpoint(url) {
            if self.attempt(&direct, token, skew).await.is_none() {
                report.problem(
                    "negotiate:",
                    format_args!(
                        "through ClientEndpoint, {}; through Endpoint the service took it: ClientEndpoint in {} does \
                        not lead to this resource (another resource's URL, or a proxy that routes elsewhere): correct \
                        it or remove it",
                        describe(&failure, url),
                        self.endpoint.source()
                    ),
                );
                return;
            }
        }
        let advice = self.advise(&failure, negotiated);
        report.problem("negotiate:", format_args!("{}{advice}", describe(&failure, url)));
    }

    /// `None` when the service took the token.
    async fn attempt(&self, url: &str, token: &str, skew: &mut Option<i64>) -> Option<Failure> {
        let answer = match self.api.client_negotiate(url, token).await {
            Ok(answer) => answer,
            Err(error) => return Some(Failure::Upstream(error)),
        };
        if skew.is_none() {
            *skew = answer.clock_skew;
        }
        match answer.status {
            200 => check_negotiate_body(&answer.body).err().map(Failure::Body),
            401 => Some(Failure::Refused(answer.refusal)),
            status => Some(Failure::Status(status, answer.body_excerpt())),
        }
    }

    /// The client URL through `Endpoint`, when `ClientEndpoint` gives another one.
    fn through_endpoint(&self, url: &str) -> Option<String> {
        let (_, query) = url.rsplit_once("/client/?")?;
        let direct = format!("{}/client/?{query}", self.endpoint.endpoint_url());
        (direct != url).then_some(direct)
    }

    /// `: what to change`, for a failure through the URL clients get.
    fn advise(&self, failure: &Failure, negotiated: &Negotiated<'_>) -> String {
        let source = self.endpoint.source();
        let access_key = matches!(self.endpoint.auth(), Authentication::AccessKey(_));
        let client_setting = if self.through_endpoint(&negotiated.response.url).is_some() {
            "ClientEndpoint"
        } else {
            "Endpoint"
        };
        match failure {
            Failure::Refused(text) => match reason(text.as_deref()) {
                Reason::Key if access_key => format!(
                    ": the AccessKey in {source} is not a key of this resource (rotated? copied from another \
                    resource?): copy a current key from the resource's Keys into {source}"
                ),
                Reason::Key => format!(
                    ": the resource at {} made or signed it, and the one clients reach does not take it: ServerEndpoint \
                    and {client_setting} in {source} name different resources",
                    self.endpoint.server_base()
                ),
                Reason::Audience => format!(
                    ": its aud {} is not this resource's: Endpoint in {source} must be the resource's own URL (a proxy \
                    or custom domain goes in ClientEndpoint)",
                    self.endpoint.audience(&negotiated.service_hub)
                ),
                Reason::Lifetime => ": by the service's clock the token is outside its lifetime (see clock)".to_owned(),
                Reason::Other if access_key => format!(": check the AccessKey in {source}"),
                Reason::Other => String::new(),
            },
            Failure::Status(404, _) | Failure::Upstream(_) => format!(
                ": the URL clients get ({client_setting} in {source}) does not reach the SignalR service's client API"
            ),
            Failure::Status(403, _) => {
                ": the resource's network access control may refuse clients from this address".to_owned()
            }
            Failure::Status(429, _) => {
                ": the resource takes no more connections (its connection limit); the token was not judged".to_owned()
            }
            Failure::Status(300..=399, _) => {
                ": a redirect, which is not followed: the URL clients get should be the service's own".to_owned()
            }
            Failure::Status(..) | Failure::Body(_) => String::new(),
        }
    }

    /// The users call, signed with the access key as the SDK's REST client signs it.
    async fn rest_api(&self, report: &mut Report, key: &AccessKey, service_hub: &str, skew: &mut Option<i64>) {
        let server = self.endpoint.server_base();
        let Some(probe) = UserProbe::new(server, self.endpoint.audience_base(), service_hub) else {
            report.problem(
                "REST API:",
                format_args!("{server} is not a URL to call the REST API at"),
            );
            return;
        };
        let token = match sign_server_token(key, probe.audience(), SERVER_NAME, self.now, SERVER_TOKEN_SECS) {
            Ok(token) => token,
            Err(error) => return report.problem("REST API:", error),
        };
        let answer = match self.api.head_user(&probe, &token).await {
            Ok(answer) => answer,
            Err(error) => return report.problem("REST API:", format_args!("{error} at {server}")),
        };
        if skew.is_none() {
            *skew = answer.clock_skew;
        }
        if UserProbe::authorised(&answer) {
            let found = if answer.status == 200 {
                "200"
            } else {
                "404, no such user"
            };
            report.line(
                "REST API:",
                format_args!("ok: {server} took a server token signed with the AccessKey (HEAD users: {found})"),
            );
            return;
        }
        let source = self.endpoint.source();
        let setting = if server == self.endpoint.endpoint_url() {
            "Endpoint"
        } else {
            "ServerEndpoint"
        };
        let refused = |status| {
            format!(
                "{server} refused a server token signed with the AccessKey {}",
                status_and_reason(status, answer.refusal.as_deref())
            )
        };
        let text = match answer.status {
            401 => match reason(answer.refusal.as_deref()) {
                Reason::Key => format!(
                    "{}: the AccessKey in {source} is not a key of the resource at {setting} (rotated? copied from \
                    another resource?)",
                    refused(401)
                ),
                Reason::Audience => format!(
                    "{}: its aud {} is not this resource's: Endpoint in {source} must be the resource's own URL",
                    refused(401),
                    probe.audience()
                ),
                Reason::Lifetime => format!(
                    "{}: by the service's clock the token is outside its lifetime (see clock)",
                    refused(401)
                ),
                Reason::Other => format!(
                    "{}: check the AccessKey in {source}; if the resource has access keys disabled, use a Microsoft \
                    Entra AuthType",
                    refused(401)
                ),
            },
            403 => format!(
                "{}: the resource may have access keys disabled (use a Microsoft Entra AuthType), or its network \
                access control refuses this address",
                refused(403)
            ),
            404 => format!(
                "nothing serves the REST API at {server} (404 without Warning.User.NotExisted): {setting} in {source} \
                is not the resource's URL"
            ),
            status => format!("{server} answered {status} to HEAD {}", probe.url()),
        };
        report.problem("REST API:", text);
    }

    /// When the service refused the identity while making the sample: which identity, and the
    /// role or tenant that would let it. `false` when the sample failed otherwise.
    fn identity_refused(&self, report: &mut Report, error: &NegotiateError) -> bool {
        let (Some(entra), Authentication::MicrosoftEntra(credential)) = (self.entra, self.endpoint.auth()) else {
            return false;
        };
        let NegotiateError::Issue(IssueError::Upstream(UpstreamError::Refused { status, call })) = error else {
            return false;
        };
        let who = identity(credential, entra.name());
        let text = if *status == 403 {
            let (action, roles) = call.permission();
            format!(
                "the service refused {who} (403): it has no role on this resource that grants {action}, which {} mode \
                needs: assign it {roles} (an assignment takes up to 30 minutes to apply)",
                self.mode.name()
            )
        } else {
            format!(
                "the service refused the Microsoft Entra token of {who} ({status}): it is of another tenant than the \
                resource's, or for another audience than {}: check the identity's tenant and SIGNALR_ENTRA_SCOPE",
                entra.target().scope
            )
        };
        report.problem("REST API:", text);
        true
    }
}

/// The identity a credential signs in as, by its client id, and the credential's kind.
fn identity(credential: &EntraCredential, kind: &str) -> String {
    match credential {
        EntraCredential::ManagedIdentity { client_id: None } => {
            format!("the system-assigned managed identity ({kind})")
        }
        EntraCredential::ManagedIdentity { client_id: Some(id) } => {
            format!("the managed identity with client id {id} ({kind})")
        }
        EntraCredential::ClientSecret {
            tenant_id, client_id, ..
        }
        | EntraCredential::ClientCertificate {
            tenant_id, client_id, ..
        } => format!("the app with client id {client_id} in tenant {tenant_id} ({kind})"),
        EntraCredential::Default { client_id: Some(id) } => format!("the identity with client id {id} ({kind})"),
        EntraCredential::Default { client_id: None } => format!("the identity its chain found ({kind})"),
    }
}

/// What failed, in words: `could not reach …`, `the service refused the sample token (401: …)`.
fn describe(failure: &Failure, url: &str) -> String {
    match failure {
        Failure::Upstream(error) => format!("{error} at {}", post_target(url)),
        Failure::Refused(text) => format!(
            "the service refused the sample token {}",
            status_and_reason(401, text.as_deref())
        ),
        Failure::Status(status, body) if body.is_empty() => format!("POST {} answered {status}", post_target(url)),
        Failure::Status(status, body) => format!("POST {} answered {status}: {body}", post_target(url)),
        Failure::Body(error) => format!("POST {} answered 200, but {error}", post_target(url)),
    }
}

/// The client negotiate's URL without its query (the hub and a request id).
fn post_target(url: &str) -> String {
    let mut negotiate = negotiate_url(url);
    if let Some(query) = negotiate.find('?') {
        negotiate.truncate(query);
    }
    negotiate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_read_by_their_reason() {
        assert_eq!(reason(Some("The signature key was not found")), Reason::Key);
        assert_eq!(reason(Some("The signature is invalid")), Reason::Key);
        assert_eq!(reason(Some("The audience is invalid")), Reason::Audience);
        assert_eq!(
            reason(Some("The token expired at '12/06/2026 19:00:00'")),
            Reason::Lifetime
        );
        assert_eq!(
            reason(Some("The token is not valid before '12/06/2026 19:00:00'")),
            Reason::Lifetime
        );
        assert_eq!(reason(Some("The issuer is invalid")), Reason::Other);
        assert_eq!(reason(None), Reason::Other);
    }
}
