#!/bin/sh
# Credentials from the AWS CLI's files are honoured, per endpoint `profile`: static keys in
# AWS_SHARED_CREDENTIALS_FILE ([name]), in AWS_CONFIG_FILE ([profile name]), a 1.5 KB session token,
# and credential_process.  Each token decodes to the expected access key and region and the mock
# (which checks signature and session token) accepts it.  Environment credentials, which the agent
# also has, are used only by the endpoint without a profile.
[ -n "${BASH_VERSION:-}" ] || { command -v bash >/dev/null 2>&1 || { echo "1..0 # SKIP bash not installed"; exit 0; }; exec bash "$0" "$@"; }
. "$(dirname "$0")/lib.sh"

require_cmd "$PYTHON3" curl
require_binaries

FILE_AK=AKIDSMTFILE$(smt_random 'A-Z0-9' 9)
FILE_SK=$(smt_random 'A-Za-z0-9/+' 40)
CFG_AK=AKIDSMTCFG$(smt_random 'A-Z0-9' 10)
CFG_SK=$(smt_random 'A-Za-z0-9/+' 40)
STS_AK=ASIASMTSTS$(smt_random 'A-Z0-9' 10)
STS_SK=$(smt_random 'A-Za-z0-9/+' 40)
STS_ST=IQoJb3JpZ2luX2Vj$(smt_random 'A-Za-z0-9/+' 1500)==
PROC_AK=ASIASMTPROC$(smt_random 'A-Z0-9' 9)
PROC_SK=$(smt_random 'A-Za-z0-9/+' 40)
PROC_ST=FwoGZXIvYXdz$(smt_random 'A-Za-z0-9/+' 300)=

mock_add_creds "$FILE_AK" "$FILE_SK"
mock_add_creds "$CFG_AK" "$CFG_SK"
mock_add_creds "$STS_AK" "$STS_SK" "$STS_ST"
mock_add_creds "$PROC_AK" "$PROC_SK" "$PROC_ST"
start_mock

# The AWS files live outside ~/.aws, named by the variables the AWS CLI reads.
mkdir -m 0700 "$SMT_T/aws"
export AWS_SHARED_CREDENTIALS_FILE=$SMT_T/aws/creds-file
export AWS_CONFIG_FILE=$SMT_T/aws/config-file
cat >"$AWS_SHARED_CREDENTIALS_FILE" <<EOF
[default]
aws_access_key_id = AKIDNOTTHEDEFAULT000
aws_secret_access_key = not-the-default

[filecreds]
aws_access_key_id = $FILE_AK
aws_secret_access_key = $FILE_SK

[stscreds]
aws_access_key_id=$STS_AK
aws_secret_access_key=$STS_SK
aws_session_token=$STS_ST
EOF
proc_exp=$(date -u -d '+2 hours' +%Y-%m-%dT%H:%M:%SZ)
cat >"$SMT_T/aws/cred-process" <<EOF
#!/bin/sh
# credential_process: JSON Version 1 on stdout.
printf '%s\n' '{"Version": 1, "AccessKeyId": "$PROC_AK", "SecretAccessKey": "$PROC_SK", "SessionToken": "$PROC_ST", "Expiration": "$proc_exp"}'
EOF
chmod 0700 "$SMT_T/aws/cred-process"
cat >"$AWS_CONFIG_FILE" <<EOF
[default]
region = sa-east-1

[profile filecreds]
region = ap-southeast-2

[profile cfgcreds]
aws_access_key_id = $CFG_AK
aws_secret_access_key = $CFG_SK
region = eu-west-1

[profile stscreds]
region = us-east-1

[profile proc]
credential_process = $SMT_T/aws/cred-process
EOF
chmod 0600 "$AWS_SHARED_CREDENTIALS_FILE" "$AWS_CONFIG_FILE"

endpoint() { # NAME PROFILE REGION (either may be empty)
    printf '\n[endpoint %s]\nservice = sagemaker\nendpoint = demo\nlifetime = 1h\nbase_url = %s\n' "$1" "$SM_BASE"
    [ -n "$2" ] && printf 'profile = %s\n' "$2"
    [ -n "$3" ] && printf 'region = %s\n' "$3"
    return 0
}
{
    endpoint fromcreds filecreds us-east-2
    endpoint fromcfg cfgcreds ""
    endpoint withsts stscreds ""
    endpoint fromproc proc us-west-2
    endpoint fromenv "" us-west-1
} | write_config
# The agent also gets the demo keys in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
start_agent || bail "the agent did not start"

# expect NAME AK REGION SESSION(True/False) LABEL
expect() {
    local name=$1 ak=$2 region=$3 st=$4 label=$5
    get_token "$name"
    if [ "$TOKEN_RC" != 0 ] || [ -z "$TOKEN" ]; then
        not_ok "$label: smtoken token $name succeeds"
        diag "exit $TOKEN_RC: $(tail -n 2 "$SMT_T/client.err")"
        return
    fi
    ok "$label: smtoken token $name succeeds"
    is "$(token_fact "$TOKEN" access_key)" "$ak" "$label: the token carries the expected access key"
    is "$(token_fact "$TOKEN" region)" "$region" "$label: scoped to $region"
    is "$(token_fact "$TOKEN" session_token)" "$st" "$label: session token present: $st"
    http "$TOKEN" GET "$SM_BASE/models"
    is "$HTTP_STATUS" 200 "$label: the mock verifies and accepts it"
}

expect fromcreds "$FILE_AK" us-east-2 False "credentials file [filecreds], region from the endpoint"
expect fromcfg "$CFG_AK" eu-west-1 False "config file [profile cfgcreds], region from the profile"
expect withsts "$STS_AK" us-east-1 True "credentials file with a 1.5 KB session token"
expect fromproc "$PROC_AK" us-west-2 True "config file credential_process"
expect fromenv "$DEMO_AK" us-west-1 False "no profile: the environment's credentials"

# The credential_process expiry bounds the token's reported expiry.
run "$SMTOKEN" token fromproc --json
exp=$(printf '%s' "$RUN_OUT" | "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["expires_at"])' 2>/dev/null)
proc_exp_s=$(date -u -d "$proc_exp" +%s)
if [ -n "$exp" ] && [ "$exp" -le "$proc_exp_s" ]; then
    ok "credential_process: expires_at is not after the credentials' Expiration"
else
    not_ok "credential_process: expires_at is not after the credentials' Expiration"
    diag "expires_at '$exp', Expiration $proc_exp_s"
fi

# Nothing the agent read from the files shows up in its log.
if grep -F -q -f <(printf '%s\n' "$FILE_SK" "$CFG_SK" "$STS_SK" "$PROC_SK" "${STS_ST:0:64}") "$AGENT_LOG"; then
    not_ok "the agent's log holds no secret key or session token"
else
    ok "the agent's log holds no secret key or session token"
fi
no_token_leaked
done_testing
