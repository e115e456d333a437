/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_oom.c: allocation failure in the JSON reader, the registry and the
 * validator (the machinery is in oom.c, described in oom.h).
 *
 * Each test sweeps one operation: fg_jr_parse of FHIR resources and of
 * synthetic inputs; registry loads as cli/validate_load.c makes them, of
 * the compact R4 core and of US Core when ../shared/fhir-packages has it;
 * validator construction and validation of valid and invalid resources
 * against the core, the test profiles of tests/data/validate/packages and
 * US Core, through each entry point, with the issues written as
 * OperationOutcomes.
 *
 * The registry loads terminology on a second thread and packages on
 * several, so the order of allocations there varies from run to run: a
 * failing k of the registry tests may need a few tries to replay.
 * FG_OOM_TEST=pattern runs only the matching tests (test_validate_*).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fhir/base/fg_data.h"
#include "fhir/base/fg_hash.h"
#include "fhir/base/fg_error.h"
#include "fhir/json/fg_jr.h"
#include "tests/unit/oom.h"
#include "profiles/fg_registry.h"
#include "validators/fg_validate.h"

#ifndef OOM_SANITIZED

#define SHARED_PACKAGES "../shared/fhir-packages"
#define USCORE "hl7.fhir.us.core#6.1.0"
#define CASES "tests/data/validate"

/* ---- digests of results ------------------------------------------------------------------- */

static void mix_bytes(uint64_t *h, const void *p, size_t n)
{
    *h = fg_fnv1a(*h, p, n);
}

static void mix_str(uint64_t *h, const char *s)
{
    mix_bytes(h, s ? s : "(null)", strlen(s ? s : "(null)") + 1);
}

static void mix_num(uint64_t *h, uint64_t v)
{
    mix_bytes(h, &v, sizeof v);
}

/* ---- (a) the JSON reader ------------------------------------------------------------------- */

typedef struct input {
    char *text;
    size_t len;
} input;

/* Every value of a tree: types, texts, keys, in document order. */
static void mix_tree(uint64_t *h, const fg_jv *v, int depth)
{
    mix_num(h, fg_jv_typeof(v));
    if (!v || depth > FG_JR_MAX_DEPTH)
        return;
    mix_num(h, v->n);
    if (fg_jv_is_string(v) || fg_jv_is_number(v))
        mix_bytes(h, v->u.s, fg_jv_is_string(v) ? v->n : strlen(v->u.s));
    for (size_t i = 0; fg_jv_is_array(v) && i < v->n; i++)
        mix_tree(h, fg_jv_at(v, i), depth + 1);
    for (size_t i = 0; fg_jv_is_object(v) && i < v->n; i++) {
        const fg_jv_member *m = fg_jv_member_at(v, i);
        mix_bytes(h, m->key, m->key_len + 1);
        mix_tree(h, &m->value, depth + 1);
    }
}

typedef struct jr_case {
    input inputs[6];
    size_t n_inputs;
    uint64_t want[2][6]; /* each parse's digest in the run without failure */
    int have_want;
    const char *file; /* read again in each run, as a reader of files does */
} jr_case;

/* A file read with fg_read_file; each input parsed into one arena reset
 * between inputs (as a reader does), then all of them again into a fresh arena each, the small ones
 * dumped as text. A parse error is part of the result: its position and
 * text must not change. A parse that runs out of memory does not stop the
 * others: those that follow it, in the arena it left, must give the same
 * trees as without failure. */
