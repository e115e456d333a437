#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A cohort of 1,000,000 patients made by a Slurm job array of 20 tasks.
#
#   sbatch samples/slurm-array.sh
#
# Task k makes slice k of 20 with --shard; the slices are disjoint and their
# union is exactly the single-machine cohort (same seed, same ids), so a
# failed task can be resubmitted alone: sbatch --array=7 samples/slurm-array.sh
#SBATCH --job-name=fhirgen
#SBATCH --array=1-20
#SBATCH --cpus-per-task=2
#SBATCH --mem=1G
#SBATCH --time=00:30:00
#SBATCH --output=fhirgen-%A-%a.log
set -euo pipefail

OUT=${FHIRGEN_OUT:-$PWD/cohort}
exec fhirgen generate \
  -n 1000000 --seed 20260101 --end-date 2026-01-01 \
  --shard "${SLURM_ARRAY_TASK_ID}/20" \
  --jobs "${SLURM_CPUS_PER_TASK:-2}" --quiet \
  --format ndjson --out "$OUT" \
  --summary-json "$OUT/summary-${SLURM_ARRAY_TASK_ID}-of-20.json"
