#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# A live run against a real model, when one is configured:
#   FHIRGEN_LIVE_LLM=openai:gpt-4o-mini (or anthropic:MODEL) and the
#   provider's key (OPENAI_API_KEY / ANTHROPIC_API_KEY; OPENAI_BASE_URL or
#   ANTHROPIC_BASE_URL for another endpoint). FHIRGEN_LIVE_PATIENTS patients
#   (default 3), no cache. Every bundle written must validate with zero
#   errors; dropped patients are allowed (a real model may fail its repair
#   rounds) but are listed. Skips (exit 77) with one line otherwise.
. "$(dirname "$0")/common.sh"

MODEL=${FHIRGEN_LIVE_LLM:-}
[ -n "$MODEL" ] || skip "FHIRGEN_LIVE_LLM is not set (e.g. openai:gpt-4o-mini)"
case $MODEL in
    openai:*) [ -n "${OPENAI_API_KEY:-}" ] || skip "OPENAI_API_KEY is not set" ;;
    anthropic:*) [ -n "${ANTHROPIC_API_KEY:-}" ] || skip "ANTHROPIC_API_KEY is not set" ;;
    *) fail "FHIRGEN_LIVE_LLM: '$MODEL' is not openai:MODEL or anthropic:MODEL" ;;
esac
N=${FHIRGEN_LIVE_PATIENTS:-3}

say "$MODEL: $N patients"
status=0
"$FHIRGEN" generate --llm "$MODEL" -n "$N" --seed 2024 --no-cache --llm-jobs 2 \
    -o "$WORK/out" --summary-json "$WORK/summary.json" 2>"$WORK/log" || status=$?
cat "$WORK/log"
[ "$status" = 0 ] || [ "$status" = 1 ] || fail "exit status $status"
[ -f "$WORK/summary.json" ] || fail "no summary (the run failed: above)"
written=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["patients_written"])' "$WORK/summary.json")
[ "$written" -gt 0 ] || fail "no patient was written"

CONF="$ROOT/tests/conformance"
if command -v node >/dev/null 2>&1 && [ -d "$CONF/node_modules/@medplum/core" ]; then
    PACKAGES=""
    [ -d "$SHARED/fhir-packages/hl7.fhir.us.core#6.1.0/package" ] && PACKAGES="--packages $SHARED/fhir-packages"
    # shellcheck disable=SC2086
    node "$CONF/validate.mjs" $PACKAGES --max-print 40 "$WORK/out/bundles" >"$WORK/validate.log" 2>&1 ||
        { cat "$WORK/validate.log"; fail "the independent validator found errors (above)"; }
    grep -E '^validate:' "$WORK/validate.log"
else
    say "tests/conformance is not installed: bundles not checked by the independent validator"
fi
if "$FHIRGEN" validate --help >/dev/null 2>&1; then
    "$FHIRGEN" validate "$WORK/out/bundles" >"$WORK/fvalidate.log" 2>&1 ||
        { tail -40 "$WORK/fvalidate.log"; fail "fhirgen validate found errors (above)"; }
fi
say "ok: $written of $N written"