static int op_jr(void *ud, uint64_t *digest, fg_error *err)
{
    jr_case *c = ud;
    uint64_t all = 1469598103934665603ull;
    char *text = NULL;
    size_t len = 0;
    int rc = fg_read_file(c->file, 1u << 20, &text, &len, err);
    if (rc != FG_OK)
        return rc;
    mix_bytes(&all, text, len);
    free(text);
    fg_arena shared;
    fg_arena_init(&shared);
    int nomem = 0;
    for (size_t pass = 0; rc == FG_OK && pass < 2; pass++) {
        for (size_t i = 0; rc == FG_OK && i < c->n_inputs; i++) {
            uint64_t h = 1469598103934665603ull;
            fg_arena own;
            fg_arena_init(&own);
            fg_arena *a = pass == 0 ? &shared : &own;
            const fg_jv *root = NULL;
            fg_jr_error je;
            fg_arena_reset(&shared);
            int prc = fg_jr_parse(a, c->inputs[i].text, c->inputs[i].len, &root, &je);
            mix_num(&h, (uint64_t)prc);
            if (prc == FG_OK) {
                mix_tree(&h, root, 0);
                /* the second pass also writes small trees back as text */
                int dump = pass == 1 && c->inputs[i].len < 16384;
                const char *text = dump ? fg_jv_dump(a, root) : "";
                if (text)
                    mix_str(&h, text);
                else
                    prc = FG_ENOMEM;
            } else if (prc == FG_EINVALID) {
                mix_num(&h, (uint64_t)je.line);
                mix_num(&h, (uint64_t)je.column);
                mix_num(&h, je.position);
                mix_str(&h, je.text);
            }
            fg_arena_free(&own);
            if (prc == FG_ENOMEM)
                nomem = 1;
            else if (!c->have_want)
                c->want[pass][i] = h;
            else if (c->want[pass][i] != h)
                rc = fg_error_set(err, FG_EINTERNAL, "fg_jr_parse",
                                  "input %zu (pass %zu) parsed differently", i, pass);
            mix_num(&all, h);
        }
    }
    fg_arena_free(&shared);
    if (rc != FG_OK)
        return rc;
    if (nomem)
        return fg_error_set(err, FG_ENOMEM, "fg_jr_parse", "out of memory");
    c->have_want = 1;
    *digest = all;
    return FG_OK;
}

static void read_input(input *in, const char *file)
{
    fg_error err;
    if (fg_read_file(file, 64u << 20, &in->text, &in->len, &err) != FG_OK)
        fail_msg("%s: %s", err.where, err.text);
}

/* An object of `members` members, each an array of 40 numbers, then one
 * array nested 300 deep: enough values that the reader's scratch stack and
 * duplicate-key table leave their fixed-size first form. With `dup` the
 * last key repeats the first (a parse error found late). */
static void make_input(input *in, int members, int dup)
{
    size_t cap = (size_t)members * 512 + 4096, n = 0;
    in->text = malloc(cap);
    assert_non_null(in->text);
    n += (size_t)snprintf(in->text + n, cap - n, "{");
    for (int i = 0; i < members; i++) {
        n += (size_t)snprintf(in->text + n, cap - n, "\"m%d\":[", dup && i == members - 1 ? 0 : i);
        for (int j = 0; j < 40; j++)
            n += (size_t)snprintf(in->text + n, cap - n, "%s%d.5", j ? "," : "", i * j);
        n += (size_t)snprintf(in->text + n, cap - n, "],");
    }
    n += (size_t)snprintf(in->text + n, cap - n, "\"deep\":");
    for (int d = 0; d < 300; d++)
        in->text[n++] = '[';
    for (int d = 0; d < 300; d++)
        in->text[n++] = ']';
    n += (size_t)snprintf(in->text + n, cap - n, "}");
    assert_true(n < cap);
    in->len = n;
}

static void test_jr(void **state)
{
    (void)state;
    static const char *const files[] = {
        CASES "/valid/patient-full/input.json",
        "samples/golden/bundles/patient-00000002.json",
        CASES "/json/single-quotes/input.json",
        CASES "/valid/transaction/input.json",
    };
    jr_case c = {.n_inputs = 6, .file = files[0]};
    for (size_t i = 0; i < 4; i++)
        read_input(&c.inputs[i], files[i]);
    make_input(&c.inputs[4], 500, 0);
    make_input(&c.inputs[5], 500, 1);
    oom_sweep("fg_jr_parse", op_jr, &c, 8);
    for (size_t i = 0; i < c.n_inputs; i++)
        free(c.inputs[i].text);
}

/* ---- (b) the registry ---------------------------------------------------------------------- */

typedef struct registry_case {
    const char *cache;   /* the package cache */
    const char *package; /* NULL: the compact core only */
    int no_core;         /* the package alone */
} registry_case;

/* An element, its binding (and whether its value set expanded), its fixed
 * and pattern values, its constraints (and whether they compiled), its
 * slices and its children. */
