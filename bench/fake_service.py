#!/usr/bin/env python3
"""A fake Azure SignalR service for benchmarks: the App Service managed-identity endpoint,
generateToken and auth/accessKey, over keep-alive HTTP/1.1 on loopback. Prints its port.

Not a test double for correctness (the tests have their own); it answers as fast as it can
so the benchmarks measure the function, not the fake.
"""
import json
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

IDENTITY_HEADER = "bench-identity-header"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # Headers and body go out in two writes; without this, Nagle holds the second one
        # until the client's delayed ACK (40 ms), which would be measured as ours.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.startswith("/msi/token"):
            if self.headers.get("x-identity-header") != IDENTITY_HEADER:
                return self.answer(400, {"error": "bad header"})
            return self.answer(200, {
                "access_token": "bench-entra-token",
                "expires_on": str(int(time.time()) + 3600),
                "token_type": "Bearer",
                "resource": "https://signalr.azure.com",
            })
        if self.path == "/api/v1/auth/accessKey":
            return self.answer(200, {"KeyId": "bench-key", "AccessKey": "BenchTemporaryKey0123456789abcdefghijklmnop"})
        self.answer(404, {})

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        if ":generateToken" in self.path:
            return self.answer(200, {"token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.bench"})
        self.answer(404, {})


def main():
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
