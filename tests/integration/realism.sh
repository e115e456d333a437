#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The realism rules (validators/fg_realism.h) over a 2,000-patient cohort of
# the built-in engine: every defect with a gate (max_per_1000 in
# data/tables/realism_targets.tsv) must stay under it. The full table is
# printed, so a failing run shows every figure; docs/realism.md explains them.
. "$(dirname "$0")/common.sh"

N=${FHIRGEN_REALISM_PATIENTS:-2000}
REALISM="$(dirname "$(dirname "$FHIRGEN")")/tests/tools/realism"
[ -x "$REALISM" ] || skip "the realism program is not built ($REALISM)"

say "$N patients, seed 2026, as histories"
generate "$WORK/cohort" -n "$N" --seed 2026 --end-date 2026-01-01 --quiet -f history
"$REALISM" --json "$WORK/realism.json" "$WORK/cohort"
rc=$?
case $rc in
0) say "every gated rule is under its gate" ;;
3) fail "a gated realism rule is over its gate (see above)" ;;
*) fail "the realism program exited with $rc" ;;
esac