static void mix_elem(uint64_t *h, const fg_elem *e, int depth)
{
    mix_num(h, e != NULL);
    if (!e || depth > 64)
        return;
    mix_str(h, e->id);
    mix_num(h, e->binding);
    mix_str(h, e->binding_vs);
    mix_num(h, e->binding_exp != NULL);
    if (e->binding_exp) {
        mix_num(h, fg_valueset_status(e->binding_exp));
        mix_str(h, fg_valueset_note(e->binding_exp));
    }
    mix_tree(h, e->fixed, 0);
    mix_tree(h, e->pattern, 0);
    mix_num(h, e->n_constraints);
    for (size_t i = 0; i < e->n_constraints; i++)
        mix_num(h, e->constraints[i].compiled != NULL);
    mix_num(h, e->n_slices);
    for (size_t i = 0; i < e->n_slices; i++)
        mix_elem(h, e->slices[i], depth + 1);
    mix_num(h, e->n_children);
    for (size_t i = 0; i < e->n_children; i++)
        mix_elem(h, e->children[i], depth + 1);
}

static void mix_registry(uint64_t *h, const fg_registry *reg)
{
    size_t s, v, c;
    fg_registry_counts(reg, &s, &v, &c);
    mix_num(h, s);
    mix_num(h, v);
    mix_num(h, c);
    for (size_t i = 0; i < fg_registry_note_count(reg); i++)
        mix_str(h, fg_registry_note(reg, i));
    for (size_t i = 0; i < fg_registry_structure_count(reg); i++) {
        const fg_structure *st = fg_registry_structure_at(reg, i);
        mix_str(h, st->url);
        mix_elem(h, st->root, 0);
    }
}

/* The calls of cli/validate_load.c: the core (unless no_core), then
 * `package` (or NULL) from the package cache `cache`. */
static int load_registry(const char *cache, const char *package, int no_core, fg_registry **out,
                         fg_error *err)
{
    fg_registry *reg = NULL;
    int rc = fg_registry_new(&reg, err);
    if (rc == FG_OK && !no_core)
        rc = fg_registry_load_core(reg, fg_data_dir(), err);
    if (rc == FG_OK && package)
        rc = fg_registry_load_package(reg, cache, package, err);
    if (rc == FG_OK)
        rc = fg_registry_finish(reg, err);
    if (rc == FG_OK)
        *out = reg;
    else
        fg_registry_free(reg);
    return rc;
}

static int op_registry(void *ud, uint64_t *digest, fg_error *err)
{
    const registry_case *c = ud;
    fg_registry *reg = NULL;
    int rc = load_registry(c->cache, c->package, c->no_core, &reg, err);
    if (rc != FG_OK)
        return rc;
    *digest = 1469598103934665603ull;
    mix_registry(digest, reg);
    fg_registry_free(reg);
    return FG_OK;
}

static int have_uscore(void)
{
    return access(SHARED_PACKAGES "/" USCORE "/package/package.json", R_OK) == 0;
}

static void test_registry_core(void **state)
{
    (void)state;
    registry_case c = {NULL, NULL, 0};
    oom_sweep("registry (R4 core)", op_registry, &c, 8);
}

/* A small package alone (its index is built in memory): cheap enough that
 * every allocation of package loading and compiling is failed in turn. */
static void test_registry_package(void **state)
{
    (void)state;
    registry_case c = {CASES "/packages", "fhirgen.test.validate#0.1.0", 1};
    oom_sweep("registry (test package alone)", op_registry, &c, 6);
}

static void test_registry_uscore(void **state)
{
    (void)state;
    if (!have_uscore()) {
        print_message("US Core is not in %s: its registry load is not tested\n", SHARED_PACKAGES);
        skip();
    }
    registry_case c = {SHARED_PACKAGES, USCORE, 0};
    oom_sweep("registry (R4 core + US Core)", op_registry, &c, 8);
}

/* ---- (c) the validator --------------------------------------------------------------------- */

typedef struct validate_case {
    const fg_registry *reg;
    input inputs[8];
    size_t n_inputs;
    json_t *first; /* inputs[0] read by jansson (a valid resource) */
    /* of the first run, without failure */
    uint64_t want_issues[10], want_outcome[10], want_notes;
    int have_want;
} validate_case;

