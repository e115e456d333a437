/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry.c: the registry itself: reading resource files, adding
 * resources, finishing, lookups, notes, and the small hash map and vector
 * the other files share.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fhir/base/fg_data.h"
#include "profiles/fg_registry.h"
#include "profiles/registry_private.h"

int fgr_vec_push(fgr_vec *v, void *item)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        void **items = realloc(v->items, cap * sizeof *items);
        if (!items)
            return FG_ENOMEM;
        v->items = items;
        v->cap = cap;
    }
    v->items[v->n++] = item;
    return FG_OK;
}

void fgr_vec_free(fgr_vec *v)
{
    free(v->items);
    memset(v, 0, sizeof *v);
}

/* ---- helpers ---- */

int fgr_note(fg_registry *reg, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (fgr_map_get(&reg->noted, buf) || reg->notes.n >= FG_MAX_REGISTRY_NOTES)
        return FG_OK;
    char *s = fg_arena_strdup(&reg->arena, buf);
    if (!s || fgr_vec_push(&reg->notes, s) != FG_OK || fgr_map_put(&reg->noted, s, s) != FG_OK)
        return FG_ENOMEM;
    return FG_OK;
}

/* Open `path`, a regular file of at most `max` bytes: its descriptor
 * into *fd and its size into *size. */
static int open_file(const char *path, size_t max, int *fd, size_t *size, fg_error *err)
{
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0)
        return fg_error_set(err, errno == ENOENT ? FG_ENOTFOUND : FG_EIO, path, "cannot open: %s",
                            strerror(errno));
    struct stat st;
    int rc = FG_OK;
    if (fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode))
        rc = fg_error_set(err, FG_EIO, path, "not a regular file");
    else if ((uint64_t)st.st_size > max)
        rc = fg_error_set(err, FG_ELIMIT, path, "larger than the limit of %zu bytes", max);
    if (rc != FG_OK) {
        close(*fd);
        *fd = -1;
        return rc;
    }
    *size = (size_t)st.st_size;
    return FG_OK;
}

/* Read the file at `path` (at most `max` bytes) into rd->buf,
 * NUL-terminated; its length into *len. */
static int read_file(fgr_reader *rd, const char *path, size_t max, size_t *len, fg_error *err)
{
    int fd = -1;
    size_t want = 0, got = 0;
    int rc = open_file(path, max, &fd, &want, err);
    if (rc != FG_OK)
        return rc;
    if (want + 1 > rd->cap) {
        size_t cap = rd->cap ? rd->cap : 64u << 10;
        while (cap < want + 1)
            cap *= 2;
        char *b = realloc(rd->buf, cap);
        if (!b) {
            rc = fg_error_set(err, FG_ENOMEM, path, "out of memory");
            goto cleanup;
        }
        rd->buf = b;
        rd->cap = cap;
    }
    while (got < want) {
        ssize_t n = read(fd, rd->buf + got, want - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = fg_error_set(err, FG_EIO, path, "cannot read: %s", strerror(errno));
            goto cleanup;
        }
        if (n == 0)
            break; /* shrank while read: parse what is there */
        got += (size_t)n;
    }
    rd->buf[got] = 0;
    *len = got;
cleanup:
    close(fd);
    return rc;
}

/* Parse the file at `path` as it is, mapped rather than read: the core's
 * files run to megabytes, and the parser copies them into the arena
 * anyway. */
static int parse_mapped(fgr_reader *rd, const char *path, size_t max, const fg_jv **out,
                        fg_jr_error *jerr, fg_error *err)
{
    int fd = -1;
    size_t len = 0;
    int rc = open_file(path, max, &fd, &len, err);
    if (rc != FG_OK)
        return rc;
    void *map = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    close(fd);
    if (len && map == MAP_FAILED)
        return fg_error_set(err, FG_EIO, path, "cannot map: %s", strerror(errno));
    rc = fg_jr_parse(rd->arena, len ? map : "", len, out, jerr);
    if (len)
        munmap(map, len);
    return rc;
}

/* Read the file into rd->buf, trim it there and parse it; when trimming
 * does not work out, parse the file as it is, so that the parser says
 * what is wrong with it (the buffer was trimmed in place: read it again). */
static int parse_trimmed(fgr_reader *rd, const char *path, size_t max, const fg_jv **out,
                         fg_jr_error *jerr, fg_error *err)
{
    size_t len = 0;
    int rc = read_file(rd, path, max, &len, err);
    if (rc != FG_OK)
        return rc;
    size_t tlen = fgr_json_trim_to(rd->buf, rd->buf, len);
    rc = tlen == (size_t)-1 ? FG_EINVALID : fg_jr_parse(rd->arena, rd->buf, tlen, out, jerr);
    if (rc != FG_EINVALID)
        return rc;
    if ((rc = read_file(rd, path, max, &len, err)) != FG_OK)
        return rc;
    return fg_jr_parse(rd->arena, rd->buf, len, out, jerr);
}

