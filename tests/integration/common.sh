# Shared by the cohort integration tests; sourced, not run.
# Arguments of every script: FHIRGEN REFCHECK (paths of the built programs).

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SHARED="$ROOT/../shared"
FHIRGEN=${1:-}
REFCHECK=${2:-}
NAME=$(basename "$0" .sh)

say() { printf '%s: %s\n' "$NAME" "$*"; }
fail() { printf '%s: FAIL: %s\n' "$NAME" "$*" >&2; exit 1; }
skip() { printf '%s: SKIP: %s\n' "$NAME" "$*"; exit 77; }

[ -n "$FHIRGEN" ] && [ -x "$FHIRGEN" ] || skip "no fhirgen program given (is the CLI built?)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fhirgen-$NAME.XXXXXX") || fail "cannot make a scratch folder"
trap 'rm -rf "$WORK"' EXIT INT TERM

# generate OUT ARGS...: run fhirgen generate into OUT, failing with its output.
generate() {
    out=$1
    shift
    if ! "$FHIRGEN" generate --out "$out" "$@" >"$WORK/generate.log" 2>&1; then
        cat "$WORK/generate.log" >&2
        fail "fhirgen generate --out $out $* failed"
    fi
}
