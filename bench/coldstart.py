#!/usr/bin/env python3
"""Cold start: process start -> first 200 answer to POST /api/chat/negotiate.

Local mode: for each run a fresh process is started on a free loopback port; the clock starts
just before the process is spawned and stops when the first negotiate answers 200 (the port is
polled every 0.2 ms until it accepts).

Lambda mode: the process is started with AWS_LAMBDA_RUNTIME_API pointing at a fake Lambda
Runtime API served here, which speaks the protocol of the tests' fake (tests/it/lambda_runtime.rs):
`GET /2018-06-01/runtime/invocation/next` hands out one API Gateway HTTP API event with the
`Lambda-Runtime-*` headers, and the clock stops when the function posts a 200 answer to
`/2018-06-01/runtime/invocation/{id}/response`. That is Lambda's init plus the first invoke,
less the sandbox's own start, which no function controls.

Runs alternate between the servers; the median of RUNS runs is reported, with the fastest and
slowest. Each run begins with the next server in turn.

  ours                   target/release/signalr-negotiate, RUST_LOG=off
  ours, logs on          the same at the default level (info), stdout to /dev/null
  ours on Lambda         the same binary through the fake Runtime API (logs at info, JSON)
  peer as written        the seed article's Node/express peer: node server.js (target/peer-node)

Usage, from the repository root:
  python3 bench/coldstart.py [runs]        # default 20; builds release first (SKIP_BUILD=1: not)
The peer is copied from ../shared/bench/peer-node to target/peer-node and installed with
`npm ci` if that was not done yet (bench/compare.sh does it too).
"""
import http.server
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "release", "signalr-negotiate")
PEER_SOURCE = os.path.join(ROOT, "..", "shared", "bench", "peer-node")
PEER = os.path.join(ROOT, "target", "peer-node")
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 20
CONN = (
    "Endpoint=https://contoso-chat.service.signalr.net;"
    "AccessKey=Zm9vYmFyYmF6cXV4MDEyMzQ1Njc4OWFiY2RlZmdoaWo=;Version=1.0;"
)
REQUEST = b"POST /api/chat/negotiate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
POLL_SECONDS = 0.0002
GIVE_UP_SECONDS = 10


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_peer():
    if os.path.isdir(os.path.join(PEER, "node_modules")):
        return
    os.makedirs(PEER, exist_ok=True)
    for name in ("package.json", "package-lock.json", "server.js"):
        shutil.copyfile(os.path.join(PEER_SOURCE, name), os.path.join(PEER, name))
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=PEER, check=True)


def first_200(port, process, started):
    """Seconds from `started` to the first 200 answer from the port."""
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before answering")
        if time.perf_counter() - started > GIVE_UP_SECONDS:
            raise RuntimeError(f"no 200 within {GIVE_UP_SECONDS} s")
        try:
            with socket.create_connection(("127.0.0.1", port)) as conn:
                conn.sendall(REQUEST)
                answer = b""
                while b"\r\n" not in answer:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    answer += chunk
                if answer.startswith(b"HTTP/1.1 200"):
                    return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(POLL_SECONDS)


# An API Gateway HTTP API (payload 2.0) event for POST /api/chat/negotiate, as in the tests.
HTTP_API_EVENT = {
    "version": "2.0",
    "routeKey": "ANY /api/{hub}/negotiate",
    "rawPath": "/api/chat/negotiate",
    "rawQueryString": "negotiateVersion=1",
    "headers": {"content-length": "0", "host": "r3pmxmplak.execute-api.eu-west-1.amazonaws.com"},
    "queryStringParameters": {"negotiateVersion": "1"},
    "pathParameters": {"hub": "chat"},
    "requestContext": {
        "accountId": "123456789012",
        "apiId": "r3pmxmplak",
        "domainName": "r3pmxmplak.execute-api.eu-west-1.amazonaws.com",
        "domainPrefix": "r3pmxmplak",
        "http": {
            "method": "POST",
            "path": "/api/chat/negotiate",
            "protocol": "HTTP/1.1",
            "sourceIp": "203.0.113.9",
            "userAgent": "coldstart",
        },
        "requestId": "JKJaXmPLvHcESHA=",
        "routeKey": "ANY /api/{hub}/negotiate",
        "stage": "$default",
        "time": "23/Nov/2026:13:00:00 +0000",
        "timeEpoch": 1795438800000,
    },
    "isBase64Encoded": False,
}