int fgr_load_json(fgr_reader *rd, const char *path, size_t max, const fg_jv **out,
                  fg_error *err)
{
    fg_jr_error jerr;
    const fg_jv *j = NULL;
    int rc = rd->trim ? parse_trimmed(rd, path, max, &j, &jerr, err)
                      : parse_mapped(rd, path, max, &j, &jerr, err);
    if (rc == FG_ENOMEM)
        return fg_error_set(err, FG_ENOMEM, path, "out of memory");
    if (rc == FG_EINVALID) {
        rc = fg_error_set(err, FG_EINVALID, path,
                          "not valid JSON (line %d, column %d: %s): fix or remove the file",
                          jerr.line, jerr.column, jerr.text);
        if (err)
            err->line = jerr.line;
        return rc;
    }
    if (rc != FG_OK)
        return rc; /* the file could not be read: err says why */
    *out = j;
    return FG_OK;
}

void fgr_reader_free(fgr_reader *rd)
{
    if (!rd)
        return;
    free(rd->buf);
    rd->buf = NULL;
    rd->cap = 0;
}

fg_arena *fgr_new_arena(fg_registry *reg)
{
    fg_arena *a = fg_arena_alloc(&reg->arena, sizeof *a);
    if (!a)
        return NULL;
    fg_arena_init_huge(a);
    if (fgr_vec_push(&reg->arenas, a) != FG_OK)
        return NULL;
    return a;
}

/* ---- building ---- */

int fg_registry_new(fg_registry **out, fg_error *err)
{
    fg_registry *reg = calloc(1, sizeof *reg);
    if (!reg)
        return fg_error_set(err, FG_ENOMEM, "registry", "out of memory");
    fg_arena_init_huge(&reg->arena);
    *out = reg;
    return FG_OK;
}

void fg_registry_free(fg_registry *reg)
{
    if (!reg)
        return;
    for (size_t i = 0; i < reg->fps.n; i++)
        fg_fhirpath_free(reg->fps.items[i]);
    for (size_t i = 0; i < reg->vss.n; i++) {
        fg_valueset *vs = reg->vss.items[i];
        fgr_map_free(&vs->by_system);
        fgr_map_free(&vs->by_code);
    }
    for (size_t i = 0; i < reg->css.n; i++)
        fgr_map_free(&((fgr_codesys *)reg->css.items[i])->concepts);
    for (size_t i = 0; i < reg->arenas.n; i++)
        fg_arena_free(reg->arenas.items[i]);
    fgr_vec *vecs[] = {&reg->sds,   &reg->vss,   &reg->css,   &reg->pkg_index,
                       &reg->fps,   &reg->bound, &reg->notes, &reg->arenas};
    for (size_t i = 0; i < sizeof vecs / sizeof *vecs; i++)
        fgr_vec_free(vecs[i]);
    fgr_map *maps[] = {&reg->sd_by_url, &reg->sd_by_type, &reg->vs_by_url, &reg->cs_by_url,
                       &reg->packages, &reg->fp_cache, &reg->noted};
    for (size_t i = 0; i < sizeof maps / sizeof *maps; i++)
        fgr_map_free(maps[i]);
    fg_arena_free(&reg->arena);
    free(reg);
}

static fg_structure_kind kind_of(const char *kind)
{
    if (!kind)
        return FG_KIND_COMPLEX;
    if (strcmp(kind, "primitive-type") == 0)
        return FG_KIND_PRIMITIVE;
    if (strcmp(kind, "resource") == 0)
        return FG_KIND_RESOURCE;
    if (strcmp(kind, "logical") == 0)
        return FG_KIND_LOGICAL;
    return FG_KIND_COMPLEX;
}

