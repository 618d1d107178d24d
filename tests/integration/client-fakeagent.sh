#!/bin/sh
# smtoken against a scripted fake agent (a few lines of Python speaking proto/PROTOCOL.md), for
# what a well-behaved agent never does: a FAILURE with a hint, a VERSION reply from an older or
# newer agent, a connection closed without a reply, an oversized frame, the wrong reply type, a
# malformed token, a base URL with a quote.  Also env/token/exec/list/status/add/remove/reload
# on good replies, byte for byte.  Needs python3 (skips without it), no real agent.
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${SMTOKEN:=$top_builddir/smtoken}"
: "${PYTHON3:=python3}"

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $*"; }
check() {
    desc=$1
    shift
    if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

[ -x "$SMTOKEN" ] || { echo "1..0 # SKIP smtoken is not built ($SMTOKEN)"; exit 0; }
command -v "$PYTHON3" >/dev/null 2>&1 || { echo "1..0 # SKIP python3 is not installed"; exit 0; }

T=$(mktemp -d "${TMPDIR:-/tmp}/smtoken-fake.XXXXXX") || exit 1
AGENT_PID=
trap '[ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null; rm -rf "$T"' EXIT
unset OPENAI_API_KEY OPENAI_BASE_URL OPENAI_API_BASE SMTOKEN_EXPIRES_AT AWS_BEARER_TOKEN_BEDROCK
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_CREDENTIAL_EXPIRATION
SMTOKEN_SOCK=$T/agent.sock
export SMTOKEN_SOCK

# Throwaway values shaped like the real thing (a token is prefix + base64).
FAKE_SM="sagemaker-api-key-$(head -c 900 /dev/urandom | base64 | tr -d '\n')"
FAKE_BR="bedrock-api-key-$(head -c 300 /dev/urandom | base64 | tr -d '\n')"
FAKE_URL='http://127.0.0.1:9/endpoints/demo/openai/v1'
ODD_URL='http://127.0.0.1:9/v1?a=$HOME&b=*&c=~x&d=$(id)&e=`id`!f\g"h'
FAKE_AK=AKIDFAKE0123456789
FAKE_SK=$(head -c 30 /dev/urandom | base64 | tr -d '\n')
FAKE_ST=$(head -c 1500 /dev/urandom | base64 | tr -d '\n')
export FAKE_SM FAKE_BR FAKE_URL ODD_URL FAKE_AK FAKE_SK FAKE_ST

"$PYTHON3" "$top_srcdir/tests/integration/fakeagent.py" "$SMTOKEN_SOCK" 2>"$T/fake.err" &
AGENT_PID=$!
i=0
while [ ! -S "$SMTOKEN_SOCK" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
[ -S "$SMTOKEN_SOCK" ] || { echo "Bail out! the fake agent did not start: $(cat "$T/fake.err")"; exit 1; }

RUN_ENV=
run() {
    env ${RUN_ENV:+"$RUN_ENV"} "$SMTOKEN" "$@" >"$T/out" 2>"$T/err"
    rc=$?
    out=$(cat "$T/out")
    err=$(cat "$T/err")
}
# no_token_on_stderr DESC: neither fake token appears in the last stderr
no_token_on_stderr() {
    if grep -F -q -e "$FAKE_SM" -e "$FAKE_BR" "$T/err"; then not_ok "$1"; else ok "$1"; fi
}

# token
run token main
check "token main: exit 0, the token, one line" test "$rc:$out" = "0:$FAKE_SM"
check "... exactly one newline-terminated line" test "$(wc -l <"$T/out")" = 1
run token
check "token without NAME asks for the default" test "$rc:$out" = "0:$FAKE_SM"
run token main --json
got=$(printf '%s' "$out" | "$PYTHON3" -c 'import json,sys; j=json.load(sys.stdin); print(j["token"]==sys.argv[1], j["expires_at"], j["base_url"])' "$FAKE_SM" 2>/dev/null)
check "token --json: token, expires_at, base_url" test "$rc:$got" = "0:True 1700000000 $FAKE_URL"

# env, evaluated by the shells that are here
run env main --shell sh
(eval "$out" && test "$OPENAI_API_KEY:$OPENAI_BASE_URL:$OPENAI_API_BASE:$SMTOKEN_EXPIRES_AT" = \
    "$FAKE_SM:$FAKE_URL:$FAKE_URL:1700000000" && test -z "${AWS_BEARER_TOKEN_BEDROCK+x}")
check "env --shell sh: eval sets the four variables" test $? = 0
run env br
(eval "$out" && test "$AWS_BEARER_TOKEN_BEDROCK:$OPENAI_API_KEY" = "$FAKE_BR:$FAKE_BR")
check "env br: AWS_BEARER_TOKEN_BEDROCK for a Bedrock endpoint" test $? = 0
run env odd --shell sh
(eval "$out" && test "$OPENAI_BASE_URL" = "$ODD_URL")
check "sh: a base URL with \$HOME, \$(id), backquotes, ! and \\ arrives verbatim" test $? = 0
if command -v tcsh >/dev/null 2>&1; then
    got=$(tcsh -f -c 'eval "`$SMTOKEN env odd --shell csh`"; printf "%s\n" "$OPENAI_BASE_URL"' 2>&1)
    check "tcsh: the same base URL arrives verbatim" test "$got" = "$ODD_URL"
else
    skip "tcsh is not installed"
fi
if command -v fish >/dev/null 2>&1; then
    got=$(fish --no-config -c '$SMTOKEN env odd --shell fish | source; printf "%s\n" $OPENAI_BASE_URL' 2>&1)
    check "fish: the same base URL arrives verbatim" test "$got" = "$ODD_URL"
else
    skip "fish is not installed"
fi
run env odd --shell dotenv
check "dotenv refuses a backslash: exit 1, nothing on stdout" test "$rc:$out" = "1:"
run env odd --shell json
got=$(printf '%s' "$out" | "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["OPENAI_BASE_URL"])' 2>/dev/null)
check "json: the same base URL" test "$rc:$got" = "0:$ODD_URL"

# refusals: exit 1, nothing on stdout, the agent's words on stderr, never a token there
run env quote
check "a base URL with a single quote: exit 1, nothing on stdout" test "$rc:$out" = "1:"
case $err in *"base URL of endpoint 'quote'"*) ok "... and says why" ;; *) not_ok "... and says why"; echo "# $err" ;; esac
no_token_on_stderr "... and no token on stderr"
run token evil
check "a token outside the base64 alphabet: exit 1, nothing printed" test "$rc:$out" = "1:"
check "... and nothing ran" test ! -e /tmp/pwned
run env evil
check "env with that token: exit 1, nothing printed" test "$rc:$out" = "1:"
run token wrongsvc
check "a SageMaker token for a Bedrock endpoint: refused" test "$rc:$out" = "1:"
no_token_on_stderr "... without showing it"
run token missing
check "FAILURE: exit 1, nothing on stdout" test "$rc:$out" = "1:"
check "... 'smtoken: <message>' then 'hint: <hint>'" test "$err" = "smtoken: no endpoint named 'missing'
hint: smtoken list shows the configured endpoints"
run token esc
check "an escape sequence in the agent's message is neutralised" test "$err" = "smtoken: no endpoint named 'esc?[31m'"
run token newer
check "a newer agent: exit 1" test "$rc:$out" = "1:"
case $err in "smtoken: agent speaks protocol 2, client speaks 1: agent is newer than client"*) ok "... says so" ;;
    *) not_ok "... says so"; echo "# $err" ;; esac
