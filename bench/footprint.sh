#!/usr/bin/env bash
# Footprint of the negotiate function: the stripped release binary's size, and its resident
# memory (VmRSS) after 100,000 negotiates and then every 100,000 more up to 500,000 (local
# mode, access-key path, RUST_LOG=off), driven by wrk (POST, keep-alive, 1 thread, 32
# connections) in chunks that each stop after 100,000 answers.
#
# Run from the repository root:   bench/footprint.sh
# Settings (environment): PORT=18079 CHUNK=100000 CHUNKS=5 SKIP_BUILD=0 (1: use the binary as built)
# Needs: cargo, wrk (apt-get install wrk), curl, strip (binutils); ../shared/bench/post.lua.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PORT=${PORT:-18079}
CHUNK=${CHUNK:-100000}
CHUNKS=${CHUNKS:-5}

need wrk "install it with: apt-get install wrk"
need curl "install it with: apt-get install curl"
need strip "install it with: apt-get install binutils"
[[ -f $POST_LUA ]] || die "$POST_LUA is needed (../shared from the repository root)"

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    echo "== build" >&2
    cargo build --release --locked >&2
fi
BIN=$ROOT/target/release/signalr-negotiate

# The release profile strips already; strip a copy anyway so the figure holds if it stops.
cp "$BIN" "$WORK/signalr-negotiate.stripped"
strip "$WORK/signalr-negotiate.stripped"
size_as_built=$(stat -c %s "$BIN")
size_stripped=$(stat -c %s "$WORK/signalr-negotiate.stripped")

# post.lua's POST, plus a counter that stops wrk's (single) thread after $REQUESTS answers and
# leaves a file saying so (wrk itself waits out its duration unless it gets SIGINT).
cat >"$WORK/stop-after.lua" <<'EOF'
dofile(os.getenv("POST_LUA"))
local limit = tonumber(os.getenv("REQUESTS"))
local answered = 0
response = function(status, headers, body)
  answered = answered + 1
  if answered == limit then
    wrk.thread:stop()
    local done = io.open(os.getenv("DONE_FILE"), "w")
    done:write(answered, "\n")
    done:close()
  end
end
EOF

! (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || die "port $PORT is in use; set PORT"
RUST_LOG=off SIGNALR_LISTEN="127.0.0.1:$PORT" AzureSignalRConnectionString="$CONN" "$BIN" >/dev/null 2>&1 &
PID=$!
WRK=
trap 'kill "$PID" $WRK 2>/dev/null || true; wait 2>/dev/null || true' EXIT INT TERM
for ((i = 0; i < 200; i++)); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/api/chat/negotiate") == 200 ]] && break
    sleep 0.05
done
((i < 200)) || die "the function did not answer on port $PORT"

kib() {
    awk -v f="$1" '$1 == f":" { print $2 }' "/proc/$PID/status"
}

echo "| negotiates answered | VmRSS (KiB) | VmHWM (KiB) |"
echo "|---:|---:|---:|"
echo "| 1 | $(kib VmRSS) | $(kib VmHWM) |"
total=1
declare -a RSS_AT
for ((chunk = 1; chunk <= CHUNKS; chunk++)); do
    rm -f "$WORK/stop-after.done"
    POST_LUA=$POST_LUA REQUESTS=$CHUNK DONE_FILE=$WORK/stop-after.done \
        wrk -t1 -c32 -d600s --latency -s "$WORK/stop-after.lua" \
        "http://127.0.0.1:$PORT/api/chat/negotiate" >"$WORK/footprint-wrk.txt" &
    WRK=$!
    until [[ -e $WORK/stop-after.done ]]; do
        kill -0 "$WRK" 2>/dev/null || die "wrk stopped before $CHUNK answers: $(cat "$WORK/footprint-wrk.txt")"
        sleep 0.05
    done
    # SIGINT ends wrk's wait; it then prints its summary.
    kill -INT "$WRK"
    wait "$WRK" || true
    out=$(cat "$WORK/footprint-wrk.txt")
    if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
        echo "footprint.sh: warning: $(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr -s ' ')" >&2
    fi
    done_now=$(awk '/requests in/ { print $1 }' <<<"$out")
    total=$((total + done_now))
    sleep 0.5
    RSS_AT[chunk]=$(kib VmRSS)
    echo "| $total | ${RSS_AT[chunk]} | $(kib VmHWM) |"
done
echo
echo "binary: $size_as_built bytes as built, $size_stripped bytes stripped ($(awk -v b="$size_stripped" 'BEGIN { printf "%.2f MB, %.2f MiB", b / 1e6, b / 1048576 }'))"
echo "RSS after chunk 1: ${RSS_AT[1]} KiB ($(awk -v k="${RSS_AT[1]}" 'BEGIN { printf "%.1f MiB", k / 1024 }')); after chunk $CHUNKS: ${RSS_AT[CHUNKS]} KiB; growth $((RSS_AT[CHUNKS] - RSS_AT[1])) KiB"
