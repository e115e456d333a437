/* SPDX-License-Identifier: Apache-2.0 */
/*
 * llmgen_skeleton.c: the engine's patient as the skeleton of an LLM story.
 *
 * The engine draws the whole patient (fg_engine_skeleton); the skeleton
 * keeps who they are (sex, birth, death, name), their chronic conditions
 * with onsets, and the window the story must cover: the last
 * years_of_history years of life up to the cohort's end date or death. Its
 * JSON form is the object the prompt carries between `<skeleton>` lines.
 */
#include <stdlib.h>
#include <string.h>

#include "fhir/json/fg_jw.h"
#include "generators/llm/llmgen_private.h"

void llmgen_skel_init(llmgen_skel *s)
{
    memset(s, 0, sizeof(*s));
    fg_history_init(&s->h);
}

void llmgen_skel_free(llmgen_skel *s)
{
    if (!s)
        return;
    fg_history_free(&s->h);
    free(s->json);
    s->json = NULL;
}

static json_t *date_or_null(fg_time t)
{
    if (t == FG_TIME_NONE)
        return json_null();
    char d[11];
    fg_format_date(t, d);
    return json_string(d);
}

/* Conditions by onset, keeping the engine's order for equal onsets. */
static int cond_cmp(const void *a, const void *b)
{
    const fg_engine_condition *x = a, *y = b;
    if (x->onset != y->onset)
        return x->onset < y->onset ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int set_str(json_t *o, const char *k, const char *v)
{
    return json_object_set_new(o, k, v ? json_string(v) : json_null());
}

int llmgen_skel_make(const fg_llmgen_options *o, uint64_t index, llmgen_skel *s, fg_error *err)
{
    json_t *root = NULL, *conds = NULL;
    int rc;
    char where[64];
    snprintf(where, sizeof(where), "patient %llu", (unsigned long long)index);

    free(s->json);
    s->json = NULL;
    s->index = index;
    s->n_conds = 0;
    rc = fg_engine_skeleton(o->engine, index, &s->h, s->conds, FG_MAX_SKELETON_CONDITIONS,
                            &s->n_conds, err);
    if (rc != FG_OK)
        return rc;
    qsort(s->conds, s->n_conds, sizeof(s->conds[0]), cond_cmp);

    const fg_patient *p = &s->h.patient;
    s->history_end = o->end;
    if (p->death != FG_TIME_NONE && p->death < s->history_end)
        s->history_end = p->death;
    int years = o->years_of_history > 0 ? o->years_of_history : 10;
    s->history_start = fg_add_years(o->end, -years);
    if (s->history_start < p->birth_date)
        s->history_start = p->birth_date;
    if (s->history_start > s->history_end)
        s->history_start = s->history_end;
    s->age = fg_age_at(p->birth_date, s->history_end);

    root = json_object();
    conds = json_array();
    if (!root || !conds) {
        rc = fg_error_set(err, FG_ENOMEM, where, "out of memory");
        goto cleanup;
    }
    json_object_set_new(root, "index", json_integer((json_int_t)index));
    json_object_set_new(root, "sex", json_string(p->sex == FG_SEX_MALE ? "male" : "female"));
    json_object_set_new(root, "birth_date", date_or_null(p->birth_date));
    json_object_set_new(root, "deceased_date", date_or_null(p->death));
    set_str(root, "given", p->given);
    set_str(root, "family", p->family);
    json_object_set_new(root, "age", json_integer(s->age));
    json_object_set_new(root, "history_start", date_or_null(s->history_start));
    json_object_set_new(root, "history_end", date_or_null(s->history_end));
    for (size_t i = 0; i < s->n_conds; i++) {
        const fg_engine_condition *c = &s->conds[i];
        json_t *jc = json_object();
        if (!jc) {
            rc = fg_error_set(err, FG_ENOMEM, where, "out of memory");
            goto cleanup;
        }
        set_str(jc, "name", c->name);
        set_str(jc, "system", c->term.system);
        set_str(jc, "code", c->term.code);
        set_str(jc, "display", c->term.display);
        json_object_set_new(jc, "onset", date_or_null(c->onset));
        json_array_append_new(conds, jc);
    }
    json_object_set(root, "conditions", conds);
    set_str(root, "scenario", o->scenario);
    s->json = fg_json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER, NULL);
    if (!s->json) {
        rc = fg_error_set(err, FG_ENOMEM, where, "out of memory");
        goto cleanup;
    }
    rc = FG_OK;
cleanup:
    json_decref(conds);
    json_decref(root);
    return rc;
}
