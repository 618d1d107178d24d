#!/bin/sh
# Token files (DESIGN §6): an endpoint with `sink = FILE` and lifetime 10s (refresh 50%): the agent
# writes the file with mode 0600 holding a token the mock accepts, and replaces it after rotation.
# A sink that is a symlink is refused: the agent logs it, keeps serving on the socket, and the
# symlink's target is untouched.  `smtoken write NAME FILE` writes mode 0600 files and refuses a
# symlink and a group/world-writable directory.  A sink that cannot be written (symlink, missing or
# group-writable directory) shows as the endpoint's "last error" in `smtoken status`, and the error
# goes once the directory is fixed and a retry (every 30 s) writes the file.
[ -n "${BASH_VERSION:-}" ] || { command -v bash >/dev/null 2>&1 || { echo "1..0 # SKIP bash not installed"; exit 0; }; exec bash "$0" "$@"; }
. "$(dirname "$0")/lib.sh"

require_cmd "$PYTHON3" curl stat sha256sum
require_binaries
start_mock

SD=$XDG_RUNTIME_DIR/smtoken
mkdir -p -m 0700 "$SD"
SINK=$SD/sinky.token
EVIL=$SD/evil.token
VICTIM=$SMT_T/victim.txt
printf 'precious: the symlink target must never be written\n' >"$VICTIM"
chmod 0644 "$VICTIM"
touch -d '2001-02-03 04:05:06' "$VICTIM"
victim_before=$(stat -c '%Y %s %a' "$VICTIM")$(sha256sum <"$VICTIM")
ln -s "$VICTIM" "$EVIL"
LOST=$SD/later/lost.token      # its directory does not exist yet
SHARED=$SMT_T/shared-sink      # group-writable
mkdir -m 0770 "$SHARED"
chmod 0770 "$SHARED" # whatever the umask
{
    printf '[agent]\nrefresh = 50%%\n\n'
    demo_config 10s sinky
    printf 'sink = %s\n\n' "$SINK"
    demo_config 1h evil
    printf 'sink = %s\n\n' "$EVIL"
    demo_config 1h plain
    printf '\n'
    demo_config 1h lost
    printf 'sink = %s\n\n' "$LOST"
    demo_config 1h shared
    printf 'sink = %s/shared.token\n' "$SHARED"
} | write_config
start_agent || bail "the agent did not start"

# --- the sink appears and holds a good token ----------------------------------------------------
sink_ready() { [ -s "$SINK" ] && [ -n "$(token_from_file "$SINK")" ]; }
if wait_until 15 sink_ready; then
    ok "the agent writes sink = $SINK without being asked"
else
    not_ok "the agent writes sink = $SINK without being asked"
    diag "$(ls -la "$SD" 2>&1)" "$(tail -n 10 "$AGENT_LOG")"
fi
is "$(stat -c %a "$SINK" 2>/dev/null)" 600 "the sink file has mode 0600"
is "$(stat -c %u "$SINK" 2>/dev/null)" "$(id -u)" "... and is owned by the user"
if [ -f "$SINK" ] && [ ! -L "$SINK" ]; then ok "... and is a regular file"; else not_ok "... and is a regular file"; fi
s1=$(token_from_file "$SINK" 2>/dev/null)
remember_token "$s1"
is "$(mock_verify "$s1")" ok "the sink's token is accepted by the mock"
http "$s1" GET "$SM_BASE/models"
is "$HTTP_STATUS" 200 "... over HTTP too"
ino1=$(stat -c %i "$SINK" 2>/dev/null)
sum1=$(sha256sum <"$SINK" 2>/dev/null)
leftovers() { find "$SD" -mindepth 1 -maxdepth 1 ! -name agent.sock ! -name sinky.token ! -name evil.token; }

# --- rotation rewrites it -----------------------------------------------------------------------
sink_changed() {
    [ -s "$SINK" ] || return 1
    [ "$(stat -c %i "$SINK")" != "$ino1" ] || [ "$(sha256sum <"$SINK")" != "$sum1" ]
}
if wait_until 15 sink_changed; then
    ok "after rotation (lifetime 10s, refresh 50%) the sink is rewritten"
