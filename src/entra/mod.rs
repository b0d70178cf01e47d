//! Microsoft Entra ID: the credential an endpoint's `AuthType` names, and its tokens for the
//! SignalR service, with the scope and authority of the endpoint's cloud (see [`cloud`]).
//!
//! Credentials come from `azure_identity` and cache their tokens until shortly before expiry,
//! so a token is fetched once, not per request. They send through the process's one HTTP
//! client, with at most one retry of their own; the caller bounds the whole wait.

mod certificate;
mod cloud;
mod default_chain;

use std::fmt;
use std::sync::Arc;

use azure_core::cloud::CustomConfiguration;
use azure_core::credentials::{Secret as AzureSecret, TokenCredential};
use azure_core::http::{ClientOptions, FixedRetryOptions, RetryOptions, Transport};
use azure_identity::{
    ClientAssertionCredential, ClientAssertionCredentialOptions, ClientSecretCredential, ClientSecretCredentialOptions,
    ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId,
};

use crate::endpoints::EntraCredential;
use certificate::{Certificate, CertificateAssertion};
pub use cloud::{EntraOverrides, EntraTarget};
use default_chain::DefaultChain;

/// A credential that cannot be built here (found at start, named in the error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CredentialError(pub String);

/// Getting a token failed; `credential` names which one, `detail` is for the log only.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{credential} could not get a Microsoft Entra token: {detail}")]
pub struct EntraError {
    /// The credential's name (`ManagedIdentityCredential`, …).
    pub credential: &'static str,
    /// What went wrong, for the log only (it may name internal addresses).
    pub detail: String,
}

/// One endpoint's source of Entra tokens.
pub struct EntraTokenSource {
    name: &'static str,
    credential: Arc<dyn TokenCredential>,
    target: EntraTarget,
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
                Arc::new(DefaultChain::new(client_id.as_deref(), &options)),
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
                .map_err(|error| CredentialError(format!("ClientSecretCredential: {error}")))?;
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
                .map_err(|error| CredentialError(format!("ClientCertificateCredential: {error}")))?;
                ("ClientCertificateCredential", credential)
            }
        };
        Ok(Self {
            name,
            credential,
            target,
        })
    }

    /// The cloud, scope and authority this source asks Entra for.
    pub fn target(&self) -> &EntraTarget {
        &self.target
    }

    /// The credential's name, for errors and logs.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// A bearer token for the SignalR service (cached by the credential).
    pub async fn token(&self) -> Result<AzureSecret, EntraError> {
        self.credential
            .get_token(&[&self.target.scope], None)
            .await
            .map(|token| token.token)
            .map_err(|error| EntraError {
                credential: self.name,
                detail: error.to_string(),
            })
    }
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
    .map_err(|error| CredentialError(format!("ManagedIdentityCredential: {error}")))?;
    Ok(credential)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn public() -> EntraTarget {
        EntraTarget::for_host("demo.service.signalr.net", &EntraOverrides::default())
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
            error.0.starts_with(
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
            EntraTarget::for_host("demo.signalr.azure.cn", &EntraOverrides::default()),
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
            EntraTarget::for_host("demo.signalr.azure.us", &EntraOverrides::default()),
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
        assert!(error.0.starts_with("ClientSecretCredential:"), "{error}");
    }
}
