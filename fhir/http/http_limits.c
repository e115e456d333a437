/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_limits.c: the headers by which servers say how long to wait.
 *
 *   Retry-After: 2  (or an HTTP date)      everyone (RFC 9110)
 *   retry-after-ms: 1500                   OpenAI, Azure OpenAI
 *   x-ratelimit-reset-requests: 6m0s       OpenAI: when the request budget refills
 *   x-ratelimit-reset-tokens: 20ms         OpenAI: when the token budget refills
 *   x-ratelimit-remaining-requests: 0
 *
 * Waits are capped at FG_MAX_RETRY_AFTER_S: a server cannot park the run.
 */
#include "fhir/http/fg_http.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void fg_http_limits_reset(fg_http_limits *l)
{
    l->retry_after = -1;
    l->reset_requests = -1;
    l->reset_tokens = -1;
    l->remaining_requests = -1;
}

int fg_http_parse_duration(const char *s, double *seconds)
{
    double total = 0;
    int parts = 0;
    if (!s)
        return FG_EINVALID;
    while (*s == ' ' || *s == '\t')
        s++;
    while (*s && *s != ' ' && *s != '\t' && *s != '\r' && *s != '\n') {
        if (!isdigit((unsigned char)*s) && *s != '.')
            return FG_EINVALID;
        char *end;
        double v = strtod(s, &end);
        if (end == s || v < 0 || v != v)
            return FG_EINVALID;
        s = end;
        double unit;
        if (strncmp(s, "ms", 2) == 0) {
            unit = 0.001;
            s += 2;
        } else if (strncmp(s, "us", 2) == 0) {
            unit = 1e-6;
            s += 2;
        } else if (strncmp(s, "ns", 2) == 0) {
            unit = 1e-9;
            s += 2;
        } else if (*s == 'h') {
            unit = 3600;
            s++;
        } else if (*s == 'm') {
            unit = 60;
            s++;
        } else if (*s == 's') {
            unit = 1;
            s++;
        } else if (*s == 0 || *s == ' ' || *s == '\r' || *s == '\n') {
            if (parts)
                return FG_EINVALID; /* "1m30": a bare number only on its own */
            unit = 1;
        } else {
            return FG_EINVALID;
        }
        total += v * unit;
        parts++;
    }
    if (!parts)
        return FG_EINVALID;
    if (total > FG_MAX_RETRY_AFTER_S)
        total = FG_MAX_RETRY_AFTER_S;
    *seconds = total;
    return FG_OK;
}

/* The value of "name: value" when the line is that header, else NULL. */
static const char *header_value(const char *line, const char *name, char *buf, size_t size)
{
    size_t n = strlen(name);
    if (strncasecmp(line, name, n) != 0 || line[n] != ':')
        return NULL;
    const char *v = line + n + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    snprintf(buf, size, "%s", v);
    buf[strcspn(buf, "\r\n")] = 0;
    return buf;
}

void fg_http_limits_header(fg_http_limits *l, const char *line, size_t len, time_t now)
{
    char h[300], v[300];
    if (len >= sizeof(h))
        return; /* none of ours is that long */
    memcpy(h, line, len);
    h[len] = 0;
    double s;
    if (header_value(h, "retry-after-ms", v, sizeof(v))) {
        char *end;
        double ms = strtod(v, &end);
        if (end != v && ms >= 0 && ms == ms)
            l->retry_after = ms / 1000 > FG_MAX_RETRY_AFTER_S ? FG_MAX_RETRY_AFTER_S : ms / 1000;
    } else if (header_value(h, "retry-after", v, sizeof(v))) {
        /* retry-after-ms is the finer of the two; keep it when both came */
        if (l->retry_after < 0 && fg_http_parse_retry_after(v, now, &s) == FG_OK)
            l->retry_after = s;
    } else if (header_value(h, "x-ratelimit-reset-requests", v, sizeof(v))) {
        if (fg_http_parse_duration(v, &s) == FG_OK)
            l->reset_requests = s;
    } else if (header_value(h, "x-ratelimit-reset-tokens", v, sizeof(v))) {
        if (fg_http_parse_duration(v, &s) == FG_OK)
            l->reset_tokens = s;
    } else if (header_value(h, "x-ratelimit-remaining-requests", v, sizeof(v))) {
        char *end;
        long r = strtol(v, &end, 10);
        if (end != v && r >= 0)
            l->remaining_requests = r;
    }
}

double fg_http_limits_wait(const fg_http_limits *l)
{
    if (l->retry_after >= 0)
        return l->retry_after;
    double w = -1;
    if (l->reset_requests >= 0 && l->remaining_requests == 0)
        w = l->reset_requests;
    if (l->reset_tokens >= 0 && l->reset_tokens > w)
        w = l->reset_tokens;
    if (w < 0 && l->reset_requests >= 0)
        w = l->reset_requests;
    return w;
}
