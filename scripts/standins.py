#!/usr/bin/env python3
"""Stand-ins for the two hosts the packages ship to, for scripts/verify-packages.

  standins.py lambda <bootstrap> [-- <launcher>...]
      Serves the Lambda Runtime API (2018-06-01) on loopback, starts the bootstrap with
      AWS_LAMBDA_RUNTIME_API pointing at it (through the launcher, e.g. qemu-aarch64, when
      given), hands it API Gateway HTTP API (payload 2.0) events and checks what it posts back.

  standins.py functions <app-folder>
      Reads the app as the Functions host does (host.json: the executable, the route prefix,
      enableProxyingHttpRequest / enableForwardingHttpRequest; each */function.json: the
      HTTP trigger's route, methods and authLevel), starts the handler in the app folder with
      FUNCTIONS_CUSTOMHANDLER_PORT, waits for any HTTP answer to GET / (the host's readiness
      probe), then routes client requests to it the way the host does: a method not in
      "methods" or an unknown route is the host's own bare 404; the request goes to the
      handler with the original path, X-Azure-Functions-InvocationId and
      X-Azure-Functions-HostVersion; when forwarding (not proxying) the query is rebuilt with
      a repeated parameter's values joined by ",", as ASP.NET Core's query collection does.
      Both modes are run: proxying (what a current host does with this host.json) and
      forwarding (a host from before enableProxyingHttpRequest).

Each check prints one line; the exit code is 0 only when all pass. The connection string and
key are made up here; the key must never appear in what the handler logs.
"""
import base64
import hashlib
import hmac
import http.client
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

KEY = "VerifyPackagesKey0123456789abcdefghijklmnopqrstu"
ENDPOINT = "https://verify.service.signalr.net"
CONNECTION_STRING = f"Endpoint={ENDPOINT};AccessKey={KEY};Version=1.0;"
LIFETIME = 3600
HOST_VERSION = "4.1044.400.0"  # what the stand-in Functions host says it is

failures = []


def check(ok, what, detail=""):
    print(f"  {'ok ' if ok else 'FAIL'} {what}" + (f": {detail}" if detail and not ok else ""))
    if not ok:
        failures.append(what)
    return ok


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def token_claims(token):
    """The claims of an HS256 token signed with KEY's UTF-8 bytes, or an exception saying why not."""
    header, payload, signature = token.split(".")
    if json.loads(b64url_decode(header)).get("alg") != "HS256":
        raise ValueError("not HS256")
    expected = hmac.new(KEY.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, b64url_decode(signature)):
        raise ValueError("the signature does not verify with the access key")
    return json.loads(b64url_decode(payload))


def check_negotiated(status, body, hub, what):
    """A 200 {"url","accessToken"} for `hub` whose token the service would accept."""
    if not check(status == 200, f"{what}: 200", f"{status} {body!r}"):
        return
    try:
        answer = json.loads(body)
        claims = token_claims(answer["accessToken"])
    except (ValueError, KeyError, TypeError) as error:
        check(False, f"{what}: a token signed with the access key", str(error))
        return
    now = time.time()
    check(
        answer["url"].startswith(f"{ENDPOINT}/client/?hub={hub}&asrs_request_id="),
        f"{what}: url for hub {hub}",
        answer["url"],
    )
    check(claims.get("aud") == f"{ENDPOINT}/client/?hub={hub}", f"{what}: token aud", str(claims))
    check(claims.get("iss") == "azure-signalr", f"{what}: token iss", str(claims))
    check(
        abs(claims.get("exp", 0) - now - LIFETIME) < 60 and claims.get("nbf", now + 60) <= now + 5,
        f"{what}: token nbf/exp ({LIFETIME} s)",
        str(claims),
    )


def check_refused(status, body, expected, what, allow=None, headers=None):
    """A JSON {"error"} with the expected status (and Allow)."""
    try:
        error = json.loads(body).get("error")
    except ValueError:
        error = None
    check(status == expected and isinstance(error, str), f"{what}: {expected} {{\"error\"}}", f"{status} {body!r}")
    if allow is not None:
        check((headers or {}).get("allow") == allow, f"{what}: Allow {allow}", str(headers))


