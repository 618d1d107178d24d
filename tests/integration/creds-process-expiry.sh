#!/bin/sh
# credential_process with an Expiration (DESIGN §2, §4): the token's expiry never passes the
# credentials', and the agent runs the process again before they expire.  The process
# (fixtures/cred-process-rotating.sh) prints new keys on every run; it first says they expire in
# 75 s.  With min_remaining = 65s a token from those keys may be handed out for only about 10 s, so
# the agent must fetch new keys soon after; the process then says 1 h.  The new token must be
# signed by the new access key (X-Amz-Credential), expire later, and be accepted by the mock.
[ -n "${BASH_VERSION:-}" ] || { command -v bash >/dev/null 2>&1 || { echo "1..0 # SKIP bash not installed"; exit 0; }; exec bash "$0" "$@"; }
. "$(dirname "$0")/lib.sh"

require_cmd "$PYTHON3" curl date sed
require_binaries

# 60 key sets (run N of the process prints set N); the mock accepts them all.
P=$SMT_T/proc
mkdir -m 0700 "$P"
(
    umask 077
    for n in $(seq 60); do
        printf 'ASIASMTRUN%03d%s %s FwoGZXIvYXdzRUN%s\n' "$n" "$(smt_random 'A-Z0-9' 7)" \
            "$(smt_random 'A-Za-z0-9/+' 40)" "$(smt_random 'A-Za-z0-9/+' 200)"
    done >"$P/keys"
)
while read -r ak sk st; do mock_add_creds "$ak" "$sk" "$st"; done <"$P/keys"
echo 75 >"$P/offset"
start_mock

export AWS_CONFIG_FILE=$SMT_T/aws-config AWS_SHARED_CREDENTIALS_FILE=$SMT_T/aws-credentials
printf '[profile rot]\ncredential_process = %s %s\n' "$FIXTURES/cred-process-rotating.sh" "$P" >"$AWS_CONFIG_FILE"
: >"$AWS_SHARED_CREDENTIALS_FILE"
{
    printf '[agent]\nrefresh = 80%%\nmin_remaining = 65s\n\n'
    demo_config 1h rot
    printf 'profile = rot\n'
} | write_config
AGENT_AK= # no environment credentials: only the process's
start_agent || bail "the agent did not start"

