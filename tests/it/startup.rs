//! Start-up through the real binary: a bad setting stops the process with exit code 2 and a
//! message naming the setting, never echoing a key.

use crate::common::{self, KEY, fake_entra};

fn start(env: &[(&str, &str)]) -> (i32, String) {
    common::run_binary(&[], env)
}

#[test]
fn malformed_settings_stop_the_start_with_exit_code_2() {
    let cases: &[(&str, String, &str)] = &[
        (
            "AzureSignalRConnectionString",
            format!("AccessKey={KEY}"),
            "no Endpoint",
        ),
        (
            "AzureSignalRConnectionString",
            format!("Endpoint=ftp://x;AccessKey={KEY}"),
            "Endpoint in the connection string must be",
        ),
        (
            "Azure__SignalR__ConnectionString",
            format!("Endpoint=https://x;AccessKey={KEY};Port=99999"),
            "Port",
        ),
        (
            "AzureSignalRConnectionString",
            format!("Endpoint=https://x;AccessKey={KEY};Version=2.0"),
            "Version",
        ),
        (
            "AzureSignalRConnectionString",
            format!("Endpoint=https://x;AccessKey={KEY};accesskey={KEY}"),
            "Duplicate properties",
        ),
        (
            "AzureSignalRConnectionString",
            "Endpoint=https://x".to_owned(),
            "AccessKey is required",
        ),
        (
            "AzureSignalRConnectionString",
            "Endpoint=https://x;AuthType=azure.app;ClientId=c".to_owned(),
            "TenantId",
        ),
        (
            "AzureSignalRConnectionString",
            format!("Endpoint=https://x;AuthType=kerberos;AccessKey={KEY}"),
            "AuthType",
        ),
        (
            "AzureSignalRConnectionString",
            "@Microsoft.KeyVault(SecretUri=https://contoso.vault.azure.net/secrets/signalr/)".to_owned(),
            "Key Vault reference the platform could not resolve",
        ),
        (
            "Azure__SignalR__Endpoints__east",
            "@Microsoft.KeyVault(VaultName=contoso;SecretName=signalr)".to_owned(),
            "managed identity",
        ),
        ("SIGNALR_TOKEN_LIFETIME_SECONDS", "0".to_owned(), "from 1 to 86400"),
        ("SIGNALR_AUTH", "app-service".to_owned(), "WEBSITE_AUTH_ENABLED=True"),
        ("SIGNALR_CLAIMS", "[1,2]".to_owned(), "JSON object"),
        ("SIGNALR_HUB", "a/b".to_owned(), "hub name"),
        ("SIGNALR_LISTEN", "nowhere".to_owned(), "IP address and port"),
        ("FUNCTIONS_CUSTOMHANDLER_PORT", "seventy".to_owned(), "port number"),
    ];
    for (setting, value, reason) in cases {
        let (code, output) = start(&[(setting, value)]);
        assert_eq!(code, 2, "{setting}={value}: {output}");
        assert!(output.contains(&format!("setting {setting}:")), "{setting}: {output}");
        assert!(output.contains(reason), "{setting}: expected {reason:?} in {output}");
        assert!(!output.contains(KEY), "{setting}: the key was echoed: {output}");
    }
}

/// Starts the binary with exactly `env`: it must refuse to start, with exit code 2, within
/// 10 s (one that serves instead is killed, and the test fails). Returns what it printed.
fn refused(name: &str, env: &[(&str, &str)]) -> String {
    let listen = format!("127.0.0.1:{}", common::free_port());
    let env: Vec<(&str, &str)> = std::iter::once(("SIGNALR_LISTEN", listen.as_str()))
        .chain(env.iter().copied())
        .collect();
    let mut function = common::Function::spawn(name, &env);
    let status = function.wait_exit(std::time::Duration::from_secs(10));
    let output = function.logs();
    let status = status.unwrap_or_else(|| panic!("{name}: started instead of refusing:\n{output}"));
    assert_eq!(status.code(), Some(2), "{name}: {output}");
    output
}

#[test]
fn a_setting_set_twice_to_different_values_stops_the_start() {
    let output = refused(
        "twice",
        &[("SIGNALR_AUTH_REQUIRED", "true"), ("signalr_auth_required", "false")],
    );
    assert!(
        output.contains("setting SIGNALR_AUTH_REQUIRED: is also set as signalr_auth_required"),
        "{output}"
    );
    let other = format!("Endpoint=https://other;AccessKey={KEY}");
    let cs = format!("Endpoint=https://x;AccessKey={KEY}");
    let output = refused(
        "twice-colon",
        &[
            ("Azure__SignalR__ConnectionString", &cs),
            ("Azure:SignalR:ConnectionString", &other),
        ],
    );
    assert!(
        output.contains("setting Azure:SignalR:ConnectionString: is also set as Azure__SignalR__ConnectionString"),
        "{output}"
    );
    assert!(!output.contains(KEY), "{output}");
}

