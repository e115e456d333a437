#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# What the engine makes validates: 50 patients as transaction Bundles and as
# NDJSON, through fhirgen validate against base R4 and, when the shared FHIR
# packages are present, US Core 6.1.0 (every resource claims a US Core
# profile). Zero errors is the standard.
. "$(dirname "$0")/common.sh"

IG=""
if [ -d "$SHARED/fhir-packages/hl7.fhir.us.core#6.1.0/package" ]; then
    IG="--packages $SHARED/fhir-packages --ig hl7.fhir.us.core#6.1.0"
else
    say "the shared FHIR packages are absent: only base R4 is checked"
fi
N=${FHIRGEN_VALIDATE_PATIENTS:-50}
status=0
for fmt in bundle ndjson; do
    generate "$WORK/$fmt" -n "$N" --seed 2718 --format $fmt --jobs 2 --end-date 2026-01-01 --quiet
    dir="$WORK/$fmt/bundles"
    [ $fmt = ndjson ] && dir="$WORK/$fmt/ndjson"
    # shellcheck disable=SC2086
    "$FHIRGEN" validate $IG --jobs 2 --format json-summary "$dir" >"$WORK/$fmt.json" 2>"$WORK/$fmt.err"
    rc=$?
    python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print("validate_engine: %s: %d files, %d resources, %d errors, %d warnings, %d not checked, %.2f s"
      % (sys.argv[2], s["files"], s["resources"], s["errors"], s["warnings"], s["not_checked_count"], s["seconds"]))
' "$WORK/$fmt.json" "$fmt" || { cat "$WORK/$fmt.err" >&2; fail "$fmt: no summary"; }
    if [ $rc -ne 0 ]; then
        # shellcheck disable=SC2086
        "$FHIRGEN" validate $IG -q "$dir" | head -40
        say "FAIL: $fmt: fhirgen validate exited $rc"
        status=1
    fi
done
exit $status
