/*
 * llm_http.c: the transfer loop. One curl multi handle and `jobs` slots; a
 * slot is idle, running (its easy handle is in the multi) or waiting for
 * its next attempt (backoff, Retry-After). Requests leave the queue when a
 * slot is free, the max_rpm spacing allows and no 429 pause holds; a cached
 * answer is delivered right away without taking a slot.
 *
 * The shape follows the push loop (generators/push.c); the two could share
 * a slot engine later.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fhir/rest/fg_rest.h"
#include "generators/llm/fg_llm.h"
#include "generators/llm/llm_private.h"

#define IDLE_WAIT 0.25   /* longest wait of one turn of the loop, seconds */
#define STARVED_WAIT 0.05 /* between two asks of `more` that gave nothing */

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    llm_slot *s = ud;
    size_t bytes = size * n;
    if (bytes >= 5 && strncasecmp(p, "HTTP/", 5) == 0) { /* a new response (after 100) */
        llm_limits_reset(&s->lim);
        s->content_type[0] = 0;
        s->sse_decided = 0;
    } else if (bytes > 13 && strncasecmp(p, "content-type:", 13) == 0) {
        size_t i = 13;
        while (i < bytes && (p[i] == ' ' || p[i] == '\t'))
            i++;
        size_t k = 0;
        while (i < bytes && p[i] != '\r' && p[i] != '\n' && k + 1 < sizeof(s->content_type))
            s->content_type[k++] = p[i++];
        s->content_type[k] = 0;
    } else {
        llm_limits_header(&s->lim, p, bytes, time(NULL));
    }
    return bytes;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    llm_slot *s = ud;
    fg_llm *L = s->owner;
    size_t bytes = size * n;
    if (!s->sse_decided) {
        long status = 0;
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
        s->is_sse = L->cfg.stream && status >= 200 && status <= 299 &&
                    strncasecmp(s->content_type, "text/event-stream", 17) == 0;
        s->sse_decided = 1;
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

static int add_header(struct curl_slist **h, const char *fmt, const char *v)
{
    char line[4200];
    if (snprintf(line, sizeof(line), fmt, v) >= (int)sizeof(line))
        return -1;
    struct curl_slist *n = curl_slist_append(*h, line);
    memset(line, 0, sizeof(line));
    if (!n)
        return -1;
    *h = n;
    return 0;
}

static int setup(fg_llm *L, llm_slot *s, fg_error *err)
{
    const fg_llm_config *c = &L->cfg;
    if (!s->easy && !(s->easy = curl_easy_init()))
        return fg_error_set(err, FG_ENOMEM, "curl", "cannot create a transfer");
    CURL *e = s->easy;
    curl_easy_reset(e);
    curl_slist_free_all(s->headers);
    s->headers = NULL;
    struct curl_slist *h = NULL;
    int bad = add_header(&h, "%s", "Content-Type: application/json");
    bad |= add_header(&h, "Accept: %s", c->stream ? "text/event-stream" : "application/json");
    if (c->provider == FG_LLM_ANTHROPIC) {
        bad |= add_header(&h, "%s", "anthropic-version: 2023-06-01");
        if (L->api_key)
            bad |= add_header(&h, "x-api-key: %s", L->api_key);
    } else if (L->api_key) {
        bad |= L->azure ? add_header(&h, "api-key: %s", L->api_key)
                        : add_header(&h, "Authorization: Bearer %s", L->api_key);
    }
    bad |= add_header(&h, "%s", "Expect:"); /* no 100-continue round trip */
    s->headers = h;
    if (bad)
        return fg_error_set(err, FG_ENOMEM, "curl", "out of memory");
    curl_easy_setopt(e, CURLOPT_URL, L->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    /* Wait for a connection that may multiplex only where ALPN says so at
     * once (TLS); over plain HTTP curl would learn it from the first
     * answer, and every other transfer would wait for it. */
    if (strncasecmp(L->url, "https://", 8) == 0)
        curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "fhirgen/" FG_VERSION);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (L->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, L->ca_file);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, s);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, s->body.data);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->body.len);
    return FG_OK;
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
    llm_limits_reset(&s->lim);
    s->content_type[0] = 0;
    s->sse_decided = s->is_sse = s->too_large = 0;
    s->errbuf[0] = 0;
    if (rc == FG_OK)
        rc = setup(L, s, &e);
    if (rc == FG_OK && curl_multi_add_handle(L->multi, s->easy) != CURLM_OK)
        rc = fg_error_set(&e, FG_EINTERNAL, "curl", "cannot start the transfer");
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

/* TLS and URL failures that no retry will cure. */
static int curl_permanent(CURLcode c)
{
    switch (c) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_COULDNT_RESOLVE_HOST:
        return 1;
    default:
        return 0;
    }
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

static const char *key_variable(const fg_llm *L)
{
    if (L->cfg.provider == FG_LLM_ANTHROPIC)
        return "ANTHROPIC_API_KEY";
    return L->azure ? "AZURE_OPENAI_API_KEY" : "OPENAI_API_KEY";
}

