#!/bin/sh
# The agent's life (DESIGN.md §4): eval "$(smtoken-agent -s)" daemonizes and serves from the
# default socket; a second agent on the same socket is refused; -k stops it and the socket goes;
# a stale socket file is replaced; a socket directory others can reach, a non-socket file and a
# bad config are refused before anything is created; SIGHUP with a broken config keeps serving the
# old one; SIGTERM removes the socket; sd_notify messages; socket activation serves a token.
# Also: the daemon closes inherited file descriptors; -V; fish output (from $SHELL or -f) and csh
# output, sourced by the real fish and tcsh with an awkward socket path; a relative
# AWS_SHARED_CREDENTIALS_FILE still works after the daemon's chdir to /; and the daemon's log
# reaches syslog or the journal (as root, through sockets of ours in a private mount namespace).
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
# An extra descriptor open in the launching shell, which the daemon must not keep.
: >"$SMT_T/inherited-marker"
exec 7<"$SMT_T/inherited-marker"
out=$(cd "$SMT_T" && agent_env "$SMTOKEN_AGENT" -s --config "$CONF" 2>"$SMT_T/daemon.err")
rc=$?
exec 7<&-
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
    inherited=$(for f in "/proc/$pid/fd/"*; do readlink "$f"; done | grep -c -F inherited-marker)
    is "$inherited" 0 "the fd 7 it inherited from the launching shell is closed"
else
    skip "cannot read /proc/$pid/cwd of the non-dumpable agent (not root): working directory"
    skip "cannot read /proc/$pid/fd of the non-dumpable agent (not root): stdout and stderr"
    skip "cannot read /proc/$pid/fd of the non-dumpable agent (not root): inherited fd 7 closed"
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
run "$SMTOKEN_AGENT" --version
version=$RUN_OUT
run "$SMTOKEN_AGENT" -V
case $RUN_RC:$RUN_OUT in
    "0:smtoken-agent "?*) is "$RUN_OUT" "$version" "-V prints the version, as --version does" ;;
    *) not_ok "-V prints the version, as --version does"; diag "rc $RUN_RC: $RUN_OUT $RUN_ERR" ;;
esac

