# tests/integration/lib.sh: sourced (by bash) at the top of every integration scenario.
#
# A scenario starts with
#     #!/bin/sh
#     [ -n "${BASH_VERSION:-}" ] || { command -v bash >/dev/null 2>&1 || { echo "1..0 # SKIP bash not installed"; exit 0; }; exec bash "$0" "$@"; }
#     . "$(dirname "$0")/lib.sh"
# and gets: a private HOME / XDG_RUNTIME_DIR / XDG_CONFIG_HOME / TMPDIR under one temp dir that is
# removed on exit, TAP helpers (ok, not_ok, check, is, skip, diag, done_testing, skip_all, bail),
# throwaway demo credentials, start_mock / start_agent / stop_agent, write_config / demo_config,
# get_token / load_env / run / http helpers, and no_token_leaked.  Everything listens on 127.0.0.1 or
# a Unix socket only.  Nothing here prints a token: tokens live in shell variables and pipes only.
#
# Environment (set by `make check`, guessed otherwise): top_srcdir, top_builddir, SMTOKEN,
# SMTOKEN_AGENT.  SMT_KEEP=1 keeps the temp dir for debugging (it may then hold tokens in logs
# only if something leaked them).

set -u

_smt_lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${top_srcdir:=$(cd "$_smt_lib_dir/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${SMTOKEN:=$top_builddir/smtoken}"
: "${SMTOKEN_AGENT:=$top_builddir/smtoken-agent}"
: "${SMT_VECTORS:=$top_srcdir/tests/vectors/token-vectors.json}"
: "${PYTHON3:=python3}"
export top_srcdir top_builddir SMTOKEN SMTOKEN_AGENT SMT_VECTORS
MOCK_PY=$top_srcdir/tests/mock/mock.py
LEAKSCAN_PY=$_smt_lib_dir/leakscan.py
NODE_DIR=$top_srcdir/tests/node
SMT_SCENARIO=$(basename "$0" .sh)

# ---------------------------------------------------------------------------------------------
# TAP

_tap_n=0
_tap_failed=0
_tap_done=0

ok() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $*"; }
not_ok() { _tap_n=$((_tap_n + 1)); _tap_failed=$((_tap_failed + 1)); echo "not ok $_tap_n - $*"; }
skip() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n # SKIP $*"; }
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }

# check DESC CMD [ARG...]: ok when CMD succeeds.
check() {
    local desc=$1
    shift
    if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# is GOT WANT DESC: string equality; shows both on failure (never use it on a token).
is() {
    if [ "$1" = "$2" ]; then
        ok "$3"
    else
        not_ok "$3"
        diag "got:  '$1'" "want: '$2'"
    fi
}

# same_secret A B DESC: equality of values that may be tokens; shows nothing on failure.
same_secret() {
    if [ -n "$1" ] && [ "$1" = "$2" ]; then ok "$3"; else not_ok "$3"; fi
}

done_testing() {
    _tap_done=1
    echo "1..$_tap_n"
    exit 0
}

skip_all() {
    _tap_done=1
    echo "1..0 # SKIP $*"
    exit 0
}

bail() {
    _tap_done=1
    echo "Bail out! $*"
    exit 1
}

# ---------------------------------------------------------------------------------------------
# Requirements

require_cmd() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || skip_all "$c is not installed (tests/setup.sh installs it)"
    done
}

require_binaries() {
    [ -x "$SMTOKEN" ] || bail "client not built: $SMTOKEN (run make)"
    [ -x "$SMTOKEN_AGENT" ] || bail "agent not built: $SMTOKEN_AGENT (run make)"
}

require_node() {
    require_cmd node
    [ -d "$NODE_DIR/node_modules/openai" ] ||
        skip_all "the OpenAI Node SDK is not installed in tests/node (run tests/setup.sh)"
}

# ---------------------------------------------------------------------------------------------
# A private environment

SMT_T=$(mktemp -d /tmp/smtoken-it.XXXXXX) || bail "mktemp failed"
SMT_START=$SMT_T/.start
touch -d "@$(($(date +%s) - 1))" "$SMT_START"
mkdir -p -m 0700 "$SMT_T/home" "$SMT_T/run" "$SMT_T/tmp" "$SMT_T/home/.config/smtoken"

# No credentials, config or agent of the person running the tests may leak in.
for _v in $(compgen -e); do
    case $_v in
        SMTOKEN_AGENT) ;; # the binary under test, not a setting
        AWS_* | OPENAI_* | SMTOKEN_* | AZURE_OPENAI_*) unset "$_v" ;;
    esac
