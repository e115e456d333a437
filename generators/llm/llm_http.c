/* SPDX-License-Identifier: Apache-2.0 */
/*
 * llm_http.c: the LLM client's schedule on the fhir/http pool. `jobs`
 * slots; a slot is idle, running (its transfer is in the pool) or waiting
 * for its next attempt (backoff, Retry-After, retry-after-ms,
 * x-ratelimit-*, read by the pool). Requests leave the queue when a slot is
 * free, the max_rpm spacing allows and no 429 pause holds; a cached answer
 * is delivered right away without taking a slot.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "generators/llm/fg_llm.h"
#include "generators/llm/llm_private.h"

#define IDLE_WAIT 0.25   /* longest wait of one turn of the loop, seconds */
#define STARVED_WAIT 0.05 /* between two asks of `more` that gave nothing */

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    llm_slot *s = ud;
    fg_llm *L = s->owner;
    size_t bytes = size * n;
    if (s->sse_decided != s->x.responses) { /* the first bytes of this response */
        long status = fg_http_xfer_status(&s->x);
        s->is_sse = L->cfg.stream && status >= 200 && status <= 299 &&
                    strncasecmp(s->x.content_type, "text/event-stream", 17) == 0;
        s->sse_decided = s->x.responses;
    }
    if (s->is_sse) {
        fg_error e;
        fg_error_clear(&e);
        llm_sse_fn fn = L->cfg.provider == FG_LLM_ANTHROPIC ? llm_anthropic_event
                                                            : llm_openai_event;
        int rc = llm_sse_feed(&s->sse, p, bytes, fn, &s->ans, &e);
        if (rc == FG_ELIMIT || s->ans.too_large) {
            s->too_large = 1;
            return 0;
        }
        return rc == FG_OK ? bytes : 0;
    }
    if (s->raw.len + bytes > FG_MAX_LLM_RESPONSE_BYTES) {
        s->too_large = 1;
        return 0; /* abort the transfer: CURLE_WRITE_ERROR */
    }
    fg_buf_append(&s->raw, p, bytes);
    return s->raw.failed ? 0 : bytes;
}

/* Configure the transfer of s: a POST of s->body with the provider's
 * headers and the key (wiped once curl holds its copy). */
static int setup(fg_llm *L, llm_slot *s, fg_error *err)
{
    const fg_llm_config *c = &L->cfg;
    const char *headers[5];
    size_t n = 0;
    headers[n++] = "Content-Type: application/json";
    headers[n++] = c->stream ? "Accept: text/event-stream" : "Accept: application/json";
    if (c->provider == FG_LLM_ANTHROPIC)
        headers[n++] = "anthropic-version: 2023-06-01";
    headers[n++] = "Expect:"; /* no 100-continue round trip */
    headers[n] = NULL;
    fg_buf key;
    fg_buf_init(&key);
    if (L->api_key && c->provider == FG_LLM_ANTHROPIC)
        fg_buf_printf(&key, "x-api-key: %s", L->api_key);
    else if (L->api_key)
        fg_buf_printf(&key, L->azure ? "api-key: %s" : "Authorization: Bearer %s", L->api_key);
    int rc;
    if (key.failed) {
        rc = fg_error_set(err, FG_ENOMEM, "curl", "out of memory");
    } else {
        fg_http_request r = {.url = L->url, .headers = headers, .auth_header = key.data,
                             .body = s->body.data ? s->body.data : "", .len = s->body.len,
                             .transport = &L->transport, .user_agent = "fhirgen/" FG_VERSION,
                             .write = on_body, .write_ctx = s};
        rc = fg_http_xfer_setup(&s->x, &r, err);
    }
    if (key.data)
        memset(key.data, 0, key.cap);
    fg_buf_free(&key);
    return rc;
}

static void rpm_mark(fg_llm *L, double t)
{
    if (L->cfg.max_rpm > 0)
        L->next_start = (L->next_start > t ? L->next_start : t) + 60.0 / L->cfg.max_rpm;
}

/* Whether a transfer may start now; else lowers *next_due to when. */
static int may_start(fg_llm *L, double t, double *next_due)
{
    double at = L->next_start > L->pause_until ? L->next_start : L->pause_until;
    if (t >= at)
        return 1;
    if (at < *next_due)
        *next_due = at;
    return 0;
}

