/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_notes.c: one plain-text clinical note per encounter (eng_notes).
 *
 * A note can only say what the record says. Its sentences come from the
 * templates of data/notes/notes.json, compiled once at load into segments
 * (literal text, or a named value of the record), and are filled from the
 * history: the reason for the visit, the vital signs and results recorded
 * at that encounter, its diagnoses, procedures, immunizations, prescriptions
 * and recorded allergies, then the problems, medications and allergies on
 * record at that time, and the smoking status for adults who have one.
 * A sentence whose data is absent is left out.
 *
 * Speed: the events of the history are bucketed by encounter once per
 * patient (a hash of encounter ids, then linked lists), and text is built in
 * a fixed scratch buffer with plain copies, then copied into the history's
 * arena.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fhir/base/fg_hash.h"
#include "generators/engine/engine_private.h"
#include "generators/engine/episodes_private.h"
#include "generators/history/fg_history.h"

#define NOTES_FILE "notes/notes.json"

enum {
    V_LIT = 0, V_AGE, V_PERSON, V_DATE, V_END_DATE, V_REASON, V_VISIT, V_LIST, V_VALUE,
    V_HE, V_HE_CAP, V_HIS, V_HIS_CAP, V_COUNT
};
static const char *const var_names[V_COUNT] = {
    "", "age", "person", "date", "end_date", "reason", "visit", "list", "value",
    "he", "He", "his", "His",
};

enum {
    T_OPENING, T_OPENING_NO_REASON, T_EMERGENCY, T_ADMISSION, T_VITALS, T_NO_VITALS,
    T_RESULTS, T_DIAGNOSES, T_PROCEDURES, T_IMMUNIZATIONS, T_PRESCRIBED, T_ALLERGY_RECORDED,
    T_PROBLEMS, T_NO_PROBLEMS, T_MEDICATIONS, T_NO_MEDICATIONS, T_ALLERGIES, T_NO_ALLERGIES,
    T_SMOKING, T_COUNT
};
static const char *const tmpl_names[T_COUNT] = {
    "opening", "opening_no_reason", "emergency", "admission", "vitals", "no_vitals",
    "results", "diagnoses", "procedures", "immunizations", "prescribed", "allergy_recorded",
    "problems", "no_problems", "medications", "no_medications", "allergies", "no_allergies",
    "smoking",
};

typedef struct seg {
    int var; /* V_LIT for text */
    const char *text;
    size_t len;
} seg;

typedef struct tmpl {
    seg *segs;
    size_t n;
} tmpl;

typedef struct unit_word {
    const char *ucum, *text;
} unit_word;

struct ep_notes {
    fg_arena arena;
    fg_term types[4]; /* by fg_encounter_class */
    int adult_age;
    const char *female[2], *male[2], *infant, *he[2], *his[2];
    const char *age_units[4], *severity[3], *high_crit, *sep;
    unit_word *units;
    size_t n_units;
    tmpl t[T_COUNT];
};

/* ---- loading ---- */

static int nl_fail(fg_error *err, const char *path, const char *msg)
{
    char where[FG_ERROR_WHERE_MAX];
    snprintf(where, sizeof(where), "%s: %.200s", NOTES_FILE, path);
    return fg_error_set(err, FG_EINVALID, where, "%s", msg);
}

static const char *nl_str(struct ep_notes *n, json_t *v)
{
    return json_is_string(v) ? fg_arena_strdup(&n->arena, json_string_value(v)) : NULL;
}

/* Two words [female, male] or [child, adult]. */
static int nl_pair(struct ep_notes *n, json_t *words, const char *key, const char *out[2],
                   fg_error *err)
{
    json_t *v = json_object_get(words, key);
    if (!json_is_array(v) || json_array_size(v) != 2 ||
        !(out[0] = nl_str(n, json_array_get(v, 0))) || !(out[1] = nl_str(n, json_array_get(v, 1))))
        return nl_fail(err, key, "expected two words");
    return FG_OK;
}

