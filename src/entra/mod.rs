//! Microsoft Entra ID: the credential an endpoint's `AuthType` names, and its tokens for the
//! SignalR service, with the scope and authority of the endpoint's cloud (see [`cloud`]).
//!
//! Credentials come from `azure_identity`. Their tokens are held here (not every credential
//! caches its own, and one that does lets concurrent first callers each ask in turn): one
//! request is in flight at a time, each caller waits for it until its own deadline at the
//! latest, and a held token is refreshed in the background before it expires. Credentials send
//! through the process's one HTTP client, with at most one retry of their own.

mod certificate;
mod cloud;
mod default_chain;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use azure_core::cloud::CustomConfiguration;
use azure_core::credentials::{Secret as AzureSecret, TokenCredential};
use azure_core::http::{ClientOptions, FixedRetryOptions, RetryOptions, Transport};
use azure_core::time::OffsetDateTime;
use azure_identity::{
    ClientAssertionCredential, ClientAssertionCredentialOptions, ClientSecretCredential, ClientSecretCredentialOptions,
    ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId,
};
use tokio::time::{Instant, timeout_at};

use crate::endpoints::EntraCredential;
use crate::fetch_cache::{FetchCache, Held, Missed};
use certificate::{Certificate, CertificateAssertion, CertificateError};
pub use cloud::{EntraOverrides, EntraTarget};
pub use default_chain::ChainSettings;
use default_chain::DefaultChain;

/// Why an endpoint's credential cannot be built (found at start; the start is refused naming
/// the endpoint's setting).
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// An Entra endpoint, and no HTTP client to reach Microsoft Entra ID with.
    #[error("no HTTP client for Microsoft Entra ID")]
    NoHttpClient,
    /// azure_identity refused to build the credential (a malformed tenant id, …).
    #[error("{credential}: {source}")]
    NotBuilt {
        /// The credential's name (`ClientSecretCredential`, …).
        credential: &'static str,
        /// azure_identity's reason.
        source: azure_core::Error,
    },
    /// The certificate file `ClientCert` names cannot sign assertions.
    #[error("{key}: {0}", key = certificate::KEY)]
    Certificate(#[from] CertificateError),
    /// `AZURE_FEDERATED_TOKEN_FILE` names what can never be a token file.
    #[error("AZURE_FEDERATED_TOKEN_FILE: the token file {0}")]
    TokenFile(crate::setting_file::FileError),
}

impl CredentialError {
    fn not_built(credential: &'static str) -> impl FnOnce(azure_core::Error) -> Self {
        move |source| Self::NotBuilt { credential, source }
    }
}

/// Getting a token failed: the credential is named; `detail` is for the log only.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{credential} could not get a Microsoft Entra token for the service")]
pub struct EntraError {
    /// The credential's name (`ManagedIdentityCredential`, …).
    pub credential: &'static str,
    /// What went wrong (see [`describe`]), for the log only: it may name internal addresses.
    pub detail: String,
}

/// Why a caller got no Entra token.
#[derive(Debug, Clone)]
pub enum NoToken {
    /// The credential failed.
    Failed(EntraError),
    /// No token within the caller's deadline.
    Late,
}

/// How long before its expiry a held token is refreshed, in the background. As azure_identity's
/// own cache (`cache.rs`, `should_refresh`): no sooner, or the credential would give back the
/// token it holds.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);
/// A held token with less left than this is not used: callers wait for a fresh one.
const USABLE_BEFORE_EXPIRY: Duration = Duration::from_secs(60);
/// The shortest time between the starts of two background refreshes (while they fail).
const REFRESH_RETRY: Duration = Duration::from_secs(30);
/// How long a background refresh may take: as long as the credential's own retries may.
const REFRESH_LIMIT: Duration = Duration::from_secs(10);

/// A token for the SignalR service, and how long it had left when it came.
pub struct EntraToken {
    secret: AzureSecret,
    lifetime: Duration,
}

impl EntraToken {
    /// The bearer token.
    pub fn secret(&self) -> &str {
        self.secret.secret()
    }

    /// How long a token fetched `age` ago has left.
    fn left(&self, age: Duration) -> Duration {
        self.lifetime.saturating_sub(age)
    }
}

/// One endpoint's source of Entra tokens.
pub struct EntraTokenSource {
    name: &'static str,
    credential: Arc<dyn TokenCredential>,
    target: EntraTarget,
    tokens: FetchCache<EntraToken, NoToken>,
    /// When the last background refresh started.
    refreshed: Mutex<Option<Instant>>,
}

