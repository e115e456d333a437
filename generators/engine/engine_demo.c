/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_demo.c: who the patient is (demographics, care team) and when they
 * die.
 *
 * Tables (data/tables/, each naming its source) are read once into arrays
 * of cumulative weights; a patient costs a handful of bisections and no
 * allocation outside the history's arena.
 *
 * Age and sex: the cohort is drawn from the 2024 age/sex pyramid as ages at
 * the cohort's `end` (a band, then a uniform age inside it; in the open 85+
 * band ages 85..110 are weighted by the life table's survivors l(x)), and
 * the birth date is uniform within the year that gives that age at `end`.
 * Death: over the history window, year by year, the patient dies with the
 * 2023 life table's q(x) for their sex and age that year, times the relative
 * risk of their conditions. So the cohort, counted by age at `end` from the
 * birth date, follows the census pyramid exactly; the living part of it is
 * slightly younger (decedents are mostly old), and a share of about the
 * population's crude death rate per year of window dies during it. For the
 * open interval 100+ the table's q = 1 is replaced by 1 - exp(-1/e(100)).
 *
 * Identifiers: MRN "FG" + the index (unique in a cohort); SSN a bijection
 * of the index onto the 989,901 numbers of the 999 area (index * 104729 +
 * an offset from the seed, modulo the space); past that many patients no
 * SSN is written, since it could no longer be unique. Phone numbers are in
 * 555-0100..555-0199, the range the North American Numbering Plan keeps
 * for fiction.
 *
 * Providers: a directory derived from the cohort seed (never the patient):
 * per state one clinic per city (its name "<City> Family Medicine"), one
 * hospital in the largest city, each with an Organization, a Location and a
 * few Practitioners, all with fixed ids and NPIs. The patient's clinic is
 * the one of their city.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include "generators/engine/fg_ids.h"
#include "generators/engine/fg_engine.h"
#include "generators/engine/engine_private.h"

#define N_AGES (FG_MAX_AGE + 1)
#define N_SURNAME_GROUPS 6 /* white, black, api, aian, 2prace, hispanic */
#define MAX_NAME_SEGMENTS 64
#define MAX_STATES 64
#define MAX_CITIES 8
#define MAX_PRACT 8
#define SSN_STRIDE 104729ULL /* prime, coprime with FG_SSN_SPACE = 3^4 * 11^2 * 101 */
#define NPI_STRIDE 7919ULL   /* prime, coprime with the 2e8 NPI values fg_npi_format uses */

typedef struct site {
    fg_organization org;
    fg_location loc;
    fg_practitioner pr[MAX_PRACT];
    int n_pr;
} site;

typedef struct state_dir {
    const char *usps;
    fg_tz tz;               /* the state's dominant time zone */
    size_t city0, n_cities; /* rows of the cities table */
    site clinic[MAX_CITIES]; /* one per city */
    site hospital;
} state_dir;

typedef struct name_seg {
    int year_from, year_to, sex;
    size_t start, n;
} name_seg;

struct eng_demo {
    fg_tsv *age_sex, *life, *race, *given_t, *surnames, *states, *cities, *streets, *params;
    fg_arena pool; /* directory strings */
    double age_cum[2 * N_AGES];
    double qx[2][N_AGES];
    /* race and ethnicity */
    double *race_cum;
    const char **eth_code, **eth_disp, **race_code, **race_disp;
    int *race_group;
    /* names */
    const char **given;
    double *given_cum;
    name_seg seg[MAX_NAME_SEGMENTS];
    size_t n_seg;
    const char **surname;
    double *sur_cum[N_SURNAME_GROUPS + 1]; /* last: everyone */
    size_t n_sur;
    /* places */
    state_dir dir[MAX_STATES];
    size_t n_states;
    double state_cum[MAX_STATES];
    const char **city, **zip;
    size_t n_streets;
    /* parameters */
    double spanish, middle, married[5], divorced[5], widowed[5];
};

static const char *marital_band_key[5] = {"18_29", "30_44", "45_64", "65_79", "80_plus"};

void eng_demo_free(struct eng_demo *d)
{
    if (!d)
        return;
    fg_tsv *t[] = {d->age_sex, d->life,   d->race,    d->given_t, d->surnames,
                   d->states,  d->cities, d->streets, d->params};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        fg_tsv_free(t[i]);
    fg_arena_free(&d->pool);
    free(d->race_cum);
    free(d->eth_code);
    free(d->eth_disp);
    free(d->race_code);
    free(d->race_disp);
    free(d->race_group);
    free(d->given);
    free(d->given_cum);
    free(d->surname);
    for (int i = 0; i <= N_SURNAME_GROUPS; i++)
        free(d->sur_cum[i]);
    free(d->city);
    free(d->zip);
    free(d);
}

