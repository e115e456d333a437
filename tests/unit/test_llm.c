/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_llm: the LLM client's parts without a server. The SSE parser on
 * every split of a stream, both protocols' bodies and answers (refusal,
 * length, tool_use, errors, HTML), rate-limit headers, JSON extraction,
 * request rendering, and the fuzz corpus replayed. test_llm_loop runs the
 * client's cache and loop against a scripted server.
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

#include "fhir/base/fg_data.h"
#include "fhir/rest/fg_rest.h"
#include "generators/llm/fg_llm.h"
#include "generators/llm/llm_private.h"

#include "tests/fuzz/fuzz_llm.c"

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

/* ---- answers of both protocols, whole and streamed ------------------------- */

/* What an answer should hold. Zero fields are not checked: finish holds
 * FIN(x) (the finish reason plus one), finished is 1 (finished) or -1 (not),
 * tokens are checked when either is non-zero, error is a part of a->error. */
#define FIN(x) (FG_LLM_FINISH_##x + 1)
typedef struct want {
    int finish, finished;
    const char *text, *refusal, *model, *error;
    long tokens_in, tokens_out;
} want;

static void check_answer(const llm_answer *a, const want *w)
{
    if (w->finish)
        assert_int_equal(a->finish, w->finish - 1);
    if (w->finished)
        assert_int_equal(a->finished, w->finished > 0);
    if (w->text)
        assert_string_equal(a->text.data, w->text);
    if (w->refusal)
        assert_string_equal(a->refusal.data, w->refusal);
    if (w->model)
        assert_string_equal(a->model, w->model);
    if (w->error)
        assert_non_null(strstr(a->error, w->error));
    if (w->tokens_in || w->tokens_out) {
        assert_int_equal(a->tokens_in, w->tokens_in);
        assert_int_equal(a->tokens_out, w->tokens_out);
    }
}

typedef int (*parse_fn)(const char *body, size_t len, llm_answer *a, fg_error *err);

typedef struct parse_case {
    parse_fn parse;
    const char *body;
    int rc;
    const char *err;  /* a part of err.text when rc is not FG_OK */
    want want;
} parse_case;

static const parse_case PARSE_CASES[] = {
    {llm_openai_parse,
     "{\"model\":\"m1\",\"choices\":[{\"message\":{\"role\":\"assistant\","
     "\"content\":\"{\\\"x\\\":1}\",\"refusal\":null},\"finish_reason\":\"stop\"}],"
     "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":5}}",
     FG_OK, NULL,
     {.text = "{\"x\":1}", .finish = FIN(STOP), .tokens_in = 12, .tokens_out = 5, .model = "m1"}},
    {llm_openai_parse,
     "{\"choices\":[{\"message\":{\"content\":\"{\\\"x\\\":\"},\"finish_reason\":\"length\"}]}",
     FG_OK, NULL, {.finish = FIN(LENGTH)}},
    {llm_openai_parse,
     "{\"choices\":[{\"message\":{\"content\":null,\"refusal\":\"No.\"},"
     "\"finish_reason\":\"stop\"}]}",
     FG_OK, NULL, {.finish = FIN(REFUSAL), .refusal = "No."}},
    {llm_openai_parse,
     "{\"choices\":[{\"message\":{\"content\":\"\"},\"finish_reason\":\"content_filter\"}]}",
     FG_OK, NULL, {.finish = FIN(FILTERED)}},
    {llm_openai_parse, "{\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}",
     FG_EINVALID, "overloaded", {0}},
    {llm_openai_parse, "{\"choices\":[]}", FG_EINVALID, "choices[0].message", {0}},
    {llm_openai_parse, "not json", FG_EINVALID, "not a JSON object", {0}},
    {llm_anthropic_parse,
     "{\"type\":\"message\",\"model\":\"c\",\"content\":[{\"type\":\"text\","
     "\"text\":\"Here it is\"},{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":"
     "\"patient_history\",\"input\":{\"b\": [1, 2], \"a\": \"x\"}}],"
     "\"stop_reason\":\"tool_use\",\"usage\":{\"input_tokens\":9,\"output_tokens\":8}}",
     FG_OK, NULL,
     {.text = "{\"b\":[1,2],\"a\":\"x\"}", .finish = FIN(STOP), .tokens_in = 9, .tokens_out = 8}},
    {llm_anthropic_parse,
     "{\"content\":[{\"type\":\"text\",\"text\":\"abc\"}],\"stop_reason\":\"max_tokens\"}",
     FG_OK, NULL, {.finish = FIN(LENGTH), .text = "abc"}},
    {llm_anthropic_parse,
     "{\"content\":[{\"type\":\"text\",\"text\":\"Sorry.\"}],\"stop_reason\":\"refusal\"}",
     FG_OK, NULL, {.finish = FIN(REFUSAL), .refusal = "Sorry."}},
    {llm_anthropic_parse,
     "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}",
     FG_EINVALID, "Overloaded", {0}},
};

