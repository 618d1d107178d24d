#!/bin/sh
# smtoken-agent --once against botocore's own presigner, byte for byte: the agent mints with
# environment credentials (with and without a session token, SageMaker and Bedrock, 1 s to 12 h);
# its X-Amz-Date must lie between clock readings taken just before and after the call; then
# botocore, with its clock frozen at that second, mints the same token the way the SageMaker and
# Bedrock token generators do (SigV4QueryAuth on a POST to https://<host>/?Action=CallWithBearerToken,
# prefix + base64(url minus "https://" + "&Version=1")).  Runs once per Python that has botocore:
# $PYTHON3 (pip's 1.43 here) and /usr/bin/python3 (Debian's 1.29), whose clocks are patched
# differently (NOTES.md).  Credentials reach botocore on stdin, never on a command line.
[ -n "${BASH_VERSION:-}" ] || { command -v bash >/dev/null 2>&1 || { echo "1..0 # SKIP bash not installed"; exit 0; }; exec bash "$0" "$@"; }
. "$(dirname "$0")/lib.sh"

[ -x "$SMTOKEN_AGENT" ] || skip_all "smtoken-agent is not built ($SMTOKEN_AGENT)"
require_cmd "$PYTHON3" timeout

once() { run timeout 30 "$SMTOKEN_AGENT" --once "$1" --config "$CONF"; }

# An agent without --once says so in its usage message: skip rather than fail then.
run timeout 30 "$SMTOKEN_AGENT" --once probe --config "$SMT_T/none.conf"
case $RUN_ERR in
    *none.conf*) ;;
    *[Uu]nrecognized* | *[Ii]nvalid\ option* | *[Uu]sage*) skip_all "this smtoken-agent has no --once" ;;
esac

# The botocore side: JSON on stdin (credentials, region, service, expires, time), token on stdout.
BOTO_MINT=$SMT_T/boto_mint.py
cat >"$BOTO_MINT" <<'EOF'
import base64, datetime, json, sys, types

sys.dont_write_bytecode = True
import botocore
import botocore.auth
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SERVICES = {"sagemaker": ("sagemaker.amazonaws.com", "sagemaker-api-key-"),
            "bedrock": ("bedrock.amazonaws.com", "bedrock-api-key-")}


def freeze_clock(epoch):
    aware = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    naive = aware.replace(tzinfo=None)
    # botocore 1.43: SigV4Auth.add_auth calls botocore.auth.get_current_datetime().
    if hasattr(botocore.auth, "get_current_datetime"):
        botocore.auth.get_current_datetime = lambda remove_tzinfo=True: (
            naive if remove_tzinfo else aware)

    # botocore 1.29: datetime.datetime.utcnow() through botocore.auth's own `datetime` name.
    class Frozen(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return naive

        @classmethod
        def now(cls, tz=None):
            return aware.astimezone(tz) if tz else naive

    shim = types.ModuleType("datetime")
    shim.__dict__.update(datetime.__dict__)
    shim.datetime = Frozen
    botocore.auth.datetime = shim


def main():
    a = json.load(sys.stdin)
    host, prefix = SERVICES[a["service"]]
    freeze_clock(a["time"])
    creds = Credentials(a["access_key"], a["secret_key"], a.get("session_token"))
    req = AWSRequest(method="POST", url="https://%s/" % host, headers={"host": host},
                     params={"Action": "CallWithBearerToken"})
    SigV4QueryAuth(creds, a["service"], a["region"], expires=a["expires"]).add_auth(req)
    body = req.url.replace("https://", "") + "&Version=1"
    want_date = datetime.datetime.fromtimestamp(a["time"], datetime.timezone.utc).strftime(
        "X-Amz-Date=%Y%m%dT%H%M%SZ&")
    if want_date not in body:
        print("botocore %s: the clock patch did not take" % botocore.__version__, file=sys.stderr)
        return 3
    print(prefix + base64.b64encode(body.encode("utf-8")).decode("utf-8"))
    return 0


sys.exit(main())
EOF

# Every Python here with botocore, one per botocore version.
PYS=()
PY_VERSIONS=()
for py in "$PYTHON3" /usr/bin/python3; do
    command -v "$py" >/dev/null 2>&1 || continue
    v=$("$py" -c 'import botocore; print(botocore.__version__)' 2>/dev/null) || continue
    case " ${PY_VERSIONS[*]} " in *" $v "*) continue ;; esac
    PYS+=("$py")
    PY_VERSIONS+=("$v")
