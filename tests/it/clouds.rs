//! Every cloud and every credential, through the real binary: an `Endpoint` in the Azure
//! public cloud, Azure China or Azure Government (with `ServerEndpoint` and `ClientEndpoint` on
//! the loopback fake service) makes each credential ask Microsoft Entra for that cloud's scope,
//! at that cloud's authority; `SIGNALR_ENTRA_SCOPE` and `AZURE_AUTHORITY_HOST` override both;
//! a client certificate signs an assertion the fake Entra verifies; `AuthType=aad` is read as
//! the SDK reads it; and a certificate or override that cannot be served stops the start.

use serde_json::Value;

use crate::common::fake_entra::{CLIENT_ID, CLIENT_SECRET, FakeEntra, TENANT, fixture};
use crate::common::fake_service::{Fake, IDENTITY_HEADER, TEMPORARY_KEY, start_fake};
use crate::common::{Function, free_port, run_binary, verify_token, wait_ready};

/// An `Endpoint` at `host` whose REST API and client URL are the fake service on `port`.
fn endpoint(host: &str, port: u16, auth: &str) -> String {
    format!(
        "Endpoint=https://{host};ServerEndpoint=http://127.0.0.1:{port};ClientEndpoint=http://127.0.0.1:{port};{auth};\
        Version=1.0;"
    )
}

/// Starts the binary with the connection string and settings; negotiates `times` for hub
/// `chat`; returns each status and body.
async fn negotiate(name: &str, connection_string: &str, extra: &[(&str, String)], times: usize) -> Vec<(u16, Value)> {
    let listen = format!("127.0.0.1:{}", free_port());
    let mut env: Vec<(&str, &str)> = vec![
        ("SIGNALR_LISTEN", &listen),
        ("AzureSignalRConnectionString", connection_string),
    ];
    env.extend(extra.iter().map(|(name, value)| (*name, value.as_str())));
    let mut function = Function::spawn(name, &env);
    let base = format!("http://{listen}");
    let client = reqwest::Client::new();
    wait_ready(&client, &base, &mut function).await;
    let mut answers = Vec::new();
    for _ in 0..times {
        let response = client.post(format!("{base}/api/chat/negotiate")).send().await.unwrap();
        let status = response.status().as_u16();
        answers.push((status, response.json().await.unwrap()));
    }
    answers
}

fn managed_identity_env(fake_port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("IDENTITY_ENDPOINT", format!("http://127.0.0.1:{fake_port}/msi/token")),
        ("IDENTITY_HEADER", IDENTITY_HEADER.to_owned()),
    ]
}

#[tokio::test]
async fn a_managed_identity_asks_for_the_resource_of_the_endpoints_cloud() {
    let cases = [
        ("demo.service.signalr.net", None, "https://signalr.azure.com"),
        ("demo.signalr.azure.cn", None, "https://signalr.azure.cn"),
        ("demo.service.signalr.azure.cn", None, "https://signalr.azure.cn"),
        ("demo.signalr.azure.us", None, "https://signalr.azure.us"),
        (
            "demo.signalr.azure.cn",
            Some("https://signalr.contoso.test/.default"),
            "https://signalr.contoso.test",
        ),
    ];
    for (host, scope, resource) in cases {
        let (fake, port) = start_fake().await;
        fake.expect_resource(resource);
        let mut env = managed_identity_env(port);
        env.extend(scope.map(|scope| ("SIGNALR_ENTRA_SCOPE", scope.to_owned())));
        let answers = negotiate("cloud-msi", &endpoint(host, port, "AuthType=azure.msi"), &env, 2).await;
        for (status, body) in &answers {
            assert_eq!(*status, 200, "{host}: {body}");
            assert!(
                body["accessToken"]
                    .as_str()
                    .unwrap()
                    .starts_with("service-made-token.chat.")
            );
            let url = body["url"].as_str().unwrap();
            assert!(
                url.starts_with(&format!("http://127.0.0.1:{port}/client/?hub=chat&")),
                "{url}"
            );
        }
        assert_eq!(fake.count(|c| &c.identity), 1, "{host}: one Entra token, cached");
        let query = fake.identity_queries.lock().unwrap()[0].clone();
        let expected = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("resource", resource)
            .finish();
        assert!(query.contains(&expected), "{host}: {query}");
    }
}

