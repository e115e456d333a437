/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_validate_cases.c: the data-driven validator cases.
 *
 * tests/data/validate/<check>/<case>/ holds input.json, expected.tsv and,
 * optionally, args (command-line options of fhirgen validate, one per line:
 * --ig PKG#VER, --packages DIR, --profile URL) and why (the rule of the
 * specification the case breaks). expected.tsv lists every error and warning
 * the input must raise, one per line:
 *     severity<TAB>check<TAB>path[<TAB>rule]
 * and nothing else may be reported (information issues are not compared).
 * Without a rule column the issue's rule is not compared. The folder
 * `valid` holds inputs that must raise nothing.
 *
 * Cases that load a package from the package cache (not from --packages)
 * use ../shared/fhir-packages and are skipped, with a line saying so, when
 * that folder is absent. One cmocka test per check kind; each fails with
 * the list of its cases whose issues differ. A last test replays the fuzz
 * corpus (tests/fuzz/corpus-validate) and every case input through the fuzz
 * target's entry point.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "fhir/base/fg_data.h"
#include "profiles/fg_registry.h"
#include "validators/fg_validate.h"

#include "tests/fuzz/fuzz_validate.c"

#define CASES_DIR "tests/data/validate"
#define SHARED_PACKAGES "../shared/fhir-packages"
#define MAX_LINES 64
#define MAX_IGS 4
#define MAX_REGS 8
#define MIN_CASES_PER_KIND 5

static const char *const kinds[] = {"json", "structure", "cardinality", "type", "format",
                                    "fixed", "binding", "slicing", "extension", "reference",
                                    "invariant", "bundle", "profile", "valid"};
#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))

/* One registry per distinct (packages, igs) pair, loaded on first use. */
typedef struct reg_slot {
    char key[1024];
    fg_registry *reg;
    int failed;
} reg_slot;

static reg_slot regs[MAX_REGS];
static size_t n_regs;
static int shared_present;

/* dst = a + b, cut to size (paths here are short; a cut path fails to open). */
static void join(char *dst, size_t size, const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na >= size)
        na = size - 1;
    if (na + nb >= size)
        nb = size - 1 - na;
    memcpy(dst, a, na);
    memcpy(dst + na, b, nb);
    dst[na + nb] = 0;
}

static void copy(char *dst, size_t size, const char *src)
{
    join(dst, size, src, "");
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *b = realloc(buf, cap * 2);
            if (!b) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) {
        buf[n] = 0;
        if (len)
            *len = n;
    }
    return buf;
}

typedef struct case_args {
    const char *igs[MAX_IGS];
    size_t n_igs;
    const char *packages; /* NULL: the shared package folder */
    const char *profile;
    char *text;           /* owns the strings above */
} case_args;

static int parse_args(const char *dir, case_args *a)
{
    char path[1024];
    memset(a, 0, sizeof(*a));
    join(path, sizeof(path), dir, "/args");
    a->text = read_file(path, NULL);
    if (!a->text)
        return 0;
    char *save = NULL;
    for (char *line = strtok_r(a->text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *sp = strchr(line, ' ');
        if (!sp)
            return -1;
        *sp = 0;
        const char *val = sp + 1;
        if (strcmp(line, "--ig") == 0 && a->n_igs < MAX_IGS)
            a->igs[a->n_igs++] = val;
        else if (strcmp(line, "--packages") == 0)
            a->packages = val;
        else if (strcmp(line, "--profile") == 0)
            a->profile = val;
        else
            return -1;
    }
    return 0;
}

/* The registry for these args, or NULL (a message says why). */
static fg_registry *registry_for(const case_args *a, char *why, size_t why_size)
{
    char key[1024], tmp[1024];
    copy(key, sizeof(key), a->packages ? a->packages : "-");
    for (size_t i = 0; i < a->n_igs; i++) {
        join(tmp, sizeof(tmp), key, "|");
        join(key, sizeof(key), tmp, a->igs[i]);
    }
    for (size_t i = 0; i < n_regs; i++)
        if (strcmp(regs[i].key, key) == 0) {
            if (regs[i].failed)
                join(why, why_size, "this registry did not load: ", key);
            return regs[i].reg;
        }
    if (n_regs == MAX_REGS) {
        snprintf(why, why_size, "too many distinct registries");
        return NULL;
    }
    reg_slot *s = &regs[n_regs++];
    copy(s->key, sizeof(s->key), key);
    fg_error err;
    fg_error_clear(&err);
    int rc = fg_registry_new(&s->reg, &err);
    if (rc == FG_OK)
        rc = fg_registry_load_core(s->reg, fg_data_dir(), &err);
    const char *cache = a->packages ? a->packages : SHARED_PACKAGES;
    for (size_t i = 0; rc == FG_OK && i < a->n_igs; i++)
        rc = fg_registry_load_package(s->reg, cache, a->igs[i], &err);
    if (rc == FG_OK)
        rc = fg_registry_finish(s->reg, &err);
    if (rc != FG_OK) {
        join(tmp, sizeof(tmp), err.where, ": ");
        join(why, why_size, tmp, err.text);
        fg_registry_free(s->reg);
        s->reg = NULL;
        s->failed = 1;
    }
    return s->reg;
}

typedef struct line {
    char sev[16], check[32], path[512], rule[64];
    int has_rule, used;
} line;

static int parse_expected(const char *text, line *out, size_t *n)
{
    *n = 0;
    const char *p = text;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len > 0 && p[0] != '#') {
            if (*n == MAX_LINES)
                return -1;
            char buf[1024];
            if (len >= sizeof(buf))
                return -1;
            memcpy(buf, p, len);
            buf[len] = 0;
            line *l = &out[(*n)++];
            memset(l, 0, sizeof(*l));
            char *f[4] = {NULL, NULL, NULL, NULL};
            int nf = 0;
            char *q = buf;
            f[nf++] = q;
            while ((q = strchr(q, '\t')) != NULL && nf < 4) {
                *q++ = 0;
                f[nf++] = q;
            }
            if (nf < 3)
                return -1;
            copy(l->sev, sizeof(l->sev), f[0]);
            copy(l->check, sizeof(l->check), f[1]);
            copy(l->path, sizeof(l->path), f[2]);
            if (nf == 4) {
                l->has_rule = 1;
                copy(l->rule, sizeof(l->rule), f[3]);
            }
        }
        p = e ? e + 1 : p + len;
    }
    return 0;
}

