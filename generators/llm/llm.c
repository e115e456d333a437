/* SPDX-License-Identifier: Apache-2.0 */
/*
 * llm.c: the client's configuration, its queue of requests, and the
 * delivery of answers; the transfers themselves are in llm_http.c.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fhir/json/fg_jr.h"
#include "fhir/json/fg_jw.h"
#include "generators/llm/fg_llm.h"
#include "generators/llm/llm_private.h"

void fg_llm_config_default(fg_llm_config *c)
{
    memset(c, 0, sizeof(*c));
    c->provider = FG_LLM_OPENAI;
    c->jobs = 4;
    c->timeout_ms = 300000;
    c->connect_timeout_ms = 10000;
    c->max_attempts = 5;
    c->max_tokens = 8192;
    c->temperature = 0.7;
}

double llm_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- answers --------------------------------------------------------------- */

void llm_answer_init(llm_answer *a)
{
    memset(a, 0, sizeof(*a));
    fg_buf_init(&a->text);
    fg_buf_init(&a->refusal);
    fg_buf_init(&a->tool);
}

void llm_answer_reset(llm_answer *a)
{
    fg_buf t = a->text, r = a->refusal, u = a->tool;
    memset(a, 0, sizeof(*a));
    a->text = t;
    a->refusal = r;
    a->tool = u;
    fg_buf_clear(&a->text);
    fg_buf_clear(&a->refusal);
    fg_buf_clear(&a->tool);
    a->text.failed = a->refusal.failed = a->tool.failed = 0;
}

void llm_answer_free(llm_answer *a)
{
    if (!a)
        return;
    fg_buf_free(&a->text);
    fg_buf_free(&a->refusal);
    fg_buf_free(&a->tool);
}

void llm_answer_append(llm_answer *a, fg_buf *b, const char *p, size_t n)
{
    if (b->len + n > FG_MAX_LLM_RESPONSE_BYTES) {
        a->too_large = 1;
        return;
    }
    fg_buf_append(b, p, n);
}

/* ---- request bodies -------------------------------------------------------- */

int llm_put_messages(json_t *msgs, const fg_llm_request *req, fg_error *err)
{
    for (size_t i = 0; i < req->n_messages; i++) {
        const fg_llm_message *m = &req->messages[i];
        if (!m->role || !m->content)
            return fg_error_set(err, FG_EUSAGE, "request", "message %zu has no role or content", i);
        /* json_pack refuses text that is not UTF-8: say so rather than send the
         * request without the message */
        json_t *msg = json_pack("{s:s,s:s}", "role", m->role, "content", m->content);
        if (!msg)
            return fg_error_set(err, FG_EINVALID, "request",
                                "message %zu (%s) is not valid UTF-8 text: check the prompt "
                                "template or scenario it was made from",
                                i, m->role);
        if (json_array_append_new(msgs, msg) != 0)
            return fg_error_set(err, FG_ENOMEM, "request", "out of memory");
    }
    return FG_OK;
}

int llm_put_body(const json_t *root, fg_buf *out, fg_error *err)
{
    char *s = fg_json_dumps(root, LLM_DUMP_FLAGS, NULL);
    if (s)
        fg_buf_puts(out, s);
    free(s);
    if (!s || out->failed)
        return fg_error_set(err, FG_ENOMEM, "request", "out of memory");
    return FG_OK;
}

/* ---- the envelope of a whole answer ---------------------------------------- */

void llm_answer_error(llm_answer *a, const char *message)
{
    snprintf(a->error, sizeof(a->error), "the server reported an error: %.300s",
             message ? message : "(no message)");
}

void llm_read_model(llm_answer *a, const json_t *obj)
{
    const char *m = json_string_value(json_object_get(obj, "model"));
    if (m)
        snprintf(a->model, sizeof(a->model), "%s", m);
}

void llm_read_usage(const llm_envelope *env, llm_answer *a, const json_t *usage)
{
    json_t *in = json_object_get(usage, env->tokens_in);
    json_t *out = json_object_get(usage, env->tokens_out);
    if (json_is_integer(in))
        a->tokens_in = (long)json_integer_value(in);
    if (json_is_integer(out))
        a->tokens_out = (long)json_integer_value(out);
}

