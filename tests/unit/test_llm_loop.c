/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_llm_loop: the LLM client's disk cache, and its request loop against
 * a scripted HTTP server on a thread of this test (response_format
 * fallback, 429 with retry-after-ms, failures, cancel, follow-up requests
 * and the requests-per-minute limit, streaming).
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


static json_t *small_schema(void)
{
    return json_pack("{s:s,s:{s:{s:s}},s:[s],s:b}", "type", "object", "properties", "a", "type",
                     "string", "required", "a", "additionalProperties", 0);
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

/* Serve `replies` (NULL-terminated; the last repeats) on a port of 127.0.0.1. */
static void server_start(server *S, const char *const *replies)
{
    memset(S, 0, sizeof(*S));
    for (int i = 0; replies[i] && i < MAX_SCRIPT; i++)
        S->replies[S->n_replies++] = replies[i];
    assert_true(S->n_replies > 0);
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

/* 1 when request i reached the server and its head holds s. */
static int head_has(const server *S, int i, const char *s)
{
    return S->heads[i] && strstr(S->heads[i], s);
}

/* 1 when request i reached the server and its body holds s. */
static int body_has(const server *S, int i, const char *s)
{
    return S->bodies[i] && strstr(S->bodies[i], s);
}

#define OK_REPLY                                                                                   \
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"              \
    "{\"choices\":[{\"message\":{\"content\":\"```json\\n{\\\"a\\\":\\\"b\\\"}\\n```\"},"         \
    "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}"

static const fg_llm_message HI = {"user", "hi"};

typedef struct run_ctx {
    int n_done, n_ok;
    char text[256];
    char error[FG_ERROR_TEXT_MAX];
    char where[FG_ERROR_WHERE_MAX];
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
    snprintf(c->where, sizeof(c->where), "%s", r->err.where);
    if (c->cancel)
        *c->cancel = 1;
    return 0;
}

/* The configuration most loop tests use: a key the server may echo, three
 * attempts, answers cached in `cache` (or not, when NULL). */
static fg_llm_config keyed_config(const char *cache)
{
    fg_llm_config c;
    fg_llm_config_default(&c);
    c.api_key = "sk-SECRET-0123";
    c.cache_dir = cache;
    c.max_attempts = 3;
    return c;
}

/* A client of model "m" at the scripted server, configured by c. */
static fg_llm *client(const server *S, fg_llm_config c)
{
    char url[100];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1", S->port);
    c.model = "m";
    c.base_url = url;
    fg_llm *L = NULL;
    fg_error err;
    assert_int_equal(fg_llm_new(&c, &L, &err), FG_OK);
    return L;
}

/* Submit r alone and run the loop until it is answered; what came is in *c. */
static void run_once(fg_llm *L, const fg_llm_request *r, run_ctx *c)
{
    fg_error err;
    *c = (run_ctx){0};
    assert_int_equal(fg_llm_submit(L, r, &err), FG_OK);
    assert_int_equal(fg_llm_run(L, NULL, on_done, c, NULL, &err), FG_OK);
}

static void test_loop_fallback_and_cache(void **state)
{
    (void)state;
    const char *refused = "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                          "Connection: close\r\n\r\n{\"error\":{\"message\":\"Invalid parameter: "
                          "'response_format' of type 'json_schema' is not supported with this "
                          "model.\"}}";
    server S;
    server_start(&S, (const char *[]){refused, OK_REPLY, refused, NULL});
    char dir[512];
    temp_dir(dir, sizeof(dir));
    fg_llm *L = client(&S, keyed_config(dir));
    json_t *schema = small_schema();
    fg_llm_request r = {1, NULL, &HI, 1, schema, "doc", 0};
    run_ctx c;
    run_once(L, &r, &c);
    assert_int_equal(c.n_ok, 1);
    assert_string_equal(c.text, "{\"a\":\"b\"}"); /* out of its fence */
    assert_int_equal(S.n_requests, 2);
    assert_true(body_has(&S, 0, "\"json_schema\""));
    assert_true(body_has(&S, 1, "{\"type\":\"json_object\"}"));
    assert_true(head_has(&S, 0, "Authorization: Bearer sk-SECRET-0123"));
    assert_false(body_has(&S, 0, "SECRET"));
    /* the level holds for later requests, and the answer is cached */
    fg_llm_free(L);
    L = client(&S, keyed_config(dir));
    run_once(L, &r, &c);
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
    server S;
    server_start(&S, (const char *[]){
        "HTTP/1.1 429 Too Many Requests\r\nretry-after-ms: 50\r\nContent-Type: "
        "application/json\r\nConnection: close\r\n\r\n{\"error\":{\"message\":\"slow down\"}}",
        OK_REPLY,
        "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nConnection: "
        "close\r\n\r\n{\"error\":{\"message\":\"Incorrect API key provided: sk-SECRET-0123\"}}",
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html\r\nRetry-After: "
        "0\r\nConnection: close\r\n\r\n<html><body>down</body></html>",
        NULL});
    fg_llm *L = client(&S, keyed_config(NULL));
    fg_llm_request r = {1, NULL, &HI, 1, NULL, NULL, 0};
    run_ctx c;
    run_once(L, &r, &c);
    assert_int_equal(c.n_ok, 1);
    assert_int_equal(c.attempts, 2);
    /* no schema: the text as it came */
    assert_string_equal(c.text, "```json\n{\"a\":\"b\"}\n```");
    fg_llm_stats st;
    fg_llm_get_stats(L, &st);
    assert_int_equal(st.rate_limited, 1);
    assert_int_equal(st.retries, 1);

    run_once(L, &r, &c);
    assert_int_equal(c.status, FG_EUSAGE);
    assert_int_equal(c.http, 401);
    assert_non_null(strstr(c.error, "API key was refused"));
    assert_string_equal(c.where, "llm api key"); /* the setting, not a variable or flag */
    assert_null(strstr(c.error, "SECRET")); /* the server echoed the key: redacted */

    run_once(L, &r, &c);
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
    server S;
    server_start(&S, (const char *[]){OK_REPLY, NULL});
    fg_error err;
    fg_error_clear(&err);
    fg_llm *L = client(&S, keyed_config(NULL));
    fg_llm_request r = {1, NULL, &HI, 1, NULL, NULL, 0};
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
    server S;
    server_start(&S, (const char *[]){OK_REPLY, NULL});
    fg_llm_config c;
    fg_llm_config_default(&c);
    c.max_rpm = 600; /* one start per 100 ms */
    c.jobs = 2;
    fg_error err;
    follow_ctx f = {0};
    f.L = client(&S, c);
    for (int i = 1; i <= 2; i++) {
        fg_llm_request r = {(uint64_t)i, NULL, &HI, 1, NULL, NULL, 0};
        assert_int_equal(fg_llm_submit(f.L, &r, &err), FG_OK);
    }
    double t0 = llm_now();
    assert_int_equal(fg_llm_run(f.L, NULL, on_done_follow, &f, NULL, &err), FG_OK);
    double took = llm_now() - t0;
    assert_int_equal(f.n, 4); /* 1, 2 and their follow-ups 11, 12 */
    assert_int_equal(S.n_requests, 4);
    assert_true(took >= 0.29); /* four starts, 100 ms apart */
    assert_true(body_has(&S, 3, "<errors>"));
    fg_llm_free(f.L);
    server_stop(&S);
}

#define SSE_HEAD "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"

static void test_loop_stream(void **state)
{
    (void)state;
    /* cut short (no finish reason), then whole, then cut short again */
    const char *cut =
        SSE_HEAD "data: {\"choices\":[{\"delta\":{\"content\":\"{\\\"a\\\":\"}}]}\n\n";
    server S;
    server_start(&S, (const char *[]){
        cut,
        SSE_HEAD "data: {\"choices\":[{\"delta\":{\"content\":\"{\\\"a\\\":\"}}]}\r\n\r\n"
                 ": keep-alive\r\n\r\n"
                 "data: {\"choices\":[{\"delta\":{\"content\":\"2}\"},"
                 "\"finish_reason\":\"stop\"}]}\n\n"
                 "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,"
                 "\"completion_tokens\":6}}\n\ndata: [DONE]\n\n",
        cut, NULL});
    fg_llm_config c;
    fg_llm_config_default(&c);
    c.stream = 1;
    c.max_attempts = 2;
    fg_llm *L = client(&S, c);
    json_t *schema = small_schema();
    fg_llm_request r = {1, NULL, &HI, 1, schema, "doc", 0};
    run_ctx rc;
    run_once(L, &r, &rc);
    assert_int_equal(rc.status, FG_OK);
    assert_int_equal(rc.attempts, 2);
    assert_string_equal(rc.text, "{\"a\":2}");
    assert_true(head_has(&S, 0, "Accept: text/event-stream"));
    assert_true(body_has(&S, 0, "\"stream\":true,\"stream_options\":{\"include_usage\":true}"));
    fg_llm_stats st;
    fg_llm_get_stats(L, &st);
    assert_int_equal(st.tokens_in, 5);
    assert_int_equal(st.tokens_out, 6);
    /* cut short on every try: a failure that says so */
    run_once(L, &r, &rc);
    assert_int_equal(rc.status, FG_ENETWORK);
    assert_non_null(strstr(rc.error, "the stream ended before the answer was complete"));
    fg_llm_free(L);
    json_decref(schema);
    server_stop(&S);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_loop_fallback_and_cache),
        cmocka_unit_test(test_loop_retry_and_failures),
        cmocka_unit_test(test_loop_cancel),
        cmocka_unit_test(test_loop_followups_and_rpm),
        cmocka_unit_test(test_loop_stream),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
