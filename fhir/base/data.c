/* SPDX-License-Identifier: Apache-2.0 */
#include "fhir/base/fg_data.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fhir/base/fg_error.h"

#ifndef FG_INSTALL_DATADIR
#define FG_INSTALL_DATADIR "/usr/local/share/fhirgen"
#endif
#ifndef FG_SOURCE_DATADIR
#define FG_SOURCE_DATADIR ""
#endif
#ifndef FG_BUILD_ROOT
#define FG_BUILD_ROOT ""
#endif

static char data_dir[4096];

void fg_data_set_dir(const char *dir)
{
    snprintf(data_dir, sizeof(data_dir), "%s", dir ? dir : "");
}

const char *fg_data_dir(void)
{
    if (data_dir[0])
        return data_dir;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    size_t root = strlen(FG_BUILD_ROOT);
    if (n > 0 && root > 0) {
        exe[n] = 0;
        if (strncmp(exe, FG_BUILD_ROOT, root) == 0 && exe[root] == '/' &&
            access(FG_SOURCE_DATADIR, R_OK) == 0) {
            snprintf(data_dir, sizeof(data_dir), "%s", FG_SOURCE_DATADIR);
            return data_dir;
        }
    }
    snprintf(data_dir, sizeof(data_dir), "%s", FG_INSTALL_DATADIR);
    return data_dir;
}

char *fg_data_path(const char *rel, char *out, size_t size)
{
    int n = snprintf(out, size, "%s/%s", fg_data_dir(), rel);
    if (n < 0 || (size_t)n >= size)
        return NULL;
    return out;
}

int fg_read_file(const char *path, size_t max, char **out, size_t *len, fg_error *err)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        int code = errno == ENOENT ? FG_ENOTFOUND : errno == ENOMEM ? FG_ENOMEM : FG_EIO;
        return fg_error_set(err, code, path, "cannot open: %s", strerror(errno));
    }
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    int rc = FG_OK;
    if (!buf) {
        rc = fg_error_set(err, FG_ENOMEM, path, "out of memory");
        goto cleanup;
    }
    for (;;) {
        if (n + 1 >= cap) {
            if (cap > max + 1) {
                rc = fg_error_set(err, FG_ELIMIT, path, "larger than the limit of %zu bytes", max);
                goto cleanup;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                rc = fg_error_set(err, FG_ENOMEM, path, "out of memory");
                goto cleanup;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        rc = fg_error_set(err, FG_EIO, path, "read failed: %s", strerror(errno));
        goto cleanup;
    }
    if (n > max) {
        rc = fg_error_set(err, FG_ELIMIT, path, "larger than the limit of %zu bytes", max);
        goto cleanup;
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    buf = NULL;
cleanup:
    free(buf);
    if (f != stdin)
        fclose(f);
    return rc;
}