int llm_envelope_parse(const llm_envelope *env, const char *body, size_t len, llm_answer *a,
                       fg_error *err)
{
    json_error_t je;
    json_t *root = json_loadb(body, len, 0, &je);
    int rc;
    if (!root || !json_is_object(root))
        rc = fg_error_set(err, FG_EINVALID, "response",
                          "the answer is not a JSON object (line %d: %.200s)", je.line, je.text);
    else if (env->read_error(a, root))
        rc = fg_error_set(err, FG_EINVALID, "response", "%s", a->error);
    else {
        llm_read_model(a, root);
        llm_read_usage(env, a, json_object_get(root, "usage"));
        rc = env->read_body(a, root, err);
    }
    json_decref(root);
    return rc;
}

/* ---- untrusted text -------------------------------------------------------- */

static void one_line(char *s)
{
    char *w = s;
    int space = 0;
    for (char *r = s; *r; r++) {
        unsigned char c = (unsigned char)*r;
        if (c < 0x20 || c == 0x7f) {
            space = w != s;
            continue;
        }
        if (space && c != ' ')
            *w++ = ' ';
        space = 0;
        *w++ = (char)c;
    }
    *w = 0;
}

void llm_error_text(const char *body, size_t len, const char *content_type, char *out, size_t size)
{
    out[0] = 0;
    size_t i = 0;
    while (i < len && isspace((unsigned char)body[i]))
        i++;
    if (i == len) {
        snprintf(out, size, "an empty answer");
        return;
    }
    if (body[i] == '<' || (content_type && strncasecmp(content_type, "text/html", 9) == 0)) {
        snprintf(out, size, "an HTML page, not JSON (is the base URL the API's?)");
        return;
    }
    json_t *root = len <= FG_MAX_LLM_RESPONSE_BYTES ? json_loadb(body, len, 0, NULL) : NULL;
    json_t *e = json_object_get(root, "error");
    const char *m = json_is_string(e) ? json_string_value(e)
                                      : json_string_value(json_object_get(e, "message"));
    if (!m)
        m = json_string_value(json_object_get(root, "message"));
    if (!m)
        m = json_string_value(json_object_get(root, "detail"));
    if (m)
        snprintf(out, size, "%.300s", m);
    else
        snprintf(out, size, "%.*s", (int)(len - i < 200 ? len - i : 200), body + i);
    json_decref(root);
    one_line(out);
}

/* End of a JSON value starting at p[0] == '{', or 0 when unbalanced. */
static size_t balanced(const char *p, size_t n)
{
    int depth = 0, str = 0, esc = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (str) {
            if (esc)
                esc = 0;
            else if (c == '\\')
                esc = 1;
            else if (c == '"')
                str = 0;
        } else if (c == '"') {
            str = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > FG_MAX_JSON_DEPTH * 4)
                return 0;
        } else if (c == '}' || c == ']') {
            if (--depth == 0)
                return i + 1;
        }
    }
    return 0;
}

int llm_extract_json(const char *text, size_t len, size_t *off, size_t *n)
{
    size_t i = 0, e = len;
    while (i < e && isspace((unsigned char)text[i]))
        i++;
    while (e > i && isspace((unsigned char)text[e - 1]))
        e--;
    if (i < e && text[i] == '{' && text[e - 1] == '}') {
        *off = i;
        *n = e - i;
        return 1;
    }
    /* a fenced block: ```json ... ``` or ``` ... ``` */
    const char *f = memmem(text, len, "```", 3);
    if (f) {
        const char *body = f + 3;
        const char *end = text + len;
        while (body < end && *body != '\n')
            body++;
        const char *close = body < end ? memmem(body, (size_t)(end - body), "```", 3) : NULL;
        if (close) {
            const char *b = body;
            while (b < close && isspace((unsigned char)*b))
                b++;
            const char *c = close;
            while (c > b && isspace((unsigned char)c[-1]))
                c--;
            if (b < c && *b == '{') {
                *off = (size_t)(b - text);
                *n = (size_t)(c - b);
                return 1;
            }
        }
    }
    /* the first {...} that is JSON; an unclosed one ends the search, as
     * everything after it is inside it (a broken document is handed over
     * whole, so its parser names the real fault, not a fragment's) */
    const char *open = memchr(text, '{', len);
    while (open) {
        size_t start = (size_t)(open - text);
        size_t k = balanced(open, len - start);
        if (!k)
            return 0;
        json_t *v = json_loadb(open, k, 0, NULL);
        json_decref(v);
        if (v) {
            *off = start;
            *n = k;
            return 1;
        }
        open = start + k < len ? memchr(open + k, '{', len - start - k) : NULL;
    }
    return 0;
}

