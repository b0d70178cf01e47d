//! Azure SignalR connection strings, parsed with the rules of the service SDK.
//!
//! `key=value` pairs separated by `;`: empty segments and segments without `=` are ignored,
//! keys and values are trimmed, keys are case-insensitive, a repeated key is an error and an
//! unknown key is ignored. Errors name the key at fault and never echo a value, since a
//! misplaced `;` can put part of a secret anywhere. What the SDK would read past but a person
//! most likely got wrong is in [`mistakes`].

mod mistakes;

use std::collections::HashSet;
use std::str::FromStr;

use url::Url;

use crate::secret::Secret;
use crate::url_rules;

pub use mistakes::{ConnectionStringWarning, looks_like_connection_string};

/// One parsed connection string: where the service is and how to authenticate to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionString {
    /// `Endpoint`, as written (its port is not yet replaced by `Port`).
    pub endpoint: Url,
    /// `Port`: replaces the port of `Endpoint` only, never of the client or server endpoint.
    pub port: Option<u16>,
    /// `Version`, when given (1.x).
    pub version: Option<String>,
    /// `ClientEndpoint`: where clients are sent (a reverse proxy in front of the service).
    pub client_endpoint: Option<Url>,
    /// `ServerEndpoint`: where this function calls the REST API and the health probe.
    pub server_endpoint: Option<Url>,
    /// How tokens are obtained.
    pub auth: Authentication,
}

/// How tokens for an endpoint are obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authentication {
    /// Sign locally with the instance's access key (its UTF-8 bytes, as written).
    AccessKey(Secret),
    /// Authenticate to the service with Microsoft Entra ID (`AuthType=azure|azure.msi|azure.app`).
    MicrosoftEntra(EntraCredential),
}

/// The Microsoft Entra credential an `AuthType` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntraCredential {
    /// `AuthType=azure`: the default chain (workload identity, managed identity, environment,
    /// developer tools).
    Default {
        /// `ClientId`: a user-assigned managed identity, when the chain reaches one.
        client_id: Option<String>,
    },
    /// `AuthType=azure.msi`: managed identity, user-assigned when a client id is given.
    ManagedIdentity {
        /// `ClientId` of a user-assigned identity.
        client_id: Option<String>,
    },
    /// `AuthType=azure.app` with `ClientSecret`.
    ClientSecret {
        /// `TenantId`.
        tenant_id: String,
        /// `ClientId` of the app registration.
        client_id: String,
        /// `ClientSecret`.
        client_secret: Secret,
    },
    /// `AuthType=azure.app` with `ClientCert` (or `ClientCertPath`): a certificate file.
    ClientCertificate {
        /// `TenantId`.
        tenant_id: String,
        /// `ClientId` of the app registration.
        client_id: String,
        /// `ClientCert` or `ClientCertPath`.
        certificate_path: String,
    },
}

