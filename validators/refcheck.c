/* SPDX-License-Identifier: Apache-2.0 */
/*
 * refcheck.c: referential integrity of a cohort (see fg_refcheck.h): the
 * checker, its reports, and the checks of references, resources, Bundles
 * and NDJSON lines. The cohort-wide tables are in refcheck_index.c; how the
 * state is kept is described in refcheck_private.h.
 */
#include "validators/fg_refcheck.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/base/fg_buf.h"
#include "fhir/base/fg_data.h"
#include "fhir/json/fg_jr.h"
#include "validators/fg_validate.h"

#include "validators/refcheck_private.h"

#define HTEST_SYSTEM "http://terminology.hl7.org/CodeSystem/v3-ActReason"

/* ---- the checker -------------------------------------------------------- */

char *rck_dup_str(fg_refcheck *rc, const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        rc->nomem = 1;
    return d;
}

void rck_report(rck_ctx *c, fg_refcheck_severity sev, const char *path, const char *fmt, ...)
{
    fg_refcheck *rc = c->rc;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fg_refcheck_issue is = {sev, rc->nfiles > c->file ? rc->files[c->file].name : "", c->line,
                            path ? path : "", msg};
    if (sev == FG_REFCHECK_ERROR)
        rc->sum.errors++;
    else
        rc->sum.warnings++;
    if (rc->fn)
        rc->fn(rc->ud, &is);
    if (rc->nkept < FG_MAX_REFCHECK_ISSUES_KEPT) {
        if (!rc->kept) {
            rc->kept = calloc(FG_MAX_REFCHECK_ISSUES_KEPT, sizeof(*rc->kept));
            if (!rc->kept) {
                rc->nomem = 1;
                return;
            }
        }
        char *p = rck_dup_str(rc, is.path), *m = rck_dup_str(rc, msg);
        if (!p || !m) {
            free(p);
            free(m);
            return;
        }
        is.path = p;
        is.message = m;
        rc->kept[rc->nkept++] = is;
    }
}

static uint32_t file_index(fg_refcheck *rc, const char *name, int ndjson)
{
    if (!name)
        name = "";
    if (rc->nfiles && strcmp(rc->files[rc->nfiles - 1].name, name) == 0 &&
        rc->files[rc->nfiles - 1].ndjson == ndjson)
        return (uint32_t)(rc->nfiles - 1);
    if (rc->nfiles == rc->capfiles) {
        size_t cap = rc->capfiles ? rc->capfiles * 2 : 64;
        rck_file *f = realloc(rc->files, cap * sizeof(*f));
        if (!f) {
            rc->nomem = 1;
            return 0;
        }
        rc->files = f;
        rc->capfiles = cap;
    }
    char *d = rck_dup_str(rc, name);
    if (!d)
        return 0;
    rc->files[rc->nfiles] = (rck_file){d, ndjson};
    rc->sum.files++;
    return (uint32_t)rc->nfiles++;
}

int fg_refcheck_new(fg_refcheck_issue_fn fn, void *ud, fg_refcheck **out, fg_error *err)
{
    fg_refcheck *rc = calloc(1, sizeof(*rc));
    if (!rc)
        return fg_error_set(err, FG_ENOMEM, "refcheck", "out of memory");
    rc->fn = fn;
    rc->ud = ud;
    *out = rc;
    return FG_OK;
}

void fg_refcheck_free(fg_refcheck *rc)
{
    if (!rc)
        return;
    for (size_t i = 0; i < rc->nkept; i++) {
        free((char *)rc->kept[i].path);
        free((char *)rc->kept[i].message);
    }
    free(rc->kept);
    for (size_t i = 0; i < rc->nfiles; i++)
        free(rc->files[i].name);
    free(rc->files);
    for (size_t i = 0; i < rc->npend; i++) {
        free(rc->pend[i].ref);
        free(rc->pend[i].path);
    }
    free(rc->pend);
    rck_table_free(&rc->ids);
    rck_table_free(&rc->idents);
    rck_table_free(&rc->targets);
    rck_table_free(&rc->fullurls);
    rck_table_free(&rc->typeids);
    free(rc);
}

const fg_refcheck_issue *fg_refcheck_issues(const fg_refcheck *rc, size_t *n)
{
    *n = rc->nkept;
    return rc->kept;
}

