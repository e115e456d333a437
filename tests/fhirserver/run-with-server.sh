#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Start the FHIR test server on 127.0.0.1, wait until /metadata answers, run
# CMD with the server described in the environment, stop the server, exit
# with CMD's status.
#   FHIR_TEST_URL       https://127.0.0.1:PORT
#   FHIR_TEST_CA        CA file that verifies the server certificate
#   FHIR_TEST_CERTS     folder of make-certs.sh output (client cert, SMART keys, ...)
#   FHIR_TEST_SERVER_PID
# Usage: run-with-server.sh [--certs DIR] [server options ...] -- CMD [ARGS ...]
# Without --certs, certificates are made in a temporary folder.
# Limits: server start 30 s; CMD FHIR_TEST_TIMEOUT seconds (default 600).
# Exit 77 (skip) when node or the server's npm packages are missing.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
certs=
if [ "${1:-}" = --certs ]; then certs=$2; shift 2; fi
command -v node >/dev/null || { echo "skip: node not installed" >&2; exit 77; }
[ -d "$here/node_modules/@medplum/fhir-router" ] || {
    echo "skip: run 'npm ci' in tests/fhirserver first" >&2; exit 77; }

tmp=$(mktemp -d)
pid=
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap "exit 130" INT TERM
if [ -z "$certs" ]; then certs=$tmp/certs; "$here/make-certs.sh" "$certs" >/dev/null; fi

# Server options (one per line) are the arguments before "--"; CMD follows.
: > "$tmp/opts"
while [ $# -gt 0 ] && [ "$1" != -- ]; do printf '%s\n' "$1" >> "$tmp/opts"; shift; done
[ $# -ge 2 ] || { echo "usage: run-with-server.sh [--certs DIR] [server options] -- CMD..." >&2; exit 2; }
shift
: > "$tmp/cmd"
for a in "$@"; do printf '%s\n' "$a" >> "$tmp/cmd"; done

set --
while IFS= read -r a; do set -- "$@" "$a"; done < "$tmp/opts"
timeout 3600 node "$here/server.mjs" --cert "$certs/server.pem" --key "$certs/server.key" \
    --ca "$certs/ca.pem" "$@" > "$tmp/server.out" 2> "$tmp/server.err" &
pid=$!
url=
t=0
while [ "$t" -lt 300 ]; do
    url=$(sed -n '1s/^listening //p' "$tmp/server.out" 2>/dev/null || true)
    if [ -n "$url" ] && curl -s -o /dev/null --max-time 2 --cacert "$certs/ca.pem" \
            --cert "$certs/client.pem" --key "$certs/client.key" "$url/metadata"; then
        break
    fi
    kill -0 "$pid" 2>/dev/null || { echo "fhirserver did not start:" >&2; cat "$tmp/server.err" >&2; exit 1; }
    url=
    sleep 0.1
    t=$((t + 1))
done
[ -n "$url" ] || { echo "fhirserver did not answer /metadata within 30 s" >&2; exit 1; }

set --
while IFS= read -r a; do set -- "$@" "$a"; done < "$tmp/cmd"
status=0
FHIR_TEST_URL=$url FHIR_TEST_CA=$certs/ca.pem FHIR_TEST_CERTS=$certs FHIR_TEST_SERVER_PID=$pid \
    timeout "${FHIR_TEST_TIMEOUT:-600}" "$@" || status=$?
exit "$status"
