#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Self-test of the LLM test server, driven with curl: both protocols plain
# and streamed, the structured-output modes and their fallbacks, keys and
# headers, every fault, /stats, HTTPS, 32 requests in flight. With FHIRGEN
# (the built program) the scripted answers are also mapped to FHIR by
# `fhirgen map`, which grounds every code against the terminology tables.
# Usage: selftest.sh [FHIRGEN]
# Starts its own server (run-with-llmserver.sh) unless LLM_TEST_URL is set.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${LLM_TEST_URL:-}" ]; then
    exec "$here/run-with-llmserver.sh" --stall-ms 3000 -- "$0" "$@"
fi
fhirgen=${1:-}
export FHIRGEN_DATA_DIR="${FHIRGEN_DATA_DIR:-$here/../../data}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
lib="$here/selftest-lib.mjs"
url=$LLM_TEST_URL
key=$LLM_TEST_KEY
pass=0
failed=0

ok() { pass=$((pass + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

# The requests are planned first (one line each: NAME PROTO MODE MODEL
# [flags], see selftest-lib.mjs), their bodies written by one node process,
# sent in plan order by curl, and decoded by one node process; then checked.
plan=$tmp/plan
: > "$plan"
p() { printf '%s\n' "$*" >> "$plan"; }

# expect NAME WANTED-STATUS FACT...: each FACT (key=value) must be a fact of
# answer NAME.
expect() {
    name=$1 want=$2
    shift 2
    status=$(cat "$tmp/$name.status" 2>/dev/null || echo none)
    facts=$(cat "$tmp/$name.facts" 2>/dev/null || echo none)
    [ "$status" = "$want" ] || { bad "$name: status $status, expected $want ($(head -c 300 "$tmp/$name.out"))"; return; }
    for f in "$@"; do
        case " $facts " in *" $f "*) ;; *) bad "$name: expected $f in: $(printf '%s' "$facts" | cut -c1-300)"; return ;; esac
    done
    ok
}

# ---- the plan -------------------------------------------------------------------
p oa-schema openai schema scripted --index 3
p oa-stream openai schema scripted --index 4 --stream --usage
p oa-json openai json scripted --index 5
p oa-text openai text scripted --index 6
p oa-text-stream openai text scripted --index 6 --stream
p an-tool anthropic tool scripted --index 7
p an-tool-stream anthropic tool scripted --index 8 --stream
p an-text anthropic text scripted --index 9
p an-text-stream anthropic text scripted --index 10 --stream
for i in 11 12 13 14 20 27; do p idx-$i openai schema scripted --index $i; done
p det-a openai schema scripted --index 3
p unknown openai schema no-such-model
p unknown-an anthropic tool no-such-model
p noskel openai schema scripted --no-skeleton
p loose openai schema scripted --loose-schema
p nos openai schema nostructured-scripted
p nos-json openai json nostructured-scripted
p nos-text openai text nostructured-scripted
p nos-an anthropic tool nostructured-scripted
p nos-an-text anthropic text nostructured-scripted
for pr in openai anthropic; do
    m=schema
    [ $pr = anthropic ] && m=tool
    p f429-$pr $pr $m fault-429 --index 1
    p f429b-$pr $pr $m fault-429 --index 1
    p f500-$pr $pr $m fault-500 --index 1
    p f500b-$pr $pr $m fault-500 --index 1
    p flen-$pr $pr $m fault-length --max-tokens 1000
    p flen-s-$pr $pr $m fault-length --max-tokens 1000 --stream
    p flen-big-$pr $pr $m fault-length --max-tokens 20000
    p flen-always-$pr $pr $m fault-length-always --max-tokens 20000
    p fbad-$pr $pr $m fault-badjson
    p fbad-s-$pr $pr $m fault-badjson --stream
    p fschema-$pr $pr $m fault-schema
    p fhall-$pr $pr $m fault-hallucinate --index 2
    p fhall-r-$pr $pr $m fault-hallucinate --index 2 --repair
    p fhope-r-$pr $pr $m fault-hopeless --index 2 --repair
    p fhtml-$pr $pr $m fault-html
    p fbig-$pr $pr $m fault-oversize
    p fmid-$pr $pr $m fault-midstream --stream --index 4
    p fmid-b-$pr $pr $m fault-midstream --stream --index 4
done
p fref openai schema fault-refusal
p fref-s openai schema fault-refusal --stream
p ffilter openai schema fault-filter
p ffilter-s openai schema fault-filter --stream
p ffilter-an anthropic tool fault-filter --stream
p fref-an anthropic tool fault-refusal
p fref-an-s anthropic tool fault-refusal --stream
# Bodies sent by hand below (not by the loop): names start with "x-".
p x-r openai schema scripted
p x-ra anthropic tool scripted
p x-stall openai schema fault-stall
p x-delay openai schema fault-delay-1000

node "$lib" requests "$plan" "$tmp"
while read -r name pr rest; do
    case $name in x-*) continue ;; esac
    if [ "$pr" = anthropic ]; then
        set -- -H "x-api-key: $key" -H 'anthropic-version: 2023-06-01' "$url/v1/messages"
    else
        set -- -H "Authorization: Bearer $key" "$url/v1/chat/completions"
    fi
    curl -s -o "$tmp/$name.out" -D "$tmp/$name.out.h" -w '%{http_code}' -H 'content-type: application/json' \
        --data-binary "@$tmp/$name.req" "$@" > "$tmp/$name.status" || true
