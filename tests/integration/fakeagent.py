#!/usr/bin/env python3
# A scripted fake smtoken-agent for the client tests (client-fakeagent.sh, client-write.sh): speaks
# proto/PROTOCOL.md on the Unix socket named by argv[1] and answers with the throwaway values in
# FAKE_SM, FAKE_BR, FAKE_URL, ODD_URL (and FAKE_AK/FAKE_SK/FAKE_ST for ADD_CREDS), including the
# replies a well-behaved agent never sends (see reply()).  Test data only.
import os, socket, struct, sys

E = os.environ
def s(b): return struct.pack(">I", len(b)) + b
def frame(t, body, v=1): return struct.pack(">IBB", len(body) + 2, v, t) + body
def token(name, svc, tok, url, exp=1700000000):
    return frame(131, s(name) + bytes([svc]) + s(tok.encode()) + struct.pack(">Q", exp) + s(url.encode()))
def failure(code, msg, hint=b""): return frame(129, struct.pack(">I", code) + s(msg) + s(hint))
def entry(name, svc, dflt, region, profile, source, ce, te, lr, err, url):
    return (s(name) + bytes([svc, dflt]) + s(region) + s(profile) + s(source) +
            struct.pack(">QQQ", ce, te, lr) + s(err) + s(url))

def reply(t, body):
    if t == 1:
        name = body[4:]
        if name in (b"", b"main"):
            return token(b"main", 0, E["FAKE_SM"], E["FAKE_URL"])
        if name == b"br":
            return token(b"br", 1, E["FAKE_BR"], E["FAKE_URL"])
        if name == b"odd":
            return token(b"odd", 0, E["FAKE_SM"], E["ODD_URL"])
        if name == b"quote":
            return token(b"quote", 0, E["FAKE_SM"], "http://h/it's")
        if name == b"evil":
            return token(b"evil", 0, "sagemaker-api-key-abc';touch /tmp/pwned;'", E["FAKE_URL"])
        if name == b"wrongsvc":
            return token(b"wrongsvc", 1, E["FAKE_SM"], E["FAKE_URL"])
        if name == b"newer":
            return frame(130, bytes([2]), v=2)
        if name == b"older":
            return frame(130, bytes([0]), v=0)
        if name == b"close":
            return b""
        if name == b"huge":
            return struct.pack(">IBB", 300 * 1024, 1, 131)
        if name == b"wrongtype":
            return frame(128, b"")
        if name == b"badversion":
            return token(b"main", 0, E["FAKE_SM"], E["FAKE_URL"])[:4] + b"\x07" + \
                token(b"main", 0, E["FAKE_SM"], E["FAKE_URL"])[5:]
        if name == b"esc":
            return failure(3, b"no endpoint named 'esc\x1b[31m'", b"")
        return failure(3, b"no endpoint named '" + name + b"'",
                       b"smtoken list shows the configured endpoints")
    if t == 2:
        return frame(132, struct.pack(">I", 2) +
                     entry(b"main", 0, 1, b"us-west-2", b"work", b"process", 1700003600, 1700000900,
                           1700000000, b"", E["FAKE_URL"].encode()) +
                     entry(b"br", 1, 0, b"eu-central-1", b"", b"", 0, 0, 0,
                           b"credential_process failed", b"https://b/openai/v1"))
    if t == 3:
        f, o = [], 0
        for _ in range(4):
            (l,) = struct.unpack(">I", body[o:o + 4]); f.append(body[o + 4:o + 4 + l]); o += 4 + l
        (exp,) = struct.unpack(">Q", body[o:o + 8])
        # profile "work": keys only; profile "full": session token and 2099-01-01 too
        full = f[0] == b"full"
        want = [f[0], E["FAKE_AK"].encode(), E["FAKE_SK"].encode(),
                E["FAKE_ST"].encode() if full else b""]
        names = ["profile", "access key", "secret key", "session token"]
        for i in range(1, 4):
            if f[i] != want[i]:
                return failure(1, ("mismatch in the " + names[i]).encode())
        if exp != (4070908800 if full else 0):
            return failure(1, b"mismatch in the expiration: %d" % exp)
        return frame(128, b"")
    if t == 4:
        return frame(128, b"") if body[4:] == b"work" else failure(3, b"no credentials for that profile")
    if t == 5:
        return failure(6, b"smtoken.conf:3: unknown key 'lifetme'", b"the old configuration stays in use")
    return failure(2, b"unknown request")

def readn(c, k):
    b = b""
    while len(b) < k:
        d = c.recv(k - len(b))
        if not d:
            return None
        b += d
    return b

srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sys.argv[1])
srv.listen(8)
while True:
    c, _ = srv.accept()
    while True:
        h = readn(c, 6)
        if h is None:
            break
        l, v, t = struct.unpack(">IBB", h)
        body = readn(c, l - 2) if l > 2 else b""
        out = frame(130, bytes([1])) if v != 1 else reply(t, body)
        if not out:
            break
        c.sendall(out)
    c.close()
