/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Replays every file under tests/data/history/ and tests/fuzz/corpus/history/
 * through the fuzz target's entry point, so the corpus is exercised as an
 * ordinary test when no fuzzer is built (run it under -Db_sanitize=address,undefined).
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

#include "tests/fuzz/fuzz_history.c"

static size_t replayed;

static void replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    /* An exact-size copy, so reading past the end shows under ASan. */
    uint8_t *data = malloc(size > 0 ? (size_t)size : 1);
    assert_non_null(data);
    size_t n = fread(data, 1, (size_t)size, f);
    fclose(f);
    LLVMFuzzerTestOneInput(data, n);
    free(data);
    replayed++;
}

static void replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            replay_dir(path);
        else if (S_ISREG(st.st_mode))
            replay_file(path);
    }
    closedir(d);
}

static void test_replay_corpus(void **state)
{
    (void)state;
    replay_dir("tests/data/history");
    replay_dir("tests/fuzz/corpus/history");
    assert_true(replayed >= 30);
    print_message("replayed %zu files\n", replayed);
}

/* Prefixes of a valid document: every truncation point must be refused cleanly. */
static void test_truncations(void **state)
{
    (void)state;
    FILE *f = fopen("tests/data/history/valid/complete.json", "rb");
    assert_non_null(f);
    static uint8_t buf[65536];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    for (size_t len = 0; len < n; len += 7) {
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, buf, len);
        LLVMFuzzerTestOneInput(copy, len);
        free(copy);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_corpus),
        cmocka_unit_test(test_truncations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
