#!/usr/bin/env bash
# Where a negotiate's CPU goes: the release build with symbols (profile "profiling"), profiled
# two ways while it serves POST /api/chat/negotiate on the access-key path, RUST_LOG=off unless LOG says otherwise:
#
#   perf      `perf record` (cpu-clock samples) of the server while wrk drives it
#             (1 thread, 32 connections); kernel and user time, real hardware (SHA extensions).
#   callgrind `valgrind --tool=callgrind` of the server over REQUESTS sequential keep-alive
#             negotiates, with instructions per negotiate measured against a second, shorter run
#             (start-up cancels out). Deterministic, user space only; valgrind hides the CPU's
#             SHA extensions, so SHA-256 counts high there.
#
# Both run the server with one worker thread (TOKIO_WORKER_THREADS=1), so that a profile is one
# thread's work; the limit server (bench/limit-server) is measured the same way for comparison.
#
# Run from the repository root:   bench/profile.sh            (both)
#                                 bench/profile.sh perf | callgrind
# Settings: DURATION=5s REQUESTS=2000 PORT=18090 LOG=off (ours' RUST_LOG; LOG=info profiles it as
#   deployed, one line per negotiate appended to target/bench/profile-ours.log)
# Writes target/bench/profile-*.txt (reports) and prints a summary.
# Needs: cargo, wrk, perf (linux-perf) and/or valgrind, python3; ../shared/bench/post.lua.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

MODE=${1:-both}
DURATION=${DURATION:-5s}
REQUESTS=${REQUESTS:-2000}
PORT=${PORT:-18090}
LOG=${LOG:-off}

echo "== build (profile: profiling = release with symbols)" >&2
cargo build --profile profiling --locked >&2
cargo build --profile release --locked --manifest-path bench/limit-server/Cargo.toml \
    --target-dir target/limit-server >&2
BIN=$ROOT/target/profiling/signalr-negotiate
LIMIT_BIN=$ROOT/target/limit-server/release/limit-server

SERVER_PID=
trap 'if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; fi' EXIT

# serve NAME [WRAPPER...]: starts a server on $PORT with one worker; its pid in SERVER_PID.
serve() {
    local name=$1
    shift
    if [[ $name == ours ]]; then
        TOKIO_WORKER_THREADS=1 RUST_LOG=$LOG SIGNALR_LISTEN="127.0.0.1:$PORT" \
            AzureSignalRConnectionString="$CONN" "$@" "$BIN" >>"$WORK/profile-$name.log" 2>"$WORK/profile-$name.err" &
    else
        TOKIO_WORKER_THREADS=1 "$@" "$LIMIT_BIN" "$PORT" 443 >/dev/null 2>"$WORK/profile-$name.err" &
    fi
    SERVER_PID=$!
}

# Stops the server and waits for it (valgrind writes its output at exit).
stop() {
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
}

# Sequential keep-alive negotiates (waits for the server first).
drive() {
    python3 - "$PORT" "$1" <<'EOF'
import http.client, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
deadline = time.monotonic() + 120
while True:
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        c.request("POST", "/api/chat/negotiate", body=b"")
        c.getresponse().read()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("the server did not answer")
        time.sleep(0.1)
for _ in range(n):
    c.request("POST", "/api/chat/negotiate", body=b"")
    r = c.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"status {r.status}")
EOF
}

profile_perf() {
    need perf "install it with: apt-get install linux-perf"
    need wrk "install it with: apt-get install wrk"
    [[ -f $POST_LUA ]] || die "$POST_LUA is needed (../shared from the repository root)"
    local name
    for name in ours limit; do
        serve "$name"
        drive 100
        wrk -t1 -c32 -d1s -s "$POST_LUA" "http://127.0.0.1:$PORT/api/chat/negotiate" >/dev/null
        perf record -q -e cpu-clock -F 2000 -g -p "$SERVER_PID" -o "$WORK/perf-$name.data" -- sleep "${DURATION%s}" \
            >/dev/null 2>&1 &
        local recorder=$!
        wrk -t1 -c32 -d"$DURATION" -s "$POST_LUA" "http://127.0.0.1:$PORT/api/chat/negotiate" |
            awk -v n="$name" '/^Requests\/sec:/ { print "perf: " n ": " $2 " requests/s under the profiler" }'
        wait "$recorder" || true
        stop
        {
            echo "# $name: where the CPU goes (self time, by DSO, then by symbol)"
            perf report -i "$WORK/perf-$name.data" --no-children --sort dso --stdio -g none 2>/dev/null |
                awk '/%/'
            echo
            perf report -i "$WORK/perf-$name.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null |
                awk '/%/ && ++n <= 80'
        } >"$WORK/profile-perf-$name.txt"
        echo "perf: $name: $(awk '/%/ && ++n <= 3 { printf "%s %s  ", $1, $2 }' "$WORK/profile-perf-$name.txt")"
    done
    echo "perf: reports in target/bench/profile-perf-{ours,limit}.txt"
}

profile_callgrind() {
    need valgrind "install it with: apt-get install valgrind"
    local name n total
    for name in ours limit; do
        declare -A IR=()
        for n in $((REQUESTS / 4)) "$REQUESTS"; do
            serve "$name" valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind-$name-$n.out"
            drive "$n"
            stop
            total=$(grep -o 'Collected : [0-9]*' "$WORK/profile-$name.err" | awk '{ s += $3 } END { print s }')
            IR[$n]=$total
        done
        local per=$(((IR[$REQUESTS] - IR[$((REQUESTS / 4))]) / (REQUESTS - REQUESTS / 4)))
        echo "callgrind: $name: $per instructions per negotiate (user space)"
        callgrind_annotate --inclusive=yes "$WORK/callgrind-$name-$REQUESTS.out" 2>/dev/null |
            sed -E 's#/root/\.cargo/registry/src/[^/]+/##; s#/rustc/[0-9a-f]+/##' |
            awk 'NR <= 120' >"$WORK/profile-callgrind-$name.txt"
    done
    echo "callgrind: reports (inclusive) in target/bench/profile-callgrind-{ours,limit}.txt"
}

case $MODE in
perf) profile_perf ;;
callgrind) profile_callgrind ;;
both)
    profile_perf
    profile_callgrind
    ;;
*) die "usage: bench/profile.sh [perf|callgrind|both]" ;;
esac
