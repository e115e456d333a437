/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_pool.c: the multi pool. One curl multi handle; each transfer is an
 * fg_http_xfer the client owns, found again from its easy handle through
 * CURLINFO_PRIVATE when curl says it ended. The pool reads every answer's
 * status line, Content-Type, Location and rate-limit headers into the
 * transfer, so no client parses headers of its own.
 */
#include "fhir/http/fg_http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct fg_http_pool {
    CURLM *multi;
};

/* ---- transfers ------------------------------------------------------------- */

/* Copy the value of a "name: value" line into out[size], trimmed. */
static void header_copy(const char *v, size_t n, char *out, size_t size)
{
    while (n && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    size_t k = 0;
    while (k < n && v[k] != '\r' && v[k] != '\n' && k + 1 < size) {
        out[k] = v[k];
        k++;
    }
    out[k] = 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    fg_http_xfer *x = ud;
    size_t bytes = size * n;
    if (bytes >= 5 && strncasecmp(p, "HTTP/", 5) == 0) { /* a new response (after 1xx) */
        x->responses++;
        fg_http_limits_reset(&x->lim);
        x->content_type[0] = 0;
        x->location[0] = 0;
    } else if (bytes > 13 && strncasecmp(p, "content-type:", 13) == 0) {
        header_copy(p + 13, bytes - 13, x->content_type, sizeof(x->content_type));
    } else if (bytes > 9 && strncasecmp(p, "location:", 9) == 0) {
        header_copy(p + 9, bytes - 9, x->location, sizeof(x->location));
    } else {
        fg_http_limits_header(&x->lim, p, bytes, time(NULL));
    }
    return bytes;
}

int fg_http_xfer_setup(fg_http_xfer *x, const fg_http_request *r, fg_error *err)
{
    if (!x->easy && !(x->easy = curl_easy_init()))
        return fg_error_set(err, FG_ENOMEM, "curl", "cannot create a transfer");
    CURL *e = x->easy;
    curl_easy_reset(e);
    curl_slist_free_all(x->headers);
    x->headers = NULL;
    x->responses = 0;
    fg_http_limits_reset(&x->lim);
    x->content_type[0] = 0;
    x->location[0] = 0;
    x->errbuf[0] = 0;

    struct curl_slist *h = NULL;
    int bad = 0;
    for (size_t i = 0; r->headers && r->headers[i] && !bad; i++) {
        struct curl_slist *n = curl_slist_append(h, r->headers[i]);
        bad = !n;
        h = n ? n : h;
    }
    if (!bad && r->auth_header && *r->auth_header) {
        struct curl_slist *n = curl_slist_append(h, r->auth_header);
        bad = !n;
        h = n ? n : h;
    }
    x->headers = h;
    if (bad)
        return fg_error_set(err, FG_ENOMEM, "curl", "out of memory");

    curl_easy_setopt(e, CURLOPT_URL, r->url);
    fg_http_apply_transport(e, r->transport);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    /* Wait for a connection that may multiplex (HTTP/2) rather than open a
     * new one, but only where ALPN says so at once (TLS): over plain http
     * curl would learn it from the first answer, and every other transfer
     * would queue behind it. */
    if (strncasecmp(r->url, "https:", 6) == 0)
        curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    if (r->user_agent)
        curl_easy_setopt(e, CURLOPT_USERAGENT, r->user_agent);
    if (x->headers)
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, (struct curl_slist *)x->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, r->write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r->write_ctx);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    if (r->body) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->len);
    }
    return FG_OK;
}

long fg_http_xfer_status(const fg_http_xfer *x)
{
    long status = 0;
    if (x->easy)
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

void fg_http_xfer_cleanup(fg_http_xfer *x)
{
    if (!x)
        return;
    if (x->easy)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->headers);
    x->easy = NULL;
    x->headers = NULL;
}

/* ---- the pool ---------------------------------------------------------------- */

int fg_http_pool_new(long max_per_host, fg_http_pool **out, fg_error *err)
{
    fg_http_pool *p = calloc(1, sizeof(*p));
    if (!p || !(p->multi = curl_multi_init())) {
        free(p);
        return fg_error_set(err, FG_ENOMEM, "curl", "out of memory");
    }
    curl_multi_setopt(p->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(p->multi, CURLMOPT_MAX_HOST_CONNECTIONS, max_per_host);
    *out = p;
    return FG_OK;
}

void fg_http_pool_free(fg_http_pool *p)
{
    if (!p)
        return;
    curl_multi_cleanup(p->multi);
    free(p);
}

int fg_http_pool_add(fg_http_pool *p, fg_http_xfer *x, fg_error *err)
{
    if (curl_multi_add_handle(p->multi, x->easy) != CURLM_OK)
        return fg_error_set(err, FG_EINTERNAL, "curl", "cannot start the transfer");
    x->running = 1;
    return FG_OK;
}

void fg_http_pool_remove(fg_http_pool *p, fg_http_xfer *x)
{
    if (!p || !x || !x->running)
        return;
    curl_multi_remove_handle(p->multi, x->easy);
    x->running = 0;
}

int fg_http_pool_perform(fg_http_pool *p, int *running, fg_error *err)
{
    int ended = 0, q;
    *running = 0;
    if (curl_multi_perform(p->multi, running) != CURLM_OK)
        return fg_error_set(err, FG_EINTERNAL, "curl", "the transfer loop failed");
    CURLMsg *m;
    while ((m = curl_multi_info_read(p->multi, &q)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        fg_http_xfer *x = NULL;
        CURLcode result = m->data.result;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        curl_multi_remove_handle(p->multi, m->easy_handle);
        x->running = 0;
        ended++;
        if (x->done)
            x->done(x, (int)result);
    }
    return ended;
}

void fg_http_pool_wait(fg_http_pool *p, int ms, int running)
{
    if (ms <= 0)
        return;
    if (running > 0) {
        curl_multi_poll(p->multi, NULL, 0, ms, NULL);
        return;
    }
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}
