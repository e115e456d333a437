/* SPDX-License-Identifier: Apache-2.0 */
/* The pipeline: determinism across thread counts and shards, clean failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fhir/base/fg_data.h"
#include "fhir/base/fg_files.h"
#include "fhir/term/fg_term.h"
#include "generators/engine/fg_engine.h"
#include "generators/map/fg_mapper.h"
#include "generators/fg_pipeline.h"

typedef struct fixture {
    fg_engine *engine;
    fg_terminology *terms;
    fg_mapper *mapper;
    char root[256];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    fg_cohort_spec spec;
    fg_cohort_spec_default(&spec);
    spec.seed = 99;
    spec.end = fg_time_make(2026, 1, 1, 0, 0, 0);
    fg_error err;
    char tdir[4096];
    if (fg_engine_new(fg_data_dir(), &spec, &f->engine, &err) != FG_OK ||
        fg_terminology_load(fg_data_path("terminology", tdir, sizeof(tdir)), &f->terms, &err) ||
        fg_mapper_new(f->terms, &(fg_map_options){"https://fhirgen.example/mrn"}, &f->mapper,
                      &err)) {
        fprintf(stderr, "setup: %s: %s\n", err.where, err.text);
        return -1;
    }
    snprintf(f->root, sizeof(f->root), "/tmp/fg-pipeline-XXXXXX");
    if (!mkdtemp(f->root))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", f->root);
    fg_mapper_free(f->mapper);
    fg_terminology_free(f->terms);
    fg_engine_free(f->engine);
    free(f);
    return 0;
}

static char *slurp(const char *path, size_t *n)
{
    *n = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *p = malloc((size_t)len + 1);
    size_t got = fread(p, 1, (size_t)len, fp);
    fclose(fp);
    p[got] = 0;
    *n = got;
    return p;
}

static int run(fixture *f, const char *name, fg_format fmt, int jobs, uint64_t first,
               uint64_t count, int k, int n)
{
    char out[512];
    snprintf(out, sizeof(out), "%s/%s", f->root, name);
    fg_pipeline_options o;
    memset(&o, 0, sizeof(o));
    o.format = fmt;
    o.out_dir = out;
    o.jobs = jobs;
    o.first = first;
    o.count = count;
    o.shard_k = k;
    o.shard_n = n;
    fg_error err;
    fg_run_summary s;
    int rc = fg_pipeline_run(f->engine, f->mapper, &o, &s, &err);
    if (rc != FG_OK)
        fprintf(stderr, "%s: %s: %s\n", name, err.where, err.text);
    else
        assert_int_equal(s.patients, count);
    return rc;
}

/* NDJSON is written in patient order: --jobs 1 and --jobs 2 give the same bytes. */
static void test_ndjson_same_bytes_any_jobs(void **state)
{
    fixture *f = *state;
    assert_int_equal(run(f, "j1", FG_FORMAT_NDJSON, 1, 0, 70, 0, 0), FG_OK);
    assert_int_equal(run(f, "j2", FG_FORMAT_NDJSON, 2, 0, 70, 0, 0), FG_OK);
    const char *types[] = {"Patient", "Encounter", "Observation"};
    for (size_t i = 0; i < 3; i++) {
        char a[600], b[600];
        snprintf(a, sizeof(a), "%s/j1/ndjson/%s.ndjson", f->root, types[i]);
        snprintf(b, sizeof(b), "%s/j2/ndjson/%s.ndjson", f->root, types[i]);
        size_t na = 0, nb = 0;
        char *da = slurp(a, &na), *db = slurp(b, &nb);
        assert_non_null(da);
        assert_non_null(db);
        assert_int_equal(na, nb);
        assert_memory_equal(da, db, na);
        free(da);
        free(db);
    }
}

/* Three shards concatenated are the unsharded file. */
static void test_shards_union(void **state)
{
    fixture *f = *state;
    assert_int_equal(run(f, "all", FG_FORMAT_NDJSON, 2, 0, 50, 0, 0), FG_OK);
    size_t total = 0;
    char *whole;
    {
        char p[600];
        snprintf(p, sizeof(p), "%s/all/ndjson/Patient.ndjson", f->root);
        whole = slurp(p, &total);
        assert_non_null(whole);
    }
    uint64_t bounds[4] = {0, 16, 33, 50};
    size_t off = 0;
    for (int k = 1; k <= 3; k++) {
        char name[32];
        snprintf(name, sizeof(name), "s%d", k);
        assert_int_equal(run(f, name, FG_FORMAT_NDJSON, 2, bounds[k - 1], bounds[k] - bounds[k - 1],
                             k, 3),
                         FG_OK);
        char p[600];
        snprintf(p, sizeof(p), "%s/%s/ndjson/Patient.shard-%d-of-3.ndjson", f->root, name, k);
        size_t n = 0;
        char *part = slurp(p, &n);
        assert_non_null(part);
        assert_true(off + n <= total);
        assert_memory_equal(whole + off, part, n);
        off += n;
        free(part);
    }
    assert_int_equal(off, total);
    free(whole);
}

static int count_tmp_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp"))
            n++;
    closedir(d);
    return n;
}

/* Bundles: one file per patient, nothing temporary left. */
static void test_bundles_written(void **state)
{
    fixture *f = *state;
    assert_int_equal(run(f, "b", FG_FORMAT_BUNDLE, 2, 0, 20, 0, 0), FG_OK);
    char dir[600], p[700];
    snprintf(dir, sizeof(dir), "%s/b/bundles", f->root);
    snprintf(p, sizeof(p), "%s/patient-00000019.json", dir);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_true(st.st_size > 1000);
    assert_int_equal(count_tmp_files(dir), 0);
}

