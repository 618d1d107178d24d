#!/bin/sh
# Install what smtoken needs to build, test and run its demo on Debian 12 (idempotent).
# Runs apt-get as root (via sudo when not root), then npm ci for the Node test clients.
set -eu
cd "$(dirname "$0")/.."

PKGS="build-essential autoconf automake pkg-config
      libsodium-dev libssl-dev libinih-dev libsystemd-dev libjson-c-dev
      systemd util-linux python3 python3-botocore awscli faketime curl
      bash dash zsh fish tcsh man-db groff-base nodejs npm"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
# Node may come from outside Debian's packages (the machine's own Node 20): accept it.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    missing=$(echo "$missing" | tr ' ' '\n' | grep -vx -e nodejs -e npm | tr '\n' ' ')
fi
missing=$(echo $missing)
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    echo "setup: installing:$missing" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

if [ -f tests/node/package-lock.json ]; then
    (cd tests/node && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
echo "setup: ok" >&2