# ---- fish and csh output, sourced by the real shells ----------------------------------------
# A socket directory whose name needs quoting in every shell.
odd_dir="$XDG_RUNTIME_DIR/it's \$HOME !x \\y"
odd_sock=$odd_dir/agent.sock
mkdir -m 0700 "$odd_dir"
if command -v fish >/dev/null 2>&1; then
    fish_bin=$(command -v fish)
    # From $SHELL, with no -c/-s/-f: what `smtoken-agent | source` gets in fish.
    SHELL=$fish_bin agent_env "$SMTOKEN_AGENT" --socket "$odd_sock" --config "$CONF" \
        >"$SMT_T/start.fish" 2>"$SMT_T/fish.err"
    fpid=$(sed -n 's/^set -gx SMTOKEN_AGENT_PID \([0-9]*\);$/\1/p' "$SMT_T/start.fish")
    SMT_PIDS+=("$fpid")
    case $(head -n 1 "$SMT_T/start.fish") in
        "set -gx SMTOKEN_SOCK '"*) ok "SHELL=.../fish: it prints 'set -gx' lines" ;;
        *) not_ok "SHELL=.../fish: it prints 'set -gx' lines"; diag "$(cat "$SMT_T/start.fish" "$SMT_T/fish.err")" ;;
    esac
    got=$(SHELL=$fish_bin "$fish_bin" --no-config -c 'source $argv[1]; or exit 9
        printf "%s\n" $SMTOKEN_SOCK $SMTOKEN_AGENT_PID' "$SMT_T/start.fish" 2>&1 | sed '/^Agent pid/d')
    is "$got" "$odd_sock"$'\n'"$fpid" "fish sources it: SMTOKEN_SOCK (quotes, \$, !, \\ and spaces) and SMTOKEN_AGENT_PID"
    got=$(SHELL=$fish_bin SMTOKEN_SOCK=$odd_sock SMTOKEN_AGENT_PID=$fpid "$fish_bin" --no-config -c '
        "$argv[1]" -k | source; or exit 9
        set -q SMTOKEN_SOCK; and echo SOCK still set
        set -q SMTOKEN_AGENT_PID; and echo PID still set
        echo done' "$SMTOKEN_AGENT" 2>&1)
    case $got in
        *"Agent pid $fpid killed"*done) ok "fish: 'smtoken-agent -k | source' unsets both variables" ;;
        *) not_ok "fish: 'smtoken-agent -k | source' unsets both variables"; diag "$got" ;;
    esac
    check "... and the agent is gone" wait_for gone "$fpid"
    # The -k lines again, in a fish where the variables are not set: no error, status 0.
    printf 'set -q SMTOKEN_SOCK; and set -e SMTOKEN_SOCK;\nset -q SMTOKEN_AGENT_PID; and set -e SMTOKEN_AGENT_PID;\n' \
        >"$SMT_T/want-k.fish"
    agent_env "$SMTOKEN_AGENT" -f --socket "$odd_sock" --config "$CONF" >"$SMT_T/start2.fish" 2>/dev/null
    fpid=$(sed -n 's/^set -gx SMTOKEN_AGENT_PID \([0-9]*\);$/\1/p' "$SMT_T/start2.fish")
    SMT_PIDS+=("$fpid")
    check "-f prints fish syntax whatever \$SHELL says" grep -q '^set -gx SMTOKEN_SOCK ' "$SMT_T/start2.fish"
    SMTOKEN_AGENT_PID=$fpid "$SMTOKEN_AGENT" -k -f >"$SMT_T/k.fish" 2>/dev/null
    got=$(env -u SMTOKEN_SOCK -u SMTOKEN_AGENT_PID "$fish_bin" --no-config -c 'source $argv[1]; echo "status $status"' \
        "$SMT_T/k.fish" 2>&1)
    is "$got" "Agent pid $fpid killed"$'\n'"status 0" "fish: the -k -f lines source cleanly when the variables are unset"
    check "... and they are the guarded 'set -e' lines" \
        test "$(head -n 2 "$SMT_T/k.fish")" = "$(cat "$SMT_T/want-k.fish")"
    check "... and that agent is gone too" wait_for gone "$fpid"
else
    skip "fish is not installed: fish output not sourced by fish"
fi
if command -v tcsh >/dev/null 2>&1; then
    agent_env "$SMTOKEN_AGENT" -c --socket "$odd_sock" --config "$CONF" >"$SMT_T/start.csh" 2>/dev/null
    tpid=$(sed -n 's/^setenv SMTOKEN_AGENT_PID \([0-9]*\);$/\1/p' "$SMT_T/start.csh")
    SMT_PIDS+=("$tpid")
    got=$(tcsh -f -c 'eval "`cat $1`"; printf "%s\n" "$SMTOKEN_SOCK" "$SMTOKEN_AGENT_PID"' \
        "$SMT_T/start.csh" 2>&1 | sed '/^Agent pid/d')
    is "$got" "$odd_sock"$'\n'"$tpid" "tcsh evals -c output: SMTOKEN_SOCK (quotes, \$, !, \\ and spaces) and SMTOKEN_AGENT_PID"
    got=$(SMTOKEN_SOCK=$odd_sock SMTOKEN_AGENT_PID=$tpid tcsh -f -c 'eval "`$1 -k -c`"
        if ($?SMTOKEN_SOCK) echo SOCK still set
        if ($?SMTOKEN_AGENT_PID) echo PID still set
        echo done' "$SMTOKEN_AGENT" 2>&1)
    case $got in
        *"Agent pid $tpid killed"*done) ok "tcsh: eval of 'smtoken-agent -k -c' unsets both variables" ;;
        *) not_ok "tcsh: eval of 'smtoken-agent -k -c' unsets both variables"; diag "$got" ;;
    esac
    check "... and the agent is gone" wait_for gone "$tpid"
else
    skip "tcsh is not installed: csh output not evaluated by tcsh"