done
unset _v
export HOME=$SMT_T/home
export XDG_RUNTIME_DIR=$SMT_T/run
export XDG_CONFIG_HOME=$SMT_T/home/.config
export XDG_CACHE_HOME=$SMT_T/home/.cache XDG_DATA_HOME=$SMT_T/home/.local/share
export XDG_STATE_HOME=$SMT_T/home/.local/state
export TMPDIR=$SMT_T/tmp
export SMTOKEN_SOCK=$XDG_RUNTIME_DIR/smtoken/agent.sock
export LC_ALL=C
CONF=$XDG_CONFIG_HOME/smtoken/smtoken.conf
AGENT_LOG=$SMT_T/agent.log
MOCK_LOG=$SMT_T/mock.log
AGENT_PID=
MOCK_PID=
SMT_PIDS=()
SMT_TOKENS=()

# smt_random ALPHABET N: N random characters (tr set syntax).
smt_random() { LC_ALL=C tr -dc "$1" </dev/urandom 2>/dev/null | head -c "$2"; }

# Throwaway credentials, fresh for every run; the mock knows them, the agent gets them in its env.
DEMO_AK=AKIDSMTDEMO$(smt_random 'A-Z0-9' 9)
DEMO_SK=$(smt_random 'A-Za-z0-9/+' 40)
DEMO_REGION=us-west-2
# What start_agent puts in the agent's environment (AWS_ACCESS_KEY_ID, ...); empty AGENT_AK: none.
AGENT_AK=$DEMO_AK
AGENT_SK=$DEMO_SK
AGENT_ST=
AGENT_CRED_EXPIRATION= # AWS_CREDENTIAL_EXPIRATION for the agent (ISO 8601), if set
_mock_creds=()