done < "$plan"
node "$lib" decode-all "$plan" "$tmp"

# ---- scripted answers, both protocols, all modes -------------------------
expect oa-schema 200 finish=stop kind=text fenced=0 history_ok=1 unknown_codes=0 before_birth=0
expect oa-stream 200 finish=stop done=1 kind=text history_ok=1 unknown_codes=0
grep -q 'usage_in=0 ' "$tmp/oa-stream.facts" && bad "oa-stream: no usage chunk"
expect oa-json 200 finish=stop fenced=0 history_ok=1 unknown_codes=0
expect oa-text 200 finish=stop fenced=1 history_ok=1 unknown_codes=0
expect oa-text-stream 200 finish=stop done=1 fenced=1 history_ok=1
expect an-tool 200 finish=tool_use kind=tool history_ok=1 unknown_codes=0 before_birth=0
expect an-tool-stream 200 finish=tool_use kind=tool done=1 order=ok history_ok=1 unknown_codes=0
expect an-text 200 finish=end_turn kind=text fenced=1 history_ok=1
expect an-text-stream 200 finish=end_turn kind=text done=1 order=ok fenced=1 history_ok=1
for i in 11 12 13 14 20 27; do
    expect idx-$i 200 history_ok=1 unknown_codes=0 before_birth=0
done
# Deterministic by index, varied across indexes.
cmp -s "$tmp/det-a.history.json" "$tmp/oa-schema.history.json" && ok || bad "index 3 answered differently twice"
cmp -s "$tmp/idx-11.history.json" "$tmp/idx-13.history.json" && bad "indexes 11 and 13 gave the same story" || ok
grep -q 'usage_out=0 ' "$tmp/oa-schema.facts" && bad "no completion tokens counted" || ok

# The scripted histories map to FHIR (every code grounded) with the built program.
if [ -n "$fhirgen" ]; then
    set --
    for n in oa-schema oa-stream oa-text an-tool an-tool-stream idx-11 idx-12 idx-13 idx-14 idx-20 idx-27; do
        set -- "$@" "$tmp/$n.history.json"
    done
    mkdir -p "$tmp/map"
    if "$fhirgen" map -o "$tmp/map" "$@" > "$tmp/map.log" 2>&1; then ok
    else bad "fhirgen map rejected scripted histories: $(head -5 "$tmp/map.log")"; fi
fi