else
    not_ok "after rotation (lifetime 10s, refresh 50%) the sink is rewritten"; diag "$(tail -n 10 "$AGENT_LOG")"
fi
wait_until 5 sink_ready
s2=$(token_from_file "$SINK" 2>/dev/null)
remember_token "$s2"
if [ -n "$s2" ] && [ "$s2" != "$s1" ]; then ok "it holds a new token"; else not_ok "it holds a new token"; fi
is "$(mock_verify "$s2")" ok "the new token is accepted by the mock"
if [ -n "$s2" ] && [ "$(token_fact "$s2" issued)" -gt "$(token_fact "$s1" issued)" ]; then
    ok "the new token was minted later"
else
    not_ok "the new token was minted later"
fi
is "$(stat -c %a "$SINK" 2>/dev/null)" 600 "the rewritten sink still has mode 0600"
is "$(leftovers)" "" "no temp files are left next to the sink"

# --- a symlink sink is refused ------------------------------------------------------------------
# The agent has tried it by now (it wrote the other sink twice).
is "$(stat -c '%Y %s %a' "$VICTIM")$(sha256sum <"$VICTIM")" "$victim_before" \
    "the symlink sink's target is untouched (content, size, mode, mtime)"
if [ -L "$EVIL" ] && [ "$(readlink "$EVIL")" = "$VICTIM" ]; then
    ok "the symlink itself is left as it was"
else
    not_ok "the symlink itself is left as it was"
fi
if grep -F -q "evil.token" "$AGENT_LOG" && grep -E -i -q 'symlink|symbolic link|unsafe|refus' "$AGENT_LOG"; then
    ok "the agent logs the refused sink, naming it"
else
    not_ok "the agent logs the refused sink, naming it"; diag "$(tail -n 10 "$AGENT_LOG")"
fi
check "the agent is still running" agent_alive
get_token evil
if [ "$TOKEN_RC" = 0 ] && [ "$(mock_verify "$TOKEN")" = ok ]; then
    ok "the endpoint with the refused sink still serves tokens on the socket"
else
    not_ok "the endpoint with the refused sink still serves tokens on the socket"; diag "exit $TOKEN_RC"
fi
get_token sinky
is "$TOKEN_RC" 0 "smtoken token sinky works as well"
is "$(stat -c '%Y %s %a' "$VICTIM")$(sha256sum <"$VICTIM")" "$victim_before" "the target is still untouched"

# --- a failing sink shows in `smtoken status` -----------------------------------------------------
# status_error NAME: the "last error:" line of endpoint NAME in `smtoken status`.
status_error() {
    "$SMTOKEN" status 2>>"$SMT_T/client.err" | awk -v n="$1" '
        /^[^ ]/ { cur = $1 } cur == n && /^  last error: / { sub(/^  last error: +/, ""); print }'
}
e=$(status_error evil)
case $e in
    "sink not written: "*evil.token*symlink*) ok "status: the symlink sink's endpoint shows the refusal as its last error" ;;
    *) not_ok "status: the symlink sink's endpoint shows the refusal as its last error"; diag "last error: $e" ;;
esac
e=$(status_error lost)
case $e in
    "sink not written: "*"$SD/later"*) ok "status: a sink in a missing directory shows, naming the directory" ;;
    *) not_ok "status: a sink in a missing directory shows, naming the directory"; diag "last error: $e" ;;
esac
e=$(status_error shared)
case $e in
    "sink not written: "*"$SHARED"*writable*) ok "status: a sink in a group-writable directory shows" ;;
    *) not_ok "status: a sink in a group-writable directory shows"; diag "last error: $e" ;;
esac
is "$(status_error plain)" none "status: an endpoint without a sink has no error"
get_token lost
is "$TOKEN_RC" 0 "the endpoint with the unwritable sink still serves tokens"
case $(status_error lost) in
    "sink not written: "*) ok "... and serving one does not hide the sink's error" ;;
    *) not_ok "... and serving one does not hide the sink's error" ;;
