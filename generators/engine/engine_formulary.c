/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_formulary.c: reads the engine formulary (data/engine/formulary.tsv)
 * and the reconciliation rules (data/engine/medication_rules.tsv).
 *
 * Each formulary row becomes an eng_drug; the codes a row names for a
 * child's form, a pregnancy substitute or a contraindication substitute
 * must be rows of the formulary too, so every drug the reconciliation can
 * give is checked once, here. A bad row is refused naming its line.
 */
#include <stdlib.h>
#include <string.h>

#include "fhir/base/fg_tsv.h"
#include "generators/engine/engine_module.h"
#include "generators/engine/episodes_private.h"
#include "generators/engine/meds_private.h"

#define FORMULARY_FILE "engine/formulary.tsv"
#define RULES_FILE "engine/medication_rules.tsv"

enum {
    C_SYS, C_CODE, C_DISP, C_ING, C_CLASS, C_GROUP, C_SUPER, C_FORM, C_U6, C_CHILD, C_TERA,
    C_PREG, C_EGFR, C_NSAID, C_AVOID, C_SUBST, C_ALLERGY, C_DOSAGE, C_PER_DAY, C_DOSE, C_UNIT,
    C_SUPPLY, C_REFILLS, C_N
};

static const char *const col_names[C_N] = {
    "system_uri", "code", "display", "ingredient", "class", "group", "supersedes", "form",
    "under6", "child_code", "teratogen", "pregnancy_code", "egfr_min", "nsaid", "avoid_with",
    "substitute_code", "allergy", "dosage", "per_day", "dose", "dose_unit", "supply_days",
    "refills"};

static int drug_cmp(const void *a, const void *b)
{
    return strcmp(((const eng_drug *)a)->term.code, ((const eng_drug *)b)->term.code);
}

const eng_drug *meds_drug(const struct eng_formulary *f, const char *code)
{
    if (!f || !code)
        return NULL;
    eng_drug key = {.term = {.code = code}};
    return bsearch(&key, f->drugs, f->n, sizeof(*f->drugs), drug_cmp);
}

static int yes_no(const fg_tsv *t, size_t r, const char *cell, const char *col, int *out,
                  fg_error *err)
{
    if (strcmp(cell, "yes") == 0 || strcmp(cell, "1") == 0)
        *out = 1;
    else if (strcmp(cell, "no") == 0 || strcmp(cell, "0") == 0)
        *out = 0;
    else
        return fg_tsv_row_error(t, r, err, FG_EINVALID, "%s must be yes or no", col);
    return FG_OK;
}

static int whole(const fg_tsv *t, size_t r, size_t col, int lo, int hi, int *out, fg_error *err)
{
    double v;
    int rc = fg_tsv_double(t, r, col, &v, err);
    if (rc)
        return rc;
    if (v < lo || v > hi || v != (int)v)
        return fg_tsv_row_error(t, r, err, FG_EINVALID, "%s must be a whole number from %d to %d",
                                col_names[col], lo, hi);
    *out = (int)v;
    return FG_OK;
}

/* Split the module names of avoid_with (space-separated, in place). */
static int split_avoid(const fg_tsv *t, size_t r, char *s, eng_drug *d, fg_error *err)
{
    while (*s) {
        while (*s == ' ')
            *s++ = 0;
        if (!*s)
            break;
        if (d->n_avoid == MEDS_MAX_AVOID)
            return fg_tsv_row_error(t, r, err, FG_ELIMIT, "avoid_with names more than %d modules",
                                    MEDS_MAX_AVOID);
        d->avoid[d->n_avoid++] = s;
        while (*s && *s != ' ')
            s++;
    }
    return FG_OK;
}

