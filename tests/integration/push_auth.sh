#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# fhirgen push authentication against the FHIR test server (tests/fhirserver):
# OAuth2 client credentials, SMART Backend Services (RS384 and ES384 client
# assertions, token endpoint discovered) and mutual TLS are each accepted with
# the right credentials and refused with wrong ones, with a clear message that
# never shows a secret; a token that expires mid-run is refreshed.
#   usage: push_auth.sh FHIRGEN REFCHECK
. "$(dirname "$0")/common.sh"
SERVER="$ROOT/tests/fhirserver"
command -v node >/dev/null || skip "node is not installed"
command -v curl >/dev/null || skip "curl is not installed"
command -v openssl >/dev/null || skip "openssl is not installed"
[ -d "$SERVER/node_modules/@medplum/fhir-router" ] || skip "run 'npm ci' in tests/fhirserver first"
N=${PUSH_AUTH_PATIENTS:-8}

generate "$WORK/cohort" -n "$N" --seed 4141 --end-date 2026-01-01 --quiet
"$SERVER/make-certs.sh" "$WORK/certs" >/dev/null || fail "make-certs.sh failed"
# A P-384 key the server's JWKS does not hold, to sign with under a known kid.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$WORK/rogue-ec.key" \
    2>/dev/null || fail "openssl cannot make an EC P-384 key"
SECRET=Kx9-right-client-secret-7Qp
WRONG=Zt4-not-the-secret-8Lm
printf '%s\n' "$SECRET" >"$WORK/secret"
export WORK FHIRGEN SECRET WRONG N

# Helpers for the checks, which run inside run-with-server.sh (FHIR_TEST_URL,
# FHIR_TEST_CA, FHIR_TEST_CERTS set); each prints "ok: ..." or "FAIL: ...".
cat >"$WORK/lib.sh" <<'SH'
set -u
ONE="$WORK/cohort/bundles/$(ls "$WORK/cohort/bundles" | head -1)"
# push NAME ARGS...: push with ARGS, stderr in $WORK/NAME.err, exit status returned.
push() {
    name=$1
    shift
    "$FHIRGEN" push --server "$FHIR_TEST_URL" --cacert "$FHIR_TEST_CA" -q --no-journal \
        --max-attempts 2 "$@" 2>"$WORK/$name.err"
}
# accepted NAME WHAT ARGS...: the push must land everything.
accepted() {
    name=$1 what=$2
    shift 2
    push "$name" "$@" || { echo "FAIL: $what was refused: $(cat "$WORK/$name.err")"; exit 1; }
    no_secret "$name"
    echo "ok: $what accepted"
}
# refused NAME WHAT PATTERN ARGS...: the push must fail, stderr matching PATTERN.
refused() {
    name=$1 what=$2 pattern=$3
    shift 3
    if push "$name" "$@"; then echo "FAIL: $what was accepted"; exit 1; fi
    grep -Eq "$pattern" "$WORK/$name.err" ||
        { echo "FAIL: $what: no message matching '$pattern': $(cat "$WORK/$name.err")"; exit 1; }
    no_secret "$name"
    echo "ok: $what refused: $(grep -Em1 "$pattern" "$WORK/$name.err")"
}
no_secret() {
    for s in "$SECRET" "$WRONG" "BEGIN PRIVATE" "client_assertion="; do
        if grep -q -- "$s" "$WORK/$1.err"; then echo "FAIL: $1: a secret shows in the output"; exit 1; fi
    done
}
stat_of() { # the server's /_admin/stats field
    curl -sf --cacert "$FHIR_TEST_CA" --cert "$FHIR_TEST_CERTS/client.pem" \
        --key "$FHIR_TEST_CERTS/client.key" "$FHIR_TEST_URL/_admin/stats" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}
SH

cat >"$WORK/client-credentials.sh" <<'SH'
. "$WORK/lib.sh"
CC="--auth client-credentials --token-url $FHIR_TEST_URL/token --client-id fhirgen-test"
accepted cc-file "client credentials, secret from a file" $CC --client-secret-file "$WORK/secret" "$ONE"
FHIR_CLIENT_SECRET=$SECRET accepted cc-env "client credentials, secret from FHIR_CLIENT_SECRET" $CC "$ONE"
FHIR_CLIENT_SECRET=$WRONG refused cc-wrong "client credentials with a wrong secret" \
    "401.*refused the client credentials" $CC "$ONE"
refused cc-id "client credentials with a wrong client id" "401" \
    --auth client-credentials --token-url "$FHIR_TEST_URL/token" --client-id someone-else \
    --client-secret-file "$WORK/secret" "$ONE"
FHIR_BEARER_TOKEN=made-up-token refused cc-bearer "a made-up bearer token" "401" "$ONE"
SH

