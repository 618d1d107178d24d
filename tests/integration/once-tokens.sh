#!/bin/sh
# smtoken-agent --once NAME mints a token the mock verifies, from each credential source (the
# environment, AWS_SHARED_CREDENTIALS_FILE with a 1.5 KB session token, AWS_CONFIG_FILE,
# credential_process), with the endpoint's service, region (else AWS_REGION, else the
# profile's) and lifetime, shortened to what is left of the credentials' expiry.
[ -n "${BASH_VERSION:-}" ] || { command -v bash >/dev/null 2>&1 || { echo "1..0 # SKIP bash not installed"; exit 0; }; exec bash "$0" "$@"; }
. "$(dirname "$0")/lib.sh"

[ -x "$SMTOKEN_AGENT" ] || skip_all "smtoken-agent is not built ($SMTOKEN_AGENT)"
require_cmd "$PYTHON3" curl

once() { run timeout 30 "$SMTOKEN_AGENT" --once "$1" --config "$CONF"; }
once demo
case $RUN_ERR in
    *[Uu]nrecognized* | *[Ii]nvalid\ option* | *[Uu]sage*) skip_all "this smtoken-agent has no --once" ;;
esac

FILE_AK=ASIASMTONCE$(smt_random 'A-Z0-9' 9)
FILE_SK=$(smt_random 'A-Za-z0-9/+' 40)
FILE_ST=IQoJb3JpZ2luX2Vj$(smt_random 'A-Za-z0-9/+' 1500)==
CFG_AK=AKIDSMTONCECFG$(smt_random 'A-Z0-9' 6)
CFG_SK=$(smt_random 'A-Za-z0-9/+' 40)
PROC_AK=ASIASMTONCEPRC$(smt_random 'A-Z0-9' 6)
PROC_SK=$(smt_random 'A-Za-z0-9/+' 40)
mock_add_creds "$FILE_AK" "$FILE_SK" "$FILE_ST"
mock_add_creds "$CFG_AK" "$CFG_SK"
mock_add_creds "$PROC_AK" "$PROC_SK"
start_mock

mkdir -m 0700 "$SMT_T/aws"
export AWS_SHARED_CREDENTIALS_FILE=$SMT_T/aws/credentials AWS_CONFIG_FILE=$SMT_T/aws/config
cat >"$AWS_SHARED_CREDENTIALS_FILE" <<EOT
[filecreds]
aws_access_key_id = $FILE_AK
aws_secret_access_key = $FILE_SK
aws_session_token = $FILE_ST
EOT
proc_exp=$(date -u -d '+5 minutes' +%Y-%m-%dT%H:%M:%SZ)
cat >"$SMT_T/aws/proc" <<EOT
#!/bin/sh
echo '{"Version": 1, "AccessKeyId": "$PROC_AK", "SecretAccessKey": "$PROC_SK", "Expiration": "$proc_exp"}'
EOT
chmod 0700 "$SMT_T/aws/proc"
cat >"$AWS_CONFIG_FILE" <<EOT
[profile cfgcreds]
aws_access_key_id = $CFG_AK
aws_secret_access_key = $CFG_SK
region = eu-west-1

[profile proc]
credential_process = "$SMT_T/aws/proc"
EOT
ep() { # NAME LIFETIME [KEY=VALUE...]; SageMaker endpoints get "endpoint = demo"
    local kv
    printf '\n[endpoint %s]\nbase_url = %s\nlifetime = %s\n' "$1" "$SM_BASE" "$2"
    case " $* " in *" service=bedrock "*) ;; *) printf 'endpoint = demo\n' ;; esac
    shift 2
    for kv in "$@"; do printf '%s = %s\n' "${kv%%=*}" "${kv#*=}"; done
}
{
    ep env 15m region=us-west-2
    ep br 1h service=bedrock region=us-east-1
    ep file 2h profile=filecreds region=ap-south-1
    ep cfg 600 profile=cfgcreds
    ep proc 1h profile=proc region=us-west-2
    ep envregion 60s
} >"$CONF"
export AWS_ACCESS_KEY_ID=$DEMO_AK AWS_SECRET_ACCESS_KEY=$DEMO_SK

# expect NAME LABEL AK REGION SERVICE SESSION(True/False) MIN_EXPIRES MAX_EXPIRES
expect() {
    local name=$1 label=$2 exp
    once "$name"
    if [ "$RUN_RC" != 0 ] || [ -z "$RUN_OUT" ]; then
        not_ok "$label: --once $name succeeds"
        diag "exit $RUN_RC: $RUN_ERR"
        return
    fi
    ok "$label: --once $name succeeds"
    remember_token "$RUN_OUT"
    is "$(token_fact "$RUN_OUT" access_key)" "$3" "$label: access key"
    is "$(token_fact "$RUN_OUT" region)" "$4" "$label: region $4"
    is "$(token_fact "$RUN_OUT" service)" "$5" "$label: service $5"
    is "$(token_fact "$RUN_OUT" session_token)" "$6" "$label: session token $6"
    exp=$(token_fact "$RUN_OUT" expires)
    if [ -n "$exp" ] && [ "$exp" -ge "$7" ] && [ "$exp" -le "$8" ]; then
        ok "$label: lifetime $exp s"
    else
        not_ok "$label: lifetime in $7..$8 s"
        diag "X-Amz-Expires: '$exp'"
    fi
    if [ "$5" = sagemaker ]; then
        http "$RUN_OUT" GET "$SM_BASE/models"
        is "$HTTP_STATUS" 200 "$label: the mock verifies and accepts it"
    fi
}
expect env "environment credentials" "$DEMO_AK" us-west-2 sagemaker False 900 900
expect br "bedrock" "$DEMO_AK" us-east-1 bedrock False 3600 3600
expect file "credentials file, 1.5 KB session token" "$FILE_AK" ap-south-1 sagemaker True 7200 7200
expect cfg "config file, region from the profile" "$CFG_AK" eu-west-1 sagemaker False 600 600
# At most the 300 s left on the credentials; the lower bound leaves room for a loaded machine.
expect proc "credential_process expiring in 5 min" "$PROC_AK" us-west-2 sagemaker False 240 300
export AWS_REGION=ca-central-1
expect envregion "region from AWS_REGION" "$DEMO_AK" ca-central-1 sagemaker False 60 60
unset AWS_REGION
AWS_CREDENTIAL_EXPIRATION=$(date -u -d '+2 minutes' +%Y-%m-%dT%H:%M:%SZ)
export AWS_CREDENTIAL_EXPIRATION
expect env "AWS_CREDENTIAL_EXPIRATION in 2 min" "$DEMO_AK" us-west-2 sagemaker False 100 120
unset AWS_CREDENTIAL_EXPIRATION
no_token_leaked
done_testing
