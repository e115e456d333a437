#!/bin/sh
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

# post PROTO PATH BODYFILE OUT [curl args...]: prints the HTTP status.
post() {
    p=$1 route=$2 body=$3 out=$4
    shift 4
    if [ "$p" = anthropic ]; then
        set -- -H "x-api-key: $key" -H 'anthropic-version: 2023-06-01' "$@"
    else
        set -- -H "Authorization: Bearer $key" "$@"
    fi
    curl -s -o "$out" -D "$out.h" -w '%{http_code}' -H 'content-type: application/json' \
        --data-binary "@$body" "$@" "$url$route" || true
}

# call NAME PROTO MODE MODEL [request flags]: sends the request, decodes the
# answer into $tmp/NAME.facts and sets $status and $facts.
call() {
    name=$1 p=$2 mode=$3 model=$4
    shift 4
    node "$lib" request "$p" "$mode" "$model" "$@" > "$tmp/$name.req"
    route=/v1/chat/completions
    [ "$p" = anthropic ] && route=/v1/messages
    status=$(post "$p" "$route" "$tmp/$name.req" "$tmp/$name.out")
    s=0
    case " $* " in *" --stream "*) s=1 ;; esac
    facts=$(node "$lib" decode "$p" "$s" "$tmp/$name.out" --out "$tmp/$name.history.json" || echo decode-failed)
    printf '%s\n' "$facts" > "$tmp/$name.facts"
}

# expect NAME WANTED-STATUS FACT...: each FACT (key=value) must be in $facts.
expect() {
    name=$1 want=$2
    shift 2
    [ "$status" = "$want" ] || { bad "$name: status $status, expected $want ($(head -c 300 "$tmp/$name.out"))"; return; }
    for f in "$@"; do
        case " $facts " in *" $f "*) ;; *) bad "$name: expected $f in: $(printf '%s' "$facts" | cut -c1-300)"; return ;; esac
    done
    ok
}

# maps NAME: fhirgen map accepts the history of answer NAME (when FHIRGEN is given).
maps() {
    [ -n "$fhirgen" ] || return 0
    mkdir -p "$tmp/map-$1"
    if "$fhirgen" map -o "$tmp/map-$1" "$tmp/$1.history.json" > "$tmp/map-$1.log" 2>&1; then ok
    else bad "$1: fhirgen map rejected the scripted history: $(head -3 "$tmp/map-$1.log")"; fi
}

# ---- scripted answers, both protocols, all modes -------------------------
call oa-schema openai schema scripted --index 3
expect oa-schema 200 finish=stop kind=text fenced=0 history_ok=1 unknown_codes=0 before_birth=0
maps oa-schema
call oa-stream openai schema scripted --index 4 --stream --usage
expect oa-stream 200 finish=stop done=1 kind=text history_ok=1 unknown_codes=0
grep -q 'usage_in=0 ' "$tmp/oa-stream.facts" && bad "oa-stream: no usage chunk"
maps oa-stream
call oa-json openai json scripted --index 5
expect oa-json 200 finish=stop fenced=0 history_ok=1 unknown_codes=0
call oa-text openai text scripted --index 6
expect oa-text 200 finish=stop fenced=1 history_ok=1 unknown_codes=0
maps oa-text
call oa-text-stream openai text scripted --index 6 --stream
expect oa-text-stream 200 finish=stop done=1 fenced=1 history_ok=1
call an-tool anthropic tool scripted --index 7
expect an-tool 200 finish=tool_use kind=tool history_ok=1 unknown_codes=0 before_birth=0
maps an-tool
call an-tool-stream anthropic tool scripted --index 8 --stream
expect an-tool-stream 200 finish=tool_use kind=tool done=1 order=ok history_ok=1 unknown_codes=0
maps an-tool-stream
call an-text anthropic text scripted --index 9
expect an-text 200 finish=end_turn kind=text fenced=1 history_ok=1
call an-text-stream anthropic text scripted --index 10 --stream
expect an-text-stream 200 finish=end_turn kind=text done=1 order=ok fenced=1 history_ok=1
for i in 11 12 13 14 20 27; do
    call idx-$i openai schema scripted --index $i
    expect idx-$i 200 history_ok=1 unknown_codes=0 before_birth=0
    maps idx-$i
done
# Deterministic by index, varied across indexes.
call det-a openai schema scripted --index 3
cmp -s "$tmp/det-a.history.json" "$tmp/oa-schema.history.json" && ok || bad "index 3 answered differently twice"
cmp -s "$tmp/idx-11.history.json" "$tmp/idx-13.history.json" && bad "indexes 11 and 13 gave the same story" || ok
grep -q 'usage_out=0 ' "$tmp/oa-schema.facts" && bad "no completion tokens counted" || ok

