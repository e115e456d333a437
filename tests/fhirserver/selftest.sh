#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Self-test of the FHIR test server, with curl: TLS, transaction load of
# fhirgen bundles, idempotent reload, rollback, the stock Medplum transaction
# limits, the bundle-size cap, every auth mode, some faults.
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

# mkbundle TYPE N [cond] [PREFIX]: a Bundle of N PUTs of new Patients
# (PREFIX-0 ...), after one conditional create (ifNoneExist) with "cond".
mkbundle() {
    node -e '
const [type, n, cond, prefix] = process.argv.slice(1);
const entry = [];
if (cond === "cond") entry.push({ fullUrl: "urn:uuid:5f0c8a3e-2b1d-4c7e-9a60-0d3b7e1f0001",
  resource: { resourceType: "Organization", name: "Selftest", identifier: [{ system: "urn:selftest", value: "org-1" }] },
  request: { method: "POST", url: "Organization", ifNoneExist: "identifier=urn:selftest|org-1" } });
for (let i = 0; i < Number(n); i++) {
  const id = `${prefix}-${i}`;
  entry.push({ fullUrl: `urn:uuid:${id}`, resource: { resourceType: "Patient", id, gender: "female" },
    request: { method: "PUT", url: `Patient/${id}` } });
}
console.log(JSON.stringify({ resourceType: "Bundle", type, entry }));' "$1" "$2" "${3:-}" "${4:-p$2}"
}
# post FILE: POST a Bundle to the base, print the HTTP status; the answer is in $tmp/body.
post() { code POST / -H 'Content-Type: application/fhir+json' --data-binary @"$1"; }
# answer EXPECTED_STATUS TEXT FILE: POST FILE; the status must match and the
# answer be an OperationOutcome whose text holds TEXT.
answer() {
    st=$(post "$3")
    [ "$st" = "$1" ] || { echo "status $st, not $1: $(head -c 300 "$tmp/body")"; return 1; }
    json 'o.resourceType' < "$tmp/body" | grep -qx OperationOutcome || { echo "not an OperationOutcome"; return 1; }
    grep -q "$2" "$tmp/body" || { echo "no '$2' in $(head -c 300 "$tmp/body")"; return 1; }
}
# accepted TYPE N FILE: POST FILE; 200 with a TYPE-response of N entries, each 2xx.
accepted() {
    st=$(post "$3")
    [ "$st" = 200 ] || { echo "status $st: $(head -c 300 "$tmp/body")"; return 1; }
    got=$(json 'o.type+" "+o.entry.length+" "+o.entry.every(e=>/^2/.test(e.response.status))' < "$tmp/body")
    [ "$got" = "$1-response $2 true" ] || { echo "answer: $got"; return 1; }
}
stat() { $CURL "$URL/_admin/stats" | json "$1"; }

echo "== transactions: stock (Medplum's own transaction mode and limits)"
check "--transactions with an unknown mode is refused" sh -c "
    ! node $here/server.mjs --cert $C/server.pem --key $C/server.key --transactions bogus 2>$tmp/err &&
    grep -q 'serial, stock' $tmp/err"
start_server --transactions stock
check "/metadata still declares transaction and batch" \
    test "$($CURL "$URL/metadata" | json 'o.rest[0].interaction.map(i=>i.code).filter(c=>c==="transaction"||c==="batch").join()')" = transaction,batch
mkbundle transaction 51 > "$tmp/t51.json"
check "a transaction of 51 PUTs is 400: more update operations than allowed" \
    answer 400 "Transaction contains more update operations than allowed" "$tmp/t51.json"
check "... and stored nothing" test "$(count Patient)" = 0
mkbundle transaction 8 cond > "$tmp/c9.json"
check "a transaction of 9 entries with an ifNoneExist is 400: strict isolation" \
    answer 400 "Transaction requires strict isolation but has too many entries" "$tmp/c9.json"
mkbundle transaction 7 cond > "$tmp/c8.json"
check "the same with 8 entries is 200 transaction-response" accepted transaction 8 "$tmp/c8.json"
mkbundle transaction 50 > "$tmp/t50.json"
check "a transaction of 50 PUTs is 200 transaction-response" accepted transaction 50 "$tmp/t50.json"
mkbundle batch 60 > "$tmp/b60.json"
check "a batch of 60 PUTs is 200 batch-response, every entry 2xx" accepted batch 60 "$tmp/b60.json"
check "a fhirgen bundle as a transaction is 400 (more than 50 updates, or 9+ entries with an ifNoneExist)" \
    answer 400 "more update operations than allowed\\|strict isolation" "$1"
node -e '
const b = { resourceType: "Bundle", type: "transaction", entry: [] };
for (const [id, extra] of [["np-0", {}], ["np-1", {}], ["np-2", { notAnElement: true }]])
  b.entry.push({ fullUrl: `urn:uuid:${id}`, resource: { resourceType: "Patient", id, ...extra },
    request: { method: "PUT", url: `Patient/${id}` } });
console.log(JSON.stringify(b));' > "$tmp/partial.json"
patients=$(count Patient)
check "a transaction whose third PUT is invalid is 400" answer 400 OperationOutcome "$tmp/partial.json"
check "... and keeps its first two writes (the in-memory store cannot roll back)" \
    test "$(count Patient)" = $((patients + 2))
check "admin stats count the failed transactions, one of them partial" \
    test "$(stat '[o.transactions.mode, o.transactions.failed, o.transactions.partial].join()')" = stock,4,1

echo "== bundle-size cap (--max-bundle-entries 100)"
start_server --max-bundle-entries 100
mkbundle transaction 101 > "$tmp/t101.json"
mkbundle transaction 100 > "$tmp/t100.json"
mkbundle batch 101 > "$tmp/b101.json"
mkbundle batch 100 > "$tmp/b100.json"
check "a transaction of 101 entries is 413 naming the limit of 100" \
    answer 413 "Bundle has 101 entries; this server accepts at most 100 entries per bundle" "$tmp/t101.json"
check "... with issue severity error, code too-costly" \
    test "$(json 'o.issue[0].severity+" "+o.issue[0].code' < "$tmp/body")" = "error too-costly"
check "... and stored nothing" test "$(count Patient)" = 0
check "a transaction of 100 entries is 200 transaction-response" accepted transaction 100 "$tmp/t100.json"
check "a batch of 101 entries is 413" answer 413 "at most 100 entries" "$tmp/b101.json"
check "admin stats count 2 bundles refused for size" test "$(stat o.bundles.refusedForSize)" = 2
start_server --transactions stock --max-bundle-entries 100
check "stock mode: a batch of 101 entries is 413" answer 413 "at most 100 entries" "$tmp/b101.json"
check "stock mode: a batch of 100 entries is 200 batch-response" accepted batch 100 "$tmp/b100.json"
check "stock mode: a transaction of 101 PUTs meets the cap (413) before the update limit" \
    answer 413 "at most 100 entries" "$tmp/t101.json"

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
