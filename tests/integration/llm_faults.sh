#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# fhirgen generate --llm against every fault of the LLM test server, and
# bad input. Each case shows its behaviour:
#   retried and written: fault-429, fault-500, fault-length (budget doubled)
#   dropped and reported (exit 1, the patient in --summary-json "dropped"):
#     fault-hopeless, fault-badjson, fault-schema, fault-refusal,
#     fault-oversize, length-always
#   the run stops with one line (exit 1), finished patients kept:
#     fault-html, fault-stall, unknown model (404), wrong key (401),
#     unreachable endpoint
#   a missing prompt file: exit 2 naming the file; Ctrl-C: exit 130, every
#   finished bundle kept, no temporary file left.
if [ -z "${LLM_TEST_URL:-}" ] && command -v node >/dev/null 2>&1; then
    LLM_TEST_TIMEOUT=${LLM_TEST_TIMEOUT:-900} exec \
        "$(dirname "$0")/../llmserver/run-with-llmserver.sh" --stall-ms 4000 \
        --length-threshold 12000 -- "$0" "$@"
fi
. "$(dirname "$0")/common.sh"
command -v node >/dev/null 2>&1 || skip "node is not installed"
command -v python3 >/dev/null 2>&1 || skip "python3 is not installed"

export OPENAI_API_KEY="$LLM_TEST_KEY" ANTHROPIC_API_KEY="$LLM_TEST_KEY"
unset OPENAI_BASE_URL ANTHROPIC_BASE_URL
END=2025-06-01

# llm NAME PROVIDER:MODEL ARGS...: a run into $WORK/NAME; status in $status,
# stderr in $WORK/NAME.log
llm() {
    name=$1 model=$2
    shift 2
    case $model in
        openai:*) base=$LLM_TEST_URL/v1 ;;
        *) base=$LLM_TEST_URL ;;
    esac
    status=0
    "$FHIRGEN" generate --llm "$model" --llm-base-url "$base" --seed 7 --end-date $END \
        -o "$WORK/$name" --summary-json "$WORK/$name.json" --no-cache "$@" \
        >"$WORK/$name.out" 2>"$WORK/$name.log" || status=$?
}
field() {
    python3 -c 'import json,sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v = v[k]
print(v)' "$1" "$2"
}
# expect NAME STATUS KEY=VALUE...: exit status and summary members
expect() {
    name=$1 want=$2
    shift 2
    [ "$status" = "$want" ] || { cat "$WORK/$name.log" >&2; fail "$name: exit $status, expected $want"; }
    for kv in "$@"; do
        got=$(field "$WORK/$name.json" "${kv%%=*}")
        [ "$got" = "${kv#*=}" ] || { cat "$WORK/$name.log" >&2; fail "$name: ${kv%%=*} is $got, expected ${kv#*=}"; }
    done
    files=$(ls "$WORK/$name/bundles" 2>/dev/null | wc -l)
    say "  $name: exit $status, $files bundles; $(grep -m1 'dropped:\|fhirgen generate:' "$WORK/$name.log" | cut -c1-150)"
}
# one_line NAME PATTERN: the failure is one line of stderr (before the summary) matching PATTERN
one_line() {
    n=$(grep '^fhirgen generate: ' "$WORK/$1.log" | grep -v ' patients written, \|finished before the failure' | grep -c . || true)
    [ "$n" = 1 ] || { cat "$WORK/$1.log" >&2; fail "$1: expected one error line before the summary"; }
    grep -q "$2" "$WORK/$1.log" || { cat "$WORK/$1.log" >&2; fail "$1: no line matching '$2'"; }
    ! grep -q "$LLM_TEST_KEY" "$WORK/$1.log" || fail "$1: the API key appears in the output"
}

