#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# fhirgen push against the FHIR test server (tests/fhirserver: Medplum's
# FHIR engine over HTTPS on 127.0.0.1): every resource lands exactly once,
# pushing again adds nothing, injected faults are retried to the same end
# state, an untrusted certificate and a wrong token are refused.
#   usage: push.sh FHIRGEN REFCHECK
. "$(dirname "$0")/common.sh"
N=${PUSH_PATIENTS:-200}
push_setup 4040

cat >"$WORK/exactly-once.sh" <<'SH'
set -u
. "$WORK/lib.sh"
"$FHIRGEN" push --server "$FHIR_TEST_URL" --cacert "$FHIR_TEST_CA" -q -j 4 \
    --journal "$WORK/journal1" --summary-json "$WORK/push1.json" "$WORK/cohort/bundles" ||
    { echo "FAIL: push exited $?"; exit 1; }
got=$(counts)
[ "$got" = "$(cat "$WORK/expected")" ] ||
    { echo "FAIL: server holds '$got', bundles make '$(cat "$WORK/expected")'"; exit 1; }
echo "ok: every resource landed exactly once ($got)"
# References on the server point at the server's resources: read back a
# sample of each clinical type and resolve every reference it holds.
"$REFS_RESOLVE" "after the push" Encounter Observation Condition MedicationRequest DocumentReference || exit 1
"$FHIRGEN" push --server "$FHIR_TEST_URL" --cacert "$FHIR_TEST_CA" -q --no-journal \
    "$WORK/cohort/bundles" || { echo "FAIL: second push exited $?"; exit 1; }
got=$(counts)
[ "$got" = "$(cat "$WORK/expected")" ] || { echo "FAIL: a second push changed the server: '$got'"; exit 1; }
echo "ok: pushing the same bundles again adds nothing"
"$FHIRGEN" push --server "$FHIR_TEST_URL" --cacert "$FHIR_TEST_CA" -q --resume \
    --journal "$WORK/journal1" --summary-json "$WORK/push3.json" "$WORK/cohort/bundles" ||
    { echo "FAIL: --resume exited $?"; exit 1; }
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); sys.exit(0 if s["bundles_landed"] == 0 and s["bundles_skipped"] == s["bundles_seen"] > 0 else 1)' \
    "$WORK/push3.json" || { echo "FAIL: --resume sent bundles the journal holds: $(cat "$WORK/push3.json")"; exit 1; }
echo "ok: --resume with a complete journal sends nothing"
SH

# generate --push: the sink hands each finished bundle to the push in
# process; the same cohort must land exactly once, and a rerun with --resume
# sends nothing.
cat >"$WORK/generate-push.sh" <<'SH'
set -u
. "$WORK/lib.sh"
"$FHIRGEN" generate -n "$N" --seed 4040 --end-date 2026-01-01 --quiet --out "$WORK/gp" \
    --push "$FHIR_TEST_URL" --cacert "$FHIR_TEST_CA" -q -j 4 ||
    { echo "FAIL: generate --push exited $?"; exit 1; }
same_set "generate --push"
lines=$(wc -l <"$WORK/gp/bundles/.fhirgen-push.journal")
[ "$lines" -eq "$N" ] || { echo "FAIL: the journal holds $lines bundles, not $N"; exit 1; }
cmp -s <(ls "$WORK/gp/bundles") <(ls "$WORK/cohort/bundles") ||
    { echo "FAIL: generate --push wrote other bundles than generate"; exit 1; }
echo "ok: generate --push landed the cohort exactly once ($N bundles journalled)"
"$FHIRGEN" push --server "$FHIR_TEST_URL" --cacert "$FHIR_TEST_CA" -q --resume \
    --journal "$WORK/gp/bundles/.fhirgen-push.journal" --summary-json "$WORK/gp.json" \
    "$WORK/gp/bundles" || { echo "FAIL: push --resume after generate --push exited $?"; exit 1; }
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); sys.exit(0 if s["bundles_landed"] == 0 and s["bundles_skipped"] == s["bundles_seen"] > 0 else 1)' \
    "$WORK/gp.json" || { echo "FAIL: --resume after generate --push sent bundles: $(cat "$WORK/gp.json")"; exit 1; }
same_set "push --resume after generate --push"
echo "ok: push --resume after generate --push sends nothing"
SH

cat >"$WORK/faults.sh" <<'SH'
set -u
. "$WORK/lib.sh"
"$FHIRGEN" push --server "$FHIR_TEST_URL" --cacert "$FHIR_TEST_CA" -q -j 4 --no-journal \
    --summary-json "$WORK/faults.json" "$WORK/cohort/bundles" ||
    { echo "FAIL: push under faults exited $?"; exit 1; }
got=$(counts)
[ "$got" = "$(cat "$WORK/expected")" ] || { echo "FAIL: under faults the server holds '$got'"; exit 1; }
echo "ok: with 429/503 answers and dropped connections the server holds exactly the cohort"
SH

cat >"$WORK/refused.sh" <<'SH'
set -u
one=$(ls "$WORK/cohort/bundles" | head -1)
if "$FHIRGEN" push --server "$FHIR_TEST_URL" --cacert "$FHIR_TEST_CERTS/untrusted-ca.pem" -q \
        --no-journal "$WORK/cohort/bundles/$one" 2>"$WORK/tls.err"; then
    echo "FAIL: a server certificate from an untrusted CA was accepted"; exit 1
fi
grep -qi "certificate" "$WORK/tls.err" || { echo "FAIL: no certificate error: $(cat "$WORK/tls.err")"; exit 1; }
echo "ok: untrusted server certificate refused: $(grep -i certificate "$WORK/tls.err" | head -1)"
SH

cat >"$WORK/bearer.sh" <<'SH'
set -u
one=$(ls "$WORK/cohort/bundles" | head -1)
if FHIR_BEARER_TOKEN=wrong-token "$FHIRGEN" push --server "$FHIR_TEST_URL" --cacert "$FHIR_TEST_CA" \
        -q --no-journal "$WORK/cohort/bundles/$one" 2>"$WORK/bearer.err"; then
    echo "FAIL: a wrong bearer token was accepted"; exit 1
fi
grep -q "401" "$WORK/bearer.err" || { echo "FAIL: no 401 message: $(cat "$WORK/bearer.err")"; exit 1; }
if grep -q "wrong-token" "$WORK/bearer.err"; then echo "FAIL: the token appears in the error"; exit 1; fi
echo "ok: wrong token refused with a 401 message that does not show the token"
FHIR_BEARER_TOKEN=s3cret-token "$FHIRGEN" push --server "$FHIR_TEST_URL" --cacert "$FHIR_TEST_CA" \
    -q --no-journal "$WORK/cohort/bundles/$one" || { echo "FAIL: the right token was refused"; exit 1; }
echo "ok: the right bearer token is accepted"
SH

run "$N patients, pushed twice and resumed" -- bash "$WORK/exactly-once.sh"
run "generate --push, then resumed" -- bash "$WORK/generate-push.sh"
run "the same under faults" --fault-429 0.1 --fault-503 0.1 --fault-drop-before 0.02 --seed 7 \
    -- bash "$WORK/faults.sh"
run "TLS: an untrusted server certificate" -- bash "$WORK/refused.sh"
run "auth: bearer token" --auth bearer --bearer-token s3cret-token -- bash "$WORK/bearer.sh"
say "ok"
