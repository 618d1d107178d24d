#!/bin/sh
# `smtoken env` evaluated by real shells: bash, dash, zsh (sh syntax), fish (`--shell fish | source`),
# tcsh (`--shell csh`), plus `--shell json` and `--shell dotenv`, all give identical
# OPENAI_API_KEY / OPENAI_BASE_URL / OPENAI_API_BASE / SMTOKEN_EXPIRES_AT.  A missing shell is skipped.
[ -n "${BASH_VERSION:-}" ] || { command -v bash >/dev/null 2>&1 || { echo "1..0 # SKIP bash not installed"; exit 0; }; exec bash "$0" "$@"; }
. "$(dirname "$0")/lib.sh"

require_cmd "$PYTHON3" curl
require_binaries
start_mock
# A second endpoint whose base URL holds characters a shell would expand if it were not quoted.
odd_base="$MOCK_URL/endpoints/demo/openai/v1?a=\$HOME&b=*&c=~x&d=\$(id)"
{
    demo_config 1h
    printf '\n[endpoint odd]\nservice = sagemaker\nregion = eu-west-1\nendpoint = demo\nlifetime = 30m\n'
    printf 'base_url = %s\n' "$odd_base"
} | write_config
start_agent || bail "the agent did not start"

# shell_values SHELL NAME: what SHELL sees after evaluating `smtoken env NAME` its way, one value
# per line (key, base URL, API base, expiry).  Sets SV_RC.
shell_values() {
    local sh=$1 name=$2
    local p='printf "%s\n" "$OPENAI_API_KEY" "$OPENAI_BASE_URL" "$OPENAI_API_BASE" "$SMTOKEN_EXPIRES_AT"'
    case $sh in
        bash) SV=$(bash --norc --noprofile -c 'eval "$("$SMTOKEN" env "$0")" || exit 9
'"$p" "$name" 2>>"$SMT_T/client.err") ;;
        bash-sh) SV=$(bash --norc --noprofile -c 'eval "$("$SMTOKEN" env "$0" --shell sh)" || exit 9
'"$p" "$name" 2>>"$SMT_T/client.err") ;;
        zsh) SV=$(zsh -f -c 'eval "$("$SMTOKEN" env "$0")" || exit 9
'"$p" "$name" 2>>"$SMT_T/client.err") ;;
        fish) SV=$(fish --no-config -c '$SMTOKEN env $argv[1] --shell fish | source; or exit 9
printf "%s\n" $OPENAI_API_KEY $OPENAI_BASE_URL $OPENAI_API_BASE $SMTOKEN_EXPIRES_AT' "$name" \
            2>>"$SMT_T/client.err") ;;
        tcsh | csh) SV=$(SMT_NAME=$name "$sh" -f -c 'eval "`$SMTOKEN env $SMT_NAME --shell csh`"; /usr/bin/printf "%s\n" "$OPENAI_API_KEY" "$OPENAI_BASE_URL" "$OPENAI_API_BASE" "$SMTOKEN_EXPIRES_AT"' \
            2>>"$SMT_T/client.err") ;;
        *) SV=$("$sh" -c 'eval "$("$SMTOKEN" env "$0")" || exit 9
'"$p" "$name" 2>>"$SMT_T/client.err") ;;
    esac
    SV_RC=$?
}

how() {
    case $1 in
        fish) echo "fish: smtoken env $2 --shell fish | source" ;;
        tcsh | csh) echo "$1: eval \"\`smtoken env $2 --shell csh\`\"" ;;
        bash-sh) echo "bash: eval \"\$(smtoken env $2 --shell sh)\"" ;;
        *) echo "$1: eval \"\$(smtoken env $2)\"" ;;
    esac
}

# bash is the reference.
shell_values bash demo
ref=$SV
ref_key=$(printf '%s\n' "$ref" | sed -n 1p)
remember_token "$ref_key"
is "$SV_RC" 0 "bash: eval \"\$(smtoken env demo)\" succeeds"
case $ref_key in
    sagemaker-api-key-*) ok "bash: OPENAI_API_KEY is set to a token" ;;
    *) not_ok "bash: OPENAI_API_KEY is set to a token" ;;
