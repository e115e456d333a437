/*
 * test_llm: the LLM client without a real server. The SSE parser on every
 * split of a stream, both protocols' bodies and answers (refusal, length,
 * tool_use, errors, HTML), rate-limit headers, the cache, JSON extraction,
 * and the loop against a scripted HTTP server on a thread of this test
 * (response_format fallback, 429 with retry-after-ms, failures, cancel).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fhir/fg_data.h"
#include "fhir/fg_limits.h"
#include "generators/llm_private.h"

#include "../fuzz/fuzz_llm.c"

/* ---- SSE -------------------------------------------------------------------- */

typedef struct events {
    char log[4096];
    int n;
} events;

static int collect(void *ctx, const char *event, const char *data, size_t len)
{
    events *e = ctx;
    size_t used = strlen(e->log);
    snprintf(e->log + used, sizeof(e->log) - used, "[%s|%.*s]", event, (int)len, data);
    e->n++;
    return 0;
}

static const char STREAM[] = ": keep-alive\r\n"
                             "event: first\r\n"
                             "data: one\r\n"
                             "data:  two\r\n"
                             "\r\n"
                             "data: {\"a\":1}\n"
                             "\n"
                             "id: 7\r"
                             "data: three\r"
                             "\r"
                             "event: last\n"
                             "data: [DONE]\n"
                             "\n";
static const char EXPECTED[] = "[first|one\n two][|{\"a\":1}][|three][last|[DONE]]";

static void test_sse_every_split(void **state)
{
    (void)state;
    size_t n = strlen(STREAM);
    for (size_t a = 0; a <= n; a++) {
        for (size_t b = a; b <= n; b += 3) {
            llm_sse s;
            events e;
            memset(&e, 0, sizeof(e));
            llm_sse_init(&s, 1024, 1 << 20);
            assert_int_equal(llm_sse_feed(&s, STREAM, a, collect, &e, NULL), FG_OK);
            assert_int_equal(llm_sse_feed(&s, STREAM + a, b - a, collect, &e, NULL), FG_OK);
            assert_int_equal(llm_sse_feed(&s, STREAM + b, n - b, collect, &e, NULL), FG_OK);
            assert_int_equal(llm_sse_end(&s, collect, &e, NULL), FG_OK);
            assert_string_equal(e.log, EXPECTED);
            llm_sse_free(&s);
        }
    }
}

static void test_sse_byte_by_byte_and_limits(void **state)
{
    (void)state;
    llm_sse s;
    events e;
    memset(&e, 0, sizeof(e));
    llm_sse_init(&s, 1024, 1 << 20);
    for (size_t i = 0; STREAM[i]; i++)
        assert_int_equal(llm_sse_feed(&s, STREAM + i, 1, collect, &e, NULL), FG_OK);
    assert_string_equal(e.log, EXPECTED);
    /* an event without its blank line is dispatched at the end */
    assert_int_equal(llm_sse_feed(&s, "data: tail", 10, collect, &e, NULL), FG_OK);
    assert_int_equal(llm_sse_end(&s, collect, &e, NULL), FG_OK);
    assert_non_null(strstr(e.log, "[|tail]"));
    llm_sse_free(&s);

    char big[200];
    memset(big, 'x', sizeof(big));
    fg_error err;
    llm_sse_init(&s, 64, 1 << 20);
    assert_int_equal(llm_sse_feed(&s, big, sizeof(big), collect, &e, &err), FG_ELIMIT);
    llm_sse_free(&s);
    llm_sse_init(&s, 1024, 100);
    assert_int_equal(llm_sse_feed(&s, big, sizeof(big), collect, &e, &err), FG_ELIMIT);
    assert_non_null(strstr(err.text, "FG_MAX_LLM_STREAM_BYTES"));
    llm_sse_free(&s);
}

/* ---- OpenAI ---------------------------------------------------------------- */

static void test_openai_parse(void **state)
{
    (void)state;
    llm_answer a;
    fg_error err;
    llm_answer_init(&a);
    const char *ok = "{\"model\":\"m1\",\"choices\":[{\"message\":{\"role\":\"assistant\","
                     "\"content\":\"{\\\"x\\\":1}\",\"refusal\":null},\"finish_reason\":\"stop\"}],"
                     "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":5}}";
    assert_int_equal(llm_openai_parse(ok, strlen(ok), &a, &err), FG_OK);
    assert_string_equal(a.text.data, "{\"x\":1}");
    assert_int_equal(a.finish, FG_LLM_FINISH_STOP);
    assert_int_equal(a.tokens_in, 12);
    assert_int_equal(a.tokens_out, 5);
    assert_string_equal(a.model, "m1");

    llm_answer_reset(&a);
    const char *len = "{\"choices\":[{\"message\":{\"content\":\"{\\\"x\\\":\"},"
                      "\"finish_reason\":\"length\"}]}";
    assert_int_equal(llm_openai_parse(len, strlen(len), &a, &err), FG_OK);
    assert_int_equal(a.finish, FG_LLM_FINISH_LENGTH);

    llm_answer_reset(&a);
    const char *ref = "{\"choices\":[{\"message\":{\"content\":null,\"refusal\":\"No.\"},"
                      "\"finish_reason\":\"stop\"}]}";
    assert_int_equal(llm_openai_parse(ref, strlen(ref), &a, &err), FG_OK);
    assert_int_equal(a.finish, FG_LLM_FINISH_REFUSAL);
    assert_string_equal(a.refusal.data, "No.");

    llm_answer_reset(&a);
    const char *filt = "{\"choices\":[{\"message\":{\"content\":\"\"},"
                       "\"finish_reason\":\"content_filter\"}]}";
    assert_int_equal(llm_openai_parse(filt, strlen(filt), &a, &err), FG_OK);
    assert_int_equal(a.finish, FG_LLM_FINISH_FILTERED);

    llm_answer_reset(&a);
    const char *e = "{\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}";
    assert_int_equal(llm_openai_parse(e, strlen(e), &a, &err), FG_EINVALID);
    assert_non_null(strstr(err.text, "overloaded"));

    llm_answer_reset(&a);
    assert_int_equal(llm_openai_parse("{\"choices\":[]}", 14, &a, &err), FG_EINVALID);
    assert_int_equal(llm_openai_parse("not json", 8, &a, &err), FG_EINVALID);
    llm_answer_free(&a);
}