static int read_drug(const fg_tsv *t, size_t r, const size_t *col, eng_drug *d, fg_error *err)
{
    const char *c[C_N];
    int rc;
    for (int k = 0; k < C_N; k++)
        c[k] = fg_tsv_cell(t, r, col[k]);
    if (strcmp(c[C_SYS], FG_SYS_RXNORM) != 0 || !*c[C_CODE] || !*c[C_DISP] || !*c[C_ING])
        return fg_tsv_row_error(t, r, err, FG_EINVALID,
                                "an RxNorm code, its display and an ingredient are required");
    d->term = (fg_term){c[C_SYS], c[C_CODE], c[C_DISP]};
    d->ingredient = c[C_ING];
    d->cls = c[C_CLASS];
    d->group = c[C_GROUP];
    d->allergy = *c[C_ALLERGY] ? c[C_ALLERGY] : NULL;
    d->dosage = *c[C_DOSAGE] ? c[C_DOSAGE] : NULL;
    d->dose_unit = c[C_UNIT];
    d->injected = strcmp(c[C_FORM], "injection") == 0;
    d->egfr_min = 0;
    if ((rc = yes_no(t, r, c[C_SUPER], "supersedes", &d->supersedes, err)) ||
        (rc = yes_no(t, r, c[C_U6], "under6", &d->under6, err)) ||
        (rc = yes_no(t, r, c[C_TERA], "teratogen", &d->teratogen, err)) ||
        (rc = yes_no(t, r, c[C_NSAID], "nsaid", &d->nsaid, err)) ||
        (rc = whole(t, r, col[C_DOSE], 1, 1000, &d->dose, err)) ||
        (rc = whole(t, r, col[C_SUPPLY], 0, 365, &d->supply_days, err)) ||
        (rc = whole(t, r, col[C_REFILLS], 0, 99, &d->refills, err)) ||
        (*c[C_EGFR] && (rc = fg_tsv_double(t, r, col[C_EGFR], &d->egfr_min, err))) ||
        (rc = split_avoid(t, r, (char *)c[C_AVOID], d, err)))
        return rc;
    d->per_day = -1;
    if (*c[C_PER_DAY] && (rc = whole(t, r, col[C_PER_DAY], 0, 24, &d->per_day, err)))
        return rc;
    if (d->dosage && d->per_day < 0)
        return fg_tsv_row_error(t, r, err, FG_EINVALID, "a dosage needs per_day");
    if (!*d->dose_unit)
        return fg_tsv_row_error(t, r, err, FG_EINVALID, "dose_unit is required");
    return FG_OK;
}

/* The formulary index of the drug a row names in column col, or -1 when
 * the cell is empty; a code that is no row is refused. */
static int link(const struct eng_formulary *f, size_t r, size_t col, const char *name, int *out,
                fg_error *err)
{
    const char *code = fg_tsv_cell(f->table, r, col);
    *out = -1;
    if (!*code)
        return FG_OK;
    const eng_drug *d = meds_drug(f, code);
    if (!d)
        return fg_tsv_row_error(f->table, r, err, FG_EINVALID, "%s %s is not a formulary row",
                                name, code);
    *out = (int)(d - f->drugs);
    return FG_OK;
}

static int load_drugs(struct eng_formulary *f, fg_error *err)
{
    size_t col[C_N], code_col;
    int rc;
    for (int k = 0; k < C_N; k++)
        if ((rc = fg_tsv_col(f->table, col_names[k], &col[k], err)))
            return rc;
    code_col = col[C_CODE];
    f->n = fg_tsv_rows(f->table);
    f->drugs = calloc(f->n ? f->n : 1, sizeof(*f->drugs));
    if (!f->drugs)
        return fg_error_set(err, FG_ENOMEM, FORMULARY_FILE, "out of memory");
    for (size_t r = 0; r < f->n; r++)
        if ((rc = read_drug(f->table, r, col, &f->drugs[r], err)))
            return rc;
    qsort(f->drugs, f->n, sizeof(*f->drugs), drug_cmp);
    for (size_t i = 1; i < f->n; i++)
        if (strcmp(f->drugs[i - 1].term.code, f->drugs[i].term.code) == 0)
            return fg_error_set(err, FG_EINVALID, FORMULARY_FILE, "code %s is listed twice",
                                f->drugs[i].term.code);
    for (size_t r = 0; r < f->n; r++) {
        eng_drug *d = (eng_drug *)meds_drug(f, fg_tsv_cell(f->table, r, code_col));
        if ((rc = link(f, r, col[C_CHILD], "child_code", &d->child, err)) ||
            (rc = link(f, r, col[C_PREG], "pregnancy_code", &d->pregnancy, err)) ||
            (rc = link(f, r, col[C_SUBST], "substitute_code", &d->substitute, err)))
            return rc;
    }
    return FG_OK;
}