static int nl_compile(struct ep_notes *n, const char *name, const char *src, tmpl *t,
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
            t->segs[t->n++] = (seg){V_LIT, p, len};
            p += len;
            continue;
        }
        const char *close = strchr(open, '}');
        if (!close)
            return nl_fail(err, name, "a '{' without its '}'");
        int var = 0;
        for (int v = 1; v < V_COUNT; v++)
            if (strlen(var_names[v]) == (size_t)(close - open - 1) &&
                strncmp(var_names[v], open + 1, (size_t)(close - open - 1)) == 0)
                var = v;
        if (!var) {
            char msg[160];
            snprintf(msg, sizeof(msg), "unknown value {%.*s}", (int)(close - open - 1) & 63,
                     open + 1);
            return nl_fail(err, name, msg);
        }
        t->segs[t->n++] = (seg){var, NULL, 0};
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
        return nl_fail(err, path, "expected a term {\"system\", \"code\", \"display\"}");
    if (terms && !fg_terminology_find(terms, out->system, out->code))
        return nl_fail(err, path, "code not in the terminology tables (data/terminology/)");
    return FG_OK;
}

static int nl_parse(struct ep_notes *n, json_t *root, const fg_terminology *terms, fg_error *err)
{
    static const char *const classes[4] = {"AMB", "EMER", "IMP", "VR"};
    json_t *types = json_object_get(root, "types"), *words = json_object_get(root, "words"),
           *units = json_object_get(root, "units"), *tm = json_object_get(root, "templates"),
           *adult = json_object_get(root, "adult_age");
    int rc;
    if (!json_is_object(types) || !json_is_object(words) || !json_is_object(units) ||
        !json_is_object(tm) || !json_is_integer(adult))
        return nl_fail(err, "", "needs types, adult_age, words, units and templates");
    n->adult_age = (int)json_integer_value(adult);
    for (int c = 0; c < 4; c++) {
        char path[32];
        snprintf(path, sizeof(path), "types.%s", classes[c]);
        if ((rc = nl_term(n, json_object_get(types, classes[c]), terms, path, &n->types[c], err)))
            return rc;
    }
    json_t *au = json_object_get(words, "age_units"), *sv = json_object_get(words, "severity");
    if ((rc = nl_pair(n, words, "female", n->female, err)) ||
        (rc = nl_pair(n, words, "male", n->male, err)) ||
        (rc = nl_pair(n, words, "he", n->he, err)) || (rc = nl_pair(n, words, "his", n->his, err)))
        return rc;
    if (!json_is_array(au) || json_array_size(au) != 4 || !json_is_array(sv) ||
        json_array_size(sv) != 3)
        return nl_fail(err, "words", "age_units needs 4 words, severity 3");
    for (size_t i = 0; i < 4; i++)
        if (!(n->age_units[i] = nl_str(n, json_array_get(au, i))))
            return nl_fail(err, "words.age_units", "expected words");
    for (size_t i = 0; i < 3; i++)
        if (!(n->severity[i] = nl_str(n, json_array_get(sv, i))))
            return nl_fail(err, "words.severity", "expected words");
    if (!(n->infant = nl_str(n, json_object_get(words, "infant"))) ||
        !(n->high_crit = nl_str(n, json_object_get(words, "high_criticality"))) ||
        !(n->sep = nl_str(n, json_object_get(words, "separator"))))
        return nl_fail(err, "words", "needs infant, high_criticality and separator");
    n->units = fg_arena_calloc(&n->arena, (json_object_size(units) + 1) * sizeof(*n->units));
    if (!n->units)
        return fg_error_set(err, FG_ENOMEM, NOTES_FILE, "out of memory");
    const char *key;
    json_t *v;
    json_object_foreach(units, key, v) {
        unit_word *u = &n->units[n->n_units++];
        u->ucum = fg_arena_strdup(&n->arena, key);
        if (!(u->text = nl_str(n, v)) || !u->ucum)
            return nl_fail(err, "units", "expected UCUM unit -> text");
    }
    for (int i = 0; i < T_COUNT; i++) {
        const char *src = nl_str(n, json_object_get(tm, tmpl_names[i]));
        char path[64];
        snprintf(path, sizeof(path), "templates.%s", tmpl_names[i]);
        if (!src)
            return nl_fail(err, path, "missing template");
        if ((rc = nl_compile(n, path, src, &n->t[i], err)))
            return rc;
    }
    return FG_OK;
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
    if ((rc = eng_json_load(path, NOTES_FILE, FG_MAX_DATA_FILE_BYTES, &root, err)))
        goto cleanup;
    if ((rc = nl_parse(n, root, e->terms, err)))
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
    fg_arena_free(&n->arena);
    free(n);
}