static int sex_of(const char *s)
{
    return strcmp(s, "male") == 0 ? FG_SEX_MALE : FG_SEX_FEMALE;
}

/* ---- loading ---- */

static int load_life(struct eng_demo *d, fg_error *err)
{
    const fg_tsv *t = d->life;
    size_t cq[2], ce[2];
    double e100[2] = {2, 2};
    int rc;
    if ((rc = fg_tsv_col(t, "qx_female", &cq[0], err)) || (rc = fg_tsv_col(t, "qx_male", &cq[1], err)) ||
        (rc = fg_tsv_col(t, "ex_female", &ce[0], err)) || (rc = fg_tsv_col(t, "ex_male", &ce[1], err)))
        return rc;
    if (fg_tsv_rows(t) != 101)
        return fg_error_set(err, FG_EINVALID, fg_tsv_path(t), "expected ages 0..100, found %zu rows",
                            fg_tsv_rows(t));
    for (size_t r = 0; r < fg_tsv_rows(t); r++)
        for (int s = 0; s < 2; s++) {
            if ((rc = fg_tsv_double(t, r, cq[s], &d->qx[s][r], err)))
                return rc;
            if (r == 100 && (rc = fg_tsv_double(t, r, ce[s], &e100[s], err)))
                return rc;
        }
    /* the open interval 100+: a yearly hazard from its life expectancy */
    for (int s = 0; s < 2; s++)
        for (int a = 100; a < N_AGES; a++)
            d->qx[s][a] = 1.0 - exp(-1.0 / (e100[s] > 0.1 ? e100[s] : 0.1));
    return FG_OK;
}

double eng_demo_qx(const struct eng_demo *d, int sex, int age)
{
    if (age < 0)
        age = 0;
    if (age >= N_AGES)
        age = N_AGES - 1;
    return d->qx[sex == FG_SEX_MALE][age];
}

static int load_pyramid(struct eng_demo *d, const fg_cohort_spec *spec, fg_error *err)
{
    const fg_tsv *t = d->age_sex, *lt = d->life;
    size_t c0, c1, cs, cp, cl[2];
    double w[2][N_AGES] = {{0}}, lx[2][N_AGES];
    int rc;
    if ((rc = fg_tsv_col(t, "age_min", &c0, err)) || (rc = fg_tsv_col(t, "age_max", &c1, err)) ||
        (rc = fg_tsv_col(t, "sex", &cs, err)) || (rc = fg_tsv_col(t, "pct_of_total", &cp, err)) ||
        (rc = fg_tsv_col(lt, "lx_female", &cl[0], err)) || (rc = fg_tsv_col(lt, "lx_male", &cl[1], err)))
        return rc;
    for (int s = 0; s < 2; s++) {
        for (int a = 0; a <= 100; a++)
            if ((rc = fg_tsv_double(lt, (size_t)a, cl[s], &lx[s][a], err)))
                return rc;
        for (int a = 101; a < N_AGES; a++)
            lx[s][a] = lx[s][a - 1] * (1.0 - d->qx[s][a - 1]);
    }
    for (size_t r = 0; r < fg_tsv_rows(t); r++) {
        double lo, hi, pct;
        int s = sex_of(fg_tsv_cell(t, r, cs));
        if ((rc = fg_tsv_double(t, r, c0, &lo, err)) || (rc = fg_tsv_double(t, r, cp, &pct, err)))
            return rc;
        if (*fg_tsv_cell(t, r, c1)) {
            if ((rc = fg_tsv_double(t, r, c1, &hi, err)))
                return rc;
            for (int a = (int)lo; a <= (int)hi && a < N_AGES; a++)
                w[s][a] += pct / (hi - lo + 1);
        } else { /* open band: survivors-weighted */
            double sum = 0;
            for (int a = (int)lo; a < N_AGES; a++)
                sum += lx[s][a];
            for (int a = (int)lo; a < N_AGES; a++)
                w[s][a] += pct * lx[s][a] / sum;
        }
    }
    double acc = 0;
    for (int s = 0; s < 2; s++)
        for (int a = 0; a < N_AGES; a++) {
            if ((spec->sex < 0 || spec->sex == s) && a >= spec->age_min && a <= spec->age_max)
                acc += w[s][a];
            d->age_cum[s * N_AGES + a] = acc;
        }
    if (acc <= 0)
        return fg_error_set(err, FG_EUSAGE, "age", "no population in ages %d-%d for this sex",
                            spec->age_min, spec->age_max);
    return FG_OK;
}

