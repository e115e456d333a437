/* SPDX-License-Identifier: Apache-2.0 */
/*
 * history_json.c: the JSON form of a patient history, as described by
 * data/schema/history.schema.json.
 *
 * Both directions walk the same tables (history_json_write.c, declared in
 * history_json_private.h). Each kind of JSON object (patient,
 * encounter, term, ...) has an obj_spec: the list of its members in schema
 * order, each with its kind (string, id, reference, date-time, enum, nested
 * object, list, ...), its offset in the C struct and a few flags. The parser
 * walks a table to report unknown members, missing members, wrong types and
 * bad values the same way everywhere; the writer walks it to emit members in
 * the same order, with explicit nulls for absent optional values, so its
 * output validates against the strict schema.
 *
 * Members are read in table order, not document order: the patient comes
 * first and every list comes after the lists it refers to (events after
 * encounters, reports after observations, medications after conditions), so
 * references, duplicate ids and "before birth / after death" are all checked
 * while reading, each error carrying the path of the member at fault.
 *
 * Ids are kept in a jansson object (id -> kind and index) for the length of
 * one parse, so every allocation of a parse other than the history's arena
 * goes through jansson's allocator (the allocation-failure test relies on it).
 */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fhir/json/fg_jr.h"
#include "generators/history/fg_history.h"
#include "generators/history/history_json_private.h"

/* ---- parsing ------------------------------------------------------------------------------- */

typedef struct ctx {
    fg_history *h;
    fg_error *err;
    const char *source;
    json_t *ids; /* id -> (kind << 32 | index) */
    char path[FG_ERROR_WHERE_MAX];
    size_t plen;
    unsigned flags; /* FG_HISTORY_PARSE_* */
} ctx;

static int fail(ctx *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(ctx *c, int code, const char *fmt, ...)
{
    if (!c->err)
        return code;
    char text[FG_ERROR_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    const char *where = c->plen ? c->path : (c->source ? c->source : "history");
    return fg_error_set(c->err, code, where, "%s", text);
}

static size_t push_key(ctx *c, const char *key)
{
    size_t old = c->plen;
    int n = snprintf(c->path + old, sizeof(c->path) - old, "%s%s", old ? "." : "", key);
    c->plen = n < 0 ? old : old + (size_t)n >= sizeof(c->path) ? sizeof(c->path) - 1 : old + (size_t)n;
    return old;
}

static size_t push_index(ctx *c, size_t i)
{
    size_t old = c->plen;
    int n = snprintf(c->path + old, sizeof(c->path) - old, "[%zu]", i);
    c->plen = n < 0 ? old : old + (size_t)n >= sizeof(c->path) ? sizeof(c->path) - 1 : old + (size_t)n;
    return old;
}

static void pop(ctx *c, size_t old)
{
    c->plen = old;
    c->path[old] = 0;
}

static const char *type_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE: return "true";
    case JSON_FALSE: return "false";
    default: return "null";
    }
}

static int wrong_type(ctx *c, const json_t *j, const char *want, unsigned flags)
{
    return fail(c, FG_EINVALID, "expected %s%s, got %s", want, (flags & NUL) ? " or null" : "",
                type_name(j));
}

/* A string value, length-checked and copied into the arena. "" reads as
 * NULL where null is allowed. */
static int read_string(ctx *c, const json_t *j, unsigned flags, const char **out)
{
    if (!json_is_string(j))
        return wrong_type(c, j, "a string", flags);
    size_t n = json_string_length(j);
    size_t max = (flags & TEXT) ? FG_MAX_NOTE_BYTES : FG_MAX_STRING_BYTES;
    if (n > max)
        return fail(c, FG_ELIMIT, "a string of %zu bytes is longer than the limit of %zu bytes", n,
                    max);
    if (n == 0) {
        if (flags & NUL) {
            *out = NULL;
            return FG_OK;
        }
        return fail(c, FG_EINVALID, "empty string: a value is required here");
    }
    char *s = fg_arena_strndup(&c->h->arena, json_string_value(j), n);
    if (!s)
        return fail(c, FG_ENOMEM, "out of memory");
    *out = s;
    return FG_OK;
}

static int is_fhir_id(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char ch = s[n];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '.'))
            return 0;
    }
    return n >= 1 && n <= MAX_ID_CHARS;
}