/* ---- text ---- */

/* A fixed scratch buffer; text past its end is dropped. */
typedef struct nb {
    char *p;
    size_t len, cap;
} nb;

static void nb_put(nb *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap)
        n = b->cap - 1 - b->len;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void nb_puts(nb *b, const char *s)
{
    if (s)
        nb_put(b, s, strlen(s));
}

static void nb_int(nb *b, long long v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    int neg = v < 0;
    unsigned long long u = neg ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (neg)
        tmp[--i] = '-';
    nb_put(b, tmp + i, sizeof(tmp) - i);
}

static void nb_fixed(nb *b, double v, int decimals)
{
    static const double pow10[] = {1, 10, 100, 1000, 10000};
    if (decimals < 0)
        decimals = 0;
    if (decimals > 4)
        decimals = 4;
    double scaled = v * pow10[decimals];
    long long r = (long long)(scaled < 0 ? scaled - 0.5 : scaled + 0.5);
    if (r < 0) {
        nb_put(b, "-", 1);
        r = -r;
    }
    long long whole = r / (long long)pow10[decimals], frac = r % (long long)pow10[decimals];
    nb_int(b, whole);
    if (decimals) {
        char tmp[8];
        for (int i = decimals - 1; i >= 0; i--, frac /= 10)
            tmp[i] = (char)('0' + frac % 10);
        nb_put(b, ".", 1);
        nb_put(b, tmp, (size_t)decimals);
    }
}

/* A term's display; SNOMED CT semantic tags such as " (disorder)" are left
 * out, and with `lower` a leading capital is lowered unless the second
 * letter is a capital too (an acronym). */
static void nb_term(nb *b, const fg_term *t, int lower)
{
    const char *d = t->display;
    if (!d)
        return;
    size_t n = strlen(d);
    if (t->system && strcmp(t->system, FG_SYS_SNOMED) == 0 && n > 2 && d[n - 1] == ')') {
        const char *tag = NULL;
        for (const char *p = d; (p = strstr(p, " (")) != NULL; p++)
            tag = p;
        if (tag && tag > d)
            n = (size_t)(tag - d);
    }
    size_t start = b->len;
    nb_put(b, d, n);
    if (lower && b->len > start + 1 && b->p[start] >= 'A' && b->p[start] <= 'Z' &&
        !(b->p[start + 1] >= 'A' && b->p[start + 1] <= 'Z'))
        b->p[start] = (char)(b->p[start] - 'A' + 'a');
}

static void nb_date(nb *b, fg_time t)
{
    char d[11];
    nb_put(b, d, fg_format_date(t, d));
}

static const char *unit_text(const struct ep_notes *n, const char *ucum)
{
    for (size_t i = 0; ucum && i < n->n_units; i++)
        if (strcmp(n->units[i].ucum, ucum) == 0)
            return n->units[i].text;
    return ucum;
}

