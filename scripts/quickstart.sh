#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Set everything up and make a first cohort with the built-in engine:
# 100 patients as FHIR R4 transaction Bundles in ./out/bundles.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec build/cli/fhirgen generate -n "${1:-100}" --seed 1 --out out
