/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_notes_load.c: reading data/notes/notes.json (note types, words,
 * the phrasings of each sentence compiled into segments) and
 * data/notes/vocabulary.json (how things are named) into struct ep_notes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "generators/engine/episodes_private.h"
#include "generators/engine/notes_private.h"

#define NOTES_FILE "notes/notes.json"
#define VOCAB_FILE "notes/vocabulary.json"

#define NT_NAME(name) #name,
const char *const nt_slot_names[S_COUNT] = {NT_SLOTS(NT_NAME)};
#undef NT_NAME
const char *const nt_sys_names[SYS_COUNT] = {"general", "heent", "neck",  "lungs",
                                             "heart",   "abdomen", "extremities", "skin",
                                             "msk",     "neuro", "psych"};
static const char *const var_names[NT_V_COUNT] = {
    "", "age", "person", "date", "end_date", "visit", "list", "value", "when",
    "he", "He", "his", "His",
};
static const char *const kind_names[NK_COUNT] = {"acute", "chronic", "wellness", "injury",
                                                 "hospital"};

int nt_fail(fg_error *err, const char *file, const char *path, const char *msg)
{
    char where[FG_ERROR_WHERE_MAX];
    snprintf(where, sizeof(where), "%s: %.200s", file, path);
    return fg_error_set(err, FG_EINVALID, where, "%s", msg);
}

static const char *nl_str(struct ep_notes *n, json_t *v)
{
    return json_is_string(v) ? fg_arena_strdup(&n->arena, json_string_value(v)) : NULL;
}

int nt_strings(struct ep_notes *n, json_t *v, const char *file, const char *path, nt_list *out,
               fg_error *err)
{
    size_t i;
    json_t *s;
    if (!json_is_array(v))
        return nt_fail(err, file, path, "expected a list of strings");
    out->n = 0;
    out->v = fg_arena_calloc(&n->arena, (json_array_size(v) + 1) * sizeof(*out->v));
    if (!out->v)
        return fg_error_set(err, FG_ENOMEM, file, "out of memory");
    json_array_foreach(v, i, s) {
        if (!(out->v[out->n++] = nl_str(n, s)))
            return nt_fail(err, file, path, "expected a list of strings");
    }
    return FG_OK;
}

/* An object of strings as key/text pairs. */
static int nl_pairs(struct ep_notes *n, json_t *v, const char *file, const char *path,
                    nt_pair **out, size_t *count, fg_error *err)
{
    const char *key;
    json_t *t;
    if (!json_is_object(v))
        return nt_fail(err, file, path, "expected an object of strings");
    *count = 0;
    *out = fg_arena_calloc(&n->arena, (json_object_size(v) + 1) * sizeof(**out));
    if (!*out)
        return fg_error_set(err, FG_ENOMEM, file, "out of memory");
    json_object_foreach(v, key, t) {
        nt_pair *p = &(*out)[(*count)++];
        p->key = fg_arena_strdup(&n->arena, key);
        if (!(p->text = nl_str(n, t)) || !p->key)
            return nt_fail(err, file, path, "expected an object of strings");
    }
    return FG_OK;
}

static int nl_pair(struct ep_notes *n, json_t *words, const char *key, const char *out[2],
                   fg_error *err)
{
    json_t *v = json_object_get(words, key);
    if (!json_is_array(v) || json_array_size(v) != 2 ||
        !(out[0] = nl_str(n, json_array_get(v, 0))) || !(out[1] = nl_str(n, json_array_get(v, 1))))
        return nt_fail(err, NOTES_FILE, key, "expected two words");
    return FG_OK;
}

