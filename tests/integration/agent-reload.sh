#!/bin/sh
# Reloading the config (DESIGN §3, §5): SIGHUP or `smtoken reload` with a broken config keeps the
# old config and its endpoints serving and reports file:line (in the log for SIGHUP; on stderr,
# exit 1, for `smtoken reload`); nothing of the broken config is applied.  A fixed config adds an
# endpoint that `smtoken list` shows and that serves tokens, and unchanged endpoints keep their
# cached token.
[ -n "${BASH_VERSION:-}" ] || { command -v bash >/dev/null 2>&1 || { echo "1..0 # SKIP bash not installed"; exit 0; }; exec bash "$0" "$@"; }
. "$(dirname "$0")/lib.sh"

require_cmd "$PYTHON3" curl
require_binaries
start_mock

config_one() { printf '[agent]\ndefault = one\n\n'; demo_config 1h one; }
config_one | write_config
start_agent || bail "the agent did not start"

listed() { # NAME: smtoken list shows an endpoint NAME
    "$SMTOKEN" list 2>/dev/null | grep -E -q "(^|[^A-Za-z0-9_.-])$1([^A-Za-z0-9_.-]|\$)"
}
get_token one
is "$TOKEN_RC" 0 "endpoint 'one' serves a token"
t_one=$TOKEN
check "smtoken list shows 'one'" listed one

# line_of TEXT: the line number of the first line of $CONF holding TEXT.
line_of() { grep -n -F -e "$1" "$CONF" | head -n 1 | cut -d: -f1; }

# --- SIGHUP with a broken config ----------------------------------------------------------------
{
    config_one
    printf '\n'
    demo_config 1h two
    printf 'bogus_key = 1\n'
} | write_config
bad1=$(line_of bogus_key)
kill -HUP "$AGENT_PID"
logged() { grep -F -q "smtoken.conf:$1" "$AGENT_LOG"; }
if wait_until 10 logged "$bad1"; then
    ok "SIGHUP with a broken config: the log names smtoken.conf:$bad1"
else
    not_ok "SIGHUP with a broken config: the log names smtoken.conf:$bad1"; diag "$(tail -n 5 "$AGENT_LOG")"
fi
check "... and the agent keeps running" agent_alive
get_token one
is "$TOKEN_RC" 0 "... and still serves the old endpoint 'one'"
same_secret "$TOKEN" "$t_one" "... with its cached token"
if listed two; then not_ok "... and the broken config's new endpoint 'two' is not applied"; else ok "... and the broken config's new endpoint 'two' is not applied"; fi
run "$SMTOKEN" token two
is "$RUN_RC" 1 "... smtoken token two exits 1"

# --- smtoken reload with a broken config --------------------------------------------------------
{
    config_one
    printf '\n'
    demo_config 13h two # over 12h: an error on the lifetime line
} | write_config
bad2=$(line_of 13h)
run "$SMTOKEN" reload
is "$RUN_RC" 1 "smtoken reload with a broken config exits 1"
is "$RUN_OUT" "" "... nothing on stdout"
if err_is_one_line && printf '%s\n' "$RUN_ERR" | head -n 1 | grep -F -q "smtoken.conf:$bad2"; then
    ok "... one error line naming smtoken.conf:$bad2"
else
    not_ok "... one error line naming smtoken.conf:$bad2"; diag "stderr: $RUN_ERR"
fi
check "... the agent keeps running" agent_alive
get_token one
same_secret "$TOKEN" "$t_one" "... the old endpoint 'one' still serves its token"
if listed two; then not_ok "... and 'two' is not applied"; else ok "... and 'two' is not applied"; fi

# --- a fixed config -----------------------------------------------------------------------------
{
    config_one
    printf '\n'
    demo_config 2h two
} | write_config
run "$SMTOKEN" reload
is "$RUN_RC" 0 "smtoken reload with a fixed config exits 0"
[ "$RUN_RC" = 0 ] || diag "stderr: $RUN_ERR"
is "$RUN_OUT" "" "... printing nothing on stdout"
check "smtoken list now shows 'two'" listed two
check "... and still 'one'" listed one
get_token two
if [ "$TOKEN_RC" = 0 ] && [ "$(mock_verify "$TOKEN")" = ok ]; then
    ok "the new endpoint 'two' serves a token the mock accepts"
else
    not_ok "the new endpoint 'two' serves a token the mock accepts"; diag "exit $TOKEN_RC: $(tail -n 2 "$SMT_T/client.err")"
fi
is "$(token_fact "$TOKEN" expires)" 7200 "... with its configured lifetime (2h)"
get_token one
same_secret "$TOKEN" "$t_one" "the unchanged endpoint 'one' keeps its cached token"
get_token
same_secret "$TOKEN" "$t_one" "the default (no NAME) is still 'one'"

# --- SIGHUP with a good config ------------------------------------------------------------------
{
    config_one
    printf '\n'
    demo_config 2h two
    printf '\n'
    demo_config 1h three
} | write_config
kill -HUP "$AGENT_PID"
if wait_until 10 listed three; then
    ok "SIGHUP with a good config adds 'three'"
else
    not_ok "SIGHUP with a good config adds 'three'"; diag "$(tail -n 5 "$AGENT_LOG")"
fi
get_token three
is "$(mock_verify "$TOKEN")" ok "'three' serves a token the mock accepts"

# A config that disappears is also refused, not taken as "no endpoints".
mv "$CONF" "$CONF.away"
run "$SMTOKEN" reload
is "$RUN_RC" 1 "smtoken reload with the config file gone exits 1"
mv "$CONF.away" "$CONF"
check "... and 'one' is still listed" listed one

run "$SMTOKEN" list
if printf '%s\n' "$RUN_OUT" | grep -F -q -f <(printf '%s\n' "${SMT_TOKENS[@]}"); then
    not_ok "smtoken list never shows a token"
else
    ok "smtoken list never shows a token"
fi
no_token_leaked
done_testing