static int add_sd(fg_registry *reg, const fg_jv *res, const char *url, const char *origin,
                  fg_error *err)
{
    const char *type = fgr_str(res, "type");
    if (!type)
        return fg_error_set(err, FG_EINVALID, origin,
                            "StructureDefinition %s has no type: it cannot be used", url);
    const fg_jv *elems = fg_jv_get(fg_jv_get(res, "snapshot"), "element");
    int core = reg->package && strcmp(reg->package, FGR_CORE_PACKAGE) == 0;
    size_t n_elems = fg_jv_array_size(elems);
    if (n_elems == 0 && core)
        return FG_OK; /* R4's example logical models have no snapshot */
    if (n_elems == 0)
        return fgr_note(reg, "StructureDefinition %s (%s) has no snapshot: it is not used",
                        url, origin) == FG_OK ? FG_OK : FG_ENOMEM;
    if (n_elems > FG_MAX_SNAPSHOT_ELEMENTS)
        return fg_error_set(err, FG_ELIMIT, origin,
                            "StructureDefinition %s has %zu elements, more than the limit of %d",
                            url, n_elems, FG_MAX_SNAPSHOT_ELEMENTS);
    fgr_sd *sd = fg_arena_calloc(&reg->arena, sizeof *sd);
    if (!sd)
        return FG_ENOMEM;
    sd->res = res;
    sd->origin = fg_arena_strdup(&reg->arena, origin);
    sd->compact = core && reg->core_constraints;
    sd->st.url = url;
    sd->st.version = fgr_str(res, "version");
    sd->st.name = fgr_str(res, "name");
    sd->st.type = type;
    sd->st.base = fgr_str(res, "baseDefinition");
    sd->st.package = reg->package ? reg->package : "(added directly)";
    sd->st.kind = kind_of(fgr_str(res, "kind"));
    sd->st.abstract = fg_jv_is_true(fg_jv_get(res, "abstract"));
    const char *deriv = fgr_str(res, "derivation");
    sd->st.is_constraint = deriv && strcmp(deriv, "constraint") == 0;
    if (fgr_vec_push(&reg->sds, sd) != FG_OK || fgr_map_put(&reg->sd_by_url, url, sd) != FG_OK)
        return FG_ENOMEM;
    if (!sd->st.is_constraint && sd->st.kind != FG_KIND_LOGICAL &&
        !fgr_map_get(&reg->sd_by_type, type) && fgr_map_put(&reg->sd_by_type, type, sd) != FG_OK)
        return FG_ENOMEM;
    return FG_OK;
}

int fg_registry_add(fg_registry *reg, const json_t *res, const char *origin, fg_error *err)
{
    const fg_jv *jv = NULL;
    if (reg->finished)
        return fg_error_set(err, FG_EUSAGE, origin, "the registry is finished: add before finish");
    int rc = fg_jv_from_json(&reg->arena, res, &jv);
    if (rc == FG_ENOMEM)
        return fg_error_set(err, FG_ENOMEM, origin, "out of memory");
    if (rc != FG_OK)
        return fg_error_set(err, FG_EINVALID, origin, "not JSON fhirgen can read: %s",
                            fg_strerror(rc));
    return fg_registry_add_jv(reg, jv, origin, err);
}

int fg_registry_add_jv(fg_registry *reg, const fg_jv *res, const char *origin, fg_error *err)
{
    int rc = FG_OK;
    if (reg->finished)
        return fg_error_set(err, FG_EUSAGE, origin, "the registry is finished: add before finish");
    const char *rt = fgr_str(res, "resourceType");
    const char *url = fgr_str(res, "url");
    if (!rt || (strcmp(rt, "StructureDefinition") != 0 && strcmp(rt, "ValueSet") != 0 &&
                strcmp(rt, "CodeSystem") != 0))
        return FG_OK;
    if (!url)
        return fg_error_set(err, FG_EINVALID, origin, "%s without a url: it cannot be referenced",
                            rt);
    if (rt[0] == 'S') {
        if (fgr_map_get(&reg->sd_by_url, url))
            return FG_OK; /* the first definition of a canonical wins */
        rc = add_sd(reg, res, url, origin, err);
    } else if (rt[0] == 'V') {
        if (fgr_map_get(&reg->vs_by_url, url))
            return FG_OK;
        fg_valueset *vs = fg_arena_calloc(&reg->arena, sizeof *vs);
        if (!vs || fgr_vec_push(&reg->vss, vs) != FG_OK ||
            fgr_map_put(&reg->vs_by_url, url, vs) != FG_OK)
            return fg_error_set(err, FG_ENOMEM, origin, "out of memory");
        vs->url = url;
        vs->res = res;
        vs->origin = fg_arena_strdup(&reg->arena, origin);
    } else {
        if (fgr_map_get(&reg->cs_by_url, url))
            return FG_OK;
        fgr_codesys *cs = fg_arena_calloc(&reg->arena, sizeof *cs);
        if (!cs || fgr_vec_push(&reg->css, cs) != FG_OK ||
            fgr_map_put(&reg->cs_by_url, url, cs) != FG_OK)
            return fg_error_set(err, FG_ENOMEM, origin, "out of memory");
        cs->url = url;
        cs->res = res;
        cs->origin = fg_arena_strdup(&reg->arena, origin);
        const char *content = fgr_str(res, "content");
        cs->complete = content && strcmp(content, "complete") == 0;
    }
    if (rc == FG_ENOMEM)
        return fg_error_set(err, FG_ENOMEM, origin, "out of memory");
    return rc;
}

