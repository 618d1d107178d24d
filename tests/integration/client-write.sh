#!/bin/sh
# `smtoken write [NAME] FILE [--format raw|env|dotenv|json]` against a scripted fake agent (no
# credentials, no real agent needed): every format byte for byte against what `smtoken env` and
# `smtoken token --json` print, mode 0600 whatever the umask, an atomic replace, refusals (a
# symlink, a shared directory, an unknown endpoint, an unreachable agent) that leave every file as
# it was and no temp file behind, the not-on-tmpfs warning, and usage errors.  At the end, one
# round trip through the real smtoken-agent when it is built and starts.
[ -n "${BASH_VERSION:-}" ] || { command -v bash >/dev/null 2>&1 || { echo "1..0 # SKIP bash not installed"; exit 0; }; exec bash "$0" "$@"; }
. "$(dirname "$0")/lib.sh"

[ -x "$SMTOKEN" ] || skip_all "smtoken is not built ($SMTOKEN)"
require_cmd "$PYTHON3" stat

# Throwaway values shaped like the real thing (a token is prefix + base64).
FAKE_SM="sagemaker-api-key-$(head -c 900 /dev/urandom | base64 | tr -d '\n')"
FAKE_BR="bedrock-api-key-$(head -c 300 /dev/urandom | base64 | tr -d '\n')"
FAKE_URL='http://127.0.0.1:9/endpoints/demo/openai/v1'
ODD_URL='http://127.0.0.1:9/v1?a=\b'
export FAKE_SM FAKE_BR FAKE_URL ODD_URL
remember_token "$FAKE_SM"
remember_token "$FAKE_BR"

mkdir -p -m 0700 "$(dirname "$SMTOKEN_SOCK")"
"$PYTHON3" "$top_srcdir/tests/integration/fakeagent.py" "$SMTOKEN_SOCK" 2>"$SMT_T/fake.err" &
FAKE_PID=$!
SMT_PIDS+=("$FAKE_PID")
for i in $(seq 100); do [ -S "$SMTOKEN_SOCK" ] && break; sleep 0.05; done
[ -S "$SMTOKEN_SOCK" ] || bail "the fake agent did not start: $(cat "$SMT_T/fake.err")"

D=$SMT_T/out # a private directory (0700, below the private test dir)
mkdir -m 0700 "$D"

# What the warning looks like here: D is on tmpfs or it is not.
if [ "$(stat -f -c %T "$D")" = tmpfs ]; then ON_TMPFS=1; else ON_TMPFS=; fi

# stderr_ok: stderr is empty, or (not on tmpfs) exactly the one warning line.
stderr_ok() {
    if [ -n "$ON_TMPFS" ]; then
        [ -z "$RUN_ERR" ]
    else
        [ "$(printf '%s\n' "$RUN_ERR" | wc -l)" = 1 ] &&
            case $RUN_ERR in "smtoken: warning: "*" is not on tmpfs"*) true ;; *) false ;; esac
    fi
}
no_token_on_stderr() {
    if grep -F -q -e "$FAKE_SM" -e "$FAKE_BR" "$SMT_T/run.err"; then not_ok "$1"; else ok "$1"; fi
}
# same_file FILE WANT_FILE: byte-identical (shows nothing: they hold tokens)
same_file() { cmp -s "$1" "$2"; }
mode_of() { stat -c %a "$1"; }
# only_in DIR NAMES...: DIR holds exactly these entries (so no temp file was left behind)
only_in() {
    local d=$1 got want
    shift
    got=$(ls -A "$d" | sort | tr '\n' ' ')
    want=$(printf '%s\n' "$@" | sed '/^$/d' | sort | tr '\n' ' ')
    [ "$got" = "$want" ] || { diag "in $d: got '$got', want '$want'"; return 1; }
}

# ---- the formats, byte for byte ----
run "$SMTOKEN" write main "$D/raw"
check "write main FILE: exit 0, nothing on stdout" test "$RUN_RC:$RUN_OUT" = "0:"
printf '%s\n' "$FAKE_SM" >"$SMT_T/want"
check "raw: the token and a newline, exactly" same_file "$D/raw" "$SMT_T/want"
is "$(mode_of "$D/raw")" 600 "raw: mode 0600"
if [ -n "$ON_TMPFS" ]; then
    check "on tmpfs: nothing on stderr" stderr_ok
else
    check "not on tmpfs: exactly one warning line on stderr" stderr_ok
fi
no_token_on_stderr "raw: no token on stderr"

"$SMTOKEN" env main --shell sh >"$SMT_T/want" 2>/dev/null
run "$SMTOKEN" write main "$D/env" --format env
check "--format env: exit 0, nothing on stdout, stderr as expected" \
    test "$RUN_RC:$RUN_OUT" = "0:" -a -s "$SMT_T/want"
