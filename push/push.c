/*
 * push.c: the push loop. One curl multi handle; a fixed array of slots, each
 * holding one bundle from the moment it is read until it lands or fails for
 * good. A slot is idle, running (its easy handle is in the multi), or
 * waiting for its next attempt (backoff or Retry-After). The inputs are read
 * lazily by the source below, one bundle per idle slot.
 */
#include "push/fg_push.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "fhir/base/fg_buf.h"
#include "fhir/base/fg_data.h"
#include "fhir/fg_limits.h"
#include "fhir/base/fg_rng.h"
#include "fhir/base/fg_sha256.h"
#include "push/push_private.h"

#define MAX_DIR_DEPTH 64
#define PATH_MAX_LEN 4096
#define PROGRESS_INTERVAL 0.2
#define FEED_POLL 0.05 /* seconds between two asks of a streaming source with nothing ready */

/* ---- the source: files, folders, standard input ----------------------- */

typedef struct dir_level {
    char path[PATH_MAX_LEN];
    struct dirent **names;
    int n, i;
} dir_level;

typedef struct source {
    const char *const *inputs;
    size_t n_inputs, next_input;
    dir_level *dirs; /* MAX_DIR_DEPTH levels */
    int depth;
    FILE *in; /* standard input while it is being read */
    long line;
    char *linebuf;
    size_t linecap;
    int (*next)(void *ctx, char *path, size_t size); /* a streaming source, or NULL */
    void *next_ctx;
} source;

/* One bundle read from the source; data is owned by the item. */
typedef struct item {
    char path[PATH_MAX_LEN];
    char *data;
    size_t len;
    char message[FG_ERROR_TEXT_MAX]; /* set when the input could not be read */
} item;

static int json_name(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    if (d->d_name[0] == '.')
        return 0; /* hidden files and the journal */
    if (d->d_type == DT_DIR || d->d_type == DT_UNKNOWN || d->d_type == DT_LNK)
        return 1;
    return n > 5 && strcmp(d->d_name + n - 5, ".json") == 0;
}

static int push_dir(source *s, const char *path, item *it)
{
    if (s->depth >= MAX_DIR_DEPTH) {
        snprintf(it->message, sizeof(it->message), "folders nested deeper than %d", MAX_DIR_DEPTH);
        return 1;
    }
    dir_level *d = &s->dirs[s->depth];
    snprintf(d->path, sizeof(d->path), "%s", path);
    d->n = scandir(path, &d->names, json_name, alphasort);
    d->i = 0;
    if (d->n < 0) {
        snprintf(it->message, sizeof(it->message), "cannot read the folder: %s", strerror(errno));
        d->names = NULL;
        return 1;
    }
    s->depth++;
    return 0;
}

static void pop_dir(source *s)
{
    dir_level *d = &s->dirs[--s->depth];
    for (int i = 0; i < d->n; i++)
        free(d->names[i]);
    free(d->names);
    d->names = NULL;
}

static void read_file_item(item *it)
{
    fg_error e;
    fg_error_clear(&e);
    if (fg_read_file(it->path, FG_MAX_PUSH_BUNDLE_BYTES, &it->data, &it->len, &e) != FG_OK)
        snprintf(it->message, sizeof(it->message), "%s", e.text);
}

/* The next bundle into *it: 1 when there is one (it->message set when it
 * could not be read), 0 at the end of the inputs, 2 when a streaming
 * source has none ready yet. */