static void nb_quantity(nb *b, const struct ep_notes *n, double v, int decimals, const char *unit)
{
    const char *u = unit_text(n, unit);
    nb_fixed(b, v, decimals);
    if (u && *u) {
        nb_put(b, " ", 1);
        nb_puts(b, u);
    }
}

static void nb_observation(nb *b, const struct ep_notes *n, const fg_observation *o)
{
    if (o->n_components) {
        for (size_t i = 0; i < o->n_components; i++) {
            if (i)
                nb_puts(b, n->sep);
            nb_term(b, &o->components[i].term, 0);
            nb_put(b, " ", 1);
            nb_quantity(b, n, o->components[i].value, 0, o->components[i].unit);
        }
        return;
    }
    nb_term(b, &o->term, 0);
    if (o->kind == FG_VALUE_QUANTITY) {
        nb_put(b, " ", 1);
        nb_quantity(b, n, o->value, o->decimals, o->unit);
    } else if (o->kind == FG_VALUE_CODE) {
        nb_put(b, ": ", 2);
        nb_term(b, &o->code_value, 1);
    }
}

/* ---- per-encounter index ---- */

typedef struct idx {
    size_t n_enc;
    fg_strmap by_id; /* encounter id -> encounter index + 1, the first of a repeated id */
    int *first[6], *next[6];
} idx;

enum { K_COND, K_OBS, K_MED, K_IMM, K_PROC, K_ALLERGY };

static int idx_find(const idx *x, const char *id)
{
    return (int)(intptr_t)fg_strmap_get(&x->by_id, id) - 1;
}

/* Bucket one event list by encounter, keeping the history's order. */
#define IDX_BUCKET(x, h, k, field)                                                             \
    do {                                                                                       \
        (x)->next[k] = malloc(((h)->field.n + 1) * sizeof(int));                               \
        if (!(x)->next[k])                                                                     \
            return -1;                                                                         \
        for (size_t i_ = (h)->field.n; i_-- > 0;) {                                            \
            int e_ = idx_find((x), (h)->field.v[i_].encounter);                                \
            (x)->next[k][i_] = e_ >= 0 ? (x)->first[k][e_] : -1;                               \
            if (e_ >= 0)                                                                       \
                (x)->first[k][e_] = (int)i_;                                                   \
        }                                                                                      \
    } while (0)

static int idx_build(idx *x, const fg_history *h)
{
    x->n_enc = h->encounters.n;
    if (fg_strmap_reserve(&x->by_id, x->n_enc) != FG_OK)
        return -1;
    for (size_t e = 0; e < x->n_enc; e++) {
        const char *id = h->encounters.v[e].id;
        if (id && fg_strmap_add(&x->by_id, id, (void *)(intptr_t)(e + 1)) < 0)
            return -1;
    }
    for (int k = 0; k < 6; k++) {
        x->first[k] = malloc((x->n_enc + 1) * sizeof(int));
        if (!x->first[k])
            return -1;
        for (size_t e = 0; e < x->n_enc; e++)
            x->first[k][e] = -1;
    }
    IDX_BUCKET(x, h, K_COND, conditions);
    IDX_BUCKET(x, h, K_OBS, observations);
    IDX_BUCKET(x, h, K_MED, medications);
    IDX_BUCKET(x, h, K_IMM, immunizations);
    IDX_BUCKET(x, h, K_PROC, procedures);
    IDX_BUCKET(x, h, K_ALLERGY, allergies);
    return 0;
}

static void idx_free(idx *x)
{
    fg_strmap_free(&x->by_id);
    for (int k = 0; k < 6; k++) {
        free(x->first[k]);
        free(x->next[k]);
    }
}

/* ---- writing one note ---- */

typedef struct note_ctx {
    const struct ep_notes *n;
    const fg_history *h;
    const fg_encounter *enc;
    nb *out, *list;
    const char *value; /* {value} */
} note_ctx;