/// Why a connection string was refused. Messages name keys, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionStringError {
    /// A known key appears twice (its second spelling, as written).
    #[error("Duplicate properties found in connection string: {0}.")]
    DuplicateKey(String),
    /// An unknown key appears twice: never echoed, it may be a piece of a secret.
    #[error(
        "Duplicate properties found in connection string (an unknown key appears twice; is there a ';' inside a \
        value?)."
    )]
    DuplicateUnknownKey,
    /// No `Endpoint`.
    #[error("the connection string has no Endpoint (expected Endpoint=https://<name>.service.signalr.net;...)")]
    MissingEndpoint,
    /// A required key is missing, and an unknown key is a near spelling of it (shown: it
    /// looks like a key name, not a piece of a value).
    #[error(
        "{required} is missing from the connection string: {written} is not a key the SDK reads; did you mean \
        {required}?"
    )]
    Misspelt {
        /// The key the parse needed.
        required: &'static str,
        /// The unknown key, as written.
        written: String,
    },
    /// The whole connection string is in quotes, which the SDK reads as part of the first key and
    /// of the last value.
    #[error("the connection string is in quotes: remove the quotes around it")]
    QuotedString,
    /// A value is in quotes, which the SDK keeps as part of the value.
    #[error("{0} in the connection string is in quotes: remove them (they would be read as part of its value)")]
    QuotedValue(&'static str),
    /// A value is still the documentation's placeholder.
    #[error(
        "{0} in the connection string is still a placeholder (such as <access_key>, <resource_name> or xxx): put in \
        the real value (the Azure portal shows the whole connection string under Keys)"
    )]
    Placeholder(&'static str),
    /// `Endpoint`, `ClientEndpoint` or `ServerEndpoint` is not an acceptable URL.
    #[error(
        "{0} in the connection string must be an absolute http:// or https:// URL with a host and no query or fragment"
    )]
    InvalidUrl(&'static str),
    /// `Port` is not 1–65535.
    #[error("Port in the connection string must be a whole number from 1 to 65535")]
    InvalidPort,
    /// `Version` is not 1.x.
    #[error("Version in the connection string is not supported: it must be 1.x (for example Version=1.0)")]
    UnsupportedVersion,
    /// Neither `AuthType` nor `AccessKey`.
    #[error("AccessKey is required in the connection string when AuthType is not set")]
    MissingAccessKey,
    /// An `AuthType` the SDK does not know.
    #[error(
        "AuthType in the connection string must be azure, azure.msi or azure.app (or aad, the older name); leave it \
        out to sign with AccessKey"
    )]
    UnknownAuthType,
    /// `azure.app` without one of its keys.
    #[error("{0} is required in the connection string when AuthType is azure.app")]
    MissingForApp(&'static str),
    /// `aad` with a secret or certificate but not the keys that make it an app registration.
    #[error(
        "{0} is required in the connection string for AuthType=aad with an app registration (ClientId, TenantId, and \
        ClientSecret or ClientCert); with ClientId alone it means a managed identity"
    )]
    MissingForAadApp(&'static str),
    /// `azure.app` with both a secret and a certificate.
    #[error("AuthType=azure.app needs either ClientSecret or ClientCert in the connection string, not both")]
    AmbiguousAppCredential,
    /// `ClientCert` and `ClientCertPath` together.
    #[error("ClientCert and ClientCertPath in the connection string are the same setting: give one")]
    DuplicateCertificate,
}

/// The keys this parser knows, as the documentation spells them (compared ignoring case).
const KNOWN_KEYS: [&str; 12] = [
    "Endpoint",
    "Port",
    "Version",
    "ClientEndpoint",
    "ServerEndpoint",
    "AuthType",
    "AccessKey",
    "ClientId",
    "TenantId",
    "ClientSecret",
    "ClientCert",
    "ClientCertPath",
];

/// The known keys with their values, after the SDK's splitting rules.
struct Properties<'a>([Option<&'a str>; KNOWN_KEYS.len()]);

impl<'a> Properties<'a> {
    fn split(text: &'a str) -> Result<Self, ConnectionStringError> {
        if mistakes::is_quoted_whole(text) {
            return Err(ConnectionStringError::QuotedString);
        }
        let mut values = [None; KNOWN_KEYS.len()];
        let mut seen: HashSet<String> = HashSet::new();
        for segment in text.split(';').filter(|s| !s.trim().is_empty()) {
            let Some((key, value)) = segment.split_once('=') else {
                continue;
            };
            let key = key.trim();
            let lower = key.to_ascii_lowercase();
            let known = KNOWN_KEYS.iter().position(|known| known.eq_ignore_ascii_case(key));
            if !seen.insert(lower) {
                // An unknown "key" may be a piece of a secret cut off by a stray ';': never echo it.
                return Err(match known {
                    Some(_) => ConnectionStringError::DuplicateKey(key.to_owned()),
                    None => ConnectionStringError::DuplicateUnknownKey,
                });
            }
            if let Some(index) = known {
                values[index] = Some(value.trim());
            }
        }
        // In the keys' order, not the text's: the same keys give the same refusal, however written.
        for (key, value) in KNOWN_KEYS.into_iter().zip(values) {
            mistakes::refuse_value(key, value.unwrap_or_default())?;
        }
        Ok(Self(values))
    }

