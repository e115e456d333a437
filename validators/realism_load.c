/* SPDX-License-Identifier: Apache-2.0 */
/*
 * realism_load.c: the tables of the realism rules, read once.
 *
 *   tables/realism_codes.tsv           codes by role (match by code or display)
 *   tables/drug_classes.tsv            ingredient, class, flags
 *   tables/realism_targets.tsv         one row per rule: category, target, gate
 *   tables/gestational_weight_gain.tsv IOM 2009 gain by pre-pregnancy BMI
 *   tables/bmi_for_age.tsv             CDC 2000 BMI-for-age LMS
 *   tables/state_timezones.tsv         standard-time offset by state
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validators/realism_private.h"

static const char *const rule_ids[RZ_N_RULES] = {
    "med.ace_arb", "med.arni_ace", "med.same_class", "med.nsaid_ckd_hf", "med.metformin_egfr",
    "med.solid_child", "med.never_ends", "med.teratogen_pregnancy",
    "preg.caesarean_no_reason", "preg.delivery_not_procedure",
    "lab.creatinine_jump", "lab.egfr_creatinine", "lab.hct_hb_ratio", "lab.ckd_stage_egfr",
    "dx.obesity_no_bmi", "dx.weight_jump", "dx.htn_few_readings",
    "death.no_cause", "death.no_care",
    "time.off_hours", "time.same_day_visits", "time.split_immunizations",
    "vax.zoster_live_late", "vax.hpv4_late", "vax.hpv_three_doses",
    "child.head_shrinks",
    "dx.bmi_pileup", "hosp.ed_rate", "hosp.admission_rate", "hosp.admission_other",
    "preg.tdap", "preg.gain_in_range",
    "vax.covid_adults", "vax.rsv_75", "vax.zoster_rec_50", "vax.child_mmr", "vax.child_dtap4",
    "prev.colorectal", "prev.mammography", "prev.cervical", "prev.lipid", "prev.diabetes_screen",
    "prev.depression_screen", "prev.statin_diabetes", "prev.gerd_treated", "prev.af_anticoag",
    "prev.af_doac_share", "child.bmi_low", "child.bmi_high",
    "notes.distinct_words", "notes.no_soap", "notes.distinct_texts",
};

static const char *const role_names[RZ_N_ROLES] = {
    "creatinine", "egfr", "hemoglobin", "hematocrit", "bmi", "weight", "height", "bp_panel",
    "systolic", "diastolic", "hba1c", "glucose", "lipid", "phq", "head_circumference",
    "stool_test", "cervical_screening", "colonoscopy", "mammography", "ckd", "heart_failure",
    "obesity", "hypertension", "pregnancy", "diabetes", "gerd", "atrial_fibrillation",
    "delivery", "caesarean", "not_procedure", "hospice", "sudden_death", "tdap", "zoster_live",
    "zoster_recombinant", "hpv_quadrivalent", "hpv", "covid", "rsv", "mmr", "dtap",
    "form_solid", "form_child_ok", "note_subjective", "note_assessment", "note_plan",
    "unknown_cause",
};

/* A number cell, or NaN when empty. */
static int opt_double(fg_tsv *t, size_t row, size_t col, double *out, fg_error *err)
{
    if (!*fg_tsv_cell(t, row, col)) {
        *out = NAN;
        return FG_OK;
    }
    return fg_tsv_double(t, row, col, out, err);
}

static int open_table(fg_realism_rules *r, int slot, const char *datadir, const char *name,
                      fg_error *err)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof(path), "%s/tables/%s", datadir, name) >= sizeof(path))
        return fg_error_set(err, FG_ELIMIT, datadir, "path too long");
    return fg_tsv_load(path, &r->tabs[slot], err);
}

static int load_codes(fg_realism_rules *r, fg_error *err)
{
    fg_tsv *t = r->tabs[0];
    size_t cr, cs, cc, cd, cm, cl, ch;
    int rc;
    if ((rc = fg_tsv_col(t, "role", &cr, err)) || (rc = fg_tsv_col(t, "system_uri", &cs, err)) ||
        (rc = fg_tsv_col(t, "code", &cc, err)) || (rc = fg_tsv_col(t, "display", &cd, err)) ||
        (rc = fg_tsv_col(t, "match", &cm, err)) || (rc = fg_tsv_col(t, "lo", &cl, err)) ||
        (rc = fg_tsv_col(t, "hi", &ch, err)))
        return rc;
    r->n_codes = fg_tsv_rows(t);
    if (!(r->codes = calloc(r->n_codes + 1, sizeof(*r->codes))))
        return fg_error_set(err, FG_ENOMEM, fg_tsv_path(t), "out of memory");
    for (size_t i = 0; i < r->n_codes; i++) {
        rz_code *x = &r->codes[i];
        const char *role = fg_tsv_cell(t, i, cr), *match = fg_tsv_cell(t, i, cm);
        x->role = -1;
        for (int k = 0; k < RZ_N_ROLES; k++)
            if (strcmp(role, role_names[k]) == 0)
                x->role = k;
        if (x->role < 0)
            return fg_tsv_row_error(t, i, err, FG_EINVALID, "unknown role \"%s\"", role);
        if ((rc = opt_double(t, i, cl, &x->lo, err)) || (rc = opt_double(t, i, ch, &x->hi, err)))
            return rc;
        if (strcmp(match, "code") == 0) {
            x->system = fg_tsv_cell(t, i, cs);
            x->code = fg_tsv_cell(t, i, cc);
            if (!*x->system || !*x->code)
                return fg_tsv_row_error(t, i, err, FG_EINVALID, "match code needs a system and a code");
        } else if (strcmp(match, "display") == 0) {
            x->pattern = fg_tsv_cell(t, i, cd);
            if (!*x->pattern)
                return fg_tsv_row_error(t, i, err, FG_EINVALID, "match display needs a display");
        } else {
            return fg_tsv_row_error(t, i, err, FG_EINVALID, "match is \"code\" or \"display\"");
        }
    }
    return FG_OK;
}