#[tokio::test]
async fn access_key_mode_fetches_the_key_with_the_clouds_token_and_signs_for_endpoint() {
    let (fake, port) = start_fake().await;
    fake.expect_resource("https://signalr.azure.us");
    let mut env = managed_identity_env(port);
    env.push(("SIGNALR_ENTRA_MODE", "access-key".to_owned()));
    let cs = endpoint("demo.signalr.azure.us", port, "AuthType=azure.msi");
    let answers = negotiate("cloud-access-key", &cs, &env, 1).await;
    let (status, body) = &answers[0];
    assert_eq!(*status, 200, "{body}");
    let claims = verify_token(body["accessToken"].as_str().unwrap(), TEMPORARY_KEY);
    assert_eq!(claims["aud"], "https://demo.signalr.azure.us/client/?hub=chat");
    assert_eq!(fake.count(|c| &c.keys), 1);
}

/// Negotiates through an app registration's credential against both fakes.
async fn through_entra(name: &str, host: &str, auth: &str, extra: &[(&str, String)]) -> (Fake, FakeEntra, u16) {
    let (fake, port) = start_fake().await;
    let (entra, proxy) = FakeEntra::start().await;
    let mut env: Vec<(&str, String)> = FakeEntra::env(proxy).into_iter().collect();
    env.extend(extra.iter().cloned());
    let answers = negotiate(name, &endpoint(host, port, auth), &env, 3).await;
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{name}: {body}\n{:?}", entra.requests());
        assert!(
            body["accessToken"]
                .as_str()
                .unwrap()
                .starts_with("service-made-token.chat.")
        );
    }
    assert_eq!(fake.count(|c| &c.generate), 3);
    (fake, entra, port)
}

#[tokio::test]
async fn a_client_secret_goes_to_the_authority_of_the_endpoints_cloud() {
    let secret = format!("AuthType=azure.app;ClientId={CLIENT_ID};TenantId={TENANT};ClientSecret={CLIENT_SECRET}");
    // (Endpoint host, settings, authority host, scope)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: [Case<'_>; 4] = [
        (
            "demo.service.signalr.net",
            &[],
            "login.microsoftonline.com",
            "https://signalr.azure.com/.default",
        ),
        (
            "demo.signalr.azure.cn",
            &[],
            "login.chinacloudapi.cn",
            "https://signalr.azure.cn/.default",
        ),
        (
            "demo.signalr.azure.us",
            &[],
            "login.microsoftonline.us",
            "https://signalr.azure.us/.default",
        ),
        (
            "demo.signalr.azure.cn",
            &[("AZURE_AUTHORITY_HOST", "https://login.sovereign.test/")],
            "login.sovereign.test",
            "https://signalr.azure.cn/.default",
        ),
    ];
    for (host, settings, authority, scope) in cases {
        let settings: Vec<(&str, String)> = settings.iter().map(|(k, v)| (*k, v.to_string())).collect();
        let (_, entra, _) = through_entra("cloud-secret", host, &secret, &settings).await;
        assert_eq!(
            entra.tunnels(),
            [format!("{authority}:443")],
            "{host}: one token, cached"
        );
        let requests = entra.requests();
        let request = &requests[0];
        assert_eq!(request.refused, None, "{host}");
        assert_eq!(request.host, authority);
        assert_eq!(request.path, format!("/{TENANT}/oauth2/v2.0/token"));
        assert_eq!(request.field("scope"), Some(scope), "{host}");
    }
}

