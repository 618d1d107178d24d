#!/bin/sh
# Short-lived tokens really expire, and the agent replaces them: with lifetime = 5s the mock accepts
# a fresh token, refuses the same token once its X-Amz-Date + X-Amz-Expires has passed (403
# expired_token), and a new `smtoken token` works again.  Also: the expiry the agent reports is
# never later than the token's own, nor than the credentials' (AWS_CREDENTIAL_EXPIRATION).
[ -n "${BASH_VERSION:-}" ] || { command -v bash >/dev/null 2>&1 || { echo "1..0 # SKIP bash not installed"; exit 0; }; exec bash "$0" "$@"; }
. "$(dirname "$0")/lib.sh"

require_cmd "$PYTHON3" curl
require_binaries
start_mock
demo_config 5s | write_config
start_agent || bail "the agent did not start"

get_token demo
is "$TOKEN_RC" 0 "smtoken token demo (lifetime 5s) succeeds"
t1=$TOKEN
issued1=$(token_fact "$t1" issued)
is "$(token_fact "$t1" expires)" 5 "the token says X-Amz-Expires=5"
now=$(date +%s)
if [ -n "$issued1" ] && [ "$issued1" -le "$now" ] && [ "$issued1" -ge $((now - 2)) ]; then
    ok "its X-Amz-Date is now"
else
    not_ok "its X-Amz-Date is now"; diag "issued '$issued1', now $now"
fi
http "$t1" GET "$SM_BASE/models"
is "$HTTP_STATUS" 200 "the mock accepts the fresh token"

load_env demo
exp1=${SMTOKEN_EXPIRES_AT:-0}
same_secret "${OPENAI_API_KEY:-}" "$t1" "smtoken env hands out the same cached token"
if [ "$exp1" -le $((issued1 + 5)) ] 2>/dev/null && [ "$exp1" -gt "$now" ]; then
    ok "SMTOKEN_EXPIRES_AT is in the future and not after X-Amz-Date + 5"
else
    not_ok "SMTOKEN_EXPIRES_AT is in the future and not after X-Amz-Date + 5"; diag "expires $exp1, issued $issued1"
fi

# Wait until the token has certainly expired (whole seconds: now >= issued + 6 > issued + 5).
for i in $(seq 120); do
    [ "$(date +%s)" -ge $((issued1 + 6)) ] && break
    sleep 0.1
done
http "$t1" GET "$SM_BASE/models"
is "$HTTP_STATUS:$(error_code)" "403:expired_token" "after its lifetime the mock refuses the old token (403 expired_token)"
http "$t1" POST "$SM_BASE/chat/completions" "$CHAT_BODY"
is "$HTTP_STATUS" 403 "... for chat completions too"

get_token demo
t2=$TOKEN
is "$TOKEN_RC" 0 "a new smtoken token demo succeeds"
if [ -n "$t2" ] && [ "$t2" != "$t1" ]; then ok "it is a different token"; else not_ok "it is a different token"; fi
now=$(date +%s)
exp2=$(token_fact "$t2" expires_at)
if [ -n "$exp2" ] && [ "$exp2" -gt $((issued1 + 5)) ] && [ $((exp2 - now)) -ge 1 ]; then
    ok "the new token expires later and has at least min_remaining (1 s for a 5 s lifetime) left"
else
    not_ok "the new token expires later and has at least min_remaining (1 s for a 5 s lifetime) left"
    diag "new expiry '$exp2', old expiry $((issued1 + 5)), now $now"
fi
http "$t2" GET "$SM_BASE/models"
is "$HTTP_STATUS" 200 "the mock accepts the new token"
http "$t2" POST "$SM_BASE/chat/completions" "$CHAT_BODY"
is "$HTTP_STATUS" 200 "... for a chat completion"
load_env demo
same_secret "${OPENAI_API_KEY:-}" "$t2" "smtoken env now hands out the new token"

# Credentials that expire sooner than the token would: the reported expiry follows them.
stop_agent
demo_config 1h | write_config
cred_exp=$(($(date +%s) + 1800))
AGENT_CRED_EXPIRATION=$(date -u -d "@$cred_exp" +%Y-%m-%dT%H:%M:%SZ)
start_agent || bail "the agent did not restart"
run "$SMTOKEN" token demo --json
facts=$(printf '%s' "$RUN_OUT" | "$PYTHON3" -c 'import json,sys; j=json.load(sys.stdin); print(j["expires_at"]); print(j["token"])' 2>/dev/null)
t3=$(printf '%s\n' "$facts" | sed -n 2p)
remember_token "$t3"
exp3=$(printf '%s\n' "$facts" | sed -n 1p)
if [ "$RUN_RC" = 0 ] && [ -n "$exp3" ] && [ "$exp3" -le "$cred_exp" ] && [ "$exp3" -gt "$(date +%s)" ]; then
    ok "with AWS_CREDENTIAL_EXPIRATION in 30 min, expires_at is no later than that (not an hour away)"
else
    not_ok "with AWS_CREDENTIAL_EXPIRATION in 30 min, expires_at is no later than that (not an hour away)"
    diag "exit $RUN_RC, expires_at '$exp3', credentials expire $cred_exp"
fi
http "$t3" GET "$SM_BASE/models"
is "$HTTP_STATUS" 200 "... and the token works"

no_token_leaked
done_testing
