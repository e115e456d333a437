/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_jr_corpus.c: the arena JSON reader (fhir/fg_jr.h) on real files and
 * on its fuzz corpus.
 *
 * The sweep reads every *.json file and every line of every *.ndjson file
 * under samples/, tests/data/ and, when the shared folder is there, its
 * corpora and FHIR packages, with fg_jr and with jansson: both must give
 * the same verdict and, when they accept, json_equal values. The sweep stops
 * after SWEEP_SECONDS and skips files over SWEEP_MAX_FILE bytes, so it
 * stays a unit test; it says how far it got.
 *
 * The replay runs tests/fuzz/corpus-jr, and prefixes of each file, through
 * the differential fuzz target (tests/fuzz/fuzz_jr.c), which aborts on any
 * difference it does not document.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fhir/base/fg_data.h"
#include "fhir/base/fg_error.h"
#include "fhir/json/fg_jr.h"

#include "tests/fuzz/fuzz_jr.c"

#define SWEEP_SECONDS 60.0
#define SWEEP_MAX_FILE (16u << 20)
#define REPLAY_MAX_FILE (1u << 20)

typedef struct sweep {
    fg_arena arena;
    struct timespec start;
    int out_of_time;
    size_t files, documents, accepted, refused, bytes, skipped;
} sweep;

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* One document through both parsers; `line` is 0 for a whole file. */
static void compare(sweep *sw, const char *s, size_t len, const char *path, size_t line)
{
    fg_arena_reset(&sw->arena);
    const fg_jv *v = NULL;
    fg_jr_error e;
    int rc = fg_jr_parse(&sw->arena, s, len, &v, &e);
    json_error_t je;
    json_t *j = json_loadb(s, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (rc == FG_OK && !j && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
        j = json_loadb(s + 3, len - 3, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (rc == FG_OK && !j)
        fail_msg("%s:%zu: fg_jr accepted, jansson refused: %s", path, line, je.text);
    if (rc != FG_OK && j)
        fail_msg("%s:%zu: jansson accepted, fg_jr refused at %d:%d: %s", path, line, e.line,
                 e.column, e.text);
    if (j) {
        json_t *copy = fg_jv_to_json(v);
        if (!copy || !json_equal(copy, j))
            fail_msg("%s:%zu: fg_jr and jansson read different values", path, line);
        json_decref(copy);
        sw->accepted++;
    } else {
        sw->refused++;
    }
    json_decref(j);
    sw->documents++;
    sw->bytes += len;
}

static void sweep_file(sweep *sw, const char *path, int ndjson)
{
    char *buf = NULL;
    size_t len = 0;
    fg_error err;
    if (fg_read_file(path, SWEEP_MAX_FILE, &buf, &len, &err) != FG_OK) {
        sw->skipped++;
        return;
    }
    sw->files++;
    if (!ndjson) {
        compare(sw, buf, len, path, 0);
    } else {
        size_t line = 0;
        for (char *p = buf, *end = buf + len; p < end;) {
            char *nl = memchr(p, '\n', (size_t)(end - p));
            char *stop = nl ? nl : end;
            line++;
            if (stop > p)
                compare(sw, p, (size_t)(stop - p), path, line);
            p = stop + 1;
        }
    }
    free(buf);
}

static void sweep_dir(sweep *sw, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while (!sw->out_of_time && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            sweep_dir(sw, path);
        else if (S_ISREG(st.st_mode) && ends_with(path, ".json"))
            sweep_file(sw, path, 0);
        else if (S_ISREG(st.st_mode) && ends_with(path, ".ndjson"))
            sweep_file(sw, path, 1);
        if (seconds_since(&sw->start) > SWEEP_SECONDS)
            sw->out_of_time = 1;
    }
    closedir(d);
}

static void test_sweep(void **state)
{
    (void)state;
    static const char *roots[] = {"samples", "tests/data", "../shared/corpora",
                                  "../shared/fhir-packages"};
    sweep sw;
    memset(&sw, 0, sizeof(sw));
    fg_arena_init(&sw.arena);
    clock_gettime(CLOCK_MONOTONIC, &sw.start);
    for (size_t i = 0; i < sizeof(roots) / sizeof(*roots) && !sw.out_of_time; i++)
        sweep_dir(&sw, roots[i]);
    print_message("swept %zu documents (%zu bytes) of %zu files in %.1f s: %zu read alike, "
                  "%zu refused by both; %zu files unread%s\n",
                  sw.documents, sw.bytes, sw.files, seconds_since(&sw.start), sw.accepted,
                  sw.refused, sw.skipped, sw.out_of_time ? "; stopped at the time limit" : "");
    fg_arena_free(&sw.arena);
    assert_true(sw.files >= 100); /* samples/ and tests/data/ alone hold more */
}

static size_t replayed;

/* A file and prefixes of it through the fuzz target: every prefix of a
 * small file, about 256 of a larger one. */
static void replay_file(const char *path)
{
    char *buf = NULL;
    size_t len = 0;
    fg_error err;
    if (fg_read_file(path, REPLAY_MAX_FILE, &buf, &len, &err) != FG_OK)
        fail_msg("cannot read %s: %s", path, err.text);
    size_t step = len < 512 ? 1 : len / 256;
    for (size_t cut = 0; cut <= len; cut += step) {
        /* an exact-size copy, so reading past the end shows under ASan */
        uint8_t *copy = malloc(cut ? cut : 1);
        assert_non_null(copy);
        memcpy(copy, buf, cut);
        LLVMFuzzerTestOneInput(copy, cut);
        free(copy);
    }
    LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
    free(buf);
    replayed++;
}

static void test_replay_corpus(void **state)
{
    (void)state;
    const char *dir = "tests/fuzz/corpus-jr";
    DIR *d = opendir(dir);
    assert_non_null(d); /* run from the repository root */
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        replay_file(path);
    }
    closedir(d);
    print_message("replayed %zu files of %s\n", replayed, dir);
    assert_true(replayed >= 50);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sweep),
        cmocka_unit_test(test_replay_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