done
[ ${#PYS[@]} -gt 0 ] || skip_all "no python3 here has botocore (apt-get install python3-botocore)"
diag "botocore: ${PY_VERSIONS[*]}"

AK=ASIASMTBOTO$(smt_random 'A-Z0-9' 9)
SK=$(smt_random 'A-Za-z0-9/+' 40)
ST=IQoJb3JpZ2luX2Vj$(smt_random 'A-Za-z0-9/+' 1500)==

write_config <<EOF
[endpoint sm]
service = sagemaker
region = us-west-2
endpoint = demo
lifetime = 15m

[endpoint br]
service = bedrock
region = eu-central-1
lifetime = 12h

[endpoint short]
service = sagemaker
region = ap-northeast-1
endpoint = demo
lifetime = 1s
EOF

# compare NAME LABEL REGION SERVICE EXPIRES ST_FOR_BOTOCORE (empty: none)
compare() {
    local name=$1 label=$2 region=$3 service=$4 expires=$5 st=$6 before after issued tok i want
    before=$(date +%s)
    once "$name"
    after=$(date +%s)
    if [ "$RUN_RC" != 0 ] || [ -z "$RUN_OUT" ]; then
        not_ok "$label: --once $name succeeds"
        diag "exit $RUN_RC: $RUN_ERR"
        return
    fi
    ok "$label: --once $name succeeds"
    tok=$RUN_OUT
    remember_token "$tok"
    issued=$(token_fact "$tok" issued)
    if [ -n "$issued" ] && [ "$issued" -ge "$before" ] && [ "$issued" -le "$after" ]; then
        ok "$label: X-Amz-Date lies between the clock before and after the call"
    else
        not_ok "$label: X-Amz-Date lies between the clock before and after the call"
        diag "before $before, X-Amz-Date $issued, after $after"
        return
    fi
    is "$(token_fact "$tok" expires)" "$expires" "$label: X-Amz-Expires $expires"
    for i in "${!PYS[@]}"; do
        want=$({
            printf '{"access_key": %s, "secret_key": %s, ' "$(_json_str "$AK")" "$(_json_str "$SK")"
            [ -n "$st" ] && printf '"session_token": %s, ' "$(_json_str "$st")"
            printf '"region": "%s", "service": "%s", "expires": %s, "time": %s}\n' \
                "$region" "$service" "$expires" "$issued"
        } | "${PYS[$i]}" "$BOTO_MINT" 2>"$SMT_T/boto.err")
        if [ -z "$want" ]; then
            not_ok "$label: botocore ${PY_VERSIONS[$i]} mints for that second"
            diag "$(cat "$SMT_T/boto.err")"
            continue
        fi
        remember_token "$want"
        same_secret "$tok" "$want" "$label: byte for byte botocore ${PY_VERSIONS[$i]}'s token"
    done
}

export AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK
compare sm "sagemaker, no session token" us-west-2 sagemaker 900 ""
compare br "bedrock, no session token" eu-central-1 bedrock 43200 ""
compare short "sagemaker, 1 s lifetime" ap-northeast-1 sagemaker 1 ""
export AWS_SESSION_TOKEN=$ST
compare sm "sagemaker, 1.5 KB session token" us-west-2 sagemaker 900 "$ST"
compare br "bedrock, 1.5 KB session token" eu-central-1 bedrock 43200 "$ST"
# The AWS CLI treats an empty AWS_SESSION_TOKEN as unset; so does the agent (DESIGN §2: "" is none).
export AWS_SESSION_TOKEN=
compare sm "sagemaker, empty AWS_SESSION_TOKEN" us-west-2 sagemaker 900 ""
unset AWS_SESSION_TOKEN

no_token_leaked
no_token_in_cmdlines "no token on any command line"
done_testing