static void feed_events(llm_sse_fn fn, llm_answer *a, const char *stream)
{
    llm_sse s;
    llm_sse_init(&s, 1 << 20, 1 << 24);
    size_t n = strlen(stream);
    for (size_t i = 0; i < n; i += 7) /* in awkward chunks */
        assert_int_equal(llm_sse_feed(&s, stream + i, n - i < 7 ? n - i : 7, fn, a, NULL), FG_OK);
    assert_int_equal(llm_sse_end(&s, fn, a, NULL), FG_OK);
    llm_sse_free(&s);
}

static void test_openai_stream(void **state)
{
    (void)state;
    llm_answer a;
    llm_answer_init(&a);
    feed_events(llm_openai_event, &a,
                "data: {\"model\":\"m\",\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n"
                "data: {\"choices\":[{\"delta\":{\"content\":\"{\\\"a\\\":\"}}]}\n\n"
                ": ping\n\n"
                "data: {\"choices\":[{\"delta\":{\"content\":\"[1,2]}\"},\"finish_reason\":null}]}\n\n"
                "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
                "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\n\n"
                "data: [DONE]\n\n");
    assert_string_equal(a.text.data, "{\"a\":[1,2]}");
    assert_int_equal(a.finished, 1);
    assert_int_equal(a.finish, FG_LLM_FINISH_STOP);
    assert_int_equal(a.tokens_in, 3);
    assert_int_equal(a.tokens_out, 4);

    llm_answer_reset(&a);
    feed_events(llm_openai_event, &a,
                "data: {\"choices\":[{\"delta\":{\"refusal\":\"I can\"}}]}\n\n"
                "data: {\"choices\":[{\"delta\":{\"refusal\":\"not.\"},\"finish_reason\":\"stop\"}]}\n\n");
    assert_int_equal(a.finish, FG_LLM_FINISH_REFUSAL);
    assert_string_equal(a.refusal.data, "I cannot.");

    llm_answer_reset(&a); /* [DONE] without a finish_reason still ends the answer */
    feed_events(llm_openai_event, &a,
                "data: {\"choices\":[{\"delta\":{\"content\":\"{}\"}}]}\n\ndata: [DONE]\n\n");
    assert_int_equal(a.finished, 1);
    assert_int_equal(a.finish, FG_LLM_FINISH_STOP);

    llm_answer_reset(&a);
    feed_events(llm_openai_event, &a, "data: {\"error\":{\"message\":\"stream broke\"}}\n\n");
    assert_non_null(strstr(a.error, "stream broke"));
    assert_int_equal(a.finished, 0);
    llm_answer_free(&a);
}

/* ---- Anthropic ------------------------------------------------------------- */

static void test_anthropic_parse(void **state)
{
    (void)state;
    llm_answer a;
    fg_error err;
    llm_answer_init(&a);
    const char *tool = "{\"type\":\"message\",\"model\":\"c\",\"content\":[{\"type\":\"text\","
                       "\"text\":\"Here it is\"},{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":"
                       "\"patient_history\",\"input\":{\"b\": [1, 2], \"a\": \"x\"}}],"
                       "\"stop_reason\":\"tool_use\",\"usage\":{\"input_tokens\":9,"
                       "\"output_tokens\":8}}";
    assert_int_equal(llm_anthropic_parse(tool, strlen(tool), &a, &err), FG_OK);
    assert_string_equal(a.text.data, "{\"b\":[1,2],\"a\":\"x\"}");
    assert_int_equal(a.finish, FG_LLM_FINISH_STOP);
    assert_int_equal(a.tokens_in, 9);
    assert_int_equal(a.tokens_out, 8);

    llm_answer_reset(&a);
    const char *len = "{\"content\":[{\"type\":\"text\",\"text\":\"abc\"}],"
                      "\"stop_reason\":\"max_tokens\"}";
    assert_int_equal(llm_anthropic_parse(len, strlen(len), &a, &err), FG_OK);
    assert_int_equal(a.finish, FG_LLM_FINISH_LENGTH);
    assert_string_equal(a.text.data, "abc");

    llm_answer_reset(&a);
    const char *ref = "{\"content\":[{\"type\":\"text\",\"text\":\"Sorry.\"}],"
                      "\"stop_reason\":\"refusal\"}";
    assert_int_equal(llm_anthropic_parse(ref, strlen(ref), &a, &err), FG_OK);
    assert_int_equal(a.finish, FG_LLM_FINISH_REFUSAL);
    assert_string_equal(a.refusal.data, "Sorry.");

    llm_answer_reset(&a);
    const char *e = "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
                    "\"message\":\"Overloaded\"}}";
    assert_int_equal(llm_anthropic_parse(e, strlen(e), &a, &err), FG_EINVALID);
    assert_non_null(strstr(err.text, "Overloaded"));
    llm_answer_free(&a);
}