/* "encounters[3]" or "the patient": what an entry of the id index names. */
static const char *owner(const json_t *entry, char who[64])
{
    json_int_t v = json_integer_value(entry);
    if ((v >> 32) == K_PATIENT)
        return "the patient";
    snprintf(who, 64, "%s[%lld]", hj_list_names[v >> 32], (long long)(v & 0xffffffff));
    return who;
}

static int register_id(ctx *c, const char *id, int kind, size_t index)
{
    if (!is_fhir_id(id))
        return fail(c, FG_EINVALID,
                    "not a FHIR id (1 to 64 characters from A-Z a-z 0-9 - .): \"%.80s\"", id);
    json_t *prev = json_object_get(c->ids, id);
    if (prev) {
        char who[64];
        return fail(c, FG_EINVALID, "duplicate id \"%s\": already the id of %s", id,
                    owner(prev, who));
    }
    json_t *v = json_integer(((json_int_t)kind << 32) | (json_int_t)index);
    if (!v || json_object_set_new_nocheck(c->ids, id, v))
        return fail(c, FG_ENOMEM, "out of memory");
    return FG_OK;
}

static int check_ref(ctx *c, const char *id, int want)
{
    json_t *v = json_object_get(c->ids, id);
    if (!v)
        return fail(c, FG_EINVALID, "no %s has id \"%.80s\"", hj_kind_names[want], id);
    json_int_t k = json_integer_value(v) >> 32;
    char who[64];
    if (k != want)
        return fail(c, FG_EINVALID, "no %s has id \"%.80s\" (that id belongs to %s)",
                    hj_kind_names[want], id, owner(v, who));
    return FG_OK;
}

static int check_life(ctx *c, fg_time t)
{
    const fg_patient *p = &c->h->patient;
    char a[21], b[21];
    if (c->flags & FG_HISTORY_PARSE_ANY_DATES)
        return FG_OK;
    if (t < p->birth_date) {
        fg_format_datetime(t, a);
        fg_format_date(p->birth_date, b);
        return fail(c, FG_EINVALID, "%s is before the patient's birth (%s)", a, b);
    }
    if (p->death != FG_TIME_NONE && t > p->death) {
        fg_format_datetime(t, a);
        fg_format_datetime(p->death, b);
        return fail(c, FG_EINVALID, "%s is after the patient's death (%s)", a, b);
    }
    return FG_OK;
}

static int parse_object(ctx *c, const json_t *j, const obj_spec *spec, void *base, size_t index);