static int source_next(source *s, item *it)
{
    memset(it, 0, sizeof(*it) - sizeof(it->message));
    it->message[0] = 0;
    if (s->next) {
        int r = s->next(s->next_ctx, it->path, sizeof(it->path));
        if (r <= 0)
            return r < 0 ? 0 : 2;
        read_file_item(it);
        return 1;
    }
    for (;;) {
        if (s->in) {
            ssize_t n = getline(&s->linebuf, &s->linecap, s->in);
            if (n < 0) {
                s->in = NULL;
                continue;
            }
            s->line++;
            while (n && (s->linebuf[n - 1] == '\n' || s->linebuf[n - 1] == '\r'))
                n--;
            if (n == 0)
                continue;
            snprintf(it->path, sizeof(it->path), "<stdin>:%ld", s->line);
            if ((size_t)n > FG_MAX_PUSH_BUNDLE_BYTES) {
                snprintf(it->message, sizeof(it->message),
                         "longer than FG_MAX_PUSH_BUNDLE_BYTES (%u bytes)", FG_MAX_PUSH_BUNDLE_BYTES);
                return 1;
            }
            if (!(it->data = malloc((size_t)n + 1))) {
                snprintf(it->message, sizeof(it->message), "out of memory");
                return 1;
            }
            memcpy(it->data, s->linebuf, (size_t)n);
            it->data[n] = 0;
            it->len = (size_t)n;
            return 1;
        }
        if (s->depth > 0) {
            dir_level *d = &s->dirs[s->depth - 1];
            if (d->i >= d->n) {
                pop_dir(s);
                continue;
            }
            const char *name = d->names[d->i++]->d_name;
            if (snprintf(it->path, sizeof(it->path), "%s/%s", d->path, name) >= (int)sizeof(it->path))
                continue;
            struct stat st;
            if (stat(it->path, &st) != 0)
                continue;
            if (S_ISDIR(st.st_mode)) {
                if (push_dir(s, it->path, it))
                    return 1;
                continue;
            }
            size_t n = strlen(name);
            if (!S_ISREG(st.st_mode) || n <= 5 || strcmp(name + n - 5, ".json") != 0)
                continue;
            read_file_item(it);
            return 1;
        }
        if (s->next_input >= s->n_inputs)
            return 0;
        const char *in = s->inputs[s->next_input++];
        if (strcmp(in, "-") == 0) {
            s->in = stdin;
            s->line = 0;
            continue;
        }
        snprintf(it->path, sizeof(it->path), "%s", in);
        struct stat st;
        if (stat(in, &st) != 0) {
            snprintf(it->message, sizeof(it->message), "%s", strerror(errno));
            return 1;
        }
        if (S_ISDIR(st.st_mode)) {
            if (push_dir(s, in, it))
                return 1;
            continue;
        }
        read_file_item(it);
        return 1;
    }
}

static void source_close(source *s)
{
    while (s->depth > 0)
        pop_dir(s);
    free(s->dirs);
    free(s->linebuf);
}

/* ---- slots and requests --------------------------------------------- */

enum { SLOT_IDLE, SLOT_RUNNING, SLOT_WAITING };

typedef struct slot {
    int state;
    CURL *easy;
    struct curl_slist *headers;
    item it;
    char sha[65];
    int attempts;
    int auth_retried;
    double due;         /* monotonic time of the next attempt when waiting */
    fg_buf resp;
    int too_large;
    double retry_after; /* -1 when the answer had none */
    size_t vq;          /* the --verify search this slot runs */
    char location[512]; /* a redirect's Location header */
    char errbuf[CURL_ERROR_SIZE];
} slot;

typedef struct push {
    const fg_push_options *o;
    CURLM *multi;
    slot *slots;
    int n_slots;
    fg_rng rng;
    fg_push_stats st;
    source *src;
    push_verify *verify; /* with --verify: the searches to run after the push */
    double t0, last_progress;
    char base[2048]; /* the server URL without a trailing slash */
} push;

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    slot *s = ud;
    size_t bytes = size * n;
    if (s->resp.len + bytes > FG_MAX_PUSH_RESPONSE_BYTES) {
        s->too_large = 1;
        return 0; /* abort the transfer: CURLE_WRITE_ERROR */
    }
    fg_buf_append(&s->resp, p, bytes);
    return s->resp.failed ? 0 : bytes;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    slot *s = ud;
    size_t bytes = size * n;
    char line[600];
    size_t len = bytes < sizeof(line) - 1 ? bytes : sizeof(line) - 1;
    memcpy(line, p, len);
    line[len] = 0;
    line[strcspn(line, "\r\n")] = 0;
    if (strncasecmp(line, "HTTP/", 5) == 0) { /* a new response (after 100 Continue) */
        s->retry_after = -1;
        s->location[0] = 0;
    } else if (strncasecmp(line, "retry-after:", 12) == 0) {
        double w;
        if (fg_rest_parse_retry_after(line + 12, time(NULL), &w) == FG_OK)
            s->retry_after = w;
    } else if (strncasecmp(line, "location:", 9) == 0) {
        const char *v = line + 9;
        while (*v == ' ')
            v++;
        snprintf(s->location, sizeof(s->location), "%.500s", v);
    }
    return bytes;
}

/* ---- fetched tokens ------------------------------------------------------ */

/* The transport settings of the push options. */
static fg_rest_transport transport_of(const fg_push_options *o)
{
    fg_rest_transport t = {.cacert = o->cacert, .cert = o->cert, .key = o->key,
                           .insecure = o->insecure, .connect_timeout_ms = o->connect_timeout_ms,
                           .timeout_ms = o->timeout_ms};
    return t;
}

