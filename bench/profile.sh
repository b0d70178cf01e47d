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
#                                 bench/profile.sh key        (instructions per token of
#                                 examples/key_read.rs: a fixed key against the rotating key, which
#                                 only a connection string kept in AWS uses)
#                                 bench/profile.sh syscalls   (system calls per negotiate, strace)
# Settings: DURATION=5s REQUESTS=2000 PORT=18090 LOG=off (ours' RUST_LOG; LOG=info profiles it as
#   deployed, one line per negotiate appended to target/bench/profile-<label>.log)
#   BIN=path LABEL=name   measure that binary of ours (no build), reported under LABEL (default: its
#                         file name); BINS="name=path name=path ..." measures several in the same run,
#                         one after the other (builds of the same source with one piece done another way)
#   LIMIT=0               leaves the limit server out
#   TARGET=/api/chat/negotiate   the request target (a query string too: ?negotiateVersion=1)
#   HOST=local            local (text log lines) or functions (the Azure Functions host: JSON lines,
#                         FUNCTIONS_CUSTOMHANDLER_PORT=$PORT)
#   SERVICE=signalr       signalr or webpubsub (the same access key and host name under
#                         WebPubSubConnectionString: a Web PubSub negotiate on the same routes)
# Writes target/bench/profile-*.txt (reports) and prints a summary.
# Needs: cargo, wrk, perf (linux-perf) and/or valgrind, python3; ../shared/bench/post.lua.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

MODE=${1:-both}
DURATION=${DURATION:-5s}
REQUESTS=${REQUESTS:-2000}
PORT=${PORT:-18090}
LOG=${LOG:-off}

TARGET=${TARGET:-/api/chat/negotiate}
HOST=${HOST:-local}
LIMIT=${LIMIT:-1}
SERVICE=${SERVICE:-signalr}
case $SERVICE in
    signalr) CONN_SETTING=AzureSignalRConnectionString ;;
    webpubsub) CONN_SETTING=WebPubSubConnectionString CONN=${CONN/.service.signalr.net/.webpubsub.azure.com} ;;
    *) die "SERVICE is signalr or webpubsub" ;;
esac
[[ $HOST == local || $HOST == functions ]] || die "HOST is local or functions"

# OURS: "label=path" of each binary of ours to measure (BINS or BIN, else the profiling build of
# the server, or of examples/key_read.rs for MODE=key); NAMES: their labels, then the limit's.
if [[ -n ${BINS:-} ]]; then
    read -r -a OURS <<<"$BINS"
elif [[ -n ${BIN:-} ]]; then
    OURS=("${LABEL:-$(basename "$BIN")}=$BIN")
elif [[ $MODE == key ]]; then
    echo "== build (profile: profiling, examples/key_read.rs)" >&2
    cargo build --profile profiling --locked --example key_read >&2
    OURS=("ours=$ROOT/target/profiling/examples/key_read")
else
    echo "== build (profile: profiling = release with symbols)" >&2
    cargo build --profile profiling --locked >&2
    OURS=("ours=$ROOT/target/profiling/signalr-negotiate")