/* An output folder that cannot be created is an error naming it. */
static void test_unwritable_output(void **state)
{
    fixture *f = *state;
    char blocker[600];
    snprintf(blocker, sizeof(blocker), "%s/file", f->root);
    FILE *fp = fopen(blocker, "w");
    assert_non_null(fp);
    fclose(fp);
    fg_pipeline_options o;
    memset(&o, 0, sizeof(o));
    o.format = FG_FORMAT_BUNDLE;
    o.out_dir = blocker; /* a file, not a folder */
    o.jobs = 1;
    o.count = 3;
    fg_error err;
    fg_error_clear(&err);
    assert_int_equal(fg_pipeline_run(f->engine, f->mapper, &o, NULL, &err), FG_EIO);
    assert_non_null(strstr(err.where, "file"));
}

/* A full disk: with a file size limit of one byte every write fails after
 * the first; nothing finished may remain. */
static void test_write_failure_leaves_nothing(void **state)
{
    fixture *f = *state;
    char dir[600];
    snprintf(dir, sizeof(dir), "%s/full/ndjson", f->root);
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 1;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = run(f, "full", FG_FORMAT_NDJSON, 1, 0, 5, 0, 0);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    assert_int_equal(rc, FG_EIO);
    char p[700];
    snprintf(p, sizeof(p), "%s/Patient.ndjson", dir);
    assert_int_not_equal(access(p, F_OK), 0);
    snprintf(p, sizeof(p), "%s/Encounter.ndjson", dir);
    assert_int_not_equal(access(p, F_OK), 0);
    assert_int_equal(count_tmp_files(dir), 0);
}

/* on_file hears of every bundle once it is in place, in patient order,
 * whatever order the workers finish in. */
typedef struct heard {
    uint64_t next;
    int out_of_order, missing;
} heard;

static void hear_file(void *ud, uint64_t index, const char *path)
{
    heard *h = ud;
    if (index != h->next)
        h->out_of_order++;
    if (access(path, F_OK) != 0)
        h->missing++;
    h->next = index + 1;
}

static void test_on_file_order(void **state)
{
    fixture *f = *state;
    char out[600];
    snprintf(out, sizeof(out), "%s/heard", f->root);
    fg_pipeline_options o;
    memset(&o, 0, sizeof(o));
    o.format = FG_FORMAT_BUNDLE;
    o.out_dir = out;
    o.jobs = 3;
    o.first = 5;
    o.count = 70;
    heard h = {5, 0, 0};
    o.on_file = hear_file;
    o.on_file_ud = &h;
    fg_error err;
    assert_int_equal(fg_pipeline_run(f->engine, f->mapper, &o, NULL, &err), FG_OK);
    assert_int_equal(h.next, 75);
    assert_int_equal(h.out_of_order, 0);
    assert_int_equal(h.missing, 0);
}

/* The file chores the sink stands on (fg_files.h): mkdir -p, the atomic
 * write, and the walk in name order with a suffix filter and recursion. */
typedef struct walked {
    char seen[8][128];
    int n;
} walked;

static int note_walked(void *ud, const char *path, const char *name)
{
    walked *w = ud;
    (void)name;
    const char *rel = strstr(path, "/walk/");
    if (w->n < 8)
        snprintf(w->seen[w->n++], sizeof(w->seen[0]), "%s", rel ? rel + 6 : path);
    return FG_OK;
}

static void test_files(void **state)
{
    fixture *f = *state;
    char dir[700], p[800];
    fg_error err;
    snprintf(dir, sizeof(dir), "%s/walk/b/deeper", f->root);
    assert_int_equal(fg_mkdirs(dir, &err), FG_OK);
    assert_int_equal(fg_mkdirs(dir, &err), FG_OK); /* already there is fine */
    const char *files[] = {"walk/z.json", "walk/a.json", "walk/b/deeper/c.ndjson",
                           "walk/b/x.txt", "walk/.hidden.json"};
    for (size_t i = 0; i < sizeof(files) / sizeof(*files); i++) {
        snprintf(p, sizeof(p), "%s/%s", f->root, files[i]);
        assert_int_equal(fg_write_file_atomic(p, "{}\n", 3, &err), FG_OK);
    }
    snprintf(dir, sizeof(dir), "%s/walk", f->root);
    assert_int_equal(count_tmp_files(dir), 0);
    static const char *const suffixes[] = {".json", ".ndjson", NULL};
    fg_walk_options wo = {FG_WALK_FILES | FG_WALK_RECURSE, suffixes, 0, 0, NULL};
    walked w = {.n = 0};
    assert_int_equal(fg_walk(dir, &wo, note_walked, &w, &err), FG_OK);
    assert_int_equal(w.n, 3);
    assert_string_equal(w.seen[0], "a.json");
    assert_string_equal(w.seen[1], "b/deeper/c.ndjson");
    assert_string_equal(w.seen[2], "z.json");
    snprintf(p, sizeof(p), "%s/no-such-folder", f->root);
    assert_int_equal(fg_walk(p, &wo, note_walked, &w, &err), FG_ENOTFOUND);
    assert_non_null(strstr(err.where, "no-such-folder"));
    assert_non_null(strstr(err.text, "No such file"));
    snprintf(p, sizeof(p), "%s/walk/a.json/sub", f->root);
    assert_int_equal(fg_mkdirs(p, &err), FG_EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ndjson_same_bytes_any_jobs),
        cmocka_unit_test(test_shards_union),
        cmocka_unit_test(test_bundles_written),
        cmocka_unit_test(test_unwritable_output),
        cmocka_unit_test(test_write_failure_leaves_nothing),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_on_file_order),
    };
    return cmocka_run_group_tests_name("pipeline", tests, setup, teardown);
}