static void put_age(note_ctx *c)
{
    fg_time birth = c->h->patient.birth_date, t = c->enc->start;
    int years = fg_age_at(birth, t);
    long long d = (long long)((t - birth) / FG_DAY);
    long long num;
    int unit;
    if (years >= 2) {
        num = years;
        unit = 3;
    } else if (d >= 61) {
        num = (long long)(d / 30.44);
        unit = 2;
    } else if (d >= 14) {
        num = d / 7;
        unit = 1;
    } else {
        num = d < 0 ? 0 : d;
        unit = 0;
    }
    nb_int(c->out, num);
    nb_put(c->out, "-", 1);
    nb_puts(c->out, c->n->age_units[unit]);
    nb_put(c->out, "-old", 4);
}

static void put_var(note_ctx *c, int var)
{
    const struct ep_notes *n = c->n;
    const fg_patient *p = &c->h->patient;
    int male = p->sex == FG_SEX_MALE;
    int age = fg_age_at(p->birth_date, c->enc->start);
    switch (var) {
    case V_AGE:
        put_age(c);
        break;
    case V_PERSON:
        nb_puts(c->out, age < 1 ? n->infant
                                : (male ? n->male : n->female)[age >= n->adult_age]);
        break;
    case V_DATE:
        nb_date(c->out, c->enc->start);
        break;
    case V_END_DATE:
        nb_date(c->out, c->enc->end > c->enc->start ? c->enc->end : c->enc->start);
        break;
    case V_REASON:
        nb_term(c->out, &c->enc->reason, 1);
        break;
    case V_VISIT:
        nb_term(c->out, &c->enc->type, 1);
        break;
    case V_LIST:
        nb_put(c->out, c->list->p, c->list->len);
        break;
    case V_VALUE:
        nb_puts(c->out, c->value);
        break;
    case V_HE:
    case V_HE_CAP:
    case V_HIS:
    case V_HIS_CAP: {
        const char *w = (var <= V_HE_CAP ? n->he : n->his)[male];
        size_t start = c->out->len;
        nb_puts(c->out, w);
        if ((var == V_HE_CAP || var == V_HIS_CAP) && c->out->len > start &&
            c->out->p[start] >= 'a' && c->out->p[start] <= 'z')
            c->out->p[start] = (char)(c->out->p[start] - 'a' + 'A');
        break;
    }
    default:
        break;
    }
}

/* Write sentence t (on its own line). */
static void sentence(note_ctx *c, int t)
{
    const tmpl *tp = &c->n->t[t];
    if (c->out->len)
        nb_put(c->out, "\n", 1);
    for (size_t i = 0; i < tp->n; i++) {
        if (tp->segs[i].var == V_LIT)
            nb_put(c->out, tp->segs[i].text, tp->segs[i].len);
        else
            put_var(c, tp->segs[i].var);
    }
}

static void list_sep(note_ctx *c)
{
    if (c->list->len)
        nb_puts(c->list, c->n->sep);
}

/* Write the list sentence t when the list is not empty, else `none` (when
 * not negative); then empty the list. */
static void list_sentence(note_ctx *c, int t, int none)
{
    if (c->list->len)
        sentence(c, t);
    else if (none >= 0)
        sentence(c, none);
    c->list->len = 0;
    c->list->p[0] = 0;
}

static int is_term(const fg_term *t, const fg_term *want)
{
    return want && want->code && t->code && strcmp(t->code, want->code) == 0 && t->system &&
           want->system && strcmp(t->system, want->system) == 0;
}

