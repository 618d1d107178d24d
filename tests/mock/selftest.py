"""Self-test of mock.py's token verifier and minter against tests/vectors/token-vectors.json.

Prints TAP result lines without numbers ("ok - ...", "not ok - ...", "# ..."); the calling shell
script numbers them and prints the plan.  Run through `mock.py selftest --vectors FILE`.
"""

import base64
import json
from datetime import datetime, timezone

import mock


def _emit(ok, desc, detail=None):
    print("%s - %s" % ("ok" if ok else "not ok", desc))
    if not ok and detail:
        print("# %s" % detail)
    return ok


def _reencode(token, edit):
    """Apply edit() to the decoded URL of token and return the re-encoded token."""
    for svc in mock.SERVICES.values():
        if token.startswith(svc["prefix"]):
            url = base64.b64decode(token[len(svc["prefix"]):]).decode("ascii")
            return svc["prefix"] + base64.b64encode(edit(url).encode("ascii")).decode("ascii")
    raise ValueError("no known prefix")


def _refusal(token, creds, now, service=None):
    """The refusal code, or None when the token is accepted."""
    try:
        mock.verify_token(token, creds, now, service)
    except mock.TokenError as e:
        return e.code, str(e)
    return None, ""


def _vector_checks(vec):
    inp = vec["inputs"]
    issued = datetime.strptime(inp["timestamp"], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc).timestamp()
    creds = {inp["access_key"]: (inp["secret_key"], inp["session_token"])}
    problems = []
    minted = mock.mint_token(inp["access_key"], inp["secret_key"], inp["session_token"], inp["region"],
                             inp["service"], inp["expires"], issued)
    mint_ok = minted == vec["token"]
    try:
        info = mock.verify_token(vec["token"], creds, issued, inp["service"])
        want = {"service": inp["service"], "region": inp["region"], "access_key": inp["access_key"],
                "expires": inp["expires"], "session_token": bool(inp["session_token"])}
        for k, v in want.items():
            if info[k] != v:
                problems.append("%s is %r, want %r" % (k, info[k], v))
        mock.verify_token(vec["token"], creds, issued + inp["expires"], inp["service"])
    except mock.TokenError as e:
        problems.append("refused (%s): %s" % (e.code, e))
    code, _ = _refusal(vec["token"], creds, issued + inp["expires"] + 1)
    if code != "expired_token":
        problems.append("one second after expiry: %s, want expired_token" % code)
    return mint_ok, problems, issued, creds


def _negatives(vec, issued, creds):
    """(description, token, creds, now, service, expected code) for one vector."""
    inp = vec["inputs"]
    tok = vec["token"]
    other = "bedrock" if inp["service"] == "sagemaker" else "sagemaker"

    def flip_sig(url):
        i = url.index("X-Amz-Signature=") + len("X-Amz-Signature=") + 7
        return url[:i] + ("0" if url[i] != "0" else "1") + url[i + 1:]

    ak = inp["access_key"]
    sk, st = creds[ak]
    cases = [
        ("flipped signature byte", _reencode(tok, flip_sig), creds, issued, None, "signature_mismatch"),
        ("wrong secret key", tok, {ak: (sk + "x", st)}, issued, None, "signature_mismatch"),
        ("expired (1 s past X-Amz-Date + X-Amz-Expires)", tok, creds, issued + inp["expires"] + 1, None,
         "expired_token"),
        ("not valid yet (1 s before X-Amz-Date)", tok, creds, issued - 1, None, "token_not_yet_valid"),
        ("bad base64: character outside the alphabet", tok[:-8] + "*" + tok[-7:], creds, issued, None,
         "bad_base64"),
        ("bad base64: length not a multiple of 4", tok[:-1], creds, issued, None, "bad_base64"),
        ("wrong prefix", "openai-api-key-" + tok.split("-api-key-", 1)[1], creds, issued, None,
         "wrong_prefix"),
        ("other service's prefix on this host", mock.SERVICES[other]["prefix"] + tok.split("-api-key-", 1)[1],
         creds, issued, None, "wrong_host"),
        ("token for the other service's endpoint", tok, creds, issued, other, "wrong_service"),
        ("unknown access key", tok, {"AKIDNOTTHEONE": (sk, st)}, issued, None, "unknown_access_key"),
        ("altered region (signature no longer matches)",
         _reencode(tok, lambda u: u.replace("%2F" + inp["region"] + "%2F", "%2Fxx-test-9%2F", 1)), creds, issued,
         None, "signature_mismatch"),
        ("reordered query parameters",
         _reencode(tok, lambda u: u.replace("Action=CallWithBearerToken&X-Amz-Algorithm=AWS4-HMAC-SHA256",
                                            "X-Amz-Algorithm=AWS4-HMAC-SHA256&Action=CallWithBearerToken", 1)),
         creds, issued, None, "malformed_token"),
        ("Version=2", _reencode(tok, lambda u: u[:-1] + "2"), creds, issued, None, "malformed_token"),
        ("lowercase percent-escape",
         _reencode(tok, lambda u: u.replace("%2F", "%2f", 1)), creds, issued, None, "malformed_token"),
        ("empty token", "", creds, issued, None, "wrong_prefix"),
    ]
    if st:
        cases.append(("session token the credentials do not have", tok, {ak: (sk, None)}, issued, None,
                      "invalid_session_token"))
        cases.append(("different session token", tok, {ak: (sk, st[:-2] + "AB")}, issued, None,
                      "invalid_session_token"))
    else:
        cases.append(("session token missing from the token", tok, {ak: (sk, "FwoGZXIvYXdzEXAMPLE")}, issued,
                      None, "invalid_session_token"))
    return cases


def run_selftest(path):
    with open(path, encoding="utf-8") as f:
        vectors = json.load(f)["vectors"]
    print("# %d vectors from %s" % (len(vectors), path))
    failed = 0
    picked = {}
    for vec in vectors:
        mint_ok, problems, issued, creds = _vector_checks(vec)
        failed += not _emit(not problems, "verify %s: accepted at X-Amz-Date and at expiry, refused 1 s later"
                            % vec["id"], "; ".join(problems))
        failed += not _emit(mint_ok, "mint %s: byte-exact token" % vec["id"])
        inp = vec["inputs"]
        kind = (inp["service"], bool(inp["session_token"]))
        picked.setdefault(kind, (vec, issued, creds))

    leaked = []
    for (service, has_st), (vec, issued, creds) in sorted(picked.items()):
        for desc, tok, cr, now, svc, want in _negatives(vec, issued, creds):
            code, msg = _refusal(tok, cr, now, svc)
            failed += not _emit(code == want, "refuse %s token%s: %s -> %s" % (
                service, " with session token" if has_st else "", desc, want), "got %s" % code)
            signature = vec["signature"]
            if tok and (tok in msg or signature in msg or vec["token"][20:60] in msg):
                leaked.append(desc)
    failed += not _emit(not leaked, "refusal messages never contain the token or its signature",
                        ", ".join(leaked))
    return 1 if failed else 0