esac
is "$(printf '%s\n' "$ref" | sed -n '2,3p' | tr '\n' ' ')" "$SM_BASE $SM_BASE " "bash: OPENAI_BASE_URL and OPENAI_API_BASE"
exp=$(printf '%s\n' "$ref" | sed -n 4p)
case $exp in
    '' | *[!0-9]*) not_ok "bash: SMTOKEN_EXPIRES_AT is epoch seconds"; diag "got '$exp'" ;;
    *) ok "bash: SMTOKEN_EXPIRES_AT is epoch seconds" ;;
esac
get_token demo
same_secret "$ref_key" "$TOKEN" "bash: the exported key is the token smtoken token prints"

shell_values bash odd
ref_odd=$SV
remember_token "$(printf '%s\n' "$ref_odd" | sed -n 1p)"
is "$SV_RC:$(printf '%s\n' "$ref_odd" | sed -n 2p)" "0:$odd_base" \
    "bash: a base URL holding \$HOME, \$(id), * and & arrives verbatim"

# same_as REF LABEL: compares SV / SV_RC with REF.
same_as() {
    if [ "$SV_RC" = 0 ] && [ "$SV" = "$1" ]; then
        ok "$2: identical values"
    else
        not_ok "$2: identical values"
        diag "exit status $SV_RC; $(diff <(printf '%s\n' "$SV") <(printf '%s\n' "$1") | grep -c '^[<>]') line(s) differ"
    fi
}

for sh in bash-sh dash zsh fish tcsh ksh mksh; do
    case $sh in bash-sh) cmd=bash ;; *) cmd=$sh ;; esac
    if ! command -v "$cmd" >/dev/null 2>&1; then
        case $sh in ksh | mksh) ;; *) skip "$sh is not installed"; skip "$sh is not installed" ;; esac
        continue
    fi
    shell_values "$sh" demo
    same_as "$ref" "$(how "$sh" demo)"
    shell_values "$sh" odd
    same_as "$ref_odd" "$(how "$sh" odd) (odd base URL)"
done

if command -v fish >/dev/null 2>&1; then
    out=$(fish --no-config -c '$SMTOKEN env demo --shell fish | source
set -q -U OPENAI_API_KEY; and echo universal; set -q -x OPENAI_API_KEY; and echo exported' 2>/dev/null)
    is "$out" "exported" "fish: the variables are exported, not universal (which fish writes to disk)"
else
    skip "fish is not installed"
fi

# Machine-readable forms.
run "$SMTOKEN" env demo --shell json
out=$(printf '%s' "$RUN_OUT" | "$PYTHON3" -c '
import json, sys
j = json.load(sys.stdin)
for k in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE", "SMTOKEN_EXPIRES_AT"):
    print(j[k])' 2>/dev/null)
SV=$out SV_RC=$RUN_RC
same_as "$ref" "--shell json"

run "$SMTOKEN" env demo --shell dotenv
out=$(printf '%s\n' "$RUN_OUT" | "$PYTHON3" -c '
import shlex, sys
vals = {}
for line in sys.stdin:
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    if line.startswith("export "):
        line = line[7:]
    k, _, v = line.partition("=")
    w = shlex.split(v)
    vals[k] = w[0] if w else ""
for k in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE", "SMTOKEN_EXPIRES_AT"):
    print(vals.get(k, "<missing>"))' 2>/dev/null)
SV=$out SV_RC=$RUN_RC
same_as "$ref" "--shell dotenv"

# --unset in sh and fish.
out=$(bash --norc --noprofile -c 'eval "$("$SMTOKEN" env demo)"; eval "$("$SMTOKEN" env --unset)"
echo "${OPENAI_API_KEY-unset} ${OPENAI_BASE_URL-unset} ${OPENAI_API_BASE-unset} ${SMTOKEN_EXPIRES_AT-unset}"' 2>>"$SMT_T/client.err")
is "$out" "unset unset unset unset" "bash: eval \"\$(smtoken env --unset)\" removes all four"
if command -v fish >/dev/null 2>&1; then
    out=$(fish --no-config -c '$SMTOKEN env demo --shell fish | source; $SMTOKEN env --unset --shell fish | source
set -q OPENAI_API_KEY; or set -q OPENAI_BASE_URL; or echo gone' 2>>"$SMT_T/client.err")
    is "$out" "gone" "fish: smtoken env --unset --shell fish | source removes them"
else
    skip "fish is not installed"
fi

no_token_leaked "no token leaked into a file (shell history, fish universal variables, ...)"
done_testing