/* Items of an array of objects into a new arena array. */
static int parse_items(ctx *c, const json_t *j, const field *f, void **items, size_t *n)
{
    if (!json_is_array(j))
        return wrong_type(c, j, "an array", 0);
    size_t count = json_array_size(j);
    if (count > FG_MAX_HISTORY_EVENTS)
        return fail(c, FG_ELIMIT, "%zu items are more than the limit of %d", count,
                    FG_MAX_HISTORY_EVENTS);
    void *v = NULL;
    if (count) {
        size_t item = f->kind == F_IDS ? sizeof(const char *) : f->obj->size;
        v = fg_arena_calloc(&c->h->arena, count * item);
        if (!v)
            return fail(c, FG_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < count; i++) {
        size_t old = push_index(c, i);
        const json_t *e = json_array_get(j, i);
        int rc;
        if (f->kind == F_IDS) {
            const char **s = (const char **)v + i;
            rc = read_string(c, e, 0, s);
            if (rc == FG_OK)
                rc = check_ref(c, *s, f->ref);
        } else {
            rc = parse_object(c, e, f->obj, (char *)v + i * f->obj->size, i);
        }
        if (rc)
            return rc;
        pop(c, old);
    }
    *items = v;
    *n = count;
    return FG_OK;
}

static int parse_enum(ctx *c, const json_t *j, const field *f, int *out)
{
    if (!json_is_string(j))
        return wrong_type(c, j, "a string", f->flags);
    const char *s = json_string_value(j);
    for (int i = 0; f->names[i]; i++)
        if (strcmp(s, f->names[i]) == 0) {
            *out = i;
            return FG_OK;
        }
    char allowed[256];
    size_t n = 0;
    allowed[0] = 0;
    for (int i = 0; f->names[i]; i++) {
        int w = snprintf(allowed + n, sizeof(allowed) - n, "%s%s", i ? ", " : "", f->names[i]);
        if (w < 0 || (size_t)w >= sizeof(allowed) - n)
            break;
        n += (size_t)w;
    }
    return fail(c, FG_EINVALID, "unknown value \"%.80s\" (allowed: %s)", s, allowed);
}

static int parse_time(ctx *c, const json_t *j, const field *f, void *base)
{
    if (!json_is_string(j))
        return wrong_type(c, j, "a string", f->flags);
    const char *s = json_string_value(j);
    fg_time t;
    if (f->kind == F_DATE) {
        if (fg_parse_date(s, &t))
            return fail(c, FG_EINVALID, "not a date (expected YYYY-MM-DD): \"%.40s\"", s);
    } else if (strlen(s) != 20 || s[19] != 'Z' || fg_parse_datetime(s, &t)) {
        return fail(c, FG_EINVALID, "not a date-time (expected YYYY-MM-DDThh:mm:ssZ): \"%.40s\"",
                    s);
    }
    if (f->after && !(c->flags & FG_HISTORY_PARSE_ANY_DATES)) {
        fg_time before = *CAT(base, f->off2, fg_time);
        if (before != FG_TIME_NONE && t < before) {
            char a[21];
            fg_format_datetime(before, a);
            return fail(c, FG_EINVALID, "\"%s\" is before %s (%s)", s, f->after, a);
        }
    }
    int rc = (f->flags & LIFE) ? check_life(c, t) : FG_OK;
    if (rc)
        return rc;
    *AT(base, f->off, fg_time) = t;
    return FG_OK;
}

/* A null (or missing, for nullable members) value. */
static void set_null(const field *f, void *base)
{
    switch (f->kind) {
    case F_TIME: *AT(base, f->off, fg_time) = FG_TIME_NONE; break;
    case F_ENUM:
    case F_INT: *AT(base, f->off, int) = -1; break;
    case F_NUM: *AT(base, f->off, double) = NAN; break;
    case F_OBJ: memset(AT(base, f->off, char), 0, f->obj->size); break;
    case F_ARR:
    case F_IDS:
        *AT(base, f->off, void *) = NULL;
        *AT(base, f->off2, size_t) = 0;
        break;
    case F_VERSION:
    case F_LIST: break;
    default: *AT(base, f->off, const char *) = NULL; break;
    }
}

static int parse_member(ctx *c, const json_t *j, const field *f, void *base, int kind,
                        size_t index)
{
    if (json_is_null(j) && (f->flags & NUL)) {
        set_null(f, base);
        return FG_OK;
    }
    const char **sp = AT(base, f->off, const char *);
    int rc;
    switch (f->kind) {
    case F_VERSION:
        if (!json_is_string(j) || strcmp(json_string_value(j), HISTORY_VERSION) != 0)
            return fail(c, FG_EINVALID, "unsupported version (this fhirgen reads \"%s\")",
                        HISTORY_VERSION);
        return FG_OK;
    case F_STR: return read_string(c, j, f->flags, sp);
    case F_ID:
        if ((rc = read_string(c, j, 0, sp)))
            return rc;
        return register_id(c, *sp, kind, index);
    case F_REF:
        if ((rc = read_string(c, j, 0, sp)))
            return rc;
        return check_ref(c, *sp, f->ref);
    case F_SSN:
        if ((rc = read_string(c, j, f->flags, sp)) || !*sp)
            return rc;
        if (strlen(*sp) != 11 || strncmp(*sp, "999-", 4) != 0 || (*sp)[6] != '-' ||
            strspn(*sp + 4, "0123456789") != 2 || strspn(*sp + 7, "0123456789") != 4)
            return fail(c, FG_EINVALID,
                        "not a synthetic SSN (expected 999-NN-NNNN, the never-issued 999 area)");
        return FG_OK;
    case F_OFFSET: {
        const char *o = NULL;
        if ((rc = read_string(c, j, 0, &o)))
            return rc;
        if (fg_parse_utc_offset(o, AT(base, f->off, int)) != 0)
            return fail(c, FG_EINVALID, "not a UTC offset (expected +hh:mm or -hh:mm, at most 14:00)");
        return FG_OK;
    }
    case F_DATE:
    case F_TIME: return parse_time(c, j, f, base);
    case F_ENUM: return parse_enum(c, j, f, AT(base, f->off, int));
    case F_BOOL:
        if (!json_is_boolean(j))
            return wrong_type(c, j, "true or false", f->flags);
        *AT(base, f->off, int) = json_is_true(j);
        return FG_OK;
    case F_INT: {
        if (!json_is_integer(j))
            return wrong_type(c, j, "an integer", f->flags);
        json_int_t v = json_integer_value(j);
        if (v < f->lo || v > f->hi)
            return fail(c, FG_EINVALID, "%lld is out of range (%d to %d)", (long long)v, f->lo,
                        f->hi);
        *AT(base, f->off, int) = (int)v;
        return FG_OK;
    }
    case F_NUM: {
        if (!json_is_number(j))
            return wrong_type(c, j, "a number", f->flags);
        double v = json_number_value(j);
        if (!isfinite(v) || fabs(v) > MAX_ABS_VALUE)
            return fail(c, FG_EINVALID, "%g is out of range (at most %g in magnitude)", v,
                        MAX_ABS_VALUE);
        *AT(base, f->off, double) = v;
        return FG_OK;
    }
    case F_OBJ: return parse_object(c, j, f->obj, AT(base, f->off, void), 0);
    case F_ARR:
    case F_IDS:
        return parse_items(c, j, f, AT(base, f->off, void *), AT(base, f->off2, size_t));
    case F_LIST: {
        vec_any vec = {NULL, 0, 0};
        if ((rc = parse_items(c, j, f, &vec.v, &vec.n)))
            return rc;
        vec.cap = vec.n;
        memcpy(AT(base, f->off, void), &vec, sizeof(vec));
        return FG_OK;
    }
    }
    return fail(c, FG_EINTERNAL, "unhandled member kind");
}

static int parse_object(ctx *c, const json_t *j, const obj_spec *spec, void *base, size_t index)
{
    if (!json_is_object(j))
        return wrong_type(c, j, "an object", 0);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)j, key, v) {
        size_t i = 0;
        while (i < spec->n && strcmp(spec->fields[i].name, key) != 0)
            i++;
        if (i == spec->n) {
            char names[512];
            size_t n = 0;
            names[0] = 0;
            for (size_t k = 0; k < spec->n; k++) {
                int w = snprintf(names + n, sizeof(names) - n, "%s%s", k ? ", " : "",
                                 spec->fields[k].name);
                if (w < 0 || (size_t)w >= sizeof(names) - n)
                    break;
                n += (size_t)w;
            }
            return fail(c, FG_EINVALID, "unknown member \"%.64s\" (members: %s)", key, names);
        }
    }
    for (size_t i = 0; i < spec->n; i++) {
        const field *f = &spec->fields[i];
        const json_t *m = json_object_get(j, f->name);
        if (!m) {
            if (!(f->flags & NUL) && f->kind != F_LIST && f->kind != F_ARR && f->kind != F_IDS)
                return fail(c, FG_EINVALID, "missing member \"%s\"", f->name);
            set_null(f, base);
            continue;
        }
        size_t old = push_key(c, f->name);
        int rc = parse_member(c, m, f, base, spec->kind, index);
        if (rc)
            return rc;
        pop(c, old);
    }
    return spec->check ? spec->check(c, base) : FG_OK;
}

