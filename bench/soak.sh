#!/usr/bin/env bash
# Sustained load: SOAK_SECONDS (default 60) of wrk at full rate (1 thread, 32 connections) on
# (1) the access-key path and (2) Entra access-key mode against bench/fake_service.py (managed
# identity + temporary key). Passes when there is no non-2xx answer, no socket error, and the
# RSS at the end is within 10% of the RSS at 10 s. Needs wrk (apt-get install wrk) and python3.
# Usage: bench/soak.sh            (from the repository root; builds release first)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${SOAK_SECONDS:-60}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }
cargo build --release --locked --quiet
binary=target/release/signalr-negotiate
post=../shared/bench/post.lua
[ -f "$post" ] || { post=$(mktemp --suffix=.lua); printf 'wrk.method = "POST"\nwrk.headers["Content-Length"] = "0"\n' >"$post"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

soak() { # name, then the environment of the function
    local name=$1; shift
    local port; port=$(free_port)
    env -i SIGNALR_LISTEN="127.0.0.1:$port" RUST_LOG=off "$@" "$binary" &
    local pid=$!; pids+=("$pid")
    for _ in $(seq 100); do curl -fs -o /dev/null -X POST "http://127.0.0.1:$port/api/chat/negotiate" && break; sleep 0.05; done
    local out; out=$(mktemp)
    wrk -t1 -c32 -d"${seconds}s" -s "$post" "http://127.0.0.1:$port/api/chat/negotiate" >"$out" &
    local wrk_pid=$!
    sleep 10; local rss10; rss10=$(rss_kb "$pid")
    wait "$wrk_pid"
    local rss_end; rss_end=$(rss_kb "$pid")
    local requests non2xx errors
    requests=$(awk '/requests in/ {print $1}' "$out")
    non2xx=$(awk '/Non-2xx/ {print $NF}' "$out"); non2xx=${non2xx:-0}
    errors=$(awk '/Socket errors/ {gsub(",",""); print $4+$6+$8+$10}' "$out"); errors=${errors:-0}
    local drift; drift=$(python3 -c "print(round(($rss_end-$rss10)*100/$rss10, 1))")
    printf '%-28s %10s requests  non-2xx %s  errors %s  RSS %s kB at 10 s, %s kB at end (%s%%)\n' \
        "$name" "$requests" "$non2xx" "$errors" "$rss10" "$rss_end" "$drift"
    kill "$pid"
    python3 -c "import sys; sys.exit(0 if $non2xx == 0 and $errors == 0 and abs($drift) <= 10 else 1)" \
        || { echo "FAILED: $name" >&2; return 1; }
}

soak "access-key path" \
    "AzureSignalRConnectionString=Endpoint=https://demo.service.signalr.net;AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;"

fake_out=$(mktemp)
python3 bench/fake_service.py >"$fake_out" & pids+=("$!")
for _ in $(seq 100); do [ -s "$fake_out" ] && break; sleep 0.05; done
fake_port=$(head -1 "$fake_out")
soak "Entra access-key mode" \
    "AzureSignalRConnectionString=Endpoint=http://127.0.0.1;Port=$fake_port;AuthType=azure.msi;Version=1.0;" \
    IDENTITY_ENDPOINT="http://127.0.0.1:$fake_port/msi/token" IDENTITY_HEADER=bench-identity-header \
    SIGNALR_ENTRA_MODE=access-key
echo "soak passed"
