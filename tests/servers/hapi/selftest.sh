#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Self-test of the HAPI FHIR test server, run inside run-with-hapi.sh:
#   run-with-hapi.sh [--db postgres|h2] [--max-bundle-entries N] -- selftest.sh [path/to/fhirgen]
# Checks TLS with HTTP/2, a transaction of a fhirgen Bundle posted with curl,
# the searches the tests use (_summary=count, patient=, _include, reading
# every reference target), an idempotent re-post, fhirgen push --verify, and
# with FHIR_TEST_MAX_BUNDLE_ENTRIES set the refusal of a larger Bundle.
# Exit 0 only when every check passes.
set -u
fhirgen=${1:-build/cli/fhirgen}
: "${FHIR_TEST_URL:?run this under run-with-hapi.sh}" "${FHIR_TEST_CA:?}"
[ -x "$fhirgen" ] || { echo "fhirgen binary not found at $fhirgen (build it, or pass its path)"; exit 1; }
url=$FHIR_TEST_URL
ca=$FHIR_TEST_CA

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
fails=0
passes=0
ok() { passes=$((passes + 1)); echo "  ok   $1"; }
bad() { fails=$((fails + 1)); echo "  FAIL $1"; }
check() { # description, then a command that must succeed
    d=$1; shift
    if "$@" > "$tmp/last" 2>&1; then ok "$d"; else bad "$d"; sed 's/^/       /' "$tmp/last" | head -8; fi
}
get() { curl -sS --fail-with-body --cacert "$ca" -H 'Accept: application/fhir+json' "$url/$1"; }
json() { # python expression over the JSON document j read from standard input
    python3 -c "import json, sys; j = json.load(sys.stdin); print($1)"
}
total() { get "$1" | json 'j["total"]'; }