# ---- keys, headers, routes -----------------------------------------------
node "$lib" request openai schema scripted > "$tmp/r.req"
node "$lib" request anthropic tool scripted > "$tmp/ra.req"
s=$(curl -s -o "$tmp/k.out" -w '%{http_code}' -H 'Authorization: Bearer wrong' --data-binary @"$tmp/r.req" "$url/v1/chat/completions")
[ "$s" = 401 ] && grep -q invalid_api_key "$tmp/k.out" && ok || bad "openai wrong key: $s"
s=$(curl -s -o "$tmp/k.out" -w '%{http_code}' -H 'x-api-key: wrong' -H 'anthropic-version: 2023-06-01' --data-binary @"$tmp/ra.req" "$url/v1/messages")
[ "$s" = 401 ] && grep -q authentication_error "$tmp/k.out" && ok || bad "anthropic wrong key: $s"
s=$(curl -s -o "$tmp/k.out" -w '%{http_code}' -H "x-api-key: $key" --data-binary @"$tmp/ra.req" "$url/v1/messages")
[ "$s" = 400 ] && grep -q anthropic-version "$tmp/k.out" && ok || bad "anthropic without anthropic-version: $s"
s=$(curl -s -o "$tmp/k.out" -w '%{http_code}' -H "api-key: $key" --data-binary @"$tmp/r.req" \
    "$url/openai/deployments/scripted/chat/completions?api-version=2024-10-21")
[ "$s" = 200 ] && ok || bad "azure deployment with api-key: $s"
s=$(curl -s -o "$tmp/k.out" -w '%{http_code}' -H "api-key: $key" --data-binary @"$tmp/r.req" \
    "$url/openai/deployments/scripted/chat/completions")
[ "$s" = 404 ] && ok || bad "azure deployment without api-version: $s"
call unknown openai schema gpt-unknown
expect unknown 404 kind=error error_type=model_not_found
call unknown-an anthropic tool claude-unknown
expect unknown-an 404 kind=error error_type=not_found_error
call noskel openai schema scripted --no-skeleton
expect noskel 400 kind=error
grep -q skeleton "$tmp/noskel.out" || bad "no-skeleton error does not say what is missing"

# ---- fallbacks for servers without structured output ---------------------
call nos openai schema nostructured-scripted
expect nos 400 kind=error error_type=unsupported_parameter
call nos-json openai json nostructured-scripted
expect nos-json 200 history_ok=1 fenced=0
call nos-text openai text nostructured-scripted
expect nos-text 200 history_ok=1 fenced=1
call nos-an anthropic tool nostructured-scripted
expect nos-an 200 finish=tool_use history_ok=1
call nos-an-text anthropic text nostructured-scripted
expect nos-an-text 200 history_ok=1 fenced=1

# ---- faults -----------------------------------------------------------------
for p in openai anthropic; do
    m=schema
    [ $p = anthropic ] && m=tool
    call f429-$p $p $m fault-429 --index 1
    expect f429-$p 429 kind=error
    grep -qi '^retry-after: 1' "$tmp/f429-$p.out.h" && grep -qi '^retry-after-ms: 1000' "$tmp/f429-$p.out.h" &&
        grep -qi '^x-ratelimit-reset-requests:' "$tmp/f429-$p.out.h" && ok || bad "f429-$p: rate-limit headers missing"
    call f429b-$p $p $m fault-429 --index 1
    expect f429b-$p 200 history_ok=1
    call f500-$p $p $m fault-500 --index 1
    expect f500-$p 500 kind=error
    call f500b-$p $p $m fault-500 --index 1
    expect f500b-$p 200 history_ok=1
    call flen-$p $p $m fault-length --max-tokens 1000
    expect flen-$p 200 json_ok=0
    call flen-s-$p $p $m fault-length --max-tokens 1000 --stream
    expect flen-s-$p 200 json_ok=0
    call flen-big-$p $p $m fault-length --max-tokens 20000
    expect flen-big-$p 200 history_ok=1
    call flen-always-$p $p $m fault-length-always --max-tokens 20000
    expect flen-always-$p 200 json_ok=0
    call fbad-$p $p $m fault-badjson
    expect fbad-$p 200 json_ok=0
    call fbad-s-$p $p $m fault-badjson --stream
    expect fbad-s-$p 200 json_ok=0 done=1
    call fschema-$p $p $m fault-schema
    expect fschema-$p 200 json_ok=1 history_ok=0
    call fhall-$p $p $m fault-hallucinate --index 2
    expect fhall-$p 200 history_ok=1 unknown_codes=1 before_birth=1
    call fhall-r-$p $p $m fault-hallucinate --index 2 --repair
    expect fhall-r-$p 200 history_ok=1 unknown_codes=0 before_birth=0
    call fhope-r-$p $p $m fault-hopeless --index 2 --repair
    expect fhope-r-$p 200 history_ok=1 unknown_codes=1 before_birth=1
    call fhtml-$p $p $m fault-html
    [ "$status" = 502 ] && grep -qi 'content-type: text/html' "$tmp/fhtml-$p.out.h" && ok || bad "fhtml-$p: $status"
    call fbig-$p $p $m fault-oversize
    sz=$(wc -c < "$tmp/fbig-$p.out")
    [ "$status" = 200 ] && [ "$sz" -gt 4000000 ] && ok || bad "fbig-$p: status $status, $sz bytes"
    call fmid-$p $p $m fault-midstream --stream --index 4
    expect fmid-$p 200 error_event=1
    call fmid-b-$p $p $m fault-midstream --stream --index 4
    expect fmid-b-$p 200 error_event=0 done=1 history_ok=1
