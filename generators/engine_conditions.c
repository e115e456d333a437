/*
 * engine_conditions.c: chronic conditions, one JSON module per condition in
 * data/conditions.
 *
 * First cut: no modules are loaded and nobody has a condition, so the
 * engine links and runs while the module loader is written.
 */
#include <stdlib.h>

#include "engine_private.h"

struct eng_modules {
    size_t n;
};

int eng_modules_load(fg_engine *e, fg_error *err)
{
    (void)err;
    struct eng_modules *m = calloc(1, sizeof(*m));
    if (!m)
        return fg_error_set(err, FG_ENOMEM, "data/conditions", "out of memory");
    e->modules = m;
    return FG_OK;
}

void eng_modules_free(struct eng_modules *m)
{
    free(m);
}

int eng_conditions_sample(eng_gen *g, fg_error *err)
{
    (void)err;
    g->n_conds = 0;
    return g->e->spec.n_conditions == 0;
}

double eng_conditions_mortality(const eng_gen *g, fg_time t)
{
    (void)g;
    (void)t;
    return 1.0;
}

void eng_conditions_vitals(const eng_gen *g, fg_time t, eng_vital_shift *out)
{
    (void)g;
    (void)t;
    *out = (eng_vital_shift){0};
}

int eng_conditions_care(eng_gen *g, fg_error *err)
{
    (void)g;
    (void)err;
    return FG_OK;
}

size_t eng_modules_count(const struct eng_modules *m)
{
    return m ? m->n : 0;
}

const char *eng_modules_name(const struct eng_modules *m, size_t i)
{
    (void)m;
    (void)i;
    return NULL;
}