static int load_race(struct eng_demo *d, fg_error *err)
{
    const fg_tsv *t = d->race;
    size_t ce, ced, cr, crd, cp, ck;
    int rc;
    if ((rc = fg_tsv_col(t, "ethnicity_code", &ce, err)) ||
        (rc = fg_tsv_col(t, "ethnicity_display", &ced, err)) ||
        (rc = fg_tsv_col(t, "race_code", &cr, err)) || (rc = fg_tsv_col(t, "race_display", &crd, err)) ||
        (rc = fg_tsv_col(t, "population", &cp, err)) || (rc = fg_tsv_col(t, "kind", &ck, err)))
        return rc;
    size_t n = fg_tsv_rows(t);
    d->race_cum = calloc(n + 1, sizeof(double));
    d->eth_code = calloc(n + 1, sizeof(char *));
    d->eth_disp = calloc(n + 1, sizeof(char *));
    d->race_code = calloc(n + 1, sizeof(char *));
    d->race_disp = calloc(n + 1, sizeof(char *));
    d->race_group = calloc(n + 1, sizeof(int));
    if (!d->race_cum || !d->eth_code || !d->eth_disp || !d->race_code || !d->race_disp || !d->race_group)
        return fg_error_set(err, FG_ENOMEM, fg_tsv_path(t), "out of memory");
    double acc = 0;
    for (size_t r = 0; r < n; r++) {
        double p;
        if ((rc = fg_tsv_double(t, r, cp, &p, err)))
            return rc;
        acc += p;
        d->race_cum[r] = acc;
        d->eth_code[r] = fg_tsv_cell(t, r, ce);
        d->eth_disp[r] = fg_tsv_cell(t, r, ced);
        d->race_code[r] = fg_tsv_cell(t, r, cr);
        d->race_disp[r] = fg_tsv_cell(t, r, crd);
        const char *rc_ = d->race_code[r];
        int g = 4;
        if (strcmp(d->eth_code[r], "2135-2") == 0)
            g = 5;
        else if (strcmp(fg_tsv_cell(t, r, ck), "two_or_more") == 0)
            g = 4;
        else if (strcmp(rc_, "2106-3") == 0)
            g = 0;
        else if (strcmp(rc_, "2054-5") == 0)
            g = 1;
        else if (strcmp(rc_, "2028-9") == 0 || strcmp(rc_, "2076-8") == 0)
            g = 2;
        else if (strcmp(rc_, "1002-5") == 0)
            g = 3;
        d->race_group[r] = g;
    }
    if (acc <= 0)
        return fg_error_set(err, FG_EINVALID, fg_tsv_path(t), "no population");
    return FG_OK;
}