static int nl_compile(struct ep_notes *n, const char *name, const char *src, nt_tmpl *t,
                      fg_error *err)
{
    size_t cap = 1;
    for (const char *p = src; *p; p++)
        cap += *p == '{' ? 2 : 0;
    t->segs = fg_arena_calloc(&n->arena, cap * sizeof(*t->segs));
    if (!t->segs)
        return fg_error_set(err, FG_ENOMEM, NOTES_FILE, "out of memory");
    const char *p = src;
    while (*p) {
        const char *open = strchr(p, '{');
        if (open != p) {
            size_t len = open ? (size_t)(open - p) : strlen(p);
            t->segs[t->n++] = (nt_seg){NT_V_LIT, p, len};
            p += len;
            continue;
        }
        const char *close = strchr(open, '}');
        if (!close)
            return nt_fail(err, NOTES_FILE, name, "a '{' without its '}'");
        int var = 0;
        for (int v = 1; v < NT_V_COUNT; v++)
            if (strlen(var_names[v]) == (size_t)(close - open - 1) &&
                strncmp(var_names[v], open + 1, (size_t)(close - open - 1)) == 0)
                var = v;
        if (!var) {
            char msg[160];
            snprintf(msg, sizeof(msg), "unknown value {%.*s}", (int)(close - open - 1) & 63,
                     open + 1);
            return nt_fail(err, NOTES_FILE, name, msg);
        }
        t->segs[t->n++] = (nt_seg){var, NULL, 0};
        p = close + 1;
    }
    return FG_OK;
}

static int nl_term(struct ep_notes *n, json_t *v, const fg_terminology *terms, const char *path,
                   fg_term *out, fg_error *err)
{
    out->system = nl_str(n, json_object_get(v, "system"));
    out->code = nl_str(n, json_object_get(v, "code"));
    out->display = nl_str(n, json_object_get(v, "display"));
    if (!out->system || !out->code || !out->display)
        return nt_fail(err, NOTES_FILE, path, "expected a term {\"system\", \"code\", \"display\"}");
    if (terms && !fg_terminology_find(terms, out->system, out->code))
        return nt_fail(err, NOTES_FILE, path,
                       "code not in the terminology tables (data/terminology/)");
    return FG_OK;
}

static int nl_slots(struct ep_notes *n, json_t *slots, fg_error *err)
{
    char path[96];
    for (int s = 0; s < S_COUNT; s++) {
        json_t *v = json_object_get(slots, nt_slot_names[s]), *one;
        size_t i;
        snprintf(path, sizeof(path), "slots.%s", nt_slot_names[s]);
        if (!json_is_array(v) || json_array_size(v) == 0)
            return nt_fail(err, NOTES_FILE, path, "expected a list of phrasings");
        n->slots[s].v = fg_arena_calloc(&n->arena, json_array_size(v) * sizeof(nt_tmpl));
        if (!n->slots[s].v)
            return fg_error_set(err, FG_ENOMEM, NOTES_FILE, "out of memory");
        json_array_foreach(v, i, one) {
            const char *src = nl_str(n, one);
            int rc;
            if (!src)
                return nt_fail(err, NOTES_FILE, path, "expected a list of phrasings");
            if ((rc = nl_compile(n, path, src, &n->slots[s].v[n->slots[s].n++], err)))
                return rc;
        }
    }
    return FG_OK;
}

static int nl_parse(struct ep_notes *n, json_t *root, const fg_terminology *terms, fg_error *err)
{
    static const char *const types[NT_TYPES] = {"AMB", "EMER", "IMP", "VR", "HP", "DEATH"};
    json_t *ty = json_object_get(root, "types"), *words = json_object_get(root, "words"),
           *units = json_object_get(root, "units"), *adult = json_object_get(root, "adult_age");
    int rc;
    if (!json_is_object(ty) || !json_is_object(words) || !json_is_integer(adult))
        return nt_fail(err, NOTES_FILE, "", "needs types, adult_age, words, units and slots");
    n->adult_age = (int)json_integer_value(adult);
    n->followup_max_days = (int)json_integer_value(json_object_get(root, "followup_max_days"));
    if (n->followup_max_days <= 0)
        return nt_fail(err, NOTES_FILE, "followup_max_days", "expected a number of days");
    for (int c = 0; c < NT_TYPES; c++) {
        char path[32];
        snprintf(path, sizeof(path), "types.%s", types[c]);
        if ((rc = nl_term(n, json_object_get(ty, types[c]), terms, path, &n->types[c], err)))
            return rc;
    }
    json_t *au = json_object_get(words, "age_units"), *sv = json_object_get(words, "severity");
    if ((rc = nl_pair(n, words, "female", n->female, err)) ||
        (rc = nl_pair(n, words, "male", n->male, err)) ||
        (rc = nl_pair(n, words, "he", n->he, err)) || (rc = nl_pair(n, words, "his", n->his, err)))
        return rc;
    if (!json_is_array(au) || json_array_size(au) != 4 || !json_is_array(sv) ||
        json_array_size(sv) != 3)
        return nt_fail(err, NOTES_FILE, "words", "age_units needs 4 words, severity 3");
    for (size_t i = 0; i < 4; i++)
        if (!(n->age_units[i] = nl_str(n, json_array_get(au, i))))
            return nt_fail(err, NOTES_FILE, "words.age_units", "expected words");
    for (size_t i = 0; i < 3; i++)
        if (!(n->severity[i] = nl_str(n, json_array_get(sv, i))))
            return nt_fail(err, NOTES_FILE, "words.severity", "expected words");
    if (!(n->infant = nl_str(n, json_object_get(words, "infant"))) ||
        !(n->high_crit = nl_str(n, json_object_get(words, "high_criticality"))) ||
        !(n->sep = nl_str(n, json_object_get(words, "separator"))))
        return nt_fail(err, NOTES_FILE, "words", "needs infant, high_criticality and separator");
    if ((rc = nl_pairs(n, units, NOTES_FILE, "units", &n->units, &n->n_units, err)))
        return rc;
    return nl_slots(n, json_object_get(root, "slots"), err);
}

