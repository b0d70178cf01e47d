//! The service SDK's connection options and claim rules, through the real binary: each
//! setting's claim with the SDK's exact value, each value out of the SDK's range refused at
//! start, diagnostic clients granted only to callers with the configured claim value, `sub`
//! kept once, and `{SIGNALR_APPLICATION_NAME}_{hub}` within the service's 128 characters.

use base64::Engine as _;
use serde_json::json;

use crate::common::fake_service::start_fake;
use crate::common::oidc::{RSA_KID, TestIssuer};
use crate::common::{self, KEY};
use crate::login_bound::{negotiate, oidc_env, serve};

#[tokio::test]
async fn each_option_reaches_every_token_with_the_sdks_value() {
    // Two endpoints (the fake answers their health probes): the SDK then sends the count.
    let (_east, east) = start_fake().await;
    let (_west, west) = start_fake().await;
    let east_cs = format!("Endpoint=http://127.0.0.1;Port={east};AccessKey={KEY};Version=1.0;");
    let west_cs = format!("Endpoint=http://127.0.0.1;Port={west};AccessKey={KEY};Version=1.0;");
    let (_function, base) = serve(
        "connection-options",
        &[
            ("Azure__SignalR__Endpoints__east", east_cs.as_str()),
            ("Azure__SignalR__Endpoints__west", west_cs.as_str()),
            ("SIGNALR_ENABLE_DETAILED_ERRORS", "true"),
            ("SIGNALR_HANDSHAKE_TIMEOUT_SECONDS", "20"),
            ("SIGNALR_MAX_POLL_INTERVAL_SECONDS", "5"),
            ("SIGNALR_TRANSPORTS", "WebSockets,ServerSentEvents"),
        ],
    )
    .await;
    for endpoint in ["east", "west"] {
        let got = negotiate(&base, &format!("/api/chat/negotiate?endpoint={endpoint}"), None)
            .await
            .claims();
        assert_eq!(got["asrs.s.derror"], "True", "the SDK writes true.ToString()");
        assert_eq!(got["asrs.s.cht"], "20");
        assert_eq!(got["asrs.s.ttl"], "5");
        assert_eq!(got["asrs.s.htt"], "3", "WebSockets (1) | ServerSentEvents (2)");
        assert_eq!(got["asrs.s.secn"], "2");
        assert!(
            !got.contains_key("asrs.s.dc") && !got.contains_key("asrs.s.coae"),
            "{got:?}"
        );
    }

    // Nothing set, one endpoint: none of them (the default handshake timeout is not sent).
    let (_plain, plain) = serve(
        "connection-options-none",
        &[
            ("AzureSignalRConnectionString", east_cs.as_str()),
            ("SIGNALR_HANDSHAKE_TIMEOUT_SECONDS", "15"),
        ],
    )
    .await;
    let got = negotiate(&plain, "/api/chat/negotiate", None).await.claims();
    assert!(!got.keys().any(|name| name.starts_with("asrs.s.")), "{got:?}");
}

#[test]
fn out_of_range_options_stop_the_start_naming_the_setting() {
    let entra = "Endpoint=https://demo.service.signalr.net;AuthType=azure.msi;Version=1.0;";
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case] = &[
        (
            &[("SIGNALR_HANDSHAKE_TIMEOUT_SECONDS", "0")],
            "SIGNALR_HANDSHAKE_TIMEOUT_SECONDS",
            "from 1 to 30",
        ),
        (
            &[("SIGNALR_HANDSHAKE_TIMEOUT_SECONDS", "31")],
            "SIGNALR_HANDSHAKE_TIMEOUT_SECONDS",
            "from 1 to 30",
        ),
        (
            &[("SIGNALR_MAX_POLL_INTERVAL_SECONDS", "0")],
            "SIGNALR_MAX_POLL_INTERVAL_SECONDS",
            "from 1 to 300",
        ),
        (
            &[("SIGNALR_MAX_POLL_INTERVAL_SECONDS", "301")],
            "SIGNALR_MAX_POLL_INTERVAL_SECONDS",
            "from 1 to 300",
        ),
        (
            &[("SIGNALR_TRANSPORTS", "WebSockets,Smoke")],
            "SIGNALR_TRANSPORTS",
            "LongPolling",
        ),
        (
            &[("SIGNALR_ENABLE_DETAILED_ERRORS", "sometimes")],
            "SIGNALR_ENABLE_DETAILED_ERRORS",
            "true or false",
        ),
        (
            &[("SIGNALR_CLOSE_ON_AUTH_EXPIRATION", "2")],
            "SIGNALR_CLOSE_ON_AUTH_EXPIRATION",
            "true or false",
        ),
        (
            &[("SIGNALR_DIAGNOSTIC_CLIENTS", "roles")],
            "SIGNALR_DIAGNOSTIC_CLIENTS",
            "claim:value",
        ),
        (
            &[("SIGNALR_APPLICATION_NAME", &"a".repeat(127))],
            "SIGNALR_APPLICATION_NAME",
            "at most 126",
        ),
        // Tokens the service makes (generateToken) cannot carry claims.
        (
            &[
                ("AzureSignalRConnectionString", entra),
                ("SIGNALR_CLOSE_ON_AUTH_EXPIRATION", "true"),
            ],
            "SIGNALR_CLOSE_ON_AUTH_EXPIRATION",
            "SIGNALR_ENTRA_MODE=access-key",
        ),
        (
            &[
                ("AzureSignalRConnectionString", entra),
                ("SIGNALR_TRANSPORTS", "WebSockets"),
            ],
            "SIGNALR_TRANSPORTS",
            "SIGNALR_ENTRA_MODE=access-key",
        ),
        (
            &[
                ("AzureSignalRConnectionString", entra),
                ("SIGNALR_DIAGNOSTIC_CLIENTS", "roles:diag"),
            ],
            "SIGNALR_DIAGNOSTIC_CLIENTS",
            "SIGNALR_ENTRA_MODE=access-key",
        ),
    ];
    for (env, setting, reason) in cases {
        let (code, output) = common::run_binary(&[], env);
        assert_eq!(code, 2, "{env:?}: {output}");
        assert!(output.contains(&format!("setting {setting}:")), "{env:?}: {output}");
        assert!(output.contains(reason), "{env:?}: expected {reason:?} in {output}");
        assert!(
            !output.contains("Smoke") && !output.contains("sometimes"),
            "a value was echoed: {output}"
        );
    }
}

