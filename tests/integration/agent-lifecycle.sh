#!/bin/sh
# The agent's life (DESIGN.md §4): eval "$(smtoken-agent -s)" daemonizes and serves from the
# default socket; a second agent on the same socket is refused; -k stops it and the socket goes;
# a stale socket file is replaced; a socket directory others can reach, a non-socket file and a
# bad config are refused before anything is created; SIGHUP with a broken config keeps serving the
# old one; SIGTERM removes the socket; sd_notify messages; socket activation serves a token.
[ -n "${BASH_VERSION:-}" ] || { command -v bash >/dev/null 2>&1 || { echo "1..0 # SKIP bash not installed"; exit 0; }; exec bash "$0" "$@"; }
. "$(dirname "$0")/lib.sh"

require_cmd "$PYTHON3" curl
require_binaries
start_mock
demo_config 1h | write_config

# wait_for CMD...: up to 5 s for CMD to succeed.
wait_for() {
    local i
    for i in $(seq 50); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}
gone() { ! kill -0 "$1" 2>/dev/null || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
no_socket() { [ ! -e "$1" ]; }
# The daemon gets the demo credentials in its environment only.
agent_env() { env AWS_ACCESS_KEY_ID="$DEMO_AK" AWS_SECRET_ACCESS_KEY="$DEMO_SK" "$@"; }
token_works() {
    get_token demo || return 1
    http "$TOKEN" GET "$SM_BASE/models"
    [ "$HTTP_STATUS" = 200 ]
}

# ---- daemon mode, default socket --------------------------------------------------------------
default_sock=$XDG_RUNTIME_DIR/smtoken/agent.sock
unset SMTOKEN_SOCK SMTOKEN_AGENT_PID
rm -rf "$XDG_RUNTIME_DIR/smtoken"
out=$(cd "$SMT_T" && agent_env "$SMTOKEN_AGENT" -s --config "$CONF" 2>"$SMT_T/daemon.err")
rc=$?
is "$rc" 0 "smtoken-agent -s: exit 0 once the daemon is up"
eval "$out" >/dev/null
SMT_PIDS+=("${SMTOKEN_AGENT_PID:-}")
case $out in
    "SMTOKEN_SOCK=$default_sock; export SMTOKEN_SOCK;"$'\n'"SMTOKEN_AGENT_PID="[0-9]*"; export SMTOKEN_AGENT_PID;"*)
        ok "it prints SMTOKEN_SOCK=...; export SMTOKEN_SOCK; SMTOKEN_AGENT_PID=...; export SMTOKEN_AGENT_PID;" ;;
    *) not_ok "it prints the sh variables"; diag "stdout: $out" ;;
esac
is "${SMTOKEN_SOCK:-}" "$default_sock" "the default socket is \$XDG_RUNTIME_DIR/smtoken/agent.sock"
is "$(cat "$SMT_T/daemon.err")" "" "nothing on stderr"
pid=${SMTOKEN_AGENT_PID:-0}
check "the agent (pid $pid) runs" kill -0 "$pid"
is "$(stat -c %a "$XDG_RUNTIME_DIR/smtoken" 2>/dev/null)" 700 "it created the socket directory 0700"
is "$(stat -c %a "$default_sock" 2>/dev/null)" 600 "the socket is 0600"
# The agent is non-dumpable, so only root may look into /proc/PID/cwd and /proc/PID/fd.
if readlink "/proc/$pid/cwd" >/dev/null 2>&1; then
    is "$(readlink "/proc/$pid/cwd")" / "the daemon's working directory is /"
    is "$(readlink "/proc/$pid/fd/1"):$(readlink "/proc/$pid/fd/2")" "/dev/null:/dev/null" \
        "its stdout and stderr are /dev/null"
else
    skip "cannot read /proc/$pid/cwd of the non-dumpable agent (not root): working directory"
    skip "cannot read /proc/$pid/fd of the non-dumpable agent (not root): stdout and stderr"
fi
check "it serves a token the mock accepts" token_works
if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -F -q -e "$DEMO_SK"; then
    not_ok "its environment no longer holds AWS_SECRET_ACCESS_KEY"
else
    ok "its environment no longer holds AWS_SECRET_ACCESS_KEY"
fi

# ---- a second agent on the same socket ----------------------------------------------------
run agent_env "$SMTOKEN_AGENT" -s --config "$CONF"
is "$RUN_RC:$RUN_OUT" "1:" "a second daemon on the same socket: exit 1, nothing on stdout"
case $RUN_ERR in
    "smtoken-agent: an agent is already running at $default_sock"*) ok "... 'an agent is already running at PATH'" ;;
    *) not_ok "... 'an agent is already running at PATH'"; diag "stderr: $RUN_ERR" ;;
esac
run timeout 10 "$SMTOKEN_AGENT" --foreground --socket "$default_sock" --config "$CONF"
case $RUN_RC:$RUN_ERR in
    "1:smtoken-agent: an agent is already running at $default_sock"*) ok "... in the foreground too" ;;
    *) not_ok "... in the foreground too"; diag "rc $RUN_RC: $RUN_ERR" ;;