run token older
case $rc:$err in "1:smtoken: agent speaks protocol 0, client speaks 1: agent is older than client"*) ok "an older agent: exit 1, says so" ;;
    *) not_ok "an older agent: exit 1, says so"; echo "# $err" ;; esac
run token close
check "the agent closes without replying: exit 2, nothing on stdout" test "$rc:$out" = "2:"
run token huge
check "a reply frame over the cap: exit 1" test "$rc:$out" = "1:"
run token wrongtype
check "SUCCESS in answer to GET_TOKEN: exit 1" test "$rc:$out" = "1:"
run token badversion
check "a TOKEN frame with another version byte: exit 1" test "$rc:$out" = "1:"
no_token_on_stderr "... without showing the token"

# exec
run exec main -- sh -c 'printf "%s\n" "$OPENAI_API_KEY" "$OPENAI_BASE_URL" "$OPENAI_API_BASE" "$SMTOKEN_EXPIRES_AT"'
check "exec: the command sees the variables" test "$rc:$out" = "0:$FAKE_SM
$FAKE_URL
$FAKE_URL
1700000000"
run exec -- sh -c 'exit 7'
check "exec: the exit status is the command's" test "$rc" = 7
run exec main -- printf '%s|' 'a  b' '' '$HOME' '--' '-x'
check "exec: argv passes untouched (no shell, a second --, options)" test "$rc:$out" = '0:a  b||$HOME|--|-x|'
run exec main -- "$T/no-such-command"
check "exec: a missing command: 127, nothing on stdout" test "$rc:$out" = "127:"
case $err in *"no-such-command"*) ok "... stderr names it" ;; *) not_ok "... stderr names it" ;; esac
: >"$T/not-executable"
run exec main -- "$T/not-executable"
check "exec: a command that cannot run: 126" test "$rc" = 126
run exec missing -- true
check "exec with an agent failure: 1, nothing run" test "$rc" = 1