static size_t on_token_body(char *p, size_t size, size_t n, void *ud)
{
    fg_buf *b = ud;
    size_t bytes = size * n;
    if (b->len + bytes > FG_MAX_TOKEN_RESPONSE_BYTES)
        return 0;
    fg_buf_append(b, p, bytes);
    return b->failed ? 0 : bytes;
}

/* Run the requests a fetching token provider asks for (SMART discovery,
 * then the token endpoint) until it answers a token. Blocking, on an easy
 * handle of its own with the push's TLS settings: a fetch happens once per
 * token lifetime, and the transfers in the multi simply wait for it.
 * Transport failures and 429/5xx answers are retried with backoff. */
static int fetch_token(push *P, const char **tok, fg_error *err)
{
    const fg_push_options *o = P->o;
    fg_token_provider *a = o->auth;
    CURL *e = curl_easy_init();
    fg_buf body;
    fg_buf_init(&body);
    char errbuf[CURL_ERROR_SIZE];
    int rc = FG_TOKEN_FETCH, attempt = 0;
    if (!e) {
        rc = fg_error_set(err, FG_ENOMEM, "curl", "cannot create a transfer");
        goto cleanup;
    }
    for (int round = 0; round < 4 && rc == FG_TOKEN_FETCH; round++) {
        fg_token_request req = {0};
        if ((rc = a->request(a, time(NULL), &req, err)) != FG_OK)
            goto cleanup;
        curl_easy_reset(e);
        fg_buf_clear(&body);
        body.failed = 0;
        errbuf[0] = 0;
        fg_rest_transport tr = transport_of(o);
        tr.timeout_ms = 60000L; /* a token endpoint answers fast or not at all */
        curl_easy_setopt(e, CURLOPT_URL, req.url);
        fg_rest_apply_transport(e, &tr);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_token_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
        if (req.form) { /* CURLOPT_POSTFIELDS sends application/x-www-form-urlencoded */
            curl_easy_setopt(e, CURLOPT_POST, 1L);
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, req.form);
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(req.form));
        }
        CURLcode cc = curl_easy_perform(e);
        long status = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        int max = o->max_attempts > 0 ? o->max_attempts : FG_MAX_PUSH_ATTEMPTS;
        if ((cc != CURLE_OK || status == 429 || status >= 500) && ++attempt < max &&
            !(o->cancel && *o->cancel)) {
            double w = fg_rest_backoff(attempt, fg_rng_uniform(&P->rng));
            struct timespec ts = {(time_t)w, (long)((w - (double)(time_t)w) * 1e9)};
            nanosleep(&ts, NULL);
            a->response(a, time(NULL), 503, "", 0, NULL); /* drop the pending request */
            rc = FG_TOKEN_FETCH;
            round--;
            continue;
        }
        if (cc != CURLE_OK) {
            rc = fg_error_set(err, FG_ENETWORK, "token endpoint", "%.200s: %s%s%s", req.url,
                              curl_easy_strerror(cc), errbuf[0] ? ": " : "", errbuf);
            a->response(a, time(NULL), 0, "", 0, NULL);
            goto cleanup;
        }
        if ((rc = a->response(a, time(NULL), status, body.data ? body.data : "", body.len, err)) !=
            FG_OK)
            goto cleanup;
        rc = a->token(a, time(NULL), tok, err);
    }
    if (rc == FG_TOKEN_FETCH)
        rc = fg_error_set(err, FG_EINVALID, "auth", "the token provider never answered a token");
cleanup:
    if (body.data)
        memset(body.data, 0, body.cap);
    fg_buf_free(&body);
    if (e)
        curl_easy_cleanup(e);
    return rc;
}

/* Configure s->easy for one request to url: a POST of body when body is
 * not NULL, else a GET. */
