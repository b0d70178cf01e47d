#!/usr/bin/env python3
"""Cold start: process start -> first 200 answer to POST /api/chat/negotiate, local mode.

For each run a fresh process is started on a free loopback port; the clock starts just before
the process is spawned and stops when the first negotiate answers 200 (the port is polled every
0.2 ms until it accepts). Runs alternate between the servers; the median of RUNS runs is
reported, with the fastest and slowest. Each run begins with the next server in turn.

  ours                   target/release/signalr-negotiate, RUST_LOG=off
  ours, logs on          the same at the default level (info), stdout to /dev/null
  peer as written        the seed article's Node/express peer: node server.js (target/peer-node)

Usage, from the repository root (after `cargo build --release`):
  python3 bench/coldstart.py [runs]        # default 20
The peer is copied from ../shared/bench/peer-node to target/peer-node and installed with
`npm ci` if that was not done yet (bench/compare.sh does it too).
"""
import os
import shutil
import socket
import statistics
import subprocess
import sys
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


def peer(port):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CONN": CONN, "HUB": "chat", "PORT": str(port)}
    return ["node", "server.js"], env, PEER


SERVERS = [
    ("ours (RUST_LOG=off)", ours("off")),
    ("ours, logs on (info, to /dev/null)", ours(None)),
    ("peer as written (node server.js)", peer),
]


def main():
    if not os.path.exists(BINARY):
        sys.exit("coldstart.py: build first: cargo build --release")
    ensure_peer()
    samples = {name: [] for name, _ in SERVERS}
    for run in range(RUNS):
        # Each run starts with a different server, so none always follows the same one.
        for name, command in SERVERS[run % len(SERVERS) :] + SERVERS[: run % len(SERVERS)]:
            port = free_port()
            argv, env, cwd = command(port)
            started = time.perf_counter()
            process = subprocess.Popen(
                argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            try:
                samples[name].append(first_200(port, process, started))
            finally:
                process.terminate()
                process.wait()
    print(f"Cold start, process start -> first 200 negotiate, {RUNS} runs each (ms)\n")
    print("| server | median | fastest | slowest |")
    print("|---|---:|---:|---:|")
    for name, _ in SERVERS:
        ms = [s * 1000 for s in samples[name]]
        print(f"| {name} | {statistics.median(ms):.2f} | {min(ms):.2f} | {max(ms):.2f} |")


if __name__ == "__main__":
    main()
