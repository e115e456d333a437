/* SPDX-License-Identifier: Apache-2.0 */
/*
 * package.c: FHIR packages from the package cache and their dependencies.
 *
 * The cache holds one folder per package version, "<name>#<version>",
 * with the resources in its package/ subfolder next to package.json. A
 * bare name picks the highest version present. Dependencies named in
 * package.json load from the same cache; a missing one is a note naming
 * what it leaves unchecked. hl7.fhir.r4.core is never read from the cache:
 * the compact core (data/r4core) provides it.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fhir/base/fg_files.h"
#include "profiles/fg_registry.h"
#include "profiles/registry_private.h"

#define CORE_NAME "hl7.fhir.r4.core"

const char *fg_package_cache_dir(const char *explicit_dir, const char *home, char *buf,
                                 size_t size)
{
    if (explicit_dir && *explicit_dir)
        return explicit_dir;
    int n = snprintf(buf, size, "%s/.fhir/packages", home && *home ? home : ".");
    return n < 0 || (size_t)n >= size ? NULL : buf;
}

/* Compare dotted versions numerically ("6.10.0" > "6.9.1"); a suffix
 * ("-ballot") sorts before the plain release. */
static int version_cmp(const char *a, const char *b)
{
    while (*a || *b) {
        if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
            unsigned long x = strtoul(a, (char **)&a, 10), y = strtoul(b, (char **)&b, 10);
            if (x != y)
                return x < y ? -1 : 1;
            continue;
        }
        if (*a == *b) {
            a++;
            b++;
            continue;
        }
        if (!*a)
            return *b == '-' ? 1 : -1;
        if (!*b)
            return *a == '-' ? -1 : 1;
        return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
    }
    return 0;
}

/* The search of highest_version, run by fg_walk over the cache's folders. */
typedef struct version_search {
    const char *name;
    size_t nlen;
    char *out;
    size_t size;
    int found;
} version_search;

static int consider_version(void *ud, const char *path, const char *entry)
{
    version_search *vs = ud;
    (void)path;
    if (strncmp(entry, vs->name, vs->nlen) != 0 || entry[vs->nlen] != '#')
        return FG_OK;
    const char *v = entry + vs->nlen + 1;
    if (!*v || strlen(v) >= vs->size)
        return FG_OK;
    if (!vs->found || version_cmp(v, vs->out) > 0) {
        strcpy(vs->out, v);
        vs->found = 1;
    }
    return FG_OK;
}

/* The highest version of `name` in the cache, into out. FG_ENOTFOUND when
 * there is none, FG_ENOMEM when the cache cannot be listed for want of
 * memory. */
