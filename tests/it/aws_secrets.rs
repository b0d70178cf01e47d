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
use crate::common::{self, Function, free_port, post_json, verify_token, wait_ready};

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
        let body: Value = post_json(&client, format!("{base}/api/chat/negotiate?endpoint={name}")).await;
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
secret = boto3.client("secretsmanager", **kw).create_secret(Name="signalr/denied",
                                                             SecretString="Endpoint=https://x;AccessKey=k")
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

const OLD_KEY: &str = "RotatedKeyOld0123456789abcdefghijklmnopqrstu";
const NEW_KEY: &str = "RotatedKeyNew0123456789abcdefghijklmnopqrstu";
const THIRD_KEY: &str = "RotatedKeyThird0123456789abcdefghijklmnopqrs";
const MOVED_KEY: &str = "RotatedKeyMoved0123456789abcdefghijklmnopqrs";

/// Whether a token is signed with `key`.
fn signed_with(token: &str, key: &str) -> bool {
    use hmac::{Hmac, Mac as _};
    use jwt::VerifyWithKey as _;
    let key: Hmac<sha2::Sha256> = Hmac::new_from_slice(key.as_bytes()).unwrap();
    let claims: Result<std::collections::BTreeMap<String, Value>, _> = token.verify_with_key(&key);
    claims.is_ok()
}

/// A running function, and its named endpoints' tokens.
struct Serving {
    function: Function,
    base: String,
    client: reqwest::Client,
}

impl Serving {
    async fn start(name: &str, moto_env: Vec<(&str, &str)>, endpoints: &[(&str, &str)]) -> Self {
        let listen = format!("127.0.0.1:{}", free_port());
        let mut env = moto_env;
        env.extend([
            ("SIGNALR_LISTEN", listen.as_str()),
            ("SIGNALR_SECRET_REFRESH_SECONDS", "1"),
            ("RUST_LOG", "debug"),
        ]);
        env.extend(endpoints.iter().copied());
        let mut function = Function::spawn(name, &env);
        let base = format!("http://{listen}");
        let client = reqwest::Client::new();
        wait_ready(&client, &base, &mut function).await;
        Self { function, base, client }
    }

    /// The URL and token of a negotiate on endpoint `name`.
    async fn negotiate(&self, name: &str) -> (String, String) {
        let body: Value = post_json(
            &self.client,
            format!("{}/api/chat/negotiate?endpoint={name}", self.base),
        )
        .await;
        let token = body["accessToken"].as_str().unwrap_or_else(|| panic!("{body}"));
        (body["url"].as_str().unwrap().to_owned(), token.to_owned())
    }

