#!/bin/sh
# Wall-clock jumps (DESIGN §4: "every request also re-checks the wall clock, so suspend, resume and
# clock jumps never yield an expired token").  The agent runs under libfaketime with a timestamp
# file this test rewrites (FAKETIME_NO_CACHE=1), so its wall clock jumps while it runs; its
# monotonic/boot clocks are left alone (FAKETIME_DONT_FAKE_MONOTONIC=1), as in a real clock step.
# After +1 day, then -1 day, then back, `smtoken token --json` must give a token minted at the new
# wall clock whose expires_at is at least min_remaining ahead of it (and no more than the lifetime),
# and the mock's verifier, told the same time, must accept it.
[ -n "${BASH_VERSION:-}" ] || { command -v bash >/dev/null 2>&1 || { echo "1..0 # SKIP bash not installed"; exit 0; }; exec bash "$0" "$@"; }
. "$(dirname "$0")/lib.sh"

require_cmd "$PYTHON3" curl date
require_binaries
FT_LIB=
for f in /usr/lib/*/faketime/libfaketimeMT.so.1 /usr/lib/faketime/libfaketimeMT.so.1 \
    /usr/local/lib/faketime/libfaketimeMT.so.1; do
    [ -r "$f" ] && { FT_LIB=$f; break; }
done
[ -n "$FT_LIB" ] || skip_all "libfaketime is not installed (package faketime)"
# libfaketime 0.9.10 also shifts absolute CLOCK_BOOTTIME/MONOTONIC timerfd expiries by its offset
# (EINVAL after a +1 day jump; no real clock step does that): fixtures/faketime-timerfd-fix.c
# sends those timers to the kernel untouched.
CC_FOR_SHIM=${CC:-cc}
command -v "${CC_FOR_SHIM%% *}" >/dev/null 2>&1 ||
    skip_all "no C compiler ($CC_FOR_SHIM) to build the libfaketime timerfd fix"
FT_FIX=$SMT_T/faketime-timerfd-fix.so
$CC_FOR_SHIM -shared -fPIC -o "$FT_FIX" "$FIXTURES/faketime-timerfd-fix.c" -ldl 2>"$SMT_T/cc.err" ||
    bail "cannot build fixtures/faketime-timerfd-fix.c: $(head -n 3 "$SMT_T/cc.err")"
FT_FILE=$SMT_T/faketime
echo "+0" >"$FT_FILE"
# verify_asan_link_order=0: an ASan build of the agent accepts the preloads (--enable-sanitizers).
FT_ENV=(LD_PRELOAD="$FT_FIX $FT_LIB" FAKETIME_TIMESTAMP_FILE="$FT_FILE" FAKETIME_NO_CACHE=1
    FAKETIME_DONT_FAKE_MONOTONIC=1 ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0")
# Does libfaketime work here at all (a jump the test makes is seen by a process)?
echo "+1d" >"$FT_FILE"
probe=$(env "${FT_ENV[@]}" date +%s 2>/dev/null)
[ -n "$probe" ] && [ $((probe - $(date +%s))) -ge 86000 ] ||
    skip_all "libfaketime does not move the clock here (LD_PRELOAD=$FT_LIB)"
echo "+0" >"$FT_FILE"

start_mock
LIFETIME=3600
MINREM=60
{
    printf '[agent]\nmin_remaining = %ss\n\n' "$MINREM"
    demo_config 1h jump
} | write_config
agent_env "${FT_ENV[@]}"
start_agent || bail "the agent did not start under libfaketime"

# at OFFSET LABEL: jump the agent's clock to now+OFFSET (seconds) and check a token.
at() {
    local off=$1 label=$2 fake_before fake_after t e issued v
    echo "${off}" | sed 's/^\([0-9]\)/+\1/' >"$FT_FILE"
    fake_before=$(($(date +%s) + off))
    run "$SMTOKEN" token jump --json
    fake_after=$(($(date +%s) + off))
    is "$RUN_RC" 0 "$label: smtoken token --json succeeds"
    [ "$RUN_RC" = 0 ] || diag "stderr: $RUN_ERR"
    t=$(json_get "$RUN_OUT" token)
    remember_token "$t"
    e=$(json_get "$RUN_OUT" expires_at)
    issued=$(token_fact "$t" issued)
    if [ -n "$issued" ] && [ "$issued" -ge $((fake_before - 5)) ] && [ "$issued" -le $((fake_after + 1)) ]; then
        ok "$label: the token was minted at the agent's new wall clock"
    else
        not_ok "$label: the token was minted at the agent's new wall clock"
        diag "X-Amz-Date $issued, agent's clock $fake_before..$fake_after"
    fi
    if [ -n "$e" ] && [ "$e" -ge $((fake_after + MINREM)) ] && [ "$e" -le $((fake_before + LIFETIME + 1)) ]; then
        ok "$label: expires_at is min_remaining..lifetime after the new wall clock"
    else
        not_ok "$label: expires_at is min_remaining..lifetime after the new wall clock"
        diag "expires_at '$e', agent's clock $fake_before..$fake_after (min_remaining $MINREM, lifetime $LIFETIME)"
    fi
    v=$(mock_verify "$t" "$fake_after")
    is "$v" ok "$label: the mock, told the same time, accepts the token"
    unset SMTOKEN_EXPIRES_AT
    load_env jump
    if [ -n "${SMTOKEN_EXPIRES_AT:-}" ] && [ "$SMTOKEN_EXPIRES_AT" -ge $((fake_after + MINREM)) ] &&
        [ "$SMTOKEN_EXPIRES_AT" -le $((fake_before + LIFETIME + 1)) ]; then
        ok "$label: smtoken env's SMTOKEN_EXPIRES_AT agrees"
    else
        not_ok "$label: smtoken env's SMTOKEN_EXPIRES_AT agrees"; diag "'${SMTOKEN_EXPIRES_AT:-}', clock $fake_after"
    fi
    check "$label: the agent is still running" agent_alive
}

at 0 "no jump"
at 86400 "+1 day"
at -86400 "-1 day (from +1 day)"
at 0 "back to now"
# A small backwards step (NTP): a token minted "in the future" must not be handed out.
at -600 "-10 min"

agent_env
no_token_leaked
done_testing
