//! `AuthType=azure.app` with `ClientCert`/`ClientCertPath`: an app registration's certificate,
//! without OpenSSL. The file (PEM: the certificate and its unencrypted private key, as
//! Azure.Identity's `ClientCertificateCredential` reads it) is read once at start; each token
//! request then carries a fresh client assertion, the short-lived JWT Microsoft's identity
//! platform documents ("Microsoft identity platform application authentication certificate
//! credentials"): header `alg` PS256, `typ` JWT and `x5t#S256` (the base64url SHA-256
//! thumbprint of the certificate's DER), claims `aud` (the token endpoint), `iss` = `sub` = the
//! client id, a unique `jti`, `nbf`/`iat` now and `exp` 10 minutes on. azure_identity's
//! `ClientAssertionCredential` sends it and caches the token.
//!
//! Hand-written over rustls rather than jsonwebtoken: jsonwebtoken's RSA keys must be PKCS#1
//! DER and it cannot tell whether a key belongs to a certificate; rustls (already in the binary
//! for TLS, with aws-lc) reads every PEM key form, compares the key's SubjectPublicKeyInfo with
//! the certificate's, and signs RSA-PSS.

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use azure_core::http::ClientMethodOptions;
use azure_identity::ClientAssertion;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls::crypto::aws_lc_rs::sign::any_supported_type;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::{CertifiedKey, Signer};
use rustls::{SignatureAlgorithm, SignatureScheme};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::CredentialError;
use crate::setting_file::{self, FileError};

/// How long an assertion is good for (the documentation asks for 5 to 10 minutes after `nbf`).
const ASSERTION_LIFETIME_SECS: u64 = 600;

/// What every refusal starts with: the connection string key it is about.
pub(super) const KEY: &str = "ClientCert (ClientCertPath) in the connection string";

/// The largest certificate file read (a certificate, its chain and its key are a few KiB).
const MAX_FILE_LEN: u64 = 64 * 1024;

/// Why the file `ClientCert` names cannot sign assertions.
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)] // each message says it
pub enum CertificateError {
    /// Not a regular file, too large, or unreadable; the path is not echoed.
    #[error("the certificate file {0}")]
    File(#[from] FileError),
    #[error(
        "the file is PFX (PKCS#12) or DER; this build reads PEM only: convert it with \
         `openssl pkcs12 -in cert.pfx -out cert.pem -nodes` (the certificate and its private key, in one file)"
    )]
    NotPemButBinary,
    #[error("the file is not PEM (expected -----BEGIN CERTIFICATE----- and the private key in one file)")]
    NotPem,
    #[error("the PEM file cannot be read")]
    BadPem,
    #[error("the PEM file has no certificate (expected -----BEGIN CERTIFICATE----- and the private key in one file)")]
    NoCertificate,
    #[error(
        "the PEM file has no unencrypted private key (expected -----BEGIN PRIVATE KEY----- or \
         -----BEGIN RSA PRIVATE KEY----- after the certificate; encrypted keys are not read)"
    )]
    NoKey,
    #[error("the private key cannot be read")]
    BadKey,
    #[error("the key is not RSA: Microsoft Entra ID takes certificate assertions signed with RSA (PS256)")]
    NotRsa,
    #[error("the private key does not belong to the certificate")]
    KeyMismatch,
    #[error("the key cannot sign with RSA-PSS (PS256)")]
    NoPss,
    #[error("the assertion header could not be written")]
    Header,
}

/// A certificate and its key, read and checked at start: what signs the assertions.
pub(super) struct Certificate {
    /// `{"alg":"PS256","typ":"JWT","x5t#S256":…}`, base64url-encoded once.
    encoded_header: String,
    signer: Box<dyn Signer>,
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate").finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'a str,
    typ: &'a str,
    #[serde(rename = "x5t#S256")]
    x5t_s256: &'a str,
}

#[derive(Serialize)]
struct Claims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: &'a str,
    nbf: u64,
    iat: u64,
    exp: u64,
}

impl Certificate {
    /// Reads the file `ClientCert` names.
    pub(super) fn read(path: &str) -> Result<Self, CredentialError> {
        let pem = setting_file::read(path, MAX_FILE_LEN).map_err(CertificateError::File)?;
        Self::from_pem(&pem)
    }

