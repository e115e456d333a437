/* SPDX-License-Identifier: Apache-2.0 */
#include "fhir/base/fg_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *fg_strerror(int code)
{
    switch (code) {
    case FG_OK: return "success";
    case FG_EINVALID: return "invalid input";
    case FG_ENOTFOUND: return "not found";
    case FG_ENOMEM: return "out of memory";
    case FG_EIO: return "input/output error";
    case FG_ELIMIT: return "limit exceeded";
    case FG_ENETWORK: return "network error";
    case FG_EUSAGE: return "invalid usage";
    case FG_ECANCELED: return "canceled";
    case FG_EINTERNAL: return "internal error";
    default: return "unknown error";
    }
}

void fg_error_clear(fg_error *err)
{
    if (err)
        memset(err, 0, sizeof(*err));
}

int fg_error_set(fg_error *err, int code, const char *where, const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    err->line = 0;
    snprintf(err->where, sizeof(err->where), "%s", where ? where : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof(err->text), fmt, ap);
    va_end(ap);
    return code;
}

void fg_error_prefix(fg_error *err, const char *prefix)
{
    if (!err || !prefix || !*prefix)
        return;
    char joined[FG_ERROR_WHERE_MAX];
    size_t n = 0;
    const char *sep = (!err->where[0] || err->where[0] == '[') ? "" : ".";
    const char *parts[3] = {prefix, sep, err->where};
    for (int i = 0; i < 3; i++)
        for (const char *p = parts[i]; *p && n + 1 < sizeof(joined); p++)
            joined[n++] = *p;
    joined[n] = 0;
    memcpy(err->where, joined, n + 1);
}
