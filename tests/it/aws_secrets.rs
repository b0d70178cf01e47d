//! Connection strings in AWS Secrets Manager and SSM Parameter Store, resolved at start by the
//! real binary through the real SDK clients, against moto (a local AWS API emulator, from PyPI)
//! in server mode reached with `AWS_ENDPOINT_URL`.
//!
//! moto is installed into `target/aws-test-venv` on first use (or by `.ci/run`).

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::fake_service::start_stoppable_fake;
use crate::common::{self, Function, free_port, verify_token, wait_ready};

const KEY_A: &str = "SecretsManagerKey0123456789abcdefghijklmnopq";
const KEY_B: &str = "ParameterStoreKey0123456789abcdefghijklmnop";
const AWS_SECRET: &str = "moto-test-secret-access-key-6b1f";

fn venv() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../aws-test-venv")
}

/// The venv's python with moto (installed if missing).
fn python() -> PathBuf {
    static READY: OnceLock<PathBuf> = OnceLock::new();
    READY
        .get_or_init(|| {
            let python = venv().join("bin/python");
            let has_moto = python.exists()
                && Command::new(&python)
                    .args(["-c", "import moto.server, boto3"])
                    .status()
                    .is_ok_and(|s| s.success());
            if !has_moto {
                let created = Command::new("python3")
                    .arg("-m")
                    .arg("venv")
                    .arg(venv())
                    .status()
                    .unwrap();
                assert!(created.success(), "python3 -m venv failed");
                let installed = Command::new(&python)
                    .args([
                        "-m",
                        "pip",
                        "install",
                        "--quiet",
                        "--disable-pip-version-check",
                        "moto[server]",
                    ])
                    .status()
                    .unwrap();
                assert!(installed.success(), "pip install moto[server] failed");
            }
            python
        })
        .clone()
}

