/*
 * engine_episodes.c: acute episodes, allergies and pregnancies.
 *
 * First version: the pass exists so the engine links; it adds nothing yet.
 */
#include <stdlib.h>

#include "engine_private.h"

struct eng_episodes {
    int unused;
};

int eng_episodes_load(fg_engine *e, fg_error *err)
{
    (void)err;
    e->episodes = calloc(1, sizeof(*e->episodes));
    if (!e->episodes)
        return fg_error_set(err, FG_ENOMEM, "data/episodes", "out of memory");
    return FG_OK;
}

void eng_episodes_free(struct eng_episodes *x)
{
    free(x);
}

int eng_episodes(eng_gen *g, fg_error *err)
{
    (void)g;
    (void)err;
    return FG_OK;
}
