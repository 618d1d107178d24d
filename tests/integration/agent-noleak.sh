#!/bin/sh
# After a session that uses env, token, exec, list and status (and a real OpenAI SDK call when the
# Node SDK is installed), no token, base64 body or signature is in any file under HOME, the runtime
# dir, TMPDIR or /tmp; list/status never print one; the agent's audit log names tokens only by
# fingerprint; and the agent holds its AWS secret neither on its command line nor in its environment,
# runs with core dumps off and umask 077.
[ -n "${BASH_VERSION:-}" ] || { command -v bash >/dev/null 2>&1 || { echo "1..0 # SKIP bash not installed"; exit 0; }; exec bash "$0" "$@"; }
. "$(dirname "$0")/lib.sh"

require_cmd "$PYTHON3" curl
require_binaries
have_node=no
command -v node >/dev/null 2>&1 && [ -d "$NODE_DIR/node_modules/openai" ] && have_node=yes
start_mock
{
    demo_config 1h
    printf '\n[endpoint br]\nservice = bedrock\nregion = us-east-1\nlifetime = 20m\nbase_url = %s\n' "$BR_BASE"
} | write_config
start_agent || bail "the agent did not start"

# A session.
get_token demo
is "$TOKEN_RC" 0 "smtoken token demo"
t_demo=$TOKEN
get_token br
is "$TOKEN_RC" 0 "smtoken token br"
run "$SMTOKEN" token demo --json
is "$RUN_RC" 0 "smtoken token --json"
for shell in sh csh fish json dotenv; do
    run "$SMTOKEN" env br --shell "$shell"
    [ "$RUN_RC" = 0 ] || not_ok "smtoken env br --shell $shell"
done
load_env demo
is "$?" 0 "eval \"\$(smtoken env demo)\""
if [ "$have_node" = yes ]; then
    run node "$NODE_DIR/chat.mjs" "no leaks please"
    is "$RUN_RC" 0 "node chat.mjs with the environment's token"
    eval "$("$SMTOKEN" env --unset 2>/dev/null)"
    run "$SMTOKEN" exec br -- node "$NODE_DIR/chat.mjs" "no leaks under exec"
    is "$RUN_RC" 0 "smtoken exec br -- node chat.mjs"
else
    skip "the OpenAI Node SDK is not installed in tests/node (run tests/setup.sh)"
    skip "the OpenAI Node SDK is not installed in tests/node (run tests/setup.sh)"
    http "$t_demo" POST "$SM_BASE/chat/completions" "$CHAT_BODY"
fi
run "$SMTOKEN" exec demo -- sh -c 'printf "%s" "$OPENAI_API_KEY"'
remember_token "$RUN_OUT"
is "$RUN_RC" 0 "smtoken exec demo -- sh -c ..."

# list and status show endpoints, never tokens.
for cmd in list status; do
    run "$SMTOKEN" $cmd
    if [ "$RUN_RC" != 0 ]; then
        not_ok "smtoken $cmd succeeds"; diag "$RUN_ERR"
    elif printf '%s\n%s\n' "$RUN_OUT" "$RUN_ERR" | grep -F -q -f <(printf '%s\n' "${SMT_TOKENS[@]}" "${t_demo#*-api-key-}"); then
        not_ok "smtoken $cmd shows no token"
    else
        ok "smtoken $cmd shows no token"
    fi
    case $RUN_OUT in
        *demo*br* | *br*demo*) ok "smtoken $cmd names both endpoints" ;;
        *) not_ok "smtoken $cmd names both endpoints" ;;
    esac
done

# The audit trail: a fingerprint (first 12 hex digits of sha256(token)) per served token.
fp=$(printf '%s' "$t_demo" | sha256sum | cut -c1-12)
if grep -q "$fp" "$AGENT_LOG"; then
    ok "the agent's log names the served token by its fingerprint"
else
    not_ok "the agent's log names the served token by its fingerprint"
fi

# The agent process.
if [ -r "/proc/$AGENT_PID/environ" ] && cat "/proc/$AGENT_PID/environ" >/dev/null 2>&1; then
    if tr '\0' '\n' <"/proc/$AGENT_PID/environ" | grep -F -q -f <(printf '%s\n' "$DEMO_SK"); then
        not_ok "the agent's environment no longer holds AWS_SECRET_ACCESS_KEY after start-up"
    else
        ok "the agent's environment no longer holds AWS_SECRET_ACCESS_KEY after start-up"
    fi
else
    skip "cannot read /proc/$AGENT_PID/environ (not root?)"
fi
if tr '\0' '\n' <"/proc/$AGENT_PID/cmdline" | grep -F -q -f <(printf '%s\n' "$DEMO_SK" "${SMT_TOKENS[@]}"); then
    not_ok "the agent's command line holds no secret"
else
    ok "the agent's command line holds no secret"
fi
if [ "$(ulimit -H -c)" = 0 ]; then
    skip "the hard core limit is already 0 here, so the agent's own setting cannot show"
else
    core=$(awk '/^Max core file size/ { print $5 }' "/proc/$AGENT_PID/limits" 2>/dev/null)
    is "$core" 0 "the agent runs with RLIMIT_CORE 0 (started with $(ulimit -H -c))"
fi
umask_=$(awk '/^Umask:/ { print $2 }' "/proc/$AGENT_PID/status" 2>/dev/null)
is "$umask_" 0077 "the agent runs with umask 077 (started with 022)"
no_token_in_cmdlines "no process has a token on its command line"
check "the agent's log holds no AWS secret key" \
    sh -c '! grep -F -q -f /dev/stdin "$1"' sh "$AGENT_LOG" < <(printf '%s\n' "$DEMO_SK")

stop_agent
no_token_leaked "no token leaked into any file under HOME, XDG_RUNTIME_DIR, TMPDIR or /tmp"
done_testing