static int load_names(struct eng_demo *d, fg_error *err)
{
    const fg_tsv *t = d->given_t;
    size_t cf, ct, cs, cn, cc;
    int rc;
    if ((rc = fg_tsv_col(t, "year_from", &cf, err)) || (rc = fg_tsv_col(t, "year_to", &ct, err)) ||
        (rc = fg_tsv_col(t, "sex", &cs, err)) || (rc = fg_tsv_col(t, "name", &cn, err)) ||
        (rc = fg_tsv_col(t, "count", &cc, err)))
        return rc;
    d->given = calloc(fg_tsv_rows(t) + 1, sizeof(char *));
    d->given_cum = calloc(fg_tsv_rows(t) + 1, sizeof(double));
    if (!d->given || !d->given_cum)
        return fg_error_set(err, FG_ENOMEM, fg_tsv_path(t), "out of memory");
    double acc = 0;
    for (size_t r = 0; r < fg_tsv_rows(t); r++) {
        double yf, yt, c;
        int s = sex_of(fg_tsv_cell(t, r, cs));
        if ((rc = fg_tsv_double(t, r, cf, &yf, err)) || (rc = fg_tsv_double(t, r, ct, &yt, err)) ||
            (rc = fg_tsv_double(t, r, cc, &c, err)))
            return rc;
        name_seg *sg = d->n_seg ? &d->seg[d->n_seg - 1] : NULL;
        if (!sg || sg->year_from != (int)yf || sg->sex != s) {
            if (d->n_seg == MAX_NAME_SEGMENTS)
                return fg_error_set(err, FG_ELIMIT, fg_tsv_path(t), "more than %d period/sex groups",
                                    MAX_NAME_SEGMENTS);
            sg = &d->seg[d->n_seg++];
            sg->year_from = (int)yf;
            sg->year_to = (int)yt;
            sg->sex = s;
            sg->start = r;
            sg->n = 0;
            acc = 0;
        }
        acc += c;
        d->given[r] = fg_tsv_cell(t, r, cn);
        d->given_cum[r] = acc;
        sg->n++;
    }
    if (d->n_seg == 0)
        return fg_error_set(err, FG_EINVALID, fg_tsv_path(t), "no names");

    const fg_tsv *u = d->surnames;
    static const char *gcol[N_SURNAME_GROUPS] = {"pct_white", "pct_black", "pct_api",
                                                 "pct_aian", "pct_2prace", "pct_hispanic"};
    size_t cname, ccount, cg[N_SURNAME_GROUPS];
    if ((rc = fg_tsv_col(u, "surname", &cname, err)) || (rc = fg_tsv_col(u, "count", &ccount, err)))
        return rc;
    for (int g = 0; g < N_SURNAME_GROUPS; g++)
        if ((rc = fg_tsv_col(u, gcol[g], &cg[g], err)))
            return rc;
    d->n_sur = fg_tsv_rows(u);
    d->surname = calloc(d->n_sur + 1, sizeof(char *));
    if (!d->surname)
        return fg_error_set(err, FG_ENOMEM, fg_tsv_path(u), "out of memory");
    for (int g = 0; g <= N_SURNAME_GROUPS; g++)
        if (!(d->sur_cum[g] = calloc(d->n_sur + 1, sizeof(double))))
            return fg_error_set(err, FG_ENOMEM, fg_tsv_path(u), "out of memory");
    double gacc[N_SURNAME_GROUPS + 1] = {0};
    for (size_t r = 0; r < d->n_sur; r++) {
        double count, pct;
        if ((rc = fg_tsv_double(u, r, ccount, &count, err)))
            return rc;
        d->surname[r] = fg_tsv_cell(u, r, cname);
        for (int g = 0; g < N_SURNAME_GROUPS; g++) {
            if ((rc = fg_tsv_double(u, r, cg[g], &pct, err)))
                return rc;
            gacc[g] += count * pct / 100.0;
            d->sur_cum[g][r] = gacc[g];
        }
        gacc[N_SURNAME_GROUPS] += count;
        d->sur_cum[N_SURNAME_GROUPS][r] = gacc[N_SURNAME_GROUPS];
    }
    return d->n_sur ? FG_OK : fg_error_set(err, FG_EINVALID, fg_tsv_path(u), "no surnames");
}

static const char *pool_str(struct eng_demo *d, const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = b ? strlen(b) : 0, lc = c ? strlen(c) : 0;
    char *s = fg_arena_alloc(&d->pool, la + lb + lc + 1);
    if (!s)
        return NULL;
    memcpy(s, a, la);
    if (lb)
        memcpy(s + la, b, lb);
    if (lc)
        memcpy(s + la + lb, c, lc);
    s[la + lb + lc] = 0;
    return s;
}

static const char *given_name(const struct eng_demo *d, fg_rng *r, int sex, int year);

static const char *dir_id(struct eng_demo *d, fg_rng *r, int random_ids)
{
    char *s = fg_arena_alloc(&d->pool, 37);
    if (!s)
        return NULL;
    if (random_ids) {
        uuid_t u;
        uuid_generate_random(u);
        uuid_unparse_lower(u, s);
    } else {
        fg_rng_uuid(r, s);
    }
    return s;
}

