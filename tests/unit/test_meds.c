/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_meds.c: the reconciled medication list, checked over a cohort
 * against the engine's own formulary: no two drugs of one group at once,
 * a child's form under the child-form age, no teratogen once a pregnancy
 * is known, a prior that is an earlier order, and a dispense on every
 * long-term order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fhir/base/fg_data.h"
#include "generators/engine/episodes_private.h"
#include "generators/engine/meds_private.h"
#include "generators/history/fg_history.h"

#define COHORT 400

static fg_engine *engine;

static int setup(void **state)
{
    (void)state;
    fg_cohort_spec spec;
    fg_error err = {0};
    fg_cohort_spec_default_at(&spec, 1767225600); /* 2026-01-01 */
    spec.seed = 2026;
    if (fg_engine_new(fg_data_dir(), &spec, &engine, &err) != FG_OK)
        fail_msg("fg_engine_new: %s: %s", err.where, err.text);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fg_engine_free(engine);
    return 0;
}

static int overlap(const fg_medication *a, const fg_medication *b)
{
    return (b->end == FG_TIME_NONE || a->start < b->end) &&
           (a->end == FG_TIME_NONE || b->start < a->end);
}

static void check_groups(const fg_history *h, uint64_t p)
{
    const struct eng_formulary *f = engine->formulary;
    for (size_t i = 0; i < h->medications.n; i++) {
        const fg_medication *a = &h->medications.v[i];
        const eng_drug *da = meds_drug(f, a->term.code);
        for (size_t j = i + 1; da && j < h->medications.n; j++) {
            const fg_medication *b = &h->medications.v[j];
            const eng_drug *db = meds_drug(f, b->term.code);
            if (!db || !overlap(a, b))
                continue;
            if (strcmp(da->ingredient, db->ingredient) == 0 ||
                (*da->group && strcmp(da->group, db->group) == 0))
                fail_msg("patient %llu takes %s and %s together", (unsigned long long)p,
                         a->term.display, b->term.display);
        }
    }
}

static void check_children_and_orders(const fg_history *h, uint64_t p)
{
    const struct eng_formulary *f = engine->formulary;
    for (size_t i = 0; i < h->medications.n; i++) {
        const fg_medication *m = &h->medications.v[i];
        const eng_drug *d = meds_drug(f, m->term.code);
        double age = (double)(m->start - h->patient.birth_date) / (FG_YEAR_DAYS * FG_DAY);
        assert_non_null(d);
        if (age < f->child_age && !d->under6)
            fail_msg("patient %llu gets %s at %.1f years", (unsigned long long)p,
                     m->term.display, age);
        int found = !m->prior;
        for (size_t k = 0; k < i && !found; k++)
            found = strcmp(h->medications.v[k].id, m->prior) == 0;
        if (!found)
            fail_msg("patient %llu: the prior of %s is no earlier order", (unsigned long long)p,
                     m->id);
        if (d->supply_days > 0 && !m->as_needed &&
            (m->quantity <= 0 || m->valid_until == FG_TIME_NONE || m->valid_until < m->start))
            fail_msg("patient %llu: %s has no dispense", (unsigned long long)p, m->term.display);
        if (m->end != FG_TIME_NONE && m->end < m->start)
            fail_msg("patient %llu: %s ends before it starts", (unsigned long long)p, m->id);
    }
}

/* Returns the number of pregnancies seen. */
static int check_pregnancies(const fg_history *h, uint64_t p)
{
    const char *code = engine->episodes->pregnancy.condition.code;
    int n = 0;
    for (size_t i = 0; i < h->conditions.n; i++) {
        const fg_condition *c = &h->conditions.v[i];
        if (strcmp(c->term.code, code) != 0)
            continue;
        const fg_encounter *e = fg_history_encounter(h, c->encounter);
        assert_non_null(e);
        fg_medication span = {.start = e->start, .end = c->abatement};
        n++;
        for (size_t k = 0; k < h->medications.n; k++) {
            const fg_medication *m = &h->medications.v[k];
            const eng_drug *d = meds_drug(engine->formulary, m->term.code);
            if (d && d->teratogen && overlap(m, &span))
                fail_msg("patient %llu takes %s while known pregnant", (unsigned long long)p,
                         m->term.display);
        }
    }
    return n;
}

static void test_reconciled_cohort(void **state)
{
    (void)state;
    fg_history h;
    fg_error err = {0};
    int pregnancies = 0;
    size_t orders = 0, renewals = 0;
    fg_history_init(&h);
    for (uint64_t p = 0; p < COHORT; p++) {
        if (fg_engine_generate(engine, p, &h, &err) != FG_OK)
            fail_msg("patient %llu: %s: %s", (unsigned long long)p, err.where, err.text);
        check_groups(&h, p);
        check_children_and_orders(&h, p);
        pregnancies += check_pregnancies(&h, p);
        orders += h.medications.n;
        for (size_t i = 0; i < h.medications.n; i++)
            renewals += h.medications.v[i].prior != NULL;
    }
    fg_history_free(&h);
    assert_true(pregnancies > 10);
    assert_true(renewals > orders / 10);
    print_message("%zu orders, %zu renewing or replacing an earlier one, %d pregnancies\n", orders,
                  renewals, pregnancies);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reconciled_cohort),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