static int setup_request(push *P, slot *s, const char *url, const char *body, size_t len,
                         fg_error *err)
{
    const fg_push_options *o = P->o;
    if (!s->easy && !(s->easy = curl_easy_init()))
        return fg_error_set(err, FG_ENOMEM, "curl", "cannot create a transfer");
    CURL *e = s->easy;
    curl_easy_reset(e);
    curl_slist_free_all(s->headers);
    s->headers = NULL;
    fg_buf_clear(&s->resp);
    s->resp.failed = 0;
    s->too_large = 0;
    s->retry_after = -1;
    s->location[0] = 0;
    s->errbuf[0] = 0;

    struct curl_slist *h = curl_slist_append(NULL, "Accept: application/fhir+json");
    if (body) {
        h = h ? curl_slist_append(h, "Content-Type: application/fhir+json") : NULL;
        /* Only each entry's status and location are read back: ask the
         * server not to echo every resource (FHIR http.html#ops). */
        h = h ? curl_slist_append(h, "Prefer: return=minimal") : NULL;
    }
    if (o->auth) {
        const char *tok = NULL;
        int rc = o->auth->token(o->auth, time(NULL), &tok, err);
        if (rc == FG_TOKEN_FETCH)
            rc = fetch_token(P, &tok, err);
        if (rc != FG_OK) {
            curl_slist_free_all(h);
            return rc;
        }
        fg_buf hb;
        fg_buf_init(&hb);
        fg_buf_printf(&hb, "Authorization: Bearer %s", tok);
        h = h && !hb.failed ? curl_slist_append(h, hb.data) : NULL;
        if (hb.data)
            memset(hb.data, 0, hb.len);
        fg_buf_free(&hb);
    }
    if (!h)
        return fg_error_set(err, FG_ENOMEM, "curl", "out of memory");
    s->headers = h;

    fg_rest_transport tr = transport_of(o);
    curl_easy_setopt(e, CURLOPT_URL, url);
    fg_rest_apply_transport(e, &tr);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    /* wait for a connection that may multiplex (HTTP/2) rather than open a
     * new one; over cleartext http there is no HTTP/2 to wait for, and
     * every transfer would queue behind the first answer */
    if (strncasecmp(url, "https:", 6) == 0)
        curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, s);
    if (body) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    return FG_OK;
}

/* TLS failures that no retry will cure. */
static int curl_permanent(CURLcode c)
{
    switch (c) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_COULDNT_RESOLVE_HOST:
        return 1;
    default:
        return 0;
    }
}

/* The failure of a finished request as text: transport, size, redirect,
 * or status with the OperationOutcome. Returns 1 when it is worth a retry. */
static int describe_failure(push *P, slot *s, CURLcode cc, long status, char *msg, size_t size)
{
    (void)P;
    if (s->too_large) {
        snprintf(msg, size, "the answer is larger than FG_MAX_PUSH_RESPONSE_BYTES (%u bytes)",
                 FG_MAX_PUSH_RESPONSE_BYTES);
        return 0;
    }
    if (cc != CURLE_OK) {
        snprintf(msg, size, "%s%s%s", curl_easy_strerror(cc), s->errbuf[0] ? ": " : "", s->errbuf);
        return !curl_permanent(cc);
    }
    if (status >= 300 && status < 400) {
        snprintf(msg, size,
                 "HTTP %ld: the server redirects to %.400s; fhirgen does not follow redirects "
                 "(give the final URL as --server)", status, s->location[0] ? s->location : "?");
        return 0;
    }
    fg_buf oo;
    fg_buf_init(&oo);
    fg_rest_outcome_text(s->resp.data ? s->resp.data : "", s->resp.len, &oo);
    if (oo.len) {
        snprintf(msg, size, "HTTP %ld: %s", status, oo.data);
    } else {
        fg_error e;
        fg_error_clear(&e);
        const char *ct = NULL;
        curl_easy_getinfo(s->easy, CURLINFO_CONTENT_TYPE, &ct);
        if (fg_rest_check_body(ct, s->resp.data ? s->resp.data : "", s->resp.len, &e) != FG_OK)
            snprintf(msg, size, "HTTP %ld: %.400s", status, e.text);
        else
            snprintf(msg, size, "HTTP %ld", status);
    }
    fg_buf_free(&oo);
    if (status == 401)
        snprintf(msg + strlen(msg), size - strlen(msg), " (the server refused the credentials)");
    return fg_rest_status_retryable(status);
}

static void redact(push *P, char *msg, size_t size)
{
    const fg_token_provider *a = P->o->auth;
    fg_rest_redact(msg, size, a && a->secret ? a->secret(a) : NULL);
}

/* Drive one request (the metadata) to completion through the multi. */
static CURLcode run_one(push *P, slot *s)
{
    CURLcode result = CURLE_OK;
    curl_multi_add_handle(P->multi, s->easy);
    for (int done = 0; !done;) {
        int running = 0, q;
        if (curl_multi_perform(P->multi, &running) != CURLM_OK)
            return CURLE_FAILED_INIT;
        CURLMsg *m;
        while ((m = curl_multi_info_read(P->multi, &q)) != NULL)
            if (m->msg == CURLMSG_DONE && m->easy_handle == s->easy) {
                result = m->data.result;
                done = 1;
            }
        if (!done && curl_multi_poll(P->multi, NULL, 0, 200, NULL) != CURLM_OK)
            return CURLE_FAILED_INIT;
        if (!done && P->o->cancel && *P->o->cancel) {
            result = CURLE_ABORTED_BY_CALLBACK;
            done = 1;
        }
    }
    curl_multi_remove_handle(P->multi, s->easy);
    return result;
}

