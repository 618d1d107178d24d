#!/bin/sh
# `eval "$(smtoken env NAME)"` and then an unmodified OpenAI SDK program (tests/node/chat.mjs, the
# official `openai` npm package reading OPENAI_API_KEY / OPENAI_BASE_URL) talks to the mock
# endpoint, non-streaming and streaming, for a SageMaker and a Bedrock endpoint.
[ -n "${BASH_VERSION:-}" ] || { command -v bash >/dev/null 2>&1 || { echo "1..0 # SKIP bash not installed"; exit 0; }; exec bash "$0" "$@"; }
. "$(dirname "$0")/lib.sh"

require_node
require_cmd "$PYTHON3" curl
require_binaries
start_mock
{
    demo_config 1h
    printf '\n[endpoint br]\nservice = bedrock\nregion = us-east-1\nlifetime = 15m\nbase_url = %s\n' "$BR_BASE"
} | write_config
start_agent || bail "the agent did not start"

# SageMaker endpoint "demo".
before=$(date +%s)
load_env demo
check "smtoken env demo succeeds and evaluates" test $? = 0
case ${OPENAI_API_KEY:-} in
    sagemaker-api-key-*) ok "OPENAI_API_KEY is a SageMaker bearer token" ;;
    *) not_ok "OPENAI_API_KEY is a SageMaker bearer token" ;;
esac
is "${OPENAI_BASE_URL:-}" "$SM_BASE" "OPENAI_BASE_URL is the configured base_url"
is "${OPENAI_API_BASE:-}" "$SM_BASE" "OPENAI_API_BASE matches (LangChain reads it first)"
exp=${SMTOKEN_EXPIRES_AT:-x}
after=$(date +%s)
if [ "$exp" -ge $((before + 3600 - 60)) ] 2>/dev/null && [ "$exp" -le $((after + 3600)) ]; then
    ok "SMTOKEN_EXPIRES_AT is about an hour from now"
else
    not_ok "SMTOKEN_EXPIRES_AT is about an hour from now"
    diag "SMTOKEN_EXPIRES_AT='$exp', now=$after"
fi
is "$(token_fact "${OPENAI_API_KEY:-}" expires_at)" "$exp" "SMTOKEN_EXPIRES_AT is the token's own X-Amz-Date + X-Amz-Expires"
is "$(token_fact "${OPENAI_API_KEY:-}" access_key)" "$DEMO_AK" "the token is signed with the agent's access key"
check "AWS_BEARER_TOKEN_BEDROCK is not set for a SageMaker endpoint" test -z "${AWS_BEARER_TOKEN_BEDROCK+x}"

accepted0=$(mock_stat accepted)
out=$(cd "$NODE_DIR" && node chat.mjs "hello from agent-openai-env" 2>"$SMT_T/node.err")
rc=$?
is "$rc" 0 "node chat.mjs (OpenAI SDK, key and base URL from the environment) succeeds"
[ $rc = 0 ] || diag "$(cat "$SMT_T/node.err")"
case $out in
    *"chat: Hello from the smtoken mock (sagemaker endpoint demo)! You said: hello from agent-openai-env"*)
        ok "non-streaming answer came from the mock's demo endpoint" ;;
    *) not_ok "non-streaming answer came from the mock's demo endpoint"; diag "$out" ;;
esac
case $out in
    *"stream: Hello from the smtoken mock (sagemaker endpoint demo)!"*chunks*) ok "streaming answer arrived in chunks" ;;
    *) not_ok "streaming answer arrived in chunks" ;;
esac
is "$(($(mock_stat accepted) - accepted0))" 2 "the mock verified and accepted both requests"

run node "$NODE_DIR/models.mjs"
is "$RUN_RC:$RUN_OUT" "0:demo" "node models.mjs lists the endpoint's model"

# The environment really carries the credential: the same program without it is refused.
run env OPENAI_API_KEY=sagemaker-api-key-bm90IGEgdG9rZW4= node "$NODE_DIR/chat.mjs"
check "with a bogus OPENAI_API_KEY the SDK call fails" test "$RUN_RC" != 0
case $RUN_ERR in
    *403*) ok "... with the mock's 403" ;;
    *) not_ok "... with the mock's 403"; diag "$RUN_ERR" ;;
esac

# Unset, then the Bedrock endpoint.
eval "$("$SMTOKEN" env --unset 2>/dev/null)"
check "smtoken env --unset removes OPENAI_API_KEY" test -z "${OPENAI_API_KEY+x}"
check "... and OPENAI_BASE_URL and SMTOKEN_EXPIRES_AT" test -z "${OPENAI_BASE_URL+x}${SMTOKEN_EXPIRES_AT+x}"

load_env br
check "smtoken env br succeeds" test $? = 0
case ${OPENAI_API_KEY:-} in
    bedrock-api-key-*) ok "Bedrock endpoint: OPENAI_API_KEY is a Bedrock bearer token" ;;
    *) not_ok "Bedrock endpoint: OPENAI_API_KEY is a Bedrock bearer token" ;;
esac
same_secret "${AWS_BEARER_TOKEN_BEDROCK:-}" "${OPENAI_API_KEY:-}" "AWS_BEARER_TOKEN_BEDROCK is the same token"
is "${OPENAI_BASE_URL:-}" "$BR_BASE" "Bedrock OPENAI_BASE_URL"
is "$(token_fact "${OPENAI_API_KEY:-}" region)" "us-east-1" "the Bedrock token is scoped to the endpoint's region"
run node "$NODE_DIR/chat.mjs" "hi bedrock"
is "$RUN_RC" 0 "node chat.mjs against the Bedrock path succeeds"
case $RUN_OUT in
    *"chat: Hello from the smtoken mock (bedrock)!"*"stream: Hello from the smtoken mock (bedrock)!"*) ok "both Bedrock answers came back" ;;
    *) not_ok "both Bedrock answers came back"; diag "$RUN_ERR" ;;
esac

no_token_leaked
done_testing