# list and status
run list
check "list: one line per endpoint" test "$rc:$out" = "0:main  sagemaker  us-west-2     work  2023-11-14T22:28:20Z  default
br    bedrock    eu-central-1  -     -"
run status
case $rc:$out in "0:main (default)"*"credentials:  process, "*"last error:   credential_process failed") ok "status: a block per endpoint" ;;
    *) not_ok "status: a block per endpoint"; echo "# $out" | head -5 ;; esac

# add / remove / reload
export AWS_ACCESS_KEY_ID="$FAKE_AK" AWS_SECRET_ACCESS_KEY="$FAKE_SK"
run add work --from-env
check "add --from-env: the agent got exactly AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY" test "$rc:$out" = "0:"
[ "$rc" = 0 ] || echo "# $err"
run add work
check "add without a source means --from-env" test "$rc" = 0
export AWS_SESSION_TOKEN="$FAKE_ST" AWS_CREDENTIAL_EXPIRATION=2099-01-01T00:00:00Z
run add full --from-env
check "add --from-env: AWS_SESSION_TOKEN and AWS_CREDENTIAL_EXPIRATION arrive too" test "$rc" = 0
[ "$rc" = 0 ] || echo "# $err"
run add work --from-env
check "... (the fake agent does notice a session token it did not expect)" test "$rc" = 1
export AWS_CREDENTIAL_EXPIRATION=tomorrow
run add full --from-env
check "add --from-env: a malformed AWS_CREDENTIAL_EXPIRATION: 1" test "$rc" = 1
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_CREDENTIAL_EXPIRATION
printf '{"Version": 1, "AccessKeyId": "%s", "SecretAccessKey": "%s", "SessionToken": "%s", "Expiration": "2099-01-01T00:00:00Z"}\n' \
    "$FAKE_AK" "$FAKE_SK" "$FAKE_ST" >"$T/creds.json"
run add full --process-json - <"$T/creds.json"
check "add --process-json -: keys, session token and expiration arrive" test "$rc" = 0
[ "$rc" = 0 ] || echo "# $err"
printf '{"Version": 2, "AccessKeyId": "A", "SecretAccessKey": "S"}' >"$T/v2.json"
run add full --process-json - <"$T/v2.json"
check "add --process-json -: Version 2 refused" test "$rc:$out" = "1:"
run add full --process-json creds.json
check "add --process-json FILE: usage (stdin only)" test "$rc" = 64
printf '{"Version": 1, "AccessKeyId": "A", "SecretAccessKey": "S", "Expiration": "2001-01-01T00:00:00Z"}' >"$T/old.json"
run add work --process-json - <"$T/old.json"
case $rc:$err in 1:*"expired"*) ok "add: expired credentials are refused before sending" ;; *) not_ok "add: expired credentials are refused before sending" ;; esac
if grep -F -q -e "$FAKE_SK" -e "$FAKE_ST" "$T/err"; then not_ok "no secret on stderr"; else ok "no secret on stderr"; fi
run remove work
check "remove work: 0" test "$rc" = 0
run remove other
check "remove other: the agent's refusal, 1" test "$rc" = 1
run reload
check "reload refused: 1, message and hint" test "$rc:$err" = "1:smtoken: smtoken.conf:3: unknown key 'lifetme'
hint: the old configuration stays in use"

echo "1..$n"
[ "$failed" = 0 ]
