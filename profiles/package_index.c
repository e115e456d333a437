/* SPDX-License-Identifier: Apache-2.0 */
/*
 * package_index.c: which files of a package folder hold which conformance
 * resources.
 *
 * The package-cache convention puts a .index.json next to the resources
 * (files[]: filename, resourceType, id, url, version, type, kind,
 * derivation). When it is missing, fhirgen builds the same index in memory
 * by reading each *.json of the folder; the cache is never written. Only
 * StructureDefinition, ValueSet and CodeSystem files are then added to the
 * registry; with an index, other files are not even opened.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fhir/base/fg_files.h"
#include "profiles/fg_registry.h"
#include "profiles/registry_private.h"

/* Package files are trimmed (fgr_json_trim) before parsing: with fg_jr
 * too, it halves the time US Core takes to load, and 5 MB less stays in
 * the arenas. */
#define FGR_TRIM_PACKAGE_FILES 1

static int wanted_type(const char *rt)
{
    return rt && (strcmp(rt, "StructureDefinition") == 0 || strcmp(rt, "ValueSet") == 0 ||
                  strcmp(rt, "CodeSystem") == 0);
}

static int push_entry(fg_registry *reg, const char *package, const fg_jv *src,
                      const char *filename)
{
    fgr_index_entry *e = fg_arena_calloc(&reg->arena, sizeof *e);
    if (!e)
        return FG_ENOMEM;
    e->package = package;
    e->filename = fg_arena_strdup(&reg->arena, filename);
    /* The strings of src live as long as the registry: src is a parsed
     * resource (built index) or a row of .index.json, both kept. */
    e->resource_type = fgr_str(src, "resourceType");
    e->url = fgr_str(src, "url");
    e->version = fgr_str(src, "version");
    e->type = fgr_str(src, "type");
    e->kind = fgr_str(src, "kind");
    e->derivation = fgr_str(src, "derivation");
    if (!e->filename || fgr_vec_push(&reg->pkg_index, e) != FG_OK)
        return FG_ENOMEM;
    return FG_OK;
}

/* ---- trimming what the registry never reads ---- */

/* Members left out before parsing. At the top of a resource: the
 * narrative, the differential and the mappings of a StructureDefinition
 * (a third of US Core's bytes). Deeper: the prose of element definitions
 * and concept definitions. Parsing is most of what loading a package
 * costs, and the parser's work grows with the bytes. */
static const char *const trim_top[] = {"text", "differential", "mapping"};
static const char *const trim_deep[] = {"definition", "comment", "requirements", "mapping",
                                        "alias", "isModifierReason", "example"};

static int key_in(const char *k, size_t n, const char *const *set, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (set[i][0] == k[0] && strlen(set[i]) == n && memcmp(set[i], k, n) == 0)
            return 1;
    return 0;
}

/* The end of the string starting at in[i] == '"', or 0. A quote ends it
 * unless an odd number of backslashes comes right before it. */
static size_t string_end(const char *in, size_t len, size_t i)
{
    for (i++; i < len;) {
        const char *q = memchr(in + i, '"', len - i);
        if (!q)
            return 0;
        size_t at = (size_t)(q - in), bs = 0;
        while (at - bs > i && in[at - bs - 1] == '\\')
            bs++;
        if (bs % 2 == 0)
            return at + 1;
        i = at + 1;
    }
    return 0;
}

static size_t skip_ws(const char *in, size_t len, size_t i)
{
    while (i < len && (in[i] == ' ' || in[i] == '\n' || in[i] == '\r' || in[i] == '\t'))
        i++;
    return i;
}

/* The end of the value starting at in[i], or 0. */
static size_t value_end(const char *in, size_t len, size_t i)
{
    if (i >= len)
        return 0;
    if (in[i] == '"')
        return string_end(in, len, i);
    if (in[i] != '{' && in[i] != '[') {
        while (i < len && !strchr(",}] \n\r\t", in[i]))
            i++;
        return i;
    }
    size_t depth = 0;
    while (i < len) {
        char c = in[i];
        if (c == '"') {
            i = string_end(in, len, i);
            if (!i)
                return 0;
            continue;
        }
        if (c == '{' || c == '[')
            depth++;
        else if ((c == '}' || c == ']') && --depth == 0)
            return i + 1;
        i++;
    }
    return 0;
}

size_t fgr_json_trim_to(char *out, const char *in, size_t len)
{
    size_t o = 0, i = 0, depth = 0;
    while (i < len) {
        char c = in[i];
        if (c == '"') {
            size_t j = string_end(in, len, i);
            if (!j)
                return (size_t)-1;
            size_t k = skip_ws(in, len, j);
            size_t n = j - i - 2;
            if (k < len && in[k] == ':' &&
                ((depth == 1 && key_in(in + i + 1, n, trim_top, 3)) ||
                 (depth >= 2 && key_in(in + i + 1, n, trim_deep, 7)))) {
                size_t end = value_end(in, len, skip_ws(in, len, k + 1));
                if (!end)
                    return (size_t)-1;
                end = skip_ws(in, len, end);
                if (end < len && in[end] == ',') {
                    i = end + 1; /* the member and its comma */
                } else {
                    /* the last member: drop the comma before it */
                    while (o > 0 && strchr(" \n\r\t", out[o - 1]))
                        o--;
                    if (o > 0 && out[o - 1] == ',')
                        o--;
                    i = end;
                }
                continue;
            }
            if (out + o != in + i)
                memmove(out + o, in + i, j - i); /* in place, out is behind */
            o += j - i;
            i = j;
            continue;
        }
        if (c == '{' || c == '[')
            depth++;
        else if ((c == '}' || c == ']') && depth > 0)
            depth--;
        out[o++] = c;
        i++;
    }
    return o;
}

