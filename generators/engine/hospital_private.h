/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hospital_private.h: the hospital pass (ED visits, admissions) and the
 * causes of death, shared by engine_hospital_load.c, engine_hospital.c and
 * engine_death.c.
 *
 * Everything clinical comes from data/hospital/hospital.json: each event
 * (an exacerbation, an acute illness, an injury, an elective operation) has
 * yearly rates by age band and sex, relative risks of the patient's
 * conditions, a path (ED then perhaps a stay, or an elective stay), a mean
 * length of stay, a diagnosis, a procedure and discharge dispositions. Each
 * cause of death names the condition modules whose excess risk it takes,
 * its share of the deaths of people without them by age band, and how such
 * deaths happen (hospice, a terminal stay, or suddenly).
 */
#ifndef FG_HOSPITAL_PRIVATE_H
#define FG_HOSPITAL_PRIVATE_H

#include "generators/engine/engine_private.h"

#define HX_MAX_EVENTS 48       /* events of the data file */
#define HX_MAX_BANDS 8         /* age bands of one event */
#define HX_MAX_RISKS 8         /* relative risks of one event */
#define HX_MAX_CAUSES 32       /* causes of death */
#define HX_MAX_CAUSE_MODULES 8 /* modules one cause takes the excess risk of */
#define HX_CAUSE_BANDS 5       /* age bands of the causes' background shares */
#define HX_MAX_CANDIDATES 256  /* events drawn for one patient */
#define HX_MAX_LOS_DAYS 30     /* longest stay drawn */

enum { HX_HOME, HX_SNF, HX_REHAB, HX_HOSPICE, HX_EXPIRED, HX_NDISP };
enum { HX_EMERGENCY, HX_ELECTIVE };
enum { HX_PATH_HOSPICE, HX_PATH_ADMISSION, HX_PATH_SUDDEN, HX_NPATHS };
enum { HX_RECORD_NONE, HX_RECORD_PROBLEM, HX_RECORD_DIAGNOSIS };

typedef struct hx_band {
    int min_age;
    double per_year[2]; /* female, male: events per person-year */
} hx_band;

typedef struct hx_risk {
    const struct eng_module *module;
    double rr;
} hx_risk;

typedef struct hx_event {
    const char *key;
    int path;                        /* HX_EMERGENCY or HX_ELECTIVE */
    const struct eng_module *requires; /* only while this condition is active; NULL: anyone */
    double max_years;                /* after the required condition's onset; 0: no limit */
    hx_band bands[HX_MAX_BANDS];
    size_t n_bands;
    hx_risk risks[HX_MAX_RISKS];
    size_t n_risks;
    double admit_p;   /* emergencies: share admitted from the ED */
    double admit_p65; /* the same at 65 and over */
    double los_days;  /* mean length of stay */
    fg_term diagnosis; /* code NULL: the required condition is the reason */
    int record;       /* HX_RECORD_*: write the diagnosis as a condition */
    double resolve_days; /* 0: lifelong */
    fg_term encounter; /* stay's encounter type; code NULL: emergency admission */
    fg_term procedure; /* code NULL: none */
    double procedure_p;
    double disp[HX_NDISP]; /* cumulative weights (expired never drawn) */
} hx_event;

typedef struct hx_cause {
    const char *key;
    fg_term term; /* code NULL: the attributed condition's own term */
    int record;   /* write the cause as a condition at the terminal visit */
    const struct eng_module *modules[HX_MAX_CAUSE_MODULES];
    double shares[HX_MAX_CAUSE_MODULES]; /* of each module's excess deaths */
    size_t n_modules;
    double background[HX_CAUSE_BANDS]; /* weights by age band */
    double paths[HX_NPATHS];           /* cumulative weights */
    double sudden_ed_p;                /* a sudden death reaches the ED */
    double diagnosed_days;             /* diagnosed this long before death (0: at the end) */
} hx_cause;

struct eng_hospital {
    void *doc; /* the parsed data file (json_t); the terms borrow its strings */
    fg_term ed, emergency_admission, hospice, certification, cause_of_death, from_ed, referral;
    fg_term disp[HX_NDISP];
    hx_event events[HX_MAX_EVENTS];
    size_t n_events;
    int bands[HX_CAUSE_BANDS];
    hx_cause causes[HX_MAX_CAUSES];
    size_t n_causes;
};

/* One visit to the hospital: an ED visit and perhaps a stay after it, or an
 * elective stay. Filled by the caller, written by hx_visit. */
typedef struct hx_visit {
    int path;            /* HX_EMERGENCY or HX_ELECTIVE */
    fg_time arrival;
    int admitted;
    double los_days;     /* used when `until` is FG_TIME_NONE */
    fg_time until;       /* the stay (or the ED visit) ends here: a death, a hospice */
    int disp;            /* HX_* disposition */
    const fg_term *reason;
    const char *reason_condition;
    const fg_term *stay_type; /* NULL: emergency admission */
    /* written by hx_visit */
    const char *last_encounter; /* id of the ED visit or the stay, whichever is last */
    fg_time end;
} hx_visit;

/* True when condition c is active at t. */
int hx_active(const eng_cond *c, fg_time t);
/* The patient's condition of module m (NULL when none). */
const eng_cond *hx_find(const eng_gen *g, const struct eng_module *m);
/* Write the visit's encounters (with vitals) and fill its outputs. FG_OK or
 * FG_ENOMEM with err set. */
int hx_write_visit(eng_gen *g, fg_rng *r, hx_visit *v, fg_error *err);
/* True when one of the first n encounters overlaps [from, to). */
int hx_busy(const eng_gen *g, size_t n, fg_time from, fg_time to);
/* Add a condition of term t recorded at encounter enc; NULL when out of memory. */
fg_condition *hx_add_condition(eng_gen *g, const char *enc, const fg_term *t, int problem,
                               fg_time onset, fg_time abatement);
/* Write the visits that lead to the patient's death (engine_death.c); *first
 * is the earliest time they take (the death itself when none). */
int hx_terminal(eng_gen *g, fg_rng *r, fg_time *first, fg_error *err);

#endif