/* Validate one case; append a report of differences to `report`. Returns
 * 1 pass, 0 fail, -1 skipped. */
static int run_case(const char *kind, const char *dir, const char *name, char *report,
                    size_t report_size, int *own_check_ok)
{
    char path[1024], why[768] = "";
    size_t off = strlen(report);
    case_args a;
    int result = 0;
    char *input = NULL, *exp_text = NULL;
    fg_validator *v = NULL;
    fg_issue_list issues = {0};
    line exp[MAX_LINES];
    size_t n_exp = 0;
    *own_check_ok = 0;

    if (parse_args(dir, &a) != 0) {
        snprintf(report + off, report_size - off, "  %s/%s: unreadable args file\n", kind, name);
        goto cleanup;
    }
    if (a.n_igs > 0 && !a.packages && !shared_present) {
        result = -1;
        goto cleanup;
    }
    join(path, sizeof(path), dir, "/expected.tsv");
    exp_text = read_file(path, NULL);
    if (!exp_text || parse_expected(exp_text, exp, &n_exp) != 0) {
        snprintf(report + off, report_size - off, "  %s/%s: expected.tsv missing or malformed\n",
                 kind, name);
        goto cleanup;
    }
    for (size_t i = 0; i < n_exp; i++)
        if (strcmp(exp[i].check, kind) == 0)
            *own_check_ok = 1;
    if (strcmp(kind, "valid") == 0)
        *own_check_ok = n_exp == 0;

    size_t len = 0;
    join(path, sizeof(path), dir, "/input.json");
    input = read_file(path, &len);
    if (!input) {
        snprintf(report + off, report_size - off, "  %s/%s: no input.json\n", kind, name);
        goto cleanup;
    }
    fg_registry *reg = registry_for(&a, why, sizeof(why));
    if (!reg) {
        snprintf(report + off, report_size - off, "  %s/%s: %s\n", kind, name, why);
        goto cleanup;
    }
    fg_validate_opts o;
    fg_validate_opts_default(&o);
    o.profile = a.profile;
    fg_error err;
    fg_error_clear(&err);
    if (fg_validator_new(reg, &o, &v, &err) != FG_OK) {
        snprintf(report + off, report_size - off, "  %s/%s: validator: %s\n", kind, name, err.text);
        goto cleanup;
    }
    if (fg_validate_bytes(v, input, len, &issues, &err) != FG_OK) {
        snprintf(report + off, report_size - off, "  %s/%s: validation failed: %s\n", kind, name,
                 err.text);
        goto cleanup;
    }

    int ok = 1;
    for (size_t i = 0; i < issues.count; i++) {
        const fg_issue *is = &issues.items[i];
        if (is->severity == FG_SEV_INFORMATION)
            continue;
        const char *sev = fg_severity_name(is->severity);
        const char *chk = fg_check_name(is->check);
        const char *ipath = is->path ? is->path : "";
        int matched = 0;
        for (size_t k = 0; k < n_exp && !matched; k++) {
            line *l = &exp[k];
            if (l->used || strcmp(l->sev, sev) != 0 || strcmp(l->check, chk) != 0 ||
                strcmp(l->path, ipath) != 0)
                continue;
            if (l->has_rule && (!is->rule || strcmp(l->rule, is->rule) != 0))
                continue;
            l->used = matched = 1;
        }
        if (!matched) {
            ok = 0;
            off = strlen(report);
            snprintf(report + off, report_size - off, "  %s/%s: unexpected %s\t%s\t%s\t%s (%s)\n",
                     kind, name, sev, chk, ipath, is->rule ? is->rule : "", is->message);
        }
    }
    for (size_t k = 0; k < n_exp; k++)
        if (!exp[k].used) {
            ok = 0;
            off = strlen(report);
            snprintf(report + off, report_size - off, "  %s/%s: missing %s\t%s\t%s%s%s\n", kind,
                     name, exp[k].sev, exp[k].check, exp[k].path, exp[k].has_rule ? "\t" : "",
                     exp[k].rule);
        }
    result = ok;
cleanup:
    fg_issue_list_free(&issues);
    fg_validator_free(v);
    free(input);
    free(exp_text);
    free(a.text);
    return result;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_kind(void **state)
{
    const char *kind = *state;
    char dir[512];
    snprintf(dir, sizeof(dir), CASES_DIR "/%s", kind);
    DIR *d = opendir(dir);
    assert_non_null(d);
    char *names[512];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 512)
        if (e->d_name[0] != '.')
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof(char *), cmp_str);

    size_t report_size = 1 << 16;
    char *report = calloc(1, report_size);
    assert_non_null(report);
    size_t passed = 0, failed = 0, skipped = 0, inconsistent = 0;
    for (size_t i = 0; i < n; i++) {
        char cdir[1024], tmp[600];
        join(tmp, sizeof(tmp), dir, "/");
        join(cdir, sizeof(cdir), tmp, names[i]);
        int own = 0;
        int r = run_case(kind, cdir, names[i], report, report_size, &own);
        if (r < 0)
            skipped++;
        else if (r > 0)
            passed++;
        else
            failed++;
        if (r >= 0 && !own) {
            inconsistent++;
            size_t off = strlen(report);
            snprintf(report + off, report_size - off,
                     "  %s/%s: expected.tsv names no issue of check '%s'\n", kind, names[i], kind);
        }
        free(names[i]);
    }
    print_message("%s: %zu cases, %zu passed, %zu failed, %zu skipped%s\n", kind, n, passed, failed,
                  skipped, skipped ? " (../shared/fhir-packages is absent)" : "");
    if (failed || inconsistent) {
        fputs(report, stdout);
        fflush(stdout);
    }
    free(report);
    assert_true(n >= MIN_CASES_PER_KIND);
    assert_int_equal(failed, 0);
    assert_int_equal(inconsistent, 0);
}

