/* SPDX-License-Identifier: Apache-2.0 */
/*
 * refcheck: run the referential-integrity checker over bundle files and
 * NDJSON files, as the integration tests do.
 *
 *   refcheck [--strict] [--max-print N] [--quiet] PATH...
 *
 * A PATH is a file or a folder searched recursively for *.json and
 * *.ndjson files (taken in name order). Every path given is one cohort:
 * ids and identifiers must be unique across all of them, and NDJSON
 * references resolve across all of them. Prints the issues (at most
 * --max-print, default 50) and a summary; exits 0 when there is no error
 * (no issue at all with --strict), 1 otherwise, 2 on bad usage or I/O.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "validators/fg_refcheck.h"

typedef struct printer {
    long max;
    long printed;
} printer;

typedef struct names {
    char **v;
    size_t n, cap;
} names;

static void print_issue(void *ud, const fg_refcheck_issue *is)
{
    printer *p = ud;
    if (p->printed >= p->max)
        return;
    p->printed++;
    const char *sev = is->severity == FG_REFCHECK_ERROR ? "error" : "warning";
    if (is->line)
        printf("%s: %s:%ld: %s: %s\n", sev, is->file, is->line, is->path[0] ? is->path : "(line)",
               is->message);
    else
        printf("%s: %s: %s: %s\n", sev, is->file, is->path[0] ? is->path : "(document)",
               is->message);
}

static int add_name(names *ns, const char *s)
{
    if (ns->n == ns->cap) {
        size_t cap = ns->cap ? ns->cap * 2 : 256;
        char **v = realloc(ns->v, cap * sizeof(*v));
        if (!v)
            return -1;
        ns->v = v;
        ns->cap = cap;
    }
    if (!(ns->v[ns->n] = strdup(s)))
        return -1;
    ns->n++;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int wanted(const char *name)
{
    size_t n = strlen(name);
    return (n > 5 && strcmp(name + n - 5, ".json") == 0) ||
           (n > 7 && strcmp(name + n - 7, ".ndjson") == 0);
}

/* Collect the files under path (or path itself). */
static int collect(const char *path, names *out, int top)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "refcheck: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return top || wanted(path) ? add_name(out, path) : 0;
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "refcheck: %s: %s\n", path, strerror(errno));
        return -1;
    }
    names here = {0};
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char full[4096];
        if (snprintf(full, sizeof(full), "%s/%s", path, de->d_name) >= (int)sizeof(full)) {
            fprintf(stderr, "refcheck: path too long under %s\n", path);
            rc = -1;
            break;
        }
        if (add_name(&here, full)) {
            rc = -1;
            break;
        }
    }
    closedir(d);
    if (here.n)
        qsort(here.v, here.n, sizeof(*here.v), by_name);
    for (size_t i = 0; i < here.n; i++) {
        if (rc == 0)
            rc = collect(here.v[i], out, 0);
        free(here.v[i]);
    }
    free(here.v);
    return rc;
}

static int usage(void)
{
    fprintf(stderr, "usage: refcheck [--strict] [--max-print N] [--quiet] PATH...\n");
    return 2;
}

int main(int argc, char **argv)
{
    printer pr = {50, 0};
    int strict = 0, quiet = 0, status = 2;
    names files = {0};
    fg_refcheck *rc = NULL;
    fg_error err;
    fg_refcheck_summary sum;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--strict") == 0)
            strict = 1;
        else if (strcmp(argv[i], "--quiet") == 0)
            quiet = 1;
        else if (strcmp(argv[i], "--max-print") == 0 && i + 1 < argc)
            pr.max = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else
            return usage();
    }
    if (i >= argc)
        return usage();
    for (; i < argc; i++)
        if (collect(argv[i], &files, 1))
            goto cleanup;
    if (files.n == 0) {
        fprintf(stderr, "refcheck: no *.json or *.ndjson file found\n");
        goto cleanup;
    }
    if (fg_refcheck_new(quiet ? NULL : print_issue, &pr, &rc, &err) != FG_OK)
        goto fail;
    for (size_t k = 0; k < files.n; k++) {
        int r = fg_refcheck_file(rc, files.v[k], &err);
        if (r != FG_OK && r != FG_EINVALID)
            goto fail;
    }
    if (fg_refcheck_finish(rc, &sum, &err) != FG_OK)
        goto fail;
    if (!quiet && (long)(sum.errors + sum.warnings) > pr.printed)
        printf("... %zu more issues not printed (--max-print)\n",
               sum.errors + sum.warnings - (size_t)pr.printed);
    printf("refcheck: %zu files, %zu bundles, %zu resources, %zu references, %zu identifiers: "
           "%zu errors, %zu warnings\n",
           sum.files, sum.bundles, sum.resources, sum.references, sum.identifiers, sum.errors,
           sum.warnings);
    status = sum.errors || (strict && sum.warnings) ? 1 : 0;
    goto cleanup;
fail:
    fprintf(stderr, "refcheck: %s: %s (%s)\n", err.where, err.text, fg_strerror(err.code));
    status = 2;
cleanup:
    fg_refcheck_free(rc);
    for (size_t k = 0; k < files.n; k++)
        free(files.v[k]);
    free(files.v);
    return status;
}