static int highest_version(const char *cache, const char *name, char *out, size_t size)
{
    version_search vs = {name, strlen(name), out, size, 0};
    fg_walk_options wo = {.flags = FG_WALK_FOLDERS};
    fg_error e;
    int rc = fg_walk(cache, &wo, consider_version, &vs, &e);
    if (rc == FG_ENOMEM)
        return FG_ENOMEM;
    return vs.found ? FG_OK : FG_ENOTFOUND;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int load_one(fg_registry *reg, const char *cache, const char *name, const char *version,
                    const char *needed_by, int depth, fg_error *err);

static int load_dependencies(fg_registry *reg, const char *cache, const fg_jv *pkgjson,
                             const char *self, int depth, fg_error *err)
{
    const char *dep;
    const fg_jv *ver;
    const fg_jv *deps = fg_jv_get(pkgjson, "dependencies");
    fg_jv_object_foreach(deps, dep, ver) {
        if (strcmp(dep, CORE_NAME) == 0)
            continue; /* the compact core provides it */
        const char *v = fg_jv_str(ver);
        int rc = load_one(reg, cache, dep, v, self, depth + 1, err);
        if (rc != FG_OK)
            return rc;
    }
    return FG_OK;
}

static int load_one(fg_registry *reg, const char *cache, const char *name, const char *version,
                    const char *needed_by, int depth, fg_error *err)
{
    char ver[256], dir[4096], key[512];
    fg_arena pkgarena; /* package.json, read while the package loads */
    const fg_jv *pkgjson = NULL;
    int rc = FG_OK;
    const char *saved = reg->package;
    if (depth > FG_MAX_PACKAGE_DEPTH)
        return fg_error_set(err, FG_ELIMIT, name, "package dependencies nest deeper than %d",
                            FG_MAX_PACKAGE_DEPTH);
    if (!*name || strchr(name, '/') || strstr(name, ".."))
        return fg_error_set(err, FG_EINVALID, name, "not a package name");
    if (version && *version && strcmp(version, "current") != 0 && strcmp(version, "dev") != 0) {
        if (strlen(version) >= sizeof ver || strchr(version, '/'))
            return fg_error_set(err, FG_EINVALID, name, "not a package version: %s", version);
        strcpy(ver, version);
    } else if ((rc = highest_version(cache, name, ver, sizeof ver)) != FG_OK) {
        if (rc == FG_ENOMEM)
            return fg_error_set(err, FG_ENOMEM, cache, "out of memory");
        if (needed_by)
            return fgr_note(reg, "dependency %s (of %s) is not in the package cache %s: value "
                                 "sets, code systems and profiles it defines are not checked",
                            name, needed_by, cache) == FG_OK
                       ? FG_OK
                       : fg_error_set(err, FG_ENOMEM, name, "out of memory");
        return fg_error_set(err, FG_ENOTFOUND, name,
                            "package %s is not in the package cache %s: install it there, or "
                            "point setting `packages` at the folder holding it",
                            name, cache);
    }
    snprintf(key, sizeof key, "%s#%s", name, ver);
    if (fgr_map_get(&reg->packages, key))
        return FG_OK;
    if (fgr_map_get(&reg->packages, name))
        return fgr_note(reg, "%s is not loaded: another version of %s already is (only one "
                             "version of a package is used)",
                        key, name) == FG_OK
                   ? FG_OK
                   : fg_error_set(err, FG_ENOMEM, key, "out of memory");
    if (reg->packages.n >= FG_MAX_PACKAGES)
        return fg_error_set(err, FG_ELIMIT, key, "more than %d packages to load", FG_MAX_PACKAGES);
    if ((size_t)snprintf(dir, sizeof dir, "%s/%s/package", cache, key) >= sizeof dir)
        return fg_error_set(err, FG_ELIMIT, key, "package path too long");
    if (!is_dir(dir)) {
        if (needed_by)
            return fgr_note(reg, "dependency %s (of %s) is not in the package cache %s: value "
                                 "sets, code systems and profiles it defines are not checked",
                            key, needed_by, cache) == FG_OK
                       ? FG_OK
                       : fg_error_set(err, FG_ENOMEM, key, "out of memory");
        return fg_error_set(err, FG_ENOTFOUND, dir,
                            "package %s is not in the package cache: install it there, or point "
                            "setting `packages` at the folder holding it",
                            key);
    }
    char *pkey = fg_arena_strdup(&reg->arena, key);
    char *pname = fg_arena_strdup(&reg->arena, name);
    if (!pkey || !pname || fgr_map_put(&reg->packages, pkey, (void *)1) != FG_OK ||
        fgr_map_put(&reg->packages, pname, (void *)1) != FG_OK)
        return fg_error_set(err, FG_ENOMEM, key, "out of memory");
    char pj[4200];
    snprintf(pj, sizeof pj, "%s/package.json", dir);
    fg_arena_init(&pkgarena);
    fgr_reader rd = {.arena = &pkgarena};
    rc = fgr_load_json(&rd, pj, FG_MAX_PACKAGE_FILE_BYTES, &pkgjson, err);
    fgr_reader_free(&rd);
    if (rc == FG_ENOTFOUND)
        rc = fg_error_set(err, FG_EINVALID, dir,
                          "no package.json: this folder is not a FHIR package (expected "
                          "<cache>/<name>#<version>/package/package.json)");
    if (rc != FG_OK)
        goto cleanup;
    if (!fg_jv_is_object(pkgjson)) {
        rc = fg_error_set(err, FG_EINVALID, pj, "package.json is not a JSON object");
        goto cleanup;
    }
    reg->package = pkey;
    rc = fgr_package_load_files(reg, dir, pkey, err);
    reg->package = saved;
    if (rc != FG_OK)
        goto cleanup;
    rc = load_dependencies(reg, cache, pkgjson, pkey, depth, err);
cleanup:
    fg_arena_free(&pkgarena);
    return rc;
}

int fg_registry_load_package(fg_registry *reg, const char *cache, const char *spec,
                             fg_error *err)
{
    char name[256];
    if (!reg || !spec || !*spec)
        return fg_error_set(err, FG_EUSAGE, "package", "no package named");
    if (!cache)
        return fg_error_set(err, FG_EUSAGE, "package", "no package cache named");
    if (reg->finished)
        return fg_error_set(err, FG_EUSAGE, spec, "the registry is finished: load before finish");
    const char *hash = strchr(spec, '#');
    size_t n = hash ? (size_t)(hash - spec) : strlen(spec);
    if (n >= sizeof name)
        return fg_error_set(err, FG_EINVALID, spec, "package name too long");
    memcpy(name, spec, n);
    name[n] = 0;
    if (strcmp(name, CORE_NAME) == 0)
        return FG_OK; /* the compact core provides it */
    return load_one(reg, cache, name, hash ? hash + 1 : NULL, NULL, 0, err);
}
