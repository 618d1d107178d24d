#!/bin/sh
# Profiles that need the AWS CLI (DESIGN §4): the agent runs `aws configure export-credentials
# --profile P --format process` for profiles with sso_session / sso_start_url / role_arn /
# web_identity_token_file (agent/creds_file.c) and reads the credential_process JSON it prints.
#  1. a stand-in `aws` (fixtures/aws-sso-expired.sh) that fails like an expired SSO session: the
#     error passes its message on and says to run `aws sso login --profile P`; the arguments are
#     exactly configure export-credentials --profile P --format process;
#  2. no `aws` on PATH: a clear error naming the AWS CLI;
#  3. the real AWS CLI v2 (Debian's awscli), offline: an SSO profile without a cached SSO token
#     fails with the `aws sso login` hint; an assume-role profile whose role credentials sit in the
#     CLI's own cache (~/.aws/cli/cache, as after an earlier `aws` call) gives tokens signed with
#     the role's keys that the mock accepts.  HTTPS_PROXY points at a closed local port, so the CLI
#     can never reach the network.
[ -n "${BASH_VERSION:-}" ] || { command -v bash >/dev/null 2>&1 || { echo "1..0 # SKIP bash not installed"; exit 0; }; exec bash "$0" "$@"; }
. "$(dirname "$0")/lib.sh"

require_cmd "$PYTHON3" curl
require_binaries

ROLE_AK=ASIASMTROLE$(smt_random 'A-Z0-9' 9)
ROLE_SK=$(smt_random 'A-Za-z0-9/+' 40)
ROLE_ST=IQoJb3JpZ2luX2VjEROLE$(smt_random 'A-Za-z0-9/+' 600)=
mock_add_creds "$ROLE_AK" "$ROLE_SK" "$ROLE_ST"
start_mock

export AWS_CONFIG_FILE=$SMT_T/aws-config AWS_SHARED_CREDENTIALS_FILE=$SMT_T/aws-credentials
cat >"$AWS_CONFIG_FILE" <<EOF2
[profile ssop]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = Developer
region = us-west-2

[sso-session corp]
sso_start_url = https://smtoken-test.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access

[profile src]
aws_access_key_id = AKIDSMTSOURCE0000000
aws_secret_access_key = not-a-real-secret-source-profile-only