"$fhirgen" generate -n 2 --seed 7 -o "$tmp/gen" > /dev/null 2>&1 || { echo "fhirgen generate failed"; exit 1; }
b1=$(ls "$tmp"/gen/bundles/*.json | sed -n 1p)
b2=$(ls "$tmp"/gen/bundles/*.json | sed -n 2p)
pid=$(json '[e["resource"]["id"] for e in j["entry"] if e["resource"]["resourceType"] == "Patient"][0]' < "$b1")
nobs=$(json 'sum(1 for e in j["entry"] if e["resource"]["resourceType"] == "Observation")' < "$b1")
nent=$(json 'len(j["entry"])' < "$b1")

echo "server $url"
h2_metadata() {
    v=$(curl -sS --http2 --cacert "$ca" -o "$tmp/meta.json" -w '%{http_version} %{http_code}' "$url/metadata")
    [ "$v" = "2 200" ] || { echo "got HTTP version and status: $v"; return 1; }
    json 'j["fhirVersion"]' < "$tmp/meta.json" | grep -qx '4.0.1'
}
check "metadata over TLS answers 200 on HTTP/2, FHIR 4.0.1" h2_metadata

# Under --max-bundle-entries N: a transaction of more than N entries is
# refused with 413 and an OperationOutcome, a small one is accepted.
if [ -n "${FHIR_TEST_MAX_BUNDLE_ENTRIES:-}" ]; then
    max=$FHIR_TEST_MAX_BUNDLE_ENTRIES
    post_code() { # file -> HTTP status; body in $tmp/limit.json
        curl -sS --http2 --cacert "$ca" -H 'Content-Type: application/fhir+json' \
            --data-binary @"$1" "$url" -o "$tmp/limit.json" -w '%{http_code}'
    }
    over_ok() {
        [ "$nent" -gt "$max" ] || { echo "the test Bundle has only $nent entries; use N < $nent"; return 1; }
        code=$(post_code "$b1")
        [ "$code" = 413 ] || { echo "HTTP $code"; head -c 600 "$tmp/limit.json"; return 1; }
        json 'j["resourceType"] == "OperationOutcome"' < "$tmp/limit.json" | grep -qx True
        json 'j["issue"][0]["diagnostics"]' < "$tmp/limit.json"
    }
    check "a transaction of $nent entries (over $max) is refused: 413 with an OperationOutcome" over_ok
    under_ok() {
        python3 - "$b1" > "$tmp/small.json" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))
b["entry"] = [e for e in b["entry"] if e["resource"]["resourceType"] == "Organization"][:1]
print(json.dumps(b))
PY
        code=$(post_code "$tmp/small.json")
        [ "$code" = 200 ] || { echo "HTTP $code"; head -c 600 "$tmp/limit.json"; return 1; }
    }
    check "a transaction of 1 entry is accepted" under_ok
    echo "$passes passed, $fails failed"
    [ "$fails" -eq 0 ]
    exit
fi

post_bundle() { # file -> response in $tmp/resp.json; prints status line
    curl -sS --http2 -v --cacert "$ca" -H 'Content-Type: application/fhir+json' \
        --data-binary @"$1" "$url" -o "$tmp/resp.json" 2> "$tmp/curl.err"
    grep -q '^< HTTP/2 200' "$tmp/curl.err" || { grep '^< HTTP' "$tmp/curl.err"; head -c 2000 "$tmp/resp.json"; return 1; }
}
tx_ok() {
    post_bundle "$b1" || return 1
    json 'j["type"] == "transaction-response" and len(j["entry"]) == '"$nent"' and all(e["response"]["status"][:3] in ("200", "201") for e in j["entry"])' \
        < "$tmp/resp.json" | grep -qx True
}
check "transaction of $nent entries posted with curl: HTTP/2 200, every entry 200/201" tx_ok
cp "$tmp/resp.json" "$tmp/resp1.json"

count_is() { # expected query
    n=$(total "$2") || return 1
    [ "$n" = "$1" ] || { echo "$2: total $n, expected $1"; return 1; }
}
check "Patient?_summary=count is 1" count_is 1 'Patient?_summary=count'
check "Observation?patient=$pid&_summary=count is $nobs" count_is "$nobs" "Observation?patient=$pid&_summary=count"

include_ok() {
    get "Encounter?patient=$pid&_include=Encounter:subject&_count=5" |
        json 'any(e.get("search", {}).get("mode") == "include" and e["resource"]["resourceType"] == "Patient" for e in j["entry"])' |
        grep -qx True
}
check "Encounter?patient=...&_include=Encounter:subject includes the Patient" include_ok

# Every reference in the posted Bundle, rewritten as the server stored it,
# must resolve: read each target once.
refs_ok() {
    python3 - "$b1" "$tmp/resp1.json" > "$tmp/refs" <<'PY' || return 1
import json, sys
bundle = json.load(open(sys.argv[1]))
resp = json.load(open(sys.argv[2]))
local = {}
for e, r in zip(bundle["entry"], resp["entry"]):
    loc = r["response"]["location"].split("/_history")[0]
    local[e["fullUrl"]] = "/".join(loc.split("/")[-2:])
refs = set()
def walk(x):
    if isinstance(x, dict):
        ref = x.get("reference")
        if isinstance(ref, str):
            refs.add(local.get(ref, ref))
        for v in x.values():
            walk(v)
    elif isinstance(x, list):
        for v in x:
            walk(v)
for e in bundle["entry"]:
    walk(e["resource"])
for r in sorted(refs):
    print(r)
PY
    n=0
    while IFS= read -r ref; do
        get "$ref" > /dev/null || { echo "reading $ref failed"; return 1; }
        n=$((n + 1))
    done < "$tmp/refs"
    echo "$n targets read"
    [ "$n" -gt 0 ]
}
check "every reference target of the Bundle reads back" refs_ok

repost_ok() {
    post_bundle "$b1" || return 1
    count_is 1 'Patient?_summary=count' && count_is "$nobs" "Observation?patient=$pid&_summary=count" &&
        count_is "$(json 'sum(1 for e in j["entry"] if e["resource"]["resourceType"] == "Organization")' < "$b1")" \
            'Organization?_summary=count'
}
check "the same Bundle again: 200, nothing duplicated (PUT updates, ifNoneExist matches)" repost_ok

push_ok() {
    "$fhirgen" push --server "$url" --cacert "$ca" --no-journal --verify "$b2" > "$tmp/push.out" 2>&1 || {
        cat "$tmp/push.out"; return 1; }
    grep -q '1 landed' "$tmp/push.out" && grep -q ' 0 differences' "$tmp/push.out" || { cat "$tmp/push.out"; return 1; }
}
check "fhirgen push --verify of a second patient: landed, 0 differences" push_ok

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