esac
check "the first agent still serves" token_works

# ---- -k ----------------------------------------------------------------------------------------
sleep 300 &
sleeper=$!
SMT_PIDS+=("$sleeper")
run env SMTOKEN_AGENT_PID="$sleeper" "$SMTOKEN_AGENT" -k
check "-k refuses a process that is not an smtoken-agent" test "$RUN_RC" = 1 -a -z "$RUN_OUT"
check "... and leaves it alone" kill -0 "$sleeper"
out=$("$SMTOKEN_AGENT" -k 2>"$SMT_T/kill.err")
is "$?" 0 "smtoken-agent -k: exit 0"
eval "$out" >/dev/null
check "the agent is gone" wait_for gone "$pid"
check "its socket is removed" wait_for no_socket "$default_sock"
is "${SMTOKEN_SOCK-unset}:${SMTOKEN_AGENT_PID-unset}" "unset:unset" "the -k output unsets both variables"
run "$SMTOKEN_AGENT" -k
check "-k with no SMTOKEN_AGENT_PID: exit 1 with a message" \
    test "$RUN_RC" = 1 -a -z "$RUN_OUT" -a -n "$RUN_ERR"

# ---- csh output ----------------------------------------------------------------------------
export SMTOKEN_SOCK=$default_sock
out=$(agent_env "$SMTOKEN_AGENT" -c --config "$CONF" 2>/dev/null)
cpid=$(printf '%s\n' "$out" | sed -n 's/^setenv SMTOKEN_AGENT_PID \([0-9]*\);$/\1/p')
SMT_PIDS+=("$cpid")
case $out in
    "setenv SMTOKEN_SOCK $default_sock;"$'\n'"setenv SMTOKEN_AGENT_PID $cpid;"*) ok "-c prints setenv lines" ;;
    *) not_ok "-c prints setenv lines"; diag "stdout: $out" ;;
esac
out=$(SMTOKEN_AGENT_PID=$cpid "$SMTOKEN_AGENT" -k -c 2>/dev/null)
case $out in
    "unsetenv SMTOKEN_SOCK;"$'\n'"unsetenv SMTOKEN_AGENT_PID;"*) ok "-k -c prints unsetenv lines" ;;
    *) not_ok "-k -c prints unsetenv lines"; diag "stdout: $out" ;;
esac
check "... and stopped that agent" wait_for gone "$cpid"

# ---- a stale socket is replaced ----------------------------------------------------------
"$PYTHON3" -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.close()' \
    "$default_sock"
check "set-up: a stale socket file (nobody listening)" test -S "$default_sock"
out=$(agent_env "$SMTOKEN_AGENT" -s --config "$CONF" 2>"$SMT_T/daemon.err")
is "$?" 0 "an agent starts over a stale socket"
eval "$out" >/dev/null
SMT_PIDS+=("${SMTOKEN_AGENT_PID:-}")
check "... and serves on it" token_works
eval "$("$SMTOKEN_AGENT" -k 2>/dev/null)" >/dev/null
export SMTOKEN_SOCK=$default_sock
check "... and -k removes it" wait_for no_socket "$default_sock"

# ---- refusals before anything is created ---------------------------------------------------
mkdir -m 0755 "$SMT_T/opendir"
run agent_env "$SMTOKEN_AGENT" -s --socket "$SMT_T/opendir/agent.sock" --config "$CONF"
is "$RUN_RC:$RUN_OUT" "1:" "a socket directory with mode 0755: the daemon exits 1, nothing on stdout"
case $RUN_ERR in
    "smtoken-agent: "*opendir*0755*) ok "... saying which directory and its mode" ;;
    *) not_ok "... saying which directory and its mode"; diag "stderr: $RUN_ERR" ;;
esac
check "... and creates no socket" test ! -e "$SMT_T/opendir/agent.sock"
run timeout 10 "$SMTOKEN_AGENT" --foreground --socket "$SMT_T/opendir/agent.sock" --config "$CONF"
check "... refused in the foreground too" test "$RUN_RC" = 1 -a ! -e "$SMT_T/opendir/agent.sock"
mkdir -m 0700 "$SMT_T/priv"
: >"$SMT_T/priv/agent.sock"
run timeout 10 "$SMTOKEN_AGENT" --foreground --socket "$SMT_T/priv/agent.sock" --config "$CONF"
case $RUN_RC:$RUN_ERR in
    "1:smtoken-agent: "*"not a socket"*) ok "a regular file at the socket path is refused" ;;
    *) not_ok "a regular file at the socket path is refused"; diag "rc $RUN_RC: $RUN_ERR" ;;
