#!/bin/sh
# smtoken-agent --once NAME --config PATH: every failure exits non-zero with nothing on stdout and
# one "smtoken-agent: ..." line on stderr (FILE:LINE for a bad config, the endpoint or profile
# named otherwise, an optional "hint:" line after it); success prints exactly one line, the token.
[ -n "${BASH_VERSION:-}" ] || { command -v bash >/dev/null 2>&1 || { echo "1..0 # SKIP bash not installed"; exit 0; }; exec bash "$0" "$@"; }
. "$(dirname "$0")/lib.sh"

[ -x "$SMTOKEN_AGENT" ] || skip_all "smtoken-agent is not built ($SMTOKEN_AGENT)"

once() { run timeout 30 "$SMTOKEN_AGENT" --once "$@"; }

# An agent built without --once says so in its usage message: skip rather than fail then.
once demo --config "$SMT_T/none.conf"
case $RUN_ERR in
    *none.conf*) ;;
    *[Uu]nrecognized* | *[Ii]nvalid\ option* | *[Uu]sage*) skip_all "this smtoken-agent has no --once" ;;
esac

# fails_once LABEL WANT_IN_STDERR ARGS...: exit != 0, empty stdout, first stderr line
# "smtoken-agent: ..." containing WANT, at most one more line, a "hint: ...".
fails_once() {
    local label=$1 want=$2 first rest
    shift 2
    once "$@"
    check "$label: exits non-zero" test "$RUN_RC" != 0 -a "$RUN_RC" != 124
    is "$RUN_OUT" "" "$label: nothing on stdout"
    first=${RUN_ERR%%$'\n'*}
    rest=${RUN_ERR#"$first"}
    rest=${rest#$'\n'}
    case $first in
        "smtoken-agent: "*"$want"*) ok "$label: says '$want'" ;;
        *) not_ok "$label: says '$want'"; diag "stderr: $RUN_ERR" ;;
    esac
    case $rest in
        "" | "hint: "*[!$'\n']) ok "$label: nothing else on stderr but a hint" ;;
        *) not_ok "$label: nothing else on stderr but a hint"; diag "stderr: $RUN_ERR" ;;
    esac
}

export AWS_ACCESS_KEY_ID=$DEMO_AK AWS_SECRET_ACCESS_KEY=$DEMO_SK
bad=$SMT_T/bad.conf
printf '[endpoint demo]\nservice = sagemaker\nfrobnication = yes\nregion = us-west-2\n' >"$bad"
fails_once "unknown key" "bad.conf:3: unknown key 'frobnication'" demo --config "$bad"
printf '[endpoint demo]\nservice = sagemaker\nregion = us-west-2\nendpoint = x\nlifetime = 13h\n' >"$bad"
fails_once "lifetime over 12h" "bad.conf:5: " demo --config "$bad"
{
    printf '[endpoint demo]\n# fine\nregion = us-west-2\nendpoint = '
    head -c 500 /dev/zero | tr '\0' x
    printf '\n'
} >"$bad"
fails_once "a 500-byte line" "bad.conf:4: " demo --config "$bad"
printf '[endpoint demo]\nregion = us-west-2\nendpoint = x\n[endpoint demo]\nendpoint = y\n' >"$bad"
fails_once "duplicate endpoint" "bad.conf:4: duplicate" demo --config "$bad"
fails_once "missing config file" "$SMT_T/none.conf" demo --config "$SMT_T/none.conf"

printf '[endpoint demo]\nregion = us-west-2\nendpoint = demo\nlifetime = 15m\n' >"$CONF"
printf '[endpoint nocreds]\nregion = us-west-2\nendpoint = demo\nprofile = no-such-profile\n' >>"$CONF"
printf '[endpoint noregion]\nservice = bedrock\n' >>"$CONF"
fails_once "unknown endpoint" "nosuch" nosuch --config "$CONF"
case $RUN_ERR in
    *"hint: known endpoints: demo, nocreds, noregion"*) ok "unknown endpoint: the hint lists the known ones" ;;
    *) not_ok "unknown endpoint: the hint lists the known ones"; diag "stderr: $RUN_ERR" ;;
esac
fails_once "unknown profile" "no-such-profile" nocreds --config "$CONF"
fails_once "no region" "no region for endpoint 'noregion'" noregion --config "$CONF"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
fails_once "no credentials at all" "no AWS credentials found" demo --config "$CONF"
export AWS_ACCESS_KEY_ID=$DEMO_AK AWS_SECRET_ACCESS_KEY=$DEMO_SK
AWS_CREDENTIAL_EXPIRATION=$(date -u -d '-1 minute' +%Y-%m-%dT%H:%M:%SZ)
export AWS_CREDENTIAL_EXPIRATION
fails_once "expired credentials" "expired" demo --config "$CONF"
# Alive, but for less than the floor (min(min_remaining 60s, lifetime/5)): refused as by the agent.
AWS_CREDENTIAL_EXPIRATION=$(date -u -d '+30 seconds' +%Y-%m-%dT%H:%M:%SZ)
fails_once "credentials with 30 s left, under min_remaining" "less than the 60s" demo --config "$CONF"
unset AWS_CREDENTIAL_EXPIRATION

# [agent] credential_timeout bounds a credential_process under --once too.
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
printf '[profile slow]\ncredential_process = sleep 20\n' >"$SMT_T/slow-aws-config"
printf '[agent]\ncredential_timeout = 2s\n[endpoint slow]\nregion = us-west-2\nendpoint = x\nprofile = slow\n' \
    >"$SMT_T/slow.conf"
AWS_CONFIG_FILE=$SMT_T/slow-aws-config AWS_SHARED_CREDENTIALS_FILE=$SMT_T/none \
    fails_once "credential_timeout = 2s and a process that sleeps 20 s" "did not finish within 2 s" \
    slow --config "$SMT_T/slow.conf"
export AWS_ACCESS_KEY_ID=$DEMO_AK AWS_SECRET_ACCESS_KEY=$DEMO_SK

# Success: exactly one line, the token (checked further by once-tokens.sh).
once demo --config "$CONF"
is "$RUN_RC" 0 "success: exit 0"
is "$RUN_ERR" "" "success: nothing on stderr"
case $RUN_OUT in
    sagemaker-api-key-*[!$'\n']) ok "success: one line, a SageMaker token" ;;
    *) not_ok "success: one line, a SageMaker token" ;;
esac
remember_token "$RUN_OUT"
no_token_leaked
done_testing
