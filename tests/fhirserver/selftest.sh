#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Self-test of the FHIR test server, with curl: TLS, transaction load of
# fhirgen bundles, idempotent reload, rollback, every auth mode, some faults.
# Usage: selftest.sh [path/to/fhirgen]   (default build/cli/fhirgen)
# Exit 0 only when every check passes; 77 when node or npm packages are missing.
set -u
here=$(cd "$(dirname "$0")" && pwd)
fhirgen=${1:-build/cli/fhirgen}
command -v node >/dev/null || { echo "skip: node not installed"; exit 77; }
command -v curl >/dev/null || { echo "skip: curl not installed"; exit 77; }
[ -d "$here/node_modules/@medplum/fhir-router" ] || { echo "skip: run 'npm ci' in tests/fhirserver first"; exit 77; }
[ -x "$fhirgen" ] || { echo "fhirgen binary not found at $fhirgen (build it, or pass its path)"; exit 1; }

tmp=$(mktemp -d)
pid=
fails=0
passes=0
stop_server() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=; fi
}
trap 'stop_server; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

ok() { passes=$((passes + 1)); echo "  ok   $1"; }
bad() { fails=$((fails + 1)); echo "  FAIL $1"; }
check() { # description, then a command that must succeed
    d=$1; shift
    if "$@" > "$tmp/last" 2>&1; then ok "$d"; else bad "$d"; sed 's/^/       /' "$tmp/last" | head -5; fi
}
# json EXPR < file: print a JavaScript expression over the parsed input `o`.
json() { node -e 'const o=JSON.parse(require("fs").readFileSync(0,"utf8"));console.log(eval(process.argv[1]))' "$1"; }

C=$tmp/certs
CURL="curl -sS --max-time 60 --cacert $C/ca.pem"