_smt_cleanup() {
    local rc=$? p
    trap - EXIT
    for p in "${SMT_PIDS[@]}" $AGENT_PID $MOCK_PID; do
        kill "$p" 2>/dev/null
    done
    for p in "${SMT_PIDS[@]}" $AGENT_PID $MOCK_PID; do
        _smt_reap "$p"
    done
    if [ "$_tap_done" = 0 ]; then
        # The scenario died before its plan: make the failure visible to the TAP driver.
        echo "Bail out! $SMT_SCENARIO ended early (status $rc)"
        [ "$rc" = 0 ] && rc=1
    fi
    if [ -n "${SMT_KEEP:-}" ]; then
        echo "# kept $SMT_T"
    else
        rm -rf "$SMT_T"
    fi
    exit "$rc"
}
trap _smt_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# _smt_reap PID: wait up to 5 s for PID (a child) to go, then SIGKILL it; returns its status.
_smt_reap() {
    local i
    [ -n "$1" ] || return 0
    for i in $(seq 50); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

# ---------------------------------------------------------------------------------------------
# The mock endpoint

_json_str() {
    local s=${1//\\/\\\\}
    s=${s//\"/\\\"}
    printf '"%s"' "$s"
}

# mock_add_creds AK SK [ST]: one more credential the mock accepts (before start_mock).
mock_add_creds() {
    local e
    e="{\"access_key\": $(_json_str "$1"), \"secret_key\": $(_json_str "$2")"
    [ -n "${3:-}" ] && e="$e, \"session_token\": $(_json_str "$3")"
    _mock_creds+=("$e}")
}

# start_mock: starts tests/mock/mock.py on a free 127.0.0.1 port with the demo credentials plus
# those added with mock_add_creds.  Sets MOCK_PID, MOCK_PORT, MOCK_URL, SM_BASE (SageMaker endpoint
# "demo") and BR_BASE (Bedrock).
start_mock() {
    local i creds=$SMT_T/mock-creds.json
    require_cmd "$PYTHON3"
    mock_add_creds "$DEMO_AK" "$DEMO_SK"
    (
        IFS=,
        printf '[%s]\n' "${_mock_creds[*]}"
    ) >"$creds"
    rm -f "$SMT_T/mock.port"
    "$PYTHON3" "$MOCK_PY" serve --port 0 --port-file "$SMT_T/mock.port" --creds "$creds" \
        --log "$MOCK_LOG" --max-lifetime 900 "$@" >/dev/null 2>>"$MOCK_LOG" &
    MOCK_PID=$!
    for i in $(seq 100); do
        [ -s "$SMT_T/mock.port" ] && break
        kill -0 "$MOCK_PID" 2>/dev/null || break
        sleep 0.1
    done
    [ -s "$SMT_T/mock.port" ] || {
        diag "mock did not start:" "$(tail -n 5 "$MOCK_LOG" 2>/dev/null)"
        bail "the mock endpoint did not start"
    }
    MOCK_PORT=$(cat "$SMT_T/mock.port")
    MOCK_URL=http://127.0.0.1:$MOCK_PORT
    SM_BASE=$MOCK_URL/endpoints/demo/openai/v1
    BR_BASE=$MOCK_URL/openai/v1
}

stop_mock() {
    [ -n "$MOCK_PID" ] || return 0
    kill "$MOCK_PID" 2>/dev/null
    _smt_reap "$MOCK_PID"
    MOCK_PID=
}

# mock_stat KEY: a number from the mock's counters (accepted, or a refusal code).
mock_stat() {
    curl -s -m 10 "$MOCK_URL/__mock/stats" | "$PYTHON3" -c '
import json, sys
s = json.load(sys.stdin)
print(s["accepted"] if sys.argv[1] == "accepted" else s["rejected"].get(sys.argv[1], 0))' "$1"
}

# ---------------------------------------------------------------------------------------------
# Config and agent

# write_config: stdin becomes the agent's config ($CONF).
write_config() {
    mkdir -p "$(dirname "$CONF")"
    cat >"$CONF"
}

# demo_config [LIFETIME [NAME [BASE_URL]]]: prints a SageMaker endpoint block for the mock.
demo_config() {
    printf '[endpoint %s]\nservice = sagemaker\nregion = %s\nendpoint = demo\nlifetime = %s\nbase_url = %s\n' \
        "${2:-demo}" "$DEMO_REGION" "${1:-1h}" "${3:-$SM_BASE}"
}

# start_agent [ARG...]: runs the agent in the foreground mode in the background, with AGENT_AK /
# AGENT_SK / AGENT_ST (if set) as AWS_* variables in its environment only; waits for the socket.
start_agent() {
    local i
    mkdir -p -m 0700 "$(dirname "$SMTOKEN_SOCK")"
    # A socket left by an earlier agent would make the wait below end too early.
    [ -S "$SMTOKEN_SOCK" ] && rm -f "$SMTOKEN_SOCK"
    (
        if [ -n "$AGENT_AK" ]; then
            export AWS_ACCESS_KEY_ID="$AGENT_AK" AWS_SECRET_ACCESS_KEY="$AGENT_SK"
            [ -n "$AGENT_ST" ] && export AWS_SESSION_TOKEN="$AGENT_ST"
            [ -n "$AGENT_CRED_EXPIRATION" ] && export AWS_CREDENTIAL_EXPIRATION="$AGENT_CRED_EXPIRATION"
        fi
        # A typical user's settings, so the agent's own hardening (umask 077, RLIMIT_CORE 0) shows.
        umask 022
        ulimit -S -c "$(ulimit -H -c)" 2>/dev/null
        exec "$SMTOKEN_AGENT" --foreground --socket "$SMTOKEN_SOCK" --config "$CONF" "$@"
    ) </dev/null >>"$SMT_T/agent.stdout" 2>>"$AGENT_LOG" &
    AGENT_PID=$!
    for i in $(seq 100); do
        [ -S "$SMTOKEN_SOCK" ] && break
        kill -0 "$AGENT_PID" 2>/dev/null || break
        sleep 0.1
    done
    # Bound is not yet listening: wait until a client gets past "cannot reach the agent" (2).
    for i in $(seq 50); do
        kill -0 "$AGENT_PID" 2>/dev/null || break
        [ -S "$SMTOKEN_SOCK" ] || break
        "$SMTOKEN" list >/dev/null 2>&1
        [ $? != 2 ] && return 0
        sleep 0.1
    done
    diag "agent did not come up; its log:" "$(tail -n 20 "$AGENT_LOG" 2>/dev/null)"
    return 1
}

agent_alive() { [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; }

# stop_agent: SIGTERM, wait (SIGKILL after 5 s).  Returns the agent's exit status.
stop_agent() {
    local rc=0
    [ -n "$AGENT_PID" ] || return 0
    kill "$AGENT_PID" 2>/dev/null
    _smt_reap "$AGENT_PID" || rc=$?
    AGENT_PID=
    return $rc
}

# ---------------------------------------------------------------------------------------------
# Client helpers (stdout stays in variables; stderr goes to a file the leak check also reads)

remember_token() {
    local t
    [ -n "$1" ] || return 0
    for t in "${SMT_TOKENS[@]}"; do [ "$t" = "$1" ] && return 0; done
    SMT_TOKENS+=("$1")
}

# run CMD [ARG...]: sets RUN_OUT, RUN_ERR and RUN_RC.
run() {
    RUN_OUT=$("$@" 2>"$SMT_T/run.err")
    RUN_RC=$?
    RUN_ERR=$(cat "$SMT_T/run.err")
}

# get_token [ARG...]: `smtoken token ARG...`; sets TOKEN and TOKEN_RC, remembers the token.
get_token() {
    TOKEN=$("$SMTOKEN" token "$@" 2>>"$SMT_T/client.err")
    TOKEN_RC=$?
    remember_token "$TOKEN"
    return $TOKEN_RC
}

# load_env [ARG...]: evaluates `smtoken env ARG...` in this shell; returns smtoken's status.
load_env() {
    local out rc
    out=$("$SMTOKEN" env "$@" 2>>"$SMT_T/client.err")
    rc=$?
    [ $rc = 0 ] || return $rc
    eval "$out" || return 99
    remember_token "${OPENAI_API_KEY:-}"
    return 0
}

# token_fact TOKEN FIELD: access_key, region, service, issued, expires, expires_at, session_token,
# host, amz_date (decoded from the token, not verified).
token_fact() {
    printf '%s' "$1" | "$PYTHON3" "$MOCK_PY" decode --field "$2" 2>/dev/null
}

# http TOKEN METHOD URL [JSON]: sets HTTP_STATUS and HTTP_BODY.  The token goes to curl on stdin
# (-H @-), not on its command line.
http() {
    local tok=$1 method=$2 url=$3 data=${4:-} out
    local args=(-sS -m 30 -X "$method" -H @- -w '\n%{http_code}')
    [ -n "$data" ] && args+=(-H 'Content-Type: application/json' --data-binary "$data")
    out=$(if [ -n "$tok" ]; then printf 'Authorization: Bearer %s\n' "$tok"; fi |
        curl "${args[@]}" "$url" 2>>"$SMT_T/curl.err")
    HTTP_STATUS=${out##*$'\n'}
    HTTP_BODY=${out%$'\n'*}
    [ "$HTTP_BODY" = "$out" ] && HTTP_BODY=
}

CHAT_BODY='{"model":"demo-model","messages":[{"role":"user","content":"hello from the smtoken tests"}]}'

# chat_status TOKEN [BASE]: POST one chat completion; prints the HTTP status.
chat_status() {
    http "$1" POST "${2:-$SM_BASE}/chat/completions" "$CHAT_BODY"
    printf '%s\n' "$HTTP_STATUS"
}

# error_code: the "code" of an OpenAI-style error in HTTP_BODY.
error_code() {
    printf '%s' "$HTTP_BODY" | "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["error"]["code"])' 2>/dev/null
}

# ---------------------------------------------------------------------------------------------
# Leak checks

_smt_token_lines() { printf '%s\n' "${SMT_TOKENS[@]}"; }

# no_token_leaked [DESC]: no token seen during the test (nor its base64 body, nor its signature)
# appears in any file under the test's HOME / runtime / temp dirs or under /tmp, /var/tmp and
# /dev/shm modified since the test started.
no_token_leaked() {
    local desc=${1:-"no token seen in this test leaked into a file"} out
    if [ ${#SMT_TOKENS[@]} = 0 ]; then
        not_ok "$desc (no token was seen, so nothing to look for)"
        return
    fi
    out=$(_smt_token_lines | "$PYTHON3" "$LEAKSCAN_PY" files --newer "$SMT_START" \
        "$SMT_T" /tmp /var/tmp /dev/shm)
    case $? in
        0) ok "$desc (${#SMT_TOKENS[@]} token(s))" ;;
        1) not_ok "$desc"; diag "$out" ;;
        *) not_ok "$desc (scanner failed)" ;;
    esac
}

# no_token_in_cmdlines DESC: no remembered token on any process's command line right now.
no_token_in_cmdlines() {
    local out
    out=$(_smt_token_lines | "$PYTHON3" "$LEAKSCAN_PY" cmdline)
    case $? in
        0) ok "$1" ;;
        1) not_ok "$1"; diag "$out" ;;
        *) not_ok "$1 (scanner failed)" ;;
    esac
}

# token_in_environ PID: true when a remembered token is in /proc/PID/environ.
token_in_environ() {
    _smt_token_lines | "$PYTHON3" "$LEAKSCAN_PY" environ "$1" >/dev/null
    [ $? = 1 ]
}

# ---------------------------------------------------------------------------------------------
# --- creds integration helpers (begin) ---
# Used by creds-process-*.sh, agent-sink.sh, agent-reload.sh, agent-add.sh, agent-clockjump.sh and
# awscli-bridge.sh.  FIXTURES is tests/integration/fixtures (small scripts the agent runs).
FIXTURES=$_smt_lib_dir/fixtures

# agent_env [VAR=VALUE...]: the next start_agent runs the agent with these variables set (none:
# back to the plain binary).  A wrapper script exports them and execs the agent, so the agent
# keeps the wrapper's PID and the values never sit on a command line.  Not for secrets (they
# would sit in the wrapper file): AGENT_AK / AGENT_SK / AGENT_ST are for those.
_smt_real_agent=$SMTOKEN_AGENT
agent_env() {
    local w=$SMT_T/agent-wrapper a
    if [ $# = 0 ]; then
        SMTOKEN_AGENT=$_smt_real_agent
        return 0
    fi
    {
        echo '#!/bin/sh'
        for a in "$@"; do
            printf 'export %s=%q\n' "${a%%=*}" "${a#*=}"
        done
        printf 'exec %q "$@"\n' "$_smt_real_agent"
    } >"$w"
    chmod 0700 "$w"
    SMTOKEN_AGENT=$w
}

# wait_until SECONDS CMD [ARG...]: polls CMD every 0.2 s until it succeeds (0) or SECONDS pass (1).
# A bound on how long a scenario may hang, not an assertion about speed.
wait_until() {
    local n=$(($1 * 5)) i
    shift
    for ((i = 0; i < n; i++)); do
        "$@" && return 0
        sleep 0.2
    done
    "$@"
}

# json_get JSON KEY: one top-level value of a JSON object ("" when missing or not JSON).
json_get() {
    printf '%s' "$1" | "$PYTHON3" -c '
import json, sys
try:
    v = json.load(sys.stdin).get(sys.argv[1], "")
except Exception:
    v = ""
print("" if v is None else v)' "$2" 2>/dev/null
}

# mock_verify TOKEN [EPOCH]: the mock's verdict on TOKEN ("ok" or its refusal code), checked
# offline against the credentials given to start_mock, at EPOCH (default: now).
mock_verify() {
    local args=(verify --creds "$SMT_T/mock-creds.json")
    [ -n "${2:-}" ] && args+=(--now "$2")
    printf '%s' "$1" | "$PYTHON3" "$MOCK_PY" "${args[@]}" 2>/dev/null | "$PYTHON3" -c '
import json, sys
try:
    j = json.load(sys.stdin)
    print("ok" if j.get("ok") else j.get("code", "?"))
except Exception:
    print("verifier-failed")'
}

# token_from_file FILE: the token in a file written by `smtoken write` or a sink, whatever its
# format (raw, env, dotenv or json); prints nothing when there is none.
token_from_file() {
    "$PYTHON3" - "$1" <<'PY' 2>/dev/null
import json, re, sys
data = open(sys.argv[1], encoding="utf-8", errors="replace").read()
tok = ""
try:
    tok = json.loads(data).get("token", "")
except Exception:
    m = re.search(r"OPENAI_API_KEY=['\"]?([a-z]+-api-key-[A-Za-z0-9+/=]+)", data)
    if m:
        tok = m.group(1)
    else:
        m = re.match(r"\s*([a-z]+-api-key-[A-Za-z0-9+/=]+)\s*$", data)
        tok = m.group(1) if m else ""
print(tok)
PY
}

# err_is_one_line: RUN_ERR is one `smtoken: ...` line, optionally followed by `hint: ...` lines.
err_is_one_line() {
    local first rest
    first=$(printf '%s\n' "$RUN_ERR" | head -n 1)
    rest=$(printf '%s\n' "$RUN_ERR" | tail -n +2 | grep -v '^hint: ')
    case $first in smtoken:\ *) ;; *) return 1 ;; esac
    [ -z "$rest" ]
}

# no_secret_in_files DESC DIR... < <(printf '%s\n' SECRET...): none of the strings on stdin (one
# per line: keys, session tokens) appears in any regular file under DIRs.  Names the file, never
# the secret.  Feed stdin with a redirection, not a pipe: a pipe would run it in a subshell and
# lose the TAP count.
no_secret_in_files() {
    local desc=$1 pats=$SMT_T/.secret-patterns hits
    shift
    (umask 077 && cat >"$pats")
    hits=$(grep -r -l -F -f "$pats" -- "$@" 2>/dev/null | grep -v -x -F "$pats")
    rm -f "$pats"
    if [ -z "$hits" ]; then ok "$desc"; else not_ok "$desc"; diag "found in:" "$hits"; fi
}
# --- creds integration helpers (end) ---