static void mix_issues(uint64_t *h, const fg_issue_list *l)
{
    for (size_t i = 0; oom_verbose() && i < l->count; i++)
        fprintf(stderr, "  %s %s %s: %s\n", fg_severity_name(l->items[i].severity),
                fg_check_name(l->items[i].check), l->items[i].path, l->items[i].message);
    mix_num(h, l->count);
    mix_num(h, l->errors);
    mix_num(h, l->warnings);
    for (size_t i = 0; i < l->count; i++) {
        const fg_issue *is = &l->items[i];
        mix_num(h, (uint64_t)is->severity);
        mix_num(h, (uint64_t)is->check);
        mix_str(h, is->type);
        mix_str(h, is->path);
        mix_str(h, is->message);
        mix_str(h, is->rule);
        mix_num(h, (uint64_t)is->line);
        mix_num(h, (uint64_t)is->column);
    }
}

static int mix_dumped(const char *buffer, size_t size, void *data)
{
    mix_bytes(data, buffer, size);
    return 0;
}

/* The OperationOutcome of `l` as compact text, mixed into *h; FG_ENOMEM
 * when it could not be made. The text goes straight into the digest:
 * json_dumps can lose an object key when its buffer cannot grow (jansson's
 * dump ignores what writing a key returns). */
static int mix_outcome(uint64_t *h, const fg_issue_list *l)
{
    json_t *oo = fg_issue_list_outcome(l);
    int rc = oo && json_dump_callback(oo, mix_dumped, h, JSON_COMPACT | JSON_SORT_KEYS) == 0;
    json_decref(oo);
    return rc ? FG_OK : FG_ENOMEM;
}

/* Validator construction, then each input validated and its issues
 * written as an OperationOutcome. Each input's issues, its outcome and the
 * not-checked list are compared apart with the run without failure, so
 * that a run which goes wrong says where. */
static int op_validate(void *ud, uint64_t *digest, fg_error *err)
{
    validate_case *c = ud;
    fg_validator *v = NULL;
    fg_issue_list l = {0};
    uint64_t all = 1469598103934665603ull, notes = all;
    const char *differs = NULL;
    size_t at = 0;
    fg_arena scratch;
    fg_arena_init(&scratch);
    int rc = fg_validator_new(c->reg, NULL, &v, err);
    /* Every input through one scratch arena, as a worker does, then the
     * first through the plain and jansson entry points. */
    for (size_t j = 0; rc == FG_OK && j < c->n_inputs + 2; j++) {
        size_t i = j < c->n_inputs ? j : 0;
        const input *in = &c->inputs[i];
        uint64_t issues = 1469598103934665603ull, outcome = issues;
        fg_issue_list_clear(&l);
        if (j < c->n_inputs)
            rc = fg_validate_bytes_arena(v, &scratch, in->text, in->len, &l, err);
        else if (j == c->n_inputs)
            rc = fg_validate_bytes(v, in->text, in->len, &l, err);
        else
            rc = fg_validate_json(v, c->first, &l, err);
        if (rc == FG_OK)
            mix_issues(&issues, &l);
        if (rc == FG_OK && (rc = mix_outcome(&outcome, &l)) != FG_OK)
            fg_error_set(err, rc, "fg_issue_list_outcome", "out of memory");
        if (rc != FG_OK)
            break;
        if (!c->have_want) {
            c->want_issues[j] = issues;
            c->want_outcome[j] = outcome;
        } else if (!differs && issues != c->want_issues[j]) {
            int json = l.count > 0 && l.items[0].check == FG_CHECK_JSON;
            differs = json ? "reported as not JSON" : "different issues";
            at = j;
        } else if (!differs && outcome != c->want_outcome[j]) {
            differs = "a different OperationOutcome";
            at = j;
        }
        mix_num(&all, issues ^ outcome);
    }
    size_t n_notes = rc == FG_OK ? fg_validator_not_checked_count(v) : 0;
    for (size_t i = 0; i < n_notes; i++)
        mix_str(&notes, fg_validator_not_checked(v, i));
    fg_issue_list_free(&l);
    fg_validator_free(v);
    fg_arena_free(&scratch);
    if (rc != FG_OK)
        return rc;
    if (!c->have_want) {
        c->want_notes = notes;
        c->have_want = 1;
    } else if (!differs && notes != c->want_notes) {
        differs = "a different not-checked list";
    }
    if (differs)
        fg_error_set(err, FG_OK, "validator", "input %zu: %s", at, differs);
    *digest = all ^ (notes * 31);
    return FG_OK;
}