static int check_server(push *P, slot *s, fg_error *err)
{
    char url[2100];
    snprintf(url, sizeof(url), "%s/metadata", P->base);
    int max = P->o->max_attempts > 0 ? P->o->max_attempts : FG_MAX_PUSH_ATTEMPTS;
    for (int attempt = 1;; attempt++) {
        int rc = setup_request(P, s, url, NULL, 0, err);
        if (rc != FG_OK)
            return rc;
        CURLcode cc = run_one(P, s);
        if (cc == CURLE_ABORTED_BY_CALLBACK)
            return fg_error_set(err, FG_ECANCELED, "metadata", "canceled");
        long status = 0;
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
        if (cc == CURLE_OK && status == 200) {
            const char *ct = NULL;
            curl_easy_getinfo(s->easy, CURLINFO_CONTENT_TYPE, &ct);
            rc = fg_rest_check_body(ct, s->resp.data, s->resp.len, err);
            if (rc == FG_OK)
                rc = fg_rest_check_capability(s->resp.data, s->resp.len, err);
            if (rc != FG_OK && err)
                snprintf(err->where, sizeof(err->where), "%.250s", url);
            return rc;
        }
        char msg[FG_ERROR_TEXT_MAX];
        int again = describe_failure(P, s, cc, status, msg, sizeof(msg));
        redact(P, msg, sizeof(msg));
        if (!again || attempt >= max)
            return fg_error_set(err, cc != CURLE_OK ? FG_ENETWORK : FG_EINVALID, url, "%s", msg);
        double w = s->retry_after >= 0 ? s->retry_after
                                       : fg_rest_backoff(attempt, fg_rng_uniform(&P->rng));
        struct timespec ts = {(time_t)w, (long)((w - (double)(time_t)w) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

/* ---- the loop ----------------------------------------------------------- */

static void report(push *P, slot *s, int landed, long status, const char *msg,
                   const fg_rest_tx_response *resp)
{
    if (landed)
        P->st.bundles_landed++;
    else
        P->st.bundles_failed++;
    if (P->o->on_result) {
        fg_push_result r = {s->it.path, s->sha, landed, status, s->attempts, msg, resp};
        P->o->on_result(P->o->ctx, &r);
    }
    free(s->it.data);
    s->it.data = NULL;
    s->state = SLOT_IDLE;
}

static void fail(push *P, slot *s, long status, const char *fmt, const char *text)
{
    char msg[FG_ERROR_TEXT_MAX];
    if (snprintf(msg, sizeof(msg), fmt, text) < 0)
        msg[0] = 0;
    redact(P, msg, sizeof(msg));
    report(P, s, 0, status, msg, NULL);
}

static void start(push *P, slot *s)
{
    char url[2100];
    fg_error e;
    fg_error_clear(&e);
    snprintf(url, sizeof(url), "%s", P->base); /* a transaction is POSTed to the base */
    s->attempts++;
    if (s->attempts > 1)
        P->st.retries++;
    if (setup_request(P, s, url, s->it.data, s->it.len, &e) != FG_OK) {
        fail(P, s, 0, "%s", e.text);
        return;
    }
    if (curl_multi_add_handle(P->multi, s->easy) != CURLM_OK) {
        fail(P, s, 0, "%s", "cannot start the transfer");
        return;
    }
    s->state = SLOT_RUNNING;
    P->st.in_flight++;
}

static void difference(push *P, const char *path, const char *msg)
{
    P->st.verify_differences++;
    if (P->o->on_difference)
        P->o->on_difference(P->o->ctx, path, msg);
}

/* Record what a landed (resp) or journalled (resp NULL) bundle defines. */
static void verify_add(push *P, slot *s, const fg_rest_tx_response *resp)
{
    fg_error e;
    fg_error_clear(&e);
    if (push_verify_add(P->verify, s->it.path, s->it.data, s->it.len, resp, &e) != FG_OK)
        difference(P, s->it.path, e.text);
}

/* A 2xx answer: read the transaction-response and journal the bundle. */
static void landed(push *P, slot *s, long status)
{
    fg_error e;
    fg_error_clear(&e);
    fg_rest_tx_response r = {0};
    const char *ct = NULL;
    curl_easy_getinfo(s->easy, CURLINFO_CONTENT_TYPE, &ct);
    const char *body = s->resp.data ? s->resp.data : "";
    if (fg_rest_check_body(ct, body, s->resp.len, &e) != FG_OK ||
        fg_rest_parse_tx_response(body, s->resp.len, &r, &e) != FG_OK) {
        fail(P, s, status, "the server acknowledged the bundle but its answer is unreadable: %s",
             e.text);
        return;
    }
    if (r.n_failed) {
        char msg[FG_ERROR_TEXT_MAX];
        snprintf(msg, sizeof(msg), "%zu of %zu entries failed", r.n_failed, r.n_entries);
        redact(P, msg, sizeof(msg));
        report(P, s, 0, status, msg, &r);
    } else if (P->o->journal &&
               fg_journal_append(P->o->journal, s->sha, s->it.path, &e) != FG_OK) {
        fail(P, s, status, "landed, but the journal could not record it: %s", e.text);
    } else {
        P->st.resources += r.n_entries;
        if (P->verify)
            verify_add(P, s, &r);
        report(P, s, 1, status, NULL, &r);
    }
    fg_rest_tx_response_free(&r);
}

static void finished(push *P, slot *s, CURLcode cc)
{
    curl_multi_remove_handle(P->multi, s->easy);
    P->st.in_flight--;
    long status = 0;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    if (cc == CURLE_OK && status >= 200 && status <= 299) {
        landed(P, s, status);
        return;
    }
    const fg_token_provider *a = P->o->auth;
    if (cc == CURLE_OK && status == 401 && a && a->invalidate && !s->auth_retried) {
        s->auth_retried = 1; /* once: the token may have expired */
        P->o->auth->invalidate(P->o->auth);
        s->state = SLOT_WAITING;
        s->due = now_mono();
        return;
    }
    char msg[FG_ERROR_TEXT_MAX];
    int again = describe_failure(P, s, cc, status, msg, sizeof(msg));
    int max = P->o->max_attempts > 0 ? P->o->max_attempts : FG_MAX_PUSH_ATTEMPTS;
    if (again && s->attempts < max && !(P->o->cancel && *P->o->cancel)) {
        double w = s->retry_after >= 0 ? s->retry_after
                                       : fg_rest_backoff(s->attempts, fg_rng_uniform(&P->rng));
        s->state = SLOT_WAITING;
        s->due = now_mono() + w;
        return;
    }
    if (again)
        snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), " (gave up after %d attempts)",
                 s->attempts);
    redact(P, msg, sizeof(msg));
    report(P, s, 0, status, msg, NULL);
}

/* Read the next bundle not yet in the journal into an idle slot. 1 when the
 * slot now holds one (or reported an unreadable input), 0 at the end. */
static int fill(push *P, slot *s)
{
    int got;
    while ((got = source_next(P->src, &s->it)) != 0) {
        if (got == 2)
            return 2;
        P->st.bundles_seen++;
        s->attempts = 0;
        s->auth_retried = 0;
        if (s->it.message[0]) {
            fail(P, s, 0, "cannot read the bundle: %s", s->it.message);
            return 1;
        }
        fg_sha256_hex(s->it.data, s->it.len, s->sha);
        if (P->o->journal && fg_journal_contains(P->o->journal, s->sha)) {
            P->st.bundles_skipped++;
            if (P->verify)
                verify_add(P, s, NULL);
            free(s->it.data);
            s->it.data = NULL;
            continue;
        }
        start(P, s);
        return 1;
    }
    return 0;
}

static void progress(push *P, int force)
{
    double t = now_mono();
    P->st.elapsed = t - P->t0;
    if (!P->o->on_progress || (!force && t - P->last_progress < PROGRESS_INTERVAL))
        return;
    P->last_progress = t;
    P->o->on_progress(P->o->ctx, &P->st);
}

static int loop(push *P, fg_error *err)
{
    int exhausted = 0;
    for (;;) {
        int canceled = P->o->cancel && *P->o->cancel, starved = 0;
        double t = now_mono(), next_due = t + PROGRESS_INTERVAL;
        int busy = 0;
        for (int i = 0; i < P->n_slots; i++) {
            slot *s = &P->slots[i];
            if (s->state == SLOT_IDLE && !exhausted && !canceled && !starved) {
                int f = fill(P, s);
                exhausted = f == 0;
                starved = f == 2;
            }
            if (s->state == SLOT_WAITING) {
                if (canceled)
                    fail(P, s, 0, "%s", "canceled before it landed");
                else if (s->due <= t)
                    start(P, s);
                else if (s->due < next_due)
                    next_due = s->due;
            }
            busy |= s->state != SLOT_IDLE;
        }
        if (!busy && (exhausted || canceled))
            break;
        int running = 0, q;
        if (curl_multi_perform(P->multi, &running) != CURLM_OK)
            return fg_error_set(err, FG_EINTERNAL, "curl", "the transfer loop failed");
        CURLMsg *m;
        int freed = 0;
        while ((m = curl_multi_info_read(P->multi, &q)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            slot *s = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            finished(P, s, m->data.result);
            freed = 1;
        }
        progress(P, 0);
        /* A slot just came free: refill it (or, with nothing left, end the
         * run) now rather than after the next poll or sleep, which may wait
         * a whole progress interval while the server works on the others. */
        if (freed)
            continue;
        if (starved && next_due > t + FEED_POLL)
            next_due = t + FEED_POLL; /* ask the streaming source again soon */
        int wait_ms = (int)((next_due - now_mono()) * 1000);
        if (wait_ms > 0 && running > 0)
            curl_multi_poll(P->multi, NULL, 0, wait_ms, NULL);
        else if (wait_ms > 0 && running == 0) {
            int any_idle_fillable = 0;
            for (int i = 0; i < P->n_slots; i++)
                any_idle_fillable |= P->slots[i].state == SLOT_IDLE && !exhausted;
            if (!any_idle_fillable || starved) {
                struct timespec ts = {0, (long)wait_ms * 1000000L};
                if (wait_ms >= 1000)
                    ts = (struct timespec){wait_ms / 1000, (wait_ms % 1000) * 1000000L};
                nanosleep(&ts, NULL);
            }
        }
    }
    progress(P, 1);
    return P->o->cancel && *P->o->cancel
               ? fg_error_set(err, FG_ECANCELED, "push", "canceled; --resume pushes the rest")
               : FG_OK;
}

/* ---- --verify: read back what landed ------------------------------------ */

static void verify_start(push *P, slot *s)
{
    char url[4200];
    fg_error e;
    fg_error_clear(&e);
    const char *path;
    snprintf(url, sizeof(url), "%s/%s", P->base, push_verify_query(P->verify, s->vq, &path));
    s->attempts++;
    if (setup_request(P, s, url, NULL, 0, &e) != FG_OK ||
        curl_multi_add_handle(P->multi, s->easy) != CURLM_OK) {
        difference(P, path, e.text[0] ? e.text : "cannot start the search");
        s->state = SLOT_IDLE;
        return;
    }
    P->st.verify_queries++;
    s->state = SLOT_RUNNING;
}

static void verify_finished(push *P, slot *s, CURLcode cc)
{
    curl_multi_remove_handle(P->multi, s->easy);
    const char *path;
    const char *q = push_verify_query(P->verify, s->vq, &path);
    long status = 0;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    char msg[FG_ERROR_TEXT_MAX];
    s->state = SLOT_IDLE;
    if (cc == CURLE_OK && status == 200) {
        if (push_verify_judge(P->verify, s->vq, s->resp.data, s->resp.len, msg, sizeof(msg)) != 0)
            difference(P, path, msg);
        return;
    }
    int again = describe_failure(P, s, cc, status, msg, sizeof(msg));
    int max = P->o->max_attempts > 0 ? P->o->max_attempts : FG_MAX_PUSH_ATTEMPTS;
    if (again && s->attempts < max && !(P->o->cancel && *P->o->cancel)) {
        double w = s->retry_after >= 0 ? s->retry_after
                                       : fg_rest_backoff(s->attempts, fg_rng_uniform(&P->rng));
        s->state = SLOT_WAITING;
        s->due = now_mono() + w;
        return;
    }
    char full[FG_ERROR_TEXT_MAX + 300];
    snprintf(full, sizeof(full), "%.200s: the search failed: %s", q, msg);
    redact(P, full, sizeof(full));
    difference(P, path, full);
}

/* Run every recorded search, concurrency at a time, retrying as the push
 * does; differences go to on_difference. */
static int verify_phase(push *P, fg_error *err)
{
    size_t next = 0, n = push_verify_count(P->verify);
    for (int i = 0; i < P->n_slots; i++)
        P->slots[i].state = SLOT_IDLE;
    for (;;) {
        int canceled = P->o->cancel && *P->o->cancel, busy = 0;
        double t = now_mono(), next_due = t + PROGRESS_INTERVAL;
        for (int i = 0; i < P->n_slots; i++) {
            slot *s = &P->slots[i];
            if (s->state == SLOT_IDLE && next < n && !canceled) {
                s->vq = next++;
                s->attempts = 0;
                verify_start(P, s);
            } else if (s->state == SLOT_WAITING) {
                if (canceled)
                    s->state = SLOT_IDLE;
                else if (s->due <= t)
                    verify_start(P, s);
                else if (s->due < next_due)
                    next_due = s->due;
            }
            busy |= s->state != SLOT_IDLE;
        }
        if (!busy && (next >= n || canceled))
            break;
        int running = 0, q;
        if (curl_multi_perform(P->multi, &running) != CURLM_OK)
            return fg_error_set(err, FG_EINTERNAL, "curl", "the transfer loop failed");
        CURLMsg *m;
        while ((m = curl_multi_info_read(P->multi, &q)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            slot *s = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            verify_finished(P, s, m->data.result);
        }
        int wait_ms = (int)((next_due - now_mono()) * 1000);
        if (wait_ms > 0)
            curl_multi_poll(P->multi, NULL, 0, wait_ms, NULL);
    }
    return P->o->cancel && *P->o->cancel
               ? fg_error_set(err, FG_ECANCELED, "push", "canceled during --verify")
               : FG_OK;
}

int fg_push_run(const fg_push_options *o, const char *const *inputs, size_t n_inputs,
                fg_push_stats *stats, fg_error *err)
{
    push P;
    source src;
    memset(&P, 0, sizeof(P));
    memset(&src, 0, sizeof(src));
    int rc = FG_EUSAGE;
    P.o = o;
    P.src = &src;
    P.t0 = now_mono();
    if (!o || !o->server || !*o->server) {
        rc = fg_error_set(err, FG_EUSAGE, "--server", "no server URL");
        goto cleanup;
    }
    if (o->concurrency < 1 || o->concurrency > FG_MAX_PUSH_CONCURRENCY) {
        rc = fg_error_set(err, FG_EUSAGE, "--concurrency", "must be 1..%d (FG_MAX_PUSH_CONCURRENCY)",
                          FG_MAX_PUSH_CONCURRENCY);
        goto cleanup;
    }
    if (strncasecmp(o->server, "https://", 8) != 0 && strncasecmp(o->server, "http://", 7) != 0) {
        rc = fg_error_set(err, FG_EUSAGE, "--server", "not an http(s) URL: %.200s", o->server);
        goto cleanup;
    }
    snprintf(P.base, sizeof(P.base), "%s", o->server);
    for (size_t n = strlen(P.base); n && P.base[n - 1] == '/'; n--)
        P.base[n - 1] = 0;
    fg_rng_seed(&P.rng, o->seed ^ 0x70757368u);
    src.inputs = inputs;
    src.n_inputs = n_inputs;
    src.next = o->next_input;
    src.next_ctx = o->ctx;
    if (o->verify && !(P.verify = push_verify_new())) {
        rc = fg_error_set(err, FG_ENOMEM, "push", "out of memory");
        goto cleanup;
    }
    P.n_slots = o->concurrency;
    if (!(src.dirs = calloc(MAX_DIR_DEPTH, sizeof(*src.dirs))) ||
        !(P.slots = calloc((size_t)P.n_slots, sizeof(*P.slots))) ||
        !(P.multi = curl_multi_init())) {
        rc = fg_error_set(err, FG_ENOMEM, "push", "out of memory");
        goto cleanup;
    }
    for (int i = 0; i < P.n_slots; i++)
        fg_buf_init(&P.slots[i].resp);
    curl_multi_setopt(P.multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(P.multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)P.n_slots);

    if ((rc = check_server(&P, &P.slots[0], err)) != FG_OK)
        goto cleanup;
    rc = loop(&P, err);
    if (rc == FG_OK && P.verify)
        rc = verify_phase(&P, err);
cleanup:
    if (rc != FG_OK && err) {
        const fg_token_provider *a = o ? o->auth : NULL;
        const char *secret = a && a->secret ? a->secret(a) : NULL;
        fg_rest_redact(err->where, sizeof(err->where), secret);
        fg_rest_redact(err->text, sizeof(err->text), secret);
    }
    P.st.elapsed = now_mono() - P.t0;
    if (stats)
        *stats = P.st;
    for (int i = 0; P.slots && i < P.n_slots; i++) {
        slot *s = &P.slots[i];
        if (s->easy && P.multi && s->state == SLOT_RUNNING)
            curl_multi_remove_handle(P.multi, s->easy);
        if (s->easy)
            curl_easy_cleanup(s->easy);
        curl_slist_free_all(s->headers);
        fg_buf_free(&s->resp);
        free(s->it.data);
    }
    free(P.slots);
    push_verify_free(P.verify);
    if (P.multi)
        curl_multi_cleanup(P.multi);
    source_close(&src);
    return rc;
}
