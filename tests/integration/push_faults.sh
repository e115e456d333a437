#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# fhirgen push when things go wrong, against the FHIR test server
# (tests/fhirserver): 10% of requests answered 429/503 and 2% of connections
# dropped still give exactly the cohort; a push killed with SIGKILL midway
# and resumed gives exactly the cohort, no duplicates; --verify finds no
# difference on a clean push and names one when a resource is missing; bad
# answers (HTML with 200, an R5 server, invalid JSON, an oversized answer, a
# redirect to plain http) each end the run with a one-line error and a
# non-zero exit, the journal intact.
#   usage: push_faults.sh FHIRGEN REFCHECK
# PUSH_FAULT_PATIENTS sets the cohort size (default 12: the crash and bad-answer
# stages run against a server that delays every answer by 300 ms).
. "$(dirname "$0")/common.sh"
N=${PUSH_FAULT_PATIENTS:-12}
push_setup 4041

cat >"$WORK/faults.sh" <<'SH'
. "$WORK/lib.sh"
push -j 4 --no-journal --summary-json "$WORK/faults.json" "$WORK/cohort/bundles" ||
    { echo "FAIL: push under faults exited $?"; exit 1; }
same_set "under faults"
stats=$(curl -sf --cacert "$FHIR_TEST_CA" "$FHIR_TEST_URL/_admin/stats" | tr -d '\n' | head -c 400)
echo "ok: with 10% 429/503 and 2% dropped connections the server holds exactly the cohort" \
     "($(python3 -c 'import json,sys; print("retries", json.load(open(sys.argv[1]))["retries"])' "$WORK/faults.json"))"
echo "   server: $stats"
SH

cat >"$WORK/crash.sh" <<'SH'
. "$WORK/lib.sh"
J="$WORK/crash.journal"
# fhirgen itself in the background (not a shell function: its subshell
# would take the SIGKILL and leave fhirgen running)
"$FHIRGEN" push --server "$FHIR_TEST_URL" --cacert "$FHIR_TEST_CA" -q -j 2 --journal "$J" \
    "$WORK/cohort/bundles" 2>"$WORK/crash.err" &
pid=$!
for _ in $(seq 600); do
    [ "$(cat "$J" 2>/dev/null | wc -l)" -ge 2 ] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
done
kill -9 $pid 2>/dev/null || { echo "FAIL: the push ended before it could be killed"; exit 1; }
wait $pid 2>/dev/null
before=$(wc -l <"$J")
[ "$before" -lt "$N" ] || { echo "FAIL: the push finished ($before lines) before the kill"; exit 1; }
echo "ok: killed with SIGKILL after $before of $N bundles were journalled"
push -j 2 --resume --journal "$J" --summary-json "$WORK/resume.json" --verify \
    "$WORK/cohort/bundles" 2>"$WORK/resume.err" ||
    { echo "FAIL: --resume exited $?: $(tail -3 "$WORK/resume.err")"; exit 1; }
same_set "after the kill and --resume"
python3 - "$WORK/resume.json" "$before" "$N" <<'PY' || { echo "FAIL: resume summary $(cat "$WORK/resume.json")"; exit 1; }
import json, sys
s = json.load(open(sys.argv[1])); before, n = int(sys.argv[2]), int(sys.argv[3])
assert s["bundles_skipped"] == before and s["bundles_landed"] == n - before, s
assert s["verify_queries"] > 0 and s["verify_differences"] == 0, s
PY
[ "$(wc -l <"$J")" -eq "$N" ] || { echo "FAIL: the journal holds $(wc -l <"$J") lines, not $N"; exit 1; }
echo "ok: --resume pushed the other $((N - before)): exactly the cohort, no duplicates"
echo "ok: --verify after the resume: $(grep 'verify:' "$WORK/resume.err")"
cp "$J" "$WORK/good.journal"

# A missing resource is a difference: delete one Observation, verify only.
id=$(curl -sf --cacert "$FHIR_TEST_CA" "$FHIR_TEST_URL/Observation?_count=1" |
     python3 -c 'import json,sys; print(json.load(sys.stdin)["entry"][0]["resource"]["id"])')
curl -sf -X DELETE --cacert "$FHIR_TEST_CA" "$FHIR_TEST_URL/Observation/$id" >/dev/null ||
    { echo "FAIL: cannot delete Observation/$id"; exit 1; }
if push --resume --journal "$J" --verify "$WORK/cohort/bundles" 2>"$WORK/diff.err"; then
    echo "FAIL: --verify exited 0 with Observation/$id deleted"; exit 1
fi
grep -q "verify: .*Observation?patient=.*holds" "$WORK/diff.err" ||
    { echo "FAIL: no difference named: $(cat "$WORK/diff.err")"; exit 1; }
echo "ok: --verify names the missing Observation: $(grep -m1 'holds' "$WORK/diff.err")"
SH

# bad.sh MODE: with a journal of some landed bundles, a server answering
# MODE fails the run with a one-line error and leaves the journal as it was.
cat >"$WORK/bad.sh" <<'SH'
. "$WORK/lib.sh"
mode=$1
J="$WORK/bad-$mode.journal"
head -3 "$WORK/good.journal" >"$J"
cp "$J" "$J.before"
if push -j 2 --resume --journal "$J" --max-attempts 2 "$WORK/cohort/bundles" 2>"$WORK/bad.err"; then
    echo "FAIL: $mode: the push exited 0"; exit 1
fi
cmp -s "$J" "$J.before" || { echo "FAIL: $mode: the journal changed: $(diff "$J.before" "$J")"; exit 1; }
err=$(grep -v -e '^fhirgen push: [0-9]* landed' -e 'more failures follow' "$WORK/bad.err" | head -1)
[ -n "$err" ] || { echo "FAIL: $mode: no error message"; exit 1; }
echo "ok: $mode: exit non-zero, journal intact: $err"
SH

run "$N patients under faults" --fault-429 0.05 --fault-503 0.05 --fault-drop-before 0.02 --seed 11 \
    -- bash "$WORK/faults.sh"
run "$N patients: SIGKILL midway, then --resume --verify" --delay-ms 300 -- bash "$WORK/crash.sh"
for mode in html invalid-json oversized redirect-http; do
    run "bad answer: $mode" --bad-answer "$mode" --bad-answer-on fhir -- bash "$WORK/bad.sh" "$mode"
done
run "bad answer: an R5 server" --bad-answer r5 -- bash "$WORK/bad.sh" r5
say "ok"
