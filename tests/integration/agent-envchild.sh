#!/bin/sh
# DESIGN §4: no secret in the agent's environment after start-up.  The agent takes its copy of
# AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN when it loads its config, and from
# then on the variables are gone: a credential_process it runs later must not inherit them (its
# /proc/PID/environ would show them to anything running as the user, and it may linger).  The
# environment's credentials must keep working all the same.
[ -n "${BASH_VERSION:-}" ] || { command -v bash >/dev/null 2>&1 || { echo "1..0 # SKIP bash not installed"; exit 0; }; exec bash "$0" "$@"; }
. "$(dirname "$0")/lib.sh"

require_cmd "$PYTHON3" curl
require_binaries

P=$SMT_T/proc
mkdir -m 0700 "$P"
PROC_AK=AKIDSMTPROC$(smt_random 'A-Z0-9' 9)
PROC_SK=$(smt_random 'A-Za-z0-9/+' 40)
mock_add_creds "$PROC_AK" "$PROC_SK" ""
AGENT_ST=FwoGZXIvYXdzSMTENV$(smt_random 'A-Za-z0-9/+' 120)
mock_add_creds "$DEMO_AK" "$DEMO_SK" "$AGENT_ST"
start_mock

# The process records the AWS_* names and values it was given, then prints its own keys.
printf '{"Version": 1, "AccessKeyId": "%s", "SecretAccessKey": "%s"}\n' "$PROC_AK" "$PROC_SK" >"$P/out.json"
cat >"$P/proc.sh" <<'SH'
#!/bin/sh
env | grep '^AWS_' >"$1/env.txt"
cat "$1/out.json"
SH
chmod 0700 "$P/proc.sh"

export AWS_CONFIG_FILE=$SMT_T/aws-config AWS_SHARED_CREDENTIALS_FILE=$SMT_T/aws-credentials
printf '[profile proc]\ncredential_process = %s %s\n' "$P/proc.sh" "$P" >"$AWS_CONFIG_FILE"
: >"$AWS_SHARED_CREDENTIALS_FILE"
{
    demo_config 1h demo
    printf '\n'
    demo_config 1h proc
    printf 'profile = proc\n'
} | write_config
start_agent || bail "the agent did not start"

get_token demo
is "$TOKEN_RC" 0 "a token from the environment's credentials"
is "$(token_fact "$TOKEN" access_key)" "$DEMO_AK" "it is signed with AWS_ACCESS_KEY_ID"

get_token proc
is "$TOKEN_RC" 0 "a token from the credential_process"
is "$(token_fact "$TOKEN" access_key)" "$PROC_AK" "it is signed with the process's key"
if [ ! -f "$P/env.txt" ]; then
    not_ok "the credential_process ran"
elif grep -q -F -e "$DEMO_SK" -e "$DEMO_AK" -e "$AGENT_ST" "$P/env.txt"; then
    not_ok "the credential_process did not inherit the agent's AWS secrets"
    diag "its AWS_* variables: $(sed 's/=.*/=.../' "$P/env.txt" | tr '\n' ' ')"
else
    ok "the credential_process did not inherit the agent's AWS secrets"
fi
check "it still got the non-secret AWS_CONFIG_FILE" grep -q '^AWS_CONFIG_FILE=' "$P/env.txt"

# The environment's credentials were copied before the variables went: still served.
run "$SMTOKEN" token demo
is "$RUN_RC" 0 "the environment's credentials still work afterwards"
remember_token "$RUN_OUT"
is "$(token_fact "$RUN_OUT" access_key)" "$DEMO_AK" "still signed with AWS_ACCESS_KEY_ID"

stop_agent
done_testing
