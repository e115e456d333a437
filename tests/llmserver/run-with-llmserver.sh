#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Start the LLM test server on 127.0.0.1 (a free port, HTTP and HTTPS), wait
# until it answers, run CMD with the server described in the environment,
# stop the server, exit with CMD's status.
#   LLM_TEST_URL         http://127.0.0.1:PORT  (OpenAI base: $LLM_TEST_URL/v1,
#                        Anthropic: $LLM_TEST_URL/v1/messages)
#   LLM_TEST_TLS_URL     https://127.0.0.1:PORT (unset with --no-tls)
#   LLM_TEST_CA          CA file that verifies the HTTPS certificate
#   LLM_TEST_KEY         the API key the server accepts (any other gets 401)
#   LLM_TEST_SERVER_PID
# Usage: run-with-llmserver.sh [--no-tls] [--key K] [server options ...] -- CMD [ARGS ...]
# Server options: see server.mjs --help (--stall-ms, --length-threshold, ...).
# Limits: server start 30 s; CMD LLM_TEST_TIMEOUT seconds (default 600).
# Exit 77 (skip) when node is missing.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tls=1
key=
command -v node >/dev/null || { echo "skip: node not installed" >&2; exit 77; }
command -v curl >/dev/null || { echo "skip: curl not installed" >&2; exit 77; }

tmp=$(mktemp -d)
pid=
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap "exit 130" INT TERM

# Server options (one per line) are the arguments before "--"; CMD follows.
: > "$tmp/opts"
while [ $# -gt 0 ] && [ "$1" != -- ]; do
    case $1 in
        --no-tls) tls=0 ;;
        --key) [ $# -ge 2 ] || { echo "run-with-llmserver.sh: --key needs a value" >&2; exit 2; }
               key=$2; shift ;;
        *) printf '%s\n' "$1" >> "$tmp/opts" ;;
    esac
    shift
done
[ $# -ge 2 ] || { echo "usage: run-with-llmserver.sh [--no-tls] [--key K] [server options] -- CMD..." >&2; exit 2; }
shift
: > "$tmp/cmd"
for a in "$@"; do printf '%s\n' "$a" >> "$tmp/cmd"; done
[ -n "$key" ] || key="test-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
if [ "$tls" = 1 ] && ! command -v openssl >/dev/null; then
    echo "run-with-llmserver.sh: openssl not installed, serving HTTP only" >&2
    tls=0
fi

set -- --key "$key"
while IFS= read -r a; do set -- "$@" "$a"; done < "$tmp/opts"
if [ "$tls" = 1 ]; then
    "$here/../fhirserver/make-certs.sh" "$tmp/certs" >/dev/null
    set -- "$@" --cert "$tmp/certs/server.pem" --key-file "$tmp/certs/server.key"
fi
timeout 7200 node "$here/server.mjs" "$@" > "$tmp/server.out" 2> "$tmp/server.err" &
pid=$!
url=
t=0
while [ "$t" -lt 300 ]; do
    url=$(sed -n 's/^listening //p' "$tmp/server.out" 2>/dev/null || true)
    tls_url=$(sed -n 's/^listening-tls //p' "$tmp/server.out" 2>/dev/null || true)
    if [ -n "$url" ] && { [ "$tls" = 0 ] || [ -n "$tls_url" ]; } &&
            curl -s -o /dev/null --max-time 2 "$url/health"; then
        break
    fi
    kill -0 "$pid" 2>/dev/null || { echo "llmserver did not start:" >&2; cat "$tmp/server.err" >&2; exit 1; }
    url=
    sleep 0.1
    t=$((t + 1))
done
[ -n "$url" ] || { echo "llmserver did not answer /health within 30 s" >&2; exit 1; }

set --
while IFS= read -r a; do set -- "$@" "$a"; done < "$tmp/cmd"
status=0
if [ "$tls" = 1 ]; then
    LLM_TEST_URL=$url LLM_TEST_TLS_URL=$tls_url LLM_TEST_CA=$tmp/certs/ca.pem LLM_TEST_KEY=$key \
        LLM_TEST_SERVER_PID=$pid timeout "${LLM_TEST_TIMEOUT:-600}" "$@" || status=$?
else
    LLM_TEST_URL=$url LLM_TEST_KEY=$key LLM_TEST_SERVER_PID=$pid \
        timeout "${LLM_TEST_TIMEOUT:-600}" "$@" || status=$?
fi
exit "$status"