static void test_anthropic_stream(void **state)
{
    (void)state;
    llm_answer a;
    llm_answer_init(&a);
    feed_events(llm_anthropic_event, &a,
                "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":"
                "\"c\",\"usage\":{\"input_tokens\":20,\"output_tokens\":1}}}\n\n"
                "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
                "\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"h\",\"input\":{}}}\n\n"
                "event: ping\ndata: {\"type\":\"ping\"}\n\n"
                "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
                "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\": \"}}\n\n"
                "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
                "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"[true]}\"}}\n\n"
                "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
                "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
                "\"tool_use\"},\"usage\":{\"output_tokens\":30}}\n\n"
                "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    llm_anthropic_finish(&a);
    assert_string_equal(a.text.data, "{\"a\":[true]}");
    assert_int_equal(a.finish, FG_LLM_FINISH_STOP);
    assert_int_equal(a.tokens_in, 20);
    assert_int_equal(a.tokens_out, 30);

    llm_answer_reset(&a);
    feed_events(llm_anthropic_event, &a,
                "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
                "\"content_block\":{\"type\":\"tool_use\",\"input\":{}}}\n\n"
                "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":"
                "{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\": [1,\"}}\n\n"
                "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
                "\"max_tokens\"}}\n\n");
    llm_anthropic_finish(&a);
    assert_int_equal(a.finish, FG_LLM_FINISH_LENGTH);
    assert_string_equal(a.text.data, "{\"a\": [1,"); /* what came, as it came */

    llm_answer_reset(&a);
    feed_events(llm_anthropic_event, &a,
                "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
                "\"message\":\"Overloaded\"}}\n\n");
    assert_non_null(strstr(a.error, "Overloaded"));
    llm_answer_free(&a);
}

/* ---- error bodies, JSON in text --------------------------------------------- */

static void test_error_text(void **state)
{
    (void)state;
    char out[200];
    const char *html = "<!DOCTYPE html>\n<html><body><h1>502 Bad Gateway</h1>\n</body></html>";
    llm_error_text(html, strlen(html), "text/html", out, sizeof(out));
    assert_null(strchr(out, '<'));
    assert_non_null(strstr(out, "HTML"));
    const char *j = "{\"error\":{\"message\":\"Invalid\\nparameter: response_format\"}}";
    llm_error_text(j, strlen(j), "application/json", out, sizeof(out));
    assert_string_equal(out, "Invalid parameter: response_format");
    char longmsg[2000];
    memset(longmsg, 'y', sizeof(longmsg));
    memcpy(longmsg, "{\"error\":\"", 10);
    memcpy(longmsg + sizeof(longmsg) - 2, "\"}", 2);
    llm_error_text(longmsg, sizeof(longmsg), NULL, out, 50);
    assert_int_equal(strlen(out), 49);
    llm_error_text("", 0, NULL, out, sizeof(out));
    assert_string_equal(out, "an empty answer");
}

static void check_extract(const char *text, const char *want)
{
    size_t off, n;
    int found = llm_extract_json(text, strlen(text), &off, &n);
    if (!want) {
        assert_int_equal(found, 0);
        return;
    }
    assert_int_equal(found, 1);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(text + off, want, n);
}

static void test_extract_json(void **state)
{
    (void)state;
    check_extract("  {\"a\":1}\n", "{\"a\":1}");
    check_extract("Here you go:\n```json\n{\"a\": \"}\"}\n```\nDone.", "{\"a\": \"}\"}");
    check_extract("```\n{\"b\":[{}]}\n```", "{\"b\":[{}]}");
    check_extract("The record {\"a\":{\"b\":\"{\"}} follows.", "{\"a\":{\"b\":\"{\"}}");
    check_extract("no object here", NULL);
    check_extract("{\"unbalanced\": [", NULL);
    /* a broken document is not mistaken for the object nested in it */
    check_extract("{\"patient\": {\"id\": \"p\"}, \"x\": 1,\n", NULL);
    check_extract("Use {braces} like {\"a\": 1} here", "{\"a\": 1}");
}

/* ---- rate limits -------------------------------------------------------------- */