#[tokio::test]
async fn diagnostic_clients_need_the_configured_claim_value() {
    let issuer = TestIssuer::start().await;
    let cs = common::connection_string("https://demo.service.signalr.net");
    let mut env = vec![
        ("AzureSignalRConnectionString", cs.as_str()),
        ("SIGNALR_DIAGNOSTIC_CLIENTS", "roles:signalr-diagnostics"),
    ];
    env.extend(oidc_env(&issuer));
    let (_function, base) = serve("diagnostic-clients", &env).await;
    let token = |roles: serde_json::Value| {
        let mut claims = issuer.claims("someone");
        claims["roles"] = roles;
        issuer.rs256(RSA_KID, &claims)
    };
    let allowed = token(json!(["reader", "signalr-diagnostics"]));
    let other = token(json!(["reader"]));
    let diagnostic = "/api/chat/negotiate?diagnostic=true";

    let got = negotiate(&base, diagnostic, Some(&allowed)).await.claims();
    assert_eq!(got["asrs.s.dc"], "true");
    let got = negotiate(&base, "/api/chat/negotiate", Some(&allowed)).await.claims();
    assert!(!got.contains_key("asrs.s.dc"), "only when asked: {got:?}");

    let reason = "may not open a diagnostic connection";
    negotiate(&base, diagnostic, Some(&other)).await.refused(403, reason);
    negotiate(&base, diagnostic, None).await.refused(403, reason);
    let got = negotiate(&base, "/api/chat/negotiate?diagnostic=false", Some(&other))
        .await
        .claims();
    assert!(!got.contains_key("asrs.s.dc"));
    negotiate(&base, "/api/chat/negotiate?diagnostic=please", Some(&allowed))
        .await
        .refused(400, "true or false");
}

#[tokio::test]
async fn a_repeated_sub_is_kept_once_and_the_prefixed_hub_must_fit() {
    let cs = common::connection_string("https://demo.service.signalr.net");
    let (_function, base) = serve(
        "claim-rules",
        &[
            ("AzureSignalRConnectionString", cs.as_str()),
            ("SIGNALR_AUTH", "app-service"),
            ("WEBSITE_AUTH_ENABLED", "True"),
            ("SIGNALR_COPY_CLAIMS", "sub"),
            ("SIGNALR_APPLICATION_NAME", "App"),
        ],
    )
    .await;
    let principal = base64::engine::general_purpose::STANDARD.encode(
        json!({"claims": [
            {"typ": "sub", "val": "first"},
            {"typ": "sub", "val": "second"},
            {"typ": "sub", "val": "third"}
        ]})
        .to_string(),
    );
    let send = |hub: String| {
        reqwest::Client::new()
            .post(format!("{base}/api/{hub}/negotiate"))
            .header("x-ms-client-principal-id", "p-1")
            .header("x-ms-client-principal", principal.as_str())
            .send()
    };
    let response = send("chat".to_owned()).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    let got = common::verify_token(body["accessToken"].as_str().unwrap(), KEY);
    assert_eq!(got["sub"], "first", "the first sub stays sub");
    assert_eq!(got["asrs.u.sub"], json!(["second", "third"]));
    assert!(got["aud"].as_str().unwrap().ends_with("?hub=app_chat"));

    // "app_" + 124 characters is 128: served; one more is over the service's rule.
    let response = send("h".repeat(124)).await.unwrap();
    assert_eq!(response.status(), 200);
    let response = send("h".repeat(125)).await.unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("SIGNALR_APPLICATION_NAME"),
        "{body}"
    );
}