    /// The certificate and key of a PEM file; refused with a reason when it cannot sign.
    pub(super) fn from_pem(pem: &[u8]) -> Result<Self, CredentialError> {
        if !pem.windows(11).any(|window| window == b"-----BEGIN ") {
            return Err(if pem.first() == Some(&0x30) {
                CertificateError::NotPemButBinary
            } else {
                CertificateError::NotPem
            }
            .into());
        }
        let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<_, _>>()
            .map_err(|_| CertificateError::BadPem)?;
        if certificates.is_empty() {
            return Err(CertificateError::NoCertificate.into());
        }
        let key_der = PrivateKeyDer::from_pem_slice(pem).map_err(|_| CertificateError::NoKey)?;
        let key = any_supported_type(&key_der).map_err(|_| CertificateError::BadKey)?;
        if key.algorithm() != SignatureAlgorithm::RSA {
            return Err(CertificateError::NotRsa.into());
        }
        // The certificate that goes with the key (usually the first; a chain may follow it).
        let certificate = certificates
            .into_iter()
            .find(|certificate| {
                CertifiedKey::new(vec![certificate.clone()], Arc::clone(&key))
                    .keys_match()
                    .is_ok()
            })
            .ok_or(CertificateError::KeyMismatch)?;
        let signer = key
            .choose_scheme(&[SignatureScheme::RSA_PSS_SHA256])
            .ok_or(CertificateError::NoPss)?;
        let thumbprint = URL_SAFE_NO_PAD.encode(Sha256::digest(certificate.as_ref()));
        let header = serde_json::to_vec(&Header {
            alg: "PS256",
            typ: "JWT",
            x5t_s256: &thumbprint,
        })
        .map_err(|_| CertificateError::Header)?;
        Ok(Self {
            encoded_header: URL_SAFE_NO_PAD.encode(header),
            signer,
        })
    }

