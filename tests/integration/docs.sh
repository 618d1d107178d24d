#!/bin/sh
# The documentation: each man page renders without a warning, the shell completions parse in
# their shells, every command of `smtoken --help` (and every option of both --help texts) is in
# the man pages, and every key agent/config.c accepts is described in smtoken.conf(5).
[ -n "${BASH_VERSION:-}" ] || { command -v bash >/dev/null 2>&1 || { echo "1..0 # SKIP bash not installed"; exit 0; }; exec bash "$0" "$@"; }
. "$(dirname "$0")/lib.sh"

MAN1=$top_srcdir/man/smtoken.1
MAN_AGENT=$top_srcdir/man/smtoken-agent.1
MAN5=$top_srcdir/man/smtoken.conf.5
COMP=$top_srcdir/contrib/completions

# --- rendering --------------------------------------------------------------------------------
if command -v man >/dev/null 2>&1; then
    for f in "$MAN1" "$MAN_AGENT" "$MAN5"; do
        err=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l "$f" 2>&1 >/dev/null)
        rc=$?
        if [ $rc = 0 ] && [ -z "$err" ]; then
            ok "$(basename "$f") renders without warnings"
        else
            not_ok "$(basename "$f") renders without warnings"
            diag "exit $rc" "$err"
        fi
    done
else
    for f in "$MAN1" "$MAN_AGENT" "$MAN5"; do
        skip "$(basename "$f"): man is not installed (Debian package man-db)"
    done
fi

# --- completions ------------------------------------------------------------------------------
check "bash -n smtoken.bash" bash -n "$COMP/smtoken.bash"
if command -v zsh >/dev/null 2>&1; then
    check "zsh -n _smtoken" zsh -n "$COMP/_smtoken"
else
    skip "zsh is not installed"
fi
if command -v fish >/dev/null 2>&1; then
    check "fish -n smtoken.fish" fish -n "$COMP/smtoken.fish"
else
    skip "fish is not installed"
fi

# bash completion, with a stand-in smtoken whose `list` prints two endpoints.
mkdir -p "$SMT_T/bin"
cat >"$SMT_T/bin/smtoken" <<'SH'
#!/bin/sh
case "$*" in *list*) printf 'main  sagemaker  us-west-2  dev  -  default\nbed   bedrock    us-east-1  -    -\n' ;; esac
SH
chmod +x "$SMT_T/bin/smtoken"
complete_bash() {
    PATH=$SMT_T/bin:$PATH bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1));
        _smtoken; printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "' _ "$COMP/smtoken.bash" "$@"
}
is "$(complete_bash smtoken '')" "add env exec help list reload remove status token write " \
    "bash completes the commands"
is "$(complete_bash smtoken env '')" "bed main " "bash completes endpoint names from smtoken list"
is "$(complete_bash smtoken write main --format '')" "dotenv env json raw " "bash completes write --format"

# --- smtoken --help against smtoken(1) ------------------------------------------------------------
# Commands are documented as ".B smtoken CMD ..." items; options as \-\-name anywhere.
# Whole options only: "\-f" must not count as found inside "\-\-foreground".
has_option() {
    local pat
    pat=$(printf '%s' "$1" | sed 's/-/\\\\-/g')
    grep -qE -- "(^|[^-])${pat}([^A-Za-z0-9]|\$)" "$2"
}
if [ -x "$SMTOKEN" ]; then
    help=$("$SMTOKEN" --help 2>&1)
    cmds=$(printf '%s\n' "$help" |
        awk '/^Commands:/ { on = 1; next } on && /^[^ ]/ { on = 0 } on && /^  [a-z]/ { print $1 }')
    [ -n "$cmds" ] || not_ok "smtoken --help lists commands"
    for c in $cmds; do
        check "smtoken.1 documents '$c'" grep -qE "^\.B smtoken $c( |$)" "$MAN1"
    done
    for o in $(printf '%s\n' "$help" | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
        check "smtoken.1 mentions $o" has_option "$o" "$MAN1"
    done
else
    skip "smtoken is not built ($SMTOKEN): commands of --help not checked"
fi

if [ -x "$SMTOKEN_AGENT" ] && help=$("$SMTOKEN_AGENT" --help 2>&1) && [ -n "$help" ]; then
    for o in $(printf '%s\n' "$help" | grep -oE -- '(^|[ ,[])--?[a-zA-Z][a-z-]*' |
        sed 's/^[ ,[]//' | sort -u); do
        check "smtoken-agent.1 mentions $o" has_option "$o" "$MAN_AGENT"
    done
else
    skip "smtoken-agent is not built or has no --help ($SMTOKEN_AGENT): its options not checked"
fi

# --- agent/config.c's key tables against smtoken.conf(5) -------------------------------------
# Every string in the *_keys[] tables of agent/config.c must be a ".BI key" item.
keys=$(awk '/^static const char \*const [a-z_]*_keys\[/ { on = 1 } on { print } on && /};/ { on = 0 }' \
    "$top_srcdir/agent/config.c" | grep -oE '"[a-z_]+"' | tr -d '"')
n_keys=$(printf '%s\n' "$keys" | grep -c .)
if [ "$n_keys" -ge 10 ]; then
    ok "found $n_keys keys in agent/config.c"
else
    not_ok "found the key tables in agent/config.c (got $n_keys keys)"
fi
for k in $keys; do
    check "smtoken.conf.5 describes '$k'" grep -qE "^\.BI $k( |$)" "$MAN5"
done
# And the other way: no key in the page that the parser does not know.
for k in $(sed -n 's/^\.BI \([a-z_]*\) " = .*/\1/p' "$MAN5"); do
    check "'$k' in smtoken.conf.5 is a key of agent/config.c" grep -qx "$k" <(printf '%s\n' $keys)
done
# Sections, from the same source.
check "smtoken.conf.5 has an [agent] section" grep -q '^\.SH "\[agent\] SECTION"' "$MAN5"
check "smtoken.conf.5 has an [endpoint NAME] section" grep -q '^\.SH "\[endpoint NAME\] SECTION"' "$MAN5"

# The example config parses, when the agent can say so without credentials: --once on an
# endpoint that cannot have any fails on credentials, never on the file.
if [ -x "$SMTOKEN_AGENT" ]; then
    err=$("$SMTOKEN_AGENT" --config "$top_srcdir/contrib/smtoken.conf.example" --once main 2>&1 >/dev/null)
    case $err in
        *smtoken.conf.example:*) not_ok "contrib/smtoken.conf.example parses"; diag "$err" ;;
        *) ok "contrib/smtoken.conf.example parses" ;;
    esac
else
    skip "smtoken-agent is not built: contrib/smtoken.conf.example not parsed"
fi

done_testing
