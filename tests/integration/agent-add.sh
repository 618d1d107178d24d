#!/bin/sh
# Credentials handed to the agent (DESIGN §3, §4, like ssh-add): `smtoken add work --from-env` takes
# AWS_* from the client's environment; `smtoken add work2 --process-json -` takes credential_process
# JSON on stdin.  Endpoints with profile = work / work2 then mint with exactly those keys (the mock
# verifies them).  `smtoken remove work` makes the endpoint fail with a clear error.  The keys never
# reach the agent's environment, its command line, its log, or any file under the test's HOME,
# XDG_RUNTIME_DIR or TMPDIR.
[ -n "${BASH_VERSION:-}" ] || { command -v bash >/dev/null 2>&1 || { echo "1..0 # SKIP bash not installed"; exit 0; }; exec bash "$0" "$@"; }
. "$(dirname "$0")/lib.sh"

require_cmd "$PYTHON3" curl
require_binaries

ADD_AK=AKIDSMTADD$(smt_random 'A-Z0-9' 10)
ADD_SK=$(smt_random 'A-Za-z0-9/+' 40)
PJ_AK=ASIASMTPJ$(smt_random 'A-Z0-9' 11)
PJ_SK=$(smt_random 'A-Za-z0-9/+' 40)
PJ_ST=IQoJb3JpZ2luX2VjEPJ$(smt_random 'A-Za-z0-9/+' 900)=
mock_add_creds "$ADD_AK" "$ADD_SK"
mock_add_creds "$PJ_AK" "$PJ_SK" "$PJ_ST"
start_mock

# No AWS files and no environment keys for the agent: only what smtoken add hands it.
export AWS_CONFIG_FILE=$SMT_T/aws-config AWS_SHARED_CREDENTIALS_FILE=$SMT_T/aws-credentials
: >"$AWS_CONFIG_FILE"
: >"$AWS_SHARED_CREDENTIALS_FILE"
{
    demo_config 1h w1
    printf 'profile = work\n\n'
    demo_config 1h w2
    printf 'profile = work2\n'
} | write_config
AGENT_AK=
start_agent || bail "the agent did not start"

run "$SMTOKEN" token w1
is "$RUN_RC" 1 "before smtoken add, endpoint w1 (profile work) has no credentials: exit 1"

# --- --from-env ---------------------------------------------------------------------------------
# The keys go into the client's environment only (a subshell), never onto a command line.
run bash -c 'export AWS_ACCESS_KEY_ID=$1; read -r AWS_SECRET_ACCESS_KEY; export AWS_SECRET_ACCESS_KEY
    exec "$SMTOKEN" add work --from-env' add "$ADD_AK" <<<"$ADD_SK"
is "$RUN_RC" 0 "smtoken add work --from-env exits 0"
[ "$RUN_RC" = 0 ] || diag "stderr: $RUN_ERR"
is "$RUN_OUT" "" "... printing nothing on stdout"
get_token w1
is "$TOKEN_RC" 0 "smtoken token w1 (profile = work) now succeeds"
is "$(token_fact "$TOKEN" access_key)" "$ADD_AK" "... signed with the added access key"
is "$(token_fact "$TOKEN" session_token)" False "... without a session token"
is "$(mock_verify "$TOKEN")" ok "... and the mock verifies it with the added secret key"
http "$TOKEN" GET "$SM_BASE/models"
is "$HTTP_STATUS" 200 "... and serves a request with it"

# --- --process-json - ---------------------------------------------------------------------------
pj_exp=$(date -u -d '+2 hours' +%Y-%m-%dT%H:%M:%SZ)
printf '{"Version": 1, "AccessKeyId": "%s", "SecretAccessKey": "%s", "SessionToken": "%s", "Expiration": "%s"}\n' \
    "$PJ_AK" "$PJ_SK" "$PJ_ST" "$pj_exp" >"$SMT_T/pj.json"