check "env: the same bytes as 'smtoken env --shell sh'" same_file "$D/env" "$SMT_T/want"
(. "$D/env" && test "$OPENAI_API_KEY:$OPENAI_BASE_URL:$OPENAI_API_BASE:$SMTOKEN_EXPIRES_AT" = \
    "$FAKE_SM:$FAKE_URL:$FAKE_URL:1700000000")
check "env: '. FILE' sets the variables" test $? = 0
is "$(mode_of "$D/env")" 600 "env: mode 0600"

"$SMTOKEN" env main --shell dotenv >"$SMT_T/want" 2>/dev/null
run "$SMTOKEN" write main "$D/dotenv" --format=dotenv
check "--format=dotenv: exit 0" test "$RUN_RC:$RUN_OUT" = "0:" -a -s "$SMT_T/want"
check "dotenv: the same bytes as 'smtoken env --shell dotenv'" same_file "$D/dotenv" "$SMT_T/want"
got=$("$PYTHON3" - "$D/dotenv" <<'PY'
import os, shlex, sys
# Each line is KEY='value': what a dotenv reader (and shlex) makes of it.
kv = dict(l.split("=", 1) for l in open(sys.argv[1]).read().splitlines())
ok = (shlex.split(kv["OPENAI_API_KEY"])[0] == os.environ["FAKE_SM"]
      and shlex.split(kv["OPENAI_BASE_URL"])[0] == os.environ["FAKE_URL"])
print(ok, sorted(kv))
PY
)
is "$got" "True ['OPENAI_API_BASE', 'OPENAI_API_KEY', 'OPENAI_BASE_URL', 'SMTOKEN_EXPIRES_AT']" \
    "dotenv: KEY='value' lines a reader understands"

"$SMTOKEN" token main --json >"$SMT_T/want" 2>/dev/null
run "$SMTOKEN" write main "$D/json" --format json
check "--format json: exit 0" test "$RUN_RC:$RUN_OUT" = "0:" -a -s "$SMT_T/want"
check "json: the same bytes as 'smtoken token --json'" same_file "$D/json" "$SMT_T/want"
got=$("$PYTHON3" -c 'import json,os,sys; j=json.load(open(sys.argv[1])); print(j["token"]==os.environ["FAKE_SM"], j["expires_at"], j["base_url"])' "$D/json" 2>&1)
is "$got" "True 1700000000 $FAKE_URL" "json: one object with token, expires_at, base_url"

run "$SMTOKEN" write br "$D/br" --format env
(. "$D/br" && test "$AWS_BEARER_TOKEN_BEDROCK:$OPENAI_API_KEY" = "$FAKE_BR:$FAKE_BR")
br_rc=$?
check "env for a Bedrock endpoint adds AWS_BEARER_TOKEN_BEDROCK" test "$RUN_RC:$br_rc" = "0:0"

run "$SMTOKEN" write "$D/default"
printf '%s\n' "$FAKE_SM" >"$SMT_T/want"
check "write FILE (no NAME): the default endpoint's token" \
    test "$RUN_RC" = 0 -a "$(cat "$D/default" 2>/dev/null)" = "$FAKE_SM"

(cd "$D" && "$SMTOKEN" write main relative 2>/dev/null)
check "a relative FILE is relative to the current directory" same_file "$D/relative" "$SMT_T/want"
check "no temp file left after the writes" only_in "$D" raw env dotenv json br default relative

# ---- replace, umask ----
chmod 0644 "$D/raw"
printf 'old\n' >"$D/old" && chmod 0644 "$D/old"
ino1=$(stat -c %i "$D/old")
(umask 000 && "$SMTOKEN" write main "$D/old" 2>/dev/null)
check "replacing an existing file: exit 0, new contents" same_file "$D/old" "$SMT_T/want"
ino2=$(stat -c %i "$D/old")
check "... by rename (the inode changed)" test "$ino1" != "$ino2"
is "$(mode_of "$D/old")" 600 "... mode 0600 under umask 000, not the old 0644"
(umask 0277 && "$SMTOKEN" write main "$D/u277" 2>/dev/null)
is "$(mode_of "$D/u277")" 600 "mode 0600 under umask 0277 too"

# ---- refusals: exit 1, nothing on stdout, nothing written ----
printf 'victim\n' >"$SMT_T/victim"
ln -s "$SMT_T/victim" "$D/link"
run "$SMTOKEN" write main "$D/link"
check "a symlinked FILE: exit 1, nothing on stdout" test "$RUN_RC:$RUN_OUT" = "1:"
case $RUN_ERR in "smtoken: refusing to write $D/link: it is a symlink"*) ok "... says so" ;;
    *) not_ok "... says so"; diag "$RUN_ERR" ;; esac
is "$(cat "$SMT_T/victim")" victim "... and the link's target is untouched"
check "... and the link is still a link" test -L "$D/link"
no_token_on_stderr "... and no token on stderr"