fi
check "the agents in the odd directory removed their socket" test ! -e "$odd_sock"

# ---- a relative AWS_SHARED_CREDENTIALS_FILE survives the daemon's chdir to / ---------------------
mkdir -m 0700 "$SMT_T/awsrel"
(umask 077 && printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
    "$DEMO_AK" "$DEMO_SK" >"$SMT_T/awsrel/credentials")
rel_sock=$XDG_RUNTIME_DIR/smtoken/rel.sock
out=$(cd "$SMT_T" && env AWS_SHARED_CREDENTIALS_FILE=awsrel/credentials AWS_CONFIG_FILE=awsrel/config \
    "$SMTOKEN_AGENT" -s --socket "$rel_sock" --config "$CONF" 2>"$SMT_T/rel.err")
is "$?" 0 "a daemon started with AWS_SHARED_CREDENTIALS_FILE=awsrel/credentials (relative) comes up"
rpid=$(printf '%s\n' "$out" | sed -n 's/^SMTOKEN_AGENT_PID=\([0-9]*\);.*/\1/p')
SMT_PIDS+=("$rpid")
rel_token() {
    TOKEN=$(SMTOKEN_SOCK=$rel_sock "$SMTOKEN" token demo 2>>"$SMT_T/client.err") || return 1
    remember_token "$TOKEN"
    [ "$(mock_verify "$TOKEN")" = ok ]
}
check "... and serves a token from that file after chdir /, which the mock accepts" rel_token
SMTOKEN_AGENT_PID=$rpid "$SMTOKEN_AGENT" -k >/dev/null 2>&1
check "... -k stops it" wait_for gone "$rpid"

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

# ---- the daemon's log: syslog, or the journal when journald runs --------------------------------
# Its stderr is /dev/null, so it logs to the journal when /run/systemd/journal/socket exists and
# to syslog (/dev/log, facility auth) otherwise.  Neither path can be redirected, so as root the
# daemon runs in a private mount namespace (unshare -m) where /run is an empty tmpfs (no journald
# of the host's) and, for syslog, /dev is a copy whose "log" is a datagram socket of ours; for the
# journal, /run/systemd/journal/socket is one.  What arrives there is what syslogd or journald
# would get: the format, priority and facility are checked, not any real daemon's handling.
LISTENER='
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
with open(sys.argv[2], "ab") as f:
    while True:
        m = s.recv(65536)
        f.write(m.rstrip(b"\n").replace(b"\n", b" | ") + b"\n")
        f.flush()'
NS_INNER='
mode=$1 sock=$2 log=$3 conf=$4
mount -t tmpfs -o mode=0755 tmpfs /run || exit 90
if [ "$mode" = syslog ]; then
    dev=$(mktemp -d) || exit 91
    chmod 0755 "$dev"
    for n in null zero full random urandom; do
        : >"$dev/$n" && mount --bind "/dev/$n" "$dev/$n" || exit 91
    done
    ln -s /proc/self/fd "$dev/fd"
    target=$dev/log
else
    mkdir -p /run/systemd/journal
    target=/run/systemd/journal/socket
fi
"$PYTHON3" -c "$LISTENER" "$target" "$log" </dev/null >/dev/null 2>&1 &
echo "NS_LISTENER=$!;"
for i in $(seq 50); do [ -S "$target" ] && break; sleep 0.1; done
[ -S "$target" ] || exit 92
if [ "$mode" = syslog ]; then mount --rbind "$dev" /dev || exit 93; fi
exec "$SMTOKEN_AGENT" -s --socket "$sock" --config "$conf"'

