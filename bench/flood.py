#!/usr/bin/env python3
"""Fairness of the connection cap under a flood of silent connections.

The release binary serves on a loopback port with the cap and timeouts given. An attacker (a
separate process) holds SOCKETS connections that never send a byte and reopens each as soon as
the server closes it, so the server's slots and the kernel's queue behind them are always full
of them. Meanwhile clients negotiate, CLIENTS requests in all, CONCURRENCY at a time, each on a
new connection (as a client arriving during the flood would), each given LIMIT_MS from its
connect to the whole answer. Printed: the cap and timeouts, the attacker's sockets and how
many it reopened, the sockets the server held, and the clients' success rate with the p50, p99
and slowest latency.

Usage, from the repository root:
  python3 bench/flood.py           # builds release first (SKIP_BUILD=1: not)
Settings (environment): CAP=512 HEADER_TIMEOUT_MS=10000 FIRST_BYTE_TIMEOUT_MS=1000 SOCKETS=1500
  CLIENTS=400 CONCURRENCY=4 LIMIT_MS=1000 WARMUP_S=3; BIN=<binary> measures another build (for
  example the build before a change, beside this one).
The defaults are the function's own (512 slots, 10 s header timeout) and the attacker of the
issue that found the flood: about 1,500 sockets, three times the cap. The server's queue in the
kernel holds four times the cap (at least 1,024, at most net.core.somaxconn); a flood larger
than the cap and that queue is met by the kernel, which drops the connections it cannot queue.
One attacker process reopens a few thousand connections a second: with the default cap the
server turns them over faster than that (up to the cap every 20 ms), so its queue stays short;
CAP=64 SOCKETS=1000 keeps the queue full.
"""
import asyncio
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.environ.get("BIN") or os.path.join(ROOT, "target", "release", "signalr-negotiate")
CAP = int(os.environ.get("CAP", "512"))
HEADER_TIMEOUT_MS = int(os.environ.get("HEADER_TIMEOUT_MS", "10000"))
FIRST_BYTE_TIMEOUT_MS = int(os.environ.get("FIRST_BYTE_TIMEOUT_MS", "1000"))
SOCKETS = int(os.environ.get("SOCKETS", "1500"))
CLIENTS = int(os.environ.get("CLIENTS", "400"))
CONCURRENCY = int(os.environ.get("CONCURRENCY", "4"))
LIMIT_MS = int(os.environ.get("LIMIT_MS", "1000"))
WARMUP_S = float(os.environ.get("WARMUP_S", "3"))
CONN = (
    "Endpoint=https://contoso-chat.service.signalr.net;"
    "AccessKey=Zm9vYmFyYmF6cXV4MDEyMzQ1Njc4OWFiY2RlZmdoaWo=;Version=1.0;"
)
REQUEST = b"POST /api/chat/negotiate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"


def raise_file_limit(needed):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            sys.exit(f"flood.py: the file limit ({hard}) is below the {needed} sockets needed")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


async def attack(port, sockets):
    """Holds `sockets` silent connections, reopening each once the server closes it; prints
    how many were opened when told to stop (SIGTERM)."""
    opened = 0

    async def one():
        nonlocal opened
        while True:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.01)
                continue
            opened += 1
            try:
                while await reader.read(256):
                    pass
            except OSError:
                pass
            writer.close()

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    tasks = [asyncio.create_task(one()) for _ in range(sockets)]
    await stop.wait()
    for task in tasks:
        task.cancel()
    print(opened, flush=True)


def whole_answer(got):
    head, sep, body = got.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return True


async def negotiate(port):
    """Seconds from the connect to the whole 200 answer, or why there was none."""
    started = time.perf_counter()
    got = b""
    try:
        async with asyncio.timeout(LIMIT_MS / 1000):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(REQUEST)
                while not whole_answer(got):
                    chunk = await reader.read(4096)
                    if not chunk:
                        break
                    got += chunk
            finally:
                writer.close()
    except TimeoutError:
        return f"no answer within {LIMIT_MS} ms"
    except OSError as error:
        return type(error).__name__
    if got.startswith(b"HTTP/1.1 200") and whole_answer(got):
        return time.perf_counter() - started
    return "closed without an answer" if not got else got.split(b"\r\n")[0].decode(errors="replace")


async def clients(port):
    latencies, failures = [], {}
    for _ in range(CLIENTS // CONCURRENCY):
        for outcome in await asyncio.gather(*(negotiate(port) for _ in range(CONCURRENCY))):
            if isinstance(outcome, float):
                latencies.append(outcome)
            else:
                failures[outcome] = failures.get(outcome, 0) + 1
    return latencies, failures


def sockets_of(pid):
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            count += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return count


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port):
    for _ in range(500):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)
    sys.exit("flood.py: the server did not listen")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--attack":
        port, sockets = int(sys.argv[2]), SOCKETS
        raise_file_limit(sockets + 64)
        asyncio.run(attack(port, sockets))
        return
    if not os.environ.get("BIN") and os.environ.get("SKIP_BUILD") != "1":
        subprocess.run(["cargo", "build", "--release", "--locked"], cwd=ROOT, check=True)
    port = free_port()
    env = {
        "SIGNALR_LISTEN": f"127.0.0.1:{port}",
        "AzureSignalRConnectionString": CONN,
        "RUST_LOG": "warn",
        "SIGNALR_MAX_CONNECTIONS": str(CAP),
        "SIGNALR_HEADER_TIMEOUT_MS": str(HEADER_TIMEOUT_MS),
        "SIGNALR_FIRST_BYTE_TIMEOUT_MS": str(FIRST_BYTE_TIMEOUT_MS),
    }
    server = subprocess.Popen([BINARY], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    attacker = None
    try:
        wait_listening(port)
        attacker = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--attack", str(port)], stdout=subprocess.PIPE, text=True
        )
        time.sleep(WARMUP_S)
        held = sockets_of(server.pid)
        started = time.perf_counter()
        latencies, failures = asyncio.run(clients(port))
        elapsed = time.perf_counter() - started
        attacker.send_signal(signal.SIGTERM)
        reopened = int(attacker.communicate(timeout=30)[0].strip() or 0)
    finally:
        if attacker and attacker.poll() is None:
            attacker.kill()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    total = len(latencies) + sum(failures.values())
    print(
        f"binary {os.path.relpath(BINARY, ROOT)}: cap {CAP}, header timeout {HEADER_TIMEOUT_MS} ms, "
        f"first-byte timeout {FIRST_BYTE_TIMEOUT_MS} ms"
    )
    print(
        f"attacker: {SOCKETS} silent sockets, {reopened} connections opened in "
        f"{WARMUP_S + elapsed:.1f} s; the server held {held} sockets after the warm-up"
    )
    line = f"clients: {len(latencies)} of {total} answered 200 within {LIMIT_MS} ms ({100 * len(latencies) / total:.1f}%)"
    if latencies:
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        line += (
            f"; p50 {1000 * statistics.median(latencies):.1f} ms, p99 {1000 * p99:.1f} ms, "
            f"slowest {1000 * latencies[-1]:.1f} ms ({CONCURRENCY} at a time, each on a new connection)"
        )
    print(line)
    if failures:
        print("failed: " + ", ".join(f"{count} {why}" for why, count in sorted(failures.items())))


if __name__ == "__main__":
    main()