/* Start an attempt of s->req. On failure the request is delivered as failed. */
static int start(fg_llm *L, llm_slot *s, fg_llm_done_fn done, void *ctx)
{
    fg_error e;
    fg_error_clear(&e);
    s->level = L->level;
    int rc = llm_render_buf(L, &s->req->pub, s->level, &s->body, &e);
    if (rc == FG_OK && L->cache_dir && s->cache_level != s->level) {
        /* first try, or first at a lower response_format level */
        char key[65];
        s->cache_level = s->level;
        llm_cache_key(L->url, s->body.data, s->body.len, key);
        llm_answer_reset(&s->ans);
        if (llm_cache_get(L->cache_dir, key, s->body.data, s->body.len, &s->ans)) {
            llm_req *r = s->req;
            s->req = NULL;
            s->state = LLM_SLOT_IDLE;
            return llm_deliver(L, r, &s->ans, FG_OK, 0, s->attempts, 1, NULL, done, ctx);
        }
    }
    s->attempts++;
    if (s->attempts > 1)
        L->st.retries++;
    fg_buf_clear(&s->raw);
    s->raw.failed = 0;
    llm_answer_reset(&s->ans);
    llm_sse_free(&s->sse);
    llm_sse_init(&s->sse, FG_MAX_LLM_RESPONSE_BYTES + 65536, FG_MAX_LLM_STREAM_BYTES);
    s->sse_decided = 0;
    s->is_sse = s->too_large = 0;
    if (rc == FG_OK)
        rc = setup(L, s, &e);
    if (rc == FG_OK)
        rc = fg_http_pool_add(L->pool, &s->x, &e);
    if (rc != FG_OK) {
        llm_req *r = s->req;
        s->req = NULL;
        s->state = LLM_SLOT_IDLE;
        return llm_deliver(L, r, NULL, rc, 0, s->attempts, 0, &e, done, ctx);
    }
    rpm_mark(L, llm_now());
    L->st.http_requests++;
    s->state = LLM_SLOT_RUNNING;
    return FG_OK;
}

static int mentions_format(const char *body, size_t len)
{
    char low[4096];
    size_t n = len < sizeof(low) - 1 ? len : sizeof(low) - 1;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)((body[i] >= 'A' && body[i] <= 'Z') ? body[i] + 32 : body[i]);
    low[n] = 0;
    return strstr(low, "response_format") || strstr(low, "json_schema") ||
           strstr(low, "json schema") || strstr(low, "structured output");
}

/* Retry later (1) or give up (0) with *code and e filled. */
static int judge_failure(fg_llm *L, llm_slot *s, int cc, long status, int *code, fg_error *e)
{
    char msg[400];
    const char *body = s->raw.data ? s->raw.data : "";
    if (s->too_large) {
        *code = fg_error_set(e, FG_ELIMIT, L->url,
                             "the answer is larger than FG_MAX_LLM_RESPONSE_BYTES (%u bytes)%s",
                             FG_MAX_LLM_RESPONSE_BYTES,
                             s->is_sse ? " (or its stream than FG_MAX_LLM_STREAM_BYTES)" : "");
        return 0;
    }
    if (cc != CURLE_OK) {
        if (cc == CURLE_OPERATION_TIMEDOUT)
            *code = fg_error_set(e, FG_ENETWORK, L->url, "no answer within %ld ms (the timeout)",
                                 L->cfg.timeout_ms);
        else
            *code = fg_error_set(e, FG_ENETWORK, L->url, "%s%s%.300s",
                                 curl_easy_strerror((CURLcode)cc), s->x.errbuf[0] ? ": " : "",
                                 s->x.errbuf);
        return fg_http_curl_retryable(cc);
    }
    llm_error_text(body, s->raw.len, s->x.content_type, msg, sizeof(msg));
    if (status == 401) {
        *code = fg_error_set(e, FG_EUSAGE, "llm api key",
                             "the API key was refused by %.200s (HTTP 401: %s): give a valid key",
                             L->url, msg);
        return 0;
    }
    if (status == 403) {
        *code = fg_error_set(e, FG_EUSAGE, L->url,
                             "the API key may not use model %.100s (HTTP 403: %s)", L->model, msg);
        return 0;
    }
    if (status == 404) {
        *code = fg_error_set(e, FG_EUSAGE, L->url,
                             "model %.100s not found at %.200s (HTTP 404: %s)", L->model, L->url,
                             msg);
        return 0;
    }
    *code = fg_error_set(e, fg_http_status_retryable(status) || status == 409 ? FG_ENETWORK
                                                                             : FG_EINVALID,
                         L->url, "HTTP %ld: %s", status, msg);
    return fg_http_status_retryable(status) || status == 409;
}

/* A 2xx answer into s->ans; FG_OK, or a code with e filled. *again says
 * whether a retry may help (a stream cut short, an error event). */
