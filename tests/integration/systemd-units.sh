#!/bin/sh
# The systemd user units: `systemd-analyze verify` accepts both (with the service built from
# its .in by make, ExecStart pointing at this build's smtoken-agent, and the Documentation=
# man pages found in man/), and `systemd-analyze security --offline=true` rates the service's
# sandbox at or below SMT_EXPOSURE_MAX.  The score is a property of the unit file, not a timing.
[ -n "${BASH_VERSION:-}" ] || { command -v bash >/dev/null 2>&1 || { echo "1..0 # SKIP bash not installed"; exit 0; }; exec bash "$0" "$@"; }
. "$(dirname "$0")/lib.sh"

# 1.5 as shipped (the remaining exposure: host root directory, network for the AWS CLI,
# read-only home, no IPAddressDeny=).  Dropping MemoryDenyWriteExecute=, the system call filter
# or ProtectSystem= pushes it over.
SMT_EXPOSURE_MAX=2.0

command -v systemd-analyze >/dev/null 2>&1 ||
    skip_all "systemd-analyze is not installed (Debian package systemd; tests/setup.sh installs it)"

SOCKET_UNIT=$top_srcdir/systemd/smtoken-agent.socket
SERVICE_IN=$top_srcdir/systemd/smtoken-agent.service.in
BUILT_SERVICE=$top_builddir/systemd/smtoken-agent.service
[ -f "$SOCKET_UNIT" ] && [ -f "$SERVICE_IN" ] || bail "units missing in $top_srcdir/systemd"
[ -f "$BUILT_SERVICE" ] || bail "$BUILT_SERVICE is not built (run make)"

# The built service names $(bindir)/smtoken-agent, which need not exist yet: verify a copy
# whose ExecStart is this build's agent instead (the rest of the file is byte for byte make's).
U=$SMT_T/units
mkdir -p "$U" "$SMT_T/man/man1" "$SMT_T/man/man5"
cp "$SOCKET_UNIT" "$U/"
bin_line=$(grep '^ExecStart=' "$BUILT_SERVICE")
is "$(grep -c '^ExecStart=' "$BUILT_SERVICE")" 1 "the built service has one ExecStart="
case $bin_line in
    ExecStart=/*/smtoken-agent\ --foreground) ok "ExecStart= is an absolute path to smtoken-agent --foreground" ;;
    *) not_ok "ExecStart= is an absolute path to smtoken-agent --foreground"; diag "got: $bin_line" ;;
esac
if grep -q '@bindir@' "$BUILT_SERVICE"; then
    not_ok "make substituted @bindir@"
else
    ok "make substituted @bindir@"
fi

# The man pages named by Documentation=, found through MANPATH (verify runs `man`).
for p in smtoken.1 smtoken-agent.1; do cp "$top_srcdir/man/$p" "$SMT_T/man/man1/"; done
cp "$top_srcdir/man/smtoken.conf.5" "$SMT_T/man/man5/"
man_opt=--man=no
command -v man >/dev/null 2>&1 && man_opt=--man=yes

if [ -x "$SMTOKEN_AGENT" ]; then
    sed "s|^ExecStart=[^ ]*smtoken-agent |ExecStart=$SMTOKEN_AGENT |" "$BUILT_SERVICE" \
        >"$U/smtoken-agent.service"
    if out=$(cd "$U" && MANPATH=$SMT_T/man systemd-analyze --user verify "$man_opt" \
        ./smtoken-agent.socket ./smtoken-agent.service 2>&1) && [ -z "$out" ]; then
        ok "systemd-analyze verify: both units ($man_opt)"
    else
        not_ok "systemd-analyze verify: both units ($man_opt)"
        diag "$out"
    fi
else
    skip "systemd-analyze verify needs the built agent ($SMTOKEN_AGENT)"
    # The sandbox rating does not look at ExecStart's binary.
    cp "$BUILT_SERVICE" "$U/smtoken-agent.service"
fi
[ "$man_opt" = --man=yes ] || diag "man is not installed: Documentation= links not checked"

# The socket unit alone, so a socket error is never hidden behind a service one.
if out=$(cd "$U" && systemd-analyze --user verify --man=no ./smtoken-agent.socket 2>&1) &&
    [ -z "$out" ]; then
    ok "systemd-analyze verify: smtoken-agent.socket"
else
    not_ok "systemd-analyze verify: smtoken-agent.socket"
    diag "$out"
fi
check "socket listens where smtoken looks: %t/smtoken/agent.sock" \
    grep -qx 'ListenStream=%t/smtoken/agent.sock' "$SOCKET_UNIT"
check "socket mode 0600, directory 0700" \
    sh -c "grep -qx 'SocketMode=0600' '$SOCKET_UNIT' && grep -qx 'DirectoryMode=0700' '$SOCKET_UNIT'"

out=$(cd "$U" && systemd-analyze --user security --offline=true ./smtoken-agent.service 2>&1)
score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for smtoken-agent\.service: \([0-9.]*\).*/\1/p')
if [ -z "$score" ]; then
    not_ok "systemd-analyze security rates the service"
    diag "$out"
else
    diag "exposure level of smtoken-agent.service: $score (at most $SMT_EXPOSURE_MAX allowed)"
    if awk -v s="$score" -v m="$SMT_EXPOSURE_MAX" 'BEGIN { exit !(s + 0 <= m + 0) }'; then
        ok "exposure $score <= $SMT_EXPOSURE_MAX"
    else
        not_ok "exposure $score <= $SMT_EXPOSURE_MAX"
        diag "$(printf '%s\n' "$out" | grep '✗')"
    fi
fi

# Settings the agent depends on, which the score alone would not catch.
for want in 'Type=notify' 'LimitCORE=0' 'MemoryDenyWriteExecute=yes' 'ProtectSystem=strict' \
    'ProtectHome=read-only' 'ReadWritePaths=%t' 'NoNewPrivileges=yes' 'LimitMEMLOCK=64M' \
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' 'ExecReload=/bin/kill -HUP $MAINPID'; do
    check "service sets $want" grep -qxF "$want" "$BUILT_SERVICE"
done

done_testing