char *fgr_json_trim(const char *in, size_t len, size_t *out_len)
{
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    size_t n = fgr_json_trim_to(out, in, len);
    if (n == (size_t)-1) {
        free(out);
        return NULL;
    }
    out[n] = 0;
    *out_len = n;
    return out;
}

/* ---- parsing the files of a package on several threads ---- */

typedef struct parse_set {
    const char *dir;
    char **names;       /* file names, owned */
    size_t n, cap;
    const fg_jv **res;  /* parsed resources, [n], in the registry's arenas */
    int *rcs;           /* FG_OK or the failure of each file */
    fg_error *errs;     /* where a file failed */
    atomic_size_t next;
} parse_set;

/* One parsing thread: the set, and the reader (arena, buffer) it alone
 * uses. */
typedef struct parse_job {
    parse_set *ps;
    fgr_reader rd;
} parse_job;

static void parse_set_free(parse_set *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        free(ps->names[i]);
    free(ps->names);
    free(ps->res);
    free(ps->rcs);
    free(ps->errs);
}

static int parse_set_push(parse_set *ps, const char *name)
{
    if (ps->n == FG_MAX_PACKAGE_FILES)
        return FG_ELIMIT;
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 64;
        char **nn = realloc(ps->names, cap * sizeof *nn);
        if (!nn)
            return FG_ENOMEM;
        ps->names = nn;
        ps->cap = cap;
    }
    if (!(ps->names[ps->n] = strdup(name)))
        return FG_ENOMEM;
    ps->n++;
    return FG_OK;
}

static void *parse_worker(void *arg)
{
    parse_job *job = arg;
    parse_set *ps = job->ps;
    char path[4096];
    for (;;) {
        size_t i = atomic_fetch_add(&ps->next, 1);
        if (i >= ps->n)
            break;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", ps->dir, ps->names[i]) >= sizeof path) {
            ps->rcs[i] = fg_error_set(&ps->errs[i], FG_ELIMIT, ps->dir, "file path too long");
            continue;
        }
        ps->rcs[i] = fgr_load_json(&job->rd, path, FG_MAX_PACKAGE_FILE_BYTES, &ps->res[i],
                                   &ps->errs[i]);
        if (ps->rcs[i] == FG_OK && !fg_jv_is_object(ps->res[i]))
            ps->rcs[i] = fg_error_set(&ps->errs[i], FG_EINVALID, path,
                                      "not a FHIR resource (no JSON object): fix or remove the "
                                      "file");
    }
    return NULL;
}

/* Parse every file of ps, on up to FG_MAX_PACKAGE_LOAD_THREADS threads
 * (parsing is most of the time a package takes to load), each into an
 * arena of the registry's own. Failures stay per file, so the caller
 * reports the first one in name order whatever the thread count. */
static int parse_all(fg_registry *reg, parse_set *ps)
{
    if (!ps->n)
        return FG_OK;
    ps->res = calloc(ps->n, sizeof *ps->res);
    ps->rcs = calloc(ps->n, sizeof *ps->rcs);
    ps->errs = calloc(ps->n, sizeof *ps->errs);
    if (!ps->res || !ps->rcs || !ps->errs)
        return FG_ENOMEM;
    atomic_init(&ps->next, 0);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t want = cpus > 1 ? (size_t)cpus : 1;
    if (want > FG_MAX_PACKAGE_LOAD_THREADS)
        want = FG_MAX_PACKAGE_LOAD_THREADS;
    if (want > ps->n / 4 + 1)
        want = ps->n / 4 + 1; /* a few files are not worth a thread */
    parse_job jobs[FG_MAX_PACKAGE_LOAD_THREADS];
    pthread_t tids[FG_MAX_PACKAGE_LOAD_THREADS];
    for (size_t t = 0; t < want; t++) {
        jobs[t] = (parse_job){.ps = ps, .rd = {.arena = fgr_new_arena(reg),
                                               .trim = FGR_TRIM_PACKAGE_FILES}};
        if (!jobs[t].rd.arena) {
            for (size_t k = 0; k < t; k++)
                fgr_reader_free(&jobs[k].rd);
            return FG_ENOMEM;
        }
    }
    size_t started = 0;
    for (size_t t = 1; t < want; t++) {
        if (pthread_create(&tids[started], NULL, parse_worker, &jobs[t]) != 0)
            break; /* fewer threads is fine */
        started++;
    }
    parse_worker(&jobs[0]);
    for (size_t t = 0; t < started; t++)
        pthread_join(tids[t], NULL);
    for (size_t t = 0; t < want; t++)
        fgr_reader_free(&jobs[t].rd);
    return FG_OK;
}

