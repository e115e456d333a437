#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Referential integrity of a 10,000-patient cohort: every reference resolves
# inside its Bundle, ids and identifiers are unique across the cohort,
# shared resources are identical wherever they appear, every resource says
# it is test data. Zero issues of any severity.
. "$(dirname "$0")/common.sh"
[ -n "$REFCHECK" ] && [ -x "$REFCHECK" ] || fail "no refcheck program given"

N=${FHIRGEN_REFCHECK_PATIENTS:-10000}
say "generating $N patients as bundles (seed 20240601)"
generate "$WORK/out" -n "$N" --seed 20240601 --format bundle --jobs 2
count=$(find "$WORK/out/bundles" -name '*.json' | wc -l)
[ "$count" -eq "$N" ] || fail "expected $N bundle files, found $count"

say "checking references, ids and identifiers across $count bundles"
if ! "$REFCHECK" --strict --max-print 30 "$WORK/out/bundles" >"$WORK/refcheck.log" 2>&1; then
    cat "$WORK/refcheck.log"
    fail "the cohort has referential-integrity issues (above)"
fi
tail -n 1 "$WORK/refcheck.log"
say "ok"
