#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# fhirgen generate --llm against the LLM test server (tests/llmserver):
#  - a cohort written by the `scripted` model (OpenAI protocol) validates
#    with zero errors (tests/conformance/validate.mjs, refcheck, and
#    `fhirgen validate` when it exists);
#  - the cohort keeps the engine's statistics: every patient's Patient
#    resource is the engine's byte for byte (same seed), and every chronic
#    condition of the engine's patient is in the LLM patient's record;
#  - a rerun answers from the cache: the server sees no new request and the
#    output is identical;
#  - NDJSON from the cached answers: patient order, references, validation;
#  - Anthropic, streaming (both protocols) and HTTPS give the same patients;
#  - fault-hallucinate: one repair round per patient, each a hallucinated
#    code, every patient written.
# FHIRGEN_LLM_PATIENTS sets the cohort size (default 300).
if [ -z "${LLM_TEST_URL:-}" ] && command -v node >/dev/null 2>&1; then
    # run again inside the test server (it exits 77 without its prerequisites)
    LLM_TEST_TIMEOUT=${LLM_TEST_TIMEOUT:-1800} exec \
        "$(dirname "$0")/../llmserver/run-with-llmserver.sh" -- "$0" "$@"
fi
. "$(dirname "$0")/common.sh"
command -v node >/dev/null 2>&1 || skip "node is not installed"
command -v python3 >/dev/null 2>&1 || skip "python3 is not installed"

N=${FHIRGEN_LLM_PATIENTS:-300}
END=2025-06-01
SEED=4242
export OPENAI_API_KEY="$LLM_TEST_KEY" ANTHROPIC_API_KEY="$LLM_TEST_KEY"
unset OPENAI_BASE_URL ANTHROPIC_BASE_URL