/* ---- references --------------------------------------------------------- */

static int is_type_name(const char *s, size_t n)
{
    if (n == 0 || n > 64 || s[0] < 'A' || s[0] > 'Z')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z')))
            return 0;
    return 1;
}

static int is_id(const char *s, size_t n)
{
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.'))
            return 0;
    return 1;
}

/* Split a relative `Type/id` (or `Type/id/_history/v`) at its end of ref;
 * 1 with type and id written when it is one. */
static int split_relative(const char *ref, char *type, char *id)
{
    const char *slash = strchr(ref, '/');
    if (!slash)
        return 0;
    size_t tn = (size_t)(slash - ref);
    const char *idp = slash + 1;
    const char *end = strchr(idp, '/');
    size_t in = end ? (size_t)(end - idp) : strlen(idp);
    if (end && strncmp(end, "/_history/", 10) != 0)
        return 0;
    if (!is_type_name(ref, tn) || !is_id(idp, in))
        return 0;
    memcpy(type, ref, tn);
    type[tn] = 0;
    memcpy(id, idp, in);
    id[in] = 0;
    return 1;
}

static int contained_has(const json_t *res, const char *id)
{
    if (!*id)
        return 1; /* "#" is the container itself */
    const json_t *cont = json_object_get(res, "contained");
    size_t i;
    const json_t *r;
    json_array_foreach(cont, i, r) {
        const char *cid = json_string_value(json_object_get(r, "id"));
        if (cid && strcmp(cid, id) == 0)
            return 1;
    }
    return 0;
}

static void check_reference(rck_ctx *c, const char *ref)
{
    fg_refcheck *rc = c->rc;
    const char *path = c->path.data;
    char type[72], id[72];
    rc->sum.references++;
    if (ref[0] == '#') {
        if (!contained_has(c->res, ref + 1))
            rck_report(c, FG_REFCHECK_ERROR, path, "reference '%s' names no contained resource",
                       ref);
        return;
    }
    if (strchr(ref, '?')) {
        rck_report(c, FG_REFCHECK_ERROR, path,
                   "conditional reference '%s': servers resolve these differently; reference the "
                   "entry's fullUrl instead",
                   ref);
        return;
    }
    if (!c->in_bundle) {
        if (split_relative(ref, type, id))
            rck_defer_reference(c, ref, type, id);
        else
            rck_report(c, FG_REFCHECK_ERROR, path,
                       "reference '%s' is not Type/id: bulk data references must be relative", ref);
        return;
    }
    if (rck_table_find(&rc->fullurls, rck_hash_str(ref, strlen(ref))))
        return;
    if (strncmp(ref, "urn:", 4) == 0) {
        rck_report(c, FG_REFCHECK_ERROR, path, "reference '%s' matches no entry's fullUrl", ref);
        return;
    }
    /* A relative reference, or an absolute one ending in Type/id. */
    const char *rel = ref;
    if (strstr(ref, "://")) {
        const char *h = strstr(ref, "/_history/");
        const char *end = h ? h : ref + strlen(ref);
        int slashes = 0;
        for (rel = end; rel > ref; rel--)
            if (rel[-1] == '/' && ++slashes == 2)
                break;
    }
    if (!split_relative(rel, type, id)) {
        rck_report(c, FG_REFCHECK_ERROR, path, "reference '%s' is neither a fullUrl nor Type/id",
                   ref);
        return;
    }
    if (!rck_table_find(&rc->typeids, rck_hash_pair(type, '/', id)))
        rck_report(c, FG_REFCHECK_ERROR, path, "reference '%s' resolves to no entry of this Bundle",
                   ref);
}