static void write_note(note_ctx *c, const idx *x, int e, const fg_term *smoking)
{
    const fg_history *h = c->h;
    const fg_encounter *enc = c->enc;
    const struct ep_notes *n = c->n;
    fg_time t = enc->start;
    int age = fg_age_at(h->patient.birth_date, t);

    sentence(c, enc->reason.display ? T_OPENING : T_OPENING_NO_REASON);
    if (enc->cls == FG_CLASS_EMER)
        sentence(c, T_EMERGENCY);
    else if (enc->cls == FG_CLASS_IMP)
        sentence(c, T_ADMISSION);

    for (int i = x->first[K_OBS][e]; i >= 0; i = x->next[K_OBS][i])
        if (h->observations.v[i].category == FG_OBS_VITAL) {
            list_sep(c);
            nb_observation(c->list, n, &h->observations.v[i]);
        }
    list_sentence(c, T_VITALS, T_NO_VITALS);
    for (int i = x->first[K_OBS][e]; i >= 0; i = x->next[K_OBS][i]) {
        const fg_observation *o = &h->observations.v[i];
        if (o->category != FG_OBS_VITAL && !is_term(&o->term, smoking)) {
            list_sep(c);
            nb_observation(c->list, n, o);
        }
    }
    list_sentence(c, T_RESULTS, -1);
    for (int i = x->first[K_COND][e]; i >= 0; i = x->next[K_COND][i]) {
        list_sep(c);
        nb_term(c->list, &h->conditions.v[i].term, 0);
    }
    list_sentence(c, T_DIAGNOSES, -1);
    for (int i = x->first[K_PROC][e]; i >= 0; i = x->next[K_PROC][i]) {
        list_sep(c);
        nb_term(c->list, &h->procedures.v[i].term, 0);
    }
    list_sentence(c, T_PROCEDURES, -1);
    for (int i = x->first[K_IMM][e]; i >= 0; i = x->next[K_IMM][i]) {
        list_sep(c);
        nb_term(c->list, &h->immunizations.v[i].term, 0);
    }
    list_sentence(c, T_IMMUNIZATIONS, -1);
    for (int i = x->first[K_MED][e]; i >= 0; i = x->next[K_MED][i]) {
        const fg_medication *m = &h->medications.v[i];
        list_sep(c);
        nb_term(c->list, &m->term, 0);
        if (m->dosage) {
            nb_put(c->list, " (", 2);
            nb_puts(c->list, m->dosage);
            nb_put(c->list, ")", 1);
        }
    }
    list_sentence(c, T_PRESCRIBED, -1);
    int visit_allergies = 0, visit_meds = 0, visit_problems = 0;
    for (size_t i = 0; i < h->conditions.n; i++)
        if (h->conditions.v[i].category == FG_COND_PROBLEM &&
            idx_find(x, h->conditions.v[i].encounter) == e)
            visit_problems++;
    for (int i = x->first[K_MED][e]; i >= 0; i = x->next[K_MED][i])
        visit_meds++;
    for (int i = x->first[K_ALLERGY][e]; i >= 0; i = x->next[K_ALLERGY][i]) {
        const fg_allergy *a = &h->allergies.v[i];
        visit_allergies++;
        list_sep(c);
        nb_term(c->list, &a->term, 0);
        if (a->reaction.display) {
            nb_put(c->list, " (", 2);
            nb_term(c->list, &a->reaction, 1);
            if (a->severity >= 0 && a->severity <= 2) {
                nb_put(c->list, ", ", 2);
                nb_puts(c->list, n->severity[a->severity]);
            }
            nb_put(c->list, ")", 1);
        }
        if (a->high_criticality) {
            nb_put(c->list, ", ", 2);
            nb_puts(c->list, n->high_crit);
        }
    }
    list_sentence(c, T_ALLERGY_RECORDED, -1);

    /* What is on record at the time of the visit (this visit's own items
     * were named above). "None on record" is said only when this visit
     * added none either, so the note never contradicts itself. */
    for (size_t i = 0; i < h->conditions.n; i++) {
        const fg_condition *d = &h->conditions.v[i];
        if (d->category == FG_COND_PROBLEM && d->onset <= t &&
            (d->abatement == FG_TIME_NONE || d->abatement > t) &&
            idx_find(x, d->encounter) != e) {
            list_sep(c);
            nb_term(c->list, &d->term, 0);
        }
    }
    list_sentence(c, T_PROBLEMS, visit_problems ? -1 : T_NO_PROBLEMS);
    for (size_t i = 0; i < h->medications.n; i++) {
        const fg_medication *m = &h->medications.v[i];
        if (m->start < t && (m->end == FG_TIME_NONE || m->end > t) &&
            idx_find(x, m->encounter) != e) {
            list_sep(c);
            nb_term(c->list, &m->term, 0);
        }
    }
    list_sentence(c, T_MEDICATIONS, visit_meds ? -1 : T_NO_MEDICATIONS);
    for (size_t i = 0; i < h->allergies.n; i++) {
        const fg_allergy *a = &h->allergies.v[i];
        if (a->onset < t && idx_find(x, a->encounter) != e) {
            list_sep(c);
            nb_term(c->list, &a->term, 0);
        }
    }
    list_sentence(c, T_ALLERGIES, visit_allergies ? -1 : T_NO_ALLERGIES);

    if (smoking && age >= n->adult_age) {
        const fg_observation *last = NULL;
        for (size_t i = 0; i < h->observations.n; i++) {
            const fg_observation *o = &h->observations.v[i];
            if (o->kind == FG_VALUE_CODE && o->time <= enc->end && is_term(&o->term, smoking) &&
                fg_age_at(h->patient.birth_date, o->time) >= n->adult_age &&
                (!last || o->time >= last->time))
                last = o;
        }
        if (last) {
            size_t start = c->list->len;
            nb_term(c->list, &last->code_value, 1);
            c->value = c->list->p + start;
            sentence(c, T_SMOKING);
            c->value = NULL;
            c->list->len = 0;
            c->list->p[0] = 0;
        }
    }
}