[profile role]
role_arn = arn:aws:iam::111122223333:role/SmtokenTest
source_profile = src
region = us-west-2
EOF2
: >"$AWS_SHARED_CREDENTIALS_FILE"
{
    demo_config 1h sso
    printf 'profile = ssop\n\n'
    demo_config 1h role
    printf 'profile = role\n'
} | write_config
AGENT_AK=
NO_NET=(HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9
    http_proxy=http://127.0.0.1:9 AWS_MAX_ATTEMPTS=1 AWS_EC2_METADATA_DISABLED=true)

# sso_fails LABEL: smtoken token sso fails with exit 1, one line, and the aws sso login hint.
sso_fails() {
    run "$SMTOKEN" token sso
    is "$RUN_RC" 1 "$1: smtoken token sso exits 1"
    is "$RUN_OUT" "" "$1: nothing on stdout"
    check "$1: one error line (plus hints)" err_is_one_line
    if printf '%s\n' "$RUN_ERR" | grep -F -q "aws sso login --profile ssop"; then
        ok "$1: the error says to run 'aws sso login --profile ssop'"
    else
        not_ok "$1: the error says to run 'aws sso login --profile ssop'"; diag "stderr: $RUN_ERR"
    fi
}

# --- 1. a stand-in aws that reports an expired SSO session -------------------------------------
B1=$SMT_T/bin-standin
mkdir "$B1"
ln -s "$FIXTURES/aws-sso-expired.sh" "$B1/aws"
agent_env PATH="$B1" "${NO_NET[@]}"
start_agent || bail "the agent did not start"
sso_fails "expired SSO (stand-in aws)"
if printf '%s\n' "$RUN_ERR" | head -n 1 | grep -F -q "Token has expired and refresh failed"; then
    ok "expired SSO (stand-in aws): the AWS CLI's own message is passed on"
else
    not_ok "expired SSO (stand-in aws): the AWS CLI's own message is passed on"; diag "stderr: $RUN_ERR"
fi
is "$(cat "$B1/aws.argv" 2>/dev/null)" "configure export-credentials --profile ssop --format process" \
    "the agent ran: aws configure export-credentials --profile ssop --format process"
rm -f "$B1/aws.argv"
run "$SMTOKEN" token role
is "$RUN_RC" 1 "role_arn through the failing stand-in: exit 1"
is "$(cat "$B1/aws.argv" 2>/dev/null)" "configure export-credentials --profile role --format process" \
    "role_arn profiles go through the AWS CLI too"
if printf '%s\n' "$RUN_ERR" | grep -F -q "sso login"; then
    not_ok "... and the role_arn error does not tell to run aws sso login"; diag "stderr: $RUN_ERR"
else
    ok "... and the role_arn error does not tell to run aws sso login"
fi
check "the agent is still running" agent_alive
stop_agent

# --- 2. no aws on PATH ------------------------------------------------------------------------
B2=$SMT_T/bin-empty
mkdir "$B2"
agent_env PATH="$B2" "${NO_NET[@]}"
start_agent || bail "the agent did not start"
run "$SMTOKEN" token sso
is "$RUN_RC" 1 "no aws on PATH: smtoken token sso exits 1"
is "$RUN_OUT" "" "no aws on PATH: nothing on stdout"
check "no aws on PATH: one error line (plus hints)" err_is_one_line
if printf '%s\n' "$RUN_ERR" | head -n 1 | grep -E -q 'AWS CLI'; then
    ok "no aws on PATH: the error names the AWS CLI"
else
    not_ok "no aws on PATH: the error names the AWS CLI"; diag "stderr: $RUN_ERR"
fi
if printf '%s\n' "$RUN_ERR" | grep -E -i -q 'install'; then
    ok "no aws on PATH: the hint says to install it"
else
    not_ok "no aws on PATH: the hint says to install it"; diag "stderr: $RUN_ERR"
fi
check "the agent is still running" agent_alive
stop_agent

# --- 2b. AWS CLI version 1 first on PATH (it has no export-credentials) ------------------------
B2b=$SMT_T/bin-v1
mkdir "$B2b"
ln -s "$FIXTURES/aws-v1.sh" "$B2b/aws"
agent_env PATH="$B2b" "${NO_NET[@]}"
start_agent || bail "the agent did not start"
run "$SMTOKEN" token sso
is "$RUN_RC" 1 "AWS CLI v1: smtoken token sso exits 1"
is "$RUN_OUT" "" "AWS CLI v1: nothing on stdout"
if printf '%s\n' "$RUN_ERR" | head -n 1 | grep -F -q "AWS CLI version 1"; then
    ok "AWS CLI v1: the error says the aws on PATH is version 1"
else
    not_ok "AWS CLI v1: the error says the aws on PATH is version 1"; diag "stderr: $RUN_ERR"
fi
if printf '%s\n' "$RUN_ERR" | grep -F -q "hint: install AWS CLI version 2" &&
    ! printf '%s\n' "$RUN_ERR" | grep -F -q "sso login"; then
    ok "AWS CLI v1: the hint says to install version 2 (not to log in)"
else
    not_ok "AWS CLI v1: the hint says to install version 2 (not to log in)"; diag "stderr: $RUN_ERR"
fi
stop_agent

# --- 3. the real AWS CLI v2, offline ------------------------------------------------------------
REAL_AWS=
for a in /usr/bin/aws "$(command -v aws 2>/dev/null)"; do
    [ -n "$a" ] && [ -x "$a" ] || continue
    case $("$a" --version 2>&1) in aws-cli/2.*) REAL_AWS=$a; break ;; esac
done
if [ -z "$REAL_AWS" ]; then
    skip "the real AWS CLI: no AWS CLI v2 installed (Debian package awscli)"