static void test_parse(void **state)
{
    (void)state;
    llm_answer a;
    llm_answer_init(&a);
    for (size_t i = 0; i < sizeof(PARSE_CASES) / sizeof(PARSE_CASES[0]); i++) {
        const parse_case *t = &PARSE_CASES[i];
        fg_error err;
        fg_error_clear(&err);
        llm_answer_reset(&a);
        assert_int_equal(t->parse(t->body, strlen(t->body), &a, &err), t->rc);
        if (t->err)
            assert_non_null(strstr(err.text, t->err));
        check_answer(&a, &t->want);
    }
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

typedef struct stream_case {
    llm_sse_fn event;
    void (*finish)(llm_answer *a); /* after the stream, or NULL */
    const char *stream;
    want want;
} stream_case;

static const stream_case STREAM_CASES[] = {
    {llm_openai_event, NULL,
     "data: {\"model\":\"m\",\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n"
     "data: {\"choices\":[{\"delta\":{\"content\":\"{\\\"a\\\":\"}}]}\n\n"
     ": ping\n\n"
     "data: {\"choices\":[{\"delta\":{\"content\":\"[1,2]}\"},\"finish_reason\":null}]}\n\n"
     "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
     "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\n\n"
     "data: [DONE]\n\n",
     {.text = "{\"a\":[1,2]}", .finished = 1, .finish = FIN(STOP), .tokens_in = 3,
      .tokens_out = 4}},
    {llm_openai_event, NULL,
     "data: {\"choices\":[{\"delta\":{\"refusal\":\"I can\"}}]}\n\n"
     "data: {\"choices\":[{\"delta\":{\"refusal\":\"not.\"},\"finish_reason\":\"stop\"}]}\n\n",
     {.finish = FIN(REFUSAL), .refusal = "I cannot."}},
    /* [DONE] without a finish_reason still ends the answer */
    {llm_openai_event, NULL,
     "data: {\"choices\":[{\"delta\":{\"content\":\"{}\"}}]}\n\ndata: [DONE]\n\n",
     {.finished = 1, .finish = FIN(STOP)}},
    {llm_openai_event, NULL, "data: {\"error\":{\"message\":\"stream broke\"}}\n\n",
     {.error = "stream broke", .finished = -1}},
    {llm_anthropic_event, llm_anthropic_finish,
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
     "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
     {.text = "{\"a\":[true]}", .finish = FIN(STOP), .tokens_in = 20, .tokens_out = 30}},
    /* cut at the budget: the tool input as it came */
    {llm_anthropic_event, llm_anthropic_finish,
     "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
     "\"content_block\":{\"type\":\"tool_use\",\"input\":{}}}\n\n"
     "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":"
     "{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\": [1,\"}}\n\n"
     "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
     "\"max_tokens\"}}\n\n",
     {.finish = FIN(LENGTH), .text = "{\"a\": [1,"}},
    {llm_anthropic_event, NULL,
     "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
     "\"message\":\"Overloaded\"}}\n\n",
     {.error = "Overloaded"}},
};

static void test_streams(void **state)
{
    (void)state;
    llm_answer a;
    llm_answer_init(&a);
    for (size_t i = 0; i < sizeof(STREAM_CASES) / sizeof(STREAM_CASES[0]); i++) {
        const stream_case *t = &STREAM_CASES[i];
        llm_answer_reset(&a);
        feed_events(t->event, &a, t->stream);
        if (t->finish)
            t->finish(&a);
        check_answer(&a, &t->want);
    }
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

/* A duration and the seconds it reads as (give or take tol), or FG_EINVALID. */
static const struct {
    const char *text;
    int rc;
    double seconds, tol;
} DURATIONS[] = {
    {"1s", FG_OK, 1.0, 0},
    {"6m0s", FG_OK, 300.0 < FG_MAX_RETRY_AFTER_S ? 300.0 : FG_MAX_RETRY_AFTER_S, 0}, /* capped */
    {"20ms", FG_OK, 0.02, 1e-4},
    {"1m30.5s", FG_OK, 90.5, 0},
    {"2", FG_OK, 2.0, 0},
    {"2h", FG_OK, FG_MAX_RETRY_AFTER_S, 0},
    {"", FG_EINVALID, 0, 0},
    {"soon", FG_EINVALID, 0, 0},
    {"-1s", FG_EINVALID, 0, 0},
    {"1x", FG_EINVALID, 0, 0},
};

static void test_durations(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(DURATIONS) / sizeof(DURATIONS[0]); i++) {
        double s = -1;
        assert_int_equal(fg_http_parse_duration(DURATIONS[i].text, &s), DURATIONS[i].rc);
        if (DURATIONS[i].rc == FG_OK)
            assert_true(s >= DURATIONS[i].seconds - DURATIONS[i].tol &&
                        s <= DURATIONS[i].seconds + DURATIONS[i].tol);
    }
}

static void header(fg_http_limits *l, const char *h)
{
    fg_http_limits_header(l, h, strlen(h), 1700000000);
}

static void test_limit_headers(void **state)
{
    (void)state;
    fg_http_limits l;
    fg_http_limits_reset(&l);
    assert_true(fg_http_limits_wait(&l) < 0);
    header(&l, "Retry-After: 3\r\n");
    assert_true(fg_http_limits_wait(&l) == 3.0);
    header(&l, "retry-after-ms: 1500\r\n"); /* the finer one wins */
    assert_true(fg_http_limits_wait(&l) == 1.5);
    fg_http_limits_reset(&l);
    header(&l, "x-ratelimit-remaining-requests: 0\r\n");
    header(&l, "x-ratelimit-reset-requests: 6s\r\n");
    header(&l, "x-ratelimit-reset-tokens: 20ms\r\n");
    assert_true(fg_http_limits_wait(&l) == 6.0);
    fg_http_limits_reset(&l);
    header(&l, "X-RateLimit-Reset-Tokens: 250ms\r\n");
    assert_true(fg_http_limits_wait(&l) == 0.25);
    fg_http_limits_reset(&l);
    header(&l, "retry-after: garbage\r\n");
    header(&l, "content-type: application/json\r\n");
    assert_true(fg_http_limits_wait(&l) < 0);
}

/* ---- rendering ------------------------------------------------------------------ */

static json_t *small_schema(void)
{
    return json_pack("{s:s,s:{s:{s:s}},s:[s],s:b}", "type", "object", "properties", "a", "type",
                     "string", "required", "a", "additionalProperties", 0);
}

/* body holds every string of has[] and none of lacks[] (NULL-terminated). */
static void check_body(const char *body, const char *const *has, const char *const *lacks)
{
    for (size_t i = 0; has[i]; i++)
        if (!strstr(body, has[i]))
            fail_msg("the body lacks %s: %s", has[i], body);
    for (size_t i = 0; lacks[i]; i++)
        if (strstr(body, lacks[i]))
            fail_msg("the body holds %s: %s", lacks[i], body);
}

#define STRINGS(...) ((const char *const[]){__VA_ARGS__, NULL})

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
    check_body(b1,
               STRINGS("\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"}",
                       "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":"
                       "{\"name\":\"doc\",\"strict\":true,\"schema\":{",
                       "\"max_tokens\":8192", "\"temperature\":0.7,"),
               STRINGS("SECRET", "stream"));
    free(b1);
    free(b2);
    fg_buf b;
    fg_buf_init(&b);
    assert_int_equal(llm_render_buf(L, &r, LLM_FORMAT_OBJECT, &b, &err), FG_OK);
    check_body(b.data,
               STRINGS("\"response_format\":{\"type\":\"json_object\"}",
                       "follows this JSON schema"),
               STRINGS("SECRET"));
    assert_int_equal(llm_render_buf(L, &r, LLM_FORMAT_NONE, &b, &err), FG_OK);
    check_body(b.data, STRINGS("follows this JSON schema"), STRINGS("response_format"));
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
    check_body(b.data,
               STRINGS("\"system\":\"Be brief.\"", "\"tools\":[{\"name\":\"doc\",\"description\":",
                       "\"input_schema\":{\"type\":\"object\"",
                       "\"tool_choice\":{\"type\":\"tool\",\"name\":\"doc\"}", "\"stream\":true"),
               STRINGS("SECRET", "temperature"));
    fg_llm_free(L);

    c.provider = FG_LLM_OPENAI;
    c.base_url = "https://example.openai.azure.com/openai/deployments/d1";
    c.azure_api_version = "2024-10-21";
    assert_int_equal(fg_llm_new(&c, &L, &err), FG_OK);
    assert_string_equal(L->url, "https://example.openai.azure.com/openai/deployments/d1/chat/"
                                "completions?api-version=2024-10-21");
    assert_int_equal(llm_render_buf(L, &r, 0, &b, &err), FG_OK);
    check_body(b.data, STRINGS("\"stream\":true,\"stream_options\":{\"include_usage\":true}"),
               STRINGS("SECRET"));
    fg_llm_free(L);

    c.model = NULL;
    assert_int_equal(fg_llm_new(&c, &L, &err), FG_EUSAGE);
    c.model = "m";
    c.base_url = "ftp://x";
    assert_int_equal(fg_llm_new(&c, &L, &err), FG_EUSAGE);
    fg_buf_free(&b);
    json_decref(schema);
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
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_streams),
        cmocka_unit_test(test_error_text),
        cmocka_unit_test(test_extract_json),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_limit_headers),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_replay_corpus),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