    /// A client assertion for `client_id` at the token endpoint `audience`, issued at `now`.
    fn assertion(&self, client_id: &str, audience: &str, jti: &str, now: u64) -> Result<String, rustls::Error> {
        let claims = serde_json::to_vec(&Claims {
            aud: audience,
            iss: client_id,
            sub: client_id,
            jti,
            nbf: now,
            iat: now,
            exp: now + ASSERTION_LIFETIME_SECS,
        })
        .map_err(|_| rustls::Error::General("the assertion's claims could not be written".into()))?;
        let mut token = String::with_capacity(self.encoded_header.len() + claims.len() * 4 / 3 + 360);
        token.push_str(&self.encoded_header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(claims, &mut token);
        let signature = self.signer.sign(token.as_bytes())?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(token)
    }
}

/// The assertions of one app registration, for azure_identity's `ClientAssertionCredential`.
pub(super) struct CertificateAssertion {
    pub(super) certificate: Certificate,
    pub(super) client_id: String,
    /// `{authority}/{tenant}/oauth2/v2.0/token`: where the credential sends it.
    pub(super) audience: String,
}

impl fmt::Debug for CertificateAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAssertion")
            .field("client_id", &self.client_id)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl ClientAssertion for CertificateAssertion {
    async fn secret(&self, _options: Option<ClientMethodOptions<'_>>) -> azure_core::Result<String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        // A random (version 4) GUID, the form the documentation gives `jti`.
        let jti = azure_core::Uuid::new_v4().to_string();
        self.certificate
            .assertion(&self.client_id, &self.audience, &jti, now)
            .map_err(|error| {
                azure_core::Error::with_message(
                    azure_core::error::ErrorKind::Credential,
                    format!("the client assertion could not be signed: {error}"),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::signature::{RSA_PSS_2048_8192_SHA256, UnparsedPublicKey};
    use serde_json::Value;

    use super::*;

    const APP: &[u8] = include_bytes!("../../tests/it/fixtures/app.pem");
    const APP_PKCS1: &[u8] = include_bytes!("../../tests/it/fixtures/app-pkcs1.pem");
    const PUBLIC: &str = include_str!("../../tests/it/fixtures/app-public.pem");

    /// The DER of the first PEM block with this label, decoded here (not by the code under test).
    fn pem_block(pem: &str, label: &str) -> Vec<u8> {
        let begin = format!("-----BEGIN {label}-----");
        let body: String = pem
            .split(&begin)
            .nth(1)
            .and_then(|rest| rest.split("-----END").next())
            .unwrap()
            .split_whitespace()
            .collect();
        base64::engine::general_purpose::STANDARD.decode(body).unwrap()
    }

    fn part(token: &str, index: usize) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(index).unwrap()).unwrap()).unwrap()
    }

    fn error(pem: &[u8]) -> String {
        Certificate::from_pem(pem).unwrap_err().to_string()
    }

    #[test]
    fn an_assertion_verifies_with_the_certificates_public_key() {
        let spki = pem_block(PUBLIC, "PUBLIC KEY");
        let certificate_der = pem_block(std::str::from_utf8(APP).unwrap(), "CERTIFICATE");
        for pem in [APP, APP_PKCS1] {
            let certificate = Certificate::from_pem(pem).unwrap();
            let audience = "https://login.chinacloudapi.cn/tenant/oauth2/v2.0/token";
            let token = certificate
                .assertion("client", audience, "the-jti", 1_700_000_000)
                .unwrap();
            let (message, signature) = token.rsplit_once('.').unwrap();
            UnparsedPublicKey::new(&RSA_PSS_2048_8192_SHA256, &spki)
                .verify(message.as_bytes(), &URL_SAFE_NO_PAD.decode(signature).unwrap())
                .expect("PS256 signature verifies with the certificate's key");
            let header = part(&token, 0);
            assert_eq!(header["alg"], "PS256");
            assert_eq!(header["typ"], "JWT");
            assert_eq!(
                header["x5t#S256"],
                URL_SAFE_NO_PAD.encode(Sha256::digest(&certificate_der))
            );
            assert_eq!(header.as_object().unwrap().len(), 3);
            let claims = part(&token, 1);
            assert_eq!(claims["aud"], audience);
            assert_eq!(claims["iss"], "client");
            assert_eq!(claims["sub"], "client");
            assert_eq!(claims["jti"], "the-jti");
            assert_eq!(claims["nbf"], 1_700_000_000);
            assert_eq!(claims["iat"], 1_700_000_000);
            assert_eq!(claims["exp"], 1_700_000_600);
        }
    }

    #[tokio::test]
    async fn each_assertion_has_its_own_jti_and_the_debug_print_no_key() {
        let assertion = CertificateAssertion {
            certificate: Certificate::from_pem(APP).unwrap(),
            client_id: "client".into(),
            audience: "https://login.microsoftonline.com/t/oauth2/v2.0/token".into(),
        };
        let first = assertion.secret(None).await.unwrap();
        let second = assertion.secret(None).await.unwrap();
        let (a, b) = (part(&first, 1), part(&second, 1));
        assert_ne!(a["jti"], b["jti"]);
        let jti = a["jti"].as_str().unwrap();
        assert_eq!(jti.len(), 36);
        assert_eq!(jti.as_bytes()[14], b'4', "version 4: {jti}");
        let printed = format!("{assertion:?}");
        assert!(!printed.contains("PRIVATE") && printed.contains("client"), "{printed}");
    }

    #[test]
    fn what_cannot_sign_is_refused_naming_the_key() {
        let fixture =
            |name: &str| std::fs::read(format!("{}/tests/it/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        for (name, expected) in [
            (
                "app-mismatched.pem",
                "the private key does not belong to the certificate",
            ),
            ("app-cert-only.pem", "has no unencrypted private key"),
            ("app-ec.pem", "the key is not RSA"),
            ("app.pfx", "the file is PFX (PKCS#12) or DER"),
            ("app-public.pem", "has no certificate"),
        ] {
            let message = error(&fixture(name));
            assert!(message.starts_with(KEY), "{name}: {message}");
            assert!(message.contains(expected), "{name}: {message}");
        }
        assert!(error(b"not a certificate").contains("the file is not PEM"));
        let missing = Certificate::read("/nonexistent/signalr-negotiate/app.pem")
            .unwrap_err()
            .to_string();
        assert!(missing.contains("could not be read (entity not found)"), "{missing}");
        assert!(!missing.contains("/nonexistent"), "the path is not echoed: {missing}");
        let endless = Certificate::read("/dev/zero").unwrap_err().to_string();
        assert!(endless.starts_with(KEY), "{endless}");
        assert!(
            endless.ends_with("the certificate file is a character device, not a regular file"),
            "{endless}"
        );
    }

    #[test]
    fn a_certificate_prints_nothing_of_its_key() {
        let certificate = Certificate::from_pem(APP).unwrap();
        assert_eq!(format!("{certificate:?}"), "Certificate { .. }");
    }
}
