//! `signalr-negotiate check` through the real binary: the configuration as serving loads it,
//! the health of each endpoint, a decoded sample token, and never a secret in the output.

use std::process::Command;

use crate::common::fake_entra::{ASSERTION_HEADER_START, CLIENT_ID, FakeEntra, TENANT, fixture};
use crate::common::fake_service::{ENTRA_TOKEN, IDENTITY_HEADER, start_fake};
use crate::common::{self, BINARY, KEY};

fn check(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let args: Vec<&str> = std::iter::once("check").chain(args.iter().copied()).collect();
    common::run_binary(&args, env)
}

// The fake is served by this test's runtime while the blocking check runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_configuration_passes_and_prints_no_secret() {
    let (_fake, port) = start_fake().await;
    let cs = format!("Endpoint=http://127.0.0.1;Port={port};AccessKey={KEY};Version=1.0;");
    let (code, output) = check(
        &["--hub", "Chat", "--user", "ada"],
        &[
            ("AzureSignalRConnectionString", &cs),
            ("SIGNALR_APPLICATION_NAME", "shop"),
        ],
    );
    assert_eq!(code, 0, "{output}");
    assert!(!output.contains(KEY), "the key was printed:\n{output}");
    for expected in [
        "endpoint (default) (primary), from AzureSignalRConnectionString",
        &format!("endpoint:   http://127.0.0.1:{port}"),
        "auth:       access key (not shown)",
        "health:     ok",
        r#""alg":"HS256""#,
        r#""aud":"http://127.0.0.1/client/?hub=shop_chat""#,
        r#""asrs.s.uid":"ada""#,
        "result: OK",
    ] {
        assert!(output.contains(expected), "missing {expected:?} in:\n{output}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_endpoints_are_sampled_through_the_service() {
    let (fake, port) = start_fake().await;
    let cs = format!("Endpoint=http://127.0.0.1;Port={port};AuthType=azure.msi;Version=1.0;");
    let identity = format!("http://127.0.0.1:{port}/msi/token");
    let (code, output) = check(
        &[],
        &[
            ("AzureSignalRConnectionString", &cs),
            ("IDENTITY_ENDPOINT", &identity),
            ("IDENTITY_HEADER", IDENTITY_HEADER),
        ],
    );
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains("Microsoft Entra ID: managed identity, system-assigned; generate-token mode"),
        "{output}"
    );
    assert_eq!(fake.count(|c| &c.generate), 1);
    for secret in [IDENTITY_HEADER, ENTRA_TOKEN, "service-made-token"] {
        assert!(!output.contains(secret), "{secret} was printed:\n{output}");
    }
}

