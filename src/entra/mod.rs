//! Microsoft Entra ID: the credential an endpoint's `AuthType` names, and its tokens for the
//! SignalR service (scope `https://signalr.azure.com/.default`).
//!
//! Credentials come from `azure_identity` and cache their tokens until shortly before expiry,
//! so a token is fetched once, not per request. They send through the process's one HTTP
//! client, with at most one retry of their own; the caller bounds the whole wait.

mod default_chain;

use std::fmt;
use std::sync::Arc;

use azure_core::credentials::{Secret as AzureSecret, TokenCredential};
use azure_core::http::{ClientOptions, FixedRetryOptions, RetryOptions, Transport};
use azure_identity::{
    ClientSecretCredential, ClientSecretCredentialOptions, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
    UserAssignedId,
};

use crate::endpoints::EntraCredential;
use default_chain::DefaultChain;

/// The scope of tokens for Azure SignalR Service.
pub const SIGNALR_SCOPE: &str = "https://signalr.azure.com/.default";

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
}

impl fmt::Debug for EntraTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntraTokenSource")
            .field("credential", &self.name)
            .finish()
    }
}

impl EntraTokenSource {
    /// Builds the credential `AuthType` asks for, sending through `http`.
    pub fn new(credential: &EntraCredential, http: &reqwest::Client) -> Result<Self, CredentialError> {
        let options = client_options(http);
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
            EntraCredential::ClientCertificate { .. } => {
                return Err(CredentialError(
                    "client certificates (ClientCert) are not supported in this build (it carries no OpenSSL); use ClientSecret or a managed identity".to_owned(),
                ));
            }
        };
        Ok(Self { name, credential })
    }

    /// The credential's name, for errors and logs.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// A bearer token for the SignalR service (cached by the credential).
    pub async fn token(&self) -> Result<AzureSecret, EntraError> {
        self.credential
            .get_token(&[SIGNALR_SCOPE], None)
            .await
            .map(|token| token.token)
            .map_err(|error| EntraError {
                credential: self.name,
                detail: error.to_string(),
            })
    }
}

/// Client options for every credential: our HTTP client, one quick retry.
fn client_options(http: &reqwest::Client) -> ClientOptions {
    ClientOptions {
        transport: Some(Transport::new(Arc::new(http.clone()))),
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

    #[test]
    fn certificates_are_refused_with_a_clear_message() {
        let error = EntraTokenSource::new(
            &EntraCredential::ClientCertificate {
                tenant_id: "t".into(),
                client_id: "c".into(),
                certificate_path: "/x.pem".into(),
            },
            &reqwest::Client::new(),
        )
        .unwrap_err();
        assert!(
            error
                .0
                .contains("client certificates (ClientCert) are not supported in this build"),
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
            &reqwest::Client::new(),
        )
        .unwrap();
        assert_eq!(source.name(), "ClientSecretCredential");
        assert!(!format!("{source:?}").contains("s3cret-value"));
    }

    #[test]
    fn a_malformed_tenant_is_refused_at_start() {
        let error = EntraTokenSource::new(
            &EntraCredential::ClientSecret {
                tenant_id: "not a tenant/..".into(),
                client_id: "c".into(),
                client_secret: Secret::new("s"),
            },
            &reqwest::Client::new(),
        )
        .unwrap_err();
        assert!(error.0.starts_with("ClientSecretCredential:"), "{error}");
    }
}
