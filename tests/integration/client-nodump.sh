#!/bin/sh
# The client holds a token (and, for `smtoken add`, AWS secret keys) in ordinary memory while it
# talks to the agent: it must be non-dumpable, so no core file keeps them and no other process of
# the user can ptrace it or read /proc/PID/mem.  Non-dumpable shows as /proc/PID/environ owned by root.
# A stand-in agent accepts and never answers, so the client sits waiting while we look; the
# client runs as nobody (setpriv), so a dumpable one would own its /proc entry.
[ -n "${BASH_VERSION:-}" ] || { command -v bash >/dev/null 2>&1 || { echo "1..0 # SKIP bash not installed"; exit 0; }; exec bash "$0" "$@"; }
. "$(dirname "$0")/lib.sh"

require_cmd "$PYTHON3" setpriv stat
require_binaries
[ "$(id -u)" = 0 ] || skip_all "needs root to run the client as another user (setpriv)"

# Outside $SMT_T (0700), so that nobody can reach the socket; removed at the end.
D=$(mktemp -d /tmp/smtoken-nodump.XXXXXX) || bail "mktemp failed"
chmod 0755 "$D"
S=$D/agent.sock
"$PYTHON3" - "$S" "$D/accepted" <<'PY' &
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o777); s.listen(4)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
    open(sys.argv[2], "a").write("x\n")
PY
SMT_PIDS+=($!)
wait_until 10 test -S "$S" || bail "the stand-in agent did not start"

for cmd in token add; do
    rm -f "$D/accepted"
    if [ "$cmd" = add ]; then
        printf '{"Version": 1, "AccessKeyId": "AKIDSMTNODUMP", "SecretAccessKey": "%s"}' \
            "$(smt_random 'A-Za-z0-9' 40)" >"$SMT_T/creds.json"
        setpriv --reuid=65534 --regid=65534 --clear-groups \
            "$SMTOKEN" --socket "$S" add p --process-json - <"$SMT_T/creds.json" >/dev/null 2>&1 &
    else
        setpriv --reuid=65534 --regid=65534 --clear-groups \
            "$SMTOKEN" --socket "$S" token >/dev/null 2>&1 &
    fi
    pid=$!
    if ! wait_until 20 test -s "$D/accepted"; then
        not_ok "smtoken $cmd connected to the stand-in agent"
        kill "$pid" 2>/dev/null
        continue
    fi
    uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
    owner=$(stat -c %u "/proc/$pid/environ" 2>/dev/null)
    if [ "$uid" != 65534 ]; then
        not_ok "smtoken $cmd runs as nobody while it waits (uid '$uid')"
    else
        is "$owner" 0 "smtoken $cmd is non-dumpable while it holds secrets (/proc/PID/environ owned by root)"
    fi
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
done

kill "${SMT_PIDS[@]}" 2>/dev/null
rm -rf "$D"
done_testing