/* ---- the client ---------------------------------------------------------------- */

static int http_url(const char *u)
{
    return strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0;
}

int fg_llm_new(const fg_llm_config *cfg, fg_llm **out, fg_error *err)
{
    int rc = FG_ENOMEM;
    fg_llm *L = NULL;
    fg_buf url;
    fg_buf_init(&url);
    if (!cfg || !cfg->model || !*cfg->model)
        return fg_error_set(err, FG_EUSAGE, "llm model", "no model named");
    if (!(L = calloc(1, sizeof(*L))))
        goto cleanup;
    L->cfg = *cfg;
    const char *base = cfg->base_url, *key = cfg->api_key;
    if (!base || !*base)
        base = cfg->provider == FG_LLM_ANTHROPIC ? "https://api.anthropic.com"
                                                 : "https://api.openai.com/v1";
    if (key && !*key)
        key = NULL;
    if (!http_url(base)) {
        rc = fg_error_set(err, FG_EUSAGE, "llm base url", "not an http(s) URL: %.200s", base);
        goto cleanup;
    }
    if (key && strpbrk(key, "\r\n")) {
        rc = fg_error_set(err, FG_EUSAGE, "llm api key", "the key holds a line break");
        goto cleanup;
    }
    if (!(L->model = strdup(cfg->model)) || !(L->base_url = strdup(base)) ||
        (key && !(L->api_key = strdup(key))) ||
        (cfg->azure_api_version && !(L->azure = strdup(cfg->azure_api_version))) ||
        (cfg->ca_file && !(L->ca_file = strdup(cfg->ca_file))) ||
        (cfg->cache_dir && !(L->cache_dir = strdup(cfg->cache_dir))))
        goto cleanup;
    for (size_t n = strlen(L->base_url); n && L->base_url[n - 1] == '/'; n--)
        L->base_url[n - 1] = 0;
    L->cfg.model = L->model;
    L->cfg.base_url = L->base_url;
    L->cfg.api_key = L->api_key;
    L->cfg.azure_api_version = L->azure;
    L->cfg.ca_file = L->ca_file;
    L->cfg.cache_dir = L->cache_dir;
    if (L->cfg.jobs <= 0)
        L->cfg.jobs = 4;
    if (L->cfg.jobs > FG_MAX_LLM_JOBS) {
        rc = fg_error_set(err, FG_EUSAGE, "llm jobs", "jobs must be 1-%d (FG_MAX_LLM_JOBS)",
                          FG_MAX_LLM_JOBS);
        goto cleanup;
    }
    if (L->cfg.max_attempts <= 0)
        L->cfg.max_attempts = 5;
    if (L->cfg.max_attempts > FG_MAX_LLM_ATTEMPTS)
        L->cfg.max_attempts = FG_MAX_LLM_ATTEMPTS;
    if (L->cfg.timeout_ms <= 0)
        L->cfg.timeout_ms = 300000;
    if (L->cfg.connect_timeout_ms <= 0)
        L->cfg.connect_timeout_ms = 10000;
    if (L->cfg.max_tokens <= 0)
        L->cfg.max_tokens = 8192;
    if (cfg->provider == FG_LLM_ANTHROPIC) {
        size_t n = strlen(L->base_url);
        fg_buf_printf(&url, "%s%s", L->base_url,
                      n >= 3 && strcmp(L->base_url + n - 3, "/v1") == 0 ? "/messages"
                                                                         : "/v1/messages");
    } else if (L->azure) {
        fg_buf_printf(&url, "%s/chat/completions?api-version=%s", L->base_url, L->azure);
    } else {
        fg_buf_printf(&url, "%s/chat/completions", L->base_url);
    }
    if (url.failed || !(L->url = fg_buf_take(&url, NULL)))
        goto cleanup;
    if (L->cache_dir && (rc = llm_cache_prepare(L->cache_dir, err)) != FG_OK)
        goto cleanup;
    fg_rng_seed(&L->rng, cfg->seed ^ 0x6c6c6dULL);
    L->n_slots = L->cfg.jobs;
    if (!(L->slots = calloc((size_t)L->n_slots, sizeof(*L->slots))))
        goto cleanup;
    for (int i = 0; i < L->n_slots; i++) {
        llm_slot *s = &L->slots[i];
        s->owner = L;
        fg_buf_init(&s->body);
        fg_buf_init(&s->raw);
        llm_answer_init(&s->ans);
        llm_sse_init(&s->sse, FG_MAX_LLM_RESPONSE_BYTES + 65536, FG_MAX_LLM_STREAM_BYTES);
        s->x.done = llm_xfer_done;
        s->x.ctx = s;
    }
    L->transport = (fg_http_transport){.cacert = L->ca_file,
                                       .connect_timeout_ms = L->cfg.connect_timeout_ms,
                                       .timeout_ms = L->cfg.timeout_ms};
    if (fg_http_pool_new(L->n_slots, &L->pool, err) != FG_OK)
        goto cleanup;
    *out = L;
    L = NULL;
    rc = FG_OK;
cleanup:
    if (rc == FG_ENOMEM)
        fg_error_set(err, FG_ENOMEM, "llm", "out of memory");
    fg_buf_free(&url);
    fg_llm_free(L);
    return rc;
}

