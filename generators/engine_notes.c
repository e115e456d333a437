/*
 * engine_notes.c: one clinical note per encounter.
 *
 * First version: the pass exists so the engine links; it writes no note yet.
 */
#include "engine_private.h"

int eng_notes(eng_gen *g, fg_error *err)
{
    (void)g;
    (void)err;
    return FG_OK;
}