/* Digits after the point that v needs, up to MAX_DECIMALS. */
static int decimals_of(double v)
{
    double scale = 1;
    for (int d = 0; d < MAX_DECIMALS; d++, scale *= 10) {
        double x = v * scale;
        if (fabs(x - round(x)) <= 1e-9 * fmax(1.0, fabs(x)))
            return d;
    }
    return MAX_DECIMALS;
}

static int member_fail(ctx *c, const char *member, const char *fmt, const char *arg)
{
    push_key(c, member);
    return fail(c, FG_EINVALID, fmt, arg);
}

int hj_obs_check(ctx *c, void *item)
{
    fg_observation *o = item;
    const char *kind = hj_kind_value_names[o->kind];
    int has_value = !isnan(o->value);
    if (o->kind == FG_VALUE_QUANTITY) {
        if (!has_value)
            return member_fail(c, "value", "required when value_kind is \"%s\"", kind);
        if (!o->unit)
            return member_fail(c, "unit", "required when value_kind is \"%s\"", kind);
    } else {
        if (has_value)
            return member_fail(c, "value", "must be null when value_kind is \"%s\"", kind);
        if (o->unit)
            return member_fail(c, "unit", "must be null when value_kind is \"%s\"", kind);
        o->value = 0;
    }
    int has_code = !hj_term_empty(&o->code_value);
    if (o->kind == FG_VALUE_CODE && !has_code)
        return member_fail(c, "code_value", "required when value_kind is \"%s\"", kind);
    if (o->kind != FG_VALUE_CODE && has_code)
        return member_fail(c, "code_value", "must be null when value_kind is \"%s\"", kind);
    if (o->decimals < 0) {
        o->decimals = o->kind == FG_VALUE_QUANTITY ? decimals_of(o->value) : 0;
        for (size_t i = 0; i < o->n_components; i++) {
            int d = decimals_of(o->components[i].value);
            if (d > o->decimals)
                o->decimals = d;
        }
    }
    return FG_OK;
}

