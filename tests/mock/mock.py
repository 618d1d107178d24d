#!/usr/bin/env python3
"""A local OpenAI-compatible endpoint that accepts only valid smtoken bearer tokens.

It stands in for a SageMaker AI endpoint (/endpoints/<ep>[/inference-components/<ic>]/openai/v1/...) and
for Bedrock's OpenAI surface (/openai/v1/...) in smtoken's integration tests and demo.  Every request must
carry `Authorization: Bearer <token>`; the mock decodes the token (DESIGN.md section 2), recomputes the
SigV4 signature with the secret key it was given for the token's access key, and checks the validity
window against its clock.  Python 3 standard library only.

    mock.py serve --creds CREDS.json [--port 0] [--port-file F] [--log F] [--now EPOCH]
    mock.py verify --creds CREDS.json [--now EPOCH] [--service S]    < token
    mock.py mint --region R [--service S] [--expires E] [--time EPOCH] < {"access_key":..,"secret_key":..}
    mock.py decode [--field F] < token                        (facts, no verification; never the token)
    mock.py selftest --vectors tests/vectors/token-vectors.json      (prints TAP lines without numbers)

CREDS.json is a JSON list of {"access_key", "secret_key", "session_token"?}.  The mock never logs or
echoes a token: its log lines hold the method, the path, the status and a reason, nothing else.
"""

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import signal
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Tests run from a source tree that may be read-only (make distcheck): no __pycache__ in it.
sys.dont_write_bytecode = True

SERVICES = {
    "sagemaker": {"host": "sagemaker.amazonaws.com", "prefix": "sagemaker-api-key-"},
    "bedrock": {"host": "bedrock.amazonaws.com", "prefix": "bedrock-api-key-"},
}
ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MAX_EXPIRES = 43200
UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
BASE_ORDER = ["Action", "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
              "X-Amz-SignedHeaders"]
TAIL_ORDER = ["X-Amz-Signature", "Version"]
MAX_BODY = 1 << 20