start_server() { # server options...
    stop_server
    : > "$tmp/server.out"
    timeout 600 node "$here/server.mjs" --cert "$C/server.pem" --key "$C/server.key" --ca "$C/ca.pem" \
        "$@" > "$tmp/server.out" 2> "$tmp/server.err" &
    pid=$!
    i=0
    URL=
    while [ $i -lt 300 ]; do
        URL=$(sed -n '1s/^listening //p' "$tmp/server.out")
        [ -n "$URL" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1; i=$((i + 1))
    done
    if [ -z "$URL" ]; then echo "server did not start:"; cat "$tmp/server.err"; exit 1; fi
}

# code METHOD PATH [curl args]: print the HTTP status.
code() { m=$1; p=$2; shift 2; $CURL -o "$tmp/body" -w '%{http_code}' -X "$m" "$@" "$URL$p" 2>/dev/null; }
count() { t=$1; shift; $CURL "$URL/$t?_summary=count" "$@" | json o.total; }
counts_all() { for t in $types; do printf '%s=%s ' "$t" "$(count "$t" "$@")"; done; }

echo "== certificates and bundles"
check "make-certs.sh makes CA, server, client, untrusted and SMART keys" "$here/make-certs.sh" "$C"
check "fhirgen generate -n 2 --seed 1 writes transaction bundles" \
    "$fhirgen" generate -n 2 --seed 1 --end-date 2026-01-01 -o "$tmp/out"
set -- "$tmp"/out/bundles/*.json
[ -f "$1" ] || { echo "no bundles written"; exit 1; }
# Expected distinct resources per type: PUT ids, plus distinct conditional creates.
cat "$@" | node -e '
const fs = require("fs");
const text = fs.readFileSync(0, "utf8").replace(/}\s*{/g, "}\n\x00{").split("\n\x00");
const seen = {};
for (const t of text) for (const e of JSON.parse(t).entry) {
  const type = e.resource.resourceType;
  (seen[type] ??= new Set()).add(e.request.method === "PUT" ? e.request.url : e.request.ifNoneExist);
}
console.log(Object.entries(seen).map(([t, s]) => t + "=" + s.size).join(" ") + " ");
' > "$tmp/expected"
types=$(sed 's/=[0-9]*//g' "$tmp/expected")
echo "  expected: $(cat "$tmp/expected")"

echo "== TLS and metadata (auth none)"
start_server --auth none
check "GET /metadata over TLS verified with the test CA is 200" test "$(code GET /metadata)" = 200
check "CapabilityStatement has fhirVersion 4.0.1 and declares transaction" \
    test "$(json 'o.resourceType+" "+o.fhirVersion+" "+o.rest[0].interaction.some(i=>i.code==="transaction")' < "$tmp/body")" = "CapabilityStatement 4.0.1 true"
check "a client trusting only the other CA refuses the server" \
    sh -c "! curl -s --max-time 10 --cacert $C/untrusted-ca.pem $URL/metadata"
check "server answers on 127.0.0.1 only (name localhost is in the certificate too)" \
    sh -c "curl -sf --max-time 10 --cacert $C/ca.pem $(echo "$URL" | sed 's/127.0.0.1/localhost/')/metadata -o /dev/null"

echo "== load the bundles"
for b in "$@"; do
    check "POST $(basename "$b") as a transaction is 200 transaction-response" sh -c "
        test \"\$($CURL -o $tmp/resp -w '%{http_code}' -H 'Content-Type: application/fhir+json' --data-binary @$b $URL/)\" = 200 &&
        node -e 'process.exit(JSON.parse(require(\"fs\").readFileSync(\"$tmp/resp\")).type===\"transaction-response\"?0:1)'"
done
got=$(counts_all)
check "search counts by type match the bundles ($got)" test "$got" = "$(cat "$tmp/expected")"
for b in "$@"; do
    check "POST $(basename "$b") again is 200" test "$(code POST / -H 'Content-Type: application/fhir+json' --data-binary @"$b")" = 200
done
got=$(counts_all)
check "second load duplicated nothing ($got)" test "$got" = "$(cat "$tmp/expected")"

echo "== validation and rollback"
node -e '
const b = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
b.entry = b.entry.filter((e) => e.request.method === "PUT").slice(0, 3);
b.entry[0].resource.id = b.entry[0].resource.id.replace(/^./, "f");
b.entry[0].request.url = "Patient/" + b.entry[0].resource.id;
b.entry[0].fullUrl = "urn:uuid:" + b.entry[0].resource.id;
b.entry[2].resource.notAnElement = true;
process.stdout.write(JSON.stringify(b));
' "$1" > "$tmp/invalid.json"
patients=$(count Patient)
check "a transaction with an invalid resource is 400 with an OperationOutcome" sh -c "
    test \"\$($CURL -o $tmp/resp -w '%{http_code}' -H 'Content-Type: application/fhir+json' --data-binary @$tmp/invalid.json $URL/)\" = 400 &&
    grep -q OperationOutcome $tmp/resp"
check "its valid new Patient was rolled back" test "$(count Patient)" = "$patients"
check "PUT of an invalid Patient is 400" test "$(code PUT /Patient/x1 -H 'Content-Type: application/fhir+json' -d '{"resourceType":"Patient","id":"x1","gender":7}')" = 400
check "non-JSON body is 400" test "$(code POST / -H 'Content-Type: application/fhir+json' -d 'not json')" = 400

echo "== auth: bearer"
start_server --auth bearer --bearer-token s3cret-token
check "no token is 401" test "$(code GET /Patient)" = 401
check "wrong token is 401" test "$(code GET /Patient -H 'Authorization: Bearer nope')" = 401
check "right token is 200" test "$(code GET /Patient -H 'Authorization: Bearer s3cret-token')" = 200
check "/metadata needs no token" test "$(code GET /metadata)" = 200

echo "== auth: client-credentials (token lifetime 2 s)"
start_server --auth client-credentials --client-id fg-client --client-secret fg-secret --token-lifetime 2
check "smart-configuration names the token endpoint" \
    sh -c "$CURL $URL/.well-known/smart-configuration | grep -q '\"token_endpoint\":\"$URL/token\"'"
check "wrong secret is 401 invalid_client" test "$(code POST /token -d grant_type=client_credentials -d client_id=fg-client -d client_secret=bad)" = 401
check "right secret (client_secret_post) gets a token" test "$(code POST /token -d grant_type=client_credentials -d client_id=fg-client -d client_secret=fg-secret)" = 200
tok=$(json o.access_token < "$tmp/body")
check "right secret (client_secret_basic) gets a token" test "$(code POST /token -u fg-client:fg-secret -d grant_type=client_credentials)" = 200
check "the token opens /Patient" test "$(code GET /Patient -H "Authorization: Bearer $tok")" = 200
check "no token is 401" test "$(code GET /Patient)" = 401
sleep 2.5
check "the token is refused once expired" test "$(code GET /Patient -H "Authorization: Bearer $tok")" = 401

echo "== auth: SMART Backend Services"
start_server --auth smart --client-id fg-smart --jwks "$C/jwks.json"
aud=$URL/token
jwt() { node "$here/jwt.mjs" --iss fg-smart --aud "$aud" "$@"; }
tokreq() { code POST /token -d grant_type=client_credentials -d scope=system/*.cruds \
    -d client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer -d "client_assertion=$1"; }
a=$(jwt --key "$C/smart-rsa.key" --kid smart-rsa --alg RS384 --jti fixed-1)
check "RS384 assertion gets a token" test "$(tokreq "$a")" = 200
tok=$(json o.access_token < "$tmp/body")
check "the token opens /Patient" test "$(code GET /Patient -H "Authorization: Bearer $tok")" = 200
check "the same jti again is 401" test "$(tokreq "$a")" = 401
check "ES384 assertion gets a token" test "$(tokreq "$(jwt --key "$C/smart-ec.key" --kid smart-ec --alg ES384)")" = 200
check "wrong aud is 401" test "$(tokreq "$(aud=https://elsewhere/token jwt --key "$C/smart-ec.key" --kid smart-ec --alg ES384)")" = 401
check "expired assertion is 401" test "$(tokreq "$(jwt --key "$C/smart-ec.key" --kid smart-ec --alg ES384 --exp-in -10)")" = 401
check "key not in the JWKS (signed with the CA key) is 401" test "$(tokreq "$(jwt --key "$C/ca.key" --kid smart-rsa --alg RS384)")" = 401
check "unknown kid is 401" test "$(tokreq "$(jwt --key "$C/smart-rsa.key" --kid other --alg RS384)")" = 401
check "wrong client id (iss) is 401" test "$(tokreq "$(node "$here/jwt.mjs" --iss someone --aud "$aud" --key "$C/smart-rsa.key" --kid smart-rsa --alg RS384)")" = 401

echo "== auth: mutual TLS"
start_server --auth mtls
check "client certificate signed by the CA is 200" test "$(code GET /Patient --cert "$C/client.pem" --key "$C/client.key")" = 200
check "no client certificate is refused" sh -c "! $CURL -o /dev/null $URL/Patient"
check "client certificate from the untrusted CA is refused" \
    sh -c "! $CURL -o /dev/null --cert $C/untrusted-server.pem --key $C/untrusted-server.key $URL/Patient"

echo "== faults"
start_server --fault-429 1 --retry-after 3
check "429 with Retry-After: 3" sh -c "$CURL -o /dev/null -D - $URL/Patient | grep -qi '^retry-after: 3'"
start_server --fault-drop-after 1
check "drop-after: no answer (curl fails)" sh -c "! $CURL -o /dev/null -H 'Content-Type: application/fhir+json' --data-binary @$1 $URL/"
check "... but the transaction was applied (admin stats: 1 Patient)" \
    sh -c "$CURL $URL/_admin/stats | grep -q '\"Patient\":1,'"
start_server --bad-answer r5
check "bad answer r5: /metadata says fhirVersion 5.0.0" sh -c "$CURL $URL/metadata | grep -q '\"fhirVersion\":\"5.0.0\"'"
start_server --bad-answer redirect-http
check "bad answer redirect-http: 307 to http://" sh -c "$CURL -o /dev/null -D - $URL/metadata | grep -qi '^location: http://127.0.0.1'"
stop_server

echo "== $passes passed, $fails failed"
[ "$fails" -eq 0 ]
