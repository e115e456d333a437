/* SPDX-License-Identifier: Apache-2.0 */
#include "fhir/json/fg_jw.h"

#include <math.h>
#include <string.h>

void fg_jw_init(fg_jw *w, fg_buf *out)
{
    w->out = out;
    w->depth = 0;
    w->need_comma = 0;
    w->after_key = 0;
}

static inline void before_value(fg_jw *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    uint64_t bit = 1ULL << (w->depth & 63);
    if (w->need_comma & bit)
        fg_buf_putc(w->out, ',');
    w->need_comma |= bit;
}

static inline void open(fg_jw *w, char c)
{
    before_value(w);
    fg_buf_putc(w->out, c);
    w->depth++;
    w->need_comma &= ~(1ULL << (w->depth & 63));
}

static inline void close(fg_jw *w, char c)
{
    w->depth--;
    fg_buf_putc(w->out, c);
}

void fg_jw_obj(fg_jw *w) { open(w, '{'); }
void fg_jw_obj_end(fg_jw *w) { close(w, '}'); }
void fg_jw_arr(fg_jw *w) { open(w, '['); }
void fg_jw_arr_end(fg_jw *w) { close(w, ']'); }

void fg_jw_key(fg_jw *w, const char *key)
{
    before_value(w);
    size_t n = strlen(key);
    fg_buf *b = w->out;
    if (b->len + n + 4 > b->cap && fg_buf_reserve(b, n + 3))
        return;
    char *d = b->data + b->len;
    *d++ = '"';
    memcpy(d, key, n);
    d += n;
    *d++ = '"';
    *d++ = ':';
    *d = 0;
    b->len += n + 3;
    w->after_key = 1;
}

void fg_json_escape(fg_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        fg_buf_append(b, s + start, i - start);
        start = i + 1;
        switch (c) {
        case '"': fg_buf_append(b, "\\\"", 2); break;
        case '\\': fg_buf_append(b, "\\\\", 2); break;
        case '\n': fg_buf_append(b, "\\n", 2); break;
        case '\r': fg_buf_append(b, "\\r", 2); break;
        case '\t': fg_buf_append(b, "\\t", 2); break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            fg_buf_append(b, u, 6);
        }
        }
    }
    fg_buf_append(b, s + start, n - start);
}

void fg_jw_strn(fg_jw *w, const char *s, size_t n)
{
    before_value(w);
    fg_buf_putc(w->out, '"');
    fg_json_escape(w->out, s, n);
    fg_buf_putc(w->out, '"');
}

void fg_jw_str(fg_jw *w, const char *s)
{
    fg_jw_strn(w, s, strlen(s));
}

static size_t utoa(char *out, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

void fg_jw_int(fg_jw *w, int64_t v)
{
    before_value(w);
    char s[24];
    size_t n = 0;
    uint64_t u = (uint64_t)v;
    if (v < 0) {
        s[n++] = '-';
        u = 0 - u;
    }
    n += utoa(s + n, u);
    fg_buf_append(w->out, s, n);
}

void fg_jw_dec(fg_jw *w, double v, int places)
{
    static const double scale[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
    if (places < 0)
        places = 0;
    if (places > 6)
        places = 6;
    if (!isfinite(v) || fabs(v) > 9e12)
        v = 0; /* never emit NaN or a number jansson cannot read back */
    before_value(w);
    char s[48];
    size_t n = 0;
    double r = round(fabs(v) * scale[places]);
    uint64_t u = (uint64_t)r;
    if (v < 0 && u != 0)
        s[n++] = '-';
    uint64_t ip = u / (uint64_t)scale[places];
    uint64_t fp = u % (uint64_t)scale[places];
    n += utoa(s + n, ip);
    if (places > 0) {
        s[n++] = '.';
        char f[8];
        size_t fn = utoa(f, fp);
        for (size_t i = fn; i < (size_t)places; i++)
            s[n++] = '0';
        memcpy(s + n, f, fn);
        n += fn;
    }
    fg_buf_append(w->out, s, n);
}

void fg_jw_bool(fg_jw *w, int v)
{
    before_value(w);
    if (v)
        fg_buf_append(w->out, "true", 4);
    else
        fg_buf_append(w->out, "false", 5);
}

void fg_jw_null(fg_jw *w)
{
    before_value(w);
    fg_buf_append(w->out, "null", 4);
}

void fg_jw_raw(fg_jw *w, const char *json, size_t n)
{
    before_value(w);
    fg_buf_append(w->out, json, n);
}

void fg_jw_base64(fg_jw *w, const void *p, size_t n)
{
    before_value(w);
    fg_buf_putc(w->out, '"');
    fg_buf_base64(w->out, p, n);
    fg_buf_putc(w->out, '"');
}

void fg_jw_kv_str(fg_jw *w, const char *key, const char *s)
{
    if (!s)
        return;
    fg_jw_key(w, key);
    fg_jw_str(w, s);
}

void fg_jw_kv_int(fg_jw *w, const char *key, int64_t v)
{
    fg_jw_key(w, key);
    fg_jw_int(w, v);
}

void fg_jw_kv_bool(fg_jw *w, const char *key, int v)
{
    fg_jw_key(w, key);
    fg_jw_bool(w, v);
}

void fg_jw_kv_obj(fg_jw *w, const char *key)
{
    fg_jw_key(w, key);
    fg_jw_obj(w);
}

void fg_jw_kv_arr(fg_jw *w, const char *key)
{
    fg_jw_key(w, key);
    fg_jw_arr(w);
}

static int dump_to_buf(const char *buffer, size_t size, void *data)
{
    fg_buf_append(data, buffer, size);
    return 0;
}

char *fg_json_dumps(const json_t *j, size_t flags, size_t *len)
{
    fg_buf b;
    fg_buf_init(&b);
    if (json_dump_callback(j, dump_to_buf, &b, flags) != 0 || b.failed) {
        fg_buf_free(&b);
        return NULL;
    }
    return fg_buf_take(&b, len);
}