class TokenError(Exception):
    """A token was refused; code is the machine-readable reason, str() the human one."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------------------------------------
# SigV4 pieces (DESIGN.md section 2)

def quote(value):
    """Percent-encode once: unreserved bytes pass, every other byte is %XX with uppercase hex."""
    out = []
    for byte in value.encode("utf-8"):
        out.append(chr(byte) if byte in UNRESERVED else "%%%02X" % byte)
    return "".join(out)


def unquote_strict(raw):
    """Decode a query component, refusing anything our encoder would not have produced."""
    data = bytearray()
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == "%":
            digits = raw[i + 1:i + 3]
            if len(digits) != 2 or not re.fullmatch(r"[0-9A-F]{2}", digits):
                raise TokenError("malformed_token", "bad percent-escape in the signed URL")
            data.append(int(digits, 16))
            i += 3
        elif ord(c) in UNRESERVED:
            data.append(ord(c))
            i += 1
        else:
            raise TokenError("malformed_token", "unencoded character in the signed URL")
    try:
        value = data.decode("utf-8")
    except UnicodeDecodeError:
        raise TokenError("malformed_token", "signed URL value is not UTF-8") from None
    if quote(value) != raw:
        raise TokenError("malformed_token", "signed URL value is not canonically encoded")
    return value


def _hmac(key, msg):
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret_key, date, region, service):
    k = _hmac(("AWS4" + secret_key).encode("utf-8"), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    return _hmac(k, "aws4_request")


def signature_for(pairs, host, amzdate, scope, secret_key, region, service):
    """pairs: the encoded (key, value) pairs of the URL query without the signature and Version."""
    canonical_query = "&".join("%s=%s" % kv for kv in sorted(pairs))
    canonical_request = "POST\n/\n%s\nhost:%s\n\nhost\n%s" % (canonical_query, host, EMPTY_SHA256)
    string_to_sign = "%s\n%s\n%s\n%s" % (ALGORITHM, amzdate, scope,
                                         hashlib.sha256(canonical_request.encode("utf-8")).hexdigest())
    key = signing_key(secret_key, amzdate[:8], region, service)
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def mint_token(access_key, secret_key, session_token, region, service, expires, when):
    """The token DESIGN.md section 2 describes (used by the self-test and by tests without an agent)."""
    svc = SERVICES[service]
    amzdate = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(int(when)))
    scope = "%s/%s/%s/aws4_request" % (amzdate[:8], region, service)
    params = [("Action", "CallWithBearerToken"), ("X-Amz-Algorithm", ALGORITHM),
              ("X-Amz-Credential", "%s/%s" % (access_key, scope)), ("X-Amz-Date", amzdate),
              ("X-Amz-Expires", str(int(expires))), ("X-Amz-SignedHeaders", "host")]
    if session_token is not None:
        # botocore tests `is not None`: an empty session token still yields an empty parameter.
        params.append(("X-Amz-Security-Token", session_token))
    pairs = [(quote(k), quote(v)) for k, v in params]
    sig = signature_for(pairs, svc["host"], amzdate, scope, secret_key, region, service)
    url = "%s/?%s&X-Amz-Signature=%s&Version=1" % (svc["host"], "&".join("%s=%s" % kv for kv in pairs),
                                                   sig)
    return svc["prefix"] + base64.b64encode(url.encode("ascii")).decode("ascii")


def load_creds(path):
    """CREDS.json -> {access_key: (secret_key, session_token or None)}."""
    with open(path, encoding="utf-8") as f:
        items = json.load(f)
    if not isinstance(items, list):
        raise ValueError("%s: expected a JSON list of credentials" % path)
    creds = {}
    for n, item in enumerate(items):
        ak, sk = item.get("access_key"), item.get("secret_key")
        st = item.get("session_token") or None
        if not isinstance(ak, str) or not ak or not isinstance(sk, str) or not sk:
            raise ValueError("%s: entry %d needs access_key and secret_key strings" % (path, n))
        if st is not None and not isinstance(st, str):
            raise ValueError("%s: entry %d: session_token must be a string" % (path, n))
        creds[ak] = (sk, st)
    return creds


def verify_token(token, creds, now, expect_service=None):
    """Check one token; return facts about it (never the token) or raise TokenError."""
    service = None
    for name, svc in SERVICES.items():
        if token.startswith(svc["prefix"]):
            service = name
    if service is None:
        raise TokenError("wrong_prefix", "token does not start with sagemaker-api-key- or bedrock-api-key-")
    if expect_service is not None and service != expect_service:
        raise TokenError("wrong_service", "a %s token was sent to a %s endpoint" % (service, expect_service))
    svc = SERVICES[service]
    body = token[len(svc["prefix"]):]
    if not re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", body) or len(body) % 4 != 0:
        raise TokenError("bad_base64", "token body is not standard padded base64")
    try:
        raw = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise TokenError("bad_base64", "token body is not valid base64") from None
    if base64.b64encode(raw).decode("ascii") != body:
        raise TokenError("bad_base64", "token body is not canonical base64")
    try:
        url = raw.decode("ascii")
    except UnicodeDecodeError:
        raise TokenError("malformed_token", "decoded token is not an ASCII URL") from None

    host, sep, query = url.partition("/?")
    if not sep:
        raise TokenError("malformed_token", "decoded token is not <host>/?<query>")
    if host != svc["host"]:
        raise TokenError("wrong_host", "the token's host is not %s, as its %s prefix says" % (svc["host"], service))

    items = []
    for part in query.split("&"):
        key, eq, value = part.partition("=")
        if not eq:
            raise TokenError("malformed_token", "query parameter without '='")
        items.append((key, value))
    keys = [k for k, _ in items]
    with_st = BASE_ORDER + ["X-Amz-Security-Token"] + TAIL_ORDER
    if keys not in (BASE_ORDER + TAIL_ORDER, with_st):
        raise TokenError("malformed_token", "unexpected, missing, repeated or reordered query parameters")
    values = {k: unquote_strict(v) for k, v in items}

    if values["Action"] != "CallWithBearerToken":
        raise TokenError("malformed_token", "Action is not CallWithBearerToken")
    if values["X-Amz-Algorithm"] != ALGORITHM:
        raise TokenError("malformed_token", "X-Amz-Algorithm is not AWS4-HMAC-SHA256")
    if values["X-Amz-SignedHeaders"] != "host":
        raise TokenError("malformed_token", "X-Amz-SignedHeaders is not host")
    if values["Version"] != "1":
        raise TokenError("malformed_token", "Version is not 1")

    amzdate = values["X-Amz-Date"]
    if not re.fullmatch(r"\d{8}T\d{6}Z", amzdate):
        raise TokenError("malformed_token", "X-Amz-Date is not YYYYMMDDTHHMMSSZ")
    try:
        issued = int(datetime.strptime(amzdate, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc).timestamp())
    except ValueError:
        raise TokenError("malformed_token", "X-Amz-Date is not a real time") from None
    if not re.fullmatch(r"[1-9][0-9]{0,5}", values["X-Amz-Expires"]):
        raise TokenError("malformed_token", "X-Amz-Expires is not a positive integer")
    expires = int(values["X-Amz-Expires"])
    if expires > MAX_EXPIRES:
        raise TokenError("malformed_token", "X-Amz-Expires is over %d seconds" % MAX_EXPIRES)

    cred = values["X-Amz-Credential"].split("/")
    if len(cred) != 5 or cred[4] != "aws4_request" or not cred[0]:
        raise TokenError("malformed_token", "X-Amz-Credential is not AK/date/region/service/aws4_request")
    access_key, date, region, cred_service = cred[0], cred[1], cred[2], cred[3]
    if date != amzdate[:8]:
        raise TokenError("malformed_token", "credential scope date does not match X-Amz-Date")
    if not re.fullmatch(r"[a-z0-9-]{1,32}", region):
        raise TokenError("malformed_token", "credential scope region is malformed")
    if cred_service != service:
        raise TokenError("wrong_service", "credential scope service %s does not match the %s prefix"
                         % (cred_service[:32], service))

    if access_key not in creds:
        raise TokenError("unknown_access_key", "the token's access key is not known to this endpoint")
    secret_key, want_st = creds[access_key]
    # An empty session token (botocore still emits the parameter) counts as none.
    got_st = values.get("X-Amz-Security-Token") or ""
    want_st = want_st or ""
    if not want_st and got_st:
        raise TokenError("invalid_session_token", "the token carries a session token the credentials do not have")
    if want_st and not hmac.compare_digest(want_st.encode("utf-8"), got_st.encode("utf-8")):
        raise TokenError("invalid_session_token", "the token's session token is missing or does not match")

    sig = values["X-Amz-Signature"]
    if not re.fullmatch(r"[0-9a-f]{64}", sig):
        raise TokenError("malformed_token", "X-Amz-Signature is not 64 lowercase hex digits")
    signed = [(k, v) for k, v in items if k not in TAIL_ORDER]
    scope = "%s/%s/%s/aws4_request" % (date, region, service)
    want_sig = signature_for(signed, svc["host"], amzdate, scope, secret_key, region, service)
    if not hmac.compare_digest(want_sig, sig):
        raise TokenError("signature_mismatch", "the signature does not match (wrong secret key or altered token)")

    if now < issued:
        raise TokenError("token_not_yet_valid", "the token's X-Amz-Date is in the future")
    if now > issued + expires:
        raise TokenError("expired_token", "the token expired %d s ago" % int(now - issued - expires))
    return {"service": service, "region": region, "access_key": access_key, "issued": issued,
            "expires": expires, "expires_at": issued + expires, "session_token": bool(got_st)}


# ---------------------------------------------------------------------------------------------
# HTTP server

ROUTES = [
    (re.compile(r"^/endpoints/([^/]+)/inference-components/([^/]+)/openai/v1/(chat/completions|models)$"),
     "sagemaker"),
    (re.compile(r"^/endpoints/([^/]+)/openai/v1/(chat/completions|models)$"), "sagemaker"),
    (re.compile(r"^/openai/v1/(chat/completions|models)$"), "bedrock"),
]


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.accepted = 0
        self.rejected = {}

    def count(self, code):
        with self.lock:
            if code is None:
                self.accepted += 1
            else:
                self.rejected[code] = self.rejected.get(code, 0) + 1

    def snapshot(self):
        with self.lock:
            return {"accepted": self.accepted, "rejected": dict(self.rejected)}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "smtoken-mock/1"
    sys_version = ""

    # Never let BaseHTTPRequestHandler write its own lines: ours hold no headers and no query.
    def log_message(self, fmt, *args):
        pass

    def log_line(self, status, reason):
        path = self.path.split("?", 1)[0] if isinstance(self.path, str) else "-"
        # Even a client that puts a token into the path does not get it logged.
        path = re.sub(r"[a-z]+-api-key-[A-Za-z0-9+/=%]*", "<token>", path)
        self.server.log("%s %s %d %s" % (self.command, path[:200], status, reason))

    def now(self):
        return self.server.frozen_now if self.server.frozen_now is not None else time.time()

    def send_json(self, status, obj, reason, extra_headers=()):
        data = json.dumps(obj).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra_headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.log_line(status, reason)

    def send_error_json(self, status, code, message, err_type="invalid_request_error"):
        body = {"error": {"message": message, "type": err_type, "param": None, "code": code}}
        self.send_json(status, body, code)

    def read_body(self):
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        if not re.fullmatch(r"[0-9]{1,8}", length) or int(length) > MAX_BODY:
            self.close_connection = True
            raise ValueError("bad Content-Length")
        return self.rfile.read(int(length))

    def authenticate(self, service):
        """Return None when the request may proceed, else (code, message)."""
        header = self.headers.get("Authorization")
        if header is None:
            return "missing_token", "no Authorization header; send Authorization: Bearer <token>"
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "missing_token", "Authorization header is not a Bearer token"
        try:
            verify_token(token.strip(), self.server.creds, self.now(), service)
        except TokenError as e:
            return e.code, str(e)
        return None

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def dispatch(self, method):
        path = self.path.split("?", 1)[0]
        try:
            body = self.read_body()
        except ValueError:
            self.send_error_json(400, "invalid_body", "bad Content-Length")
            return
        if path == "/healthz" and method == "GET":
            self.send_json(200, {"status": "ok"}, "health")
            return
        if path == "/__mock/stats" and method == "GET":
            self.send_json(200, self.server.stats.snapshot(), "stats")
            return
        for regex, service in ROUTES:
            m = regex.match(path)
            if m:
                break
        else:
            self.send_error_json(404, "not_found", "no such route on the smtoken mock")
            return
        groups = m.groups()
        op = groups[-1]
        want = "POST" if op == "chat/completions" else "GET"
        if method != want:
            self.send_error_json(405, "method_not_allowed", "%s needs %s" % (op, want))
            return
        refused = self.authenticate(service)
        self.server.stats.count(refused[0] if refused else None)
        if refused:
            self.send_error_json(403, refused[0], refused[1])
            return
        target = "bedrock" if service == "bedrock" else "sagemaker endpoint " + groups[0]
        if op == "models":
            self.models(target, groups)
        else:
            self.chat(body, target)

    def models(self, target, groups):
        model_id = groups[1] if len(groups) == 3 else (groups[0] if len(groups) == 2 else "mock-model")
        data = [{"id": model_id, "object": "model", "created": 0, "owned_by": "smtoken-mock"}]
        self.send_json(200, {"object": "list", "data": data}, "ok models (%s)" % target)

    def chat(self, body, target):
        try:
            req = json.loads(body.decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError):
            self.send_error_json(400, "invalid_body", "request body is not JSON")
            return
        if not isinstance(req, dict) or not isinstance(req.get("messages"), list) or not req["messages"]:
            self.send_error_json(400, "invalid_body", "chat completion needs a non-empty messages list")
            return
        said = ""
        for msg in req["messages"]:
            if isinstance(msg, dict) and msg.get("role") == "user" and isinstance(msg.get("content"), str):
                said = msg["content"]
        said = re.sub(r"[^ -~]", "?", said)[:200]
        answer = "Hello from the smtoken mock (%s)! You said: %s" % (target, said)
        model = req.get("model") if isinstance(req.get("model"), str) else "mock-model"
        with self.server.stats.lock:
            self.server.serial += 1
            ident = "chatcmpl-mock-%d" % self.server.serial
        created = int(self.now())
        usage = {"prompt_tokens": len(said.split()) + 1, "completion_tokens": len(answer.split()),
                 "total_tokens": len(said.split()) + 1 + len(answer.split())}
        if req.get("stream") is True:
            self.stream(ident, created, model, answer, usage, req, target)
            return
        choice = {"index": 0, "message": {"role": "assistant", "content": answer, "refusal": None},
                  "logprobs": None, "finish_reason": "stop"}
        self.send_json(200, {"id": ident, "object": "chat.completion", "created": created, "model": model,
                             "choices": [choice], "usage": usage}, "ok chat (%s)" % target)

    def stream(self, ident, created, model, answer, usage, req, target):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(choices, extra=None):
            obj = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                   "choices": choices}
            if extra:
                obj.update(extra)
            self.send_chunk(b"data: " + json.dumps(obj).encode("utf-8") + b"\n\n")

        chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
        words = answer.split(" ")
        step = max(1, (len(words) + 3) // 4)
        for i in range(0, len(words), step):
            text = " ".join(words[i:i + step]) + (" " if i + step < len(words) else "")
            chunk([{"index": 0, "delta": {"content": text}, "finish_reason": None}])
        chunk([{"index": 0, "delta": {}, "finish_reason": "stop"}])
        opts = req.get("stream_options")
        if isinstance(opts, dict) and opts.get("include_usage") is True:
            chunk([], {"usage": usage})
        self.send_chunk(b"data: [DONE]\n\n")
        self.send_chunk(b"")
        self.log_line(200, "ok chat stream (%s)" % target)

    def send_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()


class MockServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port, creds, frozen_now, logfile):
        super().__init__(("127.0.0.1", port), Handler)
        self.creds = creds
        self.frozen_now = frozen_now
        self.logfile = logfile
        self.stats = Stats()
        self.serial = 0
        self.log_lock = threading.Lock()

    def log(self, line):
        with self.log_lock:
            self.logfile.write("mock: %s\n" % line)
            self.logfile.flush()


def cmd_serve(args):
    creds = load_creds(args.creds)
    logfile = open(args.log, "a", encoding="utf-8", buffering=1) if args.log else sys.stderr
    server = MockServer(args.port, creds, args.now, logfile)
    port = server.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w", encoding="ascii") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    print(port, flush=True)
    server.log("listening on 127.0.0.1:%d with %d credential(s)" % (port, len(creds)))
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    if args.max_lifetime:
        # A safety net for a test whose cleanup never ran: the mock does not outlive it for long.
        signal.signal(signal.SIGALRM, lambda *_: os._exit(3))
        signal.alarm(args.max_lifetime)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def cmd_verify(args):
    creds = load_creds(args.creds)
    token = sys.stdin.read().strip()
    now = args.now if args.now is not None else time.time()
    try:
        info = verify_token(token, creds, now, args.service)
    except TokenError as e:
        print(json.dumps({"ok": False, "code": e.code, "message": str(e)}))
        return 1
    info["ok"] = True
    print(json.dumps(info))
    return 0


def cmd_decode(args):
    """Facts about the token on stdin, without verifying it (tests use this to look inside)."""
    token = sys.stdin.read().strip()
    facts = {}
    for name, svc in SERVICES.items():
        if token.startswith(svc["prefix"]):
            facts["service_prefix"] = name
            token = token[len(svc["prefix"]):]
    try:
        url = base64.b64decode(token, validate=True).decode("ascii")
        host, _, query = url.partition("/?")
        values = {}
        for part in query.split("&"):
            key, _, value = part.partition("=")
            values[key] = unquote_strict(value)
        cred = values["X-Amz-Credential"].split("/")
        issued = int(datetime.strptime(values["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
                     .replace(tzinfo=timezone.utc).timestamp())
        facts.update({"host": host, "access_key": cred[0], "region": cred[2], "service": cred[3],
                      "amz_date": values["X-Amz-Date"], "issued": issued,
                      "expires": int(values["X-Amz-Expires"]),
                      "expires_at": issued + int(values["X-Amz-Expires"]),
                      "session_token": bool(values.get("X-Amz-Security-Token"))})
    except (ValueError, KeyError, IndexError, UnicodeDecodeError, TokenError, binascii.Error):
        print("decode: not a well-formed token", file=sys.stderr)
        return 1
    if args.field:
        if args.field not in facts:
            return 1
        print(facts[args.field])
    else:
        print(json.dumps(facts))
    return 0


def cmd_mint(args):
    cred = json.load(sys.stdin)
    when = args.time if args.time is not None else time.time()
    print(mint_token(cred["access_key"], cred["secret_key"], cred.get("session_token"), args.region,
                     args.service, args.expires, when))
    return 0


def cmd_selftest(args):
    from selftest import run_selftest  # pylint: disable=import-outside-toplevel
    return run_selftest(args.vectors)


def main(argv):
    p = argparse.ArgumentParser(description="smtoken's local OpenAI-compatible mock endpoint")
    sub = p.add_subparsers(dest="cmd")
    s = sub.add_parser("serve", help="serve HTTP on 127.0.0.1")
    s.add_argument("--port", type=int, default=0, help="port to bind (0: any free port)")
    s.add_argument("--port-file", help="write the bound port here (atomically) once listening")
    s.add_argument("--creds", required=True, help="JSON list of {access_key, secret_key, session_token?}")
    s.add_argument("--log", help="append log lines here instead of stderr")
    s.add_argument("--now", type=float, help="freeze the clock at this epoch time (tests)")
    s.add_argument("--max-lifetime", type=int, default=0, help="exit after this many seconds")
    v = sub.add_parser("verify", help="verify the token on stdin; print JSON facts or the refusal")
    v.add_argument("--creds", required=True)
    v.add_argument("--now", type=float)
    v.add_argument("--service", choices=sorted(SERVICES))
    m = sub.add_parser("mint", help="mint a token from the JSON credentials on stdin")
    m.add_argument("--region", required=True)
    m.add_argument("--service", choices=sorted(SERVICES), default="sagemaker")
    m.add_argument("--expires", type=int, default=3600)
    m.add_argument("--time", type=float)
    d = sub.add_parser("decode", help="print facts about the token on stdin (no verification)")
    d.add_argument("--field", help="print only this fact (access_key, region, service, issued, ...)")
    t = sub.add_parser("selftest", help="check the verifier and minter against the token vectors (TAP)")
    t.add_argument("--vectors", required=True)
    if argv and argv[0].startswith("--") and argv[0] != "--help":
        # `mock.py --creds F ...` is `mock.py serve --creds F ...`.
        argv = ["serve"] + argv
    args = p.parse_args(argv)
    if args.cmd is None:
        p.print_usage(sys.stderr)
        return 64
    return {"serve": cmd_serve, "verify": cmd_verify, "mint": cmd_mint, "decode": cmd_decode,
            "selftest": cmd_selftest}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
