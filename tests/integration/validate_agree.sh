#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Peer agreement: fhirgen validate and @medplum/core validateResource give the
# same verdict (valid or not, structurally) on every resource of a corpus:
# engine output, the shared Synthea bulk NDJSON, and the invalid and valid
# cases of tests/data/validate. Each expected disagreement is listed with its
# reason in tests/conformance/agree-expected.tsv (tests/conformance/agree.mjs).
. "$(dirname "$0")/common.sh"

command -v node >/dev/null 2>&1 || skip "node is not installed"
CONF="$ROOT/tests/conformance"
if [ ! -d "$CONF/node_modules/@medplum/core" ]; then
    command -v npm >/dev/null 2>&1 || skip "npm is not installed"
    (cd "$CONF" && npm ci --no-audit --no-fund --loglevel=error) >"$WORK/npm.log" 2>&1 ||
        { cat "$WORK/npm.log"; skip "npm ci failed in tests/conformance (no registry?)"; }
fi
generate "$WORK/engine" -n 20 --seed 314 --format ndjson --jobs 2 --end-date 2026-01-01 --quiet
set -- "$WORK/engine/ndjson" "$ROOT/tests/data/validate"
if [ -d "$SHARED/corpora/synthea-bulk-ndjson" ]; then
    set -- "$@" "$SHARED/corpora/synthea-bulk-ndjson"
else
    say "the shared Synthea corpus is absent: engine output and the cases only"
fi
node "$CONF/agree.mjs" --fhirgen "$FHIRGEN" --expected "$CONF/agree-expected.tsv" --work "$WORK" "$@"
