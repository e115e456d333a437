#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# fhirgen validate as a command: exit codes, the three output formats, NDJSON
# line numbers, folders, standard input, and untrusted input (malformed JSON
# with its line and column, deep nesting, an over-long NDJSON line, a broken
# or missing package): a clear message and no crash.
. "$(dirname "$0")/common.sh"

V() { "$FHIRGEN" validate "$@"; }
expect_rc() { # expect_rc WANT TITLE -- command...
    want=$1; title=$2; shift 3
    "$@" >"$WORK/out" 2>"$WORK/err"
    got=$?
    [ "$got" -eq "$want" ] || { cat "$WORK/out" "$WORK/err" >&2; fail "$title: exit $got, expected $want"; }
    say "ok: $title (exit $got)"
}
has() { grep -q -- "$1" "$WORK/$2" || { cat "$WORK/out" "$WORK/err" >&2; fail "missing '$1' in $2"; }; }

TEXT='"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}'
printf '{"resourceType":"Patient","id":"a",%s,"gender":"female"}\n' "$TEXT" >"$WORK/good.json"
printf '{"resourceType":"Patient","id":"b",%s,"gender":"woman"}\n' "$TEXT" >"$WORK/bad.json"
printf '{"resourceType":"Patient",\n  "id": "c",\n  "gender": }\n' >"$WORK/broken.json"

expect_rc 0 "a valid resource" -- V "$WORK/good.json"
has "1 file, 1 resource: 0 errors" out
expect_rc 1 "an invalid resource" -- V "$WORK/bad.json"
has "Patient.gender" out
expect_rc 1 "malformed JSON names line and column" -- V "$WORK/broken.json"
has "line 3" out
expect_rc 2 "a missing file" -- V "$WORK/nope.json"
has "nope.json" err
expect_rc 2 "no input" -- V
expect_rc 2 "a bad --format" -- V --format xml "$WORK/good.json"
expect_rc 2 "a bad --jobs" -- V --jobs 0 "$WORK/good.json"
expect_rc 0 "--help" -- V --help
has "Exit status" out
has "not checked" out

# NDJSON: messages carry line numbers; blank lines are skipped but counted.
{ cat "$WORK/good.json"; echo; cat "$WORK/bad.json"; echo '{"resourceType":"Patient",'; cat "$WORK/good.json"; } >"$WORK/mixed.ndjson"
expect_rc 1 "NDJSON with two bad lines" -- V --jobs 2 "$WORK/mixed.ndjson"
has "line 3: error binding Patient.gender" out
has "line 4: fatal json" out
has "1 file, 4 resources: 2 errors" out

# The same through standard input, and as outcomes (one per line with issues).
expect_rc 1 "NDJSON on standard input" -- sh -c "\"$FHIRGEN\" validate - <\"$WORK/mixed.ndjson\""
has "line 3: error binding" out
expect_rc 1 "outcome format" -- V --format outcome "$WORK/mixed.ndjson"
[ "$(wc -l <"$WORK/out")" -eq 2 ] || fail "outcome: expected 2 OperationOutcomes, got $(wc -l <"$WORK/out")"
python3 -c '
import json, sys
for line in open(sys.argv[1]):
    oo = json.loads(line)
    assert oo["resourceType"] == "OperationOutcome", oo
    assert any(e["url"].endswith("operationoutcome-file") for e in oo["extension"]), oo
' "$WORK/out" || fail "outcome: not OperationOutcomes naming their file"
expect_rc 1 "json-summary" -- V --format json-summary "$WORK/mixed.ndjson" "$WORK/good.json"
python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert s["files"] == 2 and s["resources"] == 5 and s["errors"] == 2, s
assert "not_checked" in s and "seconds" in s, s
' "$WORK/out" || fail "json-summary: wrong counts"

# A folder, recursively: *.json and *.ndjson only.
mkdir -p "$WORK/tree/a/b"
cp "$WORK/good.json" "$WORK/tree/a/one.json"
cp "$WORK/bad.json" "$WORK/tree/a/b/two.json"
echo "not json" >"$WORK/tree/a/readme.txt"
expect_rc 1 "a folder" -- V "$WORK/tree"
has "2 files, 2 resources: 1 error" out
has "tree/a/b/two.json" out

# A Bundle's entries count as resources in the summary (a Bundle holding two
# Patients is three resources read).
printf '{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:7f0c2a4e-3d7b-4c59-9a57-1d2e3f4a5b6c","resource":{"resourceType":"Patient",%s}},{"fullUrl":"urn:uuid:0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9","resource":{"resourceType":"Patient",%s}}]}\n' "$TEXT" "$TEXT" >"$WORK/bundle.json"
expect_rc 0 "a collection Bundle" -- V "$WORK/bundle.json"
has "1 file, 3 resources: 0 errors" out

# Deep nesting (2,000 levels) and a 70 MB NDJSON line: errors, not crashes.
python3 -c 'print("{\"resourceType\":\"Patient\",\"extension\":" + "[{\"url\":\"x\",\"extension\":" * 2000 + "[]" + "}]" * 2000 + "}")' >"$WORK/deep.json"
expect_rc 1 "2,000 levels of nesting" -- V "$WORK/deep.json"
python3 -c '
import sys
with open(sys.argv[1], "w") as f:
    f.write("{\"resourceType\":\"Patient\",\"id\":\"" + "a" * (70 << 20) + "\"}\n")
    f.write("{\"resourceType\":\"Patient\",\"id\":\"z\",\"gender\":\"female\"}\n")
' "$WORK/long.ndjson"
expect_rc 1 "an NDJSON line over the limit" -- V "$WORK/long.ndjson"
has "line 1: error json: longer than" out
has "2 resources" out

# Packages: a missing one and a broken one are clear errors (exit 2).
expect_rc 2 "a package not in the cache" -- V --packages "$WORK/cache" --ig no.such.package#1.0.0 "$WORK/good.json"
has "no.such.package" err
mkdir -p "$WORK/cache/broken.pkg#1.0.0/package"
echo '{"name":"broken.pkg","version":"1.0.0"}' >"$WORK/cache/broken.pkg#1.0.0/package/package.json"
echo '{"resourceType":"StructureDefinition", "url": ' >"$WORK/cache/broken.pkg#1.0.0/package/StructureDefinition-x.json"
expect_rc 2 "a package with a broken file" -- V --packages "$WORK/cache" --ig broken.pkg#1.0.0 "$WORK/good.json"
has "StructureDefinition-x.json" err
expect_rc 2 "--profile that is not loaded" -- V --profile http://example.org/StructureDefinition/none "$WORK/good.json"

if [ -d "$SHARED/fhir-packages/hl7.fhir.us.core#6.1.0/package" ]; then
    expect_rc 1 "US Core from the cache: a Patient without identifier" -- \
        V --packages "$SHARED/fhir-packages" --ig hl7.fhir.us.core#6.1.0 \
          --profile http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient "$WORK/good.json"
else
    say "the shared FHIR packages are absent: the US Core check is skipped"
fi
say "all checks passed"
