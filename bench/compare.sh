#!/usr/bin/env bash
# Throughput and latency of the negotiate function next to the seed article's Node/express peer
# and the limit (a minimal axum server answering a fixed body of the same size).
#
# Builds release, starts every server on loopback, then drives each in turn with wrk (POST,
# keep-alive, 1 thread, 32 connections, the same duration), alternating between them for
# ROUNDS rounds, and prints one table of medians: requests/s, p50, p99, and how many times
# ours (default settings, and logs off) does the requests/s of each; ours ÷ limit is the
# figure that says how close to the HTTP limit a user gets.
#
#   ours                 this function as deployed: default settings (logs at info, one line
#                        per negotiate), local mode, access-key path, standard output
#                        appended to a file as a host keeps it. The headline row.
#   ours, logs off       the same with RUST_LOG=off
#   peer as written      ../shared/bench/peer-node: node server.js
#   peer tuned           the same with TUNED=1 WORKERS=2 (its fastest form)
#   limit                bench/limit-server with a body as large as ours
#   baseline             (with BASELINE=path/to/an/older/signalr-negotiate) that binary run
#                        as ours is (default settings): a before/after in the same run
#
# Run from the repository root:   bench/compare.sh
# Settings (environment): DURATION=10s ROUNDS=3 CONNECTIONS=32 WARMUP=3s
#   BASE_PORT=18070 (ours, then +1 .. +5 for the others)
#   BASELINE=path to an older build of this function, measured beside ours
#   SKIP_BUILD=1 to use the binaries as they are (after a build of your own)
# Needs: cargo, wrk (apt-get install wrk), Node 20 and npm, curl; ../shared/bench/.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-32}
WARMUP=${WARMUP:-3s}
BASE_PORT=${BASE_PORT:-18070}
HUB=chat
PATH_=/api/$HUB/negotiate

need wrk "install it with: apt-get install wrk"
need node "install Node 20 (https://nodejs.org/ or your distribution's nodejs package)"
need npm "install npm (it comes with Node 20)"
need curl "install it with: apt-get install curl"
need cargo "install the Rust toolchain (https://rustup.rs)"
[[ -f $POST_LUA && -f $SHARED_BENCH/peer-node/server.js ]] ||
    die "$SHARED_BENCH/post.lua and $SHARED_BENCH/peer-node/ are needed (../shared from the repository root)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
((node_major >= 20)) || echo "compare.sh: warning: Node $(node --version) found; the peer is meant for Node 20" >&2

PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    echo "== build" >&2
    cargo build --release --locked >&2
    cargo build --release --locked --manifest-path bench/limit-server/Cargo.toml \
        --target-dir target/limit-server >&2
fi
BIN=$ROOT/target/release/signalr-negotiate
LIMIT_BIN=$ROOT/target/limit-server/release/limit-server

echo "== peer: npm ci in target/peer-node (../shared is read-only)" >&2
PEER=$ROOT/target/peer-node
mkdir -p "$PEER"
cp "$SHARED_BENCH/peer-node/package.json" "$SHARED_BENCH/peer-node/package-lock.json" \
    "$SHARED_BENCH/peer-node/server.js" "$PEER/"