def check_logs(logs, ids, what):
    check(KEY not in logs, f"{what}: the key is not in the logs")
    lines = []
    for line in logs.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            pass
    logged = {line.get("request_id") for line in lines}
    check(all(i in logged for i in ids), f"{what}: the negotiate log lines are JSON with the host's request ids", logs[-2000:])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# Lambda


def http_api_event(method, path, query="", request_id="", route="ANY /api/{hub}/negotiate"):
    """An API Gateway HTTP API payload 2.0 event, as API Gateway sends it."""
    single = {}
    for name, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        single[name] = f"{single[name]},{value}" if name in single else value  # joined, as v2 does
    hub = re.fullmatch(r"/api/([^/]+)/negotiate", path)
    return {
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"content-length": "0", "host": "abc123.execute-api.eu-west-1.amazonaws.com"},
        **({"queryStringParameters": single} if single else {}),
        **({"pathParameters": {"hub": hub.group(1)}} if hub else {}),
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.9",
                "userAgent": "verify-packages",
            },
            "requestId": request_id,
            "routeKey": route,
            "stage": "$default",
            "time": "23/Nov/2026:13:00:00 +0000",
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": False,
    }


class RuntimeApi(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, events):
        super().__init__(("127.0.0.1", 0), RuntimeApiHandler)
        self.events = list(events)  # (request id, event)
        self.answers = {}  # request id -> (path, body)
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.init_error = None

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], OSError):  # the function stopped mid long-poll
            super().handle_error(request, client_address)


class RuntimeApiHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        api = self.server
        if self.path != "/2018-06-01/runtime/invocation/next":
            return self.reply(404, {"errorMessage": "no such path"})
        with api.lock:
            next_event = api.events.pop(0) if api.events else None
        if next_event is None:
            api.done.wait(60)  # Lambda holds the long poll until there is work
            return self.reply(500, {})
        request_id, event = next_event
        self.reply(
            200,
            event,
            {
                "Lambda-Runtime-Aws-Request-Id": request_id,
                "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 10_000),
                "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:eu-west-1:123456789012:function:negotiate",
                "Lambda-Runtime-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
            },
        )

    def do_POST(self):
        api = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        match = re.fullmatch(r"/2018-06-01/runtime/invocation/([^/]+)/(response|error)", self.path)
        with api.lock:
            if self.path == "/2018-06-01/runtime/init/error":
                api.init_error = body
                api.done.set()
            elif match:
                api.answers[match.group(1)] = (match.group(2), body)
                if not api.events and len(api.answers) == api.expected:
                    api.done.set()
        self.reply(202, {"status": "OK"})

    def reply(self, status, document, headers=None):
        body = json.dumps(document).encode()
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


