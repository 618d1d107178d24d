#!/bin/sh
# The agent checks every connection's peer uid (SO_PEERCRED), not just the socket's file modes.
# As root: open the path to the socket up (dirs 0711, socket 0666) so that user nobody can
# connect at all, prove nobody can connect, and check the agent refuses nobody's request (no token,
# non-zero exit, a log line naming the uid) while root's requests still work.
[ -n "${BASH_VERSION:-}" ] || { command -v bash >/dev/null 2>&1 || { echo "1..0 # SKIP bash not installed"; exit 0; }; exec bash "$0" "$@"; }
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root to run a client as another user (setpriv)"
require_cmd setpriv "$PYTHON3" curl
require_binaries
NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
$NOBODY true 2>/dev/null || skip_all "setpriv cannot switch to uid 65534 here"
# A Python that nobody can run (a per-user install under /root would not do).
NOBODY_PY=
for py in /usr/bin/python3 /usr/local/bin/python3 "$(command -v "$PYTHON3")"; do
    if [ -x "$py" ] && $NOBODY "$py" -c pass 2>/dev/null; then NOBODY_PY=$py; break; fi
done

start_mock
demo_config 1h | write_config
start_agent || bail "the agent did not start"

get_token demo
is "$TOKEN_RC" 0 "root (the agent's own uid) gets a token"
sock_dir=$(dirname "$SMTOKEN_SOCK")
is "$(stat -c %a "$sock_dir")" 700 "the socket directory is 0700"
is "$(stat -c %a "$SMTOKEN_SOCK")" 600 "the socket is 0600"

# A copy of the client nobody can execute (the build tree may sit under a private directory).
mkdir -m 0755 "$SMT_T/bin"
cp "$SMTOKEN" "$SMT_T/bin/smtoken"
chmod 0755 "$SMT_T/bin/smtoken"
chmod 0711 "$SMT_T" "$XDG_RUNTIME_DIR"
run $NOBODY "$SMT_T/bin/smtoken" --socket "$SMT_T/nowhere/agent.sock" token demo
is "$RUN_RC" 2 "control: nobody can run the client (no agent at a bogus path -> exit 2)"

# File modes alone keep nobody out today; open them so only the agent's own check remains.
chmod 0711 "$sock_dir"
chmod 0666 "$SMTOKEN_SOCK"
if [ -n "$NOBODY_PY" ]; then
    run $NOBODY "$NOBODY_PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
print("connected")' "$SMTOKEN_SOCK"
    is "$RUN_OUT" "connected" "control: with the modes opened, nobody can connect to the socket"
else
    skip "no python3 that user nobody can run"
fi

lines_before=$(wc -l <"$AGENT_LOG")
run $NOBODY "$SMT_T/bin/smtoken" --socket "$SMTOKEN_SOCK" token demo
check "nobody's smtoken token: non-zero exit" test "$RUN_RC" != 0
check "... not a crash or a failure to execute" test "$RUN_RC" -lt 126
is "$RUN_OUT" "" "... and no token on stdout"
run $NOBODY "$SMT_T/bin/smtoken" --socket "$SMTOKEN_SOCK" env demo
check "nobody's smtoken env: refused, nothing on stdout" test "$RUN_RC" != 0 -a -z "$RUN_OUT"
run $NOBODY "$SMT_T/bin/smtoken" --socket "$SMTOKEN_SOCK" exec demo -- sh -c 'echo ran'
check "nobody's smtoken exec: refused, the command never ran" test "$RUN_RC" != 0 -a -z "$RUN_OUT"

# The agent said why, with both uids (and never the token).
new_log=$(tail -n +"$((lines_before + 1))" "$AGENT_LOG")
case $new_log in
    *65534*) ok "the agent logged the refused peer uid 65534" ;;
    *) not_ok "the agent logged the refused peer uid 65534"; diag "new agent log lines: $(printf '%s' "$new_log" | head -n 5)" ;;
esac

# A hand-made GET_TOKEN frame (proto/PROTOCOL.md: u32 length, version 1, type 1, string "demo"),
# sent by root as a control and then by nobody.  Prints whether a token came back; remembers it.
RAW_PY='
import socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
body = bytes([1, 1]) + struct.pack(">I", 4) + b"demo"
data = b""
try:
    s.sendall(struct.pack(">I", len(body)) + body)
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
except OSError:
    pass
print("token" if b"-api-key-" in data else "none")'
run "$PYTHON3" -c "$RAW_PY" "$SMTOKEN_SOCK"
if [ -z "$NOBODY_PY" ]; then
    skip "no python3 that user nobody can run"
elif [ "$RUN_OUT" = token ]; then
    run $NOBODY "$NOBODY_PY" -c "$RAW_PY" "$SMTOKEN_SOCK"
    is "$RUN_OUT" "none" "a hand-made GET_TOKEN frame from nobody gets no token (the same frame from root does)"
else
    skip "the hand-made GET_TOKEN frame gets no token even from root (protocol changed?)"
fi

# Back to private modes (an agent may re-check them) before root's last requests.
chmod 0700 "$sock_dir" "$XDG_RUNTIME_DIR" "$SMT_T"
chmod 0600 "$SMTOKEN_SOCK"
check "the agent is still running" agent_alive
get_token demo
is "$TOKEN_RC" 0 "root still gets its token"
http "$TOKEN" GET "$SM_BASE/models"
is "$HTTP_STATUS" 200 "... which the mock accepts"

no_token_leaked
done_testing