printf 'keep\n' >"$D/keep"
run "$SMTOKEN" write missing "$D/keep"
check "an unknown endpoint: exit 1, nothing on stdout" test "$RUN_RC:$RUN_OUT" = "1:"
is "$RUN_ERR" "smtoken: no endpoint named 'missing'
hint: smtoken list shows the configured endpoints" "... the agent's message and hint"
is "$(cat "$D/keep")" keep "... and the existing file is untouched"
run "$SMTOKEN" write missing "$D/new"
check "an unknown endpoint does not create FILE" test "$RUN_RC" = 1 -a ! -e "$D/new"

run "$SMTOKEN" write odd "$D/keep" --format dotenv
check "a value dotenv cannot hold: exit 1, file untouched" \
    test "$RUN_RC:$RUN_OUT:$(cat "$D/keep")" = "1::keep"

mkdir -m 0777 "$D/shared" && chmod 0777 "$D/shared"
run "$SMTOKEN" write main "$D/shared/t"
check "a world-writable directory: exit 1, nothing written" \
    test "$RUN_RC:$RUN_OUT" = "1:" -a ! -e "$D/shared/t"
case $RUN_ERR in *"group or world writable"*"hint: "*) ok "... says why, with a hint" ;;
    *) not_ok "... says why, with a hint"; diag "$RUN_ERR" ;; esac
mkdir -m 0700 "$D/adir"
run "$SMTOKEN" write main "$D/adir"
check "FILE is a directory: exit 1" test "$RUN_RC:$RUN_OUT" = "1:" -a -d "$D/adir"
run "$SMTOKEN" write main "$D/nodir/t"
case $RUN_RC:$RUN_ERR in 1:*"No such file or directory"*"hint: create it first"*) ok "a missing directory: exit 1 with a hint" ;;
    *) not_ok "a missing directory: exit 1 with a hint"; diag "$RUN_ERR" ;; esac
run "$SMTOKEN" --socket "$SMT_T/no-agent.sock" write main "$D/unreach"
check "no agent: exit 2, nothing written" test "$RUN_RC" = 2 -a ! -e "$D/unreach"
check "no temp file left after the refusals" only_in "$D" raw env dotenv json br default relative \
    old u277 link keep shared adir
check "... nor in the refused directories" only_in "$D/shared"

# ---- usage ----
run "$SMTOKEN" write
is "$RUN_RC" 64 "write without FILE: 64"
run "$SMTOKEN" write main "$D/x" --format yaml
check "an unknown format: 64, nothing written" test "$RUN_RC" = 64 -a ! -e "$D/x"
run "$SMTOKEN" write main "$D/x" --format
is "$RUN_RC" 64 "--format without a value: 64"
run "$SMTOKEN" write main "$D/x" "$D/y"
check "three positionals: 64" test "$RUN_RC" = 64 -a ! -e "$D/x"
run "$SMTOKEN" write ""
is "$RUN_RC" 64 "an empty FILE: 64"
run "$SMTOKEN" write --help
case $RUN_RC:$RUN_OUT in *"write [NAME] FILE [--format raw|env|dotenv|json]"*) ok "--help lists write" ;;
    *) not_ok "--help lists write" ;; esac

# ---- tmpfs: no warning there ----
if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] && SHM=$(mktemp -d /dev/shm/smtoken-it.XXXXXX 2>/dev/null); then
    run "$SMTOKEN" write main "$SHM/t"
    check "on tmpfs (/dev/shm): exit 0 and nothing on stderr" test "$RUN_RC:$RUN_ERR" = "0:"
    rm -rf "$SHM"
else
    skip "/dev/shm is not a writable tmpfs here"
fi
if [ -z "$ON_TMPFS" ]; then
    run "$SMTOKEN" write main "$D/raw"
    is "$RUN_ERR" "smtoken: warning: $D/raw is not on tmpfs, so the token may reach the disk" \
        "not on tmpfs: the warning names the file"
else
    skip "the test directory is on tmpfs, so no warning to see"
fi

# ---- the real agent, when it is built and runs ----
kill "$FAKE_PID" 2>/dev/null
_smt_reap "$FAKE_PID"
rm -f "$SMTOKEN_SOCK"
if [ -x "$SMTOKEN_AGENT" ]; then
    demo_config 1h demo http://127.0.0.1:9/openai/v1 | write_config
    if start_agent; then
        run "$SMTOKEN" write demo "$D/real"
        get_token demo
        printf '%s\n' "$TOKEN" >"$SMT_T/want"
        check "real agent: write demo FILE holds the cached token" \
            test "$RUN_RC" = 0 -a "$TOKEN_RC" = 0 -a -n "$TOKEN"
        check "... byte for byte" same_file "$D/real" "$SMT_T/want"
        is "$(mode_of "$D/real")" 600 "... mode 0600"
        stop_agent
    else
        skip "smtoken-agent did not start (see above)"
    fi
else
    skip "smtoken-agent is not built ($SMTOKEN_AGENT)"
fi

done_testing