# llm OUT PROVIDER:MODEL ARGS...: a run against the test server; exit status in $status.
llm() {
    out=$1 model=$2
    shift 2
    case $model in
        openai:*) base=$LLM_TEST_URL/v1 ;;
        *) base=$LLM_TEST_URL ;;
    esac
    status=0
    "$FHIRGEN" generate --llm "$model" --llm-base-url "$base" --seed $SEED --end-date $END \
        -o "$out" --summary-json "$out.summary.json" "$@" >"$out.log" 2>&1 || status=$?
}
# field FILE KEY[.KEY]: a member of a summary
field() {
    python3 -c 'import json,sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v = v[k]
print(v)' "$1" "$2"
}
requests() { curl -sf "$LLM_TEST_URL/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])'; }
expect_ok() {
    [ "$status" = 0 ] || { cat "$1.log" >&2; fail "$2: exit status $status"; }
}

say "scripted model, OpenAI protocol: $N patients, 16 in flight"
llm "$WORK/openai" openai:scripted -n "$N" --llm-jobs 16 --cache "$WORK/cache" -q
expect_ok "$WORK/openai" "openai:scripted"
[ "$(field "$WORK/openai.summary.json" patients_written)" = "$N" ] || fail "not every patient was written"
[ "$(ls "$WORK/openai/bundles" | wc -l)" = "$N" ] || fail "expected $N bundle files"
say "  $(field "$WORK/openai.summary.json" llm.http_requests) requests, $(field "$WORK/openai.summary.json" seconds) s"

say "the engine alone, same seed: the same patients and chronic conditions"
generate "$WORK/engine" -n "$N" --seed $SEED --end-date $END -q
python3 - "$WORK/engine/bundles" "$WORK/openai/bundles" "$ROOT/data/conditions" <<'PY' || fail "the LLM cohort differs from the engine's (above)"
import collections, glob, json, os, sys
eng, llm = sys.argv[1], sys.argv[2]
PL = "problem-list-item"
# the chronic conditions: the engine's condition modules (the skeleton's)
modules = set()
for m in glob.glob(sys.argv[3] + "/*.json"):
    t = json.load(open(m))["term"]
    modules.add((t["system"], t["code"]))
def load(path):
    pat, conds = None, set()
    for e in json.load(open(path))["entry"]:
        r = e["resource"]
        if r["resourceType"] == "Patient":
            pat = r
        elif r["resourceType"] == "Condition":
            c = r["code"]["coding"][0]
            cats = {x["code"] for cat in r.get("category", []) for x in cat["coding"]}
            conds.add((c["system"], c["code"], PL in cats))
    return pat, conds
bad = 0
sexes, ages = collections.Counter(), collections.Counter()
chronic = collections.Counter()
for f in sorted(glob.glob(eng + "/*.json")):
    name = os.path.basename(f)
    ep, ec = load(f)
    lp, lc = load(os.path.join(llm, name))
    if ep != lp:
        bad += 1
        print(f"{name}: the Patient differs from the engine's")
    want = {(s, c) for s, c, pl in ec if pl and (s, c) in modules}
    have = {(s, c) for s, c, pl in lc if pl}
    if not want <= have:
        bad += 1
        print(f"{name}: chronic conditions lost: {sorted(want - have)}")
    sexes[ep["gender"]] += 1
    ages[int(ep["birthDate"][:4]) // 20 * 20] += 1
    for s, c in want:
        chronic[c] += 1
print("  sex:", dict(sorted(sexes.items())))
print("  birth year by 20:", dict(sorted(ages.items())))
print("  most frequent chronic conditions:", chronic.most_common(5))
sys.exit(1 if bad else 0)
PY

say "independent validation of the LLM bundles"
CONF="$ROOT/tests/conformance"
if [ ! -d "$CONF/node_modules/@medplum/core" ]; then
    (cd "$CONF" && npm ci --no-audit --no-fund --loglevel=error) >"$WORK/npm.log" 2>&1 ||
        { cat "$WORK/npm.log"; skip "npm ci failed in tests/conformance (no registry?)"; }
fi
PACKAGES=""
[ -d "$SHARED/fhir-packages/hl7.fhir.us.core#6.1.0/package" ] && PACKAGES="--packages $SHARED/fhir-packages"
# shellcheck disable=SC2086
if ! node "$CONF/validate.mjs" $PACKAGES --max-print 40 "$WORK/openai/bundles" >"$WORK/validate.log" 2>&1; then
    cat "$WORK/validate.log"
    fail "the independent validator found errors in the LLM bundles (above)"
fi
grep -E '^validate:' "$WORK/validate.log"
if [ -x "$REFCHECK" ]; then
    "$REFCHECK" --strict --max-print 30 "$WORK/openai/bundles" || fail "referential-integrity issues (above)"
fi
# fhirgen validate DIR: zero errors (US Core 6.1.0 too when the shared packages are there)
fvalidate() {
    "$FHIRGEN" validate --help >/dev/null 2>&1 || return 0
    IG=""
    [ -n "$PACKAGES" ] && IG="$PACKAGES --ig hl7.fhir.us.core#6.1.0"
    # shellcheck disable=SC2086
    if ! "$FHIRGEN" validate $IG --jobs 2 "$1" >"$WORK/fvalidate.log" 2>&1; then
        grep -v '^  ' "$WORK/fvalidate.log" | tail -5
        grep '^  error' "$WORK/fvalidate.log" | head -30
        fail "fhirgen validate found errors in $1 (above)"
    fi
    say "  fhirgen validate: $(grep -E '^[0-9]+ files, ' "$WORK/fvalidate.log" | tail -1)"
}
fvalidate "$WORK/openai/bundles"

say "rerun from the cache: no request reaches the server, the same bytes"
before=$(requests)
llm "$WORK/again" openai:scripted -n "$N" --llm-jobs 16 --cache "$WORK/cache" -q
expect_ok "$WORK/again" "cached rerun"
after=$(requests)
[ "$before" = "$after" ] || fail "the cached rerun sent $((after - before)) requests"
[ "$(field "$WORK/again.summary.json" llm.cache_hits)" = "$N" ] || fail "expected $N cache hits"
diff -r "$WORK/openai/bundles" "$WORK/again/bundles" >/dev/null || fail "the cached rerun wrote other bytes"

say "NDJSON (answers from the cache): in patient order, every reference resolves, valid"
llm "$WORK/nd" openai:scripted -n "$N" --llm-jobs 16 --cache "$WORK/cache" -q -f ndjson
expect_ok "$WORK/nd" "ndjson"
[ "$(wc -l <"$WORK/nd/ndjson/Patient.ndjson")" = "$N" ] || fail "ndjson: expected $N patients"
if [ -x "$REFCHECK" ]; then
    "$REFCHECK" --strict --max-print 30 "$WORK/nd/ndjson" || fail "ndjson: referential-integrity issues (above)"
fi
# shellcheck disable=SC2086
node "$CONF/validate.mjs" $PACKAGES --max-print 40 "$WORK/nd/ndjson" >"$WORK/validate-nd.log" 2>&1 ||
    { cat "$WORK/validate-nd.log"; fail "ndjson: the independent validator found errors (above)"; }
grep -E '^validate:' "$WORK/validate-nd.log"
fvalidate "$WORK/nd/ndjson"
[ "$after" = "$(requests)" ] || fail "ndjson from the cache sent requests"

M=20
for v in "anthropic:scripted" "openai:scripted --llm-stream" "anthropic:scripted --llm-stream"; do
    say "$v: $M patients, no cache"
    # shellcheck disable=SC2086
    llm "$WORK/v" $v -n $M --llm-jobs 8 --no-cache -q
    expect_ok "$WORK/v" "$v"
    for f in "$WORK/v/bundles"/*.json; do
        cmp -s "$f" "$WORK/openai/bundles/$(basename "$f")" || fail "$v: $(basename "$f") differs from the OpenAI run"
    done
    rm -rf "$WORK/v" "$WORK/v.log" "$WORK/v.summary.json"
done

if [ -n "${LLM_TEST_TLS_URL:-}" ]; then
    say "HTTPS with the test CA"
    "$FHIRGEN" generate --llm openai:scripted --llm-base-url "$LLM_TEST_TLS_URL/v1" \
        --llm-cacert "$LLM_TEST_CA" --seed $SEED --end-date $END -n 3 --no-cache -q \
        -o "$WORK/tls" >"$WORK/tls.log" 2>&1 || { cat "$WORK/tls.log"; fail "HTTPS run failed"; }
    cmp -s "$WORK/tls/bundles/patient-00000002.json" "$WORK/openai/bundles/patient-00000002.json" ||
        fail "HTTPS: patient 2 differs"
fi

say "fault-hallucinate: a made-up code and dates before birth, fixed in one repair round"
llm "$WORK/hal" openai:fault-hallucinate -n 4 --no-cache -q --price-in 0.15 --price-out 0.60
expect_ok "$WORK/hal" "fault-hallucinate"
python3 - "$WORK/hal.summary.json" <<'PY' || fail "fault-hallucinate: the cost is not the tokens times the prices"
import json, sys
l = json.load(open(sys.argv[1]))["llm"]
cost = (l["tokens_in"] * 0.15 + l["tokens_out"] * 0.60) / 1e6
assert l["tokens_in"] > 0 and l["tokens_out"] > 0 and abs(l["cost_usd"] - cost) < 1e-9, l
print(f"  tokens in {l['tokens_in']}, out {l['tokens_out']}, cost ${l['cost_usd']:.4f}")
PY
for k in patients_written:4 repairs:4 patients_repaired:4 hallucinated_codes:4 patients_dropped:0; do
    got=$(field "$WORK/hal.summary.json" "${k%%:*}")
    [ "$got" = "${k#*:}" ] || fail "fault-hallucinate: ${k%%:*} is $got, expected ${k#*:}"
done
# shellcheck disable=SC2086
node "$CONF/validate.mjs" $PACKAGES "$WORK/hal/bundles" >"$WORK/validate-hal.log" 2>&1 ||
    { cat "$WORK/validate-hal.log"; fail "repaired bundles do not validate"; }
say "ok"
