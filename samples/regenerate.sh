#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Rebuild the golden cohort in samples/golden from the current code:
#   samples/regenerate.sh [path/to/fhirgen]
# tests/cli/golden.sh compares a fresh run with these files byte for byte,
# so run this (and review the diff) whenever output changes on purpose.
set -euo pipefail
cd "$(dirname "$0")/.."
fhirgen=${1:-build/cli/fhirgen}
args=(-n 3 --seed 2026 --end-date 2026-01-01 --jobs 1 --quiet)
rm -rf samples/golden
for f in bundle ndjson history; do
  "$fhirgen" generate "${args[@]}" --format "$f" --out samples/golden
done
echo "samples/golden: $(find samples/golden -type f | wc -l) files"
