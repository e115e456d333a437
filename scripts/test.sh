#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Set everything up and run the whole test suite:
#   1. install the build and test dependencies (apt, and npm for the
#      independent conformance checker) and build ./build;
#   2. run the unit and integration suites there;
#   3. rebuild with AddressSanitizer and UndefinedBehaviorSanitizer in
#      ./build-sanitize and run the unit suite again.
# Ends with the line "N passed, N failed" (meson tests, both builds).
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }

# The integration tests need Node.js (the conformance checker and the FHIR
# test server, both on pinned npm packages), curl and python3; the HAPI FHIR
# server (tests/servers/hapi) Java 17 and Maven, PostgreSQL and nginx.
need=()
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
if [ "${#need[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "test: installing ${need[*]}"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
for dir in tests/conformance tests/fhirserver tests/examples; do
  if [ -f "$dir/package-lock.json" ] && [ ! -d "$dir/node_modules" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) ||
      echo "test: npm ci failed in $dir; its tests will report it"
  fi
done

status=0
meson test -C build --print-errorlogs --num-processes 2 || status=1

if [ ! -d build-sanitize ]; then
  meson setup build-sanitize -Dbuildtype=debug -Db_sanitize=address,undefined \
    -Db_lundef=false >/dev/null
fi
ninja -C build-sanitize >/dev/null || status=1
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-sanitize --suite unit --print-errorlogs --num-processes 2 \
  --timeout-multiplier 4 || status=1

python3 - build/meson-logs/testlog.json build-sanitize/meson-logs/testlog.json <<'PY'
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        failed += 1
        continue
    for line in lines:
        r = json.loads(line).get("result")
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