for p in openai anthropic; do
    say "$p: faults that are retried"
    llm 429-$p $p:fault-429 -n 3
    expect 429-$p 0 patients_written=3 llm.rate_limited=3
    llm 500-$p $p:fault-500 -n 3
    expect 500-$p 0 patients_written=3 llm.retries=3
    llm length-$p $p:fault-length -n 3
    expect length-$p 0 patients_written=3 truncations=3

    say "$p: answers that are dropped and reported"
    llm hopeless-$p $p:fault-hopeless -n 2
    expect hopeless-$p 1 patients_written=0 patients_dropped=2 repairs=4
    grep -q "patient 0 dropped: .* after 2 repair rounds" "$WORK/hopeless-$p.log" || fail "hopeless: no drop line"
    [ "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["dropped"]; print(len(d), len(d[0]["errors"]) > 0)' "$WORK/hopeless-$p.json")" = "2 True" ] ||
        fail "hopeless: the summary does not list the dropped patients with their errors"
    llm badjson-$p $p:fault-badjson -n 2 --repair-rounds 1
    expect badjson-$p 1 patients_dropped=2 repairs=2
    llm schema-$p $p:fault-schema -n 2 --repair-rounds 1
    expect schema-$p 1 patients_dropped=2 repairs=2
    llm refusal-$p $p:fault-refusal -n 2
    expect refusal-$p 1 patients_dropped=2 refusals=2 repairs=0
    grep -q "dropped: the model refused" "$WORK/refusal-$p.log" || fail "refusal: no drop line"
    llm oversize-$p $p:fault-oversize -n 2
    expect oversize-$p 1 patients_dropped=2
    llm lengthalways-$p $p:fault-length-always -n 1
    expect lengthalways-$p 1 patients_dropped=1 truncations=2

    say "$p: failures that stop the run"
    llm html-$p $p:fault-html -n 2
    expect html-$p 1 patients_written=0
    one_line html-$p "HTML"
    llm stall-$p $p:fault-stall -n 1 --llm-timeout 1
    expect stall-$p 1 patients_written=0
    one_line stall-$p "no answer within"
    llm unknown-$p $p:no-such-model -n 2
    expect unknown-$p 1 patients_written=0
    one_line unknown-$p "not found"
    OPENAI_API_KEY=wrong-key ANTHROPIC_API_KEY=wrong-key llm key-$p $p:scripted -n 2
    expect key-$p 1 patients_written=0
    one_line key-$p "refused"
done

say "a failure after finished patients (from the cache): those are kept"
"$FHIRGEN" generate --llm openai:scripted --llm-base-url "$LLM_TEST_URL/v1" --seed 7 \
    --end-date $END -n 3 --cache "$WORK/cache" -o "$WORK/warm" -q 2>"$WORK/warm.log" ||
    { cat "$WORK/warm.log"; fail "warming the cache failed"; }
status=0
OPENAI_API_KEY=wrong-key "$FHIRGEN" generate --llm openai:scripted --llm-base-url "$LLM_TEST_URL/v1" \
    --seed 7 --end-date $END -n 6 --llm-jobs 1 --cache "$WORK/cache" -o "$WORK/kept" \
    --summary-json "$WORK/kept.json" >/dev/null 2>"$WORK/kept.log" || status=$?
expect kept 1 patients_written=3 llm.cache_hits=3
one_line kept "refused"
grep -q "3 patients finished before the failure are kept" "$WORK/kept.log" || fail "kept: no kept line"

say "unreachable endpoint"
llm unreach openai:scripted -n 1 --llm-base-url "http://127.0.0.1:1/v1"
expect unreach 1 patients_written=0
one_line unreach "connect"

say "missing prompt file"
mkdir -p "$WORK/prompts"
cp "$ROOT/data/prompts/system.txt" "$ROOT/data/prompts/patient.txt" "$WORK/prompts/"
llm prompts openai:scripted -n 1 --prompt-dir "$WORK/prompts"
[ "$status" = 2 ] || fail "missing prompt: exit $status, expected 2"
grep -q "prompts/repair.txt: prompt template missing" "$WORK/prompts.log" || { cat "$WORK/prompts.log"; fail "missing prompt: no clear error"; }
printf 'Fix {{erors}}\n' >"$WORK/prompts/repair.txt"
llm prompts2 openai:scripted -n 1 --prompt-dir "$WORK/prompts"
[ "$status" = 2 ] || fail "unknown placeholder: exit $status, expected 2"
grep -q "repair.txt:1: unknown placeholder {{erors}}" "$WORK/prompts2.log" || { cat "$WORK/prompts2.log"; fail "unknown placeholder: no clear error"; }

say "a scenario file that is not UTF-8"
printf 'A patient with \377\376 broken text\n' >"$WORK/scenario.txt"
llm scenario openai:scripted -n 1 --scenario-file "$WORK/scenario.txt"
[ "$status" = 2 ] || fail "scenario not UTF-8: exit $status, expected 2"
grep -q "scenario.txt: the scenario file is not UTF-8 text" "$WORK/scenario.log" || { cat "$WORK/scenario.log"; fail "scenario not UTF-8: no clear error"; }

say "interrupted: finished patients kept, nothing half-written"
"$FHIRGEN" generate --llm openai:fault-delay-1000 --llm-base-url "$LLM_TEST_URL/v1" --seed 7 \
    --end-date $END -n 40 --llm-jobs 2 --no-cache -o "$WORK/int" -q 2>"$WORK/int.log" &
pid=$!
sleep 3.5
kill -INT $pid
status=0
wait $pid || status=$?
[ "$status" = 130 ] || { cat "$WORK/int.log"; fail "interrupted: exit $status, expected 130"; }
n=$(ls "$WORK/int/bundles" | wc -l)
[ "$n" -ge 2 ] && [ "$n" -lt 40 ] || fail "interrupted: $n bundles"
[ -z "$(find "$WORK/int" -name '*.tmp')" ] || fail "interrupted: temporary files left"
for f in "$WORK/int/bundles"/*.json; do
    python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$f" || fail "interrupted: $f is not whole"
done
say "  $n bundles kept"
say "ok"