static void walk(rck_ctx *c, const json_t *v, int depth)
{
    if (depth > FG_MAX_JSON_DEPTH) {
        rck_report(c, FG_REFCHECK_ERROR, c->path.data, "nested deeper than %d levels (not walked)",
                   FG_MAX_JSON_DEPTH);
        return;
    }
    size_t mark = c->path.len;
    if (json_is_object(v)) {
        const char *key;
        const json_t *val;
        json_object_foreach((json_t *)v, key, val) {
            fg_buf_putc(&c->path, '.');
            fg_buf_puts(&c->path, key);
            if (strcmp(key, "reference") == 0 && json_is_string(val))
                check_reference(c, json_string_value(val));
            else if (json_is_object(val) || json_is_array(val))
                walk(c, val, depth + 1);
            c->path.len = mark;
            if (c->path.data)
                c->path.data[mark] = 0;
        }
    } else if (json_is_array(v)) {
        size_t i;
        const json_t *val;
        json_array_foreach(v, i, val) {
            if (!json_is_object(val) && !json_is_array(val))
                continue;
            fg_buf_printf(&c->path, "[%zu]", i);
            walk(c, val, depth + 1);
            c->path.len = mark;
            if (c->path.data)
                c->path.data[mark] = 0;
        }
    }
}

/* ---- resources ---------------------------------------------------------- */

static void check_meta(rck_ctx *c, const json_t *res)
{
    char p[FG_ERROR_WHERE_MAX + 32];
    const json_t *meta = json_object_get(res, "meta");
    const json_t *sec = json_object_get(meta, "security");
    int htest = 0;
    size_t i;
    const json_t *cd;
    json_array_foreach(sec, i, cd) {
        const char *sys = json_string_value(json_object_get(cd, "system"));
        const char *code = json_string_value(json_object_get(cd, "code"));
        if (sys && code && strcmp(sys, HTEST_SYSTEM) == 0 && strcmp(code, "HTEST") == 0)
            htest = 1;
    }
    if (!htest) {
        snprintf(p, sizeof(p), "%s.meta.security", c->path.data);
        rck_report(c, FG_REFCHECK_ERROR, p,
                   "no HTEST security label (%s): synthetic data must say it is test data",
                   HTEST_SYSTEM);
    }
    const json_t *prof = json_object_get(meta, "profile");
    int nprof = 0;
    json_array_foreach(prof, i, cd) {
        if (json_is_string(cd) && json_string_length(cd) > 0)
            nprof++;
    }
    if (!nprof) {
        snprintf(p, sizeof(p), "%s.meta.profile", c->path.data);
        rck_report(c, FG_REFCHECK_ERROR, p, "no profile claimed in meta.profile");
    }
}

/* Everything a resource must satisfy wherever it travels; c->path holds
 * its path (e.g. Bundle.entry[3].resource). Returns 0 when it has no
 * usable resourceType/id (reported). */
static int check_resource(rck_ctx *c, const json_t *res, const char **type_out, const char **id_out)
{
    fg_refcheck *rc = c->rc;
    char p[FG_ERROR_WHERE_MAX + 32];
    const char *type = json_string_value(json_object_get(res, "resourceType"));
    const char *id = json_string_value(json_object_get(res, "id"));
    rc->sum.resources++;
    if (!type || !is_type_name(type, strlen(type))) {
        snprintf(p, sizeof(p), "%s.resourceType", c->path.data);
        rck_report(c, FG_REFCHECK_ERROR, p, "no valid resourceType");
        return 0;
    }
    check_meta(c, res);
    if (!id || !is_id(id, strlen(id))) {
        snprintf(p, sizeof(p), "%s.id", c->path.data);
        rck_report(c, FG_REFCHECK_ERROR, p,
                   id ? "id '%s' is not a FHIR id ([A-Za-z0-9-.]{1,64})"
                  : "no id%s: the cohort's ids cannot be checked",
                   id ? id : "");
        return 0;
    }
    rck_check_id(c, res, type, id);
    rck_check_identifiers(c, res, rck_hash_pair(type, '/', id));
    *type_out = type;
    *id_out = id;
    return 1;
}

/* ---- bundles and lines -------------------------------------------------- */