/* Retry later (1) or give up (0) with *code and e filled. */
static int judge_failure(fg_llm *L, llm_slot *s, CURLcode cc, long status, int *code, fg_error *e)
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
            *code = fg_error_set(e, FG_ENETWORK, L->url, "%s%s%.300s", curl_easy_strerror(cc),
                                 s->errbuf[0] ? ": " : "", s->errbuf);
        return !curl_permanent(cc);
    }
    llm_error_text(body, s->raw.len, s->content_type, msg, sizeof(msg));
    if (status == 401) {
        *code = fg_error_set(e, FG_EUSAGE, L->url,
                             "the API key was refused (HTTP 401: %s): set %s to a valid key",
                             msg, key_variable(L));
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
    *code = fg_error_set(e, fg_rest_status_retryable(status) || status == 409 ? FG_ENETWORK
                                                                             : FG_EINVALID,
                         L->url, "HTTP %ld: %s", status, msg);
    return fg_rest_status_retryable(status) || status == 409;
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
            llm_error_text(body, s->raw.len, s->content_type, msg, sizeof(msg));
            return fg_error_set(e, FG_EINVALID, L->url, "HTTP %ld but not a JSON answer: %s",
                                status, msg);
        }
        if (strncasecmp(s->content_type, "text/event-stream", 17) == 0)
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
    double w = llm_limits_wait(&s->lim);
    if (w < 0)
        w = fg_rest_backoff(s->attempts - s->fallbacks, fg_rng_uniform(&L->rng));
    double t = llm_now();
    if (status == 429) {
        L->st.rate_limited++;
        if (t + w > L->pause_until)
            L->pause_until = t + w; /* the limit is the account's: hold every slot */
    }
    s->state = LLM_SLOT_WAITING;
    s->due = t + w;
}

static int finished(fg_llm *L, llm_slot *s, CURLcode cc, fg_llm_done_fn done, void *ctx)
{
    curl_multi_remove_handle(L->multi, s->easy);
    s->state = LLM_SLOT_IDLE;
    long status = 0;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    fg_error e;
    fg_error_clear(&e);
    int code = FG_OK, again = 0;
    if (cc == CURLE_OK && status >= 200 && status <= 299 && !s->too_large) {
        code = read_answer(L, s, status, &again, &e);
        if (s->lim.remaining_requests == 0 && s->lim.reset_requests > 0 &&
            llm_now() + s->lim.reset_requests > L->pause_until)
            L->pause_until = llm_now() + s->lim.reset_requests; /* the budget is spent: wait */
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
        if (s->state == LLM_SLOT_RUNNING)
            curl_multi_remove_handle(L->multi, s->easy);
        if (s->state != LLM_SLOT_IDLE) {
            llm_req_free(s->req);
            s->req = NULL;
            s->state = LLM_SLOT_IDLE;
        }
    }
}

/* Read what curl finished and deliver it. */
static int reap(fg_llm *L, fg_llm_done_fn done, void *ctx, int *freed)
{
    CURLMsg *m;
    int q, rc = FG_OK;
    while ((m = curl_multi_info_read(L->multi, &q)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        llm_slot *s = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
        int r = finished(L, s, m->data.result, done, ctx);
        *freed = 1;
        if (r < 0 && rc == FG_OK)
            rc = r;
    }
    return rc;
}

static void sleep_s(double w)
{
    if (w <= 0)
        return;
    struct timespec ts = {(time_t)w, (long)((w - (double)(time_t)w) * 1e9)};
    nanosleep(&ts, NULL);
}

int fg_llm_run(fg_llm *L, fg_llm_more_fn more, fg_llm_done_fn done, void *ctx,
               volatile sig_atomic_t *cancel, fg_error *err)
{
    int more_done = more == NULL, rc = FG_OK;
    for (;;) {
        if (cancel && *cancel) {
            int running = 0, freed = 0;
            curl_multi_perform(L->multi, &running); /* deliver what already finished */
            rc = reap(L, done, ctx, &freed);
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
        int running = 0, freed = 0;
        if (curl_multi_perform(L->multi, &running) != CURLM_OK) {
            rc = fg_error_set(err, FG_EINTERNAL, "curl", "the transfer loop failed");
            break;
        }
        if ((rc = reap(L, done, ctx, &freed)) != FG_OK)
            break;
        if (freed)
            continue;
        if (starved && next_due > t + STARVED_WAIT)
            next_due = t + STARVED_WAIT;
        double w = next_due - llm_now();
        if (w > 0 && running > 0)
            curl_multi_poll(L->multi, NULL, 0, (int)(w * 1000) + 1, NULL);
        else if (w > 0)
            sleep_s(w);
    }
    if (rc != FG_OK) {
        abort_all(L);
        if (err && err->code != rc)
            fg_error_set(err, rc, "llm", "the run was stopped: %s", fg_strerror(rc));
    }
    return rc;
}