impl fmt::Debug for EntraTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntraTokenSource")
            .field("credential", &self.name)
            .field("target", &self.target)
            .finish()
    }
}

impl EntraTokenSource {
    /// Builds the credential `AuthType` asks for, for the cloud `target` describes, sending
    /// through `http`.
    pub fn new(
        credential: &EntraCredential,
        target: EntraTarget,
        http: &reqwest::Client,
    ) -> Result<Self, CredentialError> {
        let options = client_options(http, &target.authority_host);
        let (name, credential): (&'static str, Arc<dyn TokenCredential>) = match credential {
            EntraCredential::Default { client_id } => (
                "DefaultAzureCredential",
                Arc::new(DefaultChain::new(
                    client_id.as_deref(),
                    &target.default_chain,
                    &options,
                )?),
            ),
            EntraCredential::ManagedIdentity { client_id } => (
                "ManagedIdentityCredential",
                managed_identity(client_id.as_deref(), &options)?,
            ),
            EntraCredential::ClientSecret {
                tenant_id,
                client_id,
                client_secret,
            } => {
                let credential = ClientSecretCredential::new(
                    tenant_id,
                    client_id.clone(),
                    AzureSecret::new(client_secret.expose().to_owned()),
                    Some(ClientSecretCredentialOptions {
                        client_options: options,
                    }),
                )
                .map_err(CredentialError::not_built("ClientSecretCredential"))?;
                ("ClientSecretCredential", credential)
            }
            EntraCredential::ClientCertificate {
                tenant_id,
                client_id,
                certificate_path,
            } => {
                let assertion = CertificateAssertion {
                    certificate: Certificate::read(certificate_path)?,
                    client_id: client_id.clone(),
                    // Where azure_identity sends it: `{authority}/{tenant}/oauth2/v2.0/token`.
                    audience: format!("{}/{tenant_id}/oauth2/v2.0/token", target.authority_host),
                };
                let credential = ClientAssertionCredential::new(
                    tenant_id.clone(),
                    client_id.clone(),
                    assertion,
                    Some(ClientAssertionCredentialOptions {
                        client_options: options,
                    }),
                )
                .map_err(CredentialError::not_built("ClientCertificateCredential"))?;
                ("ClientCertificateCredential", credential)
            }
        };
        Ok(Self::with_credential(name, credential, target))
    }

    fn with_credential(name: &'static str, credential: Arc<dyn TokenCredential>, target: EntraTarget) -> Self {
        Self {
            name,
            credential,
            target,
            tokens: FetchCache::default(),
            refreshed: Mutex::new(None),
        }
    }

    /// The cloud, scope and authority this source asks Entra for.
    pub fn target(&self) -> &EntraTarget {
        &self.target
    }

    /// The credential's name, for errors and logs.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// A bearer token for the SignalR service: the one held, or the one in flight (or one asked
    /// for now), waited for until `deadline` at the latest.
    pub async fn token(&self, deadline: Instant) -> Result<Arc<EntraToken>, NoToken> {
        if let Some(held) = self.tokens.held() {
            let left = held.value.left(held.fetched_at.elapsed());
            if left > USABLE_BEFORE_EXPIRY {
                if left <= REFRESH_BEFORE_EXPIRY {
                    self.refresh_in_background();
                }
                return Ok(held.value);
            }
        }
        let usable = |held: &Held<EntraToken>| {
            (held.value.left(held.fetched_at.elapsed()) > USABLE_BEFORE_EXPIRY).then(|| Ok(Arc::clone(&held.value)))
        };
        let missed = |missed| {
            Err(match missed {
                Missed::Failed(no_token) => no_token,
                Missed::NotFound => {
                    let detail = "the token it gave expires within a minute";
                    tracing::warn!(credential = self.name, detail, "Microsoft Entra token request failed");
                    NoToken::Failed(EntraError {
                        credential: self.name,
                        detail: detail.to_owned(),
                    })
                }
                Missed::Late => NoToken::Late,
            })
        };
        self.tokens
            .find_or_fetch(deadline, usable, || Ok::<_, Result<_, _>>(self.fetch(deadline)), missed)
            .await
    }

    fn refresh_in_background(&self) {
        {
            let mut refreshed = self.refreshed.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if refreshed.is_some_and(|started| started.elapsed() < REFRESH_RETRY) {
                return;
            }
            *refreshed = Some(Instant::now());
        }
        self.tokens.refresh(|| self.fetch(Instant::now() + REFRESH_LIMIT));
    }