static void set_path(rck_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_path(rck_ctx *c, const char *fmt, ...)
{
    char tmp[FG_ERROR_WHERE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    fg_buf_clear(&c->path);
    fg_buf_puts(&c->path, tmp);
}

/* request.method/url of a transaction or batch entry. */
static void check_request(rck_ctx *c, const json_t *entry, size_t i, const json_t *res,
                          const char *type, const char *id)
{
    char p[FG_ERROR_WHERE_MAX];
    const json_t *req = json_object_get(entry, "request");
    snprintf(p, sizeof(p), "Bundle.entry[%zu].request", i);
    if (!json_is_object(req)) {
        rck_report(c, FG_REFCHECK_ERROR, p, "a transaction entry needs a request (method and url)");
        return;
    }
    const char *method = json_string_value(json_object_get(req, "method"));
    const char *url = json_string_value(json_object_get(req, "url"));
    if (!method || !url || !*url) {
        rck_report(c, FG_REFCHECK_ERROR, p, "request needs both method and url");
        return;
    }
    snprintf(p, sizeof(p), "Bundle.entry[%zu].request.url", i);
    if (strcmp(method, "PUT") == 0 && type && id) {
        char want[160];
        snprintf(want, sizeof(want), "%s/%s", type, id);
        if (strcmp(url, want) != 0)
            rck_report(c, FG_REFCHECK_ERROR, p, "PUT url '%s' is not %s, the resource's Type/id",
                       url, want);
    } else if (strcmp(method, "POST") == 0 && type) {
        if (strcmp(url, type) != 0)
            rck_report(c, FG_REFCHECK_ERROR, p, "POST url '%s' is not the resource type %s", url,
                       type);
    } else if (strcmp(method, "GET") && strcmp(method, "HEAD") && strcmp(method, "DELETE") &&
               strcmp(method, "PATCH") && strcmp(method, "PUT") && strcmp(method, "POST")) {
        snprintf(p, sizeof(p), "Bundle.entry[%zu].request.method", i);
        rck_report(c, FG_REFCHECK_ERROR, p, "unknown method '%s'", method);
    }
    if (!res && (strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0)) {
        snprintf(p, sizeof(p), "Bundle.entry[%zu].resource", i);
        rck_report(c, FG_REFCHECK_ERROR, p, "%s without a resource", method);
    }
    const char *ine = json_string_value(json_object_get(req, "ifNoneExist"));
    snprintf(p, sizeof(p), "Bundle.entry[%zu].request.ifNoneExist", i);
    if (ine && strncmp(ine, "identifier=", 11) == 0 && res) {
        const char *want = ine + 11;
        const json_t *ids = json_object_get(res, "identifier");
        int found = 0;
        size_t k;
        const json_t *ident;
        json_array_foreach(ids, k, ident) {
            const char *sys = json_string_value(json_object_get(ident, "system"));
            const char *val = json_string_value(json_object_get(ident, "value"));
            if (!val)
                continue;
            size_t sl = sys ? strlen(sys) : 0;
            if ((sys && strncmp(want, sys, sl) == 0 && want[sl] == '|' &&
                 strcmp(want + sl + 1, val) == 0) ||
                (!strchr(want, '|') && strcmp(want, val) == 0))
                found = 1;
        }
        if (!found)
            rck_report(c, FG_REFCHECK_ERROR, p, "ifNoneExist '%s' names none of the identifiers",
                       ine);
    } else if (!ine && type && rck_is_shared_type(type) && strcmp(method, "POST") == 0) {
        rck_report(c, FG_REFCHECK_WARNING, p,
                   "shared %s is created without ifNoneExist: reloading makes duplicates", type);
    }
}

static int check_bundle(fg_refcheck *rc, const json_t *b, uint32_t file)
{
    rck_ctx c = {.rc = rc, .file = file, .in_bundle = 1};
    fg_buf_init(&c.path);
    char p[FG_ERROR_WHERE_MAX];
    rc->sum.bundles++;
    const char *btype = json_string_value(json_object_get(b, "type"));
    int tx = btype && (strcmp(btype, "transaction") == 0 || strcmp(btype, "batch") == 0);
    if (!btype)
        rck_report(&c, FG_REFCHECK_ERROR, "Bundle.type", "no Bundle.type");
    const json_t *entries = json_object_get(b, "entry");
    rck_table_clear(&rc->fullurls);
    rck_table_clear(&rc->typeids);
    size_t i;
    const json_t *e;
    /* Pass 1: the fullUrls and Type/ids every reference may point at. */
    json_array_foreach(entries, i, e) {
        c.pos = (uint32_t)i;
        const char *fu = json_string_value(json_object_get(e, "fullUrl"));
        const json_t *res = json_object_get(e, "resource");
        const char *type = json_string_value(json_object_get(res, "resourceType"));
        const char *id = json_string_value(json_object_get(res, "id"));
        int fresh;
        snprintf(p, sizeof(p), "Bundle.entry[%zu].fullUrl", i);
        if (!fu || !*fu) {
            if (res)
                rck_report(&c, FG_REFCHECK_ERROR, p, "entry has no fullUrl");
        } else {
            rck_slot *s = rck_table_put(&rc->fullurls, rck_hash_str(fu, strlen(fu)), &fresh);
            if (!s)
                goto nomem;
            if (!fresh)
                rck_report(&c, FG_REFCHECK_ERROR, p, "fullUrl '%s' is already used by entry[%u]",
                           fu, s->pos);
            else
                s->pos = (uint32_t)i;
            if (strncmp(fu, "urn:uuid:", 9) == 0 && id && strcmp(fu + 9, id) != 0)
                rck_report(&c, FG_REFCHECK_WARNING, p, "fullUrl '%s' does not carry the id '%s'",
                           fu, id);
        }
        if (type && id) {
            rck_slot *s = rck_table_put(&rc->typeids, rck_hash_pair(type, '/', id), &fresh);
            if (!s)
                goto nomem;
            snprintf(p, sizeof(p), "Bundle.entry[%zu].resource.id", i);
            if (!fresh)
                rck_report(&c, FG_REFCHECK_ERROR, p, "%s/%s is already entry[%u] of this Bundle",
                           type, id, s->pos);
            else
                s->pos = (uint32_t)i;
        }
    }
    /* Pass 2: each entry's request, resource and references. */
    json_array_foreach(entries, i, e) {
        c.pos = (uint32_t)i;
        const json_t *res = json_object_get(e, "resource");
        const char *type = NULL, *id = NULL;
        set_path(&c, "Bundle.entry[%zu].resource", i);
        if (json_is_object(res)) {
            c.res = res;
            check_resource(&c, res, &type, &id);
            walk(&c, res, 0);
        }
        if (tx)
            check_request(&c, e, i, res, type, id);
        if (c.path.failed || rc->nomem)
            goto nomem;
    }
    fg_buf_free(&c.path);
    return FG_OK;
nomem:
    fg_buf_free(&c.path);
    rc->nomem = 1;
    return FG_ENOMEM;
}

static int check_line(fg_refcheck *rc, const json_t *res, uint32_t file, long line)
{
    rck_ctx c = {.rc = rc, .file = file, .pos = (uint32_t)line, .line = line, .res = res};
    const char *type = json_string_value(json_object_get(res, "resourceType"));
    const char *id = NULL;
    fg_buf_init(&c.path);
    fg_buf_puts(&c.path, type && is_type_name(type, strlen(type)) ? type : "Resource");
    check_resource(&c, res, &type, &id);
    walk(&c, res, 0);
    int failed = c.path.failed;
    fg_buf_free(&c.path);
    if (failed || rc->nomem) {
        rc->nomem = 1;
        return FG_ENOMEM;
    }
    return FG_OK;
}

static int dispatch(fg_refcheck *rc, const json_t *doc, const char *file, long line, int ndjson,
                    fg_error *err)
{
    int rc_ = FG_OK;
    const char *type = json_string_value(json_object_get(doc, "resourceType"));
    uint32_t f = file_index(rc, file, ndjson);
    if (rc->nomem)
        return fg_error_set(err, FG_ENOMEM, file, "out of memory");
    if (!json_is_object(doc)) {
        rck_ctx c = {.rc = rc, .file = f, .line = line};
        rck_report(&c, FG_REFCHECK_ERROR, "", "not a JSON object, so not a FHIR resource");
        return fg_error_set(err, FG_EINVALID, file, "not a JSON object");
    }
    if (type && strcmp(type, "Bundle") == 0)
        rc_ = check_bundle(rc, doc, f);
    else
        rc_ = check_line(rc, doc, f, line);
    if (rc_ == FG_ENOMEM)
        return fg_error_set(err, FG_ENOMEM, file, "out of memory");
    return FG_OK;
}

int fg_refcheck_bundle(fg_refcheck *rc, const json_t *bundle, const char *file, fg_error *err)
{
    const char *type = json_string_value(json_object_get(bundle, "resourceType"));
    if (!type || strcmp(type, "Bundle") != 0) {
        rck_ctx c = {.rc = rc, .file = file_index(rc, file, 0)};
        rck_report(&c, FG_REFCHECK_ERROR, "Bundle.resourceType", "not a Bundle");
        return fg_error_set(err, FG_EINVALID, file, "not a Bundle");
    }
    return dispatch(rc, bundle, file, 0, 0, err);
}

int fg_refcheck_resource(fg_refcheck *rc, const json_t *resource, const char *file, long line,
                         fg_error *err)
{
    return dispatch(rc, resource, file, line, 1, err);
}

static int parse_and_check(fg_refcheck *rc, const char *text, size_t len, const char *file,
                           long line, int ndjson, fg_error *err)
{
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
        rck_ctx c = {.rc = rc, .file = file_index(rc, file, ndjson), .line = line};
        rck_report(&c, FG_REFCHECK_ERROR, "", "not JSON: %s (line %d, column %d)", je.text,
                   ndjson ? (int)line : je.line, je.column);
        return fg_error_set(err, FG_EINVALID, file, "not JSON: %s", je.text);
    }
    int r = dispatch(rc, doc, file, line, ndjson, err);
    json_decref(doc);
    return r;
}

int fg_refcheck_text(fg_refcheck *rc, const char *text, size_t len, int ndjson, const char *file,
                     fg_error *err)
{
    if (!ndjson)
        return parse_and_check(rc, text, len, file, 0, 0, err);
    int result = FG_OK;
    long line = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        line++;
        size_t n = (size_t)(le - p);
        if (n && p[n - 1] == '\r')
            n--;
        if (n) {
            int r = parse_and_check(rc, p, n, file, line, 1, err);
            if (r == FG_ENOMEM)
                return r;
            if (r && result == FG_OK)
                result = r;
        }
        p = le + 1;
    }
    return result;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int fg_refcheck_file(fg_refcheck *rc, const char *path, fg_error *err)
{
    int ndjson = ends_with(path, ".ndjson");
    if (!ndjson) {
        char *text = NULL;
        size_t len = 0;
        int r = fg_read_file(path, FG_MAX_BUNDLE_BYTES, &text, &len, err);
        if (r == FG_OK)
            r = fg_refcheck_text(rc, text, len, 0, path, err);
        free(text);
        return r;
    }
    FILE *f = fopen(path, "rb");
    if (!f)
        return fg_error_set(err, FG_ENOTFOUND, path, "cannot open");
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    long line = 0;
    int result = FG_OK;
    while ((n = getline(&buf, &cap, f)) >= 0) {
        line++;
        if ((size_t)n > FG_MAX_NDJSON_LINE_BYTES) {
            result = fg_error_set(err, FG_ELIMIT, path, "line %ld is longer than %u bytes", line,
                                  FG_MAX_NDJSON_LINE_BYTES);
            goto cleanup;
        }
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            n--;
        if (!n)
            continue;
        int r = parse_and_check(rc, buf, (size_t)n, path, line, 1, err);
        if (r == FG_ENOMEM) {
            result = r;
            goto cleanup;
        }
        if (r && result == FG_OK)
            result = r;
    }
    if (ferror(f))
        result = fg_error_set(err, FG_EIO, path, "read failed");
cleanup:
    free(buf);
    fclose(f);
    return result;
}

int fg_refcheck_finish(fg_refcheck *rc, fg_refcheck_summary *summary, fg_error *err)
{
    for (size_t i = 0; i < rc->npend; i++) {
        rck_pending *p = &rc->pend[i];
        if (p->reported)
            continue;
        char type[72], id[72];
        if (!split_relative(p->ref, type, id) ||
            rck_table_find(&rc->ids, rck_hash_pair(type, '/', id)))
            continue;
        rck_ctx c = {.rc = rc, .file = p->file, .line = p->line};
        if (p->count > 1)
            rck_report(&c, FG_REFCHECK_ERROR, p->path,
                       "reference '%s' names no resource of the cohort (and %zu more references "
                       "to it)",
                       p->ref, p->count - 1);
        else
            rck_report(&c, FG_REFCHECK_ERROR, p->path,
                       "reference '%s' names no resource of the cohort", p->ref);
        p->reported = 1;
    }
    if (rc->nomem)
        return fg_error_set(err, FG_ENOMEM, "refcheck", "out of memory");
    if (summary)
        *summary = rc->sum;
    return FG_OK;
}