cat >"$WORK/smart.sh" <<'SH'
. "$WORK/lib.sh"
SM="--auth smart --client-id fhirgen-test"
accepted smart-ec "SMART ES384 (token endpoint discovered)" $SM --key "$FHIR_TEST_CERTS/smart-ec.key" \
    --kid smart-ec "$ONE"
accepted smart-rsa "SMART RS384 (token endpoint discovered)" $SM \
    --jwt-key "$FHIR_TEST_CERTS/smart-rsa.key" --kid smart-rsa --alg RS384 "$ONE"
accepted smart-url "SMART ES384 with --token-url and --scope" $SM \
    --key "$FHIR_TEST_CERTS/smart-ec.key" --kid smart-ec --token-url "$FHIR_TEST_URL/token" \
    --scope "system/*.cu system/*.rs" "$ONE"
refused smart-rogue "SMART assertion signed by a key not in the JWKS" \
    "401.*signature does not verify" $SM --key "$WORK/rogue-ec.key" --kid smart-ec "$ONE"
refused smart-kid "SMART assertion with an unknown kid" "401.*not in the registered JWKS" \
    $SM --key "$FHIR_TEST_CERTS/smart-ec.key" --kid nobody "$ONE"
refused smart-alg "SMART --alg that does not fit the key" "does not fit the key" \
    $SM --key "$FHIR_TEST_CERTS/smart-ec.key" --kid smart-ec --alg RS384 "$ONE"
refused smart-cert "a certificate given as the SMART key" "not a PEM private key" \
    $SM --key "$FHIR_TEST_CERTS/client.pem" --kid smart-ec "$ONE"
SH

cat >"$WORK/mtls.sh" <<'SH'
. "$WORK/lib.sh"
refused mtls-none "mutual TLS without a client certificate" "[Cc]ertificate|SSL|TLS|handshake|alert" \
    "$ONE"
# TLS 1.3 checks the client certificate after the handshake: the server just
# closes the connection, and curl can only say that nothing came back or that
# the connection was reset, depending on timing.
refused mtls-wrong "mutual TLS with a certificate the CA did not sign" \
    "[Cc]ertificate|SSL|TLS|alert|Empty reply|reset by peer" \
    --auth mtls --cert "$FHIR_TEST_CERTS/untrusted-server.pem" \
    --key "$FHIR_TEST_CERTS/untrusted-server.key" "$ONE"
accepted mtls "mutual TLS with the client certificate" --auth mtls \
    --cert "$FHIR_TEST_CERTS/client.pem" --key "$FHIR_TEST_CERTS/client.key" "$ONE"
SH

# The token lives 2 s; each answer takes 0.5 s, one bundle at a time: the run
# outlasts several tokens and every bundle must still land.
cat >"$WORK/refresh.sh" <<'SH'
. "$WORK/lib.sh"
if [ "$1" = smart ]; then
    set -- --auth smart --client-id fhirgen-test --key "$FHIR_TEST_CERTS/smart-ec.key" --kid smart-ec
else
    set -- --auth client-credentials --token-url "$FHIR_TEST_URL/token" --client-id fhirgen-test \
        --client-secret-file "$WORK/secret"
fi
before=$(stat_of tokensIssued)
push refresh "$@" -j 1 --summary-json "$WORK/refresh.json" "$WORK/cohort/bundles" ||
    { echo "FAIL: push with an expiring token: $(cat "$WORK/refresh.err")"; exit 1; }
no_secret refresh
issued=$(( $(stat_of tokensIssued) - before ))
landed=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bundles_landed"])' "$WORK/refresh.json")
secs=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seconds"])' "$WORK/refresh.json")
[ "$landed" = "$N" ] || { echo "FAIL: $landed of $N bundles landed"; exit 1; }
[ "$issued" -ge 2 ] || { echo "FAIL: one token served a ${secs}s run with 2 s tokens"; exit 1; }
echo "ok: $N bundles over ${secs}s with 2 s tokens: $issued tokens fetched"
SH

RUN_TIMEOUT=600
run "auth: OAuth2 client credentials" --auth client-credentials --client-secret "$SECRET" \
    -- bash "$WORK/client-credentials.sh"
run "auth: SMART Backend Services" --auth smart --jwks "$WORK/certs/jwks.json" -- bash "$WORK/smart.sh"
run "auth: mutual TLS" --auth mtls -- bash "$WORK/mtls.sh"
run "auth: client-credentials token refreshed mid-run" --auth client-credentials \
    --client-secret "$SECRET" --token-lifetime 2 --delay-ms 500 -- bash "$WORK/refresh.sh" cc
run "auth: SMART token refreshed mid-run" --auth smart --jwks "$WORK/certs/jwks.json" \
    --token-lifetime 2 --delay-ms 500 -- bash "$WORK/refresh.sh" smart
say "ok"