    /// The value of a key (spelt as in [`KNOWN_KEYS`]); an empty value counts as absent.
    fn get(&self, key: &str) -> Option<&'a str> {
        let index = KNOWN_KEYS.iter().position(|known| *known == key)?;
        self.0[index].filter(|value| !value.is_empty())
    }
}

impl FromStr for ConnectionString {
    type Err = ConnectionStringError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let properties = Properties::split(text)?;
        Self::from_properties(&properties).map_err(|error| mistakes::explain_missing(error, text))
    }
}

impl ConnectionString {
    /// What `text`, which parsed as `self`, says that its author most likely did not mean:
    /// misspelt keys, keys the credential does not read, a `Port` overriding `Endpoint`'s.
    pub fn warnings(&self, text: &str) -> Vec<ConnectionStringWarning> {
        mistakes::warnings(text, self)
    }

    fn from_properties(properties: &Properties<'_>) -> Result<Self, ConnectionStringError> {
        let endpoint = properties
            .get("Endpoint")
            .ok_or(ConnectionStringError::MissingEndpoint)?;
        let endpoint = parse_url(endpoint, "Endpoint")?;
        let port = properties
            .get("Port")
            .map(|port| match port.parse::<u16>() {
                Ok(port) if port > 0 => Ok(port),
                _ => Err(ConnectionStringError::InvalidPort),
            })
            .transpose()?;
        let version = properties.get("Version").map(str::to_owned);
        if let Some(version) = &version {
            if !is_supported_version(version) {
                return Err(ConnectionStringError::UnsupportedVersion);
            }
        }
        let client_endpoint = properties
            .get("ClientEndpoint")
            .map(|url| parse_url(url, "ClientEndpoint"))
            .transpose()?;
        let server_endpoint = properties
            .get("ServerEndpoint")
            .map(|url| parse_url(url, "ServerEndpoint"))
            .transpose()?;
        let auth = authentication(properties)?;
        Ok(Self {
            endpoint,
            port,
            version,
            client_endpoint,
            server_endpoint,
            auth,
        })
    }
}

fn authentication(properties: &Properties<'_>) -> Result<Authentication, ConnectionStringError> {
    let client_id = properties.get("ClientId").map(str::to_owned);
    let Some(auth_type) = properties.get("AuthType") else {
        let key = properties
            .get("AccessKey")
            .ok_or(ConnectionStringError::MissingAccessKey)?;
        return Ok(Authentication::AccessKey(Secret::new(key)));
    };
    let credential = match auth_type.to_ascii_lowercase().as_str() {
        "azure" => EntraCredential::Default { client_id },
        "azure.msi" => EntraCredential::ManagedIdentity { client_id },
        "azure.app" => {
            let client_id = client_id.ok_or(ConnectionStringError::MissingForApp("ClientId"))?;
            let tenant_id = properties
                .get("TenantId")
                .ok_or(ConnectionStringError::MissingForApp("TenantId"))?;
            app_credential(properties, tenant_id, client_id)?
                .ok_or(ConnectionStringError::MissingForApp("ClientSecret (or ClientCert)"))?
        }
        // The older name, which the SDK still reads (`TypeAzureAD = "aad"` in Azure/azure-signalr,
        // src/Microsoft.Azure.SignalR.Common/Utilities/ConnectionStringParser.cs): an app
        // registration when ClientId and TenantId come with a secret or certificate, else a
        // managed identity (user-assigned with ClientId). Where the SDK would quietly drop a
        // secret or certificate given without ClientId or TenantId, this refuses.
        "aad" => match (client_id, properties.get("TenantId")) {
            (Some(client_id), Some(tenant_id)) => app_credential(properties, tenant_id, client_id)?
                .ok_or(ConnectionStringError::MissingForAadApp("ClientSecret (or ClientCert)"))?,
            (client_id, tenant_id) => {
                let app_keys = properties.get("ClientSecret").is_some() || certificate(properties)?.is_some();
                match (app_keys, client_id, tenant_id) {
                    (true, None, _) => return Err(ConnectionStringError::MissingForAadApp("ClientId")),
                    (true, Some(_), _) => return Err(ConnectionStringError::MissingForAadApp("TenantId")),
                    (false, client_id, _) => EntraCredential::ManagedIdentity { client_id },
                }
            }
        },
        _ => return Err(ConnectionStringError::UnknownAuthType),
    };
    Ok(Authentication::MicrosoftEntra(credential))
}

