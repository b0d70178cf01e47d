//! A test OpenID Connect provider on loopback: discovery and a JWKS with an RSA and an EC key
//! made for the test, and JWTs signed with aws-lc-rs directly (not with the code under test).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, RSA_PKCS1_SHA256};
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

pub const AUDIENCE: &str = "api://negotiate-tests";
pub const RSA_KID: &str = "rsa-key-1";
pub const EC_KID: &str = "ec-key-1";

pub struct TestIssuer {
    pub issuer: String,
    pub jwks_fetches: Arc<AtomicUsize>,
    pub discovery_fetches: Arc<AtomicUsize>,
    /// How the provider answers from now on.
    pub control: Arc<Mutex<Control>>,
    jwks: Value,
    rsa: RsaKeyPair,
    ec: EcdsaKeyPair,
}

/// What the provider does; by default it answers at once, with its keys.
#[derive(Debug, Clone, Default)]
pub struct Control {
    /// Discovery answers after this long.
    pub discovery_delay: Duration,
    /// The JWKS answers after this long.
    pub keys_delay: Duration,
    /// The JWKS answers this status, without keys.
    pub keys_status: Option<u16>,
    /// The JWKS answers 302 to this URL.
    pub keys_redirect: Option<String>,
    /// Discovery answers 302 to this URL.
    pub discovery_redirect: Option<String>,
    /// Discovery names this `jwks_uri` instead of its own.
    pub jwks_uri: Option<String>,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn jwks(rsa: &RsaKeyPair, ec: &EcdsaKeyPair) -> Value {
    let public = rsa.public_key();
    let point = ec.public_key().as_ref(); // 0x04 || x || y
    json!({"keys": [
        {
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": RSA_KID,
            "n": b64(public.modulus().big_endian_without_leading_zero()),
            "e": b64(public.exponent().big_endian_without_leading_zero()),
        },
        {
            "kty": "EC", "use": "sig", "alg": "ES256", "kid": EC_KID, "crv": "P-256",
            "x": b64(&point[1..33]), "y": b64(&point[33..65]),
        }
    ]})
}

#[derive(Clone)]
struct Served {
    issuer: String,
    jwks: Value,
    fetches: Arc<AtomicUsize>,
    discovery_fetches: Arc<AtomicUsize>,
    control: Arc<Mutex<Control>>,
}

fn redirect(location: &str) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    (axum::http::StatusCode::FOUND, [("location", location.to_owned())]).into_response()
}

/// Counted when asked, before any delay.
async fn discovery(State(s): State<Served>) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    s.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    let control = s.control.lock().unwrap().clone();
    tokio::time::sleep(control.discovery_delay).await;
    if let Some(location) = control.discovery_redirect {
        return redirect(&location);
    }
    let jwks_uri = control.jwks_uri.unwrap_or_else(|| format!("{}/keys", s.issuer));
    axum::Json(json!({"issuer": s.issuer, "jwks_uri": jwks_uri})).into_response()
}

/// Counted when asked, before any delay.
async fn keys(State(s): State<Served>) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    s.fetches.fetch_add(1, Ordering::SeqCst);
    let control = s.control.lock().unwrap().clone();
    tokio::time::sleep(control.keys_delay).await;
    if let Some(location) = control.keys_redirect {
        return redirect(&location);
    }
    if let Some(status) = control.keys_status {
        return (axum::http::StatusCode::from_u16(status).unwrap(), "{}").into_response();
    }
    axum::Json(s.jwks.clone()).into_response()
}

impl TestIssuer {
    /// Starts the provider on a loopback port.
    pub async fn start() -> Self {
        let rsa = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let ec = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}/tenant-1/v2.0", listener.local_addr().unwrap());
        let served = Served {
            issuer: issuer.clone(),
            jwks: jwks(&rsa, &ec),
            fetches: Arc::new(AtomicUsize::new(0)),
            discovery_fetches: Arc::new(AtomicUsize::new(0)),
            control: Arc::default(),
        };
        let (jwks_fetches, control, jwks) = (served.fetches.clone(), served.control.clone(), served.jwks.clone());
        let discovery_fetches = served.discovery_fetches.clone();
        let router = Router::new()
            .route("/tenant-1/v2.0/.well-known/openid-configuration", get(discovery))
            .route("/tenant-1/v2.0/keys", get(keys))
            .with_state(served);
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Self {
            issuer,
            jwks_fetches,
            discovery_fetches,
            control,
            jwks,
            rsa,
            ec,
        }
    }

    /// Changes how the provider answers from now on.
    pub fn set(&self, change: impl FnOnce(&mut Control)) {
        change(&mut self.control.lock().unwrap());
    }

    /// The provider's JWKS (what another origin would serve to pass for it).
    pub fn jwks(&self) -> Value {
        self.jwks.clone()
    }

    /// The port the provider listens on.
    pub fn port(&self) -> u16 {
        let authority = self.issuer.trim_start_matches("http://");
        authority.split(['/', ':']).nth(1).unwrap().parse().unwrap()
    }

    pub fn fetches(&self) -> usize {
        self.jwks_fetches.load(Ordering::SeqCst)
    }

    /// Claims of a valid token for `sub`.
    pub fn claims(&self, sub: &str) -> Value {
        let now = super::now();
        json!({"iss": self.issuer, "aud": AUDIENCE, "sub": sub, "iat": now, "nbf": now, "exp": now + 600})
    }

    /// An RS256 token signed with the provider's RSA key under `kid`.
    pub fn rs256(&self, kid: &str, claims: &Value) -> String {
        sign_rs256(&self.rsa, kid, claims)
    }

    /// An ES256 token signed with the provider's EC key.
    pub fn es256(&self, claims: &Value) -> String {
        let input = signing_input(&json!({"alg": "ES256", "typ": "JWT", "kid": EC_KID}), claims);
        let signature = self.ec.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", b64(signature.as_ref()))
    }

    /// The RSA public key's modulus, the "secret" of an algorithm-confusion attack.
    pub fn public_key_bytes(&self) -> Vec<u8> {
        self.rsa
            .public_key()
            .modulus()
            .big_endian_without_leading_zero()
            .to_vec()
    }
}

fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}

pub fn sign_rs256(key: &RsaKeyPair, kid: &str, claims: &Value) -> String {
    let input = signing_input(&json!({"alg": "RS256", "typ": "JWT", "kid": kid}), claims);
    let mut signature = vec![0; key.public_modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        input.as_bytes(),
        &mut signature,
    )
    .unwrap();
    format!("{input}.{}", b64(&signature))
}

/// A fresh RSA key that the provider does not publish (for bad-signature tokens).
pub fn stranger_key() -> RsaKeyPair {
    RsaKeyPair::generate(KeySize::Rsa2048).unwrap()
}

/// An HS256 token keyed with `secret`.
pub fn hs256(secret: &[u8], claims: &Value) -> String {
    let input = signing_input(&json!({"alg": "HS256", "typ": "JWT", "kid": RSA_KID}), claims);
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    format!(
        "{input}.{}",
        b64(aws_lc_rs::hmac::sign(&key, input.as_bytes()).as_ref())
    )
}

/// `alg: none`, no signature.
pub fn unsigned(claims: &Value) -> String {
    format!("{}.", signing_input(&json!({"alg": "none", "typ": "JWT"}), claims))
}
