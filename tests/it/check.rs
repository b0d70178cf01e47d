//! `signalr-negotiate check` through the real binary: the configuration as serving loads it,
//! the health of each endpoint, a decoded sample token, the proof against the stand-in service
//! (its client negotiate, its REST API, its clock), and never a secret in the output.

use std::process::Command;

use crate::common::fake_entra::{ASSERTION_HEADER_START, CLIENT_ID, FakeEntra, TENANT, fixture};
use crate::common::fake_service::{ENTRA_TOKEN, IDENTITY_HEADER, start_fake};
use crate::common::{self, BINARY, KEY};

/// Fails naming the first of `expected` that the output does not contain.
fn says<S: AsRef<str>>(output: &str, expected: impl IntoIterator<Item = S>) {
    for expected in expected {
        let expected = expected.as_ref();
        assert!(output.contains(expected), "missing {expected:?} in:\n{output}");
    }
}

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
    says(
        &output,
        [
            "endpoint (default) (primary), from AzureSignalRConnectionString",
            &format!("endpoint:   http://127.0.0.1:{port}"),
            "auth:       access key (not shown)",
            "health:     ok",
            r#""alg":"HS256""#,
            r#""aud":"http://127.0.0.1/client/?hub=shop_chat""#,
            r#""asrs.s.uid":"ada""#,
            "result: OK",
        ],
    );
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
    // Clients reach the stand-in, which `check` presents the sample token to.
    let cs = format!(
        "Endpoint=https://demo.signalr.azure.cn;ServerEndpoint=http://127.0.0.1:{port};\
        ClientEndpoint=http://127.0.0.1:{port};AuthType=azure.msi;Version=1.0;"
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
    says(
        &output,
        [
            "cloud:      Azure China (from the host of Endpoint)",
            "scope:      https://signalr.azure.cn/.default (from the cloud)",
            "authority:  https://login.chinacloudapi.cn (not used: a managed identity asks its local endpoint)",
        ],
    );

    let (fake, port) = start_fake().await;
    let (entra, proxy) = FakeEntra::start().await;
    let cs = format!(
        "Endpoint=https://demo.signalr.azure.us;ServerEndpoint=http://127.0.0.1:{port};\
        ClientEndpoint=http://127.0.0.1:{port};AuthType=azure.app;ClientId={CLIENT_ID};TenantId={TENANT};ClientCert={};",
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
    says(
        &output,
        [
            &format!("client certificate (key not shown), tenant {TENANT}, client id {CLIENT_ID}"),
            "cloud:      Azure Government (from the host of Endpoint)",
            "scope:      https://signalr.contoso.test/.default (from SIGNALR_ENTRA_SCOPE)",
            "authority:  https://login.sovereign.test (from AZURE_AUTHORITY_HOST)",
        ],
    );
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

/// The key of another resource: the stand-in's, when the binary signs with [`KEY`].
const OTHER_RESOURCES_KEY: &str = "OtherResourceKey0123456789abcdefghijklmnopqrs";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_takes_the_right_key_and_refuses_another_resources() {
    let (fake, port) = start_fake().await;
    let cs = format!("Endpoint=http://127.0.0.1;Port={port};AccessKey={KEY};Version=1.0;");
    let (code, output) = check(&[], &[("AzureSignalRConnectionString", &cs)]);
    assert_eq!(code, 0, "{output}");
    says(
        &output,
        [
            "clock:      ok:",
            "result: OK",
            &format!(
                "negotiate:  ok: the service took the sample token (POST http://127.0.0.1:{port}/client/negotiate \
            answered 200)"
            ),
            &format!(
                "REST API:   ok: http://127.0.0.1:{port} took a server token signed with the AccessKey (HEAD users: 404, \
            no such user)"
            ),
        ],
    );
    assert_eq!(fake.count(|c| &c.client_negotiates), 1);
    assert_eq!(fake.count(|c| &c.user_calls), 1);

    fake.use_key(OTHER_RESOURCES_KEY);
    let (code, output) = check(&[], &[("AzureSignalRConnectionString", &cs)]);
    assert_eq!(code, 1, "{output}");
    says(
        &output,
        [
            "negotiate:  PROBLEM: the service refused the sample token (401: The signature key was not found): the \
        AccessKey in AzureSignalRConnectionString is not a key of this resource (rotated? copied from another \
        resource?): copy a current key from the resource's Keys into AzureSignalRConnectionString",
            &format!(
                "REST API:   PROBLEM: http://127.0.0.1:{port} refused a server token signed with the AccessKey (401: The \
            signature key was not found): the AccessKey in AzureSignalRConnectionString is not a key of the resource \
            at Endpoint"
            ),
            "result: 2 problem(s)",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_endpoint_that_leads_elsewhere_is_named() {
    let (resource, port) = start_fake().await;
    let (elsewhere, other_port) = start_fake().await;
    elsewhere.use_key(OTHER_RESOURCES_KEY);
    let cs = format!(
        "Endpoint=http://127.0.0.1;Port={port};ClientEndpoint=http://127.0.0.1:{other_port};AccessKey={KEY};Version=1.0;"
    );
    let (code, output) = check(&[], &[("AzureSignalRConnectionString", &cs)]);
    assert_eq!(code, 1, "{output}");
    let expected = "negotiate:  PROBLEM: through ClientEndpoint, the service refused the sample token (401: The \
        signature key was not found); through Endpoint the service took it: ClientEndpoint in \
        AzureSignalRConnectionString does not lead to this resource (another resource's URL, or a proxy that routes \
        elsewhere): correct it or remove it";
    assert!(output.contains(expected), "missing {expected:?} in:\n{output}");
    assert!(output.contains("REST API:   ok:"), "{output}");
    assert!(output.contains("result: 1 problem(s)"), "{output}");
    assert_eq!(elsewhere.count(|c| &c.client_negotiates), 1);
    assert_eq!(resource.count(|c| &c.client_negotiates), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identity_without_its_role_is_named_with_the_roles_that_grant_it() {
    const IDENTITY: &str = "7d1c5b8e-0a4f-4e2b-9c3d-5f6a7b8c9d0e";
    for (mode, action, roles) in [
        (
            "generate-token",
            "Microsoft.SignalRService/SignalR/auth/clientToken/action",
            "SignalR REST API Owner or SignalR Service Owner",
        ),
        (
            "access-key",
            "Microsoft.SignalRService/SignalR/auth/accessKey/action",
            "SignalR App Server or SignalR Service Owner",
        ),
    ] {
        let (fake, port) = start_fake().await;
        fake.deny_role();
        let cs = format!("Endpoint=http://127.0.0.1;Port={port};AuthType=azure.msi;ClientId={IDENTITY};Version=1.0;");
        let identity = format!("http://127.0.0.1:{port}/msi/token");
        let (code, output) = check(
            &[],
            &[
                ("AzureSignalRConnectionString", &cs),
                ("IDENTITY_ENDPOINT", &identity),
                ("IDENTITY_HEADER", IDENTITY_HEADER),
                ("SIGNALR_ENTRA_MODE", mode),
            ],
        );
        assert_eq!(code, 1, "{output}");
        let expected = format!(
            "REST API:   PROBLEM: the service refused the managed identity with client id {IDENTITY} \
            (ManagedIdentityCredential) (403): it has no role on this resource that grants {action}, which {mode} \
            mode needs: assign it {roles} (an assignment takes up to 30 minutes to apply)"
        );
        assert!(output.contains(&expected), "missing {expected:?} in:\n{output}");
        assert_eq!(fake.count(|c| &c.client_negotiates), 0, "no token to present");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_clock_hours_ahead_is_named_with_its_size() {
    let (fake, port) = start_fake().await;
    fake.skew_clock(2 * 3600);
    let cs = format!("Endpoint=http://127.0.0.1;Port={port};AccessKey={KEY};Version=1.0;");
    let (code, output) = check(&[], &[("AzureSignalRConnectionString", &cs)]);
    assert_eq!(code, 1, "{output}");
    says(
        &output,
        [
            "clock:      PROBLEM: this machine's clock is 2 h behind the service's: by the service's clock every token \
        (lifetime 60 min) has expired when it is made; set this machine's clock (NTP)",
            "negotiate:  PROBLEM: the service refused the sample token (401: The token expired at",
            "by the service's clock the token is outside its lifetime (see clock)",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_sends_nothing_and_says_so() {
    // Two endpoints (their health would be probed in the background) and an Entra one.
    let (fake, port) = start_fake().await;
    let (other, other_port) = start_fake().await;
    let cs = format!("Endpoint=http://127.0.0.1;Port={port};AccessKey={KEY};Version=1.0;");
    let other_cs = format!("Endpoint=http://127.0.0.1;Port={other_port};AccessKey={KEY};Version=1.0;");
    let entra = format!("Endpoint=http://localhost;Port={port};AuthType=azure.msi;Version=1.0;");
    let identity = format!("http://127.0.0.1:{port}/msi/token");
    let (code, output) = check(
        &["--offline"],
        &[
            ("Azure__SignalR__Endpoints__a", &cs),
            ("Azure__SignalR__Endpoints__b", &other_cs),
            ("Azure__SignalR__Endpoints__c", &entra),
            ("IDENTITY_ENDPOINT", &identity),
            ("IDENTITY_HEADER", IDENTITY_HEADER),
        ],
    );
    assert_eq!(code, 0, "{output}");
    says(
        &output,
        [
            "offline: nothing is sent over the network",
            "health:     not probed (--offline)",
            r#""aud":"http://127.0.0.1/client/?hub=chat""#,
            "sample:     not made (--offline: the service makes or signs a Microsoft Entra endpoint's tokens)",
            "ThrottleByJwtSignatureRule, TrafficThrottleByJwtSignatureRule: partly: the tokens of c are made by the \
        service",
            "result: OK",
        ],
    );
    assert!(!output.contains("negotiate:"), "{output}");
    assert_eq!(fake.count(|c| &c.connections), 0, "the stand-in was reached");
    assert_eq!(other.count(|c| &c.connections), 0, "the other stand-in was reached");
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

/// `check --user '[a b]'` shows what a user id claim with several values gives (API Gateway
/// writes an array so): no user id, and with `SIGNALR_AUTH_REQUIRED=true` a 401.
#[test]
fn a_sample_user_with_several_values_shows_no_user_id_or_a_401() {
    let cs = format!("Endpoint=http://127.0.0.1;Port=9;AccessKey={KEY};Version=1.0;");
    let env = [("AzureSignalRConnectionString", cs.as_str())];
    let (code, output) = check(&["--offline", "--user", "[alice mallory]"], &env);
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains("user [alice mallory]: several values (or none) of the user id claim: no user id"),
        "{output}"
    );
    assert!(!output.contains("asrs.s.uid"), "{output}");

    let required = [
        env[0],
        ("SIGNALR_AUTH", "app-service"),
        ("WEBSITE_AUTH_ENABLED", "True"),
        ("SIGNALR_AUTH_REQUIRED", "true"),
    ];
    let (code, output) = check(&["--offline", "--user", "[alice mallory]"], &required);
    assert_eq!(code, 0, "{output}");
    says(
        &output,
        [
            "user [alice mallory]: such a caller gets a 401: the caller's user id claim (sub) has several values",
            "sample:     none: such a caller gets a 401 (above)",
        ],
    );
    let (_, output) = check(&["--offline", "--user", "alice"], &required);
    assert!(output.contains(r#""asrs.s.uid":"alice""#), "{output}");
}

#[test]
fn web_pubsub_endpoints_are_listed_with_their_client_url_and_a_sample() {
    let cs = format!("Endpoint=https://demo.webpubsub.azure.com;AccessKey={KEY};Version=1.0;");
    let (code, output) = check(
        &["--offline", "--hub", "Chat"],
        &[
            ("WebPubSubConnectionString", &cs),
            ("WEBPUBSUB_CLIENT_PROTOCOL", "mqtt"),
            ("WEBPUBSUB_ROLES", "webpubsub.sendToGroup"),
        ],
    );
    assert_eq!(code, 0, "{output}");
    says(
        &output,
        [
            "Web PubSub endpoint (default) (primary), from WebPubSubConnectionString",
            "clients to: wss://demo.webpubsub.azure.com/clients/mqtt/hubs/{hub}?access_token={token}",
            r#""aud":"https://demo.webpubsub.azure.com/clients/mqtt/hubs/Chat""#,
            r#""role":["webpubsub.sendToGroup"]"#,
            "    url:    wss://demo.webpubsub.azure.com/clients/mqtt/hubs/Chat\n",
        ],
    );
    assert!(
        !output.contains("access_token=eyJ"),
        "a signed token was printed:\n{output}"
    );
}