static size_t replay_dir(const char *dir, int depth)
{
    size_t n = 0;
    DIR *d = opendir(dir);
    if (!d || depth > 4) {
        if (d)
            closedir(d);
        return 0;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024], tmp[1024];
        join(tmp, sizeof(tmp), dir, "/");
        join(path, sizeof(path), tmp, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            n += replay_dir(path, depth + 1);
        } else if (S_ISREG(st.st_mode) && strcmp(e->d_name, "expected.tsv") != 0 &&
                   strcmp(e->d_name, "args") != 0 && strcmp(e->d_name, "why") != 0) {
            size_t len = 0;
            char *buf = read_file(path, &len);
            assert_non_null(buf);
            /* An exact-size copy, so reading past the end shows under ASan. */
            uint8_t *exact = malloc(len ? len : 1);
            assert_non_null(exact);
            memcpy(exact, buf, len);
            free(buf);
            LLVMFuzzerTestOneInput(exact, len);
            free(exact);
            n++;
        }
    }
    closedir(d);
    return n;
}

static void fuzz_corpus(void **state)
{
    (void)state;
    size_t n = replay_dir("tests/fuzz/corpus-validate", 0);
    assert_true(n >= 20);
    size_t m = replay_dir(CASES_DIR, 0);
    print_message("replayed %zu corpus files and %zu case files\n", n, m);
    fuzz_validate_cleanup();
}

int main(void)
{
    struct stat st;
    shared_present = stat(SHARED_PACKAGES "/hl7.fhir.us.core#6.1.0", &st) == 0;
    if (!shared_present)
        printf("# cases that load US Core are skipped: ../shared/fhir-packages is absent\n");
    struct CMUnitTest tests[N_KINDS + 1];
    for (size_t i = 0; i < N_KINDS; i++) {
        memset(&tests[i], 0, sizeof(tests[i]));
        tests[i].name = kinds[i];
        tests[i].test_func = run_kind;
        tests[i].initial_state = (void *)kinds[i];
    }
    memset(&tests[N_KINDS], 0, sizeof(tests[N_KINDS]));
    tests[N_KINDS].name = "fuzz_corpus";
    tests[N_KINDS].test_func = fuzz_corpus;
    int rc = _cmocka_run_group_tests("validate_cases", tests, N_KINDS + 1, NULL, NULL);
    for (size_t i = 0; i < n_regs; i++)
        fg_registry_free(regs[i].reg);
    return rc;
}