void llm_req_free(llm_req *r)
{
    if (!r)
        return;
    for (size_t i = 0; r->msgs && i < r->pub.n_messages; i++) {
        free((char *)r->msgs[i].role);
        free((char *)r->msgs[i].content);
    }
    free(r->msgs);
    free(r->system);
    free(r->schema_name);
    json_decref(r->schema);
    free(r);
}

void fg_llm_free(fg_llm *L)
{
    if (!L)
        return;
    for (int i = 0; L->slots && i < L->n_slots; i++) {
        llm_slot *s = &L->slots[i];
        fg_http_pool_remove(L->pool, &s->x);
        fg_http_xfer_cleanup(&s->x);
        if (s->body.data) /* the body holds no secret, but keep memory tidy */
            fg_buf_free(&s->body);
        fg_buf_free(&s->raw);
        llm_answer_free(&s->ans);
        llm_sse_free(&s->sse);
        llm_req_free(s->req);
    }
    free(L->slots);
    while (L->q_head) {
        llm_req *r = L->q_head;
        L->q_head = r->next;
        llm_req_free(r);
    }
    fg_http_pool_free(L->pool);
    if (L->api_key) {
        memset(L->api_key, 0, strlen(L->api_key));
        free(L->api_key);
    }
    free(L->model);
    free(L->base_url);
    free(L->azure);
    free(L->ca_file);
    free(L->cache_dir);
    free(L->url);
    free(L);
}

int llm_render_buf(const fg_llm *L, const fg_llm_request *req, int level, fg_buf *body,
                   fg_error *err)
{
    fg_buf_clear(body);
    body->failed = 0;
    if (!req || (req->n_messages && !req->messages))
        return fg_error_set(err, FG_EUSAGE, "request", "no messages");
    if (L->cfg.provider == FG_LLM_ANTHROPIC)
        return llm_anthropic_render(&L->cfg, req, body, err);
    return llm_openai_render(&L->cfg, req, level, body, err);
}

int fg_llm_render(const fg_llm *L, const fg_llm_request *req, char **body, fg_error *err)
{
    fg_buf b;
    fg_buf_init(&b);
    int rc = llm_render_buf(L, req, L->level, &b, err);
    if (rc == FG_OK && !(*body = fg_buf_take(&b, NULL)))
        rc = fg_error_set(err, FG_ENOMEM, "request", "out of memory");
    fg_buf_free(&b);
    return rc;
}