/* ---- vocabulary.json ---- */

static int nl_clin(struct ep_notes *n, json_t *arr, fg_error *err)
{
    size_t i;
    json_t *it;
    char path[64];
    if (!json_is_array(arr))
        return nt_fail(err, VOCAB_FILE, "clinical", "expected a list");
    n->clin = fg_arena_calloc(&n->arena, (json_array_size(arr) + 1) * sizeof(*n->clin));
    if (!n->clin || fg_strmap_reserve(&n->clin_by_code, json_array_size(arr)) != FG_OK)
        return fg_error_set(err, FG_ENOMEM, VOCAB_FILE, "out of memory");
    json_array_foreach(arr, i, it) {
        nt_clin *c = &n->clin[n->n_clin++];
        json_t *days = json_object_get(it, "days"), *exam = json_object_get(it, "exam");
        const char *kind = json_string_value(json_object_get(it, "kind"));
        int rc;
        snprintf(path, sizeof(path), "clinical[%zu]", i);
        c->code = nl_str(n, json_object_get(it, "code"));
        c->plan = nl_str(n, json_object_get(it, "plan"));
        if (!c->code || !c->plan || !kind || !json_is_object(exam))
            return nt_fail(err, VOCAB_FILE, path, "needs code, kind, exam and plan");
        if ((rc = nt_strings(n, json_object_get(it, "symptoms"), VOCAB_FILE, path, &c->symptoms,
                             err)) ||
            (rc = nt_strings(n, json_object_get(it, "negatives"), VOCAB_FILE, path, &c->negatives,
                             err)))
            return rc;
        c->kind = NK_CHRONIC;
        for (int k = 0; k < NK_COUNT; k++)
            if (strcmp(kind, kind_names[k]) == 0)
                c->kind = k;
        if (json_is_array(days) && json_array_size(days) == 2) {
            c->days[0] = (int)json_integer_value(json_array_get(days, 0));
            c->days[1] = (int)json_integer_value(json_array_get(days, 1));
        }
        c->persistent = json_is_true(json_object_get(it, "persistent"));
        for (int s = 0; s < SYS_COUNT; s++)
            c->exam[s] = nl_str(n, json_object_get(exam, nt_sys_names[s]));
        if (fg_strmap_put(&n->clin_by_code, c->code, c) < 0)
            return fg_error_set(err, FG_ENOMEM, VOCAB_FILE, "out of memory");
    }
    return FG_OK;
}

