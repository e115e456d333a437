#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Bad input gets a one-line error naming the problem, a non-zero exit, and
# leaves no half-written output behind.
#   usage: bad_input.sh path/to/fhirgen
set -uo pipefail
fhirgen=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

# expect CODE PATTERN -- command...: the exit code and a pattern of stderr.
expect() {
  local code=$1 pattern=$2
  shift 3
  "$@" >"$work/stdout" 2>"$work/stderr"
  local got=$?
  if [ "$got" -ne "$code" ] || ! grep -qiE -- "$pattern" "$work/stderr"; then
    echo "FAIL: $* -> exit $got (want $code), stderr:"
    sed 's/^/    /' "$work/stderr" | head -5
    failures=$((failures + 1))
  else
    echo "ok: $* -> exit $got: $(head -1 "$work/stderr")"
  fi
}

out="$work/out"
expect 2 "unrecognized option|unknown" -- "$fhirgen" generate --bogus
expect 2 "--age" -- "$fhirgen" generate --age 200-300 -o "$out"
expect 2 "--age" -- "$fhirgen" generate --age 80-20 -o "$out"
expect 2 "--sex.*female or male" -- "$fhirgen" generate --sex x -o "$out"
expect 2 "--shard" -- "$fhirgen" generate --shard 3/2 -o "$out"
expect 2 "--shard" -- "$fhirgen" generate --shard 0/2 -o "$out"
expect 2 "--count" -- "$fhirgen" generate -n 0 -o "$out"
expect 2 "--count" -- "$fhirgen" generate -n ten -o "$out"
expect 2 "--format" -- "$fhirgen" generate -f xml -o "$out"
expect 2 "--jobs" -- "$fhirgen" generate -j 0 -o "$out"
expect 2 "--end-date" -- "$fhirgen" generate --end-date 2025-02-30 -o "$out"
expect 2 "hypertension" -- "$fhirgen" generate --condition no_such_condition -o "$out"
expect 2 "state" -- "$fhirgen" generate --state ZZ -o "$out"
expect 2 "unknown command" -- "$fhirgen" frobnicate
[ -e "$out" ] && { echo "FAIL: a usage error created $out"; failures=$((failures + 1)); }

# An output folder that cannot be created.
touch "$work/a-file"
expect 1 "a-file" -- "$fhirgen" generate -n 2 -o "$work/a-file/sub"

# Writes that fail (a file size limit stands in for a full disk): exit 1,
# no patient file and no temporary file left.
(
  trap '' XFSZ
  ulimit -f 1
  exec "$fhirgen" generate -n 5 --seed 1 -q -o "$work/full"
) >"$work/stdout" 2>"$work/stderr"
code=$?
left=$(find "$work/full" -type f 2>/dev/null | wc -l)
if [ "$code" -eq 1 ] && grep -q "write failed" "$work/stderr" && [ "$left" -eq 0 ]; then
  echo "ok: failing writes -> exit 1: $(head -1 "$work/stderr")"
else
  echo "FAIL: failing writes -> exit $code, $left files left, stderr: $(head -2 "$work/stderr")"
  failures=$((failures + 1))
fi
(
  trap '' XFSZ
  ulimit -f 1
  exec "$fhirgen" generate -n 40 --seed 1 -q -f ndjson -o "$work/fullnd"
) >"$work/stdout" 2>"$work/stderr"
code=$?
left=$(find "$work/fullnd" -type f 2>/dev/null | wc -l)
if [ "$code" -eq 1 ] && [ "$left" -eq 0 ]; then
  echo "ok: failing NDJSON writes -> exit 1, nothing left"
else
  echo "FAIL: failing NDJSON writes -> exit $code, $left files left"
  failures=$((failures + 1))
fi

# map: malformed input names the file and the problem; nothing written for it.
printf '{"fhirgen_history": "1", "patient": ' >"$work/truncated.json"
expect 1 "truncated.json" -- "$fhirgen" map -o "$work/mapped" "$work/truncated.json"
expect 1 "no-such-file.json" -- "$fhirgen" map "$work/no-such-file.json"
echo '[1,2,3]' >"$work/array.json"
expect 1 "array.json" -- "$fhirgen" map "$work/array.json"
if [ -n "$(find "$work/mapped" -type f 2>/dev/null)" ]; then
  echo "FAIL: map left output for a rejected input"
  failures=$((failures + 1))
fi

# Help and version answer on stdout with exit 0.
for args in "--help" "--version" "generate --help" "map --help"; do
  # shellcheck disable=SC2086
  if "$fhirgen" $args >"$work/stdout" 2>&1 && [ -s "$work/stdout" ]; then
    echo "ok: fhirgen $args"
  else
    echo "FAIL: fhirgen $args"
    failures=$((failures + 1))
  fi
done

echo "bad_input: $failures failures"
[ "$failures" -eq 0 ]