/// `ClientCert` or `ClientCertPath` (the same setting under two names).
fn certificate<'a>(properties: &Properties<'a>) -> Result<Option<&'a str>, ConnectionStringError> {
    match (properties.get("ClientCert"), properties.get("ClientCertPath")) {
        (Some(_), Some(_)) => Err(ConnectionStringError::DuplicateCertificate),
        (cert, path) => Ok(cert.or(path)),
    }
}

/// An app registration's credential: its secret or its certificate; `None` with neither.
fn app_credential(
    properties: &Properties<'_>,
    tenant_id: &str,
    client_id: String,
) -> Result<Option<EntraCredential>, ConnectionStringError> {
    let tenant_id = tenant_id.to_owned();
    Ok(match (properties.get("ClientSecret"), certificate(properties)?) {
        (Some(secret), None) => Some(EntraCredential::ClientSecret {
            tenant_id,
            client_id,
            client_secret: Secret::new(secret),
        }),
        (None, Some(path)) => Some(EntraCredential::ClientCertificate {
            tenant_id,
            client_id,
            certificate_path: path.to_owned(),
        }),
        (None, None) => None,
        (Some(_), Some(_)) => return Err(ConnectionStringError::AmbiguousAppCredential),
    })
}

/// An absolute http(s) URL with a host, no credentials, query or fragment.
fn parse_url(text: &str, key: &'static str) -> Result<Url, ConnectionStringError> {
    url_rules::service_url(text).ok_or(ConnectionStringError::InvalidUrl(key))
}

