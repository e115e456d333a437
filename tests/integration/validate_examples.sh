#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The official FHIR R4 examples (npm package hl7.fhir.r4.examples 4.0.1,
# pinned in tests/examples) through fhirgen validate: every error it reports
# must be listed, with the reason it is a genuine violation, in
# tests/examples/expected-errors.tsv, and every listed error must still be
# reported. No false positives is the standard.
. "$(dirname "$0")/common.sh"

EX="$ROOT/tests/examples"
PKG="$EX/node_modules/hl7.fhir.r4.examples"
if [ ! -d "$PKG" ]; then
    command -v npm >/dev/null 2>&1 || skip "npm is not installed and tests/examples has no node_modules"
    say "installing the pinned examples package (npm ci)"
    (cd "$EX" && npm ci --no-audit --no-fund --loglevel=error) >"$WORK/npm.log" 2>&1 ||
        { cat "$WORK/npm.log"; skip "npm ci failed in tests/examples (no registry?)"; }
fi

say "validating $(ls "$PKG" | grep -c '\.json$') files"
"$FHIRGEN" validate --format outcome --jobs 2 "$PKG" >"$WORK/outcomes.ndjson" 2>"$WORK/summary.txt"
rc=$?
cat "$WORK/summary.txt" | head -1
[ $rc -le 1 ] || { cat "$WORK/summary.txt" >&2; fail "fhirgen validate exited $rc"; }

python3 - "$WORK/outcomes.ndjson" "$EX/expected-errors.tsv" <<'PY' || exit 1
import collections, json, sys
expected = collections.defaultdict(list)
for line in open(sys.argv[2]):
    if line.startswith("#") or line.startswith("file\t") or not line.strip():
        continue
    f, path, match, reason = line.rstrip("\n").split("\t")
    assert reason.strip(), "every listed error needs a reason: " + line
    expected[(f, path)].append([match, False])
unlisted = []
files = 0
for line in open(sys.argv[1]):
    oo = json.loads(line)
    f = oo["extension"][0]["valueString"].rsplit("/", 1)[-1]
    if f == "package.json":
        continue
    files += 1
    for i in oo.get("issue", []):
        if i["severity"] not in ("error", "fatal"):
            continue
        path = (i.get("expression") or [""])[0]
        text = i.get("diagnostics", "")
        for m in expected.get((f, path), []):
            if not m[1] and m[0] in text:
                m[1] = True
                break
        else:
            unlisted.append(f"{f}\t{path}\t{text}")
stale = [f"{f}\t{p}\t{m[0]}" for (f, p), ms in expected.items() for m in ms if not m[1]]
listed = sum(len(v) for v in expected.values())
print(f"validate_examples: {files} example files; {listed - len(stale)} listed genuine errors reported, "
      f"{len(unlisted)} unlisted errors, {len(stale)} listed errors no longer reported")
for u in unlisted[:60]:
    print("  unlisted:", u[:220])
if len(unlisted) > 60:
    print(f"  ... and {len(unlisted) - 60} more")
for s in stale[:30]:
    print("  no longer reported:", s)
sys.exit(1 if unlisted or stale else 0)
PY
