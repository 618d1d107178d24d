#!/bin/sh
# smtoken's one-command demo (`make demo`): a real OpenAI SDK chat completion through smtoken,
# against the bundled local mock endpoint, with throwaway credentials, in a temp dir.
#
#   sh contrib/demo.sh [BUILD_DIR]      (BUILD_DIR holds the built smtoken and smtoken-agent)
#
# It starts tests/mock/mock.py (an OpenAI-compatible endpoint on 127.0.0.1 that accepts only
# correctly signed SageMaker bearer tokens) and `smtoken-agent --foreground`, runs
# `eval "$(smtoken env demo)"` and `node tests/node/chat.mjs`, and prints the answer and the
# token's expiry.  It never prints the token, and removes everything it made when it exits.
[ -n "${BASH_VERSION:-}" ] || {
    command -v bash >/dev/null 2>&1 || { echo "demo: needs bash" >&2; exit 1; }
    exec bash "$0" "$@"
}
set -u

srcdir=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$srcdir}
build=$(cd "$build" 2>/dev/null && pwd) || { echo "demo: no such build directory: $1" >&2; exit 1; }
SMTOKEN=$build/smtoken
SMTOKEN_AGENT=$build/smtoken-agent

die() {
    printf 'demo: %s\n' "$1" >&2
    [ $# -gt 1 ] && printf 'hint: %s\n' "$2" >&2
    exit 1
}

[ -x "$SMTOKEN" ] && [ -x "$SMTOKEN_AGENT" ] ||
    die "smtoken and smtoken-agent are not built in $build" "run ./configure && make (or pass the build directory)"
command -v python3 >/dev/null 2>&1 || die "python3 is needed for the mock endpoint" "run tests/setup.sh"
command -v node >/dev/null 2>&1 || die "node is needed for the OpenAI SDK client" "run tests/setup.sh"
[ -d "$srcdir/tests/node/node_modules/openai" ] ||
    die "the OpenAI Node SDK is not installed in tests/node" "run tests/setup.sh (it runs npm ci there)"

work=$(mktemp -d "${TMPDIR:-/tmp}/smtoken-demo.XXXXXX") || die "mktemp failed"
mock_pid=
agent_pid=
cleanup() {
    trap - EXIT INT TERM HUP
    for p in $agent_pid $mock_pid; do kill "$p" 2>/dev/null; done
    for p in $agent_pid $mock_pid; do wait "$p" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# Throwaway credentials: the mock knows them, the agent gets them in its environment, the demo's
# own shell never exports them.
rand() { LC_ALL=C tr -dc "$1" </dev/urandom 2>/dev/null | head -c "$2"; }
demo_ak=AKIDSMTDEMO$(rand 'A-Z0-9' 9)
demo_sk=$(rand 'A-Za-z0-9/+' 40)
printf '[{"access_key": "%s", "secret_key": "%s"}]\n' "$demo_ak" "$demo_sk" >"$work/mock-creds.json"

python3 "$srcdir/tests/mock/mock.py" serve --port 0 --port-file "$work/mock.port" \
    --creds "$work/mock-creds.json" --log "$work/mock.log" --max-lifetime 600 >/dev/null 2>&1 &
mock_pid=$!
for _ in $(seq 100); do
    [ -s "$work/mock.port" ] && break
    kill -0 "$mock_pid" 2>/dev/null || break
    sleep 0.1
done
[ -s "$work/mock.port" ] || die "the mock endpoint did not start" "see python3 tests/mock/mock.py --help"
mock_url=http://127.0.0.1:$(cat "$work/mock.port")

cat >"$work/smtoken.conf" <<EOF
[endpoint demo]
service = sagemaker
region = us-west-2
endpoint = demo
lifetime = 1h
base_url = $mock_url/endpoints/demo/openai/v1
EOF

mkdir -m 0700 "$work/run"
sock=$work/run/agent.sock
(
    # Only the demo keys: none of the caller's AWS settings may leak in.
    for v in $(compgen -e); do case $v in AWS_*) unset "$v" ;; esac; done
    export AWS_ACCESS_KEY_ID="$demo_ak" AWS_SECRET_ACCESS_KEY="$demo_sk"
    exec "$SMTOKEN_AGENT" --foreground --socket "$sock" --config "$work/smtoken.conf"
) </dev/null >/dev/null 2>"$work/agent.log" &
agent_pid=$!
for _ in $(seq 100); do
    [ -S "$sock" ] && break
    kill -0 "$agent_pid" 2>/dev/null || break
    sleep 0.1
done
[ -S "$sock" ] || { tail -n 5 "$work/agent.log" >&2; die "smtoken-agent did not start"; }
export SMTOKEN_SOCK=$sock
unset demo_sk

echo "smtoken demo"
echo "  endpoint:  $mock_url/endpoints/demo/openai/v1 (local mock: accepts only valid SigV4 bearer tokens)"
echo "  agent:     smtoken-agent --foreground --socket $sock (pid $agent_pid), throwaway AWS keys"
echo
echo '$ eval "$(smtoken env demo)"'
# The agent may need a moment between binding and listening.
for _ in $(seq 20); do
    out=$("$SMTOKEN" env demo 2>"$work/client.err") && break
    [ $? = 2 ] || break
    sleep 0.1
done
[ -n "${out:-}" ] || { cat "$work/client.err" >&2; die "smtoken env demo failed"; }
eval "$out"
unset out
case ${OPENAI_API_KEY:-} in
    sagemaker-api-key-*) ;;
    *) die "smtoken env did not set OPENAI_API_KEY" ;;
esac
now=$(date +%s)
expiry=$(date -u -d "@$SMTOKEN_EXPIRES_AT" '+%Y-%m-%d %H:%M:%S UTC' 2>/dev/null || echo "$SMTOKEN_EXPIRES_AT")
echo "  OPENAI_BASE_URL=$OPENAI_BASE_URL"
echo "  OPENAI_API_KEY=<a SageMaker bearer token, ${#OPENAI_API_KEY} characters, not shown>"
echo "  token expires $expiry (in $(((SMTOKEN_EXPIRES_AT - now + 30) / 60)) min)"
echo
echo '$ node tests/node/chat.mjs    # new OpenAI(): key and base URL from the environment'
answer=$(cd "$srcdir/tests/node" && node chat.mjs "Hello from the smtoken demo!" 2>&1)
rc=$?
printf '%s\n' "$answer" | sed 's/^/  /'
[ $rc = 0 ] || die "the OpenAI SDK call failed"

if command -v curl >/dev/null 2>&1; then
    echo
    echo '$ curl .../models                                      # no token'
    code=$(curl -s -o /dev/null -w '%{http_code}' "$OPENAI_BASE_URL/models")
    echo "  HTTP $code (refused without a token)"
fi
echo
echo "demo: ok"
