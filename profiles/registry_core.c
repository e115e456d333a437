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

#include "../fhir/fg_limits.h"
#include "registry_private.h"

#define CORE_MAX_BYTES (64u << 20)

static int load_list(const char *dir, const char *file, const char *key, json_t **doc,
                     json_t **list, fg_error *err)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/r4core/%s", dir, file) >= sizeof path)
        return fg_error_set(err, FG_ELIMIT, dir, "data folder path too long");
    int rc = fgr_load_json(path, CORE_MAX_BYTES, 0, doc, err);
    if (rc == FG_ENOTFOUND)
        return fg_error_set(err, FG_ENOTFOUND, path,
                            "the compact R4 core is missing: reinstall fhirgen, set "
                            "FHIRGEN_DATA_DIR to its data folder, or regenerate it with "
                            "profiles/gen_r4core.py");
    if (rc != FG_OK)
        return rc;
    *list = json_object_get(*doc, key);
    if (!json_is_array(*list)) {
        json_decref(*doc);
        *doc = NULL;
        return fg_error_set(err, FG_EINVALID, path,
                            "no \"%s\" list: regenerate it with profiles/gen_r4core.py", key);
    }
    return FG_OK;
}

/* terminology.json is parsed on a second thread while the structures
 * are parsed on the first: parsing is most of the load. */
typedef struct term_job {
    const char *dir;
    json_t *doc, *list;
    int rc;
    fg_error err;
} term_job;

static void *load_terminology(void *arg)
{
    term_job *job = arg;
    job->rc = load_list(job->dir, "terminology.json", "resources", &job->doc, &job->list,
                        &job->err);
    return NULL;
}

int fg_registry_load_core(fg_registry *reg, const char *datadir, fg_error *err)
{
    json_t *cons_doc = NULL, *sd_doc = NULL, *term_doc = NULL, *list = NULL;
    const char *saved = reg->package;
    term_job job = {.dir = datadir};
    pthread_t tid;
    int threaded = 0;
    int rc;
    if (reg->core_constraints)
        return FG_OK; /* already loaded */
    json_decref(json_object()); /* jansson seeds its hashing once, before threads */
    threaded = pthread_create(&tid, NULL, load_terminology, &job) == 0;
    if ((rc = load_list(datadir, "constraints.json", "constraints", &cons_doc, &list, err)) != FG_OK)
        goto cleanup;
    reg->core_constraints = json_incref(list);
    if ((rc = load_list(datadir, "structures.json", "structures", &sd_doc, &list, err)) != FG_OK)
        goto cleanup;
    reg->package = FGR_CORE_PACKAGE;
    size_t i;
    json_t *res;
    json_array_foreach(list, i, res) {
        if ((rc = fg_registry_add(reg, res, "data/r4core/structures.json", err)) != FG_OK)
            goto cleanup;
    }
    if (threaded) {
        pthread_join(tid, NULL);
        threaded = 0;
    } else {
        load_terminology(&job);
    }
    term_doc = job.doc;
    job.doc = NULL;
    if ((rc = job.rc) != FG_OK) {
        if (err)
            *err = job.err;
        goto cleanup;
    }
    list = job.list;
    json_array_foreach(list, i, res) {
        if ((rc = fg_registry_add(reg, res, "data/r4core/terminology.json", err)) != FG_OK)
            goto cleanup;
    }
    if (fgr_map_put(&reg->packages, "hl7.fhir.r4.core", (void *)1) != FG_OK)
        rc = fg_error_set(err, FG_ENOMEM, "registry", "out of memory");
cleanup:
    if (threaded)
        pthread_join(tid, NULL);
    json_decref(job.doc);
    reg->package = saved;
    json_decref(cons_doc);
    json_decref(sd_doc);
    json_decref(term_doc);
    return rc;
}