    /// Negotiates on `name` until its tokens are signed with `key` (within `limit`); then they
    /// are not signed with `not`.
    async fn until_signed_with(&self, name: &str, key: &str, not: &str, limit: Duration) {
        let start = Instant::now();
        loop {
            let (_, token) = self.negotiate(name).await;
            if signed_with(&token, key) {
                assert!(!signed_with(&token, not), "signed with both keys?");
                return;
            }
            assert!(signed_with(&token, not), "signed with neither key");
            assert!(
                start.elapsed() < limit,
                "endpoint {name}: still the old key after {limit:?}:\n{}",
                self.function.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every negotiate on `name` for `period` is signed with `key`, on `url_prefix`.
    async fn keeps(&self, name: &str, key: &str, url_prefix: &str, period: Duration) {
        let start = Instant::now();
        while start.elapsed() < period {
            let (url, token) = self.negotiate(name).await;
            assert!(signed_with(&token, key), "endpoint {name} left the last good key");
            assert!(url.starts_with(url_prefix), "{url}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// How many lines hold `needle`, once `at_least` do (lines reach the log in batches, a
    /// few milliseconds after they are logged) or after 5 s.
    fn count(&self, needle: &str, at_least: usize) -> usize {
        let start = Instant::now();
        loop {
            let count = self.function.logs().matches(needle).count();
            if count >= at_least || start.elapsed() > Duration::from_secs(5) {
                return count;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

const PUT: &str = r#"
import boto3, os
kw = dict(endpoint_url=os.environ["ENDPOINT"], region_name="eu-west-1",
          aws_access_key_id=os.environ.get("ID", "testing"), aws_secret_access_key=os.environ.get("KEY", "testing"))
if "SECRET" in os.environ:
    boto3.client("secretsmanager", **kw).put_secret_value(SecretId=os.environ["SECRET"], SecretString=os.environ["CS"])
if "PARAMETER" in os.environ:
    # put_parameter takes the name (an ARN would name another parameter).
    name = "/" + os.environ["PARAMETER"].split(":parameter/", 1)[1]
    boto3.client("ssm", **kw).put_parameter(Name=name, Value=os.environ["CS"], Type="SecureString", Overwrite=True)
print("{}")
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_keys_sign_within_the_refresh_period_and_bad_values_keep_the_last_good_key() {
    let moto = Moto::start(&[]);
    let (_a, port_a, _stop_a) = start_stoppable_fake().await;
    let (_b, port_b, _stop_b) = start_stoppable_fake().await;
    let cs = |port: u16, key: &str| format!("Endpoint=http://127.0.0.1;Port={port};AccessKey={key};Version=1.0;");
    let arns = moto.setup(
        CREATE,
        &[("CS_A", &cs(port_a, OLD_KEY)), ("CS_B", &cs(port_b, OLD_KEY))],
    );
    let (secret, parameter) = (arns["secret"].as_str().unwrap(), arns["parameter"].as_str().unwrap());
    let serving = Serving::start(
        "aws-rotation",
        moto.env("testing", AWS_SECRET),
        &[
            ("Azure__SignalR__Endpoints__a", secret),
            ("Azure__SignalR__Endpoints__b", parameter),
        ],
    )
    .await;
    for name in ["a", "b"] {
        assert!(signed_with(&serving.negotiate(name).await.1, OLD_KEY));
    }

    // Rotated in Secrets Manager (a new AWSCURRENT version) and in SSM (a new version): within
    // the period (1 s; a few more for the reads), tokens are signed with the new key only.
    moto.setup(PUT, &[("SECRET", secret), ("CS", &cs(port_a, NEW_KEY))]);
    moto.setup(PUT, &[("PARAMETER", parameter), ("CS", &cs(port_b, NEW_KEY))]);
    for name in ["a", "b"] {
        serving
            .until_signed_with(name, NEW_KEY, OLD_KEY, Duration::from_secs(5))
            .await;
    }
    assert_eq!(
        serving.count("the access key was replaced", 2),
        2,
        "{}",
        serving.function.logs()
    );

    // A value that is no longer a connection string, then one that moves the endpoint: the
    // last good key stays, and each is logged once, however many reads see it.
    let not_cs = "this is not a connection string";
    moto.setup(PUT, &[("SECRET", secret), ("CS", not_cs)]);
    let moved = format!("Endpoint=http://127.0.0.2;Port={port_a};AccessKey={MOVED_KEY};Version=1.0;");
    moto.setup(PUT, &[("PARAMETER", parameter), ("CS", &moved)]);
    let prefix = |port: u16| format!("http://127.0.0.1:{port}/client/?hub=chat&");
    serving
        .keeps("a", NEW_KEY, &prefix(port_a), Duration::from_secs(3))
        .await;
    serving
        .keeps("b", NEW_KEY, &prefix(port_b), Duration::from_secs(1))
        .await;
    assert_eq!(
        serving.count("is not a usable connection string", 1),
        1,
        "{}",
        serving.function.logs()
    );
    assert_eq!(
        serving.count("the new value moves the endpoint", 1),
        1,
        "{}",
        serving.function.logs()
    );

    // Fixed: the next good value is taken.
    moto.setup(PUT, &[("SECRET", secret), ("CS", &cs(port_a, THIRD_KEY))]);
    serving
        .until_signed_with("a", THIRD_KEY, NEW_KEY, Duration::from_secs(5))
        .await;

    let logs = serving.function.logs();
    for line in logs
        .lines()
        .filter(|line| line.contains("usable") || line.contains("moves the endpoint"))
    {
        assert!(line.contains("arn:aws:"), "the ARN is named: {line}");
    }
    for secret in [OLD_KEY, NEW_KEY, THIRD_KEY, MOVED_KEY, not_cs, AWS_SECRET] {
        assert!(!logs.contains(secret), "a secret was logged:\n{logs}");
    }
}

/// moto enforces IAM after the first seven calls, which make the secret, a reader allowed to
/// read it, and an administrator.
const READER_AND_ADMIN: &str = r#"
import boto3, json, os
kw = dict(endpoint_url=os.environ["ENDPOINT"], region_name="eu-west-1",
          aws_access_key_id="testing", aws_secret_access_key="testing")
secret = boto3.client("secretsmanager", **kw).create_secret(Name="signalr/rotating", SecretString=os.environ["CS"])
iam = boto3.client("iam", **kw)
allow = lambda action: json.dumps({"Version": "2012-10-17",
                                   "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})
iam.create_user(UserName="reader")
iam.put_user_policy(UserName="reader", PolicyName="read", PolicyDocument=allow("secretsmanager:GetSecretValue"))
reader = iam.create_access_key(UserName="reader")["AccessKey"]
iam.create_user(UserName="admin")
iam.put_user_policy(UserName="admin", PolicyName="all", PolicyDocument=allow("*"))
admin = iam.create_access_key(UserName="admin")["AccessKey"]
print(json.dumps({"arn": secret["ARN"], "reader_id": reader["AccessKeyId"], "reader_key": reader["SecretAccessKey"],
                  "admin_id": admin["AccessKeyId"], "admin_key": admin["SecretAccessKey"]}))
"#;

const POLICY: &str = r#"
import boto3, json, os
iam = boto3.client("iam", endpoint_url=os.environ["ENDPOINT"], region_name="eu-west-1",
                   aws_access_key_id=os.environ["ID"], aws_secret_access_key=os.environ["KEY"])
if os.environ["ACTION"] == "deny":
    iam.delete_user_policy(UserName="reader", PolicyName="read")
else:
    iam.put_user_policy(UserName="reader", PolicyName="read", PolicyDocument=json.dumps(
        {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}))
print("{}")
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_denied_mid_run_keeps_the_last_good_key_and_is_logged_once() {
    let moto = Moto::start(&[("INITIAL_NO_AUTH_ACTION_COUNT", "7")]);
    let (_a, port, _stop) = start_stoppable_fake().await;
    let cs = |key: &str| format!("Endpoint=http://127.0.0.1;Port={port};AccessKey={key};Version=1.0;");
    let made = moto.setup(READER_AND_ADMIN, &[("CS", &cs(OLD_KEY))]);
    let text = |field: &str| made[field].as_str().unwrap().to_owned();
    let (arn, admin_id, admin_key) = (text("arn"), text("admin_id"), text("admin_key"));
    let (reader_id, reader_key) = (text("reader_id"), text("reader_key"));
    let admin = |extra: &[(&str, &str)]| {
        let mut env = vec![("ID", admin_id.as_str()), ("KEY", admin_key.as_str())];
        env.extend(extra.iter().copied());
        moto.setup(if extra[0].0 == "ACTION" { POLICY } else { PUT }, &env);
    };
    let serving = Serving::start(
        "aws-denied-mid-run",
        moto.env(&reader_id, &reader_key),
        // App Service's spelling of a named connection string: the refresh finds it too.
        &[("CUSTOMCONNSTR_Azure__SignalR__ConnectionString__a", &arn)],
    )
    .await;
    assert!(signed_with(&serving.negotiate("a").await.1, OLD_KEY));
    admin(&[("SECRET", &arn), ("CS", &cs(NEW_KEY))]);
    serving
        .until_signed_with("a", NEW_KEY, OLD_KEY, Duration::from_secs(5))
        .await;

    // The reader loses access, and the secret changes: reads fail, tokens keep coming with
    // the last good key, and the outage is logged once.
    admin(&[("ACTION", "deny")]);
    admin(&[("SECRET", &arn), ("CS", &cs(THIRD_KEY))]);
    let prefix = format!("http://127.0.0.1:{port}/client/?hub=chat&");
    serving.keeps("a", NEW_KEY, &prefix, Duration::from_secs(4)).await;
    assert_eq!(
        serving.count("could not be read again", 1),
        1,
        "{}",
        serving.function.logs()
    );
    let logs = serving.function.logs();
    assert!(logs.contains("access denied") && logs.contains(&arn), "{logs}");

    // Access again: the value read now is taken, and the end of the outage is logged.
    admin(&[("ACTION", "allow")]);
    serving
        .until_signed_with("a", THIRD_KEY, NEW_KEY, Duration::from_secs(5))
        .await;
    assert_eq!(serving.count("can be read again", 1), 1, "{}", serving.function.logs());
    let logs = serving.function.logs();
    for secret in [OLD_KEY, NEW_KEY, THIRD_KEY, &reader_key, &admin_key] {
        assert!(!logs.contains(secret), "a secret was logged:\n{logs}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_lambda_a_stale_key_is_refreshed_from_the_next_invocation_after_its_answer() {
    use crate::lambda_runtime::{http_api_event, spawn_lambda, start_fed_runtime_api};

    let moto = Moto::start(&[]);
    let cs = |key: &str| format!("Endpoint=https://demo.service.signalr.net;AccessKey={key};Version=1.0;");
    let arns = moto.setup(CREATE, &[("CS_A", &cs(OLD_KEY)), ("CS_B", &cs(OLD_KEY))]);
    let secret = arns["secret"].as_str().unwrap();
    let (runtime_api, mut posted, log, feed) = start_fed_runtime_api(std::collections::VecDeque::new()).await;
    let mut env = moto.env("testing", AWS_SECRET);
    env.extend([
        ("AzureSignalRConnectionString", secret),
        ("SIGNALR_SECRET_REFRESH_SECONDS", "3"),
    ]);
    let function = spawn_lambda(&runtime_api, &log, &env);
    let started = Instant::now();
    let mut invoke = async |id: &str| {
        feed.lock().unwrap().push_back((id.to_owned(), http_api_event("chat")));
        let answer = tokio::time::timeout(Duration::from_secs(20), posted.recv())
            .await
            .unwrap_or_else(|_| panic!("no answer to {id}:\n{}", function.logs()))
            .unwrap();
        assert_eq!((answer.request_id.as_str(), answer.kind), (id, "response"));
        let body: Value = serde_json::from_str(answer.body["body"].as_str().unwrap()).unwrap();
        (body["accessToken"].as_str().unwrap().to_owned(), answer.log_at_post)
    };
    let (token, _) = invoke("fresh").await;
    assert!(signed_with(&token, OLD_KEY));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the first invocation came after the period"
    );

    // Rotated; the environment sits idle past the period: nothing reads it in the background
    // (a Lambda environment is frozen between invocations).
    moto.setup(PUT, &[("SECRET", secret), ("CS", &cs(NEW_KEY))]);
    tokio::time::sleep(Duration::from_secs(4).saturating_sub(started.elapsed()) + Duration::from_millis(500)).await;
    assert!(
        !function.logs().contains("the access key was replaced"),
        "{}",
        function.logs()
    );

    // The next invocation finds the key stale: it is answered at once, with the key it has, and
    // starts the read, which ends before the following event is asked for.
    let (token, log_at_post) = invoke("stale").await;
    assert!(signed_with(&token, OLD_KEY), "the stale invocation waited on the read");
    assert!(!log_at_post.contains("the access key was replaced"), "{log_at_post}");
    let (token, log_at_post) = invoke("after").await;
    assert!(signed_with(&token, NEW_KEY) && !signed_with(&token, OLD_KEY));
    assert_eq!(
        log_at_post.matches("the access key was replaced").count(),
        1,
        "{log_at_post}"
    );
    let logs = function.logs();
    for secret in [OLD_KEY, NEW_KEY, AWS_SECRET] {
        assert!(!logs.contains(secret), "a secret was logged:\n{logs}");
    }
}
