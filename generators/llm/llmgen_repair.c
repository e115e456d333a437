/* SPDX-License-Identifier: Apache-2.0 */
/*
 * llmgen_repair.c: one answer of the model, checked.
 *
 * The answer is untrusted text. It is parsed as a history document (the
 * parser bounds size and depth and names the path of the first problem),
 * then merged with the skeleton: the engine decides who the patient is, so
 * the patient block, and the care team (organisations, clinicians and
 * locations with valid NPIs), are the engine's; encounters are re-pointed
 * at that team by class. Every resource id the model wrote is replaced by a
 * UUID derived from the engine's patient id, the list and the model's id,
 * so two patients never share an id and a rerun gives the same ids. The
 * skeleton's conditions must still be there; every term is grounded and the
 * story checked by the plausibility rules. All problems become findings with paths for
 * the repair prompt.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/base/fg_hash.h"
#include "fhir/base/fg_rng.h"
#include "generators/llm/llmgen_private.h"

static uint64_t hash_str(uint64_t h, const char *s)
{
    return fg_mix64(fg_fnv1a_str(h, s ? s : "") ^ 0xff);
}

/* A fresh id for the model's id `old` of list `list`. */
static const char *new_id(fg_history *h, const char *pid, const char *list, const char *old)
{
    char *s = fg_arena_alloc(&h->arena, 37);
    if (!s)
        return NULL;
    fg_rng r;
    uint64_t k = hash_str(hash_str(hash_str(FG_FNV_OFFSET_BASIS, pid), list), old);
    fg_rng_seed(&r, k);
    fg_rng_uuid(&r, s);
    return s;
}

/* old -> new ids of one list, searched linearly (lists are short). */
typedef struct id_map {
    const char **old, **neu;
    size_t n;
} id_map;

static const char *map_lookup(const id_map *m, const char *old)
{
    if (!old)
        return NULL;
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->old[i], old) == 0)
            return m->neu[i];
    return NULL;
}

/* Rewrite the id member of each item of a list (ids at offset `off` of
 * items of size `size`), recording the map. */
static int remap_list(fg_history *h, const char *pid, const char *list, void *items, size_t n,
                      size_t size, size_t off, id_map *m)
{
    m->n = 0;
    m->old = n ? fg_arena_alloc(&h->arena, n * sizeof(char *)) : NULL;
    m->neu = n ? fg_arena_alloc(&h->arena, n * sizeof(char *)) : NULL;
    if (n && (!m->old || !m->neu))
        return FG_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char **id = (const char **)((char *)items + i * size + off);
        const char *old = *id ? *id : "";
        const char *neu = new_id(h, pid, list, old);
        if (!neu)
            return FG_ENOMEM;
        m->old[m->n] = old;
        m->neu[m->n++] = neu;
        *id = neu;
    }
    return FG_OK;
}

/* A reference rewritten through m; one that names nothing keeps a fresh
 * id derived from it (the plausibility rules report it). */
static int remap_ref(fg_history *h, const char *pid, const char *list, const id_map *m,
                     const char **ref)
{
    if (!*ref)
        return FG_OK;
    const char *neu = map_lookup(m, *ref);
    if (!neu && !(neu = new_id(h, pid, list, *ref)))
        return FG_ENOMEM;
    *ref = neu;
    return FG_OK;
}

#define REMAP(list, field, map)                                                                \
    remap_list(h, pid, #list, h->list.v, h->list.n, sizeof(*h->list.v),                        \
               offsetof(__typeof__(*h->list.v), field), map)

static int rewrite_ids(fg_history *h, const char *pid)
{
    id_map enc, cond, obs, tmp;
    int rc;
    if ((rc = REMAP(encounters, id, &enc)) || (rc = REMAP(conditions, id, &cond)) ||
        (rc = REMAP(observations, id, &obs)) || (rc = REMAP(reports, id, &tmp)) ||
        (rc = REMAP(medications, id, &tmp)) || (rc = REMAP(immunizations, id, &tmp)) ||
        (rc = REMAP(procedures, id, &tmp)) || (rc = REMAP(allergies, id, &tmp)) ||
        (rc = REMAP(careplans, id, &tmp)) || (rc = REMAP(notes, id, &tmp)))
        return rc;
#define ENC_REFS(list)                                                                         \
    for (size_t i = 0; i < h->list.n; i++)                                                     \
        if ((rc = remap_ref(h, pid, "encounters", &enc, &h->list.v[i].encounter)))             \
            return rc;
    ENC_REFS(conditions)
    ENC_REFS(observations)
    ENC_REFS(reports)
    ENC_REFS(medications)
    ENC_REFS(immunizations)
    ENC_REFS(procedures)
    ENC_REFS(allergies)
    ENC_REFS(careplans)
    ENC_REFS(notes)
#undef ENC_REFS
    for (size_t i = 0; i < h->medications.n; i++)
        if ((rc = remap_ref(h, pid, "conditions", &cond, &h->medications.v[i].reason)))
            return rc;
    for (size_t i = 0; i < h->procedures.n; i++)
        if ((rc = remap_ref(h, pid, "conditions", &cond, &h->procedures.v[i].reason)))
            return rc;
    for (size_t i = 0; i < h->careplans.n; i++)
        for (size_t k = 0; k < h->careplans.v[i].n_addresses; k++)
            if ((rc = remap_ref(h, pid, "conditions", &cond, &h->careplans.v[i].addresses[k])))
                return rc;
    for (size_t i = 0; i < h->reports.n; i++)
        for (size_t k = 0; k < h->reports.v[i].n_results; k++)
            if ((rc = remap_ref(h, pid, "observations", &obs, &h->reports.v[i].results[k])))
                return rc;
    return FG_OK;
}