static void test_durations(void **state)
{
    (void)state;
    double s;
    assert_int_equal(llm_parse_duration("1s", &s), FG_OK);
    assert_true(s == 1.0);
    assert_int_equal(llm_parse_duration("6m0s", &s), FG_OK);
    assert_true(s == 300.0 || s == FG_MAX_RETRY_AFTER_S); /* capped */
    assert_int_equal(llm_parse_duration("20ms", &s), FG_OK);
    assert_true(s > 0.0199 && s < 0.0201);
    assert_int_equal(llm_parse_duration("1m30.5s", &s), FG_OK);
    assert_true(s == 90.5);
    assert_int_equal(llm_parse_duration("2", &s), FG_OK);
    assert_true(s == 2.0);
    assert_int_equal(llm_parse_duration("2h", &s), FG_OK);
    assert_true(s == FG_MAX_RETRY_AFTER_S);
    assert_int_equal(llm_parse_duration("", &s), FG_EINVALID);
    assert_int_equal(llm_parse_duration("soon", &s), FG_EINVALID);
    assert_int_equal(llm_parse_duration("-1s", &s), FG_EINVALID);
    assert_int_equal(llm_parse_duration("1x", &s), FG_EINVALID);
}

static void header(llm_limits *l, const char *h)
{
    llm_limits_header(l, h, strlen(h), 1700000000);
}

static void test_limit_headers(void **state)
{
    (void)state;
    llm_limits l;
    llm_limits_reset(&l);
    assert_true(llm_limits_wait(&l) < 0);
    header(&l, "Retry-After: 3\r\n");
    assert_true(llm_limits_wait(&l) == 3.0);
    header(&l, "retry-after-ms: 1500\r\n"); /* the finer one wins */
    assert_true(llm_limits_wait(&l) == 1.5);
    llm_limits_reset(&l);
    header(&l, "x-ratelimit-remaining-requests: 0\r\n");
    header(&l, "x-ratelimit-reset-requests: 6s\r\n");
    header(&l, "x-ratelimit-reset-tokens: 20ms\r\n");
    assert_true(llm_limits_wait(&l) == 6.0);
    llm_limits_reset(&l);
    header(&l, "X-RateLimit-Reset-Tokens: 250ms\r\n");
    assert_true(llm_limits_wait(&l) == 0.25);
    llm_limits_reset(&l);
    header(&l, "retry-after: garbage\r\n");
    header(&l, "content-type: application/json\r\n");
    assert_true(llm_limits_wait(&l) < 0);
}

/* ---- rendering ------------------------------------------------------------------ */

static json_t *small_schema(void)
{
    return json_pack("{s:s,s:{s:{s:s}},s:[s],s:b}", "type", "object", "properties", "a", "type",
                     "string", "required", "a", "additionalProperties", 0);
}