/// moto in server mode on a loopback port; killed when dropped.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Moto {
    fn start(extra: &[(&str, &str)]) -> Self {
        let port = free_port();
        let child = Command::new(python())
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(extra.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "moto did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Runs a boto3 script against this moto; returns what it printed as JSON.
    fn setup(&self, script: &str, env: &[(&str, &str)]) -> Value {
        let output = Command::new(python())
            .args(["-c", script])
            .env("ENDPOINT", &self.endpoint)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "setup failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    }

    /// The environment that points the binary's AWS SDK at this moto.
    fn env<'a>(&'a self, access_key: &'a str, secret: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", access_key),
            ("AWS_SECRET_ACCESS_KEY", secret),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const CREATE: &str = r#"
import boto3, json, os
kw = dict(endpoint_url=os.environ["ENDPOINT"], region_name="eu-west-1",
          aws_access_key_id="testing", aws_secret_access_key="testing")
secret = boto3.client("secretsmanager", **kw).create_secret(Name="signalr/a", SecretString=os.environ["CS_A"])
ssm = boto3.client("ssm", **kw)
ssm.put_parameter(Name="/signalr/b", Value=os.environ["CS_B"], Type="SecureString")
print(json.dumps({"secret": secret["ARN"], "parameter": ssm.get_parameter(Name="/signalr/b")["Parameter"]["ARN"]}))
"#;

fn start(env: &[(&str, &str)]) -> (i32, String) {
    common::run_binary(&["check"], env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_manager_and_ssm_values_become_endpoints() {
    let moto = Moto::start(&[]);
    let (_a, port_a, _stop_a) = start_stoppable_fake().await;
    let (_b, port_b, _stop_b) = start_stoppable_fake().await;
    let cs_a = format!("Endpoint=http://127.0.0.1;Port={port_a};AccessKey={KEY_A};Version=1.0;");
    let cs_b = format!("Endpoint=http://127.0.0.1;Port={port_b};AccessKey={KEY_B};Version=1.0;");
    let arns = moto.setup(CREATE, &[("CS_A", &cs_a), ("CS_B", &cs_b)]);
    let (secret, parameter) = (arns["secret"].as_str().unwrap(), arns["parameter"].as_str().unwrap());
    assert!(secret.starts_with("arn:aws:secretsmanager:eu-west-1:") && parameter.starts_with("arn:aws:ssm:eu-west-1:"));

    let listen = format!("127.0.0.1:{}", free_port());
    let mut env = moto.env("testing", AWS_SECRET);
    env.extend([
        ("SIGNALR_LISTEN", listen.as_str()),
        ("Azure__SignalR__Endpoints__a", secret),
        ("Azure__SignalR__Endpoints__b", parameter),
        ("RUST_LOG", "debug"),
    ]);
    let mut function = Function::spawn("aws-secrets", &env);
    let base = format!("http://{listen}");
    let client = reqwest::Client::new();
    wait_ready(&client, &base, &mut function).await;
    for (name, port, key) in [("a", port_a, KEY_A), ("b", port_b, KEY_B)] {
        let body: Value = client
            .post(format!("{base}/api/chat/negotiate?endpoint={name}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let url = body["url"].as_str().unwrap();
        assert!(
            url.starts_with(&format!("http://127.0.0.1:{port}/client/?hub=chat&")),
            "{url}"
        );
        verify_token(body["accessToken"].as_str().unwrap(), key);
    }
    let logs = function.logs();
    for secret in [KEY_A, KEY_B, AWS_SECRET] {
        assert!(!logs.contains(secret), "a secret was logged:\n{logs}");
    }
}

#[test]
fn a_missing_secret_or_parameter_stops_the_start_naming_the_arn() {
    let moto = Moto::start(&[]);
    for arn in [
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:absent-AbCdEf",
        "arn:aws:ssm:eu-west-1:123456789012:parameter/absent/cs",
    ] {
        // Every name a connection string is read under is resolved: App Service's form, and the
        // one SIGNALR_CONNECTION_STRING_SETTING chooses.
        for (name, more) in [
            ("AzureSignalRConnectionString", None),
            ("CUSTOMCONNSTR_AzureSignalRConnectionString", None),
            ("MySignalR", Some(("SIGNALR_CONNECTION_STRING_SETTING", "MySignalR"))),
        ] {
            let mut env = moto.env("testing", AWS_SECRET);
            env.push((name, arn));
            env.extend(more);
            let (code, output) = start(&env);
            assert_eq!(code, 2, "{name}: {output}");
            assert!(output.contains(&format!("setting {name}:")), "{output}");
            assert!(output.contains(arn) && output.contains("not found"), "{output}");
            assert!(!output.contains(AWS_SECRET));
        }
    }
}

#[test]
fn no_credentials_stop_the_start() {
    let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:any-AbCdEf";
    let (code, output) = start(&[
        ("AzureSignalRConnectionString", arn),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
    ]);
    assert_eq!(code, 2, "{output}");
    assert!(output.contains(arn), "{output}");
    assert!(output.contains("credentials"), "{output}");
}

#[test]
fn denied_access_stops_the_start() {
    // moto enforces IAM after the first three calls: those make the secret and a user with
    // no policy at all; that user may not read the secret.
    let moto = Moto::start(&[("INITIAL_NO_AUTH_ACTION_COUNT", "3")]);
    let made = moto.setup(
        r#"
import boto3, json, os
kw = dict(endpoint_url=os.environ["ENDPOINT"], region_name="eu-west-1",
          aws_access_key_id="testing", aws_secret_access_key="testing")
secret = boto3.client("secretsmanager", **kw).create_secret(Name="signalr/denied", SecretString="Endpoint=https://x;AccessKey=k")
iam = boto3.client("iam", **kw)
iam.create_user(UserName="reader")
key = iam.create_access_key(UserName="reader")["AccessKey"]
print(json.dumps({"arn": secret["ARN"], "id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}))
"#,
        &[],
    );
    let mut env = moto.env(made["id"].as_str().unwrap(), made["secret"].as_str().unwrap());
    env.push(("AzureSignalRConnectionString", made["arn"].as_str().unwrap()));
    let (code, output) = start(&env);
    assert_eq!(code, 2, "{output}");
    assert!(output.contains("access denied"), "{output}");
    assert!(!output.contains(made["secret"].as_str().unwrap()));
}