static int class_index(fg_realism_rules *r, const char *name)
{
    for (size_t i = 0; i < r->n_classes; i++)
        if (strcmp(r->classes[i], name) == 0)
            return (int)i;
    r->classes[r->n_classes] = name;
    return (int)r->n_classes++;
}

static int find_class(const fg_realism_rules *r, const char *name)
{
    for (size_t i = 0; i < r->n_classes; i++)
        if (strcmp(r->classes[i], name) == 0)
            return (int)i;
    return -1;
}

static int load_drugs(fg_realism_rules *r, fg_error *err)
{
    fg_tsv *t = r->tabs[1];
    size_t ci, cc, cf;
    int rc;
    if ((rc = fg_tsv_col(t, "ingredient", &ci, err)) || (rc = fg_tsv_col(t, "class", &cc, err)) ||
        (rc = fg_tsv_col(t, "flags", &cf, err)))
        return rc;
    r->n_ings = fg_tsv_rows(t);
    r->ings = calloc(r->n_ings + 1, sizeof(*r->ings));
    r->classes = calloc(r->n_ings + 1, sizeof(*r->classes));
    if (!r->ings || !r->classes)
        return fg_error_set(err, FG_ENOMEM, fg_tsv_path(t), "out of memory");
    for (size_t i = 0; i < r->n_ings; i++) {
        rz_ingredient *x = &r->ings[i];
        const char *f = fg_tsv_cell(t, i, cf);
        x->name = fg_tsv_cell(t, i, ci);
        if (!*x->name || !*fg_tsv_cell(t, i, cc))
            return fg_tsv_row_error(t, i, err, FG_EINVALID, "a row needs an ingredient and a class");
        x->cls = class_index(r, fg_tsv_cell(t, i, cc));
        x->flags = (strstr(f, "teratogen") ? RZ_F_TERATOGEN : 0) |
                   (strstr(f, "strengths_ok") ? RZ_F_STRENGTHS_OK : 0) |
                   (strstr(f, "class_multi_ok") ? RZ_F_CLASS_MULTI_OK : 0);
    }
    r->cls_ace = find_class(r, "ace_inhibitor");
    r->cls_arb = find_class(r, "arb");
    r->cls_arni = find_class(r, "arni");
    r->cls_nsaid = find_class(r, "nsaid");
    r->cls_biguanide = find_class(r, "biguanide");
    r->cls_statin = find_class(r, "statin");
    r->cls_ppi = find_class(r, "ppi");
    r->cls_h2 = find_class(r, "h2_blocker");
    r->cls_doac = find_class(r, "doac");
    r->cls_vka = find_class(r, "vka");
    return FG_OK;
}

static int load_targets(fg_realism_rules *r, fg_error *err)
{
    fg_tsv *t = r->tabs[2];
    size_t ci, cc, ck, cd, cmin, cmax, csc, cg, cs;
    int rc;
    if ((rc = fg_tsv_col(t, "id", &ci, err)) || (rc = fg_tsv_col(t, "category", &cc, err)) ||
        (rc = fg_tsv_col(t, "kind", &ck, err)) || (rc = fg_tsv_col(t, "description", &cd, err)) ||
        (rc = fg_tsv_col(t, "target_min", &cmin, err)) ||
        (rc = fg_tsv_col(t, "target_max", &cmax, err)) || (rc = fg_tsv_col(t, "scale", &csc, err)) ||
        (rc = fg_tsv_col(t, "max_per_1000", &cg, err)) || (rc = fg_tsv_col(t, "source", &cs, err)))
        return rc;
    for (size_t i = 0; i < fg_tsv_rows(t); i++) {
        const char *id = fg_tsv_cell(t, i, ci);
        int k = 0;
        while (k < RZ_N_RULES && strcmp(rule_ids[k], id) != 0)
            k++;
        if (k == RZ_N_RULES)
            return fg_tsv_row_error(t, i, err, FG_EINVALID, "no rule is named \"%s\"", id);
        rz_target *x = &r->targets[k];
        x->id = rule_ids[k];
        x->category = fg_tsv_cell(t, i, cc);
        x->description = fg_tsv_cell(t, i, cd);
        x->source = fg_tsv_cell(t, i, cs);
        x->is_metric = strcmp(fg_tsv_cell(t, i, ck), "metric") == 0;
        if ((rc = opt_double(t, i, cmin, &x->min, err)) ||
            (rc = opt_double(t, i, cmax, &x->max, err)) ||
            (rc = opt_double(t, i, csc, &x->scale, err)) ||
            (rc = opt_double(t, i, cg, &x->gate, err)))
            return rc;
        if (x->is_metric != (k >= RZ_FIRST_METRIC))
            return fg_tsv_row_error(t, i, err, FG_EINVALID, "rule \"%s\" has the wrong kind", id);
        if (isnan(x->scale))
            x->scale = 1;
    }
    for (int k = 0; k < RZ_N_RULES; k++)
        if (!r->targets[k].id)
            return fg_error_set(err, FG_EINVALID, fg_tsv_path(t), "rule \"%s\" has no row",
                                rule_ids[k]);
    return FG_OK;
}