#[tokio::test]
async fn the_default_chain_sends_the_environments_secret_to_the_clouds_authority() {
    let settings = [
        ("AZURE_TENANT_ID", TENANT.to_owned()),
        ("AZURE_CLIENT_ID", CLIENT_ID.to_owned()),
        ("AZURE_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
    ];
    let (_, entra, _) = through_entra("cloud-chain", "demo.signalr.azure.us", "AuthType=azure", &settings).await;
    assert_eq!(entra.tunnels(), ["login.microsoftonline.us:443"]);
    assert_eq!(
        entra.requests()[0].field("scope"),
        Some("https://signalr.azure.us/.default")
    );
}

#[tokio::test]
async fn a_client_certificate_signs_an_assertion_entra_verifies() {
    for (host, key, file, authority) in [
        (
            "demo.signalr.azure.cn",
            "ClientCertPath",
            "app.pem",
            "login.chinacloudapi.cn",
        ),
        (
            "demo.service.signalr.net",
            "ClientCert",
            "app-pkcs1.pem",
            "login.microsoftonline.com",
        ),
    ] {
        let auth = format!(
            "AuthType=azure.app;ClientId={CLIENT_ID};TenantId={TENANT};{key}={}",
            fixture(file)
        );
        let (_, entra, _) = through_entra("cloud-certificate", host, &auth, &[]).await;
        assert_eq!(entra.tunnels(), [format!("{authority}:443")], "{file}");
        let requests = entra.requests();
        assert_eq!(requests.len(), 1, "one token for three negotiates");
        assert_eq!(requests[0].refused, None, "{file}: Entra accepts the assertion");
        assert!(requests[0].field("client_assertion").is_some());
        assert_eq!(requests[0].field("client_secret"), None);
    }
}

#[test]
fn a_certificate_that_cannot_sign_stops_the_start_naming_the_setting() {
    let listen = format!("127.0.0.1:{}", free_port());
    for (file, reason) in [
        (
            "missing.pem",
            "the certificate file could not be read (entity not found)",
        ),
        (
            "app-mismatched.pem",
            "the private key does not belong to the certificate",
        ),
        ("app-cert-only.pem", "the PEM file has no unencrypted private key"),
        ("app-ec.pem", "the key is not RSA"),
        ("app.pfx", "the file is PFX (PKCS#12) or DER; this build reads PEM only"),
    ] {
        let cs = format!(
            "Endpoint=https://demo.signalr.azure.cn;AuthType=azure.app;ClientId={CLIENT_ID};TenantId={TENANT};\
            ClientCertPath={}",
            fixture(file)
        );
        let (code, output) = run_binary(
            &[],
            &[("SIGNALR_LISTEN", &listen), ("AzureSignalRConnectionString", &cs)],
        );
        assert_eq!(code, 2, "{file}: {output}");
        let expected = format!(
            "setting AzureSignalRConnectionString: ClientCert (ClientCertPath) in the connection string: {reason}"
        );
        assert!(output.contains(&expected), "{file}: {output}");
        assert!(!output.contains("fixtures"), "the path is not echoed: {output}");
        assert!(!output.contains("PRIVATE KEY-----\nMII"), "no key material: {output}");
    }
}

#[test]
fn entra_overrides_that_could_be_misread_stop_the_start() {
    let cs = "Endpoint=https://demo.signalr.azure.us;AuthType=azure.msi;";
    for (setting, value) in [
        ("AZURE_AUTHORITY_HOST", "http://login.microsoftonline.us"),
        (
            "AZURE_AUTHORITY_HOST",
            "https://login.microsoftonline.us/72f988bf-86f1-41af-91ab-2d7cd011db47",
        ),
        ("SIGNALR_ENTRA_SCOPE", "https://signalr.contoso.test"),
    ] {
        let (code, output) = run_binary(&[], &[("AzureSignalRConnectionString", cs), (setting, value)]);
        assert_eq!(code, 2, "{setting}={value}: {output}");
        assert!(output.contains(&format!("setting {setting}: must be")), "{output}");
        assert!(!output.contains(value), "the value is not echoed: {output}");
    }
}

#[tokio::test]
async fn aad_is_the_older_name_and_reads_as_the_sdk_reads_it() {
    let (fake, port) = start_fake().await;
    let cs = endpoint(
        "demo.signalr.azure.cn",
        port,
        "AuthType=aad;ClientId=user-assigned-client-id",
    );
    fake.expect_resource("https://signalr.azure.cn");
    let answers = negotiate("cloud-aad", &cs, &managed_identity_env(port), 1).await;
    assert_eq!(answers[0].0, 200, "{}", answers[0].1);
    let query = fake.identity_queries.lock().unwrap()[0].clone();
    assert!(
        query.contains("client_id=user-assigned-client-id"),
        "a user-assigned identity: {query}"
    );

    let (_, entra, _) = through_entra(
        "cloud-aad-app",
        "demo.signalr.azure.us",
        &format!("AuthType=AAD;ClientId={CLIENT_ID};TenantId={TENANT};ClientSecret={CLIENT_SECRET}"),
        &[],
    )
    .await;
    assert_eq!(entra.tunnels(), ["login.microsoftonline.us:443"], "an app registration");
    assert_eq!(entra.requests()[0].refused, None);
}

#[test]
fn an_unknown_auth_type_is_refused_not_read_as_an_access_key() {
    let cs = "Endpoint=https://demo.service.signalr.net;AuthType=azure.ad;\
             AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;";
    let (code, output) = run_binary(&[], &[("AzureSignalRConnectionString", cs)]);
    assert_eq!(code, 2, "{output}");
    assert!(
        output.contains("AuthType in the connection string must be azure, azure.msi or azure.app (or aad"),
        "{output}"
    );
    // The access key beside the unknown AuthType is neither used nor shown (run_binary checks
    // every test secret; this one by name, as it is the point of the test).
    assert!(
        !output.contains("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"),
        "{output}"
    );
}