class RuntimeApi(http.server.ThreadingHTTPServer):
    """A fake Lambda Runtime API that hands out one event per run and notes when it is answered."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), RuntimeApiHandler)
        self.lock = threading.Lock()
        self.pending = None  # the request id of the event not yet handed out
        self.answered = threading.Event()
        self.answer = None  # (seconds on the perf_counter clock, the posted body)
        self.run_over = threading.Event()

    def handle_error(self, request, client_address):
        # A function stopped at the end of its run drops its held long poll: expected.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def start_run(self, request_id):
        with self.lock:
            self.pending = request_id
            self.answer = None
            self.answered.clear()
            self.run_over.clear()


class RuntimeApiHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path != "/2018-06-01/runtime/invocation/next":
            return self.reply(404, b"{}")
        api = self.server
        with api.lock:
            request_id, api.pending = api.pending, None
        if request_id is None:
            # No more events: hold the long poll until the run is over, as Lambda does.
            api.run_over.wait(GIVE_UP_SECONDS)
            return self.reply(500, b"{}")
        deadline_ms = int(time.time() * 1000) + 10_000
        self.reply(
            200,
            json.dumps(HTTP_API_EVENT).encode(),
            {
                "Lambda-Runtime-Aws-Request-Id": request_id,
                "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:eu-west-1:123456789012:function:negotiate",
                "Lambda-Runtime-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
            },
        )

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        at = time.perf_counter()
        api = self.server
        with api.lock:
            if api.answer is None:
                api.answer = (at, self.path, body)
                api.answered.set()
        self.reply(202, b"{}")

    def reply(self, status, body, headers=None):
        try:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass


def lambda_answer(api, request_id, process, started):
    """Seconds from `started` to the function's 200 answer to the run's event."""
    deadline = started + GIVE_UP_SECONDS
    while not api.answered.wait(0.01):
        if process.poll() is not None:
            raise RuntimeError(f"the function exited with {process.returncode} before answering")
        if time.perf_counter() > deadline:
            raise RuntimeError(f"no answer within {GIVE_UP_SECONDS} s")
    at, path, body = api.answer
    if path != f"/2018-06-01/runtime/invocation/{request_id}/response":
        raise RuntimeError(f"the function posted to {path}: {body[:300]!r}")
    status = json.loads(body).get("statusCode")
    if status != 200:
        raise RuntimeError(f"the function answered {status}: {body[:300]!r}")
    return at - started


def ours(log_level):
    def command(port):
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "SIGNALR_LISTEN": f"127.0.0.1:{port}",
            "AzureSignalRConnectionString": CONN,
        }
        if log_level:
            env["RUST_LOG"] = log_level
        return [BINARY], env, ROOT

    return command


def ours_on_lambda(runtime_api):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_LAMBDA_FUNCTION_NAME": "negotiate",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/negotiate",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/23/[$LATEST]coldstart",
        "AWS_REGION": "eu-west-1",
        "AzureSignalRConnectionString": CONN,
    }
    return [BINARY], env, ROOT


def peer(port):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CONN": CONN, "HUB": "chat", "PORT": str(port)}
    return ["node", "server.js"], env, PEER


LAMBDA = "ours on Lambda (fake Runtime API, logs on)"
SERVERS = [
    ("ours (RUST_LOG=off)", ours("off")),
    ("ours, logs on (info, to /dev/null)", ours(None)),
    (LAMBDA, None),
    ("peer as written (node server.js)", peer),
]


def main():
    # Also puts back the release binary after `cargo bench`, which leaves a bench-profile build
    # (with the dev-dependencies' features) at the same path.
    if os.environ.get("SKIP_BUILD") != "1":
        subprocess.run(["cargo", "build", "--release", "--locked"], cwd=ROOT, check=True)
    if not os.path.exists(BINARY):
        sys.exit("coldstart.py: build first: cargo build --release")
    ensure_peer()
    api = RuntimeApi()
    threading.Thread(target=api.serve_forever, daemon=True).start()
    runtime_api = f"127.0.0.1:{api.server_address[1]}"
    samples = {name: [] for name, _ in SERVERS}
    for run in range(RUNS):
        # Each run starts with a different server, so none always follows the same one.
        for name, command in SERVERS[run % len(SERVERS) :] + SERVERS[: run % len(SERVERS)]:
            if name == LAMBDA:
                request_id = f"coldstart-{run}"
                api.start_run(request_id)
                argv, env, cwd = ours_on_lambda(runtime_api)
            else:
                port = free_port()
                argv, env, cwd = command(port)
            started = time.perf_counter()
            process = subprocess.Popen(
                argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            try:
                if name == LAMBDA:
                    samples[name].append(lambda_answer(api, request_id, process, started))
                else:
                    samples[name].append(first_200(port, process, started))
            finally:
                process.terminate()
                process.wait()
                api.run_over.set()
    api.shutdown()
    print(f"Cold start, process start -> first 200 negotiate, {RUNS} runs each (ms)\n")
    print("| server | median | fastest | slowest |")
    print("|---|---:|---:|---:|")
    for name, _ in SERVERS:
        ms = [s * 1000 for s in samples[name]]
        print(f"| {name} | {statistics.median(ms):.2f} | {min(ms):.2f} | {max(ms):.2f} |")


if __name__ == "__main__":
    main()