done
grep -q 'finish=length' "$tmp/flen-openai.facts" && ok || bad "fault-length: finish_reason is not length"
grep -q 'finish=max_tokens' "$tmp/flen-anthropic.facts" && ok || bad "fault-length: stop_reason is not max_tokens"
grep -q 'finish=max_tokens' "$tmp/flen-s-anthropic.facts" && ok || bad "fault-length stream: stop_reason is not max_tokens"
call fref openai schema fault-refusal
expect fref 200 kind=refusal finish=stop
grep -q '"content":null' "$tmp/fref.out" && ok || bad "refusal: content is not null"
call fref-s openai schema fault-refusal --stream
expect fref-s 200 kind=refusal done=1
call ffilter openai schema fault-filter
expect ffilter 200 finish=content_filter json_ok=0
call ffilter-s openai schema fault-filter --stream
expect ffilter-s 200 finish=content_filter done=1 json_ok=0
call ffilter-an anthropic tool fault-filter --stream
expect ffilter-an 200 finish=refusal done=1 json_ok=0
call fref-an anthropic tool fault-refusal
expect fref-an 200 finish=refusal
call fref-an-s anthropic tool fault-refusal --stream
expect fref-an-s 200 finish=refusal done=1

# A stalled model sends nothing for --stall-ms (3 s here).
node "$lib" request openai schema fault-stall > "$tmp/st.req"
rc=0
curl -s -o /dev/null --max-time 1 -H "Authorization: Bearer $key" --data-binary @"$tmp/st.req" "$url/v1/chat/completions" || rc=$?
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
node "$lib" request openai schema fault-delay-1000 > "$tmp/d.req"
curl -s -X DELETE -o /dev/null "$url/stats"
t0=$(date +%s%N)
curl -s -Z --parallel-max 32 --parallel-immediate -o "$tmp/d#1.out" -w '%{http_code}\n' \
    -H "Authorization: Bearer $key" --data-binary @"$tmp/d.req" "$url/v1/chat/completions?n=[1-32]" > "$tmp/d.codes" 2>/dev/null
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
n=$(grep -c '^200$' "$tmp/d.codes" || true)
peak=$(curl -s "$url/stats" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{
  const j = JSON.parse(s); console.log(j.models["fault-delay-1000"].openai === 32 ? j.max_in_flight : -1); })')
[ "$n" = 32 ] && [ "$peak" -ge 32 ] && [ "$ms" -ge 1000 ] && ok || bad "32 x fault-delay-1000: $n answers in $ms ms, at most $peak in flight"
echo "32 concurrent fault-delay-1000 requests: $n answers in $ms ms, $peak in flight at once"

# ---- HTTPS -------------------------------------------------------------------
if [ -n "${LLM_TEST_TLS_URL:-}" ]; then
    s=$(curl -s -o "$tmp/tls.out" -w '%{http_code}' --cacert "$LLM_TEST_CA" -H "Authorization: Bearer $key" \
        --data-binary @"$tmp/r.req" "$LLM_TEST_TLS_URL/v1/chat/completions")
    [ "$s" = 200 ] && ok || bad "HTTPS: $s"
fi

echo "llmserver selftest: $pass passed, $failed failed"
[ "$failed" = 0 ]
