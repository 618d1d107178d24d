#!/usr/bin/env python3
"""make bench: the same token shapes as tests/bench/bench-mint, minted by botocore, for comparison.

Mints the way the SageMaker/Bedrock token generators do (a POST AWSRequest for
https://sagemaker.amazonaws.com/?Action=CallWithBearerToken, SigV4QueryAuth.add_auth, then
prefix + base64(url without "https://" + "&Version=1")), in this process, with botocore's own
clock: once without a session token and once with a 1.2 KB one.  Then a fresh python3 per token
(import botocore, mint one), which is what a script or credential helper that shells out pays.
Prints bench-mint's line layout (ns/token; divide by 1000 for microseconds).  No assertions on
speed.  Skips with a message when botocore is missing.  The credentials are made up.

    SMT_BENCH_BOTOCORE_MINTS=N   mints per in-process figure (default 20000)
"""

import base64
import os
import resource
import subprocess
import sys
import time

sys.dont_write_bytecode = True

AK = "ASIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ST_PATTERN = "IQoJb3JpZ2luX2VjEPr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+abc"  # as bench-mint.c
ST = (ST_PATTERN * (1200 // len(ST_PATTERN) + 1))[:1200]
REGION = "us-west-2"
LIFETIME = 43200
HOST = "sagemaker.amazonaws.com"
PREFIX = "sagemaker-api-key-"

MINT_SNIPPET = """
import base64
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
req = AWSRequest(method="POST", url="https://%(host)s/", headers={"host": "%(host)s"},
                 params={"Action": "CallWithBearerToken"})
SigV4QueryAuth(Credentials("%(ak)s", "%(sk)s"), "sagemaker", "%(region)s",
               expires=%(lifetime)d).add_auth(req)
tok = "%(prefix)s" + base64.b64encode((req.url.replace("https://", "") + "&Version=1")
                                      .encode("utf-8")).decode("utf-8")
assert tok.startswith("%(prefix)s")
""" % {"host": HOST, "ak": AK, "sk": SK, "region": REGION, "lifetime": LIFETIME, "prefix": PREFIX}


def report(what, mints, ns):
    print("%-48s %8d mints %10.1f ms %10.0f ns/token" % (what, mints, ns / 1e6, ns / mints),
          flush=True)


def main():
    try:
        import botocore
        from botocore.auth import SigV4QueryAuth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
    except ImportError:
        print("bench-botocore: skipped: botocore is not installed for %s" % sys.executable)
        return 0

    def mint(creds):
        req = AWSRequest(method="POST", url="https://%s/" % HOST, headers={"host": HOST},
                         params={"Action": "CallWithBearerToken"})
        SigV4QueryAuth(creds, "sagemaker", REGION, expires=LIFETIME).add_auth(req)
        body = req.url.replace("https://", "") + "&Version=1"
        return PREFIX + base64.b64encode(body.encode("utf-8")).decode("utf-8")

    try:
        mints = max(1000, int(os.environ.get("SMT_BENCH_BOTOCORE_MINTS", "20000")))
    except ValueError:
        mints = 20000
    print("botocore %s (%s), sagemaker, %s, lifetime 12h" % (botocore.__version__,
                                                             sys.executable, REGION))
    for what, creds in (("botocore in-process, no session token", Credentials(AK, SK)),
                        ("botocore in-process, 1.2 KB session token", Credentials(AK, SK, ST))):
        for _ in range(200):  # warm up
            mint(creds)
        total = 0
        t0 = time.monotonic_ns()
        for _ in range(mints):
            total += len(mint(creds))
        t1 = time.monotonic_ns()
        report(what, mints, t1 - t0)
        if total == 0:
            print("bench-botocore: no token minted", file=sys.stderr)
            return 1
    print("%-48s %8d KiB" % ("peak RSS (getrusage ru_maxrss)",
                             resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))

    # A fresh interpreter per token.  The child gets the snippet on stdin (not argv).
    runs = 5
    t0 = time.monotonic_ns()
    for _ in range(runs):
        subprocess.run([sys.executable, "-"], input=MINT_SNIPPET.encode(), check=True,
                       stdout=subprocess.DEVNULL)
    t1 = time.monotonic_ns()
    report("fresh python3 per token (import + mint)", runs, t1 - t0)
    print("%-48s %8d KiB" % ("peak RSS of one such python3",
                             resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
    return 0


if __name__ == "__main__":
    sys.exit(main())
