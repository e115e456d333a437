#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Patient i of seed s is the same bytes whatever the thread count or shard:
# --jobs 1 and --jobs 2 give identical folders, and shards 1/3, 2/3, 3/3
# together give the unsharded cohort (bundles and NDJSON, ids included).
. "$(dirname "$0")/common.sh"

N=${FHIRGEN_DETERMINISM_PATIENTS:-60}
SEED=777

for fmt in bundle ndjson; do
    say "$fmt: $N patients with --jobs 1 and with --jobs 2"
    generate "$WORK/j1-$fmt" -n "$N" --seed $SEED --format $fmt --jobs 1
    generate "$WORK/j2-$fmt" -n "$N" --seed $SEED --format $fmt --jobs 2
    diff -r "$WORK/j1-$fmt" "$WORK/j2-$fmt" >"$WORK/diff.log" 2>&1 ||
        { head -n 20 "$WORK/diff.log"; fail "$fmt output differs between --jobs 1 and --jobs 2"; }

    say "$fmt: shards 1/3, 2/3, 3/3 against the unsharded cohort"
    for k in 1 2 3; do
        generate "$WORK/s$k-$fmt" -n "$N" --seed $SEED --format $fmt --jobs 2 --shard $k/3
    done
    mkdir -p "$WORK/merged-$fmt"
    if [ "$fmt" = bundle ]; then
        mkdir -p "$WORK/merged-$fmt/bundles"
        for k in 1 2 3; do
            for f in "$WORK/s$k-$fmt/bundles/"*.json; do
                [ -e "$f" ] || continue
                b=$(basename "$f")
                [ -e "$WORK/merged-$fmt/bundles/$b" ] && fail "shards overlap: $b is in two shards"
                cp "$f" "$WORK/merged-$fmt/bundles/$b"
            done
        done
        diff -r "$WORK/j1-$fmt/bundles" "$WORK/merged-$fmt/bundles" >"$WORK/diff.log" 2>&1 ||
            { head -n 20 "$WORK/diff.log"; fail "the three shards do not make the unsharded cohort (bundles)"; }
    else
        # Patient data concatenates in order; the shared resources
        # (Organization, Practitioner, Location) are listed once per file, so
        # a clinic two shards both use appears in both: compare those as sets.
        mkdir -p "$WORK/merged-$fmt/ndjson" "$WORK/sorted-$fmt"
        for f in "$WORK/j1-$fmt/ndjson/"*.ndjson; do
            t=$(basename "$f" .ndjson)
            for k in 1 2 3; do
                s="$WORK/s$k-$fmt/ndjson/$t.shard-$k-of-3.ndjson"
                [ -e "$s" ] || s="$WORK/s$k-$fmt/ndjson/$t.ndjson"
                [ -e "$s" ] && cat "$s"
            done >"$WORK/merged-$fmt/ndjson/$t.ndjson"
            case $t in
            Organization | Practitioner | Location)
                sort -u "$WORK/merged-$fmt/ndjson/$t.ndjson" -o "$WORK/merged-$fmt/ndjson/$t.ndjson"
                sort "$f" -o "$WORK/sorted-$fmt/$t.ndjson"
                cp "$WORK/sorted-$fmt/$t.ndjson" "$f"
                ;;
            esac
        done
        for k in 1 2 3; do
            for s in "$WORK/s$k-$fmt/ndjson/"*.ndjson; do
                t=$(basename "$s" .ndjson)
                t=${t%%.shard-*}
                [ -e "$WORK/j1-$fmt/ndjson/$t.ndjson" ] ||
                    fail "shard $k/3 writes $t, which the unsharded cohort does not"
            done
        done
        diff -r "$WORK/j1-$fmt/ndjson" "$WORK/merged-$fmt/ndjson" >"$WORK/diff.log" 2>&1 ||
            { head -n 20 "$WORK/diff.log"; fail "the three shards do not make the unsharded cohort (ndjson)"; }
    fi
done
say "ok"
