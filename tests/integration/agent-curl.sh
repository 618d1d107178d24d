#!/bin/sh
# `curl -H "Authorization: Bearer $(smtoken token NAME)"` against the mock endpoint, the way the
# README shows it: /models and a chat completion are accepted, no token or a wrong one is refused.
# Also: `smtoken token` prints exactly one line, `--json`, the default socket path, `--socket`,
# NAME omitted with a single endpoint, and `smtoken-agent --once`.
[ -n "${BASH_VERSION:-}" ] || { command -v bash >/dev/null 2>&1 || { echo "1..0 # SKIP bash not installed"; exit 0; }; exec bash "$0" "$@"; }
. "$(dirname "$0")/lib.sh"

require_cmd "$PYTHON3" curl
require_binaries
start_mock
demo_config 1h | write_config
start_agent || bail "the agent did not start"

# Exactly the README's command line (the token is on curl's argv here, as it is for users).
status=$(curl -s -o "$SMT_T/models.json" -w '%{http_code}' \
    -H "Authorization: Bearer $("$SMTOKEN" token demo 2>>"$SMT_T/client.err")" "$SM_BASE/models")
is "$status" 200 "curl -H \"Authorization: Bearer \$(smtoken token demo)\" .../models -> 200"
check "... and lists the model" grep -q '"id": "demo"' "$SMT_T/models.json"

run "$SMTOKEN" token demo
TOKEN=$RUN_OUT
remember_token "$TOKEN"
is "$RUN_RC" 0 "smtoken token demo exits 0"
is "$(printf '%s\n' "$RUN_OUT" | wc -l)" 1 "smtoken token prints exactly one line"
case $TOKEN in
    sagemaker-api-key-[A-Za-z0-9+/]*) ok "the line is a SageMaker bearer token" ;;
    *) not_ok "the line is a SageMaker bearer token" ;;
esac
check "nothing on stderr" test -z "$RUN_ERR"

http "$TOKEN" POST "$SM_BASE/chat/completions" "$CHAT_BODY"
is "$HTTP_STATUS" 200 "chat completion with the token -> 200"
case $HTTP_BODY in
    *'"content": "Hello from the smtoken mock (sagemaker endpoint demo)!'*) ok "... with the mock's answer" ;;
    *) not_ok "... with the mock's answer" ;;
esac
http "$TOKEN" POST "$SM_BASE/chat/completions" \
    '{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}'
case $HTTP_STATUS:$HTTP_BODY in
    200:*'data: [DONE]'*) ok "streaming chat completion with the token -> 200, ends with [DONE]" ;;
    *) not_ok "streaming chat completion with the token -> 200, ends with [DONE]" ;;
esac

http "" GET "$SM_BASE/models"
is "$HTTP_STATUS:$(error_code)" "403:missing_token" "no token -> 403 missing_token"
http "${TOKEN%????????}AAAAAAA=" GET "$SM_BASE/models"
is "$HTTP_STATUS" 403 "an altered token -> 403"
http "$TOKEN" GET "$BR_BASE/models"
is "$HTTP_STATUS:$(error_code)" "403:wrong_service" "the SageMaker token on the Bedrock path -> 403"

run "$SMTOKEN" token demo --json
remember_token "$(printf '%s' "$RUN_OUT" | "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["token"])' 2>/dev/null)"
facts=$(printf '%s' "$RUN_OUT" | "$PYTHON3" -c '
import json, sys
j = json.load(sys.stdin)
print("%s %s %s" % (j["token"].startswith("sagemaker-api-key-"), type(j["expires_at"]).__name__, j["base_url"]))' 2>&1)
is "$RUN_RC:$facts" "0:True int $SM_BASE" "smtoken token --json: token, numeric expires_at, base_url"

run "$SMTOKEN" token
same_secret "$RUN_OUT" "$TOKEN" "NAME may be omitted when the config has one endpoint"

sock=$SMTOKEN_SOCK
run env -u SMTOKEN_SOCK "$SMTOKEN" token demo
same_secret "$RUN_OUT" "$TOKEN" "without SMTOKEN_SOCK the client finds \$XDG_RUNTIME_DIR/smtoken/agent.sock"
run env -u SMTOKEN_SOCK -u XDG_RUNTIME_DIR "$SMTOKEN" --socket "$sock" token demo
same_secret "$RUN_OUT" "$TOKEN" "--socket PATH works without SMTOKEN_SOCK"
run env SMTOKEN_SOCK=/nonexistent/agent.sock "$SMTOKEN" --socket "$sock" token demo
same_secret "$RUN_OUT" "$TOKEN" "--socket wins over SMTOKEN_SOCK"

# --once: one token, no socket, same credentials.
once=$(
    export AWS_ACCESS_KEY_ID="$DEMO_AK" AWS_SECRET_ACCESS_KEY="$DEMO_SK"
    "$SMTOKEN_AGENT" --once demo --config "$CONF" 2>>"$SMT_T/once.err"
)
rc=$?
remember_token "$once"
is "$rc:$(printf '%s\n' "$once" | wc -l)" "0:1" "smtoken-agent --once demo prints one line"
http "$once" GET "$SM_BASE/models"
is "$HTTP_STATUS" 200 "... a token the mock accepts"

# The mock log shows the refusals with their reasons and no token.
check "mock log names each refusal's reason" grep -q ' 403 missing_token' "$MOCK_LOG"
no_token_leaked
done_testing
