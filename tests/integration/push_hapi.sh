#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# fhirgen push into the HAPI FHIR JPA server on PostgreSQL, behind nginx
# (TLS with the test CA, HTTP/2): tests/servers/hapi, started once for all
# the checks below, which therefore build on each other:
#   1. N patients pushed with the default mode land exactly once: the
#      per-type counts from HAPI's own search equal the cohort's, and
#      fhirgen spoke HTTP/2 (nginx's access log);
#   2. references resolve on the server: a sample of each clinical type
#      read back, every reference it holds read, and _include gives the
#      subject of every Encounter it returns;
#   3. a second push of the same bundles (no journal) adds nothing;
#   4. --verify (per patient and type, through search) finds 0 differences;
#   5. a second cohort, pushed in split mode (20 entries per transaction), killed with SIGKILL midway and
#      resumed with the same journal: the server holds exactly both cohorts.
#   usage: push_hapi.sh FHIRGEN REFCHECK
# PUSH_HAPI_PATIENTS sets N (default 200); the second cohort has N/4.
# PUSH_HAPI_YEARS the years of detailed history (default 1: about 15,000
# resources for 200 patients; HAPI on this machine's two cores stores about
# 150 a second, so the default 10 years would take most of an hour).
. "$(dirname "$0")/common.sh"
N=${PUSH_HAPI_PATIENTS:-200}
Y=${PUSH_HAPI_YEARS:-1}
HAPI="$ROOT/tests/servers/hapi/run-with-hapi.sh"
command -v curl >/dev/null || skip "curl is not installed"
command -v python3 >/dev/null || skip "python3 is not installed"

generate "$WORK/a" -n "$N" --seed 4242 --end-date 2026-01-01 --years-of-history "$Y" --quiet
generate "$WORK/b" -n $((N / 4)) --seed 4343 --end-date 2026-01-01 --years-of-history "$Y" --quiet
# expected FOLDER...: "Type=N ..." the server holds after loading the bundles
# of every FOLDER (one resource per PUT id, one per distinct ifNoneExist).
expected() {
    python3 - "$@" <<'PY'
import collections, glob, json, sys
ids = collections.defaultdict(set)
for d in sys.argv[1:]:
    for f in sorted(glob.glob(d + "/*.json")):
        for e in json.load(open(f))["entry"]:
            r, q = e["resource"], e["request"]
            ids[r["resourceType"]].add(q.get("ifNoneExist") or q["url"])
print(" ".join(f"{t}={len(v)}" for t, v in sorted(ids.items())))
PY
}
expected "$WORK/a/bundles" >"$WORK/expected-a" || fail "cannot read the bundles"
expected "$WORK/a/bundles" "$WORK/b/bundles" >"$WORK/expected-ab" || fail "cannot read the bundles"
export WORK FHIRGEN N

cat >"$WORK/checks.sh" <<'SH'
set -u
# same_set WHAT EXPECTED-FILE: only the types of that file are compared
same_set() {
    want=$(cat "$2")
    got=$(for kv in $(cat "$2"); do t=${kv%%=*}; counts_of "$t"; done | tr '\n' ' ' | sed 's/ $//')
    [ "$got" = "$want" ] || { echo "FAIL: $1: the server holds '$got', the bundles make '$want'"; exit 1; }
}
counts_of() {
    n=$(curl -sf --retry 5 --retry-all-errors -H 'Cache-Control: no-cache' \
          --cacert "$FHIR_TEST_CA" "$FHIR_TEST_URL/$1?_summary=count" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])') || n=ERR
    echo "$1=$n"
}
push() { "$FHIRGEN" push --server "$FHIR_TEST_URL" --cacert "$FHIR_TEST_CA" -q "$@"; }

t0=$(date +%s)
push -j 4 --journal "$WORK/ja" --summary-json "$WORK/a.json" "$WORK/a/bundles" 2>"$WORK/a.err" ||
    { echo "FAIL: push exited $?: $(tail -3 "$WORK/a.err")"; exit 1; }
same_set "$N patients" "$WORK/expected-a"
echo "ok: $N patients landed exactly once in $(( $(date +%s) - t0 )) s: $(cat "$WORK/expected-a")"
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print("   summary:", {k: s[k] for k in ("mode", "bundles_landed", "resources", "retries", "seconds")})' "$WORK/a.json"
if [ -n "${FHIR_TEST_ACCESS_LOG:-}" ]; then
    h2=$(grep -c '"POST /fhir HTTP/2.0"' "$FHIR_TEST_ACCESS_LOG" || true)
    [ "$h2" -gt 0 ] || { echo "FAIL: no POST over HTTP/2 in nginx's log: $(tail -2 "$FHIR_TEST_ACCESS_LOG")"; exit 1; }
    echo "ok: fhirgen spoke HTTP/2 to nginx ($h2 POSTs over HTTP/2)"
