#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Read back from the FHIR server in FHIR_TEST_URL (trusting FHIR_TEST_CA) a
# sample of each TYPE and resolve every reference it holds: none may still be
# a urn:uuid placeholder, each must read. Prints one "ok:" line, or a "FAIL:"
# line naming WHAT and exits 1.
#   usage: refs_resolve.sh WHAT TYPE...
set -u
what=$1
shift
sample=$(mktemp) || { echo "FAIL: $what: cannot make a scratch file"; exit 1; }
trap 'rm -f "$sample"' EXIT
for t in "$@"; do
    curl -sf --retry 5 --retry-all-errors --cacert "$FHIR_TEST_CA" "$FHIR_TEST_URL/$t?_count=3" \
        >"$sample" || { echo "FAIL: $what: cannot search $t"; exit 1; }
    refs=$(python3 -c '
import json, sys
def walk(x):
    if isinstance(x, dict):
        for k, v in x.items():
            if k == "reference" and isinstance(v, str):
                print(v)
            else:
                walk(v)
    elif isinstance(x, list):
        for v in x:
            walk(v)
walk([e["resource"] for e in json.load(open(sys.argv[1])).get("entry", [])])' "$sample" | sort -u)
    [ -n "$refs" ] || { echo "FAIL: $what: no $t with references on the server"; exit 1; }
    for r in $refs; do
        case $r in urn:*) echo "FAIL: $what: $t on the server still holds $r"; exit 1 ;; esac
        curl -sf -o /dev/null --retry 5 --retry-all-errors --cacert "$FHIR_TEST_CA" "$FHIR_TEST_URL/$r" ||
            { echo "FAIL: $what: $t on the server refers to $r, which does not resolve"; exit 1; }
    done
done
echo "ok: $what: every reference of a sample of $* resolves on the server"