/* Compile every StructureDefinition. */
static int compile_all(fg_registry *reg, fg_error *err)
{
    int rc = FG_OK;
    fgr_compile_scratch scratch = {0};
    for (size_t i = 0; i < reg->sds.n && rc == FG_OK; i++) {
        const fgr_sd *sd = reg->sds.items[i];
        rc = fgr_compile(reg, reg->sds.items[i], &scratch, err);
        /* Name the file too: the url alone may not say where to look. */
        if (rc != FG_OK && err && sd->origin && !strstr(err->where, sd->origin)) {
            size_t n = strlen(err->text);
            snprintf(err->text + n, sizeof err->text - n, " (in %s)", sd->origin);
        }
    }
    fgr_compile_scratch_free(&scratch);
    return rc;
}

typedef struct expand_job {
    fg_registry *reg;
    int rc;
    fg_error err;
} expand_job;

static void *expand_all(void *arg)
{
    expand_job *job = arg;
    job->rc = fgr_expand_all(job->reg, &job->err);
    return NULL;
}

int fg_registry_finish(fg_registry *reg, fg_error *err)
{
    if (reg->finished)
        return FG_OK;
    expand_job job = {.reg = reg};
    pthread_t tid;
    if (!reg->vs_arena && !(reg->vs_arena = fgr_new_arena(reg)))
        return fg_error_set(err, FG_ENOMEM, "registry", "out of memory");
    fg_error_clear(&job.err);
    /* The value sets expand on a second thread while the structures
     * compile (every structure exists before any is compiled, so type
     * references find their base definitions whatever the load order).
     * Neither reads what the other writes: the expansions have an arena of
     * their own. */
    int threaded = pthread_create(&tid, NULL, expand_all, &job) == 0;
    int rc = compile_all(reg, err);
    if (threaded)
        pthread_join(tid, NULL);
    else if (rc == FG_OK)
        expand_all(&job);
    if (rc != FG_OK)
        return rc;
    if (job.rc != FG_OK) {
        if (err)
            *err = job.err;
        return job.rc;
    }
    rc = fgr_attach_bindings(reg, err);
    if (rc != FG_OK)
        return rc;
    reg->finished = 1;
    return FG_OK;
}

/* ---- reading ---- */

const fg_structure *fg_registry_structure(const fg_registry *reg, const char *url)
{
    if (!reg || !url)
        return NULL;
    const char *bar = strchr(url, '|');
    const fgr_sd *sd;
    if (!bar) {
        sd = fgr_map_get(&reg->sd_by_url, url);
    } else {
        char buf[1024];
        size_t n = (size_t)(bar - url);
        if (n >= sizeof buf)
            return NULL;
        memcpy(buf, url, n);
        buf[n] = 0;
        sd = fgr_map_get(&reg->sd_by_url, buf);
        if (sd && sd->st.version && strcmp(sd->st.version, bar + 1) != 0)
            return NULL;
    }
    return sd && sd->st.root ? &sd->st : NULL;
}

const fg_structure *fg_registry_type(const fg_registry *reg, const char *type)
{
    if (!reg || !type)
        return NULL;
    const fgr_sd *sd = fgr_map_get(&reg->sd_by_type, type);
    return sd && sd->st.root ? &sd->st : NULL;
}

const fg_valueset *fg_registry_valueset(const fg_registry *reg, const char *url)
{
    if (!reg || !url)
        return NULL;
    const char *bar = strchr(url, '|');
    if (!bar)
        return fgr_map_get(&reg->vs_by_url, url);
    char buf[1024];
    size_t n = (size_t)(bar - url);
    if (n >= sizeof buf)
        return NULL;
    memcpy(buf, url, n);
    buf[n] = 0;
    return fgr_map_get(&reg->vs_by_url, buf);
}

size_t fg_registry_note_count(const fg_registry *reg)
{
    return reg ? reg->notes.n : 0;
}

const char *fg_registry_note(const fg_registry *reg, size_t i)
{
    return reg && i < reg->notes.n ? reg->notes.items[i] : NULL;
}

void fg_registry_counts(const fg_registry *reg, size_t *structures, size_t *valuesets,
                        size_t *codesystems)
{
    if (structures)
        *structures = reg ? reg->sds.n : 0;
    if (valuesets)
        *valuesets = reg ? reg->vss.n : 0;
    if (codesystems)
        *codesystems = reg ? reg->css.n : 0;
}

size_t fg_registry_structure_count(const fg_registry *reg)
{
    return reg ? reg->sds.n : 0;
}

const fg_structure *fg_registry_structure_at(const fg_registry *reg, size_t i)
{
    if (!reg || i >= reg->sds.n)
        return NULL;
    return &((const fgr_sd *)reg->sds.items[i])->st;
}