static int rule_text(const fg_tsv *t, const char *key, const char *col_name, const char **out,
                     fg_error *err)
{
    size_t ck, cv;
    int rc;
    if ((rc = fg_tsv_col(t, "key", &ck, err)) || (rc = fg_tsv_col(t, col_name, &cv, err)))
        return rc;
    for (size_t r = 0; r < fg_tsv_rows(t); r++)
        if (strcmp(fg_tsv_cell(t, r, ck), key) == 0 && *fg_tsv_cell(t, r, cv)) {
            *out = fg_tsv_cell(t, r, cv);
            return FG_OK;
        }
    return fg_error_set(err, FG_EINVALID, RULES_FILE, "no %s for %s", col_name, key);
}

static int load_rules(struct eng_formulary *f, fg_error *err)
{
    const fg_tsv *t = f->rules;
    int rc;
    f->egfr_lab.system = NULL;
    if ((rc = eng_param(t, "child_form_age", &f->child_age, err)) ||
        (rc = eng_param(t, "egfr_lab_days", &f->egfr_lab_days, err)) ||
        (rc = eng_param(t, "renew_early_days", &f->renew_early_days, err)) ||
        (rc = rule_text(t, "egfr_lab", "system_uri", &f->egfr_lab.system, err)) ||
        (rc = rule_text(t, "egfr_lab", "code", &f->egfr_lab.code, err)) ||
        (rc = rule_text(t, "egfr_lab", "display", &f->egfr_lab.display, err)))
        return rc;
    return FG_OK;
}

static int unlisted(const char *where, const fg_term *t, fg_error *err)
{
    return fg_error_set(err, FG_EINVALID, FORMULARY_FILE, "%s prescribes %s (%s), which is no row",
                        where, t->code, t->display);
}

/* Every drug a condition module or an acute episode can prescribe is a
 * formulary row, so every order is reconciled. */
static int check_covered(const fg_engine *e, const struct eng_formulary *f, fg_error *err)
{
    const struct eng_modules *ms = e->modules;
    const struct eng_episodes *x = e->episodes;
    for (size_t i = 0; ms && i < ms->n; i++)
        for (size_t l = 0; l < ms->mods[i].n_lines; l++)
            for (size_t d = 0; d < ms->mods[i].lines[l].n_drugs; d++)
                if (!meds_drug(f, ms->mods[i].lines[l].drugs[d].term.code))
                    return unlisted(ms->mods[i].file, &ms->mods[i].lines[l].drugs[d].term, err);
    for (size_t i = 0; x && i < x->n_episodes; i++)
        for (size_t m = 0; m < x->episodes[i].n_meds; m++)
            for (size_t o = 0; o < x->episodes[i].meds[m].n_opts; o++)
                if (!meds_drug(f, x->episodes[i].meds[m].opts[o].term.code))
                    return unlisted(x->episodes[i].name, &x->episodes[i].meds[m].opts[o].term,
                                    err);
    return FG_OK;
}

void eng_formulary_free(struct eng_formulary *f)
{
    if (!f)
        return;
    fg_tsv_free(f->table);
    fg_tsv_free(f->rules);
    free(f->drugs);
    free(f);
}

int eng_formulary_load(fg_engine *e, fg_error *err)
{
    struct eng_formulary *f = calloc(1, sizeof(*f));
    int rc;
    if (!f)
        return fg_error_set(err, FG_ENOMEM, FORMULARY_FILE, "out of memory");
    if ((rc = eng_table_load(e, FORMULARY_FILE, &f->table, err)) ||
        (rc = eng_table_load(e, RULES_FILE, &f->rules, err)) || (rc = load_drugs(f, err)) ||
        (rc = load_rules(f, err)) || (rc = check_covered(e, f, err))) {
        eng_formulary_free(f);
        return rc;
    }
    e->formulary = f;
    return FG_OK;
}
