/*
 * refcheck.c: referential integrity of a cohort (see fg_refcheck.h).
 *
 * Cohort-wide state is three open-addressing tables keyed by 64-bit hashes:
 * resource ids (`Type/id`), identifiers (`system|value`) and, for NDJSON,
 * the reference targets still waiting for their resource. Each slot also
 * remembers where its key was first seen (file number, entry or line), so a
 * duplicate can name both places. A Bundle gets two small tables of its own
 * (fullUrls and `Type/id`), emptied for the next Bundle.
 */
#include "fg_refcheck.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fhir/fg_buf.h"
#include "../fhir/fg_data.h"
#include "../fhir/fg_limits.h"

#define HTEST_SYSTEM "http://terminology.hl7.org/CodeSystem/v3-ActReason"

/* ---- hashing and the table ---------------------------------------------- */

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t hash_finish(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h ? h : 1; /* 0 marks an empty slot */
}

/* Hash of a, sep, b: the key of `Type/id` or `system|value`. */
static uint64_t hash_pair(const char *a, char sep, const char *b)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    h = hash_bytes(h, a, strlen(a));
    h = hash_bytes(h, &sep, 1);
    h = hash_bytes(h, b, strlen(b));
    return hash_finish(h);
}

static uint64_t hash_str(const char *s, size_t n)
{
    return hash_finish(hash_bytes(0xcbf29ce484222325ULL, s, n));
}

typedef struct slot {
    uint64_t key;
    uint64_t val;  /* content hash, owner hash or pending index */
    uint32_t file; /* index into rc->files */
    uint32_t pos;  /* entry index or NDJSON line */
} slot;

typedef struct table {
    slot *s;
    size_t cap; /* a power of two, or 0 */
    size_t n;
} table;

static slot *table_find(const table *t, uint64_t key)
{
    if (!t->cap)
        return NULL;
    for (size_t i = key & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        if (t->s[i].key == key)
            return &t->s[i];
        if (!t->s[i].key)
            return NULL;
    }
}

static int table_grow(table *t)
{
    size_t cap = t->cap ? t->cap * 2 : 256;
    slot *s = calloc(cap, sizeof(*s));
    if (!s)
        return FG_ENOMEM;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->s[i].key)
            continue;
        size_t j = t->s[i].key & (cap - 1);
        while (s[j].key)
            j = (j + 1) & (cap - 1);
        s[j] = t->s[i];
    }
    free(t->s);
    t->s = s;
    t->cap = cap;
    return FG_OK;
}

/* The slot of key, added (zeroed but for key) when absent; *fresh says
 * which. NULL when out of memory. */
static slot *table_put(table *t, uint64_t key, int *fresh)
{
    slot *s = table_find(t, key);
    *fresh = 0;
    if (s)
        return s;
    if ((t->n + 1) * 10 > t->cap * 7 && table_grow(t))
        return NULL;
    size_t i = key & (t->cap - 1);
    while (t->s[i].key)
        i = (i + 1) & (t->cap - 1);
    t->s[i] = (slot){.key = key};
    t->n++;
    *fresh = 1;
    return &t->s[i];
}

static void table_clear(table *t)
{
    if (t->n)
        memset(t->s, 0, t->cap * sizeof(*t->s));
    t->n = 0;
}

static void table_free(table *t)
{
    free(t->s);
    memset(t, 0, sizeof(*t));
}

/* ---- the checker -------------------------------------------------------- */

typedef struct file_name {
    char *name;
    int ndjson;
} file_name;

/* An NDJSON reference target not yet known to exist: the first place that
 * named it, and how many places did. */
typedef struct pending {
    char *ref;
    char *path;
    uint32_t file;
    uint32_t line;
    size_t count;
    int reported;
} pending;

