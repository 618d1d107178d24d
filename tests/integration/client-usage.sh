#!/bin/sh
# smtoken without an agent: --help, --version, usage errors (64, nothing on stdout), an
# unreachable socket (2, the path named on stderr, nothing on stdout), and `env --unset`, which
# needs no agent.  Plain POSIX sh; $SMTOKEN is exported by `make check`.
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${SMTOKEN:=$top_builddir/smtoken}"

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() {
    desc=$1
    shift
    if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

if [ ! -x "$SMTOKEN" ]; then
    echo "1..0 # SKIP smtoken is not built ($SMTOKEN)"
    exit 0
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/smtoken-usage.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
unset SMTOKEN_SOCK OPENAI_API_KEY
export XDG_RUNTIME_DIR="$T/run"

# run ARG...: sets out, err, rc; RUN_ENV (one VAR=VALUE) goes into smtoken's environment only
RUN_ENV=
run() {
    env ${RUN_ENV:+"$RUN_ENV"} "$SMTOKEN" "$@" >"$T/out" 2>"$T/err"
    rc=$?
    out=$(cat "$T/out")
    err=$(cat "$T/err")
}

run --help
check "--help exits 0" test "$rc" = 0
case $out in *"Usage: smtoken"*"env"*"token"*"exec"*) ok "--help prints the usage on stdout" ;;
    *) not_ok "--help prints the usage on stdout" ;; esac
run token --help
check "COMMAND --help exits 0 without contacting an agent" test "$rc" = 0
run --version
case $rc:$out in 0:"smtoken "[0-9]*) ok "--version prints the version" ;;
    *) not_ok "--version prints the version"; echo "# rc=$rc out=$out" ;; esac

run frobnicate
check "an unknown command exits 64" test "$rc" = 64
check "... with nothing on stdout" test -z "$out"
case $err in *"unknown command 'frobnicate'"*) ok "... and says which command" ;;
    *) not_ok "... and says which command"; echo "# stderr: $err" ;; esac
run
check "no command: 64" test "$rc" = 64
run --bogus token
check "an unknown global option: 64" test "$rc" = 64
run token a b
check "token with two names: 64, nothing on stdout" test "$rc:$out" = "64:"
run env --shell powershell
check "env --shell with an unknown shell: 64" test "$rc" = 64
run exec demo true
check "exec without '--': 64" test "$rc" = 64
run add
check "add without a profile: 64" test "$rc" = 64
run --socket
check "--socket without a path: 64" test "$rc" = 64

missing="$T/nowhere/agent.sock"
RUN_ENV="SMTOKEN_SOCK=$missing"
run token
RUN_ENV=
check "token with SMTOKEN_SOCK at a missing path exits 2" test "$rc" = 2
check "... with nothing on stdout" test -z "$out"
case $err in *"cannot reach agent at $missing: No such file or directory"*) ok "... stderr names the path and why" ;;
    *) not_ok "... stderr names the path and why"; echo "# stderr: $err" ;; esac
case $err in *"hint: start it with"*smtoken-agent*) ok "... and says how to start the agent" ;;
    *) not_ok "... and says how to start the agent" ;; esac
RUN_ENV="SMTOKEN_SOCK=$missing"
run --socket "$T/other.sock" list
RUN_ENV=
case $rc:$err in 2:*"$T/other.sock"*) ok "--socket wins over SMTOKEN_SOCK" ;;
    *) not_ok "--socket wins over SMTOKEN_SOCK"; echo "# stderr: $err" ;; esac
run env demo
case $rc:$err in 2:*"$XDG_RUNTIME_DIR/smtoken/agent.sock"*) ok "the default socket is under \$XDG_RUNTIME_DIR" ;;
    *) not_ok "the default socket is under \$XDG_RUNTIME_DIR"; echo "# stderr: $err" ;; esac
run exec demo -- touch "$T/ran"
check "exec with no agent: 2, and the command does not run" test "$rc" = 2 -a ! -e "$T/ran"
: >"$T/sock"
RUN_ENV="SMTOKEN_SOCK=$T/sock"
run status
RUN_ENV=
check "a socket path that is a regular file: 2" test "$rc:$out" = "2:"

RUN_ENV="SMTOKEN_SOCK=$missing"
run env --unset
RUN_ENV=
check "env --unset works without an agent" test "$rc" = 0
expected="unset OPENAI_API_KEY;
unset OPENAI_BASE_URL;
unset OPENAI_API_BASE;
unset SMTOKEN_EXPIRES_AT;
unset AWS_BEARER_TOKEN_BEDROCK;"
check "... and prints the sh unsets" test "$out" = "$expected"
OPENAI_API_KEY=x
export OPENAI_API_KEY
eval "$out"
check "... which a shell evaluates" test -z "${OPENAI_API_KEY+x}"
RUN_ENV="SHELL=/bin/tcsh"
run env --unset
RUN_ENV=
case $out in "unsetenv OPENAI_API_KEY;"*) ok "env --unset for \$SHELL=tcsh: unsetenv" ;;
    *) not_ok "env --unset for \$SHELL=tcsh: unsetenv" ;; esac
run env --unset --shell fish
case $out in "set -e OPENAI_API_KEY;"*) ok "env --unset --shell fish: set -e" ;;
    *) not_ok "env --unset --shell fish: set -e" ;; esac
run env --unset --shell=json
check "env --unset --shell=json: 64 (JSON has no unset)" test "$rc:$out" = "64:"

echo "1..$n"
[ "$failed" = 0 ]
