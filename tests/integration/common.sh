# SPDX-License-Identifier: Apache-2.0
# Shared by the cohort integration tests; sourced, not run.
# Arguments of every script: FHIRGEN REFCHECK (paths of the built programs).

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SHARED="$ROOT/../shared"
FHIRGEN=${1:-}
REFCHECK=${2:-}
NAME=$(basename "$0" .sh)
# refs_resolve.sh WHAT TYPE...: run inside a server runner (see that script)
REFS_RESOLVE="$ROOT/tests/integration/refs_resolve.sh"
export REFS_RESOLVE

say() { printf '%s: %s\n' "$NAME" "$*"; }
fail() { printf '%s: FAIL: %s\n' "$NAME" "$*" >&2; exit 1; }
skip() { printf '%s: SKIP: %s\n' "$NAME" "$*"; exit 77; }

[ -n "$FHIRGEN" ] && [ -x "$FHIRGEN" ] || skip "no fhirgen program given (is the CLI built?)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fhirgen-$NAME.XXXXXX") || fail "cannot make a scratch folder"
trap 'rm -rf "$WORK"' EXIT INT TERM

# generate OUT ARGS...: run fhirgen generate into OUT, failing with its output.
generate() {
    out=$1
    shift
    if ! "$FHIRGEN" generate --out "$out" "$@" >"$WORK/generate.log" 2>&1; then
        cat "$WORK/generate.log" >&2
        fail "fhirgen generate --out $out $* failed"
    fi
}

# push_setup SEED: what the push tests share. Skips without the FHIR test
# server's prerequisites; makes a cohort of $N patients in $WORK/cohort and
# certificates in $WORK/certs; writes $WORK/expected, "Type=N ..." that the
# server must hold after loading the cohort (one resource per PUT id, one per
# distinct ifNoneExist), and $WORK/lib.sh, sourced by the checks that run
# inside tests/fhirserver/run-with-server.sh: counts() gives the same
# figures from the server's own search, same_set NAME fails unless they
# match, push ARGS runs fhirgen push against the server.
push_setup() {
    SERVER="$ROOT/tests/fhirserver"
    command -v node >/dev/null || skip "node is not installed"
    command -v curl >/dev/null || skip "curl is not installed"
    [ -d "$SERVER/node_modules/@medplum/fhir-router" ] || skip "run 'npm ci' in tests/fhirserver first"
    generate "$WORK/cohort" -n "$N" --seed "$1" --end-date 2026-01-01 --quiet
    "$SERVER/make-certs.sh" "$WORK/certs" >/dev/null || fail "make-certs.sh failed"
    python3 - "$WORK/cohort/bundles" >"$WORK/expected" <<'PY' || fail "cannot read the bundles"
import collections, glob, json, sys
ids = collections.defaultdict(set)
for f in sorted(glob.glob(sys.argv[1] + "/*.json")):
    for e in json.load(open(f))["entry"]:
        r, q = e["resource"], e["request"]
        ids[r["resourceType"]].add(q.get("ifNoneExist") or q["url"])
print(" ".join(f"{t}={len(v)}" for t, v in sorted(ids.items())))
PY
    TYPES=$(tr ' ' '\n' <"$WORK/expected" | cut -d= -f1 | tr '\n' ' ')
    export TYPES WORK FHIRGEN N
    cat >"$WORK/lib.sh" <<'SH'
set -u
counts() {
    for t in $TYPES; do
        n=$(curl -sf --retry 20 --retry-delay 1 --retry-all-errors --cacert "$FHIR_TEST_CA" \
              "$FHIR_TEST_URL/$t?_summary=count" |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])') || n=ERR
        printf '%s=%s ' "$t" "$n"
    done | sed 's/ $//'
}
push() { "$FHIRGEN" push --server "$FHIR_TEST_URL" --cacert "$FHIR_TEST_CA" -q "$@"; }
same_set() {
    got=$(counts)
    [ "$got" = "$(cat "$WORK/expected")" ] ||
        { echo "FAIL: $1: the server holds '$got', the bundles make '$(cat "$WORK/expected")'"; exit 1; }
}
SH
}

# run TITLE [server options] -- COMMAND...: start the FHIR test server with
# $WORK/certs, run COMMAND inside it, show its output indented, and fail the
# test with the first FAIL line when it does not succeed. RUN_TIMEOUT
# (seconds, default 900) bounds each run.
run() {
    say "$1"
    shift
    FHIR_TEST_TIMEOUT=${RUN_TIMEOUT:-900} "$SERVER/run-with-server.sh" --certs "$WORK/certs" "$@" \
        >"$WORK/run.log" 2>&1
    rc=$?
    sed 's/^/  /' "$WORK/run.log"
    [ "$rc" -eq 0 ] || fail "$(grep -m1 FAIL "$WORK/run.log" || echo "exit $rc")"
}