# ---- keys, headers, routes -----------------------------------------------
s=$(curl -s -o "$tmp/k.out" -w '%{http_code}' -H 'Authorization: Bearer wrong' --data-binary @"$tmp/x-r.req" "$url/v1/chat/completions")
[ "$s" = 401 ] && grep -q invalid_api_key "$tmp/k.out" && ok || bad "openai wrong key: $s"
s=$(curl -s -o "$tmp/k.out" -w '%{http_code}' -H 'x-api-key: wrong' -H 'anthropic-version: 2023-06-01' --data-binary @"$tmp/x-ra.req" "$url/v1/messages")
[ "$s" = 401 ] && grep -q authentication_error "$tmp/k.out" && ok || bad "anthropic wrong key: $s"
s=$(curl -s -o "$tmp/k.out" -w '%{http_code}' -H "x-api-key: $key" --data-binary @"$tmp/x-ra.req" "$url/v1/messages")
[ "$s" = 400 ] && grep -q anthropic-version "$tmp/k.out" && ok || bad "anthropic without anthropic-version: $s"
s=$(curl -s -o "$tmp/k.out" -w '%{http_code}' -H "api-key: $key" --data-binary @"$tmp/x-r.req" \
    "$url/openai/deployments/scripted/chat/completions?api-version=2024-10-21")
[ "$s" = 200 ] && ok || bad "azure deployment with api-key: $s"
s=$(curl -s -o "$tmp/k.out" -w '%{http_code}' -H "api-key: $key" --data-binary @"$tmp/x-r.req" \
    "$url/openai/deployments/scripted/chat/completions")
[ "$s" = 404 ] && ok || bad "azure deployment without api-version: $s"
expect unknown 404 kind=error error_type=model_not_found
expect unknown-an 404 kind=error error_type=not_found_error
expect noskel 400 kind=error
grep -q skeleton "$tmp/noskel.out" || bad "no-skeleton error does not say what is missing"
# Strict structured output refuses a schema with an open object, as OpenAI does.
expect loose 400 kind=error
grep -q "context=('patient'), 'additionalProperties'" "$tmp/loose.out" && ok || bad "loose schema: $(head -c 300 "$tmp/loose.out")"

# ---- fallbacks for servers without structured output ---------------------
expect nos 400 kind=error error_type=unsupported_parameter
expect nos-json 200 history_ok=1 fenced=0
expect nos-text 200 history_ok=1 fenced=1
expect nos-an 200 finish=tool_use history_ok=1
expect nos-an-text 200 history_ok=1 fenced=1

# ---- faults -----------------------------------------------------------------
for pr in openai anthropic; do
    expect f429-$pr 429 kind=error
    grep -qi '^retry-after: 1' "$tmp/f429-$pr.out.h" && grep -qi '^retry-after-ms: 1000' "$tmp/f429-$pr.out.h" &&
        grep -qi '^x-ratelimit-reset-requests:' "$tmp/f429-$pr.out.h" && ok || bad "f429-$pr: rate-limit headers missing"
    expect f429b-$pr 200 history_ok=1
    expect f500-$pr 500 kind=error
    expect f500b-$pr 200 history_ok=1
    expect flen-$pr 200 json_ok=0
    expect flen-s-$pr 200 json_ok=0
    expect flen-big-$pr 200 history_ok=1
    expect flen-always-$pr 200 json_ok=0
    expect fbad-$pr 200 json_ok=0
    expect fbad-s-$pr 200 json_ok=0 done=1
    expect fschema-$pr 200 json_ok=1 history_ok=0
    expect fhall-$pr 200 history_ok=1 unknown_codes=1 before_birth=1
    expect fhall-r-$pr 200 history_ok=1 unknown_codes=0 before_birth=0
    expect fhope-r-$pr 200 history_ok=1 unknown_codes=1 before_birth=1
    [ "$(cat "$tmp/fhtml-$pr.status")" = 502 ] && grep -qi 'content-type: text/html' "$tmp/fhtml-$pr.out.h" && ok || bad "fhtml-$pr: not a 502 HTML page"
    sz=$(wc -c < "$tmp/fbig-$pr.out")
    [ "$(cat "$tmp/fbig-$pr.status")" = 200 ] && [ "$sz" -gt 4000000 ] && ok || bad "fbig-$pr: $sz bytes"
    expect fmid-$pr 200 error_event=1
    expect fmid-b-$pr 200 error_event=0 done=1 history_ok=1