/* The team that saw the skeleton's ambulatory (0) or hospital (1) encounters. */
typedef struct team {
    const char *org, *pract, *loc;
} team;

static void skeleton_teams(const fg_history *s, team t[2])
{
    memset(t, 0, 2 * sizeof(team));
    for (size_t i = 0; i < s->encounters.n; i++) {
        const fg_encounter *e = &s->encounters.v[i];
        int k = e->cls == FG_CLASS_EMER || e->cls == FG_CLASS_IMP;
        if (!t[k].org)
            t[k] = (team){e->organization, e->practitioner, e->location};
    }
    if (!t[0].org)
        t[0] = t[1];
    if (!t[1].org)
        t[1] = t[0];
}

#define COPY_LIST(dst, src, list)                                                              \
    do {                                                                                       \
        (dst)->list.n = 0;                                                                     \
        for (size_t i_ = 0; i_ < (src)->list.n; i_++) {                                        \
            __typeof__((dst)->list.v) it_ = FG_PUSH(dst, list);                                \
            if (!it_)                                                                          \
                return FG_ENOMEM;                                                              \
            *it_ = (src)->list.v[i_];                                                          \
        }                                                                                      \
    } while (0)

/* The skeleton's patient and care team into h; h's encounters re-pointed. */
static int merge_skeleton(const llmgen_skel *s, fg_history *h)
{
    h->patient = s->h.patient;
    if (h->patient.death == FG_TIME_NONE) /* alive: a cause of death has no place */
        memset(&h->death_cause, 0, sizeof(h->death_cause));
    team t[2];
    skeleton_teams(&s->h, t);
    if (!t[0].org)
        return FG_OK; /* the engine saw no visit: keep the model's team */
    COPY_LIST(h, &s->h, organizations);
    COPY_LIST(h, &s->h, practitioners);
    COPY_LIST(h, &s->h, locations);
    for (size_t i = 0; i < h->encounters.n; i++) {
        fg_encounter *e = &h->encounters.v[i];
        int k = e->cls == FG_CLASS_EMER || e->cls == FG_CLASS_IMP;
        e->organization = t[k].org;
        e->practitioner = t[k].pract;
        e->location = t[k].loc;
    }
    return FG_OK;
}

static int same(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* Every chronic condition of the skeleton is a condition of h (by code,
 * after grounding). */
static int check_conditions(const llmgen_skel *s, const fg_history *h, fg_findings *f)
{
    for (size_t i = 0; i < s->n_conds; i++) {
        const fg_engine_condition *c = &s->conds[i];
        size_t k;
        for (k = 0; k < h->conditions.n; k++)
            if (same(h->conditions.v[k].term.code, c->term.code) &&
                same(h->conditions.v[k].term.system, c->term.system))
                break;
        if (k < h->conditions.n)
            continue;
        char onset[11];
        fg_format_date(c->onset, onset);
        if (fg_findings_add(f, FG_FIND_INCOHERENT, NULL, 0, "conditions",
                            "the skeleton's condition \"%s\" (%s %s, onset %s) is missing: keep "
                            "every condition of the skeleton as a problem-list-item",
                            c->term.display, c->term.system, c->term.code, onset) != FG_OK)
            return FG_ENOMEM;
    }
    return FG_OK;
}

int llmgen_check(const fg_terminology *terms, const fg_plausibility_rules *rules,
                 const llmgen_skel *s, const char *text, size_t len, fg_history *ans,
                 fg_findings *f, fg_error *err)
{
    fg_error perr;
    fg_error_clear(&perr);
    /* The patient block is replaced by the skeleton's anyway: dates are
     * left to the plausibility rules, against the skeleton, all findings in
     * one round (the parser would stop at the first). */
    int rc = fg_history_parse_flags(ans, text, len, "answer", FG_HISTORY_PARSE_ANY_DATES, &perr);
    if (rc == FG_ENOMEM)
        return fg_error_set(err, FG_ENOMEM, "answer", "out of memory");
    if (rc != FG_OK) {
        if (fg_findings_add(f, FG_FIND_INCOHERENT, NULL, 0, perr.where[0] ? perr.where : "$",
                            "%s", perr.text) != FG_OK)
            return fg_error_set(err, FG_ENOMEM, "answer", "out of memory");
        return FG_OK;
    }
    if (merge_skeleton(s, ans) != FG_OK)
        return fg_error_set(err, FG_ENOMEM, "answer", "out of memory");
    if ((rc = fg_ground_history(terms, ans, f, err)) != FG_OK)
        return rc;
    if (check_conditions(s, ans, f) != FG_OK)
        return fg_error_set(err, FG_ENOMEM, "answer", "out of memory");
    fg_plausibility_facts facts;
    fg_plausibility_facts_of(ans, &facts);
    facts.history_start = s->history_start;
    facts.history_end = s->history_end;
    if ((rc = fg_plausibility_check(rules, ans, &facts, f, err)) != FG_OK)
        return rc;
    /* ids last, so findings quote the model's own ids */
    if (rewrite_ids(ans, s->h.patient.id ? s->h.patient.id : "") != FG_OK)
        return fg_error_set(err, FG_ENOMEM, "answer", "out of memory");
    return FG_OK;
}