/* Add the parsed files in name order; the first failure ends it. */
static int add_parsed(fg_registry *reg, parse_set *ps, const char *package, int indexing,
                      fg_error *err)
{
    char path[4096];
    for (size_t i = 0; i < ps->n; i++) {
        if (ps->rcs[i] != FG_OK) {
            if (err)
                *err = ps->errs[i];
            return ps->rcs[i];
        }
        const fg_jv *res = ps->res[i];
        snprintf(path, sizeof path, "%s/%s", ps->dir, ps->names[i]);
        const char *rt = fgr_str(res, "resourceType");
        if (indexing && rt && push_entry(reg, package, res, ps->names[i]) != FG_OK)
            return fg_error_set(err, FG_ENOMEM, path, "out of memory");
        if (wanted_type(rt)) {
            int rc = fg_registry_add_jv(reg, res, path, err);
            if (rc != FG_OK)
                return rc;
        }
    }
    return FG_OK;
}

/* fg_walk's callback of load_unindexed: every *.json but package.json. */
static int push_unindexed(void *ud, const char *path, const char *name)
{
    (void)path;
    if (strcmp(name, "package.json") == 0)
        return FG_OK;
    return parse_set_push(ud, name);
}

/* Without .index.json: every *.json of the folder, sorted by name. */
static int load_unindexed(fg_registry *reg, const char *pkgdir, const char *package,
                          fg_error *err)
{
    parse_set ps = {.dir = pkgdir};
    static const char *const suffixes[] = {".json", NULL};
    fg_walk_options wo = {.suffixes = suffixes};
    fg_error werr;
    int rc = fg_walk(pkgdir, &wo, push_unindexed, &ps, &werr);
    if (rc == FG_ELIMIT)
        rc = fg_error_set(err, FG_ELIMIT, pkgdir, "more than %d files in one package",
                          FG_MAX_PACKAGE_FILES);
    else if (rc == FG_ENOMEM)
        rc = fg_error_set(err, FG_ENOMEM, pkgdir, "out of memory");
    else if (rc != FG_OK)
        rc = fg_error_set(err, FG_EIO, pkgdir, "cannot list the package folder");
    if (rc != FG_OK)
        goto cleanup;
    if (parse_all(reg, &ps) != FG_OK) {
        rc = fg_error_set(err, FG_ENOMEM, pkgdir, "out of memory");
        goto cleanup;
    }
    rc = add_parsed(reg, &ps, package, 1, err);
cleanup:
    parse_set_free(&ps);
    return rc;
}

int fgr_package_load_files(fg_registry *reg, const char *pkgdir, const char *package,
                           fg_error *err)
{
    char path[4096];
    const fg_jv *index = NULL;
    if ((size_t)snprintf(path, sizeof path, "%s/.index.json", pkgdir) >= sizeof path)
        return fg_error_set(err, FG_ELIMIT, pkgdir, "folder path too long");
    /* Into the registry's arena: its rows are the package index. */
    fgr_reader rd = {.arena = &reg->arena};
    int rc = fgr_load_json(&rd, path, FG_MAX_PACKAGE_FILE_BYTES, &index, err);
    fgr_reader_free(&rd);
    if (rc == FG_ENOTFOUND) {
        fg_error_clear(err);
        return load_unindexed(reg, pkgdir, package, err);
    }
    if (rc != FG_OK)
        return rc;
    const fg_jv *files = fg_jv_get(index, "files");
    parse_set ps = {.dir = pkgdir};
    if (!fg_jv_is_array(files))
        return fg_error_set(err, FG_EINVALID, path,
                            "no \"files\" list: delete it and fhirgen will index the folder");
    size_t i;
    const fg_jv *f;
    fg_jv_array_foreach(files, i, f) {
        const char *name = fgr_str(f, "filename");
        if (!name || strchr(name, '/') || name[0] == '.') {
            rc = fg_error_set(err, FG_EINVALID, path,
                              "files[%zu].filename is missing or not a plain file name", i);
            goto cleanup;
        }
        if (push_entry(reg, package, f, name) != FG_OK) {
            rc = fg_error_set(err, FG_ENOMEM, path, "out of memory");
            goto cleanup;
        }
        if (!wanted_type(fgr_str(f, "resourceType")))
            continue;
        if ((rc = parse_set_push(&ps, name)) != FG_OK) {
            rc = fg_error_set(err, rc, path, "%s",
                              rc == FG_ELIMIT ? "more files than the limit of one package"
                                              : "out of memory");
            goto cleanup;
        }
    }
    if (parse_all(reg, &ps) != FG_OK) {
        rc = fg_error_set(err, FG_ENOMEM, pkgdir, "out of memory");
        goto cleanup;
    }
    rc = add_parsed(reg, &ps, package, 0, err);
cleanup:
    parse_set_free(&ps);
    return rc;
}
