#!/usr/bin/env python3
"""Look for bearer tokens where they must never be: files, command lines, a process's environment.

Tokens are read from stdin, one per line, so they never appear on any command line themselves.
For each token it searches for the token, its base64 body (without the prefix) and its SigV4
signature (the secret part of the decoded URL).  Output names where a match was found and which
kind of pattern matched, never the pattern.  Exit status: 0 clean, 1 found, 2 usage error.

    leakscan.py files --newer STAMP DIR...   regular files under DIRs modified after STAMP
    leakscan.py cmdline                      /proc/*/cmdline of every process
    leakscan.py environ PID                  /proc/PID/environ (a positive control for the above)
"""

import base64
import os
import re
import stat
import sys

MAX_FILE = 64 << 20


def patterns_from(lines):
    pats = []
    for n, tok in enumerate(line.strip() for line in lines):
        if not tok:
            continue
        pats.append((tok.encode(), "token #%d" % (n + 1)))
        m = re.match(r"^[a-z]+-api-key-([A-Za-z0-9+/=]+)$", tok)
        if not m:
            continue
        pats.append((m.group(1).encode(), "token #%d base64 body" % (n + 1)))
        try:
            url = base64.b64decode(m.group(1)).decode("ascii", "replace")
        except ValueError:
            continue
        sig = re.search(r"X-Amz-Signature=([0-9a-f]{64})", url)
        if sig:
            pats.append((sig.group(1).encode(), "token #%d signature" % (n + 1)))
    return pats


def scan_bytes(data, pats):
    return [what for pat, what in pats if pat in data]


def scan_files(stamp, dirs, pats):
    since = os.stat(stamp).st_mtime_ns
    hits = 0
    seen = set()
    for top in dirs:
        try:
            dev = os.stat(top).st_dev
        except OSError:
            continue
        for root, subdirs, files in os.walk(top, onerror=lambda e: None):
            # Stay on one file system and do not wander through other mounts.
            subdirs[:] = [d for d in subdirs
                          if not os.path.islink(os.path.join(root, d))
                          and _same_dev(os.path.join(root, d), dev)]
            for name in files:
                path = os.path.join(root, name)
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_FILE:
                    continue
                if max(st.st_mtime_ns, st.st_ctime_ns) < since or (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
                try:
                    with open(path, "rb") as f:
                        data = f.read(MAX_FILE)
                except OSError:
                    continue
                for what in scan_bytes(data, pats):
                    print("leak: %s holds %s" % (path, what))
                    hits += 1
    return hits


def _same_dev(path, dev):
    try:
        return os.stat(path).st_dev == dev
    except OSError:
        return False


def scan_proc(kind, pids, pats):
    hits = 0
    for pid in pids:
        try:
            with open("/proc/%s/%s" % (pid, kind), "rb") as f:
                data = f.read()
        except OSError:
            continue
        for what in scan_bytes(data, pats):
            print("leak: /proc/%s/%s holds %s" % (pid, kind, what))
            hits += 1
    return hits


def main(argv):
    if not argv or argv[0] not in ("files", "cmdline", "environ"):
        print(__doc__, file=sys.stderr)
        return 2
    pats = patterns_from(sys.stdin)
    if not pats:
        print("leakscan: no tokens given on stdin", file=sys.stderr)
        return 2
    if argv[0] == "files":
        if len(argv) < 4 or argv[1] != "--newer":
            print(__doc__, file=sys.stderr)
            return 2
        hits = scan_files(argv[2], argv[3:], pats)
    elif argv[0] == "cmdline":
        hits = scan_proc("cmdline", [p for p in os.listdir("/proc") if p.isdigit()], pats)
    else:
        if len(argv) != 2 or not argv[1].isdigit():
            print(__doc__, file=sys.stderr)
            return 2
        hits = scan_proc("environ", [argv[1]], pats)
    return 1 if hits else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