/// `SIGNALR_DEV_QUERY_USER` lets any caller name itself: refused beside
/// `SIGNALR_AUTH_REQUIRED=true`, on Lambda and on a deployed Function App.
#[test]
fn the_dev_query_user_is_refused_where_it_would_let_anyone_in() {
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let dev = ("SIGNALR_DEV_QUERY_USER", "true");
    let cs = common::connection_string("https://demo.service.signalr.net");
    let cs = ("AzureSignalRConnectionString", cs.as_str());
    let cases: [Case; 3] = [
        (
            "dev-user-required",
            &[dev, ("SIGNALR_AUTH_REQUIRED", "true")],
            "contradicts SIGNALR_AUTH_REQUIRED=true",
        ),
        (
            "dev-user-lambda",
            &[dev, cs, ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")],
            "refused on AWS Lambda and on a deployed Function App",
        ),
        (
            "dev-user-function-app",
            &[
                dev,
                cs,
                ("FUNCTIONS_CUSTOMHANDLER_PORT", "9"),
                ("WEBSITE_INSTANCE_ID", "0a1b2c3d4e5f"),
            ],
            "refused on AWS Lambda and on a deployed Function App",
        ),
    ];
    for (name, env, reason) in cases {
        let output = refused(name, env);
        assert!(output.contains("setting SIGNALR_DEV_QUERY_USER:"), "{name}: {output}");
        assert!(output.contains(reason), "{name}: {output}");
    }
}

#[tokio::test]
async fn the_dev_query_user_still_works_under_func_start() {
    let port = common::free_port();
    let port_text = port.to_string();
    let mut function = common::Function::spawn(
        "dev-user-func-start",
        &[
            ("SIGNALR_DEV_QUERY_USER", "true"),
            ("FUNCTIONS_CUSTOMHANDLER_PORT", &port_text),
            ("AZURE_FUNCTIONS_ENVIRONMENT", "Development"),
        ],
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    common::wait_ready(&client, &base, &mut function).await;
    let response = client
        .post(format!("{base}/api/chat/negotiate?userId=ada"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    let claims = common::verify_token(
        body["accessToken"].as_str().unwrap(),
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH",
    );
    assert_eq!(claims["asrs.s.uid"], "ada");
}

#[test]
fn a_port_in_use_is_a_clear_failure_not_a_panic() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, output) = start(&[("SIGNALR_LISTEN", &addr)]);
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("cannot listen"), "{output}");
    assert!(!output.contains("panicked"), "{output}");
}

#[tokio::test]
async fn ctrl_c_stops_the_local_server_cleanly() {
    let listen = format!("127.0.0.1:{}", common::free_port());
    let mut function = common::Function::spawn("ctrl-c", &[("SIGNALR_LISTEN", &listen)]);
    common::wait_ready(&reqwest::Client::new(), &format!("http://{listen}"), &mut function).await;
    function.signal("INT");
    let status = function
        .wait_exit(std::time::Duration::from_secs(5))
        .expect("exits after Ctrl-C");
    assert!(status.success(), "{status}");
}

/// Connection-string mistakes the service would refuse anyway stop the start, naming the
/// setting and the key, never a value.
#[test]
fn connection_string_mistakes_stop_the_start_naming_the_key() {
    let secret = fake_entra::CLIENT_SECRET;
    let cases: &[(String, &str)] = &[
        (
            format!("\"Endpoint=https://x.service.signalr.net;AccessKey={KEY};Version=1.0;\""),
            "the connection string is in quotes: remove the quotes around it",
        ),
        (
            format!("Endpoint=https://x.service.signalr.net;AccessKey=\"{KEY}\";Version=1.0;"),
            "AccessKey in the connection string is in quotes: remove them",
        ),
        (
            format!("Endpoint=https://x;AuthType=azure.app;ClientId=c;TenantId=t;ClientSecret='{secret}'"),
            "ClientSecret in the connection string is in quotes: remove them",
        ),
        (
            "Endpoint=https://<my_signalr>.service.signalr.net;AccessKey=<my-signalr-key>;Version=1.0;".to_owned(),
            "Endpoint in the connection string is still a placeholder",
        ),
        (
            "Endpoint=https://x.service.signalr.net;AccessKey=<my-signalr-key>;Version=1.0;".to_owned(),
            "AccessKey in the connection string is still a placeholder",
        ),
        (
            format!("Endpiont=https://x.service.signalr.net;AccessKey={KEY}"),
            "Endpoint is missing from the connection string: Endpiont is not a key the SDK reads; did you mean \
            Endpoint?",
        ),
    ];
    for (value, reason) in cases {
        let (code, output) = start(&[("AzureSignalRConnectionString", value)]);
        assert_eq!(code, 2, "{value}: {output}");
        let expected = format!("setting AzureSignalRConnectionString: {reason}");
        assert!(output.contains(&expected), "expected {expected:?} in {output}");
        for value in ["my_signalr", "my-signalr-key", "x.service.signalr.net"] {
            assert!(!output.contains(value), "a value is echoed: {output}");
        }
    }
}

/// What the SDK would read past is said once the function serves, naming the setting and the key.
#[test]
fn connection_string_slips_are_warned_at_start() {
    let cases = [
        (
            "misspelt-key",
            format!("Endpoint=http://127.0.0.1:9;AccessKey={KEY};ClientEndpiont=https://proxy.example.com"),
            "AzureSignalRConnectionString: ClientEndpiont in the connection string is not a key the SDK reads, so it \
            is ignored: did you mean ClientEndpoint?",
        ),
        (
            "msi-with-secret",
            format!(
                "Endpoint=http://127.0.0.1:9;AuthType=azure.msi;ClientId={};ClientSecret={}",
                fake_entra::CLIENT_ID,
                fake_entra::CLIENT_SECRET
            ),
            "AzureSignalRConnectionString: ClientSecret in the connection string is ignored with AuthType=azure.msi: \
            it is used by AuthType=azure.app",
        ),
        (
            "port-conflict",
            format!("Endpoint=http://127.0.0.1:9;Port=10;AccessKey={KEY}"),
            "AzureSignalRConnectionString: Port in the connection string and the port written in its Endpoint \
            differ: Port wins (as in the SDK, it replaces the port of Endpoint); remove one of them",
        ),
    ];
    for (name, cs, warning) in cases {
        let listen = format!("127.0.0.1:{}", common::free_port());
        // Its logs are scanned for every test secret when it is dropped.
        let function = common::Function::spawn(
            name,
            &[("SIGNALR_LISTEN", &listen), ("AzureSignalRConnectionString", &cs)],
        );
        let logs = function.logs_with(warning);
        assert!(logs.contains(warning), "{name}: expected {warning:?} in {logs}");
        assert!(!logs.contains("proxy.example.com"), "{name}: a value is echoed: {logs}");
    }
}

/// A connection string given as an argument is refused without being echoed, pointing to the
/// setting where it belongs.
#[test]
fn a_connection_string_on_the_command_line_is_refused_unechoed() {
    let cs = common::connection_string("https://demo.service.signalr.net");
    for args in [vec![cs.as_str()], vec!["check", cs.as_str()]] {
        // The key is among the secrets run_binary fails on.
        let (code, output) = common::run_binary(&args, &[]);
        assert_eq!(code, 2, "{output}");
        assert!(
            output.contains("an argument looks like a connection string (not shown: it holds a key)")
                && output.contains("set AzureSignalRConnectionString to it instead"),
            "{output}"
        );
        assert!(!output.contains("demo.service.signalr.net"), "{output}");
    }
}

/// Claims no token can carry stop the start: a unique claim asked of the service's tokens, and
/// fixed claims too long for even the shortest token.
#[test]
fn claims_no_token_can_carry_stop_the_start() {
    let entra = (
        "AzureSignalRConnectionString",
        "Endpoint=https://x.service.signalr.net;AuthType=azure.msi;Version=1.0;",
    );
    let (code, output) = start(&[entra, ("SIGNALR_UNIQUE_CLAIM", "jti")]);
    assert_eq!(code, 2, "{output}");
    assert!(
        output.contains("setting SIGNALR_UNIQUE_CLAIM: names a unique-token claim")
            && output.contains("set SIGNALR_ENTRA_MODE=access-key"),
        "{output}"
    );
    let claims = serde_json::json!({ "tier": "p".repeat(4000) }).to_string();
    let (code, output) = start(&[("SIGNALR_CLAIMS", &claims)]);
    assert_eq!(code, 2, "{output}");
    assert!(
        output.contains(
            "setting SIGNALR_CLAIMS: makes every token of endpoint (default) longer than the service accepts"
        ),
        "{output}"
    );
    assert!(!output.contains("pppp"), "{output}");
}

/// A refused `SIGNALR_CORS_ORIGINS` names the setting and the entry at fault, and only that
/// entry (an origin is no secret; in a list it is what says which one to fix).
#[test]
fn a_refused_cors_origin_is_named() {
    for (list, entry) in [
        (
            "https://app.example.com, https://app.example.com/signalr",
            "https://app.example.com/signalr",
        ),
        ("http://localhost:8080,*", "*"),
        ("https://*.contoso.com, https://*contoso.net", "https://*contoso.net"),
        ("app.example.com", "app.example.com"),
    ] {
        let (code, output) = start(&[("SIGNALR_CORS_ORIGINS", list)]);
        assert_eq!(code, 2, "{list}: {output}");
        assert!(
            output.contains(&format!("setting SIGNALR_CORS_ORIGINS: the entry \"{entry}\" ")),
            "{list}: {output}"
        );
        let others: Vec<&str> = list.split(',').map(str::trim).filter(|e| *e != entry).collect();
        for other in others {
            assert!(
                !output.contains(&format!("\"{other}\"")),
                "{list}: names {other}: {output}"
            );
        }
    }
}

/// A file a setting names is opened only when it is a regular file, and read up to a cap:
/// `/dev/zero`, a FIFO, a directory or a file too large for a certificate or a token stops the
/// start at once, with exit code 2 naming the setting, and nothing of the file (nor its path)
/// is shown.
#[test]
fn files_named_by_settings_must_be_small_regular_files() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("named-files-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("a-directory")).unwrap();
    let fifo = dir.join("a-fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success(), "mkfifo");
    let large = dir.join("large.pem");
    std::fs::write(&large, "-----BEGIN CERTIFICATE-----\nLARGEFILECONTENT".repeat(4096)).unwrap();
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let files = [
        ("/dev/zero".to_owned(), "is a character device, not a regular file"),
        (path("a-fifo"), "is a FIFO (named pipe), not a regular file"),
        (path("a-directory"), "is a directory, not a regular file"),
        (path("large.pem"), "is larger than 64 KiB"),
    ];
    let tenant = fake_entra::TENANT;
    let client = fake_entra::CLIENT_ID;
    for (file, reason) in &files {
        let certificate = format!(
            "Endpoint=https://demo.service.signalr.net;AuthType=azure.app;ClientId={client};TenantId={tenant};\
            ClientCertPath={file}"
        );
        let chain = "Endpoint=https://demo.service.signalr.net;AuthType=azure;Version=1.0;".to_owned();
        let cases = [
            (
                vec![("AzureSignalRConnectionString", certificate)],
                format!(
                    "setting AzureSignalRConnectionString: ClientCert (ClientCertPath) in the connection string: \
                    the certificate file {reason}"
                ),
            ),
            (
                vec![
                    ("AzureSignalRConnectionString", chain),
                    ("AZURE_FEDERATED_TOKEN_FILE", file.clone()),
                    ("AZURE_TENANT_ID", tenant.to_owned()),
                    ("AZURE_CLIENT_ID", client.to_owned()),
                ],
                format!("AZURE_FEDERATED_TOKEN_FILE: the token file {reason}"),
            ),
        ];
        for (env, expected) in cases {
            let listen = format!("127.0.0.1:{}", common::free_port());
            let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            env.push(("SIGNALR_LISTEN", &listen));
            let started = std::time::Instant::now();
            // 4 GiB of address space: what reading /dev/zero whole would take, failing here.
            let mut function = common::Function::spawn_with_memory_limit("named-file", &env, 4 * 1024 * 1024);
            let status = function.wait_exit(std::time::Duration::from_secs(5));
            let took = started.elapsed();
            let output = function.logs();
            let status = status.unwrap_or_else(|| panic!("{file}: still starting after 5 s:\n{output}"));
            assert_eq!(status.code(), Some(2), "{file}: {output}");
            assert!(
                took < std::time::Duration::from_secs(3),
                "{file}: refused after {took:?}"
            );
            assert!(
                output.contains(&expected),
                "{file}: expected {expected:?} in:\n{output}"
            );
            assert!(!output.contains("named-files"), "the path is echoed: {output}");
            assert!(!output.contains("LARGEFILECONTENT"), "the file is shown: {output}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
