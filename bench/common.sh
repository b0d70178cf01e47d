# Shared by the bench/ scripts (sourced, not run): the repository root as the working directory,
# the connection string every server is measured with, where results go, and the checks that
# stop a script early with a message naming it.
#
# After sourcing: ROOT, SHARED_BENCH (../shared/bench), POST_LUA (wrk's POST script), CONN,
# WORK (target/bench, created), die MESSAGE, need COMMAND HOW-TO-INSTALL.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

SHARED_BENCH=$ROOT/../shared/bench
POST_LUA=$SHARED_BENCH/post.lua
# A realistic connection string, the same for us and the peer (the key is 44 characters, as
# the portal shows them; it is not a real instance's).
CONN='Endpoint=https://contoso-chat.service.signalr.net;AccessKey=Zm9vYmFyYmF6cXV4MDEyMzQ1Njc4OWFiY2RlZmdoaWo=;Version=1.0;'

WORK=$ROOT/target/bench
mkdir -p "$WORK"

die() {
    echo "${0##*/}: $*" >&2
    exit 1
}

need() {
    command -v "$1" >/dev/null 2>&1 || die "$1 is missing: $2"
}