static int nl_vocab_lists(struct ep_notes *n, json_t *root, fg_error *err)
{
    json_t *abbr = json_object_get(root, "abbreviations"), *it;
    json_t *exam = json_object_get(root, "exam_normal"), *sys = json_object_get(root, "exam_systems");
    json_t *counsel = json_object_get(root, "counsel"), *fever = json_object_get(root, "fever");
    size_t i;
    int rc;
    if (!json_is_array(abbr) || !json_is_object(exam) || !json_is_object(sys) ||
        !json_is_array(counsel) || !json_is_object(fever))
        return nt_fail(err, VOCAB_FILE, "", "needs abbreviations, exam_normal, exam_systems, "
                                            "counsel and fever");
    n->abbrev = fg_arena_calloc(&n->arena, (json_array_size(abbr) + 1) * sizeof(*n->abbrev));
    n->abbrev_len = fg_arena_calloc(&n->arena, (json_array_size(abbr) + 1) * sizeof(size_t));
    n->counsel = fg_arena_calloc(&n->arena, (json_array_size(counsel) + 1) * sizeof(*n->counsel));
    if (!n->abbrev || !n->abbrev_len || !n->counsel)
        return fg_error_set(err, FG_ENOMEM, VOCAB_FILE, "out of memory");
    json_array_foreach(abbr, i, it) {
        nt_pair *p = &n->abbrev[n->n_abbrev++];
        if (!(p->key = nl_str(n, json_object_get(it, "match"))) ||
            !(p->text = nl_str(n, json_object_get(it, "short"))))
            return nt_fail(err, VOCAB_FILE, "abbreviations", "needs match and short");
        n->abbrev_len[n->n_abbrev - 1] = strlen(p->key);
    }
    for (int s = 0; s < SYS_COUNT; s++) {
        if ((rc = nt_strings(n, json_object_get(exam, nt_sys_names[s]), VOCAB_FILE, "exam_normal",
                             &n->exam_normal[s], err)))
            return rc;
        if (n->exam_normal[s].n == 0)
            return nt_fail(err, VOCAB_FILE, "exam_normal", "every system needs a phrase");
    }
    for (int k = 0; k < NK_COUNT; k++) {
        nt_list l;
        if ((rc = nt_strings(n, json_object_get(sys, kind_names[k]), VOCAB_FILE, "exam_systems",
                             &l, err)))
            return rc;
        for (size_t j = 0; j < l.n; j++)
            for (int s = 0; s < SYS_COUNT; s++)
                n->exam_systems[k][s] |= strcmp(l.v[j], nt_sys_names[s]) == 0;
    }
    json_array_foreach(counsel, i, it) {
        nt_counsel *c = &n->counsel[n->n_counsel++];
        json_t *age = json_object_get(it, "age");
        c->age[0] = (int)json_integer_value(json_array_get(age, 0));
        c->age[1] = (int)json_integer_value(json_array_get(age, 1));
        if ((rc = nt_strings(n, json_object_get(it, "phrases"), VOCAB_FILE, "counsel",
                             &c->phrases, err)))
            return rc;
    }
    json_t *ctx = json_object_get(root, "stop_contexts");
    if (!json_is_array(ctx))
        return nt_fail(err, VOCAB_FILE, "stop_contexts", "expected a list");
    n->stop_ctx = fg_arena_calloc(&n->arena, (json_array_size(ctx) + 1) * sizeof(*n->stop_ctx));
    if (!n->stop_ctx)
        return fg_error_set(err, FG_ENOMEM, VOCAB_FILE, "out of memory");
    json_array_foreach(ctx, i, it) {
        n->stop_ctx[n->n_stop_ctx].condition = nl_str(n, json_object_get(it, "condition"));
        n->stop_ctx[n->n_stop_ctx].reason = nl_str(n, json_object_get(it, "reason"));
        n->stop_ctx[n->n_stop_ctx].held = json_is_true(json_object_get(it, "held"));
        if (!n->stop_ctx[n->n_stop_ctx++].reason || !n->stop_ctx[n->n_stop_ctx - 1].condition)
            return nt_fail(err, VOCAB_FILE, "stop_contexts", "needs condition and reason");
    }
    n->fever_celsius = json_number_value(json_object_get(fever, "celsius"));
    return nt_strings(n, json_object_get(fever, "words"), VOCAB_FILE, "fever", &n->fever_words,
                      err);
}