int hj_allergy_check(ctx *c, void *item)
{
    fg_allergy *a = item;
    int has_reaction = !hj_term_empty(&a->reaction);
    if (has_reaction && a->severity < 0)
        return member_fail(c, "severity", "required when there is a reaction%s", "");
    if (!has_reaction && a->severity >= 0)
        return member_fail(c, "severity", "must be null when reaction is null%s", "");
    if (a->severity < 0)
        a->severity = 0;
    return FG_OK;
}

/* Dose and dispense members of a medication are given together or not at
 * all; absent ones read as 0. */
int hj_med_check(ctx *c, void *item)
{
    fg_medication *m = item;
    if ((m->dose > 0) != (m->dose_unit != NULL))
        return member_fail(c, "dose_unit", "dose and dose_unit go together%s", "");
    int dispense = (m->quantity > 0) + (m->refills >= 0) + (m->supply_days > 0);
    if (dispense != 0 && dispense != 3)
        return member_fail(c, "quantity", "quantity, refills and supply_days go together%s", "");
    if (m->dose < 0)
        m->dose = 0;
    if (m->quantity < 0)
        m->quantity = 0;
    if (m->refills < 0)
        m->refills = 0;
    if (m->supply_days < 0)
        m->supply_days = 0;
    return FG_OK;
}

/* Nesting depth of the document, counted before jansson sees it so a deeply
 * nested input is refused cheaply. Returns the line of the first bracket
 * past the limit, or 0. */
static int depth_exceeded(const char *s, size_t len)
{
    int depth = 0, line = 1, in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (ch == '\n')
            line++;
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = 0;
        } else if (ch == '"') {
            in_str = 1;
        } else if (ch == '{' || ch == '[') {
            if (++depth > FG_MAX_JSON_DEPTH)
                return line;
        } else if (ch == '}' || ch == ']') {
            depth--;
        }
    }
    return 0;
}

int fg_history_parse(fg_history *h, const char *json, size_t len, const char *source,
                     fg_error *err)
{
    return fg_history_parse_flags(h, json, len, source, 0, err);
}

int fg_history_parse_flags(fg_history *h, const char *json, size_t len, const char *source,
                           unsigned flags, fg_error *err)
{
    ctx c = {.h = h, .err = err, .source = source ? source : "history", .flags = flags};
    json_t *root = NULL;
    int rc = FG_OK;
    fg_history_reset(h);
    if (!json) {
        rc = fail(&c, FG_EUSAGE, "no document given");
        goto cleanup;
    }
    if (len > FG_MAX_HISTORY_BYTES) {
        rc = fail(&c, FG_ELIMIT, "%zu bytes are more than the limit of %u bytes for a history",
                  len, FG_MAX_HISTORY_BYTES);
        goto cleanup;
    }
    int deep = depth_exceeded(json, len);
    if (deep) {
        rc = fail(&c, FG_ELIMIT, "line %d: nested deeper than the limit of %d", deep,
                  FG_MAX_JSON_DEPTH);
        if (err)
            err->line = deep;
        goto cleanup;
    }
    json_error_t jerr;
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        /* jansson leaves the error empty when its first allocation fails */
        int oom = json_error_code(&jerr) == json_error_out_of_memory || !jerr.text[0];
        rc = fail(&c, oom ? FG_ENOMEM : FG_EINVALID, "line %d, column %d: %s", jerr.line,
                  jerr.column, jerr.text);
        if (err)
            err->line = jerr.line;
        goto cleanup;
    }
    c.ids = json_object();
    if (!c.ids) {
        rc = fail(&c, FG_ENOMEM, "out of memory");
        goto cleanup;
    }
    rc = parse_object(&c, root, &hj_history_spec, h, 0);

cleanup:
    json_decref(c.ids);
    json_decref(root);
    if (rc)
        fg_history_reset(h);
    return rc;
}
