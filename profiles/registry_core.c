/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry_core.c: fhirgen's compact R4 core (data/r4core/), written by
 * profiles/gen_r4core.py from the official hl7.fhir.r4.core#4.0.1 package.
 *
 * Three files: constraints.json (every distinct invariant once),
 * structures.json (StructureDefinitions whose elements name their
 * constraints by index into that table) and terminology.json (the value
 * sets and code systems the core's required and extensible bindings need).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "profiles/registry_private.h"

#define CORE_MAX_BYTES (64u << 20)

static int load_list(const char *dir, const char *file, const char *key, fgr_reader *rd,
                     const fg_jv **list, fg_error *err)
{
    char path[4096];
    const fg_jv *doc = NULL;
    if ((size_t)snprintf(path, sizeof path, "%s/r4core/%s", dir, file) >= sizeof path)
        return fg_error_set(err, FG_ELIMIT, dir, "data folder path too long");
    int rc = fgr_load_json(rd, path, CORE_MAX_BYTES, &doc, err);
    if (rc == FG_ENOTFOUND)
        return fg_error_set(err, FG_ENOTFOUND, path,
                            "the compact R4 core is missing: reinstall fhirgen, set "
                            "setting `data_dir` to its data folder, or regenerate it with "
                            "profiles/gen_r4core.py");
    if (rc != FG_OK)
        return rc;
    *list = fg_jv_get(doc, key);
    if (!fg_jv_is_array(*list))
        return fg_error_set(err, FG_EINVALID, path,
                            "no \"%s\" list: regenerate it with profiles/gen_r4core.py", key);
    return FG_OK;
}

/* terminology.json is parsed on a second thread, into an arena of its
 * own, while the structures are parsed on the first: parsing is most of
 * the load. */
typedef struct term_job {
    const char *dir;
    fgr_reader rd;
    const fg_jv *list;
    int rc;
    fg_error err;
} term_job;

static void *load_terminology(void *arg)
{
    term_job *job = arg;
    job->rc = load_list(job->dir, "terminology.json", "resources", &job->rd, &job->list,
                        &job->err);
    return NULL;
}

/* Add every resource of `list`. */
static int add_all(fg_registry *reg, const fg_jv *list, const char *origin, fg_error *err)
{
    size_t i;
    const fg_jv *res;
    fg_jv_array_foreach(list, i, res) {
        int rc = fg_registry_add_jv(reg, res, origin, err);
        if (rc != FG_OK)
            return rc;
    }
    return FG_OK;
}

int fg_registry_load_core(fg_registry *reg, const char *datadir, fg_error *err)
{
    const fg_jv *list = NULL;
    const char *saved = reg->package;
    term_job job = {.dir = datadir};
    fgr_reader rd = {0};
    pthread_t tid;
    int threaded = 0;
    int rc;
    if (reg->core_constraints)
        return FG_OK; /* already loaded */
    if (!(rd.arena = fgr_new_arena(reg)) || !(job.rd.arena = fgr_new_arena(reg)))
        return fg_error_set(err, FG_ENOMEM, "registry", "out of memory");
    threaded = pthread_create(&tid, NULL, load_terminology, &job) == 0;
    if ((rc = load_list(datadir, "constraints.json", "constraints", &rd, &list, err)) != FG_OK)
        goto cleanup;
    reg->core_constraints = list;
    if ((rc = load_list(datadir, "structures.json", "structures", &rd, &list, err)) != FG_OK)
        goto cleanup;
    reg->package = FGR_CORE_PACKAGE;
    if ((rc = add_all(reg, list, "data/r4core/structures.json", err)) != FG_OK)
        goto cleanup;
    if (threaded) {
        pthread_join(tid, NULL);
        threaded = 0;
    } else {
        load_terminology(&job);
    }
    if ((rc = job.rc) != FG_OK) {
        if (err)
            *err = job.err;
        goto cleanup;
    }
    if ((rc = add_all(reg, job.list, "data/r4core/terminology.json", err)) != FG_OK)
        goto cleanup;
    if (fgr_map_put(&reg->packages, "hl7.fhir.r4.core", (void *)1) != FG_OK)
        rc = fg_error_set(err, FG_ENOMEM, "registry", "out of memory");
cleanup:
    if (threaded)
        pthread_join(tid, NULL);
    fgr_reader_free(&rd);
    fgr_reader_free(&job.rd);
    reg->package = saved;
    return rc;
}
