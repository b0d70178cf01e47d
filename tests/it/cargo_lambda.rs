//! `cargo lambda watch`, cargo-lambda's emulator of the Lambda Runtime API and of Function URLs,
//! as a Lambda user runs the function locally. The emulator is started alone
//! (`--only-lambda-apis`) and serves the binary the tests built, with the variables it tells a
//! user to set, so nothing is compiled again. cargo-lambda is found as the project's scripts
//! find it (`scripts/tools.sh`: on PATH, else in `target/deploy-venv`, where
//! `scripts/verify-packages` installs it, as CI does before the tests). Without it the test says
//! it was skipped, unless `CI` is set: there it fails.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{self, Function, assert_negotiated, connection_string, free_port};

/// cargo-lambda, as `scripts/tools.sh` finds it (installing nothing).
fn cargo_lambda() -> Option<PathBuf> {
    let root = env!("CARGO_MANIFEST_DIR");
    let output = Command::new("bash")
        .args([
            "-c",
            r#"root="$1"; . "$root/scripts/tools.sh"; cargo_lambda_path"#,
            "-",
            root,
        ])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let path = String::from_utf8(output.stdout).ok()?;
    let path = PathBuf::from(path.trim());
    (output.status.success() && path.is_file()).then_some(path)
}

/// `cargo lambda watch --only-lambda-apis` on a loopback port; stopped when dropped.
struct Emulator {
    child: Child,
    log: PathBuf,
}

impl Emulator {
    fn start(cargo_lambda: &Path, port: u16) -> Self {
        let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cargo-lambda-{}.log", std::process::id()));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(cargo_lambda)
            .args(["lambda", "watch", "--only-lambda-apis", "--invoke-address", "127.0.0.1"])
            .args(["--invoke-port", &port.to_string()])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("cargo lambda watch starts");
        Self { child, log }
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The variables the emulator tells a user to set for a function they start themselves
    /// (`NAME=value` lines of its log), once it has printed them.
    fn variables(&mut self) -> Vec<(String, String)> {
        let start = Instant::now();
        loop {
            let logs = self.logs();
            let variables: Vec<(String, String)> = logs
                .lines()
                .filter_map(|line| line.split_whitespace().find(|word| word.starts_with("AWS_LAMBDA_")))
                .filter_map(|word| word.split_once('='))
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect();
            if variables.iter().any(|(name, _)| name == "AWS_LAMBDA_RUNTIME_API") {
                return variables;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("cargo lambda watch exited with {status}:\n{logs}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "cargo lambda watch printed no variables:\n{logs}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A POST through the emulator's Function URL: its status, headers and JSON body.
async fn post(client: &reqwest::Client, url: String) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = client.post(url).send().await.unwrap();
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: not JSON: {text}"));
    (status, headers, body)
}

/// A negotiate through `cargo lambda watch`'s Function URL: a token for the hub, JSON refusals,
/// and the negotiate line with the invocation's request id and X-Ray trace id.
#[tokio::test]
async fn negotiates_through_cargo_lambda_watch() {
    let started = Instant::now();
    let Some(cargo_lambda) = cargo_lambda() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "cargo-lambda is not installed, and CI is set: scripts/verify-packages installs it into target/deploy-venv"
        );
        // Straight to standard error, past the test harness's capture: a skip must be seen.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED negotiates_through_cargo_lambda_watch: cargo-lambda is not installed (scripts/verify-packages \
            installs it into target/deploy-venv; or pip install cargo-lambda)"
        );
        return;
    };
    let port = free_port();
    let mut emulator = Emulator::start(&cargo_lambda, port);
    let variables = emulator.variables();
    let cs = connection_string("https://demo.service.signalr.net");
    let mut env: Vec<(&str, &str)> = variables
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    env.push(("AzureSignalRConnectionString", &cs));
    env.push(("RUST_LOG", "info"));
    let mut function = Function::spawn("cargo-lambda-watch", &env);

    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}/lambda-url/_");
    let (status, headers, body) = post(&client, format!("{base}/api/Chat/negotiate?negotiateVersion=1")).await;
    assert_eq!(status, 200, "{body}\n{}\n{}", function.logs(), emulator.logs());
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["cache-control"], "no-store");
    let demo = "https://demo.service.signalr.net";
    assert_negotiated(&body, demo, demo, "chat");
    let (status, _, body) = post(&client, format!("{base}/api/a%26b/negotiate")).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].is_string(), "{body}");

    function.terminate();
    function.wait_exit(Duration::from_secs(5)).expect("exits after SIGTERM");
    let logs = function.logs();
    let line = common::json_lines(&logs)
        .into_iter()
        .find(|line| line["message"] == "negotiate")
        .unwrap_or_else(|| panic!("no negotiate line:\n{logs}"));
    assert_eq!(line["endpoint"], "(default)", "{line}");
    assert!(line["request_id"].is_string(), "{line}");
    let trace = line["trace_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no trace id: {line}"));
    assert!(trace.starts_with("1-") && trace.len() == 35, "{line}");
    eprintln!("negotiates_through_cargo_lambda_watch took {:?}", started.elapsed());
}
