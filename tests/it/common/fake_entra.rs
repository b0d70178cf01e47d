//! A fake Microsoft Entra token endpoint, `POST /{tenant}/oauth2/v2.0/token` (client credentials
//! with a client secret or a client assertion), reached the way the binary reaches the real one:
//! over HTTPS to the authority host of the endpoint's cloud. The binary is pointed at this
//! fake with `HTTPS_PROXY` (an HTTP CONNECT proxy: each tunnel's target host is recorded, and
//! TLS is ended here with a certificate for the login hosts) and trusts its test CA through
//! `SSL_CERT_FILE` (see `tests/it/fixtures/make-certs.sh`). A client assertion is verified as
//! Entra does: its PS256 signature with the certificate's public key, the `x5t#S256`
//! thumbprint, `aud` = the URL it was posted to, `iss` = `sub` = the client id, a fresh `jti`
//! and a short lifetime.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use aws_lc_rs::signature::{RSA_PSS_2048_8192_SHA256, UnparsedPublicKey};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::server::TlsStream;

use super::fake_service::ENTRA_TOKEN;

pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const CLIENT_ID: &str = "0f4d4a8c-5b9e-4f0e-9c1a-2b3c4d5e6f70";
pub const CLIENT_SECRET: &str = "client-secret-for-tests-5e1b";
/// The start of every client assertion (`{"alg":"PS256","typ":"JWT","x5t#S256":"`, base64url):
/// an assertion is a credential too, and must never be logged.
pub const ASSERTION_HEADER_START: &str = "eyJhbGciOiJQUzI1NiIsInR5cCI6IkpXVCIsIng1dCNTMjU2Ijoi";

/// A file of `tests/it/fixtures`.
pub fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/fixtures")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// The DER of the first PEM block with this label.
pub fn pem_block(pem: &str, label: &str) -> Vec<u8> {
    let begin = format!("-----BEGIN {label}-----");
    let body: String = pem
        .split(&begin)
        .nth(1)
        .and_then(|rest| rest.split("-----END").next())
        .unwrap_or_else(|| panic!("no {label} block"))
        .split_whitespace()
        .collect();
    STANDARD.decode(body).unwrap()
}

/// One token request as the fake saw it.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// `Host` of the request.
    pub host: String,
    pub path: String,
    pub form: Vec<(String, String)>,
    /// Why it was refused, if it was.
    pub refused: Option<String>,
}

impl TokenRequest {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

#[derive(Clone, Default)]
pub struct FakeEntra {
    /// `host:port` of every CONNECT tunnel, in order.
    pub tunnels: Arc<Mutex<Vec<String>>>,
    pub requests: Arc<Mutex<Vec<TokenRequest>>>,
    jtis: Arc<Mutex<HashSet<String>>>,
}

impl FakeEntra {
    /// Starts the proxy and the token endpoint; returns the fake and the proxy's port.
    pub async fn start() -> (Self, u16) {
        let fake = Self::default();
        let pem = |name: &str| std::fs::read(fixture(name)).unwrap();
        let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem("login.pem"))
            .collect::<Result<_, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_slice(&pem("login.key")).unwrap();
        let tls = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certificates, key)
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(tls));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (streams, incoming) = tokio::sync::mpsc::unbounded_channel();
        let tunnels = fake.tunnels.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, streams, tunnels) = (acceptor.clone(), streams.clone(), tunnels.clone());
                tokio::spawn(async move {
                    if let Some(tls) = open_tunnel(stream, &acceptor, &tunnels).await {
                        let _ = streams.send(tls);
                    }
                });
            }
        });
        let router = Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .with_state(fake.clone());
        tokio::spawn(async move {
            axum::serve(Tunnels(incoming), router).await.unwrap();
        });
        (fake, port)
    }

    /// What the binary needs to reach this fake: the proxy and the test CA.
    pub fn env(port: u16) -> [(&'static str, String); 2] {
        [
            ("HTTPS_PROXY", format!("http://127.0.0.1:{port}")),
            ("SSL_CERT_FILE", fixture("ca.pem")),
        ]
    }

    pub fn requests(&self) -> Vec<TokenRequest> {
        self.requests.lock().unwrap().clone()
    }

    pub fn tunnels(&self) -> Vec<String> {
        self.tunnels.lock().unwrap().clone()
    }
}

/// Reads `CONNECT host:port HTTP/1.1` and its headers, answers 200, then ends TLS.
async fn open_tunnel(
    mut stream: TcpStream,
    acceptor: &TlsAcceptor,
    tunnels: &Mutex<Vec<String>>,
) -> Option<TlsStream<TcpStream>> {
    // Byte by byte: the client sends nothing more before the 200, but TLS bytes must not be read.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
        head.push(stream.read_u8().await.ok()?);
    }
    let head = String::from_utf8_lossy(&head);
    let target = head.strip_prefix("CONNECT ")?.split(' ').next()?.to_owned();
    tunnels.lock().unwrap().push(target);
    stream
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .await
        .ok()?;
    acceptor.accept(stream).await.ok()
}

