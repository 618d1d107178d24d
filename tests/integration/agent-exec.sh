#!/bin/sh
# `smtoken exec NAME -- CMD ARG...`: runs CMD with the OpenAI variables in its environment and
# nowhere else: the real OpenAI SDK works under it, the exit status is CMD's, argv passes through
# untouched, and the token is on no command line (ps, /proc/*/cmdline) while the child runs.
[ -n "${BASH_VERSION:-}" ] || { command -v bash >/dev/null 2>&1 || { echo "1..0 # SKIP bash not installed"; exit 0; }; exec bash "$0" "$@"; }
. "$(dirname "$0")/lib.sh"

require_node
require_cmd "$PYTHON3" curl
require_binaries
start_mock
demo_config 1h | write_config
start_agent || bail "the agent did not start"

# The OpenAI SDK under exec, with nothing set in this shell.
check "the test shell has no OPENAI_API_KEY" test -z "${OPENAI_API_KEY+x}"
accepted0=$(mock_stat accepted)
run "$SMTOKEN" exec demo -- node "$NODE_DIR/chat.mjs" "hello from exec"
is "$RUN_RC" 0 "smtoken exec demo -- node chat.mjs succeeds"
[ "$RUN_RC" = 0 ] || diag "$RUN_ERR"
case $RUN_OUT in
    *"chat: Hello from the smtoken mock (sagemaker endpoint demo)! You said: hello from exec"*"stream: "*) ok "... both answers came from the mock" ;;
    *) not_ok "... both answers came from the mock" ;;
esac
is "$(($(mock_stat accepted) - accepted0))" 2 "the mock accepted both SDK requests"

# What the child sees (printed to a pipe, compared here, never shown).
run "$SMTOKEN" exec demo -- "$PYTHON3" -c '
import os
for k in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE", "SMTOKEN_EXPIRES_AT"):
    print(os.environ.get(k, "<unset>"))'
child_key=$(printf '%s\n' "$RUN_OUT" | sed -n 1p)
remember_token "$child_key"
is "$(printf '%s\n' "$RUN_OUT" | sed -n '2,3p' | tr '\n' ' ')" "$SM_BASE $SM_BASE " \
    "the child gets OPENAI_BASE_URL and OPENAI_API_BASE"
get_token demo
same_secret "$child_key" "$TOKEN" "the child's OPENAI_API_KEY is the endpoint's current token"
exp=$(printf '%s\n' "$RUN_OUT" | sed -n 4p)
is "$exp" "$(token_fact "$TOKEN" expires_at)" "the child's SMTOKEN_EXPIRES_AT is the token's expiry"

# Exit status.
run "$SMTOKEN" exec demo -- sh -c 'exit 7'
is "$RUN_RC" 7 "the exit status is the command's (7)"
run "$SMTOKEN" exec demo -- true
is "$RUN_RC" 0 "the exit status is the command's (0)"
run "$SMTOKEN" exec demo -- sh -c 'kill -TERM $$'
check "a command killed by a signal gives a non-zero status" test "$RUN_RC" != 0
run "$SMTOKEN" exec demo -- /nonexistent/command
check "a command that does not exist: non-zero status" test "$RUN_RC" != 0
check "... and nothing on stdout" test -z "$RUN_OUT"
case $RUN_ERR in
    *nonexistent*) ok "... and stderr names the command" ;;
    *) not_ok "... and stderr names the command"; diag "stderr: $RUN_ERR" ;;
esac

# argv passes untouched: spaces, quotes, globs, variables, an empty argument, a second "--",
# option-looking words, a newline and UTF-8.  No shell sits in between.
args=("a b" "it's" '"double"' '' '$HOME' '*' '--' '-x' '--shell=fish' "new
line" 'ünï cødé' '; rm -rf /' '`id`')
want=$("$PYTHON3" -c 'import json,sys; print(json.dumps(sys.argv[1:]))' "${args[@]}")
run "$SMTOKEN" exec demo -- "$PYTHON3" -c 'import json,sys; print(json.dumps(sys.argv[1:]))' "${args[@]}"
is "$RUN_RC:$RUN_OUT" "0:$want" "argv passes through untouched (${#args[@]} tricky arguments)"
run "$SMTOKEN" exec demo -- printf '%s|' "x  y" ""
is "$RUN_OUT" "x  y||" "exec runs the command directly (execvp), not through a shell"
run "$SMTOKEN" exec -- sh -c 'test -n "$OPENAI_API_KEY"'
is "$RUN_RC" 0 "exec without NAME uses the only endpoint"

# While a child runs: its token is in its environment but on no command line.
coproc CHILD { "$SMTOKEN" exec demo -- sh -c 'printf "%s\n%s\n" "$$" "$OPENAI_API_KEY"; exec sleep 5' 2>/dev/null; }
# Bash forgets CHILD and CHILD_PID once the coprocess is reaped: keep copies.
coproc_pid=${CHILD_PID:-}
coproc_fd=${CHILD[0]:-}
SMT_PIDS+=($coproc_pid)
child_pid=
child_tok=
if [ -n "$coproc_fd" ]; then
    read -r -t 10 child_pid <&"$coproc_fd"
    read -r -t 10 child_tok <&"$coproc_fd"
fi
remember_token "$child_tok"
sleep 0.3
if [ -n "$child_pid" ] && kill -0 "$child_pid" 2>/dev/null; then
    check "positive control: the running child's /proc/PID/environ holds the token" token_in_environ "$child_pid"
    no_token_in_cmdlines "while the child runs, no /proc/*/cmdline holds the token"
    if command -v ps >/dev/null 2>&1; then
        if ps -eww -o args 2>/dev/null | grep -F -q -f <(printf '%s\n' "$child_tok"); then
            not_ok "ps -eww -o args does not show the token"
        else
            ok "ps -eww -o args does not show the token"
        fi
    else
        skip "ps is not installed"
    fi
else
    not_ok "the child under exec kept running"
fi
kill $child_pid $coproc_pid 2>/dev/null
_smt_reap "$coproc_pid"

# Nothing reached the agent's log, stderr files or /tmp.
no_token_leaked
done_testing