done
grep -q 'finish=length' "$tmp/flen-openai.facts" && ok || bad "fault-length: finish_reason is not length"
grep -q 'finish=max_tokens' "$tmp/flen-anthropic.facts" && ok || bad "fault-length: stop_reason is not max_tokens"
grep -q 'finish=max_tokens' "$tmp/flen-s-anthropic.facts" && ok || bad "fault-length stream: stop_reason is not max_tokens"
expect fref 200 kind=refusal finish=stop
grep -q '"content":null' "$tmp/fref.out" && ok || bad "refusal: content is not null"
expect fref-s 200 kind=refusal done=1
expect ffilter 200 finish=content_filter json_ok=0
expect ffilter-s 200 finish=content_filter done=1 json_ok=0
expect ffilter-an 200 finish=refusal done=1 json_ok=0
expect fref-an 200 finish=refusal
expect fref-an-s 200 finish=refusal done=1

# A stalled model sends nothing for --stall-ms (3 s here).
rc=0
curl -s -o /dev/null --max-time 1 -H "Authorization: Bearer $key" --data-binary @"$tmp/x-stall.req" "$url/v1/chat/completions" || rc=$?
[ "$rc" = 28 ] && ok || bad "fault-stall answered within 1 s (curl exit $rc)"

# ---- /stats -------------------------------------------------------------------
curl -s "$url/stats" > "$tmp/stats.json"
node -e '
const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const ok = s.models.scripted && s.models.scripted.openai > 5 && s.models.scripted.anthropic > 3 &&
  s.protocols.openai + s.protocols.anthropic === s.requests;
process.exit(ok ? 0 : 1);' "$tmp/stats.json" && ok || bad "/stats counts: $(head -c 400 "$tmp/stats.json")"


# fault-delay-1000: 32 requests in flight at once (the server's own count),
# and the time they took (not checked: the machine may be busy).
curl -s -X DELETE -o /dev/null "$url/stats"
t0=$(date +%s%N)
curl -s -Z --parallel-max 32 --parallel-immediate -o "$tmp/d#1.out" -w '%{http_code}\n' \
    -H "Authorization: Bearer $key" --data-binary @"$tmp/x-delay.req" "$url/v1/chat/completions?n=[1-32]" > "$tmp/d.codes" 2>/dev/null
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
n=$(grep -c '^200$' "$tmp/d.codes" || true)
peak=$(curl -s "$url/stats" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{
  const j = JSON.parse(s); console.log(j.models["fault-delay-1000"].openai === 32 ? j.max_in_flight : -1); })')
[ "$n" = 32 ] && [ "$peak" -ge 32 ] && [ "$ms" -ge 1000 ] && ok || bad "32 x fault-delay-1000: $n answers in $ms ms, at most $peak in flight"
echo "32 concurrent fault-delay-1000 requests: $n answers in $ms ms, $peak in flight at once"

# ---- HTTPS -------------------------------------------------------------------
if [ -n "${LLM_TEST_TLS_URL:-}" ]; then
    s=$(curl -s -o "$tmp/tls.out" -w '%{http_code}' --cacert "$LLM_TEST_CA" -H "Authorization: Bearer $key" \
        --data-binary @"$tmp/x-r.req" "$LLM_TEST_TLS_URL/v1/chat/completions")
    [ "$s" = 200 ] && ok || bad "HTTPS: $s"
fi

echo "llmserver selftest: $pass passed, $failed failed"
[ "$failed" = 0 ]
