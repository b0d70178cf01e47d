#!/usr/bin/env python3
"""Measures what the function adds on the Entra generate-token path.

Starts bench/fake_service.py and the release binary (generate-token mode, managed identity
through the fake), then over 1,000 keep-alive requests each measures the median round trip of
(a) POST /api/chat/negotiate on the function and (b) the same generateToken call made
directly to the fake. The difference is the function's added latency.

Usage: cargo build --release && python3 bench/entra-overhead.py [count]
"""
import http.client
import os
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "release", "signalr-negotiate")
COUNT = int(sys.argv[1]) if len(sys.argv) > 1 else 1000


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(conn, method, path, headers=None):
    start = time.perf_counter()
    conn.request(method, path, body=b"", headers=headers or {})
    response = conn.getresponse()
    response.read()
    elapsed = time.perf_counter() - start
    assert response.status == 200, response.status
    return elapsed


def median_us(samples):
    return statistics.median(samples) * 1e6


def main():
    fake = subprocess.Popen([sys.executable, os.path.join(ROOT, "bench", "fake_service.py")], stdout=subprocess.PIPE, text=True)
    fake_port = int(fake.stdout.readline())
    port = free_port()
    env = {
        "SIGNALR_LISTEN": f"127.0.0.1:{port}",
        "AzureSignalRConnectionString": f"Endpoint=http://127.0.0.1;Port={fake_port};AuthType=azure.msi;Version=1.0;",
        "IDENTITY_ENDPOINT": f"http://127.0.0.1:{fake_port}/msi/token",
        "IDENTITY_HEADER": "bench-identity-header",
        "RUST_LOG": "off",
    }
    function = subprocess.Popen([BINARY], env=env)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.01)
        to_function = http.client.HTTPConnection("127.0.0.1", port)
        to_fake = http.client.HTTPConnection("127.0.0.1", fake_port)
        direct_path = "/api/hubs/chat/:generateToken?api-version=2022-11-01&minutesToExpire=60"
        bearer = {"authorization": "Bearer bench-entra-token", "content-length": "0"}
        for _ in range(50):  # warm up both paths (Entra token, pooled connections)
            timed(to_function, "POST", "/api/chat/negotiate")
            timed(to_fake, "POST", direct_path, bearer)
        through, direct = [], []
        for _ in range(COUNT):
            through.append(timed(to_function, "POST", "/api/chat/negotiate"))
            direct.append(timed(to_fake, "POST", direct_path, bearer))
        t, d = median_us(through), median_us(direct)
        print(f"negotiates: {COUNT} (generate-token mode, managed identity, fake service on loopback)")
        print(f"median round trip through the function: {t:8.1f} us")
        print(f"median round trip to the fake directly: {d:8.1f} us")
        print(f"added by the function (median):         {t - d:8.1f} us")
    finally:
        function.terminate()
        fake.terminate()


if __name__ == "__main__":
    main()