// The fakes are served by this test's runtime while the blocking check runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_endpoints_show_their_cloud_scope_and_authority() {
    let (fake, port) = start_fake().await;
    fake.expect_resource("https://signalr.azure.cn");
    let cs = format!(
        "Endpoint=https://demo.signalr.azure.cn;ServerEndpoint=http://127.0.0.1:{port};AuthType=azure.msi;Version=1.0;"
    );
    let identity = format!("http://127.0.0.1:{port}/msi/token");
    let (code, output) = check(
        &[],
        &[
            ("AzureSignalRConnectionString", &cs),
            ("IDENTITY_ENDPOINT", &identity),
            ("IDENTITY_HEADER", IDENTITY_HEADER),
        ],
    );
    assert_eq!(code, 0, "{output}");
    for expected in [
        "cloud:      Azure China (from the host of Endpoint)",
        "scope:      https://signalr.azure.cn/.default (from the cloud)",
        "authority:  https://login.chinacloudapi.cn (not used: a managed identity asks its local endpoint)",
    ] {
        assert!(output.contains(expected), "missing {expected:?} in:\n{output}");
    }

    let (fake, port) = start_fake().await;
    let (entra, proxy) = FakeEntra::start().await;
    let cs = format!(
        "Endpoint=https://demo.signalr.azure.us;ServerEndpoint=http://127.0.0.1:{port};AuthType=azure.app;\
        ClientId={CLIENT_ID};TenantId={TENANT};ClientCert={};",
        fixture("app.pem")
    );
    let [(proxy_name, proxy_value), (ca_name, ca_value)] = FakeEntra::env(proxy);
    let (code, output) = check(
        &[],
        &[
            ("AzureSignalRConnectionString", &cs),
            ("SIGNALR_ENTRA_SCOPE", "https://signalr.contoso.test/.default"),
            ("AZURE_AUTHORITY_HOST", "https://login.sovereign.test"),
            (proxy_name, &proxy_value),
            (ca_name, &ca_value),
        ],
    );
    assert_eq!(code, 0, "{output}");
    for expected in [
        &format!("client certificate (key not shown), tenant {TENANT}, client id {CLIENT_ID}"),
        "cloud:      Azure Government (from the host of Endpoint)",
        "scope:      https://signalr.contoso.test/.default (from SIGNALR_ENTRA_SCOPE)",
        "authority:  https://login.sovereign.test (from AZURE_AUTHORITY_HOST)",
    ] {
        assert!(output.contains(expected), "missing {expected:?} in:\n{output}");
    }
    assert_eq!(entra.tunnels(), ["login.sovereign.test:443"]);
    assert_eq!(
        entra.requests()[0].field("scope"),
        Some("https://signalr.contoso.test/.default")
    );
    assert_eq!(fake.count(|c| &c.generate), 1);
    assert!(!output.contains(ASSERTION_HEADER_START) && !output.contains("PRIVATE KEY-----"));
}

#[test]
fn an_unreachable_endpoint_is_a_problem() {
    let cs = format!(
        "Endpoint=http://127.0.0.1;Port={};AccessKey={KEY};",
        common::free_port()
    );
    let (code, output) = check(&[], &[("AzureSignalRConnectionString", &cs)]);
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("health:     PROBLEM"), "{output}");
    assert!(!output.contains(KEY));
}

#[test]
fn a_bad_setting_exits_2_naming_it() {
    let cs = format!("Endpoint=ftp://x;AccessKey={KEY}");
    let (code, output) = check(&[], &[("AzureSignalRConnectionString", &cs)]);
    assert_eq!(code, 2, "{output}");
    assert!(output.contains("setting AzureSignalRConnectionString:"), "{output}");
    assert!(!output.contains(KEY));
    let (code, output) = check(&["--hub", "a/b"], &[]);
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("PROBLEM (400)"), "{output}");
}

#[test]
fn help_and_unknown_commands() {
    let help = Command::new(BINARY).arg("--help").output().unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("check [--hub HUB] [--user USER]") && text.contains("SIGNALR_CORS_ORIGINS"));
    let unknown = Command::new(BINARY).arg("serve-all").output().unwrap();
    assert_eq!(unknown.status.code(), Some(2));
}

/// `check` says what serving warns of a connection string, naming the setting and the key.
#[test]
fn connection_string_slips_are_named() {
    let cs = format!(
        "Endpoint=http://127.0.0.1;Port={};AccessKey={KEY};ClientEndpiont=https://proxy.example.com;ClientId=c0ffee",
        common::free_port()
    );
    let (code, output) = check(&[], &[("AzureSignalRConnectionString", &cs)]);
    assert_eq!(code, 1, "unreachable: {output}");
    for warning in [
        "warning: AzureSignalRConnectionString: ClientEndpiont in the connection string is not a key the SDK reads, \
        so it is ignored: did you mean ClientEndpoint?",
        "warning: AzureSignalRConnectionString: ClientId in the connection string is ignored without AuthType \
        (tokens are signed with AccessKey): it is used by AuthType=azure.msi, azure or azure.app",
    ] {
        assert!(output.contains(warning), "missing {warning:?} in:\n{output}");
    }
    assert!(
        !output.contains("proxy.example.com") && !output.contains("c0ffee"),
        "{output}"
    );
}