int fg_llm_submit(fg_llm *L, const fg_llm_request *req, fg_error *err)
{
    if (!req || !req->n_messages || !req->messages)
        return fg_error_set(err, FG_EUSAGE, "request", "a request needs at least one message");
    llm_req *r = calloc(1, sizeof(*r));
    if (!r)
        return fg_error_set(err, FG_ENOMEM, "request", "out of memory");
    r->pub = *req;
    r->msgs = calloc(req->n_messages, sizeof(*r->msgs));
    int bad = !r->msgs;
    for (size_t i = 0; !bad && i < req->n_messages; i++) {
        if (!req->messages[i].role || !req->messages[i].content) {
            llm_req_free(r);
            return fg_error_set(err, FG_EUSAGE, "request", "message %zu has no role or content",
                                i);
        }
        r->msgs[i].role = strdup(req->messages[i].role);
        r->msgs[i].content = strdup(req->messages[i].content);
        bad = !r->msgs[i].role || !r->msgs[i].content;
    }
    if (req->system && !(r->system = strdup(req->system)))
        bad = 1;
    if (req->schema_name && !(r->schema_name = strdup(req->schema_name)))
        bad = 1;
    /* the schema is shared, not copied: a reference is taken (jansson's
     * reference counts are atomic), and schemas are never modified */
    if (req->schema)
        r->schema = json_incref((json_t *)req->schema);
    if (bad) {
        llm_req_free(r);
        return fg_error_set(err, FG_ENOMEM, "request", "out of memory");
    }
    r->pub.messages = r->msgs;
    r->pub.system = r->system;
    r->pub.schema_name = r->schema_name;
    r->pub.schema = r->schema;
    if (L->q_tail)
        L->q_tail->next = r;
    else
        L->q_head = r;
    L->q_tail = r;
    return FG_OK;
}

llm_req *llm_queue_pop(fg_llm *L)
{
    llm_req *r = L->q_head;
    if (r) {
        L->q_head = r->next;
        if (!L->q_head)
            L->q_tail = NULL;
        r->next = NULL;
    }
    return r;
}

void llm_redact(const fg_llm *L, char *text, size_t size)
{
    fg_http_redact(text, size, L->api_key);
}

int llm_deliver(fg_llm *L, llm_req *req, llm_answer *a, int status, long http_status, int attempts,
                int from_cache, const fg_error *e, fg_llm_done_fn done, void *ctx)
{
    fg_llm_response r;
    memset(&r, 0, sizeof(r));
    r.tag = req->pub.tag;
    r.status = status;
    r.http_status = http_status;
    r.attempts = attempts;
    r.from_cache = from_cache;
    r.finish = FG_LLM_FINISH_FAILED;
    if (status == FG_OK && a) {
        r.finish = a->finish;
        const char *t = a->text.data ? a->text.data : "";
        size_t off = 0, n = a->text.len;
        /* a schema asked for JSON: hand over the object, not the prose or
         * fence some models wrap it in */
        if (req->pub.schema && a->finish == FG_LLM_FINISH_STOP &&
            !llm_extract_json(t, a->text.len, &off, &n)) {
            off = 0;
            n = a->text.len;
        }
        if (off && a->text.data)
            memmove(a->text.data, a->text.data + off, n);
        if (a->text.data) {
            a->text.len = n;
            a->text.data[n] = 0;
        }
        r.text = a->text.data ? a->text.data : "";
        r.text_len = n;
        r.refusal = a->refusal.len ? a->refusal.data : NULL;
        r.tokens_in = a->tokens_in;
        r.tokens_out = a->tokens_out;
        L->st.tokens_in += a->tokens_in;
        L->st.tokens_out += a->tokens_out;
    } else {
        r.text = "";
        if (e)
            r.err = *e;
        if (!r.err.code)
            r.err.code = status;
        llm_redact(L, r.err.text, sizeof(r.err.text));
        llm_redact(L, r.err.where, sizeof(r.err.where));
        L->st.failures++;
    }
    L->st.requests++;
    if (from_cache)
        L->st.cache_hits++;
    int rc = done ? done(ctx, &req->pub, &r) : 0;
    llm_req_free(req);
    return rc;
}

void fg_llm_get_stats(const fg_llm *L, fg_llm_stats *out)
{
    *out = L->st;
}