static int read_answer(fg_llm *L, llm_slot *s, long status, int *again, fg_error *e)
{
    int anth = L->cfg.provider == FG_LLM_ANTHROPIC;
    *again = 0;
    if (s->is_sse) {
        llm_sse_end(&s->sse, anth ? llm_anthropic_event : llm_openai_event, &s->ans, e);
        if (anth)
            llm_anthropic_finish(&s->ans);
        if (s->ans.error[0]) {
            *again = 1;
            return fg_error_set(e, FG_ENETWORK, L->url, "%s", s->ans.error);
        }
        if (!s->ans.finished) {
            *again = 1;
            return fg_error_set(e, FG_ENETWORK, L->url,
                                "the stream ended before the answer was complete");
        }
    } else {
        const char *body = s->raw.data ? s->raw.data : "";
        size_t i = 0;
        while (i < s->raw.len && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r'))
            i++;
        if (i == s->raw.len || body[i] != '{') {
            char msg[300];
            llm_error_text(body, s->raw.len, s->x.content_type, msg, sizeof(msg));
            return fg_error_set(e, FG_EINVALID, L->url, "HTTP %ld but not a JSON answer: %s",
                                status, msg);
        }
        if (strncasecmp(s->x.content_type, "text/event-stream", 17) == 0)
            return fg_error_set(e, FG_EINVALID, L->url, "an event stream that was not asked for");
        int rc = anth ? llm_anthropic_parse(body, s->raw.len, &s->ans, e)
                      : llm_openai_parse(body, s->raw.len, &s->ans, e);
        if (rc != FG_OK) {
            if (e)
                snprintf(e->where, sizeof(e->where), "%.250s", L->url);
            return rc;
        }
    }
    if (s->ans.too_large || s->ans.text.failed)
        return fg_error_set(e, FG_ELIMIT, L->url,
                            "the answer is larger than FG_MAX_LLM_RESPONSE_BYTES (%u bytes)",
                            FG_MAX_LLM_RESPONSE_BYTES);
    return FG_OK;
}

static void wait_retry(fg_llm *L, llm_slot *s, long status)
{
    double w = fg_http_limits_wait(&s->x.lim);
    if (w < 0)
        w = fg_http_backoff(s->attempts - s->fallbacks, fg_rng_uniform(&L->rng));
    double t = llm_now();
    if (status == 429) {
        L->st.rate_limited++;
        if (t + w > L->pause_until)
            L->pause_until = t + w; /* the limit is the account's: hold every slot */
    }
    s->state = LLM_SLOT_WAITING;
    s->due = t + w;
}

static int finished(fg_llm *L, llm_slot *s, int cc, fg_llm_done_fn done, void *ctx)
{
    s->state = LLM_SLOT_IDLE;
    long status = fg_http_xfer_status(&s->x);
    fg_error e;
    fg_error_clear(&e);
    int code = FG_OK, again = 0;
    if (cc == CURLE_OK && status >= 200 && status <= 299 && !s->too_large) {
        code = read_answer(L, s, status, &again, &e);
        if (s->x.lim.remaining_requests == 0 && s->x.lim.reset_requests > 0 &&
            llm_now() + s->x.lim.reset_requests > L->pause_until)
            L->pause_until = llm_now() + s->x.lim.reset_requests; /* the budget is spent: wait */
        if (code == FG_OK) {
            if (L->cache_dir && s->ans.finish == FG_LLM_FINISH_STOP && !s->ans.refusal.len) {
                char key[65];
                llm_cache_key(L->url, s->body.data, s->body.len, key);
                fg_error ce; /* a cache that cannot be written only costs a rerun */
                llm_cache_put(L->cache_dir, key, s->body.data, s->body.len,
                              s->ans.text.data ? s->ans.text.data : "", s->ans.text.len,
                              s->ans.tokens_in, s->ans.tokens_out, s->ans.model, &ce);
            }
            llm_req *r = s->req;
            s->req = NULL;
            return llm_deliver(L, r, &s->ans, FG_OK, status, s->attempts, 0, NULL, done, ctx);
        }
    } else if (cc == CURLE_OK && status == 400 && L->cfg.provider == FG_LLM_OPENAI &&
               s->req->pub.schema && s->level < LLM_FORMAT_NONE &&
               mentions_format(s->raw.data ? s->raw.data : "", s->raw.len)) {
        /* the server does not take this response_format: go down one level
         * for this request and every later one */
        if (L->level <= s->level)
            L->level = s->level + 1;
        s->fallbacks++;
        s->state = LLM_SLOT_WAITING;
        s->due = llm_now();
        return FG_OK;
    } else {
        again = judge_failure(L, s, cc, status, &code, &e);
    }
    if (again && s->attempts - s->fallbacks < L->cfg.max_attempts) {
        wait_retry(L, s, status);
        return FG_OK;
    }
    if (again) {
        size_t n = strlen(e.text);
        snprintf(e.text + n, sizeof(e.text) - n, " (gave up after %d attempts)", s->attempts);
    }
    llm_req *r = s->req;
    s->req = NULL;
    return llm_deliver(L, r, NULL, code, status, s->attempts, 0, &e, done, ctx);
}

/* Take the next queued request into idle slot s and start it (or answer
 * it from the cache). 1 when something was taken, 0 when the queue is
 * empty. */
static int take(fg_llm *L, llm_slot *s, fg_llm_done_fn done, void *ctx, int *rc)
{
    llm_req *r = llm_queue_pop(L);
    if (!r)
        return 0;
    s->req = r;
    s->attempts = s->fallbacks = 0;
    s->cache_level = -1;
    *rc = start(L, s, done, ctx);
    return 1;
}

/* Stop every transfer and forget the requests in the slots. */
static void abort_all(fg_llm *L)
{
    for (int i = 0; i < L->n_slots; i++) {
        llm_slot *s = &L->slots[i];
        fg_http_pool_remove(L->pool, &s->x);
        if (s->state != LLM_SLOT_IDLE) {
            llm_req_free(s->req);
            s->req = NULL;
            s->state = LLM_SLOT_IDLE;
        }
    }
}

void llm_xfer_done(fg_http_xfer *x, int cc)
{
    llm_slot *s = x->ctx;
    fg_llm *L = s->owner;
    int r = finished(L, s, cc, L->run_done, L->run_ctx);
    if (r < 0 && L->run_rc == FG_OK)
        L->run_rc = r;
}

int fg_llm_run(fg_llm *L, fg_llm_more_fn more, fg_llm_done_fn done, void *ctx,
               volatile sig_atomic_t *cancel, fg_error *err)
{
    int more_done = more == NULL, rc = FG_OK;
    L->run_done = done;
    L->run_ctx = ctx;
    L->run_rc = FG_OK;
    for (;;) {
        if (cancel && *cancel) {
            int running = 0;
            fg_error pe; /* deliver what already finished */
            fg_error_clear(&pe);
            fg_http_pool_perform(L->pool, &running, &pe);
            abort_all(L);
            return fg_error_set(err, FG_ECANCELED, "llm", "canceled");
        }
        double t = llm_now(), next_due = t + IDLE_WAIT;
        int starved = 0;
        for (int i = 0; i < L->n_slots && rc == FG_OK; i++) {
            llm_slot *s = &L->slots[i];
            if (s->state == LLM_SLOT_WAITING) {
                if (s->due <= t && may_start(L, t, &next_due))
                    rc = start(L, s, done, ctx);
                else if (s->due < next_due)
                    next_due = s->due;
            }
            while (rc == FG_OK && s->state == LLM_SLOT_IDLE) {
                if (!L->q_head && !more_done && !starved) {
                    int m = more(ctx);
                    if (m < 0) {
                        rc = m;
                        break;
                    }
                    more_done = m == 1;
                    starved = !L->q_head && !more_done;
                }
                if (!L->q_head || !may_start(L, llm_now(), &next_due))
                    break;
                take(L, s, done, ctx, &rc);
            }
        }
        if (rc != FG_OK)
            break;
        int busy = L->q_head != NULL;
        for (int i = 0; i < L->n_slots; i++)
            busy |= L->slots[i].state != LLM_SLOT_IDLE;
        if (!busy && more_done) {
            /* ask once more: a follow-up may have become ready since */
            int m = more ? more(ctx) : 1;
            if (m < 0) {
                rc = m;
                break;
            }
            if (m == 1 && !L->q_head)
                break;
            more_done = m == 1;
            continue;
        }
        int running = 0;
        int ended = fg_http_pool_perform(L->pool, &running, err);
        if (ended < 0) {
            rc = ended;
            break;
        }
        if ((rc = L->run_rc) != FG_OK)
            break;
        if (ended)
            continue;
        if (starved && next_due > t + STARVED_WAIT)
            next_due = t + STARVED_WAIT;
        double w = next_due - llm_now();
        if (w > 0)
            fg_http_pool_wait(L->pool, (int)(w * 1000) + 1, running);
    }
    if (rc != FG_OK) {
        abort_all(L);
        if (err && err->code != rc)
            fg_error_set(err, rc, "llm", "the run was stopped: %s", fg_strerror(rc));
    }
    return rc;
}