static int make_site(struct eng_demo *d, site *st, fg_rng *r, uint64_t *npi_k, uint64_t npi_base,
                     const char *name, const char *city, const char *usps, const char *zip,
                     int n_pr, int random_ids, fg_error *err)
{
    char npi[11], buf[64];
    fg_organization *o = &st->org;
    o->id = dir_id(d, r, random_ids);
    o->name = pool_str(d, name, NULL, NULL);
    fg_npi_format((npi_base + (*npi_k)++ * NPI_STRIDE) % 200000000ULL, npi);
    o->npi = pool_str(d, npi, NULL, NULL);
    size_t ns = d->n_streets ? (size_t)fg_rng_range(r, 0, (int64_t)d->n_streets - 1) : 0;
    snprintf(buf, sizeof(buf), "%d ", (int)fg_rng_range(r, 10, 2999));
    o->address.line = d->n_streets ? pool_str(d, buf, fg_tsv_cell(d->streets, ns, 0), " ") : NULL;
    if (o->address.line)
        o->address.line = pool_str(d, o->address.line, fg_tsv_cell(d->streets, ns, 1), NULL);
    o->address.city = city;
    o->address.state = usps;
    o->address.postal_code = zip;
    snprintf(buf, sizeof(buf), "555-555-01%02d", (int)fg_rng_range(r, 0, 99));
    o->phone = pool_str(d, buf, NULL, NULL);
    st->loc.id = dir_id(d, r, random_ids);
    st->loc.name = o->name;
    st->loc.organization = o->id;
    st->loc.address = o->address;
    st->loc.phone = o->phone;
    st->n_pr = n_pr < 1 ? 1 : n_pr > MAX_PRACT ? MAX_PRACT : n_pr;
    for (int i = 0; i < st->n_pr; i++) {
        fg_practitioner *p = &st->pr[i];
        p->id = dir_id(d, r, random_ids);
        p->prefix = "Dr.";
        p->sex = fg_rng_chance(r, 0.5) ? FG_SEX_FEMALE : FG_SEX_MALE;
        p->given = given_name(d, r, p->sex, (int)fg_rng_range(r, 1955, 1990));
        p->family = d->surname[fg_rng_pick_cumulative(r, d->sur_cum[N_SURNAME_GROUPS], d->n_sur)];
        fg_npi_format((npi_base + (*npi_k)++ * NPI_STRIDE) % 200000000ULL, npi);
        p->npi = pool_str(d, npi, NULL, NULL);
        p->organization = o->id;
        if (!p->id || !p->npi)
            return fg_error_set(err, FG_ENOMEM, "directory", "out of memory");
    }
    if (!o->id || !o->name || !o->npi || !o->phone || !st->loc.id)
        return fg_error_set(err, FG_ENOMEM, "directory", "out of memory");
    return FG_OK;
}

static int load_places(struct eng_demo *d, const fg_cohort_spec *spec, fg_error *err)
{
    const fg_tsv *t = d->states, *c = d->cities;
    size_t cu, cp, ccu, ccity, czip;
    double clinic_pr = 3, hosp_pr = 4;
    int rc;
    if ((rc = fg_tsv_col(t, "usps", &cu, err)) || (rc = fg_tsv_col(t, "population", &cp, err)) ||
        (rc = fg_tsv_col(c, "usps", &ccu, err)) || (rc = fg_tsv_col(c, "city", &ccity, err)) ||
        (rc = fg_tsv_col(c, "zip", &czip, err)) ||
        (rc = eng_param(d->params, "clinics_practitioners", &clinic_pr, err)) ||
        (rc = eng_param(d->params, "hospital_practitioners", &hosp_pr, err)))
        return rc;
    if (fg_tsv_rows(t) > MAX_STATES)
        return fg_error_set(err, FG_ELIMIT, fg_tsv_path(t), "more than %d states", MAX_STATES);
    d->city = calloc(fg_tsv_rows(c) + 1, sizeof(char *));
    d->zip = calloc(fg_tsv_rows(c) + 1, sizeof(char *));
    if (!d->city || !d->zip)
        return fg_error_set(err, FG_ENOMEM, fg_tsv_path(c), "out of memory");
    for (size_t i = 0; i < fg_tsv_rows(c); i++) {
        d->city[i] = fg_tsv_cell(c, i, ccity);
        d->zip[i] = fg_tsv_cell(c, i, czip);
    }
    fg_rng r;
    fg_rng_seed(&r, fg_mix64(spec->seed ^ 0x6469726563746f72ULL)); /* the directory's own stream */
    uint64_t npi_base = fg_rng_u64(&r) % 200000000ULL, npi_k = 0;
    double acc = 0;
    int found = spec->state == NULL;
    d->n_states = fg_tsv_rows(t);
    for (size_t s = 0; s < fg_tsv_rows(t); s++) {
        state_dir *sd = &d->dir[s];
        double pop;
        if ((rc = fg_tsv_double(t, s, cp, &pop, err)))
            return rc;
        sd->usps = fg_tsv_cell(t, s, cu);
        if ((rc = fg_tz_read(t, s, &sd->tz, err)))
            return rc;
        if (!spec->state || strcmp(spec->state, sd->usps) == 0) {
            acc += pop;
            found = 1;
        }
        d->state_cum[s] = acc;
        sd->city0 = fg_tsv_rows(c);
        for (size_t i = 0; i < fg_tsv_rows(c); i++)
            if (strcmp(fg_tsv_cell(c, i, ccu), sd->usps) == 0) {
                if (sd->n_cities == 0)
                    sd->city0 = i;
                if (sd->n_cities < MAX_CITIES)
                    sd->n_cities++;
            }
        if (sd->n_cities == 0)
            return fg_error_set(err, FG_EINVALID, fg_tsv_path(c), "no city for state %s", sd->usps);
        fg_rng sr = fg_rng_fork(&r, sd->usps);
        for (size_t k = 0; k < sd->n_cities; k++) {
            const char *city = d->city[sd->city0 + k];
            const char *name = pool_str(d, city, " Family Medicine", NULL);
            if (!name)
                return fg_error_set(err, FG_ENOMEM, "directory", "out of memory");
            if ((rc = make_site(d, &sd->clinic[k], &sr, &npi_k, npi_base, name, city, sd->usps,
                                d->zip[sd->city0 + k], (int)clinic_pr, spec->random_ids, err)))
                return rc;
        }
        const char *city = d->city[sd->city0];
        const char *name = pool_str(d, city, " General Hospital", NULL);
        if (!name)
            return fg_error_set(err, FG_ENOMEM, "directory", "out of memory");
        if ((rc = make_site(d, &sd->hospital, &sr, &npi_k, npi_base, name, city, sd->usps,
                            d->zip[sd->city0], (int)hosp_pr, spec->random_ids, err)))
            return rc;
    }
    if (!found) {
        char list[FG_ERROR_TEXT_MAX - 64];
        size_t n = 0;
        list[0] = 0;
        for (size_t s = 0; s < d->n_states && n + 4 < sizeof(list); s++)
            n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", s ? " " : "", d->dir[s].usps);
        return fg_error_set(err, FG_ENOTFOUND, "state", "unknown state '%s'; known: %s", spec->state, list);
    }
    d->n_streets = fg_tsv_rows(d->streets);
    return FG_OK;
}