def verify_lambda(bootstrap, launcher):
    ids = [str(uuid.uuid4()) for _ in range(3)]
    events = [
        (ids[0], http_api_event("POST", "/api/chat/negotiate", "negotiateVersion=1", ids[0])),
        (ids[1], http_api_event("POST", "/api/negotiate", "hub=a&hub=b", ids[1], "ANY /api/negotiate")),
        (ids[2], http_api_event("DELETE", "/api/chat/negotiate", "", ids[2])),
    ]
    api = RuntimeApi(events)
    api.expected = len(events)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        # What template.yaml sets...
        "AzureSignalRConnectionString": CONNECTION_STRING,
        "SIGNALR_TOKEN_LIFETIME_SECONDS": str(LIFETIME),
        "RUST_LOG": "info",
        # ...and what Lambda sets.
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": "negotiate",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/negotiate",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/23/[$LATEST]verify",
        "AWS_REGION": "eu-west-1",
        "LAMBDA_TASK_ROOT": os.path.dirname(os.path.abspath(bootstrap)),
        "_HANDLER": "bootstrap",
    }
    env.update({k: v for k, v in os.environ.items() if k.startswith("QEMU_")})
    with tempfile.TemporaryFile() as log:
        started = time.monotonic()
        process = subprocess.Popen([*launcher, bootstrap], env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        try:
            finished = api.done.wait(120)
            elapsed = time.monotonic() - started
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
            api.done.set()
            api.shutdown()
        log.seek(0)
        logs = log.read().decode(errors="replace")
    if not check(finished and api.init_error is None, "the bootstrap served its events", api.init_error or logs[-3000:]):
        return
    print(f"  (init and three invocations in {elapsed:.2f} s)")

    def answer(request_id):
        kind, body = api.answers[request_id]
        document = json.loads(body)
        headers = {k.lower(): v for k, v in (document.get("headers") or {}).items()}
        return kind, document.get("statusCode"), document.get("body", ""), headers

    kind, status, body, _ = answer(ids[0])
    check(kind == "response", "POST /api/chat/negotiate: posted as a response")
    check_negotiated(status, body, "chat", "POST /api/chat/negotiate")
    _, status, body, _ = answer(ids[1])
    check_refused(status, body, 400, "?hub=a&hub=b")
    _, status, body, headers = answer(ids[2])
    check_refused(status, body, 405, "DELETE", allow="GET, POST", headers=headers)
    check_logs(logs, ids[:2], "Lambda")  # the 405 comes from the router, before negotiate logs


# ---------------------------------------------------------------------------------------------
# Azure Functions


class FunctionsHost:
    """What the Functions host does with an app folder, for HTTP-triggered custom handlers."""

    def __init__(self, app, mode):
        self.app = app
        self.mode = mode
        with open(os.path.join(app, "host.json")) as f:
            self.host_json = json.load(f)
        handler = self.host_json["customHandler"]
        self.executable = os.path.join(app, handler["description"]["defaultExecutablePath"])
        prefix = self.host_json.get("extensions", {}).get("http", {}).get("routePrefix", "api")
        self.prefix = prefix.strip("/")
        self.routes = []
        for name in sorted(os.listdir(app)):
            path = os.path.join(app, name, "function.json")
            if not os.path.isfile(path):
                continue
            with open(path) as f:
                bindings = json.load(f)["bindings"]
            trigger = next(b for b in bindings if b["type"] == "httpTrigger")
            methods = trigger.get("methods")
            self.routes.append(
                {
                    "function": name,
                    "route": trigger.get("route") or name,
                    "methods": None if methods is None else {m.upper() for m in methods},
                    "auth": trigger.get("authLevel", "function"),
                }
            )
        self.port = free_port()
        self.process = None

    def honoured(self):
        """Which request handling this host.json gets from this host generation."""
        handler = self.host_json["customHandler"]
        if self.mode == "proxy" and handler.get("enableProxyingHttpRequest"):
            return "proxy"
        if handler.get("enableForwardingHttpRequest"):
            return "forward"
        return "payload"

    def start(self, settings, log):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "FUNCTIONS_WORKER_RUNTIME": "custom"}
        env.update(settings)
        env["FUNCTIONS_CUSTOMHANDLER_PORT"] = str(self.port)
        self.process = subprocess.Popen(
            [self.executable], cwd=self.app, env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL
        )
        # The host's readiness check: any HTTP answer at the root; a refused connection means wait.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/")
                connection.getresponse().read()
                connection.close()
                return True
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self):
        if self.process:
            self.process.terminate()
            try:
                return self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                return None

    def match(self, method, path):
        segments = [s for s in path.strip("/").split("/") if s]
        prefix = [s for s in self.prefix.split("/") if s]
        if segments[: len(prefix)] != prefix:
            return None, False
        rest = segments[len(prefix):]
        for route in self.routes:
            template = [s for s in route["route"].strip("/").split("/") if s]
            if len(template) == len(rest) and all(
                t.startswith("{") or t.lower() == r.lower() for t, r in zip(template, rest)
            ):
                if route["methods"] is None or method in route["methods"]:
                    return route, True
                return route, False
        return None, False

    def call(self, method, target, headers=None):
        """A client's request to the host; returns (status, body, headers, invocation id)."""
        path, _, query = target.partition("?")
        route, allowed = self.match(method, path)
        if route is None or not allowed:
            return 404, "", {}, None  # the host's own answer
        if route["auth"] != "anonymous":
            return 401, "", {}, None
        kind = self.honoured()
        if kind == "payload":
            raise RuntimeError("host.json enables neither proxying nor forwarding: the handler would get the JSON payload")
        if kind == "forward":
            # ToHttpRequestMessage: the query rebuilt from the query collection, values joined.
            joined = {}
            for name, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
                key = next((k for k in joined if k.lower() == name.lower()), name)
                joined[key] = f"{joined[key]},{value}" if key in joined else value
            query = urllib.parse.urlencode(joined, quote_via=urllib.parse.quote)
        invocation = str(uuid.uuid4())
        forwarded = dict(headers or {})
        forwarded["X-Azure-Functions-HostVersion"] = HOST_VERSION
        forwarded["X-Azure-Functions-InvocationId"] = invocation
        if kind == "proxy":
            forwarded["x-ms-invocation-id"] = invocation
        forwarded.setdefault("Content-Length", "0")
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        connection.request(method, path + (f"?{query}" if query else ""), headers=forwarded)
        response = connection.getresponse()
        body = response.read().decode(errors="replace")
        answer_headers = {k.lower(): v for k, v in response.getheaders()}
        connection.close()
        return response.status, body, answer_headers, invocation


