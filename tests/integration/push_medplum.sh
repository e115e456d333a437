#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# fhirgen push against servers that limit transactions, with the FHIR test
# server (tests/fhirserver): in its stock Medplum mode (--transactions
# stock: at most 50 updates per transaction, at most 8 entries once a
# conditional create is present, a failed transaction not rolled back) and
# with bundles capped at 100 entries (413). The default push mode (auto)
# lands the whole cohort exactly once on both, its references resolve on
# the server, a second push adds nothing, a push killed with SIGKILL midway
# and resumed gives exactly the cohort, --verify finds no difference, and
# --mode batch --max-entries 40 lands it exactly once too.
#   usage: push_medplum.sh FHIRGEN REFCHECK
# PUSH_PATIENTS sets the cohort size (default 200); PUSH_VERIFY_PATIENTS the
# part of it that --verify reads back (default 10, on a server holding only
# those: the test server's search scans every resource of the type, and at
# 200 patients one Observation?patient= search takes about 100 s).
. "$(dirname "$0")/common.sh"
N=${PUSH_PATIENTS:-200}
push_setup 4042

cat >>"$WORK/lib.sh" <<'SH'
# summary_ok FILE WHAT EXPR: fail unless the Python expression EXPR holds
# over the summary JSON s (and n, the cohort size).
summary_ok() {
    python3 -c 'import json, sys
s = json.load(open(sys.argv[1])); n = int(sys.argv[3])
sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$3" "$N" ||
        { echo "FAIL: $2: the summary does not satisfy $3: $(cat "$1")"; exit 1; }
}
# server_stat EXPR: a field of the server's /_admin/stats, as Python over o.
server_stat() {
    curl -sf --retry 5 --retry-all-errors --cacert "$FHIR_TEST_CA" "$FHIR_TEST_URL/_admin/stats" |
        python3 -c 'import json, sys; o = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}
# refs_resolve WHAT: read back a sample of each clinical type and resolve
# every reference it holds on the server.
refs_resolve() {
    "$REFS_RESOLVE" "$1" Encounter Observation Condition MedicationRequest DocumentReference || exit 1
}
SH

# Stock server: auto lands everything, references resolve, a second push
# adds nothing, --resume with the complete journal sends nothing.
cat >"$WORK/auto.sh" <<'SH'
. "$WORK/lib.sh"
one="$WORK/cohort/bundles/$(ls "$WORK/cohort/bundles" | head -1)"
 --mode transaction sends whole bundles and does not adapt: the
# router's refusal ends that bundle, and the message says why.
if push --no-journal --mode transaction --max-attempts 2 "$one" 2>"$WORK/whole.err"; then
    echo "FAIL: a whole fhirgen bundle was accepted as one transaction by the stock server"; exit 1
fi
grep -Eq "more update operations than allowed|strict isolation" "$WORK/whole.err" ||
    { echo "FAIL: --mode transaction: the router's message is not shown: $(cat "$WORK/whole.err")"; exit 1; }
[ "$(server_stat 'o["transactions"]["partial"]')" = 0 ] || { echo "FAIL: a refused transaction left writes"; exit 1; }
echo "ok: --mode transaction: refused with $(grep -Eom1 "more update operations than allowed|strict isolation[a-z ]*" "$WORK/whole.err")"

# Without -q, so that the switch to split shows on stderr.
start=$(date +%s)
"$FHIRGEN" push --server "$FHIR_TEST_URL" --cacert "$FHIR_TEST_CA" -j 4 \
    --journal "$WORK/auto.journal" --summary-json "$WORK/auto.json" "$WORK/cohort/bundles" \
    >"$WORK/auto.out" 2>"$WORK/auto.err" ||
    { echo "FAIL: push (auto) exited $?: $(tail -3 "$WORK/auto.err")"; exit 1; }
secs=$(( $(date +%s) - start ))
same_set "auto against the stock server"
summary_ok "$WORK/auto.json" "auto" \
    's["bundles_seen"] == s["bundles_landed"] == n and s["bundles_failed"] == 0'
summary_ok "$WORK/auto.json" "auto ends in split with a size the server takes" \
    's["mode"] == "split" and 1 <= s["max_entries"] <= 50'
switched=$(grep -i 'split' "$WORK/auto.err" | head -1)
[ -n "$switched" ] || { echo "FAIL: auto did not say on stderr that it switched to split"; exit 1; }
[ "$(server_stat 'o["transactions"]["partial"]')" = 0 ] ||
    { echo "FAIL: a transaction failed midway and left writes: $(server_stat 'o["transactions"]')"; exit 1; }
echo "ok: auto landed $N patients exactly once in ${secs}s ($(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print("mode", s["mode"], "max_entries", s["max_entries"], "resources", s["resources"])' "$WORK/auto.json"))"
echo "   stderr: $switched"
echo "   server: transactions $(server_stat 'o["transactions"]')"
refs_resolve "auto"

push --no-journal --summary-json "$WORK/again.json" "$WORK/cohort/bundles" ||
    { echo "FAIL: second push exited $?"; exit 1; }
same_set "a second push"
summary_ok "$WORK/again.json" "second push" 's["bundles_failed"] == 0'
echo "ok: pushing the same bundles again adds nothing"

push --resume --journal "$WORK/auto.journal" --summary-json "$WORK/resume.json" \
    "$WORK/cohort/bundles" 2>"$WORK/resume.err" ||
    { echo "FAIL: --resume exited $?: $(tail -3 "$WORK/resume.err")"; exit 1; }
summary_ok "$WORK/resume.json" "--resume with a complete journal" \
    's["bundles_landed"] == 0 and s["bundles_skipped"] == n'
echo "ok: --resume with a complete journal sends nothing"
SH

# Stock server holding only the first PUSH_VERIFY_PATIENTS: auto, then
# --verify reads every patient's resources back and finds no difference.
cat >"$WORK/verify.sh" <<'SH'
. "$WORK/lib.sh"
push -j 4 --journal "$WORK/few.journal" "$WORK/few" 2>"$WORK/few.err" ||
    { echo "FAIL: push (auto) of $V patients exited $?: $(tail -3 "$WORK/few.err")"; exit 1; }
push --resume --journal "$WORK/few.journal" --verify --summary-json "$WORK/verify.json" \
    "$WORK/few" 2>"$WORK/verify.err" ||
    { echo "FAIL: --resume --verify exited $?: $(tail -3 "$WORK/verify.err")"; exit 1; }
N=$V summary_ok "$WORK/verify.json" "--resume --verify" \
    's["bundles_landed"] == 0 and s["bundles_skipped"] == n and s["verify_queries"] > 0 and s["verify_differences"] == 0'
echo "ok: --verify finds no difference for $V patients ($(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["verify_queries"])' "$WORK/verify.json") queries)"
SH

# Stock server: SIGKILL midway, then --resume with the same journal.
cat >"$WORK/crash.sh" <<'SH'
. "$WORK/lib.sh"
J="$WORK/crash.journal"
# fhirgen itself in the background (not a shell function: its subshell
# would take the SIGKILL and leave fhirgen running)
"$FHIRGEN" push --server "$FHIR_TEST_URL" --cacert "$FHIR_TEST_CA" -q -j 2 --journal "$J" \
    "$WORK/cohort/bundles" 2>"$WORK/crash.err" &
pid=$!
# a line per acknowledged chunk: 40 lines are a few patients in,
# and with two patients in flight the kill falls mid-patient.
k=$(( N < 160 ? N / 4 + 1 : 40 ))
for _ in $(seq 3000); do
    [ "$(cat "$J" 2>/dev/null | wc -l)" -ge "$k" ] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
done
kill -9 $pid 2>/dev/null || { echo "FAIL: the push ended before it could be killed: $(tail -3 "$WORK/crash.err")"; exit 1; }
wait $pid 2>/dev/null
before=$(wc -l <"$J")
echo "ok: killed with SIGKILL with $before journal lines"
push -j 2 --resume --journal "$J" --summary-json "$WORK/resume.json" "$WORK/cohort/bundles" \
    2>"$WORK/resume.err" || { echo "FAIL: --resume exited $?: $(tail -3 "$WORK/resume.err")"; exit 1; }
same_set "after the kill and --resume"
summary_ok "$WORK/resume.json" "--resume after the kill" \
    's["bundles_seen"] == n and s["bundles_failed"] == 0 and s["bundles_landed"] > 0 and s["bundles_landed"] + s["bundles_skipped"] == n'
[ "$(server_stat 'o["transactions"]["partial"]')" = 0 ] ||
    { echo "FAIL: a transaction failed midway and left writes: $(server_stat 'o["transactions"]')"; exit 1; }
echo "ok: --resume gave exactly the cohort ($(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["bundles_skipped"], "bundles skipped,", s["bundles_landed"], "landed")' "$WORK/resume.json"))"
SH

# Stock server capped at 40 entries: --mode batch --max-entries 40 keeps to
# the size (the server would answer 413) and lands the cohort exactly once.
cat >"$WORK/batch.sh" <<'SH'
. "$WORK/lib.sh"
push -j 4 --no-journal --mode batch --max-entries 40 --summary-json "$WORK/batch.json" \
    "$WORK/cohort/bundles" 2>"$WORK/batch.err" ||
    { echo "FAIL: push --mode batch exited $?: $(tail -3 "$WORK/batch.err")"; exit 1; }
same_set "--mode batch --max-entries 40"
summary_ok "$WORK/batch.json" "--mode batch" \
    's["mode"] == "batch" and s["max_entries"] == 40 and s["bundles_landed"] == n and s["bundles_failed"] == 0'
[ "$(server_stat 'o["bundles"]["refusedForSize"]')" = 0 ] ||
    { echo "FAIL: a request held more than 40 entries"; exit 1; }
[ "$(server_stat 'o["bundles"]["batch"] > 0')" = True ] ||
    { echo "FAIL: --mode batch sent no batch: $(server_stat 'o["bundles"]')"; exit 1; }
echo "ok: --mode batch --max-entries 40 landed the cohort exactly once ($(server_stat 'o["bundles"]["batch"]') batches)"
refs_resolve "--mode batch"
SH

# Serial server (all or nothing, no transaction limits) capped at 100
# entries per bundle: auto learns the cap from the 413 and lands everything.
cat >"$WORK/cap.sh" <<'SH'
. "$WORK/lib.sh"
push -j 4 --no-journal --summary-json "$WORK/cap.json" "$WORK/cohort/bundles" 2>"$WORK/cap.err" ||
    { echo "FAIL: push (auto) to a server capped at 100 entries exited $?: $(tail -3 "$WORK/cap.err")"; exit 1; }
same_set "auto against a server capped at 100 entries"
summary_ok "$WORK/cap.json" "auto against the cap" \
    's["mode"] == "split" and 1 <= s["max_entries"] <= 100 and s["bundles_landed"] == n and s["bundles_failed"] == 0'
[ "$(server_stat 'o["bundles"]["refusedForSize"] >= 1 and o["transactions"]["rolledBack"] == 0')" = True ] ||
    { echo "FAIL: server stats: $(server_stat 'o["bundles"], o["transactions"]')"; exit 1; }
echo "ok: auto got the cohort through the 100-entry cap (max_entries $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["max_entries"])' "$WORK/cap.json"); server: $(server_stat 'o["bundles"]'))"
refs_resolve "auto with the cap"
SH

run "$N patients, auto against the stock server, pushed again, resumed" --transactions stock \
    -- bash "$WORK/auto.sh"
run "$N patients, stock server: SIGKILL midway, then --resume" --transactions stock \
    -- bash "$WORK/crash.sh"
V=${PUSH_VERIFY_PATIENTS:-10}
mkdir "$WORK/few" || fail "cannot make $WORK/few"
for b in $(ls "$WORK/cohort/bundles" | head -"$V"); do cp "$WORK/cohort/bundles/$b" "$WORK/few/"; done
export V
# A patient with one resource the server refuses: in batch mode the
# failure names the entry (type, id, the server's OperationOutcome), the
# patient fails, the others land, and the summary lists the failed bundle.
mkdir "$WORK/bad" || fail "cannot make $WORK/bad"
for b in $(ls "$WORK/cohort/bundles" | head -3); do cp "$WORK/cohort/bundles/$b" "$WORK/bad/"; done
python3 - "$WORK/bad/$(ls "$WORK/bad" | head -1)" >"$WORK/bad-id" <<'PY' || fail "cannot spoil a bundle"
import json, sys
b = json.load(open(sys.argv[1]))
for e in b["entry"]:
    if e["resource"]["resourceType"] == "Observation":
        del e["resource"]["status"]
        print(e["request"]["url"])
        break
json.dump(b, open(sys.argv[1], "w"))
PY
cat >"$WORK/entry.sh" <<'SH'
. "$WORK/lib.sh"
if push -j 2 --no-journal --mode batch --max-entries 40 --summary-json "$WORK/entry.json" \
        "$WORK/bad" 2>"$WORK/entry.err"; then
    echo "FAIL: a refused entry did not fail the push"; exit 1
fi
bad=$(cat "$WORK/bad-id")
grep -q "$bad: HTTP 400" "$WORK/entry.err" ||
    { echo "FAIL: the failure does not name $bad: $(grep FAILED "$WORK/entry.err" | head -2)"; exit 1; }
summary_ok "$WORK/entry.json" "one refused entry" \
    's["bundles_failed"] == 1 and s["bundles_landed"] == 2 and len(s["failed"]) == 1'
echo "ok: a refused entry fails its patient and is named: $(grep -o "$bad: HTTP 400[^;]*" "$WORK/entry.err" | head -1 | cut -c1-200)"
SH
run "a refused entry in batch mode" --transactions stock -- bash "$WORK/entry.sh"
run "$V patients, stock server: auto, then --verify" --transactions stock -- bash "$WORK/verify.sh"
run "$N patients, stock server: --mode batch --max-entries 40" --transactions stock --max-bundle-entries 40 \
    -- bash "$WORK/batch.sh"
run "$N patients, auto against a server capped at 100 entries" --max-bundle-entries 100 \
    -- bash "$WORK/cap.sh"
say "ok"