/// `^1\.\d+`: version 1.x, as the SDK accepts.
fn is_supported_version(version: &str) -> bool {
    version
        .strip_prefix("1.")
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH";

    fn parse(text: &str) -> Result<ConnectionString, ConnectionStringError> {
        text.parse()
    }

    fn error(text: &str) -> String {
        let error = parse(text).expect_err("should be refused");
        let message = error.to_string();
        assert!(!message.contains(KEY), "error echoes the key: {message}");
        message
    }

    fn entra(text: &str) -> EntraCredential {
        match parse(text).unwrap().auth {
            Authentication::MicrosoftEntra(credential) => credential,
            Authentication::AccessKey(_) => panic!("expected Entra"),
        }
    }

    #[test]
    fn parses_the_emulator_default() {
        let cs = parse(&format!(
            "Endpoint=http://localhost;Port=8999;AccessKey={KEY};Version=1.0;"
        ))
        .unwrap();
        assert_eq!(cs.endpoint.as_str(), "http://localhost/");
        assert_eq!(cs.port, Some(8999));
        assert_eq!(cs.version.as_deref(), Some("1.0"));
        assert!(matches!(cs.auth, Authentication::AccessKey(ref key) if key.expose() == KEY));
    }

    #[test]
    fn keys_are_case_insensitive_and_trimmed() {
        let cs = parse(&format!(
            "  endpoint = https://a.service.signalr.net ; ACCESSKEY={KEY} ;clientENDPOINT=https://proxy/x"
        ))
        .unwrap();
        assert_eq!(cs.endpoint.host_str(), Some("a.service.signalr.net"));
        assert_eq!(cs.client_endpoint.unwrap().as_str(), "https://proxy/x");
    }

    #[test]
    fn empty_segments_segments_without_equals_and_unknown_keys_are_ignored() {
        let cs = parse(&format!(";;Endpoint=https://a;garbage;Unknown=1;AccessKey={KEY};;")).unwrap();
        assert_eq!(cs.endpoint.host_str(), Some("a"));
    }

    #[test]
    fn a_value_is_split_on_the_first_equals_only() {
        let cs = parse("Endpoint=https://a;AccessKey=abc==").unwrap();
        let Authentication::AccessKey(key) = cs.auth else {
            panic!()
        };
        // The key is the string as written, '=' padding included.
        assert_eq!(key.expose(), "abc==");
    }

    #[test]
    fn duplicate_keys_are_refused_whatever_their_case() {
        assert_eq!(
            error(&format!("Endpoint=https://a;AccessKey={KEY};endpoint=https://b")),
            "Duplicate properties found in connection string: endpoint."
        );
        assert_eq!(
            error(&format!("Endpoint=https://a;AccessKey={KEY};accesskey={KEY}")),
            "Duplicate properties found in connection string: accesskey."
        );
    }

    #[test]
    fn a_repeated_unknown_key_is_refused_without_echoing_it() {
        // A key with a stray ';' inside: its tail becomes a "key" that repeats.
        let message = error("Endpoint=https://a;AccessKey=abc;SECRETTAIL=1;SECRETTAIL=2");
        assert!(!message.contains("SECRETTAIL"), "{message}");
        assert!(
            message.starts_with("Duplicate properties found in connection string"),
            "{message}"
        );
    }

    #[test]
    fn endpoint_is_required() {
        let expected =
            "the connection string has no Endpoint (expected Endpoint=https://<name>.service.signalr.net;...)";
        assert_eq!(error(&format!("AccessKey={KEY}")), expected);
        assert_eq!(error(&format!("Endpoint=;AccessKey={KEY}")), expected);
        assert_eq!(error(""), expected);
    }

    #[test]
    fn endpoint_must_be_an_absolute_http_url() {
        let expected = "Endpoint in the connection string must be an absolute http:// or https:// URL with a host and \
                       no query or fragment";
        for bad in [
            "localhost",
            "ftp://a",
            "https://a?x=1",
            "https://a#f",
            "https://user:pw@a",
            "https://:pw@a",
            "https://user@a",
            "/relative",
            "https://",
        ] {
            assert_eq!(error(&format!("Endpoint={bad};AccessKey={KEY}")), expected, "{bad}");
        }
    }

    #[test]
    fn client_and_server_endpoints_are_checked_and_named() {
        assert_eq!(
            error(&format!("Endpoint=https://a;AccessKey={KEY};ClientEndpoint=proxy")),
            "ClientEndpoint in the connection string must be an absolute http:// or https:// URL with a host and no \
            query or fragment"
        );
        assert_eq!(
            error(&format!("Endpoint=https://a;AccessKey={KEY};ServerEndpoint=tcp://x")),
            "ServerEndpoint in the connection string must be an absolute http:// or https:// URL with a host and no \
            query or fragment"
        );
        let cs = parse(&format!(
            "Endpoint=https://a;AccessKey={KEY};ServerEndpoint=http://10.0.0.1:8080/sig/"
        ))
        .unwrap();
        assert_eq!(cs.server_endpoint.unwrap().as_str(), "http://10.0.0.1:8080/sig/");
    }

    #[test]
    fn port_must_be_1_to_65535() {
        let expected = "Port in the connection string must be a whole number from 1 to 65535";
        for bad in ["0", "65536", "-1", "80a", "8.0"] {
            assert_eq!(
                error(&format!("Endpoint=https://a;AccessKey={KEY};Port={bad}")),
                expected
            );
        }
        assert_eq!(
            parse(&format!("Endpoint=https://a;AccessKey={KEY};Port=65535"))
                .unwrap()
                .port,
            Some(65535)
        );
        assert_eq!(
            parse(&format!("Endpoint=https://a;AccessKey={KEY};Port=1"))
                .unwrap()
                .port,
            Some(1)
        );
    }

    #[test]
    fn version_must_be_1_x() {
        for good in ["1.0", "1.1", "1.10", "1.0-preview"] {
            assert!(
                parse(&format!("Endpoint=https://a;AccessKey={KEY};Version={good}")).is_ok(),
                "{good}"
            );
        }
        for bad in ["2.0", "1", "1.", "v1.0", "1.x", "0.9"] {
            assert_eq!(
                error(&format!("Endpoint=https://a;AccessKey={KEY};Version={bad}")),
                "Version in the connection string is not supported: it must be 1.x (for example Version=1.0)",
                "{bad}"
            );
        }
    }

    #[test]
    fn access_key_is_required_without_auth_type() {
        let expected = "AccessKey is required in the connection string when AuthType is not set";
        assert_eq!(error("Endpoint=https://a"), expected);
        assert_eq!(error("Endpoint=https://a;AccessKey="), expected);
    }

    #[test]
    fn auth_types_choose_the_entra_credential() {
        assert_eq!(
            entra("Endpoint=https://a;AuthType=azure"),
            EntraCredential::Default { client_id: None }
        );
        assert_eq!(
            entra("Endpoint=https://a;AuthType=Azure.MSI"),
            EntraCredential::ManagedIdentity { client_id: None }
        );
        assert_eq!(
            entra("Endpoint=https://a;AuthType=azure.msi;ClientId=abc"),
            EntraCredential::ManagedIdentity {
                client_id: Some("abc".into())
            }
        );
        assert_eq!(
            entra("Endpoint=https://a;AuthType=azure.app;ClientId=c;TenantId=t;ClientSecret=s3cr3t"),
            EntraCredential::ClientSecret {
                tenant_id: "t".into(),
                client_id: "c".into(),
                client_secret: Secret::new("s3cr3t"),
            }
        );
        for cert_key in ["ClientCert", "ClientCertPath"] {
            assert_eq!(
                entra(&format!(
                    "Endpoint=https://a;AuthType=azure.app;ClientId=c;TenantId=t;{cert_key}=/certs/app.pem"
                )),
                EntraCredential::ClientCertificate {
                    tenant_id: "t".into(),
                    client_id: "c".into(),
                    certificate_path: "/certs/app.pem".into(),
                }
            );
        }
    }

    #[test]
    fn aad_is_read_as_the_sdk_reads_it() {
        assert_eq!(
            entra("Endpoint=https://a;AuthType=aad"),
            EntraCredential::ManagedIdentity { client_id: None }
        );
        assert_eq!(
            entra("Endpoint=https://a;AuthType=AAD;ClientId=abc"),
            EntraCredential::ManagedIdentity {
                client_id: Some("abc".into())
            }
        );
        assert_eq!(
            entra("Endpoint=https://a;AuthType=aad;ClientId=c;TenantId=t;ClientSecret=s3cr3t"),
            EntraCredential::ClientSecret {
                tenant_id: "t".into(),
                client_id: "c".into(),
                client_secret: Secret::new("s3cr3t"),
            }
        );
        assert_eq!(
            entra("Endpoint=https://a;AuthType=aad;ClientId=c;TenantId=t;ClientCertPath=/certs/app.pem"),
            EntraCredential::ClientCertificate {
                tenant_id: "t".into(),
                client_id: "c".into(),
                certificate_path: "/certs/app.pem".into(),
            }
        );
    }

    #[test]
    fn aad_refuses_what_the_sdk_would_misread() {
        assert_eq!(
            error("Endpoint=https://a;AuthType=aad;ClientId=c;TenantId=t"),
            "ClientSecret (or ClientCert) is required in the connection string for AuthType=aad with an app \
            registration (ClientId, TenantId, and ClientSecret or ClientCert); with ClientId alone it means a managed \
            identity"
        );
        assert_eq!(
            error("Endpoint=https://a;AuthType=aad;ClientId=c;ClientSecret=s"),
            "TenantId is required in the connection string for AuthType=aad with an app registration (ClientId, \
            TenantId, and ClientSecret or ClientCert); with ClientId alone it means a managed identity"
        );
        assert_eq!(
            error("Endpoint=https://a;AuthType=aad;TenantId=t;ClientCert=/x"),
            "ClientId is required in the connection string for AuthType=aad with an app registration (ClientId, \
            TenantId, and ClientSecret or ClientCert); with ClientId alone it means a managed identity"
        );
        assert_eq!(
            error("Endpoint=https://a;AuthType=aad;ClientCert=/x;ClientCertPath=/y"),
            "ClientCert and ClientCertPath in the connection string are the same setting: give one"
        );
        assert_eq!(
            error("Endpoint=https://a;AuthType=aad;ClientId=c;TenantId=t;ClientSecret=s;ClientCert=/x"),
            "AuthType=azure.app needs either ClientSecret or ClientCert in the connection string, not both"
        );
    }

    #[test]
    fn an_access_key_is_ignored_when_auth_type_is_set() {
        let cs = parse(&format!("Endpoint=https://a;AuthType=azure;AccessKey={KEY}")).unwrap();
        assert!(matches!(cs.auth, Authentication::MicrosoftEntra(_)));
    }

    #[test]
    fn entra_errors_name_the_missing_key() {
        for unknown in ["azure.ad", "aad.app", "accesskey", "none"] {
            assert_eq!(
                error(&format!("Endpoint=https://a;AuthType={unknown};AccessKey={KEY}")),
                "AuthType in the connection string must be azure, azure.msi or azure.app (or aad, the older name); \
                leave it out to sign with AccessKey",
                "{unknown}: refused, where the SDK would quietly sign with AccessKey"
            );
        }
        assert_eq!(
            error("Endpoint=https://a;AuthType=azure.app;TenantId=t;ClientSecret=s"),
            "ClientId is required in the connection string when AuthType is azure.app"
        );
        assert_eq!(
            error("Endpoint=https://a;AuthType=azure.app;ClientId=c;ClientSecret=s"),
            "TenantId is required in the connection string when AuthType is azure.app"
        );
        assert_eq!(
            error("Endpoint=https://a;AuthType=azure.app;ClientId=c;TenantId=t"),
            "ClientSecret (or ClientCert) is required in the connection string when AuthType is azure.app"
        );
        assert_eq!(
            error("Endpoint=https://a;AuthType=azure.app;ClientId=c;TenantId=t;ClientSecret=s;ClientCert=/x"),
            "AuthType=azure.app needs either ClientSecret or ClientCert in the connection string, not both"
        );
        assert_eq!(
            error("Endpoint=https://a;AuthType=azure.app;ClientId=c;TenantId=t;ClientCert=/x;ClientCertPath=/y"),
            "ClientCert and ClientCertPath in the connection string are the same setting: give one"
        );
    }

    #[test]
    fn debug_print_hides_keys_and_client_secrets() {
        let printed = format!("{:?}", parse(&format!("Endpoint=https://a;AccessKey={KEY}")).unwrap());
        assert!(!printed.contains(KEY), "{printed}");
        let printed = format!(
            "{:?}",
            parse("Endpoint=https://a;AuthType=azure.app;ClientId=c;TenantId=t;ClientSecret=VERY-SECRET").unwrap()
        );
        assert!(!printed.contains("VERY-SECRET"), "{printed}");
    }
}