def verify_functions(app):
    for mode in ("proxy", "forward"):
        host = FunctionsHost(app, mode)
        print(f"  host: {'current (proxying)' if mode == 'proxy' else 'older (forwarding)'}; handling: {host.honoured()}")
        settings = {"AzureSignalRConnectionString": CONNECTION_STRING, "RUST_LOG": "info"}
        with tempfile.TemporaryFile() as log:
            started = time.monotonic()
            ready = host.start(settings, log)
            if check(ready, f"{mode}: the handler answers the readiness probe on /"):
                print(f"  (ready in {time.monotonic() - started:.2f} s)")
                ids = []
                status, body, _, invocation = host.call("POST", "/api/chat/negotiate?negotiateVersion=1")
                ids.append(invocation)
                check_negotiated(status, body, "chat", f"{mode}: POST /api/chat/negotiate")
                status, body, _, invocation = host.call("GET", "/api/negotiate?hub=news")
                ids.append(invocation)
                check_negotiated(status, body, "news", f"{mode}: GET /api/negotiate?hub=news")
                status, body, _, _ = host.call("POST", "/api/negotiate?hub=a&hub=b")
                check_refused(status, body, 400, f"{mode}: ?hub=a&hub=b")
                status, body, headers, _ = host.call("DELETE", "/api/chat/negotiate")
                check_refused(status, body, 405, f"{mode}: DELETE reaches the handler", "GET, POST", headers)
                status, body, _, _ = host.call("POST", "/api/chat/nowhere")
                check(status == 404, f"{mode}: an unknown route is the host's 404", str(status))
            code = host.stop()
            check(code == 0, f"{mode}: the handler stops cleanly on SIGTERM", str(code))
            log.seek(0)
            logs = log.read().decode(errors="replace")
            if ready:
                check_logs(logs, ids, f"{mode}")
            else:
                print(logs[-3000:])


def main(argv):
    if len(argv) >= 2 and argv[0] == "lambda":
        launcher = argv[argv.index("--") + 1:] if "--" in argv else []
        verify_lambda(argv[1], launcher)
    elif len(argv) == 2 and argv[0] == "functions":
        verify_functions(argv[1])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    if failures:
        print(f"  {len(failures)} check(s) failed: {', '.join(failures)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
