#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# 200 patients, as bundles and as NDJSON, through an independent validator
# (tests/conformance/validate.mjs on @medplum/core): zero errors against base
# R4, the US Core 6.1.0 profiles each resource claims, and required
# bindings. Without the shared FHIR packages only base R4 is checked.
. "$(dirname "$0")/common.sh"

command -v node >/dev/null 2>&1 || skip "node is not installed"
command -v npm >/dev/null 2>&1 || skip "npm is not installed"
CONF="$ROOT/tests/conformance"
if [ ! -d "$CONF/node_modules/@medplum/core" ]; then
    say "installing the validator's pinned packages (npm ci)"
    (cd "$CONF" && npm ci --no-audit --no-fund --loglevel=error) >"$WORK/npm.log" 2>&1 ||
        { cat "$WORK/npm.log"; skip "npm ci failed (no registry?)"; }
fi

PACKAGES=""
if [ -d "$SHARED/fhir-packages/hl7.fhir.us.core#6.1.0/package" ]; then
    PACKAGES="--packages $SHARED/fhir-packages"
else
    say "the shared FHIR packages are absent: US Core profiles and bindings are not checked"
fi

N=${FHIRGEN_CONFORMANCE_PATIENTS:-200}
for fmt in bundle ndjson; do
    say "$fmt: generating $N patients"
    generate "$WORK/$fmt" -n "$N" --seed 4242 --format $fmt --jobs 2
    dir="$WORK/$fmt/bundles"
    [ $fmt = ndjson ] && dir="$WORK/$fmt/ndjson"
    say "$fmt: validating with @medplum/core"
    # shellcheck disable=SC2086 # PACKAGES is two words or none
    if ! node "$CONF/validate.mjs" $PACKAGES --max-print 40 "$dir" >"$WORK/validate-$fmt.log" 2>&1; then
        cat "$WORK/validate-$fmt.log"
        fail "$fmt: the independent validator found errors (above)"
    fi
    grep -E '^(not checked|validate):' "$WORK/validate-$fmt.log"
    if [ $fmt = ndjson ] && [ -x "$REFCHECK" ]; then
        say "ndjson: every Type/id reference names a resource of the cohort"
        "$REFCHECK" --strict --max-print 30 "$dir" || fail "ndjson: referential-integrity issues (above)"
    fi
done
say "ok"