else
    B3=$SMT_T/bin-real
    mkdir "$B3"
    ln -s "$REAL_AWS" "$B3/aws"
    # The assume-role credentials the CLI cached earlier: file name = sha1 of the sorted JSON of
    # the AssumeRole arguments other than the session name (botocore's AssumeRoleCredentialFetcher).
    mkdir -p -m 0700 "$HOME/.aws/cli/cache"
    role_exp=$(date -u -d '+2 hours' +%Y-%m-%dT%H:%M:%SZ)
    "$PYTHON3" - "$HOME/.aws/cli/cache" "$role_exp" 3<<<"$ROLE_AK $ROLE_SK $ROLE_ST" <<'PY'
import hashlib, json, os, sys
ak, sk, st = os.fdopen(3).read().split()
key = hashlib.sha1(json.dumps({"RoleArn": "arn:aws:iam::111122223333:role/SmtokenTest"},
                              sort_keys=True).encode()).hexdigest()
doc = {"Credentials": {"AccessKeyId": ak, "SecretAccessKey": sk, "SessionToken": st,
                       "Expiration": sys.argv[2]},
       "AssumedRoleUser": {"AssumedRoleId": "AROASMTOKEN:test",
                           "Arn": "arn:aws:sts::111122223333:assumed-role/SmtokenTest/test"}}
fd = os.open(os.path.join(sys.argv[1], key + ".json"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
os.write(fd, json.dumps(doc).encode())
os.close(fd)
PY
    # Does this CLI resolve the profile from its cache, offline?  (Output to /dev/null: secrets.)
    if ! env PATH="$B3:/usr/bin:/bin" "${NO_NET[@]}" "$B3/aws" configure export-credentials \
        --profile role --format process >/dev/null 2>"$SMT_T/aws-probe.err"; then
        diag "$(head -n 3 "$SMT_T/aws-probe.err")"
        skip "the real AWS CLI: $REAL_AWS does not resolve a cached assume-role profile offline"
        skip_role=1
    fi
    agent_env PATH="$B3:/usr/bin:/bin" "${NO_NET[@]}"
    start_agent || bail "the agent did not start"
    sso_fails "real aws, no SSO token cached"
    if printf '%s\n' "$RUN_ERR" | head -n 1 | grep -F -q "aws configure export-credentials --profile ssop"; then
        ok "real aws, no SSO token cached: the error names the command that failed"
    else
        not_ok "real aws, no SSO token cached: the error names the command that failed"; diag "stderr: $RUN_ERR"
    fi
    if [ -z "${skip_role:-}" ]; then
        run "$SMTOKEN" token role --json
        is "$RUN_RC" 0 "real aws, cached assume-role: smtoken token role --json succeeds"
        [ "$RUN_RC" = 0 ] || diag "stderr: $RUN_ERR"
        t=$(json_get "$RUN_OUT" token)
        remember_token "$t"
        is "$(token_fact "$t" access_key)" "$ROLE_AK" "... signed with the role's access key"
        is "$(token_fact "$t" session_token)" True "... carrying the role's session token"
        is "$(mock_verify "$t")" ok "... and the mock accepts it"
        e=$(json_get "$RUN_OUT" expires_at)
        if [ -n "$e" ] && [ "$e" -le "$(date -u -d "$role_exp" +%s)" ]; then
            ok "... expires_at is not after the role credentials' Expiration"
        else
            not_ok "... expires_at is not after the role credentials' Expiration"; diag "'$e' vs $role_exp"
        fi
        if grep -F -q -f <(printf '%s\n' "$ROLE_SK" "${ROLE_ST:0:64}") "$AGENT_LOG"; then
            not_ok "the agent's log holds none of what the AWS CLI printed"
        else
            ok "the agent's log holds none of what the AWS CLI printed"
        fi
    fi
    check "the agent is still running" agent_alive
    stop_agent
fi
agent_env

if [ ${#SMT_TOKENS[@]} -gt 0 ]; then
    no_token_leaked
else
    skip "no token was minted in this run, so there is nothing to look for in files"
fi
done_testing