int eng_notes(eng_gen *g, fg_error *err)
{
    const struct eng_episodes *x = g->e->episodes;
    fg_history *h = g->h;
    idx ix;
    nb out = {0}, list = {0};
    fg_term smoking;
    int have_smoking, rc = FG_OK;

    memset(&ix, 0, sizeof(ix));
    if (!x || !x->notes || h->encounters.n == 0)
        return FG_OK;
    have_smoking = eng_vocab_term(g->e, "social.smoking_status", &smoking, NULL, NULL) == FG_OK;
    out.cap = list.cap = FG_MAX_NOTE_BYTES;
    out.p = malloc(out.cap);
    list.p = malloc(list.cap);
    if (!out.p || !list.p || idx_build(&ix, h)) {
        rc = fg_error_set(err, FG_ENOMEM, "engine.notes", "out of memory");
        goto cleanup;
    }
    list.p[0] = 0;
    size_t n_enc = h->encounters.n;
    for (size_t e = 0; e < n_enc; e++) {
        const fg_encounter *enc = &h->encounters.v[e];
        note_ctx c = {x->notes, h, enc, &out, &list, NULL};
        out.len = 0;
        out.p[0] = 0;
        write_note(&c, &ix, (int)e, have_smoking ? &smoking : NULL);
        const char *text = fg_arena_strndup(&h->arena, out.p, out.len);
        fg_note *note = FG_PUSH(h, notes);
        if (!text || !note) {
            rc = fg_error_set(err, FG_ENOMEM, "engine.notes", "out of memory");
            goto cleanup;
        }
        enc = &h->encounters.v[e];
        note->id = eng_new_id(g);
        note->encounter = enc->id;
        note->type = x->notes->types[enc->cls <= FG_CLASS_VR ? enc->cls : 0];
        note->time = enc->end > enc->start ? enc->end : enc->start;
        note->text = text;
        if (!note->id) {
            rc = fg_error_set(err, FG_ENOMEM, "engine.notes", "out of memory");
            goto cleanup;
        }
    }
cleanup:
    idx_free(&ix);
    free(out.p);
    free(list.p);
    return rc;
}