int eng_demo_load(fg_engine *e, fg_error *err)
{
    struct eng_demo *d = calloc(1, sizeof(*d));
    int rc;
    if (!d)
        return fg_error_set(err, FG_ENOMEM, "tables", "out of memory");
    fg_arena_init(&d->pool);
    struct {
        fg_tsv **t;
        const char *rel;
    } files[] = {
        {&d->age_sex, "tables/age_sex.tsv"},     {&d->life, "tables/life_table.tsv"},
        {&d->race, "tables/race_ethnicity.tsv"}, {&d->given_t, "tables/given_names.tsv"},
        {&d->surnames, "tables/surnames.tsv"},   {&d->states, "tables/states.tsv"},
        {&d->cities, "tables/cities.tsv"},       {&d->streets, "tables/streets.tsv"},
        {&d->params, "tables/engine_params.tsv"},
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        if ((rc = eng_table_load(e, files[i].rel, files[i].t, err)))
            goto cleanup;
    d->n_streets = fg_tsv_rows(d->streets);
    if ((rc = eng_param(d->params, "spanish_pct_hispanic", &d->spanish, err)) ||
        (rc = eng_param(d->params, "middle_name_pct", &d->middle, err)))
        goto cleanup;
    for (int b = 0; b < 5; b++) {
        char key[64];
        snprintf(key, sizeof(key), "married_pct_%s", marital_band_key[b]);
        if ((rc = eng_param(d->params, key, &d->married[b], err)))
            goto cleanup;
        snprintf(key, sizeof(key), "divorced_pct_%s", marital_band_key[b]);
        if ((rc = eng_param(d->params, key, &d->divorced[b], err)))
            goto cleanup;
        snprintf(key, sizeof(key), "widowed_pct_%s", marital_band_key[b]);
        if ((rc = eng_param(d->params, key, &d->widowed[b], err)))
            goto cleanup;
    }
    if ((rc = load_life(d, err)) || (rc = load_pyramid(d, &e->spec, err)) || (rc = load_race(d, err)) ||
        (rc = load_names(d, err)) || (rc = load_places(d, &e->spec, err)))
        goto cleanup;
    e->demo = d;
    d = NULL;
    rc = FG_OK;
cleanup:
    eng_demo_free(d);
    return rc;
}

/* ---- one patient ---- */

static const char *given_name(const struct eng_demo *d, fg_rng *r, int sex, int year)
{
    const name_seg *first = NULL, *last = NULL, *pick = NULL;
    for (size_t i = 0; i < d->n_seg && !pick; i++) {
        const name_seg *s = &d->seg[i];
        if (s->sex != sex)
            continue;
        if (year >= s->year_from && year <= s->year_to)
            pick = s;
        if (!first || s->year_from < first->year_from)
            first = s;
        if (!last || s->year_from > last->year_from)
            last = s;
    }
    if (!pick)
        pick = first && year < first->year_from ? first : last ? last : &d->seg[0];
    size_t k = fg_rng_pick_cumulative(r, d->given_cum + pick->start, pick->n);
    return d->given[pick->start + k];
}

/* Concatenate into the arena without printf. */
static const char *cat(fg_arena *a, const char *x, const char *y, const char *z)
{
    size_t lx = strlen(x), ly = y ? strlen(y) : 0, lz = z ? strlen(z) : 0;
    char *s = fg_arena_alloc(a, lx + ly + lz + 1);
    if (!s)
        return NULL;
    memcpy(s, x, lx);
    memcpy(s + lx, y ? y : "", ly);
    memcpy(s + lx + ly, z ? z : "", lz);
    s[lx + ly + lz] = 0;
    return s;
}

static char *digits(char *p, uint64_t v, int width)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && n < 20);
    while (n < width)
        tmp[n++] = '0';
    while (n)
        *p++ = tmp[--n];
    *p = 0;
    return p;
}