chmod u+w "$PEER"/*
(cd "$PEER" && npm ci --no-audit --no-fund --loglevel=error >&2)

port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Waits until POST $PATH_ answers 200 on a port.
wait_ready() {
    local port=$1 name=$2 i
    for ((i = 0; i < 200; i++)); do
        if [[ $(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port$PATH_") == 200 ]]; then
            return 0
        fi
        sleep 0.05
    done
    die "$name did not answer 200 on port $port within 10 s"
}

# start NAME PORT COMMAND... (environment given with env(1)); output to $WORK/NAME.log
start() {
    local name=$1 port=$2
    shift 2
    port_free "$port" || die "port $port (for $name) is in use; set BASE_PORT"
    : >"$WORK/$name.log"
    # Appending, so that the log can be emptied between rounds while the server writes.
    "$@" >>"$WORK/$name.log" 2>&1 &
    PIDS+=($!)
    wait_ready "$port" "$name"
}

OURS_PORT=$BASE_PORT
OURS_OFF_PORT=$((BASE_PORT + 1))
PEER_PORT=$((BASE_PORT + 2))
PEER_TUNED_PORT=$((BASE_PORT + 3))
LIMIT_PORT=$((BASE_PORT + 4))
BASELINE_PORT=$((BASE_PORT + 5))

echo "== start" >&2
# Default settings: logs at info, standard output written to a file (as a host capturing it
# would keep it).
start ours "$OURS_PORT" env -u RUST_LOG SIGNALR_LISTEN="127.0.0.1:$OURS_PORT" AzureSignalRConnectionString="$CONN" "$BIN"
start ours-off "$OURS_OFF_PORT" env RUST_LOG=off SIGNALR_LISTEN="127.0.0.1:$OURS_OFF_PORT" AzureSignalRConnectionString="$CONN" "$BIN"
start peer "$PEER_PORT" env -C "$PEER" CONN="$CONN" HUB="$HUB" PORT="$PEER_PORT" node server.js
start peer-tuned "$PEER_TUNED_PORT" env -C "$PEER" CONN="$CONN" HUB="$HUB" PORT="$PEER_TUNED_PORT" TUNED=1 WORKERS=2 node server.js

# The limit answers as many bytes as we do.
BODY_SIZE=$(curl -s -X POST "http://127.0.0.1:$OURS_PORT$PATH_" | wc -c)
PEER_BODY_SIZE=$(curl -s -X POST "http://127.0.0.1:$PEER_PORT$PATH_" | wc -c)
start limit "$LIMIT_PORT" "$LIMIT_BIN" "$LIMIT_PORT" "$BODY_SIZE"
echo "response body: ours $BODY_SIZE bytes, peer $PEER_BODY_SIZE bytes, limit $(curl -s -X POST "http://127.0.0.1:$LIMIT_PORT$PATH_" | wc -c) bytes" >&2

NAMES=(ours ours-off peer peer-tuned limit)
declare -A PORT_OF=([ours]=$OURS_PORT [ours-off]=$OURS_OFF_PORT [peer]=$PEER_PORT [peer-tuned]=$PEER_TUNED_PORT [limit]=$LIMIT_PORT [baseline]=$BASELINE_PORT)
declare -A LABEL=(
    [ours]="**ours, default settings** (logs at info, to a file)"
    [ours-off]="ours, logs off (RUST_LOG=off)"
    [peer]="peer as written (node server.js)"
    [peer-tuned]="peer tuned (TUNED=1 WORKERS=2)"
    [limit]="limit (axum, fixed ${BODY_SIZE}-byte body)"
    [baseline]="baseline (${BASELINE:-}, default settings, to a file)"
)
if [[ -n ${BASELINE:-} ]]; then
    [[ -x $BASELINE ]] || die "BASELINE=$BASELINE is not an executable"
    start baseline "$BASELINE_PORT" env -u RUST_LOG SIGNALR_LISTEN="127.0.0.1:$BASELINE_PORT" AzureSignalRConnectionString="$CONN" "$BASELINE"
    NAMES+=(baseline)
fi

# wrk's latency as milliseconds: 812.00us, 1.23ms, 1.02s.
to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
        else { print "NaN" }
    }'
}

# run_wrk NAME DURATION: prints "requests/s p50_ms p99_ms" and keeps wrk's output.
run_wrk() {
    local name=$1 duration=$2 out
    out=$(wrk -t1 -c"$CONNECTIONS" -d"$duration" --latency -s "$POST_LUA" \
        "http://127.0.0.1:${PORT_OF[$name]}$PATH_")
    printf '%s\n' "$out" >>"$WORK/wrk-$name.txt"
    if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
        echo "compare.sh: warning: $name: $(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr -s ' ')" >&2
    fi
    local rps p50 p99
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
    p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
    [[ -n $rps && -n $p50 && -n $p99 ]] || die "could not read wrk's output for $name: $out"
    echo "$rps $(to_ms "$p50") $(to_ms "$p99")"
}

median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "== warm-up ($WARMUP each)" >&2
rm -f "$WORK"/wrk-*.txt
for name in "${NAMES[@]}"; do
    run_wrk "$name" "$WARMUP" >/dev/null
done
rm -f "$WORK"/wrk-*.txt

RESULTS=$WORK/compare-results.txt
: >"$RESULTS"
echo "== $ROUNDS rounds of $DURATION per server, alternating (wrk -t1 -c$CONNECTIONS, POST, keep-alive)" >&2
for ((round = 1; round <= ROUNDS; round++)); do
    for name in "${NAMES[@]}"; do
        # The logs of the previous round are not kept (they grow by ~100 MB a round).
        : >"$WORK/ours.log"
        [[ -z ${BASELINE:-} ]] || : >"$WORK/baseline.log"
        line=$(run_wrk "$name" "$DURATION")
        read -r rps p50 p99 <<<"$line"
        echo "$name $rps $p50 $p99" >>"$RESULTS"
        printf 'round %d  %-11s %10.0f req/s  p50 %7.3f ms  p99 %7.3f ms\n' "$round" "$name" "$rps" "$p50" "$p99" >&2
    done
done

declare -A RPS P50 P99
for name in "${NAMES[@]}"; do
    RPS[$name]=$(awk -v n="$name" '$1 == n { print $2 }' "$RESULTS" | median)
    P50[$name]=$(awk -v n="$name" '$1 == n { print $3 }' "$RESULTS" | median)
    P99[$name]=$(awk -v n="$name" '$1 == n { print $4 }' "$RESULTS" | median)
done

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f×", a / b }'
}

echo
echo "Medians of $ROUNDS rounds; wrk -t1 -c$CONNECTIONS -d$DURATION, POST $PATH_, keep-alive; $(nproc) CPUs; $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "| server | requests/s | p50 (ms) | p99 (ms) | ours (defaults) ÷ this | ours (logs off) ÷ this |"
echo "|---|---:|---:|---:|---:|---:|"
for name in "${NAMES[@]}"; do
    printf '| %s | %.0f | %.3f | %.3f | %s | %s |\n' "${LABEL[$name]}" "${RPS[$name]}" "${P50[$name]}" "${P99[$name]}" \
        "$(ratio "${RPS[ours]}" "${RPS[$name]}")" "$(ratio "${RPS[ours-off]}" "${RPS[$name]}")"
done
echo
echo "ours ÷ limit: $(ratio "${RPS[ours]}" "${RPS[limit]}") with the default settings (p99 ${P99[ours]} ms), $(ratio "${RPS[ours-off]}" "${RPS[limit]}") with logs off"
echo
echo "Every round: $RESULTS (name, requests/s, p50 ms, p99 ms); wrk's own output: $WORK/wrk-*.txt"