runs() { cat "$P/count" 2>/dev/null || echo 0; }
# run_of TOKEN: which run of the process printed the access key the token is signed with.
run_of() {
    local ak
    ak=$(token_fact "$1" access_key)
    case $ak in ASIASMTRUN[0-9][0-9][0-9]*) echo $((10#${ak:10:3})) ;; *) echo 0 ;; esac
}

# --- the first keys -----------------------------------------------------------------------------
run "$SMTOKEN" token rot --json
is "$RUN_RC" 0 "smtoken token rot --json succeeds with credential_process credentials"
[ "$RUN_RC" = 0 ] || diag "$RUN_ERR"
t1=$(json_get "$RUN_OUT" token)
remember_token "$t1"
exp1=$(json_get "$RUN_OUT" expires_at)
# smtoken env right away (the checks below take time on a loaded machine).
env_at=$(date +%s)
unset OPENAI_API_KEY SMTOKEN_EXPIRES_AT
load_env rot
env_rc=$?
env_tok=${OPENAI_API_KEY:-} env_exp=${SMTOKEN_EXPIRES_AT:-}
n1=$(run_of "$t1")
if [ "$n1" -ge 1 ] && [ "$n1" -le "$(runs)" ]; then
    ok "the token is signed with keys the process printed (run $n1 of $(runs))"
else
    not_ok "the token is signed with keys the process printed"; diag "run '$n1', process ran $(runs) time(s)"
fi
is "$n1" 1 "... the first keys (the process ran once for the first request)"
cexp1=$(cat "$P/exp.$n1" 2>/dev/null || echo 0)
if [ -n "$exp1" ] && [ "$exp1" -le "$cexp1" ] && [ "$exp1" -gt "$(date +%s)" ]; then
    ok "expires_at is in the future and not after the credentials' Expiration (75 s away)"
else
    not_ok "expires_at is in the future and not after the credentials' Expiration (75 s away)"
    diag "expires_at '$exp1', Expiration $cexp1, now $(date +%s)"
fi
tok_exp=$(token_fact "$t1" expires_at)
if [ -n "$tok_exp" ] && [ "$tok_exp" -le "$cexp1" ]; then
    ok "the token itself (X-Amz-Date + X-Amz-Expires) ends by the credentials' Expiration"
else
    not_ok "the token itself (X-Amz-Date + X-Amz-Expires) ends by the credentials' Expiration"
    diag "token ends '$tok_exp', Expiration $cexp1"
fi
is "$(token_fact "$t1" session_token)" True "it carries the process's session token"
is "$(mock_verify "$t1")" ok "the mock verifies it with the first keys"
http "$t1" GET "$SM_BASE/models"
is "$HTTP_STATUS" 200 "... and serves a request with it"

is "$env_rc" 0 "smtoken env rot succeeds"
if [ -n "$env_tok" ] && [ "$env_tok" = "$t1" ]; then
    ok "smtoken env rot hands out the same token"
elif [ "$env_at" -gt $((cexp1 - 65)) ]; then
    ok "smtoken env rot hands out the same token (or a newer one: the machine was slow and the first had fallen below min_remaining)"
else
    not_ok "smtoken env rot hands out the same token"
fi
n_env=$(run_of "$env_tok")
cexp_env=$(cat "$P/exp.$n_env" 2>/dev/null || echo 0)
if [ -n "$env_exp" ] && [ "$env_exp" -le "$cexp_env" ] && [ "$env_exp" -ge $((env_at + 65)) ]; then
    ok "SMTOKEN_EXPIRES_AT is at least min_remaining away and not after its credentials' Expiration"
else
    not_ok "SMTOKEN_EXPIRES_AT is at least min_remaining away and not after its credentials' Expiration"
    diag "'$env_exp' vs Expiration $cexp_env (run $n_env), asked at $env_at"
fi

# --- new keys, later expiry ---------------------------------------------------------------------
# From now on the process hands out keys valid for an hour.  Once less than min_remaining (65 s)
# is left of the first keys (about 10 s after their run), no token from them may be handed out.
echo 3600 >"$P/offset"
past_floor() { [ "$(date +%s)" -gt $((cexp1 - 65)) ]; }
wait_until 20 past_floor || bail "the clock did not move"

run "$SMTOKEN" token rot --json
is "$RUN_RC" 0 "after the first keys fall below min_remaining, smtoken token rot --json still succeeds"
[ "$RUN_RC" = 0 ] || diag "$RUN_ERR"
t2=$(json_get "$RUN_OUT" token)
remember_token "$t2"
exp2=$(json_get "$RUN_OUT" expires_at)
n2=$(run_of "$t2")
if [ "$n2" -gt "$n1" ]; then
    ok "the new token is signed by a newer access key (run $n2 > run $n1: the agent ran the process again)"
else
    not_ok "the new token is signed by a newer access key"
    diag "token from run '$n2', first from run $n1; the process ran $(runs) time(s)"
fi
if [ "$n2" -ge 1 ] && [ "$(token_fact "$t2" access_key)" = "$(sed -n "${n2}p" "$P/keys" | cut -d' ' -f1)" ]; then
    ok "X-Amz-Credential names that run's access key"
else
    not_ok "X-Amz-Credential names that run's access key"
fi
now=$(date +%s)
cexp2=$(cat "$P/exp.$n2" 2>/dev/null || echo 0)
if [ -n "$exp2" ] && [ "$exp2" -gt "$exp1" ] && [ $((exp2 - now)) -ge 65 ] && [ "$exp2" -le "$cexp2" ]; then
    ok "its expires_at is later, at least min_remaining away and not after the new Expiration"
else
    not_ok "its expires_at is later, at least min_remaining away and not after the new Expiration"
    diag "expires_at '$exp2', first $exp1, now $now, new Expiration $cexp2"
fi
is "$(mock_verify "$t2")" ok "the mock verifies the new token with the new keys"
http "$t2" POST "$SM_BASE/chat/completions" "$CHAT_BODY"
is "$HTTP_STATUS" 200 "... and serves a chat completion with it"
load_env rot
same_secret "${OPENAI_API_KEY:-}" "$t2" "smtoken env rot now hands out the new token"

# The first keys' tokens are not handed out any more, and the process is not run per request.
before=$(runs)
get_token rot
get_token rot
after=$(runs)
if [ "$after" -le $((before + 1)) ]; then
    ok "fresh credentials are reused: no new process run per request ($before -> $after)"
else
    not_ok "fresh credentials are reused: no new process run per request"; diag "runs $before -> $after"
fi
check "the agent is still running" agent_alive

if grep -F -q -f <(cut -d' ' -f2,3 "$P/keys" | tr ' ' '\n') "$AGENT_LOG"; then
    not_ok "the agent's log holds no secret key or session token from the process"
else
    ok "the agent's log holds no secret key or session token from the process"
fi
no_token_leaked
done_testing