int eng_demographics(eng_gen *g, fg_error *err)
{
    const fg_engine *e = g->e;
    const struct eng_demo *d = e->demo;
    fg_history *h = g->h;
    fg_patient *pt = &h->patient;
    fg_rng r = fg_rng_fork(&g->rng, "demographics");
    char buf[48];

    size_t idx = fg_rng_pick_cumulative(&r, d->age_cum, 2 * N_AGES);
    int sex = (int)(idx / N_AGES), age = (int)(idx % N_AGES);
    pt->sex = (fg_sex)sex;
    fg_time hi = fg_add_years(g->end, -age), lo = fg_add_years(g->end, -(age + 1)) + FG_DAY;
    int64_t span = (hi - lo) / FG_DAY;
    pt->birth_date = lo + fg_rng_range(&r, 0, span) * FG_DAY;
    pt->death = FG_TIME_NONE;
    fg_time ws = fg_add_years(g->end, -e->spec.years_of_history);
    g->window_start = ws > pt->birth_date ? ws : pt->birth_date;
    g->stop = g->end;

    size_t rr = fg_rng_pick_cumulative(&r, d->race_cum, fg_tsv_rows(d->race));
    pt->race = d->race_code[rr];
    pt->race_display = d->race_disp[rr];
    pt->ethnicity = d->eth_code[rr];
    pt->ethnicity_display = d->eth_disp[rr];
    int group = d->race_group[rr];

    int year;
    fg_civil_from_days(pt->birth_date / FG_DAY, &year, &(int){0}, &(int){0});
    pt->given = given_name(d, &r, sex, year);
    pt->middle = NULL;
    if (fg_rng_chance(&r, d->middle / 100.0))
        for (int tries = 0; tries < 4 && !pt->middle; tries++) {
            const char *m = given_name(d, &r, sex, year);
            if (m != pt->given)
                pt->middle = m;
        }
    pt->family = d->surname[fg_rng_pick_cumulative(&r, d->sur_cum[group], d->n_sur)];

    /* marital status and prefix by age at the end of the record */
    fg_time ref = g->end;
    int age_now = fg_age_at(pt->birth_date, ref);
    pt->marital_status = NULL;
    pt->prefix = NULL;
    if (age_now >= 18) {
        int b = age_now < 30 ? 0 : age_now < 45 ? 1 : age_now < 65 ? 2 : age_now < 80 ? 3 : 4;
        double u = fg_rng_uniform(&r) * 100.0;
        pt->marital_status = u < d->married[b] ? "M"
                             : u < d->married[b] + d->divorced[b] ? "D"
                             : u < d->married[b] + d->divorced[b] + d->widowed[b] ? "W"
                                                                                  : "S";
        pt->prefix = sex == FG_SEX_MALE ? "Mr." : pt->marital_status[0] == 'S' ? "Ms." : "Mrs.";
    }
    pt->language = (group == 5 && fg_rng_chance(&r, d->spanish / 100.0)) ? "es" : "en-US";

    /* address */
    size_t si = fg_rng_pick_cumulative(&r, d->state_cum, d->n_states);
    const state_dir *sd = &d->dir[si];
    double cw[MAX_CITIES], acc = 0;
    for (size_t k = 0; k < sd->n_cities; k++)
        cw[k] = (acc += 1.0 / (double)(k + 1));
    size_t ck = fg_rng_pick_cumulative(&r, cw, sd->n_cities);
    g->clinic = (int)(si * MAX_CITIES + ck);
    pt->address.city = d->city[sd->city0 + ck];
    pt->address.postal_code = d->zip[sd->city0 + ck];
    pt->address.state = sd->usps;
    pt->tz = sd->tz;
    size_t ns = (size_t)fg_rng_range(&r, 0, (int64_t)d->n_streets - 1);
    char *p = digits(buf, (uint64_t)fg_rng_range(&r, 1, 9999), 1);
    *p++ = ' ';
    *p = 0;
    pt->address.line = cat(&h->arena, buf, fg_tsv_cell(d->streets, ns, 0), NULL);
    if (pt->address.line)
        pt->address.line = cat(&h->arena, pt->address.line, " ", fg_tsv_cell(d->streets, ns, 1));
    memcpy(buf, "555-555-01", 10);
    digits(buf + 10, (uint64_t)fg_rng_range(&r, 0, 99), 2);
    pt->phone = cat(&h->arena, buf, NULL, NULL);

    /* identifiers */
    buf[0] = 'F';
    buf[1] = 'G';
    digits(buf + 2, g->index, 10);
    pt->mrn = cat(&h->arena, buf, NULL, NULL);
    pt->ssn = NULL;
    if (g->index < FG_SSN_SPACE) {
        uint64_t v = (g->index * SSN_STRIDE + fg_mix64(e->spec.seed) % FG_SSN_SPACE) % FG_SSN_SPACE;
        fg_ssn_format(v, buf);
        pt->ssn = cat(&h->arena, buf, NULL, NULL);
    }
    pt->id = eng_new_id(g);
    if (!pt->id || !pt->address.line || !pt->phone || !pt->mrn || (g->index < FG_SSN_SPACE && !pt->ssn))
        return fg_error_set(err, FG_ENOMEM, "patient", "out of memory");

    /* care team */
    const site *c = &sd->clinic[ck], *hs = &sd->hospital;
    g->org_id = c->org.id;
    g->loc_id = c->loc.id;
    g->pract_id = c->pr[fg_rng_range(&r, 0, c->n_pr - 1)].id;
    g->hosp_org_id = hs->org.id;
    g->hosp_loc_id = hs->loc.id;
    g->hosp_pract_id = hs->pr[fg_rng_range(&r, 0, hs->n_pr - 1)].id;
    g->team_added[0] = g->team_added[1] = 0;
    return eng_demo_add_team(g, 0, err);
}