static int load_small(fg_realism_rules *r, fg_error *err)
{
    fg_tsv *g = r->tabs[3], *l = r->tabs[4], *z = r->tabs[5];
    size_t c0, c1, c2, c3, c4;
    int rc;
    if ((rc = fg_tsv_col(g, "bmi_min", &c0, err)) || (rc = fg_tsv_col(g, "bmi_max", &c1, err)) ||
        (rc = fg_tsv_col(g, "gain_min_kg", &c2, err)) || (rc = fg_tsv_col(g, "gain_max_kg", &c3, err)))
        return rc;
    for (size_t i = 0; i < fg_tsv_rows(g) && r->n_gwg < 8; i++) {
        rz_band *b = &r->gwg[r->n_gwg++];
        if ((rc = fg_tsv_double(g, i, c0, &b->lo, err)) || (rc = fg_tsv_double(g, i, c1, &b->hi, err)) ||
            (rc = fg_tsv_double(g, i, c2, &b->gain_min, err)) ||
            (rc = fg_tsv_double(g, i, c3, &b->gain_max, err)))
            return rc;
    }
    if ((rc = fg_tsv_col(l, "sex", &c0, err)) || (rc = fg_tsv_col(l, "agemos", &c1, err)) ||
        (rc = fg_tsv_col(l, "L", &c2, err)) || (rc = fg_tsv_col(l, "M", &c3, err)) ||
        (rc = fg_tsv_col(l, "S", &c4, err)))
        return rc;
    r->n_lms = fg_tsv_rows(l);
    if (!(r->lms = calloc(r->n_lms + 1, sizeof(*r->lms))))
        return fg_error_set(err, FG_ENOMEM, fg_tsv_path(l), "out of memory");
    for (size_t i = 0; i < r->n_lms; i++) {
        rz_lms *x = &r->lms[i];
        double sex;
        if ((rc = fg_tsv_double(l, i, c0, &sex, err)) || (rc = fg_tsv_double(l, i, c1, &x->agemos, err)) ||
            (rc = fg_tsv_double(l, i, c2, &x->l, err)) || (rc = fg_tsv_double(l, i, c3, &x->m, err)) ||
            (rc = fg_tsv_double(l, i, c4, &x->s, err)))
            return rc;
        x->sex = sex == 1 ? FG_SEX_MALE : FG_SEX_FEMALE;
    }
    if ((rc = fg_tsv_col(z, "usps", &c0, err)) || (rc = fg_tsv_col(z, "utc_offset_hours", &c1, err)) ||
        (rc = fg_tsv_col(z, "dst", &c2, err)))
        return rc;
    for (size_t i = 0; i < fg_tsv_rows(z) && r->n_tz < 64; i++) {
        double h;
        if ((rc = fg_tsv_double(z, i, c1, &h, err)))
            return rc;
        snprintf(r->tz_state[r->n_tz], 3, "%s", fg_tsv_cell(z, i, c0));
        r->tz_dst[r->n_tz] = strcmp(fg_tsv_cell(z, i, c2), "1") == 0;
        r->tz_offset[r->n_tz++] = (int)(h * 3600);
    }
    return FG_OK;
}

int rz_load_tables(fg_realism_rules *r, const char *datadir, fg_error *err)
{
    static const char *const names[6] = {"realism_codes.tsv", "drug_classes.tsv",
                                         "realism_targets.tsv", "gestational_weight_gain.tsv",
                                         "bmi_for_age.tsv", "state_timezones.tsv"};
    int rc;
    for (int i = 0; i < 6; i++)
        if ((rc = open_table(r, i, datadir, names[i], err)) != FG_OK)
            return rc;
    if ((rc = load_codes(r, err)) || (rc = load_drugs(r, err)) || (rc = load_targets(r, err)))
        return rc;
    return load_small(r, err);
}
