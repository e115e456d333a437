/* SPDX-License-Identifier: Apache-2.0 */
/*
 * llm_sse.c: server-sent events (the WHATWG EventSource format), read
 * incrementally as curl hands over chunks.
 *
 * Lines end with LF, CR or CRLF, and a CRLF may be split across two chunks.
 * `data:` lines accumulate (joined by '\n'); `event:` names the event;
 * lines starting with ':' are comments (keep-alives); a blank line
 * dispatches the event. `id:` and `retry:` are read and ignored. One space
 * after the colon is dropped. Lines and the whole stream are bounded.
 */
#include <stdio.h>
#include <string.h>

#include "generators/llm/llm_private.h"

void llm_sse_init(llm_sse *s, size_t max_line, size_t max_total)
{
    memset(s, 0, sizeof(*s));
    fg_buf_init(&s->line);
    fg_buf_init(&s->data);
    s->max_line = max_line;
    s->max_total = max_total;
}

void llm_sse_free(llm_sse *s)
{
    if (!s)
        return;
    fg_buf_free(&s->line);
    fg_buf_free(&s->data);
}

static int dispatch(llm_sse *s, llm_sse_fn fn, void *ctx)
{
    int rc = 0;
    if (s->has_data)
        rc = fn(ctx, s->event, s->data.data ? s->data.data : "", s->data.len);
    fg_buf_clear(&s->data);
    s->has_data = 0;
    s->event[0] = 0;
    return rc;
}

/* One complete line (without its end). */
static int line(llm_sse *s, const char *p, size_t n, llm_sse_fn fn, void *ctx, fg_error *err)
{
    if (n == 0)
        return dispatch(s, fn, ctx);
    if (p[0] == ':')
        return 0;
    size_t colon = 0;
    while (colon < n && p[colon] != ':')
        colon++;
    const char *v = colon < n ? p + colon + 1 : p + n;
    size_t vn = colon < n ? n - colon - 1 : 0;
    if (vn && v[0] == ' ') {
        v++;
        vn--;
    }
    if (colon == 4 && memcmp(p, "data", 4) == 0) {
        if (s->data.len + vn + 1 > s->max_line)
            return fg_error_set(err, FG_ELIMIT, "stream",
                                "one event's data is longer than %zu bytes", s->max_line);
        if (s->has_data)
            fg_buf_putc(&s->data, '\n');
        fg_buf_append(&s->data, v, vn);
        s->has_data = 1;
        if (s->data.failed)
            return fg_error_set(err, FG_ENOMEM, "stream", "out of memory");
    } else if (colon == 5 && memcmp(p, "event", 5) == 0) {
        snprintf(s->event, sizeof(s->event), "%.*s", (int)(vn < 63 ? vn : 63), v);
    }
    return 0;
}

/* Part of a line onto the one held across chunks, within max_line. */
static int hold(llm_sse *s, const char *p, size_t n, fg_error *err)
{
    if (s->line.len + n > s->max_line)
        return fg_error_set(err, FG_ELIMIT, "stream", "a line is longer than %zu bytes",
                            s->max_line);
    fg_buf_append(&s->line, p, n);
    if (s->line.failed)
        return fg_error_set(err, FG_ENOMEM, "stream", "out of memory");
    return FG_OK;
}

int llm_sse_feed(llm_sse *s, const char *p, size_t n, llm_sse_fn fn, void *ctx, fg_error *err)
{
    s->total += n;
    if (s->total > s->max_total)
        return fg_error_set(err, FG_ELIMIT, "stream",
                            "the stream is longer than FG_MAX_LLM_STREAM_BYTES (%zu bytes)",
                            s->max_total);
    size_t i = 0;
    if (n == 0)
        return FG_OK;
    if (s->after_cr && p[0] == '\n')
        i = 1; /* the LF of a CRLF split across chunks */
    s->after_cr = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && p[j] != '\n' && p[j] != '\r')
            j++;
        int rc;
        if (j == n) { /* an unfinished line: keep it */
            if ((rc = hold(s, p + i, j - i, err)) != FG_OK)
                return rc;
            break;
        }
        if (s->line.len) {
            if ((rc = hold(s, p + i, j - i, err)) != FG_OK)
                return rc;
            rc = line(s, s->line.data, s->line.len, fn, ctx, err);
            fg_buf_clear(&s->line);
        } else {
            rc = line(s, p + i, j - i, fn, ctx, err);
        }
        if (rc)
            return rc;
        if (p[j] == '\r') {
            if (j + 1 < n && p[j + 1] == '\n')
                j++;
            else if (j + 1 == n)
                s->after_cr = 1;
        }
        i = j + 1;
    }
    return FG_OK;
}

int llm_sse_end(llm_sse *s, llm_sse_fn fn, void *ctx, fg_error *err)
{
    if (s->line.len) {
        int rc = line(s, s->line.data, s->line.len, fn, ctx, err);
        fg_buf_clear(&s->line);
        if (rc)
            return rc;
    }
    return dispatch(s, fn, ctx);
}