int nt_load_vocabulary(struct ep_notes *n, const char *datadir, fg_error *err)
{
    char path[4096];
    json_t *root = NULL;
    int rc;
    if (snprintf(path, sizeof(path), "%s/%s", datadir, VOCAB_FILE) >= (int)sizeof(path))
        return fg_error_set(err, FG_ELIMIT, VOCAB_FILE, "data folder path too long");
    if ((rc = eng_json_load(path, VOCAB_FILE, FG_MAX_DATA_FILE_BYTES, &root, err)))
        return rc;
    json_t *labs = json_object_get(root, "labs"), *drugs = json_object_get(root, "drugs");
    const char *key;
    json_t *v;
    if (!json_is_object(labs) || !json_is_object(drugs)) {
        rc = nt_fail(err, VOCAB_FILE, "", "needs labs and drugs");
        goto cleanup;
    }
    if (fg_strmap_reserve(&n->labs, json_object_size(labs)) != FG_OK) {
        rc = fg_error_set(err, FG_ENOMEM, VOCAB_FILE, "out of memory");
        goto cleanup;
    }
    json_object_foreach(labs, key, v) {
        const char *k = fg_arena_strdup(&n->arena, key), *t = nl_str(n, v);
        if (!k || !t || fg_strmap_put(&n->labs, k, (void *)t) < 0) {
            rc = nt_fail(err, VOCAB_FILE, "labs", "expected LOINC code -> short name");
            goto cleanup;
        }
    }
    if ((rc = nl_pairs(n, json_object_get(drugs, "forms"), VOCAB_FILE, "drugs.forms", &n->forms,
                       &n->n_forms, err)) ||
        (rc = nl_pairs(n, json_object_get(drugs, "units"), VOCAB_FILE, "drugs.units",
                       &n->dose_units, &n->n_dose_units, err)) ||
        (rc = nt_strings(n, json_object_get(drugs, "drop"), VOCAB_FILE, "drugs.drop", &n->drop,
                         err)) ||
        (rc = nt_strings(n, json_object_get(drugs, "frequency"), VOCAB_FILE, "drugs.frequency",
                         &n->frequency, err)) ||
        (rc = nl_pairs(n, json_object_get(root, "stop_reasons"), VOCAB_FILE, "stop_reasons",
                       &n->stop_reasons, &n->n_stop_reasons, err)) ||
        (rc = nl_pairs(n, json_object_get(root, "dispositions"), VOCAB_FILE, "dispositions",
                       &n->dispositions, &n->n_dispositions, err)) ||
        (rc = nt_strings(n, json_object_get(root, "ros"), VOCAB_FILE, "ros", &n->ros, err)) ||
        (rc = nt_strings(n, json_object_get(root, "wellness_types"), VOCAB_FILE,
                         "wellness_types", &n->wellness_types, err)) ||
        (rc = nl_vocab_lists(n, root, err)) ||
        (rc = nl_clin(n, json_object_get(root, "clinical"), err)))
        goto cleanup;
cleanup:
    json_decref(root);
    return rc;
}

int ep_notes_load(const fg_engine *e, struct ep_notes **out, fg_error *err)
{
    char path[4096];
    json_t *root = NULL;
    struct ep_notes *n = calloc(1, sizeof(*n));
    int rc;
    if (!n)
        return fg_error_set(err, FG_ENOMEM, NOTES_FILE, "out of memory");
    fg_arena_init(&n->arena);
    if (snprintf(path, sizeof(path), "%s/%s", e->datadir, NOTES_FILE) >= (int)sizeof(path)) {
        rc = fg_error_set(err, FG_ELIMIT, NOTES_FILE, "data folder path too long");
        goto cleanup;
    }
    if ((rc = eng_json_load(path, NOTES_FILE, FG_MAX_DATA_FILE_BYTES, &root, err)) ||
        (rc = nl_parse(n, root, e->terms, err)) ||
        (rc = nt_load_vocabulary(n, e->datadir, err)))
        goto cleanup;
    *out = n;
    n = NULL;
cleanup:
    ep_notes_free(n);
    json_decref(root);
    return rc;
}

void ep_notes_free(struct ep_notes *n)
{
    if (!n)
        return;
    fg_strmap_free(&n->labs);
    fg_strmap_free(&n->clin_by_code);
    fg_arena_free(&n->arena);
    free(n);
}