static int add_site(eng_gen *g, const site *s, const char *pract_id, fg_error *err)
{
    fg_history *h = g->h;
    fg_organization *o = FG_PUSH(h, organizations);
    fg_location *l = FG_PUSH(h, locations);
    fg_practitioner *p = FG_PUSH(h, practitioners);
    if (!o || !l || !p)
        return fg_error_set(err, FG_ENOMEM, "organizations", "out of memory");
    *o = s->org;
    *l = s->loc;
    for (int i = 0; i < s->n_pr; i++)
        if (s->pr[i].id == pract_id)
            *p = s->pr[i];
    return FG_OK;
}

int eng_demo_add_team(eng_gen *g, int hospital, fg_error *err)
{
    const struct eng_demo *d = g->e->demo;
    int rc;
    hospital = hospital ? 1 : 0;
    if (g->team_added[hospital])
        return FG_OK;
    const state_dir *sd = &d->dir[g->clinic / MAX_CITIES];
    if (hospital)
        rc = add_site(g, &sd->hospital, g->hosp_pract_id, err);
    else
        rc = add_site(g, &sd->clinic[g->clinic % MAX_CITIES], g->pract_id, err);
    if (rc == FG_OK)
        g->team_added[hospital] = 1;
    return rc;
}

/* ---- death ---- */

int eng_death(eng_gen *g, fg_error *err)
{
    const struct eng_demo *d = g->e->demo;
    fg_patient *pt = &g->h->patient;
    fg_rng r = fg_rng_fork(&g->rng, "death");
    int sex = pt->sex == FG_SEX_MALE ? 1 : 0;
    fg_time t0 = g->window_start;
    while (t0 < g->end) {
        int age = fg_age_at(pt->birth_date, t0);
        fg_time t1 = fg_add_years(pt->birth_date, age + 1);
        if (t1 > g->end)
            t1 = g->end;
        if (t1 <= t0)
            break;
        double q = d->qx[sex][age < FG_MAX_AGE ? age : FG_MAX_AGE];
        double rr = eng_conditions_mortality(g, t0 + (t1 - t0) / 2);
        if (rr > 1)
            q = 1.0 - pow(1.0 - (q < 1 ? q : 0.999999), rr); /* relative hazard */
        double frac = (double)(t1 - t0) / (FG_YEAR_DAYS * FG_DAY);
        double p = frac >= 1 ? q : 1.0 - pow(1.0 - q, frac);
        if (fg_rng_chance(&r, p)) {
            fg_time when = t0 + (fg_time)(fg_rng_uniform(&r) * (double)(t1 - t0));
            if (when <= pt->birth_date)
                when = pt->birth_date + FG_DAY / 2;
            pt->death = when;
            g->stop = when;
            return eng_death_cause(g, &r, err);
        }
        t0 = t1;
    }
    return FG_OK;
}
