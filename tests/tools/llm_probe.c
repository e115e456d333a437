/* SPDX-License-Identifier: Apache-2.0 */
/*
 * llm_probe: send one prompt (or the same prompt N times) through the LLM
 * client and print what came back, to try a server or a fault by hand.
 *
 *   llm_probe [--provider openai|anthropic] --model M [--base-url URL]
 *             [--key K] [--azure API-VERSION] [--cacert PEM] [--stream]
 *             [--schema FILE] [--system TEXT] [--cache DIR] [--max-tokens N]
 *             [--timeout-ms N] [--attempts N] [--jobs N] [--rpm R] [--count N]
 *             [--text] [--dry-run] PROMPT-FILE
 *
 * Prints one line per answer (tag, status, finish, HTTP status, attempts,
 * cache, tokens, bytes), the text with --text, the error otherwise, then
 * the totals. Exit 0 when every answer finished with "stop".
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "fhir/base/fg_data.h"
#include "generators/llm/fg_llm.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

typedef struct probe {
    int show_text;
    int count, submitted, bad;
    fg_llm *llm;
    fg_llm_request req;
} probe;

static const char *finish_name(fg_llm_finish f)
{
    static const char *names[] = {"stop", "length", "refusal", "filtered", "failed"};
    return (unsigned)f < 5 ? names[f] : "?";
}

static int more(void *ctx)
{
    probe *p = ctx;
    if (p->submitted >= p->count)
        return 1;
    fg_error e;
    fg_error_clear(&e);
    p->req.tag = (uint64_t)p->submitted++;
    if (fg_llm_submit(p->llm, &p->req, &e) != FG_OK) {
        fprintf(stderr, "llm_probe: %s: %s\n", e.where, e.text);
        return e.code;
    }
    return 0;
}

static int done(void *ctx, const fg_llm_request *req, const fg_llm_response *r)
{
    probe *p = ctx;
    (void)req;
    printf("tag=%llu status=%s finish=%s http=%ld attempts=%d cache=%d tokens_in=%ld "
           "tokens_out=%ld bytes=%zu\n",
           (unsigned long long)r->tag, r->status == FG_OK ? "ok" : fg_strerror(r->status),
           finish_name(r->finish), r->http_status, r->attempts, r->from_cache, r->tokens_in,
           r->tokens_out, r->text_len);
    if (r->status != FG_OK)
        printf("  error: %s: %s\n", r->err.where, r->err.text);
    if (r->refusal)
        printf("  refusal: %s\n", r->refusal);
    if (p->show_text && r->status == FG_OK)
        printf("%.*s\n", (int)r->text_len, r->text);
    if (r->finish != FG_LLM_FINISH_STOP)
        p->bad++;
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: llm_probe [--provider openai|anthropic] --model M [--base-url URL] [--key K]\n"
            "                 [--azure API-VERSION] [--cacert PEM] [--stream] [--schema FILE]\n"
            "                 [--system TEXT] [--cache DIR] [--max-tokens N] [--timeout-ms N]\n"
            "                 [--attempts N] [--jobs N] [--rpm R] [--count N] [--text] [--dry-run]\n"
            "                 PROMPT-FILE\n");
    exit(2);
}

int main(int argc, char **argv)
{
    fg_llm_config c;
    fg_llm_config_default(&c);
    probe p;
    memset(&p, 0, sizeof(p));
    p.count = 1;
    const char *schema_file = NULL, *prompt_file = NULL;
    int dry = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
#define VAL() (i + 1 < argc ? argv[++i] : (usage(), ""))
        if (strcmp(a, "--provider") == 0) {
            const char *v = VAL();
            c.provider = strcmp(v, "anthropic") == 0 ? FG_LLM_ANTHROPIC : FG_LLM_OPENAI;
        } else if (strcmp(a, "--model") == 0) {
            c.model = VAL();
        } else if (strcmp(a, "--base-url") == 0) {
            c.base_url = VAL();
        } else if (strcmp(a, "--key") == 0) {
            c.api_key = VAL();
        } else if (strcmp(a, "--azure") == 0) {
            c.azure_api_version = VAL();
        } else if (strcmp(a, "--cacert") == 0) {
            c.ca_file = VAL();
        } else if (strcmp(a, "--stream") == 0) {
            c.stream = 1;
        } else if (strcmp(a, "--schema") == 0) {
            schema_file = VAL();
        } else if (strcmp(a, "--system") == 0) {
            p.req.system = VAL();
        } else if (strcmp(a, "--cache") == 0) {
            c.cache_dir = VAL();
        } else if (strcmp(a, "--max-tokens") == 0) {
            c.max_tokens = atol(VAL());
        } else if (strcmp(a, "--timeout-ms") == 0) {
            c.timeout_ms = atol(VAL());
        } else if (strcmp(a, "--attempts") == 0) {
            c.max_attempts = atoi(VAL());
        } else if (strcmp(a, "--jobs") == 0) {
            c.jobs = atoi(VAL());
        } else if (strcmp(a, "--rpm") == 0) {
            c.max_rpm = atof(VAL());
        } else if (strcmp(a, "--count") == 0) {
            p.count = atoi(VAL());
        } else if (strcmp(a, "--text") == 0) {
            p.show_text = 1;
        } else if (strcmp(a, "--dry-run") == 0) {
            dry = 1;
        } else if (a[0] == '-' || prompt_file) {
            usage();
        } else {
            prompt_file = a;
        }
    }
    if (!c.model || !prompt_file)
        usage();
    fg_error e;
    fg_error_clear(&e);
    char *prompt = NULL, *schema_text = NULL, *body = NULL;
    size_t n;
    json_t *schema = NULL;
    int rc = 1;
    if (fg_read_file(prompt_file, 16u << 20, &prompt, &n, &e) != FG_OK)
        goto fail;
    if (schema_file) {
        if (fg_read_file(schema_file, 16u << 20, &schema_text, &n, &e) != FG_OK)
            goto fail;
        json_error_t je;
        if (!(schema = json_loadb(schema_text, n, 0, &je))) {
            fprintf(stderr, "llm_probe: %s: line %d: %s\n", schema_file, je.line, je.text);
            goto cleanup;
        }
    }
    fg_llm_message m = {"user", prompt};
    p.req.messages = &m;
    p.req.n_messages = 1;
    p.req.schema = schema;
    p.req.schema_name = "patient_history";
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (fg_llm_new(&c, &p.llm, &e) != FG_OK)
        goto fail;
    if (dry) {
        if (fg_llm_render(p.llm, &p.req, &body, &e) != FG_OK)
            goto fail;
        printf("%s\n", body);
        rc = 0;
        goto cleanup;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    int r = fg_llm_run(p.llm, more, done, &p, &stop, &e);
    fg_llm_stats st;
    fg_llm_get_stats(p.llm, &st);
    printf("requests=%zu http_requests=%zu cache_hits=%zu retries=%zu rate_limited=%zu "
           "failures=%zu tokens_in=%ld tokens_out=%ld\n",
           st.requests, st.http_requests, st.cache_hits, st.retries, st.rate_limited, st.failures,
           st.tokens_in, st.tokens_out);
    if (r != FG_OK)
        goto fail;
    rc = p.bad ? 1 : 0;
    goto cleanup;
fail:
    fprintf(stderr, "llm_probe: %s: %s\n", e.where, e.text);
cleanup:
    fg_llm_free(p.llm);
    json_decref(schema);
    free(body);
    free(prompt);
    free(schema_text);
    return rc;
}