struct fg_refcheck {
    fg_refcheck_issue_fn fn;
    void *ud;
    fg_refcheck_issue *kept;
    size_t nkept;
    file_name *files;
    size_t nfiles, capfiles;
    pending *pend;
    size_t npend, cappend;
    table ids;      /* Type/id -> content hash (shared types), first place */
    table idents;   /* system|value -> owner hash, first place */
    table targets;  /* NDJSON Type/id -> index into pend */
    table fullurls; /* this bundle: fullUrl -> entry */
    table typeids;  /* this bundle: Type/id -> entry */
    fg_refcheck_summary sum;
    int nomem;
};

/* What the walk of one resource needs to know. */
typedef struct ctx {
    fg_refcheck *rc;
    uint32_t file;
    uint32_t pos;         /* entry index or line */
    long line;            /* for issues: NDJSON line or 0 */
    int in_bundle;        /* resolve against the bundle tables, else defer */
    const json_t *res;    /* the resource being walked (for #contained) */
    fg_buf path;
} ctx;

static char *dup_str(fg_refcheck *rc, const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        rc->nomem = 1;
    return d;
}

static void report(ctx *c, fg_refcheck_severity sev, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void report(ctx *c, fg_refcheck_severity sev, const char *path, const char *fmt, ...)
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
        char *p = dup_str(rc, is.path), *m = dup_str(rc, msg);
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

/* "file entry[3]" or "file:12", for messages naming the first place. */
static void place(const fg_refcheck *rc, uint32_t file, uint32_t pos, char *out, size_t size)
{
    const file_name *f = file < rc->nfiles ? &rc->files[file] : NULL;
    const char *name = f && f->name[0] ? f->name : "(input)";
    if (f && f->ndjson)
        snprintf(out, size, "%s:%u", name, pos);
    else
        snprintf(out, size, "%s entry[%u]", name, pos);
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
        file_name *f = realloc(rc->files, cap * sizeof(*f));
        if (!f) {
            rc->nomem = 1;
            return 0;
        }
        rc->files = f;
        rc->capfiles = cap;
    }
    char *d = dup_str(rc, name);
    if (!d)
        return 0;
    rc->files[rc->nfiles] = (file_name){d, ndjson};
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
    table_free(&rc->ids);
    table_free(&rc->idents);
    table_free(&rc->targets);
    table_free(&rc->fullurls);
    table_free(&rc->typeids);
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

static void defer_reference(ctx *c, const char *ref, const char *type, const char *id)
{
    fg_refcheck *rc = c->rc;
    int fresh;
    slot *s = table_put(&rc->targets, hash_pair(type, '/', id), &fresh);
    if (!s) {
        rc->nomem = 1;
        return;
    }
    if (!fresh) {
        rc->pend[s->val].count++;
        return;
    }
    if (rc->npend == rc->cappend) {
        size_t cap = rc->cappend ? rc->cappend * 2 : 1024;
        pending *p = realloc(rc->pend, cap * sizeof(*p));
        if (!p) {
            rc->nomem = 1;
            return;
        }
        rc->pend = p;
        rc->cappend = cap;
    }
    pending *p = &rc->pend[rc->npend];
    *p = (pending){dup_str(rc, ref), dup_str(rc, c->path.data), c->file, c->pos, 1, 0};
    s->val = rc->npend++;
    s->file = c->file;
    s->pos = c->pos;
}

static void check_reference(ctx *c, const char *ref)
{
    fg_refcheck *rc = c->rc;
    const char *path = c->path.data;
    char type[72], id[72];
    rc->sum.references++;
    if (ref[0] == '#') {
        if (!contained_has(c->res, ref + 1))
            report(c, FG_REFCHECK_ERROR, path, "reference '%s' names no contained resource", ref);
        return;
    }
    if (strchr(ref, '?')) {
        report(c, FG_REFCHECK_ERROR, path,
               "conditional reference '%s': servers resolve these differently; reference the "
               "entry's fullUrl instead",
               ref);
        return;
    }
    if (!c->in_bundle) {
        if (split_relative(ref, type, id))
            defer_reference(c, ref, type, id);
        else
            report(c, FG_REFCHECK_ERROR, path,
                   "reference '%s' is not Type/id: bulk data references must be relative", ref);
        return;
    }
    if (table_find(&rc->fullurls, hash_str(ref, strlen(ref))))
        return;
    if (strncmp(ref, "urn:", 4) == 0) {
        report(c, FG_REFCHECK_ERROR, path, "reference '%s' matches no entry's fullUrl", ref);
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
        report(c, FG_REFCHECK_ERROR, path, "reference '%s' is neither a fullUrl nor Type/id", ref);
        return;
    }
    if (!table_find(&rc->typeids, hash_pair(type, '/', id)))
        report(c, FG_REFCHECK_ERROR, path, "reference '%s' resolves to no entry of this Bundle",
               ref);
}

static void walk(ctx *c, const json_t *v, int depth)
{
    if (depth > FG_MAX_JSON_DEPTH) {
        report(c, FG_REFCHECK_ERROR, c->path.data, "nested deeper than %d levels (not walked)",
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

static int is_shared_type(const char *type)
{
    return strcmp(type, "Organization") == 0 || strcmp(type, "Practitioner") == 0 ||
           strcmp(type, "Location") == 0;
}

static void check_meta(ctx *c, const json_t *res)
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
        report(c, FG_REFCHECK_ERROR, p,
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
        report(c, FG_REFCHECK_ERROR, p, "no profile claimed in meta.profile");
    }
}

/* The id is unique per type across the cohort; a shared resource may come
 * back, byte for byte the same. */
static void check_id(ctx *c, const json_t *res, const char *type, const char *id)
{
    fg_refcheck *rc = c->rc;
    char p[FG_ERROR_WHERE_MAX + 32], first[FG_ERROR_WHERE_MAX];
    uint64_t content = 0;
    if (is_shared_type(type)) {
        char *dump = json_dumps(res, JSON_COMPACT);
        if (!dump) {
            rc->nomem = 1;
            return;
        }
        content = hash_str(dump, strlen(dump));
        free(dump);
    }
    int fresh;
    slot *s = table_put(&rc->ids, hash_pair(type, '/', id), &fresh);
    if (!s) {
        rc->nomem = 1;
        return;
    }
    if (fresh) {
        s->val = content;
        s->file = c->file;
        s->pos = c->pos;
        return;
    }
    snprintf(p, sizeof(p), "%s.id", c->path.data);
    place(rc, s->file, s->pos, first, sizeof(first));
    if (!is_shared_type(type))
        report(c, FG_REFCHECK_ERROR, p, "%s/%s is already used by %s: ids must be unique per type",
               type, id, first);
    else if (s->val != content)
        report(c, FG_REFCHECK_ERROR, p,
               "shared %s/%s differs from its copy in %s: shared resources must be byte-identical",
               type, id, first);
}

static void check_identifier(ctx *c, const json_t *ident, const char *p, uint64_t owner)
{
    fg_refcheck *rc = c->rc;
    char first[FG_ERROR_WHERE_MAX];
    const char *sys = json_string_value(json_object_get(ident, "system"));
    const char *val = json_string_value(json_object_get(ident, "value"));
    if (!val)
        return;
    rc->sum.identifiers++;
    int fresh;
    slot *s = table_put(&rc->idents, hash_pair(sys ? sys : "", '|', val), &fresh);
    if (!s) {
        rc->nomem = 1;
        return;
    }
    if (fresh) {
        s->val = owner;
        s->file = c->file;
        s->pos = c->pos;
    } else if (s->val != owner) {
        place(rc, s->file, s->pos, first, sizeof(first));
        report(c, FG_REFCHECK_ERROR, p,
               "identifier %s|%s is already on another resource (%s): identifiers must be unique",
               sys ? sys : "", val, first);
    }
}

static void check_identifiers(ctx *c, const json_t *res, uint64_t owner)
{
    char p[FG_ERROR_WHERE_MAX + 32];
    const json_t *ids = json_object_get(res, "identifier");
    if (json_is_object(ids)) {
        snprintf(p, sizeof(p), "%s.identifier", c->path.data);
        check_identifier(c, ids, p, owner);
        return;
    }
    size_t i;
    const json_t *ident;
    json_array_foreach(ids, i, ident) {
        snprintf(p, sizeof(p), "%s.identifier[%zu]", c->path.data, i);
        check_identifier(c, ident, p, owner);
    }
}

/* Everything a resource must satisfy wherever it travels; c->path holds
 * its path (e.g. Bundle.entry[3].resource). Returns 0 when it has no
 * usable resourceType/id (reported). */
static int check_resource(ctx *c, const json_t *res, const char **type_out, const char **id_out)
{
    fg_refcheck *rc = c->rc;
    char p[FG_ERROR_WHERE_MAX + 32];
    const char *type = json_string_value(json_object_get(res, "resourceType"));
    const char *id = json_string_value(json_object_get(res, "id"));
    rc->sum.resources++;
    if (!type || !is_type_name(type, strlen(type))) {
        snprintf(p, sizeof(p), "%s.resourceType", c->path.data);
        report(c, FG_REFCHECK_ERROR, p, "no valid resourceType");
        return 0;
    }
    check_meta(c, res);
    if (!id || !is_id(id, strlen(id))) {
        snprintf(p, sizeof(p), "%s.id", c->path.data);
        report(c, FG_REFCHECK_ERROR, p,
               id ? "id '%s' is not a FHIR id ([A-Za-z0-9-.]{1,64})"
                  : "no id%s: the cohort's ids cannot be checked",
               id ? id : "");
        return 0;
    }
    check_id(c, res, type, id);
    check_identifiers(c, res, hash_pair(type, '/', id));
    *type_out = type;
    *id_out = id;
    return 1;
}

/* ---- bundles and lines -------------------------------------------------- */

static void set_path(ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_path(ctx *c, const char *fmt, ...)
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
static void check_request(ctx *c, const json_t *entry, size_t i, const json_t *res,
                          const char *type, const char *id)
{
    char p[FG_ERROR_WHERE_MAX];
    const json_t *req = json_object_get(entry, "request");
    snprintf(p, sizeof(p), "Bundle.entry[%zu].request", i);
    if (!json_is_object(req)) {
        report(c, FG_REFCHECK_ERROR, p, "a transaction entry needs a request (method and url)");
        return;
    }
    const char *method = json_string_value(json_object_get(req, "method"));
    const char *url = json_string_value(json_object_get(req, "url"));
    if (!method || !url || !*url) {
        report(c, FG_REFCHECK_ERROR, p, "request needs both method and url");
        return;
    }
    snprintf(p, sizeof(p), "Bundle.entry[%zu].request.url", i);
    if (strcmp(method, "PUT") == 0 && type && id) {
        char want[160];
        snprintf(want, sizeof(want), "%s/%s", type, id);
        if (strcmp(url, want) != 0)
            report(c, FG_REFCHECK_ERROR, p, "PUT url '%s' is not %s, the resource's Type/id", url,
                   want);
    } else if (strcmp(method, "POST") == 0 && type) {
        if (strcmp(url, type) != 0)
            report(c, FG_REFCHECK_ERROR, p, "POST url '%s' is not the resource type %s", url,
                   type);
    } else if (strcmp(method, "GET") && strcmp(method, "HEAD") && strcmp(method, "DELETE") &&
               strcmp(method, "PATCH") && strcmp(method, "PUT") && strcmp(method, "POST")) {
        snprintf(p, sizeof(p), "Bundle.entry[%zu].request.method", i);
        report(c, FG_REFCHECK_ERROR, p, "unknown method '%s'", method);
    }
    if (!res && (strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0)) {
        snprintf(p, sizeof(p), "Bundle.entry[%zu].resource", i);
        report(c, FG_REFCHECK_ERROR, p, "%s without a resource", method);
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
            report(c, FG_REFCHECK_ERROR, p, "ifNoneExist '%s' names none of the identifiers", ine);
    } else if (!ine && type && is_shared_type(type) && strcmp(method, "POST") == 0) {
        report(c, FG_REFCHECK_WARNING, p,
               "shared %s is created without ifNoneExist: reloading makes duplicates", type);
    }
}

static int check_bundle(fg_refcheck *rc, const json_t *b, uint32_t file)
{
    ctx c = {.rc = rc, .file = file, .in_bundle = 1};
    fg_buf_init(&c.path);
    char p[FG_ERROR_WHERE_MAX];
    rc->sum.bundles++;
    const char *btype = json_string_value(json_object_get(b, "type"));
    int tx = btype && (strcmp(btype, "transaction") == 0 || strcmp(btype, "batch") == 0);
    if (!btype)
        report(&c, FG_REFCHECK_ERROR, "Bundle.type", "no Bundle.type");
    const json_t *entries = json_object_get(b, "entry");
    table_clear(&rc->fullurls);
    table_clear(&rc->typeids);
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
                report(&c, FG_REFCHECK_ERROR, p, "entry has no fullUrl");
        } else {
            slot *s = table_put(&rc->fullurls, hash_str(fu, strlen(fu)), &fresh);
            if (!s)
                goto nomem;
            if (!fresh)
                report(&c, FG_REFCHECK_ERROR, p, "fullUrl '%s' is already used by entry[%u]", fu,
                       s->pos);
            else
                s->pos = (uint32_t)i;
            if (strncmp(fu, "urn:uuid:", 9) == 0 && id && strcmp(fu + 9, id) != 0)
                report(&c, FG_REFCHECK_WARNING, p, "fullUrl '%s' does not carry the id '%s'", fu,
                       id);
        }
        if (type && id) {
            slot *s = table_put(&rc->typeids, hash_pair(type, '/', id), &fresh);
            if (!s)
                goto nomem;
            snprintf(p, sizeof(p), "Bundle.entry[%zu].resource.id", i);
            if (!fresh)
                report(&c, FG_REFCHECK_ERROR, p, "%s/%s is already entry[%u] of this Bundle", type,
                       id, s->pos);
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
    ctx c = {.rc = rc, .file = file, .pos = (uint32_t)line, .line = line, .res = res};
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
        ctx c = {.rc = rc, .file = f, .line = line};
        report(&c, FG_REFCHECK_ERROR, "", "not a JSON object, so not a FHIR resource");
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
        ctx c = {.rc = rc, .file = file_index(rc, file, 0)};
        report(&c, FG_REFCHECK_ERROR, "Bundle.resourceType", "not a Bundle");
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
        ctx c = {.rc = rc, .file = file_index(rc, file, ndjson), .line = line};
        report(&c, FG_REFCHECK_ERROR, "", "not JSON: %s (line %d, column %d)", je.text,
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
        pending *p = &rc->pend[i];
        if (p->reported)
            continue;
        char type[72], id[72];
        if (!split_relative(p->ref, type, id) || table_find(&rc->ids, hash_pair(type, '/', id)))
            continue;
        ctx c = {.rc = rc, .file = p->file, .line = p->line};
        if (p->count > 1)
            report(&c, FG_REFCHECK_ERROR, p->path,
                   "reference '%s' names no resource of the cohort (and %zu more references to it)",
                   p->ref, p->count - 1);
        else
            report(&c, FG_REFCHECK_ERROR, p->path, "reference '%s' names no resource of the cohort",
                   p->ref);
        p->reported = 1;
    }
    if (rc->nomem)
        return fg_error_set(err, FG_ENOMEM, "refcheck", "out of memory");
    if (summary)
        *summary = rc->sum;
    return FG_OK;
}