    /// A request for a token, to run on its own until `deadline`; a failure is logged once here,
    /// whoever waits for it.
    fn fetch(&self, deadline: Instant) -> impl Future<Output = Result<EntraToken, NoToken>> + Send + 'static {
        let (credential, scope, name) = (Arc::clone(&self.credential), self.target.scope.clone(), self.name);
        async move {
            let error = match timeout_at(deadline, credential.get_token(&[&scope], None)).await {
                Ok(Ok(token)) => {
                    let lifetime = (token.expires_on - OffsetDateTime::now_utc())
                        .try_into()
                        .unwrap_or(Duration::ZERO);
                    return Ok(EntraToken {
                        secret: token.token,
                        lifetime,
                    });
                }
                Ok(Err(error)) => EntraError {
                    credential: name,
                    detail: describe(&error),
                },
                Err(_) => {
                    tracing::warn!(credential = name, "Microsoft Entra token request did not end in time");
                    return Err(NoToken::Late);
                }
            };
            tracing::warn!(
                credential = error.credential,
                detail = %error.detail,
                "Microsoft Entra token request failed"
            );
            Err(NoToken::Failed(error))
        }
    }
}

/// The longest excerpt of an identity endpoint's answer in a log line.
const BODY_EXCERPT_CHARS: usize = 160;
/// The longest error message of a credential in a log line (the default chain lists several).
const MESSAGE_CHARS: usize = 1200;

/// A credential's error, for the log. An identity endpoint's answer is told by its status and
/// a short excerpt of its body, not the whole body that azure_identity puts in the message: the
/// body is the endpoint's, and can be large, span lines, carry terminal escapes or echo what
/// it was sent. Any other error is its message, cleaned and bounded the same way.
pub(crate) fn describe(error: &azure_core::Error) -> String {
    let mut current = Some(error);
    while let Some(error) = current {
        if let azure_core::error::ErrorKind::HttpResponse {
            status, raw_response, ..
        } = error.kind()
        {
            let body = raw_response
                .as_ref()
                .map(|response| String::from_utf8_lossy(response.body()))
                .unwrap_or_default();
            return format!(
                "the identity endpoint answered {status}: {}",
                excerpt(&body, BODY_EXCERPT_CHARS)
            );
        }
        current = error.downcast_ref::<azure_core::Error>();
    }
    excerpt(&error.to_string(), MESSAGE_CHARS)
}

/// `text` as one line of printable ASCII (any other character, control characters included,
/// as `?`; each run of whitespace as one space), cut at `limit` characters with `…`.
pub(crate) fn excerpt(text: &str, limit: usize) -> String {
    let mut out = String::with_capacity(text.len().min(limit + 3));
    let mut chars = 0;
    let mut space = false;
    for c in text.trim().chars() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if chars + usize::from(space) + 1 > limit {
            out.push('…');
            return out;
        }
        if space {
            out.push(' ');
            chars += 1;
            space = false;
        }
        out.push(if c.is_ascii_graphic() { c } else { '?' });
        chars += 1;
    }
    out
}

/// Client options for every credential: our HTTP client, the authority host (a custom cloud
/// configuration, so that the process environment's `AZURE_AUTHORITY_HOST` is read only through
/// the settings), one quick retry.
fn client_options(http: &reqwest::Client, authority_host: &str) -> ClientOptions {
    let mut cloud = CustomConfiguration::default();
    cloud.authority_host = authority_host.to_owned();
    ClientOptions {
        transport: Some(Transport::new(Arc::new(http.clone()))),
        cloud: Some(Arc::new(cloud.into())),
        retry: RetryOptions::fixed(FixedRetryOptions {
            delay: azure_core::time::Duration::milliseconds(200),
            max_retries: 1,
            max_total_elapsed: azure_core::time::Duration::seconds(10),
        }),
        ..ClientOptions::default()
    }
}

