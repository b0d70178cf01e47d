//! `AuthType=azure`: the default chain of credentials. azure_identity 1.x has no chain of its
//! own, so this one tries, in order, workload identity, managed identity (when
//! `IDENTITY_ENDPOINT` is set), a client secret from `AZURE_CLIENT_ID`/`AZURE_TENANT_ID`/
//! `AZURE_CLIENT_SECRET`, then the developer tools (Azure CLI, Azure Developer CLI); the first
//! that gives a token is used from then on, and an error lists what was tried. Those variables
//! are settings, read at start ([`ChainSettings`]). Every credential of the chain sends through
//! the process's HTTP client to the authority of the endpoint's cloud (the developer tools use
//! their own sign-in's cloud).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use azure_core::credentials::{AccessToken, Secret as AzureSecret, TokenCredential, TokenRequestOptions};
use azure_core::http::ClientOptions;
use azure_identity::{
    ClientAssertionCredentialOptions, ClientSecretCredential, ClientSecretCredentialOptions, DeveloperToolsCredential,
    WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};

use super::{CredentialError, managed_identity};
use crate::secret::Secret;
use crate::setting_file::{self, FileError};

/// The largest token file accepted (a Kubernetes service account token is a few KiB).
const MAX_TOKEN_FILE_LEN: u64 = 64 * 1024;

/// What the chain finds in the settings: the variables the Azure SDKs' default credential
/// consults, each `None` when unset or empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainSettings {
    /// `AZURE_FEDERATED_TOKEN_FILE`: workload identity's token file.
    pub federated_token_file: Option<String>,
    /// `IDENTITY_ENDPOINT` is set: a managed identity is offered here.
    pub identity_endpoint: bool,
    /// `AZURE_CLIENT_ID`.
    pub client_id: Option<String>,
    /// `AZURE_TENANT_ID`.
    pub tenant_id: Option<String>,
    /// `AZURE_CLIENT_SECRET`.
    pub client_secret: Option<Secret>,
}

/// A credential of the chain by name, or why it is not available here.
type ChainSource = (&'static str, Result<Arc<dyn TokenCredential>, String>);

/// `AuthType=azure`: workload identity, managed identity (when `IDENTITY_ENDPOINT` is set),
/// a client secret from `AZURE_CLIENT_ID`/`AZURE_TENANT_ID`/`AZURE_CLIENT_SECRET`, then the
/// developer tools (Azure CLI, Azure Developer CLI). Tried in that order; the first that
/// gives a token is used from then on.
pub(super) struct DefaultChain {
    sources: Vec<ChainSource>,
    chosen: AtomicUsize,
}

impl fmt::Debug for DefaultChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.sources.iter().map(|(name, _)| *name).collect();
        f.debug_struct("DefaultChain").field("sources", &names).finish()
    }
}

impl DefaultChain {
    /// The chain; refused when `AZURE_FEDERATED_TOKEN_FILE` names what can never be a token
    /// file (azure_identity reads it whole, at start and every 10 minutes).
    pub(super) fn new(
        client_id: Option<&str>,
        settings: &ChainSettings,
        options: &ClientOptions,
    ) -> Result<Self, CredentialError> {
        let workload_identity = match &settings.federated_token_file {
            Some(file) => match setting_file::check(file, MAX_TOKEN_FILE_LEN) {
                Ok(()) => WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
                    credential_options: ClientAssertionCredentialOptions {
                        client_options: options.clone(),
                    },
                    client_id: settings.client_id.clone(),
                    tenant_id: settings.tenant_id.clone(),
                    token_file_path: Some(PathBuf::from(file)),
                }))
                .map(|c| c as Arc<dyn TokenCredential>)
                .map_err(|error| error.to_string()),
                // Not there (yet): the chain goes on without it, as the SDKs' chains do.
                Err(unreadable @ FileError::Unreadable(_)) => {
                    Err(format!("AZURE_FEDERATED_TOKEN_FILE: the token file {unreadable}"))
                }
                Err(refused) => return Err(CredentialError::TokenFile(refused)),
            },
            None => Err("AZURE_FEDERATED_TOKEN_FILE is not set".to_owned()),
        };
        let sources: Vec<ChainSource> = vec![
            ("WorkloadIdentityCredential", workload_identity),
            (
                "ManagedIdentityCredential",
                if settings.identity_endpoint {
                    managed_identity(client_id.or(settings.client_id.as_deref()), options)
                        .map_err(|error| error.to_string())
                } else {
                    Err("IDENTITY_ENDPOINT is not set".to_owned())
                },
            ),
            (
                "EnvironmentCredential",
                match (&settings.tenant_id, &settings.client_id, &settings.client_secret) {
                    (Some(tenant), Some(client), Some(secret)) => ClientSecretCredential::new(
                        tenant,
                        client.clone(),
                        AzureSecret::new(secret.expose().to_owned()),
                        Some(ClientSecretCredentialOptions {
                            client_options: options.clone(),
                        }),
                    )
                    .map(|c| c as Arc<dyn TokenCredential>)
                    .map_err(|error| error.to_string()),
                    _ => Err("AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET are not all set".to_owned()),
                },
            ),
            (
                "DeveloperToolsCredential",
                DeveloperToolsCredential::new(None)
                    .map(|c| c as Arc<dyn TokenCredential>)
                    .map_err(|error| error.to_string()),
            ),
        ];
        Ok(Self {
            sources,
            chosen: AtomicUsize::new(usize::MAX),
        })
    }
}

#[async_trait::async_trait]
impl TokenCredential for DefaultChain {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let chosen = self.chosen.load(Ordering::Relaxed);
        if let Some((_, Ok(credential))) = self.sources.get(chosen) {
            return credential.get_token(scopes, options).await;
        }
        let mut tried = Vec::new();
        for (index, (name, source)) in self.sources.iter().enumerate() {
            match source {
                Ok(credential) => match credential.get_token(scopes, options.clone()).await {
                    Ok(token) => {
                        self.chosen.store(index, Ordering::Relaxed);
                        tracing::info!(credential = name, "DefaultAzureCredential chose a credential");
                        return Ok(token);
                    }
                    Err(error) => tried.push(format!("{name}: {}", super::describe(&error))),
                },
                Err(reason) => tried.push(format!("{name}: {reason}")),
            }
        }
        Err(azure_core::Error::with_message(
            azure_core::error::ErrorKind::Credential,
            format!("no credential in the chain gave a token; tried {}", tried.join("; ")),
        ))
    }
}