static void test_render(void **state)
{
    (void)state;
    fg_llm_config c;
    fg_llm_config_default(&c);
    c.model = "gpt-test";
    c.api_key = "sk-SECRET-never-in-bodies";
    c.base_url = "http://127.0.0.1:1/v1/";
    fg_llm *L = NULL;
    fg_error err;
    assert_int_equal(fg_llm_new(&c, &L, &err), FG_OK);
    json_t *schema = small_schema();
    fg_llm_message m[2] = {{"user", "Write it."}, {"assistant", "{}"}};
    fg_llm_request r = {7, "Be brief.", m, 2, schema, "doc", 0};
    char *b1 = NULL, *b2 = NULL;
    assert_int_equal(fg_llm_render(L, &r, &b1, &err), FG_OK);
    assert_int_equal(fg_llm_render(L, &r, &b2, &err), FG_OK);
    assert_string_equal(b1, b2); /* the same request, the same bytes */
    assert_null(strstr(b1, "SECRET"));
    assert_non_null(strstr(b1, "\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"}"));
    assert_non_null(strstr(b1, "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":"
                               "{\"name\":\"doc\",\"strict\":true,\"schema\":{"));
    assert_non_null(strstr(b1, "\"max_tokens\":8192"));
    assert_non_null(strstr(b1, "\"temperature\":0.7,"));
    assert_null(strstr(b1, "stream"));
    free(b1);
    free(b2);
    fg_buf b;
    fg_buf_init(&b);
    assert_int_equal(llm_render_buf(L, &r, LLM_FORMAT_OBJECT, &b, &err), FG_OK);
    assert_non_null(strstr(b.data, "\"response_format\":{\"type\":\"json_object\"}"));
    assert_non_null(strstr(b.data, "follows this JSON schema"));
    assert_int_equal(llm_render_buf(L, &r, LLM_FORMAT_NONE, &b, &err), FG_OK);
    assert_null(strstr(b.data, "response_format"));
    assert_non_null(strstr(b.data, "follows this JSON schema"));
    fg_llm_free(L);

    c.provider = FG_LLM_ANTHROPIC;
    c.base_url = "http://127.0.0.1:1";
    c.stream = 1;
    c.temperature = -1;
    assert_int_equal(fg_llm_new(&c, &L, &err), FG_OK);
    assert_string_equal(L->url, "http://127.0.0.1:1/v1/messages");
    fg_llm_free(L);
    c.base_url = "http://127.0.0.1:1/v1/";
    assert_int_equal(fg_llm_new(&c, &L, &err), FG_OK);
    assert_string_equal(L->url, "http://127.0.0.1:1/v1/messages");
    assert_int_equal(llm_render_buf(L, &r, 0, &b, &err), FG_OK);
    assert_null(strstr(b.data, "SECRET"));
    assert_non_null(strstr(b.data, "\"system\":\"Be brief.\""));
    assert_non_null(strstr(b.data, "\"tools\":[{\"name\":\"doc\",\"description\":"));
    assert_non_null(strstr(b.data, "\"input_schema\":{\"type\":\"object\""));
    assert_non_null(strstr(b.data, "\"tool_choice\":{\"type\":\"tool\",\"name\":\"doc\"}"));
    assert_non_null(strstr(b.data, "\"stream\":true"));
    assert_null(strstr(b.data, "temperature"));
    fg_llm_free(L);

    c.provider = FG_LLM_OPENAI;
    c.base_url = "https://example.openai.azure.com/openai/deployments/d1";
    c.azure_api_version = "2024-10-21";
    assert_int_equal(fg_llm_new(&c, &L, &err), FG_OK);
    assert_string_equal(L->url, "https://example.openai.azure.com/openai/deployments/d1/chat/"
                                "completions?api-version=2024-10-21");
    assert_int_equal(llm_render_buf(L, &r, 0, &b, &err), FG_OK);
    assert_non_null(strstr(b.data, "\"stream\":true,\"stream_options\":{\"include_usage\":true}"));
    fg_llm_free(L);

    c.model = NULL;
    assert_int_equal(fg_llm_new(&c, &L, &err), FG_EUSAGE);
    c.model = "m";
    c.base_url = "ftp://x";
    assert_int_equal(fg_llm_new(&c, &L, &err), FG_EUSAGE);
    fg_buf_free(&b);
    json_decref(schema);
}

/* ---- cache ------------------------------------------------------------------------ */

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void temp_dir(char *dir, size_t size)
{
    const char *t = getenv("TMPDIR");
    snprintf(dir, size, "%s/fg-llm-test-XXXXXX", t && *t ? t : P_tmpdir);
    assert_non_null(mkdtemp(dir));
}

static void test_cache(void **state)
{
    (void)state;
    char a[65], b[65], c[65];
    const char *body = "{\"model\":\"m\",\"messages\":[]}";
    llm_cache_key("http://h/v1/chat/completions", body, strlen(body), a);
    llm_cache_key("http://h/v1/chat/completions", body, strlen(body), b);
    llm_cache_key("http://other/v1/chat/completions", body, strlen(body), c);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_int_equal(strlen(a), 64);
    /* SHA-256("u\n{}"), computed independently with sha256sum */
    llm_cache_key("u", "{}", 2, c);
    assert_string_equal(c, "f0641e44de69749351c0b4977cc5eb17e656c7ddfcc1614d7088ba2d5efdd2e3");

    char dir[512];
    temp_dir(dir, sizeof(dir));
    fg_error err;
    llm_answer ans;
    llm_answer_init(&ans);
    assert_int_equal(llm_cache_get(dir, a, body, strlen(body), &ans), 0);
    assert_int_equal(llm_cache_put(dir, a, body, strlen(body), "{\"x\":\"\\u00e9\"}", 14, 10, 20,
                                   "m1", &err),
                     FG_OK);
    assert_int_equal(llm_cache_get(dir, a, body, strlen(body), &ans), 1);
    assert_string_equal(ans.text.data, "{\"x\":\"\\u00e9\"}");
    assert_int_equal(ans.tokens_in, 10);
    assert_int_equal(ans.tokens_out, 20);
    assert_string_equal(ans.model, "m1");
    /* a different body under the same key (a collision, a hand edit) is a miss */
    const char *other = "{\"model\":\"n\"}";
    assert_int_equal(llm_cache_get(dir, a, other, strlen(other), &ans), 0);
    /* a corrupt entry is a miss, and is replaced */
    char path[700];
    snprintf(path, sizeof(path), "%s/%.2s/%s.json", dir, a, a);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"request\": {\"model\"", f);
    fclose(f);
    assert_int_equal(llm_cache_get(dir, a, body, strlen(body), &ans), 0);
    assert_int_equal(llm_cache_put(dir, a, body, strlen(body), "{}", 2, 1, 1, "m", &err), FG_OK);
    assert_int_equal(llm_cache_get(dir, a, body, strlen(body), &ans), 1);
    llm_answer_free(&ans);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- the loop against a scripted server ---------------------------------------------- */

#define MAX_SCRIPT 16

typedef struct server {
    int fd, port;
    pthread_t thread;
    const char *replies[MAX_SCRIPT]; /* whole HTTP responses, in order; the last repeats */
    int n_replies;
    char *bodies[MAX_SCRIPT];        /* the request bodies received */
    char *heads[MAX_SCRIPT];
    int n_requests;
    pthread_mutex_t mu;
} server;

static void *serve(void *arg)
{
    server *S = arg;
    for (;;) {
        int c = accept(S->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        char *buf = calloc(1, 1 << 20);
        size_t got = 0;
        size_t need = (size_t)-1;
        while (got < (1 << 20) - 1) {
            ssize_t r = read(c, buf + got, (1 << 20) - 1 - got);
            if (r <= 0)
                break;
            got += (size_t)r;
            char *end = strstr(buf, "\r\n\r\n");
            if (end && need == (size_t)-1) {
                char *cl = strcasestr(buf, "content-length:");
                need = (size_t)(end + 4 - buf) + (cl ? strtoul(cl + 15, NULL, 10) : 0);
            }
            if (got >= need)
                break;
        }
        pthread_mutex_lock(&S->mu);
        int i = S->n_requests < MAX_SCRIPT ? S->n_requests : MAX_SCRIPT - 1;
        char *end = strstr(buf, "\r\n\r\n");
        if (S->n_requests < MAX_SCRIPT && end) {
            S->bodies[i] = strdup(end + 4);
            *end = 0;
            S->heads[i] = strdup(buf);
        }
        S->n_requests++;
        const char *reply = S->replies[i < S->n_replies ? i : S->n_replies - 1];
        pthread_mutex_unlock(&S->mu);
        if (write(c, reply, strlen(reply)) < 0) {
            /* the client went away */
        }
        close(c);
        free(buf);
    }
}

static void server_start(server *S)
{
    struct sockaddr_in a = {0};
    socklen_t len = sizeof(a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    S->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(S->fd >= 0);
    assert_int_equal(bind(S->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(S->fd, 16), 0);
    getsockname(S->fd, (struct sockaddr *)&a, &len);
    S->port = ntohs(a.sin_port);
    pthread_mutex_init(&S->mu, NULL);
    pthread_create(&S->thread, NULL, serve, S);
}

static void server_stop(server *S)
{
    shutdown(S->fd, SHUT_RDWR);
    close(S->fd);
    pthread_join(S->thread, NULL);
    for (int i = 0; i < MAX_SCRIPT; i++) {
        free(S->bodies[i]);
        free(S->heads[i]);
    }
    pthread_mutex_destroy(&S->mu);
}

#define OK_REPLY                                                                                   \
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"              \
    "{\"choices\":[{\"message\":{\"content\":\"```json\\n{\\\"a\\\":\\\"b\\\"}\\n```\"},"         \
    "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}"

typedef struct run_ctx {
    int n_done, n_ok;
    char text[256];
    char error[FG_ERROR_TEXT_MAX];
    long http;
    int attempts, from_cache, status;
    volatile sig_atomic_t *cancel;
} run_ctx;

static int on_done(void *ctx, const fg_llm_request *req, const fg_llm_response *r)
{
    run_ctx *c = ctx;
    (void)req;
    c->n_done++;
    c->n_ok += r->status == FG_OK;
    c->status = r->status;
    c->http = r->http_status;
    c->attempts = r->attempts;
    c->from_cache = r->from_cache;
    snprintf(c->text, sizeof(c->text), "%.*s", (int)r->text_len, r->text);
    snprintf(c->error, sizeof(c->error), "%s", r->err.text);
    if (c->cancel)
        *c->cancel = 1;
    return 0;
}

static fg_llm *client(server *S, const char *cache, fg_error *err)
{
    char url[100];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1", S->port);
    fg_llm_config c;
    fg_llm_config_default(&c);
    c.model = "m";
    c.base_url = url;
    c.api_key = "sk-SECRET-0123";
    c.cache_dir = cache;
    c.max_attempts = 3;
    fg_llm *L = NULL;
    assert_int_equal(fg_llm_new(&c, &L, err), FG_OK);
    return L;
}

static void test_loop_fallback_and_cache(void **state)
{
    (void)state;
    server S = {0};
    S.replies[0] = "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                   "Connection: close\r\n\r\n{\"error\":{\"message\":\"Invalid parameter: "
                   "'response_format' of type 'json_schema' is not supported with this model.\"}}";
    S.replies[1] = OK_REPLY;
    S.replies[2] = S.replies[0];
    S.n_replies = 3;
    server_start(&S);
    char dir[512];
    temp_dir(dir, sizeof(dir));
    fg_error err;
    fg_error_clear(&err);
    fg_llm *L = client(&S, dir, &err);
    json_t *schema = small_schema();
    fg_llm_message m = {"user", "hi"};
    fg_llm_request r = {1, NULL, &m, 1, schema, "doc", 0};
    run_ctx c = {0};
    assert_int_equal(fg_llm_submit(L, &r, &err), FG_OK);
    assert_int_equal(fg_llm_run(L, NULL, on_done, &c, NULL, &err), FG_OK);
    assert_int_equal(c.n_ok, 1);
    assert_string_equal(c.text, "{\"a\":\"b\"}"); /* out of its fence */
    assert_int_equal(S.n_requests, 2);
    assert_non_null(strstr(S.bodies[0], "\"json_schema\""));
    assert_non_null(strstr(S.bodies[1], "{\"type\":\"json_object\"}"));
    assert_non_null(strstr(S.heads[0], "Authorization: Bearer sk-SECRET-0123"));
    assert_null(strstr(S.bodies[0], "SECRET"));
    /* the level holds for later requests, and the answer is cached */
    fg_llm_free(L);
    L = client(&S, dir, &err);
    c = (run_ctx){0};
    assert_int_equal(fg_llm_submit(L, &r, &err), FG_OK);
    assert_int_equal(fg_llm_run(L, NULL, on_done, &c, NULL, &err), FG_OK);
    /* a new client starts at json_schema again, is refused, and finds the
     * answer to the fallback request in the cache */
    assert_int_equal(S.n_requests, 3);
    assert_int_equal(c.from_cache, 1);
    assert_string_equal(c.text, "{\"a\":\"b\"}");
    fg_llm_stats st;
    fg_llm_get_stats(L, &st);
    assert_int_equal(st.requests, 1);
    assert_int_equal(st.cache_hits, 1);
    assert_int_equal(st.http_requests, 1);
    fg_llm_free(L);
    json_decref(schema);
    server_stop(&S);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_loop_retry_and_failures(void **state)
{
    (void)state;
    server S = {0};
    S.replies[0] = "HTTP/1.1 429 Too Many Requests\r\nretry-after-ms: 50\r\nContent-Type: "
                   "application/json\r\nConnection: close\r\n\r\n{\"error\":{\"message\":\"slow "
                   "down\"}}";
    S.replies[1] = OK_REPLY;
    S.replies[2] = "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nConnection: "
                   "close\r\n\r\n{\"error\":{\"message\":\"Incorrect API key provided: "
                   "sk-SECRET-0123\"}}";
    S.replies[3] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html\r\nRetry-After: "
                   "0\r\nConnection: close\r\n\r\n<html><body>down</body></html>";
    S.n_replies = 4;
    server_start(&S);
    fg_error err;
    fg_llm *L = client(&S, NULL, &err);
    fg_llm_message m = {"user", "hi"};
    fg_llm_request r = {1, NULL, &m, 1, NULL, NULL, 0};
    run_ctx c = {0};
    assert_int_equal(fg_llm_submit(L, &r, &err), FG_OK);
    assert_int_equal(fg_llm_run(L, NULL, on_done, &c, NULL, &err), FG_OK);
    assert_int_equal(c.n_ok, 1);
    assert_int_equal(c.attempts, 2);
    /* no schema: the text as it came */
    assert_string_equal(c.text, "```json\n{\"a\":\"b\"}\n```");
    fg_llm_stats st;
    fg_llm_get_stats(L, &st);
    assert_int_equal(st.rate_limited, 1);
    assert_int_equal(st.retries, 1);

    c = (run_ctx){0};
    assert_int_equal(fg_llm_submit(L, &r, &err), FG_OK);
    assert_int_equal(fg_llm_run(L, NULL, on_done, &c, NULL, &err), FG_OK);
    assert_int_equal(c.status, FG_EUSAGE);
    assert_int_equal(c.http, 401);
    assert_non_null(strstr(c.error, "OPENAI_API_KEY"));
    assert_null(strstr(c.error, "SECRET")); /* the server echoed the key: redacted */

    c = (run_ctx){0};
    assert_int_equal(fg_llm_submit(L, &r, &err), FG_OK);
    assert_int_equal(fg_llm_run(L, NULL, on_done, &c, NULL, &err), FG_OK);
    assert_int_equal(c.http, 503);
    assert_int_equal(c.attempts, 3);
    assert_null(strchr(c.error, '<'));
    assert_non_null(strstr(c.error, "gave up after 3 attempts"));
    fg_llm_free(L);
    server_stop(&S);
}

typedef struct more_ctx {
    run_ctx c; /* first: on_done reads it */
    fg_llm *L;
    int left;
    fg_llm_request *r;
} more_ctx;

static int more_fn(void *ctx)
{
    more_ctx *m = ctx;
    if (m->left <= 0)
        return 1;
    m->left--;
    return fg_llm_submit(m->L, m->r, NULL);
}

static void test_loop_cancel(void **state)
{
    (void)state;
    server S = {0};
    S.replies[0] = OK_REPLY;
    S.n_replies = 1;
    server_start(&S);
    fg_error err;
    fg_error_clear(&err);
    fg_llm *L = client(&S, NULL, &err);
    fg_llm_message m = {"user", "hi"};
    fg_llm_request r = {1, NULL, &m, 1, NULL, NULL, 0};
    volatile sig_atomic_t cancel = 0;
    more_ctx mc = {{0}, L, 1000, &r};
    mc.c.cancel = &cancel; /* the first answer asks to stop */
    assert_int_equal(fg_llm_run(L, more_fn, on_done, &mc, &cancel, &err), FG_ECANCELED);
    assert_true(mc.c.n_done >= 1);
    assert_true(mc.left > 900);
    fg_llm_free(L);
    server_stop(&S);
}

typedef struct follow_ctx {
    fg_llm *L;
    int tags[8];
    int n;
} follow_ctx;

static int on_done_follow(void *ctx, const fg_llm_request *req, const fg_llm_response *r)
{
    follow_ctx *f = ctx;
    assert_int_equal(r->status, FG_OK);
    if (f->n < 8)
        f->tags[f->n++] = (int)r->tag;
    if (r->tag < 3) { /* a repair round: the conversation grows */
        fg_llm_message m[3] = {req->messages[0], {"assistant", r->text}, {"user", "<errors>"}};
        fg_llm_request next = *req;
        next.tag = r->tag + 10;
        next.messages = m;
        next.n_messages = 3;
        return fg_llm_submit(f->L, &next, NULL);
    }
    return 0;
}

static void test_loop_followups_and_rpm(void **state)
{
    (void)state;
    server S = {0};
    S.replies[0] = OK_REPLY;
    S.n_replies = 1;
    server_start(&S);
    char url[100];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1", S.port);
    fg_llm_config c;
    fg_llm_config_default(&c);
    c.model = "m";
    c.base_url = url;
    c.max_rpm = 600; /* one start per 100 ms */
    c.jobs = 2;
    fg_error err;
    follow_ctx f = {0};
    assert_int_equal(fg_llm_new(&c, &f.L, &err), FG_OK);
    fg_llm_message m = {"user", "hi"};
    for (int i = 1; i <= 2; i++) {
        fg_llm_request r = {(uint64_t)i, NULL, &m, 1, NULL, NULL, 0};
        assert_int_equal(fg_llm_submit(f.L, &r, &err), FG_OK);
    }
    double t0 = llm_now();
    assert_int_equal(fg_llm_run(f.L, NULL, on_done_follow, &f, NULL, &err), FG_OK);
    double took = llm_now() - t0;
    assert_int_equal(f.n, 4); /* 1, 2 and their follow-ups 11, 12 */
    assert_int_equal(S.n_requests, 4);
    assert_true(took >= 0.29); /* four starts, 100 ms apart */
    assert_non_null(strstr(S.bodies[3], "<errors>"));
    fg_llm_free(f.L);
    server_stop(&S);
}

#define SSE_HEAD "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"

static void test_loop_stream(void **state)
{
    (void)state;
    server S = {0};
    /* cut short (no finish reason), then whole */
    S.replies[0] = SSE_HEAD "data: {\"choices\":[{\"delta\":{\"content\":\"{\\\"a\\\":\"}}]}\n\n";
    S.replies[1] = SSE_HEAD "data: {\"choices\":[{\"delta\":{\"content\":\"{\\\"a\\\":\"}}]}\r\n\r\n"
                            ": keep-alive\r\n\r\n"
                            "data: {\"choices\":[{\"delta\":{\"content\":\"2}\"},"
                            "\"finish_reason\":\"stop\"}]}\n\n"
                            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,"
                            "\"completion_tokens\":6}}\n\ndata: [DONE]\n\n";
    S.replies[2] = S.replies[0];
    S.n_replies = 3;
    server_start(&S);
    char url[100];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1", S.port);
    fg_llm_config c;
    fg_llm_config_default(&c);
    c.model = "m";
    c.base_url = url;
    c.stream = 1;
    c.max_attempts = 2;
    fg_error err;
    fg_llm *L = NULL;
    assert_int_equal(fg_llm_new(&c, &L, &err), FG_OK);
    json_t *schema = small_schema();
    fg_llm_message m = {"user", "hi"};
    fg_llm_request r = {1, NULL, &m, 1, schema, "doc", 0};
    run_ctx rc = {0};
    assert_int_equal(fg_llm_submit(L, &r, &err), FG_OK);
    assert_int_equal(fg_llm_run(L, NULL, on_done, &rc, NULL, &err), FG_OK);
    assert_int_equal(rc.status, FG_OK);
    assert_int_equal(rc.attempts, 2);
    assert_string_equal(rc.text, "{\"a\":2}");
    assert_non_null(strstr(S.heads[0], "Accept: text/event-stream"));
    assert_non_null(strstr(S.bodies[0], "\"stream\":true,\"stream_options\":{\"include_usage\":true}"));
    fg_llm_stats st;
    fg_llm_get_stats(L, &st);
    assert_int_equal(st.tokens_in, 5);
    assert_int_equal(st.tokens_out, 6);
    /* cut short on every try: a failure that says so */
    rc = (run_ctx){0};
    assert_int_equal(fg_llm_submit(L, &r, &err), FG_OK);
    assert_int_equal(fg_llm_run(L, NULL, on_done, &rc, NULL, &err), FG_OK);
    assert_int_equal(rc.status, FG_ENETWORK);
    assert_non_null(strstr(rc.error, "the stream ended before the answer was complete"));
    fg_llm_free(L);
    json_decref(schema);
    server_stop(&S);
}

/* ---- the fuzz corpus, replayed -------------------------------------------------- */

/* Every seed of tests/fuzz/corpus-llm through the fuzz target, cut at every
 * length and fed at every chunk size, each from an exact-size copy so a
 * read past the end shows under AddressSanitizer. */
static void test_replay_corpus(void **state)
{
    (void)state;
    const char *dir = "tests/fuzz/corpus-llm";
    DIR *d = opendir(dir);
    if (!d) {
        skip();
        return;
    }
    size_t files = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024], *text = NULL;
        size_t n = 0;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        fg_error err;
        assert_int_equal(fg_read_file(path, 1 << 20, &text, &n, &err), FG_OK);
        for (size_t cut = 2; cut <= n; cut++) {
            for (int chunk = 0; chunk < 17; chunk += cut == n ? 1 : 8) {
                uint8_t *copy = malloc(cut);
                assert_non_null(copy);
                memcpy(copy, text, cut);
                copy[1] = (uint8_t)chunk;
                LLVMFuzzerTestOneInput(copy, cut);
                free(copy);
            }
        }
        free(text);
        files++;
    }
    closedir(d);
    assert_true(files >= 7);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sse_every_split),
        cmocka_unit_test(test_sse_byte_by_byte_and_limits),
        cmocka_unit_test(test_openai_parse),
        cmocka_unit_test(test_openai_stream),
        cmocka_unit_test(test_anthropic_parse),
        cmocka_unit_test(test_anthropic_stream),
        cmocka_unit_test(test_error_text),
        cmocka_unit_test(test_extract_json),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_limit_headers),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_loop_fallback_and_cache),
        cmocka_unit_test(test_loop_retry_and_failures),
        cmocka_unit_test(test_loop_cancel),
        cmocka_unit_test(test_loop_followups_and_rpm),
        cmocka_unit_test(test_loop_stream),
        cmocka_unit_test(test_replay_corpus),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