/// The TLS streams of the tunnels, as axum's listener.
struct Tunnels(tokio::sync::mpsc::UnboundedReceiver<TlsStream<TcpStream>>);

impl axum::serve::Listener for Tunnels {
    type Io = TlsStream<TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.0.recv().await {
            Some(stream) => (stream, std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
    }
}

/// `POST /{tenant}/oauth2/v2.0/token`
async fn token(State(fake): State<FakeEntra>, Path(tenant): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let path = format!("/{tenant}/oauth2/v2.0/token");
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let mut request = TokenRequest {
        host,
        path,
        form,
        refused: None,
    };
    request.refused = check(&fake, &request).err();
    let answer = match &request.refused {
        None => (
            StatusCode::OK,
            axum::Json(json!({
                "token_type": "Bearer",
                "expires_in": 3599,
                "ext_expires_in": 3599,
                "access_token": ENTRA_TOKEN,
            })),
        )
            .into_response(),
        Some(reason) => (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({
                "error": "invalid_client",
                "error_description": reason,
                "error_codes": [7000215],
            })),
        )
            .into_response(),
    };
    fake.requests.lock().unwrap().push(request);
    answer
}

/// What Entra checks of a client-credentials request.
fn check(fake: &FakeEntra, request: &TokenRequest) -> Result<(), String> {
    let field = |name| request.field(name).ok_or(format!("{name} is missing"));
    if field("grant_type")? != "client_credentials" {
        return Err("grant_type is not client_credentials".into());
    }
    if field("client_id")? != CLIENT_ID {
        return Err("unknown client_id".into());
    }
    field("scope")?;
    if let Some(secret) = request.field("client_secret") {
        return if secret == CLIENT_SECRET {
            Ok(())
        } else {
            Err("wrong client secret".into())
        };
    }
    if field("client_assertion_type")? != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
        return Err("client_assertion_type is not jwt-bearer".into());
    }
    let assertion = field("client_assertion")?;
    let audience = format!("https://{}{}", request.host, request.path);
    let jti = verify_assertion(assertion, &audience)?;
    if !fake.jtis.lock().unwrap().insert(jti) {
        return Err("jti was used before".into());
    }
    Ok(())
}

/// Verifies an assertion with the app certificate's public key; returns its `jti`.
fn verify_assertion(assertion: &str, audience: &str) -> Result<String, String> {
    let decode = |part: &str| -> Result<Value, String> {
        let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| "not base64url")?;
        serde_json::from_slice(&bytes).map_err(|_| "not JSON".to_owned())
    };
    let (message, signature) = assertion.rsplit_once('.').ok_or("not a JWT")?;
    let (header, claims) = message.split_once('.').ok_or("not a JWT")?;
    let (header, claims) = (decode(header)?, decode(claims)?);
    if header["alg"] != "PS256" || header["typ"] != "JWT" {
        return Err(format!("unexpected header {header}"));
    }
    let certificate = pem_block(
        &std::fs::read_to_string(fixture("app-cert-only.pem")).unwrap(),
        "CERTIFICATE",
    );
    if header["x5t#S256"] != URL_SAFE_NO_PAD.encode(Sha256::digest(&certificate)) {
        return Err("x5t#S256 is not the thumbprint of the registered certificate".into());
    }
    let spki = pem_block(
        &std::fs::read_to_string(fixture("app-public.pem")).unwrap(),
        "PUBLIC KEY",
    );
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| "signature not base64url")?;
    UnparsedPublicKey::new(&RSA_PSS_2048_8192_SHA256, &spki)
        .verify(message.as_bytes(), &signature)
        .map_err(|_| "the signature does not verify with the certificate's key")?;
    if claims["aud"] != audience {
        return Err(format!("aud {} is not {audience}", claims["aud"]));
    }
    if claims["iss"] != CLIENT_ID || claims["sub"] != CLIENT_ID {
        return Err("iss and sub must be the client id".into());
    }
    let now = super::now();
    let (nbf, exp) = (
        claims["nbf"].as_i64().unwrap_or(i64::MAX),
        claims["exp"].as_i64().unwrap_or(0),
    );
    if nbf > now + 60 || exp <= now || exp - nbf > 600 {
        return Err(format!("bad lifetime: nbf {nbf}, exp {exp}, now {now}"));
    }
    claims["jti"]
        .as_str()
        .filter(|jti| !jti.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| "jti is missing".into())
}