pub(crate) fn managed_identity(
    client_id: Option<&str>,
    options: &ClientOptions,
) -> Result<Arc<dyn TokenCredential>, CredentialError> {
    let credential = ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
        user_assigned_id: client_id.map(|id| UserAssignedId::ClientId(id.to_owned())),
        client_options: options.clone(),
    }))
    .map_err(CredentialError::not_built("ManagedIdentityCredential"))?;
    Ok(credential)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::product::Service;
    use crate::secret::Secret;

    fn public() -> EntraTarget {
        EntraTarget::for_host(Service::SignalR, "demo.service.signalr.net", &EntraOverrides::default())
    }

    /// A credential that counts its requests, each answered after `delay` with a token that
    /// expires `lifetime` seconds later.
    #[derive(Debug)]
    struct Counting {
        requests: std::sync::atomic::AtomicUsize,
        delay: Duration,
        lifetime: i64,
    }

    #[async_trait::async_trait]
    impl TokenCredential for Counting {
        async fn get_token(
            &self,
            _scopes: &[&str],
            _options: Option<azure_core::credentials::TokenRequestOptions<'_>>,
        ) -> azure_core::Result<azure_core::credentials::AccessToken> {
            let n = self.requests.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            tokio::time::sleep(self.delay).await;
            let expires_on = OffsetDateTime::now_utc() + azure_core::time::Duration::seconds(self.lifetime);
            Ok(azure_core::credentials::AccessToken::new(
                format!("token-{n}"),
                expires_on,
            ))
        }
    }

    fn counting(delay_ms: u64, lifetime: i64) -> (Arc<EntraTokenSource>, Arc<Counting>) {
        let credential = Arc::new(Counting {
            requests: Default::default(),
            delay: Duration::from_millis(delay_ms),
            lifetime,
        });
        let source = EntraTokenSource::with_credential("Counting", credential.clone(), public());
        (Arc::new(source), credential)
    }

    fn requests(credential: &Counting) -> usize {
        credential.requests.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn in_ms(millis: u64) -> Instant {
        Instant::now() + Duration::from_millis(millis)
    }

    #[tokio::test]
    async fn concurrent_first_callers_share_one_request() {
        let (source, credential) = counting(100, 3600);
        let callers: Vec<_> = (0..8)
            .map(|_| {
                let source = Arc::clone(&source);
                tokio::spawn(async move { source.token(in_ms(5_000)).await.map(|t| t.secret().to_owned()) })
            })
            .collect();
        for caller in callers {
            assert_eq!(caller.await.unwrap().unwrap(), "token-1");
        }
        assert_eq!(requests(&credential), 1);
        assert_eq!(source.token(in_ms(0)).await.unwrap().secret(), "token-1", "held");
    }

    #[tokio::test]
    async fn a_hanging_credential_is_asked_once_and_no_caller_waits_past_its_deadline() {
        let (source, credential) = counting(60_000, 3600);
        let started = Instant::now();
        let callers: Vec<_> = [100, 200, 300]
            .into_iter()
            .map(|millis| {
                let source = Arc::clone(&source);
                tokio::spawn(async move {
                    let deadline = started + Duration::from_millis(millis);
                    let late = matches!(source.token(deadline).await, Err(NoToken::Late));
                    (late, Instant::now() - deadline)
                })
            })
            .collect();
        for caller in callers {
            let (late, after_deadline) = caller.await.unwrap();
            assert!(late);
            assert!(after_deadline < Duration::from_millis(500), "{after_deadline:?}");
        }
        assert_eq!(requests(&credential), 1);
    }

    /// A token with under five minutes left is still used, while one request for the next runs
    /// in the background (and no other starts for 30 s).
    #[tokio::test]
    async fn a_token_near_its_expiry_is_used_while_it_is_refreshed() {
        let (source, credential) = counting(50, 200);
        assert_eq!(source.token(in_ms(5_000)).await.unwrap().secret(), "token-1");
        for _ in 0..5 {
            assert_eq!(source.token(in_ms(0)).await.unwrap().secret(), "token-1");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(requests(&credential), 2, "one refresh");
        assert_eq!(source.token(in_ms(0)).await.unwrap().secret(), "token-2");
        assert_eq!(requests(&credential), 2, "the next waits 30 s");
    }

    #[tokio::test]
    async fn a_token_about_to_expire_is_not_used() {
        let (source, _) = counting(0, 30);
        let Err(NoToken::Failed(error)) = source.token(in_ms(5_000)).await else {
            panic!("a token with 30 s left was used")
        };
        assert_eq!(error.credential, "Counting");
    }

    #[test]
    fn excerpts_are_one_bounded_line_of_printable_text() {
        assert_eq!(excerpt("  a\r\n\tb  c ", 10), "a b c");
        assert_eq!(excerpt("\u{1b}[31mred\u{7}é", 20), "?[31mred??");
        assert_eq!(excerpt("abcdefgh", 8), "abcdefgh");
        assert_eq!(excerpt("abcdefghi", 8), "abcdefgh…");
        assert_eq!(excerpt("abc defgh", 4), "abc…");
        assert_eq!(excerpt("", 4), "");
    }

    #[test]
    fn an_http_answer_is_its_status_and_an_excerpt_of_its_body() {
        use azure_core::http::{RawResponse, StatusCode};
        let body = format!("{{\"error\":\"invalid_request\"}}\nFORGED{}", "x".repeat(10_000));
        let answer = azure_core::Error::new(
            azure_core::error::ErrorKind::HttpResponse {
                status: StatusCode::BadRequest,
                error_code: None,
                raw_response: Some(Box::new(RawResponse::from_bytes(
                    StatusCode::BadRequest,
                    Default::default(),
                    body.clone(),
                ))),
            },
            format!("The request failed: {body}"),
        );
        // As azure_identity wraps it: a credential error around the HTTP one.
        let wrapped = azure_core::Error::with_error(
            azure_core::error::ErrorKind::Credential,
            answer,
            format!("ManagedIdentityCredential authentication failed. The request failed: {body}"),
        );
        let described = describe(&wrapped);
        assert!(
            described.starts_with("the identity endpoint answered 400: {\"error\":\"invalid_request\"} FORGED"),
            "{described}"
        );
        assert_eq!(
            described.chars().count(),
            "the identity endpoint answered 400: ".len() + BODY_EXCERPT_CHARS + 1
        );
        let other = azure_core::Error::with_message(azure_core::error::ErrorKind::Io, "line\none");
        assert_eq!(describe(&other), "line one");
    }

    #[test]
    fn a_certificate_credential_is_built_from_its_file_and_named() {
        let source = EntraTokenSource::new(
            &EntraCredential::ClientCertificate {
                tenant_id: "t".into(),
                client_id: "c".into(),
                certificate_path: concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/fixtures/app.pem").into(),
            },
            public(),
            &reqwest::Client::new(),
        )
        .unwrap();
        assert_eq!(source.name(), "ClientCertificateCredential");
        assert!(!format!("{source:?}").contains("PRIVATE"));
    }

    #[test]
    fn an_unreadable_certificate_is_refused_naming_the_key() {
        let error = EntraTokenSource::new(
            &EntraCredential::ClientCertificate {
                tenant_id: "t".into(),
                client_id: "c".into(),
                certificate_path: "/x.pem".into(),
            },
            public(),
            &reqwest::Client::new(),
        )
        .unwrap_err();
        assert!(
            error.to_string().starts_with(
                "ClientCert (ClientCertPath) in the connection string: the certificate file could not be read"
            ),
            "{error}"
        );
    }

    #[test]
    fn client_secret_credential_is_built_and_named() {
        let source = EntraTokenSource::new(
            &EntraCredential::ClientSecret {
                tenant_id: "72f988bf-86f1-41af-91ab-2d7cd011db47".into(),
                client_id: "c".into(),
                client_secret: Secret::new("s3cret-value"),
            },
            EntraTarget::for_host(Service::SignalR, "demo.signalr.azure.cn", &EntraOverrides::default()),
            &reqwest::Client::new(),
        )
        .unwrap();
        assert_eq!(source.name(), "ClientSecretCredential");
        assert_eq!(source.target().scope, "https://signalr.azure.cn/.default");
        assert!(!format!("{source:?}").contains("s3cret-value"));
    }

    #[test]
    fn every_credential_sends_through_our_client_to_the_targets_authority_with_one_retry() {
        let options = client_options(&reqwest::Client::new(), "https://login.chinacloudapi.cn");
        assert!(options.transport.is_some(), "our HTTP client");
        let Some(cloud) = options.cloud.as_deref() else {
            panic!("no cloud configuration")
        };
        let azure_core::cloud::CloudConfiguration::Custom(custom) = cloud else {
            panic!("{cloud:?}")
        };
        assert_eq!(custom.authority_host, "https://login.chinacloudapi.cn");
        let retry = format!("{:?}", options.retry);
        assert!(retry.contains("max_retries: 1"), "{retry}");
    }

    #[test]
    fn the_debug_print_names_the_credential_and_target() {
        let source = EntraTokenSource::new(
            &EntraCredential::ManagedIdentity { client_id: None },
            EntraTarget::for_host(Service::SignalR, "demo.signalr.azure.us", &EntraOverrides::default()),
            &reqwest::Client::new(),
        )
        .unwrap();
        let printed = format!("{source:?}");
        assert!(
            printed.contains("ManagedIdentityCredential") && printed.contains("https://signalr.azure.us/.default"),
            "{printed}"
        );
    }

    #[test]
    fn a_malformed_tenant_is_refused_at_start() {
        let error = EntraTokenSource::new(
            &EntraCredential::ClientSecret {
                tenant_id: "not a tenant/..".into(),
                client_id: "c".into(),
                client_secret: Secret::new("s"),
            },
            public(),
            &reqwest::Client::new(),
        )
        .unwrap_err();
        assert!(error.to_string().starts_with("ClientSecretCredential:"), "{error}");
    }
}