fi
NAMES=()
for entry in "${OURS[@]}"; do
    [[ $entry == *=* && -x ${entry#*=} ]] || die "not label=path of an executable: $entry"
    NAMES+=("${entry%%=*}")
done
if [[ $LIMIT != 0 && $MODE != key ]]; then
    cargo build --profile release --locked --manifest-path bench/limit-server/Cargo.toml \
        --target-dir target/limit-server >&2
    NAMES+=(limit)
fi
LIMIT_BIN=$ROOT/target/limit-server/release/limit-server

# binary_of LABEL: the binary of ours measured under that label.
binary_of() {
    local entry
    for entry in "${OURS[@]}"; do
        if [[ ${entry%%=*} == "$1" ]]; then
            echo "${entry#*=}"
            return
        fi
    done
}

SERVER_PID=
trap 'if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; fi' EXIT

# serve NAME [WRAPPER...]: starts a server on $PORT with one worker; its pid in SERVER_PID.
serve() {
    local name=$1
    shift
    if [[ $name == limit ]]; then
        TOKIO_WORKER_THREADS=1 "$@" "$LIMIT_BIN" "$PORT" 443 >/dev/null 2>"$WORK/profile-$name.err" &
    else
        local where=(SIGNALR_LISTEN="127.0.0.1:$PORT")
        [[ $HOST == functions ]] && where=(FUNCTIONS_CUSTOMHANDLER_PORT="$PORT")
        env TOKIO_WORKER_THREADS=1 RUST_LOG="$LOG" "${where[@]}" "$CONN_SETTING=$CONN" \
            "$@" "$(binary_of "$name")" >>"$WORK/profile-$name.log" 2>"$WORK/profile-$name.err" &
    fi
    SERVER_PID=$!
}

# Stops the server and waits for it (valgrind and strace write their output at exit). Under
# strace the server is strace's child, and it is the one told to stop.
stop() {
    local child
    child=$(ps -o pid= --ppid "$SERVER_PID" | head -1 | tr -d ' ' || true)
    kill -TERM "${child:-$SERVER_PID}" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
}

# Sequential keep-alive negotiates (waits for the server first).
drive() {
    python3 - "$PORT" "$1" "$TARGET" <<'EOF'
import http.client, sys, time
port, n, target = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
deadline = time.monotonic() + 120
while True:
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        c.request("POST", target, body=b"")
        c.getresponse().read()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("the server did not answer")
        time.sleep(0.1)
for _ in range(n):
    c.request("POST", target, body=b"")
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
    for name in "${NAMES[@]}"; do
        serve "$name"
        drive 100
        wrk -t1 -c32 -d1s -s "$POST_LUA" "http://127.0.0.1:$PORT$TARGET" >/dev/null
        perf record -q -e cpu-clock -F 2000 -g -p "$SERVER_PID" -o "$WORK/perf-$name.data" -- sleep "${DURATION%s}" \
            >/dev/null 2>&1 &
        local recorder=$!
        wrk -t1 -c32 -d"$DURATION" -s "$POST_LUA" "http://127.0.0.1:$PORT$TARGET" |
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
    echo "perf: reports in target/bench/profile-perf-<label>.txt"
}

profile_callgrind() {
    need valgrind "install it with: apt-get install valgrind"
    local name n total per first=
    echo "callgrind: LOG=$LOG HOST=$HOST TARGET=$TARGET, $((REQUESTS / 4)) and $REQUESTS negotiates"
    for name in "${NAMES[@]}"; do
        declare -A IR=()
        for n in $((REQUESTS / 4)) "$REQUESTS"; do
            serve "$name" valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind-$name-$n.out"
            drive "$n"
            stop
            total=$(grep -o 'Collected : [0-9]*' "$WORK/profile-$name.err" | awk '{ s += $3 } END { print s }')
            IR[$n]=$total
        done
        per=$(((IR[$REQUESTS] - IR[$((REQUESTS / 4))]) / (REQUESTS - REQUESTS / 4)))
        # The first binary of the run is the one the others are compared with.
        if [[ -z $first ]]; then
            first=$per
            echo "callgrind: $name: $per instructions per negotiate (user space)"
        else
            echo "callgrind: $name: $per instructions per negotiate (user space)," \
                "$((per - first)) against ${NAMES[0]}" \
                "($(awk -v a="$per" -v b="$first" 'BEGIN { printf "%+.2f%%", (a - b) * 100 / b }'))"
        fi
        callgrind_annotate --inclusive=yes "$WORK/callgrind-$name-$REQUESTS.out" 2>/dev/null |
            sed -E 's#/root/\.cargo/registry/src/[^/]+/##; s#/rustc/[0-9a-f]+/##' |
            awk 'NR <= 120' >"$WORK/profile-callgrind-$name.txt"
    done
    echo "callgrind: reports (inclusive) in target/bench/profile-callgrind-<label>.txt"
}

# Instructions per token of examples/key_read.rs, signing with a fixed key and with the rotating
# key (REQUESTS/4 and REQUESTS tokens, the difference divided).
profile_key() {
    need valgrind "install it with: apt-get install valgrind"
    local name mode n fixed per
    echo "key: instructions per token, $((REQUESTS / 4)) and $REQUESTS tokens"
    for name in "${NAMES[@]}"; do
        for mode in fixed rotating; do
            declare -A IR=()
            for n in $((REQUESTS / 4)) "$REQUESTS"; do
                valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind-key-$name-$mode-$n.out" \
                    "$(binary_of "$name")" "$mode" "$n" 2>"$WORK/profile-key.err" ||
                    die "$name $mode failed: $(cat "$WORK/profile-key.err")"
                IR[$n]=$(grep -o 'Collected : [0-9]*' "$WORK/profile-key.err" | awk '{ s += $3 } END { print s }')
            done
            per=$(((IR[$REQUESTS] - IR[$((REQUESTS / 4))]) / (REQUESTS - REQUESTS / 4)))
            if [[ $mode == fixed ]]; then
                fixed=$per
            else
                echo "key: $name: fixed key $fixed, rotating key $per instructions per token" \
                    "($((per - fixed)) for the read)"
            fi
        done
    done
}

# System calls per negotiate (strace -f -c over REQUESTS/4 and REQUESTS negotiates, the difference
# divided): what callgrind, counting user space only, does not see (a write per log line, say).
profile_syscalls() {
    need strace "install it with: apt-get install strace"
    local name n
    echo "syscalls: LOG=$LOG HOST=$HOST TARGET=$TARGET, per negotiate ($((REQUESTS / 4)) and $REQUESTS negotiates)"
    for name in "${NAMES[@]}"; do
        for n in $((REQUESTS / 4)) "$REQUESTS"; do
            serve "$name" strace -f -c -o "$WORK/strace-$name-$n.txt"
            drive "$n"
            stop
        done
        python3 - "$name" "$((REQUESTS / 4))" "$REQUESTS" \
            "$WORK/strace-$name-$((REQUESTS / 4)).txt" "$WORK/strace-$name-$REQUESTS.txt" <<'EOF'
import sys
name, small, large = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def calls(path):
    counts = {}
    for line in open(path):
        fields = line.split()
        if len(fields) >= 5 and fields[0][0].isdigit() and fields[-1] != "total":
            counts[fields[-1]] = int(fields[3])
    return counts
a, b = calls(sys.argv[4]), calls(sys.argv[5])
per = {k: (b.get(k, 0) - a.get(k, 0)) / (large - small) for k in set(a) | set(b)}
top = sorted(((v, k) for k, v in per.items() if v >= 0.01), reverse=True)
print(f"syscalls: {name}: {sum(per.values()):.2f} per negotiate: " + ", ".join(f"{k} {v:.2f}" for v, k in top))
EOF
    done
}

case $MODE in
perf) profile_perf ;;
callgrind) profile_callgrind ;;
key) profile_key ;;
syscalls) profile_syscalls ;;
both)
    profile_perf
    profile_callgrind
    ;;
*) die "usage: bench/profile.sh [perf|callgrind|both|key|syscalls]" ;;
esac