run "$SMTOKEN" add work2 --process-json - <"$SMT_T/pj.json"
rm -f "$SMT_T/pj.json"
is "$RUN_RC" 0 "smtoken add work2 --process-json - (JSON on stdin) exits 0"
[ "$RUN_RC" = 0 ] || diag "stderr: $RUN_ERR"
run "$SMTOKEN" token w2 --json
is "$RUN_RC" 0 "smtoken token w2 (profile = work2) succeeds"
t2=$(json_get "$RUN_OUT" token)
remember_token "$t2"
is "$(token_fact "$t2" access_key)" "$PJ_AK" "... signed with the JSON's access key"
is "$(token_fact "$t2" session_token)" True "... carrying its session token"
is "$(mock_verify "$t2")" ok "... and the mock verifies it"
e2=$(json_get "$RUN_OUT" expires_at)
if [ -n "$e2" ] && [ "$e2" -le "$(date -u -d "$pj_exp" +%s)" ]; then
    ok "... its expires_at is not after the JSON's Expiration"
else
    not_ok "... its expires_at is not after the JSON's Expiration"; diag "'$e2' vs $pj_exp"
fi
get_token w1
is "$(token_fact "$TOKEN" access_key)" "$ADD_AK" "adding work2 left work's credentials alone"

# Bad input is refused by the client with one clear line and changes nothing.
run "$SMTOKEN" add work2 --process-json - <<<'{"Version": 2, "AccessKeyId": "x", "SecretAccessKey": "y"}'
is "$RUN_RC" 1 "smtoken add with Version 2 JSON exits 1"
check "... with one error line" err_is_one_line
get_token w2
is "$(token_fact "$TOKEN" access_key)" "$PJ_AK" "... and work2 keeps its credentials"

# --- remove -------------------------------------------------------------------------------------
run "$SMTOKEN" remove work
is "$RUN_RC" 0 "smtoken remove work exits 0"
run "$SMTOKEN" token w1
is "$RUN_RC" 1 "afterwards smtoken token w1 exits 1"
is "$RUN_OUT" "" "... nothing on stdout"
if err_is_one_line && printf '%s\n' "$RUN_ERR" | head -n 1 | grep -F -q "work"; then
    ok "... one error line that names the profile 'work'"
else
    not_ok "... one error line that names the profile 'work'"; diag "stderr: $RUN_ERR"
fi
if printf '%s\n' "$RUN_ERR" | grep -E -i -q 'credential|smtoken add|aws configure'; then
    ok "... and says credentials are missing / what to run"
else
    not_ok "... and says credentials are missing / what to run"; diag "stderr: $RUN_ERR"
fi
get_token w2
is "$TOKEN_RC" 0 "removing work left work2 working"
run "$SMTOKEN" remove nosuchprofile
is "$RUN_RC" 1 "smtoken remove of a profile never added exits 1"

# --- where the secrets must not be --------------------------------------------------------------
if [ -r "/proc/$AGENT_PID/environ" ] && cat "/proc/$AGENT_PID/environ" >/dev/null 2>&1; then
    if tr '\0' '\n' <"/proc/$AGENT_PID/environ" | grep -F -q -f <(printf '%s\n' "$ADD_SK" "$PJ_SK" "${PJ_ST:0:64}" "$ADD_AK" "$PJ_AK"); then
        not_ok "the agent's environment holds none of the added keys"
    else
        ok "the agent's environment holds none of the added keys"
    fi
else
    skip "cannot read /proc/$AGENT_PID/environ"
fi
if tr '\0' '\n' <"/proc/$AGENT_PID/cmdline" | grep -F -q -f <(printf '%s\n' "$ADD_SK" "$PJ_SK" "${PJ_ST:0:64}"); then
    not_ok "the agent's command line holds no added secret"
else
    ok "the agent's command line holds no added secret"
fi
if grep -F -q -f <(printf '%s\n' "$ADD_SK" "$PJ_SK" "${PJ_ST:0:64}") "$AGENT_LOG" "$SMT_T/client.err" "$SMT_T/run.err"; then
    not_ok "neither the agent's log nor the client's stderr holds an added secret"
else
    ok "neither the agent's log nor the client's stderr holds an added secret"
fi
no_secret_in_files "no file under HOME, XDG_RUNTIME_DIR or TMPDIR holds an added secret" \
    "$HOME" "$XDG_RUNTIME_DIR" "$TMPDIR" < <(printf '%s\n' "$ADD_SK" "$PJ_SK" "${PJ_ST:0:64}" "${PJ_ST: -64}")
stop_agent
no_secret_in_files "... nor after the agent stopped" "$HOME" "$XDG_RUNTIME_DIR" "$TMPDIR" \
    < <(printf '%s\n' "$ADD_SK" "$PJ_SK" "${PJ_ST:0:64}")
no_token_leaked
done_testing