# ns_daemon MODE: start it; sets NS_PID, NS_SOCK, NS_LOG (what the listener got), NS_CONF.
ns_daemon() {
    local out
    NS_SOCK=$XDG_RUNTIME_DIR/smtoken/$1.sock NS_LOG=$SMT_T/$1.log NS_CONF=$SMT_T/$1.conf
    NS_PID= NS_LISTENER=
    cp "$SMT_T/good.conf" "$NS_CONF"
    : >"$NS_LOG"
    out=$(AWS_ACCESS_KEY_ID=$DEMO_AK AWS_SECRET_ACCESS_KEY=$DEMO_SK LISTENER=$LISTENER \
        PYTHON3=$PYTHON3 unshare -m bash -c "$NS_INNER" ns "$1" "$NS_SOCK" "$NS_LOG" "$NS_CONF" \
        2>"$SMT_T/$1.err")
    eval "$(printf '%s\n' "$out" | grep '^NS_LISTENER=')"
    SMT_PIDS+=("$NS_LISTENER")
    NS_PID=$(printf '%s\n' "$out" | sed -n 's/^SMTOKEN_AGENT_PID=\([0-9]*\);.*/\1/p')
    SMT_PIDS+=("$NS_PID")
    [ -n "$NS_PID" ] || diag "$1: the daemon did not start: $(cat "$SMT_T/$1.err")"
    [ -n "$NS_PID" ]
}
# ns_exercise: a token (an audit line), a SIGHUP with a broken config (an error), then -k.
ns_exercise() {
    local broken
    TOKEN=$(SMTOKEN_SOCK=$NS_SOCK "$SMTOKEN" token demo 2>>"$SMT_T/client.err")
    remember_token "$TOKEN"
    printf '[endpoint broken\n' >>"$NS_CONF"
    kill -HUP "$NS_PID"
    wait_for grep -q 'reload failed' "$NS_LOG"
    SMTOKEN_AGENT_PID=$NS_PID "$SMTOKEN_AGENT" -k >/dev/null 2>&1
    wait_for gone "$NS_PID"
    kill "$NS_LISTENER" 2>/dev/null
}
if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null 2>&1 || ! unshare -m true 2>/dev/null; then
    skip "not root or no unshare -m: the daemon's syslog lines are not checked"
    skip "not root or no unshare -m: the daemon's journal records are not checked"
else
    if ns_daemon syslog; then
        ns_exercise
        # glibc's format: <PRI>Mmm dd hh:mm:ss smtoken-agent[PID]: MESSAGE; PRI = 4 (auth) * 8 + level.
        sl() { grep -c -E "^<$1>[A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8} smtoken-agent\[$NS_PID\]: $2" "$NS_LOG"; }
        is "$(sl 38 "listening on $NS_SOCK \(pid $NS_PID\)$")" 1 "syslog: 'listening on' at auth.info, tagged smtoken-agent[PID]"
        is "$(sl 38 "served token endpoint=demo uid=$(id -u) ")" 1 "syslog: the audit line for the token, at auth.info"
        is "$(sl 35 "reload failed, keeping the old configuration: .*$NS_CONF:")" 1 "syslog: the failed reload, at auth.err"
        is "$(sl 38 "stopping")" 1 "syslog: 'stopping' on -k"
        is "$(grep -c -v -E '^<3[0-9]>' "$NS_LOG")" 0 "syslog: nothing else, one line per event"
    else
        not_ok "syslog: the daemon started in the namespace"
    fi
    if ns_daemon journal; then
        ns_exercise
        jr() { grep -c -F "$1" "$NS_LOG"; }
        is "$(grep -F 'SYSLOG_IDENTIFIER=smtoken-agent' "$NS_LOG" | grep -F 'PRIORITY=6' |
            grep -c -F "MESSAGE=listening on $NS_SOCK")" 1 "journal: 'listening on', PRIORITY=6, SYSLOG_IDENTIFIER=smtoken-agent"
        is "$(grep -F 'MESSAGE=served token endpoint=demo' "$NS_LOG" | grep -c -F 'SMTOKEN_ENDPOINT=demo')" 1 \
            "journal: the audit record with its SMTOKEN_* fields"
        is "$(grep -F 'PRIORITY=3' "$NS_LOG" | grep -c -F 'MESSAGE=reload failed')" 1 "journal: the failed reload, PRIORITY=3"
        is "$(jr '<3')" 0 "journal: nothing went to syslog"
    else
        not_ok "journal: the daemon started in the namespace"
    fi
fi

no_token_leaked
done_testing
