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
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fhir/fg_limits.h"
#include "registry_private.h"

static int wanted_type(const char *rt)
{
    return rt && (strcmp(rt, "StructureDefinition") == 0 || strcmp(rt, "ValueSet") == 0 ||
                  strcmp(rt, "CodeSystem") == 0);
}

static int push_entry(fg_registry *reg, const char *package, const json_t *src,
                      const char *filename)
{
    fgr_index_entry *e = fg_arena_calloc(&reg->arena, sizeof *e);
    if (!e)
        return FG_ENOMEM;
    e->package = package;
    e->filename = fg_arena_strdup(&reg->arena, filename);
    /* The strings of src live in the registry's resource list (built
     * index) or are copied (read index, freed after loading). */
    const char *fields[] = {"resourceType", "url", "version", "type", "kind", "derivation"};
    const char **dst[] = {&e->resource_type, &e->url,  &e->version,
                          &e->type,          &e->kind, &e->derivation};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        const char *s = fgr_str(src, fields[i]);
        *dst[i] = s ? fg_arena_strdup(&reg->arena, s) : NULL;
        if (s && !*dst[i])
            return FG_ENOMEM;
    }
    if (!e->filename || fgr_vec_push(&reg->pkg_index, e) != FG_OK)
        return FG_ENOMEM;
    return FG_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Read and add one resource file. */
static int add_file(fg_registry *reg, const char *pkgdir, const char *name, const char *package,
                    int indexing, fg_error *err)
{
    char path[4096];
    json_t *res = NULL;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", pkgdir, name) >= sizeof path)
        return fg_error_set(err, FG_ELIMIT, pkgdir, "file path too long");
    int rc = fgr_load_json(path, FG_MAX_PACKAGE_FILE_BYTES, &res, err);
    if (rc != FG_OK)
        return rc;
    if (!json_is_object(res)) {
        json_decref(res);
        return fg_error_set(err, FG_EINVALID, path,
                            "not a FHIR resource (no JSON object): fix or remove the file");
    }
    const char *rt = fgr_str(res, "resourceType");
    if (indexing && rt && push_entry(reg, package, res, name) != FG_OK) {
        json_decref(res);
        return fg_error_set(err, FG_ENOMEM, path, "out of memory");
    }
    if (wanted_type(rt))
        rc = fg_registry_add(reg, res, path, err);
    json_decref(res);
    return rc;
}

/* Without .index.json: every *.json of the folder, sorted by name. */
static int load_unindexed(fg_registry *reg, const char *pkgdir, const char *package,
                          fg_error *err)
{
    DIR *d = opendir(pkgdir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = FG_OK;
    if (!d)
        return fg_error_set(err, FG_EIO, pkgdir, "cannot list the package folder");
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".json") != 0 ||
            strcmp(de->d_name, "package.json") == 0)
            continue;
        if (n == FG_MAX_PACKAGE_FILES) {
            rc = fg_error_set(err, FG_ELIMIT, pkgdir, "more than %d files in one package",
                              FG_MAX_PACKAGE_FILES);
            goto cleanup;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            char **nn = realloc(names, cap * sizeof *names);
            if (!nn) {
                rc = fg_error_set(err, FG_ENOMEM, pkgdir, "out of memory");
                goto cleanup;
            }
            names = nn;
        }
        names[n] = strdup(de->d_name);
        if (!names[n]) {
            rc = fg_error_set(err, FG_ENOMEM, pkgdir, "out of memory");
            goto cleanup;
        }
        n++;
    }
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n && rc == FG_OK; i++)
        rc = add_file(reg, pkgdir, names[i], package, 1, err);
cleanup:
    closedir(d);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

int fgr_package_load_files(fg_registry *reg, const char *pkgdir, const char *package,
                           fg_error *err)
{
    char path[4096];
    json_t *index = NULL;
    if ((size_t)snprintf(path, sizeof path, "%s/.index.json", pkgdir) >= sizeof path)
        return fg_error_set(err, FG_ELIMIT, pkgdir, "folder path too long");
    int rc = fgr_load_json(path, FG_MAX_PACKAGE_FILE_BYTES, &index, err);
    if (rc == FG_ENOTFOUND) {
        fg_error_clear(err);
        return load_unindexed(reg, pkgdir, package, err);
    }
    if (rc != FG_OK)
        return rc;
    const json_t *files = json_object_get(index, "files");
    if (!json_is_array(files)) {
        json_decref(index);
        return fg_error_set(err, FG_EINVALID, path,
                            "no \"files\" list: delete it and fhirgen will index the folder");
    }
    size_t i;
    const json_t *f;
    json_array_foreach(files, i, f) {
        const char *name = fgr_str(f, "filename");
        if (!name || strchr(name, '/') || name[0] == '.') {
            rc = fg_error_set(err, FG_EINVALID, path,
                              "files[%zu].filename is missing or not a plain file name", i);
            break;
        }
        if ((rc = push_entry(reg, package, f, name)) != FG_OK) {
            rc = fg_error_set(err, FG_ENOMEM, path, "out of memory");
            break;
        }
        if (!wanted_type(fgr_str(f, "resourceType")))
            continue;
        if ((rc = add_file(reg, pkgdir, name, package, 0, err)) != FG_OK)
            break;
    }
    json_decref(index);
    return rc;
}
