#!/bin/sh
# The mock endpoint's token verifier (and its reference minter) against every vector in
# tests/vectors/token-vectors.json with the clock frozen at the vector's X-Amz-Date, plus refusals
# (flipped signature byte, wrong secret, expired, bad base64, wrong prefix, ...), then the same
# verifier over HTTP.  The integration scenarios trust the mock, so the mock is tested first.
[ -n "${BASH_VERSION:-}" ] || { command -v bash >/dev/null 2>&1 || { echo "1..0 # SKIP bash not installed"; exit 0; }; exec bash "$0" "$@"; }
. "$(dirname "$0")/lib.sh"

require_cmd "$PYTHON3" curl
[ -r "$SMT_VECTORS" ] || bail "no vectors at $SMT_VECTORS"

n_vectors=$("$PYTHON3" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["vectors"]))' "$SMT_VECTORS")

# 1. The verifier and minter in-process (TAP lines from selftest.py, numbered here).
lines=0
while IFS= read -r line; do
    case $line in
        "ok - "*) ok "${line#ok - }"; lines=$((lines + 1)) ;;
        "not ok - "*) not_ok "${line#not ok - }"; lines=$((lines + 1)) ;;
        "#"*) echo "$line" ;;
        *) diag "selftest: $line" ;;
    esac
done < <("$PYTHON3" "$MOCK_PY" selftest --vectors "$SMT_VECTORS" 2>&1)
# Two lines per vector (verify, mint) plus at least 5 refusals per token kind.
if [ "$lines" -ge $((2 * n_vectors + 20)) ]; then
    ok "selftest covered all $n_vectors vectors ($lines checks)"
else
    not_ok "selftest covered all $n_vectors vectors (only $lines checks ran)"
fi

# 2. Over HTTP, with the mock's clock frozen at vector v01's X-Amz-Date and its credentials loaded.
eval "$("$PYTHON3" - "$SMT_VECTORS" <<'EOF'
import json, shlex, sys
from datetime import datetime, timezone
vs = json.load(open(sys.argv[1]))["vectors"]
v = next(x for x in vs if x["inputs"]["service"] == "sagemaker" and not x["inputs"]["session_token"])
b = next(x for x in vs if x["inputs"]["service"] == "bedrock")
def t(x):
    return int(datetime.strptime(x["inputs"]["timestamp"], "%Y%m%dT%H%M%SZ")
               .replace(tzinfo=timezone.utc).timestamp())
out = {"V_TOKEN": v["token"], "V_AK": v["inputs"]["access_key"], "V_SK": v["inputs"]["secret_key"],
       "V_NOW": t(v), "V_EXPIRES": v["inputs"]["expires"], "B_TOKEN": b["token"], "B_NOW": t(b),
       "B_AK": b["inputs"]["access_key"], "B_SK": b["inputs"]["secret_key"],
       "B_ST": b["inputs"]["session_token"] or ""}
for k, val in out.items():
    print("%s=%s" % (k, shlex.quote(str(val))))
EOF
)"
remember_token "$V_TOKEN"
mock_add_creds "$V_AK" "$V_SK"
start_mock --now "$V_NOW"

http "$V_TOKEN" POST "$SM_BASE/chat/completions" "$CHAT_BODY"
is "$HTTP_STATUS" 200 "HTTP: vector token accepted for a chat completion at its X-Amz-Date"
case $HTTP_BODY in
    *'"object": "chat.completion"'*'"content": "Hello from the smtoken mock'*) ok "HTTP: chat completion body" ;;
    *) not_ok "HTTP: chat completion body"; diag "$HTTP_BODY" ;;
esac
http "$V_TOKEN" GET "$SM_BASE/models"
is "$HTTP_STATUS" 200 "HTTP: vector token accepted for /models"
http "$V_TOKEN" POST "$SM_BASE/chat/completions" \
    '{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}'
case $HTTP_STATUS:$HTTP_BODY in
    200:*'"object": "chat.completion.chunk"'*'"finish_reason": "stop"'*'data: [DONE]'*) ok "HTTP: streaming chunks end with [DONE]" ;;
    *) not_ok "HTTP: streaming chunks end with [DONE]"; diag "status $HTTP_STATUS" ;;
esac
http "$V_TOKEN" POST "$MOCK_URL/endpoints/demo/inference-components/ic-1/openai/v1/chat/completions" "$CHAT_BODY"
is "$HTTP_STATUS" 200 "HTTP: inference-component path accepted"

http "" GET "$SM_BASE/models"
is "$HTTP_STATUS:$(error_code)" "403:missing_token" "HTTP: no Authorization header -> 403 missing_token"
case $HTTP_BODY in
    *'"error": {'*'"type": "invalid_request_error"'*'"code": "missing_token"'*) ok "HTTP: OpenAI-style error body" ;;
    *) not_ok "HTTP: OpenAI-style error body"; diag "$HTTP_BODY" ;;
esac
http "${V_TOKEN%?????}AAAA=" GET "$SM_BASE/models"
is "$HTTP_STATUS" 403 "HTTP: altered token -> 403"
http "$V_TOKEN" POST "$BR_BASE/chat/completions" "$CHAT_BODY"
is "$HTTP_STATUS:$(error_code)" "403:wrong_service" "HTTP: SageMaker token on the Bedrock path -> 403 wrong_service"
http "$V_TOKEN" POST "$SM_BASE/chat/completions" '{"model":"m"}'
is "$HTTP_STATUS" 400 "HTTP: chat completion without messages -> 400"
http "$V_TOKEN" GET "$SM_BASE/chat/completions"
is "$HTTP_STATUS" 405 "HTTP: GET on chat/completions -> 405"
http "$V_TOKEN" GET "$MOCK_URL/v1/models"
is "$HTTP_STATUS" 404 "HTTP: unknown route -> 404"

# The same token one second after it expired, on a second mock whose clock is frozen there.
stop_mock
start_mock --now "$((V_NOW + V_EXPIRES + 1))"
http "$V_TOKEN" GET "$SM_BASE/models"
is "$HTTP_STATUS:$(error_code)" "403:expired_token" "HTTP: the vector token 1 s after expiry -> 403 expired_token"
stop_mock

# A Bedrock vector on the Bedrock path (its credentials, with their session token if any).
remember_token "$B_TOKEN"
mock_add_creds "$B_AK" "$B_SK" "$B_ST"
start_mock --now "$B_NOW"
http "$B_TOKEN" GET "$BR_BASE/models"
is "$HTTP_STATUS" 200 "HTTP: Bedrock vector token accepted on /openai/v1/models"
http "$B_TOKEN" GET "$SM_BASE/models"
is "$HTTP_STATUS:$(error_code)" "403:wrong_service" "HTTP: Bedrock token on a SageMaker path -> 403 wrong_service"

if grep -q ' 200 ok' "$MOCK_LOG" && grep -q ' 403 ' "$MOCK_LOG"; then
    ok "mock log records method, path, status and reason"
else
    not_ok "mock log records method, path, status and reason"
fi
no_token_leaked "the mock never logs or writes a token"
done_testing
