#!/bin/sh
# Failures users see (DESIGN.md §3, §7): an unknown NAME or unusable credentials -> exit 1; no agent
# -> exit 2 naming the socket; bad usage -> 64; never anything on stdout on failure, and exec never
# runs the command when it has no token.  A bad config stops the agent with file:line.  Junk on the
# socket does not take the agent down.
[ -n "${BASH_VERSION:-}" ] || { command -v bash >/dev/null 2>&1 || { echo "1..0 # SKIP bash not installed"; exit 0; }; exec bash "$0" "$@"; }
. "$(dirname "$0")/lib.sh"

require_cmd "$PYTHON3" curl
require_binaries
start_mock
{
    demo_config 1h
    printf '\n[endpoint nocreds]\nservice = sagemaker\nregion = us-west-2\nendpoint = demo\n'
    printf 'profile = no-such-profile\nbase_url = %s\n' "$SM_BASE"
} | write_config
start_agent || bail "the agent did not start"

marker=$SMT_T/command-ran
# fails_quietly LABEL WANT_RC CMD...: exit status WANT_RC, nothing on stdout, "smtoken: " on stderr.
fails_quietly() {
    local label=$1 want=$2
    shift 2
    run "$@"
    is "$RUN_RC" "$want" "$label: exit status $want"
    is "$RUN_OUT" "" "$label: nothing on stdout"
    case $RUN_ERR in
        smtoken:* | *$'\n'smtoken:*) ok "$label: a 'smtoken: ...' message on stderr" ;;
        *) not_ok "$label: a 'smtoken: ...' message on stderr"; diag "stderr: $RUN_ERR" ;;
    esac
}

# Unknown endpoint.
fails_quietly "token nosuch" 1 "$SMTOKEN" token nosuch
case $RUN_ERR in
    *nosuch*) ok "token nosuch: the message names the endpoint" ;;
    *) not_ok "token nosuch: the message names the endpoint" ;;
esac
fails_quietly "env nosuch" 1 "$SMTOKEN" env nosuch
fails_quietly "exec nosuch" 1 "$SMTOKEN" exec nosuch -- touch "$marker"
check "exec nosuch: the command did not run" test ! -e "$marker"

# An endpoint whose credentials cannot be found.
fails_quietly "token nocreds (profile does not exist)" 1 "$SMTOKEN" token nocreds
case $RUN_ERR in
    *no-such-profile*) ok "token nocreds: the message names the profile" ;;
    *) not_ok "token nocreds: the message names the profile"; diag "stderr: $RUN_ERR" ;;
esac

# Junk on the socket: the agent survives and keeps serving.
"$PYTHON3" - "$SMTOKEN_SOCK" <<'EOF' 2>/dev/null
import socket, sys
for junk in (b"", b"\x00\x00\x00\x03\x01\x01", b"\xff\xff\xff\xff" + b"x" * 64, b"GET / HTTP/1.0\r\n\r\n",
             b"\x00\x00\x00\x02\x63\x01"):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(sys.argv[1])
    s.sendall(junk)
    s.shutdown(socket.SHUT_WR)
    try:
        s.recv(4096)
    except OSError:
        pass
    s.close()
EOF
check "the agent survived junk on its socket" agent_alive
get_token demo
is "$TOKEN_RC" 0 "after all that, smtoken token demo still works"
http "$TOKEN" GET "$SM_BASE/models"
is "$HTTP_STATUS" 200 "... and the mock accepts the token"

# No agent.
stop_agent
fails_quietly "token with no agent running" 2 "$SMTOKEN" token demo
case $RUN_ERR in
    *"$SMTOKEN_SOCK"*) ok "no agent: the message names the socket path tried" ;;
    *) not_ok "no agent: the message names the socket path tried"; diag "stderr: $RUN_ERR" ;;
esac
case $RUN_ERR in
    *hint:*) ok "no agent: a hint says how to start it" ;;
    *) not_ok "no agent: a hint says how to start it" ;;
esac
fails_quietly "env with no agent running" 2 "$SMTOKEN" env demo
fails_quietly "exec with no agent running" 2 "$SMTOKEN" exec demo -- touch "$marker"
check "exec with no agent: the command did not run" test ! -e "$marker"
fails_quietly "--socket to a missing directory" 2 "$SMTOKEN" --socket "$SMT_T/nowhere/agent.sock" token demo
case $RUN_ERR in
    *"$SMT_T/nowhere/agent.sock"*) ok "--socket: the message names that path" ;;
    *) not_ok "--socket: the message names that path" ;;
esac
: >"$SMT_T/not-a-socket"
fails_quietly "SMTOKEN_SOCK naming a regular file" 2 env SMTOKEN_SOCK="$SMT_T/not-a-socket" "$SMTOKEN" token demo
fails_quietly "token again: the client never starts an agent itself" 2 "$SMTOKEN" token demo

# Usage errors: 64, nothing on stdout.
for args in "" "frobnicate" "exec demo --" "env demo --shell klingon" "token demo extra args"; do
    # shellcheck disable=SC2086 # word splitting is the point
    run "$SMTOKEN" $args
    is "$RUN_RC:$RUN_OUT" "64:" "usage error 'smtoken $args': exit 64, nothing on stdout"
done

# A config the agent must reject, with file:line.
bad=$SMT_T/bad.conf
printf '[endpoint demo]\nservice = sagemaker\nfrobnication = yes\nregion = us-west-2\n' >"$bad"
run timeout 10 "$SMTOKEN_AGENT" --foreground --socket "$SMT_T/bad.sock" --config "$bad"
check "an unknown key: the agent exits non-zero" test "$RUN_RC" != 0 -a "$RUN_RC" != 124
case $RUN_ERR in
    *"bad.conf:3"*) ok "... and says bad.conf:3" ;;
    *) not_ok "... and says bad.conf:3"; diag "stderr: $RUN_ERR" ;;
esac
printf '[endpoint demo]\nservice = sagemaker\nregion = us-west-2\nendpoint = x\nlifetime = 13h\n' >"$bad"
run timeout 10 "$SMTOKEN_AGENT" --foreground --socket "$SMT_T/bad.sock" --config "$bad"
check "a lifetime over 12h: the agent exits non-zero" test "$RUN_RC" != 0 -a "$RUN_RC" != 124
case $RUN_ERR in
    *"bad.conf:5"*) ok "... and says bad.conf:5" ;;
    *) not_ok "... and says bad.conf:5"; diag "stderr: $RUN_ERR" ;;
esac
check "a rejected config leaves no socket behind" test ! -S "$SMT_T/bad.sock"

no_token_leaked
done_testing