fi

"$REFS_RESOLVE" "after the push" Encounter Observation Condition MedicationRequest DocumentReference \
    Immunization || exit 1
curl -sf --cacert "$FHIR_TEST_CA" "$FHIR_TEST_URL/Encounter?_include=Encounter:subject&_count=20" \
    >"$WORK/inc.json" || { echo "FAIL: _include search failed"; exit 1; }
python3 - "$WORK/inc.json" <<'PY' || exit 1
import json, sys
b = json.load(open(sys.argv[1]))
enc = [e["resource"] for e in b.get("entry", []) if e["resource"]["resourceType"] == "Encounter"]
pats = {"Patient/" + e["resource"]["id"] for e in b.get("entry", []) if e["resource"]["resourceType"] == "Patient"}
missing = [x["subject"]["reference"] for x in enc if x["subject"]["reference"] not in pats]
if not enc or missing:
    print(f"FAIL: _include: {len(enc)} encounters, subjects not included: {missing[:3]}")
    sys.exit(1)
print(f"ok: _include returns the subject of each of {len(enc)} encounters ({len(pats)} patients)")
PY

push -j 4 --no-journal "$WORK/a/bundles" 2>"$WORK/a2.err" ||
    { echo "FAIL: second push exited $?: $(tail -3 "$WORK/a2.err")"; exit 1; }
same_set "a second push" "$WORK/expected-a"
echo "ok: pushing the same bundles again adds nothing"

push -j 4 --resume --journal "$WORK/ja" --verify "$WORK/a/bundles" 2>"$WORK/v.err" ||
    { echo "FAIL: --verify exited $?: $(grep -m3 -i 'verify\|FAIL' "$WORK/v.err")"; exit 1; }
echo "ok: $(grep 'verify:' "$WORK/v.err")"

# the second cohort in split mode, killed midway, resumed
push -j 2 --mode split --max-entries 20 --journal "$WORK/jb" "$WORK/b/bundles" 2>/dev/null &
pid=$!
until [ -f "$WORK/jb" ] && [ "$(wc -l <"$WORK/jb")" -ge 10 ]; do
    kill -0 "$pid" 2>/dev/null || { echo "FAIL: the push ended before it could be killed"; exit 1; }
    sleep 0.05
done
kill -9 "$pid"
wait "$pid" 2>/dev/null
lines=$(wc -l <"$WORK/jb")
partial=$(python3 - "$WORK/jb" <<'PY'
import sys
whole, chunked = set(), set()
for line in open(sys.argv[1]):
    if not line.endswith("\n") or " " not in line:
        continue  # a line torn by the kill
    path = line.rstrip("\n").split(" ", 1)[1]
    (chunked.add(path.rsplit("#", 1)[0]) if "#" in path else whole.add(path))
print(len(chunked - whole))
PY
)
push -j 2 --mode split --max-entries 20 --resume --journal "$WORK/jb" \
    --summary-json "$WORK/b.json" "$WORK/b/bundles" 2>"$WORK/b.err" ||
    { echo "FAIL: --resume exited $?: $(tail -3 "$WORK/b.err")"; exit 1; }
# a patient cut off mid-way continues where it stopped: its journalled chunks are skipped
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); sys.exit(0 if s["chunks_skipped"] > 0 or int(sys.argv[2]) == 0 else 1)' \
    "$WORK/b.json" "$partial" ||
    { echo "FAIL: $partial patients were cut off mid-way, but the resume skipped no chunk: $(cat "$WORK/b.json")"; exit 1; }
same_set "SIGKILL midway, then --resume" "$WORK/expected-ab"
echo "ok: split push killed after $lines journal lines ($partial patients mid-way), resumed ($(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["chunks_skipped"], "chunks skipped,", s["chunks_landed"], "sent")' "$WORK/b.json")): the server holds exactly both cohorts"
SH

say "HAPI FHIR JPA on PostgreSQL behind nginx (TLS, HTTP/2): $N + $((N / 4)) patients"
FHIR_TEST_TIMEOUT=${RUN_TIMEOUT:-2400} "$HAPI" --db postgres -- bash "$WORK/checks.sh" >"$WORK/run.log" 2>&1
rc=$?
sed 's/^/  /' "$WORK/run.log"
[ "$rc" -eq 77 ] && skip "$(grep -m1 -i skip "$WORK/run.log" || echo "the HAPI server cannot run here")"
[ "$rc" -eq 0 ] || fail "$(grep -m1 FAIL "$WORK/run.log" || echo "exit $rc")"
say "ok"