esac
# Fixed: the next retry (SINK_RETRY_USEC, 30 s) writes it and the error goes.
mkdir -m 0700 "$SD/later"
lost_ok() { [ -s "$LOST" ] && [ "$(status_error lost)" = none ]; }
if wait_until 60 lost_ok; then
    ok "once its directory exists, the retry writes the sink and status shows no error"
else
    not_ok "once its directory exists, the retry writes the sink and status shows no error"
    diag "last error: $(status_error lost)" "$(ls -la "$SD/later" 2>&1)"
fi
remember_token "$(token_from_file "$LOST" 2>/dev/null)"

# --- smtoken write ------------------------------------------------------------------------------
W=$SMT_T/wdir
mkdir -m 0700 "$W"
run "$SMTOKEN" write plain "$W/plain.token"
is "$RUN_RC" 0 "smtoken write plain FILE succeeds"
[ "$RUN_RC" = 0 ] || diag "$RUN_ERR"
is "$RUN_OUT" "" "... printing nothing on stdout"
is "$(stat -c %a "$W/plain.token" 2>/dev/null)" 600 "the written file has mode 0600"
w1=$(token_from_file "$W/plain.token" 2>/dev/null)
remember_token "$w1"
is "$(mock_verify "$w1")" ok "it holds a token the mock accepts"
# An existing file with a lax mode is replaced by a 0600 one.
(umask 022 && echo old >"$W/lax.token")
run "$SMTOKEN" write plain "$W/lax.token"
is "$RUN_RC:$(stat -c %a "$W/lax.token" 2>/dev/null)" 0:600 "writing over an existing 0644 file leaves a 0600 file"
remember_token "$(token_from_file "$W/lax.token" 2>/dev/null)"
run "$SMTOKEN" write plain "$W/plain.json" --format json
is "$RUN_RC" 0 "smtoken write --format json succeeds"
j=$(cat "$W/plain.json" 2>/dev/null)
remember_token "$(json_get "$j" token)"
if [ -n "$(json_get "$j" expires_at)" ] && [ "$(json_get "$j" base_url)" = "$SM_BASE" ]; then
    ok "... with expires_at and base_url in the JSON"
else
    not_ok "... with expires_at and base_url in the JSON"
fi

printf 'precious too\n' >"$SMT_T/victim2.txt"
v2_before=$(sha256sum <"$SMT_T/victim2.txt")
ln -s "$SMT_T/victim2.txt" "$W/link.token"
run "$SMTOKEN" write plain "$W/link.token"
is "$RUN_RC" 1 "smtoken write to a symlink exits 1"
if err_is_one_line && printf '%s\n' "$RUN_ERR" | head -n 1 | grep -F -q "link.token" &&
    printf '%s\n' "$RUN_ERR" | head -n 1 | grep -E -i -q 'symlink|symbolic link'; then
    ok "... with one error line naming the file and saying it is a symlink"
else
    not_ok "... with one error line naming the file and saying it is a symlink"; diag "stderr: $RUN_ERR"
fi
is "$(sha256sum <"$SMT_T/victim2.txt")" "$v2_before" "... and the symlink's target is untouched"
if [ -L "$W/link.token" ]; then ok "... and the symlink is still there"; else not_ok "... and the symlink is still there"; fi

mkdir -m 0777 "$SMT_T/shared"
chmod 0777 "$SMT_T/shared" # whatever the umask
run "$SMTOKEN" write plain "$SMT_T/shared/x.token"
is "$RUN_RC" 1 "smtoken write into a world-writable directory exits 1"
if [ -e "$SMT_T/shared/x.token" ]; then not_ok "... and writes no file"; else ok "... and writes no file"; fi
is "$(find "$SMT_T/shared" -mindepth 1 | wc -l)" 0 "... nor a temp file"
is "$(cd "$W" && ls -A | tr '\n' ' ')" "lax.token link.token plain.json plain.token " "no temp files are left next to written files"

# The token files did their job; every other file must be free of tokens.
stop_agent
rm -f "$SINK" "$LOST" "$W/plain.token" "$W/lax.token" "$W/plain.json"
no_token_leaked "no token leaked into any file but the sink and the written files"
done_testing