esac
check "... and left in place" test -f "$SMT_T/priv/agent.sock"
printf '[endpoint demo]\nservice = sagemaker\nfrobnication = yes\n' >"$SMT_T/bad.conf"
run "$SMTOKEN_AGENT" -s --socket "$SMT_T/priv/bad.sock" --config "$SMT_T/bad.conf"
is "$RUN_RC:$RUN_OUT" "1:" "a bad config: the daemon's parent exits 1, nothing on stdout"
case $RUN_ERR in
    "smtoken-agent: "*"bad.conf:3: "*) ok "... and prints the child's 'FILE:LINE: what' line" ;;
    *) not_ok "... and prints the child's 'FILE:LINE: what' line"; diag "stderr: $RUN_ERR" ;;
esac
check "... no socket was created" test ! -e "$SMT_T/priv/bad.sock"
run "$SMTOKEN_AGENT" --frobnicate
check "an unknown option: exit 64 with a message" test "$RUN_RC" = 64 -a -n "$RUN_ERR" -a -z "$RUN_OUT"

# ---- SIGHUP, sd_notify and SIGTERM in the foreground ----------------------------------------
export SMTOKEN_SOCK=$default_sock
notify_sock=$SMT_T/notify.sock
"$PYTHON3" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as f:
    while True:
        m = s.recv(4096).decode(errors="replace")
        f.write(m.replace("\n", " ") + "\n")
        f.flush()' "$notify_sock" "$SMT_T/notify.log" &
SMT_PIDS+=("$!")
wait_for test -S "$notify_sock"
NOTIFY_SOCKET=$notify_sock start_agent || bail "the agent did not start"
sdpid=$AGENT_PID
check "foreground: serves" token_works
check "sd_notify: READY=1 once serving" wait_for grep -q 'READY=1' "$SMT_T/notify.log"
cp "$CONF" "$SMT_T/good.conf"
printf '[endpoint broken\n' >>"$CONF"
kill -HUP "$sdpid"
broken_line=$(wc -l <"$CONF")
check "SIGHUP with a broken config: the failure is logged with file:line" \
    wait_for grep -q "smtoken.conf:$broken_line" "$AGENT_LOG"
check "... the agent keeps running" agent_alive
check "... and keeps serving the old config" token_works
check "sd_notify: RELOADING=1 on SIGHUP" grep -q 'RELOADING=1' "$SMT_T/notify.log"
{
    cat "$SMT_T/good.conf"
    printf '\n'
    demo_config 30m second
} >"$CONF"
kill -HUP "$sdpid"
second_works() { get_token second; }
check "SIGHUP with a good config: its new endpoint is served" wait_for second_works
stop_agent
is "$?" 0 "SIGTERM: exit 0"
check "SIGTERM removes the socket" test ! -e "$default_sock"
check "sd_notify: STOPPING=1 on SIGTERM" wait_for grep -q 'STOPPING=1' "$SMT_T/notify.log"
cp "$SMT_T/good.conf" "$CONF"

# ---- socket activation -------------------------------------------------------------------
if command -v systemd-socket-activate >/dev/null 2>&1; then
    act_sock=$XDG_RUNTIME_DIR/smtoken/activated.sock
    rm -f "$act_sock"
    (
        export AWS_ACCESS_KEY_ID="$DEMO_AK" AWS_SECRET_ACCESS_KEY="$DEMO_SK"
        # It passes on only the variables named with -E (NAME alone: the value from its own
        # environment, so the secret stays off every command line).
        exec systemd-socket-activate -l "$act_sock" -E AWS_ACCESS_KEY_ID -E AWS_SECRET_ACCESS_KEY \
            -E HOME -E XDG_RUNTIME_DIR "$SMTOKEN_AGENT" --foreground --config "$CONF"
    ) </dev/null >/dev/null 2>>"$SMT_T/activate.log" &
    act_pid=$!
    SMT_PIDS+=("$act_pid")
    if wait_for test -S "$act_sock"; then
        TOKEN=$(SMTOKEN_SOCK=$act_sock "$SMTOKEN" token demo 2>>"$SMT_T/client.err")
        remember_token "$TOKEN"
        http "$TOKEN" GET "$SM_BASE/models"
        is "$HTTP_STATUS" 200 "socket activation: the first connection starts the agent, which serves a token"
        check "... a second request is served too" \
            sh -c 'SMTOKEN_SOCK=$1 "$2" token demo >/dev/null 2>&1' sh "$act_sock" "$SMTOKEN"
        grep -q 'socket from systemd' "$SMT_T/activate.log" &&
            ok "... the agent says it took the socket from systemd" ||
            { not_ok "... the agent says it took the socket from systemd"; diag "$(tail -n 5 "$SMT_T/activate.log")"; }
        kill "$act_pid" 2>/dev/null
        check "... SIGTERM stops it" wait_for gone "$act_pid"
        check "... and leaves systemd's socket file alone" test -S "$act_sock"
    else
        not_ok "socket activation: systemd-socket-activate did not create $act_sock"
        diag "$(tail -n 5 "$SMT_T/activate.log")"
    fi
else
    skip "systemd-socket-activate is not installed"
fi

no_token_leaked
done_testing
