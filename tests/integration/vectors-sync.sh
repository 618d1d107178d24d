#!/bin/sh
# tests/vectors/token-vectors.json is a copy of ../shared/token-vectors.json (the project must build
# and test without ../shared, e.g. from a release tarball).  Where ../shared is there, the copy must
# be byte for byte the same; elsewhere this skips and says so.
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
shared=$top_srcdir/../shared/token-vectors.json
copy=$top_srcdir/tests/vectors/token-vectors.json
if [ ! -f "$shared" ]; then
    echo "1..0 # SKIP no $shared beside the project (release tarball?): nothing to compare"
    exit 0
fi
echo "1..1"
if cmp -s "$shared" "$copy"; then
    echo "ok 1 - tests/vectors/token-vectors.json is the same as ../shared/token-vectors.json"
else
    echo "not ok 1 - tests/vectors/token-vectors.json differs from ../shared/token-vectors.json"
    echo "# copy it: cp $shared $copy"
fi