/* Validate `files` with a registry of the core and `package` from `cache`. */
static void sweep_validate(const char *name, const char *cache, const char *package,
                           const char *const *files, size_t n_files, double budget)
{
    validate_case c = {0};
    fg_error err;
    assert_true(n_files <= sizeof c.inputs / sizeof c.inputs[0]);
    for (c.n_inputs = 0; c.n_inputs < n_files; c.n_inputs++)
        read_input(&c.inputs[c.n_inputs], files[c.n_inputs]);
    fg_registry *reg = NULL;
    assert_int_equal(load_registry(cache, package, 0, &reg, &err), FG_OK);
    c.reg = reg;
    c.first = json_loadb(c.inputs[0].text, c.inputs[0].len, 0, NULL);
    assert_non_null(c.first);
    oom_sweep(name, op_validate, &c, budget);
    json_decref(c.first);
    fg_registry_free(reg);
    for (size_t i = 0; i < c.n_inputs; i++)
        free(c.inputs[i].text);
}

static void test_validate_core(void **state)
{
    (void)state;
    static const char *const files[] = {
        CASES "/valid/patient-full/input.json",
        CASES "/valid/transaction/input.json",
        CASES "/valid/bp/input.json",
        CASES "/binding/gender-man/input.json",
        CASES "/invariant/obs-6-value-and-absent/input.json",
        CASES "/bundle/duplicate-fullurl/input.json",
        CASES "/format/datetime-bad-offset/input.json",
        CASES "/json/single-quotes/input.json",
    };
    sweep_validate("validator (R4 core)", NULL, NULL, files, sizeof files / sizeof files[0], 8);
}

/* The test profiles of tests/data/validate/packages: closed and ordered
 * slicing, fixed and pattern values. */
static void test_validate_profiles(void **state)
{
    (void)state;
    static const char *const files[] = {
        CASES "/valid/testpatient/input.json",
        CASES "/slicing/closed-third-unknown/input.json",
        CASES "/slicing/ordered-wrong-order/input.json",
        CASES "/slicing/in-bundle/input.json",
        CASES "/fixed/testpatient-name-use/input.json",
        CASES "/cardinality/testpatient-two-mrn/input.json",
    };
    sweep_validate("validator (test profiles)", CASES "/packages", "fhirgen.test.validate#0.1.0",
                   files, sizeof files / sizeof files[0], 6);
}

static void test_validate_uscore(void **state)
{
    (void)state;
    if (!have_uscore()) {
        print_message("US Core is not in %s: validation against it is not tested\n",
                      SHARED_PACKAGES);
        skip();
    }
    static const char *const files[] = {
        CASES "/valid/uscore-patient/input.json",
        "samples/golden/bundles/patient-00000002.json",
        CASES "/fixed/uscore-pregnancy-code/input.json",
    };
    sweep_validate("validator (US Core)", SHARED_PACKAGES, USCORE, files,
                   sizeof files / sizeof files[0], 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jr),
        cmocka_unit_test(test_registry_core),
        cmocka_unit_test(test_registry_package),
        cmocka_unit_test(test_registry_uscore),
        cmocka_unit_test(test_validate_core),
        cmocka_unit_test(test_validate_profiles),
        cmocka_unit_test(test_validate_uscore),
    };
    if (getenv("FG_OOM_TEST"))
        cmocka_set_test_filter(getenv("FG_OOM_TEST"));
    int failures = cmocka_run_group_tests(tests, oom_setup, NULL);
    oom_report_unmet();
    return failures;
}

#else /* OOM_SANITIZED */

int main(void)
{
    printf("skipped: AddressSanitizer replaces malloc, which this test must interpose\n");
    return 77;
}

#endif
