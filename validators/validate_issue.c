/* SPDX-License-Identifier: Apache-2.0 */
/*
 * validate_issue.c: issue lists, the not-checked list, and issues written
 * as an OperationOutcome.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validators/validate_private.h"

void fg_issue_list_clear(fg_issue_list *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->count; i++) {
        free(l->items[i].path);
        free(l->items[i].message);
    }
    l->count = 0;
    l->errors = 0;
    l->warnings = 0;
    l->resources = 0;
}

void fg_issue_list_free(fg_issue_list *l)
{
    if (l == NULL)
        return;
    fg_issue_list_clear(l);
    free(l->items);
    l->items = NULL;
    l->cap = 0;
}

static int issue_vadd(fg_issue_list *l, fg_severity sev, fg_check check, const char *type,
                      const char *path, const char *rule, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (l->count == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        fg_issue *n = realloc(l->items, ncap * sizeof *n);
        if (n == NULL)
            return FG_ENOMEM;
        l->items = n;
        l->cap = ncap;
    }
    fg_issue *it = &l->items[l->count];
    memset(it, 0, sizeof *it);
    it->path = strdup(path ? path : "");
    it->message = strdup(msg);
    if (it->path == NULL || it->message == NULL) {
        free(it->path);
        free(it->message);
        return FG_ENOMEM;
    }
    it->severity = sev;
    it->check = check;
    it->type = type ? type : "processing";
    it->rule = rule;
    l->count++;
    if (sev <= FG_SEV_ERROR)
        l->errors++;
    else if (sev == FG_SEV_WARNING)
        l->warnings++;
    return FG_OK;
}

int fg_issue_add(fg_issue_list *l, fg_severity sev, fg_check check, const char *type,
                 const char *path, const char *rule, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = issue_vadd(l, sev, check, type, path, rule, fmt, ap);
    va_end(ap);
    return rc;
}

void fgv_issue(fgv_ctx *c, fg_severity sev, fg_check check, const char *type, const char *rule,
               const char *fmt, ...)
{
    if (c->failed)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* A resource walked against several profiles (each a full snapshot)
     * meets the base rules once per walk: keep the first report only. */
    if (c->dedupe) {
        for (size_t i = c->first_issue; i < c->out->count; i++) {
            const fg_issue *it = &c->out->items[i];
            if (it->check == check && strcmp(it->path, c->path) == 0
                && strcmp(it->message, msg) == 0)
                return;
        }
    }
    if (fg_issue_add(c->out, sev, check, type, c->path, rule, "%s", msg) != FG_OK)
        c->failed = 1;
}

/* FG_OK when the note is recorded or already there, FG_ENOMEM. */
static int not_checked_v(const fg_validator *v, const char *key, const char *fmt, va_list ap)
{
    char msg[1024];
    int rc = FG_OK;
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (key == NULL)
        key = msg;
    size_t kl = strlen(key);
    fg_validator *w = (fg_validator *)v; /* only the guarded list changes */
    pthread_mutex_lock(&w->lock);
    for (size_t i = 0; i < w->n_not_checked; i++)
        if (strncmp(w->not_checked[i], key, kl) == 0
            && (w->not_checked[i][kl] == '\0' || w->not_checked[i][kl] == ':'))
            goto done;
    rc = FG_ENOMEM;
    if (w->n_not_checked == w->cap_not_checked) {
        size_t ncap = w->cap_not_checked ? w->cap_not_checked * 2 : 16;
        char **n = realloc(w->not_checked, ncap * sizeof *n);
        if (n == NULL)
            goto done;
        w->not_checked = n;
        w->cap_not_checked = ncap;
    }
    char *s = strdup(msg);
    if (s == NULL)
        goto done;
    w->not_checked[w->n_not_checked++] = s;
    rc = FG_OK;
done:
    pthread_mutex_unlock(&w->lock);
    return rc;
}

void fgv_not_checked(fgv_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (not_checked_v(c->v, NULL, fmt, ap) != FG_OK)
        c->failed = 1;
    va_end(ap);
}

void fgv_not_checked_key(fgv_ctx *c, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (not_checked_v(c->v, key, fmt, ap) != FG_OK)
        c->failed = 1;
    va_end(ap);
}

size_t fg_validator_not_checked_count(const fg_validator *v)
{
    if (v == NULL)
        return 0;
    fg_validator *w = (fg_validator *)v;
    pthread_mutex_lock(&w->lock);
    size_t n = w->n_not_checked;
    pthread_mutex_unlock(&w->lock);
    return n;
}

const char *fg_validator_not_checked(const fg_validator *v, size_t i)
{
    if (v == NULL)
        return NULL;
    fg_validator *w = (fg_validator *)v;
    pthread_mutex_lock(&w->lock);
    const char *s = i < w->n_not_checked ? w->not_checked[i] : NULL;
    pthread_mutex_unlock(&w->lock);
    return s;
}

const char *fg_check_name(fg_check c)
{
    static const char *const names[FG_CHECK_COUNT_] = {
        "json",      "structure", "cardinality", "type",      "format",    "fixed",   "binding",
        "slicing",   "extension", "reference",   "invariant", "bundle",    "profile",
    };
    if ((int)c < 0 || c >= FG_CHECK_COUNT_)
        return "unknown";
    return names[c];
}

const char *fg_severity_name(fg_severity s)
{
    switch (s) {
    case FG_SEV_FATAL:
        return "fatal";
    case FG_SEV_ERROR:
        return "error";
    case FG_SEV_WARNING:
        return "warning";
    case FG_SEV_INFORMATION:
        return "information";
    }
    return "error";
}

/* One issue of an OperationOutcome, or NULL when memory ran out. */
static json_t *outcome_issue(const fg_issue *it)
{
    json_t *is = json_object();
    if (is == NULL)
        return NULL;
    /* json_object_set_new takes the value even when it fails or is NULL */
    if (json_object_set_new(is, "severity", json_string(fg_severity_name(it->severity))) != 0
        || json_object_set_new(is, "code", json_string(it->type ? it->type : "processing")) != 0
        || (it->rule != NULL
            && json_object_set_new(is, "details", json_pack("{s:s}", "text", it->rule)) != 0)
        || json_object_set_new(is, "diagnostics", json_string(it->message)) != 0
        || (it->path != NULL && it->path[0] != '\0'
            && json_object_set_new(is, "expression", json_pack("[s]", it->path)) != 0)) {
        json_decref(is);
        return NULL;
    }
    return is;
}

json_t *fg_issue_list_outcome(const fg_issue_list *l)
{
    json_t *oo = json_object();
    json_t *issues = json_array();
    if (oo == NULL || issues == NULL
        || json_object_set_new(oo, "resourceType", json_string("OperationOutcome")) != 0)
        goto fail;
    size_t n = l ? l->count : 0;
    for (size_t i = 0; i < n; i++)
        if (json_array_append_new(issues, outcome_issue(&l->items[i])) != 0)
            goto fail;
    if (n == 0
        && json_array_append_new(issues, json_pack("{s:s,s:s,s:s}", "severity", "information",
                                                   "code", "informational", "diagnostics",
                                                   "No issues found."))
               != 0)
        goto fail;
    int rc = json_object_set_new(oo, "issue", issues); /* takes issues */
    issues = NULL;
    if (rc == 0)
        return oo;
fail:
    json_decref(issues);
    json_decref(oo);
    return NULL;
}
